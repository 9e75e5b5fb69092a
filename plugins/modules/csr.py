#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: csr
short_description: Private key and certificate signing request with the CN that DOV assigned
version_added: 0.1.0
description:
  - Creates, on the host that will use the certificate, a private key (only when there is none)
    and a certificate signing request (CSR) that carries exactly the Common Name DOV sent back
    after the access request. The CSR is what the organisation uploads in VO-DCBaaS.
  - The key never leaves the host. It is 0600 from the moment it exists and written atomically.
  - An existing key is never replaced silently, because a government CA may already have certified
    it. A key that cannot be read, or is of another type or size than asked, is refused with a
    message; O(regenerate=always) is the only way to replace it.
  - The CSR is written when it is absent, or when its subject or key no longer match.
author:
  - vlaanderen.dov developers (@vlaanderen)
extends_documentation_fragment:
  - vlaanderen.dov.files
  - vlaanderen.dov.key
  - vlaanderen.dov.files.attributes
attributes:
  idempotent:
    support: full
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    details: A second run with the same options changes nothing and keeps the key byte-identical.
options:
  common_name:
    description:
      - The CN exactly as DOV sent it back, for example C(geolab.be/dov-services/oefen/Geodrill).
    type: str
    required: true
  cn_policy:
    description:
      - V(strict) checks O(common_name) against DOV's shape
        C(<organisation>/dov-services/<environment>/<application>), with environment one of
        C(productie), C(oefen), C(ontwikkel), and one trailing C(/) tolerated.
      - V(off) takes a CN that DOV assigned in another shape as-is (DOV's word wins); only the
        X.509 limit of 64 characters is checked.
    type: str
    choices: [strict, 'off']
    default: strict
  privatekey_path:
    description:
      - Path of the private key (PEM, PKCS#8). Created when absent; missing parent folders are
        created 0700.
    type: path
    required: true
  csr_path:
    description:
      - Path of the CSR (PEM). Default C(csr.pem) in the folder of O(privatekey_path).
    type: path
  regenerate:
    description:
      - V(never) keeps a valid existing key, whatever happens, and refuses one that does not fit.
      - V(always) makes a new key and CSR on every run. The certificate issued for the old key
        stops matching, so use it only to replace a compromised or wrong key, once.
    type: str
    choices: [never, always]
    default: never
  mode:
    description:
      - Mode of the private key file. Keys are never group- or world-readable, so only owner bits
        (C(0600), C(0400)) are accepted. The CSR is written 0644.
    type: raw
    default: '0600'
notes:
  - Needs the Python library C(cryptography) 3.4.8 or newer on the host.
'''

EXAMPLES = r'''
- name: Key and CSR for the oefen certificate of Geodrill
  vlaanderen.dov.csr:
    common_name: geolab.be/dov-services/oefen/Geodrill
    privatekey_path: /opt/geodrill/dov/key.pem
    csr_path: /opt/geodrill/dov/csr.pem
    subject:
      C: BE
      ST: Oost-Vlaanderen
      L: Nazareth
      O: Geolab nv
      OU: IT
      emailAddress: it@geolab.be
  register: dov_csr

- name: A CN that DOV assigned in another shape
  vlaanderen.dov.csr:
    common_name: lab.example/dov-services-test/Geodrill
    cn_policy: 'off'
    privatekey_path: /etc/dov/key.pem
'''

RETURN = r'''
common_name:
  description: The CN in the CSR.
  returned: always
  type: str
  sample: geolab.be/dov-services/oefen/Geodrill
cn_parts:
  description: The parts of the CN; all null when O(cn_policy=off) and the CN has another shape.
  returned: always
  type: dict
  contains:
    organisation: {description: The organisation's domain name., type: str, sample: geolab.be}
    service: {description: Always C(dov-services)., type: str, sample: dov-services}
    environment: {description: 'C(productie), C(oefen) or C(ontwikkel).', type: str, sample: oefen}
    application: {description: The calling application., type: str, sample: Geodrill}
csr:
  description: The CSR in PEM, to upload in VO-DCBaaS.
  returned: always
  type: str
public_key_fingerprint:
  description: SHA-256 of the public key (DER SubjectPublicKeyInfo), colon-separated hex.
  returned: always
  type: str
privatekey_path:
  description: Path of the private key.
  returned: always
  type: str
csr_path:
  description: Path of the CSR.
  returned: always
  type: str
key_created:
  description: Whether a new key was made (or, in check mode, would be).
  returned: always
  type: bool
backup_file:
  description: Backups of replaced files.
  returned: when O(backup=true) and a file was replaced
  type: list
  elements: str
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, compat, fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keyfiles
from ansible_collections.vlaanderen.dov.plugins.module_utils._argspec import CN_POLICY, KEY_OPTIONS
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            common_name=dict(type='str', required=True),
            cn_policy=CN_POLICY,
            privatekey_path=dict(type='path', required=True),
            csr_path=dict(type='path'),
            regenerate=dict(type='str', choices=['never', 'always'], default='never'),
            mode=dict(type='raw', default='0600'),
            **dict(KEY_OPTIONS, **fsutil.FILE_OPTIONS)
        ),
        supports_check_mode=True,
    )
    compat.require(module)

    params = module.params
    csr_path = params['csr_path'] or os.path.join(os.path.dirname(params['privatekey_path']), 'csr.pem')
    try:
        parts = cn.cn_parts(params['common_name'], params['cn_policy'])
        fsutil.check_owners([os.path.dirname(os.path.abspath(params['privatekey_path'])),
                             os.path.dirname(os.path.abspath(csr_path))], params['owner'])
        plan = keyfiles.plan_key_and_csr(
            common_name=params['common_name'],
            privatekey_path=params['privatekey_path'],
            csr_path=csr_path,
            key_type=params['key_type'],
            key_size=params['key_size'],
            curve=params['curve'],
            subject=params['subject'],
            passphrase=params['privatekey_passphrase'],
            regenerate=params['regenerate'],
            key_mode=keyfiles.key_mode(params['mode']),
            uid_gid=fsutil.resolve_owner(params['owner'], params['group']),
        )
        backups = [] if module.check_mode else keyfiles.apply_plan(plan, backup=params['backup'])
    except DovError as error:
        module.fail_json(msg=str(error), common_name=params['common_name'])

    result = dict(
        changed=plan.changed,
        common_name=params['common_name'],
        cn_parts=dict((name, parts[name]) for name in ('organisation', 'service', 'environment', 'application')),
        csr=plan.csr_pem.decode('ascii'),
        public_key_fingerprint=plan.fingerprint,
        privatekey_path=params['privatekey_path'],
        csr_path=csr_path,
        key_created=plan.key_created,
    )
    if backups:
        result['backup_file'] = backups
    if module._diff:
        result['diff'] = plan.diff
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
