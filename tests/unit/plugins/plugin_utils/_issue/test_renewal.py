# -*- coding: utf-8 -*-
"""renew.yml's building blocks without Ansible: the staged key and CSR on the key holder
(rollover.stage_renewal), installing the staged key with the new certificate as one set, the
previous set kept and put back (keep_previous / settle), dov_only (plan), the renewal_pending
state (states) and the renewal's own handover folder (handover). Real keys, CSRs and lab CA
certificates in tmp_path.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostcerts, rollover
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issuers
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover, states
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import paths

APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
PAIR = 'Geodrill/oefen'
RENEW = {'before_days': 30, 'force': False, 'new_key': True}


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('lab') / 'lab-ca'))


def make_entry(dest, lab, **more):
    item = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
            'dest_dir': str(dest), 'key_holder': True, 'install': {'formats': ['pem'], 'ca_bundle': lab.bundle_path}}
    item.update(more)
    return item


def certificate_for(lab, key_path, days=None):
    with open(str(key_path), 'rb') as handle:
        key = pki.load_private_key(handle.read())
    options = {'days': days} if days else {}
    return (lab.sign_csr(pki.dump_csr(pki.build_csr(key, CN)), **options) + lab.issuing_pem()).decode('ascii')


def files_of(folder):
    found = {}
    for name in sorted(os.listdir(str(folder))):
        path = os.path.join(str(folder), name)
        with open(path, 'rb') as handle:
            found[name] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def key_fingerprint(path):
    with open(str(path), 'rb') as handle:
        return pki.public_key_fingerprint(pki.load_private_key(handle.read()))


def onboarded(tmp_path, lab, days=20, **more):
    """dest_dir with a key, a CSR and a lab certificate of ``days`` days, as onboarding leaves it."""
    dest = tmp_path / 'dov'
    entry = make_entry(dest, lab, **more)
    prepared = hostcerts.prepare(entry)
    assert prepared['error'] is None
    key_path = paths(entry)[0]
    entry['certificate'] = certificate_for(lab, key_path, days)
    assert hostcerts.install(entry)['error'] is None
    return dest, entry


@pytest.mark.parametrize('renew, installed, expected', [
    (RENEW, {'days_left': 20}, True),
    (RENEW, {'days_left': 30}, True),
    (RENEW, {'days_left': 31}, False),
    (dict(RENEW, force=True), {'days_left': 400}, True),
    (dict(RENEW, force=True), None, False),          # nothing installed: onboarding's job, not a renewal
])
def test_a_pair_is_renewed_inside_the_window_or_when_forced(renew, installed, expected):
    assert rollover.renewal_due(renew, installed) is expected


def test_a_due_pair_stages_a_new_0600_key_and_its_csr_beside_the_live_files_which_stay(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    live = files_of(dest)
    result = hostcerts.prepare(dict(entry, renew=RENEW))
    assert result['error'] is None and result['changed'] is True
    staged = result['staged']
    assert staged['key_path'] == str(dest / 'key.pem.next') and staged['csr_path'] == str(dest / 'csr.pem.next')
    assert stat.S_IMODE(os.stat(staged['key_path']).st_mode) == 0o600
    assert staged['key_fingerprint'] == key_fingerprint(dest / 'key.pem.next') != key_fingerprint(dest / 'key.pem')
    csr = pki.load_csr((dest / 'csr.pem.next').read_bytes())
    assert pki.public_key_fingerprint(csr.public_key()) == staged['key_fingerprint'] and staged['csr'] == (dest / 'csr.pem.next').read_text()
    after = files_of(dest)
    assert dict((name, value) for name, value in after.items() if not name.endswith('.next')) == live

    again = hostcerts.prepare(dict(entry, renew=RENEW))   # waiting for its certificate: kept as it is
    assert again['staged']['key_fingerprint'] == staged['key_fingerprint'] and again['changed'] is False
    assert files_of(dest) == after


def test_a_pair_outside_the_window_stages_nothing(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab, days=200)
    before = files_of(dest)
    result = hostcerts.prepare(dict(entry, renew=RENEW))
    assert 'staged' not in result and files_of(dest) == before


def test_check_mode_reports_the_staged_csr_and_writes_nothing(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    before = files_of(dest)
    result = hostcerts.prepare(dict(entry, renew=RENEW), check_mode=True)
    assert result['staged']['key_created'] is True and files_of(dest) == before


def test_renewing_with_the_same_key_stages_only_a_csr_for_the_live_key(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    result = hostcerts.prepare(dict(entry, renew=dict(RENEW, new_key=False)))
    assert result['staged']['key_path'] == str(dest / 'key.pem') and result['staged']['new_key'] is False
    assert result['staged']['key_fingerprint'] == key_fingerprint(dest / 'key.pem')
    assert not (dest / 'key.pem.next').exists() and (dest / 'csr.pem.next').exists()


def test_the_staged_files_follow_the_files_names(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab, files={'key': 'client.key', 'csr': 'client.csr', 'cert': 'client.crt'})
    result = hostcerts.prepare(dict(entry, renew=RENEW))
    assert result['staged']['key_path'] == str(dest / 'client.key.next')
    assert sorted(name for name in os.listdir(str(dest)) if name.endswith('.next')) == ['client.csr.next', 'client.key.next']


def test_the_staged_key_is_installed_with_the_new_certificate_and_the_staged_csr_becomes_live(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    staged = hostcerts.prepare(dict(entry, renew=RENEW))['staged']
    new_key, new_csr = (dest / 'key.pem.next').read_bytes(), (dest / 'csr.pem.next').read_bytes()
    renewed = dict(entry, certificate=certificate_for(lab, dest / 'key.pem.next', 400), staged_key=True)
    result = hostcerts.install(renewed)
    assert result['error'] is None and result['changed'] is True and result['key_received'] is True
    assert (dest / 'key.pem').read_bytes() == new_key and (dest / 'csr.pem').read_bytes() == new_csr
    assert stat.S_IMODE(os.stat(str(dest / 'key.pem')).st_mode) == 0o600
    assert key_fingerprint(dest / 'key.pem') == staged['key_fingerprint']
    assert not [name for name in os.listdir(str(dest)) if name.endswith('.next')]
    assert hostcerts.prepare(renewed)['converged'] is True


def test_a_missing_staged_key_is_an_entry_error_and_nothing_changes(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    before = files_of(dest)
    result = hostcerts.install(dict(entry, certificate=certificate_for(lab, dest / 'key.pem', 400), staged_key=True))
    assert result['error'].startswith('The staged key %s is missing' % (dest / 'key.pem.next'))
    assert files_of(dest) == before


def test_a_renewal_kept_as_prev_is_put_back_byte_identically_by_settle_restore(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    hostcerts.prepare(dict(entry, renew=RENEW))
    before = files_of(dest)
    renewed = dict(entry, certificate=certificate_for(lab, dest / 'key.pem.next', 400), staged_key=True, keep_previous=True)
    result = hostcerts.install(renewed)
    assert result['error'] is None and 'promoted' not in result       # not before every host passed
    assert (dest / 'key.pem.prev').read_bytes() == before['key.pem'][0]
    assert stat.S_IMODE(os.stat(str(dest / 'key.pem.prev')).st_mode) == 0o600
    settled = rollover.settle(dict(entry, settle='restore', staged_key=True))
    assert settled['error'] is None and settled['changed'] is True
    assert files_of(dest) == before     # live pair back, the staged key and CSR still there for the next run
    assert rollover.settle(dict(entry, settle='restore'))['changed'] is False   # nothing kept: left as it is


def test_settle_commit_drops_the_previous_set_and_promotes_the_staged_csr(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    hostcerts.prepare(dict(entry, renew=RENEW))
    new_key = (dest / 'key.pem.next').read_bytes()
    hostcerts.install(dict(entry, certificate=certificate_for(lab, dest / 'key.pem.next', 400), staged_key=True,
                           keep_previous=True))
    settled = rollover.settle(dict(entry, settle='commit', staged_key=True))
    assert settled['error'] is None and settled['promoted'] == [str(dest / 'csr.pem'), str(dest / 'key.pem.next')]
    assert sorted(os.listdir(str(dest))) == ['.dov-manifest.json', 'cert.pem', 'chain.pem', 'csr.pem', 'fullchain.pem', 'key.pem']
    assert (dest / 'key.pem').read_bytes() == new_key


def test_a_run_killed_after_keeping_the_previous_set_leaves_no_temp_file(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    (dest / '.key.pem.prev.abc123.tmp').write_bytes(b'half a key')
    (dest / '.key.pem.next.abc123.tmp').write_bytes(b'half a key')
    result = hostcerts.prepare(entry)
    assert sorted(os.path.basename(path) for path in result['removed_temp_files']) == [
        '.key.pem.next.abc123.tmp', '.key.pem.prev.abc123.tmp']


def test_a_renewal_killed_between_the_swap_and_the_settle_is_committed_by_the_next_prepare(tmp_path, lab):
    """The run died after every host installed the staged pair (keep_previous) and before settle: the
    staged key is the live key now. The next prepare commits it instead of staging it again (which
    would ask the issuer for a certificate for a key that already has one)."""
    dest, entry = onboarded(tmp_path, lab)
    hostcerts.prepare(dict(entry, renew=RENEW))
    new_key, new_csr = (dest / 'key.pem.next').read_bytes(), (dest / 'csr.pem.next').read_bytes()
    renewed = dict(entry, certificate=certificate_for(lab, dest / 'key.pem.next', 400), staged_key=True, keep_previous=True)
    assert hostcerts.install(renewed)['error'] is None
    assert (dest / 'key.pem.prev').exists() and (dest / 'key.pem.next').exists()      # killed here

    checked = hostcerts.prepare(dict(entry, renew=RENEW), check_mode=True)
    assert 'staged' not in checked and str(dest / 'key.pem.prev') in checked['renewal_committed']
    assert (dest / 'key.pem.prev').exists() and (dest / 'key.pem.next').exists()      # check mode: nothing changes
    result = hostcerts.prepare(dict(entry, renew=dict(RENEW, force=True)))
    assert result['error'] is None and 'staged' not in result and result['changed'] is True
    assert str(dest / 'csr.pem') in result['renewal_committed'] and str(dest / 'key.pem.next') in result['renewal_committed']
    assert sorted(os.listdir(str(dest))) == ['.dov-manifest.json', 'cert.pem', 'chain.pem', 'csr.pem', 'fullchain.pem', 'key.pem']
    assert (dest / 'key.pem').read_bytes() == new_key and (dest / 'csr.pem').read_bytes() == new_csr
    assert result['key_fingerprint'] == key_fingerprint(dest / 'key.pem')
    again = hostcerts.prepare(dict(entry, renew=RENEW))
    assert 'staged' not in again and 'renewal_committed' not in again and again['changed'] is False


def test_a_renewal_killed_before_the_swap_keeps_waiting_for_its_certificate(tmp_path, lab):
    dest, entry = onboarded(tmp_path, lab)
    staged = hostcerts.prepare(dict(entry, renew=RENEW))['staged']
    again = hostcerts.prepare(dict(entry, renew=RENEW))
    assert again['staged']['key_fingerprint'] == staged['key_fingerprint'] and 'renewal_committed' not in again


def test_a_renewal_with_the_live_key_killed_before_its_csr_was_promoted_is_committed_once_out_of_the_window(tmp_path, lab):
    renew = dict(RENEW, new_key=False)
    dest, entry = onboarded(tmp_path, lab)
    hostcerts.prepare(dict(entry, renew=renew))
    staged_csr = (dest / 'csr.pem.next').read_bytes()
    renewed = dict(entry, certificate=certificate_for(lab, dest / 'key.pem', 400), renewed=True, keep_previous=True)
    assert hostcerts.install(renewed)['error'] is None
    result = hostcerts.prepare(dict(renewed, renew=renew))
    assert 'staged' not in result and (dest / 'csr.pem').read_bytes() == staged_csr
    assert not (dest / 'csr.pem.next').exists() and not (dest / 'cert.pem.prev').exists()


# ---------------------------------------------------------------- dov_only (plan)

def make_inventory():
    applications = [{'name': APP, 'description': 'Boorgegevens opladen',
                     'environments': {'oefen': {'cn': CN}, 'productie': {'cn': CN.replace('oefen', 'productie')}}}]
    hosts = {'app-1': [{'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/o'},
                       {'application': APP, 'environment': 'productie', 'dest_dir': '/opt/p'}],
             'app-2': [{'application': APP, 'environment': 'oefen', 'dest_dir': '/opt/o'}]}
    return inventory.Inventory({'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'},
                               applications, hosts, 'strict')


def test_an_unknown_dov_only_is_refused_with_the_pairs_there_are():
    with pytest.raises(DovError) as caught:
        plan.check_only(make_inventory(), 'Geodril/oefen')
    assert str(caught.value) == ("dov_only is 'Geodril/oefen', which is not an application/environment pair of the "
                                 "inventory. Use one of: Geodrill/oefen, Geodrill/productie.")
    plan.check_only(make_inventory(), 'Geodrill/productie')
    plan.check_only(make_inventory(), '')


def test_dov_only_keeps_one_pair_and_only_its_key_holder_stages():
    pairs, hosts, _notes = plan.plan_hosts(make_inventory(), '/nonexistent', {'pairs': {}}, ['app-1', 'app-2'], {})
    plan.renewal_scope(pairs, hosts, 'Geodrill/oefen', force=True, new_key=False, before_days=30)
    assert sorted(pairs) == [PAIR]
    assert [(entry['environment'], entry.get('renew')) for entry in hosts['app-1']] == [
        ('oefen', {'before_days': 30, 'force': True, 'new_key': False})]
    assert [entry.get('renew') for entry in hosts['app-2']] == [None]


def test_without_dov_only_every_key_holder_is_asked_to_stage():
    pairs, hosts, _notes = plan.plan_hosts(make_inventory(), '/nonexistent', {'pairs': {}}, ['app-1', 'app-2'], {})
    plan.renewal_scope(pairs, hosts)
    assert sorted(pairs) == [PAIR, 'Geodrill/productie']
    assert [entry['renew']['new_key'] for entry in hosts['app-1']] == [True, True]


# ---------------------------------------------------------------- states

def test_a_pending_renewal_is_waiting_not_failing_and_names_its_staged_key():
    info = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': ['app-1'], 'holder': 'app-1',
            'state': 'renewal_pending', 'staged_key': '/opt/o/key.pem.next on app-1',
            'certificate': {'days_left': 19, 'not_after': '2026-12-21T10:00:00Z', 'fingerprint_sha256': 'AA'}}
    status = {'pairs': {PAIR: {'state': 'renewal_due'}}}
    outcome = states.report({PAIR: info}, status, {}, {'app-1'}, {'app-1'}, 'renew', 30, True, '2026-12-02T00:00:00Z')
    assert outcome['states'] == {PAIR: 'renewal_pending'} and outcome['failed_pairs'] == []
    assert outcome['waiting_pairs'] == [PAIR]        # red only with dov_strict
    assert outcome['staged_keys'] == {PAIR: '/opt/o/key.pem.next on app-1'}
    assert status['pairs'][PAIR]['staged_key'] == '/opt/o/key.pem.next on app-1'
    assert outcome['table'][2].split()[:7] == [APP, 'oefen', CN, 'app-1', 'renewal_pending', '2026-12-21', '19']


@pytest.mark.parametrize('restored, errors', [(True, ['', 'its check failed']), (False, ['check failed', 'check failed'])])
def test_a_renewal_no_host_kept_is_not_recorded_as_the_current_certificate(restored, errors):
    """settle put the previous pair back on every host, or every host rolled back itself: status.json
    names the live certificate, not the renewed one that no host holds."""
    live = {'days_left': 19, 'not_after': '2026-12-21T10:00:00Z', 'fingerprint_sha256': 'LIVE'}
    renewed = {'days_left': 400, 'not_after': '2028-01-05T10:00:00Z', 'fingerprint_sha256': 'RENEWED'}
    info = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'hosts': ['app-1', 'app-2'],
            'holder': 'app-1', 'state': None, 'certificate': renewed, 'live_certificate': live, 'restored': restored}
    results = dict(('app-%d' % number, [{'application': APP, 'environment': 'oefen', 'error': error or None,
                                         'rolled_back': ['/opt/o/key.pem'] if error else []}])
                   for number, error in enumerate(errors, 1))
    status = {'pairs': {PAIR: {'state': 'renewal_due', 'fingerprint_sha256': 'LIVE'}}}
    outcome = states.report({PAIR: info}, status, results, {'app-1', 'app-2'}, {'app-1', 'app-2'}, 'renew', 30, True, 'now')
    assert outcome['states'] == {PAIR: 'failed'}
    assert status['pairs'][PAIR]['fingerprint_sha256'] == 'LIVE' and status['pairs'][PAIR]['days_left'] == 19
    # one host kept it (no settle restore): it is what that host holds now
    info.update(restored=False)
    results['app-1'][0].update(error=None, rolled_back=[])
    states.report({PAIR: info}, status, results, {'app-1', 'app-2'}, {'app-1', 'app-2'}, 'renew', 30, True, 'now')
    assert status['pairs'][PAIR]['fingerprint_sha256'] == 'RENEWED'


# ---------------------------------------------------------------- the manual issuer

def test_a_manual_renewal_has_its_own_handover_folder_and_says_it_is_a_renewal(tmp_path):
    key = pki.generate_private_key()
    csr = pki.dump_csr(pki.build_csr(key, CN))
    outcome = issuers.issue('manual', str(tmp_path), APP, 'oefen', CN, csr, renewal=True)
    folder = handover.renewal_folder(str(tmp_path), APP, 'oefen', pki.public_key_fingerprint(key))
    assert not outcome.issued and outcome.source == 'manual: %s' % os.path.join(folder, 'inbox')
    assert os.path.basename(folder).startswith('renewal-') and len(os.path.basename(folder)) == len('renewal-') + 16
    assert 'This is a renewal: upload %s in VO-DCBaaS as a new certificate for the same application' % os.path.join(
        folder, 'csr.pem') in outcome.message
    with open(os.path.join(folder, 'INSTRUCTIES.txt')) as handle:
        text = handle.read()
    assert text.startswith('VERNIEUWING / RENEWAL') and 'nieuw certificaat aan voor dezelfde toepassing' in text
    assert not os.path.exists(os.path.join(str(tmp_path), APP, 'oefen', 'inbox')), 'the first handover is not touched'
