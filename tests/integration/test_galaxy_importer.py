# -*- coding: utf-8 -*-
"""Galaxy's importer (galaxy-importer, the code Galaxy runs on every upload) accepts the tarball that
`make install` builds: it completes, with no ERROR and no WARNING (its ansible-lint step included),
and it sees every module, filter and the role with their documentation.

Run as Galaxy runs it, offline and without a container (tests/galaxy-importer/galaxy-importer.cfg);
the importer lives in a virtualenv of its own, .cache/galaxy-importer (`make galaxy-importer`)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import tarfile

from conftest import ROOT

GALAXY = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')
IMPORTER = os.path.join(ROOT, '.cache', 'galaxy-importer', 'bin')
CONFIG = os.path.join(ROOT, 'tests', 'galaxy-importer', 'galaxy-importer.cfg')


def _names(folder, suffix):
    return sorted(name[:-len(suffix)] for name in os.listdir(os.path.join(ROOT, folder))
                  if name.endswith(suffix) and not name.startswith('_'))


def test_galaxy_importer_accepts_the_built_tarball_without_error_or_warning(tmp_path):
    assert os.path.isfile(os.path.join(IMPORTER, 'python')), 'Galaxy\'s importer is missing: run `make galaxy-importer`.'
    out = tmp_path / 'out'
    subprocess.run([GALAXY, 'collection', 'build', '--output-path', str(out), ROOT], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    [tarball] = list(out.glob('vlaanderen-dov-*.tar.gz'))
    env = dict(os.environ, GALAXY_IMPORTER_CONFIG=CONFIG, PATH=IMPORTER + os.pathsep + os.environ['PATH'],
               HOME=str(tmp_path), GALAXY_IMPORTER_TMP_ROOT_DIR=str(tmp_path))
    env.pop('ANSIBLE_CONFIG', None)
    run = subprocess.run([os.path.join(IMPORTER, 'python'), '-m', 'galaxy_importer.main', str(tarball)],
                         cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True, timeout=600, check=False)
    log = run.stdout
    assert run.returncode == 0, log
    assert 'Importer processing completed successfully' in log, log
    # The lint step ran (ansible-lint found, not skipped) and said nothing.
    assert '...ansible-lint run complete' in log, log
    problems = [line for line in log.splitlines() if line.startswith(('ERROR', 'WARNING'))]
    assert problems == [], log

    result = json.loads((tmp_path / 'importer_result.json').read_text())
    assert int(result['metadata']['version'].split('.')[0]) >= 1
    documented = dict(((c['content_type'], c['content_name']), c) for c in result['docs_blob']['contents'])
    for module in _names('plugins/modules', '.py'):
        assert documented[('module', module)]['doc_strings'], module
    for filter_name in _names('plugins/filter', '.yml'):
        assert documented[('filter', filter_name)]['doc_strings'], filter_name
    role = documented[('role', 'dov_cert')]
    assert role['readme_file'] == 'README.md' and 'Role Variables' in role['readme_html']
    # The demo's onboard.yml at the root (it imports vlaanderen.dov.onboard, which ansible-lint
    # cannot find inside the tarball) stays out; the collection's playbooks are in.
    with tarfile.open(str(tarball)) as archive:
        names = archive.getnames()
    assert 'onboard.yml' not in names
    assert sorted(name for name in names if name.startswith('playbooks/')) == [
        'playbooks/onboard.yml', 'playbooks/renew.yml', 'playbooks/report.yml', 'playbooks/verify.yml']
    assert result['requires_ansible'] == '>=2.16.0,<2.20.0'
