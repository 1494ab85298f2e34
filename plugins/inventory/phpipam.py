# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
name: phpipam
short_description: Hosts, groups and SSH jump paths from phpIPAM addresses
version_added: 0.1.0
description:
  - Makes each phpIPAM address a host (inventory name the phpIPAM hostname, C(ansible_host) the IP) with its
    subnet, section, VLAN, tag, MAC, lastSeen, description, device, location and custom fields as
    C(phpipam_*) variables, and groups by section, subnet, VLAN, tag and location.
  - Reads phpIPAM with one request per collection (sections, subnets, addresses, VLANs, devices, tags,
    locations, and folders when a subnet sits in one), never one per host, so 10,000 addresses take seconds.
  - Every string from phpIPAM that could be a template (holds C({) or C(})) is marked unsafe, so a description
    holding C({{) is never templated.
  - With O(ssh_paths) (the default) each host gets C(ansible_ssh_common_args) with C(-o ProxyJump=...) computed
    from the chain of jump hosts recorded in phpIPAM custom fields, and C(ansible_user) from its SSH user field.
  - The configuration file must be named C(*.phpipam.yml) or C(*.phpipam.yaml).
  - See the collection's docs/inventory.md for examples, caching and AWX/AAP inventory sources.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection.PLUGIN_OPTIONS
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: Marks this file as a source for this plugin.
    type: str
    required: true
    choices: [ipamkit.phpipam.phpipam]
  sections:
    description: Only addresses in these sections, by name (case-insensitive) or id.
    type: list
    elements: str
    default: []
  subnets:
    description:
      - Only addresses in these subnets. A CIDR such as V(198.18.10.0/24) selects the addresses inside that
        network (in any section); an id selects the addresses of that subnet or folder and of the subnets
        nested below it.
    type: list
    elements: str
    default: []
  tags:
    description: Only addresses with these tags (phpIPAM's address states), by name such as V(Used) or by id.
    type: list
    elements: str
    default: []
  custom_fields:
    description:
      - Only addresses whose custom fields have these values, as a dictionary of field name (with or without
        the C(custom_) prefix) to a value or a list of accepted values. An address without its own value is
        judged by the nearest subnet's, up the master subnets and folders.
    type: dict
    default: {}
  hostname_required:
    description: Only addresses that have a hostname in phpIPAM.
    type: bool
    default: false
  seen_within:
    description:
      - Only addresses phpIPAM saw alive (C(lastSeen)) within this time, for example V(90m), V(12h), V(7d) or
        V(2w), or a number of seconds. Addresses never seen are left out.
      - lastSeen is read in the time zone of O(timezone).
    type: str
  hostname_source:
    description:
      - V(hostname) names each host by its phpIPAM hostname; V(ip) names every host by its IP address.
    type: str
    default: hostname
    choices: [hostname, ip]
  hostname_fallback:
    description: What an address without hostname becomes, with O(hostname_source=hostname).
    type: str
    default: ip
    choices:
      ip: a host named by its IP address.
      skip: no host.
  duplicate_hostnames:
    description:
      - What happens when several selected addresses have the same hostname (compared case-insensitively), as
        a multi-homed host or the IPv4 and IPv6 addresses of one host do. The preferred address is the IPv4
        one, then the most recently seen, then the lowest.
    type: str
    default: first
    choices:
      first: the preferred address is the host; the IPs of the others are in its C(phpipam_other_ips).
      ip: the preferred address keeps the name, each other address becomes a host named by its IP.
      error: the inventory fails, naming the duplicate hostnames and their addresses.
  group_by:
    description:
      - Which groups to build from phpIPAM data. Group names are O(group_prefix), the kind and the value,
        lower-cased with anything but letters, digits and C(_) turned into C(_), such as C(phpipam_section_lab),
        C(phpipam_subnet_198_18_10_0_24), C(phpipam_vlan_10), C(phpipam_tag_used), C(phpipam_location_dc_one)
        or C(phpipam_device_hv1_example_com).
      - An empty list builds none; O(keyed_groups) can build others from the C(phpipam_*) variables.
    type: list
    elements: str
    choices: [section, subnet, vlan, tag, location, device]
    default: [section, subnet, vlan, tag, location]
  group_prefix:
    description: Prefix of the names of the O(group_by) groups.
    type: str
    default: phpipam_
  ssh_paths:
    description:
      - Set C(ansible_ssh_common_args) to C(-o ProxyJump=hop1,hop2) from the chain of jump hosts recorded in
        phpIPAM (O(jump_host_field)), and C(ansible_user) from O(ssh_user_field). See docs/ssh-paths.md.
      - A jump host value is C([user@]host[:port]), C(host) being another phpIPAM address by hostname or IP,
        which may have its own jump host; the value C(direct) on a host or subnet means no jump host.
      - Jump loops, unknown jump hosts and unusable values are reported as O(jump_host_missing) says.
    type: bool
    default: true
  jump_host_field:
    description: The custom field (on addresses and subnets) naming a host's jump host; a host without a value
      takes the nearest subnet's, up the master subnets and folders.
    type: str
    default: custom_ssh_jump
  ssh_user_field:
    description: The custom field (on addresses and subnets) holding the SSH user, inherited like O(jump_host_field).
    type: str
    default: custom_ssh_user
  jump_host_missing:
    description: What a jump host that is not in phpIPAM, a jump loop or an unusable value does.
    type: str
    default: warn
    choices:
      warn: a warning naming the host and the problem; the host is kept without ProxyJump.
      error: the inventory fails, listing every problem.
      literal: a jump host not in phpIPAM is used as written, as the first hop; loops and unusable values
        warn.
notes:
  - Hosts, variables and groups come from the addresses phpIPAM's API app may read.
  - The O(token) and O(password) options may be templates, for example C({{ lookup('ansible.builtin.env',
    'MY_TOKEN') }}), or vault-encrypted strings (C(!vault)).
  - O(compose), O(groups) and O(keyed_groups) see the C(phpipam_*) variables, C(ansible_host) and the SSH
    variables.
"""

EXAMPLES = r"""
# inventory/lab.phpipam.yml, with PHPIPAM_URL, PHPIPAM_APP_ID and PHPIPAM_TOKEN in the environment:
plugin: ipamkit.phpipam.phpipam
sections: [Customers]
tags: [Used]
hostname_required: true
seen_within: 7d

# The connection in the file, the app code kept in vault; groups by phpIPAM data and by custom fields:
plugin: ipamkit.phpipam.phpipam
url: https://ipam.example.com
app_id: ansible
token: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  ...
subnets: [198.18.10.0/24, 42]
group_by: [section, subnet, tag]
keyed_groups:
  - key: phpipam_custom_fields.custom_environment | default('none')
    prefix: env
compose:
  ansible_port: phpipam_custom_fields.custom_ssh_port | default(22)
groups:
  hypervisors: phpipam_device is not none and phpipam_device == inventory_hostname
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-phpipam
cache_timeout: 600
"""

import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import HAS_REQUESTS, client_from_options
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import InventoryPlanError, plan_inventory
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import (
    NetworkDataError,
    build_network,
    cacheable_collections,
    fetch_collections,
)

display = Display()

# Only a string holding { or } can be a template: wrapping others changes nothing but how ansible-inventory
# prints them (ansible-core 2.19 shows unsafe strings as {"__ansible_unsafe": ...}, which AWX stores as such).
_TEMPLATE_CHARS = re.compile(u'[{}]')


def make_unsafe(value):
    """``value`` with every string that could be a template marked unsafe, in dicts and lists too."""
    if isinstance(value, dict):
        return dict((make_unsafe(key), make_unsafe(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(make_unsafe(item) for item in value)
    if isinstance(value, str) and _TEMPLATE_CHARS.search(value):
        return wrap_var(value)
    return value


CONNECTION_OPTIONS = ('url', 'app_id', 'token', 'username', 'password', 'validate_certs', 'ca_path', 'timeout',
                      'allow_insecure_http', 'timezone')
PLAN_OPTIONS = ('sections', 'subnets', 'tags', 'custom_fields', 'hostname_required', 'seen_within',
                'hostname_source', 'hostname_fallback', 'duplicate_hostnames', 'group_by', 'group_prefix',
                'ssh_paths', 'jump_host_field', 'ssh_user_field', 'jump_host_missing')
# Options that may hold a template (a lookup or a vaulted value), rendered once before connecting.
TEMPLATED_OPTIONS = ('token', 'password', 'username', 'url', 'app_id')


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'ipamkit.phpipam.phpipam'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('.phpipam.yml', '.phpipam.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path)
        config = self._read_config_data(path)
        unknown = sorted(set(config) - set(self._options) - set(('plugin',)))
        if unknown:
            raise AnsibleParserError('%s: unknown option(s) %s for the ipamkit.phpipam.phpipam inventory; see '
                                     '"ansible-doc -t inventory ipamkit.phpipam.phpipam"' % (path, ', '.join(unknown)))

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache')
        collections = None
        if use_cache and cache:
            try:
                collections = self._cache[cache_key]
            except KeyError:
                pass
        if collections is None:
            collections = self._fetch()
            if use_cache:
                self._cache[cache_key] = collections

        try:
            plan = plan_inventory(build_network(collections), dict((name, self.get_option(name)) for name in PLAN_OPTIONS))
        except (InventoryPlanError, NetworkDataError) as exc:
            raise AnsibleParserError('ipamkit.phpipam.phpipam inventory %s: %s' % (path, to_native(exc)))
        for warning in plan.warnings:
            display.warning('ipamkit.phpipam.phpipam inventory: %s' % warning)
        self._populate(plan)

    def _connection_options(self):
        options = {}
        for name in CONNECTION_OPTIONS:
            value = self.get_option(name)
            if name in TEMPLATED_OPTIONS and isinstance(value, str) and self.templar.is_template(value):
                value = self.templar.template(value)
            options[name] = value
        return options

    def _fetch(self):
        """The phpIPAM collections, JSON-safe (what the cache holds)."""
        if not HAS_REQUESTS:
            raise AnsibleParserError('the ipamkit.phpipam.phpipam inventory needs the Python library requests')
        try:
            client = client_from_options(self._connection_options())
        except PhpipamError as exc:
            raise AnsibleParserError('ipamkit.phpipam.phpipam inventory: %s' % exc)
        try:
            collections = fetch_collections(client)
            display.vvv('ipamkit.phpipam.phpipam inventory: %d requests to phpIPAM, %d addresses' % (
                sum(client.request_counts.values()), len(collections['addresses'])))
            return cacheable_collections(collections)
        except PhpipamError as exc:
            raise AnsibleParserError('ipamkit.phpipam.phpipam inventory: %s' % exc)
        finally:
            for warning in client.warnings:
                display.warning(warning)
            client.close()

    def _populate(self, plan):
        strict = self.get_option('strict')
        for planned in plan.hosts:
            name = self.inventory.add_host(make_unsafe(planned.name))
            variables = make_unsafe(planned.variables)
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            for group in planned.groups:
                self.inventory.add_group(group)
                self.inventory.add_host(name, group=group)
            self._set_composite_vars(self.get_option('compose'), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, name, strict=strict)
