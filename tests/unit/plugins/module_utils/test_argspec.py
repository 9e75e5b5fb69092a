# -*- coding: utf-8 -*-
"""The argument spec pieces modules share (module_utils/_argspec.py) and their documentation: each doc
fragment (key, install, check) documents exactly its piece (same options, types, defaults, choices,
elements), the modules that take a piece at the top level take the fragment too, host_certificates'
entries (where a fragment cannot reach: suboptions) document the same options the same way, and every
choice offered is one the code that checks it accepts."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.vlaanderen.dov.plugins.doc_fragments import check, install, key
from ansible_collections.vlaanderen.dov.plugins.module_utils import _argspec
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import installed
from ansible_collections.vlaanderen.dov.plugins.modules import certificate, csr, host_certificates, mtls_check

PIECES = {  # fragment: (its spec piece, the module that takes both at the top level, host_certificates' suboptions)
    'key': (key, _argspec.KEY_OPTIONS, csr, ('certificates',)),
    'install': (install, _argspec.INSTALL_OPTIONS, certificate, ('certificates', 'install')),
    'check': (check, _argspec.CHECK_OPTIONS, mtls_check, ('certificates', 'check')),
}


def fragment_options(name):
    return yaml.safe_load(PIECES[name][0].ModuleDocFragment.DOCUMENTATION)['options']


@pytest.mark.parametrize('name', sorted(PIECES))
def test_a_fragment_documents_its_spec_piece_option_by_option(option_shape, name):
    options, spec = fragment_options(name), PIECES[name][1]
    assert sorted(options) == sorted(spec)
    for option in spec:
        assert option_shape(options[option]) == option_shape(spec[option]), (name, option)


@pytest.mark.parametrize('name', sorted(PIECES))
def test_the_module_with_the_piece_at_the_top_takes_the_fragment_and_no_copy(name):
    module = PIECES[name][2]
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert 'vlaanderen.dov.%s' % name in doc['extends_documentation_fragment']
    assert not set(doc['options']) & set(PIECES[name][1]), 'a copy of the fragment in %s' % module.__name__


@pytest.mark.parametrize('name', sorted(PIECES))
def test_host_certificates_documents_its_entries_as_the_fragment_does(option_shape, name):
    options = yaml.safe_load(host_certificates.DOCUMENTATION)['options']
    for level in PIECES[name][3]:
        options = options[level]['suboptions']
    for option, spec in PIECES[name][1].items():
        assert option_shape(options[option]) == option_shape(spec), (name, option)
    if name == 'install':     # the whole install dict is the piece
        assert sorted(options) == sorted(PIECES[name][1])


def test_host_certificates_entries_take_the_pieces():
    entry = host_certificates.ENTRY
    assert entry['install']['options'] is _argspec.INSTALL_OPTIONS
    for option, spec in _argspec.CHECK_OPTIONS.items():
        assert entry['check']['options'][option] is spec
    for option, spec in _argspec.KEY_OPTIONS.items():
        assert entry[option] is spec
    assert entry['cn_policy'] is _argspec.CN_POLICY


def test_every_key_choice_is_one_pki_makes_and_others_are_refused():
    for key_type in _argspec.KEY_OPTIONS['key_type']['choices']:
        for size in _argspec.KEY_OPTIONS['key_size']['choices']:
            for curve in _argspec.KEY_OPTIONS['curve']['choices']:
                pki.check_key_parameters(key_type, size, curve)
    for wrong in (('dsa', 2048, 'secp256r1'), ('rsa', 8192, 'secp256r1'), ('ec', 2048, 'secp521r1')):
        with pytest.raises(DovError):
            pki.check_key_parameters(*wrong)


def test_every_pkcs12_profile_choice_resolves_and_others_are_refused():
    for profile in _argspec.INSTALL_OPTIONS['pkcs12_profile']['choices']:
        assert keystores.check_profile(profile) in ('modern', 'legacy')
    with pytest.raises(DovError, match='Unknown pkcs12_profile'):
        keystores.check_profile('aes')


def test_every_format_choice_has_its_files_and_every_cn_policy_reads_a_cn():
    assert _argspec.INSTALL_OPTIONS['formats']['choices'] == list(installed.FORMATS)
    assert set(_argspec.INSTALL_OPTIONS['formats']['choices']) == set(fmt for _kind, _name, fmt in installed.FILES)
    for policy in _argspec.CN_POLICY['choices']:
        assert cn.cn_parts('geolab.be/dov-services/oefen/Geodrill', policy)['application'] == 'Geodrill'
    with pytest.raises(DovError):
        cn.cn_parts('geolab.be/Geodrill', 'strict')
