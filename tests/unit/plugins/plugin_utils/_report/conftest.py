# -*- coding: utf-8 -*-
"""Records shared by the report tests (test_report, test_reporthtml, test_reportmail): ``rec``
builds one pair's record as of NOW (2026-12-01 19:00 UTC), ``real_record`` is the real, expired
VO-PKI Geodrill certificate as the host phase reports it, ``fleet`` eight records of every state.
Each fixture is the builder function itself."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(HERE, '..', '..', '..', '..', 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 12, 1, 19, 0, tzinfo=UTC)
ISSUER = 'CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE'


def _rec(application, environment, state, not_after=None, verdict='ok', hosts=('app1.geolab.be',)):
    days = None
    if not_after:
        moment = datetime.datetime.strptime(not_after, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=UTC)
        days = int((moment - NOW).total_seconds() // 86400)
    return {'application': application, 'environment': environment,
            'common_name': 'geolab.be/dov-services/%s/%s' % (environment, application) if not_after else None,
            'hosts': list(hosts), 'state': state, 'not_before': '2026-01-01T00:00:00Z' if not_after else None,
            'not_after': not_after, 'days_left': days, 'fingerprint_sha256': 'AB:CD' if not_after else None,
            'issuer': ISSUER if not_after else None, 'verdict': verdict, 'checked_at': '2026-12-01T18:59:00Z'}


def _real_record():
    """The real, expired VO-PKI Geodrill certificate as the host phase would report it."""
    info = certinfo.cert_info(GEODRILL, now=NOW)
    record = dict((name, info.get(name)) for name in ('common_name', 'not_before', 'not_after', 'days_left',
                                                      'fingerprint_sha256', 'issuer'))
    record.update(application='Geodrill', environment='oefen', hosts=['legacy.geolab.be'], state='verified',
                  verdict='client_cert_rejected', checked_at='2026-12-01T18:00:00Z')
    return record


def _fleet():
    return [
        _rec('Boorlog', 'productie', 'verified', '2030-11-01T10:00:00Z'),
        _rec('Peilbuis', 'oefen', 'waiting_for_certificate', verdict=None),
        _rec('Oud', 'oefen', 'retired', '2024-01-03T15:24:46Z', verdict=None),
        _rec('Sonde', 'productie', 'renewal_pending', '2026-12-21T10:00:00Z', hosts=('app1.geolab.be', 'app2.geolab.be')),
        _rec('Geodrill', 'productie', 'renewal_due', '2026-12-21T10:00:00Z'),
        _rec('Pomp', 'oefen', 'failed', '2027-06-01T10:00:00Z', verdict='client_cert_rejected'),
        _real_record(),
        _rec('Aanvraag', 'oefen', 'waiting_for_cn', verdict=None),
    ]


@pytest.fixture
def rec():
    """``rec(application, environment, state, not_after, verdict, hosts)``: one pair's record."""
    return _rec


@pytest.fixture
def real_record():
    return _real_record


@pytest.fixture
def fleet():
    """``fleet()``: eight records, one of every state (and the real expired certificate)."""
    return _fleet
