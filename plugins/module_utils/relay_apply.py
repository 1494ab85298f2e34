# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan relay's applier: check a spooled report against phpIPAM, then apply it like direct mode.

The relay writes with its own phpIPAM credentials on behalf of agents it cannot fully trust,
so before any write it checks, against phpIPAM: the agent exists (and is the one the token
belongs to), every subnet of the report is assigned to that agent and has the CIDR the report
claims, every host lies inside its subnet, and the report is not older than what phpIPAM
already holds for the subnet (a replayed report). A report failing any check is rejected whole.
A report that passes is planned and applied by the same code as direct mode (scan_plan,
scan_apply), with the report's own time as "seen at", so a report that waited in the spool
still gives the hosts the time they were seen.
"""

import datetime
import ipaddress

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_agent import (
    AgentNotFoundError,
    find_agent,
    subnet_network,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_apply import (
    apply_plans,
    plan_settings,
    resolve_tags,
    summarize,
    touch_agent,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import count_address_writes, plan_report
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import ReportError, parse_report
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import parse_iso_datetime

# phpIPAM keeps whole seconds: a report made in the same second as the last scan is not older.
REPLAY_TOLERANCE = datetime.timedelta(seconds=1)
# An agent whose clock runs ahead would make every later report look like a replay.
MAX_CLOCK_AHEAD = datetime.timedelta(minutes=10)


class ReportRejected(Exception):
    """The report fails a check: nothing of it is written."""


class RelaySetupError(Exception):
    """The relay's own settings do not fit phpIPAM (not the report's fault: it stays in the spool)."""


def report_time(report, time_offset=0):
    """When the report's scan happened (aware UTC datetime), moved by the relay's ``time_offset``."""
    return parse_iso_datetime(report['generated_at']) + datetime.timedelta(seconds=time_offset)


def check_agent(report, agent, token_agent_code):
    """Problems with who sent the report. ``agent`` is phpIPAM's record (None: not found)."""
    claimed = report['agent']
    if agent is None:
        if token_agent_code is not None:
            return ['the token belongs to agent code %s, which is not a scan agent in phpIPAM (Administration > '
                    'Scan agents)' % _mask(token_agent_code)]
        return ['the report is from agent id %d (%s), which is not a scan agent in phpIPAM'
                % (claimed['id'], claimed['name'])]
    if agent.get('id') != claimed['id']:
        return ["the token belongs to agent '%s' (id %s), but the report is from agent '%s' (id %d)"
                % (agent.get('name'), agent.get('id'), claimed['name'], claimed['id'])]
    return []


def check_subnets(report, agent_id, phpipam_subnets, when):
    """Problems with what the report claims. ``phpipam_subnets``: id -> phpIPAM's record (absent: no such subnet)."""
    problems = []
    for subnet in report['subnets']:
        record = phpipam_subnets.get(subnet['id'])
        where = 'subnet %d (%s)' % (subnet['id'], subnet['cidr'])
        if record is None:
            problems.append('%s: phpIPAM has no such subnet' % where)
            continue
        if record.get('scanAgent') != agent_id:
            problems.append('%s: assigned to %s in phpIPAM, not to this agent (id %d)'
                            % (where, 'scan agent %s' % record['scanAgent'] if record.get('scanAgent') else
                               'no scan agent', agent_id))
            continue
        network = subnet_network(record)
        if network is None or str(network) != str(ipaddress.ip_network(subnet['cidr'], strict=False)):
            problems.append('%s: phpIPAM has this subnet as %s' % (where, network or 'a folder'))
            continue
        outside = [host['ip'] for host in subnet['hosts'] if ipaddress.ip_address(host['ip']) not in network]
        if outside:
            problems.append('%s: %d host(s) outside the subnet, first %s' % (where, len(outside), outside[0]))
        for flag, field in (('ping', 'lastScan'), ('discover', 'lastDiscovery')):
            last = record.get(field)
            if subnet[flag] and isinstance(last, datetime.datetime) and when < last - REPLAY_TOLERANCE:
                problems.append('%s: the report was made at %s, before phpIPAM\'s %s %s: an old report (replayed or '
                                'overtaken by a newer scan)' % (where, _utc(when), field, _utc(last)))
                break
    return problems


