# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Take one certificate entry off a host (``dov_certificates[].state: absent``): plan, then apply.

``plan_removal`` looks at every file the collection manages for the entry and decides what goes;
it raises DovError, with nothing removed, when a managed name holds something the collection did
not write. ``apply_removal`` removes what the plan says (or, in check mode, only reports it).
``retire_entry`` does both and returns the result dict of one entry, with ``error`` set instead of
raising, as the other host phases do. No cryptography is needed here.

What counts as the collection's own file, for a managed path:

- the manifest ``<dest_dir>/.dov-manifest.json`` (written by hostmanifest.write_manifest, read with
  hostmanifest.parse_manifest) records the SHA-256 of each file the last install left (``files``:
  path -> [sha256, mode, uid, gid]); a file whose content has that SHA-256 is the collection's (mode
  and owner may have been changed by hand, the content is what matters);
- a file the manifest does not record (today: the CSR and the staged ``.next`` files of a renewal,
  or the key of a pair that never got its certificate) is the collection's when the caller's
  ``recognise(kind, path, data, manifest)`` says so (``data``: the bytes read, without following
  a link; ``manifest``: the parsed manifest or None), e.g. a CSR that carries the key whose
  fingerprint the manifest records; that check needs cryptography and stays with the caller;
- the temporary files that fsutil.write_temp makes next to a managed name
  (``.<name>.<random>.tmp``), left by a run that was killed;
- the manifest itself, when it is a version 1 manifest.

Anything else under a managed name (other content, no record) is removed only with ``force``;
without it the whole plan is refused, naming the files. A managed name that is a symbolic link,
or not a regular file, is refused even with ``force``: links are never followed, and files are
read and removed relative to their folder opened with ``O_NOFOLLOW``, after checking that the
file removed is the one that was read (same device and inode); retirefs.py holds that
file-system part.

A path that another entry on this host still uses (``shared``, e.g. a ``privatekey_path`` two
entries have in common) is kept. A folder is removed only when the collection created it and it is
empty afterwards: the manifest lists the folders it created under ``created_dirs`` (absolute
paths; hostmanifest.write_manifest records what the install's fsutil.ensure_dir returned), and
only the entry's dest_dir, the folders of its managed files and their parents qualify. Without
that record folders stay.

The host's metrics lines (``<dov_metrics_dir>/vlaanderen_dov.prom``) belong to the metrics code:
pass ``metrics``, a callable ``metrics(check_mode) -> bool`` that removes this entry's lines (in
check mode only says whether there are any) and returns whether there were. It is called once per
apply, after the files are gone and before the manifest goes, so a second call returns False.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import re
import stat

from ansible_collections.vlaanderen.dov.plugins.module_utils._host import retirefs
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.hostmanifest import parse_manifest
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import MANIFEST

MANIFEST_KIND = 'manifest'
# fsutil.write_temp: tempfile.mkstemp(prefix='.<name>.', suffix='.tmp'); mkstemp's random part is
# made of lower-case letters, digits and '_'.
_TEMP_NAME = r'^\.%s\.[a-z0-9_]+\.tmp$'

SHARED = 'another certificate entry on this host uses it'
NO_RECORD = 'no record of it'
OTHER_CONTENT = 'not the content it wrote'
BAD_MANIFEST = 'not a manifest it can read'


class _Item(object):
    """One file to remove: its kind, path, why it counts as the collection's, and its identity."""

    def __init__(self, kind, path, why, info):
        self.kind = kind
        self.path = path
        self.why = why
        self.identity = (info.st_dev, info.st_ino)


class RemovalPlan(object):
    """What taking one entry off this host removes.

    ``files``: the managed files (_Item), removed first; ``temporary``: leftovers of killed runs;
    ``manifest``: the manifest (_Item or None), removed after the files and the metrics lines;
    ``folders``: the folders that will be empty and that the collection created, innermost first;
    ``kept``: (path, reason) of the managed paths that stay; ``forced``: paths removed only
    because of ``force``.
    """

    def __init__(self, dest_dir, metrics=None):
        self.dest_dir = dest_dir
        self.files = []
        self.temporary = []
        self.manifest = None
        self.folders = []
        self.kept = []
        self.forced = []
        self.metrics = metrics

    def items(self):
        return self.files + self.temporary + ([self.manifest] if self.manifest else [])

    @property
    def changed(self):
        """Whether any file or folder goes (the metrics lines are only known when applying)."""
        return bool(self.items() or self.folders)

    @property
    def diff(self):
        before = sorted(item.path for item in self.items()) + [folder + os.sep for folder in self.folders]
        before += sorted(path for path, _reason in self.kept)
        return {'before': before, 'after': sorted(path for path, _reason in self.kept)}


# ---------------------------------------------------------------- plan

