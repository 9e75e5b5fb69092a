# -*- coding: utf-8 -*-
"""retire: taking one certificate entry off a host (state: absent).

Every dest_dir is made by the real host phases (hostcerts.prepare makes the key and CSR,
hostcerts.install writes the PEM files, the PKCS#12 bundle and the manifest) with a certificate
of the lab CA; retire then removes them. Refusals are checked on their message and on a snapshot of
every file (bytes, mode, link target) before and after.
"""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keyfiles, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import certinstall, hostcerts
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import retire
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import MANIFEST, paths

APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
P12_PASSWORD = 'p12-Secret-pw'


def onboard(dest, lab, **more):
    """A dest_dir as a verified onboarding leaves it: key, CSR, cert/chain/fullchain, bundle.p12, manifest."""
    entry = {'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
             'dest_dir': str(dest), 'key_holder': True,
             'install': {'formats': ['pem', 'pkcs12'], 'pkcs12_password': P12_PASSWORD, 'ca_bundle': lab.bundle_path}}
    entry.update(more)
    prepared = hostcerts.prepare(entry)
    assert prepared['error'] is None
    entry['certificate'] = (lab.sign_csr(prepared['csr'].encode('ascii')) + lab.issuing_pem()).decode('ascii')
    installed = hostcerts.install(entry, check=None)
    assert installed['error'] is None and installed['changed'] is True
    return entry


def managed(entry):
    """kind -> path of every file the collection manages for the entry (as the role will pass them)."""
    key_path, csr_path = paths(entry)
    files = {'key': key_path, 'csr': csr_path, 'key_next': key_path + '.next', 'csr_next': csr_path + '.next',
             'manifest': os.path.join(entry['dest_dir'], MANIFEST)}
    for kind, name, _format in certinstall.FILES:
        files[kind] = os.path.join(entry['dest_dir'], name)
    return files


def recognise(kind, path, data, manifest):
    """What the host phase can vouch for by content, with cryptography (the manifest does not record
    the CSR): a CSR is the collection's when it carries the key the manifest records."""
    if kind != 'csr' or manifest is None:
        return False
    csr = pki.load_csr(data)
    return csr is not None and pki.public_key_fingerprint(csr.public_key()) == manifest['key_fingerprint']


def snapshot(folder):
    """Every entry under ``folder``: bytes and mode of files, the target of links, folders as such."""
    found = {}
    for root, dirs, names in os.walk(str(folder)):
        for name in dirs + names:
            path = os.path.join(root, name)
            if os.path.islink(path):
                found[path] = ('link', os.readlink(path))
            elif os.path.isdir(path):
                found[path] = ('folder', stat.S_IMODE(os.stat(path).st_mode))
            else:
                with open(path, 'rb') as handle:
                    found[path] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


def names_in(folder):
    return sorted(os.listdir(str(folder)))


def add_created_dirs(entry, folders):
    """What hostmanifest.write_manifest records: the folders the collection created (fsutil.ensure_dir's
    return value) under ``created_dirs`` in the manifest."""
    path = os.path.join(entry['dest_dir'], MANIFEST)
    manifest = json.loads(fsutil.read_bytes(path).decode('utf-8'))
    manifest['created_dirs'] = [str(folder) for folder in folders]
    fsutil.atomic_write(path, (json.dumps(manifest, sort_keys=True) + '\n').encode('utf-8'), mode=0o600)


def refused(tmp_path, entry, expected, **options):
    """plan_removal and retire_entry both refuse with ``expected`` in the message; nothing changes."""
    before = snapshot(tmp_path)
    with pytest.raises(DovError) as caught:
        retire.plan_removal(entry['dest_dir'], managed(entry), recognise=recognise, **options)
    for part in expected:
        assert part in str(caught.value)
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, **options)
    assert result['error'] == str(caught.value)
    assert result['changed'] is False and result['removed'] == []
    assert snapshot(tmp_path) == before
    return str(caught.value)


# ---------------------------------------------------------------- removing

