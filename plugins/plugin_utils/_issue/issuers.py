# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""Issuers: how a CSR becomes a certificate (``dov_issuer``); ``issue`` checks and dispatches.

- ``manual`` (default, the real VO-DCBaaS flow): the handover folder per application and
  environment in the state folder (handover: the CSR, an instruction, an ``inbox/``). The
  newest file dropped in the inbox is picked up; while it is empty the pair is
  ``waiting_for_certificate``, which is not a failure.
- ``command``: ``dov_issuer_command`` (run by programs.run_program) gets the CSR (PEM) on stdin
  and the variables ``DOV_CN``, ``DOV_ENVIRONMENT``, ``DOV_APPLICATION``, ``DOV_CSR_PATH``; it
  prints the certificate (PEM or base64 DER) on stdout.
- ``lab``: the lab CA in ``<state_dir>/lab-ca/`` signs the CSR; refused for ``productie``
  unless explicitly allowed.

Plain functions, run on the controller by the role's action plugin. Nothing here parses or
validates the certificate that comes back: the caller does that with the certificate checks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import collections
import os

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import programs
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state.handover import as_bytes
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab.labca import FILES as LAB_CA_FILES, LabCA, load_signable_csr

KINDS = ('manual', 'command', 'lab')
WAITING = 'waiting_for_certificate'
ISSUED = 'issued'

LAB_CA_FOLDER = 'lab-ca'

DEFAULT_TIMEOUT = 300
_ISSUE_FIELDS = 'state certificate source message changed ca_bundle path'


class IssueResult(collections.namedtuple('IssueResult', _ISSUE_FIELDS, defaults=(False, None, None))):
    """What :func:`issue` returns.

    ``state`` is ``'issued'`` (``certificate`` holds the bytes as a certificate file would:
    PEM, DER or PKCS#7) or ``'waiting_for_certificate'`` (``certificate`` is None).
    ``source`` says where the certificate came from, ``message`` is one line for the run's
    output, ``changed`` whether files in the state folder were written, ``ca_bundle`` the
    lab CA's bundle path (lab only) and ``path`` the inbox file picked up (manual only).
    """

    __slots__ = ()

    @property
    def issued(self):
        return self.state == ISSUED

    def as_dict(self):
        """For a task result: everything but the certificate bytes."""
        return {'state': self.state, 'source': self.source, 'message': self.message, 'changed': self.changed,
                'ca_bundle': self.ca_bundle, 'path': self.path}

    def __repr__(self):
        return '<IssueResult %s from %s>' % (self.state, self.source)


# ---------------------------------------------------------------- command

def run_command_issuer(command, csr_pem, common_name, environment, application, csr_path, timeout=DEFAULT_TIMEOUT):
    """Run ``dov_issuer_command`` with the CSR on stdin; return its stdout (bytes, as printed).

    ``command`` is a string (run by the shell) or a list (run directly). The environment gets
    ``DOV_CN``, ``DOV_ENVIRONMENT``, ``DOV_APPLICATION`` and ``DOV_CSR_PATH``. A non-zero exit,
    a timeout or empty output is a DovError that names the program and its stderr.
    """
    if programs.is_empty_command(command):
        raise DovError("dov_issuer is 'command' but dov_issuer_command is empty. Set it to the program that turns a CSR into a certificate.")
    variables = {'DOV_CN': common_name, 'DOV_ENVIRONMENT': environment, 'DOV_APPLICATION': application,
                 'DOV_CSR_PATH': str(csr_path)}
    stdout, stderr = programs.run_program(command, as_bytes(csr_pem), variables, timeout, 'issuer command', 'dov_issuer_command',
                                          'dov_issuer_timeout')
    if not stdout.strip():
        raise DovError(
            "The issuer command %r printed nothing on stdout; %s. It must print the certificate (PEM or "
            "base64 DER) on stdout." % (programs.command_name(command), programs.trim_stderr(stderr)))
    return stdout


def certificate_bytes(output):
    """The certificate as a file would hold it: PEM stays PEM, base64 of DER becomes DER.

    Anything else is returned unchanged, for the certificate checks to name what it is.
    """
    output = as_bytes(output)
    if b'-----BEGIN' in output:
        return output
    compact = b''.join(output.split())
    if not compact:
        return output
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return output


# ---------------------------------------------------------------- lab

def lab_ca_folder(state_dir):
    return os.path.join(os.path.abspath(state_dir), LAB_CA_FOLDER)


def _refuse_productie(what):
    raise DovError(
        "The lab issuer does not issue for productie (%s): DOV does not trust the lab CA, so the "
        "certificate could never work there. Use dov_issuer manual or command for productie, or "
        "allow the lab explicitly (dov_lab_allow_productie in the role, allow_productie here) for a demo that only imitates productie." % what)


