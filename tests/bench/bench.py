# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (issue 13): onboard.yml against the same work done by hand, on N local hosts with one pair each.

``make bench`` runs N = 5, 20 and 80; ``make bench PAIRS=10`` one size (or ``.venv/bin/python tests/bench/bench.py
--pairs 10``). Per size, in one run, alternating A/B/A/B for every round (default 3), medians reported:

* A: ``vlaanderen.dov.onboard`` with the lab issuer, one oefen pair per host (formats pem + pkcs12), the mTLS
  check against the lab DOV stand-in (started and stopped by the run itself, inside its time);
* B: per host, six tasks by hand: ansible.builtin.file (the folder), community.crypto.openssl_privatekey,
  openssl_csr, x509_certificate (provider ownca, a CA made once beforehand), openssl_pkcs12, and
  ansible.builtin.uri with client_cert / client_key against the same stand-in program (the lab stand-in's
  server certificate, verified with the lab CA; started once, before the rounds, outside B's time).

Each side is timed on a first run from clean hosts and on a re-run with nothing new. Also timed, per size:
``vlaanderen.dov.report`` on the same hosts; and once: key + CSR in-process (what the csr / host_certificates
modules do, with cryptography) against ``openssl genpkey`` + ``openssl req`` processes (the floor).

Writes bench/results.md (tables, machine, date, load) and prints as its last line
``onboard_ratio=<A/B first run> rerun_ratio=<A/B re-run>`` for the largest N. Exit code 0 when both are at or
under their targets (0.4 and 0.2), 1 when not, 2 when a run fails. Speed is not asserted in the tests: it lives here.

community.crypto is not on Galaxy here: it comes from the ``ansible`` wheel on PyPI (``pip download``, cached in
~/.cache/vlaanderen-dov-bench or $DOV_BENCH_CACHE), of which only ansible_collections/community/crypto is extracted.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import glob
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STANDIN = os.path.join(REPO, 'roles', 'dov_cert', 'files', 'dov_standin.py')     # the lab stand-in
SIZES = (5, 20, 80)
TARGETS = {'first': 0.4, 'rerun': 0.2}
ANSIBLE_SPEC = 'ansible>=12,<13'          # ships a community.crypto that works with ansible-core 2.19
CACHE = os.environ.get('DOV_BENCH_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'vlaanderen-dov-bench')
PASSWORD = 'bench-only-password'
HEALTH_PATH = 'dov-xdov-server/logs/chucknorris'
# Actions that run in the controller process: no module is shipped to a host.
CONTROLLER_ACTIONS = frozenset(
    [name for short in ('debug', 'fail', 'assert', 'set_fact', 'meta', 'include_vars', 'import_tasks', 'include_tasks',
                        'include_role', 'import_role', 'validate_argument_spec')
     for name in (short, 'ansible.builtin.' + short)] + ['vlaanderen.dov.onboarding'])

PEER_PLAYBOOK = [{
    'name': 'Peer - the same work by hand: community.crypto, a folder, and the mTLS call with ansible.builtin.uri',
    'hosts': 'all',
    'gather_facts': False,
    'tasks': [
        {'name': 'Folder', 'loop': '{{ peer_pairs }}',
         'ansible.builtin.file': {'path': '{{ item.dest_dir }}', 'state': 'directory', 'mode': '0755'}},
        {'name': 'Private key', 'loop': '{{ peer_pairs }}',
         'community.crypto.openssl_privatekey': {'path': '{{ item.dest_dir }}/key.pem', 'type': 'RSA', 'size': 2048,
                                                 'mode': '0600'}},
        {'name': 'CSR', 'loop': '{{ peer_pairs }}',
         'community.crypto.openssl_csr': {'path': '{{ item.dest_dir }}/csr.pem', 'privatekey_path': '{{ item.dest_dir }}/key.pem',
                                          'common_name': '{{ item.cn }}', 'mode': '0644'}},
        {'name': 'Certificate (ownca)', 'loop': '{{ peer_pairs }}',
         'community.crypto.x509_certificate': {'path': '{{ item.dest_dir }}/cert.pem', 'csr_path': '{{ item.dest_dir }}/csr.pem',
                                               'provider': 'ownca', 'ownca_path': '{{ peer_ca_cert }}',
                                               'ownca_privatekey_path': '{{ peer_ca_key }}', 'ownca_not_after': '+365d',
                                               'mode': '0644'}},
        {'name': 'PKCS#12', 'loop': '{{ peer_pairs }}',
         'community.crypto.openssl_pkcs12': {'action': 'export', 'path': '{{ item.dest_dir }}/cert.p12',
                                             'privatekey_path': '{{ item.dest_dir }}/key.pem',
                                             'certificate_path': '{{ item.dest_dir }}/cert.pem',
                                             'other_certificates': ['{{ peer_ca_cert }}'], 'friendly_name': 'dov-client',
                                             'passphrase': PASSWORD, 'mode': '0600'}},
        {'name': 'mTLS call to the DOV stand-in', 'loop': '{{ peer_pairs }}',
         'ansible.builtin.uri': {'url': '{{ peer_url }}', 'client_cert': '{{ item.dest_dir }}/cert.pem',
                                 'client_key': '{{ item.dest_dir }}/key.pem', 'ca_path': '{{ peer_server_ca }}',
                                 'status_code': 200, 'timeout': 15}},
    ],
}]

# Ansible's own cost of A's module executions, measured beside A and B: the module that does nothing,
# as often per host as A's first run executes modules (what no design of the collection can go under).
FLOOR_PLAYBOOK = [{
    'name': "Ansible alone: two module executions per host that do nothing (A's first run executes two)",
    'hosts': 'all',
    'gather_facts': False,
    'tasks': [{'name': 'Ping one', 'ansible.builtin.ping': {}}, {'name': 'Ping two', 'ansible.builtin.ping': {}}],
}]

OURS_PLAYBOOK = [{'name': 'Onboard DOV client certificates', 'ansible.builtin.import_playbook': 'vlaanderen.dov.onboard'}]
REPORT_PLAYBOOK = [{'name': 'Report on DOV client certificates', 'ansible.builtin.import_playbook': 'vlaanderen.dov.report'}]


class BenchError(Exception):
    pass


def log(message):
    print(message, file=sys.stderr)
    sys.stderr.flush()


def write_yaml(path, data):
    with open(path, 'w') as handle:
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False, width=200)


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


def names(index):
    application = 'Bench%03d' % index
    return 'bench-%03d' % index, application, 'geolab.be/dov-services/oefen/%s' % application


# ------------------------------------------------------------------ community.crypto from PyPI, the peer's CA

def community_crypto(collections_root):
    """Put ansible_collections/community/crypto under ``collections_root``, from the cached ``ansible`` wheel."""
    os.makedirs(CACHE, exist_ok=True)
    wheels = sorted(glob.glob(os.path.join(CACHE, 'ansible-12.*-py3-none-any.whl')))
    if not wheels:
        log('Downloading the ansible wheel (%s) from PyPI into %s, once, for community.crypto ...' % (ANSIBLE_SPEC, CACHE))
        proc = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary', ':all:',
                               '--dest', CACHE, ANSIBLE_SPEC], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        wheels = sorted(glob.glob(os.path.join(CACHE, 'ansible-12.*-py3-none-any.whl')))
        if proc.returncode != 0 or not wheels:
            raise BenchError('pip download %s failed:\n%s' % (ANSIBLE_SPEC, proc.stdout.decode('utf-8', 'replace')[-2000:]))
    wheel = wheels[-1]
    prefix = 'ansible_collections/community/crypto/'
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith(prefix)]
        if not members:
            raise BenchError('%s holds no %s' % (wheel, prefix))
        archive.extractall(collections_root, members)
    with open(os.path.join(collections_root, prefix, 'MANIFEST.json')) as handle:
        version = json.load(handle)['collection_info']['version']
    return os.path.basename(wheel), version


