# -*- coding: utf-8 -*-
"""revocation: the handover of a retired pair's certificate, and dov_revoke_command.

The handover content is checked against a real VO-PKI certificate with openssl as the second
opinion; the command runs as a real program (a shell script in tmp_path) that records its
environment, with lab CA certificates (valid now) made with cryptography.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import subprocess

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._retire import revocation
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fixtures', 'vo-pki')
GEODRILL = os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem')
CN = 'geolab.be/dov-services/oefen/Geodrill'
BEFORE_EXPIRY = datetime.datetime(2025, 6, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
LAB_CN = 'geolab.be/dov-services/oefen/Boorlog'


@pytest.fixture(scope='module')
def geodrill():
    with open(GEODRILL, 'rb') as handle:
        return handle.read()


@pytest.fixture(scope='module')
def lab_certificates(tmp_path_factory):
    """Two certificates of the lab CA for the same CN (a pair renewed once), valid now."""
    lab = labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('lab') / 'lab-ca'))
    made = []
    for _number in range(2):
        csr = pki.dump_csr(pki.build_csr(pki.generate_private_key('ec'), LAB_CN))
        made.append(certs.describe_certificate(certload.load_certificates(lab.sign_csr(csr))[0]))
    return made


def openssl(path, *options):
    return subprocess.run(['openssl', 'x509', '-in', path, '-noout'] + list(options), check=True,
                          stdout=subprocess.PIPE).stdout.decode('ascii').strip()


def files_of(folder):
    found = {}
    for root, _dirs, names in os.walk(str(folder)):
        for name in names:
            path = os.path.join(root, name)
            with open(path, 'rb') as handle:
                found[path] = (handle.read(), os.stat(path).st_mtime_ns)
    return found


def revoke_script(tmp_path, fail_for=None):
    """A revoke command that appends its DOV_* environment (one JSON line per call) to calls.jsonl."""
    log = tmp_path / 'calls.jsonl'
    script = tmp_path / 'revoke.sh'
    script.write_text(
        '#!/bin/sh\n'
        'if [ "$DOV_REVOKE_SERIAL" = "%s" ]; then echo "portal said: no such certificate" >&2; exit 3; fi\n'
        'python3 -c \'import json, os; print(json.dumps(dict((k, v) for k, v in os.environ.items() '
        'if k.startswith("DOV_"))))\' >> %s\n' % (fail_for or 'none', log))
    script.chmod(0o755)
    return str(script), log


def calls_of(log):
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


# ---------------------------------------------------------------- the handover

def test_the_handover_names_cn_serial_fingerprint_not_after_and_reason_in_both_languages(tmp_path, geodrill):
    result = revocation.hand_over(str(tmp_path), 'Geodrill', 'oefen', CN, [geodrill], now=BEFORE_EXPIRY)
    folder = tmp_path / 'Geodrill' / 'oefen' / 'revocation'
    assert result.folder == str(folder) and result.changed is True
    text = (folder / 'INSTRUCTIES.txt').read_text()
    serial = openssl(GEODRILL, '-serial').split('=', 1)[1]
    fingerprint = openssl(GEODRILL, '-fingerprint', '-sha256').split('=', 1)[1]
    assert openssl(GEODRILL, '-enddate') == 'notAfter=Jan  9 11:15:05 2026 GMT'
    for part in (CN, serial, fingerprint, '2026-01-09T11:15:05Z', 'Vlaamse overheid Issuing CA 2',
                 'de toepassing is stopgezet', 'the application was retired', 'cessationOfOperation',
                 'https://dcb.vlaanderen.be', 'DCBaaS Certificatenbeheerder Organisatie', 'NEDERLANDS', 'ENGLISH',
                 'Trek het in', 'Revoke it'):
        assert part in text
    assert result.message == [
        'Geodrill/oefen: revoke the certificate %s in VO-DCBaaS (CN %s, SHA-256 %s, valid until 2026-01-09T11:15:05Z), '
        'reason: the application was retired. The instruction is in %s.' % (serial, CN, fingerprint,
                                                                            folder / 'INSTRUCTIES.txt')]
    assert 'PRIVATE KEY' not in text


def test_the_record_is_machine_readable(tmp_path, geodrill):
    revocation.hand_over(str(tmp_path), 'Geodrill', 'oefen', CN, [geodrill], reason='server_decommissioned',
                         now=BEFORE_EXPIRY)
    record = json.loads((tmp_path / 'Geodrill' / 'oefen' / 'revocation' / 'revocation.json').read_text())
    assert record['version'] == 1 and (record['application'], record['environment']) == ('Geodrill', 'oefen')
    (item,) = record['certificates']
    assert item['serial'] == '24F6CA90000100002448'
    assert item['fingerprint_sha256'].startswith('FD:8C:DA:68')
    assert (item['common_name'], item['not_after'], item['reason']) == (CN, '2026-01-09T11:15:05Z', 'server_decommissioned')
    assert (item['state'], item['via'], item['at']) == ('handed_over', 'INSTRUCTIES.txt', '2025-06-01T08:00:00Z')
    assert revocation.recorded_states(str(tmp_path), 'Geodrill', 'oefen') == {item['fingerprint_sha256']: 'handed_over'}


def test_a_second_handover_changes_nothing(tmp_path, geodrill):
    revocation.hand_over(str(tmp_path), 'Geodrill', 'oefen', CN, [geodrill], now=BEFORE_EXPIRY)
    before = files_of(tmp_path)
    later = BEFORE_EXPIRY + datetime.timedelta(days=3)
    again = revocation.hand_over(str(tmp_path), 'Geodrill', 'oefen', CN, [geodrill, geodrill], now=later)
    assert again.changed is False and again.written == []
    assert files_of(tmp_path) == before
    assert len(again.message) == 1


def test_check_mode_writes_nothing_and_says_what_would_be_written(tmp_path, geodrill):
    preview = revocation.hand_over(str(tmp_path), 'Geodrill', 'oefen', CN, [geodrill], check_mode=True,
                                   now=BEFORE_EXPIRY)
    assert os.listdir(str(tmp_path)) == []
    folder = tmp_path / 'Geodrill' / 'oefen' / 'revocation'
    assert preview.changed is True
    assert preview.written == [str(folder / 'INSTRUCTIES.txt'), str(folder / 'revocation.json')]
    assert preview.message[0].startswith('(check mode: nothing was written or run) Geodrill/oefen: revoke the certificate')


def test_a_description_from_the_host_and_the_pem_hand_over_the_same(tmp_path, geodrill):
    description = certs.describe_certificate(certload.load_certificates(geodrill)[0])
    revocation.hand_over(str(tmp_path / 'a'), 'Geodrill', 'oefen', CN, [description], now=BEFORE_EXPIRY)
    revocation.hand_over(str(tmp_path / 'b'), 'Geodrill', 'oefen', CN, [geodrill], now=BEFORE_EXPIRY)
    for name in ('INSTRUCTIES.txt', 'revocation.json'):
        assert (tmp_path / 'a' / 'Geodrill' / 'oefen' / 'revocation' / name).read_bytes() == \
            (tmp_path / 'b' / 'Geodrill' / 'oefen' / 'revocation' / name).read_bytes()


def test_an_expired_certificate_needs_no_revocation_and_runs_no_command(tmp_path, geodrill):
    command, log = revoke_script(tmp_path)
    result = revocation.hand_over(str(tmp_path / 'state'), 'Geodrill', 'oefen', CN, [geodrill], command=command)
    assert calls_of(log) == []
    assert result.message == ['Geodrill/oefen: the certificate 24F6CA90000100002448 (CN %s) expired on '
                              '2026-01-09T11:15:05Z; it needs no revocation.' % CN]
    assert result.instructions_path is None
    assert [item['state'] for item in result.certificates] == ['expired']


# ---------------------------------------------------------------- dov_revoke_command

def test_the_revoke_command_gets_the_certificate_in_its_environment_and_runs_once(tmp_path, lab_certificates):
    command, log = revoke_script(tmp_path)
    state = str(tmp_path / 'state')
    result = revocation.hand_over(state, 'Boorlog', 'oefen', LAB_CN, lab_certificates[:1], command=command)
    (call,) = calls_of(log)
    cert = lab_certificates[0]
    assert call == {'DOV_REVOKE_SERIAL': cert['serial'], 'DOV_REVOKE_COMMON_NAME': LAB_CN,
                    'DOV_REVOKE_FINGERPRINT': cert['fingerprint_sha256'], 'DOV_REVOKE_NOT_AFTER': cert['not_after'],
                    'DOV_REVOKE_REASON': 'application_retired', 'DOV_REVOKE_REASON_RFC5280': 'cessationOfOperation',
                    'DOV_APPLICATION': 'Boorlog', 'DOV_ENVIRONMENT': 'oefen'}
    assert result.requested == [cert['serial']] and result.changed is True
    assert result.instructions_path is None
    assert not os.path.exists(os.path.join(result.folder, 'INSTRUCTIES.txt'))
    assert "was requested with the command 'revoke.sh'" in result.message[0]
    before = files_of(tmp_path / 'state')
    again = revocation.hand_over(state, 'Boorlog', 'oefen', LAB_CN, lab_certificates[:1], command=command)
    assert len(calls_of(log)) == 1
    assert again.changed is False and files_of(tmp_path / 'state') == before


def test_a_failing_revoke_command_is_a_clear_error_and_is_tried_again(tmp_path, lab_certificates):
    first, second = lab_certificates
    command, log = revoke_script(tmp_path, fail_for=second['serial'])
    state = str(tmp_path / 'state')
    with pytest.raises(DovError) as caught:
        revocation.hand_over(state, 'Boorlog', 'oefen', LAB_CN, [first, second], command=command)
    assert str(caught.value) == ("The revoke command 'revoke.sh' exited with status 3; its stderr says: portal said: no "
                                 "such certificate. Fix the command and run again.")
    # The first was requested and is recorded; the second is not.
    assert revocation.recorded_states(state, 'Boorlog', 'oefen') == {first['fingerprint_sha256']: 'requested'}
    fixed, _log = revoke_script(tmp_path)
    result = revocation.hand_over(state, 'Boorlog', 'oefen', LAB_CN, [first, second], command=fixed)
    assert result.requested == [second['serial']]
    assert [call['DOV_REVOKE_SERIAL'] for call in calls_of(log)] == [first['serial'], second['serial']]


def test_a_revoke_command_that_cannot_start_names_the_variable(tmp_path, lab_certificates):
    with pytest.raises(DovError) as caught:
        revocation.hand_over(str(tmp_path), 'Boorlog', 'oefen', LAB_CN, lab_certificates[:1],
                             command=[str(tmp_path / 'no-such-program')])
    assert "The revoke command 'no-such-program' cannot be started" in str(caught.value)
    assert 'Check dov_revoke_command' in str(caught.value)
    assert os.listdir(str(tmp_path)) == []


def test_a_revoke_command_that_hangs_is_stopped(tmp_path, lab_certificates):
    with pytest.raises(DovError) as caught:
        revocation.hand_over(str(tmp_path), 'Boorlog', 'oefen', LAB_CN, lab_certificates[:1], command='sleep 30',
                             timeout=0.5)
    assert "The revoke command 'sleep' did not finish within 0.5 seconds and was stopped" in str(caught.value)
    assert revocation.read_record(str(tmp_path), 'Boorlog', 'oefen') is None


def test_a_handed_over_certificate_is_requested_once_a_command_is_set(tmp_path, lab_certificates):
    state = str(tmp_path / 'state')
    revocation.hand_over(state, 'Boorlog', 'oefen', LAB_CN, lab_certificates[:1])
    command, log = revoke_script(tmp_path)
    result = revocation.hand_over(state, 'Boorlog', 'oefen', LAB_CN, lab_certificates[:1], command=command)
    assert len(calls_of(log)) == 1 and result.requested == [lab_certificates[0]['serial']]
    assert [item['state'] for item in result.certificates] == ['requested']


def test_check_mode_runs_no_command(tmp_path, lab_certificates):
    command, log = revoke_script(tmp_path)
    result = revocation.hand_over(str(tmp_path / 'state'), 'Boorlog', 'oefen', LAB_CN, lab_certificates,
                                  command=command, check_mode=True)
    assert calls_of(log) == [] and not (tmp_path / 'state').exists()
    assert all(line.startswith('(check mode: nothing was written or run) ') for line in result.message)
    assert result.requested == [item['serial'] for item in lab_certificates] and result.changed is True


# ---------------------------------------------------------------- refusals

def refused(state, expected, *args, **options):
    before = files_of(state) if os.path.isdir(str(state)) else None
    with pytest.raises(DovError) as caught:
        revocation.hand_over(str(state), *args, **options)
    assert expected in str(caught.value)
    assert (files_of(state) if os.path.isdir(str(state)) else None) == before
    return str(caught.value)


def test_an_unknown_reason_is_refused_and_nothing_is_written(tmp_path, geodrill):
    refused(tmp_path, "The revocation reason 'obsolete' is not known. Use one of: application_retired, key_compromise",
            'Geodrill', 'oefen', CN, [geodrill], reason='obsolete', now=BEFORE_EXPIRY)


def test_a_certificate_of_another_cn_is_refused_and_nothing_is_written(tmp_path, geodrill):
    message = refused(tmp_path, "carries the CN %r, not the CN %r of Boorlog/oefen" % (CN, LAB_CN),
                      'Boorlog', 'oefen', LAB_CN, [geodrill], now=BEFORE_EXPIRY)
    assert 'Nothing was handed over' in message


@pytest.mark.parametrize('change, expected', [
    ({'serial': '24:F6'}, "The serial '24:F6' of a retired certificate is not hexadecimal"),
    ({'fingerprint_sha256': 'FD:8C'}, "The SHA-256 fingerprint 'FD:8C' of the certificate 24F6CA90000100002448 is not"),
    ({'not_after': '9 Jan 2026'}, "The not_after '9 Jan 2026' of the certificate 24F6CA90000100002448 is not a time"),
])
def test_a_description_with_a_bad_field_is_refused(tmp_path, geodrill, change, expected):
    description = dict(certs.describe_certificate(certload.load_certificates(geodrill)[0]), **change)
    refused(tmp_path, expected, 'Geodrill', 'oefen', CN, [description], now=BEFORE_EXPIRY)


def test_an_empty_revoke_command_is_refused(tmp_path, geodrill):
    refused(tmp_path, 'dov_revoke_command is empty', 'Geodrill', 'oefen', CN, [geodrill], command='  ')


def test_an_application_name_that_cannot_name_a_folder_is_refused(tmp_path, geodrill):
    refused(tmp_path, 'cannot name a folder', '..', 'oefen', CN, [geodrill])


def test_a_record_that_cannot_be_read_is_refused_and_left_alone(tmp_path, geodrill):
    folder = tmp_path / 'Geodrill' / 'oefen' / 'revocation'
    folder.mkdir(parents=True)
    (folder / 'revocation.json').write_text('{"version": 1, "certificates": ')
    refused(tmp_path, 'is not a revocation record the collection can read. Move it away', 'Geodrill', 'oefen', CN,
            [geodrill], now=BEFORE_EXPIRY)


def test_a_record_that_is_a_link_is_refused(tmp_path, geodrill):
    folder = tmp_path / 'Geodrill' / 'oefen' / 'revocation'
    folder.mkdir(parents=True)
    (tmp_path / 'elsewhere.json').write_text('{}')
    (folder / 'revocation.json').symlink_to(tmp_path / 'elsewhere.json')
    refused(tmp_path, 'revocation.json is a symbolic link', 'Geodrill', 'oefen', CN, [geodrill], now=BEFORE_EXPIRY)
    assert (tmp_path / 'elsewhere.json').read_text() == '{}'


def test_a_retired_pair_with_an_entry_still_present_is_refused():
    entries = [('app1', {'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}),
               ('app2', {'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov',
                         'state': 'absent'}),
               ('app3', {'application': 'Geodrill', 'environment': 'productie', 'dest_dir': '/opt/geodrill/dov'})]
    with pytest.raises(DovError) as caught:
        revocation.retired_entries_in_use([('Geodrill', 'oefen')], entries)
    assert str(caught.value) == ("A retired pair still has dov_certificates entries without state: absent "
                                 "(/opt/geodrill/dov on app1). Set state: absent on them (or remove retired: true) "
                                 "and run again.")
    revocation.retired_entries_in_use([('Geodrill', 'oefen')], entries[1:])
