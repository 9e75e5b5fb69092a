# -*- coding: utf-8 -*-
"""onboard.yml over real SSH, with an inventory, an issuer and a DOV the project never saw.

Three OpenSSH servers on 127.0.0.2/.3/.4 (sshd.py), each "host" with a filesystem of its own
under tmp; a ``command`` issuer that is a shell script signing the CSR with ``openssl x509 -req``
and a private CA (it logs every call, so that a new certificate cannot go unnoticed); a DOV-like
nginx on 127.0.0.1 that asks for client certificates from that CA and answers 403 to any CN not
on its allow-list. One application, two environments: oefen on host A, productie on host B.

1. the first run exits 0 with both pairs verified; each host holds only its own environment's
   certificate (read with the openssl CLI), keys 0600;
2. a second run changes nothing;
3. a host C joins the certified oefen pair while an unreachable host is in the inventory: the run
   fails naming the unreachable host, C gets A's key and certificate, nothing new is issued, and
   at -vvv the key appears nowhere in the output; the state folder never holds a key;
4. without the unreachable host, the run converges: rc 0, both pairs verified, and a further run
   changes nothing.

Each stage writes its whole output to run-<stage>.log beside its inventory in the tmp folder.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import difflib
import json
import os
import re
import stat
import subprocess
import sys

import pytest
import yaml
from cryptography.hazmat.primitives import serialization

import pki_factory
import sshd
import tls_peers
from conftest import COLLECTIONS, Ansible
from support import write

pytestmark = pytest.mark.skipif(sshd.available() is not None, reason=str(sshd.available()))

APPLICATION = 'Boorlog'
CNS = {
    'oefen': 'sondeerlab.example/dov-services/oefen/Boorlog',
    'productie': 'sondeerlab.example/dov-services/productie/Boorlog',
}
OEFEN, PRODUCTIE = 'Boorlog/oefen', 'Boorlog/productie'
PKCS12_PASSWORD = 'p12-ssh-Vq7nR2-test'
OPENSSL = tls_peers.OPENSSL
ADDRESSES = {'ssh-a': '127.0.0.2', 'ssh-b': '127.0.0.3', 'ssh-c': '127.0.0.4'}
GONE, GONE_ADDRESS = 'ssh-gone', '127.0.0.9'

# A real issuer (DCBaaS automation, a remote CA) takes a while and dates the certificate from the
# moment it signs: the sleep makes that so, and openssl x509 -req starts the validity at "now".
ISSUER_SCRIPT = '''#!/bin/sh
# Test issuer for dov_issuer: command. CSR on stdin, certificate (PEM) on stdout.
set -eu
sleep 1
echo "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) $DOV_APPLICATION/$DOV_ENVIRONMENT $DOV_CN" >> '{log}'
exec '{openssl}' x509 -req -sha256 -days 400 -CA '{ca}' -CAkey '{ca_key}' \\
    -CAserial '{folder}/ca.srl' -CAcreateserial -extfile '{folder}/client.ext' -extensions dov_client
'''

CLIENT_EXT = '''[dov_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
'''


def openssl(*args):
    proc = subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False, timeout=60)
    assert proc.returncode == 0, 'openssl %s: %s' % (' '.join(args), proc.stderr)
    return proc.stdout


def subject_cn(path, kind='x509'):
    """The CN of the (first) certificate or CSR in ``path``, as the openssl CLI reads it."""
    text = openssl(kind, '-in', path, '-noout', '-subject', '-nameopt', 'RFC2253')
    found = re.search(r'(?:^|[=,])CN=([^,\n]+)', text.split('=', 1)[1])
    assert found, text
    return found.group(1)


def fingerprint(path):
    return openssl('x509', '-in', path, '-noout', '-fingerprint', '-sha256').strip().split('=', 1)[1]


def public_key_of(path, kind):
    """The public key (PEM) of a certificate (kind x509) or private key (kind pkey)."""
    if kind == 'x509':
        return openssl('x509', '-in', path, '-noout', '-pubkey')
    return openssl('pkey', '-in', path, '-pubout')


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Lab(object):
    """Everything the tests share: PKI, nginx, sshd servers, the issuer script, the runner."""

    def __init__(self, folder, runner):
        self.folder = str(folder)
        self.runner = runner
        self.state_dir = os.path.join(self.folder, 'dov-state')
        self.runs = []
        self.passed = set()
        # The client CA: signs the CSRs through the issuer script; nginx accepts its certificates.
        issuer = os.path.join(self.folder, 'issuer')
        os.makedirs(issuer)
        ca = pki_factory.make_root('SSH Lab Issuing CA')
        self.ca_bundle = write(os.path.join(issuer, 'ca.pem'), ca.pem)
        ca_key = write(os.path.join(issuer, 'ca.key'), pki_factory.key_pem(ca.key), 0o600)
        write(os.path.join(issuer, 'client.ext'), CLIENT_EXT)
        self.issuer_log = os.path.join(issuer, 'issued.log')
        self.issuer_command = write(os.path.join(issuer, 'issue.sh'), ISSUER_SCRIPT.format(
            log=self.issuer_log, openssl=OPENSSL, ca=self.ca_bundle, ca_key=ca_key, folder=issuer), 0o755)
        # The DOV-like server: its own CA, a certificate for the IP 127.0.0.1, the client CA above.
        self.nginx = None
        self.ssh = None
        self.servers = {}
        try:
            # The allow-list is a regex (dots escaped): exactly our two CNs.
            self.nginx, self.server_ca_bundle = tls_peers.start_dov_nginx(
                self.folder, 'SSH Lab DOV Server Root CA', ca.pem, 'sondeerlab.example/dov-services/(oefen|productie)/Boorlog')
            self.endpoint = 'https://127.0.0.1:%d/' % self.nginx.port
            self.ssh = sshd.SshHosts(os.path.join(self.folder, 'ssh'))
            for name, address in sorted(ADDRESSES.items()):
                self.servers[name] = self.ssh.start(address)
        except Exception:
            self.stop()
            raise
        self.gone_port = sshd.refused_port(GONE_ADDRESS)

    def stop(self):
        if self.ssh is not None:
            self.ssh.stop()
        if self.nginx is not None:
            self.nginx.stop()

    # ------------------------------------------------------------ the hosts' filesystems

    def root(self, host):
        """Where a host's files are: each host has a filesystem of its own under tmp."""
        return os.path.join(self.folder, 'fs', host)

    def dest_dir(self, host):
        return os.path.join(self.root(host), 'opt', 'boorlog', 'dov')

    def host_file(self, host, name):
        return os.path.join(self.dest_dir(host), name)

    def key_pem(self, host):
        with open(self.host_file(host, 'key.pem'), 'rb') as handle:
            return handle.read()

    # ------------------------------------------------------------ inventory and runs

    def inventory(self, hosts, name):
        """Write an inventory with ``hosts`` ({host: environment}) and return its path."""
        host_vars = {}
        for host, environment in sorted(hosts.items()):
            if host == GONE:
                address, port = GONE_ADDRESS, self.gone_port
            else:
                address, port = ADDRESSES[host], self.servers[host].port
            host_vars[host] = {
                'ansible_host': address,
                'ansible_port': port,
                'dov_certificates': [{'application': APPLICATION, 'environment': environment,
                                      'dest_dir': self.dest_dir(host), 'formats': ['pem', 'pkcs12']}],
            }
        data = {'all': {
            'vars': {
                'ansible_user': self.ssh.user,
                'ansible_ssh_private_key_file': self.ssh.client_key,
                'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
                'ansible_python_interpreter': sys.executable,
                'dov_state_dir': self.state_dir,
                'dov_issuer': 'command',
                'dov_issuer_command': self.issuer_command,
                'dov_ca_bundle': self.ca_bundle,
                'dov_server_ca_bundle': self.server_ca_bundle,
                'dov_endpoints': {'oefen': self.endpoint, 'productie': self.endpoint},
                'dov_check_timeout': 10,
                'dov_pkcs12_password': PKCS12_PASSWORD,
                'dov_organisation': {'name': 'Sondeerlab bv', 'id_type': 'kbo', 'id': '0812.345.603',
                                     'contact_email': 'ict@sondeerlab.example'},
                'dov_applications': [{
                    'name': APPLICATION,
                    'description': 'Sonderingen opladen vanuit de veldtablets',
                    'environments': dict((env, {'cn': value}) for env, value in CNS.items()),
                }],
            },
            'hosts': host_vars,
        }}
        path = os.path.join(self.folder, 'inventory-%s.yml' % name)
        with open(path, 'w') as handle:
            yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=True)
        return path

    def onboard(self, hosts, name, verbosity=0):
        playbook = os.path.join(COLLECTIONS, 'ansible_collections', 'vlaanderen', 'dov', 'playbooks', 'onboard.yml')
        run = self.runner.playbook(playbook, inventory=self.inventory(hosts, name), verbosity=verbosity)
        self.runs.append((name, run))
        write(os.path.join(self.folder, 'run-%s.log' % name), repr(run))
        return run

    def status(self):
        with open(os.path.join(self.state_dir, 'status.json')) as handle:
            return json.load(handle)

    def issued(self):
        """The issuer script's calls so far, as 'application/environment CN' (without the time)."""
        if not os.path.exists(self.issuer_log):
            return []
        with open(self.issuer_log) as handle:
            return [line.strip().split(' ', 1)[1] for line in handle if line.strip()]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    runner = Ansible(tmp_path_factory.mktemp('ansible-ssh'))
    lab = Lab(tmp_path_factory.mktemp('onboard-ssh'), runner)
    yield lab
    lab.stop()


