# -*- coding: utf-8 -*-
"""roles/dov_cert/README.md, the role's page on Galaxy, stays true to the role: it has the sections
of Galaxy's role README, every variable it names is one the role takes, every entry point it names
exists, and its example inventory passes the role's own argument spec types."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'dov_cert')
SPECS = yaml.safe_load(open(os.path.join(ROLE, 'meta', 'argument_specs.yml'), encoding='utf-8'))['argument_specs']
README = open(os.path.join(ROLE, 'README.md'), encoding='utf-8').read()


def test_the_readme_has_galaxys_role_sections():
    titles = re.findall(r'^(.+)\n-{3,}$', README, re.M)
    assert titles == ['Requirements', 'Role Variables', 'Dependencies', 'Example Playbook', 'License',
                      'Author Information']


def test_every_variable_the_readme_names_is_an_option_of_the_role():
    named = set(re.findall(r'`(dov_[a-z0-9_]+)`', README))
    assert named, 'the README names no variable'
    assert sorted(named - set(SPECS['main']['options'])) == []


def test_the_entry_points_the_readme_names_are_the_roles():
    names = re.search(r'four entry points: (.*?)\.\n\n', README, re.S).group(1)
    assert sorted(re.findall(r'`([a-z]+)` \(', names)) == sorted(SPECS)


def test_the_choices_the_readme_lists_are_the_roles():
    id_types = re.search(r'`id_type` \(([^)]*)\)', README).group(1)
    assert re.findall(r'`([a-z_]+)`', id_types) == SPECS['main']['options']['dov_organisation']['options']['id_type']['choices']
    issuers = re.search(r'\| `dov_issuer` \| ([^|]*) \|', README).group(1)
    assert re.findall(r'`([a-z_]+)`', issuers) == SPECS['main']['options']['dov_issuer']['choices']


def test_the_example_inventory_uses_options_of_the_role_with_their_types():
    blocks = re.findall(r'```yaml\n(.*?)```', README, re.S)
    inventory = yaml.safe_load(blocks[1])
    options = SPECS['main']['options']
    variables = dict(inventory['all']['vars'])
    for host in inventory['all']['hosts'].values():
        variables.update(host)
    kinds = {'str': str, 'path': str, 'dict': dict, 'list': list, 'bool': bool, 'int': int}
    for name, value in variables.items():
        assert name in options, name
        assert isinstance(value, kinds[options[name]['type']]), name
    assert variables['dov_organisation']['id_type'] in options['dov_organisation']['options']['id_type']['choices']
    assert variables['dov_issuer'] in options['dov_issuer']['choices']
