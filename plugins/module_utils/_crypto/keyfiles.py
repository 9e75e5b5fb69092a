# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The key + CSR phase on a host: decide what to write (plan), then write it (apply).

Planning reads and validates everything first and raises DovError before any write, so a
refusal leaves the disk as it was. Applying writes atomically, the key 0600 from creation.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

CSR_MODE = 0o644


def key_mode(mode):
    """An octal mode for a key file (``'0600'``, ``'0400'``, 384); group/other bits are refused."""
    try:
        value = int(mode, 8) if isinstance(mode, str) else int(mode)
    except ValueError:
        raise DovError("The mode %r is not an octal number. Use for example '0600'." % (mode,))
    if value & 0o077:
        raise DovError(
            "The mode %s would let others read the private key. Use '0600' or '0400'." % oct(value))
    return value


def attributes_differ(path, mode, uid, gid):
    """Whether an existing file's mode or owner differs from what is asked."""
    folder = fsutil.open_folder(os.path.dirname(os.path.abspath(path)))
    if folder is None:
        return True
    with folder:
        info = folder.lstat(os.path.basename(path))
    if info is None:
        return True
    return (stat.S_IMODE(info.st_mode) != mode
            or (uid != -1 and info.st_uid != uid)
            or (gid != -1 and info.st_gid != gid))


class KeyAndCsrPlan(object):
    """What the csr phase will do. ``writes`` holds (path, bytes, mode); ``retouch`` the files
    whose content is right but whose mode or owner is not."""

    def __init__(self):
        self.writes = []
        self.retouch = []
        self.folders = []
        self.key_created = False
        self.csr_pem = None
        self.fingerprint = None
        self.uid_gid = (-1, -1)
        self.diff = {'before': {}, 'after': {}}

    @property
    def changed(self):
        return bool(self.writes or self.retouch or self.folders)


def plan_key_and_csr(common_name, privatekey_path, csr_path, key_type='rsa', key_size=2048,
                     curve='secp256r1', subject=None, passphrase=None, regenerate='never',
                     key_mode=0o600, uid_gid=(-1, -1)):
    pki.check_key_parameters(key_type, key_size, curve)
    subject = pki.check_subject(subject)
    plan = KeyAndCsrPlan()
    plan.uid_gid = uid_gid
    uid, gid = uid_gid
    plan.folders = fsutil.missing_dirs(os.path.dirname(os.path.abspath(privatekey_path)))
    plan.folders += [folder for folder in fsutil.missing_dirs(os.path.dirname(os.path.abspath(csr_path)))
                     if folder not in plan.folders]

    key_data = fsutil.read_managed(privatekey_path)     # a key.pem that is a link is refused
    if key_data is not None and regenerate == 'never':
        key = pki.load_private_key(key_data, passphrase, path=privatekey_path)
        pki.check_key_matches_parameters(key, privatekey_path, key_type, key_size, curve)
        if attributes_differ(privatekey_path, key_mode, uid, gid):
            plan.retouch.append((privatekey_path, key_mode))
    else:
        key = pki.generate_private_key(key_type, key_size, curve)
        plan.writes.append((privatekey_path, pki.dump_private_key(key, passphrase), key_mode))
        plan.key_created = True
    plan.fingerprint = pki.public_key_fingerprint(key)

    old_csr = pki.load_csr(fsutil.read_managed(csr_path))
    if pki.csr_is_current(old_csr, key, common_name, subject):
        plan.csr_pem = pki.dump_csr(old_csr)
        if attributes_differ(csr_path, CSR_MODE, uid, gid):
            plan.retouch.append((csr_path, CSR_MODE))
    else:
        plan.csr_pem = pki.dump_csr(pki.build_csr(key, common_name, subject))
        plan.writes.append((csr_path, plan.csr_pem, CSR_MODE))

    new_csr = pki.load_csr(plan.csr_pem)
    plan.diff = {
        'before': dict(pki.describe_csr(old_csr), key_exists=key_data is not None),
        'after': dict(pki.describe_csr(new_csr), key_exists=True),
    }
    return plan


def apply_plan(plan, backup=False, parent_mode=0o700):
    """Write what the plan says. Returns the backups made."""
    uid, gid = plan.uid_gid
    leaves = [folder for folder in plan.folders if not any(other.startswith(folder + os.sep) for other in plan.folders)]
    for folder in leaves:
        # The key's own folder goes to the key's owner (and group: 0750, so that it can read the
        # keystores next to it); missing parents are made ``parent_mode`` and stay the connecting
        # user's (the csr module: 0700; the role, whose application users must reach dest_dir: 0755).
        fsutil.ensure_dir(folder, 0o750 if gid != -1 else 0o700, uid, gid, parent_mode=parent_mode)
    backups = []
    for path, data, mode in plan.writes:
        made = fsutil.atomic_write(path, data, mode=mode, uid=uid, gid=gid, backup=backup)
        if made:
            backups.append(made)
    for path, mode in plan.retouch:
        fsutil.set_attributes(path, mode, uid, gid)
    return backups
