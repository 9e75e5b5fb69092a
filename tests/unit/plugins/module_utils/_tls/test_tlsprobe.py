# -*- coding: utf-8 -*-
"""tlsprobe: the mapping from what the wire shows to verdict and hint, plus small real servers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import socket
import ssl
import sys
import threading
import time

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs
from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlsdiagnosis, tlsprobe, tlswire
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'integration'))
import tls_peers  # noqa: E402  (the test PKI shared with the integration tests)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fixtures', 'vo-pki')
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


# ---------------------------------------------------------------- proxies (the standard library's rules)


# ---------------------------------------------------------------- certificates

def test_the_client_certificate_is_described_as_everywhere_in_the_collection(pki):
    described = tlsprobe.describe_certificate(load(pki, 'expired'))
    assert described == certs.describe_certificate(load(pki, 'expired'))
    assert described['subject'].startswith('CN=' + tls_peers.GOOD_CN)
    assert described['days_left'] < -300


def test_real_vo_pki_certificate_has_client_usage():
    with open(os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem'), 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    assert certs.client_auth_problem(cert) is None


def test_issuer_is_compared_with_the_acceptable_ca_list(pki):
    good, rogue = load(pki, 'good'), load(pki, 'rogue')
    client_ca = load(pki, 'client-ca')
    acceptable = [client_ca.subject.public_bytes()]
    assert tlsdiagnosis.issuer_accepted([good], acceptable) is True
    assert tlsdiagnosis.issuer_accepted([rogue], acceptable) is False
    # An intermediate sent with the certificate, issued by an accepted root, counts as accepted.
    assert tlsdiagnosis.issuer_accepted([rogue, client_ca], acceptable) is True


def test_wrong_key_usage_is_named_in_the_hint(pki):
    seen = _seen(pki, 'serveronly')
    hint = tlsdiagnosis.client_cert_hint(None, seen.identity, True, seen.acceptable)
    assert 'Wrong key usage' in hint and 'serverAuth' in hint


def test_any_extended_key_usage_alone_is_not_client_authentication():
    key = tls_peers._key()
    cert = tls_peers._cert(tls_peers._name('x'), key, tls_peers._name('x'), key,
                           eku=[x509.oid.ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    assert 'anyExtendedKeyUsage' in certs.client_auth_problem(cert)
    with pytest.raises(DovError, match='does not allow client authentication'):
        certs.check_client_auth(cert)


# ---------------------------------------------------------------- alerts and HTTP answers

@pytest.mark.parametrize('reason, alert', [
    ('tlsv1 alert unknown ca', 'unknown ca'),
    ('sslv3 alert certificate expired', 'certificate expired'),
    ('tlsv13 alert certificate required', 'certificate required'),
    ('sslv3 alert bad certificate', 'bad certificate'),
    ('certificate verify failed', None),
])
def test_alert_names_are_read_from_openssl_errors(reason, alert):
    assert tlsdiagnosis.alert_of(SSL.Error([('SSL routines', '', reason)])) == alert


def _seen(pki, name, acceptable=None, requested=True):
    """What a handshake showed; by default one in which the server asked for the client
    certificate and the one given went out (as Session records it from OpenSSL's states)."""
    seen = tlsdiagnosis.Seen('localhost', 443, identity(pki, name) if name else None,
                             ("this host's system trust store", 'ca_bundle'))
    seen.cert_requested = requested
    seen.cert_sent = requested and seen.identity is not None
    seen.acceptable = [pki.client_ca_dn] if acceptable is None else acceptable
    if seen.identity is not None and seen.acceptable:
        seen.accepted = tlsdiagnosis.issuer_accepted(seen.identity.chain, [load(pki, 'client-ca').subject.public_bytes()])
    return seen


def _classify(seen, reason):
    return tlsdiagnosis.tls_failure(SSL.Error([('SSL routines', '', reason)]), seen, 'handshake')


@pytest.mark.parametrize('name, reason, words', [
    ('expired', 'sslv3 alert certificate expired', 'expired on'),
    ('rogue', 'tlsv1 alert unknown ca', 'Unknown issuer'),
    ('serveronly', 'sslv3 alert unsupported certificate', 'Wrong key usage'),
    (None, 'tlsv13 alert certificate required', 'No client certificate was sent'),
    (None, 'sslv3 alert handshake failure', 'No client certificate was sent'),
    ('good', 'sslv3 alert bad certificate', "alert 'bad certificate'"),
])
def test_client_certificate_alerts_become_client_cert_rejected_with_the_reason(pki, name, reason, words):
    verdict = _classify(_seen(pki, name), reason)
    assert verdict.verdict == 'client_cert_rejected'
    assert words in verdict.hint


def test_a_refused_certificate_with_an_unknown_critical_extension_is_named_in_the_hint(pki):
    # nginx answers 400 "The SSL certificate error" without a reason: the hint must not blame the key.
    seen = _seen(pki, 'critical')
    got = tlsdiagnosis.for_status(400, '<center>The SSL certificate error</center>', (200,), seen)
    assert got.verdict == 'client_cert_rejected'
    assert 'critical extension TLS servers do not know (%s)' % tls_peers.UNKNOWN_CRITICAL_OID in got.hint
    assert 'key belongs' not in got.hint


def test_unknown_issuer_hint_names_the_issuer_and_the_accepted_cas(pki):
    hint = _classify(_seen(pki, 'rogue'), 'tlsv1 alert unknown ca').hint
    assert pki.rogue_ca_dn in hint and pki.client_ca_dn in hint


def test_certificate_verify_failed_is_server_untrusted_not_a_client_problem(pki):
    seen = _seen(pki, 'good')
    seen.verify_errors = [(0, 20)]
    seen.server_cert = load(pki, 'server')
    verdict = _classify(seen, 'certificate verify failed')
    assert verdict.verdict == 'server_untrusted'
    assert 'ca_bundle' in verdict.hint and 'unable to get local issuer certificate' in verdict.hint


def test_host_name_mismatch_from_openssl_is_server_untrusted_naming_the_names(pki):
    seen = _seen(pki, 'good')
    seen.verify_errors = [(0, 62)]
    seen.server_cert = load(pki, 'server')
    verdict = _classify(seen, 'certificate verify failed')
    assert verdict.verdict == 'server_untrusted' and 'not valid for the name localhost' in verdict.hint


def test_other_handshake_failures_are_connect_errors(pki):
    assert _classify(_seen(pki, 'good', []), 'sslv3 alert handshake failure').verdict == 'connect_error'
    assert 'does not speak TLS' in _classify(_seen(pki, 'good'), 'wrong version number').hint


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
    got = tlsdiagnosis.for_status(status, body, (200,), _seen(pki, 'good'))
    assert got.verdict == verdict
    assert got.hint


@pytest.mark.parametrize('status', [200, 403, 404])
def test_an_answer_from_a_server_that_never_asked_for_the_certificate_is_client_cert_not_requested(pki, status):
    seen = _seen(pki, 'good', acceptable=[], requested=False)
    seen.server_cert = load(pki, 'server')
    got = tlsdiagnosis.for_status(status, 'Chuck', (200,), seen)
    assert got.verdict == 'client_cert_not_requested'
    assert 'answered HTTP %d without asking for a client certificate' % status in got.hint
    assert 'intercepts TLS' in got.hint and 'CN=Lab Server Root CA,O=Lab,C=BE' in got.hint


def test_a_200_without_any_certificate_is_not_ok_even_where_the_server_asked(pki):
    got = tlsdiagnosis.for_status(200, 'Chuck', (200,), _seen(pki, None))
    assert got.verdict == 'client_cert_not_requested'
    assert 'though it asked for one (it is optional there)' in got.hint


def test_a_request_answered_with_no_certificate_sent_is_not_ok(pki):
    seen = _seen(pki, 'good')
    seen.cert_sent = False      # OpenSSL sent an empty Certificate message
    got = tlsdiagnosis.for_status(200, 'Chuck', (200,), seen)
    assert got.verdict == 'client_cert_rejected' and 'OpenSSL sent none' in got.hint


def test_not_authorised_hint_names_the_meldpunt_and_the_cn(pki):
    got = tlsdiagnosis.for_status(403, '', (200,), _seen(pki, 'other'))
    assert got.verdict == 'not_authorised'
    assert 'meldpunt@dov.vlaanderen.be' in got.hint and tls_peers.OTHER_CN in got.hint


def test_expected_status_is_configurable(pki):
    assert tlsdiagnosis.for_status(204, '', [200, 204], _seen(pki, 'good')).verdict == 'ok'


def test_nginx_400_for_an_expired_certificate_says_expired(pki):
    got = tlsdiagnosis.for_status(400, 'The SSL certificate error', (200,), _seen(pki, 'expired'))
    assert got.verdict == 'client_cert_rejected' and 'expired on' in got.hint


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


def test_a_client_certificate_file_that_is_no_certificate_is_refused_by_the_one_bounded_reader(pki, tmp_path):
    # 600 KB of BEGIN lines (the old pattern was quadratic on them) and a key alone: the reader of
    # certload names the file and what is wrong with it.
    begins = tmp_path / 'begins.pem'
    begins.write_bytes(b'-----BEGIN CERTIFICATE-----\n' * 22000)
    with pytest.raises(DovError) as caught:
        tlsprobe.probe('https://localhost:1/', client_cert=str(begins), timeout=2)
    assert str(caught.value).startswith("The client certificate %s is truncated: a '-----BEGIN CERTIFICATE-----' "
                                        "block has no END line." % begins)
    with pytest.raises(DovError) as caught:
        tlsprobe.probe('https://localhost:1/', client_cert=pki.path('good.key'), timeout=2)
    assert str(caught.value) == ('The client certificate %s holds a private key, not a certificate. Give as client_cert '
                                 'the PEM file (-----BEGIN CERTIFICATE-----) that VO-DCBaaS issued.' % pki.path('good.key'))


# ---------------------------------------------------------------- small real servers

class _Server(object):
    """A stdlib TLS server on 127.0.0.1 that answers ``reply``. ``asks``: ``'handshake'`` (demands a
    client certificate in the handshake), ``'never'`` (never asks for one) or ``'after_request'``
    (TLS 1.3: asks once it has read the request, as Apache does per location, and answers only when
    a certificate came and verified). ``drip`` sends the answer one byte a second; ``silent``
    accepts and never answers; ``headers`` sends a status line and then header lines without end."""

    def __init__(self, pki, reply=b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
                 silent=False, drip=False, tls13=False, tls12=False, asks='handshake', headers=False):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.path('server.pem'), pki.path('server.key'))
        context.load_verify_locations(pki.path('client-ca.pem'))
        context.verify_mode = ssl.CERT_NONE if asks == 'never' else ssl.CERT_REQUIRED
        if asks == 'after_request':
            context.post_handshake_auth = True      # CERT_REQUIRED then means: only when asked after the handshake
            tls13 = True
        if tls13:
            context.minimum_version = ssl.TLSVersion.TLSv1_3
        if tls12:
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.context = context
        self.reply = reply
        self.silent = silent
        self.drip = drip
        self.asks = asks
        self.headers = headers
        self.headers_sent = 0
        self.peer_certificates = []
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
            threading.Thread(target=self.answer, args=(raw,), daemon=True).start()

    def answer(self, raw):
        try:
            with self.context.wrap_socket(raw, server_side=True) as conn:
                conn.recv(4096)
                if self.asks == 'after_request':
                    conn.verify_client_post_handshake()
                    conn.do_handshake()             # sends the CertificateRequest
                    conn.settimeout(0.5)
                    try:
                        conn.recv(1)                # reads (and verifies) the client's answer to it
                    except socket.timeout:
                        pass
                self.peer_certificates.append(conn.getpeercert(binary_form=True))
                if self.asks == 'after_request' and not self.peer_certificates[-1]:
                    return
                if self.headers:
                    conn.sendall(b'HTTP/1.1 200 OK\r\n')
                    while self.headers_sent < 10 ** 7:
                        conn.sendall(b'X-Padding-%d: yes\r\n' % self.headers_sent)
                        self.headers_sent += 1
                    return
                if not self.drip:
                    conn.sendall(self.reply)
                    return
                for index in range(len(self.reply)):
                    conn.sendall(self.reply[index:index + 1])
                    time.sleep(1)
        except (ssl.SSLError, OSError):
            pass

    def close(self):
        self.listener.close()


