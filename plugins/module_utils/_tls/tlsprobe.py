# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""One mTLS call to a DOV health endpoint, and a diagnosis a person can act on.

``probe()`` opens one connection (directly or through an HTTP CONNECT proxy), does one TLS
handshake with the client certificate and a GET, and returns a plain dict with a ``verdict``
and a ``hint``. The wire is in ``tlswire`` (standard library proxy choice, tunnel and HTTP; a
pyOpenSSL handshake because only it shows the server's acceptable client CA names, its alerts
and whether it asked for the client certificate), the reasoning in ``tlsdiagnosis``. ``ok``
needs proof of mutual TLS: the server asked for a client certificate and ours went out;
otherwise the verdict is ``client_cert_not_requested``. One deadline (``timeout``) covers the whole call.

The server is always verified: VERIFY_PEER against ``ca_bundle`` or the system store, and
OpenSSL's host-name check against the host of the URL. There is no switch to turn that off.

No AnsibleModule in here. Local input that a person must fix (unreadable files, a wrong
passphrase, a key that does not belong to the certificate) raises DovError; everything that
happens on the wire is a verdict.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.client
import os
import socket
import time

from urllib.parse import urlsplit

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload
from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlsdiagnosis, tlswire
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.certs import describe_certificate
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import pkcs12, serialization
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

try:
    from OpenSSL import SSL
except ImportError:
    SSL = None  # probe() refuses first, naming the library (compat.check_pyopenssl)

VERDICTS = ('ok', 'client_cert_not_requested', 'not_authorised', 'client_cert_rejected', 'server_untrusted',
            'dns_error', 'connect_error', 'proxy_error', 'timeout', 'http_error')
EXCERPT_LENGTH = 200


# ---------------------------------------------------------------- URLs

def build_url(environment=None, url=None, health_path=cn.DEFAULT_HEALTH_PATH, overrides=None):
    """The URL to call: ``url`` (a base URL) wins over ``environment``; ``health_path`` is appended.

    ``build_url('oefen')`` -> ``https://services-oefen.dov.vlaanderen.be/dov-xdov-server/logs/chucknorris``.
    """
    if url:
        base = url
    elif environment:
        base = cn.endpoint(environment, overrides)
    else:
        raise DovError("Neither an environment nor a URL was given. "
                       "Set environment (productie, oefen) or url (a base URL such as https://host/).")
    _split_target(base)
    path = (health_path or '').lstrip('/')
    return base.rstrip('/') + '/' + path


def _split_target(url):
    parts = urlsplit(url)
    if parts.scheme.lower() != 'https' or not parts.hostname:
        raise DovError("The URL %r is not an https:// URL with a host. The DOV services only answer over HTTPS: use "
                       "for example https://services-oefen.dov.vlaanderen.be/." % tlswire.redact_url(url))
    try:
        port = parts.port or 443
    except ValueError:
        raise DovError("The port in the URL %r is not a number. Leave it out (443) or write it as https://host:8443/."
                       % tlswire.redact_url(url))
    path = (parts.path or '/') + ('?' + parts.query if parts.query else '')
    return parts.hostname, port, path


# ---------------------------------------------------------------- the client identity

class Identity(object):
    """The client certificate, its key and the intermediates sent with it."""

    def __init__(self, cert, key, extra):
        self.cert = cert
        self.key = key
        self.extra = list(extra)

    @property
    def chain(self):
        return [self.cert] + self.extra


def _read(path, what):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as error:
        raise DovError("Cannot read the %s %s (%s). Check the path and that this user may read it."
                       % (what, path, error.strerror or error))


