# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


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


# ---------------------------------------------------------------- another user's folder (run as root)
# The application's user owns dest_dir and often its parent. Here that user is uid/gid 65534
# (nobody): what it owns, it could have changed while the run was looking away.

APP = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason='giving folders to another user needs root')


@pytest.fixture
def planted(tmp_path):
    """/srv/x/a (owned by the app user) whose ``prod`` is a link to a folder of root's with a key."""
    secret = tmp_path / 'root-only'
    secret.mkdir(mode=0o700)
    (secret / 'key.pem').write_bytes(b'root secret')
    os.chmod(str(secret / 'key.pem'), 0o600)
    app = tmp_path / 'srv' / 'a'
    app.mkdir(parents=True)
    os.chown(str(app), APP, APP)
    os.symlink(str(secret), str(app / 'prod'))
    os.lchown(str(app / 'prod'), APP, APP)
    return app / 'prod', secret


@needs_root
def test_a_link_the_app_user_planted_is_never_followed_to_read_write_or_chown(planted, state_of):
    prod, secret = planted
    before = state_of(secret)
    for attempt in (lambda: fsutil.read_managed(str(prod / 'key.pem')),
                    lambda: fsutil.atomic_write(str(prod / 'cert.pem'), b'x', mode=0o644, uid=APP, gid=APP),
                    lambda: fsutil.ensure_dir(str(prod), 0o700, APP, APP),
                    lambda: fsutil.set_attributes(str(prod / 'key.pem'), 0o644, APP, APP),
                    lambda: fsutil.remove(str(prod / 'key.pem')),
                    lambda: fsutil.write_temp(str(prod), 'key.pem', b'x')):
        with pytest.raises(DovError) as error:
            attempt()
        assert str(error.value).startswith('%s is a symbolic link (to %s); vlaanderen.dov does not follow a link that '
                                           'another user could have made' % (prod, secret))
    assert state_of(secret) == before


@needs_root
def test_a_link_in_a_folder_only_root_can_change_is_followed(tmp_path):
    real = tmp_path / 'releases' / '42'
    real.mkdir(parents=True)
    os.symlink(str(real), str(tmp_path / 'current'))
    fsutil.atomic_write(str(tmp_path / 'current' / 'cert.pem'), b'cert', mode=0o644)
    assert (real / 'cert.pem').read_bytes() == b'cert'
    assert fsutil.read_managed(str(tmp_path / 'current' / 'cert.pem')) == b'cert'


@needs_root
def test_a_link_in_a_folder_of_root_below_the_app_users_folder_is_refused(tmp_path):
    # The app user can swap the root-owned folder itself (it owns the parent): nothing below is trusted.
    app = tmp_path / 'app'
    (app / 'roots').mkdir(parents=True)
    os.chown(str(app), APP, APP)
    other = tmp_path / 'other'
    other.mkdir()
    os.symlink(str(other), str(app / 'roots' / 'dov'))
    with pytest.raises(DovError, match='is a symbolic link'):
        fsutil.atomic_write(str(app / 'roots' / 'dov' / 'cert.pem'), b'x')
    assert os.listdir(str(other)) == []


@needs_root
def test_a_folder_owned_by_a_third_user_is_refused_by_name_and_nothing_is_created(tmp_path):
    home = tmp_path / 'home' / 'bob'
    home.mkdir(parents=True)
    os.chown(str(home), 4242, 4242)
    with pytest.raises(DovError) as error:
        fsutil.check_folder(str(home / 'app' / 'dov'), owners={0, APP})
    assert str(error.value) == (
        "%s is owned by uid 4242, who is neither root, the connecting user nor the entry's owner: that user could "
        "swap the folder for a link while the run writes there. Give the folder to root or to the owner, or choose "
        "a dest_dir under folders they own." % home)
    assert os.listdir(str(home)) == []
    assert fsutil.check_folder(str(home / 'app' / 'dov'), owners={0, 4242}) == [str(home / 'app'), str(home / 'app' / 'dov')]


