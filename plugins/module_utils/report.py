# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The expiry report: urgency order, the text table, report.json, report.html, the CI threshold
and the notification mail. Plain functions over a list of certificate records; controller side.

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
opens a connection: the caller writes what ``report_json`` and ``render_html`` return
(``fsutil.atomic_write``), and sends what ``notification_eml`` returns with
``accessmail.SmtpServer(...).send(eml, recipients=..., what='the certificate notification')``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import html
import json
import os
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from ansible_collections.vlaanderen.dov.plugins.module_utils import accessmail, fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

UTC = datetime.timezone.utc
DAY = 86400
STATES = ('waiting_for_cn', 'waiting_for_certificate', 'installed', 'verified', 'renewal_due', 'renewal_pending',
          'failed', 'retired')
WAITING = ('waiting_for_cn', 'waiting_for_certificate')
ATTENTION_STATES = ('failed', 'renewal_due', 'renewal_pending')
URGENT_DAYS = 30  # VO-DCBaaS mails its first reminder a month before expiry
TABLE_HEADER = ('application', 'environment', 'CN', 'hosts', 'state', 'not after', 'days left', 'last verdict')
FIELDS = ('application', 'environment', 'common_name', 'hosts', 'state', 'not_before', 'not_after', 'days_left',
          'fingerprint_sha256', 'issuer', 'verdict', 'checked_at', 'problems')


def _record(record):
    """``record`` with every field present (None, hosts []), nothing else changed."""
    full = dict((name, record.get(name)) for name in FIELDS)
    full['hosts'] = list(record.get('hosts') or [])
    full['problems'] = list(record.get('problems') or [])
    return full


def _parse(value):
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
    moment = _parse(value)
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
    """The rows of the text table, most urgent first: every cell a string, not_after as a date."""
    rows = []
    for record in sort_by_urgency(records):
        rows.append((
            str(record['application'] or '-'), str(record['environment'] or '-'), str(record['common_name'] or '-'),
            ', '.join(record['hosts']) or '-', str(record['state'] or '-'), date_of(record['not_after']) or '-',
            '-' if record['days_left'] is None else str(record['days_left']), str(record['verdict'] or '-'),
        ))
    return rows


def format_table(records):
    """The table as text, columns aligned, with a header line."""
    rows = [TABLE_HEADER] + table_rows(records)
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADER))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, '  '.join('-' * width for width in widths))
    return '\n'.join(lines) + '\n'


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
        'generated_at': _iso(generated_at),
        'summary': summary(certificates),
        'certificates': certificates,
    }


def report_json(records, generated_at):
    """The text of report.json (sorted keys, two-space indent, a final new line)."""
    return json.dumps(report_document(records, generated_at), indent=2, sort_keys=True) + '\n'


def _iso(moment):
    moment = _parse(moment) or datetime.datetime.now(UTC)
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


# ---------------------------------------------------------------- (d) report.html

COLOURS = {  # severity: (row background, accent)
    'failed': ('#fde8e8', '#b42318'),
    'expired': ('#fbe4e6', '#8e1b2b'),
    'urgent': ('#fff1e0', '#c4540f'),
    'due': ('#fff8db', '#a16207'),
    'waiting': ('#eef2f7', '#475467'),
    'ok': ('#eaf6ee', '#17803d'),
    'retired': ('#f4f4f5', '#8a8f98'),
}
LABELS = {
    'failed': 'failed', 'expired': 'expired', 'urgent': 'expires within %d days' % URGENT_DAYS,
    'due': 'renewal due or pending', 'waiting': 'no certificate yet', 'ok': 'healthy', 'retired': 'retired',
}

