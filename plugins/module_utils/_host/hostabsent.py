# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""``state: absent`` on the host: an entry's files taken off (``absent``, over retire.retire_entry).

``managed_files`` names every file the collection may have written for an entry
(installed.entry_files with every format); ``recogniser`` tells retire which key and CSR files that
the manifest does not record are the collection's (by their public key); ``in_use`` lists the paths
the host's present entries use, which are kept.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import retire
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.lazy import lib
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.hostbase import entry_result
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import FORMATS, entry_files, found_installed


def managed_files(entry):
    """kind -> path of every file the collection may have written for the entry (whatever its
    formats are now): key, CSR, every format's files and the staged ``.next`` key and CSR."""
    return dict(entry_files(entry, formats=FORMATS))


def _fingerprint_of(kind, data, entry):
    """The public key fingerprint of a key or a CSR with the entry's CN; None when it is neither."""
    try:
        if kind in ('key', 'key_next'):
            return lib.pki.public_key_fingerprint(
                lib.pki.load_private_key(data, entry.get('privatekey_passphrase'), path=kind))
        csr = lib.pki.load_csr(data)
        if csr is None or lib.pki.common_names(csr.subject) != [entry['common_name']]:
            return None
        return lib.pki.public_key_fingerprint(csr.public_key())
    except (DovError, ValueError, TypeError):
        return None


def recogniser(entry):
    """retire's ``recognise`` for the files the manifest does not record: a key or CSR is the
    collection's when its public key is the one the manifest records, or when the key and the CSR
    beside it (the entry's CN) carry the same public key, as the csr phase (and a renewal's
    staged ``.next`` files) leave them."""
    files = managed_files(entry)
    partner = {'key': 'csr', 'csr': 'key', 'key_next': 'csr_next', 'csr_next': 'key_next'}

    def recognise(kind, path, data, manifest):
        if kind not in partner:
            return False
        mine = _fingerprint_of(kind, data, entry)
        if mine is None:
            return False
        if manifest and manifest.get('key_fingerprint') == mine:
            return True
        try:
            other = fsutil.read_managed(files[partner[kind]])
        except DovError:
            return False
        return other is not None and _fingerprint_of(partner[kind], other, entry) == mine

    return recognise


def absent(entry, shared=(), check_mode=False, hold=False):
    """``state: absent`` for one entry: what is installed (for the revocation of a retired pair),
    read before anything goes, then every managed file removed (retire.retire_entry); ``shared``:
    paths the host's other entries still use.

    ``hold`` (the prepare call of a retired pair): nothing is removed yet, ``pending`` lists what
    would go. The host's files are the last record of a certificate that is still to be revoked, so
    they go only in the install call that follows the revocation's handover (or request), with
    ``entry['remove']`` (what prepare listed): a path not in that list stays, as a shared one does.
    """
    result = entry_result(entry)
    result.update(state='absent', installed=None, installed_pem=None)
    try:
        result['installed'], result['installed_pem'], _complete = found_installed(entry)
    except DovError:
        pass      # a link under a managed name: retire_entry refuses it with the reason
    files = managed_files(entry)
    if entry.get('remove') is not None:
        allowed = set(os.path.normpath(path) for path in entry['remove'])
        shared = list(shared) + [path for path in files.values() if os.path.normpath(path) not in allowed]
    removal = retire.retire_entry(entry['dest_dir'], files, shared=shared, force=entry.get('force'),
                                  check_mode=check_mode or hold, recognise=recogniser(entry))
    diff = removal.pop('diff')
    if hold:
        removal.update(pending=removal['removed'] + [folder + os.sep for folder in removal['folders_removed']],
                       removed=[], folders_removed=[], changed=False)
    result.update(removal)
    if result['changed']:
        result['diff'] = {'before': ''.join(path + '\n' for path in diff['before']),
                          'after': ''.join(path + '\n' for path in diff['after'])}
    return result


def in_use(entries):
    """The paths the present entries of a host use (kept when another entry is removed)."""
    used = set()
    for entry in entries:
        if entry.get('state') != 'absent':
            try:
                used.update(managed_files(entry).values())
            except DovError:
                pass      # a bad files mapping: that entry fails with the reason itself
    return sorted(used)