def test_absent_removes_every_managed_file_and_keeps_the_applications_own(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    (tmp_path / 'geodrill' / 'application.conf').write_text('url=https://services-oefen.dov.vlaanderen.be/\n')
    assert names_in(tmp_path / 'geodrill') == ['.dov-manifest.json', 'application.conf', 'bundle.p12', 'cert.pem',
                                               'chain.pem', 'csr.pem', 'fullchain.pem', 'key.pem']
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert result['error'] is None and result['changed'] is True
    dest = str(tmp_path / 'geodrill')
    assert sorted(result['removed']) == sorted(os.path.join(dest, name) for name in (
        '.dov-manifest.json', 'bundle.p12', 'cert.pem', 'chain.pem', 'csr.pem', 'fullchain.pem', 'key.pem'))
    assert names_in(tmp_path / 'geodrill') == ['application.conf']
    assert (tmp_path / 'geodrill' / 'application.conf').read_text().startswith('url=')
    assert result['folders_removed'] == [] and result['kept'] == [] and result['forced'] == []


def test_a_second_run_changes_nothing(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    assert retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)['changed'] is True
    again = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert again['error'] is None
    assert again['changed'] is False and again['removed'] == []
    assert again['diff'] == {'before': [], 'after': []}


def test_check_mode_removes_nothing_and_says_what_would_go(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    before = snapshot(tmp_path)
    preview = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, check_mode=True)
    assert snapshot(tmp_path) == before
    assert preview['changed'] is True
    real = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert sorted(preview['removed']) == sorted(real['removed'])
    assert preview['diff'] == real['diff']


def test_diff_lists_the_files_before_and_nothing_after(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, check_mode=True)
    dest = str(tmp_path / 'geodrill')
    assert result['diff'] == {'before': sorted(os.path.join(dest, name) for name in (
        '.dov-manifest.json', 'bundle.p12', 'cert.pem', 'chain.pem', 'csr.pem', 'fullchain.pem', 'key.pem')),
        'after': []}


def test_a_file_whose_mode_was_changed_by_hand_is_still_the_collections(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    os.chmod(os.path.join(entry['dest_dir'], 'cert.pem'), 0o600)
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert result['error'] is None
    assert names_in(tmp_path / 'geodrill') == []


def test_the_staged_files_of_a_renewal_go_too(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    key_path = os.path.join(entry['dest_dir'], 'key.pem')
    plan = keyfiles.plan_key_and_csr(CN, key_path + '.next', os.path.join(entry['dest_dir'], 'csr.pem.next'))
    keyfiles.apply_plan(plan)

    def staged(kind, path, data, manifest):
        # The staged CSR carries the staged key: the pair a renewal left.
        if kind == 'csr_next':
            return pki.public_key_fingerprint(pki.load_csr(data).public_key()) == plan.fingerprint
        if kind == 'key_next':
            return pki.public_key_fingerprint(pki.load_private_key(data)) == plan.fingerprint
        return recognise(kind, path, data, manifest)

    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=staged)
    assert result['error'] is None
    assert key_path + '.next' in result['removed']
    assert names_in(tmp_path / 'geodrill') == []


def test_temporary_files_of_a_killed_run_go_and_others_stay(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    dest = entry['dest_dir']
    leftovers = [fsutil.write_temp(dest, 'key.pem', b'half a key'),
                 fsutil.write_temp(dest, 'bundle.p12', b'half a bundle'),
                 fsutil.write_temp(dest, MANIFEST, b'{')]
    foreign = fsutil.write_temp(dest, 'application.conf', b'the application writes this way too')
    result = retire.retire_entry(dest, managed(entry), recognise=recognise)
    assert result['error'] is None
    for path in leftovers:
        assert path in result['removed']
    assert names_in(dest) == [os.path.basename(foreign)]


def test_the_metrics_lines_go_through_the_callback_once_per_run(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    prom = tmp_path / 'vlaanderen_dov.prom'
    prom.write_text('dov_certificate_days_left{application="Geodrill",environment="oefen"} 30\n'
                    'dov_certificate_days_left{application="Boorlog",environment="oefen"} 99\n')
    calls = []

    def metrics(check_mode):
        calls.append(check_mode)
        lines = prom.read_text().splitlines(True)
        kept = [line for line in lines if 'application="Geodrill"' not in line]
        if not check_mode:
            prom.write_text(''.join(kept))
        return len(kept) != len(lines)

    assert retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, metrics=metrics,
                               check_mode=True)['metrics_removed'] is True
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, metrics=metrics)
    assert result['metrics_removed'] is True and result['changed'] is True
    assert prom.read_text() == 'dov_certificate_days_left{application="Boorlog",environment="oefen"} 99\n'
    again = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, metrics=metrics)
    assert again['metrics_removed'] is False and again['changed'] is False
    assert calls == [True, False, False]


def test_only_the_metrics_lines_left_is_still_a_change(tmp_path):
    dest = tmp_path / 'geodrill'
    result = retire.retire_entry(str(dest), {'cert': str(dest / 'cert.pem')}, metrics=lambda check_mode: True)
    assert result['error'] is None
    assert result['changed'] is True and result['removed'] == []


def test_an_entry_whose_dest_dir_is_gone_changes_nothing(tmp_path):
    dest = tmp_path / 'gone'
    result = retire.retire_entry(str(dest), {'key': str(dest / 'key.pem'), 'cert': str(dest / 'cert.pem')})
    assert result['error'] is None and result['changed'] is False and result['removed'] == []


# ---------------------------------------------------------------- shared keys

def shared_with_another_entry(files):
    """The paths another entry with the same privatekey_path manages too: its key, CSR and their .next."""
    return [files[kind] for kind in ('key', 'csr', 'key_next', 'csr_next')]


def test_a_key_another_entry_on_this_host_uses_stays(tmp_path, lab):
    shared_key = tmp_path / 'private' / 'dov.key'
    entry = onboard(tmp_path / 'geodrill', lab, privatekey_path=str(shared_key))
    files = managed(entry)
    shared = shared_with_another_entry(files)
    result = retire.retire_entry(entry['dest_dir'], files, shared=shared)
    assert result['error'] is None
    assert shared_key.exists() and (tmp_path / 'private' / 'csr.pem').exists()
    assert sorted((item['path'], item['reason']) for item in result['kept']) == [
        (str(tmp_path / 'private' / 'csr.pem'), retire.SHARED), (str(shared_key), retire.SHARED)]
    assert not (tmp_path / 'geodrill').exists()     # the install made it and the manifest records that (created_dirs)
    assert result['diff']['after'] == [str(tmp_path / 'private' / 'csr.pem'), str(shared_key)]
    again = retire.retire_entry(entry['dest_dir'], files, shared=shared)
    assert again['changed'] is False and shared_key.exists()


def test_a_shared_key_in_a_linked_folder_does_not_block_the_rest(tmp_path, lab):
    real = tmp_path / 'real-private'
    real.mkdir()
    (tmp_path / 'private').symlink_to(real)
    entry = onboard(tmp_path / 'geodrill', lab, privatekey_path=str(tmp_path / 'private' / 'dov.key'))
    files = managed(entry)
    result = retire.retire_entry(entry['dest_dir'], files, shared=shared_with_another_entry(files))
    assert result['error'] is None
    assert (real / 'dov.key').exists()
    assert not (tmp_path / 'geodrill').exists()     # the install made it (created_dirs)


# ---------------------------------------------------------------- folders

def test_a_folder_the_collection_created_goes_when_empty(tmp_path, lab):
    entry = onboard(tmp_path / 'opt' / 'geodrill' / 'dov', lab)
    add_created_dirs(entry, [tmp_path / 'opt' / 'geodrill', tmp_path / 'opt' / 'geodrill' / 'dov'])
    preview = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, check_mode=True)
    assert preview['folders_removed'] == [entry['dest_dir'], str(tmp_path / 'opt' / 'geodrill')]
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert result['folders_removed'] == preview['folders_removed']
    assert names_in(tmp_path / 'opt') == []
    assert entry['dest_dir'] + os.sep in result['diff']['before']


