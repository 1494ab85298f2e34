# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan a phpIPAM -> Kea DHCPv4 sync, and the Kea leases -> phpIPAM reverse sync. Pure: no I/O, no clock.

Forward (docs/kea.md has the mapping table):

* A phpIPAM subnet becomes a Kea ``subnet4`` whose ``id`` is the phpIPAM subnet id and whose
  ``user-context`` carries the marker ``{"ipamkit": {"owner": <owner>, "phpipam_subnet_id": <id>,
  "digest": <sha256 of the generated subnet>}}``. Only top-level subnets with our owner's marker are
  ever changed or removed; every other subnet, shared network and global setting is passed back exactly
  as ``config-get`` returned it.
* The gateway address becomes option ``routers``, the IPv4 servers of the subnet's name server set
  ``domain-name-servers``, optional custom fields ``domain-name`` and ``valid-lifetime``.
* Contiguous runs of DHCP-tagged addresses become pools; addresses with a MAC that are neither
  DHCP-tagged nor the gateway become host reservations (hw-address, ip-address, hostname).
* Bad input (no gateway, an IPv6 subnet, a duplicate MAC, a subnet that collides with one Kea has that
  we do not manage, nested subnets) is a *problem*: the object is skipped and named; with ``strict``
  the module fails before sending anything. A managed subnet that is skipped stays in Kea as it is.

A subnet is rewritten only when what Kea runs differs from what phpIPAM says, compared on what we
set (pools, reservations, options, lifetime, marker): Kea's config-get adds its defaults, so a
byte comparison would see a change on every run.

