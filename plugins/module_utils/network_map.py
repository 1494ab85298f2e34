# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network map: phpIPAM's picture of the network as a Graphviz DOT graph.

Layout, outermost first: a cluster per section (a customer), in it a cluster per subnet headed by a subnet
node, in it a cluster per device (the server or hypervisor the hosts run on: an address's ``deviceId``) and
the hosts. Hosts are coloured by how long ago phpIPAM saw them (phpIPAM's "ping status" intervals), and an
edge goes from each jump host to what it gives access to: a whole subnet when every host of it has the same
last hop, otherwise each host. Hosts of a group are packed in rows by invisible edges, so a subnet of 200
hosts is a block, not a column 200 nodes high.

Pure: the caller passes the loaded network, the selected hosts, their jump paths and ``now``; the output is the
same text for the same input (ids come from phpIPAM ids, everything is sorted).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import math
import re

from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import parse_duration
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import select_hosts
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_paths import SshPathError, network_jump_chains, parse_hop

# phpIPAM's default "Ping status intervals" (Administration > Settings): seconds after which a host is shown
# as warning, then offline. The setting is not readable through the API, hence an option with this default.
DEFAULT_PING_STATUS = '1800;3600'
DEFAULT_MAX_HOSTS_PER_SUBNET = 100
DEFAULT_TITLE = 'phpIPAM network map'

STATUSES = ('alive', 'warning', 'offline', 'never')
# (fill, border) per status; phpIPAM shows the same states in green, orange, red and grey.
STATUS_COLOURS = {
    'alive': ('#c8e6c9', '#2e7d32'),
    'warning': ('#ffe0b2', '#ef6c00'),
    'offline': ('#ffcdd2', '#c62828'),
    'never': ('#eeeeee', '#9e9e9e'),
}
JUMP_EDGE_COLOUR = '#1565c0'
EDGES_PER_HOST_MAX = 3
JUMP_HOST_MISSING = ('warn', 'error', 'literal')
LABEL_MAX = 40

_CONTROL = re.compile(u'[\x00-\x08\x0b-\x1f\x7f]')


class MapError(ValueError):
    """A map option that cannot be used: the message names it."""


def parse_ping_status(value):
    """phpIPAM's ``warning;offline`` seconds (``1800;3600``; a comma works too) -> (warning, offline)."""
    text = str(value if value is not None else '').replace(' ', '').replace(',', ';')
    parts = text.split(';')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise MapError('ping_status %r: expected two numbers of seconds, warning;offline (phpIPAM\'s default is %s)'
                       % (value, DEFAULT_PING_STATUS))
    warning, offline = int(parts[0]), int(parts[1])
    if not 0 < warning < offline:
        raise MapError('ping_status %r: the warning interval must be above 0 and below the offline interval'
                       % (value,))
    return warning, offline


def host_status(last_seen, now, thresholds):
    """alive, warning, offline or never, as phpIPAM decides it: the age of lastSeen against the intervals."""
    if last_seen is None:
        return 'never'
    age = (now - last_seen).total_seconds()
    warning, offline = thresholds
    if age < warning:
        return 'alive'
    if age < offline:
        return 'warning'
    return 'offline'


def _clean(text):
    return _CONTROL.sub('', u'%s' % (text,)).replace('\r\n', '\n').replace('\r', '\n')


def dot_quote(text):
    """A DOT quoted string showing ``text`` as written.

    Backslashes and quotes are escaped, newlines become line breaks, control characters go, and ``&`` becomes
    ``&amp;``: Graphviz passes entities such as ``&lt;`` through to SVG and decodes them for PNG, so a literal
    ``&`` must itself be an entity. ``<``, ``>`` and braces need nothing inside quotes (we use no record shapes).
    """
    text = _clean(text).replace('\t', ' ')
    text = text.replace('&', '&amp;').replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
    return '"%s"' % text


def _short(text, limit=LABEL_MAX):
    text = _clean(text).replace('\n', ' ')
    return text if len(text) <= limit else text[:limit - 1] + u'\u2026'


def _attrs(**attrs):
    return '[%s]' % ', '.join('%s=%s' % (k, dot_quote(v)) for k, v in sorted(attrs.items()) if v is not None)


def ip_sort_key(text):
    try:
        address = ipaddress.ip_address(text)
        return (0, address.version, int(address), '')
    except (TypeError, ValueError):
        return (1, 0, 0, u'%s' % (text,))


def subnet_sort_key(cidr, subnet_id):
    try:
        network = ipaddress.ip_network(cidr, strict=False)
        return (0, network.version, int(network.network_address), network.prefixlen, subnet_id or 0)
    except (TypeError, ValueError):
        return (1, 0, 0, 0, subnet_id or 0)


def _hop_address(hop):
    """The host part of a ProxyJump hop (``user@[ip]:port``)."""
    try:
        parsed = parse_hop(hop)
    except SshPathError:
        return None
    return getattr(parsed, 'host', None)


def iso(value):
    return value.isoformat() if value is not None else None


class NetworkMap(object):
    """The built map: ``dot`` text, per-node ``details`` for the HTML page, ``search`` entries and counts."""

    def __init__(self, dot, details, search, counts, problems, hidden, title=DEFAULT_TITLE, stamp=None):
        self.title = title
        self.stamp = stamp
        self.dot = dot
        self.details = details
        self.search = search
        self.counts = counts
        self.problems = problems
        self.hidden = hidden


class _Writer(object):
    def __init__(self):
        self.lines = []
        self.depth = 0

    def line(self, text):
        self.lines.append('  ' * self.depth + text)

    def open(self, text):
        self.line(text + ' {')
        self.depth += 1

    def close(self):
        self.depth -= 1
        self.line('}')

    def text(self):
        return '\n'.join(self.lines) + '\n'


def row_width(host_count):
    """Hosts per row: sections and subnets stack top to bottom, so rows this long give a map about as wide as
    high (a host node is some 4 times as wide as high, with the spacing)."""
    return max(4, int(math.ceil(math.sqrt(host_count / 4.0))))


def build_map(data, hosts, paths, now, ping_status=DEFAULT_PING_STATUS, max_hosts_per_subnet=DEFAULT_MAX_HOSTS_PER_SUBNET,
              group_by_device=True, hosts_per_row=0, title=DEFAULT_TITLE, stamp=None, user_of=None):
    """The map of ``hosts`` (selected host dicts of ``data``, a NetworkData) with jump ``paths`` {host id: JumpPath}.

    ``now`` (aware datetime) decides the status colours; ``stamp`` (text, optional) is added to the title, so the
    output only changes with the data unless a stamp is asked for. ``max_hosts_per_subnet`` (0: no limit) draws
    at most that many hosts per subnet and one "+N more" node for the rest: jump hosts are drawn first.
    ``hosts_per_row`` (0: from the number of hosts) is how many hosts a packed row holds. ``user_of(host)``, when
    given, is the SSH user shown in a host's details.
    """
    thresholds = parse_ping_status(ping_status)
    if max_hosts_per_subnet is None or max_hosts_per_subnet < 0:
        raise MapError('max_hosts_per_subnet must be 0 (no limit) or more, not %r' % (max_hosts_per_subnet,))
    if hosts_per_row is None or hosts_per_row < 0:
        raise MapError('hosts_per_row must be 0 (automatic) or more, not %r' % (hosts_per_row,))
    builder = _MapBuilder(data, hosts, paths or {}, now, thresholds, max_hosts_per_subnet, group_by_device,
                          hosts_per_row, user_of)
    return builder.build(title, stamp)


class _MapBuilder(object):
    """One map: indexes over the network, then the DOT text written top-down, then the jump edges."""

    def __init__(self, data, hosts, paths, now, thresholds, max_hosts_per_subnet, group_by_device, hosts_per_row,
                 user_of):
        self.sections = getattr(data, 'sections', None) or {}
        self.subnets = getattr(data, 'subnets', None) or {}
        self.devices = getattr(data, 'devices', None) or {}
        self.hosts = sorted(hosts, key=lambda h: (ip_sort_key(h.get('ip')), h.get('id') or 0))
        self.paths = paths
        self.now = now
        self.thresholds = thresholds
        self.max_hosts = max_hosts_per_subnet
        self.user_of = user_of
        self.out = _Writer()
        self.details = {}
        self.search = []
        self.node_of_host = {}   # host id -> its node, or the "+N more" node standing for it
        self.drawn = set()
        self.hidden = {}         # subnet id -> hosts left out
        self.devices_drawn = set()
        self.subnets_drawn = 0
        self.external = {}       # jump hosts without a node of their own: key -> (host or None, hop)
        self.external_ids = {}

        self.by_ip, self.by_name = {}, {}
        for host in list(getattr(data, 'hosts', None) or []) + self.hosts:
            self.by_ip.setdefault(ip_sort_key(host.get('ip')), host)
            name = (host.get('hostname') or '').strip().lower().rstrip('.')
            if name:
                self.by_name.setdefault(name, host)
        # Jump hosts of selected hosts are drawn first when a subnet is cut to max_hosts_per_subnet.
        self.jump_host_ids = set()
        for host in self.hosts:
            for hop in self.hops_of(host):
                target = self.host_of_hop(hop)
                if target is not None:
                    self.jump_host_ids.add(target.get('id'))
        # A host whose address is a device's own (phpIPAM devices have an ip_addr, read back as "ip") is that
        # server or hypervisor: drawn as a 3D box, and its details say so.
        self.device_by_ip = {}
        for device_id in sorted(self.devices):
            device = self.devices[device_id] or {}
            key = ip_sort_key(device.get('ip') or device.get('ip_addr'))
            if key[0] == 0:
                self.device_by_ip.setdefault(key, device.get('hostname') or 'device %s' % device_id)
        # section -> subnet -> device (None: none, or not grouping) -> hosts
        self.tree = {}
        for host in self.hosts:
            device_key = host.get('device_id') if group_by_device and host.get('device_id') else None
            self.tree.setdefault(host.get('section_id'), {}).setdefault(host.get('subnet_id'), {}).setdefault(
                device_key, []).append(host)
        self.per_row = hosts_per_row or row_width(sum(
            min(len(members), self.max_hosts or len(members))
            for by_subnet in self.tree.values() for members in _subnet_lists(by_subnet)))

    # ---- lookups

    def host_of_hop(self, hop):
        address = _hop_address(hop)
        if address is None:
            return None
        found = self.by_ip.get(ip_sort_key(address))
        return found if found is not None else self.by_name.get(address.lower().rstrip('.'))

    def hops_of(self, host):
        path = self.paths.get(host.get('id'))
        return tuple(getattr(path, 'hops', ()) or ()) if path is not None else ()

    def problem_of(self, host):
        path = self.paths.get(host.get('id'))
        return getattr(path, 'problem', None) if path is not None else None

    def status_of(self, host):
        return host_status(host.get('last_seen'), self.now, self.thresholds)

    def section_name(self, section_id):
        section = self.sections.get(section_id) or {}
        return section.get('name') or _first(self.tree[section_id]).get('section') or 'section %s' % section_id

    def device_name(self, device_id, members):
        device = self.devices.get(device_id) or {}
        return device.get('hostname') or members[0].get('device') or 'device %s' % device_id

    # ---- the graph

    def build(self, title, stamp):
        out = self.out
        out.open('digraph "network"')
        out.line('graph %s;' % _attrs(rankdir='LR', fontname='Helvetica', fontsize='16', labelloc='t', labeljust='l',
                                      label=title if not stamp else '%s\n%s' % (title, stamp), nodesep='0.12',
                                      ranksep='0.35', outputorder='edgesfirst', tooltip=title))
        out.line('node %s;' % _attrs(shape='box', style='rounded,filled', fontname='Helvetica', fontsize='10',
                                     height='0.3', margin='0.08,0.03'))
        out.line('edge %s;' % _attrs(color=JUMP_EDGE_COLOUR, penwidth='1.3', arrowsize='0.7'))
        _legend(out, self.thresholds)
        # Sections and device boxes are written last to first: dot then stacks them top-down in name order
        # (checked by rendering); subnets and the rows of hosts are ordered the same way below.
        order = sorted(self.tree, key=lambda sid: (self.section_name(sid).lower(), sid or 0))
        for section_id in reversed(order):
            self.draw_section(section_id)
        self.draw_external_jump_hosts()
        edges = self.draw_edges()
        out.close()
        problems = [{'ip': h.get('ip'), 'hostname': h.get('hostname'), 'problem': self.problem_of(h)}
                    for h in self.hosts if self.problem_of(h)]
        counts = {
            'sections': len(self.tree),
            'subnets': self.subnets_drawn,
            'hosts': len(self.hosts),
            'hosts_drawn': len(self.drawn),
            'hosts_hidden': sum(self.hidden.values()),
            'devices': len(self.devices_drawn),
            'jump_hosts_outside': len(self.external_ids),
            'edges': edges,
        }
        return NetworkMap(out.text(), self.details, self.search, counts, problems, self.hidden, title=title,
                          stamp=stamp)

    def draw_section(self, section_id):
        by_subnet = self.tree[section_id]
        name = self.section_name(section_id)
        self.out.open('subgraph %s' % dot_quote('cluster_section_%s' % section_id))
        self.out.line('graph %s;' % _attrs(label=name, style='filled', fillcolor='#f7f9fb', color='#90a4ae',
                                           fontsize='14', id='section_%s' % section_id, tooltip='section %s' % name))
        order = sorted(by_subnet, key=lambda s: subnet_sort_key(
            (self.subnets.get(s) or {}).get('cidr') or _first(by_subnet[s]).get('subnet'), s))
        for subnet_id in order:
            self.draw_subnet(subnet_id, by_subnet[subnet_id], name)
        self.out.close()

    def draw_subnet(self, subnet_id, groups, section):
        out = self.out
        self.subnets_drawn += 1
        members = [h for group in groups.values() for h in group]
        subnet = self.subnets.get(subnet_id) or {}
        cidr = subnet.get('cidr') or members[0].get('subnet') or 'subnet %s' % subnet_id
        subnet_node = 's%s' % subnet_id
        if self.max_hosts and len(members) > self.max_hosts:
            ranked = sorted(members, key=lambda h: (h.get('id') not in self.jump_host_ids, ip_sort_key(h.get('ip'))))
            keep = set(h.get('id') for h in ranked[:self.max_hosts])
        else:
            keep = set(h.get('id') for h in members)
        out.open('subgraph %s' % dot_quote('cluster_subnet_%s' % subnet_id))
        out.line('graph %s;' % _attrs(label='', style='rounded,filled', fillcolor='#ffffff', color='#b0bec5'))
        lines = [cidr]
        if subnet.get('description'):
            lines.append(_short(subnet['description']))
        vlan, vlan_name = members[0].get('vlan'), members[0].get('vlan_name')
        if vlan is not None:
            lines.append('VLAN %s%s' % (vlan, ' (%s)' % _short(vlan_name, 24) if vlan_name else ''))
        lines.append('%d host%s' % (len(members), '' if len(members) == 1 else 's'))
        out.line('%s %s;' % (dot_quote(subnet_node), _attrs(
            id=subnet_node, shape='note', style='filled', fillcolor='#e3f2fd', color='#1565c0', fontsize='11',
            label='\n'.join(lines), tooltip='subnet %s' % cidr)))
        self.details[subnet_node] = {'kind': 'subnet', 'subnet': cidr, 'description': subnet.get('description'),
                                     'section': section, 'vlan': vlan, 'vlan_name': vlan_name, 'hosts': len(members)}
        order = sorted(groups, key=lambda d: (d is not None, self.device_name(d, groups[d]).lower() if d else '', d or 0))
        for device_id in reversed(order):
            group = [h for h in groups[device_id] if h.get('id') in keep]
            if group:
                self.draw_group(subnet_id, device_id, group, section, cidr)
        hidden = sorted((h for h in members if h.get('id') not in keep), key=lambda h: ip_sort_key(h.get('ip')))
        if hidden:
            self.draw_more(subnet_id, hidden, section, cidr)
        out.close()

    def draw_group(self, subnet_id, device_id, group, section, cidr):
        """The hosts of a subnet on one device (in its box) or on none, packed in rows."""
        out = self.out
        if device_id is not None:
            self.devices_drawn.add(device_id)
            device = self.devices.get(device_id) or {}
            name = self.device_name(device_id, group)
            label = name if not device.get('description') else '%s\n%s' % (name, _short(device['description']))
            out.open('subgraph %s' % dot_quote('cluster_device_%s_%s' % (subnet_id, device_id)))
            out.line('graph %s;' % _attrs(label=label, style='rounded,dashed,filled', fillcolor='#fffde7',
                                          color='#8d6e63', fontsize='11', tooltip='hosts running on device %s' % name))
        node_ids, host_lines = [], []
        for host in group:
            node = 'h%s' % host.get('id')
            node_ids.append(node)
            self.drawn.add(host.get('id'))
            self.node_of_host[host.get('id')] = node
            status, problem = self.status_of(host), self.problem_of(host)
            is_device = self.device_by_ip.get(ip_sort_key(host.get('ip')))
            host_lines.append('%s %s;' % (dot_quote(node), _host_attrs(host, node, status, problem, is_device)))
            self.details[node] = _host_details(host, status, self.hops_of(host), problem, section, cidr, self.user_of)
            if is_device:
                self.details[node]['is_device'] = is_device
            self.search.append([node, _search_text(host)])
        # dot stacks the rows of an LR graph bottom-up in the order it meets their nodes: declared last to first,
        # the rows read top-down in address order.
        for line in reversed(host_lines):
            out.line(line)
        # An edge statement makes both its ends members of the subgraph it is in: the rows are chained inside the
        # device's box, and the subnet node is linked to each row from outside it.
        row_starts = _pack(out, node_ids, self.per_row)
        if device_id is not None:
            out.close()
        for start in row_starts:
            out.line('%s -> %s %s;' % (dot_quote('s%s' % subnet_id), dot_quote(start), _attrs(style='invis')))

    def draw_more(self, subnet_id, hidden, section, cidr):
        """One "+N more" node for the hosts max_hosts_per_subnet leaves out; search and details still know them."""
        more = 'more_s%s' % subnet_id
        self.out.line('%s %s;' % (dot_quote(more), _attrs(
            id=more, label='+%d more' % len(hidden), style='rounded,dashed', fillcolor='#ffffff',
            tooltip='%d more hosts in %s (max_hosts_per_subnet)' % (len(hidden), cidr))))
        self.out.line('%s -> %s %s;' % (dot_quote('s%s' % subnet_id), dot_quote(more), _attrs(style='invis')))
        self.details[more] = {'kind': 'more', 'subnet': cidr, 'section': section, 'hosts': [
            {'ip': h.get('ip'), 'hostname': h.get('hostname'), 'status': self.status_of(h)} for h in hidden]}
        self.hidden[subnet_id] = len(hidden)
        for host in hidden:
            self.node_of_host[host.get('id')] = more
            self.search.append([more, _search_text(host)])

    def external_key(self, hop):
        """None when the hop's host has a node (or a "+N more" node); else the key of its own outside node."""
        target = self.host_of_hop(hop)
        if target is not None and target.get('id') in self.node_of_host:
            return None
        return ('host', target.get('id')) if target is not None else ('hop', hop)

    def hop_node(self, hop):
        key = self.external_key(hop)
        return self.node_of_host[self.host_of_hop(hop).get('id')] if key is None else self.external_ids[key]

    def draw_external_jump_hosts(self):
        """Jump hosts outside the selection (or not in phpIPAM at all): one node each, outside every box."""
        for host in self.hosts:
            for hop in self.hops_of(host):
                key = self.external_key(hop)
                if key is not None and key not in self.external:
                    self.external[key] = (self.host_of_hop(hop), hop)

        def sort_key(key):
            target, hop = self.external[key]
            return (ip_sort_key(target.get('ip') if target is not None else hop), key[0], u'%s' % (key[1],))

        for index, key in enumerate(sorted(self.external, key=sort_key)):
            node = self.external_ids[key] = 'jump_%d' % (index + 1)
            target, hop = self.external[key]
            if target is None:
                self.out.line('%s %s;' % (dot_quote(node), _attrs(
                    id=node, label=hop, style='rounded,dashed', fillcolor='#ffffff', color=JUMP_EDGE_COLOUR,
                    tooltip='jump host %s (not in phpIPAM)' % hop)))
                self.details[node] = {'kind': 'jump host', 'hop': hop, 'note': 'jump host not found in phpIPAM'}
                self.search.append([node, hop.lower()])
                continue
            name = target.get('hostname')
            self.out.line('%s %s;' % (dot_quote(node), _attrs(
                id=node, label='%s\n%s' % (_short(name), target.get('ip')) if name else target.get('ip'),
                style='rounded,dashed', fillcolor='#ffffff', color=JUMP_EDGE_COLOUR,
                tooltip='jump host %s (not in this map)' % (name or target.get('ip')))))
            entry = _host_details(target, self.status_of(target), self.hops_of(target), self.problem_of(target),
                                  target.get('section'), target.get('subnet'), self.user_of)
            entry.update(kind='jump host', note='jump host outside the selection of this map')
            self.details[node] = entry
            self.search.append([node, _search_text(target)])

    def draw_edges(self):
        """Each hop chain once. The last hop points at the subnet node for the hosts of the subnet behind it
        (labelled "N of M" when not all of them are), and at single hosts only when up to EDGES_PER_HOST_MAX hosts
        of a subnet use it: a subnet behind one jump host is one edge, not fifty. Returns the number of edges."""
        edges = {}
        by_subnet = {}
        for host in self.hosts:
            by_subnet.setdefault(host.get('subnet_id'), []).append(host)
        for subnet_id in sorted(by_subnet, key=lambda s: s or 0):
            members = by_subnet[subnet_id]
            behind = {}
            for host in members:
                chain = [self.hop_node(hop) for hop in self.hops_of(host)]
                if not chain:
                    continue
                for first, second in zip(chain, chain[1:]):
                    if first != second:
                        edges.setdefault((first, second), None)
                behind.setdefault(chain[-1], []).append(host)
            for last, served in behind.items():
                if len(served) == len(members):
                    edges[(last, 's%s' % subnet_id)] = None
                elif len(served) <= EDGES_PER_HOST_MAX:
                    for host in served:
                        if self.node_of_host[host.get('id')] != last:
                            edges.setdefault((last, self.node_of_host[host.get('id')]), None)
                else:
                    edges[(last, 's%s' % subnet_id)] = '%d of %d' % (len(served), len(members))
        for first, second in sorted(edges):
            self.out.line('%s -> %s %s;' % (dot_quote(first), dot_quote(second), _attrs(
                label=edges[(first, second)], fontsize='9', fontcolor=JUMP_EDGE_COLOUR,
                tooltip='jump: %s -> %s' % (_node_text(self.details, first), _node_text(self.details, second)))))
        return len(edges)


def map_of_network(data, now, sections=None, subnets=None, tags=None, custom_fields=None, hostname_required=False,
                   seen_within=None, jump_host_field='custom_ssh_jump', ssh_user_field='custom_ssh_user',
                   jump_host_missing='warn', timestamp=False, **map_options):
    """select_hosts + network_jump_chains + build_map: the map of the hosts of ``data`` (a NetworkData) chosen with
    the inventory plugin's filters and options (``seen_within`` as text, read by inventory_plan.parse_duration).
    ``map_options`` go to build_map. Jump paths are worked out over all hosts: a jump host need not be selected.
    ``jump_host_missing``: ``warn`` reports unusable paths in ``problems``, ``error`` raises MapError listing
    them, ``literal`` takes a jump host that is not in phpIPAM as written."""
    if jump_host_missing not in JUMP_HOST_MISSING:
        raise MapError('jump_host_missing must be one of %s, not %r' % (', '.join(JUMP_HOST_MISSING), jump_host_missing))
    hosts = select_hosts(data, sections=sections, subnets=subnets, tags=tags, custom=custom_fields,
                         hostname_required=hostname_required, seen_within=parse_duration(seen_within), now=now)

    def user_of(host):
        return data.inherited(host, ssh_user_field)

    paths = network_jump_chains(data, jump_host_field, ssh_user_field, missing=jump_host_missing)
    stamp = 'generated %s' % now.strftime('%Y-%m-%d %H:%M:%S %Z').strip() if timestamp else None
    graph = build_map(data, hosts, paths, now, stamp=stamp, user_of=user_of, **map_options)
    if jump_host_missing == 'error' and graph.problems:
        raise MapError('%d selected host%s without a usable jump path: %s' % (
            len(graph.problems), '' if len(graph.problems) == 1 else 's',
            '; '.join(problem['problem'] for problem in graph.problems)))
    return graph


def _subnet_lists(by_subnet):
    return [[h for group in groups.values() for h in group] for groups in by_subnet.values()]


def _first(groups):
    """The first host found in nested {key: {key: [hosts]}} groups (or a list of hosts), or {}."""
    if isinstance(groups, list):
        return groups[0] if groups else {}
    for group in groups.values():
        found = _first(group)
        if found:
            return found
    return {}


def _node_text(details, node):
    entry = details.get(node) or {}
    return entry.get('hostname') or entry.get('ip') or entry.get('subnet') or entry.get('hop') or node


def _host_attrs(host, node, status, problem, is_device=None):
    fill, border = STATUS_COLOURS[status]
    ip = host.get('ip') or ''
    name = host.get('hostname')
    label = '%s\n%s' % (_short(name), ip) if name else ip
    style = 'rounded,filled' if not problem else 'rounded,filled,dashed'
    # The status, not lastSeen itself: the picture changes when a host changes colour, not on every scan.
    tooltip = '%s%s: %s' % (ip, ' (%s)' % name if name else '', status)
    if is_device:
        tooltip += ' - device %s' % is_device
    return _attrs(id=node, label=label, fillcolor=fill, color=border if not problem else '#c62828', style=style,
                  shape='box3d' if is_device else None, peripheries='2' if host.get('is_gateway') else None,
                  tooltip=tooltip)


def _host_details(host, status, hops, problem, section, subnet, user_of=None):
    return {
        'ssh_user': user_of(host) if user_of else None,
        'kind': 'host',
        'ip': host.get('ip'),
        'hostname': host.get('hostname'),
        'mac': host.get('mac'),
        'last_seen': iso(host.get('last_seen')),
        'status': status,
        'description': host.get('description'),
        'device': host.get('device'),
        'section': section,
        'subnet': subnet,
        'tag': host.get('tag'),
        'gateway': bool(host.get('is_gateway')),
        'jump_path': list(hops),
        'jump_problem': problem,
    }


def _search_text(host):
    fields = ('ip', 'hostname', 'mac', 'description', 'device', 'subnet', 'section', 'tag', 'location')
    return ' '.join(u'%s' % host.get(f) for f in fields if host.get(f)).lower()


def _pack(out, node_ids, width):
    """Rows of hosts, each chained by invisible edges (in LR, a chain is a row); returns the first host of each."""
    invisible = _attrs(style='invis')
    starts = []
    for start in range(0, len(node_ids), width):
        row = node_ids[start:start + width]
        starts.append(row[0])
        for first, second in zip(row, row[1:]):
            out.line('%s -> %s %s;' % (dot_quote(first), dot_quote(second), invisible))
    return starts


def _legend(out, thresholds):
    warning, offline = thresholds
    texts = {
        'alive': 'seen < %s ago' % _duration(warning),
        'warning': 'seen %s - %s ago' % (_duration(warning), _duration(offline)),
        'offline': 'seen > %s ago' % _duration(offline),
        'never': 'never seen',
    }
    out.open('subgraph "cluster_legend"')
    out.line('graph %s;' % _attrs(label='legend', style='rounded', color='#cfd8dc', fontsize='11'))
    for status in STATUSES:
        fill, border = STATUS_COLOURS[status]
        node = 'legend_%s' % status
        out.line('%s %s;' % (dot_quote(node), _attrs(id=node, label='%s: %s' % (status, texts[status]),
                                                     fillcolor=fill, color=border, tooltip=texts[status])))
    shapes = (
        ('legend_device', 'a device\'s own address', {'shape': 'box3d'}),
        ('legend_gateway', 'gateway', {'peripheries': '2'}),
        ('legend_problem', 'no usable jump path', {'style': 'rounded,filled,dashed', 'color': '#c62828'}),
    )
    for node, text, extra in shapes:
        attrs = dict({'id': node, 'label': text, 'fillcolor': '#ffffff', 'color': '#78909c'}, **extra)
        out.line('%s %s;' % (dot_quote(node), _attrs(**attrs)))
    out.line('%s %s;' % (dot_quote('legend_jump'), _attrs(id='legend_jump', label='jump host', shape='plaintext',
                                                          style='', fontcolor=JUMP_EDGE_COLOUR)))
    out.line('%s %s;' % (dot_quote('legend_target'), _attrs(id='legend_target', label='reached through it',
                                                            shape='plaintext', style='', fontcolor=JUMP_EDGE_COLOUR)))
    out.line('"legend_jump" -> "legend_target" %s;' % _attrs(id='legend_edge'))
    # Two rows (in LR a chain is a row): the status colours, then the shapes and the jump edge.
    invisible = _attrs(style='invis')
    for row in (['legend_%s' % status for status in STATUSES], ['legend_device', 'legend_gateway', 'legend_problem',
                                                                'legend_jump']):
        for first, second in zip(row, row[1:]):
            out.line('%s -> %s %s;' % (dot_quote(first), dot_quote(second), invisible))
    out.close()


def _duration(seconds):
    if seconds % 3600 == 0:
        return '%d h' % (seconds // 3600)
    if seconds % 60 == 0:
        return '%d min' % (seconds // 60)
    return '%d s' % seconds
