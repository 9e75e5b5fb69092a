# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of the onboarding flow, as plain functions (the role's action plugin
calls them in-process, so none of this costs a module execution).

- ``Inventory`` validates what the user wrote (organisation, applications, each host's
  ``dov_certificates``) and cross-checks it, all before anything changes.
- ``plan_hosts`` decides, per application/environment pair, the hosts, the key holder and
  what each host's ``host_certificates`` prepare call gets.
- ``issue_pairs`` turns the holders' CSRs into certificates with the chosen issuer, checks them
  against the CSR's key, the CN, the usage, the validity and the CA bundle, keeps them in the
  state folder, and says which hosts need an install and which need the shared key.
- ``report`` turns all of it into one state per pair, ``status.json`` and a table.
- ``Lock`` keeps two runs off one state folder.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import json
import os
import socket
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils import certs, cn, fsutil, issuers, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

STATES = ('waiting_for_cn', 'waiting_for_certificate', 'installed', 'verified', 'renewal_due', 'failed')
WAITING = ('waiting_for_cn', 'waiting_for_certificate')
FORMATS = ('pem', 'pkcs12', 'jks')
STATUS_FILE = 'status.json'
LOCK_FILE = '.lock'
CERTIFICATE_FILE = 'certificate.pem'
CLOCK_SKEW = 300    # seconds a freshly issued certificate may start in the future


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def pair_key(application, environment):
    return '%s/%s' % (application, environment)


def pair_folder(state_dir, application, environment):
    return os.path.join(state_dir, application, environment)


# ---------------------------------------------------------------- the inventory

class Pair(object):
    """One application/environment: one CN, one key, one certificate, one or more hosts."""

    def __init__(self, application, environment, common_name, description, cn_policy):
        self.application = application
        self.environment = environment
        self.common_name = common_name
        self.description = description
        self.cn_policy = cn_policy
        self.hosts = []          # [(host, entry)]

    @property
    def key(self):
        return pair_key(self.application, self.environment)