Reverse: active leases of synced subnets become scan_plan-shaped plans (see scan_apply), built with the
scan agent's own update/create rules: a MAC or host name is only filled in when phpIPAM has none, the
tag is always resent unchanged, and lastSeen is the lease's last client contact, never moved backwards.
"""

import datetime
import hashlib
import ipaddress
import json

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    is_reserved_edge,
    normalize_mac,
    subnet_network,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import (
    PlanSettings,
    plan_address_create,
    plan_address_update,
)

MARKER = 'ipamkit'
UTC = datetime.timezone.utc


class KeaPlanError(ValueError):
    """The sync cannot be planned (for example strict mode and bad input)."""


class SyncSettings(object):
    """What the forward planner needs from the module options, tag names already resolved."""

    def __init__(self, owner='phpipam', dhcp_tag_id=4, domain_name_field=None, valid_lifetime_field=None,
                 reservation_hostnames=True):
        self.owner = owner
        self.dhcp_tag_id = dhcp_tag_id
        self.domain_name_field = domain_name_field
        self.valid_lifetime_field = valid_lifetime_field
        self.reservation_hostnames = reservation_hostnames


# ----------------------------------------------------------------------------------- building

def dhcp_runs(ips):
    """Contiguous runs of addresses: [(first, last)] in order, from any iterable of ip_address objects."""
    runs = []
    for ip in sorted(set(ips), key=int):
        if runs and int(ip) == int(runs[-1][1]) + 1:
            runs[-1][1] = ip
        else:
            runs.append([ip, ip])
    return [tuple(run) for run in runs]


def nameserver_ips(nameserver):
    """The IPv4 addresses of a phpIPAM name server set (``namesrv1`` is ``;``-separated)."""
    found = []
    for part in str((nameserver or {}).get('namesrv1') or '').replace(',', ';').split(';'):
        try:
            ip = ipaddress.ip_address(part.strip())
        except ValueError:
            continue
        if ip.version == 4 and str(ip) not in found:
            found.append(str(ip))
    return found


def _digest(subnet):
    return hashlib.sha256(json.dumps(subnet, sort_keys=True, separators=(',', ':')).encode('utf-8')).hexdigest()[:16]


def _label(record):
    network = subnet_network(record)
    return 'phpIPAM subnet %s (id %s)' % (network if network else record.get('description'), record.get('id'))


def build_subnet(record, addresses, nameserver, settings):
    """(Kea subnet4 dict or None, problems) for one phpIPAM subnet record and its addresses.

    A problem that makes the whole subnet unusable returns None; problems with single addresses
    (a duplicate MAC, a bad MAC) drop that address and keep the subnet.
    """
    label = _label(record)
    network = subnet_network(record)
    if network is None:
        return None, ['%s is a folder: skipped' % label]
    if network.version != 4:
        return None, ['%s is IPv6: DHCPv6 is not synced (Kea subnet6 needs DUIDs, phpIPAM holds MACs): skipped' % label]
    problems = []
    gateways, dhcp, reservations = [], [], []
    macs = {}
    for address in sorted(addresses, key=lambda a: int(ipaddress.ip_address(a['ip']))):
        ip = ipaddress.ip_address(address['ip'])
        if ip not in network or is_reserved_edge(ip, network):
            problems.append('address %s of %s lies outside the subnet\'s usable range: skipped' % (ip, label))
            continue
        if address.get('is_gateway'):
            gateways.append(ip)
            continue
        if address.get('tag') == settings.dhcp_tag_id:
            dhcp.append(ip)
            continue
        if not address.get('mac'):
            continue
        try:
            mac = normalize_mac(address['mac'])
        except AddressInputError:
            problems.append('address %s of %s has MAC %r, which is not a MAC address: no reservation'
                            % (ip, label, address['mac']))
            continue
        if mac in macs:
            problems.append('address %s of %s has MAC %s, already reserved for %s: no reservation for %s'
                            % (ip, label, mac, macs[mac], ip))
            continue
        macs[mac] = ip
        reservation = {'hw-address': mac, 'ip-address': str(ip)}
        hostname = (address.get('hostname') or '').strip().rstrip('.')
        if hostname and settings.reservation_hostnames:
            reservation['hostname'] = hostname
        reservations.append(reservation)
    if not gateways:
        return None, problems + ['%s has no gateway (mark an address as gateway in phpIPAM): skipped' % label]
    if len(gateways) > 1:
        listed = ', '.join(map(str, gateways))
        problems.append('%s has %d gateways (%s): %s is used' % (label, len(gateways), listed, gateways[0]))

    options = [{'name': 'routers', 'data': str(gateways[0])}]
    servers = nameserver_ips(nameserver)
    if servers:
        options.append({'name': 'domain-name-servers', 'data': ', '.join(servers)})
    if settings.domain_name_field:
        domain = str(record.get(settings.domain_name_field) or '').strip().rstrip('.')
        if domain:
            options.append({'name': 'domain-name', 'data': domain})
    subnet = {'id': record['id'], 'subnet': str(network), 'option-data': sorted(options, key=lambda o: o['name']),
              'pools': [{'pool': '%s-%s' % run} for run in dhcp_runs(dhcp)], 'reservations': reservations}
    if settings.valid_lifetime_field:
        raw = record.get(settings.valid_lifetime_field)
        if raw not in (None, ''):
            try:
                lifetime = int(str(raw).strip())
                if lifetime <= 0:
                    raise ValueError(raw)
                subnet['valid-lifetime'] = lifetime
            except ValueError:
                problems.append('%s: %s %r is not a lease time in seconds: Kea\'s default applies'
                                % (label, settings.valid_lifetime_field, raw))
    subnet['user-context'] = {MARKER: {'owner': settings.owner, 'phpipam_subnet_id': record['id'],
                                       'digest': _digest(subnet)}}
    return subnet, problems


def build_subnets(records, addresses_by_subnet, nameservers, settings):
    """({id: Kea subnet}, problems, {id: cidr} of selected-but-skipped subnets) for the selected records."""
    desired, problems, skipped = {}, [], {}
    taken = []
    for record in records:
        network = subnet_network(record)
        clash = [(other, rid) for other, rid in taken if network is not None and other.version == network.version
                 and other.overlaps(network)]
        if clash:
            problems.append('%s overlaps phpIPAM subnet %s (id %s), which is synced already: skipped'
                            % (_label(record), clash[0][0], clash[0][1]))
            skipped[record['id']] = str(network)
            continue
        subnet, found = build_subnet(record, addresses_by_subnet.get(record['id'], []),
                                     nameservers.get(record.get('nameserverId')), settings)
        problems.extend(found)
        if subnet is None:
            skipped[record['id']] = str(network) if network else None
            continue
        taken.append((network, record['id']))
        desired[record['id']] = subnet
    return desired, problems, skipped


# ----------------------------------------------------------------------------------- comparing

def marker_of(subnet):
    context = subnet.get('user-context')
    marker = context.get(MARKER) if isinstance(context, dict) else None
    return marker if isinstance(marker, dict) else None


def is_managed(subnet, owner):
    marker = marker_of(subnet)
    return marker is not None and marker.get('owner') == owner


def _pool_range(text):
    text = str(text).strip()
    if '-' in text:
        first, last = (ipaddress.ip_address(part.strip()) for part in text.split('-', 1))
        return int(first), int(last)
    network = ipaddress.ip_network(text, strict=False)
    return int(network.network_address), int(network.broadcast_address)


def _option_key(option):
    return '%s/%s' % (option.get('space') or 'dhcp4', option.get('name') or 'code %s' % option.get('code'))


def _option_data(option):
    return ', '.join(part.strip() for part in str(option.get('data') or '').split(','))


def comparable(subnet, with_lifetime):
    """What we set in a subnet4, in a form where Kea's added defaults and notation do not matter."""
    pools = []
    for pool in subnet.get('pools') or []:
        pools.append((_pool_range(pool.get('pool')), bool(pool.get('option-data')), bool(pool.get('client-class'))))
    reservations = []
    for item in subnet.get('reservations') or []:
        extras = [key for key in ('option-data', 'client-classes', 'boot-file-name', 'server-hostname')
                  if item.get(key)]
        if item.get('next-server') not in (None, '', '0.0.0.0'):
            extras.append('next-server')
        reservations.append((item.get('ip-address'), str(item.get('hw-address') or '').lower(),
                             item.get('hostname') or '', tuple(sorted(extras)),
                             tuple(sorted(k for k in ('duid', 'client-id', 'circuit-id', 'flex-id') if k in item))))
    return {
        'id': subnet.get('id'), 'subnet': str(ipaddress.ip_network(subnet.get('subnet'), strict=False)),
        'pools': sorted(pools), 'reservations': sorted(reservations),
        'options': sorted((_option_key(o), _option_data(o)) for o in subnet.get('option-data') or []),
        'valid-lifetime': subnet.get('valid-lifetime') if with_lifetime else None,
        'user-context': subnet.get('user-context'),
    }


