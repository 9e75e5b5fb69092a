# -*- coding: utf-8 -*-
"""compat: the library-version differences, each fallback run on this machine's libraries too
(by pretending an older cryptography), and the real VO-PKI certificates among the inputs."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'fixtures', 'vo-pki')
UTC = datetime.timezone.utc
OLD = (3, 4, 8)


def read(name):
    with open(os.path.join(FIXTURES, name), 'rb') as handle:
        return handle.read()


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.EMAIL_ADDRESS, 'ict@example.be')])


def _certificate(subject_key, issuer_key, issuer_name, subject='leaf', sign=None):
    now = datetime.datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30)))
    if sign:
        return sign(builder)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope='module')
def keys():
    return {'rsa': rsa.generate_private_key(65537, 2048), 'ec': ec.generate_private_key(ec.SECP256R1()),
            'ed25519': ed25519.Ed25519PrivateKey.generate(), 'other': rsa.generate_private_key(65537, 2048)}


@pytest.fixture
def old(monkeypatch):
    """compat as it behaves with cryptography 3.4.8 (the fallbacks), on this machine's library."""
    monkeypatch.setattr(compat, 'CRYPTOGRAPHY', OLD)
    monkeypatch.setattr(compat, 'CRYPTOGRAPHY_VERSION', '3.4.8')


WRONG_KEYS = {'rsa': lambda: rsa.generate_private_key(65537, 2048), 'ec': lambda: ec.generate_private_key(ec.SECP256R1()),
              'ed25519': ed25519.Ed25519PrivateKey.generate}


@pytest.mark.parametrize('issuer_type', ['rsa', 'ec', 'ed25519'])
def test_the_signature_is_checked_by_hand_with_the_issuers_key(keys, issuer_type):
    issuer = _name('Issuing CA')
    digest = None if issuer_type == 'ed25519' else hashes.SHA256()

    def sign(builder):
        return builder.sign(keys[issuer_type], digest)

    cert = _certificate(keys['other'], keys[issuer_type], issuer, sign=sign)
    issuer_cert = _certificate(keys[issuer_type], keys[issuer_type], issuer, subject='Issuing CA', sign=sign)
    compat._verify_signature(cert, keys[issuer_type].public_key())
    with pytest.raises(InvalidSignature):
        compat._verify_signature(cert, WRONG_KEYS[issuer_type]().public_key())
    assert compat.verify_issued_by(cert, issuer_cert) is None


def test_an_rsa_pss_signature_is_checked_with_its_own_parameters(keys):
    if not hasattr(x509.CertificateBuilder, 'sign') or compat.CRYPTOGRAPHY < (41, 0, 0):
        pytest.skip('signing with RSA-PSS needs cryptography 41')
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=32)
    cert = _certificate(keys['other'], keys['rsa'], _name('PSS CA'),
                        sign=lambda builder: builder.sign(keys['rsa'], hashes.SHA384(), rsa_padding=pss))
    digest, mgf_digest, salt = compat.pss_parameters(cert)
    assert (digest.name, mgf_digest.name, salt) == ('sha384', 'sha384', 32)
    compat._verify_signature(cert, keys['rsa'].public_key())
    with pytest.raises(InvalidSignature):
        compat._verify_signature(cert, keys['other'].public_key())


def test_a_real_vo_pki_certificate_is_not_taken_for_its_own_issuer():
    leaf = x509.load_pem_x509_certificate(read('geolab-oefen-geodrill.pem'))
    with pytest.raises(InvalidSignature):
        compat._verify_signature(leaf, leaf.public_key())
    with pytest.raises(ValueError):
        compat.verify_issued_by(leaf, leaf)


def test_names_read_the_same_with_the_old_and_the_new_api(keys, old):
    cert = x509.load_pem_x509_certificate(read('geolab-oefen-geodrill.pem'))
    # what `openssl x509 -subject -nameopt RFC2253` prints, and cryptography >= 36 with the override
    assert compat.rfc4514(cert.subject) == ('emailAddress=geolab@geolab.be,CN=geolab.be/dov-services/oefen/Geodrill,'
                                            'OU=IT,O=Geolab nv,L=Nazareth,ST=Oost-Vlaanderen,C=BE')


def test_empty_pkcs7_reads_with_the_old_api(keys, old):
    empty = b'-----BEGIN PKCS7-----\nMAsGCSqGSIb3DQEHAqA=\n-----END PKCS7-----\n'
    assert compat.load_pkcs7_certificates(empty, pem=True) == []
    assert compat.load_pkcs7_certificates(b'\x30\x0b\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x00',
                                          pem=False) == []


def test_validity_is_aware_utc():
    cert = x509.load_pem_x509_certificate(read('geolab-oefen-geodrill.pem'))
    assert compat.not_valid_after(cert).tzinfo is not None
    assert compat.not_valid_before(cert) < compat.not_valid_after(cert)
    assert validity.utcnow().tzinfo is not None