def lab_issue(state_dir, csr_pem, environment, allow_productie=False):
    """A lab certificate (PEM bytes) for the CSR, signed by the lab CA in ``<state_dir>/lab-ca/``.

    ``productie`` — in ``environment`` or in the CSR's CN — is refused unless
    ``allow_productie``; the lab CA is then not even created.
    """
    cn.check_environment(environment)
    if environment == 'productie' and not allow_productie:
        _refuse_productie("environment productie")
    csr = load_signable_csr(as_bytes(csr_pem))  # refuse a bad CSR before the lab CA is made
    if not allow_productie:
        for common_name in pki.common_names(csr.subject):
            if cn.cn_parts(common_name, policy='off')['environment'] == 'productie':
                _refuse_productie("the CN %r is a productie CN" % common_name)
    return _lab_ca(lab_ca_folder(state_dir)).sign_csr(csr_pem)


_LAB_CAS = {}


def _lab_ca(folder):
    """The lab CA of ``folder``, loaded once per process while its files stay the same: loading
    (and validating) its two RSA keys costs far more than signing, and one issue step signs
    for every pair."""
    try:
        stamp = tuple(os.stat(os.path.join(folder, name)).st_mtime_ns for name in sorted(LAB_CA_FILES.values()))
    except OSError:
        stamp = None
    cached = _LAB_CAS.get(folder)
    if stamp is not None and cached is not None and cached[0] == stamp:
        return cached[1]
    ca = LabCA.load_or_create(folder)
    stamp = tuple(os.stat(os.path.join(folder, name)).st_mtime_ns for name in sorted(LAB_CA_FILES.values()))
    _LAB_CAS[folder] = (stamp, ca)
    return ca


# ---------------------------------------------------------------- the entry point

def issue(kind, state_dir, application, environment, common_name, csr_pem, command=None, csr_path=None,
          timeout=DEFAULT_TIMEOUT, allow_productie=False, renewal=False):
    """Turn the pair's CSR into a certificate with issuer ``kind``; an :class:`IssueResult`.
    ``renewal`` (renew.yml): the manual issuer hands over in the renewal's own folder.

    Checks first (kind, application, environment, the CSR and its CN), then dispatches.
    """
    if kind not in KINDS:
        raise DovError("Unknown issuer %r (dov_issuer). Use one of: %s." % (kind, ', '.join(KINDS)))
    handover.check_pair(application, environment)
    handover.check_csr(csr_pem, common_name)

    if kind == 'manual':
        prepared = handover.prepare_handover(state_dir, application, environment, common_name, csr_pem, renewal)
        found = handover.pick_up(state_dir, application, environment, prepared.folder)
        if found is None:
            what = ('the renewed certificate. This is a renewal: upload %s in VO-DCBaaS as a new certificate for the '
                    'same application' if renewal else 'the certificate. Upload %s in VO-DCBaaS') % prepared.csr_path
            # Both ways to deliver the download: the inbox lives only as long as the state folder;
            # a job that throws its state folder away (AWX, CI) takes certificate_file from the project.
            deliver = ('' if renewal else ' (kept when this state folder persists between runs), or commit it in the '
                       'project and name it as certificate_file of %s/%s in the inventory (when the state folder is '
                       'thrown away with the job, as in AWX or CI)' % (application, environment))
            return IssueResult(
                WAITING, None, 'manual: %s' % prepared.inbox,
                "%s (%s): waiting for %s (template %s) and drop the result in %s%s%s."
                % (common_name, environment, what, handover.DCBAAS_TEMPLATE, prepared.inbox, os.sep, deliver),
                changed=prepared.changed)
        data, path = found
        return IssueResult(ISSUED, data, 'manual: %s' % path,
                           "%s (%s): picked up %s from the inbox." % (common_name, environment, path),
                           changed=prepared.changed, path=path)

    if kind == 'command':
        if not command:
            raise DovError("dov_issuer is 'command' but dov_issuer_command is empty. Set it to the program that turns a CSR into a certificate.")
        changed = False
        if csr_path is None:
            csr_path, changed = handover.store_csr(state_dir, application, environment, csr_pem)
        output = run_command_issuer(command, csr_pem, common_name, environment, application, csr_path, timeout=timeout)
        name = programs.command_name(command)
        return IssueResult(ISSUED, certificate_bytes(output), 'command: %s' % name,
                           "%s (%s): issued by the command %r." % (common_name, environment, name), changed=changed)

    folder = lab_ca_folder(state_dir)
    created = not os.path.isdir(folder)
    certificate = lab_issue(state_dir, csr_pem, environment, allow_productie=allow_productie)
    return IssueResult(ISSUED, certificate, 'lab: %s' % folder,
                       "%s (%s): issued by the lab CA in %s (not VO-PKI: for tests and demos only)."
                       % (common_name, environment, folder),
                       changed=created, ca_bundle=os.path.join(folder, LAB_CA_FILES['bundle']))
