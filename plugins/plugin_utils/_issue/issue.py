# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The issue step: after the prepare calls, one certificate per pair, and who gets it.

The hosts are the truth. For each pair the first good certificate of these is taken:

1. ``environments.<env>.certificate_file`` from the inventory (refused, with the reason, when
   it is not for the pair's key, CN, client use, CA bundle or is expired);
2. the certificate kept in the state folder (a cache);
3. a certificate installed on one of the pair's hosts (reported by the prepare phase): adopted
   as it is, byte-identical, also when it was installed by hand before the collection;
4. a new one from the issuer (``issuers.issue``).

Inputs: the inventory, the plan's ``pairs``, each host's prepare results, the state folder.
Output (in each pair): ``state`` when decided, ``certificate`` (description), ``messages``,
``install`` ([(host, needs_key)]: hosts that run the install phase) and ``check`` ([host]:
hosts whose files are right but whose check is due). ``deliveries`` turns that into the entries
of the install and verify calls; ``step_result`` makes the step's task result.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import installed
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issuers
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover, statefolder, states
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run.plan import PairInfo, host_entry

CLOCK_SKEW = 300    # seconds a freshly issued certificate may start in the future


class KeyMismatch(DovError):
    """No certificate of a candidate is for the pair's key: ``found`` holds what the file has, so
    that the issue step can say what it is instead (plugin_utils/candidates.py)."""

    def __init__(self, message, found):
        DovError.__init__(self, message)
        self.found = found


def failure(step, message, path=None, host=None):
    """One entry of a pair's ``failures``: what failed this run (``step``), why, and the file."""
    return {'host': host, 'step': step, 'message': message, 'file': path}


def check_for_key(data, key_fingerprint, common_name, ca_certs, source, now=None, whose="this pair's key", notes=None):
    """Every check of a certificate for a pair: it parses (PEM, DER or PKCS#7), one of its
    certificates is for the key with ``key_fingerprint``, has the CN, allows client
    authentication, is valid now (a few minutes of clock skew allowed) and chains to ``ca_certs``.
    Returns (PEM of leaf + chain, description); raises DovError naming the problem (KeyMismatch
    when no certificate is for the key). A file with several client certificates adds to ``notes``
    which one was taken."""
    found = certload.load_certificates(data, source)
    leaf = next((cert for cert in found if pki.public_key_fingerprint(cert.public_key()) == key_fingerprint), None)
    if leaf is None:
        leaf = certs.pick_leaf(found)[0]
        raise KeyMismatch("%s was issued for another key (its public key SHA-256 is %s, %s is %s). Upload the CSR "
                          "of this pair in VO-DCBaaS and use the certificate that comes back."
                          % (source, pki.public_key_fingerprint(leaf.public_key()), whose, key_fingerprint), found)
    others = [cert for cert in found if cert is not leaf]
    leaves = [cert for cert in found if not certs.is_ca(cert)]
    if notes is not None and len(leaves) > 1:
        notes.append('%s holds %d client certificates; took the certificate %s (serial %s), the one for %s.'
                     % (source, len(leaves), certs.label(leaf), certs.serial_hex(leaf), whose))
    certs.check_common_name(leaf, common_name)
    certs.check_client_auth(leaf)
    now = now or validity.utcnow()
    start = compat.not_valid_before(leaf)
    if now < start <= now + datetime.timedelta(seconds=CLOCK_SKEW):
        now = start     # just issued by a CA whose clock is a little ahead: not a reason to refuse
    certs.check_validity(leaf, now)
    chain = certs.build_chain(leaf, others, ca_certs, now)
    return certload.dump_pem([leaf] + chain).decode('ascii'), certs.describe_certificate(leaf, now)


def check_issued(data, csr_pem, common_name, ca_certs, source, now=None, notes=None):
    """check_for_key with the CSR's key."""
    key = pki.load_csr(csr_pem.encode('ascii')).public_key()
    return check_for_key(data, pki.public_key_fingerprint(key), common_name, ca_certs, source, now, "the CSR's",
                         notes)


def _stored(stored, key_fingerprint, common_name, now):
    """The cached certificate's description when it is for this key and CN, else None."""
    try:
        leaf = certload.load_certificates(stored.encode('ascii'), 'the stored certificate')[0]
    except DovError:
        return None
    if pki.public_key_fingerprint(leaf.public_key()) == key_fingerprint and pki.common_names(leaf.subject) == [common_name]:
        return certs.describe_certificate(leaf, now)
    return None


def adopt(pair, results, order, ca_certs, now, messages):
    """The first good certificate installed on the pair's hosts (``order``: the holder first):
    (host, PEM, description), or None. Each one that cannot be adopted is named with why."""
    for host in order:
        result = results.get(host) or {}
        if not result.get('installed_pem') or not result.get('key_fingerprint'):
            continue
        try:
            pem, described = check_for_key(result['installed_pem'].encode('ascii'), result['key_fingerprint'],
                                           pair.common_name, ca_certs, 'The certificate installed in %s on %s'
                                           % (result.get('dest_dir'), host), now, "the key beside it")
        except DovError as error:
            messages.append('%s: the certificate in %s on %s is not adopted, so a new one is needed (its files stay as '
                            'they are until then): %s' % (pair.key, result.get('dest_dir'), host, error))
            continue
        return host, pem, described
    return None


def issue_pairs(inventory, pairs, prepared, state_dir, issuer, ca_bundle=None, command=None,
                allow_productie=False, renew=False, check_mode=False, now=None,
                previous_states=None, verify=True, timeout=issuers.DEFAULT_TIMEOUT, explain=None):
    """Decide each pair's certificate (see the module doc) and which hosts install or check it.
    ``pairs``: the plan step's (key -> a ``plan.PairInfo``'s dict), updated in place; the work is
    done on ``PairInfo`` objects. ``prepared`` maps host -> its prepare results; ``previous_states``:
    pair key -> its record in status.json (states.verdict_on_record says when it spares a check).
    ``explain`` (the controller's candidates.Explainer.explain) names what a candidate that fits no
    key of its pair is. A pair that fails gets ``failures`` (see ``failure``). Returns changed (a
    certificate was issued, or a handover folder written)."""
    infos = dict((key, PairInfo.from_dict(info)) for key, info in pairs.items())
    try:
        return _issue_each(inventory, infos, prepared, state_dir, issuer, ca_bundle, command, allow_productie, renew,
                           check_mode, now, previous_states or {}, verify, timeout, explain)
    finally:
        for key, info in infos.items():
            pairs[key].clear()
            pairs[key].update(info.to_dict())


def _issue_each(inventory, infos, prepared, state_dir, issuer, ca_bundle, command, allow_productie, renew,
                check_mode, now, previous_states, verify, timeout, explain):
    changed = False
    # ``now`` (tests) stays None otherwise: each check reads the clock when it runs, after a slow issuer.
    ca_certs = certload.load_ca_bundle(fsutil.read_bytes(ca_bundle), ca_bundle) if ca_bundle else None
    for key in sorted(infos):
        info = infos[key]
        info.install, info.check = [], []
        if not info.has('failures'):
            info.failures = []
        if info.state == 'waiting_for_cn':
            continue
        pair = inventory.pairs[key]
        results = dict((host, _find(prepared.get(host), pair)) for host in info.hosts)
        errors = ['%s: %s' % (host, result['error']) for host, result in sorted(results.items())
                  if result and result.get('error')]
        if errors or not results.get(info.holder):
            info.state = 'failed'
            info.messages += errors or ['%s: no host of this pair could be reached to make its key.' % key]
            info.failures += [failure('prepare', result['error'], result.get('dest_dir'), host)
                              for host, result in sorted(results.items()) if result and result.get('error')] or [
                failure('prepare', 'No host of this pair could be reached to make its key.', host=info.holder)]
            continue
        if renew and results[info.holder].get('staged'):
            changed = renew_pair(info, pair, results, state_dir, issuer, command, allow_productie, ca_certs,
                                 check_mode, now, timeout, explain) or changed
            continue
        fingerprint = results[info.holder].get('key_fingerprint')
        planned = statefolder.stored_certificate(state_dir, pair.application, pair.environment)
        chosen, source = None, None
        if pair.certificate_file:
            what, notes = 'certificate_file %s' % pair.certificate_file, []
            try:
                chosen = check_for_key(fsutil.read_bytes(pair.certificate_file), fingerprint, pair.common_name,
                                       ca_certs, what, now, notes=notes)
                info.messages += ['%s: %s' % (key, note) for note in notes]
            except DovError as error:
                message = _explained(error, explain, pair, fingerprint, what, '%s on %s' % (
                    results[info.holder].get('csr_path'), info.holder), now)
                info.state = 'failed'
                info.messages.append('%s: %s Nothing was installed. The hosts keep their files.' % (key, message))
                info.failures.append(failure('certificate_file', message, pair.certificate_file))
                continue
            source = 'certificate_file'
        current = _stored(planned, fingerprint, pair.common_name, now) if planned and not chosen else None
        fresher = current is not None and _fresher_in_inbox(issuer, state_dir, pair, previous_states.get(key))
        if current is not None and current['days_left'] > 0 and not fresher:
            chosen, source = (planned, current), 'stored'
        if fresher:
            # The cached certificate failed last run and a newer download waits in the inbox: that
            # one is checked (and the failed one, also where a host still holds it, is not taken).
            planned = None
        if chosen is None and not fresher:
            order = [info.holder] + [host for host in info.hosts if host != info.holder]
            found = adopt(pair, results, order, ca_certs, now, info.messages)
            if found is not None:
                if found[0] != info.holder and results[found[0]]['key_fingerprint'] != fingerprint:
                    info.holder = found[0]       # the key is where the working certificate is
                    fingerprint = results[found[0]]['key_fingerprint']
                chosen, source = found[1:], 'hosts'
        if chosen is None:
            chosen, touched = _issue(info, pair, results, state_dir, issuer, command, allow_productie, ca_certs,
                                     check_mode, now, timeout, explain)
            changed = changed or touched
            if chosen is None:
                continue
            source, changed = 'issuer', True
            info.messages.append(info.take('issued_from_message'))
            info.take('issued_from')
        pem, described = chosen
        before = results[info.holder].get('installed')
        if before and before.get('fingerprint_sha256') != described['fingerprint_sha256']:
            info.live_certificate = before       # what the hosts keep if every install fails (states.held_certificate)
        if not check_mode and pem != planned:
            statefolder.store_certificate(state_dir, pair.application, pair.environment, pem)
        info.certificate = described
        info.certificate_pem = pem
        info.source = source
        _deliver(info, results, fingerprint, pem, planned,
                 verify and not states.verdict_on_record(previous_states.get(key), described, info.hosts))
    return changed


def _explained(error, explain, pair, fingerprint, source, csr_where, now):
    """The message of a refused candidate: what it is instead (``explain``) when it fits no key."""
    if explain is not None and isinstance(error, KeyMismatch):
        return explain(error.found, pair, fingerprint, source, csr_where, now)
    return str(error)


def _fresher_in_inbox(issuer, state_dir, pair, previous):
    """Whether the pair failed last run (``previous``: its record in status.json) and the manual
    inbox holds a file newer than the cached certificate: a fresher candidate wins over a cached one
    that failed."""
    if issuer != 'manual' or (previous or {}).get('state') != 'failed':
        return False
    newest = handover.newest(state_dir, pair.application, pair.environment)
    try:
        cached = os.stat(statefolder.certificate_path(state_dir, pair.application, pair.environment)).st_mtime_ns
    except OSError:
        return newest is not None
    return newest is not None and newest[0] > cached


def renew_pair(info, pair, results, state_dir, issuer, command, allow_productie, ca_certs, check_mode, now, timeout,
               explain=None):
    """renew.yml, for a pair whose key holder staged a renewal (rollover.stage_renewal): a new
    certificate from the issuer for the staged CSR, checked against the STAGED key; when it passes,
    every host of the pair installs it with the staged key as one set (``info.renewal``), checks
    and rolls back on failure. While the issuer has none yet (manual) the pair is
    ``renewal_pending``; the live pair keeps serving and the staged key stays where it is. Returns
    whether something was issued or written in the state folder."""
    key, holder = pair.key, info.holder
    staged = results[holder]['staged']
    live = results[holder].get('installed') or {}
    info.certificate = live
    info.staged_key = '%s on %s' % (staged['key_path'], holder) if staged['new_key'] else None
    what = 'a new key' if staged['new_key'] else 'the live key'
    if check_mode:
        info.state = 'renewal_due'
        info.messages.append('%s: would be renewed with %s (%s days left); a certificate would be requested from '
                             'the %s issuer.' % (key, what, live.get('days_left'), issuer))
        return False
    earlier = issued_before(state_dir, pair, staged['key_fingerprint'], results, ca_certs, now, live)
    if earlier is not None:
        pem, described, where = earlier
        info.messages.append('%s: the renewed certificate %s for the staged key was issued by an earlier run (%s); it '
                             'is installed now, without asking the issuer again.' % (key, described['serial'], where))
        return _renewal_install(info, pair, results, state_dir, staged, holder, pem, described)
    try:
        outcome = issuers.issue(issuer, state_dir, pair.application, pair.environment, pair.common_name, staged['csr'],
                                command=command, allow_productie=allow_productie, timeout=timeout, renewal=True)
    except DovError as error:
        info.state = 'failed'
        info.messages.append('%s: the renewal failed: %s The live certificate keeps serving.' % (key, error))
        info.failures.append(failure('issuer', str(error)))
        return False
    waiting = ('%s: the staged key %s waits for its certificate; the live certificate keeps serving (%s days left).'
               % (key, info.staged_key or staged['key_path'], live.get('days_left')))
    if not outcome.issued:
        info.state = 'renewal_pending'
        info.messages += [outcome.message, waiting,
                          '%s: the CSR to upload (also %s on %s):\n%s'
                          % (key, staged['csr_path'], holder, staged['csr'].strip())]
        return outcome.changed
    bundle = ca_certs
    if bundle is None and outcome.ca_bundle:
        bundle = certload.load_ca_bundle(fsutil.read_bytes(outcome.ca_bundle), outcome.ca_bundle)
    try:
        pem, described = check_for_key(outcome.certificate, staged['key_fingerprint'], pair.common_name, bundle,
                                       'The renewed certificate from %s' % outcome.source, now, 'the staged key')
    except DovError as error:
        error = _explained(error, explain, pair, staged['key_fingerprint'], 'The renewed certificate from %s'
                           % outcome.source, '%s on %s' % (staged['csr_path'], holder), now)
        info.state = 'failed'
        info.failures.append(failure('inbox' if outcome.path else 'issuer', error, outcome.path))
        hint = ' Remove %s and drop the right certificate in the inbox.' % outcome.path if outcome.path else ''
        info.messages.append('%s: the renewal failed: %s%s The live certificate keeps serving; the staged key %s stays '
                             'for the next run.' % (key, error, hint, info.staged_key or staged['key_path']))
        return outcome.changed
    if described['fingerprint_sha256'] == live.get('fingerprint_sha256'):
        info.state = 'renewal_pending'       # the live certificate again (same key): still waiting
        info.messages.append(waiting)
        return outcome.changed
    info.messages.append(outcome.message)
    return _renewal_install(info, pair, results, state_dir, staged, holder, pem, described)


def _renewal_install(info, pair, results, state_dir, staged, holder, pem, described):
    """The renewed certificate goes to every host of the pair with the staged key, as one set."""
    statefolder.store_certificate(state_dir, pair.application, pair.environment, pem)
    info.update(live_certificate=info.certificate, certificate=described, certificate_pem=pem, source='issuer',
                staged_key=None, renewal={'key_path': staged['key_path'], 'new_key': staged['new_key']})
    info.install = [(host, staged['new_key'] and host != holder) for host in info.hosts if host in results]
    return True


def issued_before(state_dir, pair, key_fingerprint, results, ca_certs, now, live):
    """A good certificate for the staged key that an earlier, interrupted run already got (kept in
    the state folder, or installed on a host of the pair that received the staged key before the
    run died): (PEM, description, where), or None. It is used instead of asking the issuer again,
    which would certify the same key twice (and leave one certificate unused and unrevoked)."""
    found = []
    stored = statefolder.stored_certificate(state_dir, pair.application, pair.environment)
    if stored:
        found.append((stored.encode('ascii'), 'kept in the state folder'))
    for host, result in sorted(results.items()):
        if result and result.get('installed_pem') and result.get('key_fingerprint') == key_fingerprint:
            found.append((result['installed_pem'].encode('ascii'), 'installed on %s' % host))
    for data, where in found:
        try:
            pem, described = check_for_key(data, key_fingerprint, pair.common_name, ca_certs, 'The certificate %s' % where,
                                           now, 'the staged key')
        except DovError:
            continue
        if described['fingerprint_sha256'] != (live or {}).get('fingerprint_sha256'):
            return pem, described, where
    return None


def _issue(info, pair, results, state_dir, issuer, command, allow_productie, ca_certs, check_mode, now, timeout,
           explain=None):
    """A new certificate from the issuer for the holder's CSR: ((PEM, description) or None with
    the pair's state and message set (waiting, failed, or what check mode would do), whether the
    issuer wrote something in the state folder (a handover folder))."""
    key = pair.key
    if check_mode:
        info.state = 'waiting_for_certificate'
        info.messages.append('%s: a certificate would be requested from the %s issuer.' % (key, issuer))
        return None, False
    csr_pem = results[info.holder].get('csr')
    if not csr_pem:
        info.state = 'failed'
        info.messages.append('%s: the key holder %s has no CSR. Run again.' % (key, info.holder))
        info.failures.append(failure('prepare', 'The key holder has no CSR. Run again.', host=info.holder))
        return None, False
    try:
        outcome = issuers.issue(issuer, state_dir, pair.application, pair.environment, pair.common_name, csr_pem,
                                command=command, allow_productie=allow_productie, timeout=timeout)
    except DovError as error:
        info.state = 'failed'
        info.messages.append('%s: %s' % (key, error))
        info.failures.append(failure('issuer', str(error)))
        return None, False
    if not outcome.issued:
        info.state = 'waiting_for_certificate'
        info.messages.append(outcome.message)
        # The CSR is public: printed, so that a runner whose files are thrown away still hands it over.
        info.messages.append('%s: the CSR to upload (also %s on %s):\n%s'
                             % (key, results[info.holder].get('csr_path'), info.holder, csr_pem.strip()))
        return None, outcome.changed
    bundle = ca_certs
    if bundle is None and outcome.ca_bundle:
        bundle = certload.load_ca_bundle(fsutil.read_bytes(outcome.ca_bundle), outcome.ca_bundle)
    source = 'The certificate from %s' % outcome.source
    try:
        notes = []
        issued = check_issued(outcome.certificate, csr_pem, pair.common_name, bundle, source, now, notes)
    except DovError as error:
        csr_where = (os.path.join(handover.pair_folder(state_dir, pair.application, pair.environment), handover.CSR_FILE)
                     if issuer == 'manual' else '%s on %s' % (results[info.holder].get('csr_path'), info.holder))
        message = _explained(error, explain, pair, results[info.holder].get('key_fingerprint'), source, csr_where, now)
        info.state = 'failed'
        hint = ' Remove %s and drop the right certificate in the inbox.' % outcome.path if outcome.path else ''
        info.messages.append('%s: %s%s' % (key, message, hint))
        info.failures.append(failure('inbox' if outcome.path else 'issuer', message, outcome.path))
        return None, outcome.changed
    info.issued_from, info.issued_from_message = outcome.source, outcome.message
    info.messages += ['%s: %s' % (key, note) for note in notes]
    return issued, True


def _deliver(info, results, fingerprint, pem, planned, recheck):
    """Which hosts install (a file is not as it should be) and which only check (state unknown or
    not good last run). A host that has this certificate and key is left as it is.

    When the hosts were prepared with this very certificate (``planned``), their ``converged``
    says whether every file is exactly as asked; else (a lost cache, an adoption) the installed
    certificate's fingerprint and the presence of every format's file do."""
    wanted = info.certificate['fingerprint_sha256']
    for host in info.hosts:
        result = results.get(host)
        if result is None:
            continue
        needs_key = result.get('key_fingerprint') != fingerprint
        if planned == pem:
            good = result.get('converged')
        else:
            good = (result.get('installed') or {}).get('fingerprint_sha256') == wanted and result.get('complete')
        if needs_key or not good:
            info.install.append((host, needs_key))
        elif recheck:
            info.check.append(host)


def _find(results, pair):
    for result in results or []:
        if result.get('application') == pair.application and result.get('environment') == pair.environment:
            return result
    return None


def deliveries(inventory, pairs, defaults):
    """The install calls' entries per host (a host whose certificate is good as it is gets its
    check there too, ``verify_only``: one host_certificates call per host), and the key
    transfers, from issue_pairs."""
    install, keys = {}, []
    for key, data in sorted(pairs.items()):
        info = PairInfo.from_dict(data)
        pair = inventory.pairs[key]
        entries = dict(pair.hosts)
        renewal = info.take('renewal')
        for host, needs_key in info.take('install') or []:
            entry = host_entry(pair, host, entries[host], info.holder, info.certificate_pem, defaults)
            entry.pop('key_holder', None)
            if info.check_settings:
                entry['check'] = info.check_settings
            if renewal and host == info.holder:
                entry['staged_key' if renewal['new_key'] else 'renewed'] = True
            if renewal and len(info.hosts) > 1:
                entry['keep_previous'] = True   # until every host of the pair passed its check (settle_renewals)
            if needs_key:
                holder_key = renewal['key_path'] if renewal else installed.paths(entries[info.holder])[0]
                keys.append({'host': host, 'pair': key, 'holder': info.holder, 'key_path': holder_key})
                entry['shared_key'] = key
            install.setdefault(host, []).append(entry)
        for host in info.take('check') or []:
            if info.check_settings:
                entry = host_entry(pair, host, entries[host], None, None, defaults)
                entry.update(key_holder=False, check=info.check_settings, verify_only=True)
                install.setdefault(host, []).append(entry)
        info.take('certificate_pem')
        data.clear()
        data.update(info.to_dict())     # the pair as the step result carries it, without what was delivered
    return install, keys


def step_result(pairs, retired, install, keys, changed):
    """The issue step's task result: ``pairs`` (those issued for, then the ``retired`` ones), the
    install calls' entries and the key transfers of ``deliveries``, whether any entry is a renewal
    that keeps the previous pair (``renewals``) and every pair's messages."""
    pairs.update(retired)
    messages = [message for info in pairs.values() for message in info['messages']]
    renewals = any(entry.get('keep_previous') for entries in install.values() for entry in entries)
    return {'changed': changed, 'pairs': pairs, 'install': install, 'key_transfers': keys,
            'renewals': renewals,
            'messages': messages, 'msg': '\n'.join(messages) or 'Nothing to issue.'}


SETTLE_KEYS = ('application', 'environment', 'common_name', 'cn_policy', 'dest_dir', 'privatekey_path', 'files', 'install',
               'staged_key', 'renewed', 'notify')


def settle_renewals(install, results, live):
    """After the install phase of renew.yml: for each renewed pair installed on several hosts
    (entries with ``keep_previous``), ``commit`` on every host when each of them installed it and
    passed its check, else ``restore`` the previous pair on every host that is still there (the
    renewal is all hosts or none). ``install``: the issue step's {host: [entries]}; ``results``:
    {host: [install results]} of the live hosts. Returns {'hosts': {host: [settle entries]},
    'restored': [pair keys], 'messages': {pair key: [message]}}."""
    pairs = {}
    for host, entries in sorted((install or {}).items()):
        for entry in entries:
            if entry.get('keep_previous'):
                pairs.setdefault('%s/%s' % (entry['application'], entry['environment']), []).append((host, entry))
    hosts, restored, messages = {}, [], {}
    for key, members in sorted(pairs.items()):
        failed = []
        for host, entry in members:
            found = [result for result in results.get(host) or [] if (result.get('application'), result.get('environment'))
                     == (entry['application'], entry['environment'])] if host in live else []
            if not found or found[0].get('error'):
                failed.append(host)
        action = 'restore' if failed else 'commit'
        for host, entry in members:
            if host in live:
                settled = dict((name, entry[name]) for name in SETTLE_KEYS if name in entry)
                settled['settle'] = action
                hosts.setdefault(host, []).append(settled)
        if failed:
            restored.append(key)
            messages[key] = ['%s: the renewal failed on %s, so the previous key and certificate were put back on every host '
                             'of the pair (%s); the staged key stays for the next run.'
                             % (key, ', '.join(failed), ', '.join(host for host, _entry in members if host in live))]
    return {'hosts': hosts, 'restored': restored, 'messages': messages}