def make_ca(folder):
    """The peer's CA, made once beforehand (not timed)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'vlaanderen.dov bench peer CA')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    os.makedirs(folder, exist_ok=True)
    cert_path, key_path = os.path.join(folder, 'ca.pem'), os.path.join(folder, 'ca-key.pem')
    with open(key_path, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    with open(cert_path, 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


class PeerStandin(object):
    """The lab stand-in program for side B: the lab stand-in's server certificate, the peer CA for client certificates."""

    def __init__(self, folder, server_cert, server_key, client_ca, common_names):
        self.folder = folder
        self.port = free_port()
        self.pidfile = os.path.join(folder, 'standin.pid')
        os.makedirs(folder, exist_ok=True)
        command = [sys.executable, STANDIN, 'start', '--listen', '127.0.0.1:%d' % self.port,
                   '--cert', server_cert, '--key', server_key, '--client-ca', client_ca, '--pidfile', self.pidfile,
                   '--logfile', os.path.join(folder, 'standin.log')]
        for name in common_names:
            command += ['--allow', name]
        proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=60)
        if proc.returncode != 0:
            raise BenchError('the stand-in for side B did not start:\n%s' % proc.stdout.decode('utf-8', 'replace'))
        self.url = 'https://127.0.0.1:%d/%s' % (self.port, HEALTH_PATH)

    def stop(self):
        subprocess.run([sys.executable, STANDIN, 'stop', '--pidfile', self.pidfile],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=60)


