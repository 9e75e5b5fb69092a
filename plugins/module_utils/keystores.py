# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PKCS#12 and JKS keystores with the key, the certificate and its chain.

PKCS#12 is made with python-cryptography in one of two profiles:

- ``modern``: AES-256-CBC with PBKDF2-SHA256 for key and certificates, SHA-256 MAC. OpenSSL 3
  and Java >= 12 (and 8u301+, 11.0.12+) read it.
- ``legacy``: 3DES with SHA-1 and a SHA-1 MAC, for old Java 8 runtimes.

JKS is made by Java's own ``keytool -importkeystore`` from a PKCS#12 file in a private temporary
folder; the passwords reach keytool through environment variables (``-srcstorepass:env``), never
on its command line, where ``ps`` would show them. The key password of the JKS entry is the store
password.

Both formats are randomised (salts, IVs), so "is the keystore up to date?" compares content:
the existing keystore is opened with the password and its key, certificates and alias are
compared (``pkcs12_matches``, ``jks_matches``). A keystore that does not open with the password
is simply out of date.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess
import tempfile
import traceback

from ansible_collections.vlaanderen.dov.plugins.module_utils import certs
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

PROFILES = ('modern', 'legacy')
KDF_ROUNDS = 10000  # what Java uses for its own PKCS#12 files
MIN_JKS_PASSWORD = 6  # keytool refuses shorter store and key passwords
JKS_MAGIC = b'\xfe\xed\xfe\xed'
KEYTOOL_TIMEOUT = 120

# DER of the MAC digest algorithm OIDs in a PKCS#12 MacData.
_MAC_OIDS = {
    b'\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01': 'sha256',
    b'\x06\x05\x2b\x0e\x03\x02\x1a': 'sha1',
}
PROFILE_MAC = {'modern': 'sha256', 'legacy': 'sha1'}


# ---------------------------------------------------------------- options

def check_password(password, option, minimum=1):
    """Refuse a missing or too short keystore password, naming the option."""
    if not password:
        raise DovError("%s is not set. A keystore holds the private key, so it needs a password: set %s (from a vault)."
                       % (option, option))
    if len(password) < minimum:
        raise DovError("%s is shorter than %d characters, which keytool refuses for JKS. Use a longer password."
                       % (option, minimum))
    return password


def check_alias(alias):
    if not alias or not alias.strip() or any(ord(char) < 32 for char in alias):
        raise DovError("The keystore_alias %r is empty or holds control characters. Use for example 'dov-client'." % (alias,))
    return alias


def check_profile(profile):
    if profile not in PROFILES:
        raise DovError("Unknown pkcs12_profile %r. Use one of: %s." % (profile, ', '.join(PROFILES)))
    return profile


# ---------------------------------------------------------------- PKCS#12

def _encryption(password, profile):
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(KDF_ROUNDS)
    if check_profile(profile) == 'modern':
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC).hmac_hash(hashes.SHA256())
    else:
        builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
    return builder.build(password.encode('utf-8'))


def build_pkcs12(key, leaf, chain, password, alias, profile='modern'):
    """PKCS#12 bytes with ``key``, ``leaf`` (friendly name ``alias``) and the ``chain`` certificates."""
    return pkcs12.serialize_key_and_certificates(
        name=check_alias(alias).encode('utf-8'), key=key, cert=leaf, cas=list(chain) or None,
        encryption_algorithm=_encryption(password, profile))


def pkcs12_mac_algorithm(data):
    """'sha256', 'sha1', another OID's DER in hex, or None when the file has no MAC or is not PKCS#12."""
    header = certs.der_header(data)
    if header is None or header[0] != 0x30:
        return None
    offset = header[1]
    for _skip in range(2):  # version, authSafe
        element = certs.der_header(data, offset)
        if element is None:
            return None
        offset += element[1] + element[2]
    for _enter in range(3):  # macData, DigestInfo, AlgorithmIdentifier
        element = certs.der_header(data, offset)
        if element is None or element[0] != 0x30:
            return None
        offset += element[1]
    oid = certs.der_header(data, offset)
    if oid is None or oid[0] != 0x06:
        return None
    value = data[offset:offset + oid[1] + oid[2]]
    return _MAC_OIDS.get(value, value.hex())


def read_pkcs12(data, password):
    """What a PKCS#12 file holds, comparable with ``content_of``; None when it cannot be opened."""
    if not data:
        return None
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode('utf-8') if password else None)
    except (ValueError, TypeError):
        return None
    if loaded.key is None or loaded.cert is None:
        return None
    name = loaded.cert.friendly_name
    return {
        'key': certs.public_key_fingerprint(loaded.key),
        'certificate': certs.fingerprint_sha256(loaded.cert.certificate),
        'chain': sorted(certs.fingerprint_sha256(extra.certificate) for extra in loaded.additional_certs),
        'alias': name.decode('utf-8', 'replace') if name else None,
    }


def content_of(key, leaf, chain, alias):
    """What a keystore made from these should hold (fingerprints and alias: no key material)."""
    return {
        'key': certs.public_key_fingerprint(key),
        'certificate': certs.fingerprint_sha256(leaf),
        'chain': sorted(certs.fingerprint_sha256(cert) for cert in chain),
        'alias': alias,
    }


