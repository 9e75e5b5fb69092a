# -*- coding: utf-8 -*-
"""Integration harness: run ansible-playbook against the built and installed collection.

`make integration` builds the collection and installs it in .collections (as a user would get
it); these tests run the real `ansible-playbook` in a subprocess against that install and read
both what the user sees (stdout) and the structured task results (a test-only callback).
The fixtures: ``ansible`` (runs playbooks for one test) and ``tls_smtp`` (the mail tests' SMTP
server, one per test module).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import ssl
import subprocess
import sys

import pytest

from support import Inbox, make_pki, start


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COLLECTIONS = os.environ.get('DOV_TEST_COLLECTIONS', os.path.join(ROOT, '.collections'))
BIN = os.path.dirname(sys.executable)


class Run(object):
    """One ansible-playbook run: exit code, output and the task results in order."""

    def __init__(self, rc, stdout, stderr, records):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.records = records

    def __repr__(self):
        return 'Run(rc=%s)\n--- stdout\n%s\n--- stderr\n%s' % (self.rc, self.stdout, self.stderr)

    def task(self, name, host=None):
        """The last result of the task called ``name`` (on ``host``)."""
        found = [r for r in self.records if r['task'] == name and (host is None or r['host'] == host)]
        if not found:
            raise AssertionError('no result for task %r in\n%r' % (name, self))
        return found[-1]

    @property
    def changed(self):
        return sum(1 for r in self.records if r['status'] == 'changed')

    @property
    def failed(self):
        return [r for r in self.records if r['status'] in ('failed', 'unreachable')]


def ansible_env(tmp_path, extra=None):
    if not os.path.isdir(os.path.join(COLLECTIONS, 'ansible_collections', 'vlaanderen', 'dov')):
        pytest.fail('The collection is not installed in %s: run `make install` first.' % COLLECTIONS)
    env = dict(os.environ)
    env.update({
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
        'ANSIBLE_CONFIG': os.path.join(str(tmp_path), 'no-ansible.cfg'),
        'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
        'ANSIBLE_CALLBACKS_ENABLED': 'dov_test_results',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'ANSIBLE_LOCAL_TEMP': os.path.join(str(tmp_path), '.ansible-tmp'),
        'ANSIBLE_HOME': os.path.join(str(tmp_path), '.ansible'),
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
    })
    env.update(extra or {})
    return env


class Ansible(object):
    """Runs playbooks for one test, in its tmp_path."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.count = 0

    def playbook(self, playbook, inventory=None, extra_vars=None, check=False, diff=False,
                 verbosity=0, env=None, args=(), cwd=None):
        """Run ``playbook`` (a path, or YAML text) and return a Run."""
        self.count += 1
        tmp = str(self.tmp_path)
        if '\n' in playbook:
            path = os.path.join(tmp, 'play-%d.yml' % self.count)
            with open(path, 'w') as handle:
                handle.write(playbook)
            playbook = path
        results = os.path.join(tmp, 'results-%d.jsonl' % self.count)
        command = [os.path.join(BIN, 'ansible-playbook'), playbook,
                   '-i', inventory or 'localhost,']
        if inventory is None:
            command += ['-c', 'local']
        if extra_vars:
            command += ['-e', json.dumps(extra_vars)]
        if check:
            command.append('--check')
        if diff:
            command.append('--diff')
        if verbosity:
            command.append('-' + 'v' * verbosity)
        command += list(args)
        extra = {'DOV_TEST_RESULTS': results}
        extra.update(env or {})
        proc = subprocess.run(command, cwd=cwd or tmp, env=ansible_env(self.tmp_path, extra), check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=900)
        records = []
        if os.path.exists(results):
            with open(results) as handle:
                records = [json.loads(line) for line in handle if line.strip()]
        return Run(proc.returncode, proc.stdout, proc.stderr, records)

    def module(self, name, args, check=False, diff=False, verbosity=0, env=None):
        """Run one module task on localhost; return its result record (status + result)."""
        play = ('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
                '    - name: under test\n      %s: %s\n' % (name, json.dumps(args)))
        run = self.playbook(play, check=check, diff=diff, verbosity=verbosity, env=env)
        record = run.task('under test')
        record['run'] = run
        return record


@pytest.fixture
def ansible(tmp_path_factory):
    """Runs playbooks from a scratch folder of its own, so a test's tmp_path holds only its files."""
    return Ansible(tmp_path_factory.mktemp('ansible'))


@pytest.fixture(scope='module')
def tls_smtp(tmp_path_factory):
    """An SMTP server (aiosmtpd) on 127.0.0.1 that requires STARTTLS and a login (support.PASSWORD),
    with a certificate from a test CA: yields (port, inbox, ca.pem). One per test module: count
    ``inbox.mails`` before and after."""
    ca, cert, key = make_pki(tmp_path_factory.mktemp('smtp-pki') / 'pki')
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    controller = start(inbox, tls_context=context, require_starttls=True, auth_required=True,
                       auth_require_tls=True, authenticator=inbox.authenticate)
    yield controller.port, inbox, ca
    controller.stop()
