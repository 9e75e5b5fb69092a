# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""What the controller steps of dov_cert (the onboarding action) read from Ansible's task variables.

- the hosts: ``hosts`` (every host of the inventory), ``play_hosts`` (this run's live hosts) and
  ``play_hosts_all`` (every host the run started with);
- ``inventory``: the ``Inventory`` of the action's arguments and every host's ``dov_certificates``;
- ``registered``: the results of the role's registered host_certificates calls, per live host;
- ``role_path``: the folder of the role whose task runs the action (Ansible's ``role_path``), and
  ``argument_specs``: the role's ``meta/argument_specs.yml`` read from it;
- ``check_variables``: the plan step's refusals of variables (``dov_key_home``, misspelled
  ``dov_*`` names, compared with the role's argument specs); ``check_role_variables``: every
  host's values against that specification, once for the whole run;
- the report step's inputs: ``report_pairs`` (the pairs of the issue or plan step, with the
  settle step's messages) and ``report_results`` (the registered results of the mode).

Plain functions of a ``task_vars`` dict (and the validated arguments): no Ansible needed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.common.yaml import yaml_load

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import plan
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run.inventory import Inventory

# The role's own registered and derived names, and the playbooks' and the lab inventory's.
INTERNAL = frozenset(('dov_plan', 'dov_prepared', 'dov_issued', 'dov_shared_keys', 'dov_installed', 'dov_verified',
                      'dov_inspected', 'dov_settled', 'dov_settle', 'dov_report', 'dov_received',
                      'dov_with_services', 'dov_install_defaults', 'dov_mode', 'dov_hosts', 'dov_lab_dir'))
# The registered results the report step reads, per mode.
REPORTED = {'onboard': ['dov_installed'], 'renew': ['dov_installed'],
            'verify': ['dov_verified']}


# ---------------------------------------------------------------- hosts

def hosts(task_vars):
    """Every host of the inventory, in order (not only this run's: --limit must not hide a key holder)."""
    found = list((task_vars.get('groups') or {}).get('all') or [])
    return found + [host for host in task_vars.get('ansible_play_hosts_all') or [] if host not in found]


def play_hosts(task_vars):
    """This run's live hosts (``ansible_play_hosts``: without the failed and unreachable ones), in order."""
    return list(task_vars.get('ansible_play_hosts') or [])


def play_hosts_all(task_vars):
    """Every host this run started with (``ansible_play_hosts_all``), in order."""
    return list(task_vars.get('ansible_play_hosts_all') or [])


# ---------------------------------------------------------------- the role

def role_path(task_vars):
    """The folder of the role dov_cert, whose task runs the action (Ansible's magic variable
    ``role_path``): its ``meta/argument_specs.yml`` and the lab stand-in's script are found there."""
    path = task_vars.get('role_path')
    if not path:
        raise DovError("The action vlaanderen.dov.onboarding runs only as a task of the role vlaanderen.dov.dov_cert: this "
                       "task has no role_path, so the role's argument specs cannot be found. Run the role (or one of the "
                       "collection's playbooks, e.g. vlaanderen.dov.onboard) instead of calling the action directly.")
    return path


def argument_specs(task_vars):
    """The role's entry points, read from ``meta/argument_specs.yml`` in its folder (``role_path``)."""
    with open(os.path.join(role_path(task_vars), 'meta', 'argument_specs.yml')) as handle:
        return yaml_load(handle)['argument_specs']


# ---------------------------------------------------------------- the inventory and the hosts' results

def inventory(args, task_vars):
    """The ``Inventory`` of the arguments (organisation, applications, cn_policy) and every host's
    ``dov_certificates``; relative paths are taken from the inventory file's folder (else the
    current folder)."""
    hostvars = task_vars['hostvars']
    certificates = dict((host, hostvars[host].get('dov_certificates') or []) for host in hosts(task_vars))
    inventory_file = task_vars.get('inventory_file') or ''
    base_dir = os.path.dirname(os.path.abspath(inventory_file)) if inventory_file else os.getcwd()
    return Inventory(args['organisation'], args['applications'], certificates, args['cn_policy'], base_dir)


def registered(task_vars, names):
    """{host: [results]} of the registered host_certificates calls ``names``, for this run's live hosts."""
    hostvars = task_vars['hostvars']
    return dict((host, [result for name in names for result in (hostvars[host].get(name) or {}).get('certificates') or []])
                for host in play_hosts(task_vars))


def lost_reasons(task_vars, names=('dov_installed', 'dov_prepared')):
    """{host: message} for the hosts this run started with that failed or became unreachable
    before the report: the message of their failed registered call (``names``, latest first)."""
    hostvars, live = task_vars['hostvars'], set(play_hosts(task_vars))
    reasons = {}
    for host in play_hosts_all(task_vars):
        if host in live:
            continue
        for name in names:
            result = hostvars[host].get(name) if host in hostvars else None
            if isinstance(result, dict) and (result.get('failed') or result.get('unreachable')) and result.get('msg'):
                reasons[host] = '%s%s' % ('unreachable: ' if result.get('unreachable') else '', str(result['msg']).strip())
                break
    return reasons


# ---------------------------------------------------------------- the plan step's refusals

def check_variables(task_vars, specs):
    """Refuse ``dov_key_home`` other than ``host`` and every misspelled dov_* variable (of the play
    or of any host), before anything changes; ``specs`` are the role's entry points (``argument_specs``)."""
    if str(task_vars.get('dov_key_home', 'host')) != 'host':
        raise DovError("dov_key_home=%s is not supported: every pair's key stays on its hosts (made on the key holder "
                       "and copied to the pair's other hosts through Ansible's connection, in memory). Remove "
                       "dov_key_home." % task_vars.get('dov_key_home'))
    names = set(task_vars)
    for host in hosts(task_vars):
        names.update(task_vars['hostvars'][host].keys())
    known = set(specs['main']['options'])
    typos = plan.misspelled_variables(names, known, INTERNAL)
    if typos:
        raise DovError("Unknown variable(s): %s. They are not dov_cert variables and would be ignored; correct the "
                       "name (or, for a variable of your own, use a name that does not look like one of the role's)."
                       % ', '.join('%s (did you mean %s?)' % pair for pair in typos))


ENTRY_POINTS = {'onboard': 'main', 'renew': 'renew', 'verify': 'verify', 'status': 'status'}


def check_role_variables(task_vars, mode, specs):
    """The role's argument check for every host of the run, once, in-process (the collection's
    playbooks switch off Ansible's own, which is one validation task per host): the entry point of
    ``mode`` in the role's entry points ``specs`` (``argument_specs``); each host's value of a variable is its own (inventory,
    host_vars, extra vars), else what this task sees (play vars, the role's defaults)."""
    entry_point = ENTRY_POINTS[mode]
    options = specs[entry_point]['options']
    hostvars = task_vars['hostvars']
    values = {}
    for host in play_hosts(task_vars):
        own = hostvars[host]
        values[host] = dict((name, own[name] if name in own else task_vars[name])
                            for name in options if name in own or name in task_vars)
    plan.check_role_variables(options, values, entry_point)


# ---------------------------------------------------------------- the report step's inputs

def report_pairs(issued, planned, settled):
    """The pairs to report: the issue step's (``issued``), else the plan step's, each a copy with
    the settle step's messages of renew.yml (``settled``) added."""
    pairs = dict((key, dict(value)) for key, value in
                 ((issued.get('pairs') if issued else None) or planned.get('pairs') or {}).items())
    for key, notes in ((settled or {}).get('messages') or {}).items():
        if key in pairs:
            pairs[key]['messages'] = list(pairs[key].get('messages') or []) + notes
    for key in (settled or {}).get('restored') or []:
        if key in pairs:
            pairs[key]['restored'] = True       # the previous pair is back on every host (states.held_certificate)
    return pairs


def report_results(task_vars, mode):
    """{host: [results]} the report step reads for ``mode`` (none for status). With renew, a
    renewal that could not be committed or put back on a host fails its pair there."""
    results = registered(task_vars, REPORTED.get(mode, []))
    if mode == 'renew':
        for host, items in registered(task_vars, ['dov_settle']).items():
            results.setdefault(host, []).extend(item for item in items if item.get('error'))
    return results
