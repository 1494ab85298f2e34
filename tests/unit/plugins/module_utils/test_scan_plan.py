# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan planner on plain data: what a report changes in phpIPAM, and what it must never change."""

import datetime

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import (
    PlanSettings,
    count_address_writes,
    normalize_mac,
    parse_exclude,
    plan_report,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 25, 20, 0, 0, tzinfo=UTC)
AGENT = 2
TAGS = {'Offline': 1, 'Used': 2, 'Reserved': 3, 'DHCP': 4, 'Agent': 9}


def ago(**kwargs):
    return NOW - datetime.timedelta(**kwargs)


def address(ip, id_, **fields):
    record = {'id': id_, 'ip': ip, 'subnetId': 7, 'hostname': None, 'mac': None, 'description': None, 'tag': 2,
              'excludePing': False, 'is_gateway': False, 'lastSeen': None}
    record.update(fields)
    return record


def report(hosts, completed=True, cidr='198.18.10.0/24', subnet_id=7):
    return {'agent': {'id': AGENT, 'name': 'a'},
            'subnets': [{'id': subnet_id, 'cidr': cidr, 'ping': True, 'discover': True, 'completed': completed,
                         'started': None, 'finished': None, 'hosts': hosts}]}


def host(ip, mac=None, hostname=None):
    return {'ip': ip, 'mac': mac, 'hostname': hostname, 'vendor': None, 'reason': 'arp-response'}


def subnet_record(ping=True, discover=True, agent=AGENT, subnet_id=7):
    return {subnet_id: {'id': subnet_id, 'pingSubnet': ping, 'discoverSubnet': discover, 'scanAgent': agent}}


def plan(hosts, addresses, completed=True, subnets=None, **settings):
    settings.setdefault('tag_ids', TAGS)
    plans = plan_report(report(hosts, completed), subnets if subnets is not None else subnet_record(),
                        {7: addresses}, PlanSettings(**settings), NOW)
    return plans[0]


# ------------------------------------------------------------------- seen hosts


def test_seen_host_gets_last_seen_and_keeps_its_tag():
    result = plan([host('198.18.10.20')], [address('198.18.10.20', 14, tag=3, lastSeen=ago(hours=2))])
    assert result['updates'] == [{'id': 14, 'ip': '198.18.10.20', 'payload': {'lastSeen': NOW, 'tag': 3},
                                  'before': {'lastSeen': ago(hours=2)}, 'after': {'lastSeen': NOW}}]


@pytest.mark.parametrize('tag', [1, 2, 3, 4])
def test_every_update_resends_the_current_tag(tag):
    result = plan([host('198.18.10.5', mac='02:00:00:00:10:05')], [address('198.18.10.5', 12, tag=tag)])
    assert result['updates'][0]['payload']['tag'] == tag


@pytest.mark.parametrize('known_mac, scanned, update_mac, expected', [
    (None, '02:AA:00:00:00:05', False, '02:aa:00:00:00:05'),
    ('02:00:00:00:10:05', '02:aa:00:00:00:05', False, None),
    ('02:00:00:00:10:05', '02:aa:00:00:00:05', True, '02:aa:00:00:00:05'),
    ('02-AA-00-00-00-05', '02:aa:00:00:00:05', True, None),
    (None, None, True, None),
])
def test_mac_rules(known_mac, scanned, update_mac, expected):
    result = plan([host('198.18.10.5', mac=scanned)], [address('198.18.10.5', 12, mac=known_mac, lastSeen=NOW)],
                  update_mac=update_mac)
    payload = result['updates'][0]['payload'] if result['updates'] else {}
    assert payload.get('mac') == expected


@pytest.mark.parametrize('known, scanned, update_hostname, expected', [
    (None, 'h5.lan.test', False, 'h5.lan.test'),
    ('printer-by-hand', 'h5.lan.test', False, None),
    ('printer-by-hand', 'h5.lan.test', True, 'h5.lan.test'),
    ('H5.LAN.TEST', 'h5.lan.test.', True, None),
    ('', 'h5.lan.test', False, 'h5.lan.test'),
])
def test_hostname_rules(known, scanned, update_hostname, expected):
    result = plan([host('198.18.10.5', hostname=scanned)],
                  [address('198.18.10.5', 12, hostname=known, lastSeen=NOW)], update_hostname=update_hostname)
    payload = result['updates'][0]['payload'] if result['updates'] else {}
    assert payload.get('hostname') == expected


