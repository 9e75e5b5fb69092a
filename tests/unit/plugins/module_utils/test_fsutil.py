# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError


def test_atomic_write_creates_the_file_with_its_mode_and_leaves_no_temp(tmp_path):
    path = str(tmp_path / 'key.pem')
    fsutil.atomic_write(path, b'secret', mode=0o600)
    assert open(path, 'rb').read() == b'secret'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ['key.pem']


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = str(tmp_path / 'cert.pem')
    fsutil.atomic_write(path, b'old', mode=0o644)

    def broken_rename(src, dst, **kwargs):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'rename', broken_rename)
    with pytest.raises(OSError):
        fsutil.atomic_write(path, b'new', mode=0o644)
    assert open(path, 'rb').read() == b'old'
    assert os.listdir(str(tmp_path)) == ['cert.pem']


def test_backup_keeps_a_copy_of_the_replaced_file(tmp_path):
    path = str(tmp_path / 'cert.pem')
    fsutil.atomic_write(path, b'old', mode=0o644)
    backup = fsutil.atomic_write(path, b'new', mode=0o644, backup=True)
    assert open(backup, 'rb').read() == b'old'
    assert open(path, 'rb').read() == b'new'


def test_ensure_dir_creates_missing_parents_0700(tmp_path):
    target = str(tmp_path / 'a' / 'b')
    assert fsutil.ensure_dir(target) == [str(tmp_path / 'a'), target]
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert fsutil.ensure_dir(target) == []


def test_a_file_in_the_way_of_a_folder_is_refused(tmp_path):
    (tmp_path / 'a').write_text('x')
    with pytest.raises(DovError) as error:
        fsutil.missing_dirs(str(tmp_path / 'a' / 'b'))
    assert 'is not a folder' in str(error.value)
    assert fsutil.read_bytes(str(tmp_path / 'nope')) is None
