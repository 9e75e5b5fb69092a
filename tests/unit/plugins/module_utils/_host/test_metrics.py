# -*- coding: utf-8 -*-
"""metrics: the node_exporter textfile, read back with prometheus_client's own parser."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import metrics
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(HERE, '..', '..', '..', '..', 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')
UTC = datetime.timezone.utc


def records():
    real = certinfo.cert_info(GEODRILL)  # the real VO-PKI certificate, as the host reads it
    return [
        {'application': 'Geodrill', 'environment': 'oefen', 'common_name': real['common_name'],
         'dest_dir': '/etc/dov/geodrill-oefen', 'not_before': real['not_before'], 'not_after': real['not_after'],
         'check_success': False, 'check_timestamp': '2026-12-01T19:00:00Z'},
        {'application': 'Sonde "2"', 'environment': 'productie',
         'common_name': 'geolab.be/dov-services/productie/Sonde "2"\\x', 'dest_dir': '/srv/sonde\nnew line',
         'not_before': datetime.datetime(2026, 1, 1, tzinfo=UTC), 'not_after': 1798761600,
         'check_success': None, 'check_timestamp': None},
    ]


def parse(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_textfile_parses_with_prometheus_client_and_carries_the_gauges_labelled_by_cn():
    families = parse(metrics.render_textfile(records()))
    assert set(families) == {'dov_certificate_not_after_timestamp_seconds', 'dov_certificate_not_before_timestamp_seconds',
                             'dov_certificate_check_success', 'dov_certificate_check_timestamp_seconds'}
    assert all(family.type == 'gauge' and family.documentation for family in families.values())
    not_after = {sample.labels['common_name']: sample for sample in families['dov_certificate_not_after_timestamp_seconds'].samples}
    geodrill = not_after['geolab.be/dov-services/oefen/Geodrill']
    # 2026-01-09T11:15:05Z, the real certificate's not_after, in epoch seconds
    assert geodrill.value == datetime.datetime(2026, 1, 9, 11, 15, 5, tzinfo=UTC).timestamp()
    assert geodrill.labels == {'application': 'Geodrill', 'environment': 'oefen',
                               'common_name': 'geolab.be/dov-services/oefen/Geodrill', 'dest_dir': '/etc/dov/geodrill-oefen'}
    checks = families['dov_certificate_check_success'].samples
    assert [(sample.labels['application'], sample.value) for sample in checks] == [('Geodrill', 0)]


def test_label_values_with_quotes_backslashes_and_new_lines_come_back_unchanged():
    families = parse(metrics.render_textfile(records()))
    samples = families['dov_certificate_not_before_timestamp_seconds'].samples
    sonde = next(sample for sample in samples if sample.labels['environment'] == 'productie')
    assert sonde.labels['application'] == 'Sonde "2"'
    assert sonde.labels['common_name'] == 'geolab.be/dov-services/productie/Sonde "2"\\x'
    assert sonde.labels['dest_dir'] == '/srv/sonde\nnew line'
    assert sonde.value == 1767225600


def test_help_and_type_come_once_per_family_before_its_samples():
    text = metrics.render_textfile(records())
    lines = text.splitlines()
    for name, _help, _field in metrics.GAUGES:
        assert lines.count('# TYPE %s gauge' % name) == 1
        first_sample = next(index for index, line in enumerate(lines) if line.startswith(name + '{'))
        assert lines.index('# TYPE %s gauge' % name) < first_sample
    assert text.endswith('\n')


def test_write_is_atomic_in_the_folder_and_a_second_write_changes_nothing(tmp_path):
    assert metrics.write_textfile(str(tmp_path), records()) is True
    path = tmp_path / 'vlaanderen_dov.prom'
    assert oct(path.stat().st_mode & 0o777) == '0o644'
    assert os.listdir(str(tmp_path)) == ['vlaanderen_dov.prom']  # no temp file left behind
    before = path.stat().st_mtime_ns, path.stat().st_ino
    assert metrics.write_textfile(str(tmp_path), records()) is False
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before
    changed = records()
    changed[0]['check_success'] = True
    assert metrics.write_textfile(str(tmp_path), changed, check_mode=True) is True
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before  # check mode writes nothing
    assert metrics.write_textfile(str(tmp_path), changed) is True
    assert path.stat().st_ino != before[1]  # a new file renamed over the old one, as node_exporter asks
    samples = parse(path.read_text())['dov_certificate_check_success'].samples
    assert [sample.value for sample in samples] == [1]


def test_missing_folder_relative_path_and_a_symlinked_file_are_refused_and_nothing_changes(tmp_path):
    with pytest.raises(DovError, match=r'dov_metrics_dir /nowhere/textfile does not exist or is not a folder\. Create it'):
        metrics.write_textfile('/nowhere/textfile', records())
    with pytest.raises(DovError, match=r"dov_metrics_dir 'textfile' is not an absolute path\. Set it to"):
        metrics.write_textfile('textfile', records())
    target = tmp_path / 'elsewhere.txt'
    target.write_text('keep me')
    (tmp_path / 'vlaanderen_dov.prom').symlink_to(target)
    with pytest.raises(DovError, match=r'vlaanderen_dov\.prom is a symbolic link\. Remove it'):
        metrics.write_textfile(str(tmp_path), records())
    assert target.read_text() == 'keep me'
    assert os.path.islink(str(tmp_path / 'vlaanderen_dov.prom'))


def test_a_timestamp_that_is_not_iso_8601_is_a_clear_error():
    bad = records()[:1]
    bad[0]['not_after'] = '9 januari 2026'
    with pytest.raises(DovError, match=r"The not_after '9 januari 2026' is not ISO 8601 with a time zone\. Give it as"):
        metrics.render_textfile(bad)


def test_no_certificates_give_a_file_with_only_help_and_type_lines():
    families = parse(metrics.render_textfile([]))
    assert all(not family.samples for family in families.values())
    assert len(families) == 4


def test_parse_reads_back_escaped_labels():
    record = {'application': 'Sonde "2"', 'environment': 'oefen', 'common_name': 'a\\b', 'dest_dir': '/srv/x\ny',
              'not_after': 1798761600, 'check_success': True, 'check_timestamp': 1796151600}
    parsed = metrics.parse_textfile(metrics.render_textfile([record]))
    assert parsed == {metrics.key_of(record): dict(record, not_after=1798761600.0, check_timestamp=1796151600.0)}
