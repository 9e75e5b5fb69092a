# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""What a lab certificate looks like: the VO-PKI client profile, imitated (the CA is labca.py).

Shaped like the real certificates that "Vlaamse overheid Issuing CA 2" issues for DOV (see
tests/fixtures/vo-pki/README.md):

- RSA, sha256WithRSAEncryption, about five years of validity (1860 days, as the real ones);
- key usage (critical) digitalSignature + keyEncipherment, extended key usage clientAuth;
- subject and authority key identifiers, a CRL distribution point, authority information
  access (caIssuers + OCSP), one certificate policy with a CPS pointer, and the two Microsoft
  template extensions (1.3.6.1.4.1.311.21.7 and .21.10) that a parser must tolerate.

Everything that could be mistaken for the real PKI is clearly fake: the CA names say
``vlaanderen.dov LAB - not VO-PKI``, the URLs point at ``http://lab.invalid/`` (a name that
never resolves, RFC 2606) and the policy and template OIDs live under IANA's documentation
enterprise number (below), not under the Flemish government's arc.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import (
    AuthorityInformationAccessOID, NameOID, hashes, rsa, x509)


LAB_ORGANISATION = 'vlaanderen.dov LAB - not VO-PKI'
ROOT_COMMON_NAME = 'vlaanderen.dov LAB Root CA'
ISSUING_COMMON_NAME = 'vlaanderen.dov LAB Issuing CA'
LAB_URL = 'http://lab.invalid/'

# Real VO-PKI client certificates run from issue date to five years and 34 days later.
CLIENT_DAYS = 1860
SERVER_DAYS = 397
ROOT_DAYS = 20 * 365 + 5
ISSUING_DAYS = 10 * 365 + 3
CA_KEY_SIZE = 2048
# Clock skew allowance: a certificate starts this long before the moment it is made.
BACKDATE = datetime.timedelta(minutes=5)

# The lab's policy and template OIDs live under 1.3.6.1.4.1.32473, the enterprise number IANA
# keeps for examples and documentation (RFC 5612), so that nothing here claims an OID of the
# Flemish government (1.3.6.1.4.1.24258). Not a 2.25.<UUID> arc: cryptography 36 to 41 (RHEL 9,
# Debian 12, Ubuntu 24.04) cannot parse an OID arc above 64 bits and refuse the whole certificate.
LAB_ARC = '1.3.6.1.4.1.32473.2'
LAB_POLICY_OID = LAB_ARC + '.4.2.2'
LAB_TEMPLATE_OID = LAB_ARC + '.21.8.1'
MS_CERTIFICATE_TEMPLATE_OID = '1.3.6.1.4.1.311.21.7'
MS_APPLICATION_POLICIES_OID = '1.3.6.1.4.1.311.21.10'
CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2'


# ---------------------------------------------------------------- a little DER, for the Microsoft extensions

def _der_length(length):
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(body)]) + body


def _der(tag, body):
    return bytes([tag]) + _der_length(len(body)) + body


def _der_oid(dotted):
    arcs = [int(arc) for arc in dotted.split('.')]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        chunk = [arc & 0x7f]
        arc >>= 7
        while arc:
            chunk.insert(0, 0x80 | (arc & 0x7f))
            arc >>= 7
        body.extend(chunk)
    return _der(0x06, bytes(body))


def _der_int(value):
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, 'big'))


def _der_seq(*items):
    return _der(0x30, b''.join(items))


def template_extension_value():
    """CertificateTemplate ::= SEQUENCE { templateID, majorVersion 100, minorVersion 4 } (as the real ones)."""
    return _der_seq(_der_oid(LAB_TEMPLATE_OID), _der_int(100), _der_int(4))


def application_policies_value(usage_oids):
    """Microsoft application policies: SEQUENCE OF SEQUENCE { policyIdentifier }."""
    return _der_seq(*[_der_seq(_der_oid(oid)) for oid in usage_oids])


# ---------------------------------------------------------------- names and extensions

def ca_name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, LAB_ORGANISATION),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def crl_distribution_points(name):
    url = '%scrl/%s.crl' % (LAB_URL, name)
    return x509.CRLDistributionPoints([
        x509.DistributionPoint(full_name=[x509.UniformResourceIdentifier(url)], relative_name=None,
                               reasons=None, crl_issuer=None)])


def authority_information_access(name, ocsp=True):
    descriptions = [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                           x509.UniformResourceIdentifier('%spki/%s.crt' % (LAB_URL, name)))]
    if ocsp:
        descriptions.append(x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                                   x509.UniformResourceIdentifier('%socsp/' % LAB_URL)))
    return x509.AuthorityInformationAccess(descriptions)


def certificate_policies():
    return x509.CertificatePolicies([
        x509.PolicyInformation(x509.ObjectIdentifier(LAB_POLICY_OID), ['%scps' % LAB_URL])])


def end_entity_key_usage(public_key):
    # VO-PKI: digitalSignature + keyEncipherment. keyEncipherment means RSA key transport, so
    # an EC key (which VO-PKI does not issue for today) gets digitalSignature only.
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


def ca_key_usage():
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                         crl_sign=True, encipher_only=False, decipher_only=False)


def make_ca(now):
    """A new root and issuing CA (keys and certificates), in memory."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
    root_name = ca_name(ROOT_COMMON_NAME)
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(ca_key_usage(), critical=True)
            .add_extension(root_ski, critical=False)
            .sign(root_key, hashes.SHA256()))

    issuing_key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_SIZE)
    issuing = (x509.CertificateBuilder()
               .subject_name(ca_name(ISSUING_COMMON_NAME)).issuer_name(root_name)
               .public_key(issuing_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE)
               .not_valid_after(now + datetime.timedelta(days=ISSUING_DAYS))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(ca_key_usage(), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(issuing_key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
               .add_extension(crl_distribution_points('lab-root-ca'), critical=False)
               .add_extension(authority_information_access('lab-root-ca', ocsp=False), critical=False)
               .add_extension(x509.CertificatePolicies([
                   x509.PolicyInformation(x509.ObjectIdentifier('2.5.29.32.0'), None)]), critical=False)
               .sign(root_key, hashes.SHA256()))
    return root_key, root, issuing_key, issuing
