# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scan_agent_info through real ansible-playbook runs against the real phpIPAM 1.8.2 of the harness."""

import os

import pytest
import requests

from integration_helpers import connection_env  # pylint: disable=import-error

pytestmark = pytest.mark.integration

AGENT_SUBNETS = ['127.0.10.0/24', '127.0.20.0/28', '127.40.1.0/24']


@pytest.mark.smoke
def test_agent_by_code_with_addresses(phpipam, connection, run_playbook):
    run = run_playbook('scan_agent_info.yml', env=connection_env(connection),
                       extra_vars={'agent_code': phpipam.agents['demo-agent']['code'], 'addresses': True,
                                   'require_write': True})
    assert run.returncode == 0, run.output
    info = run.result('Fetch the agent')
    assert info['changed'] is False
    assert info['agent']['name'] == 'demo-agent' and info['agent']['type'] == 'api'
    assert 'code' not in info['agent']
    assert info['app_permissions'] == 'Write'
    assert [s['cidr'] for s in info['subnets']] == AGENT_SUBNETS
    lab = info['subnets'][0]
    assert (lab['pingSubnet'], lab['discoverSubnet'], lab['resolveDNS']) == (True, True, True)
    assert lab['dns_servers'] == ['127.0.0.1', '::1']
    by_ip = dict((a['ip'], a) for a in lab['addresses'])
    assert sorted(by_ip) == sorted(['127.0.10.1', '127.0.10.5', '127.0.10.10', '127.0.10.20', '127.0.10.30',
                                    '127.0.10.40'])
    assert by_ip['127.0.10.1']['is_gateway'] is True and by_ip['127.0.10.1']['mac'] == '02:00:00:00:10:01'
    assert by_ip['127.0.10.10']['excludePing'] is True
    assert (by_ip['127.0.10.20']['tag'], by_ip['127.0.10.30']['tag'], by_ip['127.0.10.40']['tag']) == (3, 1, 4)
    assert by_ip['127.0.10.5']['lastSeen'] == '2025-01-01T00:00:00+00:00'
    assert by_ip['127.0.10.20']['lastSeen'] is None
    ping_only = info['subnets'][1]
    assert (ping_only['pingSubnet'], ping_only['discoverSubnet']) == (True, False)
    assert [a['ip'] for a in info['subnets'][2]['addresses']] == ['127.40.1.7']
    assert not run.warnings(), run.warnings()


def test_check_mode_gives_the_same_answer(phpipam, connection, run_playbook):
    extra = {'agent_code': phpipam.agents['demo-agent']['code'], 'addresses': True}
    normal = run_playbook('scan_agent_info.yml', env=connection_env(connection), extra_vars=extra)
    checked = run_playbook('scan_agent_info.yml', env=connection_env(connection), extra_vars=extra, check=True)
    assert normal.returncode == checked.returncode == 0, checked.output
    keep = ('agent', 'subnets', 'changed')
    assert dict((k, checked.result('Fetch the agent')[k]) for k in keep) == \
        dict((k, normal.result('Fetch the agent')[k]) for k in keep)


def test_module_defaults_group_and_user_login(phpipam, run_playbook):
    run = run_playbook('scan_agent_info_defaults.yml', extra_vars={
        'phpipam_url': phpipam.https_url, 'phpipam_app_id': 'user_rw', 'phpipam_username': phpipam.admin_user,
        'phpipam_password': phpipam.admin_password, 'phpipam_ca_path': phpipam.ca_path,
        'idle_agent_id': phpipam.agents['idle-agent']['id']})
    assert run.returncode == 0, run.output
    assert [s['cidr'] for s in run.result('Fetch the agent by name')['subnets']] == AGENT_SUBNETS
    idle = run.result('Fetch the idle agent by id')
    assert idle['agent']['name'] == 'idle-agent' and idle['subnets'] == []
    assert phpipam.admin_password not in run.output


