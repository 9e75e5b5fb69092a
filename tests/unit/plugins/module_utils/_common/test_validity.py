# -*- coding: utf-8 -*-
"""validity: the renewal window at its edges, the time helpers, and the default of 60 days that the
module docs and the role state beside the code (read from the files, so they cannot drift)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import datetime
import os
import time

import pytest
import yaml

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..', '..', '..', '..'))
UTC = datetime.timezone.utc


# ---------------------------------------------------------------- the window

@pytest.mark.parametrize('days_left, before_days, due', [
    (60, 60, True),         # exactly N days left: due (cert_info, renew.yml and the states agree)
    (61, 60, False),        # N + 1: not yet
    (0, 60, True),
    (-1, 60, True),         # expired
    (-400, 0, True),        # expired, even with a window of 0
    (0, 0, True),           # the last day with a window of 0
    (1, 0, False),
    (None, 60, False),      # no certificate: nothing to renew
])
def test_the_window_is_at_most_n_days_left_and_expired_counts(days_left, before_days, due):
    assert validity.in_renewal_window(days_left, before_days) is due


# ---------------------------------------------------------------- time

def test_utcnow_is_aware_utc_and_utcnow_seconds_drops_the_fraction():
    before = datetime.datetime.now(UTC)
    exact, whole = validity.utcnow(), validity.utcnow_seconds()
    assert exact.tzinfo is not None and exact.utcoffset() == datetime.timedelta(0)
    assert whole.microsecond == 0 and whole.tzinfo is not None
    assert before <= exact and before.replace(microsecond=0) <= whole <= exact + datetime.timedelta(seconds=1)


def test_as_utc_reads_a_naive_time_as_utc_and_converts_an_aware_one():
    naive = datetime.datetime(2026, 12, 21, 10, 0, 0)
    assert validity.as_utc(naive) == datetime.datetime(2026, 12, 21, 10, 0, 0, tzinfo=UTC)
    brussels = datetime.timezone(datetime.timedelta(hours=1))
    converted = validity.as_utc(datetime.datetime(2026, 12, 21, 11, 0, 0, tzinfo=brussels))
    assert converted == datetime.datetime(2026, 12, 21, 10, 0, 0, tzinfo=UTC) and converted.tzinfo == UTC


def test_iso_and_utc_text_are_the_forms_the_files_and_messages_show():
    brussels = datetime.timezone(datetime.timedelta(hours=1))
    assert validity.iso(datetime.datetime(2026, 12, 21, 11, 0, 5, 999, tzinfo=brussels)) == '2026-12-21T10:00:05Z'
    seconds = datetime.datetime(2026, 12, 21, 10, 0, 5, tzinfo=UTC).timestamp()
    assert validity.utc_text(seconds) == '2026-12-21 10:00:05 UTC'
    assert validity.utc_text(time.time()).endswith(' UTC')


# ---------------------------------------------------------------- the default, where it must be written out

def _module_doc(name):
    """A module's DOCUMENTATION, read from its source without importing Ansible."""
    with open(os.path.join(ROOT, 'plugins', 'modules', name + '.py')) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ['DOCUMENTATION']:
            return yaml.safe_load(node.value.value)
    raise AssertionError('%s has no DOCUMENTATION' % name)


def _yaml(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return yaml.safe_load(handle)


def test_every_written_out_default_is_the_one_constant():
    host = _module_doc('host_certificates')['options']
    specs = _yaml('roles', 'dov_cert', 'meta', 'argument_specs.yml')['argument_specs']
    found = {
        'cert_info renew_before_days': _module_doc('cert_info')['options']['renew_before_days']['default'],
        'host_certificates renew_before_days': host['renew_before_days']['default'],
        'host_certificates certificates[].renew.before_days':
            host['certificates']['suboptions']['renew']['suboptions']['before_days']['default'],
        'onboarding renew_before_days': _module_doc('onboarding')['options']['renew_before_days']['default'],
        'roles/dov_cert/defaults/main.yml': _yaml('roles', 'dov_cert', 'defaults', 'main.yml')['dov_renew_before_days'],
    }
    for entry, spec in specs.items():
        if 'dov_renew_before_days' in spec['options']:
            found['argument_specs.yml %s' % entry] = spec['options']['dov_renew_before_days']['default']
    assert len(found) == 9      # main, verify, status and renew state it in argument_specs.yml
    assert found == dict((place, validity.DEFAULT_RENEW_BEFORE_DAYS) for place in found)
