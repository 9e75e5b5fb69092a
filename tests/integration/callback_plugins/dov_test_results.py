# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: every task result as one JSON line in $DOV_TEST_RESULTS.

The default stdout callback still prints what a user sees; this one gives the tests the
structured results next to it. It is not part of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
name: dov_test_results
type: aggregate
short_description: write task results as JSON lines for the integration tests
description: Writes one JSON object per task result to the file named by DOV_TEST_RESULTS.
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'dov_test_results'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status, result):
        path = os.environ.get('DOV_TEST_RESULTS')
        if not path:
            return
        data = dict(result._result)
        record = {
            'status': status,
            'host': result._host.get_name(),
            'task': result._task.get_name(),
            'action': result._task.action,
            'result': data,
        }
        with open(path, 'a') as handle:
            handle.write(json.dumps(record, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._write('changed' if result._result.get('changed') else 'ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write('failed', result)

    def v2_runner_on_skipped(self, result):
        self._write('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._write('unreachable', result)