def test_user_token_given_directly(phpipam, run_playbook):
    login = requests.post(phpipam.api_url('user_ro') + 'user/', auth=(phpipam.admin_user, phpipam.admin_password),
                          verify=phpipam.ca_path, timeout=30)
    token = login.json()['data']['token']
    run = run_playbook('scan_agent_info.yml', env=connection_env({
        'url': phpipam.https_url, 'app_id': 'user_ro', 'token': token, 'ca_path': phpipam.ca_path}),
        extra_vars={'agent_name': 'demo-agent'})
    assert run.returncode == 0, run.output
    assert len(run.result('Fetch the agent')['subnets']) == 3


def _failure(run, task='Fetch the agent'):
    assert run.returncode != 0
    result = run.result(task)
    assert run.status(task) == 'failed'
    message = result['msg']
    assert '\n' not in message
    return result


@pytest.mark.parametrize('change, words', [
    ({'token': 'not-the-right-app-code-0123456789'},
     ["phpIPAM refused GET /api/ansible_rw/tools/scanagents/: HTTP 401 Unauthorized",
      "The token was refused by API app 'ansible_rw'", 'PHPIPAM_TOKEN']),
    ({'app_id': 'nosuchapp'}, ['HTTP 400 Invalid application id', "There is no API app 'nosuchapp'"]),
    ({'app_id': 'disabled'}, ["API app 'disabled' is disabled"]),
    ({'url': 'http://phpipam.invalid'}, ['refusing to send credentials over plain http:// to phpipam.invalid',
                                         'allow_insecure_http']),
    ({'url': '{https_url}/not-phpipam'}, ['answered HTTP 302', "phpIPAM's web login page",
                                          "url must be phpIPAM's base URL"]),
    ({'ca_path': None}, ['TLS verification failed', 'certificate verify failed', 'PHPIPAM_CA_PATH']),
])
def test_connection_problems_give_one_line_that_says_what_to_fix(phpipam, connection, run_playbook, change, words):
    settings = dict(connection, **change)
    settings['url'] = settings['url'].replace('{https_url}', phpipam.https_url)
    run = run_playbook('scan_agent_info.yml', env=connection_env(settings),
                       extra_vars={'agent_code': phpipam.agents['demo-agent']['code']}, verbosity=3)
    message = _failure(run)['msg']
    for word in words:
        assert word in message
    for secret in (connection['token'], settings['token'], phpipam.agents['demo-agent']['code']):
        assert secret not in run.output


def test_unknown_agent_code(phpipam, connection, run_playbook):
    run = run_playbook('scan_agent_info.yml', env=connection_env(connection), extra_vars={'agent_code': 'no-such-agent'})
    message = _failure(run)['msg']
    assert 'phpIPAM has no scan agent with the given agent code' in message
    assert "'demo-agent'" in message and "'idle-agent'" in message
    assert phpipam.agents['demo-agent']['code'] not in run.output


def test_read_only_app_reads_but_cannot_serve_a_writing_agent(phpipam, connection, run_playbook):
    ro = dict(connection, app_id='ansible_ro', token=phpipam.app_code('ansible_ro'))
    code = phpipam.agents['demo-agent']['code']
    reads = run_playbook('scan_agent_info.yml', env=connection_env(ro), extra_vars={'agent_code': code})
    assert reads.returncode == 0, reads.output
    refused = run_playbook('scan_agent_info.yml', env=connection_env(ro),
                           extra_vars={'agent_code': code, 'require_write': True})
    message = _failure(refused)['msg']
    assert "API app 'ansible_ro' has permissions 'Read'" in message


def test_unreachable_phpipam(phpipam, connection, run_playbook):
    run = run_playbook('scan_agent_info.yml', env=connection_env(dict(connection, url='https://127.0.0.1:1')),
                       extra_vars={'agent_code': phpipam.agents['demo-agent']['code']})
    message = _failure(run)['msg']
    assert 'cannot connect to phpIPAM for GET https://127.0.0.1:1/api/ansible_rw/tools/scanagents/' in message
    assert 'Connection refused' in message