@needs_root
def test_ensure_dir_gives_only_the_folder_it_created_to_the_owner_and_never_a_parent(tmp_path):
    app = tmp_path / 'srv'
    app.mkdir(mode=0o755)
    created = fsutil.ensure_dir(str(app / 'geodrill' / 'dov'), 0o750, APP, APP, parent_mode=0o755)
    assert created == [str(app / 'geodrill'), str(app / 'geodrill' / 'dov')]
    parent, leaf = os.stat(str(app / 'geodrill')), os.stat(str(app / 'geodrill' / 'dov'))
    assert (stat.S_IMODE(parent.st_mode), parent.st_uid, parent.st_gid) == (0o755, 0, 0)
    assert (stat.S_IMODE(leaf.st_mode), leaf.st_uid, leaf.st_gid) == (0o750, APP, APP)
    os.chmod(str(app / 'geodrill' / 'dov'), 0o711)
    assert fsutil.ensure_dir(str(app / 'geodrill' / 'dov'), 0o700, 0, 0) == []   # an existing folder stays as it is
    leaf = os.stat(str(app / 'geodrill' / 'dov'))
    assert (stat.S_IMODE(leaf.st_mode), leaf.st_uid) == (0o711, APP)


def test_a_fifo_under_a_managed_name_is_refused_without_blocking(tmp_path, deadline):
    os.mkfifo(str(tmp_path / 'key.pem'))
    os.mkfifo(str(tmp_path / 'ca.pem'))
    with pytest.raises(DovError, match='is not a regular file'):
        fsutil.read_managed(str(tmp_path / 'key.pem'))      # a blocking open would hang the test here
    with pytest.raises(DovError, match='is not a regular file'):
        fsutil.read_bytes(str(tmp_path / 'ca.pem'))


def test_a_file_with_a_second_name_is_not_read(tmp_path):
    (tmp_path / 'elsewhere').write_bytes(b'root secret')
    os.link(str(tmp_path / 'elsewhere'), str(tmp_path / 'key.pem'))
    with pytest.raises(DovError) as error:
        fsutil.read_managed(str(tmp_path / 'key.pem'))
    assert str(error.value).startswith('%s has 2 names (hard links)' % (tmp_path / 'key.pem'))


def test_a_managed_file_larger_than_the_limit_is_refused_before_it_is_read(tmp_path):
    (tmp_path / 'cert.pem').write_bytes(b'-----BEGIN CERTIFICATE-----\n' * (fsutil.MAX_MANAGED_SIZE // 28 + 1))
    with pytest.raises(DovError) as error:
        fsutil.read_managed(str(tmp_path / 'cert.pem'))
    assert 'more than the %d a file of the collection can be' % fsutil.MAX_MANAGED_SIZE in str(error.value)


@pytest.mark.parametrize('path, problem', [
    ('/opt/geodrill/dov', None), ('/opt/geodrill/dov/', None), ('opt/dov', 'is not an absolute path'),
    ('/opt/dov\n', 'contains a control character (a newline, a tab or NUL)'), ('/x/../../y', None),
    ('/', 'is the root folder'), ('/x/..', 'is the root folder'), ('', 'is empty')])
def test_path_problem_names_what_is_wrong(path, problem):
    assert fsutil.path_problem(path) == problem


def test_one_folder_written_two_ways_is_one_normal_path():
    assert fsutil.normal_path('/x/shared/') == fsutil.normal_path('/x//shared') == '/x/shared'


def test_dot_dot_is_resolved_through_existing_folders_and_never_creates_one_on_the_way(tmp_path):
    (tmp_path / 'inventory').mkdir()
    made = fsutil.ensure_dir(str(tmp_path / 'inventory' / '..' / 'hosts' / 'dov'))
    assert made == [str(tmp_path / 'hosts'), str(tmp_path / 'hosts' / 'dov')]
    assert fsutil.read_managed(str(tmp_path / 'inventory' / '..' / 'hosts' / 'dov' / 'x')) is None
    with pytest.raises(DovError) as error:
        fsutil.ensure_dir(str(tmp_path / 'missing' / '..' / '..' / 'y'))
    assert str(error.value).startswith("%s does not exist, so %s cannot be reached through '..'" % (
        tmp_path / 'missing', tmp_path / 'missing' / '..' / '..' / 'y'))
    assert sorted(os.listdir(str(tmp_path))) == ['hosts', 'inventory']
