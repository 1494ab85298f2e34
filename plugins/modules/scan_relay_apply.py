#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: scan_relay_apply
short_description: Apply the scan reports a scan relay has spooled to phpIPAM
version_added: 0.1.0
description:
  - The writing half of the scan relay. The relay's listener (the event source plugin
    C(ipamkit.phpipam.scan_reports)) stores each accepted report in a spool directory; this module applies
    every report waiting there, oldest scan first, with the relay's own phpIPAM credentials.
  - Before any write it checks each report against phpIPAM. The agent exists, and is the agent whose token
    carried the report; every subnet of the report is assigned to that agent and has the CIDR the report
    gives; every host lies inside its subnet; the report is not older than the subnet's C(lastScan) or
    C(lastDiscovery) (a replayed report); and it was not made more than 10 minutes ahead of the relay's
    clock. A report failing any check is rejected whole, nothing of it is written, and it is moved to
    C(rejected/) in the spool with the reason.
  - A report that passes is planned and applied by the same code as the scan agent's direct mode
    (M(ipamkit.phpipam.scan_upload)), with the same guards, tag handling and time zone handling. Hosts get
    the time of the report as C(lastSeen), however long it waited in the spool.
  - Each report is applied once. When phpIPAM cannot be reached, or a write fails, the report stays in the
    spool and is applied on a later run (the listener emits a new event every C(retry_interval)).
  - Settings come from the relay's configuration file, the same one the listener reads
    (C(/etc/phpipam/scan_relay.yaml), see the relay documentation).
author:
  - ipamkit developers (@ipamkit)
attributes:
  check_mode:
    description: Can run in check mode.
    support: full
    details: Checks and plans every waiting report and reports what would be written; writes nothing to
      phpIPAM and leaves the spool as it is.
  diff_mode:
    description: Returns details on what changed.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  config:
    description:
      - The relay's configuration file.
      - Without it, E(PHPIPAM_SCAN_RELAY_CONFIG), else C(/etc/phpipam/scan_relay.yaml) when it exists.
    type: path
  seed_config:
    description:
      - The configuration file of NoFussComputing's scan server, read before O(config).
      - Without it, C(/etc/phpipam/scan_server.yaml) when it exists.
    type: path
  spool_dir:
    description: The spool directory, instead of the configuration's C(spool_dir).
    type: path
  limit:
    description: Apply at most this many reports in this run (V(0) means all that are waiting).
    type: int
    default: 0
  report_ids:
    description:
      - The report ids the triggering event listed, for the log only. Every waiting report is applied,
        whether listed or not.
    type: list
    elements: str
    default: []
notes:
  - The relay's phpIPAM API app needs read/write access to addresses and subnets and read/write access to
    scan agents (for C(last_access)).
seealso:
  - module: ipamkit.phpipam.scan_upload
"""

EXAMPLES = r"""
- name: Apply the spooled scan reports
  ipamkit.phpipam.scan_relay_apply:
    report_ids: "{{ ansible_eda.event.scan_relay.pending | default([]) }}"
  register: relay_run

- name: What would the waiting reports change?
  ipamkit.phpipam.scan_relay_apply:
    config: /etc/phpipam/scan_relay.yaml
  check_mode: true
"""

RETURN = r"""
applied:
  description: The reports applied in this run (planned only, in check mode), in the order applied.
  returned: always
  type: list
  elements: dict
  contains:
    report_id:
      description: The report's id.
      type: str
    agent:
      description: The agent, C(id) and C(name).
      type: dict
    generated_at:
      description: When the agent made the report (ISO 8601).
      type: str
    address_writes:
      description: Address creates, updates and removals that landed (would land, in check mode).
      type: int
    summary:
      description: The one-line-per-subnet summary, as the scan agent prints it.
      type: list
      elements: str
    totals:
      description: Seen, created, updated, unchanged, removed, removal_refused and errors over the report.
      type: dict
    errors:
      description: Writes phpIPAM refused; the report stays in the spool and is applied again later.
      type: list
      elements: dict
rejected:
  description: The reports rejected by a check in this run, each with C(report_id), C(agent) and C(reason).
  returned: always
  type: list
  elements: dict
pending:
  description: Reports still waiting in the spool after this run.
  returned: always
  type: int
summary:
  description: One line per report handled, then a totals line.
  returned: always
  type: list
  elements: str
