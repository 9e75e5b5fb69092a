#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: onboarding
short_description: The controller side of the dov_cert role (plan, issue, report)
version_added: 0.1.0
description:
  - Runs on the controller, in-process (an action plugin), once per run (C(run_once)). It is the
    part of the C(vlaanderen.dov.dov_cert) role that needs no host, so it costs no module
    execution. Use the role or the playbooks (C(vlaanderen.dov.onboard), C(verify), C(renew),
    C(report)) rather than this directly.
  - O(step=plan) checks the inventory (applications, environments, CNs, each host's
    C(dov_certificates)) and stops with every problem listed before anything changes; takes the
    lock of the state folder; writes (and optionally sends) the access requests; decides per
    application/environment pair the hosts and the key holder; with C(dov_lab_standin) starts the
    lab DOV stand-in when a check is likely; checks every host's role variables against the
    role's argument specs, once.
  - O(step=issue) turns the key holders' CSRs into certificates with the chosen issuer, checks them
    (key, CN, usage, validity, chain) and keeps them in the state folder; decides which hosts
    install, which only check and which receive the shared key; starts the lab stand-in if a host
    needs a check and the plan step did not.
  - O(step=report) gives each pair one state, writes C(status.json) (a cache of what the hosts
    said, rebuilt when lost), returns the table, and releases the lock and the lab stand-in.
  - O(step=release) (the role's C(always), when the run stopped before the report) removes the
    lock if this run holds it and stops the lab stand-in this run started, whatever happened
    before.
  - The hosts are the truth. Before any issuer is asked, the issue step takes a pair's
    C(certificate_file), the certificate kept in the state folder, or a good certificate the
    prepare phase found installed on one of the pair's hosts (adopted as it is).
  - Every argument is validated against the same specification as below
    (C(ActionBase.validate_argument_spec)).
author:
  - vlaanderen.dov developers (@vlaanderen)
attributes:
  check_mode:
    support: full
    description: Nothing is written; what would be issued is reported.
  diff_mode:
    support: none
    description: No diff.
  action:
    support: full
    description: Runs on the controller.
options:
  step:
    description: Which step.
    type: str
    choices: [plan, issue, report, release]
    required: true
  state_dir:
    description: The state folder on the controller (C(dov_state_dir)).
    type: path
    required: true
  mode:
    description: C(onboard), C(renew) (renew.yml), C(verify) (verify.yml) or C(status) (report.yml).
    type: str
    choices: [onboard, renew, verify, status]
    default: onboard
  organisation:
    description: C(dov_organisation).
    type: dict
  applications:
    description: C(dov_applications) (checked by the inventory step, with every problem listed).
    type: list
    elements: raw
  cn_policy:
    description: C(dov_cn_policy).
    type: str
    choices: [strict, 'off']
    default: strict
  plan:
    description: The registered result of the plan step (issue and report steps).
    type: dict
  issued:
    description: The registered result of the issue step (report step).
    type: dict
  issuer:
    description: C(dov_issuer).
    type: str
    default: manual
  issuer_command:
    description: C(dov_issuer_command).
    type: raw
  issuer_timeout:
    description: C(dov_issuer_timeout), seconds.
    type: int
    default: 300
  ca_bundle:
    description: C(dov_ca_bundle).
    type: str
  server_ca_bundle:
    description: C(dov_server_ca_bundle).
    type: str
  endpoints:
    description: C(dov_endpoints).
    type: dict
  health_path:
    description: C(dov_health_path).
    type: str
    default: dov-xdov-server/logs/chucknorris
  proxy:
    description: C(dov_proxy).
    type: str
  check_timeout:
    description: C(dov_check_timeout).
    type: int
    default: 15
  verify:
    description: C(dov_verify).
    type: bool
    default: true
  only:
    description: C(dov_only) (renew.yml).
    type: str
    default: ''
  force_renew:
    description: C(dov_force_renew) (renew.yml).
    type: bool
    default: false
  renew_key:
    description: C(dov_renew_key) (renew.yml).
    type: bool
    default: true
  renew_before_days:
    description: C(dov_renew_before_days).
    type: int
    default: 60
  lock_timeout:
    description: C(dov_lock_timeout).
    type: int
    default: 0
  send_requests:
    description: C(dov_send_requests).
    type: bool
    default: false
  smtp:
    description: C(dov_smtp).
    type: dict
  defaults:
    description: How hosts install their certificates (key type and size, subject, PKCS#12 profile, alias).
    type: dict
  lab_allow_productie:
    description: C(dov_lab_allow_productie).
    type: bool
    default: false
  lab:
    description: C(standin) and C(port) of the lab DOV stand-in.
    type: dict
'''

EXAMPLES = r'''
- name: Onboard with the role (this module is its controller side)
  ansible.builtin.import_role:
    name: vlaanderen.dov.dov_cert
'''

RETURN = r'''
pairs:
  description: Per C(application/environment), its hosts, key holder, state (when decided) and messages.
  returned: always
  type: dict
install:
  description: Per host, the entries of its install call (hosts whose files are not as they should be).
  returned: step issue
  type: dict
check:
  description: Per host, the entries of its read-only check (files right as found, state not known to be good).
  returned: step issue
  type: dict
table:
  description: The report's lines.
  returned: step report
  type: list
  elements: str
released:
  description: Whether this run's lock was removed.
  returned: step release
  type: bool
'''
