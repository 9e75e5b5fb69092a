# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The revocation handover of a retired pair (``retired: true``), on the controller.

A certificate taken off every host is still valid until its not_after: whoever has a copy of the
key can still call DOV with it. It must be revoked in VO-DCBaaS, which has no public API, so the
run hands it over, like the CSR of the manual issuer, in the pair's folder of the state folder:

    <state_dir>/<application>/<environment>/revocation/
        INSTRUCTIES.txt    what to revoke and how, in Dutch and English (CN, serial, SHA-256
                           fingerprint, not_after, issuer, the reason to choose)
        revocation.json    the record, machine-readable: per certificate its facts, the reason,
                           ``state`` (handed_over / requested / expired), ``via`` and ``at``

With the ``command`` issuer, ``dov_revoke_command`` (optional) is run instead of the handover,
once per certificate, the same way as ``dov_issuer_command`` (programs.run_program: its own
session, a timeout, stderr in the message). Its environment: ``DOV_REVOKE_SERIAL`` (upper-case
hex, as openssl prints it), ``DOV_REVOKE_COMMON_NAME``, ``DOV_REVOKE_FINGERPRINT`` (SHA-256,
colon-separated), ``DOV_REVOKE_NOT_AFTER``, ``DOV_REVOKE_REASON`` (one of REASONS) and
``DOV_REVOKE_REASON_RFC5280``, ``DOV_APPLICATION``, ``DOV_ENVIRONMENT``; stdin is empty. A
certificate is recorded as ``requested`` right after its command succeeded, so a failure later
does not repeat it; the failure itself is a DovError and the certificate is tried again next run.

The record is what keeps this from being repeated: a certificate already in it (by fingerprint)
is not handed over or requested again; a second call with the same certificates writes nothing
and runs nothing (``changed`` False). An expired certificate needs no revocation: it is recorded
as ``expired`` and no command runs for it. Every write is atomic (fsutil); nothing is written and
nothing runs in check mode, and every input is checked before the first write.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import json
import os
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn, fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issuers, programs
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload

FOLDER = 'revocation'
INSTRUCTIONS_FILE = 'INSTRUCTIES.txt'
RECORD_FILE = 'revocation.json'

HANDED_OVER = 'handed_over'
REQUESTED = 'requested'
EXPIRED = 'expired'

# reason: (Dutch, English, the RFC 5280 reason code a CA portal offers)
REASONS = {
    'application_retired': ('de toepassing is stopgezet', 'the application was retired', 'cessationOfOperation'),
    'server_decommissioned': ('de server is buiten gebruik gesteld', 'the server was decommissioned', 'cessationOfOperation'),
    'superseded': ('vervangen door een nieuw certificaat', 'superseded by a new certificate', 'superseded'),
    'key_compromise': ('de private sleutel is gelekt of verloren', 'the private key was compromised or lost', 'keyCompromise'),
}
DEFAULT_REASON = 'application_retired'

_SERIAL = re.compile(r'^[0-9A-F]+$')
_FINGERPRINT = re.compile(r'^([0-9A-F]{2}:){31}[0-9A-F]{2}$')
_TIME = '%Y-%m-%dT%H:%M:%SZ'


class RevocationResult(collections.namedtuple('RevocationResult', 'folder record_path instructions_path certificates written '
                                                                  'requested message')):
    """What :func:`hand_over` did (or, in check mode, would do).

    ``certificates``: the record's entries (facts, reason, state, via, at); ``written``: the files
    written; ``requested``: the serials the revoke command was run for; ``message``: one line per
    certificate for the run's output; ``changed``: whether anything was written or run.
    """

    __slots__ = ()

    @property
    def changed(self):
        return bool(self.written or self.requested)

    def as_dict(self):
        return {'folder': self.folder, 'record_path': self.record_path, 'instructions_path': self.instructions_path,
                'certificates': [dict(item) for item in self.certificates], 'written': list(self.written),
                'requested': list(self.requested), 'message': list(self.message), 'changed': self.changed}


# ---------------------------------------------------------------- input

def revocation_folder(state_dir, application, environment):
    """``<state_dir>/<application>/<environment>/revocation``."""
    return os.path.join(handover.pair_folder(state_dir, application, environment), FOLDER)


def check_reason(reason):
    if reason not in REASONS:
        raise DovError("The revocation reason %r is not known. Use one of: %s." % (reason, ', '.join(sorted(REASONS))))
    return reason


