# -*- coding: utf-8 -*-
"""The lab's DOV stand-in (roles/dov_cert/files/dov_standin.py), started and stopped with its own CLI, answers
mtls_check like DOV would: ok for an allowed CN, not_authorised for another, client_cert_rejected
for a certificate its client CA did not issue or that expired. docs/mtls-check.md's start and stop
lines run word for word (only the files and the port are this test's)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import subprocess
import sys

import pytest

import tls_peers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STANDIN = os.path.join(ROOT, 'roles', 'dov_cert', 'files', 'dov_standin.py')
DOC = os.path.join(ROOT, 'docs', 'mtls-check.md')
MODULE = 'vlaanderen.dov.mtls_check'


def standin(*args):
    return subprocess.run([sys.executable, STANDIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=30, check=False)


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    return tls_peers.PKI(tmp_path_factory.mktemp('standin-pki'))


@pytest.fixture(scope='module')
def server(pki, tmp_path_factory):
    folder = tmp_path_factory.mktemp('standin')
    port = tls_peers.free_port()
    pidfile, logfile = str(folder / 'standin.pid'), str(folder / 'standin.log')
    command = ['start', '--listen', '127.0.0.1:%d' % port, '--cert', pki.path('server.pem'),
               '--key', pki.path('server.key'), '--client-ca', pki.path('client-ca.pem'),
               '--allow', tls_peers.GOOD_CN, '--pidfile', pidfile, '--logfile', logfile]
    started = standin(*command)
    assert started.returncode == 0, started
    again = standin(*command)
    assert again.returncode == 0 and 'already runs' in again.stdout, again
    yield {'port': port, 'pidfile': pidfile, 'logfile': logfile, 'url': 'https://localhost:%d/' % port}
    stopped = standin('stop', '--pidfile', pidfile)
    assert stopped.returncode == 0, stopped
    assert not os.path.exists(pidfile)
    assert not tls_peers_port_open(port)
    twice = standin('stop', '--pidfile', pidfile)
    assert twice.returncode == 0 and 'not running' in twice.stdout


def tls_peers_port_open(port):
    import socket
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


def check(ansible, pki, server, cert, **extra):
    options = {'url': server['url'], 'ca_bundle': pki.path('server-ca.pem'), 'fail_on_error': False, 'timeout': 10}
    options.update(pki.pem_args(cert))
    options.update(extra)
    record = ansible.module(MODULE, options)
    assert record['status'] == 'ok', record['run']
    return record['result']


def test_allowed_cn_is_ok_on_both_health_paths(ansible, pki, server):
    for path in tls_peers.HEALTH_PATHS:
        result = check(ansible, pki, server, 'good', health_path=path)
        assert result['verdict'] == 'ok' and result['http_status'] == 200, result
        assert tls_peers.GOOD_CN in result['response_excerpt']


def test_other_cn_is_not_authorised(ansible, pki, server):
    result = check(ansible, pki, server, 'other')
    assert result['verdict'] == 'not_authorised' and result['http_status'] == 403
    assert 'meldpunt@dov.vlaanderen.be' in result['hint']


def test_unknown_issuer_and_expired_are_client_cert_rejected(ansible, pki, server):
    rogue = check(ansible, pki, server, 'rogue')
    assert rogue['verdict'] == 'client_cert_rejected' and 'Unknown issuer' in rogue['hint'], rogue
    expired = check(ansible, pki, server, 'expired')
    assert expired['verdict'] == 'client_cert_rejected' and 'expired on' in expired['hint'], expired


def test_other_paths_are_404_and_an_http_error(ansible, pki, server):
    result = check(ansible, pki, server, 'good', health_path='dov-xdov-server/import/nothing')
    assert result['verdict'] == 'http_error' and result['http_status'] == 404


def test_the_log_names_who_called(server):
    with open(server['logfile']) as handle:
        text = handle.read()
    assert 'listening on https://127.0.0.1:%d/' % server['port'] in text
    assert tls_peers.GOOD_CN in text and 'handshake refused' in text


def test_the_documented_start_and_stop_lines_run_from_the_repository_root(pki, tmp_path):
    block = open(DOC).read().split('## The lab stand-in', 1)[1].split('```sh\n', 1)[1].split('```', 1)[0]
    port = tls_peers.free_port()
    for old, new in (('127.0.0.1:8443', '127.0.0.1:%d' % port), ('server.pem', pki.path('server.pem')),
                     ('server.key', pki.path('server.key')), ('lab-ca.pem', pki.path('client-ca.pem')),
                     ('/tmp/dov-standin', str(tmp_path / 'dov-standin'))):
        assert old in block, old
        block = block.replace(old, new)
    start, stop = block.split('\npython3 ', 1)
    pidfile = str(tmp_path / 'dov-standin.pid')
    try:
        started = subprocess.run(['bash', '-euc', start], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 universal_newlines=True, timeout=30, check=False)
        assert started.returncode == 0 and 'started' in started.stdout, started
        assert tls_peers_port_open(port)
        stopped = subprocess.run(['bash', '-euc', 'python3 ' + stop], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, universal_newlines=True, timeout=30, check=False)
        assert stopped.returncode == 0 and 'stopped' in stopped.stdout, stopped
        assert not os.path.exists(pidfile) and not tls_peers_port_open(port)
    finally:
        if os.path.exists(pidfile):
            with open(pidfile) as handle:
                os.killpg(int(handle.read().strip()), signal.SIGKILL)
