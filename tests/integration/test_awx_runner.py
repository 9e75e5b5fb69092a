# -*- coding: utf-8 -*-
"""examples/awx-project run the way AWX runs a job: ansible-runner, a fresh private data dir per job.

Each job gets its own private data dir, as AWX's task manager lays it out: ``project/`` a copy of
the example project (its playbooks used unchanged), ``inventory/hosts`` a generated inventory script
(the project's ``inventory/hosts.yml`` as AWX imports it into its database: no group_vars, no
files beside it; the hosts made local for the test), ``env/passwords`` answering the vault prompt
as a Vault credential does (``--ask-vault-pass`` in ``env/cmdline``), ``env/envvars`` (the
collection baked into the execution environment). The state folder is the default
``./dov-state`` inside the job's project copy: thrown away with the job.

The jobs, in order (one module fixture): the CN is known -> key and CSR on the host, the CSR in the
job's stdout and event stream, the next step names ``certificate_file``; the download committed in
``certificates/`` -> installed, the mTLS check against a DOV-like nginx that asks for client
certificates; a job from nothing again -> changed=0, files byte-identical, nothing issued;
``report.yml`` as a scheduled job (``dov_fail_within_days``) -> the expiry read from the host.
No password and no key material in stdout, the job events or any artifact.

Then two throw-away jobs at once (two private data dirs, so two state folders and no shared
controller lock) onboard the same new pair on the same host with a ``command`` issuer: the key
holder's lock (``hostlock.py``) lets one of them issue; the other stops with a clear message; one
certificate; key and certificate match.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

import pki_factory
import tls_peers
from conftest import BIN, COLLECTIONS, ROOT
from support import snapshot, write
from test_hosts_truth import CLIENT_EXT, ISSUER_SCRIPT, openssl

EXAMPLE = os.path.join(ROOT, 'examples', 'awx-project')
VAULT_PASSWORD = 'dov-example-vault'          # the example's documented vault password (README.md)
CN = 'geolab.be/dov-services/oefen/Geodrill'
RACE_CN = 'geolab.be/dov-services/oefen/Sondering'
HOST = 'app-oefen-1.geolab.be'


def vault_secrets(folder):
    """The plain passwords of the example's vault (read with ansible-vault, as the test's own check)."""
    password_file = write(os.path.join(str(folder), 'vault-pass'), VAULT_PASSWORD + '\n', 0o600)
    proc = subprocess.run([os.path.join(BIN, 'ansible-vault'), 'view', '--vault-password-file', password_file,
                           os.path.join(EXAMPLE, 'group_vars', 'all', 'vault.yml')],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True)
    return yaml.safe_load(proc.stdout)


class Lab(object):
    """A test CA that plays VO-DCBaaS (signs a CSR, as the user downloads it; or as a ``command``
    issuer that logs its calls) and a DOV-like nginx that asks for client certificates of it."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.issuer = os.path.join(self.folder, 'issuer')
        ca = pki_factory.make_root('AWX Lab Issuing CA')
        self.ca_bundle = write(os.path.join(self.issuer, 'ca.pem'), ca.pem)
        write(os.path.join(self.issuer, 'ca.key'), pki_factory.key_pem(ca.key), 0o600)
        write(os.path.join(self.issuer, 'client.ext'), CLIENT_EXT)
        self.command = write(os.path.join(self.issuer, 'issue.sh'),
                             ISSUER_SCRIPT.format(folder=self.issuer, openssl=tls_peers.OPENSSL), 0o755)
        self.nginx, self.server_ca_bundle = tls_peers.start_dov_nginx(self.folder, 'AWX Lab DOV Server Root CA', ca.pem,
                                                                      'geolab.be/dov-services/oefen/(Geodrill|Sondering)')
        self.endpoint = 'https://127.0.0.1:%d/' % self.nginx.port

    def sign(self, csr_path, out):
        """What VO-DCBaaS hands the user for a CSR: a .cer (DER) of the CA."""
        openssl('x509', '-req', '-sha256', '-days', '400', '-in', csr_path, '-CA', self.ca_bundle,
                '-CAkey', os.path.join(self.issuer, 'ca.key'), '-CAserial', os.path.join(self.issuer, 'ca.srl'),
                '-CAcreateserial', '-extfile', os.path.join(self.issuer, 'client.ext'), '-extensions', 'dov_client',
                '-outform', 'DER', '-out', out)
        return out

    def issued(self):
        path = os.path.join(self.issuer, 'issued.log')
        return open(path).read().split() if os.path.exists(path) else []


