# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures and helpers for the SSH path tests: a real jump chain (tests/harness/sshlan.py) recorded in phpIPAM.

Import the fixtures into a test module (``from ssh_helpers import ssh_chain, chain_in_phpipam``):

* ``ssh_chain`` (module scope): an SshLan with jump1 -> jump2 and one target per LAN (target1 behind jump1,
  target2 behind jump1 and jump2).
* ``chain_in_phpipam``: the chain seeded into the freshly reset phpIPAM (section ``SSH chain``, see
  sshlan.seed_phpipam) plus section ``SSH broken`` from ``seed_broken``; returns the ids.
"""

import os
import subprocess
import sys

import pytest

from reservation_helpers import client  # pylint: disable=import-error
from integration_helpers import unavailable  # pylint: disable=import-error

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness')
if HARNESS not in sys.path:
    sys.path.insert(0, HARNESS)

import sshlan  # noqa: E402  pylint: disable=import-error,wrong-import-position

BROKEN_SECTION = 'SSH broken'


def seed_broken(api, lan, section=BROKEN_SECTION):
    """Hosts whose paths cannot be followed, in the chain's spare /24 (nothing answers there): loop-a and loop-b
    name each other as jump host, lost names a jump host phpIPAM does not know, and an unnamed address has none."""
    section_id = int(api.create('sections', {'name': section, 'description': 'sshlan broken paths'}).id)
    network = lan.spare_network
    subnet_id = int(api.create('subnets', {'subnet': str(network.network_address), 'mask': network.prefixlen,
                                           'sectionId': section_id, 'description': 'broken paths',
                                           'custom_ssh_user': 'root'}).id)
    hosts = [('loop-a', 1, 'loop-b'), ('loop-b', 2, 'loop-a'), ('lost', 3, 'bastion.invalid'), (None, 4, None)]
    ids = {}
    for name, number, jump in hosts:
        data = {'ip': str(network.network_address + number), 'subnetId': subnet_id}
        if name:
            data['hostname'] = name
        if jump:
            data['custom_ssh_jump'] = jump
        ids[name or data['ip']] = int(api.create('addresses', data).id)
    return {'section_id': section_id, 'subnet_id': subnet_id, 'addresses': ids}


@pytest.fixture(scope='module')
def ssh_chain():
    ok, reason = sshlan.can_run()
    if not ok:
        unavailable('SSH chains in network namespaces', reason)
    sshlan.cleanup_stale()
    with sshlan.SshLan(levels=2, targets_per_lan=1) as lan:
        yield lan


@pytest.fixture
def chain_in_phpipam(phpipam, connection, ssh_chain):  # pylint: disable=unused-argument,redefined-outer-name
    with client(connection) as api:
        ids = sshlan.seed_phpipam(api, ssh_chain)
        ids['broken'] = seed_broken(api, ssh_chain)
    return ids


def ssh_with_config(config, target, *command, timeout=60):
    """``ssh -F config target command`` (only that file is read), as a user would run it."""
    return subprocess.run(['ssh', '-F', config, target] + list(command), capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