# ------------------------------------------------------------------ the two sides

class Flow(object):
    """One side of the benchmark: a folder with ansible.cfg, inventory and playbook, and how to clean it."""

    def __init__(self, name, root, collections_path, forks):
        self.name = name
        self.root = root
        self.hosts_dir = os.path.join(root, 'hosts')
        self.collections_path = collections_path
        self.inventory = os.path.join(root, 'inventory.yml')
        self.config = os.path.join(root, 'ansible.cfg')
        self.forks = forks
        self.runs = 0
        os.makedirs(self.hosts_dir, exist_ok=True)
        self.write_config()

    def write_config(self):
        with open(self.config, 'w') as handle:
            handle.write('\n'.join([
                '[defaults]',
                'collections_path = %s' % self.collections_path,
                'inventory = %s' % self.inventory,
                'forks = %d' % self.forks,
                'gathering = explicit',
                'retry_files_enabled = false',
                'interpreter_python = auto_silent',
                'host_key_checking = false',
                'stdout_callback = default',
                'callback_plugins = %s' % os.path.join(HERE, 'callback_plugins'),
                'callbacks_enabled = bench_timing',
                '',
                '# Both sides pipelined, so that each module execution is one process on the host',
                '# (the local connection reads [connection], ssh reads [ssh_connection]).',
                '[connection]',
                'pipelining = true',
                '',
                '[ssh_connection]',
                'pipelining = true',
                '',
            ]))

    def clean(self):
        shutil.rmtree(self.hosts_dir, ignore_errors=True)
        os.makedirs(self.hosts_dir)

    def run(self, label, playbook):
        """Run ``playbook`` once; returns wall seconds, CPU seconds, the return code and the callback's events."""
        self.runs += 1
        stem = os.path.join(self.root, 'run-%02d-%s' % (self.runs, label))
        events_path = stem + '.events.jsonl'
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith('ANSIBLE_'))
        env.update(ANSIBLE_CONFIG=self.config, DOV_BENCH_EVENTS=events_path, ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.root, '.ansible-tmp'), ANSIBLE_HOME=os.path.join(self.root, '.ansible'))
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), playbook]
        with open(stem + '.log', 'wb') as output:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.monotonic()
            proc = subprocess.run(command, cwd=self.root, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
            seconds = time.monotonic() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU of ansible-playbook and everything it waited for (workers, modules).
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        events = []
        if os.path.exists(events_path):
            with open(events_path) as handle:
                events = [json.loads(line) for line in handle if line.strip()]
        return {'seconds': seconds, 'cpu_seconds': round(cpu, 3), 'rc': proc.returncode, 'log': stem + '.log', 'events': events}


class Ours(Flow):
    """Side A: onboard.yml with the lab issuer and the lab stand-in."""

    def __init__(self, root, collections_path, forks, pairs, port):
        super(Ours, self).__init__('A', root, collections_path, forks)
        self.state_dir = os.path.join(root, 'state')
        self.pairs = pairs
        self.playbook = os.path.join(root, 'onboard.yml')
        self.report_playbook = os.path.join(root, 'report.yml')
        applications, inventory_hosts = [], {}
        for index in range(1, pairs + 1):
            host, application, common_name = names(index)
            applications.append({'name': application, 'description': 'Benchmark application %s' % application,
                                 'environments': {'oefen': {'cn': common_name}}})
            inventory_hosts[host] = {'dov_certificates': [{
                'application': application, 'environment': 'oefen', 'formats': ['pem', 'pkcs12'],
                'dest_dir': os.path.join(self.hosts_dir, host, application.lower())}]}
        write_yaml(self.inventory, {'all': {
            'vars': {
                'ansible_connection': 'local',
                'ansible_python_interpreter': sys.executable,
                'dov_state_dir': self.state_dir,
                'dov_issuer': 'lab',
                'dov_lab_standin': True,
                'dov_lab_standin_port': port,
                'dov_verify': True,
                'dov_pkcs12_password': PASSWORD,
                'dov_organisation': {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701',
                                     'contact_email': 'it@geolab.example', 'contact_name': 'Bench Operator'},
                'dov_applications': applications,
            },
            'hosts': inventory_hosts,
        }})
        write_yaml(self.playbook, OURS_PLAYBOOK)
        write_yaml(self.report_playbook, REPORT_PLAYBOOK)

    def seed(self, lab_state):
        """The lab CA and the stand-in's server certificate, made once (like the peer's CA)."""
        for name in ('lab-ca', 'lab-standin'):
            target = os.path.join(self.state_dir, name)
            if not os.path.isdir(target):
                shutil.copytree(os.path.join(lab_state, name), target, ignore=shutil.ignore_patterns('standin.*'))

    def clean(self):
        """Clean hosts and a state folder without status or records; the lab CA and stand-in certificate stay."""
        super(Ours, self).clean()
        if os.path.isdir(self.state_dir):
            for name in os.listdir(self.state_dir):
                if name in ('lab-ca', 'lab-standin'):
                    continue
                path = os.path.join(self.state_dir, name)
                if os.path.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)

    def stop_standin(self):
        pidfile = os.path.join(self.state_dir, 'lab-standin', 'standin.pid')
        if os.path.exists(pidfile):
            subprocess.run([sys.executable, STANDIN, 'stop', '--pidfile', pidfile],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=60)

    def check(self):
        """Every pair verified, with the verdict ok, in status.json."""
        with open(os.path.join(self.state_dir, 'status.json')) as handle:
            pairs = json.load(handle).get('pairs', {})
        bad = dict((key, (value.get('state'), value.get('verdict'))) for key, value in pairs.items()
                   if value.get('state') != 'verified' or value.get('verdict') != 'ok')
        if len(pairs) != self.pairs or bad:
            raise BenchError('A: %d of %d pairs in status.json, not verified: %s' % (len(pairs), self.pairs, bad))


