# -*- coding: utf-8 -*-
"""A run stopped anywhere, and a state folder that is only a cache (onboard.yml, renew.yml, as a user runs them).

One world (test_hosts_truth's CA, ``command`` issuer and DOV-like nginx), one ansible-playbook per
step. The issuer is wrapped: ``signed.log`` gets a line for every certificate it actually signed,
``issuer.pid`` the wrapper's pid (its process group: it runs in its own session). A run is killed
with SIGKILL of ansible-playbook's process group either while the issuer sleeps, or at the start of
a named task (the test callback ``dov_test_kill``: the previous task has finished on every host).

- onboard killed while the issuer runs: the issuer is stopped with it and signs nothing; onboard
  killed before the install: the next run installs the certificate the killed run got (one
  certificate in all);
- renew.yml killed after the issuer answered (before the install): the next renew.yml installs that
  certificate; killed between the swap and the commit (at the settle step): the next renew.yml, forced
  again, commits it; neither asks for a second certificate, and no ``.next`` / ``.prev`` file stays;
- retire killed between the revocation request and the removal: the next run removes the files and
  does not request the revocation again;
- Ctrl-C (SIGINT to ansible-playbook only) while the issuer runs stops the issuer's whole group;
- a pair installed with dov_verify: false is verified by the next run with dov_verify: true, and a
  status.json edited to say ``verified`` for a certificate the server rejects is not believed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, Ansible, ansible_env
from test_hosts_truth import PLAYBOOKS, Site, World, write

PAIR = 'Boorlog/oefen'
WRAPPER = '''#!/bin/sh
echo $$ > '{folder}/issuer.pid'
'{command}' "$@"
rc=$?
[ $rc -eq 0 ] && echo "$DOV_APPLICATION/$DOV_ENVIRONMENT" >> '{folder}/signed.log'
exit $rc
'''
REVOKE = '''#!/bin/sh
echo "$DOV_REVOKE_SERIAL" >> '{folder}/revoked.log'
'''


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip()]


def group_of(pid):
    with open('/proc/%d/stat' % pid) as handle:
        return int(handle.read().rsplit(') ', 1)[1].split()[2])


def group_alive(pgid):
    """Whether any process of the process group ``pgid`` is alive (not a zombie)."""
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as handle:
                fields = handle.read().rsplit(') ', 1)[1].split()
        except (IOError, OSError, IndexError):
            continue
        if fields[0] != 'Z' and int(fields[2]) == pgid:
            return True
    return False


def wait_until(condition, seconds=60, what='the condition'):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError('%s did not happen within %d seconds' % (what, seconds))


class Started(object):
    """ansible-playbook in the background (its own session), as a user's terminal starts it."""

    def __init__(self, site, playbook, env=None, args=()):
        site.count += 1
        self.log = os.path.join(site.folder, 'run-%d-%s.log' % (site.count, playbook))
        tmp = str(site.world.runner.tmp_path)
        extra = {'DOV_TEST_RESULTS': os.path.join(tmp, 'results-kill-%d.jsonl' % site.count),
                 'ANSIBLE_CALLBACKS_ENABLED': 'dov_test_results,dov_test_kill'}
        extra.update(env or {})
        inventory = site.inventory()        # makes the site's folder
        self.output = open(self.log, 'w')
        self.process = subprocess.Popen(
            [os.path.join(BIN, 'ansible-playbook'), os.path.join(PLAYBOOKS, playbook + '.yml'), '-i', inventory]
            + list(args), cwd=tmp, env=ansible_env(site.world.runner.tmp_path, extra), stdout=self.output,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, seconds=300):
        try:
            return self.process.wait(timeout=seconds)
        finally:
            self.output.close()

    def kill(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        return self.wait()

    def text(self):
        with open(self.log) as handle:
            return handle.read()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    world = World(tmp_path_factory.mktemp('kills'), Ansible(tmp_path_factory.mktemp('ansible-kills')))
    folder = os.path.join(world.folder, 'calls')
    os.makedirs(folder)
    wrapper = write(os.path.join(folder, 'issue-wrapper.sh'), WRAPPER.format(folder=folder, command=world.command), 0o755)
    revoke = write(os.path.join(folder, 'revoke.sh'), REVOKE.format(folder=folder), 0o755)
    site = Site(world, 'kills', {'h1': [('Boorlog', {})], 'h2': [('Boorlog', {})]},
                dov_issuer_command=wrapper, dov_revoke_command=revoke)
    site.calls = folder
    site.signed = lambda: lines(os.path.join(folder, 'signed.log'))
    started = []
    site.start = lambda *args, **options: started.append(Started(site, *args, **options)) or started[-1]
    yield site
    for run in started:
        if run.process.poll() is None:
            run.kill()
    world.stop()


def test_onboard_killed_while_the_issuer_runs_stops_the_issuer(site):
    run = site.start('onboard', env={'DOV_TEST_SLEEP': '120'})
    pidfile = os.path.join(site.calls, 'issuer.pid')
    wait_until(lambda: lines(pidfile), what='the issuer call')
    issuer = group_of(int(lines(pidfile)[0]))
    assert group_alive(issuer) and issuer != run.process.pid     # its own session
    run.kill()
    wait_until(lambda: not group_alive(issuer), seconds=10, what="the issuer's end")
    time.sleep(1)
    assert site.signed() == []


def test_onboard_killed_before_the_install_costs_no_second_certificate(site):
    killed = site.start('onboard', env={'DOV_TEST_KILL_AT': 'Install and verify'})
    assert killed.wait() == -signal.SIGKILL
    assert site.signed() == [PAIR]
    assert not os.path.exists(os.path.join(site.dest_dir('h2', 'Boorlog'), 'cert.pem'))
    done = site.run()
    assert done.rc == 0, done
    assert site.signed() == [PAIR]
    assert site.status()[PAIR]['state'] == 'verified'


def renew(site, **options):
    run = site.world.runner.playbook(os.path.join(PLAYBOOKS, 'renew.yml'), inventory=site.inventory(),
                                     args=['-e', 'dov_force_renew=true'], **options)
    site.count += 1
    write(os.path.join(site.folder, 'run-%d-renew.log' % site.count), repr(run))
    return run


def test_renew_killed_after_the_issuer_answered_installs_that_certificate_next_time(site):
    killed = site.start('renew', env={'DOV_TEST_KILL_AT': 'Install and verify'}, args=['-e', 'dov_force_renew=true'])
    assert killed.wait() == -signal.SIGKILL, killed.text()
    assert site.signed() == [PAIR, PAIR]
    again = renew(site)
    assert again.rc == 0, again
    assert site.signed() == [PAIR, PAIR], 'the issuer was asked again for the staged key'
    assert 'was issued by an earlier run (kept in the state folder)' in again.stdout
    assert site.status()[PAIR]['state'] == 'verified'


def test_renew_killed_between_the_swap_and_the_commit_is_committed_by_the_next_run(site):
    killed = site.start('renew', env={'DOV_TEST_KILL_AT': 'Settle - renewals'}, args=['-e', 'dov_force_renew=true'])
    assert killed.wait() == -signal.SIGKILL, killed.text()
    assert site.signed() == [PAIR] * 3
    holder = site.status()[PAIR]['key_holder']
    dest = site.dest_dir(holder, 'Boorlog')
    assert os.path.exists(os.path.join(dest, 'key.pem.next')) and os.path.exists(os.path.join(dest, 'key.pem.prev'))
    with open(os.path.join(dest, 'key.pem.next'), 'rb') as staged, open(os.path.join(dest, 'key.pem'), 'rb') as live:
        assert staged.read() == live.read(), 'not killed between the swap and the commit'

    again = renew(site)
    assert again.rc == 0, again
    assert site.signed() == [PAIR] * 3, 'the issuer was asked for a second renewed certificate'
    for host in ('h1', 'h2'):
        assert sorted(name for name in os.listdir(site.dest_dir(host, 'Boorlog'))
                      if name.endswith(('.next', '.prev'))) == [], host
    certificates = set()
    for host in ('h1', 'h2'):
        with open(os.path.join(site.dest_dir(host, 'Boorlog'), 'cert.pem'), 'rb') as handle:
            certificates.add(handle.read())
    assert len(certificates) == 1
    assert site.status()[PAIR]['state'] == 'verified'


def test_retire_killed_between_the_revocation_and_the_removal_removes_without_asking_again(site):
    site.environments['Boorlog'] = {'retired': True}
    site.pairs = {'h1': [('Boorlog', {'state': 'absent'})], 'h2': [('Boorlog', {'state': 'absent'})]}
    killed = site.start('onboard', env={'DOV_TEST_KILL_AT': 'Install and verify'})
    assert killed.wait() == -signal.SIGKILL
    revoked = lines(os.path.join(site.calls, 'revoked.log'))
    assert len(revoked) == 1
    for host in ('h1', 'h2'):
        assert os.path.exists(os.path.join(site.dest_dir(host, 'Boorlog'), 'key.pem')), 'removed before the kill point'
    done = site.run()
    assert done.rc == 0, done
    assert lines(os.path.join(site.calls, 'revoked.log')) == revoked
    for host in ('h1', 'h2'):
        dest = site.dest_dir(host, 'Boorlog')
        assert not os.path.exists(dest) or os.listdir(dest) == []
    assert site.status()[PAIR]['state'] == 'retired'


def test_ctrl_c_stops_the_issuer_command_and_its_children(site):
    site.pairs = {'h1': [('Traag', {})]}
    pidfile = os.path.join(site.calls, 'issuer.pid')
    os.remove(pidfile)
    run = site.start('onboard', env={'DOV_TEST_SLEEP': '120'})
    wait_until(lambda: lines(pidfile), what='the issuer call')
    issuer = group_of(int(lines(pidfile)[0]))
    os.kill(run.process.pid, signal.SIGINT)         # Ctrl-C: to ansible-playbook, not to the issuer
    run.wait(60)
    wait_until(lambda: not group_alive(issuer), seconds=10, what="the issuer's end")
    assert 'Traag/oefen' not in site.signed()


def test_the_state_folder_is_never_a_verdict(site):
    """Verdict from a check only: installed (dov_verify: false) becomes verified by the next checking
    run; a record edited to verified for a certificate the server refuses is checked and fails."""
    site.pairs = {'h1': [('Sondering', {}), ('Verboden', {})]}
    unchecked = site.world.runner.playbook(os.path.join(PLAYBOOKS, 'onboard.yml'), inventory=site.inventory(),
                                           args=['-e', 'dov_verify=false'])
    assert unchecked.rc == 0, unchecked
    status = site.status()
    assert status['Sondering/oefen']['state'] == 'installed' and status['Verboden/oefen']['state'] == 'installed'

    checked = site.run()
    assert checked.rc != 0
    status = site.status()
    assert status['Sondering/oefen']['state'] == 'verified' and status['Sondering/oefen']['verdict'] == 'ok'
    assert status['Verboden/oefen']['state'] == 'failed'

    path = os.path.join(site.state_dir, 'status.json')
    with open(path) as handle:
        edited = json.load(handle)
    edited['pairs']['Verboden/oefen']['state'] = 'verified'
    write(path, json.dumps(edited))
    again = site.run()
    assert again.rc != 0, again
    assert site.status()['Verboden/oefen']['state'] == 'failed'
    assert site.status()['Sondering/oefen']['state'] == 'verified'
