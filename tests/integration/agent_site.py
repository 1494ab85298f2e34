# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan agent's test site: a network-namespace LAN and a phpIPAM agent of its own with the LAN's subnets.

Shared by the agent's and the relay's integration tests. The LAN (198.18.10.0/24 and
fd00:18:10::/64) lives in namespaces the test creates, with no route out; nmap runs inside it
through the LAN's nmap wrapper.
"""

import datetime
import os

import pytest
import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient

from netlan import HostSpec, Lan  # pylint: disable=import-error

V4 = '198.18.10.0/24'
V6 = 'fd00:18:10::/64'
AUTO = '-- autodiscovered --'

HOSTS = [
    HostSpec('h11', ipv4='198.18.10.11', ipv6='fd00:18:10::11', mac='02:00:c6:12:0a:0b'),
    HostSpec('h12', ipv4='198.18.10.12', ipv6='fd00:18:10::12', mac='02:00:c6:12:0a:0c'),
    HostSpec('h13', ipv4='198.18.10.13', ipv6=False, mac='02:00:c6:12:0a:0d'),
    HostSpec('h14', ipv4='198.18.10.14', ipv6=False, mac='02:00:c6:12:0a:0e'),
    HostSpec('h15', ipv4='198.18.10.15', ipv6=False, mac='02:00:c6:12:0a:0f'),
    HostSpec('h16', ipv4='198.18.10.16', ipv6=False, mac='02:00:c6:12:0a:10'),
    HostSpec('h17', ipv4='198.18.10.17', ipv6=False, mac='02:00:c6:12:0a:11'),
    HostSpec('h20', ipv4='198.18.10.20', ipv6=False, up=False),
    HostSpec('h21', ipv4='198.18.10.21', ipv6=False, up=False),
]

# What phpIPAM knows before the first cycle (ip -> fields).
KNOWN = {
    '198.18.10.11': {'hostname': 'h11.lan.test', 'mac': '02:00:c6:12:0a:0b', 'lastSeen': '2026-01-01 00:00:00'},
    '198.18.10.12': {'description': 'known, no MAC, no name'},
    '198.18.10.13': {'hostname': 'printer-by-hand', 'description': 'a name a person entered'},
    '198.18.10.14': {'description': 'reserved', 'tag': 3},
    '198.18.10.17': {'description': 'not to be pinged', 'excludePing': 1},
    '198.18.10.20': {'description': AUTO, 'lastSeen': '2026-01-01 00:00:00'},
    '198.18.10.21': {'hostname': 'h21-by-hand', 'description': 'entered by a person', 'lastSeen': '2026-01-01 00:00:00'},
    'fd00:18:10::11': {'hostname': 'h11.lan.test'},
}


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def recent(value, seconds=300):
    return value is not None and abs((now_utc() - value).total_seconds()) < seconds


@pytest.fixture
def lan(netns_ready):  # pylint: disable=unused-argument
    with Lan(ipv4=V4, ipv6=V6, hosts=HOSTS) as the_lan:
        yield the_lan


class Site(object):
    """The test's phpIPAM side: a scan agent of its own with the LAN's two subnets and known addresses."""

    def __init__(self, phpipam, lan, tmp_path):
        self.phpipam = phpipam
        self.lan = lan
        self.tmp = tmp_path
        self.api = PhpipamClient(phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'),
                                 ca_path=phpipam.ca_path)
        self.agent_code = 'lan-agent-code-%d' % os.getpid()
        self.agent_id = self.api.create('tools/scanagents', {'name': 'lan-agent', 'description': 'netns LAN agent',
                                                             'type': 'api', 'code': self.agent_code}).id
        dns = self.api.create('tools/nameservers', {'name': 'lan-dns', 'namesrv1': ';'.join(lan.dns_servers),
                                                    'description': 'the LAN dnsmasq'}).id
        section = phpipam.sections['Lab']
        self.v4 = self.api.create('subnets', {'subnet': '198.18.10.0', 'mask': 24, 'sectionId': section,
                                              'description': 'netns LAN', 'pingSubnet': True, 'discoverSubnet': True,
                                              'resolveDNS': True, 'nameserverId': dns, 'scanAgent': self.agent_id}).id
        self.v6 = self.api.create('subnets', {'subnet': 'fd00:18:10::', 'mask': 64, 'sectionId': section,
                                              'description': 'netns LAN v6', 'pingSubnet': True,
                                              'discoverSubnet': False, 'scanAgent': self.agent_id}).id
        for ip, fields in KNOWN.items():
            body = dict(fields, ip=ip, subnetId=self.v6 if ':' in ip else self.v4)
            self.api.create('addresses', body)

    def config(self, name='scan_agent.yaml', **settings):
        data = {
            'phpipam_url': self.phpipam.https_url, 'phpipam_app_id': 'ansible_rw',
            'phpipam_token': self.phpipam.app_code('ansible_rw'), 'phpipam_ca_path': self.phpipam.ca_path,
            'phpipam_timezone': 'UTC', 'agent_code': self.agent_code, 'nmap_path': self.lan.nmap_wrapper,
            'lock_path': str(self.tmp / 'agent.lock'), 'cache_dir': str(self.tmp / 'cache'),
        }
        data.update(settings)
        path = self.tmp / name
        path.write_text(yaml.safe_dump(data))
        path.chmod(0o600)
        return str(path)

    def addresses(self):
        found = {}
        for subnet in (self.v4, self.v6):
            for address in self.api.get_list('subnets/%d/addresses' % subnet):
                found[address['ip']] = address
        return found

    def agent(self):
        return self.api.get('tools/scanagents/%d' % self.agent_id)


@pytest.fixture
def site(phpipam, lan, tmp_path):
    return Site(phpipam, lan, tmp_path)
