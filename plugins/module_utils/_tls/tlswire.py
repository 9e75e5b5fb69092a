# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The wire under the mTLS check: which proxy, the TCP connection (or the CONNECT tunnel), one
pyOpenSSL handshake that keeps what the diagnosis needs, and the GET.

The standard library does the HTTP: ``urllib.request`` picks the proxy from the environment
(``https_proxy``/``HTTPS_PROXY`` and ``no_proxy``), ``http.client`` opens the tunnel
(``set_tunnel``), writes the request and parses the answer (status line, headers, chunked or
Content-Length bodies). pyOpenSSL is used for the one thing the standard library's ``ssl``
cannot show: what the server said during the handshake (its list of acceptable client CAs, the
alert of a refusal, TLS 1.3's late alert, the chain the verify callback saw, and whether it asked
for the client certificate: OpenSSL's handshake states through the info callback). Every blocking step
waits at most until the one deadline of the check.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import errno
import http.client
import io
import ipaddress
import os
import select
import socket
import time

from urllib.parse import unquote, urlsplit

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

try:
    from OpenSSL import SSL
    # OpenSSL's own host-name check (SSL_get0_param + X509_VERIFY_PARAM_set1_host) through the
    # bindings pyOpenSSL itself uses; pyOpenSSL has no public call for it (pyca/pyopenssl#1020).
    from OpenSSL._util import ffi as _ffi, lib as _lib
except ImportError:
    SSL = _ffi = _lib = None

USER_AGENT = 'vlaanderen.dov-mtls_check'
MAX_RESPONSE = 64 * 1024


class Verdict(Exception):
    """Ends a check with a verdict and a hint."""

    def __init__(self, verdict, hint):
        super(Verdict, self).__init__(hint)
        self.verdict = verdict
        self.hint = hint


class Deadline(object):
    """The one time limit of a check: every wait takes what is left of it."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.start = time.monotonic()
        self.end = self.start + float(seconds)

    def left(self):
        left = self.end - time.monotonic()
        if left <= 0:
            raise socket.timeout('the check took longer than %s s' % self.seconds)
        return left

    def elapsed_ms(self):
        return int(round((time.monotonic() - self.start) * 1000))


def redact_url(url):
    """The URL without a password in it."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition('@')[2]
        return parts._replace(netloc='%s:***@%s' % (parts.username or '', netloc)).geturl()
    except ValueError:
        return '<unparsable URL>'


# ---------------------------------------------------------------- proxies

def proxy_for(host, port):
    """The proxy for ``https://host:port`` as the standard library picks it (``https_proxy`` before
    ``HTTPS_PROXY``; ``no_proxy`` names hosts, domain suffixes, ``host:port`` or ``*``); or None."""
    if not any(value and name.lower() == 'https_proxy' for name, value in os.environ.items()):
        return None     # the usual case: urllib.request (and the email package under it) is not loaded
    import urllib.request
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get('https')
    if not proxy or urllib.request.proxy_bypass_environment('%s:%d' % (host, port), proxies):
        return None
    return proxy


def parse_proxy(proxy):
    """(host, port, CONNECT headers) of an http:// proxy URL; a login becomes Proxy-Authorization."""
    if '://' not in proxy:
        proxy = 'http://' + proxy
    parts = urlsplit(proxy)
    if parts.scheme.lower() != 'http' or not parts.hostname:
        raise DovError("The proxy %r is not an http:// proxy URL. Write it as http://proxy.example:3128 "
                       "(the proxy is reached in plain HTTP and tunnels TLS with CONNECT)." % redact_url(proxy))
    try:
        port = parts.port or 3128
    except ValueError:
        raise DovError("The port of the proxy %r is not a number. Write it as http://proxy.example:3128." % redact_url(proxy))
    headers = {'User-Agent': USER_AGENT}
    if parts.username is not None:
        login = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        headers['Proxy-Authorization'] = 'Basic ' + base64.b64encode(login.encode('utf-8')).decode('ascii')
    return parts.hostname, port, headers


def open_socket(host, port, proxy, deadline):
    """A TCP socket that talks to host:port, directly or through the proxy's CONNECT tunnel."""
    if proxy:
        proxy_host, proxy_port, headers = parse_proxy(proxy)
        connection = http.client.HTTPConnection(proxy_host, proxy_port, timeout=deadline.left())
        connection.set_tunnel(host, port, headers)
        where = 'The proxy %s:%d' % (proxy_host, proxy_port)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=deadline.left())
        where = '%s:%d' % (host, port)
    # http.client's own connect and CONNECT exchange, on a socket whose every wait takes what is
    # left of the deadline (a proxy that drips its answer cannot stretch it).
    connection._create_connection = lambda address, _timeout, source: _SocketFace(  # pylint: disable=protected-access
        _TCP(socket.create_connection(address, deadline.left(), source), deadline))
    try:
        connection.connect()
        return connection.sock.wire.sock
    except socket.gaierror as error:
        if proxy:
            raise Verdict('proxy_error', "The proxy host %s does not resolve from this host (%s). Check the proxy "
                          "option or HTTPS_PROXY." % (proxy_host, error.strerror or error))
        raise Verdict('dns_error', "The host name %s does not resolve from this host (%s). Check the URL and this "
                      "host's DNS; if only a proxy can resolve outside names, set proxy." % (host, error.strerror or error))
    except socket.timeout:
        connection.close()
        raise Verdict('timeout', "%s did not connect%s within %s s. A firewall may drop the traffic; many networks "
                      "only reach the internet through a proxy (set proxy)."
                      % (where, ' and tunnel' if proxy else '', deadline.seconds))
    except http.client.HTTPException as error:
        connection.close()
        raise Verdict('proxy_error', "%s gave no HTTP answer to CONNECT %s:%d (%s). Is it an HTTP proxy?"
                      % (where, host, port, error.__class__.__name__))
    except OSError as error:
        connection.close()
        raise _connect_failure(error, where, proxy, host, port)


