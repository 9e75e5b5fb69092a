# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The issued certificate: described, and checked hard.

``check_certificate`` runs the six checks in the order a person would fix them:

1. it parses and it is a certificate (``certload.load_certificates``);
2. its public key matches the private key (``check_key_match``);
3. its CN equals the CN DOV assigned (``check_common_name``);
4. it allows TLS client authentication (``check_client_auth``), and has no critical extension a TLS
   server does not know (``check_critical_extensions``: nginx and the DOV servers refuse it);
5. it is valid now and has at least ``min_days_left`` (``check_validity``);
6. with CA certificates, it chains to them: signature and validity of every link (``build_chain``).

Reading and writing the bytes (PEM, DER, PKCS#7, base64) is ``certload.py`` (``load_certificates``,
``load_ca_bundle``, ``dump_pem``); a certificate's dates are ``compat.not_valid_before`` and
``compat.not_valid_after``; its CNs and key fingerprint ``pki.common_names`` and
``pki.public_key_fingerprint``.

Every function takes ``now`` (an aware UTC datetime) where time matters, so tests can move the
clock. Every refusal is a DovError with two sentences: what is wrong, and what to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import (
    ExtendedKeyUsageOID, InvalidSignature, UnsupportedAlgorithm, hashes, not_valid_after, not_valid_before, x509)
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.pki import common_names, public_key_fingerprint

DAY = 86400


# ---------------------------------------------------------------- description


