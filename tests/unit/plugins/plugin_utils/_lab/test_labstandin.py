# -*- coding: utf-8 -*-
"""labstandin: prepare makes the lab CA and the stand-in's server certificate once; start, wait
and stop a real stand-in (lab/dov_standin.py) on a free port of 127.0.0.1; the refusals (port in
use, a stand-in that does not come up) with their messages. Every stand-in a test started is
killed by its process group at teardown, also when the test failed."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import shutil
import signal
import socket
import ssl
import stat

import pytest
from cryptography import x509

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca, labstandin
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

CN = 'geolab.be/dov-services/oefen/Geodrill'


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def pids_of(state_dir):
    """The processes started with this test's pidfile on their command line: ours alone (the path
    is in this test's temporary folder)."""
    pidfile = labstandin.pidfile(str(state_dir)).encode()
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/cmdline' % name, 'rb') as handle:
                    if pidfile in handle.read().split(b'\0'):
                        found.append(int(name))
            except (IOError, OSError):
                pass
    return found


def answers(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def state_dir(tmp_path):
    """A new state folder; at teardown every stand-in started on it is killed by its process group
    (start() gives it a session of its own, so its pid is its group's), or alone if it has none."""
    folder = tmp_path / 'state'
    folder.mkdir()
    yield folder
    for pid in pids_of(folder):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:   # not a group of its own (start() broken): this one process only
                os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def lab_state_dir(state_dir, lab):
    """The state folder with the module's lab CA in it (making a CA is slow)."""
    shutil.copytree(lab.folder, str(state_dir / 'lab-ca'))
    return state_dir


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


# ---------------------------------------------------------------- prepare

def test_prepare_makes_the_lab_ca_and_a_server_certificate_once_and_starts_nothing(state_dir):
    port = free_port()
    lab = labstandin.prepare(str(state_dir), port, [CN, 'geolab.be/dov-services/oefen/Sonde'])
    folder = state_dir / 'lab-standin'
    url = 'https://127.0.0.1:%d/' % port
    assert lab == {'endpoints': {'productie': url, 'oefen': url, 'ontwikkel': url},
                   'server_ca_bundle': str(state_dir / 'lab-ca' / 'bundle.pem'), 'pidfile': str(folder / 'standin.pid'),
                   'port': port, 'logfile': str(folder / 'standin.log'), 'cert': str(folder / 'server.pem'),
                   'key': str(folder / 'server-key.pem'),
                   'allow': ['geolab.be/dov-services/oefen/Geodrill', 'geolab.be/dov-services/oefen/Sonde'], 'started': False}
    assert (mode(folder), mode(folder / 'server-key.pem'), mode(folder / 'server.pem')) == (0o700, 0o600, 0o644)
    ca = labca.LabCA.load_or_create(str(state_dir / 'lab-ca'))
    server = x509.load_pem_x509_certificate((folder / 'server.pem').read_bytes())
    assert server.issuer == ca.issuing_cert.subject
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ['localhost']
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address('127.0.0.1')]
    assert not answers(port) and pids_of(state_dir) == [] and not (folder / 'standin.pid').exists()
    before = dict((name, (folder / name).read_bytes()) for name in ('server.pem', 'server-key.pem'))
    ca_before = (state_dir / 'lab-ca' / 'bundle.pem').read_bytes()
    again = labstandin.prepare(str(state_dir), port, [CN])
    assert again['allow'] == [CN]
    assert dict((name, (folder / name).read_bytes()) for name in before) == before     # not made again
    assert (state_dir / 'lab-ca' / 'bundle.pem').read_bytes() == ca_before


def test_prepare_makes_a_new_server_certificate_when_it_is_gone(lab_state_dir):
    labstandin.prepare(str(lab_state_dir), free_port(), [CN])
    first = (lab_state_dir / 'lab-standin' / 'server.pem').read_bytes()
    os.unlink(str(lab_state_dir / 'lab-standin' / 'server.pem'))
    labstandin.prepare(str(lab_state_dir), free_port(), [CN])
    assert (lab_state_dir / 'lab-standin' / 'server.pem').read_bytes() not in (b'', first)


# ---------------------------------------------------------------- start, wait, stop

def test_a_started_stand_in_serves_the_prepared_certificate_until_it_is_stopped(lab_state_dir):
    lab = labstandin.prepare(str(lab_state_dir), free_port(), [CN])
    assert labstandin.start(lab) is lab and lab['started'] is True
    labstandin.wait(lab)
    assert answers(lab['port'])
    [pid] = pids_of(lab_state_dir)
    assert os.getpgid(pid) == pid                  # a process group of its own: killed as one
    context = ssl.create_default_context(cafile=lab['server_ca_bundle'])
    with socket.create_connection(('127.0.0.1', lab['port']), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
            served = tls.getpeercert(binary_form=True)
    assert x509.load_der_x509_certificate(served) == x509.load_pem_x509_certificate(open(lab['cert'], 'rb').read())
    labstandin.stop(lab['pidfile'])
    assert not answers(lab['port'])
    assert pids_of(lab_state_dir) == [] and not os.path.exists(lab['pidfile'])
    labstandin.stop(lab['pidfile'])                # stopping again is a no-op
    labstandin.stop(None)


def test_a_port_in_use_is_refused_by_name_and_nothing_is_started(lab_state_dir):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    try:
        lab = labstandin.prepare(str(lab_state_dir), busy.getsockname()[1], [CN])
        with pytest.raises(DovError) as caught:
            labstandin.start(lab)
    finally:
        busy.close()
    assert str(caught.value) == ('Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in '
                                 'cannot listen there. Set dov_lab_standin_port to a free port.' % lab['port'])
    assert lab['started'] is False and pids_of(lab_state_dir) == [] and not os.path.exists(lab['pidfile'])


def test_a_stand_in_that_does_not_come_up_is_named_with_its_log(lab_state_dir):
    lab = labstandin.prepare(str(lab_state_dir), free_port(), [CN])
    with open(lab['logfile'], 'w') as handle:
        handle.write('x' * 900 + 'cannot load server.pem\n')
    with pytest.raises(DovError) as caught:
        labstandin.wait(lab, timeout=0.3)
    assert str(caught.value) == ("The lab DOV stand-in did not come up on 127.0.0.1:%d. Check that the port is free "
                                 "(dov_lab_standin_port). Its log:\n%s" % (lab['port'], ('x' * 900 + 'cannot load server.pem\n')[-800:]))


def test_start_for_starts_only_when_a_host_needs_a_check(lab_state_dir):
    lab = labstandin.prepare(str(lab_state_dir), free_port(), [CN])
    assert labstandin.start_for(lab, []) is lab and lab['started'] is False
    assert pids_of(lab_state_dir) == [] and not answers(lab['port'])
    assert labstandin.start_for({}, ['app-1']) == {}               # no stand-in in this run
    labstandin.start_for(lab, ['app-1'])
    assert lab['started'] is True and answers(lab['port'])          # started and waited for
    labstandin.stop(lab['pidfile'])
    assert pids_of(lab_state_dir) == []
