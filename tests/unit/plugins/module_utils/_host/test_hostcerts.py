# -*- coding: utf-8 -*-
"""hostcerts: the host side of dov_cert (prepare = key + CSR + converge check; install with mTLS
check and roll back; verify).

Real keys, CSRs and lab CA certificates in tmp_path; the mTLS check talks to a small real HTTPS
server on 127.0.0.1 (Python's ssl) that demands a client certificate of the lab CA and records
the certificate it was shown.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import http.server
import os
import ssl
import stat
import sys
import tempfile
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostcerts
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import paths

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'integration'))
import tls_peers  # noqa: E402  (the server side of the test PKI, shared with the integration tests)

APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
P12_PASSWORD = 'p12-Secret-pw'
CERT_FILES = ('cert.pem', 'chain.pem', 'fullchain.pem')


def key_text(key):
    return pki.dump_private_key(key).decode('ascii')


def certificate_for(lab, key, **options):
    """What the controller keeps and sends: leaf + issuing CA (PEM text)."""
    csr = pki.dump_csr(pki.build_csr(key, CN))
    return (lab.sign_csr(csr, **options) + lab.issuing_pem()).decode('ascii')


def make_entry(dest, lab=None, holder=False, formats=('pem',), **more):
    item = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
            'dest_dir': str(dest), 'key_holder': holder, 'install': {'formats': list(formats)}}
    if lab is not None:
        item['install']['ca_bundle'] = lab.bundle_path
    item.update(more)
    return item


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def files_of(folder):
    """Every file in ``folder`` with its bytes and mode, or None when the folder does not exist."""
    if not os.path.isdir(str(folder)):
        return None
    found = {}
    for name in sorted(os.listdir(str(folder))):
        path = os.path.join(str(folder), name)
        with open(path, 'rb') as handle:
            found[name] = (handle.read(), mode_of(path))
    return found


def fingerprint_of_file(path):
    with open(str(path), 'rb') as handle:
        return pki.public_key_fingerprint(pki.load_private_key(handle.read()))


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.seen.append(self.connection.getpeercert(binary_form=True))
        body = b'Chuck Norris can verify a certificate by looking at it.'
        if server.drip:
            answer = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' % (len(body), body)
            for index in range(len(answer)):
                self.wfile.write(answer[index:index + 1])
                self.wfile.flush()
                time.sleep(1)
            return
        self.send_response(server.status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope='module')
def dov_server(lab, tmp_path_factory):
    """A DOV stand-in: TLS with the test server certificate, client certificates of the lab CA."""
    peers = tls_peers.PKI(tmp_path_factory.mktemp('server-pki'))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(peers.path('server.pem'), peers.path('server.key'))
    context.load_verify_locations(lab.bundle_path)
    context.verify_mode = ssl.CERT_REQUIRED
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.url = 'https://localhost:%d/dov-xdov-server/logs/chucknorris' % server.server_address[1]
    with open(peers.path('server-ca.pem')) as handle:
        server.trust = handle.read()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def dov(dov_server, tmp_path, monkeypatch):
    """The stand-in, answering 200 at once; the check's temporary trust files go to a folder of this test."""
    dov_server.seen, dov_server.status, dov_server.drip = [], 200, False
    temp = tmp_path / 'tmp'
    temp.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(temp))
    dov_server.temp = temp
    return dov_server


def check_of(dov, **more):
    return dict({'url': dov.url, 'timeout': 5.0, 'ca_bundle_pem': dov.trust, 'proxy': None}, **more)


def der_of_installed(dest, name='cert.pem'):
    with open(str(dest / name), 'rb') as handle:
        return x509.load_pem_x509_certificates(handle.read())[0].public_bytes(serialization.Encoding.DER)


# ---------------------------------------------------------------- paths

