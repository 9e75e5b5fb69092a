# -*- coding: utf-8 -*-
"""rollover.renewal_due: renew.yml's decision on the host, and cert_info's needs_renewal, asked about
the same real VO-PKI certificate at the edge of the window: they agree (validity.in_renewal_window)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import not_valid_after
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo, certload
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import rollover

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(HERE, '..', '..', '..', '..', 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')


@pytest.fixture(scope='module')
def geodrill():
    with open(GEODRILL, 'rb') as handle:
        return certload.load_certificates(handle.read(), GEODRILL)[0]


@pytest.mark.parametrize('before_end, days_left, due', [
    (datetime.timedelta(days=60), 60, True),                             # exactly N days left
    (datetime.timedelta(days=60, hours=23), 60, True),                   # still 60 whole days
    (datetime.timedelta(days=61), 61, False),                            # N + 1
    (datetime.timedelta(seconds=-1), -1, True),                          # expired a second ago
])
def test_cert_info_and_renew_yml_agree_at_the_edge_of_the_window(geodrill, before_end, days_left, due):
    now = not_valid_after(geodrill) - before_end
    installed = certinfo.certificate_info(geodrill, renew_before_days=60, now=now)
    assert installed['days_left'] == days_left
    assert installed['needs_renewal'] is due
    assert rollover.renewal_due({'before_days': 60, 'force': False}, installed) is due


def test_a_forced_renewal_is_due_whatever_the_days_and_no_certificate_never_is(geodrill):
    far = certinfo.certificate_info(geodrill, now=not_valid_after(geodrill) - datetime.timedelta(days=400))
    assert far['needs_renewal'] is False
    assert rollover.renewal_due({'before_days': 60, 'force': True}, far) is True
    assert rollover.renewal_due({'before_days': 60, 'force': True}, None) is False
    assert rollover.renewal_due({'before_days': 60}, {'days_left': None}) is False
