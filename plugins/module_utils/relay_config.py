# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan relay's settings: /etc/phpipam/scan_relay.yaml, the older scan_server.yaml, overrides.

One loader for both halves of the relay: the listener (the event source plugin
``ipamkit.phpipam.scan_reports``) and the applier (the relay playbook's ``scan_relay_apply``).
Values are read with the scan agent's converters, so a duration, a URL or a time zone means
the same in both files. Every problem is collected and raised at once, naming the key and the
file; no value of a secret key is ever shown.
"""

import ipaddress
import os

from ansible_collections.ipamkit.phpipam.plugins.module_utils import agent_config
from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import (
    SCHEMA as AGENT_SCHEMA,
    ConfigError,
    Setting,
    read_config_file,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import base_url_problems

DEFAULT_RELAY_CONFIG = '/etc/phpipam/scan_relay.yaml'
DEFAULT_SEED_CONFIG = '/etc/phpipam/scan_server.yaml'
RELAY_CONFIG_ENV = 'PHPIPAM_SCAN_RELAY_CONFIG'
SEED_BLOCK = 'nofusscomputing_phpipam_scan_server'
SEED_DEFAULT_PORT = 5000
MIN_TOKEN_LENGTH = 16

# The keys a relay shares with the agent: phpIPAM's connection, and how a report is applied.
_SHARED_KEYS = (
    'phpipam_url', 'phpipam_app_id', 'phpipam_token', 'phpipam_username', 'phpipam_password',
    'phpipam_ca_path', 'phpipam_validate_certs', 'phpipam_timeout', 'phpipam_timezone', 'allow_insecure_http',
    'update_mac', 'update_hostname', 'always_update', 'lastseen_refresh', 'discovered_tag',
    'discovered_description', 'exclude', 'remove_stale', 'remove_stale_after', 'remove_stale_max_percent',
    'remove_stale_scope', 'force_remove', 'manage_tags', 'api_workers', 'time_offset',
)

RELAY_SCHEMA = dict(
    [
        ('listen_address', Setting('str', '0.0.0.0')),
        ('listen_port', Setting('int', 8443, minimum=1, maximum=65535)),
        ('tls_cert', Setting('path')),
        ('tls_key', Setting('path')),
        ('tls_client_ca', Setting('path')),
        ('plain_http', Setting('bool', False)),
        ('max_body_size', Setting('int', 32 * 1024 * 1024, minimum=1024)),
        ('spool_dir', Setting('path', '/var/spool/ipamkit-phpipam-relay')),
        ('retry_interval', Setting('duration', 60, minimum=1)),
        ('agent_tokens', Setting('tokens', {})),
        ('agent_tokens_file', Setting('path')),
        ('shared_token', Setting('str')),
        ('serve_subnets', Setting('bool', True)),
    ] + [(key, AGENT_SCHEMA[key]) for key in _SHARED_KEYS]
)
RELAY_SECRET_KEYS = frozenset(('phpipam_token', 'phpipam_password', 'shared_token', 'agent_tokens'))

# phpIPAM connection from the environment, as for the agent (an EDA controller injects these).
ENV_VARS = (
    ('PHPIPAM_URL', 'phpipam_url'),
    ('PHPIPAM_APP_ID', 'phpipam_app_id'),
    ('PHPIPAM_TOKEN', 'phpipam_token'),
    ('PHPIPAM_USERNAME', 'phpipam_username'),
    ('PHPIPAM_PASSWORD', 'phpipam_password'),
    ('PHPIPAM_CA_PATH', 'phpipam_ca_path'),
    ('PHPIPAM_VALIDATE_CERTS', 'phpipam_validate_certs'),
    ('PHPIPAM_TIMEZONE', 'phpipam_timezone'),
)

# NoFussComputing's scan server block: only these two keys carry over.
SEED_KEYS = {'http_port': 'listen_port', 'auth_token': 'shared_token'}


def _to_tokens(value):
    """{agent code: token}: both non-empty strings."""
    if not isinstance(value, dict):
        raise agent_config._Bad('expected a mapping of agent code to token, got %s' % agent_config._type_name(value))
    tokens, items = {}, []
    for code, token in value.items():
        if not isinstance(code, (str, int)) or isinstance(code, bool) or not str(code).strip():
            items.append('[%s] an agent code must be a non-empty string' % agent_config._show(code, 20))
            continue
        if not isinstance(token, str) or not token.strip():
            items.append('[%s] the token must be a non-empty string' % code)
            continue
        tokens[str(code)] = token
    if items:
        raise agent_config._Bad('%d bad entr%s' % (len(items), 'y' if len(items) == 1 else 'ies'), items)
    return tokens


def _convert(key, value):
    if RELAY_SCHEMA[key].kind == 'tokens':
        return _to_tokens(value)
    return agent_config.convert(key, value, schema=RELAY_SCHEMA, secret=key in RELAY_SECRET_KEYS)


def _is_loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == 'localhost'


class _RelayLoader(object):
    def __init__(self):
        self.values = {}   # key -> (value, where)
        self.problems = []
        self.warnings = []
        self.bad_keys = set()
        self.seed_mysql_keys = []

    def take(self, key, value, where):
        if value is None or (isinstance(value, str) and not value.strip() and not RELAY_SCHEMA[key].blank):
            return
        try:
            self.values[key] = (_convert(key, value), where)
            self.bad_keys.discard(key)
        except agent_config._Bad as exc:
            self.bad_keys.add(key)
            self.problems.append('%s: %s' % (where, exc))
            for item in exc.items:
                self.problems.append('%s%s' % (where, item))

    def add_mapping(self, data, path, prefix=''):
        if data is None:
            return
        if not isinstance(data, dict):
            self.problems.append('%s: expected a mapping of settings at the top level, got %s'
                                 % (path, agent_config._type_name(data)))
            return
        for key, value in data.items():
            if key == SEED_BLOCK and not prefix:
                self.add_seed(value, path)
            elif key not in RELAY_SCHEMA:
                hint = agent_config._did_you_mean(key, list(RELAY_SCHEMA))
                if key in AGENT_SCHEMA:
                    hint = ' (a scan agent setting: it belongs in scan_agent.yaml)'
                self.problems.append('%s: %s%s: unknown setting%s' % (path, prefix, agent_config._show_key(key), hint))
            else:
                self.take(key, value, '%s: %s%s' % (path, prefix, key))

    def add_seed(self, block, path):
        where = '%s: %s' % (path, SEED_BLOCK)
        if block is None:
            return
        if not isinstance(block, dict):
            self.problems.append('%s: expected a mapping, got %s' % (where, agent_config._type_name(block)))
            return
        self.take('listen_port', SEED_DEFAULT_PORT, where + ' (the older server\'s default port)')
        for key, value in block.items():
            if isinstance(key, str) and key.startswith('mysql_'):
                self.seed_mysql_keys.append(key)
            elif key in SEED_KEYS:
                self.take(SEED_KEYS[key], value, '%s.%s' % (where, key))
            else:
                self.problems.append('%s.%s: unknown setting of the older scan server (it knows http_port, '
                                     'auth_token and mysql_*)' % (where, agent_config._show_key(key)))
        if self.seed_mysql_keys:
            self.warnings.append(
                '%s: %s ignored: this relay never touches phpIPAM\'s database, it writes through the phpIPAM API. '
                'Give it an API app instead: phpipam_url, phpipam_app_id and phpipam_token (or phpipam_username '
                'and phpipam_password) in %s' % (where, ', '.join(sorted(self.seed_mysql_keys)) + (
                    ' is' if len(self.seed_mysql_keys) == 1 else ' are'), DEFAULT_RELAY_CONFIG))

    def add_env(self, env):
        for name, key in ENV_VARS:
            if (env or {}).get(name, '').strip():
                self.take(key, env[name], 'env %s' % name)

    def build(self, read_tokens_file, host_timezone):
        settings, sources = {}, {}
        for key, spec in RELAY_SCHEMA.items():
            if key in self.values:
                settings[key], sources[key] = self.values[key]
            else:
                default = spec.default
                settings[key] = dict(default) if isinstance(default, dict) else (
                    list(default) if isinstance(default, list) else default)
                sources[key] = 'default'
        if settings['phpipam_timezone'] is None:
            settings['phpipam_timezone'] = host_timezone or 'UTC'
        self._check_listener(settings, sources)
        self._check_phpipam(settings, sources)
        settings['tokens'] = self._tokens(settings, sources, read_tokens_file)
        return settings, sources

    def _check_listener(self, settings, sources):
        if settings['plain_http']:
            if not _is_loopback(settings['listen_address']):
                self.problems.append(
                    '%s: plain_http is allowed only with a loopback listen_address (behind a TLS proxy on the same '
                    'host): agents\' tokens and reports would cross the network in clear text' % sources['plain_http'])
        else:
            for key in ('tls_cert', 'tls_key'):
                if settings[key] is None and key not in self.bad_keys:
                    self.problems.append('%s: not set: the relay serves HTTPS only (give tls_cert and tls_key, PEM '
                                         'files)' % key)

    def _check_phpipam(self, settings, sources):
        missing = [key for key in ('phpipam_url', 'phpipam_app_id') if settings[key] is None and key not in self.bad_keys]
        if settings['phpipam_token'] is None and (settings['phpipam_username'] is None
                                                  or settings['phpipam_password'] is None) and \
                not self.bad_keys.intersection(('phpipam_token', 'phpipam_username', 'phpipam_password')):
            missing.append('phpipam_token (or phpipam_username and phpipam_password)')
        if missing:
            because = ''
            if self.seed_mysql_keys:
                because = ' (the relay writes through the phpIPAM API, not into its database: %s cannot replace ' \
                          'them)' % ', '.join(sorted(self.seed_mysql_keys))
            self.problems.append('the relay\'s own phpIPAM access is not set: %s%s' % (', '.join(missing), because))
        url = settings['phpipam_url']
        if url is not None:
            for problem in base_url_problems(url, settings['allow_insecure_http']):
                self.problems.append('%s: %s' % (sources['phpipam_url'], problem))

    def _tokens(self, settings, sources, read_tokens_file):
        """{token: agent code, or None for the shared token}."""
        by_code = dict(settings['agent_tokens'])
        path = settings['agent_tokens_file']
        if path is not None:
            data = read_tokens_file(path)
            if data is not None:
                try:
                    from_file = _to_tokens(data)
                except agent_config._Bad as exc:
                    self.problems.append('%s: %s' % (path, exc))
                    self.problems.extend('%s%s' % (path, item) for item in exc.items)
                    from_file = {}
                for code, token in from_file.items():
                    if code in by_code and by_code[code] != token:
                        self.problems.append('%s: agent %s also has a token in agent_tokens: give it one token'
                                             % (path, code))
                    by_code[code] = token
        tokens = {}
        for code in sorted(by_code):
            token = by_code[code]
            if token in tokens:
                self.problems.append('agent_tokens: agents %s and %s have the same token: the relay could not tell '
                                     'them apart' % (tokens[token], code))
            tokens[token] = code
            if len(token) < MIN_TOKEN_LENGTH:
                self.warnings.append('agent_tokens: the token of agent %s has %d characters: use %d or more random '
                                     'characters' % (code, len(token), MIN_TOKEN_LENGTH))
        shared = settings['shared_token']
        if shared is not None:
            if shared in tokens:
                self.problems.append('%s: the shared token is also agent %s\'s token'
                                     % (sources['shared_token'], tokens[shared]))
            tokens[shared] = None
            if len(shared) < MIN_TOKEN_LENGTH:
                self.warnings.append('%s: the shared token has %d characters: use %d or more random characters'
                                     % (sources['shared_token'], len(shared), MIN_TOKEN_LENGTH))
        if not tokens and 'agent_tokens' not in self.bad_keys:
            self.problems.append('no agent can post: give agent_tokens (agent code: token), agent_tokens_file, or '
                                 'shared_token')
        return tokens


def _read_yaml_file(path, problems, required):
    try:
        found = read_config_file(path, required=required)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None, None
    if found is None:
        return None, None
    return found['data'], found['mode']


def load_relay_settings(path=None, seed_path=None, env=None, overrides=None, host_timezone=None):
    """The relay's settings, checked.

    :param path: the relay's config file; None means $PHPIPAM_SCAN_RELAY_CONFIG, else
        /etc/phpipam/scan_relay.yaml if it exists.
    :param seed_path: the older server's file; None means /etc/phpipam/scan_server.yaml if it exists,
        False means none.
    :param overrides: settings given directly (event source arguments, module options); None values do not count.
    :returns: dict ``settings`` (every key of RELAY_SCHEMA plus ``tokens``: {token: agent code or None}),
        ``sources``, ``warnings``, ``files`` (the files read).
    :raises ConfigError: listing every problem.
    """
    env = os.environ if env is None else env
    loader = _RelayLoader()
    files = []
    required = path is not None
    if path is None:
        named = (env.get(RELAY_CONFIG_ENV) or '').strip()
        path, required = (named, True) if named else (DEFAULT_RELAY_CONFIG, False)
    candidates = [(path, required)]
    if seed_path is not False:
        candidates.insert(0, (seed_path or DEFAULT_SEED_CONFIG, seed_path is not None))
    for file_path, must_exist in candidates:
        data, mode = _read_yaml_file(file_path, loader.problems, must_exist)
        if data is None and mode is None:
            continue
        files.append(file_path)
        if mode is not None and mode & 0o077 and data:
            loader.warnings.append('%s holds secrets and can be read by other users (mode %04o): chmod 600 it'
                                   % (file_path, mode))
        loader.add_mapping(data, file_path)
    loader.add_env(env)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in RELAY_SCHEMA:
            loader.problems.append('%s: unknown setting%s' % (key, agent_config._did_you_mean(key, list(RELAY_SCHEMA))))
            continue
        loader.take(key, value, key)

    def read_tokens_file(tokens_path):
        data, dummy = _read_yaml_file(tokens_path, loader.problems, True)
        return data

    settings, sources = loader.build(read_tokens_file, host_timezone)
    if loader.problems:
        count = len(loader.problems)
        raise ConfigError(loader.problems, summary='The scan relay configuration has %d problem%s; no report was '
                          'received or applied:' % (count, '' if count == 1 else 's'))
    return {'settings': settings, 'sources': sources, 'warnings': loader.warnings, 'files': files}


def client_options(settings):
    """The relay's own phpIPAM connection, as api.client_from_options and PhpipamClient take it."""
    return {
        'url': settings['phpipam_url'], 'app_id': settings['phpipam_app_id'],
        'token': settings['phpipam_token'], 'username': settings['phpipam_username'],
        'password': settings['phpipam_password'], 'validate_certs': settings['phpipam_validate_certs'],
        'ca_path': settings['phpipam_ca_path'], 'timeout': settings['phpipam_timeout'],
        'allow_insecure_http': settings['allow_insecure_http'], 'timezone': settings['phpipam_timezone'],
    }