"""

import datetime
import os

from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import ConfigError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import client_from_options
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import LocalModule
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_apply import (
    RelaySetupError,
    ReportRejected,
    apply_envelope,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_config import client_options, load_relay_settings
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool import Spool, SpoolError


def _agent_of(envelope):
    agent = (envelope.get('report') or {}).get('agent') or {}
    return {'id': agent.get('id'), 'name': agent.get('name')}


def drain(module, spool, client, settings, limit):
    """Apply what waits in the spool; returns (applied, rejected, failure message or None)."""
    applied, rejected = [], []
    entries = spool.pending()
    if limit:
        entries = entries[:limit]
    for envelope in entries:
        report_id = envelope['report_id']
        if 'damaged' in envelope:
            reason = 'the spooled file cannot be read: %s' % envelope['damaged']
            rejected.append({'report_id': report_id, 'agent': None, 'reason': reason})
            if not module.check_mode:
                spool.mark_rejected(report_id, reason)
            continue
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            outcome = apply_envelope(client, envelope, settings, now, check_mode=module.check_mode)
        except ReportRejected as exc:
            rejected.append({'report_id': report_id, 'agent': _agent_of(envelope), 'reason': str(exc)})
            if not module.check_mode:
                spool.mark_rejected(report_id, str(exc))
            continue
        except PhpipamError as exc:
            # phpIPAM is down or refuses the relay: this report and the rest wait for the next run.
            return applied, rejected, 'phpIPAM: %s' % exc
        applied.append(outcome)
        if outcome['errors']:
            first = outcome['errors'][0]
            return applied, rejected, ('%d phpIPAM write(s) of report %s failed (first: %s %s: %s); it stays in the '
                                       'spool' % (len(outcome['errors']), report_id, first['action'],
                                                  first['ip'] or 'subnet %d' % first['subnet_id'], first['message']))
        if not module.check_mode:
            spool.mark_done(report_id, {'totals': outcome['totals'], 'address_writes': outcome['address_writes']})
    return applied, rejected, None


def summary_lines(applied, rejected, pending, check_mode):
    lines = []
    for outcome in applied:
        totals = outcome['totals']
        lines.append('report %s from %s: %s %d address write(s) (seen %d, created %d, updated %d, removed %d, '
                     'errors %d)' % (outcome['report_id'], outcome['agent']['name'],
                                     'would make' if check_mode else 'applied,', outcome['address_writes'],
                                     totals['seen'], totals['created'], totals['updated'], totals['removed'],
                                     totals['errors']))
    for item in rejected:
        lines.append('report %s from %s: rejected: %s'
                     % (item['report_id'], (item['agent'] or {}).get('name'), item['reason']))
    lines.append('relay: %d applied, %d rejected, %d waiting' % (len(applied), len(rejected), pending))
    return lines


def main():
    module = LocalModule(argument_spec=dict(
        config=dict(type='path'),
        seed_config=dict(type='path'),
        spool_dir=dict(type='path'),
        limit=dict(type='int', default=0),
        report_ids=dict(type='list', elements='str', default=[]),
    ))
    params = module.params
    try:
        loaded = load_relay_settings(path=params['config'], seed_path=params['seed_config'],
                                     overrides={'spool_dir': params['spool_dir']}, env=os.environ)
    except ConfigError as exc:
        module.fail_json(msg='relay configuration: %s' % exc, problems=exc.problems)
    for warning in loaded['warnings']:
        module.warn(warning)
    settings = loaded['settings']
    try:
        spool = Spool(settings['spool_dir']).prepare()
    except SpoolError as exc:
        module.fail_json(msg=str(exc))
    try:
        client = client_from_options(client_options(settings))
    except PhpipamError as exc:
        module.fail_json(msg=str(exc))

    failure = None
    with spool.drain_lock():
        try:
            applied, rejected, failure = drain(module, spool, client, settings, params['limit'])
        except RelaySetupError as exc:
            applied, rejected, failure = [], [], 'relay configuration: %s' % exc
        finally:
            client.close()
        pending = len(spool.ids('incoming'))
    for item in rejected:
        module.warn('scan report %s from agent %s rejected, nothing written: %s'
                    % (item['report_id'], (item['agent'] or {}).get('name'), item['reason']))
    lines = summary_lines(applied, rejected, pending, module.check_mode)
    result = dict(changed=any(outcome['address_writes'] for outcome in applied),
                  applied=applied, rejected=rejected, pending=pending, summary=lines)
    if failure:
        module.fail_json(msg='%s; %d report(s) wait in the spool and are applied on a later run' % (failure, pending),
                         **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