class Peer(Flow):
    """Side B: the same work by hand."""

    def __init__(self, root, collections_path, forks, pairs, ca_cert, ca_key, standin, server_ca):
        super(Peer, self).__init__('B', root, collections_path, forks)
        self.playbook = os.path.join(root, 'peer.yml')
        self.files = []
        inventory_hosts = {}
        for index in range(1, pairs + 1):
            host, application, common_name = names(index)
            dest_dir = os.path.join(self.hosts_dir, host, application.lower())
            inventory_hosts[host] = {'peer_pairs': [{'dest_dir': dest_dir, 'cn': common_name}]}
            self.files.append(os.path.join(dest_dir, 'cert.p12'))
        write_yaml(self.inventory, {'all': {
            'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                     'peer_ca_cert': ca_cert, 'peer_ca_key': ca_key, 'peer_url': standin.url, 'peer_server_ca': server_ca},
            'hosts': inventory_hosts,
        }})
        write_yaml(self.playbook, PEER_PLAYBOOK)

    def check(self):
        missing = [path for path in self.files if not os.path.exists(path)]
        if missing:
            raise BenchError('B: %d PKCS#12 file(s) missing, e.g. %s' % (len(missing), missing[0]))


class Floor(Flow):
    """Side P: Ansible alone, ``FLOOR_PLAYBOOK`` on the same local hosts, forks and interpreter."""

    def __init__(self, root, collections_path, forks, pairs):
        super(Floor, self).__init__('P', root, collections_path, forks)
        self.playbook = os.path.join(root, 'ping.yml')
        write_yaml(self.inventory, {'all': {
            'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
            'hosts': dict((names(index)[0], {}) for index in range(1, pairs + 1)),
        }})
        write_yaml(self.playbook, FLOOR_PLAYBOOK)

    def check(self):
        pass


# ------------------------------------------------------------------ reading the events

