# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import os
import subprocess
import time

import pytest

from cryptography import x509

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import compat
from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import pki
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._issue import issuers, programs
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._lab import labca
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._state import handover
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

CN = 'geolab.be/dov-services/oefen/Geodrill'
PRODUCTIE_CN = 'geolab.be/dov-services/productie/Geodrill'
APP = 'Geodrill'
ENV = 'oefen'


def make_csr(common_name=CN, key=None):
    return pki.dump_csr(pki.build_csr(key or pki.generate_private_key(), common_name))


@pytest.fixture(scope='module')
def openssl_ca(tmp_path_factory):
    """A CA made with the openssl CLI: the command issuer's tests use an independent tool."""
    folder = tmp_path_factory.mktemp('openssl-ca')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(folder / 'ca.key'),
                    '-out', str(folder / 'ca.pem'), '-subj', '/CN=Test CA', '-days', '2'],
                   check=True, capture_output=True)
    return folder


def openssl_sign_command(ca_folder, outform='PEM'):
    return ('openssl x509 -req -CA "%s/ca.pem" -CAkey "%s/ca.key" -set_serial 7 -days 30 -outform %s'
            % (ca_folder, ca_folder, outform))


# ---------------------------------------------------------------- a pair that cannot name a folder

@pytest.mark.parametrize('application, environment, match', [
    ('..', ENV, "cannot name a folder"),
    ('.', ENV, "cannot name a folder"),
    ('a\\b', ENV, "cannot name a folder"),
    ('a/b', ENV, "contains a '/'"),
    ('', ENV, 'application part of the CN is empty'),
    (APP, 'test', "Unknown DOV environment 'test'"),
])
def test_a_pair_that_cannot_name_a_folder_is_refused_before_anything_is_written(refused, tmp_path, csr, application, environment, match):
    refused(tmp_path, match, handover.prepare_handover, str(tmp_path), application, environment, CN, csr)
    refused(tmp_path, match, issuers.issue, 'manual', str(tmp_path), application, environment, CN, csr)


# ---------------------------------------------------------------- command

def run(command, csr, tmp_path, **kwargs):
    return issuers.run_command_issuer(command, csr, CN, ENV, APP, str(tmp_path / 'csr.pem'), **kwargs)


def test_an_openssl_command_signs_the_csr_from_stdin(tmp_path, csr, openssl_ca):
    output = run(openssl_sign_command(openssl_ca), csr, tmp_path)
    cert = x509.load_pem_x509_certificate(output)
    assert pki.common_names(cert.subject) == [CN]
    assert compat.same_public_key(cert.public_key(), pki.load_csr(csr).public_key())
    assert issuers.certificate_bytes(output) == output


def test_a_list_command_runs_without_a_shell(tmp_path, csr, openssl_ca):
    command = ['openssl', 'x509', '-req', '-CA', str(openssl_ca / 'ca.pem'), '-CAkey', str(openssl_ca / 'ca.key'),
               '-set_serial', '8', '-days', '1', '-outform', 'DER']
    der = run(command, csr, tmp_path)
    assert pki.common_names(x509.load_der_x509_certificate(der).subject) == [CN]


def test_base64_der_output_becomes_der(tmp_path, csr, openssl_ca):
    output = run(openssl_sign_command(openssl_ca, 'DER') + ' | base64', csr, tmp_path)
    assert b'\n' in output.strip()  # base64 wraps its lines
    der = issuers.certificate_bytes(output)
    assert pki.common_names(x509.load_der_x509_certificate(der).subject) == [CN]


def test_the_command_gets_the_dov_environment_variables(tmp_path, csr):
    command = 'printf "%s|%s|%s|%s" "$DOV_CN" "$DOV_ENVIRONMENT" "$DOV_APPLICATION" "$DOV_CSR_PATH"'
    output = run(command, csr, tmp_path)
    assert output.decode() == '|'.join((CN, ENV, APP, str(tmp_path / 'csr.pem')))


def test_the_command_keeps_the_controller_environment(tmp_path, csr, monkeypatch):
    monkeypatch.setenv('DCBAAS_PROFILE', 'team-a')
    assert run('printf %s "$DCBAAS_PROFILE"', csr, tmp_path) == b'team-a'


def test_the_csr_arrives_on_stdin_unchanged(tmp_path, csr):
    assert run('cat', csr, tmp_path) == csr
    assert run(['cat'], csr.decode('ascii'), tmp_path) == csr


def test_a_command_that_ignores_stdin_is_fine(tmp_path, csr):
    big = csr * 2000  # more than a pipe buffer, never read
    assert run('echo done', big, tmp_path) == b'done\n'


