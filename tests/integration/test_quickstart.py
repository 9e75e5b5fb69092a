# -*- coding: utf-8 -*-
"""The quickstart's "same from your own folder" section, run as written: a user's home with the
checkout at ~/vlaanderen-dov, no ANSIBLE_* variables and no virtualenv on PATH, the commands of
docs/quickstart.md in one bash script, from ~/dov (outside the checkout, so the repository's
ansible.cfg is not read). Checked with openssl against the lab CA."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess

import pytest

from conftest import ROOT
from support import free_port

QUICKSTART = os.path.join(ROOT, 'docs', 'quickstart.md')
SECTION = '### The same from your own folder'
TARBALL = os.path.join(ROOT, '.build')


def marked_blocks(path=QUICKSTART):
    """The fenced blocks of the own-folder section that are marked ``<!-- tested ... -->``, in order."""
    text = open(path, encoding='utf-8').read()
    section = text[text.index(SECTION):]
    section = section[:section.index('\n## ', 1)] if '\n## ' in section[1:] else section
    blocks = re.findall(r'<!-- tested[^>]*-->\n```(\w+)\n(.*?)\n```', section, re.S)
    assert blocks, 'no tested blocks in %s' % SECTION
    return blocks


def script_from(blocks, port):
    """One bash script: the sh blocks as they are, each yaml block written to the file its first line names."""
    lines = ['set -euo pipefail']
    for language, body in blocks:
        if language == 'sh':
            lines.append(body)
        elif language == 'yaml':
            target = body.splitlines()[0].lstrip('# ').strip()
            assert target.startswith('~/'), target
            # The only change: the stand-in's port, moved to a free one (tests run side by side).
            body = body.replace('dov_lab_standin_port: 18443', 'dov_lab_standin_port: %d' % port)
            lines.append("cat > %s <<'DOV_QUICKSTART_EOF'\n%s\nDOV_QUICKSTART_EOF" % (target.replace('~', '"$HOME"', 1), body))
        else:
            raise AssertionError('unexpected block language %r' % language)
    return '\n'.join(lines) + '\n'


def user_environment(home):
    """The environment of a user who just cloned and ran make demo: no ANSIBLE_*, no virtualenv active."""
    env = dict((key, value) for key, value in os.environ.items()
               if not key.startswith('ANSIBLE_') and key not in ('VIRTUAL_ENV', 'PYTHONPATH', 'DOV_TEST_COLLECTIONS'))
    env['PATH'] = os.pathsep.join(entry for entry in env.get('PATH', '/usr/bin:/bin').split(os.pathsep)
                                  if entry and not os.path.exists(os.path.join(entry, 'ansible-playbook')))
    env['HOME'] = str(home)
    return env


@pytest.fixture(scope='module')
def own_folder(tmp_path_factory):
    if not os.path.isdir(TARBALL) or not [name for name in os.listdir(TARBALL) if name.endswith('.tar.gz')]:
        pytest.fail('No built collection in %s: run `make install` first.' % TARBALL)
    home = tmp_path_factory.mktemp('home')
    os.symlink(ROOT, str(home / 'vlaanderen-dov'))      # where the quickstart cloned the repository
    script = script_from(marked_blocks(), free_port())
    proc = subprocess.run(['bash', '-c', script], cwd=str(home), env=user_environment(home), check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    return home, proc


def test_the_quickstart_names_the_tarball_that_make_install_builds():
    version = re.search(r'^version: *(\S+)', open(os.path.join(ROOT, 'galaxy.yml')).read(), re.M).group(1)
    commands = '\n'.join(body for language, body in marked_blocks() if language == 'sh')
    assert '.build/vlaanderen-dov-%s.tar.gz' % version in commands


def test_the_quickstart_commands_work_from_the_users_own_folder(own_folder):
    home, proc = own_folder
    assert proc.returncode == 0, proc.stdout[-6000:]
    output = proc.stdout
    assert 'could not be found' not in output
    # Installed where Ansible looks by default, outside the checkout.
    assert (home / '.ansible' / 'collections' / 'ansible_collections' / 'vlaanderen' / 'dov' / 'MANIFEST.json').is_file()
    # What the user sees: the table with the pair verified, then a second run that changes nothing.
    parts = output.split('PLAY RECAP')
    assert len(parts) == 4, output[-4000:]            # onboard, onboard, report
    first_run, second_recap, third_recap = parts[0], parts[2].split('\n\n')[0], parts[3]
    assert re.search(r'Geodrill\s+oefen\s+\S+/Geodrill\s+app-oefen-1\s+verified\s', first_run), first_run[-3000:]
    assert re.search(r'app-oefen-1\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0', second_recap), second_recap
    # the report's table, read from the host: CN, hosts, state, expiry date
    assert re.search(r'Geodrill\s+oefen\s+\S+/Geodrill\s+app-oefen-1\s+verified\s+\d{4}-\d\d-\d\d\s', parts[2]), parts[2][-3000:]
    # The last command of the section prints the certificate's subject.
    assert 'geolab.be/dov-services/oefen/Geodrill' in third_recap, third_recap


def test_the_certificate_from_the_own_folder_chains_to_the_lab_ca_and_the_state_is_verified(own_folder):
    home, proc = own_folder
    assert proc.returncode == 0, proc.stdout[-3000:]
    folder = home / 'dov' / 'hosts' / 'app-oefen-1' / 'geodrill'
    state = home / 'dov' / 'dov-state'
    verified = subprocess.run(['openssl', 'verify', '-CAfile', str(state / 'lab-ca' / 'root.pem'),
                               '-untrusted', str(folder / 'chain.pem'), str(folder / 'cert.pem')],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    assert verified.stdout.strip().endswith('OK'), verified.stdout
    assert oct(os.stat(str(folder / 'key.pem')).st_mode & 0o777) == '0o600'
    with open(str(state / 'status.json')) as handle:
        pair = json.load(handle)['pairs']['Geodrill/oefen']
    assert pair['state'] == 'verified' and pair['verdict'] == 'ok'
    # Nothing was written into the checkout's lab.
    assert not os.path.exists(os.path.join(str(home), '.lab'))
