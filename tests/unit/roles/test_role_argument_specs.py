# -*- coding: utf-8 -*-
"""The role's entry points (meta/argument_specs.yml) as `ansible-doc -t role vlaanderen.dov.dov_cert`
shows them: each one says what it does in its own words, has a tasks file, and an option it shares
with main is the same option (type, default, choices), only described for that entry point. Every
choice list is the one the code checks (the same list the modules' and the action's specs take)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.vlaanderen.dov.plugins.action import onboarding as action
from ansible_collections.vlaanderen.dov.plugins.module_utils import _argspec
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, orgid
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import choices
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import installed
from ansible_collections.vlaanderen.dov.plugins.modules import access_request, host_certificates
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issuers
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._retire import revocation

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'dov_cert')
SPECS = yaml.safe_load(open(os.path.join(ROLE, 'meta', 'argument_specs.yml'), encoding='utf-8'))['argument_specs']
ENTRY_POINTS = ('verify', 'status', 'renew')
# What each playbook runs: the entry point's tasks file and the playbook that uses it.
PLAYBOOKS = {'verify': 'verify.yml', 'status': 'report.yml', 'renew': 'renew.yml'}
# Each option of the role that offers choices, and the one list in Python the code checks it against.
CHOICES = {
    'dov_issuer': issuers.KINDS,
    'dov_pkcs12_profile': choices.PKCS12_PROFILES,
    'dov_key_type': choices.KEY_TYPES,
    'dov_key_size': choices.RSA_KEY_SIZES,
    'dov_cn_policy': cn.POLICIES,
    'dov_revoke_reason': tuple(revocation.REASONS),
    'dov_organisation.id_type': orgid.ID_TYPES,
    'dov_certificates.formats': installed.FORMATS,
    'dov_certificates.state': tuple(host_certificates.ENTRY['state']['choices']),
}


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
    for entry, absent in (('verify', ('dov_issuer', 'dov_issuer_command', 'dov_key_type', 'dov_renew_key', 'dov_only')),
                          ('status', ('dov_issuer', 'dov_server_ca_bundle', 'dov_proxy', 'dov_lab_standin'))):
        assert not set(absent) & set(SPECS[entry]['options']), entry
    assert {'dov_check_timeout', 'dov_pkcs12_password', 'dov_jks_password'} <= set(SPECS['verify']['options'])
    # report.yml reads keystores on the hosts, mails over dov_smtp and writes the metrics
    assert {'dov_fail_within_days', 'dov_notify_email', 'dov_smtp', 'dov_metrics_dir', 'dov_pkcs12_password',
            'dov_jks_password'} <= set(SPECS['status']['options'])
    assert set(SPECS['renew']['options']) == set(SPECS['main']['options'])     # renew runs the whole flow


def options_with_choices(options, prefix=''):
    for name, option in options.items():
        if 'choices' in option:
            yield prefix + name, option['choices']
        yield from options_with_choices(option.get('options') or {}, prefix + name + '.')


@pytest.mark.parametrize('entry', sorted(SPECS))
def test_every_choice_of_the_role_is_the_list_the_code_checks(entry):
    found = dict(options_with_choices(SPECS[entry]['options']))
    assert set(found) <= set(CHOICES), 'choices without a source in Python: %s' % sorted(set(found) - set(CHOICES))
    for name, listed in found.items():
        assert listed == list(CHOICES[name]), name
    if entry == 'main':
        assert set(found) == set(CHOICES)


def test_the_modules_and_the_action_offer_the_same_lists():
    assert action.SPEC['issuer']['choices'] == list(issuers.KINDS)
    assert action.SPEC['cn_policy'] is _argspec.CN_POLICY
    assert _argspec.CN_POLICY['choices'] == list(cn.POLICIES)
    assert _argspec.KEY_OPTIONS['key_type']['choices'] == list(choices.KEY_TYPES)
    assert _argspec.KEY_OPTIONS['key_size']['choices'] == list(choices.RSA_KEY_SIZES)
    assert _argspec.KEY_OPTIONS['curve']['choices'] == list(choices.CURVES)
    assert _argspec.INSTALL_OPTIONS['pkcs12_profile']['choices'] == list(choices.PKCS12_PROFILES)
    assert _argspec.INSTALL_OPTIONS['formats']['choices'] == list(installed.FORMATS)
    assert host_certificates.ENTRY['install']['options'] is _argspec.INSTALL_OPTIONS


def test_access_request_offers_the_organisation_id_types_the_role_does(monkeypatch):
    captured = {}

    class Stop(Exception):
        pass

    def capture(**kwargs):
        captured.update(kwargs)
        raise Stop()
    monkeypatch.setattr(access_request, 'AnsibleModule', capture)
    with pytest.raises(Stop):
        access_request.run_module()
    spec = captured['argument_spec']
    assert spec['organisation_id_type']['choices'] == list(orgid.ID_TYPES)
    assert spec['environments']['choices'] == list(cn.REQUESTABLE_ENVIRONMENTS)


# Defaults the YAML must write out (role defaults, argument specs, module documentation), each
# held to the one constant the code uses: {role variable: (constant, [(module, option)])}.
WRITTEN_OUT_DEFAULTS = {
    'dov_health_path': (cn.DEFAULT_HEALTH_PATH, [('mtls_check', 'health_path'), ('onboarding', 'health_path')]),
    'dov_check_timeout': (cn.DEFAULT_CHECK_TIMEOUT, [('mtls_check', 'timeout'), ('onboarding', 'check_timeout'),
                                                     ('host_certificates', 'certificates.check.timeout')]),
    'dov_issuer_timeout': (issuers.DEFAULT_TIMEOUT, [('onboarding', 'issuer_timeout')]),
}


@pytest.mark.parametrize('variable', sorted(WRITTEN_OUT_DEFAULTS))
def test_a_default_written_out_in_yaml_is_the_codes_constant(variable):
    constant, module_options = WRITTEN_OUT_DEFAULTS[variable]
    with open(os.path.join(ROOT, 'roles', 'dov_cert', 'defaults', 'main.yml')) as handle:
        found = {'defaults/main.yml': yaml.safe_load(handle)[variable]}
    with open(os.path.join(ROOT, 'roles', 'dov_cert', 'meta', 'argument_specs.yml')) as handle:
        for entry, spec in yaml.safe_load(handle)['argument_specs'].items():
            if variable in spec['options']:
                found['argument_specs.yml %s' % entry] = spec['options'][variable]['default']
    for module, option in module_options:
        with open(os.path.join(ROOT, 'plugins', 'modules', module + '.py')) as handle:
            source = handle.read()
        documentation = yaml.safe_load(source.split("DOCUMENTATION = r'''", 1)[1].split("'''", 1)[0])
        spec = {'suboptions': documentation['options']}
        for name in option.split('.'):
            spec = spec['suboptions'][name]
        found['%s %s' % (module, option)] = spec['default']
    assert len(found) >= 3
    assert found == dict((place, constant) for place in found)
