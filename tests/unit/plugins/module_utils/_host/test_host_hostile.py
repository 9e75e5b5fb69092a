# -*- coding: utf-8 -*-
"""The host side against an application user who owns dest_dir's parent (run as root): a folder
swapped for a link between plan and write, the folders an install creates, the manifest or a key
that is a FIFO or a link, one folder written two ways. The app user is uid/gid 65534 here; the
integration test test_hostile_owner.py does the same with a real user and a real swap."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostbase, hostcerts
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import MANIFEST
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('dov_test_hostcerts_hostile', os.path.join(HERE, 'test_hostcerts.py'))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

APP = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='giving folders to another user needs root')


@pytest.fixture
def service(tmp_path):
    """Another service's root-owned folder with its own key.pem and cert.pem."""
    folder = tmp_path / 'other-service'
    folder.mkdir(mode=0o700)
    for name in ('key.pem', 'cert.pem'):
        (folder / name).write_bytes(b'the other service\'s %s\n' % name.encode())
        os.chmod(str(folder / name), 0o600)
    return folder


def test_a_dest_dir_swapped_for_a_link_while_the_keystore_is_built_is_refused_and_nothing_is_chowned(
        tmp_path, lab, key1, service, monkeypatch, state_of):
    parent = tmp_path / 'srv' / 'x' / 'h2' / 'a'
    parent.mkdir(parents=True)
    os.chown(str(parent), APP, APP)
    dest = parent / 'prod'
    entry = base.make_entry(dest, lab, formats=('pem', 'pkcs12'), certificate=base.certificate_for(lab, key1),
                            privatekey_content=base.key_text(key1), owner=str(APP), group=str(APP))
    entry['install'].update(pkcs12_password=base.P12_PASSWORD, pkcs12_profile='legacy')
    build = keystores.build_pkcs12

    def swapping(*args, **kwargs):        # the app user, while the run builds the keystore
        if dest.exists() and not dest.is_symlink():
            os.rename(str(dest), str(parent / 'prod.away'))
        os.symlink(str(service), str(dest))
        os.lchown(str(dest), APP, APP)
        return build(*args, **kwargs)
    monkeypatch.setattr(keystores, 'build_pkcs12', swapping)
    before = state_of(service)
    result = hostcerts.install(entry)
    assert result['error'] == (
        "%s is a symbolic link (to %s); vlaanderen.dov does not follow a link that another user could have made, nor "
        "one in the place of dest_dir. Point dest_dir (or privatekey_path) at the real folder, or remove the link."
        % (dest, service))
    assert state_of(service) == before


def test_a_non_key_holder_creates_dest_dir_0750_for_the_owner_and_leaves_the_parents_to_root(tmp_path, lab, key1):
    top = tmp_path / 'opt'
    top.mkdir(mode=0o755)
    dest = top / 'geodrill' / 'dov'
    entry = base.make_entry(dest, lab, certificate=base.certificate_for(lab, key1),
                            privatekey_content=base.key_text(key1), owner=str(APP), group=str(APP))
    assert hostcerts.install(entry)['error'] is None
    parent, leaf = os.stat(str(top / 'geodrill')), os.stat(str(dest))
    assert (stat.S_IMODE(parent.st_mode), parent.st_uid, parent.st_gid) == (0o755, 0, 0)
    assert (stat.S_IMODE(leaf.st_mode), leaf.st_uid, leaf.st_gid) == (0o750, APP, APP)
    entry = base.make_entry(top / 'nogroup' / 'dov', lab, certificate=base.certificate_for(lab, key1),
                            privatekey_content=base.key_text(key1), owner=str(APP))
    assert hostcerts.install(entry)['error'] is None
    assert stat.S_IMODE(os.stat(str(top / 'nogroup' / 'dov')).st_mode) == 0o700


def test_the_key_holder_and_another_host_make_the_same_folder_modes(tmp_path, lab, key1):
    holder = base.make_entry(tmp_path / 'holder' / 'dov', holder=True, owner=str(APP), group=str(APP))
    assert hostcerts.prepare(holder)['error'] is None
    other = base.make_entry(tmp_path / 'other' / 'dov', lab, certificate=base.certificate_for(lab, key1),
                            privatekey_content=base.key_text(key1), owner=str(APP), group=str(APP))
    assert hostcerts.install(other)['error'] is None
    modes = [(stat.S_IMODE(os.stat(str(path)).st_mode), os.stat(str(path)).st_uid)
             for path in (tmp_path / 'holder', tmp_path / 'holder' / 'dov', tmp_path / 'other', tmp_path / 'other' / 'dov')]
    assert modes == [(0o755, 0), (0o750, APP), (0o755, 0), (0o750, APP)]


