# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import orgid
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


@pytest.mark.parametrize('written', [
    '0403.170.701', '0403170701', 'BE 0403.170.701', 'BE0403170701', 'be 0403 170 701',
    'BE.0403.170.701', '  0403.170.701  ',
])
def test_kbo_written_in_any_usual_way_is_normalised_with_dots(written):
    assert orgid.normalise_kbo(written) == '0403.170.701'


@pytest.mark.parametrize('number', ['0202.239.951', '1000.000.021', '0000.000.097'])
def test_kbo_numbers_starting_with_0_or_1_and_a_right_check_are_taken(number):
    assert orgid.normalise_kbo(number.replace('.', '')) == number


def test_check_digits_are_97_minus_the_first_eight_mod_97():
    assert orgid.kbo_check_digits('04031707') == '01'
    assert orgid.kbo_check_digits('00000000') == '97'
    assert orgid.kbo_check_digits('00000096') == '01'


def test_kbo_with_a_wrong_check_digit_is_refused_naming_the_expected_digits():
    with pytest.raises(DovError) as error:
        orgid.normalise_kbo('0403.170.702')
    message = str(error.value)
    assert "'0403.170.702'" in message
    assert 'must be 97 minus the first eight modulo 97, that is 01, not 02' in message


@pytest.mark.parametrize('number, first', [('2.123.456.789', '2'), ('8.000.000.000', '8'), ('BE 2123456789', '2')])
def test_establishment_unit_number_is_refused_and_named_as_such(number, first):
    with pytest.raises(DovError) as error:
        orgid.normalise_kbo(number)
    message = str(error.value)
    assert 'starts with %s' % first in message
    assert 'establishment unit' in message
    assert 'enterprise number' in message and 'starts with 0 or 1' in message


def test_nine_digit_kbo_is_refused_with_the_hint_to_add_a_zero():
    with pytest.raises(DovError) as error:
        orgid.normalise_kbo('403.170.701')
    assert 'has 9 digits, not 10' in str(error.value)
    assert 'write a 0 in front' in str(error.value)


@pytest.mark.parametrize('number, digits', [('04031707011', 11), ('0403', 4), ('BE', 0)])
def test_kbo_of_another_length_is_refused_with_the_valid_forms(number, digits):
    with pytest.raises(DovError) as error:
        orgid.normalise_kbo(number)
    assert 'has %d digits, not 10' % digits in str(error.value)
    assert "'0403.170.701', '0403170701' or 'BE 0403.170.701'" in str(error.value)


@pytest.mark.parametrize('number', ['0403-170-701', '0403.17O.701', 'NL0403170701', '０４０３１７０７０１'])
def test_kbo_with_other_characters_is_refused(number):
    with pytest.raises(DovError) as error:
        orgid.normalise_kbo(number)
    assert 'characters other than digits, dots and spaces' in str(error.value)
    assert repr(number) in str(error.value)


@pytest.mark.parametrize('value', ['', '   ', None])
def test_empty_kbo_is_refused(value):
    with pytest.raises(DovError) as error:
        orgid.normalise_kbo(value)
    assert 'The KBO number is empty' in str(error.value)


@pytest.mark.parametrize('written', ['OVO002949', 'ovo002949', 'Ovo002949', ' OVO002949 '])
def test_ovo_in_any_case_is_normalised_to_upper_case(written):
    assert orgid.normalise_ovo(written) == 'OVO002949'


@pytest.mark.parametrize('value', ['OVO2949', 'OVO 002949', 'OVO0029490', 'OV002949', '002949', 'OVO00294A'])
def test_malformed_ovo_is_refused_with_an_example(value):
    with pytest.raises(DovError) as error:
        orgid.normalise_ovo(value)
    message = str(error.value)
    assert repr(value.strip()) in message
    assert "'OVO' followed by 6 digits" in message and "'OVO002949'" in message


def test_empty_ovo_is_refused():
    with pytest.raises(DovError) as error:
        orgid.normalise_ovo('')
    assert 'The OVO number is empty' in str(error.value)


def test_vo_code_is_taken_stripped():
    assert orgid.check_vo_code(' AGIV ') == 'AGIV'


def test_vo_code_with_a_space_is_refused():
    with pytest.raises(DovError) as error:
        orgid.check_vo_code('AG IV')
    assert "'AG IV' contains white space" in str(error.value)


def test_empty_vo_code_is_refused():
    with pytest.raises(DovError) as error:
        orgid.check_vo_code('')
    assert 'is empty' in str(error.value)


def test_normalise_dispatches_on_the_type_and_refuses_an_unknown_type():
    assert orgid.normalise('kbo', '0403170701') == '0403.170.701'
    assert orgid.normalise('ovo', 'ovo002949') == 'OVO002949'
    assert orgid.normalise('vo_code', 'AGIV') == 'AGIV'
    with pytest.raises(DovError) as error:
        orgid.normalise('btw', '0403170701')
    assert "'btw'" in str(error.value) and 'kbo, ovo, vo_code' in str(error.value)
