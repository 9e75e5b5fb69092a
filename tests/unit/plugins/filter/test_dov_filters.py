# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.vlaanderen.dov.plugins.filter.dov import FilterModule

FILTERS = FilterModule().filters()


def test_dov_cn_filter_builds_the_cn():
    assert FILTERS['dov_cn']('geolab.be', 'oefen', 'Geodrill') == 'geolab.be/dov-services/oefen/Geodrill'


def test_dov_cn_parse_filter_tolerates_the_trailing_slash():
    parts = FILTERS['dov_cn_parse']('www.omgeving.be/dov-services/ontwikkel/dov-client1/')
    assert parts['application'] == 'dov-client1'
    assert parts['environment'] == 'ontwikkel'


def test_filters_raise_ansible_errors_with_the_policy_message():
    with pytest.raises(AnsibleFilterError) as error:
        FILTERS['dov_cn']('geolab.be', 'prod', 'Geodrill')
    assert 'Use productie or oefen.' in str(error.value) and 'ontwikkel' not in str(error.value)
    with pytest.raises(AnsibleFilterError):
        FILTERS['dov_cn_parse']('geolab.be/other/oefen/Geodrill')


def test_dov_endpoint_filter():
    assert FILTERS['dov_endpoint']('oefen') == 'https://services-oefen.dov.vlaanderen.be/'
