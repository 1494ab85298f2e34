# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the inventory plugin ipamkit.phpipam.phpipam adds to Ansible's inventory, as plain data.

``plan_inventory(data, options, now)`` takes the network picture of network_data.py and the plugin's
options and returns each host's inventory name, variables and groups, plus the warnings to show. The
plugin itself only hands that to Ansible (and marks every phpIPAM string unsafe), so all the rules live
here: which addresses become hosts, how they are named, duplicate hostnames, group names, and the SSH
variables computed from jump host chains (ssh_paths.py).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import ipaddress
import re

from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import select_hosts
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_paths import network_jump_chains, proxyjump_argument

GROUP_KINDS = ('section', 'subnet', 'vlan', 'tag', 'location', 'device')
DEFAULT_GROUP_BY = ('section', 'subnet', 'vlan', 'tag', 'location')
HOSTNAME_SOURCES = ('hostname', 'ip')
HOSTNAME_FALLBACKS = ('ip', 'skip')
DUPLICATE_RULES = ('first', 'ip', 'error')
JUMP_HOST_MISSING = ('warn', 'error', 'literal')

_DURATION = re.compile(r'^\s*(\d+)\s*(s|sec|m|min|h|d|w)?\s*$', re.I)
_UNIT_SECONDS = {'s': 1, 'sec': 1, 'm': 60, 'min': 60, 'h': 3600, 'd': 86400, 'w': 604800}

PlannedHost = collections.namedtuple('PlannedHost', ['name', 'host', 'variables', 'groups'])
InventoryPlan = collections.namedtuple('InventoryPlan', ['hosts', 'warnings'])


class InventoryPlanError(ValueError):
    """An option value or a state of the data the inventory cannot be built from: the message says which."""


