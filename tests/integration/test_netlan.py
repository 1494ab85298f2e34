# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/harness/netlan.py: real LANs in network namespaces, checked with real nmap (as root).

Every address used here lies in 198.18.0.0/15 or fd00::/8, inside namespaces these tests create,
with no default route: nothing leaves the machine's own namespaces.
"""

import os
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness')
if HARNESS not in sys.path:
    sys.path.insert(0, HARNESS)

import netlan  # noqa: E402  pylint: disable=import-error,wrong-import-position
from netlan import HostSpec, Lan, NetLanError  # noqa: E402  pylint: disable=import-error,wrong-import-position
from integration_helpers import unavailable  # noqa: E402  pylint: disable=import-error,wrong-import-position

pytestmark = [pytest.mark.netns, pytest.mark.integration]

HOSTS = [
    HostSpec('alpha', mac='02:aa:bb:cc:00:01'),
    HostSpec('bravo'),
    HostSpec('charlie', ipv4='198.18.10.77'),
    HostSpec('delta', ipv6='fd00:18:10::dead'),
    HostSpec('echo', ipv6=False),
    HostSpec('foxtrot'),
    HostSpec('golf'),
    HostSpec('hotel'),
    HostSpec('india', extra_ipv4=('198.18.10.240', '198.18.10.241'), extra_ipv6=('fd00:18:10::f0',)),
    HostSpec('juliet'),
    HostSpec('kilo', up=False),
    HostSpec('lima', up=False),
]


@pytest.fixture(scope='module')
def netns_ok():
    ok, reason = netlan.can_run()
    if not ok:
        unavailable('network namespace LANs', reason)
    netlan.cleanup_stale()  # LANs of crashed earlier runs (their creating process is gone)


@pytest.fixture(scope='module')
def lan(netns_ok):  # pylint: disable=unused-argument
    with Lan(hosts=HOSTS) as the_lan:
        yield the_lan


def scan(the_lan, *args):
    """Run nmap in the scanner namespace; {address: {'state', 'reason', 'mac', 'vendor', 'names', 'ports'}}."""
    proc = the_lan.nmap(*args, '-oX', '-')
    assert proc.returncode == 0, proc.stderr
    hosts = {}
    for host in ET.fromstring(proc.stdout).iter('host'):
        status = host.find('status')
        info = {'state': status.get('state'), 'reason': status.get('reason'), 'mac': None, 'vendor': None,
                'names': [h.get('name') for h in host.iter('hostname') if h.get('type') == 'PTR'],
                'ports': dict((p.get('portid'), (p.find('state').get('state'), p.find('state').get('reason')))
                              for p in host.iter('port'))}
        for addr in host.iter('address'):
            if addr.get('addrtype') == 'mac':
                info['mac'], info['vendor'] = addr.get('addr').lower(), addr.get('vendor')
            else:
                address = addr.get('addr')
        hosts[address] = info
    return hosts


def up_addresses(found):
    return set(a for a, info in found.items() if info['state'] == 'up')


# ---- planning (no root needed) ------------------------------------------------------------------


@pytest.mark.parametrize('kwargs, message', [
    ({'ipv4': '10.0.0.0/24'}, 'not inside 198.18.0.0/15'),
    ({'ipv4': '198.20.0.0/24'}, 'not inside 198.18.0.0/15'),
    ({'ipv6': '2001:db8::/64'}, 'not inside fd00::/8'),
    ({'ipv4': None, 'ipv6': None}, 'needs an IPv4 or an IPv6 subnet'),
    ({'hosts': [HostSpec('a', ipv4='192.0.2.1')]}, 'not a host address'),
    ({'hosts': [HostSpec('a', ipv4='198.18.10.2')]}, 'used twice'),
    ({'hosts': [HostSpec('a'), HostSpec('a')]}, 'given twice'),
    ({'hosts': [HostSpec('dns')]}, 'reserved'),
    ({'hosts': [HostSpec('Bad_Name')]}, 'DNS label'),
    ({'hosts': [HostSpec('a', mac='03:00:00:00:00:01')]}, 'not a unicast MAC'),
    ({'hosts': [HostSpec('a', mac='02:00:00:00:00:01'), HostSpec('b', mac='02:00:00:00:00:01')]}, 'used twice'),
    ({'name': 'Demo-1'}, 'LAN name'),
])
def test_plan_rejects(kwargs, message):
    with pytest.raises(NetLanError, match=message):
        Lan(**kwargs)


def test_plan_picks_addresses_and_macs():
    plan = Lan(hosts=HOSTS)
    by_name = dict((h.name, h) for h in plan.hosts)
    assert (by_name['alpha'].ipv4, by_name['alpha'].ipv6, by_name['alpha'].mac) == \
        ('198.18.10.10', 'fd00:18:10::10', '02:aa:bb:cc:00:01')
    assert (by_name['bravo'].ipv4, by_name['bravo'].ipv6, by_name['bravo'].mac) == \
        ('198.18.10.11', 'fd00:18:10::11', '02:00:c6:12:0a:0b')
    assert (by_name['charlie'].ipv4, by_name['charlie'].ipv6) == ('198.18.10.77', 'fd00:18:10::77')
    assert (by_name['delta'].ipv4, by_name['delta'].ipv6) == ('198.18.10.12', 'fd00:18:10::dead')
    assert (by_name['echo'].ipv4, by_name['echo'].ipv6) == ('198.18.10.13', None)
    assert by_name['india'].addresses() == ['198.18.10.17', 'fd00:18:10::17', '198.18.10.240', '198.18.10.241',
                                            'fd00:18:10::f0']
    assert [h.name for h in plan.up_hosts()] == [h.name for h in HOSTS[:10]]
    macs = [h.mac for h in plan.hosts] + [s.mac for s in plan.infra.values()]
    assert len(set(macs)) == len(macs)
    assert plan.infra['scanner'].addresses() == ['198.18.10.2', 'fd00:18:10::2']
    assert plan.dns_servers == ['198.18.10.53', 'fd00:18:10::53']
    assert plan.scanner_ns.startswith(netlan.NS_PREFIX) and plan.nmap_wrapper.endswith('/nmap')
    assert plan.fqdn('alpha') == 'alpha.lan.test'
    small = Lan(ipv4='198.18.11.0/28', ipv6=None, hosts=['a', 'b'])
    assert small.dns_servers == ['198.18.11.3']
    assert [h.ipv4 for h in small.hosts] == ['198.18.11.10', '198.18.11.11']
    assert netlan.make_hosts(3, down=[2])[1] == HostSpec('h2', up=False)


def test_can_run_answers_with_a_reason():
    ok, reason = netlan.can_run()
    assert isinstance(ok, bool) and reason


# ---- real LANs ----------------------------------------------------------------------------------


def test_ping_scan_finds_exactly_the_up_hosts_with_their_macs(lan):
    found = scan(lan, '-sn', '-n', '198.18.10.0/24')
    up = list(lan.up_hosts())
    expected = set(h.ipv4 for h in up if h.ipv4) | set(a for h in up for a in h.extra_ipv4)
    # infrastructure: the scanner itself (.2) and the DNS server (.53)
    expected |= {lan.infra['scanner'].ipv4, lan.infra['dns'].ipv4}
    assert up_addresses(found) == expected
    for host in up:
        for address in [host.ipv4] + list(host.extra_ipv4):
            assert (found[address]['mac'], found[address]['reason']) == (host.mac, 'arp-response')
    assert found['198.18.10.53']['mac'] == lan.infra['dns'].mac
    assert (found['198.18.10.2']['reason'], found['198.18.10.2']['mac']) == ('localhost-response', None)
    assert found['198.18.10.10']['vendor'] is None  # locally administered: nmap knows no vendor ("Unknown")


def test_down_host_answers_nothing_until_switched_up(lan):
    host = lan.host('bravo')
    other = lan.host('foxtrot')
    lan.set_up('bravo', False)
    try:
        assert not lan.host('bravo').up and 'bravo' not in [h.name for h in lan.up_hosts()]
        assert up_addresses(scan(lan, '-sn', '-n', host.ipv4, other.ipv4)) == {other.ipv4}              # ARP
        assert up_addresses(scan(lan, '-6', '-sn', '-n', host.ipv6, other.ipv6)) == {other.ipv6}        # ND
        assert up_addresses(scan(lan, '-sn', '-n', '-PE', '--send-ip', host.ipv4, other.ipv4)) == {other.ipv4}  # ICMP
        tcp = scan(lan, '-Pn', '-n', '-sT', '-p', '22', host.ipv4, other.ipv4)
        assert tcp[host.ipv4]['ports'] == {'22': ('filtered', 'no-response')}
        assert tcp[other.ipv4]['ports'] == {'22': ('closed', 'conn-refused')}
    finally:
        lan.set_up('bravo', True)
    found = scan(lan, '-sn', '-n', host.ipv4)
    assert up_addresses(found) == {host.ipv4} and found[host.ipv4]['mac'] == host.mac
    assert up_addresses(scan(lan, '-6', '-sn', '-n', host.ipv6)) == {host.ipv6}


def test_host_created_down_can_be_switched_up(lan):
    kilo = lan.host('kilo')
    assert not kilo.up
    assert not up_addresses(scan(lan, '-sn', '-n', kilo.ipv4))
    lan.set_up('kilo', True)
    try:
        found = scan(lan, '-sn', '-n', kilo.ipv4)
        assert up_addresses(found) == {kilo.ipv4} and found[kilo.ipv4]['mac'] == kilo.mac
        assert up_addresses(scan(lan, '-6', '-sn', '-n', kilo.ipv6)) == {kilo.ipv6}
    finally:
        lan.set_up('kilo', False)


def test_ptr_names_come_from_the_lan_dns(lan):
    hosts = [h for h in lan.up_hosts() if h.ipv6]
    for dns_server, family, attr in ((lan.dns_servers[0], [], 'ipv4'), (lan.dns_servers[1], ['-6'], 'ipv6')):
        found = scan(lan, *family, '-sn', '-R', '--dns-servers', dns_server, *[getattr(h, attr) for h in hosts])
        assert dict((a, i['names']) for a, i in found.items()) == \
            dict((getattr(h, attr), [lan.fqdn(h.name)]) for h in hosts), dns_server
    # without --dns-servers nmap reads the scanner namespace's resolv.conf: the LAN's DNS again
    found = scan(lan, '-sn', '-R', lan.host('alpha').ipv4, lan.infra['dns'].ipv4)
    assert found[lan.host('alpha').ipv4]['names'] == ['alpha.lan.test']
    assert found[lan.infra['dns'].ipv4]['names'] == ['dns.lan.test']
    # addresses without a record get no name (NXDOMAIN from the LAN's DNS, not a timeout)
    found = scan(lan, '-sn', '-R', '--dns-servers', lan.dns_servers[0], lan.host('india').extra_ipv4[0])
    assert found[lan.host('india').extra_ipv4[0]]['names'] == []


def test_ipv6_ping_scan_of_known_addresses(lan):
    targets = [a for h in lan.hosts for a in [h.ipv6] + list(h.extra_ipv6) if a]
    found = scan(lan, '-6', '-sn', '-n', *targets, lan.infra['dns'].ipv6)
    expected = set(a for h in lan.up_hosts() for a in [h.ipv6] + list(h.extra_ipv6) if a) | {lan.infra['dns'].ipv6}
    assert up_addresses(found) == expected
    for host in lan.up_hosts():
        if host.ipv6:
            assert (found[host.ipv6]['mac'], found[host.ipv6]['reason']) == (host.mac, 'nd-response')
    assert found['fd00:18:10::f0']['mac'] == lan.host('india').mac


def test_no_route_out_of_the_lan(lan):
    for ns in lan.namespaces:
        assert lan.exec(ns, ['ip', 'route', 'show', 'default']).stdout == ''
        assert lan.exec(ns, ['ip', '-6', 'route', 'show', 'default']).stdout == ''
    # route lookups only: nothing is sent
    for argv in (['ip', 'route', 'get', '192.0.2.1'], ['ip', '-6', 'route', 'get', '2001:db8::1']):
        proc = lan.exec('scanner', argv)
        assert proc.returncode != 0 and 'unreachable' in proc.stderr.lower(), proc
    assert lan.exec('scanner', ['ip', 'route', 'get', lan.host('alpha').ipv4]).returncode == 0
    assert lan.exec('switch', ['ip', '-o', 'addr', 'show', 'br0']).stdout.count('inet') == 0


def test_nmap_wrapper_passes_arguments_and_exit_code(lan, tmp_path):
    assert os.access(lan.nmap_wrapper, os.X_OK)
    out = tmp_path / 'scan result.txt'
    proc = subprocess.run([lan.nmap_wrapper, '-sn', '-n', '-oN', str(out), lan.host('alpha').ipv4],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and 'Host is up' in out.read_text(encoding='utf-8')
    proc = subprocess.run([lan.nmap_wrapper, '--no-such-option'], capture_output=True, text=True, timeout=60, check=False)
    direct = subprocess.run(['nmap', '--no-such-option'], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == direct.returncode != 0
    ifaces = subprocess.run([lan.nmap_wrapper, '--iflist'], capture_output=True, text=True, timeout=60, check=False)
    assert '198.18.10.2/24' in ifaces.stdout and 'eth0' in ifaces.stdout


def test_two_lans_coexist(lan):
    hosts = [HostSpec('one'), HostSpec('two'), HostSpec('three', up=False)]
    with Lan(ipv4='198.18.20.0/24', ipv6='fd00:18:20::/64', hosts=hosts) as second:
        assert set(second.namespaces).isdisjoint(lan.namespaces)
        found = scan(second, '-sn', '-n', '198.18.20.0/24', '198.18.10.0/24')
        assert up_addresses(found) == {'198.18.20.2', '198.18.20.53', '198.18.20.10', '198.18.20.11'}
        assert found['198.18.20.10']['mac'] == second.host('one').mac
        assert '198.18.10.10' in up_addresses(scan(lan, '-sn', '-n', '198.18.10.10', '198.18.20.10'))
        names = scan(second, '-sn', '-R', '198.18.20.10')['198.18.20.10']['names']
        assert names == ['one.lan.test']
    assert not [ns for ns in netlan.list_netns() if ns in second.namespaces]
    assert not lan.check()


def _leftovers(the_lan, pid):
    namespaces = [ns for ns in netlan.list_netns() if ns.startswith(netlan.NS_PREFIX + the_lan.tag + '-')]
    return namespaces, netlan.process_alive(pid), os.path.exists(the_lan.dir), \
        os.path.exists(os.path.join(netlan.ETC_NETNS, the_lan.scanner_ns))


def test_destroy_leaves_nothing_and_can_run_twice(netns_ok):  # pylint: disable=unused-argument
    the_lan = Lan(ipv4='198.18.21.0/24', ipv6='fd00:18:21::/64', hosts=netlan.make_hosts(3)).create()
    pid = the_lan.dnsmasq_pid
    assert the_lan.check() == [] and _leftovers(the_lan, pid)[0]
    the_lan.destroy()
    the_lan.destroy()
    assert _leftovers(the_lan, pid) == ([], False, False, False)


def test_failed_create_removes_what_was_built(netns_ok, monkeypatch):  # pylint: disable=unused-argument
    def broken(self):
        raise NetLanError('dnsmasq exploded')

    the_lan = Lan(ipv4='198.18.22.0/24', ipv6='fd00:18:22::/64', hosts=netlan.make_hosts(3))
    monkeypatch.setattr(Lan, '_start_dns', broken)
    with pytest.raises(NetLanError, match='exploded'):
        the_lan.create()
    assert _leftovers(the_lan, 0) == ([], False, False, False)
    assert not the_lan.created


def test_cleanup_stale_removes_lans_of_dead_processes_only(lan):
    keep = 'keep' + secrets.token_hex(3)
    code = ('import os, sys; sys.path.insert(0, %r); import netlan\n'
            "a = netlan.Lan(ipv4='198.18.23.0/24', ipv6='fd00:18:23::/64', hosts=netlan.make_hosts(2)).create()\n"
            "b = netlan.Lan(name=%r, ipv4='198.18.24.0/24', ipv6=None, hosts=['x'], persistent=True).create()\n"
            "print(a.tag, a.dnsmasq_pid, flush=True)\n"
            'os._exit(0)\n' % (HARNESS, keep))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120, check=True)
    tag, pid = proc.stdout.split()
    stale = Lan.attach(tag)
    assert stale.check() == [] and netlan.process_alive(int(pid))
    try:
        removed = netlan.cleanup_stale()
        assert tag in removed and keep not in removed and lan.tag not in removed
        assert _leftovers(stale, int(pid)) == ([], False, False, False)
        assert lan.check() == []
        assert Lan.attach(keep).check() == []
    finally:
        netlan.remove_lan(keep)
        netlan.remove_lan(tag)
    assert not [ns for ns in netlan.list_netns() if ns.startswith(netlan.NS_PREFIX + keep + '-')]


def test_sixty_hosts_come_up_fast(netns_ok):  # pylint: disable=unused-argument
    started = time.monotonic()
    with Lan(ipv4='198.18.25.0/24', ipv6='fd00:18:25::/64', hosts=netlan.make_hosts(60, down=[7])) as big:
        elapsed = time.monotonic() - started
        assert elapsed < 30, big.timings
        found = scan(big, '-sn', '-n', '198.18.25.0/24')
        assert len(up_addresses(found)) == 59 + 2
        assert big.host('h7').ipv4 not in up_addresses(found)
        assert dict((h.ipv4, h.mac) for h in big.up_hosts()) == \
            dict((a, i['mac']) for a, i in found.items() if a not in big.dns_servers + ['198.18.25.2'])
    print('60 hosts: created in %.2f s %s' % (elapsed, dict((k, round(v, 3)) for k, v in big.timings.items())))
