# -*- coding: utf-8 -*-
"""A test PKI the collection has never seen: root -> issuing CA -> client certificates.

Shaped like VO-PKI (RSA 2048, KU digitalSignature + keyEncipherment, EKU clientAuth, AIA/CRL
style extensions), plus the wrong certificates the certificate module must refuse. Used by the
integration tests and the unit tests; generated once per test session.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401 (hashes used by tests)
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc
CN = 'lab.example/dov-services/oefen/Geodrill'


def fresh_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def name(common_name, organisation='Test PKI nobody trusts'):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Authority(object):
    def __init__(self, cert, key):
        self.cert = cert
        self.key = key

    @property
    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _serial():
    return x509.random_serial_number()


def make_root(common_name='Test Root CA', now=None, days=3650):
    now = now or datetime.datetime.now(UTC)
    key = fresh_key()
    subject = name(common_name)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(_serial()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Authority(cert, key)


def make_intermediate(root, common_name='Test Issuing CA 2', now=None, days=1825, start_days=-1):
    now = now or datetime.datetime.now(UTC)
    key = fresh_key()
    cert = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(root.cert.subject)
            .public_key(key.public_key()).serial_number(_serial())
            .not_valid_before(now + datetime.timedelta(days=start_days))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.key.public_key()), critical=False)
            .sign(root.key, hashes.SHA256()))
    return Authority(cert, key)


def make_client(issuer, key, common_name=CN, now=None, start_days=-1, days=1825,
                eku=(ExtendedKeyUsageOID.CLIENT_AUTH,), digital_signature=True, san_ip=None, ca=False, extensions=()):
    """A VO-PKI-shaped client certificate (``eku=None`` leaves the EKU out); ``extensions``: more
    (extension, critical) pairs."""
    now = now or datetime.datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'Geolab nv'),
                         x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.EMAIL_ADDRESS, 'it@lab.example')])
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.cert.subject)
               .public_key(key.public_key()).serial_number(_serial())
               .not_valid_before(now + datetime.timedelta(days=start_days))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature, False, True, False, False, ca, False, False, False),
                              critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
               .add_extension(x509.AuthorityInformationAccess([
                   x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                          x509.UniformResourceIdentifier('http://pki.lab.example/ica2.crt')),
                   x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP,
                                          x509.UniformResourceIdentifier('http://ocsp.lab.example/'))]), critical=False)
               .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                   [x509.UniformResourceIdentifier('http://crl.lab.example/ica2.crl')], None, None, None)]),
                   critical=False))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if san_ip:
        import ipaddress
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(san_ip))]),
                                        critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer.key, hashes.SHA256())


# An extension no TLS server knows, marked critical: nginx refuses the certificate ("unhandled
# critical extension"), so the collection must refuse it before installing.
UNKNOWN_CRITICAL_OID = '1.3.6.1.4.1.99999.20.4'


def unknown_critical_extension():
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_CRITICAL_OID), b'\x05\x00'), True


def pem(*items):
    return b''.join(item.public_bytes(serialization.Encoding.PEM) for item in items)


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def p7b(certificates, encoding=serialization.Encoding.DER):
    if hasattr(pkcs7, 'serialize_certificates'):
        return pkcs7.serialize_certificates(list(certificates), encoding)
    # cryptography < 37 (the host-side unit run with 3.4.8): the openssl CLI makes the bundle
    import subprocess
    form = 'DER' if encoding == serialization.Encoding.DER else 'PEM'
    with tempfile.NamedTemporaryFile(suffix='.pem') as handle:
        handle.write(pem(*certificates))
        handle.flush()
        return subprocess.run(['openssl', 'crl2pkcs7', '-nocrl', '-certfile', handle.name, '-outform', form],
                              stdout=subprocess.PIPE, check=True).stdout


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def csr_pem(key, common_name=CN):
    csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                                              common_name)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM)


class Pki(object):
    """Everything the certificate tests need, made once."""

    def __init__(self, now=None):
        now = now or datetime.datetime.now(UTC)
        self.now = now
        self.root = make_root(now=now)
        self.intermediate = make_intermediate(self.root, now=now)
        self.key = fresh_key()
        self.other_key = fresh_key()
        self.leaf = make_client(self.intermediate, self.key, now=now)
        # a renewal: same key, new certificate
        self.renewed = make_client(self.intermediate, self.key, now=now, start_days=0, days=1826)
        self.server_key = fresh_key()
        self.server = make_client(self.intermediate, self.server_key, common_name='127.0.0.1', now=now,
                                  eku=(ExtendedKeyUsageOID.SERVER_AUTH,), san_ip='127.0.0.1')
        self.wrong = {
            'another key': make_client(self.intermediate, self.other_key, now=now),
            'another CN': make_client(self.intermediate, self.key, common_name='lab.example/dov-services/oefen/Other',
                                      now=now),
            'expired': make_client(self.intermediate, self.key, now=now, start_days=-400, days=-30),
            'not yet valid': make_client(self.intermediate, self.key, now=now, start_days=10, days=400),
            'server-only usage': make_client(self.intermediate, self.key, now=now,
                                             eku=(ExtendedKeyUsageOID.SERVER_AUTH,)),
            'too few days left': make_client(self.intermediate, self.key, now=now, days=10),
            'unknown critical extension': make_client(self.intermediate, self.key, now=now,
                                                      extensions=[unknown_critical_extension()]),
        }
        self.stranger_root = make_root('Stranger Root CA', now=now)
        self.stranger_intermediate = make_intermediate(self.stranger_root, 'Stranger Issuing CA', now=now)
        self.wrong['unknown CA'] = make_client(self.stranger_intermediate, self.key, now=now)

    def write(self, folder):
        """Write the files the integration tests use into ``folder``; return a dict of paths."""
        paths = {}

        def put(file_name, data, mode=0o644):
            path = os.path.join(folder, file_name)
            with open(path, 'wb') as handle:
                handle.write(data)
            os.chmod(path, mode)
            paths[file_name] = path
            return path

        put('root.pem', self.root.pem)
        put('intermediate.pem', self.intermediate.pem)
        put('ca-bundle.pem', self.intermediate.pem + self.root.pem)
        put('key.pem', key_pem(self.key), 0o600)
        put('leaf.cer', der(self.leaf))
        put('leaf.p7b', p7b([self.intermediate.cert, self.leaf]))
        put('leaf.pem', pem(self.leaf))
        put('renewed.cer', der(self.renewed))
        put('server.pem', pem(self.server, self.intermediate.cert))
        put('server-key.pem', key_pem(self.server_key), 0o600)
        return paths


_SHARED = []


def shared():
    """One Pki per process (unit and integration tests share it; making RSA keys is the slow part)."""
    if not _SHARED:
        _SHARED.append(Pki())
    return _SHARED[0]