_CSS = '''
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 "Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2939;background:#f5f6f8}
header{background:#1f3a5f;color:#fff;padding:22px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header p{margin:4px 0 0;color:#c9d6e8;font-size:13px}
main{padding:24px 32px;max-width:1280px}
.cards{display:flex;gap:14px;flex-wrap:wrap;margin-bottom:22px}
.card{background:#fff;border-radius:8px;padding:12px 18px;min-width:150px;box-shadow:0 1px 2px rgba(16,24,40,.08);
border-top:4px solid #98a2b3}
.card strong{display:block;font-size:26px;line-height:1.2}
.card span{color:#475467;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.attention{border-top-color:#b42318}.card.healthy{border-top-color:#17803d}
section{background:#fff;border-radius:8px;box-shadow:0 1px 2px rgba(16,24,40,.08);padding:18px 20px;margin-bottom:22px}
h2{margin:0 0 12px;font-size:16px;font-weight:600}
table{border-collapse:collapse;width:100%}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#475467;
border-bottom:2px solid #d0d5dd;padding:8px 10px}
td{padding:8px 10px;border-bottom:1px solid #eaecf0;vertical-align:top}
td.cn{font-family:"DejaVu Sans Mono",Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
td.date,th{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr td:first-child{border-left:5px solid transparent}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
.legend{display:flex;gap:16px;flex-wrap:wrap;font-size:12px;color:#475467;margin-top:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:5px;vertical-align:-1px}
footer{color:#667085;font-size:12px;padding:0 32px 24px}
svg text{font-family:"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
'''


def _e(value):
    return html.escape('' if value is None else str(value), quote=True)


def _row_style(level):
    background, accent = COLOURS[level]
    return 'background:%s' % background, accent


def _table_html(certificates):
    head = ''.join('<th>%s</th>' % _e(name) for name in TABLE_HEADER)
    body = []
    for record in certificates:
        level = record['severity']
        background, accent = _row_style(level)
        days = '&ndash;' if record['days_left'] is None else _e(record['days_left'])
        body.append(
            '<tr class="%s" style="%s"><td style="border-left-color:%s">%s</td><td>%s</td><td class="cn">%s</td>'
            '<td>%s</td><td><span class="badge" style="background:%s">%s</span></td><td class="date">%s</td>'
            '<td class="num">%s</td><td>%s</td></tr>'
            % (_e(level), background, accent, _e(record['application']), _e(record['environment']),
               _e(record['common_name'] or '-').replace('/', '/<wbr>'), _e(', '.join(record['hosts']) or '-'), accent,
               _e((record['state'] or '-').replace('_', ' ')), _e(record['not_after_date'] or '-'), days,
               _e(record['verdict'] or '-')))
    return '<table><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (head, ''.join(body))


def _months(start, end):
    """Tick dates: the first of a month, every 1, 3, 6, 12 or 24 months, at most 12 ticks."""
    span = (end.year - start.year) * 12 + end.month - start.month + 1
    step = next((size for size in (1, 3, 6, 12, 24) if span / size <= 12), 48)
    year, month = start.year, start.month + 1
    ticks = []
    while True:
        if month > 12:
            year, month = year + 1, month - 12
        moment = datetime.datetime(year, month, 1, tzinfo=UTC)
        if moment > end:
            return ticks
        if (month - 1) % step == 0 and (step < 12 or month == 1) and (step <= 12 or year % (step // 12) == 0):
            ticks.append(moment)
        month += 1


def timeline_svg(certificates, now, width=1000):
    """An inline SVG: one line per certificate, a bar over its validity and a dot at not_after,
    a line for today and a band for the next 30 days; certificates without a date and retired ones are left out."""
    dated = [record for record in certificates if record.get('not_after') and record.get('state') != 'retired']
    left_gutter, right_pad, top, row = 250, 110, 44, 30
    height = top + row * max(len(dated), 1) + 30
    if not dated:
        return ('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Expiry timeline" width="%d" '
                'height="%d"><text x="10" y="30" fill="#475467">No certificate with an expiry date yet.</text></svg>'
                % (width, height))
    ends = [_parse(record['not_after']) for record in dated]
    start = min([now - datetime.timedelta(days=60)] + [end - datetime.timedelta(days=30) for end in ends])
    end = max([now + datetime.timedelta(days=365)] + [stop + datetime.timedelta(days=45) for stop in ends])
    plot = width - left_gutter - right_pad
    seconds = (end - start).total_seconds()

    def x(moment):
        return left_gutter + plot * max(0.0, min(1.0, (moment - start).total_seconds() / seconds))

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Expiry timeline of the DOV certificates" '
             'viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx">' % (width, height, width),
             '<title>Expiry timeline</title>',
             '<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#fff1e0"/>'
             % (x(now), top - 10, x(now + datetime.timedelta(days=URGENT_DAYS)) - x(now), row * len(dated) + 10)]
    for tick in _months(start, end):
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eaecf0"/>'
                     % (x(tick), top - 10, x(tick), top + row * len(dated)))
        parts.append('<text x="%.1f" y="%d" font-size="11" fill="#667085" text-anchor="middle">%s</text>'
                     % (x(tick), top - 18, _e(tick.strftime('%b %Y'))))
    for index, (record, stop) in enumerate(zip(dated, ends)):
        y = top + row * index + row / 2
        accent = COLOURS[record['severity']][1]
        begin = _parse(record.get('not_before')) or stop
        label = '%s / %s' % (record['application'], record['environment'])
        parts.append('<text x="%d" y="%.1f" font-size="12.5" fill="#1d2939" text-anchor="end" dominant-baseline="middle">'
                     '%s</text>' % (left_gutter - 12, y, _e(label if len(label) <= 34 else label[:33] + '\u2026')))
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="8" stroke-linecap="round" '
                     'opacity="0.35"/>' % (x(begin), y, x(stop), y, accent))
        parts.append('<circle cx="%.1f" cy="%.1f" r="6" fill="%s"><title>%s expires on %s</title></circle>'
                     % (x(stop), y, accent, _e(record['common_name']), _e(record['not_after_date'])))
        days = record.get('days_left')
        note = '%s (%s)' % (record['not_after_date'], 'expired' if is_expired(record) else '%s d' % days)
        flip = x(stop) > width - right_pad - 20  # near the right edge: the note goes left of the dot
        parts.append('<text x="%.1f" y="%.1f" font-size="11.5" fill="%s" dominant-baseline="middle" text-anchor="%s" '
                     'paint-order="stroke" stroke="#fff" stroke-width="3">'
                     '%s</text>' % (x(stop) + (-10 if flip else 10), y, accent, 'end' if flip else 'start', _e(note)))
    parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#1f3a5f" stroke-width="2"/>'
                 % (x(now), top - 12, x(now), top + row * len(dated)))
    parts.append('<text x="%.1f" y="%d" font-size="11.5" font-weight="600" fill="#1f3a5f" text-anchor="middle">today '
                 '%s</text>' % (x(now), top + row * len(dated) + 18, _e(now.strftime('%Y-%m-%d'))))
    parts.append('</svg>')
    return ''.join(parts)