def test_a_failing_command_is_an_error_naming_it_and_its_stderr(refused, tmp_path, csr):
    message = refused(tmp_path, 'exited with status 3', run,
                      'echo "portal said: CN not allowed" >&2; exit 3', csr, tmp_path)
    assert "The issuer command 'echo' exited with status 3; its stderr says: portal said: CN not allowed." in message
    assert 'Fix the command' in message


def test_a_command_that_prints_nothing_is_an_error(refused, tmp_path, csr):
    message = refused(tmp_path, 'printed nothing on stdout', run, 'true', csr, tmp_path)
    assert "'true' printed nothing on stdout; it wrote nothing on stderr" in message
    assert 'PEM or base64 DER' in message
    refused(tmp_path, 'printed nothing on stdout; its stderr says: no token', run,
            'printf "  \\n"; echo "no token" >&2', csr, tmp_path)


def test_a_missing_program_in_a_shell_command_is_exit_127(refused, tmp_path, csr):
    refused(tmp_path, "'dov-no-such-program' exited with status 127; its stderr says: .*not found",
            run, 'dov-no-such-program --csr -', csr, tmp_path)


def test_a_missing_program_in_a_list_command_cannot_be_started(refused, tmp_path, csr):
    refused(tmp_path, "'dov-no-such-program' cannot be started: No such file or directory", run,
            ['dov-no-such-program'], csr, tmp_path)


def test_a_command_killed_by_a_signal_is_an_error(refused, tmp_path, csr):
    refused(tmp_path, "was killed by signal 9", run, 'kill -9 $$', csr, tmp_path)


def test_a_command_that_hangs_is_stopped_with_its_children(refused, tmp_path, csr):
    marker = tmp_path / 'still-running'
    start = time.time()
    refused(tmp_path, 'did not finish within 0.5 seconds and was stopped', run,
            'sleep 2; touch "%s"' % marker, csr, tmp_path, timeout=0.5)
    assert time.time() - start < 2
    time.sleep(2.5)
    assert not marker.exists()  # the whole process group was killed, not just the shell


def test_arguments_and_assignments_are_not_repeated_in_errors(refused, tmp_path, csr):
    message = refused(tmp_path, "'sh' exited with status 2",
                      run, 'DCB_TOKEN=s3cret sh -c "echo denied >&2; exit 2" --token s3cret', csr, tmp_path)
    assert 's3cret' not in message
    message = refused(tmp_path, "'sh' exited with status 2",
                      run, ['/bin/sh', '-c', 'echo denied >&2; exit 2', 'sh', '--token', 's3cret'], csr, tmp_path)
    assert 's3cret' not in message


def test_a_private_key_on_stderr_is_not_repeated(refused, tmp_path, csr):
    key = pki.dump_private_key(pki.generate_private_key()).decode('ascii')
    (tmp_path / 'leak.pem').write_text(key)
    message = refused(tmp_path, 'exited with status 1', run, 'cat "%s" >&2; exit 1' % (tmp_path / 'leak.pem'), csr, tmp_path)
    assert '[private key removed]' in message
    assert key.splitlines()[1] not in message


def test_long_stderr_is_trimmed_to_its_end(refused, tmp_path, csr):
    message = refused(tmp_path, 'exited with status 1', run,
                      'i=0; while [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1', csr, tmp_path)
    assert 'line 499' in message and 'line 0 ' not in message
    assert len(message) < programs.STDERR_LIMIT + 300


@pytest.mark.parametrize('command, match', [
    ('', 'dov_issuer_command is empty'),
    ('   ', 'dov_issuer_command is empty'),
    ([], 'dov_issuer_command is empty'),
    (None, 'dov_issuer_command is empty'),
    (42, 'must be a string or a list, not int'),
])
def test_an_empty_or_odd_command_is_refused(refused, tmp_path, csr, command, match):
    refused(tmp_path, match, run, command, csr, tmp_path)


@pytest.mark.parametrize('command, name', [
    ('openssl x509 -req', 'openssl'),
    ('TOKEN=x /usr/local/bin/dcb-issue "a b"', 'dcb-issue'),
    ('echo "unbalanced', 'echo'),
    ('A=1', ''),
    (['/opt/dcb/issue', '--token', 'x'], 'issue'),
    ([], ''),
])
def test_command_name_is_the_program_only(command, name):
    assert programs.command_name(command) == name


@pytest.mark.parametrize('output', [b'', b'  \n', b'not base64 at all!', b'\x30\x82\x01\x00\xff'])
def test_certificate_bytes_leaves_what_it_cannot_decode_alone(output):
    assert issuers.certificate_bytes(output) == output


def test_certificate_bytes_decodes_base64_and_keeps_pem(csr):
    assert issuers.certificate_bytes(base64.b64encode(b'\x30\x03\x02\x01\x05') + b'\n') == b'\x30\x03\x02\x01\x05'
    assert issuers.certificate_bytes(csr.decode('ascii')) == csr


