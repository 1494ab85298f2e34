# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Posting a scan report to a relay, against a loopback HTTP(S) server."""

import json

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_client import RelayError, post_report

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
