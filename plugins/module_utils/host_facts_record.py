# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record host facts summaries in a phpIPAM address custom field, and the per-host anomaly report.

``plan_records`` and ``report_lines`` are pure; ``record_host_facts`` reads phpIPAM (the field
definition, then the addresses: one request per host for a few hosts, one read of all addresses
for many) and PATCHes only the addresses whose text differs, several at a time.
"""

import ipaddress
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import update_payload
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError, PhpipamNotFoundError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts import (
    TEXT_MAX_BYTES,
    HostFactsError,
    summary_text,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import find_section

DEFAULT_FACTS_FIELD = 'custom_host_facts'
# Up to this many hosts, one request each (by address id or IP search); above it, one read of every address.
SEARCH_LIMIT = 20
_TEXT_TYPES = ('text', 'mediumtext', 'longtext', 'tinytext')
_VARCHAR = re.compile(r'^(?:var)?char\((\d+)\)$', re.IGNORECASE)


def field_capacity(facts_field, fields):
    """How many bytes ``facts_field`` takes, from phpIPAM's address custom field definitions.

    HostFactsError naming the field and how to create it when it does not exist, or when it is
    not a text field.
    """
    if facts_field not in fields:
        hint = ''
        if 'custom_' + facts_field in fields:
            hint = ' (did you mean custom_%s?)' % facts_field
        raise HostFactsError(
            'custom field %s does not exist on phpIPAM addresses%s: create it in phpIPAM under Administration > '
            'Custom fields > IP address, as a field named %s of type text (phpIPAM adds the custom_ prefix), or '
            'name an existing one with facts_field (address custom fields: %s)'
            % (facts_field, hint, re.sub(r'^custom_', '', facts_field), ', '.join(sorted(fields)) or 'none'))
    kind = str((fields[facts_field] or {}).get('type') or '').strip().lower()
    if kind in _TEXT_TYPES:
        return 255 if kind == 'tinytext' else TEXT_MAX_BYTES
    match = _VARCHAR.match(kind)
    if match:
        return int(match.group(1))
    raise HostFactsError('custom field %s of phpIPAM addresses is of type %s: host facts need a text field '
                         '(Administration > Custom fields)' % (facts_field, kind or 'unknown'))


def _ip(value):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return None


def check_summaries(summaries):
    """HostFactsError unless every item is a summary with a unique name."""
    seen = set()
    for index, summary in enumerate(summaries):
        if not isinstance(summary, dict) or not summary.get('name') or 'memory' not in summary:
            raise HostFactsError('hosts item %d is not a summary of ipamkit.phpipam.host_facts (name, ip, memory, '
                                 '...): %s' % (index + 1, str(summary)[:120]))
        if summary['name'] in seen:
            raise HostFactsError('host %s is in hosts twice' % summary['name'])
        seen.add(summary['name'])


def plan_records(summaries, records, facts_field, capacity=TEXT_MAX_BYTES, section_subnet_ids=None):
    """One plan item per summary, in name order: name, ip, address_id, status, before, after, message.

    ``records`` are candidate phpIPAM address records, matched to a summary by its ``address_id``
    when it has one, else by IP (only within ``section_subnet_ids`` when given). Status: update,
    unchanged, not_found, ambiguous (the IP is in several addresses), shared (several hosts have
    the IP: none of them is written), no_ip.
    """
    by_ip = {}
    by_id = {}
    for record in records:
        by_id[record.get('id')] = record
        if section_subnet_ids is not None and record.get('subnetId') not in section_subnet_ids:
            continue
        ip = _ip(record.get('ip'))
        if ip is not None:
            by_ip.setdefault(ip, []).append(record)
    ip_count = {}
    for summary in summaries:
        ip = _ip(summary.get('ip'))
        if ip is not None and not summary.get('address_id'):
            ip_count[ip] = ip_count.get(ip, 0) + 1
    plan = []
    for summary in sorted(summaries, key=lambda s: s['name']):
        ip = _ip(summary.get('ip'))
        item = dict(name=summary['name'], ip=summary.get('ip'), address_id=None, status=None,
                    before=None, after=summary_text(summary, capacity), message=None)
        if summary.get('address_id'):
            matches = [by_id[summary['address_id']]] if summary['address_id'] in by_id else []
        elif ip is None:
            item.update(status='no_ip', message='%s has no IP to find its phpIPAM address by' % summary['name'])
            plan.append(item)
            continue
        elif ip_count[ip] > 1:
            item.update(status='shared', message='%s shares IP %s with another host: neither is recorded' % (
                summary['name'], ip))
            plan.append(item)
            continue
        else:
            matches = by_ip.get(ip, [])
        if not matches:
            what = 'address id %s' % summary['address_id'] if summary.get('address_id') else 'address %s' % ip
            item.update(status='not_found', message='%s: no phpIPAM %s' % (summary['name'], what))
        elif len(matches) > 1:
            ids = ', '.join(str(r.get('id')) for r in sorted(matches, key=lambda r: r.get('id')))
            item.update(status='ambiguous', message='%s: IP %s is in %d phpIPAM addresses (ids %s): set section or '
                        'the address id' % (summary['name'], ip, len(matches), ids))
        else:
            record = matches[0]
            before = record.get(facts_field) or ''
            item.update(address_id=record.get('id'), before=before, record=record,
                        status='unchanged' if before == item['after'] else 'update')
        plan.append(item)
    return plan


def _fetch_records(client, summaries):
    """The address records the summaries need: one read of every address when there are many, else one
    request per address id or IP."""
    by_id = sorted(set(int(s['address_id']) for s in summaries if s.get('address_id')))
    by_ip = sorted(set(str(s['ip']) for s in summaries if not s.get('address_id') and _ip(s.get('ip'))))
    if len(by_id) + len(by_ip) > SEARCH_LIMIT:
        return client.get_list('addresses')
    records = [r for r in (client.get_or_none('addresses/%d' % address_id) for address_id in by_id) if r]
    for found in client.get_lists(['addresses/search/%s' % ip for ip in by_ip]):
        records.extend(found)
    return records


def record_host_facts(client, summaries, facts_field=DEFAULT_FACTS_FIELD, section=None, check_mode=False):
    """Write each summary's text into its address; returns (plan, warnings). Nothing is written in check mode."""
    check_summaries(summaries)
    try:
        fields = client.read('addresses/custom_fields') or {}
    except PhpipamNotFoundError:  # "No custom fields defined"
        fields = {}
    capacity = field_capacity(facts_field, fields if isinstance(fields, dict) else {})
    subnet_ids = None
    if section:
        found = find_section(client, section)
        subnet_ids = set(s.get('id') for s in client.get_list('sections/%d/subnets' % found['id']))
    plan = plan_records(summaries, _fetch_records(client, summaries), facts_field, capacity, subnet_ids)
    warnings = []
    writes = []
    for item in plan:
        record = item.pop('record', None)
        if item['message']:
            warnings.append(item['message'])
        if item['after'].endswith('lines left out') and item['status'] in ('update', 'unchanged'):
            warnings.append('%s: %s holds %d bytes, so the summary lost its last lines; make it a text field'
                            % (item['name'], facts_field, capacity))
        if item['status'] == 'update' and not check_mode:
            writes.append((item, record))
    _write(client, writes, facts_field)
    return plan, warnings


