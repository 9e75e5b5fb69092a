# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Keys, CSRs, certificates and bundles, with python-cryptography.

Plain functions: modules and the role's action plugins call them, unit tests call them
directly. Every refusal is a DovError whose message names the problem and the fix.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import NameOID, ec, hashes, rsa, serialization, x509
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.choices import CURVES, KEY_TYPES, RSA_KEY_SIZES

# Subject attributes a CSR may carry besides the CN, in the order real VO-PKI certificates
# use: C, ST, L, O, OU, CN, emailAddress.
SUBJECT_KEYS = ('C', 'ST', 'L', 'O', 'OU', 'emailAddress')


def _subject_oids():
    return {
        'C': NameOID.COUNTRY_NAME,
        'ST': NameOID.STATE_OR_PROVINCE_NAME,
        'L': NameOID.LOCALITY_NAME,
        'O': NameOID.ORGANIZATION_NAME,
        'OU': NameOID.ORGANIZATIONAL_UNIT_NAME,
        'emailAddress': NameOID.EMAIL_ADDRESS,
    }


def _curve(name):
    return {'secp256r1': ec.SECP256R1, 'secp384r1': ec.SECP384R1}[name]()


# ---------------------------------------------------------------- key parameters

def check_key_parameters(key_type, key_size, curve):
    """Refuse a key type, size or curve that VO-PKI would not take or we do not make."""
    if key_type not in KEY_TYPES:
        raise DovError("Unknown key type %r. Use one of: %s." % (key_type, ', '.join(KEY_TYPES)))
    if key_type == 'rsa':
        if key_size is None or int(key_size) < 2048:
            raise DovError(
                "An RSA key of %s bits is too weak; VO-PKI needs at least 2048. "
                "Use key_size 2048 (what VO-PKI issues today), 3072 or 4096." % key_size)
        if int(key_size) not in RSA_KEY_SIZES:
            raise DovError(
                "An RSA key size of %s is not supported. Use one of: %s."
                % (key_size, ', '.join(str(size) for size in RSA_KEY_SIZES)))
    elif curve not in CURVES:
        raise DovError("Unknown curve %r. Use one of: %s." % (curve, ', '.join(CURVES)))


def generate_private_key(key_type='rsa', key_size=2048, curve='secp256r1'):
    check_key_parameters(key_type, key_size, curve)
    if key_type == 'rsa':
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_size))
    return ec.generate_private_key(_curve(curve))


