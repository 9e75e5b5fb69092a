# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: one JSON line per task start, host start and host result in $DOV_BENCH_EVENTS.

tests/bench/bench.py reads these lines to count module executions per host and to tell which
task costs what. It is not part of the collection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
name: bench_timing
type: aggregate
short_description: task and host timings as JSON lines for tests/bench/bench.py
description: Writes one JSON object per task start, host start and host result to the file named by DOV_BENCH_EVENTS.
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get('DOV_BENCH_EVENTS')

    def _write(self, record):
        if not self._path:
            return
        record['t'] = time.time()
        with open(self._path, 'a') as handle:
            handle.write(json.dumps(record, default=str) + '\n')

    def _result(self, event, result, item=False):
        task = result._task
        data = result._result
        record = {'event': event, 'host': result._host.get_name(), 'task': task.get_name(), 'uuid': task._uuid,
                  'action': task.action, 'changed': bool(data.get('changed')), 'item': item}
        if not item:
            record['loop'] = bool(data.get('results')) and isinstance(data.get('results'), list)
            record['items'] = len(data['results']) if record['loop'] else 0
            record['delegated'] = bool(task.delegate_to)
        self._write(record)

    def v2_playbook_on_start(self, playbook):
        self._write({'event': 'playbook_start'})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write({'event': 'task_start', 'task': task.get_name(), 'uuid': task._uuid, 'action': task.action})

    def v2_playbook_on_handler_task_start(self, task):
        self._write({'event': 'task_start', 'task': task.get_name(), 'uuid': task._uuid, 'action': task.action, 'handler': True})

    def v2_runner_on_start(self, host, task):
        self._write({'event': 'host_start', 'host': host.get_name(), 'task': task.get_name(), 'uuid': task._uuid})

    def v2_runner_on_ok(self, result):
        self._result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_runner_item_on_ok(self, result):
        self._result('item_ok', result, item=True)

    def v2_runner_item_on_failed(self, result):
        self._result('item_failed', result, item=True)

    def v2_runner_item_on_skipped(self, result):
        self._result('item_skipped', result, item=True)

    def v2_playbook_on_stats(self, stats):
        self._write({'event': 'stats', 'changed': dict((host, stats.summarize(host)) for host in sorted(stats.processed))})
