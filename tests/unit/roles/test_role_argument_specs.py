# -*- coding: utf-8 -*-
"""The role's entry points (meta/argument_specs.yml) as `ansible-doc -t role vlaanderen.dov.dov_cert`
shows them: each one says what it does in its own words, has a tasks file, and an option it shares
with main is the same option (type, default, choices), only described for that entry point."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'dov_cert')
SPECS = yaml.safe_load(open(os.path.join(ROLE, 'meta', 'argument_specs.yml'), encoding='utf-8'))['argument_specs']
ENTRY_POINTS = ('verify', 'status', 'renew')
# What each playbook runs: the entry point's tasks file and the playbook that uses it.
PLAYBOOKS = {'verify': 'verify.yml', 'status': 'report.yml', 'renew': 'renew.yml'}


def without_descriptions(option):
    if isinstance(option, dict):
        return dict((key, without_descriptions(value)) for key, value in option.items() if key != 'description')
    return option


def test_the_role_has_main_verify_status_and_renew():
    assert set(SPECS) == {'main', 'verify', 'status', 'renew'}


@pytest.mark.parametrize('entry', ENTRY_POINTS)
def test_each_entry_point_describes_itself_not_main(entry):
    spec = SPECS[entry]
    assert spec['short_description'] != SPECS['main']['short_description']
    assert spec['description'] != SPECS['main']['description']
    assert PLAYBOOKS[entry] in ' '.join(spec['description'])
    assert os.path.isfile(os.path.join(ROLE, 'tasks', entry + '.yml'))
    with open(os.path.join(ROOT, 'playbooks', PLAYBOOKS[entry])) as handle:
        assert 'tasks_from: %s' % entry in handle.read()


@pytest.mark.parametrize('entry', ENTRY_POINTS)
def test_an_option_of_an_entry_point_is_mains_option(entry):
    options = SPECS[entry]['options']
    assert options
    for name, option in options.items():
        assert name in SPECS['main']['options'], '%s: %s is not a variable of the role' % (entry, name)
        assert without_descriptions(option) == without_descriptions(SPECS['main']['options'][name]), (entry, name)


def test_verify_and_status_document_only_what_they_use():
    for entry, absent in (('verify', ('dov_issuer', 'dov_issuer_command', 'dov_key_type', 'dov_renew')),
                          ('status', ('dov_issuer', 'dov_server_ca_bundle', 'dov_proxy', 'dov_lab_standin', 'dov_smtp'))):
        assert not set(absent) & set(SPECS[entry]['options']), entry
    assert {'dov_check_timeout', 'dov_pkcs12_password', 'dov_jks_password'} <= set(SPECS['verify']['options'])
    assert set(SPECS['renew']['options']) == set(SPECS['main']['options'])     # renew runs the whole flow
