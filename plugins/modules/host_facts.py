#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: host_facts
short_description: Gather what Ansible's facts lack for a phpIPAM host summary, and check it against thresholds
version_added: 0.1.0
description:
  - Runs on the managed host (Linux only) and returns its summary - memory, CPU cores and use, disks, mounts with
    their usage, listening services, MAC and IP of the primary interface - plus the anomalies found against the
    thresholds given.
  - Reads C(/proc/meminfo), two C(/proc/stat) samples O(cpu_interval) seconds apart, C(/proc/self/mounts) with
    C(statvfs), C(/sys/block), and the output of C(ss -Htlnup) and C(ip -j addr)/C(ip -j route) (Debian package
    C(iproute2)). Needs nothing beyond the Python standard library.
  - Listening sockets of other users show their process only when the module runs as root (C(become)).
  - M(ipamkit.phpipam.host_facts_record) records the summaries of all hosts in phpIPAM in one task; the role
    C(ipamkit.phpipam.host_facts) runs both. The summary and its text form are described in docs/host-facts.md.
author:
  - ipamkit developers (@ipamkit)
attributes:
  check_mode:
    support: full
    description: Runs in check mode too; it only reads the host.
  diff_mode:
    support: none
    description: Nothing to show a diff of.
  platform:
    support: full
    platforms: linux
    description: Runs on the managed Linux host; fails at once on any other system.
options:
  name:
    description: The host's name in the summary, usually C(inventory_hostname). Defaults to the host's own name.
    type: str
  address:
    description:
      - The IP the host is known by in phpIPAM (usually C(ansible_host)). The interface holding it is the primary
        interface; without it, or when no interface holds it, the interface of the default route is, then the first
        interface with a global address.
    type: str
  address_id:
    description: The phpIPAM address id of the host, passed on in the summary for when its IP is in several sections.
    type: int
  facts:
    description:
      - Ansible facts of the host (C(ansible_facts)); C(fqdn), C(distribution), C(distribution_version),
        C(distribution_release), C(kernel), C(virtualization_type) and C(virtualization_role) are used when present.
    type: dict
    default: {}
  cpu_interval:
    description: Seconds between the two CPU samples that give the CPU use.
    type: float
    default: 1.0
  excluded_fs_types:
    description:
      - Filesystem types left out of the mounts. The default leaves out pseudo filesystems (proc, sysfs, cgroup,
        tmpfs, devtmpfs, overlay, ...) and the always-full squashfs and iso9660.
    type: list
    elements: str
  disk_used_percent_max:
    description: A mount more used than this (in %, as df counts) is an anomaly. V(null) switches the check off.
    type: int
    default: 90
  memory_used_percent_max:
    description: Memory more used than this (in %; used = total less available) is an anomaly. V(null) switches it off.
    type: int
    default: 90
  cpu_used_percent_max:
    description: CPU use above this (in %, all cores together, over O(cpu_interval)) is an anomaly. Off by default.
    type: int
  expected_services:
    description:
      - Services that must be listening; each one that is not is an anomaly.
      - A port (V(22), any protocol and address), a protocol and port (V(tcp/443), V(53/udp)), or a process name as
        C(ss) shows it (V(sshd); the kernel cuts names to 15 characters, so a longer name matches its first 15).
    type: list
    elements: raw
    default: []
seealso:
  - module: ipamkit.phpipam.host_facts_record
"""

EXAMPLES = r"""
- name: Gather the host facts summary
  ipamkit.phpipam.host_facts:
    name: "{{ inventory_hostname }}"
    address: "{{ ansible_host | default(omit) }}"
    facts: "{{ ansible_facts }}"
    expected_services: [22, tcp/443, nginx]
  become: true
  register: facts

- name: Show the anomalies
  ansible.builtin.debug:
    msg: "{{ facts.host_facts.anomalies }}"