# ---------------------------------------------------------------- lab

def test_the_lab_signs_for_oefen_with_the_ca_in_the_state_folder(tmp_path, csr):
    pem = issuers.lab_issue(str(tmp_path), csr, ENV)
    cert = x509.load_pem_x509_certificate(pem)
    ca = labca.LabCA.load_or_create(str(tmp_path / 'lab-ca'))
    assert cert.issuer == ca.issuing_cert.subject
    assert pki.common_names(cert.subject) == [CN]
    assert sorted(os.listdir(str(tmp_path))) == ['lab-ca']


def test_the_lab_refuses_productie_and_makes_no_ca(refused, tmp_path):
    message = refused(tmp_path, 'does not issue for productie \\(environment productie\\)',
                      issuers.lab_issue, str(tmp_path), make_csr(PRODUCTIE_CN), 'productie')
    assert 'DOV does not trust the lab CA' in message
    assert 'Use dov_issuer manual or command for productie' in message
    assert os.listdir(str(tmp_path)) == []


def test_the_lab_refuses_a_productie_cn_under_another_environment(refused, tmp_path):
    refused(tmp_path, "the CN '%s' is a productie CN" % PRODUCTIE_CN,
            issuers.lab_issue, str(tmp_path), make_csr(PRODUCTIE_CN), ENV)


def test_the_lab_issues_for_productie_when_explicitly_allowed(tmp_path):
    pem = issuers.lab_issue(str(tmp_path), make_csr(PRODUCTIE_CN), 'productie', allow_productie=True)
    assert pki.common_names(x509.load_pem_x509_certificate(pem).subject) == [PRODUCTIE_CN]


def test_the_lab_signs_a_cn_outside_the_dov_shape(tmp_path):
    pem = issuers.lab_issue(str(tmp_path), make_csr('demo client'), 'ontwikkel')
    assert pki.common_names(x509.load_pem_x509_certificate(pem).subject) == ['demo client']


def test_the_lab_refuses_a_bad_csr_before_making_its_ca(refused, tmp_path):
    refused(tmp_path, 'not a certificate signing request', issuers.lab_issue, str(tmp_path), b'garbage', ENV)
    assert os.listdir(str(tmp_path)) == []


def test_the_lab_refuses_an_unknown_environment(refused, tmp_path, csr):
    refused(tmp_path, "Unknown DOV environment 'staging'", issuers.lab_issue, str(tmp_path), csr, 'staging')


# ---------------------------------------------------------------- issue(): the entry point

def test_issue_refuses_an_unknown_kind(refused, tmp_path, csr):
    refused(tmp_path, r"Unknown issuer 'acme' \(dov_issuer\). Use one of: manual, command, lab.",
            issuers.issue, 'acme', str(tmp_path), APP, ENV, CN, csr)


def test_issue_refuses_a_csr_for_another_cn_whatever_the_kind(refused, tmp_path):
    other = make_csr('geolab.be/dov-services/oefen/Other')
    for kind in issuers.KINDS:
        refused(tmp_path, 'carries the CN', issuers.issue, kind, str(tmp_path), APP, ENV, CN, other, command='cat')


def test_manual_waits_in_one_line_while_the_inbox_is_empty(tmp_path, csr):
    result = issuers.issue('manual', str(tmp_path), APP, ENV, CN, csr)
    inbox = str(tmp_path / APP / ENV / 'inbox')
    assert result.state == 'waiting_for_certificate' and not result.issued
    assert result.certificate is None
    assert result.changed
    assert '\n' not in result.message
    assert result.message == ('%s (oefen): waiting for the certificate. Upload %s in VO-DCBaaS (template SSL Client) '
                              'and drop the result in %s%s (kept when this state folder persists between runs), or '
                              'commit it in the project and name it as certificate_file of %s/%s in the inventory (when '
                              'the state folder is thrown away with the job, as in AWX or CI).'
                              % (CN, tmp_path / APP / ENV / 'csr.pem', inbox, os.sep, APP, ENV))
    assert result.source == 'manual: %s' % inbox
    again = issuers.issue('manual', str(tmp_path), APP, ENV, CN, csr)
    assert again.state == 'waiting_for_certificate' and not again.changed


def test_a_waiting_renewal_names_only_its_inbox(tmp_path, csr):
    # renew.yml takes no certificate_file: its message names the renewal's own inbox, nothing else.
    result = issuers.issue('manual', str(tmp_path), APP, ENV, CN, csr, renewal=True)
    assert result.state == 'waiting_for_certificate'
    assert result.message.endswith('and drop the result in %s%s.' % (result.source.split(': ', 1)[1], os.sep))
    assert 'certificate_file' not in result.message


