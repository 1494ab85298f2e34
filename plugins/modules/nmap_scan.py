#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: nmap_scan
short_description: Scan the subnets of a phpIPAM scan agent with nmap
version_added: 0.1.0
description:
  - Runs nmap host discovery (C(nmap -sn)) over the subnets that M(ipamkit.phpipam.scan_agent_info) returns, with
    phpIPAM's meaning of the subnet settings, and returns the hosts seen up in each subnet.
  - A subnet with C(pingSubnet) has its known addresses checked. An IPv4 subnet with C(discoverSubnet) is swept
    whole, less its network and broadcast addresses and the ranges of more specific subnets in O(subnets). An IPv6
    subnet is never swept; with C(discoverSubnet), when nmap runs privileged and the scanning host has an address
    in the subnet (its first IPv6 address on that interface, as C(nmap --iflist) lists them, because nmap sends
    from that one), nmap also asks that link for neighbours (an ICMPv6 echo to C(ff02::1)) and keeps those inside the
    subnet. Subnets with neither setting are not scanned. Addresses with C(excludePing) are never probed.
  - Starts one nmap per IP family and name-server set (C(-n) for subnets without C(resolveDNS)), plus one per
    extra interface used for IPv6 neighbour discovery; never one per subnet or host.
  - Fails, and returns no subnets, when nmap is missing, exits non-zero, is killed, runs longer than
    O(scan_timeout) or writes incomplete XML, so a partial scan is never taken for a complete one.
  - Needs no phpIPAM connection. Reads only; scans in check mode too, and never reports a change.
author:
  - ipamkit developers (@ipamkit)
attributes:
  check_mode:
    support: full
    description: Scans in check mode too; the module changes nothing anyway.
  diff_mode:
    support: none
    description: Nothing to show a diff of.