class Inventory(object):
    """The validated inventory. Raises DovError listing every problem found."""

    def __init__(self, organisation, applications, host_certificates, cn_policy='strict'):
        problems = []
        self.organisation = organisation or {}
        self.applications = {}
        self.pairs = {}
        if not isinstance(applications, list) or not applications:
            raise DovError("dov_applications is empty. List the applications that call DOV, each with its "
                           "environments, e.g. [{name: Geodrill, environments: {oefen: {}}}].")
        seen_cns = {}
        for number, app in enumerate(applications, 1):
            name = (app or {}).get('name') if isinstance(app, dict) else None
            if not name or not str(name).strip():
                problems.append("dov_applications item %d has no name. Give each application a name." % number)
                continue
            if name in self.applications:
                problems.append("The application %r is listed twice in dov_applications. List it once, with all its "
                                "environments." % name)
                continue
            self.applications[name] = app
            environments = app.get('environments') or {}
            if not isinstance(environments, dict) or not environments:
                problems.append("The application %r has no environments. Give e.g. environments: {oefen: {}}." % name)
                continue
            for environment, settings in environments.items():
                settings = settings or {}
                try:
                    cn.check_environment(environment, cn.REQUESTABLE_ENVIRONMENTS)
                except DovError as error:
                    problems.append("Application %r: %s" % (name, error))
                    continue
                common_name = settings.get('cn')
                policy = settings.get('cn_policy') or cn_policy
                if common_name:
                    try:
                        parts = cn.cn_parts(common_name, policy)
                        if policy == 'strict' and parts['environment'] != environment:
                            problems.append(
                                "The CN %r is listed under %s/%s, but its environment part is %r. Put it under %r, "
                                "or correct the CN to the one DOV sent for %s."
                                % (common_name, name, environment, parts['environment'], parts['environment'],
                                   environment))
                    except DovError as error:
                        problems.append("Application %r, environment %s: %s" % (name, environment, error))
                    other = seen_cns.get(common_name.rstrip('/'))
                    if other:
                        problems.append("The CN %r is given for both %s and %s/%s. Each application/environment has "
                                        "its own certificate and CN." % (common_name, other, name, environment))
                    seen_cns[common_name.rstrip('/')] = pair_key(name, environment)
                self.pairs[pair_key(name, environment)] = Pair(name, environment, common_name,
                                                               app.get('description'), policy)
        for host in host_certificates:
            entries = host_certificates[host]
            if entries is None:
                continue
            if not isinstance(entries, list):
                problems.append("Host %s: dov_certificates must be a list of {application, environment, dest_dir}." % host)
                continue
            seen = set()
            used_dirs = {}
            for entry in entries:
                if not isinstance(entry, dict):
                    problems.append("Host %s: each dov_certificates item is a dict with application, environment and "
                                    "dest_dir." % host)
                    continue
                application, environment = entry.get('application'), entry.get('environment')
                key = pair_key(application, environment)
                if application not in self.applications:
                    problems.append("Host %s names the application %r, which is not in dov_applications (%s). Add it "
                                    "there, or correct the name." % (host, application, ', '.join(sorted(self.applications))))
                    continue
                if key not in self.pairs:
                    problems.append("Host %s names %s, but the application %r has no environment %r in "
                                    "dov_applications. Add it there, or correct the environment."
                                    % (host, key, application, environment))
                    continue
                if key in seen:
                    problems.append("Host %s lists %s twice. One certificate per application/environment and host." % (host, key))
                    continue
                seen.add(key)
                dest_dir = entry.get('dest_dir')
                if dest_dir in used_dirs:
                    problems.append("Host %s: %s and %s both use dest_dir %s. Each certificate needs its own folder "
                                    "(they would share one key.pem and overwrite each other's files)."
                                    % (host, used_dirs[dest_dir], key, dest_dir))
                    continue
                used_dirs[dest_dir] = key
                if not dest_dir or not os.path.isabs(str(dest_dir)):
                    problems.append("Host %s, %s: dest_dir %r is not an absolute path. Give the folder where the "
                                    "application reads its certificate, e.g. /opt/%s/dov."
                                    % (host, key, dest_dir, str(application).lower()))
                    continue
                formats = entry.get('formats') or ['pem']
                unknown = [f for f in formats if f not in FORMATS]
                if unknown:
                    problems.append("Host %s, %s: unknown format(s) %s. Use pem, pkcs12 and/or jks."
                                    % (host, key, ', '.join(map(str, unknown))))
                    continue
                self.pairs[key].hosts.append((host, entry))
        if problems:
            raise DovError('The inventory has %d problem(s); nothing was changed:\n- %s'
                           % (len(problems), '\n- '.join(problems)))


# ---------------------------------------------------------------- status.json

def load_status(state_dir):
    data = fsutil.read_bytes(os.path.join(state_dir, STATUS_FILE))
    if not data:
        return {'pairs': {}}
    try:
        status = json.loads(data.decode('utf-8'))
    except ValueError:
        raise DovError("%s is not valid JSON. Move it away (the next run writes a new one) or restore it."
                       % os.path.join(state_dir, STATUS_FILE))
    if not isinstance(status, dict) or not isinstance(status.get('pairs', {}), dict):
        raise DovError("%s does not hold a status (a JSON object with 'pairs'). Move it away (the next run writes "
                       "a new one) or restore it." % os.path.join(state_dir, STATUS_FILE))
    status.setdefault('pairs', {})
    return status


def write_status(state_dir, status):
    data = (json.dumps(status, indent=2, sort_keys=True) + '\n').encode('utf-8')
    path = os.path.join(state_dir, STATUS_FILE)
    if fsutil.read_bytes(path) == data:
        return False
    fsutil.ensure_dir(state_dir, 0o700)
    fsutil.atomic_write(path, data, mode=0o644)
    return True


# ---------------------------------------------------------------- the lock