def same_subnet(current, desired):
    return comparable(current, 'valid-lifetime' in desired) == comparable(desired, 'valid-lifetime' in desired)


def describe_subnet(subnet):
    """A Kea subnet4 as text lines, for diffs and summaries."""
    lines = ['subnet4 id=%s %s' % (subnet.get('id'), subnet.get('subnet'))]
    for option in sorted(subnet.get('option-data') or [], key=_option_key):
        lines.append('  option %s: %s' % (option.get('name') or 'code %s' % option.get('code'), _option_data(option)))
    for pool in sorted(subnet.get('pools') or [], key=lambda p: _pool_range(p.get('pool'))):
        first, last = _pool_range(pool.get('pool'))
        lines.append('  pool %s-%s' % (ipaddress.ip_address(first), ipaddress.ip_address(last)))
    for item in sorted(subnet.get('reservations') or [],
                       key=lambda r: int(ipaddress.ip_address(r.get('ip-address') or '0.0.0.0'))):
        text = '  reservation %s hw-address=%s' % (item.get('ip-address'), item.get('hw-address'))
        if item.get('hostname'):
            text += ' hostname=%s' % item['hostname']
        lines.append(text)
    if subnet.get('valid-lifetime') is not None:
        lines.append('  valid-lifetime %s' % subnet['valid-lifetime'])
    return lines


def _counts(subnet):
    return {'pools': len(subnet.get('pools') or []), 'reservations': len(subnet.get('reservations') or [])}


# ----------------------------------------------------------------------------------- merging

def _all_unmanaged(config, owner):
    """[(kea subnet, where)] of every subnet4 we do not own, top level and in shared networks."""
    found = []
    for subnet in config.get('subnet4') or []:
        if not is_managed(subnet, owner):
            found.append((subnet, 'subnet4'))
    for network in config.get('shared-networks') or []:
        for subnet in network.get('subnet4') or []:
            found.append((subnet, 'shared network %s' % network.get('name')))
    return found


