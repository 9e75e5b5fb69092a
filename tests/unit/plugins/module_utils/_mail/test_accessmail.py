# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import email
import email.policy
import hashlib
import os
import sys

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._mail import accessmail
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'integration'))
from support import free_port  # noqa: E402  (the integration tests' helper)

REQUEST = dict(
    organisation='Geolab nv',
    organisation_id_type='kbo',
    organisation_id='BE 0403170701',
    application='Geodrill',
    description='Laadt boorbeschrijvingen op als XML en haalt de validatierapporten op.',
    contact_email='it@geolab.be',
    environments=['productie', 'oefen'],
    contact_name='Jan Peeters',
)


def make(**changes):
    args = dict(REQUEST)
    args.update(changes)
    return accessmail.AccessRequest(**args)


def parse(data):
    return email.message_from_bytes(data, policy=email.policy.default)


def text(msg):
    """The decoded body with the line ends a reader's mail client shows (the wire form is CRLF)."""
    return msg.get_content().replace('\r\n', '\n')


def refused(**changes):
    with pytest.raises(DovError) as error:
        make(**changes)
    return str(error.value)


# --- the message ------------------------------------------------------------------------------

def test_the_mail_names_every_item_of_step_1():
    request = make()
    msg = parse(request.eml)
    assert msg['To'].addresses[0].addr_spec == 'meldpunt@dov.vlaanderen.be'
    assert msg['From'].addresses[0].addr_spec == 'it@geolab.be'
    assert msg['From'].addresses[0].display_name == 'Jan Peeters'
    assert msg['Subject'] == 'Aanvraag toegang DOV-webservices: toepassing Geodrill van Geolab nv'
    assert msg.get_content_type() == 'text/plain'
    assert msg.get_content_charset() == 'utf-8'
    body = text(msg)
    assert body == request.body
    for needed in ['Organisatie:   Geolab nv',
                   'Identificatie: 0403.170.701 (KBO-ondernemingsnummer)',
                   'Toepassing:    Geodrill',
                   'Omgevingen:    productie, oefen (testomgeving)',
                   'Laadt boorbeschrijvingen op als XML',
                   'dus 2 certificaten:',
                   '  1. Geolab nv / dov-services / productie / Geodrill',
                   '  2. Geolab nv / dov-services / oefen / Geodrill',
                   'Wij vragen één certificaat per combinatie organisatie / dov-services /',
                   'CN terugsturen',
                   'Contactpersoon: Jan Peeters <it@geolab.be>']:
        assert needed in body, needed


def test_one_environment_asks_for_one_certificate():
    body = make(environments=['productie']).body
    assert 'dus 1 certificaat:' in body
    assert 'oefen' not in body


def test_the_same_input_gives_the_same_bytes_and_the_file_is_a_draft():
    first, second = make().eml, make().eml
    assert first == second
    assert make().sha256 == hashlib.sha256(first).hexdigest()
    msg = parse(first)
    assert msg['Date'] is None and msg['Message-ID'] is None
    assert msg['X-Unsent'] == '1'
    assert b'\r\n' in first and b'\n' not in first.replace(b'\r\n', b'')
    first.decode('ascii')  # 7-bit clean: quoted-printable body, encoded headers


def test_a_different_input_gives_different_bytes():
    assert make().eml != make(description='Iets anders.').eml


def test_non_ascii_names_survive_the_round_trip():
    request = make(organisation='Géotechniek Vlaanderen bv', contact_name='Zoë Peeters')
    msg = parse(request.eml)
    assert msg['Subject'] == 'Aanvraag toegang DOV-webservices: toepassing Geodrill van Géotechniek Vlaanderen bv'
    assert msg['From'].addresses[0].display_name == 'Zoë Peeters'
    assert 'Organisatie:   Géotechniek Vlaanderen bv' in text(msg)


def test_a_sender_address_becomes_from_and_the_contact_reply_to():
    msg = parse(make(sender='dov-mailer@geolab.be').eml)
    assert msg['From'].addresses[0].addr_spec == 'dov-mailer@geolab.be'
    assert msg['Reply-To'].addresses[0].addr_spec == 'it@geolab.be'


