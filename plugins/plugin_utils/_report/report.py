# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The expiry report: urgency order, the text table, report.json, the CI threshold, who needs
attention, and the records of report.yml from the hosts. Plain functions over a list of certificate
records; controller side. The HTML page and the writing of report.json/report.html are in
``reporthtml``, the notification mail in ``reportmail``.

A certificate record is a dict, one per certificate (one application/environment pair may be on
several hosts; a pair without a certificate yet has ``None`` for the certificate fields)::

    {'application': 'Geodrill',                # the calling application, as in the CN
     'environment': 'oefen',                   # productie, oefen or ontwikkel
     'common_name': 'geolab.be/dov-services/oefen/Geodrill',
     'hosts': ['app1.geolab.be', 'app2.geolab.be'],
     'state': 'renewal_due',                   # waiting_for_cn, waiting_for_certificate, installed,
                                               # verified, renewal_due, renewal_pending, failed, retired
     'not_before': '2026-12-01T10:00:00Z',     # ISO 8601 in UTC (cert_info's), or None
     'not_after': '2026-12-21T10:00:00Z',      # ISO 8601 in UTC, or None
     'days_left': 19,                          # whole days, negative once expired, or None
     'fingerprint_sha256': 'AB:CD:...',        # or None
     'issuer': 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE',   # or None
     'verdict': 'ok',                          # the last mTLS check's verdict, or None
     'checked_at': '2026-12-01T19:00:00Z'}     # when that check ran, or None

Missing keys are read as None (``hosts`` as an empty list). Nothing here writes a file or
opens a connection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state.states import STATES, WAITING

UTC = datetime.timezone.utc
DAY = 86400
URGENT_DAYS = 30  # VO-DCBaaS mails its first reminder a month before expiry
FIELDS = ('application', 'environment', 'common_name', 'hosts', 'state', 'not_before', 'not_after', 'days_left',
          'fingerprint_sha256', 'issuer', 'verdict', 'checked_at', 'problems', 'failures')


def _record(record):
    """``record`` with every field present (None, hosts []), nothing else changed."""
    full = dict((name, record.get(name)) for name in FIELDS)
    full['hosts'] = list(record.get('hosts') or [])
    full['problems'] = list(record.get('problems') or [])
    full['failures'] = list(record.get('failures') or [])
    return full


