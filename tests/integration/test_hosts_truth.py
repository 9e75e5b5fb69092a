# -*- coding: utf-8 -*-
"""The hosts are the truth; the state folder is a cache (onboard.yml / verify.yml, as a user runs them).

Two local hosts share the pair Boorlog/oefen, h1 also has Sondering/oefen. A ``command`` issuer (a
shell script signing with ``openssl x509 -req`` and a private CA) logs every call; a DOV-like nginx
asks for client certificates of that CA and answers 403 to CNs it does not know.

- a state folder lost after a verified run costs no certificate: no issuer call, every file on every
  host byte-identical, changed=0, status.json rebuilt (verified, same key holder); verify.yml runs
  with no state folder at all;
- a key and certificate made with openssl before any run are adopted as they are, also under other
  file names (``files: {key: client.key, cert: client.crt}``);
- the manual flow on a runner whose state folder is thrown away after every run: the CSR stays on the
  key holder and is printed; ``certificate_file`` (DER .cer beside the inventory) gets it verified;
  the next run changes nothing; a certificate_file for another key is refused and nothing changes;
- a missing dov_ca_bundle is refused by name and leaves no lock; a second run while the first sits
  in a slow issuer is refused by the lock (which names the first ansible-playbook) and the first
  finishes; dov_renew_before_days: 0 keeps a 20-day certificate verified.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
import yaml

import pki_factory
import tls_peers
from conftest import COLLECTIONS, Ansible
from support import snapshot, write

OPENSSL = tls_peers.OPENSSL
ORG = 'sondeerlab.example/dov-services/oefen/'
APPS = ('Boorlog', 'Sondering', 'Handwerk', 'Eigennaam', 'Manueel', 'Traag', 'Kort')
BOORLOG, SONDERING = 'Boorlog/oefen', 'Sondering/oefen'
PLAYBOOKS = os.path.join(COLLECTIONS, 'ansible_collections', 'vlaanderen', 'dov', 'playbooks')

ISSUER_SCRIPT = '''#!/bin/sh
# Test issuer for dov_issuer: command. CSR on stdin, certificate (PEM) on stdout; logs each call.
set -eu
echo "$DOV_APPLICATION/$DOV_ENVIRONMENT" >> '{folder}/issued.log'
sleep "${{DOV_TEST_SLEEP:-0}}"
exec '{openssl}' x509 -req -sha256 -days "${{DOV_TEST_DAYS:-400}}" -CA '{folder}/ca.pem' -CAkey '{folder}/ca.key' \\
    -CAserial '{folder}/ca.srl' -CAcreateserial -extfile '{folder}/client.ext' -extensions dov_client
'''
CLIENT_EXT = '''[dov_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
'''


def openssl(*args):
    proc = subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=60)
    assert proc.returncode == 0, 'openssl %s: %s' % (' '.join(args), proc.stderr)
    return proc.stdout


def recap(run, host):
    found = re.search(r'^%s\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)' % re.escape(host), run.stdout, re.M)
    assert found, run.stdout[-2000:]
    return tuple(int(value) for value in found.groups())


class World(object):
    """The CA, its issuer script, nginx, the runner; each test has its own state folder and hosts."""

    def __init__(self, folder, runner, apps=APPS):
        self.folder = str(folder)
        self.runner = runner
        self.issuer = os.path.join(self.folder, 'issuer')
        ca = pki_factory.make_root('Truth Lab Issuing CA')
        self.ca_bundle = write(os.path.join(self.issuer, 'ca.pem'), ca.pem)
        write(os.path.join(self.issuer, 'ca.key'), pki_factory.key_pem(ca.key), 0o600)
        write(os.path.join(self.issuer, 'client.ext'), CLIENT_EXT)
        self.command = write(os.path.join(self.issuer, 'issue.sh'),
                             ISSUER_SCRIPT.format(folder=self.issuer, openssl=OPENSSL), 0o755)
        self.nginx, self.server_ca_bundle = tls_peers.start_dov_nginx(self.folder, 'Truth Lab DOV Server Root CA', ca.pem,
                                                                      ORG + '(%s)' % '|'.join(apps))
        self.endpoint = 'https://127.0.0.1:%d/' % self.nginx.port

    def issued(self):
        path = os.path.join(self.issuer, 'issued.log')
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [line.strip() for line in handle if line.strip()]

    def sign(self, csr_path, out, der=False):
        """What VO-DCBaaS does with a CSR: a certificate of the CA (DER for a .cer download)."""
        args = ['x509', '-req', '-sha256', '-days', '400', '-in', csr_path, '-CA', self.ca_bundle, '-CAkey',
                os.path.join(self.issuer, 'ca.key'), '-CAserial', os.path.join(self.issuer, 'ca.srl'),
                '-CAcreateserial', '-extfile', os.path.join(self.issuer, 'client.ext'), '-extensions', 'dov_client',
                '-out', out]
        if der:
            args += ['-outform', 'DER']
        openssl(*args)
        return out

    def hand_made(self, folder, common_name, key_name='key.pem', cert_name='cert.pem'):
        """A key and certificate made with openssl, as an administrator did before the collection."""
        key = os.path.join(folder, key_name)
        os.makedirs(folder, exist_ok=True)
        openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key)
        os.chmod(key, 0o600)
        csr = os.path.join(self.folder, 'hand-%s.csr' % os.path.basename(folder))
        openssl('req', '-new', '-key', key, '-subj', '/CN=' + common_name.replace('/', '\\/'), '-out', csr)
        return self.sign(csr, os.path.join(folder, cert_name))

    def stop(self):
        self.nginx.stop()


class Site(object):
    """One test's inventory folder: state folder, host folders, inventory file, runs."""

    def __init__(self, world, name, pairs, **variables):
        self.world = world
        self.folder = os.path.join(world.folder, name)
        self.state_dir = os.path.join(self.folder, 'dov-state')
        self.hosts_dir = os.path.join(self.folder, 'hosts')
        self.pairs = pairs          # {host: [(application, extra entry settings)]}
        self.variables = variables
        self.environments = {}
        self.count = 0

    def dest_dir(self, host, application):
        return os.path.join(self.hosts_dir, host, application.lower())

    def inventory(self):
        applications = sorted(set(app for entries in self.pairs.values() for app, _extra in entries))
        host_vars = dict((host, {'dov_certificates': [
            dict({'application': app, 'environment': 'oefen', 'dest_dir': self.dest_dir(host, app)}, **extra)
            for app, extra in entries]}) for host, entries in self.pairs.items())
        data = {'all': {'vars': dict({
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'dov_state_dir': self.state_dir,
            'dov_issuer': 'command',
            'dov_issuer_command': self.world.command,
            'dov_ca_bundle': self.world.ca_bundle,
            'dov_server_ca_bundle': self.world.server_ca_bundle,
            'dov_endpoints': {'oefen': self.world.endpoint},
            'dov_check_timeout': 10,
            'dov_organisation': {'name': 'Sondeerlab bv', 'id_type': 'kbo', 'id': '0812.345.603',
                                 'contact_email': 'ict@sondeerlab.example'},
            'dov_applications': [{'name': app, 'description': 'Gegevens opladen',
                                  'environments': {'oefen': dict({'cn': ORG + app}, **self.environments.get(app, {}))}}
                                 for app in applications],
        }, **self.variables), 'hosts': host_vars}}
        path = os.path.join(self.folder, 'inventory.yml')
        write(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
        return path

    def run(self, playbook='onboard', env=None):
        self.count += 1
        run = self.world.runner.playbook(os.path.join(PLAYBOOKS, playbook + '.yml'), inventory=self.inventory(), env=env)
        write(os.path.join(self.folder, 'run-%d-%s.log' % (self.count, playbook)), repr(run))
        return run

    def status(self):
        with open(os.path.join(self.state_dir, 'status.json')) as handle:
            return json.load(handle)['pairs']

    def lose_state(self):
        shutil.rmtree(self.state_dir)

    def files(self):
        return snapshot(self.hosts_dir)


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    world = World(tmp_path_factory.mktemp('truth'), Ansible(tmp_path_factory.mktemp('ansible-truth')))
    yield world
    world.stop()


@pytest.fixture(scope='module')
def shared(world):
    """Boorlog/oefen on h1 and h2 (pem + pkcs12 on h2), Sondering/oefen on h1: one verified run."""
    site = Site(world, 'shared', {'h1': [('Boorlog', {}), ('Sondering', {})],
                                  'h2': [('Boorlog', {'formats': ['pem', 'pkcs12']})]},
                dov_pkcs12_password='p12-truth-Kq2w')
    site.first = site.run()
    return site


def test_a_lost_state_folder_costs_no_certificate_and_changes_no_file_on_any_host(shared, world):
    assert shared.first.rc == 0, shared.first
    assert sorted(world.issued()) == [BOORLOG, SONDERING]
    assert set(pair['state'] for pair in shared.status().values()) == {'verified'}
    holder = shared.status()[BOORLOG]['key_holder']
    before = shared.files()
    shared.lose_state()

    run = shared.run()
    assert run.rc == 0, run
    assert sorted(world.issued()) == [BOORLOG, SONDERING], 'the issuer was called again'
    assert shared.files() == before
    assert recap(run, 'h1') == (0, 0, 0) and recap(run, 'h2') == (0, 0, 0)
    status = shared.status()
    assert dict((key, pair['state']) for key, pair in status.items()) == {BOORLOG: 'verified', SONDERING: 'verified'}
    assert status[BOORLOG]['key_holder'] == holder and status[BOORLOG]['verdict'] == 'ok'
    with open(os.path.join(shared.dest_dir('h1', 'Boorlog'), 'cert.pem'), 'rb') as handle:
        assert status[BOORLOG]['fingerprint_sha256'].replace(':', '').lower() in (
            openssl('x509', '-noout', '-fingerprint', '-sha256', '-in', handle.name).decode().replace(':', '').lower())


def test_verify_runs_with_no_state_folder(shared):
    before = shared.files()
    shared.lose_state()
    run = shared.run('verify')
    assert run.rc == 0, run
    rows = [line for line in run.stdout.splitlines() if re.search(r'\b(h1|h2)\s+\w+\s+oefen\s+ok\b', line)]
    assert len(rows) == 3, run.stdout
    assert shared.files() == before
    assert not os.path.exists(os.path.join(shared.state_dir, '.lock'))


def test_hand_installed_keys_and_certificates_are_adopted_as_they_are(world):
    site = Site(world, 'adopt', {'h1': [('Handwerk', {}),
                                        ('Eigennaam', {'files': {'key': 'client.key', 'cert': 'client.crt'}})]},
                dov_issuer='manual')
    world.hand_made(site.dest_dir('h1', 'Handwerk'), ORG + 'Handwerk')
    world.hand_made(site.dest_dir('h1', 'Eigennaam'), ORG + 'Eigennaam', 'client.key', 'client.crt')
    before = site.files()
    run = site.run()
    assert run.rc == 0, run
    assert dict((key, pair['state']) for key, pair in site.status().items()) == {
        'Handwerk/oefen': 'verified', 'Eigennaam/oefen': 'verified'}, site.status()
    assert site.files() == before
    assert sorted(os.listdir(site.dest_dir('h1', 'Eigennaam'))) == ['client.crt', 'client.key']
    assert recap(run, 'h1') == (0, 0, 0)
    assert not os.path.exists(os.path.join(site.state_dir, 'Handwerk', 'oefen', 'inbox')), 'a handover was made'


def test_the_manual_flow_on_a_runner_that_loses_its_state_folder(world):
    site = Site(world, 'manual', {'h1': [('Manueel', {})]}, dov_issuer='manual')
    dest = site.dest_dir('h1', 'Manueel')
    first = site.run()
    assert first.rc == 0, first
    assert site.status()['Manueel/oefen']['state'] == 'waiting_for_certificate'
    with open(os.path.join(dest, 'csr.pem')) as handle:
        csr = handle.read().strip()
    assert csr.splitlines()[1] in first.stdout, 'the CSR is not in the output'
    site.lose_state()
    before = site.files()
    second = site.run()
    assert second.rc == 0, second
    assert csr.splitlines()[1] in second.stdout and site.files() == before
    site.lose_state()

    world.sign(os.path.join(dest, 'csr.pem'), os.path.join(site.folder, 'manueel.cer'), der=True)
    site.environments['Manueel'] = {'certificate_file': 'manueel.cer'}
    third = site.run()
    assert third.rc == 0, third
    assert site.status()['Manueel/oefen']['state'] == 'verified'
    openssl('verify', '-CAfile', world.ca_bundle, '-purpose', 'sslclient', os.path.join(dest, 'cert.pem'))
    site.lose_state()
    installed = site.files()
    fourth = site.run()
    assert fourth.rc == 0, fourth
    assert recap(fourth, 'h1') == (0, 0, 0) and site.files() == installed
    site.lose_state()

    world.hand_made(os.path.join(site.folder, 'other'), ORG + 'Manueel')
    site.environments['Manueel'] = {'certificate_file': 'other/cert.pem'}
    refused = site.run()
    assert refused.rc != 0
    assert 'certificate_file %s was issued for another key' % os.path.join(site.folder, 'other', 'cert.pem') in refused.stdout
    assert site.files() == installed
    assert not os.path.exists(os.path.join(site.state_dir, '.lock')), 'a failed run left its lock'


def test_a_missing_ca_bundle_is_refused_by_name_and_leaves_no_lock(shared):
    before = shared.files()
    missing = os.path.join(shared.folder, 'no-such-ca.pem')
    shared.variables['dov_ca_bundle'] = missing
    try:
        run = shared.run()
    finally:
        shared.variables.pop('dov_ca_bundle')
    assert run.rc != 0
    assert 'dov_ca_bundle %s does not exist on the controller' % missing in run.stdout
    assert not os.path.exists(os.path.join(shared.state_dir, '.lock'))
    assert shared.files() == before


def test_a_second_run_is_refused_while_the_first_waits_for_a_slow_issuer(world):
    site = Site(world, 'slow', {'h1': [('Traag', {})]})
    lock = os.path.join(site.state_dir, '.lock')
    outcome = []
    first = threading.Thread(target=lambda: outcome.append(site.run(env={'DOV_TEST_SLEEP': '12'})))
    first.start()
    deadline = time.monotonic() + 60
    while not world.issued().count('Traag/oefen') and time.monotonic() < deadline:
        time.sleep(0.2)
    with open(lock) as handle:
        owner = json.load(handle)
    with open('/proc/%d/cmdline' % owner['pid'], 'rb') as handle:
        assert b'ansible-playbook' in handle.read(), 'the lock names a process that is not the run'
    second = site.run()
    first.join()
    assert second.rc != 0
    assert 'Another run is working on %s (pid %d (ansible-playbook)' % (site.state_dir, owner['pid']) in second.stdout
    assert outcome[0].rc == 0, outcome[0]
    assert site.status()['Traag/oefen']['state'] == 'verified'
    assert world.issued().count('Traag/oefen') == 1
    assert not os.path.exists(lock)


def test_renew_before_days_zero_keeps_a_twenty_day_certificate_verified(world):
    site = Site(world, 'short', {'h1': [('Kort', {})]}, dov_renew_before_days=0)
    run = site.run(env={'DOV_TEST_DAYS': '20'})
    assert run.rc == 0, run
    assert site.status()['Kort/oefen']['state'] == 'verified'
    assert site.status()['Kort/oefen']['days_left'] in (19, 20)
