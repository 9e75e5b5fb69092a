# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The one place for differences between library versions on the hosts.

The hosts run the Python libraries their OS ships: cryptography 3.4.8 / pyOpenSSL 21.0.0 (Ubuntu
22.04), 36.0.1 / 21.0.0 (RHEL 9), 38.0.4 / 23.0.0 (Debian 12), 41.0.7 / 23.2.0 (Ubuntu 24.04), and
whatever pip installs on the controller. Every other module imports cryptography from here and
calls the functions below where an API came later:

- ``not_valid_before`` / ``not_valid_after``: aware UTC datetimes (``*_utc`` came in 42);
- ``rfc4514``: a name as RFC 4514 text with emailAddress spelled as openssl does (the override
  argument came in 36);
- ``load_pkcs7_certificates``: a PKCS#7 bundle; 3.4.8 crashes (segfault) on a signedData
  without content, so that case is answered before the library sees it;
- ``verify_issued_by``: the signature check of ``verify_directly_issued_by`` (40), done by hand
  with the issuer's public key before that (RSA PKCS#1 v1.5 and PSS, ECDSA, Ed25519/Ed448);
- ``serialize_pkcs12`` / ``load_pkcs12``: the encryption builder came in 38, ``load_pkcs12``
  with friendly names in 36 (before: pyOpenSSL reads the name);
- ``check_cryptography`` / ``check_pyopenssl``: a host below the minimum fails early with a
  message naming the version found and the one needed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import traceback

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

MIN_CRYPTOGRAPHY = (3, 4, 8)
MIN_PYOPENSSL = (21, 0, 0)

try:
    import cryptography
    from cryptography import x509  # pylint: disable=unused-import
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm  # pylint: disable=unused-import
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa  # pylint: disable=unused-import
    from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
    from cryptography.x509.oid import (AuthorityInformationAccessOID, ExtendedKeyUsageOID,  # pylint: disable=unused-import
                                       NameOID, SignatureAlgorithmOID)
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
    CRYPTOGRAPHY_VERSION = cryptography.__version__
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
    CRYPTOGRAPHY_VERSION = None
    cryptography = x509 = InvalidSignature = UnsupportedAlgorithm = hashes = serialization = None
    dsa = ec = ed448 = ed25519 = padding = rsa = pkcs7 = pkcs12 = None
    AuthorityInformationAccessOID = ExtendedKeyUsageOID = NameOID = SignatureAlgorithmOID = None


def version_tuple(text):
    """(3, 4, 8) of '3.4.8'; (41, 0, 7) of '41.0.7'; letters after a number are dropped."""
    parts = []
    for part in (text or '').split('.')[:3]:
        digits = re.match(r'\d*', part).group(0)
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def _dotted(numbers):
    return '.'.join(str(number) for number in numbers)


CRYPTOGRAPHY = version_tuple(CRYPTOGRAPHY_VERSION) if HAS_CRYPTOGRAPHY else None


def pyopenssl_version():
    """The pyOpenSSL version on this host ('23.0.0'), or None when it is not installed."""
    try:
        import OpenSSL
    except ImportError:
        return None
    return OpenSSL.__version__


def check_cryptography(where='this host'):
    """Raise a DovError when cryptography is missing or older than MIN_CRYPTOGRAPHY."""
    if not HAS_CRYPTOGRAPHY:
        raise DovError("The Python library cryptography is missing on %s (%s or newer is needed). Install it "
                       "(the python3-cryptography package, or pip install cryptography)." % (where, _dotted(MIN_CRYPTOGRAPHY)))
    if CRYPTOGRAPHY < MIN_CRYPTOGRAPHY:
        raise DovError("The Python library cryptography on %s is version %s; vlaanderen.dov needs %s or newer. "
                       "Upgrade it (the OS package of a supported release, or pip install 'cryptography>=%s')."
                       % (where, CRYPTOGRAPHY_VERSION, _dotted(MIN_CRYPTOGRAPHY), _dotted(MIN_CRYPTOGRAPHY)))


def check_pyopenssl(where='this host'):
    """Raise a DovError when pyOpenSSL is missing or older than MIN_PYOPENSSL."""
    found = pyopenssl_version()
    if found is None:
        raise DovError("The Python library pyOpenSSL is missing on %s (%s or newer is needed for the mTLS check). "
                       "Install it (the python3-openssl package, or pip install pyOpenSSL)." % (where, _dotted(MIN_PYOPENSSL)))
    if version_tuple(found) < MIN_PYOPENSSL:
        raise DovError("The Python library pyOpenSSL on %s is version %s; vlaanderen.dov needs %s or newer. "
                       "Upgrade it (the OS package of a supported release, or pip install 'pyOpenSSL>=%s')."
                       % (where, found, _dotted(MIN_PYOPENSSL), _dotted(MIN_PYOPENSSL)))


