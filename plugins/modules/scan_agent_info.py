#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: scan_agent_info
short_description: Get a phpIPAM scan agent, the subnets it owns and their addresses
version_added: 0.1.0
description:
  - Looks up a phpIPAM scan agent by its code, id or name and returns the subnets assigned to it (subnet
    setting I(Scan agent)), with what a scanner needs to know about each, and optionally their addresses.
  - Reads only; runs unchanged in check mode.
  - Costs a fixed handful of API requests plus, with O(addresses=true), one per subnet, sent in parallel.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  agent_code:
    description:
      - The agent's code, as shown under Administration > Scan agents. phpIPAM's own agents authenticate with
        it, so it is treated as a secret and kept out of logs and results.
      - Exactly one of O(agent_code), O(agent_id) and O(agent_name) is required, unless O(relay_url) is set.
    type: str
  agent_id:
    description: The agent's numeric id.
    type: int
  agent_name:
    description: The agent's name.
    type: str
  addresses:
    description: Also return the addresses of every subnet.
    type: bool
    default: false
  require_write:
    description:
      - Fail unless the API app may write (permissions C(Read / Write) or C(Admin)). A scan agent that
        updates phpIPAM directly sets this to find out before it scans.
    type: bool
    default: false
  min_scan_interval:
    description:
      - Seconds. Subnets whose checks all ran less than this long ago (C(lastScan) for C(pingSubnet),
        C(lastDiscovery) for C(discoverSubnet)) are left out of RV(subnets) and listed in RV(skipped_subnets).
    type: int
    default: 0
  cache_path:
    description:
      - File in which the agent and its subnet list (not the addresses) are kept between runs for
        O(cache_ttl) seconds, saving two requests per run. Addresses are always read fresh.
      - A subnet reassigned in phpIPAM while cached is still refused by M(ipamkit.phpipam.scan_upload).
    type: path
  cache_ttl:
    description: Seconds a cached subnet list stays valid; V(0) turns the cache off.
    type: int
    default: 0
  relay_url:
    description:
      - Ask a scan relay instead of phpIPAM. The relay answers C(GET subnets) beside this URL (for
        V(https://relay:8443/reports), V(https://relay:8443/subnets)) with the agent, its subnets and their
        addresses, read with the relay's own phpIPAM credentials; the token says which agent.
      - The agent then needs no phpIPAM access at all; O(url), O(app_id), O(token) and the agent options are not
        used, nor are O(require_write) and the cache. Addresses always come with the subnets.
      - The token is sent only over verified HTTPS, or plain HTTP to a loopback address.
    type: str
  relay_token:
    description: The agent's bearer token at the relay. Required with O(relay_url).
    type: str
  relay_ca_path:
    description: CA bundle (PEM) that issued the relay's certificate, for a private CA.
    type: path
seealso:
  - plugin: ipamkit.phpipam.phpipam
    plugin_type: lookup
    description: Reads any other phpIPAM API path.
"""

EXAMPLES = r"""
- name: What does phpIPAM say this agent scans?
  ipamkit.phpipam.scan_agent_info:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    agent_code: "{{ scan_agent_code }}"
  register: agent_info

- name: Same, with the connection set once per play and the addresses included
  module_defaults:
    group/ipamkit.phpipam.phpipam:
      url: https://ipam.example.com
      app_id: ansible
      token: "{{ phpipam_app_code }}"
      ca_path: /etc/ssl/certs/internal-ca.pem
  block:
    - name: Fetch subnets and addresses
      ipamkit.phpipam.scan_agent_info:
        agent_name: dc1-agent
        addresses: true
        require_write: true
      register: agent_info

    - name: Show the subnets to ping
      ansible.builtin.debug:
        msg: "{{ agent_info.subnets | selectattr('pingSubnet') | map(attribute='cidr') | list }}"
"""

RETURN = r"""
agent:
  description: The scan agent (its code is not returned).
  returned: success
  type: dict
  contains:
    id:
      description: Agent id.
      type: int
      sample: 2
    name:
      description: Agent name.
      type: str
      sample: dc1-agent
    description:
      description: Agent description.
      type: str
    type:
      description: Agent type; remote agents are V(api), phpIPAM's own is V(direct).
      type: str
      sample: api
    last_access:
      description: When the agent last reported, ISO 8601 with offset, or null.
      type: str
      sample: "2026-11-25T19:48:00+00:00"
subnets:
  description: The subnets assigned to the agent, IPv4 first, in address order. Folders are left out.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Subnet id.
      type: int
    cidr:
      description: The subnet in CIDR notation.
      type: str
      sample: 198.18.10.0/24
    ip_version:
      description: V(4) or V(6).
      type: int
    subnet:
      description: Network address.
      type: str
    mask:
      description: Prefix length.
      type: int
    sectionId:
      description: Section id.
      type: int
    description:
      description: Subnet description.
      type: str
    masterSubnetId:
      description: Parent subnet id, V(0) at the top.
      type: int
    vlanId:
      description: VLAN id or null.
      type: int
    pingSubnet:
      description: Check the status of known addresses.
      type: bool
    discoverSubnet:
      description: Discover new hosts.
      type: bool
    resolveDNS:
      description: Resolve host names of addresses.
      type: bool
    nameserverId:
      description: Id of the subnet's name server set, V(0) or null for none.
      type: int
    dns_servers:
      description: IP addresses of the subnet's name server set, in order.
      type: list
      elements: str
    lastScan:
      description: Last status check, ISO 8601 with offset, or null.
      type: str
    lastDiscovery:
      description: Last discovery, ISO 8601 with offset, or null.
      type: str
    isFull:
      description: Marked as full in phpIPAM.
      type: bool
    addresses:
      description: With O(addresses=true), the subnet's addresses in address order.
      type: list
      elements: dict
      returned: when O(addresses=true)
      contains:
        id:
          description: Address id.
          type: int
        ip:
          description: The address.
          type: str
        hostname:
          description: Host name or null.
          type: str
        description:
          description: Description or null.
          type: str
        mac:
          description: MAC address (lower case) or null.
          type: str
        tag:
          description: Address tag id (1 Offline, 2 Used, 3 Reserved, 4 DHCP, or a custom tag).
          type: int
        excludePing:
          description: Excluded from status checks.
          type: bool
        is_gateway:
          description: The subnet's gateway.
          type: bool
        lastSeen:
          description: When last seen, ISO 8601 with offset, or null if never.
          type: str
app_permissions:
  description: The API app's permissions (V(Read), V(Write) or V(Admin)) when O(require_write=true), else null.
  returned: success
  type: str
  sample: Write
skipped_subnets:
  description: Subnets left out because of O(min_scan_interval), with C(id), C(cidr), C(lastScan), C(lastDiscovery), C(reason).
  returned: success
  type: list
  elements: dict
cached:
  description: Whether the agent and subnet list came from O(cache_path).
  returned: success
  type: bool
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_client import RelayError, fetch_subnets
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_agent import (
    attach_addresses,
    cache_key,
    check_write_access,
    fetch_agent_subnets,
    load_cached,
    split_due,
    store_cached,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import utcnow


def from_relay(module, now):
    """The subnet list from the relay (the agent has no phpIPAM access); exits the module."""
    params = module.params
    try:
        inventory = fetch_subnets(params['relay_url'], params['relay_token'], ca_path=params['relay_ca_path'],
                                  validate_certs=params['validate_certs'], timeout=params['timeout'])
    except RelayError as exc:
        module.fail_json(msg=str(exc), error=exc.to_dict())
    due, skipped = split_due(inventory['subnets'], now, params['min_scan_interval'])
    for subnet in due:
        subnet.setdefault('addresses', [])
    module.exit_json(changed=False, agent=inventory['agent'], subnets=due, skipped_subnets=skipped,
                     app_permissions=None, cached=False)


def main():
    module = PhpipamModule(
        argument_spec=dict(
            agent_code=dict(type='str', no_log=True),
            agent_id=dict(type='int'),
            agent_name=dict(type='str'),
            addresses=dict(type='bool', default=False),
            require_write=dict(type='bool', default=False),
            min_scan_interval=dict(type='int', default=0),
            cache_path=dict(type='path'),
            cache_ttl=dict(type='int', default=0),
            relay_url=dict(type='str'),
            relay_token=dict(type='str', no_log=True),
            relay_ca_path=dict(type='path'),
        ),
        mutually_exclusive=[('agent_code', 'agent_id', 'agent_name')],
        required_by={'relay_url': ['relay_token']},
    )
    params = module.params
    who = dict(code=params['agent_code'], agent_id=params['agent_id'], name=params['agent_name'])
    now = utcnow()
    if params['relay_url']:
        from_relay(module, now)
    if not any(value is not None for value in who.values()):
        module.fail_json(msg='one of the following is required: agent_code, agent_id, agent_name')
    with module.api() as client:
        permissions = check_write_access(client) if params['require_write'] else None
        cached = None
        use_cache = bool(params['cache_path'] and params['cache_ttl'] > 0)
        if use_cache:
            key = cache_key(client, **who)
            cached = load_cached(params['cache_path'], key, now, params['cache_ttl'], client.zone)
        if cached:
            agent, subnets = cached
        else:
            agent, subnets = fetch_agent_subnets(client, **who)
            if use_cache:
                try:
                    store_cached(params['cache_path'], key, now, agent, subnets)
                except OSError as exc:
                    module.warn('cannot write the subnet cache %s: %s' % (params['cache_path'], exc))
        due, skipped = split_due(subnets, now, params['min_scan_interval'])
        if params['addresses']:
            attach_addresses(client, due)
    module.exit_json(changed=False, agent=agent, subnets=due, skipped_subnets=skipped, app_permissions=permissions,
                     cached=bool(cached))


if __name__ == '__main__':
    main()
