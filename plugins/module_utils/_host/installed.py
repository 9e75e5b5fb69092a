# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""What is in a certificate entry's ``dest_dir`` now, as the host reads it (hostcerts' prepare and
verify): which files belong to the entry and where each is (``entry_files``, ``paths``,
``file_path``, with ``dov_certificates[].files``; ``MANIFEST``, ``STAGED`` and ``PREVIOUS``, the
names beside the live files), the installed certificate and chain (``installed_certificates``),
and what the prepare phase reports of it for the controller to trust or not (``found_installed``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.lazy import lib

MANIFEST = '.dov-manifest.json'
STAGED = '.next'    # suffix of a renewal's new key and CSR beside the live ones (key.pem.next, csr.pem.next)
PREVIOUS = '.prev'  # suffix of the previous set a renewal keeps until every host of the pair is checked
KEY_NAME = 'key.pem'
CSR_NAME = 'csr.pem'
FORMATS = ('pem', 'pkcs12', 'jks')
# (kind, default file name in dest_dir, format)
FILES = (
    ('cert', 'cert.pem', 'pem'),
    ('chain', 'chain.pem', 'pem'),
    ('fullchain', 'fullchain.pem', 'pem'),
    ('pkcs12', 'bundle.p12', 'pkcs12'),
    ('jks', 'keystore.jks', 'jks'),
)
FILE_NAMES = tuple(file_name for _kind, file_name, _format in FILES)
FORMAT_KINDS = tuple(kind for kind, _file_name, _format in FILES)
FILE_KINDS = ('key', 'csr') + FORMAT_KINDS
# the file that holds the certificate in each format
CERTIFICATE_KINDS = (('pem', 'cert'), ('pkcs12', 'pkcs12'), ('jks', 'jks'))
# every kind ``entry_files`` knows, in its order; INSTALL_SET: what an install writes and a rollback
# or a renewal's settle puts back, the key first (the order they are written in)
ENTRY_KINDS = FILE_KINDS + ('manifest', 'key_next', 'csr_next')
INSTALL_SET = ('key',) + FORMAT_KINDS + ('manifest',)


def file_names(files=None):
    """``{kind: file name in dest_dir}`` for key, csr, cert, chain, fullchain, pkcs12 and jks:
    the defaults (key.pem, csr.pem, cert.pem, ...) with the names in ``files`` (the inventory's
    ``dov_certificates[].files``) instead. Raises DovError for an unknown kind or a name that is
    not a plain file name, or two kinds given one name."""
    names = {'key': KEY_NAME, 'csr': CSR_NAME}
    names.update((kind, file_name) for kind, file_name, _format in FILES)
    for kind, file_name in sorted((files or {}).items()):
        if kind not in names:
            raise DovError("files names %r, which is not a file of a certificate. Use %s."
                           % (kind, ', '.join(FILE_KINDS)))
        text = str(file_name or '')
        if (not text or text in ('.', '..') or '/' in text or '\\' in text or text.startswith('.')
                or any(ord(char) < 32 for char in text)):
            raise DovError("files.%s is %r, which is not a plain file name inside dest_dir. Give a name such as "
                           "client.crt (no folder, not starting with a dot)." % (kind, file_name))
        names[kind] = text
    taken = {}
    for kind in FILE_KINDS:
        if names[kind] in taken:
            raise DovError("files gives %s and %s the same name %r. Give each file its own name."
                           % (taken[names[kind]], kind, names[kind]))
        taken[names[kind]] = kind
    return names


def paths(entry):
    """(key path, CSR path) of an entry: ``<dest_dir>/key.pem`` and ``csr.pem`` beside the key,
    unless given as paths or renamed in ``files``."""
    files = entry.get('files') or {}
    key_path = entry.get('privatekey_path') or os.path.join(entry['dest_dir'], files.get('key') or KEY_NAME)
    csr_path = entry.get('csr_path') or os.path.join(os.path.dirname(key_path), files.get('csr') or CSR_NAME)
    return key_path, csr_path


def file_path(entry, kind):
    """Where the file of ``kind`` (cert, chain, fullchain, pkcs12, jks) is in the entry's dest_dir."""
    return os.path.join(entry['dest_dir'], file_names(entry.get('files'))[kind])


def entry_files(entry, kinds=ENTRY_KINDS, formats=None):
    """``[(kind, path)]`` of the files that belong to an entry, in this order (the key first, as an
    install writes them): ``key`` and ``csr`` (where ``paths`` puts them), the files of ``formats``
    in dest_dir with the entry's ``files`` names (pem: cert, chain, fullchain; pkcs12; jks),
    ``manifest`` (``<dest_dir>/.dov-manifest.json``) and a renewal's staged ``key_next`` and
    ``csr_next`` (``key.pem.next``, ``csr.pem.next``). Only the ``kinds`` asked for; ``formats``:
    the entry's own formats when None, ``FORMATS`` for every file the entry may have written,
    whatever its formats are now. Raises DovError for a bad ``files`` mapping (``file_names``)."""
    names = file_names(entry.get('files'))
    formats = formats or (entry.get('install') or {}).get('formats') or ['pem']
    key_path, csr_path = paths(entry)
    found = [('key', key_path), ('csr', csr_path)]
    found += [(kind, os.path.join(entry['dest_dir'], names[kind])) for kind, _name, file_format in FILES if file_format in formats]
    found += [('manifest', os.path.join(entry['dest_dir'], MANIFEST)), ('key_next', key_path + STAGED),
              ('csr_next', csr_path + STAGED)]
    return [(kind, path) for kind, path in found if kind in kinds]


def certificate_files(entry):
    """The paths of the files that hold the certificate in the entry's formats (cert.pem,
    bundle.p12, keystore.jks), in the order of ``FILES``."""
    formats = (entry.get('install') or {}).get('formats') or ['pem']
    holders = [kind for file_format, kind in CERTIFICATE_KINDS if file_format in formats]
    return [path for _kind, path in entry_files(entry, holders, formats)]


def installed_certificates(entry):
    """The certificates installed for ``entry`` now, leaf first: the cert file (``cert.pem``)
    with the chain file beside it, else those in ``bundle.p12`` or ``keystore.jks`` (with the
    entry's ``install`` passwords); [] when there are none or they cannot be read. A managed name
    that is a symbolic link is refused (DovError naming it): it is never read, adopted or copied."""
    options = entry.get('install') or {}
    data = fsutil.read_managed(file_path(entry, 'cert'))
    chain = fsutil.read_managed(file_path(entry, 'chain')) if data else None
    bundle = None if data else fsutil.read_managed(file_path(entry, 'pkcs12'))
    keystore = None if data or bundle else fsutil.read_managed(file_path(entry, 'jks'))
    try:
        if data:
            found = lib.certload.load_certificates(data, 'cert.pem')
            if len(found) == 1 and chain and chain.strip():
                found += lib.certload.load_certificates(chain, 'chain.pem')
            return found
        if bundle and options.get('pkcs12_password'):
            loaded = lib.compat.load_pkcs12(bundle, options['pkcs12_password'].encode('utf-8'))
            return [loaded.cert] + loaded.additional if loaded.cert is not None else []
        if keystore and options.get('jks_password'):
            opened = lib.keystores.open_jks(keystore, options['jks_password'])
            return list(opened[2]) if opened else []
    except (DovError, ValueError):
        return []
    return []


def serves(entry, plan):
    """Whether the installed certificate is for the planned (existing) key, has the entry's CN and
    has not expired: what the host can tell; the controller also checks client use and the CA."""
    if plan.key_created:
        return False
    found = installed_certificates(entry)
    if not found:
        return False
    leaf = found[0]
    return (lib.pki.public_key_fingerprint(leaf.public_key()) == plan.fingerprint
            and lib.pki.common_names(leaf.subject) == [entry['common_name']]
            and lib.certs.days_left(leaf) > 0)


def found_installed(entry):
    """What the prepare phase reports of the installed certificate, for the controller to check
    against the pair (key, CN, client authentication, CA bundle, expiry) and to hand to the
    pair's other hosts, and whether the certificate file of every format the entry has exists:
    ``(description, PEM of leaf + chain, complete)``, or ``(None, None, False)``."""
    found = installed_certificates(entry)
    if not found:
        return None, None, False
    complete = all(fsutil.lexists(path) for path in certificate_files(entry))
    return (lib.certs.describe_certificate(found[0]), lib.certload.dump_pem(found).decode('ascii'), complete)
