# -*- coding: utf-8 -*-
"""Make the working tree importable as ``ansible_collections.vlaanderen.dov`` for pytest.

A temporary ``ansible_collections/vlaanderen/dov`` symlink to the repository root is put on
sys.path, so the unit tests test the files as they are, without building the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collection_root():
    base = tempfile.mkdtemp(prefix='dov-collection-')
    namespace = os.path.join(base, 'ansible_collections', 'vlaanderen')
    os.makedirs(namespace)
    os.symlink(ROOT, os.path.join(namespace, 'dov'))
    return base


if not any(os.path.isdir(os.path.join(entry, 'ansible_collections', 'vlaanderen', 'dov', 'plugins'))
           for entry in sys.path if entry):
    sys.path.insert(0, _collection_root())
