# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The host side's certificate phases for one entry: ``prepare``, ``install`` and ``verify``.

``prepare`` (one call per host, every run) is the cheap converge check and the csr phase: on
the pair's key holder it makes the key and CSR when absent; on every host it reports the key's
fingerprint and whether the certificate the controller knows is installed exactly as asked (first
by the manifest, hostmanifest.py, which needs no cryptography), and it stages a renewal
(rollover.stage_renewal). ``install`` (only on hosts with work) writes a shared key received from
the holder, installs the certificate in every format, runs the mTLS check from the host, and puts
the previous files back when the check fails. ``verify`` runs the mTLS check with what is
installed (read-only). Each certificate's outcome is reported separately; one certificate's
problem does not stop the others.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import shutil
import tempfile

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.lazy import lib
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.hostbase import entry_result
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.hostmanifest import converged_by_manifest, days_left_now, remove_stale_temps, write_manifest
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import (
    FORMATS, INSTALL_SET, certificate_files, entry_files, file_path, found_installed, paths, serves)
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.rollover import drop_previous, keep_previous, promote_staged, stage_renewal, staged_paths


def _install_plan(entry, key_path, now=None, key=None):
    options = entry.get('install') or {}
    return lib.certinstall.plan_install(
        content=entry['certificate'].encode('ascii'), privatekey_path=key_path,
        expected_common_name=entry['common_name'], dest_dir=entry['dest_dir'],
        source='the certificate of %s/%s' % (entry['application'], entry['environment']),
        privatekey_passphrase=entry.get('privatekey_passphrase'),
        ca_bundle=options.get('ca_bundle'), formats=options.get('formats') or ['pem'],
        pkcs12_password=options.get('pkcs12_password'), jks_password=options.get('jks_password'),
        pkcs12_profile=options.get('pkcs12_profile') or 'auto',
        keystore_alias=options.get('keystore_alias') or 'dov-client',
        owner=entry.get('owner'), group=entry.get('group'), mode=options.get('mode'), now=now,
        files=entry.get('files'), key=key)


def prepare(entry, check_mode=False):
    """The csr phase and the converge check for one certificate entry (a dict, see the module)."""
    result = entry_result(entry)
    key_path, csr_path = paths(entry)
    try:
        cn.cn_parts(entry['common_name'], entry.get('cn_policy') or 'strict')
        if not check_mode:
            result['removed_temp_files'] = remove_stale_temps(entry)
            result['changed'] = bool(result['removed_temp_files'])
        manifest = converged_by_manifest(entry)
        if manifest is not None:
            csr = fsutil.read_managed(csr_path) if entry.get('key_holder') else None
            result.update(key_created=False, key_fingerprint=manifest['key_fingerprint'],
                          csr=csr.decode('ascii') if csr else None, installed=days_left_now(manifest['installed']),
                          installed_pem=None, complete=True, converged=True, converged_by='manifest')
            stage_renewal(entry, result, check_mode)
            return result
        uid_gid = fsutil.resolve_owner(entry.get('owner'), entry.get('group'))
        if entry.get('key_holder'):
            plan = lib.keyfiles.plan_key_and_csr(
                common_name=entry['common_name'], privatekey_path=key_path, csr_path=csr_path,
                key_type=entry.get('key_type') or 'rsa', key_size=entry.get('key_size') or 2048,
                curve=entry.get('curve') or 'secp256r1', subject=entry.get('subject') or {},
                passphrase=entry.get('privatekey_passphrase'), key_mode=0o600, uid_gid=uid_gid)
            if serves(entry, plan):
                # A working certificate for this key is installed (by hand, or the cache was lost): no
                # CSR file is needed now and none is written; the CSR is reported all the same.
                plan.writes = [write for write in plan.writes if write[0] != csr_path]
                plan.retouch = [retouch for retouch in plan.retouch if retouch[0] != csr_path]
            if not check_mode:
                lib.keyfiles.apply_plan(plan, parent_mode=0o755)
            result.update(changed=plan.changed or result['changed'], key_created=plan.key_created, key_fingerprint=plan.fingerprint,
                          csr=plan.csr_pem.decode('ascii'))
        else:
            data = fsutil.read_managed(key_path)
            key = lib.pki.load_private_key(data, entry.get('privatekey_passphrase'), path=key_path) if data else None
            result.update(key_created=False, key_fingerprint=lib.pki.public_key_fingerprint(key) if key else None,
                          csr=None)
        result['installed'], result['installed_pem'], result['complete'] = found_installed(entry)
        result['converged'] = False
        if entry.get('certificate') and fsutil.lexists(key_path):
            try:
                result['converged'] = not _install_plan(entry, key_path).changed
            except DovError as error:
                result['install_problem'] = str(error)
        stage_renewal(entry, result, check_mode)
    except DovError as error:
        result['error'] = str(error)
    return result


