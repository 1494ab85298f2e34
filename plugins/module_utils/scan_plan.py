# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan what a scan report changes in phpIPAM. Pure: no I/O, no clock, no environment.

Input: a validated scan report, phpIPAM's current state of the report's subnets, the
settings, and ``now``. Output: a plan of address creates, updates and removals, refused
removals and subnet bookkeeping, per subnet. The rules follow phpIPAM's own
pingCheck/discoveryCheck:

* Only subnets whose scan completed get writes, and only subnets the agent owns.
* A known address seen alive gets ``lastSeen``, a MAC when phpIPAM has none (or a different
  one with ``update_mac``) and a host name when phpIPAM has none (or a different one with
  ``update_hostname``). Its tag is resent unchanged with every update, because phpIPAM 1.8.2
  resets the tag to Used on any PATCH that leaves ``tag`` out.
* ``lastSeen`` alone is written only when ``always_update`` is on and the stored value is at
  least ``lastseen_refresh`` seconds old, so a rerun over an unchanged network writes nothing.
* New hosts are created only in discoverSubnet subnets, never inside ``exclude``.
* Stale addresses are removed only when asked (``remove_stale``), within strict limits and
  behind guards against a scan that failed to see a live network; see ``_plan_removals``.
"""

import ipaddress

STANDARD_TAGS = ('Offline', 'Used', 'Reserved', 'DHCP')


class PlanSettings(object):
    """What the planner needs from the agent's settings, with tag names already resolved to ids."""

    def __init__(self, update_mac=False, update_hostname=False, always_update=True, lastseen_refresh=0,
                 discovered_tag_id=2, discovered_tag_name='Used', discovered_description='-- autodiscovered --',
                 exclude=(), remove_stale=False, remove_stale_after=48 * 3600, remove_stale_max_percent=25,
                 remove_stale_scope='agent', force_remove=False, manage_tags=False, tag_ids=None):
        self.update_mac = update_mac
        self.update_hostname = update_hostname
        self.always_update = always_update
        self.lastseen_refresh = int(lastseen_refresh or 0)
        self.discovered_tag_id = discovered_tag_id
        self.discovered_tag_name = discovered_tag_name
        self.discovered_description = discovered_description
        self.exclude = parse_exclude(exclude)
        self.remove_stale = remove_stale
        self.remove_stale_after = int(remove_stale_after)
        self.remove_stale_max_percent = remove_stale_max_percent
        self.remove_stale_scope = remove_stale_scope
        self.force_remove = force_remove
        self.manage_tags = manage_tags
        # phpIPAM tag name -> id, e.g. {'Offline': 1, 'Used': 2, 'Reserved': 3, 'DHCP': 4}
        self.tag_ids = dict(tag_ids or {'Offline': 1, 'Used': 2, 'Reserved': 3, 'DHCP': 4})


def parse_exclude(entries):
    """IPs, CIDRs and ``first-last`` ranges -> a list of (version, first int, last int)."""
    ranges = []
    for entry in entries or ():
        text = str(entry).strip()
        if '-' in text and '/' not in text:
            first, last = (ipaddress.ip_address(part.strip()) for part in text.split('-', 1))
            if first.version != last.version or int(last) < int(first):
                raise ValueError('exclude range %r is empty or mixes IPv4 and IPv6' % text)
            ranges.append((first.version, int(first), int(last)))
        else:
            network = ipaddress.ip_network(text, strict=False)
            ranges.append((network.version, int(network.network_address), int(network.broadcast_address)))
    return ranges


def is_excluded(ip, ranges):
    return any(version == ip.version and first <= int(ip) <= last for version, first, last in ranges)


def normalize_mac(mac):
    if not mac:
        return None
    digits = ''.join(ch for ch in str(mac).lower() if ch in '0123456789abcdef')
    if len(digits) != 12:
        return None
    return ':'.join(digits[i:i + 2] for i in range(0, 12, 2))


def _same_name(a, b):
    return (a or '').rstrip('.').lower() == (b or '').rstrip('.').lower()


def _age(now, when):
    return None if when is None else (now - when).total_seconds()


