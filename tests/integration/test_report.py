# -*- coding: utf-8 -*-
"""report.yml as a team runs it: read from the hosts, with no state folder, into a table, report.json,
report.html (rendered by headless Chromium), node_exporter metrics, a CI threshold and a mail.

Two local hosts, two pairs through a ``command`` issuer and a DOV-like nginx (test_hosts_truth's
World): Geodrill/oefen (a 20-day certificate) on h1 and h2, Sonde/oefen (400 days) on h1. One
onboarding run, then several report.yml runs after the state folder was deleted.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email
import email.policy
import json
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import Ansible
from support import PASSWORD, Page
from test_hosts_truth import ORG, PLAYBOOKS, Site, World, openssl, recap, write
from test_report_html import CHROMIUM, chromium

GEODRILL, SONDE = ORG + 'Geodrill', ORG + 'Sonde'
# Geodrill gets 20 days, every other application 400, from the same test CA.
DAYS_SCRIPT = '''#!/bin/sh
case "$DOV_APPLICATION" in Geodrill) DOV_TEST_DAYS=20 ;; *) DOV_TEST_DAYS=400 ;; esac
export DOV_TEST_DAYS
exec '{command}'
'''
# What report.yml may run on a host besides its one host_certificates call: controller-side action plugins only.
CONTROLLER_SIDE = ('vlaanderen.dov.onboarding', 'ansible.builtin.debug', 'ansible.builtin.fail',
                   'ansible.builtin.include_role', 'ansible.builtin.validate_argument_spec')


@pytest.fixture(scope='module')
def site(tmp_path_factory, tls_smtp):
    port, _inbox, ca = tls_smtp
    smtp = {'host': '127.0.0.1', 'port': port, 'starttls': True, 'username': 'dov-mailer', 'password': PASSWORD,
            'sender': 'dov-mailer@sondeerlab.example', 'ca_bundle': str(ca)}
    world = World(tmp_path_factory.mktemp('report'), Ansible(tmp_path_factory.mktemp('ansible-report')),
                  apps=('Geodrill', 'Sonde'))
    command = write(os.path.join(world.issuer, 'issue-by-application.sh'),
                    DAYS_SCRIPT.format(command=world.command), 0o755)
    metrics = os.path.join(world.folder, 'metrics')
    for host in ('h1', 'h2'):
        os.makedirs(os.path.join(metrics, host))
    site = Site(world, 'report', {'h1': [('Geodrill', {}), ('Sonde', {})], 'h2': [('Geodrill', {})]},
                dov_issuer_command=command, dov_metrics_dir=metrics + '/{{ inventory_hostname }}',
                dov_smtp=smtp)
    site.metrics = metrics
    site.onboard = site.run()
    site.lose_state()
    yield site
    world.stop()


def report(site, *extra):
    args = []
    for item in extra:
        args += ['-e', item]
    return site.world.runner.playbook(os.path.join(PLAYBOOKS, 'report.yml'), inventory=site.inventory(), args=args)


def not_after_date(site, host, application):
    text = openssl('x509', '-noout', '-enddate', '-dateopt', 'iso_8601', '-in',
                   os.path.join(site.dest_dir(host, application), 'cert.pem')).decode()
    return text.split('=', 1)[1].strip()[:10]


@pytest.fixture(scope='module')
def plain(site):
    """report.yml with no state folder, no threshold, no mail."""
    assert site.onboard.rc == 0, site.onboard
    before = site.files()
    run = report(site)
    assert site.files() == before, 'report.yml changed a file on a host'
    return run


def test_report_reads_the_hosts_with_no_state_folder_and_prints_the_expiry_dates(site, plain):
    assert plain.rc == 0, plain
    assert recap(plain, 'h1') == (0, 0, 0) and recap(plain, 'h2') == (0, 0, 0)
    lines = plain.stdout.splitlines()
    row = [line for line in lines if GEODRILL in line and 'renewal_due' in line]
    assert row and not_after_date(site, 'h1', 'Geodrill') in row[0], plain.stdout
    assert 'h1, h2' in row[0]
    sonde = [line for line in lines if SONDE in line and not_after_date(site, 'h1', 'Sonde') in line]
    assert sonde and lines.index(row[0]) < lines.index(sonde[0]), 'the urgent certificate is not listed first'


def test_each_host_runs_one_module_for_the_report(plain):
    for host in ('h1', 'h2'):
        executed = [record for record in plain.records if record['host'] == host and record['status'] != 'skipped'
                    and record['action'] not in CONTROLLER_SIDE]
        assert [record['action'] for record in executed] == ['vlaanderen.dov.host_certificates'], executed


def test_report_json_lists_both_certificates_with_hosts_and_not_after(site, plain):
    with open(os.path.join(site.state_dir, 'report.json')) as handle:
        document = json.load(handle)
    by_cn = dict((item['common_name'], item) for item in document['certificates'])
    assert [item['common_name'] for item in document['certificates']] == [GEODRILL, SONDE]
    assert by_cn[GEODRILL]['hosts'] == ['h1', 'h2'] and by_cn[SONDE]['hosts'] == ['h1']
    assert by_cn[GEODRILL]['not_after_date'] == not_after_date(site, 'h2', 'Geodrill')
    assert by_cn[SONDE]['not_after'].startswith(not_after_date(site, 'h1', 'Sonde'))
    assert by_cn[GEODRILL]['state'] == 'renewal_due' and by_cn[GEODRILL]['days_left'] in (19, 20)
    assert by_cn[SONDE]['days_left'] in (399, 400)


def test_report_html_renders_in_chromium_with_the_urgent_certificate_first_and_an_inline_svg(site, plain, tmp_path):
    if CHROMIUM is None:
        pytest.fail('chromium is not installed: run `make deps`.')
    page = os.path.join(site.state_dir, 'report.html')
    with open(page) as handle:
        source = handle.read()
    assert '<script' not in source and 'src=' not in source and 'href=' not in source
    shot = tmp_path / 'report.png'
    chromium(tmp_path, '--hide-scrollbars', '--window-size=1280,900', '--screenshot=%s' % shot, 'file://' + page)
    assert shot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    dom = Page()
    dom.feed(chromium(tmp_path, '--dump-dom', 'file://' + page))
    assert 'svg' in [tag for tag, _attrs in dom.tags] and 'table' in [tag for tag, _attrs in dom.tags]
    rows = [row for row in dom.rows if row]
    assert [row[2] for row in rows] == [GEODRILL, SONDE]
    assert rows[0][5] == not_after_date(site, 'h1', 'Geodrill')


def test_the_hosts_metrics_file_parses_with_a_not_after_gauge_per_common_name(site, plain):
    with open(os.path.join(site.metrics, 'h1', 'vlaanderen_dov.prom')) as handle:
        families = dict((family.name, family) for family in text_string_to_metric_families(handle.read()))
    not_after = families['dov_certificate_not_after_timestamp_seconds']
    assert not_after.type == 'gauge'
    assert sorted(sample.labels['common_name'] for sample in not_after.samples) == [GEODRILL, SONDE]
    checks = dict((sample.labels['common_name'], sample.value)
                  for sample in families['dov_certificate_check_success'].samples)
    assert checks == {GEODRILL: 1.0, SONDE: 1.0}, 'the last check of the onboarding run was not kept'
    with open(os.path.join(site.metrics, 'h2', 'vlaanderen_dov.prom')) as handle:
        assert [sample.labels['common_name'] for family in text_string_to_metric_families(handle.read())
                if family.name == 'dov_certificate_not_after_timestamp_seconds' for sample in family.samples] == [GEODRILL]


def test_fail_within_sixty_days_names_geodrill_and_ten_days_passes(site, plain):
    failing = report(site, 'dov_fail_within_days=60')
    assert failing.rc != 0, failing
    failed = failing.failed
    assert [record['host'] for record in failed] == ['h1'], failed
    message = failed[0]['result']['msg']
    assert "'%s' (Geodrill/oefen on h1, h2) expires on" % GEODRILL in message and 'Sonde' not in message
    passing = report(site, 'dov_fail_within_days=10')
    assert passing.rc == 0, passing


def test_the_mail_names_the_certificate_to_renew_and_not_the_healthy_one(site, tls_smtp, plain):
    _port, inbox, _ca = tls_smtp
    before = len(inbox.mails)
    run = report(site, json.dumps({'dov_notify_email': 'ict@sondeerlab.example'}))
    assert run.rc == 0, run
    assert len(inbox.mails) == before + 1
    _mail_from, rcpt_tos, data = inbox.mails[-1]
    assert rcpt_tos == ['ict@sondeerlab.example']
    body = email.message_from_bytes(data, policy=email.policy.default).get_content()
    assert GEODRILL in body and 'renewal due' in body
    assert SONDE not in body
    assert PASSWORD not in run.stdout + run.stderr


def test_a_metrics_dir_that_does_not_exist_is_refused_and_nothing_changes(site, plain):
    before = site.files()
    run = report(site, 'dov_metrics_dir=/nonexistent/textfile')
    assert run.rc != 0
    assert 'dov_metrics_dir /nonexistent/textfile does not exist' in run.stdout, run
    assert site.files() == before


def prom(site, host):
    with open(os.path.join(site.metrics, host, 'vlaanderen_dov.prom')) as handle:
        return dict(((family.name, sample.labels['common_name']), sample.value)
                    for family in text_string_to_metric_families(handle.read()) for sample in family.samples)


def test_report_in_check_mode_writes_no_report_and_no_metrics(site, plain):
    for name in ('report.json', 'report.html'):
        os.remove(os.path.join(site.state_dir, name))
    metrics_before, files_before = prom(site, 'h1'), site.files()
    run = site.world.runner.playbook(
        os.path.join(PLAYBOOKS, 'report.yml'), inventory=site.inventory(), check=True)
    assert run.rc == 0, run
    assert GEODRILL in run.stdout
    assert not os.path.exists(os.path.join(site.state_dir, 'report.json'))
    assert prom(site, 'h1') == metrics_before and site.files() == files_before


def test_verify_renews_the_check_time_and_a_second_onboarding_changes_nothing_and_keeps_it(site, plain):
    before = prom(site, 'h1')
    verify = site.run('verify')
    assert verify.rc == 0, verify
    after = prom(site, 'h1')
    stamp = ('dov_certificate_check_timestamp_seconds', GEODRILL)
    assert after[stamp] >= before[stamp] and after[('dov_certificate_check_success', GEODRILL)] == 1.0
    files = site.files()
    again = site.run()
    assert again.rc == 0, again
    assert recap(again, 'h1')[0] == 0 and recap(again, 'h2')[0] == 0, again.stdout
    assert site.files() == files
    assert prom(site, 'h1')[('dov_certificate_check_success', SONDE)] == 1.0
