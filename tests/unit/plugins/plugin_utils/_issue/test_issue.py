# -*- coding: utf-8 -*-
"""issue: the hosts are the truth. certificate_file, the cache, a certificate found on the hosts
(adopted as it is), then the issuer; which hosts install, which only check. Real certificates
from a lab CA; the issuer is a program that fails if it is called."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import shutil
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issue
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP, CN, PAIR = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill', 'Geodrill/oefen'
PRODUCTIE_CN = 'geolab.be/dov-services/productie/Geodrill'
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


# ---------------------------------------------------------------- check_issued

def csr_pem(key, common_name=CN):
    return pki.dump_csr(pki.build_csr(key, common_name)).decode('ascii')


def fingerprint(key):
    return pki.public_key_fingerprint(key)


def files_under(folder):
    """Every file below ``folder`` with its bytes: to prove nothing was written."""
    found = {}
    for base, _dirs, names in os.walk(str(folder)):
        for name in names:
            path = os.path.join(base, name)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, str(folder))] = handle.read()
    return found


def test_a_good_certificate_comes_back_as_leaf_and_chain_with_its_description(lab, key1):
    csr = csr_pem(key1)
    pem, described = issue.check_issued(lab.sign_csr(csr), csr, CN, [lab.issuing_cert, lab.root_cert], 'The lab')
    found = certload.load_certificates(pem.encode('ascii'))
    assert [pki.public_key_fingerprint(cert.public_key()) for cert in found] == [
        fingerprint(key1), pki.public_key_fingerprint(lab.issuing_cert.public_key())]  # leaf + issuing CA, no root
    assert described['common_name'] == CN
    assert described['days_left'] >= 1850


def test_check_issued_without_ca_bundle_checks_key_cn_usage_and_validity_only(lab, key1):
    csr = csr_pem(key1)
    pem, _described = issue.check_issued(lab.sign_csr(csr), csr, CN, None, 'The lab')
    assert len(certload.load_certificates(pem.encode('ascii'))) == 1


def refused_by_check_issued(data, csr, common_name=CN, ca_certs=None, now=None):
    with pytest.raises(DovError) as info:
        issue.check_issued(data, csr, common_name, ca_certs, 'inbox/geodrill.cer', now)
    return str(info.value)


def test_check_issued_refuses_a_certificate_for_another_key(lab, key1, key2):
    message = refused_by_check_issued(lab.sign_csr(csr_pem(key2)), csr_pem(key1))
    assert message == ("inbox/geodrill.cer was issued for another key (its public key SHA-256 is %s, the CSR's is %s). "
                       "Upload the CSR of this pair in VO-DCBaaS and use the certificate that comes back."
                       % (fingerprint(key2), fingerprint(key1)))


def test_check_issued_refuses_another_cn(lab, key1):
    other = 'geolab.be/dov-services/oefen/Georeport'
    message = refused_by_check_issued(lab.sign_csr(csr_pem(key1, other)), csr_pem(key1))
    assert "has the CN %r, but %r was expected" % (other, CN) in message


def test_check_issued_refuses_a_certificate_without_client_authentication(lab):
    key_pem, cert_pem = lab.issue_server_certificate(['localhost'])
    key = serialization.load_pem_private_key(key_pem, password=None)
    message = refused_by_check_issued(cert_pem, csr_pem(key), common_name='localhost')
    assert 'does not allow client authentication' in message


def test_check_issued_refuses_an_expired_or_not_yet_valid_certificate(lab, key1):
    csr = csr_pem(key1)
    now = validity.utcnow()
    expired = lab.sign_csr(csr, not_before=now - datetime.timedelta(days=400), days=30)
    assert 'expired on' in refused_by_check_issued(expired, csr)
    future = lab.sign_csr(csr, not_before=now + datetime.timedelta(days=10), days=30)
    assert 'is not valid yet' in refused_by_check_issued(future, csr)


def test_check_issued_accepts_a_certificate_that_starts_within_the_clock_skew(lab, key1):
    csr = csr_pem(key1)
    now = validity.utcnow().replace(microsecond=0)
    ahead = lab.sign_csr(csr, not_before=now + datetime.timedelta(seconds=120), days=30)
    _pem, described = issue.check_issued(ahead, csr, CN, None, 'The lab', now)
    assert described['common_name'] == CN
    later = lab.sign_csr(csr, not_before=now + datetime.timedelta(seconds=issue.CLOCK_SKEW + 60), days=30)
    assert 'is not valid yet' in refused_by_check_issued(later, csr, now=now)


def test_check_issued_refuses_a_certificate_of_another_ca(lab, other_lab, key1):
    csr = csr_pem(key1)
    # the other lab CA has the same names: the signature gives it away
    message = refused_by_check_issued(lab.sign_csr(csr), csr, ca_certs=[other_lab.issuing_cert, other_lab.root_cert])
    assert 'does not verify with the key of its issuer' in message
    message = refused_by_check_issued(lab.sign_csr(csr), csr, ca_certs=[other_lab.root_cert])
    assert 'does not chain to ca_bundle' in message


def test_check_issued_refuses_a_csr_and_garbage(key1):
    csr = csr_pem(key1)
    assert 'holds a CSR' in refused_by_check_issued(csr.encode('ascii'), csr)
    assert 'is not a certificate' in refused_by_check_issued(b'hello, this is not a certificate', csr)
    assert 'is empty' in refused_by_check_issued(b'', csr)


# ---------------------------------------------------------------- issue_pairs (``entry``, ``geodrill``,
# ``make_inventory``: fixtures of tests/unit/plugins/plugin_utils/conftest.py)

def prepared_result(key=None, csr=None, converged=False, error=None, environment='oefen'):
    return {'application': APP, 'environment': environment, 'common_name': CN,
            'key_fingerprint': fingerprint(key) if key is not None else None,
            'csr': csr, 'converged': converged, 'error': error}


class World(object):
    """A state folder and an inventory (Geodrill/oefen on app-1 and app-2); ``issue`` plans and
    issues as the action plugin does and returns (changed, the pair's info)."""

    def __init__(self, make_inventory, state_dir, applications=None, hosts=None):
        self.state_dir = state_dir
        self.inventory = make_inventory(applications, hosts)
        self.pairs = None

    @property
    def certificate_path(self):
        return os.path.join(self.state_dir, APP, 'oefen', 'certificate.pem')

    def stored(self):
        if not os.path.exists(self.certificate_path):
            return None
        with open(self.certificate_path, 'rb') as handle:
            return handle.read()

    def stored_leaf(self):
        return certload.load_certificates(self.stored())[0]

    def issue(self, prepared, issuer='lab', play_hosts=('app-1', 'app-2'), status=None, previous=None, **options):
        """``previous``: the pair's state in status.json before this run (its record as a run that
        checked the certificate now stored leaves it; or the whole record, a dict)."""
        if isinstance(previous, dict):
            options['previous_states'] = {PAIR: previous}
        elif previous is not None:
            stored = self.stored()
            options['previous_states'] = {PAIR: {
                'state': previous, 'verdict': 'ok' if previous in ('verified', 'renewal_due') else None,
                'hosts': list(play_hosts),
                'fingerprint_sha256': certs.fingerprint_sha256(self.stored_leaf()) if stored else None}}
        self.pairs, _hosts, _notes = plan.plan_hosts(self.inventory, self.state_dir, status or {'pairs': {}},
                                                     list(play_hosts), {})
        changed = issue.issue_pairs(self.inventory, self.pairs, prepared, self.state_dir, issuer, **options)
        return changed, self.pairs[PAIR]


@pytest.fixture
def world(tmp_path, lab, make_inventory):
    """A state folder that already holds the (module's) lab CA, so each test does not make one."""
    state_dir = tmp_path / 'state'
    shutil.copytree(lab.folder, str(state_dir / 'lab-ca'))
    return World(make_inventory, str(state_dir))


def test_a_first_issue_stores_the_certificate_and_asks_every_host_to_install(world, key1):
    prepared = {'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result()]}
    changed, info = world.issue(prepared)
    assert changed is True
    leaf = world.stored_leaf()
    assert pki.public_key_fingerprint(leaf.public_key()) == fingerprint(key1)
    assert pki.common_names(leaf.subject) == [CN]
    assert len(certload.load_certificates(world.stored())) == 2  # leaf + issuing CA
    assert stat.S_IMODE(os.stat(world.certificate_path).st_mode) == 0o644
    assert info['certificate_pem'] == world.stored().decode('ascii')
    assert info['certificate']['common_name'] == CN
    assert info['install'] == [('app-1', False), ('app-2', True)]  # app-2 has no key yet: it gets the holder's
    assert info['state'] is None  # decided by the report
    assert any('issued by the lab CA' in message for message in info['messages'])


def test_converged_hosts_get_nothing_and_nothing_is_issued_again(world, key1):
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    before = world.stored()
    converged = {'app-1': [prepared_result(key1, csr, converged=True)], 'app-2': [prepared_result(key1, converged=True)]}
    changed, info = world.issue(converged, previous='verified')
    assert changed is False
    assert info['install'] == []
    assert info['messages'] == []
    assert world.stored() == before
    assert info['certificate']['common_name'] == CN


def test_only_hosts_that_are_not_converged_or_lack_the_key_install(world, key1, key2):
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    changed, info = world.issue({'app-1': [prepared_result(key1, csr, converged=True)],
                                 'app-2': [prepared_result(key2, converged=False)]}, previous='verified')  # a stray key
    assert changed is False
    assert info['install'] == [('app-2', True)]
    _changed, info = world.issue({'app-1': [prepared_result(key1, csr, converged=False)],
                                  'app-2': [prepared_result(key1, converged=True)]}, previous='renewal_due')
    assert info['install'] == [('app-1', False)]


@pytest.mark.parametrize('previous', [None, 'failed', 'waiting_for_certificate'])
def test_converged_hosts_of_a_pair_not_verified_last_run_are_checked_again_without_an_install(world, key1, previous):
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    before = world.stored()
    changed, info = world.issue({'app-1': [prepared_result(key1, csr, converged=True)],
                                 'app-2': [prepared_result(key1, converged=True)]}, previous=previous)
    assert changed is False and world.stored() == before
    assert info['install'] == [] and info['check'] == ['app-1', 'app-2']


def test_converged_hosts_of_a_pair_installed_without_a_check_are_checked_once_verification_is_on(world, key1):
    """dov_verify: false left the pair installed: a later run with dov_verify: true verifies it."""
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    _changed, info = world.issue({'app-1': [prepared_result(key1, csr, converged=True)],
                                  'app-2': [prepared_result(key1, converged=True)]}, previous='installed')
    assert info['install'] == [] and info['check'] == ['app-1', 'app-2']


@pytest.mark.parametrize('edit', [
    {'verdict': 'client_cert_rejected'},                 # the state edited to verified, its verdict not
    {'fingerprint_sha256': 'AA:BB'},                     # verified, but another certificate
    {'hosts': ['app-1']},                                # verified on fewer hosts than the pair has now
    {'verdict': None},
])
def test_a_status_record_that_does_not_say_this_certificate_passed_its_check_here_is_not_trusted(world, key1, edit):
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    record = {'state': 'verified', 'verdict': 'ok', 'hosts': ['app-1', 'app-2'],
              'fingerprint_sha256': certs.fingerprint_sha256(world.stored_leaf())}
    converged = {'app-1': [prepared_result(key1, csr, converged=True)], 'app-2': [prepared_result(key1, converged=True)]}
    _changed, info = world.issue(converged, previous=record)
    assert info['check'] == []
    _changed, info = world.issue(converged, previous=dict(record, **edit))
    assert info['install'] == [] and info['check'] == ['app-1', 'app-2']


def test_without_verification_converged_hosts_are_not_rechecked(world, key1):
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    _changed, info = world.issue({'app-1': [prepared_result(key1, csr, converged=True)],
                                  'app-2': [prepared_result(key1, converged=True)]}, previous='installed', verify=False)
    assert info['install'] == []


def test_an_unreachable_host_is_left_out_and_the_others_install(world, key1):
    changed, info = world.issue({'app-1': [prepared_result(key1, csr_pem(key1))]}, play_hosts=['app-1'])
    assert changed is True
    assert info['install'] == [('app-1', False)]


def test_a_stored_certificate_for_another_key_is_replaced(world, key1, key2):
    world.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result()]})
    changed, info = world.issue({'app-1': [prepared_result(key2, csr_pem(key2))],
                                 'app-2': [prepared_result(key1, converged=True)]})
    assert changed is True
    assert pki.public_key_fingerprint(world.stored_leaf().public_key()) == fingerprint(key2)
    assert info['install'] == [('app-1', False), ('app-2', True)]