class Job(object):
    """One finished ansible-runner job: rc, stdout, its events and every artifact file's bytes."""

    def __init__(self, folder, ident, rc, seconds):
        self.folder, self.ident, self.rc, self.seconds = folder, ident, rc, seconds
        self.artifacts = os.path.join(folder, 'artifacts', ident)
        with open(os.path.join(self.artifacts, 'stdout'), encoding='utf-8', errors='replace') as handle:
            self.stdout = re.sub(r'\x1b\[[0-9;]*m', '', handle.read())     # the text a user reads in AWX
        self.events = []
        for path in sorted(glob.glob(os.path.join(self.artifacts, 'job_events', '*.json'))):
            with open(path) as handle:
                self.events.append(json.load(handle))

    def __repr__(self):
        return 'Job(%s rc=%s)\n%s' % (self.ident, self.rc, self.stdout[-5000:])

    def artifact_bytes(self):
        for path in glob.glob(os.path.join(self.artifacts, '**'), recursive=True):
            if os.path.isfile(path):
                with open(path, 'rb') as handle:
                    yield path, handle.read()

    def recap(self, host=HOST):
        stats = [event['event_data'] for event in self.events if event.get('event') == 'playbook_on_stats']
        assert stats, self
        return dict((name, stats[-1].get(name, {}).get(host, 0)) for name in ('ok', 'changed', 'failures', 'dark'))


