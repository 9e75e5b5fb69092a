# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Step 1 of the DOV procedure: the access request mail to the DOV meldpunt, sent once.

``AccessRequest`` validates what step 1 asks for and renders the mail: Dutch, plain text,
UTF-8, RFC 5322, with one line per certificate (organisation / dov-services / environment /
application). Its ``eml`` bytes depend on the input only, so the same request always gives
the same file:

- The file is a *draft*: it carries ``X-Unsent: 1`` (Outlook then opens it ready to send) and
  no ``Date`` or ``Message-ID``. Both belong to the moment a message is sent (RFC 5322 calls
  ``Date`` the moment the message is ready to enter the mail system), so the sender stamps
  them: ``SmtpServer.send`` adds the current date and a fresh Message-ID to the copy it sends,
  as a mail client does for a draft sent by hand. A Message-ID derived from the content would
  be stable, but a forced second send would then carry the same Message-ID as the first, and
  mail systems drop such a message as a duplicate.
- The send record ``<dest>.sent.json`` (``sendrecord.py``) lists every send of the file; a
  request whose SHA-256 is in the record was sent already, and ``sendrecord.send_once`` does not
  send it again unless forced.

Everything here is plain Python, usable from a module or from a controller-side action plugin.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import re
import smtplib
import ssl
import textwrap
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import orgid, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.cn import MELDPUNT, REQUESTABLE_ENVIRONMENTS, SERVICE
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

WIDTH = 72
# Headers are written unfolded (RFC 5322 allows 998 characters a line): CPython's folder puts a
# space on both sides of a fold before an encoded word, so a folded non-ASCII subject would read
# back with a double space. The body is encoded with SMTP's 78 (quoted-printable lines <= 76).
FILE_POLICY = SMTP.clone(max_line_length=998)

_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
_CONTROL_IN_TEXT = re.compile(r'[\x00-\x08\x0b-\x1f\x7f]')  # tab and newline are fine in text
_EMAIL = re.compile(
    r'^[A-Za-z0-9!#$%&\'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$')


def _wrap(text, width=WIDTH, **kwargs):
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False, **kwargs)


def _line(value, what, example):
    """A one-line text option, stripped; refused when empty or holding a line break."""
    text = '' if value is None else str(value).strip()
    if not text:
        raise DovError("The %s is empty. Give it, for example %s." % (what, example))
    if _CONTROL.search(text):
        raise DovError(
            "The %s %r contains a line break or another control character. Give it on one line, "
            "for example %s." % (what, text, example))
    return text


def check_email(value, what='contact_email'):
    """``value`` stripped if it is a plausible mail address, else DovError."""
    text = '' if value is None else str(value).strip()
    if not _EMAIL.match(text):
        raise DovError(
            "The %s %r is not a plausible mail address. Give an address like 'it@geolab.be'."
            % (what, text))
    return text


def check_application(value):
    text = _line(value, 'application name', "'Geodrill'")
    if '/' in text:
        raise DovError(
            "The application name %r contains a '/'. DOV puts the name in the certificate's CN, "
            "whose parts are separated by '/': give the name without it, for example 'Geodrill'."
            % text)
    return text


def check_description(value):
    text = '' if value is None else str(value).replace('\r\n', '\n').strip()
    if not text:
        raise DovError(
            "The description is empty. Say in a sentence or two what the application will do "
            "with the DOV services, for example 'Laadt boorgegevens op als XML'.")
    if _CONTROL_IN_TEXT.search(text):
        raise DovError(
            "The description contains a control character other than a line break or tab. "
            "Give plain text.")
    return text


def check_environments(values):
    """The requested environments in DOV's order (productie first), each once."""
    if isinstance(values, str):
        values = [values]
    values = list(values or [])
    if not values:
        raise DovError(
            "No environment is requested. Ask for productie, oefen, or both (oefen is the test "
            "environment).")
    for value in values:
        if value not in REQUESTABLE_ENVIRONMENTS:
            raise DovError(
                "Unknown environment %r for the access request. An organisation can ask for "
                "productie and oefen only (ontwikkel is DOV's own)." % (value,))
    return [env for env in REQUESTABLE_ENVIRONMENTS if env in values]


