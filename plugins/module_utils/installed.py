# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What is in a certificate entry's ``dest_dir`` now, as the host reads it (hostcerts' prepare and
verify): where each file is (``paths``, ``file_path``, with ``dov_certificates[].files``), the
installed certificate and chain (``installed_certificates``), and what the prepare phase reports
of it for the controller to trust or not (``found_installed``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.vlaanderen.dov.plugins.module_utils import fsutil
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError

KEY_NAME = 'key.pem'
CSR_NAME = 'csr.pem'
MISSING_CRYPTOGRAPHY = ('The Python library cryptography is needed on this host. Install it (pip install '
                        'cryptography, or the python3-cryptography package).')


def _crypto_ready():
    # Imported on first use: a re-run whose manifest shows that nothing changed never loads cryptography.
    from ansible_collections.vlaanderen.dov.plugins.module_utils import pki
    if not pki.HAS_CRYPTOGRAPHY:
        raise DovError(MISSING_CRYPTOGRAPHY)


def _certs():
    _crypto_ready()
    from ansible_collections.vlaanderen.dov.plugins.module_utils import certs
    return certs


def _certinstall():
    _crypto_ready()
    from ansible_collections.vlaanderen.dov.plugins.module_utils import certinstall
    return certinstall


def paths(entry):
    """(key path, CSR path) of an entry: ``<dest_dir>/key.pem`` and ``csr.pem`` beside the key,
    unless given as paths or renamed in ``files``."""
    files = entry.get('files') or {}
    key_path = entry.get('privatekey_path') or os.path.join(entry['dest_dir'], files.get('key') or KEY_NAME)
    csr_path = entry.get('csr_path') or os.path.join(os.path.dirname(key_path), files.get('csr') or CSR_NAME)
    return key_path, csr_path


def file_path(entry, kind):
    """Where the file of ``kind`` (cert, chain, fullchain, pkcs12, jks) is in the entry's dest_dir."""
    return os.path.join(entry['dest_dir'], _certinstall().file_names(entry.get('files'))[kind])


def installed_certificates(entry):
    """The certificates installed for ``entry`` now, leaf first: the cert file (``cert.pem``)
    with the chain file beside it, else those in ``bundle.p12`` or ``keystore.jks`` (with the
    entry's ``install`` passwords); [] when there are none or they cannot be read."""
    data = fsutil.read_bytes(file_path(entry, 'cert'))
    try:
        if data:
            found = _certs().load_certificates(data, 'cert.pem')
            chain = fsutil.read_bytes(file_path(entry, 'chain'))
            if len(found) == 1 and chain and chain.strip():
                found += _certs().load_certificates(chain, 'chain.pem')
            return found
        data = fsutil.read_bytes(file_path(entry, 'pkcs12'))
        password = (entry.get('install') or {}).get('pkcs12_password')
        if data and password:
            from cryptography.hazmat.primitives.serialization import pkcs12
            _key, leaf, chain = pkcs12.load_key_and_certificates(data, password.encode('utf-8'))
            return [leaf] + list(chain or []) if leaf is not None else []
        data = fsutil.read_bytes(file_path(entry, 'jks'))
        password = (entry.get('install') or {}).get('jks_password')
        if data and password:
            from ansible_collections.vlaanderen.dov.plugins.module_utils import keystores
            opened = keystores.open_jks(data, password)
            return list(opened[2]) if opened else []
    except (DovError, ValueError):
        return []
    return []


def serves(entry, plan):
    """Whether the installed certificate is for the planned (existing) key, has the entry's CN and
    has not expired: what the host can tell; the controller also checks client use and the CA."""
    if plan.key_created:
        return False
    found = installed_certificates(entry)
    if not found:
        return False
    leaf = found[0]
    return (_certs().public_key_fingerprint(leaf.public_key()) == plan.fingerprint
            and _certs().common_names(leaf.subject) == [entry['common_name']]
            and _certs().days_left(leaf) > 0)


def found_installed(entry):
    """What the prepare phase reports of the installed certificate, for the controller to check
    against the pair (key, CN, client authentication, CA bundle, expiry) and to hand to the
    pair's other hosts: ``(description, PEM of leaf + chain)``, or ``(None, None)``. And whether
    every file of the entry's formats exists (``complete``)."""
    found = installed_certificates(entry)
    if not found:
        return None, None, False
    formats = (entry.get('install') or {}).get('formats') or ['pem']
    primary = {'pem': 'cert', 'pkcs12': 'pkcs12', 'jks': 'jks'}
    complete = all(os.path.exists(file_path(entry, primary[name])) for name in formats)
    return (_certs().describe_certificate(found[0]), _certs().dump_pem(found).decode('ascii'), complete)
