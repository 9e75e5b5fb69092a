# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""A pair's states, the one rule that decides its state, status.json's records and the table.

``STATES`` in their order; ``decide_state`` is the one rule of a pair's state, for every playbook:
the onboard and renew runs (``pair_state``), verify.yml (``verified_state``) and report.yml
(``report.reported_state``) only gather its evidence. ``table`` / ``table_row`` print the pairs'
table of every playbook, in one column order (``TABLE_HEADER``).

``report`` takes the pairs (from the issue step, or the plan for verify.yml / report.yml),
the recorded status (possibly empty: a lost cache), and what each host's install, check or
verify call returned; it gives each pair one state, the new status records and the table lines.
status.json is the run's record, a cache of what the hosts said: writing it is not a change on a
managed system.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity

STATES = ('waiting_for_cn', 'waiting_for_certificate', 'installed', 'verified', 'renewal_due', 'renewal_pending', 'failed',
          'retired')
WAITING = ('waiting_for_cn', 'waiting_for_certificate')
# A state the onboard and renew runs keep as the issue step (or a lost host) set it.
STANDING = WAITING + ('renewal_pending', 'failed', 'retired')
# Waiting on someone else: green, red only with dov_strict. A pending renewal's live pair keeps serving.
WAITING_RUN = WAITING + ('renewal_pending',)
QUIET = ('updated_at', 'messages')      # this run's notes: replaced, without counting as a change


def verdict_on_record(record, certificate, hosts):
    """Whether status.json's record of a pair may stand for this run's check of hosts whose files
    are right (a re-run that skips the check). status.json is a cache, never a verdict: it only
    saves a check that a run made, so the record must say that a check passed (``verified`` or
    ``renewal_due`` with the verdict ``ok``) for exactly this certificate (``certificate``: the
    one the hosts hold now) on exactly these ``hosts``. ``installed`` (a run with dov_verify: false
    never checked it), another certificate, other hosts, or a record that does not hang together
    (a state edited by hand without its verdict) is checked again."""
    if not isinstance(record, dict) or not certificate:
        return False
    return (record.get('state') in ('verified', 'renewal_due') and record.get('verdict') == 'ok'
            and bool(record.get('fingerprint_sha256'))
            and record.get('fingerprint_sha256') == certificate.get('fingerprint_sha256')
            and sorted(record.get('hosts') or []) == sorted(hosts or []))


def held_certificate(info, found):
    """The certificate the pair's hosts hold after this run, for status.json: the one the issue
    step chose, except when no host kept it - settle put the previous pair back on every host
    (``restored``), or every host of the pair failed its install and put its previous files back
    (``rolled_back``) - where it is the one they held before (``live_certificate``, set by the
    issue step when it chose another). A run never records as current a certificate that no host
    holds (it stays in the state folder's cache, for the next run to install)."""
    if 'live_certificate' in info:
        hosts = set(info.get('hosts') or [])
        rolled = set(result['host'] for result in found if result.get('error') and result.get('rolled_back'))
        if info.get('restored') or (hosts and rolled >= hosts):
            return info.get('live_certificate') or {}
    return info.get('certificate') or {}


def decide_state(days_left, renew_before_days, standing=None, failed=False, held=True, carried=None, verified=False):
    """The one rule of a pair's state, whatever the playbook; the callers gather the evidence.

    In this order: a ``standing`` state stays (waiting, retired, a pending renewal, a failure
    earlier in the run); a ``failed`` host or step makes the pair ``failed``; no certificate on its
    hosts (not ``held``) is ``waiting_for_certificate``; a state ``carried`` over from the last run
    stays; a certificate in the renewal window (``validity.in_renewal_window``: ``days_left`` at
    most ``renew_before_days``, expired included) is ``renewal_due`` - renew.yml renews it, checked
    or not; else ``verified`` when its check passed, ``installed`` when it was not checked."""
    if standing:
        return standing
    if failed:
        return 'failed'
    if not held:
        return 'waiting_for_certificate'
    if carried:
        return carried
    if validity.in_renewal_window(days_left, renew_before_days):
        return 'renewal_due'
    return 'verified' if verified else 'installed'


def pair_state(info, installed, previous, renew_before_days, verify):
    """The state a pair ends an onboard or renew run in (``decide_state``), from the issue step's
    ``info``, this run's ``installed`` results of its hosts and its ``previous`` state."""
    standing = info.get('state') if info.get('state') in STANDING else None
    if info.get('state') == 'renewal_due' and not installed:
        standing = 'renewal_due'    # --check of renew.yml: it would be renewed
    if installed:
        checks = [result.get('check') for result in installed if result.get('check')]
        verified = verify and len(checks) == len(installed) and all(c.get('verdict') == 'ok' for c in checks)
        if verified and len(installed) < len(info['hosts']):
            # some hosts were already converged: they keep what the last run found
            verified = previous in ('verified', 'renewal_due')
    else:
        verified = previous in ('verified', 'renewal_due')     # nothing to do on the hosts: as the last run found
    return decide_state((info.get('certificate') or {}).get('days_left'), renew_before_days, standing=standing,
                        failed=any(result.get('error') for result in installed), verified=verified)


