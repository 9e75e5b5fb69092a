# -*- coding: utf-8 -*-
"""The collection tarball holds what a user installs and nothing a checkout gathers while it is
used: built with ansible-galaxy, as `make install` does, from a copy of the tracked files into
which the caches of a used checkout (pytest's, Python's bytecode) are put first."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import subprocess
import sys
import tarfile

from conftest import ROOT

GALAXY = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')
LITTER = ('tests/integration/.pytest_cache/v/cache/nodeids', '.pytest_cache/v/cache/lastfailed',
          'plugins/module_utils/__pycache__/pki.cpython-311.pyc', 'tests/unit/__pycache__/conftest.cpython-311.pyc')


def test_a_used_checkout_builds_a_small_clean_tarball(tmp_path):
    tracked = subprocess.run(['git', 'ls-files', '-z'], cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout
    copy = tmp_path / 'checkout'
    for name in tracked.decode('utf-8').split('\0'):
        if name and os.path.isfile(os.path.join(ROOT, name)):
            target = copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), str(target))
    for name in LITTER:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text('left by a run\n')
    out = tmp_path / 'out'
    subprocess.run([GALAXY, 'collection', 'build', '--output-path', str(out), str(copy)], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    [tarball] = list(out.glob('vlaanderen-dov-*.tar.gz'))
    with tarfile.open(str(tarball)) as archive:
        names = archive.getnames()
    assert 'plugins/modules/host_certificates.py' in names and 'roles/dov_cert/meta/argument_specs.yml' in names
    litter = [name for name in names if '.pytest_cache' in name or '__pycache__' in name or name.endswith('.pyc')]
    assert litter == []
    # Neither the benchmark's results nor the execution environment's definition ship.
    assert not [name for name in names if name.startswith('bench/') or name == 'execution-environment.yml']
    assert tarball.stat().st_size < 1024 * 1024
