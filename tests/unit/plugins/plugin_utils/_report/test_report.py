# -*- coding: utf-8 -*-
"""report, reporthtml and reportmail: urgency, the text table, report.json, report.html, the CI threshold
and the notification."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import email
import email.policy
import json
import os
import sys

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report, reporthtml, reportmail
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'integration'))
from support import Page  # noqa: E402  (the HTML parser shared with the integration tests)

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(HERE, '..', '..', '..', '..', 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
ISSUER = 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE'


def rec(application, environment, state, not_after=None, verdict='ok', hosts=('app1.geolab.be',)):
    days = None
    if not_after:
        moment = datetime.datetime.strptime(not_after, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC)
        days = int((moment - NOW).total_seconds() // 86400)
    return {'application': application, 'environment': environment,
            'common_name': 'geolab.be/dov-services/%s/%s' % (environment, application) if not_after else None,
            'hosts': list(hosts), 'state': state, 'not_before': '2026-01-01T00:00:00Z' if not_after else None,
            'not_after': not_after, 'days_left': days, 'fingerprint_sha256': 'AB:CD' if not_after else None,
            'issuer': ISSUER if not_after else None, 'verdict': verdict, 'checked_at': '2026-12-01T18:59:00Z'}


def real_record():
    """The real, expired VO-PKI Geodrill certificate as the host phase would report it."""
    info = certinfo.cert_info(GEODRILL, now=NOW)
    record = dict((name, info.get(name)) for name in ('common_name', 'not_before', 'not_after', 'days_left',
                                                      'fingerprint_sha256', 'issuer'))
    record.update(application='Geodrill', environment='oefen', hosts=['legacy.geolab.be'], state='verified',
                  verdict='client_cert_rejected', checked_at='2026-12-01T18:00:00Z')
    return record


def fleet():
    return [
        rec('Boorlog', 'productie', 'verified', '2030-11-01T10:00:00Z'),
        rec('Peilbuis', 'oefen', 'waiting_for_certificate', verdict=None),
        rec('Oud', 'oefen', 'retired', '2024-01-03T15:24:46Z', verdict=None),
        rec('Sonde', 'productie', 'renewal_pending', '2026-12-21T10:00:00Z', hosts=('app1.geolab.be', 'app2.geolab.be')),
        rec('Geodrill', 'productie', 'renewal_due', '2026-12-21T10:00:00Z'),
        rec('Pomp', 'oefen', 'failed', '2027-06-01T10:00:00Z', verdict='client_cert_rejected'),
        real_record(),
        rec('Aanvraag', 'oefen', 'waiting_for_cn', verdict=None),
    ]


# ---------------------------------------------------------------- (a) urgency

def test_urgency_is_failed_then_expired_then_fewest_days_then_waiting_then_retired():
    order = [(record['application'], record['environment'], record['state'])
             for record in report.sort_by_urgency(fleet())]
    assert order == [
        ('Pomp', 'oefen', 'failed'),
        ('Geodrill', 'oefen', 'verified'),              # the real one: expired 2026-01-09
        ('Geodrill', 'productie', 'renewal_due'),      # 19 days, due before pending at the same days
        ('Sonde', 'productie', 'renewal_pending'),
        ('Boorlog', 'productie', 'verified'),
        ('Peilbuis', 'oefen', 'waiting_for_certificate'),
        ('Aanvraag', 'oefen', 'waiting_for_cn'),
        ('Oud', 'oefen', 'retired'),
    ]


def test_severity_classes_follow_state_and_days():
    levels = dict((record['application'] + '/' + record['environment'], report.severity(record))
                  for record in report.sort_by_urgency(fleet()))
    assert levels == {'Pomp/oefen': 'failed', 'Geodrill/oefen': 'expired', 'Geodrill/productie': 'urgent',
                      'Sonde/productie': 'urgent', 'Boorlog/productie': 'ok', 'Peilbuis/oefen': 'waiting',
                      'Aanvraag/oefen': 'waiting', 'Oud/oefen': 'retired'}
    assert report.severity(rec('Ver', 'oefen', 'renewal_due', '2027-01-20T10:00:00Z')) == 'due'


# ---------------------------------------------------------------- (b) the table

def test_table_rows_show_not_after_as_a_date_hosts_joined_and_dashes_for_nothing():
    rows = report.table_rows(fleet())
    assert rows[1] == ('Geodrill', 'oefen', 'geolab.be/dov-services/oefen/Geodrill', 'legacy.geolab.be', 'verified',
                       '2026-01-09', '-327', 'client_cert_rejected')
    assert rows[3][3] == 'app1.geolab.be, app2.geolab.be'
    assert rows[5] == ('Peilbuis', 'oefen', '-', 'app1.geolab.be', 'waiting_for_certificate', '-', '-', '-')


def test_text_table_has_a_header_and_aligned_columns():
    lines = report.format_table(fleet()).splitlines()
    assert lines[0].split() == ['application', 'environment', 'CN', 'hosts', 'state', 'not', 'after', 'days', 'left',
                                'last', 'verdict']
    column = lines[0].index('not after')
    assert all(line[column:column + 10] in ('2026-01-09', '2026-12-21', '2027-06-01', '2030-11-01', '2024-01-03',
                                            '-         ', '----------') for line in lines[1:])


# ---------------------------------------------------------------- (c) report.json

def test_report_json_lists_every_certificate_with_hosts_dates_fingerprint_issuer_and_state():
    document = json.loads(report.report_json(fleet(), NOW))
    assert document['generated_at'] == '2026-12-01T19:00:00Z'
    assert len(document['certificates']) == 8
    first = document['certificates'][0]
    assert (first['application'], first['severity']) == ('Pomp', 'failed')
    real = document['certificates'][1]
    assert real['not_after'] == '2026-01-09T11:15:05Z' and real['not_after_date'] == '2026-01-09'
    assert real['hosts'] == ['legacy.geolab.be'] and real['issuer'] == ISSUER
    assert real['fingerprint_sha256'].startswith('FD:8C:DA:68') and real['state'] == 'verified'
    assert document['summary']['verified'] == 2 and document['summary']['renewal_due'] == 1
    assert document['summary']['installed'] == 0


def test_a_date_that_is_not_iso_8601_is_a_clear_error():
    bad = rec('Geodrill', 'oefen', 'verified', '2026-12-21T10:00:00Z')
    bad['not_after'] = '21/12/2026'
    with pytest.raises(DovError, match=r"The date '21/12/2026' in the report is not ISO 8601\. Give it as"):
        report.report_json([bad], NOW)


# ---------------------------------------------------------------- (d) report.html

def page(records):
    parser = Page()
    parser.feed(reporthtml.render_html(records, NOW))
    return parser


def test_html_is_self_contained_without_script_or_external_assets():
    text = reporthtml.render_html(fleet(), NOW)
    parser = page(fleet())
    names = set(tag for tag, _attrs in parser.tags)
    assert 'script' not in names and 'link' not in names and 'img' not in names and 'iframe' not in names
    assert not any(name.startswith('on') for _tag, attrs in parser.tags for name in attrs)
    assert not any('src' in attrs or 'href' in attrs for _tag, attrs in parser.tags)
    assert 'url(' not in text and '@import' not in text and 'http://' not in text.replace(
        'http://www.w3.org/2000/svg', '')
    assert 'svg' in names and 'table' in names


def test_html_table_is_most_urgent_first_and_colour_coded():
    parser = page(fleet())
    body = [row for row in parser.rows if row]
    assert [row[0] for row in body] == ['Pomp', 'Geodrill', 'Geodrill', 'Sonde', 'Boorlog', 'Peilbuis', 'Aanvraag', 'Oud']
    assert body[1][2] == 'geolab.be/dov-services/oefen/Geodrill' and body[1][5] == '2026-01-09'
    classes = [attrs.get('class') for tag, attrs in parser.tags if tag == 'tr' and attrs.get('class')]
    assert classes == ['failed', 'expired', 'urgent', 'urgent', 'ok', 'waiting', 'waiting', 'retired']
    rows = [attrs['style'] for tag, attrs in parser.tags if tag == 'tr' and attrs.get('class') == 'failed']
    assert rows == ['background:%s' % reporthtml.COLOURS['failed'][0]]


def test_html_timeline_has_a_dot_per_dated_certificate_and_a_today_line():
    parser = page(fleet())
    circles = [attrs for tag, attrs in parser.tags if tag == 'circle']
    assert len(circles) == 5  # the waiting ones have no date, the retired one is left out
    assert 'today 2026-12-01' in ''.join(parser.text)
    assert '2026-01-09 (expired)' in ''.join(parser.text)


def test_every_text_in_the_page_is_html_escaped():
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


# ---------------------------------------------------------------- (e) dov_fail_within_days

def test_fail_within_60_days_names_every_certificate_that_expires_within_them():
    failed, message = report.fail_within_days(fleet(), 60)
    assert failed is True
    assert message.startswith('3 certificates expire within 60 days: ')
    assert ("'geolab.be/dov-services/oefen/Geodrill' (Geodrill/oefen on legacy.geolab.be) expired on 2026-01-09 "
            "(327 days ago)") in message
    assert ("'geolab.be/dov-services/productie/Geodrill' (Geodrill/productie on app1.geolab.be) expires on 2026-12-21 "
            "(19 days left)") in message
    assert 'Sonde' in message
    assert 'Boorlog' not in message and 'Oud' not in message and 'Pomp' not in message
    assert message.endswith('Renew them with playbooks/renew.yml (a new certificate in VO-DCBaaS), or lower '
                            'dov_fail_within_days.')


def test_fail_within_a_few_days_passes_when_nothing_expires_that_soon():
    healthy = [record for record in fleet() if record['application'] != 'Geodrill' or record['environment'] != 'oefen']
    assert report.fail_within_days(healthy, 10) == (False, None)
    assert report.fail_within_days(healthy, 20)[0] is True  # the 19-day ones
    assert report.fail_within_days(healthy, 19)[0] is False


@pytest.mark.parametrize('value', [-1, '60', True, 1.5])
def test_fail_within_days_must_be_a_whole_number_of_days(value):
    with pytest.raises(DovError, match=r'dov_fail_within_days must be a whole number of days, 0 or more, not .*Give'):
        report.fail_within_days(fleet(), value)


# ---------------------------------------------------------------- (f) the notification

def parse_mail(eml):
    return email.message_from_bytes(eml, policy=email.policy.default)


def test_notification_lists_only_what_needs_attention():
    eml = reportmail.notification_eml(fleet(), 'dov-bot@geolab.be', ['it@geolab.be', 'ops@geolab.be'], within_days=30)
    assert b'\r\n' in eml  # RFC 5322 line ends
    msg = parse_mail(eml)
    assert msg['To'] == 'it@geolab.be, ops@geolab.be'
    assert msg['From'] == '"vlaanderen.dov" <dov-bot@geolab.be>'
    assert msg['Subject'] == 'DOV certificates: 4 need attention'
    body = msg.get_content()
    assert body.startswith('4 DOV client certificates need attention:')
    for expected in ('geolab.be/dov-services/oefen/Pomp', 'failed: client_cert_rejected',
                     'geolab.be/dov-services/oefen/Geodrill', 'expired on 2026-01-09',
                     'renewal due: expires on 2026-12-21, 19 days left', 'renewal pending',
                     'Sonde/productie - hosts: app1.geolab.be, app2.geolab.be'):
        assert expected in body
    assert 'Boorlog' not in body and 'Oud' not in body and 'Peilbuis' not in body


def test_notification_names_a_healthy_certificate_inside_the_threshold():
    soon = [rec('Boorlog', 'productie', 'verified', '2027-01-10T10:00:00Z')]
    assert reportmail.notification_eml(soon, 'dov-bot@geolab.be', 'it@geolab.be') is None
    body = parse_mail(reportmail.notification_eml(soon, 'dov-bot@geolab.be', 'it@geolab.be', within_days=60)).get_content()
    assert 'expires within 60 days: on 2027-01-10, 39 days left' in body


def test_notification_in_dutch_carries_the_english_too():
    msg = parse_mail(reportmail.notification_eml(fleet(), 'dov-bot@geolab.be', 'it@geolab.be', language='nl',
                                                 report_path='/srv/dov/report.html'))
    assert msg['Subject'].startswith('DOV-certificaten: 4 vragen aandacht / DOV certificates: 4 need attention')
    body = msg.get_content()
    assert body.index('4 DOV-clientcertificaten vragen aandacht:') < body.index('-- English --') < body.index(
        '4 DOV client certificates need attention:')
    assert 'vernieuwing nodig: verloopt op 2026-12-21, nog 19 dagen' in body
    assert body.count('Het volledige rapport: /srv/dov/report.html') == 1


def test_no_notification_when_all_is_well():
    healthy = [rec('Boorlog', 'productie', 'verified', '2030-11-01T10:00:00Z'),
               rec('Oud', 'oefen', 'retired', '2024-01-03T15:24:46Z')]
    assert reportmail.notification_eml(healthy, 'dov-bot@geolab.be', 'it@geolab.be', within_days=60) is None
    assert report.needs_attention(healthy, 60) == []


@pytest.mark.parametrize('recipients, sender, language, expected', [
    ([], 'dov-bot@geolab.be', 'en', r'dov_notify_email is empty\. Give one address or a list'),
    (['it@geolab.be', 'not an address'], 'dov-bot@geolab.be', 'en',
     r"The dov_notify_email address 'not an address' is not a plausible mail address\."),
    ('it@geolab.be\r\nBcc: x@evil.example', 'dov-bot@geolab.be', 'en', r'is not a plausible mail address'),
    ('it@geolab.be', 'bot', 'en', r"The dov_smtp sender 'bot' is not a plausible mail address\."),
    ('it@geolab.be', 'dov-bot@geolab.be', 'fr', r"The notification language 'fr' is not known\. Use 'en'"),
])
def test_bad_recipients_sender_or_language_are_refused(recipients, sender, language, expected):
    with pytest.raises(DovError, match=expected):
        reportmail.notification_eml(fleet(), sender, recipients, language=language)
