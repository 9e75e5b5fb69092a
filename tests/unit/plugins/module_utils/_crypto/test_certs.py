# -*- coding: utf-8 -*-
"""certs: reading issued certificates in every encoding, and the six checks."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import importlib.util
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.pki import public_key_fingerprint
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, '..', '..', '..', '..')
FIXTURES = os.path.join(TESTS, 'fixtures', 'vo-pki')
GEOLAB = os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem')
OMGEVING = os.path.join(FIXTURES, 'omgeving-ontwikkel-dov-client1.pem')
UTC = datetime.timezone.utc

_spec = importlib.util.spec_from_file_location('dov_pki_factory', os.path.join(TESTS, 'integration', 'pki_factory.py'))
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)


@pytest.fixture(scope='module')
def pki():
    return factory.shared()


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


def refused(data, *expected):
    with pytest.raises(DovError) as caught:
        certload.load_certificates(data, 'src /in/geodrill.cer')
    message = str(caught.value)
    assert message.startswith('src /in/geodrill.cer ')
    for part in expected:
        assert part in message
    return message


# ---------------------------------------------------------------- 1. reading

def test_real_vo_pki_certificate_is_read_from_pem_and_described():
    cert, = certload.load_certificates(read(GEOLAB))
    described = certs.describe_certificate(cert, now=datetime.datetime(2025, 1, 9, 11, 15, 5, tzinfo=UTC))
    assert described == {
        'subject': 'emailAddress=geolab@geolab.be,CN=geolab.be/dov-services/oefen/Geodrill,OU=IT,O=Geolab nv,'
                   'L=Nazareth,ST=Oost-Vlaanderen,C=BE',
        'issuer': 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE',
        'common_name': 'geolab.be/dov-services/oefen/Geodrill',
        'serial': '24F6CA90000100002448',
        'not_before': '2020-12-06T11:15:05Z',
        'not_after': '2026-01-09T11:15:05Z',
        'days_left': 365,
        'fingerprint_sha256': described['fingerprint_sha256'],
    }
    assert len(described['fingerprint_sha256'].split(':')) == 32
    assert certs.describe_certificate(None) == {}


def test_real_vo_pki_certificate_reads_the_same_as_der_base64_and_pkcs7():
    cert, = certload.load_certificates(read(OMGEVING))
    der = cert.public_bytes(serialization.Encoding.DER)
    for data in (der, base64.b64encode(der), base64.encodebytes(der), factory.p7b([cert]),
                 factory.p7b([cert], serialization.Encoding.PEM), base64.b64encode(factory.p7b([cert])),
                 read(OMGEVING).replace(b'\n', b'\r\n'), read(OMGEVING).decode('ascii')):
        assert certload.load_certificates(data) == [cert]


def test_pem_bundle_and_pkcs7_keep_every_certificate(pki):
    bundle = factory.pem(pki.leaf, pki.intermediate.cert, pki.root.cert)
    assert certload.load_certificates(bundle) == [pki.leaf, pki.intermediate.cert, pki.root.cert]
    assert set(certload.load_certificates(factory.p7b([pki.root.cert, pki.leaf]))) == set([pki.root.cert, pki.leaf])


def test_a_pem_file_with_the_key_and_the_certificate_gives_only_the_certificate(pki):
    assert certload.load_certificates(factory.key_pem(pki.key) + factory.pem(pki.leaf)) == [pki.leaf]


def test_empty_input_is_refused_as_empty():
    for data in (b'', b'  \n', ''):
        refused(data, 'is empty', 'VO-DCBaaS')


def test_a_csr_is_refused_with_the_upload_hint(pki):
    csr = factory.csr_pem(pki.key)
    message = refused(csr, 'holds a CSR (a certificate request), not the certificate. Upload it in VO-DCBaaS and use what comes back')
    der = x509.load_pem_x509_csr(csr).public_bytes(serialization.Encoding.DER)
    assert refused(der) == message
    assert refused(base64.b64encode(der)).startswith('src /in/geodrill.cer (base64) holds a CSR')


def test_a_private_key_is_refused_as_a_key(pki):
    refused(factory.key_pem(pki.key), 'holds a private key, not a certificate', 'privatekey_path')
    refused(pki.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()), 'holds a private key')
    encrypted = pki.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b'secret'))
    refused(encrypted, 'holds a private key')


def test_truncated_input_is_refused_as_truncated(pki):
    pem = factory.pem(pki.leaf)
    refused(pem[:300], 'is truncated', "'-----BEGIN CERTIFICATE-----' block has no END line")
    refused(factory.pem(pki.leaf, pki.intermediate.cert)[:-40], 'is truncated')
    der = factory.der(pki.leaf)
    refused(der[:len(der) // 2], 'is truncated', 'DER structure that announces more')
    refused(base64.b64encode(der[:len(der) // 2]), 'is truncated')
    refused(factory.p7b([pki.leaf])[:200], 'is truncated')


def test_a_damaged_pem_block_is_refused(pki):
    lines = factory.pem(pki.leaf).split(b'\n')
    damaged = b'\n'.join(lines[:3] + lines[6:])
    refused(damaged, 'CERTIFICATE block that cannot be read', 'damaged or cut off')


def test_garbage_is_refused_as_not_a_certificate():
    for data in (b'this is not a certificate\n', os.urandom(64).replace(b'\x30', b'\x31').replace(b'-', b'+'),
                 b'\x30\x03\x02\x01\x05', b'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=',
                 b'<html>404 Not Found</html>'):
        refused(data, 'is not a certificate', 'neither PEM, DER, PKCS#7 nor base64')


def test_other_pem_blocks_and_pkcs12_are_named(pki):
    public = pki.key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    refused(public, 'holds a PEM block of type PUBLIC KEY, not a certificate')
    from cryptography.hazmat.primitives.serialization import pkcs12
    p12 = pkcs12.serialize_key_and_certificates(b'x', pki.key, pki.leaf, None, serialization.BestAvailableEncryption(b'pw'))
    refused(p12, 'is a PKCS#12 keystore')
    empty_p7 = b'-----BEGIN PKCS7-----\nMAsGCSqGSIb3DQEHAqA=\n-----END PKCS7-----\n'
    refused(empty_p7)


def test_ca_bundle_problems_name_ca_bundle(pki):
    assert certload.load_ca_bundle(factory.pem(pki.root.cert), '/etc/ca.pem') == [pki.root.cert]
    with pytest.raises(DovError, match='The ca_bundle /etc/ca.pem does not exist'):
        certload.load_ca_bundle(None, '/etc/ca.pem')
    with pytest.raises(DovError) as caught:
        certload.load_ca_bundle(b'', '/etc/ca.pem')
    assert str(caught.value) == ('The ca_bundle /etc/ca.pem is empty. Point ca_bundle at a PEM file with the VO-PKI '
                                 'issuing CA and/or root certificates.')


# ---------------------------------------------------------------- bounded, linear reading

class _Scanned(bytes):
    """Input that counts the bytes the PEM reader looks at (its BEGIN pattern and its END search)."""
    scanned = 0

    def find(self, sub, start=0, end=None):
        found = bytes.find(self, sub, start, len(self) if end is None else end)
        _Scanned.scanned += (len(self) if found < 0 else found + len(sub)) - start
        return found


class _CountingPattern(object):
    def __init__(self, pattern):
        self.pattern = pattern

    def search(self, data, position=0):
        match = self.pattern.search(data, position)
        _Scanned.scanned += (match.end() if match else len(data)) - position
        return match


def _work(monkeypatch, data):
    """The bytes the reader scanned for ``data``, and its refusal."""
    monkeypatch.setattr(certload, '_PEM_BEGIN', _CountingPattern(certload._PEM_BEGIN))
    _Scanned.scanned = 0
    with pytest.raises(DovError) as caught:
        certload.load_certificates(_Scanned(data), 'cert.pem')
    return _Scanned.scanned, str(caught.value)


@pytest.mark.parametrize('line', [b'-----BEGIN CERTIFICATE-----\n', b'-----BEGIN X509 CRL-----\nMII=\n-----END X509 CRL-----\n'])
def test_pem_reading_is_linear_on_600_kb_of_begin_lines(monkeypatch, line):
    # 616 KB of BEGIN lines without END stalled prepare for over 200 s: the pattern searched to the
    # end of the input for every BEGIN. Now each byte is looked at a bounded number of times.
    large = line * (616 * 1024 // len(line))
    scanned, message = _work(monkeypatch, large)
    assert scanned <= 2 * len(large), (scanned, len(large))
    small_scanned, small_message = _work(monkeypatch, line * 100)
    assert scanned / len(large) <= 2 * small_scanned / (100 * len(line)) + 1
    if b'END' in line:
        assert message == small_message == ('cert.pem holds a PEM block of type X509 CRL, not a certificate. %s'
                                            % certload.FIX_SOURCE)
    else:
        assert message == ("cert.pem is truncated: a '-----BEGIN CERTIFICATE-----' block has no END line. The file was "
                           "cut off; download the certificate again from VO-DCBaaS, or copy the whole block.")


def test_more_than_a_mebibyte_is_refused_before_it_is_read(monkeypatch, pki):
    data = factory.pem(pki.leaf) + b'\n' * (certload.MAX_BYTES)
    scanned, message = _work(monkeypatch, data)
    assert scanned == 0
    assert message == ('cert.pem is %d bytes, more than the 1048576 bytes (1 MiB) a certificate file may have here. '
                       'Give the certificate file that VO-DCBaaS issued: with its chain it is a few KB.' % len(data))


def _many(count):
    """``count`` small certificates (Ed25519, one key), each for its own name, from one issuer."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate()
    issuer = factory.name('Many Issuing CA')
    start = datetime.datetime(2026, 1, 1)
    return [x509.CertificateBuilder().subject_name(factory.name('leaf %d' % index)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(index + 1).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=9)).sign(key, None) for index in range(count)]


