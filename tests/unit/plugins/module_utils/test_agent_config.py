# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan agent's config loader on plain data: sources, precedence, older agents' formats, every check."""

import os

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils import agent_config
from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import (
    SCHEMA,
    ConfigError,
    load_agent_settings,
    normalize_exclude_entry,
    parse_config_text,
    parse_duration,
    read_config_file,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamConfigError, PhpipamError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_plan import parse_exclude

FIXTURES = os.path.normpath(os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'agent_config'))
PATH = '/etc/phpipam/scan_agent.yaml'
HOST = {'uid': 1000, 'home': '/home/agent', 'run_lock_writable': False, 'local_timezone': 'Europe/Berlin'}
REQUIRED = {
    'phpipam_url': 'https://ipam.example.com',
    'phpipam_app_id': 'scanner',
    'phpipam_token': 'app-code-secret-1',
    'agent_code': 'agent-code-secret-2',
}
SECRETS = ('app-code-secret-1', 'agent-code-secret-2', 'relay-secret-3', 'password-secret-4')


def load(data=None, env=None, overrides=None, path=PATH, mode=None, host=None):
    return load_agent_settings(file_data=data, file_path=path if data is not None else None, file_mode=mode,
                               env=env or {}, overrides=overrides, host=dict(HOST, **(host or {})))


def problems(data=None, env=None, overrides=None, **kwargs):
    with pytest.raises(ConfigError) as caught:
        load(data, env, overrides, **kwargs)
    return caught.value.problems


def fixture(name):
    return read_config_file(os.path.join(FIXTURES, name), required=True)


def with_required(**settings):
    data = dict(REQUIRED)
    data.update(settings)
    return data


# ------------------------------------------------------------------ defaults and precedence


def test_defaults_fill_every_setting():
    result = load(REQUIRED)
    settings = result['settings']
    assert sorted(settings) == sorted(list(SCHEMA) + ['mode'])
    assert settings['mode'] == 'direct'
    assert (settings['phpipam_validate_certs'], settings['phpipam_timeout'], settings['allow_insecure_http']) == (True, 30, False)
    assert (settings['nmap_timing'], settings['nmap_privileged'], settings['nmap_probe_ports']) == (4, 'auto', [])
    assert (settings['remove_stale'], settings['remove_stale_after'], settings['remove_stale_max_percent']) == (False, 172800, 25)
    assert (settings['remove_stale_scope'], settings['api_workers'], settings['time_offset']) == ('agent', 4, 0)
    assert (settings['discovered_tag'], settings['discovered_description']) == ('Used', '-- autodiscovered --')
    assert settings['exclude'] == [] and settings['always_update'] is True and settings['ipv6_discovery'] is True
    assert settings['phpipam_timezone'] == 'Europe/Berlin'
    assert result['sources']['nmap_timing'] == 'default' and result['sources']['phpipam_url'] == PATH
    assert result['warnings'] == []


@pytest.mark.parametrize('host, cache_dir, lock_path', [
    ({'uid': 0, 'home': '/root', 'run_lock_writable': True}, '/var/cache/ipamkit-phpipam',
     '/run/lock/ipamkit-phpipam-scan-agent.lock'),
    ({'uid': 1000, 'home': '/home/agent', 'run_lock_writable': False}, '/home/agent/.cache/ipamkit-phpipam',
     '/tmp/ipamkit-phpipam-scan-agent-1000.lock'),
    ({'uid': 1000, 'home': '/home/agent', 'run_lock_writable': True}, '/home/agent/.cache/ipamkit-phpipam',
     '/run/lock/ipamkit-phpipam-scan-agent.lock'),
])
def test_cache_dir_and_lock_path_defaults_follow_the_host(host, cache_dir, lock_path):
    settings = load(REQUIRED, host=host)['settings']
    assert (settings['cache_dir'], settings['lock_path']) == (cache_dir, lock_path)


def test_home_is_expanded_in_paths():
    settings = load(with_required(cache_dir='~/agent-cache', phpipam_ca_path='~/ca.pem'))['settings']
    assert settings['cache_dir'] == '/home/agent/agent-cache' and settings['phpipam_ca_path'] == '/home/agent/ca.pem'


@pytest.mark.parametrize('file_value, env, overrides, expected, source', [
    ('https://file.example.com', {}, None, 'https://file.example.com', PATH),
    ('https://file.example.com', {'PHPIPAM_URL': 'https://env.example.com'}, None, 'https://env.example.com', 'env PHPIPAM_URL'),
    ('https://file.example.com', {'PHPIPAM_URL': 'https://env.example.com'}, {'phpipam_url': 'https://over.example.com'},
     'https://over.example.com', 'overrides'),
    ('https://file.example.com', {'PHPIPAM_URL': 'https://env.example.com'}, {'phpipam_url': None},
     'https://env.example.com', 'env PHPIPAM_URL'),
    ('https://file.example.com', {'PHPIPAM_URL': ''}, None, 'https://file.example.com', PATH),
    (None, {'IPAM_SERVER': 'ipam.example.com'}, None, 'https://ipam.example.com', 'env IPAM_SERVER'),
])
def test_later_sources_win(file_value, env, overrides, expected, source):
    data = with_required(phpipam_url=file_value)
    result = load(data, env=env, overrides=overrides)
    assert result['settings']['phpipam_url'] == expected
    assert result['sources']['phpipam_url'] == source