class _Proxy(object):
    """A small HTTP proxy on 127.0.0.1 that answers every CONNECT with ``answer``."""

    def __init__(self, answer, drip=False):
        self.answer = answer
        self.drip = drip
        self.requests = []
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(5)
        self.url = 'http://127.0.0.1:%d' % self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            try:
                self.exchange(conn)
            except OSError:
                pass        # the client gave up (a dripping answer)

    def exchange(self, conn):
        with conn:
            request = b''
            while b'\r\n\r\n' not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                request += chunk
            self.requests.append(request)
            if not self.drip:
                conn.sendall(self.answer)
                return
            for index in range(len(self.answer)):
                conn.sendall(self.answer[index:index + 1])
                time.sleep(1)

    def close(self):
        self.listener.close()


def _call(pki, server, cert='good', host='localhost', **options):
    options.setdefault('ca_bundle', pki.path('server-ca.pem'))
    options.setdefault('timeout', 5)
    if cert:
        options.update(pki.pem_args(cert))
    try:
        return tlsprobe.probe('https://%s:%d/%s' % (host, server.port, PATH), **options)
    finally:
        server.close()


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
    result = _call(pki, _Server(pki, silent=True), timeout=1)
    assert result['verdict'] == 'timeout', result
    assert 'within 1 s' in result['hint']


