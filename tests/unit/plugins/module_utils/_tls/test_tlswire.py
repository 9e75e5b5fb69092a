# -*- coding: utf-8 -*-
"""tlswire: the TCP and TLS wire of the mTLS check. The proxy from the environment (https_proxy,
no_proxy) and its URL, URLs without their password, the one deadline, OpenSSL's verify texts, and
open_socket against real peers on 127.0.0.1: a listening port, a closed one, and small HTTP
proxies that tunnel, refuse (403, 407) or answer no HTTP at all. Every peer a test starts is
closed at its end. (The TLS session against real servers: test_tlsprobe.py.)"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import socket
import threading
import time

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlswire
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


# ---------------------------------------------------------------- proxies and URLs

def test_a_password_in_a_url_is_redacted():
    assert tlswire.redact_url('http://user:s3cret@proxy:3128') == 'http://user:***@proxy:3128'
    assert 's3cret' not in tlswire.redact_url('http://user:s3cret@proxy')


def test_https_proxy_from_the_environment_lower_case_first(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'http://upper:1')
    monkeypatch.setenv('https_proxy', 'http://lower:2')
    assert tlswire.proxy_for('services.dov.vlaanderen.be', 443) == 'http://lower:2'
    monkeypatch.delenv('https_proxy')
    assert tlswire.proxy_for('services.dov.vlaanderen.be', 443) == 'http://upper:1'


def test_an_http_proxy_or_all_proxy_is_not_used_for_https(monkeypatch):
    for name in ('HTTPS_PROXY', 'https_proxy'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('http_proxy', 'http://p:3')
    monkeypatch.setenv('ALL_PROXY', 'http://p:4')
    assert tlswire.proxy_for('services.dov.vlaanderen.be', 443) is None


@pytest.mark.parametrize('no_proxy, bypass', [
    ('vlaanderen.be', True),
    ('.vlaanderen.be', True),
    ('*', True),
    ('services.dov.vlaanderen.be', True),
    ('services.dov.vlaanderen.be:443', True),
    ('services.dov.vlaanderen.be:8443', False),
    ('ervlaanderen.be', False),
    ('localhost, 127.0.0.1', False),
    ('', False),
])
def test_no_proxy_selects_which_hosts_go_direct(monkeypatch, no_proxy, bypass):
    monkeypatch.delenv('HTTPS_PROXY', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    monkeypatch.setenv('https_proxy', 'http://proxy:3128')
    monkeypatch.setenv('no_proxy', no_proxy)
    assert (tlswire.proxy_for('services.dov.vlaanderen.be', 443) is None) is bypass


def test_proxy_url_parsing_with_credentials():
    host, port, headers = tlswire.parse_proxy('http://me:p%40ss@proxy.example:8080')
    assert (host, port) == ('proxy.example', 8080)
    assert base64.b64decode(headers['Proxy-Authorization'].split()[1]) == b'me:p@ss'
    assert tlswire.parse_proxy('proxy.example')[:2] == ('proxy.example', 3128)
    assert 'Proxy-Authorization' not in tlswire.parse_proxy('proxy.example')[2]
    with pytest.raises(DovError, match='http://'):
        tlswire.parse_proxy('socks5://proxy:1080')


# ---------------------------------------------------------------- the deadline and OpenSSL's texts

def test_the_deadline_gives_what_is_left_then_a_timeout_naming_the_limit():
    deadline = tlswire.Deadline(0.2)
    assert 0 < deadline.left() <= 0.2
    time.sleep(0.25)
    assert deadline.elapsed_ms() >= 250
    with pytest.raises(socket.timeout) as caught:
        deadline.left()
    assert str(caught.value) == 'the check took longer than 0.2 s'


def test_verify_errors_read_as_openssl_names_them():
    assert tlswire.verify_error_text(20) == 'unable to get local issuer certificate'
    assert tlswire.verify_error_text(10) == 'certificate has expired'


# ---------------------------------------------------------------- open_socket against real peers

class Peer(object):
    """A TCP server on 127.0.0.1 that reads one request head and answers ``reply`` (bytes), then
    keeps the connection open (a tunnel) until the test ends; ``requests`` holds what it read."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = []
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.connections = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            connection, _address = self.listener.accept()
        except OSError:
            return
        self.connections.append(connection)
        connection.settimeout(5)
        data = b''
        while b'\r\n\r\n' not in data and self.reply is not None:
            chunk = connection.recv(4096)
            if not chunk:
                break
            data += chunk
        self.requests.append(data)
        if self.reply:
            connection.sendall(self.reply)

    def close(self):
        self.listener.close()
        for connection in self.connections:
            connection.close()
        self.thread.join(5)


