# -*- coding: utf-8 -*-
"""Small helpers shared by the integration tests and their peers (tls_peers, sshd). A plain
module, not conftest, so that the unit tests that borrow tls_peers can import it too."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import stat


def free_port(address='127.0.0.1'):
    """A TCP port on ``address`` where nothing listens right now."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def snapshot(folder):
    """Every file under ``folder`` with its bytes and mode, to prove that nothing changed."""
    found = {}
    for base, _dirs, files in os.walk(str(folder)):
        for name in files:
            path = os.path.join(base, name)
            with open(path, 'rb') as handle:
                found[path] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found
