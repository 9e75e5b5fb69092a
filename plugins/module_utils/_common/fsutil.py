# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Files and folders that another user may be able to change: opened, never followed.

The run is root; the application's user owns ``dest_dir`` (and often its parent). Whatever that
user planted there must not be followed, blocked on or trusted, so every operation on a managed
file goes through a :class:`Folder`: a descriptor of the folder reached by :func:`open_folder`,
one path component at a time from ``/``, each opened relative to its verified parent with
``O_NOFOLLOW | O_DIRECTORY``. A symbolic link on the way is followed only where nobody but root
(or the connecting user) could have put it there: in a folder that only they can write, or in a
sticky folder such as ``/tmp`` when the link is theirs; anywhere else it is refused with its path
(OpenSSH refuses user-owned links in the same way). Folders are created on the descriptor, their
mode and owner set on it (``fchmod``/``fchown``), and only on what this call created.

Files in a folder are read with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO never blocks), only when
``fstat`` says they are regular files with one name, and never more than a limit
(:data:`MAX_MANAGED_SIZE`). Writes are atomic: a temporary file made with ``O_EXCL`` in the same
folder (0600 from the start), fsync'ed, given its mode and owner on the descriptor, renamed over
the target relative to the folder's descriptor; then the folder is fsync'ed. A reader sees the
old file or the new one, never half of one, and a key is 0600 (or tighter) from its first byte.

The path-level functions (``read_managed``, ``atomic_write``, ``ensure_dir`` ...) each open the
folder this way for one operation; :func:`check_folder` checks a whole path against the owners
allowed there (root, the connecting user, the entry's owner) before a run touches it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii
import contextlib
import errno
import grp
import os
import pwd
import stat
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

# The argument spec of the options that the doc fragment vlaanderen.dov.files documents.
FILE_OPTIONS = dict(
    owner=dict(type='str'),
    group=dict(type='str'),
    backup=dict(type='bool', default=False),
)

NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)
_NONBLOCK = getattr(os, 'O_NONBLOCK', 0)
_CLOEXEC = getattr(os, 'O_CLOEXEC', 0)
_DIRECTORY = getattr(os, 'O_DIRECTORY', 0)
READ_NO_FOLLOW = os.O_RDONLY | NOFOLLOW | _NONBLOCK | _CLOEXEC
DIR_FLAGS = os.O_RDONLY | _DIRECTORY | NOFOLLOW | _NONBLOCK | _CLOEXEC
# A certificate, key, chain or keystore is a few KiB; a CA bundle some hundreds. Nothing the
# collection manages comes near these, and a bigger file is refused before it is read.
MAX_MANAGED_SIZE = 1024 * 1024
MAX_READ_SIZE = 16 * 1024 * 1024
_MAX_LINKS = 32


# ---------------------------------------------------------------- paths

def path_problem(path):
    """Why ``path`` cannot be a folder or file the collection manages on a host, or None: it must
    be absolute, without control characters (a newline, NUL), and not the root folder. A ``..``
    part is allowed (``{{ inventory_dir }}/../hosts``); the host resolves it as the kernel does,
    through existing folders only (``open_folder``)."""
    text = path if isinstance(path, str) else str(path or '')
    if not text:
        return 'is empty'
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        return 'contains a control character (a newline, a tab or NUL)'
    if not text.startswith('/'):
        return 'is not an absolute path'
    if os.path.normpath(text) in ('/', '//'):
        return 'is the root folder'
    return None


def normal_path(path):
    """``path`` with doubled and trailing slashes and ``.`` parts removed: ``/x//shared/.`` is
    ``/x/shared`` (``..`` stays: only the host knows whether the part before it is a link)."""
    text = str(path)
    parts = [part for part in text.split('/') if part and part != '.']
    return ('/' if text.startswith('/') else '') + '/'.join(parts) or '/'


def _absolute_parts(path):
    text = str(path)
    if not text.startswith('/'):
        text = os.path.join(os.getcwd(), text)
    return [part for part in text.split('/') if part and part != '.']


