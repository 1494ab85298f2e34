#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: reservation
short_description: Reserve a number of addresses from a phpIPAM subnet or pool, safely under concurrent runs
version_added: 0.1.0
description:
  - Makes sure exactly O(count) addresses of a subnet or a pool of subnets carry the reservation O(name),
    reserving only the missing ones. A rerun returns the same addresses and reports no change.
  - O(name) is the idempotency key. Each reserved address (a lease) is an ordinary phpIPAM address whose
    note (or the custom field O(metadata_field)) holds the marker C([ipamkit:{"index":1,"metadata":{},"reservation":"NAME"}]),
    so the reservation, the lease's stable index and O(metadata) round-trip.
  - Concurrent runs never get the same address. The module creates each address and treats phpIPAM's refusal
    of a duplicate as "taken, try the next"; it never trusts a read of free addresses. It never reserves a
    network or broadcast address (phpIPAM 1.8.2's own IPv6 first-free would).
  - All or nothing. When the pool cannot satisfy the request, the task fails with a message starting with
    C(pool exhausted) that says how many addresses were free where, and nothing this run created stays
    reserved. Leases the reservation held before the run are kept.
  - O(state=absent) releases (deletes) every address carrying the reservation.
  - See the guide C(docs/reservation.md) for the concurrency guarantee and a provisioning play.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and predicts the leases (new ones with C(id) null); writes nothing.
  diff_mode:
    support: full
    details: The reservation's leases before and after, one line each.
options:
  name:
    description: Name of the reservation; the idempotency key.
    type: str
    required: true
  state:
    description: V(present) reserves, V(absent) releases every lease of O(name).
    type: str
    choices: [present, absent]
    default: present
  count:
    description: How many addresses the reservation holds. Required with O(state=present); must be 1 or more.
    type: int
  subnet:
    description: Reserve from this one subnet, as a CIDR or a phpIPAM subnet id.
    type: str
  pool:
    description:
      - Reserve from these subnets (CIDRs or ids), filling them in the order given.
    type: list
    elements: str
  pool_selector:
    description:
      - Reserve from the subnets of a section chosen by their metadata (as the M(ipamkit.phpipam.subnet) module
        stores it) or by a subnet custom field, in address order.
    type: dict
    suboptions:
      section:
        description: Section name or id.
        type: str
        required: true
      metadata:
        description: Items the subnet's metadata must contain.
        type: dict
      metadata_field:
        description: Subnet custom field that holds subnet metadata (default the description marker).
        type: str
      custom_field:
        description: Subnet custom field to compare with O(pool_selector.value).
        type: str
      value:
        description: Value of O(pool_selector.custom_field).
        type: str
  section:
    description: Section (name or id) in which the CIDRs of O(subnet) or O(pool) are looked up, when a CIDR exists in several.
    type: str
  hostname_pattern:
    description:
      - Host name of each lease, a Python format string with V({name}), V({index}) (the lease's stable 1-based
        index), V({ip}) and V({ip_dashed}), for example V(web-{index:02d}.example.com).
    type: str
  description:
    description: Description of each lease (phpIPAM keeps at most 64 characters).
    type: str
  tag:
    description: Address tag of each lease, by name.
    type: str
    default: Reserved
  metadata:
    description: Free-form data stored with each lease and returned as the same dict.
    type: dict
  metadata_field:
    description:
      - An address custom field that stores the reservation marker as JSON, instead of the address note.
    type: str
  exclude:
    description: Addresses, CIDRs or C(first-last) ranges never reserved.
    type: list
    elements: str
    default: []
  max_conflicts:
    description: How many addresses may be taken by other runs under this run's hands before it gives up.
    type: int
    default: 500
  contention_wait:
    description:
      - Seconds the first of several concurrent runs waits for the others to give back addresses when the pool
        runs out part way, before it gives up.
    type: float
    default: 8
notes:
  - Requests are one read per pool subnet, one create and one search per new lease, and one read after each
    address another run took first.
  - Two runs with the same O(name) at the same time may both add leases; the next run trims the reservation to
    O(count). Give each concurrent run its own name.
seealso:
  - module: ipamkit.phpipam.reservation_info
  - plugin: ipamkit.phpipam.next_free
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Reserve three addresses for the web tier from two subnets
  ipamkit.phpipam.reservation:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    name: web-tier
    count: 3
    pool:
      - 198.18.0.0/27
      - 198.18.0.32/27
    hostname_pattern: "web-{index:02d}.example.com"
    description: web tier
    metadata:
      owner: team-web
      ticket: CHG-1234
  register: web

- name: Use the addresses
  ansible.builtin.debug:
    msg: "{{ web.leases | map(attribute='ip') | list }}"

- name: Release them
  ipamkit.phpipam.reservation:
    name: web-tier
    state: absent
"""

RETURN = r"""
leases:
  description: The reservation's leases after the run, by index.
  returned: always
  type: list
  elements: dict
  contains:
    ip:
      description: The address.
      type: str
      sample: 198.18.0.1
    id:
      description: phpIPAM address id (null for a lease check mode only predicts).
      type: int
    subnet:
      description: The subnet in CIDR notation.
      type: str
    subnet_id:
      description: phpIPAM subnet id.
      type: int
    hostname:
      description: Host name.
      type: str
    description:
      description: Description.
      type: str
    tag:
      description: Tag name.
      type: str
    reservation:
      description: Name of the reservation.
      type: str
    index:
      description: Stable 1-based index of the lease.
      type: int
    metadata:
      description: The reservation's metadata.
      type: dict
released:
  description: Addresses released by this run.
  returned: always
  type: list
  elements: str
allocation:
  description:
    - What reserving took; C(conflicts) counts addresses other runs took first, C(rounds) the attempts of the
      whole allocation, C(released_partial) addresses created and given back in a lost race.
  returned: always
  type: dict
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation_service import run_reservation


def main():
    module = PhpipamModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            count=dict(type='int'),
            subnet=dict(type='str'),
            pool=dict(type='list', elements='str'),
            pool_selector=dict(type='dict', options=dict(
                section=dict(type='str', required=True),
                metadata=dict(type='dict'),
                metadata_field=dict(type='str'),
                custom_field=dict(type='str'),
                value=dict(type='str'),
            )),
            section=dict(type='str'),
            hostname_pattern=dict(type='str'),
            description=dict(type='str'),
            tag=dict(type='str', default='Reserved'),
            metadata=dict(type='dict'),
            metadata_field=dict(type='str'),
            exclude=dict(type='list', elements='str', default=[]),
            max_conflicts=dict(type='int', default=500),
            contention_wait=dict(type='float', default=8),
        ),
        mutually_exclusive=[('subnet', 'pool', 'pool_selector')],
        required_if=[('state', 'present', ('count',)), ('state', 'present', ('subnet', 'pool', 'pool_selector'), True)],
    )
    with module.api() as client:
        result = run_reservation(client, module.params, module.check_mode, module._diff)  # pylint: disable=protected-access
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