class Lock(object):
    """``<state_dir>/.lock`` while a run works on the state folder.

    A second run waits up to ``timeout`` seconds, then stops with a message naming the holder.
    A lock left by a run that is gone (same machine, process no longer alive) is taken over.
    """

    def __init__(self, state_dir, owner):
        self.path = os.path.join(state_dir, LOCK_FILE)
        self.owner = owner

    def _read(self):
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return None

    def _alive(self, info):
        if not info:
            # Being written this very moment, or left empty by a crash: give it a minute.
            try:
                return time.time() - os.stat(self.path).st_mtime < 60
            except OSError:
                return False
        if info.get('host') != socket.gethostname():
            return True
        try:
            os.kill(int(info.get('pid')), 0)
        except (OSError, ValueError, TypeError) as error:
            return getattr(error, 'errno', None) == errno.EPERM
        return True

    def acquire(self, timeout=0, poll=0.5):
        fsutil.ensure_dir(os.path.dirname(self.path), 0o700)
        deadline = time.time() + max(0, timeout)
        while True:
            try:
                descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except OSError as error:
                if error.errno != errno.EEXIST:
                    raise
                info = self._read()
                if info and info.get('run') == self.owner.get('run'):
                    return 'held'
                if not self._alive(info):
                    os.unlink(self.path)
                    continue
                if time.time() >= deadline:
                    raise DovError(
                        "Another run is working on %s (pid %s on %s, started %s; lock file %s). Wait for it to finish "
                        "(or set dov_lock_timeout to wait), or remove the lock file if that run is gone."
                        % (os.path.dirname(self.path), (info or {}).get('pid'), (info or {}).get('host'),
                           (info or {}).get('started'), self.path))
                time.sleep(poll)
                continue
            with os.fdopen(descriptor, 'w') as handle:
                json.dump(self.owner, handle)
            return 'acquired'

    def release(self):
        info = self._read()
        if info and info.get('run') == self.owner.get('run'):
            os.unlink(self.path)
            return True
        return False


# ---------------------------------------------------------------- plan

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
    for name in ('privatekey_path', 'owner', 'group', 'notify'):
        if entry.get(name):
            prepared[name] = entry[name]
    for name in ('key_type', 'key_size', 'curve', 'subject'):
        value = entry.get(name, defaults.get(name))
        if value:
            prepared[name] = value
    if certificate:
        prepared['certificate'] = certificate
    return prepared


def install_options(entry, defaults):
    options = {'formats': list(entry.get('formats') or ['pem'])}
    # Passwords are not in here: they go to the host module directly (no_log), never into a
    # registered result that -v would show.
    for name in ('pkcs12_profile', 'keystore_alias', 'mode'):
        value = entry.get(name, defaults.get(name))
        if value:
            options[name] = value
    if defaults.get('ca_bundle_remote'):
        options['ca_bundle'] = defaults['ca_bundle_remote']
    return options


def stored_certificate(state_dir, pair):
    """The certificate kept for the pair in the state folder (PEM text), or None."""
    data = fsutil.read_bytes(os.path.join(pair_folder(state_dir, pair.application, pair.environment), CERTIFICATE_FILE))
    return data.decode('ascii') if data else None


