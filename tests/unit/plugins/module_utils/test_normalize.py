# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Field type normalisation and phpIPAM dates, table-driven."""

import datetime

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import (
    FieldValueError,
    from_phpipam,
    to_ansible,
    to_phpipam,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import (
    TimeZoneError,
    format_phpipam_date,
    get_zone,
    parse_phpipam_date,
)

UTC = datetime.timezone.utc
PLUS2 = datetime.timezone(datetime.timedelta(hours=2))


@pytest.mark.parametrize('field, raw, expected', [
    ('id', 7, 7), ('id', '7', 7), ('mask', '24', 24), ('mask', '', None), ('used', '254', 254),
    ('vrfId', None, None), ('vrfId', 0, 0), ('location', [], None), ('tag', '3', 3), ('PTR', '0', 0),
    ('is_gateway', 1, True), ('is_gateway', '0', False), ('strictMode', '1', True), ('compress', 'No', False),
    ('locked', 'Yes', True), ('pingSubnet', True, True),
    ('lastSeen', '2026-11-25 19:48:44', datetime.datetime(2026, 11, 25, 19, 48, 44, tzinfo=UTC)),
    ('lastSeen', '1970-01-01 00:00:01', None), ('lastSeen', '0000-00-00 00:00:00', None), ('lastSeen', None, None),
    ('description', '', None), ('description', 'x', 'x'), ('custom_asset', '0042', '0042'),
    ('subnet', '127.0.10.0', '127.0.10.0'), ('calculation', {'Number of hosts': '254'}, {'Number of hosts': '254'}),
])
def test_field_values(field, raw, expected):
    assert from_phpipam({field: raw}, UTC) == {field: expected}


@pytest.mark.parametrize('field, raw', [('id', 'abc'), ('is_gateway', 2), ('lastSeen', 'yesterday'), ('mask', 1.5)])
def test_wrong_types_are_named(field, raw):
    with pytest.raises(FieldValueError) as info:
        from_phpipam({field: raw}, UTC)
    assert str(info.value).startswith('field %s: expected' % field)


def test_nested_records_and_lists():
    data = [{'id': '1', 'nameservers': {'id': '2', 'editDate': None}, 'usage': {'freehosts': '247', 'Used_percent': 1.5}}]
    assert from_phpipam(data, UTC) == [{'id': 1, 'nameservers': {'id': 2, 'editDate': None},
                                        'usage': {'freehosts': 247, 'Used_percent': 1.5}}]
    # GET subnets/ embeds the location record in place of its id (seen on phpIPAM 1.8.2).
    assert from_phpipam({'location': {'id': 1, 'name': 'DC one', 'lat': None}}, UTC) == {
        'location': {'id': 1, 'name': 'DC one', 'lat': None}}
    assert from_phpipam('127.0.10.2', UTC) == '127.0.10.2'
    assert from_phpipam([], UTC) == []


def test_writes_use_phpipam_forms():
    when = datetime.datetime(2026, 11, 25, 19, 45, tzinfo=UTC)
    assert to_phpipam({'excludePing': True, 'lastSeen': when, 'tag': 3, 'note': None}, PLUS2) == {
        'excludePing': 1, 'lastSeen': '2026-11-25 21:45:00', 'tag': 3, 'note': None}
    assert to_phpipam({'lastScan': '2026-11-25T19:45:00Z'}, UTC) == {'lastScan': '2026-11-25 19:45:00'}
    assert to_phpipam({'lastScan': '2026-11-25 19:45:00'}, PLUS2) == {'lastScan': '2026-11-25 19:45:00'}


def test_round_trip_through_the_server_zone():
    zone = get_zone('America/New_York')
    seen = parse_phpipam_date('2026-07-01 08:00:00', zone)
    assert seen.astimezone(UTC) == datetime.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert format_phpipam_date(seen, zone) == '2026-07-01 08:00:00'
    assert format_phpipam_date(datetime.datetime(2026, 7, 1, 12, 0), zone) == '2026-07-01 08:00:00'


def test_to_ansible_makes_dates_iso():
    data = {'lastSeen': datetime.datetime(2026, 11, 25, 19, 48, 44, tzinfo=UTC), 'items': [{'d': None}]}
    assert to_ansible(data) == {'lastSeen': '2026-11-25T19:48:44+00:00', 'items': [{'d': None}]}


@pytest.mark.parametrize('name, offset', [('UTC', 0), ('+02:00', 120), ('-0530', -330), ('Europe/Berlin', None)])
def test_zones(name, offset):
    zone = get_zone(name)
    if offset is not None:
        assert datetime.datetime(2026, 1, 1, tzinfo=zone).utcoffset() == datetime.timedelta(minutes=offset)


def test_unknown_zone():
    with pytest.raises(TimeZoneError) as info:
        get_zone('Mars/Olympus_Mons')
    assert 'unknown time zone' in str(info.value)