"""

RETURN = r"""
host_facts:
  description: The host's summary (sizes in MiB, percentages as ints), its anomalies, and O(address_id).
  returned: success
  type: dict
  contains:
    name:
      description: O(name), or the host's own name.
      type: str
    fqdn:
      description: Fully qualified name from O(facts); null without it.
      type: str
    os:
      description: Distribution, version and release from O(facts); null without them.
      type: str
    kernel:
      description: Kernel release from O(facts); null without it.
      type: str
    virtualization:
      description: Virtualization type and role from O(facts), such as C(kvm guest); null without them.
      type: str
    ip:
      description: IP of the primary interface; null when there is none.
      type: str
    mac:
      description: MAC of the primary interface.
      type: str
    interface:
      description: Name of the primary interface.
      type: str
    addresses:
      description: Every global IP of the host, IPv4 first.
      type: list
      elements: str
    memory:
      description: total_mb, used_mb, available_mb, used_percent, swap_total_mb, swap_used_mb.
      type: dict
    cpu:
      description: C(cores) (online logical CPUs) and C(used_percent).
      type: dict
    disks:
      description: Block devices with C(name) and C(size_mb); no loop devices, RAM disks or zram.
      type: list
      elements: dict
    mounts:
      description: Mounts (mount, device, fstype, size_mb, used_mb, available_mb, used_percent), one per filesystem.
      type: list
      elements: dict
    listening:
      description: Listening TCP and bound UDP sockets (proto, address, port, process; process null when hidden).
      type: list
      elements: dict
    anomalies:
      description: What is above its threshold or not listening (check, subject, value, limit, message).
      type: list
      elements: dict
    address_id:
      description: O(address_id).
      type: int
  sample:
    name: web1
    ip: 198.18.5.2
    mac: "02:00:5e:10:05:02"
    interface: eth0
    memory: {total_mb: 3923, used_mb: 912, available_mb: 3011, used_percent: 23, swap_total_mb: 0, swap_used_mb: 0}
    cpu: {cores: 2, used_percent: 4}
    anomalies:
      - {check: service, subject: tcp/443, value: null, limit: null, message: tcp/443 is not listening}
text:
  description: The summary as it is stored in phpIPAM (docs/host-facts.md).
  returned: success
  type: str
"""

import platform
import socket

from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts import (
    DEFAULT_EXCLUDED_FS_TYPES,
    HostFactsError,
    check_thresholds,
    collect,
    find_anomalies,
    summary_text,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import LocalModule


def main():
    module = LocalModule(argument_spec=dict(
        name=dict(type='str'),
        address=dict(type='str'),
        address_id=dict(type='int'),
        facts=dict(type='dict', default={}),
        cpu_interval=dict(type='float', default=1.0),
        excluded_fs_types=dict(type='list', elements='str'),
        disk_used_percent_max=dict(type='int', default=90),
        memory_used_percent_max=dict(type='int', default=90),
        cpu_used_percent_max=dict(type='int'),
        expected_services=dict(type='list', elements='raw', default=[]),
    ))
    params = module.params
    if platform.system() != 'Linux':
        module.fail_json(msg='ipamkit.phpipam.host_facts runs on Linux hosts only; this one runs %s' % platform.system())
    if not 0 <= params['cpu_interval'] <= 60:
        module.fail_json(msg='cpu_interval is %s: give 0 to 60 seconds' % params['cpu_interval'])
    tools = dict((name, module.get_bin_path(name)) for name in ('ss', 'ip'))
    if not all(tools.values()):
        module.fail_json(msg='ipamkit.phpipam.host_facts needs ss and ip of iproute2; not found: %s (Debian, Ubuntu: '
                         'apt-get install iproute2)' % ', '.join(n for n, p in sorted(tools.items()) if not p))
    try:
        check_thresholds(params['disk_used_percent_max'], params['memory_used_percent_max'],
                         params['cpu_used_percent_max'], params['expected_services'])
        excluded = DEFAULT_EXCLUDED_FS_TYPES if params['excluded_fs_types'] is None else params['excluded_fs_types']
        summary = collect(module.run_command, tools['ss'], tools['ip'], params['name'] or socket.gethostname(),
                          params['address'], params['facts'], params['cpu_interval'], excluded)
        text = summary_text(summary)
        summary['anomalies'] = find_anomalies(summary, params['disk_used_percent_max'],
                                              params['memory_used_percent_max'], params['cpu_used_percent_max'],
                                              params['expected_services'])
    except HostFactsError as exc:
        module.fail_json(msg=str(exc))
    summary['address_id'] = params['address_id']
    module.exit_json(changed=False, host_facts=summary, text=text)


if __name__ == '__main__':
    main()
