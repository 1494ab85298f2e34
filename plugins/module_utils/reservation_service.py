# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the reservation module, as a function of the client, its options and check mode.

Validates everything first (count, pattern, exclusions, tag, custom field, pool), then plans
(reservation.py) and applies (reservation_apply.py). Returns the module result as a dict; an
expected failure (bad input, unknown subnet, pool exhausted) is ``failed: True`` with ``msg``.
Client errors propagate to the module's ``api()`` block.
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    parse_excludes,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation import (
    PoolExhausted,
    ReservationSettings,
    candidates,
    desired_lease_fields,
    exhausted_message,
    free_by_subnet,
    lease_marker,
    lease_view,
    plan_reservation,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation_apply import (
    Allocator,
    ReservationError,
    delete_address,
    search_leases,
    subnets_by_id,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import (
    LookupFailed,
    check_custom_fields,
    find_tag,
    resolve_pool,
    tag_ids,
)


def _failed(msg, **extra):
    result = {'failed': True, 'msg': msg, 'changed': False, 'leases': [], 'released': []}
    result.update(extra)
    return result


def _diff_text(leases):
    return ''.join('%s %s index=%s hostname=%s\n' % (lease['ip'], lease['subnet'], lease['index'], lease['hostname'])
                   for lease in leases)


def run_reservation(client, params, check_mode, want_diff):
    """The reservation module's result for ``params``."""
    try:
        if params['state'] == 'absent':
            return _release_all(client, params, check_mode, want_diff)
        return _ensure(client, params, check_mode, want_diff)
    except (AddressInputError, LookupFailed) as exc:
        return _failed('reservation %r: %s; nothing was changed' % (params['name'], exc))


def _settings(client, params):
    tags = tag_ids(client)
    tag_id = find_tag(tags, params.get('tag') or 'Reserved')
    if params.get('metadata_field'):
        check_custom_fields(client, 'addresses', [params['metadata_field']])
    settings = ReservationSettings(
        name=params['name'], count=params.get('count'), tag_id=tag_id, description=params.get('description'),
        hostname_pattern=params.get('hostname_pattern'), metadata=params.get('metadata'),
        metadata_field=params.get('metadata_field'), exclude_ranges=parse_excludes(params.get('exclude')))
    if settings.description is not None and len(settings.description) > 64:
        raise AddressInputError('description is %d characters long; phpIPAM stores at most 64'
                                % len(settings.description))
    return settings, dict((v, k) for k, v in tags.items())


def _ensure(client, params, check_mode, want_diff):
    if params.get('count') is not None and params['count'] < 1:
        raise AddressInputError('count must be 1 or more (got %d); use state=absent to release a reservation'
                                % params['count'])
    settings, tag_names = _settings(client, params)
    pool = resolve_pool(client, params.get('subnet'), params.get('pool'), params.get('pool_selector'),
                        params.get('section'))
    allocator = Allocator(client, settings, pool, max_conflicts=params.get('max_conflicts') or 500,
                          senior_wait=params.get('contention_wait') if params.get('contention_wait') is not None else 8)
    addresses = allocator.read_pool()
    plan = plan_reservation(settings, pool, addresses)
    before = [lease_view(s, r, p, tag_names) for s, r, p in _held(plan)]
    changed = bool(plan['needed'] or plan['release'] or plan['updates'])

    if check_mode:
        if plan['needed'] > sum(plan['free'].values()):
            return _failed(exhausted_message(settings.name, plan['needed'], plan['free']), free=plan['free'])
        leases = _predict(settings, plan, pool, addresses, tag_names)
    else:
        try:
            created = allocator.allocate(plan['needed'], plan['new_indices'], addresses) if plan['needed'] else []
        except PoolExhausted as exc:
            return _failed(str(exc), free=exc.free, allocation=allocator.stats)
        except ReservationError as exc:
            return _failed(str(exc), allocation=allocator.stats)
        allocator.apply_updates(plan['updates'])
        allocator.release(plan['release'])
        leases = _after(plan, created, settings, tag_names)
    leases.sort(key=lambda lease: lease['index'])
    result = {
        'changed': changed,
        'leases': leases,
        'released': [r.get('ip') for _s, r, _p in plan['release']],
        'allocation': allocator.stats,
    }
    if want_diff and changed:
        result['diff'] = {'before': _diff_text(sorted(before, key=lambda x: x['index'] or 0)),
                          'after': _diff_text(leases),
                          'before_header': 'reservation %s' % settings.name, 'after_header': 'reservation %s' % settings.name}
    return result


def _held(plan):
    return [(s, r, p) for s, r, p, _i in plan['keep']] + list(plan['release'])


def _updated_record(record, plan):
    for item in plan['updates']:
        if item['id'] == record['id']:
            return dict(record, **item['payload'])
    return record


def _after(plan, created, settings, tag_names):
    leases = []
    for subnet, record, _payload, index in plan['keep']:
        leases.append(lease_view(subnet, _updated_record(record, plan), lease_marker(settings, index), tag_names))
    for subnet, record, payload in created:
        leases.append(lease_view(subnet, record, payload, tag_names))
    return leases


def _predict(settings, plan, pool, addresses, tag_names):
    """Check mode: the leases a run would end with, new ones at the addresses that look free now."""
    leases = _after(plan, [], settings, tag_names)
    indices = iter(plan['new_indices'])
    remaining = plan['needed']
    for subnet in pool:
        for ip in candidates(subnet, addresses.get(subnet['id']), settings):
            if remaining <= 0:
                break
            index = next(indices)
            record = dict(desired_lease_fields(settings, index, ip), ip=str(ip), id=None, subnetId=subnet['id'])
            leases.append(lease_view(subnet, record, lease_marker(settings, index), tag_names))
            remaining -= 1
    return leases


def _release_all(client, params, check_mode, want_diff):
    tag_names = dict((v, k) for k, v in tag_ids(client).items())
    if params.get('metadata_field'):
        check_custom_fields(client, 'addresses', [params['metadata_field']])
    pool = resolve_pool(client, params.get('subnet'), params.get('pool'), params.get('pool_selector'),
                        params.get('section'))
    found = search_leases(client, params['name'], params.get('metadata_field'))
    if pool:
        ids = set(s['id'] for s in pool)
        found = [(r, p) for r, p in found if r.get('subnetId') in ids]
    subnets = subnets_by_id(client, [r.get('subnetId') for r, _p in found])
    leases = [lease_view(subnets.get(r.get('subnetId'), {'id': r.get('subnetId')}), r, p, tag_names)
              for r, p in found]
    leases.sort(key=lambda lease: (lease['index'] or 0, lease['ip']))
    if not check_mode:
        for record, _payload in found:
            delete_address(client, record['id'])
    result = {'changed': bool(found), 'leases': [], 'released': [lease['ip'] for lease in leases],
              'allocation': {}}
    if want_diff and found:
        result['diff'] = {'before': _diff_text(leases), 'after': '',
                          'before_header': 'reservation %s' % params['name'],
                          'after_header': 'reservation %s' % params['name']}
    return result


def reservation_info(client, params):
    """Reservations with their leases, by name and/or metadata items, optionally within a pool."""
    if params.get('metadata_field'):
        check_custom_fields(client, 'addresses', [params['metadata_field']])
    tag_names = dict((v, k) for k, v in tag_ids(client).items())
    pool = resolve_pool(client, params.get('subnet'), params.get('pool'), None, params.get('section'))
    found = search_leases(client, params.get('name'), params.get('metadata_field'))
    if pool:
        ids = set(s['id'] for s in pool)
        found = [(r, p) for r, p in found if r.get('subnetId') in ids]
    wanted = params.get('metadata') or {}
    subnets = subnets_by_id(client, [r.get('subnetId') for r, _p in found])
    grouped = {}
    for record, payload in found:
        meta = payload.get('metadata') or {}
        if any(meta.get(k) != v for k, v in wanted.items()):
            continue
        lease = lease_view(subnets.get(record.get('subnetId'), {'id': record.get('subnetId')}), record, payload,
                           tag_names)
        grouped.setdefault(payload['reservation'], []).append(lease)
    reservations = []
    for name in sorted(grouped):
        leases = sorted(grouped[name], key=lambda lease: (lease['index'] or 0, lease['ip']))
        reservations.append({'name': name, 'count': len(leases), 'metadata': leases[0]['metadata'], 'leases': leases})
    return reservations


def next_free(client, pool, count, exclude_ranges=()):
    """The first ``count`` free addresses of the pool, in pool order: [(ip, subnet record)]; a read, not a reservation."""
    settings = ReservationSettings(name='next_free', count=max(1, count), tag_id=None, exclude_ranges=exclude_ranges)
    lists = client.get_lists(['subnets/%d/addresses' % s['id'] for s in pool])
    found = []
    for subnet, records in zip(pool, lists):
        for ip in candidates(subnet, records, settings):
            if len(found) >= count:
                return found
            found.append((ip, subnet))
    if len(found) < count:
        free = free_by_subnet(pool, dict(zip([s['id'] for s in pool], lists)), settings)
        raise PoolExhausted('only %d free address%s in %s, %d asked for'
                            % (len(found), '' if len(found) == 1 else 'es',
                               ', '.join('%s (%d free)' % (cidr, n) for cidr, n in free.items()), count),
                            free=free, needed=count)
    return found
