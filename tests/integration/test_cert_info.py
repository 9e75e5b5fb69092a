# -*- coding: utf-8 -*-
"""vlaanderen.dov.cert_info through ansible-playbook: the real VO-PKI certificates, a PKCS#12 and a
JKS keystore (made by keytool), in check mode and at -vvv; refusals leave the folder as it was."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess

import pytest

import pki_factory
from conftest import Ansible
from support import snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
VO_PKI = os.path.join(os.path.dirname(HERE), 'fixtures', 'vo-pki')
P12_PASSWORD = 'p12-Geheim-4e1f7a'
JKS_PASSWORD = 'jks-Geheim-8c2d9b'

PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: geodrill
      vlaanderen.dov.cert_info:
        path: {vo_pki}/geolab-oefen-geodrill.pem
    - name: client1
      vlaanderen.dov.cert_info:
        path: {vo_pki}/omgeving-ontwikkel-dov-client1.pem
    - name: pkcs12
      vlaanderen.dov.cert_info:
        path: {folder}/bundle.p12
        pkcs12_password: "{{{{ p12_password }}}}"
        renew_before_days: 2000
    - name: jks
      vlaanderen.dov.cert_info:
        path: {folder}/keystore.jks
        jks_password: "{{{{ jks_password }}}}"
    - name: missing
      vlaanderen.dov.cert_info:
        path: {folder}/nowhere.pem
      ignore_errors: true
    - name: wrong password
      vlaanderen.dov.cert_info:
        path: {folder}/keystore.jks
        jks_password: "not-{{{{ jks_password }}}}"
      ignore_errors: true
'''


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The play once normally at -vvv and once in check mode; the keystore folder before and after."""
    if shutil.which('keytool') is None:
        pytest.fail('Java keytool is not installed: run `make deps`.')
    pki = pki_factory.shared()
    folder = tmp_path_factory.mktemp('stores')
    (folder / 'leaf.pem').write_bytes(pki_factory.pem(pki.leaf))
    (folder / 'key.pem').write_bytes(pki_factory.key_pem(pki.key))
    # the PKCS#12 by openssl, the JKS from it by keytool: other people's tools make the inputs
    subprocess.run(['openssl', 'pkcs12', '-export', '-out', str(folder / 'bundle.p12'), '-passout', 'env:PW',
                    '-inkey', str(folder / 'key.pem'), '-in', str(folder / 'leaf.pem'), '-name', 'dov-client'],
                   env=dict(os.environ, PW=P12_PASSWORD), check=True)
    subprocess.run(['keytool', '-importkeystore', '-noprompt', '-srckeystore', str(folder / 'bundle.p12'),
                    '-srcstoretype', 'PKCS12', '-srcstorepass:env', 'P12', '-destkeystore', str(folder / 'keystore.jks'),
                    '-deststoretype', 'JKS', '-deststorepass:env', 'JKS', '-destkeypass:env', 'JKS'],
                   env=dict(os.environ, P12=P12_PASSWORD, JKS=JKS_PASSWORD), check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.remove(str(folder / 'key.pem'))
    openssl = subprocess.run(['openssl', 'x509', '-in', str(folder / 'leaf.pem'), '-noout', '-fingerprint', '-sha256'],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    ansible = Ansible(tmp_path_factory.mktemp('ansible'))
    play = PLAY.format(vo_pki=VO_PKI, folder=folder)
    secrets = {'p12_password': P12_PASSWORD, 'jks_password': JKS_PASSWORD}  # as from a vault
    before = snapshot(folder)
    normal = ansible.playbook(play, extra_vars=secrets, verbosity=3)
    check = ansible.playbook(play, extra_vars=secrets, check=True)
    return {'normal': normal, 'check': check, 'before': before, 'after': snapshot(folder),
            'openssl_fingerprint': openssl.strip().split('=', 1)[1]}


def test_real_vo_pki_certificates_are_read_expired_with_cn_parts_issuer_key_and_eku(runs):
    geodrill = runs['normal'].task('geodrill')
    assert geodrill['status'] == 'ok'
    result = geodrill['result']
    assert result['common_name'] == 'geolab.be/dov-services/oefen/Geodrill'
    assert result['cn_parts']['application'] == 'Geodrill' and result['cn_parts']['environment'] == 'oefen'
    assert result['issuer'] == 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE'
    assert result['not_after'] == '2026-01-09T11:15:05Z'
    assert result['expired'] is True and result['needs_renewal'] is True and result['days_left'] < 0
    assert (result['key_type'], result['key_size'], result['extended_key_usage']) == ('RSA', 2048, ['clientAuth'])
    client1 = runs['normal'].task('client1')['result']
    assert client1['cn_parts']['trailing_slash'] is True
    assert client1['cn_parts']['application'] == 'dov-client1'


def test_pkcs12_by_openssl_and_jks_by_keytool_are_read_with_their_passwords(runs):
    p12 = runs['normal'].task('pkcs12')['result']
    jks = runs['normal'].task('jks')['result']
    assert (p12['format'], jks['format']) == ('pkcs12', 'jks')
    assert p12['common_name'] == jks['common_name'] == pki_factory.CN
    assert p12['fingerprint_sha256'] == jks['fingerprint_sha256'] == runs['openssl_fingerprint']
    assert p12['needs_renewal'] is True and p12['renew_before_days'] == 2000  # 1825 days left < 2000
    assert jks['needs_renewal'] is False


def test_missing_file_and_wrong_password_fail_clearly_and_change_nothing(runs):
    missing = runs['normal'].task('missing')
    assert missing['status'] == 'failed'
    assert missing['result']['msg'].endswith('nowhere.pem does not exist. Point path at a deployed certificate '
                                             '(for example <dest_dir>/cert.pem).')
    wrong = runs['normal'].task('wrong password')
    assert wrong['status'] == 'failed'
    assert 'does not open with the given jks_password' in wrong['result']['msg']
    assert 'Traceback' not in runs['normal'].stdout
    assert runs['after'] == runs['before']


def test_never_changed_in_check_mode_either_and_no_password_shows_at_vvv(runs):
    for run in (runs['normal'], runs['check']):
        assert run.changed == 0
        assert [record['task'] for record in run.failed] == ['missing', 'wrong password']
    assert runs['check'].task('jks')['result']['common_name'] == pki_factory.CN
    output = runs['normal'].stdout + runs['normal'].stderr
    assert P12_PASSWORD not in output and JKS_PASSWORD not in output
