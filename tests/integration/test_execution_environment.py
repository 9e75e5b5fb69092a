# -*- coding: utf-8 -*-
"""execution-environment.yml through the real ansible-builder: `ansible-builder create` makes the
build context (building the image needs a container engine, which CI does not have), and the
context is read as the image build would read it: the Containerfile's stages, the collection
tarball that ansible-galaxy installs, and the bindep list as bindep itself evaluates it on an
rpm and a dpkg platform."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import subprocess
import tarfile

import pytest
import yaml
from bindep.depends import Depends

from conftest import BIN, ROOT

VERSION = re.search(r'^version: *(\S+)', open(os.path.join(ROOT, 'galaxy.yml')).read(), re.M).group(1)
DEFINITION = os.path.join(ROOT, 'execution-environment.yml')
RPM = ['platform:rpm', 'platform:redhat', 'platform:centos', 'default']
DPKG = ['platform:dpkg', 'platform:debian', 'default']


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    if not os.path.exists(os.path.join(ROOT, '.build', 'vlaanderen-dov-%s.tar.gz' % VERSION)):
        pytest.fail('No built collection in .build/: run `make install` first.')
    folder = tmp_path_factory.mktemp('ee') / 'context'
    proc = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', DEFINITION, '-c', str(folder),
                           '--output-filename', 'Containerfile'], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout
    assert 'Complete! The build context can be found at' in proc.stdout
    return folder


def test_the_definition_is_ansible_builder_version_3_with_a_named_base_image():
    definition = yaml.safe_load(open(DEFINITION))
    assert definition['version'] == 3
    assert definition['images']['base_image']['name']
    assert set(definition['dependencies']) >= {'ansible_core', 'ansible_runner', 'python', 'system', 'galaxy'}
    assert definition['dependencies']['python'] == 'requirements.txt'


def test_the_context_installs_the_built_collection_with_ansible_galaxy(context):
    requirements = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    [entry] = requirements['collections']
    assert entry['type'] == 'file' and entry['name'] == 'dov/vlaanderen-dov-%s.tar.gz' % VERSION
    tarball = context / '_build' / entry['name']
    with tarfile.open(str(tarball)) as archive:
        manifest = json.load(archive.extractfile('MANIFEST.json'))['collection_info']
        names = archive.getnames()
    assert (manifest['namespace'], manifest['name'], manifest['version']) == ('vlaanderen', 'dov', VERSION)
    assert 'roles/dov_cert/meta/argument_specs.yml' in names and 'plugins/modules/csr.py' in names
    containerfile = (context / 'Containerfile').read_text()
    galaxy = containerfile[containerfile.index('AS galaxy'):containerfile.index('AS builder')]
    # requirements.yml names the tarball relative to /build: the stage copies _build there and works there.
    assert galaxy.index('COPY _build /build') < galaxy.index('WORKDIR /build') < galaxy.index('ansible-galaxy collection install')
    assert '-r requirements.yml' in galaxy


def test_the_context_names_ansible_core_runner_the_python_requirements_and_the_base_image(context):
    containerfile = (context / 'Containerfile').read_text()
    base = yaml.safe_load(open(DEFINITION))['images']['base_image']['name']
    assert 'ARG EE_BASE_IMAGE="%s"' % base in containerfile
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1)
    assert 'ansible-core>=2.16' in refs and 'ansible-runner' in refs
    python = (context / '_build' / 'requirements.txt').read_text()
    for requirement in ('cryptography>=41', 'pyopenssl>=23.2'):
        assert requirement in python


def test_bindep_gives_the_jre_ssh_and_openssl_on_rpm_and_dpkg_platforms(context):
    depends = Depends((context / '_build' / 'bindep.txt').read_text())
    rpm = [rule[0] for rule in depends.active_rules(RPM)]
    dpkg = [rule[0] for rule in depends.active_rules(DPKG)]
    assert 'java-17-openjdk-headless' in rpm and 'java-17-openjdk-headless' not in dpkg
    assert 'default-jre-headless' in dpkg
    assert {'openssh-clients', 'openssl', 'ca-certificates'} <= set(rpm)
    assert {'openssh-client', 'openssl', 'ca-certificates'} <= set(dpkg)