def test_an_expired_stored_certificate_for_the_same_key_is_replaced(world, lab, key1):
    csr = csr_pem(key1)
    os.makedirs(os.path.dirname(world.certificate_path))
    with open(world.certificate_path, 'wb') as handle:
        handle.write(lab.sign_csr(csr, not_before=validity.utcnow() - datetime.timedelta(days=100), days=30))
    # an expired certificate is never converged (the install plan refuses it)
    changed, info = world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result(key1)]})
    assert changed is True
    assert info['certificate']['days_left'] > 1800
    assert certs.days_left(world.stored_leaf()) > 1800
    assert info['install'] == [('app-1', False), ('app-2', False)]


def test_renew_keeps_a_certificate_outside_the_renewal_window(world, key1):
    csr = csr_pem(key1)
    prepared = {'app-1': [prepared_result(key1, csr, converged=True)], 'app-2': [prepared_result(key1, converged=True)]}
    world.issue(prepared)
    first = world.stored()
    changed, info = world.issue(prepared, previous='verified', renew=True)
    assert changed is False and world.stored() == first
    assert info['install'] == []


def staged_result(live_key, new_key, days_left=10, new=True):
    """The key holder's prepare result with a renewal staged (rollover.stage_renewal)."""
    result = prepared_result(live_key, csr_pem(live_key), converged=True)
    result['installed'] = {'fingerprint_sha256': 'AA:BB', 'days_left': days_left, 'not_after': '2026-12-21T10:00:00Z'}
    result['staged'] = {'key_path': '/opt/geodrill/dov/key.pem.next' if new else '/opt/geodrill/dov/key.pem',
                        'csr_path': '/opt/geodrill/dov/csr.pem.next', 'csr': csr_pem(new_key),
                        'key_fingerprint': fingerprint(new_key), 'new_key': new, 'key_created': True}
    return result


