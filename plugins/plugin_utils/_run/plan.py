# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The plan step: everything decided before a host is touched.

The refusals (misspelled variables: ``misspelled_variables``; values that do not fit the role's
argument specs: ``check_role_variables``; controller files that do not exist:
``check_controller_files``; a ``dov_only`` that names no pair: ``check_only``) and the
``Inventory`` run before the lock is taken, so bad input changes nothing. ``plan_step`` then
writes (and sends) the access requests of applications still waiting for a CN
(``write_requests``) and decides per application/environment pair its hosts and key holder and
what each host's ``host_certificates`` prepare call gets (``plan_hosts``); ``add_checks`` gives
each pair its check settings.

Inputs: the validated inventory, the state folder, status.json (possibly empty: a lost cache),
the hosts of this run. Output: ``pairs`` ({key: {application, environment, common_name, hosts,
holder, state, messages}}) and ``hosts`` ({host: [prepare entries]}).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import json
import os
import socket
import uuid

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._mail import accessmail, sendrecord
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run.inventory import pair_key


class PairInfo(object):
    """What the steps know of one application/environment pair this run, with its fields declared.

    The plan step makes it (``plan_hosts``), the issue step decides its certificate on it
    (``issue.issue_pairs``); between steps it travels through Ansible as a plain dict
    (``to_dict`` / ``from_dict``) that holds exactly the fields that were set, in the order they
    were set, as the role and status.json have always seen it.

    Always: ``application``, ``environment``, ``common_name``, ``hosts``, ``holder`` (the key
    holder), ``state`` (None until decided), ``messages``. Set when they apply (None when not):
    ``retired_hosts`` (a retired pair), ``check_settings`` (the mTLS check), ``failures``,
    ``certificate`` (its description), ``certificate_pem``, ``source``, ``live_certificate``
    (what the hosts keep if every install fails), ``staged_key`` (a renewal's new key),
    ``renewal``, ``install`` ([(host, needs_key)]) and ``check`` ([host]) for ``issue.deliveries``,
    ``issued_from`` / ``issued_from_message`` (an issuer's answer, within the issue step),
    ``revocation`` / ``removals`` (a retired pair) and ``restored`` (settle put the previous pair back).
    """
    ALWAYS = ('application', 'environment', 'common_name', 'hosts', 'holder', 'state', 'messages')
    OPTIONAL = ('retired_hosts', 'check_settings', 'failures', 'certificate', 'certificate_pem', 'source',
                'live_certificate', 'staged_key', 'renewal', 'install', 'check', 'issued_from', 'issued_from_message',
                'revocation', 'removals', 'restored')
    FIELDS = ALWAYS + OPTIONAL

    def __init__(self, **fields):
        object.__setattr__(self, '_given', [])
        self.update(**fields)

    def __setattr__(self, name, value):
        if name not in self.FIELDS:
            raise AttributeError('A pair has no field %r (declared: %s).' % (name, ', '.join(self.FIELDS)))
        object.__setattr__(self, name, value)
        if name not in self._given:
            self._given.append(name)

    def __getattr__(self, name):
        # only asked for a field that was never set
        if name in self.FIELDS:
            return None
        raise AttributeError(name)

    def update(self, **fields):
        for name, value in fields.items():
            setattr(self, name, value)

    def has(self, name):
        """Whether ``name`` was set (also to None)."""
        return name in self._given

    def take(self, name):
        """The field's value (None when it was not set), and the field no longer set."""
        if name not in self._given:
            return None
        value = getattr(self, name)
        self._given.remove(name)
        object.__delattr__(self, name)
        return value

    def to_dict(self):
        return dict((name, getattr(self, name)) for name in self._given)

    @classmethod
    def from_dict(cls, fields):
        unknown = sorted(set(fields) - set(cls.FIELDS))
        if unknown:
            raise TypeError('A pair has no field %s (declared: %s).' % (', '.join(unknown), ', '.join(cls.FIELDS)))
        return cls(**fields)


def misspelled_variables(names, known, internal=()):
    """(name, the role variable it most likely means) for every dov_* name that is not a role
    variable but looks like one: Ansible ignores a variable nobody reads, so a typo in an inventory
    (dov_isuer) would silently run with the default."""
    found = []
    for name in sorted(names):
        if name.startswith('dov_') and name not in known and name not in internal:
            close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.85)
            if close:
                found.append((name, close[0]))
    return found


def _comparable(value):
    """A text that is the same for equal values (to validate each distinct value once)."""
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):     # keys that do not sort together
        return repr(value)


