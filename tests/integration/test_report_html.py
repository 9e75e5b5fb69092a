# -*- coding: utf-8 -*-
"""report.html as a person sees it: headless Chromium (Debian's `chromium`) renders the page that
the installed collection's reporthtml.render_html makes, to a screenshot and to its DOM.

The records come from cert_info's logic on real files: the expired VO-PKI Geodrill certificate,
a 20-day and a 400-day certificate from a test CA.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

import pki_factory
from conftest import COLLECTIONS
from support import Page

HERE = os.path.dirname(os.path.abspath(__file__))
GEODRILL = os.path.join(os.path.dirname(HERE), 'fixtures', 'vo-pki', 'geolab-oefen-geodrill.pem')
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
WIDTH, HEIGHT = 1280, 1200
URGENT_CN = 'lab.example/dov-services/oefen/Geodrill'
HEALTHY_CN = 'lab.example/dov-services/productie/Sonde'


def collection():
    """The certinfo, report and reporthtml modules of the installed collection (what a user gets)."""
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)
    from ansible_collections.vlaanderen.dov.plugins.module_utils._crypto import certinfo
    from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import report, reporthtml
    return certinfo, report, reporthtml


def chromium(folder, *arguments):
    """Run headless Chromium with a fresh profile, no network chatter; return its stdout."""
    profile = folder / ('profile-%d' % len(os.listdir(str(folder))))
    command = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync',
               '--user-data-dir=%s' % profile] + list(arguments)
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def png_pixels(data):
    """(width, height, set of RGB colours) of an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    offset, idat, header = 8, b'', None
    while offset < len(data):
        length, kind = struct.unpack('>I4s', data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', chunk)
        elif kind == b'IDAT':
            idat += chunk
        offset += 12 + length
    width, height, depth, colour_type, _c, _f, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    colours = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for index in range(stride):
            left = line[index - channels] if index >= channels else 0
            up = previous[index]
            corner = previous[index - channels] if index >= channels else 0
            if kind == 1:
                line[index] = (line[index] + left) & 0xff
            elif kind == 2:
                line[index] = (line[index] + up) & 0xff
            elif kind == 3:
                line[index] = (line[index] + (left + up) // 2) & 0xff
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                line[index] = (line[index] + near[2]) & 0xff
        if row % 4 == 0:
            colours.update(bytes(line[index:index + 3]) for index in range(0, stride, channels * 2))
        previous = line
    return width, height, colours


def rgb(text):
    return bytes(bytearray(int(text[index:index + 2], 16) for index in (1, 3, 5)))


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    """report.html from real certificates, its screenshot and its DOM as Chromium built it."""
    if CHROMIUM is None:
        pytest.fail('chromium is not installed: run `make deps`.')
    certinfo, report, reporthtml = collection()
    folder = tmp_path_factory.mktemp('report')
    pki = pki_factory.shared()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    files = {
        'geodrill-oefen.pem': pki_factory.make_client(pki.intermediate, pki.key, URGENT_CN, now=now, days=20),
        'sonde-productie.pem': pki_factory.make_client(pki.intermediate, pki.other_key, HEALTHY_CN, now=now, days=400),
    }
    records = []
    for name, cert in files.items():
        (folder / name).write_bytes(pki_factory.pem(cert))
    for path, application, environment, state, hosts in (
            (str(folder / 'geodrill-oefen.pem'), 'Geodrill', 'oefen', 'renewal_due', ['app1', 'app2']),
            (str(folder / 'sonde-productie.pem'), 'Sonde', 'productie', 'verified', ['app2']),
            (GEODRILL, 'Geodrill', 'legacy <oefen>', 'failed', ['old & gone'])):
        info = certinfo.cert_info(path, renew_before_days=30, now=now)
        record = dict((key, info[key]) for key in ('common_name', 'not_before', 'not_after', 'days_left',
                                                   'fingerprint_sha256', 'issuer'))
        record.update(application=application, environment=environment, state=state, hosts=hosts,
                      verdict='ok' if state != 'failed' else 'client_cert_rejected', checked_at=now.strftime('%Y-%m-%dT%H:%M:%SZ'))
        records.append(record)
    page = folder / 'report.html'
    page.write_text(reporthtml.render_html(records, now), encoding='utf-8')
    url = 'file://%s' % page
    shot = folder / 'report.png'
    chromium(folder, '--hide-scrollbars', '--window-size=%d,%d' % (WIDTH, HEIGHT), '--screenshot=%s' % shot, url)
    dom = Page()
    dom.feed(chromium(folder, '--dump-dom', url))
    # kept for a person to look at: DOV_REPORT_SCREENSHOT=/some/file.png
    if os.environ.get('DOV_REPORT_SCREENSHOT'):
        shutil.copyfile(str(shot), os.environ['DOV_REPORT_SCREENSHOT'])
    return {'dom': dom, 'png': shot.read_bytes(), 'records': records, 'reporthtml': reporthtml}


def test_chromium_dom_has_the_table_most_urgent_first_with_the_cn_and_an_inline_svg(rendered):
    dom = rendered['dom']
    names = [tag for tag, _attrs in dom.tags]
    assert 'table' in names and 'svg' in names
    rows = [row for row in dom.rows if row]
    assert [row[1] for row in rows] == ['legacy <oefen>', 'oefen', 'productie']  # failed, 20 days, 400 days
    assert rows[1][2] == URGENT_CN and rows[2][2] == HEALTHY_CN
    assert rows[0][3] == 'old & gone'  # escaped in the file, shown as typed
    assert rows[1][5] == rendered['records'][0]['not_after'][:10]
    text = ''.join(dom.text)
    assert 'Expiry timeline' in text
    assert '%s (%d d)' % (rendered['records'][0]['not_after'][:10], rendered['records'][0]['days_left']) in text


def test_chromium_runs_no_script_and_loads_nothing_from_outside(rendered):
    assert not any(tag in ('script', 'link', 'img', 'iframe', 'object') for tag, _attrs in rendered['dom'].tags)
    assert not any('src' in attrs or 'href' in attrs for _tag, attrs in rendered['dom'].tags)


def test_screenshot_shows_the_page_with_its_colours(rendered):
    width, height, colours = png_pixels(rendered['png'])
    assert (width, height) == (WIDTH, HEIGHT)
    reporthtml = rendered['reporthtml']
    assert rgb('#1f3a5f') in colours  # the header band
    assert rgb(reporthtml.COLOURS['failed'][0]) in colours  # the failed row
    assert rgb(reporthtml.COLOURS['urgent'][0]) in colours  # the 20-day row
    assert rgb(reporthtml.COLOURS['ok'][0]) in colours  # the 400-day row
