# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Running a user's program on the controller: ``dov_issuer_command`` (issuers) and
``dov_revoke_command`` (revocation).

``run_program`` runs it in its own session with a timeout (the whole process group is killed,
``stop_group``; also when the run itself is stopped with SIGINT or SIGTERM),
extra environment variables and bytes on stdin; every way it can fail is a DovError that names
the program (``command_name``: without its arguments, which may carry tokens) and its stderr
(``trim_stderr``: private key blocks removed, at most STDERR_LIMIT characters).
``is_empty_command`` tells a command that names no program.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import re
import shlex
import signal
import subprocess
import threading
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

STDERR_LIMIT = 1000
STOP_GRACE = 2      # seconds a stopped program gets after SIGTERM before SIGKILL
POLL = 0.5          # seconds between two looks at whether the run that started the program is still there

_PRIVATE_KEY_BLOCK = re.compile(r'-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)', re.S)


def is_empty_command(command):
    """Whether ``command`` names no program: None, an empty list, or a string of only white space."""
    return not command or (isinstance(command, str) and not command.strip())


def command_name(command):
    """The program a command runs, without its arguments (they may carry tokens)."""
    if isinstance(command, (list, tuple)):
        return os.path.basename(str(command[0])) if command else ''
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', word):
            return os.path.basename(word)
    return ''


def trim_stderr(stderr):
    """What a message says of ``stderr`` (bytes): ``its stderr says: …`` on one line, private key
    blocks removed, its last STDERR_LIMIT characters only; or ``it wrote nothing on stderr``."""
    text = _PRIVATE_KEY_BLOCK.sub('[private key removed]', stderr.decode('utf-8', 'replace'))
    text = ' | '.join(line.strip() for line in text.splitlines() if line.strip())
    if not text:
        return 'it wrote nothing on stderr'
    if len(text) > STDERR_LIMIT:
        text = u'\u2026' + text[-STDERR_LIMIT:]
    return 'its stderr says: %s' % text


def stop_group(process, grace=STOP_GRACE):
    """End the program's whole process group (it runs in its own session, so a signal to the run
    does not reach it): SIGTERM, up to ``grace`` seconds for it to go, then SIGKILL to whatever of
    the group is left (a shell's children too)."""
    if grace:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + grace
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass        # the group is gone already


@contextlib.contextmanager
def _stopped_with_the_run(process):
    """While the program runs: when the run is stopped (SIGINT - Ctrl-C -, SIGTERM, or an exception
    such as KeyboardInterrupt), the program's process group is stopped first. Ansible's worker
    process ends itself in its own SIGINT/SIGTERM handler with os._exit (no finally runs), so the
    handlers are chained here: ours stops the group, then calls the one that was there."""
    chained = {}
    if threading.current_thread() is threading.main_thread():
        def on_signal(signum, frame):
            stop_group(process)
            previous = chained.get(signum)
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
        for signum in (signal.SIGINT, signal.SIGTERM):
            chained[signum] = signal.signal(signum, on_signal)
    try:
        yield
    except subprocess.TimeoutExpired:
        raise           # the caller stops it at once
    except BaseException:
        stop_group(process)
        raise
    finally:
        for signum, previous in chained.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


class RunGone(Exception):
    """The process that started the program lost its parent (ansible-playbook was killed, SIGKILL
    included, which no handler sees): the program was stopped and nothing more is started."""


def _wait(process, stdin, timeout, name, what):
    """communicate() in slices of POLL seconds, within ``timeout``; between slices, whether the
    parent that started this process is still there. Ansible's workers run in their own session:
    when ansible-playbook is killed, a worker that waits for an issuer lives on, and so would the
    issuer - a certificate nobody installs, and the next run asks for another."""
    parent = os.getppid()
    deadline = time.monotonic() + timeout
    data = stdin
    while True:
        left = deadline - time.monotonic()
        try:
            return process.communicate(data, timeout=max(0.01, min(POLL, left)))
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                raise
        data = None         # communicate() keeps what it has not written yet
        if os.getppid() != parent:
            stop_group(process)
            process.communicate()
            raise RunGone("The run that started the %s %r is gone (ansible-playbook was stopped), so the command was "
                          "stopped too. Run the playbook again." % (what, name))


def run_program(command, stdin, variables, timeout, what, setting, timeout_setting=None):
    """Run a user's ``command`` (a string: by the shell; a list: directly) in its own session, with
    ``variables`` added to the environment and ``stdin`` (bytes) on its stdin; ``(stdout, stderr)``.

    ``what`` names the command in messages (``'issuer command'``), ``setting`` the variable that
    holds it (``'dov_issuer_command'``), ``timeout_setting`` the one that sets ``timeout``
    (``'dov_issuer_timeout'``). A wrong type, a program that cannot start, a timeout (the
    whole process group is killed), a signal or a non-zero exit is a DovError that names the program
    and its stderr (private key blocks removed).
    """
    if isinstance(command, (list, tuple)):
        shell, args = False, [str(arg) for arg in command]
    elif isinstance(command, str):
        shell, args = True, command
    else:
        raise DovError("%s must be a string or a list, not %s. Give the command line as a string." % (setting, type(command).__name__))
    name = command_name(command)
    env = dict(os.environ)
    env.update(variables)
    try:
        process = subprocess.Popen(args, shell=shell, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise DovError("The %s %r cannot be started: %s. Check %s and that the program is installed." % (what, name, exc.strerror, setting))
    try:
        with _stopped_with_the_run(process):
            stdout, stderr = _wait(process, stdin, timeout, name, what)
    except subprocess.TimeoutExpired:
        stop_group(process, grace=0)
        process.communicate()
        raise DovError(
            "The %s %r did not finish within %s seconds and was stopped. Check what it "
            "waits for, or raise %s." % (what, name, timeout, timeout_setting or 'the timeout'))
    if process.returncode < 0:
        raise DovError("The %s %r was killed by signal %d; %s. Fix the command and run again." % (what, name, -process.returncode, trim_stderr(stderr)))
    if process.returncode != 0:
        raise DovError("The %s %r exited with status %d; %s. Fix the command and run again." % (what, name, process.returncode, trim_stderr(stderr)))
    return stdout, stderr
