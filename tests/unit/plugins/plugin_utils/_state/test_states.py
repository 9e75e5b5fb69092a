# -*- coding: utf-8 -*-
"""states: the state of a pair from this run's outcome (pair_state, verified_state), the table
of pairs, and status.json rebuilt from what the hosts said (report)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states

APP, CN = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill'


# ---------------------------------------------------------------- pair_state

def info_of(state=None, hosts=('app-1', 'app-2'), days_left=1000):
    return {'state': state, 'hosts': list(hosts), 'certificate': {'days_left': days_left} if days_left is not None else None}


def done(verdict='ok', error=None):
    result = {'error': error}
    if verdict is not None:
        result['check'] = {'verdict': verdict}
    return result


@pytest.mark.parametrize('state', ['waiting_for_cn', 'waiting_for_certificate', 'renewal_pending', 'failed'])
def test_a_decided_state_is_kept_by_pair_state(state):
    assert states.pair_state(info_of(state), [done()], 'verified', 60, True) == state


@pytest.mark.parametrize('info, installed, previous, verify, expected', [
    (info_of(), [done(), done()], None, True, 'verified'),
    (info_of(days_left=30), [done(), done()], None, True, 'renewal_due'),
    (info_of(days_left=60), [done(), done()], 'verified', True, 'renewal_due'),
    (info_of(days_left=61), [done(), done()], 'renewal_due', True, 'verified'),
    (info_of(), [done(), done(error='The mTLS check from this host gave forbidden: 403')], 'verified', True, 'failed'),
    (info_of(), [done(None), done(None)], None, False, 'installed'),
    (info_of(), [done(), done(None)], None, True, 'installed'),           # one host could not be checked
    (info_of(), [done()], 'verified', True, 'verified'),                   # the other host was converged
    (info_of(days_left=10), [done()], 'renewal_due', True, 'renewal_due'),
    (info_of(), [done()], 'installed', True, 'installed'),
    (info_of(), [done()], None, True, 'installed'),
    (info_of(), [], 'verified', True, 'verified'),                          # all converged: the last verdict stays
    (info_of(), [], 'renewal_due', True, 'verified'),                       # ...but renewal_due follows days_left
    (info_of(days_left=5), [], 'verified', True, 'renewal_due'),
    (info_of(), [], 'installed', True, 'installed'),
    (info_of(), [], None, True, 'installed'),
    (info_of(), [], 'waiting_for_certificate', True, 'installed'),
    (info_of(days_left=None), [done(), done()], None, True, 'verified'),
])
def test_pair_state_for_each_outcome(info, installed, previous, verify, expected):
    assert states.pair_state(info, installed, previous, 60, verify) == expected


def checked(days_left=1000, error=None):
    return {'installed': {'days_left': days_left}, 'check': {'verdict': 'ok' if not error else 'forbidden'}, 'error': error}


@pytest.mark.parametrize('info, results, previous, expected', [
    ({'state': 'waiting_for_cn'}, [], 'verified', 'waiting_for_cn'),
    ({'state': 'waiting_for_certificate'}, [checked()], 'verified', 'waiting_for_certificate'),
    ({'state': 'failed'}, [checked()], 'verified', 'failed'),
    ({'state': None}, [checked(), checked(error='The mTLS check from this host gave forbidden')], 'verified', 'failed'),
    ({'state': None}, [], 'installed', 'installed'),
    ({'state': None}, [], None, 'waiting_for_certificate'),
    ({'state': None}, [checked(), checked()], 'installed', 'verified'),
    ({'state': None}, [checked(1000), checked(59)], 'verified', 'renewal_due'),
    ({'state': None}, [checked(60)], 'verified', 'renewal_due'),
    ({'state': None}, [checked(61)], 'renewal_due', 'verified'),
])
def test_verified_state_for_each_outcome(info, results, previous, expected):
    assert states.verified_state(info, results, previous, 60) == expected


def test_the_table_aligns_columns_under_a_rule_and_shows_none_as_blank():
    lines = states.table([('Geodrill', 'oefen', 'verified', 2, '2031-12-24', 1859, 'ok', CN),
                          ('Geodrill', 'productie', 'waiting_for_cn', 0, None, None, None, None)])
    assert lines[0].split() == ['application', 'environment', 'state', 'hosts', 'expires', 'days', 'left', 'verdict',
                                'common', 'name']
    assert set(lines[1].replace(' ', '')) == set('-')
    assert lines[2].split() == ['Geodrill', 'oefen', 'verified', '2', '2031-12-24', '1859', 'ok', CN]
    assert lines[3].split() == ['Geodrill', 'productie', 'waiting_for_cn', '0']
    assert lines[2].index('verified') == lines[0].index('state') == lines[3].index('waiting_for_cn')
    assert lines[2].index('2031-12-24') == lines[0].index('expires')
    assert all(line == line.rstrip() for line in lines)
    assert len(lines[1]) == len(lines[2])


def test_a_table_with_other_headers_and_no_rows_is_just_the_header():
    assert states.table([], ('host', 'verdict')) == ['host  verdict', '----  -------']


# ---------------------------------------------------------------- report: status.json from the hosts

def pair_info():
    return {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': ['app-1', 'app-2'],
            'holder': 'app-1', 'state': None, 'messages': [],
            'certificate': {'not_after': '2030-01-01T00:00:00Z', 'days_left': 1500, 'fingerprint_sha256': 'AB'}}


def host_checked(host_verdict):
    return [{'application': APP, 'environment': 'oefen', 'error': None if host_verdict == 'ok' else 'bad',
             'check': {'verdict': host_verdict, 'hint': None}, 'installed': {'days_left': 1500}}]


def test_an_empty_status_is_rebuilt_from_the_hosts_checks(tmp_path):
    status = {'pairs': {}}
    outcome = states.report({'Geodrill/oefen': pair_info()}, status, {'app-1': host_checked('ok'), 'app-2': host_checked('ok')},
                            {'app-1', 'app-2'}, {'app-1', 'app-2'}, 'onboard', 0, True, '2026-01-01T00:00:00+00:00')
    record = status['pairs']['Geodrill/oefen']
    assert outcome['states'] == {'Geodrill/oefen': 'verified'} and outcome['failed_pairs'] == []
    assert (record['key_holder'], record['verdict'], record['fingerprint_sha256']) == ('app-1', 'ok', 'AB')
    assert any('verified' in line for line in outcome['table'])


def test_a_failed_check_of_a_found_certificate_fails_the_pair_and_names_the_host():
    status = {'pairs': {}}
    outcome = states.report({'Geodrill/oefen': pair_info()}, status, {'app-1': host_checked('ok'), 'app-2': host_checked('refused')},
                            {'app-1', 'app-2'}, {'app-1', 'app-2'}, 'onboard', 60, True, 'now')
    assert outcome['failed_pairs'] == ['Geodrill/oefen'] and outcome['host_errors'] == {'app-2': ['Geodrill/oefen: bad']}


def test_renew_before_days_zero_keeps_a_short_certificate_verified():
    info = dict(pair_info(), certificate={'days_left': 20})
    results = [dict(host_checked('ok')[0])] * 2
    assert states.pair_state(info, results, None, 0, True) == 'verified'
    assert states.pair_state(info, results, None, 60, True) == 'renewal_due'


def test_a_waiting_pairs_csr_is_printed_as_the_lines_to_copy():
    csr = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----'
    info = dict(pair_info(), state='waiting_for_certificate', messages=['Geodrill/oefen: the CSR to upload:\n' + csr])
    status = {'pairs': {}}
    outcome = states.report({'Geodrill/oefen': info}, status, {}, {'app-1'}, {'app-1'}, 'onboard', 60, True, 'now')
    assert outcome['messages'] == ['Geodrill/oefen: the CSR to upload:'] + csr.split('\n')
    assert outcome['waiting_pairs'] == ['Geodrill/oefen']
    assert status['pairs']['Geodrill/oefen']['messages'] == info['messages']
