# -*- coding: utf-8 -*-
"""tlsdiagnosis: the sentence a person can act on, from what a call saw. Real certificates (the
test PKI of tests/integration/pki_factory.py), real pyOpenSSL names and errors, the real Seen and
Identity; each verdict and hint as the user reads it. (The same verdicts against real servers:
test_tlsprobe.py.)"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs
from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlsdiagnosis, tlsprobe

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('dov_pki_factory', os.path.join(HERE, '..', '..', '..', '..', 'integration',
                                                                               'pki_factory.py'))
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)
TRUST = ('the CA bundle /etc/dov/server-ca.pem', 'server_ca_bundle')
# The code gets its X509Name objects from get_client_ca_list(); the tests make them from an X509.
NAMES = pytest.mark.filterwarnings('ignore:X509.get_subject is deprecated:DeprecationWarning')


@pytest.fixture(scope='module')
def pki():
    return factory.shared()


def seen(identity=None, **shown):
    """What one call to dov.example:443 saw."""
    result = tlsdiagnosis.Seen('dov.example', 443, identity, TRUST)
    for name, value in shown.items():
        setattr(result, name, value)
    return result


def identity(pki, cert=None):
    return tlsprobe.Identity(cert or pki.leaf, pki.key, [pki.intermediate.cert])


def issuer_of(pki):
    return certs.subject_text(pki.intermediate.cert.subject)


# ---------------------------------------------------------------- names and alerts

def pyopenssl_and_cryptography_name(organisation):
    """The same subject as a cryptography Name and as a pyOpenSSL X509Name."""
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.COMMON_NAME, 'dov.example')])
    pyopenssl_name = crypto.X509().get_subject()
    pyopenssl_name.C, pyopenssl_name.O, pyopenssl_name.CN = 'BE', organisation, 'dov.example'
    return pyopenssl_name, name


@NAMES
@pytest.mark.parametrize('organisation', ['Geolab nv', 'Geolab, Boor + Sonde "BV"', '#hash', ' leading and trailing ',
                                          'a;b<c>d\\e'])
def test_a_pyopenssl_name_reads_as_certs_spells_it_also_with_special_characters(organisation):
    pyopenssl_name, name = pyopenssl_and_cryptography_name(organisation)
    assert tlsdiagnosis.name_text(pyopenssl_name) == certs.subject_text(name)


@NAMES
def test_an_equals_sign_in_a_name_is_spelled_as_certs_spells_it():
    pyopenssl_name, name = pyopenssl_and_cryptography_name('a=b')
    assert tlsdiagnosis.name_text(pyopenssl_name) == certs.subject_text(name)


def test_the_issuer_is_accepted_when_the_server_lists_it_or_the_intermediate_sent_along(pki):
    chain = identity(pki).chain

    def der(name):
        return name.public_bytes()
    assert tlsdiagnosis.issuer_accepted(chain, [der(pki.intermediate.cert.subject)]) is True
    assert tlsdiagnosis.issuer_accepted(chain, [der(pki.root.cert.subject)]) is True        # the intermediate's issuer
    assert tlsdiagnosis.issuer_accepted(chain, [der(pki.stranger_root.cert.subject)]) is False
    assert tlsdiagnosis.issuer_accepted([pki.leaf], [der(pki.root.cert.subject)]) is False  # no intermediate sent


@pytest.mark.parametrize('reason, alert', [
    ('tlsv13 alert certificate required', 'certificate required'),
    ('sslv3 alert bad certificate', 'bad certificate'),
    ('tlsv1 alert unknown ca', 'unknown ca'),
    ('wrong version number', None),
])
def test_the_alert_is_read_from_a_pyopenssl_error(reason, alert):
    assert tlsdiagnosis.alert_of(SSL.Error([('SSL routines', '', reason)])) == alert


# ---------------------------------------------------------------- the client certificate's hint

def test_no_client_certificate_says_which_options_to_set():
    assert tlsdiagnosis.client_cert_hint('certificate required', None) == (
        "No client certificate was sent, and the server requires one. The server said: alert 'certificate required'. "
        "Set client_cert and client_key (or pkcs12_path) to the certificate DOV's CN was issued for.")


def test_an_expired_or_not_yet_valid_certificate_is_named_by_its_dates(pki):
    expired = pki.wrong['expired']
    hint = tlsdiagnosis.client_cert_hint('certificate expired', identity(pki, expired))
    assert hint == ("The client certificate %s expired on %s. The server said: alert 'certificate expired'. Request a new "
                    "certificate for this CN in VO-DCBaaS and install it."
                    % (factory.CN, compat.not_valid_after(expired).strftime('%Y-%m-%d')))
    early = pki.wrong['not yet valid']
    assert tlsdiagnosis.client_cert_hint(None, identity(pki, early)) == (
        "The client certificate is not valid before %s. Check this host's clock, or wait."
        % compat.not_valid_before(early).strftime('%Y-%m-%d %H:%M UTC'))


def test_an_unknown_issuer_names_the_issuer_and_what_the_server_accepts(pki):
    hint = tlsdiagnosis.client_cert_hint('unknown ca', identity(pki), accepted=False, acceptable=['CN=Other CA', 'CN=Third'])
    assert hint == ("Unknown issuer: the server does not accept certificates issued by %s (it accepts: CN=Other CA; "
                    "CN=Third). The server said: alert 'unknown ca'. Use the certificate VO-DCBaaS issued for this CN, "
                    "with its intermediate CA." % issuer_of(pki))


def test_a_server_only_certificate_is_wrong_key_usage(pki):
    hint = tlsdiagnosis.client_cert_hint('unsupported certificate', identity(pki, pki.wrong['server-only usage']))
    assert hint.startswith('Wrong key usage: the client certificate cannot authenticate a TLS client (')
    assert hint.endswith(". The server said: alert 'unsupported certificate'. Request a certificate with the "
                         "client-authentication profile in VO-DCBaaS.")


def test_an_unknown_critical_extension_and_a_revocation_are_named(pki):
    hint = tlsdiagnosis.client_cert_hint('bad certificate', identity(pki, pki.wrong['unknown critical extension']))
    assert hint.startswith('The client certificate has a critical extension TLS servers do not know (%s'
                           % factory.UNKNOWN_CRITICAL_OID)
    assert tlsdiagnosis.client_cert_hint('certificate revoked', identity(pki)) == (
        "The client certificate has been revoked. The server said: alert 'certificate revoked'. Request a new "
        "certificate in VO-DCBaaS.")


def test_a_valid_certificate_refused_anyway_points_at_the_key_and_the_intermediate(pki):
    hint = tlsdiagnosis.client_cert_hint('bad certificate', identity(pki), accepted=True)
    assert hint == ("The server refused the client certificate %s, issued by %s, though it is valid, has the right usage "
                    "and its issuer is on the accepted list. The server said: alert 'bad certificate'. Check that the "
                    "key belongs to the certificate and that the intermediate CA is sent with it."
                    % (factory.CN, issuer_of(pki)))
    assert 'not checked (no list was sent)' in tlsdiagnosis.client_cert_hint(None, identity(pki))


# ---------------------------------------------------------------- verdicts

def test_a_pyopenssl_alert_for_the_client_certificate_is_client_cert_rejected(pki):
    error = SSL.Error([('SSL routines', '', 'tlsv1 alert unknown ca')])
    verdict = tlsdiagnosis.tls_failure(error, seen(identity(pki), accepted=False), 'handshake')
    assert verdict.verdict == 'client_cert_rejected' and verdict.hint.startswith('Unknown issuer: ')
    plain_http = tlsdiagnosis.tls_failure(SSL.Error([('SSL routines', '', 'wrong version number')]), seen(), 'handshake')
    assert (plain_http.verdict, plain_http.hint) == (
        'connect_error', 'dov.example:443 does not speak TLS (wrong version number). Check the port and the https:// in '
                         'the URL.')


def test_a_tls13_reset_is_a_refusal_only_when_the_server_asked_for_a_certificate(pki):
    asked = tlsdiagnosis.reset_after_tls13(seen(identity(pki), cert_requested=True), 'connection reset')
    assert asked.verdict == 'client_cert_rejected'
    assert asked.hint.startswith('The server broke off the connection right after the TLS 1.3 handshake, before any '
                                 'HTTP answer (connection reset), which is how a refused client certificate shows. ')
    never = tlsdiagnosis.reset_after_tls13(seen(identity(pki)), 'connection reset')
    assert (never.verdict, never.hint) == (
        'http_error', "dov.example:443 closed the connection without an HTTP answer (connection reset), and it never "
                      "asked for a client certificate. Check the URL's host and port; the service may be down.")


def test_a_server_certificate_for_another_name_lists_the_names_it_is_for(pki):
    verdict = tlsdiagnosis.server_untrusted(seen(server_cert=pki.server, verify_errors=[(0, 64)]))
    assert (verdict.verdict, verdict.hint) == (
        'server_untrusted', "The server's certificate is not valid for the name dov.example (it is for: 127.0.0.1). "
                            "Use the host name of the DOV service in the URL; a different name may mean traffic is "
                            "intercepted.")


def test_a_server_certificate_of_an_unknown_ca_names_the_issuer_and_the_option(pki):
    verdict = tlsdiagnosis.server_untrusted(seen(server_cert=pki.server, verify_errors=[(1, 20)]))
    assert verdict.hint == ("The server's certificate, issued by %s, does not verify against the CA bundle "
                            "/etc/dov/server-ca.pem (unable to get local issuer certificate). Give server_ca_bundle with "
                            "the CA that issued it; if a proxy inspects TLS, its CA is what you see here." % issuer_of(pki))
    expired = tlsdiagnosis.server_untrusted(seen(server_cert=pki.server, verify_errors=[(1, 10)]))
    assert expired.hint == ("The server's certificate does not verify (certificate has expired, at depth 1 of the "
                            "chain). Check this host's clock and server_ca_bundle.")


@pytest.mark.parametrize('status, body, expected', [
    (200, 'ok', 'ok'),
    (403, 'Forbidden', 'not_authorised'),
    (400, '<center>The SSL certificate error</center>', 'client_cert_rejected'),
    (496, '', 'client_cert_rejected'),
    (502, 'Bad Gateway', 'http_error'),
])
def test_an_http_answer_after_the_certificate_went_out(pki, status, body, expected):
    verdict = tlsdiagnosis.for_status(status, body, [200], seen(identity(pki), cert_requested=True, cert_sent=True,
                                                                server_cert=pki.server))
    assert verdict.verdict == expected
    if expected == 'not_authorised':
        assert verdict.hint == ("The certificate works but DOV has not granted this CN rights (HTTP 403): contact "
                                "meldpunt@dov.vlaanderen.be with the CN %s." % factory.CN)


def test_an_answer_without_a_certificate_request_proves_nothing(pki):
    verdict = tlsdiagnosis.for_status(200, 'ok', [200], seen(identity(pki), server_cert=pki.server))
    assert verdict.verdict == 'client_cert_not_requested'
    assert verdict.hint.startswith('dov.example:443 answered HTTP 200 without asking for a client certificate, so the '
                                   'certificate is not proven.')
    assert verdict.hint.endswith('(its CA would be the issuer of the server certificate: %s).' % issuer_of(pki))
    unsent = tlsdiagnosis.for_status(200, 'ok', [200], seen(identity(pki), cert_requested=True, server_cert=pki.server))
    assert unsent.verdict == 'client_cert_rejected' and 'OpenSSL sent none' in unsent.hint
