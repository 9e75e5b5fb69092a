# -*- coding: utf-8 -*-
"""The host side on hosts as our users have them: OS-packaged libraries, a deploy user with sudo.

Two OpenSSH servers on 127.0.0.5/.6 (sshd.py) that let in only a deploy user made for this test
(``dovtestdeploy``, removed afterwards), who becomes root with sudo under ``Defaults requiretty``
(a drop-in in /etc/sudoers.d, removed afterwards); pipelining is off, as it must be with
requiretty. Host A runs modules with Debian's /usr/bin/python3 and its packaged
python3-cryptography/python3-openssl; host B with a virtualenv holding cryptography 3.4.8 and
pyOpenSSL 21.0.0 (Ubuntu 22.04's, kept in .cache/old-crypto between runs). The lab issuer and the
local DOV stand-in play VO-DCBaaS and DOV.

Two pairs, each on both hosts (A is the key holder, B receives the key over the connections):
Geodrill/oefen as root (the key root-owned 0600), Labresultaten/oefen with ``owner: nobody``.

1. the first run verifies both pairs; keys are 0600 and owned as asked; B holds A's keys;
   the PKCS#12 bundles open with the openssl CLI; a second run changes nothing;
2. a killed run's temporary files and cert.pem missing behind an edited manifest: the next run
   puts the files back and removes the temporary files;
3. with ``owner: nobody``, A's key.pem and chain.pem replaced by links to root-only files and B
   without its key: the run refuses naming the links, the targets keep owner, mode and bytes, and
   the linked key reaches B neither.

Each run's whole output is in run-<stage>.log in the test's tmp folder.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest
import yaml

import sshd
from conftest import COLLECTIONS, ROOT, Ansible
from support import free_port

DEPLOY_USER = 'dovtestdeploy'
SUDOERS = '/etc/sudoers.d/dov-test-deploy'
DEBIAN_PYTHON = '/usr/bin/python3'
OLD_CRYPTO = os.path.join(ROOT, '.cache', 'old-crypto')
OLD_PYTHON = os.path.join(OLD_CRYPTO, 'bin', 'python')
OLD_VERSIONS = ('3.4.8', '21.0.0')
ADDRESSES = {'host-a': '127.0.0.5', 'host-b': '127.0.0.6'}
GEODRILL, LABRESULTATEN = 'Geodrill/oefen', 'Labresultaten/oefen'
P12_PASSWORD = 'p12-host-side-Zk4q-test'
CNS = {'Geodrill': 'geolab.be/dov-services/oefen/Geodrill', 'Labresultaten': 'geolab.be/dov-services/oefen/Labresultaten'}


def _why_not():
    if sshd.available():
        return sshd.available()
    if os.geteuid() != 0:
        return 'the host-side test makes a user and a sudoers drop-in: it runs as root (CI does)'
    for tool in ('sudo', 'useradd', 'userdel', 'visudo'):
        if not shutil.which(tool) and not os.path.exists('/usr/sbin/' + tool):
            return '%s is not installed (make deps)' % tool
    return None


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))


def run(command, **kwargs):
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, timeout=kwargs.pop('timeout', 300), **kwargs)
    assert proc.returncode == 0, '%s: %s' % (' '.join(command), proc.stdout)
    return proc.stdout


def library_versions(python):
    script = 'import cryptography, OpenSSL; print(cryptography.__version__, OpenSSL.__version__)'
    return tuple(run([python, '-c', script]).split())


def old_crypto_python():
    """The interpreter with cryptography 3.4.8 + pyOpenSSL 21.0.0, made once (as `make
    integration` does) and kept in .cache."""
    marker = os.path.join(OLD_CRYPTO, 'bin', '.installed')
    if not os.path.exists(marker):
        shutil.rmtree(OLD_CRYPTO, ignore_errors=True)
        run([DEBIAN_PYTHON, '-m', 'venv', OLD_CRYPTO])
        run([os.path.join(OLD_CRYPTO, 'bin', 'pip'), 'install', '--quiet', 'cryptography==3.4.8', 'pyOpenSSL==21.0.0'],
            timeout=600)
        open(marker, 'w').close()
    assert library_versions(OLD_PYTHON) == OLD_VERSIONS
    return OLD_PYTHON


def openssl(*args):
    return run(['openssl'] + list(args))


def public_key(path, kind='pkey'):
    if kind == 'x509':
        return openssl('x509', '-in', path, '-noout', '-pubkey')
    return openssl('pkey', '-in', path, '-pubout')


def owner_and_mode(path):
    info = os.lstat(path)
    return pwd.getpwuid(info.st_uid).pw_name, stat.S_IMODE(info.st_mode)


class DeployUser(object):
    """A non-root login user that becomes root with sudo, password-less, only with a tty."""

    def __init__(self):
        self.remove()
        # '*': no password login, yet not locked (sshd without PAM refuses every login of a locked account)
        run(['useradd', '--create-home', '--shell', '/bin/sh', '--password', '*', DEPLOY_USER])
        text = ('# vlaanderen.dov test (tests/integration/test_host_side.py): removed after the test\n'
                'Defaults:%s requiretty\n%s ALL=(root) NOPASSWD: ALL\n' % (DEPLOY_USER, DEPLOY_USER))
        staged = SUDOERS + '.tmp'
        with open(staged, 'w') as handle:
            handle.write(text)
        os.chmod(staged, 0o440)
        run(['visudo', '-cf', staged])
        os.rename(staged, SUDOERS)
        self.home = pwd.getpwnam(DEPLOY_USER).pw_dir

    @staticmethod
    def remove():
        for path in (SUDOERS, SUDOERS + '.tmp'):
            if os.path.exists(path):
                os.unlink(path)
        try:
            pwd.getpwnam(DEPLOY_USER)
        except KeyError:
            return
        subprocess.run(['userdel', '--remove', DEPLOY_USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)


class Hosts(object):
    """The deploy user, the two sshd servers and the runs."""

    def __init__(self, folder, runner):
        self.folder = str(folder)
        self.runner = runner
        self.state_dir = os.path.join(self.folder, 'dov-state')
        self.interpreters = {'host-a': DEBIAN_PYTHON, 'host-b': old_crypto_python()}
        self.user = self.ssh = None
        self.ssh_folder = tempfile.mkdtemp(prefix='dov-host-side-ssh-')
        os.chmod(self.ssh_folder, 0o755)       # sshd reads authorized_keys as the deploy user
        try:
            self.user = DeployUser()
            self.ssh = sshd.SshHosts(self.ssh_folder, user=DEPLOY_USER)
            self.servers = dict((host, self.ssh.start(address)) for host, address in sorted(ADDRESSES.items()))
        except Exception:
            self.stop()
            raise
        self.standin_port = free_port()
        self.count = 0

    def stop(self):
        if self.ssh is not None:
            self.ssh.stop()
        DeployUser.remove()
        shutil.rmtree(self.ssh_folder, ignore_errors=True)

    def dest_dir(self, host, application):
        return os.path.join(self.folder, 'fs', host, 'srv', application.lower(), 'dov')

    def path(self, host, application, name):
        return os.path.join(self.dest_dir(host, application), name)

    def inventory(self):
        hosts = {}
        for host, address in sorted(ADDRESSES.items()):
            hosts[host] = {
                'ansible_host': address, 'ansible_port': self.servers[host].port, 'ansible_user': DEPLOY_USER,
                'ansible_ssh_private_key_file': self.ssh.client_key,
                'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null',
                'ansible_become': True, 'ansible_become_method': 'sudo', 'ansible_pipelining': False,
                'ansible_python_interpreter': self.interpreters[host],
                'dov_certificates': [
                    {'application': 'Geodrill', 'environment': 'oefen', 'formats': ['pem', 'pkcs12'],
                     'dest_dir': self.dest_dir(host, 'Geodrill')},
                    {'application': 'Labresultaten', 'environment': 'oefen', 'owner': 'nobody',
                     'dest_dir': self.dest_dir(host, 'Labresultaten')},
                ],
            }
        data = {'all': {'hosts': hosts, 'vars': {
            'dov_state_dir': self.state_dir, 'dov_lab_dir': os.path.join(self.folder, 'lab'),
            'dov_issuer': 'lab', 'dov_lab_standin': True, 'dov_lab_standin_port': self.standin_port,
            'dov_pkcs12_password': P12_PASSWORD,
            'dov_pkcs12_profile': 'legacy',      # what cryptography < 38 writes (host B)
            'dov_organisation': {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701',
                                 'contact_email': 'it@geolab.example'},
            'dov_applications': [{'name': name, 'description': 'Host-side test', 'environments': {'oefen': {'cn': cn}}}
                                 for name, cn in sorted(CNS.items())],
        }}}
        path = os.path.join(self.folder, 'inventory.yml')
        with open(path, 'w') as handle:
            yaml.safe_dump(data, handle, default_flow_style=False)
        return path

    def onboard(self, stage):
        playbook = os.path.join(COLLECTIONS, 'ansible_collections', 'vlaanderen', 'dov', 'playbooks', 'onboard.yml')
        result = self.runner.playbook(playbook, inventory=self.inventory(),
                                      env={'ANSIBLE_PYTHON_INTERPRETER': sys.executable})
        with open(os.path.join(self.folder, 'run-%s.log' % stage), 'w') as handle:
            handle.write(repr(result))
        return result

    def status(self):
        with open(os.path.join(self.state_dir, 'status.json')) as handle:
            return json.load(handle)['pairs']


@pytest.fixture(scope='module')
def hosts(tmp_path_factory):
    made = Hosts(tmp_path_factory.mktemp('host-side'), Ansible(tmp_path_factory.mktemp('ansible-host-side')))
    yield made
    made.stop()


@pytest.fixture(scope='module')
def first(hosts):
    return hosts.onboard('first')


def summary(result):
    lines = ['rc=%s' % result.rc]
    lines += ['%s %s: %s' % (r['host'], r['status'], r['result'].get('msg')) for r in result.failed]
    lines += [line for r in result.records if r['task'].endswith('one line per application and environment')
              for line in r['result'].get('msg') or []]
    return '\n'.join(lines)


# ---------------------------------------------------------------- 1. libraries, sudo, pipelining off

def test_the_hosts_run_the_os_packaged_and_the_oldest_supported_libraries(hosts):
    debian = library_versions(DEBIAN_PYTHON)
    assert debian[0] == run(['dpkg-query', '-W', '-f', '${Version}', 'python3-cryptography']).split('-')[0], debian
    assert library_versions(hosts.interpreters['host-b']) == OLD_VERSIONS


def test_onboarding_as_a_deploy_user_with_sudo_requiretty_verifies_both_pairs_on_both_interpreters(hosts, first):
    assert first.rc == 0, summary(first)
    status = hosts.status()
    for pair in (GEODRILL, LABRESULTATEN):
        assert (status[pair]['state'], status[pair]['verdict']) == ('verified', 'ok'), summary(first)
        assert status[pair]['hosts'] == ['host-a', 'host-b']
    for host in ADDRESSES:
        assert 'Accepted publickey for %s' % DEPLOY_USER in hosts.servers[host].log_text()
        assert owner_and_mode(hosts.path(host, 'Geodrill', 'key.pem')) == ('root', 0o600)
        assert owner_and_mode(hosts.path(host, 'Labresultaten', 'key.pem')) == ('nobody', 0o600)
        for application in CNS:
            cert = hosts.path(host, application, 'cert.pem')
            assert public_key(hosts.path(host, application, 'key.pem')) == public_key(cert, 'x509')
            assert 'CN=%s' % CNS[application] in openssl('x509', '-in', cert, '-noout', '-subject', '-nameopt', 'RFC2253')
        bundle = openssl('pkcs12', '-in', hosts.path(host, 'Geodrill', 'bundle.p12'), '-nokeys', '-clcerts',
                         '-passin', 'pass:' + P12_PASSWORD)
        assert CNS['Geodrill'] in bundle
    # B received A's keys (over the connections, through sudo)
    for application in CNS:
        assert public_key(hosts.path('host-a', application, 'key.pem')) == public_key(hosts.path('host-b', application,
                                                                                                 'key.pem'))
    # Ansible cleaned up its temporary module files in the deploy user's home
    leftovers = [name for _dirs, _subdirs, names in os.walk(os.path.join(hosts.user.home, '.ansible', 'tmp'))
                 for name in names]
    assert leftovers == []


def test_a_second_run_changes_nothing(hosts, first):
    assert first.rc == 0, summary(first)
    again = hosts.onboard('second')
    assert again.rc == 0, summary(again)
    assert [(r['host'], r['task']) for r in again.records if r['status'] == 'changed'] == [], summary(again)


# ---------------------------------------------------------------- 2. killed runs, edited manifests

def test_files_missing_behind_an_edited_manifest_and_a_killed_runs_temp_files_are_put_right(hosts, first):
    assert first.rc == 0, summary(first)
    dest = hosts.dest_dir('host-b', 'Geodrill')
    manifest_path = os.path.join(dest, '.dov-manifest.json')
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    for name in ('cert.pem', 'fullchain.pem'):
        del manifest['files'][os.path.join(dest, name)]
    with open(manifest_path, 'w') as handle:
        json.dump(manifest, handle)
    os.unlink(os.path.join(dest, 'cert.pem'))
    with open(hosts.path('host-b', 'Geodrill', 'key.pem'), 'rb') as handle:
        key = handle.read()
    leftovers = [os.path.join(hosts.dest_dir('host-a', 'Geodrill'), '.key.pem.k1ll3d.tmp'),
                 os.path.join(dest, '.cert.pem.k1ll3d.tmp')]
    for path, data in zip(leftovers, (key, b'half a certificate')):
        with open(path, 'wb') as handle:
            handle.write(data)
    result = hosts.onboard('manifest')
    assert result.rc == 0, summary(result)
    assert os.path.exists(os.path.join(dest, 'cert.pem'))
    assert public_key(os.path.join(dest, 'cert.pem'), 'x509') == public_key(hosts.path('host-b', 'Geodrill', 'key.pem'))
    assert [path for path in leftovers if os.path.lexists(path)] == []
    assert hosts.status()[GEODRILL]['state'] == 'verified'


# ---------------------------------------------------------------- 3. links planted by the application user

def test_links_to_root_only_files_are_refused_by_name_and_the_linked_key_travels_nowhere(hosts, first):
    assert first.rc == 0, summary(first)
    secrets = os.path.join(hosts.folder, 'root-only')
    os.makedirs(secrets, 0o700)
    root_key = os.path.join(secrets, 'other.key')
    root_file = os.path.join(secrets, 'shadow')
    openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', root_key)
    with open(root_file, 'w') as handle:
        handle.write('root only\n')
    for path in (root_key, root_file):
        os.chmod(path, 0o600)
    before = dict((path, (owner_and_mode(path), open(path, 'rb').read())) for path in (root_key, root_file))
    holder_key = hosts.path('host-a', 'Labresultaten', 'key.pem')
    holder_chain = hosts.path('host-a', 'Labresultaten', 'chain.pem')
    for link, target in ((holder_key, root_key), (holder_chain, root_file)):
        os.unlink(link)
        os.symlink(target, link)
    os.unlink(hosts.path('host-b', 'Labresultaten', 'key.pem'))     # B would receive the holder's key

    result = hosts.onboard('links')
    assert result.rc != 0, summary(result)
    assert '%s is a symbolic link (to %s)' % (holder_key, root_key) in result.stdout, summary(result)
    for path, (attributes, data) in before.items():
        assert (owner_and_mode(path), open(path, 'rb').read()) == (attributes, data), path
    assert os.path.islink(holder_key) and os.path.islink(holder_chain)
    received = hosts.path('host-b', 'Labresultaten', 'key.pem')
    assert not os.path.exists(received) or public_key(received) != public_key(root_key)
    for folder, _dirs, names in os.walk(os.path.join(hosts.folder, 'fs')):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path) and name.endswith('.pem') and 'PRIVATE KEY' in open(path).read():
                assert public_key(path) != public_key(root_key), '%s holds the linked root-only key' % path
    status = hosts.status()
    assert status[LABRESULTATEN]['state'] == 'failed', status[LABRESULTATEN]
    assert status[GEODRILL]['state'] == 'verified', status[GEODRILL]
