# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""What every host phase of host_certificates shares: the result dict of one entry
(``entry_result``, ``failed``) and the checks of its folders before anything is read or written
(``check_folders``, ``shared_folders``). The files of an entry and the names beside them are
installed.py's (``entry_files``, ``MANIFEST``, ``STAGED``, ``PREVIOUS``); the module_utils imported
on first use are ``_common/lazy.py``'s ``lib``.

The phases: hostcerts.py (prepare, install, verify), hostmanifest.py (the manifest), rollover.py
(a renewal's staging and settle), hostabsent.py (``state: absent``), hostreport.py (report and the
metrics file).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import paths


def entry_result(entry):
    """The result of one entry before its phase adds to it: its names and paths, nothing changed, no error."""
    key_path, csr_path = paths(entry)
    return {
        'application': entry['application'],
        'environment': entry['environment'],
        'common_name': entry['common_name'],
        'dest_dir': entry['dest_dir'],
        'privatekey_path': key_path,
        'csr_path': csr_path,
        'changed': False,
        'error': None,
    }


def failed(entry, message):
    """The result of an entry that could not be handled: nothing changed, ``message`` as its error."""
    result = entry_result(entry)
    result['error'] = message
    return result


def entry_folders(entry):
    """The folders an entry writes in: dest_dir, and the key's and the CSR's when they lie elsewhere."""
    key_path, csr_path = paths(entry)
    folders = [fsutil.normal_path(entry['dest_dir'])]
    for path in (key_path, csr_path):
        folder = fsutil.normal_path(os.path.dirname(path))
        if folder not in folders:
            folders.append(folder)
    return folders


def check_folders(entry):
    """Refuse (DovError, naming the path) an entry whose paths are not plain absolute paths (control
    characters, relative, the root folder), or whose dest_dir, key or CSR folder is reached through
    a symbolic link that another user could have made, or lies below a folder owned by anyone but
    root, the connecting user or the entry's owner (fsutil.check_owners)."""
    key_path, csr_path = paths(entry)
    for name, value in (('dest_dir', entry['dest_dir']), ('privatekey_path', key_path), ('csr_path', csr_path)):
        problem = fsutil.path_problem(value)
        if problem:
            raise DovError('%s %r %s. Give a plain absolute path, such as /opt/geodrill/dov.' % (name, value, problem))
    fsutil.check_owners(entry_folders(entry), entry.get('owner'))


def shared_folders(entries):
    """``{index: message}`` for the present entries that would share a folder with another one: the
    same dest_dir written two ways (``/x/shared`` and ``/x/shared/``), or two paths to one folder
    (same device and inode). Two pairs in one folder would share one key.pem."""
    seen, clashes = {}, {}
    for index, entry in enumerate(entries):
        if entry.get('state') == 'absent':
            continue
        names = [fsutil.normal_path(entry['dest_dir'])]
        try:
            folder = fsutil.open_folder(entry['dest_dir'])
        except DovError:
            folder = None       # check_folders says why
        if folder is not None:
            with folder:
                names.append(folder.identity)
        for name in names:
            if name in seen and seen[name] != index:
                other = entries[seen[name]]
                for mine, theirs in ((index, other), (seen[name], entry)):
                    clashes[mine] = (
                        "dest_dir %s and the dest_dir %s of %s/%s are one folder; the two certificates would share one "
                        "key.pem and overwrite each other's files. Give each certificate a folder of its own."
                        % (entries[mine]['dest_dir'], theirs['dest_dir'], theirs['application'], theirs['environment']))
            seen.setdefault(name, index)
    return clashes
