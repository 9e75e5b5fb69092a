# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""PKCS#12 and JKS keystores with the key, the certificate and its chain.

PKCS#12 is made with python-cryptography in one of two profiles:

- ``modern``: AES-256-CBC with PBKDF2-SHA256 for key and certificates, SHA-256 MAC. OpenSSL 3
  and Java >= 12 (and 8u301+, 11.0.12+) read it.
- ``legacy``: 3DES with SHA-1 and a SHA-1 MAC, for old Java 8 runtimes.

JKS is made by Java's own ``keytool -importkeystore`` from a PKCS#12 file in a private temporary
folder (``<tmp>/dov-keystores-<uid>/<pid>-<random>``, removed on every outcome, and swept by the
next build when a killed process left it); the passwords reach keytool through environment
variables (``-srcstorepass:env``), never on its command line, where ``ps`` would show them. The key password of the JKS entry is the store
password.

Both formats are randomised (salts, IVs), so "is the keystore up to date?" compares content:
the existing keystore is opened with the password and its key, certificates and alias are
compared (``pkcs12_matches``, ``jks_matches``). A keystore that does not open with the password
is simply out of date. Reading a JKS needs no Java: its format (Sun's JavaKeyStore, integrity
digest and key protection) is read in Python, so only writing one starts keytool.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import contextlib
import errno
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import serialization, x509
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.choices import PKCS12_PROFILES

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
    """The profile to write: ``auto`` resolved for this host (``resolve_profile``); an unknown
    profile refused, and ``modern`` where the host's cryptography cannot write it."""
    if profile not in PKCS12_PROFILES:
        raise DovError("Unknown pkcs12_profile %r. Use one of: %s." % (profile, ', '.join(PKCS12_PROFILES)))
    return compat.check_pkcs12_profile(resolve_profile(profile)[0])


def resolve_profile(profile):
    """(the profile written, a note saying why when ``auto`` chose ``legacy``, else None)."""
    if profile == 'auto':
        return compat.auto_pkcs12_profile()
    return profile, None


# ---------------------------------------------------------------- PKCS#12

def build_pkcs12(key, leaf, chain, password, alias, profile='modern'):
    """PKCS#12 bytes with ``key``, ``leaf`` (friendly name ``alias``) and the ``chain`` certificates."""
    return compat.serialize_pkcs12(check_alias(alias).encode('utf-8'), key, leaf, list(chain) or None,
                                   password.encode('utf-8'), check_profile(profile), KDF_ROUNDS)


def pkcs12_mac_algorithm(data):
    """'sha256', 'sha1', another OID's DER in hex, or None when the file has no MAC or is not PKCS#12."""
    header = compat.der_header(data)
    if header is None or header[0] != 0x30:
        return None
    offset = header[1]
    for _skip in range(2):  # version, authSafe
        element = compat.der_header(data, offset)
        if element is None:
            return None
        offset += element[1] + element[2]
    for _enter in range(3):  # macData, DigestInfo, AlgorithmIdentifier
        element = compat.der_header(data, offset)
        if element is None or element[0] != 0x30:
            return None
        offset += element[1]
    oid = compat.der_header(data, offset)
    if oid is None or oid[0] != 0x06:
        return None
    value = data[offset:offset + oid[1] + oid[2]]
    return _MAC_OIDS.get(value, value.hex())


def open_pkcs12(data, password):
    """(alias, key, certificate, extra certificates) of a PKCS#12 file; None when it cannot be opened.

    ``compat.load_pkcs12``: the friendly name (alias) on every version the hosts run (pyOpenSSL
    reads it before cryptography 36).
    """
    if not data:
        return None
    try:
        loaded = compat.load_pkcs12(data, password.encode('utf-8') if password else None)
    except ValueError:
        return None
    if loaded.cert is None:
        return None
    name = loaded.friendly_name
    return name.decode('utf-8', 'replace') if name else None, loaded.key, loaded.cert, loaded.additional