def test_key_and_csr_live_in_dest_dir_unless_given():
    assert paths({'dest_dir': '/opt/geodrill/dov'}) == ('/opt/geodrill/dov/key.pem', '/opt/geodrill/dov/csr.pem')
    assert paths({'dest_dir': '/opt/d', 'privatekey_path': '/etc/geodrill/private/dov.key'}) == (
        '/etc/geodrill/private/dov.key', '/etc/geodrill/private/csr.pem')
    assert paths({'dest_dir': '/opt/d', 'csr_path': '/tmp/x.csr'}) == ('/opt/d/key.pem', '/tmp/x.csr')


# ---------------------------------------------------------------- prepare

def test_prepare_on_the_key_holder_makes_a_0600_key_and_a_csr_once(tmp_path):
    dest = tmp_path / 'geodrill' / 'dov'
    result = hostcerts.prepare(make_entry(dest, holder=True))
    assert result['error'] is None
    assert result['changed'] is True and result['key_created'] is True
    assert mode_of(dest / 'key.pem') == 0o600
    assert result['key_fingerprint'] == fingerprint_of_file(dest / 'key.pem')
    csr = pki.load_csr((dest / 'csr.pem').read_bytes())
    assert pki.common_names(csr.subject) == [CN]
    assert pki.public_key_fingerprint(csr.public_key()) == result['key_fingerprint']
    assert result['csr'] == (dest / 'csr.pem').read_text()
    assert result['installed'] is None and result['converged'] is False
    assert (result['privatekey_path'], result['csr_path']) == (str(dest / 'key.pem'), str(dest / 'csr.pem'))

    key_bytes = (dest / 'key.pem').read_bytes()
    again = hostcerts.prepare(make_entry(dest, holder=True))
    assert again['changed'] is False and again['key_created'] is False
    assert again['key_fingerprint'] == result['key_fingerprint'] and again['csr'] == result['csr']
    assert (dest / 'key.pem').read_bytes() == key_bytes


def test_prepare_in_check_mode_writes_nothing_but_reports_the_key_and_csr_it_would_make(tmp_path):
    dest = tmp_path / 'dov'
    result = hostcerts.prepare(make_entry(dest, holder=True), check_mode=True)
    assert result['error'] is None and result['changed'] is True and result['key_created'] is True
    assert result['key_fingerprint'] and '-----BEGIN CERTIFICATE REQUEST-----' in result['csr']
    assert not dest.exists()


def test_prepare_on_a_host_without_the_key_reports_none_and_writes_nothing(tmp_path):
    dest = tmp_path / 'dov'
    result = hostcerts.prepare(make_entry(dest))
    assert result['error'] is None and result['changed'] is False
    assert (result['key_fingerprint'], result['csr'], result['key_created']) == (None, None, False)
    assert result['converged'] is False and result['installed'] is None
    assert not dest.exists()


def test_prepare_on_a_host_with_a_key_reports_its_fingerprint(tmp_path, key1):
    dest = tmp_path / 'dov'
    dest.mkdir()
    (dest / 'key.pem').write_text(key_text(key1))
    result = hostcerts.prepare(make_entry(dest))
    assert result['error'] is None
    assert result['key_fingerprint'] == pki.public_key_fingerprint(key1)
    assert result['csr'] is None


def test_a_garbage_key_is_an_entry_error_and_is_left_alone(tmp_path):
    for holder in (False, True):
        dest = tmp_path / ('holder' if holder else 'other')
        dest.mkdir()
        (dest / 'key.pem').write_bytes(b'this is not a key\n')
        result = hostcerts.prepare(make_entry(dest, holder=holder))
        assert result['error'] == (
            "%s is not a PEM private key (it does not hold a '-----BEGIN ... PRIVATE KEY-----' block). Point "
            "privatekey_path at the key, or move this file away to have a new key made." % (dest / 'key.pem'))
        assert (dest / 'key.pem').read_bytes() == b'this is not a key\n'
        assert sorted(os.listdir(str(dest))) == ['key.pem']


def test_a_cn_that_is_not_a_dov_cn_is_an_entry_error(tmp_path):
    result = hostcerts.prepare(make_entry(tmp_path / 'dov', holder=True, common_name='geolab.be/Geodrill'))
    assert "has 2 parts separated by '/', not 4" in result['error']
    assert not (tmp_path / 'dov').exists()


