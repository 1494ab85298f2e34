# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""inventory_plan: host names, duplicates, variables, groups and SSH jump variables of the inventory plugin.

The network is built from what a real phpIPAM 1.8.2 answered (tests/unit/fixtures/network_data), normalised
by the client's own normaliser.
"""

import datetime
import json
import os

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import (
    InventoryPlanError,
    group_name,
    name_hosts,
    parse_duration,
    plan_inventory,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import NetworkDataError, build_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import from_phpipam

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'network_data')
UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
PATHS = {'sections': 'sections', 'subnets': 'subnets', 'addresses': 'addresses', 'vlans': 'vlans',
         'devices': 'devices', 'tags': 'tools/tags', 'locations': 'tools/locations', 'folders': 'folders'}
OPTIONS = {
    'sections': [], 'subnets': [], 'tags': [], 'custom_fields': {}, 'hostname_required': False, 'seen_within': None,
    'hostname_source': 'hostname', 'hostname_fallback': 'ip', 'duplicate_hostnames': 'first',
    'group_by': ['section', 'subnet', 'vlan', 'tag', 'location'], 'group_prefix': 'phpipam_', 'ssh_paths': True,
    'jump_host_field': 'custom_ssh_jump', 'ssh_user_field': 'custom_ssh_user', 'jump_host_missing': 'warn',
}


@pytest.fixture
def network():
    with open(os.path.join(FIXTURES, 'collections.json'), encoding='utf-8') as handle:
        answers = json.load(handle)
    return build_network(dict((name, from_phpipam(answers[path]['body']['data'], UTC)) for name, path in PATHS.items()))


def plan(network, **options):
    return plan_inventory(network, dict(OPTIONS, **options), now=NOW)


def planned(result, name):
    matches = [p for p in result.hosts if p.name == name]
    assert len(matches) == 1, (name, [p.name for p in result.hosts])
    return matches[0]


def set_custom(network, ip, **fields):
    host = [h for h in network.hosts if h['ip'] == ip][0]
    for field, value in fields.items():
        if value is None:
            host['custom'].pop('custom_' + field, None)
        else:
            host['custom']['custom_' + field] = value


@pytest.mark.parametrize('value, expected', [
    ('90m', datetime.timedelta(minutes=90)), ('12h', datetime.timedelta(hours=12)), ('7d', datetime.timedelta(days=7)),
    ('2w', datetime.timedelta(weeks=2)), ('3600', datetime.timedelta(hours=1)), (3600, datetime.timedelta(hours=1)),
    (' 5 min ', datetime.timedelta(minutes=5)), ('10s', datetime.timedelta(seconds=10)), (None, None), ('', None),
])
def test_durations(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize('value', ['7 days', 'abc', '-5m', '0', 0, '1.5h', 'h'])
def test_bad_durations_are_named(value):
    with pytest.raises(InventoryPlanError) as info:
        parse_duration(value)
    assert 'seen_within' in str(info.value)


@pytest.mark.parametrize('kind, value, expected', [
    ('section', 'Lab', 'phpipam_section_lab'),
    ('section', 'Customer A / Prod', 'phpipam_section_customer_a_prod'),
    ('subnet', '198.18.10.0/24', 'phpipam_subnet_198_18_10_0_24'),
    ('subnet', 'fd00:10::/64', 'phpipam_subnet_fd00_10_64'),
    ('vlan', 10, 'phpipam_vlan_10'),
    ('tag', 'Used', 'phpipam_tag_used'),
    ('location', 'DC one', 'phpipam_location_dc_one'),
    ('device', 'hv1.lab.test', 'phpipam_device_hv1_lab_test'),
    ('location', 'Zürich-1', 'phpipam_location_z_rich_1'),
])
def test_group_names_are_sanitised(kind, value, expected):
    assert group_name('phpipam_', kind, value) == expected


def _host(ip, hostname, seen=None, host_id=None):
    return {'id': host_id or int(ip.replace('.', '').replace(':', '0')[-6:] or 0), 'ip': ip, 'hostname': hostname,
            'last_seen': seen}


OLD = datetime.datetime(2025, 1, 1, tzinfo=UTC)
NEW = datetime.datetime(2026, 1, 1, tzinfo=UTC)
DUPLICATES = [
    _host('fd00:10::5', 'web.lab.test', NEW, 1),
    _host('198.18.10.9', 'web.lab.test', OLD, 2),
    _host('198.18.10.5', 'Web.lab.test', NEW, 3),
    _host('198.18.10.7', None, None, 4),
    _host('198.18.10.8', 'db.lab.test', None, 5),
]


@pytest.mark.parametrize('source, fallback, duplicates, expected', [
    # IPv4 before IPv6, then the most recently seen: 198.18.10.5 keeps the name, as written on it.
    ('hostname', 'ip', 'first', [('Web.lab.test', 3, ['198.18.10.9', 'fd00:10::5']), ('198.18.10.7', 4, []),
                                 ('db.lab.test', 5, [])]),
    ('hostname', 'ip', 'ip', [('fd00:10::5', 1, []), ('198.18.10.9', 2, []), ('Web.lab.test', 3, []),
                              ('198.18.10.7', 4, []), ('db.lab.test', 5, [])]),
    ('hostname', 'skip', 'first', [('Web.lab.test', 3, ['198.18.10.9', 'fd00:10::5']), ('db.lab.test', 5, [])]),
    ('ip', 'ip', 'error', [('fd00:10::5', 1, []), ('198.18.10.9', 2, []), ('198.18.10.5', 3, []),
                           ('198.18.10.7', 4, []), ('198.18.10.8', 5, [])]),
])
def test_host_names(source, fallback, duplicates, expected):
    named = name_hosts(DUPLICATES, source, fallback, duplicates)
    assert [(name, host['id'], others) for name, host, others in named] == expected


def test_duplicate_hostnames_can_be_refused():
    with pytest.raises(InventoryPlanError) as info:
        name_hosts(DUPLICATES, 'hostname', 'ip', 'error')
    assert 'web.lab.test: fd00:10::5, 198.18.10.9, 198.18.10.5' in str(info.value)


def test_an_ip_used_as_a_hostname_does_not_make_two_hosts():
    hosts = [_host('198.18.10.7', None, None, 1), _host('198.18.10.8', '198.18.10.7', None, 2)]
    named = name_hosts(hosts, 'hostname', 'ip', 'ip')
    assert [(n, h['id']) for n, h, _o in named] == [('198.18.10.7', 1), ('198.18.10.8', 2)]


def test_variables_and_groups_of_a_host(network):
    result = plan(network, sections=['Lab'], ssh_paths=False)
    host5 = planned(result, 'host5.lab.test')
    assert host5.variables == {
        'ansible_host': '127.0.10.5', 'phpipam_id': host5.host['id'], 'phpipam_ip': '127.0.10.5',
        'phpipam_hostname': 'host5.lab.test', 'phpipam_description': 'lab host 5', 'phpipam_mac': '02:00:00:00:10:05',
        'phpipam_last_seen': '2025-01-01T00:00:00+00:00', 'phpipam_tag': 'Used', 'phpipam_subnet': '127.0.10.0/24',
        'phpipam_subnet_id': 7, 'phpipam_section': 'Lab', 'phpipam_section_id': 3, 'phpipam_vlan': 10,
        'phpipam_vlan_name': 'lab', 'phpipam_device': 'hv1.lab.test', 'phpipam_device_id': host5.host['device_id'],
        'phpipam_location': 'DC one', 'phpipam_note': None, 'phpipam_is_gateway': False,
        'phpipam_custom_fields': {'custom_asset': 'A-0005', 'custom_ssh_jump': 'direct'},
    }
    assert host5.groups == ['phpipam_section_lab', 'phpipam_subnet_127_0_10_0_24', 'phpipam_vlan_10', 'phpipam_tag_used',
                            'phpipam_location_dc_one']
    assert planned(result, 'v6host.lab.test').groups == ['phpipam_section_lab', 'phpipam_subnet_fd00_10_64',
                                                         'phpipam_tag_used']
    # The orphan address (subnet missing) is in no section, so section=Lab leaves it out.
    assert 'orphan.lab.test' not in [p.name for p in result.hosts]
    assert result.warnings == []


@pytest.mark.parametrize('group_by, prefix, expected', [
    ([], 'phpipam_', []),
    (['device', 'tag'], 'ipam_', ['ipam_device_hv1_lab_test', 'ipam_tag_used']),
    (['location', 'vlan'], '', ['location_dc_one', 'vlan_10']),
])
def test_group_kinds_are_switchable(network, group_by, prefix, expected):
    result = plan(network, group_by=group_by, group_prefix=prefix, ssh_paths=False)
    assert planned(result, 'host5.lab.test').groups == expected


def test_filters_reach_the_selection(network):
    result = plan(network, sections=['Lab'], tags=['Used'], hostname_required=True, seen_within='700d')
    assert sorted(p.name for p in result.hosts) == ['gw.lab.test', 'host5.lab.test']
    result = plan(network, custom_fields={'asset': ['A-0001', 'A-0005']}, hostname_source='ip')
    assert sorted(p.name for p in result.hosts) == ['127.0.10.1', '127.0.10.5']
    assert [p.name for p in plan(network, subnets=['fd00:10::/64']).hosts] == ['gw6.lab.test', 'v6host.lab.test']


@pytest.mark.parametrize('options, error, words', [
    ({'group_by': ['section', 'rack']}, InventoryPlanError, "group_by: unknown kind(s) 'rack'"),
    ({'hostname_source': 'fqdn'}, InventoryPlanError, "hostname_source must be one of hostname, ip, not 'fqdn'"),
    ({'duplicate_hostnames': 'last'}, InventoryPlanError, 'duplicate_hostnames must be one of first, ip, error'),
    ({'jump_host_missing': 'ignore'}, InventoryPlanError, 'jump_host_missing must be one of warn, error, literal'),
    ({'custom_fields': ['asset']}, InventoryPlanError, 'custom_fields must be a dictionary'),
    ({'seen_within': 'soon'}, InventoryPlanError, "seen_within 'soon' is not a duration"),
    ({'subnets': ['lab net']}, NetworkDataError, "subnet filter 'lab net' is neither a subnet id nor a CIDR"),
])
def test_bad_options_are_named(network, options, error, words):
    with pytest.raises(error) as info:
        plan(network, **options)
    assert words in str(info.value)


# ------------------------------------------------------------------ SSH paths

def test_ssh_variables_from_inherited_jump_hosts_and_users(network):
    result = plan(network, sections=['Lab'])
    # printer inherits jump host gw.lab.test and user ops from its subnet; gw itself says direct.
    assert planned(result, 'printer.lab.test').variables['ansible_ssh_common_args'] == '-o ProxyJump=ops@127.0.10.1'
    assert planned(result, 'printer.lab.test').variables['ansible_user'] == 'ops'
    assert planned(result, 'printer.lab.test').variables['phpipam_jump_hops'] == ['ops@127.0.10.1']
    assert 'ansible_ssh_common_args' not in planned(result, 'gw.lab.test').variables
    assert planned(result, 'gw.lab.test').variables['ansible_user'] == 'ops'
    # From the folder its subnet sits in, user and port as written there.
    infolder = planned(result, 'infolder.lab.test').variables
    assert infolder['ansible_ssh_common_args'] == '-o ProxyJump=jump@127.0.10.1:2222' and 'ansible_user' not in infolder
    assert 'ansible_ssh_common_args' not in planned(result, 'nested7.lab.test').variables
    assert result.warnings == []


def test_two_level_jump_chain(network):
    # v6host -> jump via nested7 (by hostname), nested7 -> jump via a.small.test (by IP, with user and port).
    set_custom(network, 'fd00:10::10', ssh_jump='nested7.lab.test', ssh_user='app')
    set_custom(network, '127.40.1.7', ssh_jump='admin@127.0.20.2:2200')
    result = plan(network, sections=['Lab'])
    assert planned(result, 'v6host.lab.test').variables['ansible_ssh_common_args'] == \
        '-o ProxyJump=admin@127.0.20.2:2200,127.40.1.7'
    assert planned(result, 'v6host.lab.test').variables['ansible_user'] == 'app'
    assert planned(result, 'nested7.lab.test').variables['ansible_ssh_common_args'] == '-o ProxyJump=admin@127.0.20.2:2200'


def test_jump_loop_warns_and_keeps_the_hosts(network):
    set_custom(network, '127.0.20.2', ssh_jump='b.small.test')
    set_custom(network, '127.0.20.3', ssh_jump='a.small.test')
    result = plan(network, sections=['Lab'])
    for name in ('a.small.test', 'b.small.test'):
        assert 'ansible_ssh_common_args' not in planned(result, name).variables
    assert len(result.warnings) == 2
    assert result.warnings[0].startswith('SSH jump path of a.small.test: jump loop: a.small.test (127.0.20.2) -> ')
    assert result.warnings[0].endswith('; the host is kept without ProxyJump')


@pytest.mark.parametrize('missing', ['warn', 'error', 'literal'])
def test_missing_jump_host(network, missing):
    set_custom(network, '127.0.20.2', ssh_jump='bastion.example.net')
    set_custom(network, '127.0.20.3', ssh_jump='not a host!')
    if missing == 'error':
        with pytest.raises(InventoryPlanError) as info:
            plan(network, sections=['Lab'], jump_host_missing=missing)
        assert "no SSH jump path for 2 host(s) (jump_host_missing=error): a.small.test: jump host 'bastion.example.net'" \
            " of a.small.test (127.0.20.2) is not in phpIPAM; b.small.test: jump host value of b.small.test" \
            in str(info.value)
        return
    result = plan(network, sections=['Lab'], jump_host_missing=missing)
    args = planned(result, 'a.small.test').variables.get('ansible_ssh_common_args')
    if missing == 'literal':
        assert args == '-o ProxyJump=bastion.example.net'
        assert [w.split(':')[0] for w in result.warnings] == ['SSH jump path of b.small.test']
    else:
        assert args is None
        assert [w.split(':')[0] for w in result.warnings] == ['SSH jump path of a.small.test',
                                                              'SSH jump path of b.small.test']


def test_jump_hosts_outside_the_selection_are_still_found(network):
    set_custom(network, '10.10.1.3', ssh_jump='nested7.lab.test')
    result = plan(network, sections=['Customers'])
    assert planned(result, 'server1.cust1.local').variables['ansible_ssh_common_args'] == '-o ProxyJump=127.40.1.7'
    assert 'nested7.lab.test' not in [p.name for p in result.hosts]


def test_ssh_paths_off_sets_no_ssh_variables(network):
    result = plan(network, ssh_paths=False, jump_host_missing='bogus')
    assert not [p for p in result.hosts if set(p.variables) & {'ansible_user', 'ansible_ssh_common_args'}]
