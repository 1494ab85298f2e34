# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's workloads: a namespace LAN each, and what phpIPAM holds before the first cycle.

* W1: one /24, 60 hosts up with distinct MACs (one namespace each), 20 known-but-down addresses.
* W2: one /16, 4,000 hosts up (spread over the whole /16, 500 addresses on each of 8 namespaces),
  phpIPAM holding those 4,000 plus 1,000 stale addresses.
* W3: 100 subnets of /24, 10 hosts up in each (10 namespaces, one address per subnet on each).

Addresses: 198.18.60.0/24 (W1), 198.19.0.0/16 (W2), 198.18.100-199.0/24 inside a 198.18.0.0/16 LAN (W3),
so the scanner and DNS server of W3 (198.18.0.2, 198.18.0.53) lie outside its subnets. The LAN's
scanner and DNS server do lie inside the W1 and W2 subnets, so a scan also finds those two.
"""

import datetime
import ipaddress
from concurrent.futures import ThreadPoolExecutor

from netlan import HostSpec  # pylint: disable=import-error

STALE_SEEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class Workload(object):
    """One workload: LAN arguments, phpIPAM subnets and known addresses, and the truth a scan should find."""

    def __init__(self, name, title, lan_ipv4, hosts, subnets, known, relay):
        self.name = name
        self.title = title
        self.lan_ipv4 = lan_ipv4
        self.hosts = hosts  # HostSpecs of the LAN
        self.subnets = subnets  # CIDRs, all ping + discover + resolveDNS
        self.known = known  # ip -> fields phpIPAM holds before the first cycle
        self.relay = relay

    def live_ips(self, infra):
        """Every address that answers inside the workload's subnets (hosts plus LAN infrastructure)."""
        networks = [ipaddress.ip_network(cidr) for cidr in self.subnets]
        ips = []
        for spec in list(self.hosts) + list(infra):
            for text in [spec.ipv4] + list(spec.extra_ipv4):
                if text and any(ipaddress.ip_address(text) in net for net in networks):
                    ips.append(text)
        return sorted(set(ips), key=lambda ip: int(ipaddress.ip_address(ip)))

    def subnet_of(self, ip):
        address = ipaddress.ip_address(ip)
        for cidr in self.subnets:
            if address in ipaddress.ip_network(cidr):
                return cidr
        return None


def _spread(base, count, step, offset):
    first = int(ipaddress.ip_address(base))
    return [str(ipaddress.ip_address(first + step * k + offset)) for k in range(1, count + 1)]


def _grouped_hosts(prefix, addresses, groups):
    hosts = []
    size = (len(addresses) + groups - 1) // groups
    for index in range(groups):
        chunk = addresses[index * size:(index + 1) * size]
        if chunk:
            hosts.append(HostSpec('%s%d' % (prefix, index), ipv4=chunk[0], ipv6=False, extra_ipv4=tuple(chunk[1:])))
    return hosts


def w1():
    hosts = [HostSpec('w1h%d' % n, ipv4='198.18.60.%d' % n, ipv6=False, mac='02:00:c6:12:3c:%02x' % n)
             for n in range(100, 160)]
    known = dict(('198.18.60.%d' % n, {'description': 'known, switched off', 'lastSeen': STALE_SEEN})
                 for n in range(200, 220))
    return Workload('W1', 'one /24: 60 hosts up (distinct MACs), 20 known-but-down', '198.18.60.0/24', hosts,
                    ['198.18.60.0/24'], known, relay=True)


def w2(live=4000, stale=1000):
    up = _spread('198.19.0.0', live, 16, 7)
    down = _spread('198.19.0.0', stale, 16, 11)
    known = dict((ip, {'description': 'inventory'}) for ip in up)
    known.update((ip, {'description': 'gone', 'lastSeen': STALE_SEEN}) for ip in down)
    return Workload('W2', 'one /16: %d hosts up, phpIPAM holding them plus %d stale' % (live, stale),
                    '198.19.0.0/16', _grouped_hosts('w2g', up, 8), ['198.19.0.0/16'], known, relay=True)


def w3(subnets=100, per_subnet=10):
    cidrs = ['198.18.%d.0/24' % (100 + i) for i in range(subnets)]
    hosts = []
    for j in range(per_subnet):
        ips = ['198.18.%d.%d' % (100 + i, 10 + j) for i in range(subnets)]
        hosts.append(HostSpec('w3g%d' % j, ipv4=ips[0], ipv6=False, extra_ipv4=tuple(ips[1:])))
    return Workload('W3', '%d subnets of /24, %d hosts up in each' % (subnets, per_subnet), '198.18.0.0/16', hosts,
                    cidrs, {}, relay=False)


WORKLOADS = {'W1': w1, 'W2': w2, 'W3': w3}


class Seeded(object):
    """What seed() created in phpIPAM for a workload."""

    def __init__(self, agent_id, agent_code, subnet_ids, nameserver_id):
        self.agent_id = agent_id
        self.agent_code = agent_code
        self.subnet_ids = subnet_ids  # cidr -> id
        self.nameserver_id = nameserver_id


def seed(client, instance, workload, lan, agent_code, workers=8):
    """Create the workload's agent, name server, subnets and known addresses through the API."""
    agent_id = client.create('tools/scanagents', {'name': 'bench-%s' % workload.name.lower(), 'type': 'api',
                                                  'description': 'ipamkit benchmark', 'code': agent_code}).id
    ns_id = client.create('tools/nameservers', {'name': 'bench-%s-dns' % workload.name.lower(),
                                                'namesrv1': ';'.join(lan.dns_servers),
                                                'description': 'dnsmasq of the benchmark LAN'}).id
    section = instance.sections['Lab']

    def subnet(cidr):
        network = ipaddress.ip_network(cidr)
        return cidr, client.create('subnets', {
            'subnet': str(network.network_address), 'mask': network.prefixlen, 'sectionId': section,
            'description': 'bench %s' % workload.name, 'pingSubnet': True, 'discoverSubnet': True,
            'resolveDNS': True, 'nameserverId': ns_id, 'scanAgent': agent_id}).id

    with ThreadPoolExecutor(max_workers=workers) as pool:
        subnet_ids = dict(pool.map(subnet, workload.subnets))

        def address(item):
            ip, fields = item
            client.create('addresses', dict(fields, ip=ip, subnetId=subnet_ids[workload.subnet_of(ip)]))

        list(pool.map(address, sorted(workload.known.items())))
    return Seeded(agent_id, agent_code, subnet_ids, ns_id)
