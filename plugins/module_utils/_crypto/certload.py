# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Reading certificate bytes in whatever encoding they came, and writing them as PEM.

VO-DCBaaS hands out a DER ``.cer``, sometimes PEM, sometimes a PKCS#7 ``.p7b`` with the chain;
people also paste base64 text. ``load_certificates`` reads all of these and tells a CSR, a
private key, an empty, a truncated and a garbage file apart, each with its own message.
The checks on what was read are in ``certs.py``, which offers these functions under its name too.

Reading is linear in the size of the input and bounded: at most ``MAX_BYTES`` and
``MAX_CERTIFICATES`` certificates (``MAX_CA_CERTIFICATES`` in a CA bundle, which may be a system
store). A PEM block is found by its BEGIN line and then the END line of the same label, once each;
a BEGIN without its END ends the reading with a refusal (a pattern that searched on for every BEGIN
was quadratic: 600 KB of BEGIN lines took minutes).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import der_header, serialization, x509
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


_PEM_BEGIN = re.compile(br'-----BEGIN ([A-Z0-9 #]{1,64})-----')
_BASE64_TEXT = re.compile(br'^[A-Za-z0-9+/=\s]+$')
_CERT_LABELS = ('CERTIFICATE', 'X509 CERTIFICATE')
_PKCS7_LABELS = ('PKCS7', 'PKCS #7 SIGNED DATA', 'CMS')
_CSR_LABELS = ('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST')
# DER of the OID 1.2.840.113549.1.7.1 (pkcs7-data), which opens the content of a PKCS#12 file.
_PKCS7_DATA_OID = b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01'

FIX_SOURCE = "Use the certificate file that VO-DCBaaS gave back for this host's CSR (a .cer, .pem or .p7b)."
# A certificate with its chain is a few KB; a system CA store some 200 KB and 150 certificates.
MAX_BYTES = 1024 * 1024
MAX_CERTIFICATES = 100
MAX_CA_CERTIFICATES = 1000


# ---------------------------------------------------------------- DER helpers

def _der_truncated(data):
    """Whether ``data`` starts like a DER SEQUENCE that claims more bytes than are there."""
    header = der_header(data)
    if header is None:
        return len(data) > 0 and data[0] == 0x30
    tag, head, length = header
    return tag == 0x30 and head + length > len(data)


def looks_like_pkcs12(data):
    header = der_header(data)
    if header is None or header[0] != 0x30:
        return False
    body = data[header[1]:header[1] + 40]
    return body.startswith(b'\x02\x01\x03') and _PKCS7_DATA_OID in body


# ---------------------------------------------------------------- 1. reading

def _refuse(source, what, fix):
    raise DovError("%s %s. %s" % (source, what, fix))


def _refuse_csr(source):
    raise DovError("%s holds a CSR (a certificate request), not the certificate. Upload it in VO-DCBaaS "
                   "and use what comes back." % source)


def _refuse_key(source):
    _refuse(source, "holds a private key, not a certificate",
            "Point src at the certificate that VO-DCBaaS gave back, and keep the key where privatekey_path says "
            "(never paste a key into content).")


def _pem_blocks(data, source):
    """(label, block) of every PEM block, in one pass: each BEGIN line, then the END line of its
    label after it. A BEGIN without that END is refused as truncated."""
    position = 0
    while True:
        begin = _PEM_BEGIN.search(data, position)
        if begin is None:
            return
        label = begin.group(1)
        end_line = b'-----END ' + label + b'-----'
        end = data.find(end_line, begin.end())
        if end < 0:
            _refuse(source, "is truncated: a '-----BEGIN %s-----' block has no END line" % label.decode('ascii'),
                    "The file was cut off; download the certificate again from VO-DCBaaS, or copy the whole block.")
        position = end + len(end_line)
        yield label.decode('ascii'), data[begin.start():position]


def _count(certificates, source, limit):
    if len(certificates) > limit:
        _refuse(source, "holds more than %d certificates" % limit,
                "Give the certificate that VO-DCBaaS issued, with its chain (two or three certificates).")


def _load_pem(data, source, limit=MAX_CERTIFICATES):
    certificates = []
    labels = []
    for label, block in _pem_blocks(data, source):
        labels.append(label)
        try:
            if label in _CERT_LABELS:
                certificates.append(x509.load_pem_x509_certificate(block))
            elif label in _PKCS7_LABELS:
                certificates.extend(compat.load_pkcs7_certificates(block, pem=True))
        except ValueError:
            _refuse(source, "holds a %s block that cannot be read: it is damaged or cut off" % label,
                    "Download the certificate again from VO-DCBaaS, or copy the whole block.")
        _count(certificates, source, limit)
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
    if looks_like_pkcs12(data):
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


def load_certificates(data, source='The certificate', max_certificates=MAX_CERTIFICATES):
    """All certificates in ``data`` (bytes), in the order they come.

    Reads PEM (one certificate or a bundle, PKCS#7 PEM too), DER, DER PKCS#7, and base64 text of
    DER or PKCS#7. Raises a DovError that says what the data is instead: empty, truncated, a CSR,
    a private key, a PKCS#12 keystore, or something else. ``source`` names the input in messages
    (``'/tmp/geodrill.cer'`` or ``'content'``). More than ``MAX_BYTES`` or ``max_certificates`` is
    refused before the library reads it all.
    """
    compat.check_cryptography()
    if isinstance(data, str):
        data = data.encode('utf-8')
    if not data or not data.strip():
        _refuse(source, "is empty", "Put the certificate from VO-DCBaaS there (a .cer, .pem or .p7b file).")
    if len(data) > MAX_BYTES:
        _refuse(source, "is %d bytes, more than the %d bytes (1 MiB) a certificate file may have here" % (len(data), MAX_BYTES),
                "Give the certificate file that VO-DCBaaS issued: with its chain it is a few KB.")
    if b'-----BEGIN ' in data:
        found = _load_pem(data, source, max_certificates)
        if found:
            return _readable(found, source)
    else:
        found = _load_der(data, source) if data[:1] == b'\x30' else None
        if found:
            _count(found, source, max_certificates)
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
                    _count(found, source, max_certificates)
                    return _readable(found, source)
    _refuse(source, "is not a certificate: it is neither PEM, DER, PKCS#7 nor base64 of them", FIX_SOURCE)


def load_ca_bundle(data, path='ca_bundle'):
    """The CA certificates of a PEM (or DER/PKCS#7) file; refuses a file without any."""
    if data is None:
        raise DovError("The ca_bundle %s does not exist. Point ca_bundle at a PEM file with the VO-PKI "
                       "issuing CA and/or root certificates." % path)
    try:
        return load_certificates(data, 'The ca_bundle %s' % path, MAX_CA_CERTIFICATES)
    except DovError as error:
        first = str(error).split('. ', maxsplit=1)[0].rstrip('.')
        raise DovError("%s. Point ca_bundle at a PEM file with the VO-PKI issuing CA and/or root certificates." % first)


# ---------------------------------------------------------------- writing

def dump_pem(certificates):
    return b''.join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)
