# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Why an mTLS call failed, in a sentence a person can act on.

Plain functions over what ``tlswire.Session`` saw (``Seen``): the TLS alert, OpenSSL's verify
errors, the server's certificate, the client CA names it accepts, and the HTTP answer. Each
returns a ``tlswire.Verdict``; the verdicts are those of docs/mtls-check.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._tls.tlswire import Verdict, verify_error_text
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.cn import MELDPUNT

try:
    from cryptography import x509
except ImportError:
    pass        # tlsprobe.probe refuses to run without cryptography


# TLS alerts that mean "your client certificate was not accepted".
CLIENT_CERT_ALERTS = ('unknown ca', 'bad certificate', 'certificate expired', 'certificate required',
                      'unsupported certificate', 'certificate revoked', 'certificate unknown')
# What nginx puts in its HTTP 400 page when it finished the handshake but refuses the certificate
# (nginx's internal codes 495/496 are answered as 400).
CLIENT_CERT_HTTP_MARKERS = ('no required ssl certificate was sent', 'the ssl certificate error',
                            'ssl certificate error', 'ssl_client_verify')
# OpenSSL verify errors: the issuer is not in the trust (unable to get issuer / local issuer,
# self-signed, unable to verify the first certificate) and the name does not match.
UNTRUSTED_ISSUER = (2, 18, 19, 20, 21)
NAME_MISMATCH = (62, 64)


class Seen(object):
    """What one call showed, for the diagnosis."""

    def __init__(self, host, port, identity, trust):
        self.host = host
        self.target = '%s:%d' % (host, port)
        self.identity = identity
        self.trust = trust          # (what the trust is, the option that sets it)
        self.tls_version = None
        self.server_cert = None
        self.verify_errors = []
        self.acceptable = []        # RFC 4514 names
        self.accepted = None        # the client's issuer on that list (None: no list)
        self.got_data = False
        self.cert_requested = False     # the server sent a CertificateRequest (handshake or after)
        self.cert_sent = False          # our certificate went out, with its CertificateVerify
        self.post_handshake_auth = True     # offered to the server (TLS 1.3)

    def take(self, session):
        """Copy what the session showed."""
        shown = session.seen()
        self.tls_version = shown['tls_version'] or self.tls_version
        self.server_cert = shown['server_cert'] or self.server_cert
        self.verify_errors = list(session.verify_errors)
        self.got_data = session.got_data
        self.cert_requested = shown['cert_requested']
        self.cert_sent = shown['cert_sent']
        self.post_handshake_auth = shown['post_handshake_auth']
        names = shown['client_ca_names']
        if names:
            self.acceptable = [name_text(name) for name in names]
            if self.identity is not None:
                self.accepted = issuer_accepted(self.identity.chain, [name.der() for name in names])
        return shown


def name_text(name):
    """An X.509 name (pyOpenSSL X509Name) as RFC 4514 text, as certs.subject_text spells it."""
    parts = []
    for key, value in reversed(name.get_components()):
        text = value.decode('utf-8', 'replace')
        for char in '\\,+"<>;':     # what cryptography's rfc4514_string escapes ('=' in a value is not)
            text = text.replace(char, '\\' + char)
        if text.startswith(('#', ' ')):
            text = '\\' + text
        if text.endswith(' '):
            text = text[:-1] + '\\ '
        parts.append('%s=%s' % (key.decode('ascii', 'replace'), text))
    return ','.join(parts)


def issuer_accepted(chain, acceptable_der):
    """Whether the server's acceptable CA names (DER) include the issuer of the client certificate
    or of an intermediate sent with it (or such an intermediate itself)."""
    wanted = set(acceptable_der)
    for index, cert in enumerate(chain):
        if cert.issuer.public_bytes() in wanted or (index and cert.subject.public_bytes() in wanted):
            return True
    return False


def _common_name(cert):
    names = pki.common_names(cert.subject)
    return names[0] if names else certs.subject_text(cert.subject)


def _reasons(error):
    """The reason strings of a pyOpenSSL error, lower case."""
    args = error.args[0] if error.args else []
    if isinstance(args, list):
        return [str(item[-1]).lower() for item in args if isinstance(item, tuple) and item]
    return [str(args).lower()]


def alert_of(error):
    """The name of the TLS alert the peer sent (``'unknown ca'``), or None."""
    for reason in _reasons(error):
        if ' alert ' in ' ' + reason:
            return reason.split('alert', 1)[1].strip()
    return None


