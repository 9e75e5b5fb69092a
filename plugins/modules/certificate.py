#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: certificate
short_description: Check an issued DOV client certificate hard, then install it as PEM, PKCS#12 and JKS
version_added: 0.1.0
description:
  - Takes the certificate that VO-DCBaaS issued for the host's CSR, in whatever form it was
    downloaded (DER C(.cer), PEM, PKCS#7 C(.p7b) in PEM or DER, base64 text, a PEM bundle), checks it,
    and installs it in O(dest_dir) in every format the application needs.
  - "Nothing is written unless every check passes, in this order: 1. it is a certificate (a CSR,
    a private key, garbage, an empty or a truncated file each get their own message);
    2. its public key matches the key at O(privatekey_path); 3. its CN equals O(expected_common_name);
    4. it allows TLS client authentication (EKU C(clientAuth) when an EKU is present, key usage
    C(digitalSignature) when a key usage is present) and has no critical extension that TLS servers
    do not know (nginx refuses such a certificate; the OID is named); 5. it is valid now and has at least
    O(min_days_left) days left; 6. with O(ca_bundle), it chains to those CA certificates, checking the
    signature and validity of each link. A refusal names the problem and the fix and leaves every
    file byte-identical."
  - "Files in O(dest_dir): for V(pem) C(cert.pem) (the certificate), C(chain.pem) (the intermediate
    CA certificates, no root; empty when none is known) and C(fullchain.pem) (certificate + intermediates);
    for V(pkcs12) C(bundle.p12) (key, certificate and chain, friendly name O(keystore_alias));
    for V(jks) C(keystore.jks) (the same, made with Java's C(keytool))."
  - Idempotent whatever the encoding of the input. Keystores are compared by content (opened with
    the password; key, certificates, alias and, for PKCS#12, the profile), not by bytes, because their
    encryption is randomised.
  - Every file is first written completely to a temporary name in O(dest_dir), and only then renamed
    into place; a failure halfway leaves the previous set usable.
author:
  - vlaanderen.dov developers (@vlaanderen)
extends_documentation_fragment:
  - vlaanderen.dov.files
  - vlaanderen.dov.install
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Runs every check and reports what would change; writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Before/after of subject, serial, not_after and fingerprint of the certificate; never key material.
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
    details: The same certificate again, in any encoding, changes nothing, keystores included.
options:
  src:
    description:
      - Path of the certificate file on the managed host, as downloaded from VO-DCBaaS.
      - Exactly one of O(src) and O(content) is required.
    type: path
  content:
    description:
      - The certificate as text, PEM or base64 of DER or PKCS#7.
      - Exactly one of O(src) and O(content) is required.
    type: str
  privatekey_path:
    description:
      - Path of the private key the CSR was made with (PEM, on the managed host). The certificate
        must be for this key, and the keystores hold it.
    type: path
    required: true
  privatekey_passphrase:
    description:
      - Passphrase of the private key, when it is encrypted.
    type: str
  expected_common_name:
    description:
      - The CN that DOV assigned, for example C(geolab.be/dov-services/oefen/Geodrill). The certificate's
        CN must be exactly this.
    type: str
    required: true
  dest_dir:
    description:
      - Folder to install the files in. Created when missing (0750 with O(group), else 0700, given to O(owner) and
        O(group)); missing parents are made 0755 for the connecting user. The files have their own modes.
    type: path
    required: true
  min_days_left:
    description:
      - Refuse a certificate that expires in fewer days than this.
    type: int
    default: 0
notes:
  - Needs the Python library C(cryptography) 3.4.8 or newer on the host; V(jks) also needs Java's C(keytool).
    The V(modern) O(pkcs12_profile) needs cryptography 38 or newer (V(auto), the default, then writes V(legacy)).
  - A file it manages in O(dest_dir) that is a symbolic link is refused, naming the link (never followed, chowned or
    copied); O(dest_dir) itself may be a link. Files are read with C(O_NOFOLLOW) and their mode and owner set on the open file.
  - Passwords reach keytool through its environment (C(-storepass:env)), never its command line.
  - Diff mode shows subject, serial, not_after and fingerprint of the installed and the new certificate,
    never key material.
seealso:
  - module: vlaanderen.dov.csr
'''

EXAMPLES = r'''
- name: Install the certificate downloaded from VO-DCBaaS, as PEM and JKS
  vlaanderen.dov.certificate:
    src: /opt/geodrill/dov/inbox/geodrill.cer
    privatekey_path: /opt/geodrill/dov/key.pem
    expected_common_name: geolab.be/dov-services/oefen/Geodrill
    ca_bundle: /opt/geodrill/dov/vo-pki-ca.pem
    dest_dir: /opt/geodrill/dov
    formats: [pem, jks]
    jks_password: "{{ vault_geodrill_jks_password }}"
    min_days_left: 30
    group: geodrill
  register: dov_certificate

- name: A PKCS#12 bundle for an old Java 8 runtime, from pasted base64
  vlaanderen.dov.certificate:
    content: "{{ lookup('file', 'geodrill.p7b.b64') }}"
    privatekey_path: /etc/dov/key.pem
    expected_common_name: geolab.be/dov-services/oefen/Geodrill
    dest_dir: /etc/dov
    formats: [pkcs12]
    pkcs12_password: "{{ vault_geodrill_p12_password }}"
    pkcs12_profile: legacy
'''

RETURN = r'''
subject:
  description: Subject of the certificate (RFC 4514).
  returned: success
  type: str
  sample: emailAddress=it@geolab.be,CN=geolab.be/dov-services/oefen/Geodrill,OU=IT,O=Geolab nv,L=Nazareth,ST=Oost-Vlaanderen,C=BE
issuer:
  description: Issuer of the certificate (RFC 4514).
  returned: success
  type: str
  sample: CN=Vlaamse overheid Issuing CA 2,O=e-IB (DAB ICT),C=BE
common_name:
  description: The certificate's CN.
  returned: success
  type: str
  sample: geolab.be/dov-services/oefen/Geodrill
serial:
  description: Serial number in upper-case hex, as C(openssl x509 -serial) shows it.
  returned: success
  type: str
  sample: 24F6CA90000100002448
not_before:
  description: Start of validity, ISO 8601 UTC.
  returned: success
  type: str
  sample: '2020-12-06T11:15:05Z'
not_after:
  description: End of validity, ISO 8601 UTC.
  returned: success
  type: str
  sample: '2026-01-09T11:15:05Z'
days_left:
  description: Whole days until the certificate expires.
  returned: success
  type: int
  sample: 1824
fingerprint_sha256:
  description: SHA-256 fingerprint of the certificate (DER), colon-separated hex.
  returned: success
  type: str
files:
  description:
    - What was (or in check mode would be) written where, per kind C(cert), C(chain), C(fullchain),
      C(pkcs12), C(jks); only the kinds of O(formats).
  returned: success
  type: dict
  contains:
    path:
      description: Path of the file.
      type: str
      sample: /opt/geodrill/dov/cert.pem
    changed:
      description: Whether the file was written or its mode or owner set.
      type: bool
    mode:
      description: Mode of the file.
      type: str
      sample: '0644'
  sample:
    cert: {path: /opt/geodrill/dov/cert.pem, changed: true, mode: '0644'}
    jks: {path: /opt/geodrill/dov/keystore.jks, changed: true, mode: '0640'}
pkcs12_profile:
  description: The profile C(bundle.p12) is written in (V(auto) resolved for this host).
  returned: when O(formats) contains V(pkcs12)
  type: str
  sample: modern
backup_file:
  description: Backups of replaced files.
  returned: when O(backup=true) and a file was replaced
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import certinstall
from ansible_collections.vlaanderen.dov.plugins.module_utils._argspec import INSTALL_OPTIONS
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path'),
            content=dict(type='str'),
            privatekey_path=dict(type='path', required=True),
            privatekey_passphrase=dict(type='str', no_log=True),
            expected_common_name=dict(type='str', required=True),
            dest_dir=dict(type='path', required=True),
            min_days_left=dict(type='int', default=0),
            **dict(INSTALL_OPTIONS, **fsutil.FILE_OPTIONS)
        ),
        mutually_exclusive=[('src', 'content')],
        required_one_of=[('src', 'content')],
        supports_check_mode=True,
    )
    compat.require(module)

    params = module.params
    try:
        content, source = certinstall.read_source(params['src'], params['content'])
        fsutil.check_owners([params['dest_dir']], params['owner'])
        plan = certinstall.plan_install(
            content=content,
            source=source,
            privatekey_path=params['privatekey_path'],
            privatekey_passphrase=params['privatekey_passphrase'],
            expected_common_name=params['expected_common_name'],
            ca_bundle=params['ca_bundle'],
            dest_dir=params['dest_dir'],
            formats=params['formats'],
            pkcs12_password=params['pkcs12_password'],
            jks_password=params['jks_password'],
            pkcs12_profile=params['pkcs12_profile'],
            keystore_alias=params['keystore_alias'],
            min_days_left=params['min_days_left'],
            owner=params['owner'],
            group=params['group'],
            mode=params['mode'],
        )
        backups = [] if module.check_mode else certinstall.apply_install(plan, backup=params['backup'])
    except DovError as error:
        module.fail_json(msg=str(error))

    result = plan.result()
    if 'pkcs12' in params['formats']:
        result['pkcs12_profile'], note = keystores.resolve_profile(params['pkcs12_profile'])
        if note:
            module.warn(note)
    if backups:
        result['backup_file'] = backups
    if module._diff:
        result['diff'] = plan.diff
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