@pytest.mark.parametrize('last_seen, refresh, always, writes', [
    (None, 600, True, True),
    (ago(minutes=5), 600, True, False),
    (ago(minutes=11), 600, True, True),
    (ago(days=3), 0, True, True),
    (ago(days=3), 0, False, False),
])
def test_last_seen_refresh_and_always_update(last_seen, refresh, always, writes):
    result = plan([host('198.18.10.5')], [address('198.18.10.5', 12, lastSeen=last_seen)],
                  lastseen_refresh=refresh, always_update=always)
    assert bool(result['updates']) is writes
    assert result['unchanged'] == (0 if writes else 1)


def test_without_always_update_last_seen_rides_along_with_other_changes():
    result = plan([host('198.18.10.5', mac='02:00:00:00:00:05')], [address('198.18.10.5', 12, lastSeen=ago(days=1))],
                  always_update=False)
    assert result['updates'][0]['payload'] == {'mac': '02:00:00:00:00:05', 'lastSeen': NOW, 'tag': 2}


def test_exclude_ping_addresses_are_left_alone():
    result = plan([host('198.18.10.10', mac='02:00:00:00:00:10')],
                  [address('198.18.10.10', 13, excludePing=True)])
    assert result['updates'] == [] and result['creates'] == [] and result['unchanged'] == 0


def test_manage_tags_retags_offline_hosts_seen_alive():
    addresses = [address('198.18.10.30', 15, tag=1, lastSeen=ago(days=100))]
    assert plan([host('198.18.10.30')], addresses)['updates'][0]['payload']['tag'] == 1
    managed = plan([host('198.18.10.30')], addresses, manage_tags=True)['updates'][0]
    assert managed['payload']['tag'] == 2 and managed['before']['tag'] == 1


# -------------------------------------------------------------------- new hosts


def test_new_host_in_discover_subnet_is_created():
    result = plan([host('198.18.10.77', mac='02:00:00:00:00:77', hostname='new77.lan.test.')], [],
                  discovered_tag_id=9, discovered_tag_name='Agent')
    assert result['creates'] == [{'ip': '198.18.10.77', 'payload': {
        'ip': '198.18.10.77', 'subnetId': 7, 'description': '-- autodiscovered --', 'lastSeen': NOW, 'tag': 9,
        'hostname': 'new77.lan.test', 'mac': '02:00:00:00:00:77'}}]


def test_ping_only_subnet_creates_nothing():
    result = plan([host('198.18.10.77')], [], subnets=subnet_record(discover=False))
    assert result['creates'] == [] and result['subnet_update'] == {'lastScan': NOW}


@pytest.mark.parametrize('exclude, created', [
    ([], ['198.18.10.77', '198.18.10.90']),
    (['198.18.10.77'], ['198.18.10.90']),
    (['198.18.10.64/26'], []),
    (['198.18.10.80-198.18.10.95'], ['198.18.10.77']),
])
def test_excluded_addresses_are_never_created(exclude, created):
    result = plan([host('198.18.10.77'), host('198.18.10.90')], [], exclude=exclude)
    assert [c['ip'] for c in result['creates']] == created


def test_network_and_broadcast_are_never_created():
    result = plan([host('198.18.10.0'), host('198.18.10.255'), host('198.18.10.1')], [])
    assert [c['ip'] for c in result['creates']] == ['198.18.10.1']


# ------------------------------------------------------------------ safety gates


def test_incomplete_scan_writes_nothing_at_all():
    addresses = [address('198.18.10.5', 12, lastSeen=ago(days=30), description='-- autodiscovered --')]
    result = plan([host('198.18.10.5'), host('198.18.10.77')], addresses, completed=False, remove_stale=True)
    assert result['status'] == 'incomplete'
    assert (result['creates'], result['updates'], result['removals'], result['subnet_update']) == ([], [], [], {})


@pytest.mark.parametrize('subnets, reason', [
    ({}, 'no longer exists'),
    (subnet_record(agent=3), 'not assigned to this scan agent'),
])
def test_subnets_not_owned_are_skipped(subnets, reason):
    result = plan([host('198.18.10.77')], [], subnets=subnets)
    assert result['status'] == 'skipped' and reason in result['reason']
    assert count_address_writes([result]) == 0 and result['subnet_update'] == {}


# --------------------------------------------------------------- stale removal


def stale(ip, id_, **fields):
    fields.setdefault('description', '-- autodiscovered --')
    fields.setdefault('lastSeen', ago(days=3))
    return address(ip, id_, **fields)


def fresh(n):
    return [address('198.18.10.%d' % (100 + i), 100 + i, lastSeen=ago(minutes=10)) for i in range(n)]


def test_stale_removal_is_off_by_default():
    assert plan([host('198.18.10.100')], [stale('198.18.10.9', 9)] + fresh(9))['removals'] == []


