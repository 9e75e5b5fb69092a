# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of the dov_cert role, run in-process (no module execution).

Steps: ``plan`` (validate, lock, access requests, what each host's prepare call gets),
``issue`` (CSRs to certificates, what each host's install call gets), ``report``
(status.json, the table, the lock released). The logic is in module_utils/onboarding.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import contextlib
import difflib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid

import yaml

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.vlaanderen.dov.plugins.module_utils import accessmail, cn, fsutil, issuers, labca, onboarding
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

display = Display()

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDIN = os.path.join(COLLECTION, 'lab', 'dov_standin.py')
ARGUMENT_SPECS = os.path.join(COLLECTION, 'roles', 'dov_cert', 'meta', 'argument_specs.yml')
RUN_ID = uuid.uuid4().hex   # one per ansible-playbook process: the lock's owner


# The role's own registered and derived names, and the playbooks' and the lab inventory's.
INTERNAL = frozenset(('dov_plan', 'dov_prepared', 'dov_issued', 'dov_shared_keys', 'dov_installed', 'dov_verified',
                      'dov_report', 'dov_received', 'dov_with_services', 'dov_install_defaults', 'dov_mode',
                      'dov_hosts', 'dov_lab_dir'))


def misspelled_variables(names):
    """(name, the role variable it most likely means) for every dov_* name that is not a role
    variable but looks like one: Ansible ignores a variable nobody reads, so a typo in an inventory
    (dov_isuer) would silently run with the default."""
    try:
        with open(ARGUMENT_SPECS) as handle:
            known = set(yaml.safe_load(handle)['argument_specs']['main']['options'])
    except (IOError, OSError, KeyError, TypeError, yaml.YAMLError):
        return []
    found = []
    for name in sorted(names):
        if name.startswith('dov_') and name not in known and name not in INTERNAL:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.85)
            if close:
                found.append((name, close[0]))
    return found


def stop_standin(pidfile):
    """Stop the lab stand-in of ``pidfile`` in-process (its own ``stop``, without starting a Python)."""
    spec = importlib.util.spec_from_file_location('dov_standin', STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.devnull, 'w') as quiet, contextlib.redirect_stdout(quiet):
        module.stop(argparse.Namespace(pidfile=pidfile))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        step = args.get('step')
        try:
            if step == 'plan':
                result.update(self._plan(args, task_vars))
            elif step == 'issue':
                result.update(self._issue(args, task_vars))
            elif step == 'report':
                result.update(self._report(args, task_vars))
            else:
                raise AnsibleActionFail("step must be plan, issue or report, not %r." % (step,))
        except DovError as error:
            result.update(failed=True, msg=str(error))
        return result

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _state_dir(args):
        state_dir = args.get('state_dir')
        if not state_dir:
            raise DovError("dov_state_dir is empty. Set it to a folder on the controller, e.g. ./dov-state.")
        return os.path.abspath(os.path.expanduser(state_dir))

    @staticmethod
    def _inventory_hosts(task_vars):
        """Every host of the inventory, in order (not only this run's: --limit must not hide a key holder)."""
        hosts = list((task_vars.get('groups') or {}).get('all') or [])
        for host in task_vars.get('ansible_play_hosts_all') or []:
            if host not in hosts:
                hosts.append(host)
        return hosts

    def _host_certificates(self, task_vars):
        hostvars = task_vars['hostvars']
        return dict((host, hostvars[host].get('dov_certificates') or []) for host in self._inventory_hosts(task_vars))

    def _inventory(self, args, task_vars):
        return onboarding.Inventory(args.get('organisation'), args.get('applications'),
                                    self._host_certificates(task_vars), args.get('cn_policy') or 'strict')

    def _lock(self, args):
        return onboarding.Lock(self._state_dir(args), {'run': RUN_ID, 'pid': os.getpid(),
                                                       'host': socket.gethostname(),
                                                       'started': onboarding.utc_now().isoformat()})

    # ------------------------------------------------------------ plan

    def _plan(self, args, task_vars):
        state_dir = self._state_dir(args)
        names = set(task_vars)
        for host in self._inventory_hosts(task_vars):
            names.update(task_vars['hostvars'][host].keys())
        if str(task_vars.get('dov_key_home', 'host')) != 'host':
            raise DovError("dov_key_home=%s is not supported: every pair's key stays on its hosts (made on the key holder "
                           "and copied to the pair's other hosts through Ansible's connection, in memory). Remove "
                           "dov_key_home." % task_vars.get('dov_key_home'))
        typos = misspelled_variables(names)
        if typos:
            raise DovError("Unknown variable(s): %s. They are not dov_cert variables and would be ignored; correct the "
                           "name (or, for a variable of your own, use a name that does not look like one of the role's)."
                           % ', '.join('%s (did you mean %s?)' % pair for pair in typos))
        inventory = self._inventory(args, task_vars)
        check_mode = self._task.check_mode
        changed = False
        messages = []
        requests = {}
        organisation = args.get('organisation') or {}
        smtp = args.get('smtp') or {}
        built = {}
        for name in sorted(inventory.applications):
            app = inventory.applications[name]
            request = accessmail.AccessRequest(
                organisation=organisation.get('name'), organisation_id_type=organisation.get('id_type'),
                organisation_id=organisation.get('id'), application=name,
                description=app.get('description'), contact_email=organisation.get('contact_email'),
                environments=sorted(app.get('environments') or {}), contact_name=organisation.get('contact_name'),
                sender=smtp.get('sender'))
            built[name] = (request, os.path.join(state_dir, name, 'access-request.eml'))
        status = onboarding.load_status(state_dir)
        mode = args.get('mode') or 'onboard'
        if mode == 'status':
            built = {}
        elif not check_mode:
            self._lock(args).acquire(timeout=int(args.get('lock_timeout') or 0))
        for name, (request, dest) in sorted(built.items()):
            eml = request.eml
            if fsutil.read_bytes(dest) != eml:
                changed = True
                if not check_mode:
                    fsutil.ensure_dir(os.path.dirname(dest), 0o700)
                    fsutil.atomic_write(dest, eml, mode=0o644)
            requests[name] = {'dest': dest, 'organisation_id': request.organisation_id}
            if boolean(args.get('send_requests') or False) and smtp.get('host'):
                server = accessmail.SmtpServer(smtp.get('host'), smtp.get('port'), smtp.get('starttls', True),
                                               smtp.get('username'), smtp.get('password'), smtp.get('ca_bundle'))
                sent = accessmail.send_once(dest, eml, server, check_mode=check_mode)
                requests[name].update(sent=sent['sent'], sent_at=sent['sent_at'])
                if sent['sent'] or (check_mode and sent['would_send']):
                    changed = True
                    messages.append('%s: the access request was sent to meldpunt@dov.vlaanderen.be.' % name)
        play_hosts = list(task_vars.get('ansible_play_hosts') or [])
        pairs, hosts, notes = onboarding.plan_hosts(inventory, state_dir, status, play_hosts, args.get('defaults') or {})
        messages.extend(notes)
        for info in pairs.values():
            messages.extend(info['messages'])
        lab = self._lab(args, inventory, state_dir, check_mode) if mode != 'status' else {}
        template = self._check_template(args, lab)
        health_path = args.get('health_path') or 'dov-xdov-server/logs/chucknorris'
        for info in pairs.values():
            if template is not None:
                url = cn.endpoint(info['environment'], self._endpoints(args, lab))
                info['check'] = dict(template, url=url.rstrip('/') + '/' + health_path.lstrip('/'))
        if mode == 'verify':
            self.await_standin(lab)
            for host, entries in hosts.items():
                for entry in entries:
                    entry.pop('certificate', None)
                    entry['key_holder'] = False
                    entry['check'] = pairs[onboarding.pair_key(entry['application'], entry['environment'])].get('check')
        return {'changed': changed, 'pairs': pairs, 'hosts': hosts, 'requests': requests, 'lab': lab,
                'messages': messages, 'msg': '\n'.join(messages) or 'Inventory checked; %d pair(s).' % len(pairs)}

    def _lab(self, args, inventory, state_dir, check_mode):
        """With dov_lab_standin: make sure the lab CA, the stand-in's server certificate, and the
        stand-in itself (started in the background, allowing every CN of the inventory)."""
        lab = args.get('lab') or {}
        if not boolean(lab.get('standin') or False):
            return {}
        if check_mode and not os.path.isdir(issuers.lab_ca_folder(state_dir)):
            return {}
        folder = os.path.join(state_dir, 'lab-standin')
        ca_folder = issuers.lab_ca_folder(state_dir)
        bundle_path = os.path.join(ca_folder, labca.FILES['bundle'])
        cert_path, key_path = os.path.join(folder, 'server.pem'), os.path.join(folder, 'server-key.pem')
        if not os.path.exists(cert_path) or not os.path.exists(bundle_path):
            ca = labca.LabCA.load_or_create(ca_folder)
            key_pem, cert_pem = ca.issue_server_certificate(['localhost', '127.0.0.1'])
            fsutil.ensure_dir(folder, 0o700)
            fsutil.atomic_write(key_path, key_pem, mode=0o600)
            fsutil.atomic_write(cert_path, cert_pem, mode=0o644)
        port = int(lab.get('port') or 18443)
        allowed = sorted(pair.common_name for pair in inventory.pairs.values()
                         if pair.common_name and pair.application not in (lab.get('deny') or []))
        logfile = os.path.join(folder, 'standin.log')
        command = [sys.executable, STANDIN, 'run', '--listen', '127.0.0.1:%d' % port, '--cert', cert_path,
                   '--key', key_path, '--client-ca', bundle_path, '--pidfile', os.path.join(folder, 'standin.pid'),
                   '--logfile', logfile]
        for name in allowed:
            command += ['--allow', name]
        # A stand-in left by an interrupted run may allow other CNs: always start afresh. It comes up
        # in the background while the hosts make their keys; the issue step waits for its port.
        stop_standin(os.path.join(folder, 'standin.pid'))
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
        except OSError:
            pass
        else:
            raise DovError("Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in cannot "
                           "listen there. Set dov_lab_standin_port to a free port." % port)
        with open(os.devnull, 'rb') as devnull, open(logfile, 'ab') as log:
            subprocess.Popen(command, stdin=devnull, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                             start_new_session=True, close_fds=True)
        url = 'https://127.0.0.1:%d/' % port
        return {'endpoints': {'productie': url, 'oefen': url, 'ontwikkel': url}, 'server_ca_bundle': bundle_path,
                'pidfile': os.path.join(folder, 'standin.pid'), 'port': port, 'logfile': logfile}

    @staticmethod
    def await_standin(lab, timeout=15):
        """Wait until the lab stand-in answers on its port; a clear error with its log when it does not."""
        if not lab.get('port'):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', lab['port']), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        tail = ''
        if os.path.exists(lab['logfile']):
            with open(lab['logfile']) as handle:
                tail = handle.read()[-800:]
        raise DovError("The lab DOV stand-in did not come up on 127.0.0.1:%d. Check that the port is free "
                       "(dov_lab_standin_port). Its log:\n%s" % (lab['port'], tail))

    # ------------------------------------------------------------ issue

    def _issue(self, args, task_vars):
        state_dir = self._state_dir(args)
        inventory = self._inventory(args, task_vars)
        plan = args.get('plan') or {}
        pairs = dict((key, dict(value)) for key, value in (plan.get('pairs') or {}).items())
        for info in pairs.values():
            info['messages'] = []
        hostvars = task_vars['hostvars']
        prepared = {}
        for host in task_vars.get('ansible_play_hosts') or []:
            registered = hostvars[host].get('dov_prepared') or {}
            prepared[host] = registered.get('certificates') or []
        ca_bundle = args.get('ca_bundle')
        self.await_standin(plan.get('lab') or {})
        changed = onboarding.issue_pairs(
            inventory, pairs, prepared, state_dir, args.get('issuer') or 'manual', ca_bundle=ca_bundle,
            command=args.get('issuer_command'), allow_productie=boolean(args.get('lab_allow_productie') or False),
            renew_before_days=int(args.get('renew_before_days') or 60), renew=boolean(args.get('renew') or False),
            check_mode=self._task.check_mode, verify=boolean(args.get('verify', True)),
            previous_states=dict((key, value.get('state')) for key, value in onboarding.load_status(state_dir)['pairs'].items()))
        install = {}
        keys = []
        for key, info in sorted(pairs.items()):
            pair = inventory.pairs[key]
            entries = dict((host, entry) for host, entry in pair.hosts)
            for host, needs_key in info.pop('install', []):
                entry = onboarding.host_entry(pair, host, entries[host], info['holder'],
                                              info.get('certificate_pem'), args.get('defaults') or {})
                entry.pop('key_holder', None)
                if info.get('check'):
                    entry['check'] = info['check']
                if needs_key:
                    holder_entry = entries[info['holder']]
                    holder_key = holder_entry.get('privatekey_path') or os.path.join(holder_entry['dest_dir'], 'key.pem')
                    keys.append({'host': host, 'pair': key, 'holder': info['holder'], 'key_path': holder_key})
                    entry['shared_key'] = key
                install.setdefault(host, []).append(entry)
            info.pop('certificate_pem', None)
        messages = [message for info in pairs.values() for message in info['messages']]
        return {'changed': changed, 'pairs': pairs, 'install': install, 'key_transfers': keys,
                'messages': messages, 'msg': '\n'.join(messages) or 'Nothing to issue.'}

    @staticmethod
    def _endpoints(args, lab):
        endpoints = dict(args.get('endpoints') or {})
        for environment, url in (lab.get('endpoints') or {}).items():
            endpoints.setdefault(environment, url)
        return endpoints

    @staticmethod
    def _check_template(args, lab):
        if not boolean(args.get('verify', True)):
            return None
        template = {'timeout': float(args.get('check_timeout') or 15)}
        bundle = args.get('server_ca_bundle') or lab.get('server_ca_bundle')
        if bundle:
            data = fsutil.read_bytes(bundle)
            if data is None:
                raise DovError("dov_server_ca_bundle %s does not exist on the controller. Give the PEM file with the CA "
                               "of the DOV servers, or leave it out to use each host's system store." % bundle)
            template['ca_bundle_pem'] = to_text(data)
        if args.get('proxy'):
            template['proxy'] = args['proxy']
        return template

    # ------------------------------------------------------------ report

    def _report(self, args, task_vars):
        state_dir = self._state_dir(args)
        check_mode = self._task.check_mode
        plan = args.get('plan') or {}
        issued = args.get('issued') or {}
        pairs = dict((key, dict(value)) for key, value in ((issued.get('pairs') if issued else None)
                                                           or plan.get('pairs') or {}).items())
        status = onboarding.load_status(state_dir)
        hostvars = task_vars['hostvars']
        live = set(task_vars.get('ansible_play_hosts') or [])
        in_run = set(task_vars.get('ansible_play_hosts_all') or [])
        renew_before = int(args.get('renew_before_days') or 60)
        verify = boolean(args.get('verify', True))
        mode = args.get('mode') or 'onboard'
        registered_name = {'onboard': 'dov_installed', 'verify': 'dov_verified'}.get(mode)
        now = onboarding.utc_now().isoformat()
        host_errors = {}
        rows = []
        host_rows = []
        for key in sorted(pairs):
            info = pairs[key]
            previous = (status['pairs'].get(key) or {})
            if mode == 'status':
                rows.append((info['application'], info['environment'], previous.get('state') or info.get('state') or 'unknown',
                             len(info.get('hosts') or []), previous.get('days_left'), previous.get('verdict'),
                             info.get('common_name')))
                continue
            installed = []
            for host in info.get('hosts') or []:
                if host not in in_run:
                    continue        # not in this run (--limit): it keeps what it has
                if host not in live:
                    info['state'] = 'failed'
                    info.setdefault('messages', []).append('%s: the host failed or was unreachable this run.' % host)
                    continue
                registered = hostvars[host].get(registered_name) or {}
                for result in registered.get('certificates') or []:
                    if (result.get('application'), result.get('environment')) == (info['application'], info['environment']):
                        result = dict(result, host=host)
                        installed.append(result)
                        if result.get('error'):
                            host_errors.setdefault(host, []).append('%s: %s' % (key, result['error']))
                        if mode == 'verify':
                            host_rows.append((host, info['application'], info['environment'],
                                              (result.get('check') or {}).get('verdict') or 'error',
                                              (result.get('installed') or {}).get('days_left'), result.get('error') or ''))
            certificate = info.get('certificate') or {}
            if mode == 'verify':
                state = onboarding.verified_state(info, installed, previous.get('state'), renew_before)
                described = [result['installed'] for result in installed if result.get('installed')]
                certificate = min(described, key=lambda item: item['days_left']) if described else {}
            else:
                state = onboarding.pair_state(info, installed, previous.get('state'), renew_before, verify)
            checks = [result['check'] for result in installed if result.get('check')]
            last = checks[-1] if checks else None
            entry = {
                'state': state,
                'application': info['application'],
                'environment': info['environment'],
                'common_name': info.get('common_name'),
                'hosts': info.get('hosts') or [],
                'key_holder': info.get('holder') or previous.get('key_holder'),
                'not_after': certificate.get('not_after', previous.get('not_after')),
                'days_left': certificate.get('days_left', previous.get('days_left')),
                'fingerprint_sha256': certificate.get('fingerprint_sha256', previous.get('fingerprint_sha256')),
                'verdict': last['verdict'] if last else previous.get('verdict'),
                'hint': (last or {}).get('hint') if last else previous.get('hint'),
                'messages': info.get('messages') or [],
                'updated_at': previous.get('updated_at'),
            }
            quiet = ('updated_at', 'messages')
            if dict((k, v) for k, v in entry.items() if k not in quiet) == dict((k, v) for k, v in previous.items() if k not in quiet):
                entry = previous          # nothing new: the last run's record (and its notes) stays as it was
            else:
                entry['updated_at'] = now
            status['pairs'][key] = entry
            rows.append((info['application'], info['environment'], state, len(entry['hosts']), entry['days_left'],
                         entry['verdict'], entry['common_name']))
        changed = False
        if not check_mode and mode != 'status':
            changed = onboarding.write_status(state_dir, status)
        if not check_mode:
            self._lock(args).release()
        lab = plan.get('lab') or {}
        if lab.get('pidfile'):
            stop_standin(lab['pidfile'])
        states = dict((key, value['state']) for key, value in status['pairs'].items() if key in pairs)
        failed = sorted(key for key, state in states.items() if state == 'failed')
        waiting = sorted(key for key, state in states.items() if state in onboarding.WAITING)
        # This run's notes only: status.json keeps those of the run that last changed a pair.
        messages = [message for key in sorted(pairs) for message in pairs[key].get('messages') or []]
        if mode == 'verify':
            table = onboarding.table(host_rows, ('host', 'application', 'environment', 'verdict', 'days left', 'problem'))
        else:
            table = onboarding.table(rows)
        lost = sorted(set(host for info in pairs.values() for host in info.get('hosts') or [] if host in in_run and host not in live))
        return {'changed': changed, 'table': table, 'lost_hosts': lost, 'states': states, 'failed_pairs': failed,
                'waiting_pairs': waiting, 'host_errors': host_errors, 'messages': messages,
                'status_file': os.path.join(state_dir, onboarding.STATUS_FILE)}
