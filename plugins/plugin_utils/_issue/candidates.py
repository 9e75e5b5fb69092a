# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""PRIVATE to vlaanderen.dov: what a downloaded certificate is, when it is not the pair's.

The manual issuer's inbox and ``certificate_file`` get what people download from VO-DCBaaS.
When none of the certificates in such a file is for the pair's key, ``Explainer.explain`` says
what the file is instead, in this order, and gives the one next step:

1. a CA certificate (issuing CA or root, ``CA:TRUE``): the client certificate is the other file
   of the download; nothing new to request;
2. expired or not valid yet: an old download, or a clock problem (with its dates);
3. the certificate of another pair of the inventory (its CN, or its key: a key a host of that pair
   holds, or a CSR in the state folder): named, with the inbox where it belongs;
4. this pair's CN but another key: a certificate for an earlier CSR of this pair (named when the
   state folder or a host knows it); the current CSR is the one to use;
5. none of these: a real mismatch, and only then the advice to upload the current CSR.

A file with several client certificates (a PKCS#7 download) gets one line per certificate.
Controller-only; plain functions over what the issue step already has (the inventory, the
prepare results, the state folder). Nothing is written.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import glob
import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, fsutil, validity
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload, certs, pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover, statefolder
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

# The advice a real mismatch gets, and only a real mismatch (tests and docs look for it).
SKEW = datetime.timedelta(seconds=300)   # as the issue step: a CA clock a little ahead is no reason
NEW_REQUEST = 'Upload the CSR of this pair in VO-DCBaaS and use the certificate that comes back.'


def _csr_fingerprint(path):
    data = fsutil.read_bytes(path)
    csr = pki.load_csr(data) if data else None
    return pki.public_key_fingerprint(csr.public_key()) if csr is not None else None


def _certificate_key(path):
    data = fsutil.read_bytes(path)
    if not data:
        return None
    try:
        return pki.public_key_fingerprint(certload.load_certificates(data, path)[0].public_key())
    except DovError:
        return None


class Explainer(object):
    """Names what a certificate that fits no key of its pair is (see the module doc).

    ``inventory``: the Inventory; ``prepared``: {host: [prepare results]}; ``state_dir``: the state
    folder. The keys the run knows are read once, on the first explanation."""

    def __init__(self, inventory, prepared, state_dir):
        self.inventory = inventory
        self.prepared = prepared or {}
        self.state_dir = state_dir
        self._keys = None

    # ------------------------------------------------------------ what the run knows

    def known_keys(self):
        """{public key SHA-256: [(pair key, where)]}: the keys on the pairs' hosts (live and
        staged), the CSRs of the state folder (handover and renewal folders) and its cached
        certificates."""
        if self._keys is not None:
            return self._keys
        keys = {}

        def add(fingerprint, pair_key, where):
            if fingerprint:
                keys.setdefault(fingerprint, []).append((pair_key, where))

        for host, results in sorted(self.prepared.items()):
            for result in results or []:
                pair_key = '%s/%s' % (result.get('application'), result.get('environment'))
                add(result.get('key_fingerprint'), pair_key, 'the key %s on %s' % (result.get('privatekey_path'), host))
                staged = result.get('staged') or {}
                add(staged.get('key_fingerprint'), pair_key, 'the staged key %s on %s' % (staged.get('key_path'), host))
        for pair_key, pair in sorted(self.inventory.pairs.items()):
            try:
                folder = handover.pair_folder(self.state_dir, pair.application, pair.environment)
            except DovError:
                continue
            for path in [os.path.join(folder, handover.CSR_FILE)] + sorted(
                    glob.glob(os.path.join(folder, 'renewal-*', handover.CSR_FILE))):
                add(_csr_fingerprint(path), pair_key, 'the CSR %s' % path)
            path = os.path.join(folder, statefolder.CERTIFICATE_FILE)
            add(_certificate_key(path), pair_key, 'the certificate kept in %s' % path)
        self._keys = keys
        return keys

    def pair_of_name(self, common_name):
        return next((key for key, pair in sorted(self.inventory.pairs.items()) if pair.common_name == common_name), None)

    def inbox(self, pair_key):
        pair = self.inventory.pairs[pair_key]
        return os.path.join(handover.pair_folder(self.state_dir, pair.application, pair.environment), handover.INBOX)

    # ------------------------------------------------------------ one certificate

    def what(self, cert, pair, fingerprint, now):
        """(kind, text, other pair key or None) for one certificate that is not for ``fingerprint``
        (the pair's key): kind is 'ca', 'not_yet_valid', 'expired', 'other_pair', 'earlier_csr' or
        'mismatch'."""
        label = certs.label(cert)
        if certs.is_ca(cert):
            return 'ca', 'the CA certificate %s (CA:TRUE), not a client certificate' % label, None
        start, end = compat.not_valid_before(cert), compat.not_valid_after(cert)
        dates = 'valid from %s to %s' % (validity.iso(start), validity.iso(end))
        if now + SKEW < start:
            return 'not_yet_valid', 'the certificate %s, which is not valid yet (%s; it is now %s)' % (
                label, dates, validity.iso(now)), None
        if now > end:
            return 'expired', 'the certificate %s, which expired on %s (%s)' % (label, validity.iso(end), dates), None
        key = pki.public_key_fingerprint(cert.public_key())
        names = pki.common_names(cert.subject)
        owners = [(other, where) for other, where in self.known_keys().get(key, []) if other != pair.key]
        if owners:
            return ('other_pair', 'the certificate of %s (its key is %s), not of %s' % (owners[0][0], owners[0][1], pair.key),
                    owners[0][0])
        other = self.pair_of_name(names[0]) if len(names) == 1 else None
        if other and other != pair.key:
            return 'other_pair', 'the certificate of %s (its CN is %s), not of %s' % (other, names[0], pair.key), other
        earlier = [where for owner, where in self.known_keys().get(key, []) if owner == pair.key]
        if names == [pair.common_name] or earlier:
            return 'earlier_csr', ('issued for another key: an earlier key of %s (%s), with the CN %s'
                                   % (pair.key, earlier[0] if earlier else 'a CSR made before the current one',
                                      names[0] if names else 'none')), None
        return 'mismatch', 'issued for another key (its public key SHA-256 is %s)' % key, None

    # ------------------------------------------------------------ the message

    def explain(self, found, pair, fingerprint, source, csr_where, now=None):
        """The message for ``found`` (the certificates of ``source``, none for ``fingerprint``)."""
        now = now or validity.utcnow()
        leaves = [cert for cert in found if not certs.is_ca(cert)]
        if not leaves:
            cas = ', '.join(certs.label(cert) for cert in found)
            return ("%s holds only CA certificate%s (%s, CA:TRUE), not the client certificate of %s. The client "
                    "certificate is the other file of the VO-DCBaaS download (CN %s): use that one instead; CA "
                    "certificates belong in dov_ca_bundle." % (source, 's' if len(found) > 1 else '', cas, pair.key,
                                                               pair.common_name))
        told = [self.what(cert, pair, fingerprint, now) for cert in leaves]
        kinds = set(item[0] for item in told)
        if len(leaves) == 1:
            kind, text, _other = told[0]
            head = '%s %s %s.' % (source, 'was' if kind in ('earlier_csr', 'mismatch') else 'is', text)
        else:
            kind = 'mismatch' if 'mismatch' in kinds else sorted(kinds)[0]
            each = ['%s (serial %s): %s' % (certs.label(cert), certs.serial_hex(cert), item[1]) for cert, item in zip(leaves, told)]
            head = '%s holds %d client certificates and none is for the key of %s: %s.' % (
                source, len(leaves), pair.key, '; '.join(each))
        if kind == 'not_yet_valid':
            return head + (" Check the controller's clock (and the hosts'): a certificate is used from its start date "
                           "on, and nothing was installed.")
        if kind == 'expired':
            return head + (" It is an old download: the certificate VO-DCBaaS issued for the current CSR of %s (%s) "
                           "is the one to use." % (pair.key, csr_where))
        if kind == 'other_pair':
            others = sorted(set(item[2] for item in told if item[0] == 'other_pair'))
            inboxes = ', '.join(self._inbox_text(key) for key in others)
            return head + (" It belongs in that pair's inbox (%s) or certificate_file; the certificate of %s is the "
                           "one VO-DCBaaS issued for %s." % (inboxes, pair.key, csr_where))
        if kind == 'earlier_csr':
            return head + (" It belongs to an earlier CSR of this pair; the current CSR is %s (public key SHA-256 %s): "
                           "use the certificate VO-DCBaaS issued for that one." % (csr_where, fingerprint))
        return head + ' ' + NEW_REQUEST + ' The current CSR is %s (public key SHA-256 %s).' % (csr_where, fingerprint)

    def _inbox_text(self, key):
        try:
            return self.inbox(key)
        except (KeyError, DovError):
            return key
