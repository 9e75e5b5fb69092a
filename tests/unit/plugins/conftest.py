# -*- coding: utf-8 -*-
"""Fixtures shared by the module_utils unit tests: two RSA keys and two lab CAs, each made once
per test module (RSA key generation is slow). A test file that defines a fixture of the same name
uses its own."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca


@pytest.fixture(scope='module')
def key1():
    return pki.generate_private_key()


@pytest.fixture(scope='module')
def key2():
    return pki.generate_private_key()


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """One lab CA for the module."""
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('lab') / 'lab-ca'))


@pytest.fixture(scope='module')
def other_lab(tmp_path_factory):
    """A second, unrelated lab CA."""
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('other-lab') / 'lab-ca'))


@pytest.fixture
def deadline():
    """Fail (instead of hanging) a test whose code blocks for more than 20 s: a FIFO opened the
    blocking way would hang forever."""
    def expired(_signum, _frame):
        raise AssertionError('blocked for more than 20 s (a blocking open of a FIFO?)')
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _state_of(path):
    """Every entry below ``path`` with its content (or link target), mode and owner; links not followed."""
    found = {}
    for folder, dirs, files in os.walk(str(path)):
        for name in [''] + dirs + files:
            full = os.path.join(folder, name) if name else folder
            info = os.lstat(full)
            content = (os.readlink(full) if stat.S_ISLNK(info.st_mode)
                       else open(full, 'rb').read() if stat.S_ISREG(info.st_mode) else None)
            found[full] = (content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return found


@pytest.fixture
def state_of():
    """``state_of(path)``: every entry at and below ``path`` with its content (or link target), mode
    and owner, links not followed; equal before and after means nothing there changed."""
    return _state_of


def _option_shape(option):
    """What an option's documentation and its argument spec must agree on (Ansible's defaults filled in)."""
    choices = option.get('choices')
    return {'type': option.get('type', 'str'), 'default': option.get('default'),
            'choices': list(choices) if choices is not None else None,
            'required': option.get('required', False), 'elements': option.get('elements')}


@pytest.fixture
def option_shape():
    """``option_shape(option)``: the type, default, choices, required and elements of a documented or
    specified option, to compare a DOCUMENTATION with its argument spec."""
    return _option_shape
