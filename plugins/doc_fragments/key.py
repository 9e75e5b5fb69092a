# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # A new key and the subject of its CSR: module_utils/_argspec.py KEY_OPTIONS (csr; host_certificates'
    # certificates[] has the same options, documented there because a fragment cannot add suboptions).
    DOCUMENTATION = r'''
options:
  key_type:
    description:
      - Type of a new key.
    type: str
    choices: [rsa, ec]
    default: rsa
  key_size:
    description:
      - Size of a new RSA key in bits. VO-PKI issues RSA 2048 today; smaller keys are refused.
    type: int
    choices: [2048, 3072, 4096]
    default: 2048
  curve:
    description:
      - Curve of a new EC key.
    type: str
    choices: [secp256r1, secp384r1]
    default: secp256r1
  subject:
    description:
      - Further subject fields of the CSR, besides the CN. Keys C(C), C(ST), C(L), C(O), C(OU),
        C(emailAddress); real VO-PKI certificates carry all of them.
    type: dict
    default: {}
  privatekey_passphrase:
    description:
      - Passphrase of the private key. A new key is encrypted with it; an existing key must open with it.
    type: str
'''
