# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""report.yml on the host, and the host's metrics file.

``report`` describes what is installed for an entry as cert_info does (read-only);
``installed_certificates_or_refuse`` reads the installed certificate and chain, and refuses a cert
file that cannot be read. ``metrics_record`` and ``write_metrics`` turn a phase's results into
``<dov_metrics_dir>/vlaanderen_dov.prom`` (over metrics.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


from ansible_collections.vlaanderen.dov.plugins.module_utils._common import fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import metrics
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.lazy import lib
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.hostbase import entry_result
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import file_path, installed_certificates


def report(entry, renew_before_days=None, now=None):
    """What is installed for one entry, as cert_info describes it (read-only): ``installed`` is
    ``certinfo.certificate_info`` of the leaf (dates, days left, fingerprint, issuer, CN parts,
    needs_renewal), or None when nothing is installed."""
    result = entry_result(entry)
    try:
        found = installed_certificates_or_refuse(entry)
        result['installed'] = (lib.certinfo.certificate_info(lib.certinfo.leaf_of(found), renew_before_days, now)
                               if found else None)
        if found and result['installed']['common_name'] != entry['common_name']:
            result['error'] = ('The certificate in %s is for %r, not for %r. Run onboard.yml to install the certificate '
                               'of this pair.' % (entry['dest_dir'], result['installed']['common_name'], entry['common_name']))
    except DovError as error:
        result['installed'] = None
        result['error'] = str(error)
    return result


def installed_certificates_or_refuse(entry):
    """``installed.installed_certificates``; a cert file that exists but cannot be read is an error,
    not 'nothing installed'."""
    found = installed_certificates(entry)
    if not found and fsutil.read_managed(file_path(entry, 'cert')):
        raise DovError('%s cannot be read as a certificate. Run onboard.yml to install it again.' % file_path(entry, 'cert'))
    return found


# ---------------------------------------------------------------- the metrics file

def metrics_record(result, now):
    """The metrics record (metrics.py) of one entry's result, or None when no certificate is known
    (nothing installed, or the files were put back after a failed check) or the entry was taken off
    the host (``state: absent``: its lines leave the file with it)."""
    if result.get('state') == 'absent':
        return None
    described = result.get('installed') if result.get('installed') is not None else (
        result if result.get('not_after') else None)
    if not described or not described.get('not_after') or result.get('rolled_back'):
        return None
    check = result.get('check')
    return {'application': result['application'], 'environment': result['environment'],
            'common_name': described.get('common_name') or result.get('common_name'), 'dest_dir': result['dest_dir'],
            'not_before': described.get('not_before'), 'not_after': described['not_after'],
            'check_success': None if not check else check.get('verdict') == 'ok',
            'check_timestamp': now if check else None}


def write_metrics(metrics_dir, results, replace, check_mode=False, now=None):
    """``<metrics_dir>/vlaanderen_dov.prom`` from this phase's results, the last check of each
    certificate kept from the file when this phase ran none (``metrics.merge``). Returns
    ``{'path', 'written'}``; not a change of the certificates (``changed`` stays as it is)."""
    now = now or validity.utcnow_seconds()
    current = [record for record in (metrics_record(result, now) for result in results) if record]
    records = metrics.merge(metrics.read_textfile(metrics_dir), current, replace)
    written = metrics.write_textfile(metrics_dir, records, check_mode=check_mode)
    return {'path': metrics.textfile_path(metrics_dir), 'written': written}
