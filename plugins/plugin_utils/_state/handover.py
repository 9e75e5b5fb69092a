# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""The pair's folder in the state folder and the ``manual`` issuer's handover in it.

- ``pair_folder``: ``<state_dir>/<application>/<environment>/``, after ``check_pair`` refused an
  application or environment that cannot name a folder; ``check_csr`` checks a CSR (PEM, signed,
  the one CN) before anything is written for it.
- ``prepare_handover``: the handover folder of the real VO-DCBaaS flow, with the CSR
  (``csr.pem``), an instruction in Dutch and English (``INSTRUCTIES.txt``, ``instructions_text``)
  and an ``inbox/`` folder; a renewal gets a folder of its own (``renewal_folder``).
  ``store_csr`` writes only the CSR (the ``command`` issuer's ``DOV_CSR_PATH``).
- ``pick_up``: the newest file dropped in the inbox, or None while it is empty.

Plain functions, run on the controller. Nothing here parses or validates the certificate that
is picked up: the caller does that with the certificate checks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import os
import re

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.fsutil import atomic_write, ensure_dir, read_bytes

CSR_FILE = 'csr.pem'
INSTRUCTIONS_FILE = 'INSTRUCTIES.txt'
INBOX = 'inbox'

# Names that browsers and copy tools give a file while it is still being written.
PARTIAL_SUFFIXES = ('.part', '.partial', '.crdownload', '.download', '.tmp', '.swp', '~')

DCBAAS_URL = 'https://dcb.vlaanderen.be'
DCBAAS_ROLE = 'DCBaaS Certificatenbeheerder Organisatie'
DCBAAS_TEMPLATE = 'SSL Client'
USER_MANAGEMENT_URL = 'https://gebruikersbeheer.vlaanderen.be'


class HandoverResult(collections.namedtuple('HandoverResult', 'folder csr_path instructions_path inbox written')):
    """What :func:`prepare_handover` made: the paths, and whether any file was (re)written."""

    __slots__ = ()

    @property
    def changed(self):
        return bool(self.written)

    def as_dict(self):
        return {'folder': self.folder, 'csr_path': self.csr_path, 'instructions_path': self.instructions_path,
                'inbox': self.inbox, 'written': list(self.written), 'changed': self.changed}


# ---------------------------------------------------------------- checks

def as_bytes(data):
    """``data`` as bytes: text is encoded as UTF-8, anything else is returned as it is."""
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
    """``<state_dir>/<application>/<environment>``: where the pair's CSR and inbox live (and its
    ``certificate.pem``, statefolder, and ``revocation/``, revocation)."""
    check_pair(application, environment)
    return os.path.join(os.path.abspath(state_dir), application, environment)


def check_csr(csr_pem, common_name):
    """The CSR as PEM bytes, after checking that it is one, that it is signed, and that it has ``common_name``."""
    data = as_bytes(csr_pem)
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


# ---------------------------------------------------------------- the handover folder

RENEWAL_NOTE = u"""VERNIEUWING / RENEWAL
Dit is een vernieuwing: VO-DCBaaS kan een certificaat niet verlengen. Vraag met de nieuwe CSR
hieronder een nieuw certificaat aan voor dezelfde toepassing (sjabloon "{template}"). Het huidige
certificaat blijft werken tot het nieuwe geinstalleerd en gecontroleerd is.
This is a renewal: VO-DCBaaS cannot extend a certificate. Upload the new CSR below as a new
certificate for the same application (template "{template}"). The current certificate keeps
working until the new one is installed and checked.

"""


def renewal_folder(state_dir, application, environment, fingerprint):
    """``<pair folder>/renewal-<first 16 hex digits of the new key's SHA-256>``: one handover per
    renewal, so that the inbox of an earlier certificate is never taken for the new one."""
    return os.path.join(pair_folder(state_dir, application, environment),
                        'renewal-' + re.sub('[^0-9a-f]', '', fingerprint.lower())[:16])


def instructions_text(common_name, environment, application, csr_path, inbox, fingerprint, renewal=False):
    """The Dutch and English instruction for the handover folder (text, no key material)."""
    note = RENEWAL_NOTE.format(template=DCBAAS_TEMPLATE) if renewal else u''
    return note + u"""vlaanderen.dov - certificaat aanvragen in VO-DCBaaS / requesting the certificate in VO-DCBaaS
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
    data = as_bytes(csr_pem)
    ensure_dir(folder)
    path = os.path.join(folder, CSR_FILE)
    return path, _write_if_different(path, data, 0o644)


def prepare_handover(state_dir, application, environment, common_name, csr_pem, renewal=False):
    """Make (or bring up to date) the handover folder; a :class:`HandoverResult`. With
    ``renewal`` it is the renewal's own folder (``renewal_folder``) and the instructions say so.

    Files are rewritten only when their content differs, so a second call with the same CSR
    writes nothing (``changed`` is False). Every check runs before the first write.
    """
    data = check_csr(csr_pem, common_name)
    fingerprint = pki.public_key_fingerprint(pki.load_csr(data).public_key())
    folder = (renewal_folder(state_dir, application, environment, fingerprint) if renewal
              else pair_folder(state_dir, application, environment))
    csr_path = os.path.join(folder, CSR_FILE)
    inbox = os.path.join(folder, INBOX)
    instructions_path = os.path.join(folder, INSTRUCTIONS_FILE)
    text = instructions_text(common_name, environment, application, csr_path, inbox, fingerprint,
                             renewal).encode('utf-8')

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


def newest(state_dir, application, environment, folder=None):
    """``(mtime in ns, path)`` of the newest file in the pair's inbox (or ``folder``'s), or None.

    Any name counts, except dotfiles and files that are still being written (``.part``,
    ``.crdownload``, ``.tmp``, ``~`` …). Folders in the inbox are ignored.
    """
    inbox = os.path.join(folder or pair_folder(state_dir, application, environment), INBOX)
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
    found = max(candidates)
    return found[0], found[2]


def pick_up(state_dir, application, environment, folder=None):
    """``(bytes, path)`` of the newest file in the pair's inbox (or ``folder``'s, see ``newest``),
    or None when there is none."""
    found = newest(state_dir, application, environment, folder)
    if found is None:
        return None
    path = found[1]
    data = read_bytes(path)
    if data is None:  # removed between listing and reading
        return None
    return data, path