def _received_key(entry, key_path):
    """(key, FileChange) for the shared key received from the holder when key_path does not hold
    it yet, else (None, None): the key is written with the certificate files, as one set."""
    wanted = entry['privatekey_content'].encode('ascii')
    key = lib.pki.load_private_key(wanted, entry.get('privatekey_passphrase'), path='the key received from the key holder')
    current = fsutil.read_managed(key_path)      # a key.pem that is a link is refused
    if current is not None:
        try:
            if lib.compat.same_public_key(lib.pki.load_private_key(current, entry.get('privatekey_passphrase'), path=key_path), key):
                return None, None
        except DovError:
            pass
    return key, lib.certinstall.FileChange('key', key_path, wanted, 0o600, 'update' if current is not None else 'create')


def _installed(path, what):
    data = fsutil.read_managed(path)       # no link followed, no FIFO blocked on, bounded
    if data is None:
        raise DovError('The %s %s is missing. Run onboard.yml to install it again.' % (what, path))
    return data


def installed_identity(entry, key_path):
    """The client identity the check presents, read from what is installed: cert.pem with the
    key, else bundle.p12, else keystore.jks (read in Python, no Java). Every file is read as a
    managed file: never through a link, never blocking, bounded."""
    options = entry.get('install') or {}
    formats = options.get('formats') or ['pem']
    if 'pem' in formats:
        path = file_path(entry, 'cert')
        found = lib.certload.load_certificates(_installed(path, 'certificate'), path)
        key = lib.pki.load_private_key(_installed(key_path, 'private key'), entry.get('privatekey_passphrase'),
                                       path=key_path)
        return lib.tlsprobe.Identity(found[0], key, found[1:])
    if 'pkcs12' in formats:
        path = file_path(entry, 'pkcs12')
        password = options.get('pkcs12_password')
        try:
            loaded = lib.compat.load_pkcs12(_installed(path, 'PKCS#12 bundle'), password.encode('utf-8') if password else None)
        except ValueError:
            loaded = None
        if loaded is None or loaded.key is None or loaded.cert is None:
            raise DovError('The PKCS#12 bundle %s does not open with pkcs12_password or lacks the key or certificate. '
                           'Run onboard.yml to install it again, or check dov_pkcs12_password.' % path)
        return lib.tlsprobe.Identity(loaded.cert, loaded.key, loaded.additional)
    path = file_path(entry, 'jks')
    opened = lib.keystores.open_jks(fsutil.read_managed(path), options.get('jks_password'))
    if opened is None:
        raise DovError('The keystore %s is missing or does not open with jks_password. Run onboard.yml to install '
                       'it again, or check dov_jks_password.' % path)
    _alias, key, chain = opened
    return lib.tlsprobe.Identity(chain[0], key, chain[1:])


@contextlib.contextmanager
def server_trust(check):
    """The server trust for a check as a file: ``check['ca_bundle_pem']`` (sent from the controller)
    in a private temporary folder for the duration, else ``check['ca_bundle']`` (or None)."""
    if not check.get('ca_bundle_pem'):
        yield check.get('ca_bundle')
        return
    folder = tempfile.mkdtemp(prefix='dov-check-')
    try:
        path = os.path.join(folder, 'server-ca.pem')
        fsutil.atomic_write(path, check['ca_bundle_pem'].encode('ascii'), mode=0o600)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_check(check, identity):
    """The mTLS check (tlsprobe.probe, one connection within ``check['timeout']``) with ``identity``;
    a problem with the local input becomes the verdict ``error``. The hint names the role's
    dov_server_ca_bundle, which is where the server trust of this check comes from."""
    try:
        with server_trust(check) as ca_bundle:
            return lib.tlsprobe.probe(check['url'], ca_bundle=ca_bundle, proxy=check.get('proxy') or None,
                                      timeout=check.get('timeout') or 15, identity=identity,
                                      trust_option='dov_server_ca_bundle')
    except DovError as error:
        return {'verdict': 'error', 'hint': str(error)}


def _profile_note(entry, result):
    """With the pkcs12 format: the profile bundle.p12 was written in (``pkcs12_profile``) and, when
    ``auto`` chose legacy on this host, the run's note saying so and why (``notes``)."""
    options = entry.get('install') or {}
    if 'pkcs12' not in (options.get('formats') or ['pem']):
        return
    profile, note = lib.keystores.resolve_profile(options.get('pkcs12_profile') or 'auto')
    result['pkcs12_profile'] = profile
    if note:
        result.setdefault('notes', []).append(note)


