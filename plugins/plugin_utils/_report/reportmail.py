# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The certificate notification mail of report.yml (``dov_notify_email``): the recipients checked,
the mail built from what ``report.needs_attention`` lists (English, or Dutch and English), and sent
over ``accessmail.SmtpServer`` (``dov_smtp``). Controller side.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

from ansible_collections.vlaanderen.dov.plugins.module_utils._mail import accessmail
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report.report import needs_attention


def check_recipients(value):
    """``dov_notify_email``: one address or a list of them; each checked."""
    values = [value] if isinstance(value, str) else list(value or [])
    if not values:
        raise DovError("dov_notify_email is empty. Give one address or a list, for example ['it@geolab.be'].")
    return [accessmail.check_email(item, 'dov_notify_email address') for item in values]


def _lines(found, dutch):
    lines = []
    for record, english, nederlands in found:
        hosts = ' - hosts: %s' % ', '.join(record['hosts']) if record['hosts'] else ''
        lines.append('- %s' % (record['common_name'] or '%s/%s' % (record['application'], record['environment'])))
        lines.append('  %s/%s%s' % (record['application'], record['environment'], hosts))
        lines.append('  %s' % (nederlands if dutch else english))
    return lines


def notification_eml(records, sender, recipients, within_days=None, language='en', report_path=None):
    """The notification mail as RFC 5322 bytes (a draft: ``accessmail.SmtpServer.send`` stamps Date and
    Message-ID), or None when nothing needs attention.

    ``language`` is ``en`` (English) or ``nl`` (Dutch first, then the same in English). It lists
    only what ``needs_attention`` returns.
    """
    if language not in ('en', 'nl'):
        raise DovError("The notification language %r is not known. Use 'en' (English) or 'nl' (Dutch and English)."
                       % (language,))
    to_addrs = check_recipients(recipients)
    sender = accessmail.check_email(sender, 'dov_smtp sender')
    found = needs_attention(records, within_days)
    if not found:
        return None
    count = len(found)
    english = ['%d DOV client certificate%s need%s attention:' % (count, '' if count == 1 else 's',
                                                                  's' if count == 1 else ''), '']
    english += _lines(found, False)
    english += ['', 'Renew with playbooks/renew.yml. A renewal is a new certificate (a new CSR) for the same '
                'application in VO-DCBaaS (dcb.vlaanderen.be), template SSL Client.']
    if report_path:
        english.append('The full report: %s' % report_path)
    body = english
    subject = 'DOV certificates: %d need%s attention' % (count, 's' if count == 1 else '')
    if language == 'nl':
        dutch = ['%d %s aandacht:' % (count, 'DOV-clientcertificaat vraagt' if count == 1
                                      else 'DOV-clientcertificaten vragen'), '']
        dutch += _lines(found, True)
        dutch += ['', 'Vernieuw met playbooks/renew.yml. Een vernieuwing is een nieuw certificaat (een nieuwe CSR) '
                  'voor dezelfde toepassing in VO-DCBaaS (dcb.vlaanderen.be), sjabloon SSL Client.']
        if report_path:
            dutch.append('Het volledige rapport: %s' % report_path)
        body = dutch + ['', '-- English --', ''] + english
        subject = 'DOV-certificaten: %d %s aandacht / %s' % (count, 'vraagt' if count == 1 else 'vragen', subject)
    msg = EmailMessage(policy=SMTP)
    msg['From'] = Address(display_name='vlaanderen.dov', addr_spec=sender)
    msg['To'] = ', '.join(to_addrs)
    msg['Subject'] = subject
    msg['Content-Language'] = 'nl-BE, en' if language == 'nl' else 'en'
    msg.set_content('\n'.join(body) + '\n', charset='utf-8', cte='quoted-printable')
    return msg.as_bytes(policy=accessmail.FILE_POLICY)


def send_notification(server, records, sender, recipients, within_days=None, language='en', report_path=None,
                      check_mode=False, now=None):
    """Build the notification and send it with ``server`` (an ``accessmail.SmtpServer``: STARTTLS
    verified). Returns ``{'sent': bool, 'would_send': bool, 'listed': [CN, ...], 'message_id': ...}``;
    nothing is sent when all is well or in check mode. A failure raises DovError naming the server."""
    eml = notification_eml(records, sender, recipients, within_days, language, report_path)
    listed = [record['common_name'] for record, _en, _nl in needs_attention(records, within_days)]
    result = {'sent': False, 'would_send': eml is not None, 'listed': listed, 'message_id': None}
    if eml is None or check_mode:
        return result
    entry = server.send(eml, now=now, recipients=check_recipients(recipients), what='the certificate notification')
    result.update(sent=True, message_id=entry['message_id'], sent_at=entry['sent_at'])
    return result


def sender_of(smtp, organisation):
    """The notification's sender: ``dov_smtp.sender``, else the organisation's ``contact_email``
    (the address the access requests go out from); refused, by name, when neither is set."""
    sender = ((smtp or {}).get('sender') or '').strip() or ((organisation or {}).get('contact_email') or '').strip()
    if not sender:
        raise DovError("dov_smtp.sender is not set, and dov_organisation has no contact_email to send from. Set "
                       "dov_smtp.sender (for example 'dov-mailer@geolab.be') or dov_organisation.contact_email.")
    return accessmail.check_email(sender, 'dov_smtp.sender' if (smtp or {}).get('sender') else
                                  'dov_organisation contact_email (the notification sender)')


def smtp_server(smtp):
    """The ``accessmail.SmtpServer`` of the ``dov_smtp`` settings (STARTTLS verified unless turned off)."""
    if not (smtp or {}).get('host'):
        raise DovError("dov_notify_email is set but dov_smtp has no host. Set dov_smtp (host, port, sender, and a login "
                       "if the server needs one), or leave dov_notify_email empty.")
    return accessmail.SmtpServer(smtp.get('host'), smtp.get('port'), smtp.get('starttls', True), smtp.get('username'),
                                 smtp.get('password'), smtp.get('ca_bundle'))
