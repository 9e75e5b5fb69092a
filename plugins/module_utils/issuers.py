# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issuers: how a CSR becomes a certificate (``dov_issuer``).

- ``manual`` (default, the real VO-DCBaaS flow): a handover folder per application and
  environment in the state folder, ``<state_dir>/<application>/<environment>/``, with the CSR,
  an instruction in Dutch and English (``INSTRUCTIES.txt``) and an ``inbox/`` folder. The
  newest file dropped in the inbox is picked up; while it is empty the pair is
  ``waiting_for_certificate``, which is not a failure.
- ``command``: ``dov_issuer_command`` gets the CSR (PEM) on stdin and the variables
  ``DOV_CN``, ``DOV_ENVIRONMENT``, ``DOV_APPLICATION``, ``DOV_CSR_PATH``; it prints the
  certificate (PEM or base64 DER) on stdout.
- ``lab``: the lab CA in ``<state_dir>/lab-ca/`` signs the CSR; refused for ``productie``
  unless explicitly allowed.

Plain functions, run on the controller by the role's action plugin. Nothing here parses or
validates the certificate that comes back: the caller does that with the certificate checks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import binascii
import os
import re
import shlex
import signal
import subprocess

from ansible_collections.vlaanderen.dov.plugins.module_utils import cn, pki
from ansible_collections.vlaanderen.dov.plugins.module_utils.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils.fsutil import atomic_write, ensure_dir, read_bytes
from ansible_collections.vlaanderen.dov.plugins.module_utils.labca import FILES as LAB_CA_FILES, LabCA, load_signable_csr

KINDS = ('manual', 'command', 'lab')
WAITING = 'waiting_for_certificate'
ISSUED = 'issued'

CSR_FILE = 'csr.pem'
INSTRUCTIONS_FILE = 'INSTRUCTIES.txt'
INBOX = 'inbox'
LAB_CA_FOLDER = 'lab-ca'

DEFAULT_TIMEOUT = 300
# Names that browsers and copy tools give a file while it is still being written.
PARTIAL_SUFFIXES = ('.part', '.partial', '.crdownload', '.download', '.tmp', '.swp', '~')
STDERR_LIMIT = 1000

DCBAAS_URL = 'https://dcb.vlaanderen.be'
DCBAAS_ROLE = 'DCBaaS Certificatenbeheerder Organisatie'
DCBAAS_TEMPLATE = 'SSL Client'
USER_MANAGEMENT_URL = 'https://gebruikersbeheer.vlaanderen.be'

_PRIVATE_KEY_BLOCK = re.compile(r'-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)', re.S)


class HandoverResult:
    """What :func:`prepare_handover` made: the paths, and whether any file was (re)written."""

    def __init__(self, folder, csr_path, instructions_path, inbox, written):
        self.folder = folder
        self.csr_path = csr_path
        self.instructions_path = instructions_path
        self.inbox = inbox
        self.written = written

    @property
    def changed(self):
        return bool(self.written)

    def as_dict(self):
        return {'folder': self.folder, 'csr_path': self.csr_path, 'instructions_path': self.instructions_path,
                'inbox': self.inbox, 'written': list(self.written), 'changed': self.changed}


class IssueResult:
    """What :func:`issue` returns.

    ``state`` is ``'issued'`` (``certificate`` holds the bytes as a certificate file would:
    PEM, DER or PKCS#7) or ``'waiting_for_certificate'`` (``certificate`` is None).
    ``source`` says where the certificate came from, ``message`` is one line for the run's
    output, ``changed`` whether files in the state folder were written, ``ca_bundle`` the
    lab CA's bundle path (lab only) and ``path`` the inbox file picked up (manual only).
    """

    def __init__(self, state, certificate, source, message, changed=False, ca_bundle=None, path=None):
        self.state = state
        self.certificate = certificate
        self.source = source
        self.message = message
        self.changed = changed
        self.ca_bundle = ca_bundle
        self.path = path

    @property
    def issued(self):
        return self.state == ISSUED

    def as_dict(self):
        """For a task result: everything but the certificate bytes."""
        return {'state': self.state, 'source': self.source, 'message': self.message, 'changed': self.changed,
                'ca_bundle': self.ca_bundle, 'path': self.path}

    def __repr__(self):
        return '<IssueResult %s from %s>' % (self.state, self.source)


# ---------------------------------------------------------------- checks

def _as_bytes(data):
    if isinstance(data, str):
        return data.encode('utf-8')
    return data


