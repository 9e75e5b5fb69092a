# -*- coding: utf-8 -*-
"""inventory and plan: names that collide with the state folder, certificate_file, files, health_path;
access requests only while a CN is awaited; controller files; the plan step releases what it took."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import socket

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
CN = 'geolab.be/dov-services/oefen/Geodrill'
APP, PAIR = 'Geodrill', 'Geodrill/oefen'


def app(name='Geodrill', environments=None, **more):
    return dict({'name': name, 'description': 'Boorgegevens', 'environments': environments or {'oefen': {'cn': CN}}}, **more)


def host(**more):
    return {'app-1': [dict({'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}, **more)]}


def options(**more):
    base = {'mode': 'onboard', 'verify': True, 'check_timeout': 15, 'lock_timeout': 0, 'send_requests': False,
            'health_path': 'dov-xdov-server/logs/chucknorris', 'endpoints': {'oefen': 'https://dov.example/'},
            'organisation': ORGANISATION, 'ca_bundle': '', 'server_ca_bundle': '', 'lab': {}}
    base.update(more)
    return base


# ---------------------------------------------------------------- inventory and plan


def test_file_names_and_health_path_reach_the_pair_and_the_prepare_entries(tmp_path):
    inv = inventory.Inventory(ORGANISATION, [app(health_path='dovinstrumentserver/chucknorris')],
                              host(files={'key': 'client.key', 'cert': 'client.crt'}))
    _pairs, hosts, _notes = plan.plan_hosts(inv, str(tmp_path), {'pairs': {}}, ['app-1'], {})
    assert hosts['app-1'][0]['files'] == {'key': 'client.key', 'cert': 'client.crt'}
    check = plan.check_settings(inv.pairs['Geodrill/oefen'], {'timeout': 5.0}, {'oefen': 'https://dov.example/'})
    assert check == {'timeout': 5.0, 'url': 'https://dov.example/dovinstrumentserver/chucknorris'}
    other = inventory.Inventory(ORGANISATION, [app()], host())
    assert plan.check_settings(other.pairs['Geodrill/oefen'], {}, {'oefen': 'https://dov.example'},
                               'dov-xdov-server/logs/chucknorris')['url'] == 'https://dov.example/dov-xdov-server/logs/chucknorris'


# ---------------------------------------------------------------- plan

def test_access_requests_are_written_only_for_applications_still_waiting_for_a_cn(tmp_path):
    inv = inventory.Inventory(ORGANISATION, [app(), app('Labo', {'oefen': {}})], {})
    changed, requests, _messages = plan.write_requests(inv, str(tmp_path), ORGANISATION, {}, False, False)
    assert changed is True and sorted(requests) == ['Labo']
    assert (tmp_path / 'Labo' / 'access-request.eml').exists() and not (tmp_path / 'Geodrill').exists()
    assert plan.write_requests(inv, str(tmp_path), ORGANISATION, {}, False, False)[0] is False


def test_a_controller_file_that_does_not_exist_is_refused_by_variable_and_path(tmp_path):
    with pytest.raises(DovError) as info:
        plan.check_controller_files({'dov_ca_bundle': str(tmp_path / 'ca.pem'), 'dov_server_ca_bundle': ''})
    assert str(info.value) == ('dov_ca_bundle %s does not exist on the controller. Give the PEM file with the CA '
                               'certificates, or leave dov_ca_bundle empty.' % (tmp_path / 'ca.pem'))


def lock_for(state_dir):
    return statefolder.Lock(str(state_dir), {'pid': os.getpid(), 'process_started': statefolder.process_started(os.getpid()),
                                             'host': socket.gethostname()})


def test_a_missing_ca_bundle_is_refused_before_the_lock_is_taken(tmp_path):
    inv = inventory.Inventory(ORGANISATION, [app()], host())
    with pytest.raises(DovError, match='dov_ca_bundle'):
        plan.plan_step(inv, str(tmp_path / 'state'), ['app-1'], options(ca_bundle=str(tmp_path / 'none.pem')), False,
                       lock_for(tmp_path / 'state'))
    assert not (tmp_path / 'state').exists()


def test_the_plan_step_releases_the_lock_when_it_fails_after_taking_it(tmp_path):
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    port = closed.getsockname()[1]
    closed.close()          # nothing listens there: the access request cannot be sent
    inv = inventory.Inventory(ORGANISATION, [app('Labo', {'oefen': {}})], {})
    smtp = {'host': '127.0.0.1', 'port': port, 'starttls': False, 'sender': 'it@geolab.be'}
    with pytest.raises(DovError, match='cannot connect'):
        plan.plan_step(inv, str(tmp_path), [], options(send_requests=True, smtp=smtp), False, lock_for(tmp_path))
    assert not (tmp_path / '.lock').exists()


def test_the_plan_step_takes_the_lock_and_gives_each_pair_its_check(tmp_path):
    inv = inventory.Inventory(ORGANISATION, [app()], host())
    lock = lock_for(tmp_path)
    outcome = plan.plan_step(inv, str(tmp_path), ['app-1'], options(), False, lock)
    assert (tmp_path / '.lock').exists() and lock.release() is True
    assert 'check_settings' not in outcome['pairs']['Geodrill/oefen'] and outcome['lab'] == {}
    assert plan.add_checks(outcome, inv, options(), {}) is outcome
    assert outcome['pairs']['Geodrill/oefen']['check_settings'] == {
        'timeout': 15.0, 'url': 'https://dov.example/dov-xdov-server/logs/chucknorris'}
    assert outcome['hosts']['app-1'][0]['key_holder'] is True


def test_the_lab_stand_ins_endpoints_and_server_ca_fill_in_what_the_options_do_not_give(tmp_path):
    inv = inventory.Inventory(ORGANISATION, [app()], host())
    (tmp_path / 'bundle.pem').write_text('LAB CA PEM\n')
    lab = {'endpoints': {'oefen': 'https://127.0.0.1:18443/', 'productie': 'https://127.0.0.1:18443/'},
           'server_ca_bundle': str(tmp_path / 'bundle.pem')}
    outcome = plan.plan_step(inv, str(tmp_path), ['app-1'], options(mode='verify', endpoints={}), True, None)
    plan.add_checks(outcome, inv, options(mode='verify', endpoints={}), lab)
    assert outcome['lab'] is lab
    check = {'timeout': 15.0, 'ca_bundle_pem': 'LAB CA PEM\n', 'url': 'https://127.0.0.1:18443/dov-xdov-server/logs/chucknorris'}
    assert outcome['pairs']['Geodrill/oefen']['check_settings'] == check
    # verify.yml: the entries only check what is installed
    assert outcome['hosts']['app-1'][0]['check'] == check and outcome['hosts']['app-1'][0]['key_holder'] is False
    # dov_endpoints wins over the stand-in's
    given = plan.add_checks(plan.plan_step(inv, str(tmp_path), ['app-1'], options(), True, None), inv, options(), lab)
    assert given['pairs']['Geodrill/oefen']['check_settings']['url'] == 'https://dov.example/dov-xdov-server/logs/chucknorris'


def test_report_yml_takes_no_lock(tmp_path):
    inv = inventory.Inventory(ORGANISATION, [app()], host())
    plan.plan_step(inv, str(tmp_path / 'state'), ['app-1'], options(mode='status'), False, lock_for(tmp_path / 'state'))
    assert not (tmp_path / 'state' / '.lock').exists()


def test_misspelled_role_variables_are_named_with_the_one_meant():
    assert plan.misspelled_variables({'dov_isuer', 'dov_issuer', 'dov_mine_entirely', 'dov_plan'},
                                     {'dov_issuer', 'dov_ca_bundle'}, ('dov_plan',)) == [('dov_isuer', 'dov_issuer')]


# ---------------------------------------------------------------- the role's variables, once for every host

def _role_options(entry_point='main'):
    import yaml
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', 'roles', 'dov_cert', 'meta', 'argument_specs.yml')
    with open(path) as handle:
        return yaml.safe_load(handle)['argument_specs'][entry_point]['options']


ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.example'}


def test_role_variables_that_fit_the_specification_pass_for_every_host():
    good = {'dov_organisation': ORGANISATION, 'dov_applications': [], 'dov_renew_before_days': '30',
            'dov_certificates': [{'application': 'Boorapp', 'environment': 'oefen', 'dest_dir': '/etc/dov', 'formats': ['pem', 'pkcs12']}]}
    plan.check_role_variables(_role_options(), {'web1': good, 'web2': dict(good, dov_renew_before_days=0)})


def test_a_value_that_does_not_fit_names_the_variable_the_hosts_and_the_entry_point():
    good = {'dov_organisation': ORGANISATION, 'dov_applications': []}
    values = {'web1': good, 'web2': dict(good, dov_renew_before_days='soon'), 'web3': dict(good, dov_renew_before_days='soon'),
              'web4': dict(good, dov_certificates=[{'application': 'Boorapp', 'environment': 'oefen', 'dest_dir': '/etc/dov', 'formats': ['pfx']}])}
    with pytest.raises(DovError) as raised:
        plan.check_role_variables(_role_options('renew'), values, 'renew')
    message = str(raised.value)
    assert 'entry point renew' in message
    assert 'dov_renew_before_days' in message and 'host web2, web3' in message
    assert 'pfx' in message and 'host web4' in message
    assert 'web1' not in message


def test_a_missing_required_variable_is_named():
    with pytest.raises(DovError) as raised:
        plan.check_role_variables(_role_options(), {'web1': {'dov_applications': []}})
    assert 'dov_organisation' in str(raised.value) and 'host web1' in str(raised.value)


def test_a_value_every_host_shares_is_validated_once(monkeypatch):
    calls = []
    real = plan.ArgumentSpecValidator

    class Counting(real):
        def validate(self, parameters, *args, **kwargs):
            calls.append(sorted(parameters))
            return real.validate(self, parameters, *args, **kwargs)

    monkeypatch.setattr(plan, 'ArgumentSpecValidator', Counting)
    applications = [{'name': 'App%d' % index, 'description': 'x', 'environments': {'oefen': {}}} for index in range(40)]
    values = dict(('web%d' % index, {'dov_organisation': ORGANISATION, 'dov_applications': applications,
                                     'dov_renew_before_days': index % 2})
                  for index in range(40))
    plan.check_role_variables(_role_options(), values)
    assert calls.count(['dov_applications']) == 1 and calls.count(['dov_organisation']) == 1
    assert calls.count(['dov_renew_before_days']) == 2      # two distinct values


def test_a_value_json_cannot_sort_is_still_validated():
    """environments with an int and a text key (json cannot sort them): each host's value is still
    checked on its own, the refusal names only the host whose value does not fit, and the hosts'
    values are left as they were."""
    bad = {'dov_organisation': ORGANISATION, 'dov_applications': [{'name': 'Geodrill', 'environments': {1: {}, 'oefen': {}}}]}
    good = {'dov_organisation': ORGANISATION,
            'dov_applications': [{'name': 'Geodrill', 'description': 'x', 'environments': {1: {}, 'oefen': {}}}]}
    values = {'web1': bad, 'web2': good, 'web3': copy.deepcopy(good)}
    before = copy.deepcopy(values)
    with pytest.raises(DovError) as raised:
        plan.check_role_variables(_role_options(), values)
    assert str(raised.value) == (
        "The role's variables do not fit its specification (meta/argument_specs.yml, entry point main): missing required "
        "arguments: description found in dov_applications (host web1). Correct them in the inventory (ansible-doc -t role "
        "vlaanderen.dov.dov_cert lists every variable).")
    assert values == before


# ---------------------------------------------------------------- plan_hosts (``entry``, ``geodrill``,
# ``make_inventory``: fixtures of tests/unit/plugins/plugin_utils/conftest.py)

def test_a_pair_without_cn_waits_for_it_naming_the_access_request_and_meldpunt(tmp_path, entry, make_inventory):
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


def test_the_key_holder_is_the_first_live_host_without_a_record(tmp_path, make_inventory):
    inventory = make_inventory()
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-2', 'app-1'], {})
    assert pairs[PAIR]['holder'] == 'app-1'
    assert pairs[PAIR]['hosts'] == ['app-1', 'app-2']
    assert [item['key_holder'] for item in hosts['app-1']] == [True]
    assert [item['key_holder'] for item in hosts['app-2']] == [False]


def test_the_recorded_key_holder_stays_while_it_is_listed_and_live(tmp_path, make_inventory):
    status = {'pairs': {PAIR: {'key_holder': 'app-2'}}}
    pairs, hosts, _notes = plan.plan_hosts(make_inventory(), str(tmp_path), status, ['app-1', 'app-2'], {})
    assert pairs[PAIR]['holder'] == 'app-2'
    assert hosts['app-2'][0]['key_holder'] is True and hosts['app-1'][0]['key_holder'] is False


@pytest.mark.parametrize('recorded, play_hosts, holder', [
    ('app-9', ['app-1', 'app-2'], 'app-1'),     # no longer listed for the pair
    (None, ['app-2'], 'app-2'),                 # no record: the first host of the run
])
def test_another_key_holder_is_chosen_when_the_recorded_one_is_gone(tmp_path, recorded, play_hosts, holder, make_inventory):
    status = {'pairs': {PAIR: {'key_holder': recorded}}}
    pairs, hosts, _notes = plan.plan_hosts(make_inventory(), str(tmp_path), status, play_hosts, {})
    assert pairs[PAIR]['holder'] == holder
    assert sorted(hosts) == sorted(play_hosts)  # hosts outside the play get no prepare call


def test_a_pair_with_no_host_in_the_run_is_left_out(tmp_path, make_inventory):
    pairs, hosts, notes = plan.plan_hosts(make_inventory(), str(tmp_path), {'pairs': {}}, [], {})
    assert PAIR not in pairs and hosts == {} and notes == []


def test_a_pair_whose_key_holder_is_left_out_of_the_run_is_left_as_it_was(tmp_path, make_inventory):
    # --limit app-2: electing app-2 would make a second key and certificate for the pair.
    status = {'pairs': {PAIR: {'key_holder': 'app-1'}}}
    pairs, hosts, notes = plan.plan_hosts(make_inventory(), str(tmp_path), status, ['app-2'], {})
    assert PAIR not in pairs
    assert hosts == {'app-2': []}
    assert notes == ['%s: its key holder app-1 is not in this run (--limit?); the pair is left as it was.' % PAIR]


def test_the_certificate_kept_in_the_state_folder_goes_to_every_host_entry(tmp_path, make_inventory):
    inventory = make_inventory()
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-1', 'app-2'], {})
    assert 'certificate' not in hosts['app-1'][0]
    folder = tmp_path / APP / 'oefen'
    folder.mkdir(parents=True)
    (folder / 'certificate.pem').write_text('-----BEGIN CERTIFICATE-----\nstored\n-----END CERTIFICATE-----\n')
    pairs, hosts, _notes = plan.plan_hosts(inventory, str(tmp_path), {'pairs': {}}, ['app-1', 'app-2'], {})
    assert hosts['app-1'][0]['certificate'] == hosts['app-2'][0]['certificate'] == (folder / 'certificate.pem').read_text()
    assert pairs[PAIR]['common_name'] == CN


def test_prepare_entries_carry_the_entry_and_defaults_but_no_passwords(tmp_path, entry, make_inventory):
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


# ---------------------------------------------------------------- PairInfo

def test_a_pair_info_crosses_to_ansible_as_exactly_the_fields_that_were_set_in_their_order():
    info = plan.PairInfo.from_dict({'application': 'Geodrill', 'environment': 'oefen', 'common_name': None,
                                    'hosts': ['app-1'], 'holder': 'app-1', 'state': None, 'messages': []})
    assert info.certificate is None and not info.has('certificate')       # declared, not set
    info.staged_key = None                                                  # set to None: it is in the dict
    info.install = [('app-1', False)]
    info.state = 'verified'                                                 # keeps its place
    assert list(info.to_dict()) == ['application', 'environment', 'common_name', 'hosts', 'holder', 'state', 'messages',
                                    'staged_key', 'install']
    assert info.take('install') == [('app-1', False)] and info.take('install') is None
    assert 'install' not in info.to_dict() and info.to_dict()['state'] == 'verified'


def test_a_field_a_pair_does_not_declare_is_refused():
    info = plan.PairInfo(application='Geodrill')
    with pytest.raises(AttributeError, match="no field 'certifcate'"):
        info.certifcate = {}
    with pytest.raises(TypeError, match='no field colour'):
        plan.PairInfo.from_dict({'application': 'Geodrill', 'colour': 'red'})


def test_a_key_that_is_not_text_is_refused_by_name_not_with_a_python_error():
    """ansible-core's validator raises TypeError on an int key in a dict with suboptions; the user
    gets the variable, the key and the fix, and the values are left as they were."""
    values = {'web1': {'dov_organisation': {1: 'x'}, 'dov_applications': []},
              'web2': {'dov_organisation': ORGANISATION, 'dov_applications': []}}
    before = copy.deepcopy(values)
    with pytest.raises(DovError) as raised:
        plan.check_role_variables(_role_options(), values)
    message = str(raised.value)
    assert "dov_organisation has a key that is not text (1); quote every key in the inventory (host web1)" in message
    assert 'web2' not in message and values == before
