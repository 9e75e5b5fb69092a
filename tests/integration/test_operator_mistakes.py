# -*- coding: utf-8 -*-
"""The mistakes operators make, through ansible-playbook as they run it (issue 21).

A sounding company with the ``manual`` issuer, a CA of its own playing VO-DCBaaS (test_hosts_truth's
World: an openssl-signing CA and a DOV-like nginx that asks for client certificates of that CA):

- every wrong download, dropped in the inbox and then given as ``certificate_file`` (one pair per
  mistake, all in one run): the CA certificate, another pair's certificate, an expired one, this CN
  with an earlier key, a PKCS#7 with two leaves for other keys, a real mismatch. The run names what
  each file is, installs nothing, fails exactly the host of those pairs, and only the real mismatch
  gets the advice to upload the CSR; status.json keeps this run's reason (never a stale one);
- an install that fails on one of two hosts: the reason (host, step, file) in status.json, the
  run's last message, report.json and report.html (rendered by headless Chromium); the healthy host
  ``failed=0``; the notification mail goes out without ``dov_smtp.sender`` (from contact_email);
- a first run on cryptography 3.4.8 / pyOpenSSL 21.0.0 with formats pem + pkcs12 and no profile
  set ends verified and says it wrote the legacy PKCS#12 profile, and why.

EXPECTED maps each mistake to the text the run prints; docs/troubleshooting.md's table "Operator
mistakes and what the run says" is checked against it (test_the_troubleshooting_table_...).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email
import email.policy
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import pki_factory
from support import PASSWORD
from test_hosts_truth import ORG, Site, World, recap, write
from test_host_side import old_crypto_python
from test_report_html import CHROMIUM, chromium

HERE = os.path.dirname(os.path.abspath(__file__))
TROUBLESHOOTING = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'docs', 'troubleshooting.md')
NEW_REQUEST = 'Upload the CSR of this pair in VO-DCBaaS and use the certificate that comes back.'
MISTAKES = ('Cacert', 'Ander', 'Oud', 'Vorig', 'Bundel', 'Vreemd')
APPS = MISTAKES + ('Labo', 'Peil', 'Oudbib')
# What the run says for each mistake (the docs' table is checked against these).
EXPECTED = {
    'Cacert': 'holds only CA certificate',
    'Ander': 'is the certificate of Labo/oefen',
    'Oud': 'which expired on',
    'Vorig': 'an earlier key of Vorig/oefen',
    'Bundel': 'holds 2 client certificates and none is for the key of Bundel/oefen',
    'Vreemd': 'was issued for another key (its public key SHA-256 is',
    'install': 'install failed',
    'pkcs12': 'bundle.p12 uses the legacy PKCS#12 profile',
}


def authority(world):
    """The World's CA as a pki_factory Authority, to sign what openssl x509 -req cannot (old dates)."""
    with open(world.ca_bundle, 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    with open(os.path.join(world.issuer, 'ca.key'), 'rb') as handle:
        key = serialization.load_pem_private_key(handle.read(), None)
    return pki_factory.Authority(cert, key)


class Operator(Site):
    """A Site whose hosts may have variables of their own (a host interpreter)."""

    host_variables = {}

    def inventory(self):
        path = Site.inventory(self)
        with open(path) as handle:
            data = yaml.safe_load(handle)
        for host, variables in self.host_variables.items():
            data['all']['hosts'][host].update(variables)
        write(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
        return path

    def inbox(self, app):
        return os.path.join(self.state_dir, app, 'oefen', 'inbox')

    def csr(self, app):
        return os.path.join(self.state_dir, app, 'oefen', 'csr.pem')


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    from conftest import Ansible
    world = World(tmp_path_factory.mktemp('mistakes'), Ansible(tmp_path_factory.mktemp('ansible-mistakes')), APPS)
    yield world
    world.stop()


@pytest.fixture(scope='module')
def mistakes(world):
    """Six pairs on h1 (one per mistake), Labo/oefen on h2; the first run hands over seven CSRs."""
    site = Operator(world, 'mistakes', {'h1': [(app, {}) for app in MISTAKES], 'h2': [('Labo', {})]},
                    dov_issuer='manual')
    first = site.run()
    assert first.rc == 0, first
    assert set(pair['state'] for pair in site.status().values()) == {'waiting_for_certificate'}
    ca = authority(world)
    downloads = os.path.join(site.folder, 'downloads')
    os.makedirs(downloads)
    labo = world.sign(site.csr('Labo'), os.path.join(downloads, 'labo.cer'))
    stranger = pki_factory.fresh_key()
    files = {
        'Cacert': write(os.path.join(downloads, 'Cacert.cer'), pki_factory.der(ca.cert)),
        'Ander': labo,
        'Oud': write(os.path.join(downloads, 'old.cer'), pki_factory.pem(pki_factory.make_client(
            ca, stranger, ORG + 'Oud', start_days=-800, days=-30))),
        'Vorig': write(os.path.join(downloads, 'vorig.cer'), pki_factory.pem(pki_factory.make_client(
            ca, stranger, ORG + 'Vorig'))),
        'Vreemd': write(os.path.join(downloads, 'vreemd.cer'), pki_factory.pem(pki_factory.make_client(
            ca, stranger, 'elders.example/dov-services/oefen/Vreemd'))),
    }
    with open(labo, 'rb') as handle:
        labo_cert = x509.load_pem_x509_certificate(handle.read())
    files['Bundel'] = write(os.path.join(downloads, 'bundel.p7b'), pki_factory.p7b(
        [labo_cert, pki_factory.make_client(ca, stranger, ORG + 'Bundel')]))
    site.downloads = files
    return site


def fail_message(run, host):
    """The message of the report's task that fails ``host`` (the run's last word on it)."""
    found = [record for record in run.records if record['host'] == host and record['status'] == 'failed'
             and record['task'].endswith('Report - fail the hosts whose certificates failed (and, with dov_strict, wait)')]
    assert found, run
    return found[-1]['result']['msg']


def pair_messages(run, app):
    return [line for line in run.stdout.splitlines() if '%s/oefen' % app in line]


def test_every_wrong_download_in_the_inbox_is_named_for_what_it_is_and_nothing_is_installed(mistakes):
    before = mistakes.files()
    dropped = {}
    for app in MISTAKES:
        os.makedirs(mistakes.inbox(app), exist_ok=True)
        dropped[app] = os.path.join(mistakes.inbox(app), os.path.basename(mistakes.downloads[app]))
        shutil.copy(mistakes.downloads[app], dropped[app])
    run = mistakes.run()
    mistakes.inbox_run = run
    assert run.rc != 0
    assert mistakes.files() == before, 'a wrong download changed a file on a host'
    status = mistakes.status()
    for app in MISTAKES:
        record = status['%s/oefen' % app]
        assert record['state'] == 'failed' and record['verdict'] == 'inbox failed', record
        failure, = record['failures']
        assert failure['step'] == 'inbox' and failure['file'] == dropped[app] and failure['host'] is None
        assert EXPECTED[app] in failure['message'], (app, failure['message'])
        assert (NEW_REQUEST in failure['message']) == (app == 'Vreemd'), (app, failure['message'])
        assert any(EXPECTED[app] in line for line in pair_messages(run, app)), (app, run.stdout)
    assert mistakes.inbox('Labo') in status['Ander/oefen']['failures'][0]['message']
    assert 'It is an old download' in status['Oud/oefen']['failures'][0]['message']
    assert 'the other file of the VO-DCBaaS download' in status['Cacert/oefen']['failures'][0]['message']
    assert status['Labo/oefen']['state'] == 'waiting_for_certificate'
    # the recap blames the host of the failed pairs, not the healthy one; its last message says why
    assert recap(run, 'h1')[2] == 1 and recap(run, 'h2')[2] == 0, run.stdout
    last = fail_message(run, 'h1')
    assert 'Failed: Oud/oefen. On the controller, inbox: ' in last and dropped['Oud'] in last


def test_the_same_mistakes_as_certificate_file_and_a_stale_reason_is_replaced(mistakes):
    assert mistakes.inbox_run.rc != 0
    before = mistakes.files()
    for app in MISTAKES:
        if app == 'Cacert':
            continue
        mistakes.environments[app] = {'certificate_file': mistakes.downloads[app]}
    # Cacert: the CA certificate goes, an expired download takes its place in the inbox
    os.remove(os.path.join(mistakes.inbox('Cacert'), 'Cacert.cer'))
    old = shutil.copy(mistakes.downloads['Oud'], os.path.join(mistakes.inbox('Cacert'), 'old.cer'))
    run = mistakes.run()
    assert run.rc != 0
    assert mistakes.files() == before
    status = mistakes.status()
    for app in MISTAKES[1:]:
        failure, = status['%s/oefen' % app]['failures']
        assert failure['step'] == 'certificate_file' and failure['file'] == mistakes.downloads[app]
        assert failure['message'].startswith('certificate_file %s ' % mistakes.downloads[app])
        assert EXPECTED[app] in failure['message'], (app, failure['message'])
        assert (NEW_REQUEST in failure['message']) == (app == 'Vreemd'), (app, failure['message'])
    cacert = status['Cacert/oefen']
    assert 'which expired on' in cacert['failures'][0]['message'] and cacert['failures'][0]['file'] == old
    assert not any('Cacert.cer' in message for message in cacert['messages']), 'a stale reason was kept'
    assert 'Cacert.cer' not in json.dumps(cacert)
    assert recap(run, 'h1')[2] == 1 and recap(run, 'h2')[2] == 0


@pytest.fixture(scope='module')
def broken(world, tls_smtp):
    """Peil/oefen on h1 (verified) and h2, whose dest_dir cannot be made (/sys refuses even root)."""
    port, inbox, ca = tls_smtp
    site = Operator(world, 'broken', {'h1': [('Peil', {})],
                                      'h2': [('Peil', {'dest_dir': '/sys/dov-operator-test/peil'})]},
                    dov_notify_email=['ops@sondeerlab.example'],
                    dov_smtp={'host': '127.0.0.1', 'port': port, 'username': 'dov-mailer', 'password': PASSWORD,
                              'ca_bundle': ca})
    site.mails = inbox
    site.onboard = site.run()
    return site


def test_an_install_failure_on_one_host_is_named_everywhere_and_the_healthy_host_is_not_failed(broken):
    run = broken.onboard
    assert run.rc != 0
    assert recap(run, 'h1')[2] == 0 and recap(run, 'h2')[2] == 1, run.stdout
    record = broken.status()['Peil/oefen']
    assert record['state'] == 'failed' and record['verdict'] == EXPECTED['install'], record
    failure, = record['failures']
    assert failure['host'] == 'h2' and failure['step'] == 'install' and failure['file'] == '/sys/dov-operator-test/peil'
    assert 'Operation not permitted' in failure['message'] or 'Permission denied' in failure['message'], failure
    assert record['hint'] == failure['message']
    last = fail_message(run, 'h2')
    assert last.startswith('Failed: Peil/oefen. On h2, install: ') and failure['message'].split('.')[0] in last
    assert not os.path.exists('/sys/dov-operator-test')
    assert os.path.exists(os.path.join(broken.dest_dir('h1', 'Peil'), 'cert.pem'))


def test_report_yml_shows_the_failing_host_and_reason_and_mails_without_a_sender(broken, tmp_path):
    mails = len(broken.mails.mails)
    run = broken.run('report')
    assert run.rc != 0
    reason = broken.status()['Peil/oefen']['failures'][0]['message']
    assert 'h2' in run.stdout and reason.split('.')[0] in run.stdout
    with open(os.path.join(broken.state_dir, 'report.json')) as handle:
        document = json.load(handle)
    record, = document['certificates']
    assert record['state'] == 'failed' and record['verdict'] != 'ok'
    assert [(item['host'], item['step']) for item in record['failures']] == [('h2', 'install')]
    # the mail: sent from the organisation's contact_email, naming the failed pair
    assert len(broken.mails.mails) == mails + 1
    sender, recipients, data = broken.mails.mails[-1]
    assert sender == 'ict@sondeerlab.example' and recipients == ['ops@sondeerlab.example']
    assert 'Peil/oefen' in email.message_from_bytes(data, policy=email.policy.default).get_content()
    if CHROMIUM is None:
        pytest.skip('chromium is not installed (make deps)')
    dom = chromium(tmp_path, '--dump-dom', 'file://' + os.path.join(broken.state_dir, 'report.html'))
    text = re.sub(r'<[^>]+>', ' ', dom)
    assert 'h2, install: ' in text and reason.split('.')[0] in text
    cells = re.findall(r'<td>([^<]*)</td></tr>', dom)
    assert 'ok' not in cells


def test_a_first_run_on_the_2021_libraries_writes_the_legacy_pkcs12_and_says_so(world):
    site = Operator(world, 'oldlib', {'h3': [('Oudbib', {'formats': ['pem', 'pkcs12']})]},
                    dov_pkcs12_password='p12-oldlib-Kq2w')
    site.host_variables = {'h3': {'ansible_python_interpreter': old_crypto_python()}}
    run = site.run()
    assert run.rc == 0, run
    assert site.status()['Oudbib/oefen']['state'] == 'verified'
    assert EXPECTED['pkcs12'] + " (3DES with a SHA-1 MAC): this host's cryptography 3.4.8" in run.stdout
    bundle = os.path.join(site.dest_dir('h3', 'Oudbib'), 'bundle.p12')
    info = subprocess.run(['openssl', 'pkcs12', '-info', '-noout', '-in', bundle, '-passin',
                           'pass:p12-oldlib-Kq2w'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False)
    assert 'MAC: sha1' in info.stdout and 'TripleDES' in info.stdout, info.stdout


def test_the_troubleshooting_table_says_what_the_tests_assert():
    """docs/troubleshooting.md's "Operator mistakes and what the run says": one row per mistake whose
    quoted message is what the run prints (EXPECTED), and which says whether a new request is advised."""
    with open(TROUBLESHOOTING) as handle:
        text = handle.read()
    section = text.split('## Operator mistakes and what the run says', 1)[1].split('\n## ', 1)[0]
    rows = [line for line in section.splitlines() if line.startswith('| ') and not line.startswith('| mistake')
            and not line.startswith('| ---')]
    quoted = dict((app, [row for row in rows if '`%s`' % EXPECTED[app] in row]) for app in EXPECTED)
    missing = [app for app, found in quoted.items() if not found]
    assert not missing, 'rows without the message the tests assert: %s' % missing
    for app, (row,) in quoted.items():
        assert row.rstrip().rstrip('|').strip().endswith('yes' if app == 'Vreemd' else 'no'), row


def test_report_yml_after_the_mistakes_counts_no_certificate_and_keeps_each_reason(mistakes, tmp_path):
    """report.html as a browser shows it: no pair has a certificate (the card says 0, not 7), and each
    failed pair's row is followed by where and why it failed (the last onboard run's reason)."""
    run = mistakes.run('report')
    assert run.rc != 0
    assert 'Failed: ' in run.stdout and 'controller, certificate_file: certificate_file %s' % mistakes.downloads['Ander'] in run.stdout
    if CHROMIUM is None:
        pytest.skip('chromium is not installed (make deps)')
    dom = chromium(tmp_path, '--dump-dom', 'file://' + os.path.join(mistakes.state_dir, 'report.html'))
    cards = dict((label, int(count)) for count, label in
                 re.findall(r'<div class="card[^"]*"><strong>(\d+)</strong><span>([^<]+)</span>', dom))
    assert cards['certificates'] == 0 and cards['need attention'] == len(MISTAKES), cards
    text = re.sub(r'\s+', ' ', re.sub(r'<[^>]+>', ' ', dom))
    for app in MISTAKES[1:]:
        assert 'controller, certificate_file: certificate_file %s' % mistakes.downloads[app] in text, app
