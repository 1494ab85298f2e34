# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_map, network_map_html, network_map_output: the DOT map, the HTML page and the files.

The networks are built by network_data.build_network from records shaped as the client returns them, and the
jump paths by ssh_paths, so the map sees exactly what the module gives it. A fixed ``now`` decides the colours.
"""

import datetime
import json
import os
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import build_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_map import (
    STATUS_COLOURS,
    MapError,
    build_map,
    dot_quote,
    host_status,
    map_of_network,
    parse_ping_status,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_map_html import build_html, inline_svg, json_for_script
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_map_output import (
    OutputError,
    file_paths,
    plan_formats,
    render,
    render_files,
    write_files,
    write_if_changed,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)
DOT = shutil.which('dot')
needs_dot = pytest.mark.skipif(DOT is None, reason='Graphviz dot is not installed')


def ago(seconds):
    return None if seconds is None else NOW - datetime.timedelta(seconds=seconds)


def network(addresses, subnets=None, sections=None, devices=None):
    """A NetworkData from client-shaped records; defaults: sections Acme (1) and Globex (2), three subnets."""
    sections = sections if sections is not None else [{'id': 1, 'name': 'Acme'}, {'id': 2, 'name': 'Globex'}]
    subnets = subnets if subnets is not None else [
        {'id': 10, 'subnet': '198.18.10.0', 'mask': 24, 'sectionId': 1, 'description': 'acme servers'},
        {'id': 11, 'subnet': '198.18.11.0', 'mask': 24, 'sectionId': 1, 'description': 'acme vms',
         'custom_ssh_jump': 'bastion.acme.test'},
        {'id': 20, 'subnet': '198.18.20.0', 'mask': 24, 'sectionId': 2, 'description': 'globex'},
    ]
    devices = devices if devices is not None else [{'id': 5, 'hostname': 'hv1.acme.test', 'description': 'KVM host',
                                                    'ip': '198.18.10.6'}]
    records = []
    for number, address in enumerate(addresses, start=1):
        record = {'id': number, 'tag': 2}
        record.update(address)
        records.append(record)
    return build_network({
        'sections': sections, 'subnets': subnets, 'addresses': records, 'vlans': [], 'devices': devices,
        'tags': [{'id': 1, 'type': 'Offline'}, {'id': 2, 'type': 'Used'}], 'locations': [], 'folders': [],
    })


def acme():
    """A bastion in the servers subnet, three VMs on hv1 behind it, one Globex host."""
    return network([
        {'ip': '198.18.10.5', 'subnetId': 10, 'hostname': 'bastion.acme.test', 'lastSeen': ago(60),
         'custom_ssh_jump': 'direct'},
        {'ip': '198.18.10.6', 'subnetId': 10, 'hostname': 'hv1.acme.test', 'lastSeen': ago(2400)},
        {'ip': '198.18.11.11', 'subnetId': 11, 'hostname': 'vm-a', 'lastSeen': ago(300), 'deviceId': 5,
         'mac': '02:00:00:00:11:11', 'description': 'web'},
        {'ip': '198.18.11.12', 'subnetId': 11, 'hostname': 'vm-b', 'lastSeen': ago(7200), 'deviceId': 5},
        {'ip': '198.18.11.13', 'subnetId': 11, 'hostname': 'vm-c', 'deviceId': 5},
        {'ip': '198.18.20.7', 'subnetId': 20, 'hostname': 'globex-db', 'lastSeen': ago(10)},
    ])


def full_map(data, **options):
    return map_of_network(data, NOW, **options)


def blocks(dot):
    """{node or edge statement's first token: [enclosing subgraph names, outermost first]} from our one-statement-a-
    line DOT, plus the edges as (tail, head, attributes)."""
    stack, where, edges = [], {}, []
    for line in dot.splitlines():
        text = line.strip()
        opened = re.match(r'^subgraph "([^"]+)" \{$', text)
        if opened:
            stack.append(opened.group(1))
        elif text == '}':
            if stack:
                stack.pop()
        else:
            edge = re.match(r'^"([^"]+)" -> "([^"]+)" \[(.*)\];$', text)
            node = re.match(r'^"([^"]+)" \[(.*)\];$', text)
            if edge:
                edges.append((edge.group(1), edge.group(2), edge.group(3)))
            elif node:
                where[node.group(1)] = (list(stack), node.group(2))
    return where, edges


def visible_edges(dot):
    """The jump edges (not the packing edges, not the legend's sample edge)."""
    return sorted((tail, head) for tail, head, attrs in blocks(dot)[1]
                  if 'style="invis"' not in attrs and not tail.startswith('legend_'))


# ------------------------------------------------------------------ options and small parts

@pytest.mark.parametrize('age, expected', [
    (0, 'alive'), (1799, 'alive'), (1800, 'warning'), (3599, 'warning'), (3600, 'offline'), (86400 * 400, 'offline'),
    (-120, 'alive'),  # a lastSeen slightly in the future (clock skew) is seen, not offline
    (None, 'never'),
])
def test_host_status_follows_phpipams_intervals(age, expected):
    assert host_status(ago(age), NOW, (1800, 3600)) == expected


@pytest.mark.parametrize('value, expected', [
    ('1800;3600', (1800, 3600)), ('300, 900', (300, 900)), (' 60 ; 61 ', (60, 61)),
])
def test_parse_ping_status(value, expected):
    assert parse_ping_status(value) == expected


@pytest.mark.parametrize('value, message', [
    ('abc', "ping_status 'abc': expected two numbers of seconds, warning;offline"),
    ('1800', 'expected two numbers'),
    ('1;2;3', 'expected two numbers'),
    ('3600;1800', 'the warning interval must be above 0 and below the offline interval'),
    ('0;10', 'must be above 0'),
    (None, 'expected two numbers'),
])
def test_parse_ping_status_refuses(value, message):
    with pytest.raises(MapError, match=re.escape(message)):
        parse_ping_status(value)


@pytest.mark.parametrize('text, quoted', [
    ('plain', '"plain"'),
    ('say "hi"', r'"say \"hi\""'),
    ('back\\slash', r'"back\\slash"'),
    ('two\nlines', r'"two\nlines"'),
    ('a & b', '"a &amp; b"'),
    ('&lt;', '"&amp;lt;"'),
    ('{braces} <angle> [x] |pipe|', '"{braces} <angle> [x] |pipe|"'),
    ('bell\x07 tab\t', '"bell tab "'),
])
def test_dot_quote(text, quoted):
    assert dot_quote(text) == quoted


# ------------------------------------------------------------------ structure

def test_sections_subnets_devices_and_hosts_nest():
    graph = full_map(acme())
    where, _edges = blocks(graph.dot)
    assert where['h1'][0] == ['cluster_section_1', 'cluster_subnet_10']
    assert where['h2'][0] == ['cluster_section_1', 'cluster_subnet_10']
    # The VMs sit in their hypervisor's box, inside their subnet.
    for vm in ('h3', 'h4', 'h5'):
        assert where[vm][0] == ['cluster_section_1', 'cluster_subnet_11', 'cluster_device_11_5']
    assert where['h6'][0] == ['cluster_section_2', 'cluster_subnet_20']
    assert where['s11'][0] == ['cluster_section_1', 'cluster_subnet_11']
    assert 'label="hv1.acme.test\\nKVM host"' in graph.dot
    assert 'label="198.18.11.0/24\\nacme vms\\n3 hosts"' in where['s11'][1]
    assert graph.counts == {'sections': 2, 'subnets': 3, 'hosts': 6, 'hosts_drawn': 6, 'hosts_hidden': 0, 'devices': 1,
                            'jump_hosts_outside': 0, 'edges': 1}


def test_the_devices_own_address_is_drawn_as_a_server():
    graph = full_map(acme())
    where, _edges = blocks(graph.dot)
    assert 'shape="box3d"' in where['h2'][1] and 'shape=' not in where['h1'][1]
    assert graph.details['h2']['is_device'] == 'hv1.acme.test' and 'is_device' not in graph.details['h1']


def test_group_by_device_off_puts_vms_in_their_subnet():
    where, _edges = blocks(full_map(acme(), group_by_device=False).dot)
    assert where['h3'][0] == ['cluster_section_1', 'cluster_subnet_11']
    assert 'cluster_device_11_5' not in full_map(acme(), group_by_device=False).dot


def test_subnet_node_is_never_pulled_into_a_device_box():
    # An edge statement inside a subgraph makes its ends members: the subnet -> row edges must stay outside the box.
    graph = full_map(acme())
    device_block = graph.dot.split('subgraph "cluster_device_11_5" {', 1)[1].split('}', 1)[0]
    assert '"s11"' not in device_block


def test_colours_follow_last_seen_with_a_fixed_now():
    where, _edges = blocks(full_map(acme()).dot)
    expected = {'h1': 'alive', 'h2': 'warning', 'h3': 'alive', 'h4': 'offline', 'h5': 'never', 'h6': 'alive'}
    for node, status in expected.items():
        fill, border = STATUS_COLOURS[status]
        assert 'fillcolor="%s"' % fill in where[node][1] and 'color="%s"' % border in where[node][1], (node, status)


def test_ping_status_option_moves_the_thresholds():
    where, _edges = blocks(full_map(acme(), ping_status='100;200').dot)
    assert 'fillcolor="%s"' % STATUS_COLOURS['alive'][0] in where['h1'][1]  # 60 s
    assert 'fillcolor="%s"' % STATUS_COLOURS['offline'][0] in where['h3'][1]  # 300 s
    assert 'label="warning: seen 100 s - 200 s ago"' in full_map(acme(), ping_status='100;200').dot


def test_hosts_are_packed_in_rows_in_address_order():
    data = network([{'ip': '198.18.20.%d' % n, 'subnetId': 20} for n in range(1, 11)])
    _where, edges = blocks(map_of_network(data, NOW, hosts_per_row=4).dot)
    invisible = [(t, h) for t, h, attrs in edges if 'style="invis"' in attrs and not t.startswith('legend_')]
    rows = [('h1', 'h2'), ('h2', 'h3'), ('h3', 'h4'), ('h5', 'h6'), ('h6', 'h7'), ('h7', 'h8'), ('h9', 'h10')]
    assert sorted(invisible) == sorted(rows + [('s20', 'h1'), ('s20', 'h5'), ('s20', 'h9')])


# ------------------------------------------------------------------ jump edges

def test_a_subnet_behind_one_jump_host_is_one_edge():
    graph = full_map(acme())
    assert visible_edges(graph.dot) == [('h1', 's11')]
    assert graph.details['h3']['jump_path'] == ['198.18.10.5']
    assert graph.details['h1']['jump_path'] == []


def test_two_hops_chain_and_an_outside_jump_host():
    # Globex is reached through its own gateway, which sits behind the Acme bastion; only Globex is selected.
    data = network([
        {'ip': '198.18.10.5', 'subnetId': 10, 'hostname': 'bastion.acme.test'},
        {'ip': '198.18.20.1', 'subnetId': 20, 'hostname': 'gw.globex.test', 'custom_ssh_jump': 'admin@bastion.acme.test'},
        {'ip': '198.18.20.7', 'subnetId': 20, 'hostname': 'db1', 'custom_ssh_jump': 'gw.globex.test:2222'},
        {'ip': '198.18.20.8', 'subnetId': 20, 'hostname': 'db2', 'custom_ssh_jump': 'gw.globex.test:2222'},
    ], subnets=[
        {'id': 10, 'subnet': '198.18.10.0', 'mask': 24, 'sectionId': 1},
        {'id': 20, 'subnet': '198.18.20.0', 'mask': 24, 'sectionId': 2},
    ])
    graph = full_map(data, sections=['Globex'])
    # The bastion is not selected: drawn outside the sections, as jump_1.
    where, _edges = blocks(graph.dot)
    assert where['jump_1'][0] == [] and 'label="bastion.acme.test\\n198.18.10.5"' in where['jump_1'][1]
    assert visible_edges(graph.dot) == [('h2', 'h3'), ('h2', 'h4'), ('jump_1', 'h2')]
    assert graph.details['h3']['jump_path'] == ['admin@198.18.10.5', '198.18.20.1:2222']
    assert graph.details['jump_1']['kind'] == 'jump host'
    assert graph.counts['jump_hosts_outside'] == 1 and graph.counts['edges'] == 3


def test_many_hosts_of_a_subnet_behind_one_jump_host_share_a_labelled_edge():
    addresses = [{'ip': '198.18.10.5', 'subnetId': 10, 'hostname': 'bastion'}]
    addresses += [{'ip': '198.18.20.%d' % n, 'subnetId': 20, 'custom_ssh_jump': 'bastion'} for n in range(10, 15)]
    addresses += [{'ip': '198.18.20.2', 'subnetId': 20}]  # reached directly
    graph = full_map(network(addresses))
    edges = [(t, h, attrs) for t, h, attrs in blocks(graph.dot)[1]
             if 'style="invis"' not in attrs and not t.startswith('legend_')]
    assert len(edges) == 1 and edges[0][:2] == ('h1', 's20') and 'label="5 of 6"' in edges[0][2]


def test_few_hosts_behind_a_jump_host_get_an_edge_each():
    addresses = [{'ip': '198.18.10.5', 'subnetId': 10, 'hostname': 'bastion'}]
    addresses += [{'ip': '198.18.20.%d' % n, 'subnetId': 20, 'custom_ssh_jump': 'bastion'} for n in (10, 11)]
    addresses += [{'ip': '198.18.20.%d' % n, 'subnetId': 20} for n in (2, 3, 4)]
    assert visible_edges(full_map(network(addresses)).dot) == [('h1', 'h2'), ('h1', 'h3')]


def test_unknown_jump_host_and_loops_are_reported_not_drawn():
    graph = full_map(network([
        {'ip': '198.18.20.7', 'subnetId': 20, 'hostname': 'lost', 'custom_ssh_jump': 'nowhere.test'},
        {'ip': '198.18.20.8', 'subnetId': 20, 'hostname': 'loop-a', 'custom_ssh_jump': 'loop-b'},
        {'ip': '198.18.20.9', 'subnetId': 20, 'hostname': 'loop-b', 'custom_ssh_jump': 'loop-a'},
    ]))
    assert visible_edges(graph.dot) == []
    problems = dict((p['hostname'], p['problem']) for p in graph.problems)
    assert problems['lost'] == "jump host 'nowhere.test' of lost (198.18.20.7) is not in phpIPAM"
    assert problems['loop-a'].startswith('jump loop: ')
    where, _edges = blocks(graph.dot)
    assert 'style="rounded,filled,dashed"' in where['h1'][1]  # the host with a problem is outlined dashed
    assert graph.details['h1']['jump_problem'] == problems['lost']


# ------------------------------------------------------------------ limits, determinism, escaping

def test_max_hosts_per_subnet_keeps_jump_hosts_and_adds_a_more_node():
    addresses = [{'ip': '198.18.20.%d' % n, 'subnetId': 20, 'hostname': 'h%d' % n} for n in range(2, 9)]
    addresses.append({'ip': '198.18.20.250', 'subnetId': 20, 'hostname': 'jumper'})
    addresses.append({'ip': '198.18.10.5', 'subnetId': 10, 'custom_ssh_jump': 'jumper'})
    graph = full_map(network(addresses), max_hosts_per_subnet=3)
    where, _edges = blocks(graph.dot)
    drawn = sorted(n for n in where if n.startswith('h') and where[n][0][-1] == 'cluster_subnet_20')
    assert drawn == ['h1', 'h2', 'h8']  # .2, .3 and the jump host .250
    assert 'label="+5 more"' in where['more_s20'][1]
    assert [h['ip'] for h in graph.details['more_s20']['hosts']] == ['198.18.20.%d' % n for n in range(4, 9)]
    assert ['more_s20', 'h5 198.18.20.6'] not in graph.search
    assert any(node == 'more_s20' and '198.18.20.6' in text for node, text in graph.search)
    assert graph.counts['hosts_hidden'] == 5 and graph.counts['hosts_drawn'] == 4
    assert visible_edges(graph.dot) == [('h8', 's10')]  # the only host of 198.18.10.0/24 is behind the jump host
    assert 'label="+' not in full_map(network(addresses), max_hosts_per_subnet=0).dot


def test_a_new_last_seen_in_the_same_status_band_leaves_the_dot_unchanged():
    before = full_map(acme())
    data = acme()
    data.hosts[0]['last_seen'] = ago(30)  # the bastion, seen again: still alive
    after = full_map(data)
    assert after.dot == before.dot
    assert after.details['h1']['last_seen'] != before.details['h1']['last_seen']  # the page's details do change
    data.hosts[0]['last_seen'] = ago(2000)  # now a warning: the picture changes
    assert full_map(data).dot != before.dot


def test_output_is_deterministic_and_without_a_clock_unless_asked():
    data = acme()
    first = full_map(data).dot
    shuffled = list(data.hosts)
    random.Random(7).shuffle(shuffled)
    data.hosts = shuffled
    assert full_map(data).dot == first
    assert 'generated' not in first and '2026' not in first  # no clock, no lastSeen in the picture
    stamped = full_map(data, timestamp=True).dot
    assert 'label="phpIPAM network map\\ngenerated 2026-11-26 08:00:00 UTC"' in stamped


HOSTILE = 'evil"{name}<b>&amp;\\x'
HOSTILE_DESCRIPTION = '</script><script>alert(1)</script> & {{ lookup("pipe", "id") }}'


def hostile():
    return network([
        {'ip': '198.18.20.66', 'subnetId': 20, 'hostname': HOSTILE, 'description': HOSTILE_DESCRIPTION,
         'lastSeen': ago(5)},
    ], sections=[{'id': 2, 'name': 'Sect "<i>" {x}'}], subnets=[
        {'id': 20, 'subnet': '198.18.20.0', 'mask': 24, 'sectionId': 2, 'description': 'a\nb "c"'}])


def test_names_from_phpipam_are_escaped_in_dot():
    dot = full_map(hostile()).dot
    assert 'label="evil\\"{name}<b>&amp;amp;\\\\x\\n198.18.20.66"' in dot
    assert 'label="Sect \\"<i>\\" {x}"' in dot
    assert 'acme' not in dot and '\n"' not in dot


@needs_dot
def test_hostile_names_render_and_read_back_verbatim_from_svg():
    svg = subprocess.run([DOT, '-Tsvg'], input=full_map(hostile()).dot, capture_output=True, text=True, check=True).stdout
    root = ET.fromstring(svg)
    texts = [''.join(t.itertext()) for t in root.iter('{http://www.w3.org/2000/svg}text')]
    assert HOSTILE in texts and 'Sect "<i>" {x}' in texts
    titles = [t.text for t in root.iter('{http://www.w3.org/2000/svg}title')]
    assert 'h1' in titles and 's20' in titles


def test_html_page_escapes_everything_from_phpipam():
    graph = full_map(hostile())
    svg = ('<?xml version="1.0"?>\n<!DOCTYPE svg>\n<!-- Generated -->\n<svg xmlns="http://www.w3.org/2000/svg">'
           '<g id="h1" class="node"><title>h1</title><text>evil&quot;{name}&lt;b&gt;</text></g></svg>')
    page = build_html(svg, graph, 'Map of <Acme> & "co"')
    assert '<script>alert(1)' not in page and '</script><script>alert' not in page
    assert '<title>Map of &lt;Acme&gt; &amp; &quot;co&quot;</title>' in page
    assert page.count('<svg') == 1 and '<?xml' not in page and '<!DOCTYPE svg' not in page
    data = json.loads(re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S).group(1))
    assert data['nodes']['h1']['description'] == HOSTILE_DESCRIPTION and data['nodes']['h1']['hostname'] == HOSTILE
    # Self-contained: nothing fetched from elsewhere.
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert '@import' not in page and 'url(' not in page


def test_json_for_script_cannot_close_the_script_element():
    text = json_for_script({'x': '</script><!-- & \u2028'})
    assert '<' not in text and '>' not in text and '&' not in text and '\u2028' not in text
    assert json.loads(text) == {'x': '</script><!-- & \u2028'}


def test_inline_svg_needs_an_svg_element():
    assert inline_svg('<?xml version="1.0"?>\n<svg width="1"></svg>\n') == '<svg width="1"></svg>'
    with pytest.raises(ValueError, match='no <svg> element'):
        inline_svg('dot: syntax error')


def test_host_details_for_the_page():
    details = full_map(acme()).details['h3']
    assert details == {
        'kind': 'host', 'ip': '198.18.11.11', 'hostname': 'vm-a', 'mac': '02:00:00:00:11:11',
        'last_seen': '2026-11-26T07:55:00+00:00', 'status': 'alive', 'description': 'web', 'device': 'hv1.acme.test',
        'section': 'Acme', 'subnet': '198.18.11.0/24', 'tag': 'Used', 'gateway': False, 'jump_path': ['198.18.10.5'],
        'jump_problem': None, 'ssh_user': None,
    }


def test_filters_reach_the_map():
    graph = full_map(acme(), subnets=['198.18.11.0/24'], seen_within='1h')
    # vm-a only (vm-b: 2 h ago, vm-c: never); its jump host is not selected, so it is drawn outside the sections.
    assert sorted(n for n in graph.details if n.startswith(('h', 'jump'))) == ['h3', 'jump_1']
    assert graph.details['jump_1']['ip'] == '198.18.10.5' and graph.details['jump_1']['kind'] == 'jump host'
    assert visible_edges(graph.dot) == [('jump_1', 's11')]


@pytest.mark.parametrize('options, message', [
    ({'max_hosts_per_subnet': -1}, 'max_hosts_per_subnet must be 0 (no limit) or more'),
    ({'hosts_per_row': -2}, 'hosts_per_row must be 0 (automatic) or more'),
    ({'ping_status': '9;3'}, 'the warning interval must be above 0'),
])
def test_bad_map_options(options, message):
    with pytest.raises(MapError, match=re.escape(message)):
        build_map(acme(), acme().hosts, {}, NOW, **options)


def test_jump_host_missing_error_and_literal():
    data = network([{'ip': '198.18.20.7', 'subnetId': 20, 'hostname': 'lost', 'custom_ssh_jump': 'ops@nowhere.test'}])
    with pytest.raises(MapError, match=re.escape(
            "1 selected host without a usable jump path: jump host 'nowhere.test' of lost (198.18.20.7) is not in phpIPAM")):
        full_map(data, jump_host_missing='error')
    graph = full_map(data, jump_host_missing='literal')
    assert graph.problems == [] and visible_edges(graph.dot) == [('jump_1', 's20')]
    assert graph.details['jump_1'] == {'kind': 'jump host', 'hop': 'ops@nowhere.test', 'note': 'jump host not found in phpIPAM'}
    with pytest.raises(MapError, match='jump_host_missing must be one of warn, error, literal'):
        full_map(data, jump_host_missing='ignore')


# ------------------------------------------------------------------ files

@pytest.mark.parametrize('requested, dot_found, formats, warns', [
    (None, True, ['svg', 'html'], False),
    (None, False, [], True),
    ([], False, [], False),
    (['png', 'svg', 'png'], True, ['png', 'svg'], False),
])
def test_plan_formats(requested, dot_found, formats, warns):
    planned, warning = plan_formats(requested, dot_found)
    assert planned == formats and bool(warning) is warns


def test_explicit_formats_without_dot_fail():
    with pytest.raises(OutputError, match='formats html need Graphviz dot, which was not found on PATH'):
        plan_formats(['html'], False)


def test_file_paths():
    assert file_paths('/srv/maps/net', ['svg', 'png']) == {
        'dot': '/srv/maps/net.dot', 'svg': '/srv/maps/net.svg', 'png': '/srv/maps/net.png'}


def test_write_if_changed(tmp_path):
    target = str(tmp_path / 'map.dot')
    assert write_if_changed(target, b'one', True, os.replace) is True
    assert not os.path.exists(target)  # check mode writes nothing
    assert write_if_changed(target, b'one', False, os.replace) is True
    assert write_if_changed(target, b'one', False, os.replace) is False
    assert write_if_changed(target, b'two', False, os.replace) is True
    with open(target, 'rb') as handle:
        assert handle.read() == b'two'
    assert sorted(os.listdir(str(tmp_path))) == ['map.dot']  # no temporary file left behind


def run_command(argv, data=None, binary_data=False, encoding='utf-8'):
    """The part of AnsibleModule.run_command that render uses, on a real process."""
    proc = subprocess.run(argv, input=data.encode('utf-8'), capture_output=True, check=False)
    return proc.returncode, proc.stdout, proc.stderr


@needs_dot
def test_render_files_and_write_files(tmp_path):
    graph = full_map(acme())
    contents = render_files(graph, ['svg', 'png', 'html'], DOT, run_command)
    assert contents['png'][:8] == b'\x89PNG\r\n\x1a\n'
    root = ET.fromstring(contents['svg'])
    titles = set(t.text for t in root.iter('{http://www.w3.org/2000/svg}title'))
    assert {'h1', 'h3', 's11', 'h1->s11'} <= titles
    assert b'<svg' in contents['html'] and b'<title>h1&#45;&gt;s11</title>' in contents['html']
    paths = file_paths(str(tmp_path / 'net'), ['svg', 'png', 'html'])
    assert write_files(paths, contents, False, os.replace) == [paths[f] for f in ('dot', 'html', 'png', 'svg')]
    assert write_files(paths, contents, False, os.replace) == []
    assert render_files(graph, ['svg'], DOT, run_command)['svg'] == contents['svg']  # same input, same SVG


@needs_dot
def test_render_reports_dot_errors():
    with pytest.raises(OutputError, match=r'Graphviz dot -Tsvg failed \(exit 1\): .*syntax error'):
        render(run_command, DOT, 'digraph { "a" -> }', 'svg')
