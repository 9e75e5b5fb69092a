# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import os
import re
import stat
import subprocess

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca, labprofile
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

CN = 'geolab.be/dov-services/oefen/Geodrill'
FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fixtures', 'vo-pki')
REAL = os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem')
SUBJECT = {'C': 'BE', 'ST': 'Oost-Vlaanderen', 'L': 'Nazareth', 'O': 'Geolab nv', 'OU': 'IT',
           'emailAddress': 'geolab@geolab.be'}
UTC = datetime.timezone.utc


def make_csr(common_name=CN, subject=None, key=None):
    key = key or pki.generate_private_key()
    return pki.dump_csr(pki.build_csr(key, common_name, subject))


def snapshot(folder):
    """Every file under ``folder`` with its bytes and mode: what 'nothing changed' means."""
    result = {}
    for base, dirs, files in os.walk(str(folder)):
        for name in dirs + files:
            path = os.path.join(base, name)
            data = None if os.path.isdir(path) else open(path, 'rb').read()
            result[os.path.relpath(path, str(folder))] = (data, stat.S_IMODE(os.stat(path).st_mode))
    return result


def openssl(*args, **kwargs):
    return subprocess.run(('openssl',) + args, capture_output=True, text=True, check=False, **kwargs)


def text_of(path):
    result = openssl('x509', '-in', str(path), '-noout', '-text')
    assert result.returncode == 0, result.stderr
    return result.stdout


def extensions(text):
    """``[(heading, [value lines])]`` of the X509v3 extensions block of ``openssl x509 -text``."""
    block = text.split('X509v3 extensions:\n', 1)[1].split('    Signature Algorithm', 1)[0]
    result = []
    for line in block.splitlines():
        if re.match(r'^ {12}\S', line):
            result.append((line.strip().rstrip(':').strip(), []))
        elif line.strip():
            result[-1][1].append(line.strip())
    return result


def validity_days(cert):
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).days


@pytest.fixture(scope='module')
def ca(tmp_path_factory):
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('state') / 'lab-ca'))


@pytest.fixture(scope='module')
def client(ca, tmp_path_factory):
    """A lab client certificate for the real Geolab subject, written next to the CA files."""
    folder = tmp_path_factory.mktemp('client')
    pem = ca.sign_csr(make_csr(subject=SUBJECT))
    (folder / 'client.pem').write_bytes(pem)
    return folder / 'client.pem'


# ---------------------------------------------------------------- creating and loading

def test_first_call_makes_the_ca_with_0600_keys_in_a_0700_folder(ca):
    assert sorted(os.listdir(ca.folder)) == sorted(labca.FILES.values())
    assert stat.S_IMODE(os.stat(ca.folder).st_mode) == 0o700
    for name in ('root-key.pem', 'issuing-key.pem'):
        assert stat.S_IMODE(os.stat(os.path.join(ca.folder, name)).st_mode) == 0o600
    for name in ('root.pem', 'issuing.pem', 'bundle.pem'):
        assert stat.S_IMODE(os.stat(os.path.join(ca.folder, name)).st_mode) == 0o644
    # No staging folder is left behind.
    assert [name for name in os.listdir(os.path.dirname(ca.folder)) if name.startswith('.')] == []


def test_second_call_loads_the_same_ca_and_writes_nothing(ca):
    before = snapshot(ca.folder)
    again = labca.LabCA.load_or_create(ca.folder)
    assert again.root_pem() == ca.root_pem()
    assert again.issuing_pem() == ca.issuing_pem()
    assert snapshot(ca.folder) == before


def test_the_ca_names_say_lab_and_not_vo_pki(ca):
    for cert in (ca.root_cert, ca.issuing_cert):
        assert 'O=vlaanderen.dov LAB - not VO-PKI' in cert.subject.rfc4514_string()
        assert 'Vlaamse overheid' not in cert.subject.rfc4514_string()
    assert ca.root_cert.subject == ca.root_cert.issuer
    assert ca.issuing_cert.issuer == ca.root_cert.subject
    constraints = ca.issuing_cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0


