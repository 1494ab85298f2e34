# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phpIPAM's picture of the network, loaded once: the one loader behind the inventory, ssh_config and the map.

``load_network(client)`` sends one GET per collection (sections, subnets, addresses, VLANs, devices,
address tags, locations; folders only when a subnet sits in one), never one per host or subnet, and
``build_network`` joins the answers into plain dicts:

* ``NetworkData.sections``, ``subnets``, ``vlans``, ``devices``, ``tags``, ``locations``: phpIPAM's records by
  id, normalised by the client. Subnets (folders included, with ``cidr`` None) carry ``cidr`` and their
  ``location`` as an id.
* ``NetworkData.hosts``: one dict per address, with the keys of ``HOST_KEYS``.

``select_hosts`` filters hosts by section, subnet, tag, custom field, hostname and lastSeen. Everything but
``fetch_collections`` is pure, so a cached copy of the collections (``cacheable_collections``) rebuilds the
same picture without phpIPAM.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamNotFoundError, PhpipamServerError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import parse_iso_datetime, utcnow

# Collection name -> API path. One GET each, sent in parallel.
COLLECTIONS = (
    ('sections', 'sections'),
    ('subnets', 'subnets'),
    ('addresses', 'addresses'),
    ('vlans', 'vlans'),
    ('devices', 'devices'),
    ('tags', 'tools/tags'),
    ('locations', 'tools/locations'),
)
# phpIPAM's subnets/ answer leaves folders out; they are read only when a subnet's master is one.
FOLDERS_PATH = 'folders'

# phpIPAM 1.8.2 answers an empty table with an error: a 404 on these roots ("No vlans configured",
# "No devices configured", "No objects found", "No folders found"), a 500 on subnets/ and addresses/.
_EMPTY_TABLE_500 = frozenset(('Unable to read addresses', 'Unable to read subnets'))

CUSTOM_PREFIX = 'custom_'

HOST_KEYS = (
    'id', 'ip', 'hostname', 'description', 'mac', 'last_seen', 'tag', 'tag_id', 'subnet_id', 'subnet',
    'section_id', 'section', 'vlan', 'vlan_id', 'vlan_name', 'device_id', 'device', 'location', 'location_id',
    'note', 'is_gateway', 'custom',
)


class NetworkDataError(ValueError):
    """A filter value that cannot select anything as given: the message names it."""


class NetworkData(object):
    """Sections, subnets, VLANs, devices, tags and locations by id, and the hosts (addresses) joined to them."""

    def __init__(self, sections, subnets, vlans, devices, tags, locations, hosts):
        self.sections = sections
        self.subnets = subnets
        self.vlans = vlans
        self.devices = devices
        self.tags = tags
        self.locations = locations
        self.hosts = hosts

    def subnet_chain(self, subnet_id):
        """The subnet and its masters (folders included), nearest first; stops at a loop or an unknown id."""
        chain, seen = [], set()
        while subnet_id and subnet_id not in seen and subnet_id in self.subnets:
            seen.add(subnet_id)
            subnet = self.subnets[subnet_id]
            chain.append(subnet)
            subnet_id = subnet.get('masterSubnetId')
        return chain

    def inherited(self, host, field):
        """The host's own custom field value if set, else the nearest subnet's up the masterSubnetId chain, else None.

        ``field`` is the custom field's name, with or without the ``custom_`` prefix.
        """
        field = custom_field_name(field)
        value = host.get('custom', {}).get(field)
        if not _is_blank(value):
            return value
        for subnet in self.subnet_chain(host.get('subnet_id')):
            value = subnet.get(field)
            if not _is_blank(value):
                return _clean(value)
        return None


def custom_field_name(field):
    field = str(field).strip()
    return field if field.startswith(CUSTOM_PREFIX) else CUSTOM_PREFIX + field


def _is_blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _clean(value):
    return value.strip() if isinstance(value, str) else value


def _as_list(data):
    if data is None:
        return []
    return data if isinstance(data, list) else [data]


def _read_collection(client, path):
    """One GET of a collection root; phpIPAM's ways of saying "this table is empty" become []."""
    try:
        return _as_list(client.get(path))
    except PhpipamNotFoundError:
        return []
    except PhpipamServerError as exc:
        if exc.status == 500 and (exc.api_message or '').strip() in _EMPTY_TABLE_500:
            return []
        raise


