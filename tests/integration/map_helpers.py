# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small, realistic network for the network map: seeded through phpIPAM's API, read back from SVG and HTML.

Two customers (sections) with a bastion, a hypervisor running three VMs, and a customer reached over two jump
hosts; lastSeen values in every status band. Used by test_network_map.py and by bench/map_render.py --example
(the picture in docs/network-map.md). Addresses in 198.18.0.0/15 only.
"""

import datetime
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

SVG = '{http://www.w3.org/2000/svg}'

ACME = 'Acme "North" {EU}'
GLOBEX = 'Globex & Co'
# A description phpIPAM keeps as is (it strips <tags> but not quotes, braces, & or a lone <), full of things that
# would break DOT, HTML or Jinja if they were not escaped.
TRICKY_DESCRIPTION = 'web "frontend" {{ lookup(\'pipe\', \'id\') }} & a < b'


def seed_example(api, now):
    """Create the example network; returns {'sections': {name: id}, 'subnets': {cidr: id}, 'device': id,
    'hosts': {hostname: address id}}."""
    def ago(**delta):
        return now - datetime.timedelta(**delta)

    sections = {}
    for name, description in ((ACME, 'customer Acme'), (GLOBEX, 'customer Globex')):
        sections[name] = api.create('sections', {'name': name, 'description': description}).id
    subnets = {}
    for cidr, section, fields in (
            ('198.18.70.0/24', ACME, {'description': 'acme servers'}),
            ('198.18.71.0/24', ACME, {'description': 'acme vms', 'custom_ssh_jump': 'bastion.acme.test',
                                      'custom_ssh_user': 'ops'}),
            ('198.18.72.0/24', GLOBEX, {'description': 'globex databases', 'custom_ssh_jump': 'gw.globex.test'})):
        net, mask = cidr.split('/')
        subnets[cidr] = api.create('subnets', dict(fields, subnet=net, mask=int(mask), sectionId=sections[section])).id
    device = api.create('devices', {'hostname': 'hv1.acme.test', 'ip_addr': '198.18.70.20',
                                    'description': 'KVM hypervisor'}).id
    hosts = {}
    for ip, cidr, hostname, fields in (
            ('198.18.70.10', '198.18.70.0/24', 'bastion.acme.test', {'lastSeen': ago(minutes=2), 'mac': '02:00:00:70:00:10'}),
            ('198.18.70.20', '198.18.70.0/24', 'hv1.acme.test', {'lastSeen': ago(minutes=45), 'description': 'hypervisor'}),
            ('198.18.71.11', '198.18.71.0/24', 'vm-a.acme.test', {'lastSeen': ago(minutes=5), 'deviceId': device,
                                                                  'mac': '02:00:00:71:00:11',
                                                                  'description': TRICKY_DESCRIPTION}),
            ('198.18.71.12', '198.18.71.0/24', 'vm-b.acme.test', {'lastSeen': ago(hours=3), 'deviceId': device}),
            ('198.18.71.13', '198.18.71.0/24', 'vm-c.acme.test', {'deviceId': device}),
            ('198.18.72.1', '198.18.72.0/24', 'gw.globex.test', {'lastSeen': ago(minutes=1), 'is_gateway': 1,
                                                                 'custom_ssh_jump': 'admin@bastion.acme.test'}),
            ('198.18.72.7', '198.18.72.0/24', 'db1.globex.test', {'lastSeen': ago(minutes=10)}),
            ('198.18.72.8', '198.18.72.0/24', 'db2.globex.test', {})):
        data = dict(fields, ip=ip, subnetId=subnets[cidr], hostname=hostname)
        hosts[hostname] = int(api.create('addresses', data).id)
    return {'sections': sections, 'subnets': dict((k, int(v)) for k, v in subnets.items()), 'device': int(device),
            'hosts': hosts}


def svg_graph(svg_bytes):
    """{'nodes': {title: element}, 'edges': set of 'a->b', 'clusters': {title: element}} of a Graphviz SVG."""
    root = ET.fromstring(svg_bytes)
    found = {'nodes': {}, 'edges': set(), 'clusters': {}}
    for group in root.iter(SVG + 'g'):
        kind = group.get('class')
        title = group.find(SVG + 'title')
        if title is None:
            continue
        if kind == 'node':
            found['nodes'][title.text] = group
        elif kind == 'edge':
            found['edges'].add(title.text)
        elif kind == 'cluster':
            found['clusters'][title.text] = group
    return found


def shape_fill(group):
    """The fill colour of a node's outline shape (path or polygon)."""
    for element in group.iter():
        if element.tag in (SVG + 'path', SVG + 'polygon') and element.get('fill') not in (None, 'none'):
            return element.get('fill')
    return None


def bounding_box(group):
    """(xmin, ymin, xmax, ymax) of the points of a group's path/polygon outlines."""
    numbers = []
    for element in group.iter():
        if element.tag == SVG + 'path':
            numbers += [float(n) for n in re.findall(r'-?\d+(?:\.\d+)?', element.get('d', ''))]
        elif element.tag == SVG + 'polygon':
            numbers += [float(n) for n in re.findall(r'-?\d+(?:\.\d+)?', element.get('points', ''))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def inside(inner, outer):
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def chromium_binary():
    for name in ('chromium', 'chromium-browser', 'google-chrome'):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(args, profile_dir, timeout=120):
    """Run headless Chromium with its own profile directory (several may run at once on this machine)."""
    argv = [chromium_binary(), '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
            '--user-data-dir=%s' % profile_dir] + list(args)
    env = dict(os.environ, HOME=profile_dir)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=env)
