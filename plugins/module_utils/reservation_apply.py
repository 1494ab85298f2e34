# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out a reservation plan against phpIPAM, safely when other runs reserve from the same pool.

The rule: an address belongs to a reservation only because phpIPAM accepted its creation.
A read says which addresses *look* free; each one is then created, and phpIPAM's duplicate
refusal (409 ``IP address already exists``, or a 500 ``Duplicate entry`` from its unique key
``sid_ip_unique``) means "taken by someone else": the subnet is read again and the next free
address tried. After each create the address is searched once more; should phpIPAM hold two
records for it (versions without the unique key), the record with the lower id wins and the
other is deleted by its creator. Losing a race costs a retry, never a duplicate.

All or nothing: when the pool runs out part way, the run that started allocating first (lowest
record id among the runs reserving concurrently) waits a few seconds for the others to give
addresses back; the others release what they created in this run, back off for a random time
and try again only if the pool still has room. A run that cannot be satisfied fails with the
pool-exhausted message and leaves nothing of its own behind.
"""

import json
import random
import time

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import (
    PhpipamConflictError,
    PhpipamError,
    PhpipamNotFoundError,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation import (
    PoolExhausted,
    candidates,
    desired_lease_fields,
    exhausted_message,
    free_by_subnet,
    lease_marker,
    lease_payload,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import update_payload


class ReservationError(Exception):
    """A reservation could not be completed for a reason other than a full pool."""


class Allocator(object):
    """Reserve, update and release the leases of one reservation over one client."""

    def __init__(self, client, settings, pool, max_conflicts=500, max_rounds=6, senior_wait=8.0, backoff=0.5,
                 verify_unique=True, sleep=time.sleep, rand=random.random, clock=time.monotonic):
        self.client = client
        self.settings = settings
        self.pool = pool
        self.max_conflicts = max_conflicts
        self.max_rounds = max_rounds
        self.senior_wait = senior_wait
        self.backoff = backoff
        self.verify_unique = verify_unique
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self.stats = {'conflicts': 0, 'rounds': 0, 'released_partial': 0, 'duplicates_removed': 0,
                      'waited_seconds': 0.0}

    # ----------------------------------------------------------------- reads

    def read_pool(self):
        """{subnet id: [address records]} for every pool subnet, read in parallel."""
        ids = [subnet['id'] for subnet in self.pool]
        lists = self.client.get_lists(['subnets/%d/addresses' % sid for sid in ids])
        return dict(zip(ids, lists))

    # ---------------------------------------------------------------- writes

    def apply_updates(self, updates):
        for item in updates:
            self.client.update('addresses/%d' % item['id'], update_payload({'tag': item['tag']}, item['payload']))

    def release(self, leases):
        """Delete lease records; one already gone counts as released."""
        for _subnet, record, _payload in leases:
            self._delete(record['id'])

    def _delete(self, address_id):
        delete_address(self.client, address_id)

    def allocate(self, needed, indices, addresses):
        """Create ``needed`` leases with ``indices``; returns [(subnet, record, payload)] or raises."""
        settings = self.settings
        for round_number in range(1, self.max_rounds + 1):
            self.stats['rounds'] = round_number
            if round_number > 1:
                self._sleep(self._rand() * self.backoff * (2 ** (round_number - 2)))
                addresses = self.read_pool()
            free = free_by_subnet(self.pool, addresses, settings)
            if sum(free.values()) < needed:
                raise PoolExhausted(exhausted_message(settings.name, needed, free, created_elsewhere=round_number > 1),
                                    free=free, needed=needed)
            start_id = _max_id(addresses)
            created = []
            try:
                if self._fill(addresses, created, needed, indices):
                    return created
                if created and self._is_senior(created, start_id) and self._wait_and_fill(created, needed, indices):
                    return created
            except BaseException:
                self._release_partial(created)
                raise
            self._release_partial(created)
        free = free_by_subnet(self.pool, self.read_pool(), settings)
        raise PoolExhausted(exhausted_message(settings.name, needed, free, created_elsewhere=True), free=free,
                            needed=needed)

    def _release_partial(self, created):
        if not created:
            return
        problems = []
        for _subnet, record, _payload in created:
            try:
                self._delete(record['id'])
                self.stats['released_partial'] += 1
            except PhpipamError as exc:
                problems.append('%s (id %s): %s' % (record.get('ip'), record['id'], exc))
        del created[:]
        if problems:
            raise ReservationError('reservation %r: could not release addresses created by this run; remove them in '
                                   'phpIPAM: %s' % (self.settings.name, '; '.join(problems)))

    def _fill(self, addresses, created, needed, indices):
        """Create leases subnet by subnet until ``needed`` exist; False when the pool ran out."""
        for subnet in self.pool:
            if len(created) >= needed:
                break
            sid = subnet['id']
            refused = set()
            options = candidates(subnet, addresses.get(sid), self.settings)
            while len(created) < needed:
                ip = next(options, None)
                if ip is None:
                    break
                lease = self._try_create(subnet, ip, indices[len(created)])
                if lease is not None:
                    created.append(lease)
                    continue
                refused.add(ip)
                self.stats['conflicts'] += 1
                if self.stats['conflicts'] > self.max_conflicts:
                    raise ReservationError(
                        'reservation %r: gave up after %d addresses were taken by others just before this run could '
                        'create them (max_conflicts); nothing of this run stays reserved'
                        % (self.settings.name, self.stats['conflicts']))
                addresses[sid] = self.client.get_list('subnets/%d/addresses' % sid)
                options = candidates(subnet, addresses[sid], self.settings, extra_taken=refused)
        return len(created) >= needed

    def _try_create(self, subnet, ip, index):
        """The new lease, or None when phpIPAM says the address is taken (or a duplicate lost to an older record)."""
        fields = desired_lease_fields(self.settings, index, ip)
        data = dict(fields, ip=str(ip), subnetId=subnet['id'])
        try:
            result = self.client.create('addresses', data)
        except PhpipamConflictError:
            return None
        except PhpipamError as exc:
            raise ReservationError('reservation %r: creating %s in %s (id %d) failed: %s'
                                   % (self.settings.name, ip, subnet.get('subnet'), subnet['id'], exc))
        record = dict(data, id=result.id)
        lease = (subnet, record, lease_marker(self.settings, index))
        if self.verify_unique:
            same = [r for r in self.client.get_list('addresses/search/%s' % ip) if r.get('subnetId') == subnet['id']]
            ids = sorted(r['id'] for r in same if r.get('id') is not None)
            if ids and ids[0] != result.id:
                self._delete(result.id)
                self.stats['duplicates_removed'] += 1
                return None
        return lease

    def _is_senior(self, created, start_id):
        """True when no other reservation started creating in the pool before this run did (since ``start_id``)."""
        mine = min(record['id'] for _s, record, _p in created)
        for records in self.read_pool().values():
            for record in records:
                if record.get('id') is None or record['id'] <= start_id or record['id'] >= mine:
                    continue
                payload = lease_payload(record, self.settings.metadata_field)
                if payload and payload['reservation'] != self.settings.name:
                    return False
        return True

    def _wait_and_fill(self, created, needed, indices):
        """As the senior run: wait for addresses others give back, up to ``senior_wait`` seconds."""
        deadline = self._clock() + self.senior_wait
        started = self._clock()
        try:
            while self._clock() < deadline:
                self._sleep(0.2)
                if self._fill(self.read_pool(), created, needed, indices):
                    return True
            return False
        finally:
            self.stats['waited_seconds'] += round(self._clock() - started, 2)


def delete_address(client, address_id):
    """DELETE one address; one already gone counts as deleted."""
    try:
        client.delete('addresses/%d' % address_id)
    except PhpipamNotFoundError:
        pass


def _max_id(addresses):
    ids = [r.get('id') for records in addresses.values() for r in records if isinstance(r.get('id'), int)]
    return max(ids) if ids else 0


def search_leases(client, name=None, metadata_field=None):
    """Every address in phpIPAM that carries a reservation marker (of ``name`` when given)."""
    field = metadata_field or 'note'
    if name is not None:
        needle = '"reservation":%s' % json.dumps(name, ensure_ascii=False)
    else:
        needle = '"reservation":'
    records = client.get_list('addresses/all', params={'filter_by': field, 'filter_value': needle,
                                                       'filter_match': 'partial'})
    found = []
    for record in records:
        payload = lease_payload(record, metadata_field)
        if payload and (name is None or payload['reservation'] == name):
            found.append((record, payload))
    return found


def subnets_by_id(client, ids):
    """{id: subnet record} for the given subnet ids."""
    ids = sorted(set(i for i in ids if i is not None))
    records = client.get_lists(['subnets/%d' % i for i in ids])
    return dict((i, r[0]) for i, r in zip(ids, records) if r)