def test_an_unknown_owner_is_an_entry_error(tmp_path):
    result = hostcerts.prepare(make_entry(tmp_path / 'dov', holder=True, owner='no-such-user-dov'))
    assert result['error'] == "The user 'no-such-user-dov' does not exist on this host. Create it first or set another owner."
    assert not (tmp_path / 'dov').exists()


def test_prepare_is_converged_after_an_install_of_the_same_certificate(tmp_path, lab):
    dest = tmp_path / 'dov'
    first = hostcerts.prepare(make_entry(dest, lab, holder=True))
    certificate = (lab.sign_csr(first['csr']) + lab.issuing_pem()).decode('ascii')
    not_yet = hostcerts.prepare(make_entry(dest, lab, holder=True, certificate=certificate))
    assert not_yet['converged'] is False and 'install_problem' not in not_yet
    installed = hostcerts.install(make_entry(dest, lab, certificate=certificate))
    assert installed['error'] is None and installed['changed'] is True
    result = hostcerts.prepare(make_entry(dest, lab, holder=True, certificate=certificate))
    assert result['converged'] is True and result['changed'] is False
    assert result['installed']['common_name'] == CN
    renewed = (lab.sign_csr(first['csr']) + lab.issuing_pem()).decode('ascii')  # same key, another certificate
    assert hostcerts.prepare(make_entry(dest, lab, holder=True, certificate=renewed))['converged'] is False


def test_a_certificate_that_cannot_be_installed_is_reported_as_an_install_problem(tmp_path, lab, key1, key2):
    dest = tmp_path / 'dov'
    dest.mkdir()
    (dest / 'key.pem').write_text(key_text(key1))
    result = hostcerts.prepare(make_entry(dest, lab, certificate=certificate_for(lab, key2)))
    assert result['error'] is None and result['converged'] is False
    assert 'was issued for another key' in result['install_problem']


# ---------------------------------------------------------------- install

def test_install_writes_the_shared_key_0600_and_the_certificate(tmp_path, lab, key1):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1))
    result = hostcerts.install(entry)
    assert result['error'] is None
    assert result['changed'] is True and result['key_received'] is True
    assert mode_of(dest / 'key.pem') == 0o600
    assert fingerprint_of_file(dest / 'key.pem') == pki.public_key_fingerprint(key1)
    assert sorted(os.listdir(str(dest))) == ['.dov-manifest.json', 'cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem']
    leaf = certload.load_certificates((dest / 'cert.pem').read_bytes())
    assert len(leaf) == 1 and pki.public_key_fingerprint(leaf[0].public_key()) == pki.public_key_fingerprint(key1)
    assert result['common_name'] == CN and result['files']['cert']['changed'] is True
    assert 'check' not in result  # no check settings: no mTLS check

    again = hostcerts.install(entry)
    assert again['error'] is None
    assert again['changed'] is False and again['key_received'] is False


def test_install_runs_the_mtls_check_with_the_installed_files_and_the_server_trust(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1))
    result = hostcerts.install(entry, check=check_of(dov))
    assert result['error'] is None
    assert result['check']['verdict'] == 'ok' and result['check']['http_status'] == 200
    assert dov.seen == [der_of_installed(dest)]     # the server was shown the certificate just installed
    assert os.listdir(str(dov.temp)) == []          # the temporary trust file is gone


def test_install_with_pkcs12_only_presents_that_certificate_to_the_check(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, formats=['pkcs12'], certificate=certificate_for(lab, key1),
                       privatekey_content=key_text(key1))
    entry['install']['pkcs12_password'] = P12_PASSWORD
    result = hostcerts.install(entry, check=check_of(dov))
    assert result['error'] is None and result['check']['verdict'] == 'ok'
    assert len(dov.seen) == 1 and x509.load_der_x509_certificate(dov.seen[0]).subject.rfc4514_string().startswith('CN=' + CN)