def test_a_multi_paragraph_description_keeps_its_paragraphs_wrapped_and_indented():
    body = make(description='Eerste alinea. ' * 10 + '\r\n\r\nTweede alinea.').body
    lines = body.split('\n')
    start = lines.index('Wat de toepassing zal doen:') + 1
    assert lines[start].startswith('  Eerste alinea.')
    assert '' in lines[start:start + 5] and '  Tweede alinea.' in lines
    assert all(len(line) <= 72 for line in lines)


@pytest.mark.parametrize('id_type, value, written, label', [
    ('ovo', 'ovo002949', 'OVO002949', 'OVO-nummer (Organisatieregister)'),
    ('vo_code', 'AGIV', 'AGIV', 'interne code Vlaamse overheid'),
])
def test_other_id_types_are_written_with_their_label(id_type, value, written, label):
    request = make(organisation_id_type=id_type, organisation_id=value)
    assert request.organisation_id == written
    assert 'Identificatie: %s (%s)' % (written, label) in request.body


def test_environments_are_put_in_order_and_each_once():
    assert make(environments=['oefen', 'productie', 'oefen']).environments == ['productie', 'oefen']
    assert make(environments='oefen').environments == ['oefen']


# --- refusals -----------------------------------------------------------------------------------

@pytest.mark.parametrize('environments, names', [
    (['ontwikkel'], "'ontwikkel'"), (['prod'], "'prod'"), (['productie', 'test'], "'test'"),
])
def test_unknown_environment_is_refused_with_the_valid_ones(environments, names):
    message = refused(environments=environments)
    assert names in message and 'productie and oefen only' in message


def test_no_environment_is_refused():
    assert 'No environment is requested' in refused(environments=[])


def test_wrong_kbo_check_digit_is_refused():
    assert 'that is 01, not 02' in refused(organisation_id='0403.170.702')


def test_establishment_unit_number_is_refused():
    assert 'establishment unit' in refused(organisation_id='2.123.456.789')


def test_malformed_ovo_is_refused():
    assert "'OVO' followed by 6 digits" in refused(organisation_id_type='ovo', organisation_id='OVO12345')


def test_unknown_id_type_is_refused_with_the_three_types():
    message = refused(organisation_id_type='btw')
    assert "'btw'" in message and 'kbo' in message and 'ovo' in message and 'vo_code' in message


@pytest.mark.parametrize('field, value, names', [
    ('organisation', '', 'organisation (legal name) is empty'),
    ('organisation', '  ', 'organisation (legal name) is empty'),
    ('organisation', 'Geolab nv\nBcc: x@evil.example', 'contains a line break'),
    ('application', '', 'application name is empty'),
    ('application', 'Geo/drill', "contains a '/'"),
    ('application', 'Geo\rdrill', 'contains a line break'),
    ('description', '', 'description is empty'),
    ('description', ' \n ', 'description is empty'),
    ('description', 'bel\x07', 'control character'),
    ('contact_name', 'Jan\nPeeters', 'contact_name'),
])
def test_empty_or_broken_text_is_refused(field, value, names):
    assert names in refused(**{field: value})


@pytest.mark.parametrize('address', ['', 'it', 'it@geolab', '@geolab.be', 'it@@geolab.be', 'it @geolab.be',
                                     'Jan <it@geolab.be>', 'it@geolab.be\nBcc: x@evil.example', None])
def test_implausible_contact_email_is_refused(address):
    message = refused(contact_email=address)
    assert 'contact_email' in message and 'not a plausible mail address' in message and "'it@geolab.be'" in message


def test_implausible_sender_is_refused():
    assert 'The sender' in refused(sender='mailer@')


def test_empty_contact_name_is_left_out():
    request = make(contact_name='  ')
    assert request.contact_name is None
    assert 'Contactpersoon: it@geolab.be' in request.body


# --- the outgoing copy ---------------------------------------------------------------------------

