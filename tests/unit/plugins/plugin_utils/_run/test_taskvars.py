# -*- coding: utf-8 -*-
"""taskvars: what the onboarding action's steps read from Ansible's task variables, with plain
dicts as Ansible would give them (no Ansible run)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import taskvars
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP, CN = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill'
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
ENTRY = {'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}
# The role's folder, as Ansible gives it to the role's tasks (role_path).
ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', 'roles', 'dov_cert'))
ARGS = {'organisation': ORGANISATION, 'applications': [{'name': APP, 'environments': {'oefen': {'cn': CN}}}],
        'cn_policy': 'strict'}


def task_vars(hostvars=None, groups_all=None, play_hosts=None, play_hosts_all=None, **more):
    hostvars = hostvars if hostvars is not None else {'app-1': {}, 'app-2': {}}
    found = {'hostvars': hostvars, 'groups': {'all': list(hostvars) if groups_all is None else groups_all},
             'ansible_play_hosts': list(hostvars) if play_hosts is None else play_hosts,
             'ansible_play_hosts_all': list(hostvars) if play_hosts_all is None else play_hosts_all}
    found.setdefault('role_path', ROLE)
    found.update(more)
    return found


def specs():
    return taskvars.argument_specs(task_vars())


def result(application=APP, environment='oefen', **more):
    item = {'application': application, 'environment': environment}
    item.update(more)
    return item


# ---------------------------------------------------------------- hosts

def test_hosts_are_every_inventory_host_in_order_then_play_hosts_outside_it():
    found = task_vars({'b': {}, 'a': {}, 'c': {}}, groups_all=['b', 'a'], play_hosts=['a'], play_hosts_all=['a', 'c', 'b'])
    assert taskvars.hosts(found) == ['b', 'a', 'c']


def test_hosts_without_groups_or_play_hosts_are_none():
    assert taskvars.hosts({}) == []
    assert taskvars.play_hosts({}) == [] and taskvars.play_hosts_all({}) == []


def test_play_hosts_are_the_live_hosts_and_play_hosts_all_every_host_of_the_run():
    found = task_vars({'a': {}, 'b': {}}, play_hosts=['b'], play_hosts_all=['a', 'b'])
    assert taskvars.play_hosts(found) == ['b']
    assert taskvars.play_hosts_all(found) == ['a', 'b']


# ---------------------------------------------------------------- inventory

def test_the_inventory_reads_every_hosts_dov_certificates_also_outside_the_limit():
    found = task_vars({'app-1': {'dov_certificates': [ENTRY]}, 'app-2': {'dov_certificates': [ENTRY]}, 'db-1': {}},
                      play_hosts=['app-1'], play_hosts_all=['app-1'])
    inventory = taskvars.inventory(ARGS, found)
    assert sorted(inventory.pairs) == ['%s/oefen' % APP]
    assert [host for host, _entry in inventory.pairs['%s/oefen' % APP].hosts] == ['app-1', 'app-2']


def test_relative_paths_are_taken_from_the_inventory_files_folder_else_the_current_one(tmp_path, monkeypatch):
    (tmp_path / 'inventory').mkdir()
    (tmp_path / 'inventory' / 'geodrill.pem').write_bytes(b'')
    args = dict(ARGS, applications=[{'name': APP, 'environments': {'oefen': {'cn': CN, 'certificate_file': 'geodrill.pem'}}}])
    found = task_vars({'app-1': {'dov_certificates': [ENTRY]}}, inventory_file=str(tmp_path / 'inventory' / 'hosts.yml'))
    pair = taskvars.inventory(args, found).pairs['%s/oefen' % APP]
    assert pair.certificate_file == str(tmp_path / 'inventory' / 'geodrill.pem')
    monkeypatch.chdir(str(tmp_path / 'inventory'))
    pair = taskvars.inventory(args, task_vars({'app-1': {'dov_certificates': [ENTRY]}})).pairs['%s/oefen' % APP]
    assert pair.certificate_file == os.path.join(os.getcwd(), 'geodrill.pem')


# ---------------------------------------------------------------- registered results

def test_registered_results_are_joined_per_live_host_in_the_order_of_the_names():
    found = task_vars({
        'app-1': {'dov_installed': {'certificates': [result(step='installed')]},
                  'dov_checked': {'certificates': [result(step='checked')]}},
        'app-2': {'dov_installed': {'skipped': True}},
        'app-3': {'dov_installed': {'certificates': [result(step='gone')]}},
    }, play_hosts=['app-1', 'app-2'])
    assert taskvars.registered(found, ['dov_checked', 'dov_installed']) == {
        'app-1': [result(step='checked'), result(step='installed')], 'app-2': []}
    assert taskvars.registered(found, []) == {'app-1': [], 'app-2': []}


# ---------------------------------------------------------------- the plan step's refusals

def test_known_role_variables_and_the_roles_own_names_pass():
    taskvars.check_variables(task_vars({'app-1': {'dov_certificates': [], 'dov_prepared': {}}}, dov_issuer='lab',
                                       dov_key_home='host'), specs())


def test_a_misspelled_variable_of_any_host_is_refused_with_the_one_meant():
    with pytest.raises(DovError, match=r"Unknown variable\(s\): dov_isuer \(did you mean dov_issuer\?\)"):
        taskvars.check_variables(task_vars({'app-1': {}, 'app-2': {'dov_isuer': 'lab'}}), specs())


def test_dov_key_home_other_than_host_is_refused():
    with pytest.raises(DovError, match="dov_key_home=controller is not supported: every pair's key stays on its hosts"):
        taskvars.check_variables(task_vars(dov_key_home='controller'), specs())


def test_the_role_variables_come_from_the_argument_specs_in_the_roles_folder(tmp_path):
    assert 'dov_issuer' in specs()['main']['options'] and sorted(specs()) == ['main', 'renew', 'status', 'verify']
    (tmp_path / 'meta').mkdir()
    (tmp_path / 'meta' / 'argument_specs.yml').write_text('argument_specs:\n  main:\n    options:\n      dov_mine: {}\n')
    other = taskvars.argument_specs(task_vars(role_path=str(tmp_path)))
    assert other == {'main': {'options': {'dov_mine': {}}}}
    with pytest.raises(DovError, match=r"Unknown variable\(s\): dov_mien \(did you mean dov_mine\?\)"):
        taskvars.check_variables(task_vars({'app-1': {'dov_mien': 1}}), other)


@pytest.mark.parametrize('role_path', [None, ''])
def test_the_action_outside_the_role_is_refused_because_it_has_no_role_path(role_path):
    found = task_vars()
    if role_path is None:
        del found['role_path']
    else:
        found['role_path'] = role_path
    with pytest.raises(DovError) as raised:
        taskvars.argument_specs(found)
    assert str(raised.value) == (
        "The action vlaanderen.dov.onboarding runs only as a task of the role vlaanderen.dov.dov_cert: this task has no "
        "role_path, so the role's argument specs cannot be found. Run the role (or one of the collection's playbooks, "
        "e.g. vlaanderen.dov.onboard) instead of calling the action directly.")


ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.example'}


def test_role_variables_of_every_host_are_checked_against_the_modes_entry_point():
    play = dict(dov_organisation=ORGANISATION, dov_applications=[], dov_renew_before_days=60)
    good = task_vars({'app-1': {}, 'app-2': {'dov_renew_before_days': '20'}}, **play)
    for mode in ('onboard', 'renew', 'verify', 'status'):
        taskvars.check_role_variables(good, mode, specs())
    bad = task_vars({'app-1': {}, 'app-2': {'dov_renew_before_days': 'soon'}, 'app-3': {'dov_pkcs12_profile': 'old'}}, **play)
    with pytest.raises(DovError) as raised:
        taskvars.check_role_variables(bad, 'onboard', specs())
    message = str(raised.value)
    assert 'entry point main' in message
    assert "dov_renew_before_days" in message and '(host app-2)' in message
    assert 'dov_pkcs12_profile' in message and '(host app-3)' in message and 'app-1' not in message


def test_a_host_that_left_the_run_is_not_checked_and_the_play_value_is_used_when_a_host_has_none():
    found = task_vars({'app-1': {}, 'gone': {'dov_renew_before_days': 'soon'}}, play_hosts=['app-1'],
                      dov_organisation=ORGANISATION, dov_applications=[], dov_renew_before_days='soon')
    with pytest.raises(DovError, match=r'dov_renew_before_days.*\(host app-1\)'):
        taskvars.check_role_variables(found, 'verify', specs())


# ---------------------------------------------------------------- the report step's inputs

def test_report_pairs_are_the_issue_steps_else_the_plan_steps_as_copies():
    issued = {'pairs': {'A/oefen': {'state': 'installed', 'messages': ['issued']}}}
    planned = {'pairs': {'A/oefen': {'state': 'planned'}, 'B/oefen': {'state': 'waiting_for_cn'}}}
    pairs = taskvars.report_pairs(issued, planned, {})
    assert pairs == issued['pairs'] and pairs['A/oefen'] is not issued['pairs']['A/oefen']
    assert taskvars.report_pairs({}, planned, {}) == planned['pairs']
    assert taskvars.report_pairs({'pairs': {}}, planned, None) == planned['pairs']
    assert taskvars.report_pairs({}, {}, {}) == {}


def test_report_pairs_get_the_settle_steps_messages_without_changing_the_issue_steps():
    issued = {'pairs': {'A/oefen': {'messages': ['issued']}, 'B/oefen': {}}}
    settled = {'messages': {'A/oefen': ['put back'], 'B/oefen': ['put back too'], 'gone/oefen': ['ignored']}}
    pairs = taskvars.report_pairs(issued, {}, settled)
    assert pairs == {'A/oefen': {'messages': ['issued', 'put back']}, 'B/oefen': {'messages': ['put back too']}}
    assert issued['pairs']['A/oefen']['messages'] == ['issued']


@pytest.mark.parametrize('mode, steps', [
    ('onboard', ['installed']),     # the install call also holds the read-only checks (verify_only)
    ('renew', ['installed']),
    ('verify', ['verified']),
    ('status', []),
])
def test_report_results_are_the_registered_calls_of_the_mode(mode, steps):
    found = task_vars({'app-1': dict(('dov_' + step, {'certificates': [result(step=step)]})
                                     for step in ('installed', 'checked', 'verified'))})
    assert taskvars.report_results(found, mode) == {'app-1': [result(step=step) for step in steps]}


def test_with_renew_a_failed_settle_fails_the_pair_on_its_host_and_a_good_one_adds_nothing():
    failed = result(settle='commit', error='the staged key is gone')
    found = task_vars({'app-1': {'dov_installed': {'certificates': [result(step='installed')]},
                                 'dov_settle': {'certificates': [failed, result(settle='commit')]}},
                       'app-2': {'dov_settle': {'certificates': [result(settle='restore')]}}})
    assert taskvars.report_results(found, 'renew') == {'app-1': [result(step='installed'), failed], 'app-2': []}
    assert taskvars.report_results(found, 'onboard') == {'app-1': [result(step='installed')], 'app-2': []}
