# Copyright: ipamkit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real chain of SSH jump hosts in network namespaces, for the SSH path and host facts tests (as root).

Library use::

    from sshlan import SshLan, can_run, cleanup_stale, seed_phpipam

    ok, reason = can_run()
    cleanup_stale()                                    # runs of crashed earlier processes
    with SshLan(levels=2, targets_per_lan=1) as lan:
        lan.hosts['jump1'].ip                          # '198.18.160.2': the only host the controller reaches
        lan.hosts['target2'].path                      # ('jump1', 'jump2'): the jump hosts in front of it
        lan.ssh('target2', 'hostname')                 # CompletedProcess: ssh -F <client config> -J ... root@ip
        lan.sshd_log('target2')                        # "Accepted publickey for root from <jump2's address> ..."
        lan.client_config, lan.known_hosts, lan.identity
        env = lan.ansible_env()                        # ANSIBLE_SSH_ARGS=-F <client config> ..., for ansible runs
        ids = seed_phpipam(api, lan)                   # section, subnets, addresses, custom_ssh_jump/_user

As a pytest fixture::

    @pytest.fixture(scope='module')
    def ssh_chain():
        ok, reason = sshlan.can_run()
        if not ok:
            unavailable('SSH chains in network namespaces', reason)   # integration_helpers: skip, or fail in CI
        sshlan.cleanup_stale()
        with sshlan.SshLan() as lan:
            yield lan

CLI (for looking around)::

    python3 tests/harness/sshlan.py can-run | up [--levels N] [--targets N] | list | cleanup [--tag TAG]

Topology (``levels=2``, the default; every namespace name starts with ``iks-<tag>-``, the tag is
``<pid>x<6 hex>``)::

    root namespace (the controller)
      ikl<hex>  198.18.B.1/30, IPv6 off; the only route into the chain
      route "unreachable 198.18.B.0/22": nothing of the chain's block is routed anywhere else
        │ veth
    iks-<tag>-h-jump1   eth0 198.18.B.2/30          eth1 198.18.B+1.1/24 ── bridge iks-<tag>-sw-lan1
    iks-<tag>-h-jump2   eth0 198.18.B+1.2/24 (lan1)  eth1 198.18.B+2.1/24 ── bridge iks-<tag>-sw-lan2
    iks-<tag>-h-target1 eth0 198.18.B+1.10/24 (lan1: reached through jump1)
    iks-<tag>-h-target2 eth0 198.18.B+2.10/24 (lan2: reached through jump1, then jump2)

``levels=1`` leaves out jump2 and lan2; ``targets_per_lan=N`` puts N targets on each LAN (target1..).
``198.18.B+3.0/24`` (``lan.spare_network``) is never used by the chain: tests can record made-up
hosts there in phpIPAM (a jump loop, a missing jump host) knowing that nothing answers.

Every block 198.18.B.0/22 lies in 198.18.160.0/19 (8 blocks); a run takes the first block that
no route of the root namespace overlaps, under a lock. No namespace has a default route, IPv4
forwarding stays off in each (the kernel default of a new namespace) and IPv6 is disabled in
all of them, so nothing leaves the chain; the root namespace reaches jump1's /30 and nothing
else of the block (``ssh <target ip>`` fails at once with "Network is unreachable"). Every
interface has its own MAC (``02:5e:<block>:<network>:<host>:00``).

