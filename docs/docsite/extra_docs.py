# -*- coding: utf-8 -*-
"""The documentation site's extra docs, made from docs/*.md (`make docs`).

antsibull-docs takes a collection's extra docs only as reStructuredText (docs/docsite/rst/*.rst
listed in docs/docsite/extra-docs.yml). The pages stay Markdown in docs/ (one source: GitHub,
Galaxy and the tarball show them as they are); this script converts them with pandoc into a
*copy* of the collection (the one `make docs` documents), never into the checkout:

    python docs/docsite/extra_docs.py docs <copy of the collection>

Links between the pages become links between the site's pages: `phases.md#the-lock` becomes
`phases.html#the-lock` with the anchor Sphinx gives that heading (GitHub's and docutils' anchors
differ for headings with code or punctuation); a link to a heading that does not exist stops the
build. Links to files outside docs/ keep their text. Each page gets the label antsibull-docs
requires (`ansible_collections.vlaanderen.dov.docsite.<page>`).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import posixpath
import subprocess
import sys
import zlib
try:
    from html.parser import HTMLParser
except ImportError:  # Python 2 (ansible-test's compile check)
    from HTMLParser import HTMLParser

import pypandoc
import yaml
from docutils.nodes import make_id

COLLECTION = 'vlaanderen.dov'
# The site's table of contents, in reading order; a page in docs/ that is not named here goes
# under "More" (so a new page is never left out).
SECTIONS = (
    ('Guides', ('README.md', 'quickstart.md', 'nl/snelstart.md', 'inventory.md', 'phases.md', 'renew.md',
                'retire.md', 'troubleshooting.md', 'ci-awx.md')),
    ('Building blocks', ('access-request.md', 'issuers.md', 'certificate.md', 'mtls-check.md', 'cert-info.md',
                         'report.md')),
    ('For developers', ('architecture.md',)),
)
# docs/README.md is the docs' index; on the site that name would clash with the collection's index.
RENAMED = {'README.md': 'overview.md'}


class DocsError(Exception):
    pass


def page_name(md_path):
    """docs-relative Markdown path -> the site's page (docs-relative, no suffix)."""
    return posixpath.splitext(RENAMED.get(md_path, md_path))[0]


def label(md_path):
    return 'ansible_collections.%s.docsite.%s' % (COLLECTION, page_name(md_path).replace('/', '_'))


def find_pages(docs_dir):
    pages = []
    for folder, dirs, files in os.walk(docs_dir):
        dirs[:] = sorted(d for d in dirs if d != 'docsite')
        for name in sorted(files):
            if name.endswith('.md'):
                pages.append(posixpath.relpath(os.path.join(folder, name), docs_dir).replace(os.sep, '/'))
    return sorted(pages)


def sections(pages):
    listed = [md for _title, mds in SECTIONS for md in mds]
    result = [(title, [md for md in mds if md in pages]) for title, mds in SECTIONS]
    more = [md for md in pages if md not in listed]
    if more:
        result.append(('More', more))
    return [(title, mds) for title, mds in result if mds]


def stringify(inlines):
    """The text of pandoc inlines, as a heading's title reads in the built page."""
    out = []
    for node in inlines:
        kind, content = node['t'], node.get('c')
        if kind == 'Str':
            out.append(content)
        elif kind in ('Space', 'SoftBreak', 'LineBreak'):
            out.append(' ')
        elif kind in ('Code', 'Math', 'RawInline'):
            out.append(content[1])
        elif kind in ('Emph', 'Strong', 'Strikeout', 'Underline', 'SmallCaps', 'Superscript', 'Subscript'):
            out.append(stringify(content))
        elif kind in ('Link', 'Span', 'Image'):
            out.append(stringify(content[1]))
        elif kind == 'Quoted':
            out.append(stringify(content[1]))
    return ''.join(out)


def walk(value, visit):
    """Call visit(node) on every pandoc element (a dict with 't') below value, depth first."""
    if isinstance(value, list):
        for item in value:
            walk(item, visit)
    elif isinstance(value, dict):
        if 't' in value:
            visit(value)
        for item in value.values():
            walk(item, visit)


def read_ast(path):
    with open(path, encoding='utf-8') as handle:
        return json.loads(pypandoc.convert_text(handle.read(), 'json', format='gfm'))


def anchors(ast):
    """GitHub's anchor of every heading (pandoc's gfm reader makes the same ids) -> docutils' id."""
    found = {}

    def visit(node):
        if node['t'] == 'Header':
            github = node['c'][1][0]
            found.setdefault(github, make_id(stringify(node['c'][2])))
    walk(ast['blocks'], visit)
    return found