def test_bundle_is_issuing_ca_then_root_and_matches_the_file(ca):
    assert ca.bundle_pem() == ca.issuing_pem() + ca.root_pem()
    assert open(ca.bundle_path, 'rb').read() == ca.bundle_pem()
    assert open(ca.root_path, 'rb').read() == ca.root_pem()
    assert ca.root_pem().startswith(b'-----BEGIN CERTIFICATE-----')


def test_repr_shows_no_key_material(ca):
    assert 'PRIVATE' not in repr(ca) and 'LAB Issuing CA' in repr(ca)


def test_an_existing_empty_folder_is_used(tmp_path):
    folder = tmp_path / 'lab-ca'
    folder.mkdir()
    made = labca.LabCA.load_or_create(str(folder))
    assert sorted(os.listdir(str(folder))) == sorted(labca.FILES.values())
    assert made.folder == str(folder)


def test_a_ca_made_at_the_same_moment_by_another_run_is_loaded(tmp_path, monkeypatch):
    folder = str(tmp_path / 'lab-ca')
    original = labprofile.make_ca
    other = {}

    def racing(now):
        # Another run finishes its lab CA while this one is still generating keys.
        monkeypatch.setattr(labprofile, 'make_ca', original)
        other['ca'] = labca.LabCA.load_or_create(folder)
        return original(now)

    monkeypatch.setattr(labprofile, 'make_ca', racing)
    mine = labca.LabCA.load_or_create(folder)
    assert mine.root_pem() == other['ca'].root_pem()
    assert sorted(os.listdir(str(tmp_path))) == ['lab-ca']


def test_a_rename_failure_that_is_not_a_race_is_raised_and_leaves_no_staging(tmp_path, monkeypatch):
    rename = os.rename

    def broken(src, dst, **kwargs):
        if kwargs:              # a file written in the staging folder (relative to its descriptor)
            return rename(src, dst, **kwargs)
        raise OSError(errno.EACCES, 'Permission denied')

    monkeypatch.setattr(labca.os, 'rename', broken)
    with pytest.raises(OSError):
        labca.LabCA.load_or_create(str(tmp_path / 'lab-ca'))
    assert os.listdir(str(tmp_path)) == []


@pytest.fixture
def copy_of(ca, tmp_path):
    """A copy of the module's CA folder that a test may damage."""
    folder = tmp_path / 'lab-ca'
    folder.mkdir(mode=0o700)
    for name in os.listdir(ca.folder):
        (folder / name).write_bytes(open(os.path.join(ca.folder, name), 'rb').read())
    return folder


def refused(folder, match):
    before = snapshot(folder.parent)
    with pytest.raises(DovError, match=match) as info:
        labca.LabCA.load_or_create(str(folder))
    assert snapshot(folder.parent) == before
    assert 'PRIVATE KEY' not in str(info.value)
    return str(info.value)


def test_an_incomplete_ca_is_refused_and_left_alone(copy_of):
    (copy_of / 'issuing-key.pem').unlink()
    message = refused(copy_of, 'is incomplete: issuing-key.pem is missing')
    assert 'Remove the folder' in message


def test_an_incomplete_ca_names_every_missing_file(copy_of):
    (copy_of / 'issuing-key.pem').unlink()
    (copy_of / 'bundle.pem').unlink()
    refused(copy_of, 'bundle.pem, issuing-key.pem are missing')


def test_a_folder_with_other_files_is_refused(tmp_path):
    folder = tmp_path / 'lab-ca'
    folder.mkdir()
    (folder / 'notes.txt').write_text('mine')
    refused(folder, 'holds files but no lab CA')


def test_a_file_where_the_folder_should_be_is_refused(tmp_path):
    (tmp_path / 'lab-ca').write_text('not a folder')
    refused(tmp_path / 'lab-ca', 'exists and is not a folder')


def test_an_unreadable_key_is_refused(copy_of):
    (copy_of / 'root-key.pem').write_bytes(b'garbage')
    refused(copy_of, 'root-key.pem is not a readable, unencrypted private key')


def test_an_unreadable_certificate_is_refused(copy_of):
    (copy_of / 'issuing.pem').write_bytes(b'')
    refused(copy_of, 'issuing.pem is not a readable certificate')