SSH: each host runs ``/usr/sbin/sshd -D -f <its own config>`` inside its namespace (and its own UTS
namespace, so ``hostname`` there prints the host's name: jump1, target2, ...), listening
on its own addresses only (port 22), with an ed25519 host key made for this run, public key
authentication only, ``root`` allowed with the run's client key (``lan.identity``,
``AuthorizedKeysFile`` in the run directory), ``internal-sftp`` for Ansible's file transfers.
Nothing listens in the root namespace. ``lan.client_config`` is an ssh_config for ``ssh -F``
(and therefore for every jump hop: OpenSSH passes ``-F`` on to the ssh it starts for
ProxyJump, while ``-o`` options would apply to the last hop only) that sets the run's
known_hosts file (every host's name and addresses with its host key), the key, strict host key
checking and batch mode: nothing under ``~/.ssh`` is read or written. sshd needs its privilege
separation directory ``/run/sshd`` (what Debian's init script creates); it is created when
missing and left in place.

Cleanup: ``destroy()`` (also run when ``create()`` fails half-way) stops the run's sshd
processes and their sessions (processes inside the run's namespaces whose command line is
sshd's), deletes the namespaces (the root veth goes with its peer), the unreachable route and
the run directory ``/run/ipamkit-sshlan/<tag>/`` (``IPAMKIT_SSHLAN_DIR``). ``cleanup_stale()``
does the same for every run whose creating process is gone (pid and start time in
``state.json``, the pid also in the tag). Nothing is ever signalled that is not inside a
namespace of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import ipaddress
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time

from netlan import (  # pylint: disable=import-error
    NetLanError,
    _capabilities,
    _cmdline,
    _ip_batch as _netlan_ip_batch,
    _ip_path,
    _locked,
    _netns_pids,
    _proc_stat,
    _read_state as _netlan_read_state,
    _run as _netlan_run,
    _which,
    _write,
    list_netns,
    process_alive,
    terminate_processes,
)

LOG = logging.getLogger('ipamkit.sshlan')

NS_PREFIX = 'iks-'
DEFAULT_STATE_DIR = '/run/ipamkit-sshlan'
STATE_VERSION = 1
# One /22 per run: the controller link, lan1, lan2, and a spare /24 that only phpIPAM knows.
BLOCKS = ipaddress.ip_network('198.18.160.0/19')
BLOCK_PREFIX = 22
TAG_RE = re.compile(r'^(\d+)x[0-9a-f]{6}$')
NS_RE = re.compile(r'^' + re.escape(NS_PREFIX) + r'(\d+x[0-9a-f]{6})-(?:sw|h)-[a-z0-9]+$')
SSH_PORT = 22
SSHD = '/usr/sbin/sshd'
PRIVSEP_DIR = '/run/sshd'
USER = 'root'
CMD_TIMEOUT = 60

# Run in every namespace before its interfaces exist: no IPv6 at all (so no link-local chatter).
SYSCTL_SCRIPT = """\
# sshlan: per-namespace settings, written by sshlan.py
set -e
[ -d /proc/sys/net/ipv6 ] || exit 0
echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6
echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6
"""


class SshLanError(Exception):
    """The chain could not be built, used or removed."""


def _run(argv, **kwargs):
    try:
        return _netlan_run(argv, **kwargs)
    except NetLanError as exc:
        raise SshLanError(str(exc)) from exc


def _ip_batch(lines, ns=None, force=False, what=None):
    try:
        return _netlan_ip_batch(lines, ns=ns, force=force, what=what)
    except NetLanError as exc:
        raise SshLanError(str(exc)) from exc


@dataclasses.dataclass(frozen=True)
class Interface:
    """One interface of a host: eth0, eth1 ... in its namespace."""

    name: str
    network: str
    ip: str
    prefixlen: int
    mac: str


@dataclasses.dataclass
class SshHost:  # pylint: disable=too-many-instance-attributes
    """A host of the chain. ``ip`` is the address it is reached by (on its front network); ``path`` the jump
    hosts in front of it, outermost first; ``behind`` the network whose hosts it is the jump host for."""

    name: str
    role: str
    ns: str
    interfaces: tuple
    path: tuple = ()
    behind: str | None = None
    host_key: str | None = None
    sshd_pid: int | None = None

    @property
    def ip(self):
        return self.interfaces[0].ip

    @property
    def network(self):
        return self.interfaces[0].network

    @property
    def addresses(self):
        return [i.ip for i in self.interfaces]

    @property
    def macs(self):
        return [i.mac for i in self.interfaces]

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['interfaces'] = [dataclasses.asdict(i) for i in self.interfaces]
        data['path'] = list(self.path)
        data['ip'] = self.ip
        return data


# ---- checks -------------------------------------------------------------------------------------


def missing_tools():
    """Programs the chain needs that are not installed (Debian: openssh-server, openssh-client, iproute2)."""
    missing = []
    for name, package in (('ip', 'iproute2'), ('ssh', 'openssh-client'), ('ssh-keygen', 'openssh-client')):
        if not _which(name):
            missing.append('%s (Debian package %s)' % (name, package))
    if not _which('unshare'):
        missing.append('unshare (Debian package util-linux)')
    if not os.access(SSHD, os.X_OK):
        missing.append('%s (Debian package openssh-server)' % SSHD)
    return missing


def can_run():
    """(True, 'ok') when a chain can be built here, else (False, what is missing)."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append('not root (network namespaces, veth pairs and sshd need root)')
    elif (_capabilities() >> 12) & 1 == 0 or (_capabilities() >> 21) & 1 == 0:
        reasons.append('root without CAP_NET_ADMIN/CAP_SYS_ADMIN (an unprivileged container?)')
    if not os.path.exists('/proc/self/ns/net'):
        reasons.append('the kernel has no network namespaces')
    missing = missing_tools()
    if missing:
        reasons.append('missing ' + ', '.join(missing))
    return (False, '; '.join(reasons)) if reasons else (True, 'ok')


# ---- state and removal --------------------------------------------------------------------------


def _state_dir(state_dir=None):
    path = state_dir or os.environ.get('IPAMKIT_SSHLAN_DIR') or DEFAULT_STATE_DIR
    if re.search(r'[\s"\'\\%]', path):
        raise SshLanError('the sshlan state directory must not contain blanks, quotes, backslashes or %%: %r' % path)
    return os.path.abspath(path)


def _read_state(state_dir, tag):
    return _netlan_read_state(state_dir, tag, version=STATE_VERSION)


def _tag_namespaces(tag, namespaces=None):
    return [ns for ns in (list_netns() if namespaces is None else namespaces)
            if NS_RE.match(ns) and NS_RE.match(ns).group(1) == tag]


def _is_sshd(pid):
    argv = _cmdline(pid)
    return bool(argv) and (argv[0] == SSHD or argv[0].startswith('sshd:'))


def _stop_sshd(namespaces):
    """SIGTERM (then SIGKILL) every sshd process inside these namespaces: the listeners and their sessions."""
    pids = [pid for found in _netns_pids(namespaces).values() for pid in found if pid > 1 and _is_sshd(pid)]
    terminate_processes(pids)
    return pids


def _route_exists(block):
    out = _run([_ip_path(), '-4', 'route', 'show', 'exact', block], check=False).stdout
    return bool(out.strip())


def _remove_tag(state_dir, tag):
    """Remove everything of run `tag`; safe when parts (or all) of it are already gone."""
    state = _read_state(state_dir, tag) or {}
    namespaces = _tag_namespaces(tag)
    stopped = _stop_sshd(namespaces)
    # Whatever else still runs inside (an ansible module on a target) keeps its namespace alive until it ends.
    for ns, left in sorted(_netns_pids(namespaces).items()):
        LOG.warning('namespace %s still holds processes %s (left alone)', ns, ' '.join(str(p) for p in sorted(left)))
    _ip_batch(['netns del %s' % ns for ns in namespaces], force=True)
    link = state.get('controller_link')
    if link and os.path.exists('/sys/class/net/%s' % link):
        _run([_ip_path(), 'link', 'del', link], check=False)
    block = state.get('block')
    if block and _route_exists(block):
        _run([_ip_path(), '-4', 'route', 'del', 'unreachable', block], check=False)
    shutil.rmtree(os.path.join(state_dir, tag), ignore_errors=True)
    remaining = _tag_namespaces(tag)
    if remaining:
        raise SshLanError('could not delete namespaces: %s' % ' '.join(remaining))
    if namespaces or stopped:
        LOG.info('removed SSH chain %s: %d namespaces, %d sshd processes', tag, len(namespaces), len(stopped))
    return namespaces


def _known_tags(state_dir):
    tags = set()
    for ns in list_netns():
        match = NS_RE.match(ns)
        if match:
            tags.add(match.group(1))
    with contextlib.suppress(OSError):
        for entry in os.listdir(state_dir):
            if TAG_RE.match(entry) and os.path.isdir(os.path.join(state_dir, entry)):
                tags.add(entry)
    return tags


def _owner_alive(tag, state):
    if state is not None:
        owner = state.get('owner') or {}
        return process_alive(owner.get('pid'), owner.get('start'))
    return process_alive(int(TAG_RE.match(tag).group(1)))


def list_runs(state_dir=None):
    """[{tag, owner, stale, phase, block, namespaces}] of every chain sshlan knows here."""
    state_dir = _state_dir(state_dir)
    all_ns = list_netns()
    result = []
    for tag in sorted(_known_tags(state_dir)):
        state = _read_state(state_dir, tag)
        result.append({'tag': tag, 'owner': (state or {}).get('owner'), 'stale': not _owner_alive(tag, state),
                       'phase': (state or {}).get('phase'), 'block': (state or {}).get('block'),
                       'namespaces': _tag_namespaces(tag, all_ns)})
    return result


def cleanup_stale(state_dir=None):
    """Remove the chains left by processes that are gone. Returns their tags."""
    state_dir = _state_dir(state_dir)
    removed = []
    with _locked(state_dir):
        for tag in sorted(_known_tags(state_dir)):
            if not _owner_alive(tag, _read_state(state_dir, tag)):
                LOG.info('removing stale SSH chain %s', tag)
                _remove_tag(state_dir, tag)
                removed.append(tag)
    return removed


def remove_run(tag, state_dir=None):
    """Remove chain `tag` whoever created it (the CLI's `cleanup --tag`)."""
    if not TAG_RE.match(tag):
        raise SshLanError('not an sshlan tag: %r' % tag)
    state_dir = _state_dir(state_dir)
    with _locked(state_dir):
        return _remove_tag(state_dir, tag)


def _free_block(state_dir):
    """The first /22 of BLOCKS that no root-namespace route overlaps and no other run has claimed."""
    claimed = set()
    for tag in _known_tags(state_dir):
        state = _read_state(state_dir, tag)
        if state and state.get('block'):
            claimed.add(state['block'])
    routes = []
    for line in _run([_ip_path(), '-4', 'route', 'show', 'table', 'all']).stdout.splitlines():
        words = line.split()
        if not words:
            continue
        target = words[1] if words[0] in ('unreachable', 'blackhole', 'prohibit', 'local', 'broadcast') else words[0]
        with contextlib.suppress(ValueError):
            if target != 'default':
                routes.append(ipaddress.ip_network(target, strict=False))
    for block in BLOCKS.subnets(new_prefix=BLOCK_PREFIX):
        if str(block) not in claimed and not any(block.overlaps(r) for r in routes):
            return block
    raise SshLanError('no free block for an SSH chain in %s: every /%d is routed or claimed (sshlan.py list)'
                      % (BLOCKS, BLOCK_PREFIX))


# ---- the chain ----------------------------------------------------------------------------------


class SshLan:  # pylint: disable=too-many-instance-attributes
    """A two-level (or one-level) SSH jump chain in network namespaces. See the module docstring."""

    def __init__(self, levels=2, targets_per_lan=1, state_dir=None):
        if levels not in (1, 2):
            raise SshLanError('levels must be 1 (jump1 -> targets) or 2 (jump1 -> jump2 -> targets), not %r' % levels)
        if not 1 <= int(targets_per_lan) <= 50:
            raise SshLanError('targets_per_lan must be 1 to 50, not %r' % targets_per_lan)
        self.levels = levels
        self.targets_per_lan = int(targets_per_lan)
        self.tag = '%dx%s' % (os.getpid(), secrets.token_hex(3))
        self.state_dir = _state_dir(state_dir)
        self.dir = os.path.join(self.state_dir, self.tag)
        self.controller_link = 'ikl%s' % self.tag[-6:]
        self.block = None
        self.networks = {}
        self.hosts = {}
        self.controller_ip = None
        self.owner = None
        self.phase = 'planned'
        self.created = False
        self.timings = {}
        self._procs = []  # our sshd children, reaped in destroy()

    # -- paths of the run -------------------------------------------------------------------------

    @property
    def identity(self):
        """The client's private key (ed25519, made for this run)."""
        return os.path.join(self.dir, 'client_ed25519')

    @property
    def known_hosts(self):
        """Every host's name and addresses with its host key (for UserKnownHostsFile)."""
        return os.path.join(self.dir, 'known_hosts')

    @property
    def client_config(self):
        """ssh_config for ``ssh -F``: known_hosts, key, strict checking, batch mode (for every hop)."""
        return os.path.join(self.dir, 'ssh_config')

    @property
    def authorized_keys(self):
        return os.path.join(self.dir, 'authorized_keys')

    @property
    def user(self):
        return USER

    @property
    def targets(self):
        return [h for h in self.hosts.values() if h.role == 'target']

    @property
    def jump_hosts(self):
        return [h for h in self.hosts.values() if h.role == 'jump']

    @property
    def spare_network(self):
        """A /24 of the run's block that no namespace uses: for made-up phpIPAM records."""
        return self.networks['spare']

    @property
    def namespaces(self):
        return ['%ssw-%s' % (self._ns_prefix, name) for name in self._lans()] + [h.ns for h in self.hosts.values()]

    @property
    def _ns_prefix(self):
        return '%s%s-' % (NS_PREFIX, self.tag)

    def _lans(self):
        return ['lan%d' % level for level in range(1, self.levels + 1)]

    # -- planning ---------------------------------------------------------------------------------

    def _plan(self, block):
        self.block = block
        quarters = list(block.subnets(new_prefix=24))
        link = next(quarters[0].subnets(new_prefix=30))
        self.networks = {'link': link}
        for level in range(1, self.levels + 1):
            self.networks['lan%d' % level] = quarters[level]
        self.networks['spare'] = quarters[3]
        self.controller_ip = str(link.network_address + 1)
        block_octet = block.network_address.packed[2]
        hosts = {}

        def add_interface(host_name, host_number, network_name, address):
            net_number = list(self.networks).index(network_name)
            interfaces = hosts[host_name]['interfaces']
            mac = '02:5e:%02x:%02x:%02x:%02x' % (block_octet, net_number, host_number, len(interfaces))
            interfaces.append(Interface('eth%d' % len(interfaces), network_name, str(address),
                                        self.networks[network_name].prefixlen, mac))

        def new_host(name, role, path):
            hosts[name] = {'role': role, 'interfaces': [], 'path': tuple(path), 'number': len(hosts) + 1}
            return hosts[name]['number']

        # jump1: controller link in front, lan1 behind; jump2: on lan1, lan2 behind
        path = []
        for level in range(1, self.levels + 1):
            name = 'jump%d' % level
            number = new_host(name, 'jump', path)
            front = 'link' if level == 1 else 'lan%d' % (level - 1)
            address = link.network_address + 2 if level == 1 else self.networks[front].network_address + 2
            add_interface(name, number, front, address)
            add_interface(name, number, 'lan%d' % level, self.networks['lan%d' % level].network_address + 1)
            hosts[name]['behind'] = 'lan%d' % level
            path = path + [name]
        target = 0
        for level in range(1, self.levels + 1):
            lan = 'lan%d' % level
            in_front = ['jump%d' % i for i in range(1, level + 1)]
            for index in range(self.targets_per_lan):
                target += 1
                name = 'target%d' % target
                number = new_host(name, 'target', in_front)
                add_interface(name, number, lan, self.networks[lan].network_address + 10 + index)
        self.hosts = dict(
            (name, SshHost(name=name, role=data['role'], ns='%sh-%s' % (self._ns_prefix, name),
                           interfaces=tuple(data['interfaces']), path=data['path'], behind=data.get('behind')))
            for name, data in hosts.items())

    # -- life cycle -------------------------------------------------------------------------------

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc_info):
        self.destroy()

    def __repr__(self):
        return '<SshLan %s %s, %d hosts%s>' % (self.tag, self.block, len(self.hosts),
                                               '' if self.created else ', not created')

    def create(self):
        """Build the chain and start every sshd (returns self). On failure everything built is removed."""
        if self.created:
            return self
        ok, reason = can_run()
        if not ok:
            raise SshLanError('cannot build an SSH chain here: %s' % reason)
        started = time.monotonic()
        with _locked(self.state_dir):
            os.makedirs(self.dir, mode=0o700)
            stat = _proc_stat(os.getpid())
            self.owner = {'pid': os.getpid(), 'start': stat[1] if stat else None}
            self.phase = 'creating'
            try:
                self._plan(_free_block(self.state_dir))
                self._save_state()  # the block is claimed from here on
                self._build_network()
            except BaseException:
                LOG.warning('creating SSH chain %s failed: removing what was built', self.tag)
                with contextlib.suppress(Exception):
                    _remove_tag(self.state_dir, self.tag)
                raise
        self.timings['network'] = time.monotonic() - started
        try:
            self._make_keys()
            self._start_sshd()
            self.phase = 'ready'
            self._save_state()
        except BaseException:
            LOG.warning('starting sshd in SSH chain %s failed: removing it', self.tag)
            with contextlib.suppress(Exception):
                self.destroy()
            raise
        self.created = True
        self.timings['total'] = time.monotonic() - started
        LOG.info('SSH chain %s: %s, %d hosts in %.2f s', self.tag, self.block, len(self.hosts), self.timings['total'])
        return self

    def destroy(self):
        """Stop the sshd processes, remove namespaces, route and run directory. Safe to call twice."""
        with _locked(self.state_dir):
            _remove_tag(self.state_dir, self.tag)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._procs = []
        self.created = False
        self.phase = 'destroyed'

    def _save_state(self):
        _write(os.path.join(self.dir, 'state.json'), json.dumps(self.to_dict(), indent=2) + '\n', 0o600)

    def to_dict(self):
        """JSON-able description of the run: networks, hosts (addresses, MACs, paths), file paths."""
        return {
            'version': STATE_VERSION, 'tag': self.tag, 'phase': self.phase, 'owner': self.owner,
            'block': str(self.block) if self.block else None, 'controller_link': self.controller_link,
            'controller_ip': self.controller_ip, 'levels': self.levels,
            'networks': dict((k, str(v)) for k, v in self.networks.items()),
            'hosts': [h.to_dict() for h in self.hosts.values()], 'dir': self.dir, 'identity': self.identity,
            'known_hosts': self.known_hosts, 'client_config': self.client_config, 'user': self.user,
        }

    # -- building ---------------------------------------------------------------------------------

    def _build_network(self):
        _ip_batch(['netns add %s' % ns for ns in self.namespaces], what='ip netns add')
        script = os.path.join(self.dir, 'sysctl.sh')
        _write(script, SYSCTL_SCRIPT)
        _ip_batch(['netns exec %s /bin/sh "%s"' % (ns, script) for ns in self.namespaces],
                  what='sysctl in the namespaces')
        # The controller link: created in the root namespace, IPv6 off before it comes up.
        jump1 = self.hosts['jump1']
        eth0 = jump1.interfaces[0]
        _ip_batch(['link add %s type veth peer name eth0 address %s netns %s' % (self.controller_link, eth0.mac, jump1.ns)],
                  what='controller veth')
        with open('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % self.controller_link, 'w', encoding='ascii') as handle:
            handle.write('1\n')
        _ip_batch(['route add unreachable %s' % self.block,
                   'addr add %s/%d dev %s' % (self.controller_ip, self.networks['link'].prefixlen, self.controller_link),
                   'link set %s up' % self.controller_link], what='controller link')
        # One bridge per LAN, one port per host interface on it.
        for lan in self._lans():
            switch = ['link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0']
            for host in self.hosts.values():
                for interface in host.interfaces:
                    if interface.network == lan:
                        port = 'p-%s' % host.name
                        switch += ['link add %s type veth peer name %s address %s netns %s'
                                   % (port, interface.name, interface.mac, host.ns),
                                   'link set %s master br0' % port, 'link set %s up' % port]
            switch.append('link set br0 up')
            _ip_batch(switch, ns='%ssw-%s' % (self._ns_prefix, lan), what='bridge of %s' % lan)
        for host in self.hosts.values():
            lines = ['link set lo up']
            for interface in host.interfaces:
                lines += ['addr add %s/%d brd + dev %s' % (interface.ip, interface.prefixlen, interface.name),
                          'link set %s up' % interface.name]
            _ip_batch(lines, ns=host.ns, what='interfaces of %s' % host.name)

    def _make_keys(self):
        keygen = _which('ssh-keygen')
        _run([keygen, '-q', '-t', 'ed25519', '-N', '', '-C', 'sshlan-%s-client' % self.tag, '-f', self.identity],
             what='ssh-keygen (client key)')
        with open(self.identity + '.pub', encoding='ascii') as handle:
            _write(self.authorized_keys, handle.read(), 0o600)
        known = []
        for host in self.hosts.values():
            folder = os.path.join(self.dir, host.name)
            os.makedirs(folder, mode=0o700, exist_ok=True)
            key = os.path.join(folder, 'ssh_host_ed25519_key')
            _run([keygen, '-q', '-t', 'ed25519', '-N', '', '-C', 'sshlan-%s-%s' % (self.tag, host.name), '-f', key],
                 what='ssh-keygen (host key of %s)' % host.name)
            with open(key + '.pub', encoding='ascii') as handle:
                kind, blob = handle.read().split()[:2]
            host.host_key = '%s %s' % (kind, blob)
            known.append('%s %s' % (','.join([host.name] + host.addresses), host.host_key))
        _write(self.known_hosts, '\n'.join(known) + '\n', 0o600)
        _write(self.client_config, '\n'.join([
            '# sshlan run %s: for ssh -F (OpenSSH passes -F on to every ProxyJump hop)' % self.tag,
            'Host *',
            '    UserKnownHostsFile %s' % self.known_hosts,
            '    GlobalKnownHostsFile /dev/null',
            '    StrictHostKeyChecking yes',
            '    CheckHostIP no',
            '    UpdateHostKeys no',
            '    HashKnownHosts no',
            '    IdentityFile %s' % self.identity,
            '    IdentitiesOnly yes',
            '    IdentityAgent none',
            '    BatchMode yes',
            '    PasswordAuthentication no',
            '    KbdInteractiveAuthentication no',
            '    ConnectTimeout 10',
            '    ControlMaster no',
            '    ControlPath none',
            '    LogLevel ERROR',
        ]) + '\n', 0o600)

    def _sshd_config(self, host):
        folder = os.path.join(self.dir, host.name)
        lines = ['# sshlan run %s: sshd of %s in namespace %s' % (self.tag, host.name, host.ns)]
        lines += ['ListenAddress %s:%d' % (address, SSH_PORT) for address in host.addresses]
        lines += [
            'AddressFamily inet',
            'HostKey %s' % os.path.join(folder, 'ssh_host_ed25519_key'),
            'PidFile %s' % os.path.join(folder, 'sshd.pid'),
            'AuthorizedKeysFile %s' % self.authorized_keys,
            'AllowUsers %s' % USER,
            'PermitRootLogin prohibit-password',
            'PubkeyAuthentication yes',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'UseDNS no',
            'PrintMotd no',
            'PrintLastLog no',
            'AllowTcpForwarding yes',
            'X11Forwarding no',
            'PermitUserEnvironment no',
            'MaxStartups 100:30:200',
            'LogLevel VERBOSE',
            'Subsystem sftp internal-sftp',
        ]
        path = os.path.join(folder, 'sshd_config')
        _write(path, '\n'.join(lines) + '\n', 0o600)
        return path

    def _start_sshd(self):
        if not os.path.isdir(PRIVSEP_DIR):
            os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
        ip = _ip_path()
        unshare = _which('unshare')
        pending = {}
        for host in self.hosts.values():
            config = self._sshd_config(host)
            _run([SSHD, '-t', '-f', config], what='sshd -t for %s' % host.name)
            log = os.path.join(self.dir, host.name, 'sshd.log')
            # Its own UTS namespace, so `hostname` (and Ansible's facts) name the host. `ip netns exec`, unshare
            # and sh each exec the next, so the pid is sshd's own; -D: no daemon, -E: log to this file.
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [ip, 'netns', 'exec', host.ns, unshare, '--uts', '--', '/bin/sh', '-c', 'hostname "$0" && exec "$@"',
                 host.name, SSHD, '-D', '-f', config, '-E', log],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            host.sshd_pid = proc.pid
            self._procs.append(proc)
            pending[host.name] = (proc, log)
        deadline = time.monotonic() + 15
        for name, (proc, log) in pending.items():
            wanted = set(self.hosts[name].addresses)
            while True:
                heard = set(re.findall(r'Server listening on (\S+) port %d' % SSH_PORT, _tail(log)))
                if wanted <= heard:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SshLanError('sshd of %s did not start (listening on %s of %s): %s'
                                      % (name, ', '.join(sorted(heard)) or 'nothing', ', '.join(sorted(wanted)),
                                         _tail(log)[-1500:] or 'no log'))
                time.sleep(0.02)

    # -- use --------------------------------------------------------------------------------------

    def host(self, name):
        try:
            return self.hosts[name]
        except KeyError:
            raise SshLanError('SSH chain %s has no host %r (it has %s)' % (self.tag, name, ', '.join(self.hosts))) from None

    def proxyjump(self, name):
        """The ProxyJump value that reaches host `name` (``root@ip,root@ip``; '' for jump1)."""
        return ','.join('%s@%s' % (USER, self.hosts[j].ip) for j in self.host(name).path)

    def ssh_argv(self, name, *command, direct=False):
        """argv of ``ssh`` to host `name` through its jump hosts (or straight at its address with direct=True)."""
        argv = [_which('ssh'), '-F', self.client_config]
        jumps = '' if direct else self.proxyjump(name)
        if jumps:
            argv += ['-J', jumps]
        return argv + ['%s@%s' % (USER, self.host(name).ip)] + list(command)

    def ssh(self, name, *command, direct=False, timeout=CMD_TIMEOUT):
        """Run a command on host `name` over the chain: CompletedProcess with text output."""
        return subprocess.run(self.ssh_argv(name, *command, direct=direct), capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)

    def exec(self, name, argv, timeout=CMD_TIMEOUT):
        """Run argv directly inside host `name`'s namespace (no SSH): for checks and set-up."""
        return subprocess.run([_ip_path(), 'netns', 'exec', self.host(name).ns] + list(argv), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def sshd_log(self, name):
        """What the sshd of host `name` logged (LogLevel VERBOSE: every accepted key with the client's address)."""
        return _tail(os.path.join(self.dir, self.host(name).name, 'sshd.log'), limit=1 << 20)

    def ansible_env(self, remote_tmp=None):
        """Environment for ansible/ansible-playbook runs that use the chain: the client config for every hop,
        no ControlPersist masters left behind, pipelining (no files copied for most modules), /usr/bin/python3."""
        return {
            'ANSIBLE_SSH_ARGS': '-F %s -o ControlMaster=no -o ControlPath=none' % self.client_config,
            'ANSIBLE_HOST_KEY_CHECKING': 'True',
            'ANSIBLE_PIPELINING': 'True',
            'ANSIBLE_SSH_RETRIES': '0',
            'ANSIBLE_TIMEOUT': '20',
            'ANSIBLE_REMOTE_TMP': remote_tmp or os.path.join(self.dir, 'remote-tmp'),
            # The hosts share this machine's files: its system Python, not whatever root's shell PATH finds first.
            'ANSIBLE_PYTHON_INTERPRETER': '/usr/bin/python3',
        }

    def check(self):
        """What is wrong with a created chain ([] when healthy): missing namespaces, sshd not running."""
        problems = []
        existing = set(list_netns())
        problems += ['namespace %s is missing' % ns for ns in self.namespaces if ns not in existing]
        for host in self.hosts.values():
            if not (host.sshd_pid and process_alive(host.sshd_pid)):
                problems.append('sshd of %s is not running' % host.name)
        return problems


def _tail(path, limit=20000):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            handle.seek(max(0, os.path.getsize(path) - limit))
            return handle.read()
    except OSError:
        return ''


# ---- phpIPAM ------------------------------------------------------------------------------------


def seed_phpipam(api, lan, section='SSH chain', jump_field='custom_ssh_jump', user_field='custom_ssh_user'):
    """Record the chain in phpIPAM through its API (``api``: a PhpipamClient), as docs/ssh-paths.md tells users to.

    A section ``section`` with one subnet per network: the controller link (no jump host: reached directly),
    lan1 with ``custom_ssh_jump: jump1``, lan2 with ``custom_ssh_jump: jump2``; every subnet has
    ``custom_ssh_user: root``. One address per host interface, each named after its host (a jump host has two,
    one per network). The spare network gets no subnet. Returns ``{'section_id', 'subnets': {network: id},
    'addresses': {(host, network): id}}``.
    """
    existing = api.get_or_none('sections/%s' % section)
    if existing:
        raise SshLanError('phpIPAM already has a section %r: seed into a fresh phpIPAM (the phpipam fixture)' % section)
    section_id = int(api.create('sections', {'name': section, 'description': 'sshlan run %s' % lan.tag}).id)
    subnets = {}
    for name, network in lan.networks.items():
        if name == 'spare':
            continue
        data = {'subnet': str(network.network_address), 'mask': network.prefixlen, 'sectionId': section_id,
                'description': 'sshlan %s' % name, user_field: lan.user}
        jump = next((h.name for h in lan.jump_hosts if h.behind == name), None)
        if jump:
            data[jump_field] = jump
        subnets[name] = int(api.create('subnets', data).id)
    addresses = {}
    for host in lan.hosts.values():
        for interface in host.interfaces:
            addresses[(host.name, interface.network)] = int(api.create('addresses', {
                'ip': interface.ip, 'subnetId': subnets[interface.network], 'hostname': host.name,
                'mac': interface.mac, 'description': 'sshlan %s %s' % (host.role, host.name)}).id)
    return {'section_id': section_id, 'subnets': subnets, 'addresses': addresses}


# ---- CLI ----------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(prog='sshlan.py', description='SSH jump chains in network namespaces (root only).')
    parser.add_argument('--state-dir', help='default: $IPAMKIT_SSHLAN_DIR or %s' % DEFAULT_STATE_DIR)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('can-run', help='can a chain be built here? exit 1 with the reason')
    up = sub.add_parser('up', help='build a chain, print it as JSON, keep it until Enter (or EOF) is read')
    up.add_argument('--levels', type=int, default=2)
    up.add_argument('--targets', type=int, default=1)
    sub.add_parser('list', help='chains sshlan knows here (JSON)')
    clean = sub.add_parser('cleanup', help='remove chains whose creating process is gone (or --tag TAG: that one)')
    clean.add_argument('--tag')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='sshlan: %(message)s', stream=sys.stderr)
    try:
        if args.command == 'can-run':
            ok, reason = can_run()
            print(reason)
            return 0 if ok else 1
        if args.command == 'up':
            with SshLan(levels=args.levels, targets_per_lan=args.targets, state_dir=args.state_dir) as lan:
                print(json.dumps(lan.to_dict(), indent=2))
                print('try: %s' % shlex.join(lan.ssh_argv(lan.targets[-1].name, 'hostname')), file=sys.stderr)
                sys.stdin.readline()
        elif args.command == 'list':
            print(json.dumps(list_runs(args.state_dir), indent=2))
        elif args.command == 'cleanup':
            if args.tag:
                remove_run(args.tag, args.state_dir)
            else:
                LOG.info('removed stale chains: %s', ' '.join(cleanup_stale(args.state_dir)) or 'none')
    except (SshLanError, OSError, subprocess.SubprocessError) as exc:
        print('sshlan: %s' % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
