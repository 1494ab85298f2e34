# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay's checks: who sent a report, and whether phpIPAM lets it write what it claims."""

import datetime

from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_apply import (
    check_agent,
    check_clock,
    check_subnets,
    report_time,
)

UTC = datetime.timezone.utc
MADE = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def report(hosts=('198.18.10.11',), cidr='198.18.10.0/24', subnet_id=7, ping=True, discover=False):
    return {'report_id': 'a' * 32, 'generated_at': '2026-11-25T12:00:00Z', 'agent': {'id': 2, 'name': 'site-a'},
            'subnets': [{'id': subnet_id, 'cidr': cidr, 'ping': ping, 'discover': discover, 'completed': True,
                         'started': None, 'finished': None, 'hosts': [{'ip': ip} for ip in hosts]}]}


def subnet(subnet_id=7, agent=2, network='198.18.10.0', mask=24, **fields):
    record = {'id': subnet_id, 'subnet': network, 'mask': mask, 'scanAgent': agent, 'isFolder': False}
    record.update(fields)
    return {subnet_id: record}


def test_report_time_is_the_agents_time_moved_by_the_offset():
    assert report_time(report()) == MADE
    assert report_time(report(), time_offset=-30) == MADE - datetime.timedelta(seconds=30)


def test_agent_checks():
    assert check_agent(report(), {'id': 2, 'name': 'site-a'}, 'code-a') == []
    assert check_agent(report(), {'id': 2, 'name': 'site-a'}, None) == []
    other = check_agent(report(), {'id': 5, 'name': 'site-b'}, 'code-b')
    assert other == ["the token belongs to agent 'site-b' (id 5), but the report is from agent 'site-a' (id 2)"]
    missing = check_agent(report(), None, 'secret-code-x')
    assert 'not a scan agent in phpIPAM' in missing[0] and 'secret-code-x' not in missing[0]
    assert check_agent(report(), None, None) == [
        'the report is from agent id 2 (site-a), which is not a scan agent in phpIPAM']


def test_subnet_checks_pass_for_an_owned_subnet():
    assert check_subnets(report(), 2, subnet(lastScan=MADE - datetime.timedelta(minutes=5)), MADE) == []


def test_subnet_not_in_phpipam_or_not_owned():
    assert check_subnets(report(), 2, {}, MADE) == ['subnet 7 (198.18.10.0/24): phpIPAM has no such subnet']
    assert check_subnets(report(), 2, subnet(agent=3), MADE) == [
        'subnet 7 (198.18.10.0/24): assigned to scan agent 3 in phpIPAM, not to this agent (id 2)']
    assert check_subnets(report(), 2, subnet(agent=None), MADE) == [
        'subnet 7 (198.18.10.0/24): assigned to no scan agent in phpIPAM, not to this agent (id 2)']


def test_subnet_with_another_cidr_in_phpipam():
    # The report claims subnet 7 is a /16: its hosts would fit the claim but not phpIPAM's /24.
    problems = check_subnets(report(hosts=('198.18.99.1',), cidr='198.18.0.0/16'), 2, subnet(), MADE)
    assert problems == ['subnet 7 (198.18.0.0/16): phpIPAM has this subnet as 198.18.10.0/24']


def test_host_outside_its_subnet():
    problems = check_subnets(report(hosts=('198.18.10.11', '198.18.11.1')), 2, subnet(), MADE)
    assert problems == ['subnet 7 (198.18.10.0/24): 1 host(s) outside the subnet, first 198.18.11.1']


def test_replayed_report_is_older_than_the_last_scan():
    newer = subnet(lastScan=MADE + datetime.timedelta(minutes=10))
    problems = check_subnets(report(), 2, newer, MADE)
    assert len(problems) == 1 and 'an old report (replayed or overtaken by a newer scan)' in problems[0]
    assert "before phpIPAM's lastScan 2026-11-25T12:10:00Z" in problems[0]
    # The same second (phpIPAM keeps whole seconds) is not older; lastDiscovery counts for discover subnets.
    assert check_subnets(report(), 2, subnet(lastScan=MADE + datetime.timedelta(seconds=1)), MADE) == []
    discovered = subnet(lastDiscovery=MADE + datetime.timedelta(hours=1))
    assert check_subnets(report(ping=False, discover=True), 2, discovered, MADE)
    assert check_subnets(report(ping=True, discover=False), 2, discovered, MADE) == []


def test_clock_ahead():
    assert check_clock(report(), MADE, MADE - datetime.timedelta(minutes=9)) == []
    problems = check_clock(report(), MADE, MADE - datetime.timedelta(minutes=30))
    assert problems and '30 minutes ahead of the relay\'s clock' in problems[0]
