# -*- coding: utf-8 -*-
"""states: the one rule of a pair's state (decide_state) as the onboard/renew run, verify.yml and
report.yml ask it, at the edge of the renewal window; the states in one place; the one table."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states

N = 60
EDGE = [(N, 'renewal_due'), (N + 1, 'verified'), (0, 'renewal_due'), (-1, 'renewal_due')]


@pytest.mark.parametrize('days_left, expected', EDGE)
def test_the_onboard_run_puts_a_pair_with_at_most_n_days_left_in_renewal_due(days_left, expected):
    info = {'state': None, 'hosts': ['app-1'], 'certificate': {'days_left': days_left}}
    assert states.pair_state(info, [{'check': {'verdict': 'ok'}}], None, N, True) == expected
    assert states.pair_state(info, [], 'verified', N, True) == expected      # a re-run that changes nothing


@pytest.mark.parametrize('days_left, expected', EDGE)
def test_verify_yml_puts_a_pair_with_at_most_n_days_left_in_renewal_due(days_left, expected):
    results = [{'installed': {'days_left': days_left + 300}, 'check': {'verdict': 'ok'}},
               {'installed': {'days_left': days_left}, 'check': {'verdict': 'ok'}}]
    assert states.verified_state({'state': None}, results, 'verified', N) == expected


@pytest.mark.parametrize('days_left, expected', EDGE)
def test_report_yml_puts_a_pair_with_at_most_n_days_left_in_renewal_due(days_left, expected):
    previous = {'state': 'verified', 'verdict': 'ok', 'fingerprint_sha256': 'AA'}
    earliest = {'days_left': days_left, 'fingerprint_sha256': 'AA'}
    assert report.reported_state({'state': None}, previous, earliest, [], N) == expected


def test_an_unchecked_certificate_in_the_window_is_renewal_due_in_every_playbook():
    """The case the two deciders disagreed on: a certificate installed but never checked
    (dov_verify: false) with 30 days left was ``installed`` after onboard.yml and ``renewal_due``
    in report.yml. renew.yml renews it either way (rollover.renewal_due does not ask for a check),
    so both now say ``renewal_due``; outside the window it stays ``installed``."""
    unchecked = [{'error': None}]
    assert states.pair_state({'hosts': ['app-1'], 'certificate': {'days_left': 30}}, unchecked, None, N, False) == 'renewal_due'
    assert states.pair_state({'hosts': ['app-1'], 'certificate': {'days_left': 30}}, [], 'installed', N, True) == 'renewal_due'
    assert report.reported_state({}, {'state': 'installed'}, {'days_left': 30, 'fingerprint_sha256': 'AA'}, [], N) == 'renewal_due'
    assert states.pair_state({'hosts': ['app-1'], 'certificate': {'days_left': 300}}, unchecked, None, N, False) == 'installed'
    assert report.reported_state({}, {'state': 'installed'}, {'days_left': 300, 'fingerprint_sha256': 'AA'}, [], N) == 'installed'


@pytest.mark.parametrize('evidence, expected', [
    (dict(standing='waiting_for_cn', failed=True, held=False), 'waiting_for_cn'),     # a standing state first
    (dict(failed=True, held=False, carried='renewal_pending'), 'failed'),             # then a failure
    (dict(held=False, carried='renewal_pending'), 'waiting_for_certificate'),         # then nothing on the hosts
    (dict(carried='renewal_pending', verified=True), 'renewal_pending'),              # then the last run's
    (dict(verified=True), 'renewal_due'),                                             # then the window
    (dict(), 'renewal_due'),
])
def test_decide_state_weighs_the_evidence_in_one_order(evidence, expected):
    assert states.decide_state(10, N, **evidence) == expected


def test_outside_the_window_a_checked_certificate_is_verified_an_unchecked_one_installed():
    assert states.decide_state(N + 1, N, verified=True) == 'verified'
    assert states.decide_state(N + 1, N) == 'installed'
    assert states.decide_state(None, N, verified=True) == 'verified'


def test_report_yml_counts_the_states_of_the_one_list_in_order():
    assert list(report.summary([])) == list(states.STATES)
    assert not hasattr(report, 'ATTENTION_STATES')


def test_report_yml_and_the_onboard_run_print_the_same_table():
    record = {'application': 'Geodrill', 'environment': 'oefen', 'common_name': 'geolab.be/dov-services/oefen/Geodrill',
              'hosts': ['app-1', 'app-2'], 'state': 'renewal_due', 'not_after': '2026-12-21T10:00:00Z', 'days_left': 19,
              'verdict': 'ok'}
    status = {'pairs': {'Geodrill/oefen': dict(record, key_holder='app-1', fingerprint_sha256='AA')}}
    info = {'application': 'Geodrill', 'environment': 'oefen', 'common_name': record['common_name'],
            'hosts': ['app-1', 'app-2']}
    onboard = states.report({'Geodrill/oefen': info}, status, {}, set(), set(), 'status', N, True, 'now')['table']
    assert onboard == report.format_table([record]).rstrip('\n').split('\n')
    assert onboard[0].split('  ')[0] == 'application' and onboard[2].split()[:5] == [
        'Geodrill', 'oefen', 'geolab.be/dov-services/oefen/Geodrill', 'app-1,', 'app-2']