def analyse(events):
    """Module executions (in total and per task), controller actions, and what each task cost."""
    tasks, by_uuid, starts, stats = [], {}, {}, {}
    first = last = None
    for event in events:
        kind = event['event']
        if kind == 'playbook_start':
            first = event['t']
        elif kind == 'task_start':
            if tasks and tasks[-1]['end'] is None:
                tasks[-1]['end'] = event['t']
            info = by_uuid.get(event['uuid'])
            if info is None:
                info = {'task': event['task'], 'action': event['action'], 'start': event['t'], 'end': None,
                        'executions': 0, 'skipped': 0, 'changed': 0, 'host_seconds': 0.0, 'hosts': 0}
                by_uuid[event['uuid']] = info
            tasks.append(info)
        elif kind == 'host_start':
            starts[(event['host'], event['uuid'])] = event['t']
        elif kind in ('ok', 'failed', 'skipped', 'unreachable'):
            info = by_uuid.get(event['uuid'])
            if info is None:
                continue
            if kind == 'skipped':
                info['skipped'] += 1
                continue
            info['hosts'] += 1
            info['executions'] += (event.get('items') or 1) if event.get('loop') else 1
            info['changed'] += int(event.get('changed'))
            began = starts.get((event['host'], event['uuid']))
            if began is not None:
                info['host_seconds'] += event['t'] - began
        elif kind == 'stats':
            last = event['t']
            stats = event['changed']
            if tasks and tasks[-1]['end'] is None:
                tasks[-1]['end'] = event['t']
    module_executions = controller_actions = 0
    rows = []
    for info in tasks:
        controller = info['action'] in CONTROLLER_ACTIONS
        if controller:
            controller_actions += info['executions']
        else:
            module_executions += info['executions']
        rows.append({'task': info['task'], 'action': info['action'], 'controller': controller,
                     'wall': round((info['end'] or info['start']) - info['start'], 3), 'executions': info['executions'],
                     'hosts': info['hosts'], 'skipped': info['skipped'], 'changed': info['changed'],
                     'mean_host_seconds': round(info['host_seconds'] / info['hosts'], 3) if info['hosts'] else None})
    changed = sum(summary.get('changed', 0) for summary in stats.values())
    failed = sum(summary.get('failures', 0) + summary.get('unreachable', 0) for summary in stats.values())
    return {'module_executions': module_executions, 'controller_actions': controller_actions,
            'play_seconds': round(last - first, 3) if first and last else None,
            'changed': changed, 'failed': failed, 'hosts': len(stats), 'tasks': rows}


class Load(object):
    """The machine's load average, sampled at every run."""

    def __init__(self):
        self.samples = []

    def sample(self):
        self.samples.append(os.getloadavg()[0])

    def summary(self):
        return {'min': round(min(self.samples), 2), 'max': round(max(self.samples), 2),
                'median': round(statistics.median(self.samples), 2)} if self.samples else {}


def measure(flow, label, playbook, load, check=True):
    load.sample()
    result = flow.run(label, playbook)
    analysis = analyse(result['events'])
    if result['rc'] != 0 or analysis['failed']:
        with open(result['log'], 'rb') as handle:
            tail = handle.read().decode('utf-8', 'replace')[-4000:]
        raise BenchError('%s %s run failed (rc %d), log %s:\n%s' % (flow.name, label, result['rc'], result['log'], tail))
    if check:
        flow.check()
    analysis.update(seconds=round(result['seconds'], 3), cpu_seconds=result['cpu_seconds'], log=result['log'])
    log('  %s %-6s %7.2f s wall %7.2f s CPU  (%d module executions, %d changed)'
        % (flow.name, label, result['seconds'], result['cpu_seconds'], analysis['module_executions'], analysis['changed']))
    return analysis


def median_run(runs):
    """The run whose time is the median (the lower middle for an even count), with all the times."""
    ordered = sorted(runs, key=lambda run: run['seconds'])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen['all_seconds'] = [run['seconds'] for run in runs]
    chosen['median_seconds'] = round(statistics.median(run['seconds'] for run in runs), 3)
    chosen['median_cpu_seconds'] = round(statistics.median(run['cpu_seconds'] for run in runs), 3)
    return chosen


# ------------------------------------------------------------------ key + CSR: in-process against openssl processes

def key_and_csr_floor(folder, count):
    """Median milliseconds for one RSA 2048 key + CSR: in-process with the collection's pki (what the modules
    do on a host) and as two openssl processes (genpkey, req)."""
    sys.path.insert(0, os.path.join(folder, 'collections'))
    try:
        from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
    finally:
        sys.path.pop(0)
    work = os.path.join(folder, 'floor')
    os.makedirs(work, exist_ok=True)
    inprocess, processes = [], []
    for index in range(count):
        common_name = 'geolab.be/dov-services/oefen/Floor%03d' % index
        start = time.monotonic()
        key = pki.generate_private_key('rsa', 2048)
        key_pem = pki.dump_private_key(key)
        csr_pem = pki.dump_csr(pki.build_csr(key, common_name))
        inprocess.append(time.monotonic() - start)
        assert b'PRIVATE KEY' in key_pem and b'CERTIFICATE REQUEST' in csr_pem
        key_path, csr_path = os.path.join(work, 'key-%d.pem' % index), os.path.join(work, 'csr-%d.pem' % index)
        start = time.monotonic()
        subprocess.run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', key_path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(['openssl', 'req', '-new', '-key', key_path, '-subj', '/CN=%s' % common_name.replace('/', '\\/'),
                        '-out', csr_path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(time.monotonic() - start)
    shutil.rmtree(work, ignore_errors=True)
    return {'count': count, 'inprocess_ms': round(statistics.median(inprocess) * 1000, 1),
            'openssl_ms': round(statistics.median(processes) * 1000, 1)}