def plan_hosts(inventory, state_dir, status, play_hosts, defaults):
    """Per pair: hosts, key holder; per host: the entries of its prepare call."""
    hosts = dict((host, []) for host in play_hosts)
    pairs = {}
    messages = []
    for key in sorted(inventory.pairs):
        pair = inventory.pairs[key]
        names = [host for host, _entry in pair.hosts]
        info = {'application': pair.application, 'environment': pair.environment, 'common_name': pair.common_name,
                'hosts': names, 'holder': None, 'state': None, 'messages': []}
        pairs[key] = info
        if not pair.common_name:
            info['state'] = 'waiting_for_cn'
            info['messages'].append(
                "%s: no CN yet. Send %s to meldpunt@dov.vlaanderen.be and put the CN DOV sends back in "
                "dov_applications (%s -> environments -> %s -> cn)."
                % (key, os.path.join(state_dir, pair.application, 'access-request.eml'), pair.application,
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
        if recorded in names and recorded not in play_hosts and live:
            # (--limit) Electing another holder would make a new key and certificate: wait for the holder.
            del pairs[key]
            messages.append("%s: its key holder %s is not in this run (--limit?); the pair is left as it was."
                            % (key, recorded))
            continue
        holder = recorded if recorded in live else (live[0] if live else None)
        info['holder'] = holder
        certificate = stored_certificate(state_dir, pair)
        for host, entry in pair.hosts:
            if host in hosts:
                hosts[host].append(host_entry(pair, host, entry, holder, certificate, defaults))
    return pairs, hosts, messages


# ---------------------------------------------------------------- issue

def check_issued(data, csr_pem, common_name, ca_certs, source, now=None):
    """The controller's checks of a freshly issued certificate: it parses, is for the CSR's key,
    has the CN, allows client authentication, is valid now and chains to the CA bundle.
    Returns (PEM of leaf + chain, description)."""
    found = certs.load_certificates(data, source)
    csr_key = pki.load_csr(csr_pem.encode('ascii')).public_key()
    leaf, others = certs.pick_leaf(found, csr_key)
    have, want = certs.public_key_fingerprint(leaf.public_key()), certs.public_key_fingerprint(csr_key)
    if have != want:
        raise DovError("%s was issued for another key (its public key SHA-256 is %s, the CSR's is %s). Upload the CSR "
                       "of this pair in VO-DCBaaS and use the certificate that comes back." % (source, have, want))
    certs.check_common_name(leaf, common_name)
    certs.check_client_auth(leaf)
    now = now or certs.utcnow()
    start = certs.not_before(leaf)
    if now < start <= now + datetime.timedelta(seconds=CLOCK_SKEW):
        now = start     # just issued by a CA whose clock is a little ahead: not a reason to refuse
    certs.check_validity(leaf, now)
    chain = certs.build_chain(leaf, others, ca_certs, now)
    return certs.dump_pem([leaf] + chain).decode('ascii'), certs.describe_certificate(leaf, now)


def issue_pairs(inventory, pairs, prepared, state_dir, issuer, ca_bundle=None, command=None,
                allow_productie=False, renew_before_days=60, renew=False, check_mode=False, now=None,
                previous_states=None, verify=True):
    """After the prepare calls: get a certificate for each pair that needs one.

    ``prepared`` maps host -> the prepare result entries. Returns changed (bool). Fills each
    pair's ``state`` (when decided), ``certificate`` (description) and ``messages``; and each
    pair's ``install`` list of (host, needs_key) for hosts that must run the install phase.
    """
    changed = False
    previous_states = previous_states or {}
    ca_certs = certs.load_ca_bundle(fsutil.read_bytes(ca_bundle), ca_bundle) if ca_bundle else None
    for key in sorted(pairs):
        info = pairs[key]
        info['install'] = []
        if info['state'] == 'waiting_for_cn':
            continue
        pair = inventory.pairs[key]
        results = dict((host, _find(prepared.get(host), pair)) for host in info['hosts'])
        errors = ['%s: %s' % (host, result['error']) for host, result in sorted(results.items())
                  if result and result.get('error')]
        holder_result = results.get(info['holder'])
        if errors or not holder_result:
            info['state'] = 'failed'
            info['messages'] += errors or ['%s: no host of this pair could be reached to make its key.' % key]
            if errors:
                continue
            continue
        fingerprint = holder_result.get('key_fingerprint')
        csr_pem = holder_result.get('csr')
        folder = pair_folder(state_dir, pair.application, pair.environment)
        stored = stored_certificate(state_dir, pair)
        current = None
        if stored:
            try:
                found = certs.load_certificates(stored.encode('ascii'), 'the stored certificate')
                leaf = found[0]
                if (certs.public_key_fingerprint(leaf.public_key()) == fingerprint
                        and certs.common_names(leaf.subject) == [pair.common_name]):
                    current = certs.describe_certificate(leaf, now or certs.utcnow())
            except DovError:
                current = None
        renewing = current is not None and renew and current['days_left'] <= renew_before_days
        fresh = False
        if current is not None and current['days_left'] > 0 and not renewing:
            info['certificate'] = current
        else:
            if check_mode:
                info['state'] = 'waiting_for_certificate'
                info['messages'].append('%s: a certificate would be requested from the %s issuer.' % (key, issuer))
                continue
            try:
                outcome = issuers.issue(issuer, state_dir, pair.application, pair.environment, pair.common_name,
                                        csr_pem, command=command, allow_productie=allow_productie)
            except DovError as error:
                info['state'] = 'failed'
                info['messages'].append('%s: %s' % (key, error))
                continue
            changed = changed or outcome.changed
            if not outcome.issued:
                info['state'] = 'waiting_for_certificate'
                info['messages'].append(outcome.message)
                continue
            bundle = ca_certs
            if bundle is None and outcome.ca_bundle:
                bundle = certs.load_ca_bundle(fsutil.read_bytes(outcome.ca_bundle), outcome.ca_bundle)
            try:
                pem, described = check_issued(outcome.certificate, csr_pem, pair.common_name, bundle,
                                              'The certificate from %s' % outcome.source, now or certs.utcnow())
            except DovError as error:
                info['state'] = 'failed'
                hint = ' Remove %s and drop the right certificate in the inbox.' % outcome.path if outcome.path else ''
                info['messages'].append('%s: %s%s' % (key, error, hint))
                continue
            if renewing and pem == stored:
                info['state'] = 'waiting_for_certificate'
                info['certificate'] = current
                info['messages'].append('%s: waiting for the renewed certificate (%s still gives the current one).'
                                        % (key, outcome.source))
                continue
            if pem != stored:
                fresh = True
                fsutil.ensure_dir(folder, 0o700)
                fsutil.atomic_write(os.path.join(folder, CERTIFICATE_FILE), pem.encode('ascii'), mode=0o644)
                changed = True
                info['messages'].append(outcome.message)
            info['certificate'] = described
            stored = pem
        info['certificate_pem'] = stored
        # Hosts that are up to date skip the install phase, unless the pair failed (or has no
        # record) last time: then they install (a no-op) and check again, so that a fixed problem
        # shows as verified. 'installed' (nothing to check with, e.g. jks only) is not re-checked.
        recheck = verify and previous_states.get(key) not in ('verified', 'renewal_due', 'installed')
        for host in info['hosts']:
            result = results.get(host)
            if result is None:
                continue
            needs_key = result.get('key_fingerprint') != fingerprint
            if needs_key or fresh or not result.get('converged') or recheck:
                info['install'].append((host, needs_key))
    return changed


def _find(results, pair):
    for result in results or []:
        if result.get('application') == pair.application and result.get('environment') == pair.environment:
            return result
    return None


# ---------------------------------------------------------------- report

def pair_state(info, installed, previous, renew_before_days, verify):
    """The one state a pair ends this run in."""
    if info.get('state') in ('waiting_for_cn', 'waiting_for_certificate', 'failed'):
        return info['state']
    if any(result.get('error') for result in installed):
        return 'failed'
    days = (info.get('certificate') or {}).get('days_left')
    checks = [result.get('check') for result in installed if result.get('check')]
    if installed:
        verified = verify and len(checks) == len(installed) and all(c.get('verdict') == 'ok' for c in checks)
        state = 'verified' if verified else 'installed'
        if verified and len(installed) < len(info['hosts']):
            # some hosts were already converged: they keep what the last run found
            state = 'verified' if previous in ('verified', 'renewal_due') else 'installed'
    else:
        state = previous if previous in ('verified', 'installed', 'renewal_due') else 'installed'
        if state == 'renewal_due':
            state = 'verified'
    if state == 'verified' and days is not None and days <= renew_before_days:
        return 'renewal_due'
    return state


def verified_state(info, results, previous, renew_before_days):
    """The state after verify.yml: the checks of every host decide."""
    if info.get('state') in WAITING:
        return info['state']
    if info.get('state') == 'failed' or any(result.get('error') for result in results):
        return 'failed'
    if not results:
        return previous or 'waiting_for_certificate'
    days = min((result.get('installed') or {}).get('days_left', 0) for result in results)
    return 'renewal_due' if days <= renew_before_days else 'verified'


PAIR_HEADERS = ('application', 'environment', 'state', 'hosts', 'days left', 'verdict', 'common name')


def table(rows, headers=PAIR_HEADERS):
    lines = [headers] + [tuple('' if value is None else str(value) for value in row) for row in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(headers))]
    text = ['  '.join(value.ljust(widths[index]) for index, value in enumerate(line)).rstrip() for line in lines]
    text.insert(1, '  '.join('-' * width for width in widths))
    return text