def test_a_server_that_drips_its_answer_is_a_timeout_not_a_wait_for_the_whole_answer(pki):
    # 80 bytes at one a second would be an ok after 80 s; the one deadline of the check ends it.
    result = _call(pki, _Server(pki, drip=True), timeout=2)
    assert result['verdict'] == 'timeout', result
    assert result['http_status'] is None


def test_chunked_answers_are_read_by_the_http_parser(pki):
    reply = (b'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
             b'4\r\nnope\r\n3\r\n!!!\r\n0\r\n\r\n')
    result = _call(pki, _Server(pki, reply=reply), cert='other')
    assert result['verdict'] == 'not_authorised', result
    assert result['http_status'] == 403 and result['response_excerpt'] == 'nope!!!'


def test_an_answer_that_is_not_http_is_an_http_error(pki):
    result = _call(pki, _Server(pki, reply=b'SSH-2.0-OpenSSH_9.2\r\n'))
    assert result['verdict'] == 'http_error' and 'not HTTP' in result['hint'], result


def test_a_tls13_server_refusing_the_certificate_after_the_handshake_is_client_cert_rejected(pki):
    result = _call(pki, _Server(pki, tls13=True), cert='rogue')
    assert result['verdict'] == 'client_cert_rejected', result
    assert result['tls_version'] == 'TLSv1.3'
    assert result['hint'] == (
        "Unknown issuer: the server does not accept certificates issued by CN=Rogue Issuing CA,O=Elsewhere,C=BE (it "
        "accepts: no list was sent). The server said: alert 'unknown ca'. Use the certificate VO-DCBaaS issued for this "
        "CN, with its intermediate CA.")