def test_a_staged_renewal_gets_a_certificate_for_the_staged_key_and_every_host_installs_it(world, key1, key2):
    prepared = {'app-1': [staged_result(key1, key2)], 'app-2': [prepared_result(key1, converged=True)]}
    changed, info = world.issue(prepared, previous='renewal_due', renew=True)
    assert changed is True
    assert pki.public_key_fingerprint(world.stored_leaf().public_key()) == fingerprint(key2)  # the NEW key
    assert info['install'] == [('app-1', False), ('app-2', True)]   # app-2 gets the staged key from app-1
    assert info['staged_key'] is None and info['state'] is None
    install, keys = issue.deliveries(world.inventory, world.pairs, {})
    assert install['app-1'][0]['staged_key'] is True and install['app-1'][0]['keep_previous'] is True
    assert 'staged_key' not in install['app-2'][0] and install['app-2'][0]['shared_key'] == PAIR
    assert keys == [{'host': 'app-2', 'pair': PAIR, 'holder': 'app-1', 'key_path': '/opt/geodrill/dov/key.pem.next'}]


def test_a_renewal_whose_run_died_before_the_install_is_not_issued_twice(world, key1, key2, monkeypatch):
    """The state folder kept the renewed certificate for the staged key (the run died before or
    during the install): the next run installs it and does not ask the issuer again."""
    prepared = {'app-1': [staged_result(key1, key2)], 'app-2': [prepared_result(key1, converged=True)]}
    world.issue(prepared, previous='renewal_due', renew=True)
    first = world.stored()
    calls = []
    real = issue.issuers.issue

    def counting(*args, **options):
        calls.append(args)
        return real(*args, **options)
    monkeypatch.setattr(issue.issuers, 'issue', counting)
    changed, info = world.issue(prepared, previous='renewal_due', renew=True)
    assert calls == [] and changed is True and world.stored() == first
    assert info['install'] == [('app-1', False), ('app-2', True)] and info['staged_key'] is None
    assert 'was issued by an earlier run (kept in the state folder)' in info['messages'][0]