def summary(run):
    """What went wrong in a run, short enough for pytest's assertion message; the whole output is
    in run-<name>.log beside the inventory."""
    lines = ['rc=%s' % run.rc]
    lines += ['%s %s: %s' % (r['host'], r['status'], r['result'].get('msg')) for r in run.failed]
    for record in run.records:
        if record['task'].endswith('Report - one line per application and environment'):
            lines += [line for line in record['result'].get('msg') or [] if not line.startswith(('application ', '---'))]
    return '\n'.join(lines)


def stage(lab, name, passed=True):
    """The Run of an earlier stage; skip (not fail) when that stage did not run, or (``passed``)
    when its test failed: the later stages build on what it left."""
    for run_name, run in lab.runs:
        if run_name == name and (name in lab.passed or not passed):
            return run
    pytest.skip('the %s stage did not %s (see its test)' % (name, 'pass' if passed else 'run'))
    return None


def certificates_held(lab, host):
    """{path: CN} of every certificate, keystore and CSR under the host's filesystem."""
    found = {}
    for folder, _dirs, files in os.walk(lab.root(host)):
        for file_name in files:
            path = os.path.join(folder, file_name)
            if file_name == 'key.pem':
                continue
            if file_name == 'csr.pem':
                found[path] = subject_cn(path, 'req')
            elif file_name.endswith('.p12'):
                extracted = os.path.join(lab.folder, 'extracted-%s.pem' % host)
                openssl('pkcs12', '-in', path, '-nokeys', '-clcerts', '-passin', 'pass:' + PKCS12_PASSWORD,
                        '-out', extracted)
                found[path] = subject_cn(extracted)
                os.unlink(extracted)
            elif file_name.endswith('.pem') and os.path.getsize(path) > 0:
                found[path] = subject_cn(path)
    return found


