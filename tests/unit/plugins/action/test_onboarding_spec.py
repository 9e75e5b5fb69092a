# -*- coding: utf-8 -*-
"""The action vlaanderen.dov.onboarding validates its arguments against SPEC (plugins/action/onboarding.py);
its documentation (plugins/modules/onboarding.py, what ansible-doc shows) must say the same: every option in
both, with the same type, default, choices, required and elements, and every step described. ansible-test's
validate-modules cannot see this (the spec lives in the action, not in an AnsibleModule)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.vlaanderen.dov.plugins.action import onboarding as action
from ansible_collections.vlaanderen.dov.plugins.modules import onboarding as docs

DOCUMENTED = yaml.safe_load(docs.DOCUMENTATION)
RETURNED = yaml.safe_load(docs.RETURN)


def test_every_option_the_action_accepts_is_documented_and_nothing_else():
    assert sorted(DOCUMENTED['options']) == sorted(action.SPEC)


@pytest.mark.parametrize('name', sorted(action.SPEC))
def test_an_option_is_documented_as_the_action_validates_it(option_shape, name):
    assert name in DOCUMENTED['options'], '%s is accepted by the action but not documented' % name
    assert option_shape(DOCUMENTED['options'][name]) == option_shape(action.SPEC[name]), name


@pytest.mark.parametrize('step', action.SPEC['step']['choices'])
def test_every_step_is_described_and_has_its_method(step):
    assert 'O(step=%s)' % step in ' '.join(DOCUMENTED['description'])
    assert callable(getattr(action.ActionModule, '_' + step, None))


def test_what_a_step_returns_names_only_documented_steps():
    steps = set(action.SPEC['step']['choices'])
    for name, value in RETURNED.items():
        words = value['returned'].replace(',', ' ').split()
        assert words[0] in ('step', 'steps'), name
        named = [word for word in words[1:] if word != 'and']
        assert named and set(named) <= steps, (name, value['returned'])


def test_a_changed_choice_in_the_code_shows_in_the_comparison(option_shape):
    changed = dict(action.SPEC['issuer'], choices=list(action.SPEC['issuer']['choices']) + ['acme'])
    assert option_shape(DOCUMENTED['options']['issuer']) != option_shape(changed)
