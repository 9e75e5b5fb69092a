# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of the dov_cert role, run in-process (no module execution): a thin face
that validates its arguments and calls the steps in plugin_utils, with what taskvars reads from
the task variables (the role's folder, the hosts, their dov_certificates, their registered results):
``plan`` (taskvars.argument_specs, taskvars.check_variables, taskvars.check_role_variables,
plan.plan_step, labstandin.for_plan, plan.add_checks), ``issue`` (offboard.retire_pairs, issue.issue_pairs,
issue.deliveries, issue.step_result), ``settle`` (renew.yml: issue.settle_renewals), ``report`` (states.report, then the release),
``expiry`` (report.yml: report.pair_records, report.json and report.html,
the dov_fail_within_days decision, the notification mail) and ``release`` (the lock and the lab stand-in, on every outcome).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import traceback

from ansible.plugins.action import ActionBase

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issue, issuers
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labstandin
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report, reporthtml, reportmail
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._retire import offboard
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import plan, taskvars
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder, states
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue.candidates import Explainer
from ansible_collections.vlaanderen.dov.plugins.module_utils._argspec import CN_POLICY

SPEC = dict(
    step=dict(type='str', required=True, choices=['plan', 'issue', 'settle', 'report', 'expiry', 'release']),
    state_dir=dict(type='path', required=True),
    mode=dict(type='str', default='onboard', choices=['onboard', 'renew', 'verify', 'status']), lab=dict(type='dict', default={}),
    organisation=dict(type='dict', default={}), applications=dict(type='list', elements='raw', default=[]),
    cn_policy=CN_POLICY, plan=dict(type='dict', default={}),
    issued=dict(type='dict', default={}), settled=dict(type='dict', default={}), smtp=dict(type='dict', default={}, no_log=False),
    issuer=dict(type='str', default='manual', choices=list(issuers.KINDS)),
    issuer_command=dict(type='raw', default=''), issuer_timeout=dict(type='int', default=issuers.DEFAULT_TIMEOUT),
    ca_bundle=dict(type='str', default=''), server_ca_bundle=dict(type='str', default=''),
    endpoints=dict(type='dict', default={}), proxy=dict(type='str', default=''), health_path=dict(type='str', default=cn.DEFAULT_HEALTH_PATH),
    check_timeout=dict(type='int', default=cn.DEFAULT_CHECK_TIMEOUT), verify=dict(type='bool', default=True),
    renew_before_days=dict(type='int', default=validity.DEFAULT_RENEW_BEFORE_DAYS), only=dict(type='str', default=''),
    force_renew=dict(type='bool', default=False), renew_key=dict(type='bool', default=True),
    lock_timeout=dict(type='int', default=0), send_requests=dict(type='bool', default=False), defaults=dict(type='dict', default={}),
    lab_allow_productie=dict(type='bool', default=False),
    fail_within_days=dict(type='raw'), strict=dict(type='bool', default=False), notify_email=dict(type='list', elements='str', default=[]),
    revoke_command=dict(type='raw', default=''), revoke_reason=dict(type='str', default='application_retired'),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=SPEC)[1]
        try:
            result.update(getattr(self, '_' + args['step'])(args, task_vars))
        except DovError as error:
            result.update(failed=True, msg=str(error))
        except (IOError, OSError, ValueError, KeyError, TypeError) as error:
            # Not a refusal we foresaw: still one clear message (the traceback only at -vvv).
            result.update(failed=True, exception=traceback.format_exc(),
                          msg="The %s step of dov_cert stopped on an unexpected %s: %s. Run again with -vvv and report "
                              "the output; the lock is released by the role." % (args['step'], type(error).__name__, error))
        return result

    @staticmethod
    def _lock(args):
        return statefolder.Lock(args['state_dir'], statefolder.run_owner())

    # ------------------------------------------------------------ the steps

    def _plan(self, args, task_vars):
        specs = taskvars.argument_specs(task_vars)
        taskvars.check_variables(task_vars, specs)
        taskvars.check_role_variables(task_vars, args['mode'], specs)
        offboard.check_options(args['issuer'], args['revoke_command'], args['revoke_reason'])
        inventory = taskvars.inventory(args, task_vars)
        lock = self._lock(args)
        outcome = plan.plan_step(inventory, args['state_dir'], taskvars.play_hosts(task_vars), args,
                                 self._task.check_mode, lock)
        lab = {}
        try:
            # The lab only: the DOV stand-in, whose endpoints and server CA the checks then use.
            lab = labstandin.for_plan(inventory, args['state_dir'], args, self._task.check_mode, outcome['pairs'],
                                      statefolder.load_status(args['state_dir'])['pairs'], taskvars.role_path(task_vars))
            return plan.add_checks(outcome, inventory, args, lab)
        except Exception:
            labstandin.stop(lab)
            if plan.takes_lock(args['mode'], self._task.check_mode):
                lock.release()
            raise

    def _issue(self, args, task_vars):
        inventory = taskvars.inventory(args, task_vars)
        pairs = dict((key, dict(value, messages=[])) for key, value in (args['plan'].get('pairs') or {}).items())
        previous = statefolder.load_status(args['state_dir'])['pairs']
        prepared = taskvars.registered(task_vars, ['dov_prepared'])
        retired = dict((key, info) for key, info in pairs.items() if info.get('state') == 'retired')
        handed_over = offboard.retire_pairs(retired, prepared, args['state_dir'], args['issuer'], args['revoke_command'],
                                            args['revoke_reason'], args['issuer_timeout'], self._task.check_mode)
        for key in retired:
            del pairs[key]      # nothing to issue, install or check for them
        changed = issue.issue_pairs(
            inventory, pairs, prepared, args['state_dir'], args['issuer'],
            ca_bundle=args['ca_bundle'] or None, command=args['issuer_command'],
            allow_productie=args['lab_allow_productie'], renew=args['mode'] == 'renew',
            check_mode=self._task.check_mode, verify=args['verify'],
            previous_states=previous,
            timeout=args['issuer_timeout'], explain=Explainer(inventory, prepared, args['state_dir']).explain)
        install, keys = issue.deliveries(inventory, pairs, args['defaults'])
        for host, entries in offboard.removals(inventory, retired, args['defaults']).items():
            install.setdefault(host, []).extend(entries)     # after the revocation is on record
        labstandin.start_for(args['plan'].get('lab') or {}, [host for host, entries in install.items()
                                                             if any(entry.get('check') for entry in entries)])
        return issue.step_result(pairs, retired, install, keys, changed or handed_over)

    def _settle(self, args, task_vars):
        """renew.yml: commit each renewed pair on all its hosts, or restore the previous pair on all."""
        outcome = issue.settle_renewals(args['issued'].get('install') or {}, taskvars.registered(task_vars, ['dov_installed']),
                                        set(taskvars.play_hosts(task_vars)))
        return dict(outcome, changed=False)

    def _report(self, args, task_vars):
        state_dir, mode = args['state_dir'], args['mode']
        pairs = taskvars.report_pairs(args['issued'], args['plan'], args['settled'])
        status = statefolder.load_status(state_dir)
        outcome = states.report(pairs, status, taskvars.report_results(task_vars, mode),
                                set(taskvars.play_hosts_all(task_vars)), set(taskvars.play_hosts(task_vars)), mode,
                                args['renew_before_days'], args['verify'], validity.utcnow_seconds().isoformat(),
                                lost_reasons=taskvars.lost_reasons(task_vars), strict=args['strict'])
        if mode in ('onboard', 'renew'):
            for host, errors in offboard.absent_errors(taskvars.registered(task_vars, ['dov_prepared', 'dov_installed'])).items():
                outcome['host_errors'].setdefault(host, []).extend(errors)
                outcome['blame'].setdefault(host, []).extend('Failed: %s' % error for error in errors)
        if not self._task.check_mode and mode != 'status':
            statefolder.write_status(state_dir, status)
        # Released here when the run gets this far (the role's always then has nothing to do).
        outcome.update(self._release(args, task_vars), status_file=os.path.join(state_dir, statefolder.STATUS_FILE),
                       released_run=args['plan'].get('run'))
        return outcome

    def _expiry(self, args, task_vars):
        """report.yml after the hosts' report phase: the records, report.json/html, the threshold, the mail."""
        within = report.within_days_option(args['fail_within_days'])
        recipients = reportmail.check_recipients(args['notify_email']) if args['notify_email'] else []
        server = reportmail.smtp_server(args['smtp']) if recipients else None
        sender = reportmail.sender_of(args['smtp'], args['organisation']) if recipients else None
        now = validity.utcnow_seconds()
        records = report.pair_records(args['plan'].get('pairs') or {}, taskvars.registered(task_vars, ['dov_inspected']),
                                      statefolder.load_status(args['state_dir']), args['renew_before_days'],
                                      set(task_vars.get('ansible_play_hosts') or []))
        paths = reporthtml.publish(args['state_dir'], records, now, self._task.check_mode)
        failure = report.failure_message(records, within, args['strict'])
        mail = reportmail.send_notification(server, records, sender, recipients, within,
                                            report_path=paths['html'], check_mode=self._task.check_mode,
                                            now=now) if recipients else {'sent': False, 'listed': []}
        messages = ['%s/%s - %s' % (record['application'], record['environment'], problem)
                    for record in records for problem in record['problems']]
        if mail['sent']:
            messages.append('The notification was sent to %s: %s.' % (', '.join(recipients), ', '.join(mail['listed'])))
        return {'changed': False, 'table': report.format_table(records).rstrip('\n').split('\n'), 'messages': messages,
                'certificates': report.sort_by_urgency(records), 'report_json': paths['json'],
                'report_html': paths['html'], 'failure': failure, 'notification': mail}

    def _release(self, args, task_vars):
        """The lock if this run holds it, the stand-in it started: after the report, else in the role's always."""
        labstandin.stop(args['plan'].get('lab'))
        released = False if self._task.check_mode else self._lock(args).release()
        return {'changed': False, 'released': released}