def assert_holds_only(lab, host, environment):
    held = certificates_held(lab, host)
    names = set(os.path.basename(path) for path in held)
    assert {'cert.pem', 'fullchain.pem', 'bundle.p12'} <= names, held
    wrong = dict((path, value) for path, value in held.items() if value != CNS[environment])
    assert not wrong, '%s holds certificates of another environment than %s: %r' % (host, environment, wrong)
    key = lab.host_file(host, 'key.pem')
    assert mode_of(key) == 0o600, '%s: key.pem has mode %04o' % (host, mode_of(key))
    assert mode_of(lab.host_file(host, 'bundle.p12')) == 0o600
    assert public_key_of(key, 'pkey') == public_key_of(lab.host_file(host, 'cert.pem'), 'x509')
    openssl('verify', '-CAfile', lab.ca_bundle, '-purpose', 'sslclient', lab.host_file(host, 'cert.pem'))


def secret_chunks(key_pem):
    """Pieces of a key that must never be printed: a line of its base64 body, and a piece of the
    base64 of the whole PEM file (what slurp carries)."""
    body = [line for line in key_pem.decode('ascii').splitlines() if line and not line.startswith('-----')]
    wrapped = base64.b64encode(key_pem).decode('ascii')
    return [body[3], wrapped[200:260]]


