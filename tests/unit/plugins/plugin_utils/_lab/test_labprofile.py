# -*- coding: utf-8 -*-
"""labprofile: what a lab certificate looks like. The lab root and issuing CA as make_ca makes them
(names, validity, key usage, the key identifiers that link them, signatures checked by openssl),
the end-entity key usage per key type, and the Microsoft template extensions' DER, parsed by
openssl asn1parse as a second opinion. (The issued client certificate against a real VO-PKI one:
test_labca.py.)"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labprofile

NOW = datetime.datetime(2026, 12, 1, 19, 0, tzinfo=datetime.timezone.utc)


def openssl(*args, **kwargs):
    return subprocess.run(('openssl',) + args, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope='module')
def made():
    """(root_key, root, issuing_key, issuing) of one make_ca."""
    return labprofile.make_ca(NOW)


def test_make_ca_makes_a_root_and_an_issuing_ca_named_lab_not_vo_pki(made):
    root_key, root, issuing_key, issuing = made
    assert root.subject == root.issuer == labprofile.ca_name('vlaanderen.dov LAB Root CA')
    assert issuing.issuer == root.subject and issuing.subject == labprofile.ca_name('vlaanderen.dov LAB Issuing CA')
    assert root.subject.rfc4514_string() == 'CN=vlaanderen.dov LAB Root CA,O=vlaanderen.dov LAB - not VO-PKI,C=BE'
    for cert, key, days in ((root, root_key, labprofile.ROOT_DAYS), (issuing, issuing_key, labprofile.ISSUING_DAYS)):
        assert cert.public_key().public_numbers() == key.public_key().public_numbers()
        assert key.key_size == 2048
        assert compat.not_valid_before(cert) == NOW - datetime.timedelta(minutes=5)
        assert compat.not_valid_after(cert) == NOW + datetime.timedelta(days=days)
        assert cert.signature_hash_algorithm.name == 'sha256'


def test_the_cas_constraints_usages_and_key_identifiers_link_issuing_to_root(made):
    _root_key, root, _issuing_key, issuing = made
    root_ext, issuing_ext = root.extensions, issuing.extensions
    assert root_ext.get_extension_for_class(x509.BasicConstraints).value == x509.BasicConstraints(ca=True, path_length=None)
    assert issuing_ext.get_extension_for_class(x509.BasicConstraints).value == x509.BasicConstraints(ca=True, path_length=0)
    for extensions in (root_ext, issuing_ext):
        usage = extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value == labprofile.ca_key_usage()
        assert usage.value.key_cert_sign and usage.value.crl_sign and not usage.value.key_encipherment
    root_ski = root_ext.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = issuing_ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == root_ski
    crl = issuing_ext.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for point in crl for name in point.full_name] == ['http://lab.invalid/crl/lab-root-ca.crl']
    access = issuing_ext.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [entry.access_location.value for entry in access] == ['http://lab.invalid/pki/lab-root-ca.crt']  # no OCSP


def test_openssl_verifies_the_issuing_ca_against_the_root_and_not_alone(made, tmp_path):
    _root_key, root, _issuing_key, issuing = made
    (tmp_path / 'root.pem').write_bytes(root.public_bytes(serialization.Encoding.PEM))
    (tmp_path / 'issuing.pem').write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    at = str(int(NOW.timestamp()) + 60)
    result = openssl('verify', '-attime', at, '-CAfile', str(tmp_path / 'root.pem'), str(tmp_path / 'issuing.pem'))
    assert result.returncode == 0 and result.stdout.strip().endswith(': OK'), result.stdout + result.stderr
    alone = openssl('verify', '-attime', at, '-CAfile', str(tmp_path / 'issuing.pem'), str(tmp_path / 'issuing.pem'))
    assert alone.returncode != 0


def test_two_cas_are_two_different_key_pairs():
    first, second = labprofile.make_ca(NOW), labprofile.make_ca(NOW)
    assert first[1].public_key().public_numbers() != second[1].public_key().public_numbers()
    assert first[1].serial_number != second[1].serial_number


def test_key_encipherment_only_for_an_rsa_key():
    rsa_usage = labprofile.end_entity_key_usage(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key())
    ec_usage = labprofile.end_entity_key_usage(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert (rsa_usage.digital_signature, rsa_usage.key_encipherment) == (True, True)
    assert (ec_usage.digital_signature, ec_usage.key_encipherment) == (True, False)
    assert not rsa_usage.key_cert_sign and not ec_usage.key_cert_sign


def test_the_aia_of_a_client_certificate_has_ocsp_and_the_policy_a_lab_cps():
    access = labprofile.authority_information_access('lab-issuing-ca')
    assert [(entry.access_method.dotted_string, entry.access_location.value) for entry in access] == [
        ('1.3.6.1.5.5.7.48.2', 'http://lab.invalid/pki/lab-issuing-ca.crt'), ('1.3.6.1.5.5.7.48.1', 'http://lab.invalid/ocsp/')]
    [policy] = labprofile.certificate_policies()
    assert policy.policy_identifier.dotted_string == '1.3.6.1.4.1.32473.2.4.2.2'
    assert policy.policy_qualifiers == ['http://lab.invalid/cps']


def test_the_template_value_is_der_that_openssl_parses(tmp_path):
    der = tmp_path / 'template.der'
    der.write_bytes(labprofile.template_extension_value())
    result = openssl('asn1parse', '-inform', 'DER', '-in', str(der))
    assert result.returncode == 0, result.stderr
    assert labprofile.LAB_TEMPLATE_OID in result.stdout
    assert re.findall(r'INTEGER\s+:(\w+)', result.stdout) == ['64', '04']  # version 100.4, as the real ones


def test_long_der_values_use_the_long_length_form(tmp_path):
    der = tmp_path / 'policies.der'
    value = labprofile.application_policies_value([labprofile.CLIENT_AUTH_OID] * 40)
    assert len(value) > 256
    der.write_bytes(value)
    result = openssl('asn1parse', '-inform', 'DER', '-in', str(der))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('TLS Web Client Authentication') == 40