def render_html(records, generated_at, title='DOV client certificates'):
    """report.html: one self-contained page (inline CSS and SVG, no script, no external asset) with
    summary cards, the table colour-coded most urgent first, a legend, and the expiry timeline.
    Every text from the records is HTML-escaped."""
    document = report_document(records, generated_at)
    certificates = document['certificates']
    now = _parse(document['generated_at'])
    attention = sum(1 for record in certificates if record['severity'] in ('failed', 'expired', 'urgent', 'due'))
    healthy = sum(1 for record in certificates if record['severity'] == 'ok')
    waiting = sum(1 for record in certificates if record['severity'] == 'waiting')
    legend = ''.join('<span><i style="background:%s"></i>%s</span>' % (COLOURS[level][1], _e(LABELS[level]))
                     for level in ('failed', 'expired', 'urgent', 'due', 'waiting', 'ok', 'retired'))
    cards = ''.join('<div class="card %s"><strong>%d</strong><span>%s</span></div>' % (css, count, _e(text)) for css, count, text in (
        ('attention', attention, 'need attention'), ('healthy', healthy, 'healthy'), ('', waiting, 'waiting'),
        ('', len(certificates), 'certificates')))
    return ''.join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<title>%s &ndash; expiry report</title><style>%s</style></head><body>' % (_e(title), _CSS),
        '<header><h1>%s &ndash; expiry report</h1><p>Read from the hosts on %s UTC &middot; most urgent first</p></header>'
        % (_e(title), _e(document['generated_at'].replace('T', ' ').rstrip('Z'))),
        '<main><div class="cards">%s</div>' % cards,
        '<section><h2>Certificates</h2>%s<div class="legend">%s</div></section>' % (_table_html(certificates), legend),
        '<section><h2>Expiry timeline</h2>%s</section></main>' % timeline_svg(certificates, now),
        '<footer>vlaanderen.dov &middot; renew with playbooks/renew.yml; a renewal is a new certificate (a new CSR) '
        'for the same application in VO-DCBaaS.</footer></body></html>\n',
    ])


# ---------------------------------------------------------------- (e) dov_fail_within_days

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


# ---------------------------------------------------------------- (f) the notification mail

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


