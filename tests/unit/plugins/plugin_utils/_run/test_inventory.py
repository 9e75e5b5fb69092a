# -*- coding: utf-8 -*-
"""inventory: what Inventory accepts (one pair per application/environment with its hosts) and
every refusal, all problems listed at once; names that collide with the state folder,
certificate_file and files. ``entry``, ``geodrill`` and ``make_inventory`` are fixtures of
tests/unit/plugins/plugin_utils/conftest.py."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

APP = 'Geodrill'
CN = 'geolab.be/dov-services/oefen/Geodrill'
PRODUCTIE_CN = 'geolab.be/dov-services/productie/Geodrill'
PAIR = 'Geodrill/oefen'
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}


@pytest.fixture
def refusal(make_inventory):
    """``refusal(applications, hosts, cn_policy)``: the message of the inventory's refusal."""
    def refused_inventory(applications=None, hosts=None, cn_policy='strict'):
        with pytest.raises(DovError) as info:
            make_inventory(applications, hosts, cn_policy)
        return str(info.value)
    return refused_inventory


def app(name='Geodrill', environments=None, **more):
    return dict({'name': name, 'description': 'Boorgegevens', 'environments': environments or {'oefen': {'cn': CN}}}, **more)


def host(**more):
    return {'app-1': [dict({'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill/dov'}, **more)]}


def refused(applications, hosts=None, base_dir=None):
    with pytest.raises(DovError) as info:
        inventory.Inventory(ORGANISATION, applications, hosts or {}, base_dir=base_dir)
    return str(info.value)


# ---------------------------------------------------------------- Inventory: what it accepts

def test_a_valid_inventory_has_one_pair_per_application_environment_with_its_hosts(entry, make_inventory):
    inventory = make_inventory(hosts={'app-1': [entry(formats=['pem', 'pkcs12'])], 'app-2': [entry()], 'db-1': None})
    assert sorted(inventory.pairs) == ['Geodrill/oefen', 'Geodrill/productie']
    pair = inventory.pairs[PAIR]
    assert (pair.application, pair.environment, pair.common_name, pair.cn_policy) == (APP, 'oefen', CN, 'strict')
    assert pair.description == 'Boorgegevens opladen vanuit ons LIMS'
    assert [host for host, _entry in pair.hosts] == ['app-1', 'app-2']
    assert inventory.pairs['Geodrill/productie'].common_name is None
    assert inventory.pairs['Geodrill/productie'].hosts == []
    assert inventory.organisation == ORGANISATION


def test_cn_policy_off_accepts_a_cn_that_is_not_in_the_dov_shape(entry, geodrill, make_inventory):
    inventory = make_inventory([geodrill(oefen={'cn': 'client.geolab.be', 'cn_policy': 'off'})], {'app-1': [entry()]})
    assert inventory.pairs[PAIR].cn_policy == 'off'
    assert inventory.pairs[PAIR].common_name == 'client.geolab.be'
    make_inventory([geodrill(oefen={'cn': 'client.geolab.be'})], {'app-1': [entry()]}, cn_policy='off')


# ---------------------------------------------------------------- Inventory: every refusal

def test_empty_applications_are_refused_with_an_example():
    for applications in ([], None, {'name': APP}):
        with pytest.raises(DovError, match=r'dov_applications is empty\. List the applications'):
            inventory.Inventory(ORGANISATION, applications, {})


def test_an_application_named_on_a_host_but_not_in_dov_applications_is_refused(entry, refusal):
    message = refusal(hosts={'app-1': [entry(application='Geodril')]})
    assert ("Host app-1 names the application 'Geodril', which is not in dov_applications (Geodrill). "
            "Add it there, or correct the name." in message)


def test_an_environment_not_listed_for_the_application_is_refused(entry, geodrill, refusal):
    message = refusal([geodrill(oefen={'cn': CN})], {'app-1': [entry(environment='productie')]})
    assert ("Host app-1 names Geodrill/productie, but the application 'Geodrill' has no environment 'productie' "
            "in dov_applications. Add it there, or correct the environment." in message)


def test_a_cn_whose_environment_part_differs_from_its_environment_is_refused(entry, geodrill, refusal):
    message = refusal([geodrill(oefen={'cn': PRODUCTIE_CN})], {'app-1': [entry()]})
    assert ("The CN %r is listed under Geodrill/oefen, but its environment part is 'productie'. Put it under "
            "'productie', or correct the CN to the one DOV sent for oefen." % PRODUCTIE_CN in message)