class Project(object):
    """The user's project (a copy of examples/awx-project, where the downloads get committed) and
    the jobs AWX runs from it."""

    def __init__(self, folder, lab):
        self.folder = str(folder)
        self.lab = lab
        self.source = os.path.join(self.folder, 'repository')
        shutil.copytree(EXAMPLE, self.source)
        self.hosts_dir = os.path.join(self.folder, 'hosts')
        self.count = 0
        self.timings = []

    def dest_dir(self, application):
        return os.path.join(self.hosts_dir, HOST, application.lower())

    def inventory(self, extra_pairs=(), issuer=None):
        """The project's inventory/hosts.yml as AWX imports it, with the test's local host and peers."""
        with open(os.path.join(self.source, 'inventory', 'hosts.yml')) as handle:
            data = yaml.safe_load(handle)
        variables = data['all']['vars']
        variables.update({
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'dov_ca_bundle': self.lab.ca_bundle,
            'dov_server_ca_bundle': self.lab.server_ca_bundle,
            'dov_endpoints': {'oefen': self.lab.endpoint},
            'dov_check_timeout': 10,
        })
        hostvars = data['all']['hosts']
        assert list(hostvars) == [HOST], hostvars
        for entry in hostvars[HOST]['dov_certificates']:
            entry['dest_dir'] = self.dest_dir(entry['application'])
        for application, cn in extra_pairs:
            variables['dov_applications'].append({'name': application, 'description': 'Sonderingen opladen',
                                                  'environments': {'oefen': {'cn': cn}}})
            hostvars[HOST]['dov_certificates'].append({'application': application, 'environment': 'oefen',
                                                       'dest_dir': self.dest_dir(application), 'formats': ['pem']})
        if issuer:
            variables.update({'dov_issuer': 'command', 'dov_issuer_command': issuer})
        # AWX's generated inventory: a script that prints the database's groups and hostvars.
        return {'all': {'hosts': list(hostvars), 'vars': variables}, '_meta': {'hostvars': hostvars}}

    def commit(self, name, data):
        path = os.path.join(self.source, 'certificates', name)
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def name_certificate_file(self, application, environment, path):
        """The user's commit: the download named in inventory/hosts.yml (then the inventory source syncs)."""
        hosts_yml = os.path.join(self.source, 'inventory', 'hosts.yml')
        with open(hosts_yml) as handle:
            data = yaml.safe_load(handle)
        for app in data['all']['vars']['dov_applications']:
            if app['name'] == application:
                app['environments'][environment]['certificate_file'] = path
        with open(hosts_yml, 'w') as handle:
            yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False)

    def prepare_job(self, playbook, extravars=None, inventory=None, envvars=None):
        """A fresh private data dir, as AWX lays it out for one job."""
        self.count += 1
        ident = 'job-%d' % self.count
        pdd = os.path.join(self.folder, ident)
        shutil.copytree(self.source, os.path.join(pdd, 'project'))
        script = os.path.join(pdd, 'inventory', 'hosts')
        write(script, '#!%s\nimport json\nprint(json.dumps(%r))\n' % (sys.executable, inventory or self.inventory()), 0o700)
        write(os.path.join(pdd, 'env', 'passwords'), yaml.safe_dump({r'^Vault password:\s*?$': VAULT_PASSWORD}), 0o600)
        write(os.path.join(pdd, 'env', 'cmdline'), '--ask-vault-pass')
        write(os.path.join(pdd, 'env', 'envvars'), yaml.safe_dump(dict({
            'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,         # the execution environment's collection
            'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
            'ANSIBLE_HOST_KEY_CHECKING': 'false',
            'ANSIBLE_HOME': os.path.join(pdd, '.ansible'),
            'ANSIBLE_LOCAL_TEMP': os.path.join(pdd, '.ansible', 'tmp'),
            'ANSIBLE_FORCE_COLOR': '0',
        }, **(envvars or {}))))
        if extravars:
            write(os.path.join(pdd, 'env', 'extravars'), yaml.safe_dump(extravars))
        return pdd, ident

    def start(self, pdd, ident, playbook):
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith('ANSIBLE_'))
        env['PATH'] = BIN + os.pathsep + env.get('PATH', '')
        return subprocess.Popen([os.path.join(BIN, 'ansible-runner'), 'run', pdd, '-p', playbook, '--ident', ident],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def finish(self, process, pdd, ident, started, timeout=600):
        try:
            _out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
        job = Job(pdd, ident, process.returncode, time.monotonic() - started)
        assert os.path.exists(os.path.join(job.artifacts, 'stdout')), err
        self.timings.append((ident, round(job.seconds, 1)))
        return job

    def run(self, playbook, **kwargs):
        pdd, ident = self.prepare_job(playbook, **kwargs)
        started = time.monotonic()
        # No private data dir (and so no state folder) is used twice, as AWX throws them away; they
        # stay in the test's temporary folder only for the assertions.
        return self.finish(self.start(pdd, ident, playbook), pdd, ident, started)

    def files(self):
        return snapshot(self.hosts_dir)


def events_text(job):
    return '\n'.join(json.dumps(event) for event in job.events)


@pytest.fixture(scope='module')
def awx(tmp_path_factory):
    """The jobs of the manual flow, in order; then two overlapping throw-away jobs."""
    if not os.path.isdir(os.path.join(COLLECTIONS, 'ansible_collections', 'vlaanderen', 'dov')):
        pytest.fail('The collection is not installed in %s: run `make install` first.' % COLLECTIONS)
    started = time.monotonic()
    lab = Lab(tmp_path_factory.mktemp('awx-lab'))
    project = Project(tmp_path_factory.mktemp('awx'), lab)
    try:
        jobs = {}
        jobs['first'] = project.run('onboard.yml')
        dest = project.dest_dir('Geodrill')
        jobs['first_files'] = sorted(os.listdir(dest)) if os.path.isdir(dest) else []
        jobs['first_key_mode'] = os.stat(os.path.join(dest, 'key.pem')).st_mode & 0o777 if jobs['first_files'] else None
        jobs['csr'] = open(os.path.join(dest, 'csr.pem')).read() if os.path.exists(os.path.join(dest, 'csr.pem')) else ''
        # The user uploads the CSR in VO-DCBaaS, downloads the .cer and commits it, named in the inventory.
        if jobs['csr']:
            with open(lab.sign(os.path.join(dest, 'csr.pem'), os.path.join(project.folder, 'download.cer')), 'rb') as handle:
                project.commit('geodrill-oefen.cer', handle.read())
            project.name_certificate_file('Geodrill', 'oefen', '{{ playbook_dir }}/certificates/geodrill-oefen.cer')
        jobs['install'] = project.run('onboard.yml')
        jobs['installed_files'] = project.files()
        jobs['again'] = project.run('onboard.yml')
        jobs['again_files'] = project.files()
        jobs['report'] = project.run('report.yml', extravars={'dov_fail_within_days': 30})
        jobs['race'] = overlapping_jobs(project, lab)
        jobs['timings'] = project.timings
        jobs['seconds'] = round(time.monotonic() - started, 1)
        print('\nAWX jobs (s): %s; module fixture %.1f s' % (project.timings, jobs['seconds']))
        yield project, lab, jobs
    finally:
        lab.nginx.stop()


def overlapping_jobs(project, lab):
    """Two throw-away jobs at once, a new pair on the same host, the command issuer (slow, so that
    they overlap): the second one finds the key holder's lock."""
    inventory = project.inventory(extra_pairs=[('Sondering', RACE_CN)], issuer=lab.command)
    envvars = {'DOV_TEST_SLEEP': '6'}
    prepared = [project.prepare_job('onboard.yml', inventory=inventory, envvars=envvars) for _job in range(2)]
    started = time.monotonic()
    first = project.start(prepared[0][0], prepared[0][1], 'onboard.yml')
    # The second job starts once the first one's issuer runs (it holds the key holder's lock then).
    deadline = time.monotonic() + 120
    while 'Sondering/oefen' not in lab.issued() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.1)
    second_started = time.monotonic()
    second = project.start(prepared[1][0], prepared[1][1], 'onboard.yml')
    jobs = [project.finish(first, prepared[0][0], prepared[0][1], started),
            project.finish(second, prepared[1][0], prepared[1][1], second_started)]
    return jobs