# ---------------------------------------------------------------- the stages

def test_first_run_verifies_both_pairs_and_each_host_holds_only_its_environment(lab):
    run = lab.onboard({'ssh-a': 'oefen', 'ssh-b': 'productie'}, 'first')
    assert run.rc == 0, summary(run)
    assert not run.failed, summary(run)
    status = lab.status()['pairs']
    assert status[OEFEN]['state'] == 'verified', status
    assert status[PRODUCTIE]['state'] == 'verified', status
    assert status[OEFEN]['hosts'] == ['ssh-a'] and status[PRODUCTIE]['hosts'] == ['ssh-b']
    assert status[OEFEN]['common_name'] == CNS['oefen'] and status[PRODUCTIE]['common_name'] == CNS['productie']
    assert status[OEFEN]['verdict'] == 'ok' and status[PRODUCTIE]['verdict'] == 'ok'
    assert_holds_only(lab, 'ssh-a', 'oefen')
    assert_holds_only(lab, 'ssh-b', 'productie')
    assert not os.path.exists(lab.root('ssh-c'))
    # one certificate per pair, from our issuer; the hosts were reached over SSH; nginx answered 200
    assert sorted(lab.issued()) == sorted('%s %s' % (key, CNS[key.split('/')[1]]) for key in (OEFEN, PRODUCTIE))
    for host in ('ssh-a', 'ssh-b'):
        assert 'Accepted publickey for root' in lab.servers[host].log_text()
    with open(os.path.join(lab.nginx.folder, 'access.log')) as handle:
        hits = [line for line in handle if 'GET /dov-xdov-server/logs/chucknorris' in line and '" 200 ' in line]
    assert len(hits) >= 2, hits
    lab.passed.add('first')


def test_second_run_changes_nothing(lab):
    stage(lab, 'first')
    with open(os.path.join(lab.state_dir, 'status.json'), 'rb') as handle:
        before = handle.read()
    run = lab.onboard({'ssh-a': 'oefen', 'ssh-b': 'productie'}, 'second')
    assert run.rc == 0, summary(run)
    changed = [(r['host'], r['task']) for r in run.records if r['status'] == 'changed']
    assert changed == [], summary(run)
    assert re.search(r'ssh-a\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0', run.stdout), run.stdout
    assert re.search(r'ssh-b\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0', run.stdout), run.stdout
    with open(os.path.join(lab.state_dir, 'status.json'), 'rb') as handle:
        after = handle.read()
    # Everything recorded stays as it was (updated_at too); only the messages are this run's: none.
    first, second = json.loads(before.decode('utf-8')), json.loads(after.decode('utf-8'))
    assert all(pair['messages'] == [] for pair in second['pairs'].values()), second
    for record in list(first['pairs'].values()) + list(second['pairs'].values()):
        record.pop('messages')
    diff = difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(),
                                'status.json after the first run', 'after the second', lineterm='')
    assert second == first, '\n'.join(diff)
    assert len(lab.issued()) == 2


