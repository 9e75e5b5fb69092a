# -*- coding: utf-8 -*-
"""certinfo: what cert_info says about the real VO-PKI certificates, bundles and keystores."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import importlib.util
import os
import shutil
import subprocess

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, '..', '..', '..', '..')
VO_PKI = os.path.join(TESTS, 'fixtures', 'vo-pki')
GEODRILL = os.path.join(VO_PKI, 'geolab-oefen-geodrill.pem')
CLIENT1 = os.path.join(VO_PKI, 'omgeving-ontwikkel-dov-client1.pem')
_spec = importlib.util.spec_from_file_location('dov_pki_factory', os.path.join(TESTS, 'integration', 'pki_factory.py'))
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)

UTC = datetime.timezone.utc
PASSWORD = 'Str0ng-keystore-pw'
needs_keytool = pytest.mark.skipif(shutil.which('keytool') is None, reason='Java keytool is not installed')


@pytest.fixture(scope='module')
def pki():
    return factory.shared()


def openssl(*arguments, **kwargs):
    return subprocess.run(['openssl'] + list(arguments), check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          **kwargs).stdout


def make_pkcs12(pki, folder, chain=True):
    """A PKCS#12 made by openssl (so the test runs on every cryptography the hosts have)."""
    (folder / 'key.pem').write_bytes(factory.key_pem(pki.key))
    (folder / 'leaf.pem').write_bytes(factory.pem(pki.leaf))
    (folder / 'chain.pem').write_bytes(factory.pem(pki.intermediate.cert))
    extra = ['-certfile', str(folder / 'chain.pem')] if chain else []
    openssl('pkcs12', '-export', '-out', str(folder / 'bundle.p12'), '-passout', 'env:PW', '-name', 'dov-client',
            '-inkey', str(folder / 'key.pem'), '-in', str(folder / 'leaf.pem'), *extra, env=dict(os.environ, PW=PASSWORD))
    for name in ('key.pem', 'leaf.pem', 'chain.pem'):
        os.remove(str(folder / name))
    return folder / 'bundle.p12'


