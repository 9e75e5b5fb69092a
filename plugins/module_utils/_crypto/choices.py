# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""What a new key and a PKCS#12 bundle may be: the one list of each, that ``pki`` and
``keystores`` check and that the argument specs (``_argspec``) offer as choices.

A file of its own, without imports, so that an argument spec can offer the choices without
loading python-cryptography (a re-run of host_certificates that changes nothing never does).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

KEY_TYPES = ('rsa', 'ec')
RSA_KEY_SIZES = (2048, 3072, 4096)
CURVES = ('secp256r1', 'secp384r1')
# auto: modern where the host's cryptography writes it, else legacy (keystores.resolve_profile)
PKCS12_PROFILES = ('auto', 'modern', 'legacy')