class AccessRequest(object):
    """A validated access request. Raises DovError on the first thing that is wrong.

    ``organisation_id`` is normalised (``0403.170.701``, ``OVO002949``); ``eml`` is the
    message file's bytes and ``sha256`` their hash.
    """

    def __init__(self, organisation, organisation_id_type, organisation_id, application,
                 description, contact_email, environments=('productie',), contact_name=None,
                 sender=None):
        self.organisation = _line(organisation, 'organisation (legal name)', "'Geolab nv'")
        if organisation_id_type not in orgid.ID_TYPES:
            raise DovError(
                "Unknown organisation_id_type %r. Use kbo (economic actors), ovo (organisations "
                "in the Organisatieregister) or vo_code (Flemish government entities)."
                % (organisation_id_type,))
        self.organisation_id_type = organisation_id_type
        self.organisation_id = orgid.normalise(organisation_id_type, organisation_id)
        self.application = check_application(application)
        self.description = check_description(description)
        self.environments = check_environments(environments)
        self.contact_email = check_email(contact_email, 'contact_email')
        self.contact_name = None
        if contact_name is not None and str(contact_name).strip():
            self.contact_name = _line(contact_name, 'contact_name', "'Jan Peeters'")
        self.sender = check_email(sender, 'sender') if sender else None

    @property
    def certificates(self):
        """One (organisation, dov-services, environment, application) per certificate."""
        return [(self.organisation, SERVICE, env, self.application) for env in self.environments]

    @property
    def subject(self):
        return 'Aanvraag toegang DOV-webservices: toepassing %s van %s' % (self.application, self.organisation)

    @property
    def body(self):
        """The text of the mail (Dutch), lines of at most 72 characters where the input allows."""
        label = orgid.LABELS[self.organisation_id_type]
        count = len(self.environments)
        lines = [
            'Beste meldpunt DOV,',
            '',
        ]
        lines += _wrap(
            'Wij vragen toegang tot de beveiligde webservices van DOV (Databank Ondergrond '
            'Vlaanderen) voor een toepassing van onze organisatie.', WIDTH)
        lines += [
            '',
            'Organisatie:   %s' % self.organisation,
            'Identificatie: %s (%s)' % (self.organisation_id, label),
            'Toepassing:    %s' % self.application,
            'Omgevingen:    %s' % ', '.join(
                '%s (testomgeving)' % env if env == 'oefen' else env for env in self.environments),
            '',
            'Wat de toepassing zal doen:',
        ]
        for paragraph in self.description.split('\n'):
            wrapped = _wrap(paragraph, initial_indent='  ', subsequent_indent='  ')
            lines += wrapped or ['']
        lines += ['']
        lines += _wrap(
            'Wij vragen één certificaat per combinatie organisatie / dov-services / omgeving / '
            'toepassing, dus %s:' % ('1 certificaat' if count == 1 else '%d certificaten' % count), WIDTH)
        for number, parts in enumerate(self.certificates, 1):
            lines.append('  %d. %s' % (number, ' / '.join(parts)))
        lines += ['']
        lines += _wrap(
            'Het organisatiedeel van de Common Name (CN) kiest DOV. Wilt u ons per certificaat de '
            'CN terugsturen die wij in de certificaataanvraag (CSR) moeten gebruiken, en die CN de '
            'nodige rechten geven op de DOV-toepassingen?', WIDTH)
        contact = self.contact_email
        if self.contact_name:
            contact = '%s <%s>' % (self.contact_name, self.contact_email)
        lines += [
            '',
            'Contactpersoon: %s' % contact,
            '',
            'Met vriendelijke groeten,',
            '',
        ]
        if self.contact_name:
            lines.append(self.contact_name)
        lines.append(self.organisation)
        return '\n'.join(lines) + '\n'

    def message(self):
        """The request as an EmailMessage (a draft: no Date, no Message-ID)."""
        msg = EmailMessage(policy=SMTP)
        contact = Address(display_name=self.contact_name or '', addr_spec=self.contact_email)
        if self.sender and self.sender.lower() != self.contact_email.lower():
            msg['From'] = Address(addr_spec=self.sender)
            msg['Reply-To'] = contact
        else:
            msg['From'] = contact
        msg['To'] = Address(display_name='Meldpunt DOV', addr_spec=MELDPUNT)
        msg['Subject'] = self.subject
        msg['Content-Language'] = 'nl-BE'
        msg['X-Unsent'] = '1'
        msg.set_content(self.body, charset='utf-8', cte='quoted-printable')
        return msg

    @property
    def eml(self):
        """The bytes of the ``.eml`` file: CRLF line ends, the same for the same input."""
        return self.message().as_bytes(policy=FILE_POLICY)

    @property
    def sha256(self):
        return hashlib.sha256(self.eml).hexdigest()


# --- sending --------------------------------------------------------------------------------

def outgoing_message(eml, now=None):
    """The message as it goes out: the draft with Date and a fresh Message-ID, without X-Unsent."""
    msg = BytesParser(policy=FILE_POLICY).parsebytes(eml)
    del msg['X-Unsent']
    del msg['Date']
    del msg['Message-ID']
    now = now or validity.utcnow_seconds()
    domain = msg['From'].addresses[0].domain or 'localhost'
    msg['Date'] = format_datetime(now)
    msg['Message-ID'] = make_msgid(domain=domain)
    return msg


