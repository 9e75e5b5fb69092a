# -*- coding: utf-8 -*-
"""What an operator is told for the mistakes that need no host: the notification without
dov_smtp.sender, a KBO number with wrong check digits (refused on every run by the inventory, with
nothing written), a typo in a CN's environment. docs/troubleshooting.md's table "Operator mistakes
and what the run says" quotes these messages (checked here; the host-side rows are checked by
tests/integration/test_operator_mistakes.py)."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.vlaanderen.dov.plugins.module_utils._common import cn
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._report import reportmail
from ansible_collections.vlaanderen.dov.plugins.plugin_utils._run import inventory, plan
from ansible_collections.vlaanderen.dov.plugins.module_utils._common.errors import DovError

TROUBLESHOOTING = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', '..', 'docs',
                               'troubleshooting.md')
ORGANISATION = {'name': 'Geolab nv', 'id_type': 'kbo', 'id': '0403.170.701', 'contact_email': 'it@geolab.be'}
APPLICATIONS = [{'name': 'Geodrill', 'description': 'Boorgegevens',
                 'environments': {'oefen': {'cn': 'geolab.be/dov-services/oefen/Geodrill'}}}]
HOSTS = {'h1': [{'application': 'Geodrill', 'environment': 'oefen', 'dest_dir': '/opt/geodrill'}]}
EXPECTED = {
    'sender': 'dov_smtp.sender is not set',
    'typo': "Did you mean 'oefen'? Use productie or oefen.",
    'orgid': 'dov_organisation.id: The KBO number',
}


def test_the_notification_is_sent_from_the_contact_email_when_no_sender_is_given():
    assert reportmail.sender_of({'host': 'smtp'}, ORGANISATION) == 'it@geolab.be'
    assert reportmail.sender_of({'host': 'smtp', 'sender': 'dov-mailer@geolab.be'}, ORGANISATION) == 'dov-mailer@geolab.be'


def test_without_sender_and_contact_email_the_run_says_dov_smtp_sender_is_not_set():
    with pytest.raises(DovError) as caught:
        reportmail.sender_of({'host': 'smtp', 'sender': ''}, {'name': 'Geolab nv'})
    assert str(caught.value).startswith(EXPECTED['sender'])
    with pytest.raises(DovError, match="dov_smtp.sender 'nobody' is not a plausible mail address"):
        reportmail.sender_of({'sender': 'nobody'}, ORGANISATION)


def test_a_kbo_number_with_wrong_check_digits_is_refused_on_every_run_and_nothing_is_written(tmp_path):
    wrong = dict(ORGANISATION, id='0403.170.702')
    with pytest.raises(DovError) as caught:
        inventory.Inventory(wrong, APPLICATIONS, HOSTS)
    assert EXPECTED['orgid'] in str(caught.value) and '0403.170.702' in str(caught.value)
    state_dir = tmp_path / 'state'
    with pytest.raises(DovError):
        plan.plan_step(inventory.Inventory(wrong, APPLICATIONS, HOSTS), str(state_dir), ['h1'], {}, False, None)
    assert not state_dir.exists()
    assert inventory.Inventory(ORGANISATION, APPLICATIONS, HOSTS).pairs


def test_an_environment_typo_in_the_inventorys_cn_offers_only_what_may_be_written():
    applications = [dict(APPLICATIONS[0], environments={'oefen': {'cn': 'geolab.be/dov-services/oefening/Geodrill'}})]
    with pytest.raises(DovError) as caught:
        inventory.Inventory(ORGANISATION, applications, HOSTS)
    assert EXPECTED['typo'] in str(caught.value) and 'ontwikkel' not in str(caught.value)
    with pytest.raises(DovError) as caught:
        cn.check_environment('prod', cn.REQUESTABLE_ENVIRONMENTS)
    assert str(caught.value) == "Unknown DOV environment 'prod'. Did you mean 'productie'? Use productie or oefen."


def test_the_troubleshooting_table_quotes_these_messages():
    with open(TROUBLESHOOTING) as handle:
        section = handle.read().split('## Operator mistakes and what the run says', 1)[1].split('\n## ', 1)[0]
    for name, message in EXPECTED.items():
        assert '`%s`' % message in section, name