def test_stale_agent_address_is_removed_after_the_delay():
    addresses = [stale('198.18.10.9', 9), stale('198.18.10.8', 8, lastSeen=ago(hours=47))] + fresh(9)
    result = plan([host('198.18.10.100')], addresses, remove_stale=True)
    assert [r['ip'] for r in result['removals']] == ['198.18.10.9']
    assert result['refused'] == []


@pytest.mark.parametrize('fields', [
    {'lastSeen': None},                       # never seen
    {'excludePing': True},
    {'is_gateway': True},
    {'tag': 3},                               # Reserved
    {'description': 'entered by a person'},   # not the agent's
])
def test_hard_limits_are_never_removed(fields):
    result = plan([host('198.18.10.100')], [stale('198.18.10.9', 9, **fields)] + fresh(9), remove_stale=True,
                  force_remove=True)
    assert result['removals'] == [] and result['refused'] == []


def test_scope_all_and_agent_tag():
    person = stale('198.18.10.9', 9, description='entered by a person')
    assert plan([host('198.18.10.100')], [person] + fresh(9), remove_stale=True,
                remove_stale_scope='all')['removals'][0]['ip'] == '198.18.10.9'
    tagged = stale('198.18.10.9', 9, description=None, tag=9)
    assert plan([host('198.18.10.100')], [tagged] + fresh(9), remove_stale=True, discovered_tag_id=9,
                discovered_tag_name='Agent')['removals'][0]['ip'] == '198.18.10.9'
    used = stale('198.18.10.9', 9, description=None, tag=2)
    assert plan([host('198.18.10.100')], [used] + fresh(9), remove_stale=True)['removals'] == []


def test_guard_scan_saw_nobody_while_hosts_were_recently_seen():
    addresses = [stale('198.18.10.9', 9)] + fresh(9)
    result = plan([], addresses, remove_stale=True)
    assert result['removals'] == []
    assert [r['ip'] for r in result['refused']] == ['198.18.10.9']
    assert 'the scan saw no host while phpIPAM saw 9 here within 2d' in result['refused'][0]['reason']
    forced = plan([], addresses, remove_stale=True, force_remove=True)
    assert [r['ip'] for r in forced['removals']] == ['198.18.10.9']


def test_the_scanner_answering_for_itself_is_no_evidence():
    addresses = [stale('198.18.10.9', 9)] + fresh(9)
    itself = dict(host('198.18.10.2'), reason='localhost-response')
    assert [r['ip'] for r in plan([itself], addresses, remove_stale=True)['refused']] == ['198.18.10.9']
    assert [r['ip'] for r in plan([itself, host('198.18.10.100')], addresses, remove_stale=True)['removals']] == [
        '198.18.10.9']


def test_guard_too_many_removals():
    addresses = [stale('198.18.10.%d' % i, i) for i in range(1, 4)] + fresh(7)
    result = plan([host('198.18.10.100')], addresses, remove_stale=True)
    assert result['removals'] == [] and len(result['refused']) == 3
    assert '3 removals would exceed remove_stale_max_percent (25% of 10 addresses)' in result['refused'][0]['reason']
    assert len(plan([host('198.18.10.100')], addresses, remove_stale=True,
                    remove_stale_max_percent=30)['removals']) == 3


def test_whole_lan_down_for_days_refuses_everything():
    addresses = [stale('198.18.10.%d' % i, i) for i in range(1, 11)]
    result = plan([], addresses, remove_stale=True)
    assert result['removals'] == [] and len(result['refused']) == 10


def test_removal_only_in_ping_subnets():
    result = plan([host('198.18.10.100')], [stale('198.18.10.9', 9)] + fresh(9), remove_stale=True,
                  subnets=subnet_record(ping=False, discover=True))
    assert result['removals'] == [] and result['subnet_update'] == {'lastDiscovery': NOW}


# ---------------------------------------------------------------------- misc


def test_bookkeeping_for_ping_and_discover():
    assert plan([], [])['subnet_update'] == {'lastScan': NOW, 'lastDiscovery': NOW}


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        plan_report(report([]), subnet_record(), {}, PlanSettings(), datetime.datetime(2026, 1, 1))


@pytest.mark.parametrize('text, expected', [
    ('02:AA:bb:0c:0d:0e', '02:aa:bb:0c:0d:0e'), ('02-aa-bb-0c-0d-0e', '02:aa:bb:0c:0d:0e'),
    ('02aa.bb0c.0d0e', '02:aa:bb:0c:0d:0e'), ('nonsense', None), (None, None), ('', None),
])
def test_normalize_mac(text, expected):
    assert normalize_mac(text) == expected


def test_parse_exclude_rejects_nonsense():
    for bad in ('198.18.10.9-198.18.10.1', '198.18.10.1-fd00::1', 'not-an-ip', '198.18.10.0/33'):
        with pytest.raises(ValueError):
            parse_exclude([bad])
