# -*- coding: utf-8 -*-
"""renew.yml as a user runs it: a new key staged beside the live one, a renewal that waits on the portal,
the rollover of key and certificate as one set, and a failed renewal that leaves the live pair serving.

Boorlog/oefen on h1 and h2 (one key, shared), Sondering/oefen on h1. A ``command`` issuer (openssl with a
private CA) hands out 20-day certificates at onboarding, dov_renew_before_days is 30; a DOV-like nginx
asks for client certificates of that CA. With DOV_TEST_ROGUE=<application> the issuer signs that
application's certificate with a CA nobody trusts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re
import subprocess

import pytest

import pki_factory
from conftest import Ansible
from support import snapshot
from test_hosts_truth import OPENSSL, PLAYBOOKS, Site, World, openssl, recap, write

BOORLOG, SONDERING = 'Boorlog/oefen', 'Sondering/oefen'

ROGUE_SCRIPT = '''#!/bin/sh
# Test issuer: like the truth issuer, but DOV_TEST_ROGUE=<application> signs with an unknown CA.
set -eu
echo "$DOV_APPLICATION/$DOV_ENVIRONMENT" >> '{folder}/issued.log'
ca='{folder}/ca'
if [ "${{DOV_TEST_ROGUE:-}}" = "$DOV_APPLICATION" ]; then ca='{folder}/rogue'; fi
exec '{openssl}' x509 -req -sha256 -days "${{DOV_TEST_DAYS:-400}}" -CA "$ca.pem" -CAkey "$ca.key" \\
    -CAserial '{folder}/ca.srl' -CAcreateserial -extfile '{folder}/client.ext' -extensions dov_client
'''


def public_key(path, kind='pkey'):
    """The public key (PEM) of a key, CSR or certificate file, as openssl prints it."""
    if kind == 'pkey':
        return openssl('pkey', '-in', path, '-pubout')
    if kind == 'req':
        return openssl('req', '-in', path, '-noout', '-pubkey')
    return openssl('x509', '-in', path, '-noout', '-pubkey')


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


@pytest.fixture(scope='module')
def world(tmp_path_factory):
    world = World(tmp_path_factory.mktemp('renew'), Ansible(tmp_path_factory.mktemp('ansible-renew')))
    rogue = pki_factory.make_root('Rogue Issuing CA')
    write(os.path.join(world.issuer, 'rogue.pem'), rogue.pem)
    write(os.path.join(world.issuer, 'rogue.key'), pki_factory.key_pem(rogue.key), 0o600)
    write(world.command, ROGUE_SCRIPT.format(folder=world.issuer, openssl=OPENSSL), 0o755)
    yield world
    world.stop()


@pytest.fixture(scope='module')
def site(world):
    site = Site(world, 'renew', {'h1': [('Boorlog', {}), ('Sondering', {})], 'h2': [('Boorlog', {})]},
                dov_renew_before_days=30)
    site.first = site.run(env={'DOV_TEST_DAYS': '20'})
    return site


def curl(site, host, application):
    """The health call with the installed key and certificate, as curl makes it (exit 0 and 200)."""
    dest = site.dest_dir(host, application)
    proc = subprocess.run(['curl', '-sS', '--max-time', '10', '--fail', '--cacert', site.world.server_ca_bundle,
                           '--cert', os.path.join(dest, 'fullchain.pem'), '--key', os.path.join(dest, 'key.pem'),
                           site.world.endpoint + 'dov-xdov-server/logs/chucknorris'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=30)
    return proc.returncode == 0 and b'Chuck Norris' in proc.stdout


def live(site, host, application):
    dest = site.dest_dir(host, application)
    return dict((name, read(os.path.join(dest, name))) for name in ('key.pem', 'cert.pem', 'fullchain.pem'))


def states(site):
    return dict((key, pair['state']) for key, pair in site.status().items())


def test_onboarding_inside_the_window_is_renewal_due_and_renews_nothing(site, world):
    assert site.first.rc == 0, site.first
    assert states(site) == {BOORLOG: 'renewal_due', SONDERING: 'renewal_due'}
    assert site.status()[BOORLOG]['days_left'] in (19, 20)
    assert not glob.glob(os.path.join(site.hosts_dir, '*', '*', '*.next'))
    row = [line for line in site.first.stdout.splitlines() if 'Boorlog' in line and 'renewal_due' in line][0]
    assert site.status()[BOORLOG]['not_after'][:10] in row


def test_check_mode_shows_what_would_be_renewed_and_writes_nothing(site):
    hosts, state = site.files(), snapshot(site.state_dir)
    run = site.world.runner.playbook(os.path.join(PLAYBOOKS, 'renew.yml'), inventory=site.inventory(), check=True,
                                     extra_vars={'dov_force_renew': True})
    assert run.rc == 0, run
    assert '%s: would be renewed with a new key' % BOORLOG in run.stdout
    assert '%s: would be renewed with a new key' % SONDERING in run.stdout
    assert site.files() == hosts
    assert snapshot(site.state_dir) == state


def test_an_unknown_dov_only_is_refused_and_nothing_changes(site):
    before = site.files()
    site.variables['dov_only'] = 'Nergens/oefen'
    try:
        run = site.run('renew')
    finally:
        site.variables.pop('dov_only')
    assert run.rc != 0
    assert "dov_only is 'Nergens/oefen', which is not an application/environment pair of the inventory" in run.stdout
    assert 'Boorlog/oefen, Sondering/oefen' in run.stdout
    assert site.files() == before
    assert not os.path.exists(os.path.join(site.state_dir, '.lock'))


def test_a_manual_renewal_is_pending_with_a_new_key_staged_and_the_live_pair_serving(site, world):
    before = dict((host, live(site, host, 'Boorlog')) for host in ('h1', 'h2'))
    sondering = live(site, 'h1', 'Sondering')
    site.variables['dov_issuer'] = 'manual'
    try:
        run = site.run('renew')
    finally:
        site.variables.pop('dov_issuer')
    assert run.rc == 0, run
    assert states(site) == {BOORLOG: 'renewal_pending', SONDERING: 'renewal_pending'}
    for host in ('h1', 'h2'):
        assert live(site, host, 'Boorlog') == before[host] and curl(site, host, 'Boorlog')
    assert live(site, 'h1', 'Sondering') == sondering and curl(site, 'h1', 'Sondering')
    dest = site.dest_dir('h1', 'Sondering')
    staged_key, staged_csr = os.path.join(dest, 'key.pem.next'), os.path.join(dest, 'csr.pem.next')
    assert oct(os.stat(staged_key).st_mode & 0o777) == '0o600'
    assert public_key(staged_csr, 'req') == public_key(staged_key) != public_key(os.path.join(dest, 'key.pem'))
    assert not glob.glob(os.path.join(site.hosts_dir, 'h2', '*', '*.next')), 'the staged key is made on the key holder only'
    assert read(staged_csr).decode().splitlines()[1] in run.stdout, 'the staged CSR is not printed'
    assert 'This is a renewal' in run.stdout and staged_key in run.stdout
    inbox = glob.glob(os.path.join(site.state_dir, 'Sondering', 'oefen', 'renewal-*', 'inbox'))
    assert len(inbox) == 1
    with open(os.path.join(os.path.dirname(inbox[0]), 'INSTRUCTIES.txt')) as handle:
        text = handle.read()
    assert 'nieuw certificaat aan voor dezelfde toepassing' in text and 'SSL Client' in text
    assert site.status()[SONDERING]['staged_key'] == '%s on h1' % staged_key

    # The certificate comes back from VO-DCBaaS and is dropped in the renewal's inbox.
    new_key = read(staged_key)
    world.sign(staged_csr, os.path.join(inbox[0], 'sondering.cer'), der=True)
    site.variables['dov_issuer'] = 'manual'
    try:
        second = site.run('renew')
    finally:
        site.variables.pop('dov_issuer')
    assert second.rc == 0, second
    assert states(site)[SONDERING] == 'verified' and states(site)[BOORLOG] == 'renewal_pending'
    assert read(os.path.join(dest, 'key.pem')) == new_key
    assert public_key(os.path.join(dest, 'cert.pem'), 'x509') == public_key(os.path.join(dest, 'key.pem'))
    assert not os.path.exists(staged_key) and curl(site, 'h1', 'Sondering')
    assert site.status()[SONDERING]['days_left'] >= 399
    for host in ('h1', 'h2'):
        assert live(site, host, 'Boorlog') == before[host]


def test_a_renewal_from_an_unknown_ca_fails_by_name_and_the_live_pair_keeps_serving(site, world):
    before = site.files()
    boorlog = dict((host, live(site, host, 'Boorlog')) for host in ('h1', 'h2'))
    run = site.run('renew', env={'DOV_TEST_ROGUE': 'Boorlog'})
    assert run.rc != 0
    assert 'Failed: %s.' % BOORLOG in run.stdout
    assert re.search(r'Boorlog/oefen: the renewal failed: .*does not chain to ca_bundle: its issuer .*Rogue Issuing CA.* is '
                     r'not in it \(unknown CA\)', run.stdout)
    staged = os.path.join(site.dest_dir('h1', 'Boorlog'), 'key.pem.next')
    assert 'the staged key %s on h1 stays for the next run' % staged in run.stdout
    assert site.status()[BOORLOG]['staged_key'] == '%s on h1' % staged
    assert states(site)[BOORLOG] == 'failed' and states(site)[SONDERING] == 'verified'
    for host in ('h1', 'h2'):
        assert live(site, host, 'Boorlog') == boorlog[host] and curl(site, host, 'Boorlog')
    assert curl(site, 'h1', 'Sondering')
    assert site.files() == before, 'a failed renewal changed files (the staged key must stay as it was)'
    assert not os.path.exists(os.path.join(site.state_dir, '.lock'))


def test_a_renewal_that_fails_on_one_host_puts_the_previous_pair_back_on_every_host(site, world):
    before = site.files()
    assert site.status()[BOORLOG]['key_holder'] == 'h1'
    link = os.path.join(site.dest_dir('h2', 'Boorlog'), 'bundle.p12')
    os.symlink(os.path.join(site.folder, 'elsewhere.p12'), link)    # h2 refuses to install (a managed name is a link)
    try:
        run = site.run('renew')
    finally:
        os.unlink(link)
    assert run.rc != 0
    assert 'Failed: %s.' % BOORLOG in run.stdout
    assert 'the renewal failed on h2, so the previous key and certificate were put back on every host' in run.stdout
    assert site.files() == before, 'the previous pair is not back byte-identically on every host'
    assert not glob.glob(os.path.join(site.hosts_dir, '*', '*', '*.prev'))
    for host in ('h1', 'h2'):
        assert curl(site, host, 'Boorlog')
    assert states(site)[BOORLOG] == 'failed' and states(site)[SONDERING] == 'verified'


def test_dov_only_renews_one_pair_with_a_new_key_on_every_host_and_leaves_the_other(site, world):
    sondering = dict((path, data) for path, data in site.files().items() if '/sondering/' in path)
    old = public_key(os.path.join(site.dest_dir('h1', 'Boorlog'), 'key.pem'))
    staged = read(os.path.join(site.dest_dir('h1', 'Boorlog'), 'key.pem.next'))
    site.variables['dov_only'] = BOORLOG
    try:
        run = site.run('renew')
    finally:
        site.variables.pop('dov_only')
    assert run.rc == 0, run
    assert states(site) == {BOORLOG: 'verified', SONDERING: 'verified'}
    for host in ('h1', 'h2'):
        key = os.path.join(site.dest_dir(host, 'Boorlog'), 'key.pem')
        assert read(key) == staged and public_key(key) != old and oct(os.stat(key).st_mode & 0o777) == '0o600'
        assert public_key(os.path.join(site.dest_dir(host, 'Boorlog'), 'cert.pem'), 'x509') == public_key(key)
        assert curl(site, host, 'Boorlog')
    assert dict((path, data) for path, data in site.files().items() if '/sondering/' in path) == sondering
    assert not glob.glob(os.path.join(site.hosts_dir, '*', '*', '*.next'))

    again = site.run('renew')
    assert again.rc == 0, again
    assert recap(again, 'h1') == (0, 0, 0) and recap(again, 'h2') == (0, 0, 0)
    assert states(site) == {BOORLOG: 'verified', SONDERING: 'verified'}
