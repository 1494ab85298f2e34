# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/host_facts: parsers on real output, the summary, its text form, anomalies.

The files under tests/unit/fixtures/host_facts are real output of Debian 12 (ss and ip of
iproute2 6.1, /proc, /sys/block), captured by capture.py there: ``*_root`` on this machine,
``*_netns`` in a network namespace with listeners of every kind ss shows.
"""

import os

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts import (
    TEXT_HEADER,
    HostFactsError,
    build_summary,
    check_thresholds,
    collect,
    cpu_used_percent,
    find_anomalies,
    global_addresses,
    mount_usage,
    parse_block_devices,
    parse_default_route,
    parse_expected_service,
    parse_ip_addr,
    parse_meminfo,
    parse_mounts,
    parse_proc_stat,
    parse_ss,
    primary_interface,
    select_mounts,
    summary_text,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'host_facts')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


# ---------------------------------------------------------------- ss


def test_ss_every_kind_of_listener():
    assert parse_ss(fixture('ss_netns.txt')) == [
        dict(proto='tcp', address='0.0.0.0', port=22, process='python3'),
        dict(proto='tcp', address='::', port=22, process='python3'),
        dict(proto='tcp', address='127.0.0.1', port=5432, process='python3'),
        dict(proto='tcp', address='198.18.200.2', port=8080, process='python3'),
        dict(proto='tcp', address='fd00:c8::2', port=8443, process='python3'),
        dict(proto='udp', address='0.0.0.0', port=53, process='python3'),
        dict(proto='udp', address='::1', port=123, process='python3'),
        dict(proto='udp', address='127.0.0.53', port=5353, process='python3'),  # bound to lo: 127.0.0.53%lo
    ]


def test_ss_machine_output_many_processes_hidden_processes_and_mapped_addresses():
    sockets = parse_ss(fixture('ss_root.txt'))
    by_port = dict((s['port'], s) for s in sockets)
    assert by_port[39643] == dict(proto='tcp', address='127.0.0.1', port=39643, process='apache2')  # 3 workers
    assert by_port[2024]['process'] is None  # another PID namespace's socket: ss shows no process
    assert by_port[45953]['address'] == '::ffff:127.0.0.1'
    assert by_port[45299]['process'] == 'ansible-ruleboo'  # the kernel's 15-character comm
    assert len(sockets) == len(fixture('ss_root.txt').splitlines())


@pytest.mark.parametrize('line, expected', [
    ('tcp LISTEN 0 128 *:22 *:* users:(("sshd",pid=1,fd=3),("systemd",pid=1,fd=50))',
     dict(proto='tcp', address='*', port=22, process='sshd,systemd')),
    ('udp UNCONN 0 0 [fe80::1%eth0]:123 [::]:*', dict(proto='udp', address='fe80::1', port=123, process=None)),
    ('udp UNCONN 0 0 [fe80::1]%eth0:546 [::]:* users:(("dhclient",pid=9,fd=5))',
     dict(proto='udp', address='fe80::1', port=546, process='dhclient')),
    ('tcp LISTEN 0 4096 *%lo:53 *:* users:(("my prog",pid=7,fd=4))',
     dict(proto='tcp', address='*', port=53, process='my prog')),
])
def test_ss_address_forms(line, expected):
    assert parse_ss(line) == [expected]


@pytest.mark.parametrize('text, message', [
    ('Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process',
     'ss output line 1 is not "proto state'),
    ('tcp LISTEN 0 128 nowhere *:*', "ss output line 1: local address 'nowhere' has no port"),
])
def test_ss_bad_output(text, message):
    with pytest.raises(HostFactsError, match=message):
        parse_ss(text)


# ---------------------------------------------------------------- memory, CPU


def test_meminfo_machine():
    memory = parse_meminfo(fixture('meminfo.txt'))
    # MemTotal 24684084 kB, MemAvailable 23233072 kB, no swap: used = 1451012 kB = 5.9%
    assert memory == dict(total_mb=24105, used_mb=1417, available_mb=22688, used_percent=6,
                          swap_total_mb=0, swap_used_mb=0)


def test_meminfo_old_kernel_and_swap():
    text = 'MemTotal: 2048000 kB\nMemFree: 512000 kB\nBuffers: 0 kB\nCached: 0 kB\nSwapTotal: 1024000 kB\n' \
           'SwapFree: 512000 kB\n'
    memory = parse_meminfo(text)
    assert (memory['used_mb'], memory['used_percent'], memory['swap_used_mb']) == (1500, 75, 500)
    with pytest.raises(HostFactsError, match='no MemTotal'):
        parse_meminfo('MemFree: 1 kB\n')


def test_cpu_two_samples_of_the_machine():
    first, second = parse_proc_stat(fixture('stat_1.txt')), parse_proc_stat(fixture('stat_2.txt'))
    assert first['cores'] == second['cores'] == 2
    busy = second['busy'] - first['busy']
    total = second['total'] - first['total']
    assert total > 0
    assert cpu_used_percent(first, second) == int(round(100.0 * busy / total))


@pytest.mark.parametrize('first, second, expected', [
    ('cpu 100 0 100 800 0 0 0 0 0 0\ncpu0 1 0 0 0\n', 'cpu 150 0 150 850 50 0 0 0 0 0\ncpu0 1 0 0 0\n', 50),
    ('cpu 0 0 0 100 0 0 0 0\n', 'cpu 0 0 0 200 0 0 0 0\n', 0),  # idle only
    ('cpu 0 0 0 100 0 0 0 0\n', 'cpu 0 0 0 100 0 0 0 0\n', 0),  # no time passed
    ('cpu 0 0 0 0 0 0 0 0 0 0\n', 'cpu 90 0 0 0 10 0 0 0 90 0\n', 90),  # guest (inside user) not twice, iowait idle
])
def test_cpu_use(first, second, expected):
    assert cpu_used_percent(parse_proc_stat(first), parse_proc_stat(second)) == expected


# ---------------------------------------------------------------- mounts, disks


def test_mounts_machine_selection():
    mounts = parse_mounts(fixture('mounts_root.txt'))
    assert len(mounts) == 32
    # /dev/vda is also mounted at /run/netns: one row, the shortest mount point; tmpfs, cgroup, nsfs... left out.
    assert select_mounts(mounts) == [dict(device='/dev/vda', mount='/', fstype='ext4')]
    assert [m['mount'] for m in select_mounts(mounts, excluded_types=('proc', 'sysfs', 'cgroup', 'cgroup2',
                                                                      'devpts', 'nsfs'))] == [
        '/', '/dev', '/dev/shm', '/mnt/sandboxing/model_tools_env/v1/python', '/sys/fs/cgroup']


def test_mount_escapes():
    assert parse_mounts('/dev/sdb1 /srv/my\\040data ext4 rw 0 0\n') == [
        dict(device='/dev/sdb1', mount='/srv/my data', fstype='ext4')]


def test_mount_usage_like_df():
    mount = dict(device='/dev/vda', mount='/', fstype='ext4')
    # df -PT on the same machine: 264212084 1K-blocks, 24809048 used, 81581864 available, 24%
    usage = mount_usage(mount, blocks=66053021, free=59850759, available=20395466, fragment_size=4096)
    assert usage == dict(mount='/', device='/dev/vda', fstype='ext4', size_mb=258019, used_mb=24227,
                         available_mb=79669, used_percent=24)
    assert mount_usage(mount, 0, 0, 0, 4096) is None


def test_block_devices_machine():
    assert parse_block_devices(fixture('sys_block.txt')) == [dict(name='vda', size_mb=262144)]
    assert parse_block_devices('dm-0 2097152 virtual\nsda 0 device\nnvme0n1 1000215216 device\n') == [
        dict(name='dm-0', size_mb=1024), dict(name='nvme0n1', size_mb=488386)]


# ---------------------------------------------------------------- network


def test_primary_interface_machine_default_route():
    interfaces = parse_ip_addr(fixture('ip_addr_root.json'))
    v4, v6 = parse_default_route(fixture('ip_route_root.json')), parse_default_route(fixture('ip6_route_root.json'))
    assert (v4, v6) == ('eth0', 'eth0')
    eth0 = [i for i in interfaces if i['name'] == 'eth0'][0]
    assert primary_interface(interfaces, None, v4, v6) == dict(
        interface='eth0', ip='192.0.2.2', mac=eth0['mac'], reason='IPv4 default route')


def test_primary_interface_netns_without_default_route():
    interfaces = parse_ip_addr(fixture('ip_addr_netns.json'))
    assert parse_default_route(fixture('ip_route_netns.json')) is None
    assert primary_interface(interfaces) == dict(interface='eth0', ip='198.18.200.2', mac='02:00:5e:10:c8:02',
                                                 reason='first interface with an address')
    # The address phpIPAM knows wins, even as a second address of the interface or another spelling of IPv6.
    assert primary_interface(interfaces, '198.18.201.2')['ip'] == '198.18.201.2'
    assert primary_interface(interfaces, 'fd00:c8:0::2') == dict(
        interface='eth0', ip='fd00:c8::2', mac='02:00:5e:10:c8:02', reason='known address')
    assert primary_interface(interfaces, '198.18.99.1')['reason'] == 'first interface with an address'
    assert global_addresses(interfaces) == ['198.18.200.2', '198.18.201.2', 'fd00:c8::2']
    # An IPv6-only default route: its interface's first global IPv6 address.
    assert primary_interface(interfaces, None, None, 'eth0') == dict(
        interface='eth0', ip='fd00:c8::2', mac='02:00:5e:10:c8:02', reason='IPv6 default route')
    # A default route on an interface that is gone from the list: the next rule.
    assert primary_interface(interfaces, None, 'eth9')['reason'] == 'first interface with an address'
    lo_only = [i for i in interfaces if i['loopback']]
    assert primary_interface(lo_only)['ip'] is None


@pytest.mark.parametrize('parser', [parse_ip_addr, parse_default_route])
def test_ip_bad_json(parser):
    with pytest.raises(HostFactsError, match='gave no JSON'):
        parser('Usage: ip [ OPTIONS ]')


# ---------------------------------------------------------------- summary, text


FACTS = dict(fqdn='web1.example.test', distribution='Debian', distribution_version='12',
             distribution_release='bookworm', kernel='6.1.0-18-amd64', virtualization_type='kvm',
             virtualization_role='guest')


def summary(**changes):
    interfaces = parse_ip_addr(fixture('ip_addr_netns.json'))
    mounts = [mount_usage(dict(device='/dev/vda', mount='/', fstype='ext4'), 66053021, 59850759, 20395466, 4096),
              mount_usage(dict(device='/dev/vdb1', mount='/srv', fstype='xfs'), 1000, 50, 50, 1048576)]
    data = build_summary('web1', primary_interface(interfaces, '198.18.200.2'), parse_meminfo(fixture('meminfo.txt')),
                         dict(cores=2, used_percent=12), parse_block_devices(fixture('sys_block.txt')), mounts,
                         parse_ss(fixture('ss_netns.txt')), global_addresses(interfaces), FACTS)
    data.update(changes)
    return data


def test_summary_and_text():
    data = summary()
    assert (data['ip'], data['mac'], data['interface'], data['os'], data['virtualization']) == (
        '198.18.200.2', '02:00:5e:10:c8:02', 'eth0', 'Debian 12 (bookworm)', 'kvm guest')
    assert summary_text(data) == '\n'.join([
        TEXT_HEADER,
        'host: web1 (web1.example.test)',
        'system: Debian 12 (bookworm), kernel 6.1.0-18-amd64, kvm guest',
        'net: eth0 198.18.200.2 02:00:5e:10:c8:02',
        'addresses: 198.18.201.2, fd00:c8::2',
        'cpu: 2 cores, 12% used',
        'ram: 23.5G total, 1.4G used (6%)',
        'disk: vda 256.0G',
        'mount: / ext4 252.0G, 23.7G used (24%) on /dev/vda',
        'mount: /srv xfs 1000M, 950M used (95%) on /dev/vdb1',
        'listen: tcp/22 python3 on 0.0.0.0, ::',
        'listen: tcp/5432 python3 on 127.0.0.1',
        'listen: tcp/8080 python3 on 198.18.200.2',
        'listen: tcp/8443 python3 on fd00:c8::2',
        'listen: udp/53 python3 on 0.0.0.0',
        'listen: udp/123 python3 on ::1',
        'listen: udp/5353 python3 on 127.0.0.53',
    ])


def test_text_is_deterministic_and_fits():
    data = summary()
    shuffled = summary(listening=list(reversed(data['listening'])), mounts=list(reversed(data['mounts'])))
    assert summary_text(shuffled) == summary_text(data)
    many = summary(listening=[dict(proto='tcp', address='0.0.0.0', port=p, process='p%d' % p) for p in range(1, 5001)])
    text = summary_text(many)
    assert len(text.encode('utf-8')) <= 60000 < len(summary_text(many, 10 ** 6).encode('utf-8'))
    assert text.startswith(TEXT_HEADER + '\nhost: web1') and text.splitlines()[-1].endswith('lines left out')
    bare = summary(fqdn=None, os=None, kernel=None, virtualization=None, ip=None, mac=None, interface=None,
                   addresses=[], disks=[], mounts=[], listening=[])
    assert summary_text(bare).splitlines()[1:4] == ['host: web1', 'net: none', 'cpu: 2 cores, 12% used']
    with pytest.raises(HostFactsError, match='too small'):
        summary_text(data, 10)


# ---------------------------------------------------------------- anomalies


@pytest.mark.parametrize('value, expected', [
    (22, dict(port=22, proto=None)), ('443', dict(port=443, proto=None)), ('tcp/22', dict(port=22, proto='tcp')),
    ('53/UDP', dict(port=53, proto='udp')), ('sshd', dict(process='sshd')), (' nginx ', dict(process='nginx')),
])
def test_expected_service_forms(value, expected):
    assert parse_expected_service(value) == expected


@pytest.mark.parametrize('value, message', [
    (0, 'port 0 is not between 1 and 65535'), ('70000', 'port 70000'), (True, 'neither a port number nor a name'),
    ('sctp/22', 'neither a port'), ('my service', 'neither a port'), ('', 'neither a port'),
])
def test_expected_service_bad(value, message):
    with pytest.raises(HostFactsError, match=message):
        parse_expected_service(value)


def test_anomalies():
    data = summary()
    assert find_anomalies(data) == [dict(check='disk', subject='/srv', value=95, limit=90,
                                         message='disk /srv is 95% used (limit 90%)')]
    found = find_anomalies(data, disk_max=20, memory_max=4, cpu_max=10,
                           expected_services=[22, 'udp/5353', 'tcp/53', 'python3', 'nginx', 8444])
    assert [(a['check'], a['subject'], a['value'], a['limit']) for a in found] == [
        ('disk', '/', 24, 20), ('disk', '/srv', 95, 20), ('memory', 'ram', 6, 4), ('cpu', 'cpu', 12, 10),
        ('service', 'tcp/53', None, None), ('service', 'nginx', None, None), ('service', 'port 8444', None, None)]
    assert [a['message'] for a in found[3:]] == ['CPU is 12% used (limit 10%)', 'tcp/53 is not listening',
                                                 'nginx is not listening', 'port 8444 is not listening']
    assert find_anomalies(data, disk_max=None, memory_max=None) == []
    assert find_anomalies(data, disk_max=95) == []  # at the limit is not above it


def test_anomaly_process_names_hidden_and_cut():
    hidden = summary(listening=[dict(proto='tcp', address='0.0.0.0', port=22, process=None)])
    assert find_anomalies(hidden, disk_max=None, expected_services=['sshd'])[0]['message'] == (
        'sshd is not listening (1 listening sockets show no process: gather as root, with become, to see them)')
    assert find_anomalies(hidden, disk_max=None, expected_services=[22]) == []
    cut = summary(listening=[dict(proto='tcp', address='127.0.0.1', port=1, process='ansible-ruleboo')])
    assert find_anomalies(cut, disk_max=None, expected_services=['ansible-rulebook']) == []


def test_check_thresholds():
    check_thresholds(90, 0, None, [22, 'sshd'])
    with pytest.raises(HostFactsError, match='memory_used_percent_max is 101: give a percentage from 0 to 100'):
        check_thresholds(90, 101, None, [])
    with pytest.raises(HostFactsError, match="expected service 'a b'"):
        check_thresholds(90, 90, None, ['a b'])


# ---------------------------------------------------------------- collect on this machine


def test_collect_reads_this_host():
    """collect through real ss and ip: the machine's RAM, cores and root filesystem; one sleep between the CPU samples."""
    import shutil
    import subprocess

    if not (shutil.which('ss') and shutil.which('ip') and os.path.exists('/proc/stat')):
        pytest.skip('needs Linux with iproute2')

    def run_command(argv):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    slept = []
    data = collect(run_command, shutil.which('ss'), shutil.which('ip'), 'me', cpu_interval=0.2, sleep=slept.append)
    assert data['cpu']['cores'] == os.cpu_count() and 0 <= data['cpu']['used_percent'] <= 100
    with open('/proc/meminfo', encoding='utf-8') as handle:
        assert data['memory']['total_mb'] == int(handle.readline().split()[1]) // 1024
    root = os.statvfs('/')
    assert [m for m in data['mounts'] if m['mount'] == '/'][0]['size_mb'] == root.f_blocks * root.f_frsize // 2 ** 20
    assert slept == [0.2]
    with pytest.raises(HostFactsError, match='failed'):
        collect(lambda argv: (1, '', 'boom'), 'ss', 'ip', 'me', sleep=slept.append)
