# -*- coding: utf-8 -*-
"""The certificate notification, sent by the installed collection's reportmail.send_notification over
accessmail's SMTP code to a real SMTP server (aiosmtpd) that requires verified STARTTLS and a login."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import email
import email.policy
import sys

import pytest

from conftest import COLLECTIONS
from support import PASSWORD  # the login of conftest's tls_smtp (aiosmtpd, STARTTLS, a test CA)

NOW = datetime.datetime(2026, 12, 1, 19, 0, tzinfo=datetime.timezone.utc)
DUE_CN = 'geolab.be/dov-services/oefen/Geodrill'
HEALTHY_CN = 'geolab.be/dov-services/productie/Sonde'


def collection():
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    from ansible_collections.vlaanderen.dov.plugins.module_utils._mail import accessmail
    from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import reportmail
    return accessmail, reportmail


def records():
    return [
        {'application': 'Geodrill', 'environment': 'oefen', 'common_name': DUE_CN, 'hosts': ['app1', 'app2'],
         'state': 'renewal_due', 'not_before': '2026-11-21T10:00:00Z', 'not_after': '2026-12-21T10:00:00Z',
         'days_left': 19, 'fingerprint_sha256': 'AB', 'issuer': 'CN=Test', 'verdict': 'ok',
         'checked_at': '2026-12-01T18:00:00Z'},
        {'application': 'Sonde', 'environment': 'productie', 'common_name': HEALTHY_CN, 'hosts': ['app2'],
         'state': 'verified', 'not_before': '2026-11-01T10:00:00Z', 'not_after': '2028-01-05T10:00:00Z',
         'days_left': 400, 'fingerprint_sha256': 'CD', 'issuer': 'CN=Test', 'verdict': 'ok',
         'checked_at': '2026-12-01T18:00:00Z'},
    ]


def server(port, ca=None):
    accessmail, _reportmail = collection()
    return accessmail.SmtpServer('127.0.0.1', port, starttls=True, username='dov-mailer', password=PASSWORD,
                                 ca_bundle=ca)


def test_the_mail_arrives_over_verified_starttls_naming_the_due_certificate_and_not_the_healthy_one(tls_smtp):
    port, inbox, ca = tls_smtp
    _accessmail, reportmail = collection()
    before = len(inbox.mails)
    result = reportmail.send_notification(server(port, ca), records(), 'dov-mailer@geolab.be',
                                          ['it@geolab.be', 'ops@geolab.be'], language='nl', now=NOW)
    assert result['sent'] is True and result['listed'] == [DUE_CN]
    assert len(inbox.mails) == before + 1
    mail_from, rcpt_tos, data = inbox.mails[-1]
    assert mail_from == 'dov-mailer@geolab.be'
    assert rcpt_tos == ['it@geolab.be', 'ops@geolab.be']
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg['Message-ID'] == result['message_id'] and msg['Date']
    body = msg.get_content()
    assert DUE_CN in body and 'renewal due: expires on 2026-12-21, 19 days left' in body
    assert 'vernieuwing nodig' in body
    assert HEALTHY_CN not in body and 'Sonde' not in body


def test_nothing_is_sent_when_all_is_well_or_in_check_mode(tls_smtp):
    port, inbox, ca = tls_smtp
    _accessmail, reportmail = collection()
    before = len(inbox.mails)
    healthy = [records()[1]]
    assert reportmail.send_notification(server(port, ca), healthy, 'dov-mailer@geolab.be', 'it@geolab.be', now=NOW) == {
        'sent': False, 'would_send': False, 'listed': [], 'message_id': None}
    checked = reportmail.send_notification(server(port, ca), records(), 'dov-mailer@geolab.be', 'it@geolab.be',
                                           check_mode=True, now=NOW)
    assert (checked['sent'], checked['would_send'], checked['listed']) == (False, True, [DUE_CN])
    assert len(inbox.mails) == before


def test_an_untrusted_smtp_server_is_refused_and_no_mail_goes_out(tls_smtp):
    port, inbox, _ca = tls_smtp
    accessmail, reportmail = collection()
    before = len(inbox.mails)
    from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
    with pytest.raises(DovError) as caught:
        reportmail.send_notification(server(port), records(), 'dov-mailer@geolab.be', 'it@geolab.be', now=NOW)
    message = str(caught.value)
    assert message.startswith('Sending the certificate notification to it@geolab.be via the SMTP server 127.0.0.1:')
    assert "the server's TLS certificate is not trusted" in message and 'smtp_ca_bundle' in message
    assert PASSWORD not in message
    assert len(inbox.mails) == before