def test_no_file_at_all_with_everything_from_the_environment():
    env = {'PHPIPAM_URL': 'https://ipam.example.com/', 'PHPIPAM_APP_ID': 'scanner', 'PHPIPAM_TOKEN': 'app-code-secret-1',
           'PHPIPAM_AGENT_CODE': 'agent-code-secret-2', 'PHPIPAM_VALIDATE_CERTS': 'no', 'PHPIPAM_TIMEOUT': '1m',
           'PHPIPAM_TIMEZONE': '+05:30', 'PHPIPAM_CA_PATH': '/etc/ssl/ca.pem', 'UNRELATED': 'ignored'}
    result = load(env=env)
    settings = result['settings']
    assert settings['phpipam_url'] == 'https://ipam.example.com'
    assert (settings['phpipam_validate_certs'], settings['phpipam_timeout'], settings['phpipam_timezone']) == (False, 60, '+05:30')
    assert settings['phpipam_ca_path'] == '/etc/ssl/ca.pem'
    assert result['sources']['agent_code'] == 'env PHPIPAM_AGENT_CODE'


@pytest.mark.parametrize('name, key, value, expected', [
    ('PHPIPAM_USERNAME', 'phpipam_username', 'scan-user', 'scan-user'),
    ('PHPIPAM_RELAY_URL', 'relay_url', 'https://relay.example.com/', 'https://relay.example.com'),
    ('PHPIPAM_RELAY_TOKEN', 'relay_token', 'relay-secret-3', 'relay-secret-3'),
])
def test_our_environment_variables(name, key, value, expected):
    env = {name: value}
    if key.startswith('relay_'):
        env.setdefault('PHPIPAM_RELAY_URL', 'https://relay.example.com')
        env.setdefault('PHPIPAM_RELAY_TOKEN', 'relay-secret-3')
    if key == 'phpipam_username':
        env['PHPIPAM_PASSWORD'] = 'password-secret-4'
    result = load(REQUIRED, env=env)
    assert result['settings'][key] == expected and result['sources'][key] == 'env %s' % name


def test_overrides_count_only_values_that_are_not_none():
    result = load(with_required(nmap_timing=3), overrides={'nmap_timing': None, 'remove_stale': True, 'exclude': '192.0.2.1'})
    assert result['settings']['nmap_timing'] == 3 and result['sources']['nmap_timing'] == PATH
    assert result['settings']['remove_stale'] is True and result['sources']['remove_stale'] == 'overrides'
    assert result['settings']['exclude'] == ['192.0.2.1']


@pytest.mark.parametrize('data, overrides, expected', [
    (with_required(), {'agent_name': 'dc1-agent'}, {'agent_code': None, 'agent_id': None, 'agent_name': 'dc1-agent'}),
    (with_required(), {'agent_id': '7'}, {'agent_code': None, 'agent_id': 7, 'agent_name': None}),
    (with_required(), None, {'agent_code': 'agent-code-secret-2', 'agent_id': None, 'agent_name': None}),
])
def test_the_highest_source_naming_the_agent_names_it(data, overrides, expected):
    settings = load(data, overrides=overrides)['settings']
    assert dict((key, settings[key]) for key in expected) == expected


# ------------------------------------------------------------------ NoFussComputing's file


@pytest.mark.parametrize('seed_key, value, key, expected', [
    ('api_url', 'https://ipam.example.com/phpipam/', 'phpipam_url', 'https://ipam.example.com/phpipam'),
    ('client_name', 'scanner', 'phpipam_app_id', 'scanner'),
    ('client_token', 'app-code-secret-1', 'phpipam_token', 'app-code-secret-1'),
    ('scanagent_code', 'agent-code-secret-2', 'agent_code', 'agent-code-secret-2'),
    ('cache_expire_time', 1800, 'cache_expire_time', 1800),
    ('cache_expire_time', '30m', 'cache_expire_time', 1800),
    ('epoch_time_offset', -34200, 'time_offset', -34200),
    ('epoch_time_offset', '3600', 'time_offset', 3600),
])
def test_seed_keys_map_onto_ours(seed_key, value, key, expected):
    seed = {'api_url': 'https://ipam.example.com', 'client_name': 'scanner', 'client_token': 'app-code-secret-1',
            'scanagent_code': 'agent-code-secret-2'}
    seed[seed_key] = value
    result = load({'nofusscomputing_phpipam_scan_agent': seed})
    assert result['settings'][key] == expected
    assert result['sources'][key] == PATH
    assert result['settings']['mode'] == 'direct'


SEED = {'api_url': 'https://ipam.example.com', 'client_name': 'scanner', 'client_token': 'app-code-secret-1',
        'scanagent_code': 'agent-code-secret-2', 'auth_token': 'relay-secret-3'}


@pytest.mark.parametrize('relay, expected', [
    ({'http_server': 'https://relay.example.com'}, 'https://relay.example.com:5000'),
    ({'http_server': 'https://relay.example.com/', 'http_port': 8443}, 'https://relay.example.com:8443'),
    ({'http_server': 'https://relay.example.com/hooks', 'http_port': '8443'}, 'https://relay.example.com:8443/hooks'),
    ({'http_port': 5001}, 'http://127.0.0.1:5001'),
    ({'http_server': 'http://127.0.0.1', 'http_port': 5000}, 'http://127.0.0.1:5000'),
    ({'http_server': 'https://[2001:db8::5]'}, 'https://[2001:db8::5]:5000'),
])
def test_seed_relay_url_is_server_colon_port(relay, expected):
    seed = dict(SEED, **relay)
    result = load({'nofusscomputing_phpipam_scan_agent': seed})
    assert result['settings']['relay_url'] == expected
    assert result['settings']['relay_token'] == 'relay-secret-3'
    assert result['settings']['mode'] == 'relay' and result['sources']['mode'] == PATH


