# -*- coding: utf-8 -*-
"""Many certificates, made once per run: the limits of certload (100, 1000 in a CA bundle, 1 MiB)
and the linear leaf search of certs (test_certload, test_certs)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID


def _name(common_name):
    """As tests/integration/pki_factory.py names its certificates."""
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'Test PKI nobody trusts'),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _many(count):
    """``count`` small certificates (Ed25519, one key), each for its own name, from one issuer."""
    key = ed25519.Ed25519PrivateKey.generate()
    issuer = _name('Many Issuing CA')
    start = datetime.datetime(2026, 1, 1)
    return [x509.CertificateBuilder().subject_name(_name('leaf %d' % index)).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(index + 1).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=9)).sign(key, None) for index in range(count)]


@pytest.fixture(scope='session')
def five_thousand():
    return _many(5000)
