# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How each host is reached over SSH: chains of jump hosts recorded in phpIPAM.

A host's jump host is a custom field value (docs/ssh-paths.md), the host's own or inherited from its subnet:
``[user@]host[:port]``, where ``host`` names another phpIPAM address by hostname or IP, or ``direct``. That jump
host may sit behind its own jump host, and so on. This module turns those values into the ordered hops of
OpenSSH's ProxyJump, outermost first, and reports loops, unknown jump hosts and unparsable values instead of
following them. Pure: the caller passes the hosts and how to read their values.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import ipaddress
import re

DIRECT = 'direct'
# Longer chains are almost certainly a data mistake, and OpenSSH would open one connection per hop.
MAX_HOPS = 8

JumpPath = collections.namedtuple('JumpPath', ['hops', 'problem'])
JumpPath.__doc__ = """hops: ProxyJump hops, outermost first (empty: direct). problem: why no path, or None."""

Hop = collections.namedtuple('Hop', ['user', 'host', 'port'])

_USER = re.compile(r'^[A-Za-z0-9._][A-Za-z0-9._-]*$')
_HOST_NAME = re.compile(r'^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$')


class SshPathError(ValueError):
    """A jump host value that cannot be used: the message says why."""


def parse_hop(value):
    """``[user@]host[:port]`` -> Hop; None or blank -> None; ``direct`` -> DIRECT. Raises SshPathError."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.lower() == DIRECT:
        return DIRECT
    user = None
    rest = text
    if '@' in text:
        user, rest = text.rsplit('@', 1)
        if not _USER.match(user):
            raise SshPathError('%r: the user %r is not a valid login name' % (text, user))
    port = None
    if rest.startswith('['):
        end = rest.find(']')
        if end < 0:
            raise SshPathError('%r: "[" without a closing "]"' % text)
        host, tail = rest[1:end], rest[end + 1:]
        if tail:
            if not tail.startswith(':'):
                raise SshPathError('%r: only ":port" may follow "]"' % text)
            port = tail[1:]
        if not _is_ip(host, version=6):
            raise SshPathError('%r: %r in brackets is not an IPv6 address' % (text, host))
    elif rest.count(':') == 1:
        host, port = rest.split(':')
    else:
        host = rest  # a name, an IPv4 address, or a bare IPv6 address (no port possible)
    if port is not None:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SshPathError('%r: the port %r is not a number from 1 to 65535' % (text, port))
        port = int(port)
    if not host:
        raise SshPathError('%r: no host' % text)
    if not (_is_ip(host) or _HOST_NAME.match(host)):
        raise SshPathError('%r: %r is neither an IP address nor a host name' % (text, host))
    return Hop(user, host, port)


def format_hop(user, host, port=None):
    """One ProxyJump hop, ``user@host:port``; an IPv6 address with a port goes in brackets."""
    text = host
    if port:
        text = '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)
    return '%s@%s' % (user, text) if user else text


def proxyjump_argument(hops):
    """The ssh option for these hops, for ansible_ssh_common_args; empty for a direct path."""
    return '-o ProxyJump=%s' % ','.join(hops) if hops else ''


def _is_ip(text, version=None):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def _ip_key(text):
    try:
        return ipaddress.ip_address(text).exploded
    except ValueError:
        return None


class _Index(object):
    """Jump hosts are named by IP or hostname: find every address a name can mean."""

    def __init__(self, hosts):
        self.by_ip = collections.defaultdict(list)
        self.by_name = collections.defaultdict(list)
        self.by_short_name = collections.defaultdict(list)
        for host in hosts:
            key = _ip_key(host.get('ip') or '')
            if key:
                self.by_ip[key].append(host)
            name = (host.get('hostname') or '').strip().lower().rstrip('.')
            if name:
                self.by_name[name].append(host)
                self.by_short_name[name.split('.', 1)[0]].append(host)

    def candidates(self, name):
        key = _ip_key(name)
        if key:
            return self.by_ip.get(key, [])
        name = name.lower().rstrip('.')
        found = self.by_name.get(name)
        if found:
            return found
        # "jump1" may name "jump1.lab.example" when no address is called plain "jump1".
        return self.by_short_name.get(name, []) if '.' not in name else []


def _label(host):
    name = host.get('hostname')
    return '%s (%s)' % (name, host.get('ip')) if name else str(host.get('ip'))


def resolve_jump_chains(hosts, jump_of, user_of=None, missing='warn', max_hops=MAX_HOPS):
    """{host id: JumpPath} for every host in ``hosts``.

    ``hosts`` are all known hosts (dicts with ``id``, ``ip``, ``hostname``): jump hosts are looked up among them.
    ``jump_of(host)`` and ``user_of(host)`` give a host's effective jump value and SSH user (or None).
    A jump host name matching several addresses (a multi-homed jump host has one per interface) means the one
    with the shortest working path from the controller. ``missing``: ``warn`` or ``error`` report a jump host that
    is not in phpIPAM as the host's problem; ``literal`` uses the value as written, as the chain's first hop.
    """
    if missing not in ('warn', 'error', 'literal'):
        raise ValueError('missing must be warn, error or literal, not %r' % (missing,))
    hosts = list(hosts)
    index = _Index(hosts)
    parsed = {}

    def hop_of(host):
        raw = jump_of(host)
        key = None if raw is None else str(raw)
        if key not in parsed:
            try:
                parsed[key] = (parse_hop(key), None)
            except SshPathError as exc:
                parsed[key] = (None, str(exc))
        return parsed[key]

    def path(host, stack):
        hop, error = hop_of(host)
        if error:
            return JumpPath((), 'jump host value of %s is unusable: %s' % (_label(host), error))
        if hop is None or hop == DIRECT:
            return JumpPath((), None)
        candidates = index.candidates(hop.host)
        if not candidates:
            if missing == 'literal':
                return JumpPath((format_hop(hop.user, hop.host, hop.port),), None)
            return JumpPath((), 'jump host %r of %s is not in phpIPAM' % (hop.host, _label(host)))
        usable = [c for c in candidates if c.get('id') not in stack and c is not host]
        if not usable:
            chain = ' -> '.join(_label(h) for h in stack_hosts(stack)) + ' -> ' + hop.host
            return JumpPath((), 'jump loop: %s' % chain)
        best, problems = None, []
        for candidate in sorted(usable, key=lambda c: (_ip_key(c.get('ip') or '') or '', c.get('id') or 0)):
            sub = path(candidate, stack + (candidate.get('id'),))
            if sub.problem:
                problems.append(sub.problem)
                continue
            user = hop.user or (user_of(candidate) if user_of else None)
            hops = sub.hops + (format_hop(user, candidate.get('ip'), hop.port),)
            if best is None or len(hops) < len(best):
                best = hops
        if best is None:
            return JumpPath((), problems[0])
        if len(best) > max_hops:
            return JumpPath((), 'the jump chain of %s has more than %d hops' % (_label(host), max_hops))
        return JumpPath(best, None)

    by_id = dict((h.get('id'), h) for h in hosts)

    def stack_hosts(stack):
        return [by_id[i] for i in stack if i in by_id]

    return dict((host.get('id'), path(host, (host.get('id'),))) for host in hosts)


def network_jump_chains(data, jump_field, user_field, missing='warn', default_user=None):
    """resolve_jump_chains over every host of ``data`` (a network_data.NetworkData), reading each host's jump host
    and SSH user from the custom fields ``jump_field`` and ``user_field`` (own value, else inherited from its
    subnets). ``default_user`` is the hop user where phpIPAM names none."""
    def user_of(host):
        return data.inherited(host, user_field) or default_user

    return resolve_jump_chains(data.hosts, lambda host: data.inherited(host, jump_field), user_of, missing=missing)
