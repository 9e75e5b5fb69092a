# -*- coding: utf-8 -*-
"""candidates: a download that fits no key of its pair is named for what it is, through the issue
step (issue.issue_pairs with the Explainer), with real certificates of a lab CA. Only a real
mismatch gets the advice to upload the CSR again (candidates.NEW_REQUEST)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issue
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover, statefolder
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import candidates

ORG = 'geolab.be/dov-services/oefen/'
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
NEVER = 'echo the issuer was called >&2; exit 3'


@pytest.fixture(scope='module')
def keys():
    return dict((name, pki.generate_private_key()) for name in ('geodrill', 'labo', 'old', 'stranger'))


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    return labca.LabCA.load_or_create(str(tmp_path_factory.mktemp('lab') / 'lab-ca'))


def csr(key, app='Geodrill'):
    return pki.dump_csr(pki.build_csr(key, ORG + app)).decode('ascii')


def prepared(key, app, holder=True):
    return {'application': app, 'environment': 'oefen', 'common_name': ORG + app, 'dest_dir': '/opt/%s' % app.lower(),
            'privatekey_path': '/opt/%s/key.pem' % app.lower(), 'key_fingerprint': pki.public_key_fingerprint(key),
            'csr': csr(key, app) if holder else None, 'csr_path': '/opt/%s/csr.pem' % app.lower(), 'converged': False,
            'error': None, 'installed': None, 'installed_pem': None, 'complete': False}


class Site(object):
    """Geodrill/oefen on h1 and Labo/oefen on h2, the manual issuer (or a certificate_file)."""

    def __init__(self, folder, keys, lab, labo_on_host=True):
        self.folder, self.keys, self.lab = str(folder), keys, lab
        self.state_dir = os.path.join(self.folder, 'state')
        self.prepared = {'h1': [prepared(keys['geodrill'], 'Geodrill')]}
        if labo_on_host:
            self.prepared['h2'] = [prepared(keys['labo'], 'Labo')]

    def run(self, certificate_file=None, previous=None):
        environment = {'cn': ORG + 'Geodrill'}
        if certificate_file:
            environment['certificate_file'] = certificate_file
        applications = [{'name': 'Geodrill', 'description': 'Boorgegevens', 'environments': {'oefen': environment}},
                        {'name': 'Labo', 'description': 'Labo', 'environments': {'oefen': {'cn': ORG + 'Labo'}}}]
        hosts = {'h1': [{'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill'}],
                 'h2': [{'application': 'Labo', 'environment': 'oefen', 'dest_dir': '/opt/labo'}]}
        inv = inventory.Inventory(ORGANISATION, applications, hosts, base_dir=self.folder)
        pairs, _hosts, _notes = plan.plan_hosts(inv, self.state_dir, {'pairs': {}}, ['h1', 'h2'], {})
        explain = candidates.Explainer(inv, self.prepared, self.state_dir).explain
        issue.issue_pairs(inv, pairs, self.prepared, self.state_dir, 'manual', ca_bundle=self.bundle(),
                          command=NEVER, explain=explain, previous_states=previous)
        return pairs['Geodrill/oefen']

    def bundle(self):
        return os.path.join(self.lab.folder, labca.FILES['bundle'])

    def inbox(self, app='Geodrill'):
        return os.path.join(self.state_dir, app, 'oefen', handover.INBOX)

    def drop(self, data, name='download.cer', app='Geodrill'):
        os.makedirs(self.inbox(app), exist_ok=True)
        path = os.path.join(self.inbox(app), name)
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def sign(self, key, app='Geodrill', **options):
        return self.lab.sign_csr(csr(key, app).encode('ascii'), **options)


def the_failure(info):
    assert info['state'] == 'failed', info
    assert info['install'] == [] and info['check'] == []
    assert len(info['failures']) == 1, info['failures']
    return info['failures'][0]


def test_the_ca_certificate_in_the_inbox_is_named_a_ca_certificate_without_new_request_advice(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    with open(site.bundle(), 'rb') as handle:
        ca = certload.load_certificates(handle.read())[0]
    path = site.drop(ca.public_bytes(serialization.Encoding.DER), 'Geodrill.cer')
    failure = the_failure(site.run())
    assert failure['step'] == 'inbox' and failure['file'] == path and failure['host'] is None
    assert 'holds only CA certificate' in failure['message'] and 'CA:TRUE' in failure['message']
    assert 'the other file of the VO-DCBaaS download' in failure['message']
    assert candidates.NEW_REQUEST not in failure['message']


def test_the_certificate_of_another_pair_names_that_pair_and_its_inbox(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    site.drop(site.sign(keys['labo'], 'Labo'))
    message = the_failure(site.run())['message']
    assert 'is the certificate of Labo/oefen' in message and 'h2' in message
    assert site.inbox('Labo') in message
    assert candidates.NEW_REQUEST not in message


def test_another_pairs_certificate_is_known_by_its_cn_when_no_host_holds_its_key(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab, labo_on_host=False)
    site.drop(site.sign(keys['stranger'], 'Labo'))
    message = the_failure(site.run())['message']
    assert 'is the certificate of Labo/oefen (its CN is %sLabo)' % ORG in message
    assert candidates.NEW_REQUEST not in message


def test_a_csr_in_the_state_folder_names_its_pair(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab, labo_on_host=False)
    handover.prepare_handover(site.state_dir, 'Labo', 'oefen', ORG + 'Labo', csr(keys['labo'], 'Labo'))
    stray = keys['labo']
    cert = lab.sign_csr(pki.dump_csr(pki.build_csr(stray, ORG + 'Somewhere')))
    site.drop(cert)
    message = the_failure(site.run())['message']
    csr_path = os.path.join(site.state_dir, 'Labo', 'oefen', 'csr.pem')
    assert 'is the certificate of Labo/oefen (its key is the CSR %s' % csr_path in message


def test_an_expired_download_says_so_with_its_dates(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    start = validity.utcnow() - datetime.timedelta(days=400)
    site.drop(site.sign(keys['old'], not_before=start, days=30), 'old.cer')
    message = the_failure(site.run())['message']
    assert 'which expired on' in message and 'valid from %s' % start.strftime('%Y-%m-%d') in message
    assert 'old download' in message and candidates.NEW_REQUEST not in message


def test_a_download_not_valid_yet_points_at_the_clock(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    site.drop(site.sign(keys['old'], not_before=validity.utcnow() + datetime.timedelta(days=3), days=30))
    message = the_failure(site.run())['message']
    assert 'not valid yet' in message and "controller's clock" in message
    assert candidates.NEW_REQUEST not in message


def test_this_cn_with_an_earlier_key_belongs_to_an_earlier_csr(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    site.drop(site.sign(keys['old']))
    message = the_failure(site.run())['message']
    assert 'an earlier key of Geodrill/oefen' in message and 'It belongs to an earlier CSR of this pair' in message
    assert os.path.join(site.state_dir, 'Geodrill', 'oefen', 'csr.pem') in message
    assert candidates.NEW_REQUEST not in message


def test_a_real_mismatch_and_only_that_gets_the_new_request_advice(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    site.drop(lab.sign_csr(pki.dump_csr(pki.build_csr(keys['stranger'], 'other.example/dov-services/oefen/X'))))
    message = the_failure(site.run())['message']
    assert 'was issued for another key' in message and candidates.NEW_REQUEST in message


def test_a_pkcs7_with_several_leaves_and_none_for_this_key_lists_each(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    leaves = [certload.load_certificates(site.sign(keys['labo'], 'Labo'))[0],
              certload.load_certificates(site.sign(keys['old']))[0]]
    site.drop(pkcs7.serialize_certificates(leaves, serialization.Encoding.DER), 'bundle.p7b')
    message = the_failure(site.run())['message']
    assert 'holds 2 client certificates and none is for the key of Geodrill/oefen' in message
    assert 'Labo/oefen' in message and 'an earlier key of Geodrill/oefen' in message
    assert candidates.NEW_REQUEST not in message


def test_a_pkcs7_with_several_leaves_takes_the_one_for_this_key(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    mine = certload.load_certificates(site.sign(keys['geodrill']))[0]
    leaves = [certload.load_certificates(site.sign(keys['labo'], 'Labo'))[0], mine]
    site.drop(pkcs7.serialize_certificates(leaves, serialization.Encoding.DER), 'bundle.p7b')
    info = site.run()
    assert info['state'] != 'failed' and info['certificate']['fingerprint_sha256'] == certs.fingerprint_sha256(mine)
    assert any('took the certificate' in message and certs.serial_hex(mine) in message for message in info['messages'])


def test_certificate_file_of_another_pair_is_named_and_nothing_is_written(tmp_path, keys, lab):
    site = Site(tmp_path, keys, lab)
    with open(os.path.join(site.folder, 'labo.pem'), 'wb') as handle:
        handle.write(site.sign(keys['labo'], 'Labo'))
    info = site.run('labo.pem')
    failure = the_failure(info)
    assert failure['step'] == 'certificate_file' and failure['file'] == os.path.join(site.folder, 'labo.pem')
    assert 'is the certificate of Labo/oefen' in failure['message'] and candidates.NEW_REQUEST not in failure['message']
    assert 'Nothing was installed' in info['messages'][0]
    assert not os.path.exists(os.path.join(site.state_dir, 'Geodrill', 'oefen', 'certificate.pem'))


@pytest.mark.parametrize('previous, taken', [('failed', 'dropped'), ('verified', 'cached')])
def test_a_newer_download_wins_over_a_cached_certificate_that_failed(tmp_path, keys, lab, previous, taken):
    site = Site(tmp_path, keys, lab)
    cached = site.sign(keys['geodrill'])
    statefolder.store_certificate(site.state_dir, 'Geodrill', 'oefen', cached.decode('ascii'))
    stamp = os.stat(statefolder.certificate_path(site.state_dir, 'Geodrill', 'oefen')).st_mtime
    dropped = site.sign(keys['geodrill'])
    path = site.drop(dropped)
    os.utime(path, (stamp + 60, stamp + 60))
    info = site.run(previous={'Geodrill/oefen': {'state': previous}})
    wanted = {'dropped': dropped, 'cached': cached}[taken]
    assert info['certificate']['fingerprint_sha256'] == certs.fingerprint_sha256(certload.load_certificates(wanted)[0])
    assert info['source'] == ('issuer' if taken == 'dropped' else 'stored')