def client_cert_hint(alert=None, identity=None, accepted=None, acceptable=(), http_body=None, now=None):
    """The sentence or two that say which of expired / unknown issuer / wrong key usage it is."""
    now = now or validity.utcnow()
    said = (" The server said: alert '%s'." % alert) if alert else ''
    if http_body:
        said = " The server answered HTTP 400: %r." % http_body
    if identity is None:
        return ("No client certificate was sent, and the server requires one.%s Set client_cert and client_key "
                "(or pkcs12_path) to the certificate DOV's CN was issued for." % said)
    cert = identity.cert
    not_after, not_before = compat.not_valid_after(cert), compat.not_valid_before(cert)
    if not_after < now:
        return ("The client certificate %s expired on %s.%s Request a new certificate for this CN in VO-DCBaaS "
                "and install it." % (_common_name(cert), not_after.strftime('%Y-%m-%d'), said))
    if alert == 'certificate expired':
        return ("The server finds a certificate in the chain expired, though the client certificate runs until %s.%s "
                "Check this host's clock and the intermediate certificates sent with it." % (not_after.strftime('%Y-%m-%d'), said))
    if not_before > now:
        return ("The client certificate is not valid before %s.%s Check this host's clock, or wait."
                % (not_before.strftime('%Y-%m-%d %H:%M UTC'), said))
    if accepted is False or alert == 'unknown ca':
        names = '; '.join(acceptable) if acceptable else 'no list was sent'
        return ("Unknown issuer: the server does not accept certificates issued by %s (it accepts: %s).%s Use the "
                "certificate VO-DCBaaS issued for this CN, with its intermediate CA."
                % (certs.subject_text(cert.issuer), names, said))
    problem = certs.client_auth_problem(cert)
    if problem or alert == 'unsupported certificate':
        return ("Wrong key usage: the client certificate cannot authenticate a TLS client%s.%s Request a certificate "
                "with the client-authentication profile in VO-DCBaaS." % ((' (%s)' % problem) if problem else '', said))
    unknown = certs.unknown_critical_extensions(cert)
    if unknown:
        return ("The client certificate has a critical extension TLS servers do not know (%s), and a server refuses "
                "such a certificate.%s Ask the issuer for a certificate without it." % (', '.join(unknown), said))
    if alert == 'certificate revoked':
        return "The client certificate has been revoked.%s Request a new certificate in VO-DCBaaS." % said
    return ("The server refused the client certificate %s, issued by %s, though it is valid, has the right usage and "
            "its issuer is %s.%s Check that the key belongs to the certificate and that the intermediate CA is sent with it."
            % (_common_name(cert), certs.subject_text(cert.issuer),
               'on the accepted list' if accepted else 'not checked (no list was sent)', said))


def _rejected(seen, alert=None, http_body=None):
    return Verdict('client_cert_rejected', client_cert_hint(alert, seen.identity, seen.accepted, seen.acceptable,
                                                            http_body=http_body))


def tls_failure(error, seen, stage):
    """A pyOpenSSL error during the handshake or the HTTP exchange, as a Verdict."""
    reasons = _reasons(error)
    if seen.verify_errors or any('certificate verify failed' in reason for reason in reasons):
        return server_untrusted(seen)
    if stage == 'handshake' and error.__class__.__name__ == 'SysCallError':
        return Verdict('connect_error', "%s closed the connection during the TLS handshake (%s). Check the port; a "
                       "firewall or proxy may cut TLS." % (seen.target, error.args[-1]))
    alert = alert_of(error)
    if stage == 'exchange' and alert is None and seen.tls_version == 'TLSv1.3' and not seen.got_data:
        return reset_after_tls13(seen, ', '.join(reason for reason in reasons if reason) or 'connection reset')
    if alert in CLIENT_CERT_ALERTS or (alert == 'handshake failure' and seen.acceptable and seen.identity is None):
        return _rejected(seen, alert)
    if any('wrong version number' in reason or 'packet length too long' in reason for reason in reasons):
        return Verdict('connect_error', "%s does not speak TLS (%s). Check the port and the https:// in the URL."
                       % (seen.target, ', '.join(reasons)))
    detail = ("alert '%s'" % alert) if alert else (', '.join(reasons) or str(error))
    return Verdict('connect_error', "The TLS %s with %s failed (%s). Check that the URL points at the DOV services; "
                   "a proxy or firewall that inspects TLS can cause this." % (stage, seen.target, detail))


def reset_after_tls13(seen, detail):
    """TLS 1.3: the server checks the client certificate after the handshake finished on our side;
    when it refuses, its alert can be lost in a TCP reset. Nothing but a refusal ends a call there,
    when the server asked for the certificate; a server that never asked refused nothing."""
    if not seen.cert_requested:
        return Verdict('http_error', "%s closed the connection without an HTTP answer (%s), and it never asked for a "
                       "client certificate. Check the URL's host and port; the service may be down." % (seen.target, detail))
    return Verdict('client_cert_rejected', "The server broke off the connection right after the TLS 1.3 handshake, "
                   "before any HTTP answer (%s), which is how a refused client certificate shows. %s"
                   % (detail, client_cert_hint(None, seen.identity, seen.accepted, seen.acceptable)))


