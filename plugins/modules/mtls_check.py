#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: mtls_check
short_description: Call a DOV health endpoint with the client certificate and say why it fails
version_added: 0.1.0
description:
  - Does, from the host where it runs (its network, firewall and proxy are what matter), one TLS
    handshake with the client certificate and one HTTP GET of a DOV health endpoint, and returns a
    O(ignore:verdict) with a O(ignore:hint) a person can act on.
  - Reads the list of client CA names the server accepts, so that a refused certificate is told
    apart as expired, unknown issuer or wrong key usage.
  - The server is always verified, against O(ca_bundle) or the system trust store, and its name
    against the host in the URL. There is no option to trust every server.
  - Read-only; never reports a change.
author:
  - vlaanderen.dov developers (@vlaanderen)
extends_documentation_fragment:
  - vlaanderen.dov.attributes.read_only
  - vlaanderen.dov.check
options:
  environment:
    description:
      - The DOV environment to call; C(productie) is U(https://services.dov.vlaanderen.be/), C(oefen)
        U(https://services-oefen.dov.vlaanderen.be/). O(url) wins when both are given.
    type: str
    choices: [productie, oefen, ontwikkel]
  url:
    description:
      - A base URL (C(https://) only) to call instead of the environment's, for example a test server.
    type: str
  health_path:
    description:
      - Path of the health endpoint under the base URL. The XML import service answers on the default;
        the high-frequency measurements API on C(dovinstrumentserver/chucknorris).
    type: str
    default: dov-xdov-server/logs/chucknorris
  client_cert:
    description:
      - PEM file with the client certificate, followed by its intermediate CAs if any.
      - Leave it and O(pkcs12_path) out to see how the server answers without a certificate.
    type: path
  client_key:
    description:
      - PEM file with the private key of O(client_cert). Default the key in the O(client_cert) file.
    type: path
  client_key_passphrase:
    description:
      - Passphrase of O(client_key).
    type: str
  pkcs12_path:
    description:
      - PKCS#12 file with the key, the certificate and its intermediates, instead of PEM files.
    type: path
  pkcs12_password:
    description:
      - Password of O(pkcs12_path).
    type: str
  timeout:
    description:
      - Seconds for the whole call, connection to answer.
    type: int
    default: 15
  expected_status:
    description:
      - HTTP status codes that mean the certificate works.
    type: list
    elements: int
    default: [200]
  fail_on_error:
    description:
      - Fail the task unless the verdict is C(ok). With V(false) the task reports the verdict and succeeds.
      - Local input that a person must fix (a file that cannot be read, a wrong passphrase, a key
        that does not belong to the certificate) always fails the task.
    type: bool
    default: true
notes:
  - Needs the Python libraries C(pyOpenSSL) 21.0.0 or newer and C(cryptography) 3.4.8 or newer on the host.
  - With TLS 1.3 a refused client certificate shows only at the first read, and nginx finishes the
    handshake and answers HTTP 400; both are reported as C(client_cert_rejected).
  - Every verdict and what to do about it is in C(docs/mtls-check.md) of the collection.
'''

EXAMPLES = r'''
- name: Test the oefen certificate of Geodrill from the application host
  vlaanderen.dov.mtls_check:
    environment: oefen
    client_cert: /opt/geodrill/dov/cert.pem
    client_key: /opt/geodrill/dov/key.pem
  register: dov_check

- name: High-frequency measurements API through the company proxy, with a PKCS#12 file
  vlaanderen.dov.mtls_check:
    environment: productie
    health_path: dovinstrumentserver/chucknorris
    pkcs12_path: /etc/sensors/dov.p12
    pkcs12_password: "{{ vault_dov_p12_password }}"
    proxy: http://proxy.example:3128

- name: Report only, do not fail
  vlaanderen.dov.mtls_check:
    url: https://dov-standin.lab:8443/
    ca_bundle: /etc/dov/lab-ca.pem
    client_cert: /etc/dov/cert.pem
    client_key: /etc/dov/key.pem
    fail_on_error: false
  register: dov_check
'''

RETURN = r'''
verdict:
  description:
    - C(ok) (the server asked for a client certificate, ours went out and the server answered an expected status);
      C(client_cert_not_requested) (the server answered without ever asking for a client certificate; not the DOV
      service, or a proxy that intercepts TLS); C(not_authorised) (401/403, the certificate is good but its CN has
      no rights at DOV);
      C(client_cert_rejected) (a TLS alert about the certificate, or nginx's HTTP 400 about it);
      C(server_untrusted) (the server's certificate does not verify or its name does not match);
      C(dns_error); C(connect_error); C(proxy_error); C(timeout); C(http_error).
  returned: always
  type: str
  sample: not_authorised
hint:
  description: One or two sentences a person can act on.
  returned: always
  type: str
  sample: "The certificate works but DOV has not granted this CN rights (HTTP 403): contact meldpunt@dov.vlaanderen.be with the CN ..."
url:
  description: The URL called.
  returned: always
  type: str
  sample: https://services-oefen.dov.vlaanderen.be/dov-xdov-server/logs/chucknorris
proxy:
  description: The proxy used (without password), or null.
  returned: always
  type: str
tls_version:
  description: The TLS version negotiated, for example C(TLSv1.3); null when no handshake happened.
  returned: always
  type: str
cipher:
  description: The cipher negotiated.
  returned: always
  type: str
server_certificate:
  description: The server's certificate, when one was seen (the description every module of this collection gives).
  returned: always
  type: dict
  contains:
    subject: {description: Subject (RFC 4514)., type: str}
    issuer: {description: Issuer (RFC 4514)., type: str}
    common_name: {description: The subject's CN., type: str}
    serial: {description: Serial number in upper-case hex., type: str}
    not_before: {description: 'Start of validity, ISO 8601 in UTC.', type: str}
    not_after: {description: 'End of validity, ISO 8601 in UTC.', type: str}
    days_left: {description: 'Whole days until not_after; negative once expired.', type: int}
    fingerprint_sha256: {description: SHA-256 fingerprint of the certificate., type: str}
acceptable_client_cas:
  description: The client CA names the server accepts (RFC 4514); empty when it sent none.
  returned: always
  type: list
  elements: str
client_issuer_accepted:
  description: Whether the issuer of the client certificate (or of an intermediate sent) is on that list; null when there is no list.
  returned: always
  type: bool
client_cert_requested:
  description:
    - Whether the server asked for a client certificate (a TLS CertificateRequest, in the handshake or after it;
      TLS 1.3 post-handshake authentication is offered).
  returned: always
  type: bool
client_cert_sent:
  description: Whether the client certificate went out, with its signature (CertificateVerify).
  returned: always
  type: bool
client_certificate:
  description: The client certificate used, with the same keys as RV(server_certificate); null when none was given.
  returned: always
  type: dict
http_status:
  description: The HTTP status of the answer; null when there was none.
  returned: always
  type: int
  sample: 200
response_excerpt:
  description: The first 200 characters of the answer's body.
  returned: always
  type: str
elapsed_ms:
  description: Milliseconds from the start of the connection to the verdict.
  returned: always
  type: int
'''

from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlsprobe
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._argspec import CHECK_OPTIONS


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            environment=dict(type='str', choices=list(cn.ENVIRONMENTS)),
            url=dict(type='str'),
            health_path=dict(type='str', default=cn.DEFAULT_HEALTH_PATH),
            client_cert=dict(type='path'),
            client_key=dict(type='path'),
            client_key_passphrase=dict(type='str', no_log=True),
            pkcs12_path=dict(type='path'),
            pkcs12_password=dict(type='str', no_log=True),
            timeout=dict(type='int', default=cn.DEFAULT_CHECK_TIMEOUT),
            expected_status=dict(type='list', elements='int', default=[200]),
            fail_on_error=dict(type='bool', default=True),
            **CHECK_OPTIONS
        ),
        required_one_of=[('environment', 'url')],
        mutually_exclusive=[('client_cert', 'pkcs12_path'), ('client_key', 'pkcs12_path')],
        required_by={'client_key': 'client_cert', 'pkcs12_password': 'pkcs12_path'},
        supports_check_mode=True,
    )
    compat.require(module, pyopenssl=True)

    params = module.params
    for value in (params['proxy'], params['url']):
        # A password inside a URL is a secret too: mask it wherever it would show.
        try:
            password = urlsplit(value).password if value else None
        except ValueError:
            password = None
        if password:
            module.no_log_values.add(password)
    if params['timeout'] <= 0:
        module.fail_json(msg="timeout must be a positive number of seconds, not %d. Leave it out for 15." % params['timeout'])

    try:
        url = tlsprobe.build_url(params['environment'], params['url'], params['health_path'])
        result = tlsprobe.probe(
            url,
            client_cert=params['client_cert'],
            client_key=params['client_key'],
            client_key_passphrase=params['client_key_passphrase'],
            pkcs12_path=params['pkcs12_path'],
            pkcs12_password=params['pkcs12_password'],
            ca_bundle=params['ca_bundle'],
            proxy=params['proxy'],
            timeout=params['timeout'],
            expected_status=params['expected_status'],
        )
    except DovError as error:
        module.fail_json(msg=str(error))

    result['changed'] = False
    if result['verdict'] != 'ok' and params['fail_on_error']:
        module.fail_json(msg='%s: %s' % (result['verdict'], result['hint']), **result)
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
