# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applying to an HA pair: every server is tested before any is set (real KeaClients, loopback agents)."""

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea import KeaClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea_plan import plan_config
from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea_apply import (
    SyncFailed,
    apply_configs,
    check_not_emptied,
    plan_servers,
    test_configs as check_configs,
)

from test_kea import PASSWORD, FakeAgent, exchange  # pylint: disable=import-error
from test_kea_plan import desired_for, recorded_config, subnet7  # pylint: disable=import-error

OK = {'response': {'status': 200, 'body': [{'result': 0, 'text': 'ok'}]}}
REFUSED = {'response': {'status': 200, 'body': [{'result': 1, 'text': "failed to add new host using the HW address "
                                                                      "'02:aa:00:00:00:20' to the IPv4 subnet id '7'"}]}}


def empty_config():
    recorded = exchange('a managed subnet 7 (created by kea_sync) and an unmanaged subnet 900')
    dhcp4 = recorded['response']['body'][0]['arguments']['Dhcp4']
    dhcp4['subnet4'] = [s for s in dhcp4['subnet4'] if s['id'] == 900]
    return recorded


@pytest.fixture
def pair():
    agents = [FakeAgent(), FakeAgent()]
    yield agents
    for agent in agents:
        agent.close()


def commands(agent):
    return [r['body']['command'] for r in agent.requests]


def test_a_refusal_on_the_second_server_leaves_both_untouched(pair):
    first, second = pair
    for agent in pair:
        agent.queue.append(empty_config())
    first.queue.append(OK)
    second.queue.append(REFUSED)
    clients = [KeaClient(agent.url, 'kea', PASSWORD) for agent in pair]
    desired, problems, skipped = desired_for(*subnet7())
    plans = plan_servers(clients, desired, skipped, 'phpipam', problems)
    with pytest.raises(SyncFailed) as info:
        check_configs(plans, desired)
    message = str(info.value)
    assert message.startswith('Kea %s refused the new configuration (config-test)' % second.url)
    assert 'phpIPAM subnet 198.18.10.0/24 (id 7): address 198.18.10.20 (02:aa:00:00:00:20)' in message
    assert message.endswith('Nothing was applied on any Kea server')
    assert commands(first) == ['config-get', 'config-test'] and commands(second) == ['config-get', 'config-test']


def test_both_members_get_the_same_subnets_and_write_them(pair):
    for agent in pair:
        agent.queue.extend([empty_config(), OK, OK, OK])
    clients = [KeaClient(agent.url, 'kea', PASSWORD) for agent in pair]
    desired, problems, skipped = desired_for(*subnet7())
    plans = plan_servers(clients, desired, skipped, 'phpipam', problems)
    check_configs(plans, desired)
    assert apply_configs(plans) == [agent.url for agent in pair]
    for agent in pair:
        assert commands(agent) == ['config-get', 'config-test', 'config-set', 'config-write']
        sent = agent.requests[2]['body']['arguments']['Dhcp4']['subnet4']
        assert [s['id'] for s in sent] == [900, 7] and sent[1] == desired[7]


def test_a_failing_set_on_the_second_server_says_where_the_new_config_is(pair):
    first, second = pair
    first.queue.extend([empty_config(), OK, OK, OK])
    second.queue.extend([empty_config(), OK, {'response': {'status': 200, 'body': [
        {'result': 1, 'text': 'unable to forward command to the dhcp4 service: No such file or directory. The server is likely to be offline'}]}}])
    clients = [KeaClient(agent.url, 'kea', PASSWORD) for agent in pair]
    desired, problems, skipped = desired_for(*subnet7())
    plans = plan_servers(clients, desired, skipped, 'phpipam', problems)
    check_configs(plans, desired)
    with pytest.raises(SyncFailed) as info:
        apply_configs(plans)
    assert 'already applied on %s' % first.url in str(info.value)
    assert 'dhcp4 is not running' in str(info.value)


class _Server(object):
    url = 'https://kea-a.example.test:8000'


def test_an_empty_selection_does_not_empty_kea():
    # phpIPAM selected nothing: removing every managed subnet is refused unless asked for.
    plans = [(_Server(), plan_config(recorded_config(), {}, {}, 'phpipam'))]
    with pytest.raises(SyncFailed) as info:
        check_not_emptied(plans, {}, {}, allow_remove_all=False)
    message = str(info.value)
    assert 'phpIPAM selected no subnet, but Kea https://kea-a.example.test:8000 runs 1 subnet(s) this sync' in message
    assert message.endswith('Nothing was sent to Kea')
    check_not_emptied(plans, {}, {}, allow_remove_all=True)
    # One subnet still selected: dropping the others is an ordinary change.
    desired, dummy, skipped = desired_for(*subnet7())
    check_not_emptied(plans, desired, skipped, allow_remove_all=False)
