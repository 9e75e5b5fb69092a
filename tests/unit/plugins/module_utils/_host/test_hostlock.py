# -*- coding: utf-8 -*-
"""hostlock: the host's lock on a pair (a flock during a call, a lease from prepare to install)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import threading
import time

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostlock
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP, ENV = 'Geodrill', 'oefen'
BOOT = 'boot-1'


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path / 'locks')


def hold(folder, run, dest='/srv/geodrill', **kwargs):
    kwargs.setdefault('boot', BOOT)
    return hostlock.hold(APP, ENV, dest, run, folder=folder, **kwargs)


def lock_file(folder, dest='/srv/geodrill'):
    return os.path.join(folder, hostlock.lock_name(APP, ENV, dest))


def test_a_free_lock_is_taken_for_the_call_and_its_file_goes_with_it(folder):
    lock = hold(folder, 'run-a')
    assert lock.found is None and os.path.exists(lock_file(folder))
    assert oct(os.stat(folder).st_mode & 0o777) == '0o700'
    assert oct(os.stat(lock_file(folder)).st_mode & 0o777) == '0o600'
    hostlock.give_back(lock)
    assert os.listdir(folder) == []


def test_a_lease_stops_another_run_with_the_lock_file_and_when_it_lapses(folder):
    now = time.time()
    hostlock.give_back(hold(folder, 'run-a' * 4, now=now), lease=600, now=now, boot=BOOT)
    record = json.load(open(lock_file(folder)))
    assert record['run'] == 'run-a' * 4 and record['boot_id'] == BOOT and record['expires'] == now + 600
    with pytest.raises(DovError) as refused:
        hold(folder, 'run-b', now=now + 10)
    message = str(refused.value)
    assert message.startswith('Another run is changing Geodrill/oefen on this host (run run-arun-aru, since ')
    assert 'lock file %s). Wait for it to finish and run again; if that run is gone, the lock lapses at %s, or ' \
           'remove the lock file.' % (lock_file(folder), validity.utc_text(now + 600)) in message
    # refused: the lease is as it was
    assert json.load(open(lock_file(folder))) == record


def test_the_run_that_holds_the_lease_gets_it_back_and_its_install_frees_it(folder):
    now = time.time()
    hostlock.give_back(hold(folder, 'run-a', now=now), lease=600, now=now, boot=BOOT)
    again = hold(folder, 'run-a', now=now + 5)
    assert again.found['run'] == 'run-a'
    hostlock.give_back(again)
    assert not os.path.exists(lock_file(folder))
    hostlock.give_back(hold(folder, 'run-b', now=now + 6))


def test_a_lapsed_lease_or_one_from_another_boot_is_taken_over(folder):
    now = time.time()
    hostlock.give_back(hold(folder, 'run-a', now=now), lease=60, now=now, boot=BOOT)
    taken = hold(folder, 'run-b', now=now + 61)
    assert taken.found['run'] == 'run-a'
    hostlock.give_back(taken, lease=60, now=now + 61, boot=BOOT)
    assert json.load(open(lock_file(folder)))['run'] == 'run-b'
    rebooted = hold(folder, 'run-c', now=now + 62, boot='boot-2')
    hostlock.give_back(rebooted)
    assert not os.path.exists(lock_file(folder))


def test_a_half_written_record_is_a_free_lock(folder):
    hostlock.give_back(hold(folder, 'run-a'), lease=600, boot=BOOT)
    with open(lock_file(folder), 'w') as handle:
        handle.write('{"run": "run-a", "expi')
    lock = hold(folder, 'run-b')
    assert lock.found is None
    hostlock.give_back(lock)


def test_another_runs_call_is_waited_for_and_the_waiter_opens_the_name_again(folder):
    first = hold(folder, 'run-a')
    got = []
    waiter = threading.Thread(target=lambda: got.append(hold(folder, 'run-b', wait=10)))
    waiter.start()
    time.sleep(0.5)
    assert not got, 'the second call did not wait'
    hostlock.give_back(first)           # frees: the file is removed while the waiter holds it open
    waiter.join(10)
    assert got and got[0].found is None
    # the waiter holds the file that the name now points at, not the removed one
    assert os.path.exists(lock_file(folder))
    assert os.fstat(got[0].fd).st_ino == os.stat(lock_file(folder)).st_ino
    hostlock.give_back(got[0], lease=30, boot=BOOT)
    assert json.load(open(lock_file(folder)))['run'] == 'run-b'


def test_a_call_that_does_not_finish_in_time_is_refused_by_name(folder):
    first = hold(folder, 'run-a')
    try:
        with pytest.raises(DovError, match=r'^Another run is working on Geodrill/oefen on this host right now \(lock '
                                           r'file .*, busy for more than 0 seconds\)\. Wait for it to finish and run '
                                           r'again\.$'):
            hold(folder, 'run-b', wait=0.3)
    finally:
        hostlock.give_back(first)


def test_pairs_and_dest_dirs_have_locks_of_their_own(folder):
    one = hold(folder, 'run-a', dest='/srv/one')
    other = hold(folder, 'run-b', dest='/srv/two', wait=0)
    assert one.path != other.path
    hostlock.give_back(one)
    hostlock.give_back(other)


def test_a_lock_folder_others_can_write_is_refused_and_left_alone(folder):
    os.mkdir(folder)
    os.chmod(folder, 0o777)
    with pytest.raises(DovError) as refused:
        hold(folder, 'run-a')
    assert str(refused.value) == (
        'The lock folder %s is not a private folder of this user (owner uid %d, mode 0o777). Remove it (the next run '
        'makes it 0700), or make it owned by uid %d and not writable by others.' % (folder, os.geteuid(), os.geteuid()))
    assert os.listdir(folder) == []


def test_a_lock_folder_that_is_a_link_is_refused(tmp_path):
    real = tmp_path / 'elsewhere'
    real.mkdir(mode=0o700)
    link = tmp_path / 'locks'
    link.symlink_to(real)
    with pytest.raises(DovError, match=r'^The lock folder %s cannot be opened: .*\. It must be a folder \(not a link\) '
                                       r'of this user; remove what is there and run again\.$' % re.escape(str(link))):
        hold(str(link), 'run-a')
    assert os.listdir(str(real)) == []


def test_a_lock_file_that_is_a_link_or_has_another_name_is_refused_and_not_followed(folder, tmp_path):
    os.mkdir(folder, 0o700)
    target = tmp_path / 'target'
    target.write_text('keep')
    os.symlink(str(target), lock_file(folder))
    with pytest.raises(DovError, match=r'^The lock file %s cannot be opened: ' % re.escape(lock_file(folder))):
        hold(folder, 'run-a')
    assert target.read_text() == 'keep'
    os.unlink(lock_file(folder))
    os.link(str(target), lock_file(folder))
    with pytest.raises(DovError, match=r'^The lock file %s is not a plain file of this user\. Remove it and run '
                                       r'again\.$' % re.escape(lock_file(folder))):
        hold(folder, 'run-a')
    assert target.read_text() == 'keep'


def test_the_lock_folder_is_per_user_under_run_lock_else_under_tmp(monkeypatch, tmp_path):
    assert hostlock.lock_folder('/run/lock', 0) == '/run/lock/vlaanderen-dov'
    assert hostlock.lock_folder('/run/lock', 1001) == '/run/lock/vlaanderen-dov-1001'
    monkeypatch.setattr(hostlock, 'RUN_LOCK', str(tmp_path))
    assert hostlock.lock_folder(uid=1001) == os.path.join(str(tmp_path), 'vlaanderen-dov-1001')
    monkeypatch.setattr(hostlock, 'RUN_LOCK', str(tmp_path / 'missing'))
    assert hostlock.lock_folder(uid=0) == '/tmp/vlaanderen-dov'


def test_take_applies_only_to_writing_phases_of_a_run_outside_check_mode(folder, monkeypatch):
    entry = {'application': APP, 'environment': ENV, 'dest_dir': '/srv/geodrill'}
    assert hostlock.take(entry, None, 'prepare', False) is None
    assert hostlock.take(entry, 'run-a', 'prepare', True) is None
    for phase in ('verify', 'report', 'settle'):
        assert hostlock.take(entry, 'run-a', phase, False) is None
    monkeypatch.setattr(hostlock, 'lock_folder', lambda: folder)
    lock = hostlock.take(entry, 'run-a', 'install', False)
    assert lock.path == lock_file(folder)
    hostlock.give_back(lock)
    hostlock.give_back(None)


def test_the_key_holder_keeps_the_lease_only_when_the_run_may_ask_an_issuer():
    holder = {'key_holder': True}
    assert hostlock.needs_lease('prepare', holder, {'key_created': True, 'complete': False})
    assert hostlock.needs_lease('prepare', holder, {'complete': False, 'converged': False})
    assert hostlock.needs_lease('prepare', holder, {'converged': True, 'staged': {'new_key': True}})
    assert not hostlock.needs_lease('prepare', holder, {'converged': True})
    assert not hostlock.needs_lease('prepare', holder, {'complete': True, 'key_created': False})
    assert not hostlock.needs_lease('prepare', holder, {'key_created': True, 'error': 'refused'})
    assert not hostlock.needs_lease('prepare', {'key_holder': False}, {'key_created': False, 'complete': False})
    assert not hostlock.needs_lease('install', holder, {'complete': False})
    assert not hostlock.needs_lease('prepare', holder, None)


def test_giving_back_a_lock_whose_file_went_does_not_raise(folder):
    lock = hold(folder, 'run-a')
    os.unlink(lock_file(folder))
    hostlock.give_back(lock)
    assert lock.fd is None and lock.dir_fd is None


def test_a_lease_of_an_earlier_run_of_the_same_state_folder_is_taken_over_at_once(folder):
    # That run is over: the state folder's own lock keeps two runs of one folder apart.
    now = time.time()
    hostlock.give_back(hold(folder, 'run-a', now=now, state_folder='ci-1:/srv/dov-state'), lease=600, now=now, boot=BOOT)
    assert json.load(open(lock_file(folder)))['state_folder'] == 'ci-1:/srv/dov-state'
    with pytest.raises(DovError, match='^Another run is changing Geodrill/oefen'):
        hold(folder, 'run-b', now=now + 5, state_folder='ci-2:/srv/dov-state')
    with pytest.raises(DovError, match='^Another run is changing Geodrill/oefen'):
        hold(folder, 'run-b', now=now + 5)
    taken = hold(folder, 'run-c', now=now + 5, state_folder='ci-1:/srv/dov-state')
    assert taken.found['run'] == 'run-a'
    hostlock.give_back(taken)
    assert not os.path.exists(lock_file(folder))
