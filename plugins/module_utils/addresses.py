# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses as data: validation, the fields a playbook sets, what changes, which addresses are free. Pure.

Everything here runs before the first request that writes, so bad input never reaches phpIPAM.
phpIPAM 1.8.2 turns an invalid IP string into ``0.0.0.0`` and answers an address outside its
subnet with a 500, so IPs are checked against the subnet here first. Its IPv6 ``first_free``
hands out the subnet's network address (the subnet-router anycast address); ``free_addresses``
never offers a network or broadcast address of either family.
"""

import ipaddress
import re

from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import is_excluded, parse_exclude

# Option name -> phpIPAM field of an address, for the plain fields a playbook sets.
ADDRESS_FIELDS = (
    ('hostname', 'hostname'),
    ('description', 'description'),
    ('mac', 'mac'),
    ('owner', 'owner'),
    ('note', 'note'),
    ('exclude_ping', 'excludePing'),
    ('is_gateway', 'is_gateway'),
)
FLAG_OPTIONS = frozenset(('exclude_ping', 'is_gateway'))
# phpIPAM's varchar limits for the address columns we write (longer values are an SQL error 500).
FIELD_LIMITS = {'hostname': 255, 'description': 64, 'owner': 128}
# Fields the API refuses to change once an address exists.
IMMUTABLE_FIELDS = frozenset(('ip', 'subnetId'))

_MAC_RE = re.compile(r'^(?:[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}|[0-9a-f]{12})$')


class AddressInputError(ValueError):
    """Input that must not be sent to phpIPAM; the message says which value and why."""


def parse_ip(text, what='ip'):
    """An ``ipaddress`` object from user input; AddressInputError for anything else (no 0.0.0.0 surprises)."""
    try:
        return ipaddress.ip_address(str(text).strip())
    except ValueError:
        raise AddressInputError('%s %r is not an IP address' % (what, text))


def parse_network(text, what='subnet'):
    """An ``ipaddress`` network from a CIDR; host bits set is an error (phpIPAM refuses it too)."""
    text = str(text).strip()
    if '/' not in text:
        raise AddressInputError('%s %r is not a CIDR (address/prefix length)' % (what, text))
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if 'has host bits set' in str(exc):
            network = ipaddress.ip_network(text, strict=False)
            raise AddressInputError('%s %r has host bits set: the network is %s' % (what, text, network))
        raise AddressInputError('%s %r is not a CIDR: %s' % (what, text, exc))


def subnet_network(subnet):
    """The ``ipaddress`` network of a phpIPAM subnet record (None for folders)."""
    if not subnet.get('subnet') or subnet.get('mask') in (None, ''):
        return None
    return ipaddress.ip_network('%s/%s' % (subnet['subnet'], subnet['mask']), strict=False)


def subnet_cidr(subnet):
    network = subnet_network(subnet)
    return str(network) if network else None


def is_reserved_edge(ip, network):
    """True for addresses never handed out: the network address, and the IPv4 broadcast address.

    IPv4 /31 and /32 have neither (RFC 3021). In IPv6 the network address is the subnet-router
    anycast address, which phpIPAM 1.8.2's first_free wrongly hands out.
    """
    if network.version == 4:
        if network.prefixlen >= 31:
            return False
        return ip == network.network_address or ip == network.broadcast_address
    return network.prefixlen < 127 and ip == network.network_address


def check_ip_in_subnet(ip, network, allow_network_address=False):
    """Raise AddressInputError unless ``ip`` can be an address of ``network``."""
    if ip.version != network.version or ip not in network:
        raise AddressInputError('%s is not inside subnet %s' % (ip, network))
    if is_reserved_edge(ip, network) and not (allow_network_address and network.version == 6):
        what = 'network' if ip == network.network_address else 'broadcast'
        raise AddressInputError('%s is the %s address of subnet %s and cannot be an address' % (ip, what, network))


def normalize_mac(value):
    """A MAC as phpIPAM stores it (lower case, colons), from colon, dash, Cisco-dot or bare notation."""
    if value is None or value == '':
        return None
    text = str(value).strip().lower()
    if not _MAC_RE.match(text):
        raise AddressInputError("mac %r is not a MAC address (use 6 hex pairs, e.g. 02:00:5e:10:00:01)" % value)
    digits = re.sub(r'[^0-9a-f]', '', text)
    return ':'.join(digits[i:i + 2] for i in range(0, 12, 2))


def same_ip(a, b):
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return False


def desired_fields(options, tag_id=None, custom_fields=None):
    """phpIPAM fields from module options; options left unset (None) are not managed."""
    fields = {}
    for option, field in ADDRESS_FIELDS:
        value = options.get(option)
        if value is None:
            continue
        if option == 'mac':
            value = normalize_mac(value)
        elif option in FLAG_OPTIONS:
            value = bool(value)
        else:
            value = str(value)
            limit = FIELD_LIMITS.get(field)
            if limit and len(value) > limit:
                raise AddressInputError('%s is %d characters long; phpIPAM stores at most %d' % (option, len(value), limit))
        fields[field] = value
    if tag_id is not None:
        fields['tag'] = tag_id
    for name, value in (custom_fields or {}).items():
        fields[name] = None if value is None else str(value)
    return fields


def _comparable(field, value):
    if value is None or value == '':
        return None
    if field in ('excludePing', 'is_gateway'):
        return bool(value)
    if field == 'tag':
        return int(value)
    if field == 'mac':
        return str(value).lower()
    return str(value)


def changed_fields(current, desired):
    """The fields of ``desired`` whose value differs from ``current`` (normalised), as (payload, before, after)."""
    payload, before, after = {}, {}, {}
    for field, value in desired.items():
        if _comparable(field, current.get(field)) != _comparable(field, value):
            payload[field] = '' if value is None else value
            before[field] = current.get(field)
            after[field] = value
    return payload, before, after


def update_payload(current, changes):
    """The PATCH body for ``changes``, always with ``tag``: phpIPAM 1.8.2 resets a PATCH without it to Used."""
    payload = dict(changes)
    if 'tag' not in payload:
        payload['tag'] = current.get('tag') or 2
    return payload


def taken_ips(addresses):
    """The set of ``ipaddress`` objects held by phpIPAM address records."""
    taken = set()
    for record in addresses or ():
        try:
            taken.add(ipaddress.ip_address(str(record.get('ip'))))
        except ValueError:
            continue
    return taken


def free_addresses(network, taken, exclude_ranges=(), limit=None):
    """Yield free addresses of ``network`` in order: never the network or broadcast address, nor ``taken``
    or excluded ones. Lazy, so an IPv6 /64 costs only as much as is asked for."""
    found = 0
    first = int(network.network_address)
    last = int(network.broadcast_address)
    cls = ipaddress.IPv4Address if network.version == 4 else ipaddress.IPv6Address
    value = first
    while value <= last:
        if limit is not None and found >= limit:
            return
        ip = cls(value)
        value += 1
        if is_reserved_edge(ip, network) or ip in taken or is_excluded(ip, exclude_ranges):
            continue
        found += 1
        yield ip


def count_free(network, taken, exclude_ranges=(), cap=None):
    """How many addresses ``free_addresses`` would yield; with exclusions, counting stops at ``cap``."""
    if not exclude_ranges:
        edges = sum(1 for ip in set((network.network_address, network.broadcast_address)) if is_reserved_edge(ip, network))
        used = sum(1 for ip in taken if ip.version == network.version and ip in network and not is_reserved_edge(ip, network))
        free = max(0, network.num_addresses - edges - used)
        return free if cap is None else min(free, cap)
    return sum(1 for _ip in free_addresses(network, taken, exclude_ranges, limit=cap if cap is not None else 1000000))


def parse_excludes(entries):
    """``parse_exclude`` with the collection's input error."""
    try:
        return parse_exclude(entries)
    except ValueError as exc:
        raise AddressInputError('exclude: %s' % exc)