def verified_state(info, results, previous, renew_before_days):
    """The state after verify.yml (``decide_state``): the checks of every host decide; a pair none
    of whose hosts is in the run keeps its ``previous`` state."""
    standing = info.get('state') if info.get('state') in WAITING + ('retired',) else None
    failed = info.get('state') == 'failed' or any(result.get('error') for result in results)
    days = min((result.get('installed') or {}).get('days_left', 0) for result in results) if results else None
    return decide_state(days, renew_before_days, standing=standing, failed=failed,
                        carried=None if results else previous or 'waiting_for_certificate', verified=True)


TABLE_HEADER = ('application', 'environment', 'CN', 'hosts', 'state', 'not after', 'days left', 'last verdict')


def expiry_date(not_after):
    """The date of an ISO 8601 not_after (``2031-05-04T10:00:00Z`` -> ``2031-05-04``), for the table."""
    return str(not_after)[:10] if not_after else None


def table_row(record):
    """A pair's row of the table (``TABLE_HEADER``) from its record (status.json's or report.yml's):
    every cell text, the hosts by name, not_after as a date, ``-`` for nothing."""
    days = record.get('days_left')
    return (str(record.get('application') or '-'), str(record.get('environment') or '-'),
            str(record.get('common_name') or '-'), ', '.join(record.get('hosts') or []) or '-',
            str(record.get('state') or '-'), expiry_date(record.get('not_after')) or '-',
            '-' if days is None else str(days), str(record.get('verdict') or '-'))


def table(rows, headers=TABLE_HEADER):
    """The lines of a table: the header, a rule, the rows; columns aligned, None shown as blank."""
    lines = [headers] + [tuple('' if value is None else str(value) for value in row) for row in rows]
    widths = [max(len(line[index]) for line in lines) for index in range(len(headers))]
    text = ['  '.join(value.ljust(widths[index]) for index, value in enumerate(line)).rstrip() for line in lines]
    text.insert(1, '  '.join('-' * width for width in widths))
    return text


def _host_results(info, results, in_run, live):
    """This pair's results of the hosts in the run, and the hosts lost this run."""
    found, lost = [], []
    for host in info.get('hosts') or []:
        if host not in in_run:
            continue        # not in this run (--limit): it keeps what it has
        if host not in live:
            lost.append(host)
            continue
        for result in results.get(host) or []:
            if (result.get('application'), result.get('environment')) == (info['application'], info['environment']):
                found.append(dict(result, host=host))
    return found, lost


def host_failures(found, lost, lost_reasons, mode):
    """What failed this run on the pair's hosts, one entry per host and problem: ``host``, ``step``
    (prepare, install, check, verify, or ``connection`` for a host that failed or was unreachable),
    ``message``, ``file`` (the dest_dir), and ``verdict`` for a failed mTLS check."""
    failures = [{'host': host, 'step': 'connection', 'file': None,
                 'message': (lost_reasons or {}).get(host) or 'The host failed or was unreachable this run.'}
                for host in lost]
    for result in found:
        if not result.get('error'):
            continue
        check = result.get('check') or {}
        step = mode if mode in ('verify', 'settle') else 'install'
        entry = {'host': result['host'], 'step': step, 'message': result['error'], 'file': result.get('dest_dir')}
        if check.get('verdict') and check['verdict'] != 'ok':
            entry.update(step='check', verdict=check['verdict'])
        failures.append(entry)
    return failures


def failing_step(failures):
    """What the verdict column shows for a failed pair: the check's verdict, else '<step> failed'."""
    first = failures[0]
    return first.get('verdict') or '%s failed' % first['step']


def failure_line(failure):
    """One failure as the run's last message says it: where, the step, why (and the file)."""
    where = 'On %s' % failure['host'] if failure.get('host') else 'On the controller'
    named = failure.get('file') and failure['file'] not in failure['message']
    return '%s, %s: %s%s' % (where, failure['step'], failure['message'].rstrip(), (' (%s)' % failure['file']) if named else '')


def record(info, state, certificate, checks, previous, now, failures=()):
    """The status.json record of a pair; its ``messages`` and ``failures`` are this run's (never a
    stale one), ``updated_at`` changes only when something else did."""
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
        'hint': last.get('hint') if last else previous.get('hint'),
        'messages': info.get('messages') or [],
        'updated_at': previous.get('updated_at'),
    }
    if info.get('staged_key'):
        entry['staged_key'] = info['staged_key']     # a renewal's new key, waiting for its certificate
    if state == 'retired':
        entry.update(verdict=None, hint=None)      # no longer checked
    if state == 'failed':
        entry['failures'] = list(failures)      # only a failed pair has them (none is "nothing failed")
    if state == 'failed' and failures and (not last or last.get('verdict') == 'ok'):
        # never "ok" beside a failure: the failing step (or the check's verdict) and its reason
        entry.update(verdict=failing_step(failures), hint=failures[0]['message'])
    if dict((k, v) for k, v in entry.items() if k not in QUIET) == dict((k, v) for k, v in previous.items() if k not in QUIET):
        return entry
    entry['updated_at'] = now
    return entry