def _check_paths(dest_dir, files):
    if not isinstance(dest_dir, str) or not os.path.isabs(dest_dir):
        raise DovError("dest_dir %r is not an absolute path. Give the folder of the entry as an absolute path." % (dest_dir,))
    checked = {}
    for kind, path in (files or {}).items():
        if not isinstance(path, str) or not os.path.isabs(path) or os.path.basename(path) in ('', '.', '..'):
            raise DovError("The %s file %r is not an absolute file path. Give every managed file as an absolute path."
                           % (kind, path))
        checked[kind] = os.path.normpath(path)
    checked.setdefault(MANIFEST_KIND, os.path.join(os.path.normpath(dest_dir), MANIFEST))
    return os.path.normpath(dest_dir), checked


def _folders(files):
    folders = {}
    for path in files.values():
        folder = os.path.dirname(path)
        if folder not in folders:
            folders[folder] = None
    return folders


def _would_be_empty(folder, removed, emptied):
    """Whether ``folder`` holds nothing but ``removed`` paths and ``emptied`` folders."""
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return all(os.path.join(folder, name) in removed or os.path.join(folder, name) in emptied for name in names)


def _plan_folders(plan, dest_dir, files, created):
    """The folders the collection created that will be empty, innermost first."""
    if not created:
        return
    own = set([dest_dir] + [os.path.dirname(path) for path in files.values()])
    qualifies = set(folder for folder in created
                    if any(folder == mine or mine.startswith(folder + os.sep) for mine in own))
    removed = set(item.path for item in plan.items())
    emptied = set()
    for folder in sorted(qualifies, key=lambda value: value.count(os.sep), reverse=True):
        if os.path.islink(folder) or not os.path.isdir(folder):
            continue
        if _would_be_empty(folder, removed, emptied):
            emptied.add(folder)
            plan.folders.append(folder)


def _refuse(links, odd, foreign, force):
    if links:
        raise DovError(
            "%s %s a symbolic link under a name the collection manages; it never makes one and does not follow "
            "links. Nothing was removed; remove the link yourself (or put the real file there) and run again."
            % (', '.join(links), 'is' if len(links) == 1 else 'are each'))
    if odd:
        raise DovError(
            "%s %s not a regular file under a name the collection manages. Nothing was removed; move it away "
            "and run again." % (', '.join(odd), 'is' if len(odd) == 1 else 'are'))
    if foreign and not force:
        named = ', '.join('%s (%s)' % (path, why) for path, why in foreign)
        them = 'it' if len(foreign) == 1 else 'them'
        raise DovError("The collection did not write %s. Nothing was removed; check %s and set force: true on the "
                       "entry to remove %s too." % (named, them, them))


