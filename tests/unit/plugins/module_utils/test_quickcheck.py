# -*- coding: utf-8 -*-
"""quickcheck: the fast 'ok' path of the role's mTLS check, against a real local TLS server."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import http.server
import socket
import ssl
import threading

import pytest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.vlaanderen.dov.plugins.module_utils import quickcheck
from ansible_collections.vlaanderen.dov.plugins.module_utils.labca import LabCA

CN = 'geolab.be/dov-services/oefen/Geodrill'
PATH = '/dov-xdov-server/logs/chucknorris'


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        status = 200 if self.path == PATH else 403
        body = b'chuck says ok' if status == 200 else b'forbidden'
        self.send_response(status)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp('quick')
    ca = LabCA.load_or_create(str(folder / 'ca'))
    key_pem, cert_pem = ca.issue_server_certificate(['localhost', '127.0.0.1'])
    (folder / 'server.pem').write_bytes(cert_pem + ca.issuing_pem())
    (folder / 'server-key.pem').write_bytes(key_pem)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CN)])).sign(key, hashes.SHA256())
    (folder / 'cert.pem').write_bytes(ca.sign_csr(csr.public_bytes(serialization.Encoding.PEM)))
    (folder / 'key.pem').write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (folder / 'bundle.pem').write_bytes(ca.bundle_pem())
    return folder


@pytest.fixture(scope='module')
def server(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki / 'server.pem'), str(pki / 'server-key.pem'))
    context.load_verify_locations(str(pki / 'bundle.pem'))
    context.verify_mode = ssl.CERT_REQUIRED
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def check(pki, url, **kwargs):
    options = dict(ca_bundle=str(pki / 'bundle.pem'), timeout=5, environ={})
    options.update(kwargs)
    return quickcheck.quick_check(url, str(pki / 'cert.pem'), str(pki / 'key.pem'), **options)


def test_an_accepted_certificate_gives_ok_with_what_was_seen(pki, server):
    result = check(pki, 'https://127.0.0.1:%d%s' % (server, PATH))
    assert result['verdict'] == 'ok' and result['http_status'] == 200
    assert result['tls_version'] in ('TLSv1.2', 'TLSv1.3') and result['cipher']
    assert result['response_excerpt'] == 'chuck says ok'
    assert 'LAB' in result['server_certificate']['issuer'] and result['server_certificate']['days_left'] > 0


def test_anything_but_an_expected_status_is_left_to_the_full_probe(pki, server):
    assert check(pki, 'https://127.0.0.1:%d/other' % server) is None


def test_a_server_not_signed_by_the_ca_bundle_is_never_trusted(pki, server, tmp_path):
    other = LabCA.load_or_create(str(tmp_path / 'other'))
    (tmp_path / 'other.pem').write_bytes(other.bundle_pem())
    assert check(pki, 'https://127.0.0.1:%d%s' % (server, PATH), ca_bundle=str(tmp_path / 'other.pem')) is None
    # and without a bundle the system store does not know the lab CA either
    assert check(pki, 'https://127.0.0.1:%d%s' % (server, PATH), ca_bundle=None) is None


def test_a_host_name_that_the_server_certificate_does_not_name_is_refused(pki, server):
    # 127.0.0.2 reaches the same server (loopback) but is not in its certificate.
    assert check(pki, 'https://127.0.0.2:%d%s' % (server, PATH)) is None


def test_proxies_and_odd_urls_go_to_the_full_probe(pki, server):
    url = 'https://127.0.0.1:%d%s' % (server, PATH)
    assert check(pki, url, proxy='http://proxy:3128') is None
    assert check(pki, url, environ={'HTTPS_PROXY': 'http://proxy:3128'}) is None
    assert check(pki, 'http://127.0.0.1:%d%s' % (server, PATH)) is None


def test_a_closed_port_is_left_to_the_full_probe(pki):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    assert check(pki, 'https://127.0.0.1:%d%s' % (port, PATH)) is None
