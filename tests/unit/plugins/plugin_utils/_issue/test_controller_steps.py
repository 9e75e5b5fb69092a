# -*- coding: utf-8 -*-
"""The controller steps of dov_cert: inventory checks, plan_hosts, check_issued, issue_pairs, states, table.

Real crypto and real files: certificates come from the lab CA (labca / the ``lab`` issuer) or
are dropped in the ``manual`` issuer's inbox, in a temporary state folder per test.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import shutil
import stat

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issue
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
PRODUCTIE_CN = 'geolab.be/dov-services/productie/Geodrill'
PAIR = 'Geodrill/oefen'
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}


# ---------------------------------------------------------------- helpers

def entry(application=APP, environment='oefen', dest_dir='/opt/geodrill/dov', **more):
    item = {'application': application, 'environment': environment, 'dest_dir': dest_dir}
    item.update(more)
    return item


def geodrill(**environments):
    return {'name': APP, 'description': 'Boorgegevens opladen vanuit ons LIMS',
            'environments': environments or {'oefen': {'cn': CN}, 'productie': {}}}


def make_inventory(applications=None, hosts=None, cn_policy='strict'):
    applications = [geodrill()] if applications is None else applications
    hosts = {'app-1': [entry()], 'app-2': [entry()]} if hosts is None else hosts
    return inventory.Inventory(ORGANISATION, applications, hosts, cn_policy)


def refusal(applications=None, hosts=None, cn_policy='strict'):
    with pytest.raises(DovError) as info:
        make_inventory(applications, hosts, cn_policy)
    return str(info.value)


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


# ---------------------------------------------------------------- Inventory: what it accepts

def test_a_valid_inventory_has_one_pair_per_application_environment_with_its_hosts():
    inventory = make_inventory(hosts={'app-1': [entry(formats=['pem', 'pkcs12'])], 'app-2': [entry()], 'db-1': None})
    assert sorted(inventory.pairs) == ['Geodrill/oefen', 'Geodrill/productie']
    pair = inventory.pairs[PAIR]
    assert (pair.application, pair.environment, pair.common_name, pair.cn_policy) == (APP, 'oefen', CN, 'strict')
    assert pair.description == 'Boorgegevens opladen vanuit ons LIMS'
    assert [host for host, _entry in pair.hosts] == ['app-1', 'app-2']
    assert inventory.pairs['Geodrill/productie'].common_name is None
    assert inventory.pairs['Geodrill/productie'].hosts == []
    assert inventory.organisation == ORGANISATION


def test_cn_policy_off_accepts_a_cn_that_is_not_in_the_dov_shape():
    inventory = make_inventory([geodrill(oefen={'cn': 'client.geolab.be', 'cn_policy': 'off'})], {'app-1': [entry()]})
    assert inventory.pairs[PAIR].cn_policy == 'off'
    assert inventory.pairs[PAIR].common_name == 'client.geolab.be'
    make_inventory([geodrill(oefen={'cn': 'client.geolab.be'})], {'app-1': [entry()]}, cn_policy='off')


# ---------------------------------------------------------------- Inventory: every refusal

def test_empty_applications_are_refused_with_an_example():
    for applications in ([], None, {'name': APP}):
        with pytest.raises(DovError, match=r'dov_applications is empty\. List the applications'):
            inventory.Inventory(ORGANISATION, applications, {})


def test_an_application_named_on_a_host_but_not_in_dov_applications_is_refused():
    message = refusal(hosts={'app-1': [entry(application='Geodril')]})
    assert ("Host app-1 names the application 'Geodril', which is not in dov_applications (Geodrill). "
            "Add it there, or correct the name." in message)


def test_an_environment_not_listed_for_the_application_is_refused():
    message = refusal([geodrill(oefen={'cn': CN})], {'app-1': [entry(environment='productie')]})
    assert ("Host app-1 names Geodrill/productie, but the application 'Geodrill' has no environment 'productie' "
            "in dov_applications. Add it there, or correct the environment." in message)


def test_a_cn_whose_environment_part_differs_from_its_environment_is_refused():
    message = refusal([geodrill(oefen={'cn': PRODUCTIE_CN})], {'app-1': [entry()]})
    assert ("The CN %r is listed under Geodrill/oefen, but its environment part is 'productie'. Put it under "
            "'productie', or correct the CN to the one DOV sent for oefen." % PRODUCTIE_CN in message)


def test_the_same_cn_under_two_pairs_is_refused_also_with_a_trailing_slash():
    applications = [geodrill(oefen={'cn': CN}),
                    {'name': 'Georeport', 'environments': {'oefen': {'cn': CN + '/'}}}]
    message = refusal(applications, {})
    assert ("The CN %r is given for both Geodrill/oefen and Georeport/oefen. Each application/environment has its "
            "own certificate and CN." % (CN + '/')) in message


@pytest.mark.parametrize('environment', ['prod', 'ontwikkel', 'Oefen'])
def test_an_unknown_or_not_requestable_environment_is_refused(environment):
    message = refusal([geodrill(**{environment: {}})], {})
    assert ("Application 'Geodrill': Unknown DOV environment %r. " % environment) in message
    assert message.endswith('Use productie or oefen.')


def test_a_cn_that_is_not_a_dov_cn_is_refused_under_the_strict_policy():
    message = refusal([geodrill(oefen={'cn': 'client.geolab.be'})], {})
    assert "Application 'Geodrill', environment oefen: The CN 'client.geolab.be' has 1 parts" in message


@pytest.mark.parametrize('application', [{'environments': {'oefen': {}}}, {'name': '  '}, 'Geodrill', None])
def test_an_application_without_a_name_is_refused(application):
    message = refusal([geodrill(), application], {})
    assert 'dov_applications item 2 has no name. Give each application a name.' in message


def test_an_application_listed_twice_or_without_environments_is_refused():
    message = refusal([geodrill(), geodrill(), {'name': 'Georeport', 'environments': {}}], {})
    assert "The application 'Geodrill' is listed twice in dov_applications. List it once, with all its environments." in message
    assert "The application 'Georeport' has no environments. Give e.g. environments: {oefen: {}}." in message


@pytest.mark.parametrize('dest_dir, problem', [
    ('opt/geodrill/dov', 'is not an absolute path'), ('./dov', 'is not an absolute path'), ('', 'is empty'),
    (None, 'is not a path'), ('/opt/geodrill/dov\n/etc', 'contains a control character (a newline, a tab or NUL)'),
    ('/opt/geodrill\x00/dov', 'contains a control character (a newline, a tab or NUL)'),
    ('/x/..', 'is the root folder'), ('//', 'is the root folder')])
def test_a_dest_dir_that_is_not_a_plain_absolute_path_is_refused(dest_dir, problem):
    message = refusal(hosts={'app-1': [entry(dest_dir=dest_dir)]})
    assert ("Host app-1, Geodrill/oefen: dest_dir %r %s. Give the folder where the application reads its certificate "
            "as a plain absolute path, e.g. /opt/geodrill/dov." % (dest_dir, problem)) in message


def test_a_privatekey_path_with_a_newline_is_refused():
    message = refusal(hosts={'app-1': [entry(privatekey_path='/opt/geodrill/key.pem\n')]})
    assert ("Host app-1, Geodrill/oefen: privatekey_path '/opt/geodrill/key.pem\\n' contains a control character (a "
            "newline, a tab or NUL). Give a plain absolute path, or leave it out (key.pem in dest_dir).") in message


def test_one_folder_written_two_ways_for_two_pairs_is_refused():
    message = refusal(hosts={'app-1': [entry(dest_dir='/x/shared'),
                                       entry(environment='productie', dest_dir='/x/y/../shared/.')]})
    assert ("Host app-1: Geodrill/oefen and Geodrill/productie both use dest_dir /x/y/../shared/.. Each certificate needs "
            "its own folder") in message


def test_unknown_formats_are_refused_by_name():
    message = refusal(hosts={'app-1': [entry(formats=['pem', 'der', 'p12'])]})
    assert 'Host app-1, Geodrill/oefen: unknown format(s) der, p12. Use pem, pkcs12 and/or jks.' in message


def test_a_host_listing_a_pair_twice_is_refused():
    message = refusal(hosts={'app-1': [entry(), entry(dest_dir='/opt/other/dov')]})
    assert 'Host app-1 lists Geodrill/oefen twice. One certificate per application/environment and host.' in message


def test_a_host_entry_without_application_or_environment_is_refused():
    message = refusal(hosts={'app-1': [{'dest_dir': '/opt/x'}], 'app-2': [{'application': APP, 'dest_dir': '/opt/x'}]})
    assert "Host app-1 names the application None, which is not in dov_applications" in message
    assert "Host app-2 names Geodrill/None, but the application 'Geodrill' has no environment None" in message


def test_dov_certificates_that_are_not_a_list_of_dicts_are_refused():
    message = refusal(hosts={'app-1': entry(), 'app-2': ['Geodrill/oefen']})
    assert 'Host app-1: dov_certificates must be a list of {application, environment, dest_dir}.' in message
    assert 'Host app-2: each dov_certificates item is a dict with application, environment and dest_dir.' in message


def test_every_problem_is_listed_at_once_and_counted():
    applications = [geodrill(oefen={'cn': PRODUCTIE_CN}, prod={}),
                    {'environments': {}}]
    hosts = {'app-1': [entry(dest_dir='relative'), entry(application='Nope')],
             'app-2': [entry(formats=['der'])]}
    message = refusal(applications, hosts)
    assert message.startswith('The inventory has 6 problem(s); nothing was changed:\n- ')
    lines = message.split('\n- ')[1:]
    assert len(lines) == 6
    assert any('its environment part is' in line for line in lines)
    assert any("Unknown DOV environment 'prod'" in line for line in lines)
    assert any('item 2 has no name' in line for line in lines)
    assert any('is not an absolute path' in line for line in lines)
    assert any("names the application 'Nope'" in line for line in lines)
    assert any('unknown format(s) der' in line for line in lines)


def test_two_pairs_of_one_host_in_the_same_dest_dir_are_refused():
    applications = [geodrill(oefen={'cn': CN}, productie={'cn': PRODUCTIE_CN})]
    hosts = {'app-1': [entry(environment='oefen', dest_dir='/opt/geodrill/dov'),
                       entry(environment='productie', dest_dir='/opt/geodrill/dov')]}
    message = refusal(applications, hosts)
    assert '/opt/geodrill/dov' in message


# ---------------------------------------------------------------- plan_hosts

def test_a_pair_without_cn_waits_for_it_naming_the_access_request_and_meldpunt(tmp_path):
    inventory = make_inventory(hosts={'app-1': [entry(), entry(environment='productie', dest_dir='/opt/geodrill/prod')]})
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-1'], {})
    waiting = pairs['Geodrill/productie']
    assert waiting['state'] == 'waiting_for_cn'
    assert waiting['holder'] is None
    assert waiting['hosts'] == ['app-1']
    assert waiting['messages'] == [
        "Geodrill/productie: no CN yet. Send %s to meldpunt@dov.vlaanderen.be and put the CN DOV sends back in "
        "dov_applications (Geodrill -> environments -> productie -> cn)." % os.path.join(str(tmp_path), APP, 'access-request.eml')]
    assert [item['environment'] for item in hosts['app-1']] == ['oefen']  # no prepare call for the waiting pair
    assert pairs[PAIR]['state'] is None and pairs[PAIR]['messages'] == []


def test_the_key_holder_is_the_first_live_host_without_a_record(tmp_path):
    inventory = make_inventory()
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-2', 'app-1'], {})
    assert pairs[PAIR]['holder'] == 'app-1'
    assert pairs[PAIR]['hosts'] == ['app-1', 'app-2']
    assert [item['key_holder'] for item in hosts['app-1']] == [True]
    assert [item['key_holder'] for item in hosts['app-2']] == [False]


def test_the_recorded_key_holder_stays_while_it_is_listed_and_live(tmp_path):
    status = {'pairs': {PAIR: {'key_holder': 'app-2'}}}
    pairs, hosts, _notes = plan.plan_hosts(make_inventory(), str(tmp_path), status, ['app-1', 'app-2'], {})
    assert pairs[PAIR]['holder'] == 'app-2'
    assert hosts['app-2'][0]['key_holder'] is True and hosts['app-1'][0]['key_holder'] is False


@pytest.mark.parametrize('recorded, play_hosts, holder', [
    ('app-9', ['app-1', 'app-2'], 'app-1'),     # no longer listed for the pair
    (None, ['app-2'], 'app-2'),                 # no record: the first host of the run
])
def test_another_key_holder_is_chosen_when_the_recorded_one_is_gone(tmp_path, recorded, play_hosts, holder):
    status = {'pairs': {PAIR: {'key_holder': recorded}}}
    pairs, hosts, _notes = plan.plan_hosts(make_inventory(), str(tmp_path), status, play_hosts, {})
    assert pairs[PAIR]['holder'] == holder
    assert sorted(hosts) == sorted(play_hosts)  # hosts outside the play get no prepare call


def test_a_pair_with_no_host_in_the_run_is_left_out(tmp_path):
    pairs, hosts, notes = plan.plan_hosts(make_inventory(), str(tmp_path), {'pairs': {}}, [], {})
    assert PAIR not in pairs and hosts == {} and notes == []


def test_a_pair_whose_key_holder_is_left_out_of_the_run_is_left_as_it_was(tmp_path):
    # --limit app-2: electing app-2 would make a second key and certificate for the pair.
    status = {'pairs': {PAIR: {'key_holder': 'app-1'}}}
    pairs, hosts, notes = plan.plan_hosts(make_inventory(), str(tmp_path), status, ['app-2'], {})
    assert PAIR not in pairs
    assert hosts == {'app-2': []}
    assert notes == ['%s: its key holder app-1 is not in this run (--limit?); the pair is left as it was.' % PAIR]


def test_the_certificate_kept_in_the_state_folder_goes_to_every_host_entry(tmp_path):
    inventory = make_inventory()
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-1', 'app-2'], {})
    assert 'certificate' not in hosts['app-1'][0]
    folder = tmp_path / APP / 'oefen'
    folder.mkdir(parents=True)
    (folder / 'certificate.pem').write_text('-----BEGIN CERTIFICATE-----\nstored\n-----END CERTIFICATE-----\n')
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-1', 'app-2'], {})
    assert hosts['app-1'][0]['certificate'] == hosts['app-2'][0]['certificate'] == (folder / 'certificate.pem').read_text()
    assert pairs[PAIR]['common_name'] == CN


def test_prepare_entries_carry_the_entry_and_defaults_but_no_passwords(tmp_path):
    host_entry = entry(formats=['pem', 'pkcs12'], owner='geodrill', group='geodrill', notify='geodrill.service',
                       privatekey_path='/etc/geodrill/key.pem', key_size=3072, pkcs12_password='secret-pw')
    inventory = make_inventory(hosts={'app-1': [host_entry]})
    defaults = {'key_type': 'rsa', 'key_size': 2048, 'pkcs12_profile': 'legacy', 'subject': {'O': 'Geolab nv'}}
    _pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-1'], defaults)
    assert hosts['app-1'] == [{
        'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
        'dest_dir': '/opt/geodrill/dov', 'key_holder': True,
        'install': {'formats': ['pem', 'pkcs12'], 'pkcs12_profile': 'legacy'},
        'privatekey_path': '/etc/geodrill/key.pem', 'owner': 'geodrill', 'group': 'geodrill', 'notify': 'geodrill.service',
        'key_type': 'rsa', 'key_size': 3072, 'subject': {'O': 'Geolab nv'},
    }]
    assert 'secret-pw' not in json.dumps(hosts)


# ---------------------------------------------------------------- check_issued

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


# ---------------------------------------------------------------- issue_pairs

def prepared_result(key=None, csr=None, converged=False, error=None, environment='oefen'):
    return {'application': APP, 'environment': environment, 'common_name': CN,
            'key_fingerprint': fingerprint(key) if key is not None else None,
            'csr': csr, 'converged': converged, 'error': error}


class World(object):
    """A state folder and an inventory (Geodrill/oefen on app-1 and app-2); ``issue`` plans and
    issues as the action plugin does and returns (changed, the pair's info)."""

    def __init__(self, state_dir, applications=None, hosts=None):
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
def world(tmp_path, lab):
    """A state folder that already holds the (module's) lab CA, so each test does not make one."""
    state_dir = tmp_path / 'state'
    shutil.copytree(lab.folder, str(state_dir / 'lab-ca'))
    return World(str(state_dir))


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


def test_check_mode_of_a_renewal_says_what_it_would_do_and_writes_nothing(tmp_path, key1, key2):
    world = World(str(tmp_path / 'state'))
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


def test_settle_commits_a_renewal_that_every_host_passed():
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
def test_settle_restores_every_host_when_one_host_failed_the_renewal(h2_result, live):
    install = {'h1': [dict(entry(), common_name=CN, keep_previous=True)], 'h2': [dict(entry(), common_name=CN, keep_previous=True)],
               'h3': [dict(entry(application='Other'), common_name=CN)]}
    ok = {'application': APP, 'environment': 'oefen', 'error': None}
    outcome = issue.settle_renewals(install, {'h1': [ok], 'h2': [h2_result] if h2_result else []}, live)
    assert outcome['restored'] == [PAIR]
    assert sorted(outcome['hosts']) == sorted(live) and all(item['settle'] == 'restore' for items in outcome['hosts'].values()
                                                            for item in items)
    assert outcome['messages'][PAIR][0].startswith('Geodrill/oefen: the renewal failed on h2, so the previous key and certificate '
                                                   'were put back on every host of the pair')


def test_check_mode_issues_nothing_and_writes_nothing(tmp_path, key1):
    state_dir = tmp_path / 'state'
    world = World(str(state_dir))
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


def test_a_host_error_in_prepare_fails_the_pair_and_nothing_is_issued(tmp_path, key1):
    world = World(str(tmp_path / 'state'))
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


def test_an_issuer_refusal_fails_the_pair_with_its_message(tmp_path, key1):
    applications = [geodrill(productie={'cn': PRODUCTIE_CN})]
    world = World(str(tmp_path / 'state'), applications, {'app-1': [entry(environment='productie')]})
    prepared = {'app-1': [prepared_result(key1, csr_pem(key1, PRODUCTIE_CN), environment='productie')]}
    world.pairs, _hosts, _notes = plan.plan_hosts(world.inventory, world.state_dir, {'pairs': {}}, ['app-1'], {})
    issue.issue_pairs(world.inventory, world.pairs, prepared, world.state_dir, 'lab')
    info = world.pairs['Geodrill/productie']
    assert info['state'] == 'failed'
    assert info['messages'][0].startswith('Geodrill/productie: The lab issuer does not issue for productie')


def test_a_pair_waiting_for_its_cn_is_left_alone(world, key1):
    inventory = make_inventory(hosts={'app-1': [entry(), entry(environment='productie', dest_dir='/opt/p')]})
    pairs, _hosts, _notes = plan.plan_hosts(inventory, world.state_dir, {'pairs': {}}, ['app-1'], {})
    issue.issue_pairs(inventory, pairs, {'app-1': [prepared_result(key1, csr_pem(key1))]}, world.state_dir, 'lab')
    assert pairs['Geodrill/productie']['state'] == 'waiting_for_cn'
    assert pairs['Geodrill/productie']['install'] == []
    assert pairs[PAIR]['install'] == [('app-1', False)]


def test_a_stored_certificate_with_another_cn_than_the_inventory_is_replaced(tmp_path, lab, key1):
    state_dir = tmp_path / 'state'
    shutil.copytree(lab.folder, str(state_dir / 'lab-ca'))
    typo = 'geolab.be/dov-services/oefen/Geodril'
    first = World(str(state_dir), [geodrill(oefen={'cn': typo})])
    first.issue({'app-1': [prepared_result(key1, csr_pem(key1, typo))], 'app-2': [prepared_result()]})
    assert pki.common_names(first.stored_leaf().subject) == [typo]
    corrected = World(str(state_dir))  # the CN corrected to CN; the holder's CSR follows (same key)
    _changed, info = corrected.issue({'app-1': [prepared_result(key1, csr_pem(key1))], 'app-2': [prepared_result(key1)]})
    assert pki.common_names(corrected.stored_leaf().subject) == [CN]
    assert info['certificate']['common_name'] == CN


# ---------------------------------------------------------------- pair_state

def info_of(state=None, hosts=('app-1', 'app-2'), days_left=1000):
    return {'state': state, 'hosts': list(hosts), 'certificate': {'days_left': days_left} if days_left is not None else None}


def done(verdict='ok', error=None):
    result = {'error': error}
    if verdict is not None:
        result['check'] = {'verdict': verdict}
    return result


@pytest.mark.parametrize('state', ['waiting_for_cn', 'waiting_for_certificate', 'renewal_pending', 'failed'])
def test_a_decided_state_is_kept_by_pair_state(state):
    assert states.pair_state(info_of(state), [done()], 'verified', 60, True) == state


@pytest.mark.parametrize('info, installed, previous, verify, expected', [
    (info_of(), [done(), done()], None, True, 'verified'),
    (info_of(days_left=30), [done(), done()], None, True, 'renewal_due'),
    (info_of(days_left=60), [done(), done()], 'verified', True, 'renewal_due'),
    (info_of(days_left=61), [done(), done()], 'renewal_due', True, 'verified'),
    (info_of(), [done(), done(error='The mTLS check from this host gave forbidden: 403')], 'verified', True, 'failed'),
    (info_of(), [done(None), done(None)], None, False, 'installed'),
    (info_of(), [done(), done(None)], None, True, 'installed'),           # one host could not be checked
    (info_of(), [done()], 'verified', True, 'verified'),                   # the other host was converged
    (info_of(days_left=10), [done()], 'renewal_due', True, 'renewal_due'),
    (info_of(), [done()], 'installed', True, 'installed'),
    (info_of(), [done()], None, True, 'installed'),
    (info_of(), [], 'verified', True, 'verified'),                          # all converged: the last verdict stays
    (info_of(), [], 'renewal_due', True, 'verified'),                       # ...but renewal_due follows days_left
    (info_of(days_left=5), [], 'verified', True, 'renewal_due'),
    (info_of(), [], 'installed', True, 'installed'),
    (info_of(), [], None, True, 'installed'),
    (info_of(), [], 'waiting_for_certificate', True, 'installed'),
    (info_of(days_left=None), [done(), done()], None, True, 'verified'),
])
def test_pair_state_for_each_outcome(info, installed, previous, verify, expected):
    assert states.pair_state(info, installed, previous, 60, verify) == expected


# ---------------------------------------------------------------- verified_state

def checked(days_left=1000, error=None):
    return {'installed': {'days_left': days_left}, 'check': {'verdict': 'ok' if not error else 'forbidden'}, 'error': error}


@pytest.mark.parametrize('info, results, previous, expected', [
    ({'state': 'waiting_for_cn'}, [], 'verified', 'waiting_for_cn'),
    ({'state': 'waiting_for_certificate'}, [checked()], 'verified', 'waiting_for_certificate'),
    ({'state': 'failed'}, [checked()], 'verified', 'failed'),
    ({'state': None}, [checked(), checked(error='The mTLS check from this host gave forbidden')], 'verified', 'failed'),
    ({'state': None}, [], 'installed', 'installed'),
    ({'state': None}, [], None, 'waiting_for_certificate'),
    ({'state': None}, [checked(), checked()], 'installed', 'verified'),
    ({'state': None}, [checked(1000), checked(59)], 'verified', 'renewal_due'),
    ({'state': None}, [checked(60)], 'verified', 'renewal_due'),
    ({'state': None}, [checked(61)], 'renewal_due', 'verified'),
])
def test_verified_state_for_each_outcome(info, results, previous, expected):
    assert states.verified_state(info, results, previous, 60) == expected


# ---------------------------------------------------------------- table

def test_the_table_aligns_columns_under_a_rule_and_shows_nothing_as_a_dash():
    lines = states.table([states.table_row({'application': 'Geodrill', 'environment': 'oefen', 'common_name': CN,
                                            'hosts': ['app-1', 'app-2'], 'state': 'verified',
                                            'not_after': '2031-12-24T10:00:00Z', 'days_left': 1859, 'verdict': 'ok'}),
                          states.table_row({'application': 'Geodrill', 'environment': 'productie', 'hosts': ['app-1'],
                                            'state': 'waiting_for_cn'})])
    assert lines[0].split() == ['application', 'environment', 'CN', 'hosts', 'state', 'not', 'after', 'days', 'left',
                                'last', 'verdict']
    assert set(lines[1].replace(' ', '')) == set('-')
    assert lines[2].split() == ['Geodrill', 'oefen', CN, 'app-1,', 'app-2', 'verified', '2031-12-24', '1859', 'ok']
    assert lines[3].split() == ['Geodrill', 'productie', '-', 'app-1', 'waiting_for_cn', '-', '-', '-']
    assert lines[2].index('verified') == lines[0].index('state') == lines[3].index('waiting_for_cn')
    assert lines[2].index('2031-12-24') == lines[0].index('not after')
    assert all(line == line.rstrip() for line in lines)
    assert len(lines[1]) == max(len(line) for line in lines)      # the rule spans every column


def test_a_table_with_other_headers_and_no_rows_is_just_the_header():
    assert states.table([], ('host', 'verdict')) == ['host  verdict', '----  -------']
