# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a scan report to phpIPAM: fetch the state it needs, plan (scan_plan), write, summarise.

Requests per cycle: one for the tags, one for the agent's subnets, one per completed subnet
for its addresses, then one per change and one bookkeeping PATCH per subnet and for the
agent. Writes, the subnets' bookkeeping PATCHes too, run over the client's one session with at
most ``workers`` in flight. A write that fails is recorded with its address and reason; the
others still land.
"""

import datetime
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import PlanSettings

# phpIPAM's clock may disagree with the configured zone by a few seconds of latency; beyond
# this, the agent warns that lastSeen values land in the wrong hour.
CLOCK_TOLERANCE = datetime.timedelta(minutes=5)


class TagLookupError(ValueError):
    pass


def resolve_tags(client):
    """phpIPAM's address tags, name -> id (tools/tags)."""
    return dict((tag['type'], tag['id']) for tag in client.get_list('tools/tags') if tag.get('type'))


def plan_settings(options, tag_ids):
    """PlanSettings from the module's options, with the discovered tag resolved by name."""
    tag_name = options.get('discovered_tag') or 'Used'
    matches = [name for name in tag_ids if name.lower() == tag_name.lower()]
    if not matches:
        raise TagLookupError('discovered_tag %r is not an address tag in phpIPAM (tags: %s)'
                             % (tag_name, ', '.join(sorted(tag_ids))))
    return PlanSettings(
        update_mac=options.get('update_mac', False),
        update_hostname=options.get('update_hostname', False),
        always_update=options.get('always_update', True),
        lastseen_refresh=options.get('lastseen_refresh') or 0,
        discovered_tag_id=tag_ids[matches[0]],
        discovered_tag_name=matches[0],
        discovered_description=options.get('discovered_description') or '-- autodiscovered --',
        exclude=options.get('exclude') or (),
        remove_stale=options.get('remove_stale', False),
        remove_stale_after=options.get('remove_stale_after', 48 * 3600),
        remove_stale_max_percent=options.get('remove_stale_max_percent', 25),
        remove_stale_scope=options.get('remove_stale_scope') or 'agent',
        force_remove=options.get('force_remove', False),
        manage_tags=options.get('manage_tags', False),
        tag_ids=tag_ids,
    )


def fetch_state(client, report):
    """phpIPAM's current records for the report's subnets: (subnets by id, addresses by subnet id)."""
    agent_id = report['agent']['id']
    records = client.get_list('subnets', params={'filter_by': 'scanAgent', 'filter_value': agent_id})
    wanted = set(s['id'] for s in report['subnets'])
    subnets = dict((s['id'], s) for s in records if s.get('id') in wanted)
    # A subnet no longer filtered to this agent is looked up alone, so the plan can say why it is skipped.
    for missing in sorted(wanted - set(subnets)):
        record = client.get_or_none('subnets/%d' % missing)
        if record:
            subnets[missing] = record
    completed = [s['id'] for s in report['subnets'] if s['completed'] and s['id'] in subnets]
    lists = client.get_lists(['subnets/%d/addresses' % subnet_id for subnet_id in completed])
    return subnets, dict(zip(completed, lists))


def _write(client, action, subnet_id, item):
    try:
        if action == 'create':
            result = client.create('addresses', item['payload'])
            return {'ok': True, 'id': result.id}
        if action == 'update':
            client.update('addresses/%d' % item['id'], item['payload'])
        else:
            client.delete('addresses/%d' % item['id'])
        return {'ok': True}
    except PhpipamError as exc:
        return {'ok': False, 'error': {'subnet_id': subnet_id, 'ip': item['ip'], 'action': action, 'message': str(exc)}}


def apply_plans(client, plans, workers=4):
    """Send every address write of ``plans``, then the subnets' lastScan/lastDiscovery.

    Returns per-subnet results: counts of what landed and the errors.
    """
    jobs = []
    for plan in plans:
        for action, key in (('create', 'creates'), ('update', 'updates'), ('remove', 'removals')):
            for item in plan[key]:
                jobs.append((plan['id'], action, item))
    results = dict((plan['id'], {'created': 0, 'updated': 0, 'removed': 0, 'errors': []}) for plan in plans)
    counters = {'create': 'created', 'update': 'updated', 'remove': 'removed'}

    def run(job):
        subnet_id, action, item = job
        return job, _write(client, action, subnet_id, item)

    if jobs:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
            for (subnet_id, action, item), outcome in pool.map(run, jobs):
                if outcome['ok']:
                    results[subnet_id][counters[action]] += 1
                    if action == 'create':
                        item['id'] = outcome.get('id')
                else:
                    results[subnet_id]['errors'].append(outcome['error'])

    # The subnets' lastScan/lastDiscovery once their addresses are written, also in parallel: an
    # agent with 100 subnets otherwise waits for 100 PATCHes one after the other.
    def bookkeeping(plan):
        try:
            client.update('subnets/%d' % plan['id'], plan['subnet_update'])
        except PhpipamError as exc:
            return plan['id'], {'subnet_id': plan['id'], 'ip': None, 'action': 'subnet', 'message': str(exc)}
        return plan['id'], None

    touched = [plan for plan in plans if plan['subnet_update']]
    if touched:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(touched)))) as pool:
            for subnet_id, error in pool.map(bookkeeping, touched):
                if error:
                    results[subnet_id]['errors'].append(error)
    return results


def touch_agent(client, agent_id, now):
    """Record the agent's visit (``last_access``); phpIPAM shows it under Administration > Scan agents."""
    client.update('tools/scanagents/%d' % agent_id, {'last_access': now})


