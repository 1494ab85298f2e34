# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The client against the real phpIPAM behind a fault-injecting proxy, and with Apache stopped mid-test.

Each fault gives one clean error, and a write that failed leaves nothing half-written:
the tests read phpIPAM back through the API to prove it.
"""

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import (
    PhpipamTransportError,
    PhpipamUnexpectedResponseError,
)

from integration_helpers import connection_env  # pylint: disable=import-error

pytestmark = pytest.mark.integration


def via(proxy, phpipam, **kwargs):
    kwargs.setdefault('backoff', 0)
    return PhpipamClient(proxy.url, 'ansible_rw', token=phpipam.app_code('ansible_rw'), ca_path=phpipam.ca_path,
                         **kwargs)


def direct(phpipam):
    return PhpipamClient(phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'), ca_path=phpipam.ca_path)


def lab_ips(phpipam):
    return sorted(a['ip'] for a in direct(phpipam).get_list('subnets/%d/addresses' % phpipam.subnets['127.0.10.0/24']))


def test_reset_read_is_retried_transparently(phpipam, fault_proxy):
    fault_proxy.inject('reset', count=1)
    agent = via(fault_proxy, phpipam).get('tools/scanagents/%d' % phpipam.agents['demo-agent']['id'])
    assert agent['name'] == 'demo-agent'
    assert fault_proxy.count('GET') == 2 and fault_proxy.count('GET', forwarded=True) == 1


def test_reset_write_is_not_repeated_and_writes_nothing(phpipam, fault_proxy):
    before = lab_ips(phpipam)
    fault_proxy.inject('reset')
    with pytest.raises(PhpipamTransportError) as info:
        via(fault_proxy, phpipam).create('addresses', {'ip': '127.0.10.99', 'subnetId': phpipam.subnets['127.0.10.0/24'],
                                                       'hostname': 'never.lab.test'})
    assert 'may or may not have been applied' in str(info.value)
    assert fault_proxy.count('POST') == 1 and fault_proxy.count_writes(forwarded=True) == 0
    assert lab_ips(phpipam) == before


def test_php_fatal_on_write_is_one_clean_error(phpipam, fault_proxy):
    address_id = phpipam.addresses['127.0.10.5']
    fault_proxy.inject('status', count=1, status=500)
    with pytest.raises(PhpipamUnexpectedResponseError) as info:
        via(fault_proxy, phpipam).update('addresses/%d' % address_id, {'hostname': 'half.lab.test', 'tag': 2})
    message = str(info.value)
    assert '\n' not in message and 'HTTP 500 with an empty body' in message and 'PHP fatal error' in message
    assert fault_proxy.count('PATCH') == 1
    assert direct(phpipam).get('addresses/%d' % address_id)['hostname'] == 'host5.lab.test'


def test_slow_answer_times_out(phpipam, fault_proxy):
    fault_proxy.inject('slow', delay=4)
    with pytest.raises(PhpipamTransportError) as info:
        via(fault_proxy, phpipam, timeout=1, retries=1).get('sections')
    assert 'did not answer GET https://127.0.0.1:%d/api/ansible_rw/sections/ within 1 s' % fault_proxy.port in str(info.value)
    assert fault_proxy.count('GET') == 2


def test_gateway_errors_are_retried_for_reads(phpipam, fault_proxy):
    fault_proxy.inject('bad_gateway', count=2)
    assert {s['name'] for s in via(fault_proxy, phpipam).get('sections')} >= {'Lab'}
    assert fault_proxy.count('GET') == 3


def test_expired_login_token_is_renewed(harness, phpipam):
    client = PhpipamClient(phpipam.https_url, 'user_rw', username=phpipam.admin_user, password=phpipam.admin_password,
                           ca_path=phpipam.ca_path)
    assert client.get('sections')
    harness.sql('UPDATE users SET token_valid_until = NOW() - INTERVAL 1 MINUTE WHERE username = %s',
                phpipam.admin_user)
    assert client.get('sections')
    assert client.request_counts['POST'] == 2 and client.request_counts['GET'] == 3


def test_apache_stopped_mid_run(harness, phpipam):
    client = direct(phpipam)
    client.retries = 1
    assert client.get('sections')
    harness.stop_apache()
    try:
        with pytest.raises(PhpipamTransportError) as info:
            client.get('sections')
        assert 'cannot connect to phpIPAM for GET %s/api/ansible_rw/sections/' % phpipam.https_url in str(info.value)
        assert 'Connection refused' in str(info.value)
    finally:
        harness.start_apache()
    assert client.get('sections')


def test_html_answer_through_a_playbook(phpipam, connection, fault_proxy, run_playbook):
    fault_proxy.inject('html')
    run = run_playbook('scan_agent_info.yml', env=connection_env(dict(connection, url=fault_proxy.url)),
                       extra_vars={'agent_name': 'demo-agent'})
    assert run.returncode != 0 and run.status('Fetch the agent') == 'failed'
    message = run.result('Fetch the agent')['msg']
    assert message == (
        "GET /api/ansible_rw/tools/scanagents/ answered HTTP 200 with text/html instead of phpIPAM's JSON. The URL "
        "answers with an HTML page (text/html), not with phpIPAM's JSON API: check that url is phpIPAM's base URL "
        "(without /api), that the API is reachable there and that no proxy or login page is in the way")
