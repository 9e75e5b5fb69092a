# -*- coding: utf-8 -*-
# Copyright: vlaanderen.dov developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# PRIVATE: this file is internal to vlaanderen.dov. It may change in any release without notice;
# other collections and standalone plugins must not import it.
"""A lab CA that imitates VO-PKI, for the demo and the tests: root CA -> issuing CA -> certificates.

What its certificates look like (the VO-PKI client profile, the lab names and OIDs) is
``labprofile.py``; this file is the CA: its folder, and the signing.

The CA lives in one folder: ``root-key.pem`` and ``issuing-key.pem`` (0600), ``root.pem``,
``issuing.pem`` and ``bundle.pem`` (issuing CA + root, for ``ca_bundle``). It is created
whole (in a temporary sibling folder that is renamed into place) or not at all, so a second
call always loads what the first one made.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import errno
import ipaddress
import os
import shutil
import tempfile

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat, validity
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labprofile
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.compat import (
    HAS_CRYPTOGRAPHY, ExtendedKeyUsageOID, InvalidSignature, NameOID, UnsupportedAlgorithm, ec, hashes, rsa,
    serialization, x509)
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.fsutil import atomic_write, ensure_dir, read_bytes

FILES = {
    'root_key': 'root-key.pem',
    'root': 'root.pem',
    'issuing_key': 'issuing-key.pem',
    'issuing': 'issuing.pem',
    'bundle': 'bundle.pem',
}


_not_after = compat.not_valid_after


def _dump_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _dump_cert(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_signable_csr(csr_pem):
    """The CSR (PEM or DER) if the lab CA would sign it: readable, self-signature valid, a CN, an RSA or EC key."""
    if not HAS_CRYPTOGRAPHY:
        raise DovError("The lab CA needs the Python library cryptography. Install it on the controller (pip install cryptography).")
    if isinstance(csr_pem, str):
        csr_pem = csr_pem.encode('utf-8')
    if not csr_pem or not csr_pem.strip():
        raise DovError("The certificate signing request is empty. Give the lab CA the CSR that the csr module wrote.")
    try:
        if b'-----BEGIN' in csr_pem:
            csr = x509.load_pem_x509_csr(csr_pem)
        else:
            csr = x509.load_der_x509_csr(csr_pem)
    except ValueError:
        raise DovError(
            "This is not a certificate signing request the lab CA can read (it holds no readable "
            "'CERTIFICATE REQUEST' block). Give the lab CA the CSR that the csr module wrote.")
    if not csr.is_signature_valid:
        raise DovError(
            "The CSR's signature does not verify: it was altered or damaged after it was made. "
            "Make the CSR again with the csr module and sign that one.")
    if not csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise DovError("The CSR has no Common Name (CN). Make the CSR with the CN that DOV assigned.")
    public_key = csr.public_key()
    if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise DovError(
            "The CSR holds a %s key; the lab CA signs RSA and EC keys only. Make an RSA 2048 key, "
            "as VO-PKI issues." % type(public_key).__name__)
    return csr


def _positive_days(days, default):
    if days is None:
        return default
    try:
        number = int(days)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise DovError("A certificate must be valid for at least one day, not %r. Use a positive number of days." % (days,))
    return number


class LabCA:
    """Root + issuing CA in ``folder``. Make one with :meth:`load_or_create`."""

    def __init__(self, folder, root_cert, issuing_key, issuing_cert):
        self.folder = folder
        self.root_cert = root_cert
        self._issuing_key = issuing_key
        self.issuing_cert = issuing_cert

    def __repr__(self):
        return '<LabCA %s issuing=%r>' % (self.folder, self.issuing_cert.subject.rfc4514_string())

    # ------------------------------------------------------------ loading and creating

    @classmethod
    def load_or_create(cls, folder):
        """Load the lab CA in ``folder``, or create it there (whole, atomically) when there is none."""
        if not HAS_CRYPTOGRAPHY:
            raise DovError("The lab CA needs the Python library cryptography. Install it on the controller (pip install cryptography).")
        folder = os.path.abspath(folder)
        present = cls._present_files(folder)
        if len(present) == len(FILES):
            return cls._load(folder)
        if present:
            missing = sorted(set(FILES.values()) - set(present))
            raise DovError(
                "The lab CA in %s is incomplete: %s missing. Remove the folder to have a new lab CA "
                "made (certificates it issued then stop verifying), or restore the missing files."
                % (folder, ', '.join(missing) + (' is' if len(missing) == 1 else ' are')))
        if os.path.isdir(folder) and os.listdir(folder):
            raise DovError(
                "%s holds files but no lab CA. Point the lab CA at an empty or new folder, or move "
                "those files away." % folder)
        return cls._create(folder)

    @staticmethod
    def _present_files(folder):
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise DovError("%s exists and is not a folder. Move it away or choose another folder for the lab CA." % folder)
        return [name for name in FILES.values() if os.path.exists(os.path.join(folder, name))]

    @classmethod
    def _create(cls, folder):
        parent = os.path.dirname(folder)
        ensure_dir(parent)
        root_key, root, issuing_key, issuing = labprofile.make_ca(validity.utcnow_seconds())
        staging = tempfile.mkdtemp(prefix='.%s.' % os.path.basename(folder), dir=parent)
        try:
            atomic_write(os.path.join(staging, FILES['root_key']), _dump_key(root_key), mode=0o600)
            atomic_write(os.path.join(staging, FILES['issuing_key']), _dump_key(issuing_key), mode=0o600)
            atomic_write(os.path.join(staging, FILES['root']), _dump_cert(root), mode=0o644)
            atomic_write(os.path.join(staging, FILES['issuing']), _dump_cert(issuing), mode=0o644)
            atomic_write(os.path.join(staging, FILES['bundle']), _dump_cert(issuing) + _dump_cert(root), mode=0o644)
            os.chmod(staging, 0o700)
            try:
                os.rename(staging, folder)  # replaces an empty folder; fails on a non-empty one
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                # Another run made the CA at the same moment: use that one.
                shutil.rmtree(staging, ignore_errors=True)
                return cls._load(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return cls(folder, root, issuing_key, issuing)

    @classmethod
    def _load(cls, folder):
        def path(name):
            return os.path.join(folder, FILES[name])

        def key(name):
            try:
                return serialization.load_pem_private_key(read_bytes(path(name)) or b'', password=None)
            except (TypeError, ValueError):
                raise DovError(
                    "%s is not a readable, unencrypted private key. Remove the lab CA folder %s to have "
                    "a new lab CA made." % (path(name), folder))

        def cert(name):
            try:
                return x509.load_pem_x509_certificate(read_bytes(path(name)) or b'')
            except ValueError:
                raise DovError(
                    "%s is not a readable certificate. Remove the lab CA folder %s to have a new lab CA "
                    "made." % (path(name), folder))

        root_key, root = key('root_key'), cert('root')
        issuing_key, issuing = key('issuing_key'), cert('issuing')
        if not (compat.same_public_key(root_key.public_key(), root.public_key())
                and compat.same_public_key(issuing_key.public_key(), issuing.public_key())):
            raise DovError(
                "The keys and certificates in the lab CA folder %s do not belong together. Remove the "
                "folder to have a new lab CA made." % folder)
        try:
            compat.verify_issued_by(issuing, root)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise DovError(
                "The issuing CA in %s was not issued by the root next to it. Remove the folder to "
                "have a new lab CA made." % folder)
        expires = _not_after(issuing)
        if expires <= validity.utcnow_seconds():
            raise DovError(
                "The lab CA in %s expired on %s. Remove the folder to have a new lab CA made (and "
                "trust its new root where the old one was trusted)." % (folder, expires.strftime('%Y-%m-%d')))
        return cls(folder, root, issuing_key, issuing)

    # ------------------------------------------------------------ what it hands out

    @property
    def bundle_path(self):
        """The PEM file with the issuing CA and the root, for ``ca_bundle``."""
        return os.path.join(self.folder, FILES['bundle'])

    @property
    def root_path(self):
        return os.path.join(self.folder, FILES['root'])

    def root_pem(self):
        return _dump_cert(self.root_cert)

    def issuing_pem(self):
        return _dump_cert(self.issuing_cert)

    def bundle_pem(self):
        """Issuing CA, then root (PEM): what ``ca_bundle`` needs to verify a lab certificate."""
        return self.issuing_pem() + self.root_pem()

    def _validity(self, not_before, days, default_days):
        start = validity.as_utc(not_before) if not_before is not None else validity.utcnow_seconds() - labprofile.BACKDATE
        end = start + datetime.timedelta(days=_positive_days(days, default_days))
        # Like a real issuing CA, never past its own end.
        return start, min(end, _not_after(self.issuing_cert))

    def _builder(self, subject, public_key, not_before, not_after):
        issuer_ski = self.issuing_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(self.issuing_cert.subject)
                .public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before).not_valid_after(not_after)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
                .add_extension(labprofile.crl_distribution_points('lab-issuing-ca'), critical=False)
                .add_extension(labprofile.authority_information_access('lab-issuing-ca'), critical=False)
                .add_extension(labprofile.end_entity_key_usage(public_key), critical=True))

    def sign_csr(self, csr_pem, not_before=None, days=None):
        """A client certificate (PEM) for the CSR, in the VO-PKI client profile.

        The subject (CN and every other field) is copied from the CSR; nothing else the CSR
        asks for is honoured, as with a real CA template. ``not_before`` (a datetime, UTC when
        naive) and ``days`` (default 1860) let tests make expired or not-yet-valid certificates.
        """
        csr = load_signable_csr(csr_pem)
        public_key = csr.public_key()
        start, end = self._validity(not_before, days, labprofile.CLIENT_DAYS)
        builder = (self._builder(csr.subject, public_key, start, end)
                   .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(labprofile.MS_CERTIFICATE_TEMPLATE_OID),
                                                             labprofile.template_extension_value()), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                   .add_extension(labprofile.certificate_policies(), critical=False)
                   .add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier(labprofile.MS_APPLICATION_POLICIES_OID),
                                                             labprofile.application_policies_value([labprofile.CLIENT_AUTH_OID])), critical=False))
        return _dump_cert(builder.sign(self._issuing_key, hashes.SHA256()))

    def issue_server_certificate(self, names, days=None):
        """``(key_pem, cert_pem)`` for a lab stand-in of a DOV server: serverAuth, the names as SANs.

        ``names`` is a host name, an IP address, or a list of them; the first is the CN. The key
        is new each call and is returned unencrypted (PKCS#8 PEM): write it 0600.
        """
        if isinstance(names, str):
            names = [names]
        names = [str(name).strip() for name in (names or []) if name is not None and str(name).strip()]
        if not names:
            raise DovError("A server certificate needs at least one host name or IP address. Give the name clients connect to.")
        alternative_names = []
        for name in names:
            try:
                alternative_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternative_names.append(x509.DNSName(name))
        attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, 'BE'),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, labprofile.LAB_ORGANISATION)]
        if len(names[0]) <= 64:
            attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, names[0]))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start, end = self._validity(None, days, labprofile.SERVER_DAYS)
        builder = (self._builder(x509.Name(attributes), key.public_key(), start, end)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False))
        return _dump_key(key), _dump_cert(builder.sign(self._issuing_key, hashes.SHA256()))