@pytest.mark.parametrize('relay, message', [
    ({'http_server': 'relay.example.com'},
     PATH + ": nofusscomputing_phpipam_scan_agent.http_server: 'relay.example.com' has no scheme: give http:// or https:// "
     "as the NoFussComputing agent expects"),
    ({'http_server': 'https://relay.example.com:5001'},
     PATH + ": nofusscomputing_phpipam_scan_agent.http_server: 'https://relay.example.com:5001' already has a port: "
     "give the port in http_port"),
    ({'http_server': 'https://relay.example.com', 'http_port': 70000},
     PATH + ': nofusscomputing_phpipam_scan_agent.http_port: 70000 is out of range (1 to 65535)'),
    ({'http_server': 'http://relay.example.com'},
     PATH + ': nofusscomputing_phpipam_scan_agent.http_server: refusing to send the relay token over plain http:// to '
     'relay.example.com: use https:// (relay_ca_path names a private CA)'),
])
def test_seed_relay_problems(relay, message):
    assert problems({'nofusscomputing_phpipam_scan_agent': dict(SEED, **relay)}) == [message]


def test_seed_without_relay_writes_directly_and_ignores_the_relay_keys():
    seed = dict(SEED, ca_path='/etc/phpipam/relay-ca.pem')
    result = load({'nofusscomputing_phpipam_scan_agent': seed})
    assert result['settings']['mode'] == 'direct'
    assert result['settings']['relay_token'] is None and result['settings']['relay_ca_path'] is None
    assert result['warnings'] == [
        PATH + ': nofusscomputing_phpipam_scan_agent.auth_token is ignored: without http_server or http_port there is '
        'no relay; this agent writes to phpIPAM directly',
        PATH + ': nofusscomputing_phpipam_scan_agent.ca_path is ignored: without http_server or http_port there is '
        'no relay; this agent writes to phpIPAM directly',
    ]


def test_seed_file_and_ipam_environment_give_the_same_settings_as_our_format():
    ours = fixture('ours.yaml')
    seed = fixture('seed.yaml')
    env = {'IPAM_MIN_TIME_BETWEEN_SCANS': '1h', 'IPAM_ALWAYS_UPDATE': '0', 'IPAM_REMOVE_OLD_HOSTS': '1',
           'IPAM_REMOVE_OLD_HOST_DELAY': '48h', 'IPAM_SLEEP_DURATION': '5m', 'LOG_LEVEL': 'DEBUG'}
    from_ours = load(ours['data'], path=ours['path'])
    from_seed = load(seed['data'], env=env, path=seed['path'])
    assert from_seed['settings'] == from_ours['settings']
    assert from_seed['settings']['relay_url'] == 'https://relay.example.com:5001'
    assert from_seed['sources']['remove_stale_after'] == 'env IPAM_REMOVE_OLD_HOST_DELAY'


def test_seed_template_as_shipped_names_every_missing_setting():
    template = fixture('seed_template.yaml')
    with pytest.raises(ConfigError) as caught:
        load(template['data'], path=template['path'])
    assert caught.value.problems == [
        'agent: not set: give one of agent_code (PHPIPAM_AGENT_CODE, IPAM_API_AGENT_CODE, '
        'nofusscomputing_phpipam_scan_agent.scanagent_code), agent_id or agent_name',
        'phpipam_url: not set: put it in the config file or set PHPIPAM_URL or IPAM_SERVER',
        'phpipam_app_id: not set: put it in the config file or set PHPIPAM_APP_ID or IPAM_API_CLIENT',
        'phpipam_token: not set: give phpipam_token (PHPIPAM_TOKEN, IPAM_API_TOKEN), or phpipam_username and '
        'phpipam_password',
    ]


def test_our_keys_win_over_the_seed_block_in_the_same_file():
    data = with_required(nofusscomputing_phpipam_scan_agent={'api_url': 'https://old.example.com',
                                                             'client_token': 'other-secret'})
    result = load(data)
    assert result['settings']['phpipam_url'] == 'https://ipam.example.com'
    assert result['warnings'] == [
        PATH + ": phpipam_url and " + PATH + ": nofusscomputing_phpipam_scan_agent.api_url both set phpipam_url and "
        "differ; " + PATH + ": phpipam_url wins ('https://ipam.example.com', not 'https://old.example.com')",
        PATH + ": phpipam_token and " + PATH + ": nofusscomputing_phpipam_scan_agent.client_token both set "
        "phpipam_token and differ; " + PATH + ": phpipam_token wins",
    ]
    assert 'other-secret' not in ' '.join(result['warnings'])


# ------------------------------------------------------------------ phpipam-python-scanagent's environment


IPAM_ENV = {'IPAM_SERVER': 'ipam.example.com', 'IPAM_API_CLIENT': 'scanner', 'IPAM_API_TOKEN': 'app-code-secret-1',
            'IPAM_API_AGENT_CODE': 'agent-code-secret-2'}


@pytest.mark.parametrize('name, value, key, expected', [
    ('IPAM_SERVER', 'ipam.example.com', 'phpipam_url', 'https://ipam.example.com'),
    ('IPAM_SERVER', 'ipam.example.com/phpipam', 'phpipam_url', 'https://ipam.example.com/phpipam'),
    ('IPAM_SERVER', 'https://ipam.example.com', 'phpipam_url', 'https://ipam.example.com'),
    ('IPAM_API_CLIENT', 'scanner', 'phpipam_app_id', 'scanner'),
    ('IPAM_API_TOKEN', 'app-code-secret-1', 'phpipam_token', 'app-code-secret-1'),
    ('IPAM_API_AGENT_CODE', 'agent-code-secret-2', 'agent_code', 'agent-code-secret-2'),
    ('IPAM_MIN_TIME_BETWEEN_SCANS', '1h', 'min_scan_interval', 3600),
    ('IPAM_MIN_TIME_BETWEEN_SCANS', '1h30', 'min_scan_interval', 5400),
    ('IPAM_ALWAYS_UPDATE', '1', 'always_update', True),
    ('IPAM_ALWAYS_UPDATE', '0', 'always_update', False),
    ('IPAM_REMOVE_OLD_HOSTS', '1', 'remove_stale', True),
    ('IPAM_REMOVE_OLD_HOSTS', '0', 'remove_stale', False),
    ('IPAM_REMOVE_OLD_HOST_DELAY', '1h30m', 'remove_stale_after', 5400),
    ('IPAM_REMOVE_OLD_HOST_DELAY', '2.5h', 'remove_stale_after', 9000),
    ('IPAM_SLEEP_DURATION', '5m', 'sleep_duration', 300),
    ('LOG_LEVEL', 'DEBUG', 'log_level', 'DEBUG'),
])
def test_ipam_variables_map_onto_ours(name, value, key, expected):
    env = dict(IPAM_ENV)
    env[name] = value
    result = load(env=env)
    assert result['settings'][key] == expected
    assert result['sources'][key] == 'env %s' % name
    assert result['warnings'] == []