def fetch_collections(client):
    """{collection name: list of records}: one GET per collection, in parallel, plus folders when needed."""
    names = [name for name, _path in COLLECTIONS]
    paths = [path for _name, path in COLLECTIONS]
    workers = max(1, min(getattr(client, 'max_workers', 1), len(paths)))
    if workers == 1:
        answers = [_read_collection(client, path) for path in paths]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(lambda path: _read_collection(client, path), paths))
    collections = dict(zip(names, answers))
    known = set(s.get('id') for s in collections['subnets'])
    if any(s.get('masterSubnetId') and s['masterSubnetId'] not in known for s in collections['subnets']):
        collections['folders'] = _read_collection(client, FOLDERS_PATH)
    else:
        collections['folders'] = []
    return collections


def cacheable_collections(collections):
    """The collections as JSON-safe data (dates as ISO 8601), for an inventory cache; build_network reads it back."""
    return to_ansible(collections)


def load_network(client):
    """Read phpIPAM's network picture with one GET per collection and join it (see the module docstring)."""
    return build_network(fetch_collections(client))


def _ref_id(value):
    """A foreign key as an int: phpIPAM sends ids, 0 for "none", and embeds whole records (subnet locations)."""
    if isinstance(value, dict):
        value = value.get('id')
    if isinstance(value, bool) or value in (None, '', 0, '0'):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _cidr(subnet):
    if subnet.get('isFolder') or subnet.get('mask') is None or not subnet.get('subnet'):
        return None
    try:
        return str(ipaddress.ip_network('%s/%s' % (subnet['subnet'], subnet['mask']), strict=False))
    except ValueError:
        return None


def _canonical_ip(text):
    try:
        return str(ipaddress.ip_address(str(text).strip()))
    except ValueError:
        return str(text).strip() if text is not None else None


