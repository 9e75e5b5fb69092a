# -*- coding: utf-8 -*-
"""docs/docsite/extra_docs.py: the Markdown pages of docs/ as the documentation site's extra docs
(converted with the real pandoc), and the check of the built site."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import zlib

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
sys.path.insert(0, os.path.join(ROOT, 'docs', 'docsite'))

import extra_docs  # noqa: E402  pylint: disable=wrong-import-position


def _docs(tmp_path, pages):
    docs = tmp_path / 'docs'
    for name, text in pages.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding='utf-8')
    collection = tmp_path / 'collection'
    collection.mkdir()
    return str(docs), str(collection)


def _rst(collection, page):
    return (collection / 'docs' / 'docsite' / 'rst' / page).read_text(encoding='utf-8')


PAGES = {
    'README.md': '# Index\n\nSee [the phases](phases.md) and [de snelstart](nl/snelstart.md#stap-1).\n',
    'phases.md': ('# Phases\n\n## The `status.json` file\n\nText.\n\n## The lock\n\n'
                  'Back to [the file](#the-statusjson-file), [the index](README.md), '
                  '[the EE](../execution-environment.yml) and [Ansible](https://docs.ansible.com/).\n\n'
                  '```\n--- before\n+++ after\n@@ -1 +1 @@\n```\n\n```json\n{"summary": {"failed": 1, …}}\n```\n\n'
                  '```json\n{"ok": true}\n```\n'),
    'nl/snelstart.md': '# Snelstart\n\n## Stap 1\n\nZie [de fasen](../phases.md#the-lock).\n',
    'zz-new.md': '# A page nobody listed yet\n',
}


def test_pages_become_labelled_rst_with_links_between_the_sites_pages(tmp_path):
    docs, collection = _docs(tmp_path, PAGES)
    assert extra_docs.build(docs, collection) == ['README.md', 'nl/snelstart.md', 'phases.md', 'zz-new.md']
    root = tmp_path / 'collection'
    overview = _rst(root, 'overview.rst')
    assert overview.startswith('.. _ansible_collections.vlaanderen.dov.docsite.overview:\n')
    assert '<phases.html>' in overview and '<nl/snelstart.html#stap-1>' in overview
    phases = _rst(root, 'phases.rst')
    # GitHub's anchor (statusjson) becomes the id Sphinx gives the heading (status-json).
    assert '<#the-status-json-file>' in phases and '<overview.html>' in phases
    assert 'https://docs.ansible.com/' in phases
    # A file outside docs/ keeps its text and loses the link; headings get no labels of their own.
    assert 'the EE' in phases and 'execution-environment.yml' not in phases
    assert '.. _the-lock:' not in phases and '.. _the-status' not in phases
    # No language: text, not Sphinx's YAML+Jinja; a shortened JSON example: text; real JSON stays JSON.
    assert phases.count('.. code:: text') == 2 and phases.count('.. code:: json') == 1
    snelstart = _rst(root, os.path.join('nl', 'snelstart.rst'))
    assert snelstart.startswith('.. _ansible_collections.vlaanderen.dov.docsite.nl_snelstart:\n')
    assert '<../phases.html#the-lock>' in snelstart
    index = yaml.safe_load((root / 'docs' / 'docsite' / 'extra-docs.yml').read_text())
    assert index['sections'] == [{'title': 'Guides', 'toctree': ['overview', 'nl/snelstart', 'phases']},
                                 {'title': 'More', 'toctree': ['zz-new']}]


def test_a_link_to_a_missing_heading_stops_the_build_and_writes_nothing(tmp_path):
    docs, collection = _docs(tmp_path, {'quickstart.md': '# Quick start\n\nSee [the lock](phases.md#a-lock).\n',
                                        'phases.md': '# Phases\n\n## The lock\n'})
    with pytest.raises(extra_docs.DocsError) as error:
        extra_docs.build(docs, collection)
    assert str(error.value) == ('docs/quickstart.md links to phases.md#a-lock, but docs/phases.md has no heading '
                                'with that anchor.\nFix the link in the Markdown page (docs/ is the source of the site).')
    assert os.listdir(collection) == []


def test_every_page_of_the_real_docs_folder_is_on_the_site(tmp_path):
    collection = tmp_path / 'collection'
    collection.mkdir()
    pages = extra_docs.build(os.path.join(ROOT, 'docs'), str(collection))
    assert 'quickstart.md' in pages and 'nl/snelstart.md' in pages and 'troubleshooting.md' in pages
    index = yaml.safe_load((collection / 'docs' / 'docsite' / 'extra-docs.yml').read_text())
    listed = [page for section in index['sections'] for page in section['toctree']]
    assert sorted(listed) == sorted(extra_docs.page_name(md) for md in pages)
    for md in pages:
        assert (collection / 'docs' / 'docsite' / 'rst' / (extra_docs.page_name(md) + '.rst')).is_file()


def _site(tmp_path, pages):
    html = tmp_path / 'html'
    for name, text in pages.items():
        (html / name).parent.mkdir(parents=True, exist_ok=True)
        (html / name).write_text(text, encoding='utf-8')
    collection = tmp_path / 'coll'
    (collection / 'plugins' / 'modules').mkdir(parents=True)
    (collection / 'plugins' / 'modules' / 'csr.py').write_text('')
    (collection / 'plugins' / 'modules' / '__init__.py').write_text('')
    (collection / 'plugins' / 'filter').mkdir()
    (collection / 'plugins' / 'filter' / 'dov_cn.yml').write_text('')
    (collection / 'roles' / 'dov_cert').mkdir(parents=True)
    docs = tmp_path / 'docs'
    docs.mkdir()
    (docs / 'phases.md').write_text('# Phases\n')
    return str(html), str(collection), str(docs)


def test_the_site_check_names_missing_pages_and_broken_links(tmp_path):
    base = 'collections/vlaanderen/dov/'
    html, collection, docs = _site(tmp_path, {
        base + 'csr_module.html': '<a href="docsite/phases.html#the-lock">x</a><a href="/">home</a>'
                                  '<a href="mailto:meldpunt@dov.vlaanderen.be">m</a><a href="https://x.be/">y</a>',
        base + 'dov_cert_role.html': '<a href="csr_module.html">csr</a><a href="gone.html">gone</a>',
        base + 'docsite/phases.html': '<section id="phases"><h1>Phases</h1></section>',
    })
    assert extra_docs.check_site(html, collection, docs) == [
        'The site has no page dov_cn_filter.html.',
        base + 'csr_module.html links to docsite/phases.html#the-lock, but that page has no id the-lock.',
        base + 'dov_cert_role.html links to gone.html, which does not exist.',
    ]


def test_the_site_check_passes_a_complete_site(tmp_path):
    base = 'collections/vlaanderen/dov/'
    html, collection, docs = _site(tmp_path, {
        base + 'csr_module.html': '<a href="docsite/phases.html#phases">x</a>',
        base + 'dov_cn_filter.html': '',
        base + 'dov_cert_role.html': '<a href="#top" id="top">top</a>',
        base + 'docsite/phases.html': '<section id="phases"><a href="../csr_module.html">csr</a></section>',
    })
    assert extra_docs.check_site(html, collection, docs) == []


def test_the_ansible_inventory_resolves_the_labels_antsibull_docs_uses(tmp_path):
    path = str(tmp_path / 'ansible_devel.inv')
    ansible_doc = os.path.join(os.path.dirname(sys.executable), 'ansible-doc')
    extra_docs.write_ansible_inventory(path, ansible_doc=ansible_doc)
    data = open(path, 'rb').read()
    header, _sep, body = data.partition(b'zlib.\n')
    assert header.startswith(b'# Sphinx inventory version 2\n')
    lines = zlib.decompress(body).decode('utf-8').splitlines()
    assert 'common_return_values std:label -1 reference_appendices/common_return_values.html Return Values' in lines
    assert ('ansible_collections.ansible.builtin.slurp_module std:label -1 '
            'collections/ansible/builtin/slurp_module.html ansible.builtin.slurp module') in lines
