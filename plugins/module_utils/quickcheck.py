# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mTLS check's fast path, for the role's verification right after an install.

The role checks every certificate it installs. Most of those checks pass, and for a pass the
verdict is all the role needs. This does that one call with Python's own ``ssl`` (full server
verification and host-name check, the installed certificate and key), without loading pyOpenSSL
and the diagnosis machinery of ``tlsprobe``. It answers only "ok": anything else (a refusal, an
unexpected status, a proxy, an error of any kind) returns None, and the caller runs
``tlsprobe.probe`` for the full diagnosis and verdict.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import socket
import ssl
import time

from ansible.module_utils.six.moves.urllib.parse import urlsplit

PROXY_VARIABLES = ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')
USER_AGENT = 'vlaanderen.dov-mtls-check'


def quick_check(url, client_cert, client_key, client_key_passphrase=None, ca_bundle=None, timeout=15,
                expected_status=(200,), proxy=None, environ=None):
    """A result like ``tlsprobe.probe``'s with verdict ``ok``, or None when the fast path cannot
    say ok (then run the full probe)."""
    environ = os.environ if environ is None else environ
    if proxy or any(environ.get(name) for name in PROXY_VARIABLES):
        return None     # proxies, NO_PROXY and their errors are the full probe's work
    parts = urlsplit(url)
    if parts.scheme != 'https' or not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or 443
    path = (parts.path or '/') + ('?' + parts.query if parts.query else '')
    started = time.monotonic()
    try:
        context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(client_cert, client_key, password=client_key_passphrase)
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=host) as tls:
                # Read while the session is up: after the server's close these return None.
                version, cipher = tls.version(), tls.cipher()[0]
                server_der = tls.getpeercert(binary_form=True)
                request = ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n'
                           % (path, host if port == 443 else '%s:%d' % (host, port), USER_AGENT))
                tls.sendall(request.encode('utf-8'))
                data = b''
                while len(data) < 65536:
                    try:
                        chunk = tls.recv(65536)
                    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
                        chunk = b''     # the server closed without close_notify: the answer is complete
                    if not chunk:
                        break
                    data += chunk
    except (OSError, ssl.SSLError, ValueError):
        return None
    head, _sep, body = data.partition(b'\r\n\r\n')
    try:
        status = int(head.split(b' ', 2)[1])
    except (IndexError, ValueError):
        return None
    if status not in tuple(expected_status):
        return None
    return {
        'verdict': 'ok',
        'hint': 'The certificate is accepted: the server answered %d.' % status,
        'url': url,
        'proxy': None,
        'tls_version': version,
        'cipher': cipher,
        'server_certificate': _describe(server_der),
        'acceptable_client_cas': None,        # not read on the fast path (the full probe reads them)
        'client_issuer_accepted': None,
        'http_status': status,
        'response_excerpt': body.decode('utf-8', 'replace')[:200],
        'elapsed_ms': int((time.monotonic() - started) * 1000),
    }


def _describe(der):
    try:
        from cryptography import x509
        cert = x509.load_der_x509_certificate(der)
    except Exception:  # pylint: disable=broad-except
        return None
    end = getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    return {'subject': cert.subject.rfc4514_string(), 'issuer': cert.issuer.rfc4514_string(),
            'not_after': end.strftime('%Y-%m-%dT%H:%M:%SZ'), 'days_left': (end - now).days}