def certificate_facts(certificate, now=None):
    """The facts a revocation needs of one certificate: ``common_name``, ``serial``,
    ``fingerprint_sha256``, ``not_after``, ``subject``, ``issuer``.

    ``certificate`` is what the host phase reports of an installed certificate (a dict as
    certs.describe_certificate makes it) or the certificate itself (PEM or DER bytes; this needs
    cryptography, which the controller has).
    """
    if isinstance(certificate, (bytes, str)):
        from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs
        certificate = certs.describe_certificate(certload.load_certificates(certificate, 'The retired certificate')[0], now)
    if not isinstance(certificate, dict):
        raise DovError("A retired certificate was given as %s. Give its description (serial, fingerprint_sha256, "
                       "not_after, common_name) or its PEM." % type(certificate).__name__)
    facts = dict((name, certificate.get(name)) for name in
                 ('common_name', 'serial', 'fingerprint_sha256', 'not_after', 'subject', 'issuer'))
    serial = str(facts['serial'] or '').upper()
    if not _SERIAL.match(serial):
        raise DovError("The serial %r of a retired certificate is not hexadecimal. Give the serial as openssl prints "
                       "it (openssl x509 -noout -serial)." % (facts['serial'],))
    facts['serial'] = serial
    fingerprint = str(facts['fingerprint_sha256'] or '').upper()
    if not _FINGERPRINT.match(fingerprint):
        raise DovError("The SHA-256 fingerprint %r of the certificate %s is not 32 colon-separated hex bytes. Give it "
                       "as openssl prints it (openssl x509 -noout -fingerprint -sha256)." % (facts['fingerprint_sha256'], serial))
    facts['fingerprint_sha256'] = fingerprint
    try:
        datetime.datetime.strptime(str(facts['not_after']), _TIME)
    except ValueError:
        raise DovError("The not_after %r of the certificate %s is not a time like 2026-01-09T12:00:00Z. Give it in "
                       "that form (UTC)." % (facts['not_after'], serial))
    return facts


def _expired(facts, now):
    end = datetime.datetime.strptime(facts['not_after'], _TIME).replace(tzinfo=datetime.timezone.utc)
    return end <= now


# ---------------------------------------------------------------- the record

def read_record(state_dir, application, environment):
    """The pair's revocation record (a dict), or None when there is none."""
    path = os.path.join(revocation_folder(state_dir, application, environment), RECORD_FILE)
    if os.path.islink(path):
        raise DovError("%s is a symbolic link. Put the record itself there (or remove the link) and run again." % path)
    data = fsutil.read_bytes(path)
    if data is None:
        return None
    try:
        record = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get('version') != 1 or not isinstance(record.get('certificates'), list):
        raise DovError("%s is not a revocation record the collection can read. Move it away (the next run writes a new "
                       "one from what the hosts still hold) or restore it." % path)
    return record


def recorded_states(state_dir, application, environment):
    """fingerprint -> state (handed_over, requested, expired) of the certificates the record holds."""
    record = read_record(state_dir, application, environment) or {'certificates': []}
    return dict((item.get('fingerprint_sha256'), item.get('state')) for item in record['certificates'])


def _dump(record):
    return (json.dumps(record, indent=2, sort_keys=True) + '\n').encode('utf-8')


# ---------------------------------------------------------------- the instruction