@pytest.mark.parametrize('version', ['tls12', 'tls13'])
def test_a_server_that_never_asks_for_a_client_certificate_is_client_cert_not_requested(pki, version):
    # It answers 200: before, that was "ok" and the pair became verified without any mTLS.
    server = _Server(pki, asks='never', **{version: True})
    result = _call(pki, server)
    assert result['verdict'] == 'client_cert_not_requested', result
    assert result['http_status'] == 200
    assert result['tls_version'] == ('TLSv1.2' if version == 'tls12' else 'TLSv1.3')
    assert result['client_cert_requested'] is False and result['client_cert_sent'] is False
    assert 'answered HTTP 200 without asking for a client certificate' in result['hint']
    assert 'proxy intercepts TLS' in result['hint'] and 'host and port' in result['hint']
    assert server.peer_certificates == [None]       # the server never saw the client certificate


def test_a_tls13_server_that_never_asks_and_closes_without_an_answer_is_no_certificate_refusal(pki):
    result = _call(pki, _Server(pki, asks='never', tls13=True, reply=b''))
    assert result['verdict'] == 'http_error', result
    assert 'never asked for a client certificate' in result['hint'] and result['client_cert_requested'] is False


@pytest.mark.parametrize('version', ['tls12', 'tls13'])
def test_a_server_that_asks_in_the_handshake_is_ok_and_says_so(pki, version):
    server = _Server(pki, **{version: True})
    result = _call(pki, server)
    assert result['verdict'] == 'ok', result
    assert result['client_cert_requested'] is True and result['client_cert_sent'] is True
    assert 'asked for it' in result['hint']
    assert server.peer_certificates[0] == load(pki, 'good').public_bytes(serialization.Encoding.DER)