def test_a_manifest_that_is_a_fifo_does_not_hang_prepare(tmp_path, lab, key1, deadline):
    dest = tmp_path / 'dov'
    entry = base.make_entry(dest, lab, certificate=base.certificate_for(lab, key1), privatekey_content=base.key_text(key1))
    assert hostcerts.install(entry)['error'] is None
    os.unlink(str(dest / MANIFEST))
    os.mkfifo(str(dest / MANIFEST))
    result = hostcerts.prepare(dict(entry, privatekey_content=None))     # a blocking open would hang here
    assert result['error'] is None and result.get('converged_by') != 'manifest'


@pytest.mark.parametrize('planted', ['link', 'fifo'])
def test_verify_never_reads_a_key_through_a_link_or_blocks_on_a_fifo(tmp_path, lab, key1, planted, deadline):
    dest = tmp_path / 'dov'
    entry = base.make_entry(dest, lab, certificate=base.certificate_for(lab, key1), privatekey_content=base.key_text(key1))
    assert hostcerts.install(entry)['error'] is None
    secret = tmp_path / 'root-key.pem'
    secret.write_bytes(base.key_text(key1).encode('ascii'))
    os.unlink(str(dest / 'key.pem'))
    if planted == 'link':
        os.symlink(str(secret), str(dest / 'key.pem'))
    else:
        os.mkfifo(str(dest / 'key.pem'))
    result = hostcerts.verify(dict(entry, check={'url': 'https://127.0.0.1:9/', 'timeout': 1}))
    what = 'a symbolic link' if planted == 'link' else 'not a regular file'
    assert result['error'].startswith('%s is %s' % (dest / 'key.pem', what))
    assert 'check' not in result


def test_an_entry_whose_folder_belongs_to_a_third_user_is_refused(tmp_path):
    home = tmp_path / 'home' / 'bob'
    home.mkdir(parents=True)
    os.chown(str(home), 4242, 4242)
    with pytest.raises(DovError, match=r"is owned by uid 4242, who is neither root, the connecting user nor the "
                                       r"entry's owner"):
        hostbase.check_folders(base.make_entry(home / 'dov', owner=str(APP)))
    hostbase.check_folders(base.make_entry(home / 'dov', owner='4242'))     # the owner's own folder is fine


@pytest.mark.parametrize('dest_dir, problem', [('/opt/dov\n/etc', 'contains a control character'),
                                               ('relative/dov', 'is not an absolute path')])
def test_an_entry_with_a_path_that_is_not_plain_is_refused(dest_dir, problem):
    with pytest.raises(DovError) as error:
        hostbase.check_folders(base.make_entry(dest_dir))
    assert str(error.value).startswith('dest_dir %r %s' % (dest_dir, problem))


def test_one_folder_written_two_ways_or_reached_by_a_link_is_refused_for_both_entries(tmp_path):
    (tmp_path / 'shared').mkdir()
    os.symlink(str(tmp_path / 'shared'), str(tmp_path / 'alias'))
    entries = [base.make_entry(tmp_path / 'shared'), dict(base.make_entry(str(tmp_path / 'shared') + '/'), environment='productie'),
               dict(base.make_entry(tmp_path / 'alias'), application='Labo'), dict(base.make_entry(tmp_path / 'own'), application='Own')]
    clashes = hostbase.shared_folders(entries)
    assert sorted(clashes) == [0, 1, 2]
    assert clashes[1].startswith("dest_dir %s/ and the dest_dir %s of Geodrill/oefen are one folder" % (tmp_path / 'shared', tmp_path / 'shared'))


def test_a_dest_dir_link_root_made_in_roots_folder_passes_and_one_in_the_app_users_folder_is_refused(tmp_path):
    (tmp_path / 'releases' / '42').mkdir(parents=True)
    os.symlink(str(tmp_path / 'releases' / '42'), str(tmp_path / 'current'))
    hostbase.check_folders(base.make_entry(tmp_path / 'current', owner=str(APP)))
    app = tmp_path / 'app'
    app.mkdir()
    os.chown(str(app), APP, APP)
    os.symlink(str(tmp_path / 'releases' / '42'), str(app / 'current'))
    with pytest.raises(DovError, match='is a symbolic link'):
        hostbase.check_folders(base.make_entry(app / 'current', owner=str(APP)))