@pytest.fixture
def peer():
    started = []

    def start(reply):
        started.append(Peer(reply))
        return started[-1]
    yield start
    for one in started:
        one.close()


def closed_port():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_a_direct_connection_reaches_the_listening_port(peer):
    server = peer(None)
    sock = tlswire.open_socket('127.0.0.1', server.port, None, tlswire.Deadline(5))
    try:
        assert sock.getpeername() == ('127.0.0.1', server.port)
    finally:
        sock.close()


def test_a_closed_port_is_connection_refused_naming_host_and_port():
    port = closed_port()
    with pytest.raises(tlswire.Verdict) as caught:
        tlswire.open_socket('127.0.0.1', port, None, tlswire.Deadline(5))
    assert (caught.value.verdict, caught.value.hint) == (
        'connect_error', 'Nothing accepts connections on 127.0.0.1:%d (connection refused). Check the host and port in '
                         'the URL.' % port)


def test_a_proxy_tunnels_with_connect_and_the_login_in_proxy_authorization(peer):
    proxy = peer(b'HTTP/1.1 200 Connection established\r\n\r\n')
    sock = tlswire.open_socket('services.dov.example', 443, 'http://me:p%%40ss@127.0.0.1:%d' % proxy.port,
                               tlswire.Deadline(5))
    sock.close()
    [request] = proxy.requests
    head = request.decode('ascii').split('\r\n')
    assert head[0] in ('CONNECT services.dov.example:443 HTTP/1.0', 'CONNECT services.dov.example:443 HTTP/1.1')
    assert 'Proxy-Authorization: Basic %s' % base64.b64encode(b'me:p@ss').decode('ascii') in head


@pytest.mark.parametrize('reply, hint', [
    (b'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n',
     'The proxy 127.0.0.1:{port} wants authentication (407). Put the user and password in the proxy URL, '
     'http://user:password@proxy:3128, preferably through HTTPS_PROXY.'),
    (b'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n',
     "The proxy 127.0.0.1:{port} refused to tunnel to services.dov.example:443: 403 Forbidden. Ask the proxy's "
     "administrator to allow CONNECT to this host and port."),
    (b'SSH-2.0-OpenSSH_9.2\r\n\r\n',
     'The proxy 127.0.0.1:{port} gave no HTTP answer to CONNECT services.dov.example:443 (BadStatusLine). Is it an '
     'HTTP proxy?'),
])
def test_a_proxy_that_does_not_tunnel_is_a_proxy_error_saying_what_to_do(peer, reply, hint):
    proxy = peer(reply)
    with pytest.raises(tlswire.Verdict) as caught:
        tlswire.open_socket('services.dov.example', 443, 'http://127.0.0.1:%d' % proxy.port, tlswire.Deadline(5))
    assert (caught.value.verdict, caught.value.hint) == ('proxy_error', hint.format(port=proxy.port))


def test_a_proxy_port_that_is_closed_is_a_proxy_error():
    port = closed_port()
    with pytest.raises(tlswire.Verdict) as caught:
        tlswire.open_socket('services.dov.example', 443, 'http://127.0.0.1:%d' % port, tlswire.Deadline(5))
    assert (caught.value.verdict, caught.value.hint) == (
        'proxy_error', 'The proxy 127.0.0.1:%d does not accept connections or dropped the tunnel (Connection refused). '
                       'Check the proxy option or HTTPS_PROXY, and that the proxy runs.' % port)


def test_a_proxy_that_never_answers_is_a_timeout_within_the_deadline(peer):
    proxy = peer(b'')       # reads the CONNECT, answers nothing
    start = time.monotonic()
    with pytest.raises(tlswire.Verdict) as caught:
        tlswire.open_socket('services.dov.example', 443, 'http://127.0.0.1:%d' % proxy.port, tlswire.Deadline(1))
    assert time.monotonic() - start < 3
    assert (caught.value.verdict, caught.value.hint) == (
        'timeout', 'The proxy 127.0.0.1:%d did not connect and tunnel within 1 s. A firewall may drop the traffic; many '
                   'networks only reach the internet through a proxy (set proxy).' % proxy.port)
