#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ssh_config
short_description: Write an OpenSSH client config fragment with the jump paths phpIPAM records
version_added: 0.1.0
description:
  - Writes a file for C(Include) in C(~/.ssh/config) with one C(Host) entry per selected phpIPAM host -
    C(HostName) (its IP), C(User), C(Port) when O(port) is set, C(ProxyJump) with the chain of jump hosts
    computed from the custom fields O(jump_host_field) and O(ssh_user_field) (the host's own value, else the
    nearest subnet's; see docs/ssh-paths.md), and the O(options) for every entry. People get in their terminal
    the same paths the inventory plugin gives Ansible.
  - Hosts are selected with the same filters as the inventory plugin C(ipamkit.phpipam.phpipam) (same names and
    meaning; only the default of O(hostname_required) differs). phpIPAM is read
    with one request per collection (sections, subnets, addresses, VLANs, devices, tags, locations).
  - The content is sorted and has no timestamp, so a rerun with the same phpIPAM data reports no change. The
    file is written atomically with mode C(0600); missing directories are created with mode C(0700).
  - A jump loop, a jump host that is not in phpIPAM, an unusable custom field value or host name gives that host
    no entry. Such problems are returned in RV(problems) and shown as warnings, or fail the task before anything
    is written when O(jump_host_missing=error).
  - A file whose first line is not this module's marker is never overwritten or removed unless O(force=true), so
    pointing O(path) at C(~/.ssh/config) by mistake loses nothing.
  - Runs where the file should be, usually on the controller - a play on C(localhost), or C(delegate_to) it.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and the file, reports what would change, writes nothing.
  diff_mode:
    support: full
    details: The file's text before and after.
options:
  path:
    description: The fragment to write. Include it from C(~/.ssh/config) with C(Include <path>).
    type: path
    default: ~/.ssh/config.d/ipamkit-phpipam.conf
  state:
    description: V(present) writes the file, V(absent) removes it (phpIPAM is not read then).
    type: str
    choices: [present, absent]
    default: present
  force:
    description: Overwrite or remove O(path) even when this module did not write it.
    type: bool
    default: false
  sections:
    description: Only hosts in these sections (names, case-insensitive, or ids).
    type: list
    elements: str
  subnets:
    description:
      - Only hosts in these subnets - ids (which include the subnets nested below them) or CIDRs (which select
        the hosts whose IP lies inside, in any section).
    type: list
    elements: str
  tags:
    description: Only hosts whose address tag is one of these (names such as V(Used), or ids).
    type: list
    elements: str
  custom_fields:
    description:
      - Only hosts whose custom fields have these values, a dictionary of field name (with or without the
        C(custom_) prefix) to a value or a list of accepted values. A host without its own value uses its nearest
        subnet's.
    type: dict
  hostname_required:
    description:
      - Only hosts that have a hostname in phpIPAM. With V(false), a host without one gets an entry named by its IP.
      - Unlike the inventory plugin's, this defaults to V(true) - a file of bare IPs helps nobody in a terminal.
    type: bool
    default: true
  seen_within:
    description:
      - Only hosts phpIPAM saw alive (C(lastSeen)) within this time, for example V(90m), V(12h), V(7d) or V(2w),
        or a number of seconds. Addresses never seen are left out.
    type: str
  jump_host_field:
    description:
      - The custom field (on addresses and subnets) naming a host's jump host, C([user@]host[:port]), where
        C(host) is a phpIPAM hostname or IP; V(direct) on a host or subnet stops the inheritance.
    type: str
    default: custom_ssh_jump
  ssh_user_field:
    description: The custom field (on addresses and subnets) with a host's SSH user; also used for jump hops.
    type: str
    default: custom_ssh_user
  jump_host_missing:
    description:
      - What a jump host that is not in phpIPAM, a jump loop, or an unusable value or host name does, as in the
        inventory plugin - except that such a host never gets an entry (an entry without its jump hosts would
        send ssh straight at an address it cannot reach).
    type: str
    default: warn
    choices:
      warn: the host gets no entry; a warning and RV(problems) name it and the problem.
      error: the task fails before anything is written, listing every problem.
      literal: a jump host not in phpIPAM (say, a bastion kept elsewhere) is used as written, as the first hop;
        loops and unusable values warn.
  user:
    description: The SSH user of hosts and jump hops for which phpIPAM has none.
    type: str
  port:
    description: Written as C(Port) in every entry.
    type: int
  match_address:
    description:
      - Also match each host's IP in its C(Host) line, so C(ssh <ip>) and jump hops (which are given by IP) use the
        entry's settings and O(options).
    type: bool
    default: true
  options:
    description:
      - Further ssh_config keywords for every entry, a dictionary of keyword to value, such as C(IdentityFile) to
        C(~/.ssh/id_ops) or C(ForwardAgent) to V(false). Booleans become C(yes)/C(no); a list writes the keyword
        once per item. C(HostName), C(User), C(Port) and C(ProxyJump) come from phpIPAM, O(user) and O(port) and
        cannot be set here.
    type: dict
notes:
  - docs/ssh-paths.md describes the custom fields, inheritance, V(direct), users, ports and a two-hop example.
"""

EXAMPLES = r"""
- name: SSH entries for every host of section Customers
  ipamkit.phpipam.ssh_config:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    sections: [Customers]
    user: ops
    options:
      IdentityFile: ~/.ssh/id_ops
  delegate_to: localhost

- name: Hosts seen in the last week, failing on loops or unknown jump hosts
  ipamkit.phpipam.ssh_config:
    path: ~/.ssh/config.d/lab.conf
    subnets: [198.18.0.0/15]
    seen_within: 7d
    jump_host_missing: error

- name: Remove the fragment again
  ipamkit.phpipam.ssh_config:
    path: ~/.ssh/config.d/lab.conf
    state: absent
"""

RETURN = r"""
path:
  description:
    - The file written (or that would be written). As for every module that returns a C(path), Ansible adds the
      file's C(state) (V(file), or V(absent) when there is none yet) and, when it exists, its C(mode), C(owner),
      C(group), C(uid), C(gid) and C(size).
  returned: always
  type: str
entries:
  description: The Host entries in the file, in file order.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    name:
      description: The first pattern of the C(Host) line (the hostname, or the IP).
      type: str
    patterns:
      description: Every pattern of the C(Host) line.
      type: list
      elements: str
    hostname:
      description: The C(HostName) (the host's IP).
      type: str
    user:
      description: The C(User), or null.
      type: str
    port:
      description: The C(Port), or null.
      type: int
    proxyjump:
      description: The C(ProxyJump) value (hops outermost first), or null for a host reached directly.
      type: str
    hops:
      description: The jump hops, outermost first.
      type: list
      elements: str
    id:
      description: The phpIPAM address id.
      type: int
problems:
  description: Selected hosts that got no entry because of a jump loop, an unknown jump host or an unusable value.
  returned: when O(state=present)
  type: list
  elements: dict
  contains:
    host:
      description: The host, C(hostname (ip)).
      type: str
    ip:
      description: Its IP.
      type: str
    problem:
      description: What is wrong.
      type: str
skipped:
  description: Selected hosts left out because every pattern they would match is already another entry's.
  returned: when O(state=present)
  type: list
  elements: dict
selected:
  description: How many hosts the filters selected.
  returned: when O(state=present)
  type: int
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import InventoryPlanError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import NetworkDataError, load_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_config import (
    DEFAULT_PATH, FILE_MODE, SshConfigError, read_config, remove_config, ssh_config_plan, write_config)


def main():
    module = PhpipamModule(argument_spec=dict(
        path=dict(type='path', default=DEFAULT_PATH),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        force=dict(type='bool', default=False),
        sections=dict(type='list', elements='str'),
        subnets=dict(type='list', elements='str'),
        tags=dict(type='list', elements='str'),
        custom_fields=dict(type='dict'),
        hostname_required=dict(type='bool', default=True),
        seen_within=dict(type='str'),
        jump_host_field=dict(type='str', default='custom_ssh_jump'),
        ssh_user_field=dict(type='str', default='custom_ssh_user'),
        jump_host_missing=dict(type='str', choices=['warn', 'error', 'literal'], default='warn'),
        user=dict(type='str'),
        port=dict(type='int'),
        match_address=dict(type='bool', default=True),
        options=dict(type='dict'),
    ))
    params = module.params
    path = params['path']
    result = {'path': path}
    try:
        before, mode = read_config(path, params['force'])
        if params['state'] == 'absent':
            after = ''
            changed = before is not None
            if changed and not module.check_mode:
                remove_config(path)
        else:
            with module.api() as client:
                data = load_network(client)
            plan = ssh_config_plan(data, params)
            after = plan.pop('content')
            result.update(plan)
            if plan['problems'] and params['jump_host_missing'] == 'error':
                module.fail_json(msg='%d selected host(s) have SSH path problems; %s left unchanged: %s' % (
                    len(plan['problems']), path, '; '.join('%(host)s: %(problem)s' % p for p in plan['problems'])),
                    **result)
            changed = before != after or mode != FILE_MODE
            if changed and not module.check_mode:
                write_config(path, after)
    except (SshConfigError, NetworkDataError, InventoryPlanError) as exc:
        module.fail_json(msg=str(exc), **result)
    for problem in result.get('problems', []):
        module.warn('ssh_config: no entry for %(host)s: %(problem)s' % problem)
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = {'before': before or '', 'after': after, 'before_header': path, 'after_header': path}
    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