def _odd_keys(value):
    """The keys that are not text in ``value`` and the dicts and lists it holds."""
    if isinstance(value, dict):
        found = [key for key in value if not isinstance(key, str)]
        return found + [key for item in value.values() for key in _odd_keys(item)]
    if isinstance(value, (list, tuple)):
        return [key for item in value for key in _odd_keys(item)]
    return []


def check_role_variables(options, values_by_host, entry_point='main'):
    """Ansible's role argument check (meta/argument_specs.yml), done once for every host of the run
    instead of as one validation task per host: ``options`` is the entry point's spec,
    ``values_by_host`` {host: {variable: value}} what each host sees of the role's variables.
    Each distinct value of a variable is validated once (most come from the group ``all`` and are
    the same on every host). Refuses, naming the hosts and the variables, when a value does not
    fit the specification."""
    validators, seen, problems = {}, {}, {}
    for host in sorted(values_by_host):
        values = values_by_host[host]
        for name, spec in sorted(options.items()):
            if name not in values:
                found = ['missing required arguments: %s' % name] if spec.get('required') else []
            else:
                key = (name, _comparable(values[name]))
                if key not in seen:
                    validator = validators.setdefault(name, ArgumentSpecValidator({name: spec}))
                    try:
                        seen[key] = validator.validate({name: values[name]}).error_messages
                    except (TypeError, ValueError, AttributeError):   # ansible-core's validator on a non-text key
                        odd = _odd_keys(values[name])
                        if not odd:
                            raise
                        seen[key] = ['%s has a key that is not text (%s); quote every key in the inventory'
                                     % (name, ', '.join(sorted(repr(item) for item in odd)))]
                found = seen[key]
            for message in found:
                problems.setdefault(message, []).append(host)
    if problems:
        raise DovError("The role's variables do not fit its specification (meta/argument_specs.yml, entry point %s): %s. "
                       "Correct them in the inventory (ansible-doc -t role vlaanderen.dov.dov_cert lists every variable)."
                       % (entry_point, '; '.join('%s (host %s)' % (message, ', '.join(hosts))
                                                 for message, hosts in sorted(problems.items()))))


def check_controller_files(files):
    """Refuse controller files (``{variable: path}``) that are set but do not exist."""
    for variable, path in sorted(files.items()):
        if path and not os.path.isfile(os.path.expanduser(str(path))):
            raise DovError("%s %s does not exist on the controller. Give the PEM file with the CA certificates, or "
                           "leave %s empty." % (variable, path, variable))


def read_text(path):
    data = fsutil.read_bytes(os.path.expanduser(str(path))) if path else None
    return data.decode('ascii', 'replace') if data else None


# ---------------------------------------------------------------- access requests

def write_requests(inventory, state_dir, organisation, smtp, send, check_mode):
    """The access-request mail of every application that still waits for a CN (once all its
    environments have one, the request has done its job). Returns (changed, {application:
    record}, messages)."""
    changed, requests, messages = False, {}, []
    for name in sorted(inventory.applications):
        app = inventory.applications[name]
        if all(inventory.pairs[pair_key(name, env)].common_name for env in app.get('environments') or {}
               if pair_key(name, env) in inventory.pairs):
            continue
        request = accessmail.AccessRequest(
            organisation=organisation.get('name'), organisation_id_type=organisation.get('id_type'),
            organisation_id=organisation.get('id'), application=name, description=app.get('description'),
            contact_email=organisation.get('contact_email'), environments=sorted(app.get('environments') or {}),
            contact_name=organisation.get('contact_name'), sender=smtp.get('sender'))
        dest = os.path.join(state_dir, name, 'access-request.eml')
        eml = request.eml
        if fsutil.read_bytes(dest) != eml:
            changed = True
            if not check_mode:
                fsutil.ensure_dir(os.path.dirname(dest), 0o700)
                fsutil.atomic_write(dest, eml, mode=0o644)
        requests[name] = {'dest': dest, 'organisation_id': request.organisation_id}
        if send and smtp.get('host'):
            server = accessmail.SmtpServer(smtp.get('host'), smtp.get('port'), smtp.get('starttls', True),
                                           smtp.get('username'), smtp.get('password'), smtp.get('ca_bundle'))
            sent = sendrecord.send_once(dest, eml, server, check_mode=check_mode)
            requests[name].update(sent=sent['sent'], sent_at=sent['sent_at'])
            if sent['sent'] or (check_mode and sent['would_send']):
                changed = True
                messages.append('%s: the access request was sent to %s.' % (name, cn.MELDPUNT))
    return changed, requests, messages


# ---------------------------------------------------------------- the hosts' entries

def install_options(entry, defaults):
    options = {'formats': list(entry.get('formats') or ['pem'])}
    # Passwords are not in here: they go to the host module directly (no_log), never into a
    # registered result that -v would show.
    for name in ('pkcs12_profile', 'keystore_alias', 'mode'):
        value = entry.get(name, defaults.get(name))
        if value:
            options[name] = value
    return options