@pytest.mark.parametrize('insecure, url, allow', [
    ('0', 'https://ipam.example.com', False),
    ('', 'https://ipam.example.com', False),
    ('1', 'http://ipam.example.com', True),
    ('yes', 'http://ipam.example.com', True),
])
def test_ipam_server_insecure(insecure, url, allow):
    result = load(env=dict(IPAM_ENV, IPAM_SERVER_INSECURE=insecure))
    assert result['settings']['phpipam_url'] == url
    assert result['settings']['allow_insecure_http'] is allow
    if allow:
        assert result['sources']['allow_insecure_http'] == 'env IPAM_SERVER_INSECURE'
        assert result['warnings'] == [
            'environment IPAM_SERVER_INSECURE=%s: phpIPAM is reached over plain http://, so the API token travels '
            'unencrypted (allow_insecure_http is on); use https:// instead' % insecure]
    else:
        assert result['warnings'] == []


def test_ipam_server_insecure_without_a_server_is_ignored():
    result = load(REQUIRED, env={'IPAM_SERVER_INSECURE': '1'})
    assert result['settings']['allow_insecure_http'] is False
    assert result['warnings'] == ['environment IPAM_SERVER_INSECURE is ignored: IPAM_SERVER is not set']


@pytest.mark.parametrize('data, env, overrides, allow, source, warning', [
    (None, dict(IPAM_ENV, IPAM_SERVER_INSECURE='1', PHPIPAM_URL='https://ipam.example.com'), None, False, 'default',
     'environment IPAM_SERVER_INSECURE is ignored: phpipam_url comes from environment PHPIPAM_URL, not from IPAM_SERVER'),
    (with_required(allow_insecure_http=True), dict(IPAM_ENV, IPAM_SERVER_INSECURE='1'),
     {'phpipam_url': 'http://ipam.example.com'}, True, PATH,
     'environment IPAM_SERVER_INSECURE is ignored: phpipam_url comes from overrides: phpipam_url, not from IPAM_SERVER'),
    (None, dict(IPAM_ENV, IPAM_SERVER='https://ipam.example.com', IPAM_SERVER_INSECURE='1'), None, False, 'default',
     'environment IPAM_SERVER_INSECURE is ignored: IPAM_SERVER already names its scheme'),
])
def test_ipam_server_insecure_applies_only_to_ipam_server(data, env, overrides, allow, source, warning):
    result = load(data, env=env, overrides=overrides)
    assert result['settings']['allow_insecure_http'] is allow and result['sources']['allow_insecure_http'] == source
    assert warning in result['warnings']
    assert not [text for text in result['warnings'] if 'travels unencrypted' in text]


def test_insecure_ipam_server_does_not_allow_another_http_url():
    env = dict(IPAM_ENV, IPAM_SERVER_INSECURE='1', PHPIPAM_URL='http://other.example.com')
    assert problems(env=env) == [
        'environment PHPIPAM_URL: refusing to send credentials over plain http:// to other.example.com: anyone on the '
        'path could read them. Use https:// (phpIPAM apps with SSL security require it anyway), or set '
        'allow_insecure_http: true if you accept that risk']


def test_our_variables_win_over_ipam_ones_with_a_warning():
    env = dict(IPAM_ENV, PHPIPAM_URL='https://new.example.com', PHPIPAM_TOKEN='other-secret',
               PHPIPAM_APP_ID='scanner')
    result = load(env=env)
    assert result['settings']['phpipam_url'] == 'https://new.example.com'
    assert result['settings']['phpipam_token'] == 'other-secret'
    assert result['warnings'] == [
        "environment PHPIPAM_URL and environment IPAM_SERVER both set phpipam_url and differ; environment PHPIPAM_URL "
        "wins ('https://new.example.com', not 'https://ipam.example.com')",
        'environment PHPIPAM_TOKEN and environment IPAM_API_TOKEN both set phpipam_token and differ; environment '
        'PHPIPAM_TOKEN wins',
    ]