def instructions_text(application, environment, certificates):
    """INSTRUCTIES.txt for the certificates still to revoke by hand (Dutch and English)."""
    lines = [u'vlaanderen.dov - certificaat intrekken in VO-DCBaaS / revoking the certificate in VO-DCBaaS',
             u'=' * 90, u'',
             u'Toepassing / application:      %s' % application,
             u'Omgeving / environment:        %s' % environment, u'']
    for number, item in enumerate(certificates, 1):
        dutch, english, code = REASONS[item['reason']]
        lines += [u'Certificaat / certificate %d' % number,
                  u'  Common Name (CN):            %s' % item['common_name'],
                  u'  Serienummer / serial:        %s' % item['serial'],
                  u'  SHA-256:                     %s' % item['fingerprint_sha256'],
                  u'  Geldig tot / not after:      %s' % item['not_after'],
                  u'  Uitgever / issuer:           %s' % (item.get('issuer') or '-'),
                  u'  Reden / reason:              %s / %s (%s)' % (dutch, english, code), u'']
    lines += [
        u'NEDERLANDS',
        u'De sleutel en het certificaat zijn van de servers gehaald, maar het certificaat blijft',
        u'geldig tot de datum hierboven. Trek het in, zodat niemand het nog kan gebruiken:',
        u'1. Meld je aan op VO-DCBaaS (%s) met de rol "%s".' % (handover.DCBAAS_URL, handover.DCBAAS_ROLE),
        u'2. Zoek het certificaat van de toepassing op met het serienummer of de CN hierboven en',
        u'   controleer de SHA-256-vingerafdruk: trek geen ander certificaat in.',
        u'3. Trek het in (revoke) met de reden hierboven. Intrekken kan niet ongedaan gemaakt worden.',
        u'4. Verdwijnt de toepassing definitief, laat het dan weten aan %s.' % cn.MELDPUNT,
        u'revocation.json in deze map houdt bij wat er is overgedragen; de playbook draagt hetzelfde',
        u'certificaat geen tweede keer over.',
        u'',
        u'ENGLISH',
        u'The key and the certificate were taken off the servers, but the certificate stays valid',
        u'until the date above. Revoke it, so that nobody can use it any more:',
        u'1. Log in to VO-DCBaaS (%s) with the role "%s".' % (handover.DCBAAS_URL, handover.DCBAAS_ROLE),
        u'2. Look up the certificate of the application by the serial or the CN above and check',
        u'   the SHA-256 fingerprint: do not revoke another certificate.',
        u'3. Revoke it with the reason above. A revocation cannot be undone.',
        u'4. If the application is gone for good, tell %s.' % cn.MELDPUNT,
        u'revocation.json in this folder records what was handed over; the playbook does not hand',
        u'the same certificate over a second time.',
        u'']
    return u'\n'.join(lines)


def _message(application, environment, item, instructions_path):
    where = '%s/%s' % (application, environment)
    if item['state'] == EXPIRED:
        return '%s: the certificate %s (CN %s) expired on %s; it needs no revocation.' % (
            where, item['serial'], item['common_name'], item['not_after'])
    if item['state'] == REQUESTED:
        return '%s: the revocation of the certificate %s (CN %s) was requested with %s on %s.' % (
            where, item['serial'], item['common_name'], item['via'], item['at'])
    return ('%s: revoke the certificate %s in VO-DCBaaS (CN %s, SHA-256 %s, valid until %s), reason: %s. '
            'The instruction is in %s.' % (where, item['serial'], item['common_name'], item['fingerprint_sha256'],
                                           item['not_after'], REASONS[item['reason']][1], instructions_path))


# ---------------------------------------------------------------- the entry point

