# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: dov_cn
short_description: Build a DOV Common Name
version_added: 0.1.0
description:
  - "Builds C(<organisation>/dov-services/<environment>/<application>) and checks every part:
    the organisation is a domain name, the environment one of C(productie), C(oefen),
    C(ontwikkel), the application has no C(/), and the CN fits in 64 characters."
  - The same plugin file also holds C(dov_cn_parse) (split a CN) and C(dov_endpoint) (base URL
    of an environment).
author: vlaanderen.dov developers
positional: environment, application
options:
  _input:
    description: The organisation's domain name, for example C(geolab.be).
    type: str
    required: true
  environment:
    description: C(productie), C(oefen) or C(ontwikkel).
    type: str
    required: true
  application:
    description: The calling application's name as DOV knows it.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: The CN of Geodrill on oefen
  ansible.builtin.debug:
    msg: "{{ 'geolab.be' | vlaanderen.dov.dov_cn('oefen', 'Geodrill') }}"
  # geolab.be/dov-services/oefen/Geodrill

- name: The parts of a CN, trailing slash tolerated
  ansible.builtin.debug:
    msg: "{{ 'www.omgeving.be/dov-services/ontwikkel/dov-client1/' | vlaanderen.dov.dov_cn_parse }}"
  # {organisation: www.omgeving.be, service: dov-services, environment: ontwikkel,
  #  application: dov-client1, trailing_slash: true}

- name: The base URL of oefen
  ansible.builtin.debug:
    msg: "{{ 'oefen' | vlaanderen.dov.dov_endpoint }}"
'''

RETURN = r'''
_value:
  description: The CN.
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible_collections.vlaanderen.dov.plugins.module_utils import cn
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError


def dov_cn(organisation, environment, application):
    try:
        return cn.build_cn(organisation, environment, application)
    except DovError as error:
        raise AnsibleFilterError(str(error))


def dov_cn_parse(common_name):
    try:
        return cn.parse_cn(common_name)
    except DovError as error:
        raise AnsibleFilterError(str(error))


def dov_endpoint(environment, overrides=None):
    try:
        return cn.endpoint(environment, overrides)
    except DovError as error:
        raise AnsibleFilterError(str(error))


class FilterModule(object):

    def filters(self):
        return {
            'dov_cn': dov_cn,
            'dov_cn_parse': dov_cn_parse,
            'dov_endpoint': dov_endpoint,
        }
