# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One mTLS call to a DOV health endpoint, and a diagnosis a person can act on.

``probe()`` opens one connection (directly or through an HTTP CONNECT proxy), does the TLS
handshake with the client certificate and an HTTP/1.1 GET, and returns a plain dict with a
``verdict`` and a ``hint``. It uses pyOpenSSL because the standard library cannot show the list
of client CA names the server accepts (``Connection.get_client_ca_list()``), which is what tells
"unknown issuer" apart from other refusals.

The server is always verified: VERIFY_PEER against ``ca_bundle`` or the system store, and its
name against the host of the URL (OpenSSL's own host check where the binding reaches it, and
always a strict check of the subjectAltName here). There is no switch to turn that off.

No AnsibleModule in here: a module calls ``probe()`` once per certificate, in one process.
Local input that a person must fix (unreadable files, a wrong passphrase, a key that does not
belong to the certificate) raises DovError; everything that happens on the wire is a verdict.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import errno
import ipaddress
import os
import select
import socket
import time
import traceback

from urllib.parse import unquote, urlsplit

from ansible_collections.vlaanderen.dov.plugins.module_utils import cn, compat
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

try:
    from OpenSSL import SSL
    HAS_PYOPENSSL = True
    PYOPENSSL_IMPORT_ERROR = None
except ImportError:
    HAS_PYOPENSSL = False
    PYOPENSSL_IMPORT_ERROR = traceback.format_exc()

try:
    # Private binding of pyOpenSSL: OpenSSL's built-in host-name check (SSL_get0_param +
    # X509_VERIFY_PARAM_set1_host). pyOpenSSL has no public API for it (pyca/pyopenssl#1020).
    # Optional: the strict subjectAltName check below runs whether or not it is there.
    from OpenSSL._util import ffi as _ffi, lib as _lib
except ImportError:
    _ffi = _lib = None

try:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False

VERDICTS = ('ok', 'not_authorised', 'client_cert_rejected', 'server_untrusted', 'dns_error',
            'connect_error', 'proxy_error', 'timeout', 'http_error')
DEFAULT_HEALTH_PATH = 'dov-xdov-server/logs/chucknorris'
HEALTH_PATHS = ('dov-xdov-server/logs/chucknorris', 'dovinstrumentserver/chucknorris')
MELDPUNT = 'meldpunt@dov.vlaanderen.be'
USER_AGENT = 'vlaanderen.dov-mtls_check'
EXCERPT_LENGTH = 200
MAX_RESPONSE = 64 * 1024

# TLS alerts that mean "your client certificate was not accepted".
CLIENT_CERT_ALERTS = ('unknown ca', 'bad certificate', 'certificate expired', 'certificate required',
                      'unsupported certificate', 'certificate revoked', 'certificate unknown')
# What nginx puts in its HTTP 400 page when it finished the handshake but refuses the certificate
# (nginx's internal codes 495/496 are answered as 400).
CLIENT_CERT_HTTP_MARKERS = ('no required ssl certificate was sent', 'the ssl certificate error',
                            'ssl certificate error', 'ssl_client_verify')

_HOST_MISMATCH = (62, 64)   # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_VERIFY_ERRORS = {
    2: 'unable to get issuer certificate',
    9: 'certificate is not yet valid',
    10: 'certificate has expired',
    18: 'self-signed certificate',
    19: 'self-signed certificate in certificate chain',
    20: 'unable to get local issuer certificate',
    21: 'unable to verify the first certificate',
    23: 'certificate revoked',
    26: 'unsupported certificate purpose',
    62: 'host name mismatch',
    64: 'IP address mismatch',
}


class _Verdict(Exception):
    """Raised inside probe() to end the call with a verdict and a hint."""

    def __init__(self, verdict, hint, **extra):
        super(_Verdict, self).__init__(hint)
        self.verdict = verdict
        self.hint = hint
        self.extra = extra


# ---------------------------------------------------------------- URLs

def build_url(environment=None, url=None, health_path=DEFAULT_HEALTH_PATH, overrides=None):
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
    parts = urlsplit(base)
    if parts.scheme.lower() != 'https' or not parts.hostname:
        raise DovError("The URL %r is not an https:// URL with a host. "
                       "The DOV services only answer over HTTPS: use for example https://services-oefen.dov.vlaanderen.be/."
                       % _redact_url(base))
    path = (health_path or '').lstrip('/')
    if not base.endswith('/'):
        base += '/'
    return base + path