def plan_config(current, desired, skipped, owner, problems=None):
    """The new Dhcp4 configuration and the per-subnet changes.

    :param current: Dhcp4 as Kea's config-get returned it.
    :param desired: {phpIPAM subnet id: Kea subnet4} (build_subnets).
    :param skipped: {id: cidr} of selected subnets skipped for bad input: kept in Kea as they are.
    :returns: dict ``config`` (None when nothing changes), ``changes`` (one dict per subnet that is
        created, updated, removed, kept or unchanged) and ``problems`` (the input list plus conflicts).
    """
    problems = list(problems or [])
    desired = dict(desired)
    for subnet, where in _all_unmanaged(current, owner):
        try:
            network = ipaddress.ip_network(subnet.get('subnet'), strict=False)
        except (TypeError, ValueError):
            continue
        for subnet_id, wanted in sorted(desired.items()):
            same_id = subnet.get('id') == subnet_id
            if same_id or ipaddress.ip_network(wanted['subnet']) == network:
                problems.append('phpIPAM subnet %s (id %s) collides with Kea subnet %s (id %s, %s) that ipamkit does '
                                'not manage (%s): skipped; remove or renumber the Kea subnet to sync it'
                                % (wanted['subnet'], subnet_id, network, subnet.get('id'), where,
                                   'same id' if same_id else 'same prefix'))
                del desired[subnet_id]
    changes = []
    new_list = []
    seen = set()
    for subnet in current.get('subnet4') or []:
        if not is_managed(subnet, owner):
            new_list.append(subnet)
            continue
        subnet_id = subnet.get('id')
        seen.add(subnet_id)
        wanted = desired.get(subnet_id)
        if wanted is None and subnet_id in skipped:
            new_list.append(subnet)
            changes.append(_change('kept', subnet, None))
        elif wanted is None:
            changes.append(_change('delete', subnet, None))
        elif same_subnet(subnet, wanted):
            new_list.append(subnet)
            changes.append(_change('unchanged', subnet, wanted))
        else:
            new_list.append(wanted)
            changes.append(_change('update', subnet, wanted))
    for subnet_id in sorted(set(desired) - seen):
        new_list.append(desired[subnet_id])
        changes.append(_change('create', None, desired[subnet_id]))
    changes.sort(key=lambda c: c['id'])
    changed = any(c['action'] in ('create', 'update', 'delete') for c in changes)
    config = None
    if changed:
        config = dict(current)
        config['subnet4'] = new_list
    return {'config': config, 'changes': changes, 'problems': problems}


def _change(action, before, after):
    subnet = after or before
    row = {'id': subnet.get('id'), 'subnet': subnet.get('subnet'), 'action': action}
    row.update(_counts(after if after is not None else {}))
    row['before'] = describe_subnet(before) if before is not None and action in ('update', 'delete') else None
    row['after'] = describe_subnet(after) if after is not None and action in ('update', 'create') else None
    return row


def build_diff(changes, server):
    """Ansible diff for one Kea server: the changed subnets in Kea terms, before and after."""
    before, after = [], []
    for change in changes:
        before.extend(change['before'] or [])
        after.extend(change['after'] or [])
    if not before and not after:
        return None
    return {'before': '\n'.join(before) + '\n' if before else '', 'after': '\n'.join(after) + '\n' if after else '',
            'before_header': 'Kea %s subnet4 (before)' % server, 'after_header': 'Kea %s subnet4 (after)' % server}


def summary_line(server, changes, check_mode=False):
    counts = dict((action, sum(1 for c in changes if c['action'] == action))
                  for action in ('create', 'update', 'delete', 'unchanged', 'kept'))
    return '%sKea %s: %d subnet(s) created, %d updated, %d removed, %d unchanged, %d kept (skipped in phpIPAM)' % (
        '(check mode) ' if check_mode else '', server, counts['create'], counts['update'], counts['delete'],
        counts['unchanged'], counts['kept'])