@pytest.fixture(scope='module')
def five_thousand():
    return _many(5000)


def test_a_pkcs7_with_5000_certificates_is_refused_and_101_are_too_many(five_thousand):
    with pytest.raises(DovError) as caught:
        certload.load_certificates(factory.p7b(five_thousand), 'inbox/geodrill.p7b')
    assert str(caught.value).startswith('inbox/geodrill.p7b is ')
    assert 'more than the 1048576 bytes (1 MiB)' in str(caught.value)
    for data in (factory.p7b(five_thousand[:101]), factory.pem(*five_thousand[:101])):
        with pytest.raises(DovError) as caught:
            certload.load_certificates(data, 'inbox/geodrill.p7b')
        assert str(caught.value) == ('inbox/geodrill.p7b holds more than 100 certificates. Give the certificate that '
                                     'VO-DCBaaS issued, with its chain (two or three certificates).')
    assert len(certload.load_certificates(factory.p7b(five_thousand[:100]))) == 100
    # a CA bundle may be a system store (some 150 certificates)
    assert len(certload.load_ca_bundle(factory.pem(*five_thousand[:300]), '/etc/ssl/certs/ca-certificates.crt')) == 300


def test_picking_the_leaf_of_5000_certificates_is_linear(monkeypatch, five_thousand):
    # Every certificate was compared with every other one: 25 million comparisons, over 150 s.
    calls = []
    issued_by = certs._issued_by
    monkeypatch.setattr(certs, '_issued_by', lambda cert, issuer: calls.append(1) or issued_by(cert, issuer))
    assert certs.pick_leaf(five_thousand)[0] is five_thousand[0]
    assert len(calls) <= len(five_thousand)


