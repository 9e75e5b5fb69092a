# -*- coding: utf-8 -*-
"""What one host_certificates execution loads: Ansible ships module_utils as source, so each
execution compiles what it imports. The phases that run on every host at every run (prepare,
install) do not load what only state: absent, the report, settle, the metrics file or a proxy
needs. Checked in a fresh interpreter, as a host starts one."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys

PROBE = r'''
import json, sys
from ansible_collections.vlaanderen.dov.plugins.modules import host_certificates  # noqa: F401
from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlswire
proxy = tlswire.proxy_for('services.dov.vlaanderen.be', 443)
prefix = 'ansible_collections.vlaanderen.dov.plugins.module_utils.'
print(json.dumps({'proxy': proxy, 'urllib_request': 'urllib.request' in sys.modules,
                  'utils': sorted(name.rsplit('.', 1)[-1] for name in sys.modules if name.startswith(prefix))}))
'''


def probe(**env):
    clean = dict((key, value) for key, value in os.environ.items() if not key.lower().endswith('_proxy'))
    clean.update(env, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    out = subprocess.run([sys.executable, '-c', PROBE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean,
                         check=True)
    return json.loads(out.stdout.decode('utf-8'))


def test_the_module_loads_only_what_every_phase_needs():
    seen = probe()
    assert seen['proxy'] is None
    assert seen['urllib_request'] is False
    for only_some_phases in ('hostabsent', 'retire', 'retirefs', 'hostreport', 'metrics'):
        assert only_some_phases not in seen['utils']
    assert 'hostcerts' in seen['utils']      # the probe really imported the module's own tree


def test_a_proxy_in_any_letter_case_still_loads_urllib_request():
    seen = probe(HttpS_Proxy='http://proxy.example:3128')
    assert seen['proxy'] == 'http://proxy.example:3128'
    assert seen['urllib_request'] is True