def test_a_failed_check_puts_the_previous_key_and_files_back_byte_identical(tmp_path, lab, key1, key2, dov):
    dest = tmp_path / 'dov'
    previous = make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1))
    assert hostcerts.install(previous, check=check_of(dov))['error'] is None
    before = files_of(dest)
    assert sorted(before) == ['.dov-manifest.json', 'cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem']

    dov.status = 403
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key2), privatekey_content=key_text(key2))
    result = hostcerts.install(entry, check=check_of(dov))
    assert fingerprint_of_file(dest / 'key.pem') != pki.public_key_fingerprint(key2)
    assert files_of(dest) == before
    assert dov.seen[-1] != der_of_installed(dest)   # the new certificate was the one checked
    assert sorted(os.path.basename(path) for path in result['rolled_back']) == ['cert.pem', 'fullchain.pem', 'key.pem']
    assert result['check']['verdict'] == 'not_authorised'
    assert result['error'].startswith('The mTLS check from this host gave not_authorised: The certificate works but '
                                      'DOV has not granted this CN rights (HTTP 403)')
    assert result['error'].endswith('The previous files were put back.')


def test_a_failed_check_of_a_renewed_certificate_puts_the_old_certificate_back_and_keeps_the_key(tmp_path, lab, dov):
    dest = tmp_path / 'dov'
    holder = hostcerts.prepare(make_entry(dest, lab, holder=True))
    old = (lab.sign_csr(holder['csr']) + lab.issuing_pem()).decode('ascii')
    assert hostcerts.install(make_entry(dest, lab, certificate=old))['error'] is None
    before = files_of(dest)
    renewed = (lab.sign_csr(holder['csr']) + lab.issuing_pem()).decode('ascii')
    dov.status = 500
    result = hostcerts.install(make_entry(dest, lab, certificate=renewed), check=check_of(dov))
    assert result['check']['verdict'] == 'http_error'
    assert files_of(dest) == before
    assert sorted(os.path.basename(path) for path in result['rolled_back']) == ['cert.pem', 'fullchain.pem']
    assert result['key_received'] is False
    assert result['error'].endswith('The previous files were put back.')


def test_a_server_that_drips_its_answer_gives_timeout_within_the_check_timeout_and_rolls_back(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    assert hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1),
                                        privatekey_content=key_text(key1)))['error'] is None
    before = files_of(dest)
    dov.drip = True
    result = hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1)), check=check_of(dov, timeout=2))
    assert result['check']['verdict'] == 'timeout', result['check']
    assert 'within 2 s' in result['check']['hint']
    assert files_of(dest) == before


def test_an_untrusted_server_names_dov_server_ca_bundle_not_a_temporary_file(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1))
    with open(lab.bundle_path) as handle:
        wrong_trust = handle.read()
    result = hostcerts.install(entry, check=check_of(dov, ca_bundle_pem=wrong_trust))
    assert result['check']['verdict'] == 'server_untrusted'
    assert 'dov_server_ca_bundle' in result['check']['hint']
    assert 'dov-check-' not in result['check']['hint'] and str(dov.temp) not in result['check']['hint']
    assert dov.seen == []       # nothing was sent to an unverified server


def test_a_check_with_bad_local_input_counts_as_a_failed_check(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    assert hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1),
                                        privatekey_content=key_text(key1)))['error'] is None
    before = files_of(dest)
    result = hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1)),
                               check={'url': dov.url, 'ca_bundle': '/nope'})
    assert result['check']['verdict'] == 'error'
    assert result['check']['hint'].startswith('The CA bundle /nope does not exist.')
    assert result['error'].startswith('The mTLS check from this host gave error: The CA bundle /nope does not exist.')
    assert files_of(dest) == before


def test_a_first_install_with_a_failed_check_keeps_its_files_and_reports_the_error(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    dov.status = 403
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1))
    result = hostcerts.install(entry, check=check_of(dov))
    assert result['rolled_back'] == []
    assert result['error'].startswith('The mTLS check from this host gave not_authorised:')
    assert sorted(os.listdir(str(dest))) == ['cert.pem', 'chain.pem', 'fullchain.pem', 'key.pem']  # kept for inspection
    assert result['changed'] is True