def check_pair(application, environment):
    """Refuse an application or environment that cannot name a folder of the state folder."""
    cn.check_environment(environment)
    cn.check_application(application)
    if application in ('.', '..') or '\\' in application:
        raise DovError(
            "The application name %r cannot name a folder in the state folder. Use the application "
            "name as DOV wrote it in the CN, for example 'Geodrill'." % application)
    return application, environment


def pair_folder(state_dir, application, environment):
    """``<state_dir>/<application>/<environment>``: where the pair's CSR and inbox live."""
    check_pair(application, environment)
    return os.path.join(os.path.abspath(state_dir), application, environment)


def check_csr(csr_pem, common_name):
    """The CSR as PEM bytes, after checking that it is one, that it is signed, and that it has ``common_name``."""
    data = _as_bytes(csr_pem)
    if not data or not data.strip():
        raise DovError("The CSR for %s is empty. Run the csr phase first so that the CSR exists." % common_name)
    csr = pki.load_csr(data)
    if csr is None:
        raise DovError(
            "What was given as the CSR for %s is not a PEM certificate signing request. Give the CSR "
            "that the csr module wrote." % common_name)
    if not csr.is_signature_valid:
        raise DovError(
            "The CSR for %s has a signature that does not verify: it was altered after it was made. "
            "Make the CSR again with the csr module." % common_name)
    found = pki.common_names(csr.subject)
    if found != [common_name]:
        raise DovError(
            "The CSR carries the CN %s, not %r. Make the CSR again with the CN that DOV assigned."
            % (', '.join(repr(name) for name in found) or 'none', common_name))
    return data


def _write_if_different(path, data, mode):
    if read_bytes(path) == data:
        return False
    atomic_write(path, data, mode=mode)
    return True


# ---------------------------------------------------------------- manual

def instructions_text(common_name, environment, application, csr_path, inbox, fingerprint):
    """The Dutch and English instruction for the handover folder (text, no key material)."""
    return u"""vlaanderen.dov - certificaat aanvragen in VO-DCBaaS / requesting the certificate in VO-DCBaaS
==========================================================================================

Common Name (CN):               {cn}
Omgeving / environment:         {environment}
Toepassing / application:       {application}
CSR:                            {csr}
Publieke sleutel / public key:  SHA-256 {fingerprint}
Inbox:                          {inbox}

NEDERLANDS
1. Meld je aan op VO-DCBaaS ({portal}) met de rol "{role}".
   Heb je die rol niet, vraag ze aan de lokale beheerder van je organisatie
   ({users}); het kan even duren voor ze actief is.
2. Vraag een nieuw certificaat aan met het sjabloon "{template}" en laad het bestand
   {csr_file} uit deze map op (of plak de inhoud ervan). Controleer dat de CN exact
   "{cn}" is.
3. Download het uitgereikte certificaat (.cer, .pem, .crt of .p7b: alle zijn goed) en zet
   het in de map {inbox}
   De bestandsnaam maakt niet uit; het nieuwste bestand telt.
4. Voer de playbook opnieuw uit. Het certificaat wordt dan opgepikt en gecontroleerd
   (sleutel, CN, gebruik, geldigheid, keten) en pas daarna geïnstalleerd.
De private sleutel blijft op de server die hem gebruikt: zet hem nooit in deze map.

ENGLISH
1. Log in to VO-DCBaaS ({portal}) with the role "{role}".
   If you do not have that role, ask your organisation's local administrator
   ({users}); it can take a while before it is active.
2. Request a new certificate with the template "{template}" and upload the file
   {csr_file} from this folder (or paste its content). Check that the CN is exactly
   "{cn}".
3. Download the issued certificate (.cer, .pem, .crt or .p7b: any of them will do) and put
   it in the folder {inbox}
   The file name does not matter; the newest file counts.
4. Run the playbook again. The certificate is picked up and checked (key, CN, usage,
   validity, chain) before anything is installed.
The private key stays on the server that uses it: never put it in this folder.
""".format(cn=common_name, environment=environment, application=application, csr=csr_path,
           fingerprint=fingerprint, inbox=inbox + os.sep, portal=DCBAAS_URL, role=DCBAAS_ROLE,
           users=USER_MANAGEMENT_URL, template=DCBAAS_TEMPLATE, csr_file=CSR_FILE)