def check_recipients(value):
    """``dov_notify_email``: one address or a list of them; each checked."""
    values = [value] if isinstance(value, str) else list(value or [])
    if not values:
        raise DovError("dov_notify_email is empty. Give one address or a list, for example ['it@geolab.be'].")
    return [accessmail.check_email(item, 'dov_notify_email address') for item in values]


def _lines(found, dutch):
    lines = []
    for record, english, nederlands in found:
        hosts = ' - hosts: %s' % ', '.join(record['hosts']) if record['hosts'] else ''
        lines.append('- %s' % (record['common_name'] or '%s/%s' % (record['application'], record['environment'])))
        lines.append('  %s/%s%s' % (record['application'], record['environment'], hosts))
        lines.append('  %s' % (nederlands if dutch else english))
    return lines


def notification_eml(records, sender, recipients, within_days=None, language='en', report_path=None):
    """The notification mail as RFC 5322 bytes (a draft: ``accessmail.SmtpServer.send`` stamps Date and
    Message-ID), or None when nothing needs attention.

    ``language`` is ``en`` (English) or ``nl`` (Dutch first, then the same in English). It lists
    only what ``needs_attention`` returns.
    """
    if language not in ('en', 'nl'):
        raise DovError("The notification language %r is not known. Use 'en' (English) or 'nl' (Dutch and English)."
                       % (language,))
    to_addrs = check_recipients(recipients)
    sender = accessmail.check_email(sender, 'dov_smtp sender')
    found = needs_attention(records, within_days)
    if not found:
        return None
    count = len(found)
    english = ['%d DOV client certificate%s need%s attention:' % (count, '' if count == 1 else 's',
                                                                  's' if count == 1 else ''), '']
    english += _lines(found, False)
    english += ['', 'Renew with playbooks/renew.yml. A renewal is a new certificate (a new CSR) for the same '
                'application in VO-DCBaaS (dcb.vlaanderen.be), template SSL Client.']
    if report_path:
        english.append('The full report: %s' % report_path)
    body = english
    subject = 'DOV certificates: %d need%s attention' % (count, 's' if count == 1 else '')
    if language == 'nl':
        dutch = ['%d %s aandacht:' % (count, 'DOV-clientcertificaat vraagt' if count == 1
                                      else 'DOV-clientcertificaten vragen'), '']
        dutch += _lines(found, True)
        dutch += ['', 'Vernieuw met playbooks/renew.yml. Een vernieuwing is een nieuw certificaat (een nieuwe CSR) '
                  'voor dezelfde toepassing in VO-DCBaaS (dcb.vlaanderen.be), sjabloon SSL Client.']
        if report_path:
            dutch.append('Het volledige rapport: %s' % report_path)
        body = dutch + ['', '-- English --', ''] + english
        subject = 'DOV-certificaten: %d %s aandacht / %s' % (count, 'vraagt' if count == 1 else 'vragen', subject)
    msg = EmailMessage(policy=SMTP)
    msg['From'] = Address(display_name='vlaanderen.dov', addr_spec=sender)
    msg['To'] = ', '.join(to_addrs)
    msg['Subject'] = subject
    msg['Content-Language'] = 'nl-BE, en' if language == 'nl' else 'en'
    msg.set_content('\n'.join(body) + '\n', charset='utf-8', cte='quoted-printable')
    return msg.as_bytes(policy=accessmail.FILE_POLICY)


def send_notification(server, records, sender, recipients, within_days=None, language='en', report_path=None,
                      check_mode=False, now=None):
    """Build the notification and send it with ``server`` (an ``accessmail.SmtpServer``: STARTTLS
    verified). Returns ``{'sent': bool, 'would_send': bool, 'listed': [CN, ...], 'message_id': ...}``;
    nothing is sent when all is well or in check mode. A failure raises DovError naming the server."""
    eml = notification_eml(records, sender, recipients, within_days, language, report_path)
    listed = [record['common_name'] for record, _en, _nl in needs_attention(records, within_days)]
    result = {'sent': False, 'would_send': eml is not None, 'listed': listed, 'message_id': None}
    if eml is None or check_mode:
        return result
    entry = server.send(eml, now=now, recipients=check_recipients(recipients), what='the certificate notification')
    result.update(sent=True, message_id=entry['message_id'], sent_at=entry['sent_at'])
    return result


# ---------------------------------------------------------------- (g) from the hosts: report.yml

REPORT_JSON = 'report.json'
REPORT_HTML = 'report.html'