def test_a_renewal_for_the_live_key_sends_no_key_and_the_holder_takes_its_staged_csr(world, key1):
    prepared = {'app-1': [staged_result(key1, key1, new=False)], 'app-2': [prepared_result(key1, converged=True)]}
    changed, info = world.issue(prepared, previous='renewal_due', renew=True)
    assert changed is True and info['staged_key'] is None
    assert info['install'] == [('app-1', False), ('app-2', False)]
    install, keys = issue.deliveries(world.inventory, world.pairs, {})
    assert keys == [] and install['app-1'][0]['renewed'] is True and 'staged_key' not in install['app-1'][0]


def test_a_renewal_certificate_for_the_live_key_fails_and_nothing_is_installed(world, key1, key2, monkeypatch):
    prepared = {'app-1': [staged_result(key1, key2)], 'app-2': [prepared_result(key1, converged=True)]}
    real = issue.issuers.issue

    def old_key_issuer(kind, state_dir, application, environment, common_name, csr_pem, **options):
        return real(kind, state_dir, application, environment, common_name, csr_pem_of_live, **options)
    csr_pem_of_live = csr_pem(key1)
    monkeypatch.setattr(issue.issuers, 'issue', old_key_issuer)
    _changed, info = world.issue(prepared, renew=True)
    assert info['state'] == 'failed' and info['install'] == []
    assert 'the renewal failed: The renewed certificate from lab' in info['messages'][0]
    assert "the staged key is %s" % fingerprint(key2) in info['messages'][0]
    assert ('The live certificate keeps serving; the staged key /opt/geodrill/dov/key.pem.next on app-1 stays for the next '
            'run.') in info['messages'][0]
    assert world.stored() is None