def require(module, pyopenssl=False):
    """Stop ``module`` (an AnsibleModule) before it starts when cryptography, or with ``pyopenssl``
    pyOpenSSL too, is missing (Ansible's own message, naming the interpreter) or too old (ours)."""
    from ansible.module_utils.basic import missing_required_lib
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    if pyopenssl and pyopenssl_version() is None:
        module.fail_json(msg=missing_required_lib('pyOpenSSL'))
    try:
        check_cryptography()
        if pyopenssl:
            check_pyopenssl()
    except DovError as error:
        module.fail_json(msg=str(error))


# ---------------------------------------------------------------- a certificate's dates

def not_valid_before(cert):
    """The start of validity as an aware UTC datetime (``not_valid_before_utc`` from 42 on)."""
    value = getattr(cert, 'not_valid_before_utc', None)
    return validity.as_utc(value if value is not None else cert.not_valid_before)


def not_valid_after(cert):
    """The end of validity as an aware UTC datetime (``not_valid_after_utc`` from 42 on)."""
    value = getattr(cert, 'not_valid_after_utc', None)
    return validity.as_utc(value if value is not None else cert.not_valid_after)


# ---------------------------------------------------------------- names

def rfc4514(name):
    """RFC 4514 text of an x509.Name, with emailAddress spelled as openssl does."""
    overrides = {NameOID.EMAIL_ADDRESS: 'emailAddress'}
    if CRYPTOGRAPHY >= (36, 0, 0):
        return name.rfc4514_string(overrides)
    parts = []
    for rdn in reversed(list(name.rdns)):
        texts = []
        for attribute in rdn:
            text = attribute.rfc4514_string()
            if attribute.oid in overrides:
                text = overrides[attribute.oid] + text[text.index('='):]
            texts.append(text)
        parts.append('+'.join(texts))
    return ','.join(parts)


# ---------------------------------------------------------------- reading certificates

_PEM_BODY = re.compile(br'-----BEGIN [A-Z0-9 #]+-----(.*?)-----END [A-Z0-9 #]+-----', re.DOTALL)
_SIGNED_DATA_OID = b'\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02'


def der_header(data, offset=0):
    """(tag, header length, content length) of the DER element at ``offset``; None if unreadable."""
    if len(data) < offset + 2:
        return None
    tag = data[offset]
    first = data[offset + 1]
    if first < 0x80:
        return tag, 2, first
    count = first & 0x7f
    if count == 0 or count > 4 or len(data) < offset + 2 + count:
        return None
    length = int.from_bytes(data[offset + 2:offset + 2 + count], 'big')
    return tag, 2 + count, length


def _pkcs7_has_content(der):
    """Whether a PKCS#7 ContentInfo carries content ([0] with bytes); False for the empty
    signedData that makes cryptography < 37 crash."""
    outer = der_header(der)
    if outer is None or outer[0] != 0x30:
        return True             # not ours to judge: the library says what it is
    offset = outer[1]
    oid = der_header(der, offset)
    if oid is None or oid[0] != 0x06:
        return True
    if der[offset:offset + oid[1] + oid[2]] != _SIGNED_DATA_OID:
        return True
    offset += oid[1] + oid[2]
    content = der_header(der, offset)
    return content is not None and content[0] == 0xa0 and content[2] > 0


def load_pkcs7_certificates(data, pem):
    """The certificates of a PKCS#7 bundle (PEM when ``pem``); [] for one without content;
    ValueError when it cannot be read."""
    if CRYPTOGRAPHY < (37, 0, 0):
        der = data
        if pem:
            found = _PEM_BODY.search(data)
            try:
                der = base64.b64decode(re.sub(br'\s+', b'', found.group(1))) if found else b''
            except (ValueError, TypeError):
                raise ValueError('damaged PKCS#7 PEM block')
        if not _pkcs7_has_content(der):
            return []
    try:
        if pem:
            return pkcs7.load_pem_pkcs7_certificates(data)
        return pkcs7.load_der_pkcs7_certificates(data)
    except UnsupportedAlgorithm:
        raise ValueError('not a PKCS#7 signedData bundle')


# ---------------------------------------------------------------- signatures

