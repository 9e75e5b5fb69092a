# -*- coding: utf-8 -*-
"""keystores: the private folder of a JKS build (its PKCS#12 input holds the key) is gone on every
outcome - keytool killed, the building process stopped with SIGTERM -, and one that SIGKILL left
behind is swept by the next build. A stand-in keytool (a shell script that writes its pid and
waits) stands where Java's would; no Java is needed."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

# The folder that holds ansible_collections/ (keystores.py is ansible_collections/vlaanderen/dov/plugins/module_utils/_crypto/).
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(keystores.__file__)), *(['..'] * 6)))

BUILD = '''
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'geolab.be/dov-services/oefen/Geodrill')])
now = datetime.datetime.utcnow()
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256()))
keystores.build_jks(key, cert, [], 'changeit-123', 'dov-client', keytool=sys.argv[1])
'''


def fake_keytool(tmp_path, seconds):
    pidfile = tmp_path / 'keytool.pid'
    script = tmp_path / 'keytool'
    script.write_text('#!/bin/sh\necho $$ > %s\nexec sleep %d\n' % (pidfile, seconds))
    script.chmod(0o755)
    return str(script), pidfile


def wait_for(path, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        time.sleep(0.05)
    raise AssertionError('%s was not written' % path)


def home_of(tmp_path):
    return tmp_path / (keystores.KEYTOOL_HOME % os.getuid())


def start_build(tmp_path, keytool):
    return subprocess.Popen([sys.executable, '-c', BUILD, keytool],
                            env=dict(os.environ, PYTHONPATH=ROOT, TMPDIR=str(tmp_path)), start_new_session=True)


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_build_stopped_with_sigterm_while_keytool_runs_leaves_no_folder(tmp_path):
    keytool, pidfile = fake_keytool(tmp_path, 300)
    build = start_build(tmp_path, keytool)
    try:
        pid = wait_for(pidfile)
        folders = os.listdir(str(home_of(tmp_path)))
        assert [name.split('-')[0] for name in folders] == [str(build.pid)]
        assert os.listdir(str(home_of(tmp_path / '') / folders[0])) == ['in.p12']
        assert stat.S_IMODE(os.stat(str(home_of(tmp_path))).st_mode) == 0o700
        os.kill(build.pid, signal.SIGTERM)
        assert build.wait(timeout=20) == -signal.SIGTERM
        assert os.listdir(str(home_of(tmp_path))) == []
        with pytest.raises(OSError):
            os.kill(pid, 0)         # keytool went with it
    finally:
        stop(build)


def test_a_folder_left_by_a_killed_build_is_swept_by_the_next_build(tmp_path, monkeypatch):
    keytool, pidfile = fake_keytool(tmp_path, 300)
    build = start_build(tmp_path, keytool)
    try:
        orphan = wait_for(pidfile)
        os.kill(build.pid, signal.SIGKILL)      # nothing runs: the folder stays
        build.wait(timeout=20)
        assert len(os.listdir(str(home_of(tmp_path)))) == 1
    finally:
        stop(build)
        try:
            os.kill(orphan, signal.SIGKILL)
        except OSError:
            pass
    # the next build (here, in this process) sweeps it
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    removed = keystores.sweep_keytool_home(keystores.keytool_home())
    assert len(removed) == 1 and os.listdir(str(home_of(tmp_path))) == []


def test_keytool_killed_is_a_clear_error_and_its_folder_is_gone(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    keytool, pidfile = fake_keytool(tmp_path, 300)
    build = start_build(tmp_path, keytool)
    try:
        os.kill(wait_for(pidfile), signal.SIGKILL)
        assert build.wait(timeout=30) == 1
        assert os.listdir(str(home_of(tmp_path))) == []
    finally:
        stop(build)


def test_a_keytool_home_that_is_not_private_is_refused(tmp_path):
    home = home_of(tmp_path)
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    with pytest.raises(DovError) as info:
        keystores.keytool_home(str(tmp_path))
    assert 'is not a private folder of this user' in str(info.value) and str(home) in str(info.value)


def test_the_folders_earlier_versions_left_in_the_temporary_folder_go_once_they_are_old(tmp_path):
    home = keystores.keytool_home(str(tmp_path))
    old, fresh = tmp_path / 'dov-keystore-abc123', tmp_path / 'dov-keystore-def456'
    for folder in (old, fresh):
        folder.mkdir(mode=0o700)
        (folder / 'in.p12').write_bytes(b'a key')
    os.utime(str(old), (time.time() - 3600, time.time() - 3600))
    assert keystores.sweep_keytool_home(home) == [str(old)]
    assert not old.exists() and (fresh / 'in.p12').exists()
