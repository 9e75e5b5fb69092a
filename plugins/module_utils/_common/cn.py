# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""DOV's Common Name policy: ``<organisation>/dov-services/<environment>/<application>``.

DOV assigns the CN after the access request; it is used as-is in the CSR. Real CNs:
``geolab.be/dov-services/oefen/Geodrill`` and
``www.omgeving.be/dov-services/ontwikkel/dov-client1/`` (one trailing ``/`` occurs in the wild).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

SERVICE = 'dov-services'
ENVIRONMENTS = ('productie', 'oefen', 'ontwikkel')
# ontwikkel is DOV's own; an organisation can ask for productie and oefen only.
REQUESTABLE_ENVIRONMENTS = ('productie', 'oefen')
# X.509 (RFC 5280, ub-common-name) caps a CN at 64 characters; VO-DCBaaS cannot issue longer.
MAX_CN_LENGTH = 64
# cn_policy: 'strict' checks the shape above, 'off' takes a CN that DOV assigned in another shape as-is.
POLICIES = ('strict', 'off')

# Where an organisation asks DOV for access (a CN) and for rights.
MELDPUNT = 'meldpunt@dov.vlaanderen.be'
# The health call the mTLS check asks for, and how long one check may take (seconds).
DEFAULT_HEALTH_PATH = 'dov-xdov-server/logs/chucknorris'
DEFAULT_CHECK_TIMEOUT = 15

ENDPOINTS = {
    'productie': 'https://services.dov.vlaanderen.be/',
    'oefen': 'https://services-oefen.dov.vlaanderen.be/',
    'ontwikkel': 'https://services-ontwikkel.dov.vlaanderen.be/',
}

_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
_DOMAIN = re.compile(r'^%s(?:\.%s)+\Z' % (_LABEL, _LABEL))
_APPLICATION = re.compile(r'^[^/\s\x00-\x1f\x7f](?:[^/\x00-\x1f\x7f]*[^/\s\x00-\x1f\x7f])?\Z')


def environment_advice(environment):
    """What to write instead of an unknown environment: only what an organisation may write
    (productie, oefen; DOV's own ontwikkel is not offered), the closest first when it looks like
    a typo."""
    close = difflib.get_close_matches(str(environment).lower(), REQUESTABLE_ENVIRONMENTS, n=1, cutoff=0.5)
    return ('Did you mean %r? ' % close[0] if close else '') + 'Use %s.' % ' or '.join(REQUESTABLE_ENVIRONMENTS)


def check_environment(environment, allowed=ENVIRONMENTS):
    """Return the environment if it is one of ``allowed``, else raise DovError."""
    if environment not in allowed:
        raise DovError("Unknown DOV environment %r. %s" % (environment, environment_advice(environment)))
    return environment


def check_organisation(organisation):
    if not organisation:
        raise DovError(
            "The organisation part of the CN is empty. "
            "Use the organisation's domain name, for example 'geolab.be'.")
    if not _DOMAIN.match(organisation):
        raise DovError(
            "The organisation part of the CN, %r, is not a domain name. "
            "DOV uses the organisation's domain name there, for example 'geolab.be'." % organisation)
    return organisation


def check_application(application):
    if not application:
        raise DovError(
            "The application part of the CN is empty. "
            "Use the name of the calling application, for example 'Geodrill'.")
    if not _APPLICATION.match(application):
        raise DovError(
            "The application part of the CN, %r, contains a '/', a control character or "
            "leading/trailing white space. Use the application name as DOV wrote it, for example "
            "'Geodrill'." % application)
    return application


