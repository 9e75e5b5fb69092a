# -*- coding: utf-8 -*-
"""certinstall: plan (every check, every file decided), apply (atomic set), snapshot/restore."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import grp
import importlib.util
import os
import pwd
import shutil
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import certinstall
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, '..', '..', '..', '..')
_spec = importlib.util.spec_from_file_location('dov_pki_factory', os.path.join(TESTS, 'integration', 'pki_factory.py'))
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)

P12_PASSWORD = 'p12-Secret-pw'
JKS_PASSWORD = 'jks-Secret-pw'
HAS_KEYTOOL = shutil.which('keytool') is not None


@pytest.fixture(scope='module')
def pki():
    return factory.shared()


@pytest.fixture
def setup(pki, tmp_path):
    """key.pem and ca.pem in tmp_path; returns a function that plans with defaults."""
    key = tmp_path / 'key.pem'
    key.write_bytes(factory.key_pem(pki.key))
    os.chmod(str(key), 0o600)
    ca = tmp_path / 'ca.pem'
    ca.write_bytes(factory.pem(pki.intermediate.cert, pki.root.cert))
    dest = tmp_path / 'dest'

    def plan(content=None, **options):
        args = dict(content=factory.der(pki.leaf) if content is None else content, source='src leaf.cer',
                    privatekey_path=str(key), expected_common_name=factory.CN, dest_dir=str(dest),
                    ca_bundle=str(ca), now=pki.now)
        args.update(options)
        return certinstall.plan_install(**args)
    plan.dest = dest
    plan.key = key
    plan.ca = ca
    return plan


def state(folder):
    """Every file with its bytes and mode: to prove nothing changed."""
    if not os.path.isdir(str(folder)):
        return None
    found = {}
    for name in sorted(os.listdir(str(folder))):
        path = os.path.join(str(folder), name)
        with open(path, 'rb') as handle:
            found[name] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


# ---------------------------------------------------------------- first install, second run

def test_pem_install_writes_leaf_chain_fullchain_and_the_second_run_keeps_everything(pki, setup):
    plan = setup()
    assert plan.changed and plan.folders == [str(setup.dest)]
    assert [(change.kind, change.action) for change in plan.files] == [
        ('cert', 'create'), ('chain', 'create'), ('fullchain', 'create')]
    assert not setup.dest.exists()  # planning writes nothing
    certinstall.apply_install(plan)
    assert (setup.dest / 'cert.pem').read_bytes() == factory.pem(pki.leaf)
    assert (setup.dest / 'chain.pem').read_bytes() == factory.pem(pki.intermediate.cert)
    assert (setup.dest / 'fullchain.pem').read_bytes() == factory.pem(pki.leaf, pki.intermediate.cert)
    assert mode_of(setup.dest) == 0o700    # dest_dir: 0700 without a group (certinstall.folder_mode)
    assert all(mode_of(setup.dest / name) == 0o644 for name in ('cert.pem', 'chain.pem', 'fullchain.pem'))
    result = plan.result()
    assert result['changed'] is True and result['days_left'] == 1824 and result['common_name'] == factory.CN
    assert result['files']['cert'] == {'path': str(setup.dest / 'cert.pem'), 'changed': True, 'mode': '0644'}

    again = setup(content=factory.p7b([pki.intermediate.cert, pki.leaf], factory.serialization.Encoding.PEM))
    assert not again.changed and [change.action for change in again.files] == ['keep'] * 3
    assert again.result()['files']['chain']['changed'] is False


@pytest.mark.skipif(not HAS_KEYTOOL, reason='Java keytool is not installed')
def test_keystores_are_kept_when_their_content_is_the_same_whatever_the_input_encoding(pki, setup):
    options = dict(formats=['pem', 'pkcs12', 'jks'], pkcs12_password=P12_PASSWORD, jks_password=JKS_PASSWORD)
    certinstall.apply_install(setup(**options))
    assert mode_of(setup.dest / 'bundle.p12') == 0o600 and mode_of(setup.dest / 'keystore.jks') == 0o600
    before = state(setup.dest)
    again = setup(content=factory.p7b([pki.leaf, pki.intermediate.cert]), **options)
    assert not again.changed
    certinstall.apply_install(again)
    assert state(setup.dest) == before
    # another password or profile or alias is another keystore
    changed = setup(formats=['pkcs12', 'jks'], pkcs12_password=P12_PASSWORD, pkcs12_profile='legacy',
                    jks_password='another-jks-pw')
    assert [(change.kind, change.action) for change in changed.files] == [('pkcs12', 'update'), ('jks', 'update')]


def test_a_renewed_certificate_updates_the_files_and_the_diff_shows_both(pki, setup):
    certinstall.apply_install(setup())
    plan = setup(content=factory.pem(pki.renewed))
    assert [change.action for change in plan.files] == ['update', 'keep', 'update']
    assert plan.diff['before']['serial'] == certs.serial_hex(pki.leaf)
    assert plan.diff['after']['serial'] == certs.serial_hex(pki.renewed)
    assert sorted(plan.diff['after']) == ['fingerprint_sha256', 'not_after', 'serial', 'subject']
    backups = certinstall.apply_install(plan, backup=True)
    assert len(backups) == 2 and all(os.path.basename(path).startswith(('cert.pem.', 'fullchain.pem.'))
                                     for path in backups)
    with open(sorted(backups)[0], 'rb') as handle:
        assert handle.read() == factory.pem(pki.leaf)
    assert (setup.dest / 'cert.pem').read_bytes() == factory.pem(pki.renewed)


def test_a_wrong_mode_is_retouched_without_rewriting(setup):
    certinstall.apply_install(setup())
    os.chmod(str(setup.dest / 'chain.pem'), 0o600)
    plan = setup()
    assert [change.action for change in plan.files] == ['keep', 'retouch', 'keep']
    certinstall.apply_install(plan)
    assert mode_of(setup.dest / 'chain.pem') == 0o644


def test_garbage_in_cert_pem_gives_an_empty_before(setup):
    setup.dest.mkdir()
    (setup.dest / 'cert.pem').write_bytes(b'junk')
    assert setup().diff['before'] == {}


# ---------------------------------------------------------------- modes and owners

def test_keystores_are_0600_or_0640_with_group_and_more_open_is_refused():
    assert certinstall.file_modes() == (0o644, 0o600)
    assert certinstall.file_modes(group='geodrill') == (0o644, 0o640)
    assert certinstall.file_modes('0640', formats=['pem', 'pkcs12']) == (0o640, 0o640)
    assert certinstall.file_modes('0644', formats=['pem']) == (0o644, 0o644)
    for mode in ('0644', '0660', '0700', 0o604):
        with pytest.raises(DovError, match='too open for the keystores'):
            certinstall.file_modes(mode, formats=['jks'])
    with pytest.raises(DovError, match='not an octal number'):
        certinstall.parse_mode('rw-r--r--')
    with pytest.raises(DovError, match='out of range'):
        certinstall.parse_mode(0o17777)
    assert certinstall.parse_mode('') is None


def test_owner_and_group_are_set_on_every_file(setup):
    group = grp.getgrgid(os.getgid()).gr_name
    plan = setup(owner=pwd.getpwuid(os.getuid()).pw_name, group=group, formats=['pem', 'pkcs12'],
                 pkcs12_password=P12_PASSWORD)
    certinstall.apply_install(plan)
    assert mode_of(setup.dest / 'bundle.p12') == 0o640
    assert os.stat(str(setup.dest / 'cert.pem')).st_gid == os.getgid()
    with pytest.raises(DovError, match="The user 'no-such-user-dov' does not exist"):
        setup(owner='no-such-user-dov')


# ---------------------------------------------------------------- refusals leave disk as it was

@pytest.mark.parametrize('kind', ['another key', 'another CN', 'expired', 'not yet valid', 'server-only usage',
                                  'unknown CA', 'too few days left'])
def test_a_wrong_certificate_is_refused_before_any_write(pki, setup, kind):
    certinstall.apply_install(setup(formats=['pem', 'pkcs12'], pkcs12_password=P12_PASSWORD))
    before = state(setup.dest)
    with pytest.raises(DovError):
        setup(content=factory.der(pki.wrong[kind]), min_days_left=30, formats=['pem', 'pkcs12'],
              pkcs12_password=P12_PASSWORD)
    assert state(setup.dest) == before


@pytest.mark.parametrize('content, expected', [
    (b'', 'is empty'), (b'garbage', 'is not a certificate'), (b'-----BEGIN CERTIFICATE-----\nMIIB', 'is truncated'),
])
def test_unreadable_input_is_refused_before_any_write(setup, content, expected):
    certinstall.apply_install(setup())
    before = state(setup.dest)
    with pytest.raises(DovError, match=expected):
        setup(content=content)
    assert state(setup.dest) == before


def test_option_problems_are_refused_first(setup):
    with pytest.raises(DovError, match='pkcs12_password is not set'):
        setup(formats=['pkcs12'])
    with pytest.raises(DovError, match='jks_password is shorter than 6'):
        setup(formats=['jks'], jks_password='12345')
    with pytest.raises(DovError, match='Unknown format'):
        setup(formats=['der'])
    with pytest.raises(DovError, match='min_days_left'):
        setup(min_days_left=-1)
    with pytest.raises(DovError, match='The ca_bundle .* does not exist'):
        setup(ca_bundle=str(setup.dest / 'nothing.pem'))
    with pytest.raises(DovError, match='The private key .* does not exist'):
        setup(privatekey_path=str(setup.dest / 'nokey.pem'))
    assert not setup.dest.exists()


def test_without_keytool_jks_is_refused_before_any_write(setup, monkeypatch):
    monkeypatch.delenv('JAVA_HOME', raising=False)
    monkeypatch.setattr(certinstall.keystores.shutil, 'which', lambda name: None)
    with pytest.raises(DovError, match='Install a Java runtime'):
        setup(formats=['pem', 'jks'], jks_password=JKS_PASSWORD)
    assert not setup.dest.exists()


def test_read_source_takes_one_of_src_and_content(tmp_path):
    assert certinstall.read_source(content='text') == (b'text', 'content')
    (tmp_path / 'a.cer').write_bytes(b'\x30')
    assert certinstall.read_source(src=str(tmp_path / 'a.cer')) == (b'\x30', 'src %s' % (tmp_path / 'a.cer'))
    with pytest.raises(DovError, match='does not exist'):
        certinstall.read_source(src=str(tmp_path / 'none.cer'))
    with pytest.raises(DovError, match='Both src and content'):
        certinstall.read_source(src='x', content='y')
    with pytest.raises(DovError, match='Neither src nor content'):
        certinstall.read_source()


# ---------------------------------------------------------------- failures halfway

def test_a_failure_while_writing_the_new_files_replaces_nothing(pki, setup, monkeypatch):
    certinstall.apply_install(setup())
    before = state(setup.dest)
    plan = setup(content=factory.der(pki.renewed))
    real = fsutil.write_temp
    calls = []

    def disk_full(folder, name, data, mode, uid, gid):
        calls.append(name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real(folder, name, data, mode, uid, gid)
    monkeypatch.setattr(fsutil, 'write_temp', disk_full)
    with pytest.raises(DovError) as caught:
        certinstall.apply_install(plan)
    assert 'No space left on device' in str(caught.value) and 'Nothing was replaced' in str(caught.value)
    assert state(setup.dest) == before  # no temp file left either


def test_a_failure_between_renames_puts_the_previous_files_back(pki, setup, monkeypatch):
    certinstall.apply_install(setup())
    before = state(setup.dest)
    plan = setup(content=factory.der(pki.renewed))
    real = os.rename
    calls = []

    def fails_second(source, target, **kwargs):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(errno.EIO, 'Input/output error')
        return real(source, target, **kwargs)
    monkeypatch.setattr(certinstall.os, 'rename', fails_second)
    with pytest.raises(DovError, match='The previous files were put back'):
        certinstall.apply_install(plan)
    monkeypatch.setattr(certinstall.os, 'rename', real)
    assert state(setup.dest) == before


# ---------------------------------------------------------------- snapshot / restore, many certificates

def test_snapshot_and_restore_roll_back_an_install(pki, setup):
    certinstall.apply_install(setup())
    os.chmod(str(setup.dest / 'chain.pem'), 0o640)
    before = state(setup.dest)
    saved = certinstall.snapshot(str(setup.dest))
    assert 'BEGIN' not in repr(saved)
    certinstall.apply_install(setup(content=factory.der(pki.renewed), formats=['pem', 'pkcs12'],
                                    pkcs12_password=P12_PASSWORD))
    assert state(setup.dest) != before
    touched = certinstall.restore(saved)
    assert state(setup.dest) == before
    assert str(setup.dest / 'bundle.p12') in touched  # did not exist: removed
    assert certinstall.restore(saved) == []  # nothing left to do


def test_reprs_never_show_file_content(setup):
    plan = setup(formats=['pkcs12'], pkcs12_password=P12_PASSWORD)
    assert 'bundle.p12' in repr(plan.files[0]) and P12_PASSWORD not in repr(plan.files[0])
