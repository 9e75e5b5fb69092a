#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: onboarding
short_description: The controller side of the dov_cert role (plan, issue, settle, report, expiry, release)
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
  - O(step=issue) hands over (or, with O(revoke_command), requests) the revocation of retired pairs;
    turns the key holders' CSRs into certificates with the chosen issuer, checks them
    (key, CN, usage, validity, chain) and keeps them in the state folder; decides which hosts
    install, which only check and which receive the shared key; starts the lab stand-in if a host
    needs a check and the plan step did not.
  - O(step=settle) (renew.yml, after the install phase) decides for every renewed pair on several hosts
    whether the renewal is committed on all of them or the previous set is put back on all of them,
    because one host failed its check (RV(hosts), RV(restored)).
  - O(step=report) gives each pair one state, writes C(status.json) (a cache of what the hosts
    said, rebuilt when lost), returns the table, and releases the lock and the lab stand-in.
  - O(step=expiry) (report.yml, after the hosts' report phase) makes one record per pair of what is
    installed, writes C(report.json) and C(report.html) in the state folder, says whether the run
    must fail (O(fail_within_days), O(strict)) and mails what needs attention to O(notify_email).
  - O(step=release) (the role's C(always), when the run stopped before the report) removes the
    lock if this run holds it and stops the lab stand-in this run started, whatever happened
    before.
  - The hosts are the truth. Before any issuer is asked, the issue step takes a pair's
    C(certificate_file), the certificate kept in the state folder, or a good certificate the
    prepare phase found installed on one of the pair's hosts (adopted as it is).
  - Every argument is validated against the same specification as below
    (C(ActionBase.validate_argument_spec)); most options are the role variable of the same name with
    C(dov_) in front.
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
    choices: [plan, issue, settle, report, expiry, release]
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
    description: C(dov_organisation) (steps plan, issue and expiry).
    type: dict
    default: {}
  applications:
    description: C(dov_applications) (checked by the inventory step, with every problem listed).
    type: list
    elements: raw
    default: []
  cn_policy:
    description: C(dov_cn_policy).
    type: str
    choices: [strict, 'off']
    default: strict
  plan:
    description: The registered result of the plan step (steps issue, report, expiry and release).
    type: dict
    default: {}
  issued:
    description: The registered result of the issue step (steps settle and report).
    type: dict
    default: {}
  settled:
    description: The registered result of the settle step (step report of renew.yml); empty when it did not run.
    type: dict
    default: {}
  issuer:
    description: C(dov_issuer).
    type: str
    choices: [manual, command, lab]
    default: manual
  issuer_command:
    description: C(dov_issuer_command).
    type: raw
    default: ''
  issuer_timeout:
    description: C(dov_issuer_timeout), seconds.
    type: int
    default: 300
  revoke_command:
    description:
      - C(dov_revoke_command) (steps plan and issue). With O(issuer=command), the program that revokes a retired pair's
        certificate instead of the revocation handover; set with another issuer, the plan step refuses it.
    type: raw
    default: ''
  revoke_reason:
    description:
      - C(dov_revoke_reason) (steps plan and issue), the reason given for the revocation of a retired pair's certificate.
        C(application_retired), C(server_decommissioned), C(superseded) or C(key_compromise); the plan step refuses another.
    type: str
    default: application_retired
  ca_bundle:
    description: C(dov_ca_bundle).
    type: str
    default: ''
  server_ca_bundle:
    description: C(dov_server_ca_bundle).
    type: str
    default: ''
  endpoints:
    description: C(dov_endpoints).
    type: dict
    default: {}
  health_path:
    description: C(dov_health_path).
    type: str
    default: dov-xdov-server/logs/chucknorris
  proxy:
    description: C(dov_proxy).
    type: str
    default: ''
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
    description: C(dov_smtp) (steps plan and expiry).
    type: dict
    default: {}
  defaults:
    description: How hosts install their certificates (key type and size, subject, PKCS#12 profile, alias).
    type: dict
    default: {}
  lab_allow_productie:
    description: C(dov_lab_allow_productie).
    type: bool
    default: false
  lab:
    description: C(standin), C(port) and C(deny) of the lab DOV stand-in (C(dov_lab_standin), C(dov_lab_standin_port), C(dov_lab_standin_deny)).
    type: dict
    default: {}
  strict:
    description: C(dov_strict) (steps report and expiry). Also fail the run when a pair is waiting.
    type: bool
    default: false
  fail_within_days:
    description:
      - C(dov_fail_within_days) (step expiry). The run fails, naming every certificate that expires within this many days
        (expired ones included). A whole number of days, also as text (C(-e dov_fail_within_days=60)); unset or empty
        never fails on expiry.
    type: raw
  notify_email:
    description:
      - C(dov_notify_email) (step expiry). The addresses that get one mail over O(smtp) listing what needs attention;
        no mail when all is well.
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Onboard with the role (this module is its controller side)
  ansible.builtin.import_role:
    name: vlaanderen.dov.dov_cert
'''

RETURN = r'''
pairs:
  description: Per C(application/environment), its hosts, key holder, state (when decided) and messages.
  returned: steps plan and issue
  type: dict
hosts:
  description:
    - Step plan, per host, the entries of its prepare call.
    - Step settle, per host, the entries of its settle call (C(settle) is C(commit) or C(restore)).
  returned: steps plan and settle
  type: dict
run:
  description: The run's id, for the hosts' locks.
  returned: step plan
  type: str
state_folder:
  description: The controller and state folder of the run, as C(<controller>:<state folder>).
  returned: step plan
  type: str
install:
  description:
    - Per host, the entries of its install call (hosts whose files are not as they should be), and the read-only
      checks (entries with C(verify_only)) of hosts whose files are right as found.
  returned: step issue
  type: dict
key_transfers:
  description: The shared keys to carry from a key holder to the other hosts of its pair.
  returned: step issue
  type: list
renewals:
  description: Whether an install entry is a renewal that keeps the previous files for the settle step.
  returned: step issue
  type: bool
restored:
  description: The pairs (C(application/environment)) whose previous set is put back on every host.
  returned: step settle
  type: list
  elements: str
messages:
  description:
    - The run's notes, one line per item (steps plan, issue, report and expiry); in step settle, per pair, why it was
      restored.
  returned: steps plan, issue, settle, report and expiry
  type: raw
table:
  description: The report's lines.
  returned: steps report and expiry
  type: list
  elements: str
states:
  description: Per pair, its state.
  returned: step report
  type: dict
blame:
  description: Per host of the run to fail, the lines that say why (C('') for failures no host of this run carries).
  returned: step report
  type: dict
status_file:
  description: Path of C(status.json).
  returned: step report
  type: str
released_run:
  description: The run whose lock the report step released.
  returned: step report
  type: str
certificates:
  description: One record per pair of what is installed, most urgent first.
  returned: step expiry
  type: list
  elements: dict
report_json:
  description: Path of C(report.json) in the state folder.
  returned: step expiry
  type: str
report_html:
  description: Path of C(report.html) in the state folder.
  returned: step expiry
  type: str
failure:
  description: Why the run fails (O(fail_within_days), O(strict), failed pairs), or null.
  returned: step expiry
  type: str
notification:
  description: Whether the mail to O(notify_email) was C(sent), and the CNs C(listed) in it.
  returned: step expiry
  type: dict
released:
  description: Whether this run's lock was removed.
  returned: steps report and release
  type: bool
'''