def _as_datetime(value):
    """lastSeen as the client normalised it (aware datetime, None) or as a cache stored it (ISO 8601)."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    try:
        return parse_iso_datetime(str(value))
    except ValueError:
        return None


def _text(value):
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _by_id(records):
    out = {}
    for record in records or []:
        record_id = _ref_id(record.get('id'))
        if record_id is not None:
            out[record_id] = record
    return out


def build_network(collections):
    """Join the collections of ``fetch_collections`` (or a cached copy of them) into a NetworkData."""
    sections = _by_id(collections.get('sections'))
    vlans = _by_id(collections.get('vlans'))
    devices = _by_id(collections.get('devices'))
    tags = _by_id(collections.get('tags'))
    locations = _by_id(collections.get('locations'))

    subnets = {}
    for record in list(collections.get('folders') or []) + list(collections.get('subnets') or []):
        subnet = dict(record)
        subnet_id = _ref_id(subnet.get('id'))
        if subnet_id is None:
            continue
        location = subnet.get('location')
        if isinstance(location, dict) and _ref_id(location) is not None:
            # subnets/ embeds the location record; keep the id like every other foreign key.
            locations.setdefault(_ref_id(location), location)
        subnet['location'] = _ref_id(location)
        subnet['masterSubnetId'] = _ref_id(subnet.get('masterSubnetId'))
        subnet['cidr'] = _cidr(subnet)
        subnets[subnet_id] = subnet

    data = NetworkData(sections, subnets, vlans, devices, tags, locations, [])
    data.hosts = [_host(address, data) for address in collections.get('addresses') or []
                  if _ref_id(address.get('id')) is not None]
    return data


def _host(address, data):
    subnet_id = _ref_id(address.get('subnetId'))
    subnet = data.subnets.get(subnet_id)
    section_id = _ref_id(subnet.get('sectionId')) if subnet else None
    section = data.sections.get(section_id)
    vlan_id = _ref_id(subnet.get('vlanId')) if subnet else None
    vlan = data.vlans.get(vlan_id)
    device_id = _ref_id(address.get('deviceId'))
    device = data.devices.get(device_id)
    tag_id = _ref_id(address.get('tag'))
    tag = data.tags.get(tag_id)
    # The address's own location, else its device's, else its subnet's.
    location_id = (_ref_id(address.get('location')) or (_ref_id(device.get('location')) if device else None)
                   or (subnet.get('location') if subnet else None))
    location = data.locations.get(location_id)
    custom = {}
    for key, value in address.items():
        if key.startswith(CUSTOM_PREFIX) and not _is_blank(value):
            custom[key] = _clean(value)
    return {
        'id': _ref_id(address.get('id')),
        'ip': _canonical_ip(address.get('ip')),
        'hostname': _text(address.get('hostname')),
        'description': _text(address.get('description')),
        'mac': _text(address.get('mac')),
        'last_seen': _as_datetime(address.get('lastSeen')),
        'tag': _text(tag.get('type')) if tag else None,
        'tag_id': tag_id,
        'subnet_id': subnet_id,
        'subnet': subnet.get('cidr') if subnet else None,
        'section_id': section_id,
        'section': _text(section.get('name')) if section else None,
        'vlan': vlan.get('number') if vlan else None,
        'vlan_id': vlan_id if vlan else None,
        'vlan_name': _text(vlan.get('name')) if vlan else None,
        'device_id': device_id,
        'device': _text(device.get('hostname')) if device else None,
        'location': _text(location.get('name')) if location else None,
        'location_id': location_id if location else None,
        'note': _text(address.get('note')),
        'is_gateway': bool(address.get('is_gateway')),
        'custom': custom,
    }


# ------------------------------------------------------------------ selection

def _id_or_none(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else None


def _subnet_filter(value):
    """An id (int) or a network (ipaddress network) from a subnet filter value."""
    subnet_id = _id_or_none(value)
    if subnet_id is not None:
        return subnet_id
    text = str(value).strip()
    if '/' not in text:
        raise NetworkDataError('subnet filter %r is neither a subnet id nor a CIDR such as 198.18.10.0/24' % (value,))
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise NetworkDataError('subnet filter %r is neither a subnet id nor a CIDR such as 198.18.10.0/24' % (value,))


def _in_network(host, network):
    try:
        address = ipaddress.ip_address(host.get('ip') or '')
    except ValueError:
        return False
    return address.version == network.version and address in network


def _matches_names_or_ids(name, item_id, wanted):
    for value in wanted:
        wanted_id = _id_or_none(value)
        if wanted_id is not None and wanted_id == item_id:
            return True
        if name is not None and str(value).strip().lower() == name.lower():
            return True
    return False


def select_hosts(data, sections=None, subnets=None, tags=None, custom=None, hostname_required=False,
                 seen_within=None, now=None):
    """The hosts of ``data`` that pass every given filter (an empty or None filter passes all), in order.

    * ``sections``: names (case-insensitive) or ids.
    * ``subnets``: ids, which also select the subnets nested below them, or CIDRs, which select the hosts whose
      IP lies inside (any section).
    * ``tags``: address tag names such as ``Used`` (case-insensitive) or tag ids.
    * ``custom``: ``{field: value or list of values}``; a host matches with its own value or, when it has none,
      the nearest subnet's (``NetworkData.inherited``), compared as text.
    * ``hostname_required``: only hosts with a hostname.
    * ``seen_within``: a timedelta; only hosts whose lastSeen is at most that long before ``now``.
    """
    subnet_ids, networks = set(), []
    for value in subnets or []:
        parsed = _subnet_filter(value)
        if isinstance(parsed, int):
            subnet_ids.add(parsed)
        else:
            networks.append(parsed)
    if seen_within is not None:
        if not isinstance(seen_within, datetime.timedelta):
            raise NetworkDataError('seen_within must be a timedelta, not %r' % (seen_within,))
        now = now or utcnow()
        oldest = now - seen_within
    wanted_custom = []
    for field, values in (custom or {}).items():
        if not isinstance(values, (list, tuple, set)):
            values = [values]
        wanted_custom.append((custom_field_name(field), set(str(v).strip() for v in values if v is not None)))

    selected = []
    for host in data.hosts:
        if sections and not _matches_names_or_ids(host['section'], host['section_id'], sections):
            continue
        if subnets:
            in_subnet = bool(subnet_ids) and any(s.get('id') in subnet_ids for s in data.subnet_chain(host['subnet_id']))
            if not in_subnet and not any(_in_network(host, network) for network in networks):
                continue
        if tags and not _matches_names_or_ids(host['tag'], host['tag_id'], tags):
            continue
        if hostname_required and not host['hostname']:
            continue
        if seen_within is not None and (host['last_seen'] is None or host['last_seen'] < oldest):
            continue
        if any(_text(data.inherited(host, field)) not in values for field, values in wanted_custom):
            continue
        selected.append(host)
    return selected
