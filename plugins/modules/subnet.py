#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: subnet
short_description: Create, update or delete a phpIPAM subnet, and assign it to a scan agent
version_added: 0.1.0
description:
  - Manages one subnet, identified by its CIDR within a section.
  - Changes only the fields that differ; options left unset are not touched. A rerun reports no change.
  - Assigning O(scan_agent) together with O(ping_subnet) and O(discover_subnet) hands the subnet to a scan agent
    such as the one of the playbook C(ipamkit.phpipam.agent).
  - O(metadata) is free-form data returned as the same dict. It is stored in the subnet custom field
    O(metadata_field) when one is named, otherwise at the end of the description as
    C(<description> [ipamkit:{"key":"value"}]); the returned C(description) never shows the marker.
  - A subnet that still holds addresses is deleted only with O(force=true), because phpIPAM deletes its addresses too.
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
    details: The changed fields before and after.
options:
  cidr:
    description: The subnet, such as V(198.18.0.0/27) or V(fd00:18::/64). Host bits must be zero.
    type: str
    required: true
  section:
    description: Section name or id.
    type: str
    required: true
  state:
    description: V(present) creates or updates, V(absent) deletes.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Description (phpIPAM shows it as the subnet's name).
    type: str
  parent:
    description: Master subnet (CIDR or id) of a new nested subnet; V(0) for none. Existing subnets are not moved.
    type: str
  vlan:
    description: VLAN by number, by name, or as V(id:<phpIPAM id>); V(0) for none.
    type: str
  nameservers:
    description: Name of the name server set (Administration > Nameservers); an empty string for none.
    type: str
  ping_subnet:
    description: Check the status of the subnet's addresses (phpIPAM I(Check hosts status)).
    type: bool
  discover_subnet:
    description: Discover new hosts (phpIPAM I(Discover new hosts)).
    type: bool
  resolve_dns:
    description: Resolve host names (phpIPAM I(Resolve DNS names)).
    type: bool
  is_full:
    description: Mark the subnet as full; M(ipamkit.phpipam.reservation) and the P(ipamkit.phpipam.next_free#lookup) lookup skip full subnets.
    type: bool
  scan_agent:
    description: Name (or id) of the scan agent that scans the subnet; an empty string for none.
    type: str
  scan_agent_code:
    description: The scan agent given by its code instead of O(scan_agent); kept out of logs.
    type: str
  custom_fields:
    description: Values of phpIPAM subnet custom fields, by field name.
    type: dict
  metadata:
    description: Free-form data stored with the subnet (see the description above); replaces what is stored.
    type: dict
  metadata_field:
    description: Subnet custom field that stores O(metadata) as JSON instead of the description.
    type: str
  force:
    description: With O(state=absent), delete a subnet that holds addresses, and the addresses with it.
    type: bool
    default: false
seealso:
  - module: ipamkit.phpipam.reservation
"""

EXAMPLES = r"""
- name: A subnet for the web tier, scanned by the dc1 agent, tagged as pool web
  ipamkit.phpipam.subnet:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    cidr: 198.18.0.0/27
    section: Production
    description: web tier A
    vlan: 110
    nameservers: dc1-dns
    scan_agent: dc1-agent
    ping_subnet: true
    discover_subnet: true
    metadata:
      pool: web

- name: Delete it with its addresses
  ipamkit.phpipam.subnet:
    cidr: 198.18.0.0/27
    section: Production
    state: absent
    force: true
"""

RETURN = r"""
subnet:
  description:
    - The subnet after the run (predicted in check mode) with phpIPAM's field names, plus C(cidr) and
      C(metadata); null after a delete.
  returned: always
  type: dict
  sample:
    id: 18
    cidr: 198.18.0.0/27
    subnet: 198.18.0.0
    mask: 27
    sectionId: 3
    description: web tier A
    metadata:
      pool: web
    vlanId: 3
    scanAgent: 2
    pingSubnet: true
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.subnet_service import run_subnet


def main():
    module = PhpipamModule(
        argument_spec=dict(
            cidr=dict(type='str', required=True),
            section=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            description=dict(type='str'),
            parent=dict(type='str'),
            vlan=dict(type='str'),
            nameservers=dict(type='str'),
            ping_subnet=dict(type='bool'),
            discover_subnet=dict(type='bool'),
            resolve_dns=dict(type='bool'),
            is_full=dict(type='bool'),
            scan_agent=dict(type='str'),
            scan_agent_code=dict(type='str', no_log=True),
            custom_fields=dict(type='dict'),
            metadata=dict(type='dict'),
            metadata_field=dict(type='str'),
            force=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('scan_agent', 'scan_agent_code')],
    )
    with module.api() as client:
        result = run_subnet(client, module.params, module.check_mode, module._diff)  # pylint: disable=protected-access
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
