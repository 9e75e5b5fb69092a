#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: host_certificates
short_description: All of one host's DOV certificates in one call (the dov_cert role's host phases)
version_added: 0.1.0
description:
  - The workhorse of the C(vlaanderen.dov.dov_cert) role. One call handles every DOV certificate
    of the host it runs on, so that a run costs a few module executions per host, not per
    certificate. For a single certificate, use M(vlaanderen.dov.csr), M(vlaanderen.dov.certificate)
    and M(vlaanderen.dov.mtls_check), which share its code.
  - O(phase=prepare) is the csr phase and the converge check. On the key holder of a pair it
    makes the private key (when absent) and the CSR; on every host it reports the key's public
    key fingerprint and whether the certificate in O(certificates[].certificate) is installed
    exactly as asked (then nothing else needs to run).
  - O(phase=install) writes a shared key received from the key holder, installs the certificate
    in every format with all the checks of M(vlaanderen.dov.certificate), runs the mTLS check from
    this host when O(certificates[].check) is given, and puts the previous files back when the
    check fails.
  - O(phase=verify) only runs the mTLS check with the installed files (read-only).
  - O(phase=report) reads what is installed for every entry, as M(vlaanderen.dov.cert_info) does
    (dates, days left, fingerprint, issuer; read-only), for C(playbooks/report.yml).
  - With O(metrics_dir), every phase also writes C(<metrics_dir>/vlaanderen_dov.prom) for
    node_exporter's textfile collector (atomically, only when its content changes), in the same
    module execution.
  - O(phase=settle) ends a renewal (renew.yml) after the install phase ran on every host of the pair.
    O(certificates[].settle=commit) drops the previous set kept as C(.prev) copies (and makes the staged CSR
    the live one on the key holder); O(certificates[].settle=restore) puts the previous set back
    byte-identically because another host of the pair failed its check.
  - A problem with one certificate is reported in its entry (RV(certificates[].error)) and does not
    stop the others; the module itself fails only on invalid options. The role turns entry errors
    into a failed host after it has written the status.
author:
  - vlaanderen.dov developers (@vlaanderen)
attributes:
  check_mode:
    support: full
    description: Reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Each changed certificate shows a before/after view (subject, serial, not_after, fingerprint), never key material.