# ---------------------------------------------------------------- owners

def resolve_owner(owner, group=None):
    """(uid, gid) for names or numeric ids; -1 where nothing was asked."""
    uid = gid = -1
    if owner:
        try:
            uid = int(owner) if str(owner).isdigit() else pwd.getpwnam(owner).pw_uid
        except KeyError:
            raise DovError("The user %r does not exist on this host. Create it first or set another owner." % owner)
    if group:
        try:
            gid = int(group) if str(group).isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise DovError("The group %r does not exist on this host. Create it first or set another group." % group)
    return uid, gid


# ---------------------------------------------------------------- the walk

def _who(uid):
    try:
        return 'user %s' % pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def _mine(uid):
    return uid in (0, os.geteuid())


def _chain_ok(parent_safe, parent_sticky, info):
    """Whether an entry of a folder could only have been put there by root or the connecting user."""
    return parent_safe or (parent_sticky and _mine(info.st_uid))


def _lstat_at(fd, name):
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOENT,):
            return None
        raise


def _open_dir_at(fd, name, path, info=None):
    try:
        child = os.open(name, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise DovError("%s was replaced while it was opened (by another process?). Nothing was written there; "
                           "run again, and check who else writes in %s." % (path, os.path.dirname(path)))
        raise DovError("Cannot open the folder %s: %s. Check the path and its permissions." % (path, exc.strerror))
    if info is not None:
        opened = os.fstat(child)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            os.close(child)
            raise DovError("%s was replaced while it was opened (by another process?). Nothing was written there; "
                           "run again, and check who else writes in %s." % (path, os.path.dirname(path)))
    return child


def _refuse_link(path, fd, name):
    raise DovError("%s is a symbolic link (to %s); vlaanderen.dov does not follow a link that another user could "
                   "have made, nor one in the place of dest_dir. Point dest_dir (or privatekey_path) at the real "
                   "folder, or remove the link." % (path, _link_target(fd, name)))


def _at_root():
    """The walk's start, and its restart after ``..`` or a link's absolute target: ``/`` opened, whether
    only root (or the connecting user) can change it, and not sticky."""
    fd = os.open('/', DIR_FLAGS)
    root = os.fstat(fd)
    return fd, _mine(root.st_uid) and not root.st_mode & 0o022, False


def _walk(path, create=False, mode=0o700, uid=-1, gid=-1, parent_mode=None, owners=None, follow_last=True):
    """(descriptor of the folder ``path`` or None when it is missing and not created, its path
    as walked, the folders created, the folders that are missing). See the module's docstring."""
    pending = _absolute_parts(path)
    fd, safe, sticky = _at_root()
    resolved = []
    created, hops = [], 0
    try:
        while pending:
            name = pending.pop(0)
            current = '/' + '/'.join(resolved + [name])
            is_leaf = not pending
            if name == '..':
                pending = resolved[:-1] + pending
                resolved = []
                os.close(fd)
                fd, safe, sticky = _at_root()
                continue
            info = _lstat_at(fd, name)
            if info is None:
                if '..' in pending:
                    raise DovError("%s does not exist, so %s cannot be reached through '..'. Write the path without "
                                   "'..', or create %s first." % (current, path, current))
                if not create:
                    missing = [current] + ['/' + '/'.join(resolved + [name] + pending[:index + 1])
                                           for index in range(len(pending))]
                    os.close(fd)
                    return None, normal_path('/' + '/'.join(resolved + [name] + pending)), created, missing
                folder_mode = mode if is_leaf or parent_mode is None else parent_mode
                try:
                    os.mkdir(name, 0o700, dir_fd=fd)
                except OSError as exc:
                    if exc.errno == errno.EEXIST:
                        pending.insert(0, name)      # made by someone else meanwhile: look again
                        continue
                    raise DovError("Cannot create the folder %s: %s. Check the path and the permissions of its "
                                   "parent." % (current, exc.strerror))
                child = _open_dir_at(fd, name, current)
                made = os.fstat(child)
                if made.st_uid != os.geteuid():
                    os.close(child)
                    raise DovError("%s was replaced right after it was created (by another process?). Nothing was "
                                   "written there; run again, and check who else writes in %s."
                                   % (current, os.path.dirname(current)))
                os.fchmod(child, folder_mode)         # mkdir's mode is masked by the umask
                if is_leaf and (uid != -1 or gid != -1):
                    os.fchown(child, uid, gid)
                created.append(current)
                safe, sticky = _chain_ok(safe, sticky, made) and not folder_mode & 0o022, False
                os.close(fd)
                fd = child
                resolved.append(name)
                continue
            if stat.S_ISLNK(info.st_mode):
                if not _chain_ok(safe, sticky, info) or (is_leaf and not follow_last):
                    _refuse_link(current, fd, name)
                hops += 1
                if hops > _MAX_LINKS:
                    raise DovError("%s leads through more than %d symbolic links. Point dest_dir at the real folder."
                                   % (path, _MAX_LINKS))
                target = os.readlink(name, dir_fd=fd)
                rest = [part for part in target.split('/') if part and part != '.']
                pending = (rest if target.startswith('/') else resolved + rest) + pending
                resolved = []
                os.close(fd)
                fd, safe, sticky = _at_root()
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise DovError("%s exists and is not a folder. Move it away or choose another path." % current)
            if owners is not None and info.st_uid not in owners:
                raise DovError(
                    "%s is owned by %s, who is neither root, the connecting user nor the entry's owner: that user "
                    "could swap the folder for a link while the run writes there. Give the folder to root or to "
                    "the owner, or choose a dest_dir under folders they own." % (current, _who(info.st_uid)))
            child = _open_dir_at(fd, name, current, info)
            chained = _chain_ok(safe, sticky, info) and _mine(info.st_uid)
            safe = chained and not info.st_mode & 0o022
            sticky = chained and bool(info.st_mode & stat.S_ISVTX)
            os.close(fd)
            fd = child
            resolved.append(name)
    except BaseException:
        os.close(fd)
        raise
    return fd, normal_path('/' + '/'.join(resolved)), created, []


class Folder(object):
    """A folder opened by :func:`open_folder`; every operation is relative to its descriptor."""

    def __init__(self, fd, path, created=()):
        # ``path``: as the caller named it (a safe link on the way is not resolved in messages)
        self.fd = fd
        self.path = path
        self.created = list(created)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def join(self, name):
        return os.path.join(self.path, name)

    @property
    def identity(self):
        info = os.fstat(self.fd)
        return info.st_dev, info.st_ino

    def lstat(self, name):
        """The entry's own stat (a link is not followed), or None when it does not exist."""
        try:
            return _lstat_at(self.fd, name)
        except OSError as exc:
            raise DovError("Cannot look at %s: %s. Check its permissions." % (self.join(name), exc.strerror))

    def listdir(self):
        return os.listdir(self.fd)

    def open_file(self, name, failure='Cannot read', limit=None):
        """A descriptor of the regular file ``name`` (no link followed, no blocking on a FIFO), or
        None when it does not exist. Anything else under the name is refused, naming it."""
        path = self.join(name)
        try:
            fd = os.open(name, READ_NO_FOLLOW, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ELOOP:
                raise _managed_link(self, name)
            raise DovError("%s %s: %s. Check the path and its permissions." % (failure, path, exc.strerror))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise DovError("%s is not a regular file (a folder, FIFO or device?). Move it away; the next run "
                               "writes the file there." % path)
            if info.st_nlink > 1:
                raise DovError("%s has %d names (hard links); vlaanderen.dov does not read or change a file that is "
                               "also elsewhere. Remove the other names, or move it away: the next run writes a new "
                               "file." % (path, info.st_nlink))
            if limit is not None and info.st_size > limit:
                raise DovError("%s is %d bytes, more than the %d a file of the collection can be. Move it away; the "
                               "next run writes the file there." % (path, info.st_size, limit))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read(self, name, limit=MAX_MANAGED_SIZE):
        """The content of the regular file ``name``, or None when it does not exist (see open_file)."""
        fd = self.open_file(name, limit=limit)
        if fd is None:
            return None
        try:
            return read_fd(fd, limit, self.join(name))
        finally:
            os.close(fd)

    def write_temp(self, name, data, mode=0o600, uid=-1, gid=-1):
        """``data`` in a new temporary file ``.<name>.<random>.tmp`` (0600 from the start, fsync'ed, then
        mode and owner set on the descriptor); returns its name. Nothing is left when this fails."""
        for _attempt in range(100):
            tmp = '.%s.%s.tmp' % (name, binascii.hexlify(os.urandom(4)).decode('ascii'))
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | _CLOEXEC, 0o600, dir_fd=self.fd)
                break
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
        else:
            raise DovError("Cannot make a temporary file in %s. Remove the .%s.*.tmp files there." % (self.path, name))
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            if uid != -1 or gid != -1:
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            self.unlink(tmp)
            raise
        os.close(fd)
        return tmp

    def rename(self, source, target):
        os.rename(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name):
        """Remove the entry ``name`` (a link itself, never its target); True when it was there."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return False
            raise
        return True

    def fsync(self):
        try:
            os.fsync(self.fd)
        except OSError:
            pass    # not every file system allows it

    def set_attributes(self, name, mode, uid=-1, gid=-1):
        fd = self.open_file(name, 'Cannot set the mode and owner of')
        if fd is None:
            raise DovError("Cannot set the mode and owner of %s: it does not exist (any more). Run again; the next "
                           "run writes the file." % self.join(name))
        try:
            if uid != -1 or gid != -1:
                os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def write(self, name, data, mode=0o600, uid=-1, gid=-1):
        """Write ``name`` atomically (temporary file, rename, fsync of the folder)."""
        tmp = self.write_temp(name, data, mode, uid, gid)
        try:
            self.rename(tmp, name)
        except BaseException:
            self.unlink(tmp)
            raise
        self.fsync()


def _managed_link(folder, name):
    """The refusal of a managed name in ``folder`` that is a symbolic link."""
    return DovError("%s is a symbolic link (to %s); vlaanderen.dov does not follow links for the files it manages. "
                    "Remove the link (the next run writes a real file there), or point dest_dir at the real folder."
                    % (folder.join(name), _link_target(folder.fd, name)))


def _link_target(fd, name):
    try:
        return os.readlink(name, dir_fd=fd)
    except OSError:
        return '?'


def read_fd(fd, limit, path):
    chunks, size = [], 0
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b''.join(chunks)
        size += len(chunk)
        if limit is not None and size > limit:
            raise DovError("%s is more than the %d bytes a file of the collection can be. Move it away; the next run "
                           "writes the file there." % (path, limit))
        chunks.append(chunk)


def open_folder(path, create=False, mode=0o700, uid=-1, gid=-1, parent_mode=None, owners=None, follow_last=True):
    """The :class:`Folder` ``path``, reached without following a link that another user could have
    planted; None when it does not exist and ``create`` is false. With ``create``, missing folders
    are made: ``path`` itself with ``mode`` and given to ``uid``/``gid``, its parents with
    ``parent_mode`` (default ``mode``) for the connecting user; ``Folder.created`` lists them.
    ``owners`` (uids): refuse a folder on the way that belongs to anyone else. Without
    ``follow_last``, ``path`` itself must not be a link (even a safe one)."""
    try:
        fd, walked, created, _missing = _walk(path, create, mode, uid, gid, parent_mode, owners, follow_last)
    except OSError as exc:
        raise DovError("Cannot open the folder %s: %s. Check the path and its permissions." % (path, exc.strerror))
    if fd is None:
        return None
    return Folder(fd, normal_path(os.path.abspath(str(path))), created)


def check_folder(path, owners=None, follow_last=True):
    """Check the folders of ``path`` that exist (no link another user could have planted; with
    ``owners``, none that belongs to anyone else; without ``follow_last``, ``path`` itself is no
    link); return the folders that are missing."""
    try:
        fd, _walked, _created, missing = _walk(path, owners=owners, follow_last=follow_last)
    except OSError as exc:
        raise DovError("Cannot open the folder %s: %s. Check the path and its permissions." % (path, exc.strerror))
    if fd is not None:
        os.close(fd)
    return missing


def check_owners(folders, owner=None):
    """``check_folder`` for each of ``folders`` with the owners a managed folder may have on its way:
    root, the connecting user and ``owner`` (the application's user, a name or a uid)."""
    uid, _gid = resolve_owner(owner)
    owners = set([0, os.geteuid()] + ([uid] if uid != -1 else []))
    for folder in folders:
        check_folder(folder, owners)


def _split(path):
    path = os.path.abspath(str(path))
    return os.path.dirname(path), os.path.basename(path)


@contextlib.contextmanager
def _parent(path, missing=None):
    """(the verified Folder that holds ``path``, or None when that folder does not exist, the name
    of ``path`` in it); ``missing``: the DovError message for a folder that does not exist."""
    folder, name = _split(path)
    handle = open_folder(folder)
    if handle is None:
        if missing:
            raise DovError(missing)
        yield None, name
        return
    with handle:
        yield handle, name


# ---------------------------------------------------------------- one operation each

def read_bytes(path, limit=MAX_READ_SIZE):
    """The content of a file the user names (a certificate to install, a CA bundle): a link is
    followed, as the user meant it, but a FIFO does not block and only a regular file of at most
    ``limit`` bytes is read; None when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise DovError("Cannot read %s: %s. Check the path and its permissions." % (path, exc.strerror))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DovError("%s is not a regular file (a folder, FIFO or device?). Give the path of a file." % path)
        if limit is not None and info.st_size > limit:
            raise DovError("%s is %d bytes, more than the %d that are read. Give the certificate or bundle alone."
                           % (path, info.st_size, limit))
        return read_fd(fd, limit, path)
    finally:
        os.close(fd)


def read_managed(path, limit=MAX_MANAGED_SIZE):
    """The content of a file the collection manages, or None when it (or its folder) does not
    exist: reached and opened without following a link, never blocking, only a regular file."""
    with _parent(path) as (folder, name):
        return folder.read(name, limit) if folder else None


def read_managed_with_stat(path, limit=MAX_MANAGED_SIZE):
    """(content, stat) of a managed file, both from the same open file (as ``read_managed`` opens
    it), or None when it (or its folder) does not exist."""
    with _parent(path) as (folder, name):
        fd = folder.open_file(name, limit=limit) if folder else None
        if fd is None:
            return None
        try:
            return read_fd(fd, limit, path), os.fstat(fd)
        finally:
            os.close(fd)


def lexists(path):
    """Whether something (a link included) is at ``path``, looked at without following links."""
    with _parent(path) as (folder, name):
        return bool(folder) and folder.lstat(name) is not None


def refuse_link(path):
    """Raise a DovError when ``path`` is a symbolic link: managed files are never followed."""
    with _parent(path) as (folder, name):
        info = folder.lstat(name) if folder else None
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise _managed_link(folder, name)


def set_attributes(path, mode, uid=-1, gid=-1):
    """Mode and owner of an existing managed file, set on the open file (fchown/fchmod)."""
    with _parent(path, "Cannot set the mode and owner of %s: its folder does not exist (any more). Run again; the "
                       "next run writes the file." % path) as (folder, name):
        folder.set_attributes(name, mode, uid, gid)


def remove_stale_temps(folder, names):
    """Remove the temporary files ``.<name>.*.tmp`` that a killed run left in ``folder`` (a key's
    temporary file holds the key); return their paths. Links are removed, never followed."""
    handle = open_folder(folder)
    if handle is None:
        return []
    removed = []
    with handle:
        for entry in sorted(handle.listdir()):
            if not entry.endswith('.tmp') or not any(entry.startswith('.%s.' % name) for name in names):
                continue
            info = handle.lstat(entry)
            if info is None or stat.S_ISDIR(info.st_mode):
                continue
            if handle.unlink(entry):
                removed.append(handle.join(entry))
    return removed


def missing_dirs(path):
    """The folders that ``ensure_dir(path)`` would create, outermost first (the existing ones
    checked on the way: a link another user could have planted is refused)."""
    return check_folder(path)


def ensure_dir(path, mode=0o700, uid=-1, gid=-1, parent_mode=None):
    """Create ``path`` and its missing parents; return the folders created.

    ``path`` itself (when created here) gets ``mode`` and is given to ``uid``/``gid``, so that the
    application's user can reach its files; missing parents stay the connecting user's, with
    ``parent_mode`` (default ``mode``). An existing folder is never changed."""
    handle = open_folder(path, create=True, mode=mode, uid=uid, gid=gid, parent_mode=parent_mode)
    with handle:
        return handle.created


def backup_path(path):
    """A backup name in the style of ansible's ``backup_local``: ``<path>.<pid>.<stamp>~``."""
    return '%s.%s.%s~' % (path, os.getpid(), time.strftime('%Y-%m-%d@%H:%M:%S'))


def make_backup(path):
    """Copy ``path`` (mode and owner kept) next to itself; return the copy's path, or None."""
    with _parent(path) as (folder, name):
        fd = folder.open_file(name, 'Cannot back up') if folder else None
        if fd is None:
            return None
        try:
            info = os.fstat(fd)
            data = read_fd(fd, MAX_READ_SIZE, path)
        finally:
            os.close(fd)
        backup = os.path.basename(backup_path(path))
        # owner kept where this user may give it (root, or the file is this user's own)
        keep = os.geteuid() in (0, info.st_uid)
        folder.write(backup, data, stat.S_IMODE(info.st_mode), info.st_uid if keep else -1, info.st_gid if keep else -1)
        return folder.join(backup)


def fsync_dir(folder):
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        handle = open_folder(folder)
    except DovError:
        return
    if handle is not None:
        with handle:
            handle.fsync()


def remove(path):
    """Remove ``path`` (a link itself, never its target); a file that is already gone is fine."""
    with _parent(path) as (folder, name):
        if folder:
            folder.unlink(name)


def rename(source, target):
    """Rename ``source`` to ``target`` in the same folder, relative to the folder's descriptor."""
    if os.path.dirname(os.path.abspath(source)) != _split(target)[0]:
        raise DovError("Cannot move %s to %s: not in the same folder. This is a bug of vlaanderen.dov; please "
                       "report it." % (source, target))
    with _parent(target, "Cannot move %s into place: the folder %s is gone. Run again."
                 % (source, _split(target)[0])) as (folder, name):
        folder.rename(os.path.basename(source), name)


def write_temp(folder, name, data, mode=0o600, uid=-1, gid=-1):
    """Write ``data`` to a new temporary file in ``folder`` (named after ``name``), fsync'ed and with
    its final mode and owner; return its path. Nothing is left behind when this fails."""
    with _parent(os.path.join(str(folder), name), "Cannot write in %s: the folder does not exist. Run again; the "
                                                  "next run creates it." % folder) as (handle, _name):
        return handle.join(handle.write_temp(name, data, mode, uid, gid))


def atomic_write(path, data, mode=0o600, uid=-1, gid=-1, backup=False):
    """Write ``data`` (bytes) to ``path`` atomically with ``mode`` and owner ``uid``/``gid``.

    Returns the backup's path when ``backup`` is true and there was a file to back up.
    """
    backup_file = make_backup(path) if backup else None
    with _parent(path, "Cannot write %s: the folder %s does not exist. Create it first."
                 % (path, _split(path)[0])) as (folder, name):
        folder.write(name, data, mode, uid, gid)
    return backup_file