def host_entry(pair, host, entry, holder, certificate, defaults):
    """What the host_certificates module gets for one of a host's certificates."""
    prepared = {
        'application': pair.application,
        'environment': pair.environment,
        'common_name': pair.common_name,
        'cn_policy': pair.cn_policy,
        'dest_dir': entry['dest_dir'],
        'key_holder': host == holder,
        'install': install_options(entry, defaults),
    }
    for name in ('privatekey_path', 'owner', 'group', 'notify', 'files'):
        if entry.get(name):
            prepared[name] = entry[name]
    for name in ('key_type', 'key_size', 'curve', 'subject'):
        value = entry.get(name, defaults.get(name))
        if value:
            prepared[name] = value
    if certificate:
        prepared['certificate'] = certificate
    return prepared


def absent_entry(pair, host, entry, defaults):
    """What the host_certificates prepare call gets for an entry with ``state: absent``."""
    prepared = host_entry(pair, host, entry, None, None, defaults)
    prepared.update(common_name=pair.common_name or '', state='absent', force=bool(entry.get('force')))
    if pair.retired:
        prepared['retired'] = True      # its files go after the revocation (offboard.removals)
    return prepared


def check_settings(pair, template, endpoints, health_path=cn.DEFAULT_HEALTH_PATH):
    """The mTLS check of a pair's hosts (None without verification): the template (timeout,
    server trust, proxy) with the URL of the pair's environment and application's health path."""
    if template is None:
        return None
    url = cn.endpoint(pair.environment, endpoints)
    return dict(template, url=url.rstrip('/') + '/' + (pair.health_path or health_path).lstrip('/'))


def plan_hosts(inventory, state_dir, status, play_hosts, defaults):
    """Per pair: hosts, key holder (a ``PairInfo``, returned as its dict); per host: the entries of its prepare call.

    The key holder is the recorded one, else the first live host of the pair; the issue step
    corrects that from what the hosts report when status.json was lost.
    """
    hosts = dict((host, []) for host in play_hosts)
    pairs = {}
    messages = []
    for key in sorted(inventory.pairs):
        pair = inventory.pairs[key]
        names = [host for host, _entry in pair.hosts]
        info = PairInfo(application=pair.application, environment=pair.environment, common_name=pair.common_name,
                        hosts=names, holder=None, state=None, messages=[])
        pairs[key] = info
        for host, entry in pair.absent:
            if host in hosts:
                hosts[host].append(absent_entry(pair, host, entry, defaults))
        if pair.retired:
            # Taken off every host (all its entries are state: absent); the issue step hands over the revocation.
            info.update(state='retired', hosts=[], retired_hosts=[host for host, _entry in pair.absent])
            continue
        if not pair.common_name:
            info.state = 'waiting_for_cn'
            info.messages.append(
                "%s: no CN yet. Send %s to %s and put the CN DOV sends back in "
                "dov_applications (%s -> environments -> %s -> cn)."
                % (key, os.path.join(state_dir, pair.application, 'access-request.eml'), cn.MELDPUNT, pair.application,
                   pair.environment))
            continue
        if not names:
            del pairs[key]
            messages.append("%s has a CN but no host lists it in dov_certificates; nothing to do for it." % key)
            continue
        recorded = (status['pairs'].get(key) or {}).get('key_holder')
        live = [host for host in names if host in play_hosts]
        if not live:
            del pairs[key]      # none of its hosts is in this run (--limit): it keeps its state
            continue
        if recorded in names and recorded not in play_hosts:
            # (--limit) Electing another holder would make a new key and certificate: wait for the holder.
            del pairs[key]
            messages.append("%s: its key holder %s is not in this run (--limit?); the pair is left as it was."
                            % (key, recorded))
            continue
        holder = recorded if recorded in live else live[0]
        info.holder = holder
        certificate = statefolder.stored_certificate(state_dir, pair.application, pair.environment)
        for host, entry in pair.hosts:
            if host in hosts:
                hosts[host].append(host_entry(pair, host, entry, holder, certificate, defaults))
    return dict((key, info.to_dict()) for key, info in pairs.items()), hosts, messages


def verify_entries(pairs, hosts):
    """verify.yml: every entry checks what is installed; nothing is made or handed over."""
    for host in hosts:
        hosts[host] = [entry for entry in hosts[host] if entry.get('state') != 'absent']
        for entry in hosts[host]:
            entry.pop('certificate', None)
            entry['key_holder'] = False
            entry['check'] = pairs[pair_key(entry['application'], entry['environment'])].get('check_settings')
    return hosts