def test_a_created_folder_with_other_files_in_it_stays(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill' / 'dov', lab)
    add_created_dirs(entry, [tmp_path / 'geodrill', tmp_path / 'geodrill' / 'dov'])
    (tmp_path / 'geodrill' / 'README').write_text('ours\n')
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert result['folders_removed'] == [entry['dest_dir']]
    assert names_in(tmp_path / 'geodrill') == ['README']


def test_a_folder_without_a_record_that_the_collection_made_it_stays(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert result['folders_removed'] == []
    assert (tmp_path / 'geodrill').is_dir()


def test_a_recorded_folder_outside_the_entry_is_never_removed(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    elsewhere = tmp_path / 'srv' / 'empty'
    elsewhere.mkdir(parents=True)
    add_created_dirs(entry, [elsewhere])
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise)
    assert result['error'] is None and result['folders_removed'] == []
    assert elsewhere.is_dir()


# ---------------------------------------------------------------- refusals

def test_a_certificate_replaced_by_hand_is_refused_by_name_and_nothing_is_removed(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    cert = os.path.join(entry['dest_dir'], 'cert.pem')
    with open(cert, 'ab') as handle:
        handle.write(b'# edited by the application team\n')
    message = refused(tmp_path, entry, [cert, '(not the content it wrote)', 'force: true',
                                        'Nothing was removed'])
    assert 'key.pem' not in message


def test_files_without_a_manifest_are_refused_unless_force(tmp_path):
    dest = tmp_path / 'geodrill'
    dest.mkdir()
    (dest / 'cert.pem').write_text('the application made this one\n')
    (dest / 'key.pem').write_text('and this one\n')
    entry = {'dest_dir': str(dest)}
    refused(tmp_path, entry, [str(dest / 'cert.pem'), str(dest / 'key.pem'), '(no record of it)', 'force: true'])


def test_a_key_the_manifest_does_not_record_is_refused(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    other = pki.dump_private_key(pki.generate_private_key('ec'))
    fsutil.atomic_write(os.path.join(entry['dest_dir'], 'key.pem'), other, mode=0o600)
    refused(tmp_path, entry, [os.path.join(entry['dest_dir'], 'key.pem'), 'force: true'])


def test_a_manifest_that_cannot_be_read_is_refused_unless_force(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    manifest = os.path.join(entry['dest_dir'], MANIFEST)
    fsutil.atomic_write(manifest, b'{"version": 1, "files": [', mode=0o600)
    # Without a readable manifest nothing counts as the collection's: every file is named.
    message = refused(tmp_path, entry, [manifest, '(not a manifest it can read)', 'force: true'])
    assert os.path.join(entry['dest_dir'], 'cert.pem') in message


def test_force_removes_what_the_collection_did_not_write_and_says_so(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    cert = os.path.join(entry['dest_dir'], 'cert.pem')
    fsutil.atomic_write(cert, b'replaced by hand\n', mode=0o644)
    (tmp_path / 'geodrill' / 'application.conf').write_text('stays\n')
    result = retire.retire_entry(entry['dest_dir'], managed(entry), recognise=recognise, force=True)
    assert result['error'] is None
    assert result['forced'] == [cert] and cert in result['removed']
    assert names_in(tmp_path / 'geodrill') == ['application.conf']


def test_a_managed_name_that_is_a_link_is_refused_even_with_force(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    target = tmp_path / 'elsewhere.pem'
    target.write_text('not the collection\'s\n')
    cert = os.path.join(entry['dest_dir'], 'chain.pem')
    os.unlink(cert)
    os.symlink(str(target), cert)
    for force in (False, True):
        refused(tmp_path, entry, [cert, 'symbolic link', 'Nothing was removed'], force=force)
    assert target.read_text() == 'not the collection\'s\n'


def test_a_manifest_that_is_a_link_is_refused(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    manifest = os.path.join(entry['dest_dir'], MANIFEST)
    os.rename(manifest, str(tmp_path / 'manifest.json'))
    os.symlink(str(tmp_path / 'manifest.json'), manifest)
    refused(tmp_path, entry, [manifest, 'symbolic link'], force=True)


def test_a_link_with_a_temporary_name_is_refused(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    link = os.path.join(entry['dest_dir'], '.key.pem.abc123_x.tmp')
    os.symlink('/etc/hostname', link)
    refused(tmp_path, entry, [link, 'symbolic link'])


def test_a_dest_dir_that_is_a_link_is_refused(tmp_path, lab):
    entry = onboard(tmp_path / 'real', lab)
    (tmp_path / 'geodrill').symlink_to(tmp_path / 'real')
    linked = dict(entry, dest_dir=str(tmp_path / 'geodrill'), privatekey_path=None)
    refused(tmp_path, linked, [str(tmp_path / 'geodrill'), 'symbolic link', 'real folder'], force=True)


def test_a_folder_under_a_managed_name_is_refused(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    os.mkdir(os.path.join(entry['dest_dir'], 'keystore.jks'))
    refused(tmp_path, entry, [os.path.join(entry['dest_dir'], 'keystore.jks'), 'not a regular file'], force=True)


def test_a_relative_path_is_refused(tmp_path):
    with pytest.raises(DovError) as caught:
        retire.plan_removal('geodrill', {})
    assert "dest_dir 'geodrill' is not an absolute path" in str(caught.value)
    with pytest.raises(DovError) as caught:
        retire.plan_removal(str(tmp_path), {'cert': 'cert.pem'})
    assert "The cert file 'cert.pem' is not an absolute file path" in str(caught.value)


def test_a_file_replaced_between_plan_and_apply_is_refused_and_nothing_is_removed(tmp_path, lab):
    entry = onboard(tmp_path / 'geodrill', lab)
    plan = retire.plan_removal(entry['dest_dir'], managed(entry), recognise=recognise)
    fsutil.atomic_write(os.path.join(entry['dest_dir'], 'fullchain.pem'), b'new content\n', mode=0o644)
    before = snapshot(tmp_path)
    with pytest.raises(DovError) as caught:
        retire.apply_removal(plan)
    assert 'fullchain.pem was replaced after it was checked' in str(caught.value)
    assert snapshot(tmp_path) == before