@pytest.mark.parametrize('name, value, message', [
    ('IPAM_REMOVE_OLD_HOST_DELAY', '2x',
     "environment IPAM_REMOVE_OLD_HOST_DELAY: '2x' is not a duration (use 90, 90s, 15m, 1h30m, 2d)"),
    ('IPAM_ALWAYS_UPDATE', 'maybe', "environment IPAM_ALWAYS_UPDATE: expected 1 or 0, got 'maybe'"),
    ('IPAM_SERVER', 'ipam.example.com/api', "environment IPAM_SERVER: give phpIPAM's base URL without /api (the client "
                                            "adds /api/<app_id>/): use https://ipam.example.com"),
    ('PHPIPAM_VALIDATE_CERTS', 'sometimes', "environment PHPIPAM_VALIDATE_CERTS: expected true or false, got 'sometimes'"),
    ('PHPIPAM_TIMEOUT', '0', 'environment PHPIPAM_TIMEOUT: 0 is too small (at least 1)'),
    ('PHPIPAM_TIMEZONE', 'Europe/Nowhere',
     "environment PHPIPAM_TIMEZONE: unknown time zone 'Europe/Nowhere': give an IANA name such as Europe/Berlin (the "
     "tzdata package must be installed) or an offset such as +02:00"),
])
def test_environment_problems_name_the_variable(name, value, message):
    assert problems(env=dict(IPAM_ENV, **{name: value})) == [message]


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize('settings, message', [
    ({'remove_stale_after': '2x'}, "%s: remove_stale_after: '2x' is not a duration (use 90, 90s, 15m, 1h30m, 2d)"),
    ({'nmap_timing': 9}, '%s: nmap_timing: 9 is out of range (0 to 5)'),
    ({'nmap_timing': 'fast'}, "%s: nmap_timing: expected an integer, got 'fast'"),
    ({'api_workers': 0}, '%s: api_workers: 0 is out of range (1 to 32)'),
    ({'remove_stale_max_percent': 101}, '%s: remove_stale_max_percent: 101 is out of range (0 to 100)'),
    ({'nmap_max_rate': 0}, '%s: nmap_max_rate: 0 is too small (at least 1)'),
    ({'remove_stale': 'sometimes'}, "%s: remove_stale: expected true or false, got 'sometimes'"),
    ({'update_mac': [True]}, '%s: update_mac: expected true or false, got a list'),
    ({'remove_stale_scope': 'everything'}, "%s: remove_stale_scope: 'everything' is not one of agent, all"),
    ({'nmap_privileged': 'maybe'}, "%s: nmap_privileged: expected 'auto', true or false, got 'maybe'"),
    ({'nmap_probe_ports': [22, 70000]}, '%s: nmap_probe_ports[1]: 70000 is out of range (1 to 65535)'),
    ({'nmap_probe_ports': ['ssh']}, "%s: nmap_probe_ports[0]: 'ssh' is not a port number"),
    ({'phpipam_timezone': 'Mars/Olympus_Mons'},
     "%s: phpipam_timezone: unknown time zone 'Mars/Olympus_Mons': give an IANA name such as Europe/Berlin (the tzdata "
     "package must be installed) or an offset such as +02:00"),
    ({'phpipam_timezone': 120}, '%s: phpipam_timezone: expected a time zone name such as Europe/Berlin or an offset such '
                                'as "+02:00" (quoted), got a number'),
    ({'discovered_tag': {'name': 'Used'}}, '%s: discovered_tag: expected a string, got a mapping'),
    ({'phpipam_token': ['app-code-secret-1']}, '%s: phpipam_token: expected a string, got a list'),
    ({'phpipam_token': ' app-code-secret-1'}, '%s: phpipam_token: has leading or trailing white space (a copy and paste error?)'),
    ({'agent_id': 0}, '%s: agent_id: 0 is too small (at least 1)'),
    ({'time_offset': '1h'}, "%s: time_offset: expected an integer, got '1h'"),
    ({'phpipam_url': 'ipam.example.com'},
     "%s: phpipam_url: 'ipam.example.com' is not an http(s) URL: give the scheme and host, e.g. https://ipam.example.com"),
    ({'phpipam_url': 'https://user:password-secret-4@ipam.example.com'},
     '%s: phpipam_url: must not contain credentials (user:password@): give them in the token, username and password '
     'settings'),
    ({'phpipam_url': 'https://ipam.example.com/api/scanner/'},
     "%s: phpipam_url: give phpIPAM's base URL without /api (the client adds /api/<app_id>/): use https://ipam.example.com"),
    ({'phpipam_url': 'https://ipam.example.com/?token=app-code-secret-1'},
     '%s: phpipam_url: must not have a query string or fragment: give the base URL'),
    ({'phpipam_url': 'http://ipam.example.com'},
     '%s: phpipam_url: refusing to send credentials over plain http:// to ipam.example.com: anyone on the path could '
     'read them. Use https:// (phpIPAM apps with SSL security require it anyway), or set allow_insecure_http: true if '
     'you accept that risk'),
    ({'phpipam_app_id': 'my app'}, "%s: phpipam_app_id: 'my app' is not an API app id (no slashes or spaces)"),
    ({'exclude': ['192.0.2.0/24', '192.0.2.300']},
     "%s: exclude[1]: '192.0.2.300' is not an IP address, CIDR or a-b range"),
    ({'exclude': {'ip': '192.0.2.1'}}, '%s: exclude: expected a list of IP addresses, CIDRs or a-b ranges, got a mapping'),
    ({'remove_stale_max_percnt': 10}, '%s: remove_stale_max_percnt: unknown setting (did you mean remove_stale_max_percent?)'),
    ({'phpipam_tokne': 'x'}, '%s: phpipam_tokne: unknown setting (did you mean phpipam_token?)'),
    ({'frobnicate': 1}, '%s: frobnicate: unknown setting'),
    ({'relay_url': 'http://relay.example.com', 'relay_token': 'relay-secret-3'},
     '%s: relay_url: refusing to send the relay token over plain http:// to relay.example.com: use https:// '
     '(relay_ca_path names a private CA)'),
    ({'relay_url': 'https://relay.example.com'},
     '%s: relay_url: relay_token is required with relay_url (PHPIPAM_RELAY_TOKEN, or '
     'nofusscomputing_phpipam_scan_agent.auth_token)'),
    ({'agent_name': 'dc1-agent'}, '%s: agent_code: give only one of agent_code, agent_id and agent_name (got agent_code '
                                  'and agent_name)'),
])
def test_each_problem_names_source_and_key(settings, message):
    found = problems(with_required(**settings))
    assert found == [message % PATH]
    assert not any(secret in found[0] for secret in SECRETS)