def all_output(job):
    return [('stdout', job.stdout.encode('utf-8'))] + list(job.artifact_bytes())


# ---------------------------------------------------------------- the manual flow, job by job

def test_the_example_playbooks_run_unchanged_from_a_copy_of_the_project(awx):
    project, _lab, _jobs = awx
    for name in ('onboard.yml', 'verify.yml', 'renew.yml', 'report.yml', 'group_vars/all/vars.yml',
                 'group_vars/all/vault.yml'):
        with open(os.path.join(EXAMPLE, name), 'rb') as original, \
                open(os.path.join(project.folder, 'job-1', 'project', name), 'rb') as used:
            assert original.read() == used.read(), name


def test_a_job_with_a_known_cn_makes_key_and_csr_and_hands_over_the_csr_and_the_next_step(awx):
    _project, _lab, jobs = awx
    first = jobs['first']
    assert first.rc == 0, first
    assert jobs['first_files'] == ['csr.pem', 'key.pem'], jobs['first_files']
    assert jobs['first_key_mode'] == 0o600
    csr_body = jobs['csr'].strip().splitlines()[1]
    events = events_text(first)
    assert csr_body in first.stdout, 'the CSR is not in the job output'
    assert csr_body in events, 'the CSR is not in the job events'
    assert re.search(r'Geodrill\s+oefen\s+\S+\s+[\w.,\- ]+?\s+waiting_for_certificate', first.stdout), first
    assert 'waiting_for_certificate' in events
    # the next step names both ways: the inbox (a state folder that persists) and, for a job whose
    # state folder is thrown away, certificate_file in the project
    for text in (first.stdout, events):
        assert 'or commit it in the project and name it as certificate_file of Geodrill/oefen in the inventory' in text
        assert re.search(r'drop the result in \S+/dov-state/Geodrill/oefen/inbox/ \(kept when this state folder', text)
    # The state folder lived inside the job (its project copy), thrown away with it.
    assert os.path.isfile(os.path.join(first.folder, 'project', 'dov-state', 'status.json'))


