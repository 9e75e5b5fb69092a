# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File writes that are atomic and never briefly too open.

Every write goes to a temporary file in the destination's folder (created 0600 by mkstemp),
is fsync'ed, gets its final mode and owner, and is renamed over the destination; then the
folder is fsync'ed. A reader sees the old file or the new one, never a half-written one, and a
key is 0600 (or tighter) from the moment it exists. Managed files are read without following a
symbolic link (``NOFOLLOW``, ``READ_NO_FOLLOW``: the open flags, also for retirefs).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import shutil
import stat
import tempfile
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

# The argument spec of the options that the doc fragment vlaanderen.dov.files documents.
FILE_OPTIONS = dict(
    owner=dict(type='str'),
    group=dict(type='str'),
    backup=dict(type='bool', default=False),
)


def read_bytes(path):
    """The file's content, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise DovError("Cannot read %s: %s. Check the path and its permissions." % (path, exc.strerror))


def refuse_link(path):
    """Raise a DovError when ``path`` is a symbolic link: managed files are never followed."""
    if os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = '?'
        raise DovError("%s is a symbolic link (to %s); vlaanderen.dov does not follow links for the files it manages. "
                       "Remove the link (the next run writes a real file there), or point dest_dir at the real "
                       "folder." % (path, target))


NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)
READ_NO_FOLLOW = os.O_RDONLY | NOFOLLOW | getattr(os, 'O_NONBLOCK', 0)


def _open_regular(path, failure):
    """A file descriptor of the regular file ``path``, opened without following a symbolic link;
    None when it does not exist. ``failure`` says what could not be done, for the message."""
    try:
        fd = os.open(path, READ_NO_FOLLOW)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.ELOOP:
            refuse_link(path)
        raise DovError("%s %s: %s. Check the path and its permissions." % (failure, path, exc.strerror))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DovError("%s is not a regular file. Move it away; the next run writes the file there." % path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_all(fd):
    """Everything left to read from the open file descriptor ``fd``."""
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b''.join(chunks)
        chunks.append(chunk)


def read_managed(path):
    """The content of a file the collection manages, read without following a symbolic link
    (O_NOFOLLOW); None when it does not exist. A link is refused, naming it."""
    fd = _open_regular(path, 'Cannot read')
    if fd is None:
        return None
    try:
        return read_all(fd)
    finally:
        os.close(fd)


def set_attributes(path, mode, uid=-1, gid=-1):
    """Mode and owner of an existing managed file, set on the open file (fchown/fchmod), never
    through a symbolic link."""
    fd = _open_regular(path, 'Cannot set the mode and owner of')
    if fd is None:
        raise DovError("Cannot set the mode and owner of %s: it does not exist (any more). Run again; "
                       "the next run writes the file." % path)
    try:
        if uid != -1 or gid != -1:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def remove_stale_temps(folder, names):
    """Remove the temporary files ``.<name>.*.tmp`` that a killed run left in ``folder`` (a key's
    temporary file holds the key); return their paths. Links are removed, never followed."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for entry in sorted(entries):
        if not entry.endswith('.tmp') or not any(entry.startswith('.%s.' % name) for name in names):
            continue
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            continue
        remove(path)
        removed.append(path)
    return removed


def missing_dirs(path):
    """The folders that ``ensure_dir(path)`` would create, outermost first."""
    missing = []
    path = os.path.abspath(path)
    while path and not os.path.isdir(path):
        if os.path.exists(path):
            raise DovError("%s exists and is not a folder. Move it away or choose another path." % path)
        missing.insert(0, path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def ensure_dir(path, mode=0o700, uid=-1, gid=-1, parent_mode=None):
    """Create ``path`` and its missing parents with ``mode``; return the folders created.

    With ``uid``/``gid``, the folder ``path`` itself (when created here) is given to that owner,
    so that the application's user can reach its files; parents stay the connecting user's, with
    ``parent_mode`` (default ``mode``)."""
    created = missing_dirs(path)
    leaf = os.path.abspath(path)
    for folder in created:
        folder_mode = mode if folder == leaf or parent_mode is None else parent_mode
        try:
            os.mkdir(folder, folder_mode)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise DovError("Cannot create the folder %s: %s. Check the path and the permissions of its parent." % (folder, exc.strerror))
        os.chmod(folder, folder_mode)  # mkdir's mode is masked by the umask
    if created and (uid != -1 or gid != -1) and os.path.abspath(path) in created:
        os.chown(path, uid, gid)
    return created


def backup_path(path):
    """A backup name in the style of ansible's ``backup_local``: ``<path>.<pid>.<stamp>~``."""
    return '%s.%s.%s~' % (path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S'))


def make_backup(path):
    """Copy ``path`` (mode and owner kept) next to itself; return the copy's path, or None."""
    if not os.path.lexists(path):
        return None
    refuse_link(path)
    dest = backup_path(path)
    shutil.copy2(path, dest)
    stat = os.stat(path)
    try:
        os.chown(dest, stat.st_uid, stat.st_gid)
    except OSError:
        pass
    return dest


def fsync_dir(folder):
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove(path):
    """Remove ``path``; a file that is already gone is fine."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def write_temp(folder, name, data, mode=0o600, uid=-1, gid=-1):
    """Write ``data`` to a new temporary file in ``folder`` (named after ``name``), fsync'ed and with
    its final mode and owner; return its path. Nothing is left behind when this fails."""
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=folder)  # 0600 from the start
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if uid != -1 or gid != -1:
                os.fchown(handle.fileno(), uid, gid)    # on the open file: never through a link
            os.fchmod(handle.fileno(), mode)
    except BaseException:
        remove(tmp)
        raise
    return tmp


def atomic_write(path, data, mode=0o600, uid=-1, gid=-1, backup=False):
    """Write ``data`` (bytes) to ``path`` atomically with ``mode`` and owner ``uid``/``gid``.

    Returns the backup's path when ``backup`` is true and there was a file to back up.
    """
    folder = os.path.dirname(os.path.abspath(path))
    backup_file = make_backup(path) if backup else None
    tmp = write_temp(folder, os.path.basename(path), data, mode, uid, gid)
    try:
        os.rename(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    fsync_dir(folder)
    return backup_file