@pytest.mark.parametrize('settings, message', [
    ({'phpipam_token': None, 'phpipam_username': 'scan-user'},
     '%s: phpipam_username: phpipam_password is needed with phpipam_username (or give phpipam_token)'),
    ({'phpipam_token': None, 'phpipam_password': 'password-secret-4'},
     '%s: phpipam_password: phpipam_username is needed with phpipam_password (or give phpipam_token)'),
    ({'phpipam_token': ''}, 'phpipam_token: not set: give phpipam_token (PHPIPAM_TOKEN, IPAM_API_TOKEN), or '
                            'phpipam_username and phpipam_password'),
    ({'phpipam_url': None}, 'phpipam_url: not set: put it in the config file or set PHPIPAM_URL or IPAM_SERVER'),
    ({'agent_code': None}, 'agent: not set: give one of agent_code (PHPIPAM_AGENT_CODE, IPAM_API_AGENT_CODE, '
                           'nofusscomputing_phpipam_scan_agent.scanagent_code), agent_id or agent_name'),
])
def test_missing_settings(settings, message):
    assert problems(with_required(**settings)) == [message.replace('%s', PATH)]


@pytest.mark.parametrize('url, allow', [
    ('http://127.0.0.1:8080', False),
    ('http://localhost/phpipam', False),
    ('http://[::1]', False),
    ('http://ipam.example.com', True),
    ('https://ipam.example.com/phpipam/', False),
])
def test_urls_that_are_accepted(url, allow):
    assert load(with_required(phpipam_url=url, allow_insecure_http=allow))['settings']['phpipam_url'] == url.rstrip('/')


@pytest.mark.parametrize('url, allow', [
    ('https://ipam.example.com', False),
    ('https://ipam.example.com/phpipam/', False),
    ('http://127.0.0.1:8080', False),
    ('http://[::1]/phpipam', False),
    ('http://ipam.example.com', False),
    ('http://ipam.example.com', True),
    ('https://ipam.example.com/api', False),
    ('https://ipam.example.com/phpipam/api/scanner/', False),
    ('https://u:p@ipam.example.com', False),
    ('ftp://ipam.example.com', False),
    ('ipam.example.com', False),
    ('https://ipam.example.com/#top', False),
])
def test_url_rules_agree_with_the_api_client(url, allow):
    try:
        PhpipamClient(url, 'scanner', token='t', allow_insecure_http=allow).close()
        client_ok = True
    except PhpipamConfigError:
        client_ok = False
    try:
        load(with_required(phpipam_url=url, allow_insecure_http=allow))
        loader_ok = True
    except ConfigError:
        loader_ok = False
    assert loader_ok == client_ok


def test_every_problem_at_once_and_no_secret_in_the_message():
    bad = fixture('bad_values.yaml')
    with pytest.raises(ConfigError) as caught:
        load(bad['data'], env={'IPAM_REMOVE_OLD_HOST_DELAY': 'soon', 'PHPIPAM_RELAY_TOKEN': 'relay-secret-3'},
             overrides={'api_workers': 99}, path=bad['path'])
    error = caught.value
    path = bad['path']
    assert error.problems == [
        "%s: remove_stale_after: '2x' is not a duration (use 90, 90s, 15m, 1h30m, 2d)" % path,
        '%s: nmap_timing: 9 is out of range (0 to 5)' % path,
        "%s: remove_stale_scope: 'everything' is not one of agent, all" % path,
        "%s: exclude[1]: '192.0.2.300' is not an IP address, CIDR or a-b range" % path,
        '%s: nmap_probe_ports[1]: 70000 is out of range (1 to 65535)' % path,
        "%s: phpipam_timezone: unknown time zone 'Mars/Olympus_Mons': give an IANA name such as Europe/Berlin (the "
        "tzdata package must be installed) or an offset such as +02:00" % path,
        '%s: remove_stale_max_percnt: unknown setting (did you mean remove_stale_max_percent?)' % path,
        "environment IPAM_REMOVE_OLD_HOST_DELAY: 'soon' is not a duration (use 90, 90s, 15m, 1h30m, 2d)",
        'overrides: api_workers: 99 is out of range (1 to 32)',
        "%s: phpipam_url: give phpIPAM's base URL without /api (the client adds /api/<app_id>/): use "
        "http://ipam.example.com" % path,
        '%s: phpipam_url: refusing to send credentials over plain http:// to ipam.example.com: anyone on the path could '
        'read them. Use https:// (phpIPAM apps with SSL security require it anyway), or set allow_insecure_http: true '
        'if you accept that risk' % path,
    ]
    text = str(error)
    lines = text.splitlines()
    assert lines[0] == 'The scan agent configuration has 11 problems; nothing was scanned or changed:'
    assert lines[1:] == ['- ' + problem for problem in error.problems]
    assert 'app-code-0123456789abcdef' not in text and 'agent-code-fedcba9876543210' not in text
    assert isinstance(error, PhpipamError) and error.to_dict()['kind'] == 'config'
    assert error.to_dict()['problems'] == error.problems


def test_relay_keys_without_relay_url_are_ignored_with_a_warning():
    result = load(REQUIRED, env={'PHPIPAM_RELAY_TOKEN': 'relay-secret-3'})
    assert result['settings']['mode'] == 'direct'
    assert result['warnings'] == ['environment PHPIPAM_RELAY_TOKEN is ignored: relay_url is not set, so this agent '
                                  'writes to phpIPAM directly']


def test_files_are_checked_when_the_host_can_tell():
    exists = {'/etc/ssl/ca.pem'}.__contains__
    data = with_required(phpipam_ca_path='/etc/ssl/ca.pem', nmap_path='/opt/nmap/bin/nmap')
    assert problems(data, host={'file_exists': exists}) == ['%s: nmap_path: /opt/nmap/bin/nmap does not exist or is not a '
                                                            'file' % PATH]
    assert load(data)['settings']['nmap_path'] == '/opt/nmap/bin/nmap'


