# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""report.html and the state folder's report files: the self-contained HTML page of the expiry report
(colour per severity, the table most urgent first, the expiry timeline as inline SVG) from the records
of ``report``, and ``publish``, which writes report.json (``report.report_json``) and report.html into
the state folder. Controller side.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import html
import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state.states import TABLE_HEADER
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report.report import (
    URGENT_DAYS, UTC, failure_lines, is_expired, parse, report_document, report_json)

REPORT_JSON = 'report.json'
REPORT_HTML = 'report.html'

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
ul.why{margin:0;padding-left:18px;color:#7a271a;font-size:13px}
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
        lines = failure_lines(record)
        if lines:
            # where and why it failed, right under its row: the host, the step, the reason
            body.append('<tr class="why" style="%s"><td colspan="%d" style="border-left-color:%s"><ul class="why">%s</ul></td></tr>'
                        % (background, len(TABLE_HEADER), accent, ''.join('<li>%s</li>' % _e(line) for line in lines)))
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
    left_gutter, right_pad, top, row = 250, 150, 44, 30
    height = top + row * max(len(dated), 1) + 30
    if not dated:
        return ('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Expiry timeline" width="%d" '
                'height="%d"><text x="10" y="30" fill="#475467">No certificate with an expiry date yet.</text></svg>'
                % (width, height))
    ends = [parse(record['not_after']) for record in dated]
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
        begin = parse(record.get('not_before')) or stop
        label = '%s / %s' % (record['application'], record['environment'])
        parts.append('<text x="%d" y="%.1f" font-size="12.5" fill="#1d2939" text-anchor="end" dominant-baseline="middle">'
                     '%s</text>' % (left_gutter - 12, y, _e(label if len(label) <= 34 else label[:33] + '\u2026')))
        parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="8" stroke-linecap="round" '
                     'opacity="0.35"/>' % (x(begin), y, x(stop), y, accent))
        parts.append('<circle cx="%.1f" cy="%.1f" r="6" fill="%s"><title>%s expires on %s</title></circle>'
                     % (x(stop), y, accent, _e(record['common_name']), _e(record['not_after_date'])))
        days = record.get('days_left')
        note = '%s (%s)' % (record['not_after_date'], 'expired' if is_expired(record) else '%s d' % days)
        # The date in a column of its own right of the plot: never over a bar, a dot or a tick.
        parts.append('<text class="date" x="%d" y="%.1f" font-size="11.5" fill="%s" dominant-baseline="middle" '
                     'text-anchor="start">%s</text>' % (width - right_pad + 14, y, accent, _e(note)))
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
    now = parse(document['generated_at'])
    attention = sum(1 for record in certificates if record['severity'] in ('failed', 'expired', 'urgent', 'due'))
    healthy = sum(1 for record in certificates if record['severity'] == 'ok')
    waiting = sum(1 for record in certificates if record['severity'] == 'waiting')
    with_certificate = sum(1 for record in certificates if record.get('not_after'))
    legend = ''.join('<span><i style="background:%s"></i>%s</span>' % (COLOURS[level][1], _e(LABELS[level]))
                     for level in ('failed', 'expired', 'urgent', 'due', 'waiting', 'ok', 'retired'))
    cards = ''.join('<div class="card %s"><strong>%d</strong><span>%s</span></div>' % (css, count, _e(text)) for css, count, text in (
        ('attention', attention, 'need attention'), ('healthy', healthy, 'healthy'), ('', waiting, 'waiting'),
        ('', with_certificate, 'certificates')))
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


# ---------------------------------------------------------------- the state folder: report.json and report.html

def publish(state_dir, records, generated_at, check_mode=False):
    """Write ``<state_dir>/report.json`` and ``report.html`` (atomically; the folder is made when it is
    missing); in check mode nothing is written. Returns their paths."""
    paths = {'json': os.path.join(state_dir, REPORT_JSON), 'html': os.path.join(state_dir, REPORT_HTML)}
    if not check_mode:
        fsutil.ensure_dir(state_dir, 0o700)
        fsutil.atomic_write(paths['json'], report_json(records, generated_at).encode('utf-8'), mode=0o644)
        fsutil.atomic_write(paths['html'], render_html(records, generated_at).encode('utf-8'), mode=0o644)
    return paths
