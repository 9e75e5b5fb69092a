# -*- coding: utf-8 -*-
"""Small helpers shared by the integration tests and their peers (tls_peers, sshd), and by unit
tests: a free port, a snapshot of a folder, an HTML page parser (report.html), and the SMTP
server of the mail tests (aiosmtpd) with its test CA. A plain module, not conftest, so that the
unit tests (which put this folder on sys.path, as for tls_peers) can import it too."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import os
import socket
import stat
from html.parser import HTMLParser


def free_port(address='127.0.0.1'):
    """A TCP port on ``address`` where nothing listens right now."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def write(path, data, mode=0o644):
    """Write a test's file (text or bytes) with ``mode``, making its folder; return its path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.chmod(path, mode)
    return path


def snapshot(folder):
    """Every file under ``folder`` with its bytes and mode, to prove that nothing changed."""
    found = {}
    for base, _dirs, files in os.walk(str(folder)):
        for name in files:
            path = os.path.join(base, name)
            with open(path, 'rb') as handle:
                found[path] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


class Page(HTMLParser):
    """What a browser would build: tags, attributes, the table rows' cells and all text."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.tags = []
        self.rows = []
        self.text = []
        self._cell = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == 'tr':
            self.rows.append([])
        if tag == 'td':
            self._cell = []

    def handle_endtag(self, tag):
        if tag == 'td' and self._cell is not None:
            self.rows[-1].append(''.join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


# --- the SMTP server of the mail tests (aiosmtpd); conftest's tls_smtp starts it with STARTTLS -----

PASSWORD = 'Wachtwoord-H3-zeer-geheim'


class Inbox(object):
    """What the SMTP server received: (MAIL FROM, RCPT TO, bytes) per mail, and the logins."""

    def __init__(self):
        self.mails = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return '250 OK'

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(login)
        return AuthResult(success=(login, password) == ('dov-mailer', PASSWORD), handled=False)


def start(inbox, **kwargs):
    from aiosmtpd.controller import Controller
    controller = Controller(inbox, hostname='127.0.0.1', port=free_port(), **kwargs)
    controller.start()
    return controller


def make_pki(folder):
    """A test CA and a server certificate for 127.0.0.1 that it signed: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'h3 test SMTP CA')])
    validity = dict(not_valid_before=now - datetime.timedelta(minutes=5), not_valid_after=now + datetime.timedelta(days=1))
    ca = (x509.CertificateBuilder(**validity).subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder(**validity)
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(str(folder))
    paths = [os.path.join(str(folder), name) for name in ('ca.pem', 'cert.pem', 'key.pem')]
    for path, data in zip(paths, [ca.public_bytes(serialization.Encoding.PEM),
                                  cert.public_bytes(serialization.Encoding.PEM),
                                  key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())]):
        with open(path, 'wb') as handle:
            handle.write(data)
    return paths
