# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An OpenSSH client config fragment from phpIPAM: one ``Host`` entry per selected host, with its jump path.

``plan_entries`` (pure) turns the selected hosts, their jump paths (ssh_paths.network_jump_chains) and their
users into entries, problems and skipped hosts; ``render_config`` turns entries into the file's text, the same
text for the same input (sorted, no timestamps), so a rerun changes nothing. ``ssh_config_plan`` runs both on a
NetworkData. ``read_config``/``write_config`` are the only functions here that touch the file system.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import os
import re
import stat
import tempfile

from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import parse_duration
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import select_hosts
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_paths import network_jump_chains

DEFAULT_PATH = '~/.ssh/config.d/ipamkit-phpipam.conf'
FILE_MODE = 0o600
DIR_MODE = 0o700
# The first line of every file this module writes; a file without it is not overwritten unless forced.
MARKER = '# ipamkit.phpipam.ssh_config'

# ssh_config keywords are letters and digits; values must stay on their line.
_OPTION_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9]*$')
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
# A Host alias must not contain pattern characters (* ? ! ,) or blanks, which would change what it matches.
_ALIAS = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
_USER = re.compile(r'^[A-Za-z0-9._][A-Za-z0-9._-]*$')
# Written by the module itself from phpIPAM; an extra option with one of these names would contradict it.
RESERVED_OPTIONS = frozenset(('host', 'match', 'include', 'hostname', 'user', 'port', 'proxyjump'))


class SshConfigError(ValueError):
    """Bad input (an option) or a file that must not be touched: the message says which."""


def _option_values(name, value):
    if isinstance(value, bool):
        return ['yes' if value else 'no']
    if isinstance(value, (list, tuple)):
        if not value:
            raise SshConfigError('option %s: an empty list gives no value' % name)
        return [v for item in value for v in _option_values(name, item)]
    if value is None:
        raise SshConfigError('option %s has no value' % name)
    text = str(value).strip()
    if not text or _CONTROL.search(text):
        raise SshConfigError('option %s: %r is empty or holds a line break or control character' % (name, value))
    return [text]


def normalize_options(options):
    """Extra options for every entry: ``{name: value}`` -> sorted ``[(name, text)]``; a list value repeats the line."""
    out = []
    seen = set()
    for name, value in (options or {}).items():
        name = str(name).strip()
        if not _OPTION_NAME.match(name):
            raise SshConfigError('option name %r is not an ssh_config keyword (letters and digits only)' % name)
        if name.lower() in RESERVED_OPTIONS:
            raise SshConfigError('option %s is written from phpIPAM (or by the module): use user, port or the '
                                 'custom fields instead' % name)
        if name.lower() in seen:
            raise SshConfigError('option %s is given twice (keywords are not case-sensitive)' % name)
        seen.add(name.lower())
        out += [(name, text) for text in _option_values(name, value)]
    return sorted(out, key=lambda item: item[0].lower())


def _ip_sort_key(text):
    try:
        address = ipaddress.ip_address(text or '')
        return (address.version, int(address))
    except ValueError:
        return (9, 0)


def _label(host):
    return '%s (%s)' % (host['hostname'], host['ip']) if host.get('hostname') else str(host.get('ip'))


def plan_entries(selected, paths, user_of, default_user=None, port=None, match_address=True):
    """Entries for the selected hosts.

    ``paths``: {host id: JumpPath}; ``user_of(host)``: the user phpIPAM gives the host (or None), else
    ``default_user``. A host whose path has a problem gets no entry (it is never written half-way). Each Host
    pattern is used once: when several addresses share a hostname, the one with the fewest hops (then the lowest
    IP) gets the name and the others only their IP (with ``match_address``), or are skipped.

    Returns ``{'entries': [...], 'problems': [...], 'skipped': [...]}``, entries sorted by name, then IP.
    """
    entries, problems, skipped = [], [], []
    for host in selected:
        path = paths.get(host['id'])
        if path is None:
            problems.append({'host': _label(host), 'ip': host['ip'], 'problem': 'no jump path was computed'})
            continue
        if path.problem:
            problems.append({'host': _label(host), 'ip': host['ip'], 'problem': path.problem})
            continue
        name = host.get('hostname')
        if name and not _ALIAS.match(name):
            problems.append({'host': _label(host), 'ip': host['ip'],
                             'problem': 'hostname %r cannot be an ssh Host name (blanks or pattern characters)' % name})
            continue
        user = user_of(host) or default_user
        if user is not None and not _USER.match(str(user)):
            problems.append({'host': _label(host), 'ip': host['ip'], 'problem': 'SSH user %r is not a valid login name' % user})
            continue
        entries.append({
            'name': name or host['ip'], 'hostname': host['ip'], 'user': user, 'port': port,
            'proxyjump': ','.join(path.hops) or None, 'hops': list(path.hops), 'id': host['id'],
            'wanted': ([name] if name else []) + ([host['ip']] if match_address or not name else []),
        })
    # Whoever has the shortest path gets a shared name; then sort the file by name and address.
    entries.sort(key=lambda e: ((e['name'] or '').lower(), len(e['hops']), _ip_sort_key(e['hostname']), e['id']))
    used = {}
    kept = []
    for entry in entries:
        wanted = entry.pop('wanted')
        patterns = [p for p in wanted if p.lower() not in used]
        taken = [p for p in wanted if p.lower() in used]
        if not patterns:
            skipped.append({'host': '%s (%s)' % (entry['name'], entry['hostname']), 'ip': entry['hostname'],
                            'reason': '%s already used by the entry of %s' % (', '.join(taken), used[taken[0].lower()])})
            continue
        for pattern in patterns:
            used[pattern.lower()] = entry['hostname']
        entry['patterns'] = patterns
        entry['name'] = patterns[0]
        kept.append(entry)
    kept.sort(key=lambda e: (e['name'].lower(), _ip_sort_key(e['hostname'])))
    problems.sort(key=lambda p: (_ip_sort_key(p['ip']), p['host']))
    return {'entries': kept, 'problems': problems, 'skipped': skipped}