def make_jks(pki, folder):
    """A JKS made by keytool from openssl's PKCS#12."""
    source = make_pkcs12(pki, folder)
    subprocess.run(['keytool', '-importkeystore', '-noprompt', '-srckeystore', str(source), '-srcstoretype', 'PKCS12',
                    '-srcstorepass:env', 'PW', '-destkeystore', str(folder / 'keystore.jks'), '-deststoretype', 'JKS',
                    '-deststorepass:env', 'PW', '-destkeypass:env', 'PW'], env=dict(os.environ, PW=PASSWORD),
                   check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.remove(str(source))
    return folder / 'keystore.jks'


def snapshot(folder):
    return {name: (os.stat(os.path.join(folder, name)).st_mtime_ns, open(os.path.join(folder, name), 'rb').read())
            for name in sorted(os.listdir(folder))}


# ---------------------------------------------------------------- the real VO-PKI certificates

def test_real_geodrill_certificate_is_read_with_cn_parts_issuer_key_and_eku():
    info = certinfo.cert_info(GEODRILL)
    assert info['format'] == 'pem'
    assert info['common_name'] == 'geolab.be/dov-services/oefen/Geodrill'
    assert info['cn_parts'] == {'organisation': 'geolab.be', 'service': 'dov-services', 'environment': 'oefen',
                                'application': 'Geodrill', 'trailing_slash': False}
    assert info['issuer'] == 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE'
    assert 'O=Geolab nv' in info['subject']
    assert info['serial'] == '24F6CA90000100002448'  # as `openssl x509 -serial` prints it
    assert info['not_before'] == '2020-12-06T11:15:05Z'
    assert info['not_after'] == '2026-01-09T11:15:05Z'
    assert info['fingerprint_sha256'].startswith('FD:8C:DA:68:FA:71:7F:AA')
    assert (info['key_type'], info['key_size']) == ('RSA', 2048)
    assert info['extended_key_usage'] == ['clientAuth']
    assert info['chain_length'] == 0


def test_real_certificates_are_expired_with_negative_days_left_and_need_renewal():
    for path in (GEODRILL, CLIENT1):
        info = certinfo.cert_info(path)
        assert info['expired'] is True
        assert info['days_left'] < 0
        assert info['needs_renewal'] is True


def test_days_left_and_renewal_follow_the_clock_and_the_window():
    before = datetime.datetime(2025, 12, 1, 11, 15, 5, tzinfo=UTC)  # 39 days before 2026-01-09
    info = certinfo.cert_info(GEODRILL, now=before)
    assert (info['days_left'], info['expired'], info['needs_renewal']) == (39, False, True)
    info = certinfo.cert_info(GEODRILL, now=before, renew_before_days=30)
    assert (info['days_left'], info['needs_renewal'], info['renew_before_days']) == (39, False, 30)
    after = datetime.datetime(2026, 1, 10, 11, 15, 5, tzinfo=UTC)
    assert certinfo.cert_info(GEODRILL, now=after)['days_left'] == -1


def test_exactly_renew_before_days_left_needs_renewal_as_renew_yml_renews_it():
    before = datetime.datetime(2025, 12, 1, 11, 15, 5, tzinfo=UTC)  # 39 days before 2026-01-09
    at_edge = certinfo.cert_info(GEODRILL, now=before, renew_before_days=39)
    assert (at_edge['days_left'], at_edge['needs_renewal']) == (39, True)
    assert certinfo.cert_info(GEODRILL, now=before, renew_before_days=38)['needs_renewal'] is False


def test_trailing_slash_cn_is_parsed_and_unknown_eku_is_shown_as_its_oid():
    info = certinfo.cert_info(CLIENT1)
    assert info['common_name'] == 'www.omgeving.be/dov-services/ontwikkel/dov-client1/'
    assert info['cn_parts']['application'] == 'dov-client1'
    assert info['cn_parts']['environment'] == 'ontwikkel'
    assert info['cn_parts']['trailing_slash'] is True
    assert info['extended_key_usage'] == ['clientAuth', 'codeSigning', '1.3.6.1.4.1.311.10.3.12', 'emailProtection']
    assert info['not_after'] == '2024-01-03T15:24:46Z'


def test_cn_that_is_not_dov_shaped_gives_null_cn_parts(pki):
    info = certinfo.certificate_info(pki.server)
    assert info['common_name'] == '127.0.0.1'
    assert info['cn_parts'] is None
    assert info['extended_key_usage'] == ['serverAuth']


def test_certificate_without_eku_gives_null_extended_key_usage(pki):
    cert = factory.make_client(pki.intermediate, pki.key, eku=None)
    assert certinfo.certificate_info(cert)['extended_key_usage'] is None


# ---------------------------------------------------------------- every form

def test_der_pkcs7_and_bundle_describe_the_leaf_not_the_ca(pki, tmp_path):
    (tmp_path / 'leaf.cer').write_bytes(factory.der(pki.leaf))
    (tmp_path / 'leaf.pem').write_bytes(factory.pem(pki.leaf))
    (tmp_path / 'both.pem').write_bytes(factory.pem(pki.intermediate.cert, pki.leaf))
    openssl('crl2pkcs7', '-nocrl', '-certfile', str(tmp_path / 'both.pem'), '-outform', 'DER',
            '-out', str(tmp_path / 'leaf.p7b'))
    for name, form, extra in (('leaf.cer', 'der', 0), ('leaf.p7b', 'pkcs7', 1), ('leaf.pem', 'pem', 0)):
        info = certinfo.cert_info(str(tmp_path / name))
        assert (info['format'], info['chain_length']) == (form, extra), name
        assert info['common_name'] == factory.CN
        assert info['expired'] is False and info['needs_renewal'] is False
    bundle = tmp_path / 'fullchain.pem'
    bundle.write_bytes(factory.pem(pki.root.cert, pki.intermediate.cert, pki.leaf))  # leaf last
    info = certinfo.cert_info(str(bundle))
    assert info['common_name'] == factory.CN and info['chain_length'] == 2


def test_pkcs12_is_read_with_its_password(pki, tmp_path):
    path = make_pkcs12(pki, tmp_path)
    info = certinfo.cert_info(str(path), pkcs12_password=PASSWORD)
    assert info['format'] == 'pkcs12'
    assert info['common_name'] == factory.CN
    assert info['fingerprint_sha256'] == certinfo.certs.fingerprint_sha256(pki.leaf)
    assert info['key_type'] == 'RSA'
    assert info['chain_length'] == 1


@needs_keytool
def test_jks_made_by_keytool_is_read_and_keytool_agrees_on_the_fingerprint(pki, tmp_path):
    path = make_jks(pki, tmp_path)
    info = certinfo.cert_info(str(path), jks_password=PASSWORD)
    assert info['format'] == 'jks'
    assert info['common_name'] == factory.CN
    listed = subprocess.run(['keytool', '-list', '-v', '-keystore', str(path), '-storepass:env', 'PW'],
                            env=dict(os.environ, PW=PASSWORD, LC_ALL='C'), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, check=True).stdout
    assert 'SHA256: %s' % info['fingerprint_sha256'] in listed
    assert info['not_after'][:4] in listed


# ---------------------------------------------------------------- refusals

@pytest.mark.parametrize('form, kwargs, expected', [
    ('pkcs12', {}, r'is a PKCS#12 keystore that needs a password\. Give it in pkcs12_password\.'),
    ('pkcs12', {'pkcs12_password': 'wrong-password'}, r'does not open with the given pkcs12_password'),
    ('jks', {}, r'is a JKS keystore, which is read with its password\. Give it in jks_password\.'),
    ('jks', {'jks_password': 'wrong-password'}, r'does not open with the given jks_password'),
])
def test_keystore_without_or_with_a_wrong_password_is_refused_and_nothing_changes(pki, tmp_path, form, kwargs,
                                                                                  expected):
    if form == 'jks' and shutil.which('keytool') is None:
        pytest.skip('Java keytool is not installed')
    store = make_pkcs12(pki, tmp_path) if form == 'pkcs12' else make_jks(pki, tmp_path)
    before = snapshot(str(tmp_path))
    with pytest.raises(DovError, match=expected) as caught:
        certinfo.cert_info(str(store), **kwargs)
    assert 'wrong-password' not in str(caught.value)
    assert snapshot(str(tmp_path)) == before


def test_missing_file_folder_and_unreadable_file_are_clear_errors(tmp_path):
    with pytest.raises(DovError, match=r'/nowhere/cert\.pem does not exist\. Point path at a deployed certificate'):
        certinfo.cert_info('/nowhere/cert.pem')
    with pytest.raises(DovError, match=r'is a folder, not a certificate file\. Point path at the certificate'):
        certinfo.cert_info(str(tmp_path))
    locked = tmp_path / 'locked.pem'
    locked.write_bytes(open(GEODRILL, 'rb').read())
    locked.chmod(0)
    try:
        if os.access(str(locked), os.R_OK):
            pytest.skip('running as root: every file is readable')
        with pytest.raises(DovError, match=r'Cannot read .*locked\.pem: Permission denied\. Check the path'):
            certinfo.cert_info(str(locked))
    finally:
        locked.chmod(0o600)


def test_empty_file_key_and_garbage_are_refused_with_what_they_are(pki, tmp_path):
    (tmp_path / 'empty.pem').write_bytes(b'')
    (tmp_path / 'key.pem').write_bytes(factory.key_pem(pki.key))
    (tmp_path / 'junk.bin').write_bytes(b'\x00\x01not a certificate at all')
    before = snapshot(str(tmp_path))
    with pytest.raises(DovError, match='empty.pem is empty'):
        certinfo.cert_info(str(tmp_path / 'empty.pem'))
    with pytest.raises(DovError, match='holds a private key, not a certificate'):
        certinfo.cert_info(str(tmp_path / 'key.pem'))
    with pytest.raises(DovError, match='is not a certificate'):
        certinfo.cert_info(str(tmp_path / 'junk.bin'))
    assert snapshot(str(tmp_path)) == before


@pytest.mark.parametrize('value', [-1, True, '60'])
def test_renew_before_days_must_be_zero_or_more_whole_days(value):
    with pytest.raises(DovError, match=r'renew_before_days must be a whole number of days, 0 or more.*Leave it out for 60'):
        certinfo.cert_info(GEODRILL, renew_before_days=value)