def test_the_same_cn_under_two_pairs_is_refused_also_with_a_trailing_slash(geodrill, refusal):
    applications = [geodrill(oefen={'cn': CN}),
                    {'name': 'Georeport', 'environments': {'oefen': {'cn': CN + '/'}}}]
    message = refusal(applications, {})
    assert ("The CN %r is given for both Geodrill/oefen and Georeport/oefen. Each application/environment has its "
            "own certificate and CN." % (CN + '/')) in message


@pytest.mark.parametrize('environment', ['prod', 'ontwikkel', 'Oefen'])
def test_an_unknown_or_not_requestable_environment_is_refused(environment, geodrill, refusal):
    message = refusal([geodrill(**{environment: {}})], {})
    assert ("Application 'Geodrill': Unknown DOV environment %r. " % environment) in message
    assert message.endswith('Use productie or oefen.')


def test_a_cn_that_is_not_a_dov_cn_is_refused_under_the_strict_policy(geodrill, refusal):
    message = refusal([geodrill(oefen={'cn': 'client.geolab.be'})], {})
    assert "Application 'Geodrill', environment oefen: The CN 'client.geolab.be' has 1 parts" in message


@pytest.mark.parametrize('application', [{'environments': {'oefen': {}}}, {'name': '  '}, 'Geodrill', None])
def test_an_application_without_a_name_is_refused(application, geodrill, refusal):
    message = refusal([geodrill(), application], {})
    assert 'dov_applications item 2 has no name. Give each application a name.' in message


def test_an_application_listed_twice_or_without_environments_is_refused(geodrill, refusal):
    message = refusal([geodrill(), geodrill(), {'name': 'Georeport', 'environments': {}}], {})
    assert "The application 'Geodrill' is listed twice in dov_applications. List it once, with all its environments." in message
    assert "The application 'Georeport' has no environments. Give e.g. environments: {oefen: {}}." in message


@pytest.mark.parametrize('dest_dir, problem', [
    ('opt/geodrill/dov', 'is not an absolute path'), ('./dov', 'is not an absolute path'), ('', 'is empty'),
    (None, 'is not a path'), ('/opt/geodrill/dov\n/etc', 'contains a control character (a newline, a tab or NUL)'),
    ('/opt/geodrill\x00/dov', 'contains a control character (a newline, a tab or NUL)'),
    ('/x/..', 'is the root folder'), ('//', 'is the root folder')])
def test_a_dest_dir_that_is_not_a_plain_absolute_path_is_refused(dest_dir, problem, entry, refusal):
    message = refusal(hosts={'app-1': [entry(dest_dir=dest_dir)]})
    assert ("Host app-1, Geodrill/oefen: dest_dir %r %s. Give the folder where the application reads its certificate "
            "as a plain absolute path, e.g. /opt/geodrill/dov." % (dest_dir, problem)) in message


def test_a_privatekey_path_with_a_newline_is_refused(entry, refusal):
    message = refusal(hosts={'app-1': [entry(privatekey_path='/opt/geodrill/key.pem\n')]})
    assert ("Host app-1, Geodrill/oefen: privatekey_path '/opt/geodrill/key.pem\\n' contains a control character (a "
            "newline, a tab or NUL). Give a plain absolute path, or leave it out (key.pem in dest_dir).") in message


def test_one_folder_written_two_ways_for_two_pairs_is_refused(entry, refusal):
    message = refusal(hosts={'app-1': [entry(dest_dir='/x/shared'),
                                       entry(environment='productie', dest_dir='/x/y/../shared/.')]})
    assert ("Host app-1: Geodrill/oefen and Geodrill/productie both use dest_dir /x/y/../shared/.. Each certificate needs "
            "its own folder") in message


def test_unknown_formats_are_refused_by_name(entry, refusal):
    message = refusal(hosts={'app-1': [entry(formats=['pem', 'der', 'p12'])]})
    assert 'Host app-1, Geodrill/oefen: unknown format(s) der, p12. Use pem, pkcs12 and/or jks.' in message


def test_a_host_listing_a_pair_twice_is_refused(entry, refusal):
    message = refusal(hosts={'app-1': [entry(), entry(dest_dir='/opt/other/dov')]})
    assert 'Host app-1 lists Geodrill/oefen twice. One certificate per application/environment and host.' in message