def test_a_manual_renewal_is_pending_in_its_own_handover_folder_and_prints_the_staged_csr(world, key1, key2):
    prepared = {'app-1': [staged_result(key1, key2)], 'app-2': [prepared_result(key1, converged=True)]}
    # the inbox of the first certificate holds it still: it is not taken for the renewal
    first_inbox = os.path.join(world.state_dir, APP, 'oefen', 'inbox')
    os.makedirs(first_inbox)
    with open(os.path.join(first_inbox, 'old.pem'), 'w') as handle:
        handle.write('not looked at')
    changed, info = world.issue(prepared, issuer='manual', renew=True)
    assert changed is True and info['state'] == 'renewal_pending' and info['install'] == []
    assert 'waiting for the renewed certificate. This is a renewal' in info['messages'][0]
    assert os.path.join(APP, 'oefen', 'renewal-') in info['messages'][0]
    assert info['messages'][1] == ('Geodrill/oefen: the staged key /opt/geodrill/dov/key.pem.next on app-1 waits for its '
                                   'certificate; the live certificate keeps serving (10 days left).')
    assert csr_pem(key2).strip() in info['messages'][2] and '/opt/geodrill/dov/csr.pem.next on app-1' in info['messages'][2]
    assert info['staged_key'] == '/opt/geodrill/dov/key.pem.next on app-1'
    assert info['certificate']['days_left'] == 10