# DER of hash algorithm OIDs (as in RSASSA-PSS parameters), and the hashes they name.
_HASH_OIDS = {
    b'\x06\x05\x2b\x0e\x03\x02\x1a': 'SHA1',
    b'\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x04': 'SHA224',
    b'\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01': 'SHA256',
    b'\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02': 'SHA384',
    b'\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03': 'SHA512',
}


def _children(data, offset, end):
    """(tag, start, content start, content end) of each DER element between offset and end."""
    found = []
    while offset < end:
        header = der_header(data, offset)
        if header is None:
            raise ValueError('unreadable DER')
        tag, head, length = header
        found.append((tag, offset, offset + head, offset + head + length))
        offset += head + length
    return found


def _hash_of(data, start, end):
    """The hash of an AlgorithmIdentifier SEQUENCE whose content is data[start:end]."""
    oid = _children(data, start, end)[0]
    name = _HASH_OIDS.get(data[oid[1]:oid[3]])
    if name is None:
        raise UnsupportedAlgorithm('unknown hash in RSASSA-PSS parameters')
    return getattr(hashes, name)()


def pss_parameters(cert):
    """(hash, mask generation hash, salt length) of an RSASSA-PSS signed certificate, read from
    its DER (cryptography < 40 does not expose them); RFC 4055 defaults where absent."""
    der = cert.public_bytes(serialization.Encoding.DER)
    outer = _children(der, 0, len(der))[0]
    _tbs, algorithm = _children(der, outer[2], outer[3])[:2]
    parts = _children(der, algorithm[2], algorithm[3])
    digest, mgf_digest, salt = hashes.SHA1(), hashes.SHA1(), 20
    if len(parts) > 1 and parts[1][0] == 0x30:
        for tag, _start, inner, end in _children(der, parts[1][2], parts[1][3]):
            value = _children(der, inner, end)[0]
            if tag == 0xa0:
                digest = _hash_of(der, value[2], value[3])
            elif tag == 0xa1:            # MGF1 AlgorithmIdentifier, its parameter is the hash
                mgf = _children(der, value[2], value[3])
                mgf_digest = _hash_of(der, mgf[1][2], mgf[1][3])
            elif tag == 0xa2:
                salt = int.from_bytes(der[value[2]:value[3]], 'big')
    return digest, mgf_digest, salt