# ---------------------------------------------------------------- leaf

def test_the_leaf_is_found_by_key_wherever_it_is(pki):
    leaf, others = certs.pick_leaf([pki.root.cert, pki.intermediate.cert, pki.leaf], pki.key)
    assert leaf == pki.leaf and others == [pki.root.cert, pki.intermediate.cert]


def test_without_key_the_leaf_is_the_non_ca_certificate(pki):
    leaf, _others = certs.pick_leaf([pki.root.cert, pki.intermediate.cert, pki.leaf])
    assert leaf == pki.leaf
    leaf, _others = certs.pick_leaf([pki.root.cert, pki.intermediate.cert])
    assert leaf == pki.root.cert  # no candidate: the first one
    with pytest.raises(DovError, match='No certificate'):
        certs.pick_leaf([])


def test_with_a_key_that_matches_none_the_first_non_ca_is_kept_for_the_message(pki):
    leaf, _others = certs.pick_leaf([pki.intermediate.cert, pki.leaf], pki.other_key)
    assert leaf == pki.leaf


# ---------------------------------------------------------------- 2. key

def test_a_certificate_for_another_key_names_both_fingerprints(pki):
    with pytest.raises(DovError) as caught:
        certs.check_key_match(pki.wrong['another key'], pki.key, '/etc/dov/key.pem')
    message = str(caught.value)
    assert 'issued for another key' in message and 'Was the CSR from this host?' in message
    assert public_key_fingerprint(pki.other_key) in message
    assert public_key_fingerprint(pki.key) in message and '/etc/dov/key.pem' in message
    certs.check_key_match(pki.leaf, pki.key)


