# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan report: built from a scan, checked against the shipped JSON Schema."""

import copy
import json
import os

import jsonschema
import pytest

from ansible_collections.ipamkit.phpipam.plugins.filter.scan_report import scan_report
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import (
    REPORT_SCHEMA,
    ReportError,
    build_report,
    parse_report,
    validate_report,
)

from ansible.errors import AnsibleFilterError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))

AGENT_INFO = {'agent': {'id': 2, 'name': 'demo-agent', 'type': 'api'}, 'subnets': []}
SCAN = {
    'nmap_version': '7.93',
    'privileged': True,
    'runs': [{'family': 4, 'argv': ['nmap', '-sn', '-T4', '-oX', '-', '-iL', '/tmp/t'],
              'started': '2026-11-25T20:00:00Z', 'finished': '2026-11-25T20:00:07+00:00', 'exit': 'success'}],
    'subnets': [
        {'id': 7, 'cidr': '198.18.10.0/24', 'scanned': True, 'completed': True, 'ping': True, 'discover': True,
         'started': '2026-11-25T20:00:00Z', 'finished': '2026-11-25T20:00:07Z',
         'hosts': [{'ip': '198.18.10.5', 'state': 'up', 'reason': 'arp-response', 'mac': '02:AA:00:00:00:05',
                    'vendor': None, 'hostname': 'h5.lan.test'}]},
        {'id': 8, 'cidr': '198.18.20.0/28', 'scanned': False, 'completed': False, 'ping': False, 'discover': False,
         'hosts': []},
        {'id': 9, 'cidr': 'fd00:18:10::/64', 'scanned': True, 'completed': False, 'ping': True, 'discover': False,
         'started': '2026-11-25T20:00:00Z', 'finished': None, 'hosts': []},
    ],
}


def test_report_from_scan():
    report = build_report(SCAN, AGENT_INFO)
    assert report['kind'] == 'ipamkit.phpipam.scan_report' and report['version'] == 1
    assert report['agent'] == {'id': 2, 'name': 'demo-agent'}
    assert report['generated_at'] == '2026-11-25T20:00:07Z'
    assert report['scanner']['runs'][0]['args'] == 'nmap -sn -T4 -oX - -iL /tmp/t'
    assert [s['id'] for s in report['subnets']] == [7, 9]
    assert report['subnets'][0]['hosts'] == [{'ip': '198.18.10.5', 'mac': '02:aa:00:00:00:05', 'vendor': None,
                                             'hostname': 'h5.lan.test', 'reason': 'arp-response'}]
    assert report['subnets'][1]['completed'] is False and report['subnets'][1]['finished'] is None
    jsonschema.validate(report, REPORT_SCHEMA)


def test_report_id_depends_on_content_only():
    first = build_report(SCAN, AGENT_INFO)
    assert build_report(copy.deepcopy(SCAN), AGENT_INFO)['report_id'] == first['report_id']
    changed = copy.deepcopy(SCAN)
    changed['subnets'][0]['hosts'][0]['hostname'] = 'other.lan.test'
    assert build_report(changed, AGENT_INFO)['report_id'] != first['report_id']


def test_shipped_schema_file_is_the_schema():
    with open(os.path.join(ROOT, 'docs', 'scan-report.schema.json'), encoding='utf-8') as handle:
        assert json.load(handle) == REPORT_SCHEMA
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)


def _mutations():
    good = build_report(SCAN, AGENT_INFO)
    cases = []

    def case(name, change):
        report = copy.deepcopy(good)
        change(report)
        cases.append(pytest.param(report, id=name))

    case('valid', lambda r: None)
    case('wrong kind', lambda r: r.update(kind='other'))
    case('future version', lambda r: r.update(version=2))
    case('agent id string', lambda r: r['agent'].update(id='2'))
    case('agent id zero', lambda r: r['agent'].update(id=0))
    case('unknown top key', lambda r: r.update(extra=1))
    case('no subnets', lambda r: r.pop('subnets'))
    case('bad time', lambda r: r.update(generated_at='2026-11-25 20:00:00'))
    case('host unknown key', lambda r: r['subnets'][0]['hosts'][0].update(port=22))
    case('mac upper case', lambda r: r['subnets'][0]['hosts'][0].update(mac='02:AA:00:00:00:05'))
    case('completed as string', lambda r: r['subnets'][0].update(completed='yes'))
    case('ping as int', lambda r: r['subnets'][0].update(ping=1))
    case('bad report id', lambda r: r.update(report_id='xyz'))
    case('hostname null', lambda r: r['subnets'][0]['hosts'][0].update(hostname=None))
    case('run family 5', lambda r: r['scanner']['runs'][0].update(family=5))
    return cases


@pytest.mark.parametrize('report', _mutations())
def test_own_validator_agrees_with_jsonschema(report):
    schema_ok = jsonschema.Draft202012Validator(REPORT_SCHEMA).is_valid(report)
    assert (validate_report(report) == []) is schema_ok


@pytest.mark.parametrize('change, problem', [
    (lambda r: r['subnets'][0].update(cidr='198.18.10.5/24'), "'198.18.10.5/24' is not a network"),
    (lambda r: r['subnets'][0]['hosts'][0].update(ip='198.18.99.5'), '198.18.99.5 is outside 198.18.10.0/24'),
    (lambda r: r['subnets'][0]['hosts'][0].update(ip='nonsense'), "'nonsense' is not an IP address"),
    (lambda r: r['subnets'][1].update(id=7), 'subnet id 7 appears twice'),
])
def test_semantic_checks_beyond_the_schema(change, problem):
    report = build_report(SCAN, AGENT_INFO)
    change(report)
    with pytest.raises(ReportError) as info:
        parse_report(report)
    assert problem in str(info.value)


def test_all_problems_are_listed():
    report = build_report(SCAN, AGENT_INFO)
    report['agent']['id'] = 'x'
    report['subnets'][0]['completed'] = 'no'
    report['subnets'][0]['hosts'][0]['bogus'] = 1
    problems = validate_report(report)
    assert problems == ['report.agent.id: must be integer', 'report.subnets[0].completed: must be boolean',
                        "report.subnets[0].hosts[0]: unknown key 'bogus'"]


def test_filter_names_what_is_missing():
    with pytest.raises(AnsibleFilterError) as info:
        scan_report({'nmap_version': '7.93'}, {'agent': {}})
    message = str(info.value)
    assert 'agent_info has no agent id' in message and 'scan has no subnets list' in message