def test_plain_http_to_loopback_works_with_an_open_app(phpipam, run_playbook):
    login = requests.post(phpipam.api_url('open_http', http=True) + 'user/',
                          auth=(phpipam.admin_user, phpipam.admin_password), timeout=30)
    run = run_playbook('scan_agent_info.yml', env=connection_env({
        'url': phpipam.http_url, 'app_id': 'open_http', 'token': login.json()['data']['token']}),
        extra_vars={'agent_name': 'demo-agent'})
    assert run.returncode == 0, run.output
    assert len(run.result('Fetch the agent')['subnets']) == 3


def test_ssl_app_over_plain_http_is_explained(phpipam, connection, run_playbook):
    run = run_playbook('scan_agent_info.yml', env=connection_env(dict(connection, url=phpipam.http_url)),
                       extra_vars={'agent_name': 'demo-agent'})
    message = _failure(run)['msg']
    assert 'HTTP 503 SSL connection is required for API' in message and 'use an https:// url' in message


def test_min_scan_interval_skips_recently_scanned_subnets(harness, phpipam, connection, run_playbook):
    harness.sql('UPDATE subnets SET lastScan = NOW() - INTERVAL 2 MINUTE WHERE id IN (%s, %s)',
                phpipam.subnets['127.0.20.0/28'], phpipam.subnets['127.0.10.0/24'])
    run = run_playbook('scan_agent_info.yml', env=connection_env(connection),
                       extra_vars={'agent_name': 'demo-agent', 'min_scan_interval': 600, 'addresses': True})
    assert run.returncode == 0, run.output
    info = run.result('Fetch the agent')
    # The ping-only /28 was checked 2 minutes ago; the /24 still needs its discovery.
    assert [s['cidr'] for s in info['skipped_subnets']] == ['127.0.20.0/28']
    assert 'scanned less than min_scan_interval (600 s) ago' in info['skipped_subnets'][0]['reason']
    assert [s['cidr'] for s in info['subnets']] == ['127.0.10.0/24', '127.40.1.0/24']
    later = run_playbook('scan_agent_info.yml', env=connection_env(connection),
                         extra_vars={'agent_name': 'demo-agent', 'min_scan_interval': 60})
    assert later.result('Fetch the agent')['skipped_subnets'] == []


def test_subnet_list_cache(harness, phpipam, connection, run_playbook, tmp_path):
    cache = str(tmp_path / 'cache' / 'agent.json')
    extra = {'agent_name': 'demo-agent', 'cache_path': cache, 'cache_ttl': 300, 'addresses': True}
    first = run_playbook('scan_agent_info.yml', env=connection_env(connection), extra_vars=extra)
    assert first.result('Fetch the agent')['cached'] is False
    assert oct(os.stat(cache).st_mode & 0o777) == '0o600'
    with open(cache, encoding='utf-8') as handle:
        assert phpipam.agents['demo-agent']['code'] not in handle.read()
    # Addresses are always fresh, even when the subnet list comes from the cache.
    harness.sql("UPDATE ipaddresses SET hostname = 'changed.lab.test' WHERE id = %s", phpipam.addresses['127.0.10.5'])
    second = run_playbook('scan_agent_info.yml', env=connection_env(connection), extra_vars=extra)
    info = second.result('Fetch the agent')
    assert info['cached'] is True
    assert [s['cidr'] for s in info['subnets']] == AGENT_SUBNETS
    lab = dict((a['ip'], a) for a in info['subnets'][0]['addresses'])
    assert lab['127.0.10.5']['hostname'] == 'changed.lab.test'
    expired = run_playbook('scan_agent_info.yml', env=connection_env(connection), extra_vars=dict(extra, cache_ttl=0))
    assert expired.result('Fetch the agent')['cached'] is False
