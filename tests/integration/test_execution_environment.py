# -*- coding: utf-8 -*-
"""execution-environment.yml through the real ansible-builder: `ansible-builder create` makes the
build context (building the image needs a container engine, which CI does not have), and the
context is read as the image build would read it: the Containerfile's stages, the collection
tarball that ansible-galaxy installs, and the bindep list as bindep itself evaluates it on an
rpm and a dpkg platform."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import json
import os
import re
import subprocess
import sys
import tarfile
from importlib.metadata import packages_distributions

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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


def imported_top_names():
    """{top-level name: [files]} of every absolute import in plugins/ (host and controller code),
    read with ast: what the code needs at run time, wherever it runs."""
    found = {}
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'plugins')):
        for name in sorted(files):
            if not name.endswith('.py'):
                continue
            path = os.path.join(folder, name)
            with open(path) as handle:
                tree = ast.parse(handle.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    found.setdefault(module, []).append(os.path.relpath(path, ROOT))
    return found


def test_the_context_installs_every_library_and_collection_the_code_imports_with_requirements_txt_ranges(context):
    """Every third-party package that plugins/ imports (cryptography, OpenSSL, ansible, ...) is
    installed by the image, with the version range of requirements.txt (the one the docs and the
    controller's virtualenv use); every other collection it imports is a galaxy.yml dependency."""
    python = [Requirement(line) for line in (context / '_build' / 'requirements.txt').read_text().splitlines()
              if line.strip() and not line.startswith('#')]
    containerfile = (context / 'Containerfile').read_text()
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', containerfile, re.M).group(1)
    installed = dict((canonicalize_name(req.name), str(req.specifier)) for req in python + [Requirement(ref) for ref in refs.split()])
    wanted = dict((canonicalize_name(req.name), str(req.specifier))
                  for req in (Requirement(line) for line in open(os.path.join(ROOT, 'requirements.txt')).read().splitlines()
                              if line.strip() and not line.startswith('#')))
    distributions = packages_distributions()
    galaxy = yaml.safe_load(open(os.path.join(ROOT, 'galaxy.yml')))
    missing, collections, needed = [], set(), set()
    for module, files in sorted(imported_top_names().items()):
        top = module.split('.')[0]
        if top == 'ansible_collections':
            collection = '.'.join(module.split('.')[1:3])
            if collection != 'vlaanderen.dov':
                collections.add((collection, files[0]))
            continue
        if top in sys.stdlib_module_names or top == '__future__':
            continue
        names = [canonicalize_name(name) for name in distributions.get(top, [top])]
        needed.update(names)
        if not any(name in installed for name in names):
            missing.append('%s (imported by %s)' % (top, files[0]))
        for name in names:
            assert name in wanted, '%s is imported by %s but requirements.txt does not name it' % (top, files[0])
            assert installed.get(name) == wanted[name], (name, installed.get(name), wanted[name])
    assert not missing, 'The execution environment does not install: %s' % ', '.join(missing)
    assert sorted(name for name, _file in collections) == sorted(galaxy.get('dependencies') or {}), collections
    # The code imports at least these (a walk that found nothing would pass the loop above).
    assert {'cryptography', 'pyopenssl', 'ansible-core'} <= needed


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