def test_a_refused_certificate_writes_nothing_not_even_the_received_key(tmp_path, lab, key1, key2, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key2), privatekey_content=key_text(key1))
    result = hostcerts.install(entry, check=check_of(dov))
    assert 'was issued for another key' in result['error']
    assert dov.seen == []
    assert files_of(dest) is None       # the key is checked with the certificate before anything is written


def test_a_refused_certificate_leaves_a_previous_install_as_it_was(tmp_path, lab, key1, key2):
    dest = tmp_path / 'dov'
    assert hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1),
                                        privatekey_content=key_text(key1)))['error'] is None
    before = files_of(dest)
    expired = certificate_for(lab, key2, not_before=validity.utcnow() - datetime.timedelta(days=400), days=30)
    result = hostcerts.install(make_entry(dest, lab, certificate=expired, privatekey_content=key_text(key2)))
    assert 'expired on' in result['error']
    assert files_of(dest) == before


def test_install_in_check_mode_writes_nothing(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1))
    result = hostcerts.install(entry, check=check_of(dov), check_mode=True)
    assert result['changed'] is True and result['key_received'] is True and result['error'] is None
    assert not dest.exists() and dov.seen == []


def test_install_in_check_mode_on_the_key_holder_shows_the_diff_and_writes_nothing(tmp_path, lab, dov):
    dest = tmp_path / 'dov'
    holder = hostcerts.prepare(make_entry(dest, lab, holder=True))
    before = files_of(dest)
    certificate = (lab.sign_csr(holder['csr']) + lab.issuing_pem()).decode('ascii')
    result = hostcerts.install(make_entry(dest, lab, certificate=certificate), check=check_of(dov), check_mode=True)
    assert result['error'] is None and result['changed'] is True
    assert result['diff']['before'] == {} and result['diff']['after']['subject'].startswith('CN=')
    assert files_of(dest) == before and dov.seen == []


# ---------------------------------------------------------------- verify

def test_verify_reports_an_error_when_nothing_is_installed(tmp_path, dov):
    result = hostcerts.verify(make_entry(tmp_path / 'dov', check=check_of(dov)))
    assert result['error'] == 'No certificate is installed in %s. Run onboard.yml first.' % (tmp_path / 'dov')
    assert result['installed'] is None and dov.seen == []


def test_verify_checks_what_is_installed_and_reports_the_verdict(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    assert hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1),
                                        privatekey_content=key_text(key1)))['error'] is None
    before = files_of(dest)
    result = hostcerts.verify(make_entry(dest, check=check_of(dov)))
    assert result['error'] is None and result['changed'] is False
    assert result['check']['verdict'] == 'ok'
    assert result['installed']['common_name'] == CN and result['installed']['days_left'] > 1800
    assert dov.seen == [der_of_installed(dest)]

    dov.status = 403
    failed = hostcerts.verify(make_entry(dest, check=check_of(dov)))
    assert failed['error'].startswith('The mTLS check from this host gave not_authorised:')
    assert files_of(dest) == before  # verify never changes anything


def test_verify_without_check_settings_is_an_error(tmp_path, lab, key1):
    dest = tmp_path / 'dov'
    hostcerts.install(make_entry(dest, lab, certificate=certificate_for(lab, key1), privatekey_content=key_text(key1)))
    result = hostcerts.verify(make_entry(dest))
    assert result['error'] == 'No check settings were given (dov_verify is false).'


def test_verify_checks_a_pkcs12_only_install(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, formats=['pkcs12'], certificate=certificate_for(lab, key1),
                       privatekey_content=key_text(key1))
    entry['install']['pkcs12_password'] = P12_PASSWORD
    assert hostcerts.install(entry)['error'] is None
    assert sorted(os.listdir(str(dest))) == ['.dov-manifest.json', 'bundle.p12', 'key.pem']
    checked = make_entry(dest, formats=['pkcs12'], check=check_of(dov))
    checked['install']['pkcs12_password'] = P12_PASSWORD
    result = hostcerts.verify(checked)
    assert result['error'] is None and result['check']['verdict'] == 'ok'
    assert len(dov.seen) == 1


