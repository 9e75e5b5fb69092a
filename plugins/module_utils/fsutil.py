# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File writes that are atomic and never briefly too open.

Every write goes to a temporary file in the destination's folder (created 0600 by mkstemp),
is fsync'ed, gets its final mode and owner, and is renamed over the destination; then the
folder is fsync'ed. A reader sees the old file or the new one, never a half-written one, and a
key is 0600 (or tighter) from the moment it exists.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import shutil
import tempfile
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError


def read_bytes(path):
    """The file's content, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise DovError("Cannot read %s: %s. Check the path and its permissions." % (path, exc.strerror))


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
                raise DovError("Cannot create the folder %s: %s." % (folder, exc.strerror))
        os.chmod(folder, folder_mode)  # mkdir's mode is masked by the umask
    if created and (uid != -1 or gid != -1) and os.path.abspath(path) in created:
        os.chown(path, uid, gid)
    return created


def backup_path(path):
    """A backup name in the style of ansible's ``backup_local``: ``<path>.<pid>.<stamp>~``."""
    return '%s.%s.%s~' % (path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S'))


def make_backup(path):
    """Copy ``path`` (mode and owner kept) next to itself; return the copy's path, or None."""
    if not os.path.exists(path):
        return None
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
            os.chown(tmp, uid, gid)
        os.chmod(tmp, mode)
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