def test_manual_picks_up_what_was_dropped(drop, tmp_path, csr):
    issuers.issue('manual', str(tmp_path), APP, ENV, CN, csr)
    path = drop(str(tmp_path / APP / ENV / 'inbox'), 'geodrill.cer', b'\x30\x82der')
    result = issuers.issue('manual', str(tmp_path), APP, ENV, CN, csr)
    assert result.state == 'issued' and result.issued
    assert result.certificate == b'\x30\x82der'
    assert result.path == path and result.source == 'manual: %s' % path
    assert result.message == '%s (oefen): picked up %s from the inbox.' % (CN, path)
    assert not result.changed
    assert 'certificate' not in result.as_dict() and result.as_dict()['path'] == path
    assert 'issued' in repr(result)


def test_command_issues_and_stores_the_csr_for_dov_csr_path(tmp_path, csr, openssl_ca):
    result = issuers.issue('command', str(tmp_path), APP, ENV, CN, csr, command=openssl_sign_command(openssl_ca))
    assert result.state == 'issued' and result.changed
    assert pki.common_names(x509.load_pem_x509_certificate(result.certificate).subject) == [CN]
    assert (tmp_path / APP / ENV / 'csr.pem').read_bytes() == csr
    assert result.source == 'command: openssl'
    assert result.message == "%s (oefen): issued by the command 'openssl'." % CN
    # DOV_CSR_PATH points at the stored CSR:
    told = issuers.issue('command', str(tmp_path), APP, ENV, CN, csr, command='cat "$DOV_CSR_PATH"')
    assert told.certificate == csr and not told.changed


def test_command_uses_a_given_csr_path_and_writes_nothing(tmp_path, csr):
    result = issuers.issue('command', str(tmp_path), APP, ENV, CN, csr, command='printf %s "$DOV_CSR_PATH"',
                           csr_path='/hosts/web1/csr.pem')
    assert result.certificate == b'/hosts/web1/csr.pem'
    assert os.listdir(str(tmp_path)) == [] and not result.changed


def test_command_output_in_base64_der_is_returned_as_der(tmp_path, csr, openssl_ca):
    result = issuers.issue('command', str(tmp_path), APP, ENV, CN, csr,
                           command=openssl_sign_command(openssl_ca, 'DER') + ' | base64 -w0')
    assert pki.common_names(x509.load_der_x509_certificate(result.certificate).subject) == [CN]


def test_command_kind_without_a_command_is_refused(refused, tmp_path, csr):
    refused(tmp_path, "dov_issuer is 'command' but dov_issuer_command is empty",
            issuers.issue, 'command', str(tmp_path), APP, ENV, CN, csr)


def test_command_failure_reaches_the_caller(tmp_path, csr):
    with pytest.raises(DovError, match="'false' exited with status 1"):
        issuers.issue('command', str(tmp_path), APP, ENV, CN, csr, command='false', timeout=10)


def test_lab_issues_with_a_ca_bundle_that_verifies_it(tmp_path, csr):
    result = issuers.issue('lab', str(tmp_path), APP, ENV, CN, csr)
    assert result.state == 'issued' and result.changed
    bundle = str(tmp_path / 'lab-ca' / 'bundle.pem')
    assert result.ca_bundle == bundle
    assert result.source == 'lab: %s' % (tmp_path / 'lab-ca')
    assert 'not VO-PKI: for tests and demos only' in result.message
    (tmp_path / 'leaf.pem').write_bytes(result.certificate)
    verify = subprocess.run(['openssl', 'verify', '-CAfile', bundle, str(tmp_path / 'leaf.pem')],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    again = issuers.issue('lab', str(tmp_path), APP, ENV, CN, csr)
    assert not again.changed


def test_lab_kind_refuses_productie_and_writes_nothing(refused, tmp_path):
    refused(tmp_path, 'does not issue for productie', issuers.issue, 'lab', str(tmp_path), APP, 'productie',
            PRODUCTIE_CN, make_csr(PRODUCTIE_CN))
    assert os.listdir(str(tmp_path)) == []


def test_lab_kind_for_productie_when_allowed(tmp_path):
    key = pki.generate_private_key()
    result = issuers.issue('lab', str(tmp_path), APP, 'productie', PRODUCTIE_CN, make_csr(PRODUCTIE_CN, key),
                           allow_productie=True)
    assert result.state == 'issued' and result.issued
    cert = x509.load_pem_x509_certificate(result.certificate)
    assert pki.common_names(cert.subject) == [PRODUCTIE_CN]
    assert pki.public_key_fingerprint(cert.public_key()) == pki.public_key_fingerprint(key)
    assert cert.issuer.rfc4514_string() == 'CN=vlaanderen.dov LAB Issuing CA,O=vlaanderen.dov LAB - not VO-PKI,C=BE'
