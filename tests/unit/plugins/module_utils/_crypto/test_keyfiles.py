# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keyfiles, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

CN = 'geolab.be/dov-services/oefen/Geodrill'
FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'fixtures', 'vo-pki')
SUBJECT = {'C': 'BE', 'ST': 'Oost-Vlaanderen', 'L': 'Nazareth', 'O': 'Geolab nv', 'OU': 'IT',
           'emailAddress': 'geolab@geolab.be'}


def run(tmp_path, **options):
    paths = dict(privatekey_path=str(tmp_path / 'dov' / 'key.pem'), csr_path=str(tmp_path / 'dov' / 'csr.pem'))
    paths.update(options)
    plan = keyfiles.plan_key_and_csr(common_name=paths.pop('common_name', CN), **paths)
    keyfiles.apply_plan(plan)
    return plan


def snapshot(folder):
    return dict((name, (folder / name).read_bytes()) for name in sorted(os.listdir(str(folder))))


def test_first_run_makes_a_0600_key_and_a_csr_with_the_exact_cn(tmp_path):
    plan = run(tmp_path, subject=SUBJECT)
    assert plan.changed and plan.key_created
    key_path = tmp_path / 'dov' / 'key.pem'
    assert stat.S_IMODE(os.stat(str(key_path)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / 'dov')).st_mode) == 0o700
    csr = pki.load_csr((tmp_path / 'dov' / 'csr.pem').read_bytes())
    assert pki.common_names(csr.subject) == [CN]
    assert csr.is_signature_valid
    # The subject reads in the order of real VO-PKI certificates.
    real = open(os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem'), 'rb').read()
    from cryptography import x509
    assert csr.subject == x509.load_pem_x509_certificate(real).subject


def test_second_run_changes_nothing_and_keeps_the_key_byte_identical(tmp_path):
    run(tmp_path)
    before = snapshot(tmp_path / 'dov')
    plan = run(tmp_path)
    assert not plan.changed and not plan.key_created
    assert snapshot(tmp_path / 'dov') == before


def test_changed_cn_rewrites_the_csr_but_keeps_the_key(tmp_path):
    run(tmp_path)
    key_before = (tmp_path / 'dov' / 'key.pem').read_bytes()
    plan = run(tmp_path, common_name='geolab.be/dov-services/productie/Geodrill')
    assert plan.changed and not plan.key_created
    assert (tmp_path / 'dov' / 'key.pem').read_bytes() == key_before
    assert plan.diff['before']['subject'] != plan.diff['after']['subject']


def test_too_open_key_mode_is_corrected(tmp_path):
    run(tmp_path)
    key_path = str(tmp_path / 'dov' / 'key.pem')
    os.chmod(key_path, 0o644)
    assert run(tmp_path).changed
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600


@pytest.mark.parametrize('content, message', [
    (b'this is not a key\n', 'is not a PEM private key'),
    (b'', 'is empty'),
    (open(os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem'), 'rb').read(), 'holds a certificate, not a private key'),
    (b'-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n',
     'holds a certificate request (CSR), not a private key'),
    (b'-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n',
     'may be truncated or damaged'),
])
def test_a_key_file_that_is_not_a_usable_key_is_refused_and_left_untouched(tmp_path, content, message):
    folder = tmp_path / 'dov'
    folder.mkdir()
    (folder / 'key.pem').write_bytes(content)
    with pytest.raises(DovError) as error:
        run(tmp_path)
    assert message in str(error.value)
    assert snapshot(folder) == {'key.pem': content}


def test_encrypted_key_needs_the_right_passphrase(tmp_path):
    plan = run(tmp_path, passphrase='s3cret')
    assert b'ENCRYPTED' in (tmp_path / 'dov' / 'key.pem').read_bytes()
    assert plan.key_created
    before = snapshot(tmp_path / 'dov')
    with pytest.raises(DovError) as error:
        run(tmp_path)
    assert 'encrypted and no passphrase was given' in str(error.value)
    with pytest.raises(DovError) as error:
        run(tmp_path, passphrase='wrong')
    assert 'passphrase for' in str(error.value) and 'is wrong' in str(error.value)
    assert snapshot(tmp_path / 'dov') == before
    assert not run(tmp_path, passphrase='s3cret').changed


def test_existing_key_of_another_size_is_kept_and_refused(tmp_path):
    run(tmp_path, key_type='ec', curve='secp256r1')
    before = snapshot(tmp_path / 'dov')
    with pytest.raises(DovError) as error:
        run(tmp_path)
    assert 'holds an EC key on secp256r1, but an RSA 2048-bit key was asked for' in str(error.value)
    assert 'regenerate: always' in str(error.value)
    assert snapshot(tmp_path / 'dov') == before


def test_regenerate_always_replaces_the_key(tmp_path):
    run(tmp_path)
    old = (tmp_path / 'dov' / 'key.pem').read_bytes()
    plan = run(tmp_path, regenerate='always')
    assert plan.key_created and (tmp_path / 'dov' / 'key.pem').read_bytes() != old


@pytest.mark.parametrize('options, message', [
    ({'key_size': 1024}, 'too weak; VO-PKI needs at least 2048'),
    ({'key_type': 'dsa'}, "Unknown key type 'dsa'"),
    ({'key_type': 'ec', 'curve': 'secp521r1'}, "Unknown curve 'secp521r1'"),
    ({'subject': {'CN': 'x'}}, 'Unknown subject field(s): CN'),
    ({'subject': {'C': 'Belgium'}}, 'not a two-letter code'),
])
def test_bad_parameters_are_refused_before_anything_is_written(tmp_path, options, message):
    with pytest.raises(DovError) as error:
        run(tmp_path, **options)
    assert message in str(error.value)
    assert not (tmp_path / 'dov').exists()


def test_key_mode_refuses_group_or_world_bits():
    assert keyfiles.key_mode('0400') == 0o400
    with pytest.raises(DovError) as error:
        keyfiles.key_mode('0644')
    assert "Use '0600' or '0400'" in str(error.value)


def test_unknown_owner_is_refused():
    with pytest.raises(DovError) as error:
        fsutil.resolve_owner('no-such-user-dov', None)
    assert "'no-such-user-dov' does not exist" in str(error.value)


def test_public_key_fingerprint_is_the_openssl_sha256_of_the_spki():
    from cryptography import x509
    real = x509.load_pem_x509_certificate(open(os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem'), 'rb').read())
    fingerprint = pki.public_key_fingerprint(real.public_key())
    assert len(fingerprint.split(':')) == 32
    assert pki.describe_key(real.public_key()) == {'type': 'rsa', 'size': 2048}