def test_a_jks_only_install_is_checked_with_the_key_and_certificate_of_the_keystore(tmp_path, lab, key1, dov):
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, formats=['jks'], certificate=certificate_for(lab, key1),
                       privatekey_content=key_text(key1))
    entry['install']['jks_password'] = P12_PASSWORD
    installed = hostcerts.install(entry, check=check_of(dov))
    assert installed['error'] is None and installed['check']['verdict'] == 'ok'
    checked = make_entry(dest, formats=['jks'], check=check_of(dov))
    checked['install']['jks_password'] = P12_PASSWORD
    verified = hostcerts.verify(checked)
    assert verified['error'] is None and verified['check']['verdict'] == 'ok'
    assert verified['installed']['common_name'] == CN
    assert len(dov.seen) == 2 and dov.seen[0] == dov.seen[1]

    checked['install']['jks_password'] = 'not-the-password'
    wrong = hostcerts.verify(checked)
    assert wrong['error'].startswith('The keystore %s is missing or does not open with jks_password.' % (dest / 'keystore.jks'))
    assert 'not-the-password' not in wrong['error'] and len(dov.seen) == 2


# ---------------------------------------------------------------- prepare reports what is installed by hand

def found_entry(dest, holder=False, **more):
    return dict({'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
                 'dest_dir': str(dest), 'key_holder': holder, 'install': {'formats': ['pem']}}, **more)


def hand_installed(dest, lab, key, key_name='key.pem', cert_name='cert.pem', **options):
    """A key and a certificate put in dest by hand: leaf only, no chain file, no CSR, no manifest."""
    os.makedirs(str(dest), exist_ok=True)
    (dest / key_name).write_bytes(pki.dump_private_key(key))
    os.chmod(str(dest / key_name), 0o600)
    (dest / cert_name).write_bytes(lab.sign_csr(pki.dump_csr(pki.build_csr(key, CN)), **options))


def test_prepare_reports_a_hand_installed_certificate_and_writes_no_csr_beside_it(tmp_path, lab, key1):
    hand_installed(tmp_path, lab, key1, 'client.key', 'client.crt')
    before = files_of(tmp_path)
    result = hostcerts.prepare(found_entry(tmp_path, holder=True, files={'key': 'client.key', 'cert': 'client.crt'}))
    assert result['error'] is None and result['changed'] is False
    assert files_of(tmp_path) == before                   # no csr.pem, nothing rewritten
    leaf = certload.load_certificates(result['installed_pem'].encode('ascii'))[0]
    assert pki.public_key_fingerprint(leaf.public_key()) == result['key_fingerprint'] == pki.public_key_fingerprint(key1)
    assert result['installed']['common_name'] == CN and result['installed']['issuer']
    assert result['installed']['fingerprint_sha256'] == certs.fingerprint_sha256(leaf)
    assert result['complete'] is True and result['converged'] is False
    assert 'BEGIN CERTIFICATE REQUEST' in result['csr']    # reported all the same, in memory


def test_prepare_writes_the_csr_when_the_installed_certificate_has_expired(tmp_path, lab, key1):
    hand_installed(tmp_path, lab, key1, not_before=datetime.datetime.utcnow() - datetime.timedelta(days=20), days=10)
    result = hostcerts.prepare(found_entry(tmp_path, holder=True))
    assert result['changed'] is True and (tmp_path / 'csr.pem').exists()
    assert result['installed']['days_left'] < 0


def test_prepare_without_the_files_of_every_format_says_incomplete(tmp_path, lab, key1):
    hand_installed(tmp_path, lab, key1)
    item = found_entry(tmp_path)
    item['install']['formats'] = ['pem', 'pkcs12']
    result = hostcerts.prepare(item)
    assert result['installed_pem'] and result['complete'] is False


def test_prepare_on_an_empty_folder_reports_nothing_installed(tmp_path):
    result = hostcerts.prepare(found_entry(tmp_path / 'dov'))
    assert (result['installed'], result['installed_pem'], result['complete']) == (None, None, False)