def test_keys_that_do_not_match_their_certificates_are_refused(copy_of):
    root_key = (copy_of / 'root-key.pem').read_bytes()
    (copy_of / 'root-key.pem').write_bytes((copy_of / 'issuing-key.pem').read_bytes())
    (copy_of / 'issuing-key.pem').write_bytes(root_key)
    refused(copy_of, 'do not belong together')


def test_an_issuing_ca_from_another_root_is_refused(copy_of, tmp_path):
    other = labca.LabCA.load_or_create(str(tmp_path / 'other'))
    (copy_of / 'root.pem').write_bytes(other.root_pem())
    (copy_of / 'root-key.pem').write_bytes(open(os.path.join(other.folder, 'root-key.pem'), 'rb').read())
    refused(copy_of, 'was not issued by the root next to it')


def test_an_expired_lab_ca_is_refused(copy_of, monkeypatch):
    later = validity.utcnow_seconds() + datetime.timedelta(days=labprofile.ISSUING_DAYS + 1)
    monkeypatch.setattr(labca.validity, 'utcnow_seconds', lambda: later)
    refused(copy_of, r'expired on \d{4}-\d\d-\d\d\. Remove the folder')


def test_without_cryptography_the_lab_ca_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(labca, 'HAS_CRYPTOGRAPHY', False)
    with pytest.raises(DovError, match='needs the Python library cryptography'):
        labca.LabCA.load_or_create(str(tmp_path / 'lab-ca'))
    with pytest.raises(DovError, match='needs the Python library cryptography'):
        labca.load_signable_csr(make_csr())
    assert os.listdir(str(tmp_path)) == []


# ---------------------------------------------------------------- client certificates, checked with openssl

def test_openssl_verifies_a_signed_client_certificate_through_the_issuing_ca(ca, client):
    issuing = os.path.join(ca.folder, 'issuing.pem')
    result = openssl('verify', '-CAfile', ca.root_path, '-untrusted', issuing, '-purpose', 'sslclient', str(client))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(': OK')
    # Without the issuing CA the chain cannot be built: the lab really has two levels.
    assert openssl('verify', '-CAfile', ca.root_path, str(client)).returncode != 0
    # And it is a client certificate, not a server certificate.
    assert openssl('verify', '-CAfile', ca.root_path, '-untrusted', issuing, '-purpose', 'sslserver',
                   str(client)).returncode != 0


def test_client_certificate_has_the_extension_shape_of_the_real_vo_pki_one(client):
    lab = extensions(text_of(client))
    real = extensions(text_of(REAL))
    # Same extensions, same order, same criticality.
    assert [entry[0] for entry in lab] == [entry[0] for entry in real]
    lab, real = dict(lab), dict(real)
    assert lab['X509v3 Key Usage: critical'] == real['X509v3 Key Usage: critical'] == ['Digital Signature, Key Encipherment']
    assert lab['X509v3 Extended Key Usage'] == real['X509v3 Extended Key Usage'] == ['TLS Web Client Authentication']
    assert lab['X509v3 CRL Distribution Points'] == ['Full Name:', 'URI:http://lab.invalid/crl/lab-issuing-ca.crl']
    assert lab['Authority Information Access'] == ['CA Issuers - URI:http://lab.invalid/pki/lab-issuing-ca.crt',
                                                   'OCSP - URI:http://lab.invalid/ocsp/']
    assert [line.split(':')[0] for line in lab['X509v3 Certificate Policies']] == \
        [line.split(':')[0] for line in real['X509v3 Certificate Policies']] == ['Policy', 'CPS']
    assert lab['X509v3 Certificate Policies'][1] == 'CPS: http://lab.invalid/cps'
    # Nothing points at the real PKI or claims its policy arc.
    assert 'vlaanderen.be' not in ''.join(sum(lab.values(), []))
    assert '1.3.6.1.4.1.24258' not in text_of(client)


def test_client_certificate_signature_key_and_validity_are_shaped_like_the_real_one(ca, client):
    lab = x509.load_pem_x509_certificate(client.read_bytes())
    real = x509.load_pem_x509_certificate(open(REAL, 'rb').read())
    assert validity_days(lab) == validity_days(real) == labprofile.CLIENT_DAYS
    assert lab.signature_hash_algorithm.name == real.signature_hash_algorithm.name == 'sha256'
    assert lab.public_key().key_size == real.public_key().key_size == 2048
    assert 'Signature Algorithm: sha256WithRSAEncryption' in text_of(client)


