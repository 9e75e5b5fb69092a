# -*- coding: utf-8 -*-
"""certload: reading certificate bytes in every encoding (PEM, DER, PKCS#7, base64 text), telling
a CSR, a key, a keystore, an empty, a truncated and a garbage input apart, each with its message;
reading bounded (1 MiB, 100 certificates, 1000 in a CA bundle) and linear; writing PEM. Real
certificates (the VO-PKI fixtures and tests/integration/pki_factory.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import importlib.util
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, '..', '..', '..', '..')
FIXTURES = os.path.join(TESTS, 'fixtures', 'vo-pki')
GEOLAB = os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem')
OMGEVING = os.path.join(FIXTURES, 'omgeving-ontwikkel-dov-client1.pem')

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


# ---------------------------------------------------------------- reading every encoding

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


def test_exactly_one_mebibyte_is_read_and_one_byte_more_is_refused(pki):
    cert = factory.pem(pki.leaf)
    exact = cert + b'\n' * (certload.MAX_BYTES - len(cert))
    assert len(exact) == 1024 * 1024
    assert certload.load_certificates(exact) == [pki.leaf]
    with pytest.raises(DovError) as caught:
        certload.load_certificates(exact + b'\n', 'cert.pem')
    assert str(caught.value) == ('cert.pem is 1048577 bytes, more than the 1048576 bytes (1 MiB) a certificate file may '
                                 'have here. Give the certificate file that VO-DCBaaS issued: with its chain it is a few KB.')


def test_a_ca_bundle_takes_1000_certificates_and_refuses_1001_naming_ca_bundle(five_thousand):
    assert certload.load_ca_bundle(factory.pem(*five_thousand[:1000]), '/etc/ssl/certs/ca.pem') == five_thousand[:1000]
    with pytest.raises(DovError) as caught:
        certload.load_ca_bundle(factory.pem(*five_thousand[:1001]), '/etc/ssl/certs/ca.pem')
    assert str(caught.value) == ('The ca_bundle /etc/ssl/certs/ca.pem holds more than 1000 certificates. Point ca_bundle '
                                 'at a PEM file with the VO-PKI issuing CA and/or root certificates.')


def test_a_ca_bundle_that_is_not_a_certificate_says_so_and_what_to_give():
    with pytest.raises(DovError) as caught:
        certload.load_ca_bundle(b'<html>404 Not Found</html>', '/etc/dov/ca.pem')
    assert str(caught.value) == ('The ca_bundle /etc/dov/ca.pem is not a certificate: it is neither PEM, DER, PKCS#7 '
                                 'nor base64 of them. Point ca_bundle at a PEM file with the VO-PKI issuing CA and/or '
                                 'root certificates.')


def test_a_der_pkcs7_with_101_certificates_is_refused_after_reading_like_pem(five_thousand):
    for data in (factory.p7b(five_thousand[:101]), base64.b64encode(factory.p7b(five_thousand[:101]))):
        with pytest.raises(DovError) as caught:
            certload.load_certificates(data, 'inbox/geodrill.p7b')
        assert str(caught.value) == ('inbox/geodrill.p7b holds more than 100 certificates. Give the certificate that '
                                     'VO-DCBaaS issued, with its chain (two or three certificates).')


def test_the_limit_of_certificates_is_the_callers(five_thousand):
    assert len(certload.load_certificates(factory.pem(*five_thousand[:150]), max_certificates=150)) == 150
    with pytest.raises(DovError, match='holds more than 2 certificates'):
        certload.load_certificates(factory.pem(*five_thousand[:3]), max_certificates=2)


def test_dump_pem_writes_what_load_reads_back_in_order(pki):
    chain = [pki.leaf, pki.intermediate.cert, pki.root.cert]
    text = certload.dump_pem(chain)
    assert text == factory.pem(*chain)
    assert text.count(b'-----BEGIN CERTIFICATE-----') == 3
    assert certload.load_certificates(text) == chain
    assert certload.dump_pem([]) == b''


def test_looks_like_pkcs12_only_for_a_pkcs12_keystore(pki):
    from cryptography.hazmat.primitives.serialization import pkcs12
    p12 = pkcs12.serialize_key_and_certificates(b'x', pki.key, pki.leaf, None, serialization.BestAvailableEncryption(b'pw'))
    assert certload.looks_like_pkcs12(p12) is True
    for other in (factory.der(pki.leaf), factory.p7b([pki.leaf]), b'', b'\x30', b'not der'):
        assert certload.looks_like_pkcs12(other) is False


def test_certs_offers_the_same_reader():
    assert certload.load_certificates is certload.load_certificates
    assert certload.load_ca_bundle is certload.load_ca_bundle