options:
  subnets:
    description:
      - The subnets to scan, as RV(ipamkit.phpipam.scan_agent_info#module:subnets) returns them with
        O(ipamkit.phpipam.scan_agent_info#module:addresses=true). Keys used are C(id), C(cidr), C(pingSubnet),
        C(discoverSubnet), C(resolveDNS), C(dns_servers), C(isPool) and C(addresses) (C(ip), C(excludePing));
        others are ignored.
    type: list
    elements: dict
    required: true
  nmap_path:
    description:
      - The nmap to run; a name without C(/) is looked up in E(PATH). It may be a wrapper script that passes its
        arguments on to nmap, for instance C(exec ip netns exec lan nmap "$@").
      - Defaults to C(nmap) from E(PATH).
    type: path
  timing:
    description: nmap's timing template (C(-T0) to C(-T5)).
    type: int
    choices: [0, 1, 2, 3, 4, 5]
    default: 4
  max_rate:
    description: Send no more than this many probes per second (C(--max-rate)).
    type: float
  min_rate:
    description:
      - Send at least this many probes per second (C(--min-rate)), overriding nmap's own congestion control.
      - Sweeping a /16 on a LAN takes nmap C(-T4) about 140 s on its own and about 48 s at V(3000)
        (docs/performance.md). Unset by default, because forcing a rate on a slow or routed link loses probes
        and floods it; set it for large subnets on a fast LAN.
    type: float
    version_added: 0.1.0
  host_timeout:
    description: Give up on a host after this long (C(--host-timeout)), in seconds or as an nmap time such as V(30s) or V(500ms).
    type: str
  probe_ports:
    description:
      - Extra TCP ports to probe for hosts that drop ICMP. nmap's default probes are then given explicitly too
        (C(-PE -PP -PS443,<ports> -PA80), IPv6 without C(-PP); unprivileged C(-PS80,443,<ports>)), as a C(-PS) of
        our own would otherwise replace them.
    type: list
    elements: int
  privileged:
    description:
      - V(auto) runs nmap with C(--privileged) as root and with C(--unprivileged) otherwise; V(true) and V(false)
        force either (for instance V(true) for an nmap with the C(cap_net_raw) capability).
      - Unprivileged, nmap finds hosts with TCP C(connect()) only and sees no MAC addresses, and IPv6 neighbour
        discovery is off; the module warns.
    type: str
    choices: [auto, 'true', 'false']
    default: auto
  ipv6_discovery:
    description: Ask IPv6 links for neighbours in C(discoverSubnet) subnets (see the description).
    type: bool
    default: true
  scan_timeout:
    description:
      - Seconds the whole scan may take. When they run out, nmap (and anything its wrapper started) is stopped and
        the module fails. V(0) means no limit.
    type: int
    default: 3600
notes:
  - Name resolution asks the subnet's name servers (C(--dns-servers)), or the system resolver when the subnet has
    none, for the PTR names of hosts seen up.
  - A host goes to the most specific input subnet that probed it.
seealso:
  - module: ipamkit.phpipam.scan_agent_info
  - module: ipamkit.phpipam.scan_upload
"""

EXAMPLES = r"""
- name: Fetch the agent's subnets with their addresses
  ipamkit.phpipam.scan_agent_info:
    url: https://ipam.example.com
    app_id: scanagent
    token: "{{ phpipam_app_code }}"
    agent_code: "{{ scan_agent_code }}"
    addresses: true
  register: agent_info

- name: Scan them
  ipamkit.phpipam.nmap_scan:
    subnets: "{{ agent_info.subnets }}"
    max_rate: 500
    probe_ports: [22, 3389]
    scan_timeout: 1800
  register: scan

- name: Hosts seen up per subnet
  ansible.builtin.debug:
    msg: "{{ scan.subnets | items2dict(key_name='cidr', value_name='hosts') }}"

- name: Scan from inside a network namespace through a wrapper
  ipamkit.phpipam.nmap_scan:
    subnets: "{{ agent_info.subnets }}"
    nmap_path: /usr/local/sbin/nmap-in-lan
"""

RETURN = r"""
nmap_version:
  description: The version of nmap that ran, or null when nothing needed scanning.
  returned: success
  type: str
  sample: "7.93"
privileged:
  description: Whether nmap ran privileged (raw packets, ARP, MAC addresses).
  returned: success
  type: bool
runs:
  description: One entry per nmap process.
  returned: success
  type: list
  elements: dict
  contains:
    family:
      description: V(4) or V(6).
      type: int
    resolve:
      description: Whether host names were looked up.
      type: bool
    dns_servers:
      description: The name servers given to nmap, or null (system resolver, or no lookups).
      type: list
      elements: str
    interface:
      description: The interface asked for IPv6 neighbours, or null.
      type: str
    argv:
      description: The command run.
      type: list
      elements: str
      sample: [/usr/bin/nmap, -sn, -T4, --privileged, -n, -oX, /tmp/ipamkit-nmap-x/run1.xml, -iL,
               /tmp/ipamkit-nmap-x/run1.targets, --excludefile, /tmp/ipamkit-nmap-x/run1.exclude]
    started:
      description: When the run started, ISO 8601 UTC.
      type: str
      sample: "2026-11-25T21:40:46.512204+00:00"
    finished:
      description: When the run finished, ISO 8601 UTC.
      type: str
    elapsed:
      description: Seconds the run took.
      type: float
    rc:
      description: nmap's exit status.
      type: int
    exit:
      description: nmap's own verdict from its XML (V(success)).
      type: str
    targets:
      description: Addresses probed (IPv6 neighbours found on the link come on top).
      type: int
    hosts_up:
      description: Hosts nmap saw up, including any that belong to no subnet.
      type: int
    subnets:
      description: Ids of the subnets of this run.
      type: list
      elements: int
    nmap_version:
      description: nmap's version as its XML gives it.
      type: str
subnets:
  description: One entry per input subnet, in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Subnet id.
      type: int
    cidr:
      description: The subnet.
      type: str
      sample: 198.18.10.0/24
    ip_version:
      description: V(4) or V(6).
      type: int
    scanned:
      description: Whether the subnet was scanned (C(pingSubnet) or C(discoverSubnet) set).
      type: bool
    completed:
      description: Whether the scan of the subnet completed; with this module's failing on any incomplete run,
        the same as RV(subnets[].scanned).
      type: bool
    ping:
      description: The subnet's C(pingSubnet).
      type: bool
    discover:
      description: The subnet's C(discoverSubnet).
      type: bool
    started:
      description: When its nmap run started (ISO 8601 UTC), or null when nothing in it needed probing.
      type: str
    finished:
      description: When its nmap run finished (ISO 8601 UTC), or null.
      type: str
    targets:
      description: Addresses of the subnet probed.
      type: int
    neighbour_discovery:
      description: The interface on which IPv6 neighbours were asked for, or null.
      type: str
    hosts:
      description: The hosts seen up, in address order.
      type: list
      elements: dict
      contains:
        ip:
          description: The address.
          type: str
        state:
          description: Always V(up).
          type: str
        reason:
          description: Why nmap thinks it is up (V(arp-response), V(echo-reply), V(syn-ack), V(localhost-response)...).
          type: str
        mac:
          description: MAC address in lower case, or null (not on the same link, or unprivileged).
          type: str
        vendor:
          description: The vendor nmap gives for the MAC address, or null.
          type: str
        hostname:
          description: The PTR name nmap found, or null.
          type: str
"""

import os

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import LocalModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.nmap import NmapError, locate_nmap, scan


def main():
    module = LocalModule(
        argument_spec=dict(
            subnets=dict(type='list', elements='dict', required=True),
            nmap_path=dict(type='path'),
            timing=dict(type='int', default=4, choices=[0, 1, 2, 3, 4, 5]),
            max_rate=dict(type='float'),
            min_rate=dict(type='float'),
            host_timeout=dict(type='str'),
            probe_ports=dict(type='list', elements='int'),
            privileged=dict(type='str', default='auto', choices=['auto', 'true', 'false']),
            ipv6_discovery=dict(type='bool', default=True),
            scan_timeout=dict(type='int', default=3600),
        ),
    )
    params = module.params
    privileged = os.geteuid() == 0 if params['privileged'] == 'auto' else params['privileged'] == 'true'
    try:
        nmap_path = locate_nmap(params['nmap_path'], module.get_bin_path)
        result, warnings = scan(params['subnets'], nmap_path, module.run_command, privileged,
                                ipv6_discovery=params['ipv6_discovery'], scan_timeout=params['scan_timeout'] or None,
                                timing=params['timing'], max_rate=params['max_rate'], min_rate=params['min_rate'],
                                host_timeout=params['host_timeout'], probe_ports=params['probe_ports'])
    except NmapError as exc:
        module.fail_json(msg=str(exc), run=exc.run, stderr=exc.stderr)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
