# -*- coding: utf-8 -*-
"""tlsprobe: the mapping from what the wire shows to verdict and hint, plus small real servers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import ssl
import sys
import threading

import pytest

from cryptography import x509
from OpenSSL import SSL

from ansible_collections.vlaanderen.dov.plugins.module_utils import tlsprobe
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'integration'))
import tls_peers  # noqa: E402  (the test PKI shared with the integration tests)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'fixtures', 'vo-pki')
PATH = 'dov-xdov-server/logs/chucknorris'


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return tls_peers.PKI(tmp_path_factory.mktemp('pki'))


def load(pki, name):
    with open(pki.path(name + '.pem'), 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read())


def identity(pki, name):
    return tlsprobe.load_identity(**pki.pem_args(name))


# ---------------------------------------------------------------- URLs

def test_url_wins_over_environment_and_the_health_path_is_appended():
    assert tlsprobe.build_url('oefen') == 'https://services-oefen.dov.vlaanderen.be/' + PATH
    assert tlsprobe.build_url('productie', health_path='dovinstrumentserver/chucknorris') == \
        'https://services.dov.vlaanderen.be/dovinstrumentserver/chucknorris'
    assert tlsprobe.build_url('oefen', url='https://localhost:8443', health_path='/x/y') == 'https://localhost:8443/x/y'
    assert tlsprobe.build_url(None, url='https://h/base/', health_path=PATH) == 'https://h/base/' + PATH


def test_endpoint_overrides_replace_the_environment_url():
    assert tlsprobe.build_url('oefen', overrides={'oefen': 'https://standin:9443'}) == 'https://standin:9443/' + PATH


@pytest.mark.parametrize('url', ['http://services.dov.vlaanderen.be/', 'ftp://x/', 'https:///nohost'])
def test_a_url_that_is_not_https_is_refused(url):
    with pytest.raises(DovError, match='https'):
        tlsprobe.build_url(None, url=url)


def test_no_environment_and_no_url_is_refused():
    with pytest.raises(DovError, match='environment'):
        tlsprobe.build_url(None, None)


def test_a_password_in_a_url_is_redacted():
    assert tlsprobe._redact_url('http://user:s3cret@proxy:3128') == 'http://user:***@proxy:3128'
    assert 's3cret' not in tlsprobe._redact_url('http://user:s3cret@proxy')


# ---------------------------------------------------------------- proxies

def test_https_proxy_from_the_environment_lower_case_first():
    env = {'HTTPS_PROXY': 'http://upper:1', 'https_proxy': 'http://lower:2'}
    assert tlsprobe.proxy_from_environment('services.dov.vlaanderen.be', 443, env) == 'http://lower:2'
    assert tlsprobe.proxy_from_environment('services.dov.vlaanderen.be', 443, {'HTTPS_PROXY': 'http://p:3'}) == 'http://p:3'
    assert tlsprobe.proxy_from_environment('services.dov.vlaanderen.be', 443, {'http_proxy': 'http://p:3'}) is None


@pytest.mark.parametrize('no_proxy, host, bypass', [
    ('vlaanderen.be', 'services.dov.vlaanderen.be', True),
    ('.vlaanderen.be', 'services.dov.vlaanderen.be', True),
    ('*.vlaanderen.be', 'services.dov.vlaanderen.be', True),
    ('*', 'services.dov.vlaanderen.be', True),
    ('services.dov.vlaanderen.be', 'services.dov.vlaanderen.be', True),
    ('ervlaanderen.be', 'services.dov.vlaanderen.be', False),
    ('localhost, 127.0.0.1', 'services.dov.vlaanderen.be', False),
    ('10.0.0.0/8', '10.1.2.3', True),
    ('10.0.0.0/8', '11.1.2.3', False),
    ('services.dov.vlaanderen.be:8443', 'services.dov.vlaanderen.be', False),
    ('services.dov.vlaanderen.be:443', 'services.dov.vlaanderen.be', True),
    ('', 'services.dov.vlaanderen.be', False),
])
def test_no_proxy_selects_which_hosts_go_direct(no_proxy, host, bypass):
    env = {'https_proxy': 'http://proxy:3128', 'no_proxy': no_proxy}
    assert (tlsprobe.proxy_from_environment(host, 443, env) is None) is bypass


def test_proxy_url_parsing_with_credentials():
    host, port, authorization = tlsprobe._parse_proxy('http://me:p%40ss@proxy.example:8080')
    assert (host, port) == ('proxy.example', 8080)
    import base64
    assert base64.b64decode(authorization.split()[1]) == b'me:p@ss'
    assert tlsprobe._parse_proxy('proxy.example')[:2] == ('proxy.example', 3128)
    with pytest.raises(DovError, match='http://'):
        tlsprobe._parse_proxy('socks5://proxy:1080')


# ---------------------------------------------------------------- names and certificates

def test_host_names_are_checked_strictly_against_the_subject_alt_name(pki):
    server = load(pki, 'server')
    assert tlsprobe.host_matches(server, 'localhost')
    assert tlsprobe.host_matches(server, 'LOCALHOST.')
    assert not tlsprobe.host_matches(server, '127.0.0.1')
    assert not tlsprobe.host_matches(server, 'localhost.evil.example')


def _with_san(names):
    key = tls_peers._key()
    return tls_peers._cert(tls_peers._name('x'), key, tls_peers._name('x'), key, san=names)


def test_wildcards_cover_one_whole_label_only():
    cert = _with_san([x509.DNSName('*.dov.vlaanderen.be'), x509.DNSName('f*o.example.be'), x509.DNSName('*.be')])
    assert tlsprobe.host_matches(cert, 'services.dov.vlaanderen.be')
    assert not tlsprobe.host_matches(cert, 'a.services.dov.vlaanderen.be')
    assert not tlsprobe.host_matches(cert, 'dov.vlaanderen.be')
    assert not tlsprobe.host_matches(cert, 'foo.example.be')
    assert not tlsprobe.host_matches(cert, 'vlaanderen.be')


def test_a_certificate_without_subject_alt_name_matches_nothing_not_even_its_cn():
    key = tls_peers._key()
    cert = tls_peers._cert(tls_peers._name('localhost'), key, tls_peers._name('localhost'), key)
    assert not tlsprobe.host_matches(cert, 'localhost')


def test_ip_addresses_match_ip_entries_only():
    import ipaddress
    cert = _with_san([x509.IPAddress(ipaddress.ip_address('127.0.0.1')), x509.DNSName('127.0.0.2')])
    assert tlsprobe.host_matches(cert, '127.0.0.1')
    assert not tlsprobe.host_matches(cert, '127.0.0.2')


def test_describe_certificate_counts_days_left(pki):
    described = tlsprobe.describe_certificate(load(pki, 'expired'))
    assert described['subject'].startswith('CN=' + tls_peers.GOOD_CN)
    assert described['days_left'] < -300
    assert described['not_after'].endswith('Z')


def test_real_vo_pki_certificate_is_described_and_has_client_usage():
    with open(os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem'), 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    described = tlsprobe.describe_certificate(cert)
    assert 'geolab.be/dov-services/oefen/Geodrill' in described['subject']
    assert 'Vlaamse overheid' in described['issuer']
    assert tlsprobe.usage_problem(cert) is None


def test_issuer_is_compared_with_the_acceptable_ca_list(pki):
    good, rogue = load(pki, 'good'), load(pki, 'rogue')
    client_ca = load(pki, 'client-ca')
    acceptable = [client_ca.subject.public_bytes()]
    assert tlsprobe.issuer_accepted([good], acceptable) is True
    assert tlsprobe.issuer_accepted([rogue], acceptable) is False
    assert tlsprobe.issuer_accepted([good], []) is None
    # An intermediate sent with the certificate, issued by an accepted root, counts as accepted.
    assert tlsprobe.issuer_accepted([rogue, client_ca], acceptable) is True
    # DN strings compare case-insensitively.
    assert tlsprobe.issuer_accepted([good], [pki.client_ca_dn.upper()]) is True


def test_wrong_key_usage_is_named(pki):
    assert 'clientAuth' in tlsprobe.usage_problem(load(pki, 'serveronly'))
    assert tlsprobe.usage_problem(load(pki, 'good')) is None


# ---------------------------------------------------------------- alerts and HTTP answers

@pytest.mark.parametrize('reason, alert', [
    ('tlsv1 alert unknown ca', 'unknown ca'),
    ('sslv3 alert certificate expired', 'certificate expired'),
    ('tlsv13 alert certificate required', 'certificate required'),
    ('sslv3 alert bad certificate', 'bad certificate'),
    ('certificate verify failed', None),
])
def test_alert_names_are_read_from_openssl_errors(reason, alert):
    assert tlsprobe.alert_of(SSL.Error([('SSL routines', '', reason)])) == alert


def _state(pki, name, acceptable=None):
    ident = identity(pki, name) if name else None
    acceptable = [pki.client_ca_dn] if acceptable is None else acceptable
    accepted = tlsprobe.issuer_accepted(ident.chain, acceptable) if ident and acceptable else None
    return {'host': 'localhost', 'target': 'localhost:443', 'ca_bundle': None, 'identity': ident,
            'verify_errors': [], 'server_cert': None, 'acceptable': acceptable, 'acceptable_der': acceptable,
            'accepted': accepted, 'alert': None, 'eof_error': None}


def _classify(state, reason):
    with pytest.raises(tlsprobe._Verdict) as caught:
        tlsprobe._classify_tls_error(SSL.Error([('SSL routines', '', reason)]), state, 'handshake')
    return caught.value


@pytest.mark.parametrize('name, reason, words', [
    ('expired', 'sslv3 alert certificate expired', 'expired on'),
    ('rogue', 'tlsv1 alert unknown ca', 'Unknown issuer'),
    ('serveronly', 'sslv3 alert unsupported certificate', 'Wrong key usage'),
    (None, 'tlsv13 alert certificate required', 'No client certificate was sent'),
    (None, 'sslv3 alert handshake failure', 'No client certificate was sent'),
    ('good', 'sslv3 alert bad certificate', "alert 'bad certificate'"),
])
def test_client_certificate_alerts_become_client_cert_rejected_with_the_reason(pki, name, reason, words):
    verdict = _classify(_state(pki, name), reason)
    assert verdict.verdict == 'client_cert_rejected'
    assert words in verdict.hint


def test_unknown_issuer_hint_names_the_issuer_and_the_accepted_cas(pki):
    hint = _classify(_state(pki, 'rogue'), 'tlsv1 alert unknown ca').hint
    assert pki.rogue_ca_dn in hint and pki.client_ca_dn in hint


def test_certificate_verify_failed_is_server_untrusted_not_a_client_problem(pki):
    state = _state(pki, 'good')
    state['verify_errors'] = [(0, 20)]
    state['server_cert'] = load(pki, 'server')
    verdict = _classify(state, 'certificate verify failed')
    assert verdict.verdict == 'server_untrusted'
    assert 'ca_bundle' in verdict.hint and 'unable to get local issuer certificate' in verdict.hint


def test_host_name_mismatch_from_openssl_is_server_untrusted_naming_the_names(pki):
    state = _state(pki, 'good')
    state['verify_errors'] = [(0, 62)]
    state['server_cert'] = load(pki, 'server')
    verdict = _classify(state, 'certificate verify failed')
    assert verdict.verdict == 'server_untrusted' and 'not valid for the name localhost' in verdict.hint


def test_other_handshake_failures_are_connect_errors(pki):
    assert _classify(_state(pki, 'good', []), 'sslv3 alert handshake failure').verdict == 'connect_error'
    assert 'does not speak TLS' in _classify(_state(pki, 'good'), 'wrong version number').hint


@pytest.mark.parametrize('status, body, verdict', [
    (200, 'Chuck', 'ok'),
    (204, '', 'http_error'),
    (403, 'Forbidden', 'not_authorised'),
    (401, 'Unauthorized', 'not_authorised'),
    (400, '<html><center>No required SSL certificate was sent</center></html>', 'client_cert_rejected'),
    (400, '<html><center>The SSL certificate error</center></html>', 'client_cert_rejected'),
    (400, 'Bad Request', 'http_error'),
    (495, '', 'client_cert_rejected'),
    (500, 'oops', 'http_error'),
    (404, 'Not found', 'http_error'),
])
def test_http_status_mapping(pki, status, body, verdict):
    got, hint = tlsprobe.verdict_for_status(status, body, (200,), identity(pki, 'good'), True, [pki.client_ca_dn])
    assert got == verdict
    assert hint


def test_not_authorised_hint_names_the_meldpunt_and_the_cn(pki):
    verdict, hint = tlsprobe.verdict_for_status(403, '', (200,), identity(pki, 'other'), True, [])
    assert verdict == 'not_authorised'
    assert 'meldpunt@dov.vlaanderen.be' in hint and tls_peers.OTHER_CN in hint


def test_expected_status_is_configurable(pki):
    assert tlsprobe.verdict_for_status(204, '', [200, 204], identity(pki, 'good'), True, [])[0] == 'ok'


def test_nginx_400_for_an_expired_certificate_says_expired(pki):
    verdict, hint = tlsprobe.verdict_for_status(400, 'The SSL certificate error', (200,), identity(pki, 'expired'), True, [])
    assert verdict == 'client_cert_rejected' and 'expired on' in hint


def test_http_responses_are_parsed_including_chunked():
    assert tlsprobe.parse_response(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok') == (200, 'ok')
    chunked = b'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n3\r\n!!!\r\n0\r\n\r\n'
    assert tlsprobe.parse_response(chunked) == (403, 'nope!!!')
    assert tlsprobe.parse_response(b'garbage') == (None, '')


# ---------------------------------------------------------------- local input

def test_pkcs12_and_encrypted_pem_open_with_their_secrets(pki):
    p12 = tlsprobe.load_identity(pkcs12_path=pki.path('good.p12'), pkcs12_password=tls_peers.P12_PASSWORD)
    pem = tlsprobe.load_identity(client_cert=pki.path('good.pem'), client_key=pki.path('good-enc.key'),
                                 client_key_passphrase=tls_peers.KEY_PASSPHRASE)
    assert p12.cert == pem.cert


def test_wrong_secrets_are_refused_without_showing_them(pki):
    with pytest.raises(DovError) as caught:
        tlsprobe.load_identity(pkcs12_path=pki.path('good.p12'), pkcs12_password='wrong-one')
    assert 'wrong-one' not in str(caught.value) and 'pkcs12_password' in str(caught.value)
    with pytest.raises(DovError, match='client_key_passphrase'):
        tlsprobe.load_identity(client_cert=pki.path('good.pem'), client_key=pki.path('good-enc.key'))
    with pytest.raises(DovError, match='passphrase'):
        tlsprobe.load_identity(client_cert=pki.path('good.pem'), client_key=pki.path('good-enc.key'),
                               client_key_passphrase='nope')


def test_a_key_of_another_certificate_is_refused(pki, tmp_path):
    with pytest.raises(DovError, match='does not belong'):
        tlsprobe.probe('https://localhost:1/', client_cert=pki.path('good.pem'), client_key=pki.path('other.key'), timeout=2)


def test_missing_files_are_named(pki, tmp_path):
    with pytest.raises(DovError, match='Cannot read the client certificate'):
        tlsprobe.probe('https://localhost:1/', client_cert=str(tmp_path / 'nope.pem'), timeout=2)
    with pytest.raises(DovError, match='CA bundle'):
        tlsprobe.probe('https://localhost:1/', ca_bundle=str(tmp_path / 'nope.pem'), timeout=2)


# ---------------------------------------------------------------- small real servers

class _Server(object):
    """A stdlib TLS server on 127.0.0.1 that demands a client certificate and answers ``reply``."""

    def __init__(self, pki, reply=b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok', silent=False):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.path('server.pem'), pki.path('server.key'))
        context.load_verify_locations(pki.path('client-ca.pem'))
        context.verify_mode = ssl.CERT_REQUIRED
        self.context = context
        self.reply = reply
        self.silent = silent
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(5)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                raw, _address = self.listener.accept()
            except OSError:
                return
            if self.silent:
                continue        # accept, never answer: a timeout
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(4096)
                    conn.sendall(self.reply)
            except (ssl.SSLError, OSError):
                pass

    def close(self):
        self.listener.close()


def test_a_real_stdlib_server_gives_ok_and_no_ca_list(pki):
    # CPython's ssl never sends the client CA names (no SSL_CTX_set_client_CA_list), so the list is
    # empty and the issuer comparison is null: "no list", not "not accepted". nginx and s_server,
    # which do send it, are in the integration tests.
    server = _Server(pki)
    try:
        result = tlsprobe.probe('https://localhost:%d/%s' % (server.port, PATH), ca_bundle=pki.path('server-ca.pem'),
                                timeout=5, **pki.pem_args('good'))
    finally:
        server.close()
    assert result['verdict'] == 'ok', result
    assert result['http_status'] == 200 and result['response_excerpt'] == 'ok'
    assert result['acceptable_client_cas'] == []
    assert result['client_issuer_accepted'] is None
    assert result['tls_version'] in ('TLSv1.2', 'TLSv1.3')
    assert result['server_certificate']['subject'] == 'CN=localhost,O=Lab,C=BE'


def test_the_system_store_does_not_trust_a_private_ca(pki):
    server = _Server(pki)
    try:
        result = tlsprobe.probe('https://localhost:%d/' % server.port, timeout=5, **pki.pem_args('good'))
    finally:
        server.close()
    assert result['verdict'] == 'server_untrusted', result
    assert result['server_certificate']['issuer'] == 'CN=Lab Server Root CA,O=Lab,C=BE'


def test_a_trusted_certificate_for_another_name_is_server_untrusted(pki):
    server = _Server(pki)
    try:
        result = tlsprobe.probe('https://127.0.0.1:%d/' % server.port, ca_bundle=pki.path('server-ca.pem'),
                                timeout=5, **pki.pem_args('good'))
    finally:
        server.close()
    assert result['verdict'] == 'server_untrusted', result
    assert 'not valid for the name 127.0.0.1' in result['hint']
    assert result['http_status'] is None        # nothing was sent to the impostor


def test_a_server_that_never_answers_is_a_timeout(pki):
    server = _Server(pki, silent=True)
    try:
        result = tlsprobe.probe('https://localhost:%d/' % server.port, ca_bundle=pki.path('server-ca.pem'),
                                timeout=1, **pki.pem_args('good'))
    finally:
        server.close()
    assert result['verdict'] == 'timeout', result
    assert 900 <= result['elapsed_ms'] < 3000


def test_a_closed_port_is_a_connect_error():
    port = tls_peers.free_port()
    result = tlsprobe.probe('https://127.0.0.1:%d/' % port, timeout=3)
    assert result['verdict'] == 'connect_error' and 'refused' in result['hint']


def test_an_unresolvable_name_is_a_dns_error():
    assert tlsprobe.probe('https://no-such-host.invalid/', timeout=3)['verdict'] == 'dns_error'


def test_a_proxy_that_is_not_there_is_a_proxy_error():
    port = tls_peers.free_port()
    result = tlsprobe.probe('https://localhost:1/', proxy='http://127.0.0.1:%d' % port, timeout=3)
    assert result['verdict'] == 'proxy_error'
    assert result['proxy'] == 'http://127.0.0.1:%d' % port


def test_the_context_never_trusts_all(pki):
    context = tlsprobe._context(pki.path('server-ca.pem'), None)
    # _context leaves the verify mode to probe(), which sets VERIFY_PEER; prove probe sets it.
    seen = {}
    real = SSL.Context.set_verify

    def spy(self, mode, callback=None):
        seen['mode'] = mode
        return real(self, mode, callback)
    SSL.Context.set_verify = spy
    try:
        tlsprobe.probe('https://127.0.0.1:%d/' % tls_peers.free_port(), timeout=1)
    finally:
        SSL.Context.set_verify = real
    assert seen['mode'] == SSL.VERIFY_PEER
    assert context is not None


def test_the_source_holds_no_switch_to_disable_verification():
    with open(tlsprobe.__file__) as handle:
        source = handle.read()
    for forbidden in ('VERIFY_NONE', 'CERT_NONE', 'verify=False', 'check_hostname = False'):
        assert forbidden not in source