def test_client_subject_is_copied_from_the_csr_and_the_issuer_says_lab(client):
    lab = x509.load_pem_x509_certificate(client.read_bytes())
    real = x509.load_pem_x509_certificate(open(REAL, 'rb').read())
    assert lab.subject == real.subject
    assert 'Issuer: C = BE, O = vlaanderen.dov LAB - not VO-PKI, CN = vlaanderen.dov LAB Issuing CA' in text_of(client)


def test_microsoft_template_extensions_are_there_with_a_lab_template(client):
    lab = x509.load_pem_x509_certificate(client.read_bytes())
    template = lab.extensions.get_extension_for_oid(x509.ObjectIdentifier(labprofile.MS_CERTIFICATE_TEMPLATE_OID))
    policies = lab.extensions.get_extension_for_oid(x509.ObjectIdentifier(labprofile.MS_APPLICATION_POLICIES_OID))
    assert not template.critical and not policies.critical
    real = x509.load_pem_x509_certificate(open(REAL, 'rb').read())
    real_policies = real.extensions.get_extension_for_oid(x509.ObjectIdentifier(labprofile.MS_APPLICATION_POLICIES_OID))
    assert policies.value.value == real_policies.value.value  # SEQUENCE { SEQUENCE { clientAuth } }


def test_signing_the_same_csr_twice_gives_two_certificates(ca):
    csr = make_csr()
    one = x509.load_pem_x509_certificate(ca.sign_csr(csr))
    two = x509.load_pem_x509_certificate(ca.sign_csr(csr))
    assert one.serial_number != two.serial_number
    assert one.subject == two.subject


def test_not_before_and_days_make_expired_and_future_certificates(ca):
    past = datetime.datetime(2020, 1, 1, tzinfo=UTC)
    expired = x509.load_pem_x509_certificate(ca.sign_csr(make_csr(), not_before=past, days=30))
    assert expired.not_valid_before_utc == past
    assert expired.not_valid_after_utc == past + datetime.timedelta(days=30)
    future = datetime.datetime.now(UTC) + datetime.timedelta(days=10)
    later = x509.load_pem_x509_certificate(ca.sign_csr(make_csr(), not_before=future, days='2'))
    assert later.not_valid_before_utc > datetime.datetime.now(UTC)
    assert validity_days(later) == 2


def test_a_naive_not_before_is_taken_as_utc(ca):
    cert = x509.load_pem_x509_certificate(ca.sign_csr(make_csr(), not_before=datetime.datetime(2030, 5, 1, 12, 0), days=1))
    assert cert.not_valid_before_utc == datetime.datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def test_validity_never_runs_past_the_issuing_ca(ca):
    cert = x509.load_pem_x509_certificate(ca.sign_csr(make_csr(), days=100000))
    assert cert.not_valid_after_utc == ca.issuing_cert.not_valid_after_utc


@pytest.mark.parametrize('days', [0, -5, 'many', '0', object()])
def test_a_validity_of_less_than_a_day_is_refused(ca, days):
    with pytest.raises(DovError, match='valid for at least one day'):
        ca.sign_csr(make_csr(), days=days)


def test_a_der_csr_is_signed_too(ca):
    csr = x509.load_pem_x509_csr(make_csr())
    cert = x509.load_pem_x509_certificate(ca.sign_csr(csr.public_bytes(serialization.Encoding.DER)))
    assert pki.common_names(cert.subject) == [CN]


def test_a_text_csr_is_signed_too(ca):
    cert = x509.load_pem_x509_certificate(ca.sign_csr(make_csr().decode('ascii')))
    assert pki.common_names(cert.subject) == [CN]


def test_an_ec_key_gets_digital_signature_only(ca):
    cert = x509.load_pem_x509_certificate(ca.sign_csr(make_csr(key=pki.generate_private_key('ec'))))
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment


