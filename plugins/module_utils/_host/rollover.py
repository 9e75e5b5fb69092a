# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""renew.yml on the host: a renewal's new key and CSR staged beside the live files, the previous set
kept during the install, and the pair settled once every host of it is done.

In prepare, ``finish_interrupted`` commits a renewal that a killed run installed but did not commit
(its staged key is already the live one) and drops ``.prev`` copies no settle step will use; then
``stage_renewal`` writes on the key holder of a pair that is due (``renewal_due``) the
new key and its CSR as ``key.pem.next`` and ``csr.pem.next`` (``staged_paths``); the live files are
not touched. In install, ``keep_previous`` copies the previous set to ``<path>.prev``
(``drop_previous`` removes such copies) and ``promote_staged`` makes the staged CSR the live one.
``settle`` (phase settle) drops the kept copies when every host of the pair passed its check, or
puts them back when another host failed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.lazy import lib
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.hostbase import entry_result
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import FORMATS, INSTALL_SET, PREVIOUS, STAGED, entry_files, paths


# ---------------------------------------------------------------- the staged key and CSR

def staged_paths(entry):
    """(staged key path, staged CSR path): the live names with the suffix ``.next``."""
    key_path, csr_path = paths(entry)
    return key_path + STAGED, csr_path + STAGED


def renewal_due(renew, installed):
    """Whether a pair is renewed this run: forced, or its installed certificate is in the renewal
    window of ``renew['before_days']`` days (``validity.in_renewal_window``). A pair with no
    certificate installed is onboarded, not renewed."""
    if not installed or installed.get('days_left') is None:
        return False
    return bool(renew.get('force')) or validity.in_renewal_window(installed['days_left'], int(renew.get('before_days') or 0))


def stage_renewal(entry, result, check_mode=False):
    """On the key holder of a pair that renew.yml renews (``entry['renew']``: before_days, force,
    new_key): the new key and its CSR beside the live files as ``key.pem.next`` and ``csr.pem.next``
    (key 0600 from creation; with new_key false only the CSR, for the live key). The live key,
    certificate and keystores are not touched. A staged key that is already there (a renewal that
    waits for its certificate) is kept and its CSR reported again, whether or not the pair is still
    due. Sets ``result['staged']`` (key_path, csr_path, csr, key_fingerprint, new_key, key_created)."""
    if finish_interrupted(entry, result, check_mode):
        return      # a renewal that was installed and not committed: finished, not a new one
    renew = entry.get('renew')
    if not renew or not entry.get('key_holder'):
        return
    key_path, csr_path = paths(entry)
    next_key, next_csr = staged_paths(entry)
    new_key = renew.get('new_key', True)
    waiting = fsutil.read_managed(next_key) is not None if new_key else fsutil.read_managed(next_csr) is not None
    if not waiting and not renewal_due(renew, result.get('installed')):
        return
    plan = lib.keyfiles.plan_key_and_csr(
        common_name=entry['common_name'], privatekey_path=next_key if new_key else key_path, csr_path=next_csr,
        key_type=entry.get('key_type') or 'rsa', key_size=entry.get('key_size') or 2048,
        curve=entry.get('curve') or 'secp256r1', subject=entry.get('subject') or {},
        passphrase=entry.get('privatekey_passphrase'), key_mode=0o600,
        uid_gid=fsutil.resolve_owner(entry.get('owner'), entry.get('group')))
    if not new_key and plan.key_created:
        raise DovError('The live key %s is missing, so the certificate cannot be renewed for it. Run onboard.yml, '
                       'or renew with a new key (dov_renew_key: true).' % key_path)
    if not check_mode:
        lib.keyfiles.apply_plan(plan, parent_mode=0o755)
    result['changed'] = result['changed'] or plan.changed
    result['staged'] = {'key_path': next_key if new_key else key_path, 'csr_path': next_csr,
                        'csr': plan.csr_pem.decode('ascii'), 'key_fingerprint': plan.fingerprint,
                        'new_key': bool(new_key), 'key_created': plan.key_created}


def _staged_is_live(entry, result):
    """Whether the staged files are a renewal that was installed but not committed (a run killed
    between the swap and the commit): the staged key is the live key (``result['key_fingerprint']``,
    the key the installed certificate is for) - a staged key is always new, so only the swap makes
    them equal -, or, for a renewal with the live key (only ``csr.pem.next``), the installed
    certificate is out of the renewal window again (and the renewal was not forced)."""
    next_key, next_csr = staged_paths(entry)
    live = result.get('key_fingerprint')
    data = fsutil.read_managed(next_key)
    if data is not None:
        if not live:
            return False
        try:
            staged = lib.pki.load_private_key(data, entry.get('privatekey_passphrase'), path=next_key)
        except DovError:
            return False
        return lib.pki.public_key_fingerprint(staged) == live
    renew = entry.get('renew')
    if not renew or renew.get('new_key', True) or fsutil.read_managed(next_csr) is None:
        return False
    installed = result.get('installed')
    return bool(installed) and installed.get('days_left') is not None and not renewal_due(renew, installed)


