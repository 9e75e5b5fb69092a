# -*- coding: utf-8 -*-
"""statefolder: status.json, the pair's cached certificate and the lock (with real processes)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

# ---------------------------------------------------------------- status.json


def test_load_status_of_a_new_state_folder_is_empty(tmp_path):
    assert statefolder.load_status(str(tmp_path / 'state')) == {'pairs': {}}


def test_status_round_trips_and_is_written_only_when_it_changed(tmp_path):
    state_dir = str(tmp_path / 'state')
    status = {'pairs': {"Geodrill/oefen": {'state': 'verified', 'hosts': ['app-1'], 'days_left': 1859}}}
    assert statefolder.write_status(state_dir, status) is True
    path = os.path.join(state_dir, 'status.json')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    assert statefolder.load_status(state_dir) == status
    inode = os.stat(path).st_ino
    assert statefolder.write_status(state_dir, json.loads(json.dumps(status))) is False
    assert os.stat(path).st_ino == inode  # not even rewritten
    status['pairs']["Geodrill/oefen"]['state'] = 'renewal_due'
    assert statefolder.write_status(state_dir, status) is True
    assert statefolder.load_status(state_dir)['pairs']["Geodrill/oefen"]['state'] == 'renewal_due'


def test_status_without_pairs_gets_an_empty_pairs(tmp_path):
    (tmp_path / 'status.json').write_text('{"version": 1}')
    assert statefolder.load_status(str(tmp_path)) == {'version': 1, 'pairs': {}}


def test_a_status_file_that_is_not_json_is_refused_with_its_path(tmp_path):
    (tmp_path / 'status.json').write_text('{"pairs": ')
    with pytest.raises(DovError) as info:
        statefolder.load_status(str(tmp_path))
    assert str(info.value) == ('%s is not valid JSON. Move it away (the next run rebuilds it from the hosts) or restore it.'
                               % os.path.join(str(tmp_path), 'status.json'))


# ---------------------------------------------------------------- the pair's certificate

def test_a_stored_certificate_round_trips_and_is_written_only_when_it_changed(tmp_path):
    assert statefolder.stored_certificate(str(tmp_path), 'Geodrill', 'oefen') is None
    assert statefolder.store_certificate(str(tmp_path), 'Geodrill', 'oefen', 'PEM TEXT\n') is True
    assert statefolder.store_certificate(str(tmp_path), 'Geodrill', 'oefen', 'PEM TEXT\n') is False
    assert statefolder.stored_certificate(str(tmp_path), 'Geodrill', 'oefen') == 'PEM TEXT\n'
    path = tmp_path / 'Geodrill' / 'oefen' / 'certificate.pem'
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o644


# ---------------------------------------------------------------- Lock

@pytest.fixture
def other_run():
    """Another live process on this machine, standing for a second ansible-playbook."""
    process = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    yield process
    process.kill()
    process.wait()


def owner_of(pid):
    return {'pid': pid, 'process_started': statefolder.process_started(pid), 'process': statefolder.process_name(pid),
            'host': socket.gethostname(), 'started': '2025-01-02T03:04:05+00:00'}


def dead_pid():
    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    return child.pid


def test_the_owner_of_a_worker_is_its_parent_the_ansible_playbook_process(monkeypatch):
    monkeypatch.setenv('DOV_LOCK_OWNER_IS_PARENT', '1')
    owner = statefolder.run_owner()
    assert owner['pid'] == os.getppid()
    assert owner['process_started'] == statefolder.process_started(os.getppid())
    assert owner['host'] == socket.gethostname()


def test_the_owner_outside_a_worker_is_this_process(monkeypatch):
    """run_owner in the main process of a program started as ansible-playbook (a real process whose
    command line says so): the lock names that process, by pid, start time, program and host."""
    monkeypatch.delenv('DOV_LOCK_OWNER_IS_PARENT', raising=False)
    code = ('import json, sys\n'
            'from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder\n'
            'print(json.dumps(statefolder.run_owner()))\n'
            'sys.stdout.flush()\n'
            'sys.stdin.read()\n')      # stays alive (its start time readable) until the test is done
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(entry for entry in sys.path if entry))
    child = subprocess.Popen(['/usr/local/bin/ansible-playbook', '-c', code], executable=sys.executable, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, universal_newlines=True)
    try:
        before = validity.utcnow_seconds()
        owner = json.loads(child.stdout.readline())
        assert owner == {'pid': child.pid, 'process_started': statefolder.process_started(child.pid),
                         'process': 'ansible-playbook', 'host': socket.gethostname(), 'started': owner['started']}
        assert owner['process_started'] is not None
        assert 0 <= (datetime.datetime.fromisoformat(owner['started']) - before).total_seconds() < 60
    finally:
        child.stdin.close()
        child.wait(timeout=20)
        child.stdout.close()


def test_lock_is_acquired_in_a_new_state_folder_and_held_by_the_same_run(tmp_path):
    state_dir = tmp_path / 'state'
    lock = statefolder.Lock(str(state_dir), owner_of(os.getpid()))
    assert lock.acquire() == 'acquired'
    assert stat.S_IMODE(os.stat(str(state_dir)).st_mode) == 0o700
    assert json.loads((state_dir / '.lock').read_text()) == owner_of(os.getpid())
    assert statefolder.Lock(str(state_dir), owner_of(os.getpid())).acquire() == 'held'


def test_a_second_run_is_refused_with_a_message_naming_the_process_host_and_lock_file(tmp_path, other_run):
    statefolder.Lock(str(tmp_path), owner_of(other_run.pid)).acquire()
    with pytest.raises(DovError) as info:
        statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=0)
    assert str(info.value) == (
        "Another run is working on %s (pid %d (%s) on %s, started 2025-01-02T03:04:05+00:00; lock file %s). Wait for it "
        "to finish (or set dov_lock_timeout to wait), or remove the lock file if that run is gone."
        % (str(tmp_path), other_run.pid, statefolder.process_name(other_run.pid), socket.gethostname(),
           os.path.join(str(tmp_path), '.lock')))
    assert json.loads((tmp_path / '.lock').read_text())['pid'] == other_run.pid


def test_a_second_run_waits_up_to_the_timeout_before_it_is_refused(tmp_path, other_run):
    statefolder.Lock(str(tmp_path), owner_of(other_run.pid)).acquire()
    with pytest.raises(DovError, match='Another run is working on'):
        statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=0.4, poll=0.05)
    assert json.loads((tmp_path / '.lock').read_text())['pid'] == other_run.pid


def test_a_waiting_run_gets_the_lock_when_the_first_releases_it(tmp_path, other_run):
    first = statefolder.Lock(str(tmp_path), owner_of(other_run.pid))
    first.acquire()
    timer = threading.Timer(0.3, first.release)
    timer.start()
    try:
        assert statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=10, poll=0.05) == 'acquired'
    finally:
        timer.join()
    assert json.loads((tmp_path / '.lock').read_text())['pid'] == os.getpid()


def test_a_stale_lock_of_a_dead_process_on_this_machine_is_taken_over(tmp_path):
    (tmp_path / '.lock').write_text(json.dumps(owner_of(dead_pid())))
    assert statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=0) == 'acquired'
    assert json.loads((tmp_path / '.lock').read_text())['pid'] == os.getpid()


def test_a_lock_whose_pid_now_names_another_process_is_taken_over(tmp_path, other_run):
    reused = dict(owner_of(other_run.pid), process_started=statefolder.process_started(other_run.pid) - 1)
    (tmp_path / '.lock').write_text(json.dumps(reused))
    assert statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=0) == 'acquired'


def test_a_recent_lock_of_another_machine_is_not_taken_over(tmp_path):
    (tmp_path / '.lock').write_text(json.dumps(dict(owner_of(dead_pid()), host='another-controller.invalid')))
    with pytest.raises(DovError, match='on another-controller.invalid'):
        statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=0)
    assert json.loads((tmp_path / '.lock').read_text())['host'] == 'another-controller.invalid'


def test_a_lock_of_another_machine_older_than_the_documented_age_is_taken_over(tmp_path):
    path = tmp_path / '.lock'
    path.write_text(json.dumps(dict(owner_of(dead_pid()), host='another-container.invalid')))
    old = time.time() - statefolder.STALE_AFTER - 60
    os.utime(str(path), (old, old))
    assert statefolder.Lock(str(tmp_path), owner_of(os.getpid())).acquire(timeout=0) == 'acquired'
    assert json.loads(path.read_text())['host'] == socket.gethostname()


def test_only_the_owner_releases_the_lock(tmp_path, other_run):
    first = statefolder.Lock(str(tmp_path), owner_of(other_run.pid))
    first.acquire()
    assert statefolder.Lock(str(tmp_path), owner_of(os.getpid())).release() is False
    assert (tmp_path / '.lock').exists()
    assert first.release() is True
    assert not (tmp_path / '.lock').exists()
    assert first.release() is False