def test_joining_host_gets_the_pair_certificate_while_an_unreachable_host_fails_the_run(lab):
    first = stage(lab, 'first')
    assert first.rc == 0
    with open(os.path.join(lab.state_dir, APPLICATION, 'oefen', 'certificate.pem'), 'rb') as handle:
        stored = handle.read()
    a_fingerprint = fingerprint(lab.host_file('ssh-a', 'cert.pem'))
    run = lab.onboard({'ssh-a': 'oefen', 'ssh-b': 'productie', 'ssh-c': 'oefen', GONE: 'oefen'}, 'join', verbosity=3)
    assert run.rc != 0, summary(run)
    # the unreachable host is named, as unreachable
    gone = [r['status'] for r in run.records if r['host'] == GONE and r['action'] != 'ansible.builtin.validate_argument_spec']
    assert gone == ['unreachable'], summary(run)
    assert re.search(r'fatal: \[%s\]: UNREACHABLE! => \{[^}]*%s' % (GONE, re.escape(GONE_ADDRESS)), run.stdout), run.stdout[-3000:]
    assert re.search(r'%s\s+: ok=\d+\s+changed=0\s+unreachable=1' % GONE, run.stdout), run.stdout[-3000:]
    # the other hosts finished: C holds the pair's key and certificate, A's, and only oefen
    assert fingerprint(lab.host_file('ssh-c', 'cert.pem')) == a_fingerprint
    assert public_key_of(lab.host_file('ssh-c', 'key.pem'), 'pkey') == public_key_of(lab.host_file('ssh-a', 'key.pem'), 'pkey')
    assert_holds_only(lab, 'ssh-c', 'oefen')
    assert not os.path.exists(lab.host_file('ssh-c', 'csr.pem')), 'ssh-c made a CSR of its own'
    assert fingerprint(lab.host_file('ssh-a', 'cert.pem')) == a_fingerprint
    assert 'Accepted publickey for root' in lab.servers['ssh-c'].log_text()
    # nothing new was issued
    assert len(lab.issued()) == 2, lab.issued()
    with open(os.path.join(lab.state_dir, APPLICATION, 'oefen', 'certificate.pem'), 'rb') as handle:
        assert handle.read() == stored
    status = lab.status()['pairs']
    assert 'ssh-c' in status[OEFEN]['hosts'] and GONE in status[OEFEN]['hosts'], status
    assert status[PRODUCTIE]['state'] == 'verified', status
    # -vvv: the key that travelled from A to C is nowhere in the output
    secrets = ['PRIVATE KEY'] + [chunk for host in ('ssh-a', 'ssh-b') for chunk in secret_chunks(lab.key_pem(host))]
    for name, text in (('stdout', run.stdout), ('stderr', run.stderr)):
        found = [number for number, line in enumerate(text.splitlines(), 1) if any(secret in line for secret in secrets)]
        assert not found, ('a private key is in the -vvv %s, lines %s (see %s)'
                           % (name, found, os.path.join(lab.folder, 'run-join.log')))


def test_the_state_folder_never_holds_a_key(lab):
    stage(lab, 'join', passed=False)
    chunks = [chunk for host in ('ssh-a', 'ssh-b') for chunk in secret_chunks(lab.key_pem(host))]
    der = [lab_key_der(lab, host) for host in ('ssh-a', 'ssh-b')]
    for folder, _dirs, files in os.walk(lab.state_dir):
        for file_name in files:
            path = os.path.join(folder, file_name)
            with open(path, 'rb') as handle:
                data = handle.read()
            assert b'PRIVATE KEY' not in data, path
            assert not any(chunk.encode('ascii') in data for chunk in chunks), path
            assert not any(value in data for value in der), path


def lab_key_der(lab, host):
    key = serialization.load_pem_private_key(lab.key_pem(host), None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())[-64:]


def test_without_the_unreachable_host_the_run_converges(lab):
    stage(lab, 'join', passed=False)
    hosts = {'ssh-a': 'oefen', 'ssh-b': 'productie', 'ssh-c': 'oefen'}
    run = lab.onboard(hosts, 'converge')
    assert run.rc == 0, summary(run)
    assert not run.failed, summary(run)
    status = lab.status()['pairs']
    assert status[OEFEN]['hosts'] == ['ssh-a', 'ssh-c'], status
    assert len(lab.issued()) == 2, lab.issued()
    for host, environment in hosts.items():
        assert_holds_only(lab, host, environment)
    assert fingerprint(lab.host_file('ssh-c', 'cert.pem')) == fingerprint(lab.host_file('ssh-a', 'cert.pem'))
    again = lab.onboard(hosts, 'converged-again')
    assert again.rc == 0, summary(again)
    assert [(r['host'], r['task']) for r in again.records if r['status'] == 'changed'] == [], summary(again)
    # Every host of both pairs holds the certificate and passed the mTLS check (ssh-a in the first
    # run, ssh-c in the join run): converged means both pairs are verified again, not just installed.
    status = lab.status()['pairs']
    states = dict((key, (status[key]['state'], status[key]['verdict'], status[key]['messages'])) for key in (OEFEN, PRODUCTIE))
    assert (status[OEFEN]['state'], status[PRODUCTIE]['state']) == ('verified', 'verified'), states