def check_template(options, lab):
    """The check settings every pair shares (None without dov_verify): timeout, server trust, proxy."""
    if not options['verify']:
        return None
    template = {'timeout': float(options['check_timeout'])}
    bundle = options.get('server_ca_bundle') or lab.get('server_ca_bundle')
    if bundle:
        template['ca_bundle_pem'] = read_text(bundle)
    if options.get('proxy'):
        template['proxy'] = options['proxy']
    return template


def check_only(inventory, only):
    """Refuse a ``dov_only`` that names no pair of the inventory (before anything is written)."""
    if only and only not in inventory.pairs:
        raise DovError("dov_only is %r, which is not an application/environment pair of the inventory. Use one of: %s."
                       % (only, ', '.join(sorted(inventory.pairs)) or 'none (dov_applications is empty)'))


def renewal_scope(pairs, hosts, only=None, force=False, new_key=True, before_days=validity.DEFAULT_RENEW_BEFORE_DAYS):
    """renew.yml: keep only the pair ``only`` (when given; the others are left as they are, their
    status untouched), and ask the key holder of every pair left to stage its renewal when it is due
    (rollover.stage_renewal decides on the host, from the installed certificate)."""
    if only:
        for key in [key for key in pairs if key != only]:
            del pairs[key]
        for host in hosts:
            hosts[host] = [entry for entry in hosts[host] if pair_key(entry['application'], entry['environment']) == only]
    for entries in hosts.values():
        for entry in entries:
            if entry.get('key_holder'):
                entry['renew'] = {'before_days': int(before_days), 'force': bool(force), 'new_key': bool(new_key)}
    return pairs, hosts


def takes_lock(mode, check_mode):
    """Whether the plan step takes the state folder's lock: not for report.yml, not in check mode."""
    return mode != 'status' and not check_mode


def plan_step(inventory, state_dir, play_hosts, options, check_mode, lock):
    """The whole plan step after the inventory was validated: controller files checked, the lock
    taken (``takes_lock``), access requests, pairs and prepare entries. When anything fails after
    the lock was taken, the lock is released before the error goes on. The action then starts the
    lab stand-in (lab only: labstandin.for_plan) and adds each pair's check (``add_checks``)."""
    check_controller_files({'dov_ca_bundle': options.get('ca_bundle'),
                            'dov_server_ca_bundle': options.get('server_ca_bundle')})
    mode = options['mode']
    if mode == 'renew':
        check_only(inventory, options.get('only'))
    status = statefolder.load_status(state_dir)
    locked = takes_lock(mode, check_mode)
    if locked:
        lock.acquire(timeout=options['lock_timeout'])
    try:
        changed, requests, messages = (False, {}, []) if mode == 'status' else write_requests(
            inventory, state_dir, options.get('organisation') or {}, options.get('smtp') or {},
            options['send_requests'], check_mode)
        pairs, hosts, notes = plan_hosts(inventory, state_dir, status, play_hosts, options.get('defaults') or {})
        messages.extend(notes)
        if mode == 'renew':
            renewal_scope(pairs, hosts, options.get('only'), options.get('force_renew'), options.get('renew_key', True),
                          options.get('renew_before_days', validity.DEFAULT_RENEW_BEFORE_DAYS))
        for info in pairs.values():
            messages.extend(info['messages'])
    except Exception:
        if locked:
            lock.release()
        raise
    # ``state_folder``: which controller and state folder the run works on. The hosts' lock (hostlock.py)
    # takes over a lease of an earlier run with the same one: the state folder's lock says that run is over.
    return {'changed': changed, 'pairs': pairs, 'hosts': hosts, 'requests': requests, 'lab': {}, 'run': uuid.uuid4().hex,
            'state_folder': '%s:%s' % (socket.gethostname(), os.path.realpath(state_dir)),
            'messages': messages, 'msg': '\n'.join(messages) or 'Inventory checked; %d pair(s).' % len(pairs)}


def add_checks(outcome, inventory, options, lab):
    """The plan step's end: each pair's check settings (the lab stand-in's endpoints and server CA,
    ``lab``, where the options give none) and, for verify.yml, the entries that only check."""
    outcome['lab'] = lab
    template = check_template(options, lab)
    endpoints = dict(options.get('endpoints') or {})
    for environment, url in (lab.get('endpoints') or {}).items():
        endpoints.setdefault(environment, url)
    for key, info in outcome['pairs'].items():
        info['check_settings'] = check_settings(inventory.pairs[key], template, endpoints,
                                                options.get('health_path') or cn.DEFAULT_HEALTH_PATH)
    if options['mode'] == 'verify':
        verify_entries(outcome['pairs'], outcome['hosts'])
    return outcome
