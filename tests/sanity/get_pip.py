# -*- coding: utf-8 -*-
"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test creates its sanity virtualenvs without pip and downloads get-pip.py from
ci-files.testing.ansible.com to put pip in them. That host is not reachable from our CI, while
the Python package index is. This script does the same job with the pip wheel that Python ships
(ensurepip), then installs the packages ansible-test asked for from the configured index.
`make sanity` copies it to <sanity home>/.ansible/test/cache/get_pip_<version>.py, where ansible-test
looks (make sanity runs ansible-test with a HOME of its own, beside the collection tree).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ensurepip
import os
import subprocess
import sys

SKIP = ('--no-setuptools', '--no-wheel')
SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


def main():
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in sys.argv[1:] if arg not in SKIP]
    env = dict(os.environ)
    # Where the index is reached through a proxy with its own CA, the system trust store knows it.
    if 'PIP_CERT' not in env and os.path.exists(SYSTEM_CA_BUNDLE):
        env['PIP_CERT'] = SYSTEM_CA_BUNDLE
    sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args, env=env))


if __name__ == '__main__':
    main()