# ---------------------------------------------------------------- 3. CN

def test_the_cn_must_be_exactly_the_assigned_one(pki):
    certs.check_common_name(pki.leaf, factory.CN)
    with pytest.raises(DovError) as caught:
        certs.check_common_name(pki.wrong['another CN'], factory.CN)
    assert "has the CN 'lab.example/dov-services/oefen/Other'" in str(caught.value)
    assert repr(factory.CN) in str(caught.value) and 'expected_common_name' in str(caught.value)


def test_the_real_cn_with_a_trailing_slash_must_match_with_the_slash():
    cert, = certload.load_certificates(read(OMGEVING))
    certs.check_common_name(cert, 'www.omgeving.be/dov-services/ontwikkel/dov-client1/')
    with pytest.raises(DovError, match='was expected'):
        certs.check_common_name(cert, 'www.omgeving.be/dov-services/ontwikkel/dov-client1')


def test_a_certificate_without_cn_is_named_so(pki):
    no_cn = (x509.CertificateBuilder().subject_name(x509.Name([]))
             .issuer_name(pki.intermediate.cert.subject).public_key(pki.key.public_key())
             .serial_number(1).not_valid_before(pki.now).not_valid_after(pki.now + datetime.timedelta(days=1))
             .sign(pki.intermediate.key, factory.hashes.SHA256()))
    with pytest.raises(DovError, match='has no CN'):
        certs.check_common_name(no_cn, factory.CN)
    assert certs.label(no_cn) == "''"


# ---------------------------------------------------------------- 4. usage

def test_real_vo_pki_certificates_allow_client_authentication():
    for path in (GEOLAB, OMGEVING):
        certs.check_client_auth(certload.load_certificates(read(path))[0])


def test_a_server_only_certificate_is_refused(pki):
    with pytest.raises(DovError) as caught:
        certs.check_client_auth(pki.wrong['server-only usage'])
    assert 'does not allow client authentication' in str(caught.value)
    assert 'serverAuth' in str(caught.value) and "'SSL Client'" in str(caught.value)


def test_no_eku_is_fine_but_a_key_usage_without_digital_signature_is_not(pki):
    certs.check_client_auth(factory.make_client(pki.intermediate, pki.key, eku=None))
    with pytest.raises(DovError, match='digitalSignature'):
        certs.check_client_auth(factory.make_client(pki.intermediate, pki.key, digital_signature=False))


def test_a_ca_certificate_is_not_a_client_certificate(pki):
    with pytest.raises(DovError, match='is a CA certificate, not a client certificate'):
        certs.check_client_auth(pki.intermediate.cert)


# ---------------------------------------------------------------- 5. validity

def test_real_vo_pki_certificates_are_expired_and_the_dates_are_named():
    cert, = certload.load_certificates(read(GEOLAB))
    with pytest.raises(DovError) as caught:
        certs.check_validity(cert, now=datetime.datetime(2026, 11, 28, tzinfo=UTC))
    assert str(caught.value) == (
        "The certificate 'geolab.be/dov-services/oefen/Geodrill' expired on 2026-01-09T11:15:05Z (it was valid "
        "from 2020-12-06T11:15:05Z). Make a new CSR and request a new certificate in VO-DCBaaS.")
    assert certs.check_validity(cert, now=datetime.datetime(2025, 12, 30, 11, 15, 5, tzinfo=UTC)) == 10


def test_not_yet_valid_names_the_dates_and_the_clock(pki):
    with pytest.raises(DovError) as caught:
        certs.check_validity(pki.wrong['not yet valid'], now=pki.now)
    message = str(caught.value)
    assert 'is not valid yet' in message and validity.iso(compat.not_valid_before(pki.wrong['not yet valid'])) in message
    assert "clock" in message