def _verify_signature(cert, issuer_key):
    """Check ``cert``'s signature with ``issuer_key`` by hand; InvalidSignature, TypeError or
    UnsupportedAlgorithm when it does not verify or cannot be checked."""
    data, signature = cert.tbs_certificate_bytes, cert.signature
    if isinstance(issuer_key, rsa.RSAPublicKey):
        if cert.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS:
            digest, mgf_digest, salt = pss_parameters(cert)
            issuer_key.verify(signature, data, padding.PSS(padding.MGF1(mgf_digest), salt), digest)
        else:
            issuer_key.verify(signature, data, padding.PKCS1v15(), cert.signature_hash_algorithm)
    elif isinstance(issuer_key, ec.EllipticCurvePublicKey):
        issuer_key.verify(signature, data, ec.ECDSA(cert.signature_hash_algorithm))
    elif isinstance(issuer_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        issuer_key.verify(signature, data)
    else:
        raise TypeError('unsupported issuer key type %s' % type(issuer_key).__name__)


def verify_issued_by(cert, issuer):
    """Whether ``issuer`` signed ``cert`` (names and signature): returns None, raises ValueError
    (names differ), InvalidSignature, TypeError or UnsupportedAlgorithm, as
    ``verify_directly_issued_by`` does from cryptography 40 on."""
    if hasattr(cert, 'verify_directly_issued_by'):
        return cert.verify_directly_issued_by(issuer)
    if cert.issuer != issuer.subject:
        raise ValueError("the certificate's issuer name is not the issuer's subject")
    _verify_signature(cert, issuer.public_key())
    return None


# ---------------------------------------------------------------- PKCS#12

PKCS12_BUILDER = (38, 0, 0)


def check_pkcs12_profile(profile, option='pkcs12_profile'):
    """Refuse the ``modern`` PKCS#12 profile where cryptography cannot write it (before 38)."""
    if profile == 'modern' and CRYPTOGRAPHY < PKCS12_BUILDER:
        raise DovError(
            "The %s 'modern' (AES-256 with a SHA-256 MAC) needs cryptography %s or newer on the host, which has %s. "
            "Set %s to 'legacy' (3DES with a SHA-1 MAC, what Java 8 reads), or upgrade cryptography on the host."
            % (option, _dotted(PKCS12_BUILDER), CRYPTOGRAPHY_VERSION, option))
    return profile


def auto_pkcs12_profile():
    """What ``auto`` means on this host: (``modern`` where cryptography can write it, else
    ``legacy``; why, in one sentence, when it is ``legacy``)."""
    if CRYPTOGRAPHY >= PKCS12_BUILDER:
        return 'modern', None
    return 'legacy', ("bundle.p12 uses the legacy PKCS#12 profile (3DES with a SHA-1 MAC): this host's cryptography %s "
                      "cannot write the modern one (AES-256, needs %s or newer). Upgrade cryptography on the host for "
                      "the modern profile, or set dov_pkcs12_profile: legacy to keep this one without this note."
                      % (CRYPTOGRAPHY_VERSION, _dotted(PKCS12_BUILDER)))


def serialize_pkcs12(name, key, cert, cas, password, profile, kdf_rounds):
    """PKCS#12 bytes: ``modern`` is PBES2 AES-256-CBC with a SHA-256 MAC, ``legacy`` 3DES with a
    SHA-1 MAC (what cryptography < 38 writes with BestAvailableEncryption)."""
    check_pkcs12_profile(profile)
    if CRYPTOGRAPHY >= PKCS12_BUILDER:
        builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(kdf_rounds)
        if profile == 'modern':
            builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
        else:
            builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
        encryption = builder.build(password)
    else:
        encryption = serialization.BestAvailableEncryption(password)
    return pkcs12.serialize_key_and_certificates(name=name, key=key, cert=cert, cas=cas,
                                                 encryption_algorithm=encryption)


class LoadedPkcs12(object):
    """What a PKCS#12 file holds: key, certificate, its friendly name (bytes or None), others."""

    def __init__(self, key, cert, friendly_name, additional):
        self.key = key
        self.cert = cert
        self.friendly_name = friendly_name
        self.additional = list(additional or [])


def load_pkcs12(data, password):
    """A LoadedPkcs12; ValueError when the file does not open with ``password`` (bytes or None)."""
    if CRYPTOGRAPHY >= (36, 0, 0):
        try:
            loaded = pkcs12.load_pkcs12(data, password)
        except TypeError:
            raise ValueError('the PKCS#12 file needs another password')
        leaf = loaded.cert
        return LoadedPkcs12(loaded.key, leaf.certificate if leaf else None, leaf.friendly_name if leaf else None,
                            [extra.certificate for extra in loaded.additional_certs])
    try:
        key, leaf, additional = pkcs12.load_key_and_certificates(data, password)
    except TypeError:
        raise ValueError('the PKCS#12 file needs another password')
    name = None
    if leaf is not None:
        import warnings
        from OpenSSL import crypto  # cryptography < 36 does not read friendly names; pyOpenSSL does
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)     # pyOpenSSL's PKCS#12 API: the one there is
            try:
                name = crypto.load_pkcs12(data, password).get_friendlyname()  # pylint: disable=no-member
            except crypto.Error:
                name = None
    return LoadedPkcs12(key, leaf, name, additional)


# ---------------------------------------------------------------- pyOpenSSL

def same_public_key(one, other):
    """Whether two keys (public or private, in any mix) have the same public key, compared as DER
    SubjectPublicKeyInfo (keys compare with == only from cryptography 41)."""
    form = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    one, other = [key.public_key() if hasattr(key, 'public_key') else key for key in (one, other)]
    return one.public_bytes(*form) == other.public_bytes(*form)


def use_identity(context, cert, extra, key):
    """Client certificate, intermediates and key into a pyOpenSSL context: cryptography objects
    where pyOpenSSL takes them (24.3 on), its X509/PKey wrappers before; the key through DER
    where ``PKey.from_cryptography_key`` does not know its type (EC keys before pyOpenSSL 22)."""
    from OpenSSL import crypto
    try:
        context.use_certificate(cert)
        for other in extra:
            context.add_extra_chain_cert(other)
        context.use_privatekey(key)
        return
    except TypeError:
        pass
    context.use_certificate(crypto.X509.from_cryptography(cert))
    for other in extra:
        context.add_extra_chain_cert(crypto.X509.from_cryptography(other))
    try:
        wrapped = crypto.PKey.from_cryptography_key(key)
    except TypeError:
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        wrapped = crypto.load_privatekey(crypto.FILETYPE_ASN1, der)
    context.use_privatekey(wrapped)
