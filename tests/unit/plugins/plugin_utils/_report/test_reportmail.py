# -*- coding: utf-8 -*-
"""reportmail: the notification mail (only what needs attention, Dutch with English) and the SMTP settings."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email
import email.policy

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report, reportmail
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def parse_mail(eml):
    return email.message_from_bytes(eml, policy=email.policy.default)


def test_notification_lists_only_what_needs_attention(fleet):
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


def test_notification_names_a_healthy_certificate_inside_the_threshold(rec):
    soon = [rec('Boorlog', 'productie', 'verified', '2027-01-10T10:00:00Z')]
    assert reportmail.notification_eml(soon, 'dov-bot@geolab.be', 'it@geolab.be') is None
    body = parse_mail(reportmail.notification_eml(soon, 'dov-bot@geolab.be', 'it@geolab.be', within_days=60)).get_content()
    assert 'expires within 60 days: on 2027-01-10, 39 days left' in body


def test_notification_in_dutch_carries_the_english_too(fleet):
    msg = parse_mail(reportmail.notification_eml(fleet(), 'dov-bot@geolab.be', 'it@geolab.be', language='nl',
                                                 report_path='/srv/dov/report.html'))
    assert msg['Subject'].startswith('DOV-certificaten: 4 vragen aandacht / DOV certificates: 4 need attention')
    body = msg.get_content()
    assert body.index('4 DOV-clientcertificaten vragen aandacht:') < body.index('-- English --') < body.index(
        '4 DOV client certificates need attention:')
    assert 'vernieuwing nodig: verloopt op 2026-12-21, nog 19 dagen' in body
    assert body.count('Het volledige rapport: /srv/dov/report.html') == 1


def test_no_notification_when_all_is_well(rec):
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
def test_bad_recipients_sender_or_language_are_refused(recipients, sender, language, expected, fleet):
    with pytest.raises(DovError, match=expected):
        reportmail.notification_eml(fleet(), sender, recipients, language=language)


def test_a_notification_without_an_smtp_host_is_refused():
    with pytest.raises(DovError, match='dov_notify_email is set but dov_smtp has no host'):
        reportmail.smtp_server({'sender': 'dov@geolab.be'})
