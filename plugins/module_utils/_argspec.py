# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The argument spec pieces that several modules (and the onboarding action) share, each with
its choices from the one list the code checks, and each documented once by a doc fragment:

- ``KEY_OPTIONS`` (doc fragment ``vlaanderen.dov.key``): a new key and its CSR subject, for
  ``csr`` and ``host_certificates``' ``certificates[]``;
- ``INSTALL_OPTIONS`` (``vlaanderen.dov.install``): how a certificate is installed, for
  ``certificate`` and ``host_certificates``' ``certificates[].install``;
- ``CHECK_OPTIONS`` (``vlaanderen.dov.check``): the server's trust and the way out, for
  ``mtls_check`` and ``host_certificates``' ``certificates[].check``;
- ``CN_POLICY``: ``cn_policy`` of ``csr``, ``host_certificates``' ``certificates[]`` and the action.

The file options (owner, group, backup) are ``fsutil.FILE_OPTIONS`` (doc fragment ``vlaanderen.dov.files``).
Nothing here loads python-cryptography: host_certificates imports it on every run.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.cn import POLICIES
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto.choices import CURVES, KEY_TYPES, PKCS12_PROFILES, RSA_KEY_SIZES
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import FORMATS

CN_POLICY = dict(type='str', choices=list(POLICIES), default='strict')

KEY_OPTIONS = dict(
    key_type=dict(type='str', choices=list(KEY_TYPES), default='rsa'),
    key_size=dict(type='int', choices=list(RSA_KEY_SIZES), default=2048),
    curve=dict(type='str', choices=list(CURVES), default='secp256r1'),
    subject=dict(type='dict', default={}),
    privatekey_passphrase=dict(type='str', no_log=True),
)

INSTALL_OPTIONS = dict(
    formats=dict(type='list', elements='str', choices=list(FORMATS), default=['pem']),
    ca_bundle=dict(type='path'),
    pkcs12_password=dict(type='str', no_log=True),
    jks_password=dict(type='str', no_log=True),
    pkcs12_profile=dict(type='str', choices=list(PKCS12_PROFILES), default='auto'),
    keystore_alias=dict(type='str', default='dov-client', no_log=False),
    mode=dict(type='raw'),
)

CHECK_OPTIONS = dict(
    ca_bundle=dict(type='path'),
    proxy=dict(type='str'),
)
