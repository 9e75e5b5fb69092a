# -*- coding: utf-8 -*-
"""vlaanderen.dov.access_request through ansible-playbook, with a real SMTP server (aiosmtpd)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import email
import email.policy
import hashlib
import json
import os
import stat

import pytest
from support import PASSWORD, Inbox, free_port, snapshot, start

MODULE = 'vlaanderen.dov.access_request'


def request(dest, **changes):
    args = {
        'organisation': 'Geolab nv',
        'organisation_id_type': 'kbo',
        'organisation_id': 'BE 0403170701',
        'application': 'Geodrill',
        'description': 'Laadt boorbeschrijvingen op als XML en haalt de validatierapporten op.',
        'environments': ['productie', 'oefen'],
        'contact_email': 'it@geolab.be',
        'contact_name': 'Jan Peeters',
        'dest': str(dest),
    }
    args.update(changes)
    return args


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def body(msg):
    return msg.get_content().replace('\r\n', '\n')


# --- a real SMTP server (the one that requires STARTTLS is conftest's tls_smtp) ---------------------

@pytest.fixture
def smtp():
    """A plain SMTP server on 127.0.0.1 (no STARTTLS): yields (port, inbox)."""
    inbox = Inbox()
    controller = start(inbox)
    yield controller.port, inbox
    controller.stop()


# --- writing the request -------------------------------------------------------------------------

def test_valid_kbo_request_is_written_naming_every_item_and_a_second_run_changes_nothing(ansible, tmp_path):
    dest = tmp_path / 'state' / 'Geodrill' / 'access-request.eml'
    first = ansible.module(MODULE, request(dest))
    assert first['status'] == 'changed', first['run']
    result = first['result']
    assert result['organisation_id'] == '0403.170.701'
    assert result['dest'] == str(dest)
    assert result['sent'] is False and result['sent_at'] is None
    assert 'The access request is in %s' % dest in result['msg']

    msg = parse(dest.read_bytes())
    assert msg['To'].addresses[0].addr_spec == 'meldpunt@dov.vlaanderen.be'
    assert msg['From'].addresses[0].addr_spec == 'it@geolab.be'
    assert msg['Subject'] == 'Aanvraag toegang DOV-webservices: toepassing Geodrill van Geolab nv'
    assert msg.get_content_type() == 'text/plain' and msg.get_content_charset() == 'utf-8'
    text = body(msg)
    assert text == result['message']
    for item in ['Organisatie:   Geolab nv',
                 'Identificatie: 0403.170.701 (KBO-ondernemingsnummer)',
                 'Toepassing:    Geodrill',
                 'Omgevingen:    productie, oefen (testomgeving)',
                 'Laadt boorbeschrijvingen op als XML en haalt de validatierapporten op.',
                 '  1. Geolab nv / dov-services / productie / Geodrill',
                 '  2. Geolab nv / dov-services / oefen / Geodrill',
                 'één certificaat per combinatie organisatie / dov-services /',
                 'CN terugsturen',
                 'Contactpersoon: Jan Peeters <it@geolab.be>']:
        assert item in text, item
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o644
    assert sorted(os.listdir(str(dest.parent))) == ['access-request.eml']  # no temp file, no record

    before = snapshot(tmp_path / 'state')
    second = ansible.module(MODULE, request(dest))
    assert second['status'] == 'ok', second['run']
    assert snapshot(tmp_path / 'state') == before


def test_check_mode_with_diff_reports_the_change_and_writes_nothing(ansible, tmp_path):
    dest = tmp_path / 'state' / 'access-request.eml'
    record = ansible.module(MODULE, request(dest), check=True, diff=True)
    assert record['status'] == 'changed', record['run']
    assert not (tmp_path / 'state').exists()
    assert '+Subject: Aanvraag toegang DOV-webservices: toepassing Geodrill van Geolab nv' in record['run'].stdout


def test_valid_ovo_is_taken_and_written_in_upper_case(ansible, tmp_path):
    dest = tmp_path / 'ovo.eml'
    record = ansible.module(MODULE, request(dest, organisation='Agentschap Digitaal Vlaanderen',
                                            organisation_id_type='ovo', organisation_id='ovo002949',
                                            environments=['oefen']))
    assert record['status'] == 'changed', record['run']
    assert record['result']['organisation_id'] == 'OVO002949'
    text = body(parse(dest.read_bytes()))
    assert 'Identificatie: OVO002949 (OVO-nummer (Organisatieregister))' in text
    assert '  1. Agentschap Digitaal Vlaanderen / dov-services / oefen / Geodrill' in text
    assert 'productie' not in text


@pytest.mark.parametrize('changes, expected', [
    ({'organisation_id': '0403.170.702'},
     ["The KBO number '0403.170.702' fails its check", 'that is 01, not 02']),
    ({'organisation_id': '2.123.456.789'},
     ["'2.123.456.789' starts with 2", 'establishment unit', 'enterprise number', 'starts with 0 or 1']),
    ({'organisation_id_type': 'ovo', 'organisation_id': 'OVO 2949'},
     ["The OVO number 'OVO 2949' is not 'OVO' followed by 6 digits", "'OVO002949'"]),
    ({'environments': ['productie', 'ontwikkel']},
     ['environments', 'productie, oefen', 'ontwikkel']),
    ({'contact_email': 'it-at-geolab.be'},
     ["contact_email 'it-at-geolab.be' is not a plausible mail address"]),
    ({'description': '   '}, ['description is empty']),
], ids=['kbo-check-digit', 'establishment-unit', 'malformed-ovo', 'unknown-environment', 'bad-email', 'no-description'])
def test_bad_input_is_refused_with_a_clear_message_and_files_stay_untouched(ansible, tmp_path, changes, expected):
    dest = tmp_path / 'state' / 'access-request.eml'
    assert ansible.module(MODULE, request(dest))['status'] == 'changed'
    before = snapshot(tmp_path)

    record = ansible.module(MODULE, request(dest, **changes))
    assert record['status'] == 'failed', record['run']
    for text in expected:
        assert text in record['result']['msg'], record['result']['msg']
    assert snapshot(tmp_path) == before


def test_bad_input_on_a_fresh_state_folder_creates_nothing(ansible, tmp_path):
    record = ansible.module(MODULE, request(tmp_path / 'state' / 'r.eml', organisation_id='0403.170.702'))
    assert record['status'] == 'failed'
    assert os.listdir(str(tmp_path)) == []


def test_a_login_without_starttls_is_refused_before_anything_is_written(ansible, tmp_path):
    dest = tmp_path / 'r.eml'
    record = ansible.module(MODULE, request(dest, send=True, smtp_host='127.0.0.1', smtp_port=free_port(),
                                            smtp_starttls=False, smtp_username='dov-mailer',
                                            smtp_password=PASSWORD))
    assert record['status'] == 'failed'
    assert 'password unencrypted' in record['result']['msg']
    assert os.listdir(str(tmp_path)) == []
    assert PASSWORD not in record['run'].stdout + record['run'].stderr


# --- sending -------------------------------------------------------------------------------------

def test_send_delivers_exactly_one_mail_and_a_second_run_does_not_send_again(ansible, tmp_path, smtp):
    port, inbox = smtp
    dest = tmp_path / 'access-request.eml'
    args = request(dest, send=True, smtp_host='127.0.0.1', smtp_port=port, smtp_starttls=False)

    first = ansible.module(MODULE, args)
    assert first['status'] == 'changed', first['run']
    assert first['result']['sent'] is True
    sent_at = first['result']['sent_at']
    assert 'Sent the access request to meldpunt@dov.vlaanderen.be on %s' % sent_at in first['result']['msg']
    assert len(inbox.mails) == 1
    mail_from, rcpt_tos, content = inbox.mails[0]
    assert mail_from == 'it@geolab.be' and rcpt_tos == ['meldpunt@dov.vlaanderen.be']
    arrived = parse(content)
    assert arrived['Subject'] == 'Aanvraag toegang DOV-webservices: toepassing Geodrill van Geolab nv'
    assert arrived['Date'] is not None and arrived['Message-ID'] is not None
    assert arrived['X-Unsent'] is None
    assert body(arrived) == body(parse(dest.read_bytes()))
    assert '  2. Geolab nv / dov-services / oefen / Geodrill' in body(arrived)

    record = json.loads((tmp_path / 'access-request.eml.sent.json').read_text())
    assert len(record['sent']) == 1
    assert record['sent'][0]['sha256'] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert record['sent'][0]['sent_at'] == sent_at
    assert record['sent'][0]['message_id'] == arrived['Message-ID'].strip()

    before = snapshot(tmp_path)
    second = ansible.module(MODULE, args, verbosity=1)
    assert second['status'] == 'ok', second['run']
    assert second['result']['sent'] is False and second['result']['sent_at'] == sent_at
    assert 'This request was already sent on %s; not sent again' % sent_at in second['run'].stdout
    assert len(inbox.mails) == 1
    assert snapshot(tmp_path) == before


def test_force_sends_again_and_a_changed_request_is_sent_again(ansible, tmp_path, smtp):
    port, inbox = smtp
    dest = tmp_path / 'access-request.eml'
    args = request(dest, send=True, smtp_host='127.0.0.1', smtp_port=port, smtp_starttls=False)
    assert ansible.module(MODULE, args)['status'] == 'changed'

    forced = ansible.module(MODULE, dict(args, force=True))
    assert forced['status'] == 'changed' and forced['result']['sent'] is True
    assert len(inbox.mails) == 2
    ids = [parse(content)['Message-ID'] for _f, _t, content in inbox.mails]
    assert ids[0] != ids[1]  # a resend is not dropped as a duplicate

    changed = ansible.module(MODULE, dict(args, description='Laadt ook sondeergegevens op.'))
    assert changed['status'] == 'changed' and changed['result']['sent'] is True
    assert len(inbox.mails) == 3
    assert 'Laadt ook sondeergegevens op.' in body(parse(inbox.mails[2][2]))
    assert len(json.loads((tmp_path / 'access-request.eml.sent.json').read_text())['sent']) == 3


def test_check_mode_does_not_send(ansible, tmp_path, smtp):
    port, inbox = smtp
    dest = tmp_path / 'access-request.eml'
    record = ansible.module(MODULE, request(dest, send=True, smtp_host='127.0.0.1', smtp_port=port,
                                            smtp_starttls=False), check=True)
    assert record['status'] == 'changed'
    assert 'Would send' in record['result']['msg']
    assert inbox.mails == [] and os.listdir(str(tmp_path)) == []


def test_smtp_failure_is_a_clear_error_and_records_nothing(ansible, tmp_path):
    port = free_port()  # nothing listens there
    dest = tmp_path / 'access-request.eml'
    record = ansible.module(MODULE, request(dest, send=True, smtp_host='127.0.0.1', smtp_port=port,
                                            smtp_starttls=False))
    assert record['status'] == 'failed', record['run']
    message = record['result']['msg']
    assert 'via the SMTP server 127.0.0.1:%d failed: cannot connect' % port in message
    assert 'Connection refused' in message
    assert 'Nothing was recorded as sent' in message
    assert 'The request is written to %s' % dest in message
    # The draft is there to send by hand; no send record.
    assert sorted(os.listdir(str(tmp_path))) == ['access-request.eml']


def test_starttls_refuses_an_untrusted_server_and_sends_once_its_ca_is_given(ansible, tmp_path, tls_smtp):
    port, inbox, ca = tls_smtp      # one server for the module: count what arrives from here on
    mails, logins = len(inbox.mails), len(inbox.logins)
    dest = tmp_path / 'access-request.eml'
    args = request(dest, send=True, smtp_host='127.0.0.1', smtp_port=port,
                   smtp_username='dov-mailer', smtp_password=PASSWORD, sender='dov-mailer@geolab.be')

    untrusted = ansible.module(MODULE, args, verbosity=3)
    assert untrusted['status'] == 'failed', untrusted['run']
    assert "the server's TLS certificate is not trusted" in untrusted['result']['msg']
    assert 'smtp_ca_bundle' in untrusted['result']['msg']
    assert inbox.mails[mails:] == [] and inbox.logins[logins:] == []
    assert not (tmp_path / 'access-request.eml.sent.json').exists()

    trusted = ansible.module(MODULE, dict(args, smtp_ca_bundle=ca), verbosity=3)
    assert trusted['status'] == 'changed', trusted['run']
    assert trusted['result']['sent'] is True
    assert inbox.logins[logins:] == ['dov-mailer']
    assert len(inbox.mails) == mails + 1
    arrived = parse(inbox.mails[-1][2])
    assert arrived['From'].addresses[0].addr_spec == 'dov-mailer@geolab.be'
    assert arrived['Reply-To'].addresses[0].addr_spec == 'it@geolab.be'

    # The password shows nowhere: not in -vvv output, not in the files.
    for run in (untrusted['run'], trusted['run']):
        assert PASSWORD not in run.stdout + run.stderr
    for _path, (data, _mode) in snapshot(tmp_path).items():
        assert PASSWORD.encode() not in data


def test_a_wrong_smtp_password_is_refused_without_showing_it(ansible, tmp_path, tls_smtp):
    port, inbox, ca = tls_smtp
    mails = len(inbox.mails)
    wrong = 'Niet-Het-Wachtwoord-77'
    record = ansible.module(MODULE, request(tmp_path / 'r.eml', send=True, smtp_host='127.0.0.1', smtp_port=port,
                                            smtp_ca_bundle=ca, smtp_username='dov-mailer', smtp_password=wrong),
                            verbosity=3)
    assert record['status'] == 'failed'
    assert "the server refused the login of 'dov-mailer'" in record['result']['msg']
    assert wrong not in record['run'].stdout + record['run'].stderr
    assert len(inbox.mails) == mails
    assert not (tmp_path / 'r.eml.sent.json').exists()


def test_a_folder_as_dest_and_a_corrupt_send_record_are_refused_and_nothing_changes(ansible, tmp_path):
    folder = tmp_path / 'state'
    folder.mkdir()
    record = ansible.module(MODULE, request(folder))
    assert record['status'] == 'failed'
    assert 'dest %s is a folder' % folder in record['result']['msg']
    assert 'access-request.eml' in record['result']['msg']
    assert os.listdir(str(folder)) == []

    dest = folder / 'access-request.eml'
    (folder / 'access-request.eml.sent.json').write_text('{half a record')
    before = snapshot(tmp_path)
    record = ansible.module(MODULE, request(dest))
    assert record['status'] == 'failed'
    assert 'The send record %s.sent.json cannot be read' % dest in record['result']['msg']
    assert 'Move it away' in record['result']['msg']
    assert snapshot(tmp_path) == before
