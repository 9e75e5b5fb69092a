# -*- coding: utf-8 -*-
"""onboard.yml, verify.yml, renew.yml and report.yml on the embedded lab inventory, as a user
runs them: local hosts, the lab issuer, the local DOV stand-in. Checked with openssl."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import socket
import stat
import subprocess

import pytest

from conftest import ROOT
from support import free_port, snapshot

LAB_INVENTORY = os.path.join(ROOT, 'inventories', 'lab', 'hosts.yml')
PLAYBOOK = '- name: Onboard\n  ansible.builtin.import_playbook: vlaanderen.dov.%s\n'
PAIRS = ('Geodrill/oefen', 'Geodrill/productie', 'Labresultaten/oefen', 'Labresultaten/productie')


def openssl(*args):
    return subprocess.run(['openssl'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False).stdout


class Lab(object):
    """The lab inventory with its folder and stand-in port moved into the test's tmp_path."""

    def __init__(self, ansible, tmp_path):
        self.ansible = ansible
        self.dir = tmp_path / 'lab'
        self.state = self.dir / 'dov-state'
        self.extra = {'dov_lab_dir': str(self.dir), 'dov_lab_standin_port': free_port()}

    def run(self, playbook='onboard', extra=None, inventory=LAB_INVENTORY, **kwargs):
        extra_vars = dict(self.extra)
        extra_vars.update(extra or {})
        return self.ansible.playbook(PLAYBOOK % playbook, inventory=inventory, extra_vars=extra_vars, **kwargs)

    def status(self):
        with open(str(self.state / 'status.json')) as handle:
            return json.load(handle)['pairs']

    def host(self, host, application):
        return self.dir / 'hosts' / host / application.lower()


@pytest.fixture
def lab(ansible, tmp_path):
    return Lab(ansible, tmp_path)


def subject(path):
    return openssl('x509', '-in', str(path), '-noout', '-subject', '-nameopt', 'RFC2253')


