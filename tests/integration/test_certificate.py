# -*- coding: utf-8 -*-
"""vlaanderen.dov.certificate through ansible-playbook, with a CA the project has never seen.

Checked with other people's tools: the openssl CLI, Java's keytool, curl against a real nginx
that asks for client certificates.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import os
import shutil
import socket
import stat
import subprocess
import time

import pytest

import pki_factory
from conftest import Ansible
from support import snapshot

MODULE = 'vlaanderen.dov.certificate'
CN = pki_factory.CN
P12_PASSWORD = 'p12-Geheim-9f3c1a'
JKS_PASSWORD = 'jks-Geheim-7b2e4d'
KEY_PASSPHRASE = 'key-Geheim-5d8a0c'
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
ALL_FORMATS = ['pem', 'pkcs12', 'jks']


def run(*command, **kwargs):
    return subprocess.run(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          check=False, **kwargs)


@pytest.fixture(scope='session')
def pki(tmp_path_factory):
    """The test PKI, made once, and its files."""
    made = pki_factory.shared()
    folder = tmp_path_factory.mktemp('pki')
    made.paths = made.write(str(folder))
    made.folder = folder
    return made


def install_args(pki, dest, src=None, **extra):
    args = {'src': src or pki.paths['leaf.cer'], 'privatekey_path': pki.paths['key.pem'], 'expected_common_name': CN,
            'ca_bundle': pki.paths['ca-bundle.pem'], 'dest_dir': str(dest), 'formats': ALL_FORMATS,
            'pkcs12_password': P12_PASSWORD, 'jks_password': JKS_PASSWORD}
    args.update(extra)
    return args


@pytest.fixture(scope='module')
def installed(pki, tmp_path_factory):
    """The DER .cer installed in all formats, then the same certificate again as PKCS#7."""
    ansible = Ansible(tmp_path_factory.mktemp('ansible'))
    dest = tmp_path_factory.mktemp('installed') / 'dov'
    first = ansible.module(MODULE, install_args(pki, dest))
    after_first = snapshot(dest)
    again = ansible.module(MODULE, install_args(pki, dest, src=pki.paths['leaf.p7b']))
    return {'dest': dest, 'first': first, 'again': again, 'after_first': after_first}


