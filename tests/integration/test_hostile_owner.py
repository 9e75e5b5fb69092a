# -*- coding: utf-8 -*-
"""onboard.yml as root against an application user who owns the parent of dest_dir (a real,
unprivileged user made for this test): the user swaps dest_dir for a link to another service's
root-owned folder while keytool runs, deterministically (a keytool wrapper does the swap as that
user, then runs the real keytool). Nothing outside dest_dir may change: no chown, no write. The
folders an install creates on a host that is not the key holder get the same modes as on the key
holder, and their parents are never given to the application's user."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import pwd
import shutil
import stat
import subprocess
import tempfile

import pytest

from support import free_port

USER = 'dovhostile'
PLAYBOOK = '- name: Onboard\n  ansible.builtin.import_playbook: vlaanderen.dov.onboard\n'

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('useradd') or not shutil.which('runuser')
                                or not shutil.which('keytool'),
                                reason='needs root, useradd, runuser and keytool')


def state_of(path):
    """Every entry at and below ``path``: content (or link target), mode and owner; links not followed."""
    found = {}
    for folder, dirs, files in os.walk(str(path)):
        for name in [''] + dirs + files:
            full = os.path.join(folder, name) if name else folder
            info = os.lstat(full)
            content = (os.readlink(full) if stat.S_ISLNK(info.st_mode)
                       else open(full, 'rb').read() if stat.S_ISREG(info.st_mode) else None)
            found[full] = (content, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)
    return found


def mode_owner(path):
    info = os.lstat(str(path))
    return '%04o' % stat.S_IMODE(info.st_mode), pwd.getpwuid(info.st_uid).pw_name


@pytest.fixture
def world():
    """The app user and a folder tree it can reach (outside pytest's root-only tmp folders)."""
    subprocess.run(['userdel', USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    subprocess.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER], check=True)
    top = tempfile.mkdtemp(prefix='dov-hostile-', dir='/srv' if os.path.isdir('/srv') else None)
    os.chmod(top, 0o755)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)
        subprocess.run(['userdel', USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def inventory(top, port):
    hosts = {
        'h1': [{'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': top + '/h1/opt/geodrill/dov',
                'owner': USER, 'group': USER}],
        'h2': [{'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': top + '/h2/a/prod',
                'formats': ['pem', 'jks'], 'owner': USER}],
        'h3': [{'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': top + '/h3/opt/geodrill/dov',
                'owner': USER, 'group': USER}],
    }
    import json
    return json.dumps({'all': {
        'vars': {'ansible_connection': 'local', 'dov_state_dir': top + '/state', 'dov_lab_dir': top + '/lab',
                 'dov_issuer': 'lab', 'dov_lab_standin': False, 'dov_lab_standin_port': port, 'dov_verify': False,
                 'dov_jks_password': 'lab-only-password',
                 'dov_organisation': {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701',
                                      'contact_email': 'it@geolab.example'},
                 'dov_applications': [{'name': 'Geodrill', 'description': 'Boorgegevens',
                                       'environments': {'oefen': {'cn': 'geolab.be/dov-services/oefen/Geodrill'}}}]},
        'hosts': dict((name, {'dov_certificates': entries}) for name, entries in hosts.items())}})


def swapping_keytool(top, service):
    """A JAVA_HOME whose keytool first swaps h2's dest_dir for a link to ``service`` as the app user
    (the race of the probe, made deterministic), then runs the real keytool."""
    home = os.path.join(top, 'java')
    os.makedirs(os.path.join(home, 'bin'))
    script = os.path.join(home, 'bin', 'keytool')
    with open(script, 'w') as handle:
        handle.write('#!/bin/sh\n'
                     'if [ ! -e {top}/swapped ]; then\n'
                     '  touch {top}/swapped\n'
                     '  runuser -u {user} -- sh -c "mv {top}/h2/a/prod {top}/h2/a/prod.away && ln -s {service} {top}/h2/a/prod"\n'
                     'fi\n'
                     'exec {keytool} "$@"\n'.format(top=top, user=USER, service=service,
                                                    keytool=os.path.realpath(shutil.which('keytool'))))
    os.chmod(script, 0o755)
    return home


def test_an_app_user_who_swaps_dest_dir_for_a_link_mid_run_changes_nothing_outside_dest_dir(ansible, world):
    top = world
    service = os.path.join(top, 'other-service')
    os.makedirs(service, mode=0o700)
    for name in ('key.pem', 'cert.pem'):
        with open(os.path.join(service, name), 'wb') as handle:
            handle.write(b"another service's %s\n" % name.encode())
        os.chmod(os.path.join(service, name), 0o600)
    os.makedirs(top + '/h2/a/prod')
    for path in (top + '/h2', top + '/h2/a', top + '/h2/a/prod'):
        shutil.chown(path, USER, USER)
    with open(os.path.join(top, 'hosts.yml'), 'w') as handle:
        handle.write(inventory(top, free_port()))
    before = state_of(service)

    run = ansible.playbook(PLAYBOOK, inventory=os.path.join(top, 'hosts.yml'),
                           env={'JAVA_HOME': swapping_keytool(top, service)})
    assert os.path.exists(top + '/swapped'), run        # keytool ran, and the swap happened while it did
    assert run.rc != 0, run
    assert state_of(service) == before                   # not chowned, nothing written there
    message = ('%s/h2/a/prod is a symbolic link (to %s); vlaanderen.dov does not follow a link that another user '
               'could have made' % (top, service))
    assert message in run.stdout, run.stdout
    assert 'h2' in [record['host'] for record in run.failed] and 'h3' not in [r['host'] for r in run.failed], run.failed

    # The key holder and the other host made their folders alike: dest_dir 0750 for the owner, parents
    # 0755 and root's.
    for host in ('h1', 'h3'):
        assert mode_owner(top + '/%s/opt/geodrill/dov' % host) == ('0750', USER)
        assert mode_owner(top + '/%s/opt/geodrill' % host) == ('0755', 'root')
        assert mode_owner(top + '/%s/opt' % host) == ('0755', 'root')
        assert mode_owner(top + '/%s/opt/geodrill/dov/key.pem' % host) == ('0600', USER)

    # The next run meets the link again and says so; still nothing outside dest_dir changes.
    again = ansible.playbook(PLAYBOOK, inventory=os.path.join(top, 'hosts.yml'))
    assert again.rc != 0 and message in again.stdout, again
    assert state_of(service) == before