def within_days_option(value, option='dov_fail_within_days'):
    """The threshold as given on the command line (``-e dov_fail_within_days=60`` is text) or in an
    inventory: None when unset or empty, else a whole number of days (``check_within_days``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return check_within_days(value, option)


def _pair_state(info, previous, earliest, problems, renew_before_days):
    """A pair's state from what its hosts hold now, and the last run's record for what the hosts cannot
    tell (whether the last check passed, a renewal waiting on VO-DCBaaS)."""
    if info.get('state') in ('waiting_for_cn', 'retired'):
        return info['state']       # retired: taken off its hosts, no longer checked or alerted on
    if problems:
        return 'failed'
    if not earliest:
        return 'waiting_for_certificate'
    same = previous.get('fingerprint_sha256') == earliest.get('fingerprint_sha256')
    if previous.get('state') in ('failed', 'renewal_pending') and same:
        return previous['state']
    if earliest.get('days_left') is not None and earliest['days_left'] <= renew_before_days:
        return 'renewal_due'
    return 'verified' if same and previous.get('verdict') == 'ok' else 'installed'


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
        found, problems = [], []
        for host in info.get('hosts') or []:
            if live_hosts is not None and host not in live_hosts:
                problems.append('%s: the host failed or was unreachable.' % host)
                continue
            for result in results.get(host) or []:
                if (result.get('application'), result.get('environment')) != (info['application'], info['environment']):
                    continue
                if result.get('error'):
                    problems.append('%s: %s' % (host, result['error']))
                if result.get('installed'):
                    found.append((host, result['installed']))
        earliest = min((installed for _host, installed in found), key=lambda item: item.get('not_after') or '',
                       default={})
        fingerprints = set(installed.get('fingerprint_sha256') for _host, installed in found)
        if len(fingerprints) > 1:
            problems.append('the hosts hold %d different certificates; run onboard.yml to give them the same one.'
                            % len(fingerprints))
        state = _pair_state(info, previous, earliest, problems, renew_before_days)
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
            'verdict': previous.get('verdict') if earliest and previous.get(
                'fingerprint_sha256') == earliest.get('fingerprint_sha256') else None,
            'checked_at': previous.get('checked_at') or previous.get('updated_at') if previous.get('verdict') else None,
            'problems': problems,
        })
    return records


def publish(state_dir, records, generated_at, check_mode=False):
    """Write ``<state_dir>/report.json`` and ``report.html`` (atomically; the folder is made when it is
    missing); in check mode nothing is written. Returns their paths."""
    paths = {'json': os.path.join(state_dir, REPORT_JSON), 'html': os.path.join(state_dir, REPORT_HTML)}
    if not check_mode:
        fsutil.ensure_dir(state_dir, 0o700)
        fsutil.atomic_write(paths['json'], report_json(records, generated_at).encode('utf-8'), mode=0o644)
        fsutil.atomic_write(paths['html'], render_html(records, generated_at).encode('utf-8'), mode=0o644)
    return paths


def smtp_server(smtp):
    """The ``accessmail.SmtpServer`` of the ``dov_smtp`` settings (STARTTLS verified unless turned off)."""
    if not (smtp or {}).get('host'):
        raise DovError("dov_notify_email is set but dov_smtp has no host. Set dov_smtp (host, port, sender, and a login "
                       "if the server needs one), or leave dov_notify_email empty.")
    return accessmail.SmtpServer(smtp.get('host'), smtp.get('port'), smtp.get('starttls', True), smtp.get('username'),
                                 smtp.get('password'), smtp.get('ca_bundle'))


def failure_message(records, within_days=None, strict=False):
    """Why report.yml fails, or None: the failed pairs, with ``strict`` the waiting ones, and with
    ``within_days`` every certificate that expires within that many days (``fail_within_days``)."""
    ordered = sort_by_urgency(records)
    parts = []
    failed = ['%s/%s' % (record['application'], record['environment']) for record in ordered if record['state'] == 'failed']
    if failed:
        parts.append('Failed: %s (the reasons are listed above the table).' % ', '.join(failed))
    waiting = ['%s/%s' % (record['application'], record['environment']) for record in ordered
               if record['state'] in WAITING]
    if strict and waiting:
        parts.append('Waiting (dov_strict): %s.' % ', '.join(waiting))
    if within_days is not None:
        expiring, message = fail_within_days(records, within_days)
        if expiring:
            parts.append(message)
    return ' '.join(parts) or None
