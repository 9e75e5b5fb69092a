# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""A mail file sent once: the draft on disk and its send record ``<dest>.sent.json``.

The record lists every send of the file: the SHA-256 of the ``eml`` bytes, the time, the
Message-ID and the server. A file whose SHA-256 is in the record was sent already;
``send_once`` does not send it again unless forced. The mail itself (``AccessRequest``) and the
SMTP server (``SmtpServer``) are in ``accessmail.py``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

RECORD_SUFFIX = '.sent.json'


def record_path(dest):
    """The send record next to ``dest``: ``<dest>.sent.json``."""
    return dest + RECORD_SUFFIX


def load_record(dest):
    """The send record of ``dest`` (``{'sent': [...]}``), empty when there is none."""
    path = record_path(dest)
    data = fsutil.read_bytes(path)
    if data is None:
        return {'sent': []}
    try:
        record = json.loads(data.decode('utf-8'))
        if not isinstance(record, dict) or not isinstance(record.get('sent'), list):
            raise ValueError('no "sent" list')
    except ValueError as exc:
        raise DovError(
            "The send record %s cannot be read (%s). Move it away; without it the next run with "
            "send: true sends the request again." % (path, exc))
    return record


def previous_send(record, sha256):
    """The latest entry of ``record`` for content ``sha256``, or None."""
    found = [entry for entry in record['sent'] if isinstance(entry, dict) and entry.get('sha256') == sha256]
    return found[-1] if found else None


def record_bytes(record):
    return (json.dumps(record, indent=2, sort_keys=True) + '\n').encode('utf-8')


def write_record(dest, record, entry, mode=0o644):
    """Add ``entry`` to ``record`` and write it atomically next to ``dest``; return the record."""
    record = {'sent': list(record['sent']) + [entry]}
    fsutil.atomic_write(record_path(dest), record_bytes(record), mode=mode)
    return record


def write_draft(dest, eml, check_mode=False):
    """Write ``eml`` to ``dest`` (0644, atomically, missing folders 0700) unless it is there already.

    Checks first that ``dest`` is not a folder and that its send record is readable, so a
    refusal changes nothing. Returns ``{'changed': bool, 'before': bytes or None}``.
    """
    if os.path.isdir(dest):
        raise DovError("dest %s is a folder. Give the path of the .eml file, for example %s."
                       % (dest, os.path.join(dest, 'access-request.eml')))
    folder = os.path.dirname(os.path.abspath(dest))
    before = fsutil.read_bytes(dest)
    load_record(dest)
    fsutil.missing_dirs(folder)
    changed = before != eml
    if changed and not check_mode:
        fsutil.ensure_dir(folder)
        fsutil.atomic_write(dest, eml, mode=0o644)
    return {'changed': changed, 'before': before}


def send_once(dest, eml, server, force=False, check_mode=False, now=None):
    """Send ``eml`` (the content of ``dest``) unless this exact content was sent before.

    ``server`` is an SmtpServer. Returns a dict: ``sent`` (bool, sent now), ``would_send``
    (bool), ``sent_at`` (this send, or the earlier one), ``already_sent_at`` (the earlier send
    of this content, or None), ``message_id``. Records the send only after the server accepted
    the message; a failure raises DovError and records nothing.
    """
    record = load_record(dest)
    sha256 = hashlib.sha256(eml).hexdigest()
    earlier = previous_send(record, sha256)
    result = {
        'sent': False,
        'would_send': force or earlier is None,
        'sent_at': earlier['sent_at'] if earlier else None,
        'already_sent_at': earlier['sent_at'] if earlier else None,
        'message_id': earlier.get('message_id') if earlier else None,
    }
    if not result['would_send'] or check_mode:
        return result
    entry = server.send(eml, now=now)
    write_record(dest, record, entry)
    result.update(sent=True, sent_at=entry['sent_at'], message_id=entry['message_id'])
    return result