class SmtpServer(object):
    """Where and how to send: validated on creation, used by ``send``.

    ``starttls`` (default) upgrades the connection with certificate and host-name verification
    (``ssl.create_default_context``, the system's CAs, or ``ca_bundle``); a server that does not
    offer STARTTLS is refused, never fallen back from. A login needs STARTTLS.
    """

    def __init__(self, host, port=None, starttls=True, username=None, password=None,
                 ca_bundle=None, timeout=30):
        self.host = _line(host, 'smtp_host', "'smtp.geolab.be'")
        self.starttls = bool(starttls)
        self.port = int(port) if port else (587 if self.starttls else 25)
        if not 0 < self.port < 65536:
            raise DovError("The smtp_port %d is not a TCP port. Use 587 (STARTTLS) or 25." % self.port)
        self.username = username or None
        self.password = password
        if self.username and not self.starttls:
            raise DovError(
                "A login (smtp_username) over a connection without STARTTLS would send the "
                "password unencrypted to %s. Keep smtp_starttls: true, or drop the login for a relay "
                "that does not need one." % self.where)
        if ca_bundle and not os.path.isfile(ca_bundle):
            raise DovError(
                "The CA bundle %s does not exist. Give the PEM file with the CA that signed the SMTP "
                "server's certificate, or leave smtp_ca_bundle out to use the system's CAs." % ca_bundle)
        if ca_bundle and not self.starttls:
            raise DovError(
                "smtp_ca_bundle is given but smtp_starttls is false, so no certificate is checked. "
                "Set smtp_starttls: true or leave smtp_ca_bundle out.")
        self.ca_bundle = ca_bundle or None
        self.timeout = timeout

    @property
    def where(self):
        return '%s:%d' % (self.host, self.port)

    def _context(self):
        try:
            return ssl.create_default_context(cafile=self.ca_bundle)
        except (IOError, OSError, ssl.SSLError) as exc:
            raise DovError(
                "Cannot load the CA bundle %s: %s. Give a PEM file with CA certificates."
                % (self.ca_bundle, exc))

    def send(self, eml, now=None, recipients=None, what='the access request'):
        """Send ``eml`` to the meldpunt (or to ``recipients``, a list of addresses); return the entry
        for the send record. ``what`` names the message in errors.

        Raises DovError naming the server and the reason when anything fails.
        """
        msg = outgoing_message(eml, now)
        moment = now or validity.utcnow_seconds()
        context = self._context() if self.starttls else None
        to_addrs = list(recipients) if recipients else [MELDPUNT]
        failed = "Sending %s to %s via the SMTP server %s failed" % (what, ', '.join(to_addrs), self.where)
        advice = "Nothing was recorded as sent."
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise DovError("%s: cannot connect (%s). Check smtp_host and smtp_port. %s" % (failed, exc, advice))
        try:
            smtp.ehlo()
            if self.starttls:
                if not smtp.has_extn('starttls'):
                    raise DovError(
                        "%s: the server does not offer STARTTLS. Use a server that does, or set "
                        "smtp_starttls: false for a relay on a trusted network. %s" % (failed, advice))
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or '')
            smtp.send_message(msg, to_addrs=to_addrs)
        except DovError:
            raise
        except ssl.SSLCertVerificationError as exc:
            raise DovError(
                "%s: the server's TLS certificate is not trusted (%s). Give the CA that signed it in "
                "smtp_ca_bundle, or fix the server's certificate. %s"
                % (failed, getattr(exc, 'verify_message', None) or exc, advice))
        except smtplib.SMTPAuthenticationError as exc:
            raise DovError(
                "%s: the server refused the login of %r (%s %s). Check smtp_username and "
                "smtp_password. %s" % (failed, self.username, exc.smtp_code, _text(exc.smtp_error), advice))
        except smtplib.SMTPRecipientsRefused as exc:
            reasons = '; '.join('%s %s' % (code, _text(text)) for code, text in exc.recipients.values())
            raise DovError("%s: the server refused the recipient (%s). %s" % (failed, reasons, advice))
        except smtplib.SMTPResponseException as exc:
            raise DovError("%s: the server answered %s %s. %s" % (failed, exc.smtp_code, _text(exc.smtp_error), advice))
        except (OSError, smtplib.SMTPException) as exc:
            raise DovError("%s: %s. %s" % (failed, exc or exc.__class__.__name__, advice))
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
        return {
            'sha256': hashlib.sha256(eml).hexdigest(),
            'sent_at': validity.iso(moment),
            'message_id': msg['Message-ID'],
            'to': ', '.join(to_addrs),
            'smtp_server': self.where,
        }


def _text(value):
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)
