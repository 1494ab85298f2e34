# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipamkit.phpipam.network_map through real ansible-playbook runs against the real phpIPAM 1.8.2.

The example network of map_helpers.py is seeded through the API; the map is rendered by the real Graphviz, its
SVG read back as XML (Graphviz writes node and edge names in <title>), and the HTML page opened in headless
Chromium: a screenshot that must show the map, and the DOM after the page's script ran with a search in its URL.
"""

import json
import os
import re

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import utcnow
from integration_helpers import unavailable  # pylint: disable=import-error
from map_helpers import (  # pylint: disable=import-error
    ACME,
    GLOBEX,
    TRICKY_DESCRIPTION,
    bounding_box,
    chromium,
    chromium_binary,
    inside,
    seed_example,
    shape_fill,
    svg_graph,
)
from reservation_helpers import client, connection_vars  # pylint: disable=import-error

pytestmark = pytest.mark.integration

ALIVE, WARNING, OFFLINE, NEVER = '#c8e6c9', '#ffe0b2', '#ffcdd2', '#eeeeee'


@pytest.fixture
def example(phpipam, connection):
    with client(connection) as api:
        return seed_example(api, utcnow())


def read(path, mode='rb'):
    with open(path, mode) as handle:
        return handle.read()


@pytest.mark.smoke
def test_network_map_files_svg_and_idempotence(example, connection, run_playbook, tmp_path):
    map_dir = tmp_path / 'maps'
    map_dir.mkdir()
    run = run_playbook('network_map.yml', extra_vars=dict(connection_vars(connection), map_dir=str(map_dir)))
    assert run.returncode == 0, run.output[-3000:]
    hosts, subnets = example['hosts'], example['subnets']
    node = dict((name, 'h%d' % address_id) for name, address_id in hosts.items())

    first = run.result('Map')
    assert first['changed'] is True
    assert first['counts'] == {'sections': 2, 'subnets': 3, 'hosts': 8, 'hosts_drawn': 8, 'hosts_hidden': 0,
                               'devices': 1, 'jump_hosts_outside': 0, 'edges': 4}
    base = str(map_dir / 'network')
    assert first['files'] == {'dot': base + '.dot', 'svg': base + '.svg', 'png': base + '.png', 'html': base + '.html'}
    assert sorted(first['changed_files']) == sorted(first['files'].values())
    assert first['jump_problems'] == [] and first['graphviz']
    assert first['diff']['before'] == '' and first['diff']['after'] == read(base + '.dot', 'r')

    # The SVG, as Graphviz drew it: every host, the subnets, the device box, the jump edges.
    svg = svg_graph(read(base + '.svg'))
    assert set(node.values()) <= set(svg['nodes'])
    assert set('s%d' % i for i in subnets.values()) <= set(svg['nodes'])
    assert svg['edges'] - {'legend_jump->legend_target'} == {
        '%s->s%d' % (node['bastion.acme.test'], subnets['198.18.71.0/24']),  # the VM subnet is behind the bastion
        '%s->%s' % (node['bastion.acme.test'], node['gw.globex.test']),       # Globex: bastion, then its gateway
        '%s->%s' % (node['gw.globex.test'], node['db1.globex.test']),
        '%s->%s' % (node['gw.globex.test'], node['db2.globex.test']),
    }
    colours = dict((name, shape_fill(svg['nodes'][node[name]])) for name in node)
    assert colours == {'bastion.acme.test': ALIVE, 'hv1.acme.test': WARNING, 'vm-a.acme.test': ALIVE,
                       'vm-b.acme.test': OFFLINE, 'vm-c.acme.test': NEVER, 'gw.globex.test': ALIVE,
                       'db1.globex.test': ALIVE, 'db2.globex.test': NEVER}
    # The VMs are drawn inside their hypervisor's box, which is inside their subnet's, inside their customer's.
    device_box = bounding_box(svg['clusters']['cluster_device_%d_%d' % (subnets['198.18.71.0/24'], example['device'])])
    subnet_box = bounding_box(svg['clusters']['cluster_subnet_%d' % subnets['198.18.71.0/24']])
    section_box = bounding_box(svg['clusters']['cluster_section_%d' % example['sections'][ACME]])
    for vm in ('vm-a.acme.test', 'vm-b.acme.test', 'vm-c.acme.test'):
        assert inside(bounding_box(svg['nodes'][node[vm]]), device_box), vm
    assert inside(device_box, subnet_box) and inside(subnet_box, section_box)
    assert not inside(bounding_box(svg['nodes'][node['bastion.acme.test']]), subnet_box)
    texts = [''.join(t.itertext()) for t in svg['nodes'][node['vm-a.acme.test']].iter()]
    assert '198.18.71.11' in texts and ACME in ''.join(''.join(c.itertext()) for c in svg['clusters'].values())
    assert read(base + '.png')[:8] == b'\x89PNG\r\n\x1a\n'

    again = run.result('Map again')
    assert again['changed'] is False and again['changed_files'] == []

    check = run.result('Another title in check mode')
    assert check['changed'] is True and sorted(check['changed_files']) == sorted(first['files'].values())
    assert 'label="Customers"' in check['diff']['after'] and 'label="phpIPAM network map"' in check['diff']['before']
    assert b'Customers' not in read(base + '.svg')  # check mode wrote nothing

    no_dot = run.result('Without Graphviz')
    assert no_dot['changed'] is True and no_dot['graphviz'] is None
    assert no_dot['files'] == {'dot': str(map_dir / 'no-graphviz.dot')}
    assert sorted(os.listdir(str(map_dir))) == ['network.dot', 'network.html', 'network.png', 'network.svg',
                                                'no-graphviz.dot']
    assert read(str(map_dir / 'no-graphviz.dot')) == read(base + '.dot')
    assert run.warnings() and all('Graphviz dot was not found: only the DOT file was written' in w
                                  for w in run.warnings()), run.warnings()
    refused = run.result('Without Graphviz, SVG asked for')
    assert run.status('Without Graphviz, SVG asked for') == 'failed'
    assert refused['msg'].startswith('formats svg need Graphviz dot, which was not found on PATH')

    bad = [r['msg'] for r in run.result('Bad options')['results']]
    assert bad == [
        "ping_status '3600;60': the warning interval must be above 0 and below the offline interval",
        "seen_within '3 days' is not a duration: give a positive number with a unit, s, m, h, d or w (for example "
        "90m, 12h or 7d), or seconds",
        "dest '%s': the directory %s does not exist" % (map_dir / 'missing' / 'network', map_dir / 'missing'),
    ]
    assert connection['token'] not in run.output


def test_network_map_html_page_in_chromium(example, connection, run_playbook, tmp_path):
    if chromium_binary() is None:
        unavailable('headless Chromium', 'no chromium binary on PATH (Debian package chromium)')
    from PIL import Image  # test-only dependency (tests/requirements-test.txt)

    map_dir = tmp_path / 'maps'
    map_dir.mkdir()
    run = run_playbook('network_map.yml', extra_vars=dict(connection_vars(connection), map_dir=str(map_dir)))
    assert run.returncode == 0, run.output[-3000:]
    page_path = str(map_dir / 'network.html')
    page = read(page_path, 'r')
    hosts = example['hosts']

    # Self-contained, and phpIPAM's text only as escaped SVG text or escaped JSON.
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert page.count('<script') == 2
    assert '& a < b' not in page and '\\u0026 a \\u003c b' in page  # the description, as escaped JSON
    data = json.loads(re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S).group(1))
    vm_a = data['nodes']['h%d' % hosts['vm-a.acme.test']]
    assert (vm_a['description'], vm_a['device'], vm_a['section'], vm_a['mac'], vm_a['status']) == (
        TRICKY_DESCRIPTION, 'hv1.acme.test', ACME, '02:00:00:71:00:11', 'alive')
    assert vm_a['jump_path'] == ['198.18.70.10'] and vm_a['ssh_user'] == 'ops'  # the VM subnet's user
    db1 = data['nodes']['h%d' % hosts['db1.globex.test']]
    assert db1['jump_path'] == ['admin@198.18.70.10', '198.18.72.1'] and db1['section'] == GLOBEX

    profile = tmp_path / 'chromium'
    profile.mkdir()
    shot = str(tmp_path / 'page.png')
    url = 'file://' + page_path
    proc = chromium(['--screenshot=%s' % shot, '--window-size=1400,1000', '--hide-scrollbars', url], str(profile))
    assert proc.returncode == 0 and os.path.exists(shot), proc.stderr[-2000:]
    image = Image.open(shot).convert('RGB')
    assert image.size == (1400, 1000)
    pixels = list(image.getdata())
    non_white = sum(1 for p in pixels if p != (255, 255, 255))
    assert len(set(pixels)) > 50, 'the page looks blank: %d colours' % len(set(pixels))
    assert non_white > len(pixels) // 10, 'the page looks blank: %d non-white pixels' % non_white
    # The status colours of the map's host boxes are on screen (alive green, offline red), not just the page frame.
    for colour in ((0xc8, 0xe6, 0xc9), (0xff, 0xcd, 0xd2)):
        assert pixels.count(colour) > 200, 'colour %r hardly on screen' % (colour,)

    # The page's script runs: a search given in the URL marks the matching host and shows its details.
    dom = chromium(['--dump-dom', '--virtual-time-budget=5000', url + '#search=vm-b'], str(profile))
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    assert 'data-map-ready="yes"' in html, html[-2000:]
    classes = dict(re.findall(r'<g id="(h\d+)" class="([^"]*)"', html))
    assert classes['h%d' % hosts['vm-b.acme.test']] == 'node match selected'  # found, and its details shown
    assert sorted(node for node, names in classes.items() if 'match' in names) == ['h%d' % hosts['vm-b.acme.test']]
    assert len(classes) == 8
    assert re.search(r'<span id="map-count"[^>]*>1 match</span>', html)
    assert '<h2>vm-b.acme.test</h2>' in html and '<td>198.18.71.12</td>' in html
    assert '<td>198.18.70.10 → ops@198.18.71.12</td>' in html
    assert re.search(r'<svg[^>]*class="searching"', html)

    # A subnet's details, asked for by its node id in the URL.
    dom = chromium(['--dump-dom', '--virtual-time-budget=5000', url + '#node=s%d' % example['subnets']['198.18.71.0/24']],
                   str(profile))
    assert '<h2>198.18.71.0/24</h2>' in dom.stdout and '<td>acme vms</td>' in dom.stdout
    assert '<th>section</th><td>Acme "North" {EU}</td>' in dom.stdout  # text, as phpIPAM has it
