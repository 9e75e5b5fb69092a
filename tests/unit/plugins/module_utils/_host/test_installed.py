# -*- coding: utf-8 -*-
"""installed: the file names of an entry by kind (dov_certificates[].files) and the paths they give."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._host import installed
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP, CN = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill'


def entry(dest, holder=False, **more):
    return dict({'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
                 'dest_dir': str(dest), 'key_holder': holder, 'install': {'formats': ['pem']}}, **more)


def test_file_names_are_the_defaults_unless_renamed():
    names = installed.file_names({'key': 'client.key', 'cert': 'client.crt'})
    assert names == {'key': 'client.key', 'csr': 'csr.pem', 'cert': 'client.crt', 'chain': 'chain.pem',
                     'fullchain': 'fullchain.pem', 'pkcs12': 'bundle.p12', 'jks': 'keystore.jks'}
    assert installed.file_names(None)['key'] == 'key.pem'


@pytest.mark.parametrize('files', [{'cert': 'sub/cert.pem'}, {'cert': '..'}, {'pkcs12': ''}, {'p7b': 'x'},
                                   {'chain': 'cert.pem'}])
def test_file_names_that_are_no_plain_distinct_names_are_refused(files):
    with pytest.raises(DovError):
        installed.file_names(files)


def test_paths_follow_the_file_names(tmp_path):
    item = entry(tmp_path, files={'key': 'client.key', 'csr': 'client.csr'})
    assert installed.paths(item) == (str(tmp_path / 'client.key'), str(tmp_path / 'client.csr'))
    assert installed.file_path(entry(tmp_path, files={'cert': 'client.crt'}), 'cert') == str(tmp_path / 'client.crt')