def render_config(entries, options=(), include_hint=None):
    """The file's text: a header, then one Host block per entry (HostName, User, Port, ProxyJump, extra options)."""
    lines = [MARKER + ': written from phpIPAM; changes made here are overwritten on the next run.']
    if include_hint:
        lines.append('# Use it from ~/.ssh/config (near the top, before any Host or Match block): Include %s' % include_hint)
    if not entries:
        lines.append('# No phpIPAM host is selected.')
    for entry in entries:
        lines += ['', 'Host %s' % ' '.join(entry['patterns']), '    HostName %s' % entry['hostname']]
        if entry.get('user'):
            lines.append('    User %s' % entry['user'])
        if entry.get('port'):
            lines.append('    Port %d' % entry['port'])
        if entry.get('proxyjump'):
            lines.append('    ProxyJump %s' % entry['proxyjump'])
        lines += ['    %s %s' % (name, value) for name, value in options]
    return '\n'.join(lines) + '\n'


def ssh_config_plan(data, params, now=None):
    """Select hosts of a NetworkData as the inventory does, resolve their jump chains, plan and render the file.

    ``params``: the module's options (sections, subnets, tags, custom_fields, hostname_required, seen_within,
    jump_host_field, ssh_user_field, jump_host_missing, user, port, match_address, options, path), named and
    read as the inventory plugin's (seen_within: inventory_plan.parse_duration).
    """
    options = normalize_options(params.get('options'))
    selected = select_hosts(data, sections=params.get('sections'), subnets=params.get('subnets'),
                            tags=params.get('tags'), custom=params.get('custom_fields'),
                            hostname_required=params.get('hostname_required', True),
                            seen_within=parse_duration(params.get('seen_within')), now=now)
    jump_field = params.get('jump_host_field') or 'custom_ssh_jump'
    user_field = params.get('ssh_user_field') or 'custom_ssh_user'
    default_user = params.get('user')

    def user_of(host):
        return data.inherited(host, user_field)

    # Every host can be a jump host, so the chains are resolved over all of them (one pass, shared chains).
    paths = network_jump_chains(data, jump_field, user_field, missing=params.get('jump_host_missing') or 'warn',
                                default_user=default_user)
    plan = plan_entries(selected, paths, user_of, default_user=default_user, port=params.get('port'),
                        match_address=params.get('match_address', True))
    plan['content'] = render_config(plan['entries'], options, include_hint=params.get('path'))
    plan['selected'] = len(selected)
    return plan


# ---- the file -----------------------------------------------------------------------------------------------


def read_config(path, force=False):
    """(text or None when there is no file, its mode bits or None). Refuses a file this module did not write."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None, None
        raise SshConfigError('cannot read %s: %s' % (path, exc.strerror))
    if not stat.S_ISREG(info.st_mode):
        raise SshConfigError('%s is not a regular file (a symlink or directory is never replaced)' % path)
    try:
        with open(path, 'rb') as handle:
            raw = handle.read()
    except OSError as exc:
        raise SshConfigError('cannot read %s: %s' % (path, exc.strerror))
    text = raw.decode('utf-8', 'replace')
    if not text.startswith(MARKER) and not force:
        raise SshConfigError('%s exists and was not written by ipamkit.phpipam.ssh_config (its first line is not %r): '
                             'refusing to overwrite it; choose another path or set force=true' % (path, MARKER))
    return text, stat.S_IMODE(info.st_mode)


def write_config(path, text):
    """Write atomically with mode 0600 (a temporary file in the same directory, then rename); make the missing
    directories (mode 0700) first."""
    folder = os.path.dirname(os.path.abspath(path))
    missing = []
    parent = folder
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    # Every level made here gets 0700 (os.makedirs would give the ones above the last the umask's mode).
    for new in reversed(missing):
        try:
            os.mkdir(new, DIR_MODE)
            os.chmod(new, DIR_MODE)
        except OSError as exc:
            raise SshConfigError('cannot create %s: %s' % (new, exc.strerror))
    fd, tmp = tempfile.mkstemp(prefix='.ipamkit-ssh-config-', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(text.encode('utf-8'))
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise SshConfigError('cannot write %s: %s' % (path, exc.strerror))


def remove_config(path):
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise SshConfigError('cannot remove %s: %s' % (path, exc.strerror))
