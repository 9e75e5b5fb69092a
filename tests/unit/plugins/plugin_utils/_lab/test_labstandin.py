# -*- coding: utf-8 -*-
"""labstandin: the plan step's stand-in (after the plan, lab only) is the role's files/dov_standin.py,
really started when a check is likely, left stopped when every pair was verified last run (the issue
step starts it when a host needs a check after all), refused on a busy port, stopped in-process."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import socket
import ssl

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labstandin
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

# The role's folder, as Ansible gives it to the role's tasks (role_path).
ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', 'roles', 'dov_cert'))
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
CN, OTHER_CN = 'geolab.be/dov-services/oefen/Geodrill', 'geolab.be/dov-services/oefen/Sonde'
KEY = 'Geodrill/oefen'


def world():
    applications = [{'name': 'Geodrill', 'description': 'Boorgegevens', 'environments': {'oefen': {'cn': CN}}},
                    {'name': 'Sonde', 'description': 'Metingen', 'environments': {'oefen': {'cn': OTHER_CN}}}]
    return inventory.Inventory(ORGANISATION, applications, {'app-1': [
        {'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}]})


def free_port():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def options(port, mode='onboard', **lab):
    return {'mode': mode, 'lab': dict({'standin': True, 'port': port, 'deny': ['Sonde']}, **lab)}


def answers(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def stopped_after():
    """Every stand-in a test started is stopped at its end, also when the test fails (by its
    process group when the in-process stop did not do it)."""
    started = []
    yield started.append
    for lab in started:
        pid = None
        if os.path.exists(lab.get('pidfile') or ''):
            with open(lab['pidfile']) as handle:
                pid = int(handle.read().strip() or 0)
        labstandin.stop(lab)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def test_without_the_stand_in_or_for_report_yml_or_in_check_mode_without_a_lab_ca_nothing_is_made(tmp_path):
    port = free_port()
    assert labstandin.for_plan(world(), str(tmp_path), options(port, standin=False), False, [KEY], {}, ROLE) == {}
    assert labstandin.for_plan(world(), str(tmp_path), options(port, mode='status'), False, [KEY], {}, ROLE) == {}
    assert labstandin.for_plan(world(), str(tmp_path), options(port), True, [KEY], {}, ROLE) == {}
    assert os.listdir(str(tmp_path)) == [] and not answers(port)


def test_a_likely_check_starts_the_roles_stand_in_at_once_and_stop_ends_it(tmp_path, stopped_after):
    port = free_port()
    lab = labstandin.for_plan(world(), str(tmp_path), options(port, mode='verify'), False, [KEY], {}, ROLE)
    stopped_after(lab)
    assert lab['script'] == os.path.join(ROLE, 'files', 'dov_standin.py') and os.path.isfile(lab['script'])
    assert lab['started'] is True and lab['allow'] == [CN]      # Sonde is denied
    assert lab['endpoints']['oefen'] == 'https://127.0.0.1:%d/' % port
    assert answers(port)        # verify.yml waited for it
    # The server's certificate verifies against the lab CA bundle the checks get; then it wants a client certificate.
    context = ssl.create_default_context(cafile=lab['server_ca_bundle'])
    with socket.create_connection(('127.0.0.1', port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
                tls.recv(1)
    assert not isinstance(refused.value, ssl.SSLCertVerificationError) and 'CERTIFICATE_REQUIRED' in str(refused.value)
    labstandin.stop(lab)
    assert not os.path.exists(lab['pidfile']) and not answers(port)
    labstandin.stop(lab)        # idempotent


def test_when_every_pair_was_verified_last_run_the_issue_step_starts_it_only_for_a_check(tmp_path, stopped_after):
    port = free_port()
    previous = {KEY: {'state': 'verified'}}
    lab = labstandin.for_plan(world(), str(tmp_path), options(port), False, [KEY], previous, ROLE)
    stopped_after(lab)
    assert lab['started'] is False and not answers(port)
    assert os.path.isfile(lab['cert']) and os.path.isfile(lab['server_ca_bundle'])
    assert labstandin.start_for(lab, []) is lab and not answers(port)
    labstandin.start_for(lab, ['app-1'])
    assert lab['started'] is True and answers(port)


@pytest.mark.parametrize('mode, previous, likely', [
    ('verify', {KEY: {'state': 'verified'}}, True),
    ('onboard', {}, True),                                      # a new pair
    ('onboard', {KEY: {'state': 'failed'}}, True),
    ('renew', {KEY: {'state': 'renewal_pending'}}, False),
    ('onboard', {KEY: {'state': 'waiting_for_certificate'}}, False),
])
def test_a_check_is_likely_for_verify_and_for_a_pair_that_was_not_verified_or_waiting(mode, previous, likely):
    assert labstandin.check_likely(mode, [KEY], previous) is likely


def test_a_busy_port_is_refused_with_the_variable_to_change(tmp_path):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        with pytest.raises(DovError) as raised:
            labstandin.for_plan(world(), str(tmp_path), options(port), False, [KEY], {}, ROLE)
    finally:
        busy.close()
    assert str(raised.value) == ("Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in "
                                 "cannot listen there. Set dov_lab_standin_port to a free port." % port)
    assert not os.path.exists(labstandin.pidfile(str(tmp_path)))
