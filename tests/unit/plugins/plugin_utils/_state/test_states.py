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


APP, CN = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill'


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


def test_the_table_aligns_columns_under_a_rule_and_shows_nothing_as_a_dash():
    lines = states.table([states.table_row({'application': 'Geodrill', 'environment': 'oefen', 'common_name': CN,
                                            'hosts': ['app-1', 'app-2'], 'state': 'verified',
                                            'not_after': '2031-12-24T10:00:00Z', 'days_left': 1859, 'verdict': 'ok'}),
                          states.table_row({'application': 'Geodrill', 'environment': 'productie', 'hosts': ['app-1'],
                                            'state': 'waiting_for_cn'})])
    assert lines[0].split() == ['application', 'environment', 'CN', 'hosts', 'state', 'not', 'after', 'days', 'left',
                                'last', 'verdict']
    assert set(lines[1].replace(' ', '')) == set('-')
    assert lines[2].split() == ['Geodrill', 'oefen', CN, 'app-1,', 'app-2', 'verified', '2031-12-24', '1859', 'ok']
    assert lines[3].split() == ['Geodrill', 'productie', '-', 'app-1', 'waiting_for_cn', '-', '-', '-']
    assert lines[2].index('verified') == lines[0].index('state') == lines[3].index('waiting_for_cn')
    assert lines[2].index('2031-12-24') == lines[0].index('not after')
    assert all(line == line.rstrip() for line in lines)
    assert len(lines[1]) == max(len(line) for line in lines)      # the rule spans every column


def test_a_table_with_other_headers_and_no_rows_is_just_the_header():
    assert states.table([], ('host', 'verdict')) == ['host  verdict', '----  -------']


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
