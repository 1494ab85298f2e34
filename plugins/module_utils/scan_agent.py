# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a scan agent owns in phpIPAM: the agent, its subnets, and their addresses.

The fetch costs one request for the agent, one for its subnets (phpIPAM filters on
``scanAgent`` server-side), at most one for name servers, and, with addresses, one
per subnet, sent in parallel; never one request per address.
"""

import hashlib
import ipaddress
import json
import os

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import (
    PhpipamNotFoundError,
    PhpipamPermissionError,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import parse_iso_datetime

# Fields of an address a scanner needs, in phpIPAM's own names.
ADDRESS_FIELDS = ('id', 'ip', 'hostname', 'description', 'mac', 'tag', 'excludePing', 'is_gateway', 'lastSeen')
# Fields of a subnet kept as they are; computed ones (cidr, ip_version, dns_servers) are added.
SUBNET_FIELDS = ('id', 'subnet', 'mask', 'sectionId', 'description', 'masterSubnetId', 'vlanId', 'pingSubnet',
                 'discoverSubnet', 'resolveDNS', 'nameserverId', 'lastScan', 'lastDiscovery', 'isFull')
AGENT_FIELDS = ('id', 'name', 'description', 'type', 'last_access')
WRITE_PERMISSIONS = ('Write', 'Admin')


class AgentNotFoundError(PhpipamNotFoundError):
    """No scan agent matches the code, id or name given."""


def find_agent(client, code=None, agent_id=None, name=None):
    """Return the scan agent record (with its code) matching exactly one of code, id or name."""
    if agent_id is not None:
        agent = client.get_or_none('tools/scanagents/%d' % int(agent_id))
        if not agent:
            raise AgentNotFoundError('phpIPAM has no scan agent with id %s (Administration > Scan agents)' % agent_id)
        return agent
    agents = client.get_list('tools/scanagents')
    if code is not None:
        matches = [a for a in agents if a.get('code') == code]
        what = 'the given agent code'
    else:
        matches = [a for a in agents if a.get('name') == name]
        what = "the name '%s'" % name
    if not matches:
        known = ', '.join(sorted("'%s'" % a.get('name') for a in agents)) or 'none'
        raise AgentNotFoundError(
            'phpIPAM has no scan agent with %s (agents this app can see: %s); check the code under '
            'Administration > Scan agents' % (what, known))
    return matches[0]


def agent_view(agent):
    """The agent as returned to users: without its code, which identifies it to phpIPAM."""
    return dict((key, agent.get(key)) for key in AGENT_FIELDS)


def parse_nameservers(namesrv1):
    """phpIPAM keeps a name server set as one ``;``-separated string; return the valid IPs in order."""
    servers = []
    for item in (namesrv1 or '').replace(',', ';').split(';'):
        item = item.strip()
        if not item:
            continue
        try:
            servers.append(str(ipaddress.ip_address(item)))
        except ValueError:
            continue
    return servers


def subnet_network(subnet):
    """The subnet's ipaddress network, or None for folders and records without a valid CIDR."""
    if subnet.get('isFolder') or not subnet.get('subnet') or subnet.get('mask') is None:
        return None
    try:
        return ipaddress.ip_network('%s/%s' % (subnet['subnet'], subnet['mask']), strict=False)
    except ValueError:
        return None


def subnet_view(subnet, nameserver_sets):
    network = subnet_network(subnet)
    view = dict((key, subnet.get(key)) for key in SUBNET_FIELDS)
    view['cidr'] = str(network)
    view['ip_version'] = network.version
    ns_set = subnet.get('nameservers') or nameserver_sets.get(subnet.get('nameserverId')) or {}
    view['dns_servers'] = parse_nameservers(ns_set.get('namesrv1'))
    return view


def address_view(address):
    return dict((key, address.get(key)) for key in ADDRESS_FIELDS)


def _ip_sort_key(address):
    try:
        ip = ipaddress.ip_address(address.get('ip') or '')
        return (ip.version, int(ip))
    except ValueError:
        return (9, 0)


