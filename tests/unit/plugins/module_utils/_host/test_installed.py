"""installed: which files belong to an entry (``entry_files``, ``certificate_files``), the one list
that the install's snapshot, a renewal's kept set, the manifest and ``state: absent`` all take
their files from. Each caller's list is compared with the list it built itself before it used
``entry_files`` (written out below), for default names, renamed files, a key outside dest_dir and
each set of formats. No cryptography needed."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type
import os
import pytest
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import hostabsent, installed, rollover
from ansible_collections.vlaanderen.dov.plugins.module_utils._host.installed import FORMAT_KINDS, FORMATS, INSTALL_SET, entry_files
from ansible_collections.vlaanderen.dov.plugins.module_utils._host import installed

DEST = '/opt/geodrill/dov'


def entry(formats=None, files=None, **more):
    item = {'application': 'Geodrill', 'environment': 'oefen', 'common_name': 'geolab.be/dov-services/oefen/Geodrill',
            'dest_dir': DEST, 'install': {'formats': formats} if formats else {}}
    if files:
        item['files'] = files
    item.update(more)
    return item


ENTRIES = {
    'defaults': entry(),
    'every format': entry(['pem', 'pkcs12', 'jks']),
    'pkcs12 only': entry(['pkcs12']),
    'jks and pem': entry(['jks', 'pem']),
    'renamed files': entry(['pem', 'jks'], files={'key': 'client.key', 'csr': 'client.csr', 'cert': 'client.crt',
                                                  'chain': 'ca.crt', 'jks': 'client.jks'}),
    'key elsewhere': entry(['pem', 'pkcs12'], privatekey_path='/etc/geodrill/private/dov.key'),
    'key and csr elsewhere': entry(privatekey_path='/etc/geodrill/dov.key', csr_path='/var/lib/geodrill/dov.csr'),
}


def old_format_paths(item, formats=None):
    """installed.format_paths as it was (removed): the files the formats produce in dest_dir."""
    names = installed.file_names(item.get('files'))
    formats = formats or (item.get('install') or {}).get('formats') or ['pem']
    return [os.path.join(item['dest_dir'], names[kind]) for kind, _name, file_format in installed.FILES if file_format in formats]


@pytest.mark.parametrize('name', sorted(ENTRIES))
def test_every_caller_gets_the_files_it_built_itself_before(name):
    item = ENTRIES[name]
    key_path, csr_path = installed.paths(item)
    manifest = os.path.join(DEST, '.dov-manifest.json')
    every = old_format_paths(item, FORMATS)
    # hostcerts.install's snapshot (dest_dir there) and rollover's kept set: the key first, the manifest last
    assert [path for _kind, path in entry_files(item, INSTALL_SET, FORMATS)] == [key_path] + every + [manifest]
    assert rollover._managed(item) == [key_path] + every + [manifest]
    # hostcerts.install's snapshot when dest_dir does not exist yet
    assert [path for _kind, path in entry_files(item, ('key',), FORMATS)] == [key_path]
    # hostmanifest.write_manifest's recorded files (every format) and converged_by_manifest's (the entry's formats)
    assert sorted(path for _kind, path in entry_files(item, ('key',) + FORMAT_KINDS, FORMATS)) == sorted(every + [key_path])
    assert [path for _kind, path in entry_files(item, ('key',) + FORMAT_KINDS)] == [key_path] + old_format_paths(item)
    # hostabsent.managed_files: every kind, whatever the formats are now
    names = installed.file_names(item.get('files'))
    old = {'key': key_path, 'csr': csr_path, 'key_next': key_path + '.next', 'csr_next': csr_path + '.next',
           'manifest': manifest}
    for kind in ('cert', 'chain', 'fullchain', 'pkcs12', 'jks'):
        old[kind] = os.path.join(DEST, names[kind])
    assert hostabsent.managed_files(item) == old


def test_entry_files_names_each_kind_in_order_with_the_renamed_files_and_the_key_elsewhere():
    item = entry(['pem', 'pkcs12'], files={'cert': 'client.crt', 'pkcs12': 'client.p12', 'csr': 'client.csr'},
                 privatekey_path='/etc/geodrill/dov.key')
    assert entry_files(item) == [
        ('key', '/etc/geodrill/dov.key'), ('csr', '/etc/geodrill/client.csr'),
        ('cert', DEST + '/client.crt'), ('chain', DEST + '/chain.pem'), ('fullchain', DEST + '/fullchain.pem'),
        ('pkcs12', DEST + '/client.p12'), ('manifest', DEST + '/.dov-manifest.json'),
        ('key_next', '/etc/geodrill/dov.key.next'), ('csr_next', '/etc/geodrill/client.csr.next')]
    assert [kind for kind, _path in entry_files(item, formats=FORMATS)] == list(installed.ENTRY_KINDS)
    assert entry_files(entry(['jks']), ('jks', 'manifest')) == [
        ('jks', DEST + '/keystore.jks'), ('manifest', DEST + '/.dov-manifest.json')]


def test_the_certificate_file_of_each_format_the_entry_has():
    assert installed.certificate_files(entry()) == [DEST + '/cert.pem']
    assert installed.certificate_files(entry(['jks', 'pkcs12'], files={'jks': 'app.jks'})) == [
        DEST + '/bundle.p12', DEST + '/app.jks']
    assert installed.certificate_files(entry(['pem', 'pkcs12', 'jks'])) == [
        DEST + '/cert.pem', DEST + '/bundle.p12', DEST + '/keystore.jks']


def test_a_bad_files_mapping_is_refused_by_entry_files_as_by_file_names():
    with pytest.raises(DovError, match=r"files\.cert is '\.\./cert\.pem', which is not a plain file name inside dest_dir"):
        entry_files(entry(files={'cert': '../cert.pem'}))
    with pytest.raises(DovError, match="files names 'p12', which is not a file of a certificate"):
        entry_files(entry(files={'p12': 'x.p12'}))


APP, CN = 'Geodrill', 'geolab.be/dov-services/oefen/Geodrill'


def dest_entry(dest, holder=False, **more):
    return dict({'application': APP, 'environment': 'oefen', 'common_name': CN, 'cn_policy': 'strict',
                 'dest_dir': str(dest), 'key_holder': holder, 'install': {'formats': ['pem']}}, **more)


def test_file_names_are_the_defaults_unless_renamed():
    names = installed.file_names({'key': 'client.key', 'cert': 'client.crt'})
    assert names == {'key': 'client.key', 'csr': 'csr.pem', 'cert': 'client.crt', 'chain': 'chain.pem',
                     'fullchain': 'fullchain.pem', 'pkcs12': 'bundle.p12', 'jks': 'keystore.jks'}
    assert installed.file_names(None)['key'] == 'key.pem'


@pytest.mark.parametrize('files', [{'cert': 'sub/cert.pem'}, {'cert': '..'}, {'pkcs12': ''}, {'p7b': 'x'},
                                   {'chain': 'cert.pem'}])
def test_file_names_that_are_no_plain_distinct_names_are_refused(files):
    with pytest.raises(DovError):
        installed.file_names(files)


def test_paths_follow_the_file_names(tmp_path):
    item = dest_entry(tmp_path, files={'key': 'client.key', 'csr': 'client.csr'})
    assert installed.paths(item) == (str(tmp_path / 'client.key'), str(tmp_path / 'client.csr'))
    assert installed.file_path(dest_entry(tmp_path, files={'cert': 'client.crt'}), 'cert') == str(tmp_path / 'client.crt')
