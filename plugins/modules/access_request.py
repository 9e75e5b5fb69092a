#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: access_request
short_description: The access request to the DOV meldpunt (step 1), validated, written and sent once
version_added: 0.1.0
description:
  - Step 1 of DOV's procedure for client certificates. Validates the organisation's unique id
    (KBO enterprise number with its check digits, OVO number, or internal code), the application,
    the description and the environments, and writes the request mail to
    C(meldpunt@dov.vlaanderen.be) as an C(.eml) file. DOV answers with the Common Name (CN) that
    the key and CSR (M(vlaanderen.dov.csr)) need.
  - The mail is Dutch, plain text, UTF-8, RFC 5322. It names the organisation, the application,
    the id and its type, the description, and one line per certificate
    (organisation / dov-services / environment / application), and asks DOV to send back the CN(s).
  - The file is a draft; it has no C(Date) or C(Message-ID) and carries the header C(X-Unsent) set to 1, so the
    same input always gives the same bytes and a second run changes nothing. The sender adds the
    date and a Message-ID when the mail is sent.
  - With O(send=true) the mail goes out over SMTP and the send is recorded in C(<dest>.sent.json)
    (SHA-256 of the file and the time). The same request is not sent a second time; a changed
    request, or O(force=true), is. An SMTP failure fails the task and records nothing.
  - Every option is checked before anything is written; a refusal leaves the files as they were.
author:
  - vlaanderen.dov developers (@vlaanderen)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
    details: Reports whether the file would change and whether the mail would be sent; writes and sends nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Shows the C(.eml) file before and after.
  idempotent:
    description: When run twice in a row with the same arguments, the second run reports no change.
    support: full
    details: The same input gives the same file, and a request already sent is not sent again.