def check_line_breaks(common_name):
    """Refuse a CN with a line break or another control character, whatever the CN policy: it
    would split the lines of the request mail, the handover packet and the logs; and one that is
    not ASCII (VO-PKI CNs are)."""
    bad = [char for char in common_name if ord(char) < 32 or ord(char) == 127]
    if bad:
        raise DovError(
            "The CN %r contains a line break or another control character (%s). Copy the CN from DOV's "
            "answer again, on one line." % (common_name, ', '.join(sorted(set(repr(char) for char in bad)))))
    foreign = [char for char in common_name if ord(char) > 126]
    if foreign:
        # VO-PKI CNs are ASCII; a look-alike (a Cyrillic 'е' for 'e') makes a CN that DOV never granted.
        import unicodedata
        named = sorted(set('%r (%s)' % (char, unicodedata.name(char, 'U+%04X' % ord(char))) for char in foreign))
        raise DovError(
            "The CN %r contains %s, which is not ASCII; VO-PKI CNs are plain ASCII (a look-alike letter from "
            "another script gives a CN that DOV never granted). Type the CN again, or copy it from DOV's answer."
            % (common_name, ', '.join(named)))
    return common_name


def check_length(common_name):
    if len(common_name) > MAX_CN_LENGTH:
        raise DovError(
            "The CN %r is %d characters long; a certificate's CN holds at most %d. "
            "Ask DOV for a shorter application name." % (common_name, len(common_name), MAX_CN_LENGTH))
    return common_name


def build_cn(organisation, environment, application):
    """``build_cn('geolab.be', 'oefen', 'Geodrill')`` -> ``'geolab.be/dov-services/oefen/Geodrill'``."""
    check_organisation(organisation)
    check_environment(environment)
    check_application(application)
    return check_length('/'.join((organisation, SERVICE, environment, application)))


def parse_cn(common_name):
    """Split a DOV CN into its parts, or raise DovError naming the part that is wrong.

    Returns a dict with ``organisation``, ``service``, ``environment``, ``application`` and
    ``trailing_slash`` (whether the CN ends in one ``/``, as some real CNs do).
    """
    if not isinstance(common_name, str) or not common_name.strip():
        raise DovError(
            "The CN is empty. Use the CN that DOV sent back, for example "
            "'geolab.be/dov-services/oefen/Geodrill'.")
    check_line_breaks(common_name)
    trailing_slash = common_name.endswith('/')
    body = common_name[:-1] if trailing_slash else common_name
    parts = body.split('/')
    if len(parts) != 4:
        raise DovError(
            "The CN %r has %d parts separated by '/', not 4. A DOV CN reads "
            "<organisation>/dov-services/<environment>/<application>, for example "
            "'geolab.be/dov-services/oefen/Geodrill'." % (common_name, len(parts)))
    organisation, service, environment, application = parts
    check_organisation(organisation)
    if service != SERVICE:
        raise DovError(
            "The service part of the CN %r is %r. DOV certificates always say %r there."
            % (common_name, service, SERVICE))
    if environment not in ENVIRONMENTS:
        raise DovError(
            "The environment part of the CN %r is %r. %s"
            % (common_name, environment, environment_advice(environment)))
    check_application(application)
    check_length(common_name)
    return {
        'organisation': organisation,
        'service': service,
        'environment': environment,
        'application': application,
        'trailing_slash': trailing_slash,
    }


def cn_parts(common_name, policy='strict'):
    """The parts of a CN under ``policy``: 'strict' raises on a non-DOV shape, 'off' returns
    what can be read (None for parts that are not there) and only enforces the length limit."""
    if policy == 'strict':
        return parse_cn(common_name)
    if not common_name:
        raise DovError("The CN is empty. Use the CN that DOV sent back.")
    check_length(common_name)
    check_line_breaks(common_name)
    try:
        return parse_cn(common_name)
    except DovError:
        return {'organisation': None, 'service': None, 'environment': None,
                'application': None, 'trailing_slash': common_name.endswith('/')}


def endpoint(environment, overrides=None):
    """The base URL of a DOV environment, ``overrides`` (a dict) first."""
    if overrides and environment in overrides:
        url = overrides[environment]
    else:
        url = ENDPOINTS[check_environment(environment)]
    return url if url.endswith('/') else url + '/'