def server_untrusted(seen):
    cert = seen.server_cert
    codes = [code for _depth, code in seen.verify_errors]
    if any(code in NAME_MISMATCH for code in codes):
        names = []
        if cert is not None:
            try:
                san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                names = [str(value) for value in san.get_values_for_type(x509.DNSName)] + \
                        [str(value) for value in san.get_values_for_type(x509.IPAddress)]
            except x509.ExtensionNotFound:
                pass
        return Verdict('server_untrusted', "The server's certificate is not valid for the name %s (it is for: %s). Use "
                       "the host name of the DOV service in the URL; a different name may mean traffic is intercepted."
                       % (seen.host, ', '.join(names) or 'no subjectAltName'))
    depth, code = seen.verify_errors[0] if seen.verify_errors else (0, None)
    text = verify_error_text(code) if code is not None else 'certificate verify failed'
    trust, option = seen.trust
    if code in UNTRUSTED_ISSUER:
        issuer = certs.subject_text(cert.issuer) if cert is not None else 'an unknown issuer'
        return Verdict('server_untrusted', "The server's certificate, issued by %s, does not verify against %s (%s). "
                       "Give %s with the CA that issued it; if a proxy inspects TLS, its CA is what you see here."
                       % (issuer, trust, text, option))
    return Verdict('server_untrusted', "The server's certificate does not verify (%s, at depth %d of the chain). "
                   "Check this host's clock and %s." % (text, depth, option))


def is_client_cert_http_refusal(status, body):
    """nginx's way of refusing a client certificate: HTTP 400 (or 495/496) with a known text."""
    if status in (495, 496):
        return True
    return status == 400 and any(marker in body.lower() for marker in CLIENT_CERT_HTTP_MARKERS)


def not_requested(status, seen):
    """The server answered without ever asking for a client certificate: whatever it said, it says
    nothing about ours. Not the DOV service as it should be, or not the DOV service at all."""
    late = ''
    if seen.tls_version == 'TLSv1.3' and not seen.post_handshake_auth:
        late = (" This host's OpenSSL binding could not offer TLS 1.3 post-handshake authentication, so a server "
                "that asks only after the request could not ask.")
    if seen.identity is not None:
        sent = 'without asking for a client certificate'
    elif seen.cert_requested:
        sent = 'without a client certificate, though it asked for one (it is optional there)'
    else:
        sent = 'without asking for a client certificate (none was given to send)'
    return Verdict('client_cert_not_requested', "%s answered HTTP %d %s, so the certificate is not proven.%s Check "
                   "that the URL's host and port are the DOV service (not a test server or a load balancer that ends "
                   "TLS), and whether a proxy intercepts TLS on the way (its CA would be the issuer of the server "
                   "certificate: %s)." % (seen.target, status, sent, late,
                                          certs.subject_text(seen.server_cert.issuer) if seen.server_cert is not None
                                          else 'unknown'))


def for_status(status, body, expected_status, seen):
    """The Verdict for an HTTP answer. ``ok`` only when the server asked for a client certificate
    and ours went out (with its CertificateVerify) before the expected status came."""
    expected = tuple(expected_status)
    if not seen.cert_requested:
        return not_requested(status, seen)
    if status in expected:
        if seen.identity is None:
            return not_requested(status, seen)
        if not seen.cert_sent:
            return Verdict('client_cert_rejected', "%s asked for a client certificate, but OpenSSL sent none (the "
                           "server's signature algorithms may not fit the key of %s). Use the key and certificate "
                           "VO-DCBaaS issued (RSA 2048)." % (seen.target, _common_name(seen.identity.cert)))
        return Verdict('ok', "The certificate is accepted: the server asked for it and answered %d." % status)
    if is_client_cert_http_refusal(status, body):
        excerpt = ' '.join(body.split())
        marker = next((m for m in CLIENT_CERT_HTTP_MARKERS if m in excerpt.lower()), excerpt[:80])
        return _rejected(seen, http_body=marker)
    if status in (401, 403):
        who = _common_name(seen.identity.cert) if seen.identity is not None else '(no certificate was sent)'
        return Verdict('not_authorised', "The certificate works but DOV has not granted this CN rights (HTTP %d): "
                       "contact %s with the CN %s." % (status, MELDPUNT, who))
    return Verdict('http_error', "The server answered HTTP %d, expected %s. Check health_path and the URL; a 5xx is "
                   "on the server's side." % (status, ', '.join(str(code) for code in expected)))
