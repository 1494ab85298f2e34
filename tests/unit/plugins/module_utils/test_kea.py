# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kea Control Agent client against a loopback server answering with recorded Kea 2.2 exchanges."""

import base64
import copy
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.kea import (
    KeaClient,
    KeaConfigError,
    KeaError,
    server_url_problem,
)

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'kea-2.2', 'control_agent.json')
PASSWORD = 'kea-unit-password-5c1e'


def exchanges():
    with open(FIXTURE, encoding='utf-8') as handle:
        return json.load(handle)['exchanges']


def exchange(comment):
    return copy.deepcopy([e for e in exchanges() if e.get('comment') == comment][0])


class FakeAgent(object):
    """Answers each POST with the next queued recorded response and keeps the requests it got."""

    def __init__(self):
        self.queue = []
        self.requests = []
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                auth = self.headers.get('Authorization') or ''
                agent.requests.append({'body': body, 'auth': auth})
                if auth != 'Basic ' + base64.b64encode(('kea:' + PASSWORD).encode()).decode():
                    status, answer = 401, {'result': 401, 'text': 'Unauthorized'}
                else:
                    response = agent.queue.pop(0)['response']
                    status, answer = response['status'], response['body']
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def agent():
    server = FakeAgent()
    yield server
    server.close()


def test_config_get_returns_dhcp4_and_counts_commands(agent):
    agent.queue.append(exchange('a managed subnet 7 (created by kea_sync) and an unmanaged subnet 900'))
    client = KeaClient(agent.url, 'kea', PASSWORD)
    config = client.config_get()
    assert [s['id'] for s in config['subnet4']] == [7, 900]  # Kea lists subnets by id
    assert agent.requests[0]['body'] == {'command': 'config-get', 'service': ['dhcp4']}
    assert client.commands == {'config-get': 1}


def test_wrong_password_is_a_clear_error_without_the_password(agent):
    client = KeaClient(agent.url, 'kea', 'not-the-password-9d')
    with pytest.raises(KeaError) as info:
        client.config_get()
    assert 'HTTP 401 Unauthorized' in str(info.value) and agent.url in str(info.value)
    assert 'not-the-password-9d' not in str(info.value)


@pytest.mark.parametrize('comment, wanted', [
    ('a pool outside its subnet', 'does not match the prefix of a subnet: 198.19.1.0/24'),
    ('duplicate subnet id', "ID of the new IPv4 subnet '1' is already in use"),
    ('duplicate hw-address in a subnet', "HW address '02:00:00:00:00:01'"),
])
def test_config_test_refusal_quotes_kea(agent, comment, wanted):
    recorded = exchange(comment)
    agent.queue.append(recorded)
    client = KeaClient(agent.url, 'kea', PASSWORD)
    with pytest.raises(KeaConfigError) as info:
        client.config_test(recorded['request']['arguments']['Dhcp4'])
    assert wanted in str(info.value) and 'config-test' in str(info.value)
    assert info.value.result == 1 and wanted in info.value.text
    assert agent.requests[0]['body'] == recorded['request']


def test_config_test_success_returns_kea_text(agent):
    agent.queue.append(exchange('the running configuration'))
    assert 'Configuration seems sane' in KeaClient(agent.url, 'kea', PASSWORD).config_test({'subnet4': []})


def test_no_leases_is_an_empty_list(agent):
    agent.queue.append(exchange('no leases'))
    client = KeaClient(agent.url, 'kea', PASSWORD)
    assert client.lease4_get_all([7, 3]) == []
    assert agent.requests[0]['body']['arguments'] == {'subnets': [3, 7]}


def test_unsupported_lease_command_names_the_hook(agent):
    agent.queue.append({'response': {'status': 200, 'body': [{'result': 2, 'text': "'lease4-get-all' command not supported."}]}})
    with pytest.raises(KeaError) as info:
        KeaClient(agent.url, 'kea', PASSWORD).lease4_get_all()
    assert 'libdhcp_lease_cmds.so' in str(info.value)


def test_agent_without_the_service_socket(agent):
    agent.queue.append(exchange('a service the agent has no socket for'))
    with pytest.raises(KeaError) as info:
        KeaClient(agent.url, 'kea', PASSWORD).config_get()
    assert 'forwarding socket is not configured' in str(info.value)


def test_unreachable_agent(closed_port):
    client = KeaClient('http://127.0.0.1:%d/' % closed_port, 'kea', PASSWORD, timeout=3)
    with pytest.raises(KeaError) as info:
        client.config_get()
    text = str(info.value)
    assert text.startswith('cannot reach Kea Control Agent http://127.0.0.1:%d/ for config-get' % closed_port)
    assert 'Connection refused' in text and PASSWORD not in text


def test_tls_with_an_unknown_ca_fails_verification(tls_replay):
    client = KeaClient(tls_replay.url, 'kea', PASSWORD, timeout=5)
    with pytest.raises(KeaError) as info:
        client.config_get()
    assert 'TLS verification' in str(info.value) and 'ca_path' in str(info.value)


@pytest.mark.parametrize('url, allow, problem', [
    ('https://kea.example.com:8000/', False, None),
    ('http://127.0.0.1:8000/', False, None),
    ('http://kea.example.com:8000/', False, 'refusing to send the Kea credentials over plain http://'),
    ('http://kea.example.com:8000/', True, None),
    ('kea.example.com', False, 'is not an http(s) URL'),
    ('https://kea:pw@kea.example.com/', False, 'must not contain credentials'),
])
def test_server_url_rules(url, allow, problem):
    found = server_url_problem(url, allow)
    assert (found is None) if problem is None else (problem in found)


def test_half_credentials_are_refused():
    with pytest.raises(KeaError, match='both username and password'):
        KeaClient('http://127.0.0.1:1/', username='kea')


def test_tls_with_the_right_ca_gets_through(tls_replay, test_ca):
    # The replay server is no Kea: getting its non-Kea answer proves TLS verification with ca_path passed.
    client = KeaClient(tls_replay.url, 'kea', PASSWORD, ca_path=test_ca['ca'], timeout=5)
    with pytest.raises(KeaError) as info:
        client.config_get()
    assert 'instead of a Kea answer' in str(info.value) and 'TLS' not in str(info.value)
