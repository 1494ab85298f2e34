# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scan_agent_info's fetch against recorded phpIPAM answers."""

import datetime

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamPermissionError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_agent import (
    AgentNotFoundError,
    fetch_agent_inventory,
    parse_nameservers,
)

from phpipam_replay import fake_secret, find_exchange  # pylint: disable=import-error

APP_CODE = fake_secret('APP_CODE')


def client(server, **kwargs):
    return PhpipamClient(server.url, 'scanner', token=APP_CODE, backoff=0, max_workers=1, **kwargs)


def test_agent_by_code_with_subnets_and_addresses(replay):
    replay.queue(('scan_agent_cycle', 'list scan agents'), ('scan_agent_cycle', 'filter subnets by scanAgent'))
    for subnet_id, comment in ((7, 'addresses of subnet 7'), (8, 'addresses of subnet 8'),
                               (12, None), (10, 'addresses of IPv6 subnet')):
        if comment:
            replay.queue(('scan_agent_cycle', comment))
        else:
            empty = find_exchange('scan_agent_cycle', 'addresses of EMPTY subnet')
            empty['request']['path'] = '/api/scanner/subnets/%d/addresses/' % subnet_id
            replay.queue(empty)
    result = fetch_agent_inventory(client(replay), code=fake_secret('AGENT_CODE'), addresses=True)

    assert result['agent'] == {'id': 2, 'name': 'lab-agent', 'description': 'Ansible lab scan agent', 'type': 'api',
                               'last_access': None}
    assert 'code' not in result['agent']
    assert [s['cidr'] for s in result['subnets']] == ['127.0.10.0/24', '127.0.20.0/28', '127.40.1.0/24', 'fd00:10::/64']
    lab = result['subnets'][0]
    assert lab['ip_version'] == 4 and lab['pingSubnet'] is True and lab['discoverSubnet'] is True
    assert lab['dns_servers'] == ['127.0.0.53', '127.0.0.54']
    ips = [a['ip'] for a in lab['addresses']]
    assert ips == sorted(ips, key=lambda ip: tuple(int(p) for p in ip.split('.')))
    gateway = lab['addresses'][0]
    assert gateway['is_gateway'] is True and isinstance(gateway['lastSeen'], datetime.datetime)
    assert set(gateway) == {'id', 'ip', 'hostname', 'description', 'mac', 'tag', 'excludePing', 'is_gateway', 'lastSeen'}
    assert result['subnets'][1]['lastScan'] == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    assert result['subnets'][2]['addresses'] == []
    assert result['subnets'][3]['ip_version'] == 6
    # One request for agents, one for subnets, one per subnet for addresses: none per address.
    assert len(replay.received) == 2 + 4


def test_unknown_agent_code_names_the_known_agents_not_their_codes(replay):
    replay.queue(('scan_agent_cycle', 'list scan agents'))
    with pytest.raises(AgentNotFoundError) as info:
        fetch_agent_inventory(client(replay), code='no-such-code')
    message = str(info.value)
    assert "no scan agent with the given agent code" in message and "'lab-agent'" in message
    assert fake_secret('AGENT_CODE') not in message


def test_unknown_agent_id(replay):
    replay.queue(('scan_agent_cycle', 'non-existent scan agent'))
    with pytest.raises(AgentNotFoundError) as info:
        fetch_agent_inventory(client(replay), agent_id=99)
    assert 'no scan agent with id 99' in str(info.value)


def test_require_write_refuses_a_read_only_app_before_reading(replay):
    replay.queue({'comment': 'options', 'request': {'method': 'OPTIONS', 'path': '/api/scanner/tools/', 'query': {},
                                                    'headers': {'token': APP_CODE}, 'body': None},
                  'response': {'status': 200, 'headers': {'content-type': 'application/json'},
                               'body': {'code': 200, 'success': True, 'data': {'permissions': 'Read'}}}})
    with pytest.raises(PhpipamPermissionError) as info:
        fetch_agent_inventory(client(replay), code='x', require_write=True)
    assert "API app 'scanner' has permissions 'Read'" in str(info.value)
    assert len(replay.received) == 1


@pytest.mark.parametrize('text, expected', [
    ('127.0.0.53;127.0.0.54', ['127.0.0.53', '127.0.0.54']),
    (' 198.18.0.1 ; ; fd00::53 ', ['198.18.0.1', 'fd00::53']),
    ('198.18.0.1,198.18.0.2', ['198.18.0.1', '198.18.0.2']),
    ('dns.example.com;198.18.0.1', ['198.18.0.1']),
    ('', []),
    (None, []),
])
def test_parse_nameservers(text, expected):
    assert parse_nameservers(text) == expected
