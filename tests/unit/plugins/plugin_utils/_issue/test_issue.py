# -*- coding: utf-8 -*-
"""issue: the hosts are the truth. certificate_file, the cache, a certificate found on the hosts
(adopted as it is), then the issuer; which hosts install, which only check. Real certificates
from a lab CA; the issuer is a program that fails if it is called."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import shutil

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issue
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP, CN, PAIR = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill', 'Geodrill/oefen'
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
NEVER = 'echo the issuer was called >&2; exit 3'


def csr_of(key):
    return pki.dump_csr(pki.build_csr(key, CN)).decode('ascii')


def bundle(ca):
    return os.path.join(ca.folder, labca.FILES['bundle'])


def signed(ca, key, **options):
    return ca.sign_csr(csr_of(key).encode('ascii'), **options)


def fingerprint_of(pem):
    return certs.fingerprint_sha256(certload.load_certificates(pem)[0])


def found(key, pem=None, holder=False, complete=True):
    """A prepare result as hostcerts.prepare returns it without a certificate from the controller."""
    result = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'dest_dir': '/opt/geodrill/dov',
              'key_fingerprint': pki.public_key_fingerprint(key), 'csr': csr_of(key) if holder else None,
              'csr_path': '/opt/geodrill/dov/csr.pem', 'converged': False, 'error': None,
              'installed': None, 'installed_pem': None, 'complete': False}
    if pem is not None:
        text = pem.decode('ascii') if isinstance(pem, bytes) else pem
        result.update(installed={'fingerprint_sha256': fingerprint_of(text.encode('ascii'))}, installed_pem=text,
                      complete=complete)
    return result


def run(state_dir, prepared, ca_bundle, environment=None, base_dir=None, **options):
    applications = [{'name': APP, 'description': 'Boorgegevens', 'environments': {'oefen': dict({'cn': CN}, **(environment or {}))}}]
    hosts = {'app-1': [{'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}],
             'app-2': [{'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}]}
    inv = inventory.Inventory(ORGANISATION, applications, hosts, base_dir=base_dir)
    pairs, _hosts, _notes = plan.plan_hosts(inv, str(state_dir), {'pairs': {}}, ['app-1', 'app-2'], {})
    options.setdefault('issuer', 'command')
    options.setdefault('command', NEVER)
    changed = issue.issue_pairs(inv, pairs, prepared, str(state_dir), options.pop('issuer'), ca_bundle=ca_bundle,
                                **options)
    return changed, pairs[PAIR], inv, pairs


# ---------------------------------------------------------------- check_for_key

def test_check_for_key_reads_der_and_pkcs7_and_gives_leaf_and_chain(lab, key1):
    pem = signed(lab, key1)
    leaf = certload.load_certificates(pem)[0]
    ca_certs = certload.load_ca_bundle(open(bundle(lab), 'rb').read())
    for data in (leaf.public_bytes(serialization.Encoding.DER), pkcs7.serialize_certificates([leaf], serialization.Encoding.DER)):
        text, described = issue.check_for_key(data, pki.public_key_fingerprint(key1), CN, ca_certs, 'the file')
        assert described['common_name'] == CN and described['fingerprint_sha256'] == certs.fingerprint_sha256(leaf)
        assert len(certload.load_certificates(text.encode('ascii'))) == 2        # leaf + issuing CA (no root)


def test_check_for_key_names_both_keys_of_a_certificate_for_another_key(lab, key1, key2):
    with pytest.raises(DovError) as info:
        issue.check_for_key(signed(lab, key2), pki.public_key_fingerprint(key1), CN, None, 'certificate_file x.cer')
    assert str(info.value).startswith('certificate_file x.cer was issued for another key (its public key SHA-256 is %s, '
                                      "this pair's key is %s)." % (pki.public_key_fingerprint(key2),
                                                                   pki.public_key_fingerprint(key1)))


# ---------------------------------------------------------------- a lost cache

def test_a_lost_cache_takes_the_installed_certificate_without_calling_the_issuer(tmp_path, lab, key1):
    pem = signed(lab, key1)
    prepared = {'app-1': [found(key1, pem, holder=True)], 'app-2': [found(key1, pem)]}
    changed, info, _inv, _pairs = run(tmp_path, prepared, bundle(lab))
    assert changed is False and info['state'] is None, info['messages']
    assert info['source'] == 'hosts' and info['install'] == [] and info['check'] == ['app-1', 'app-2']
    stored = statefolder.stored_certificate(str(tmp_path), APP, 'oefen')
    assert certs.fingerprint_sha256(certload.load_certificates(stored.encode('ascii'))[0]) == fingerprint_of(pem)


def test_without_verification_an_adopted_certificate_is_not_checked(tmp_path, lab, key1):
    pem = signed(lab, key1)
    prepared = {'app-1': [found(key1, pem, holder=True)], 'app-2': [found(key1, pem)]}
    _changed, info, _inv, _pairs = run(tmp_path, prepared, bundle(lab), verify=False)
    assert info['install'] == [] and info['check'] == []


def test_a_host_missing_a_format_file_installs(tmp_path, lab, key1):
    pem = signed(lab, key1)
    prepared = {'app-1': [found(key1, pem, holder=True)], 'app-2': [found(key1, pem, complete=False)]}
    _changed, info, _inv, _pairs = run(tmp_path, prepared, bundle(lab))
    assert info['install'] == [('app-2', False)] and info['check'] == ['app-1']


def test_the_key_holder_is_rebuilt_from_the_host_whose_key_has_the_certificate(tmp_path, lab, key1, key2):
    pem = signed(lab, key1)
    prepared = {'app-1': [found(key2, holder=True)], 'app-2': [found(key1, pem)]}
    _changed, info, inv, pairs = run(tmp_path, prepared, bundle(lab))
    assert info['holder'] == 'app-2'
    assert info['install'] == [('app-1', True)] and info['check'] == ['app-2']
    install, keys = issue.deliveries(inv, pairs, {})
    assert keys == [{'host': 'app-1', 'pair': PAIR, 'holder': 'app-2', 'key_path': '/opt/geodrill/dov/key.pem'}]
    assert install['app-1'][0]['shared_key'] == PAIR and install['app-1'][0]['certificate'].startswith('-----BEGIN')
    assert list(install) == ['app-1']      # no check settings: nothing to check app-2 with


@pytest.mark.parametrize('why', ['unknown CA', 'expired'])
def test_an_installed_certificate_that_cannot_be_adopted_is_named_and_a_new_one_issued(tmp_path, lab, other_lab, key1, why):
    if why == 'unknown CA':
        pem, expected = signed(other_lab, key1), 'ca_bundle'
    else:
        pem = signed(lab, key1, not_before=datetime.datetime.utcnow() - datetime.timedelta(days=30), days=10)
        expected = 'expired'
    prepared = {'app-1': [found(key1, pem, holder=True)], 'app-2': [found(key1, pem)]}
    state_dir = tmp_path / 'state'
    os.makedirs(str(state_dir))
    shutil.copytree(lab.folder, str(state_dir / 'lab-ca'))
    changed, info, _inv, _pairs = run(state_dir, prepared, bundle(lab), issuer='lab')
    notes = [message for message in info['messages'] if 'is not adopted' in message]
    assert len(notes) == 2 and expected in notes[0].lower(), info['messages']
    assert notes[0].startswith('Geodrill/oefen: the certificate in /opt/geodrill/dov on app-1 is not adopted')
    assert changed is True and info['source'] == 'issuer'
    assert info['install'] == [('app-1', False), ('app-2', False)]


# ---------------------------------------------------------------- certificate_file

def test_certificate_file_relative_to_the_inventory_is_checked_and_installed(tmp_path, lab, key1):
    leaf = certload.load_certificates(signed(lab, key1))[0]
    (tmp_path / 'geodrill.cer').write_bytes(leaf.public_bytes(serialization.Encoding.DER))
    prepared = {'app-1': [found(key1, holder=True)], 'app-2': [found(key1)]}
    changed, info, _inv, _pairs = run(tmp_path / 'state', prepared, bundle(lab),
                                      environment={'certificate_file': 'geodrill.cer'}, base_dir=str(tmp_path))
    assert changed is False and info['source'] == 'certificate_file'
    assert info['install'] == [('app-1', False), ('app-2', False)]
    assert info['certificate']['fingerprint_sha256'] == certs.fingerprint_sha256(leaf)


def test_certificate_file_for_another_key_fails_the_pair_and_nothing_is_written(tmp_path, lab, key1, key2):
    (tmp_path / 'other.pem').write_bytes(signed(lab, key2))
    prepared = {'app-1': [found(key1, signed(lab, key1), holder=True)], 'app-2': [found(key1)]}
    changed, info, _inv, _pairs = run(tmp_path / 'state', prepared, bundle(lab),
                                      environment={'certificate_file': 'other.pem'}, base_dir=str(tmp_path))
    assert changed is False and info['state'] == 'failed'
    assert info['install'] == [] and info['check'] == []
    assert "was issued for another key" in info['messages'][0] and 'The hosts keep their files.' in info['messages'][0]
    assert not (tmp_path / 'state').exists()


def test_deliveries_give_checked_hosts_a_verify_only_entry_without_certificate_or_key_duty(tmp_path, lab, key1):
    pem = signed(lab, key1)
    prepared = {'app-1': [found(key1, pem, holder=True)], 'app-2': [found(key1, pem)]}
    _changed, _info, inv, pairs = run(tmp_path, prepared, bundle(lab))
    pairs[PAIR]['check_settings'] = {'url': 'https://dov.example/x', 'timeout': 5.0}
    install, keys = issue.deliveries(inv, pairs, {})
    assert keys == [] and sorted(install) == ['app-1', 'app-2']
    for host in ('app-1', 'app-2'):
        entry, = install[host]
        assert entry['verify_only'] is True and entry['check'] == {'url': 'https://dov.example/x', 'timeout': 5.0}
        assert entry['key_holder'] is False and 'certificate' not in entry and 'shared_key' not in entry


def test_deliveries_put_an_install_and_a_check_of_one_host_in_its_one_call(tmp_path, lab, key1):
    pem = signed(lab, key1)
    prepared = {'app-1': [found(key1, pem, holder=True)], 'app-2': [found(key1, pem, complete=False)]}
    _changed, info, inv, pairs = run(tmp_path, prepared, bundle(lab))
    assert info['install'] == [('app-2', False)] and info['check'] == ['app-1']
    pairs[PAIR]['check_settings'] = {'url': 'https://dov.example/x', 'timeout': 5.0}
    install, _keys = issue.deliveries(inv, pairs, {})
    assert install['app-1'][0]['verify_only'] is True
    assert 'verify_only' not in install['app-2'][0] and install['app-2'][0]['certificate'].startswith('-----BEGIN')


# ---------------------------------------------------------------- the step's task result

def test_the_step_result_lists_the_retired_pairs_last_and_every_message_in_that_order():
    pairs = {'B/oefen': {'messages': ['B waits']}, 'A/oefen': {'messages': []}}
    retired = {'C/oefen': {'state': 'retired', 'messages': ['C handed over']}}
    install = {'app-1': [{'application': 'B'}], 'app-2': [{'application': 'A', 'keep_previous': True}]}
    keys = [{'host': 'app-2', 'pair': 'A/oefen'}]
    result = issue.step_result(pairs, retired, install, keys, True)
    assert list(result['pairs']) == ['B/oefen', 'A/oefen', 'C/oefen']
    assert result == {'changed': True, 'pairs': pairs, 'install': install, 'key_transfers': keys,
                      'renewals': True, 'messages': ['B waits', 'C handed over'], 'msg': 'B waits\nC handed over'}


def test_the_step_result_without_messages_says_nothing_to_issue_and_without_keep_previous_no_renewals():
    result = issue.step_result({'A/oefen': {'messages': []}}, {}, {'app-1': [{'application': 'A'}]}, [], False)
    assert result['msg'] == 'Nothing to issue.' and result['messages'] == []
    assert result['renewals'] is False and result['changed'] is False