# ------------------------------------------------------------------ the report

def machine():
    model = ''
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ''
    try:
        with open('/proc/meminfo') as handle:
            memory = '%.1f GiB' % (int(handle.readline().split()[1]) / 1024.0 / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    openssl = subprocess.run(['openssl', 'version'], stdout=subprocess.PIPE, universal_newlines=True, check=False).stdout.strip()
    import ansible.release
    return {'cpu': model, 'nproc': os.cpu_count(), 'memory': memory, 'kernel': platform.release(),
            'python': sys.version.split()[0], 'ansible_core': ansible.release.__version__, 'openssl': openssl}


def markdown(results):
    sizes = results['sizes']
    largest = results['by_size'][str(max(sizes))]
    lines = ['# Benchmark: onboard.yml against the same work by hand', '',
             'Written by `make bench` (tests/bench/bench.py) on %s. Do not edit; run it again.' % results['date'], '',
             '- Machine: %(cpu)s, %(nproc)d CPUs, %(memory)s, Linux %(kernel)s; Python %(python)s, ansible-core %(ansible_core)s, '
             '%(openssl)s' % results['machine'],
             '- community.crypto %s; forks %d; %d rounds per size, alternating A/B/A/B (A first, B first, A re-run, B re-run); '
             'medians.' % (results['community_crypto'], results['forks'], results['rounds']),
             '- Load average (1 min) at the runs: min %(min)s, median %(median)s, max %(max)s.' % results['load']]
    if results['loaded']:
        lines.append('- **The machine was loaded during this run** (load average above %.1f at some run, on %d CPUs: other test '
                     'runs shared it). Times are longer than on an idle machine; A and B alternate, so both sides bear it.'
                     % (results['load_limit'], results['machine']['nproc']))
    if results.get('note'):
        lines.append('- Note: %s' % results['note'])
    lines += ['', 'A: `vlaanderen.dov.onboard`, lab issuer, one pair per local host (pem + pkcs12), mTLS check against the lab '
              'stand-in (started by the run). B: per host ansible.builtin.file, community.crypto openssl_privatekey, openssl_csr, '
              'x509_certificate (ownca), openssl_pkcs12 and ansible.builtin.uri with client_cert/client_key against the same '
              'stand-in program. Re-run: the same again with nothing new. Ansible alone: `ansible.builtin.ping` twice per '
              'host (as many module executions as A\'s first run), same hosts, forks and interpreter, once per round: '
              'the part of A that no design of the collection goes under.', '',
              '| pairs | A first s | B first s | A/B first | A re-run s | B re-run s | A/B re-run | A s/pair first | '
              'A s/pair re-run | B s/pair first | module exec/host A first, re-run | B first, re-run | report.yml s (exec/host) | '
              'Ansible alone s (/B first) |',
              '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: | :---: | :---: | :---: |']
    for size in sizes:
        entry = results['by_size'][str(size)]
        a, b, report = entry['A'], entry['B'], entry['report']
        ping = entry.get('ping')
        lines.append('| %d | %.2f | %.2f | **%.2f** | %.2f | %.2f | **%.2f** | %.3f | %.3f | %.3f | %.1f, %.1f | %.1f, %.1f | %.2f (%.1f) | %s |' % (
            size, a['first']['median_seconds'], b['first']['median_seconds'], entry['ratio']['first'],
            a['rerun']['median_seconds'], b['rerun']['median_seconds'], entry['ratio']['rerun'],
            a['first']['median_seconds'] / size, a['rerun']['median_seconds'] / size, b['first']['median_seconds'] / size,
            a['first']['module_executions'] / float(size), a['rerun']['module_executions'] / float(size),
            b['first']['module_executions'] / float(size), b['rerun']['module_executions'] / float(size),
            report['median_seconds'], report['module_executions'] / float(size),
            '%.2f (%.2f)' % (ping['median_seconds'], entry['ratio']['ping']) if ping else '-'))
    floor = results['floor']
    lines += ['', 'Targets for the largest N (%d): A/B first run <= %.1f (here %.2f), A/B re-run <= %.1f (here %.2f): %s.'
              % (max(sizes), TARGETS['first'], largest['ratio']['first'], TARGETS['rerun'], largest['ratio']['rerun'],
                 'met' if results['pass'] else '**missed**')]
    if len(sizes) > 1:
        small = results['by_size'][str(min(sizes))]
        lines.append('Per-pair cost of A from %d to %d pairs: first run %.3f -> %.3f s, re-run %.3f -> %.3f s.' % (
            min(sizes), max(sizes), small['A']['first']['median_seconds'] / min(sizes),
            largest['A']['first']['median_seconds'] / max(sizes), small['A']['rerun']['median_seconds'] / min(sizes),
            largest['A']['rerun']['median_seconds'] / max(sizes)))
    lines += ['', 'Key + CSR (RSA 2048), median of %d: in-process with the collection\'s pki (what the modules do on a host) '
              '%.1f ms; `openssl genpkey` + `openssl req` as processes (the floor) %.1f ms.'
              % (floor['count'], floor['inprocess_ms'], floor['openssl_ms'])]
    lines += ['', '## Where the time goes (%d pairs, median runs)' % max(sizes), '',
              'Per task: wall seconds, module executions (a loop counts each item; controller-side actions run in-process), '
              'hosts skipped, changed results, mean seconds per host.']
    for side, label, title in (('A', 'first', 'A first run'), ('A', 'rerun', 'A re-run'), ('B', 'first', 'B first run'),
                               ('B', 'rerun', 'B re-run')):
        run = largest[side][label]
        lines += ['', '### %s: %.2f s (ansible-playbook start-up and parsing %.2f s, play %.2f s)' % (
            title, run['seconds'], run['seconds'] - (run['play_seconds'] or 0), run['play_seconds'] or 0), '',
            '| wall s | exec | skip | chg | host s | task (action) |', '| ---: | ---: | ---: | ---: | ---: | --- |']
        for row in run['tasks']:
            lines.append('| %.2f | %d | %d | %d | %s | %s (%s%s) |' % (
                row['wall'], row['executions'], row['skipped'], row['changed'],
                '-' if row['mean_host_seconds'] is None else '%.2f' % row['mean_host_seconds'],
                row['task'].replace('|', '\\|'), row['action'], ', controller' if row['controller'] else ''))
    return '\n'.join(lines) + '\n'


# ------------------------------------------------------------------ main

def bench_size(size, work, collections, peer_collections, forks, rounds, ca, lab_state, server_ca, standin, load):
    log('%d pairs:' % size)
    ours = Ours(os.path.join(work, 'A-%d' % size), collections, forks, size, free_port())
    peer = Peer(os.path.join(work, 'B-%d' % size), peer_collections, forks, size, ca[0], ca[1], standin, server_ca)
    floor = Floor(os.path.join(work, 'P-%d' % size), collections, forks, size)
    ours.seed(lab_state)
    runs = {'A': {'first': [], 'rerun': []}, 'B': {'first': [], 'rerun': []}}
    reports, pings = [], []
    try:
        for round_index in range(rounds):
            log(' round %d of %d' % (round_index + 1, rounds))
            ours.clean()
            peer.clean()
            for label in ('first', 'rerun'):
                runs['A'][label].append(measure(ours, label, ours.playbook, load))
                runs['B'][label].append(measure(peer, label, peer.playbook, load))
            pings.append(measure(floor, 'ping', floor.playbook, load))
        for _index in range(rounds):
            reports.append(measure(ours, 'report', ours.report_playbook, load, check=False))
    finally:
        ours.stop_standin()
    entry = dict((side, dict((label, median_run(runs[side][label])) for label in ('first', 'rerun'))) for side in ('A', 'B'))
    entry['report'] = median_run(reports)
    entry['ping'] = median_run(pings)
    entry['ratio'] = dict((label, round(entry['A'][label]['median_seconds'] / entry['B'][label]['median_seconds'], 3))
                          for label in ('first', 'rerun'))
    entry['ratio']['ping'] = round(entry['ping']['median_seconds'] / entry['B']['first']['median_seconds'], 3)
    log(' A/B first %.2f, re-run %.2f; Ansible alone (ping x2)/B first %.2f'
        % (entry['ratio']['first'], entry['ratio']['rerun'], entry['ratio']['ping']))
    return entry


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--pairs', type=int, action='append', help='pairs (= local hosts); repeatable; default 5, 20 and 80')
    parser.add_argument('--rounds', type=int, default=3, help='timed A/B rounds per size; medians are reported (default 3)')
    parser.add_argument('--forks', type=int, default=5, help='ansible forks on both sides (default 5)')
    parser.add_argument('--results', default=os.path.join(REPO, 'bench', 'results.md'), help='where the Markdown report goes')
    parser.add_argument('--note', default='', help='a sentence for the report (for example why the machine was busy)')
    parser.add_argument('--keep', action='store_true', help='keep the whole temp folder (keys and certificates included)')
    args = parser.parse_args(argv)
    sizes = sorted(set(args.pairs or SIZES))
    if sizes[0] < 1 or args.rounds < 3:
        parser.error('--pairs must be at least 1 and --rounds at least 3')

    source = os.path.join(REPO, '.collections', 'ansible_collections', 'vlaanderen', 'dov')
    if not os.path.isdir(source):
        log('vlaanderen.dov is not installed in %s: run `make install` (or `make bench`).' % source)
        return 2
    work = tempfile.mkdtemp(prefix='vlaanderen-dov-bench-')
    log('Benchmark folder: %s' % work)
    standin = warm = None
    load = Load()
    try:
        # Our collection, copied so that a `make install` elsewhere in the checkout cannot change it mid-run.
        collections = os.path.join(work, 'collections')
        shutil.copytree(source, os.path.join(collections, 'ansible_collections', 'vlaanderen', 'dov'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        peer_collections = os.path.join(work, 'peer-collections')
        wheel, crypto_version = community_crypto(peer_collections)
        log('community.crypto %s (from %s)' % (crypto_version, wheel))
        ca = make_ca(os.path.join(work, 'peer-ca'))
        # Untimed warm-up: makes the lab CA and the stand-in's server certificate, and warms both sides.
        log('Warm-up (untimed):')
        warm = Ours(os.path.join(work, 'warm-A'), collections, args.forks, 2, free_port())
        measure(warm, 'warmup', warm.playbook, load)
        warm.stop_standin()
        lab_state = warm.state_dir
        server_ca = os.path.join(lab_state, 'lab-ca', 'bundle.pem')
        standin = PeerStandin(os.path.join(work, 'B-standin'), os.path.join(lab_state, 'lab-standin', 'server.pem'),
                              os.path.join(lab_state, 'lab-standin', 'server-key.pem'), ca[0],
                              [names(index)[2] for index in range(1, max(sizes) + 1)])
        warm_peer = Peer(os.path.join(work, 'warm-B'), peer_collections, args.forks, 2, ca[0], ca[1], standin, server_ca)
        measure(warm_peer, 'warmup', warm_peer.playbook, load)

        by_size = {}
        for size in sizes:
            by_size[str(size)] = bench_size(size, work, collections, peer_collections, args.forks, args.rounds, ca,
                                            lab_state, server_ca, standin, load)
        floor = key_and_csr_floor(work, 20)
        largest = by_size[str(max(sizes))]
        load_limit = max(1.0, 0.5 * (os.cpu_count() or 1))
        summary = load.summary()
        results = {
            'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'), 'machine': machine(),
            'sizes': sizes, 'forks': args.forks, 'rounds': args.rounds, 'community_crypto': crypto_version, 'load': summary,
            'load_limit': load_limit, 'loaded': summary.get('max', 0) > load_limit, 'note': args.note,
            'by_size': by_size, 'floor': floor,
            'pass': all(largest['ratio'][label] <= TARGETS[label] for label in TARGETS),
        }
        with open(os.path.join(work, 'results.json'), 'w') as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
        report = markdown(results)
        folder = os.path.dirname(os.path.abspath(args.results))
        os.makedirs(folder, exist_ok=True)
        with open(args.results, 'w') as handle:
            handle.write(report)
        print(report)
        print('Results: %s (raw: %s)' % (args.results, os.path.join(work, 'results.json')))
        print('onboard_ratio=%.2f rerun_ratio=%.2f' % (largest['ratio']['first'], largest['ratio']['rerun']))
        return 0 if results['pass'] else 1
    except BenchError as error:
        log('ERROR: %s' % error)
        return 2
    finally:
        if warm is not None:
            warm.stop_standin()
        if standin is not None:
            standin.stop()
        if not args.keep:
            # Keep the results, logs and events; drop keys, certificates and the collections.
            for base, dirs, _files in os.walk(work, topdown=True):
                for name in list(dirs):
                    if name in ('hosts', 'state', 'collections', 'peer-collections', 'peer-ca', '.ansible-tmp', '.ansible'):
                        shutil.rmtree(os.path.join(base, name), ignore_errors=True)
                        dirs.remove(name)


if __name__ == '__main__':
    sys.exit(main())
