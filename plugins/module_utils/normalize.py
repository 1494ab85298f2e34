# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place where phpIPAM field values change type.

phpIPAM 1.8.2 returns most numeric columns as JSON ints, but ``mask``, ``strictMode``,
usage counts and the id of a create reply as strings, flags as 0/1 (or "Yes"/"No"
for tags), and with ``Api-Stringify-Results`` every scalar as a string. Empty values
come back as ``null``, ``""`` or ``[]``. ``from_phpipam`` turns a record into plain
Python (int, bool, aware datetime, None); ``to_phpipam`` turns values back into what
phpIPAM accepts on writes; ``to_ansible`` makes a normalised value JSON-friendly.
"""

import datetime

from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import (
    format_phpipam_date,
    looks_like_date,
    parse_phpipam_date,
    to_iso,
)

# Columns holding integers (ids, foreign keys, counters), whatever JSON type they arrive in.
INT_FIELDS = frozenset((
    'id', 'subnetId', 'sectionId', 'masterSubnetId', 'masterSection', 'vlanId', 'vrfId', 'nameserverId',
    'scanAgent', 'tag', 'state', 'deviceId', 'switch', 'PTR', 'linked_subnet', 'device', 'customer_id',
    'threshold', 'number', 'domainId', 'gatewayId', 'mask', 'used', 'maxhosts', 'freehosts',
    'app_permissions', 'location',
))

# Boolean columns: 0/1, "0"/"1", true/false or "Yes"/"No".
FLAG_FIELDS = frozenset((
    'is_gateway', 'excludePing', 'PTRignore', 'pingSubnet', 'discoverSubnet', 'resolveDNS', 'DNSrecursive',
    'DNSrecords', 'isFolder', 'isFull', 'isPool', 'allowRequests', 'showName', 'showSubnet', 'showVLAN',
    'showVRF', 'showSupernetOnly', 'strictMode', 'showtag', 'updateTag', 'compress', 'locked', 'app_lock',
))

# Date/time columns, as ``YYYY-MM-DD HH:MM:SS`` wall-clock time in the server's zone.
DATE_FIELDS = frozenset((
    'lastSeen', 'editDate', 'lastScan', 'lastDiscovery', 'last_access', 'expires', 'token_valid_until',
    'app_last_access', 'lastLogin', 'lastActivity',
))

# Nested objects phpIPAM embeds in records; normalised with the same rules. Anything
# else nested (``calculation`` with its human-readable keys) is kept verbatim.
NESTED_RECORDS = frozenset(('nameservers', 'gateway', 'usage'))

_TRUE_WORDS = frozenset(('1', 'true', 'yes', 'on'))
_FALSE_WORDS = frozenset(('0', 'false', 'no', 'off', ''))


class FieldValueError(ValueError):
    """A field value phpIPAM sent does not have the type its column has."""

    def __init__(self, field, value, expected):
        super(FieldValueError, self).__init__('field %s: expected %s, got %r' % (field, expected, value))
        self.field = field
        self.value = value


def _to_int(field, value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip('-').isdigit():
            return int(text)
    raise FieldValueError(field, value, 'an integer')


def parse_flag(value):
    """True/False from a bool, 0/1, or a word such as yes/no, true/false, on/off; ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
        return value.strip().lower() in _TRUE_WORDS
    raise ValueError('not a flag: %r' % (value,))


def _to_flag(field, value):
    try:
        return parse_flag(value)
    except ValueError:
        raise FieldValueError(field, value, 'a 0/1 flag')


def is_empty(value):
    return value is None or value == '' or value == [] or value == {}


def normalize_value(field, value, zone):
    """Normalise one value of a phpIPAM record field."""
    if is_empty(value):
        return None
    if isinstance(value, dict) and (field in NESTED_RECORDS or field in INT_FIELDS):
        # subnets/ embeds the whole location record where other answers give its id.
        return from_phpipam(value, zone)
    if field in INT_FIELDS:
        return _to_int(field, value)
    if field in FLAG_FIELDS:
        return _to_flag(field, value)
    if field in DATE_FIELDS:
        try:
            return parse_phpipam_date(value, zone)
        except ValueError:
            raise FieldValueError(field, value, 'a date YYYY-MM-DD HH:MM:SS')
    return value


def from_phpipam(data, zone):
    """Normalise an API ``data`` payload: a record, a list of records, or a scalar."""
    if isinstance(data, list):
        return [from_phpipam(item, zone) for item in data]
    if isinstance(data, dict):
        return dict((key, normalize_value(key, value, zone)) for key, value in data.items())
    return data


def to_phpipam(data, zone):
    """Turn normalised values into what phpIPAM accepts on POST/PATCH.

    Booleans become 0/1, datetimes become ``YYYY-MM-DD HH:MM:SS`` in the server zone,
    and None stays null. Keys are phpIPAM's own field names and are kept as they are.
    """
    out = {}
    for key, value in data.items():
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, datetime.datetime):
            value = format_phpipam_date(value, zone)
        elif key in DATE_FIELDS and isinstance(value, str) and value and not looks_like_date(value):
            # ISO 8601 from a playbook: phpIPAM would refuse it with an SQL error.
            try:
                value = format_phpipam_date(value, zone)
            except ValueError:
                raise FieldValueError(key, value, 'a date (ISO 8601 or YYYY-MM-DD HH:MM:SS)')
        out[key] = value
    return out


def to_ansible(data):
    """Make normalised data safe to hand to Ansible: datetimes become ISO 8601 strings."""
    if isinstance(data, list):
        return [to_ansible(item) for item in data]
    if isinstance(data, dict):
        return dict((key, to_ansible(value)) for key, value in data.items())
    if isinstance(data, datetime.datetime):
        return to_iso(data)
    return data