def test_check_mode_of_a_renewal_says_what_it_would_do_and_writes_nothing(tmp_path, key1, key2, make_inventory):
    world = World(make_inventory, str(tmp_path / 'state'))
    prepared = {'app-1': [staged_result(key1, key2)], 'app-2': [prepared_result(key1, converged=True)]}
    changed, info = world.issue(prepared, renew=True, check_mode=True)
    assert changed is False and info['state'] == 'renewal_due' and info['install'] == []
    assert info['messages'] == ['Geodrill/oefen: would be renewed with a new key (10 days left); a certificate would be '
                                'requested from the lab issuer.']
    assert not (tmp_path / 'state').exists()


def test_onboarding_does_not_renew_a_staged_pair(world, key1, key2):
    prepared = {'app-1': [staged_result(key1, key2)], 'app-2': [prepared_result(key1, converged=True)]}
    world.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result()]})
    first = world.stored()
    _changed, info = world.issue(prepared, previous='verified')
    assert world.stored() == first and info['install'] == [] and 'renewal' not in info


def test_settle_commits_a_renewal_that_every_host_passed(entry):
    install = {'h1': [dict(entry(), common_name=CN, keep_previous=True, staged_key=True, certificate='x', check={})],
               'h2': [dict(entry(), common_name=CN, keep_previous=True, shared_key=PAIR)]}
    ok = {'application': APP, 'environment': 'oefen', 'error': None}
    outcome = issue.settle_renewals(install, {'h1': [ok], 'h2': [ok]}, {'h1', 'h2'})
    assert outcome['restored'] == [] and outcome['messages'] == {}
    assert [item['settle'] for item in outcome['hosts']['h1'] + outcome['hosts']['h2']] == ['commit', 'commit']
    assert outcome['hosts']['h1'][0]['staged_key'] is True
    unwanted = set(('certificate', 'check', 'shared_key', 'keep_previous'))
    assert not unwanted & (set(outcome['hosts']['h1'][0]) | set(outcome['hosts']['h2'][0]))


@pytest.mark.parametrize('h2_result, live', [
    ({'application': APP, 'environment': 'oefen', 'error': 'The mTLS check from this host gave denied'}, {'h1', 'h2'}),
    (None, {'h1'}),                                         # h2 was lost during the install
])
def test_settle_restores_every_host_when_one_host_failed_the_renewal(h2_result, live, entry):
    install = {'h1': [dict(entry(), common_name=CN, keep_previous=True)], 'h2': [dict(entry(), common_name=CN, keep_previous=True)],
               'h3': [dict(entry(application='Other'), common_name=CN)]}
    ok = {'application': APP, 'environment': 'oefen', 'error': None}
    outcome = issue.settle_renewals(install, {'h1': [ok], 'h2': [h2_result] if h2_result else []}, live)
    assert outcome['restored'] == [PAIR]
    assert sorted(outcome['hosts']) == sorted(live) and all(item['settle'] == 'restore' for items in outcome['hosts'].values()
                                                            for item in items)
    assert outcome['messages'][PAIR][0].startswith('Geodrill/oefen: the renewal failed on h2, so the previous key and certificate '
                                                   'were put back on every host of the pair')


def test_check_mode_issues_nothing_and_writes_nothing(tmp_path, key1, make_inventory):
    state_dir = tmp_path / 'state'
    world = World(make_inventory, str(state_dir))
    changed, info = world.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result()]},
                                check_mode=True)
    assert changed is False
    assert info['state'] == 'waiting_for_certificate'
    assert info['messages'] == ['Geodrill/oefen: a certificate would be requested from the lab issuer.']
    assert info['install'] == []
    assert not state_dir.exists()


