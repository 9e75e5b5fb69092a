# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The Prometheus textfile for node_exporter's textfile collector: ``<dov_metrics_dir>/vlaanderen_dov.prom``.

Prometheus conventions, as cert-manager and the x509 exporters use them: absolute timestamps in
seconds (an alert computes ``... - time()``), not "days left", which would be stale between runs.

Input, one dict per certificate installed on this host::

    {'application': 'Geodrill', 'environment': 'oefen',
     'common_name': 'geolab.be/dov-services/oefen/Geodrill', 'dest_dir': '/etc/dov/geodrill-oefen',
     'not_before': '2026-01-01T00:00:00Z', 'not_after': '2026-12-21T00:00:00Z',
     'check_success': True,                      # the last mTLS check; None when none ran
     'check_timestamp': '2026-12-01T19:00:00Z'}  # when it ran; None when none ran

Timestamps may be ISO 8601 text (``...Z`` or ``+00:00``), aware datetimes or numbers (epoch
seconds). The gauges, labelled ``application``, ``environment``, ``common_name``, ``dest_dir``:
``dov_certificate_not_after_timestamp_seconds``, ``dov_certificate_not_before_timestamp_seconds``,
``dov_certificate_check_success`` (1/0) and ``dov_certificate_check_timestamp_seconds`` (the last
two only for certificates whose check ran). ``write_textfile`` writes atomically (temp file in the
same folder, fsync, rename; the temp name ends in ``.tmp``, which the collector ignores) and only
when the content differs.

Runs on the hosts: standard library only (plus fsutil); nothing here needs cryptography.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

FILE_NAME = 'vlaanderen_dov.prom'
LABELS = ('application', 'environment', 'common_name', 'dest_dir')
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)

# (name, help, the record's field, how to turn it into a number)
GAUGES = (
    ('dov_certificate_not_after_timestamp_seconds',
     'End of validity of the DOV client certificate (not_after), in seconds since the epoch.', 'not_after'),
    ('dov_certificate_not_before_timestamp_seconds',
     'Start of validity of the DOV client certificate (not_before), in seconds since the epoch.', 'not_before'),
    ('dov_certificate_check_success',
     'Whether the last mTLS check from this host with the certificate was accepted (1) or not (0).', 'check_success'),
    ('dov_certificate_check_timestamp_seconds',
     'When the last mTLS check with the certificate ran, in seconds since the epoch.', 'check_timestamp'),
)


