# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The controller's part of ``state: absent`` and ``retired: true``, after the prepare calls.

The hosts removed the files of their ``state: absent`` entries in the prepare call (hostabsent.absent,
which also reports what was installed before it went), except those of a retired pair. Here, on
the controller:

- ``check_options`` refuses a ``dov_revoke_command`` without the ``command`` issuer and an unknown
  ``dov_revoke_reason``, in the plan step, before any host is touched;
- ``retire_pairs`` gives each retired pair its outcome: when every host of the pair can take it off
  (their prepare calls listed what would go, ``pending``, and removed nothing: the files are the
  last record of a certificate that is not revoked yet), the revocation handover
  (revocation.hand_over) of the certificates the hosts reported (and the one the state folder still
  caches), printed in the pair's messages; the pair's state is ``retired`` (``failed``, with the
  reason and without a handover, while a host refuses or was not reached, or when the handover or
  the revoke command failed: then the files stay for the next run);
- ``removals`` then gives the hosts' install calls the entries that remove the files, only after
  the revocation is on record;
- ``absent_errors`` lists per host the entries whose removal was refused, for the report step.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._retire import revocation
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import plan
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run.inventory import pair_key


def check_options(issuer, command, reason):
    """Refuse revocation settings that cannot work (nothing has changed yet)."""
    revocation.check_reason(reason)
    if command and issuer != 'command':
        raise DovError("dov_revoke_command is set, but dov_issuer is %s. Use it with dov_issuer: command, or leave it "
                       "out to get the revocation handover in the state folder." % issuer)


def _absent_results(prepared, host, application, environment):
    return [result for result in prepared.get(host) or []
            if result.get('state') == 'absent' and (result.get('application'), result.get('environment')) ==
            (application, environment)]


def absent_errors(prepared):
    """{host: ['<pair>: <why nothing was removed>']} of the state: absent entries that were refused."""
    errors = {}
    for host, results in sorted(prepared.items()):
        for result in results or []:
            if result.get('state') == 'absent' and result.get('error'):
                errors.setdefault(host, []).append('%s: %s' % (pair_key(result['application'], result['environment']),
                                                               result['error']))
    return errors


def retire_pairs(pairs, prepared, state_dir, issuer, command=None, reason=revocation.DEFAULT_REASON,
                 timeout=300, check_mode=False, now=None):
    """The outcome of every retired pair in ``pairs`` (changed in place: state, certificate,
    messages, revocation); ``prepared``: host -> its prepare results. Returns whether a handover
    was written or a revoke command run."""
    changed = False
    for key in sorted(pairs):
        info = pairs[key]
        if info.get('state') != 'retired':
            continue
        info.setdefault('messages', [])
        found, problems = [], []
        for host in info.get('retired_hosts') or []:
            results = _absent_results(prepared, host, info['application'], info['environment'])
            if not results:
                problems.append('%s was not reached in this run.' % host)
            for result in results:
                if result.get('error'):
                    problems.append('%s kept its files: %s' % (host, result['error']))
                else:
                    found.append(dict(result, host=host))
        if problems:
            info['state'] = 'failed'
            info['messages'].append('%s is retired, but not yet off every host: %s Its revocation is handed over once every '
                                    'host has taken it off; fix that and run again.' % (key, ' '.join(problems)))
            continue
        certificates = [result['installed_pem'] or result['installed'] for result in found
                        if result.get('installed_pem') or result.get('installed')]
        described = [result['installed'] for result in found if result.get('installed')]
        if described:
            info['certificate'] = described[0]
        cached = statefolder.stored_certificate(state_dir, info['application'], info['environment'])
        if cached:
            certificates.append(cached)
        if certificates:
            if not info.get('common_name'):
                info['state'] = 'failed'
                info['messages'].append('%s is retired, but has no CN in dov_applications, so the revocation of its '
                                        'certificate cannot be handed over; its files stay on the hosts. Give the '
                                        'pair its cn and run again.' % key)
                continue
            try:
                outcome = revocation.hand_over(state_dir, info['application'], info['environment'], info['common_name'],
                                               certificates, reason=reason,
                                               command=command if issuer == 'command' and command else None,
                                               timeout=timeout, check_mode=check_mode, now=now)
            except DovError as error:
                info['state'] = 'failed'
                info['messages'].append('%s: %s Its files stay on the hosts until the revocation is handed over.'
                                        % (key, error))
                continue
            info['revocation'] = outcome.as_dict()
            info['messages'].extend(outcome.message)
            changed = changed or outcome.changed
        # The revocation is on record (or there was nothing to revoke): now the files may go.
        for result in found:
            pending = result.get('pending')
            if pending:
                info.setdefault('removals', {})[result['host']] = list(pending)
                info['messages'].append('%s: %s %s from %s.' % (
                    key, 'would remove' if check_mode else 'removing', ', '.join(pending), result['host']))
    return changed


def removals(inventory, retired, defaults):
    """The install calls' entries that take a retired pair's files off its hosts, once its
    revocation was handed over or requested (``retire_pairs`` set ``removals``: host -> the paths
    that host's prepare call listed). {host: [entries]}."""
    install = {}
    for key, info in sorted(retired.items()):
        wanted = info.pop('removals', None) or {}
        if not wanted or key not in inventory.pairs:
            continue
        pair = inventory.pairs[key]
        for host, entry in pair.absent:
            if host in wanted:
                item = plan.absent_entry(pair, host, entry, defaults)
                item['remove'] = [path.rstrip('/') or '/' for path in wanted[host]]
                item.pop('notify', None)      # nothing is installed: no service to restart for it
                install.setdefault(host, []).append(item)
    return install