def check_server_clock(client, plans, now):
    """A warning when phpIPAM's database clock disagrees with the configured time zone, else None.

    A subnet's editDate is set by the database when we PATCH it; read back, it must be close to
    ``now`` in the zone the client was told phpIPAM uses. One GET per cycle.
    """
    touched = [p['id'] for p in plans if p['subnet_update']]
    if not touched:
        return None
    record = client.get_or_none('subnets/%d' % touched[0])
    edited = (record or {}).get('editDate')
    if edited is None:
        return None
    skew = edited - now
    if abs(skew) <= CLOCK_TOLERANCE:
        return None
    return ("phpIPAM's database clock disagrees with phpipam_timezone %s: subnet %d was just changed at %s by "
            "this agent's clock but phpIPAM recorded %s (off by %+.1f h). lastSeen values are written in %s, so "
            'phpIPAM may show live hosts as offline: set phpipam_timezone to phpIPAM\'s time zone (or correct '
            'time_offset)' % (client.timezone, touched[0], now.astimezone(client.zone).strftime('%Y-%m-%d %H:%M:%S'),
                              edited.strftime('%Y-%m-%d %H:%M:%S'), skew.total_seconds() / 3600.0, client.timezone))


def summarize(plans, results, check_mode=False, skipped=()):
    """Per-subnet rows, a totals row and the printable lines (subnets ``skipped`` before the scan included)."""
    rows = []
    totals = dict((key, 0) for key in ('seen', 'created', 'updated', 'unchanged', 'removed', 'removal_refused',
                                       'errors'))
    for plan in plans:
        result = results.get(plan['id']) if results is not None else None
        if result is None:
            # Check mode, or nothing sent: report what the plan would do.
            result = {'created': len(plan['creates']), 'updated': len(plan['updates']),
                      'removed': len(plan['removals']), 'errors': []}
        row = {
            'id': plan['id'], 'cidr': plan['cidr'], 'status': plan['status'], 'reason': plan['reason'],
            'seen': plan['seen'], 'created': result['created'], 'updated': result['updated'],
            'unchanged': plan['unchanged'], 'removed': result['removed'], 'removal_refused': len(plan['refused']),
            'errors': len(result['errors']), 'error_details': result['errors'],
            'refused_details': plan['refused'],
        }
        rows.append(row)
        for key in totals:
            totals[key] += row[key]
    prefix = '(check mode) ' if check_mode else ''
    lines = []
    for row in rows:
        line = '%s%s (id %d): seen %d, created %d, updated %d, unchanged %d, removed %d, removal refused %d, errors %d' % (
            prefix, row['cidr'], row['id'], row['seen'], row['created'], row['updated'], row['unchanged'],
            row['removed'], row['removal_refused'], row['errors'])
        if row['status'] != 'planned':
            line += ' [%s: %s]' % (row['status'], row['reason'])
        lines.append(line)
    lines.extend(_skipped_lines(skipped, prefix))
    skipped_text = ' (%d skipped)' % len(skipped) if skipped else ''
    lines.append('%stotal: %d subnet(s)%s, seen %d, created %d, updated %d, unchanged %d, removed %d, removal refused %d, '
                 'errors %d' % (prefix, len(rows), skipped_text, totals['seen'], totals['created'], totals['updated'],
                                totals['unchanged'], totals['removed'], totals['removal_refused'], totals['errors']))
    return rows, totals, lines


def _skipped_lines(skipped, prefix):
    lines = []
    for subnet in skipped:
        reason = subnet.get('reason') or 'not scanned in this cycle'
        lines.append('%s%s (id %s): skipped, %s' % (prefix, subnet.get('cidr'), subnet.get('id'), reason))
    return lines


def build_diff(plans):
    """Ansible diff: one entry per changed address, before and after."""
    before_lines = []
    after_lines = []
    for plan in plans:
        for item in plan['creates']:
            after_lines.append('+ %s %s' % (item['ip'], _fields(item['payload'], skip=('ip', 'subnetId'))))
        for item in plan['updates']:
            before_lines.append('%s %s' % (item['ip'], _fields(item['before'])))
            after_lines.append('%s %s' % (item['ip'], _fields(item['after'])))
        for item in plan['removals']:
            before_lines.append('- %s %s' % (item['ip'], _fields(item['before'], skip=('ip',))))
    if not before_lines and not after_lines:
        return None
    return {'before': '\n'.join(before_lines) + '\n' if before_lines else '',
            'after': '\n'.join(after_lines) + '\n' if after_lines else '',
            'before_header': 'phpIPAM addresses (before)', 'after_header': 'phpIPAM addresses (after)'}


def _fields(data, skip=()):
    shown = to_ansible(dict((k, v) for k, v in data.items() if k not in skip))
    return ' '.join('%s=%s' % (k, shown[k]) for k in sorted(shown))


def relay_summary(report, relay_url, skipped=(), check_mode=False):
    """Summary lines for a report sent to a relay (the relay applies it and counts the writes)."""
    prefix = '(check mode) ' if check_mode else ''
    verb = 'would be sent' if check_mode else 'sent'
    lines = []
    for subnet in report['subnets']:
        state = 'complete' if subnet['completed'] else 'incomplete (the relay writes nothing for it)'
        lines.append('%s%s (id %d): seen %d, scan %s, %s to the relay'
                     % (prefix, subnet['cidr'], subnet['id'], len(subnet['hosts']), state, verb))
    lines.extend(_skipped_lines(skipped, prefix))
    lines.append('%stotal: %d subnet(s), seen %d; report %s %s to %s'
                 % (prefix, len(report['subnets']), sum(len(s['hosts']) for s in report['subnets']),
                    report['report_id'], verb, relay_url))
    return lines
