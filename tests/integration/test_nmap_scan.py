# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nmap_scan through real ansible-playbook runs and the real nmap; no phpIPAM needed.

Scans go to loopback only (127.0.0.0/8 answers for every address from the root namespace, and ::1),
except the netns test, which builds its own bridged LAN (198.18.78.0/24, fd00:78::/64, no default
route) in network namespaces and scans it through an ``ip netns exec`` wrapper as nmap_path.
Faults come from wrapper scripts around the real nmap. Needs root and nmap: skipped with the reason
without them, a failure with IPAMKIT_REQUIRE_INTEGRATION=1.
"""

import os
import random
import shutil
import socket
import subprocess
import threading
import time

import pytest

from integration_helpers import unavailable  # pylint: disable=import-error

pytestmark = pytest.mark.integration

TASK = 'Scan the subnets'
# 127.0.99.99 runs no name server: nmap waits for it (about 13 s), long enough to be interrupted.
DEAD_DNS = ['127.0.99.99']


def _unavailable(reason):
    unavailable('the nmap_scan integration tests', reason)


@pytest.fixture(scope='module', autouse=True)
def nmap_ready():
    if os.geteuid() != 0:
        _unavailable('nmap_scan tests need root (privileged nmap, network namespaces)')
    if not shutil.which('nmap'):
        _unavailable('nmap is not installed (apt-get install nmap)')


def subnet(subnet_id, cidr, ping=True, discover=True, dns=None, addresses=()):
    """A subnet as scan_agent_info returns it; ``!ip`` in ``addresses`` means excludePing."""
    return {'id': subnet_id, 'cidr': cidr, 'ip_version': 6 if ':' in cidr else 4, 'pingSubnet': ping,
            'discoverSubnet': discover, 'resolveDNS': dns is not None, 'dns_servers': dns or [], 'description': 'test',
            'addresses': [{'id': 100 + n, 'ip': ip.lstrip('!'), 'excludePing': ip.startswith('!'), 'tag': 2,
                           'hostname': None, 'mac': None, 'lastSeen': None} for n, ip in enumerate(addresses)]}


LOOPBACK = [
    subnet(11, '127.0.10.0/28', addresses=['127.0.10.1', '!127.0.10.5']),
    subnet(12, '127.0.20.0/28', discover=False, addresses=['127.0.20.3', '127.0.20.7', '!127.0.20.4']),
    subnet(13, '127.0.30.0/28', ping=False, discover=False, addresses=['127.0.30.1']),
    subnet(14, '::1/128', discover=False, addresses=['::1']),
]


def ips(result_subnet):
    return [host['ip'] for host in result_subnet['hosts']]


def wrapper(tmp_path, body, name='nmap-wrapper'):
    path = tmp_path / name
    path.write_text('#!/bin/sh\n' + body + '\n')
    path.chmod(0o755)
    return str(path)


@pytest.mark.smoke
def test_loopback_scan(run_playbook):
    run = run_playbook('nmap_scan.yml', extra_vars={'subnets': LOOPBACK})
    assert run.returncode == 0, run.output
    scan = run.result(TASK)
    assert scan['changed'] is False and scan['privileged'] is True and scan['nmap_version']
    swept, ping_only, idle, loop6 = scan['subnets']
    assert [s['id'] for s in scan['subnets']] == [11, 12, 13, 14]
    # Discovery: the /28 less network, broadcast and the excludePing address; ping-only: known addresses only.
    assert ips(swept) == ['127.0.10.%d' % n for n in range(1, 15) if n != 5]
    assert swept['targets'] == 13 and swept['completed'] is True
    assert ips(ping_only) == ['127.0.20.3', '127.0.20.7'] and ping_only['targets'] == 2
    assert (idle['scanned'], idle['completed'], idle['hosts'], idle['started']) == (False, False, [], None)
    assert ips(loop6) == ['::1']
    host = swept['hosts'][0]
    assert host == {'ip': '127.0.10.1', 'state': 'up', 'reason': 'localhost-response', 'mac': None, 'vendor': None,
                    'hostname': None}
    ipv4, ipv6 = scan['runs']
    assert (ipv4['family'], ipv4['subnets'], ipv4['targets'], ipv4['exit'], ipv4['rc']) == (4, [11, 12], 15, 'success', 0)
    assert ipv4['argv'][1:5] == ['-sn', '-T4', '--privileged', '-n'] and '--excludefile' in ipv4['argv']
    assert (ipv6['family'], ipv6['argv'][2], ipv6['subnets']) == (6, '-6', [14])
    assert swept['started'] == ipv4['started'] and ipv4['started'].endswith('+00:00')
    assert not run.warnings(), run.warnings()


class Witness(object):
    """TCP listeners on loopback addresses: which of them did nmap's connect() probes reach?

    They listen on 80 and 443, nmap's own connect() ports, and on ``extra``: with many targets nmap
    stops probing a host at its first answer, which is on port 80.
    """

    def __init__(self, addresses, extra):
        self.hits = set()
        self.sockets = []
        self.stop = threading.Event()
        try:
            for address in addresses:
                for port in (80, 443, extra):
                    sock = socket.socket()
                    self.sockets.append(sock)
                    sock.bind((address, port))
                    sock.listen(16)
                    sock.settimeout(0.1)
        except OSError as exc:
            self.close()
            pytest.skip('cannot listen on the loopback witness addresses (is something bound to *:80?): %s' % exc)
        self.threads = [threading.Thread(target=self._serve, args=(sock,), daemon=True) for sock in self.sockets]
        for thread in self.threads:
            thread.start()

    def _serve(self, sock):
        while not self.stop.is_set():
            try:
                conn, _peer = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.hits.add(sock.getsockname()[0])
            conn.close()

    def close(self):
        self.stop.set()
        for sock in self.sockets:
            sock.close()


def test_excluded_and_unknown_addresses_get_no_probe(run_playbook):
    # Unprivileged nmap probes with TCP connect(), so listeners see exactly which addresses were probed.
    port = random.randint(40000, 49999)
    witness = Witness(['127.0.10.0', '127.0.10.5', '127.0.10.6', '127.0.20.3', '127.0.20.4', '127.0.20.5'], port)
    try:
        run = run_playbook('nmap_scan.yml',
                           extra_vars={'subnets': LOOPBACK[:2], 'privileged': 'false', 'probe_ports': [port]})
        time.sleep(0.5)
    finally:
        witness.close()
    assert run.returncode == 0, run.output
    scan = run.result(TASK)
    assert scan['privileged'] is False
    assert '-PS80,443,%d' % port in scan['runs'][0]['argv'] and '--unprivileged' in scan['runs'][0]['argv']
    # Probed: a swept address and a known one. Never: the network address, excludePing addresses,
    # an unknown address of a ping-only subnet.
    assert witness.hits == {'127.0.10.6', '127.0.20.3'}
    assert set(h['reason'] for h in scan['subnets'][0]['hosts']) <= {'conn-refused', 'syn-ack'}
    assert ips(scan['subnets'][0]) == ['127.0.10.%d' % n for n in range(1, 15) if n != 5]
    assert ips(scan['subnets'][1]) == ['127.0.20.3', '127.0.20.7']
    output = ' '.join(run.output.split())  # (ansible-core 2.16 wraps warnings)
    assert '[WARNING]: nmap ran unprivileged' in output and 'MAC addresses and vendors are unavailable' in output


def test_check_mode_scans_too(run_playbook):
    normal = run_playbook('nmap_scan.yml', extra_vars={'subnets': LOOPBACK})
    checked = run_playbook('nmap_scan.yml', extra_vars={'subnets': LOOPBACK}, check=True)
    assert normal.returncode == checked.returncode == 0, checked.output
    result = checked.result(TASK)
    assert result['changed'] is False
    assert [ips(s) for s in result['subnets']] == [ips(s) for s in normal.result(TASK)['subnets']]


def test_missing_nmap_is_a_clear_failure(run_playbook):
    run = run_playbook('nmap_scan.yml', extra_vars={'subnets': LOOPBACK, 'nmap_path': '/nonexistent/bin/nmap'})
    assert run.returncode != 0 and run.status(TASK) == 'failed'
    result = run.result(TASK)
    assert result['msg'].startswith('nmap_path /nonexistent/bin/nmap does not exist; install nmap')
    assert 'subnets' not in result and 'runs' not in result


def _xml_of_args():
    return 'for a; do [ "$prev" = -oX ] && xml=$a; prev=$a; done'


@pytest.mark.parametrize('body, extra, message', [
    pytest.param('exec nmap "$@" --excludefile /nonexistent/exclude', {},
                 'nmap run 1 (IPv4, no DNS) exited with status 1: Failed to open exclude file /nonexistent/exclude',
                 id='nmap exits non-zero'),
    pytest.param('(sleep 2; kill -9 $$) & exec nmap "$@"', {'dns': DEAD_DNS},
                 'nmap run 1 (IPv4, DNS 127.0.99.99) was killed by SIGKILL; nothing of this scan counts',
                 id='nmap killed mid-scan'),
    pytest.param('nmap "$@"; rc=$?; %s; truncate -s 600 "$xml"; exit $rc' % _xml_of_args(), {},
                 'nmap run 1 (IPv4, no DNS) wrote truncated or invalid XML', id='XML truncated'),
    pytest.param('nmap "$@"; rc=$?; %s; echo "<testsuites/>" > "$xml"; exit $rc' % _xml_of_args(), {},
                 'wrote XML that is not nmap output', id='not nmap XML'),
])
def test_wrapper_faults_fail_the_module(run_playbook, tmp_path, body, extra, message):
    subnets = [subnet(11, '127.0.10.0/28', dns=extra.get('dns'), addresses=['!127.0.10.5'])]
    run = run_playbook('nmap_scan.yml', extra_vars={'subnets': subnets, 'nmap_path': wrapper(tmp_path, body)})
    assert run.status(TASK) == 'failed', run.output
    result = run.result(TASK)
    assert message in result['msg'], result['msg']
    assert 'subnets' not in result
    assert result['run']['argv'][1] == '-sn'


def test_scan_timeout_stops_nmap_and_fails(run_playbook, tmp_path):
    pid_file = tmp_path / 'nmap.pid'
    nmap_path = wrapper(tmp_path, 'echo $$ > %s; exec nmap "$@"' % pid_file)
    subnets = [subnet(11, '127.0.10.0/28', dns=DEAD_DNS)]
    started = time.monotonic()
    run = run_playbook('nmap_scan.yml', extra_vars={'subnets': subnets, 'nmap_path': nmap_path, 'scan_timeout': 2})
    assert run.status(TASK) == 'failed', run.output
    assert 'did not finish within scan_timeout (2 s) and was stopped' in run.result(TASK)['msg']
    assert time.monotonic() - started < 12
    assert not os.path.exists('/proc/%s/cmdline' % pid_file.read_text().strip()) or \
        open('/proc/%s/stat' % pid_file.read_text().strip(), encoding='ascii').read().rsplit(')', 1)[1].split()[0] == 'Z'


# ------------------------------------------------------------------- a LAN of our own, in network namespaces


def _ip(*args):
    subprocess.run(['ip'] + list(args), check=True, capture_output=True)


@pytest.fixture
def lan():
    """An agent and two hosts on a bridge: 198.18.78.0/24 and fd00:78::/64, no default route anywhere."""
    if not shutil.which('ip'):
        _unavailable('iproute2 is not installed (apt-get install iproute2)')
    prefix = 'ipkt%04d' % random.randint(0, 9999)
    names = []

    def netns(name):
        ns = '%s-%s' % (prefix, name)
        _ip('netns', 'add', ns)
        names.append(ns)
        _ip('-n', ns, 'link', 'set', 'lo', 'up')
        return ns

    def host(name, mac, octet, link_local=True):
        ns = netns(name)
        peer = prefix + name
        _ip('link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        _ip('link', 'set', peer, 'netns', bridge)
        _ip('-n', bridge, 'link', 'set', peer, 'master', 'br0', 'up')
        _ip('-n', ns, 'link', 'set', 'eth0', 'address', mac)
        if not link_local:  # so that nmap's first IPv6 address on eth0 is the one in the subnet
            subprocess.run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.eth0.addr_gen_mode=1'],
                           check=True, capture_output=True)
        _ip('-n', ns, 'addr', 'add', '198.18.78.%d/24' % octet, 'dev', 'eth0')
        _ip('-n', ns, 'addr', 'add', 'fd00:78::%d/64' % octet, 'dev', 'eth0', 'nodad')
        _ip('-n', ns, 'link', 'set', 'eth0', 'up')
        return ns

    try:
        bridge = netns('lan')
        _ip('-n', bridge, 'link', 'add', 'br0', 'type', 'bridge')
        _ip('-n', bridge, 'link', 'set', 'br0', 'up')
        agent = host('agent', '02:00:00:78:00:01', 1, link_local=False)
        host('h1', '52:54:00:78:00:11', 11)
        host('h2', '00:16:3e:78:00:12', 12)
        time.sleep(2)  # link-local addresses of the hosts (they answer the multicast echo)
        yield agent
    finally:
        for ns in reversed(names):
            subprocess.run(['ip', 'netns', 'del', ns], check=False, capture_output=True)


@pytest.mark.netns
def test_lan_in_a_namespace_through_a_wrapper(run_playbook, tmp_path, lan):
    nmap_path = wrapper(tmp_path, 'exec ip netns exec %s nmap "$@"' % lan, name='nmap-in-lan')
    subnets = [subnet(21, '198.18.78.0/24', addresses=['198.18.78.1', '!198.18.78.12']),
               subnet(22, 'fd00:78::/64', addresses=['!fd00:78::12'])]
    run = run_playbook('nmap_scan.yml', extra_vars={'subnets': subnets, 'nmap_path': nmap_path})
    assert run.returncode == 0, run.output
    scan = run.result(TASK)
    v4, v6 = scan['subnets']
    assert v4['hosts'] == [
        {'ip': '198.18.78.1', 'state': 'up', 'reason': 'localhost-response', 'mac': None, 'vendor': None,
         'hostname': None},
        {'ip': '198.18.78.11', 'state': 'up', 'reason': 'arp-response', 'mac': '52:54:00:78:00:11',
         'vendor': 'QEMU virtual NIC', 'hostname': None},
    ]
    # IPv6: nothing known to ping, h1 found by asking the link (nmap --iflist through the wrapper
    # found eth0); h2 answered the multicast echo too but is excludePing, so never probed or reported.
    assert v6['neighbour_discovery'] == 'eth0' and v6['targets'] == 0
    assert v6['hosts'] == [{'ip': 'fd00:78::11', 'state': 'up', 'reason': 'nd-response', 'mac': '52:54:00:78:00:11',
                            'vendor': 'QEMU virtual NIC', 'hostname': None}]
    assert scan['runs'][1]['interface'] == 'eth0' and 'newtargets,targets-ipv6-multicast-echo.interface=eth0' in \
        scan['runs'][1]['argv']
    assert not run.warnings(), run.warnings()