@pytest.fixture(scope='module')
def nginx(pki, tmp_path_factory):
    """A real nginx on 127.0.0.1 that requires a client certificate from the test root."""
    if not os.path.exists(NGINX):
        pytest.skip('nginx is not installed (apt-get install -y nginx-light)')
    prefix = tmp_path_factory.mktemp('nginx')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    conf = prefix / 'nginx.conf'
    conf.write_text('''
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 32; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {server};
        ssl_certificate_key {server_key};
        ssl_client_certificate {root};
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / {{
            default_type text/plain;
            return 200 "accepted $ssl_client_s_dn\\n";
        }}
    }}
}}
'''.format(prefix=prefix, port=port, server=pki.paths['server.pem'], server_key=pki.paths['server-key.pem'],
           root=pki.paths['root.pem']))
    process = subprocess.Popen([NGINX, '-p', str(prefix), '-c', str(conf), '-e', str(prefix / 'error.log')],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail('nginx did not start: %s' % process.stderr.read().decode())
            time.sleep(0.05)
    yield 'https://127.0.0.1:%d/' % port
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def curl(url, pki, *args):
    return run('curl', '-sS', '--max-time', '10', '--cacert', pki.paths['root.pem'], *(list(args) + [url]))


# ---------------------------------------------------------------- it installs, once

def test_a_der_cer_installs_in_every_format_and_returns_what_it_is(installed, pki):
    record = installed['first']
    assert record['status'] == 'changed', record['run']
    result = record['result']
    assert result['common_name'] == CN
    assert result['days_left'] == 1824 or result['days_left'] == 1823
    assert result['issuer'] == 'CN=Test Issuing CA 2,O=Test PKI nobody trusts,C=BE'
    assert result['serial'] == '%X' % pki.leaf.serial_number or result['serial'] == '0%X' % pki.leaf.serial_number
    dest = installed['dest']
    assert sorted(result['files']) == ['cert', 'chain', 'fullchain', 'jks', 'pkcs12']
    assert result['files']['jks'] == {'path': str(dest / 'keystore.jks'), 'changed': True, 'mode': '0600'}
    assert sorted(os.listdir(str(dest))) == ['bundle.p12', 'cert.pem', 'chain.pem', 'fullchain.pem', 'keystore.jks']
    modes = dict((name, stat.S_IMODE(os.stat(str(dest / name)).st_mode)) for name in os.listdir(str(dest)))
    assert modes == {'cert.pem': 0o644, 'chain.pem': 0o644, 'fullchain.pem': 0o644, 'bundle.p12': 0o600,
                     'keystore.jks': 0o600}
    fingerprint = run('openssl', 'x509', '-in', str(dest / 'cert.pem'), '-noout', '-fingerprint', '-sha256').stdout
    assert fingerprint.strip().split('=')[1] == result['fingerprint_sha256']
    end = run('openssl', 'x509', '-in', str(dest / 'cert.pem'), '-noout', '-enddate').stdout
    assert end.strip() == 'notAfter=' + pki.leaf.not_valid_after_utc.strftime('%b %e %H:%M:%S %Y GMT')


def test_the_same_certificate_as_pkcs7_is_recognised_as_installed_keystores_included(installed):
    record = installed['again']
    assert record['status'] == 'ok', record['run']
    assert record['result']['changed'] is False
    assert all(not entry['changed'] for entry in record['result']['files'].values())
    assert snapshot(installed['dest']) == installed['after_first']


def test_openssl_verifies_the_chain_from_chain_pem_and_fullchain_pem(installed, pki):
    dest = installed['dest']
    root = pki.paths['root.pem']
    with_chain = run('openssl', 'verify', '-CAfile', root, '-untrusted', str(dest / 'chain.pem'), str(dest / 'cert.pem'))
    assert with_chain.returncode == 0 and ': OK' in with_chain.stdout, with_chain.stdout
    with_full = run('openssl', 'verify', '-CAfile', root, '-untrusted', str(dest / 'fullchain.pem'),
                    '-purpose', 'sslclient', str(dest / 'fullchain.pem'))
    assert with_full.returncode == 0, with_full.stdout
    # and the check can fail: without the intermediate it does not verify
    alone = run('openssl', 'verify', '-CAfile', root, str(dest / 'cert.pem'))
    assert alone.returncode != 0
    assert 'BEGIN CERTIFICATE' not in (dest / 'chain.pem').read_text().split('END CERTIFICATE')[1]  # no root


@pytest.mark.parametrize('name, storetype, password', [
    ('bundle.p12', 'PKCS12', P12_PASSWORD),
    ('keystore.jks', 'JKS', JKS_PASSWORD),
])
def test_keytool_opens_the_keystores_with_the_key_entry_and_chain(installed, name, storetype, password):
    listed = run('keytool', '-list', '-v', '-keystore', str(installed['dest'] / name), '-storetype', storetype,
                 '-storepass:env', 'STOREPASS', env=dict(os.environ, STOREPASS=password))
    assert listed.returncode == 0, listed.stdout
    assert 'Alias name: dov-client' in listed.stdout
    assert 'Entry type: PrivateKeyEntry' in listed.stdout
    assert 'Certificate chain length: 2' in listed.stdout
    assert 'CN=%s' % CN in listed.stdout
    wrong = run('keytool', '-list', '-keystore', str(installed['dest'] / name), '-storetype', storetype,
                '-storepass:env', 'STOREPASS', env=dict(os.environ, STOREPASS='not-the-password'))
    assert wrong.returncode != 0


def test_nginx_accepts_the_installed_files_and_refuses_a_stranger(installed, pki, nginx, tmp_path):
    dest = installed['dest']
    pem = curl(nginx, pki, '--cert', str(dest / 'fullchain.pem'), '--key', pki.paths['key.pem'])
    assert pem.returncode == 0 and pem.stdout.startswith('accepted ') and 'CN=%s' % CN in pem.stdout, pem.stdout
    p12 = curl(nginx, pki, '--cert-type', 'P12', '--cert', '%s:%s' % (dest / 'bundle.p12', P12_PASSWORD))
    assert p12.returncode == 0 and p12.stdout.startswith('accepted '), p12.stdout
    # nginx really checks: no certificate, or one from another CA, is refused
    bare = curl(nginx, pki)
    assert '400' in bare.stdout and 'No required SSL certificate was sent' in bare.stdout
    stranger = tmp_path / 'stranger.pem'
    stranger.write_bytes(pki_factory.pem(pki.wrong['unknown CA'], pki.stranger_intermediate.cert))
    refused = curl(nginx, pki, '--cert', str(stranger), '--key', pki.paths['key.pem'])
    assert 'The SSL certificate error' in refused.stdout, refused.stdout
    # the second opinion on what the module refuses before installing: nginx refuses a certificate with
    # an unknown critical extension (its error log says why)
    critical = tmp_path / 'critical.pem'
    critical.write_bytes(pki_factory.pem(pki.wrong['unknown critical extension'], pki.intermediate.cert))
    refused = curl(nginx, pki, '--cert', str(critical), '--key', pki.paths['key.pem'])
    assert 'The SSL certificate error' in refused.stdout, refused.stdout


# ---------------------------------------------------------------- check mode, diff, secrets

def test_check_mode_reports_the_change_shows_the_diff_and_writes_nothing(ansible, pki, tmp_path):
    dest = tmp_path / 'dov'
    record = ansible.module(MODULE, install_args(pki, dest), check=True, diff=True)
    assert record['status'] == 'changed', record['run']
    assert not dest.exists()
    assert all(entry['changed'] for entry in record['result']['files'].values())
    diff = record['result']['diff']
    assert diff['before'] == {}
    assert diff['after']['subject'].startswith('emailAddress=it@lab.example,CN=%s' % CN)
    assert sorted(diff['after']) == ['fingerprint_sha256', 'not_after', 'serial', 'subject']
    assert 'PRIVATE KEY' not in record['run'].stdout


def test_a_renewal_shows_old_and_new_serial_in_the_diff(ansible, pki, tmp_path):
    dest = tmp_path / 'dov'
    ansible.module(MODULE, install_args(pki, dest, formats=['pem']))
    record = ansible.module(MODULE, install_args(pki, dest, src=pki.paths['renewed.cer'], formats=['pem']),
                            diff=True)
    assert record['status'] == 'changed'
    assert record['result']['diff']['before']['serial'] != record['result']['diff']['after']['serial']
    assert '-    "serial": "%s"' % record['result']['diff']['before']['serial'] in record['run'].stdout
    assert (dest / 'cert.pem').read_bytes() == pki_factory.pem(pki.renewed)


def test_passwords_and_key_never_show_even_at_vvv(ansible, pki, tmp_path):
    key = tmp_path / 'encrypted-key.pem'
    key.write_bytes(pki.key.private_bytes(pki_factory.serialization.Encoding.PEM,
                                          pki_factory.serialization.PrivateFormat.PKCS8,
                                          pki_factory.serialization.BestAvailableEncryption(KEY_PASSPHRASE.encode())))
    args = install_args(pki, tmp_path / 'dov', privatekey_path=str(key), privatekey_passphrase=KEY_PASSPHRASE)
    good = ansible.module(MODULE, args, verbosity=3, diff=True)
    assert good['status'] == 'changed', good['run']
    bad = ansible.module(MODULE, dict(args, expected_common_name='lab.example/dov-services/oefen/Other'), verbosity=3)
    assert bad['status'] == 'failed'
    for record in (good, bad):
        results = [dict((key, value) for key, value in item.items() if key != 'run') for item in record['run'].records]
        seen = record['run'].stdout + record['run'].stderr + json.dumps(results)
        assert 'pkcs12_password' in seen  # the invocation is shown ...
        for secret in (P12_PASSWORD, JKS_PASSWORD, KEY_PASSPHRASE):
            assert secret not in seen  # ... but never the secrets
        assert 'PRIVATE KEY' not in seen


def test_without_keytool_jks_is_refused_saying_install_a_jre_or_use_pkcs12(ansible, pki, tmp_path):
    dest = tmp_path / 'dov'
    play = ('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
            '    - name: under test\n      %s: %s\n      environment:\n        PATH: /nonexistent\n'
            '        JAVA_HOME: ""\n' % (MODULE, json.dumps(install_args(pki, dest))))
    record = ansible.playbook(play).task('under test')
    assert record['status'] == 'failed'
    message = record['result']['msg']
    assert "needs Java's keytool" in message and 'Install a Java runtime' in message and 'pkcs12' in message
    assert not dest.exists()


# ---------------------------------------------------------------- thirteen kinds of wrong input

def wrong_inputs(pki, folder):
    """(name, extra args, what the message must say) for the thirteen wrong inputs."""
    def put(name, data):
        path = folder / name
        path.write_bytes(data)
        return str(path)

    leaf_der = pki_factory.der(pki.leaf)
    cases = [
        ('another key', {'src': put('another-key.cer', pki_factory.der(pki.wrong['another key']))},
         ['issued for another key', 'Was the CSR from this host?']),
        ('another CN', {'src': put('another-cn.cer', pki_factory.der(pki.wrong['another CN']))},
         ["has the CN 'lab.example/dov-services/oefen/Other'", repr(CN)]),
        ('expired', {'src': put('expired.cer', pki_factory.der(pki.wrong['expired']))}, ['expired on']),
        ('not yet valid', {'src': put('future.cer', pki_factory.der(pki.wrong['not yet valid']))},
         ['is not valid yet', 'valid from']),
        ('server-only usage', {'src': put('server.cer', pki_factory.der(pki.wrong['server-only usage']))},
         ['does not allow client authentication', 'serverAuth']),
        ('unknown CA', {'src': put('stranger.p7b', pki_factory.p7b([pki.wrong['unknown CA'],
                                                                   pki.stranger_intermediate.cert]))},
         ['does not chain to ca_bundle', 'unknown CA']),
        ('too few days left', {'src': put('short.cer', pki_factory.der(pki.wrong['too few days left'])),
                               'min_days_left': 30}, ['days left', 'fewer than min_days_left=30']),
        ('garbage', {'content': 'Dit is geen certificaat.'}, ['content is not a certificate']),
        ('truncated', {'src': put('truncated.cer', leaf_der[:len(leaf_der) // 2])}, ['is truncated']),
        ('empty', {'src': put('empty.cer', b'')}, ['is empty']),
        ('a CSR', {'content': pki_factory.csr_pem(pki.key).decode('ascii')},
         ['holds a CSR (a certificate request), not the certificate. Upload it in VO-DCBaaS and use what comes back']),
        ('a private key', {'src': put('key-as-cert.pem', pki_factory.key_pem(pki.other_key))},
         ['holds a private key, not a certificate']),
        ('unknown critical extension', {'src': put('critical.cer', pki_factory.der(pki.wrong['unknown critical extension']))},
         ['has a critical extension that TLS servers do not know: %s' % pki_factory.UNKNOWN_CRITICAL_OID,
          'Ask the issuer for a certificate without it']),
    ]
    return cases


def test_thirteen_kinds_of_wrong_input_are_refused_by_name_and_the_installed_files_stay_byte_identical(
        ansible, pki, tmp_path):
    dest = tmp_path / 'dov'
    first = ansible.module(MODULE, install_args(pki, dest))
    assert first['status'] == 'changed', first['run']
    before = snapshot(dest)
    inputs = tmp_path / 'inputs'
    inputs.mkdir()
    cases = wrong_inputs(pki, inputs)
    assert len(cases) == 13
    tasks = []
    for name, extra, _expected in cases:
        args = install_args(pki, dest, **extra)
        if 'content' in extra:
            del args['src']
        tasks.append('    - name: %s\n      %s: %s\n      ignore_errors: true\n' % (name, MODULE, json.dumps(args)))
    run_ = ansible.playbook('- hosts: localhost\n  gather_facts: false\n  tasks:\n' + ''.join(tasks))
    for name, _extra, expected in cases:
        record = run_.task(name)
        assert record['status'] == 'failed', (name, record)
        message = record['result']['msg']
        for part in expected:
            assert part in message, (name, message)
        assert message in run_.stdout  # what the user sees
        assert JKS_PASSWORD not in message and P12_PASSWORD not in message
    assert snapshot(dest) == before
    assert sorted(os.listdir(str(dest))) == ['bundle.p12', 'cert.pem', 'chain.pem', 'fullchain.pem', 'keystore.jks']


def test_base64_content_of_the_der_installs_like_the_file(ansible, pki, tmp_path):
    dest = tmp_path / 'dov'
    args = install_args(pki, dest, formats=['pem'])
    del args['src']
    args['content'] = base64.b64encode(pki_factory.der(pki.leaf)).decode('ascii')
    record = ansible.module(MODULE, args)
    assert record['status'] == 'changed', record['run']
    again = ansible.module(MODULE, install_args(pki, dest, formats=['pem'], src=pki.paths['leaf.pem']))
    assert again['status'] == 'ok'
