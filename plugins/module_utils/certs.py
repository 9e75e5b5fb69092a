# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The issued certificate: read it in whatever encoding it came, and check it hard.

VO-DCBaaS hands out a DER ``.cer``, sometimes PEM, sometimes a PKCS#7 ``.p7b`` with the chain;
people also paste base64 text. ``load_certificates`` reads all of these and tells a CSR, a
private key, an empty, a truncated and a garbage file apart, each with its own message.

``check_certificate`` then runs the six checks in the order a person would fix them:

1. it parses and it is a certificate (``load_certificates``);
2. its public key matches the private key (``check_key_match``);
3. its CN equals the CN DOV assigned (``check_common_name``);
4. it allows TLS client authentication (``check_client_auth``);
5. it is valid now and has at least ``min_days_left`` (``check_validity``);
6. with CA certificates, it chains to them: signature and validity of every link (``build_chain``).

Every function takes ``now`` (an aware UTC datetime) where time matters, so tests can move the
clock. Every refusal is a DovError with two sentences: what is wrong, and what to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils import compat
from ansible_collections.vlaanderen.dov.plugins.module_utils.compat import (
    UTC, ExtendedKeyUsageOID, InvalidSignature, UnsupportedAlgorithm, der_header, hashes, serialization, x509)
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError
# One definition of each, shared with the key/CSR code (callers also use them as certs.*).
from ansible_collections.vlaanderen.dov.plugins.module_utils.pki import common_names, public_key_fingerprint

# What the modules check before they start (missing_required_lib).
HAS_CRYPTOGRAPHY = compat.HAS_CRYPTOGRAPHY
CRYPTOGRAPHY_IMPORT_ERROR = compat.CRYPTOGRAPHY_IMPORT_ERROR
DAY = 86400

_PEM_BLOCK = re.compile(br'-----BEGIN ([A-Z0-9 #]+)-----(.*?)-----END \1-----', re.DOTALL)
_PEM_BEGIN = re.compile(br'-----BEGIN ([A-Z0-9 #]+)-----')
_BASE64_TEXT = re.compile(br'^[A-Za-z0-9+/=\s]+$')
_CERT_LABELS = ('CERTIFICATE', 'X509 CERTIFICATE')
_PKCS7_LABELS = ('PKCS7', 'PKCS #7 SIGNED DATA', 'CMS')
_CSR_LABELS = ('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST')
# DER of the OID 1.2.840.113549.1.7.1 (pkcs7-data), which opens the content of a PKCS#12 file.
_PKCS7_DATA_OID = b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01'

FIX_SOURCE = "Use the certificate file that VO-DCBaaS gave back for this host's CSR (a .cer, .pem or .p7b)."


utcnow = compat.utcnow


# ---------------------------------------------------------------- DER helpers

def _der_truncated(data):
    """Whether ``data`` starts like a DER SEQUENCE that claims more bytes than are there."""
    header = der_header(data)
    if header is None:
        return len(data) > 0 and data[0] == 0x30
    tag, head, length = header
    return tag == 0x30 and head + length > len(data)


def _looks_like_pkcs12(data):
    header = der_header(data)
    if header is None or header[0] != 0x30:
        return False
    body = data[header[1]:header[1] + 40]
    return body.startswith(b'\x02\x01\x03') and _PKCS7_DATA_OID in body


# ---------------------------------------------------------------- 1. reading

def _refuse(source, what, fix):
    raise DovError("%s %s. %s" % (source, what, fix))


def _refuse_csr(source):
    raise DovError("%s holds a CSR; this is a certificate request, not the certificate: upload it in VO-DCBaaS "
                   "and use what comes back." % source)


def _refuse_key(source):
    _refuse(source, "holds a private key, not a certificate",
            "Point src at the certificate that VO-DCBaaS gave back, and keep the key where privatekey_path says "
            "(never paste a key into content).")


def _load_pem(data, source):
    certificates = []
    labels = []
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1).decode('ascii')
        labels.append(label)
        block = match.group(0)
        try:
            if label in _CERT_LABELS:
                certificates.append(x509.load_pem_x509_certificate(block))
            elif label in _PKCS7_LABELS:
                certificates.extend(compat.load_pkcs7_certificates(block, pem=True))
        except ValueError:
            _refuse(source, "holds a %s block that cannot be read: it is damaged or cut off" % label,
                    "Download the certificate again from VO-DCBaaS, or copy the whole block.")
    complete = len(labels)
    begun = [match.group(1).decode('ascii') for match in _PEM_BEGIN.finditer(data)]
    if len(begun) > complete:
        incomplete = begun[complete] if begun[:complete] == labels else begun[-1]
        _refuse(source, "is truncated: a '-----BEGIN %s-----' block has no END line" % incomplete,
                "The file was cut off; download the certificate again from VO-DCBaaS, or copy the whole block.")
    if certificates:
        return certificates
    if any(label in _PKCS7_LABELS for label in labels):
        _refuse(source, "is a PKCS#7 bundle without any certificate", FIX_SOURCE)
    if any(label in _CSR_LABELS for label in labels):
        _refuse_csr(source)
    if any('PRIVATE KEY' in label for label in labels):
        _refuse_key(source)
    if labels:
        _refuse(source, "holds a PEM block of type %s, not a certificate" % labels[0], FIX_SOURCE)
    return None


