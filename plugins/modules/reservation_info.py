#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: reservation_info
short_description: Find reservations made with ipamkit.phpipam.reservation and their leases
version_added: 0.1.0
description:
  - Returns the reservations whose leases carry the given O(name) and/or hold the given O(metadata) items, with
    their leases, optionally only within a subnet or pool.
  - Reads only; runs unchanged in check mode. One search request for all of phpIPAM, plus one read per subnet
    the leases are in.
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
  name:
    description: Name of the reservation. Without it, every reservation (that matches O(metadata)) is returned.
    type: str
  metadata:
    description: Items the reservation's metadata must contain.
    type: dict
  metadata_field:
    description: The address custom field the reservations store their marker in (as given to the reservation module).
    type: str
  subnet:
    description: Only leases in this subnet (CIDR or id).
    type: str
  pool:
    description: Only leases in these subnets (CIDRs or ids).
    type: list
    elements: str
  section:
    description: Section (name or id) in which the CIDRs of O(subnet) or O(pool) are looked up.
    type: str
seealso:
  - module: ipamkit.phpipam.reservation
"""

EXAMPLES = r"""
- name: The leases of reservation web-tier
  ipamkit.phpipam.reservation_info:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    name: web-tier
  register: web

- name: Every reservation of team web
  ipamkit.phpipam.reservation_info:
    metadata:
      owner: team-web
  register: team
"""

RETURN = r"""
reservations:
  description: Matching reservations, by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The reservation's name.
      type: str
    count:
      description: How many leases it holds.
      type: int
    metadata:
      description: Its metadata.
      type: dict
    leases:
      description:
        - Its leases by index, as M(ipamkit.phpipam.reservation) returns them (ip, id, subnet, subnet_id, hostname,
          description, tag, reservation, index, metadata).
      type: list
      elements: dict
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation_service import reservation_info
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import LookupFailed


def main():
    module = PhpipamModule(
        argument_spec=dict(
            name=dict(type='str'),
            metadata=dict(type='dict'),
            metadata_field=dict(type='str'),
            subnet=dict(type='str'),
            pool=dict(type='list', elements='str'),
            section=dict(type='str'),
        ),
        mutually_exclusive=[('subnet', 'pool')],
    )
    with module.api() as client:
        try:
            reservations = reservation_info(client, module.params)
        except LookupFailed as exc:
            module.fail_json(msg=str(exc))
    module.exit_json(changed=False, reservations=reservations)


if __name__ == '__main__':
    main()
