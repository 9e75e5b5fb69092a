# -*- coding: utf-8 -*-
"""What the controller's unit tests share: builders of an inventory (test_inventory, test_plan,
test_issue: Geodrill with oefen (CN known) and productie (waiting for its CN), on app-1 and app-2),
a CSR, ``refused`` (a refusal that changes nothing, over the ``state_of`` fixture) and ``drop`` (a
file in a handover inbox) for test_issuers and test_handover. Each fixture is the function itself."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}


def _entry(application=APP, environment='oefen', dest_dir='/opt/geodrill/dov', **more):
    item = {'application': application, 'environment': environment, 'dest_dir': dest_dir}
    item.update(more)
    return item


def _geodrill(**environments):
    return {'name': APP, 'description': 'Boorgegevens opladen vanuit ons LIMS',
            'environments': environments or {'oefen': {'cn': CN}, 'productie': {}}}


def _make_inventory(applications=None, hosts=None, cn_policy='strict'):
    applications = [_geodrill()] if applications is None else applications
    hosts = {'app-1': [_entry()], 'app-2': [_entry()]} if hosts is None else hosts
    return inventory.Inventory(ORGANISATION, applications, hosts, cn_policy)


@pytest.fixture
def entry():
    """``entry(application, environment, dest_dir, **more)``: one dov_certificates item."""
    return _entry


@pytest.fixture
def geodrill():
    """``geodrill(**environments)``: the Geodrill application (default oefen with CN, productie without)."""
    return _geodrill


@pytest.fixture
def make_inventory():
    """``make_inventory(applications, hosts, cn_policy)``: an Inventory (default Geodrill on app-1 and app-2)."""
    return _make_inventory


@pytest.fixture(scope='module')
def csr():
    """A CSR for CN with a new key, once per test module."""
    return pki.dump_csr(pki.build_csr(pki.generate_private_key(), CN))


@pytest.fixture
def refused(state_of):
    """``refused(folder, match, call, *args, **kwargs)``: ``call`` raises a DovError matching
    ``match``, mentions no key material, and changes nothing below ``folder``; returns the message."""
    def check(folder, match, call, *args, **kwargs):
        before = state_of(folder)
        with pytest.raises(DovError, match=match) as info:
            call(*args, **kwargs)
        assert state_of(folder) == before
        assert 'PRIVATE KEY' not in str(info.value)
        return str(info.value)
    return check


@pytest.fixture
def drop():
    """``drop(inbox, name, data, age=0)``: a file in a handover inbox, ``age`` seconds old; its path."""
    def put(inbox, name, data, age=0):
        path = os.path.join(inbox, name)
        with open(path, 'wb') as handle:
            handle.write(data)
        moment = time.time() - age
        os.utime(path, (moment, moment))
        return path
    return put
