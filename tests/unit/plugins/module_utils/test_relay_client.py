# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Posting a scan report to a relay, against a loopback HTTP(S) server."""

import json

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_client import RelayError, fetch_subnets, post_report

TOKEN = 'relay-token-secret-9f2'
REPORT = {'kind': 'ipamkit.phpipam.scan_report', 'version': 1, 'report_id': 'a' * 32, 'subnets': []}


def test_report_is_posted_with_the_bearer_token(replay):
    replay.fail_with('raw', status=202, content_type='application/json', body='{"accepted": true, "report_id": "aaa"}')
    status, answer = post_report(replay.url + '/reports', TOKEN, REPORT, backoff=0)
    assert (status, answer) == (202, {'accepted': True, 'report_id': 'aaa'})
    sent = replay.received[0]
    assert sent['method'] == 'POST' and sent['path'] == '/reports'
    assert sent['headers']['authorization'] == 'Bearer ' + TOKEN
    assert sent['headers']['content-type'] == 'application/json'
    assert json.loads(sent['body']) == REPORT


def test_transient_failures_are_retried(replay):
    replay.fail_with('reset').fail_with('raw', status=503, body='busy')
    replay.fail_with('raw', status=202, content_type='application/json', body='{}')
    assert post_report(replay.url, TOKEN, REPORT, backoff=0)[0] == 202
    assert len(replay.received) == 3


@pytest.mark.parametrize('status, body, reason', [
    (401, '{"reason": "unknown token"}', 'HTTP 401 unknown token'),
    (403, '{"reason": "agent 3 may not report subnet 7"}', 'HTTP 403 agent 3 may not report subnet 7'),
    (422, '{"reason": "report.subnets[0].cidr: wrong format"}', 'HTTP 422 report.subnets[0].cidr: wrong format'),
    (413, 'too large', 'HTTP 413 too large'),
])
def test_refusals_are_final_and_explained(replay, status, body, reason):
    replay.fail_with('raw', status=status, content_type='application/json', body=body)
    with pytest.raises(RelayError) as info:
        post_report(replay.url, TOKEN, REPORT, backoff=0)
    assert reason in str(info.value) and TOKEN not in str(info.value)
    assert len(replay.received) == 1


def test_gives_up_after_the_retries(closed_port):
    with pytest.raises(RelayError) as info:
        post_report('http://127.0.0.1:%d/' % closed_port, TOKEN, REPORT, retries=2, backoff=0)
    assert 'cannot deliver the report to the relay' in str(info.value) and 'after 3 attempts' in str(info.value)


@pytest.mark.parametrize('url, words', [
    ('http://relay.example.com:5000/', ['refusing to send the relay token over plain http:// to relay.example.com']),
    ('relay.example.com', ['is not an http(s) URL']),
    ('https://user:pw@relay.example.com/', ['must not contain credentials']),
])
def test_unsafe_urls_are_refused_before_sending(url, words):
    with pytest.raises(RelayError) as info:
        post_report(url, TOKEN, REPORT)
    for word in words:
        assert word in str(info.value)


def test_tls_with_the_relay_ca(tls_replay, test_ca):
    tls_replay.fail_with('raw', status=202, content_type='application/json', body='{}')
    assert post_report(tls_replay.url, TOKEN, REPORT, ca_path=test_ca['ca'], backoff=0)[0] == 202


def test_tls_without_the_ca_names_relay_ca_path(tls_replay):
    with pytest.raises(RelayError) as info:
        post_report(tls_replay.url, TOKEN, REPORT, backoff=0)
    assert 'relay_ca_path' in str(info.value)


INVENTORY = {'agent': {'id': 4, 'name': 'site-a'}, 'app_permissions': None, 'subnets': [
    {'id': 7, 'cidr': '198.18.10.0/24', 'pingSubnet': True, 'discoverSubnet': True,
     'lastScan': '2026-11-25T12:00:00+00:00', 'lastDiscovery': None, 'addresses': [{'ip': '198.18.10.11'}]}]}


def test_subnet_list_comes_from_beside_the_reports_path(replay):
    replay.fail_with('raw', status=200, content_type='application/json', body=json.dumps(INVENTORY))
    answer = fetch_subnets(replay.url + '/relay/reports', TOKEN, backoff=0)
    sent = replay.received[0]
    assert sent['method'] == 'GET' and sent['path'] == '/relay/subnets'
    assert sent['headers']['authorization'] == 'Bearer ' + TOKEN
    subnet = answer['subnets'][0]
    assert subnet['lastScan'].isoformat() == '2026-11-25T12:00:00+00:00' and subnet['lastDiscovery'] is None
    assert subnet['addresses'] == [{'ip': '198.18.10.11'}] and answer['agent']['id'] == 4


@pytest.mark.parametrize('body, problem', [
    ('[]', 'not a JSON object'),
    ('{"subnets": []}', 'no agent with an id'),
    ('{"agent": {"id": 4}, "subnets": [{"cidr": "198.18.10.0/24"}]}', 'subnets[0] has no id and cidr'),
])
def test_an_answer_that_is_no_subnet_list_is_refused(replay, body, problem):
    replay.fail_with('raw', status=200, content_type='application/json', body=body)
    with pytest.raises(RelayError) as info:
        fetch_subnets(replay.url + '/reports', TOKEN, backoff=0)
    assert 'did not answer a subnet list: ' + problem in str(info.value)


def test_subnet_list_refusal_is_explained(replay):
    replay.fail_with('raw', status=403, content_type='application/json', body='{"reason": "unknown agent"}')
    with pytest.raises(RelayError) as info:
        fetch_subnets(replay.url + '/reports', TOKEN, backoff=0)
    assert 'refused the subnet list: HTTP 403 unknown agent' in str(info.value) and TOKEN not in str(info.value)
