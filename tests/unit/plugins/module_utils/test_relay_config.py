# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay's settings: its own file, the older scan server's file, the environment, overrides."""

import pytest
import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import ConfigError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_config import client_options, load_relay_settings

TOKEN_A = 'tok-a-0123456789abcdef'
TOKEN_B = 'tok-b-0123456789abcdef'
BASE = {
    'phpipam_url': 'https://ipam.example.test', 'phpipam_app_id': 'relay', 'phpipam_token': 'app-code-secret',
    'tls_cert': '/etc/phpipam/relay.crt', 'tls_key': '/etc/phpipam/relay.key',
    'agent_tokens': {'code-a': TOKEN_A, 'code-b': TOKEN_B},
}


def write(tmp_path, name, data, mode=0o600):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    path.chmod(mode)
    return str(path)


def load(tmp_path, data, seed=None, env=None, **kwargs):
    seed_path = write(tmp_path, 'scan_server.yaml', seed) if seed is not None else False
    return load_relay_settings(write(tmp_path, 'scan_relay.yaml', data), seed_path=seed_path, env=env or {}, **kwargs)


def problems(tmp_path, data, **kwargs):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data, **kwargs)
    return caught.value.problems


def test_a_complete_file(tmp_path):
    loaded = load(tmp_path, dict(BASE, shared_token='shared-0123456789abcdef'))
    settings = loaded['settings']
    assert settings['tokens'] == {TOKEN_A: 'code-a', TOKEN_B: 'code-b', 'shared-0123456789abcdef': None}
    assert settings['listen_port'] == 8443 and settings['retry_interval'] == 60
    assert settings['spool_dir'] == '/var/spool/ipamkit-phpipam-relay'
    assert settings['remove_stale'] is False and settings['discovered_tag'] == 'Used'
    assert loaded['warnings'] == []
    options = client_options(settings)
    assert options['url'] == 'https://ipam.example.test' and options['token'] == 'app-code-secret'


def test_tls_is_required_unless_plain_http_on_loopback(tmp_path):
    data = dict(BASE)
    del data['tls_cert'], data['tls_key']
    found = problems(tmp_path, data)
    assert any(p.startswith('tls_cert: not set: the relay serves HTTPS only') for p in found)
    assert load(tmp_path, dict(data, plain_http=True, listen_address='127.0.0.1'))['settings']['plain_http'] is True
    found = problems(tmp_path, dict(data, plain_http=True, listen_address='0.0.0.0'))
    assert any('plain_http is allowed only with a loopback listen_address' in p for p in found)


def test_tokens_must_tell_agents_apart(tmp_path):
    found = problems(tmp_path, dict(BASE, agent_tokens={'code-a': TOKEN_A, 'code-b': TOKEN_A}))
    assert found == ['agent_tokens: agents code-a and code-b have the same token: the relay could not tell them apart']
    found = problems(tmp_path, dict(BASE, agent_tokens={}))
    assert found == ['no agent can post: give agent_tokens (agent code: token), agent_tokens_file, or shared_token']
    weak = load(tmp_path, dict(BASE, agent_tokens={'code-a': 'short'}))['warnings']
    assert weak == ['agent_tokens: the token of agent code-a has 5 characters: use 16 or more random characters']


def test_tokens_file_adds_agents(tmp_path):
    tokens = write(tmp_path, 'tokens.yaml', {'code-c': 'tok-c-0123456789abcdef'})
    settings = load(tmp_path, dict(BASE, agent_tokens_file=tokens))['settings']
    assert settings['tokens']['tok-c-0123456789abcdef'] == 'code-c' and len(settings['tokens']) == 3


def test_secrets_never_shown_and_readable_file_warned(tmp_path):
    found = problems(tmp_path, dict(BASE, phpipam_token=['app-code-secret'], agent_tokens='tok-a-0123456789abcdef'))
    assert len(found) == 2 and not any('app-code-secret' in p or 'tok-a' in p for p in found)
    path = write(tmp_path, 'open.yaml', BASE, mode=0o644)
    warnings = load_relay_settings(path, env={}, seed_path=False)['warnings']
    assert warnings == ['%s holds secrets and can be read by other users (mode 0644): chmod 600 it' % path]


def test_unknown_keys_named(tmp_path):
    found = problems(tmp_path, dict(BASE, listen_prot=9000, nmap_path='/usr/bin/nmap'))
    assert any('listen_prot: unknown setting (did you mean listen_port?)' in p for p in found)
    assert any('nmap_path: unknown setting (a scan agent setting: it belongs in scan_agent.yaml)' in p for p in found)


def test_older_scan_server_file(tmp_path):
    seed = {'nofusscomputing_phpipam_scan_server': {
        'http_port': 5001, 'auth_token': 'shared-0123456789abcdef', 'mysql_host': 'db', 'mysql_password': 'pw'}}
    loaded = load(tmp_path, dict(BASE, agent_tokens={}), seed=seed)
    assert loaded['settings']['listen_port'] == 5001
    assert loaded['settings']['tokens'] == {'shared-0123456789abcdef': None}
    assert "mysql_host, mysql_password are ignored: this relay never touches phpIPAM's database" in loaded['warnings'][0]
    # Without the relay's own API access the message says what to add instead of the database.
    data = dict(BASE, agent_tokens={})
    del data['phpipam_url'], data['phpipam_token']
    found = problems(tmp_path, data, seed=seed)
    assert any('phpipam_url, phpipam_token (or phpipam_username and phpipam_password)' in p
               and 'not into its database: mysql_host, mysql_password cannot replace them' in p for p in found)


def test_environment_and_overrides(tmp_path):
    env = {'PHPIPAM_URL': 'https://other.example.test', 'PHPIPAM_TOKEN': 'env-token'}
    settings = load(tmp_path, BASE, env=env, overrides={'spool_dir': '/tmp/spool', 'listen_port': None})['settings']
    assert settings['phpipam_url'] == 'https://other.example.test' and settings['phpipam_token'] == 'env-token'
    assert settings['spool_dir'] == '/tmp/spool' and settings['listen_port'] == 8443