def test_the_outgoing_copy_gets_date_and_a_fresh_message_id_and_loses_x_unsent():
    eml = make().eml
    now = datetime.datetime(2025, 3, 4, 9, 15, tzinfo=datetime.timezone.utc)
    first = accessmail.outgoing_message(eml, now)
    second = accessmail.outgoing_message(eml, now)
    assert first['Date'] == 'Tue, 04 Mar 2025 09:15:00 +0000'
    assert first['Message-ID'] != second['Message-ID']
    assert first['Message-ID'].endswith('@geolab.be>')
    assert first['X-Unsent'] is None
    assert text(first) == make().body


# --- SMTP settings -------------------------------------------------------------------------------

def test_smtp_port_defaults_to_587_with_starttls_and_25_without():
    assert accessmail.SmtpServer('smtp.geolab.be').port == 587
    assert accessmail.SmtpServer('smtp.geolab.be', starttls=False).port == 25
    assert accessmail.SmtpServer('smtp.geolab.be', 2525).where == 'smtp.geolab.be:2525'


@pytest.mark.parametrize('kwargs, names', [
    (dict(host=''), 'smtp_host is empty'),
    (dict(host='smtp.geolab.be', port=70000), 'not a TCP port'),
    (dict(host='smtp.geolab.be', starttls=False, username='u', password='p'), 'password unencrypted'),
    (dict(host='smtp.geolab.be', ca_bundle='/nonexistent/ca.pem'), 'The CA bundle /nonexistent/ca.pem does not exist'),
])
def test_unusable_smtp_settings_are_refused(kwargs, names):
    with pytest.raises(DovError) as error:
        accessmail.SmtpServer(**kwargs)
    assert names in str(error.value)
    assert "'p'" not in str(error.value)


def test_a_ca_bundle_without_starttls_is_refused(tmp_path):
    bundle = tmp_path / 'ca.pem'
    bundle.write_text('x')
    with pytest.raises(DovError) as error:
        accessmail.SmtpServer('smtp.geolab.be', starttls=False, ca_bundle=str(bundle))
    assert 'no certificate is checked' in str(error.value)


# --- a real SMTP server (aiosmtpd; plain_smtp and tls_smtp: this folder's conftest.py) -----------

def test_send_delivers_the_mail_with_date_and_message_id(plain_smtp):
    controller, inbox = plain_smtp
    eml = make().eml
    entry = accessmail.SmtpServer('127.0.0.1', controller.port, starttls=False).send(eml)
    assert len(inbox.envelopes) == 1
    mail_from, rcpt_tos, content = inbox.envelopes[0]
    assert mail_from == 'it@geolab.be' and rcpt_tos == ['meldpunt@dov.vlaanderen.be']
    msg = parse(content)
    assert msg['Message-ID'].strip() == entry['message_id']
    assert msg['Date'] is not None and msg['X-Unsent'] is None
    assert text(msg) == make().body
    assert entry['sha256'] == hashlib.sha256(eml).hexdigest()


def test_a_closed_port_is_a_clear_error_naming_host_and_port():
    port = free_port()
    with pytest.raises(DovError) as error:
        accessmail.SmtpServer('127.0.0.1', port, starttls=False, timeout=5).send(make().eml)
    message = str(error.value)
    assert '127.0.0.1:%d' % port in message and 'cannot connect' in message
    assert 'Connection refused' in message and 'Nothing was recorded as sent' in message


def test_starttls_is_required_when_asked_and_not_offered(plain_smtp):
    controller, inbox = plain_smtp
    with pytest.raises(DovError) as error:
        accessmail.SmtpServer('127.0.0.1', controller.port).send(make().eml)
    assert 'does not offer STARTTLS' in str(error.value)
    assert inbox.envelopes == []


def test_starttls_refuses_a_certificate_from_an_untrusted_ca(tls_smtp):
    controller, inbox, _ca = tls_smtp
    with pytest.raises(DovError) as error:
        accessmail.SmtpServer('127.0.0.1', controller.port).send(make().eml)
    assert 'not trusted' in str(error.value) and 'smtp_ca_bundle' in str(error.value)
    assert inbox.envelopes == []


def test_starttls_with_the_ca_bundle_delivers(tls_smtp):
    controller, inbox, ca = tls_smtp
    accessmail.SmtpServer('127.0.0.1', controller.port, ca_bundle=ca).send(make().eml)
    assert len(inbox.envelopes) == 1
