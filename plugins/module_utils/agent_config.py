# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan agent's settings: one validated, flat dict from defaults, a YAML file, the environment and overrides.

Later sources win: built-in defaults < the config file < environment variables < overrides.
The file's top level holds our flat keys; it may also hold a ``nofusscomputing_phpipam_scan_agent``
block (NoFussComputing's scan agent), and the environment may hold the ``IPAM_*`` variables of
Jon Spriggs' phpipam-python-scanagent. Both are mapped onto our keys; our own names win.

Everything here is pure except :func:`read_config_file`: the loader takes the file's data, the
environment and facts about the host as arguments, so nothing after it reads files or the
environment. Every problem is collected and raised at once as one :class:`ConfigError`; no
message ever holds a token, password or agent code.
"""

import difflib
import ipaddress
import os
import re
import stat

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

from ansible.module_utils.common.yaml import HAS_YAML, SafeLoader

try:
    import yaml
except ImportError:  # pragma: no cover - PyYAML comes with ansible-core on the controller
    yaml = None

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import (
    base_url_problems,
    is_loopback_host,
    shown_url,
    url_syntax_problem,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamConfigError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import parse_flag
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import TimeZoneError, get_zone

DEFAULT_CONFIG_PATH = '/etc/phpipam/scan_agent.yaml'
CONFIG_PATH_ENV = 'PHPIPAM_SCAN_AGENT_CONFIG'
SEED_BLOCK = 'nofusscomputing_phpipam_scan_agent'
DEFAULT_SOURCE = 'default'
OVERRIDES_SOURCE = 'overrides'
_INSECURE_SOURCE = 'env IPAM_SERVER_INSECURE'

DURATION_HINT = 'use 90, 90s, 15m, 1h30m, 2d'
AGENT_KEYS = ('agent_code', 'agent_id', 'agent_name')
# Keys whose value is never shown, and whose presence in a readable file is warned about.
SECRET_KEYS = frozenset(('phpipam_token', 'phpipam_password', 'relay_token', 'agent_code'))
FILE_SECRET_KEYS = ('phpipam_token', 'phpipam_password', 'relay_token')


class Setting(object):
    """One setting: its kind (how values are read and normalised), default and limits."""

    __slots__ = ('kind', 'default', 'minimum', 'maximum', 'choices', 'blank')

    def __init__(self, kind, default=None, minimum=None, maximum=None, choices=None, blank=False):
        self.kind = kind
        self.default = default
        self.minimum = minimum
        self.maximum = maximum
        self.choices = choices
        self.blank = blank


# Every setting, in the order they are documented (docs/configuration.md).
SCHEMA = {
    'phpipam_url': Setting('url'),
    'phpipam_app_id': Setting('str'),
    'phpipam_token': Setting('str'),
    'phpipam_username': Setting('str'),
    'phpipam_password': Setting('str'),
    'phpipam_ca_path': Setting('path'),
    'phpipam_validate_certs': Setting('bool', True),
    'phpipam_timeout': Setting('duration', 30, minimum=1),
    'phpipam_timezone': Setting('timezone'),
    'allow_insecure_http': Setting('bool', False),
    'agent_code': Setting('str'),
    'agent_id': Setting('int', minimum=1),
    'agent_name': Setting('str'),
    'relay_url': Setting('url'),
    'relay_token': Setting('str'),
    'relay_ca_path': Setting('path'),
    'relay_subnets': Setting('bool', False),
    'nmap_path': Setting('path'),
    'nmap_timing': Setting('int', 4, minimum=0, maximum=5),
    'nmap_max_rate': Setting('int', minimum=1),
    'nmap_min_rate': Setting('int', minimum=1),
    'nmap_host_timeout': Setting('duration', minimum=1),
    'nmap_probe_ports': Setting('ports', []),
    'nmap_privileged': Setting('auto_bool', 'auto'),
    'ipv6_discovery': Setting('bool', True),
    'scan_timeout': Setting('duration', minimum=1),
    'min_scan_interval': Setting('duration', 0),
    'update_mac': Setting('bool', False),
    'update_hostname': Setting('bool', False),
    'always_update': Setting('bool', True),
    'lastseen_refresh': Setting('duration', 0),
    'discovered_tag': Setting('str', 'Used'),
    'discovered_description': Setting('str', '-- autodiscovered --', blank=True),
    'exclude': Setting('exclude', []),
    'remove_stale': Setting('bool', False),
    'remove_stale_after': Setting('duration', 48 * 3600),
    'remove_stale_max_percent': Setting('int', 25, minimum=0, maximum=100),
    'remove_stale_scope': Setting('choice', 'agent', choices=('agent', 'all')),
    'force_remove': Setting('bool', False),
    'manage_tags': Setting('bool', False),
    'api_workers': Setting('int', 4, minimum=1, maximum=32),
    'time_offset': Setting('int', 0),
    'cache_expire_time': Setting('duration', 0),
    'cache_dir': Setting('path'),
    'lock_path': Setting('path'),
    'sleep_duration': Setting('duration', 0),
    'log_level': Setting('str', 'INFO'),
}

# Our environment variables: the collection's standard connection variables plus the agent's own.
ENV_VARS = (
    ('PHPIPAM_URL', 'phpipam_url'),
    ('PHPIPAM_APP_ID', 'phpipam_app_id'),
    ('PHPIPAM_TOKEN', 'phpipam_token'),
    ('PHPIPAM_USERNAME', 'phpipam_username'),
    ('PHPIPAM_PASSWORD', 'phpipam_password'),
    ('PHPIPAM_CA_PATH', 'phpipam_ca_path'),
    ('PHPIPAM_VALIDATE_CERTS', 'phpipam_validate_certs'),
    ('PHPIPAM_TIMEOUT', 'phpipam_timeout'),
    ('PHPIPAM_TIMEZONE', 'phpipam_timezone'),
    ('PHPIPAM_AGENT_CODE', 'agent_code'),
    ('PHPIPAM_RELAY_URL', 'relay_url'),
    ('PHPIPAM_RELAY_TOKEN', 'relay_token'),
    ('PHPIPAM_RELAY_SUBNETS', 'relay_subnets'),
)

# phpipam-python-scanagent's variables (IPAM_SERVER and IPAM_SERVER_INSECURE are handled apart).
LEGACY_ENV_VARS = (
    ('IPAM_API_CLIENT', 'phpipam_app_id'),
    ('IPAM_API_TOKEN', 'phpipam_token'),
    ('IPAM_API_AGENT_CODE', 'agent_code'),
    ('IPAM_MIN_TIME_BETWEEN_SCANS', 'min_scan_interval'),
    ('IPAM_ALWAYS_UPDATE', 'always_update'),
    ('IPAM_REMOVE_OLD_HOSTS', 'remove_stale'),
    ('IPAM_REMOVE_OLD_HOST_DELAY', 'remove_stale_after'),
    ('IPAM_SLEEP_DURATION', 'sleep_duration'),
    ('LOG_LEVEL', 'log_level'),
)

# NoFussComputing's block: seed key -> our key (http_server and http_port make relay_url).
SEED_KEYS = {
    'api_url': 'phpipam_url',
    'client_name': 'phpipam_app_id',
    'client_token': 'phpipam_token',
    'scanagent_code': 'agent_code',
    'auth_token': 'relay_token',
    'ca_path': 'relay_ca_path',
    'cache_expire_time': 'cache_expire_time',
    'epoch_time_offset': 'time_offset',
}
SEED_RELAY_KEYS = ('http_server', 'http_port')
SEED_DEFAULT_HTTP_PORT = 5000

# Where a user can set each required setting, for "missing" messages.
_REQUIRED_HINTS = {
    'phpipam_url': 'PHPIPAM_URL or IPAM_SERVER',
    'phpipam_app_id': 'PHPIPAM_APP_ID or IPAM_API_CLIENT',
}

_INT_RE = re.compile(r'^[+-]?\d+$')
_DURATION_PART_RE = re.compile(r'(\d+(?:\.\d+)?)([dhms]?)')
_DURATION_UNITS = {'d': 86400, 'h': 3600, 'm': 60, 's': 1}
# A unit-less last part follows the unit before it: 1h30 is 1h30m, 2m30 is 2m30s.
_NEXT_UNIT = {'d': 'h', 'h': 'm', 'm': 's'}


class ConfigError(PhpipamConfigError):
    """The scan agent's configuration is unusable: every problem, one per line after a summary."""

    def __init__(self, problems, summary=None):
        self.problems = list(problems)
        if summary is None:
            count = len(self.problems)
            summary = 'The scan agent configuration has %d problem%s; nothing was scanned or changed:' % (
                count, '' if count == 1 else 's')
        super(ConfigError, self).__init__(summary)

    def __str__(self):
        return '\n'.join([self.summary] + ['- %s' % problem for problem in self.problems])

    def to_dict(self):
        detail = super(ConfigError, self).to_dict()
        detail['problems'] = list(self.problems)
        return detail


class _Bad(ValueError):
    """A value that cannot be used; the text says why (without the prefix naming source and key).

    ``items`` holds one reason per bad list element, each starting with its ``[index]``.
    """

    def __init__(self, text, items=None):
        super(_Bad, self).__init__(text)
        self.items = items or []


# ---------------------------------------------------------------------- reading


def read_config_file(path, required):
    """Read and parse the YAML file at ``path``: the loader's only file access.

    Returns ``None`` when the file does not exist and is not ``required``, else a dict with
    ``path``, ``data`` (the parsed top level) and ``mode`` (permission bits).
    """
    try:
        with open(path, 'rb') as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            raw = handle.read()
    except FileNotFoundError:
        if not required:
            return None
        raise ConfigError(['%s: no such file' % path])
    except NotADirectoryError:
        # Older agents keep an environment file named /etc/phpipam: then the default file
        # cannot exist, which is the same as "not there" unless a path was asked for.
        if not required:
            return None
        raise ConfigError(['%s: no such file (a part of the path is not a directory)' % path])
    except IsADirectoryError:
        raise ConfigError(['%s: is a directory, not a YAML file' % path])
    except OSError as exc:
        raise ConfigError(['%s: cannot read: %s' % (path, exc.strerror or exc)])
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise ConfigError(['%s: not UTF-8 text (byte %d)' % (path, exc.start)])
    return {'path': path, 'data': parse_config_text(text, path), 'mode': mode}


class _UniqueKeyLoader(SafeLoader):  # pylint: disable=too-many-ancestors
    """A safe YAML loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, dummy in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # unhashable key: the base class explains it
                pass
        return super(_UniqueKeyLoader, self).construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):

    def __init__(self, key, first_line, mark):
        super(_DuplicateKey, self).__init__(key)
        self.key = key
        self.first_line = first_line
        self.mark = mark


def parse_config_text(text, label):
    """Parse YAML text into its top-level value; syntax errors name ``label`` and the line."""
    if not HAS_YAML or yaml is None:  # pragma: no cover - PyYAML comes with ansible-core
        raise ConfigError(['%s: cannot parse YAML: the Python library PyYAML is missing' % label])
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: plain data only
    except _DuplicateKey as exc:
        raise ConfigError(['%s: line %d: key %s is given twice (first on line %d)'
                           % (label, exc.mark.line + 1, _show_key(exc.key), exc.first_line)])
    except yaml.MarkedYAMLError as exc:
        # Only the position and the problem: PyYAML's own text quotes the line, which may hold a secret.
        mark = exc.problem_mark or exc.context_mark
        where = 'line %d, column %d' % (mark.line + 1, mark.column + 1) if mark else 'unknown position'
        problem = exc.problem or exc.context or 'invalid YAML'
        raise ConfigError(['%s: %s: YAML syntax error: %s' % (label, where, problem)])
    except yaml.YAMLError as exc:
        raise ConfigError(['%s: YAML error: %s' % (label, type(exc).__name__)])


# ---------------------------------------------------------------- value checks


def _show(value, limit=60):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 4] + '...' + text[-1]
    return text


def _show_key(key):
    if isinstance(key, str) and re.match(r'^[\w.-]{1,60}$', key):
        return key
    return _show(key, 40)


def _type_name(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, (list, tuple)):
        return 'a list'
    if isinstance(value, dict):
        return 'a mapping'
    return 'a %s' % type(value).__name__


def parse_duration(value):
    """Seconds (int) from an int or a string such as ``90``, ``90s``, ``15m``, ``1h30m`` or ``2d``."""
    if isinstance(value, bool):
        raise _Bad('%s is not a duration (%s)' % (_show(value), DURATION_HINT))
    if isinstance(value, (int, float)):
        if value < 0:
            raise _Bad('%s is negative: a duration is 0 or more seconds' % _show(value))
        return int(round(value))
    if not isinstance(value, str):
        raise _Bad('expected a duration (%s), got %s' % (DURATION_HINT, _type_name(value)))
    text = re.sub(r'\s+', '', value).lower()
    parts = _DURATION_PART_RE.findall(text)
    if not text or ''.join(number + unit for number, unit in parts) != text:
        raise _Bad('%s is not a duration (%s)' % (_show(value), DURATION_HINT))
    total = 0.0
    previous = None
    order = 'dhms'
    for index, (number, unit) in enumerate(parts):
        if not unit:
            if index != len(parts) - 1 or (previous is not None and previous not in _NEXT_UNIT):
                raise _Bad('%s is not a duration (%s)' % (_show(value), DURATION_HINT))
            unit = _NEXT_UNIT[previous] if previous else 's'
        if previous is not None and order.index(unit) <= order.index(previous):
            raise _Bad('%s is not a duration: give each unit once, largest first (%s)' % (_show(value), DURATION_HINT))
        total += float(number) * _DURATION_UNITS[unit]
        previous = unit
    return int(round(total))


def _to_bool(value):
    try:
        return parse_flag(value)
    except ValueError:
        shown = _show(value) if isinstance(value, (str, int, float)) else _type_name(value)
        raise _Bad('expected true or false, got %s' % shown)


def _to_int(value):
    if isinstance(value, bool):
        raise _Bad('expected an integer, got %s' % _show(value))
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value.strip())
    raise _Bad('expected an integer, got %s' % (_show(value) if isinstance(value, (str, float)) else _type_name(value)))


def _to_str(value, secret):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _Bad('expected a string, got %s' % _type_name(value))
    text = str(value)
    if text != text.strip():
        if secret:
            raise _Bad('has leading or trailing white space (a copy and paste error?)')
        text = text.strip()
    return text


def _check_range(number, spec):
    if spec.minimum is not None and spec.maximum is not None and not spec.minimum <= number <= spec.maximum:
        raise _Bad('%s is out of range (%s to %s)' % (number, spec.minimum, spec.maximum))
    if spec.minimum is not None and number < spec.minimum:
        raise _Bad('%s is too small (at least %s)' % (number, spec.minimum))
    return number


def _to_ports(value):
    if isinstance(value, str):
        items = [item for item in re.split(r'[\s,]+', value.strip()) if item]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        raise _Bad('expected a list of port numbers, got %s' % _type_name(value))
    ports = set()
    for index, item in enumerate(items):
        try:
            port = _to_int(item)
        except _Bad:
            raise _Bad('[%d]: %s is not a port number' % (index, _show(item)))
        if not 1 <= port <= 65535:
            raise _Bad('[%d]: %d is out of range (1 to 65535)' % (index, port))
        ports.add(port)
    return sorted(ports)


def _to_auto_bool(value):
    if isinstance(value, str) and value.strip().lower() == 'auto':
        return 'auto'
    try:
        return _to_bool(value)
    except _Bad:
        raise _Bad("expected 'auto', true or false, got %s" % (_show(value) if isinstance(value, str) else _type_name(value)))


def normalize_exclude_entry(text):
    """One exclude entry (an IP, a CIDR or an ``a-b`` range) in canonical form."""
    text = text.strip()
    if '-' in text and '/' not in text:
        first_text, last_text = (part.strip() for part in text.split('-', 1))
        try:
            first = ipaddress.ip_address(first_text)
        except ValueError:
            raise _Bad('%s: %s is not an IP address' % (_show(text), _show(first_text)))
        if first.version == 4 and last_text.isdigit() and int(last_text) <= 255:
            # 198.18.0.5-20: the last octet only.
            last_text = '%s.%s' % (first_text.rsplit('.', 1)[0], last_text)
        try:
            last = ipaddress.ip_address(last_text)
        except ValueError:
            raise _Bad('%s: %s is not an IP address' % (_show(text), _show(last_text)))
        if first.version != last.version:
            raise _Bad('%s: the range mixes IPv4 and IPv6' % _show(text))
        if last < first:
            raise _Bad('%s: the range ends before it starts' % _show(text))
        return '%s-%s' % (first, last)
    if '/' in text:
        try:
            return str(ipaddress.ip_network(text, strict=True))
        except ValueError:
            pass
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise _Bad('%s is not an IP address, CIDR or a-b range' % _show(text))
        raise _Bad('%s has host bits set: did you mean %s?' % (_show(text), network))
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise _Bad('%s is not an IP address, CIDR or a-b range' % _show(text))


def _to_exclude(value):
    if isinstance(value, str):
        items = [item for item in re.split(r'[\s,]+', value.strip()) if item]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise _Bad('expected a list of IP addresses, CIDRs or a-b ranges, got %s' % _type_name(value))
    entries, problems = [], []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            problems.append('[%d]: expected a string, got %s' % (index, _type_name(item)))
            continue
        try:
            entry = normalize_exclude_entry(item)
        except _Bad as exc:
            problems.append('[%d]: %s' % (index, exc))
            continue
        if entry not in entries:
            entries.append(entry)
    if problems:
        raise _Bad('; '.join(problems), items=problems)
    return entries


def _to_timezone(value):
    if not isinstance(value, str):
        raise _Bad('expected a time zone name such as Europe/Berlin or an offset such as "+02:00" (quoted), got %s'
                   % _type_name(value))
    name = value.strip()
    try:
        get_zone(name)
    except TimeZoneError as exc:
        raise _Bad(str(exc))
    return name


def _to_url(value):
    """A syntactically usable http(s) URL without trailing slash; phpIPAM's own rules come later."""
    text = _to_str(value, secret=False)
    problem = url_syntax_problem(text)
    if problem:
        raise _Bad(problem)
    return text.rstrip('/')


def convert(key, value, schema=None, secret=None):
    """Normalise one value of setting ``key``; raises _Bad with a reason that never shows a secret.

    ``schema`` is another table of Settings (the relay's); ``secret`` overrides SECRET_KEYS.
    """
    spec = (schema or SCHEMA)[key]
    secret = key in SECRET_KEYS if secret is None else secret
    kind = spec.kind
    if kind == 'bool':
        return _to_bool(value)
    if kind == 'int':
        return _check_range(_to_int(value), spec)
    if kind == 'duration':
        return _check_range(parse_duration(value), spec)
    if kind == 'choice':
        text = _to_str(value, secret=False)
        if text not in spec.choices:
            raise _Bad('%s is not one of %s' % (_show(text), ', '.join(spec.choices)))
        return text
    if kind == 'auto_bool':
        return _to_auto_bool(value)
    if kind == 'ports':
        return _to_ports(value)
    if kind == 'exclude':
        return _to_exclude(value)
    if kind == 'timezone':
        return _to_timezone(value)
    if kind == 'url':
        return _to_url(value)
    text = _to_str(value, secret)
    if not text and not spec.blank:
        raise _Bad('is empty')
    return text


# ------------------------------------------------------------------ loading


class _Candidate(object):
    """A value for a setting from one source: ``source`` for the result, ``where`` for messages."""

    __slots__ = ('value', 'source', 'where')

    def __init__(self, value, source, where):
        self.value = value
        self.source = source
        self.where = where


def _is_unset(value):
    return value is None or (isinstance(value, str) and not value.strip())


def _did_you_mean(key, known):
    if not isinstance(key, str):
        return ''
    matches = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return ' (did you mean %s?)' % matches[0] if matches else ''


class _Loader(object):
    """Collects the candidates of every source, then merges and checks them."""

    def __init__(self, host):
        self.host = dict(HOST_DEFAULTS)
        self.host.update(host or {})
        self.problems = []
        self.warnings = []
        # Settings given with a bad value: already reported, so not reported again as missing.
        self.bad_keys = set()
        # Layers, lowest precedence first: each a dict key -> _Candidate.
        self.layers = []

    # -- sources

    def _take(self, layer, key, value, source, where):
        """Convert ``value`` and put it into ``layer``; a bad value becomes a problem."""
        if _is_unset(value) and not (SCHEMA[key].blank and value == ''):
            return
        try:
            layer[key] = _Candidate(convert(key, value), source, where)
        except _Bad as exc:
            self.bad_keys.add(key)
            for reason in exc.items or [str(exc)]:
                self.problems.append('%s%s%s' % (where, '' if reason.startswith('[') else ': ', reason))

    def add_file(self, data, path, mode=None):
        seed_layer, flat_layer = {}, {}
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.problems.append('%s: the top level must be a mapping of settings, not %s' % (path, _type_name(data)))
            data = {}
        for key, value in data.items():
            if key == SEED_BLOCK:
                continue
            if key not in SCHEMA:
                self.problems.append('%s: %s: unknown setting%s' % (path, _show_key(key), _did_you_mean(key, list(SCHEMA) + [SEED_BLOCK])))
                continue
            self._take(flat_layer, key, value, path, '%s: %s' % (path, key))
        seed = data.get(SEED_BLOCK)
        if seed is not None:
            self._add_seed(seed, path, seed_layer)
        self._merge_pair(seed_layer, flat_layer)
        self.layers.extend([seed_layer, flat_layer])
        if mode is not None and mode & 0o044:
            held = [key for key in FILE_SECRET_KEYS if key in flat_layer or key in seed_layer]
            if held:
                self.warnings.append(
                    '%s holds secrets (%s) and is readable by %s (mode %04o): chmod 600 it (or 640 with a dedicated group)'
                    % (path, ', '.join(held), 'group and others' if mode & 0o004 and mode & 0o040 else
                       ('others' if mode & 0o004 else 'its group'), mode))

    def _add_seed(self, seed, path, layer):
        prefix = '%s: %s.' % (path, SEED_BLOCK)
        if not isinstance(seed, dict):
            self.problems.append('%s: %s: must be a mapping, not %s' % (path, SEED_BLOCK, _type_name(seed)))
            return
        known = list(SEED_KEYS) + list(SEED_RELAY_KEYS)
        for key, value in seed.items():
            if key in SEED_RELAY_KEYS:
                continue
            if key not in SEED_KEYS:
                self.problems.append('%s%s: unknown setting of the NoFussComputing agent%s'
                                     % (prefix, _show_key(key), _did_you_mean(key, known)))
                continue
            self._take(layer, SEED_KEYS[key], value, path, prefix + key)
        server, port = seed.get('http_server'), seed.get('http_port')
        if _is_unset(server) and _is_unset(port):
            for key in ('auth_token', 'ca_path'):
                if not _is_unset(seed.get(key)):
                    layer.pop(SEED_KEYS[key], None)
                    self.warnings.append(
                        '%s%s is ignored: without http_server or http_port there is no relay; this agent writes to '
                        'phpIPAM directly' % (prefix, key))
            return
        url = self._seed_relay_url(server, port, prefix)
        if url:
            layer['relay_url'] = _Candidate(url, path, prefix + ('http_server' if not _is_unset(server) else 'http_port'))

    def _seed_relay_url(self, server, port, prefix):
        """NoFussComputing's relay: ``<http_server>:<http_port>/``, http_server with its scheme."""
        ok = True
        if _is_unset(port):
            port = SEED_DEFAULT_HTTP_PORT
        else:
            try:
                port = _check_range(_to_int(port), Setting('int', minimum=1, maximum=65535))
            except _Bad as exc:
                self.problems.append('%shttp_port: %s' % (prefix, exc))
                ok = False
        if _is_unset(server):
            server = 'http://127.0.0.1'
        try:
            text = _to_str(server, secret=False)
            if '://' not in text:
                raise _Bad('%s has no scheme: give http:// or https:// as the NoFussComputing agent expects'
                           % shown_url(text))
            parts = urlsplit(_to_url(text))
            if parts.port is not None:
                raise _Bad('%s already has a port: give the port in http_port' % shown_url(text))
        except _Bad as exc:
            self.problems.append('%shttp_server: %s' % (prefix, exc))
            return None
        if not ok:
            return None
        host = parts.hostname if ':' not in parts.hostname else '[%s]' % parts.hostname
        return '%s://%s:%d%s' % (parts.scheme, host, port, parts.path.rstrip('/'))

    def add_env(self, env):
        env = dict((name, value) for name, value in (env or {}).items() if not _is_unset(value))
        legacy, ours = {}, {}
        for name, key in ENV_VARS:
            if name in env:
                self._take(ours, key, env[name], 'env %s' % name, 'environment %s' % name)
        for name, key in LEGACY_ENV_VARS:
            if name in env:
                value = env[name]
                if key in ('always_update', 'remove_stale'):
                    value = self._legacy_flag(name, value)
                    if value is None:
                        continue
                self._take(legacy, key, value, 'env %s' % name, 'environment %s' % name)
        self._add_ipam_server(env, legacy)
        self._merge_pair(legacy, ours)
        self.layers.extend([legacy, ours])

    def _legacy_flag(self, name, value):
        """phpipam-python-scanagent's flags are '1' (on) or '0' (off)."""
        try:
            return parse_flag(value)
        except ValueError:
            pass
        self.problems.append('environment %s: expected 1 or 0, got %s' % (name, _show(value)))
        self.bad_keys.add(dict(LEGACY_ENV_VARS)[name])
        return None

    def _add_ipam_server(self, env, layer):
        server = env.get('IPAM_SERVER')
        insecure_text = env.get('IPAM_SERVER_INSECURE')
        insecure = insecure_text is not None and insecure_text.strip().lower() not in ('0', 'false', 'no', 'off')
        if server is None:
            if insecure:
                self.warnings.append('environment IPAM_SERVER_INSECURE is ignored: IPAM_SERVER is not set')
            return
        text = server.strip()
        if '://' not in text:
            # A host name (or host/path), as phpipam-python-scanagent takes it.
            text = '%s://%s' % ('http' if insecure else 'https', text)
        elif insecure:
            self.warnings.append('environment IPAM_SERVER_INSECURE is ignored: IPAM_SERVER already names its scheme')
            insecure = False
        self._take(layer, 'phpipam_url', text, 'env IPAM_SERVER', 'environment IPAM_SERVER')
        if insecure and 'phpipam_url' in layer:
            # Only for this URL: build() drops it when another source's phpipam_url wins.
            layer['allow_insecure_http'] = _Candidate(True, _INSECURE_SOURCE, 'environment IPAM_SERVER_INSECURE=%s'
                                                      % insecure_text.strip())

    def add_overrides(self, overrides, prefix=None):
        """Settings from the playbook. With ``prefix`` they came from variables named <prefix><setting>,
        and messages name those variables."""
        layer = {}
        label = 'variables %s*' % prefix if prefix else 'overrides'
        if overrides is not None and not isinstance(overrides, dict):
            self.problems.append('%s: must be a mapping, not %s' % (label, _type_name(overrides)))
            overrides = None
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            where = 'variable %s%s' % (prefix, key) if prefix else 'overrides: %s' % key
            if key not in SCHEMA:
                known = [(prefix or '') + name for name in SCHEMA]
                shown = '%s%s' % (prefix or '', key)
                self.problems.append('%s: unknown setting%s' % (
                    where if prefix else 'overrides: %s' % _show_key(key), _did_you_mean(shown, known)))
                continue
            self._take(layer, key, value, 'variable %s%s' % (prefix, key) if prefix else OVERRIDES_SOURCE, where)
        self.layers.append(layer)

    def _merge_pair(self, lower, upper):
        """Within one source, our names win over the older agents'; say so when they disagree."""
        for key in SCHEMA:
            candidate, other = lower.get(key), upper.get(key)
            if candidate is None:
                continue
            if other is not None and other.value != candidate.value:
                shown = '' if key in SECRET_KEYS else ' (%s, not %s)' % (_show(other.value), _show(candidate.value))
                self.warnings.append('%s and %s both set %s and differ; %s wins%s'
                                     % (other.where, candidate.where, key, other.where, shown))

    # -- result

    def _winner(self, key, skip_source=None):
        for layer in reversed(self.layers):
            if key in layer and layer[key].source != skip_source:
                return layer[key]
        return None

    def _insecure_only_for_ipam_server(self, settings, sources):
        """IPAM_SERVER_INSECURE allows plain http for IPAM_SERVER's URL, not for a URL from elsewhere."""
        if sources['allow_insecure_http'] != _INSECURE_SOURCE:
            return
        insecure = self._winner('allow_insecure_http')
        if sources['phpipam_url'] == 'env IPAM_SERVER':
            self.warnings.append(
                '%s: phpIPAM is reached over plain http://, so the API token travels unencrypted (allow_insecure_http '
                'is on); use https:// instead' % insecure.where)
            return
        self.warnings.append('%s is ignored: phpipam_url comes from %s, not from IPAM_SERVER'
                             % (insecure.where.split('=')[0], self._winner('phpipam_url').where))
        fallback = self._winner('allow_insecure_http', skip_source=_INSECURE_SOURCE)
        settings['allow_insecure_http'] = fallback.value if fallback else SCHEMA['allow_insecure_http'].default
        sources['allow_insecure_http'] = fallback.source if fallback else DEFAULT_SOURCE

    def _relay_subnets(self):
        """Whether the subnet list comes from the relay (then the agent needs no phpIPAM access)."""
        candidate = self._winner('relay_subnets')
        return bool(candidate and candidate.value)

    def _agent_identity(self):
        """The agent is named by the highest source that names it at all, with exactly one key."""
        for layer in reversed(self.layers):
            given = [key for key in AGENT_KEYS if key in layer]
            if len(given) > 1:
                self.problems.append('%s: give only one of agent_code, agent_id and agent_name (got %s)'
                                     % (layer[given[0]].where, ' and '.join(given)))
                return dict((key, layer.get(key)) for key in AGENT_KEYS)
            if given:
                return dict((key, layer.get(key)) for key in AGENT_KEYS)
        if self.bad_keys.intersection(AGENT_KEYS) or self._relay_subnets():
            # With relay_subnets the relay knows the agent from its token.
            return dict((key, None) for key in AGENT_KEYS)
        self.problems.append('agent: not set: give one of agent_code (PHPIPAM_AGENT_CODE, IPAM_API_AGENT_CODE, '
                             '%s.scanagent_code), agent_id or agent_name' % SEED_BLOCK)
        return dict((key, None) for key in AGENT_KEYS)

    def build(self):
        settings, sources = {}, {}
        agent = self._agent_identity()
        for key, spec in SCHEMA.items():
            candidate = agent[key] if key in AGENT_KEYS else self._winner(key)
            if candidate is None:
                settings[key] = list(spec.default) if isinstance(spec.default, list) else spec.default
                sources[key] = DEFAULT_SOURCE
            else:
                settings[key] = candidate.value
                sources[key] = candidate.source
        self._insecure_only_for_ipam_server(settings, sources)
        self._defaults_from_host(settings)
        self._check_connection(settings, sources)
        self._check_relay(settings, sources)
        self._check_files(settings, sources)
        settings['mode'] = 'relay' if settings['relay_url'] else 'direct'
        sources['mode'] = sources['relay_url']
        return settings, sources

    def _where(self, key, sources):
        candidate = self._winner(key)
        return candidate.where if candidate is not None else '%s (%s)' % (key, sources.get(key, DEFAULT_SOURCE))

    def _defaults_from_host(self, settings):
        host = self.host
        if settings['phpipam_timezone'] is None:
            zone = host.get('local_timezone') or 'UTC'
            try:
                settings['phpipam_timezone'] = _to_timezone(zone)
            except _Bad as exc:
                self.problems.append('phpipam_timezone: not set, and the local time zone cannot be used (%s): '
                                     'set phpipam_timezone' % exc)
        root = host.get('uid') == 0
        if settings['cache_dir'] is None:
            settings['cache_dir'] = '/var/cache/ipamkit-phpipam' if root else \
                os.path.join(host.get('home') or '/tmp', '.cache', 'ipamkit-phpipam')
        if settings['lock_path'] is None:
            settings['lock_path'] = '/run/lock/ipamkit-phpipam-scan-agent.lock' if host.get('run_lock_writable') else \
                '/tmp/ipamkit-phpipam-scan-agent-%s.lock' % host.get('uid')
        home = host.get('home')
        for key in ('phpipam_ca_path', 'relay_ca_path', 'nmap_path', 'cache_dir', 'lock_path'):
            value = settings[key]
            if home and isinstance(value, str) and (value == '~' or value.startswith('~/')):
                settings[key] = home + value[1:]

    def _check_connection(self, settings, sources):
        if settings['relay_subnets'] and settings['relay_url']:
            # Nothing is asked of phpIPAM: the relay lists the subnets and takes the report.
            url = settings['phpipam_url']
            if url is not None:
                self.warnings.append('%s is not used: with relay_subnets this agent talks to the relay only'
                                     % self._where('phpipam_url', sources))
            return
        for key in ('phpipam_url', 'phpipam_app_id'):
            if settings[key] is None and key not in self.bad_keys:
                self.problems.append('%s: not set: put it in the config file or set %s' % (key, _REQUIRED_HINTS[key]))
        if settings['phpipam_token'] is None and not self.bad_keys.intersection(
                ('phpipam_token', 'phpipam_username', 'phpipam_password')):
            if settings['phpipam_username'] is None and settings['phpipam_password'] is None:
                self.problems.append('phpipam_token: not set: give phpipam_token (PHPIPAM_TOKEN, IPAM_API_TOKEN), '
                                     'or phpipam_username and phpipam_password')
            elif settings['phpipam_password'] is None:
                self.problems.append('%s: phpipam_password is needed with phpipam_username (or give phpipam_token)'
                                     % self._where('phpipam_username', sources))
            elif settings['phpipam_username'] is None:
                self.problems.append('%s: phpipam_username is needed with phpipam_password (or give phpipam_token)'
                                     % self._where('phpipam_password', sources))
        app_id = settings['phpipam_app_id']
        if app_id is not None and ('/' in app_id or re.search(r'\s', app_id)):
            self.problems.append('%s: %s is not an API app id (no slashes or spaces)'
                                 % (self._where('phpipam_app_id', sources), _show(app_id)))
        url = settings['phpipam_url']
        if url is None:
            return
        for problem in base_url_problems(url, settings['allow_insecure_http']):
            self.problems.append('%s: %s' % (self._where('phpipam_url', sources), problem))

    def _check_relay(self, settings, sources):
        url = settings['relay_url']
        if url is None:
            if settings['relay_subnets']:
                self.problems.append('%s: relay_subnets needs relay_url (and relay_token): the subnet list comes from '
                                     'the relay' % self._where('relay_subnets', sources))
            for key in ('relay_token', 'relay_ca_path'):
                if settings[key] is not None and sources[key] != DEFAULT_SOURCE:
                    self.warnings.append('%s is ignored: relay_url is not set, so this agent writes to phpIPAM directly'
                                         % self._where(key, sources))
            return
        where = self._where('relay_url', sources)
        if settings['relay_token'] is None:
            self.problems.append('%s: relay_token is required with relay_url (PHPIPAM_RELAY_TOKEN, or %s.auth_token)'
                                 % (where, SEED_BLOCK))
        parts = urlsplit(url)
        if parts.scheme == 'http' and not is_loopback_host(parts.hostname):
            self.problems.append('%s: refusing to send the relay token over plain http:// to %s: use https:// '
                                 '(relay_ca_path names a private CA)' % (where, parts.hostname))

    def _check_files(self, settings, sources):
        exists = self.host.get('file_exists')
        if exists is None:
            return
        for key in ('phpipam_ca_path', 'relay_ca_path', 'nmap_path'):
            value = settings[key]
            if value is not None and sources[key] != DEFAULT_SOURCE and not exists(value):
                self.problems.append('%s: %s does not exist or is not a file' % (self._where(key, sources), value))


# Facts about the agent's host that defaults depend on; the action plugin fills them in.
HOST_DEFAULTS = {
    'uid': None,                 # effective uid: 0 puts the cache under /var/cache
    'home': None,                # home directory, for ~ and the per-user cache
    'run_lock_writable': False,  # whether /run/lock is writable
    'local_timezone': 'UTC',     # the default phpipam_timezone
    'file_exists': None,         # callable(path) -> bool, to check CA bundles and nmap_path; None skips the check
}


def load_agent_settings(file_data=None, file_path=None, file_mode=None, env=None, overrides=None, host=None,
                        overrides_prefix=None):
    """Merge and validate the scan agent's settings.

    :param file_data: the config file's parsed top level (None: no file).
    :param file_path: the file's path, named in messages and ``sources``.
    :param file_mode: the file's permission bits, for the "readable by others" warning.
    :param env: the environment (a dict); only the variables listed in ENV_VARS, LEGACY_ENV_VARS,
        IPAM_SERVER and IPAM_SERVER_INSECURE are read.
    :param overrides: settings from the playbook; keys whose value is None do not count.
    :param overrides_prefix: when the overrides came from variables named <prefix><setting>, the
        prefix, so messages and ``sources`` name the variable.
    :param host: facts about the host, see HOST_DEFAULTS.
    :returns: dict with ``settings`` (every key of SCHEMA plus ``mode``), ``sources`` (key -> where its
        value came from) and ``warnings``.
    :raises ConfigError: listing every problem.
    """
    loader = _Loader(host)
    if file_data is not None or file_path is not None:
        loader.add_file(file_data, file_path or 'config file', file_mode)
    loader.add_env(env)
    loader.add_overrides(overrides, overrides_prefix)
    settings, sources = loader.build()
    if loader.problems:
        raise ConfigError(loader.problems)
    return {'settings': settings, 'sources': sources, 'warnings': loader.warnings}
