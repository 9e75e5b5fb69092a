# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The file-system side of retire.py: read and remove files relative to their folder, never
following a link.

A folder is opened once with ``O_NOFOLLOW`` on its last part (:class:`Folder`); its files are
looked at with ``lstat`` (:func:`lstat`) and read with ``O_NOFOLLOW`` (:func:`read`) relative to
that descriptor, and a file is only read when it is still the one looked at (same device and
inode). :class:`Removal` removes the files of a plan the same way, after checking that each is
still the file the plan looked at; :func:`remove_folders` removes the emptied folders. Every
failure is a DovError saying what to do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import stat

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def _open_folder(folder):
    """A file descriptor of ``folder``, reached without following a link another user could have
    planted and never a link itself (fsutil.open_folder), or None when it is absent."""
    try:
        handle = fsutil.open_folder(folder, follow_last=False)
    except DovError as error:
        raise DovError("%s Nothing was removed." % error)
    if handle is None:
        return None
    fd, handle.fd = handle.fd, None
    return fd


def lstat(fd, name):
    try:
        return os.lstat(name, dir_fd=fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise DovError("Cannot look at %s: %s. Nothing was removed; check its permissions." % (name, exc.strerror))


def read(fd, name, path, info):
    """The bytes of a regular file, opened without following a link; None when it changed under us."""
    try:
        handle = os.open(name, fsutil.READ_NO_FOLLOW, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ELOOP):
            return None
        raise DovError("Cannot read %s: %s. Nothing was removed; check its permissions." % (path, exc.strerror))
    try:
        opened = os.fstat(handle)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(opened.st_mode):
            return None
        return fsutil.read_fd(handle, fsutil.MAX_MANAGED_SIZE, path)
    finally:
        os.close(handle)


class Folder(object):
    """A folder with managed names in it, opened once."""

    def __init__(self, path):
        self.path = path
        self.fd = _open_folder(path)
        self.names = set()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Removal(object):
    """The plan's files, each in its folder opened without following links. ``check`` confirms,
    for all of them before the first removal, that each is still the file the plan looked at;
    ``unlink`` then removes a group of them. An item has ``path`` and ``identity`` (st_dev, st_ino)."""

    def __init__(self, items):
        self.items = items
        self.opened = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for fd in self.opened.values():
            if fd is not None:
                os.close(fd)
        self.opened = {}

    def _fd(self, folder):
        if folder not in self.opened:
            self.opened[folder] = _open_folder(folder)
        return self.opened[folder]

    def check(self):
        for item in self.items:
            fd = self._fd(os.path.dirname(item.path))
            info = lstat(fd, os.path.basename(item.path)) if fd is not None else None
            if info is not None and (not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != item.identity):
                raise DovError("%s was replaced after it was checked (by another process?). Nothing was removed; "
                               "run again." % item.path)

    def unlink(self, items, removed):
        for item in items:
            fd = self._fd(os.path.dirname(item.path))
            if fd is None:
                continue
            try:
                os.unlink(os.path.basename(item.path), dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    continue      # already gone
                raise DovError("Cannot remove %s: %s. Check the folder's permissions and run again (removed so "
                               "far: %s)." % (item.path, exc.strerror, ', '.join(removed) or 'nothing'))
            removed.append(item.path)
            try:
                os.fsync(fd)
            except OSError:
                pass
        return removed


def remove_folders(folders):
    removed = []
    for folder in folders:
        if os.path.islink(folder):
            continue
        try:
            os.rmdir(folder)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                continue          # gone, or something new appeared in it: it stays
            raise DovError("Cannot remove the folder %s: %s. Check its parent's permissions." % (folder, exc.strerror))
        removed.append(folder)
    return removed
