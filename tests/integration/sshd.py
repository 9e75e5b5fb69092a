# -*- coding: utf-8 -*-
"""Real SSH hosts for the integration tests: OpenSSH ``sshd`` instances on 127.0.0.2, 127.0.0.3, ...

Nothing here is collection code. Each server runs from a tmp folder of its own: its own
sshd_config, host key, AuthorizedKeysFile, PidFile and log file, on port 22 of its loopback
address when that is free, else on a free port. One client key (made for the test) may log in as
the current user (root in CI) with that key only: no password, no PAM, ``StrictModes no`` so
that the tmp folders' modes do not matter.

    hosts = SshHosts(tmp_folder)
    server = hosts.start('127.0.0.2')      # waits until the server greets
    ... ssh -i hosts.client_key -p server.port root@127.0.0.2 ...
    hosts.stop()                           # every server, and the sessions they opened

The client's own ControlPersist masters end with their sessions when a server stops.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time

from support import free_port

SSHD = shutil.which('sshd') or '/usr/sbin/sshd'
SSH_KEYGEN = shutil.which('ssh-keygen') or '/usr/bin/ssh-keygen'
SFTP_SERVER = next((path for path in ('/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server',
                                      '/usr/libexec/sftp-server') if os.path.exists(path)), 'internal-sftp')
PRIVSEP_DIR = '/run/sshd'

SSHD_CONFIG = '''\
# test sshd for {address}: key login only, everything in {folder}
ListenAddress {address}:{port}
HostKey {folder}/host_ed25519_key
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
AllowUsers {user}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
UsePAM no
StrictModes no
UseDNS no
X11Forwarding no
AllowAgentForwarding no
PrintMotd no
MaxSessions 30
MaxStartups 30:50:60
LogLevel VERBOSE
Subsystem sftp {sftp}
'''


def available():
    """Why sshd cannot be used here, or None when it can."""
    if not os.path.exists(SSHD):
        return 'sshd is not installed (apt-get install -y openssh-server)'
    if not os.path.exists(SSH_KEYGEN):
        return 'ssh-keygen is not installed (apt-get install -y openssh-client)'
    return None


def _run(command):
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                          universal_newlines=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError('%s failed (%s): %s' % (' '.join(command), proc.returncode, proc.stdout))
    return proc.stdout


def make_key(path, comment='dov-test'):
    """An ed25519 key pair at ``path`` / ``path.pub`` without passphrase (mode 0600)."""
    _run([SSH_KEYGEN, '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path])
    return path


def port_is_free(address, port):
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def refused_port(address):
    """A port on ``address`` where nothing listens (a connection is refused): an unreachable host."""
    return free_port(address)


def _tail(path, size=3000):
    if path and os.path.exists(path):
        with open(path, errors='replace') as handle:
            return handle.read()[-size:]
    return ''


def _children(pid):
    """The pids whose parent is ``pid`` (read from /proc), then their children, ..."""
    parents = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as handle:
                stat = handle.read()
        except (IOError, OSError):
            continue
        fields = stat[stat.rfind(')') + 2:].split()
        parents.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except OSError as error:
        if error.errno != errno.ESRCH:
            raise


class SshServer(object):
    """One sshd listening on ``address:port``, from ``folder``."""

    def __init__(self, address, port, folder, authorized_keys, user):
        self.address = address
        self.port = port
        self.folder = folder
        self.config = os.path.join(folder, 'sshd_config')
        self.log = os.path.join(folder, 'sshd.log')
        self.pidfile = os.path.join(folder, 'sshd.pid')
        os.makedirs(folder, exist_ok=True)
        make_key(os.path.join(folder, 'host_ed25519_key'), 'host %s' % address)
        shutil.copyfile(authorized_keys, os.path.join(folder, 'authorized_keys'))
        with open(self.config, 'w') as handle:
            handle.write(SSHD_CONFIG.format(address=address, port=port, folder=folder, user=user, sftp=SFTP_SERVER))
        _run([SSHD, '-t', '-f', self.config])
        # -D: stay in the foreground (this object owns the process); -E: log to our file.
        self.process = subprocess.Popen([SSHD, '-D', '-f', self.config, '-E', self.log],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait()

    def wait(self, seconds=15):
        """Until the server sends its SSH banner."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('sshd on %s:%d exited with %s:\n%s'
                                   % (self.address, self.port, self.process.returncode, _tail(self.log)))
            try:
                sock = socket.create_connection((self.address, self.port), timeout=1)
                try:
                    if sock.recv(64).startswith(b'SSH-'):
                        return
                finally:
                    sock.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError('sshd on %s:%d does not answer after %ss:\n%s' % (self.address, self.port, seconds,
                                                                             _tail(self.log)))

    @property
    def running(self):
        return self.process.poll() is None

    def log_text(self):
        return _tail(self.log, 100000)

    def stop(self):
        """End this sshd and the sessions it forked (only those: found by parent pid)."""
        if self.process.poll() is None:
            sessions = _children(self.process.pid)
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for pid in sessions:
                _kill(pid, signal.SIGTERM)


class SshHosts(object):
    """A client key and the sshd servers it may log in to."""

    def __init__(self, folder, user=None):
        """``user``: who may log in (default: the current user). Another user's sshd reads the
        authorized_keys as that user: ``folder`` must then be reachable by it."""
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        self.user = user or getpass.getuser()
        self.client_key = make_key(os.path.join(self.folder, 'client_ed25519_key'), 'dov-test client')
        self.authorized_keys = os.path.join(self.folder, 'authorized_keys')
        shutil.copyfile(self.client_key + '.pub', self.authorized_keys)
        os.chmod(self.authorized_keys, 0o644)
        self.servers = []
        if not os.path.isdir(PRIVSEP_DIR):
            os.makedirs(PRIVSEP_DIR, 0o755)     # sshd refuses to start without its privilege separation folder

    def start(self, address, port=None):
        """An sshd on ``address`` (port 22 when free, else a free port)."""
        if port is None:
            port = 22 if port_is_free(address, 22) else free_port(address)
        server = SshServer(address, port, os.path.join(self.folder, 'sshd-%s' % address), self.authorized_keys,
                           self.user)
        self.servers.append(server)
        return server

    def ssh(self, server, command):
        """Run ``command`` on ``server`` with the client key (a smoke test of the harness)."""
        return subprocess.run(['ssh', '-i', self.client_key, '-p', str(server.port), '-o', 'BatchMode=yes',
                               '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
                               '-o', 'LogLevel=ERROR', '%s@%s' % (self.user, server.address), command],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False,
                              timeout=60)

    def stop(self):
        for server in self.servers:
            server.stop()
        self.servers = []
