# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""``lib``: the module_utils that host code imports on first use, the one way the host side delays
an import. Ansible ships module_utils as source and each module execution compiles what it
imports, so a re-run whose manifest shows that nothing changed never loads cryptography, only the
install and verify phases load pyOpenSSL, and what only ``state: absent``, the report or the metrics
file needs is loaded by those alone.

``lib.pki``, ``lib.certs`` ... are the modules themselves. The crypto-heavy ones check the
cryptography version first (``compat.check_cryptography``, a DovError naming what to install);
``lib.tlsprobe`` checks pyOpenSSL too when it is there (when it is missing, the probe says so).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class _Lazy(object):
    """Each attribute imports its module on first use (Python keeps it in sys.modules after that)."""

    def __getattr__(self, name):
        # Written out (not importlib) so that Ansible packs these module_utils with the module.
        if name == 'hostabsent':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostabsent as module
            return module
        if name == 'hostreport':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostreport as module
            return module
        if name == 'metrics':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._host import metrics as module
            return module
        if name == 'pki':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki as module
        elif name == 'keyfiles':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keyfiles as module
        elif name == 'certload':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certload as module
        elif name == 'certs':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs as module
        elif name == 'certinstall':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._host import certinstall as module
        elif name == 'certinfo':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo as module
        elif name == 'compat':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat as module
        elif name == 'keystores':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import keystores as module
        elif name == 'tlsprobe':
            from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
            from ansible_collections.vlaanderen.dov.plugins.module_utils._tls import tlsprobe as module
            compat.check_cryptography()
            if compat.pyopenssl_version() is not None:   # missing: the probe says so, when a check runs
                compat.check_pyopenssl()
            return module
        else:
            raise AttributeError(name)
        from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
        compat.check_cryptography()
        return module


lib = _Lazy()