def subject_of(text, desired):
    """The phpIPAM objects a Kea error message points at: subnets whose CIDR, id, or addresses it names."""
    found = []
    for subnet_id, subnet in sorted(desired.items()):
        names = ["'%s'" % subnet_id, subnet['subnet'], 'subnet id %s' % subnet_id]
        hits = [n for n in names if n in text]
        for item in subnet.get('reservations') or []:
            if item['ip-address'] in text or item['hw-address'] in text:
                hits.append('address %s (%s)' % (item['ip-address'], item['hw-address']))
        for pool in subnet.get('pools') or []:
            if pool['pool'] in text:
                hits.append('pool %s' % pool['pool'])
        if subnet.get('valid-lifetime') is not None and 'valid-lifetime (%s)' % subnet['valid-lifetime'] in text:
            hits.append('valid-lifetime %s' % subnet['valid-lifetime'])
        details = [h for h in hits if h.startswith(('address', 'pool', 'valid-lifetime'))]
        if hits:
            suffix = (': ' + ', '.join(details)) if details else ''
            found.append('phpIPAM subnet %s (id %s)%s' % (subnet['subnet'], subnet_id, suffix))
    return found


# ----------------------------------------------------------------------------------- leases

def active_leases(leases, subnet_ids, now):
    """The usable leases of ``subnet_ids``: state default, not expired, newest per IP (HA peers both report)."""
    epoch = now.timestamp()
    best = {}
    for lease in leases:
        try:
            ip = ipaddress.ip_address(lease.get('ip-address'))
            cltt = int(lease.get('cltt') or 0)
            lifetime = int(lease.get('valid-lft') or 0)
        except (TypeError, ValueError):
            continue
        if lease.get('subnet-id') not in subnet_ids or int(lease.get('state') or 0) != 0:
            continue
        if lifetime and cltt + lifetime <= epoch:
            continue
        if ip not in best or cltt > int(best[ip].get('cltt') or 0):
            best[ip] = lease
    return best


def lease_settings(options, tag_ids):
    """PlanSettings for the reverse sync, from the module options and phpIPAM's tags (name -> id)."""
    return PlanSettings(
        update_mac=options.get('update_mac', False), update_hostname=options.get('update_hostname', False),
        always_update=True, lastseen_refresh=max(1, int(options.get('lastseen_refresh') or 0)),
        discovered_tag_id=tag_ids.get('DHCP', 4), discovered_tag_name='DHCP',
        discovered_description=options.get('lease_description') or '-- kea lease --', tag_ids=tag_ids)


def plan_leases(leases, records, addresses_by_subnet, settings, now):
    """Scan-plan-shaped plans (one per synced subnet) that write the active leases into phpIPAM.

    :param records: {id: phpIPAM subnet record} of the synced subnets.
    :param now: aware datetime, to tell active leases from expired ones.
    """
    if now.tzinfo is None:
        raise ValueError('now must be time-zone aware')
    active = active_leases(leases, set(records), now)
    plans = []
    for subnet_id, record in sorted(records.items()):
        network = subnet_network(record)
        mine = dict((ip, lease) for ip, lease in active.items() if lease.get('subnet-id') == subnet_id)
        plan = {'id': subnet_id, 'cidr': str(network), 'status': 'planned', 'reason': None, 'seen': len(mine),
                'creates': [], 'updates': [], 'unchanged': 0, 'removals': [], 'refused': [], 'subnet_update': {}}
        known = {}
        for address in addresses_by_subnet.get(subnet_id, []):
            known[ipaddress.ip_address(address['ip'])] = address
        for ip in sorted(mine, key=int):
            lease = mine[ip]
            seen_at = datetime.datetime.fromtimestamp(int(lease.get('cltt') or 0), UTC)
            host = {'mac': lease.get('hw-address'), 'hostname': (lease.get('hostname') or '').rstrip('.') or None}
            address = known.get(ip)
            if address is None:
                if ip in network and not is_reserved_edge(ip, network):
                    plan['creates'].append(plan_address_create(ip, host, subnet_id, settings, seen_at))
                continue
            update = plan_address_update(address, host, settings, seen_at)
            if update and address.get('lastSeen') and update['payload'].get('lastSeen', seen_at) < address['lastSeen']:
                # The scan agent saw the host after its last DHCP contact: keep the newer lastSeen.
                update['payload'].pop('lastSeen')
                update['after'].pop('lastSeen', None)
                update['before'].pop('lastSeen', None)
                if not update['after']:
                    update = None
            if update:
                plan['updates'].append(update)
            else:
                plan['unchanged'] += 1
        plans.append(plan)
    return plans
