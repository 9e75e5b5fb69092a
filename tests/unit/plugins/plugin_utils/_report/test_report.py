# -*- coding: utf-8 -*-
"""report: urgency, the text table, report.json, the CI threshold, and the records of report.yml
from the hosts' report phase and status.json (pair_records). ``rec``, ``real_record`` and ``fleet``
are fixtures of this folder's conftest.py."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
ISSUER = 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE'
CN = 'geolab.be/dov-services/oefen/Geodrill'


# ---------------------------------------------------------------- (a) urgency

def test_urgency_is_failed_then_expired_then_fewest_days_then_waiting_then_retired(fleet):
    order = [(record['application'], record['environment'], record['state'])
             for record in report.sort_by_urgency(fleet())]
    assert order == [
        ('Pomp', 'oefen', 'failed'),
        ('Geodrill', 'oefen', 'verified'),              # the real one: expired 2026-01-09
        ('Geodrill', 'productie', 'renewal_due'),      # 19 days, due before pending at the same days
        ('Sonde', 'productie', 'renewal_pending'),
        ('Boorlog', 'productie', 'verified'),
        ('Peilbuis', 'oefen', 'waiting_for_certificate'),
        ('Aanvraag', 'oefen', 'waiting_for_cn'),
        ('Oud', 'oefen', 'retired'),
    ]


def test_severity_classes_follow_state_and_days(rec, fleet):
    levels = dict((record['application'] + '/' + record['environment'], report.severity(record))
                  for record in report.sort_by_urgency(fleet()))
    assert levels == {'Pomp/oefen': 'failed', 'Geodrill/oefen': 'expired', 'Geodrill/productie': 'urgent',
                      'Sonde/productie': 'urgent', 'Boorlog/productie': 'ok', 'Peilbuis/oefen': 'waiting',
                      'Aanvraag/oefen': 'waiting', 'Oud/oefen': 'retired'}
    assert report.severity(rec('Ver', 'oefen', 'renewal_due', '2027-01-20T10:00:00Z')) == 'due'


# ---------------------------------------------------------------- (b) the table

def test_table_rows_show_not_after_as_a_date_hosts_joined_and_dashes_for_nothing(fleet):
    rows = report.table_rows(fleet())
    assert rows[1] == ('Geodrill', 'oefen', 'geolab.be/dov-services/oefen/Geodrill', 'legacy.geolab.be', 'verified',
                       '2026-01-09', '-327', 'client_cert_rejected')
    assert rows[3][3] == 'app1.geolab.be, app2.geolab.be'
    assert rows[5] == ('Peilbuis', 'oefen', '-', 'app1.geolab.be', 'waiting_for_certificate', '-', '-', '-')


def test_text_table_has_a_header_and_aligned_columns(fleet):
    lines = report.format_table(fleet()).splitlines()
    assert lines[0].split() == ['application', 'environment', 'CN', 'hosts', 'state', 'not', 'after', 'days', 'left',
                                'last', 'verdict']
    column = lines[0].index('not after')
    assert all(line[column:column + 10] in ('2026-01-09', '2026-12-21', '2027-06-01', '2030-11-01', '2024-01-03',
                                            '-         ', '----------') for line in lines[1:])


# ---------------------------------------------------------------- (c) report.json

def test_report_json_lists_every_certificate_with_hosts_dates_fingerprint_issuer_and_state(fleet):
    document = json.loads(report.report_json(fleet(), NOW))
    assert document['generated_at'] == '2026-12-01T19:00:00Z'
    assert len(document['certificates']) == 8
    first = document['certificates'][0]
    assert (first['application'], first['severity']) == ('Pomp', 'failed')
    real = document['certificates'][1]
    assert real['not_after'] == '2026-01-09T11:15:05Z' and real['not_after_date'] == '2026-01-09'
    assert real['hosts'] == ['legacy.geolab.be'] and real['issuer'] == ISSUER
    assert real['fingerprint_sha256'].startswith('FD:8C:DA:68') and real['state'] == 'verified'
    assert document['summary']['verified'] == 2 and document['summary']['renewal_due'] == 1
    assert document['summary']['installed'] == 0


def test_a_date_that_is_not_iso_8601_is_a_clear_error(rec):
    bad = rec('Geodrill', 'oefen', 'verified', '2026-12-21T10:00:00Z')
    bad['not_after'] = '21/12/2026'
    with pytest.raises(DovError, match=r"The date '21/12/2026' in the report is not ISO 8601\. Give it as"):
        report.report_json([bad], NOW)


# ---------------------------------------------------------------- (e) dov_fail_within_days

def test_fail_within_60_days_names_every_certificate_that_expires_within_them(fleet):
    failed, message = report.fail_within_days(fleet(), 60)
    assert failed is True
    assert message.startswith('3 certificates expire within 60 days: ')
    assert ("'geolab.be/dov-services/oefen/Geodrill' (Geodrill/oefen on legacy.geolab.be) expired on 2026-01-09 "
            "(327 days ago)") in message
    assert ("'geolab.be/dov-services/productie/Geodrill' (Geodrill/productie on app1.geolab.be) expires on 2026-12-21 "
            "(19 days left)") in message
    assert 'Sonde' in message
    assert 'Boorlog' not in message and 'Oud' not in message and 'Pomp' not in message
    assert message.endswith('Renew them with playbooks/renew.yml (a new certificate in VO-DCBaaS), or lower '
                            'dov_fail_within_days.')


def test_fail_within_a_few_days_passes_when_nothing_expires_that_soon(fleet):
    healthy = [record for record in fleet() if record['application'] != 'Geodrill' or record['environment'] != 'oefen']
    assert report.fail_within_days(healthy, 10) == (False, None)
    assert report.fail_within_days(healthy, 20)[0] is True  # the 19-day ones
    assert report.fail_within_days(healthy, 19)[0] is False


@pytest.mark.parametrize('value', [-1, '60', True, 1.5])
def test_fail_within_days_must_be_a_whole_number_of_days(value, fleet):
    with pytest.raises(DovError, match=r'dov_fail_within_days must be a whole number of days, 0 or more, not .*Give'):
        report.fail_within_days(fleet(), value)


# ---------------------------------------------------------------- pair_records: the records of report.yml

PAIRS = {
    'Geodrill/oefen': {'application': 'Geodrill', 'environment': 'oefen', 'common_name': CN,
                       'hosts': ['app1', 'app2'], 'state': None},
    'Sonde/productie': {'application': 'Sonde', 'environment': 'productie',
                        'common_name': 'geolab.be/dov-services/productie/Sonde', 'hosts': ['app2'], 'state': None},
    'Pomp/oefen': {'application': 'Pomp', 'environment': 'oefen', 'common_name': None, 'hosts': [],
                   'state': 'waiting_for_cn'},
}


def installed(days, fingerprint='AA', not_after='2026-12-21T10:00:00Z', common_name=CN):
    return {'common_name': common_name, 'not_before': '2026-01-01T00:00:00Z', 'not_after': not_after,
            'days_left': days, 'fingerprint_sha256': fingerprint, 'issuer': 'CN=Test CA'}


def result(application, environment, found=None, error=None):
    return {'application': application, 'environment': environment, 'installed': found, 'error': error}


def test_records_from_the_hosts_without_a_state_folder():
    results = {'app1': [result('Geodrill', 'oefen', installed(19))],
               'app2': [result('Geodrill', 'oefen', installed(19)),
                        result('Sonde', 'productie', installed(400, 'BB', '2028-01-05T10:00:00Z',
                                                               'geolab.be/dov-services/productie/Sonde'))]}
    records = dict(((item['application'], item['state']), item) for item in
                   report.pair_records(PAIRS, results, {'pairs': {}}, 60, {'app1', 'app2'}))
    assert set(records) == {('Geodrill', 'renewal_due'), ('Sonde', 'installed'), ('Pomp', 'waiting_for_cn')}
    geodrill = records[('Geodrill', 'renewal_due')]
    assert geodrill['hosts'] == ['app1', 'app2'] and geodrill['not_after'] == '2026-12-21T10:00:00Z'
    assert geodrill['verdict'] is None and geodrill['problems'] == []


def test_the_last_verdict_comes_from_status_json_only_for_the_same_certificate():
    results = {'app2': [result('Sonde', 'productie', installed(400, 'BB'))]}
    pairs = {'Sonde/productie': PAIRS['Sonde/productie']}
    same = {'pairs': {'Sonde/productie': {'state': 'verified', 'verdict': 'ok', 'fingerprint_sha256': 'BB',
                                          'updated_at': '2026-12-01T19:00:00Z'}}}
    record, = report.pair_records(pairs, results, same, 60)
    assert (record['state'], record['verdict'], record['checked_at']) == ('verified', 'ok', '2026-12-01T19:00:00Z')
    other = {'pairs': {'Sonde/productie': dict(same['pairs']['Sonde/productie'], fingerprint_sha256='OLD')}}
    record, = report.pair_records(pairs, results, other, 60)
    assert (record['state'], record['verdict']) == ('installed', None)


def test_a_retired_pair_is_reported_retired_with_its_last_certificate_and_never_fails_a_threshold():
    pairs = {'Geodrill/oefen': dict(PAIRS['Geodrill/oefen'], state='retired', hosts=[])}
    status = {'pairs': {'Geodrill/oefen': {'state': 'retired', 'not_after': '2026-12-21T10:00:00Z', 'days_left': 19,
                                           'fingerprint_sha256': 'AA', 'verdict': None}}}
    record, = report.pair_records(pairs, {}, status, 60, set())
    assert (record['state'], record['hosts'], record['not_after']) == ('retired', [], '2026-12-21T10:00:00Z')
    assert report.fail_within_days([record], 100000) == (False, None)


def test_a_host_problem_or_a_lost_host_makes_the_pair_failed_and_says_why():
    results = {'app1': [result('Geodrill', 'oefen', None, 'The file /x/cert.pem is a symbolic link.')]}
    pairs = {'Geodrill/oefen': PAIRS['Geodrill/oefen']}
    record, = report.pair_records(pairs, results, {'pairs': {}}, 60, {'app1'})
    assert record['state'] == 'failed'
    assert record['problems'] == ['app1: The file /x/cert.pem is a symbolic link.',
                                  'app2: the host failed or was unreachable.']


def test_different_certificates_on_the_hosts_of_a_pair_are_a_problem_and_the_first_to_expire_is_shown():
    results = {'app1': [result('Geodrill', 'oefen', installed(300, 'AA', '2027-10-01T00:00:00Z'))],
               'app2': [result('Geodrill', 'oefen', installed(19, 'BB'))]}
    record, = report.pair_records({'Geodrill/oefen': PAIRS['Geodrill/oefen']}, results, {'pairs': {}}, 60)
    assert record['fingerprint_sha256'] == 'BB' and record['state'] == 'failed'
    assert 'different certificates' in record['problems'][0]


@pytest.mark.parametrize('value, expected', [(None, None), ('', None), ('60', 60), (' 10 ', 10), (0, 0), (30, 30)])
def test_the_threshold_as_typed_on_the_command_line(value, expected):
    assert report.within_days_option(value) == expected


@pytest.mark.parametrize('value', ['soon', '-1', -1, 1.5, True])
def test_a_threshold_that_is_not_a_number_of_days_is_refused_by_name(value):
    with pytest.raises(DovError, match='dov_fail_within_days must be a whole number of days'):
        report.within_days_option(value)


def test_report_fails_for_failed_pairs_waiting_ones_with_strict_and_what_expires_within_the_threshold():
    records = [dict(installed(19), application='Geodrill', environment='oefen', hosts=['app1'], state='renewal_due'),
               dict(installed(400, 'BB'), application='Sonde', environment='productie', hosts=['app2'], state='verified'),
               {'application': 'Pomp', 'environment': 'oefen', 'state': 'waiting_for_cn'}]
    assert report.failure_message(records) is None
    assert report.failure_message(records, 10) is None
    message = report.failure_message(records, 60, strict=True)
    assert message.startswith('Waiting (dov_strict): Pomp/oefen. 1 certificate expires within 60 days: ')
    assert CN in message and 'Sonde' not in message
    records[1]['state'] = 'failed'
    assert report.failure_message(records).startswith('Failed: Sonde/productie')