def report(pairs, status, results, in_run, live, mode, renew_before_days, verify, now, lost_reasons=None, strict=False):
    """Each pair's state into ``status`` (changed in place); returns the rest of the outcome:
    table, lost_hosts, states, failed_pairs, waiting_pairs, host_errors, messages, and ``blame``
    (the run's live hosts to fail, each with the lines that say why; see ``blame``).
    ``lost_reasons``: {host: why it failed earlier in the run}."""
    host_errors, rows, host_rows, lost_hosts = {}, [], [], set()
    failures = {}
    for key in sorted(pairs):
        info = pairs[key]
        previous = status['pairs'].get(key) or {}
        if mode == 'status':
            rows.append(table_row(dict(previous, application=info['application'], environment=info['environment'],
                                       state=previous.get('state') or info.get('state') or 'unknown',
                                       hosts=info.get('hosts') or [], common_name=info.get('common_name'))))
            continue
        found, lost = _host_results(info, results, in_run, live)
        if lost:
            info['state'] = 'failed'
            info.setdefault('messages', []).extend('%s: the host failed or was unreachable this run%s' % (
                host, (': %s' % lost_reasons[host]) if (lost_reasons or {}).get(host) else '.') for host in lost)
            lost_hosts.update(lost)
        for result in found:
            info['messages'] = list(info.get('messages') or []) + [
                '%s on %s: %s' % (key, result['host'], note) for note in result.get('notes') or []]
            if result.get('error'):
                host_errors.setdefault(result['host'], []).append('%s: %s' % (key, result['error']))
            if mode == 'verify':
                host_rows.append((result['host'], info['application'], info['environment'],
                                  (result.get('check') or {}).get('verdict') or 'error',
                                  (result.get('installed') or {}).get('days_left'), result.get('error') or ''))
        certificate = held_certificate(info, found)
        if mode == 'verify':
            state = verified_state(info, found, previous.get('state'), renew_before_days)
            described = [result['installed'] for result in found if result.get('installed')]
            certificate = min(described, key=lambda item: item['days_left']) if described else {}
        else:
            state = pair_state(info, found, previous.get('state'), renew_before_days, verify)
        checks = [result['check'] for result in found if result.get('check')]
        on_hosts = host_failures(found, lost, lost_reasons, mode)
        # under the table too (a lost host's line is there already)
        info['messages'] = list(info.get('messages') or []) + ['%s: %s' % (key, failure_line(item))
                                                               for item in on_hosts if item['step'] != 'connection']
        failures[key] = list(info.get('failures') or []) + on_hosts
        if state == 'failed' and not failures[key]:
            failures[key] = [{'host': None, 'step': 'retire' if 'retired_hosts' in info else 'issue', 'file': None,
                              'message': ' '.join(info.get('messages') or []) or 'The pair failed.'}]
        status['pairs'][key] = record(info, state, certificate, checks, previous, now, failures[key])
        rows.append(table_row(status['pairs'][key]))
    states = dict((key, value['state']) for key, value in status['pairs'].items() if key in pairs)
    if mode == 'verify':
        lines = table(host_rows, ('host', 'application', 'environment', 'verdict', 'days left', 'problem'))
    else:
        lines = table(rows)
    return {'table': lines, 'lost_hosts': sorted(lost_hosts), 'states': states,
            'failed_pairs': sorted(key for key, state in states.items() if state == 'failed'),
            'waiting_pairs': sorted(key for key, state in states.items() if state in WAITING_RUN),
            'staged_keys': dict((key, status['pairs'][key]['staged_key']) for key in states
                                if status['pairs'][key].get('staged_key')),
            'host_errors': host_errors,
            'failures': dict((key, failures.get(key) or []) for key in states if states[key] == 'failed'),
            'blame': blame(pairs, states, failures, live, strict),
            # This run's notes only (status.json keeps those of the run that last changed a pair), one
            # line per item, so that a CSR prints as the lines to copy.
            'messages': [line for key in sorted(pairs) for message in pairs[key].get('messages') or []
                         for line in message.split('\n')]}


def blame(pairs, states, failures, live, strict=False):
    """{host: [lines]}: the run's live hosts that fail, each with why. A failure on a host is that
    host's; a pair that failed on the controller (a refused download, the issuer) fails the pair's
    hosts in the run, where nothing was installed; with ``strict`` a waiting pair does too. A
    healthy host is never blamed. Lines of hosts that are not live (they failed already) land in
    ``''`` (the run fails once for them, if no live host carries them)."""
    found = {}
    for key in sorted(pairs):
        hosts = [host for host in pairs[key].get('hosts') or [] if host in live]
        if states.get(key) == 'failed':
            for item in failures.get(key) or []:
                line = 'Failed: %s. %s' % (key, failure_line(item))
                targets = [item['host']] if item.get('host') else hosts
                for host in [target for target in targets if target in live] or ['']:
                    found.setdefault(host, []).append(line)
        elif strict and states.get(key) in WAITING_RUN:
            for host in hosts or ['']:
                found.setdefault(host, []).append('Waiting (dov_strict): %s.' % key)
    return found
