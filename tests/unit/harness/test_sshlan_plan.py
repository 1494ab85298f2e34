# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/harness/sshlan.py without root: the addresses, MACs and paths a chain is planned with."""

import ipaddress
import os
import sys

import pytest

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'harness')
if HARNESS not in sys.path:
    sys.path.insert(0, HARNESS)

import sshlan  # noqa: E402  pylint: disable=import-error,wrong-import-position

BLOCK = ipaddress.ip_network('198.18.164.0/22')


def planned(levels, targets):
    lan = sshlan.SshLan(levels=levels, targets_per_lan=targets, state_dir='/tmp/ipamkit-sshlan-unit')
    lan._plan(BLOCK)  # pylint: disable=protected-access
    return lan


def test_two_levels():
    lan = planned(2, 2)
    assert dict((k, str(v)) for k, v in lan.networks.items()) == {
        'link': '198.18.164.0/30', 'lan1': '198.18.165.0/24', 'lan2': '198.18.166.0/24', 'spare': '198.18.167.0/24'}
    assert lan.controller_ip == '198.18.164.1'
    rows = [(h.name, h.role, h.addresses, h.path, h.behind) for h in lan.hosts.values()]
    assert rows == [
        ('jump1', 'jump', ['198.18.164.2', '198.18.165.1'], (), 'lan1'),
        ('jump2', 'jump', ['198.18.165.2', '198.18.166.1'], ('jump1',), 'lan2'),
        ('target1', 'target', ['198.18.165.10'], ('jump1',), None),
        ('target2', 'target', ['198.18.165.11'], ('jump1',), None),
        ('target3', 'target', ['198.18.166.10'], ('jump1', 'jump2'), None),
        ('target4', 'target', ['198.18.166.11'], ('jump1', 'jump2'), None),
    ]
    assert lan.proxyjump('target3') == 'root@198.18.164.2,root@198.18.165.2'
    assert lan.proxyjump('jump1') == ''
    # the front address of a multi-homed jump host is its lower one (phpIPAM inventories prefer the lowest)
    assert all(ipaddress.ip_address(h.ip) < ipaddress.ip_address(h.addresses[1]) for h in lan.jump_hosts)
    macs = [m for h in lan.hosts.values() for m in h.macs]
    assert len(macs) == len(set(macs)) == 8
    assert all(m.startswith('02:5e:a4:') for m in macs)  # locally administered, unicast, the block's octet
    addresses = [ipaddress.ip_address(a) for h in lan.hosts.values() for a in h.addresses]
    assert all(a in BLOCK for a in addresses) and len(set(addresses)) == len(addresses)
    assert not any(a in lan.networks['spare'] for a in addresses)
    assert len(set(lan.namespaces)) == 8 and all(ns.startswith('iks-%s-' % lan.tag) for ns in lan.namespaces)
    assert all(sshlan.NS_RE.match(ns).group(1) == lan.tag for ns in lan.namespaces)


def test_one_level():
    lan = planned(1, 1)
    assert sorted(lan.hosts) == ['jump1', 'target1'] and 'lan2' not in lan.networks
    assert lan.hosts['target1'].path == ('jump1',)


@pytest.mark.parametrize('levels, targets, reason', [(3, 1, 'levels'), (0, 1, 'levels'), (2, 0, 'targets_per_lan'),
                                                     (2, 51, 'targets_per_lan')])
def test_bad_sizes(levels, targets, reason):
    with pytest.raises(sshlan.SshLanError, match=reason):
        sshlan.SshLan(levels=levels, targets_per_lan=targets)


def test_unknown_host_is_named():
    with pytest.raises(sshlan.SshLanError, match="no host 'web'"):
        planned(1, 1).host('web')
