# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_facts role over SSH: facts gathered from the hosts of a real two-hop jump chain, read back from phpIPAM.

The chain (tests/harness/sshlan.py): jump1 reachable from the controller, target1 behind it, jump2
behind it, target2 behind both; each host its own network namespace and sshd, recorded in the real
phpIPAM (sshlan.seed_phpipam). The hosts and their ProxyJump paths come from the ipamkit.phpipam.phpipam
inventory, as users would run the role. The hosts share this machine's filesystem and kernel, so RAM,
cores and disks are the machine's; IP, MAC, host name and listening sockets are each host's own.
"""

import json
import os
import subprocess
import sys

import pytest

from integration_helpers import PlaybookRun, connection_env  # pylint: disable=import-error
from reservation_helpers import client  # pylint: disable=import-error
from ssh_helpers import chain_in_phpipam, ssh_chain  # noqa: F401  pylint: disable=import-error,unused-import

pytestmark = [pytest.mark.integration, pytest.mark.netns]

HERE = os.path.dirname(os.path.abspath(__file__))
FIELD = 'custom_host_facts'
HOSTS = ('jump1', 'jump2', 'target1', 'target2')


def run_role(lan, connection, tmp_path, extra_vars, extra_inventory=None, host_vars=None):
    """ansible-playbook with the host_facts role on the hosts the ipamkit.phpipam.phpipam inventory builds from
    phpIPAM's section "SSH chain" (ProxyJump from the recorded jump hosts), plus ``extra_inventory`` (ini text)
    and ``host_vars`` files ({host: {var: value}}) beside the inventory, as users keep them."""
    source = tmp_path / 'chain.phpipam.yml'
    source.write_text(json.dumps({'plugin': 'ipamkit.phpipam.phpipam', 'sections': ['SSH chain'],
                                  'hostname_required': True}))
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(source)]
    if extra_inventory:
        (tmp_path / 'extra.ini').write_text(extra_inventory)
        argv += ['-i', str(tmp_path / 'extra.ini')]
    for host, variables in (host_vars or {}).items():
        (tmp_path / 'host_vars').mkdir(exist_ok=True)
        (tmp_path / 'host_vars' / ('%s.yml' % host)).write_text(json.dumps(variables))
    record = tmp_path / 'results.json'
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    env.update(lan.ansible_env(remote_tmp=str(tmp_path / 'remote-tmp')))
    env.update(connection_env(connection))
    env.update({'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
                'ANSIBLE_CALLBACKS_ENABLED': 'record_results', 'ANSIBLE_NOCOLOR': '1',
                'ANSIBLE_RETRY_FILES_ENABLED': '0', 'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'local-tmp'),
                'IPAMKIT_RECORD_FILE': str(record)})
    argv += ['ipamkit.phpipam.host_facts', '-e', json.dumps(extra_vars)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    records = json.loads(record.read_text()) if record.exists() else []
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, records)


def machine_ram_mb():
    with open('/proc/meminfo', encoding='utf-8') as handle:
        return int(handle.readline().split()[1]) // 1024


def stored_facts(connection, address_ids):
    with client(connection) as api:
        return dict((name, api.get('addresses/%d' % address_id)) for name, address_id in address_ids.items())


def test_role_over_ssh(connection, ssh_chain, chain_in_phpipam, tmp_path):  # noqa: F811
    lan = ssh_chain
    front = dict((name, chain_in_phpipam['addresses'][(name, lan.hosts[name].network)]) for name in HOSTS)
    run = run_role(lan, connection, tmp_path, {'host_facts_cpu_interval': 0.5, 'host_facts_expected_services': ['sshd', 22]})
    assert run.returncode == 0, run.output[-4000:]
    assert not run.warnings(), run.warnings()

    recorded = run.result('Record the summaries in phpIPAM')
    assert recorded['changed'] is True
    assert [(r['name'], r['status'], r['address_id']) for r in recorded['records']] == [
        (name, 'update', front[name]) for name in HOSTS]
    assert recorded['anomalies'] == []
    report = run.result('Host facts report')['msg']
    assert [line.split()[:4] for line in report[1:]] == [[name, lan.hosts[name].ip, 'recorded', 'ok'] for name in HOSTS]

    # Each host's summary carries the phpIPAM address id the inventory gave it (phpipam_id).
    gathered = [r['result']['host_facts'] for r in run.records if r['task'].endswith("Gather what Ansible's facts lack")]
    assert sorted((g['name'], g['address_id']) for g in gathered) == sorted(front.items())

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


def test_anomalies_fail_the_role_over_ssh(connection, ssh_chain, chain_in_phpipam, tmp_path):  # noqa: F811
    """Per-host thresholds from host_vars: jump1's memory limit 0, target2 expects tcp/8080; a host that
    cannot be reached is in the table too; the role fails after recording and reporting."""
    lan = ssh_chain
    ghost = 'ghost ansible_host=%s ansible_user=root ansible_ssh_common_args="-o ProxyJump=root@%s"\n' % (
        lan.spare_network.network_address + 9, lan.hosts['jump1'].ip)  # nothing answers in the spare network
    run = run_role(lan, connection, tmp_path, {'host_facts_cpu_interval': 0.2, 'host_facts_fail_on_anomaly': True},
                   extra_inventory=ghost, host_vars={'jump1': {'host_facts_memory_used_percent_max': 0},
                                                     'target2': {'host_facts_expected_services': ['tcp/8080', 'sshd']}})
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
