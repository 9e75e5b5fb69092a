# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Time and the renewal window: the one home of both, for the hosts and the controller.

- ``DEFAULT_RENEW_BEFORE_DAYS`` (60) and ``in_renewal_window``: a certificate with this many days
  left or fewer (or expired) is due for renewal. cert_info's ``needs_renewal``, renew.yml's
  decision on the host (``rollover.renewal_due``), the onboard run's states and report.yml's all
  ask this one function.
- ``utcnow``: now, an aware UTC datetime (what validity is measured against);
  ``utcnow_seconds``: the same in whole seconds (what is written down: status.json, the lab CA,
  a mail's Date, the metrics file).
- ``as_utc``: an aware UTC datetime of a naive one (read as UTC) or an aware one;
  ``iso``: ``2026-12-21T10:00:00Z``; ``utc_text``: ``2026-12-21 10:00:00 UTC`` of epoch seconds.

Standard library only: the hosts' every-run path imports it without loading cryptography.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import time

UTC = datetime.timezone.utc
DEFAULT_RENEW_BEFORE_DAYS = 60


def in_renewal_window(days_left, before_days):
    """Whether a certificate with ``days_left`` whole days left (negative once expired) is due for
    renewal with a window of ``before_days``: at most that many days left, expired included.
    Unknown days left (None: no certificate) is never due."""
    if days_left is None:
        return False
    return days_left < 0 or days_left <= before_days


def utcnow():
    """Now, an aware UTC datetime."""
    return datetime.datetime.now(UTC)


def utcnow_seconds():
    """Now, an aware UTC datetime in whole seconds."""
    return utcnow().replace(microsecond=0)


def as_utc(moment):
    """``moment`` as an aware UTC datetime; a naive one is read as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment):
    """``2026-12-21T10:00:00Z`` of an aware datetime."""
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def utc_text(seconds):
    """``2026-12-21 10:00:00 UTC`` of a time in seconds since the epoch."""
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(seconds))
