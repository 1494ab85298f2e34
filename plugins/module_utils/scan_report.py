# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The versioned scan report: what an agent saw, in the form the uploader and the relay take.

``build_report`` turns the output of ``nmap_scan`` and ``scan_agent_info`` into a report;
``validate_report`` checks a report (from this agent or arriving at a relay) against
``REPORT_SCHEMA`` without needing the jsonschema library, and returns every problem.
The schema is also shipped as docs/scan-report.schema.json (a unit test keeps them equal).
"""

import datetime
import hashlib
import ipaddress
import json
import re

REPORT_KIND = 'ipamkit.phpipam.scan_report'
REPORT_VERSION = 1

_ISO_UTC_RE = r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$'
_MAC_RE = r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$'

_TIME = {'type': 'string', 'pattern': _ISO_UTC_RE}
_NULLABLE_TIME = {'type': ['string', 'null'], 'pattern': _ISO_UTC_RE}

REPORT_SCHEMA = {
    '$schema': 'https://json-schema.org/draft/2020-12/schema',
    '$id': 'https://github.com/ipamkit/phpipam/docs/scan-report.schema.json',
    'title': 'ipamkit.phpipam scan report, version 1',
    'type': 'object',
    'required': ['kind', 'version', 'report_id', 'generated_at', 'agent', 'scanner', 'subnets'],
    'additionalProperties': False,
    'properties': {
        'kind': {'const': REPORT_KIND},
        'version': {'const': REPORT_VERSION},
        'report_id': {'type': 'string', 'pattern': '^[0-9a-f]{32}$'},
        'generated_at': _TIME,
        'agent': {
            'type': 'object',
            'required': ['id', 'name'],
            'additionalProperties': False,
            'properties': {
                'id': {'type': 'integer', 'minimum': 1},
                'name': {'type': 'string', 'maxLength': 255},
            },
        },
        'scanner': {
            'type': 'object',
            'required': ['tool', 'version', 'privileged', 'runs'],
            'additionalProperties': False,
            'properties': {
                'tool': {'const': 'nmap'},
                'version': {'type': ['string', 'null'], 'maxLength': 64},
                'privileged': {'type': 'boolean'},
                'runs': {
                    'type': 'array',
                    'maxItems': 64,
                    'items': {
                        'type': 'object',
                        'required': ['family', 'args', 'started', 'finished', 'exit'],
                        'additionalProperties': False,
                        'properties': {
                            'family': {'enum': [4, 6]},
                            'args': {'type': 'string', 'maxLength': 4096},
                            'started': _TIME,
                            'finished': _TIME,
                            'exit': {'type': 'string', 'maxLength': 64},
                        },
                    },
                },
            },
        },
        'subnets': {
            'type': 'array',
            'maxItems': 100000,
            'items': {
                'type': 'object',
                'required': ['id', 'cidr', 'ping', 'discover', 'completed', 'started', 'finished', 'hosts'],
                'additionalProperties': False,
                'properties': {
                    'id': {'type': 'integer', 'minimum': 1},
                    'cidr': {'type': 'string', 'maxLength': 64},
                    'ping': {'type': 'boolean'},
                    'discover': {'type': 'boolean'},
                    'completed': {'type': 'boolean'},
                    'started': _NULLABLE_TIME,
                    'finished': _NULLABLE_TIME,
                    'hosts': {
                        'type': 'array',
                        'maxItems': 1048576,
                        'items': {
                            'type': 'object',
                            'required': ['ip'],
                            'additionalProperties': False,
                            'properties': {
                                'ip': {'type': 'string', 'maxLength': 45},
                                'mac': {'type': ['string', 'null'], 'pattern': _MAC_RE},
                                'vendor': {'type': ['string', 'null'], 'maxLength': 255},
                                'hostname': {'type': ['string', 'null'], 'maxLength': 255},
                                'reason': {'type': ['string', 'null'], 'maxLength': 64},
                            },
                        },
                    },
                },
            },
        },
    },
}


class ReportError(ValueError):
    """A report (or the scan it is built from) does not have the documented shape."""

    def __init__(self, problems):
        self.problems = list(problems)
        shown = self.problems[:20]
        more = len(self.problems) - len(shown)
        text = 'invalid scan report: ' + '; '.join(shown)
        if more > 0:
            text += '; and %d more problem(s)' % more
        super(ReportError, self).__init__(text)


def _iso(value):
    """ISO 8601 in UTC with a Z, from an aware datetime or an ISO string."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        value = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith('Z') else text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).replace(microsecond=0).strftime('%Y-%m-%dT%H:%M:%SZ')


def _report_id(content):
    """A stable id: the same scan content gives the same id, so a relay can apply a report once."""
    canonical = json.dumps(content, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:32]


