# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Documentation: dov_cn.yml, dov_cn_parse.yml and dov_endpoint.yml beside this file (one per filter).

from ansible.errors import AnsibleFilterError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError


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
