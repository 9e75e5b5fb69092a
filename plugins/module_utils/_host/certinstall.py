# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Install an issued certificate in ``dest_dir``: plan everything, then write it.

``plan_install`` reads the certificate, the key and the CA bundle, runs every check
(certs.check_certificate) and decides the new content of every target file, and which of
them differ from what is on disk. It raises DovError before anything is written.
``apply_install`` then writes: every new file first to a temporary name in ``dest_dir``
(fsync'ed, final mode and owner set), and only when all of them are complete renames each
over its target. A failure while writing (disk full, killed) leaves the previous set as it
was; a failure between renames puts the previous files back from memory.

Files in ``dest_dir`` (``FILES``): ``cert.pem`` (leaf), ``chain.pem`` (intermediates, no
root; empty when none is known), ``fullchain.pem`` (leaf + intermediates) for the ``pem``
format; ``bundle.p12`` for ``pkcs12``; ``keystore.jks`` for ``jks``.

Nothing here uses AnsibleModule: hostcerts.install plans, applies and checks each of a host's
certificates in one process. Roll back after a failed check::

    saved = snapshot(dest_dir)       # before apply: bytes, mode and owner of FILE_NAMES, in memory
    apply_install(plan)
    if not verified:
        restore(saved)               # every file back as it was; files that did not exist are removed

A Snapshot holds keystore bytes (which contain the encrypted key) in memory only; it never
prints them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os
import stat

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, keyfiles, keystores, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
# The file names live in installed.py, which loads no cryptography (the manifest check needs them).
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import FILE_NAMES, FILES, FORMATS, file_names

CERT_MODE = 0o644
KEYSTORE_MODE = 0o600
KEYSTORE_GROUP_MODE = 0o640
PARENT_MODE = 0o755     # missing parents of dest_dir: the connecting user's, so that the owner can reach dest_dir


def folder_mode(gid=-1):
    """The mode of a dest_dir (or key folder) the collection creates: 0750 when a group is given
    (it reads the keystores), else 0700. The same on every host, key holder or not."""
    return 0o750 if gid != -1 else 0o700


DIFF_KEYS = ('subject', 'serial', 'not_after', 'fingerprint_sha256')


# ---------------------------------------------------------------- options

def parse_mode(mode):
    """An int from ``'0644'``, ``'644'``, ``0o644`` or ``420``; None stays None."""
    if mode is None or mode == '':
        return None
    try:
        value = int(mode, 8) if isinstance(mode, str) else int(mode)
    except ValueError:
        raise DovError("The mode %r is not an octal number. Use for example '0644'." % (mode,))
    if value < 0 or value > 0o7777:
        raise DovError("The mode %r is out of range. Use for example '0644'." % (mode,))
    return value


def file_modes(mode=None, group=None, formats=('pem',)):
    """(mode of the PEM files, mode of the keystores).

    Without ``mode``: PEM files 0644, keystores 0600, or 0640 when ``group`` is set (so that the
    application's group can read them). With ``mode``: that mode for every file; when a keystore
    is written it may be at most 0640, because a keystore holds the private key.
    """
    value = parse_mode(mode)
    if value is None:
        return CERT_MODE, KEYSTORE_GROUP_MODE if group else KEYSTORE_MODE
    if value & ~KEYSTORE_GROUP_MODE and set(formats) & set(('pkcs12', 'jks')):
        raise DovError(
            "The mode %04o is too open for the keystores, which hold the private key. Use '0600', or '0640' "
            "with group set to the application's group (or leave mode out: certificates 0644, keystores 0600)."
            % value)
    return value, value


def check_formats(formats):
    formats = list(formats or ['pem'])
    unknown = [item for item in formats if item not in FORMATS]
    if unknown:
        raise DovError("Unknown format(s): %s. Use one or more of: %s." % (', '.join(unknown), ', '.join(FORMATS)))
    return formats


def read_source(src=None, content=None):
    """(bytes, how to name it in messages) from a file on this host or from text."""
    if src is not None and content is not None:
        raise DovError("Both src and content are set. Give the certificate one way: src (a file) or content (text).")
    if src is None and content is None:
        raise DovError("Neither src nor content is set. Give the certificate from VO-DCBaaS as src or content.")
    if content is not None:
        return (content.encode('utf-8') if isinstance(content, str) else content), 'content'
    data = fsutil.read_bytes(src)
    if data is None:
        raise DovError("src %s does not exist. Put the certificate downloaded from VO-DCBaaS there, or give it as content."
                       % src)
    return data, 'src %s' % src


def load_key(privatekey_path, passphrase=None):
    data = fsutil.read_managed(privatekey_path)
    if data is None:
        raise DovError(
            "The private key %s does not exist. Point privatekey_path at the key the CSR was made with (the csr "
            "module makes it)." % privatekey_path)
    return pki.load_private_key(data, passphrase, path=privatekey_path)


# ---------------------------------------------------------------- the plan

class FileChange(collections.namedtuple('FileChange', 'kind path data mode action')):
    """One target file: ``action`` is 'create', 'update', 'retouch' (mode/owner only) or 'keep'."""

    __slots__ = ()

    @property
    def changed(self):
        return self.action != 'keep'

    @property
    def writes(self):
        return self.action in ('create', 'update')

    def __repr__(self):  # never the bytes: keystores hold the key
        return 'FileChange(%s, %s, %04o, %s)' % (self.kind, self.path, self.mode, self.action)


class InstallPlan(object):
    """What installing one certificate will do; built by ``plan_install``."""

    def __init__(self, dest_dir, checked, uid_gid):
        self.dest_dir = dest_dir
        self.checked = checked
        self.uid_gid = uid_gid
        self.folders = []
        self.files = []
        self.diff = {'before': {}, 'after': {}}

    @property
    def changed(self):
        return bool(self.folders) or any(change.changed for change in self.files)

    @property
    def names(self):
        """The paths of the plan's files (absolute: ``snapshot`` takes them as they are)."""
        return [change.path for change in self.files]

    def files_result(self):
        """``{kind: {path, changed, mode}}`` — what was (or would be) written where."""
        return dict((change.kind, {'path': change.path, 'changed': change.changed, 'mode': '%04o' % change.mode})
                    for change in self.files)

    def result(self):
        """The module's return values for this certificate (``changed`` included)."""
        result = self.checked.describe()
        result['files'] = self.files_result()
        result['changed'] = self.changed
        return result


def _existing_leaf(path):
    data = fsutil.read_managed(path)
    if not data:
        return None
    try:
        return certload.load_certificates(data, path)[0]
    except DovError:
        return None


def _diff_view(cert, now):
    described = certs.describe_certificate(cert, now)
    return dict((key, described[key]) for key in DIFF_KEYS) if described else {}


def plan_install(content, privatekey_path, expected_common_name, dest_dir, source='content',
                 privatekey_passphrase=None, ca_bundle=None, formats=('pem',), pkcs12_password=None,
                 jks_password=None, pkcs12_profile='modern', keystore_alias='dov-client', min_days_left=0,
                 owner=None, group=None, mode=None, keytool=None, now=None, files=None, key=None):
    """Check one certificate and decide every file; raise DovError before any write.
    ``files`` renames files in dest_dir (see ``file_names``).

    ``key`` (a private key object) is the key to check against instead of the one at
    ``privatekey_path``: a key received from the pair's key holder that is not written yet.
    Managed files that are symbolic links are refused (``fsutil.read_managed``).

    ``content`` is the certificate as bytes in any encoding ``certload.load_certificates`` reads
    (``read_source`` gets it from ``src``/``content``); ``source`` names it in messages.
    ``ca_bundle`` is a path (or None). ``now`` (aware UTC datetime) is for tests.
    """
    now = now or validity.utcnow()
    formats = check_formats(formats)
    if 'pkcs12' in formats:
        keystores.check_password(pkcs12_password, 'pkcs12_password')
        keystores.check_profile(pkcs12_profile)
    if 'jks' in formats:
        keystores.check_password(jks_password, 'jks_password', keystores.MIN_JKS_PASSWORD)
    if 'pkcs12' in formats or 'jks' in formats:
        keystores.check_alias(keystore_alias)
    cert_mode, keystore_mode = file_modes(mode, group, formats)
    uid, gid = fsutil.resolve_owner(owner, group)
    if min_days_left is None or int(min_days_left) < 0:
        raise DovError("min_days_left is %r, a negative number of days. Give 0 (no minimum) or more." % (min_days_left,))
    ca_certs = None
    if ca_bundle:
        ca_certs = certload.load_ca_bundle(fsutil.read_bytes(ca_bundle), ca_bundle)
    if key is None:
        key = load_key(privatekey_path, privatekey_passphrase)
    names = file_names(files)
    plan_folders = fsutil.missing_dirs(dest_dir)      # a folder on the way another user could swap: refused
    for kind, _file_name, _format in FILES:
        fsutil.refuse_link(os.path.join(dest_dir, names[kind]))

    found = certload.load_certificates(content, source)                        # 1
    checked = certs.check_certificate(found, key, expected_common_name,     # 2..6
                                      ca_certs=ca_certs, min_days_left=int(min_days_left), now=now,
                                      key_path=privatekey_path)

    plan = InstallPlan(dest_dir, checked, (uid, gid))
    plan.key = key      # for a caller that uses the identity right away (a key object: prints no key material)
    plan.folders = plan_folders
    leaf_pem = certload.dump_pem([checked.leaf])
    chain_pem = certload.dump_pem(checked.chain)
    wanted = {'cert': leaf_pem, 'chain': chain_pem, 'fullchain': leaf_pem + chain_pem}
    for kind, _file_name, file_format in FILES:
        if file_format not in formats:
            continue
        path = os.path.join(dest_dir, names[kind])
        existing = None if plan.folders else fsutil.read_managed(path)
        if file_format == 'pem':
            file_mode, data = cert_mode, wanted[kind]
            same = existing == data
        elif file_format == 'pkcs12':
            file_mode = keystore_mode
            same = existing is not None and keystores.pkcs12_matches(
                existing, pkcs12_password, key, checked.leaf, checked.chain, keystore_alias, pkcs12_profile)
            data = None if same else keystores.build_pkcs12(
                key, checked.leaf, checked.chain, pkcs12_password, keystore_alias, pkcs12_profile)
        else:
            file_mode = keystore_mode
            same = existing is not None and keystores.jks_matches(
                existing, jks_password, key, checked.leaf, checked.chain, keystore_alias)
            data = None if same else keystores.build_jks(
                key, checked.leaf, checked.chain, jks_password, keystore_alias, keytool)
        if existing is None:
            action = 'create'
        elif not same:
            action = 'update'
        elif keyfiles.attributes_differ(path, file_mode, uid, gid):
            action = 'retouch'
        else:
            action = 'keep'
        plan.files.append(FileChange(kind, path, data if action in ('create', 'update') else None, file_mode, action))

    before = None if plan.folders else _existing_leaf(os.path.join(dest_dir, names['cert']))
    plan.diff = {'before': _diff_view(before, now), 'after': _diff_view(checked.leaf, now)}
    return plan


# ---------------------------------------------------------------- snapshot / restore

class Snapshot(object):
    """The previous state of some files in one folder, in memory: ``entries`` maps a file name
    to (bytes, mode, uid, gid), or to None when the file did not exist."""

    def __init__(self, dest_dir, entries):
        self.dest_dir = dest_dir
        self.entries = entries

    def __repr__(self):  # never the bytes
        return 'Snapshot(%s, %s)' % (self.dest_dir, sorted(self.entries))


def snapshot(dest_dir, names=FILE_NAMES):
    """Remember ``names`` in ``dest_dir`` (bytes, mode, owner) so that ``restore`` can put them
    back, in this order; a name may be an absolute path (the key outside dest_dir). Read without
    following links: a managed name that is a link is refused."""
    entries = {}
    for name in names:
        found = fsutil.read_managed_with_stat(os.path.join(dest_dir, name))   # bytes and attributes of one open file
        entries[name] = None if found is None else (found[0], stat.S_IMODE(found[1].st_mode), found[1].st_uid,
                                                    found[1].st_gid)
    return Snapshot(dest_dir, entries)


def _unchanged(path, entry):
    try:
        found = fsutil.read_managed_with_stat(path)
    except DovError:
        return False        # a link or no regular file now: put the saved one back over it
    if found is None:
        return False
    data, info = found
    return (data, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == tuple(entry)


def restore(saved):
    """Put every file of a Snapshot back as it was, in the snapshot's order: every previous file
    prepared first (temporary file, fsync), then renamed back to back; those that did not exist
    are removed in the same pass. Returns the paths restored or removed."""
    steps = []
    try:
        for name in saved.entries:
            path = os.path.join(saved.dest_dir, name)
            entry = saved.entries[name]
            if entry is None:
                if fsutil.lexists(path):
                    steps.append((None, path))
            elif not _unchanged(path, entry):
                data, mode, uid, gid = entry
                steps.append((fsutil.write_temp(os.path.dirname(path), os.path.basename(path), data, mode, uid, gid),
                              path))
    except BaseException:
        for tmp, _path in steps:
            if tmp:
                fsutil.remove(tmp)
        raise
    for tmp, path in steps:
        if tmp is None:
            fsutil.remove(path)
        else:
            fsutil.rename(tmp, path)
    for folder in sorted(set(os.path.dirname(path) for _tmp, path in steps)):
        fsutil.fsync_dir(folder)
    return [path for _tmp, path in steps]


# ---------------------------------------------------------------- apply

def apply_install(plan, backup=False):
    """Write what ``plan`` decided. Returns the backups made (when ``backup``)."""
    uid, gid = plan.uid_gid
    # dest_dir (and the key's folder, outside dest_dir when privatekey_path says so): created
    # relative to verified parents, given to the owner only when created here; parents never chowned.
    created = fsutil.ensure_dir(plan.dest_dir, folder_mode(gid), uid, gid, parent_mode=PARENT_MODE)
    writes = [change for change in plan.files if change.writes]
    for folder in sorted(set(os.path.dirname(change.path) for change in writes)):
        created += [made for made in fsutil.ensure_dir(folder, folder_mode(gid), uid, gid, parent_mode=PARENT_MODE)
                    if made not in created]
    plan.folders = created
    pending = []
    try:
        for change in writes:
            pending.append((fsutil.write_temp(os.path.dirname(change.path), os.path.basename(change.path),
                                              change.data, change.mode, uid, gid), change.path))
    except (OSError, IOError) as exc:
        for tmp, _path in pending:
            fsutil.remove(tmp)
        raise DovError("Cannot write the new files in %s: %s. Nothing was replaced; free some space or fix the "
                       "folder's permissions, then run again." % (plan.dest_dir, getattr(exc, 'strerror', None) or exc))
    backups = []
    if backup:
        for change in writes:
            made = fsutil.make_backup(change.path)
            if made:
                backups.append(made)
    saved = snapshot(plan.dest_dir, [change.path for change in writes])
    done = 0
    try:
        for tmp, path in pending:
            fsutil.rename(tmp, path)
            done += 1
    except (OSError, IOError) as exc:
        for tmp, _path in pending[done:]:
            fsutil.remove(tmp)
        restore(saved)
        raise DovError("Cannot put the new files in place in %s: %s. The previous files were put back; fix the "
                       "problem and run again." % (plan.dest_dir, getattr(exc, 'strerror', None) or exc))
    for folder in sorted(set(os.path.dirname(path) for _tmp, path in pending)):
        fsutil.fsync_dir(folder)
    for change in plan.files:
        if change.action == 'retouch':
            fsutil.set_attributes(change.path, change.mode, uid, gid)
    return backups
