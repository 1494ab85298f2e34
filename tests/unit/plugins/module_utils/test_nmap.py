# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/nmap: run planning, argv, the XML parser on real nmap output, host assignment, the runner.

The XML and --iflist files under tests/unit/fixtures/nmap/ are real nmap 7.93 output, captured by
capture.py there (loopback and a throw-away LAN in network namespaces). The runner tests start fake
"nmap" shell scripts only: nothing here sends a packet.
"""

import ipaddress
import os
import subprocess
import time

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.nmap import (
    NmapError,
    assign_hosts,
    build_argv,
    locate_nmap,
    needs_interfaces,
    parse_iflist,
    parse_subnets,
    parse_xml,
    plan_scan,
    scan,
)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'fixtures', 'nmap')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


def subnet(subnet_id, cidr, ping=True, discover=True, dns=None, addresses=(), **extra):
    """A subnet as scan_agent_info returns it; ``addresses`` holds IPs, ``!ip`` for excludePing."""
    record = {'id': subnet_id, 'cidr': cidr, 'ip_version': ipaddress.ip_network(cidr).version, 'pingSubnet': ping,
              'discoverSubnet': discover, 'resolveDNS': dns is not None, 'dns_servers': dns or [],
              'addresses': [{'ip': ip.lstrip('!'), 'excludePing': ip.startswith('!'), 'id': n, 'tag': 2}
                            for n, ip in enumerate(addresses)]}
    record.update(extra)
    return record


def plan(subnets, privileged=True, ipv6_discovery=True, interfaces=None):
    parsed, _warnings = parse_subnets(subnets)
    return plan_scan(parsed, privileged, ipv6_discovery, interfaces)


def runs_of(result):
    return [(r.family, r.resolve, list(r.dns_servers), r.interface, [s.id for s in r.subnets]) for r in result.runs]


def targets_of(run):
    return [str(block) for block in run.targets]


# The subnets the loopback fixtures were captured with (capture.py).
LOOPBACK = [subnet(1, '127.0.10.0/28', addresses=['127.0.10.1', '!127.0.10.5']),
            subnet(2, '127.0.20.0/28', discover=False, addresses=['127.0.20.3', '127.0.20.9'])]
LAN6 = [subnet(11, 'fd00:77::/64', dns=['198.18.77.13'], addresses=['fd00:77::11', '!fd00:77::14', 'fd00:77::99'])]


# ------------------------------------------------------------------- run planning


@pytest.mark.parametrize('subnets, expected', [
    pytest.param([subnet(1, '198.18.1.0/24'), subnet(2, '198.18.2.0/24')],
                 [(4, False, [], None, [1, 2])], id='no DNS: one -n run'),
    pytest.param([subnet(1, '198.18.1.0/24', dns=['198.18.0.53', '198.18.0.54']),
                  subnet(2, '198.18.2.0/24', dns=['198.18.0.53', '198.18.0.54']),
                  subnet(3, '198.18.3.0/24', dns=['198.18.0.54']),
                  subnet(4, '198.18.4.0/24')],
                 [(4, True, ['198.18.0.53', '198.18.0.54'], None, [1, 2]), (4, True, ['198.18.0.54'], None, [3]),
                  (4, False, [], None, [4])], id='one run per DNS-server set'),
    pytest.param([subnet(1, '198.18.1.0/24', dns=[]), subnet(2, '198.18.2.0/24')],
                 [(4, True, [], None, [1]), (4, False, [], None, [2])], id='resolveDNS without servers: system resolver'),
    pytest.param([subnet(5, 'fd00:5::/64', addresses=['fd00:5::1']), subnet(1, '198.18.1.0/24'),
                  subnet(6, 'fd00:6::/64', addresses=['fd00:6::1'])],
                 [(4, False, [], None, [1]), (6, False, [], None, [5, 6])], id='one run per family, IPv4 first'),
    pytest.param([subnet(1, '198.18.1.0/24', ping=False, discover=False), subnet(2, '198.18.2.0/24', ping=False)],
                 [(4, False, [], None, [2])], id='neither flag: not scanned'),
    pytest.param([subnet(1, '198.18.1.0/24', dns=['198.18.0.53', ' 198.18.0.53'])],
                 [(4, True, ['198.18.0.53'], None, [1])], id='duplicate servers count once'),
])
def test_runs_group_by_family_and_dns_set(subnets, expected):
    assert runs_of(plan(subnets)) == expected


@pytest.mark.parametrize('subnets, targets, excludes, count', [
    pytest.param([subnet(1, '127.0.10.0/28', ping=False)],
                 ['127.0.10.1/32', '127.0.10.2/31', '127.0.10.4/30', '127.0.10.8/30', '127.0.10.12/31', '127.0.10.14/32'],
                 [], 14, id='discover: the CIDR less network and broadcast'),
    pytest.param(LOOPBACK,
                 ['127.0.10.1/32', '127.0.10.2/31', '127.0.10.4/30', '127.0.10.8/30', '127.0.10.12/31', '127.0.10.14/32',
                  '127.0.20.3/32', '127.0.20.9/32'],
                 ['127.0.10.5'], 15, id='excludePing goes to --excludefile; ping-only probes its known addresses'),
    pytest.param([subnet(1, '198.18.0.0/31'), subnet(2, '198.18.0.8/32')], ['198.18.0.0/31', '198.18.0.8/32'], [], 3,
                 id='/31 and /32 have no network or broadcast address'),
    pytest.param([subnet(1, '198.18.0.0/30', isPool=True)], ['198.18.0.0/30'], [], 4, id='pools are swept whole'),
    pytest.param([subnet(1, '198.18.0.0/30', isPool='1', pingSubnet='0', discoverSubnet='1')],
                 ['198.18.0.0/30'], [], 4, id='flags as phpIPAM strings'),
    pytest.param([subnet(1, '198.18.0.0/24', discover=False, addresses=['!198.18.0.9'])], [], ['198.18.0.9'], 0,
                 id='ping-only without pingable addresses: no targets'),
    pytest.param([subnet(1, 'fd00:1::/64', addresses=['fd00:1::1', 'fd00:1::2', '!fd00:1::3'])],
                 ['fd00:1::1/128', 'fd00:1::2/128'], ['fd00:1::3'], 2, id='IPv6 discover: never swept, known only'),
    pytest.param([subnet(1, 'fd00:1::/64', ping=False, addresses=['fd00:1::1'])], ['fd00:1::1/128'], [], 1,
                 id='IPv6 discover-only: known addresses status-checked'),
    pytest.param([subnet(1, '198.18.0.0/24', addresses=['!198.18.0.9']),
                  subnet(2, '198.18.0.0/24', discover=False, addresses=['198.18.0.9'])],
                 ['198.18.0.1/32', '198.18.0.2/31', '198.18.0.4/30', '198.18.0.8/29', '198.18.0.16/28', '198.18.0.32/27',
                  '198.18.0.64/26', '198.18.0.128/26', '198.18.0.192/27', '198.18.0.224/28', '198.18.0.240/29',
                  '198.18.0.248/30', '198.18.0.252/31', '198.18.0.254/32'],
                 [], 254, id='excluded in one subnet, pinged in an overlapping one: probed'),
])
def test_targets_of_a_run(subnets, targets, excludes, count):
    result = plan(subnets)
    assert len(result.runs) <= 1
    run = result.runs[0]
    assert targets_of(run) == targets
    assert [str(ip) for ip in run.excludes] == excludes
    assert run.target_count == count


def test_nested_subnets_keep_their_own_settings():
    subnets = [subnet(1, '198.18.10.0/24'),
               subnet(2, '198.18.10.16/28', discover=False, addresses=['198.18.10.17']),
               subnet(3, '198.18.10.32/28', ping=False),
               subnet(4, '198.18.10.64/26', ping=False, discover=False, addresses=['198.18.10.70'])]
    result = plan(subnets)
    by_id = dict((s.id, s) for s in result.subnets)
    parent = [str(b) for b in by_id[1].sweep]
    # The parent's sweep skips its network/broadcast and every inner subnet's range, even an unscanned one.
    assert parent == ['198.18.10.1/32', '198.18.10.2/31', '198.18.10.4/30', '198.18.10.8/29', '198.18.10.48/28',
                      '198.18.10.128/26', '198.18.10.192/27', '198.18.10.224/28', '198.18.10.240/29',
                      '198.18.10.248/30', '198.18.10.252/31', '198.18.10.254/32']
    assert [str(b) for b in by_id[3].sweep] == ['198.18.10.33/32', '198.18.10.34/31', '198.18.10.36/30',
                                                '198.18.10.40/30', '198.18.10.44/31', '198.18.10.46/32']
    assert by_id[4].scanned is False
    run = result.runs[0]
    assert run.target_count == 254 - 64 - 16 - 16 + 1 + 14
    probed = set()
    for block in run.targets:
        probed.update(block)
    assert ipaddress.ip_address('198.18.10.17') in probed and ipaddress.ip_address('198.18.10.18') not in probed
    assert ipaddress.ip_address('198.18.10.70') not in probed and ipaddress.ip_address('198.18.10.32') not in probed


@pytest.mark.parametrize('privileged, ipv6_discovery, iflist, interface, warned', [
    (True, True, 'iflist-lan.txt', 'eth0', False),
    (False, True, 'iflist-lan.txt', None, False),
    (True, False, 'iflist-lan.txt', None, False),
    (True, True, 'iflist-linklocal-first.txt', None, True),
])
def test_ipv6_neighbour_discovery_needs_privilege_an_interface_and_a_source_inside(privileged, ipv6_discovery, iflist,
                                                                                   interface, warned):
    interfaces = parse_iflist(fixture(iflist))
    result = plan(LAN6, privileged, ipv6_discovery, interfaces)
    assert result.subnets[0].interface == interface
    assert [r.interface for r in result.runs] == [interface]
    assert bool(result.warnings) is warned
    if warned:
        assert 'from fe80::ff:fe77:2' in result.warnings[0] and 'fd00:77::/64' in result.warnings[0]


def test_ipv6_subnet_without_a_local_interface_is_only_status_checked():
    result = plan([subnet(1, 'fd00:99::/64', addresses=['fd00:99::1'])], interfaces=parse_iflist(fixture('iflist-lan.txt')))
    assert result.subnets[0].interface is None and result.warnings == []
    assert targets_of(result.runs[0]) == ['fd00:99::1/128']


def test_neighbour_discovery_on_two_interfaces_takes_two_runs():
    iflist = fixture('iflist-lan.txt').replace(
        'eth0 (eth0)  fd00:77::1/64  ethernet up 1500  02:00:00:77:00:01',
        'eth0 (eth0)  fd00:77::1/64  ethernet up 1500  02:00:00:77:00:01\n'
        'eth1 (eth1)  fd00:78::1/64  ethernet up 1500  02:00:00:78:00:01')
    subnets = LAN6 + [subnet(12, 'fd00:78::/64', dns=['198.18.77.13']),
                      subnet(13, 'fd00:79::/64', dns=['198.18.77.13'], addresses=['fd00:79::1'])]
    result = plan(subnets, interfaces=parse_iflist(iflist))
    assert runs_of(result) == [(6, True, ['198.18.77.13'], 'eth0', [11, 13]),
                               (6, True, ['198.18.77.13'], 'eth1', [12])]


def test_interfaces_are_only_listed_when_needed():
    parsed = parse_subnets(LOOPBACK + LAN6)[0]
    assert needs_interfaces(parsed, True, True) is True
    assert needs_interfaces(parsed, False, True) is False
    assert needs_interfaces(parsed, True, False) is False
    assert needs_interfaces(parse_subnets(LOOPBACK)[0], True, True) is False


def test_iflist_parser_keeps_nmaps_order():
    rows = parse_iflist(fixture('iflist-linklocal-first.txt'))
    assert [(r['device'], str(r['address']), r['type'], r['up'], r['mac']) for r in rows] == [
        ('lo', '127.0.0.1/8', 'loopback', True, None),
        ('lo', '::1/128', 'loopback', True, None),
        ('eth0', '198.18.77.2/24', 'ethernet', True, '02:00:00:77:00:02'),
        ('eth0', 'fe80::ff:fe77:2/64', 'ethernet', True, '02:00:00:77:00:02'),
        ('eth0', 'fd00:77::2/64', 'ethernet', True, '02:00:00:77:00:02'),
    ]


# ------------------------------------------------------------------- input validation


def test_input_tolerates_unknown_keys_and_strings():
    record = subnet('7', '198.18.0.0/24', relay_note='from cache', nameserverId=3)
    record['addresses'][0:0] = [{'ip': '198.18.0.5', 'excludePing': '1', 'extra': True}]
    record['pingSubnet'] = 'true'
    parsed, warnings = parse_subnets([record])
    assert parsed[0].id == 7 and parsed[0].ping is True
    assert [str(ip) for ip in parsed[0].excluded] == ['198.18.0.5'] and warnings == []


def test_addresses_outside_the_subnet_are_skipped_with_a_warning():
    parsed, warnings = parse_subnets([subnet(1, '198.18.0.0/24', discover=False, addresses=['198.18.0.5', '198.18.1.5'])])
    assert [str(ip) for ip in parsed[0].known] == ['198.18.0.5']
    assert warnings == ['subnets[0] (198.18.0.0/24): address 198.18.1.5 lies outside the subnet and is not probed']


def test_every_input_problem_is_reported_at_once():
    bad = [
        {'id': 1, 'cidr': '198.18.0.0/33'},
        subnet('x', '198.18.1.0/24'),
        subnet(3, '198.18.2.0/24', ip_version=6, dns=['ns1.example.com']),
        subnet(4, '198.18.3.0/24', pingSubnet='maybe', addresses=['198.18.3.400']),
        dict((k, v) for k, v in subnet(5, '198.18.4.0/24').items() if k != 'addresses'),
        'not a dict',
    ]
    with pytest.raises(NmapError) as caught:
        parse_subnets(bad)
    message = str(caught.value)
    for part in ["subnets[0]: cidr '198.18.0.0/33' is not a network", "subnets[1] (198.18.1.0/24): id 'x'",
                 'ip_version 6 does not match', "DNS server 'ns1.example.com'", "pingSubnet 'maybe' is not a boolean",
                 "addresses[0].ip '198.18.3.400'", 'subnets[4] (198.18.4.0/24): no addresses list',
                 'subnets[5] is not a dict']:
        assert part in message, message
    with pytest.raises(NmapError, match='must be a list'):
        parse_subnets({'cidr': '198.18.0.0/24'})


def test_an_unscanned_subnet_needs_no_addresses():
    record = dict((k, v) for k, v in subnet(1, '198.18.0.0/24', ping=False, discover=False).items() if k != 'addresses')
    assert parse_subnets([record])[0][0].scanned is False


# ------------------------------------------------------------------- argv


def one_run(subnets, **kwargs):
    return plan(subnets, **kwargs).runs[0]


TAIL = ['-oX', '/w/run1.xml', '-iL', '/w/run1.targets']
V4 = [subnet(1, '198.18.1.0/24')]
V6 = [subnet(1, 'fd00:1::/64', addresses=['fd00:1::1'])]


@pytest.mark.parametrize('subnets, privileged, options, expected', [
    pytest.param(V4, True, {}, ['nmap', '-sn', '-T4', '--privileged', '-n'] + TAIL, id='IPv4 without DNS'),
    pytest.param([subnet(1, '198.18.1.0/24', dns=['127.0.0.1', '::1'])], True, {},
                 ['nmap', '-sn', '-T4', '--privileged', '--dns-servers', '127.0.0.1,::1'] + TAIL, id='DNS servers'),
    pytest.param([subnet(1, '198.18.1.0/24', dns=[])], True, {}, ['nmap', '-sn', '-T4', '--privileged'] + TAIL,
                 id='system resolver'),
    pytest.param(V6, False, {}, ['nmap', '-sn', '-6', '-T4', '--unprivileged', '-n'] + TAIL, id='IPv6 unprivileged'),
    pytest.param(V4, True, {'probe_ports': [22, 3389, 22]},
                 ['nmap', '-sn', '-T4', '--privileged', '-n', '-PE', '-PP', '-PS443,22,3389', '-PA80'] + TAIL,
                 id='probe ports keep the default probes'),
    pytest.param(V6, True, {'probe_ports': [443, 22]},
                 ['nmap', '-sn', '-6', '-T4', '--privileged', '-n', '-PE', '-PS443,22', '-PA80'] + TAIL,
                 id='IPv6 probe ports: no -PP'),
    pytest.param(V4, False, {'probe_ports': [22, 80]},
                 ['nmap', '-sn', '-T4', '--unprivileged', '-n', '-PS80,443,22'] + TAIL, id='unprivileged probe ports'),
    pytest.param(V4, True, {'timing': 2, 'max_rate': 0.5, 'host_timeout': '30'},
                 ['nmap', '-sn', '-T2', '--privileged', '-n', '--max-rate', '0.5', '--host-timeout', '30s'] + TAIL,
                 id='timing, rate, host timeout in seconds'),
    pytest.param(V4, True, {'min_rate': 3000, 'max_rate': 5000.0},
                 ['nmap', '-sn', '-T4', '--privileged', '-n', '--min-rate', '3000', '--max-rate', '5000'] + TAIL,
                 id='minimum and maximum rate'),
    pytest.param(V4, True, {'max_rate': 100.0, 'host_timeout': '500ms'},
                 ['nmap', '-sn', '-T4', '--privileged', '-n', '--max-rate', '100', '--host-timeout', '500ms'] + TAIL,
                 id='nmap time spec'),
])
def test_argv(subnets, privileged, options, expected):
    argv = build_argv('nmap', one_run(subnets), privileged, '/w/run1.xml', '/w/run1.targets', **options)
    assert argv == expected
    assert all(isinstance(item, str) for item in argv)


def test_argv_of_a_neighbour_discovery_run_with_excludes():
    run = one_run(LAN6, interfaces=parse_iflist(fixture('iflist-lan.txt')))
    argv = build_argv('/usr/bin/nmap', run, True, '/w/run1.xml', '/w/run1.targets', '/w/run1.exclude')
    assert argv == ['/usr/bin/nmap', '-sn', '-6', '-T4', '--privileged', '--dns-servers', '198.18.77.13',
                    '--script', 'targets-ipv6-multicast-echo',
                    '--script-args', 'newtargets,targets-ipv6-multicast-echo.interface=eth0'] + TAIL + \
        ['--excludefile', '/w/run1.exclude']


@pytest.mark.parametrize('options, message', [
    ({'timing': 6}, 'timing must be 0 to 5'),
    ({'max_rate': 0}, 'max_rate must be above 0'),
    ({'min_rate': 0}, 'min_rate must be above 0'),
    ({'min_rate': 500, 'max_rate': 100}, 'min_rate 500 must not be above max_rate 100'),
    ({'host_timeout': '5 minutes'}, "host_timeout '5 minutes'"),
    ({'host_timeout': '1;reboot'}, "host_timeout '1;reboot'"),
    ({'probe_ports': [0]}, 'probe_ports: 0 is not a TCP port'),
    ({'probe_ports': [65536]}, 'probe_ports: 65536'),
])
def test_argv_refuses_bad_options(options, message):
    with pytest.raises(NmapError, match=message):
        build_argv('nmap', one_run(V4), True, '/w/x', '/w/t', **options)


# ------------------------------------------------------------------- XML parser, on real nmap output


def hosts_of(name):
    return [(h['ip'], h['reason'], h['mac'], h['vendor'], h['hostname']) for h in parse_xml(fixture(name))['hosts']]


LAN4_HOSTS = [('198.18.77.1', 'localhost-response', None, None, 'agent.lan.test'),
              ('198.18.77.11', 'arp-response', '52:54:00:77:00:11', 'QEMU virtual NIC', 'printer.lan.test'),
              ('198.18.77.12', 'arp-response', '00:16:3e:77:00:12', 'Xensource', 'nas.lan.test'),
              ('198.18.77.13', 'arp-response', '02:42:c6:12:4d:0d', None, 'ns.lan.test')]


@pytest.mark.parametrize('name, expected', [
    pytest.param('lan-ipv4.xml', LAN4_HOSTS, id='LAN: ARP, MACs, vendors, PTR names; excludePing .14 absent'),
    pytest.param('lan-ipv4-probe-ports.xml', [h[:4] + (None,) for h in LAN4_HOSTS], id='LAN with -n: no names'),
    pytest.param('lan-ipv6.xml',
                 [('fd00:77::11', 'nd-response', '52:54:00:77:00:11', 'QEMU virtual NIC', 'printer.lan.test'),
                  ('fd00:77::13', 'nd-response', '02:42:c6:12:4d:0d', None, 'ns.lan.test'),
                  ('fd00:77::12', 'nd-response', '00:16:3e:77:00:12', 'Xensource', 'nas.lan.test')],
                 id='IPv6 neighbours; a target found twice is one host'),
    pytest.param('loopback-ipv6.xml', [('::1', 'localhost-response', None, None, None)], id='::1'),
])
def test_parser_hosts(name, expected):
    assert hosts_of(name) == expected


@pytest.mark.parametrize('name, reason, named', [
    ('loopback-privileged.xml', 'localhost-response', {}),
    ('loopback-unprivileged.xml', 'conn-refused', {}),
    ('loopback-names.xml', 'localhost-response', {'127.0.10.1': 'gw.lo.test', '127.0.10.2': 'web.lo.test',
                                                  '127.0.20.3': 'db.lo.test'}),
])
def test_parser_on_loopback_scans(name, reason, named):
    result = parse_xml(fixture(name))
    assert (result['version'], result['exit'], result['hosts_up']) == ('7.93', 'success', 15)
    assert result['started'].startswith('2026-') and result['started'].endswith('+00:00')
    assert set(h['reason'] for h in result['hosts']) == {reason}
    assert '127.0.10.5' not in [h['ip'] for h in result['hosts']]
    assert dict((h['ip'], h['hostname']) for h in result['hosts'] if h['hostname']) == named
    assert all(h['mac'] is None and h['state'] == 'up' for h in result['hosts'])


@pytest.mark.parametrize('text, message', [
    pytest.param(fixture('truncated.xml'), 'truncated or invalid XML', id='cut in the middle of a host'),
    pytest.param(fixture('killed.xml'), 'truncated or invalid XML', id='nmap killed mid-scan (SIGKILL)'),
    pytest.param(fixture('lan-ipv4.xml').replace('<runstats>', '<!-- -->').replace('</runstats>', ''),
                 'no <runstats><finished>', id='well-formed but unfinished'),
    pytest.param(fixture('error-exit.xml'), "exit='error': Failed to open exclude file", id='nmap error verdict'),
    pytest.param('', 'wrote no XML output', id='empty'),
    pytest.param('<?xml version="1.0"?><testsuites/>', 'not nmap output', id='not nmap'),
    pytest.param(fixture('lan-ipv4.xml').replace('scanner="nmap"', 'scanner="masscan"'), "scanner='masscan'",
                 id='another scanner'),
])
def test_parser_refuses_anything_but_a_finished_run(text, message):
    with pytest.raises(NmapError, match=message):
        parse_xml(text)


# ------------------------------------------------------------------- assigning hosts to subnets


def assigned(subnets, xml_name, **kwargs):
    result = plan(subnets, **kwargs)
    hosts = parse_xml(fixture(xml_name))['hosts']
    out = {}
    for run in result.runs:
        for index, found in assign_hosts(run, hosts).items():
            out[result.subnets[index].id] = [h['ip'] for h in found]
    return out


def test_loopback_hosts_go_to_their_subnets():
    found = assigned(LOOPBACK, 'loopback-privileged.xml')
    assert found[1] == ['127.0.10.%d' % n for n in range(1, 15) if n != 5]
    assert found[2] == ['127.0.20.3', '127.0.20.9']


def test_ipv6_neighbours_outside_the_subnet_are_dropped():
    interfaces = parse_iflist(fixture('iflist-lan.txt'))
    assert assigned(LAN6, 'lan-ipv6.xml', interfaces=interfaces) == {11: ['fd00:77::11', 'fd00:77::12', 'fd00:77::13']}
    # Asked from a link-local source, neighbours answer from fe80:: addresses: none of them is kept.
    result = plan(LAN6, interfaces=interfaces)
    hosts = parse_xml(fixture('lan-ipv6-linklocal-source.xml'))['hosts']
    assert len(hosts) == 6
    assert [h['ip'] for h in assign_hosts(result.runs[0], hosts)[0]] == ['fd00:77::11']


def test_without_neighbour_discovery_only_known_ipv6_addresses_count():
    assert assigned(LAN6, 'lan-ipv6.xml') == {11: ['fd00:77::11']}


def test_most_specific_subnet_wins_and_excluded_addresses_never_count():
    subnets = [subnet(1, '198.18.77.0/24', addresses=['!198.18.77.12']),
               subnet(2, '198.18.77.8/29', addresses=['198.18.77.11']),
               subnet(3, '198.18.77.8/29', discover=False, addresses=['198.18.77.13'])]
    assert assigned(subnets, 'lan-ipv4.xml') == {1: ['198.18.77.1'], 2: ['198.18.77.11', '198.18.77.13'],
                                                 3: ['198.18.77.13']}


def test_every_probed_address_lands_in_exactly_one_subnet():
    subnets = [subnet(1, '198.18.0.0/22', addresses=['!198.18.1.9'])]
    subnets += [subnet(2 + n, '198.18.%d.0/24' % n, discover=n % 2 == 0, addresses=['198.18.%d.5' % n, '!198.18.%d.6' % n])
                for n in range(3)]
    subnets.append(subnet(9, '198.18.2.128/25', ping=False, discover=False))
    run = plan(subnets).runs[0]
    probed = set()
    for block in run.targets:
        probed.update(block)
    probed -= set(run.excludes)
    hosts = [{'ip': str(ip)} for ip in ipaddress.ip_network('198.18.0.0/22')]
    found = assign_hosts(run, hosts)
    assigned = [ipaddress.ip_address(h['ip']) for index in found for h in found[index]]
    assert sorted(assigned) == sorted(probed)
    # /22: 198.18.3.0-254; .0/24: 254 less .6; .1/24 (ping-only): .5; .2/24: .1-.127 (the /25 is its own) less .6
    assert len(assigned) == run.target_count == 255 + 253 + 1 + 126
    assert [h['ip'] for h in found[2]] == ['198.18.1.5']


def test_hosts_keep_every_detail():
    result = plan([subnet(10, '198.18.77.0/24', dns=['198.18.77.13'])])
    found = assign_hosts(result.runs[0], parse_xml(fixture('lan-ipv4.xml'))['hosts'])[0]
    assert found[1] == {'ip': '198.18.77.11', 'state': 'up', 'reason': 'arp-response', 'mac': '52:54:00:77:00:11',
                        'vendor': 'QEMU virtual NIC', 'hostname': 'printer.lan.test'}


# ------------------------------------------------------------------- the runner, with fake nmap scripts


def run_command(argv, before_communicate_callback=None, handle_exceptions=True):
    """What AnsibleModule.run_command does, as far as the runner uses it."""
    assert handle_exceptions is False
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if before_communicate_callback:
        before_communicate_callback(proc)
    out, err = proc.communicate()
    return proc.returncode, out, err


def fake_nmap(tmp_path, body):
    """A shell script standing in for nmap: ``$XML`` is its -oX file, ``$FIXTURES`` the fixture folder."""
    path = tmp_path / 'nmap'
    path.write_text('#!/bin/sh\nFIXTURES=%s\nXML=$(printf "%%s\\n" "$@" | sed -n "/^-oX$/{n;p}")\n%s\n'
                    % (FIXTURES, body))
    path.chmod(0o755)
    return str(path)


def test_scan_returns_every_subnet_in_order(tmp_path):
    nmap = fake_nmap(tmp_path, 'cp "$FIXTURES/loopback-privileged.xml" "$XML"')
    subnets = LOOPBACK + [subnet(3, '198.18.0.0/24', ping=False, discover=False)]
    result, warnings = scan(subnets, nmap, run_command, True, scan_timeout=60)
    assert warnings == []
    assert result['nmap_version'] == '7.93' and result['privileged'] is True
    assert [(s['id'], s['scanned'], s['completed'], s['targets'], len(s['hosts'])) for s in result['subnets']] == [
        (1, True, True, 13, 13), (2, True, True, 2, 2), (3, False, False, 0, 0)]
    run = result['runs'][0]
    assert run['argv'][:5] == [nmap, '-sn', '-T4', '--privileged', '-n'] and run['rc'] == 0
    assert (run['exit'], run['hosts_up'], run['targets'], run['subnets']) == ('success', 15, 15, [1, 2])
    assert result['subnets'][0]['started'] == run['started'] and result['subnets'][2]['started'] is None


def test_scan_without_targets_starts_no_nmap(tmp_path):
    nmap = fake_nmap(tmp_path, 'exit 3')
    result, _warnings = scan([subnet(1, '198.18.0.0/24', discover=False)], nmap, run_command, True)
    assert result['runs'] == [] and result['nmap_version'] is None
    assert result['subnets'][0]['completed'] is True and result['subnets'][0]['hosts'] == []


def test_unprivileged_scan_warns(tmp_path):
    nmap = fake_nmap(tmp_path, 'cp "$FIXTURES/loopback-unprivileged.xml" "$XML"')
    result, warnings = scan(LOOPBACK, nmap, run_command, False)
    assert '--unprivileged' in result['runs'][0]['argv']
    assert len(warnings) == 1 and 'MAC addresses' in warnings[0] and 'IPv6 neighbour discovery' in warnings[0]


@pytest.mark.parametrize('body, timeout, message', [
    pytest.param('echo "Failed to open input file x" >&2; exit 1', None,
                 r'nmap run 1 \(IPv4, no DNS\) exited with status 1: Failed to open input file x', id='non-zero exit'),
    pytest.param('kill -9 $$', None, 'was killed by SIGKILL', id='killed'),
    pytest.param('cp "$FIXTURES/truncated.xml" "$XML"', None, 'truncated or invalid XML', id='truncated XML'),
    pytest.param('cp "$FIXTURES/error-exit.xml" "$XML"', None, "exit='error'", id='nmap error verdict'),
    pytest.param(':', None, 'wrote no XML file', id='no XML file'),
    pytest.param('exec sleep 30', 1, r'did not finish within scan_timeout \(1 s\)', id='timeout'),
])
def test_scan_failures(tmp_path, body, timeout, message):
    nmap = fake_nmap(tmp_path, body)
    with pytest.raises(NmapError, match=message) as caught:
        scan(LOOPBACK, nmap, run_command, True, scan_timeout=timeout)
    assert caught.value.run['argv'][0] == nmap


def test_timeout_stops_what_a_wrapper_started(tmp_path):
    pid_file = tmp_path / 'child.pid'
    nmap = fake_nmap(tmp_path, 'sleep 60 & echo $! > %s; wait' % pid_file)
    started = time.monotonic()
    with pytest.raises(NmapError, match='scan_timeout'):
        scan(LOOPBACK, nmap, run_command, True, scan_timeout=1)
    assert time.monotonic() - started < 15
    child = int(pid_file.read_text())
    time.sleep(0.2)
    try:
        with open('/proc/%d/stat' % child, encoding='ascii') as handle:
            state = handle.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        state = 'gone'
    assert state in ('gone', 'Z')  # a zombie is dead, waiting for its (new) parent to reap it


def test_locate_nmap(tmp_path):
    assert locate_nmap(None, lambda name: '/usr/bin/' + name) == '/usr/bin/nmap'
    assert locate_nmap('nmap7', lambda name: '/opt/bin/' + name) == '/opt/bin/nmap7'
    with pytest.raises(NmapError, match=r'nmap is not in PATH .*apt-get install nmap'):
        locate_nmap(None, lambda name: None)
    with pytest.raises(NmapError, match='nmap_path /nonexistent/nmap does not exist'):
        locate_nmap('/nonexistent/nmap', None)
    plain = tmp_path / 'nmap'
    plain.write_text('')
    with pytest.raises(NmapError, match='is not executable'):
        locate_nmap(str(plain), None)
