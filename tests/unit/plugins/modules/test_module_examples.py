# -*- coding: utf-8 -*-
"""Every module's EXAMPLES are valid YAML tasks whose vlaanderen.dov options pass that module's own
argument spec (the one its AnsibleModule gets), so a user who copies an example gets no
"Unsupported parameters" or "missing required arguments"."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import os

import pytest
import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
MODULES = os.path.join(ROOT, 'plugins', 'modules')
NAMES = sorted(name[:-3] for name in os.listdir(MODULES) if name.endswith('.py') and not name.startswith('_'))
# Modules whose code runs in an action plugin on the controller: their examples use the role.
CONTROLLER_ONLY = ('onboarding',)
SPEC_KEYS = ('mutually_exclusive', 'required_together', 'required_one_of', 'required_if', 'required_by')


class Captured(Exception):
    pass


def module_spec(name, monkeypatch):
    """The keyword arguments the module passes to AnsibleModule, caught before it reads any input."""
    module = importlib.import_module('ansible_collections.vlaanderen.dov.plugins.modules.%s' % name)
    seen = {}

    def capture(**kwargs):
        seen.update(kwargs)
        raise Captured()

    monkeypatch.setattr(module, 'AnsibleModule', capture)
    with pytest.raises(Captured):
        module.main()
    return module, seen


def placeholder(value, spec):
    """A templated value ("{{ ... }}") is only known at run time: stand in a value of the option's type."""
    if isinstance(value, str) and '{{' in value:
        return {'int': 1, 'bool': True, 'list': [], 'dict': {}, 'float': 1.0}.get(spec.get('type', 'str'), 'templated')
    return value


def tasks_of(module):
    tasks = yaml.safe_load(module.EXAMPLES)
    assert isinstance(tasks, list) and tasks, 'EXAMPLES is not a list of tasks'
    return tasks


@pytest.mark.parametrize('name', [name for name in NAMES if name not in CONTROLLER_ONLY])
def test_every_example_of_the_module_passes_its_argument_spec(name, monkeypatch):
    module, spec = module_spec(name, monkeypatch)
    fqcn = 'vlaanderen.dov.%s' % name
    calls = [task for task in tasks_of(module) if fqcn in task]
    assert calls, '%s: no example calls %s' % (name, fqcn)
    validator = ArgumentSpecValidator(spec['argument_spec'], **dict((key, spec[key]) for key in SPEC_KEYS if key in spec))
    for task in calls:
        assert task.get('name'), '%s: an example task without a name' % name
        args = dict((key, placeholder(value, spec['argument_spec'].get(key, {}))) for key, value in task[fqcn].items())
        result = validator.validate(args)
        assert not result.error_messages, '%s example %r: %s' % (name, task['name'], result.error_messages)


@pytest.mark.parametrize('name', NAMES)
def test_the_examples_are_yaml_tasks_that_name_modules_by_their_full_name(name):
    module = importlib.import_module('ansible_collections.vlaanderen.dov.plugins.modules.%s' % name)
    for task in tasks_of(module):
        assert isinstance(task, dict) and task.get('name'), task
        short = [key for key in task if key in NAMES]
        assert not short, '%s: example %r uses the short name %s' % (name, task['name'], short)


def test_an_example_with_an_option_that_does_not_exist_is_caught(monkeypatch):
    _module, spec = module_spec('csr', monkeypatch)
    result = ArgumentSpecValidator(spec['argument_spec']).validate(
        {'common_name': 'geolab.be/dov-services/oefen/Geodrill', 'privatekey_path': '/etc/dov/key.pem', 'key_lenght': 2048})
    assert any('key_lenght' in message for message in result.error_messages)
