# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host facts into phpIPAM: ipamkit.phpipam.host_facts, host_facts_record and the host_facts role.

Real ansible-playbook runs against the real phpIPAM of the harness. Here the managed host is this
machine (connection local, known as 127.0.0.1); test_host_facts_ssh.py gathers over SSH.
The summaries are checked against what this machine says itself (/proc, statvfs, os.cpu_count).
"""

import os
import sys

import pytest

from integration_helpers import connection_env  # pylint: disable=import-error
from reservation_helpers import client, connection_vars, make_subnets  # pylint: disable=import-error

pytestmark = pytest.mark.integration

FIELD = 'custom_host_facts'


def add_address(connection, ip, subnet_id, tag=2, hostname=None):
    with client(connection) as api:
        return int(api.create('addresses', {'ip': ip, 'subnetId': subnet_id, 'tag': tag, 'hostname': hostname}).id)


def read_address(connection, address_id):
    with client(connection) as api:
        return api.get('addresses/%d' % address_id)


def machine_ram_mb():
    with open('/proc/meminfo', encoding='utf-8') as handle:
        return int(handle.readline().split()[1]) // 1024


def local_inventory(python, **hostvars):
    extra = ' '.join('%s=%s' % item for item in sorted(hostvars.items()))
    return 'local1 ansible_connection=local ansible_host=127.0.0.1 ansible_python_interpreter=%s %s\n' % (python, extra)


def synthetic_summary(name, ip):
    return dict(name=name, ip=ip, mac='02:00:5e:10:3c:%02x' % int(ip.rsplit('.', 1)[1]), interface='eth0',
                addresses=[ip], memory=dict(total_mb=2048, used_mb=512, used_percent=25, swap_total_mb=0),
                cpu=dict(cores=2, used_percent=3), disks=[], mounts=[], anomalies=[],
                listening=[dict(proto='tcp', address='0.0.0.0', port=22, process='sshd')])


def test_record_module(phpipam, connection, run_playbook):
    """The record module: writes, unchanged on the same summaries, check mode and diff, the clear errors."""
    subnets = make_subnets(connection, ['127.0.0.0/29', '198.18.60.0/27'])
    local_id = add_address(connection, '127.0.0.1', subnets['127.0.0.0/29'], tag=3)
    # 24 more hosts: above the search limit, so the record step reads all addresses at once.
    extra = [synthetic_summary('h%02d' % n, '198.18.60.%d' % n) for n in range(2, 26)]
    extra_ids = dict((s['name'], add_address(connection, s['ip'], subnets['198.18.60.0/27'])) for s in extra)
    for summary in extra[::2]:  # these by address id: an IP phpIPAM does not have must not matter then
        summary.update(address_id=extra_ids[summary['name']], ip=summary['ip'].replace('198.18.60.', '198.18.61.'))
    run = run_playbook('host_facts_record.yml', extra_vars=dict(connection_vars(connection), extra_hosts=extra))
    assert run.returncode == 0, run.output[-3000:]

    summary = run.result('Gather')['host_facts']
    assert (summary['name'], summary['ip'], summary['interface'], summary['mac']) == ('local1', '127.0.0.1', 'lo', None)
    assert summary['cpu']['cores'] == os.cpu_count() and summary['memory']['total_mb'] == machine_ram_mb()
    root = os.statvfs('/')
    assert [m['size_mb'] for m in summary['mounts'] if m['mount'] == '/'] == [root.f_blocks * root.f_frsize // 2 ** 20]
    ports = set((s['proto'], s['port']) for s in summary['listening'])
    assert ('tcp', int(phpipam.https_url.rsplit(':', 1)[1])) in ports  # the harness's Apache, seen by ss
    assert [a['message'] for a in summary['anomalies']] == ['tcp/1 is not listening']

    first = run.result('Record')
    assert first['changed'] is True
    assert [(r['name'], r['status']) for r in first['records']] == [('h%02d' % n, 'update') for n in range(2, 26)] + [
        ('local1', 'update')]
    stored = read_address(connection, local_id)
    assert stored[FIELD] == run.result('Gather')['text']
    assert stored[FIELD].splitlines()[:2] == ['ipamkit host facts v1', 'host: local1']
    assert 'net: lo 127.0.0.1' in stored[FIELD].splitlines()
    assert stored['tag'] == 3  # resent with the write: phpIPAM 1.8.2 would reset it to Used
    for name, address_id in extra_ids.items():
        assert read_address(connection, address_id)[FIELD].splitlines()[1] == 'host: ' + name
    assert first['diff'][-1]['before'] == '\n' and first['diff'][-1]['after'] == stored[FIELD] + '\n'
    assert first['anomalies'] == [dict(summary['anomalies'][0], host='local1', ip='127.0.0.1')]
    assert first['anomalous_hosts'] == ['local1']
    assert [line.split()[:4] for line in first['report'][-1:]] == [['local1', '127.0.0.1', 'recorded', 'service']]

    again = run.result('Record again')
    assert again['changed'] is False and set(r['status'] for r in again['records']) == {'unchanged'}

    checked = run.result('Record a change in check mode')
    assert checked['changed'] is True and checked['records'][0]['status'] == 'update'
    assert 'kernel changed-in-check-mode' in checked['diff'][0]['after']
    assert read_address(connection, local_id)[FIELD] == stored[FIELD]

    assert run.status('Record into a field that does not exist') == 'failed'
    missing = run.result('Record into a field that does not exist')
    assert missing['msg'].startswith('custom field custom_facts does not exist on phpIPAM addresses: create it in '
                                     'phpIPAM under Administration > Custom fields > IP address, as a field named '
                                     'facts of type text')
    ghost = run.result('Record a host that is not in phpIPAM')
    assert ghost['changed'] is False and ghost['records'][0]['status'] == 'not_found'
    assert 'ghost: no phpIPAM address 198.18.250.250' in ' '.join(run.warnings())

    # ss lives in /usr/bin on Debian (ip in /usr/sbin, which the module also searches).
    assert run.status('Gather where ss cannot be found') == 'failed'
    assert run.result('Gather where ss cannot be found')['msg'] == (
        'ipamkit.phpipam.host_facts needs ss and ip of iproute2; not found: ss (Debian, Ubuntu: apt-get install iproute2)')
    assert run.status('Gather with a bad expected service') == 'failed'
    assert run.result('Gather with a bad expected service')['msg'] == (
        "expected service 'tcp/0': port 0 is not between 1 and 65535")


@pytest.mark.smoke
def test_role_local(phpipam, connection, run_playbook):
    """The role: gathered, recorded, the report; then anomalies (a low disk limit, a port not listening) fail it."""
    subnets = make_subnets(connection, ['127.0.0.0/29'])
    local_id = add_address(connection, '127.0.0.1', subnets['127.0.0.0/29'], tag=3)
    inventory = local_inventory(sys.executable)
    env = connection_env(connection)
    run = run_playbook('ipamkit.phpipam.host_facts', env=env, inventory_text=inventory, diff=True,
                       extra_vars={'host_facts_cpu_interval': 0.2, 'host_facts_expected_services': ['apache2']})
    assert run.returncode == 0, run.output[-3000:]
    assert not run.warnings(), run.warnings()
    recorded = run.result('Record the summaries in phpIPAM')
    assert recorded['changed'] is True and recorded['records'][0]['address_id'] == local_id
    stored = read_address(connection, local_id)[FIELD]
    assert stored == run.result('Gather what Ansible\'s facts lack')['text']
    report = run.result('Host facts report')['msg']
    assert report[0].split() == ['host', 'ip', 'phpipam', 'check', 'finding']
    assert report[1].split() == ['local1', '127.0.0.1', 'recorded', 'ok', '-']

    with client(connection) as api:  # so that the next runs have something to record whatever they gather
        api.update('addresses/%d' % local_id, {FIELD: '', 'tag': 3})
    checked = run_playbook('ipamkit.phpipam.host_facts', env=env, inventory_text=inventory, check=True,
                           extra_vars={'host_facts_cpu_interval': 0.2, 'host_facts_excluded_fs_types': []})
    assert checked.returncode == 0, checked.output[-3000:]
    # Nothing excluded: tmpfs mounts such as /dev/shm are reported too.
    assert 'tmpfs' in [m['fstype'] for m in checked.result('Gather what Ansible\'s facts lack')['host_facts']['mounts']]
    assert checked.result('Record the summaries in phpIPAM')['changed'] is True
    assert checked.result('Host facts report')['msg'][1].split() == ['local1', '127.0.0.1', 'would', 'record', 'ok', '-']
    assert read_address(connection, local_id)[FIELD] in ('', None)
    failing = run_playbook('ipamkit.phpipam.host_facts', env=env, inventory_text=inventory, extra_vars={
        'host_facts_cpu_interval': 0.2, 'host_facts_disk_used_percent_max': 0, 'host_facts_expected_services': [1],
        'host_facts_fail_on_anomaly': True})
    assert failing.returncode != 0
    assert failing.status('Fail on anomalies') == 'failed'
    assert failing.result('Fail on anomalies')['msg'].startswith('2 anomalies on local1 (host_facts_fail_on_anomaly '
                                                                 'is true)')
    rows = [line.split(None, 4) for line in failing.result('Host facts report')['msg'][1:]]
    root_use = [m['used_percent'] for m in failing.result('Gather what Ansible\'s facts lack')['host_facts']['mounts']
                if m['mount'] == '/'][0]
    assert rows == [['local1', '127.0.0.1', 'recorded', 'disk', 'disk / is %d%% used (limit 0%%)' % root_use],
                    ['local1', '127.0.0.1', 'recorded', 'service', 'port 1 is not listening']]
