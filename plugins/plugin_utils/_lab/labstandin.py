# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The lab DOV stand-in (``dov_lab_standin``), started for a run and stopped at its end.

The stand-in is the role's file ``files/dov_standin.py`` (``SCRIPT``, found in the role's folder
that the action passes in). ``for_plan`` is the plan step's part, after the plan: it prepares the
stand-in (``prepare``: the lab CA, the stand-in's server certificate, the settings the checks
need) and starts it at once when a check is likely (``check_likely``: a pair that was not
verified last run, or verify.yml); otherwise the issue step starts it only when a host needs a
check after all (``start_for``), so a re-run with nothing to check starts no stand-in. ``start``
starts it in the background, ``wait`` waits for its port, ``stop`` stops it in-process. The
report step stops it, or the role's release step (in its always) when the run stopped before the
report.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issuers
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

SCRIPT = os.path.join('files', 'dov_standin.py')     # in the role's folder (role_path)
FOLDER = 'lab-standin'
# Pair states after which a re-run usually checks nothing (the stand-in is not started early).
QUIET_STATES = ('verified', 'retired', 'waiting_for_cn', 'waiting_for_certificate', 'renewal_pending')


def pidfile(state_dir):
    return os.path.join(state_dir, FOLDER, 'standin.pid')


def stop(lab):
    """Stop the stand-in of ``prepare``'s settings ``lab`` when its pidfile exists (the script's own
    ``stop``, without starting a Python)."""
    path = (lab or {}).get('pidfile')
    if not path or not os.path.exists(path):
        return
    spec = importlib.util.spec_from_file_location('dov_standin', lab['script'])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with open(os.devnull, 'w') as quiet, contextlib.redirect_stdout(quiet):
        module.stop(argparse.Namespace(pidfile=path))


def check_likely(mode, pairs, previous):
    """Whether the run will likely check a pair: verify.yml, or one of ``pairs`` that is new or was
    neither verified nor waiting last run (``previous``: status.json's pairs)."""
    return mode == 'verify' or any((previous.get(key) or {}).get('state') not in QUIET_STATES for key in pairs)


def for_plan(inventory, state_dir, options, check_mode, pairs, previous, role_path):
    """The plan step's stand-in, after the plan: {} unless ``options['lab']['standin']`` (never for
    report.yml; in check mode only when the lab CA exists), else ``prepare``'s settings for the
    CNs of the inventory (but the denied applications'); started now, while the hosts prepare,
    when a check is likely; verify.yml (no issue step) waits for it here. When it cannot start,
    it is stopped before the error goes on."""
    standin, mode = options.get('lab') or {}, options['mode']
    if mode == 'status' or not standin.get('standin') or (check_mode and not os.path.isdir(issuers.lab_ca_folder(state_dir))):
        return {}
    allowed = [pair.common_name for pair in inventory.pairs.values()
               if pair.common_name and pair.application not in (standin.get('deny') or [])]
    lab = prepare(state_dir, int(standin.get('port') or 18443), allowed, os.path.join(role_path, SCRIPT))
    try:
        if check_likely(mode, pairs, previous):
            start(lab)
        if mode == 'verify':
            wait(lab)
    except Exception:
        stop(lab)       # the caller never gets these settings: stop what was started here
        raise
    return lab


def prepare(state_dir, port, common_names, script):
    """The stand-in's settings for the checks (URLs, server CA bundle, pidfile) and for ``start``
    (``script``: the stand-in's path), with the lab CA and the stand-in's server certificate made
    when missing; nothing is started yet (``start``)."""
    folder = os.path.join(state_dir, FOLDER)
    ca_folder = issuers.lab_ca_folder(state_dir)
    bundle_path = os.path.join(ca_folder, labca.FILES['bundle'])
    cert_path, key_path = os.path.join(folder, 'server.pem'), os.path.join(folder, 'server-key.pem')
    if not os.path.exists(cert_path) or not os.path.exists(bundle_path):
        ca = labca.LabCA.load_or_create(ca_folder)
        key_pem, cert_pem = ca.issue_server_certificate(['localhost', '127.0.0.1'])
        fsutil.ensure_dir(folder, 0o700)
        fsutil.atomic_write(key_path, key_pem, mode=0o600)
        fsutil.atomic_write(cert_path, cert_pem, mode=0o644)
    url = 'https://127.0.0.1:%d/' % port
    return {'endpoints': {'productie': url, 'oefen': url, 'ontwikkel': url}, 'server_ca_bundle': bundle_path,
            'pidfile': pidfile(state_dir), 'port': port, 'logfile': os.path.join(folder, 'standin.log'),
            'cert': cert_path, 'key': key_path, 'allow': sorted(common_names), 'script': script, 'started': False}


def start(lab):
    """Start the stand-in of ``prepare``'s settings ``lab`` in the background (``wait`` waits for
    its port); ``lab['started']`` says it was. A stand-in left by an interrupted run may allow
    other CNs: it is stopped first."""
    command = [sys.executable, lab['script'], 'run', '--listen', '127.0.0.1:%d' % lab['port'], '--cert', lab['cert'],
               '--key', lab['key'], '--client-ca', lab['server_ca_bundle'], '--pidfile', lab['pidfile'],
               '--logfile', lab['logfile']]
    for name in lab['allow']:
        command += ['--allow', name]
    stop(lab)
    try:
        socket.create_connection(('127.0.0.1', lab['port']), timeout=0.5).close()
    except OSError:
        pass
    else:
        raise DovError("Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in cannot "
                       "listen there. Set dov_lab_standin_port to a free port." % lab['port'])
    with open(os.devnull, 'rb') as devnull, open(lab['logfile'], 'ab') as log:
        process = subprocess.Popen(command, stdin=devnull, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                                   start_new_session=True, close_fds=True)
    # The stand-in writes its pidfile too, once it runs; written here as well, ``stop`` finds it even
    # when the run ends before that (a release right after the plan step).
    fsutil.atomic_write(lab['pidfile'], b'%d\n' % process.pid, mode=0o644)
    lab['started'] = True
    return lab


def start_for(lab, hosts_with_checks):
    """The issue step: start the stand-in the plan step left stopped (every pair was verified last
    run) once a host turns out to need a check after all; then wait for it."""
    if lab.get('port') and not lab.get('started') and hosts_with_checks:
        start(lab)
    if lab.get('started'):
        wait(lab)
    return lab


def wait(lab, timeout=15):
    """Wait until the stand-in answers on its port; a clear error with its log when it does not."""
    if not lab.get('port'):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', lab['port']), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    tail = ''
    if os.path.exists(lab['logfile']):
        with open(lab['logfile']) as handle:
            tail = handle.read()[-800:]
    raise DovError("The lab DOV stand-in did not come up on 127.0.0.1:%d. Check that the port is free "
                   "(dov_lab_standin_port). Its log:\n%s" % (lab['port'], tail))
