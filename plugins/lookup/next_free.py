# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: next_free
short_description: The next free addresses of a phpIPAM subnet or pool, without reserving them
version_added: 0.1.0
description:
  - Returns the first O(count) free addresses of the subnets given as terms (CIDRs or ids), filling them in
    the order given, for templates and planning.
  - Never returns a network or broadcast address (phpIPAM 1.8.2's own IPv6 first-free returns the network
    address), an address phpIPAM holds (the gateway included), an address in O(exclude), or anything from a
    subnet marked full.
  - Reads only; nothing is reserved, so another run may take the addresses before you use them. To hold them,
    use M(ipamkit.phpipam.reservation), which is safe under concurrent runs.
  - Fails when the subnets have fewer than O(count) free addresses, saying how many each has.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection.PLUGIN_OPTIONS
options:
  _terms:
    description: Subnets as CIDRs or phpIPAM subnet ids, in the order to fill them.
    type: list
    elements: str
    required: true
  count:
    description: How many addresses to return.
    type: int
    default: 1
  exclude:
    description: Addresses, CIDRs or C(first-last) ranges to skip.
    type: list
    elements: str
    default: []
  section:
    description: Section (name or id) in which the CIDRs are looked up, when a CIDR exists in several sections.
    type: str
"""

EXAMPLES = r"""
- name: Plan three addresses from two subnets, skipping the first ten of the first one
  ansible.builtin.debug:
    msg: "{{ query('ipamkit.phpipam.next_free', '198.18.0.0/27', '198.18.0.32/27', count=3,
                   exclude=['198.18.0.1-198.18.0.10']) }}"

- name: One address for a template
  ansible.builtin.set_fact:
    planned_ip: "{{ lookup('ipamkit.phpipam.next_free', '198.18.0.0/27') }}"
"""

RETURN = r"""
_list:
  description: The free addresses, as strings, in pool order.
  type: list
  elements: str
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import AddressInputError, parse_excludes
from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import HAS_REQUESTS, client_from_options
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation import PoolExhausted
from ansible_collections.ipamkit.phpipam.plugins.module_utils.reservation_service import next_free
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import LookupFailed, resolve_pool

display = Display()

CONNECTION_OPTIONS = ('url', 'app_id', 'token', 'username', 'password', 'validate_certs', 'ca_path', 'timeout',
                      'allow_insecure_http', 'timezone')


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not HAS_REQUESTS:
            raise AnsibleError('the ipamkit.phpipam.next_free lookup needs the Python library requests')
        count = self.get_option('count')
        if count is None or count < 1:
            raise AnsibleError('ipamkit.phpipam.next_free: count must be 1 or more (got %s)' % count)
        if not terms:
            raise AnsibleError('ipamkit.phpipam.next_free: give at least one subnet (CIDR or id)')
        try:
            exclude = parse_excludes(self.get_option('exclude'))
        except AddressInputError as exc:
            raise AnsibleError('ipamkit.phpipam.next_free: %s' % exc)
        client = None
        try:
            client = client_from_options(dict((name, self.get_option(name)) for name in CONNECTION_OPTIONS))
            pool = resolve_pool(client, pool=[str(term) for term in terms], section=self.get_option('section'))
            found = next_free(client, pool, count, exclude)
        except (PhpipamError, LookupFailed, PoolExhausted) as exc:
            raise AnsibleError('ipamkit.phpipam.next_free: %s' % exc)
        finally:
            if client is not None:
                for warning in client.warnings:
                    display.warning(warning)
                client.close()
        return [str(ip) for ip, _subnet in found]