def days_left(cert, now=None):
    """Whole days until the certificate expires (negative when it has)."""
    seconds = (not_valid_after(cert) - (now or validity.utcnow())).total_seconds()
    return int(seconds // DAY)


def fingerprint_sha256(cert):
    return ':'.join('%02X' % byte for byte in bytearray(cert.fingerprint(hashes.SHA256())))


def serial_hex(cert):
    """The serial number as openssl shows it (``openssl x509 -serial``): upper-case hex."""
    text = '%X' % cert.serial_number
    return text if len(text) % 2 == 0 else '0' + text


def subject_text(name):
    """RFC 4514 text of a name, with emailAddress spelled as openssl does."""
    return compat.rfc4514(name)


def label(cert):
    """A short way to name a certificate in a message."""
    names = common_names(cert.subject)
    return "'%s'" % names[0] if names else "'%s'" % subject_text(cert.subject)


def describe_certificate(cert, now=None):
    """What a person needs to know of a certificate; never key material."""
    if cert is None:
        return {}
    names = common_names(cert.subject)
    return {
        'subject': subject_text(cert.subject),
        'issuer': subject_text(cert.issuer),
        'common_name': names[0] if names else None,
        'serial': serial_hex(cert),
        'not_before': validity.iso(not_valid_before(cert)),
        'not_after': validity.iso(not_valid_after(cert)),
        'days_left': days_left(cert, now),
        'fingerprint_sha256': fingerprint_sha256(cert),
    }


# ---------------------------------------------------------------- picking the leaf

def is_ca(cert):
    """Whether the certificate says it is a CA (basic constraints)."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert, issuer):
    if cert.issuer != issuer.subject:
        return False
    try:
        compat.verify_issued_by(cert, issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _self_signed(cert):
    return _issued_by(cert, cert)


def pick_leaf(certificates, key=None):
    """(leaf, the other certificates).

    With ``key``: the certificate whose public key is the key's; when none is, the first one is
    returned so that ``check_key_match`` can say which key it was issued for. Without a key: the
    first certificate that is not a CA and issued none of the others (a PKCS#7 file has no order),
    else the first.
    """
    if not certificates:
        raise DovError("No certificate was given. %s" % certload.FIX_SOURCE)
    leaf = None
    if key is not None:
        wanted = public_key_fingerprint(key)
        leaf = next((cert for cert in certificates if public_key_fingerprint(cert.public_key()) == wanted), None)
    if leaf is None:
        # Linear: the certificates are indexed by issuer name once, so each one is compared only
        # with those that name it as their issuer (comparing every pair took minutes on 5,000).
        by_issuer = {}
        for cert in certificates:
            by_issuer.setdefault(cert.issuer.public_bytes(), []).append(cert)
        leaf = next((cert for cert in certificates
                     if not is_ca(cert) and not any(other is not cert and _issued_by(other, cert)
                                                    for other in by_issuer.get(cert.subject.public_bytes(), ()))),
                    certificates[0])
    others = [cert for cert in certificates if cert is not leaf]
    return leaf, others


# ---------------------------------------------------------------- 2..5

def check_key_match(cert, key, key_path='the private key'):
    """2. The certificate's public key is the key's."""
    have = public_key_fingerprint(cert.public_key())
    mine = public_key_fingerprint(key)
    if have != mine:
        raise DovError(
            "The certificate %s was issued for another key (its public key SHA-256 is %s, the key at %s has %s). "
            "Was the CSR from this host? Upload this host's CSR in VO-DCBaaS and install what comes back."
            % (label(cert), have, key_path, mine))


def check_common_name(cert, expected_common_name):
    """3. The CN is exactly the CN DOV assigned."""
    names = common_names(cert.subject)
    if names != [expected_common_name]:
        found = "has the CN %r" % names[0] if len(names) == 1 else (
            "has no CN" if not names else "has %d CNs (%s)" % (len(names), ', '.join(repr(n) for n in names)))
        raise DovError(
            "The certificate %s, but %r was expected. Check that you downloaded the certificate of this "
            "application and environment, or correct expected_common_name." % (found, expected_common_name))


# The extended key usages by the names OpenSSL and RFC 5280 give them; another is shown dotted.
USAGE_NAMES = {
    '1.3.6.1.5.5.7.3.1': 'serverAuth',
    '1.3.6.1.5.5.7.3.2': 'clientAuth',
    '1.3.6.1.5.5.7.3.3': 'codeSigning',
    '1.3.6.1.5.5.7.3.4': 'emailProtection',
    '1.3.6.1.5.5.7.3.8': 'timeStamping',
    '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
    '2.5.29.37.0': 'anyExtendedKeyUsage',
}


def usage_name(oid):
    """The name of an extended key usage OID (``clientAuth``), or its dotted form."""
    return USAGE_NAMES.get(oid.dotted_string, oid.dotted_string)


def client_auth_problem(cert):
    """Why the usages of ``cert`` do not allow TLS client authentication, or None.

    The collection's one rule (the certificate check and the mTLS check's hint both use it): an
    extended key usage, when present, must list clientAuth; anyExtendedKeyUsage alone does not do,
    because OpenSSL-based servers (nginx, DOV's) refuse it for a client. A key usage, when present,
    must allow digitalSignature.
    """
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None
    if usages is not None and ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        names = ', '.join(usage_name(oid) for oid in usages) or 'none'
        return 'its extended key usage is: %s' % names
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.digital_signature:
        return 'its key usage lacks digitalSignature'
    return None


# The extensions OpenSSL (nginx, Apache, DOV's servers) handles when they are marked critical
# (X509_supported_extension, the same list from 1.1.0 on); any other critical extension makes it
# refuse the certificate ("unhandled critical extension").
HANDLED_CRITICAL = frozenset((
    '2.16.840.1.113730.1.1',    # netscape-cert-type
    '2.5.29.15',                # keyUsage
    '2.5.29.17',                # subjectAltName
    '2.5.29.19',                # basicConstraints
    '2.5.29.32',                # certificatePolicies
    '2.5.29.37',                # extendedKeyUsage
    '1.3.6.1.5.5.7.1.7',        # sbgp-ipAddrBlock (RFC 3779)
    '1.3.6.1.5.5.7.1.8',        # sbgp-autonomousSysNum (RFC 3779)
    '2.5.29.36',                # policyConstraints
    '1.3.6.1.5.5.7.1.14',       # proxyCertInfo
    '2.5.29.30',                # nameConstraints
    '2.5.29.33',                # policyMappings
    '2.5.29.54',                # inhibitAnyPolicy
))


def unknown_critical_extensions(cert):
    """The critical extensions of ``cert`` that TLS servers do not handle, as text (``1.2.3.4`` or
    ``1.3.6.1.5.5.7.1.24 (TLSFeature)`` where the library knows a name)."""
    found = []
    for extension in cert.extensions:
        oid = extension.oid.dotted_string
        if extension.critical and oid not in HANDLED_CRITICAL:
            name = getattr(extension.oid, '_name', None)
            found.append(oid if not name or name == 'Unknown OID' else '%s (%s)' % (oid, name))
    return found


def check_critical_extensions(cert, what='The certificate'):
    """4. No critical extension that a TLS server does not know: nginx and OpenSSL refuse such a
    certificate during the handshake, so installing it only breaks the application."""
    unknown = unknown_critical_extensions(cert)
    if unknown:
        raise DovError(
            "%s %s has a critical extension that TLS servers do not know: %s; a server such as nginx refuses it "
            "(unhandled critical extension). Ask the issuer for a certificate without it (the VO-DCBaaS 'SSL "
            "Client' profile has none)." % (what, label(cert), ', '.join(unknown)))


def check_client_auth(cert):
    """4. It may be used for TLS client authentication: not a CA, the right usages, and no
    critical extension a server would refuse it for."""
    if is_ca(cert):
        raise DovError(
            "The certificate %s is a CA certificate, not a client certificate. Use the certificate that "
            "VO-DCBaaS issued for this host's CSR; CA certificates belong in ca_bundle." % label(cert))
    problem = client_auth_problem(cert)
    if problem:
        raise DovError(
            "The certificate %s does not allow client authentication (%s). Request it with the VO-DCBaaS "
            "template 'SSL Client', not a server template." % (label(cert), problem))
    check_critical_extensions(cert)


def check_validity(cert, now=None, min_days_left=0):
    """5. Valid now, and at least ``min_days_left`` days to go."""
    now = now or validity.utcnow()
    start, end = not_valid_before(cert), not_valid_after(cert)
    if now < start:
        raise DovError(
            "The certificate %s is not valid yet: it is valid from %s to %s, and it is now %s. "
            "Check this host's clock, or install it from %s on."
            % (label(cert), validity.iso(start), validity.iso(end), validity.iso(now), validity.iso(start)))
    if now > end:
        raise DovError(
            "The certificate %s expired on %s (it was valid from %s). Make a new CSR and request a new "
            "certificate in VO-DCBaaS." % (label(cert), validity.iso(end), validity.iso(start)))
    left = days_left(cert, now)
    if left < min_days_left:
        raise DovError(
            "The certificate %s has %d days left (it expires on %s), fewer than min_days_left=%d. "
            "Renew it in VO-DCBaaS now, or lower min_days_left." % (label(cert), left, validity.iso(end), min_days_left))
    return left


# ---------------------------------------------------------------- 6. chain

def build_chain(leaf, others=(), ca_certs=None, now=None):
    """The intermediates from ``leaf`` up, without the root: what chain.pem holds.

    Issuers are looked for among ``others`` (certificates that came with the input, untrusted)
    and ``ca_certs``. With ``ca_certs`` (not None) the path must reach one of them, and each
    link's signature and validity is checked; a refusal names the link. Without ``ca_certs``
    only what came with the input is used, nothing is required.
    """
    now = now or validity.utcnow()
    pool = list(others) + list(ca_certs or [])
    anchors = set(fingerprint_sha256(cert) for cert in (ca_certs or []))
    path = [leaf]
    trusted = False
    current = leaf
    while len(path) < 10:
        if current is not leaf and _self_signed(current):
            break
        named = [cert for cert in pool if cert.subject == current.issuer and cert not in path]
        issuer = next((cert for cert in named if _issued_by(current, cert)), None)
        if issuer is None:
            if ca_certs is not None and not trusted:
                if named:
                    raise DovError(
                        "The signature of %s does not verify with the key of its issuer %s. "
                        "That CA certificate is not the one that issued it: put the VO-PKI CA certificates "
                        "that go with this certificate in ca_bundle." % (label(current), label(named[0])))
                raise DovError(
                    "The certificate %s does not chain to ca_bundle: its issuer '%s' is not in it (unknown CA). "
                    "Put the VO-PKI issuing CA (and root) in ca_bundle, or check that the certificate comes from "
                    "VO-DCBaaS." % (label(current), subject_text(current.issuer)))
            break
        if ca_certs is not None:
            if not is_ca(issuer):
                raise DovError(
                    "The issuer %s of %s is not a CA certificate (basic constraints). Put the real VO-PKI CA "
                    "certificates in ca_bundle." % (label(issuer), label(current)))
            if now < not_valid_before(issuer):
                raise DovError(
                    "The CA certificate %s in the chain is not valid yet (valid from %s). Check this host's clock "
                    "and the CA certificates in ca_bundle." % (label(issuer), validity.iso(not_valid_before(issuer))))
            if now > not_valid_after(issuer):
                raise DovError(
                    "The CA certificate %s in the chain expired on %s. Put the current VO-PKI CA certificates "
                    "in ca_bundle." % (label(issuer), validity.iso(not_valid_after(issuer))))
        if fingerprint_sha256(issuer) in anchors:
            trusted = True
        path.append(issuer)
        current = issuer
    if ca_certs is not None and not trusted:
        raise DovError(
            "The certificate %s does not chain to ca_bundle: none of its issuers is in it (unknown CA). "
            "Put the VO-PKI issuing CA (and root) in ca_bundle." % label(leaf))
    chain = [cert for cert in path[1:] if not _self_signed(cert)]
    for cert in chain:
        check_critical_extensions(cert, 'The CA certificate')     # sent with the leaf: a server checks it too
    return chain


class CheckedCertificate(object):
    """A certificate that passed the checks: the leaf, its chain (no root), and its days left."""

    def __init__(self, leaf, chain, days_left_now, now):
        self.leaf = leaf
        self.chain = chain
        self.days_left = days_left_now
        self.now = now

    def describe(self):
        return describe_certificate(self.leaf, self.now)


def check_certificate(certificates, key, expected_common_name, ca_certs=None, min_days_left=0,
                      now=None, key_path='the private key'):
    """Checks 2 to 6 on parsed certificates (check 1 is ``certload.load_certificates``); returns a CheckedCertificate."""
    now = now or validity.utcnow()
    leaf, others = pick_leaf(certificates, key)
    check_key_match(leaf, key, key_path)
    check_common_name(leaf, expected_common_name)
    check_client_auth(leaf)
    left = check_validity(leaf, now, min_days_left)
    chain = build_chain(leaf, others, ca_certs, now)
    return CheckedCertificate(leaf, chain, left, now)