def is_json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def rewrite(ast, md_path, pages, page_anchors):
    """Links between pages -> links between the site's pages; headings lose their ids (their
    labels would be global in Sphinx and must carry antsibull-docs' prefix)."""
    here = posixpath.dirname(md_path)
    problems = []

    def visit(node):
        if node['t'] == 'Header':
            node['c'][1][0] = ''
            return
        if node['t'] == 'CodeBlock' and not node['c'][0][1]:
            # No language in the Markdown: plain text, as GitHub shows it (Sphinx would try YAML+Jinja).
            node['c'][0][1] = ['text']
            return
        if node['t'] == 'CodeBlock' and node['c'][0][1] == ['json'] and not is_json(node['c'][1]):
            # An example shortened with '…' is no JSON; shown as text, not refused by the JSON check.
            node['c'][0][1] = ['text']
            return
        if node['t'] != 'Link':
            return
        target = node['c'][2][0]
        if '://' in target or target.startswith('mailto:'):
            return
        path, _sep, fragment = target.partition('#')
        linked = posixpath.normpath(posixpath.join(here, path)) if path else md_path
        if linked not in pages:
            # A file outside docs/ (the repository's execution-environment.yml, ...): keep the text.
            node['t'], node['c'] = 'Span', [['', [], []], node['c'][1]]
            return
        url = ''
        if path:
            url = posixpath.relpath(page_name(linked), posixpath.dirname(page_name(md_path)) or '.') + '.html'
        if fragment:
            if fragment not in page_anchors[linked]:
                problems.append('docs/%s links to %s, but docs/%s has no heading with that anchor.'
                                % (md_path, target, linked))
                return
            url += '#' + page_anchors[linked][fragment]
        node['c'][2][0] = url
    walk(ast['blocks'], visit)
    if problems:
        raise DocsError('\n'.join(problems) + '\nFix the link in the Markdown page (docs/ is the source of the site).')
    return ast


def build(docs_dir, collection_dir):
    pages = find_pages(docs_dir)
    asts = dict((md, read_ast(os.path.join(docs_dir, md))) for md in pages)
    page_anchors = dict((md, anchors(ast)) for md, ast in asts.items())
    # Every link is checked before the first file is written.
    rewritten = dict((md, rewrite(asts[md], md, pages, page_anchors)) for md in pages)
    rst_dir = os.path.join(collection_dir, 'docs', 'docsite', 'rst')
    for md in pages:
        body = pypandoc.convert_text(json.dumps(rewritten[md]), 'rst', format='json', extra_args=['--wrap=preserve'])
        target = os.path.join(rst_dir, page_name(md) + '.rst')
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'w', encoding='utf-8') as handle:
            handle.write('.. _%s:\n\n..\n   Made from docs/%s by docs/docsite/extra_docs.py; edit the Markdown page.\n\n%s'
                         % (label(md), md, body))
    index = {'sections': [{'title': title, 'toctree': [page_name(md) for md in mds]}
                          for title, mds in sections(pages)]}
    with open(os.path.join(collection_dir, 'docs', 'docsite', 'extra-docs.yml'), 'w', encoding='utf-8') as handle:
        handle.write('---\n# Made by docs/docsite/extra_docs.py from docs/*.md.\n')
        yaml.safe_dump(index, handle, default_flow_style=False, sort_keys=False)
    return pages


# The Ansible documentation's labels that antsibull-docs' pages refer to (intersphinx, offline).
ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/devel/'
ANSIBLE_LABELS = (
    ('common_return_values', 'reference_appendices/common_return_values.html', 'Return Values'),
    ('ansible_configuration_settings', 'reference_appendices/config.html', 'Ansible Configuration Settings'),
    ('action_plugins', 'plugins/action.html', 'Action Plugins'),
)
BUILTIN_TYPES = ('module', 'filter', 'test', 'lookup')


