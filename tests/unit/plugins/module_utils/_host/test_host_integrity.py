# -*- coding: utf-8 -*-
"""The host side's integrity: no symlink followed in dest_dir, the key inside the atomic set,
a killed run's temporary files removed, a manifest trusted only when it lists every file, and a
re-run that the manifest shows converged done without loading cryptography."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import stat
import subprocess
import sys

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keyfiles, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostcerts, hostmanifest
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import MANIFEST
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('dov_test_hostcerts', os.path.join(HERE, 'test_hostcerts.py'))
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)
dov_server, dov = base.dov_server, base.dov   # the fixtures, shared (lab, key1, key2: conftest.py)


def mode_and_owner(path):
    info = os.lstat(str(path))
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def secret_file(folder, name, data=b'root only\n'):
    """A 0600 file outside dest_dir: what a planted link points at."""
    path = folder / name
    path.write_bytes(data)
    os.chmod(str(path), 0o600)
    return path


def installed(tmp_path, lab, key, formats=('pem',)):
    dest = tmp_path / 'dov'
    entry = base.make_entry(dest, lab, formats=formats, certificate=base.certificate_for(lab, key),
                            privatekey_content=base.key_text(key))
    if 'pkcs12' in formats:
        entry['install'].update(pkcs12_password=base.P12_PASSWORD, pkcs12_profile='legacy')   # any cryptography
    result = hostcerts.install(entry)
    assert result['error'] is None, result['error']
    return dest, entry


# ---------------------------------------------------------------- fsutil

def test_read_managed_refuses_a_link_naming_it_and_reads_a_file(tmp_path):
    target = secret_file(tmp_path, 'secret')
    link = tmp_path / 'key.pem'
    os.symlink(str(target), str(link))
    with pytest.raises(DovError) as caught:
        fsutil.read_managed(str(link))
    assert str(caught.value).startswith('%s is a symbolic link (to %s); vlaanderen.dov does not follow links'
                                        % (link, target))
    assert fsutil.read_managed(str(target)) == b'root only\n'
    assert fsutil.read_managed(str(tmp_path / 'missing')) is None


def test_set_attributes_never_changes_a_links_target(tmp_path):
    target = secret_file(tmp_path, 'secret')
    link = tmp_path / 'chain.pem'
    os.symlink(str(target), str(link))
    with pytest.raises(DovError, match='is a symbolic link'):
        fsutil.set_attributes(str(link), 0o644)
    assert mode_and_owner(target)[0] == 0o600
    plain = secret_file(tmp_path, 'plain')
    fsutil.set_attributes(str(plain), 0o640)
    assert mode_and_owner(plain)[0] == 0o640


def test_temporary_files_of_a_killed_run_are_removed_and_nothing_else(tmp_path):
    for name in ('.key.pem.abc123.tmp', '.cert.pem.x1.tmp', '.bundle.p12.q.tmp', 'key.pem', '.other.tmp', 'x.tmp'):
        (tmp_path / name).write_bytes(b'left over')
    removed = fsutil.remove_stale_temps(str(tmp_path), ['key.pem', 'cert.pem', 'bundle.p12'])
    assert sorted(os.path.basename(path) for path in removed) == ['.bundle.p12.q.tmp', '.cert.pem.x1.tmp',
                                                                  '.key.pem.abc123.tmp']
    assert sorted(os.listdir(str(tmp_path))) == ['.other.tmp', 'key.pem', 'x.tmp']


# ---------------------------------------------------------------- links in dest_dir

@pytest.mark.parametrize('name', ['chain.pem', 'cert.pem', 'key.pem'])
def test_a_managed_name_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, lab, key1, name):
    dest, entry = installed(tmp_path, lab, key1)
    outside = tmp_path / 'outside'
    outside.mkdir()
    target = secret_file(outside, 'root-only', (dest / name).read_bytes())    # same bytes: would be adopted
    (dest / name).unlink()
    os.symlink(str(target), str(dest / name))
    before = mode_and_owner(target), target.read_bytes()
    entry['owner'] = str(os.getuid())
    prepared = hostcerts.prepare(dict(entry, privatekey_content=None, key_holder=True))
    installing = hostcerts.install(entry)
    # prepare: an error for the key (the CSR step), an install problem for the certificate files
    for message in (prepared['error'] or prepared['install_problem'], installing['error']):
        assert message.startswith('%s is a symbolic link (to %s)' % (dest / name, target)), message
    assert installing['changed'] is False
    assert (mode_and_owner(target), target.read_bytes()) == before
    assert os.path.islink(str(dest / name))


def test_the_key_holders_linked_key_is_neither_adopted_nor_reported(tmp_path):
    dest = tmp_path / 'dov'
    dest.mkdir()
    target = secret_file(tmp_path, 'root-key', pki.dump_private_key(pki.generate_private_key()))
    os.symlink(str(target), str(dest / 'key.pem'))
    result = hostcerts.prepare(base.make_entry(dest, holder=True))
    assert 'key.pem is a symbolic link' in result['error']
    assert result.get('key_fingerprint') is None and result.get('csr') is None
    with pytest.raises(DovError, match='is a symbolic link'):
        keyfiles.plan_key_and_csr(base.CN, str(dest / 'key.pem'), str(dest / 'csr.pem'))


def test_dest_dir_itself_may_be_a_link(tmp_path, lab, key1):
    real = tmp_path / 'releases' / '42'
    real.mkdir(parents=True)
    os.symlink(str(real), str(tmp_path / 'current'))
    entry = base.make_entry(tmp_path / 'current', lab, certificate=base.certificate_for(lab, key1),
                            privatekey_content=base.key_text(key1))
    assert hostcerts.install(entry)['error'] is None
    assert sorted(os.listdir(str(real))) == ['.dov-manifest.json', 'cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem']


# ---------------------------------------------------------------- the key inside the atomic set

def test_the_received_key_is_prepared_with_the_files_and_renamed_first_back_to_back(
        tmp_path, lab, key1, key2, dov, monkeypatch):
    dest, _entry = installed(tmp_path, lab, key1)
    events = []
    write_temp, rename = fsutil.write_temp, os.rename

    def recording_write_temp(folder, name, *args, **kwargs):
        events.append(('prepare', name))
        return write_temp(folder, name, *args, **kwargs)

    def recording_rename(source, target, **kwargs):
        events.append(('rename', os.path.basename(target)))
        return rename(source, target, **kwargs)

    monkeypatch.setattr(fsutil, 'write_temp', recording_write_temp)
    monkeypatch.setattr(os, 'rename', recording_rename)
    entry = base.make_entry(dest, lab, certificate=base.certificate_for(lab, key2), privatekey_content=base.key_text(key2))
    dov.status = 403                    # DOV refuses the new certificate: the previous set comes back
    result = hostcerts.install(entry, check=base.check_of(dov))
    assert result['check']['verdict'] == 'not_authorised', result
    managed = ('key.pem', 'cert.pem', 'chain.pem', 'fullchain.pem', MANIFEST)
    events = [event for event in events if event[1] in managed]     # not the check's own trust file
    install = events[:events.index(('rename', 'fullchain.pem')) + 1]
    assert install == [('prepare', 'key.pem'), ('prepare', 'cert.pem'), ('prepare', 'fullchain.pem'),
                       ('rename', 'key.pem'), ('rename', 'cert.pem'), ('rename', 'fullchain.pem')]
    # the check failed: the previous key and files come back the same way, key first
    rollback = events[len(install):]
    renames = [event for event in rollback if event[0] == 'rename']
    assert renames[:3] == [('rename', 'key.pem'), ('rename', 'cert.pem'), ('rename', 'fullchain.pem')]
    assert rollback.index(('rename', 'key.pem')) > max(i for i, event in enumerate(rollback) if event[0] == 'prepare')
    assert [os.path.basename(path) for path in result['rolled_back']] == ['key.pem', 'cert.pem', 'fullchain.pem']
    assert base.fingerprint_of_file(dest / 'key.pem') == pki.public_key_fingerprint(key1)


# ---------------------------------------------------------------- killed runs and the manifest

def test_prepare_removes_the_temporary_files_of_a_killed_run(tmp_path, lab, key1):
    dest, entry = installed(tmp_path, lab, key1)
    (dest / '.key.pem.k1ll3d.tmp').write_bytes(pki.dump_private_key(key1))
    (dest / '.cert.pem.k1ll3d.tmp').write_bytes(b'half a certificate')
    prepared = hostcerts.prepare(dict(entry, privatekey_content=None))
    assert prepared['error'] is None and prepared['changed'] is True
    removed = sorted(os.path.basename(path) for path in prepared['removed_temp_files'])
    assert removed == ['.cert.pem.k1ll3d.tmp', '.key.pem.k1ll3d.tmp']
    assert not [name for name in os.listdir(str(dest)) if name.endswith('.tmp')]
    assert hostcerts.prepare(dict(entry, privatekey_content=None))['changed'] is False


def test_a_manifest_that_lacks_a_file_of_the_formats_does_not_prove_convergence(tmp_path, lab, key1):
    dest, entry = installed(tmp_path, lab, key1, formats=('pem', 'pkcs12'))
    entry = dict(entry, privatekey_content=None)
    assert hostmanifest.converged_by_manifest(entry) is not None
    manifest_path = dest / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest['files'][str(dest / 'cert.pem')]
    del manifest['files'][str(dest / 'bundle.p12')]
    manifest_path.write_text(json.dumps(manifest))
    (dest / 'cert.pem').unlink()
    assert hostmanifest.converged_by_manifest(entry) is None
    prepared = hostcerts.prepare(entry)
    assert prepared['converged'] is False and prepared.get('converged_by') is None
    assert hostcerts.install(entry)['error'] is None
    assert (dest / 'cert.pem').exists()


# ---------------------------------------------------------------- the crypto libraries load lazily

# The module's imports and its phase prepare in a fresh interpreter; prints which crypto libraries it loaded.
_PREPARE = """
import json, sys
from ansible_collections.vlaanderen.dov.plugins.modules import host_certificates  # noqa: F401 (what the module imports)
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostabsent, hostcerts
entry = json.loads(sys.argv[1])
hostabsent.in_use([entry])
result = hostcerts.prepare(entry)
loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('cryptography', 'OpenSSL'))
print(json.dumps({'error': result['error'], 'changed': result['changed'], 'converged_by': result.get('converged_by'),
                  'loaded': loaded}))
"""


def prepare_in_a_fresh_interpreter(entry):
    collection = [entry for entry in sys.path if entry and os.path.isdir(
        os.path.join(entry, 'ansible_collections', 'vlaanderen', 'dov', 'plugins'))]
    done = subprocess.run([sys.executable, '-c', _PREPARE, json.dumps(entry)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(collection)))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_rerun_the_manifest_shows_converged_never_loads_cryptography(tmp_path, lab, key1):
    dest, entry = installed(tmp_path, lab, key1)
    entry = dict(entry, privatekey_content=None, key_holder=True)
    rerun = prepare_in_a_fresh_interpreter(entry)
    assert rerun == {'error': None, 'changed': False, 'converged_by': 'manifest', 'loaded': []}
    (dest / MANIFEST).unlink()          # the same files without the manifest: checked with cryptography
    checked = prepare_in_a_fresh_interpreter(entry)
    assert checked['error'] is None and checked['converged_by'] is None
    assert 'cryptography' in checked['loaded']
