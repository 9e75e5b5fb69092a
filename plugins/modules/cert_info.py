#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_info
short_description: Read a deployed DOV client certificate, its CN parts, expiry and whether renewal is due
version_added: 1.0.0
description:
  - Reads one certificate file on the managed host and returns what a person (or a report) needs
    to know of it - its CN and the DOV parts of that CN, issuer, serial, validity dates, days left,
    whether it has expired or needs renewal, its fingerprint, key type and size and extended key usage.
  - "The form is told from the content, not the file name: PEM (one certificate or a bundle),
    DER, PKCS#7 (PEM or DER), base64 text, PKCS#12 (needs O(pkcs12_password)) or JKS (needs
    O(jks_password), read in Python, no Java needed). In a bundle or keystore the end-entity
    certificate is described; the others are only counted."
  - Only reads. Never reports a change, and never writes a file.
  - A missing, unreadable or empty file, a file that is no certificate, and a keystore without
    or with the wrong password are clear errors.
author:
  - vlaanderen.dov developers (@vlaanderen)
extends_documentation_fragment:
  - vlaanderen.dov.attributes.read_only
options:
  path:
    description:
      - Path of the certificate file on the managed host, for example C(<dest_dir>/cert.pem),
        C(bundle.p12) or C(keystore.jks).
    type: path
    required: true
  pkcs12_password:
    description:
      - Password of a PKCS#12 file. Needed when O(path) is a PKCS#12 keystore.
    type: str
  jks_password:
    description:
      - Store password of a JKS file. Needed when O(path) is a JKS keystore.
    type: str
  renew_before_days:
    description:
      - RV(needs_renewal) is true when the certificate has this many days left or fewer (or has expired), the
        window C(renew.yml) renews in.
      - VO-DCBaaS mails its reminders a month and a week before expiry; a renewal needs a person in
        the portal, so start earlier.
    type: int
    default: 60
notes:
  - Needs the Python library C(cryptography) (3.4.8 or newer) on the host.
seealso:
  - module: vlaanderen.dov.certificate
  - module: vlaanderen.dov.mtls_check
'''

EXAMPLES = r'''
- name: Read the installed certificate of Geodrill on oefen
  vlaanderen.dov.cert_info:
    path: /etc/dov/geodrill-oefen/cert.pem
  register: geodrill

- name: Say when it expires
  ansible.builtin.debug:
    msg: "{{ geodrill.common_name }} expires on {{ geodrill.not_after }} ({{ geodrill.days_left }} days left)"

- name: Read the JKS keystore the Java application uses, with a 90-day renewal window
  vlaanderen.dov.cert_info:
    path: /etc/dov/geodrill-oefen/keystore.jks
    jks_password: "{{ vault_geodrill_jks_password }}"
    renew_before_days: 90
  register: keystore

- name: Fail when the certificate needs renewal
  ansible.builtin.assert:
    that: not keystore.needs_renewal
    fail_msg: "{{ keystore.common_name }} needs renewal: {{ keystore.days_left }} days left"
'''

RETURN = r'''
path:
  description: The file that was read.
  returned: always
  type: str
format:
  description: The form the file had - C(pem), C(der), C(pkcs7), C(base64), C(pkcs12) or C(jks).
  returned: always
  type: str
  sample: pem
chain_length:
  description: How many certificates came with the described one in the file (CA certificates of a bundle or keystore).
  returned: always
  type: int
  sample: 0
common_name:
  description: The certificate's CN; null when its subject has none.
  returned: always
  type: str
  sample: geolab.be/dov-services/oefen/Geodrill
cn_parts:
  description:
    - The parts of the CN, as the C(vlaanderen.dov.dov_cn_parse) filter returns them.
    - Null when the CN is not of the DOV shape C(<organisation>/dov-services/<environment>/<application>).
  returned: always
  type: dict
  sample: {organisation: geolab.be, service: dov-services, environment: oefen, application: Geodrill, trailing_slash: false}
subject:
  description: The subject, RFC 4514 text.
  returned: always
  type: str
issuer:
  description: The issuer, RFC 4514 text.
  returned: always
  type: str
  sample: CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE
serial:
  description: The serial number in upper-case hex, as C(openssl x509 -serial) shows it.
  returned: always
  type: str
not_before:
  description: Start of validity, ISO 8601 in UTC.
  returned: always
  type: str
  sample: '2021-01-10T09:03:58Z'
not_after:
  description: End of validity, ISO 8601 in UTC.
  returned: always
  type: str
  sample: '2026-01-09T09:03:58Z'
days_left:
  description: Whole days until RV(not_after); negative once the certificate has expired.
  returned: always
  type: int
  sample: 41
expired:
  description: Whether the certificate has expired.
  returned: always
  type: bool
not_yet_valid:
  description: Whether its validity has not started yet (check the host's clock).
  returned: always
  type: bool
needs_renewal:
  description: Whether it has expired or has O(renew_before_days) days left or fewer.
  returned: always
  type: bool
renew_before_days:
  description: The renewal window that RV(needs_renewal) was decided with.
  returned: always
  type: int
fingerprint_sha256:
  description: SHA-256 of the certificate (DER), colon-separated upper-case hex, as openssl shows it.
  returned: always
  type: str
key_type:
  description: C(RSA), C(EC), C(DSA), C(Ed25519) or C(Ed448).
  returned: always
  type: str
  sample: RSA
key_size:
  description: Size of the public key in bits (the curve size for EC).
  returned: always
  type: int
  sample: 2048
extended_key_usage:
  description: The extended key usages by name (C(clientAuth), C(serverAuth), or the dotted OID of others); null without the extension.
  returned: always
  type: list
  elements: str
  sample: [clientAuth]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            pkcs12_password=dict(type='str', no_log=True),
            jks_password=dict(type='str', no_log=True),
            renew_before_days=dict(type='int', default=validity.DEFAULT_RENEW_BEFORE_DAYS),
        ),
        supports_check_mode=True,
    )
    compat.require(module)
    params = module.params
    try:
        result = certinfo.cert_info(params['path'], pkcs12_password=params['pkcs12_password'],
                                    jks_password=params['jks_password'],
                                    renew_before_days=params['renew_before_days'])
    except DovError as error:
        module.fail_json(msg=str(error), changed=False)
    result['changed'] = False
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