def test_top_level_must_be_a_mapping():
    assert problems(['phpipam_url'], env=IPAM_ENV) == ['%s: the top level must be a mapping of settings, not a list' % PATH]
    assert problems({'nofusscomputing_phpipam_scan_agent': 'x'}, env=IPAM_ENV) == [
        '%s: nofusscomputing_phpipam_scan_agent: must be a mapping, not a string' % PATH]
    assert problems({'nofusscomputing_phpipam_scan_agent': {'api_ur': 'x'}}, env=IPAM_ENV) == [
        '%s: nofusscomputing_phpipam_scan_agent.api_ur: unknown setting of the NoFussComputing agent (did you mean '
        'api_url?)' % PATH]
    assert problems(env=IPAM_ENV, overrides={'nmap_timeing': 3}) == [
        'overrides: nmap_timeing: unknown setting (did you mean nmap_timing?)']


# ------------------------------------------------------------------ values


@pytest.mark.parametrize('value, seconds', [
    (0, 0), (90, 90), (90.4, 90), ('90', 90), ('90s', 90), ('15m', 900), ('1h30m', 5400), ('2d', 172800),
    ('48h', 172800), ('1h30', 5400), ('2m30', 150), ('1d12', 129600), ('1.5h', 5400), ('1h 30m', 5400), ('2D', 172800),
    ('1d2h3m4s', 93784),
])
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize('value', ['2x', '', 'h', '1m1h', '1h1h', '90s30', '-5m', '1h-30m', 'soon', True, [1], -1])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize('entry, normalised', [
    ('192.0.2.1', '192.0.2.1'),
    (' 192.0.2.0/28 ', '192.0.2.0/28'),
    ('2001:DB8::1', '2001:db8::1'),
    ('2001:db8::/64', '2001:db8::/64'),
    ('192.0.2.10-192.0.2.20', '192.0.2.10-192.0.2.20'),
    ('192.0.2.10 - 20', '192.0.2.10-192.0.2.20'),
    ('2001:db8::1-2001:db8::ff', '2001:db8::1-2001:db8::ff'),
])
def test_exclude_entries(entry, normalised):
    assert normalize_exclude_entry(entry) == normalised
    # The planner reads the same strings.
    assert parse_exclude([normalised])


@pytest.mark.parametrize('entry, reason', [
    ('192.0.2.1/24', "'192.0.2.1/24' has host bits set: did you mean 192.0.2.0/24?"),
    ('192.0.2.0/33', "'192.0.2.0/33' is not an IP address, CIDR or a-b range"),
    ('192.0.2.20-192.0.2.10', "'192.0.2.20-192.0.2.10': the range ends before it starts"),
    ('192.0.2.1-2001:db8::1', "'192.0.2.1-2001:db8::1': the range mixes IPv4 and IPv6"),
    ('192.0.2.1-300', "'192.0.2.1-300': '300' is not an IP address"),
    ('host.example.com', "'host.example.com' is not an IP address, CIDR or a-b range"),
])
def test_bad_exclude_entries(entry, reason):
    with pytest.raises(ValueError) as caught:
        normalize_exclude_entry(entry)
    assert str(caught.value) == reason


def test_exclude_and_ports_lists_are_normalised():
    settings = load(with_required(exclude='192.0.2.1, 192.0.2.0/30 192.0.2.1', nmap_probe_ports='443,22 22'))['settings']
    assert settings['exclude'] == ['192.0.2.1', '192.0.2.0/30']
    assert settings['nmap_probe_ports'] == [22, 443]


@pytest.mark.parametrize('value, expected', [
    (True, True), (False, False), ('auto', 'auto'), ('AUTO', 'auto'), ('yes', True), ('off', False),
])
def test_nmap_privileged(value, expected):
    assert load(with_required(nmap_privileged=value))['settings']['nmap_privileged'] is expected or \
        load(with_required(nmap_privileged=value))['settings']['nmap_privileged'] == expected


@pytest.mark.parametrize('local, configured, expected', [
    ('Europe/Berlin', None, 'Europe/Berlin'),
    ('+05:30', None, '+05:30'),
    (None, None, 'UTC'),
    ('Europe/Berlin', 'America/New_York', 'America/New_York'),
    ('Europe/Berlin', '-03:00', '-03:00'),
])
def test_time_zone_defaults_to_the_local_one(local, configured, expected):
    result = load(with_required(phpipam_timezone=configured), host={'local_timezone': local})
    assert result['settings']['phpipam_timezone'] == expected
    assert result['sources']['phpipam_timezone'] == ('default' if configured is None else PATH)


def test_an_unusable_local_time_zone_asks_for_the_setting():
    assert problems(REQUIRED, host={'local_timezone': 'Nowhere/Land'}) == [
        "phpipam_timezone: not set, and the local time zone cannot be used (unknown time zone 'Nowhere/Land': give an "
        "IANA name such as Europe/Berlin (the tzdata package must be installed) or an offset such as +02:00): set "
        "phpipam_timezone"]


def test_blank_description_is_a_value():
    assert load(with_required(discovered_description=''))['settings']['discovered_description'] == ''


# ------------------------------------------------------------------ reading files


@pytest.mark.parametrize('mode, warned, readable_by', [
    (0o600, False, None),
    (0o400, False, None),
    (0o640, True, 'its group'),
    (0o604, True, 'others'),
    (0o644, True, 'group and others'),
])
def test_permission_warning(tmp_path, mode, warned, readable_by):
    path = tmp_path / 'scan_agent.yaml'
    path.write_text('phpipam_url: https://ipam.example.com\nphpipam_app_id: scanner\nphpipam_token: app-code-secret-1\n'
                    'agent_code: agent-code-secret-2\n')
    path.chmod(mode)
    config = read_config_file(str(path), required=True)
    assert config['mode'] == mode
    warnings = load(config['data'], path=config['path'], mode=config['mode'])['warnings']
    if warned:
        assert warnings == ['%s holds secrets (phpipam_token) and is readable by %s (mode %04o): chmod 600 it (or 640 '
                            'with a dedicated group)' % (path, readable_by, mode)]
    else:
        assert warnings == []