def _is_der_csr(data):
    try:
        x509.load_der_x509_csr(data)
    except ValueError:
        return False
    return True


def _is_der_private_key(data):
    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:  # encrypted: still a key
        return True
    except Exception:  # pylint: disable=broad-except
        return False
    return True


def _load_der(data, source):
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        certificates = compat.load_pkcs7_certificates(data, pem=False)
    except ValueError:
        certificates = None
    if certificates is not None:
        if not certificates:
            _refuse(source, "is a PKCS#7 bundle without any certificate", FIX_SOURCE)
        return certificates
    if _is_der_csr(data):
        _refuse_csr(source)
    if _is_der_private_key(data):
        _refuse_key(source)
    if _looks_like_pkcs12(data):
        _refuse(source, "is a PKCS#12 keystore (.p12/.pfx), not a certificate",
                "Give the certificate alone (.cer, .pem or .p7b); this module makes the keystores itself.")
    if _der_truncated(data):
        _refuse(source, "is truncated: it holds %d bytes of a DER structure that announces more" % len(data),
                "The file was cut off; download the certificate again from VO-DCBaaS.")
    return None


def _readable(certificates, source):
    """The certificates, once their extensions parsed: an older cryptography refuses some
    encodings that newer ones read, and that must be a message, not a traceback later."""
    for cert in certificates:
        try:
            cert.extensions  # pylint: disable=pointless-statement
        except ValueError as error:
            raise DovError("%s holds a certificate whose extensions the Python library cryptography %s on this host "
                           "cannot read (%s). Upgrade cryptography on the host, or ask the issuer for a certificate "
                           "without that extension." % (source, compat.CRYPTOGRAPHY_VERSION, str(error)[:200]))
    return certificates


def load_certificates(data, source='The certificate'):
    """All certificates in ``data`` (bytes), in the order they come.

    Reads PEM (one certificate or a bundle, PKCS#7 PEM too), DER, DER PKCS#7, and base64 text of
    DER or PKCS#7. Raises a DovError that says what the data is instead: empty, truncated, a CSR,
    a private key, a PKCS#12 keystore, or something else. ``source`` names the input in messages
    (``'/tmp/geodrill.cer'`` or ``'content'``).
    """
    compat.check_cryptography()
    if isinstance(data, str):
        data = data.encode('utf-8')
    if not data or not data.strip():
        _refuse(source, "is empty", "Put the certificate from VO-DCBaaS there (a .cer, .pem or .p7b file).")
    if b'-----BEGIN ' in data:
        found = _load_pem(data, source)
        if found:
            return _readable(found, source)
    else:
        found = _load_der(data, source) if data[:1] == b'\x30' else None
        if found:
            return _readable(found, source)
        text = data.strip()
        if found is None and _BASE64_TEXT.match(text):
            compact = re.sub(br'\s+', b'', text).rstrip(b'=')
            compact = compact[:len(compact) - len(compact) % 4] if len(compact) % 4 == 1 else compact
            try:
                decoded = base64.b64decode(compact + b'=' * (-len(compact) % 4))
            except (binascii.Error, ValueError):
                decoded = b''
            if decoded[:1] == b'\x30':
                found = _load_der(decoded, source + ' (base64)')
                if found:
                    return _readable(found, source)
    _refuse(source, "is not a certificate: it is neither PEM, DER, PKCS#7 nor base64 of them", FIX_SOURCE)


def load_ca_bundle(data, path='ca_bundle'):
    """The CA certificates of a PEM (or DER/PKCS#7) file; refuses a file without any."""
    if data is None:
        raise DovError("The ca_bundle %s does not exist. Point ca_bundle at a PEM file with the VO-PKI "
                       "issuing CA and/or root certificates." % path)
    try:
        return load_certificates(data, 'The ca_bundle %s' % path)
    except DovError as error:
        first = str(error).split('. ', maxsplit=1)[0].rstrip('.')
        raise DovError("%s. Point ca_bundle at a PEM file with the VO-PKI issuing CA and/or root certificates." % first)


# ---------------------------------------------------------------- description

not_before = compat.not_valid_before
not_after = compat.not_valid_after


def iso(value):
    return value.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def days_left(cert, now=None):
    """Whole days until the certificate expires (negative when it has)."""
    seconds = (not_after(cert) - (now or utcnow())).total_seconds()
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
        'not_before': iso(not_before(cert)),
        'not_after': iso(not_after(cert)),
        'days_left': days_left(cert, now),
        'fingerprint_sha256': fingerprint_sha256(cert),
    }