def describe_key(key):
    """``{'type': 'rsa', 'size': 2048}`` or ``{'type': 'ec', 'curve': 'secp256r1'}``."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return {'type': 'rsa', 'size': key.key_size}
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {'type': 'ec', 'curve': key.curve.name}
    return {'type': type(key).__name__}


def key_label(description):
    if description['type'] == 'rsa':
        return 'an RSA %d-bit key' % description['size']
    if description['type'] == 'ec':
        return 'an EC key on %s' % description['curve']
    return 'a %s key' % description['type']


def check_key_matches_parameters(key, path, key_type, key_size, curve):
    """Refuse an existing key of another type or size than asked: it may be certified already."""
    have = describe_key(key)
    want = {'type': key_type, 'size': int(key_size)} if key_type == 'rsa' else {'type': key_type, 'curve': curve}
    if have != want:
        raise DovError(
            "%s holds %s, but %s was asked for. The existing key may already be certified, so it "
            "is kept: ask for what it is, or set regenerate: always to replace it (the old "
            "certificate then stops matching)." % (path, key_label(have), key_label(want)))


# ---------------------------------------------------------------- reading a key

def _pem_label(data):
    """The label of the first PEM block (``'CERTIFICATE'``, ``'PRIVATE KEY'``…) or None."""
    start = data.find(b'-----BEGIN ')
    if start < 0:
        return None
    end = data.find(b'-----', start + 11)
    if end < 0:
        return None
    return data[start + 11:end].decode('ascii', 'replace').strip()


def load_private_key(data, passphrase=None, path='the key file'):
    """Load a PEM private key, or raise a DovError that says what the file is instead."""
    if not data or not data.strip():
        raise DovError(
            "%s is empty. Remove it to have a new key made, or restore the key from a backup." % path)
    label = _pem_label(data)
    if label is None or 'PRIVATE KEY' not in label:
        what = {
            'CERTIFICATE': 'a certificate',
            'CERTIFICATE REQUEST': 'a certificate request (CSR)',
            'NEW CERTIFICATE REQUEST': 'a certificate request (CSR)',
            'PUBLIC KEY': 'a public key',
            'RSA PUBLIC KEY': 'a public key',
            'PKCS7': 'a PKCS#7 certificate bundle',
        }.get(label, 'not a PEM private key' if label is None else 'a PEM block of type %s' % label)
        if what.startswith('not'):
            raise DovError(
                "%s is not a PEM private key (it does not hold a '-----BEGIN ... PRIVATE KEY-----' "
                "block). Point privatekey_path at the key, or move this file away to have a new key "
                "made." % path)
        raise DovError(
            "%s holds %s, not a private key. Point privatekey_path at the key, or move this file "
            "away to have a new key made." % (path, what))
    password = passphrase.encode('utf-8') if passphrase else None
    try:
        return serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        text = str(exc)
        if 'not encrypted' in text:
            raise DovError(
                "%s is not encrypted, but a passphrase was given. Leave privatekey_passphrase out "
                "for this key, or encrypt the key first." % path)
        raise DovError(
            "%s is encrypted and no passphrase was given. Set privatekey_passphrase (from a vault)."
            % path)
    except ValueError as exc:
        if 'ENCRYPTED' in label or b'Proc-Type: 4,ENCRYPTED' in data:
            raise DovError(
                "The passphrase for %s is wrong (the key cannot be decrypted with it). "
                "Use the passphrase the key was made with." % path)
        raise DovError(
            "%s looks like a private key but cannot be read (%s). It may be truncated or "
            "damaged: restore it from a backup." % (path, exc))


def dump_private_key(key, passphrase=None):
    """PEM (PKCS#8) of ``key``, encrypted with ``passphrase`` when one is given."""
    if passphrase:
        encryption = serialization.BestAvailableEncryption(passphrase.encode('utf-8'))
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_fingerprint(key):
    """SHA-256 of the DER SubjectPublicKeyInfo, as colon-separated hex (what openssl shows)."""
    public_key = key.public_key() if hasattr(key, 'public_key') else key
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return ':'.join('%02X' % byte for byte in bytearray(digest.finalize()))


# ---------------------------------------------------------------- CSRs

def check_subject(subject):
    subject = subject or {}
    unknown = sorted(set(subject) - set(SUBJECT_KEYS))
    if unknown:
        raise DovError(
            "Unknown subject field(s): %s. Use only: %s (the CN comes from common_name)."
            % (', '.join(unknown), ', '.join(SUBJECT_KEYS)))
    country = subject.get('C')
    if country is not None and (len(country) != 2 or not country.isalpha() or not country.isupper()):
        raise DovError("The subject's country C=%r is not a two-letter code. Use for example 'BE'." % country)
    for name, value in subject.items():
        if value is not None and not (1 <= len(str(value)) <= 64):
            raise DovError("The subject field %s=%r is empty or longer than 64 characters. Give it 1 to 64 characters." % (name, value))
    return dict((name, str(value)) for name, value in subject.items() if value is not None)


def subject_name(common_name, subject=None):
    """The x509.Name for a CSR: the subject fields in VO-PKI order, with the CN before emailAddress."""
    subject = check_subject(subject)
    oids = _subject_oids()
    attributes = []
    for name in SUBJECT_KEYS:
        if name == 'emailAddress':
            attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        if name in subject:
            attributes.append(x509.NameAttribute(oids[name], subject[name]))
    return x509.Name(attributes)


def build_csr(key, common_name, subject=None):
    name = subject_name(common_name, subject)
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    return builder.sign(key, hashes.SHA256())


def dump_csr(csr):
    return csr.public_bytes(serialization.Encoding.PEM)


def load_csr(data):
    """Parse a PEM CSR; None when it is absent or unreadable (it is then simply rewritten)."""
    if not data:
        return None
    try:
        return x509.load_pem_x509_csr(data)
    except ValueError:
        return None


def common_names(name):
    return [attribute.value for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME)]


def csr_is_current(csr, key, common_name, subject=None):
    """Whether an existing CSR already says what we would write: same subject, same key, signed."""
    if csr is None:
        return False
    if csr.subject != subject_name(common_name, subject):
        return False
    if not compat.same_public_key(csr.public_key(), key):
        return False
    return csr.is_signature_valid


def describe_csr(csr):
    """What diff mode shows of a CSR: never key material."""
    if csr is None:
        return {}
    return {
        'subject': csr.subject.rfc4514_string(),
        'public_key_fingerprint': public_key_fingerprint(csr.public_key()),
    }