def pkcs12_matches(data, password, key, leaf, chain, alias, profile='modern'):
    """Whether an existing PKCS#12 file already holds exactly this, opens with ``password``,
    and is of ``profile`` (by its MAC algorithm)."""
    if pkcs12_mac_algorithm(data or b'') != PROFILE_MAC[check_profile(profile)]:
        return False
    return read_pkcs12(data, password) == content_of(key, leaf, chain, alias)


# ---------------------------------------------------------------- JKS with keytool

def find_keytool(keytool=None):
    """The keytool to use: ``keytool`` if given, else $JAVA_HOME/bin/keytool, else the one on PATH."""
    candidates = [keytool] if keytool else []
    if not keytool and os.environ.get('JAVA_HOME'):
        candidates.append(os.path.join(os.environ['JAVA_HOME'], 'bin', 'keytool'))
    if not keytool:
        candidates.append(shutil.which('keytool'))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise DovError(
        "The jks format needs Java's keytool, and there is none on this host%s. Install a Java runtime "
        "(for example the package default-jre-headless or openjdk-17-jre-headless), or use the pkcs12 format, "
        "which Java reads too (keystore type PKCS12)." % (' at %s' % keytool if keytool else ''))


def _keytool(keytool, arguments, secrets, folder):
    """Run keytool with ``secrets`` (name -> value) in its environment only; raise DovError on failure."""
    env = dict(os.environ)
    env.update(secrets)
    env['LC_ALL'] = 'C'
    command = [keytool, '-J-Duser.language=en', '-J-Duser.country=US'] + list(arguments)
    try:
        proc = subprocess.run(command, check=False, env=env, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=KEYTOOL_TIMEOUT, universal_newlines=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DovError("keytool (%s) could not run: %s. Check the Java installation on this host." % (keytool, exc))
    return proc.returncode, proc.stdout


def _private_folder():
    return tempfile.mkdtemp(prefix='dov-keystore-')  # 0700, only this user


def build_jks(key, leaf, chain, password, alias, keytool=None):
    """JKS bytes with the key entry ``alias`` (key password = store password), made by keytool."""
    keytool = find_keytool(keytool)
    folder = _private_folder()
    try:
        source = os.path.join(folder, 'in.p12')
        target = os.path.join(folder, 'out.jks')
        descriptor = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'wb') as handle:
            # the legacy profile: every keytool, old or new, reads it
            handle.write(build_pkcs12(key, leaf, chain, password, alias, 'legacy'))
        returncode, output = _keytool(keytool, [
            '-importkeystore', '-noprompt',
            '-srckeystore', source, '-srcstoretype', 'PKCS12', '-srcstorepass:env', 'DOV_KEYSTORE_PASSWORD',
            '-srcalias', alias, '-srckeypass:env', 'DOV_KEYSTORE_PASSWORD',
            '-destkeystore', target, '-deststoretype', 'JKS', '-deststorepass:env', 'DOV_KEYSTORE_PASSWORD',
            '-destalias', alias, '-destkeypass:env', 'DOV_KEYSTORE_PASSWORD',
        ], {'DOV_KEYSTORE_PASSWORD': password}, folder)
        if returncode != 0 or not os.path.exists(target):
            raise DovError("keytool could not make the JKS keystore: %s. Check the Java installation, or use the "
                           "pkcs12 format." % ' '.join(output.split())[:500])
        with open(target, 'rb') as handle:
            return handle.read()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_jks(data, password, keytool=None):
    """What a JKS file holds (as ``read_pkcs12``), converted back by keytool; None when it does not open."""
    if not data or not data.startswith(JKS_MAGIC):
        return None
    keytool = find_keytool(keytool)
    folder = _private_folder()
    try:
        source = os.path.join(folder, 'in.jks')
        target = os.path.join(folder, 'out.p12')
        descriptor = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(data)
        returncode, _output = _keytool(keytool, [
            '-importkeystore', '-noprompt',
            '-srckeystore', source, '-srcstoretype', 'JKS', '-srcstorepass:env', 'DOV_KEYSTORE_PASSWORD',
            '-destkeystore', target, '-deststoretype', 'PKCS12', '-deststorepass:env', 'DOV_KEYSTORE_PASSWORD',
        ], {'DOV_KEYSTORE_PASSWORD': password}, folder)
        if returncode != 0 or not os.path.exists(target):
            return None
        with open(target, 'rb') as handle:
            return read_pkcs12(handle.read(), password)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def jks_matches(data, password, key, leaf, chain, alias, keytool=None):
    """Whether an existing JKS file opens with ``password`` and holds exactly this.

    JKS stores aliases in lower case, so the alias is compared without regard to case.
    """
    found = read_jks(data, password, keytool)
    if found is None:
        return False
    wanted = content_of(key, leaf, chain, alias)
    found['alias'] = (found['alias'] or '').lower()
    wanted['alias'] = alias.lower()
    return found == wanted