def store_csr(state_dir, application, environment, csr_pem):
    """Write the CSR to the pair's folder when it differs; ``(path, changed)``."""
    folder = pair_folder(state_dir, application, environment)
    data = _as_bytes(csr_pem)
    ensure_dir(folder)
    path = os.path.join(folder, CSR_FILE)
    return path, _write_if_different(path, data, 0o644)


def prepare_handover(state_dir, application, environment, common_name, csr_pem):
    """Make (or bring up to date) the handover folder; a :class:`HandoverResult`.

    Files are rewritten only when their content differs, so a second call with the same CSR
    writes nothing (``changed`` is False). Every check runs before the first write.
    """
    folder = pair_folder(state_dir, application, environment)
    data = check_csr(csr_pem, common_name)
    csr_path = os.path.join(folder, CSR_FILE)
    inbox = os.path.join(folder, INBOX)
    instructions_path = os.path.join(folder, INSTRUCTIONS_FILE)
    fingerprint = pki.public_key_fingerprint(pki.load_csr(data).public_key())
    text = instructions_text(common_name, environment, application, csr_path, inbox, fingerprint).encode('utf-8')

    written = []
    if inbox in ensure_dir(inbox):
        written.append(inbox + os.sep)
    if _write_if_different(csr_path, data, 0o644):
        written.append(csr_path)
    if _write_if_different(instructions_path, text, 0o644):
        written.append(instructions_path)
    return HandoverResult(folder, csr_path, instructions_path, inbox, written)


def _is_candidate(name):
    return not name.startswith('.') and not name.lower().endswith(PARTIAL_SUFFIXES)


def pick_up(state_dir, application, environment):
    """``(bytes, path)`` of the newest file in the pair's inbox, or None when there is none.

    Any name counts, except dotfiles and files that are still being written (``.part``,
    ``.crdownload``, ``.tmp``, ``~`` …). Folders in the inbox are ignored.
    """
    inbox = os.path.join(pair_folder(state_dir, application, environment), INBOX)
    if not os.path.isdir(inbox):
        return None
    candidates = []
    for name in os.listdir(inbox):
        path = os.path.join(inbox, name)
        if not _is_candidate(name) or not os.path.isfile(path):
            continue
        candidates.append((os.stat(path).st_mtime_ns, name, path))
    if not candidates:
        return None
    path = max(candidates)[2]
    data = read_bytes(path)
    if data is None:  # removed between listing and reading
        return None
    return data, path


# ---------------------------------------------------------------- command

def command_name(command):
    """The program a command runs, without its arguments (they may carry tokens)."""
    if isinstance(command, (list, tuple)):
        return os.path.basename(str(command[0])) if command else ''
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    for word in words:
        if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', word):
            return os.path.basename(word)
    return ''


def _trim_stderr(stderr):
    text = _PRIVATE_KEY_BLOCK.sub('[private key removed]', stderr.decode('utf-8', 'replace'))
    text = ' | '.join(line.strip() for line in text.splitlines() if line.strip())
    if not text:
        return 'it wrote nothing on stderr'
    if len(text) > STDERR_LIMIT:
        text = u'\u2026' + text[-STDERR_LIMIT:]
    return 'its stderr says: %s' % text