def test_no_permission_warning_without_secrets_in_the_file(tmp_path):
    path = tmp_path / 'scan_agent.yaml'
    path.write_text('nmap_timing: 3\n')
    path.chmod(0o644)
    config = read_config_file(str(path), required=True)
    assert load(config['data'], env=IPAM_ENV, path=config['path'], mode=config['mode'])['warnings'] == []


def test_missing_files(tmp_path):
    missing = str(tmp_path / 'nope.yaml')
    assert read_config_file(missing, required=False) is None
    with pytest.raises(ConfigError) as caught:
        read_config_file(missing, required=True)
    assert caught.value.problems == ['%s: no such file' % missing]
    with pytest.raises(ConfigError) as caught:
        read_config_file(str(tmp_path), required=False)
    assert caught.value.problems == ['%s: is a directory, not a YAML file' % tmp_path]


def test_parent_that_is_a_file_counts_as_missing_unless_asked_for(tmp_path):
    # Older agents keep an environment file at /etc/phpipam: the default path then has a file
    # as its directory part.
    env_file = tmp_path / 'phpipam'
    env_file.write_text('IPAM_SERVER=ipam.example.test\n')
    under_file = str(env_file / 'scan_agent.yaml')
    assert read_config_file(under_file, required=False) is None
    with pytest.raises(ConfigError) as caught:
        read_config_file(under_file, required=True)
    assert caught.value.problems == ['%s: no such file (a part of the path is not a directory)' % under_file]


def test_empty_file_is_no_settings(tmp_path):
    path = tmp_path / 'empty.yaml'
    path.write_text('---\n# nothing yet\n')
    config = read_config_file(str(path), required=True)
    assert config['data'] is None
    assert load(config['data'], env=IPAM_ENV, path=config['path'])['sources']['phpipam_url'] == 'env IPAM_SERVER'


def test_yaml_syntax_error_names_file_and_line_and_hides_the_line():
    path = os.path.join(FIXTURES, 'syntax_error.yaml.txt')
    with pytest.raises(ConfigError) as caught:
        read_config_file(path, required=True)
    # PyYAML's wording differs with and without libyaml; the file, the position and the hiding do not.
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith('%s: line 6, column 1: YAML syntax error: ' % path)
    assert 'unterminated-secret-value' not in str(caught.value)


def test_duplicate_keys_are_refused():
    path = os.path.join(FIXTURES, 'duplicate_key.yaml.txt')
    with pytest.raises(ConfigError) as caught:
        read_config_file(path, required=True)
    assert caught.value.problems == ['%s: line 4: key phpipam_url is given twice (first on line 2)' % path]


@pytest.mark.parametrize('text, position, wording', [
    ('a: [1, 2', 'line 2, column 1', "',' or ']'"),
    ('a: b: c', 'line 1, column 5', 'mapping values are not allowed'),
    ('phpipam_url: x\n\tphpipam_app_id: y', 'line 2, column 1', 't'),
])
def test_yaml_errors(text, position, wording):
    with pytest.raises(ConfigError) as caught:
        parse_config_text(text, 'x.yaml')
    [problem] = caught.value.problems
    assert problem.startswith('x.yaml: %s: YAML syntax error: ' % position) and wording in problem


def test_not_utf8(tmp_path):
    path = tmp_path / 'latin1.yaml'
    path.write_bytes(b'log_level: \xe9\n')
    with pytest.raises(ConfigError) as caught:
        read_config_file(str(path), required=True)
    assert caught.value.problems == ['%s: not UTF-8 text (byte 11)' % path]


def test_schema_defaults_are_valid_values():
    for key, spec in SCHEMA.items():
        if spec.default is not None:
            assert agent_config.convert(key, spec.default) == spec.default, key


def test_overrides_from_prefixed_variables_name_the_variable():
    result = load_agent_settings(file_data=REQUIRED, file_path=PATH, env={}, host=HOST, overrides_prefix='scan_agent_',
                                 overrides={'remove_stale': True, 'api_workers': None})
    assert result['settings']['remove_stale'] is True
    assert result['sources']['remove_stale'] == 'variable scan_agent_remove_stale'
    assert result['sources']['api_workers'] == 'default'
    with pytest.raises(ConfigError) as caught:
        load_agent_settings(file_data=REQUIRED, file_path=PATH, env={}, host=HOST, overrides_prefix='scan_agent_',
                            overrides={'remove_stael': True, 'api_workers': 99})
    assert caught.value.problems == [
        'variable scan_agent_remove_stael: unknown setting (did you mean scan_agent_remove_stale?)',
        'variable scan_agent_api_workers: 99 is out of range (1 to 32)',
    ]


def test_relay_subnets_needs_no_phpipam_access_and_no_agent_name():
    data = {'relay_url': 'https://relay.example.com/reports', 'relay_token': 'relay-secret-3', 'relay_subnets': True}
    result = load(data)
    settings = result['settings']
    assert settings['mode'] == 'relay' and settings['relay_subnets'] is True
    assert settings['phpipam_url'] is None and settings['agent_code'] is None and result['warnings'] == []
    # A phpIPAM URL given anyway is not used, and the agent says so.
    warned = load(dict(data, phpipam_url='https://ipam.example.com'))['warnings']
    assert warned == ['%s: phpipam_url is not used: with relay_subnets this agent talks to the relay only' % PATH]


def test_relay_subnets_without_a_relay():
    found = problems(with_required(relay_subnets=True))
    assert found == ['%s: relay_subnets: relay_subnets needs relay_url (and relay_token): the subnet list comes from '
                     'the relay' % PATH]
