# -*- coding: utf-8 -*-
"""handover: the pair's folder in the state folder, the CSR checks, and the manual issuer's handover
folder (the CSR, the instructions, the inbox) and picking a certificate up from the inbox. Real CSRs
in tmp_path; every refusal changes nothing."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover

CN = 'geolab.be/dov-services/oefen/Geodrill'
APP = 'Geodrill'
ENV = 'oefen'


def make_csr(common_name=CN, key=None):
    return pki.dump_csr(pki.build_csr(key or pki.generate_private_key(), common_name))


# ---------------------------------------------------------------- pair folders and CSR checks

def test_pair_folder_is_state_dir_application_environment(tmp_path):
    assert handover.pair_folder(str(tmp_path), APP, ENV) == os.path.join(str(tmp_path), APP, ENV)


@pytest.mark.parametrize('data, match', [
    (b'', 'is empty. Run the csr phase first'),
    (None, 'is empty'),
    (b'not a csr', 'is not a PEM certificate signing request'),
])
def test_what_is_not_a_csr_is_refused_and_nothing_is_written(refused, tmp_path, data, match):
    refused(tmp_path, match, handover.prepare_handover, str(tmp_path), APP, ENV, CN, data)


def test_a_csr_with_another_cn_is_refused_and_nothing_is_written(refused, tmp_path):
    message = refused(tmp_path, 'carries the CN', handover.prepare_handover, str(tmp_path), APP, ENV, CN,
                      make_csr('geolab.be/dov-services/oefen/Other'))
    assert "'geolab.be/dov-services/oefen/Other', not '%s'" % CN in message


def test_a_csr_with_a_bad_signature_is_refused_and_nothing_is_written(refused, tmp_path):
    der = bytearray(x509.load_pem_x509_csr(make_csr()).public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01
    bad = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM)
    refused(tmp_path, 'signature that does not verify', handover.prepare_handover, str(tmp_path), APP, ENV, CN, bad)


def test_a_text_csr_is_accepted(csr):
    assert handover.check_csr(csr.decode('ascii'), CN) == csr


# ---------------------------------------------------------------- the handover folder

def test_handover_folder_has_the_csr_the_instructions_and_an_inbox(tmp_path, csr):
    result = handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    folder = tmp_path / APP / ENV
    assert result.folder == str(folder)
    assert sorted(os.listdir(str(folder))) == ['INSTRUCTIES.txt', 'csr.pem', 'inbox']
    assert (folder / 'csr.pem').read_bytes() == csr
    assert (folder / 'inbox').is_dir() and os.listdir(str(folder / 'inbox')) == []
    assert result.changed
    assert result.written == [str(folder / 'inbox') + os.sep, str(folder / 'csr.pem'), str(folder / 'INSTRUCTIES.txt')]
    assert stat.S_IMODE(os.stat(str(folder)).st_mode) == 0o700
    assert result.as_dict()['inbox'] == str(folder / 'inbox')


def test_the_instructions_say_where_to_upload_which_template_which_role_and_where_to_drop_it(tmp_path, csr):
    result = handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    text = open(result.instructions_path, encoding='utf-8').read()
    assert 'NEDERLANDS' in text and 'ENGLISH' in text
    assert 'VO-DCBaaS (https://dcb.vlaanderen.be)' in text
    assert text.count('"SSL Client"') == 2
    assert text.count('"DCBaaS Certificatenbeheerder Organisatie"') == 2
    assert 'gebruikersbeheer.vlaanderen.be' in text
    assert text.count(str(tmp_path / APP / ENV / 'inbox') + os.sep) >= 3
    assert CN in text and 'oefen' in text
    assert 'Vraag een nieuw certificaat aan' in text and 'Request a new certificate' in text
    assert 'pas daarna geïnstalleerd' in text and 'geinstalleerd' not in text
    key = pki.load_csr(csr).public_key()
    assert pki.public_key_fingerprint(key) in text
    assert 'PRIVATE KEY' not in text


def test_a_second_handover_with_the_same_csr_writes_nothing(state_of, tmp_path, csr):
    handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    before = state_of(tmp_path)
    mtimes = dict((name, os.stat(str(tmp_path / APP / ENV / name)).st_mtime_ns) for name in ('csr.pem', 'INSTRUCTIES.txt'))
    again = handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    assert not again.changed and again.written == []
    assert state_of(tmp_path) == before
    assert mtimes == dict((name, os.stat(str(tmp_path / APP / ENV / name)).st_mtime_ns) for name in ('csr.pem', 'INSTRUCTIES.txt'))


def test_a_new_csr_rewrites_the_csr_and_the_instructions_and_keeps_the_inbox(tmp_path, csr):
    handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    (tmp_path / APP / ENV / 'inbox' / 'old.cer').write_bytes(b'old')
    fresh = make_csr()
    result = handover.prepare_handover(str(tmp_path), APP, ENV, CN, fresh)
    folder = tmp_path / APP / ENV
    assert result.written == [str(folder / 'csr.pem'), str(folder / 'INSTRUCTIES.txt')]
    assert (folder / 'csr.pem').read_bytes() == fresh
    assert (folder / 'inbox' / 'old.cer').read_bytes() == b'old'


def test_a_lost_inbox_is_made_again(tmp_path, csr):
    handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    os.rmdir(str(tmp_path / APP / ENV / 'inbox'))
    result = handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr)
    assert result.written == [str(tmp_path / APP / ENV / 'inbox') + os.sep]


# ---------------------------------------------------------------- picking up

@pytest.fixture
def inbox(tmp_path, csr):
    return handover.prepare_handover(str(tmp_path), APP, ENV, CN, csr).inbox


def test_nothing_to_pick_up_without_an_inbox(tmp_path):
    assert handover.pick_up(str(tmp_path), APP, ENV) is None


def test_nothing_to_pick_up_in_an_empty_inbox(tmp_path, inbox):
    assert handover.pick_up(str(tmp_path), APP, ENV) is None


def test_the_newest_file_is_picked_up_whatever_its_name(drop, tmp_path, inbox):
    drop(inbox, 'certificate.cer', b'older', age=100)
    newest = drop(inbox, 'Download (3)', b'newest', age=10)
    drop(inbox, 'a.p7b', b'middle', age=50)
    assert handover.pick_up(str(tmp_path), APP, ENV) == (b'newest', newest)


def test_equal_times_pick_the_last_name(drop, tmp_path, inbox):
    drop(inbox, 'a.cer', b'a', age=5)
    later = drop(inbox, 'b.cer', b'b', age=5)
    assert handover.pick_up(str(tmp_path), APP, ENV) == (b'b', later)


@pytest.mark.parametrize('name', ['.hidden.cer', '.DS_Store', 'cert.cer.part', 'cert.cer.crdownload', 'cert.CER.PART',
                                  'cert.cer.tmp', 'cert.cer~', 'cert.cer.download', 'cert.partial', '.cert.swp'])
def test_dotfiles_and_files_still_being_written_are_ignored(drop, tmp_path, inbox, name):
    drop(inbox, name, b'ignore me', age=0)
    assert handover.pick_up(str(tmp_path), APP, ENV) is None
    real = drop(inbox, 'cert.cer', b'take me', age=60)
    assert handover.pick_up(str(tmp_path), APP, ENV) == (b'take me', real)


def test_folders_in_the_inbox_are_ignored(tmp_path, inbox):
    os.mkdir(os.path.join(inbox, 'archive'))
    assert handover.pick_up(str(tmp_path), APP, ENV) is None


def test_an_empty_file_is_picked_up_for_the_certificate_checks_to_name(drop, tmp_path, inbox):
    path = drop(inbox, 'empty.cer', b'')
    assert handover.pick_up(str(tmp_path), APP, ENV) == (b'', path)


def test_a_file_removed_while_picking_up_counts_as_nothing(drop, tmp_path, inbox, monkeypatch):
    drop(inbox, 'cert.cer', b'x')
    monkeypatch.setattr(handover, 'read_bytes', lambda path: None)
    assert handover.pick_up(str(tmp_path), APP, ENV) is None