def install(entry, check=None, check_mode=False, now=None):
    """Install one certificate entry and verify it; roll back when the check fails.

    ``check`` is None (no verification) or a dict of tlsprobe.probe options without the client
    identity (url, ca_bundle, proxy, timeout). When the check fails, the previous key and files
    are put back if there were any (a first install stays, so that it can be inspected), and
    the entry carries an ``error``.
    """
    result = entry_result(entry)
    key_path, _csr_path = paths(entry)
    kept = []
    try:
        fsutil.resolve_owner(entry.get('owner'), entry.get('group'))   # an unknown owner: refused first
        if entry.get('staged_key'):
            # renew.yml on the key holder: the staged key goes in with the new certificate, as one set.
            staged = fsutil.read_managed(staged_paths(entry)[0])
            if staged is None:
                raise DovError('The staged key %s is missing, so the renewed certificate cannot be installed. Run '
                               'renew.yml again: a new key and CSR are staged.' % staged_paths(entry)[0])
            entry = dict(entry, privatekey_content=staged.decode('ascii'))
        if check_mode:
            if entry.get('privatekey_content') or not fsutil.lexists(key_path):
                result.update(changed=True, key_received=True)
                return result
            plan = _install_plan(entry, key_path, now)
            result.update(plan.result())
            result['diff'] = plan.diff
            return result
        # The previous key and files, key first: a rollback puts them back in the order they were written.
        kinds = INSTALL_SET if not fsutil.missing_dirs(entry['dest_dir']) else ('key',)
        names = [path for _kind, path in entry_files(entry, kinds, FORMATS)]
        saved = lib.certinstall.snapshot(entry['dest_dir'], names)
        received, key_change = _received_key(entry, key_path) if entry.get('privatekey_content') else (None, None)
        key_changed = key_change is not None
        plan = _install_plan(entry, key_path, now, key=received)
        if key_change is not None:
            plan.files.insert(0, key_change)   # prepared with the other files, renamed first
        if entry.get('keep_previous'):
            kept = keep_previous(saved)        # a renewal: until every host of the pair passed its check
        lib.certinstall.apply_install(plan)
        result.update(plan.result())
        result['diff'] = plan.diff
        result['changed'] = plan.changed or key_changed
        _profile_note(entry, result)
        result['key_received'] = key_changed
        if check is not None:
            # The files just written hold exactly this key and chain, in every format: check with
            # them in memory rather than reading them back.
            outcome = run_check(check, lib.tlsprobe.Identity(plan.checked.leaf, plan.key, plan.checked.chain))
            result['check'] = outcome
            if outcome['verdict'] != 'ok':
                restored = []
                if any(value is not None for name, value in saved.entries.items() if name != key_path):
                    restored = lib.certinstall.restore(saved)
                result['rolled_back'] = restored
                drop_previous(kept)
                if restored:
                    result['changed'] = False     # the previous files are back: nothing to restart for
                result['error'] = 'The mTLS check from this host gave %s: %s%s' % (
                    outcome['verdict'], outcome.get('hint') or '',
                    ' The previous files were put back.' if restored else '')
        if not result.get('error'):
            write_manifest(entry, lib.pki.public_key_fingerprint(plan.checked.leaf.public_key()),
                           plan.checked.describe(), created=plan.folders)
            if (entry.get('staged_key') or entry.get('renewed')) and not entry.get('keep_previous'):
                result['promoted'] = promote_staged(entry)
    except DovError as error:
        drop_previous(kept)
        result['error'] = str(error)
    return result


def verify(entry):
    """The mTLS check with what is installed for one entry (read-only)."""
    result = entry_result(entry)
    key_path, _csr_path = paths(entry)
    if not entry.get('check'):
        result['error'] = 'No check settings were given (dov_verify is false).'
        return result
    if not any(fsutil.lexists(path) for path in certificate_files(entry)):
        result['installed'] = None
        result['error'] = 'No certificate is installed in %s. Run onboard.yml first.' % entry['dest_dir']
        return result
    try:
        identity = installed_identity(entry, key_path)
    except DovError as error:
        result['installed'] = None
        result['error'] = str(error)
        return result
    result['installed'] = lib.certs.describe_certificate(identity.cert)
    result['check'] = run_check(entry['check'], identity)
    if result['check']['verdict'] != 'ok':
        outcome = result['check']
        result['error'] = 'The mTLS check from this host gave %s: %s' % (outcome['verdict'], outcome.get('hint') or '')
    return result