def test_the_manual_issuer_waits_for_a_certificate_in_the_inbox(world, key1):
    changed, info = world.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result()]},
                                issuer='manual')
    folder = os.path.join(world.state_dir, APP, 'oefen')
    assert changed is True  # the handover folder was made
    assert info['state'] == 'waiting_for_certificate'
    assert len(info['messages']) == 2 and os.path.join(folder, 'inbox') in info['messages'][0]
    # the CSR is printed too (public), for a runner whose state folder is thrown away
    assert csr_pem(key1).strip() in info['messages'][1]
    assert info['install'] == []
    assert sorted(os.listdir(folder)) == ['INSTRUCTIES.txt', 'csr.pem', 'inbox']
    assert world.stored() is None


def test_the_manual_issuer_picks_up_a_der_certificate_and_stores_pem(world, lab, key1):
    csr = csr_pem(key1)
    inbox = os.path.join(world.state_dir, APP, 'oefen', 'inbox')
    os.makedirs(inbox)
    cert = x509.load_pem_x509_certificate(lab.sign_csr(csr))
    with open(os.path.join(inbox, 'geodrill.cer'), 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.DER))
    changed, info = world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]},
                                issuer='manual', ca_bundle=lab.bundle_path)
    assert changed is True
    assert world.stored().startswith(b'-----BEGIN CERTIFICATE-----')
    assert len(certload.load_certificates(world.stored())) == 2  # the chain comes from ca_bundle
    assert info['install'] == [('app-1', False), ('app-2', True)]
    assert any('picked up' in message for message in info['messages'])


def _another_cn(lab, key1, key2, csr):
    del key2, csr
    return lab.sign_csr(csr_pem(key1, 'geolab.be/dov-services/oefen/Georeport'))


def _another_key(lab, key1, key2, csr):
    del key1, csr
    return lab.sign_csr(csr_pem(key2))


def _expired(lab, key1, key2, csr):
    del key1, key2
    return lab.sign_csr(csr, not_before=validity.utcnow() - datetime.timedelta(days=400), days=30)


def _the_csr(lab, key1, key2, csr):
    del lab, key1, key2
    return csr.encode('ascii')


@pytest.mark.parametrize('make, expected', [
    (_another_cn, "has the CN 'geolab.be/dov-services/oefen/Georeport', but %r was expected" % CN),
    (_another_key, 'was issued for another key'),
    (_expired, 'expired on'),
    (_the_csr, 'holds a CSR'),
], ids=['another-cn', 'another-key', 'expired', 'a-csr'])
def test_a_wrong_certificate_in_the_inbox_fails_the_pair_and_nothing_is_stored(world, lab, key1, key2, make, expected):
    csr = csr_pem(key1)
    inbox = os.path.join(world.state_dir, APP, 'oefen', 'inbox')
    os.makedirs(inbox)
    dropped = os.path.join(inbox, 'geodrill.pem')
    with open(dropped, 'wb') as handle:
        handle.write(make(lab, key1, key2, csr))
    _changed, info = world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]}, issuer='manual')
    assert info['state'] == 'failed'
    assert len(info['messages']) == 1
    message = info['messages'][0]
    assert message.startswith('Geodrill/oefen: ')
    assert expected in message
    assert message.endswith(' Remove %s and drop the right certificate in the inbox.' % dropped)
    assert info['install'] == []
    assert world.stored() is None


def test_a_certificate_of_another_ca_than_the_ca_bundle_fails_the_pair(world, other_lab, key1):
    changed, info = world.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result()]},
                                ca_bundle=other_lab.bundle_path)
    assert changed is False
    assert info['state'] == 'failed'
    assert 'does not verify with the key of its issuer' in info['messages'][0]
    assert world.stored() is None