def _usable_for_create(ip, network):
    """phpIPAM refuses the network and broadcast address of IPv4 subnets shorter than /31."""
    if ip.version == 4 and network.prefixlen < 31:
        return ip != network.network_address and ip != network.broadcast_address
    return True


def plan_subnet(report_subnet, phpipam_subnet, addresses, agent_id, settings, now):
    """Plan one subnet. ``phpipam_subnet`` is phpIPAM's current subnet record (or None)."""
    plan = {
        'id': report_subnet['id'], 'cidr': report_subnet['cidr'], 'status': 'planned', 'reason': None,
        'seen': len(report_subnet['hosts']), 'creates': [], 'updates': [], 'unchanged': 0, 'removals': [],
        'refused': [], 'subnet_update': {},
    }
    if phpipam_subnet is None:
        plan.update(status='skipped', reason='the subnet no longer exists in phpIPAM')
        return plan
    if phpipam_subnet.get('scanAgent') != agent_id:
        plan.update(status='skipped', reason='the subnet is not assigned to this scan agent in phpIPAM')
        return plan
    if not report_subnet['completed']:
        plan.update(status='incomplete', reason='the scan of this subnet did not complete: nothing is written')
        return plan

    network = ipaddress.ip_network(report_subnet['cidr'])
    ping = bool(phpipam_subnet.get('pingSubnet'))
    discover = bool(phpipam_subnet.get('discoverSubnet'))
    known = {}
    for address in addresses:
        try:
            known[ipaddress.ip_address(address['ip'])] = address
        except (KeyError, ValueError):
            continue
    seen = {}
    for host in report_subnet['hosts']:
        seen[ipaddress.ip_address(host['ip'])] = host

    for ip in sorted(seen, key=int):
        host = seen[ip]
        address = known.get(ip)
        if address is None:
            if discover and not is_excluded(ip, settings.exclude) and _usable_for_create(ip, network):
                plan['creates'].append(_plan_create(ip, host, report_subnet['id'], settings, now))
            continue
        if address.get('excludePing'):
            continue
        update = _plan_update(address, host, settings, now)
        if update:
            plan['updates'].append(update)
        else:
            plan['unchanged'] += 1

    if settings.remove_stale and ping:
        # The scanning host answers for its own address (nmap: localhost-response) even when
        # the network is gone, so it is no evidence that the scan could see the subnet.
        others = sum(1 for host in seen.values() if host.get('reason') != 'localhost-response')
        _plan_removals(plan, known, seen, others, settings, now)

    if ping:
        plan['subnet_update']['lastScan'] = now
    if discover:
        plan['subnet_update']['lastDiscovery'] = now
    return plan


def _plan_create(ip, host, subnet_id, settings, now):
    payload = {'ip': str(ip), 'subnetId': subnet_id, 'description': settings.discovered_description,
               'lastSeen': now, 'tag': settings.discovered_tag_id}
    if host.get('hostname'):
        payload['hostname'] = host['hostname'].rstrip('.')
    mac = normalize_mac(host.get('mac'))
    if mac:
        payload['mac'] = mac
    return {'ip': str(ip), 'payload': payload}


def _plan_update(address, host, settings, now):
    changes = {}
    before = {}
    mac = normalize_mac(host.get('mac'))
    current_mac = normalize_mac(address.get('mac'))
    if mac and mac != current_mac and (current_mac is None or settings.update_mac):
        changes['mac'] = mac
        before['mac'] = address.get('mac')
    name = (host.get('hostname') or '').rstrip('.')
    if name and not _same_name(name, address.get('hostname')) and (not address.get('hostname') or settings.update_hostname):
        changes['hostname'] = name
        before['hostname'] = address.get('hostname')
    tag = address.get('tag')
    if settings.manage_tags and tag == settings.tag_ids.get('Offline') and settings.tag_ids.get('Used'):
        changes['tag'] = settings.tag_ids['Used']
        before['tag'] = tag

    age = _age(now, address.get('lastSeen'))
    lastseen_due = age is None or age >= settings.lastseen_refresh
    if changes or (settings.always_update and lastseen_due):
        changes['lastSeen'] = now
        before['lastSeen'] = address.get('lastSeen')
    if not changes:
        return None
    payload = dict(changes)
    # phpIPAM 1.8.2 resets the tag to Used on a PATCH without 'tag': always send it.
    payload.setdefault('tag', tag)
    return {'id': address['id'], 'ip': address['ip'], 'payload': payload, 'before': before,
            'after': dict(changes)}


