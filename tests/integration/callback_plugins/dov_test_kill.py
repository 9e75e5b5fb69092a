# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: SIGKILL of ansible-playbook and its process group when the task whose name
has $DOV_TEST_KILL_AT in its name is about to start - a deterministic point to kill a run at (the
previous task has finished on every host, the next has not begun). Not part of the collection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
name: dov_test_kill
type: aggregate
short_description: kill the run at a named task, for the integration tests
description: Sends SIGKILL to the process group of ansible-playbook when the task named by DOV_TEST_KILL_AT starts.
'''

import os
import signal

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'dov_test_kill'
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        at = os.environ.get('DOV_TEST_KILL_AT')
        if at and at in task.get_name():      # role tasks are named "<role> : <name>"
            os.killpg(os.getpgrp(), signal.SIGKILL)