def test_min_days_left_is_enforced_at_its_boundary(pki):
    cert = pki.wrong['too few days left']
    assert certs.check_validity(cert, pki.now, 9) == 9
    with pytest.raises(DovError) as caught:
        certs.check_validity(cert, pki.now, 10)
    assert 'has 9 days left' in str(caught.value) and 'min_days_left=10' in str(caught.value)


def test_days_left_is_whole_days_and_negative_after_expiry(pki):
    assert certs.days_left(pki.leaf, pki.now) == 1824
    assert certs.days_left(pki.wrong['expired'], pki.now.replace(microsecond=0)) == -30
    assert certs.days_left(pki.leaf) in (1823, 1824)


# ---------------------------------------------------------------- 6. chain

def test_chain_to_intermediate_and_root_gives_the_intermediate_only(pki):
    ca = [pki.intermediate.cert, pki.root.cert]
    assert certs.build_chain(pki.leaf, [], ca, pki.now) == [pki.intermediate.cert]
    assert certs.build_chain(pki.leaf, [], [pki.intermediate.cert], pki.now) == [pki.intermediate.cert]
    assert certs.build_chain(pki.leaf, [pki.intermediate.cert], [pki.root.cert], pki.now) == [pki.intermediate.cert]


def test_an_intermediate_that_came_with_the_certificate_is_not_trusted_by_itself(pki):
    with pytest.raises(DovError, match='does not chain to ca_bundle'):
        certs.build_chain(pki.leaf, [pki.intermediate.cert], [pki.stranger_root.cert], pki.now)


def test_without_ca_bundle_the_chain_is_what_came_along(pki):
    assert certs.build_chain(pki.leaf, [pki.intermediate.cert, pki.root.cert], None, pki.now) == [pki.intermediate.cert]
    assert certs.build_chain(pki.leaf, [], None, pki.now) == []


def test_an_unknown_ca_is_refused_naming_the_issuer(pki):
    with pytest.raises(DovError) as caught:
        certs.build_chain(pki.wrong['unknown CA'], [], [pki.intermediate.cert, pki.root.cert], pki.now)
    assert "its issuer 'CN=Stranger Issuing CA" in str(caught.value) and 'unknown CA' in str(caught.value)


def test_real_vo_pki_certificate_does_not_chain_to_a_test_ca(pki):
    cert, = certload.load_certificates(read(GEOLAB))
    with pytest.raises(DovError, match="its issuer 'CN=Vlaamse overheid Issuing CA 2"):
        certs.build_chain(cert, [], [pki.root.cert], pki.now)


def test_a_ca_with_the_same_name_but_another_key_fails_on_the_signature(pki):
    impostor = factory.make_intermediate(pki.stranger_root, 'Test Issuing CA 2')
    impostor.cert = (x509.CertificateBuilder().subject_name(pki.intermediate.cert.subject)
                     .issuer_name(impostor.cert.issuer).public_key(impostor.key.public_key()).serial_number(5)
                     .not_valid_before(pki.now - datetime.timedelta(days=1))
                     .not_valid_after(pki.now + datetime.timedelta(days=9))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(pki.stranger_root.key, factory.hashes.SHA256()))
    with pytest.raises(DovError, match='signature of .* does not verify with the key of its issuer'):
        certs.build_chain(pki.leaf, [], [impostor.cert], pki.now)


def test_every_link_must_be_valid_now(pki):
    old = factory.make_intermediate(pki.root, 'Old Issuing CA', days=-1, start_days=-100)
    leaf = factory.make_client(old, pki.key, start_days=-50, days=100)
    with pytest.raises(DovError, match="The CA certificate 'Old Issuing CA' in the chain expired on"):
        certs.build_chain(leaf, [], [old.cert, pki.root.cert], pki.now)
    future = factory.make_intermediate(pki.root, 'Future Issuing CA', start_days=5)
    leaf = factory.make_client(future, pki.key)
    with pytest.raises(DovError, match="'Future Issuing CA' in the chain is not valid yet"):
        certs.build_chain(leaf, [], [future.cert, pki.root.cert], pki.now)