options:
  organisation:
    description:
      - The organisation's legal name, for example C(Geolab nv).
    type: str
    required: true
  organisation_id_type:
    description:
      - V(kbo) for economic actors (the KBO enterprise number), V(ovo) for organisations in the
        Organisatieregister, V(vo_code) for the internal code of a Flemish government entity.
    type: str
    choices: [kbo, ovo, vo_code]
    required: true
  organisation_id:
    description:
      - The id of the type O(organisation_id_type).
      - A KBO number has 10 digits, written with or without dots and spaces and an optional C(BE)
        (C(0403.170.701), C(0403170701), C(BE 0403.170.701)). Its first digit is 0 or 1 (a number
        starting with 2 to 9 is an establishment unit, and refused) and its last two digits are
        C(97 - (first eight mod 97)). It is written C(0403.170.701) in the mail.
      - An OVO number is C(OVO) and 6 digits, in any case (C(ovo002949) becomes C(OVO002949)).
      - An internal code is one word without spaces.
    type: str
    required: true
  application:
    description:
      - The name of the calling application, as it will appear in the CN, for example C(Geodrill).
        No C(/).
    type: str
    required: true
  description:
    description:
      - What the application will do with the DOV services, in a sentence or two. Line breaks are kept.
    type: str
    required: true
  environments:
    description:
      - The environments to ask a certificate for; one certificate each. C(oefen) is DOV's test
        environment. C(ontwikkel) is DOV's own and cannot be requested.
    type: list
    elements: str
    choices: [productie, oefen]
    default: [productie]
  contact_email:
    description:
      - The address DOV replies to. It is the C(From) of the mail, or the C(Reply-To) when
        O(sender) is another address.
    type: str
    required: true
  contact_name:
    description:
      - The name of the contact person, shown with O(contact_email) and under the mail.
    type: str
  dest:
    description:
      - Path of the C(.eml) file to write. Missing parent folders are created 0700. The send record
        is written next to it as C(<dest>.sent.json).
    type: path
    required: true
  send:
    description:
      - Send the mail over SMTP, unless this exact request was sent before (see O(force)).
    type: bool
    default: false
  smtp_host:
    description:
      - The SMTP server that sends the mail. Required when O(send=true).
    type: str
  smtp_port:
    description:
      - The SMTP server's port. Default 587 with O(smtp_starttls=true), 25 without.
    type: int
  smtp_starttls:
    description:
      - Upgrade the connection with STARTTLS and verify the server's certificate and host name
        (the system's CAs, or O(smtp_ca_bundle)). A server that does not offer STARTTLS is refused.
      - V(false) sends in plain text; only for a relay on a trusted network. A login then is refused.
    type: bool
    default: true
  smtp_ca_bundle:
    description:
      - A PEM file with the CA(s) that signed the SMTP server's certificate, instead of the
        system's CAs. Needs O(smtp_starttls=true).
    type: path
  smtp_username:
    description:
      - Log in to the SMTP server with this user (after STARTTLS).
    type: str
  smtp_password:
    description:
      - The password for O(smtp_username). Never logged.
    type: str
  sender:
    description:
      - The C(From) address when the mail should come from another address than O(contact_email),
        for example a functional mailbox. O(contact_email) then becomes the C(Reply-To).
    type: str
  force:
    description:
      - Send the request again even when this exact request was sent before.
    type: bool
    default: false
notes:
  - The C(.eml) opens in mail clients; Outlook opens it ready to send (C(X-Unsent)). Sending it by
    hand is fine; the send record then knows nothing of it.
seealso:
  - module: vlaanderen.dov.csr
'''

EXAMPLES = r'''
- name: Write the access request for Geodrill (productie and oefen)
  vlaanderen.dov.access_request:
    organisation: Geolab nv
    organisation_id_type: kbo
    organisation_id: BE 0403.170.701
    application: Geodrill
    description: Laadt boorbeschrijvingen op als XML en haalt de validatierapporten op.
    environments: [productie, oefen]
    contact_email: it@geolab.be
    contact_name: Jan Peeters
    dest: /srv/dov-state/Geodrill/access-request.eml
  register: dov_request

- name: Write it and send it once, through the company's mail server
  vlaanderen.dov.access_request:
    organisation: Agentschap Digitaal Vlaanderen
    organisation_id_type: ovo
    organisation_id: OVO002949
    application: grondwater-sync
    description: Synchroniseert grondwatermetingen naar DOV.
    contact_email: dov@vlaanderen.be
    dest: /srv/dov-state/grondwater-sync/access-request.eml
    send: true
    smtp_host: smtp.vlaanderen.be
    smtp_username: dov-mailer
    smtp_password: "{{ vault_smtp_password }}"
'''

RETURN = r'''
message:
  description: The text of the mail.
  returned: always
  type: str
subject:
  description: The subject of the mail.
  returned: always
  type: str
  sample: 'Aanvraag toegang DOV-webservices: toepassing Geodrill van Geolab nv'
dest:
  description: Path of the C(.eml) file.
  returned: always
  type: str
organisation_id:
  description: The organisation id as written in the mail (normalised).
  returned: always
  type: str
  sample: 0403.170.701
sent:
  description: Whether the mail was sent by this run.
  returned: always
  type: bool
sent_at:
  description:
    - When this exact request was sent (UTC, ISO 8601), by this run or an earlier one; null when
      it never was.
  returned: always
  type: str
  sample: '2025-03-04T09:15:00Z'
msg:
  description: What happened, and what to do next, in one sentence or two.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, orgid
from ansible_collections.vlaanderen.dov.plugins.module_utils._mail import accessmail, sendrecord
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


def _summary(dest, send, outcome):
    if outcome['sent']:
        return "Sent the access request to %s on %s. Put the CN(s) DOV sends back in the inventory." % (
            cn.MELDPUNT, outcome['sent_at'])
    if send and outcome['would_send']:
        return "Would send the access request to %s (check mode)." % cn.MELDPUNT
    if outcome['already_sent_at']:
        return ("This request was already sent on %s; not sent again (force: true sends it again). "
                "Put the CN(s) DOV sends back in the inventory." % outcome['already_sent_at'])
    return ("The access request is in %s. Send it to %s (or use send: true) and put the CN(s) DOV "
            "sends back in the inventory." % (dest, cn.MELDPUNT))


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            organisation=dict(type='str', required=True),
            organisation_id_type=dict(type='str', choices=list(orgid.ID_TYPES), required=True),
            organisation_id=dict(type='str', required=True),
            application=dict(type='str', required=True),
            description=dict(type='str', required=True),
            environments=dict(type='list', elements='str', choices=list(cn.REQUESTABLE_ENVIRONMENTS), default=['productie']),
            contact_email=dict(type='str', required=True),
            contact_name=dict(type='str'),
            dest=dict(type='path', required=True),
            send=dict(type='bool', default=False),
            smtp_host=dict(type='str'),
            smtp_port=dict(type='int'),
            smtp_starttls=dict(type='bool', default=True),
            smtp_ca_bundle=dict(type='path'),
            smtp_username=dict(type='str'),
            smtp_password=dict(type='str', no_log=True),
            sender=dict(type='str'),
            force=dict(type='bool', default=False),
        ),
        required_if=[('send', True, ['smtp_host'])],
        required_together=[('smtp_username', 'smtp_password')],
        supports_check_mode=True,
    )
    params = module.params
    dest = params['dest']
    try:
        request = accessmail.AccessRequest(
            organisation=params['organisation'],
            organisation_id_type=params['organisation_id_type'],
            organisation_id=params['organisation_id'],
            application=params['application'],
            description=params['description'],
            environments=params['environments'],
            contact_email=params['contact_email'],
            contact_name=params['contact_name'],
            sender=params['sender'],
        )
        server = None
        if params['send']:
            server = accessmail.SmtpServer(
                host=params['smtp_host'], port=params['smtp_port'], starttls=params['smtp_starttls'],
                username=params['smtp_username'], password=params['smtp_password'],
                ca_bundle=params['smtp_ca_bundle'])
        eml = request.eml
        written = sendrecord.write_draft(dest, eml, check_mode=module.check_mode)
        earlier = sendrecord.previous_send(sendrecord.load_record(dest), request.sha256)
        outcome = {'sent': False, 'would_send': False,
                   'sent_at': earlier['sent_at'] if earlier else None,
                   'already_sent_at': earlier['sent_at'] if earlier else None}
    except DovError as error:
        module.fail_json(msg=str(error), dest=dest)
    if server is not None:
        try:
            outcome = sendrecord.send_once(dest, eml, server, force=params['force'], check_mode=module.check_mode)
        except DovError as error:
            module.fail_json(msg="%s The request is written to %s; fix the cause and run again, or send it by hand."
                             % (error, dest), dest=dest, changed=written['changed'], sent=False)

    result = dict(
        changed=bool(written['changed'] or outcome['sent'] or (module.check_mode and outcome['would_send'])),
        msg=_summary(dest, params['send'], outcome),
        message=request.body,
        subject=request.subject,
        dest=dest,
        organisation_id=request.organisation_id,
        sent=outcome['sent'],
        sent_at=outcome['sent_at'],
    )
    if module._diff:
        result['diff'] = dict(
            before_header=dest, after_header=dest,
            before=written['before'].decode('utf-8', 'replace') if written['before'] is not None else '',
            after=eml.decode('utf-8'))
    module.exit_json(**result)


def main():
    run_module()


if __name__ == '__main__':
    main()
