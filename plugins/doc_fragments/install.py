# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # How a certificate is installed: module_utils/_argspec.py INSTALL_OPTIONS (certificate; host_certificates'
    # certificates[].install has the same options, documented there because a fragment cannot add suboptions).
    # The mode's default refers to O(group) of the vlaanderen.dov.files fragment.
    DOCUMENTATION = r'''
options:
  formats:
    description:
      - Which files to write. V(pem) writes C(cert.pem), C(chain.pem), C(fullchain.pem);
        V(pkcs12) writes C(bundle.p12); V(jks) writes C(keystore.jks).
      - V(jks) needs Java's C(keytool) on the host (C($JAVA_HOME/bin/keytool) or on C(PATH)) whenever
        C(keystore.jks) must be written. Without it the module fails and says to install a Java runtime
        or to use V(pkcs12), which Java reads too. An up-to-date C(keystore.jks) is checked without Java.
      - Files of a format that is no longer listed are left alone.
    type: list
    elements: str
    choices: [pem, pkcs12, jks]
    default: [pem]
  ca_bundle:
    description:
      - PEM file on the managed host with CA certificates, the VO-PKI issuing CA(s) and/or root.
      - When set, the certificate must chain to one of them (signature and validity of every link), and
        C(chain.pem), C(fullchain.pem) and the keystores get the intermediates from here.
      - When not set, the chain is not checked, and the chain files hold only the intermediates that
        came with the certificate (in a PKCS#7 file or a PEM bundle).
    type: path
  pkcs12_password:
    description:
      - Password of C(bundle.p12). Required when O(formats) contains V(pkcs12); checked before anything
        is written.
    type: str
  jks_password:
    description:
      - Password of C(keystore.jks), used as store password and as key password of the entry.
        Required when O(formats) contains V(jks); at least 6 characters (keytool's minimum).
    type: str
  pkcs12_profile:
    description:
      - Encryption of C(bundle.p12). V(modern) is AES-256-CBC with PBKDF2-SHA256 and a SHA-256 MAC,
        read by OpenSSL 3 and Java 12 or newer (and Java 8u301+, 11.0.12+).
      - V(legacy) is 3DES with SHA-1 and a SHA-1 MAC, for old Java 8 runtimes. Changing the profile
        rewrites the file.
      - V(auto) is V(modern) where the host's cryptography can write it (38 or newer), else V(legacy); the
        result's C(pkcs12_profile) says which, and a warning says why when it is V(legacy).
    type: str
    choices: [auto, modern, legacy]
    default: auto
  keystore_alias:
    description:
      - Alias of the key entry in the keystores (friendly name in PKCS#12). JKS stores aliases in
        lower case.
    type: str
    default: dov-client
  mode:
    description:
      - Mode of every file written, for example C('0640').
      - When not set, the PEM files are 0644, and the keystores 0600, or 0640 when O(group) is set.
      - Keystores hold the private key, so when O(formats) contains V(pkcs12) or V(jks) the mode may
        be at most C(0640); a more open mode is refused.
    type: raw
'''