def load_identity(client_cert=None, client_key=None, client_key_passphrase=None,
                  pkcs12_path=None, pkcs12_password=None):
    """The client identity from PEM files or a PKCS#12 file; None when none is given."""
    if pkcs12_path and (client_cert or client_key):
        raise DovError("Both a PKCS#12 file and PEM files were given. Use pkcs12_path, or client_cert with client_key.")
    if pkcs12_path:
        data = _read(pkcs12_path, 'PKCS#12 file')
        password = pkcs12_password.encode('utf-8') if pkcs12_password else None
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError):
            raise DovError("The PKCS#12 file %s does not open with the password given (or is no PKCS#12 file). "
                           "Check pkcs12_password." % pkcs12_path)
        if key is None or cert is None:
            raise DovError("The PKCS#12 file %s lacks the private key or the certificate. "
                           "Export it again with both." % pkcs12_path)
        return Identity(cert, key, extra or [])
    if not client_cert:
        if client_key:
            raise DovError("A client key was given without client_cert. Give the certificate that belongs to it.")
        return None
    data = _read(client_cert, 'client certificate')
    try:
        certs = certload.load_certificates(data, 'The client certificate %s' % client_cert)   # bounded, linear
    except DovError as error:
        what = str(error).split('. ', 1)[0].rstrip('.')
        raise DovError("%s. Give as client_cert the PEM file (-----BEGIN CERTIFICATE-----) that VO-DCBaaS issued."
                       % what)
    key_data = _read(client_key, 'client key') if client_key else data
    password = client_key_passphrase.encode('utf-8') if client_key_passphrase else None
    try:
        key = serialization.load_pem_private_key(key_data, password)
    except TypeError:
        raise DovError("The client key %s is %s. %s" % (
            client_key or client_cert,
            'encrypted' if password is None else 'not encrypted',
            'Give client_key_passphrase.' if password is None else 'Leave client_key_passphrase out.'))
    except ValueError:
        raise DovError("The client key %s does not open with the passphrase given (or holds no PEM key). "
                       "Check client_key_passphrase and client_key." % (client_key or client_cert))
    return Identity(certs[0], key, certs[1:])


def _context(ca_bundle, identity):
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    try:
        if ca_bundle and os.path.isdir(ca_bundle):
            context.load_verify_locations(None, ca_bundle)
        elif ca_bundle:
            context.load_verify_locations(ca_bundle)
        else:
            context.set_default_verify_paths()
    except SSL.Error:
        raise DovError("The CA bundle %s holds no PEM certificate that OpenSSL can read. Give a PEM file with the CA "
                       "that issued the server's certificate." % ca_bundle)
    if identity is not None:
        try:
            _use_identity(context, identity)
            context.check_privatekey()
        except (SSL.Error, TypeError, ValueError):
            raise DovError("The client key does not belong to the client certificate %s. Give the key this host made "
                           "the CSR with." % identity.cert.subject.rfc4514_string())
    return context


def _use_identity(context, identity):
    """Certificate, intermediates and key into the context (compat: pyOpenSSL differences, EC keys
    before pyOpenSSL 22)."""
    compat.use_identity(context, identity.cert, identity.extra, identity.key)


# ---------------------------------------------------------------- the call

def _empty_result(url, proxy, identity):
    return {
        'verdict': None, 'hint': None, 'url': tlswire.redact_url(url),
        'proxy': tlswire.redact_url(proxy if '://' in proxy else 'http://' + proxy) if proxy else None,
        'tls_version': None, 'cipher': None, 'server_certificate': None,
        'acceptable_client_cas': [], 'client_issuer_accepted': None,
        'client_cert_requested': False, 'client_cert_sent': False,
        'client_certificate': describe_certificate(identity.cert) if identity is not None else None,
        'http_status': None, 'response_excerpt': None, 'elapsed_ms': 0,
    }


