# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local stand-in for the DOV services, for the lab demo: HTTPS with required client certificates.
The role dov_cert starts it (plugins/plugin_utils/_lab/labstandin.py) when dov_lab_standin is set.

Python standard library only (ssl + http.server). It answers like DOV's health endpoints:
200 with a short text on dov-xdov-server/logs/chucknorris and dovinstrumentserver/chucknorris
for the CNs it was told to allow (--allow, repeatable), 403 for any other CN with a valid
certificate, 404 elsewhere. A certificate that does not verify against --client-ca never gets
that far: the TLS handshake fails with an alert (unknown ca, certificate expired, ...).

Note: CPython's ssl does not send the list of acceptable client CA names, so a client sees an
empty list here (the real DOV servers and nginx do send one).

    python3 roles/dov_cert/files/dov_standin.py start --listen 127.0.0.1:8443 --cert server.pem --key server.key \\
        --client-ca lab-ca.pem --allow geolab.be/dov-services/oefen/Geodrill \\
        --pidfile /tmp/standin.pid --logfile /tmp/standin.log
    python3 roles/dov_cert/files/dov_standin.py stop --pidfile /tmp/standin.pid
    python3 roles/dov_cert/files/dov_standin.py run ...        # the same server in the foreground

``start`` double-forks, writes the pidfile, waits until the port answers and exits 0 (or 1 with
the log's tail when the server did not come up); a second ``start`` with a live pidfile exits 0.
``stop`` ends the process in the pidfile and is idempotent.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import datetime
import errno
import http.server
import os
import signal
import socket
import ssl
import sys
import threading
import time

HEALTH_PATHS = {
    '/dov-xdov-server/logs/chucknorris': 'DOV XML import service (lab stand-in): Chuck Norris approves of %s.\n',
    '/dovinstrumentserver/chucknorris': 'DOV measurements API (lab stand-in): Chuck Norris approves of %s.\n',
}
NAME = 'dov_standin'


def log(message):
    sys.stderr.write('%s %s\n' % (datetime.datetime.now().strftime('%Y-%m-%dT%H:%M:%S'), message))
    sys.stderr.flush()


def peer_cn(sock):
    cert = sock.getpeercert() or {}
    for rdn in cert.get('subject', ()):
        for key, value in rdn:
            if key == 'commonName':
                return value
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = 'DOV-standin/1.0'
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        common_name = peer_cn(self.connection)
        path = self.path.split('?', 1)[0]
        if path not in HEALTH_PATHS:
            self.answer(404, 'Not found: %s\n' % path)
        elif common_name not in self.server.allowed:
            self.answer(403, 'Forbidden: the CN %s has no rights on this service.\n' % common_name)
        else:
            self.answer(200, HEALTH_PATHS[path] % common_name)

    def answer(self, status, text):
        body = text.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format, *args):     # pylint: disable=redefined-builtin
        log('%s cn=%r %s' % (self.client_address[0], peer_cn(self.connection), format % args))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, context, allowed):
        self.context = context
        self.allowed = frozenset(allowed)
        http.server.ThreadingHTTPServer.__init__(self, address, Handler)

    def get_request(self):
        # The handshake happens in the handler's thread, so a slow client cannot block the others.
        raw, address = self.socket.accept()
        raw.settimeout(15)
        return self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError) as error:
            log('%s handshake refused: %s' % (client_address[0], error))
            return
        http.server.ThreadingHTTPServer.finish_request(self, request, client_address)

    def handle_error(self, request, client_address):
        log('%s error: %s' % (client_address[0], sys.exc_info()[1]))


def parse_listen(value):
    host, _sep, port = value.rpartition(':')
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError('--listen takes HOST:PORT, for example 127.0.0.1:8443, not %r' % value)
    return host.strip('[]'), int(port)


def make_context(cert, key, client_ca):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def serve(options):
    context = make_context(options.cert, options.key, options.client_ca)
    server = Server(options.listen, context, options.allow)

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log('listening on https://%s:%d/, allowed CNs: %s' % (options.listen[0], options.listen[1], ', '.join(options.allow) or 'none'))
    try:
        server.serve_forever(poll_interval=0.05)   # a stop is noticed at once, not after 0.5 s
    finally:
        server.server_close()
        if options.pidfile and read_pid(options.pidfile) == os.getpid():
            os.unlink(options.pidfile)
        log('stopped')