def write_ansible_inventory(path, ansible_doc='ansible-doc'):
    """A Sphinx inventory of the Ansible docs' labels the pages use: the few above and every
    ansible.builtin plugin (`ansible_collections.ansible.builtin.<name>_<type>`), so the site is
    built without network and its links lead to the Ansible documentation."""
    lines = ['%s std:label -1 %s %s' % entry for entry in ANSIBLE_LABELS]
    for plugin_type in BUILTIN_TYPES:
        listing = subprocess.run([ansible_doc, '-t', plugin_type, '--list', '--json', 'ansible.builtin'],
                                 stdout=subprocess.PIPE, check=True).stdout
        for fqcn in sorted(json.loads(listing)):
            name = fqcn.split('.')[-1]
            lines.append('ansible_collections.ansible.builtin.%s_%s std:label -1 collections/ansible/builtin/%s_%s.html %s %s'
                         % (name, plugin_type, name, plugin_type, fqcn, plugin_type))
    header = ('# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n'
              '# The remainder of this file is compressed using zlib.\n').encode('utf-8')
    with open(path, 'wb') as handle:
        handle.write(header + zlib.compress(('\n'.join(lines) + '\n').encode('utf-8')))
    return len(lines)


class _Anchors(HTMLParser):
    """The ids and the hrefs of one HTML page."""

    def __init__(self):
        HTMLParser.__init__(self)
        self.ids = set()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get('id'):
            self.ids.add(attrs['id'])
        if tag == 'a' and attrs.get('href'):
            self.hrefs.append(attrs['href'])


def _parse_html(path):
    parser = _Anchors()
    with open(path, encoding='utf-8') as handle:
        parser.feed(handle.read())
    return parser


def expected_pages(collection_dir):
    """The site's page of every module, filter and role of the collection (antsibull-docs' names)."""
    pages = []
    for kind, folder, suffix in (('module', 'plugins/modules', '.py'), ('filter', 'plugins/filter', '.yml')):
        for name in sorted(os.listdir(os.path.join(collection_dir, folder))):
            if name.endswith(suffix) and not name.startswith('_'):
                pages.append('%s_%s.html' % (name[:-len(suffix)], kind))
    for name in sorted(os.listdir(os.path.join(collection_dir, 'roles'))):
        pages.append('%s_role.html' % name)
    return pages


def check_site(html_dir, collection_dir, docs_dir):
    """Every module, filter and role has its page, every page of docs/ is on the site, and every link
    of those pages to another page of the site leads to a file and a heading that exist."""
    site = os.path.join(html_dir, 'collections', *COLLECTION.split('.'))
    problems = ['The site has no page %s.' % page for page in expected_pages(collection_dir)
                if not os.path.isfile(os.path.join(site, page))]
    extra = [os.path.join(site, 'docsite', page_name(md) + '.html') for md in find_pages(docs_dir)]
    problems += ['The site has no page %s (from docs/%s).' % (os.path.relpath(page, html_dir), md)
                 for page, md in zip(extra, find_pages(docs_dir)) if not os.path.isfile(page)]
    parsed = {}
    for page in [os.path.join(site, name) for name in expected_pages(collection_dir)] + extra:
        if not os.path.isfile(page):
            continue
        for href in _parse_html(page).hrefs:
            if '://' in href or href.startswith(('mailto:', '/')):
                # Other sites, mail, and the theme's link to the root of wherever the site is served.
                continue
            path, _sep, fragment = href.partition('#')
            target = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
            if not os.path.isfile(target):
                problems.append('%s links to %s, which does not exist.' % (os.path.relpath(page, html_dir), href))
                continue
            if fragment:
                if target not in parsed:
                    parsed[target] = _parse_html(target).ids
                if fragment not in parsed[target]:
                    problems.append('%s links to %s, but that page has no id %s.'
                                    % (os.path.relpath(page, html_dir), href, fragment))
    return problems


def main(argv):
    if len(argv) == 3 and argv[1] == '--ansible-inventory':
        print('%d Ansible documentation labels written to %s' % (write_ansible_inventory(argv[2]), argv[2]))
        return 0
    if len(argv) == 5 and argv[1] == '--check-site':
        problems = check_site(argv[2], argv[3], argv[4])
        for problem in problems:
            sys.stderr.write('%s\n' % problem)
        if problems:
            sys.stderr.write('The documentation site is incomplete or has broken links (above).\n')
            return 1
        print('The site has a page for every module, filter, role and page of docs/, and its links resolve.')
        return 0
    if len(argv) != 3:
        sys.stderr.write('usage: %s <docs folder> <copy of the collection>\n'
                         '       %s --ansible-inventory <objects.inv>\n'
                         '       %s --check-site <html folder> <copy of the collection> <docs folder>\n'
                         % (argv[0], argv[0], argv[0]))
        return 2
    try:
        pages = build(argv[1], argv[2])
    except DocsError as error:
        sys.stderr.write('%s\n' % error)
        return 1
    print('%d pages of docs/ written as extra docs to %s' % (len(pages), os.path.join(argv[2], 'docs', 'docsite')))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
