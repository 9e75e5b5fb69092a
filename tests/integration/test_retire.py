# -*- coding: utf-8 -*-
"""The end of a certificate's life, as a user runs it (onboard.yml): state: absent, retired: true.

One verified onboarding of Boorlog/oefen on two local hosts (the ``command`` issuer and the DOV-like
nginx of test_hosts_truth), then, in order:

- ``--check --diff`` with ``state: absent`` on the key holder shows what would go and removes nothing;
- ``state: absent`` on the key holder removes exactly its managed files (a file of the application's
  own stays), the other host keeps a working pair (curl is accepted with its files), and a second
  run changes nothing;
- ``retired: true`` while the other host's entry is still present is refused, nothing changes;
- a file the collection did not write under a managed name is refused without ``force``, nothing
  changes and nothing is handed over;
- with ``force: true`` the pair is taken off the remaining host, the revocation handover names the
  serial, status.json says ``retired``, and a second run changes nothing;
- on another site, ``dov_revoke_command`` runs once (not again on the next run) instead of the handover.

After the retirement, ``report.yml`` with a ``dov_fail_within_days`` that takes in every certificate
passes: a retired pair is no longer alerted on.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess

import pytest

from conftest import Ansible
from test_hosts_truth import ORG, PLAYBOOKS, Site, World, openssl, recap, write

PAIR = 'Boorlog/oefen'
HEALTH = 'dov-xdov-server/logs/chucknorris'
OWN_FILE = 'application.properties'


def run(site, check=False, diff=False):
    site.count += 1
    outcome = site.world.runner.playbook(os.path.join(PLAYBOOKS, 'onboard.yml'), inventory=site.inventory(),
                                         check=check, diff=diff)
    write(os.path.join(site.folder, 'run-%d-onboard.log' % site.count), repr(outcome))
    return outcome


def set_entry(site, host, **settings):
    site.pairs[host] = [('Boorlog', settings)]


def curl_status(world, dest_dir):
    proc = subprocess.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10',
                           '--cacert', world.server_ca_bundle, '--cert', os.path.join(dest_dir, 'cert.pem'),
                           '--key', os.path.join(dest_dir, 'key.pem'), world.endpoint + HEALTH],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False, timeout=30)
    return proc.stdout.strip()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    world = World(tmp_path_factory.mktemp('retire'), Ansible(tmp_path_factory.mktemp('ansible-retire')))
    site = Site(world, 'retire', {'h1': [('Boorlog', {})], 'h2': [('Boorlog', {})]})
    first = site.run()
    assert first.rc == 0, first
    assert site.status()[PAIR]['state'] == 'verified'
    site.holder = site.status()[PAIR]['key_holder']
    site.other = 'h2' if site.holder == 'h1' else 'h1'
    write(os.path.join(site.dest_dir(site.holder, 'Boorlog'), OWN_FILE), 'dov.url=https://services-oefen\n')
    yield site
    world.stop()


def test_check_mode_with_state_absent_shows_what_would_go_and_removes_nothing(site):
    before = site.files()
    set_entry(site, site.holder, state='absent')
    checked = run(site, check=True, diff=True)
    assert checked.rc == 0, checked
    assert site.files() == before
    assert os.path.join(site.dest_dir(site.holder, 'Boorlog'), 'key.pem') in checked.stdout, 'the diff names no key'
    prepared = [record for record in checked.records if record['host'] == site.holder and record['action'].endswith('host_certificates')
                and record['status'] != 'skipped']
    assert [record['status'] for record in prepared] == ['changed']
    assert prepared[0]['result']['certificates'][0]['removed'], 'check mode says nothing would go'


def test_state_absent_removes_exactly_the_managed_files_on_that_host(site):
    dest, other = site.dest_dir(site.holder, 'Boorlog'), site.dest_dir(site.other, 'Boorlog')
    kept = dict((path, value) for path, value in site.files().items() if path.startswith(other + os.sep))
    set_entry(site, site.holder, state='absent')
    removed = run(site)
    assert removed.rc == 0, removed
    assert sorted(os.listdir(dest)) == [OWN_FILE]
    assert dict((path, value) for path, value in site.files().items() if path.startswith(other + os.sep)) == kept
    status = site.status()[PAIR]
    assert status['state'] == 'verified' and status['hosts'] == [site.other] and status['key_holder'] == site.other
    assert curl_status(site.world, other) == '200'
    assert recap(removed, site.holder)[0] > 0

    before = site.files()
    again = run(site)
    assert again.rc == 0, again
    assert recap(again, 'h1') == (0, 0, 0) and recap(again, 'h2') == (0, 0, 0)
    assert site.files() == before


def test_a_retired_pair_with_an_entry_still_present_is_refused_and_nothing_changes(site):
    before = site.files()
    site.environments['Boorlog'] = {'retired': True}
    refused = run(site)
    assert refused.rc != 0
    assert ('A retired pair still has dov_certificates entries without state: absent (%s on %s). Set state: absent'
            % (site.dest_dir(site.other, 'Boorlog'), site.other)) in refused.stdout, refused.stdout
    assert site.files() == before
    assert not os.path.exists(os.path.join(site.state_dir, 'Boorlog', 'oefen', 'revocation'))
    assert not os.path.exists(os.path.join(site.state_dir, '.lock'))


def test_a_file_the_collection_did_not_write_is_refused_without_force(site):
    foreign = write(os.path.join(site.dest_dir(site.other, 'Boorlog'), 'keystore.jks'), b'not written by the collection')
    before = site.files()
    site.environments['Boorlog'] = {'retired': True}
    set_entry(site, site.other, state='absent')
    refused = run(site)
    assert refused.rc != 0
    assert 'The collection did not write %s (no record of it). Nothing was removed' % foreign in refused.stdout, refused.stdout
    assert site.files() == before
    assert not os.path.exists(os.path.join(site.state_dir, 'Boorlog', 'oefen', 'revocation'))
    assert curl_status(site.world, site.dest_dir(site.other, 'Boorlog')) == '200'


def test_a_retired_pair_is_taken_off_the_last_host_and_its_revocation_handed_over(site):
    dest = site.dest_dir(site.other, 'Boorlog')
    serial = openssl('x509', '-noout', '-serial', '-in', os.path.join(dest, 'cert.pem')).decode().strip().split('=')[1]
    site.environments['Boorlog'] = {'retired': True}
    set_entry(site, site.other, state='absent', force=True)
    retired = run(site)
    assert retired.rc == 0, retired
    assert not os.path.exists(dest) or os.listdir(dest) == []
    assert sorted(os.listdir(site.dest_dir(site.holder, 'Boorlog'))) == [OWN_FILE]
    folder = os.path.join(site.state_dir, 'Boorlog', 'oefen', 'revocation')
    with open(os.path.join(folder, 'INSTRUCTIES.txt')) as handle:
        instructions = handle.read()
    assert serial in instructions and ORG + 'Boorlog' in instructions and 'VO-DCBaaS' in instructions
    with open(os.path.join(folder, 'revocation.json')) as handle:
        record = json.load(handle)
    assert [(item['serial'], item['state']) for item in record['certificates']] == [(serial, 'handed_over')]
    assert 'revoke the certificate %s in VO-DCBaaS (CN %s' % (serial, ORG + 'Boorlog') in retired.stdout
    assert site.status()[PAIR]['state'] == 'retired'
    assert re.search(r'"Boorlog\s+oefen\s+\S+\s+[\w.,\- ]+?\s+retired\s', retired.stdout), 'the table has no retired row'

    before = site.files()
    with open(os.path.join(folder, 'revocation.json'), 'rb') as handle:
        recorded = handle.read()
    again = run(site)
    assert again.rc == 0, again
    assert recap(again, 'h1') == (0, 0, 0) and recap(again, 'h2') == (0, 0, 0)
    assert site.files() == before
    with open(os.path.join(folder, 'revocation.json'), 'rb') as handle:
        assert handle.read() == recorded
    assert site.status()[PAIR]['state'] == 'retired'

    # It is no longer checked or alerted on: report.yml with a threshold that takes in every
    # certificate still passes, and lists the pair as retired.
    reported = site.world.runner.playbook(os.path.join(PLAYBOOKS, 'report.yml'), inventory=site.inventory(),
                                          args=['-e', 'dov_fail_within_days=100000'])
    assert reported.rc == 0, reported
    assert re.search(r'Boorlog\s+oefen\s.*retired', reported.stdout), reported.stdout
    assert site.files() == before


def test_with_the_command_issuer_dov_revoke_command_is_run_once_instead_of_the_handover(tmp_path_factory):
    world = World(tmp_path_factory.mktemp('revoke'), Ansible(tmp_path_factory.mktemp('ansible-revoke')))
    try:
        log = os.path.join(world.folder, 'revoked.log')
        down = write(os.path.join(world.folder, 'portal-down'), 'the portal is down\n')
        command = write(os.path.join(world.folder, 'revoke.sh'),
                        '#!/bin/sh\nif [ -e \'%s\' ]; then echo "portal down" >&2; exit 3; fi\n'
                        'echo "$DOV_REVOKE_SERIAL $DOV_REVOKE_COMMON_NAME $DOV_REVOKE_REASON" >> \'%s\'\n' % (down, log), 0o755)
        os.remove(down)
        site = Site(world, 'revoke', {'h1': [('Sondering', {})]}, dov_revoke_command=command,
                    dov_revoke_reason='server_decommissioned')
        first = site.run()
        assert first.rc == 0, first
        dest = site.dest_dir('h1', 'Sondering')
        serial = openssl('x509', '-noout', '-serial', '-in', os.path.join(dest, 'cert.pem')).decode().strip().split('=')[1]
        site.environments['Sondering'] = {'retired': True}
        site.pairs['h1'] = [('Sondering', {'state': 'absent'})]
        # The revoke command fails: the run fails and the host keeps every file, the last record of a
        # certificate that is still valid; a throw-away runner (a fresh state folder) asks again.
        write(down, 'the portal is down\n')
        before = site.files()
        failed = run(site)
        assert failed.rc != 0
        assert "The revoke command 'revoke.sh' exited with status 3; its stderr says: portal down." in failed.stdout, failed.stdout
        assert site.files() == before
        os.remove(down)
        site.lose_state()
        for _run in range(2):
            retired = run(site)
            assert retired.rc == 0, retired
        with open(log) as handle:
            assert handle.read() == '%s %sSondering server_decommissioned\n' % (serial, ORG)
        assert not os.path.exists(os.path.join(site.state_dir, 'Sondering', 'oefen', 'revocation', 'INSTRUCTIES.txt'))
        with open(os.path.join(site.state_dir, 'Sondering', 'oefen', 'revocation', 'revocation.json')) as handle:
            assert [item['state'] for item in json.load(handle)['certificates']] == ['requested']
        assert site.status()['Sondering/oefen']['state'] == 'retired'
        assert not os.path.exists(os.path.join(dest, 'key.pem'))
    finally:
        world.stop()