def run_program(command, stdin, variables, timeout, what, setting, timeout_setting=None):
    """Run a user's ``command`` (a string: by the shell; a list: directly) in its own session, with
    ``variables`` added to the environment and ``stdin`` (bytes) on its stdin; ``(stdout, stderr)``.

    ``what`` names the command in messages (``'issuer command'``), ``setting`` the variable that
    holds it (``'dov_issuer_command'``), ``timeout_setting`` the one that sets ``timeout``
    (``'dov_issuer_timeout'``). A wrong type, a program that cannot start, a timeout (the
    whole process group is killed), a signal or a non-zero exit is a DovError that names the program
    and its stderr (private key blocks removed).
    """
    if isinstance(command, (list, tuple)):
        shell, args = False, [str(arg) for arg in command]
    elif isinstance(command, str):
        shell, args = True, command
    else:
        raise DovError("%s must be a string or a list, not %s. Give the command line as a string." % (setting, type(command).__name__))
    name = command_name(command)
    env = dict(os.environ)
    env.update(variables)
    try:
        process = subprocess.Popen(args, shell=shell, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise DovError("The %s %r cannot be started: %s. Check %s and that the program is installed." % (what, name, exc.strerror, setting))
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.communicate()
        raise DovError(
            "The %s %r did not finish within %s seconds and was stopped. Check what it "
            "waits for, or raise %s." % (what, name, timeout, timeout_setting or 'the timeout'))
    if process.returncode < 0:
        raise DovError("The %s %r was killed by signal %d; %s. Fix the command and run again." % (what, name, -process.returncode, _trim_stderr(stderr)))
    if process.returncode != 0:
        raise DovError("The %s %r exited with status %d; %s. Fix the command and run again." % (what, name, process.returncode, _trim_stderr(stderr)))
    return stdout, stderr


def run_command_issuer(command, csr_pem, common_name, environment, application, csr_path, timeout=DEFAULT_TIMEOUT):
    """Run ``dov_issuer_command`` with the CSR on stdin; return its stdout (bytes, as printed).

    ``command`` is a string (run by the shell) or a list (run directly). The environment gets
    ``DOV_CN``, ``DOV_ENVIRONMENT``, ``DOV_APPLICATION`` and ``DOV_CSR_PATH``. A non-zero exit,
    a timeout or empty output is a DovError that names the program and its stderr.
    """
    if not command or (isinstance(command, str) and not command.strip()):
        raise DovError("dov_issuer is 'command' but dov_issuer_command is empty. Set it to the program that turns a CSR into a certificate.")
    variables = {'DOV_CN': common_name, 'DOV_ENVIRONMENT': environment, 'DOV_APPLICATION': application,
                 'DOV_CSR_PATH': str(csr_path)}
    stdout, stderr = run_program(command, _as_bytes(csr_pem), variables, timeout, 'issuer command', 'dov_issuer_command',
                                 'dov_issuer_timeout')
    if not stdout.strip():
        raise DovError(
            "The issuer command %r printed nothing on stdout; %s. It must print the certificate (PEM or "
            "base64 DER) on stdout." % (command_name(command), _trim_stderr(stderr)))
    return stdout


def certificate_bytes(output):
    """The certificate as a file would hold it: PEM stays PEM, base64 of DER becomes DER.

    Anything else is returned unchanged, for the certificate checks to name what it is.
    """
    output = _as_bytes(output)
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
    csr = load_signable_csr(_as_bytes(csr_pem))  # refuse a bad CSR before the lab CA is made
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
          timeout=DEFAULT_TIMEOUT, allow_productie=False):
    """Turn the pair's CSR into a certificate with issuer ``kind``; an :class:`IssueResult`.

    Checks first (kind, application, environment, the CSR and its CN), then dispatches.
    """
    if kind not in KINDS:
        raise DovError("Unknown issuer %r (dov_issuer). Use one of: %s." % (kind, ', '.join(KINDS)))
    check_pair(application, environment)
    check_csr(csr_pem, common_name)

    if kind == 'manual':
        handover = prepare_handover(state_dir, application, environment, common_name, csr_pem)
        found = pick_up(state_dir, application, environment)
        if found is None:
            return IssueResult(
                WAITING, None, 'manual: %s' % handover.inbox,
                "%s (%s): waiting for the certificate. Upload %s in VO-DCBaaS (template %s) and drop "
                "the result in %s%s." % (common_name, environment, handover.csr_path, DCBAAS_TEMPLATE,
                                         handover.inbox, os.sep),
                changed=handover.changed)
        data, path = found
        return IssueResult(ISSUED, data, 'manual: %s' % path,
                           "%s (%s): picked up %s from the inbox." % (common_name, environment, path),
                           changed=handover.changed, path=path)

    if kind == 'command':
        if not command:
            raise DovError("dov_issuer is 'command' but dov_issuer_command is empty. Set it to the program that turns a CSR into a certificate.")
        changed = False
        if csr_path is None:
            csr_path, changed = store_csr(state_dir, application, environment, csr_pem)
        output = run_command_issuer(command, csr_pem, common_name, environment, application, csr_path, timeout=timeout)
        name = command_name(command)
        return IssueResult(ISSUED, certificate_bytes(output), 'command: %s' % name,
                           "%s (%s): issued by the command %r." % (common_name, environment, name), changed=changed)

    folder = lab_ca_folder(state_dir)
    created = not os.path.isdir(folder)
    certificate = lab_issue(state_dir, csr_pem, environment, allow_productie=allow_productie)
    return IssueResult(ISSUED, certificate, 'lab: %s' % folder,
                       "%s (%s): issued by the lab CA in %s (not VO-PKI: for tests and demos only)."
                       % (common_name, environment, folder),
                       changed=created, ca_bundle=os.path.join(folder, LAB_CA_FILES['bundle']))
