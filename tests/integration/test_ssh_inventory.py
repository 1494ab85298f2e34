# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin's ProxyJump over a real two-hop SSH chain: ``ansible -m ping`` reaches the last host.

The chain (tests/harness/sshlan.py) is recorded in the real phpIPAM as docs/ssh-paths.md describes; the root
namespace has no route to the LANs behind jump1, so a ping that works went through the computed jump hosts,
and the sshd logs show which address each connection came from.
"""

import json
import os
import subprocess
import sys

import pytest

from ssh_helpers import chain_in_phpipam, ssh_chain  # noqa: F401  pylint: disable=import-error,unused-import

pytestmark = [pytest.mark.integration, pytest.mark.netns]

BIN = os.path.dirname(sys.executable)


def write_inventory(path, connection, **options):
    config = {'plugin': 'ipamkit.phpipam.phpipam', 'url': connection['url'], 'app_id': connection['app_id'],
              'token': connection['token'], 'ca_path': connection['ca_path']}
    config.update(options)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(config, handle)  # JSON is YAML
    return path


def unwrapped(value):
    """ansible-inventory --list marks phpIPAM's strings as unsafe ({'__ansible_unsafe': text}): the text."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, unwrapped(v)) for k, v in value.items())
    if isinstance(value, list):
        return [unwrapped(v) for v in value]
    return value


def ansible(chain, tmp_path, *args, timeout=180):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    env.update(chain.ansible_env(remote_tmp=str(tmp_path / 'remote-tmp')))
    env.update({'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'local-tmp'),
                'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'True'})
    return subprocess.run([os.path.join(BIN, args[0])] + list(args[1:]), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_ansible_ping_reaches_the_last_host_through_the_computed_proxyjump(connection, ssh_chain, chain_in_phpipam, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name,unused-argument
    inventory = write_inventory(str(tmp_path / 'chain.phpipam.yml'), connection, sections=['SSH chain'],
                                hostname_required=True)
    jump1, jump2, target2 = ssh_chain.hosts['jump1'], ssh_chain.hosts['jump2'], ssh_chain.hosts['target2']
    hop1, hop2 = 'root@%s' % jump1.ip, 'root@%s' % jump2.ip

    listed = ansible(ssh_chain, tmp_path, 'ansible-inventory', '-i', inventory, '--list')
    assert listed.returncode == 0, listed.stderr
    hostvars = unwrapped(json.loads(listed.stdout)['_meta']['hostvars'])
    assert sorted(hostvars) == ['jump1', 'jump2', 'target1', 'target2']
    assert hostvars['target2']['ansible_host'] == target2.ip
    assert hostvars['target2']['ansible_ssh_common_args'] == '-o ProxyJump=%s,%s' % (hop1, hop2)
    assert hostvars['target1']['ansible_ssh_common_args'] == '-o ProxyJump=%s' % hop1
    assert hostvars['jump2']['ansible_host'] == jump2.ip
    assert 'ansible_ssh_common_args' not in hostvars['jump1']
    assert {v['ansible_user'] for v in hostvars.values()} == {'root'}

    ping = ansible(ssh_chain, tmp_path, 'ansible', '-i', inventory, 'target2', '-m', 'ansible.builtin.ping')
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert 'target2 | SUCCESS' in ping.stdout and '"ping": "pong"' in ping.stdout
    # target2's sshd saw the connection come from jump2's LAN address, jump2's from jump1's.
    assert 'Accepted publickey for root from %s ' % jump2.interfaces[1].ip in ssh_chain.sshd_log('target2')
    assert 'Accepted publickey for root from %s ' % jump1.interfaces[1].ip in ssh_chain.sshd_log('jump2')

    every = ansible(ssh_chain, tmp_path, 'ansible', '-i', inventory, 'all', '-m', 'ansible.builtin.command',
                    '-a', 'hostname')
    assert every.returncode == 0, every.stdout + every.stderr
    for name in ('jump1', 'jump2', 'target1', 'target2'):
        assert '%s | CHANGED | rc=0 >>\n%s\n' % (name, name) in every.stdout

    # Without the jump hosts there is no way: the controller has no route to target2's LAN.
    direct = ansible(ssh_chain, tmp_path, 'ansible', '-i', inventory, 'target2', '-m', 'ansible.builtin.ping',
                     '-e', 'ansible_ssh_common_args=""')
    assert direct.returncode != 0
    assert 'target2 | UNREACHABLE' in direct.stdout
    assert 'unreachable' in direct.stdout.lower().split('target2 | unreachable', 1)[1] or 'no route' in direct.stdout.lower()
    plain = ssh_chain.ssh('target2', 'true', direct=True)
    assert plain.returncode == 255 and 'no route' in plain.stderr.lower()


def test_loops_and_missing_jump_hosts_are_reported_not_followed(connection, ssh_chain, chain_in_phpipam, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name,unused-argument
    inventory = write_inventory(str(tmp_path / 'broken.phpipam.yml'), connection, sections=['SSH broken'])
    listed = ansible(ssh_chain, tmp_path, 'ansible-inventory', '-i', inventory, '--list', timeout=60)
    assert listed.returncode == 0, listed.stderr
    hostvars = unwrapped(json.loads(listed.stdout)['_meta']['hostvars'])
    assert sorted(hostvars) == sorted(['loop-a', 'loop-b', 'lost', str(ssh_chain.spare_network.network_address + 4)])
    assert not any('ansible_ssh_common_args' in v for v in hostvars.values())
    warnings = ' '.join(listed.stderr.split())
    assert 'jump loop: loop-a' in warnings and 'jump loop: loop-b' in warnings
    assert "jump host 'bastion.invalid' of lost" in warnings

    strict = write_inventory(str(tmp_path / 'strict.phpipam.yml'), connection, sections=['SSH broken'],
                             jump_host_missing='error')
    failed = ansible(ssh_chain, tmp_path, 'ansible-inventory', '-i', strict, '--list', timeout=60)
    assert failed.returncode != 0
    assert 'bastion.invalid' in ' '.join(failed.stderr.split())
