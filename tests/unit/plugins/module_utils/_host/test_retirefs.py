# -*- coding: utf-8 -*-
"""retirefs: the file-system side of retire (state: absent) on real folders in tmp_path: files are
looked at and read relative to their folder without following a link, only while they are the
file that was looked at; a Removal removes exactly the plan's files after checking each is still
that file; remove_folders removes emptied folders and keeps the rest. Every refusal says what to
do and leaves the files as they were."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._host import retire, retirefs
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

LINK_REFUSED = ('%s is a symbolic link (to %s); vlaanderen.dov does not follow a link that another user could have made, '
                'nor one in the place of dest_dir. Point dest_dir (or privatekey_path) at the real folder, or remove the '
                'link. Nothing was removed.')


def item(path, kind='cert'):
    """A file of the removal plan, as retire makes it (its identity from lstat)."""
    return retire._Item(kind, str(path), 'recorded in the manifest', os.lstat(str(path)))


@pytest.fixture
def dest(tmp_path):
    """A dest_dir with key.pem and cert.pem, and a file of another service next to it."""
    folder = tmp_path / 'dov'
    folder.mkdir(mode=0o700)
    (folder / 'key.pem').write_bytes(b'KEY\n')
    (folder / 'cert.pem').write_bytes(b'CERT\n')
    (tmp_path / 'other.pem').write_bytes(b'another service\n')
    return folder


# ---------------------------------------------------------------- Folder, lstat, read

def test_a_folder_is_opened_once_and_its_files_are_read_relative_to_it(dest):
    where = retirefs.Folder(str(dest))
    try:
        assert where.path == str(dest) and where.names == set()
        info = retirefs.lstat(where.fd, 'cert.pem')
        assert stat.S_ISREG(info.st_mode) and info.st_ino == os.stat(str(dest / 'cert.pem')).st_ino
        assert retirefs.read(where.fd, 'cert.pem', str(dest / 'cert.pem'), info) == b'CERT\n'
        assert retirefs.lstat(where.fd, 'missing.pem') is None
    finally:
        where.close()
    assert where.fd is None
    where.close()                       # closing twice is harmless


def test_an_absent_folder_has_no_descriptor(tmp_path):
    where = retirefs.Folder(str(tmp_path / 'gone'))
    assert where.fd is None
    where.close()


def test_a_folder_that_is_a_link_is_refused_and_nothing_changes(dest, tmp_path, state_of):
    os.symlink(str(dest), str(tmp_path / 'linked'))
    before = state_of(tmp_path)
    with pytest.raises(DovError) as caught:
        retirefs.Folder(str(tmp_path / 'linked'))
    assert str(caught.value) == LINK_REFUSED % (tmp_path / 'linked', dest)
    assert state_of(tmp_path) == before


def test_a_link_is_looked_at_not_followed_and_never_read(dest, tmp_path):
    os.symlink(str(tmp_path / 'other.pem'), str(dest / 'chain.pem'))
    where = retirefs.Folder(str(dest))
    try:
        info = retirefs.lstat(where.fd, 'chain.pem')
        assert stat.S_ISLNK(info.st_mode)
        assert retirefs.read(where.fd, 'chain.pem', str(dest / 'chain.pem'), info) is None
    finally:
        where.close()
    assert (tmp_path / 'other.pem').read_bytes() == b'another service\n'


def test_a_file_replaced_after_it_was_looked_at_is_not_read(dest):
    where = retirefs.Folder(str(dest))
    try:
        info = retirefs.lstat(where.fd, 'cert.pem')
        os.rename(str(dest / 'key.pem'), str(dest / 'cert.pem'))       # another file under the same name
        assert retirefs.read(where.fd, 'cert.pem', str(dest / 'cert.pem'), info) is None
        os.unlink(str(dest / 'cert.pem'))
        assert retirefs.read(where.fd, 'cert.pem', str(dest / 'cert.pem'), info) is None
    finally:
        where.close()


def test_a_fifo_is_not_read_and_does_not_block(dest, deadline):
    os.mkfifo(str(dest / 'cert.p12'))
    where = retirefs.Folder(str(dest))
    try:
        info = retirefs.lstat(where.fd, 'cert.p12')
        assert stat.S_ISFIFO(info.st_mode)
        assert retirefs.read(where.fd, 'cert.p12', str(dest / 'cert.p12'), info) is None
    finally:
        where.close()


# ---------------------------------------------------------------- Removal

def test_a_removal_removes_the_plans_files_and_keeps_everything_else(dest, tmp_path):
    plan = [item(dest / 'key.pem', 'key'), item(dest / 'cert.pem')]
    with retirefs.Removal(plan) as removal:
        removal.check()
        removed = removal.unlink(plan, [])
    assert removed == [str(dest / 'key.pem'), str(dest / 'cert.pem')]
    assert os.listdir(str(dest)) == [] and removal.opened == {}
    assert (tmp_path / 'other.pem').read_bytes() == b'another service\n'


def test_a_file_already_gone_is_skipped_and_the_list_so_far_is_kept(dest, tmp_path):
    plan = [item(dest / 'key.pem', 'key'), item(dest / 'cert.pem')]
    os.unlink(str(dest / 'key.pem'))
    with retirefs.Removal(plan) as removal:
        removal.check()
        assert removal.unlink(plan[1:], ['/earlier/file']) == ['/earlier/file', str(dest / 'cert.pem')]
        assert removal.unlink(plan, []) == []
    gone = [item(tmp_path / 'other.pem')]
    os.rename(str(dest), str(tmp_path / 'moved'))
    with retirefs.Removal(plan + gone) as removal:
        removal.check()                                 # its folder is gone: nothing to check
        assert removal.unlink(plan, []) == []


@pytest.mark.parametrize('replace', ['file', 'link', 'folder'])
def test_a_file_replaced_after_the_plan_is_refused_before_anything_is_removed(dest, tmp_path, state_of, replace):
    plan = [item(dest / 'key.pem', 'key'), item(dest / 'cert.pem')]
    if replace == 'file':                               # same bytes, another file (made first: another inode)
        (dest / 'cert.pem.new').write_bytes(b'CERT\n')
        os.rename(str(dest / 'cert.pem.new'), str(dest / 'cert.pem'))
    elif replace == 'link':
        os.unlink(str(dest / 'cert.pem'))
        os.symlink(str(tmp_path / 'other.pem'), str(dest / 'cert.pem'))
    else:
        os.unlink(str(dest / 'cert.pem'))
        (dest / 'cert.pem').mkdir()
    before = state_of(tmp_path)
    with retirefs.Removal(plan) as removal:
        with pytest.raises(DovError) as caught:
            removal.check()
    assert str(caught.value) == ('%s was replaced after it was checked (by another process?). Nothing was removed; '
                                 'run again.' % (dest / 'cert.pem'))
    assert state_of(tmp_path) == before


def test_a_removal_in_a_folder_swapped_for_a_link_is_refused_and_nothing_changes(dest, tmp_path, state_of):
    plan = [item(dest / 'cert.pem')]
    os.rename(str(dest), str(tmp_path / 'real'))
    os.symlink(str(tmp_path / 'real'), str(dest))
    before = state_of(tmp_path)
    with retirefs.Removal(plan) as removal:
        with pytest.raises(DovError) as caught:
            removal.check()
    assert str(caught.value) == LINK_REFUSED % (dest, tmp_path / 'real')
    assert state_of(tmp_path) == before


# ---------------------------------------------------------------- remove_folders

def test_emptied_folders_go_and_folders_with_something_new_in_them_or_links_stay(tmp_path):
    (tmp_path / 'dov' / 'renewal').mkdir(parents=True)
    (tmp_path / 'busy').mkdir()
    (tmp_path / 'busy' / 'new.pem').write_bytes(b'new\n')
    (tmp_path / 'target').mkdir()
    os.symlink(str(tmp_path / 'target'), str(tmp_path / 'link'))
    (tmp_path / 'file').write_bytes(b'x')
    folders = [str(tmp_path / 'dov' / 'renewal'), str(tmp_path / 'dov'), str(tmp_path / 'busy'),
               str(tmp_path / 'link'), str(tmp_path / 'gone'), str(tmp_path / 'file')]
    assert retirefs.remove_folders(folders) == [str(tmp_path / 'dov' / 'renewal'), str(tmp_path / 'dov')]
    assert sorted(os.listdir(str(tmp_path))) == ['busy', 'file', 'link', 'target']
    assert os.listdir(str(tmp_path / 'busy')) == ['new.pem'] and os.path.isdir(str(tmp_path / 'target'))