def parse_duration(value):
    """A timedelta from seconds (int) or text such as ``90m``, ``12h``, ``7d``, ``2w``; None for None or ''."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise InventoryPlanError('seen_within must be positive, not %r' % (value,))
        return datetime.timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match or int(match.group(1)) <= 0:
        raise InventoryPlanError(
            'seen_within %r is not a duration: give a positive number with a unit, s, m, h, d or w (for example '
            '90m, 12h or 7d), or seconds' % (value,))
    return datetime.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[(match.group(2) or 's').lower()])


def group_name(prefix, kind, value):
    """A valid Ansible group name: prefix + kind + value, lower-cased, anything but [a-z0-9_] turned into '_'."""
    text = re.sub(r'[^a-z0-9_]+', '_', ('%s_%s' % (kind, value)).lower())
    text = re.sub(r'_+', '_', text).strip('_')
    return (prefix or '') + text


def host_groups(host, group_by, prefix):
    """The group names of one host for the group kinds in ``group_by``."""
    values = {
        'section': host['section'],
        'subnet': host['subnet'],
        'vlan': host['vlan'],
        'tag': host['tag'],
        'location': host['location'],
        'device': host['device'],
    }
    groups = []
    for kind in group_by:
        value = values[kind]
        if value is not None and str(value).strip():
            groups.append(group_name(prefix, kind, value))
    return groups


def _address_key(ip):
    """Sort key for "the preferred address": IPv4 before IPv6, then by number."""
    try:
        address = ipaddress.ip_address(ip)
        return (address.version, int(address))
    except ValueError:
        return (9, 0)


def _preference(host):
    # IPv4 first (most SSH paths are IPv4), then the most recently seen, then the lowest address.
    seen = host['last_seen'].timestamp() if host['last_seen'] else float('-inf')
    version, number = _address_key(host['ip'])
    return (version, -seen, number)


def name_hosts(hosts, source='hostname', fallback='ip', duplicates='first'):
    """[(inventory name, host, [other IPs of the same name])] in the order of ``hosts``.

    ``source``: the name is the phpIPAM hostname, or always the IP. ``fallback``: a host without hostname is
    named by its IP, or left out (``skip``). Names that several addresses share (compared case-insensitively;
    multi-homed hosts, IPv4 and IPv6 of one host) follow ``duplicates``: ``first`` keeps the preferred address
    (IPv4 before IPv6, then the most recently seen, then the lowest) and lists the others' IPs with it, ``ip``
    keeps the preferred address under the name and names the others by their IP, ``error`` refuses.
    """
    named = []
    for host in hosts:
        name = host['hostname'] if source == 'hostname' else None
        if not name:
            if source == 'hostname' and fallback == 'skip':
                continue
            name = host['ip']
        named.append((name, host))

    by_key = collections.OrderedDict()
    for name, host in named:
        by_key.setdefault(name.lower(), []).append((name, host))

    duplicated = dict((key, entries) for key, entries in by_key.items() if len(entries) > 1)
    if duplicated and duplicates == 'error':
        raise InventoryPlanError('phpIPAM hostnames used by more than one address (duplicate_hostnames=error): %s' % (
            '; '.join('%s: %s' % (entries[0][0], ', '.join(h['ip'] for _n, h in entries))
                      for entries in duplicated.values())))

    chosen = {}
    renamed = {}
    for key, entries in duplicated.items():
        ordered = sorted(entries, key=lambda entry: _preference(entry[1]))
        first_name, first = ordered[0]
        chosen[id(first)] = [h['ip'] for _n, h in ordered[1:]] if duplicates == 'first' else []
        for _name, other in ordered[1:]:
            renamed[id(other)] = other['ip'] if duplicates == 'ip' else None

    result, taken = [], set()
    for name, host in named:
        others = []
        if id(host) in renamed:
            name = renamed[id(host)]
            if name is None:
                continue
        elif id(host) in chosen:
            others = chosen[id(host)]
        if name.lower() in taken:
            # An IP given as a name elsewhere: the address already listed under it keeps it.
            continue
        taken.add(name.lower())
        result.append((name, host, others))
    return result


def host_variables(host, other_ips=()):
    """The ``phpipam_*`` variables of one host (plain values; dates as ISO 8601) and ``ansible_host``."""
    last_seen = host['last_seen'].isoformat() if host['last_seen'] else None
    variables = {
        'ansible_host': host['ip'],
        'phpipam_id': host['id'],
        'phpipam_ip': host['ip'],
        'phpipam_hostname': host['hostname'],
        'phpipam_description': host['description'],
        'phpipam_mac': host['mac'],
        'phpipam_last_seen': last_seen,
        'phpipam_tag': host['tag'],
        'phpipam_subnet': host['subnet'],
        'phpipam_subnet_id': host['subnet_id'],
        'phpipam_section': host['section'],
        'phpipam_section_id': host['section_id'],
        'phpipam_vlan': host['vlan'],
        'phpipam_vlan_name': host['vlan_name'],
        'phpipam_device': host['device'],
        'phpipam_device_id': host['device_id'],
        'phpipam_location': host['location'],
        'phpipam_note': host['note'],
        'phpipam_is_gateway': host['is_gateway'],
        'phpipam_custom_fields': dict(host['custom']),
    }
    if other_ips:
        variables['phpipam_other_ips'] = list(other_ips)
    return variables


def ssh_variables(data, selected, jump_field, user_field, missing):
    """({host id: {ansible_user, ansible_ssh_common_args, phpipam_jump_hops}}, {host id: problem}) for ``selected``.

    Jump hosts are looked up among all of phpIPAM's addresses, selected or not.
    """
    chains = network_jump_chains(data, jump_field, user_field, missing=missing)
    variables, problems = {}, {}
    for host in selected:
        values = {}
        user = data.inherited(host, user_field)
        if user is not None and str(user).strip():
            values['ansible_user'] = str(user).strip()
        path = chains.get(host['id'])
        if path is not None and path.problem:
            problems[host['id']] = path.problem
        elif path is not None and path.hops:
            values['ansible_ssh_common_args'] = proxyjump_argument(path.hops)
            values['phpipam_jump_hops'] = list(path.hops)
        variables[host['id']] = values
    return variables, problems


def _check_choice(options, name, choices):
    value = options.get(name)
    if value not in choices:
        raise InventoryPlanError('%s must be one of %s, not %r' % (name, ', '.join(choices), value))
    return value


def plan_inventory(data, options, now=None):
    """The hosts (name, host dict, variables, groups) and warnings for a NetworkData and the plugin's options.

    ``options`` uses the plugin's option names: sections, subnets, tags, custom_fields, hostname_required,
    seen_within, hostname_source, hostname_fallback, duplicate_hostnames, group_by, group_prefix, ssh_paths,
    jump_host_field, ssh_user_field, jump_host_missing.
    """
    group_by = list(options.get('group_by') if options.get('group_by') is not None else DEFAULT_GROUP_BY)
    unknown = [kind for kind in group_by if kind not in GROUP_KINDS]
    if unknown:
        raise InventoryPlanError('group_by: unknown kind(s) %s; choose from %s'
                                 % (', '.join(map(repr, unknown)), ', '.join(GROUP_KINDS)))
    source = _check_choice(options, 'hostname_source', HOSTNAME_SOURCES)
    fallback = _check_choice(options, 'hostname_fallback', HOSTNAME_FALLBACKS)
    duplicates = _check_choice(options, 'duplicate_hostnames', DUPLICATE_RULES)
    custom = options.get('custom_fields') or {}
    if not isinstance(custom, dict):
        raise InventoryPlanError('custom_fields must be a dictionary of field name to value (or list of values)')

    selected = select_hosts(
        data,
        sections=options.get('sections'),
        subnets=options.get('subnets'),
        tags=options.get('tags'),
        custom=custom,
        hostname_required=bool(options.get('hostname_required')),
        seen_within=parse_duration(options.get('seen_within')),
        now=now)
    named = name_hosts(selected, source, fallback, duplicates)

    warnings, ssh = [], {}
    if options.get('ssh_paths', True):
        missing = _check_choice(options, 'jump_host_missing', JUMP_HOST_MISSING)
        ssh, problems = ssh_variables(data, [host for _n, host, _o in named], options.get('jump_host_field'),
                                      options.get('ssh_user_field'), missing)
        listed = ['%s: %s' % (name, problems[host['id']]) for name, host, _o in named if host['id'] in problems]
        if listed and missing == 'error':
            raise InventoryPlanError('no SSH jump path for %d host(s) (jump_host_missing=error): %s'
                                     % (len(listed), '; '.join(listed)))
        warnings.extend('SSH jump path of %s; the host is kept without ProxyJump' % text for text in listed)

    prefix = options.get('group_prefix')
    if prefix is None:
        prefix = 'phpipam_'
    planned = []
    for name, host, others in named:
        variables = host_variables(host, others)
        variables.update(ssh.get(host['id'], {}))
        planned.append(PlannedHost(name, host, variables, host_groups(host, group_by, prefix)))
    return InventoryPlan(planned, warnings)
