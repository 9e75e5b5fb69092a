"""labstandin: the plan step's stand-in (after the plan, lab only) is the role's files/dov_standin.py,
really started when a check is likely, left stopped when every pair was verified last run (the issue
step starts it when a host needs a check after all), refused on a busy port, stopped in-process."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os
import shutil
import signal
import socket
import ssl
import stat
import sys

import pytest
from cryptography import x509

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca, labstandin
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'integration'))
from support import free_port  # noqa: E402  (the integration tests' helper)


ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', 'roles', 'dov_cert'))
STANDIN_SCRIPT = os.path.join(ROLE, labstandin.SCRIPT)
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}


CN, OTHER_CN = 'geolab.be/dov-services/oefen/Geodrill', 'geolab.be/dov-services/oefen/Sonde'


KEY = 'Geodrill/oefen'


def world():
    applications = [{'name': 'Geodrill', 'description': 'Boorgegevens', 'environments': {'oefen': {'cn': CN}}},
                    {'name': 'Sonde', 'description': 'Metingen', 'environments': {'oefen': {'cn': OTHER_CN}}}]
    return inventory.Inventory(ORGANISATION, applications, {'app-1': [
        {'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}]})


def options(port, mode='onboard', **lab):
    return {'mode': mode, 'lab': dict({'standin': True, 'port': port, 'deny': ['Sonde']}, **lab)}


def answers(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def stopped_after():
    """Every stand-in a test started is stopped at its end, also when the test fails (by its
    process group when the in-process stop did not do it)."""
    started = []
    yield started.append
    for lab in started:
        pid = None
        if os.path.exists(lab.get('pidfile') or ''):
            with open(lab['pidfile']) as handle:
                pid = int(handle.read().strip() or 0)
        labstandin.stop(lab)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


def test_without_the_stand_in_or_for_report_yml_or_in_check_mode_without_a_lab_ca_nothing_is_made(tmp_path):
    port = free_port()
    assert labstandin.for_plan(world(), str(tmp_path), options(port, standin=False), False, [KEY], {}, ROLE) == {}
    assert labstandin.for_plan(world(), str(tmp_path), options(port, mode='status'), False, [KEY], {}, ROLE) == {}
    assert labstandin.for_plan(world(), str(tmp_path), options(port), True, [KEY], {}, ROLE) == {}
    assert os.listdir(str(tmp_path)) == [] and not answers(port)


def test_a_likely_check_starts_the_roles_stand_in_at_once_and_stop_ends_it(tmp_path, stopped_after):
    port = free_port()
    lab = labstandin.for_plan(world(), str(tmp_path), options(port, mode='verify'), False, [KEY], {}, ROLE)
    stopped_after(lab)
    assert lab['script'] == os.path.join(ROLE, 'files', 'dov_standin.py') and os.path.isfile(lab['script'])
    assert lab['started'] is True and lab['allow'] == [CN]      # Sonde is denied
    assert lab['endpoints']['oefen'] == 'https://127.0.0.1:%d/' % port
    assert answers(port)        # verify.yml waited for it
    # The server's certificate verifies against the lab CA bundle the checks get; then it wants a client certificate.
    context = ssl.create_default_context(cafile=lab['server_ca_bundle'])
    with socket.create_connection(('127.0.0.1', port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError) as refused:
            with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
                tls.recv(1)
    assert not isinstance(refused.value, ssl.SSLCertVerificationError) and 'CERTIFICATE_REQUIRED' in str(refused.value)
    labstandin.stop(lab)
    assert not os.path.exists(lab['pidfile']) and not answers(port)
    labstandin.stop(lab)        # idempotent


def test_when_every_pair_was_verified_last_run_the_issue_step_starts_it_only_for_a_check(tmp_path, stopped_after):
    port = free_port()
    previous = {KEY: {'state': 'verified'}}
    lab = labstandin.for_plan(world(), str(tmp_path), options(port), False, [KEY], previous, ROLE)
    stopped_after(lab)
    assert lab['started'] is False and not answers(port)
    assert os.path.isfile(lab['cert']) and os.path.isfile(lab['server_ca_bundle'])
    assert labstandin.start_for(lab, []) is lab and not answers(port)
    labstandin.start_for(lab, ['app-1'])
    assert lab['started'] is True and answers(port)


@pytest.mark.parametrize('mode, previous, likely', [
    ('verify', {KEY: {'state': 'verified'}}, True),
    ('onboard', {}, True),                                      # a new pair
    ('onboard', {KEY: {'state': 'failed'}}, True),
    ('renew', {KEY: {'state': 'renewal_pending'}}, False),
    ('onboard', {KEY: {'state': 'waiting_for_certificate'}}, False),
])
def test_a_check_is_likely_for_verify_and_for_a_pair_that_was_not_verified_or_waiting(mode, previous, likely):
    assert labstandin.check_likely(mode, [KEY], previous) is likely


def test_a_busy_port_is_refused_with_the_variable_to_change(tmp_path):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        with pytest.raises(DovError) as raised:
            labstandin.for_plan(world(), str(tmp_path), options(port), False, [KEY], {}, ROLE)
    finally:
        busy.close()
    assert str(raised.value) == ("Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in "
                                 "cannot listen there. Set dov_lab_standin_port to a free port." % port)
    assert not os.path.exists(labstandin.pidfile(str(tmp_path)))


CN = 'geolab.be/dov-services/oefen/Geodrill'


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


def test_prepare_makes_the_lab_ca_and_a_server_certificate_once_and_starts_nothing(state_dir):
    port = free_port()
    lab = labstandin.prepare(str(state_dir), port, [CN, 'geolab.be/dov-services/oefen/Sonde'], STANDIN_SCRIPT)
    folder = state_dir / 'lab-standin'
    url = 'https://127.0.0.1:%d/' % port
    assert lab == {'endpoints': {'productie': url, 'oefen': url, 'ontwikkel': url},
                   'server_ca_bundle': str(state_dir / 'lab-ca' / 'bundle.pem'), 'pidfile': str(folder / 'standin.pid'),
                   'port': port, 'logfile': str(folder / 'standin.log'), 'cert': str(folder / 'server.pem'),
                   'key': str(folder / 'server-key.pem'),
                   'allow': ['geolab.be/dov-services/oefen/Geodrill', 'geolab.be/dov-services/oefen/Sonde'], 'started': False, 'script': STANDIN_SCRIPT}
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
    again = labstandin.prepare(str(state_dir), port, [CN], STANDIN_SCRIPT)
    assert again['allow'] == [CN]
    assert dict((name, (folder / name).read_bytes()) for name in before) == before     # not made again
    assert (state_dir / 'lab-ca' / 'bundle.pem').read_bytes() == ca_before


def test_prepare_makes_a_new_server_certificate_when_it_is_gone(lab_state_dir):
    labstandin.prepare(str(lab_state_dir), free_port(), [CN], STANDIN_SCRIPT)
    first = (lab_state_dir / 'lab-standin' / 'server.pem').read_bytes()
    os.unlink(str(lab_state_dir / 'lab-standin' / 'server.pem'))
    labstandin.prepare(str(lab_state_dir), free_port(), [CN], STANDIN_SCRIPT)
    assert (lab_state_dir / 'lab-standin' / 'server.pem').read_bytes() not in (b'', first)


def test_a_started_stand_in_serves_the_prepared_certificate_until_it_is_stopped(lab_state_dir):
    lab = labstandin.prepare(str(lab_state_dir), free_port(), [CN], STANDIN_SCRIPT)
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
    labstandin.stop(lab)
    assert not answers(lab['port'])
    assert pids_of(lab_state_dir) == [] and not os.path.exists(lab['pidfile'])
    labstandin.stop(lab)                # stopping again is a no-op
    labstandin.stop(None)
    labstandin.stop({})


def test_a_port_in_use_is_refused_by_name_and_nothing_is_started(lab_state_dir):
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    try:
        lab = labstandin.prepare(str(lab_state_dir), busy.getsockname()[1], [CN], STANDIN_SCRIPT)
        with pytest.raises(DovError) as caught:
            labstandin.start(lab)
    finally:
        busy.close()
    assert str(caught.value) == ('Port %d on 127.0.0.1 is already in use by another program, so the lab DOV stand-in '
                                 'cannot listen there. Set dov_lab_standin_port to a free port.' % lab['port'])
    assert lab['started'] is False and pids_of(lab_state_dir) == [] and not os.path.exists(lab['pidfile'])


def test_a_stand_in_that_does_not_come_up_is_named_with_its_log(lab_state_dir):
    lab = labstandin.prepare(str(lab_state_dir), free_port(), [CN], STANDIN_SCRIPT)
    with open(lab['logfile'], 'w') as handle:
        handle.write('x' * 900 + 'cannot load server.pem\n')
    with pytest.raises(DovError) as caught:
        labstandin.wait(lab, timeout=0.3)
    assert str(caught.value) == ("The lab DOV stand-in did not come up on 127.0.0.1:%d. Check that the port is free "
                                 "(dov_lab_standin_port). Its log:\n%s" % (lab['port'], ('x' * 900 + 'cannot load server.pem\n')[-800:]))


def test_start_for_starts_only_when_a_host_needs_a_check(lab_state_dir):
    lab = labstandin.prepare(str(lab_state_dir), free_port(), [CN], STANDIN_SCRIPT)
    assert labstandin.start_for(lab, []) is lab and lab['started'] is False
    assert pids_of(lab_state_dir) == [] and not answers(lab['port'])
    assert labstandin.start_for({}, ['app-1']) == {}               # no stand-in in this run
    labstandin.start_for(lab, ['app-1'])
    assert lab['started'] is True and answers(lab['port'])          # started and waited for
    labstandin.stop(lab)
    assert pids_of(lab_state_dir) == []