def test_check_mode_with_a_current_stored_certificate_still_says_who_installs(world, key1):
    csr = csr_pem(key1)
    world.issue({'app-1': [prepared_result(key1, csr)], 'app-2': [prepared_result()]})
    before = files_under(world.state_dir)
    changed, info = world.issue({'app-1': [prepared_result(key1, csr, converged=True)], 'app-2': [prepared_result()]},
                                previous='verified', check_mode=True)
    assert changed is False and info['state'] is None
    assert info['install'] == [('app-2', True)]
    assert files_under(world.state_dir) == before


def test_a_host_error_in_prepare_fails_the_pair_and_nothing_is_issued(tmp_path, key1, make_inventory):
    world = World(make_inventory, str(tmp_path / 'state'))
    changed, info = world.issue({'app-1': [prepared_result(key1, csr_pem(key1))],
                                 'app-2': [prepared_result(error='The user geodrill does not exist.')]})
    assert changed is False
    assert info['state'] == 'failed'
    assert info['messages'] == ['app-2: The user geodrill does not exist.']
    assert info['install'] == []
    assert not (tmp_path / 'state').exists()


def test_a_pair_whose_key_holder_gave_no_result_fails(world):
    _changed, info = world.issue({'app-2': [prepared_result()]})
    assert info['state'] == 'failed'
    assert info['messages'] == ['Geodrill/oefen: no host of this pair could be reached to make its key.']
    assert world.stored() is None


def test_an_issuer_refusal_fails_the_pair_with_its_message(tmp_path, key1, entry, geodrill, make_inventory):
    applications = [geodrill(productie={'cn': PRODUCTIE_CN})]
    world = World(make_inventory, str(tmp_path / 'state'), applications, {'app-1': [entry(environment='productie')]})
    prepared = {'app-1': [prepared_result(key1, csr_pem(key1, PRODUCTIE_CN), environment='productie')]}
    world.pairs, _hosts, _notes = plan.plan_hosts(world.inventory, world.state_dir, {'pairs': {}}, ['app-1'], {})
    issue.issue_pairs(world.inventory, world.pairs, prepared, world.state_dir, 'lab')
    info = world.pairs['Geodrill/productie']
    assert info['state'] == 'failed'
    assert info['messages'][0].startswith('Geodrill/productie: The lab issuer does not issue for productie')


def test_a_pair_waiting_for_its_cn_is_left_alone(world, key1, entry, make_inventory):
    inventory = make_inventory(hosts={'app-1': [entry(), entry(environment='productie', dest_dir='/opt/p')]})
    pairs, _hosts, _notes = plan.plan_hosts(inventory, world.state_dir, {'pairs': {}}, ['app-1'], {})
    issue.issue_pairs(inventory, pairs, {'app-1': [prepared_result(key1, csr_pem(key1))]}, world.state_dir, 'lab')
    assert pairs['Geodrill/productie']['state'] == 'waiting_for_cn'
    assert pairs['Geodrill/productie']['install'] == []
    assert pairs[PAIR]['install'] == [('app-1', False)]


def test_a_stored_certificate_with_another_cn_than_the_inventory_is_replaced(tmp_path, lab, key1, geodrill, make_inventory):
    state_dir = tmp_path / 'state'
    shutil.copytree(lab.folder, str(state_dir / 'lab-ca'))
    typo = 'geolab.be/dov-services/oefen/Geodril'
    first = World(make_inventory, str(state_dir), [geodrill(oefen={'cn': typo})])
    first.issue({'app-1': [prepared_result(key1, csr_pem(key1, typo))], 'app-2': [prepared_result()]})
    assert pki.common_names(first.stored_leaf().subject) == [typo]
    corrected = World(make_inventory, str(state_dir))  # the CN corrected to CN; the holder's CSR follows (same key)
    _changed, info = corrected.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result(key1)]})
    assert pki.common_names(corrected.stored_leaf().subject) == [CN]
    assert info['certificate']['common_name'] == CN
