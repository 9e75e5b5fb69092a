# -*- coding: utf-8 -*-
"""hostreport: the host's report phase (describes the installed certificate as cert_info does) and
the metrics textfile kept across phases (the last check survives a run without one)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostreport, metrics
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(HERE, '..', '..', '..', '..', 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')
CN = 'geolab.be/dov-services/oefen/Geodrill'


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
