# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""PRIVATE. The host's lock on a pair: two runs never change the same pair on the same host at once.

The controller's lock (statefolder.Lock) lives in the state folder, so two jobs with two
throw-away state folders (two AWX jobs, two CI runners) do not see each other. The hosts are the
truth, so the lock that holds for them lives on the host, in a root-owned folder of its own
(``/run/lock/vlaanderen-dov``; ``vlaanderen-dov-<uid>`` for another connection user; under /tmp
where /run/lock is missing or not writable for that user), never in ``dest_dir``, which the
application user owns. One file per pair and dest_dir. (Runs that connect as different users use
different folders: keep one connection user per host, as the role's become does.)

Two levels, both taken and released inside the host_certificates calls that run anyway:

- **during a call** (prepare, install): ``flock`` on the lock file. A second run's call on the
  same pair waits for it (up to ``WAIT`` seconds), so key, CSR and certificate files are never
  written by two runs at once, and no run removes another's temporary files.
- **from prepare to install** (a *lease*, on the key holder, only when the run may ask an issuer:
  a new key, no complete certificate yet, a staged renewal): the record in the file names the
  run (``dov_plan.run``), the boot and when it lapses. Another run's prepare that finds a live
  lease stops for that pair with a clear message, so one run issues one certificate for one key.
  The run's install call on the key holder ends the lease.

A lease is stale, and taken over, when the host booted since (another boot id), when it
lapsed (the controller's issuer timeout plus a margin, given as ``lease``), or when it names the
same controller and state folder as the run that finds it: the state folder's own lock
(statefolder.Lock) keeps two runs of one folder apart, so that earlier run is over (it stopped
between its prepare and its install: an issuer that failed, a certificate refused). A free lock's file is
removed under the flock; a waiter that then gets the flock of the removed file sees that the name
no longer points at it and opens the name again (else two runs could each hold "the" lock).

Plain functions; ``hold`` returns a ``PairLock`` that the module gives back with ``give_back``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

RUN_LOCK = '/run/lock'
WAIT = 120                      # seconds a call waits for another run's call on the same pair
BOOT_ID = '/proc/sys/kernel/random/boot_id'
PHASES = ('prepare', 'install')


def boot_id(path=BOOT_ID):
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except (IOError, OSError):
        return None


def lock_folder(root=None, uid=None):
    """Where this user's pair locks live: /run/lock/vlaanderen-dov (root) or vlaanderen-dov-<uid>;
    under /tmp where /run/lock is missing or not writable for this user (RHEL's is root's only)."""
    uid = os.geteuid() if uid is None else uid
    if root is None:
        root = next((path for path in (RUN_LOCK, '/tmp') if os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)),
                    None) or tempfile.gettempdir()
    return os.path.join(root, 'vlaanderen-dov' if uid == 0 else 'vlaanderen-dov-%d' % uid)


def lock_name(application, environment, dest_dir):
    digest = hashlib.sha256(('%s/%s\0%s' % (application, environment, os.path.abspath(dest_dir))).encode('utf-8'))
    return 'pair-%s.lock' % digest.hexdigest()[:24]


def open_folder(folder):
    """A descriptor of ``folder``, made 0700 when missing; refused unless it is a real folder of
    this user that nobody else can write (a link or someone else's folder is never used)."""
    try:
        os.mkdir(folder, 0o700)
    except OSError as error:
        if error.errno != errno.EEXIST:
            raise DovError('The lock folder %s cannot be made: %s. Check that %s is writable for this user.'
                           % (folder, error.strerror, os.path.dirname(folder)))
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_NOFOLLOW', 0))
    except OSError as error:
        raise DovError('The lock folder %s cannot be opened: %s. It must be a folder (not a link) of this user; '
                       'remove what is there and run again.' % (folder, error.strerror))
    info = os.fstat(fd)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        os.close(fd)
        raise DovError('The lock folder %s is not a private folder of this user (owner uid %d, mode %s). Remove it '
                       '(the next run makes it 0700), or make it owned by uid %d and not writable by others.'
                       % (folder, info.st_uid, oct(stat.S_IMODE(info.st_mode)), os.geteuid()))
    return fd


def _open_lock_file(dir_fd, name, path):
    flags = os.O_RDWR | os.O_CREAT | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_CLOEXEC', 0)
    try:
        fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
    except OSError as error:
        raise DovError('The lock file %s cannot be opened: %s. Remove it (a link or another file is in the '
                       'way) and run again.' % (path, error.strerror))
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_nlink != 1:
        os.close(fd)
        raise DovError('The lock file %s is not a plain file of this user. Remove it and run again.' % path)
    return fd


def _flock(fd, deadline):
    """The exclusive flock on ``fd``, waiting until ``deadline`` (time.monotonic); whether it was had."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except (IOError, OSError) as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK) or time.monotonic() >= deadline:
                return False
            time.sleep(0.1)


def _names(dir_fd, name, fd):
    """Whether ``name`` in the lock folder is still the file ``fd`` holds."""
    try:
        named = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


class PairLock(object):
    """One pair's lock file, flocked for the duration of one call."""

    def __init__(self, path, fd, pair, run, record, dir_fd=None, name=None, state_folder=None):
        self.path, self.fd, self.pair, self.run, self.state_folder = path, fd, pair, run, state_folder
        self.dir_fd, self.name = dir_fd, name
        self.found = record       # the record as the call found it (None: free)

    def free(self):
        """Remove the file while the flock is held: the lock is free (waiters open the name again)."""
        os.unlink(self.name, dir_fd=self.dir_fd)

    def write(self, record):
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        if record:
            os.write(self.fd, json.dumps(record, sort_keys=True).encode('utf-8'))
        os.fsync(self.fd)

    def close(self):
        if self.fd is not None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None


def read_record(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 65536)
    if not data.strip():
        return None
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError:
        return None             # a half-written record (a host that lost power): a free lock
    return record if isinstance(record, dict) else None


def live(record, now=None, boot=None):
    """Whether ``record`` still holds: the same boot, and not lapsed."""
    if not record:
        return False
    now = time.time() if now is None else now
    boot = boot_id() if boot is None else boot
    if record.get('boot_id') and boot and record['boot_id'] != boot:
        return False
    try:
        return float(record.get('expires') or 0) > now
    except (TypeError, ValueError):
        return False


def busy_message(pair, record, path):
    return ('Another run is changing %s on this host (run %s, since %s; lock file %s). Wait for it to finish and run '
            'again; if that run is gone, the lock lapses at %s, or remove the lock file.'
            % (pair, str(record.get('run') or '?')[:12], validity.utc_text(float(record.get('taken') or 0)), path,
               validity.utc_text(float(record.get('expires') or 0))))


def hold(application, environment, dest_dir, run, folder=None, wait=WAIT, now=None, boot=None, state_folder=None):
    """Take the pair's lock for one call: a ``PairLock`` (flocked), or a DovError when another run's
    call does not finish within ``wait`` seconds or another run holds a live lease (one of another
    state folder than ``state_folder``)."""
    pair = '%s/%s' % (application, environment)
    folder = folder or lock_folder()
    name = lock_name(application, environment, dest_dir)
    path = os.path.join(folder, name)
    deadline = time.monotonic() + wait
    dir_fd = open_folder(folder)
    try:
        while True:
            fd = _open_lock_file(dir_fd, name, path)
            if _flock(fd, deadline):
                if _names(dir_fd, name, fd):
                    break
                os.close(fd)        # freed and removed while we waited: open the name again
                continue
            os.close(fd)
            raise DovError('Another run is working on %s on this host right now (lock file %s, busy for more '
                           'than %d seconds). Wait for it to finish and run again.' % (pair, path, wait))
    except BaseException:
        os.close(dir_fd)
        raise
    record = read_record(fd)
    lock = PairLock(path, fd, pair, run, record, dir_fd, name, state_folder)
    if live(record, now, boot) and record.get('run') != run and not (state_folder and record.get('state_folder') == state_folder):
        lock.close()
        raise DovError(busy_message(pair, record, path))
    return lock


def needs_lease(phase, entry, result):
    """Whether the key holder keeps the pair's lease after prepare: the run may ask an issuer (a new
    key, no complete certificate installed for it, or a staged renewal)."""
    if phase != 'prepare' or not entry.get('key_holder') or not result or result.get('error'):
        return False
    if result.get('staged'):
        return True
    return not (result.get('converged') or (result.get('complete') and not result.get('key_created')))


def give_back(lock, lease=0, now=None, boot=None):
    """End the call: keep a lease of ``lease`` seconds for this run (prepare on the key holder), or
    free the lock (its file removed); then unlock. (A live lease of another run never gets here:
    ``hold`` refused it.)"""
    if lock is None:
        return
    try:
        now = time.time() if now is None else now
        if lease > 0:
            taken = float((lock.found or {}).get('taken') or now) if (lock.found or {}).get('run') == lock.run else now
            lock.write({'run': lock.run, 'pair': lock.pair, 'state_folder': lock.state_folder,
                        'boot_id': boot_id() if boot is None else boot,
                        'pid': os.getpid(), 'taken': taken, 'expires': now + lease})
        else:
            lock.free()
    except (IOError, OSError):
        pass        # the file went or the disk is full: the call's work is done; the lease is not kept
    finally:
        lock.close()


def take(entry, run, phase, check_mode, state_folder=None):
    """The module's hook before an entry: the pair's lock for this call (None when no lock applies:
    no run id, check mode, or a phase that writes nothing)."""
    if not run or check_mode or phase not in PHASES:
        return None
    return hold(entry['application'], entry['environment'], entry['dest_dir'], run, state_folder=state_folder)