options:
  phase:
    description: Which phase to run.
    type: str
    choices: [prepare, install, verify, report, settle]
    required: true
  metrics_dir:
    description:
      - node_exporter's textfile collector folder. When set, C(vlaanderen_dov.prom) is written there with the
        not_before/not_after timestamps of every certificate this call handled and the last mTLS check
        (C(dov_certificate_check_success), C(dov_certificate_check_timestamp_seconds)); a certificate whose check
        did not run in this call keeps the values the file had.
      - The folder must exist; a C(vlaanderen_dov.prom) that is a symbolic link is refused. Writing the file is not
        reported as a change.
    type: path
  run:
    description:
      - The run's id (the role passes C(dov_plan.run)). When set, O(phase=prepare) and O(phase=install) take the
        pair's lock on this host for the call (another run's call on the same pair is waited for), and the key
        holder keeps it from prepare to install when this run may ask an issuer (see O(lock_lease)). Another run
        that finds it stops for that pair with a message naming the lock file.
      - The lock lives in C(/run/lock/vlaanderen-dov) (root; C(vlaanderen-dov-<uid>) for another user, under C(/tmp)
        where C(/run/lock) is not writable for it), never in O(certificates[].dest_dir).
    type: str
  state_folder:
    description:
      - The controller and state folder of the run (the role passes C(dov_plan.state_folder)). A lease of an earlier
        run with the same one is taken over at once (the state folder's own lock says that run is over).
    type: str
  lock_lease:
    description:
      - For O(phase=prepare), the seconds the key holder's lock holds for this run until its install call ends it;
        C(0) holds it only during the call. A lease of a run that is gone lapses after this time, or when the host
        booted since.
    type: int
    default: 0
  renew_before_days:
    description: For O(phase=report), the days before expiry from which C(needs_renewal) in RV(certificates[].installed) is true.
    type: int
    default: 60
  certificates:
    description: The host's certificates, one entry per application/environment.
    type: list
    elements: dict
    required: true
    suboptions:
      application: {description: 'The application name, as in dov_applications.', type: str, required: true}
      environment: {description: 'The environment: productie or oefen.', type: str, required: true}
      common_name: {description: The CN DOV assigned., type: str, required: true}
      cn_policy: {description: See M(vlaanderen.dov.csr)., type: str, choices: [strict, 'off'], default: strict}
      dest_dir: {description: Folder of the installed files., type: path, required: true}
      privatekey_path: {description: 'Path of the key; default C(<dest_dir>/key.pem).', type: path}
      files:
        description:
          - Names of the files in O(certificates[].dest_dir) by kind (C(key), C(csr), C(cert), C(chain), C(fullchain), C(pkcs12),
            C(jks)), for an application that reads other names; the defaults are key.pem, csr.pem, cert.pem, chain.pem, fullchain.pem,
            bundle.p12 and keystore.jks.
        type: dict
      csr_path: {description: 'Path of the CSR; default C(csr.pem) beside the key.', type: path}
      key_holder: {description: Whether this host makes the pair's key and CSR., type: bool, default: false}
      key_type: {description: Type of a new key., type: str, choices: [rsa, ec], default: rsa}
      key_size: {description: Size of a new RSA key., type: int, choices: [2048, 3072, 4096], default: 2048}
      curve: {description: Curve of a new EC key., type: str, choices: [secp256r1, secp384r1], default: secp256r1}
      subject: {description: Further CSR subject fields., type: dict, default: {}}
      privatekey_passphrase: {description: Passphrase of the key., type: str}
      privatekey_content:
        description: The pair's key (PEM) from the key holder, for a host that does not have it yet. Never logged.
        type: str
      shared_key:
        description: The pair (C(application/environment)) whose key this host receives, from O(shared_keys).
        type: str
      certificate: {description: The issued certificate (PEM) that this host should have., type: str}
      renew:
        description:
          - "renew.yml, phase prepare on the key holder: stage the renewal of this pair when its installed certificate has at most
            O(certificates[].renew.before_days) days left (or O(certificates[].renew.force)): a new key C(<key>.next) (0600) and its CSR
            C(<csr>.next) beside the live files, which are not touched. A staged key already there is kept (RV(certificates[].staged))."
        type: dict
        suboptions:
          before_days: {description: The renewal window in days., type: int, default: 60}
          force: {description: Renew whatever the days left., type: bool, default: false}
          new_key: {description: 'Stage a new key (false makes only the CSR, for the live key).', type: bool, default: true}
      staged_key:
        description: Phase install on the key holder of a renewed pair, install the staged key C(<key>.next) with the certificate, as one set.
        type: bool
        default: false
      renewed:
        description: Phase install on the key holder of a pair renewed for its live key, the staged CSR becomes the live one once checked.
        type: bool
        default: false
      keep_previous:
        description: Phase install of a renewal, keep the previous files as C(<file>.prev) (same bytes, mode, owner) for phase settle.
        type: bool
        default: false
      verify_only:
        description:
          - Phase install, only run the mTLS check with the installed files (read-only, as O(phase=verify), also in check
            mode) - for a host whose certificate is good as it is, in the same call as the hosts' installs.
        type: bool
        default: false
      settle:
        description: Phase settle, C(commit) or C(restore) the renewal on this host (see O(phase)).
        type: str
        choices: [commit, restore]
      owner: {description: Owner of the files., type: str}
      group: {description: Group of the files., type: str}
      notify: {description: Service to restart when this certificate's files change (returned in RV(notify))., type: str}
      state:
        description:
          - C(absent) takes the entry off this host in O(phase=prepare) (nothing is made or installed for it) - every file
            the collection wrote for it (key, CSR, certificate files, keystores, staged C(.next) files, the manifest) and
            nothing else; a path another entry of this call uses stays. A file under a managed name that the collection
            did not write is refused, naming it, and nothing of the entry is removed (unless O(certificates[].force)). For a
            retired pair (O(certificates[].retired)) the removal waits for the revocation (O(phase=install)).
        type: str
        choices: [present, absent]
        default: present
      force:
        description: With O(certificates[].state=absent), also remove files under the managed names that the collection did not write.
        type: bool
        default: false
      retired:
        description:
          - With O(certificates[].state=absent), the pair is retired - its files are the last record of a certificate that is
            still to be revoked, so O(phase=prepare) only reports what is installed and what would go (RV(certificates[].pending))
            and removes nothing; they go in O(phase=install) after the revocation was handed over or requested.
        type: bool
        default: false
      remove:
        description:
          - O(phase=install) of a retired entry - the paths that may go (what O(phase=prepare) listed in RV(certificates[].pending));
            any other file stays.
        type: list
        elements: path
      install:
        description: How to install (see M(vlaanderen.dov.certificate)).
        type: dict
        default: {}
        suboptions:
          formats: {description: Formats to write., type: list, elements: str, choices: [pem, pkcs12, jks], default: [pem]}
          ca_bundle: {description: CA certificates the certificate must chain to., type: path}
          pkcs12_password: {description: Password of bundle.p12., type: str}
          jks_password: {description: Password of keystore.jks., type: str}
          pkcs12_profile: {description: 'PKCS#12 encryption profile; V(auto): V(modern) where cryptography can write it, else V(legacy).', type: str,
                         choices: [auto, modern, legacy], default: auto}
          keystore_alias: {description: Alias in the keystores., type: str, default: dov-client}
          mode: {description: Mode of the keystores., type: raw}
      check:
        description: The mTLS check to run after installing (options of M(vlaanderen.dov.mtls_check)); none when absent.
        type: dict
        suboptions:
          url: {description: Full URL of the health call., type: str, required: true}
          ca_bundle: {description: Trust for the server certificate (a file on the host); default the system store., type: path}
          ca_bundle_pem: {description: Trust for the server certificate as PEM text (from the controller)., type: str}
          proxy: {description: HTTP CONNECT proxy., type: str}
          timeout: {description: Seconds., type: float, default: 15}
  pkcs12_password:
    description: Password of every C(bundle.p12), unless an entry's O(certificates[].install.pkcs12_password) is set.
    type: str
  jks_password:
    description: Password of every C(keystore.jks), unless an entry's O(certificates[].install.jks_password) is set.
    type: str
  shared_keys:
    description:
      - Keys received from the key holders, as C(application/environment) to base64 of the key file
        (what M(ansible.builtin.slurp) returns). Never logged, never written on the controller.
    type: dict
    default: {}
notes:
  - Needs the Python libraries C(cryptography) 3.4.8 or newer and, for the check, C(pyOpenSSL) 21.0.0 or newer on
    the host; C(keytool) for the jks format.
  - A file it manages in O(certificates[].dest_dir) that is a symbolic link is refused, naming the link (never followed,
    chowned or copied); O(certificates[].dest_dir) itself may be a link. Files are read with C(O_NOFOLLOW) and their mode and owner set on the open file.
'''

EXAMPLES = r'''
- name: Key and CSR for the pairs this host holds, and the converge check
  vlaanderen.dov.host_certificates:
    phase: prepare
    certificates:
      - application: Geodrill
        environment: oefen
        common_name: geolab.be/dov-services/oefen/Geodrill
        dest_dir: /opt/geodrill/dov
        key_holder: true
'''

RETURN = r'''
certificates:
  description: One result per entry, in order.
  returned: always
  type: list
  elements: dict
  contains:
    application: {description: The application., type: str, returned: always}
    environment: {description: The environment., type: str, returned: always}
    error: {description: 'What went wrong for this entry, or null.', type: str, returned: always}
    key_fingerprint: {description: "SHA-256 of the key's public key, or null when there is no key.", type: str, returned: phase prepare}
    csr: {description: The CSR (PEM) on the key holder., type: str, returned: phase prepare}
    converged: {description: Whether the certificate is installed exactly as asked., type: bool, returned: phase prepare}
    installed:
      description:
        - 'What the cert file (or bundle.p12) holds now: fingerprint, CN, not_before, not_after, issuer; null when nothing is installed.'
        - In O(phase=report), what M(vlaanderen.dov.cert_info) returns of it (with needs_renewal and the CN parts).
      type: dict
      returned: phases prepare, verify and report
    installed_pem:
      description: The installed certificate and its chain (PEM, public), for the controller's checks; null when it took the manifest's word.
      type: str
      returned: phase prepare
    complete: {description: Whether the files of every format of the entry exist., type: bool, returned: phase prepare}
    staged:
      description: The renewal staged on the key holder (key_path, csr_path, csr, key_fingerprint, new_key, key_created); no key material.
      type: dict
      returned: phase prepare with renew, when the pair is renewed
    promoted: {description: 'After a renewal, the staged files that became live (the CSR) or were removed (the staged key).', type: list,
               returned: phase install of a renewal}
    removed:
      description: The files removed (in check mode, that would be) for an entry with O(certificates[].state=absent).
      type: list
      elements: str
      returned: phase prepare (phase install for a retired pair), state absent
    pending:
      description: A retired entry's files that go once its revocation was handed over or requested (nothing is removed yet).
      type: list
      elements: str
      returned: phase prepare, state absent, retired
    kept:
      description: Managed paths that stay, with the reason (another entry uses them).
      type: list
      elements: dict
      returned: phase prepare, state absent
    folders_removed:
      description: Folders the collection created that were empty afterwards.
      type: list
      elements: str
      returned: phase prepare, state absent
    check: {description: The mTLS check's result (see M(vlaanderen.dov.mtls_check))., type: dict, returned: phases install (with check) and verify}
    rolled_back: {description: Files put back after a failed check (the key first)., type: list, returned: when the check failed}
    removed_temp_files:
      description: Temporary files a killed run left beside the entry's files (C(.key.pem.*.tmp), C(.cert.pem.*.tmp)), removed.
      type: list
      elements: str
      returned: phase prepare, not in check mode
metrics:
  description: With O(metrics_dir), the metrics file's C(path) and whether it was C(written) this call.
  type: dict
  returned: when metrics_dir is set
errors:
  description: The entries' errors, as C(application/environment - message).
  returned: always
  type: list
  elements: str
notify:
  description: The services (O(certificates[].notify)) of the entries whose files changed.
  returned: always
  type: list
  elements: str
'''

import base64

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.lazy import lib
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostbase, hostcerts, hostlock, rollover
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._argspec import CHECK_OPTIONS, CN_POLICY, INSTALL_OPTIONS, KEY_OPTIONS

# Each execution compiles the module_utils it imports (Ansible ships them as source): what only
# state: absent, the report or the metrics file needs is imported where it is used.

ENTRY = dict(
    application=dict(type='str', required=True),
    environment=dict(type='str', required=True),
    common_name=dict(type='str', required=True),
    cn_policy=CN_POLICY,
    dest_dir=dict(type='path', required=True),
    privatekey_path=dict(type='path'),
    files=dict(type='dict'),
    csr_path=dict(type='path'),
    key_holder=dict(type='bool', default=False),
    privatekey_content=dict(type='str', no_log=True),
    shared_key=dict(type='str', no_log=False),
    certificate=dict(type='str'),
    renew=dict(type='dict', options=dict(
        before_days=dict(type='int', default=validity.DEFAULT_RENEW_BEFORE_DAYS),
        force=dict(type='bool', default=False),
        new_key=dict(type='bool', default=True),
    )),
    staged_key=dict(type='bool', default=False),
    renewed=dict(type='bool', default=False),
    keep_previous=dict(type='bool', default=False),
    verify_only=dict(type='bool', default=False),
    settle=dict(type='str', choices=['commit', 'restore']),
    owner=dict(type='str'),
    group=dict(type='str'),
    notify=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    force=dict(type='bool', default=False),
    retired=dict(type='bool', default=False),
    remove=dict(type='list', elements='path'),
    install=dict(type='dict', default={}, options=INSTALL_OPTIONS),
    check=dict(type='dict', options=dict(
        url=dict(type='str', required=True),
        ca_bundle_pem=dict(type='str'),
        timeout=dict(type='float', default=cn.DEFAULT_CHECK_TIMEOUT),
        **CHECK_OPTIONS
    )),
    **KEY_OPTIONS
)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            phase=dict(type='str', choices=['prepare', 'install', 'verify', 'report', 'settle'], required=True),
            metrics_dir=dict(type='path'),
            run=dict(type='str'),
            state_folder=dict(type='str'),
            lock_lease=dict(type='int', default=0),
            renew_before_days=dict(type='int', default=validity.DEFAULT_RENEW_BEFORE_DAYS),
            certificates=dict(type='list', elements='dict', required=True, options=ENTRY),
            shared_keys=dict(type='dict', default={}, no_log=True),
            pkcs12_password=dict(type='str', no_log=True),
            jks_password=dict(type='str', no_log=True),
        ),
        supports_check_mode=True,
    )
    phase, metrics_dir = module.params['phase'], module.params['metrics_dir']
    if metrics_dir is not None:
        try:
            lib.metrics.check_metrics_dir(metrics_dir)     # refused before anything is done
        except DovError as error:
            module.fail_json(msg=str(error))
    results, shared = [], None      # shared: the paths the present entries use, once an entry is absent
    clashes = hostbase.shared_folders(module.params['certificates'])
    for index, entry in enumerate(module.params['certificates']):
        entry = dict(entry, install=dict(entry['install']))    # never put secrets back into module.params
        for name in ('pkcs12_password', 'jks_password'):
            if not entry['install'].get(name) and module.params[name]:
                entry['install'][name] = module.params[name]
        # Every entry gets its result, also after another one failed: the entries installed before
        # a failure keep their changed/notify, so that their services are restarted.
        if entry.get('shared_key'):
            received = module.params['shared_keys'].get(entry['shared_key'])
            if not received:
                results.append(hostbase.failed(
                    entry, 'The key of %s was not received from its key holder. Run again; if it persists, check '
                           'that the key holder can be reached.' % entry['shared_key']))
                continue
            entry['privatekey_content'] = to_text(base64.b64decode(received))
            module.no_log_values.add(entry['privatekey_content'])
        try:     # the pair's lock on this host for this call (hostlock.py): nothing is done without it
            held = hostlock.take(entry, module.params['run'], phase, module.check_mode, module.params['state_folder'])
        except DovError as error:
            results.append(hostbase.failed(entry, str(error)))
            continue
        count = len(results)
        try:
            hostbase.check_folders(entry)       # before anything is read or written for the entry
            if index in clashes:
                raise DovError(clashes[index])
            if entry['state'] == 'absent':
                if shared is None:
                    shared = lib.hostabsent.in_use(module.params['certificates'])
                if phase == 'prepare':
                    results.append(lib.hostabsent.absent(entry, shared, check_mode=module.check_mode, hold=entry['retired']))
                elif phase == 'install' and entry['retired'] and entry['remove'] is not None:
                    results.append(lib.hostabsent.absent(entry, shared, check_mode=module.check_mode))
                else:
                    results.append(hostbase.failed(entry, 'An entry with state: absent runs in phase prepare (and, '
                                                          'for a retired pair, in phase install after its revocation).'))
            elif phase == 'prepare':
                results.append(hostcerts.prepare(entry, check_mode=module.check_mode))
            elif phase == 'report':
                results.append(lib.hostreport.report(entry, module.params['renew_before_days']))
            elif phase == 'verify' or (phase == 'install' and entry['verify_only']):
                results.append(hostcerts.verify(entry))
            elif phase == 'settle':
                results.append(rollover.settle(entry) if not module.check_mode else hostbase.failed(entry, None))
            else:
                results.append(hostcerts.install(entry, check=entry.get('check'), check_mode=module.check_mode))
        except DovError as error:
            results.append(hostbase.failed(entry, str(error)))
        except (OSError, IOError, ValueError) as error:
            results.append(hostbase.failed(
                entry, 'The %s step stopped with an unexpected error: %s. Fix the cause on this host and run '
                       'again.' % (phase, error)))
        finally:
            outcome = results[count] if len(results) > count else None
            hostlock.give_back(held, module.params['lock_lease'] if hostlock.needs_lease(phase, entry, outcome) else 0)

    notify = []
    for entry, result in zip(module.params['certificates'], results):
        if result['changed'] and entry.get('notify') and entry['notify'] not in notify:
            notify.append(entry['notify'])
    diffs = [dict(result['diff'], before_header='%s/%s' % (result['application'], result['environment']),
                  after_header='%s/%s' % (result['application'], result['environment']))
             for result in results if result.get('diff') and result['changed']]
    extra = {'diff': diffs} if module._diff and diffs else {}
    errors = ['%s/%s - %s' % (result['application'], result['environment'], result['error'])
              for result in results if result['error']]
    if metrics_dir is not None:
        # prepare and report see every certificate of the host; install and verify only some of them
        try:
            extra['metrics'] = lib.hostreport.write_metrics(metrics_dir, results, replace=phase in ('prepare', 'report'),
                                                            check_mode=module.check_mode)
        except (DovError, OSError, IOError) as error:
            errors.append('metrics - %s' % error)
            module.warn('The metrics file was not written: %s' % error)
    module.exit_json(
        changed=any(result['changed'] for result in results),
        certificates=results,
        errors=errors,
        notify=notify,
        **extra
    )


def main():
    run_module()


if __name__ == '__main__':
    main()
