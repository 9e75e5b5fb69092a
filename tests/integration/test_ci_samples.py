# -*- coding: utf-8 -*-
"""The sample CI pipelines of docs/ci-awx.md, their script lines run word for word.

The two blocks marked ``<!-- tested: tests/integration/test_ci_samples.py -->`` (GitLab CI and
GitHub Actions) are parsed as YAML and their shell lines run with bash, as the runners run them,
in a throw-away checkout of the example project (examples/awx-project, as the user's repository,
with the built tarball in ``vendor/``): GitLab's ``before_script`` + ``script`` per job with
``CI_PROJECT_DIR`` and the masked and File variables set; GitHub's ``run`` steps whose ``if``
holds for the event, with ``${{ secrets.* }}`` put in and ``RUNNER_TEMP``/``GITHUB_WORKSPACE``
set. The tools on PATH stand for the execution-environment image (ansible-core, cryptography,
pyOpenSSL); no ANSIBLE_* variable is set, so the collection is found where the sample installs
it. The user's inventory (not part of the samples) makes the host local, with a counting
``command`` issuer and a DOV-like nginx. The artifacts each sample names must exist after its job.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from conftest import BIN, ROOT
from test_awx_runner import EXAMPLE, HOST, VAULT_PASSWORD, Lab, Project, vault_secrets

DOC = os.path.join(ROOT, 'docs', 'ci-awx.md')
MARK = '<!-- tested: tests/integration/test_ci_samples.py -->'
VERSION = re.search(r'^version: *(\S+)', open(os.path.join(ROOT, 'galaxy.yml')).read(), re.M).group(1)
TARBALL = os.path.join(ROOT, '.build', 'vlaanderen-dov-%s.tar.gz' % VERSION)


def samples():
    """{'gitlab': ..., 'github': ...}: the marked YAML blocks, parsed."""
    text = open(DOC, encoding='utf-8').read()
    blocks = re.findall(re.escape(MARK) + r'\n```yaml\n(.*?)\n```', text, re.S)
    found = {}
    for block in blocks:
        first = block.splitlines()[0]
        found['gitlab' if '.gitlab-ci.yml' in first else 'github' if '.github/workflows' in first else first] = \
            yaml.safe_load(block)
    assert sorted(found) == ['github', 'gitlab'], sorted(found)
    return found


def gitlab_script(pipeline, job):
    """The job's before_script and script, its extends resolved, as GitLab runs them."""
    spec = dict(pipeline[job])
    for parent in [spec['extends']] if isinstance(spec.get('extends'), str) else spec.get('extends') or []:
        spec = dict(pipeline[parent], **spec)
    return spec, list(spec.get('before_script') or []) + list(spec['script'])


def github_value(value, secrets):
    def secret(match):
        return secrets[match.group(1)]
    value = re.sub(r'\$\{\{\s*secrets\.(\w+)\s*\}\}', secret, str(value))
    assert '${{' not in value, value
    return value


def github_if(condition, event):
    if condition is None or condition == 'always()':
        return True
    found = re.match(r"^github\.event_name == '(\w+)'$", condition)
    assert found, 'a condition the test does not know: %r' % condition
    return found.group(1) == event


def bash(script, cwd, env, options='-eo pipefail'):
    """One runner shell: its own session, killed as a group on timeout."""
    proc = subprocess.Popen(['bash', '--noprofile', '--norc'] + options.split() + ['-c', script], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            start_new_session=True)
    try:
        out = proc.communicate(timeout=600)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return proc.returncode, out


class Checkout(object):
    """A fresh checkout of the user's repository: the example project, the built tarball in vendor/,
    the user's inventory (local host, the test's issuer and server)."""

    def __init__(self, folder, project, **inventory):
        self.folder = str(folder)
        shutil.copytree(EXAMPLE, self.folder)
        os.makedirs(os.path.join(self.folder, 'vendor'))
        shutil.copy(TARBALL, os.path.join(self.folder, 'vendor'))
        awx = project.inventory(**inventory)
        data = {'all': {'vars': awx['all']['vars'], 'hosts': awx['_meta']['hostvars']}}
        with open(os.path.join(self.folder, 'inventory', 'hosts.yml'), 'w') as handle:
            yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False)


