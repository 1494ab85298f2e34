#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: scan_upload
short_description: Write a scan report back to phpIPAM
version_added: 0.1.0
description:
  - Applies a scan report (from the P(ipamkit.phpipam.scan_report#filter) filter) to phpIPAM through its API,
    following phpIPAM's own status check and discovery rules, for the subnets whose scan completed.
  - Known addresses seen alive get C(lastSeen), a MAC when phpIPAM has none, and a host name when phpIPAM has
    none; existing MACs and names are changed only with O(update_mac) and O(update_hostname).
  - New hosts in subnets with C(discoverSubnet) are created with their MAC and name, the description
    O(discovered_description) and the tag O(discovered_tag).
  - Stale addresses are removed only with O(remove_stale=true), within strict limits and behind guards that
    refuse removals a broken scan would cause.
  - Every update resends the address's current tag, because phpIPAM 1.8.2 resets the tag to C(Used) on any
    change that leaves it out; tags change only with O(manage_tags=true).
  - The subnets' C(lastScan)/C(lastDiscovery) and the agent's C(last_access) are updated on every run (not in
    check mode); these bookkeeping writes do not count as a change.
  - Requests grow with the number of subnets and changes, not with the number of known addresses. Writes
    are sent in parallel over one HTTP session. A write that fails is reported with its address and reason,
    the others still land, and the module fails at the end; the next run converges.
author:
  - ipamkit developers (@ipamkit)
extends_documentation_fragment:
  - ipamkit.phpipam.connection
  - ipamkit.phpipam.connection.ATTRIBUTES
attributes:
  check_mode:
    support: full
    details: Reads phpIPAM and plans; writes nothing, and reports the counts the run would produce.
  diff_mode:
    support: full
    details: One line per created, updated or removed address with the fields before and after.
options:
  report:
    description: The scan report, version 1, as the P(ipamkit.phpipam.scan_report#filter) filter makes it.
    type: dict
    required: true
  update_mac:
    description: Replace a MAC phpIPAM already has when the scan saw a different one.
    type: bool
    default: false
  update_hostname:
    description:
      - Replace a host name phpIPAM already has when reverse DNS gives a different one. Off by default, so a
        name a person entered is never overwritten.
    type: bool
    default: false
  always_update:
    description:
      - Write C(lastSeen) for every host seen alive. With V(false), C(lastSeen) is written only together with
        another change.
    type: bool
    default: true
  lastseen_refresh:
    description:
      - Seconds. Skip the C(lastSeen) write for addresses phpIPAM saw less than this long ago, so reruns over an
        unchanged network make no writes.
    type: int
    default: 0
  discovered_tag:
    description: Name of the phpIPAM address tag new hosts get (looked up by name, case-insensitively).
    type: str
    default: Used
  discovered_description:
    description: Description of new hosts; with O(remove_stale_scope=agent) it also marks the agent's addresses.
    type: str
    default: "-- autodiscovered --"
  exclude:
    description: IP addresses, CIDRs or C(first-last) ranges never created.
    type: list
    elements: str
    default: []
  remove_stale:
    description: Remove addresses not seen for O(remove_stale_after) seconds, in C(pingSubnet) subnets.
    type: bool
    default: false
  remove_stale_after:
    description: Seconds since C(lastSeen) after which an address counts as stale.
    type: int
    default: 172800
  remove_stale_max_percent:
    description: Refuse all removals in a subnet when they would exceed this share of its addresses.
    type: int
    default: 25
  remove_stale_scope:
    description:
      - V(agent) removes only addresses the agent created (O(discovered_description)) or tagged with its own
        (non-standard) O(discovered_tag). V(all) considers every address.
      - Never removed in either scope - addresses never seen, excluded from ping checks, gateways, and
        addresses tagged C(Reserved).
    type: str
    choices: [agent, all]
    default: agent
  force_remove:
    description: Remove stale addresses even when a guard refuses (a scan that saw nobody, or too many removals).
    type: bool
    default: false
  manage_tags:
    description: Retag addresses that are tagged C(Offline) but were seen alive as C(Used).
    type: bool
    default: false
  api_workers:
    description: Writes in flight at once.
    type: int
    default: 4
  time_offset:
    description: Seconds added to this host's clock for the times written (C(lastSeen), C(lastScan)).
    type: int
    default: 0
  update_agent:
    description: Set the agent's C(last_access) at the end of the run.
    type: bool
    default: true
  relay_url:
    description:
      - Send the report to this scan relay instead of writing phpIPAM (for networks that cannot reach phpIPAM).
        The relay applies it with the same rules. The report is POSTed as JSON with the bearer O(relay_token).
      - Only V(https://) (verified), or V(http://) to a loopback address, so the token is never readable on the way.
      - Transient failures (connection errors, 408, 429, 5xx) are retried with backoff; the relay applies a report
        id once, so a repeat cannot write twice. In check mode nothing is sent.
      - The phpIPAM connection options are then not used.
    type: str
  relay_token:
    description: This agent's bearer token at the relay.
    type: str
  relay_ca_path:
    description: PEM file of the CA that issued the relay's certificate.
    type: path
  skipped_subnets:
    description:
      - Subnets left out of this cycle before the scan (RV(ipamkit.phpipam.scan_agent_info#module:skipped_subnets)),
        listed in RV(summary) with their reason. Nothing is written for them.
    type: list
    elements: dict
    default: []
seealso:
  - module: ipamkit.phpipam.scan_agent_info
  - module: ipamkit.phpipam.nmap_scan
"""

EXAMPLES = r"""
- name: One scan cycle
  module_defaults:
    group/ipamkit.phpipam.phpipam:
      url: https://ipam.example.com
      app_id: scanagent
      token: "{{ phpipam_app_code }}"
  block:
    - name: Fetch the agent's subnets and addresses
      ipamkit.phpipam.scan_agent_info:
        agent_code: "{{ agent_code }}"
        addresses: true
      register: agent_info

    - name: Scan them
      ipamkit.phpipam.nmap_scan:
        subnets: "{{ agent_info.subnets }}"
      register: scan

    - name: Write what was seen back to phpIPAM
      ipamkit.phpipam.scan_upload:
        report: "{{ scan | ipamkit.phpipam.scan_report(agent_info) }}"
        lastseen_refresh: 600
        remove_stale: true
        remove_stale_after: 604800
      register: upload

    - name: Summary
      ansible.builtin.debug:
        msg: "{{ upload.summary }}"
"""

RETURN = r"""
summary:
  description: One line per subnet and a totals line.
  returned: always
  type: list
  elements: str
  sample:
    - "198.18.10.0/24 (id 7): seen 10, created 2, updated 3, unchanged 5, removed 0, removal refused 0, errors 0"
    - "total: 1 subnet(s), seen 10, created 2, updated 3, unchanged 5, removed 0, removal refused 0, errors 0"
subnets:
  description: Per subnet of the report, what happened (in check mode, what would happen).
  returned: when writing phpIPAM directly
  type: list
  elements: dict
  contains:
    id:
      description: Subnet id.
      type: int
    cidr:
      description: The subnet.
      type: str
    status:
      description: V(planned) (written), V(incomplete) (scan did not complete, nothing written) or V(skipped).
      type: str
    reason:
      description: Why the subnet was not written, or null.
      type: str
    seen:
      description: Hosts the scan saw up.
      type: int
    created:
      description: Addresses created.
      type: int
    updated:
      description: Addresses updated.
      type: int
    unchanged:
      description: Hosts seen whose address needed no write.
      type: int
    removed:
      description: Stale addresses removed.
      type: int
    removal_refused:
      description: Stale addresses a guard kept.
      type: int
    errors:
      description: Writes that failed.
      type: int
    error_details:
      description: Each failed write with C(ip), C(action) and the client's C(message).
      type: list
      elements: dict
    refused_details:
      description: Each refused removal with C(ip) and C(reason).
      type: list
      elements: dict
totals:
  description: The sums of the per-subnet counts.
  returned: when writing phpIPAM directly
  type: dict
address_writes:
  description: Address creates, updates and removals sent (in check mode, planned).
  returned: when writing phpIPAM directly
  type: int
requests:
  description: HTTP requests sent to phpIPAM, by method.
  returned: when writing phpIPAM directly
  type: dict
  sample: {"GET": 3, "PATCH": 2}
timings:
  description:
    - Seconds spent reading phpIPAM's state (C(fetch)), planning (C(plan)) and sending the writes (C(apply), not
      in check mode).
  returned: when writing phpIPAM directly
  type: dict
  sample: {"fetch": 0.41, "plan": 0.02, "apply": 1.37}
relay:
  description: With O(relay_url), where the report went, the relay's HTTP status and answer, and the report id.
  returned: when O(relay_url) is set
  type: dict
"""

import datetime
import time

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import PhpipamModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_client import RelayError, post_report
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_apply import (
    TagLookupError,
    apply_plans,
    build_diff,
    check_server_clock,
    fetch_state,
    plan_settings,
    relay_summary,
    resolve_tags,
    summarize,
    touch_agent,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import count_address_writes, plan_report
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import ReportError, parse_report


def send_to_relay(module, report, params):
    """Relay mode: POST the report (not in check mode) and exit with a relay summary."""
    lines = relay_summary(report, params['relay_url'], params['skipped_subnets'], check_mode=module.check_mode)
    relay = {'url': params['relay_url'], 'status': None, 'answer': None, 'report_id': report['report_id']}
    if module.check_mode:
        module.exit_json(changed=False, summary=lines, relay=relay)
    try:
        status, answer = post_report(params['relay_url'], params['relay_token'], report,
                                     ca_path=params['relay_ca_path'], timeout=params['timeout'])
    except RelayError as exc:
        module.fail_json(msg=str(exc), error=exc.to_dict(), summary=lines)
    lines[-1] += ' (relay answered HTTP %d)' % status
    relay.update(status=status, answer=answer)
    module.exit_json(changed=True, summary=lines, relay=relay)


def main():
    module = PhpipamModule(argument_spec=dict(
        report=dict(type='dict', required=True),
        update_mac=dict(type='bool', default=False),
        update_hostname=dict(type='bool', default=False),
        always_update=dict(type='bool', default=True),
        lastseen_refresh=dict(type='int', default=0, no_log=False),
        discovered_tag=dict(type='str', default='Used'),
        discovered_description=dict(type='str', default='-- autodiscovered --'),
        exclude=dict(type='list', elements='str', default=[]),
        remove_stale=dict(type='bool', default=False),
        remove_stale_after=dict(type='int', default=172800),
        remove_stale_max_percent=dict(type='int', default=25),
        remove_stale_scope=dict(type='str', choices=['agent', 'all'], default='agent'),
        force_remove=dict(type='bool', default=False),
        manage_tags=dict(type='bool', default=False),
        api_workers=dict(type='int', default=4),
        time_offset=dict(type='int', default=0),
        update_agent=dict(type='bool', default=True),
        skipped_subnets=dict(type='list', elements='dict', default=[]),
        relay_url=dict(type='str'),
        relay_token=dict(type='str', no_log=True),
        relay_ca_path=dict(type='path'),
    ), required_by={'relay_url': ['relay_token']})
    params = module.params
    try:
        report = parse_report(params['report'])
    except ReportError as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=params['time_offset'])
    if params['relay_url']:
        send_to_relay(module, report, params)

    clock = [time.monotonic()]
    timings = {}

    def lap(name):
        clock.append(time.monotonic())
        timings[name] = round(clock[-1] - clock[-2], 3)

    with module.api() as client:
        try:
            settings = plan_settings(params, resolve_tags(client))
        except (TagLookupError, ValueError) as exc:
            module.fail_json(msg=str(exc))
        subnets, addresses = fetch_state(client, report)
        lap('fetch')
        plans = plan_report(report, subnets, addresses, settings, now)
        lap('plan')
        results = None
        clock_warning = None
        agent_error = None
        if not module.check_mode:
            results = apply_plans(client, plans, workers=max(1, params['api_workers']))
            lap('apply')
            if params['update_agent']:
                try:
                    touch_agent(client, report['agent']['id'], now)
                except PhpipamError as exc:
                    agent_error = str(exc)
            try:
                clock_warning = check_server_clock(client, plans, now)
            except PhpipamError as exc:
                module.warn('could not read back a subnet to check phpIPAM\'s clock: %s' % exc)

    rows, totals, lines = summarize(plans, results, check_mode=module.check_mode,
                                    skipped=params['skipped_subnets'])
    if clock_warning:
        module.warn(clock_warning)
    result = dict(
        changed=count_address_writes(plans) > 0,
        summary=lines, subnets=rows, totals=totals,
        address_writes=count_address_writes(plans) - totals['errors'],
        requests=dict(client.request_counts),
        timings=timings,
    )
    if module._diff:  # pylint: disable=protected-access
        diff = build_diff(plans)
        if diff:
            result['diff'] = diff
    problems = []
    if totals['errors']:
        first = next(error for row in rows for error in row['error_details'])
        problems.append('%d phpIPAM write(s) failed, the others were applied; first: %s %s: %s' % (
            totals['errors'], first['action'], first['ip'] or 'subnet %d' % first['subnet_id'], first['message']))
    if agent_error:
        problems.append("updating the agent's last_access failed: %s" % agent_error)
    if problems:
        module.fail_json(msg='; '.join(problems), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
