# -*- coding: utf-8 -*-
"""onboard.yml against what must not end as `verified` or installed, with peers the collection
never saw: a DOV-like endpoint (openssl s_server) that answers 200 without ever asking for a client
certificate, and an issuer (the `command` issuer, openssl x509 -req) that delivers a certificate
with a critical extension no TLS server knows. One playbook run for both."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

import pytest
import yaml

import pki_factory
import tls_peers
from conftest import COLLECTIONS, Ansible
from support import write

OPENSSL = tls_peers.OPENSSL
ORG = 'sondeerlab.example/dov-services/oefen/'
BOORLOG, SONDERING = 'Boorlog/oefen', 'Sondering/oefen'
PLAYBOOKS = os.path.join(COLLECTIONS, 'ansible_collections', 'vlaanderen', 'dov', 'playbooks')

# CSR on stdin, certificate on stdout; Sondering's gets the extension section with the unknown
# critical extension (openssl's arbitrary-extension syntax).
ISSUER_SCRIPT = '''#!/bin/sh
set -eu
section=dov_client
[ "$DOV_APPLICATION" = Sondering ] && section=dov_client_odd
echo "$DOV_APPLICATION/$DOV_ENVIRONMENT" >> '{folder}/issued.log'
exec '{openssl}' x509 -req -sha256 -days 400 -CA '{folder}/ca.pem' -CAkey '{folder}/ca.key' \\
    -CAserial '{folder}/ca.srl' -CAcreateserial -extfile '{folder}/client.ext' -extensions "$section"
'''
CLIENT_EXT = '''[dov_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
[dov_client_odd]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
{oid} = critical, DER:05:00
'''.format(oid=pki_factory.UNKNOWN_CRITICAL_OID)


@pytest.fixture(scope='module')
def onboarded(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('refusals'))
    issuer = os.path.join(folder, 'issuer')
    ca = pki_factory.make_root('Refusals Lab Issuing CA')
    ca_bundle = write(os.path.join(issuer, 'ca.pem'), ca.pem)
    write(os.path.join(issuer, 'ca.key'), pki_factory.key_pem(ca.key), 0o600)
    write(os.path.join(issuer, 'client.ext'), CLIENT_EXT)
    command = write(os.path.join(issuer, 'issue.sh'), ISSUER_SCRIPT.format(folder=issuer, openssl=OPENSSL), 0o755)
    server_pki = tls_peers.PKI(os.path.join(folder, 'server-pki'))
    # A DOV-like endpoint that answers every GET with 200 and never asks for a client certificate.
    endpoint = tls_peers.start_s_server(server_pki, os.path.join(folder, 's_server'), 'tls1_3', asks='never')
    try:
        hosts_dir = os.path.join(folder, 'hosts')
        state_dir = os.path.join(folder, 'dov-state')
        inventory = {'all': {'vars': {
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'dov_state_dir': state_dir,
            'dov_issuer': 'command',
            'dov_issuer_command': command,
            'dov_ca_bundle': ca_bundle,
            'dov_server_ca_bundle': server_pki.path('server-ca.pem'),
            'dov_endpoints': {'oefen': endpoint.base_url},
            'dov_check_timeout': 10,
            'dov_organisation': {'name': 'Sondeerlab bv', 'id_type': 'kbo', 'id': '0812.345.603',
                                 'contact_email': 'ict@sondeerlab.example'},
            'dov_applications': [{'name': app, 'description': 'Gegevens opladen',
                                  'environments': {'oefen': {'cn': ORG + app}}} for app in ('Boorlog', 'Sondering')],
        }, 'hosts': {'h1': {'dov_certificates': [
            {'application': app, 'environment': 'oefen', 'dest_dir': os.path.join(hosts_dir, app.lower())}
            for app in ('Boorlog', 'Sondering')]}}}}
        path = write(os.path.join(folder, 'inventory.yml'), yaml.safe_dump(inventory, default_flow_style=False))
        run = Ansible(tmp_path_factory.mktemp('ansible-refusals')).playbook(os.path.join(PLAYBOOKS, 'onboard.yml'),
                                                                            inventory=path)
        write(os.path.join(folder, 'run.log'), repr(run))
        with open(os.path.join(state_dir, 'status.json')) as handle:
            status = json.load(handle)['pairs']
        with open(endpoint.log, 'rb') as handle:
            served = handle.read()
    finally:
        endpoint.stop()
    return {'run': run, 'status': status, 'hosts': hosts_dir, 'state': state_dir, 'issuer': issuer, 'served': served}


def test_an_endpoint_that_never_asks_for_the_client_certificate_leaves_the_pair_not_verified(onboarded):
    run, status = onboarded['run'], onboarded['status']
    assert run.rc != 0, run
    pair = status[BOORLOG]
    assert pair['state'] == 'failed', pair                  # docs/phases.md: a check that fails fails the pair
    assert pair['verdict'] == 'client_cert_not_requested', pair
    assert 'answered HTTP 200 without asking for a client certificate' in pair['hint']
    assert 'intercepts TLS' in pair['hint']
    assert 'client_cert_not_requested' in run.stdout and 'without asking for a client certificate' in run.stdout
    # the first install stays for inspection (docs/phases.md), but it is not called verified anywhere
    assert os.path.exists(os.path.join(onboarded['hosts'], 'boorlog', 'cert.pem'))
    assert 'verified' not in set(entry['state'] for entry in status.values())


def test_a_certificate_with_an_unknown_critical_extension_is_refused_before_anything_is_installed(onboarded):
    run, status = onboarded['run'], onboarded['status']
    pair = status[SONDERING]
    assert pair['state'] == 'failed', pair
    with open(os.path.join(onboarded['issuer'], 'issued.log')) as handle:
        assert sorted(line.strip() for line in handle) == [BOORLOG, SONDERING]
    message = "has a critical extension that TLS servers do not know: %s" % pki_factory.UNKNOWN_CRITICAL_OID
    assert message in run.stdout, run
    assert message in json.dumps(pair)
    folder = os.path.join(onboarded['hosts'], 'sondering')
    installed = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    assert [name for name in installed if name not in ('key.pem', 'csr.pem')] == [], installed
    assert not os.path.exists(os.path.join(onboarded['state'], 'Sondering', 'oefen', 'certificate.pem'))