def _redact_url(url):
    """The URL without a password in it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return '<unparsable URL>'
    if parts.password is None and parts.username is None:
        return url
    netloc = parts.hostname or ''
    if ':' in netloc:
        netloc = '[%s]' % netloc
    if parts.port:
        netloc += ':%d' % parts.port
    user = parts.username or ''
    return parts._replace(netloc='%s:***@%s' % (user, netloc) if parts.password is not None else '%s@%s' % (user, netloc)).geturl()


def _split_target(url):
    parts = urlsplit(url)
    if parts.scheme.lower() != 'https' or not parts.hostname:
        raise DovError("The URL %r is not an https:// URL with a host. Use for example "
                       "https://services-oefen.dov.vlaanderen.be/dov-xdov-server/logs/chucknorris." % _redact_url(url))
    try:
        port = parts.port or 443
    except ValueError:
        raise DovError("The port in the URL %r is not a number. Leave it out (443) or write it as https://host:8443/."
                       % _redact_url(url))
    path = parts.path or '/'
    if parts.query:
        path += '?' + parts.query
    return parts.hostname, port, path


# ---------------------------------------------------------------- proxies

def _no_proxy_matches(host, port, no_proxy):
    """Whether ``host`` is excluded by a NO_PROXY value (curl's rules plus CIDR ranges)."""
    host = host.lower().rstrip('.')
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (no_proxy or '').replace(' ', ',').split(','):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == '*':
            return True
        entry_port = None
        if entry.startswith('['):                       # [::1]:443
            closing = entry.find(']')
            rest = entry[closing + 1:]
            entry, entry_port = entry[1:closing], rest[1:] if rest.startswith(':') else None
        elif entry.count(':') == 1:                     # host:port
            entry, entry_port = entry.split(':')
        if entry_port and entry_port != str(port):
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry = entry.lstrip('*').lstrip('.').rstrip('.')
        if entry and (host == entry or host.endswith('.' + entry)):
            return True
    return False


def proxy_from_environment(host, port=443, environ=None):
    """The proxy URL for ``https://host:port`` from HTTPS_PROXY/https_proxy, or None when NO_PROXY
    (or no_proxy) excludes the host or no proxy is set."""
    environ = os.environ if environ is None else environ
    proxy = environ.get('https_proxy') or environ.get('HTTPS_PROXY')
    if not proxy:
        return None
    no_proxy = environ.get('no_proxy') or environ.get('NO_PROXY')
    if _no_proxy_matches(host, port, no_proxy):
        return None
    return proxy


def _parse_proxy(proxy):
    """(host, port, Proxy-Authorization value or None) of an http:// proxy URL."""
    if '://' not in proxy:
        proxy = 'http://' + proxy
    parts = urlsplit(proxy)
    if parts.scheme.lower() != 'http' or not parts.hostname:
        raise DovError("The proxy %r is not an http:// proxy URL. Write it as http://proxy.example:3128 "
                       "(the proxy is reached in plain HTTP and tunnels TLS with CONNECT)." % _redact_url(proxy))
    try:
        port = parts.port or 3128
    except ValueError:
        raise DovError("The port of the proxy %r is not a number. Write it as http://proxy.example:3128." % _redact_url(proxy))
    authorization = None
    if parts.username is not None:
        credentials = '%s:%s' % (unquote(parts.username), unquote(parts.password or ''))
        authorization = 'Basic ' + base64.b64encode(credentials.encode('utf-8')).decode('ascii')
    return parts.hostname, port, authorization


# ---------------------------------------------------------------- certificates and names

def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _not_after(cert):
    return cert.not_valid_after_utc if hasattr(cert, 'not_valid_after_utc') else \
        cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def _not_before(cert):
    return cert.not_valid_before_utc if hasattr(cert, 'not_valid_before_utc') else \
        cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def dn_string(name):
    """An X.509 name as an RFC 4514 string (``CN=...,O=...,C=BE``); cryptography or pyOpenSSL name."""
    if HAS_CRYPTOGRAPHY and isinstance(name, x509.Name):
        return compat.rfc4514(name)
    parts = []
    for key, value in reversed(name.get_components()):
        text = value.decode('utf-8', 'replace')
        for char in '\\,+"<>;=':
            text = text.replace(char, '\\' + char)
        if text.startswith(('#', ' ')):
            text = '\\' + text
        if text.endswith(' '):
            text = text[:-1] + '\\ '
        parts.append('%s=%s' % (key.decode('ascii', 'replace'), text))
    return ','.join(parts)


def describe_certificate(cert, now=None):
    """subject, issuer, not_after (ISO 8601, UTC) and days_left (negative once expired)."""
    now = now or _now()
    not_after = _not_after(cert)
    return {
        'subject': dn_string(cert.subject),
        'issuer': dn_string(cert.issuer),
        'not_after': not_after.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'days_left': int((not_after - now).total_seconds() // 86400),
    }


def _common_name(cert):
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else dn_string(cert.subject)


def issuer_accepted(chain, acceptable):
    """Whether the server's acceptable CA names include the issuer of the client certificate or
    of one of the intermediates sent with it; None when the server sent no list.

    ``chain``: the client certificate first, then the intermediates (cryptography objects).
    ``acceptable``: the names as DER bytes or RFC 4514 strings.
    """
    if not acceptable:
        return None
    wanted_der = set(item for item in acceptable if isinstance(item, bytes))
    wanted_text = set(item.casefold() for item in acceptable if not isinstance(item, bytes))
    for cert in chain:
        for name in (cert.issuer, cert.subject if cert is not chain[0] else None):
            if name is None:
                continue
            if name.public_bytes() in wanted_der or dn_string(name).casefold() in wanted_text:
                return True
    return False


def usage_problem(cert):
    """Why ``cert`` cannot authenticate a TLS client (key usage / extended key usage), or None."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in eku and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in eku:
            return 'its extended key usage lacks clientAuth (TLS Web Client Authentication)'
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            return 'its key usage lacks digitalSignature'
    except x509.ExtensionNotFound:
        pass
    return None


def _label(host):
    return host.lower().rstrip('.')


def _idna(host):
    try:
        return host.encode('idna').decode('ascii')
    except UnicodeError:
        return host


def host_matches(cert, host):
    """Strict RFC 6125 check of ``host`` against the subjectAltName of the server certificate.

    DNS names and IP addresses in the SAN only; the subject CN is not consulted (browsers stopped
    doing that in 2017). A wildcard is a whole left-most label (``*.example.be``), never partial,
    never on an IP address, and needs at least two labels after it.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(host.strip('[]'))
    except ValueError:
        address = None
    if address is not None:
        return address in san.get_values_for_type(x509.IPAddress)
    wanted = _label(_idna(host))
    for name in san.get_values_for_type(x509.DNSName):
        name = _label(name)
        if name == wanted:
            return True
        if name.startswith('*.'):
            suffix = name[2:]
            if '*' in suffix or suffix.count('.') < 1:
                continue
            first, _dot, rest = wanted.partition('.')
            if first and rest == suffix:
                return True
    return False


def _verify_error_text(errnum):
    if errnum in _VERIFY_ERRORS:
        return _VERIFY_ERRORS[errnum]
    if _lib is not None and hasattr(_lib, 'X509_verify_cert_error_string'):
        try:
            return _ffi.string(_lib.X509_verify_cert_error_string(errnum)).decode('ascii', 'replace')
        except Exception:
            pass
    return 'verify error %d' % errnum


class _Identity(object):
    """The client certificate, its key and the intermediates sent with it."""

    def __init__(self, cert, key, extra):
        self.cert = cert
        self.key = key
        self.extra = list(extra)

    @property
    def chain(self):
        return [self.cert] + self.extra


Identity = _Identity     # a client identity (cert, key, chain) already in memory, for probe(identity=...)


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
        return _Identity(cert, key, extra or [])
    if not client_cert:
        if client_key:
            raise DovError("A client key was given without client_cert. Give the certificate that belongs to it.")
        return None
    data = _read(client_cert, 'client certificate')
    try:
        certs = compat.load_pem_certificates(data)
    except ValueError:
        raise DovError("The client certificate %s holds no PEM certificate. "
                       "Give the PEM file (-----BEGIN CERTIFICATE-----) that VO-DCBaaS issued." % client_cert)
    key_data = _read(client_key, 'client key') if client_key else data
    password = client_key_passphrase.encode('utf-8') if client_key_passphrase else None
    try:
        key = load_pem_private_key(key_data, password)
    except TypeError:
        raise DovError("The client key %s is %s. %s" % (
            client_key or client_cert,
            'encrypted' if password is None else 'not encrypted',
            'Give client_key_passphrase.' if password is None else 'Leave client_key_passphrase out.'))
    except ValueError:
        raise DovError("The client key %s does not open with the passphrase given (or holds no PEM key). "
                       "Check client_key_passphrase and client_key." % (client_key or client_cert))
    return _Identity(certs[0], key, certs[1:])


# ---------------------------------------------------------------- the connection

class _Clock(object):
    def __init__(self, timeout):
        self.start = time.monotonic()
        self.deadline = self.start + float(timeout)
        self.timeout = timeout

    def left(self):
        return self.deadline - time.monotonic()

    def elapsed_ms(self):
        return int(round((time.monotonic() - self.start) * 1000))


def _connect(host, port, clock, via_proxy):
    """A connected TCP socket, or a _Verdict (dns_error / connect_error / proxy_error / timeout)."""
    what = 'the proxy %s:%d' % (host, port) if via_proxy else '%s:%d' % (host, port)
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as error:
        if via_proxy:
            raise _Verdict('proxy_error', "The proxy host %s does not resolve from this host (%s). "
                           "Check the proxy option or HTTPS_PROXY." % (host, error.strerror or error))
        raise _Verdict('dns_error', "The host name %s does not resolve from this host (%s). Check the URL and this "
                       "host's DNS; if only a proxy can resolve outside names, set proxy." % (host, error.strerror or error))
    last = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        left = clock.left()
        if left <= 0:
            sock.close()
            break
        sock.settimeout(left)
        try:
            sock.connect(address)
            return sock
        except socket.timeout as error:
            sock.close()
            last = error
            break
        except (OSError, IOError) as error:
            sock.close()
            last = error
    if isinstance(last, socket.timeout) or last is None:
        raise _Verdict('timeout', "Connecting to %s took longer than %s s. A firewall may drop the traffic; many "
                       "networks only reach the internet through a proxy (set proxy)." % (what, clock.timeout))
    reason = os.strerror(last.errno) if getattr(last, 'errno', None) else str(last)
    if via_proxy:
        raise _Verdict('proxy_error', "The proxy %s:%d does not accept connections (%s). Check the proxy option or "
                       "HTTPS_PROXY, and that the proxy runs." % (host, port, reason))
    if getattr(last, 'errno', None) == errno.ECONNREFUSED:
        hint = "Nothing accepts connections on %s (connection refused). Check the host and port in the URL." % what
    else:
        hint = ("%s cannot be reached from this host (%s). Check routing and the firewall; many networks only "
                "reach the internet through a proxy (set proxy)." % (what, reason))
    raise _Verdict('connect_error', hint)


def _tunnel(sock, proxy_host, proxy_port, authorization, host, port, clock):
    """HTTP CONNECT through the proxy; afterwards the socket talks to host:port."""
    target = '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)
    lines = ['CONNECT %s HTTP/1.1' % target, 'Host: %s' % target, 'User-Agent: %s' % USER_AGENT]
    if authorization:
        lines.append('Proxy-Authorization: %s' % authorization)
    request = ('\r\n'.join(lines) + '\r\n\r\n').encode('ascii')
    where = 'the proxy %s:%d' % (proxy_host, proxy_port)
    answer = b''
    try:
        sock.settimeout(max(clock.left(), 0.001))
        sock.sendall(request)
        while b'\r\n\r\n' not in answer and len(answer) < 16384:
            sock.settimeout(max(clock.left(), 0.001))
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        raise _Verdict('timeout', "%s did not answer the CONNECT for %s within %s s. Check the proxy."
                       % (where[0].upper() + where[1:], target, clock.timeout))
    except (OSError, IOError) as error:
        raise _Verdict('proxy_error', "%s dropped the connection during CONNECT (%s). Check the proxy option."
                       % (where[0].upper() + where[1:], error))
    status_line = answer.split(b'\r\n', 1)[0].decode('latin-1').strip()
    pieces = status_line.split(None, 2)
    if not pieces or not pieces[0].startswith('HTTP/') or len(pieces) < 2 or not pieces[1].isdigit():
        raise _Verdict('proxy_error', "%s gave no HTTP answer to CONNECT %s (%r). Is it an HTTP proxy?"
                       % (where[0].upper() + where[1:], target, status_line[:80]))
    status = int(pieces[1])
    if status == 407:
        raise _Verdict('proxy_error', "%s wants authentication (407). Put the user and password in the proxy URL, "
                       "http://user:password@proxy:3128, preferably through HTTPS_PROXY." % (where[0].upper() + where[1:]))
    if status // 100 != 2:
        raise _Verdict('proxy_error', "%s refused to tunnel to %s: %s. Ask the proxy's administrator to allow CONNECT "
                       "to this host and port." % (where[0].upper() + where[1:], target, status_line))


def _wait(sock, clock, for_read):
    left = clock.left()
    if left <= 0:
        raise socket.timeout()
    if for_read:
        ready = select.select([sock], [], [], left)[0]
    else:
        ready = select.select([], [sock], [], left)[1]
    if not ready:
        raise socket.timeout()


def _retry(operation, sock, clock, *args):
    while True:
        try:
            return operation(*args)
        except SSL.WantReadError:
            _wait(sock, clock, True)
        except SSL.WantWriteError:
            _wait(sock, clock, False)


def _openssl_host_check(connection, host):
    """Ask OpenSSL to check the host name during the handshake, where the binding reaches it."""
    if _lib is None or not hasattr(_lib, 'SSL_get0_param'):
        return False
    try:
        param = _lib.SSL_get0_param(connection._ssl)
        try:
            packed = ipaddress.ip_address(host.strip('[]')).packed
        except ValueError:
            packed = None
        if packed is not None:
            if not hasattr(_lib, 'X509_VERIFY_PARAM_set1_ip'):
                return False
            return _lib.X509_VERIFY_PARAM_set1_ip(param, packed, len(packed)) == 1
        _lib.X509_VERIFY_PARAM_set_hostflags(param, _lib.X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS)
        name = _idna(host).encode('ascii')
        return _lib.X509_VERIFY_PARAM_set1_host(param, name, len(name)) == 1
    except Exception:
        return False


def _error_reasons(error):
    """The reason strings of a pyOpenSSL error, lower case."""
    reasons = []
    args = error.args[0] if error.args else []
    if isinstance(args, list):
        for item in args:
            if isinstance(item, tuple) and item:
                reasons.append(str(item[-1]).lower())
    else:
        reasons.append(str(args).lower())
    return reasons


def alert_of(error):
    """The name of the TLS alert the peer sent (``'unknown ca'``), or None."""
    for reason in _error_reasons(error):
        if ' alert ' in ' ' + reason:
            return reason.split('alert', 1)[1].strip()
    return None


def client_cert_hint(alert=None, identity=None, accepted=None, acceptable=(), http_body=None, now=None):
    """The sentence or two that say which of expired / unknown issuer / wrong key usage it is."""
    now = now or _now()
    said = (" The server said: alert '%s'." % alert) if alert else ''
    if http_body:
        said = " The server answered HTTP 400: %r." % http_body
    if identity is None:
        return ("No client certificate was sent, and the server requires one.%s Set client_cert and client_key "
                "(or pkcs12_path) to the certificate DOV's CN was issued for." % said)
    cert = identity.cert
    not_after = _not_after(cert)
    if not_after < now or alert == 'certificate expired':
        if not_after < now:
            return ("The client certificate %s expired on %s.%s Request a new certificate for this CN in VO-DCBaaS "
                    "and install it." % (_common_name(cert), not_after.strftime('%Y-%m-%d'), said))
        return ("The server finds a certificate in the chain expired, though the client certificate runs until %s.%s "
                "Check this host's clock and the intermediate certificates sent with it." % (not_after.strftime('%Y-%m-%d'), said))
    if _not_before(cert) > now:
        return ("The client certificate is not valid before %s.%s Check this host's clock, or wait."
                % (_not_before(cert).strftime('%Y-%m-%d %H:%M UTC'), said))
    if accepted is False or alert == 'unknown ca':
        names = '; '.join(acceptable) if acceptable else 'no list was sent'
        return ("Unknown issuer: the server does not accept certificates issued by %s (it accepts: %s).%s Use the "
                "certificate VO-DCBaaS issued for this CN, with its intermediate CA." % (dn_string(cert.issuer), names, said))
    problem = usage_problem(cert)
    if problem or alert == 'unsupported certificate':
        return ("Wrong key usage: the client certificate cannot authenticate a TLS client%s.%s Request a certificate "
                "with the client-authentication profile in VO-DCBaaS." % ((', ' + problem) if problem else '', said))
    if alert == 'certificate revoked':
        return "The client certificate has been revoked.%s Request a new certificate in VO-DCBaaS." % said
    return ("The server refused the client certificate %s, issued by %s, though it is valid, has the right usage and "
            "its issuer is %s.%s Check that the key belongs to the certificate and that the intermediate CA is sent with it."
            % (_common_name(cert), dn_string(cert.issuer),
               'on the accepted list' if accepted else 'not checked (no list was sent)', said))


def _classify_tls_error(error, state, stage):
    """A pyOpenSSL error during the handshake or the HTTP exchange, as a _Verdict."""
    reasons = _error_reasons(error)
    if any('certificate verify failed' in reason for reason in reasons) or state['verify_errors']:
        raise _server_untrusted(state)
    alert = alert_of(error)
    if stage == 'exchange' and alert is None and state.get('tls_version') == 'TLSv1.3' and not state.get('got_data'):
        raise _reset_after_tls13(state, ', '.join(reason for reason in reasons if reason) or 'connection reset')
    if alert in CLIENT_CERT_ALERTS or (alert == 'handshake failure' and state['acceptable_der'] and state['identity'] is None):
        state['alert'] = alert
        raise _Verdict('client_cert_rejected', client_cert_hint(
            alert, state['identity'], state['accepted'], state['acceptable']))
    if any('wrong version number' in reason or 'packet length too long' in reason for reason in reasons):
        raise _Verdict('connect_error', "%s does not speak TLS (%s). Check the port and the https:// in the URL."
                       % (state['target'], ', '.join(reasons)))
    detail = ("alert '%s'" % alert) if alert else (', '.join(reasons) or str(error))
    raise _Verdict('connect_error', "The TLS %s with %s failed (%s). Check that the URL points at the DOV services; "
                   "a proxy or firewall that inspects TLS can cause this." % (stage, state['target'], detail))


def _reset_after_tls13(state, detail):
    """TLS 1.3: the server checks the client certificate after the handshake finished on our side; when it
    refuses, its alert can be lost in a TCP reset. Nothing but a refused certificate ends a call there."""
    return _Verdict('client_cert_rejected', "The server broke off the connection right after the TLS 1.3 handshake, "
                    "before any HTTP answer (%s), which is how a refused client certificate shows. %s"
                    % (detail, client_cert_hint(None, state['identity'], state['accepted'], state['acceptable'])))


def _await_refusal(connection, sock, clock, state, seconds):
    """TLS 1.3: listen briefly before sending the request, so that a refusal alert is read before our
    request makes the server's close a TCP reset. Session tickets are consumed on the way."""
    end = time.monotonic() + min(seconds, max(clock.left(), 0))
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return
        try:
            data = connection.recv(65536)
        except SSL.WantReadError:
            continue
        except SSL.ZeroReturnError:
            raise _reset_after_tls13(state, 'closed')
        except SSL.SysCallError as error:
            raise _reset_after_tls13(state, str(error.args[-1]))
        except SSL.Error as error:
            _classify_tls_error(error, state, 'exchange')
        if data:
            state['early_data'] = state.get('early_data', b'') + data
            return


def _server_untrusted(state):
    cert = state.get('server_cert')
    errors = state['verify_errors']
    if state.get('name_mismatch') or any(code in _HOST_MISMATCH for _depth, code in errors):
        names = []
        if cert is not None:
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                names = [str(v) for v in san.get_values_for_type(x509.DNSName)] + \
                        [str(v) for v in san.get_values_for_type(x509.IPAddress)]
            except x509.ExtensionNotFound:
                pass
        return _Verdict('server_untrusted', "The server's certificate is not valid for the name %s (it is for: %s). Use "
                        "the host name of the DOV service in the URL; a different name may mean traffic is intercepted."
                        % (state['host'], ', '.join(names) or 'no subjectAltName'))
    if errors:
        depth, code = errors[0]
        text = _verify_error_text(code)
    else:
        depth, code, text = 0, None, 'certificate verify failed'
    issuer = dn_string(cert.issuer) if cert is not None else 'an unknown issuer'
    trust = ('the CA bundle %s' % state['ca_bundle']) if state['ca_bundle'] else "this host's system trust store"
    if code in (2, 19, 20, 21, 18):
        return _Verdict('server_untrusted', "The server's certificate, issued by %s, does not verify against %s (%s). "
                        "Give ca_bundle with the CA that issued it; if a proxy inspects TLS, its CA is what you see here."
                        % (issuer, trust, text))
    return _Verdict('server_untrusted', "The server's certificate does not verify (%s, at depth %d of the chain). "
                    "Check this host's clock and ca_bundle." % (text, depth))


def _read_response(connection, sock, clock, state):
    """Read the HTTP answer until EOF, Content-Length or MAX_RESPONSE; return the raw bytes."""
    data = state.get('early_data', b'')
    while len(data) < MAX_RESPONSE:
        try:
            chunk = _retry(connection.recv, sock, clock, 65536)
        except SSL.ZeroReturnError:
            break
        except SSL.SysCallError as error:
            if data or error.args[0] in (-1, 0):
                state['eof_error'] = None if data else 'unexpected EOF'
                break
            state['eof_error'] = str(error.args[1] if len(error.args) > 1 else error)
            break
        if not chunk:
            break
        data += chunk
        state['got_data'] = True
        head, sep, body = data.partition(b'\r\n\r\n')
        if sep:
            length = _header(head, b'content-length')
            if length is not None and length.isdigit() and len(body) >= int(length):
                break
    return data


def _header(head, name):
    for line in head.split(b'\r\n')[1:]:
        key, _sep, value = line.partition(b':')
        if key.strip().lower() == name:
            return value.strip().decode('latin-1')
    return None


def parse_response(data):
    """(status, body text) of an HTTP/1.x answer; (None, '') when it is none."""
    head, _sep, body = data.partition(b'\r\n\r\n')
    first = head.split(b'\r\n', 1)[0].decode('latin-1')
    pieces = first.split(None, 2)
    if len(pieces) < 2 or not pieces[0].startswith('HTTP/') or not pieces[1].isdigit():
        return None, ''
    if (_header(head, b'transfer-encoding') or '').lower() == 'chunked':
        body = _dechunk(body)
    return int(pieces[1]), body.decode('utf-8', 'replace')


def _dechunk(body):
    out = b''
    while body:
        line, _sep, rest = body.partition(b'\r\n')
        try:
            size = int(line.split(b';')[0].strip() or b'0', 16)
        except ValueError:
            return out + body
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def is_client_cert_http_refusal(status, body):
    """nginx's way of refusing a client certificate: HTTP 400 (or 495/496) with a known text."""
    if status in (495, 496):
        return True
    if status != 400:
        return False
    text = body.lower()
    return any(marker in text for marker in CLIENT_CERT_HTTP_MARKERS)


def verdict_for_status(status, body, expected_status, identity, accepted, acceptable):
    """The verdict and hint for an HTTP answer."""
    expected = tuple(expected_status)
    if status in expected:
        return 'ok', "The certificate is accepted: the server answered %d." % status
    if is_client_cert_http_refusal(status, body):
        excerpt = ' '.join(body.split())
        marker = next((m for m in CLIENT_CERT_HTTP_MARKERS if m in excerpt.lower()), excerpt[:80])
        return 'client_cert_rejected', client_cert_hint(None, identity, accepted, acceptable, http_body=marker)
    if status in (401, 403):
        who = _common_name(identity.cert) if identity is not None else '(no certificate was sent)'
        return 'not_authorised', ("The certificate works but DOV has not granted this CN rights (HTTP %d): contact %s "
                                  "with the CN %s." % (status, MELDPUNT, who))
    return 'http_error', ("The server answered HTTP %d, expected %s. Check health_path and the URL; a 5xx is on "
                          "the server's side." % (status, ', '.join(str(code) for code in expected)))


def _empty_result(url):
    return {
        'verdict': None, 'hint': None, 'url': _redact_url(url), 'proxy': None,
        'tls_version': None, 'cipher': None, 'server_certificate': None,
        'acceptable_client_cas': [], 'client_issuer_accepted': None, 'client_certificate': None,
        'http_status': None, 'response_excerpt': None, 'elapsed_ms': 0,
    }


def probe(url, client_cert=None, client_key=None, client_key_passphrase=None, pkcs12_path=None,
          pkcs12_password=None, ca_bundle=None, proxy=None, timeout=15, expected_status=(200,), identity=None):
    """Call ``url`` once with the client certificate and return the verdict and what was seen.

    Raises DovError for local input a person must fix (see load_identity); everything else
    ends in one of VERDICTS. ``proxy`` None means HTTPS_PROXY/https_proxy (NO_PROXY honoured).
    """
    if not HAS_PYOPENSSL or not HAS_CRYPTOGRAPHY:
        raise DovError("The Python libraries pyOpenSSL and cryptography are needed on this host. Install them "
                       "(pip install pyOpenSSL, or the python3-openssl package).")
    host, port, path = _split_target(url)
    if identity is None:
        identity = load_identity(client_cert, client_key, client_key_passphrase, pkcs12_path, pkcs12_password)
    if ca_bundle and not os.path.exists(ca_bundle):
        raise DovError("The CA bundle %s does not exist. Give the PEM file with the CA that issued the server's "
                       "certificate, or leave ca_bundle out for the system store." % ca_bundle)
    result = _empty_result(url)
    clock = _Clock(timeout)
    if identity is not None:
        result['client_certificate'] = dict((k, v) for k, v in describe_certificate(identity.cert).items() if k != 'issuer')
        result['client_certificate']['issuer'] = dn_string(identity.cert.issuer)
    proxy = proxy if proxy else proxy_from_environment(host, port)
    proxy_parts = _parse_proxy(proxy) if proxy else None
    if proxy:
        result['proxy'] = _redact_url(proxy if '://' in proxy else 'http://' + proxy)

    context = _context(ca_bundle, identity)
    state = {'host': host, 'target': '%s:%d' % (host, port), 'ca_bundle': ca_bundle, 'identity': identity,
             'verify_errors': [], 'server_cert': None, 'acceptable': [], 'acceptable_der': [],
             'accepted': None, 'alert': None, 'eof_error': None}

    def record(_connection, cert, errnum, depth, ok):
        if not ok:
            state['verify_errors'].append((depth, errnum))
            if depth == 0 and state['server_cert'] is None:
                state['server_cert'] = cert.to_cryptography()
        return bool(ok)         # never overrides OpenSSL's decision
    context.set_verify(SSL.VERIFY_PEER, record)

    sock = connection = None
    try:
        try:
            if proxy_parts:
                sock = _connect(proxy_parts[0], proxy_parts[1], clock, True)
                _tunnel(sock, proxy_parts[0], proxy_parts[1], proxy_parts[2], host, port, clock)
            else:
                sock = _connect(host, port, clock, False)
            sock.setblocking(False)
            connection = SSL.Connection(context, sock)
            try:
                ipaddress.ip_address(host.strip('[]'))
            except ValueError:
                connection.set_tlsext_host_name(_idna(host).encode('ascii'))
            _openssl_host_check(connection, host)
            connection.set_connect_state()
            handshake_start = time.monotonic()
            try:
                _retry(connection.do_handshake, sock, clock)
            except SSL.Error as error:
                _collect(connection, state, result)
                if state['server_cert'] is not None and not host_matches(state['server_cert'], host):
                    state['name_mismatch'] = True
                    raise _server_untrusted(state)
                if isinstance(error, SSL.SysCallError):
                    raise _Verdict('connect_error', "%s closed the connection during the TLS handshake (%s). Check the "
                                   "port; a firewall or proxy may cut TLS." % (state['target'], error.args[-1]))
                _classify_tls_error(error, state, 'handshake')
            _collect(connection, state, result)
            if state['server_cert'] is None or not host_matches(state['server_cert'], host):
                state['name_mismatch'] = True
                raise _server_untrusted(state)
            state['tls_version'] = result['tls_version']
            if result['tls_version'] == 'TLSv1.3':
                # About two round trips (the handshake's time), within 0.03 .. 1 s; a refusal that
                # comes later still shows as a reset, which is classified the same way.
                _await_refusal(connection, sock, clock, state, min(max(2 * (time.monotonic() - handshake_start), 0.03), 1.0))
            request = ('GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nConnection: close\r\n\r\n'
                       % (path, host if port == 443 else state['target'], USER_AGENT)).encode('utf-8')
            try:
                sent = 0
                while sent < len(request):
                    sent += _retry(connection.send, sock, clock, request[sent:])
            except SSL.SysCallError:
                pass        # the refusal (TLS 1.3) shows at the read below
            except SSL.Error as error:
                _classify_tls_error(error, state, 'exchange')
            try:
                data = _read_response(connection, sock, clock, state)
            except SSL.Error as error:
                _classify_tls_error(error, state, 'exchange')
            _collect(connection, state, result)
            status, body = parse_response(data)
            if status is None:
                if data:
                    raise _Verdict('http_error', "%s answered something that is not HTTP (%r). Check the URL and port."
                                   % (state['target'], data[:60]))
                if result['tls_version'] == 'TLSv1.3':
                    raise _reset_after_tls13(state, state['eof_error'] or 'closed')
                why = (' (%s)' % state['eof_error']) if state['eof_error'] else ''
                raise _Verdict('http_error', "%s closed the connection without an HTTP answer%s. Check the URL; "
                               "the service may be down." % (state['target'], why))
            result['http_status'] = status
            result['response_excerpt'] = body[:EXCERPT_LENGTH]
            verdict, hint = verdict_for_status(status, body, expected_status, identity, state['accepted'], state['acceptable'])
            raise _Verdict(verdict, hint)
        except socket.timeout:
            raise _Verdict('timeout', "%s did not finish the TLS handshake and answer within %s s. The service may be "
                           "overloaded, or a firewall drops the traffic." % (state['target'], timeout))
        except (OSError, IOError) as error:
            raise _Verdict('connect_error', "The connection to %s broke (%s). Check firewall and proxy."
                           % (state['target'], error))
    except _Verdict as verdict:
        result['verdict'] = verdict.verdict
        result['hint'] = verdict.hint
    finally:
        if connection is not None:
            try:
                connection.shutdown()
            except Exception:
                pass
        if sock is not None:
            sock.close()
    result['elapsed_ms'] = clock.elapsed_ms()
    return result


def _collect(connection, state, result):
    """Read what the connection shows: TLS version, cipher, server certificate, acceptable CA names."""
    try:
        result['tls_version'] = connection.get_protocol_version_name() if result['tls_version'] is None or \
            result['tls_version'] == 'Unknown' else result['tls_version']
        if result['tls_version'] == 'Unknown':
            result['tls_version'] = None
        result['cipher'] = connection.get_cipher_name() or result['cipher']
    except Exception:
        pass
    peer = connection.get_peer_certificate()
    if peer is not None:
        state['server_cert'] = peer.to_cryptography()
    if state['server_cert'] is not None:
        result['server_certificate'] = describe_certificate(state['server_cert'])
    names = connection.get_client_ca_list() or []
    if names:
        state['acceptable'] = [dn_string(name) for name in names]
        state['acceptable_der'] = [name.der() for name in names]
        result['acceptable_client_cas'] = state['acceptable']
    if state['identity'] is not None:
        state['accepted'] = issuer_accepted(state['identity'].chain, state['acceptable_der'])
        result['client_issuer_accepted'] = state['accepted']


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
                           "the CSR with." % dn_string(identity.cert.subject))
    return context


def _use_identity(context, identity):
    """Certificate, intermediates and key into the context (compat: pyOpenSSL differences)."""
    compat.use_identity(context, identity.cert, identity.extra, identity.key)
