# -*- coding: utf-8 -*-
"""The onboarding action's plan and release steps, run as Ansible runs an action (a Task, the local
connection, task variables as a play gives them): the role's files are found through Ansible's
role_path, and a run outside the role is refused by name; the lab stand-in is started after the
plan and stopped by the release step; when it cannot start, the lock is released and nothing runs."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import socket
import sys

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.plugins.loader import connection_loader

from ansible_collections.vlaanderen.dov.plugins.action.onboarding import ActionModule
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labstandin

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'integration'))
from support import free_port  # noqa: E402  (the integration tests' helper)

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'dov_cert'))
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
CN = 'geolab.be/dov-services/oefen/Geodrill'
APPLICATIONS = [{'name': 'Geodrill', 'description': 'Boorgegevens', 'environments': {'oefen': {'cn': CN}}}]
CERTIFICATES = [{'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}]


def run(args, task_vars):
    task = Task()
    task.args = args
    context = PlayContext()
    return ActionModule(task, connection_loader.get('local', context, None), context, DataLoader(), None).run(
        task_vars=task_vars)


def plan_args(state_dir, port):
    return {'step': 'plan', 'state_dir': state_dir, 'organisation': ORGANISATION, 'applications': APPLICATIONS,
            'issuer': 'lab', 'endpoints': {}, 'lab': {'standin': True, 'port': port, 'deny': []}}


def task_vars(**more):
    found = {'hostvars': {'app-1': {'dov_certificates': CERTIFICATES}}, 'groups': {'all': ['app-1']},
             'ansible_play_hosts': ['app-1'], 'ansible_play_hosts_all': ['app-1'], 'role_path': ROLE,
             'dov_organisation': ORGANISATION, 'dov_applications': APPLICATIONS}
    found.update(more)
    return found


def answers(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


def test_the_action_outside_the_role_is_refused_by_name_and_nothing_is_written(tmp_path):
    found = task_vars()
    del found['role_path']
    result = run(plan_args(str(tmp_path / 'state'), free_port()), found)
    assert result['failed'] is True
    assert result['msg'].startswith("The action vlaanderen.dov.onboarding runs only as a task of the role "
                                    "vlaanderen.dov.dov_cert: this task has no role_path")
    assert not (tmp_path / 'state').exists()


def test_the_plan_step_starts_the_roles_stand_in_after_the_plan_and_the_release_step_stops_it(tmp_path):
    state_dir, port = str(tmp_path / 'state'), free_port()
    planned = run(plan_args(state_dir, port), task_vars())
    try:
        assert not planned.get('failed'), planned
        lab = planned['lab']
        assert lab['started'] is True and lab['script'] == os.path.join(ROLE, 'files', 'dov_standin.py')
        assert planned['pairs']['Geodrill/oefen']['check_settings']['url'] == (
            'https://127.0.0.1:%d/dov-xdov-server/logs/chucknorris' % port)
        assert os.path.exists(os.path.join(state_dir, '.lock'))
        labstandin.wait(lab)        # as the issue step does
        assert answers(port)
    finally:
        released = run({'step': 'release', 'state_dir': state_dir, 'plan': planned}, task_vars())
    assert released == {'changed': False, 'released': True}
    assert not os.path.exists(os.path.join(state_dir, '.lock')) and not os.path.exists(lab['pidfile'])
    assert not answers(port)


def test_a_stand_in_that_cannot_start_fails_the_plan_step_and_the_lock_is_released(tmp_path):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    state_dir, port = str(tmp_path / 'state'), busy.getsockname()[1]
    try:
        result = run(plan_args(state_dir, port), task_vars())
    finally:
        busy.close()
    assert result['failed'] is True
    assert result['msg'] == ("Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in "
                             "cannot listen there. Set dov_lab_standin_port to a free port." % port)
    assert not os.path.exists(os.path.join(state_dir, '.lock'))
    assert not os.path.exists(os.path.join(state_dir, 'lab-standin', 'standin.pid'))


def running(pid):
    """Whether ``pid`` runs (a zombie that waits to be reaped does not)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (IOError, OSError):
        return False


def test_a_release_right_after_the_plan_step_stops_the_stand_in_it_started(tmp_path):
    state_dir = str(tmp_path / 'state')
    planned = run(plan_args(state_dir, free_port()), task_vars())
    assert not planned.get('failed'), planned
    with open(planned['lab']['pidfile']) as handle:      # known at once, before the stand-in runs its own code
        pid = int(handle.read())
    try:
        run({'step': 'release', 'state_dir': state_dir, 'plan': planned}, task_vars())
        assert not running(pid) and not os.path.exists(planned['lab']['pidfile'])
    finally:
        if running(pid):
            os.killpg(pid, signal.SIGKILL)
