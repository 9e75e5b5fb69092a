# -*- coding: utf-8 -*-
"""Every failure keeps its reason: the per-host ``failures`` of states.report (status.json), the
hosts the run fails (``blame``: never a healthy one), the report records of report.yml
(report.pair_records, report.json), report.html, and the lost hosts' reasons (taskvars)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import re
import sys

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report, reporthtml
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import taskvars
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'integration'))
from support import Page  # noqa: E402  (the HTML parser shared with the integration tests)

APP, CN, PAIR = 'Peil', 'sondeerlab.example/dov-services/oefen/Peil', 'Peil/oefen'
NOW = '2026-12-05T10:00:00+00:00'


def info(**more):
    found = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': ['h1', 'h2'], 'holder': 'h1',
             'state': None, 'messages': [], 'failures': [],
             'certificate': {'not_after': '2030-01-01T00:00:00Z', 'days_left': 1500, 'fingerprint_sha256': 'AB'}}
    found.update(more)
    return found


def installed(verdict='ok', error=None, dest_dir='/opt/peil', **more):
    result = {'application': APP, 'environment': 'oefen', 'dest_dir': dest_dir, 'error': error,
              'check': {'verdict': verdict, 'hint': 'The certificate is accepted.' if verdict == 'ok' else 'refused'},
              'installed': {'days_left': 1500}}
    result.update(more)
    return [result]


def run(pairs, results, status=None, live=('h1', 'h2'), everyone=('h1', 'h2'), **options):
    status = status if status is not None else {'pairs': {}}
    outcome = states.report(pairs, status, results, set(everyone), set(live), options.pop('mode', 'onboard'), 60, True,
                            NOW, **options)
    return outcome, status


def test_an_install_failure_on_one_host_is_recorded_with_host_step_and_folder_and_only_that_host_is_blamed():
    error = 'Cannot create the folder /sys/x: [Errno 1] Operation not permitted. Make the folder on this host.'
    outcome, status = run({PAIR: info()}, {'h1': installed(), 'h2': [dict(installed()[0], error=error, check=None)]})
    record = status['pairs'][PAIR]
    assert record['state'] == 'failed'
    assert record['failures'] == [{'host': 'h2', 'step': 'install', 'message': error, 'file': '/opt/peil'}]
    assert record['verdict'] == 'install failed' and record['hint'] == error
    assert list(outcome['blame']) == ['h2']
    assert outcome['blame']['h2'] == ['Failed: %s. On h2, install: %s (/opt/peil)' % (PAIR, error)]
    assert any('install failed' in line for line in outcome['table'])
    assert '%s: On h2, install: %s (/opt/peil)' % (PAIR, error) in outcome['messages']
    assert record['messages'] == ['%s: On h2, install: %s (/opt/peil)' % (PAIR, error)]


def test_a_refused_check_shows_its_verdict_not_ok():
    outcome, status = run({PAIR: info()}, {'h1': installed(), 'h2': installed('client_cert_rejected', 'rejected')})
    record = status['pairs'][PAIR]
    assert record['verdict'] == 'client_cert_rejected' and record['failures'][0]['step'] == 'check'
    assert record['failures'][0]['verdict'] == 'client_cert_rejected' and list(outcome['blame']) == ['h2']


def test_a_failure_on_the_controller_fails_the_pairs_hosts_in_the_run_and_replaces_a_stale_ok():
    failure = {'host': None, 'step': 'inbox', 'message': 'The certificate from manual: x is ...', 'file': '/s/inbox/x'}
    previous = {'pairs': {PAIR: {'state': 'verified', 'verdict': 'ok', 'hint': 'The certificate is accepted.',
                                 'messages': ['old news about Geodrill.cer'], 'updated_at': 'then'}}}
    outcome, status = run({PAIR: info(state='failed', messages=['%s: the new reason' % PAIR], failures=[failure])},
                          {}, previous, live=('h1',), everyone=('h1',))
    record = status['pairs'][PAIR]
    assert record['verdict'] == 'inbox failed' and record['hint'] == failure['message']
    assert record['messages'] == ['%s: the new reason' % PAIR]
    assert outcome['blame'] == {'h1': ['Failed: %s. On the controller, inbox: %s (/s/inbox/x)' % (PAIR, failure['message'])]}


def test_this_runs_messages_replace_the_last_ones_without_counting_as_a_change():
    status = {'pairs': {}}
    _first, status = run({PAIR: info(state='failed', messages=['A: Geodrill.cer is a CA certificate'],
                                     failures=[{'host': None, 'step': 'inbox', 'message': 'CA', 'file': 'Geodrill.cer'}])},
                         {}, status)
    _second, status = run({PAIR: info(state='failed', messages=['A: old.cer expired'],
                                      failures=[{'host': None, 'step': 'inbox', 'message': 'expired', 'file': 'old.cer'}])},
                          {}, status)
    record = status['pairs'][PAIR]
    assert record['messages'] == ['A: old.cer expired'] and record['failures'][0]['file'] == 'old.cer'
    assert 'Geodrill.cer' not in repr(record)
    stamp = record['updated_at']
    status['pairs'][PAIR]['updated_at'] = 'the second run'
    _third, status = run({PAIR: info(state='failed', messages=['A: old.cer expired, again'],
                                     failures=[{'host': None, 'step': 'inbox', 'message': 'expired', 'file': 'old.cer'}])},
                         {}, status)
    assert stamp == NOW
    assert status['pairs'][PAIR]['messages'] == ['A: old.cer expired, again']
    assert status['pairs'][PAIR]['updated_at'] == 'the second run', 'new notes alone are not a change'


def test_a_lost_host_is_named_with_its_error_and_blames_no_live_host():
    outcome, status = run({PAIR: info()}, {'h1': installed()}, live=('h1',),
                          lost_reasons={'h2': 'unreachable: Failed to connect to the host via ssh'})
    record = status['pairs'][PAIR]
    assert record['failures'] == [{'host': 'h2', 'step': 'connection', 'file': None,
                                   'message': 'unreachable: Failed to connect to the host via ssh'}]
    assert 'h2: the host failed or was unreachable this run: unreachable: Failed to connect' in ' '.join(outcome['messages'])
    assert list(outcome['blame']) == [''] and outcome['lost_hosts'] == ['h2']


def test_strict_blames_the_hosts_of_a_waiting_pair_and_without_strict_nobody():
    waiting = info(state='waiting_for_certificate')
    line = 'Waiting (dov_strict): %s.' % PAIR
    assert run({PAIR: dict(waiting)}, {}, strict=True)[0]['blame'] == {'h1': [line], 'h2': [line]}
    assert run({PAIR: dict(waiting)}, {})[0]['blame'] == {}


def test_a_host_note_reaches_the_runs_messages():
    note = "bundle.p12 uses the legacy PKCS#12 profile (3DES with a SHA-1 MAC): this host's cryptography 3.4.8 ..."
    outcome, _status = run({PAIR: info()}, {'h1': installed(notes=[note]), 'h2': installed()})
    assert '%s on h1: %s' % (PAIR, note) in outcome['messages']


def test_lost_reasons_are_the_failed_registered_calls_of_the_hosts_no_longer_in_the_run():
    hostvars = {'h1': {'dov_installed': {'changed': False}},
                'h2': {'dov_installed': {'failed': True, 'msg': 'MODULE FAILURE: no python'}},
                'h3': {'dov_prepared': {'unreachable': True, 'msg': 'ssh: connect refused'}}, 'h4': {}}
    found = taskvars.lost_reasons({'hostvars': hostvars, 'ansible_play_hosts': ['h1'],
                                   'ansible_play_hosts_all': ['h1', 'h2', 'h3', 'h4']})
    assert found == {'h2': 'MODULE FAILURE: no python', 'h3': 'unreachable: ssh: connect refused'}


# ---------------------------------------------------------------- report.yml: records, report.json, report.html

def failed_status():
    return {'pairs': {PAIR: {'state': 'failed', 'fingerprint_sha256': 'AB', 'verdict': 'install failed',
                             'failures': [{'host': 'h2', 'step': 'install', 'message': 'Permission denied', 'file': '/d'}],
                             'messages': []}}}


def inspected(host_error=None):
    return {'h1': [{'application': APP, 'environment': 'oefen', 'error': None,
                    'installed': {'fingerprint_sha256': 'AB', 'not_after': '2030-01-01T00:00:00Z', 'days_left': 1500,
                                  'not_before': '2025-01-01T00:00:00Z', 'common_name': CN}}],
            'h2': [{'application': APP, 'environment': 'oefen', 'error': host_error, 'installed': None}]}


def test_report_yml_keeps_the_last_runs_failures_of_the_same_certificate_and_names_host_and_reason():
    records = report.pair_records({PAIR: info()}, inspected(), failed_status(), 60, {'h1', 'h2'})
    record, = records
    assert record['state'] == 'failed' and record['verdict'] == 'install failed'
    assert record['failures'][0]['host'] == 'h2'
    assert record['problems'] == ['h2 (last run, install): Permission denied']
    message = report.failure_message(records)
    assert message == 'Failed: %s - %s on h2, install: Permission denied' % (PAIR, PAIR)
    document = report.report_document(records, NOW)
    assert document['certificates'][0]['failures'][0]['step'] == 'install'


def test_a_host_error_in_the_report_phase_is_this_runs_failure_and_never_ok():
    status = {'pairs': {PAIR: {'state': 'verified', 'fingerprint_sha256': 'AB', 'verdict': 'ok'}}}
    record, = report.pair_records({PAIR: info()}, inspected('cert.pem is a symbolic link'), status, 60, {'h1', 'h2'})
    assert record['state'] == 'failed' and record['verdict'] == 'report failed'
    assert record['failures'] == [{'host': 'h2', 'step': 'report', 'message': 'cert.pem is a symbolic link',
                                   'file': None}]


def test_report_html_shows_the_failing_host_and_reason_under_the_row_and_counts_only_pairs_with_a_certificate():
    records = report.pair_records({PAIR: info(), 'Wacht/oefen': dict(info(), application='Wacht', hosts=['h1'])},
                                  dict(inspected(), h1=inspected()['h1']), failed_status(), 60, {'h1', 'h2'})
    page = Page()
    page.feed(reporthtml.render_html(records, NOW))
    text = ''.join(page.text)
    assert 'h2, install: Permission denied' in text
    cards = re.findall(r'<div class="card[^"]*"><strong>(\d+)</strong><span>([^<]+)</span>',
                       reporthtml.render_html(records, NOW))
    assert dict((label, int(count)) for count, label in cards)['certificates'] == 1
    assert [row[-1] for row in page.rows if len(row) == len(states.TABLE_HEADER)].count('ok') == 0


def test_the_timeline_dates_stand_right_of_every_bar():
    now = datetime.datetime(2026, 12, 5, tzinfo=datetime.timezone.utc)
    records = [{'application': 'A%d' % index, 'environment': 'oefen', 'common_name': 'c', 'hosts': ['h'],
                'state': 'verified', 'not_before': '2026-01-01T00:00:00Z', 'not_after': '%d-06-01T00:00:00Z' % year,
                'days_left': 100, 'severity': 'ok', 'not_after_date': '%d-06-01' % year}
               for index, year in enumerate((2027, 2031))]
    svg = reporthtml.timeline_svg(records, now)
    bars_end = max(float(value) for value in re.findall(r'<line x1="[\d.]+" y1="[\d.]+" x2="([\d.]+)"', svg))
    dates = [float(value) for value in re.findall(r'<text class="date" x="([\d.]+)"', svg)]
    assert len(dates) == 2 and min(dates) > bars_end


# ---------------------------------------------------------------- dov_pkcs12_profile: auto, after an upgrade

def test_a_folder_installed_with_the_old_default_profile_stays_converged_by_its_manifest_under_auto(tmp_path):
    """A host installed by the previous release (which recorded pkcs12_profile 'modern' for every entry) is
    converged by the manifest alone under the new default auto: no cryptography loaded, nothing rewritten."""
    import json as _json
    from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostmanifest, hostcerts
    from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
    lab = labca.LabCA.load_or_create(str(tmp_path / 'lab-ca'))
    dest = tmp_path / 'dov'
    entry = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
             'dest_dir': str(dest), 'key_holder': True,
             'install': {'formats': ['pem', 'pkcs12'], 'pkcs12_password': 'p12-upgrade', 'ca_bundle': lab.bundle_path}}
    first = hostcerts.prepare(entry)
    entry['certificate'] = (lab.sign_csr(first['csr']) + lab.issuing_pem()).decode('ascii')
    entry['install']['pkcs12_profile'] = 'legacy'
    assert hostcerts.install(dict(entry, key_holder=False))['error'] is None
    path = dest / '.dov-manifest.json'
    manifest = _json.loads(path.read_text())
    manifest['wanted']['pkcs12_profile'] = 'modern'       # what the previous release recorded
    path.write_text(_json.dumps(manifest))
    entry['install']['pkcs12_profile'] = 'auto'
    assert hostmanifest.converged_by_manifest(entry) is not None
    assert hostcerts.prepare(entry)['converged_by'] == 'manifest'
    entry['install']['pkcs12_profile'] = 'modern'         # an explicit profile is compared
    assert hostmanifest.converged_by_manifest(entry) is not None
    entry['install']['pkcs12_profile'] = 'legacy'
    assert hostmanifest.converged_by_manifest(entry) is None


def test_report_yml_keeps_a_pair_failed_whose_last_run_failed_before_any_certificate():
    nothing = {'h1': [{'application': APP, 'environment': 'oefen', 'error': None, 'installed': None}]}
    status = {'pairs': {PAIR: {'state': 'failed', 'verdict': 'inbox failed', 'messages': [],
                               'failures': [{'host': None, 'step': 'inbox', 'message': 'a CA certificate', 'file': '/i/x'}]}}}
    record, = report.pair_records({PAIR: info(hosts=['h1'])}, nothing, status, 60, {'h1'})
    assert record['state'] == 'failed' and record['problems'] == ['controller (last run, inbox): a CA certificate']
    status['pairs'][PAIR]['state'] = 'waiting_for_certificate'
    record, = report.pair_records({PAIR: info(hosts=['h1'])}, nothing, status, 60, {'h1'})
    assert record['state'] == 'waiting_for_certificate' and record['failures'] == []