def test_the_committed_download_is_installed_and_verified_against_a_server_that_asks_for_it(awx):
    project, lab, jobs = awx
    job = jobs['install']
    assert job.rc == 0, job
    assert re.search(r'Geodrill\s+oefen\s+\S+\s+[\w.,\- ]+?\s+verified', job.stdout), job
    dest = project.dest_dir('Geodrill')
    assert {'cert.pem', 'key.pem', 'chain.pem'} <= set(os.listdir(dest)), os.listdir(dest)
    assert [name for name in os.listdir(dest) if name.endswith(('.p12', '.pfx'))], os.listdir(dest)
    openssl('verify', '-CAfile', lab.ca_bundle, '-purpose', 'sslclient', os.path.join(dest, 'cert.pem'))
    # curl, as a second opinion: the DOV-like nginx accepts the installed key and certificate.
    curl = subprocess.run(['curl', '-sS', '--cacert', lab.server_ca_bundle, '--cert', os.path.join(dest, 'cert.pem'),
                           '--key', os.path.join(dest, 'key.pem'), lab.endpoint + 'dov-xdov-server/logs/chucknorris'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60,
                          check=False)
    assert 'Chuck Norris' in curl.stdout, curl.stdout


def test_a_job_from_nothing_again_changes_nothing_and_issues_nothing(awx):
    project, _lab, jobs = awx
    job = jobs['again']
    assert job.rc == 0, job
    assert job.recap()['changed'] == 0, job
    assert jobs['again_files'] == jobs['installed_files']
    assert re.search(r'Geodrill\s+oefen\s+\S+\s+[\w.,\- ]+?\s+verified', job.stdout), job
    # nothing handed over: no CSR printed, no handover folder made in the job's state folder
    assert 'BEGIN CERTIFICATE REQUEST' not in job.stdout
    assert not os.path.exists(os.path.join(job.folder, 'project', 'dov-state', 'Geodrill', 'oefen', 'inbox'))


def test_the_scheduled_report_job_reads_the_expiry_from_the_host(awx):
    project, _lab, jobs = awx
    job = jobs['report']
    assert job.rc == 0, job
    not_after = openssl('x509', '-noout', '-enddate', '-dateopt', 'iso_8601', '-in',
                        os.path.join(project.dest_dir('Geodrill'), 'cert.pem')).decode().split('=', 1)[1][:10]
    assert re.search(r'Geodrill\s+oefen\s+\S+/Geodrill\s+%s\s+\w+\s+%s' % (re.escape(HOST), not_after),
                     job.stdout), job


def test_no_password_or_key_material_in_any_job_output_or_artifact(awx):
    project, _lab, jobs = awx
    secrets = list(vault_secrets(project.folder).values()) + [VAULT_PASSWORD]
    key_lines = []
    for path in glob.glob(os.path.join(project.hosts_dir, '*', '*', 'key.pem')):
        key_lines += [line for line in open(path).read().splitlines() if line and not line.startswith('-----')]
    assert key_lines and len(secrets) == 3
    for job in [jobs['first'], jobs['install'], jobs['again'], jobs['report']] + jobs['race']:
        assert job.events, job
        for path, data in all_output(job):
            for secret in secrets:
                assert secret.encode() not in data, (secret, path)
            assert b'PRIVATE KEY' not in data, path
            for line in key_lines[:3] + key_lines[-3:]:
                assert line.encode() not in data, path


# ---------------------------------------------------------------- two throw-away jobs at once

def test_two_overlapping_jobs_issue_one_certificate_and_the_second_finds_the_key_holders_lock(awx):
    project, lab, jobs = awx
    first, second = jobs['race']
    assert lab.issued().count('Sondering/oefen') == 1, lab.issued()
    assert first.rc == 0, first
    assert re.search(r'Sondering\s+oefen\s+\S+\s+[\w.,\- ]+?\s+verified', first.stdout), first
    assert second.rc != 0, second
    assert 'Another run is changing Sondering/oefen on this host' in second.stdout, second
    dest = project.dest_dir('Sondering')
    key_pub = openssl('pkey', '-in', os.path.join(dest, 'key.pem'), '-pubout')
    cert_pub = openssl('x509', '-in', os.path.join(dest, 'cert.pem'), '-noout', '-pubkey')
    assert key_pub == cert_pub
    print('\nOverlapping jobs: first %.1f s, second %.1f s (stopped on the lock)' % (first.seconds, second.seconds))
