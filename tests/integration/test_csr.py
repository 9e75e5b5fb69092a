# -*- coding: utf-8 -*-
"""vlaanderen.dov.csr through ansible-playbook, checked with the openssl CLI."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import subprocess

from support import snapshot

CN = 'geolab.be/dov-services/oefen/Geodrill'


def openssl(*args, **kwargs):
    return subprocess.run(['openssl'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                          universal_newlines=True, **kwargs)


def test_key_and_csr_are_made_verified_by_openssl_and_a_second_run_changes_nothing(ansible, tmp_path):
    key = tmp_path / 'app' / 'dov' / 'key.pem'
    args = {'common_name': CN, 'privatekey_path': str(key),
            'subject': {'O': 'Geolab nv', 'C': 'BE', 'L': 'Gent'}}

    first = ansible.module('vlaanderen.dov.csr', args)
    assert first['status'] == 'changed', first['run']
    result = first['result']
    assert result['key_created'] is True
    assert result['cn_parts'] == {'organisation': 'geolab.be', 'service': 'dov-services',
                                  'environment': 'oefen', 'application': 'Geodrill'}
    assert len(result['public_key_fingerprint'].split(':')) == 32
    csr = tmp_path / 'app' / 'dov' / 'csr.pem'
    assert result['csr_path'] == str(csr)
    assert result['csr'] == csr.read_text()

    assert stat.S_IMODE(os.stat(str(key)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(key.parent)).st_mode) == 0o700
    verified = openssl('req', '-in', str(csr), '-noout', '-verify', '-subject', '-nameopt', 'RFC2253')
    assert verified.returncode == 0, verified.stdout
    assert 'verify OK' in verified.stdout or 'Certificate request self-signature verify OK' in verified.stdout
    assert 'CN=%s' % CN.replace('/', '/') in verified.stdout
    # The CSR is signed by the key on disk: the public keys agree.
    from_key = openssl('pkey', '-in', str(key), '-pubout').stdout
    from_csr = openssl('req', '-in', str(csr), '-noout', '-pubkey').stdout
    assert from_key == from_csr
    assert 'RSA' in openssl('pkey', '-in', str(key), '-noout', '-text').stdout.split('\n')[0] or \
        'Private-Key: (2048 bit' in openssl('pkey', '-in', str(key), '-noout', '-text').stdout

    before = snapshot(tmp_path / 'app')
    second = ansible.module('vlaanderen.dov.csr', args)
    assert second['status'] == 'ok', second['run']
    assert second['result']['key_created'] is False
    assert snapshot(tmp_path / 'app') == before


def test_check_mode_reports_a_change_and_writes_nothing(ansible, tmp_path):
    key = tmp_path / 'dov' / 'key.pem'
    record = ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key)},
                            check=True, diff=True)
    assert record['status'] == 'changed', record['run']
    assert record['result']['key_created'] is True
    assert not (tmp_path / 'dov').exists()
    assert 'PRIVATE KEY' not in record['run'].stdout


def test_subject_change_rewrites_only_the_csr(ansible, tmp_path):
    key = tmp_path / 'key.pem'
    ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key)})
    key_bytes = key.read_bytes()
    record = ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key),
                                                   'subject': {'O': 'Geolab nv'}}, diff=True)
    assert record['status'] == 'changed'
    assert record['result']['key_created'] is False
    assert key.read_bytes() == key_bytes
    assert 'O=Geolab nv' in openssl('req', '-in', str(tmp_path / 'csr.pem'), '-noout', '-subject',
                                    '-nameopt', 'RFC2253').stdout


def test_key_size_1024_is_refused(ansible, tmp_path):
    record = ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(tmp_path / 'k.pem'),
                                                   'key_size': 1024})
    assert record['status'] == 'failed'
    assert 'key_size' in record['result']['msg'] and '2048' in record['result']['msg']
    assert os.listdir(str(tmp_path)) == []
    assert not (tmp_path / 'k.pem').exists()


def test_environment_prod_is_refused_with_the_valid_ones(ansible, tmp_path):
    record = ansible.module('vlaanderen.dov.csr', {'common_name': 'geolab.be/dov-services/prod/Geodrill',
                                                   'privatekey_path': str(tmp_path / 'k.pem')})
    assert record['status'] == 'failed'
    message = record['result']['msg']
    assert "'prod'" in message and 'productie' in message and 'oefen' in message
    assert not (tmp_path / 'k.pem').exists()


def test_garbage_key_file_is_refused_and_left_untouched(ansible, tmp_path):
    key = tmp_path / 'key.pem'
    key.write_bytes(b'this is not a key\n')
    os.chmod(str(key), 0o600)
    before = snapshot(tmp_path)
    record = ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key)})
    assert record['status'] == 'failed'
    assert str(key) in record['result']['msg']
    assert 'is not a PEM private key' in record['result']['msg']
    assert snapshot(tmp_path) == before


def test_a_key_of_another_size_is_not_replaced(ansible, tmp_path):
    key = tmp_path / 'key.pem'
    ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key), 'key_size': 3072})
    before = snapshot(tmp_path)
    record = ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key)})
    assert record['status'] == 'failed'
    assert '3072' in record['result']['msg'] and 'regenerate' in record['result']['msg']
    assert snapshot(tmp_path) == before


def test_passphrase_never_shows_even_at_vvv(ansible, tmp_path):
    key = tmp_path / 'key.pem'
    record = ansible.module('vlaanderen.dov.csr', {'common_name': CN, 'privatekey_path': str(key),
                                                   'privatekey_passphrase': 'S3cret-Passphrase-42'},
                            verbosity=3)
    assert record['status'] == 'changed', record['run']
    assert 'ENCRYPTED PRIVATE KEY' in key.read_text()
    assert 'S3cret-Passphrase-42' not in record['run'].stdout + record['run'].stderr
    assert 'PRIVATE KEY' not in record['run'].stdout


def test_filters_build_and_parse_including_the_trailing_slash_cn(ansible):
    run = ansible.playbook('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: build
      ansible.builtin.debug:
        msg: "{{ 'geolab.be' | vlaanderen.dov.dov_cn('oefen', 'Geodrill') }}"
    - name: parse
      ansible.builtin.debug:
        msg: "{{ 'omgeving.vlaanderen.be/dov-services/ontwikkel/dov-client1/' | vlaanderen.dov.dov_cn_parse }}"
    - name: refuse
      ansible.builtin.debug:
        msg: "{{ 'geolab.be' | vlaanderen.dov.dov_cn('acc', 'Geodrill') }}"
''')
    assert run.task('build')['result']['msg'] == CN
    parsed = run.task('parse')['result']['msg']
    assert parsed['environment'] == 'ontwikkel' and parsed['application'] == 'dov-client1'
    assert parsed['organisation'] == 'omgeving.vlaanderen.be'
    refused = run.task('refuse')
    assert refused['status'] == 'failed' and "'acc'" in refused['result']['msg']
