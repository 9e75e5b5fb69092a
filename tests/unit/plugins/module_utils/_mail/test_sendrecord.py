# -*- coding: utf-8 -*-
"""sendrecord: the access request's draft on disk and its send record ``<dest>.sent.json``; a
content is sent once (unless forced), recorded only after a real SMTP server (aiosmtpd on
127.0.0.1, this folder's conftest.py) accepted it; check mode sends and writes nothing; a
corrupt record or a folder as dest is refused before anything changes."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import json
import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._mail import accessmail, sendrecord
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

REQUEST = dict(organisation='Geolab nv', organisation_id_type='kbo', organisation_id='BE 0403170701',
               application='Geodrill', description='Laadt boorbeschrijvingen op als XML.',
               contact_email='it@geolab.be', environments=['productie', 'oefen'], contact_name='Jan Peeters')
FIRST = datetime.datetime(2025, 3, 4, 9, 15, 1, tzinfo=datetime.timezone.utc)


def make(**changes):
    return accessmail.AccessRequest(**dict(REQUEST, **changes))


@pytest.fixture
def server(plain_smtp):
    """An SmtpServer of the real plain SMTP server, and the envelopes it received."""
    controller, inbox = plain_smtp
    return accessmail.SmtpServer('127.0.0.1', controller.port, starttls=False, timeout=10), inbox.envelopes


# ---------------------------------------------------------------- send once

def test_a_request_is_sent_once_then_recorded_and_not_sent_again(tmp_path, server):
    dest = str(tmp_path / 'access-request.eml')
    smtp, received = server
    eml = make().eml
    first = sendrecord.send_once(dest, eml, smtp, now=FIRST)
    assert first['sent'] is True and first['sent_at'] == '2025-03-04T09:15:01Z'
    assert len(received) == 1 and received[0][1] == ['meldpunt@dov.vlaanderen.be']
    record = json.loads((tmp_path / 'access-request.eml.sent.json').read_text())
    assert record == {'sent': [{'sha256': hashlib.sha256(eml).hexdigest(), 'sent_at': '2025-03-04T09:15:01Z',
                                'message_id': first['message_id'], 'to': 'meldpunt@dov.vlaanderen.be',
                                'smtp_server': '127.0.0.1:%d' % int(smtp.port)}]}
    assert ('Message-ID: %s' % first['message_id']).encode() in received[0][2]
    second = sendrecord.send_once(dest, eml, smtp)
    assert second == {'sent': False, 'would_send': False, 'sent_at': '2025-03-04T09:15:01Z',
                      'already_sent_at': '2025-03-04T09:15:01Z', 'message_id': first['message_id']}
    assert len(received) == 1


def test_force_and_a_changed_request_send_again(tmp_path, server):
    dest = str(tmp_path / 'r.eml')
    smtp, received = server
    sendrecord.send_once(dest, make().eml, smtp)
    assert sendrecord.send_once(dest, make().eml, smtp, force=True)['sent'] is True
    assert sendrecord.send_once(dest, make(description='Nieuw.').eml, smtp)['sent'] is True
    assert len(received) == 3
    assert len(sendrecord.load_record(dest)['sent']) == 3
    # going back to the first content: it was sent before, so not again
    assert sendrecord.send_once(dest, make().eml, smtp)['sent'] is False
    assert len(received) == 3


def test_check_mode_sends_nothing_and_writes_no_record(tmp_path, server):
    dest = str(tmp_path / 'r.eml')
    smtp, received = server
    result = sendrecord.send_once(dest, make().eml, smtp, check_mode=True)
    assert result == {'sent': False, 'would_send': True, 'sent_at': None, 'already_sent_at': None, 'message_id': None}
    assert received == [] and os.listdir(str(tmp_path)) == []


def test_a_failed_send_records_nothing(tmp_path, server):
    dest = str(tmp_path / 'r.eml')
    smtp, _received = server
    closed = accessmail.SmtpServer('127.0.0.1', 1, starttls=False, timeout=5)
    with pytest.raises(DovError) as caught:
        sendrecord.send_once(dest, make().eml, closed)
    assert str(caught.value).startswith('Sending the access request to meldpunt@dov.vlaanderen.be via the SMTP server '
                                        '127.0.0.1:1 failed: cannot connect (')
    assert str(caught.value).endswith('). Check smtp_host and smtp_port. Nothing was recorded as sent.')
    assert os.listdir(str(tmp_path)) == []
    assert sendrecord.send_once(dest, make().eml, smtp)['sent'] is True      # not counted as sent before


def test_a_corrupt_record_is_refused_naming_the_file(tmp_path):
    dest = str(tmp_path / 'r.eml')
    (tmp_path / 'r.eml.sent.json').write_text('{not json')
    with pytest.raises(DovError) as error:
        sendrecord.load_record(dest)
    assert str(error.value) == (
        'The send record %s cannot be read (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)). '
        'Move it away; without it the next run with send: true sends the request again.' % (tmp_path / 'r.eml.sent.json'))
    (tmp_path / 'r.eml.sent.json').write_text('[]')
    with pytest.raises(DovError, match=r'cannot be read \(no "sent" list\)\. Move it away'):
        sendrecord.load_record(dest)
    assert (tmp_path / 'r.eml.sent.json').read_text() == '[]'


def test_no_record_means_never_sent(tmp_path):
    record = sendrecord.load_record(str(tmp_path / 'r.eml'))
    assert record == {'sent': []}
    assert sendrecord.previous_send(record, 'abc') is None
    assert sendrecord.record_path('/x/r.eml') == '/x/r.eml.sent.json'


def test_the_latest_send_of_a_content_is_the_previous_one():
    record = {'sent': [{'sha256': 'aa', 'sent_at': '1'}, 'not an entry', {'sha256': 'bb', 'sent_at': '2'},
                       {'sha256': 'aa', 'sent_at': '3'}]}
    assert sendrecord.previous_send(record, 'aa') == {'sha256': 'aa', 'sent_at': '3'}
    assert sendrecord.previous_send(record, 'cc') is None


# ---------------------------------------------------------------- the draft file

def test_write_draft_writes_once_then_changes_nothing(tmp_path):
    dest = str(tmp_path / 'state' / 'Geodrill' / 'access-request.eml')
    eml = make().eml
    assert sendrecord.write_draft(dest, eml) == {'changed': True, 'before': None}
    assert open(dest, 'rb').read() == eml
    assert oct(os.stat(dest).st_mode & 0o777) == '0o644'
    assert oct(os.stat(str(tmp_path / 'state')).st_mode & 0o777) == '0o700'
    mtime = os.stat(dest).st_mtime_ns
    assert sendrecord.write_draft(dest, eml)['changed'] is False
    assert os.stat(dest).st_mtime_ns == mtime


def test_write_draft_in_check_mode_writes_nothing(tmp_path):
    dest = str(tmp_path / 'state' / 'r.eml')
    assert sendrecord.write_draft(dest, make().eml, check_mode=True)['changed'] is True
    assert os.listdir(str(tmp_path)) == []


def test_write_draft_refuses_a_folder_and_a_corrupt_record_before_writing(tmp_path):
    with pytest.raises(DovError) as error:
        sendrecord.write_draft(str(tmp_path), make().eml)
    assert 'is a folder' in str(error.value)
    (tmp_path / 'r.eml.sent.json').write_text('garbage')
    with pytest.raises(DovError):
        sendrecord.write_draft(str(tmp_path / 'r.eml'), make().eml)
    assert sorted(os.listdir(str(tmp_path))) == ['r.eml.sent.json']
