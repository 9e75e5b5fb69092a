# -*- coding: utf-8 -*-
"""Builders of an inventory shared by the controller's unit tests (test_inventory, test_plan,
test_issue): Geodrill with oefen (CN known) and productie (waiting for its CN), on app-1 and app-2.
Each fixture is the builder function itself."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory

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
