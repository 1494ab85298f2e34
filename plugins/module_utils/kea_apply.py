# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a phpIPAM -> Kea sync: read phpIPAM, plan (kea_plan), test and apply on every Kea server.

Order, so that Kea never runs half a sync:

1. phpIPAM: the selected subnets, their addresses, the name server sets, the tags (reads only).
2. Every Kea server: ``config-get``, then a plan against what that server runs.
3. Every server whose plan changes something: ``config-test`` of its new configuration. One refusal and
   nothing is set anywhere; the error quotes Kea and names the phpIPAM objects it points at.
4. Only then, server by server: ``config-set`` and ``config-write``.

Kea commands per run: one config-get per server, and per changed server one config-test, config-set and
config-write, whatever the number of subnets and reservations.
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import subnet_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea import KeaConfigError, KeaError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea_plan import (
    SyncSettings,
    build_diff,
    build_subnets,
    lease_settings,
    plan_config,
    plan_leases,
    subject_of,
    summary_line,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import (
    LookupFailed,
    check_custom_fields,
    find_section,
    find_subnets,
    find_tag,
    select_subnets,
    tag_ids,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_apply import apply_plans, summarize


class SyncFailed(Exception):
    """The sync stopped before (or while) writing; ``details`` goes into the module result."""

    def __init__(self, message, **details):
        super(SyncFailed, self).__init__(message)
        self.details = details


def select_records(client, params):
    """The phpIPAM subnet records to sync, IPv4 first, in address order."""
    section = find_section(client, params.get('section')) if params.get('section') else None
    field, value = params.get('subnet_field'), params.get('subnet_field_value')
    if params.get('subnets'):
        records = find_subnets(client, params['subnets'], section)
        if field:
            check_custom_fields(client, 'subnets', [field])
            records = [r for r in records if str(r.get(field) if r.get(field) is not None else '') == str(value)]
        return records
    return select_subnets(client, section, custom_field=field, value=value)


def read_phpipam(client, params):
    """(records, addresses by subnet id, name server sets by id, tags name -> id) for the selection."""
    fields = [f for f in (params.get('domain_name_field'), params.get('valid_lifetime_field')) if f]
    if fields:
        check_custom_fields(client, 'subnets', fields)
    tags = tag_ids(client)
    records = select_records(client, params)
    records = [r for r in records if subnet_network(r) is not None]
    lists = client.get_lists(['subnets/%d/addresses' % r['id'] for r in records])
    addresses = dict(zip([r['id'] for r in records], lists))
    nameservers = {}
    if any(r.get('nameserverId') for r in records):
        nameservers = dict((n['id'], n) for n in client.get_list('tools/nameservers'))
    return records, addresses, nameservers, tags


def sync_settings(params, tags):
    return SyncSettings(owner=params['owner'], dhcp_tag_id=find_tag(tags, params['dhcp_tag']),
                        domain_name_field=params.get('domain_name_field'),
                        valid_lifetime_field=params.get('valid_lifetime_field'),
                        reservation_hostnames=params.get('reservation_hostnames', True))


def plan_servers(servers, desired, skipped, owner, problems):
    """config-get on every server and its plan: [(client, plan)]."""
    plans = []
    for server in servers:
        current = server.config_get()
        plans.append((server, plan_config(current, desired, skipped, owner, problems)))
    return plans


def test_configs(plans, desired):
    """config-test every new configuration; the first refusal raises SyncFailed naming the phpIPAM objects."""
    for server, plan in plans:
        if plan['config'] is None:
            continue
        try:
            server.config_test(plan['config'])
        except KeaConfigError as exc:
            subjects = subject_of(exc.text or '', desired)
            where = ('; it points at %s' % '; '.join(subjects)) if subjects else ''
            raise SyncFailed('Kea %s refused the new configuration (config-test): %s%s. Nothing was applied on any '
                             'Kea server' % (server.url, exc.text, where), error=exc.to_dict(), subjects=subjects)


def apply_configs(plans, write_config=True):
    """config-set (and config-write) on each changed server; a failure names what was applied already."""
    applied = []
    for server, plan in plans:
        if plan['config'] is None:
            continue
        try:
            server.config_set(plan['config'])
            applied.append(server.url)
            if write_config:
                server.config_write()
        except KeaError as exc:
            done = ('; already applied on %s' % ', '.join(applied)) if applied else ''
            raise SyncFailed('%s%s. Run the sync again once the cause is fixed: it converges' % (exc, done),
                             error=exc.to_dict(), applied=applied)
    return applied


def reverse_sync(client, servers, records, addresses, params, tags, now, check_mode):
    """Active leases of the synced subnets -> phpIPAM. Returns (plans, results or None)."""
    by_id = dict((r['id'], r) for r in records)
    leases = []
    for server in servers:
        leases.extend(server.lease4_get_all(sorted(by_id)))
    plans = plan_leases(leases, by_id, addresses, lease_settings(params, tags), now)
    if check_mode:
        return plans, None
    return plans, apply_plans(client, plans, workers=max(1, params.get('api_workers') or 4))


def check_not_emptied(plans, desired, skipped, allow_remove_all):
    """Refuse to remove every managed subnet because phpIPAM selected none.

    An empty selection is far more often a mistake (a wrong section or field value, a custom field
    renamed, a phpIPAM that answers "no subnets" while it is being repaired) than a wish to turn
    DHCP off, and a DHCP server emptied that way stops giving leases to the whole network.
    """
    if desired or skipped or allow_remove_all:
        return
    for server, plan in plans:
        removed = [change for change in plan['changes'] if change['action'] == 'delete']
        if removed:
            raise SyncFailed('phpIPAM selected no subnet, but Kea %s runs %d subnet(s) this sync manages (%s): '
                             'refusing to remove them all, which would stop DHCP for them. Check the selection '
                             '(section, subnets, subnet_field); set allow_remove_all to remove them on purpose. '
                             'Nothing was sent to Kea' % (server.url, len(removed),
                                                          ', '.join(str(c.get('subnet')) for c in removed[:5])))


def run_sync(client, servers, params, now, check_mode, diff_mode):
    """The whole sync; returns the module result (without ``changed`` decisions left to the caller)."""
    try:
        records, addresses, nameservers, tags = read_phpipam(client, params)
        settings = sync_settings(params, tags)
    except LookupFailed as exc:
        raise SyncFailed(str(exc))
    desired, problems, skipped = build_subnets(records, addresses, nameservers, settings)
    plans = plan_servers(servers, desired, skipped, params['owner'], problems)
    problems = sorted(set(p for _server, plan in plans for p in plan['problems']), key=problems_order(problems))
    result = {'problems': problems, 'summary': [], 'servers': []}
    check_not_emptied(plans, desired, skipped, params.get('allow_remove_all', False))
    if params.get('strict') and problems:
        raise SyncFailed('strict: %d problem(s) in phpIPAM data, nothing was sent to Kea: %s'
                         % (len(problems), '; '.join(problems)), problems=problems)
    test_configs(plans, desired)
    if not check_mode:
        apply_configs(plans, params.get('write_config', True))
    diffs = []
    for server, plan in plans:
        changes = plan['changes']
        result['servers'].append({'url': server.url, 'changed': plan['config'] is not None, 'subnets': changes})
        result['summary'].append(summary_line(server.url, changes, check_mode))
        if diff_mode:
            diff = build_diff(changes, server.url)
            if diff:
                diffs.append(diff)
    result['kea_changed'] = any(plan['config'] is not None for _server, plan in plans)
    if diffs:
        result['diff'] = diffs if len(diffs) > 1 else diffs[0]
    if params.get('reverse_sync'):
        synced = [r for r in records if r['id'] in desired or r['id'] in skipped]
        lease_plans, results = reverse_sync(client, servers, synced, addresses, params, tags, now, check_mode)
        rows, totals, lines = summarize(lease_plans, results, check_mode=check_mode)
        result['leases'] = {'subnets': rows, 'totals': totals}
        result['summary'].extend('leases: ' + line for line in lines)
        result['phpipam_writes'] = totals['created'] + totals['updated']
    commands = {}
    for server in servers:
        for name, count in server.commands.items():
            commands[name] = commands.get(name, 0) + count
    result['kea_commands'] = commands
    return result


def problems_order(original):
    index = dict((p, i) for i, p in enumerate(original))
    return lambda p: (index.get(p, len(index)), p)
