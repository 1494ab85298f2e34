# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_facts role over SSH: facts gathered from the hosts of a real two-hop jump chain, read back from phpIPAM.

The chain (tests/harness/sshlan.py): jump1 reachable from the controller, target1 behind it, jump2
behind it, target2 behind both; each host its own network namespace and sshd, recorded in the real
phpIPAM (sshlan.seed_phpipam). The hosts share this machine's filesystem and kernel, so RAM, cores
and disks are the machine's; IP, MAC, host name and listening sockets are each host's own.
"""

import os

import pytest

from integration_helpers import connection_env  # pylint: disable=import-error
from reservation_helpers import client  # pylint: disable=import-error
from ssh_helpers import chain_in_phpipam, ssh_chain  # noqa: F401  pylint: disable=import-error,unused-import

pytestmark = [pytest.mark.integration, pytest.mark.netns]

FIELD = 'custom_host_facts'
HOSTS = ('jump1', 'jump2', 'target1', 'target2')


def inventory(lan, extra_hosts=(), **host_lines):
    """A static inventory of the chain: each host by its IP, through its jump hosts (ProxyJump)."""
    lines = ['[chain]']
    for name in HOSTS + tuple(extra_hosts):
        host = lan.hosts.get(name)
        if host is None:  # a made-up host in the spare network, behind jump1: nothing answers there
            ip, jumps = str(lan.spare_network.network_address + 9), 'root@%s' % lan.hosts['jump1'].ip
        else:
            ip, jumps = host.ip, lan.proxyjump(name)
        line = '%s ansible_host=%s' % (name, ip)
        if jumps:
            line += " ansible_ssh_common_args='-o ProxyJump=%s'" % jumps
        lines.append(line + (' ' + host_lines[name] if name in host_lines else ''))
    lines += ['[chain:vars]', 'ansible_user=root', 'ansible_python_interpreter=/usr/bin/python3', '']
    return '\n'.join(lines)


def machine_ram_mb():
    with open('/proc/meminfo', encoding='utf-8') as handle:
        return int(handle.readline().split()[1]) // 1024


def stored_facts(connection, address_ids):
    with client(connection) as api:
        return dict((name, api.get('addresses/%d' % address_id)) for name, address_id in address_ids.items())


def test_role_over_ssh(connection, ssh_chain, chain_in_phpipam, run_playbook):  # noqa: F811
    lan = ssh_chain
    env = dict(lan.ansible_env(), **connection_env(connection))
    front = dict((name, chain_in_phpipam['addresses'][(name, lan.hosts[name].network)]) for name in HOSTS)
    run = run_playbook('host_facts_role.yml', env=env, inventory_text=inventory(lan), timeout=600,
                       extra_vars={'host_facts_cpu_interval': 0.5, 'host_facts_expected_services': ['sshd', 22]})
    assert run.returncode == 0, run.output[-4000:]
    assert not run.warnings(), run.warnings()

    recorded = run.result('Record the summaries in phpIPAM')
    assert recorded['changed'] is True
    assert [(r['name'], r['status'], r['address_id']) for r in recorded['records']] == [
        (name, 'update', front[name]) for name in HOSTS]
    assert recorded['anomalies'] == []
    report = run.result('Host facts report')['msg']
    assert [line.split()[:4] for line in report[1:]] == [[name, lan.hosts[name].ip, 'recorded', 'ok'] for name in HOSTS]

    stored = stored_facts(connection, front)
    for name in HOSTS:
        host = lan.hosts[name]
        lines = stored[name][FIELD].splitlines()
        assert lines[0] == 'ipamkit host facts v1' and lines[1].startswith('host: ' + name)
        # Each host's own front interface, address and MAC: what phpIPAM has for it.
        assert 'net: eth0 %s %s' % (host.ip, host.macs[0]) in lines
        assert stored[name]['mac'] == host.macs[0]
        others = host.addresses[1:]
        assert ('addresses: ' + ', '.join(others) in lines) if others else not [x for x in lines if
                                                                                x.startswith('addresses:')]
        # Its own sshd, seen with its process name (the role runs as root over SSH).
        assert 'listen: tcp/22 sshd on %s' % ', '.join(sorted(host.addresses)) in lines
        # The machine's RAM and cores: the namespaces share them.
        assert 'cpu: %d cores' % os.cpu_count() in [x.split(',')[0] for x in lines]
        assert [x for x in lines if x.startswith('ram: ')][0].startswith('ram: %.1fG total' % (machine_ram_mb() / 1024.0))


def test_anomalies_fail_the_role_over_ssh(connection, ssh_chain, chain_in_phpipam, run_playbook):  # noqa: F811
    """Per-host thresholds from the inventory: jump1's memory limit 0, target2 expects tcp/8080; a host that
    cannot be reached is in the table too; the role fails after recording and reporting."""
    lan = ssh_chain
    env = dict(lan.ansible_env(), **connection_env(connection))
    text = inventory(lan, extra_hosts=['ghost'], jump1='host_facts_memory_used_percent_max=0',
                     target2="host_facts_expected_services='[\"tcp/8080\", \"sshd\"]'")
    run = run_playbook('host_facts_role.yml', env=env, inventory_text=text, timeout=600,
                       extra_vars={'host_facts_cpu_interval': 0.2, 'host_facts_fail_on_anomaly': True})
    assert run.returncode != 0
    assert run.status('Fail on anomalies') == 'failed'
    assert run.result('Fail on anomalies')['msg'].startswith(
        '2 anomalies on jump1, target2 (host_facts_fail_on_anomaly is true)')
    rows = [line.split(None, 4) for line in run.result('Host facts report')['msg'][1:]]
    memory = [r for r in rows if r[0] == 'jump1'][0]
    assert memory[:4] == ['jump1', lan.hosts['jump1'].ip, 'recorded', 'memory']
    assert memory[4].startswith('memory is ') and memory[4].endswith('% used (limit 0%)')
    assert [r for r in rows if r[0] != 'jump1'] == [
        ['jump2', lan.hosts['jump2'].ip, 'recorded', 'ok', '-'],
        ['target1', lan.hosts['target1'].ip, 'recorded', 'ok', '-'],
        ['target2', lan.hosts['target2'].ip, 'recorded', 'service', 'tcp/8080 is not listening'],
        ['ghost', '-', '-', 'unreachable', 'no facts: the host failed or was unreachable'],
    ]
    front = dict((name, chain_in_phpipam['addresses'][(name, lan.hosts[name].network)]) for name in HOSTS)
    stored = stored_facts(connection, front)
    assert all(stored[name][FIELD].startswith('ipamkit host facts v1\nhost: ' + name) for name in HOSTS)