def test_an_issuer_that_is_no_ca_is_refused(pki):
    not_a_ca = factory.Authority(factory.make_client(pki.intermediate, pki.other_key, common_name='Fake CA'),
                                 pki.other_key)
    leaf = factory.make_client(not_a_ca, pki.key)
    with pytest.raises(DovError, match='is not a CA certificate'):
        certs.build_chain(leaf, [], [not_a_ca.cert, pki.intermediate.cert, pki.root.cert], pki.now)


# ---------------------------------------------------------------- all six, in order

def test_check_certificate_returns_leaf_chain_and_days(pki):
    found = certload.load_certificates(factory.p7b([pki.intermediate.cert, pki.leaf]))
    checked = certs.check_certificate(found, pki.key, factory.CN, [pki.root.cert], 30, pki.now)
    assert checked.leaf == pki.leaf and checked.chain == [pki.intermediate.cert] and checked.days_left == 1824
    assert checked.describe()['common_name'] == factory.CN


@pytest.mark.parametrize('kind, expected', [
    ('another key', 'issued for another key'),
    ('another CN', 'was expected'),
    ('server-only usage', 'does not allow client authentication'),
    ('expired', 'expired on'),
    ('not yet valid', 'is not valid yet'),
    ('too few days left', 'fewer than min_days_left=30'),
    ('unknown CA', 'does not chain to ca_bundle'),
    ('unknown critical extension', 'has a critical extension that TLS servers do not know: %s' % factory.UNKNOWN_CRITICAL_OID),
])
def test_each_wrong_certificate_is_refused_for_its_own_reason(pki, kind, expected):
    with pytest.raises(DovError) as caught:
        certs.check_certificate([pki.wrong[kind]], pki.key, factory.CN, [pki.intermediate.cert, pki.root.cert],
                                30, pki.now)
    assert expected in str(caught.value)


def test_an_unknown_critical_extension_is_refused_naming_it_and_known_or_non_critical_ones_pass(pki):
    with pytest.raises(DovError) as caught:
        certs.check_client_auth(pki.wrong['unknown critical extension'])
    message = str(caught.value)
    assert "The certificate '%s' has a critical extension" % factory.CN in message
    assert factory.UNKNOWN_CRITICAL_OID in message and 'nginx refuses it' in message
    assert message.count('. ') == 1 and 'Ask the issuer for a certificate without it' in message    # two sentences
    # the same OID, not critical, is ignored like every server ignores it; critical key usage and basic
    # constraints (every VO-PKI certificate has them) are fine
    relaxed = factory.make_client(pki.intermediate, pki.key, now=pki.now,
                                  extensions=[(factory.unknown_critical_extension()[0], False)])
    certs.check_client_auth(relaxed)
    assert certs.unknown_critical_extensions(pki.leaf) == []
    for path in (GEOLAB, OMGEVING):
        assert certs.unknown_critical_extensions(certload.load_certificates(read(path))[0]) == []


def test_a_ca_certificate_with_an_unknown_critical_extension_in_the_chain_is_refused(pki):
    now = pki.now
    odd = factory.make_intermediate(pki.root, 'Odd Issuing CA', now=now)
    odd_cert = (x509.CertificateBuilder().subject_name(odd.cert.subject).issuer_name(pki.root.cert.subject)
                .public_key(odd.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1000))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(factory.unknown_critical_extension()[0], critical=True)
                .sign(pki.root.key, factory.hashes.SHA256()))
    leaf = factory.make_client(factory.Authority(odd_cert, odd.key), pki.key, now=now)
    with pytest.raises(DovError) as caught:
        certs.check_certificate([leaf, odd_cert], pki.key, factory.CN, [pki.root.cert], 0, now)
    assert "The CA certificate 'Odd Issuing CA' has a critical extension" in str(caught.value)
    assert factory.UNKNOWN_CRITICAL_OID in str(caught.value)


def test_the_checks_run_in_order_key_before_cn(pki):
    wrong_everything = factory.make_client(pki.stranger_intermediate, pki.other_key, common_name='x/y',
                                           eku=(ExtendedKeyUsageOID.SERVER_AUTH,), start_days=-400, days=-1)
    with pytest.raises(DovError, match='issued for another key'):
        certs.check_certificate([wrong_everything], pki.key, factory.CN, [pki.root.cert], 0, pki.now)
