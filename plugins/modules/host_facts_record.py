#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: host_facts_record
short_description: Record the host facts summaries of many hosts in phpIPAM, and report their anomalies
version_added: 0.1.0
description:
  - Takes the summaries M(ipamkit.phpipam.host_facts) returned for many hosts, finds each host's phpIPAM address by
    its IP (or by its C(address_id)), and writes the summary's text form into the address custom field
    O(facts_field). Run it once, on the controller, for all hosts.
  - Writes only the addresses whose text differs; C(changed) only when one did. Every write resends the address's
    tag, which phpIPAM 1.8.2 would otherwise reset to C(Used).
  - A host whose address is missing, or whose IP is in several addresses, is reported and skipped, not written.
  - Returns a per-host table of the anomalies the summaries carry (one row per anomaly, C(ok) for a host without,
    and the O(unreachable) hosts), for one debug task to show.
  - Fails, naming it and how to create it, when O(facts_field) is not an address custom field of phpIPAM.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and reports what would be written; writes nothing.
  diff_mode:
    support: full
    details: The stored text before and after, per changed host.
options:
  hosts:
    description:
      - The summaries, one per host, as M(ipamkit.phpipam.host_facts) returns them in RV(ipamkit.phpipam.host_facts#module:host_facts).
      - Names must be unique.
    type: list
    elements: dict
    required: true
  facts_field:
    description:
      - The address custom field that holds the summary, a text field (phpIPAM Administration > Custom fields > IP
        address, field C(host_facts) of type text becomes C(custom_host_facts)). A varchar field takes as many
        lines as fit, with a warning.
    type: str
    default: custom_host_facts
  section:
    description: Only addresses in this section (name or id) are matched by IP.
    type: str
  unreachable:
    description: Hosts that gave no summary (failed or unreachable), listed in the report.
    type: list
    elements: str
    default: []
seealso:
  - module: ipamkit.phpipam.host_facts
"""

EXAMPLES = r"""
- name: Record all hosts' summaries in phpIPAM
  ipamkit.phpipam.host_facts_record:
    url: https://ipam.example.com
    app_id: ansible
    token: "{{ phpipam_app_code }}"
    hosts: "{{ ansible_play_hosts | map('extract', hostvars, ['gathered', 'host_facts']) | list }}"
    unreachable: "{{ ansible_play_hosts_all | difference(ansible_play_hosts) }}"
  run_once: true
  delegate_to: localhost
  register: recorded

- name: Anomalies per host
  ansible.builtin.debug:
    msg: "{{ recorded.report }}"
  run_once: true
"""

RETURN = r"""
records:
  description: What happened to each host, in name order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The host's name.
      type: str
    ip:
      description: Its IP.
      type: str
    address_id:
      description: The phpIPAM address written (or that would be); null when none was found.
      type: int
    status:
      description:
        - C(update) (written, or would be in check mode), C(unchanged), C(not_found), C(ambiguous) (the IP is in
          several addresses), C(shared) (several hosts have the IP), C(no_ip), C(error) (the write failed; the
          module fails after trying all writes).
      type: str
    message:
      description: Why a host was not recorded; null when it was.
      type: str
  sample:
    - {name: web1, ip: 198.18.5.2, address_id: 42, status: update, message: null}
anomalies:
  description: Every host's anomalies, with host and ip added (check, subject, value, limit, message).
  returned: always
  type: list
  elements: dict
anomalous_hosts:
  description: Names of the hosts with anomalies, sorted.
  returned: always
  type: list
  elements: str
report:
  description: The per-host table (host, ip, phpipam, check, finding) as lines, header first.
  returned: always
  type: list
  elements: str
  sample:
    - "host  ip          phpipam   check    finding"
    - "web1  198.18.5.2  recorded  disk     disk / is 95% used (limit 90%)"
    - "db1   198.18.5.3  recorded  ok       -"
msg:
  description: One line on what was recorded and found.
  returned: always
  type: str
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts import HostFactsError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts_record import (
    record_host_facts,
    report_lines,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import LookupFailed


def main():
    module = PhpipamModule(argument_spec=dict(
        hosts=dict(type='list', elements='dict', required=True),
        facts_field=dict(type='str', default='custom_host_facts'),
        section=dict(type='str'),
        unreachable=dict(type='list', elements='str', default=[]),
    ))
    params = module.params
    with module.api() as client:
        try:
            plan, warnings = record_host_facts(client, params['hosts'], params['facts_field'], params['section'],
                                               module.check_mode)
        except (HostFactsError, LookupFailed) as exc:
            module.fail_json(msg=str(exc))
    errors = [p['message'] for p in plan if p['status'] == 'error']
    for warning in warnings:
        module.warn(warning)
    changed = [p for p in plan if p['status'] == 'update']
    diff = [dict(before_header='%s (%s) %s' % (p['name'], p['ip'], params['facts_field']), before=p['before'] + '\n',
                 after_header='%s (%s) %s' % (p['name'], p['ip'], params['facts_field']), after=p['after'] + '\n')
            for p in changed]
    anomalies = [dict(a, host=s['name'], ip=s.get('ip')) for s in sorted(params['hosts'], key=lambda s: s['name'])
                 for a in s.get('anomalies') or ()]
    msg = '%d hosts: %d %s, %d unchanged, %d not recorded; %d anomalies on %d hosts' % (
        len(plan), len(changed), 'to record' if module.check_mode else 'recorded',
        len([p for p in plan if p['status'] == 'unchanged']), len(plan) - len([p for p in plan if p['status'] in (
            'update', 'unchanged')]), len(anomalies), len(set(a['host'] for a in anomalies)))
    result = dict(changed=bool(changed), msg=msg, anomalies=anomalies,
                  anomalous_hosts=sorted(set(a['host'] for a in anomalies)),
                  records=[dict((k, p[k]) for k in ('name', 'ip', 'address_id', 'status', 'message')) for p in plan],
                  report=report_lines(params['hosts'], plan, params['unreachable'], module.check_mode))
    if module._diff:  # pylint: disable=protected-access
        result['diff'] = diff
    if errors:
        result['msg'] = '%d of %d writes failed: %s' % (len(errors), len(errors) + len(changed), '; '.join(errors))
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