def fetch_agent_subnets(client, code=None, agent_id=None, name=None):
    """The agent (as returned to users) and its subnets, sorted, folders left out; no addresses."""
    agent = find_agent(client, code=code, agent_id=agent_id, name=name)
    records = client.get_list('subnets', params={'filter_by': 'scanAgent', 'filter_value': agent['id']})
    # phpIPAM's filter compares loosely; keep exactly this agent's subnets with a usable CIDR.
    records = [s for s in records if s.get('scanAgent') == agent['id'] and subnet_network(s) is not None]

    nameserver_sets = {}
    if any(s.get('nameserverId') and not s.get('nameservers') for s in records):
        nameserver_sets = dict((ns['id'], ns) for ns in client.get_list('tools/nameservers'))

    subnets = [subnet_view(s, nameserver_sets) for s in records]
    subnets.sort(key=lambda s: (s['ip_version'], int(ipaddress.ip_network(s['cidr']).network_address)))
    return agent_view(agent), subnets


def split_due(subnets, now, min_scan_interval):
    """(due, skipped): subnets scanned less than ``min_scan_interval`` seconds ago are skipped.

    A subnet counts as recently scanned when every check it has was done recently: its
    ``lastScan`` if it is a pingSubnet, its ``lastDiscovery`` if it is a discoverSubnet.
    """
    if not min_scan_interval:
        return list(subnets), []
    due, skipped = [], []
    for subnet in subnets:
        stamps = []
        if subnet.get('pingSubnet'):
            stamps.append(subnet.get('lastScan'))
        if subnet.get('discoverSubnet'):
            stamps.append(subnet.get('lastDiscovery'))
        ages = [None if stamp is None else (now - stamp).total_seconds() for stamp in stamps]
        if ages and all(age is not None and age < min_scan_interval for age in ages):
            skipped.append({'id': subnet['id'], 'cidr': subnet['cidr'], 'lastScan': subnet.get('lastScan'),
                            'lastDiscovery': subnet.get('lastDiscovery'),
                            'reason': 'scanned less than min_scan_interval (%d s) ago' % min_scan_interval})
        else:
            due.append(subnet)
    return due, skipped


def attach_addresses(client, subnets):
    """Add each subnet's addresses (one request per subnet, in parallel)."""
    lists = client.get_lists(['subnets/%d/addresses' % s['id'] for s in subnets])
    for subnet, items in zip(subnets, lists):
        subnet['addresses'] = sorted((address_view(a) for a in items), key=_ip_sort_key)
    return subnets


def check_write_access(client):
    """The app's permission name; a read-only app raises PhpipamPermissionError.

    ``OPTIONS tools/`` changes nothing, so an agent can find out before it scans.
    """
    permissions = client.app_permissions()
    if permissions not in WRITE_PERMISSIONS:
        raise PhpipamPermissionError(
            "API app '%s' has permissions '%s'; a scan agent that writes to phpIPAM needs Read / Write: change "
            'the app in Administration > API, or use a relay' % (client.app_id, permissions),
            method='OPTIONS', path=client.url_for('tools'))
    return permissions


def fetch_agent_inventory(client, code=None, agent_id=None, name=None, addresses=False, require_write=False):
    """The agent, its subnets and optionally their addresses (no skipping, no cache)."""
    permissions = check_write_access(client) if require_write else None
    agent, subnets = fetch_agent_subnets(client, code=code, agent_id=agent_id, name=name)
    if addresses:
        attach_addresses(client, subnets)
    return {'agent': agent, 'subnets': subnets, 'app_permissions': permissions}


# ------------------------------------------------------------------ disk cache

def cache_key(client, code=None, agent_id=None, name=None):
    """Which phpIPAM, app and agent a cache entry belongs to (hashed: the agent code is a secret)."""
    text = json.dumps([client.url, client.app_id, code, agent_id, name])
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def load_cached(path, key, now, ttl, zone):
    """(agent, subnets) from the cache file when fresh and for the same key, else None."""
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
        stored = parse_iso_datetime(data['stored_at'])
        if data.get('key') != key or not 0 <= (now - stored).total_seconds() < ttl:
            return None
        subnets = data['subnets']
        for subnet in subnets:
            for field in ('lastScan', 'lastDiscovery'):
                if subnet.get(field):
                    subnet[field] = parse_iso_datetime(subnet[field]).astimezone(zone)
        return data['agent'], subnets
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_cached(path, key, now, agent, subnets):
    """Write the cache atomically, readable by the owner only."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    payload = {'key': key, 'stored_at': now.isoformat(), 'agent': agent,
               'subnets': [dict((k, v) for k, v in s.items() if k != 'addresses') for s in subnets]}
    temp = '%s.%d.tmp' % (path, os.getpid())
    with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
        json.dump(to_ansible(payload), handle)
    os.replace(temp, path)