def finish_interrupted(entry, result, check_mode=False):
    """What a renewal killed between its install and its commit left, finished in prepare:

    - on the key holder, staged files that are already live (``_staged_is_live``) are committed as
      the install or settle step would have: the staged CSR becomes the live one, the staged key
      goes. The issuer is not asked again for a key that is already certified (with the manual
      issuer the pair would wait for good, asking for a CSR whose key is live);
    - on every host, the ``.prev`` copies of the previous set (a settle step that never ran): the live
      set is what the run left, and this run's issue step decides from it (a host that lacks the
      renewed certificate gets it, checked, with its own rollback).

    Sets ``result['renewal_committed']`` (the paths committed or removed; in check mode, that would
    be). Returns whether the holder's staged files were committed."""
    done = []
    committed = False
    if entry.get('key_holder') and _staged_is_live(entry, result):
        committed = True
        _key_path, csr_path = paths(entry)
        next_key, next_csr = staged_paths(entry)
        if check_mode:
            done += [path for path, present in ((csr_path, next_csr), (next_key, next_key))
                     if fsutil.read_managed(present) is not None]
        else:
            done += promote_staged(entry)
    leftovers = [path + PREVIOUS for path in _managed(entry) if fsutil.read_managed(path + PREVIOUS) is not None]
    if leftovers and not check_mode:
        drop_previous(leftovers)
    done += leftovers
    if done:
        result['renewal_committed'] = done
        result['changed'] = True
    return committed


def promote_staged(entry):
    """After the renewed pair was installed and checked on the key holder: the staged CSR becomes
    the live CSR, the staged key (now the live key) is removed. Returns the paths changed."""
    _key_path, csr_path = paths(entry)
    next_key, next_csr = staged_paths(entry)
    done = []
    if fsutil.read_managed(next_csr) is not None:
        fsutil.rename(next_csr, csr_path)
        done.append(csr_path)
    if fsutil.read_managed(next_key) is not None:
        fsutil.remove(next_key)
        done.append(next_key)
    if done:
        fsutil.fsync_dir(os.path.dirname(csr_path))
    return done


# ---------------------------------------------------------------- one pair, every host

def _managed(entry):
    return [path for _kind, path in entry_files(entry, INSTALL_SET, FORMATS)]


def keep_previous(saved):
    """Write each file of the Snapshot ``saved`` that existed as ``<path>.prev`` (same bytes, mode and
    owner; the key's copy 0600 like the key), so that the previous set can be put back after another
    host of the pair failed its check. Returns the paths written; the key's first."""
    written = []
    try:
        for name, kept in saved.entries.items():
            if kept is None:
                continue
            path = os.path.join(saved.dest_dir, name)
            data, mode, uid, gid = kept
            tmp = fsutil.write_temp(os.path.dirname(path), os.path.basename(path) + PREVIOUS, data, mode, uid, gid)
            fsutil.rename(tmp, path + PREVIOUS)
            written.append(path + PREVIOUS)
    except BaseException:
        drop_previous(written)
        raise
    return written


def drop_previous(kept):
    for path in kept:
        fsutil.remove(path)


def settle(entry):
    """After a renewal's install on every host of the pair (``entry['settle']``): ``commit`` (every host
    passed its check) drops the kept previous set and, on the key holder, makes the staged CSR the live
    one; ``restore`` (another host failed) puts the previous set back byte-identically from the
    ``.prev`` copies, the key first, and keeps the staged key for the next run. A host without kept
    copies (it rolled back itself) is left as it is."""
    result = entry_result(entry)
    names = _managed(entry)
    if fsutil.read_managed(names[0] + PREVIOUS) is None:
        return result
    try:
        if entry.get('settle') == 'restore':
            steps = []
            for path in names:
                if fsutil.read_managed(path + PREVIOUS) is not None:
                    steps.append(('rename', path))
                elif fsutil.lexists(path):
                    steps.append(('remove', path))      # did not exist before the renewal
            for action, path in steps:
                if action == 'rename':
                    fsutil.rename(path + PREVIOUS, path)
                else:
                    fsutil.remove(path)
            fsutil.fsync_dir(entry['dest_dir'])
            result.update(changed=True, rolled_back=[path for _action, path in steps])
        else:
            drop_previous([path + PREVIOUS for path in names if fsutil.lexists(path + PREVIOUS)])
            if entry.get('staged_key') or entry.get('renewed'):
                result['promoted'] = promote_staged(entry)
            result['changed'] = True
    except DovError as error:
        result['error'] = str(error)
    return result
