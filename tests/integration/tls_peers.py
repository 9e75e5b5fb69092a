# -*- coding: utf-8 -*-
"""A private test PKI and real TLS peers (nginx, openssl s_server, tinyproxy) for the mTLS tests.

Nothing here is collection code: the peers are other people's tools, started in a tmp folder on
free 127.0.0.1 ports and stopped again, so mtls_check is checked against servers it never saw.

PKI (cryptography, generated once per session):
  server-ca.pem        private CA that issued the server certificate (not in any system store)
  server.pem/.key      the server, SAN DNS:localhost only (so https://127.0.0.1 is a wrong name)
  client-ca.pem        "Lab Issuing CA 2", the CA the servers accept client certificates from
  good.pem/.key        CN geolab.be/dov-services/oefen/Geodrill — allowed
  good-enc.key         the same key, encrypted with KEY_PASSPHRASE; good.p12 with P12_PASSWORD
  other.pem/.key       CN other.be/dov-services/oefen/NoRights — valid, but not on the allow-list
  rogue.pem/.key       same CN as good, issued by "Rogue Issuing CA" — unknown issuer
  expired.pem/.key     CN of good, from the client CA, expired a year ago
  serveronly.pem/.key  CN of good, from the client CA, EKU serverAuth only — wrong key usage
  critical.pem/.key    CN of good, from the client CA, with a critical extension no server knows
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import shutil
import socket
import subprocess
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support import free_port

GOOD_CN = 'geolab.be/dov-services/oefen/Geodrill'
UNKNOWN_CRITICAL_OID = '1.3.6.1.4.1.99999.20.4'
OTHER_CN = 'other.be/dov-services/oefen/NoRights'
KEY_PASSPHRASE = 'kp-Zr8vQ2-secret-passphrase'
P12_PASSWORD = 'p12-Xw4mT9-secret-password'
HEALTH_PATHS = ('dov-xdov-server/logs/chucknorris', 'dovinstrumentserver/chucknorris')
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
TINYPROXY = shutil.which('tinyproxy') or '/usr/bin/tinyproxy'
OPENSSL = shutil.which('openssl') or '/usr/bin/openssl'


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn, org='Lab'):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key():
    # EC keys: fast to make; the probe does not care about the key type.
    return ec.generate_private_key(ec.SECP256R1())


def _cert(subject, key, issuer_name, issuer_key, ca=False, eku=None, san=None, days=(-1, 365), extensions=()):
    now = _now()
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    else:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=True, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False),
            critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku or [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder, name, data, mode=0o600):
    path = os.path.join(folder, name)
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key, passphrase=None):
    algorithm = serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)


class PKI(object):
    """The test PKI in ``folder``; ``path(name)`` gives a file's path."""

    def __init__(self, folder):
        self.folder = str(folder)
        os.makedirs(self.folder, exist_ok=True)
        server_ca_key = _key()
        server_ca_name = _name('Lab Server Root CA')
        server_ca = _cert(server_ca_name, server_ca_key, server_ca_name, server_ca_key, ca=True)
        _write(self.folder, 'server-ca.pem', _pem(server_ca), 0o644)
        server_key = _key()
        server = _cert(_name('localhost'), server_key, server_ca_name, server_ca_key,
                       eku=[ExtendedKeyUsageOID.SERVER_AUTH], san=[x509.DNSName('localhost')])
        _write(self.folder, 'server.pem', _pem(server), 0o644)
        _write(self.folder, 'server.key', _key_pem(server_key))

        client_ca_key = _key()
        client_ca_name = _name('Lab Issuing CA 2', 'Vlaamse overheid (lab)')
        client_ca = _cert(client_ca_name, client_ca_key, client_ca_name, client_ca_key, ca=True)
        _write(self.folder, 'client-ca.pem', _pem(client_ca), 0o644)
        rogue_ca_key = _key()
        rogue_ca_name = _name('Rogue Issuing CA', 'Elsewhere')
        self.client_ca_dn = client_ca_name.rfc4514_string()
        self.rogue_ca_dn = rogue_ca_name.rfc4514_string()

        def client(name, cn, issuer_name=client_ca_name, issuer_key=client_ca_key, **kwargs):
            key = _key()
            cert = _cert(_name(cn, 'Geolab nv'), key, issuer_name, issuer_key, **kwargs)
            _write(self.folder, name + '.pem', _pem(cert), 0o644)
            _write(self.folder, name + '.key', _key_pem(key))
            return cert, key

        good, good_key = client('good', GOOD_CN)
        _write(self.folder, 'good-enc.key', _key_pem(good_key, KEY_PASSPHRASE))
        _write(self.folder, 'good.p12', pkcs12.serialize_key_and_certificates(
            b'good', good_key, good, None, serialization.BestAvailableEncryption(P12_PASSWORD.encode())))
        client('other', OTHER_CN)
        client('rogue', GOOD_CN, rogue_ca_name, rogue_ca_key)
        client('expired', GOOD_CN, days=(-800, -365))
        client('serveronly', GOOD_CN, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        client('critical', GOOD_CN, extensions=[
            (x509.UnrecognizedExtension(x509.ObjectIdentifier(UNKNOWN_CRITICAL_OID), b'\x05\x00'), True)])

    def path(self, name):
        return os.path.join(self.folder, name)

    def pem_args(self, name):
        return {'client_cert': self.path(name + '.pem'), 'client_key': self.path(name + '.key')}


# ---------------------------------------------------------------- peers

def wait_for_port(port, process=None, seconds=10, log=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError('peer exited with %s: %s' % (process.returncode, _tail(log)))
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError('nothing listens on 127.0.0.1:%d after %ss: %s' % (port, seconds, _tail(log)))


def _tail(path):
    if path and os.path.exists(path):
        with open(path) as handle:
            return handle.read()[-2000:]
    return ''


class Peer(object):
    """A started process on a port; stop() ends it (only it, by its own pid)."""

    def __init__(self, name, command, port, folder, log):
        self.name = name
        self.port = port
        self.folder = folder
        self.log = log
        self.handle = open(log, 'ab')
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=self.handle,
                                        stderr=subprocess.STDOUT, cwd=folder)
        wait_for_port(port, self.process, log=log)

    @property
    def base_url(self):
        return 'https://localhost:%d/' % self.port

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()


NGINX_CONF = r'''
worker_processes 1;
daemon off;
master_process on;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/tmp-body;
    proxy_temp_path {folder}/tmp-proxy;
    fastcgi_temp_path {folder}/tmp-fastcgi;
    uwsgi_temp_path {folder}/tmp-uwsgi;
    scgi_temp_path {folder}/tmp-scgi;
    # The CN allow-list: DOV grants rights per CN.
    map $ssl_client_s_dn $dov_allowed {{
        default 0;
        "~(^|,)CN={allowed_cn}(,|$)" 1;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {pki}/server.pem;
        ssl_certificate_key {pki}/server.key;
        ssl_protocols {protocols};
        ssl_client_certificate {pki}/client-ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        location = /dov-xdov-server/logs/chucknorris {{
            if ($dov_allowed = 0) {{ return 403 "CN has no rights\n"; }}
            default_type text/plain;
            return 200 "Chuck Norris can upload boreholes without XML.\n";
        }}
        location = /dovinstrumentserver/chucknorris {{
            if ($dov_allowed = 0) {{ return 403 "CN has no rights\n"; }}
            default_type text/plain;
            return 200 "Chuck Norris measures at infinite frequency.\n";
        }}
        location / {{ return 404; }}
    }}
}}
'''


def start_dov_nginx(folder, title, client_ca_pem, allowed_cn):
    """A DOV-like nginx on 127.0.0.1 for a test's own client CA (``client_ca_pem``): a server CA of
    its own (``title``), a server certificate for the IP 127.0.0.1; it asks for a client certificate
    and lets in the CNs that match ``allowed_cn``. Returns (the started Peer, its server CA file)."""
    import pki_factory
    from support import write
    files = os.path.join(str(folder), 'server-pki')
    server_ca = pki_factory.make_root(title)
    server_ca_bundle = write(os.path.join(files, 'server-ca.pem'), server_ca.pem)
    key = pki_factory.fresh_key()
    server = pki_factory.make_client(server_ca, key, common_name='127.0.0.1', eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
                                     san_ip='127.0.0.1')
    write(os.path.join(files, 'server.pem'), pki_factory.pem(server))
    write(os.path.join(files, 'server.key'), pki_factory.key_pem(key), 0o600)
    write(os.path.join(files, 'client-ca.pem'), client_ca_pem)
    return start_nginx(type('ServerFiles', (object,), {'folder': files})(), os.path.join(str(folder), 'nginx'),
                       allowed_cn=allowed_cn), server_ca_bundle


def start_nginx(pki, folder, protocols='TLSv1.2 TLSv1.3', allowed_cn=GOOD_CN):
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    conf = os.path.join(folder, 'nginx.conf')
    with open(conf, 'w') as handle:
        handle.write(NGINX_CONF.format(folder=folder, port=port, pki=pki.folder, protocols=protocols,
                                       allowed_cn=allowed_cn.replace('.', r'\.')))
    return Peer('nginx', [NGINX, '-p', folder, '-c', conf], port, folder, os.path.join(folder, 'error.log'))


def start_s_server(pki, folder, version, asks='handshake'):
    """openssl s_server on one TLS version. ``asks``: ``'handshake'`` demands a client certificate in
    the handshake (-Verify) and answers -www; ``'never'`` never asks (no -verify) and answers -www;
    ``'after_request'`` (TLS 1.3) asks once the request has arrived (s_server's post-handshake
    request, its ``c`` command) and answers only when the certificate verified (PostHandshakePeer)."""
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    command = [OPENSSL, 's_server', '-accept', '127.0.0.1:%d' % port, '-cert', pki.path('server.pem'),
               '-key', pki.path('server.key'), '-CAfile', pki.path('client-ca.pem'), '-' + version]
    log = os.path.join(folder, 's_server.log')
    if asks == 'after_request':
        return PostHandshakePeer(command + ['-verify_return_error', '-crlf'], port, folder, log)
    if asks == 'handshake':
        command += ['-Verify', '1', '-verify_return_error']
    return Peer('s_server', command + ['-www', '-quiet'], port, folder, log)


class PostHandshakePeer(Peer):
    """openssl s_server driven through its stdin as Apache does per location on TLS 1.3: once a
    request line arrives, ``c`` makes it send a CertificateRequest after the handshake; when it has
    read and verified the client's certificate (``Read BLOCK``: it waits for more) the HTTP answer
    goes out and ``q`` ends the connection; a refused certificate ends it (``CONNECTION CLOSED``)."""

    ANSWER = b'HTTP/1.0 200 OK\nContent-Type: text/plain\nContent-Length: 47\n\nChuck Norris can upload boreholes without XML.\n'

    def __init__(self, command, port, folder, log):
        self.name = 's_server'
        self.port = port
        self.folder = folder
        self.log = log
        self.handle = open(log, 'ab')
        self.asked = 0
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, cwd=folder)
        self.driver = threading.Thread(target=self._drive, daemon=True)
        self.driver.start()
        wait_for_port(port, self.process, log=log)

    def _drive(self):
        asked = False
        for line in self.process.stdout:
            try:
                self.handle.write(line)
                self.handle.flush()
                if line.startswith(b'GET '):
                    self.process.stdin.write(b'c\n')
                    self.process.stdin.flush()
                    asked = True
                    self.asked += 1
                elif asked and line.startswith(b'Read BLOCK'):
                    self.process.stdin.write(self.ANSWER + b'q\n')
                    self.process.stdin.flush()
                    asked = False
                elif line.startswith(b'CONNECTION CLOSED'):
                    asked = False
            except (OSError, ValueError):
                return      # s_server ended (stop() closed the log)


def start_tinyproxy(folder):
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    port = free_port()
    conf = os.path.join(folder, 'tinyproxy.conf')
    log = os.path.join(folder, 'tinyproxy.log')     # -d: tinyproxy logs to its stdout, captured here
    lines = ['Port %d' % port, 'Listen 127.0.0.1', 'Timeout 30', 'MaxClients 20', 'LogLevel Info', 'Allow 127.0.0.1']
    if os.geteuid() == 0:
        lines += ['User nobody', 'Group nogroup']
    # No ConnectPort line: CONNECT to any port is allowed (the test servers use high ports).
    with open(conf, 'w') as handle:
        handle.write('\n'.join(lines) + '\n')
    return Peer('tinyproxy', [TINYPROXY, '-d', '-c', conf], port, folder, log)