def check_clock(report, when, now):
    if when - now > MAX_CLOCK_AHEAD:
        return ['the report was made at %s, %d minutes ahead of the relay\'s clock (%s): fix the agent\'s clock '
                '(a report from the future would make later reports look old)'
                % (_utc(when), (when - now).total_seconds() // 60, _utc(now))]
    return []


def _utc(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _mask(code):
    code = str(code)
    return code[:2] + '*' * max(0, len(code) - 2) if len(code) > 4 else '****'


def _lookup_agent(client, report, token_agent_code):
    try:
        if token_agent_code is not None:
            return find_agent(client, code=token_agent_code)
        return find_agent(client, agent_id=report['agent']['id'])
    except AgentNotFoundError:
        return None


def _fetch_subnets(client, report, agent_id):
    records = client.get_list('subnets', params={'filter_by': 'scanAgent', 'filter_value': agent_id})
    wanted = set(subnet['id'] for subnet in report['subnets'])
    found = dict((record['id'], record) for record in records if record.get('id') in wanted)
    for missing in sorted(wanted - set(found)):
        record = client.get_or_none('subnets/%d' % missing)
        if record:
            found[missing] = record
    return found


def apply_envelope(client, envelope, settings, now, check_mode=False):
    """Check and apply one spooled report. Returns an outcome dict.

    Raises ReportRejected (nothing written) or PhpipamError (phpIPAM unreachable or refusing
    reads: the report stays in the spool).
    """
    try:
        report = parse_report(envelope['report'])
    except ReportError as exc:
        raise ReportRejected('not a valid scan report: %s' % '; '.join(exc.problems[:5]))
    when = report_time(report, settings['time_offset'])
    problems = check_clock(report, when, now)
    agent = _lookup_agent(client, report, envelope.get('agent_code'))
    problems += check_agent(report, agent, envelope.get('agent_code'))
    if problems:
        raise ReportRejected('; '.join(problems))
    subnets = _fetch_subnets(client, report, agent['id'])
    problems = check_subnets(report, agent['id'], subnets, when)
    if problems:
        raise ReportRejected('; '.join(problems))

    plan_options = dict((key, settings[key]) for key in (
        'update_mac', 'update_hostname', 'always_update', 'lastseen_refresh', 'discovered_tag',
        'discovered_description', 'exclude', 'remove_stale', 'remove_stale_after', 'remove_stale_max_percent',
        'remove_stale_scope', 'force_remove', 'manage_tags'))
    try:
        options = plan_settings(plan_options, resolve_tags(client))
    except ValueError as exc:
        raise RelaySetupError(str(exc))
    completed = [subnet['id'] for subnet in report['subnets'] if subnet['completed']]
    addresses = dict(zip(completed, client.get_lists(['subnets/%d/addresses' % sid for sid in completed])))
    plans = plan_report(report, subnets, addresses, options, when)
    results = None
    if not check_mode:
        results = apply_plans(client, plans, workers=settings['api_workers'])
        touch_agent(client, agent['id'], when)
    rows, totals, lines = summarize(plans, results, check_mode=check_mode)
    return {
        'report_id': report['report_id'],
        'agent': {'id': agent['id'], 'name': agent.get('name')},
        'generated_at': report['generated_at'],
        'address_writes': count_address_writes(plans) - totals['errors'],
        'summary': lines,
        'totals': totals,
        'errors': [error for row in rows for error in row['error_details']],
    }


__all__ = ['ReportRejected', 'RelaySetupError', 'apply_envelope', 'check_agent', 'check_subnets', 'check_clock', 'report_time',
           'PhpipamError']