def probe(url, client_cert=None, client_key=None, client_key_passphrase=None, pkcs12_path=None,
          pkcs12_password=None, ca_bundle=None, proxy=None, timeout=15, expected_status=(200,), identity=None,
          trust_option='ca_bundle'):
    """Call ``url`` once with the client certificate and return the verdict and what was seen.

    Raises DovError for local input a person must fix (see load_identity); everything else ends
    in one of VERDICTS within ``timeout`` seconds. ``proxy`` None means the environment's
    (https_proxy, no_proxy). ``identity`` is a client identity already in memory;
    ``trust_option`` is how hints name the setting of the server trust (with the default, the
    module's own option, the path is named too; the role's trust is a temporary file, never named).
    """
    compat.check_cryptography()
    compat.check_pyopenssl()
    deadline = tlswire.Deadline(timeout)
    host, port, path = _split_target(url)
    if identity is None:
        identity = load_identity(client_cert, client_key, client_key_passphrase, pkcs12_path, pkcs12_password)
    if ca_bundle and not os.path.exists(ca_bundle):
        raise DovError("The CA bundle %s does not exist. Give the PEM file with the CA that issued the server's "
                       "certificate, or leave %s out for the system store." % (ca_bundle, trust_option))
    proxy = proxy or tlswire.proxy_for(host, port)
    result = _empty_result(url, proxy, identity)
    context = _context(ca_bundle, identity)
    if not ca_bundle:
        trust = "this host's system trust store"
    elif trust_option == 'ca_bundle':
        trust = 'the CA bundle %s' % ca_bundle       # the module's own option: the path the user gave
    else:
        trust = 'the CA bundle given as %s' % trust_option
    seen = tlsdiagnosis.Seen(host, port, identity, (trust, trust_option))
    session = None
    try:
        try:
            session = tlswire.Session(tlswire.open_socket(host, port, proxy, deadline), host, context, deadline)
            verdict = _exchange(session, seen, result, path, host if port == 443 else seen.target, expected_status)
        except socket.timeout:
            verdict = tlswire.Verdict('timeout', "%s did not finish the TLS handshake and answer within %s s. The "
                                      "service may be overloaded, or a firewall drops the traffic." % (seen.target, timeout))
        except OSError as error:
            verdict = tlswire.Verdict('connect_error', "The connection to %s broke (%s). Check firewall and proxy."
                                      % (seen.target, error))
    except tlswire.Verdict as raised:
        verdict = raised
    finally:
        if session is not None:
            session.close()
    result.update(verdict=verdict.verdict, hint=verdict.hint, elapsed_ms=deadline.elapsed_ms())
    return result


def _exchange(session, seen, result, path, host_header, expected_status):
    """Handshake and GET on an open session; the Verdict."""
    started = time.monotonic()
    try:
        session.handshake()
    except SSL.Error as error:
        _show(session, seen, result)
        return tlsdiagnosis.tls_failure(error, seen, 'handshake')
    _show(session, seen, result)
    try:
        if seen.tls_version == 'TLSv1.3':
            # About two round trips (the handshake's time), within 0.03 .. 1 s: a refusal that comes
            # later still shows as a reset, which is classified the same way.
            session.listen(min(max(2 * (time.monotonic() - started), 0.03), 1.0))
        status, body = session.get(path, host_header)
    except SSL.Error as error:
        _show(session, seen, result)
        return tlsdiagnosis.tls_failure(error, seen, 'exchange')
    except http.client.HTTPException as error:
        _show(session, seen, result)
        if isinstance(error, http.client.BadStatusLine) and session.got_data:
            return tlswire.Verdict('http_error', "%s answered something that is not HTTP (%r). Check the URL and port."
                                   % (seen.target, str(error)[:60]))
        if session.got_data:
            # http.client stops at a line over 64 KiB or a 101st header: an answer, but not one to trust.
            return tlswire.Verdict('http_error', "%s answered with an HTTP header that is too large or malformed (%s). "
                                   "Check the URL and port; a DOV health endpoint answers a few short headers."
                                   % (seen.target, str(error)[:80] or error.__class__.__name__))
        if seen.tls_version == 'TLSv1.3':
            return tlsdiagnosis.reset_after_tls13(seen, 'closed')
        return tlswire.Verdict('http_error', "%s closed the connection without an HTTP answer. Check the URL; the "
                               "service may be down." % seen.target)
    _show(session, seen, result)        # a TLS 1.3 server may have asked for the certificate after the request
    result.update(http_status=status, response_excerpt=body[:EXCERPT_LENGTH])
    return tlsdiagnosis.for_status(status, body, expected_status, seen)


def _show(session, seen, result):
    shown = seen.take(session)
    result.update(tls_version=seen.tls_version, cipher=shown['cipher'] or result['cipher'],
                  acceptable_client_cas=seen.acceptable, client_issuer_accepted=seen.accepted,
                  client_cert_requested=seen.cert_requested, client_cert_sent=seen.cert_sent,
                  server_certificate=describe_certificate(seen.server_cert) if seen.server_cert is not None else None)
