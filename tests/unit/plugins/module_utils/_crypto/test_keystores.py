# -*- coding: utf-8 -*-
"""keystores: PKCS#12 profiles, JKS through keytool, and comparing keystores by content."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os
import shutil
import stat
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs, keystores
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, '..', '..', '..', '..')
_spec = importlib.util.spec_from_file_location('dov_pki_factory', os.path.join(TESTS, 'integration', 'pki_factory.py'))
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)

PASSWORD = 'Str0ng-keystore-pw'
HAS_KEYTOOL = shutil.which('keytool') is not None
needs_keytool = pytest.mark.skipif(not HAS_KEYTOOL, reason='Java keytool is not installed')


@pytest.fixture(scope='module')
def pki():
    return factory.shared()


def openssl_info(data, tmp_path, password=PASSWORD):
    path = tmp_path / 'store.p12'
    path.write_bytes(data)
    return subprocess.run(['openssl', 'pkcs12', '-in', str(path), '-info', '-noout', '-passin', 'env:P12PW'],
                          env=dict(os.environ, P12PW=password), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)


# ---------------------------------------------------------------- options

def test_missing_or_short_passwords_are_refused_naming_the_option():
    with pytest.raises(DovError, match=r'pkcs12_password is not set\. .*set pkcs12_password'):
        keystores.check_password(None, 'pkcs12_password')
    with pytest.raises(DovError, match='jks_password is shorter than 6 characters'):
        keystores.check_password('12345', 'jks_password', keystores.MIN_JKS_PASSWORD)
    assert keystores.check_password('123456', 'jks_password', 6) == '123456'


def test_alias_and_profile_are_checked():
    with pytest.raises(DovError, match='keystore_alias'):
        keystores.check_alias('')
    with pytest.raises(DovError, match='control characters'):
        keystores.check_alias('dov\nclient')
    with pytest.raises(DovError, match="Unknown pkcs12_profile 'strong'"):
        keystores.check_profile('strong')


# ---------------------------------------------------------------- PKCS#12

def test_modern_pkcs12_is_aes_pbkdf2_sha256_and_openssl_reads_it(pki, tmp_path):
    data = keystores.build_pkcs12(pki.key, pki.leaf, [pki.intermediate.cert], PASSWORD, 'dov-client', 'modern')
    assert keystores.pkcs12_mac_algorithm(data) == 'sha256'
    info = openssl_info(data, tmp_path)
    assert info.returncode == 0, info.stdout
    assert 'MAC: sha256' in info.stdout and 'AES-256-CBC' in info.stdout and 'hmacWithSHA256' in info.stdout
    loaded = pkcs12.load_pkcs12(data, PASSWORD.encode())
    assert loaded.cert.friendly_name == b'dov-client' and loaded.cert.certificate == pki.leaf
    assert [extra.certificate for extra in loaded.additional_certs] == [pki.intermediate.cert]


def test_legacy_pkcs12_is_3des_with_a_sha1_mac(pki, tmp_path):
    data = keystores.build_pkcs12(pki.key, pki.leaf, [], PASSWORD, 'dov-client', 'legacy')
    assert keystores.pkcs12_mac_algorithm(data) == 'sha1'
    info = openssl_info(data, tmp_path)
    assert 'MAC: sha1' in info.stdout and 'pbeWithSHA1And3-KeyTripleDES-CBC' in info.stdout, info.stdout


def test_pkcs12_matches_compares_content_not_bytes(pki):
    chain = [pki.intermediate.cert]
    one = keystores.build_pkcs12(pki.key, pki.leaf, chain, PASSWORD, 'dov-client')
    two = keystores.build_pkcs12(pki.key, pki.leaf, chain, PASSWORD, 'dov-client')
    assert one != two  # random salts
    assert keystores.pkcs12_matches(two, PASSWORD, pki.key, pki.leaf, chain, 'dov-client', 'modern')


@pytest.mark.parametrize('change', ['password', 'alias', 'profile', 'chain', 'certificate', 'garbage', 'empty'])
def test_pkcs12_that_differs_in_anything_does_not_match(pki, change):
    chain = [pki.intermediate.cert]
    data = keystores.build_pkcs12(pki.key, pki.leaf, chain, PASSWORD, 'dov-client')
    args = dict(data=data, password=PASSWORD, key=pki.key, leaf=pki.leaf, chain=chain, alias='dov-client',
                profile='modern')
    if change == 'password':
        args['password'] = 'another-password'
    elif change == 'alias':
        args['alias'] = 'geodrill'
    elif change == 'profile':
        args['profile'] = 'legacy'
    elif change == 'chain':
        args['chain'] = []
    elif change == 'certificate':
        args['leaf'] = pki.renewed
    elif change == 'garbage':
        args['data'] = b'\x30\x03\x02\x01\x03'
    else:
        args['data'] = b''
    assert not keystores.pkcs12_matches(**args)


def test_read_pkcs12_needs_a_key_and_a_certificate(pki):
    only_certs = pkcs12.serialize_key_and_certificates(
        None, None, None, [pki.leaf], serialization.BestAvailableEncryption(PASSWORD.encode('utf-8')))
    assert keystores.read_pkcs12(only_certs, PASSWORD) is None
    assert keystores.read_pkcs12(None, PASSWORD) is None
    assert keystores.pkcs12_mac_algorithm(b'\x04\x00') is None
    assert keystores.pkcs12_mac_algorithm(b'\x30\x05\x02\x01\x03\x30\x00') is None


# ---------------------------------------------------------------- JKS

@needs_keytool
def test_jks_is_made_by_keytool_and_read_back_with_the_same_content(pki, tmp_path):
    chain = [pki.intermediate.cert]
    data = keystores.build_jks(pki.key, pki.leaf, chain, PASSWORD, 'dov-client')
    assert data.startswith(keystores.JKS_MAGIC)
    assert keystores.read_jks(data, PASSWORD) == keystores.content_of(pki.key, pki.leaf, chain, 'dov-client')
    assert keystores.jks_matches(data, PASSWORD, pki.key, pki.leaf, chain, 'dov-client')
    assert not keystores.jks_matches(data, 'wrong-password', pki.key, pki.leaf, chain, 'dov-client')
    assert not keystores.jks_matches(data, PASSWORD, pki.key, pki.renewed, chain, 'dov-client')
    assert not keystores.jks_matches(data, PASSWORD, pki.key, pki.leaf, chain, 'other')
    path = tmp_path / 'keystore.jks'
    path.write_bytes(data)
    listed = subprocess.run(['keytool', '-list', '-v', '-keystore', str(path), '-storetype', 'JKS',
                             '-storepass:env', 'PW'], env=dict(os.environ, PW=PASSWORD), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert listed.returncode == 0, listed.stdout
    assert 'Alias name: dov-client' in listed.stdout and 'PrivateKeyEntry' in listed.stdout
    assert 'Certificate chain length: 2' in listed.stdout


@needs_keytool
def test_jks_aliases_are_lower_case_and_compared_so(pki):
    data = keystores.build_jks(pki.key, pki.leaf, [], PASSWORD, 'Geodrill-Client')
    assert keystores.read_jks(data, PASSWORD)['alias'] == 'geodrill-client'
    assert keystores.jks_matches(data, PASSWORD, pki.key, pki.leaf, [], 'Geodrill-Client')


@needs_keytool
def test_a_pkcs12_file_is_not_taken_for_a_jks(pki):
    data = keystores.build_pkcs12(pki.key, pki.leaf, [], PASSWORD, 'dov-client')
    assert keystores.read_jks(data, PASSWORD) is None
    assert keystores.read_jks(b'', PASSWORD) is None
    assert keystores.read_jks(keystores.JKS_MAGIC + b'\x00' * 40, PASSWORD) is None


def test_without_keytool_jks_fails_saying_install_a_jre_or_use_pkcs12(monkeypatch):
    monkeypatch.delenv('JAVA_HOME', raising=False)
    monkeypatch.setattr(keystores.shutil, 'which', lambda name: None)
    with pytest.raises(DovError) as caught:
        keystores.find_keytool()
    message = str(caught.value)
    assert "needs Java's keytool" in message and 'Install a Java runtime' in message and 'pkcs12' in message
    with pytest.raises(DovError, match='at /opt/none/keytool'):
        keystores.find_keytool('/opt/none/keytool')


def fake_keytool(tmp_path, exit_code=0):
    """A keytool that records its arguments and whether it saw the password in its environment."""
    log = tmp_path / 'keytool.log'
    script = tmp_path / 'keytool'
    script.write_text('#!/bin/sh\nprintf "%%s\\n" "$@" > %s\nprintf "env=%%s\\n" "$DOV_KEYSTORE_PASSWORD" >> %s\n'
                      'echo "keytool error: java.lang.Exception: simulated"\nexit %d\n' % (log, log, exit_code))
    os.chmod(str(script), stat.S_IRWXU)
    return str(script), log


def test_the_password_reaches_keytool_in_its_environment_never_its_arguments(pki, tmp_path, monkeypatch):
    keytool, log = fake_keytool(tmp_path, exit_code=1)
    monkeypatch.setenv('JAVA_HOME', str(tmp_path / 'jdk'))
    os.makedirs(str(tmp_path / 'jdk' / 'bin'))
    os.makedirs(str(tmp_path / 'tmp'))
    monkeypatch.setattr(keystores.tempfile, 'tempdir', str(tmp_path / 'tmp'))
    shutil.copy(keytool, str(tmp_path / 'jdk' / 'bin' / 'keytool'))
    assert keystores.find_keytool() == str(tmp_path / 'jdk' / 'bin' / 'keytool')
    with pytest.raises(DovError) as caught:
        keystores.build_jks(pki.key, pki.leaf, [], PASSWORD, 'dov-client', keytool)
    assert 'keytool could not make the JKS keystore: keytool error: java.lang.Exception: simulated' in str(caught.value)
    assert PASSWORD not in str(caught.value)
    recorded = log.read_text().splitlines()
    assert '-srcstorepass:env' in recorded and '-deststorepass:env' in recorded
    assert all(PASSWORD not in line for line in recorded if not line.startswith('env='))
    assert 'env=%s' % PASSWORD in recorded
    # the private temporary folder with the PKCS#12 is gone (its private parent stays, empty)
    home = 'dov-keystores-%d' % os.getuid()
    assert os.listdir(str(tmp_path / 'tmp')) == [home] and os.listdir(str(tmp_path / 'tmp' / home)) == []


@needs_keytool
def test_jks_is_read_without_java_and_a_wrong_password_or_a_changed_byte_is_refused(pki, monkeypatch):
    data = keystores.build_jks(pki.key, pki.leaf, [pki.intermediate.cert], PASSWORD, 'dov-client')
    monkeypatch.setattr(keystores.subprocess, 'run', None)  # reading starts no process
    assert keystores.read_jks(data, PASSWORD)['alias'] == 'dov-client'
    assert keystores.read_jks(data, 'wrong-password') is None
    assert keystores.read_jks(data, '') is None
    for position in (40, len(data) // 2, len(data) - 30, len(data) - 1):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        assert keystores.read_jks(bytes(tampered), PASSWORD) is None
    assert keystores.read_jks(data[:-25], PASSWORD) is None


@needs_keytool
def test_a_jks_with_only_a_trusted_certificate_is_not_a_client_keystore(pki, tmp_path):
    cert = tmp_path / 'root.pem'
    cert.write_bytes(factory.pem(pki.root.cert))
    store = tmp_path / 'trust.jks'
    made = subprocess.run(['keytool', '-importcert', '-noprompt', '-alias', 'root', '-file', str(cert), '-keystore',
                           str(store), '-storetype', 'JKS', '-storepass:env', 'PW'], env=dict(os.environ, PW=PASSWORD),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    assert made.returncode == 0, made.stdout
    assert keystores.read_jks(store.read_bytes(), PASSWORD) is None


def test_jks_key_protection_rejects_what_is_not_a_protected_key():
    assert keystores._unprotect_jks_key(b'\x04\x00', PASSWORD) is None
    assert keystores._unprotect_jks_key(b'\x30\x05\x30\x00\x04\x01\x00', PASSWORD) is None
    assert keystores._unprotect_jks_key(b'\x30\x04\x30\x00\x02\x00', PASSWORD) is None


def test_a_keytool_that_cannot_start_is_reported(pki, tmp_path):
    broken = tmp_path / 'keytool'
    broken.write_bytes(b'\x7fELF-not-really')
    os.chmod(str(broken), stat.S_IRWXU)
    with pytest.raises(DovError, match='could not run'):
        keystores.build_jks(pki.key, pki.leaf, [], PASSWORD, 'dov-client', str(broken))


def test_fingerprints_only_in_content(pki):
    content = keystores.content_of(pki.key, pki.leaf, [pki.intermediate.cert], 'dov-client')
    assert content['certificate'] == certs.fingerprint_sha256(pki.leaf)
    assert 'PRIVATE' not in repr(content)