def _connect_failure(error, where, proxy, host, port):
    text = str(error)
    if proxy and text.startswith('Tunnel connection failed'):
        status = text.split(':', 1)[1].strip()
        if status.startswith('407'):
            return Verdict('proxy_error', "%s wants authentication (407). Put the user and password in the proxy "
                           "URL, http://user:password@proxy:3128, preferably through HTTPS_PROXY." % where)
        return Verdict('proxy_error', "%s refused to tunnel to %s:%d: %s. Ask the proxy's administrator to allow "
                       "CONNECT to this host and port." % (where, host, port, status))
    reason = os.strerror(error.errno) if error.errno else text
    if proxy:
        return Verdict('proxy_error', "%s does not accept connections or dropped the tunnel (%s). Check the proxy "
                       "option or HTTPS_PROXY, and that the proxy runs." % (where, reason))
    if error.errno == errno.ECONNREFUSED:
        return Verdict('connect_error', "Nothing accepts connections on %s (connection refused). Check the host and "
                       "port in the URL." % where)
    return Verdict('connect_error', "%s cannot be reached from this host (%s). Check routing and the firewall; many "
                   "networks only reach the internet through a proxy (set proxy)." % (where, reason))


# ---------------------------------------------------------------- TLS

# OpenSSL's names (SSL_state_string_long) of the client's handshake states that prove mutual TLS:
# the server's CertificateRequest was read, and a CertificateVerify was written (only sent with a
# non-empty client certificate: proof that ours went out, signed with its key). The same names in
# TLS 1.2, 1.3 and a TLS 1.3 post-handshake request, in OpenSSL 1.1.1 to 4.
STATE_CERT_REQUEST = b'read server certificate request'
STATE_CERT_VERIFY = b'write certificate verify'


