# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The manifest ``<dest_dir>/.dov-manifest.json``: what the last install left for an entry, so that
the next run's prepare can tell without cryptography that nothing changed.

``write_manifest`` records, after an install without error, the SHA-256, mode and owner of the key
and of every format's files, what decided them (the certificate, the options, salted digests of the
passwords), the key's fingerprint, the description of the certificate and the folders the
collection created. ``read_manifest`` (over ``parse_manifest``, which retire.py uses on the bytes it
reads itself) is the one reader of a manifest: never through a link. ``converged_by_manifest`` returns
the manifest when dest_dir is still exactly as it records; ``days_left_now`` counts its certificate's
days left from now. ``remove_stale_temps`` removes the temporary files a killed run left next to the
entry's files.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import datetime
import hashlib
import json
import os
import stat

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import (
    FORMAT_KINDS, FORMATS, MANIFEST, PREVIOUS, STAGED, entry_files, paths)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _secret_digest(value, salt):
    """A salted, slow digest of a password, so that a changed password is noticed without
    keeping the password (the manifest is 0600 besides)."""
    if not value:
        return None
    return binascii.hexlify(hashlib.pbkdf2_hmac('sha256', value.encode('utf-8'), salt.encode('ascii'), 20000)).decode('ascii')


def _wanted(entry, salt):
    """Everything that decides the installed files, as the manifest records it."""
    options = entry.get('install') or {}
    return {
        'common_name': entry['common_name'],
        'certificate_sha256': _sha256(entry['certificate'].encode('ascii')) if entry.get('certificate') else None,
        'key': [entry.get('key_type') or 'rsa', entry.get('key_size') or 2048, entry.get('curve') or 'secp256r1',
                entry.get('subject') or {}, entry.get('cn_policy') or 'strict'],
        'formats': sorted(options.get('formats') or ['pem']),
        'pkcs12_profile': (options.get('pkcs12_profile') or 'auto') if 'pkcs12' in (options.get('formats') or []) else None,
        'keystore_alias': options.get('keystore_alias') or 'dov-client',
        'mode': str(options.get('mode')) if options.get('mode') is not None else None,
        'owner': entry.get('owner'),
        'group': entry.get('group'),
        'pkcs12_password': _secret_digest(options.get('pkcs12_password'), salt),
        'jks_password': _secret_digest(options.get('jks_password'), salt),
        'passphrase': _secret_digest(entry.get('privatekey_passphrase'), salt),
    }


def _file_record(path):
    """[sha256, mode, uid, gid] of a managed file (content and attributes of the same open file);
    None when it is missing, a link, or anything but a regular file."""
    try:
        found = fsutil.read_managed_with_stat(path)
    except DovError:
        return None
    if found is None:
        return None
    data, info = found
    return [_sha256(data), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid]


def parse_manifest(data):
    """The manifest in ``data`` (its bytes) when it is one this collection writes: a JSON object with
    ``version`` 1 and a ``files`` object; ``created_dirs`` is kept as the absolute paths it lists
    (normalised; [] when it is no list). None for anything else."""
    try:
        manifest = json.loads(data.decode('utf-8'))
    except (AttributeError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get('version') != 1 or not isinstance(manifest.get('files'), dict):
        return None
    created = manifest.get('created_dirs')
    manifest['created_dirs'] = [os.path.normpath(path) for path in (created if isinstance(created, list) else [])
                                if isinstance(path, str) and os.path.isabs(path)]
    return manifest


def read_manifest(dest_dir):
    """The manifest of ``dest_dir`` (``parse_manifest``), read as a managed file: never through a
    link, never blocking on a FIFO, bounded. None when there is none or it is not one."""
    try:
        data = fsutil.read_managed(os.path.join(dest_dir, MANIFEST))
    except DovError:
        return None     # a link or not a regular file: not the collection's manifest
    return parse_manifest(data) if data is not None else None


def write_manifest(entry, key_fingerprint, installed, created=()):
    """Record what ``install`` left in dest_dir, for the next run's cheap converge check, and the
    folders the collection made (``created``, added to those an earlier manifest recorded), which
    ``state: absent`` may remove when they are empty."""
    salt = binascii.hexlify(os.urandom(8)).decode('ascii')
    files = {}
    for _kind, path in entry_files(entry, ('key',) + FORMAT_KINDS, FORMATS):
        record = _file_record(path)
        if record is not None:
            files[path] = record
    earlier = read_manifest(entry['dest_dir'])
    recorded = earlier['created_dirs'] if earlier else []
    folders = sorted(set(recorded) | set(os.path.abspath(path) for path in created or ()))
    manifest = {'version': 1, 'salt': salt, 'wanted': _wanted(entry, salt), 'files': files,
                'key_fingerprint': key_fingerprint, 'installed': installed, 'created_dirs': folders}
    fsutil.atomic_write(os.path.join(entry['dest_dir'], MANIFEST),
                        (json.dumps(manifest, sort_keys=True) + '\n').encode('utf-8'), mode=0o600)


def days_left_now(installed):
    """The manifest's description of the certificate with days_left counted from now."""
    installed = dict(installed or {})
    try:
        end = validity.as_utc(datetime.datetime.strptime(installed['not_after'], '%Y-%m-%dT%H:%M:%SZ'))
    except (KeyError, TypeError, ValueError):
        return installed
    installed['days_left'] = (end - validity.utcnow()).days
    return installed


def converged_by_manifest(entry):
    """The manifest when dest_dir is exactly as the last install left it for this same entry
    (same certificate, options, passwords; every file byte-identical, same mode and owner);
    else None. No cryptography needed."""
    if not entry.get('certificate'):
        return None
    manifest = read_manifest(entry['dest_dir'])     # dest_dir is the owner's: never through a link
    if manifest is None:
        return None
    wanted = json.loads(json.dumps(_wanted(entry, manifest.get('salt') or '')))
    recorded = dict(manifest.get('wanted') or {})
    if wanted['pkcs12_profile'] in ('auto', None):
        # auto is whatever this host wrote (also before auto was the default), and a profile without the
        # pkcs12 format decides nothing: neither makes a converged folder look changed
        recorded['pkcs12_profile'] = wanted['pkcs12_profile']
    if recorded != wanted:
        return None
    files = manifest['files']
    if any(path not in files for _kind, path in entry_files(entry, ('key',) + FORMAT_KINDS)):
        return None     # a manifest that does not list every file the formats make proves nothing
    for path, record in files.items():
        if record is None or _file_record(path) != record:
            return None
    return manifest


def remove_stale_temps(entry):
    """The temporary files a killed run left next to the entry's files (a key's holds the key)."""
    key_path, csr_path = paths(entry)
    names = [os.path.basename(path) + suffix for _kind, path in entry_files(entry, FORMAT_KINDS + ('manifest',), FORMATS)
             for suffix in ('', PREVIOUS)]
    own = [os.path.basename(path) + suffix for path in (key_path, csr_path) for suffix in ('', STAGED, PREVIOUS)]
    removed = fsutil.remove_stale_temps(entry['dest_dir'], names + own)
    for folder, name in ((os.path.dirname(key_path), os.path.basename(key_path)),
                         (os.path.dirname(csr_path), os.path.basename(csr_path))):
        if folder != entry['dest_dir']:
            removed += fsutil.remove_stale_temps(folder, [name, name + STAGED, name + PREVIOUS])
    return removed
