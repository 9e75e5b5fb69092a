# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""What a deployed certificate says about itself: CN parts, dates, days left, renewal due.

``read_certificate_file`` opens a file in any form a DOV certificate is deployed in — PEM, DER,
PKCS#7 (``certload.load_certificates``), PKCS#12 (``keystores.open_pkcs12``) or JKS
(``keystores.open_jks``) — and ``certificate_info`` describes its leaf certificate
(``certs.describe_certificate`` plus CN parts, key, extended key usage and the renewal verdict).

Runs on the hosts: it works with cryptography >= 3.4.8 (the dates are read with
``compat.not_valid_after``, which falls back from ``not_valid_after_utc`` to ``not_valid_after``, and the
leaf of a bundle is picked by names, without ``verify_directly_issued_by``). Reading never
changes anything; every refusal is a DovError with what is wrong and what to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, compat, fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, keystores
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import dsa, ec, ed448, ed25519, rsa, x509
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


# ---------------------------------------------------------------- reading

def _open_pkcs12(data, path, password):
    opened = keystores.open_pkcs12(data, password)
    if opened is None and not password:
        raise DovError("%s is a PKCS#12 keystore that needs a password. Give it in pkcs12_password." % path)
    if opened is None:
        raise DovError("%s is a PKCS#12 keystore that does not open with the given pkcs12_password (a wrong "
                       "password or a damaged file). Give the keystore's password." % path)
    _alias, _key, leaf, extra = opened
    return 'pkcs12', [leaf] + list(extra)


def _open_jks(data, path, password):
    if not password:
        raise DovError("%s is a JKS keystore, which is read with its password. Give it in jks_password." % path)
    opened = keystores.open_jks(data, password)
    if opened is None:
        raise DovError("%s is a JKS keystore that does not open with the given jks_password (a wrong password, "
                       "a damaged file, or not exactly one key entry). Give the keystore's password." % path)
    return 'jks', list(opened[2])


def _pem_or_der(data):
    if b'-----BEGIN ' in data:
        return 'pkcs7' if b'PKCS7' in data or b'PKCS #7' in data or b'BEGIN CMS' in data else 'pem'
    if data[:1] == b'\x30':
        try:
            x509.load_der_x509_certificate(data)
            return 'der'
        except ValueError:
            return 'pkcs7'
    return 'base64'


def read_certificate_file(path, pkcs12_password=None, jks_password=None):
    """(format, certificates) of the file at ``path``; format is pem, der, pkcs7, base64, pkcs12 or jks.

    The form is told from the content, not the name. Raises DovError for a missing, unreadable,
    empty or non-certificate file, and for a keystore without (or with the wrong) password.
    """
    compat.check_cryptography()
    if os.path.isdir(path):
        raise DovError("%s is a folder, not a certificate file. Point path at the certificate (for example "
                       "<dest_dir>/cert.pem)." % path)
    data = fsutil.read_bytes(path)
    if data is None:
        raise DovError("%s does not exist. Point path at a deployed certificate (for example <dest_dir>/cert.pem)." % path)
    if data.startswith(keystores.JKS_MAGIC):
        return _open_jks(data, path, jks_password)
    if certload.looks_like_pkcs12(data):
        return _open_pkcs12(data, path, pkcs12_password)
    return _pem_or_der(data), certload.load_certificates(data, path)


def leaf_of(certificates):
    """The end-entity certificate of a bundle: not a CA and the issuer of none of the others
    (compared by name: a description needs no signature check); else the first."""
    for cert in certificates:
        if certs.is_ca(cert):
            continue
        if any(other is not cert and other.issuer == cert.subject and other.subject != cert.subject
               for other in certificates):
            continue
        return cert
    return certificates[0]


# ---------------------------------------------------------------- describing

def key_description(public_key):
    """(key_type, key_size) of a public key: ('RSA', 2048), ('EC', 256), ('Ed25519', 256) ..."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return 'RSA', public_key.key_size
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return 'EC', public_key.curve.key_size
    if isinstance(public_key, dsa.DSAPublicKey):
        return 'DSA', public_key.key_size
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return 'Ed25519', 256
    if isinstance(public_key, ed448.Ed448PublicKey):
        return 'Ed448', 456
    return public_key.__class__.__name__, None


def extended_key_usage(cert):
    """The EKU names (clientAuth, serverAuth, or the dotted OID of another); None without the extension."""
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return [certs.usage_name(oid) for oid in usages]


def cn_parts(common_name):
    """The parts of a DOV CN as the dov_cn_parse filter gives them; None when it is not DOV-shaped."""
    if not common_name:
        return None
    try:
        return cn.parse_cn(common_name)
    except DovError:
        return None


def check_renew_before_days(value):
    if value is None:
        return validity.DEFAULT_RENEW_BEFORE_DAYS
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DovError("renew_before_days must be a whole number of days, 0 or more, not %r. Leave it out for %d."
                       % (value, validity.DEFAULT_RENEW_BEFORE_DAYS))
    return value


def certificate_info(cert, renew_before_days=validity.DEFAULT_RENEW_BEFORE_DAYS, now=None):
    """Everything cert_info returns about one certificate (no key material).

    ``days_left`` counts whole days and is negative once expired; ``needs_renewal`` is true when
    it is expired or has ``renew_before_days`` days left or fewer (``validity.in_renewal_window``,
    the rule renew.yml renews by).
    """
    renew_before_days = check_renew_before_days(renew_before_days)
    now = now or validity.utcnow()
    info = certs.describe_certificate(cert, now)
    key_type, key_size = key_description(cert.public_key())
    expired = now > compat.not_valid_after(cert)
    info.update({
        'cn_parts': cn_parts(info['common_name']),
        'expired': expired,
        'not_yet_valid': now < compat.not_valid_before(cert),
        'needs_renewal': validity.in_renewal_window(info['days_left'], renew_before_days),
        'renew_before_days': renew_before_days,
        'key_type': key_type,
        'key_size': key_size,
        'extended_key_usage': extended_key_usage(cert),
    })
    return info


def cert_info(path, pkcs12_password=None, jks_password=None, renew_before_days=validity.DEFAULT_RENEW_BEFORE_DAYS,
              now=None):
    """Read the file at ``path`` and describe its leaf certificate; adds ``path``, ``format`` and
    ``chain_length`` (how many other certificates came with it)."""
    renew_before_days = check_renew_before_days(renew_before_days)
    form, certificates = read_certificate_file(path, pkcs12_password, jks_password)
    leaf = leaf_of(certificates)
    info = certificate_info(leaf, renew_before_days, now)
    info.update({'path': path, 'format': form, 'chain_length': len(certificates) - 1})
    return info
