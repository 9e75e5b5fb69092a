# -*- coding: utf-8 -*-
"""state: absent and retired: true as wired: the inventory's refusals, the plan's entries, the host
phase (hostabsent.absent: what goes, what it vouches for, what it refuses) and the controller's
outcome of a retired pair (offboard.retire_pairs with the hosts' real absent results).

Every dest_dir is made by the real host phases with a certificate of the lab CA.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keyfiles
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostabsent, hostcerts
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import MANIFEST
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._retire import offboard, revocation
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import states, statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
PAIR = 'Geodrill/oefen'


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('lab') / 'lab-ca'))


def onboard(dest, lab, **more):
    entry = dict({'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
                  'dest_dir': str(dest), 'key_holder': True, 'install': {'formats': ['pem']}}, **more)
    prepared = hostcerts.prepare(entry)
    assert prepared['error'] is None
    entry['certificate'] = (lab.sign_csr(prepared['csr'].encode('ascii')) + lab.issuing_pem()).decode('ascii')
    assert hostcerts.install(entry, check=None)['error'] is None
    return entry


def absent(entry, **more):
    return dict(dict(entry, state='absent', force=False), **more)


def names_in(folder):
    return sorted(os.listdir(str(folder)))


def applications(**settings):
    return [{'name': APP, 'description': 'Boorgegevens', 'environments': {'oefen': dict({'cn': CN}, **settings)}}]


def hosts(*states):
    return dict(('app-%d' % number, [dict({'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'},
                                          **({'state': state} if state else {}))])
                for number, state in enumerate(states, 1))


# ---------------------------------------------------------------- the inventory and the plan

def test_a_retired_pair_with_an_entry_still_present_is_refused():
    with pytest.raises(DovError) as info:
        inventory.Inventory(ORGANISATION, applications(retired=True), hosts('absent', None))
    assert ('A retired pair still has dov_certificates entries without state: absent (/opt/geodrill/dov on app-2). '
            'Set state: absent on them (or remove retired: true) and run again.') in str(info.value)


@pytest.mark.parametrize('settings, entry, named', [
    ({'retired': 'yes'}, {}, "retired is 'yes', not true or false"),
    ({}, {'state': 'gone'}, "state is 'gone' and force is False. Use state: present or absent"),
    ({}, {'state': 'absent', 'force': 'yes'}, "state is 'absent' and force is 'yes'"),
])
def test_a_state_force_or_retired_that_is_not_one_of_its_values_is_refused(settings, entry, named):
    certificates = {'app-1': [dict({'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}, **entry)]}
    with pytest.raises(DovError) as info:
        inventory.Inventory(ORGANISATION, applications(**settings), certificates)
    assert named in str(info.value)


def test_the_plan_gives_absent_entries_to_their_hosts_and_a_retired_pair_no_holder(tmp_path):
    inv = inventory.Inventory(ORGANISATION, applications(), hosts('absent', None))
    pairs, prepare, _messages = plan.plan_hosts(inv, str(tmp_path), statefolder.load_status(str(tmp_path)),
                                                ['app-1', 'app-2'], {})
    assert [(entry['state'], entry['key_holder']) for entry in prepare['app-1']] == [('absent', False)]
    assert [entry.get('state') for entry in prepare['app-2']] == [None]
    assert pairs[PAIR]['hosts'] == ['app-2'] and pairs[PAIR]['holder'] == 'app-2'
    assert plan.verify_entries(pairs, prepare)['app-1'] == []

    inv = inventory.Inventory(ORGANISATION, applications(retired=True), hosts('absent', 'absent'))
    pairs, prepare, _messages = plan.plan_hosts(inv, str(tmp_path), statefolder.load_status(str(tmp_path)),
                                                ['app-1', 'app-2'], {})
    assert pairs[PAIR]['state'] == 'retired' and pairs[PAIR]['hosts'] == []
    assert pairs[PAIR]['retired_hosts'] == ['app-1', 'app-2']
    assert all(entry['state'] == 'absent' for entries in prepare.values() for entry in entries)


def test_a_revoke_command_without_the_command_issuer_or_an_unknown_reason_is_refused():
    with pytest.raises(DovError) as info:
        offboard.check_options('manual', '/usr/local/bin/revoke', 'application_retired')
    assert 'dov_revoke_command is set, but dov_issuer is manual. Use it with dov_issuer: command' in str(info.value)
    with pytest.raises(DovError) as info:
        offboard.check_options('command', '', 'tired')
    assert "The revocation reason 'tired' is not known" in str(info.value)
    offboard.check_options('command', '/usr/local/bin/revoke', 'superseded')


def test_a_retired_pair_stays_retired_in_the_report_and_is_not_checked():
    info = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': [], 'state': 'retired'}
    assert states.pair_state(info, [], 'verified', 60, True) == 'retired'
    assert states.verified_state(info, [], 'verified', 60) == 'retired'
    recorded = states.record(info, 'retired', {}, [], {'verdict': 'ok', 'hint': None}, 'now')
    assert recorded['state'] == 'retired' and recorded['verdict'] is None


# ---------------------------------------------------------------- the host phase

def test_absent_removes_every_managed_file_the_csr_and_the_staged_files_and_nothing_else(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    key_path = os.path.join(entry['dest_dir'], 'key.pem')
    staged = keyfiles.plan_key_and_csr(CN, key_path + '.next', os.path.join(entry['dest_dir'], 'csr.pem.next'))
    keyfiles.apply_plan(staged)
    (tmp_path / 'geodrill' / 'application.conf').write_text('url=https://services-oefen.dov.vlaanderen.be/\n')

    preview = hostabsent.absent(absent(entry), check_mode=True)
    assert preview['error'] is None and preview['changed'] is True
    assert key_path + '.next' in preview['removed'] and key_path in preview['diff']['before']
    assert len(names_in(tmp_path / 'geodrill')) == 9, 'check mode removed something'
    assert preview['installed']['common_name'] == CN and preview['installed_pem'].startswith('-----BEGIN CERTIFICATE')

    result = hostabsent.absent(absent(entry))
    assert result['error'] is None and result['changed'] is True
    assert names_in(tmp_path / 'geodrill') == ['application.conf']
    again = hostabsent.absent(absent(entry))
    assert again['changed'] is False and again['installed'] is None and 'diff' not in again


def test_a_csr_for_another_key_under_the_managed_name_is_refused_and_nothing_goes(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    other = keyfiles.plan_key_and_csr(CN, str(tmp_path / 'other.key'), str(tmp_path / 'other.csr'))
    keyfiles.apply_plan(other)
    (tmp_path / 'geodrill' / 'csr.pem').write_bytes((tmp_path / 'other.csr').read_bytes())
    before = dict((name, (tmp_path / 'geodrill' / name).read_bytes()) for name in names_in(tmp_path / 'geodrill'))
    result = hostabsent.absent(absent(entry))
    assert result['error'] == ('The collection did not write %s (no record of it). Nothing was removed; check it and set '
                               'force: true on the entry to remove it too.' % (tmp_path / 'geodrill' / 'csr.pem'))
    assert result['changed'] is False
    assert dict((name, (tmp_path / 'geodrill' / name).read_bytes()) for name in names_in(tmp_path / 'geodrill')) == before
    forced = hostabsent.absent(absent(entry, force=True))
    assert forced['error'] is None and forced['forced'] == [str(tmp_path / 'geodrill' / 'csr.pem')]


def test_a_key_and_csr_that_never_got_a_certificate_are_the_collections(tmp_path):
    entry = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'dest_dir': str(tmp_path / 'geodrill'),
             'key_holder': True}
    assert hostcerts.prepare(entry)['error'] is None
    result = hostabsent.absent(absent(entry))
    assert result['error'] is None and names_in(tmp_path / 'geodrill') == []


def test_a_key_the_hosts_other_entry_uses_stays(tmp_path, lab):
    shared_key = str(tmp_path / 'private' / 'dov.key')
    entry = onboard(tmp_path / 'geodrill', lab, privatekey_path=shared_key)
    other = dict(entry, application='Sondering', dest_dir=str(tmp_path / 'sondering'))
    used = hostabsent.in_use([absent(entry), other])
    assert shared_key in used and os.path.join(entry['dest_dir'], 'cert.pem') not in used
    result = hostabsent.absent(absent(entry), used)
    assert result['error'] is None and os.path.exists(shared_key)
    assert [item['path'] for item in result['kept']] == [str(tmp_path / 'private' / 'csr.pem'), shared_key]


def test_the_manifest_records_the_folders_the_install_made(tmp_path, lab):
    holder = onboard(tmp_path / 'h1' / 'geodrill', lab)
    receiver = dict(holder, dest_dir=str(tmp_path / 'h2' / 'geodrill'), key_holder=False,
                    privatekey_content=open(os.path.join(holder['dest_dir'], 'key.pem')).read())
    assert hostcerts.install(receiver, check=None)['error'] is None
    with open(os.path.join(receiver['dest_dir'], MANIFEST)) as handle:
        assert json.load(handle)['created_dirs'] == [str(tmp_path / 'h2'), receiver['dest_dir']]
    result = hostabsent.absent(absent(receiver))
    assert result['folders_removed'] == [receiver['dest_dir'], str(tmp_path / 'h2')]
    assert not (tmp_path / 'h2').exists()


# ---------------------------------------------------------------- the controller: a retired pair

def retired_pair(hosts_):
    return {PAIR: {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': [], 'state': 'retired',
                   'retired_hosts': hosts_, 'messages': []}}


def test_a_retired_pair_taken_off_every_host_hands_over_its_revocation_once(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    serial = hostabsent.absent(absent(entry), check_mode=True)['installed']['serial']
    prepared = {'app-1': [hostabsent.absent(absent(entry))]}
    state_dir = str(tmp_path / 'state')
    pairs = retired_pair(['app-1'])
    assert offboard.retire_pairs(pairs, prepared, state_dir, 'manual') is True
    assert pairs[PAIR]['state'] == 'retired'
    assert any('revoke the certificate %s in VO-DCBaaS (CN %s' % (serial, CN) in line for line in pairs[PAIR]['messages'])
    record = revocation.read_record(state_dir, APP, 'oefen')
    assert [(item['serial'], item['state']) for item in record['certificates']] == [(serial, 'handed_over')]

    statefolder.store_certificate(state_dir, APP, 'oefen', entry['certificate'])   # the cache has it too: once
    second = retired_pair(['app-1'])
    assert offboard.retire_pairs(second, {'app-1': [hostabsent.absent(absent(entry))]}, state_dir, 'manual') is False
    assert revocation.read_record(state_dir, APP, 'oefen') == record


def test_a_retired_pair_a_host_still_holds_is_failed_and_nothing_is_handed_over(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    (tmp_path / 'geodrill' / 'chain.pem').write_text('edited by hand\n')
    prepared = {'app-1': [hostabsent.absent(absent(entry))]}
    pairs = retired_pair(['app-1', 'app-2'])
    assert offboard.retire_pairs(pairs, prepared, str(tmp_path / 'state'), 'manual') is False
    assert pairs[PAIR]['state'] == 'failed'
    message = pairs[PAIR]['messages'][0]
    assert message.startswith('Geodrill/oefen is retired, but not yet off every host: app-1 kept its files: The '
                              'collection did not write %s (not the content it wrote).' % (tmp_path / 'geodrill' / 'chain.pem'))
    assert 'app-2 was not reached in this run.' in message
    assert not os.path.exists(str(tmp_path / 'state'))
    assert offboard.absent_errors(prepared) == {'app-1': ['Geodrill/oefen: ' + prepared['app-1'][0]['error']]}


def test_a_retired_pair_as_status_json_records_it_does_not_fail_dov_fail_within_days():
    info = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': [], 'state': 'retired'}
    retired = states.record(info, 'retired', {'not_after': '2026-12-05T00:00:00Z', 'days_left': 3,
                                              'fingerprint_sha256': 'AB:CD'}, [], {}, '2026-12-01T20:00:00Z')
    due = dict(retired, application='Sondering', state='verified')
    assert report.fail_within_days([retired], 30) == (False, None)
    failed, message = report.fail_within_days([retired, due], 30)
    assert failed is True and message.startswith('1 certificate expires within 30 days:') and '(Sondering/oefen)' in message


def test_a_failing_revoke_command_leaves_the_files_and_the_next_run_with_a_fresh_state_folder_asks_again(tmp_path, lab):
    """The host files are the last record of an unrevoked certificate: the prepare call of a retired
    pair removes nothing; they go (install call, ``removals``) only once the revocation is on record."""
    entry = onboard(tmp_path / 'geodrill', lab)
    before = names_in(tmp_path / 'geodrill')
    retired = absent(entry, retired=True)
    log = tmp_path / 'revoked.log'
    failing = 'echo "portal down" >&2; exit 3'
    working = 'echo "$DOV_REVOKE_SERIAL" >> %s' % log
    inv = inventory.Inventory(ORGANISATION, applications(retired=True), {'app-1': [
        {'application': APP, 'environment': 'oefen', 'dest_dir': entry['dest_dir'], 'state': 'absent'}]})

    prepared = {'app-1': [hostabsent.absent(retired, hold=True)]}
    assert prepared['app-1'][0]['removed'] == [] and prepared['app-1'][0]['changed'] is False
    assert os.path.join(entry['dest_dir'], 'key.pem') in prepared['app-1'][0]['pending']
    pairs = retired_pair(['app-1'])
    assert offboard.retire_pairs(pairs, prepared, str(tmp_path / 'state-1'), 'command', command=failing) is False
    assert pairs[PAIR]['state'] == 'failed'
    assert ("The revoke command 'echo' exited with status 3; its stderr says: portal down. Fix the command and run "
            "again. Its files stay on the hosts until the revocation is handed over.") in pairs[PAIR]['messages'][-1]
    assert offboard.removals(inv, pairs, {}) == {}
    assert names_in(tmp_path / 'geodrill') == before

    # A throw-away runner: a fresh state folder. The host still holds the certificate, so it is asked for again.
    serial = prepared['app-1'][0]['installed']['serial']
    prepared = {'app-1': [hostabsent.absent(retired, hold=True)]}
    pairs = retired_pair(['app-1'])
    assert offboard.retire_pairs(pairs, prepared, str(tmp_path / 'state-2'), 'command', command=working) is True
    assert log.read_text() == serial + '\n'
    assert pairs[PAIR]['state'] == 'retired'
    removals = offboard.removals(inv, pairs, {})
    assert [item['remove'] for item in removals['app-1']] == [prepared['app-1'][0]['pending']]
    assert removals['app-1'][0]['dest_dir'] == entry['dest_dir'] and removals['app-1'][0]['retired'] is True
    removed = hostabsent.absent(removals['app-1'][0])
    assert removed['error'] is None and sorted(removed['removed']) == sorted(prepared['app-1'][0]['pending'])
    assert not os.path.exists(os.path.join(entry['dest_dir'], 'key.pem'))


def test_the_removal_after_the_revocation_takes_only_what_prepare_listed(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    pending = hostabsent.absent(absent(entry, retired=True), hold=True)['pending']
    key_path = os.path.join(entry['dest_dir'], 'key.pem')
    removed = hostabsent.absent(absent(entry, retired=True, remove=[path for path in pending if path != key_path]))
    assert removed['error'] is None and key_path not in removed['removed']
    assert names_in(tmp_path / 'geodrill') == ['key.pem']


def test_state_absent_on_every_host_of_a_pair_that_is_not_retired_is_refused():
    """The hosts' files would be the last record of a certificate nobody is told to revoke."""
    with pytest.raises(DovError) as info:
        inventory.Inventory(ORGANISATION, applications(), hosts('absent', 'absent'))
    assert ('Geodrill/oefen (app-1, app-2) has state: absent on every host but is not retired: that takes its '
            'certificate off its last host without revoking it. Set retired: true on the pair') in str(info.value)
    inventory.Inventory(ORGANISATION, applications(retired=True), hosts('absent', 'absent'))
    inventory.Inventory(ORGANISATION, applications(), hosts('absent', None))