def test_a_tls13_server_that_asks_after_reading_the_request_is_ok(pki):
    # Apache's per-location client authentication on TLS 1.3: the CertificateRequest comes after the
    # handshake, once the server read the request; the client must have offered post_handshake_auth.
    server = _Server(pki, asks='after_request')
    result = _call(pki, server)
    assert result['verdict'] == 'ok', result
    assert result['tls_version'] == 'TLSv1.3'
    assert result['client_cert_requested'] is True and result['client_cert_sent'] is True
    assert server.peer_certificates[0] == load(pki, 'good').public_bytes(serialization.Encoding.DER)


def test_a_tls13_server_that_asks_after_the_request_and_refuses_is_client_cert_rejected(pki):
    result = _call(pki, _Server(pki, asks='after_request'), cert='rogue')
    assert result['verdict'] == 'client_cert_rejected', result
    assert result['client_cert_requested'] is True
    assert 'Unknown issuer' in result['hint']


def test_a_server_that_sends_headers_without_end_is_an_http_error_within_the_deadline(pki):
    # http.client stops at the 101st header; before, a TLS 1.3 server doing this was diagnosed as a
    # refused client certificate. The client stops reading: the server never gets far.
    server = _Server(pki, tls13=True, headers=True)
    result = _call(pki, server, timeout=10)
    assert result['verdict'] == 'http_error', result
    assert 'too large or malformed' in result['hint'] and 'got more than 100 headers' in result['hint']
    assert result['http_status'] is None
    time.sleep(0.2)
    assert server.headers_sent < 10 ** 6      # it was cut off (socket buffers hold a few MB at most)


def test_a_header_line_longer_than_64_kib_is_an_http_error(pki):
    reply = b'HTTP/1.1 200 OK\r\nX-Long: ' + b'a' * 70000 + b'\r\n\r\n'
    result = _call(pki, _Server(pki, reply=reply, tls12=True))
    assert result['verdict'] == 'http_error', result
    assert 'too large or malformed' in result['hint']


def test_the_server_trust_is_named_by_the_option_the_caller_gives(pki):
    result = _call(pki, _Server(pki), ca_bundle=pki.path('client-ca.pem'), trust_option='dov_server_ca_bundle')
    assert result['verdict'] == 'server_untrusted', result
    assert 'Give dov_server_ca_bundle with the CA' in result['hint']
    assert pki.path('client-ca.pem') not in result['hint']
    own = _call(pki, _Server(pki), ca_bundle=pki.path('client-ca.pem'))      # the module's own option
    assert 'against the CA bundle %s' % pki.path('client-ca.pem') in own['hint'] and 'Give ca_bundle' in own['hint']


@pytest.mark.parametrize('answer, words', [
    (b'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n', 'wants authentication (407)'),
    (b'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n', 'refused to tunnel to localhost:1: 403'),
    (b'SSH-2.0-OpenSSH_9.2\r\n', 'gave no HTTP answer to CONNECT'),
])
def test_a_proxy_that_refuses_the_tunnel_is_a_proxy_error_that_says_how(answer, words):
    proxy = _Proxy(answer)
    try:
        result = tlsprobe.probe('https://localhost:1/', proxy='http://me:s3cret@' + proxy.url[len('http://'):], timeout=3)
    finally:
        proxy.close()
    assert result['verdict'] == 'proxy_error' and words in result['hint'], result
    assert result['proxy'] == 'http://me:***@' + proxy.url[len('http://'):]
    assert proxy.requests[0].startswith(b'CONNECT localhost:1 HTTP/')
    assert b'Proxy-Authorization: Basic ' + base64.b64encode(b'me:s3cret') in proxy.requests[0]


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


def test_a_pyopenssl_that_cannot_set_up_the_host_name_check_refuses_to_run_the_check(pki, monkeypatch):
    class _OldBinding(object):
        pass        # none of SSL_get0_param / X509_VERIFY_PARAM_set1_host
    monkeypatch.setattr(tlswire, '_lib', _OldBinding())
    with pytest.raises(DovError) as caught:
        _call(pki, _Server(pki))
    assert "cannot make OpenSSL check the server's host name localhost" in str(caught.value)
    assert 'never runs without it' in str(caught.value)


def test_a_proxy_that_drips_its_connect_answer_is_a_timeout_within_the_deadline():
    proxy = _Proxy(b'HTTP/1.1 200 Connection established\r\n\r\n', drip=True)
    try:
        result = tlsprobe.probe('https://localhost:1/', proxy=proxy.url, timeout=2)
    finally:
        proxy.close()
    assert result['verdict'] == 'timeout', result
    assert 'did not connect and tunnel within 2 s' in result['hint']
