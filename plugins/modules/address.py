#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: address
short_description: Create, update or delete one phpIPAM address
version_added: 0.1.0
description:
  - Manages one address, identified by O(ip) (with O(subnet) when the IP exists in several subnets) or, without
    O(ip), by O(hostname) within O(subnet).
  - Changes only the fields that differ from phpIPAM; options left unset are not touched. A rerun with the same
    options reports no change and sends no write.
  - Every update resends the address's tag, because phpIPAM 1.8.2 resets it to C(Used) on any change that leaves
    it out; the tag changes only when O(tag) says so.
  - The IP is checked against its subnet before anything is sent (phpIPAM 1.8.2 stores an invalid IP as
    C(0.0.0.0) and answers an address outside the subnet with a server error). IPv4 network and broadcast
    addresses are refused.
  - A reservation marker (M(ipamkit.phpipam.reservation)) in the note is kept when O(note) is set.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and reports what would change; writes nothing.
  diff_mode:
    support: full
    details: The changed fields before and after (all fields for a create or delete).
options:
  ip:
    description: The IP address (IPv4 or IPv6).
    type: str
  subnet:
    description:
      - Subnet of the address, as a CIDR or a phpIPAM subnet id. Needed when the IP exists in several subnets and
        to find an address by O(hostname). Without it a new address goes into the most specific subnet holding O(ip).
    type: str
  section:
    description: Section (name or id) in which O(subnet) or O(ip) is looked up.
    type: str
  state:
    description: V(present) creates or updates the address, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  hostname:
    description: Host name. Without O(ip), it identifies the address within O(subnet) instead.
    type: str
  description:
    description: Description (phpIPAM keeps at most 64 characters).
    type: str
  mac:
    description: MAC address, in colon, dash, Cisco-dot or bare notation; stored as lower case with colons.
    type: str
  owner:
    description: Owner.
    type: str
  note:
    description: Note.
    type: str
  tag:
    description: Address tag by name, such as V(Used), V(Reserved), V(Offline), V(DHCP) or a custom tag.
    type: str
  exclude_ping:
    description: Leave the address out of phpIPAM's status checks.
    type: bool
  is_gateway:
    description: The address is its subnet's gateway.
    type: bool
  custom_fields:
    description: Values of phpIPAM address custom fields, by field name (such as C(custom_asset)).
    type: dict
seealso:
  - module: ipamkit.phpipam.reservation
"""

EXAMPLES = r"""
- name: Record a host
  ipamkit.phpipam.address:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    ip: 198.18.0.10
    subnet: 198.18.0.0/27
    hostname: db1.example.com
    mac: 02-00-5E-10-00-0A
    tag: Used
    custom_fields:
      custom_asset: A-0042

- name: Mark the host found by name as offline
  ipamkit.phpipam.address:
    subnet: 198.18.0.0/27
    hostname: db1.example.com
    tag: Offline

- name: Remove it
  ipamkit.phpipam.address:
    ip: 198.18.0.10
    state: absent
"""

RETURN = r"""
address:
  description:
    - The address as phpIPAM holds it after the run (predicted in check mode), with phpIPAM's field names and
      normalised types; null after a delete.
  returned: always
  type: dict
  sample:
    id: 42
    ip: 198.18.0.10
    subnetId: 18
    hostname: db1.example.com
    mac: "02:00:5e:10:00:0a"
    tag: 2
    excludePing: false
    is_gateway: false
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.address_service import run_address
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule


def main():
    module = PhpipamModule(
        argument_spec=dict(
            ip=dict(type='str'),
            subnet=dict(type='str'),
            section=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            hostname=dict(type='str'),
            description=dict(type='str'),
            mac=dict(type='str'),
            owner=dict(type='str'),
            note=dict(type='str'),
            tag=dict(type='str'),
            exclude_ping=dict(type='bool'),
            is_gateway=dict(type='bool'),
            custom_fields=dict(type='dict'),
        ),
        required_one_of=[('ip', 'hostname')],
    )
    if not module.params['ip'] and not module.params['subnet']:
        module.fail_json(msg='finding an address by hostname needs subnet (or give ip)')
    with module.api() as client:
        result = run_address(client, module.params, module.check_mode, module._diff)  # pylint: disable=protected-access
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