class Session(object):
    """One pyOpenSSL client connection over ``sock``; keeps what the diagnosis reads.

    The server is verified (VERIFY_PEER against the context's trust, and OpenSSL's host-name check
    against ``host``); the verify callback only records, it never overrides OpenSSL's decision.

    The info callback watches OpenSSL's handshake states: ``cert_requested`` (the server sent a
    CertificateRequest, in the handshake or after it) and ``cert_sent`` (our certificate went out
    with a CertificateVerify). The client offers TLS 1.3 post-handshake authentication
    (``post_handshake_auth``), so that a server that asks only once it has read the request (Apache
    per location) can ask; nginx asks in the handshake.
    """

    def __init__(self, sock, host, context, deadline):
        self.sock = sock
        self.deadline = deadline
        self.verify_errors = []     # (depth, OpenSSL error number) as the callback saw them
        self.failed_server_cert = None
        self.pending = b''
        self.got_data = False
        self.cert_requested = False
        self.cert_sent = False
        context.set_verify(SSL.VERIFY_PEER, self._record)
        context.set_info_callback(self._state)
        sock.setblocking(False)
        self.connection = SSL.Connection(context, sock)
        self.post_handshake_auth = _offer_post_handshake_auth(self.connection)
        if not _is_ip(host):
            self.connection.set_tlsext_host_name(_idna(host).encode('ascii'))
        try:
            _require_host_check(self.connection, host)
        except DovError:
            sock.close()
            raise
        self.connection.set_connect_state()

    def _record(self, _connection, cert, errnum, depth, ok):
        if not ok:
            self.verify_errors.append((depth, errnum))
            if depth == 0 and self.failed_server_cert is None:
                self.failed_server_cert = cert.to_cryptography()
        return bool(ok)

    def _state(self, connection, _where, _ret):
        state = (connection.get_state_string() or b'').lower()
        if STATE_CERT_REQUEST in state:
            self.cert_requested = True
        elif STATE_CERT_VERIFY in state:
            self.cert_sent = True

    def _wait(self, for_read):
        left = self.deadline.left()
        ready = select.select([self.sock] if for_read else [], [] if for_read else [self.sock], [], left)
        if not (ready[0] or ready[1]):
            raise socket.timeout('the check took longer than %s s' % self.deadline.seconds)

    def _retry(self, operation, *args):
        while True:
            try:
                return operation(*args)
            except SSL.WantReadError:
                self._wait(True)
            except SSL.WantWriteError:
                self._wait(False)

    def handshake(self):
        self._retry(self.connection.do_handshake)

    def listen(self, seconds):
        """Read for up to ``seconds`` before the request (TLS 1.3: a refusal alert arrives after our
        handshake finished; read it before our request turns the server's close into a reset)."""
        end = min(time.monotonic() + seconds, self.deadline.end)
        while time.monotonic() < end:
            if not select.select([self.sock], [], [], max(end - time.monotonic(), 0))[0]:
                return
            try:
                data = self.connection.recv(65536)
            except SSL.WantReadError:
                continue        # a session ticket, no data
            if not data:
                return
            self.pending += data
            self.got_data = True
            return

    def recv(self, size):
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        try:
            data = self._retry(self.connection.recv, size)
        except SSL.ZeroReturnError:
            return b''
        except SSL.SysCallError as error:
            if error.args[0] in (-1, 0):       # EOF without close_notify
                return b''
            raise
        self.got_data = self.got_data or bool(data)
        return data

    def sendall(self, data):
        data = memoryview(data)
        while data:
            data = data[self._retry(self.connection.send, data.tobytes()):]

    def seen(self):
        """What the handshake showed: TLS version, cipher, server certificate, acceptable CA names."""
        version = self.connection.get_protocol_version_name()
        peer = self.connection.get_peer_certificate()
        return {
            'tls_version': None if version in (None, 'Unknown') else version,
            'cipher': self.connection.get_cipher_name(),
            'server_cert': peer.to_cryptography() if peer is not None else self.failed_server_cert,
            'client_ca_names': list(self.connection.get_client_ca_list() or []),
            'cert_requested': self.cert_requested,
            'cert_sent': self.cert_sent,
            'post_handshake_auth': self.post_handshake_auth,
        }

    def get(self, path, host_header):
        """GET ``path`` with http.client over this session; (status, body text)."""
        connection = http.client.HTTPConnection('localhost')
        connection.sock = _SocketFace(self, closes=False)
        connection.request('GET', path, headers={'Host': host_header, 'User-Agent': USER_AGENT,
                                                 'Accept': '*/*', 'Connection': 'close'})
        response = connection.getresponse()
        try:
            body = response.read(MAX_RESPONSE)
        except http.client.IncompleteRead as error:
            body = error.partial        # the server closed mid-body: what came is still the answer
        return response.status, body.decode('utf-8', 'replace')

    def close(self):
        try:
            self.connection.shutdown()
        except Exception:  # pylint: disable=broad-except
            pass        # best effort: the server may have gone already
        self.sock.close()


