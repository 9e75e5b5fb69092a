# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The organisation's unique id that DOV's access request asks for.

- ``kbo``: the Belgian enterprise number (KBO/BCE ondernemingsnummer) of an economic actor,
  10 digits, first digit 0 or 1, last two digits ``97 - (first eight mod 97)``; written
  ``0403.170.701``.
- ``ovo``: the number of an organisation in the Organisatieregister, ``OVO`` + 6 digits.
- ``vo_code``: the internal code of a Flemish government entity: non-empty, no spaces.

Plain functions; each returns the normalised id or raises DovError with what is wrong and
what a valid value looks like.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

ID_TYPES = ('kbo', 'ovo', 'vo_code')

LABELS = {
    'kbo': 'KBO-ondernemingsnummer',
    'ovo': 'OVO-nummer (Organisatieregister)',
    'vo_code': 'interne code Vlaamse overheid',
}

_KBO_EXAMPLE = "'0403.170.701', '0403170701' or 'BE 0403.170.701'"
_KBO_PREFIX = re.compile(r'^BE[\s.]*', re.IGNORECASE)
_KBO_SEPARATORS = re.compile(r'[\s.]')
_DIGITS = re.compile(r'^[0-9]+$')
_OVO = re.compile(r'^OVO([0-9]{6})$', re.IGNORECASE)


def _text(value, what, example):
    if value is None or not str(value).strip():
        raise DovError("The %s is empty. Give it, for example %s." % (what, example))
    return str(value).strip()


def kbo_check_digits(first_eight):
    """The two check digits of a KBO number whose first eight digits are ``first_eight`` (a str)."""
    return '%02d' % (97 - int(first_eight) % 97)


def normalise_kbo(value):
    """``'BE0403170701'`` -> ``'0403.170.701'``; raise DovError for anything that is not an
    enterprise number."""
    text = _text(value, 'KBO number', _KBO_EXAMPLE)
    digits = _KBO_SEPARATORS.sub('', _KBO_PREFIX.sub('', text))
    if digits and not _DIGITS.match(digits):
        raise DovError(
            "The KBO number %r contains characters other than digits, dots and spaces. "
            "Write it as %s." % (text, _KBO_EXAMPLE))
    if len(digits) != 10:
        hint = ''
        if len(digits) == 9:
            hint = " If it is an old 9-digit number, write a 0 in front of it."
        raise DovError(
            "The KBO number %r has %d digits, not 10.%s A KBO enterprise number is written like %s."
            % (text, len(digits), hint, _KBO_EXAMPLE))
    if digits[0] not in '01':
        raise DovError(
            "The number %r starts with %s: that is the number of an establishment unit "
            "(vestigingseenheid), not of the enterprise. Use the organisation's enterprise number "
            "(ondernemingsnummer), which starts with 0 or 1, for example '0403.170.701'; "
            "the KBO Public Search shows it." % (text, digits[0]))
    expected = kbo_check_digits(digits[:8])
    if digits[8:] != expected:
        raise DovError(
            "The KBO number %r fails its check: the last two digits must be 97 minus the first "
            "eight modulo 97, that is %s, not %s. Check the number for a typo, for example in the "
            "KBO Public Search." % (text, expected, digits[8:]))
    return '%s.%s.%s' % (digits[:4], digits[4:7], digits[7:])


def normalise_ovo(value):
    """``'ovo002949'`` -> ``'OVO002949'``; raise DovError when it is not OVO + 6 digits."""
    text = _text(value, 'OVO number', "'OVO002949'")
    match = _OVO.match(text)
    if not match:
        raise DovError(
            "The OVO number %r is not 'OVO' followed by 6 digits. Write it as in the "
            "Organisatieregister, for example 'OVO002949'." % text)
    return 'OVO' + match.group(1)


def check_vo_code(value):
    """The internal code of a Flemish government entity, stripped; no spaces inside."""
    text = _text(value, 'internal code (vo_code)', "'AGIV'")
    if re.search(r'\s', text):
        raise DovError(
            "The internal code %r contains white space. Give the code as one word, "
            "for example 'AGIV'." % text)
    return text


def normalise(id_type, value):
    """Normalise ``value`` as an id of ``id_type`` (one of ID_TYPES)."""
    if id_type == 'kbo':
        return normalise_kbo(value)
    if id_type == 'ovo':
        return normalise_ovo(value)
    if id_type == 'vo_code':
        return check_vo_code(value)
    raise DovError(
        "Unknown organisation id type %r. Use one of: %s." % (id_type, ', '.join(ID_TYPES)))
