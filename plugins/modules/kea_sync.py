#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: kea_sync
short_description: Sync phpIPAM subnets, pools and host reservations to ISC Kea DHCPv4, and leases back
version_added: 0.1.0
description:
  - Makes the Kea DHCPv4 servers behind one or more Kea Control Agents follow phpIPAM. The mapping is in
    docs/kea.md - a phpIPAM subnet becomes a Kea C(subnet4) whose C(id) is the phpIPAM subnet id, the gateway
    becomes option C(routers), the subnet's name server set C(domain-name-servers); contiguous runs of
    addresses tagged O(dhcp_tag) become pools; addresses with a MAC that are not DHCP-tagged and not the
    gateway become host reservations.
  - Only open-source Kea commands are used - C(config-get), C(config-test), C(config-set), C(config-write),
    and C(lease4-get-all) of the lease_cmds hook for O(reverse_sync). Kea's config file is never written
    directly.
  - Subnets carry the marker C(user-context.ipamkit) with O(owner). Subnets without our marker, shared networks
    and all global settings are passed back exactly as Kea reported them.
  - Every new configuration is checked with C(config-test) on every server before any server gets
    C(config-set); one refusal and nothing is applied anywhere. With two servers (a Kea HA pair) both get the
    same subnets.
  - Bad phpIPAM data (a subnet without gateway, an IPv6 subnet, a duplicate MAC, a subnet colliding with one
    Kea has that ipamkit does not manage, nested subnets) is skipped with a warning naming the object, or
    fails the run before anything is sent when O(strict=true). A managed subnet skipped this way stays in
    Kea as it was.
  - With O(reverse_sync=true), active leases of the synced subnets are written to phpIPAM by the scan
    agent's rules - C(lastSeen) (the lease's last client contact, never moved back), a MAC or host name only
    when phpIPAM has none (unless O(update_mac)/O(update_hostname)), the tag always resent unchanged; unknown
    addresses are created with tag O(dhcp_tag).
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and Kea and runs C(config-test); sends no C(config-set), C(config-write) or phpIPAM write.
  diff_mode:
    support: full
    details: The changed Kea subnets with their options, pools and reservations, before and after, per server.
