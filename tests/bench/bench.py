# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of issue 6 ("Built to be fast"): onboard.yml against the same work done by hand with community.crypto.

Run it with ``make bench`` (which installs the collection first), or ``.venv/bin/python tests/bench/bench.py``.

Both flows run on N local hosts (connection local, each host its own folder), forks 5:

* ours: ``vlaanderen.dov.onboard`` with the lab issuer, one or more oefen pairs per host (one application per
  pair, formats pem + pkcs12) and the mTLS check against the lab DOV stand-in on a free port;
* peer: per pair, five tasks: ansible.builtin.file (the folder), community.crypto.openssl_privatekey,
  openssl_csr, x509_certificate (provider ownca, with a CA made once beforehand) and openssl_pkcs12.

Each flow is timed on a first run from a clean state and on a re-run with nothing new. The CAs (the
lab CA and the peer's CA) are made by an untimed warm-up run and kept. The gate: ours/peer <= 0.5 for
both; the exit code is 1 when a ratio is above it, 2 when a run fails.

community.crypto is not on Galaxy here: it comes from the ``ansible`` wheel on PyPI (``pip download``,
cached in ~/.cache/vlaanderen-dov-bench or $DOV_BENCH_CACHE), of which only
ansible_collections/community/crypto is extracted into the temp folder.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import glob
import json
import os
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
TARGET = 0.5
ANSIBLE_SPEC = 'ansible>=12,<13'          # ships a community.crypto that works with ansible-core 2.19
CACHE = os.environ.get('DOV_BENCH_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'vlaanderen-dov-bench')
PASSWORD = 'bench-only-password'
# Actions that run in the controller process: no module is shipped to a host.
CONTROLLER_ACTIONS = frozenset([
    'debug', 'fail', 'assert', 'set_fact', 'meta', 'include_vars', 'import_tasks', 'include_tasks',
    'validate_argument_spec', 'ansible.builtin.validate_argument_spec',
    'vlaanderen.dov.onboarding', 'ansible.builtin.debug', 'ansible.builtin.fail', 'ansible.builtin.assert',
    'ansible.builtin.set_fact', 'ansible.builtin.meta', 'ansible.builtin.include_vars',
    'ansible.builtin.import_tasks', 'ansible.builtin.include_tasks',
])

PEER_PLAYBOOK = [{
    'name': 'Peer - the same work by hand with community.crypto (5 tasks per pair)',
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
    ],
}]

OURS_PLAYBOOK = [{'name': 'Onboard DOV client certificates', 'ansible.builtin.import_playbook': 'vlaanderen.dov.onboard'}]


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


# ------------------------------------------------------------------ community.crypto from PyPI

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


# ------------------------------------------------------------------ the two set-ups

class Flow(object):
    """One side of the benchmark: a folder with ansible.cfg, inventory and playbook, and how to clean it."""

    def __init__(self, name, root, collections_path, forks):
        self.name = name
        self.root = root
        self.hosts_dir = os.path.join(root, 'hosts')
        self.collections_path = collections_path
        self.playbook = os.path.join(root, 'playbook.yml')
        self.inventory = os.path.join(root, 'inventory.yml')
        self.config = os.path.join(root, 'ansible.cfg')
        self.forks = forks
        self.runs = 0
        os.makedirs(self.hosts_dir, exist_ok=True)

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

    def run(self, label):
        """Run the playbook once; returns wall seconds, the return code and the callback's events."""
        self.runs += 1
        stem = os.path.join(self.root, 'run-%02d-%s' % (self.runs, label))
        events_path = stem + '.events.jsonl'
        env = dict((key, value) for key, value in os.environ.items() if not key.startswith('ANSIBLE_'))
        env.update(ANSIBLE_CONFIG=self.config, DOV_BENCH_EVENTS=events_path, ANSIBLE_NOCOLOR='1',
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.root, '.ansible-tmp'))
        command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), self.playbook]
        with open(stem + '.log', 'wb') as output:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.monotonic()
            proc = subprocess.run(command, cwd=self.root, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
            seconds = time.monotonic() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU of ansible-playbook and everything it waited for (workers, modules): steadier than wall time on a busy machine.
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        events = []
        if os.path.exists(events_path):
            with open(events_path) as handle:
                events = [json.loads(line) for line in handle if line.strip()]
        return {'seconds': seconds, 'cpu_seconds': round(cpu, 3), 'rc': proc.returncode, 'log': stem + '.log', 'events': events}


class Ours(Flow):
    def __init__(self, root, collections_path, forks, hosts, pairs_per_host, port):
        super(Ours, self).__init__('ours', root, collections_path, forks)
        self.state_dir = os.path.join(root, 'state')
        self.port = port
        applications = []
        inventory_hosts = {}
        for host_index in range(hosts):
            host = 'bench-%02d' % (host_index + 1)
            certificates = []
            for pair_index in range(pairs_per_host):
                name = 'Bench%02d%s' % (host_index + 1, chr(ord('a') + pair_index))
                applications.append({'name': name, 'description': 'Benchmark application %s' % name,
                                     'environments': {'oefen': {'cn': 'geolab.be/dov-services/oefen/%s' % name}}})
                certificates.append({'application': name, 'environment': 'oefen', 'formats': ['pem', 'pkcs12'],
                                     'dest_dir': os.path.join(self.hosts_dir, host, name.lower())})
            inventory_hosts[host] = {'dov_certificates': certificates}
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
        self.write_config()

    def clean(self):
        """A clean state, except for the lab CA and the stand-in's server certificate (made once, like the peer's CA)."""
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
            subprocess.run([sys.executable, os.path.join(REPO, 'lab', 'dov_standin.py'), 'stop', '--pidfile', pidfile],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=60)

    def check(self):
        """Every pair verified in status.json."""
        with open(os.path.join(self.state_dir, 'status.json')) as handle:
            status = json.load(handle)
        states = dict((key, value.get('state')) for key, value in status.get('pairs', {}).items())
        bad = dict((key, state) for key, state in states.items() if state != 'verified')
        if not states or bad:
            raise BenchError('ours: not every pair is verified: %s' % (bad or 'no pairs'))


class Peer(Flow):
    def __init__(self, root, collections_path, forks, hosts, pairs_per_host, ca_cert, ca_key):
        super(Peer, self).__init__('peer', root, collections_path, forks)
        inventory_hosts = {}
        self.files = []
        for host_index in range(hosts):
            host = 'bench-%02d' % (host_index + 1)
            pairs = []
            for pair_index in range(pairs_per_host):
                name = 'Bench%02d%s' % (host_index + 1, chr(ord('a') + pair_index))
                dest_dir = os.path.join(self.hosts_dir, host, name.lower())
                pairs.append({'dest_dir': dest_dir, 'cn': 'geolab.be/dov-services/oefen/%s' % name})
                self.files.append(os.path.join(dest_dir, 'cert.p12'))
            inventory_hosts[host] = {'peer_pairs': pairs}
        write_yaml(self.inventory, {'all': {
            'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                     'peer_ca_cert': ca_cert, 'peer_ca_key': ca_key},
            'hosts': inventory_hosts,
        }})
        write_yaml(self.playbook, PEER_PLAYBOOK)
        self.write_config()

    def check(self):
        missing = [path for path in self.files if not os.path.exists(path)]
        if missing:
            raise BenchError('peer: %d PKCS#12 file(s) missing, e.g. %s' % (len(missing), missing[0]))


# ------------------------------------------------------------------ reading the events

def analyse(events):
    """Module executions (per host and in total), controller actions, and what each task cost."""
    tasks = []
    by_uuid = {}
    starts = {}
    first = last = None
    stats = {}
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


def measure(flow, label):
    result = flow.run(label)
    analysis = analyse(result['events'])
    if result['rc'] != 0 or analysis['failed']:
        with open(result['log'], 'rb') as handle:
            tail = handle.read().decode('utf-8', 'replace')[-4000:]
        raise BenchError('%s %s run failed (rc %d), log %s:\n%s' % (flow.name, label, result['rc'], result['log'], tail))
    flow.check()
    analysis.update(seconds=round(result['seconds'], 3), cpu_seconds=result['cpu_seconds'], log=result['log'])
    log('  %-4s %-6s %7.2f s wall %7.2f s CPU  (%d module executions, %d changed)'
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


def table(results, hosts, pairs_per_host):
    ours, peer = results['ours'], results['peer']
    values = (hosts, pairs_per_host, results['forks'], results['nproc'], results['loadavg_before'][0], results['loadavg_after'][0],
              results['repeat'])
    heading = ('Onboarding benchmark: %d local hosts x %d pair(s), forks %d, nproc %d, load average %s before, %s after, '
               'median of %d round(s)' % values)
    lines = ['', heading, '']
    lines.append('%-34s %12s %12s' % ('', 'first run', 're-run'))
    lines.append('%-34s %12.2f %12.2f' % ('ours: onboard.yml (s)', ours['first']['median_seconds'], ours['rerun']['median_seconds']))
    lines.append('%-34s %12.2f %12.2f' % ('peer: community.crypto (s)', peer['first']['median_seconds'], peer['rerun']['median_seconds']))
    lines.append('%-34s %12.2f %12.2f   (target <= %.2f)' % ('ratio ours/peer', results['ratio']['first'], results['ratio']['rerun'], TARGET))
    lines.append('%-34s %12.2f %12.2f' % ('ours: CPU (s)', ours['first']['median_cpu_seconds'], ours['rerun']['median_cpu_seconds']))
    lines.append('%-34s %12.2f %12.2f' % ('peer: CPU (s)', peer['first']['median_cpu_seconds'], peer['rerun']['median_cpu_seconds']))
    lines.append('%-34s %12.2f %12.2f   (not gated)' % ('CPU ratio ours/peer', results['cpu_ratio']['first'], results['cpu_ratio']['rerun']))
    for name in ('ours', 'peer'):
        lines.append('%-34s %12d %12d' % ('%s: module executions' % name, results[name]['first']['module_executions'],
                                          results[name]['rerun']['module_executions']))
        lines.append('%-34s %12.1f %12.1f' % ('%s: module executions per host' % name,
                                              results[name]['first']['module_executions'] / float(hosts),
                                              results[name]['rerun']['module_executions'] / float(hosts)))
    lines.append('%-34s %12d %12d' % ('ours: controller-side actions', ours['first']['controller_actions'],
                                      ours['rerun']['controller_actions']))
    lines.append('%-34s %12s %12s' % ('changed results ours / peer',
                                      '%d / %d' % (ours['first']['changed'], peer['first']['changed']),
                                      '%d / %d' % (ours['rerun']['changed'], peer['rerun']['changed'])))
    for name in ('ours', 'peer'):
        for label, title in (('first', 'first run'), ('rerun', 're-run')):
            run = results[name][label]
            startup = run['seconds'] - (run['play_seconds'] or 0)
            lines.append('')
            lines.append('%s, %s (median run %.2f s: ansible-playbook start-up and parsing %.2f s, play %.2f s):'
                         % (name, title, run['seconds'], startup, run['play_seconds'] or 0))
            lines.append('  %7s %5s %5s %5s %8s  %s' % ('wall s', 'exec', 'skip', 'chg', 'host s', 'task (action)'))
            for row in run['tasks']:
                lines.append('  %7.2f %5d %5d %5d %8s  %s (%s%s)' % (
                    row['wall'], row['executions'], row['skipped'], row['changed'],
                    '-' if row['mean_host_seconds'] is None else '%.2f' % row['mean_host_seconds'],
                    row['task'], row['action'], ', controller' if row['controller'] else ''))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--hosts', type=int, default=10, help='number of local hosts (default 10)')
    parser.add_argument('--pairs-per-host', type=int, default=1, choices=(1, 2), help='certificates per host (default 1)')
    parser.add_argument('--forks', type=int, default=5, help='ansible forks (default 5, as in DESIGN.md)')
    parser.add_argument('--repeat', type=int, default=1, help='timed rounds per flow; the median is reported (default 1)')
    parser.add_argument('--no-warmup', action='store_true', help='skip the untimed warm-up run of each flow')
    parser.add_argument('--keep', action='store_true', help='keep the whole temp folder (keys and certificates included)')
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.repeat < 1:
        parser.error('--hosts and --repeat must be at least 1')

    source = os.path.join(REPO, '.collections', 'ansible_collections', 'vlaanderen', 'dov')
    if not os.path.isdir(source):
        log('vlaanderen.dov is not installed in %s: run `make install` (or `make bench`).' % source)
        return 2
    work = tempfile.mkdtemp(prefix='vlaanderen-dov-bench-')
    log('Benchmark folder: %s' % work)
    ours = None
    try:
        # Our collection, copied so that a `make install` elsewhere in the checkout cannot change it mid-run.
        ours_collections = os.path.join(work, 'ours', 'collections')
        shutil.copytree(source, os.path.join(ours_collections, 'ansible_collections', 'vlaanderen', 'dov'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        peer_collections = os.path.join(work, 'peer', 'collections')
        wheel, crypto_version = community_crypto(peer_collections)
        log('community.crypto %s (from %s)' % (crypto_version, wheel))
        ca_cert, ca_key = make_ca(os.path.join(work, 'peer', 'ca'))
        port = free_port()
        ours = Ours(os.path.join(work, 'ours'), ours_collections, args.forks, args.hosts, args.pairs_per_host, port)
        peer = Peer(os.path.join(work, 'peer'), peer_collections, args.forks, args.hosts, args.pairs_per_host, ca_cert, ca_key)
        flows = (ours, peer)
        if not args.no_warmup:
            log('Warm-up (untimed; also makes the lab CA):')
            for flow in flows:
                measure(flow, 'warmup')
        runs = dict((flow.name, {'first': [], 'rerun': []}) for flow in flows)
        load_before = [round(value, 2) for value in os.getloadavg()]
        for round_index in range(args.repeat):
            log('Round %d of %d:' % (round_index + 1, args.repeat))
            # Interleaved, so that a busy machine weighs on both sides alike.
            for flow in flows:
                flow.clean()
            for label in ('first', 'rerun'):
                for flow in flows:
                    runs[flow.name][label].append(measure(flow, label))
        results = {
            'hosts': args.hosts, 'pairs_per_host': args.pairs_per_host, 'forks': args.forks, 'repeat': args.repeat,
            'nproc': os.cpu_count(), 'python': sys.version.split()[0], 'community_crypto': crypto_version,
            'target': TARGET, 'folder': work, 'loadavg_before': load_before, 'loadavg_after': [round(value, 2) for value in os.getloadavg()],
        }
        for name in runs:
            results[name] = dict((label, median_run(runs[name][label])) for label in ('first', 'rerun'))
        results['ratio'] = dict((label, round(results['ours'][label]['median_seconds'] / results['peer'][label]['median_seconds'], 3))
                                for label in ('first', 'rerun'))
        results['cpu_ratio'] = dict((label, round(results['ours'][label]['median_cpu_seconds']
                                                  / results['peer'][label]['median_cpu_seconds'], 3)) for label in ('first', 'rerun'))
        results['pass'] = all(ratio <= TARGET for ratio in results['ratio'].values())
        results_path = os.path.join(work, 'results.json')
        with open(results_path, 'w') as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
        print(table(results, args.hosts, args.pairs_per_host))
        print('')
        print(json.dumps(dict((key, value) for key, value in results.items() if key not in ('ours', 'peer')), sort_keys=True))
        print('Results: %s' % results_path)
        if not results['pass']:
            over = ', '.join('%s %.2f' % (label, ratio) for label, ratio in sorted(results['ratio'].items()) if ratio > TARGET)
            print('FAIL: ours/peer above %.2f (%s).' % (TARGET, over))
            return 1
        print('PASS: ours/peer at or below %.2f, first run and re-run.' % TARGET)
        return 0
    except BenchError as error:
        log('ERROR: %s' % error)
        return 2
    finally:
        if ours is not None:
            ours.stop_standin()
        if not args.keep:
            # Keep the results, logs and events; drop keys, certificates and the collections.
            for name in ('ours', 'peer'):
                for sub in ('hosts', 'state', 'collections', 'ca', '.ansible-tmp'):
                    shutil.rmtree(os.path.join(work, name, sub), ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