def build_report(scan, agent_info, generated_at=None):
    """Build a version-1 scan report.

    :param scan: the result of ``ipamkit.phpipam.nmap_scan`` (``nmap_version``, ``privileged``,
        ``runs``, ``subnets`` with ``hosts``).
    :param agent_info: the result of ``ipamkit.phpipam.scan_agent_info`` (``agent``, ``subnets``).
    :param generated_at: aware datetime or ISO string; the scan's last finish time when None.
    """
    problems = []
    agent = (agent_info or {}).get('agent') or {}
    if not isinstance(agent.get('id'), int):
        problems.append('agent_info has no agent id (pass the result of ipamkit.phpipam.scan_agent_info)')
    if not isinstance(scan, dict) or not isinstance(scan.get('subnets'), list):
        problems.append('scan has no subnets list (pass the result of ipamkit.phpipam.nmap_scan)')
    if problems:
        raise ReportError(problems)

    runs = []
    for run in scan.get('runs') or []:
        argv = run.get('argv')
        args = ' '.join(argv) if isinstance(argv, list) else (run.get('command_line') or run.get('args') or '')
        runs.append({
            'family': run.get('family'),
            'args': args,
            'started': _iso(run.get('started')),
            'finished': _iso(run.get('finished')),
            'exit': str(run.get('exit') or 'unknown'),
        })

    subnets = []
    for subnet in scan['subnets']:
        if not subnet.get('scanned', True):
            continue
        hosts = []
        for host in subnet.get('hosts') or []:
            if host.get('state', 'up') != 'up':
                continue
            mac = host.get('mac')
            hosts.append({
                'ip': host['ip'],
                'mac': mac.lower() if isinstance(mac, str) and mac else None,
                'vendor': host.get('vendor') or None,
                'hostname': host.get('hostname') or None,
                'reason': host.get('reason') or None,
            })
        subnets.append({
            'id': subnet['id'],
            'cidr': subnet['cidr'],
            'ping': bool(subnet.get('ping')),
            'discover': bool(subnet.get('discover')),
            'completed': bool(subnet.get('completed')),
            'started': _iso(subnet.get('started')),
            'finished': _iso(subnet.get('finished')),
            'hosts': hosts,
        })

    finishes = [r['finished'] for r in runs if r['finished']]
    content = {
        'kind': REPORT_KIND,
        'version': REPORT_VERSION,
        'generated_at': _iso(generated_at) if generated_at else (max(finishes) if finishes else None),
        'agent': {'id': agent['id'], 'name': agent.get('name') or ''},
        'scanner': {
            'tool': 'nmap',
            'version': scan.get('nmap_version'),
            'privileged': bool(scan.get('privileged')),
            'runs': runs,
        },
        'subnets': subnets,
    }
    if content['generated_at'] is None:
        content['generated_at'] = _iso(datetime.datetime.now(datetime.timezone.utc))
    report = dict(content)
    report['report_id'] = _report_id(content)
    problems = validate_report(report)
    if problems:
        raise ReportError(problems)
    return report


# --------------------------------------------------------------------------- validation

_JSON_TYPES = {
    'object': dict, 'array': list, 'string': str, 'boolean': bool, 'null': type(None),
}


def _type_ok(value, names):
    for name in names if isinstance(names, list) else [names]:
        if name == 'integer':
            if isinstance(value, int) and not isinstance(value, bool):
                return True
        elif isinstance(value, _JSON_TYPES[name]):
            return True
    return False


def _check(value, schema, where, problems):
    """Validate ``value`` against the subset of JSON Schema REPORT_SCHEMA uses."""
    if 'const' in schema and value != schema['const']:
        problems.append('%s: must be %r' % (where, schema['const']))
        return
    if 'enum' in schema and value not in schema['enum']:
        problems.append('%s: must be one of %s' % (where, ', '.join(repr(v) for v in schema['enum'])))
        return
    if 'type' in schema and not _type_ok(value, schema['type']):
        problems.append('%s: must be %s' % (where, ' or '.join(schema['type']) if isinstance(schema['type'], list)
                                            else schema['type']))
        return
    if isinstance(value, str):
        if 'maxLength' in schema and len(value) > schema['maxLength']:
            problems.append('%s: longer than %d characters' % (where, schema['maxLength']))
        if 'pattern' in schema and not re.search(schema['pattern'], value):
            problems.append('%s: %r has the wrong format' % (where, value[:80]))
    if isinstance(value, int) and not isinstance(value, bool) and 'minimum' in schema and value < schema['minimum']:
        problems.append('%s: must be at least %d' % (where, schema['minimum']))
    if isinstance(value, dict):
        for key in schema.get('required', []):
            if key not in value:
                problems.append('%s: %s is missing' % (where, key))
        properties = schema.get('properties', {})
        for key, item in value.items():
            if key in properties:
                _check(item, properties[key], '%s.%s' % (where, key), problems)
            elif schema.get('additionalProperties') is False:
                problems.append('%s: unknown key %r' % (where, key))
    if isinstance(value, list):
        if 'maxItems' in schema and len(value) > schema['maxItems']:
            problems.append('%s: more than %d items' % (where, schema['maxItems']))
            return
        for index, item in enumerate(value):
            _check(item, schema.get('items', {}), '%s[%d]' % (where, index), problems)


def validate_report(report):
    """Every problem of ``report`` as a list of strings (empty when it is valid).

    Beyond the schema: CIDRs must be networks, host IPs must be addresses inside their
    subnet, and subnet ids must be unique.
    """
    problems = []
    _check(report, REPORT_SCHEMA, 'report', problems)
    if problems or not isinstance(report, dict):
        return problems
    seen_ids = set()
    for index, subnet in enumerate(report['subnets']):
        where = 'report.subnets[%d]' % index
        if subnet['id'] in seen_ids:
            problems.append('%s: subnet id %d appears twice' % (where, subnet['id']))
        seen_ids.add(subnet['id'])
        try:
            network = ipaddress.ip_network(subnet['cidr'])
        except ValueError:
            problems.append('%s.cidr: %r is not a network in CIDR notation' % (where, subnet['cidr']))
            continue
        for host_index, host in enumerate(subnet['hosts']):
            try:
                address = ipaddress.ip_address(host['ip'])
            except ValueError:
                problems.append('%s.hosts[%d].ip: %r is not an IP address' % (where, host_index, host['ip']))
                continue
            if address not in network:
                problems.append('%s.hosts[%d].ip: %s is outside %s' % (where, host_index, host['ip'], network))
    return problems


def parse_report(report):
    """Validate a report and return it; raise ReportError listing every problem."""
    problems = validate_report(report)
    if problems:
        raise ReportError(problems)
    return report
