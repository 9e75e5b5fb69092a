# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""All of one host's DOV certificates in one call: the role's two host-side phases.

``prepare`` (one call per host, every run) is the cheap converge check and the csr phase: on
the pair's key holder it makes the key and CSR when absent; on every host it reports the key's
fingerprint and whether the certificate the controller knows is installed exactly as asked.
``install`` (only on hosts with work) writes a shared key received from the holder, installs
the certificate in every format, runs the mTLS check from the host, and puts the previous files
back when the check fails. Each certificate's outcome is reported separately; one certificate's
problem does not stop the others.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import contextlib
import datetime
import hashlib
import json
import os
import shutil
import stat
import tempfile

from ansible_collections.vlaanderen.dov.plugins.module_utils import cn, fsutil, metrics
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils.installed import (
    FORMATS, file_names as installed_file_names, file_path, format_paths, found_installed, installed_certificates, paths,
    serves)

MANIFEST = '.dov-manifest.json'
STAGED = '.next'    # suffix of a renewal's new key and CSR beside the live ones (key.pem.next, csr.pem.next)
PREVIOUS = '.prev'  # suffix of the previous set a renewal keeps until every host of the pair is checked


class _Lazy(object):
    """The crypto-heavy helpers, each imported on first use: a re-run whose manifest shows that
    nothing changed never loads cryptography, and only the install phase loads pyOpenSSL."""

    def __getattr__(self, name):
        # Written out (not importlib) so that Ansible packs these module_utils with the module.
        if name == 'pki':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import pki as module
        elif name == 'keyfiles':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import keyfiles as module
        elif name == 'certs':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import certs as module
        elif name == 'certinstall':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import certinstall as module
        elif name == 'certinfo':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import certinfo as module
        elif name == 'keystores':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import keystores as module
        elif name == 'tlsprobe':
            from ansible_collections.vlaanderen.dov.plugins.module_utils import compat, tlsprobe as module
            compat.check_cryptography()
            if compat.pyopenssl_version() is not None:   # missing: the probe says so, when a check runs
                compat.check_pyopenssl()
            return module
        else:
            raise AttributeError(name)
        from ansible_collections.vlaanderen.dov.plugins.module_utils import compat
        compat.check_cryptography()
        return module


_lib = _Lazy()


def _base(entry):
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
    result = _base(entry)
    result['error'] = message
    return result


def _install_plan(entry, key_path, now=None, key=None):
    options = entry.get('install') or {}
    return _lib.certinstall.plan_install(
        content=entry['certificate'].encode('ascii'), privatekey_path=key_path,
        expected_common_name=entry['common_name'], dest_dir=entry['dest_dir'],
        source='the certificate of %s/%s' % (entry['application'], entry['environment']),
        privatekey_passphrase=entry.get('privatekey_passphrase'),
        ca_bundle=options.get('ca_bundle'), formats=options.get('formats') or ['pem'],
        pkcs12_password=options.get('pkcs12_password'), jks_password=options.get('jks_password'),
        pkcs12_profile=options.get('pkcs12_profile') or 'modern',
        keystore_alias=options.get('keystore_alias') or 'dov-client',
        owner=entry.get('owner'), group=entry.get('group'), mode=options.get('mode'), now=now,
        files=entry.get('files'), key=key)


# ---------------------------------------------------------------- the manifest

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
        'pkcs12_profile': options.get('pkcs12_profile') or 'modern',
        'keystore_alias': options.get('keystore_alias') or 'dov-client',
        'mode': str(options.get('mode')) if options.get('mode') is not None else None,
        'owner': entry.get('owner'),
        'group': entry.get('group'),
        'pkcs12_password': _secret_digest(options.get('pkcs12_password'), salt),
        'jks_password': _secret_digest(options.get('jks_password'), salt),
        'passphrase': _secret_digest(entry.get('privatekey_passphrase'), salt),
    }


def _file_record(path):
    """[sha256, mode, uid, gid] of a managed file; None when it is missing or is a link."""
    try:
        data = fsutil.read_managed(path)
    except DovError:
        return None
    if data is None:
        return None
    info = os.lstat(path)
    return [_sha256(data), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid]


def _manifest_files(entry):
    key_path, _csr_path = paths(entry)
    return format_paths(entry, FORMATS) + [key_path]