def _in_agent_scope(address, settings):
    if settings.remove_stale_scope == 'all':
        return True
    if (address.get('description') or '') == settings.discovered_description:
        return True
    # A tag of the agent's own (not one of phpIPAM's four standard tags) marks its addresses too.
    return (settings.discovered_tag_name not in STANDARD_TAGS and address.get('tag') == settings.discovered_tag_id)


def _plan_removals(plan, known, seen, others_seen, settings, now):
    """Stale addresses to delete, and the ones refused, with the reason.

    Hard limits (never overridden): not seen this cycle, seen at least once, last seen more
    than ``remove_stale_after`` ago, not excludePing, not the gateway, not Reserved, and
    within the scope. Guards (``force_remove`` overrides them): the scan saw nobody but the
    scanning host itself while phpIPAM saw hosts here within ``remove_stale_after``; or removals
    would exceed ``remove_stale_max_percent`` of the subnet's addresses.
    """
    reserved = settings.tag_ids.get('Reserved')
    candidates = []
    recently_seen = 0
    for ip, address in sorted(known.items(), key=lambda item: int(item[0])):
        age = _age(now, address.get('lastSeen'))
        if age is not None and age < settings.remove_stale_after:
            recently_seen += 1
        if ip in seen or address.get('excludePing') or address.get('is_gateway') or age is None:
            continue
        if age < settings.remove_stale_after or (reserved is not None and address.get('tag') == reserved):
            continue
        if not _in_agent_scope(address, settings):
            continue
        candidates.append({'id': address['id'], 'ip': address['ip'], 'before': _removal_view(address),
                           'reason': 'last seen %s, more than %s ago' % (
                               address['lastSeen'].isoformat(), _duration(settings.remove_stale_after))})
    if not candidates:
        return
    guard = None
    if not others_seen and recently_seen:
        guard = ('the scan saw no host while phpIPAM saw %d here within %s: the scan is not trusted for removals'
                 % (recently_seen, _duration(settings.remove_stale_after)))
    else:
        limit = len(known) * settings.remove_stale_max_percent / 100.0
        if len(candidates) > limit:
            guard = ('%d removals would exceed remove_stale_max_percent (%s%% of %d addresses)'
                     % (len(candidates), settings.remove_stale_max_percent, len(known)))
    if guard and not settings.force_remove:
        plan['refused'] = [{'id': c['id'], 'ip': c['ip'], 'reason': guard} for c in candidates]
    else:
        plan['removals'] = candidates


def _removal_view(address):
    keep = ('ip', 'hostname', 'mac', 'description', 'tag', 'lastSeen')
    return dict((key, address.get(key)) for key in keep)


def _duration(seconds):
    seconds = int(seconds)
    for unit, size in (('d', 86400), ('h', 3600), ('m', 60)):
        if seconds >= size and seconds % size == 0:
            return '%d%s' % (seconds // size, unit)
    return '%ds' % seconds


def plan_report(report, phpipam_subnets, addresses_by_subnet, settings, now):
    """Plan every subnet of a report.

    :param phpipam_subnets: subnet id -> phpIPAM's current subnet record.
    :param addresses_by_subnet: subnet id -> phpIPAM's current address records.
    :param now: aware datetime the scan counts as "seen at" (time_offset already applied).
    """
    if now.tzinfo is None:
        raise ValueError('now must be time-zone aware')
    agent_id = report['agent']['id']
    plans = []
    for subnet in report['subnets']:
        plans.append(plan_subnet(subnet, phpipam_subnets.get(subnet['id']),
                                 addresses_by_subnet.get(subnet['id'], []), agent_id, settings, now))
    return plans


def count_address_writes(plans):
    return sum(len(p['creates']) + len(p['updates']) + len(p['removals']) for p in plans)


# The per-address rules, for other sources of "host seen" than nmap (the Kea lease sync): the same
# MAC/host name/tag safety rules apply whoever saw the host.
plan_address_create = _plan_create
plan_address_update = _plan_update