def runner_env(home, extra):
    """A runner's environment: the image's tools on PATH, no ANSIBLE_* and no virtualenv, its own HOME."""
    env = dict((key, value) for key, value in os.environ.items()
               if not key.startswith(('ANSIBLE_', 'GITHUB_', 'CI_', 'RUNNER_')) and
               key not in ('VIRTUAL_ENV', 'PYTHONPATH', 'DOV_TEST_COLLECTIONS'))
    env.update(PATH=BIN + os.pathsep + env.get('PATH', '/usr/bin:/bin'), HOME=str(home))
    env.update(extra)
    return env


@pytest.fixture(scope='module')
def ci(tmp_path_factory):
    if not os.path.exists(TARBALL):
        pytest.fail('No built collection %s: run `make install` first.' % TARBALL)
    started = time.monotonic()
    base = tmp_path_factory.mktemp('ci')
    lab = Lab(base / 'lab')
    project = Project(base / 'user', lab)        # the hosts (local folders) and the inventory values
    ssh_key = base / 'ssh-key'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'dov-ci', '-f', str(ssh_key)], check=True)
    secrets = {'DOV_VAULT_PASSWORD': VAULT_PASSWORD, 'DOV_SSH_KEY': ssh_key.read_text()}
    pipelines = samples()
    runs = {}

    def gitlab_env(project_dir):
        """GitLab's variables: the pipeline's, CI_PROJECT_DIR, the masked password, the File variable (a path)."""
        return runner_env(base / 'home-gitlab', dict(pipelines['gitlab'].get('variables') or {}, CI_PROJECT_DIR=project_dir,
                                                     DOV_VAULT_PASSWORD=VAULT_PASSWORD, DOV_SSH_KEY=str(ssh_key)))
    try:
        # GitLab: the onboard job on the default branch, then the scheduled report job; each a fresh checkout.
        gitlab = pipelines['gitlab']
        for job in ('dov-onboard', 'dov-report'):
            checkout = Checkout(base / ('gitlab-' + job), project, issuer=lab.command)
            spec, lines = gitlab_script(gitlab, job)
            rc, out = bash('\n'.join(lines), checkout.folder, gitlab_env(checkout.folder))
            runs['gitlab', job] = (rc, out, checkout, spec['artifacts']['paths'])
        # GitHub Actions: a push run and a scheduled run of the workflow, each a fresh checkout.
        workflow = pipelines['github']
        [(_name, job)] = workflow['jobs'].items()
        for event in ('push', 'schedule'):
            checkout = Checkout(base / ('github-' + event), project, issuer=lab.command)
            temp = base / ('runner-temp-' + event)
            temp.mkdir()
            env = runner_env(base / 'home-github', dict(
                (key, github_value(value, secrets)) for key, value in (job.get('env') or {}).items()))
            env.update(RUNNER_TEMP=str(temp), GITHUB_WORKSPACE=checkout.folder, GITHUB_EVENT_NAME=event)
            outputs, rc, kept = [], 0, []
            for step in job['steps']:
                if not github_if(step.get('if'), event) or (rc and step.get('if') != 'always()'):
                    continue
                if 'uses' in step:
                    if step['uses'].startswith('actions/upload-artifact'):
                        kept = step['with']['path'].split()
                    continue
                rc, out = bash(step['run'], checkout.folder, env)
                outputs.append(out)
            runs['github', event] = (rc, '\n'.join(outputs), checkout, kept)
        # dov_strict is red while a pair waits: a new CN with the manual issuer (the GitLab onboard job again).
        checkout = Checkout(base / 'gitlab-strict', project, extra_pairs=[('Sondering', 'geolab.be/dov-services/oefen/Sondering')])
        _spec, lines = gitlab_script(gitlab, 'dov-onboard')
        rc, out = bash('\n'.join(lines), checkout.folder, gitlab_env(checkout.folder))
        runs['strict'] = (rc, out, checkout, [])
        runs['seconds'] = round(time.monotonic() - started, 1)
        print('\nCI samples: %.1f s' % runs['seconds'])
        yield project, lab, runs
    finally:
        lab.nginx.stop()


