# -*- coding: utf-8 -*-
"""docs/architecture.md names only what exists: every file (``x.py``, ``plugins/...``, ``tests/...``,
``roles/...``) it puts in backticks is in the tree, and every ``module.name`` (``hostcerts.prepare``,
``fsutil.Folder``, ``tlswire.Session``) is an attribute of that module (``Class.method`` too)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PAGE = os.path.join(ROOT, 'docs', 'architecture.md')
PACKAGE = 'ansible_collections.vlaanderen.dov.'


def _sources():
    """{module name: dotted import path} of every Python file under plugins/."""
    found = {}
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'plugins')):
        for name in files:
            if name.endswith('.py') and name != '__init__.py':
                relative = os.path.relpath(os.path.join(folder, name), ROOT)[:-3]
                found.setdefault(name[:-3], []).append(PACKAGE + relative.replace(os.sep, '.'))
    return found


SOURCES = _sources()
TOKENS = re.findall(r'`([^`\n]+)`', open(PAGE).read())
FILES = sorted(set(token for token in TOKENS if re.match(r'^[\w./-]+\.(py|yml|md|json)$', token)))
NAMES = sorted(set(token.rstrip('()') for token in TOKENS
                   if re.match(r'^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+(\(\))?$', token)
                   and token.split('.')[0] in SOURCES and token not in FILES))


def test_the_page_names_files_and_functions():
    assert len(FILES) > 20 and len(NAMES) > 20     # the page still names what it describes


@pytest.mark.parametrize('token', FILES)
def test_every_file_named_exists(token):
    if '/' in token:
        assert os.path.exists(os.path.join(ROOT, token)), '%s is not in the tree (write paths from the top)' % token
    elif token.endswith('.py'):
        assert token[:-3] in SOURCES, '%s is no file under plugins/' % token


@pytest.mark.parametrize('token', NAMES)
def test_every_module_function_named_exists(token):
    module_name, attributes = token.split('.')[0], token.split('.')[1:]
    for dotted in SOURCES[module_name]:
        value = importlib.import_module(dotted)
        try:
            for attribute in attributes:
                value = getattr(value, attribute)
        except AttributeError:
            continue
        return
    raise AssertionError('%s: %s has no %s' % (token, ' or '.join(SOURCES[module_name]), '.'.join(attributes)))