def _write(client, writes, facts_field):
    """PATCH the addresses, a few at a time (the client's max_workers); a failed write marks its item ``error``."""
    def write(job):
        item, record = job
        try:
            client.update('addresses/%d' % record['id'], update_payload(record, {facts_field: item['after']}))
        except PhpipamError as exc:
            item.update(status='error', message='%s: writing address %s failed: %s' % (item['name'], record['id'], exc))

    if len(writes) <= 1:
        for job in writes:
            write(job)
        return
    with ThreadPoolExecutor(max_workers=max(1, min(getattr(client, 'max_workers', 1), len(writes)))) as pool:
        list(pool.map(write, writes))


# ---------------------------------------------------------------- the report


_STATUS_WORDS = dict(update='recorded', unchanged='unchanged', not_found='not in phpIPAM',
                     ambiguous='ambiguous in phpIPAM', shared='IP shared', no_ip='no IP', error='write failed')


def report_lines(summaries, plan=(), unreachable=(), check_mode=False):
    """The per-host table: one row per anomaly, a row ``ok`` for a host without any, and unreachable hosts.

    Columns: host, ip, phpIPAM (what the record step did), check, finding.
    """
    status = dict((item['name'], item['status']) for item in plan)
    rows = []
    for summary in sorted(summaries, key=lambda s: s['name']):
        word = _STATUS_WORDS.get(status.get(summary['name']), '-')
        if check_mode and word == 'recorded':
            word = 'would record'
        anomalies = summary.get('anomalies') or []
        if not anomalies:
            rows.append((summary['name'], summary.get('ip') or '-', word, 'ok', '-'))
        for anomaly in anomalies:
            rows.append((summary['name'], summary.get('ip') or '-', word, anomaly['check'], anomaly['message']))
    for name in sorted(set(unreachable)):
        rows.append((name, '-', '-', 'unreachable', 'no facts: the host failed or was unreachable'))
    header = ('host', 'ip', 'phpipam', 'check', 'finding')
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(4)]

    def line(row):
        return '  '.join(str(v).ljust(widths[i]) for i, v in enumerate(row[:4])) + '  ' + str(row[4])

    return [line(header)] + [line(r) for r in rows]
