# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reservation planner (pure) and the allocator against an in-memory phpIPAM with 1.8.2's address rules.

FakePhpipam answers the few calls the allocator makes the way phpIPAM 1.8.2 does (409 "IP address
already exists" on a duplicate, 404 on deleting a missing address) and lets a test play "another
run" that takes addresses between our read and our create.
"""

import ipaddress

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamConflictError, PhpipamNotFoundError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation import (
    PoolExhausted,
    ReservationSettings,
    check_pattern,
    plan_reservation,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import AddressInputError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation_apply import Allocator, ReservationError

POOL = [{'id': 1, 'subnet': '198.18.0.0', 'mask': 29}, {'id': 2, 'subnet': 'fd00:18::', 'mask': 64}]


def marker(name, index, metadata=None):
    import json
    return '[ipamkit:%s]' % json.dumps({'index': index, 'metadata': metadata or {}, 'reservation': name},
                                       sort_keys=True, separators=(',', ':'))


class Result(object):
    def __init__(self, new_id):
        self.id = new_id


class FakePhpipam(object):
    def __init__(self, records=(), duplicates_allowed=False):
        self.records = dict((r['id'], dict(r)) for r in records)
        self.next_id = max(self.records or [100]) + 1
        self.duplicates_allowed = duplicates_allowed
        self.before_create = None  # callable(ip): another run acts just before our create lands
        self.creates = 0

    def add(self, ip, subnet_id, note=None):
        record = {'id': self.next_id, 'ip': ip, 'subnetId': subnet_id, 'note': note, 'tag': 3 if note else 2}
        self.records[self.next_id] = record
        self.next_id += 1
        return record

    def get_list(self, path, params=None):
        parts = path.split('/')
        if parts[0] == 'subnets':
            return [dict(r) for r in self.records.values() if r['subnetId'] == int(parts[1])]
        if parts[:2] == ['addresses', 'search']:
            return [dict(r) for r in self.records.values()
                    if ipaddress.ip_address(r['ip']) == ipaddress.ip_address(parts[2])]
        raise AssertionError(path)

    def get_lists(self, paths):
        return [self.get_list(p) for p in paths]

    def create(self, path, data):
        assert path == 'addresses'
        self.creates += 1
        if self.before_create:
            self.before_create(data['ip'])
        same = [r for r in self.records.values() if r['subnetId'] == data['subnetId'] and r['ip'] == data['ip']]
        if same and not self.duplicates_allowed:
            raise PhpipamConflictError('409', status=409, api_message='IP address already exists')
        record = self.add(data['ip'], data['subnetId'], data.get('note'))
        record.update(dict((k, v) for k, v in data.items() if k not in ('ip', 'subnetId')))
        return Result(record['id'])

    def delete(self, path):
        address_id = int(path.split('/')[1])
        if address_id not in self.records:
            raise PhpipamNotFoundError('404', status=404, api_message='Address does not exist')
        del self.records[address_id]

    def update(self, path, data):
        self.records[int(path.split('/')[1])].update(data)

    def held(self, name):
        return sorted(r['ip'] for r in self.records.values() if '"reservation":"%s"' % name in (r.get('note') or ''))


def settings(name='r', count=3, **kwargs):
    return ReservationSettings(name=name, count=count, tag_id=3, **kwargs)


def allocate(fake, s, **kwargs):
    allocator = Allocator(fake, s, POOL, sleep=lambda _s: None, rand=lambda: 0.0, **kwargs)
    plan = plan_reservation(s, POOL, allocator.read_pool())
    return allocator, plan, allocator.allocate(plan['needed'], plan['new_indices'], allocator.read_pool())


def test_plan_keeps_held_leases_and_fills_missing_indices():
    fake = FakePhpipam()
    fake.add('198.18.0.1', 1, marker('r', 1))
    fake.add('198.18.0.3', 1, marker('r', 3))
    fake.add('198.18.0.2', 1, marker('other', 1))
    fake.add('198.18.0.4', 1, 'a person\'s note')
    plan = plan_reservation(settings(count=3), POOL, {1: fake.get_list('subnets/1'), 2: []})
    assert [r['ip'] for _s, r, _p, _i in plan['keep']] == ['198.18.0.1', '198.18.0.3']
    assert plan['needed'] == 1 and plan['new_indices'] == [2] and plan['updates'] == []
    assert plan['free']['198.18.0.0/29'] == 2


def test_plan_shrinks_by_highest_index_and_updates_changed_fields():
    fake = FakePhpipam()
    for n in range(1, 5):
        fake.add('198.18.0.%d' % n, 1, marker('r', n))
    plan = plan_reservation(settings(count=2, description='web'), POOL, {1: fake.get_list('subnets/1'), 2: []})
    assert [r['ip'] for _s, r, _p in plan['release']] == ['198.18.0.3', '198.18.0.4']
    assert [u['payload'] for u in plan['updates']] == [{'description': 'web'}] * 2
    assert plan['needed'] == 0


def test_allocate_skips_addresses_another_run_took_meanwhile():
    fake = FakePhpipam()
    stolen = iter(['198.18.0.1', '198.18.0.2'])

    def other_run(ip):
        nxt = next(stolen, None)
        if nxt:
            fake.add(nxt, 1, marker('other', 1))
    fake.before_create = other_run
    allocator, _plan, created = allocate(fake, settings(count=3))
    assert [r['ip'] for _s, r, _p in created] == ['198.18.0.3', '198.18.0.4', '198.18.0.5']
    assert allocator.stats['conflicts'] == 2 and fake.held('r') == ['198.18.0.3', '198.18.0.4', '198.18.0.5']


def test_allocate_moves_on_to_the_next_subnet_and_never_the_ipv6_network_address():
    fake = FakePhpipam()
    _allocator, _plan, created = allocate(fake, settings(count=8))
    assert [r['ip'] for _s, r, _p in created][-2:] == ['fd00:18::1', 'fd00:18::2']


def test_exhausted_before_writing_says_where_is_free():
    fake = FakePhpipam()
    small = [POOL[0]]
    allocator = Allocator(fake, settings(count=7), small, sleep=lambda _s: None)
    with pytest.raises(PoolExhausted, match=r"^pool exhausted: reservation 'r' needs 7 more addresses but the pool has "
                                            r'6 free \(198.18.0.0/29: 6 free\); nothing of this run stays reserved$'):
        allocator.allocate(7, list(range(1, 8)), allocator.read_pool())
    assert fake.creates == 0


def test_running_out_part_way_releases_everything_this_run_created():
    fake = FakePhpipam()
    small = [POOL[0]]
    taken = iter(['198.18.0.4', '198.18.0.5', '198.18.0.6'])

    def other_run(_ip):
        nxt = next(taken, None)
        if nxt:
            fake.add(nxt, 1, marker('other', 1))
    fake.before_create = other_run
    allocator = Allocator(fake, settings(count=5), small, sleep=lambda _s: None, rand=lambda: 0.0, senior_wait=0)
    with pytest.raises(PoolExhausted, match='^pool exhausted'):
        allocator.allocate(5, list(range(1, 6)), allocator.read_pool())
    assert fake.held('r') == [] and fake.held('other') == ['198.18.0.4', '198.18.0.5', '198.18.0.6']
    assert allocator.stats['released_partial'] == 3


def test_duplicate_record_on_servers_without_the_unique_key_is_given_up_by_the_newer_one():
    fake = FakePhpipam(duplicates_allowed=True)
    first = iter([True])

    def other_run(ip):
        if next(first, False):
            fake.add(ip, 1, marker('other', 1))  # same IP, stored twice: the older record wins
    fake.before_create = other_run
    allocator, _plan, created = allocate(fake, settings(count=1))
    assert allocator.stats['duplicates_removed'] == 1
    assert [r['ip'] for _s, r, _p in created] == ['198.18.0.2']
    assert fake.held('other') == ['198.18.0.1'] and fake.held('r') == ['198.18.0.2']


def test_too_many_conflicts_gives_up_cleanly():
    fake = FakePhpipam()
    fake.before_create = lambda ip: fake.add(ip, 1, marker('other', 1))
    with pytest.raises(ReservationError, match='gave up after 3 addresses were taken'):
        allocate(fake, settings(count=2), max_conflicts=2)
    assert fake.held('r') == []


@pytest.mark.parametrize('pattern, message', [
    ('vm-{serial}', r'uses \{serial\}'), ('vm-{index', 'expected'), ('vm-{index:q}', 'Unknown format code'),
])
def test_bad_hostname_patterns(pattern, message):
    with pytest.raises(AddressInputError, match=message):
        check_pattern(pattern)


@pytest.mark.parametrize('count', [0, -1, None])
def test_count_must_be_positive(count):
    with pytest.raises(AddressInputError, match='count must be 1 or more'):
        settings(count=count)
