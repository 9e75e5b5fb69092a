# -*- coding: utf-8 -*-
"""reporthtml: report.html (self-contained, most urgent first, colour-coded, escaped) and publish."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import sys

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import reporthtml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'integration'))
from support import Page  # noqa: E402  (the HTML parser shared with the integration tests)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
CN = 'geolab.be/dov-services/oefen/Geodrill'


def page(records):
    parser = Page()
    parser.feed(reporthtml.render_html(records, NOW))
    return parser


def test_html_is_self_contained_without_script_or_external_assets(fleet):
    text = reporthtml.render_html(fleet(), NOW)
    parser = page(fleet())
    names = set(tag for tag, _attrs in parser.tags)
    assert 'script' not in names and 'link' not in names and 'img' not in names and 'iframe' not in names
    assert not any(name.startswith('on') for _tag, attrs in parser.tags for name in attrs)
    assert not any('src' in attrs or 'href' in attrs for _tag, attrs in parser.tags)
    assert 'url(' not in text and '@import' not in text and 'http://' not in text.replace(
        'http://www.w3.org/2000/svg', '')
    assert 'svg' in names and 'table' in names


def test_html_table_is_most_urgent_first_and_colour_coded(fleet):
    parser = page(fleet())
    body = [row for row in parser.rows if row]
    assert [row[0] for row in body] == ['Pomp', 'Geodrill', 'Geodrill', 'Sonde', 'Boorlog', 'Peilbuis', 'Aanvraag', 'Oud']
    assert body[1][2] == 'geolab.be/dov-services/oefen/Geodrill' and body[1][5] == '2026-01-09'
    classes = [attrs.get('class') for tag, attrs in parser.tags if tag == 'tr' and attrs.get('class')]
    assert classes == ['failed', 'expired', 'urgent', 'urgent', 'ok', 'waiting', 'waiting', 'retired']
    rows = [attrs['style'] for tag, attrs in parser.tags if tag == 'tr' and attrs.get('class') == 'failed']
    assert rows == ['background:%s' % reporthtml.COLOURS['failed'][0]]


def test_html_timeline_has_a_dot_per_dated_certificate_and_a_today_line(fleet):
    parser = page(fleet())
    circles = [attrs for tag, attrs in parser.tags if tag == 'circle']
    assert len(circles) == 5  # the waiting ones have no date, the retired one is left out
    assert 'today 2026-12-01' in ''.join(parser.text)
    assert '2026-01-09 (expired)' in ''.join(parser.text)


def test_every_text_in_the_page_is_html_escaped(rec):
    evil = rec('<script>alert(1)</script>', 'oefen', 'failed', '2027-01-01T10:00:00Z',
               verdict='"><img src=x onerror=alert(2)>', hosts=('h&<b>',))
    text = reporthtml.render_html([evil], NOW)
    assert '<script>' not in text and '<img' not in text and '<b>' not in text
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in text
    parser = page([evil])
    assert [row for row in parser.rows if row][0][0] == '<script>alert(1)</script>'  # shown as text, as typed
    assert not any(tag in ('img', 'script', 'b') for tag, _attrs in parser.tags)


def test_a_report_without_certificates_still_renders_a_page():
    parser = page([])
    assert 'No certificate with an expiry date yet.' in ''.join(parser.text)


# ---------------------------------------------------------------- publish: report.json and report.html in the state folder

def installed(days, fingerprint='AA', not_after='2026-12-21T10:00:00Z', common_name=CN):
    return {'common_name': common_name, 'not_before': '2026-01-01T00:00:00Z', 'not_after': not_after,
            'days_left': days, 'fingerprint_sha256': fingerprint, 'issuer': 'CN=Test CA'}


def test_publish_writes_report_json_and_html_into_a_missing_state_folder(tmp_path):
    folder = tmp_path / 'dov-state'
    records = [dict(installed(19), application='Geodrill', environment='oefen', hosts=['app1'], state='renewal_due')]
    paths = reporthtml.publish(str(folder), records, '2026-12-01T19:00:00Z')
    document = json.loads((folder / 'report.json').read_text())
    assert document['certificates'][0]['common_name'] == CN and document['certificates'][0]['hosts'] == ['app1']
    assert CN in (folder / 'report.html').read_text() and paths['html'] == str(folder / 'report.html')


def test_publish_in_check_mode_writes_nothing(tmp_path):
    reporthtml.publish(str(tmp_path / 'dov-state'), [], '2026-12-01T19:00:00Z', check_mode=True)
    assert not (tmp_path / 'dov-state').exists()
