# -*- coding: utf-8 -*-
"""The wiring of report.yml and of the metrics: records from the hosts' report phase and status.json,
report.json/html in the state folder, the threshold as typed on the command line, the SMTP settings,
and the metrics file kept across phases (the last check survives a run without one)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostreport, metrics
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report, reporthtml, reportmail
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(HERE, '..', '..', '..', '..', 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')
CN = 'geolab.be/dov-services/oefen/Geodrill'
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


def test_publish_writes_report_json_and_html_into_a_missing_state_folder(tmp_path):
    folder = tmp_path / 'dov-state'
    records = [dict(installed(19), application='Geodrill', environment='oefen', hosts=['app1'], state='renewal_due')]
    paths = reporthtml.publish(str(folder), records, '2026-12-01T19:00:00Z')
    document = json.loads((folder / 'report.json').read_text())
    assert document['certificates'][0]['common_name'] == CN and document['certificates'][0]['hosts'] == ['app1']
    assert CN in (folder / 'report.html').read_text() and paths['html'] == str(folder / 'report.html')


def test_publish_in_check_mode_writes_nothing(tmp_path):
    reporthtml.publish(str(tmp_path / 'dov-state'), [], '2026-12-01T19:00:00Z', check_mode=True)
    assert not (tmp_path / 'dov-state').exists()


def test_a_notification_without_an_smtp_host_is_refused():
    with pytest.raises(DovError, match='dov_notify_email is set but dov_smtp has no host'):
        reportmail.smtp_server({'sender': 'dov@geolab.be'})


# ---------------------------------------------------------------- the metrics across phases

def entry_result(dest, check=None, **extra):
    found = certinfo.cert_info(GEODRILL)
    data = {'application': 'Geodrill', 'environment': 'oefen', 'common_name': found['common_name'], 'dest_dir': dest,
            'installed': found, 'error': None}
    if check is not None:
        data['check'] = check
    data.update(extra)
    return data


def families(folder):
    with open(os.path.join(folder, metrics.FILE_NAME)) as handle:
        return dict((family.name, family) for family in text_string_to_metric_families(handle.read()))


def test_the_last_check_is_kept_when_a_phase_runs_none(tmp_path):
    folder = str(tmp_path)
    written = hostreport.write_metrics(folder, [entry_result('/etc/dov/g', {'verdict': 'ok'})], replace=False,
                                       now='2026-12-01T19:00:00Z')
    assert written == {'path': os.path.join(folder, metrics.FILE_NAME), 'written': True}
    again = hostreport.write_metrics(folder, [entry_result('/etc/dov/g')], replace=True, now='2026-12-02T19:00:00Z')
    assert again['written'] is False, 'a run without a check rewrote the same content'
    found = families(folder)
    assert [sample.value for sample in found['dov_certificate_check_success'].samples] == [1.0]
    assert [sample.value for sample in found['dov_certificate_check_timestamp_seconds'].samples] == [1796151600.0]


def test_a_failed_check_is_a_zero_and_a_later_phase_of_other_certificates_keeps_it(tmp_path):
    folder = str(tmp_path)
    hostreport.write_metrics(folder, [entry_result('/etc/dov/g', {'verdict': 'client_cert_rejected'})], replace=False,
                             now='2026-12-01T19:00:00Z')
    hostreport.write_metrics(folder, [entry_result('/etc/dov/other', {'verdict': 'ok'}, application='Sonde')],
                             replace=False, now='2026-12-01T19:05:00Z')
    checks = dict((sample.labels['dest_dir'], sample.value)
                  for sample in families(folder)['dov_certificate_check_success'].samples)
    assert checks == {'/etc/dov/g': 0.0, '/etc/dov/other': 1.0}


def test_prepare_and_report_replace_the_certificates_a_host_no_longer_has(tmp_path):
    folder = str(tmp_path)
    hostreport.write_metrics(folder, [entry_result('/etc/dov/g'), entry_result('/etc/dov/old', application='Oud')],
                             replace=True)
    hostreport.write_metrics(folder, [entry_result('/etc/dov/g')], replace=True)
    assert [sample.labels['dest_dir'] for sample in
            families(folder)['dov_certificate_not_after_timestamp_seconds'].samples] == ['/etc/dov/g']


def test_files_put_back_after_a_failed_check_and_missing_certificates_give_no_sample(tmp_path):
    rolled = entry_result('/etc/dov/g', {'verdict': 'client_cert_rejected'}, rolled_back=['/etc/dov/g/cert.pem'])
    missing = dict(entry_result('/etc/dov/m'), installed=None)
    assert hostreport.metrics_record(rolled, '2026-12-01T19:00:00Z') is None
    assert hostreport.metrics_record(missing, '2026-12-01T19:00:00Z') is None


def test_an_entry_taken_off_the_host_leaves_the_metrics_file_with_the_prepare_call(tmp_path):
    folder = str(tmp_path)
    hostreport.write_metrics(folder, [entry_result('/etc/dov/g'), entry_result('/etc/dov/old', application='Oud')],
                             replace=True)
    # state: absent reports what was installed (for the revocation), but it is gone from the host now
    removed = dict(entry_result('/etc/dov/old', application='Oud'), state='absent', removed=['/etc/dov/old/cert.pem'])
    assert hostreport.metrics_record(removed, '2026-12-01T19:00:00Z') is None
    hostreport.write_metrics(folder, [entry_result('/etc/dov/g'), removed], replace=True)
    assert [sample.labels['dest_dir'] for sample in
            families(folder)['dov_certificate_not_after_timestamp_seconds'].samples] == ['/etc/dov/g']


def test_parse_reads_back_escaped_labels():
    record = {'application': 'Sonde "2"', 'environment': 'oefen', 'common_name': 'a\\b', 'dest_dir': '/srv/x\ny',
              'not_after': 1798761600, 'check_success': True, 'check_timestamp': 1796151600}
    parsed = metrics.parse_textfile(metrics.render_textfile([record]))
    assert parsed == {metrics.key_of(record): dict(record, not_after=1798761600.0, check_timestamp=1796151600.0)}


def test_a_metrics_file_that_is_a_link_is_never_read(tmp_path):
    target = tmp_path / 'elsewhere.prom'
    target.write_text('dov_certificate_check_success{application="x"} 1\n')
    os.symlink(str(target), str(tmp_path / metrics.FILE_NAME))
    assert metrics.read_textfile(str(tmp_path)) == {}
    with pytest.raises(DovError, match='is a symbolic link'):
        hostreport.write_metrics(str(tmp_path), [entry_result('/etc/dov/g')], replace=True)
    assert target.read_text() == 'dov_certificate_check_success{application="x"} 1\n'


# ---------------------------------------------------------------- the host's report phase

def report_entry(tmp_path, common_name=CN):
    return {'application': 'Geodrill', 'environment': 'oefen', 'common_name': common_name,
            'dest_dir': str(tmp_path), 'install': {}}


def test_the_report_phase_describes_the_installed_certificate_as_cert_info_does(tmp_path):
    with open(GEODRILL, 'rb') as handle:
        (tmp_path / 'cert.pem').write_bytes(handle.read())
    found = hostreport.report(report_entry(tmp_path), renew_before_days=60)
    assert found['error'] is None
    expected = certinfo.cert_info(GEODRILL)
    for name in ('common_name', 'not_before', 'not_after', 'fingerprint_sha256', 'issuer'):
        assert found['installed'][name] == expected[name]
    assert found['installed']['needs_renewal'] is True and found['installed']['cn_parts']['application'] == 'Geodrill'


def test_the_report_phase_with_nothing_installed_says_so_without_an_error(tmp_path):
    found = hostreport.report(report_entry(tmp_path))
    assert (found['installed'], found['error'], found['changed']) == (None, None, False)


def test_the_report_phase_names_a_certificate_for_another_cn(tmp_path):
    with open(GEODRILL, 'rb') as handle:
        (tmp_path / 'cert.pem').write_bytes(handle.read())
    found = hostreport.report(report_entry(tmp_path, 'geolab.be/dov-services/oefen/Sonde'))
    assert "is for 'geolab.be/dov-services/oefen/Geodrill', not for 'geolab.be/dov-services/oefen/Sonde'" in found['error']


def test_the_report_phase_refuses_an_unreadable_or_linked_cert_file_and_changes_nothing(tmp_path):
    (tmp_path / 'cert.pem').write_bytes(b'not a certificate\n')
    found = hostreport.report(report_entry(tmp_path))
    assert 'cannot be read as a certificate' in found['error'] and found['installed'] is None
    linked = tmp_path / 'linked'
    linked.mkdir()
    os.symlink(GEODRILL, str(linked / 'cert.pem'))
    found = hostreport.report(report_entry(linked))
    assert 'link' in found['error'] and found['installed'] is None
    assert sorted(os.listdir(str(tmp_path))) == ['cert.pem', 'linked']
    assert (tmp_path / 'cert.pem').read_bytes() == b'not a certificate\n'


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
