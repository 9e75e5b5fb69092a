# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running a user's program on the controller: ``dov_issuer_command`` (issuers) and
``dov_revoke_command`` (revocation).

``run_program`` runs it in its own session with a timeout (the whole process group is killed),
extra environment variables and bytes on stdin; every way it can fail is a DovError that names
the program (``command_name``: without its arguments, which may carry tokens) and its stderr
(``trim_stderr``: private key blocks removed, at most STDERR_LIMIT characters).
``is_empty_command`` tells a command that names no program.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shlex
import signal
import subprocess

from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

STDERR_LIMIT = 1000

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
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.communicate()
        raise DovError(
            "The %s %r did not finish within %s seconds and was stopped. Check what it "
            "waits for, or raise %s." % (what, name, timeout, timeout_setting or 'the timeout'))
    if process.returncode < 0:
        raise DovError("The %s %r was killed by signal %d; %s. Fix the command and run again." % (what, name, -process.returncode, trim_stderr(stderr)))
    if process.returncode != 0:
        raise DovError("The %s %r exited with status %d; %s. Fix the command and run again." % (what, name, process.returncode, trim_stderr(stderr)))
    return stdout, stderr
