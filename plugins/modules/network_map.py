#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: network_map
short_description: Draw phpIPAM's network as a Graphviz map (DOT, SVG, PNG) and a searchable HTML page
version_added: 0.1.0
description:
  - Reads phpIPAM's sections, subnets, addresses, VLANs and devices (one request per collection) and writes a
    Graphviz DOT map of the selected hosts; with Graphviz C(dot) installed, also SVG, PNG and an HTML page.
  - "Layout: a box per section (a customer), in it a box per subnet, in it a box per device (the server or
    hypervisor the hosts run on: the device an address is assigned to in phpIPAM, its C(deviceId)), and the hosts,
    coloured by lastSeen: alive, warning, offline or never seen, with phpIPAM's ping status intervals."
  - Jump paths (the SSH jump host custom fields, see the SSH paths guide) are drawn as edges from each jump host
    to the subnet, or the hosts, reached through it.
  - The HTML page holds the SVG inline, a search box and per-host details (IP, hostname, MAC, lastSeen,
    description, device, section, subnet, jump path); it loads nothing from elsewhere.
  - Files are replaced atomically and only when their content changes; C(changed) says whether any did. The
    output depends only on phpIPAM's data and the options (and the clock, through the status colours), unless
    O(timestamp=true).
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and renders the map in memory; reports which files would change and writes none.
  diff_mode:
    support: full
    details: The DOT file before and after.
