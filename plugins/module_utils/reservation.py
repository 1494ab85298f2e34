# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reservations as data: which addresses a reservation holds, what a run must change, where to look. Pure.

A reservation is a name plus the addresses ("leases") that carry it: each lease is an ordinary
phpIPAM address whose metadata (see metadata.py) is ``{"reservation": <name>, "index": <n>,
"metadata": {...}}``. ``index`` is the lease's stable 1-based position, used by the host name
pattern, so releasing one lease never renames the others.

``plan_reservation`` compares what phpIPAM holds with what the task asks for and returns the
leases to keep, release and update and how many are missing. What the plan says is free is a
hint only: reservation_apply.py creates each address and lets phpIPAM's refusal of a duplicate
decide, never trusting this read.
"""

import ipaddress
import string

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    changed_fields,
    count_free,
    free_addresses,
    subnet_cidr,
    subnet_network,
    taken_ips,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.metadata import (
    read_payload,
    user_text,
    write_fields,
)

# Cap for counting free addresses in a message (an IPv6 /64 is not counted to the end).
FREE_COUNT_CAP = 100000
_PATTERN_FIELDS = frozenset(('name', 'index', 'ip', 'ip_dashed'))


class PoolExhausted(Exception):
    """The pool cannot give the addresses asked for; nothing of this run stays reserved."""

    def __init__(self, message, free=None, needed=0):
        super(PoolExhausted, self).__init__(message)
        self.free = free or {}
        self.needed = needed


class ReservationSettings(object):
    """What a run of the reservation module asks for, validated and resolved to ids."""

    def __init__(self, name, count, tag_id, description=None, hostname_pattern=None, metadata=None,
                 metadata_field=None, exclude_ranges=(), skip_full=True):
        if not name or not str(name).strip():
            raise AddressInputError('name must not be empty')
        if count is None or int(count) < 1:
            raise AddressInputError('count must be 1 or more (got %s); use state=absent to release a reservation'
                                    % count)
        if hostname_pattern:
            check_pattern(hostname_pattern)
        self.name = str(name)
        self.count = int(count)
        self.tag_id = tag_id
        self.description = description
        self.hostname_pattern = hostname_pattern
        self.metadata = metadata or {}
        self.metadata_field = metadata_field
        self.exclude_ranges = list(exclude_ranges or ())
        self.skip_full = skip_full


def check_pattern(pattern):
    """AddressInputError unless ``pattern`` only uses {name}, {index}, {ip} and {ip_dashed}."""
    try:
        fields = [field for _text, field, _spec, _conv in string.Formatter().parse(pattern) if field is not None]
    except ValueError as exc:
        raise AddressInputError('hostname_pattern %r: %s' % (pattern, exc))
    unknown = [f for f in fields if f not in _PATTERN_FIELDS]
    if unknown:
        raise AddressInputError('hostname_pattern %r uses {%s}; only {name}, {index}, {ip} and {ip_dashed} exist'
                                % (pattern, '}, {'.join(unknown)))
    try:
        render_hostname(pattern, 'x', 1, '192.0.2.1')
    except (ValueError, IndexError, KeyError) as exc:
        raise AddressInputError('hostname_pattern %r: %s' % (pattern, exc))


def render_hostname(pattern, name, index, ip):
    if not pattern:
        return None
    ip = str(ip)
    return pattern.format(name=name, index=index, ip=ip, ip_dashed=ip.replace('.', '-').replace(':', '-'))


def lease_payload(record, metadata_field=None):
    """The reservation marker of an address record, or None."""
    payload = read_payload(record, 'note', metadata_field)
    if payload and isinstance(payload.get('reservation'), str):
        return payload
    return None


def held_leases(name, pool, addresses_by_subnet, metadata_field=None):
    """[(subnet, record, payload)] of the addresses in ``pool`` that carry reservation ``name``, in pool order."""
    held = []
    for subnet in pool:
        for record in sorted(addresses_by_subnet.get(subnet['id']) or (), key=_ip_key):
            payload = lease_payload(record, metadata_field)
            if payload and payload['reservation'] == name:
                held.append((subnet, record, payload))
    return held


def _ip_key(record):
    try:
        ip = ipaddress.ip_address(str(record.get('ip') or ''))
    except ValueError:
        return (9, 0)
    return (ip.version, int(ip))


def lease_marker(settings, index):
    return {'reservation': settings.name, 'index': index, 'metadata': settings.metadata}


def desired_lease_fields(settings, index, ip, record=None):
    """The phpIPAM fields a lease of ``settings`` at ``index`` must have (note text of the user kept)."""
    fields = {'tag': settings.tag_id}
    if settings.description is not None:
        fields['description'] = settings.description
    hostname = render_hostname(settings.hostname_pattern, settings.name, index, ip)
    if hostname is not None:
        fields['hostname'] = hostname
    text = user_text(record or {}, 'note', settings.metadata_field)
    fields.update(write_fields('note', text, lease_marker(settings, index), settings.metadata_field))
    if settings.metadata_field:
        fields.pop('note', None)  # the note stays the user's own
    return fields


def lease_view(subnet, record, payload, tag_names=None):
    """A lease as the modules return it."""
    return {
        'ip': record.get('ip'),
        'id': record.get('id'),
        'subnet': subnet_cidr(subnet),
        'subnet_id': subnet['id'],
        'hostname': record.get('hostname'),
        'description': record.get('description'),
        'tag': (tag_names or {}).get(record.get('tag'), record.get('tag')),
        'reservation': payload.get('reservation') if payload else None,
        'index': payload.get('index') if payload else None,
        'metadata': (payload.get('metadata') if payload else None) or {},
    }


def free_by_subnet(pool, addresses_by_subnet, settings, extra_taken=()):
    """{cidr: number of free addresses} as the read shows them (subnets marked full count 0)."""
    free = {}
    for subnet in pool:
        network = subnet_network(subnet)
        if settings.skip_full and subnet.get('isFull'):
            free[str(network)] = 0
            continue
        taken = taken_ips(addresses_by_subnet.get(subnet['id'])) | set(extra_taken)
        free[str(network)] = count_free(network, taken, settings.exclude_ranges, cap=FREE_COUNT_CAP)
    return free


def candidates(subnet, addresses, settings, extra_taken=()):
    """Free addresses of one pool subnet, in order, lazily (none when the subnet is marked full)."""
    if settings.skip_full and subnet.get('isFull'):
        return iter(())
    network = subnet_network(subnet)
    taken = taken_ips(addresses) | set(extra_taken)
    return free_addresses(network, taken, settings.exclude_ranges)


def _next_indices(used, how_many):
    out, index = [], 1
    while len(out) < how_many:
        if index not in used:
            out.append(index)
        index += 1
    return out


def plan_reservation(settings, pool, addresses_by_subnet):
    """What a run must do so that exactly ``settings.count`` addresses of ``pool`` carry the reservation.

    Returns a dict: ``keep`` and ``release`` ([(subnet, record, payload)]), ``updates`` (one per kept
    lease whose fields differ: id, ip, payload, before, after), ``needed`` (how many to create),
    ``new_indices`` (their indices) and ``free`` ({cidr: count}, the read's view).
    """
    held = held_leases(settings.name, pool, addresses_by_subnet, settings.metadata_field)
    order = dict((subnet['id'], pos) for pos, subnet in enumerate(pool))

    def rank(item):
        subnet, record, payload = item
        index = payload.get('index')
        return (0 if isinstance(index, int) and index > 0 else 1, index if isinstance(index, int) else 0,
                order[subnet['id']], _ip_key(record))

    held.sort(key=rank)
    keep, release = held[:settings.count], held[settings.count:]
    used, updates = set(), []
    fixed = []
    for subnet, record, payload in keep:
        index = payload.get('index')
        if not isinstance(index, int) or index < 1 or index in used:
            index = None
        fixed.append((subnet, record, payload, index))
        if index is not None:
            used.add(index)
    spare = iter(_next_indices(used, len(fixed)))
    kept = []
    for subnet, record, payload, index in fixed:
        if index is None:
            index = next(spare)
            used.add(index)
        desired = desired_lease_fields(settings, index, record.get('ip'), record)
        payload_changes, before, after = changed_fields(record, desired)
        if payload_changes:
            updates.append({'id': record['id'], 'ip': record.get('ip'), 'subnet': subnet_cidr(subnet),
                            'payload': payload_changes, 'before': before, 'after': after, 'tag': record.get('tag')})
        kept.append((subnet, record, payload, index))
    needed = settings.count - len(kept)
    return {
        'keep': kept,
        'release': release,
        'updates': updates,
        'needed': needed,
        'new_indices': _next_indices(used, needed),
        'free': free_by_subnet(pool, addresses_by_subnet, settings) if needed > 0 else {},
    }


def exhausted_message(name, needed, free, created_elsewhere=False):
    """The one pool-exhausted message (tests and users grep for its start)."""
    where = ', '.join('%s: %d free' % (cidr, n) for cidr, n in free.items())
    total = sum(free.values())
    text = ('pool exhausted: reservation %r needs %d more address%s but the pool has %d free (%s)'
            % (name, needed, '' if needed == 1 else 'es', total, where or 'no subnets'))
    if created_elsewhere:
        text += '; other runs took addresses while this one was reserving'
    return text + '; nothing of this run stays reserved'
