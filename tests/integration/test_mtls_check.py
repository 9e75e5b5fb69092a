# -*- coding: utf-8 -*-
"""vlaanderen.dov.mtls_check through ansible-playbook against real peers it never saw:
nginx (ssl_verify_client on + a CN allow-list), openssl s_server on TLS 1.2 and 1.3, tinyproxy."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

import tls_peers

MODULE = 'vlaanderen.dov.mtls_check'


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return tls_peers.PKI(tmp_path_factory.mktemp('mtls-pki'))


@pytest.fixture(scope='module')
def nginx(pki, tmp_path_factory):
    peer = tls_peers.start_nginx(pki, tmp_path_factory.mktemp('nginx'))
    yield peer
    peer.stop()


@pytest.fixture(scope='module')
def s_server(pki, tmp_path_factory):
    peers = dict((version, tls_peers.start_s_server(pki, tmp_path_factory.mktemp(version), version))
                 for version in ('tls1_2', 'tls1_3'))
    yield peers
    for peer in peers.values():
        peer.stop()


@pytest.fixture(scope='module')
def tinyproxy(tmp_path_factory):
    peer = tls_peers.start_tinyproxy(tmp_path_factory.mktemp('tinyproxy'))
    yield peer
    peer.stop()


def args(pki, peer, cert='good', **extra):
    options = {'url': peer.base_url, 'ca_bundle': pki.path('server-ca.pem'), 'timeout': 10}
    if cert:
        options.update(pki.pem_args(cert))
    options.update(extra)
    return options


def test_accepted_certificate_is_ok_on_both_health_paths_also_in_check_mode_never_changed(ansible, pki, nginx):
    for path in tls_peers.HEALTH_PATHS:
        for check in (False, True):
            record = ansible.module(MODULE, args(pki, nginx, health_path=path), check=check)
            assert record['status'] == 'ok', record['run']
            result = record['result']
            assert result['changed'] is False
            assert result['verdict'] == 'ok' and result['http_status'] == 200
            assert result['url'] == nginx.base_url + path
            assert result['acceptable_client_cas'] == [pki.client_ca_dn]
            assert result['client_issuer_accepted'] is True
            assert result['tls_version'] == 'TLSv1.3' and result['cipher']
            assert result['server_certificate']['subject'] == 'CN=localhost,O=Lab,C=BE'
            assert result['server_certificate']['days_left'] >= 360
            assert result['client_certificate']['subject'].startswith('CN=' + tls_peers.GOOD_CN)
            assert 'Chuck Norris' in result['response_excerpt']


def test_pkcs12_and_encrypted_key_work_and_no_secret_shows_at_vvv(ansible, pki, nginx):
    p12 = ansible.module(MODULE, args(pki, nginx, cert=None, pkcs12_path=pki.path('good.p12'),
                                      pkcs12_password=tls_peers.P12_PASSWORD), verbosity=3)
    pem = ansible.module(MODULE, args(pki, nginx, client_key=pki.path('good-enc.key'),
                                      client_key_passphrase=tls_peers.KEY_PASSPHRASE), verbosity=3)
    # A proxy password in the URL is masked too (this one fails, so it also shows in the failure).
    proxy = ansible.module(MODULE, args(pki, nginx, proxy='http://me:Prx-77-secret@127.0.0.1:%d' % tls_peers.free_port()),
                           verbosity=3)
    assert p12['result']['verdict'] == 'ok', p12['run']
    assert pem['result']['verdict'] == 'ok', pem['run']
    assert proxy['result']['verdict'] == 'proxy_error', proxy['run']
    for record in (p12, pem, proxy):
        seen = record['run'].stdout + record['run'].stderr
        for secret in (tls_peers.P12_PASSWORD, tls_peers.KEY_PASSPHRASE, 'Prx-77-secret'):
            assert secret not in seen
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in p12['run'].stdout     # -vvv did print the arguments


def test_cn_without_rights_is_not_authorised_and_the_hint_names_the_meldpunt(ansible, pki, nginx):
    record = ansible.module(MODULE, args(pki, nginx, cert='other'))
    assert record['status'] == 'failed'
    result = record['result']
    assert result['verdict'] == 'not_authorised' and result['http_status'] == 403
    assert 'meldpunt@dov.vlaanderen.be' in result['hint'] and tls_peers.OTHER_CN in result['hint']
    assert result['msg'].startswith('not_authorised: ')


def test_nginx_400_for_unknown_ca_expired_and_critical_is_client_cert_rejected_with_the_reason(ansible, pki, nginx):
    rogue = ansible.module(MODULE, args(pki, nginx, cert='rogue'))['result']
    assert rogue['verdict'] == 'client_cert_rejected' and rogue['http_status'] == 400
    assert rogue['client_issuer_accepted'] is False
    assert 'Unknown issuer' in rogue['hint'] and pki.rogue_ca_dn in rogue['hint']
    expired = ansible.module(MODULE, args(pki, nginx, cert='expired'))['result']
    assert expired['verdict'] == 'client_cert_rejected'
    assert expired['client_issuer_accepted'] is True and expired['client_certificate']['days_left'] < 0
    assert 'expired on' in expired['hint']
    # nginx refuses a certificate with a critical extension it does not know; the hint names it
    critical = ansible.module(MODULE, args(pki, nginx, cert='critical'))['result']
    assert critical['verdict'] == 'client_cert_rejected' and critical['http_status'] == 400, critical
    assert 'critical extension TLS servers do not know (%s)' % tls_peers.UNKNOWN_CRITICAL_OID in critical['hint']
    with open(nginx.log) as handle:
        assert 'unhandled critical extension' in handle.read()


@pytest.mark.parametrize('version', ['tls1_2', 'tls1_3'])
def test_s_server_alerts_are_client_cert_rejected_on_tls12_and_tls13(ansible, pki, s_server, version):
    peer = s_server[version]
    expected = {'tls1_2': 'TLSv1.2', 'tls1_3': 'TLSv1.3'}[version]
    good = ansible.module(MODULE, args(pki, peer))['result']
    assert good['verdict'] == 'ok' and good['tls_version'] == expected, good
    cases = [('rogue', "alert 'unknown ca'", 'Unknown issuer'),
             ('expired', "alert 'certificate expired'", 'expired on'),
             ('serveronly', "alert 'unsupported certificate'", 'Wrong key usage'),
             (None, 'alert', 'No client certificate was sent')]
    for cert, alert, words in cases:
        record = ansible.module(MODULE, args(pki, peer, cert=cert, fail_on_error=False))
        result = record['result']
        assert record['status'] == 'ok', record['run']
        assert result['verdict'] == 'client_cert_rejected', (cert, result)
        assert alert in result['hint'] and words in result['hint'], (cert, result['hint'])
        assert result['acceptable_client_cas'] == [pki.client_ca_dn]
    rogue = ansible.module(MODULE, args(pki, peer, cert='rogue', fail_on_error=False))['result']
    assert rogue['client_issuer_accepted'] is False


def test_s_server_that_never_asks_is_not_ok_and_one_that_asks_after_the_request_is(ansible, pki, tmp_path_factory):
    # A server that answers 200 without ever asking for a client certificate (TLS 1.2 and 1.3) proves
    # nothing about it; one that asks only after the request (TLS 1.3 post-handshake, as Apache does
    # per location) does, and refuses a certificate of an unknown issuer there. One playbook run.
    peers = {'never12': tls_peers.start_s_server(pki, tmp_path_factory.mktemp('never12'), 'tls1_2', asks='never'),
             'never13': tls_peers.start_s_server(pki, tmp_path_factory.mktemp('never13'), 'tls1_3', asks='never')}
    try:
        peers['late'] = tls_peers.start_s_server(pki, tmp_path_factory.mktemp('late'), 'tls1_3', asks='after_request')
        tasks = [('never12', 'good'), ('never13', 'good'), ('late', 'good'), ('late', 'rogue')]
        play = '- hosts: localhost\n  gather_facts: false\n  tasks:\n' + ''.join(
            '    - name: %s %s\n      %s: %s\n' % (
                peer, cert, MODULE, json.dumps(args(pki, peers[peer], cert=cert, fail_on_error=False)))
            for peer, cert in tasks)
        run = ansible.playbook(play)
        assert run.rc == 0, run
        for name in ('never12', 'never13'):
            result = run.task('%s good' % name)['result']
            assert result['verdict'] == 'client_cert_not_requested', result
            assert result['http_status'] == 200 and result['client_cert_requested'] is False
            assert 'without asking for a client certificate' in result['hint'] and 'intercepts TLS' in result['hint']
        late = run.task('late good')['result']
        assert late['verdict'] == 'ok', late
        assert late['tls_version'] == 'TLSv1.3' and late['client_cert_requested'] and late['client_cert_sent']
        assert 'Chuck Norris' in late['response_excerpt']
        rogue = run.task('late rogue')['result']
        assert rogue['verdict'] == 'client_cert_rejected' and "alert 'unknown ca'" in rogue['hint'], rogue
        assert peers['late'].asked == 2         # s_server really sent both requests after the handshake
        with open(peers['late'].log, 'rb') as handle:
            assert b'CN = geolab.be/dov-services/oefen/Geodrill' in handle.read()     # it verified ours
    finally:
        for peer in peers.values():
            peer.stop()


def test_server_from_a_private_ca_without_ca_bundle_is_server_untrusted(ansible, pki, nginx):
    options = args(pki, nginx)
    del options['ca_bundle']
    result = ansible.module(MODULE, options)['result']
    assert result['verdict'] == 'server_untrusted'
    assert 'ca_bundle' in result['hint'] and result['http_status'] is None


def test_wrong_host_name_is_server_untrusted(ansible, pki, nginx):
    result = ansible.module(MODULE, args(pki, nginx, url='https://127.0.0.1:%d/' % nginx.port))['result']
    assert result['verdict'] == 'server_untrusted'
    assert 'not valid for the name 127.0.0.1' in result['hint']


def test_closed_port_is_connect_error(ansible, pki):
    port = tls_peers.free_port()
    result = ansible.module(MODULE, {'url': 'https://localhost:%d/' % port, 'timeout': 5})['result']
    assert result['verdict'] == 'connect_error' and 'refused' in result['hint']


def test_the_check_passes_through_tinyproxy_explicit_and_from_https_proxy(ansible, pki, nginx, tinyproxy):
    proxy = 'http://127.0.0.1:%d' % tinyproxy.port
    explicit = ansible.module(MODULE, args(pki, nginx, proxy=proxy))
    assert explicit['result']['verdict'] == 'ok', explicit['run']
    assert explicit['result']['proxy'] == proxy
    from_env = ansible.module(MODULE, args(pki, nginx), env={'HTTPS_PROXY': proxy, 'NO_PROXY': 'example.invalid'})
    assert from_env['result']['verdict'] == 'ok' and from_env['result']['proxy'] == proxy
    excluded = ansible.module(MODULE, args(pki, nginx), env={'HTTPS_PROXY': proxy, 'NO_PROXY': 'localhost'})
    assert excluded['result']['verdict'] == 'ok' and excluded['result']['proxy'] is None
    with open(tinyproxy.log) as handle:
        assert handle.read().count('CONNECT localhost:%d' % nginx.port) >= 2    # the proxy really saw them


def test_a_bad_proxy_is_proxy_error(ansible, pki, nginx):
    port = tls_peers.free_port()
    result = ansible.module(MODULE, args(pki, nginx, proxy='http://127.0.0.1:%d' % port))['result']
    assert result['verdict'] == 'proxy_error'
    from_env = ansible.module(MODULE, args(pki, nginx), env={'HTTPS_PROXY': 'http://127.0.0.1:%d' % port})['result']
    assert from_env['verdict'] == 'proxy_error'


def test_fail_on_error_false_reports_without_failing(ansible, pki, nginx):
    record = ansible.module(MODULE, args(pki, nginx, cert='other', fail_on_error=False))
    assert record['status'] == 'ok', record['run']
    assert record['result']['verdict'] == 'not_authorised'
    assert record['result']['changed'] is False


def test_bad_local_input_fails_even_with_fail_on_error_false(ansible, pki, nginx):
    record = ansible.module(MODULE, args(pki, nginx, client_key=pki.path('other.key'), fail_on_error=False))
    assert record['status'] == 'failed'
    assert 'does not belong' in record['result']['msg']
    record = ansible.module(MODULE, {'url': 'http://localhost/'})
    assert record['status'] == 'failed' and 'https' in record['result']['msg']