class _TCP(object):
    """A connected socket whose every wait takes what is left of the deadline."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline

    def recv(self, size):
        self.sock.settimeout(self.deadline.left())
        return self.sock.recv(size)

    def sendall(self, data):
        self.sock.settimeout(self.deadline.left())
        self.sock.sendall(data)


class _SocketFace(object):
    """The socket calls http.client makes (sendall, makefile, setsockopt, close), over a _TCP or a
    Session (which its owner closes)."""

    def __init__(self, wire, closes=True):
        self.wire = wire
        self.closes = closes

    def sendall(self, data):
        self.wire.sendall(data)

    def makefile(self, _mode):
        return io.BufferedReader(_Reader(self.wire))

    def setsockopt(self, *args):
        self.wire.sock.setsockopt(*args)

    def close(self):
        if self.closes:
            self.wire.sock.close()


class _Reader(io.RawIOBase):

    def __init__(self, wire):
        super(_Reader, self).__init__()
        self.wire = wire

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.wire.recv(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _is_ip(host):
    try:
        ipaddress.ip_address(host.strip('[]'))
        return True
    except ValueError:
        return False


def _idna(host):
    try:
        return host.encode('idna').decode('ascii')
    except UnicodeError:
        return host


def _offer_post_handshake_auth(connection):
    """Announce TLS 1.3 post-handshake authentication (the ``post_handshake_auth`` extension), so
    that a server may ask for the client certificate after the handshake; pyOpenSSL has no call for
    it, the binding under it has (cryptography 3.4.8 and later). False where it cannot be offered."""
    try:
        _lib.SSL_set_post_handshake_auth(connection._ssl, 1)  # pylint: disable=protected-access
        return True
    except (AttributeError, TypeError, NotImplementedError):
        return False


def _require_host_check(connection, host):
    """OpenSSL checks the server's name during the handshake (a mismatch fails verification).
    Where the binding cannot set that up the check refuses to run rather than skip it."""
    try:
        param = _lib.SSL_get0_param(connection._ssl)  # pylint: disable=protected-access
        if _is_ip(host):
            packed = ipaddress.ip_address(host.strip('[]')).packed
            done = _lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed)) == 1
        else:
            _lib.X509_VERIFY_PARAM_set_hostflags(param, _lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
            name = _idna(host).encode('ascii')
            done = _lib.X509_VERIFY_PARAM_set1_host(param, name, len(name)) == 1
    except (AttributeError, TypeError):
        done = False
    if not done:
        raise DovError("This host's pyOpenSSL cannot make OpenSSL check the server's host name %s, and the check "
                       "never runs without it. Install pyOpenSSL 21 or later with its cryptography." % host)


def verify_error_text(errnum):
    """OpenSSL's text for a verify error number (``unable to get local issuer certificate``)."""
    try:
        return _ffi.string(_lib.X509_verify_cert_error_string(errnum)).decode('ascii', 'replace')
    except (AttributeError, TypeError):
        return 'verify error %d' % errnum