def timestamp(value, what='timestamp'):
    """Epoch seconds of ``value`` (ISO 8601 text, an aware datetime, or a number); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise DovError("The %s %r is not a moment in time. Give ISO 8601 text such as 2026-12-21T00:00:00Z." % (what, value))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (moment - EPOCH).total_seconds()
    text = str(value).strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    for pattern in ('%Y-%m-%dT%H:%M:%S%z', '%Y-%m-%dT%H:%M:%S.%f%z'):
        try:
            moment = datetime.datetime.strptime(text.replace('+00:00', '+0000'), pattern)
        except ValueError:
            continue
        return (moment - EPOCH).total_seconds()
    raise DovError("The %s %r is not ISO 8601 with a time zone. Give it as 2026-12-21T00:00:00Z." % (what, value))


def escape_label(value):
    """A label value as the text format wants it: backslash, double quote and new line escaped."""
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _number(value):
    return '%d' % value if float(value).is_integer() else repr(float(value))


def _labels(record):
    return ','.join('%s="%s"' % (name, escape_label(record.get(name) or '')) for name in LABELS)


def _value(field, record):
    if field == 'check_success':
        success = record.get('check_success')
        return None if success is None else (1 if success else 0)
    return timestamp(record.get(field), field)


def render_textfile(records):
    """The text of vlaanderen_dov.prom (Prometheus text format 0.0.4) for ``records``.

    Every family has its HELP and TYPE line once, then its samples, sorted, so the same
    certificates give the same bytes (and ``write_textfile`` need not rewrite).
    """
    ordered = sorted(records, key=lambda record: tuple(str(record.get(name) or '') for name in LABELS))
    lines = []
    for name, text, field in GAUGES:
        samples = [(record, _value(field, record)) for record in ordered]
        samples = [(record, value) for record, value in samples if value is not None]
        lines.append('# HELP %s %s' % (name, text))
        lines.append('# TYPE %s gauge' % name)
        for record, value in samples:
            lines.append('%s{%s} %s' % (name, _labels(record), _number(value)))
    return '\n'.join(lines) + '\n'


def textfile_path(metrics_dir):
    return os.path.join(metrics_dir, FILE_NAME)


def check_metrics_dir(metrics_dir):
    """Refuse a dov_metrics_dir that is not an existing folder (it is node_exporter's; we do not create it)."""
    if not metrics_dir or not os.path.isabs(metrics_dir):
        raise DovError("dov_metrics_dir %r is not an absolute path. Set it to node_exporter's textfile collector "
                       "folder, for example /var/lib/prometheus/node-exporter." % (metrics_dir,))
    if not os.path.isdir(metrics_dir):
        raise DovError("dov_metrics_dir %s does not exist or is not a folder. Create it (node_exporter's "
                       "--collector.textfile.directory) or leave dov_metrics_dir unset." % metrics_dir)
    return metrics_dir


def write_textfile(metrics_dir, records, check_mode=False, mode=0o644):
    """Write ``<metrics_dir>/vlaanderen_dov.prom`` atomically when its content differs; return whether it did
    (in check mode: whether it would)."""
    check_metrics_dir(metrics_dir)
    path = textfile_path(metrics_dir)
    data = render_textfile(records).encode('utf-8')
    if os.path.islink(path):
        raise DovError("%s is a symbolic link. Remove it: the metrics file is written in place, never through a link."
                       % path)
    if fsutil.read_bytes(path) == data:
        return False
    if not check_mode:
        fsutil.atomic_write(path, data, mode=mode)
    return True


# ---------------------------------------------------------------- what the last run wrote

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_FIELDS = dict((name, field) for name, _help, field in GAUGES)


def unescape_label(value):
    """The inverse of ``escape_label``."""
    return re.sub(r'\\(.)', lambda found: '\n' if found.group(1) == 'n' else found.group(1), value)


def key_of(record):
    return tuple(str(record.get(name) or '') for name in LABELS)


def parse_textfile(text):
    """{labels: record} of a vlaanderen_dov.prom this module wrote: the values as numbers
    (check_success as a bool). Lines it does not know are skipped."""
    found = {}
    for line in text.splitlines():
        sample = _SAMPLE.match(line.strip())
        if not sample or sample.group(1) not in _FIELDS:
            continue
        labels = dict((name, unescape_label(value)) for name, value in _LABEL.findall(sample.group(2)))
        try:
            value = float(sample.group(3))
        except ValueError:
            continue
        record = found.setdefault(key_of(labels), dict(labels))
        field = _FIELDS[sample.group(1)]
        record[field] = bool(value) if field == 'check_success' else value
    return found


def read_textfile(metrics_dir):
    """{labels: record} of the existing ``<metrics_dir>/vlaanderen_dov.prom``; {} when there is none
    (or it is a link: it is never read through one)."""
    path = textfile_path(metrics_dir)
    if os.path.islink(path):
        return {}
    data = fsutil.read_bytes(path)
    return parse_textfile(data.decode('utf-8', 'replace')) if data else {}


def merge(previous, current, replace):
    """The records to write: ``current`` (this run's, one per certificate it handled), each without a
    check of its own keeping the last check of the same certificate from ``previous``
    (``parse_textfile``'s); with ``replace`` false (a run that handled only some certificates of the
    host), also the previous records of the certificates this run did not handle."""
    merged = []
    for record in current:
        record = dict(record)
        last = previous.get(key_of(record)) or {}
        if record.get('check_success') is None and last.get('check_success') is not None:
            record['check_success'] = last['check_success']
            record['check_timestamp'] = last.get('check_timestamp')
        merged.append(record)
    if not replace:
        handled = set((record.get('application'), record.get('environment'), record.get('dest_dir')) for record in current)
        merged += [dict(record) for record in previous.values()
                   if (record.get('application'), record.get('environment'), record.get('dest_dir')) not in handled]
    return merged