# ---------------------------------------------------------------- picking the leaf

def _is_ca(cert):
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
        raise DovError("No certificate was given. %s" % FIX_SOURCE)
    leaf = None
    if key is not None:
        wanted = public_key_fingerprint(key)
        leaf = next((cert for cert in certificates if public_key_fingerprint(cert.public_key()) == wanted), None)
    if leaf is None:
        candidates = [cert for cert in certificates
                      if not _is_ca(cert) and not any(other is not cert and _issued_by(other, cert) for other in certificates)]
        leaf = candidates[0] if candidates else certificates[0]
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


def _usage_name(oid):
    if oid == ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE:
        return 'anyExtendedKeyUsage'
    name = getattr(oid, '_name', None)
    return name if name and name != 'Unknown OID' else oid.dotted_string


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
        names = ', '.join(_usage_name(oid) for oid in usages) or 'none'
        return 'its extended key usage is: %s' % names
    try:
        key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is not None and not key_usage.digital_signature:
        return 'its key usage lacks digitalSignature'
    return None


def check_client_auth(cert):
    """4. It may be used for TLS client authentication."""
    if _is_ca(cert):
        raise DovError(
            "The certificate %s is a CA certificate, not a client certificate. Use the certificate that "
            "VO-DCBaaS issued for this host's CSR; CA certificates belong in ca_bundle." % label(cert))
    problem = client_auth_problem(cert)
    if problem:
        raise DovError(
            "The certificate %s does not allow client authentication (%s). Request it with the VO-DCBaaS "
            "template 'SSL Client', not a server template." % (label(cert), problem))


def check_validity(cert, now=None, min_days_left=0):
    """5. Valid now, and at least ``min_days_left`` days to go."""
    now = now or utcnow()
    start, end = not_before(cert), not_after(cert)
    if now < start:
        raise DovError(
            "The certificate %s is not valid yet: it is valid from %s to %s, and it is now %s. "
            "Check this host's clock, or install it from %s on." % (label(cert), iso(start), iso(end), iso(now), iso(start)))
    if now > end:
        raise DovError(
            "The certificate %s expired on %s (it was valid from %s). Make a new CSR and request a new "
            "certificate in VO-DCBaaS." % (label(cert), iso(end), iso(start)))
    left = days_left(cert, now)
    if left < min_days_left:
        raise DovError(
            "The certificate %s has %d days left (it expires on %s), fewer than min_days_left=%d. "
            "Renew it in VO-DCBaaS now, or lower min_days_left." % (label(cert), left, iso(end), min_days_left))
    return left


# ---------------------------------------------------------------- 6. chain

def build_chain(leaf, others=(), ca_certs=None, now=None):
    """The intermediates from ``leaf`` up, without the root: what chain.pem holds.

    Issuers are looked for among ``others`` (certificates that came with the input, untrusted)
    and ``ca_certs``. With ``ca_certs`` (not None) the path must reach one of them, and each
    link's signature and validity is checked; a refusal names the link. Without ``ca_certs``
    only what came with the input is used, nothing is required.
    """
    now = now or utcnow()
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
            if not _is_ca(issuer):
                raise DovError(
                    "The issuer %s of %s is not a CA certificate (basic constraints). Put the real VO-PKI CA "
                    "certificates in ca_bundle." % (label(issuer), label(current)))
            if now < not_before(issuer):
                raise DovError(
                    "The CA certificate %s in the chain is not valid yet (valid from %s). Check this host's clock "
                    "and the CA certificates in ca_bundle." % (label(issuer), iso(not_before(issuer))))
            if now > not_after(issuer):
                raise DovError(
                    "The CA certificate %s in the chain expired on %s. Put the current VO-PKI CA certificates "
                    "in ca_bundle." % (label(issuer), iso(not_after(issuer))))
        if fingerprint_sha256(issuer) in anchors:
            trusted = True
        path.append(issuer)
        current = issuer
    if ca_certs is not None and not trusted:
        raise DovError(
            "The certificate %s does not chain to ca_bundle: none of its issuers is in it (unknown CA). "
            "Put the VO-PKI issuing CA (and root) in ca_bundle." % label(leaf))
    return [cert for cert in path[1:] if not _self_signed(cert)]


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
    """Checks 2 to 6 on parsed certificates (check 1 is ``load_certificates``); returns a CheckedCertificate."""
    now = now or utcnow()
    leaf, others = pick_leaf(certificates, key)
    check_key_match(leaf, key, key_path)
    check_common_name(leaf, expected_common_name)
    check_client_auth(leaf)
    left = check_validity(leaf, now, min_days_left)
    chain = build_chain(leaf, others, ca_certs, now)
    return CheckedCertificate(leaf, chain, left, now)


# ---------------------------------------------------------------- writing

def dump_pem(certificates):
    return b''.join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)