def parse(value):
    """An aware datetime of ISO 8601 text (``...Z``), or None."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip().replace('Z', '+00:00')
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise DovError("The date %r in the report is not ISO 8601. Give it as 2026-12-21T10:00:00Z." % (value,))


def date_of(value):
    """``'2026-12-21T10:00:00Z'`` -> ``'2026-12-21'``; None -> None."""
    moment = parse(value)
    return moment.astimezone(UTC).strftime('%Y-%m-%d') if moment else None


def name_of(record):
    """How a certificate is named in messages: its CN and where it is."""
    return "'%s' (%s/%s%s)" % (record.get('common_name') or '(no certificate yet)', record.get('application'),
                               record.get('environment'),
                               ' on %s' % ', '.join(record['hosts']) if record.get('hosts') else '')


# ---------------------------------------------------------------- (a) urgency

def is_expired(record):
    return record.get('days_left') is not None and record['days_left'] < 0


def urgency(record):
    """The sort key: most urgent first.

    1. ``failed`` (the pair does not work, or its renewal failed), fewest days left first;
    2. expired certificates;
    3. every other certificate by days left, fewest first; at the same days ``renewal_due`` before
       ``renewal_pending`` (someone is on that one already) before installed/verified;
    4. the waiting states (no certificate yet, so nothing can expire, but a person has to act):
       ``waiting_for_certificate`` before ``waiting_for_cn``;
    5. ``retired`` last.
    Ties by application, environment.
    """
    state = record.get('state')
    left = record.get('days_left')
    if state == 'retired':
        tier = 5
    elif state == 'failed':
        tier = 1
    elif is_expired(record):
        tier = 2
    elif left is not None:
        tier = 3
    elif state in WAITING:
        tier = 4
    else:
        tier = 3
    within = {'renewal_due': 0, 'renewal_pending': 1, 'waiting_for_certificate': 0, 'waiting_for_cn': 1}.get(state, 2)
    return (tier, left if left is not None else float('inf'), within,
            str(record.get('application') or ''), str(record.get('environment') or ''))


def sort_by_urgency(records):
    """The records (completed with every field), most urgent first."""
    return sorted((_record(record) for record in records), key=urgency)


def severity(record, within_days=URGENT_DAYS):
    """The colour class of a record: failed, expired, urgent (fewer than ``within_days`` left), due
    (renewal_due or renewal_pending), waiting, ok, retired."""
    state = record.get('state')
    if state == 'retired':
        return 'retired'
    if state == 'failed':
        return 'failed'
    if is_expired(record):
        return 'expired'
    if record.get('days_left') is not None and record['days_left'] < within_days:
        return 'urgent'
    if state in ('renewal_due', 'renewal_pending'):
        return 'due'
    if state in WAITING or record.get('not_after') is None:
        return 'waiting'
    return 'ok'


# ---------------------------------------------------------------- (b) the text table

def table_rows(records):
    """The rows of the text table (``states.table_row``), most urgent first."""
    return [states.table_row(record) for record in sort_by_urgency(records)]


def format_table(records):
    """The table as text (``states.table``: the one table of every playbook), with a final new line."""
    return '\n'.join(states.table(table_rows(records))) + '\n'


# ---------------------------------------------------------------- (c) report.json

def summary(records):
    """How many certificates are in each state (every state listed, 0 when none)."""
    counts = dict((state, 0) for state in STATES)
    for record in records:
        counts[record.get('state') or 'unknown'] = counts.get(record.get('state') or 'unknown', 0) + 1
    return counts


def report_document(records, generated_at):
    """What report.json holds: when, how many in each state, and every certificate, most urgent first
    (each with ``not_after_date`` and its ``severity``)."""
    certificates = []
    for record in sort_by_urgency(records):
        record['not_after_date'] = date_of(record['not_after'])
        record['severity'] = severity(record)
        certificates.append(record)
    return {
        'generated_at': validity.iso(parse(generated_at) or validity.utcnow()),
        'summary': summary(certificates),
        'certificates': certificates,
    }


def report_json(records, generated_at):
    """The text of report.json (sorted keys, two-space indent, a final new line)."""
    return json.dumps(report_document(records, generated_at), indent=2, sort_keys=True) + '\n'


# ---------------------------------------------------------------- (d) dov_fail_within_days

def check_within_days(value, option='dov_fail_within_days'):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DovError("%s must be a whole number of days, 0 or more, not %r. Give for example %s=30."
                       % (option, value, option))
    return value


def expiring_within(records, days):
    """The certificates (not retired, with a date) that expire within ``days`` days - fewer than
    ``days`` whole days left, expired ones included - most urgent first."""
    check_within_days(days)
    return [record for record in sort_by_urgency(records)
            if record['state'] != 'retired' and record['days_left'] is not None and record['days_left'] < days]


def fail_within_days(records, days):
    """(failed, message): whether the play must fail for ``dov_fail_within_days=days``, and a
    message naming every certificate that expires within that many days (None when none does)."""
    found = expiring_within(records, days)
    if not found:
        return False, None
    items = ['%s %s on %s (%s)' % (name_of(record), 'expired' if is_expired(record) else 'expires',
                                   date_of(record['not_after']), _days_text(record['days_left']))
             for record in found]
    message = ("%d certificate%s expire%s within %d days: %s. Renew %s with playbooks/renew.yml (a new certificate "
               "in VO-DCBaaS), or lower dov_fail_within_days."
               % (len(found), '' if len(found) == 1 else 's', 's' if len(found) == 1 else '', days, '; '.join(items),
                  'it' if len(found) == 1 else 'them'))
    return True, message


def _days_text(days):
    if days < 0:
        return '%d days ago' % -days
    return '%d day%s left' % (days, '' if days == 1 else 's')


# ---------------------------------------------------------------- (e) who needs attention (what the notification lists)

def needs_attention(records, within_days=None):
    """(record, reason in English, reason in Dutch) for every certificate that needs a person:
    failed, expired, renewal_due, renewal_pending, or (with ``within_days``) expiring within that
    many days. Most urgent first; retired and healthy ones are not listed."""
    if within_days is not None:
        check_within_days(within_days, 'the notification threshold')
    found = []
    for record in sort_by_urgency(records):
        state, days, date = record['state'], record['days_left'], date_of(record['not_after'])
        if state == 'retired':
            continue
        if state == 'failed':
            reason = ('failed%s' % (': %s' % record['verdict'] if record['verdict'] else ''),
                      'mislukt%s' % (': %s' % record['verdict'] if record['verdict'] else ''))
        elif is_expired(record):
            reason = ('expired on %s' % date, 'verlopen op %s' % date)
        elif state == 'renewal_due':
            reason = ('renewal due: expires on %s, %d days left' % (date, days),
                      'vernieuwing nodig: verloopt op %s, nog %d dagen' % (date, days))
        elif state == 'renewal_pending':
            reason = ('renewal pending (the new certificate is awaited from VO-DCBaaS): expires on %s, %d days left'
                      % (date, days),
                      'vernieuwing aangevraagd (het nieuwe certificaat wordt verwacht uit VO-DCBaaS): verloopt op %s, '
                      'nog %d dagen' % (date, days))
        elif within_days is not None and days is not None and days < within_days:
            reason = ('expires within %d days: on %s, %d days left' % (within_days, date, days),
                      'verloopt binnen %d dagen: op %s, nog %d dagen' % (within_days, date, days))
        else:
            continue
        found.append((record, reason[0], reason[1]))
    return found


# ---------------------------------------------------------------- (f) from the hosts: report.yml

def within_days_option(value, option='dov_fail_within_days'):
    """The threshold as given on the command line (``-e dov_fail_within_days=60`` is text) or in an
    inventory: None when unset or empty, else a whole number of days (``check_within_days``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return check_within_days(value, option)


def reported_state(info, previous, earliest, problems, renew_before_days):
    """A pair's state in report.yml (``states.decide_state``) from what its hosts hold now
    (``earliest``: the certificate that expires first, ``problems``), and the last run's record for
    what the hosts cannot tell (whether the last check passed, a renewal waiting on VO-DCBaaS)."""
    same = previous.get('fingerprint_sha256') == earliest.get('fingerprint_sha256')
    return states.decide_state(
        earliest.get('days_left'), renew_before_days,
        # retired: taken off its hosts, no longer checked or alerted on
        standing=info.get('state') if info.get('state') in ('waiting_for_cn', 'retired') else None,
        # nothing on the hosts: still failed when the last run failed before any certificate (a wrong download)
        failed=bool(problems) or (not earliest and previous.get('state') == 'failed' and not previous.get('fingerprint_sha256')),
        held=bool(earliest),
        carried=previous['state'] if previous.get('state') in ('failed', 'renewal_pending') and same else None,
        verified=same and previous.get('verdict') == 'ok')


def pair_records(pairs, results, status, renew_before_days, live_hosts=None):
    """One report record per pair (see the top of this module) from the hosts' ``report`` phase
    results ``{host: [entry results]}`` and the recorded status (``{'pairs': {}}`` when the state
    folder is gone). The pair's certificate is the one that expires first on its hosts; ``hosts``
    are the hosts that hold one (all the pair's hosts while none does). A host that reported a
    problem, or did not answer, makes the pair ``failed``, with the problem in ``problems``."""
    records = []
    for key in sorted(pairs):
        info = pairs[key]
        previous = (status.get('pairs') or {}).get(key) or {}
        found, problems, failures = [], [], []
        for host in info.get('hosts') or []:
            if live_hosts is not None and host not in live_hosts:
                problems.append('%s: the host failed or was unreachable.' % host)
                failures.append({'host': host, 'step': 'connection', 'message': 'The host failed or was unreachable.',
                                 'file': None})
                continue
            for result in results.get(host) or []:
                if (result.get('application'), result.get('environment')) != (info['application'], info['environment']):
                    continue
                if result.get('error'):
                    problems.append('%s: %s' % (host, result['error']))
                    failures.append({'host': host, 'step': 'report', 'message': result['error'],
                                     'file': result.get('dest_dir')})
                if result.get('installed'):
                    found.append((host, result['installed']))
        earliest = min((installed for _host, installed in found), key=lambda item: item.get('not_after') or '',
                       default={})
        fingerprints = set(installed.get('fingerprint_sha256') for _host, installed in found)
        if len(fingerprints) > 1:
            problems.append('the hosts hold %d different certificates; run onboard.yml to give them the same one.'
                            % len(fingerprints))
        state = reported_state(info, previous, earliest, problems, renew_before_days)
        if state == 'failed' and not problems:
            # failed in the last onboard run and nothing changed since: its reasons, from status.json
            failures = list(previous.get('failures') or []) or [
                {'host': None, 'step': 'onboard', 'file': None,
                 'message': ' '.join(previous.get('messages') or []) or 'The last run failed for this pair.'}]
            problems = ['%s (last run, %s): %s' % (item.get('host') or 'controller', item.get('step'), item.get('message'))
                        for item in failures]
        if state == 'retired' and not earliest:
            earliest = dict((name, previous.get(name)) for name in ('not_after', 'days_left', 'fingerprint_sha256')
                            if previous.get(name) is not None)   # the last certificate it had, for the record
        records.append({
            'application': info['application'], 'environment': info['environment'],
            'common_name': earliest.get('common_name') or info.get('common_name'),
            'hosts': [host for host, _installed in found] or list(info.get('hosts') or []),
            'state': state,
            'not_before': earliest.get('not_before'), 'not_after': earliest.get('not_after'),
            'days_left': earliest.get('days_left'), 'fingerprint_sha256': earliest.get('fingerprint_sha256'),
            'issuer': earliest.get('issuer'),
            'verdict': _verdict(state, failures, previous.get('verdict') if earliest and previous.get(
                'fingerprint_sha256') == earliest.get('fingerprint_sha256') else None),
            'checked_at': previous.get('checked_at') or previous.get('updated_at') if previous.get('verdict') else None,
            'problems': problems,
            'failures': failures if state == 'failed' else [],
        })
    return records


def _verdict(state, failures, verdict):
    """The verdict shown for a pair: never ``ok`` beside a failure (the check's verdict or the failing step)."""
    if state != 'failed' or not failures or (verdict and verdict != 'ok'):
        return verdict
    return failures[0].get('verdict') or '%s failed' % failures[0].get('step')


def failure_lines(record):
    """Where and why a failed record failed, one line per host and problem."""
    return ['%s%s: %s' % (item.get('host') or 'controller', (', %s' % item['step']) if item.get('step') else '',
                          item.get('message')) for item in record.get('failures') or []]


def failure_message(records, within_days=None, strict=False):
    """Why report.yml fails, or None: the failed pairs, with ``strict`` the waiting ones, and with
    ``within_days`` every certificate that expires within that many days (``fail_within_days``)."""
    ordered = sort_by_urgency(records)
    parts = []
    failed = ['%s/%s' % (record['application'], record['environment']) for record in ordered if record['state'] == 'failed']
    if failed:
        reasons = ['%s/%s on %s' % (record['application'], record['environment'], line)
                   for record in ordered if record['state'] == 'failed' for line in failure_lines(record)]
        parts.append('Failed: %s%s' % (', '.join(failed), (' - %s' % ' | '.join(reasons)) if reasons else '.'))
    waiting = ['%s/%s' % (record['application'], record['environment']) for record in ordered
               if record['state'] in WAITING]
    if strict and waiting:
        parts.append('Waiting (dov_strict): %s.' % ', '.join(waiting))
    if within_days is not None:
        expiring, message = fail_within_days(records, within_days)
        if expiring:
            parts.append(message)
    return ' '.join(parts) or None
