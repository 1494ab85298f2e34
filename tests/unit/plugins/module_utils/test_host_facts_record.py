# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/host_facts_record: the custom field check, the record plan and the anomaly report.

Custom field definitions have the shape phpIPAM 1.8.2 answers GET addresses/custom_fields/ with
(../shared/phpipam-api transcripts/reservation.json); the record step is also run against recorded answers
(tests/unit/phpipam_replay.py).
"""

import pytest

from phpipam_replay import fake_secret, find_exchange  # pylint: disable=import-error

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts import HostFactsError, summary_text
from ansible_collections.ipamkit.phpipam.plugins.module_utils.host_facts_record import (
    check_summaries,
    field_capacity,
    plan_records,
    record_host_facts,
    report_lines,
)

TEXT_FIELD = {'custom_host_facts': {'name': 'custom_host_facts', 'type': 'text', 'Comment': 'Host facts summary',
                                    'Null': 'YES', 'Default': None},
              'custom_asset': {'name': 'custom_asset', 'type': 'varchar(64)', 'Comment': 'asset tag', 'Null': 'YES',
                               'Default': None}}


def summary(name, ip, **extra):
    data = dict(name=name, fqdn=None, os=None, kernel=None, virtualization=None, ip=ip, mac='02:00:5e:00:00:01',
                interface='eth0', addresses=[ip] if ip else [], memory=dict(total_mb=2048, used_mb=512, used_percent=25),
                cpu=dict(cores=2, used_percent=3), disks=[], mounts=[], listening=[])
    data.update(extra)
    return data


def record(record_id, ip, subnet_id=7, facts=None):
    return {'id': record_id, 'ip': ip, 'subnetId': subnet_id, 'tag': 3, 'custom_host_facts': facts}


def test_field_capacity():
    assert field_capacity('custom_host_facts', TEXT_FIELD) == 60000
    assert field_capacity('custom_asset', TEXT_FIELD) == 64
    with pytest.raises(HostFactsError) as missing:
        field_capacity('custom_facts', TEXT_FIELD)
    assert str(missing.value) == (
        'custom field custom_facts does not exist on phpIPAM addresses: create it in phpIPAM under Administration > '
        'Custom fields > IP address, as a field named facts of type text (phpIPAM adds the custom_ prefix), or name '
        'an existing one with facts_field (address custom fields: custom_asset, custom_host_facts)')
    with pytest.raises(HostFactsError, match=r'^custom field host_facts does not exist on phpIPAM addresses \(did you '
                                             r'mean custom_host_facts\?\)'):
        field_capacity('host_facts', TEXT_FIELD)
    with pytest.raises(HostFactsError, match=r'\(address custom fields: none\)'):
        field_capacity('custom_host_facts', {})
    with pytest.raises(HostFactsError, match='is of type date: host facts need a text field'):
        field_capacity('custom_seen', {'custom_seen': {'type': 'date'}})


def test_plan_statuses():
    web, db = summary('web1', '198.18.5.2'), summary('db1', '198.18.5.3')
    records = [record(11, '198.18.5.2', facts=summary_text(web)), record(12, '198.18.5.3', facts='old'),
               record(13, '198.18.5.4'), record(14, '198.18.5.4', subnet_id=8), record(15, '198.18.5.6')]
    hosts = [web, db, summary('dup', '198.18.5.4'), summary('gone', '198.18.5.5'), summary('noip', None),
             summary('a', '198.18.5.6'), summary('b', '198.18.5.6'), summary('byid', '198.18.9.9', address_id=13)]
    plan = plan_records(hosts, records, 'custom_host_facts')
    assert [(p['name'], p['status'], p['address_id']) for p in plan] == [
        ('a', 'shared', None), ('b', 'shared', None), ('byid', 'update', 13), ('db1', 'update', 12),
        ('dup', 'ambiguous', None), ('gone', 'not_found', None), ('noip', 'no_ip', None), ('web1', 'unchanged', 11)]
    messages = dict((p['name'], p['message']) for p in plan)
    assert messages['dup'] == 'dup: IP 198.18.5.4 is in 2 phpIPAM addresses (ids 13, 14): set section or the address id'
    assert messages['gone'] == 'gone: no phpIPAM address 198.18.5.5'
    assert messages['a'] == 'a shares IP 198.18.5.6 with another host: neither is recorded'
    db_item = [p for p in plan if p['name'] == 'db1'][0]
    assert (db_item['before'], db_item['after']) == ('old', summary_text(db))
    # Within the section's subnets the IP is no longer ambiguous.
    in_section = plan_records([summary('dup', '198.18.5.4')], records, 'custom_host_facts', section_subnet_ids={8})
    assert (in_section[0]['status'], in_section[0]['address_id']) == ('update', 14)
    # IPv6 in another spelling, and a varchar field cuts the text.
    v6 = plan_records([summary('v6', 'fd00:5:0::2')], [record(20, 'fd00:5::2')], 'custom_host_facts', capacity=120)
    assert v6[0]['status'] == 'update' and v6[0]['after'].endswith('lines left out') and len(v6[0]['after']) <= 120


def test_check_summaries():
    check_summaries([summary('a', '198.18.5.2')])
    with pytest.raises(HostFactsError, match='hosts item 2 is not a summary of ipamkit.phpipam.host_facts'):
        check_summaries([summary('a', '198.18.5.2'), {'name': 'b'}])
    with pytest.raises(HostFactsError, match='host a is in hosts twice'):
        check_summaries([summary('a', '198.18.5.2'), summary('a', '198.18.5.3')])


def test_report_table():
    disk = dict(check='disk', subject='/', value=95, limit=90, message='disk / is 95% used (limit 90%)')
    port = dict(check='service', subject='tcp/443', value=None, limit=None, message='tcp/443 is not listening')
    hosts = [summary('web1', '198.18.5.2', anomalies=[disk, port]), summary('db1', '198.18.5.3', anomalies=[])]
    plan = [dict(name='web1', status='update'), dict(name='db1', status='not_found')]
    assert report_lines(hosts, plan, unreachable=['mail1']) == [
        'host   ip          phpipam         check        finding',
        'db1    198.18.5.3  not in phpIPAM  ok           -',
        'web1   198.18.5.2  recorded        disk         disk / is 95% used (limit 90%)',
        'web1   198.18.5.2  recorded        service      tcp/443 is not listening',
        'mail1  -           -               unreachable  no facts: the host failed or was unreachable',
    ]
    assert report_lines(hosts, plan, check_mode=True)[2].split()[2:4] == ['would', 'record']


def test_record_against_recorded_answers(replay):
    """record_host_facts against phpIPAM 1.8.2's recorded answers: a varchar field (the text is cut to fit,
    with a warning), the address found by IP search, and a write refused by the server (status error)."""
    replay.queue(('reservation', 'custom fields on addresses'), ('scan_agent_cycle', 'search by ip'))
    host = summary('renamed77', '127.0.10.77')
    text = summary_text(host, 64)
    refused = find_exchange('errors', 'hostname too long (varchar 255)')
    refused['request'].update(method='PATCH', path='/api/scanner/addresses/115/', body={'custom_asset': text, 'tag': 2})
    replay.queue(refused)
    api = PhpipamClient(replay.url, 'scanner', token=fake_secret('APP_CODE'), backoff=0, retries=0, max_workers=1)
    plan, warnings = record_host_facts(api, [host], facts_field='custom_asset')
    assert [(p['name'], p['status'], p['address_id']) for p in plan] == [('renamed77', 'error', 115)]
    assert plan[0]['message'].startswith('renamed77: writing address 115 failed: ')
    assert 'Data too long' in plan[0]['message']
    assert warnings == ['renamed77: custom_asset holds 64 bytes, so the summary lost its last lines; make it a text '
                        'field']
    assert report_lines([host], plan)[1].split()[:4] == ['renamed77', '127.0.10.77', 'write', 'failed']
    assert len(replay.received) == 3 and not replay.expected


def test_record_check_mode_writes_nothing(replay):
    replay.queue(('reservation', 'custom fields on addresses'), ('scan_agent_cycle', 'search by ip'))
    api = PhpipamClient(replay.url, 'scanner', token=fake_secret('APP_CODE'), backoff=0, max_workers=1)
    plan, _warnings = record_host_facts(api, [summary('renamed77', '127.0.10.77')], facts_field='custom_asset',
                                        check_mode=True)
    assert plan[0]['status'] == 'update' and len(replay.received) == 2