def read_pid(pidfile):
    try:
        with open(pidfile) as handle:
            return int(handle.read().strip())
    except (IOError, OSError, ValueError):
        return None


def is_ours(pid):
    """Whether ``pid`` is alive and is this stand-in (not a reused pid of something else)."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        if error.errno != errno.EPERM:
            return False
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return NAME.encode() in handle.read()
    except (IOError, OSError):
        return True     # no /proc: trust the pidfile


def port_answers(host, port):
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start(options):
    if not options.pidfile:
        sys.exit('start needs --pidfile, so that stop can find the server.')
    pid = read_pid(options.pidfile)
    if pid and is_ours(pid):
        print('%s already runs (pid %d) on %s:%d' % (NAME, pid, options.listen[0], options.listen[1]))
        return 0
    make_context(options.cert, options.key, options.client_ca)     # fail here, visibly, on bad files
    logfile = options.logfile or os.devnull
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)             # pylint: disable=protected-access
        with open(os.devnull, 'rb') as devnull:
            os.dup2(devnull.fileno(), 0)
        with open(logfile, 'ab') as out:
            os.dup2(out.fileno(), 1)
            os.dup2(out.fileno(), 2)
        with open(options.pidfile, 'w') as handle:
            handle.write('%d\n' % os.getpid())
        code = 0
        try:
            serve(options)
        except Exception as error:  # pylint: disable=broad-except
            log('cannot serve: %s' % error)
            code = 1
        os._exit(code)              # pylint: disable=protected-access
    os.waitpid(child, 0)
    deadline = time.monotonic() + options.wait
    while time.monotonic() < deadline:
        pid = read_pid(options.pidfile)
        if pid and port_answers(*options.listen):
            print('%s started (pid %d) on https://%s:%d/' % (NAME, pid, options.listen[0], options.listen[1]))
            return 0
        if pid and not is_ours(pid):
            break
        time.sleep(0.05)
    tail = ''
    if options.logfile and os.path.exists(options.logfile):
        with open(options.logfile) as handle:
            tail = handle.read()[-1500:]
    sys.stderr.write('%s did not come up on %s:%d within %ss.\n%s' % (NAME, options.listen[0], options.listen[1], options.wait, tail))
    return 1


def stop(options):
    pid = read_pid(options.pidfile)
    if not pid or not is_ours(pid):
        if os.path.exists(options.pidfile):
            os.unlink(options.pidfile)
        print('%s is not running' % NAME)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and is_ours(pid):
        time.sleep(0.05)
    if is_ours(pid):
        os.kill(pid, signal.SIGKILL)
    if os.path.exists(options.pidfile):
        os.unlink(options.pidfile)
    print('%s stopped (pid %d)' % (NAME, pid))
    return 0


def arguments(argv):
    parser = argparse.ArgumentParser(prog='dov_standin.py', description='Local stand-in for the DOV services (lab only).')
    commands = parser.add_subparsers(dest='command')
    commands.required = True
    for name in ('run', 'start'):
        sub = commands.add_parser(name, help='serve in the foreground' if name == 'run' else 'serve in the background')
        sub.add_argument('--listen', type=parse_listen, required=True, help='HOST:PORT, for example 127.0.0.1:8443')
        sub.add_argument('--cert', required=True, help='server certificate (PEM, with its chain)')
        sub.add_argument('--key', required=True, help='server key (PEM)')
        sub.add_argument('--client-ca', required=True, help='CA bundle (PEM) that client certificates must verify against')
        sub.add_argument('--allow', action='append', default=[], metavar='CN', help='a CN that has rights (repeatable)')
        sub.add_argument('--pidfile', help='where the pid is written')
        sub.add_argument('--logfile', help='where requests and refusals are logged')
        sub.add_argument('--wait', type=float, default=10, help='start: seconds to wait for the port (default 10)')
    sub = commands.add_parser('stop', help='stop the server in --pidfile (idempotent)')
    sub.add_argument('--pidfile', required=True)
    return parser.parse_args(argv)


def main(argv=None):
    options = arguments(sys.argv[1:] if argv is None else argv)
    if options.command == 'stop':
        return stop(options)
    if options.command == 'start':
        return start(options)
    if options.pidfile:
        with open(options.pidfile, 'w') as handle:
            handle.write('%d\n' % os.getpid())
    if options.logfile:
        sys.stderr = open(options.logfile, 'a')     # pylint: disable=consider-using-with
    serve(options)
    return 0


if __name__ == '__main__':
    sys.exit(main())
