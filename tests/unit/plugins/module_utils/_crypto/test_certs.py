# -*- coding: utf-8 -*-
"""certs: describing a certificate, picking the leaf, and the six checks (reading them in every encoding:
test_certload.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import importlib.util
import os

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.pki import public_key_fingerprint
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, '..', '..', '..', '..')
FIXTURES = os.path.join(TESTS, 'fixtures', 'vo-pki')
GEOLAB = os.path.join(FIXTURES, 'geolab-oefen-geodrill.pem')
OMGEVING = os.path.join(FIXTURES, 'omgeving-ontwikkel-dov-client1.pem')
UTC = datetime.timezone.utc

_spec = importlib.util.spec_from_file_location('dov_pki_factory', os.path.join(TESTS, 'integration', 'pki_factory.py'))
factory = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(factory)


@pytest.fixture(scope='module')
def pki():
    return factory.shared()


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


# ---------------------------------------------------------------- 1. reading

def test_real_vo_pki_certificate_is_read_from_pem_and_described():
    cert, = certload.load_certificates(read(GEOLAB))
    described = certs.describe_certificate(cert, now=datetime.datetime(2025, 1, 9, 11, 15, 5, tzinfo=UTC))
    assert described == {
        'subject': 'emailAddress=geolab@geolab.be,CN=geolab.be/dov-services/oefen/Geodrill,OU=IT,O=Geolab nv,'
                   'L=Nazareth,ST=Oost-Vlaanderen,C=BE',
        'issuer': 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE',
        'common_name': 'geolab.be/dov-services/oefen/Geodrill',
        'serial': '24F6CA90000100002448',
        'not_before': '2020-12-06T11:15:05Z',
        'not_after': '2026-01-09T11:15:05Z',
        'days_left': 365,
        'fingerprint_sha256': described['fingerprint_sha256'],
    }
    assert len(described['fingerprint_sha256'].split(':')) == 32
    assert certs.describe_certificate(None) == {}


def test_picking_the_leaf_of_5000_certificates_is_linear(monkeypatch, five_thousand):
    # Every certificate was compared with every other one: 25 million comparisons, over 150 s.
    calls = []
    issued_by = certs._issued_by
    monkeypatch.setattr(certs, '_issued_by', lambda cert, issuer: calls.append(1) or issued_by(cert, issuer))
    assert certs.pick_leaf(five_thousand)[0] is five_thousand[0]
    assert len(calls) <= len(five_thousand)


# ---------------------------------------------------------------- leaf

def test_the_leaf_is_found_by_key_wherever_it_is(pki):
    leaf, others = certs.pick_leaf([pki.root.cert, pki.intermediate.cert, pki.leaf], pki.key)
    assert leaf == pki.leaf and others == [pki.root.cert, pki.intermediate.cert]


def test_without_key_the_leaf_is_the_non_ca_certificate(pki):
    leaf, _others = certs.pick_leaf([pki.root.cert, pki.intermediate.cert, pki.leaf])
    assert leaf == pki.leaf
    leaf, _others = certs.pick_leaf([pki.root.cert, pki.intermediate.cert])
    assert leaf == pki.root.cert  # no candidate: the first one
    with pytest.raises(DovError, match='No certificate'):
        certs.pick_leaf([])


def test_with_a_key_that_matches_none_the_first_non_ca_is_kept_for_the_message(pki):
    leaf, _others = certs.pick_leaf([pki.intermediate.cert, pki.leaf], pki.other_key)
    assert leaf == pki.leaf


# ---------------------------------------------------------------- 2. key

def test_a_certificate_for_another_key_names_both_fingerprints(pki):
    with pytest.raises(DovError) as caught:
        certs.check_key_match(pki.wrong['another key'], pki.key, '/etc/dov/key.pem')
    message = str(caught.value)
    assert 'issued for another key' in message and 'Was the CSR from this host?' in message
    assert public_key_fingerprint(pki.other_key) in message
    assert public_key_fingerprint(pki.key) in message and '/etc/dov/key.pem' in message
    certs.check_key_match(pki.leaf, pki.key)


# ---------------------------------------------------------------- 3. CN

def test_the_cn_must_be_exactly_the_assigned_one(pki):
    certs.check_common_name(pki.leaf, factory.CN)
    with pytest.raises(DovError) as caught:
        certs.check_common_name(pki.wrong['another CN'], factory.CN)
    assert "has the CN 'lab.example/dov-services/oefen/Other'" in str(caught.value)
    assert repr(factory.CN) in str(caught.value) and 'expected_common_name' in str(caught.value)


def test_the_real_cn_with_a_trailing_slash_must_match_with_the_slash():
    cert, = certload.load_certificates(read(OMGEVING))
    certs.check_common_name(cert, 'www.omgeving.be/dov-services/ontwikkel/dov-client1/')
    with pytest.raises(DovError, match='was expected'):
        certs.check_common_name(cert, 'www.omgeving.be/dov-services/ontwikkel/dov-client1')


def test_a_certificate_without_cn_is_named_so(pki):
    no_cn = (x509.CertificateBuilder().subject_name(x509.Name([]))
             .issuer_name(pki.intermediate.cert.subject).public_key(pki.key.public_key())
             .serial_number(1).not_valid_before(pki.now).not_valid_after(pki.now + datetime.timedelta(days=1))
             .sign(pki.intermediate.key, factory.hashes.SHA256()))
    with pytest.raises(DovError, match='has no CN'):
        certs.check_common_name(no_cn, factory.CN)
    assert certs.label(no_cn) == "''"


# ---------------------------------------------------------------- 4. usage

def test_real_vo_pki_certificates_allow_client_authentication():
    for path in (GEOLAB, OMGEVING):
        certs.check_client_auth(certload.load_certificates(read(path))[0])


def test_a_server_only_certificate_is_refused(pki):
    with pytest.raises(DovError) as caught:
        certs.check_client_auth(pki.wrong['server-only usage'])
    assert 'does not allow client authentication' in str(caught.value)
    assert 'serverAuth' in str(caught.value) and "'SSL Client'" in str(caught.value)


def test_no_eku_is_fine_but_a_key_usage_without_digital_signature_is_not(pki):
    certs.check_client_auth(factory.make_client(pki.intermediate, pki.key, eku=None))
    with pytest.raises(DovError, match='digitalSignature'):
        certs.check_client_auth(factory.make_client(pki.intermediate, pki.key, digital_signature=False))


def test_a_ca_certificate_is_not_a_client_certificate(pki):
    with pytest.raises(DovError, match='is a CA certificate, not a client certificate'):
        certs.check_client_auth(pki.intermediate.cert)


# ---------------------------------------------------------------- 5. validity

def test_real_vo_pki_certificates_are_expired_and_the_dates_are_named():
    cert, = certload.load_certificates(read(GEOLAB))
    with pytest.raises(DovError) as caught:
        certs.check_validity(cert, now=datetime.datetime(2026, 11, 28, tzinfo=UTC))
    assert str(caught.value) == (
        "The certificate 'geolab.be/dov-services/oefen/Geodrill' expired on 2026-01-09T11:15:05Z (it was valid "
        "from 2020-12-06T11:15:05Z). Make a new CSR and request a new certificate in VO-DCBaaS.")
    assert certs.check_validity(cert, now=datetime.datetime(2025, 12, 30, 11, 15, 5, tzinfo=UTC)) == 10


def test_not_yet_valid_names_the_dates_and_the_clock(pki):
    with pytest.raises(DovError) as caught:
        certs.check_validity(pki.wrong['not yet valid'], now=pki.now)
    message = str(caught.value)
    assert 'is not valid yet' in message and validity.iso(compat.not_valid_before(pki.wrong['not yet valid'])) in message
    assert "clock" in message


def test_min_days_left_is_enforced_at_its_boundary(pki):
    cert = pki.wrong['too few days left']
    assert certs.check_validity(cert, pki.now, 9) == 9
    with pytest.raises(DovError) as caught:
        certs.check_validity(cert, pki.now, 10)
    assert 'has 9 days left' in str(caught.value) and 'min_days_left=10' in str(caught.value)


def test_days_left_is_whole_days_and_negative_after_expiry(pki):
    assert certs.days_left(pki.leaf, pki.now) == 1824
    assert certs.days_left(pki.wrong['expired'], pki.now.replace(microsecond=0)) == -30
    assert certs.days_left(pki.leaf) in (1823, 1824)


# ---------------------------------------------------------------- 6. chain

def test_chain_to_intermediate_and_root_gives_the_intermediate_only(pki):
    ca = [pki.intermediate.cert, pki.root.cert]
    assert certs.build_chain(pki.leaf, [], ca, pki.now) == [pki.intermediate.cert]
    assert certs.build_chain(pki.leaf, [], [pki.intermediate.cert], pki.now) == [pki.intermediate.cert]
    assert certs.build_chain(pki.leaf, [pki.intermediate.cert], [pki.root.cert], pki.now) == [pki.intermediate.cert]


def test_an_intermediate_that_came_with_the_certificate_is_not_trusted_by_itself(pki):
    with pytest.raises(DovError, match='does not chain to ca_bundle'):
        certs.build_chain(pki.leaf, [pki.intermediate.cert], [pki.stranger_root.cert], pki.now)


def test_without_ca_bundle_the_chain_is_what_came_along(pki):
    assert certs.build_chain(pki.leaf, [pki.intermediate.cert, pki.root.cert], None, pki.now) == [pki.intermediate.cert]
    assert certs.build_chain(pki.leaf, [], None, pki.now) == []


def test_an_unknown_ca_is_refused_naming_the_issuer(pki):
    with pytest.raises(DovError) as caught:
        certs.build_chain(pki.wrong['unknown CA'], [], [pki.intermediate.cert, pki.root.cert], pki.now)
    assert "its issuer 'CN=Stranger Issuing CA" in str(caught.value) and 'unknown CA' in str(caught.value)


def test_real_vo_pki_certificate_does_not_chain_to_a_test_ca(pki):
    cert, = certload.load_certificates(read(GEOLAB))
    with pytest.raises(DovError, match="its issuer 'CN=Vlaamse overheid Issuing CA 2"):
        certs.build_chain(cert, [], [pki.root.cert], pki.now)


def test_a_ca_with_the_same_name_but_another_key_fails_on_the_signature(pki):
    impostor = factory.make_intermediate(pki.stranger_root, 'Test Issuing CA 2')
    impostor.cert = (x509.CertificateBuilder().subject_name(pki.intermediate.cert.subject)
                     .issuer_name(impostor.cert.issuer).public_key(impostor.key.public_key()).serial_number(5)
                     .not_valid_before(pki.now - datetime.timedelta(days=1))
                     .not_valid_after(pki.now + datetime.timedelta(days=9))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .sign(pki.stranger_root.key, factory.hashes.SHA256()))
    with pytest.raises(DovError, match='signature of .* does not verify with the key of its issuer'):
        certs.build_chain(pki.leaf, [], [impostor.cert], pki.now)


def test_every_link_must_be_valid_now(pki):
    old = factory.make_intermediate(pki.root, 'Old Issuing CA', days=-1, start_days=-100)
    leaf = factory.make_client(old, pki.key, start_days=-50, days=100)
    with pytest.raises(DovError, match="The CA certificate 'Old Issuing CA' in the chain expired on"):
        certs.build_chain(leaf, [], [old.cert, pki.root.cert], pki.now)
    future = factory.make_intermediate(pki.root, 'Future Issuing CA', start_days=5)
    leaf = factory.make_client(future, pki.key)
    with pytest.raises(DovError, match="'Future Issuing CA' in the chain is not valid yet"):
        certs.build_chain(leaf, [], [future.cert, pki.root.cert], pki.now)


def test_an_issuer_that_is_no_ca_is_refused(pki):
    not_a_ca = factory.Authority(factory.make_client(pki.intermediate, pki.other_key, common_name='Fake CA'),
                                 pki.other_key)
    leaf = factory.make_client(not_a_ca, pki.key)
    with pytest.raises(DovError, match='is not a CA certificate'):
        certs.build_chain(leaf, [], [not_a_ca.cert, pki.intermediate.cert, pki.root.cert], pki.now)


# ---------------------------------------------------------------- all six, in order

def test_check_certificate_returns_leaf_chain_and_days(pki):
    found = certload.load_certificates(factory.p7b([pki.intermediate.cert, pki.leaf]))
    checked = certs.check_certificate(found, pki.key, factory.CN, [pki.root.cert], 30, pki.now)
    assert checked.leaf == pki.leaf and checked.chain == [pki.intermediate.cert] and checked.days_left == 1824
    assert checked.describe()['common_name'] == factory.CN


@pytest.mark.parametrize('kind, expected', [
    ('another key', 'issued for another key'),
    ('another CN', 'was expected'),
    ('server-only usage', 'does not allow client authentication'),
    ('expired', 'expired on'),
    ('not yet valid', 'is not valid yet'),
    ('too few days left', 'fewer than min_days_left=30'),
    ('unknown CA', 'does not chain to ca_bundle'),
    ('unknown critical extension', 'has a critical extension that TLS servers do not know: %s' % factory.UNKNOWN_CRITICAL_OID),
])
def test_each_wrong_certificate_is_refused_for_its_own_reason(pki, kind, expected):
    with pytest.raises(DovError) as caught:
        certs.check_certificate([pki.wrong[kind]], pki.key, factory.CN, [pki.intermediate.cert, pki.root.cert],
                                30, pki.now)
    assert expected in str(caught.value)


def test_an_unknown_critical_extension_is_refused_naming_it_and_known_or_non_critical_ones_pass(pki):
    with pytest.raises(DovError) as caught:
        certs.check_client_auth(pki.wrong['unknown critical extension'])
    message = str(caught.value)
    assert "The certificate '%s' has a critical extension" % factory.CN in message
    assert factory.UNKNOWN_CRITICAL_OID in message and 'nginx refuses it' in message
    assert message.count('. ') == 1 and 'Ask the issuer for a certificate without it' in message    # two sentences
    # the same OID, not critical, is ignored like every server ignores it; critical key usage and basic
    # constraints (every VO-PKI certificate has them) are fine
    relaxed = factory.make_client(pki.intermediate, pki.key, now=pki.now,
                                  extensions=[(factory.unknown_critical_extension()[0], False)])
    certs.check_client_auth(relaxed)
    assert certs.unknown_critical_extensions(pki.leaf) == []
    for path in (GEOLAB, OMGEVING):
        assert certs.unknown_critical_extensions(certload.load_certificates(read(path))[0]) == []


def test_a_ca_certificate_with_an_unknown_critical_extension_in_the_chain_is_refused(pki):
    now = pki.now
    odd = factory.make_intermediate(pki.root, 'Odd Issuing CA', now=now)
    odd_cert = (x509.CertificateBuilder().subject_name(odd.cert.subject).issuer_name(pki.root.cert.subject)
                .public_key(odd.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1000))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(factory.unknown_critical_extension()[0], critical=True)
                .sign(pki.root.key, factory.hashes.SHA256()))
    leaf = factory.make_client(factory.Authority(odd_cert, odd.key), pki.key, now=now)
    with pytest.raises(DovError) as caught:
        certs.check_certificate([leaf, odd_cert], pki.key, factory.CN, [pki.root.cert], 0, now)
    assert "The CA certificate 'Odd Issuing CA' has a critical extension" in str(caught.value)
    assert factory.UNKNOWN_CRITICAL_OID in str(caught.value)


def test_the_checks_run_in_order_key_before_cn(pki):
    wrong_everything = factory.make_client(pki.stranger_intermediate, pki.other_key, common_name='x/y',
                                           eku=(ExtendedKeyUsageOID.SERVER_AUTH,), start_days=-400, days=-1)
    with pytest.raises(DovError, match='issued for another key'):
        certs.check_certificate([wrong_everything], pki.key, factory.CN, [pki.root.cert], 0, pki.now)