options:
  dest:
    description:
      - Path of the files without extension; V(/srv/maps/network) writes C(/srv/maps/network.dot) and, per
        O(formats), C(network.svg), C(network.png) and C(network.html). The directory must exist.
    type: path
    required: true
  formats:
    description:
      - What to write besides the DOT file, which is always written. C(html) is the page with the SVG inline.
      - When not set, V(svg) and V(html) if Graphviz C(dot) is installed, else only the DOT file and a warning.
      - When set, the module fails if Graphviz C(dot) is needed and missing. V([]) writes the DOT file only.
    type: list
    elements: str
    choices: [svg, png, html]
  sections:
    description: Only hosts in these sections (names or ids).
    type: list
    elements: str
  subnets:
    description: Only hosts in these subnets, as ids (nested subnets included) or CIDRs (any host whose IP lies inside).
    type: list
    elements: str
  tags:
    description: Only hosts with these address tags, such as V(Used) or V(Offline) (names or ids).
    type: list
    elements: str
  custom_fields:
    description:
      - "Only hosts whose custom fields have these values, C({field: value}) or C({field: [values]}), the field
        named with or without the C(custom_) prefix. A host without its own value uses its nearest subnet's."
    type: dict
  hostname_required:
    description: Only hosts with a hostname.
    type: bool
    default: false
  seen_within:
    description:
      - Only hosts phpIPAM saw alive (C(lastSeen)) within this time, for example V(90m), V(12h), V(7d) or V(2w),
        or a number of seconds. Addresses never seen are left out.
    type: str
  jump_host_field:
    description: The custom field (address or subnet) naming a host's jump host, C([user@]host[:port]) or C(direct).
    type: str
    default: custom_ssh_jump
  ssh_user_field:
    description: The custom field (address or subnet) with the SSH user of a host, used in the jump paths shown.
    type: str
    default: custom_ssh_user
  jump_host_missing:
    description:
      - What a jump host that is not in phpIPAM, a jump loop or an unusable value does, as in the inventory plugin.
      - V(warn) draws the host without a jump edge, outlined dashed, and lists it in RV(jump_problems) and a
        warning; V(error) fails the task and writes nothing; V(literal) takes a jump host that is not in phpIPAM
        as written and draws it outside every section.
    type: str
    default: warn
    choices: [warn, error, literal]
  ping_status:
    description:
      - phpIPAM's ping status intervals, C(warning;offline) in seconds, as under Administration > Settings
        (phpIPAM's API does not expose that setting). A host seen less than C(warning) seconds ago is alive, less
        than C(offline) seconds ago a warning, else offline; a host never seen is grey.
    type: str
    default: '1800;3600'
  max_hosts_per_subnet:
    description:
      - At most this many hosts are drawn per subnet (jump hosts first, then by address), and one "+N more" node
        stands for the rest, whose details the HTML page lists. V(0) draws every host.
    type: int
    default: 100
  hosts_per_row:
    description: Hosts per row inside a subnet or device box; V(0) picks it from the number of hosts.
    type: int
    default: 0
  group_by_device:
    description: Group the hosts of a subnet by the device they are assigned to.
    type: bool
    default: true
  title:
    description: Title of the map and the page.
    type: str
    default: phpIPAM network map
  timestamp:
    description: Add the time of the run to the title. The files then change on every run.
    type: bool
    default: false
notes:
  - "Relationship conventions: sections are customers, an address's device is the server or hypervisor the host runs
    on. See the collection's docs/network-map.md."
  - Times (lastSeen) are read in the O(timezone) the connection options give.
"""

EXAMPLES = r"""
- name: The map of customer Acme, as DOT, SVG and HTML
  ipamkit.phpipam.network_map:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    dest: /srv/maps/acme
    sections: [Acme]

- name: Everything seen in the last week, also as PNG, with a five-minute alive window
  ipamkit.phpipam.network_map:
    dest: /srv/maps/network
    formats: [svg, png, html]
    seen_within: 7d
    ping_status: '300;3600'
"""

RETURN = r"""
counts:
  description: What the map holds.
  returned: always
  type: dict
  contains:
    sections:
      description: Sections drawn.
      type: int
    subnets:
      description: Subnets drawn.
      type: int
    hosts:
      description: Hosts selected.
      type: int
    hosts_drawn:
      description: Hosts drawn as nodes.
      type: int
    hosts_hidden:
      description: Hosts left out by O(max_hosts_per_subnet) (in "+N more" nodes).
      type: int
    devices:
      description: Devices drawn as boxes.
      type: int
    jump_hosts_outside:
      description: Jump hosts drawn outside every section because they are not selected (or not in phpIPAM).
      type: int
    edges:
      description: Jump edges.
      type: int
  sample: {sections: 2, subnets: 5, hosts: 120, hosts_drawn: 120, hosts_hidden: 0, devices: 3, jump_hosts_outside: 0,
           edges: 4}
files:
  description: The files of the map by format (V(dot) always), written or already up to date.
  returned: always
  type: dict
  sample: {dot: /srv/maps/network.dot, svg: /srv/maps/network.svg, html: /srv/maps/network.html}
changed_files:
  description: The files whose content changed (in check mode, would change).
  returned: always
  type: list
  elements: str
jump_problems:
  description: Selected hosts whose jump path could not be worked out (loop, unknown jump host, bad value).
  returned: always
  type: list
  elements: dict
  sample: [{ip: 198.18.5.7, hostname: web7, problem: "jump host 'bastion9' of web7 (198.18.5.7) is not in phpIPAM"}]
graphviz:
  description: The Graphviz C(dot) used, or null when none was found.
  returned: always
  type: str
timings:
  description: Seconds spent reading phpIPAM (V(load)), building the map (V(build)) and in Graphviz (V(render)).
  returned: always
  type: dict
"""

import time

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import InventoryPlanError, parse_duration
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import NetworkDataError, load_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_map import MapError, map_of_network, parse_ping_status
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_map_output import (
    OutputError, check_destination, file_paths, plan_formats, read_existing, render_files, write_files)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import utcnow

FILTERS = ('sections', 'subnets', 'tags', 'custom_fields', 'hostname_required', 'seen_within', 'jump_host_field',
           'ssh_user_field', 'jump_host_missing', 'timestamp', 'ping_status', 'max_hosts_per_subnet', 'hosts_per_row', 'group_by_device',
           'title')


def main():
    module = PhpipamModule(argument_spec=dict(
        dest=dict(type='path', required=True),
        formats=dict(type='list', elements='str', choices=['svg', 'png', 'html']),
        sections=dict(type='list', elements='str'),
        subnets=dict(type='list', elements='str'),
        tags=dict(type='list', elements='str'),
        custom_fields=dict(type='dict'),
        hostname_required=dict(type='bool', default=False),
        seen_within=dict(type='str'),
        jump_host_field=dict(type='str', default='custom_ssh_jump'),
        ssh_user_field=dict(type='str', default='custom_ssh_user'),
        jump_host_missing=dict(type='str', default='warn', choices=['warn', 'error', 'literal']),
        ping_status=dict(type='str', default='1800;3600'),
        max_hosts_per_subnet=dict(type='int', default=100),
        hosts_per_row=dict(type='int', default=0),
        group_by_device=dict(type='bool', default=True),
        title=dict(type='str', default='phpIPAM network map'),
        timestamp=dict(type='bool', default=False),
    ))
    p = module.params
    dot_bin = module.get_bin_path('dot')
    try:  # every option checked before phpIPAM is asked anything
        parse_ping_status(p['ping_status'])
        parse_duration(p['seen_within'])
        formats, warning = plan_formats(p['formats'], dot_bin is not None)
    except (MapError, OutputError, InventoryPlanError) as exc:
        module.fail_json(msg=str(exc))
    problem = check_destination(p['dest'])
    if problem:
        module.fail_json(msg=problem)
    if warning:
        module.warn(warning)

    timings, started = {}, time.time()
    with module.api() as client:
        data = load_network(client)
    timings['load'], started = time.time() - started, time.time()
    try:
        graph = map_of_network(data, utcnow(), **dict((k, p[k]) for k in FILTERS))
    except (MapError, NetworkDataError) as exc:
        module.fail_json(msg=str(exc))
    timings['build'], started = time.time() - started, time.time()
    paths = file_paths(p['dest'], formats)
    try:
        contents = render_files(graph, formats, dot_bin, module.run_command)
        timings['render'] = time.time() - started
        old_dot = read_existing(paths['dot']) if module._diff else None
        changed_files = write_files(paths, contents, module.check_mode, module.atomic_move)
    except OutputError as exc:
        module.fail_json(msg=str(exc))

    if graph.problems:
        module.warn('%d selected hosts have no usable jump path (see jump_problems), for example: %s'
                    % (len(graph.problems), graph.problems[0]['problem']))
    result = dict(changed=bool(changed_files), counts=graph.counts, files=paths, changed_files=changed_files,
                  jump_problems=graph.problems, graphviz=dot_bin, timings=timings)
    if module._diff and paths['dot'] in changed_files:
        result['diff'] = dict(before=(old_dot or b'').decode('utf-8', 'replace'), after=graph.dot,
                              before_header=paths['dot'], after_header=paths['dot'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
