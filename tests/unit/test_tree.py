# -*- coding: utf-8 -*-
"""The tree shows the architecture (docs/architecture.md), checked on the files themselves:
(a) host code (plugins/module_utils) never imports controller code (plugins/plugin_utils): modules
ship module_utils to the hosts; (b) no folder of either holds more than 15 source files;
(c) every private file says so in its ``# PRIVATE:`` header; (d) every source file has its unit
test file at the mirrored path, but for the few listed below that a flow test covers; (e) no
controller-only file in module_utils: each is imported, directly or through other module_utils
files, by a module (plugins/modules) or by the filter plugin. Imports are read with ast, lazy
ones inside functions included."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import itertools
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLUGINS = os.path.join(ROOT, 'plugins')
PACKAGE = 'ansible_collections.vlaanderen.dov.'
HOST, CONTROLLER = 'plugins/module_utils', 'plugins/plugin_utils'
MAX_FILES = 15

# (d) Source files without a test file of their own, each with the test that covers it through a
# flow. Keep it short: a file that grows logic of its own gets its own test file.
TESTED_THROUGH_A_FLOW = {
    # DovError alone (no logic); every refusal test raises and reads it, e.g. _common/test_cn.py.
    'plugins/module_utils/_common/errors.py': 'tests/unit/plugins/module_utils/_common/test_cn.py',
    # keys and CSRs: module_utils/_host/test_hostcerts.py (prepare makes them), _crypto/test_keyfiles.py.
    'plugins/module_utils/_crypto/pki.py': 'tests/unit/plugins/module_utils/_host/test_hostcerts.py',
    # the host's state: absent phase: the offboarding flow, plugin_utils/_retire/test_offboard.py.
    'plugins/module_utils/_host/hostabsent.py': 'tests/unit/plugins/plugin_utils/_retire/test_offboard.py',
    # the entry checks shared by the host phases: test_host_integrity.py, test_host_hostile.py.
    'plugins/module_utils/_host/hostbase.py': 'tests/unit/plugins/module_utils/_host/test_host_integrity.py',
    # the one lazy loader: what host_certificates loads in a fresh interpreter, modules/test_host_imports.py.
    'plugins/module_utils/_common/lazy.py': 'tests/unit/plugins/modules/test_host_imports.py',
    # the choice lists: every choice offered is accepted by pki/keystores, module_utils/test_argspec.py.
    'plugins/module_utils/_crypto/choices.py': 'tests/unit/plugins/module_utils/test_argspec.py',
}


def sources(top):
    """The .py files below plugins/<top> (without __init__.py), as paths relative to the root."""
    found = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, top)):
        for name in files:
            if name.endswith('.py') and name != '__init__.py':
                found.append(os.path.relpath(os.path.join(folder, name), ROOT))
    return sorted(found)


def imported_files(path):
    """The files of this collection that ``path`` imports (anywhere in it), as paths relative to
    the root."""
    with open(os.path.join(ROOT, path)) as handle:
        return files_imported_by(handle.read(), path)


def files_imported_by(text, path):
    """The files of this collection that the Python ``text`` imports: ``from <package> import
    <module>`` names the module's file, ``from <module> import <name>`` the module's."""
    tree = ast.parse(text, path)
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, '%s: relative import of %s' % (path, node.module)
            modules.append(node.module)
            modules.extend('%s.%s' % (node.module, alias.name) for alias in node.names)
    files = set()
    for module in modules:
        if module.startswith(PACKAGE):
            candidate = module[len(PACKAGE):].replace('.', '/') + '.py'
            if os.path.isfile(os.path.join(ROOT, candidate)):
                files.add(candidate)
    return files


def test_a_host_code_never_imports_controller_code():
    offenders = ['%s imports %s' % (path, target) for path in sources(HOST) for target in sorted(imported_files(path))
                 if target.startswith(CONTROLLER + '/')]
    assert offenders == []
    assert any(imported_files(path) for path in sources(HOST))      # the parser finds imports at all


def test_b_no_folder_holds_more_than_15_source_files():
    counts = {}
    for path in sources(HOST) + sources(CONTROLLER):
        counts[os.path.dirname(path)] = counts.get(os.path.dirname(path), 0) + 1
    assert set(counts) >= {HOST + '/_host', CONTROLLER + '/_issue'}
    assert dict((folder, count) for folder, count in counts.items() if count > MAX_FILES) == {}


def test_c_every_private_file_has_the_private_header():
    private = [path for path in sources(HOST) + sources(CONTROLLER) if os.path.basename(os.path.dirname(path)).startswith('_')]
    missing = []
    for path in private:
        with open(os.path.join(ROOT, path)) as handle:
            head = list(itertools.islice(handle, 10))
        if not any(line.startswith('# PRIVATE: ') for line in head):
            missing.append(path)
    assert len(private) > 40 and missing == []


def test_d_every_source_file_has_its_test_file_at_the_mirrored_path():
    untested, needless = [], []
    for path in sources(HOST) + sources(CONTROLLER):
        folder, name = os.path.split(path)
        mirrored = os.path.join(ROOT, 'tests', 'unit', folder, 'test_' + name.lstrip('_'))
        if os.path.isfile(mirrored) and path in TESTED_THROUGH_A_FLOW:
            needless.append(path)
        elif not os.path.isfile(mirrored) and path not in TESTED_THROUGH_A_FLOW:
            untested.append(path)
    assert untested == [], 'no tests/unit/<same folder>/test_<name>.py: add one, or name its flow test in TESTED_THROUGH_A_FLOW'
    assert needless == [], 'has its own test file now: take it off TESTED_THROUGH_A_FLOW'
    for path, flow in TESTED_THROUGH_A_FLOW.items():
        assert os.path.isfile(os.path.join(ROOT, path)), path
        assert os.path.isfile(os.path.join(ROOT, flow)), flow


def test_e_every_host_file_is_shipped_by_a_module_or_the_filter():
    roots = sources('plugins/modules') + sources('plugins/filter')
    assert len(roots) >= 7
    reached, todo = set(), list(roots)
    while todo:
        for target in imported_files(todo.pop()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert [path for path in sources(HOST) if path not in reached] == [], 'controller-only code belongs in plugins/plugin_utils'


@pytest.mark.parametrize('source, expected', [
    ('from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certs, pki\n',
     {'plugins/module_utils/_crypto/certs.py', 'plugins/module_utils/_crypto/pki.py'}),
    ('def lazy():\n    from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError\n',
     {'plugins/module_utils/_common/errors.py'}),
    ('import ansible_collections.vlaanderen.dov.plugins.plugin_utils._run.plan\nimport os\nfrom ansible.module_utils import basic\n',
     {'plugins/plugin_utils/_run/plan.py'}),
])
def test_the_import_reader_finds_module_files_and_lazy_imports(source, expected):
    assert files_imported_by(source, 'probe.py') == expected