def tampered_csr():
    der = bytearray(x509.load_pem_x509_csr(make_csr()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the last byte of the signature
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)


def test_a_csr_with_a_bad_signature_is_refused(ca):
    with pytest.raises(DovError, match="signature does not verify: it was altered"):
        ca.sign_csr(tampered_csr())


@pytest.mark.parametrize('data, match', [
    (b'', 'is empty'),
    ('   \n', 'is empty'),
    (None, 'is empty'),
    (b'garbage that is no CSR', 'not a certificate signing request'),
    (b'-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n', 'not a certificate signing request'),
])
def test_what_is_not_a_csr_is_refused(ca, data, match):
    with pytest.raises(DovError, match=match):
        ca.sign_csr(data)


def test_a_certificate_given_as_csr_is_refused(ca):
    with pytest.raises(DovError, match='not a certificate signing request'):
        ca.sign_csr(open(REAL, 'rb').read())


def test_a_private_key_given_as_csr_is_refused_without_echoing_it(ca):
    key_pem = pki.dump_private_key(pki.generate_private_key())
    with pytest.raises(DovError) as info:
        ca.sign_csr(key_pem)
    assert 'not a certificate signing request' in str(info.value)
    assert 'PRIVATE KEY' not in str(info.value)


def test_a_csr_without_cn_is_refused(ca):
    key = pki.generate_private_key()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    with pytest.raises(DovError, match='has no Common Name'):
        ca.sign_csr(csr.public_bytes(serialization.Encoding.PEM))


def test_a_csr_with_an_ed25519_key_is_refused(ca):
    key = ed25519.Ed25519PrivateKey.generate()
    csr = x509.CertificateSigningRequestBuilder().subject_name(pki.subject_name(CN)).sign(key, None)
    with pytest.raises(DovError, match='Ed25519PublicKey key; the lab CA signs RSA and EC keys only'):
        ca.sign_csr(csr.public_bytes(serialization.Encoding.PEM))


# ---------------------------------------------------------------- server certificates

def test_server_certificate_verifies_for_its_host_name_and_ip(ca, tmp_path):
    key_pem, cert_pem = ca.issue_server_certificate(['dov.lab.test', '127.0.0.1', '::1'])
    (tmp_path / 'server.pem').write_bytes(cert_pem)
    issuing = os.path.join(ca.folder, 'issuing.pem')
    for check in (('-verify_hostname', 'dov.lab.test'), ('-verify_ip', '127.0.0.1'), ('-verify_ip', '::1')):
        result = openssl('verify', '-CAfile', ca.root_path, '-untrusted', issuing, '-purpose', 'sslserver',
                         *(check + (str(tmp_path / 'server.pem'),)))
        assert result.returncode == 0, result.stderr
    assert openssl('verify', '-CAfile', ca.root_path, '-untrusted', issuing, '-verify_hostname', 'other.test',
                   str(tmp_path / 'server.pem')).returncode != 0
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert key.public_key() == cert.public_key()
    assert key_pem.startswith(b'-----BEGIN PRIVATE KEY-----')
    assert pki.common_names(cert.subject) == ['dov.lab.test']
    assert 'LAB - not VO-PKI' in cert.subject.rfc4514_string()
    assert validity_days(cert) == labprofile.SERVER_DAYS
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]


def test_server_certificate_takes_one_name_as_a_string_and_days(ca):
    cert_pem = ca.issue_server_certificate('localhost', days=3)[1]
    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ['localhost']
    assert validity_days(cert) == 3


def test_a_server_name_longer_than_a_cn_is_only_a_san(ca):
    name = 'a' * 60 + '.lab.test'
    cert_pem = ca.issue_server_certificate([name])[1]
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert pki.common_names(cert.subject) == []
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [name]


@pytest.mark.parametrize('names', [None, [], '', ['  ', None]])
def test_a_server_certificate_without_names_is_refused(ca, names):
    with pytest.raises(DovError, match='needs at least one host name or IP address'):
        ca.issue_server_certificate(names)


def test_ec_public_key_type_is_accepted_by_the_csr_check():
    csr = labca.load_signable_csr(make_csr(key=ec.generate_private_key(ec.SECP256R1())))
    assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