options:
  servers:
    description: The Kea Control Agents to configure; give both members of an HA pair.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: The Control Agent's URL, such as V(https://kea1.example.com:8000/).
        type: str
        required: true
      username:
        description: HTTP basic auth user (the agent's C(authentication.clients)).
        type: str
      password:
        description: Password of O(servers[].username).
        type: str
      validate_certs:
        description: Verify the agent's TLS certificate.
        type: bool
        default: true
      ca_path:
        description: PEM file of the CA that issued the agent's certificate.
        type: path
      client_cert:
        description: PEM client certificate, for agents with C(cert-required).
        type: path
      client_key:
        description: Private key of O(servers[].client_cert).
        type: path
      allow_insecure_http:
        description: Allow V(http://) to an address that is not loopback; the password then travels unencrypted.
        type: bool
        default: false
  section:
    description: Sync the subnets of this section (name or id); with O(subnets), the section their CIDRs are in.
    type: str
  subnets:
    description: Sync these subnets (CIDRs or ids) instead of a whole section.
    type: list
    elements: str
  subnet_field:
    description: Sync only subnets whose custom field of this name equals O(subnet_field_value).
    type: str
  subnet_field_value:
    description: The value of O(subnet_field) that selects a subnet.
    type: str
    default: "yes"
  domain_name_field:
    description: Subnet custom field holding the DHCP domain name (option C(domain-name)); unset, none is sent.
    type: str
  valid_lifetime_field:
    description: Subnet custom field holding the lease time in seconds (C(valid-lifetime)); unset, Kea's applies.
    type: str
  dhcp_tag:
    description: The phpIPAM address tag that marks pool addresses and the tag of addresses created from leases.
    type: str
    default: DHCP
  reservation_hostnames:
    description: Put the phpIPAM host name into each reservation.
    type: bool
    default: true
  owner:
    description:
      - Name in the marker of the subnets this sync owns. Two syncs with different owners (two phpIPAMs or
        sections) can feed one Kea without removing each other's subnets.
    type: str
    default: phpipam
  strict:
    description: Fail before sending anything when phpIPAM's data has a problem, instead of skipping the object.
    type: bool
    default: false
  allow_remove_all:
    description:
      - When phpIPAM selects no subnet at all, remove every subnet this sync manages from Kea.
      - Without it such a sync fails and sends nothing, because an empty selection is far more often a mistake
        (a wrong section or field value, an empty phpIPAM answer) than a wish to turn DHCP off.
    type: bool
    default: false
  write_config:
    description: After C(config-set), save the configuration with C(config-write) so it survives a restart.
    type: bool
    default: true
  reverse_sync:
    description: Write the synced subnets' active leases to phpIPAM (needs the lease_cmds hook in Kea).
    type: bool
    default: false
  update_mac:
    description: With O(reverse_sync), replace a MAC phpIPAM already has by the lease's.
    type: bool
    default: false
  update_hostname:
    description: With O(reverse_sync), replace a host name phpIPAM already has by the lease's.
    type: bool
    default: false
  lease_description:
    description: Description of addresses created from leases.
    type: str
    default: "-- kea lease --"
  lastseen_refresh:
    description: Seconds; skip C(lastSeen) writes for addresses whose stored value is less than this older.
    type: int
    default: 0
  api_workers:
    description: phpIPAM writes in flight at once (reverse sync).
    type: int
    default: 4
  kea_timeout:
    description: Seconds to wait for a Kea Control Agent to answer one command.
    type: int
    default: 30
notes:
  - C(changed) means a Kea server got a new configuration or phpIPAM got an address write; an identical rerun
    sends no C(config-set) and reports no change.
  - DHCPv6 is not synced - Kea reserves IPv6 addresses by DUID, which phpIPAM does not hold. IPv6 subnets in the
    selection are skipped with a warning.
seealso:
  - module: ipamkit.phpipam.subnet
  - module: ipamkit.phpipam.address
"""

EXAMPLES = r"""
- name: phpIPAM section Office -> the Kea HA pair, leases back into phpIPAM
  module_defaults:
    group/ipamkit.phpipam.phpipam:
      url: https://ipam.example.com
      app_id: kea
      token: "{{ phpipam_app_code }}"
  block:
    - name: Sync the subnets whose custom field dhcp is yes
      ipamkit.phpipam.kea_sync:
        section: Office
        subnet_field: dhcp
        subnet_field_value: "yes"
        domain_name_field: dhcp_domain
        servers:
          - url: https://kea1.example.com:8000/
            username: ipamkit
            password: "{{ kea_password }}"
            ca_path: /etc/pki/kea-ca.pem
          - url: https://kea2.example.com:8000/
            username: ipamkit
            password: "{{ kea_password }}"
            ca_path: /etc/pki/kea-ca.pem
        reverse_sync: true
      register: kea

    - name: What changed
      ansible.builtin.debug:
        var: kea.summary
"""

RETURN = r"""
summary:
  description: One line per Kea server, then the lease lines with O(reverse_sync).
  returned: always
  type: list
  elements: str
  sample:
    - "Kea https://kea1.example.com:8000/: 1 subnet(s) created, 2 updated, 0 removed, 5 unchanged, 0 kept (skipped in phpIPAM)"
servers:
  description: Per Kea server, whether it got a new configuration and what happened to each managed subnet.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The Control Agent.
      type: str
    changed:
      description: The server got (in check mode, would get) a new configuration.
      type: bool
    subnets:
      description:
        - One entry per managed subnet - C(id), C(subnet), C(action) (V(create), V(update), V(delete), V(unchanged),
          or V(kept) for a subnet skipped in phpIPAM and left as it is), C(pools) and C(reservations) counts, and
          C(before)/C(after) as lines in Kea terms for changed subnets.
      type: list
      elements: dict
problems:
  description: Every skipped object of phpIPAM, with the reason (also given as warnings).
  returned: always
  type: list
  elements: str
leases:
  description: With O(reverse_sync), per subnet the leases seen and the addresses created and updated, and the totals.
  returned: when O(reverse_sync=true)
  type: dict
phpipam_writes:
  description: With O(reverse_sync), the address writes sent to phpIPAM (in check mode, planned).
  returned: when O(reverse_sync=true)
  type: int
kea_commands:
  description: Kea commands sent, by command, summed over the servers.
  returned: always
  type: dict
  sample: {"config-get": 2, "config-test": 2, "config-set": 2, "config-write": 2}
"""

import datetime

from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea import KeaError, client_from_server
from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea_apply import SyncFailed, run_sync
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule

SERVER_SPEC = dict(
    url=dict(type='str', required=True),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path'),
    client_cert=dict(type='path'),
    client_key=dict(type='path', no_log=False),
    allow_insecure_http=dict(type='bool', default=False),
)


def main():
    module = PhpipamModule(argument_spec=dict(
        servers=dict(type='list', elements='dict', required=True, options=SERVER_SPEC),
        section=dict(type='str'),
        subnets=dict(type='list', elements='str'),
        subnet_field=dict(type='str'),
        subnet_field_value=dict(type='str', default='yes'),
        domain_name_field=dict(type='str'),
        valid_lifetime_field=dict(type='str'),
        dhcp_tag=dict(type='str', default='DHCP'),
        reservation_hostnames=dict(type='bool', default=True),
        owner=dict(type='str', default='phpipam'),
        strict=dict(type='bool', default=False),
        allow_remove_all=dict(type='bool', default=False),
        write_config=dict(type='bool', default=True),
        reverse_sync=dict(type='bool', default=False),
        update_mac=dict(type='bool', default=False),
        update_hostname=dict(type='bool', default=False),
        lease_description=dict(type='str', default='-- kea lease --'),
        lastseen_refresh=dict(type='int', default=0, no_log=False),
        api_workers=dict(type='int', default=4),
        kea_timeout=dict(type='int', default=30),
    ), required_one_of=[('section', 'subnets')])
    params = module.params
    try:
        servers = [client_from_server(server, params['kea_timeout']) for server in params['servers']]
    except KeaError as exc:
        module.fail_json(msg=str(exc), error=exc.to_dict())
    now = datetime.datetime.now(datetime.timezone.utc)
    with module.api() as client:
        try:
            result = run_sync(client, servers, params, now, module.check_mode, module._diff)  # pylint: disable=protected-access
        except KeaError as exc:
            module.fail_json(msg=str(exc), error=exc.to_dict())
        except SyncFailed as exc:
            module.fail_json(msg=str(exc), **exc.details)
    for problem in result['problems']:
        module.warn(problem)
    result['changed'] = result.pop('kea_changed') or bool(result.get('phpipam_writes'))
    errors = sum(row['errors'] for row in result.get('leases', {}).get('subnets', []))
    if errors:
        module.fail_json(msg='%d phpIPAM write(s) of the lease sync failed, the others were applied' % errors, **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