def read_pkcs12(data, password):
    """What a PKCS#12 file holds, comparable with ``content_of``; None when it cannot be opened."""
    opened = open_pkcs12(data, password)
    if opened is None or opened[1] is None:
        return None
    alias, key, cert, extra = opened
    return {
        'key': pki.public_key_fingerprint(key),
        'certificate': certs.fingerprint_sha256(cert),
        'chain': sorted(certs.fingerprint_sha256(other) for other in extra),
        'alias': alias,
    }


def content_of(key, leaf, chain, alias):
    """What a keystore made from these should hold (fingerprints and alias: no key material)."""
    return {
        'key': pki.public_key_fingerprint(key),
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


KEYTOOL_HOME = 'dov-keystores-%d'    # in the temporary folder, per user id: 0700, this user's only


def keytool_home(base=None):
    """``<tmp>/dov-keystores-<uid>``: the private folder (0700, this user's, not a link) that holds
    the folders of the JKS builds in progress; made when missing. Anything else there is refused."""
    path = os.path.join(base or tempfile.gettempdir(), KEYTOOL_HOME % os.getuid())
    try:
        os.mkdir(path, 0o700)
    except OSError as error:
        if error.errno != errno.EEXIST:
            raise DovError("The private folder %s for keytool cannot be made: %s. Check the temporary folder (TMPDIR) "
                           "on this host." % (path, error.strerror))
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise DovError("%s is not a private folder of this user (a link, another owner, or open to others). Remove it; "
                       "the next run makes it again." % path)
    return path


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno != errno.ESRCH
    return True


def sweep_keytool_home(home, now=None):
    """Remove the folders of JKS builds whose process is gone (a run killed while keytool ran left
    its PKCS#12 input there, with the key): each is named ``<pid>-<random>``. Also the folders that
    earlier versions made directly in the temporary folder (``dov-keystore-<random>``, no pid in the
    name): this user's, once older than any build takes. Returns the removed."""
    removed = []
    for name in sorted(os.listdir(home)):
        pid = name.split('-', 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(os.path.join(home, name), ignore_errors=True)
            removed.append(os.path.join(home, name))
    base = os.path.dirname(home)
    limit = (now if now is not None else time.time()) - 2 * KEYTOOL_TIMEOUT
    for name in sorted(os.listdir(base)):
        if not name.startswith('dov-keystore-'):
            continue
        path = os.path.join(base, name)
        info = os.lstat(path)
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and info.st_mtime < limit:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class _Stopped(BaseException):
    """The process that builds a JKS was told to stop (SIGTERM, SIGHUP): its folder goes first."""


@contextlib.contextmanager
def _private_folder():
    """A folder of this build only, ``<keytool_home>/<pid>-<random>`` (0700), removed on every
    outcome: an error, keytool killed, or this process stopped with SIGTERM or SIGHUP (which
    otherwise end Python without running a ``finally``). Leftovers of dead processes are swept first;
    only SIGKILL can leave one, for the next build to sweep."""
    home = keytool_home()
    sweep_keytool_home(home)
    folder = tempfile.mkdtemp(prefix='%d-' % os.getpid(), dir=home)
    chained = {}

    def stop(signum, _frame):
        raise _Stopped(signum)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            chained[signum] = signal.signal(signum, stop)
    try:
        yield folder
    except _Stopped as stopped:
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(stopped.args[0], chained.pop(stopped.args[0], None) or signal.SIG_DFL)
        os.kill(os.getpid(), stopped.args[0])      # end as the signal would have
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for signum, previous in chained.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


def build_jks(key, leaf, chain, password, alias, keytool=None):
    """JKS bytes with the key entry ``alias`` (key password = store password), made by keytool."""
    keytool = find_keytool(keytool)
    with _private_folder() as folder:
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


class _Reader(object):
    """Big-endian reads over bytes, as Java's DataInputStream writes them."""

    def __init__(self, data):
        self.data = data
        self.offset = 0

    def take(self, count):
        if count < 0 or self.offset + count > len(self.data):
            raise ValueError('truncated')
        chunk = self.data[self.offset:self.offset + count]
        self.offset += count
        return chunk

    def integer(self, size=4):
        return int(binascii.hexlify(self.take(size)), 16)

    def utf(self):
        return self.take(self.integer(2)).decode('utf-8', 'replace')


def _password_bytes(password):
    return password.encode('utf-16-be')


def _unprotect_jks_key(protected, password):
    """The PKCS#8 DER of a JKS key entry (Sun's KeyProtector: SHA-1 keystream XOR), or None."""
    outer = compat.der_header(protected)
    if outer is None or outer[0] != 0x30:
        return None
    algorithm = compat.der_header(protected, outer[1])
    if algorithm is None:
        return None
    offset = outer[1] + algorithm[1] + algorithm[2]
    octets = compat.der_header(protected, offset)
    if octets is None or octets[0] != 0x04:
        return None
    encrypted = protected[offset + octets[1]:offset + octets[1] + octets[2]]
    if len(encrypted) < 41:
        return None
    salt, body, check = encrypted[:20], encrypted[20:-20], encrypted[-20:]
    secret = _password_bytes(password)
    stream = b''
    digest = salt
    while len(stream) < len(body):
        digest = hashlib.sha1(secret + digest).digest()
        stream += digest
    plain = bytes(bytearray(a ^ b for a, b in zip(bytearray(body), bytearray(stream))))
    if hashlib.sha1(secret + plain).digest() != check:
        return None
    return plain


def open_jks(data, password):
    """(alias, key, [certificate, chain...]) of a JKS file, read in Python; None when it is not a JKS
    keystore that opens with ``password`` and holds one key entry.

    The store's integrity digest (SHA-1 over the password, "Mighty Aphrodite" and the content) is
    checked, and the key entry is decrypted, so a wrong password or a damaged file is None.
    No Java is started: the mTLS check of a JKS-only install reads its key and certificate here,
    and a re-run that the manifest cannot answer compares the keystore without keytool.
    """
    if not data or not data.startswith(JKS_MAGIC) or len(data) < 32 or not password:
        return None
    body, digest = data[:-20], data[-20:]
    if hashlib.sha1(_password_bytes(password) + b'Mighty Aphrodite' + body).digest() != digest:
        return None
    try:
        reader = _Reader(body)
        reader.take(4)
        version = reader.integer()
        count = reader.integer()
        entries = []
        for _index in range(count):
            tag = reader.integer()
            alias = reader.utf()
            reader.take(8)  # creation date
            if tag == 1:
                protected = reader.take(reader.integer())
                chain = []
                for _cert in range(reader.integer()):
                    if version == 2:
                        reader.utf()  # certificate type, 'X.509'
                    chain.append(reader.take(reader.integer()))
                entries.append((alias, protected, chain))
            elif tag == 2:
                if version == 2:
                    reader.utf()
                reader.take(reader.integer())
            else:
                return None
    except ValueError:
        return None
    if len(entries) != 1 or not entries[0][2]:
        return None
    alias, protected, chain = entries[0]
    plain = _unprotect_jks_key(protected, password)
    if plain is None:
        return None
    try:
        key = serialization.load_der_private_key(plain, password=None)
        loaded = [x509.load_der_x509_certificate(item) for item in chain]
    except (ValueError, TypeError):
        return None
    return alias, key, loaded


def read_jks(data, password):
    """What a JKS file holds (as ``read_pkcs12``); None when ``open_jks`` cannot open it."""
    opened = open_jks(data, password)
    if opened is None:
        return None
    alias, key, loaded = opened
    return {
        'key': pki.public_key_fingerprint(key),
        'certificate': certs.fingerprint_sha256(loaded[0]),
        'chain': sorted(certs.fingerprint_sha256(cert) for cert in loaded[1:]),
        'alias': alias,
    }


def jks_matches(data, password, key, leaf, chain, alias):
    """Whether an existing JKS file opens with ``password`` and holds exactly this.

    JKS stores aliases in lower case, so the alias is compared without regard to case.
    """
    found = read_jks(data, password)
    if found is None:
        return False
    wanted = content_of(key, leaf, chain, alias)
    found['alias'] = (found['alias'] or '').lower()
    wanted['alias'] = alias.lower()
    return found == wanted