def test_the_samples_install_the_tarball_that_make_install_builds():
    text = json.dumps(samples())
    assert 'collection install --force -p collections vendor/vlaanderen-dov-%s.tar.gz' % VERSION in text


def test_the_gitlab_onboard_job_installs_and_verifies_with_dov_strict_and_keeps_status_json(ci):
    project, lab, runs = ci
    rc, out, checkout, artifacts = runs['gitlab', 'dov-onboard']
    assert rc == 0, out[-6000:]
    assert 'dov_strict' in json.dumps(samples()['gitlab']['dov-onboard'])
    # installed from the tarball into the project's collections/, where Ansible found it
    assert os.path.isfile(os.path.join(checkout.folder, 'collections', 'ansible_collections', 'vlaanderen', 'dov',
                                       'MANIFEST.json'))
    assert re.search(r'Geodrill\s+oefen\s+\S+\s+[\w.,\- ]+?\s+verified', out), out[-4000:]
    assert lab.issued() == ['Geodrill/oefen']
    assert artifacts == ['dov-state/status.json']
    with open(os.path.join(checkout.folder, artifacts[0])) as handle:
        assert json.load(handle)['pairs']['Geodrill/oefen']['state'] == 'verified'


def test_the_gitlab_report_job_keeps_report_json_and_html_with_the_expiry_from_the_host(ci):
    project, _lab, runs = ci
    rc, out, checkout, artifacts = runs['gitlab', 'dov-report']
    assert rc == 0, out[-6000:]
    assert artifacts == ['dov-state/report.json', 'dov-state/report.html']
    for path in artifacts:
        assert os.path.isfile(os.path.join(checkout.folder, path)), path
    report = open(os.path.join(checkout.folder, 'dov-state', 'report.json')).read()
    not_after = subprocess.run(['openssl', 'x509', '-noout', '-enddate', '-dateopt', 'iso_8601', '-in',
                                os.path.join(project.dest_dir('Geodrill'), 'cert.pem')],
                               stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split('=', 1)[1][:10]
    assert 'geolab.be/dov-services/oefen/Geodrill' in report and not_after in report


def test_the_github_workflow_onboards_from_nothing_without_a_change_and_reports(ci):
    project, lab, runs = ci
    rc, out, checkout, kept = runs['github', 'push']
    assert rc == 0, out[-6000:]
    assert re.search(r'%s\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0' % re.escape(HOST), out), out[-3000:]
    assert lab.issued() == ['Geodrill/oefen'], 'a fresh workspace asked the issuer again'
    assert kept == ['dov-state/status.json', 'dov-state/report.json', 'dov-state/report.html']
    assert os.path.isfile(os.path.join(checkout.folder, 'dov-state', 'status.json'))
    rc, out, checkout, kept = runs['github', 'schedule']
    assert rc == 0, out[-6000:]
    assert 'PLAY [Report on DOV client certificates]' in out and 'PLAY [Onboard' not in out, out[-3000:]
    for path in kept[1:]:
        assert os.path.isfile(os.path.join(checkout.folder, path)), path


def test_with_dov_strict_a_waiting_pair_makes_the_job_red(ci):
    _project, lab, runs = ci
    rc, out, _checkout, _kept = runs['strict']
    assert rc == 2, out[-6000:]
    assert 'Waiting (dov_strict): Sondering/oefen.' in out, out[-3000:]
    assert re.search(r'Geodrill\s+oefen\s+\S+\s+[\w.,\- ]+?\s+verified', out), out[-3000:]
    assert lab.issued() == ['Geodrill/oefen']


def test_no_secret_reaches_the_job_output(ci):
    _project, _lab, runs = ci
    secrets = list(vault_secrets(str(runs['strict'][2].folder)).values()) + [VAULT_PASSWORD]
    for name, run in runs.items():
        if name == 'seconds':
            continue
        for secret in secrets:
            assert secret not in run[1], name
        assert 'PRIVATE KEY' not in run[1], name
