# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The server's trust and the way out of the mTLS check: module_utils/_argspec.py CHECK_OPTIONS (mtls_check;
    # host_certificates' certificates[].check has the same options, documented there because a fragment cannot
    # add suboptions).
    DOCUMENTATION = r'''
options:
  ca_bundle:
    description:
      - PEM file (or OpenSSL hashed folder) with the CAs trusted for the server's certificate.
        Default the system trust store.
    type: path
  proxy:
    description:
      - HTTP proxy that tunnels with CONNECT, for example C(http://proxy.example:3128).
      - Default C(https_proxy)/C(HTTPS_PROXY) of the host, unless C(no_proxy)/C(NO_PROXY) excludes
        the server (Python's rules - host names, domain suffixes, C(host:port), C(*); no CIDR ranges).
      - A password in this URL is masked in the output; passing it through C(HTTPS_PROXY) keeps it
        out of the task arguments altogether.
    type: str
'''
