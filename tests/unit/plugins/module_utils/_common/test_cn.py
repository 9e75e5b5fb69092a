# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def test_build_cn_joins_the_parts_with_dov_services():
    assert cn.build_cn('geolab.be', 'oefen', 'Geodrill') == 'geolab.be/dov-services/oefen/Geodrill'


@pytest.mark.parametrize('common_name, parts', [
    ('geolab.be/dov-services/oefen/Geodrill',
     ('geolab.be', 'dov-services', 'oefen', 'Geodrill', False)),
    ('www.omgeving.be/dov-services/ontwikkel/dov-client1/',
     ('www.omgeving.be', 'dov-services', 'ontwikkel', 'dov-client1', True)),
])
def test_real_cns_parse_into_their_parts(common_name, parts):
    result = cn.parse_cn(common_name)
    assert (result['organisation'], result['service'], result['environment'],
            result['application'], result['trailing_slash']) == parts


@pytest.mark.parametrize('environment', ['prod', 'test', 'acc', 'Productie', ''])
def test_unknown_environment_is_refused_with_the_valid_ones_listed(environment):
    with pytest.raises(DovError) as error:
        cn.build_cn('geolab.be', environment, 'Geodrill')
    assert 'Use productie or oefen.' in str(error.value) and 'ontwikkel' not in str(error.value)
    assert repr(environment) in str(error.value)


@pytest.mark.parametrize('common_name, names', [
    ('geolab.be/dov-services/prod/Geodrill', "environment part"),
    ('geolab.be/dov-service/oefen/Geodrill', "service part"),
    ('geolab.be/dov-services/oefen/Geodrill//', "5 parts"),
    ('geolab.be/dov-services/oefen', "3 parts"),
    ('geolab.be/dov-services/oefen/Geo/drill', "5 parts"),
    ('/dov-services/oefen/Geodrill', "organisation part of the CN is empty"),
    ('geolab.be/dov-services/oefen/', "3 parts"),
    ('geolab.be/dov-services/oefen//', "application part of the CN is empty"),
    ('geolab/dov-services/oefen/Geodrill', "is not a domain name"),
    ('geolab.be/dov-services/oefen/ Geodrill', "white space"),
    ('', "The CN is empty"),
])
def test_malformed_cn_is_refused_naming_the_wrong_part(common_name, names):
    with pytest.raises(DovError) as error:
        cn.parse_cn(common_name)
    assert names in str(error.value)


def test_cn_longer_than_64_characters_is_refused():
    with pytest.raises(DovError) as error:
        cn.build_cn('geolab.be', 'productie', 'A' * 40)
    assert 'at most 64' in str(error.value)


def test_policy_off_takes_another_shape_but_not_an_overlong_cn():
    parts = cn.cn_parts('lab.example/dov-services-test/Geodrill', 'off')
    assert parts['environment'] is None
    with pytest.raises(DovError):
        cn.cn_parts('x' * 65, 'off')
    assert cn.cn_parts('geolab.be/dov-services/oefen/Geodrill', 'off')['application'] == 'Geodrill'


def test_endpoint_gives_the_real_base_urls_and_honours_overrides():
    assert cn.endpoint('productie') == 'https://services.dov.vlaanderen.be/'
    assert cn.endpoint('oefen') == 'https://services-oefen.dov.vlaanderen.be/'
    assert cn.endpoint('oefen', {'oefen': 'https://127.0.0.1:8443'}) == 'https://127.0.0.1:8443/'
    with pytest.raises(DovError):
        cn.endpoint('acc')


@pytest.mark.parametrize('policy', ['strict', 'off'])
@pytest.mark.parametrize('common_name', ['geolab.be/dov-services/oefen/Geo\r\ndrill', 'geolab.be/dov-services/oefen/Geodrill\n',
                                         'lab.example/test\rX-Injected: yes'])
def test_a_cn_with_a_line_break_is_refused_whatever_the_policy(policy, common_name):
    with pytest.raises(DovError) as error:
        cn.cn_parts(common_name, policy)
    message = str(error.value)
    assert message.startswith('The CN %r contains a line break or another control character' % common_name)
    assert message.endswith('Copy the CN from DOV\'s answer again, on one line.')


def test_an_application_name_with_a_trailing_line_break_is_refused():
    with pytest.raises(DovError, match='control character'):
        cn.build_cn('geolab.be', 'oefen', 'Geodrill\n')


@pytest.mark.parametrize('policy', ['strict', 'off'])
def test_a_cn_with_a_look_alike_letter_from_another_script_is_refused(policy):
    look_alike = 'geolab.be/dov-services/oefen/G\u0435odrill'       # a Cyrillic 'е'
    with pytest.raises(DovError) as error:
        cn.cn_parts(look_alike, policy)
    assert str(error.value) == (
        "The CN %r contains '\u0435' (CYRILLIC SMALL LETTER IE), which is not ASCII; VO-PKI CNs are plain ASCII (a "
        "look-alike letter from another script gives a CN that DOV never granted). Type the CN again, or copy it from "
        "DOV's answer." % look_alike)


@pytest.mark.parametrize('environment, suggestion', [('oefening', 'oefen'), ('produktie', 'productie'), ('Oefen', 'oefen')])
def test_an_environment_typo_in_a_cn_offers_only_what_may_be_written(environment, suggestion):
    with pytest.raises(DovError) as error:
        cn.parse_cn('geolab.be/dov-services/%s/Geodrill' % environment)
    assert "Did you mean %r? Use productie or oefen." % suggestion in str(error.value)
    assert 'ontwikkel' not in str(error.value)
