# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The controller's state folder (``dov_state_dir``): a cache, never the truth.

- ``status.json``: the last state of every pair (``load_status`` / ``write_status``); rebuilt
  from the hosts when it is lost.
- ``<application>/<environment>/certificate.pem``: the pair's certificate as last checked
  (``stored_certificate`` / ``store_certificate``); rebuilt from the hosts when it is lost.
- ``.lock``: ``Lock`` keeps two runs off one state folder. It names the long-lived
  ansible-playbook process (``run_owner``), not the short-lived worker that took it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import multiprocessing
import os
import socket
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

STATUS_FILE = 'status.json'
LOCK_FILE = '.lock'
CERTIFICATE_FILE = 'certificate.pem'
# A lock of another machine (another container, another AWX execution environment) cannot be
# checked for a live process: it is taken over once it is this old. No run takes that long.
STALE_AFTER = 12 * 3600


# ---------------------------------------------------------------- status.json

def load_status(state_dir):
    """The recorded status ``{'pairs': {key: record}}``; empty when there is none (a lost cache)."""
    path = os.path.join(state_dir, STATUS_FILE)
    data = fsutil.read_bytes(path)
    if not data:
        return {'pairs': {}}
    try:
        status = json.loads(data.decode('utf-8'))
    except ValueError:
        raise DovError("%s is not valid JSON. Move it away (the next run rebuilds it from the hosts) or restore it."
                       % path)
    if not isinstance(status, dict) or not isinstance(status.get('pairs', {}), dict):
        raise DovError("%s does not hold a status (a JSON object with 'pairs'). Move it away (the next run rebuilds "
                       "it from the hosts) or restore it." % path)
    status.setdefault('pairs', {})
    return status


def write_status(state_dir, status):
    """Write status.json when its content differs; whether it was written."""
    data = (json.dumps(status, indent=2, sort_keys=True) + '\n').encode('utf-8')
    path = os.path.join(state_dir, STATUS_FILE)
    if fsutil.read_bytes(path) == data:
        return False
    fsutil.ensure_dir(state_dir, 0o700)
    fsutil.atomic_write(path, data, mode=0o644)
    return True


# ---------------------------------------------------------------- the pair's certificate

def certificate_path(state_dir, application, environment):
    return os.path.join(handover.pair_folder(state_dir, application, environment), CERTIFICATE_FILE)


def stored_certificate(state_dir, application, environment):
    """The certificate kept for the pair (PEM text), or None."""
    data = fsutil.read_bytes(certificate_path(state_dir, application, environment))
    return data.decode('ascii') if data else None


def store_certificate(state_dir, application, environment, pem):
    """Keep the pair's certificate (public data); whether the file changed."""
    path = certificate_path(state_dir, application, environment)
    if fsutil.read_bytes(path) == pem.encode('ascii'):
        return False
    fsutil.ensure_dir(os.path.dirname(path), 0o700)
    fsutil.atomic_write(path, pem.encode('ascii'), mode=0o644)
    return True


# ---------------------------------------------------------------- the lock

def process_started(pid):
    """The start time of process ``pid`` (clock ticks since boot, from /proc), or None: with the
    pid it names one process, even after the pid is reused."""
    try:
        with open('/proc/%d/stat' % int(pid)) as handle:
            return int(handle.read().rsplit(')', 1)[1].split()[19])
    except (IOError, OSError, ValueError, IndexError):
        return None


def process_name(pid):
    try:
        with open('/proc/%d/cmdline' % int(pid), 'rb') as handle:
            words = [word.decode('utf-8', 'replace') for word in handle.read().split(b'\0') if word]
    except (IOError, OSError, ValueError):
        return None
    program = next((os.path.basename(word) for word in words if 'ansible' in os.path.basename(word)), None)
    return program or (os.path.basename(words[0]) if words else None)


def run_owner():
    """Who holds the lock: the ansible-playbook process, which lives as long as the run. Action
    plugins run in a forked worker that ends with its task, so a worker names its parent."""
    pid = os.getpid()
    if multiprocessing.current_process().name != 'MainProcess' or os.environ.get('DOV_LOCK_OWNER_IS_PARENT'):
        pid = os.getppid()
    return {'pid': pid, 'process_started': process_started(pid), 'process': process_name(pid),
            'host': socket.gethostname(), 'started': validity.utcnow_seconds().isoformat()}


class Lock(object):
    """``<state_dir>/.lock`` while a run works on the state folder.

    A second run waits up to ``timeout`` seconds, then stops with a message naming the holder.
    A lock is taken over when its run is gone: on this machine when its process is no longer
    alive (pid and start time), from another machine once it is older than ``STALE_AFTER``.
    """

    def __init__(self, state_dir, owner):
        self.path = os.path.join(state_dir, LOCK_FILE)
        self.owner = owner

    def _read(self):
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def _age(self):
        try:
            return time.time() - os.stat(self.path).st_mtime
        except OSError:
            return 0

    def _mine(self, info):
        return bool(info) and all(info.get(name) == self.owner.get(name) for name in ('pid', 'process_started', 'host'))

    def _alive(self, info):
        if not info:
            return self._age() < 60     # being written this very moment, or left empty by a crash
        if info.get('host') != socket.gethostname():
            return self._age() < STALE_AFTER
        try:
            os.kill(int(info.get('pid')), 0)
        except (OSError, ValueError, TypeError) as error:
            if getattr(error, 'errno', None) != errno.EPERM:
                return False
        started = info.get('process_started')
        return started is None or process_started(info.get('pid')) == started

    def describe(self, info):
        info = info or {}
        return 'pid %s (%s) on %s, started %s' % (info.get('pid'), info.get('process') or 'unknown program',
                                                  info.get('host'), info.get('started'))

    def acquire(self, timeout=0, poll=0.5):
        fsutil.ensure_dir(os.path.dirname(self.path), 0o700)
        deadline = time.time() + max(0, timeout)
        while True:
            try:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0),
                                     0o644)
            except OSError as error:
                if error.errno != errno.EEXIST:
                    raise DovError("The lock file %s cannot be made: %s. Check that the state folder is writable."
                                   % (self.path, error.strerror))
                info = self._read()
                if self._mine(info):
                    return 'held'
                if not self._alive(info):
                    try:
                        os.unlink(self.path)
                    except OSError:
                        pass
                    continue
                if time.time() >= deadline:
                    raise DovError(
                        "Another run is working on %s (%s; lock file %s). Wait for it to finish (or set "
                        "dov_lock_timeout to wait), or remove the lock file if that run is gone."
                        % (os.path.dirname(self.path), self.describe(info), self.path))
                time.sleep(poll)
                continue
            with os.fdopen(descriptor, 'w') as handle:
                json.dump(self.owner, handle)
            return 'acquired'

    def release(self):
        """Remove the lock if this run holds it; whether it did."""
        if self._mine(self._read()):
            os.unlink(self.path)
            return True
        return False