def hand_over(state_dir, application, environment, common_name, certificates, reason=DEFAULT_REASON, command=None,
              timeout=issuers.DEFAULT_TIMEOUT, check_mode=False, now=None):
    """Hand over (or, with ``command``, request) the revocation of a retired pair's certificates.

    ``certificates``: what the hosts reported of the pair's certificates (dicts as
    certs.describe_certificate makes them, or PEM/DER bytes); the same certificate twice counts
    once. ``reason``: one of REASONS. ``command``: ``dov_revoke_command`` (a string run by the
    shell, or a list), given only with the ``command`` issuer; None writes the handover. Returns a
    :class:`RevocationResult`; raises DovError for bad input (nothing written) and for a failed
    command (the certificates requested before it stay recorded).
    """
    check_reason(reason)
    folder = revocation_folder(state_dir, application, environment)
    if command is not None and programs.is_empty_command(command):
        raise DovError("dov_revoke_command is empty. Set it to the program that revokes a certificate, or leave it out "
                       "to get the revocation handover in the state folder.")
    moment = validity.as_utc(now or validity.utcnow())
    stamp = moment.strftime(_TIME)
    facts, seen = [], set()
    for certificate in certificates or []:
        item = certificate_facts(certificate, moment)
        if item['common_name'] != common_name:
            raise DovError("The certificate %s carries the CN %r, not the CN %r of %s/%s. Nothing was handed over; "
                           "check which certificate the hosts reported for this pair." % (
                               item['serial'], item['common_name'], common_name, application, environment))
        if item['fingerprint_sha256'] not in seen:
            seen.add(item['fingerprint_sha256'])
            facts.append(item)
    record_path = os.path.join(folder, RECORD_FILE)
    instructions_path = os.path.join(folder, INSTRUCTIONS_FILE)
    for path in (folder, instructions_path):
        if os.path.islink(path):
            raise DovError("%s is a symbolic link. Nothing was handed over; remove the link and run again." % path)
    record = read_record(state_dir, application, environment) or {
        'version': 1, 'application': application, 'environment': environment, 'certificates': []}
    known = dict((item.get('fingerprint_sha256'), item) for item in record['certificates'])

    written, requested = [], []
    to_request = []
    for item in facts:
        entry = known.get(item['fingerprint_sha256'])
        if entry is not None and (entry.get('state') in (REQUESTED, EXPIRED) or command is None):
            continue                      # already handed over, requested, or nothing to do
        entry = dict(item, reason=reason, at=stamp)
        if _expired(item, moment):
            entry.update(state=EXPIRED, via=None)
        elif command is not None:
            to_request.append(entry)
            continue
        else:
            entry.update(state=HANDED_OVER, via=INSTRUCTIONS_FILE)
        if item['fingerprint_sha256'] in known:
            record['certificates'].remove(known[item['fingerprint_sha256']])
        record['certificates'].append(entry)
        known[item['fingerprint_sha256']] = entry

    def write(path, data):
        if os.path.islink(path):
            raise DovError("%s is a symbolic link. Remove the link and run again." % path)
        if fsutil.read_bytes(path) == data:
            return
        if not check_mode:
            fsutil.ensure_dir(folder)
            fsutil.atomic_write(path, data, mode=0o644)
        if path not in written:
            written.append(path)

    manual = [item for item in record['certificates'] if item['state'] == HANDED_OVER]
    if manual:
        write(instructions_path, instructions_text(application, environment, manual).encode('utf-8'))
    if record['certificates']:
        write(record_path, _dump(record))

    name = programs.command_name(command) if command is not None else None
    for entry in to_request:
        if not check_mode:
            variables = {
                'DOV_REVOKE_SERIAL': entry['serial'], 'DOV_REVOKE_COMMON_NAME': entry['common_name'],
                'DOV_REVOKE_FINGERPRINT': entry['fingerprint_sha256'], 'DOV_REVOKE_NOT_AFTER': entry['not_after'],
                'DOV_REVOKE_REASON': reason, 'DOV_REVOKE_REASON_RFC5280': REASONS[reason][2],
                'DOV_APPLICATION': application, 'DOV_ENVIRONMENT': environment}
            programs.run_program(command, b'', variables, timeout, 'revoke command', 'dov_revoke_command')
        entry.update(state=REQUESTED, via='the command %r' % name)
        previous = known.get(entry['fingerprint_sha256'])
        if previous is not None:
            record['certificates'].remove(previous)
        record['certificates'].append(entry)
        known[entry['fingerprint_sha256']] = entry
        requested.append(entry['serial'])
        write(record_path, _dump(record))

    fresh = set(item['fingerprint_sha256'] for item in record['certificates'] if item['at'] == stamp)
    message = [('(check mode: nothing was written or run) ' if check_mode and item['fingerprint_sha256'] in fresh else '')
               + _message(application, environment, item, instructions_path)
               for item in record['certificates'] if item['fingerprint_sha256'] in seen]
    return RevocationResult(folder, record_path, instructions_path if manual else None,
                            [dict(item) for item in record['certificates']], written, requested, message)


def retired_entries_in_use(retired, certificates):
    """Refuse ``dov_certificates`` entries of a retired pair that are not ``state: absent``.

    ``retired``: (application, environment) of the pairs marked ``retired: true``;
    ``certificates``: (host, entry) of every dov_certificates entry in the inventory.
    """
    retired = set(tuple(pair) for pair in retired)
    in_use = sorted('%s on %s' % (entry.get('dest_dir') or '?', host) for host, entry in certificates
                    if (entry.get('application'), entry.get('environment')) in retired
                    and (entry.get('state') or 'present') != 'absent')
    if in_use:
        raise DovError("A retired pair still has dov_certificates entries without state: absent (%s). Set state: absent "
                       "on them (or remove retired: true) and run again." % ', '.join(in_use))


def last_copies_without_revocation(pairs):
    """Refuse pairs whose every ``dov_certificates`` entry says ``state: absent`` but that are not
    ``retired: true``: that would take the certificate off its last host without its revocation -
    the hosts' files are the last record of it, and nothing would be handed over.

    ``pairs``: (pair key, retired, [host of each present entry], [host of each absent entry]).
    """
    gone = sorted('%s (%s)' % (key, ', '.join(sorted(set(absent)))) for key, retired, present, absent in pairs
                  if absent and not present and not retired)
    if gone:
        raise DovError("%s %s state: absent on every host but %s not retired: that takes %s certificate off its last "
                       "host without revoking it. Set retired: true on the pair (its revocation is handed over before "
                       "the files go), or keep one entry without state: absent." % (
                           ', '.join(gone), 'has' if len(gone) == 1 else 'have', 'is' if len(gone) == 1 else 'are',
                           'its' if len(gone) == 1 else 'their'))
