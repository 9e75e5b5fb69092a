# -*- coding: utf-8 -*-
"""programs.run_program when the run is stopped: Ctrl-C (SIGINT) or SIGTERM of the process that
waits for a user's program ends the program's whole process group (it runs in its own session, so
the signal itself does not reach it), and the waiting process then ends as it would have.

Each case runs run_program in a child Python process (the signal is sent to that process only, as
ansible-playbook's worker receives it), with a shell command whose own child writes its pid and
sleeps; afterwards no process of that group is left.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import programs

# The folder that holds ansible_collections/ (programs.py is ansible_collections/vlaanderen/dov/plugins/plugin_utils/_issue/).
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(programs.__file__)), *(['..'] * 6)))

CHILD = '''
import sys
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import programs
try:
    programs.run_program(sys.argv[1], b'', {}, 120, 'issuer command', 'dov_issuer_command')
except KeyboardInterrupt:
    sys.exit(42)
'''


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open('/proc/%d/stat' % pid) as handle:
        return handle.read().split(') ')[1].split()[0] != 'Z'


def wait_for(path, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read().split()[0])
        time.sleep(0.05)
    raise AssertionError('%s was not written' % path)


@pytest.mark.parametrize('signum, code', [(signal.SIGINT, 42), (signal.SIGTERM, -signal.SIGTERM)])
def test_stopping_the_run_stops_the_programs_whole_process_group(tmp_path, signum, code):
    pidfile = tmp_path / 'sleeper.pid'
    command = "sh -c 'echo $$ > %s; exec sleep 300' & wait" % pidfile
    runner = subprocess.Popen([sys.executable, '-c', CHILD, command], env=dict(os.environ, PYTHONPATH=ROOT),
                              start_new_session=True)
    try:
        sleeper = wait_for(str(pidfile))
        assert alive(sleeper)
        runner.send_signal(signum)
        assert runner.wait(timeout=20) == code
        deadline = time.monotonic() + 5
        while alive(sleeper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(sleeper), 'the program outlived the run'
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()


def test_the_handlers_that_were_there_are_back_after_the_program(tmp_path):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert programs.run_program('true', b'', {}, 10, 'issuer command', 'dov_issuer_command') == (b'', b'')
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


WORKER = '''
import os, sys
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import programs
pid = os.fork()
if pid == 0:
    os.setsid()         # as Ansible's worker: its own session, so the kill of its parent's group misses it
    try:
        programs.run_program(sys.argv[1], b'', {}, 120, 'issuer command', 'dov_issuer_command')
    except programs.RunGone as gone:
        open(sys.argv[2], 'w').write(str(gone))
    os._exit(0)
os.waitpid(pid, 0)
'''


def test_a_program_whose_run_was_killed_with_sigkill_is_stopped(tmp_path):
    """SIGKILL of ansible-playbook: no handler runs, and the worker that waits for the program lives
    on in its own session; it notices that its parent is gone and stops the program's group."""
    pidfile, said = tmp_path / 'sleeper.pid', tmp_path / 'said.txt'
    command = "sh -c 'echo $$ > %s; exec sleep 300' & wait" % pidfile
    run = subprocess.Popen([sys.executable, '-c', WORKER, command, str(said)], env=dict(os.environ, PYTHONPATH=ROOT),
                           start_new_session=True)
    try:
        sleeper = wait_for(str(pidfile))
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        deadline = time.monotonic() + 10
        while (alive(sleeper) or not said.exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(sleeper), 'the program outlived the run'
        assert said.read_text().startswith("The run that started the issuer command 'sh' is gone (ansible-playbook was stopped)")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