def test_the_modern_pkcs12_profile_is_refused_below_38_naming_both_versions(old):
    with pytest.raises(DovError) as caught:
        compat.check_pkcs12_profile('modern')
    message = str(caught.value)
    assert 'needs cryptography 38.0.0 or newer on the host, which has 3.4.8' in message
    assert "Set pkcs12_profile to 'legacy'" in message
    assert compat.check_pkcs12_profile('legacy') == 'legacy'


def test_a_too_old_library_fails_early_naming_the_found_and_the_minimum_version(monkeypatch):
    monkeypatch.setattr(compat, 'CRYPTOGRAPHY', (3, 3, 2))
    monkeypatch.setattr(compat, 'CRYPTOGRAPHY_VERSION', '3.3.2')
    with pytest.raises(DovError, match=r"cryptography on this host is version 3\.3\.2; vlaanderen\.dov needs 3\.4\.8 "
                                       r"or newer\. Upgrade it"):
        compat.check_cryptography()
    monkeypatch.setattr(compat, 'pyopenssl_version', lambda: '20.0.1')
    with pytest.raises(DovError, match=r"pyOpenSSL on this host is version 20\.0\.1; vlaanderen\.dov needs 21\.0\.0"):
        compat.check_pyopenssl()
    monkeypatch.setattr(compat, 'pyopenssl_version', lambda: None)
    with pytest.raises(DovError, match=r"pyOpenSSL is missing on this host \(21\.0\.0 or newer"):
        compat.check_pyopenssl()


def test_versions_are_read_as_numbers():
    assert compat.version_tuple('3.4.8') == (3, 4, 8)
    assert compat.version_tuple('41.0.7') == (41, 0, 7)
    assert compat.version_tuple('42.0.0rc1') == (42, 0, 0)
    assert compat.version_tuple('38.0') == (38, 0, 0)


def test_keys_compare_by_their_public_bytes(keys):
    assert compat.same_public_key(keys['rsa'].public_key(), keys['rsa'].public_key())
    assert not compat.same_public_key(keys['rsa'].public_key(), keys['other'].public_key())
    # a private key stands for its public key (the key holder's key.pem against a received key)
    assert compat.same_public_key(keys['rsa'], keys['rsa'].public_key())
    assert not compat.same_public_key(keys['rsa'], keys['other'])


@pytest.fixture
def module():
    """A real AnsibleModule with no options, as a module run builds it (ansible-core's test helper)."""
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args
    with patch_module_args({}):
        yield AnsibleModule(argument_spec={})


def test_a_module_stops_before_it_starts_when_a_library_is_too_old_or_missing(module, monkeypatch, capsys):
    import json
    monkeypatch.setattr(compat, 'pyopenssl_version', lambda: '20.0.1')
    with pytest.raises(SystemExit):
        compat.require(module, pyopenssl=True)
    answer = json.loads(capsys.readouterr().out)
    assert answer['failed'] is True
    assert answer['msg'].startswith('The Python library pyOpenSSL on this host is version 20.0.1; vlaanderen.dov needs 21.0.0')

    monkeypatch.setattr(compat, 'HAS_CRYPTOGRAPHY', False)
    with pytest.raises(SystemExit):
        compat.require(module)
    answer = json.loads(capsys.readouterr().out)
    assert "Failed to import the required Python library (cryptography)" in answer['msg']


def test_a_module_with_the_libraries_it_needs_goes_on(module, capsys):
    compat.require(module, pyopenssl=True)
    assert capsys.readouterr().out == ''


def test_the_auto_pkcs12_profile_is_legacy_below_38_with_the_reason(old):
    assert compat.auto_pkcs12_profile()[0] == 'legacy'
    note = compat.auto_pkcs12_profile()[1]
    assert "bundle.p12 uses the legacy PKCS#12 profile (3DES with a SHA-1 MAC): this host's cryptography 3.4.8" in note
    assert 'needs 38.0.0 or newer' in note


def test_the_auto_pkcs12_profile_writes_what_this_library_can(keys):
    """Run by make unit-host-libs under cryptography 3.4.8 (legacy) and Debian's own (modern)."""
    from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores
    key = keys['rsa']
    cert = _certificate(key, key, _name('leaf'))
    profile, note = keystores.resolve_profile('auto')
    assert profile == ('modern' if compat.CRYPTOGRAPHY >= compat.PKCS12_BUILDER else 'legacy')
    assert (note is None) == (profile == 'modern')
    data = keystores.build_pkcs12(key, cert, [], 'p12-auto-test', 'dov-client', 'auto')
    assert keystores.pkcs12_mac_algorithm(data) == {'modern': 'sha256', 'legacy': 'sha1'}[profile]
    assert keystores.pkcs12_matches(data, 'p12-auto-test', key, cert, [], 'dov-client', 'auto')
    assert keystores.resolve_profile('legacy') == ('legacy', None)