def _created_dirs(entry):
    """The folders an earlier manifest of the entry records as made by the collection."""
    try:
        data = fsutil.read_managed(os.path.join(entry['dest_dir'], MANIFEST))
        manifest = json.loads(data.decode('utf-8')) if data else {}
    except (DovError, ValueError):
        return []
    created = manifest.get('created_dirs') if isinstance(manifest, dict) else None
    return [path for path in created or [] if isinstance(path, str) and os.path.isabs(path)]


def write_manifest(entry, key_fingerprint, installed, created=()):
    """Record what ``install`` left in dest_dir, for the next run's cheap converge check, and the
    folders the collection made (``created``, added to those an earlier manifest recorded), which
    ``state: absent`` may remove when they are empty."""
    salt = binascii.hexlify(os.urandom(8)).decode('ascii')
    files = {}
    for path in _manifest_files(entry):
        record = _file_record(path)
        if record is not None:
            files[path] = record
    folders = sorted(set(_created_dirs(entry)) | set(os.path.abspath(path) for path in created or ()))
    manifest = {'version': 1, 'salt': salt, 'wanted': _wanted(entry, salt), 'files': files,
                'key_fingerprint': key_fingerprint, 'installed': installed, 'created_dirs': folders}
    fsutil.atomic_write(os.path.join(entry['dest_dir'], MANIFEST),
                        (json.dumps(manifest, sort_keys=True) + '\n').encode('utf-8'), mode=0o600)


def _days_left_now(installed):
    """The manifest's description of the certificate with days_left counted from now."""
    installed = dict(installed or {})
    try:
        end = datetime.datetime.strptime(installed['not_after'], '%Y-%m-%dT%H:%M:%SZ')
    except (KeyError, TypeError, ValueError):
        return installed
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    installed['days_left'] = (end - now).days
    return installed


def converged_by_manifest(entry):
    """The manifest when dest_dir is exactly as the last install left it for this same entry
    (same certificate, options, passwords; every file byte-identical, same mode and owner);
    else None. No cryptography needed."""
    if not entry.get('certificate'):
        return None
    data = fsutil.read_bytes(os.path.join(entry['dest_dir'], MANIFEST))
    try:
        manifest = json.loads(data.decode('utf-8')) if data else None
    except ValueError:
        return None
    if not manifest or manifest.get('version') != 1:
        return None
    if manifest.get('wanted') != json.loads(json.dumps(_wanted(entry, manifest.get('salt') or ''))):
        return None
    files = manifest.get('files') or {}
    key_path, _csr_path = paths(entry)
    produced = format_paths(entry)
    if any(path not in files for path in [key_path] + produced):
        return None     # a manifest that does not list every file the formats make proves nothing
    for path, record in files.items():
        if record is None or _file_record(path) != record:
            return None
    return manifest


def remove_stale_temps(entry):
    """The temporary files a killed run left next to the entry's files (a key's holds the key)."""
    key_path, csr_path = paths(entry)
    names = [os.path.basename(path) + suffix for path in format_paths(entry, FORMATS) for suffix in ('', PREVIOUS)]
    names += [MANIFEST, MANIFEST + PREVIOUS]
    own = [os.path.basename(path) + suffix for path in (key_path, csr_path) for suffix in ('', STAGED, PREVIOUS)]
    removed = fsutil.remove_stale_temps(entry['dest_dir'], names + own)
    for folder, name in ((os.path.dirname(key_path), os.path.basename(key_path)),
                         (os.path.dirname(csr_path), os.path.basename(csr_path))):
        if folder != entry['dest_dir']:
            removed += fsutil.remove_stale_temps(folder, [name, name + STAGED, name + PREVIOUS])
    return removed


