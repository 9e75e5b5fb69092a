# -*- coding: utf-8 -*-
"""What the prepare phase reports of an installed certificate (for the controller to trust or not),
a key holder that writes no CSR while a working certificate serves its key, dov_certificates[].files
(file names by kind), and the report step rebuilding status.json from what the hosts said."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostcerts, installed
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP, CN = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill'


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('lab') / 'lab-ca'))


@pytest.fixture(scope='module')
def key():
    return pki.generate_private_key()


def entry(dest, holder=False, **more):
    return dict({'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
                 'dest_dir': str(dest), 'key_holder': holder, 'install': {'formats': ['pem']}}, **more)


def hand_installed(dest, lab, key, key_name='key.pem', cert_name='cert.pem', **options):
    """A key and a certificate put in dest by hand: leaf only, no chain file, no CSR, no manifest."""
    os.makedirs(str(dest), exist_ok=True)
    (dest / key_name).write_bytes(pki.dump_private_key(key))
    os.chmod(str(dest / key_name), 0o600)
    (dest / cert_name).write_bytes(lab.sign_csr(pki.dump_csr(pki.build_csr(key, CN)), **options))


def files_of(folder):
    return dict((name, (folder / name).read_bytes()) for name in sorted(os.listdir(str(folder))))


# ---------------------------------------------------------------- file names

def test_file_names_are_the_defaults_unless_renamed():
    names = installed.file_names({'key': 'client.key', 'cert': 'client.crt'})
    assert names == {'key': 'client.key', 'csr': 'csr.pem', 'cert': 'client.crt', 'chain': 'chain.pem',
                     'fullchain': 'fullchain.pem', 'pkcs12': 'bundle.p12', 'jks': 'keystore.jks'}
    assert installed.file_names(None)['key'] == 'key.pem'


@pytest.mark.parametrize('files', [{'cert': 'sub/cert.pem'}, {'cert': '..'}, {'pkcs12': ''}, {'p7b': 'x'},
                                   {'chain': 'cert.pem'}])
def test_file_names_that_are_no_plain_distinct_names_are_refused(files):
    with pytest.raises(DovError):
        installed.file_names(files)


def test_paths_follow_the_file_names(tmp_path):
    item = entry(tmp_path, files={'key': 'client.key', 'csr': 'client.csr'})
    assert installed.paths(item) == (str(tmp_path / 'client.key'), str(tmp_path / 'client.csr'))
    assert installed.file_path(entry(tmp_path, files={'cert': 'client.crt'}), 'cert') == str(tmp_path / 'client.crt')


# ---------------------------------------------------------------- prepare reports what is installed

def test_prepare_reports_a_hand_installed_certificate_and_writes_no_csr_beside_it(tmp_path, lab, key):
    hand_installed(tmp_path, lab, key, 'client.key', 'client.crt')
    before = files_of(tmp_path)
    result = hostcerts.prepare(entry(tmp_path, holder=True, files={'key': 'client.key', 'cert': 'client.crt'}))
    assert result['error'] is None and result['changed'] is False
    assert files_of(tmp_path) == before                   # no csr.pem, nothing rewritten
    leaf = certload.load_certificates(result['installed_pem'].encode('ascii'))[0]
    assert pki.public_key_fingerprint(leaf.public_key()) == result['key_fingerprint'] == pki.public_key_fingerprint(key)
    assert result['installed']['common_name'] == CN and result['installed']['issuer']
    assert result['installed']['fingerprint_sha256'] == certs.fingerprint_sha256(leaf)
    assert result['complete'] is True and result['converged'] is False
    assert 'BEGIN CERTIFICATE REQUEST' in result['csr']    # reported all the same, in memory


def test_prepare_writes_the_csr_when_the_installed_certificate_has_expired(tmp_path, lab, key):
    hand_installed(tmp_path, lab, key, not_before=datetime.datetime.utcnow() - datetime.timedelta(days=20), days=10)
    result = hostcerts.prepare(entry(tmp_path, holder=True))
    assert result['changed'] is True and (tmp_path / 'csr.pem').exists()
    assert result['installed']['days_left'] < 0


def test_prepare_without_the_files_of_every_format_says_incomplete(tmp_path, lab, key):
    hand_installed(tmp_path, lab, key)
    item = entry(tmp_path)
    item['install']['formats'] = ['pem', 'pkcs12']
    result = hostcerts.prepare(item)
    assert result['installed_pem'] and result['complete'] is False


def test_prepare_on_an_empty_folder_reports_nothing_installed(tmp_path):
    result = hostcerts.prepare(entry(tmp_path / 'dov'))
    assert (result['installed'], result['installed_pem'], result['complete']) == (None, None, False)


# ---------------------------------------------------------------- the report rebuilds status.json

def pair_info():
    return {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': ['app-1', 'app-2'],
            'holder': 'app-1', 'state': None, 'messages': [],
            'certificate': {'not_after': '2030-01-01T00:00:00Z', 'days_left': 1500, 'fingerprint_sha256': 'AB'}}


def checked(host_verdict):
    return [{'application': APP, 'environment': 'oefen', 'error': None if host_verdict == 'ok' else 'bad',
             'check': {'verdict': host_verdict, 'hint': None}, 'installed': {'days_left': 1500}}]


def test_an_empty_status_is_rebuilt_from_the_hosts_checks(tmp_path):
    status = {'pairs': {}}
    outcome = states.report({'Geodrill/oefen': pair_info()}, status, {'app-1': checked('ok'), 'app-2': checked('ok')},
                            {'app-1', 'app-2'}, {'app-1', 'app-2'}, 'onboard', 0, True, '2026-01-01T00:00:00+00:00')
    record = status['pairs']['Geodrill/oefen']
    assert outcome['states'] == {'Geodrill/oefen': 'verified'} and outcome['failed_pairs'] == []
    assert (record['key_holder'], record['verdict'], record['fingerprint_sha256']) == ('app-1', 'ok', 'AB')
    assert any('verified' in line for line in outcome['table'])


def test_a_failed_check_of_a_found_certificate_fails_the_pair_and_names_the_host():
    status = {'pairs': {}}
    outcome = states.report({'Geodrill/oefen': pair_info()}, status, {'app-1': checked('ok'), 'app-2': checked('refused')},
                            {'app-1', 'app-2'}, {'app-1', 'app-2'}, 'onboard', 60, True, 'now')
    assert outcome['failed_pairs'] == ['Geodrill/oefen'] and outcome['host_errors'] == {'app-2': ['Geodrill/oefen: bad']}


def test_renew_before_days_zero_keeps_a_short_certificate_verified():
    info = dict(pair_info(), certificate={'days_left': 20})
    results = [dict(checked('ok')[0])] * 2
    assert states.pair_state(info, results, None, 0, True) == 'verified'
    assert states.pair_state(info, results, None, 60, True) == 'renewal_due'


def test_a_waiting_pairs_csr_is_printed_as_the_lines_to_copy():
    csr = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----'
    info = dict(pair_info(), state='waiting_for_certificate', messages=['Geodrill/oefen: the CSR to upload:\n' + csr])
    status = {'pairs': {}}
    outcome = states.report({'Geodrill/oefen': info}, status, {}, {'app-1'}, {'app-1'}, 'onboard', 60, True, 'now')
    assert outcome['messages'] == ['Geodrill/oefen: the CSR to upload:'] + csr.split('\n')
    assert outcome['waiting_pairs'] == ['Geodrill/oefen']
    assert status['pairs']['Geodrill/oefen']['messages'] == info['messages']
