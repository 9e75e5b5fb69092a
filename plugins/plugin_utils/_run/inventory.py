# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The inventory as the controller reads it: ``Inventory`` validates what the user wrote
(organisation, ``dov_applications``, each host's ``dov_certificates``) and cross-checks it, all
before the lock is taken and before anything changes. Its ``pairs`` are the
application/environment pairs, each with its CN, hosts and settings.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, fsutil, orgid
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._retire import revocation
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import FORMATS, file_names
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

# Names the state folder uses for itself: an application must not be called like one of them.
RESERVED_NAMES = ('status.json', 'lab-ca', 'lab-standin', 'reports')
MAX_APPLICATION_LENGTH = 64     # a CN is at most 64 characters, the application is part of it


def pair_key(application, environment):
    return '%s/%s' % (application, environment)


def check_application_name(name):
    """Refuse an application name that cannot be a folder of its own in the state folder."""
    text = str(name)
    if (text in RESERVED_NAMES or text.startswith('.') or '/' in text or '\\' in text
            or re.search(r'[\x00-\x1f\x7f]', text) or text != text.strip() or len(text) > MAX_APPLICATION_LENGTH):
        raise DovError("The application name %r cannot be used: it would collide with the state folder's own files "
                       "(%s, names starting with a dot), holds a '/', a backslash or a control character, or is longer "
                       "than %d characters. Use the application name as DOV wrote it in the CN, e.g. 'Geodrill'."
                       % (name, ', '.join(RESERVED_NAMES), MAX_APPLICATION_LENGTH))
    return text


def resolve_file(path, base_dir):
    """A path from the inventory: ``~`` expanded; a relative one is relative to ``base_dir``
    (the inventory file's folder)."""
    path = os.path.expanduser(str(path))
    return path if os.path.isabs(path) or not base_dir else os.path.join(base_dir, path)


class Pair(object):
    """One application/environment: one CN, one key, one certificate, one or more hosts."""

    def __init__(self, application, environment, common_name, description, cn_policy, certificate_file=None,
                 health_path=None):
        self.application = application
        self.environment = environment
        self.common_name = common_name
        self.description = description
        self.cn_policy = cn_policy
        self.certificate_file = certificate_file    # absolute path of a certificate given in the inventory
        self.health_path = health_path             # the application's own, else dov_health_path
        self.hosts = []          # [(host, entry)] of the entries with state: present
        self.absent = []         # [(host, entry)] of the entries with state: absent (taken off that host)
        self.retired = False     # environments.<env>.retired: true (taken off every host, revocation handed over)

    @property
    def key(self):
        return pair_key(self.application, self.environment)


class Inventory(object):
    """The validated inventory. Raises DovError listing every problem found."""

    def __init__(self, organisation, applications, host_certificates, cn_policy='strict', base_dir=None):
        problems = []
        self.organisation = organisation or {}
        if self.organisation.get('id') or self.organisation.get('id_type'):
            # on every run, not only when an access request is written: a typo is found the day it is made
            try:
                orgid.normalise(self.organisation.get('id_type') or 'kbo', self.organisation.get('id'))
            except DovError as error:
                problems.append('dov_organisation.id: %s' % error)
        self.applications = {}
        self.pairs = {}
        if not isinstance(applications, list) or not applications:
            raise DovError("dov_applications is empty. List the applications that call DOV, each with its "
                           "environments, e.g. [{name: Geodrill, environments: {oefen: {}}}].")
        seen_cns = {}
        for number, app in enumerate(applications, 1):
            name = (app or {}).get('name') if isinstance(app, dict) else None
            if not name or not str(name).strip():
                problems.append("dov_applications item %d has no name. Give each application a name." % number)
                continue
            try:
                check_application_name(name)
            except DovError as error:
                problems.append(str(error))
                continue
            if name in self.applications:
                problems.append("The application %r is listed twice in dov_applications. List it once, with all its "
                                "environments." % name)
                continue
            self.applications[name] = app
            environments = app.get('environments') or {}
            if not isinstance(environments, dict) or not environments:
                problems.append("The application %r has no environments. Give e.g. environments: {oefen: {}}." % name)
                continue
            for environment, settings in environments.items():
                settings = settings or {}
                try:
                    cn.check_environment(environment, cn.REQUESTABLE_ENVIRONMENTS)
                except DovError as error:
                    problems.append("Application %r: %s" % (name, error))
                    continue
                common_name = settings.get('cn')
                policy = settings.get('cn_policy') or cn_policy
                if common_name:
                    try:
                        parts = cn.cn_parts(common_name, policy)
                        if policy == 'strict' and parts['environment'] != environment:
                            problems.append(
                                "The CN %r is listed under %s/%s, but its environment part is %r. Put it under %r, "
                                "or correct the CN to the one DOV sent for %s."
                                % (common_name, name, environment, parts['environment'], parts['environment'],
                                   environment))
                    except DovError as error:
                        problems.append("Application %r, environment %s: %s" % (name, environment, error))
                    other = seen_cns.get(common_name.rstrip('/'))
                    if other:
                        problems.append("The CN %r is given for both %s and %s/%s. Each application/environment has "
                                        "its own certificate and CN." % (common_name, other, name, environment))
                    seen_cns[common_name.rstrip('/')] = pair_key(name, environment)
                certificate_file = settings.get('certificate_file')
                if certificate_file:
                    certificate_file = resolve_file(certificate_file, base_dir)
                    if not os.path.isfile(certificate_file):
                        problems.append("%s: certificate_file %s does not exist. Give the certificate downloaded from "
                                        "VO-DCBaaS (PEM, DER .cer or PKCS#7), relative to the inventory's folder."
                                        % (pair_key(name, environment), certificate_file))
                self.pairs[pair_key(name, environment)] = Pair(
                    name, environment, common_name, app.get('description'), policy, certificate_file or None,
                    app.get('health_path'))
                retired = settings.get('retired', False)
                if not isinstance(retired, bool):
                    problems.append("%s: retired is %r, not true or false. Write retired: true to take the pair off "
                                    "every host and hand over its revocation, or leave it out." % (pair_key(name, environment), retired))
                self.pairs[pair_key(name, environment)].retired = retired is True
        for host in host_certificates:
            entries = host_certificates[host]
            if entries is None:
                continue
            if not isinstance(entries, list):
                problems.append("Host %s: dov_certificates must be a list of {application, environment, dest_dir}." % host)
                continue
            seen = set()
            used_dirs = {}
            for entry in entries:
                if not isinstance(entry, dict):
                    problems.append("Host %s: each dov_certificates item is a dict with application, environment and "
                                    "dest_dir." % host)
                    continue
                application, environment = entry.get('application'), entry.get('environment')
                key = pair_key(application, environment)
                if application not in self.applications:
                    problems.append("Host %s names the application %r, which is not in dov_applications (%s). Add it "
                                    "there, or correct the name." % (host, application, ', '.join(sorted(self.applications))))
                    continue
                if key not in self.pairs:
                    problems.append("Host %s names %s, but the application %r has no environment %r in "
                                    "dov_applications. Add it there, or correct the environment."
                                    % (host, key, application, environment))
                    continue
                if key in seen:
                    problems.append("Host %s lists %s twice. One certificate per application/environment and host." % (host, key))
                    continue
                seen.add(key)
                dest_dir = entry.get('dest_dir')
                problem = fsutil.path_problem(dest_dir) if isinstance(dest_dir, str) else 'is not a path'
                if problem:
                    problems.append("Host %s, %s: dest_dir %r %s. Give the folder where the application reads its "
                                    "certificate as a plain absolute path, e.g. /opt/%s/dov."
                                    % (host, key, dest_dir, problem, str(application).lower()))
                    continue
                bad_path = [(name, entry[name], fsutil.path_problem(entry[name]) if isinstance(entry[name], str)
                             else 'is not a path') for name in ('privatekey_path',) if entry.get(name) is not None]
                bad_path = [item for item in bad_path if item[2]]
                if bad_path:
                    problems.append("Host %s, %s: %s %r %s. Give a plain absolute path, or leave it out (key.pem in "
                                    "dest_dir)." % ((host, key) + bad_path[0]))
                    continue
                folder = os.path.normpath(fsutil.normal_path(dest_dir))    # /x/shared and /x/shared/ are one folder
                if folder in used_dirs:
                    problems.append("Host %s: %s and %s both use dest_dir %s. Each certificate needs its own folder "
                                    "(they would share one key.pem and overwrite each other's files)."
                                    % (host, used_dirs[folder], key, dest_dir))
                    continue
                used_dirs[folder] = key
                formats = entry.get('formats') or ['pem']
                unknown = [f for f in formats if f not in FORMATS]
                if unknown:
                    problems.append("Host %s, %s: unknown format(s) %s. Use pem, pkcs12 and/or jks."
                                    % (host, key, ', '.join(map(str, unknown))))
                    continue
                if entry.get('files') is not None:
                    try:
                        if not isinstance(entry['files'], dict):
                            raise DovError("files is not a mapping of kinds to file names. Write it as, for example, "
                                           "{key: client.key, cert: client.crt}.")
                        file_names(entry['files'])
                    except DovError as error:
                        problems.append("Host %s, %s: %s" % (host, key, error))
                        continue
                state = entry.get('state', 'present')
                if state not in ('present', 'absent') or not isinstance(entry.get('force', False), bool):
                    problems.append("Host %s, %s: state is %r and force is %r. Use state: present or absent, and force: "
                                    "true or false." % (host, key, state, entry.get('force', False)))
                    continue
                (self.pairs[key].absent if state == 'absent' else self.pairs[key].hosts).append((host, entry))
        try:
            revocation.retired_entries_in_use(
                [(pair.application, pair.environment) for pair in self.pairs.values() if pair.retired],
                [(host, entry) for pair in self.pairs.values() for host, entry in pair.hosts])
        except DovError as error:
            problems.append(str(error))
        try:
            revocation.last_copies_without_revocation(
                [(key, pair.retired, [host for host, _entry in pair.hosts], [host for host, _entry in pair.absent])
                 for key, pair in sorted(self.pairs.items())])
        except DovError as error:
            problems.append(str(error))
        if problems:
            raise DovError('The inventory has %d problem(s); nothing was changed:\n- %s'
                           % (len(problems), '\n- '.join(problems)))
