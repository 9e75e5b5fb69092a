# -*- coding: utf-8 -*-
"""hostmanifest: the one reader of ``<dest_dir>/.dov-manifest.json`` (``read_manifest`` over
``parse_manifest``; retire.py parses the bytes it reads itself with the same function), which never
follows a link: not in the converge check, not when a new manifest keeps the folders an earlier
one recorded, not in ``state: absent``."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostcerts, hostmanifest, retire
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import MANIFEST

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('dov_test_hostcerts_manifest', os.path.join(HERE, 'test_hostcerts.py'))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

APP = 65534


def manifest_bytes(**fields):
    manifest = {'version': 1, 'files': {}, 'created_dirs': []}
    manifest.update(fields)
    return json.dumps(manifest).encode('utf-8')


@pytest.mark.parametrize('data', [b'', b'{', b'\xff\xfe', b'[]', b'"text"', manifest_bytes(version=2),
                                  manifest_bytes(version='1'), manifest_bytes(files=['/x/key.pem']),
                                  json.dumps({'version': 1}).encode('utf-8')])
def test_anything_but_a_version_1_manifest_with_a_files_object_is_no_manifest(data):
    assert hostmanifest.parse_manifest(data) is None


def test_created_dirs_keeps_only_absolute_paths_normalised():
    assert hostmanifest.parse_manifest(manifest_bytes(created_dirs=['/opt/a/', '/opt//b', 'relative', 7, None]))[
        'created_dirs'] == ['/opt/a', '/opt/b']
    assert hostmanifest.parse_manifest(manifest_bytes(created_dirs='/'))['created_dirs'] == []
    assert hostmanifest.parse_manifest(manifest_bytes(created_dirs={'/opt/a': 1}))['created_dirs'] == []
    assert hostmanifest.parse_manifest(manifest_bytes(created_dirs=None))['created_dirs'] == []


def test_read_manifest_reads_a_manifest_file_and_never_a_link_or_a_fifo(tmp_path, deadline):
    (tmp_path / 'real').mkdir()
    (tmp_path / 'real' / MANIFEST).write_bytes(manifest_bytes(key_fingerprint='AB'))
    assert hostmanifest.read_manifest(str(tmp_path / 'real'))['key_fingerprint'] == 'AB'
    assert hostmanifest.read_manifest(str(tmp_path / 'missing')) is None
    (tmp_path / 'linked').mkdir()
    os.symlink(str(tmp_path / 'real' / MANIFEST), str(tmp_path / 'linked' / MANIFEST))
    assert hostmanifest.read_manifest(str(tmp_path / 'linked')) is None
    (tmp_path / 'fifo').mkdir()
    os.mkfifo(str(tmp_path / 'fifo' / MANIFEST))
    assert hostmanifest.read_manifest(str(tmp_path / 'fifo')) is None     # a blocking open would hang here


def test_a_new_manifest_keeps_the_folders_an_earlier_one_recorded_but_not_through_a_link(tmp_path):
    dest = tmp_path / 'dov'
    dest.mkdir()
    entry = base.make_entry(dest)
    hostmanifest.write_manifest(entry, 'AB', None, created=[str(tmp_path / 'made')])
    hostmanifest.write_manifest(entry, 'AB', None, created=[str(dest)])
    assert hostmanifest.read_manifest(str(dest))['created_dirs'] == sorted([str(tmp_path / 'made'), str(dest)])
    planted = tmp_path / 'planted.json'
    planted.write_bytes(manifest_bytes(created_dirs=['/etc']))
    os.unlink(str(dest / MANIFEST))
    os.symlink(str(planted), str(dest / MANIFEST))
    hostmanifest.write_manifest(entry, 'AB', None, created=[])
    assert not os.path.islink(str(dest / MANIFEST))
    assert hostmanifest.read_manifest(str(dest))['created_dirs'] == []


@pytest.mark.skipif(os.geteuid() != 0, reason='giving folders to another user needs root')
def test_a_manifest_the_app_user_planted_as_a_link_is_not_followed_by_the_converge_check(tmp_path, lab, key1):
    """The app user (uid 65534) owns dest_dir and swaps the manifest for a link to a copy of it
    elsewhere: the converge check must not take that copy for dest_dir's manifest (it followed
    the link while it read the manifest with fsutil.read_bytes)."""
    app = tmp_path / 'app'
    app.mkdir()
    os.chown(str(app), APP, APP)
    dest = app / 'dov'
    entry = base.make_entry(dest, lab, certificate=base.certificate_for(lab, key1),
                            privatekey_content=base.key_text(key1), owner=str(APP), group=str(APP))
    assert hostcerts.install(entry)['error'] is None
    entry = dict(entry, privatekey_content=None)
    assert hostmanifest.converged_by_manifest(entry) is not None      # the real manifest is read
    elsewhere = app / 'elsewhere.json'
    os.rename(str(dest / MANIFEST), str(elsewhere))
    os.symlink(str(elsewhere), str(dest / MANIFEST))
    os.lchown(str(dest / MANIFEST), APP, APP)
    assert hostmanifest.converged_by_manifest(entry) is None
    result = hostcerts.prepare(entry)
    assert result.get('converged_by') != 'manifest'
    assert os.path.islink(str(dest / MANIFEST)) and os.readlink(str(dest / MANIFEST)) == str(elsewhere)
    # state: absent refuses the link, naming it, and removes nothing
    files = dict(key=str(dest / 'key.pem'), manifest=str(dest / MANIFEST))
    removal = retire.retire_entry(str(dest), files)
    assert removal['error'].startswith('%s is a symbolic link under a name the collection manages' % (dest / MANIFEST))
    assert os.path.exists(str(dest / 'key.pem'))