def prepare(entry, check_mode=False):
    """The csr phase and the converge check for one certificate entry (a dict, see the module)."""
    result = _base(entry)
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
                          csr=csr.decode('ascii') if csr else None, installed=_days_left_now(manifest['installed']),
                          installed_pem=None, complete=True, converged=True, converged_by='manifest')
            stage_renewal(entry, result, check_mode)
            return result
        uid_gid = _lib.keyfiles.resolve_owner(entry.get('owner'), entry.get('group'))
        if entry.get('key_holder'):
            plan = _lib.keyfiles.plan_key_and_csr(
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
                _lib.keyfiles.apply_plan(plan, parent_mode=0o755)
            result.update(changed=plan.changed or result['changed'], key_created=plan.key_created, key_fingerprint=plan.fingerprint,
                          csr=plan.csr_pem.decode('ascii'))
        else:
            data = fsutil.read_managed(key_path)
            key = _lib.pki.load_private_key(data, entry.get('privatekey_passphrase'), path=key_path) if data else None
            result.update(key_created=False, key_fingerprint=_lib.pki.public_key_fingerprint(key) if key else None,
                          csr=None)
        result['installed'], result['installed_pem'], result['complete'] = found_installed(entry)
        result['converged'] = False
        if entry.get('certificate') and os.path.exists(key_path):
            try:
                result['converged'] = not _install_plan(entry, key_path).changed
            except DovError as error:
                result['install_problem'] = str(error)
        stage_renewal(entry, result, check_mode)
    except DovError as error:
        result['error'] = str(error)
    return result


# ---------------------------------------------------------------- renewal: the staged key and CSR

def staged_paths(entry):
    """(staged key path, staged CSR path): the live names with the suffix ``.next``."""
    key_path, csr_path = paths(entry)
    return key_path + STAGED, csr_path + STAGED


def renewal_due(renew, installed):
    """Whether a pair is renewed this run: forced, or its installed certificate has at most
    ``renew['before_days']`` days left. A pair with no certificate installed is onboarded, not renewed."""
    if not installed or installed.get('days_left') is None:
        return False
    return bool(renew.get('force')) or installed['days_left'] <= int(renew.get('before_days') or 0)


def stage_renewal(entry, result, check_mode=False):
    """On the key holder of a pair that renew.yml renews (``entry['renew']``: before_days, force,
    new_key): the new key and its CSR beside the live files as ``key.pem.next`` and ``csr.pem.next``
    (key 0600 from creation; with new_key false only the CSR, for the live key). The live key,
    certificate and keystores are not touched. A staged key that is already there (a renewal that
    waits for its certificate) is kept and its CSR reported again, whether or not the pair is still
    due. Sets ``result['staged']`` (key_path, csr_path, csr, key_fingerprint, new_key, key_created)."""
    renew = entry.get('renew')
    if not renew or not entry.get('key_holder'):
        return
    key_path, csr_path = paths(entry)
    next_key, next_csr = staged_paths(entry)
    new_key = renew.get('new_key', True)
    waiting = fsutil.read_managed(next_key) is not None if new_key else fsutil.read_managed(next_csr) is not None
    if not waiting and not renewal_due(renew, result.get('installed')):
        return
    plan = _lib.keyfiles.plan_key_and_csr(
        common_name=entry['common_name'], privatekey_path=next_key if new_key else key_path, csr_path=next_csr,
        key_type=entry.get('key_type') or 'rsa', key_size=entry.get('key_size') or 2048,
        curve=entry.get('curve') or 'secp256r1', subject=entry.get('subject') or {},
        passphrase=entry.get('privatekey_passphrase'), key_mode=0o600,
        uid_gid=_lib.keyfiles.resolve_owner(entry.get('owner'), entry.get('group')))
    if not new_key and plan.key_created:
        raise DovError('The live key %s is missing, so the certificate cannot be renewed for it. Run onboard.yml, '
                       'or renew with a new key (dov_renew_key: true).' % key_path)
    if not check_mode:
        _lib.keyfiles.apply_plan(plan, parent_mode=0o755)
    result['changed'] = result['changed'] or plan.changed
    result['staged'] = {'key_path': next_key if new_key else key_path, 'csr_path': next_csr,
                        'csr': plan.csr_pem.decode('ascii'), 'key_fingerprint': plan.fingerprint,
                        'new_key': bool(new_key), 'key_created': plan.key_created}


def promote_staged(entry):
    """After the renewed pair was installed and checked on the key holder: the staged CSR becomes
    the live CSR, the staged key (now the live key) is removed. Returns the paths changed."""
    _key_path, csr_path = paths(entry)
    next_key, next_csr = staged_paths(entry)
    done = []
    if fsutil.read_managed(next_csr) is not None:
        os.rename(next_csr, csr_path)
        done.append(csr_path)
    if fsutil.read_managed(next_key) is not None:
        fsutil.remove(next_key)
        done.append(next_key)
    if done:
        fsutil.fsync_dir(os.path.dirname(csr_path))
    return done


def _received_key(entry, key_path):
    """(key, FileChange) for the shared key received from the holder when key_path does not hold
    it yet, else (None, None): the key is written with the certificate files, as one set."""
    wanted = entry['privatekey_content'].encode('ascii')
    key = _lib.pki.load_private_key(wanted, entry.get('privatekey_passphrase'), path='the key received from the key holder')
    current = fsutil.read_managed(key_path)      # a key.pem that is a link is refused
    if current is not None:
        try:
            if _lib.pki.same_public_key(_lib.pki.load_private_key(current, entry.get('privatekey_passphrase'), path=key_path), key):
                return None, None
        except DovError:
            pass
    return key, _lib.certinstall.FileChange('key', key_path, wanted, 0o600, 'update' if current is not None else 'create')


def had_files(saved):
    """Whether a Snapshot holds at least one file that existed."""
    return saved is not None and any(entry is not None for entry in saved.entries.values())


def installed_identity(entry, key_path):
    """The client identity the check presents, read from what is installed: cert.pem with the
    key, else bundle.p12, else keystore.jks (read in Python, no Java)."""
    options = entry.get('install') or {}
    formats = options.get('formats') or ['pem']
    if 'pem' in formats:
        return _lib.tlsprobe.load_identity(file_path(entry, 'cert'), key_path, entry.get('privatekey_passphrase'))
    if 'pkcs12' in formats:
        return _lib.tlsprobe.load_identity(pkcs12_path=file_path(entry, 'pkcs12'),
                                           pkcs12_password=options.get('pkcs12_password'))
    path = file_path(entry, 'jks')
    opened = _lib.keystores.open_jks(fsutil.read_bytes(path), options.get('jks_password'))
    if opened is None:
        raise DovError('The keystore %s is missing or does not open with jks_password. Run onboard.yml to install '
                       'it again, or check dov_jks_password.' % path)
    _alias, key, chain = opened
    return _lib.tlsprobe.Identity(chain[0], key, chain[1:])


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
            return _lib.tlsprobe.probe(check['url'], ca_bundle=ca_bundle, proxy=check.get('proxy') or None,
                                       timeout=check.get('timeout') or 15, identity=identity,
                                       trust_option='dov_server_ca_bundle')
    except DovError as error:
        return {'verdict': 'error', 'hint': str(error)}


def install(entry, check=None, check_mode=False, now=None):
    """Install one certificate entry and verify it; roll back when the check fails.

    ``check`` is None (no verification) or a dict of tlsprobe.probe options without the client
    identity (url, ca_bundle, proxy, timeout). When the check fails, the previous key and files
    are put back if there were any (a first install stays, so that it can be inspected), and
    the entry carries an ``error``.
    """
    result = _base(entry)
    key_path, _csr_path = paths(entry)
    kept = []
    try:
        _lib.keyfiles.resolve_owner(entry.get('owner'), entry.get('group'))   # an unknown owner: refused first
        if entry.get('staged_key'):
            # renew.yml on the key holder: the staged key goes in with the new certificate, as one set.
            staged = fsutil.read_managed(staged_paths(entry)[0])
            if staged is None:
                raise DovError('The staged key %s is missing, so the renewed certificate cannot be installed. Run '
                               'renew.yml again: a new key and CSR are staged.' % staged_paths(entry)[0])
            entry = dict(entry, privatekey_content=staged.decode('ascii'))
        if check_mode:
            if entry.get('privatekey_content') or not os.path.exists(key_path):
                result.update(changed=True, key_received=True)
                return result
            plan = _install_plan(entry, key_path, now)
            result.update(plan.result())
            result['diff'] = plan.diff
            return result
        # The previous key and files, key first: a rollback puts them back in the order they were written.
        names = [key_path] + (format_paths(entry, FORMATS) + [os.path.join(entry['dest_dir'], MANIFEST)]
                              if os.path.isdir(entry['dest_dir']) else [])
        saved = _lib.certinstall.snapshot(entry['dest_dir'], names)
        received, key_change = _received_key(entry, key_path) if entry.get('privatekey_content') else (None, None)
        key_changed = key_change is not None
        plan = _install_plan(entry, key_path, now, key=received)
        if key_change is not None:
            plan.files.insert(0, key_change)   # prepared with the other files, renamed first
        if entry.get('keep_previous'):
            kept = keep_previous(saved)        # a renewal: until every host of the pair passed its check
        _lib.certinstall.apply_install(plan)
        result.update(plan.result())
        result['diff'] = plan.diff
        result['changed'] = plan.changed or key_changed
        result['key_received'] = key_changed
        if check is not None:
            # The files just written hold exactly this key and chain, in every format: check with
            # them in memory rather than reading them back.
            outcome = run_check(check, _lib.tlsprobe.Identity(plan.checked.leaf, plan.key, plan.checked.chain))
            result['check'] = outcome
            if outcome['verdict'] != 'ok':
                restored = []
                if any(value is not None for name, value in saved.entries.items() if name != key_path):
                    restored = _lib.certinstall.restore(saved)
                result['rolled_back'] = restored
                drop_previous(kept)
                if restored:
                    result['changed'] = False     # the previous files are back: nothing to restart for
                result['error'] = 'The mTLS check from this host gave %s: %s%s' % (
                    outcome['verdict'], outcome.get('hint') or '',
                    ' The previous files were put back.' if restored else '')
        if not result.get('error'):
            write_manifest(entry, _lib.certs.public_key_fingerprint(plan.checked.leaf.public_key()),
                           plan.checked.describe(), created=plan.folders)
            if (entry.get('staged_key') or entry.get('renewed')) and not entry.get('keep_previous'):
                result['promoted'] = promote_staged(entry)
    except DovError as error:
        drop_previous(kept)
        result['error'] = str(error)
    return result


# ---------------------------------------------------------------- renewal: one pair, every host

def _managed(entry):
    key_path, _csr_path = paths(entry)
    return [key_path] + format_paths(entry, FORMATS) + [os.path.join(entry['dest_dir'], MANIFEST)]


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
            os.rename(tmp, path + PREVIOUS)
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
    result = _base(entry)
    names = _managed(entry)
    if fsutil.read_managed(names[0] + PREVIOUS) is None:
        return result
    try:
        if entry.get('settle') == 'restore':
            steps = []
            for path in names:
                if fsutil.read_managed(path + PREVIOUS) is not None:
                    steps.append(('rename', path))
                elif os.path.lexists(path):
                    steps.append(('remove', path))      # did not exist before the renewal
            for action, path in steps:
                if action == 'rename':
                    os.rename(path + PREVIOUS, path)
                else:
                    fsutil.remove(path)
            fsutil.fsync_dir(entry['dest_dir'])
            result.update(changed=True, rolled_back=[path for _action, path in steps])
        else:
            drop_previous([path + PREVIOUS for path in names if os.path.lexists(path + PREVIOUS)])
            if entry.get('staged_key') or entry.get('renewed'):
                result['promoted'] = promote_staged(entry)
            result['changed'] = True
    except DovError as error:
        result['error'] = str(error)
    return result


def verify(entry):
    """The mTLS check with what is installed for one entry (read-only)."""
    result = _base(entry)
    key_path, _csr_path = paths(entry)
    if not entry.get('check'):
        result['error'] = 'No check settings were given (dov_verify is false).'
        return result
    formats = (entry.get('install') or {}).get('formats') or ['pem']
    kinds = [kind for kind, _name, _format in _lib.certinstall.FILES if kind in ('cert', 'pkcs12', 'jks') and _format in formats]
    if not any(os.path.exists(file_path(entry, kind)) for kind in kinds):
        result['installed'] = None
        result['error'] = 'No certificate is installed in %s. Run onboard.yml first.' % entry['dest_dir']
        return result
    try:
        identity = installed_identity(entry, key_path)
    except DovError as error:
        result['installed'] = None
        result['error'] = str(error)
        return result
    result['installed'] = _lib.certs.describe_certificate(identity.cert)
    result['check'] = run_check(entry['check'], identity)
    if result['check']['verdict'] != 'ok':
        outcome = result['check']
        result['error'] = 'The mTLS check from this host gave %s: %s' % (outcome['verdict'], outcome.get('hint') or '')
    return result


def report(entry, renew_before_days=None, now=None):
    """What is installed for one entry, as cert_info describes it (read-only): ``installed`` is
    ``certinfo.certificate_info`` of the leaf (dates, days left, fingerprint, issuer, CN parts,
    needs_renewal), or None when nothing is installed."""
    result = _base(entry)
    try:
        found = installed_certificates_or_refuse(entry)
        result['installed'] = (_lib.certinfo.certificate_info(_lib.certinfo.leaf_of(found), renew_before_days, now)
                               if found else None)
        if found and result['installed']['common_name'] != entry['common_name']:
            result['error'] = ('The certificate in %s is for %r, not for %r. Run onboard.yml to install the certificate '
                               'of this pair.' % (entry['dest_dir'], result['installed']['common_name'], entry['common_name']))
    except DovError as error:
        result['installed'] = None
        result['error'] = str(error)
    return result


def installed_certificates_or_refuse(entry):
    """``installed.installed_certificates``; a cert file that exists but cannot be read is an error,
    not 'nothing installed'."""
    found = installed_certificates(entry)
    if not found and fsutil.read_managed(file_path(entry, 'cert')):
        raise DovError('%s cannot be read as a certificate. Run onboard.yml to install it again.' % file_path(entry, 'cert'))
    return found


# ---------------------------------------------------------------- the metrics file

def metrics_record(result, now):
    """The metrics record (metrics.py) of one entry's result, or None when no certificate is known
    (nothing installed, or the files were put back after a failed check) or the entry was taken off
    the host (``state: absent``: its lines leave the file with it)."""
    if result.get('state') == 'absent':
        return None
    described = result.get('installed') if result.get('installed') is not None else (
        result if result.get('not_after') else None)
    if not described or not described.get('not_after') or result.get('rolled_back'):
        return None
    check = result.get('check')
    return {'application': result['application'], 'environment': result['environment'],
            'common_name': described.get('common_name') or result.get('common_name'), 'dest_dir': result['dest_dir'],
            'not_before': described.get('not_before'), 'not_after': described['not_after'],
            'check_success': None if not check else check.get('verdict') == 'ok',
            'check_timestamp': now if check else None}


def write_metrics(metrics_dir, results, replace, check_mode=False, now=None):
    """``<metrics_dir>/vlaanderen_dov.prom`` from this phase's results, the last check of each
    certificate kept from the file when this phase ran none (``metrics.merge``). Returns
    ``{'path', 'written'}``; not a change of the certificates (``changed`` stays as it is)."""
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    current = [record for record in (metrics_record(result, now) for result in results) if record]
    records = metrics.merge(metrics.read_textfile(metrics_dir), current, replace)
    written = metrics.write_textfile(metrics_dir, records, check_mode=check_mode)
    return {'path': metrics.textfile_path(metrics_dir), 'written': written}


# ---------------------------------------------------------------- state: absent

NEXT_SUFFIX = STAGED      # the staged key and CSR of a renewal: key.pem.next, csr.pem.next


def managed_files(entry):
    """kind -> path of every file the collection may have written for the entry (whatever its
    formats are now): key, CSR, every format's files and the staged ``.next`` key and CSR."""
    key_path, csr_path = paths(entry)
    names = installed_file_names(entry.get('files'))
    files = {'key': key_path, 'csr': csr_path, 'key_next': key_path + NEXT_SUFFIX, 'csr_next': csr_path + NEXT_SUFFIX,
             'manifest': os.path.join(entry['dest_dir'], MANIFEST)}
    for kind in ('cert', 'chain', 'fullchain', 'pkcs12', 'jks'):
        files[kind] = os.path.join(entry['dest_dir'], names[kind])
    return files


def _fingerprint_of(kind, data, entry):
    """The public key fingerprint of a key or a CSR with the entry's CN; None when it is neither."""
    try:
        if kind in ('key', 'key_next'):
            return _lib.pki.public_key_fingerprint(
                _lib.pki.load_private_key(data, entry.get('privatekey_passphrase'), path=kind))
        csr = _lib.pki.load_csr(data)
        if csr is None or _lib.pki.common_names(csr.subject) != [entry['common_name']]:
            return None
        return _lib.pki.public_key_fingerprint(csr.public_key())
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


def absent(entry, shared=(), check_mode=False):
    """``state: absent`` for one entry: what is installed (for the revocation of a retired pair),
    read before anything goes, then every managed file removed (retire.retire_entry); ``shared``:
    paths the host's other entries still use."""
    from ansible_collections.vlaanderen.dov.plugins.module_utils import retire
    result = _base(entry)
    result.update(state='absent', installed=None, installed_pem=None)
    try:
        result['installed'], result['installed_pem'], _complete = found_installed(entry)
    except DovError:
        pass      # a link under a managed name: retire_entry refuses it with the reason
    removal = retire.retire_entry(entry['dest_dir'], managed_files(entry), shared=shared, force=entry.get('force'),
                                  check_mode=check_mode, recognise=recogniser(entry))
    diff = removal.pop('diff')
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
