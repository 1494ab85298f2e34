# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address validation, field comparison, free addresses and metadata markers, table-driven."""

import ipaddress

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    changed_fields,
    check_ip_in_subnet,
    count_free,
    desired_fields,
    free_addresses,
    normalize_mac,
    parse_excludes,
    parse_ip,
    parse_network,
    update_payload,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.metadata import join_marked, split_marked

N = ipaddress.ip_network
A = ipaddress.ip_address


@pytest.mark.parametrize('raw, expected', [
    ('02:00:5E:10:00:0A', '02:00:5e:10:00:0a'), ('02-00-5e-10-00-0a', '02:00:5e:10:00:0a'),
    ('0200.5e10.000a', '02:00:5e:10:00:0a'), ('02005e10000a', '02:00:5e:10:00:0a'), ('', None), (None, None),
])
def test_mac_notations(raw, expected):
    assert normalize_mac(raw) == expected


@pytest.mark.parametrize('raw', ['02:00:5e:zz:00:0a', '02:00:5e:10:00', '02:00-5e:10:00:0a', 'not a mac', '02005e10000a0'])
def test_bad_macs(raw):
    with pytest.raises(AddressInputError, match='is not a MAC address'):
        normalize_mac(raw)


@pytest.mark.parametrize('ip, net, problem', [
    ('198.18.0.0', '198.18.0.0/27', 'network address'),
    ('198.18.0.31', '198.18.0.0/27', 'broadcast address'),
    ('198.18.0.32', '198.18.0.0/27', 'not inside'),
    ('fd00:18::', 'fd00:18::/64', 'network address'),
    ('fd00:18::1', '198.18.0.0/27', 'not inside'),
])
def test_ip_refused_for_subnet(ip, net, problem):
    with pytest.raises(AddressInputError, match=problem):
        check_ip_in_subnet(A(ip), N(net))


@pytest.mark.parametrize('ip, net', [('198.18.0.1', '198.18.0.0/27'), ('198.18.0.0', '198.18.0.0/31'),
                                     ('198.18.0.1', '198.18.0.1/32'), ('fd00:18::ffff', 'fd00:18::/64')])
def test_ip_accepted_for_subnet(ip, net):
    check_ip_in_subnet(A(ip), N(net))


def test_ipv6_network_address_allowed_for_explicit_address():
    check_ip_in_subnet(A('fd00:18::'), N('fd00:18::/64'), allow_network_address=True)


@pytest.mark.parametrize('text, message', [
    ('198.18.1.300', 'is not an IP address'), ('', 'is not an IP address'), ('198.18.1.0/24', 'is not an IP address'),
])
def test_parse_ip_never_guesses(text, message):
    with pytest.raises(AddressInputError, match=message):
        parse_ip(text)


@pytest.mark.parametrize('text, message', [
    ('198.18.3.1/27', 'host bits set: the network is 198.18.3.0/27'), ('198.18.3', 'not a CIDR'),
    ('198.18.3.0/33', 'not a CIDR'),
])
def test_parse_network(text, message):
    with pytest.raises(AddressInputError, match=message):
        parse_network(text)


@pytest.mark.parametrize('net, taken, exclude, limit, expected', [
    ('198.18.0.0/29', [], [], None, ['198.18.0.%d' % n for n in range(1, 7)]),
    ('198.18.0.0/29', ['198.18.0.1', '198.18.0.3'], ['198.18.0.5-198.18.0.6'], None, ['198.18.0.2', '198.18.0.4']),
    ('198.18.0.0/31', [], [], None, ['198.18.0.0', '198.18.0.1']),
    ('fd00:18::/64', ['fd00:18::1'], [], 3, ['fd00:18::2', 'fd00:18::3', 'fd00:18::4']),
    ('198.18.0.0/30', ['198.18.0.1', '198.18.0.2'], [], None, []),
])
def test_free_addresses(net, taken, exclude, limit, expected):
    got = free_addresses(N(net), set(A(t) for t in taken), parse_excludes(exclude), limit=limit)
    assert [str(ip) for ip in got] == expected


def test_count_free_matches_free_addresses_and_scales():
    taken = {A('198.18.0.1'), A('198.18.0.40')}
    assert count_free(N('198.18.0.0/27'), taken) == 29
    assert count_free(N('198.18.0.0/27'), taken, parse_excludes(['198.18.0.2'])) == 28
    assert count_free(N('fd00:18::/64'), {A('fd00:18::1')}) == 2 ** 64 - 2


def test_changed_fields_compares_normalised_values():
    current = {'hostname': 'a', 'description': None, 'mac': '02:00:5e:10:00:0a', 'tag': 3, 'excludePing': 0,
               'custom_asset': '42'}
    desired = desired_fields({'hostname': 'a', 'description': '', 'mac': '02-00-5E-10-00-0A', 'exclude_ping': False},
                             tag_id=3, custom_fields={'custom_asset': 42})
    assert changed_fields(current, desired) == ({}, {}, {})
    payload, before, after = changed_fields(current, dict(desired, description='x', excludePing=True))
    assert payload == {'description': 'x', 'excludePing': True}
    assert before == {'description': None, 'excludePing': 0}


def test_update_payload_always_carries_the_tag():
    # phpIPAM 1.8.2 resets the tag to Used (2) on a PATCH without it (patch_tag_reset transcript).
    assert update_payload({'tag': 3}, {'description': 'x'}) == {'description': 'x', 'tag': 3}
    assert update_payload({'tag': 3}, {'tag': 1}) == {'tag': 1}


def test_desired_fields_refuses_too_long_values():
    with pytest.raises(AddressInputError, match='description is 65 characters long'):
        desired_fields({'description': 'x' * 65})


@pytest.mark.parametrize('text, payload, stored', [
    (None, {'b': 1, 'a': [1]}, '[ipamkit:{"a":[1],"b":1}]'),
    ('my note', {'reservation': 'r'}, 'my note [ipamkit:{"reservation":"r"}]'),
    ('my note', None, 'my note'),
    ('ünïcode', {'k': 'ä'}, 'ünïcode [ipamkit:{"k":"ä"}]'),
])
def test_metadata_marker_round_trips(text, payload, stored):
    assert join_marked(text, payload) == stored
    assert split_marked(stored) == (text, payload)


@pytest.mark.parametrize('value', ['plain [ipamkit:not json]', '[ipamkit:[1,2]]', 'no marker', None])
def test_foreign_text_is_not_metadata(value):
    assert split_marked(value)[1] is None