def plan_removal(dest_dir, files, shared=(), force=False, metrics=None, recognise=None):
    """Decide what taking one entry off this host removes; a :class:`RemovalPlan`.

    ``dest_dir``: the entry's folder (absolute). ``files``: kind -> absolute path of every file the
    collection manages for the entry (``key``, ``csr``, ``cert``, ``chain``, ``fullchain``,
    ``pkcs12``, ``jks``, ``key_next``, ``csr_next``, ... and ``manifest``, which defaults to
    ``<dest_dir>/.dov-manifest.json``); absent files are fine. ``shared``: paths other entries on
    this host still use (kept). ``force``: also remove files under managed names that the
    collection did not write. ``metrics``: see the module doc.
    ``recognise(kind, path, data, manifest)``: whether a file the manifest does not record is the
    collection's all the same.

    Raises DovError (nothing removed) for a symbolic link or a non-file under a managed name, and,
    without ``force``, for a file the collection did not write.
    """
    dest_dir, files = _check_paths(dest_dir, files)
    shared = set(os.path.normpath(path) for path in shared or () if isinstance(path, str))
    plan = RemovalPlan(dest_dir, metrics)
    folders = {}
    links, odd, foreign = [], [], []
    try:
        for folder in _folders(dict((kind, path) for kind, path in files.items()
                                    if kind == MANIFEST_KIND or path not in shared)):
            folders[folder] = retirefs.Folder(folder)

        # The manifest first: it says which contents are the collection's.
        manifest, records, created = None, {}, []
        manifest_path = files[MANIFEST_KIND]
        where = folders[os.path.dirname(manifest_path)]
        info = retirefs.lstat(where.fd, os.path.basename(manifest_path)) if where.fd is not None else None
        if info is not None and stat.S_ISLNK(info.st_mode):
            links.append(manifest_path)
        elif info is not None and not stat.S_ISREG(info.st_mode):
            odd.append(manifest_path)
        elif info is not None:
            data = retirefs.read(where.fd, os.path.basename(manifest_path), manifest_path, info)
            loaded = parse_manifest(data) if data is not None else None
            if loaded is not None:
                manifest, created, records = loaded, loaded['created_dirs'], loaded['files']
            if manifest_path in shared:
                plan.kept.append((manifest_path, SHARED))
            elif data is not None:
                plan.manifest = _Item(MANIFEST_KIND, manifest_path, 'manifest' if loaded else 'forced', info)
                if loaded is None:
                    foreign.append((manifest_path, BAD_MANIFEST))

        for kind, path in sorted(files.items()):
            if kind == MANIFEST_KIND:
                continue
            if path in shared:
                if os.path.lexists(path):
                    plan.kept.append((path, SHARED))
                continue
            where = folders[os.path.dirname(path)]
            name = os.path.basename(path)
            where.names.add(name)
            info = retirefs.lstat(where.fd, name) if where.fd is not None else None
            if info is None:
                continue
            if stat.S_ISLNK(info.st_mode):
                links.append(path)
                continue
            if not stat.S_ISREG(info.st_mode):
                odd.append(path)
                continue
            data = retirefs.read(where.fd, name, path, info)
            if data is None:
                continue
            record = records.get(path)
            if isinstance(record, list) and record and record[0] == hashlib.sha256(data).hexdigest():
                why = 'recorded'
            elif recognise is not None and recognise(kind, path, data, manifest):
                why = 'recognised'
            else:
                why = 'forced'
                foreign.append((path, OTHER_CONTENT if isinstance(record, list) else NO_RECORD))
            plan.files.append(_Item(kind, path, why, info))

        # Leftovers of a killed run next to the managed names (never next to a shared one).
        for where in folders.values():
            if where.fd is None:
                continue
            names = set(where.names)
            if os.path.dirname(manifest_path) == where.path:
                names.add(os.path.basename(manifest_path))
            names = [name for name in names if os.path.join(where.path, name) not in shared]
            if not names:
                continue
            pattern = re.compile('|'.join(_TEMP_NAME % re.escape(name) for name in sorted(names)))
            for name in sorted(os.listdir(where.fd)):
                if not pattern.match(name):
                    continue
                path = os.path.join(where.path, name)
                info = retirefs.lstat(where.fd, name)
                if info is None:
                    continue
                if stat.S_ISLNK(info.st_mode):
                    links.append(path)
                elif not stat.S_ISREG(info.st_mode):
                    odd.append(path)
                else:
                    plan.temporary.append(_Item('temporary', path, 'temporary', info))
    finally:
        for where in folders.values():
            where.close()

    _refuse(sorted(links), sorted(odd), sorted(foreign), force)
    plan.forced = sorted(path for path, _why in foreign)
    _plan_folders(plan, dest_dir, files, created)
    return plan


# ---------------------------------------------------------------- apply

def apply_removal(plan, check_mode=False):
    """Remove what ``plan`` says (in check mode: nothing, only report); the result dict.

    ``removed``: the files removed (or that would be), ``folders_removed``, ``kept`` (path and
    reason), ``forced`` (removed only because of force), ``metrics_removed``, ``changed`` and
    ``diff`` (before: the managed files there now, after: the ones that stay).
    """
    result = {'dest_dir': plan.dest_dir, 'changed': False, 'removed': [], 'folders_removed': [],
              'kept': [{'path': path, 'reason': reason} for path, reason in plan.kept],
              'forced': list(plan.forced), 'metrics_removed': False, 'diff': plan.diff, 'error': None}
    if check_mode:
        result['removed'] = [item.path for item in plan.items()]
        result['folders_removed'] = list(plan.folders)
        result['metrics_removed'] = bool(plan.metrics(True)) if plan.metrics else False
    else:
        removed = []
        with retirefs.Removal(plan.items()) as removal:
            removal.check()
            removal.unlink(plan.files + plan.temporary, removed)
            result['metrics_removed'] = bool(plan.metrics(False)) if plan.metrics else False
            if plan.manifest is not None:
                removal.unlink([plan.manifest], removed)
        result['removed'] = removed
        result['folders_removed'] = retirefs.remove_folders(plan.folders)
    result['changed'] = bool(result['removed'] or result['folders_removed'] or result['metrics_removed'])
    return result


def retire_entry(dest_dir, files, shared=(), force=False, check_mode=False, metrics=None, recognise=None):
    """Plan and apply in one call; the result dict, with ``error`` (and nothing removed) on a refusal."""
    try:
        return apply_removal(plan_removal(dest_dir, files, shared=shared, force=force, metrics=metrics,
                                          recognise=recognise), check_mode=check_mode)
    except DovError as error:
        return {'dest_dir': dest_dir, 'changed': False, 'removed': [], 'folders_removed': [], 'kept': [],
                'forced': [], 'metrics_removed': False, 'diff': {'before': [], 'after': []}, 'error': str(error)}