def test_onboard_takes_every_pair_to_verified_and_a_second_run_changes_nothing(lab):
    first = lab.run()
    assert first.rc == 0, first
    status = lab.status()
    assert sorted(status) == sorted(PAIRS)
    assert set(pair['state'] for pair in status.values()) == {'verified'}, status
    assert all(pair['verdict'] == 'ok' and pair['days_left'] > 1000 for pair in status.values())
    # What the user sees: one table row per pair.
    for pair in PAIRS:
        application, environment = pair.split('/')
        assert any(application in line and environment in line and 'verified' in line
                   for line in first.stdout.splitlines()), first.stdout

    # Each host holds its own environment's certificates, and only those.
    assert 'CN=geolab.be/dov-services/oefen/Geodrill' in subject(lab.host('app-oefen-1', 'Geodrill') / 'cert.pem')
    assert 'CN=geolab.be/dov-services/productie/Geodrill' in subject(lab.host('app-prod-1', 'Geodrill') / 'cert.pem')
    for path in (lab.dir / 'hosts' / 'app-prod-1').rglob('cert.pem'):
        assert 'productie' in subject(path) and 'oefen' not in subject(path)
    for host in ('app-oefen-1', 'app-oefen-2'):
        for path in (lab.dir / 'hosts' / host).rglob('cert.pem'):
            assert '/oefen/' in subject(path)

    # One certificate per pair: the second host of Geodrill/oefen has the same key and certificate.
    one, two = lab.host('app-oefen-1', 'Geodrill'), lab.host('app-oefen-2', 'Geodrill')
    assert (one / 'cert.pem').read_bytes() == (two / 'cert.pem').read_bytes()
    assert openssl('pkey', '-in', str(one / 'key.pem'), '-pubout') == openssl('pkey', '-in', str(two / 'key.pem'), '-pubout')
    assert not (two / 'csr.pem').exists()       # the key holder made the CSR; app-oefen-2 received the key
    for key in (lab.dir / 'hosts').rglob('key.pem'):
        assert stat.S_IMODE(os.stat(str(key)).st_mode) == 0o600
    # The chain verifies with the lab CA, and the keystores open.
    verified = openssl('verify', '-CAfile', str(lab.state / 'lab-ca' / 'root.pem'), '-untrusted',
                       str(one / 'chain.pem'), str(one / 'cert.pem'))
    assert verified.strip().endswith('OK'), verified
    assert 'dov-client' in openssl('pkcs12', '-in', str(one / 'bundle.p12'), '-nokeys', '-passin', 'pass:lab-only-password')
    listing = subprocess.run(['keytool', '-list', '-keystore', str(lab.host('app-oefen-1', 'Labresultaten') / 'keystore.jks'),
                              '-storepass', 'lab-only-password'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True, check=False).stdout
    assert 'dov-client' in listing and 'PrivateKeyEntry' in listing, listing
    # No private key on the controller's state folder.
    for path, (data, _mode) in snapshot(lab.state).items():
        if '/lab-ca/' not in path and '/lab-standin/' not in path:
            assert b'PRIVATE KEY' not in data, path

    before = snapshot(lab.dir / 'hosts')
    standin_log = (lab.state / 'lab-standin' / 'standin.log').read_text()
    assert standin_log.count('listening on') == 1
    second = lab.run()
    assert second.rc == 0, second
    assert second.changed == 0, [r['task'] for r in second.records if r['status'] == 'changed']
    assert 'changed=0' in second.stdout
    assert snapshot(lab.dir / 'hosts') == before
    # Nothing to check after a verified run: no stand-in started, no host task after prepare, and the
    # variables checked by the plan step (no validation task per host).
    assert (lab.state / 'lab-standin' / 'standin.log').read_text() == standin_log
    ran = [r for r in second.records if r['status'] != 'skipped']
    assert not [r for r in ran if r['action'].endswith('validate_argument_spec')], ran
    assert set(r['task'] for r in ran if r['action'] == 'vlaanderen.dov.host_certificates') == {
        'vlaanderen.dov.dov_cert : Csr - key and CSR on the key holders, converge check on every host'}, ran
    assert not (lab.state / '.lock').exists()

    verify = lab.run('verify')
    assert verify.rc == 0, verify
    assert verify.changed == 0
    rows = [line for line in verify.stdout.splitlines() if ' ok ' in line]
    assert len(rows) == 5, verify.stdout        # five certificates on three hosts

    report = lab.run('report')
    assert report.rc == 0 and report.changed == 0
    # read from the hosts: the pair, its CN and hosts, verified (status.json's last check), the expiry date
    assert re.search(r'Labresultaten\s+productie\s+\S+/Labresultaten\s+[\w, -]+\s+verified\s+\d{4}-\d\d-\d\d\s',
                     report.stdout), report.stdout


def test_check_mode_on_a_fresh_lab_writes_nothing(lab):
    run = lab.run(check=True)
    assert run.rc == 0, run
    assert not (lab.dir / 'hosts').exists()
    assert not (lab.state / 'status.json').exists()
    assert [r for r in run.records if r['status'] == 'changed']


def test_an_inventory_mistake_is_refused_before_anything_changes(lab, tmp_path):
    inventory = tmp_path / 'hosts.yml'
    text = open(LAB_INVENTORY).read().replace('{application: Labresultaten, environment: oefen',
                                              '{application: Labresultaat, environment: oefen')
    text = text.replace('productie: {cn: geolab.be/dov-services/productie/Geodrill}',
                        'productie: {cn: geolab.be/dov-services/oefen/Geodrill2}')
    inventory.write_text(text)
    run = lab.run(inventory=str(inventory))
    assert run.rc != 0
    output = run.stdout + run.stderr
    assert "names the application 'Labresultaat', which is not in dov_applications" in output
    assert "is listed under Geodrill/productie, but its environment part is 'oefen'" in output
    assert not lab.dir.exists()


def test_a_host_variable_that_does_not_fit_the_role_is_refused_naming_the_host_before_anything_changes(lab, tmp_path):
    inventory = tmp_path / 'hosts.yml'
    text = open(LAB_INVENTORY).read()
    assert '    app-oefen-2:\n' in text
    inventory.write_text(text.replace('    app-oefen-2:\n', '    app-oefen-2:\n      dov_key_size: 1024\n', 1))
    run = lab.run(inventory=str(inventory))
    assert run.rc != 0
    output = run.stdout + run.stderr
    assert "The role's variables do not fit its specification (meta/argument_specs.yml, entry point main)" in output
    assert 'value of dov_key_size must be one of: 2048, 3072, 4096, got: 1024 (host app-oefen-2)' in output, output
    assert 'Traceback' not in output
    assert not lab.dir.exists()     # no key, no CSR, no state folder, no lock


def test_a_pair_without_cn_waits_and_dov_strict_fails_the_run(lab, tmp_path):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(open(LAB_INVENTORY).read().replace(
        'productie: {cn: geolab.be/dov-services/productie/Labresultaten}', 'productie: {}'))
    run = lab.run(inventory=str(inventory))
    assert run.rc == 0, run
    assert lab.status()['Labresultaten/productie']['state'] == 'waiting_for_cn'
    assert lab.status()['Geodrill/productie']['state'] == 'verified'
    assert 'meldpunt@dov.vlaanderen.be' in run.stdout and 'access-request.eml' in run.stdout
    eml = (lab.state / 'Labresultaten' / 'access-request.eml').read_text()
    assert 'meldpunt@dov.vlaanderen.be' in eml and 'Labresultaten' in eml
    strict = lab.run(inventory=str(inventory), extra={'dov_strict': True})
    assert strict.rc != 0
    assert 'Waiting (dov_strict): Labresultaten/productie' in strict.stdout


def test_manual_issuer_waits_for_the_inbox_then_installs_what_is_dropped_there(lab):
    manual = {'dov_issuer': 'manual', 'dov_ca_bundle': str(lab.state / 'lab-ca' / 'bundle.pem')}
    lab.run()      # makes the lab CA; then start over with manual issuing for new keys
    for path in (lab.dir / 'hosts').rglob('*'):
        if path.is_file():
            path.unlink()
    for path in lab.state.rglob('certificate.pem'):
        path.unlink()
    waiting = lab.run(extra=manual)
    assert waiting.rc == 0, waiting
    assert set(pair['state'] for pair in lab.status().values()) == {'waiting_for_certificate'}
    handover = lab.state / 'Geodrill' / 'oefen'
    assert (handover / 'inbox').is_dir()
    instructions = (handover / 'INSTRUCTIES.txt').read_text()
    assert 'VO-DCBaaS' in instructions and 'SSL Client' in instructions
    # The operator uploads the CSR and drops the certificate (here: signed by the lab CA, as DER).
    certificate = subprocess.run(
        ['openssl', 'x509', '-req', '-in', str(handover / 'csr.pem'), '-CA', str(lab.state / 'lab-ca' / 'issuing.pem'),
         '-CAkey', str(lab.state / 'lab-ca' / 'issuing-key.pem'), '-days', '400', '-outform', 'DER',
         '-extfile', '/dev/stdin'], input=b'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    (handover / 'inbox' / 'Geodrill-oefen.cer').write_bytes(certificate)
    picked = lab.run(extra=manual)
    assert picked.rc == 0, picked
    status = lab.status()
    assert status['Geodrill/oefen']['state'] == 'verified'
    assert status['Geodrill/productie']['state'] == 'waiting_for_certificate'
    assert (lab.host('app-oefen-2', 'Geodrill') / 'cert.pem').exists()


def test_a_failed_check_rolls_back_to_the_previous_certificate_and_fails_the_run(lab):
    assert lab.run().rc == 0
    before = snapshot(lab.dir / 'hosts' / 'app-oefen-1' / 'geodrill')
    renewal = lab.run('renew', extra={'dov_renew_before_days': 100000, 'dov_lab_standin_deny': ['Geodrill']})
    assert renewal.rc != 0
    status = lab.status()
    assert status['Geodrill/oefen']['state'] == 'failed'
    assert status['Geodrill/oefen']['verdict'] == 'not_authorised'
    assert 'meldpunt@dov.vlaanderen.be' in status['Geodrill/oefen']['hint']
    after = snapshot(lab.dir / 'hosts' / 'app-oefen-1' / 'geodrill')
    # the live files are the previous ones; the renewal's staged key and CSR stay for the next run
    assert dict((path, data) for path, data in after.items() if not path.endswith('.next')) == before
    assert sorted(os.path.basename(path) for path in after if path.endswith('.next')) == ['csr.pem.next', 'key.pem.next']
    assert 'not_authorised' in renewal.stdout and 'app-oefen-1' in renewal.stdout
    assert status['Labresultaten/oefen']['state'] == 'renewal_due' or status['Labresultaten/oefen']['state'] == 'verified'


def test_a_second_run_on_the_same_state_folder_stops_with_a_clear_message(lab):
    lab.state.mkdir(parents=True)
    lock = lab.state / '.lock'
    lock.write_text(json.dumps({'run': 'other', 'pid': os.getpid(), 'host': socket.gethostname(),
                                'started': '2026-11-28T10:00:00+00:00'}))
    run = lab.run()
    assert run.rc != 0
    assert 'Another run is working on' in run.stdout and str(os.getpid()) in run.stdout
    assert not (lab.dir / 'hosts').exists()
    assert json.loads(lock.read_text())['run'] == 'other'


def test_limit_to_a_host_without_the_key_does_not_make_a_second_key_and_a_typo_is_refused(lab, tmp_path):
    assert lab.run().rc == 0
    stored = (lab.state / 'Geodrill' / 'oefen' / 'certificate.pem').read_bytes()
    second = lab.host('app-oefen-2', 'Geodrill')
    for path in second.iterdir():
        path.unlink()
    limited = lab.run(args=['--limit', 'app-oefen-2'])
    assert limited.rc == 0, limited
    assert 'its key holder app-oefen-1 is not in this run' in limited.stdout
    assert not (second / 'key.pem').exists()
    assert (lab.state / 'Geodrill' / 'oefen' / 'certificate.pem').read_bytes() == stored
    assert lab.status()['Geodrill/oefen']['key_holder'] == 'app-oefen-1'
    full = lab.run()
    assert full.rc == 0, full
    assert (second / 'cert.pem').read_bytes() == (lab.host('app-oefen-1', 'Geodrill') / 'cert.pem').read_bytes()
    assert (lab.state / 'Geodrill' / 'oefen' / 'certificate.pem').read_bytes() == stored

    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(open(LAB_INVENTORY).read().replace('    app-oefen-2:\n      dov_certificates:',
                                                            '    app-oefen-2:\n      dov_certficates:'))
    before = snapshot(lab.dir)
    typo = lab.run(inventory=str(inventory))
    assert typo.rc != 0
    assert 'dov_certficates (did you mean dov_certificates?)' in typo.stdout
    assert snapshot(lab.dir) == before


def test_a_jks_only_pair_is_verified_by_onboard_and_by_verify_with_the_keystores_key(lab, tmp_path):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(open(LAB_INVENTORY).read().replace('formats: [pem, jks]', 'formats: [jks]'))
    onboard = lab.run(inventory=str(inventory))
    assert onboard.rc == 0, onboard
    folder = lab.host('app-oefen-1', 'Labresultaten')
    assert sorted(name for name in os.listdir(str(folder)) if not name.startswith('.')) == ['csr.pem', 'key.pem', 'keystore.jks']
    assert lab.status()['Labresultaten/oefen']['state'] == 'verified'
    verify = lab.run('verify', inventory=str(inventory))
    assert verify.rc == 0, verify
    assert lab.status()['Labresultaten/oefen']['state'] == 'verified'
    assert lab.status()['Labresultaten/oefen']['verdict'] == 'ok'
