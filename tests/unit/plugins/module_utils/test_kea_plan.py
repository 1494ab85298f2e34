# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure phpIPAM -> Kea planner and the lease -> phpIPAM planner, on plain data.

The "current" Kea configuration is the config-get answer recorded from a real Kea 2.2 (with its
added defaults and its own pool notation), so "unchanged" is tested against what Kea really returns.
"""

import copy
import datetime
import ipaddress
import json
import os

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea_plan import (
    SyncSettings,
    active_leases,
    build_diff,
    build_subnets,
    dhcp_runs,
    lease_settings,
    plan_config,
    plan_leases,
    subject_of,
)

UTC = datetime.timezone.utc
FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'kea-2.2', 'control_agent.json')
TAGS = {'Offline': 1, 'Used': 2, 'Reserved': 3, 'DHCP': 4}
SETTINGS = SyncSettings(domain_name_field='dns')


def recorded_config():
    with open(FIXTURE, encoding='utf-8') as handle:
        data = json.load(handle)
    return copy.deepcopy(data['exchanges'][0]['response']['body'][0]['arguments']['Dhcp4'])


def subnet7():
    record = {'id': 7, 'subnet': '198.18.10.0', 'mask': 24, 'nameserverId': 1, 'dns': 'example.test'}
    addresses = [{'ip': '198.18.10.1', 'is_gateway': True, 'tag': 2},
                 {'ip': '198.18.10.20', 'mac': '02:AA:00:00:00:20', 'hostname': 'web1.lab.test', 'tag': 2}]
    addresses += [{'ip': '198.18.10.%d' % i, 'tag': 4} for i in list(range(100, 111)) + [120, 121]]
    return record, addresses


NAMESERVERS = {1: {'namesrv1': '198.18.10.53;fd00::1'}}


def desired_for(record, addresses, settings=SETTINGS):
    return build_subnets([record], {record['id']: addresses}, NAMESERVERS, settings)


def test_dhcp_runs_join_contiguous_addresses():
    ips = [ipaddress.ip_address('198.18.0.%d' % i) for i in (5, 3, 4, 9, 11, 10, 20)]
    assert [(str(a), str(b)) for a, b in dhcp_runs(ips)] == [
        ('198.18.0.3', '198.18.0.5'), ('198.18.0.9', '198.18.0.11'), ('198.18.0.20', '198.18.0.20')]


def test_mapping_of_one_subnet():
    desired, problems, skipped = desired_for(*subnet7())
    assert problems == [] and skipped == {}
    subnet = desired[7]
    assert subnet['subnet'] == '198.18.10.0/24'
    assert subnet['option-data'] == [{'name': 'domain-name', 'data': 'example.test'},
                                     {'name': 'domain-name-servers', 'data': '198.18.10.53'},
                                     {'name': 'routers', 'data': '198.18.10.1'}]
    assert subnet['pools'] == [{'pool': '198.18.10.100-198.18.10.110'}, {'pool': '198.18.10.120-198.18.10.121'}]
    assert subnet['reservations'] == [{'hw-address': '02:aa:00:00:00:20', 'ip-address': '198.18.10.20',
                                       'hostname': 'web1.lab.test'}]
    assert subnet['user-context']['ipamkit']['owner'] == 'phpipam'
    assert subnet['user-context']['ipamkit']['phpipam_subnet_id'] == 7


def test_what_kea_returns_for_our_subnet_counts_as_unchanged():
    # Kea adds defaults and writes the pool .120-.121 as 198.18.10.120/31: still no change.
    desired, _problems, skipped = desired_for(*subnet7())
    plan = plan_config(recorded_config(), desired, skipped, 'phpipam')
    assert plan['config'] is None
    assert [(c['id'], c['action']) for c in plan['changes']] == [(7, 'unchanged')]


def test_an_added_reservation_updates_only_our_subnet_and_keeps_the_rest_verbatim():
    record, addresses = subnet7()
    addresses.append({'ip': '198.18.10.21', 'mac': '02:aa:00:00:00:21', 'hostname': 'web2', 'tag': 2})
    desired, _problems, skipped = desired_for(record, addresses)
    current = recorded_config()
    plan = plan_config(current, desired, skipped, 'phpipam')
    assert [c['action'] for c in plan['changes']] == ['update']
    new = plan['config']
    unmanaged = [s for s in new['subnet4'] if s['id'] == 900]
    assert unmanaged == [s for s in current['subnet4'] if s['id'] == 900]
    assert dict((k, v) for k, v in new.items() if k != 'subnet4') == \
        dict((k, v) for k, v in current.items() if k != 'subnet4')
    diff = build_diff(plan['changes'], 'kea1')
    assert '  reservation 198.18.10.21 hw-address=02:aa:00:00:00:21 hostname=web2' in diff['after']
    assert '198.18.10.21' not in diff['before']


@pytest.mark.parametrize('change, expected', [
    (lambda r, a: a.pop(0), 'has no gateway'),
    (lambda r, a: r.update(subnet='fd00:18::', mask=64), 'is IPv6'),
    (lambda r, a: a.append({'ip': '198.18.10.30', 'mac': '02:aa:00:00:00:20', 'tag': 2}),
     'already reserved for 198.18.10.20'),
    (lambda r, a: a.append({'ip': '198.18.10.31', 'mac': 'not-a-mac', 'tag': 2}), 'is not a MAC address'),
    (lambda r, a: r.update(lease='soon'), "lease 'soon' is not a lease time"),
])
def test_bad_input_is_named(change, expected):
    record, addresses = subnet7()
    change(record, addresses)
    _desired, problems, _skipped = desired_for(record, addresses, SyncSettings(valid_lifetime_field='lease'))
    assert any(expected in p for p in problems), problems
    assert all('198.18.10.0/24 (id 7)' in p or 'fd00:18::/64 (id 7)' in p for p in problems)


def test_a_duplicate_mac_drops_only_the_second_reservation():
    record, addresses = subnet7()
    addresses.append({'ip': '198.18.10.30', 'mac': '02:aa:00:00:00:20', 'tag': 2})
    desired, _problems, _skipped = desired_for(record, addresses)
    assert [r['ip-address'] for r in desired[7]['reservations']] == ['198.18.10.20']


def test_a_skipped_subnet_stays_in_kea_as_it_is():
    record, addresses = subnet7()
    addresses.pop(0)  # the gateway is gone: bad input, not a reason to stop DHCP in that subnet
    desired, problems, skipped = desired_for(record, addresses)
    plan = plan_config(recorded_config(), desired, skipped, 'phpipam', problems)
    assert plan['config'] is None
    assert [(c['id'], c['action']) for c in plan['changes']] == [(7, 'kept')]


def test_a_subnet_no_longer_selected_is_removed():
    plan = plan_config(recorded_config(), {}, {}, 'phpipam')
    assert [(c['id'], c['action']) for c in plan['changes']] == [(7, 'delete')]
    assert [s['id'] for s in plan['config']['subnet4']] == [900]


def test_another_owner_does_not_touch_our_subnets():
    plan = plan_config(recorded_config(), {}, {}, 'other-phpipam')
    assert plan['config'] is None and plan['changes'] == []


@pytest.mark.parametrize('record_id, cidr, reason', [(900, '198.18.30.0/24', 'same id'),
                                                     (8, '198.19.250.0/24', 'same prefix')])
def test_collision_with_an_unmanaged_kea_subnet_is_skipped(record_id, cidr, reason):
    network = ipaddress.ip_network(cidr)
    record = {'id': record_id, 'subnet': str(network.network_address), 'mask': network.prefixlen}
    addresses = [{'ip': str(network.network_address + 1), 'is_gateway': True}]
    desired, _problems, skipped = desired_for(record, addresses)
    desired[7] = desired_for(*subnet7())[0][7]
    plan = plan_config(recorded_config(), desired, skipped, 'phpipam')
    assert any(reason in p and 'Kea subnet 198.19.250.0/24 (id 900' in p for p in plan['problems'])
    assert plan['config'] is None  # subnet 7 unchanged, the colliding one left out


def test_nested_selected_subnets_are_refused():
    outer = {'id': 1, 'subnet': '198.18.0.0', 'mask': 16}
    inner = {'id': 2, 'subnet': '198.18.5.0', 'mask': 24}
    addresses = {1: [{'ip': '198.18.0.1', 'is_gateway': True}], 2: [{'ip': '198.18.5.1', 'is_gateway': True}]}
    desired, problems, skipped = build_subnets([outer, inner], addresses, {}, SETTINGS)
    assert list(desired) == [1] and skipped == {2: '198.18.5.0/24'}
    assert 'overlaps phpIPAM subnet 198.18.0.0/16 (id 1)' in problems[0]


def test_kea_error_is_traced_to_the_phpipam_object():
    desired, _problems, _skipped = desired_for(*subnet7())
    text = "failed to add new host using the HW address '02:aa:00:00:00:20' to the IPv4 subnet id '7'"
    assert subject_of(text, desired) == ['phpIPAM subnet 198.18.10.0/24 (id 7): address 198.18.10.20 (02:aa:00:00:00:20)']


# ------------------------------------------------------------------------- leases

NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def lease(ip, mac, cltt_ago=60, lifetime=3600, hostname='', subnet_id=7, state=0):
    return {'ip-address': ip, 'hw-address': mac, 'hostname': hostname, 'subnet-id': subnet_id,
            'cltt': int(NOW.timestamp()) - cltt_ago, 'valid-lft': lifetime, 'state': state}


def test_only_active_leases_of_synced_subnets_count():
    leases = [lease('198.18.10.100', '02:00:00:00:00:01'),
              lease('198.18.10.101', '02:00:00:00:00:02', cltt_ago=7200),  # expired
              lease('198.18.10.102', '02:00:00:00:00:03', state=1),  # declined
              lease('198.18.99.5', '02:00:00:00:00:04', subnet_id=900)]  # not ours
    assert [str(ip) for ip in active_leases(leases, {7}, NOW)] == ['198.18.10.100']


def test_leases_update_known_addresses_with_the_scan_agent_rules_and_create_unknown_ones():
    record = {'id': 7, 'subnet': '198.18.10.0', 'mask': 24}
    older = NOW - datetime.timedelta(hours=3)
    addresses = [
        # a person named it: the lease's host name never replaces it; the Reserved tag is resent
        {'id': 1, 'ip': '198.18.10.20', 'hostname': 'printer-hall', 'mac': None, 'tag': 3, 'lastSeen': older},
        # the scan agent saw it after its last DHCP contact: lastSeen is not moved back
        {'id': 2, 'ip': '198.18.10.21', 'hostname': 'x', 'mac': '02:00:00:00:00:21', 'tag': 2,
         'lastSeen': NOW},
    ]
    leases = [lease('198.18.10.20', '02:00:00:00:00:20', hostname='android-1234'),
              lease('198.18.10.21', '02:00:00:00:00:21'),
              lease('198.18.10.150', '02:00:00:00:01:50', hostname='laptop.')]
    plans = plan_leases(leases, {7: record}, {7: addresses}, lease_settings({}, TAGS), NOW)
    plan = plans[0]
    assert plan['unchanged'] == 1
    update = plan['updates'][0]
    assert update['payload'] == {'mac': '02:00:00:00:00:20', 'lastSeen': NOW - datetime.timedelta(seconds=60),
                                 'tag': 3}
    create = plan['creates'][0]['payload']
    assert create == {'ip': '198.18.10.150', 'subnetId': 7, 'description': '-- kea lease --', 'tag': 4,
                      'hostname': 'laptop', 'mac': '02:00:00:00:01:50',
                      'lastSeen': NOW - datetime.timedelta(seconds=60)}


def test_a_rerun_over_the_same_leases_plans_nothing():
    record = {'id': 7, 'subnet': '198.18.10.0', 'mask': 24}
    seen = NOW - datetime.timedelta(seconds=60)
    addresses = [{'id': 1, 'ip': '198.18.10.150', 'hostname': 'laptop', 'mac': '02:00:00:00:01:50', 'tag': 4,
                  'lastSeen': seen}]
    plans = plan_leases([lease('198.18.10.150', '02:00:00:00:01:50', hostname='laptop')], {7: record},
                        {7: addresses}, lease_settings({}, TAGS), NOW)
    assert plans[0]['creates'] == [] and plans[0]['updates'] == [] and plans[0]['unchanged'] == 1


def test_a_lifetime_kea_refuses_is_traced_to_its_subnet():
    record, addresses = subnet7()
    record['lease'] = '86400'
    desired, _problems, _skipped = desired_for(record, addresses, SyncSettings(valid_lifetime_field='lease'))
    text = 'subnet configuration failed: the value of (default) valid-lifetime (86400) is not less than max-valid-lifetime (7200)'
    assert subject_of(text, desired) == ['phpIPAM subnet 198.18.10.0/24 (id 7): valid-lifetime 86400']