def test_a_host_entry_without_application_or_environment_is_refused(refusal):
    message = refusal(hosts={'app-1': [{'dest_dir': '/opt/x'}], 'app-2': [{'application': APP, 'dest_dir': '/opt/x'}]})
    assert "Host app-1 names the application None, which is not in dov_applications" in message
    assert "Host app-2 names Geodrill/None, but the application 'Geodrill' has no environment None" in message


def test_dov_certificates_that_are_not_a_list_of_dicts_are_refused(entry, refusal):
    message = refusal(hosts={'app-1': entry(), 'app-2': ['Geodrill/oefen']})
    assert 'Host app-1: dov_certificates must be a list of {application, environment, dest_dir}.' in message
    assert 'Host app-2: each dov_certificates item is a dict with application, environment and dest_dir.' in message


def test_every_problem_is_listed_at_once_and_counted(entry, geodrill, refusal):
    applications = [geodrill(oefen={'cn': PRODUCTIE_CN}, prod={}),
                    {'environments': {}}]
    hosts = {'app-1': [entry(dest_dir='relative'), entry(application='Nope')],
             'app-2': [entry(formats=['der'])]}
    message = refusal(applications, hosts)
    assert message.startswith('The inventory has 6 problem(s); nothing was changed:\n- ')
    lines = message.split('\n- ')[1:]
    assert len(lines) == 6
    assert any('its environment part is' in line for line in lines)
    assert any("Unknown DOV environment 'prod'" in line for line in lines)
    assert any('item 2 has no name' in line for line in lines)
    assert any('is not an absolute path' in line for line in lines)
    assert any("names the application 'Nope'" in line for line in lines)
    assert any('unknown format(s) der' in line for line in lines)


def test_two_pairs_of_one_host_in_the_same_dest_dir_are_refused(entry, geodrill, refusal):
    applications = [geodrill(oefen={'cn': CN}, productie={'cn': PRODUCTIE_CN})]
    hosts = {'app-1': [entry(environment='oefen', dest_dir='/opt/geodrill/dov'),
                       entry(environment='productie', dest_dir='/opt/geodrill/dov')]}
    message = refusal(applications, hosts)
    assert '/opt/geodrill/dov' in message


# ---------------------------------------------------------------- names, certificate_file and files

@pytest.mark.parametrize('name', ['..', '.hidden', 'status.json', 'lab-ca', 'lab-standin', 'a/b', 'a\\b', 'bell\x07',
                                  'x' * 65, ' Geodrill'])
def test_an_application_name_that_collides_with_the_state_folder_is_refused(name):
    message = refused([app(name)])
    assert "The application name %r cannot be used" % name in message
    assert "Use the application name as DOV wrote it in the CN, e.g. 'Geodrill'." in message


def test_a_relative_certificate_file_is_taken_from_the_inventory_folder(tmp_path):
    (tmp_path / 'certs').mkdir()
    (tmp_path / 'certs' / 'geodrill.cer').write_bytes(b'DER')
    inv = inventory.Inventory(ORGANISATION, [app(environments={'oefen': {'cn': CN, 'certificate_file': 'certs/geodrill.cer'}})],
                              host(), base_dir=str(tmp_path))
    assert inv.pairs['Geodrill/oefen'].certificate_file == str(tmp_path / 'certs' / 'geodrill.cer')


def test_a_certificate_file_that_does_not_exist_is_refused_by_its_path(tmp_path):
    message = refused([app(environments={'oefen': {'cn': CN, 'certificate_file': 'missing.cer'}})], host(), str(tmp_path))
    assert ('Geodrill/oefen: certificate_file %s does not exist. Give the certificate downloaded from VO-DCBaaS'
            % (tmp_path / 'missing.cer')) in message


@pytest.mark.parametrize('files, problem', [
    ({'certificate': 'x.pem'}, "files names 'certificate', which is not a file of a certificate"),
    ({'key': '../key.pem'}, "files.key is '../key.pem', which is not a plain file name inside dest_dir"),
    ({'cert': '.hidden'}, "files.cert is '.hidden', which is not a plain file name"),
    ({'key': 'client.pem', 'cert': 'client.pem'}, "files gives key and cert the same name 'client.pem'"),
    (['key'], 'files is not a mapping of kinds to file names'),
])
def test_bad_file_names_are_refused_per_host(files, problem):
    message = refused([app()], host(files=files))
    assert 'Host app-1, Geodrill/oefen: ' + problem in message
