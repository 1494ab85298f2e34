# Copyright: ipamkit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real test LANs inside Linux network namespaces, for the scan agent's tests and the demo.

Library use (as root)::

    from netlan import Lan, HostSpec, can_run, cleanup_stale

    ok, reason = can_run()
    with Lan(hosts=[HostSpec('web1'), HostSpec('db1', ipv4='198.18.10.20', mac='02:aa:00:00:00:20'),
                    HostSpec('old', up=False)]) as lan:
        subprocess.run([lan.nmap_wrapper, '-sn', '--dns-servers', lan.dns_servers[0], '198.18.10.0/24'])
        lan.set_up('old', True)          # the host answers from now on
        lan.host('web1').mac             # '02:00:c6:12:0a:0a' (generated: 02:00 + the IPv4 address)
        lan.exec('scanner', ['ip', 'route'])

CLI::

    python3 tests/harness/netlan.py can-run | demo-up [--json] | demo-set HOST up|down | demo-down | list | cleanup

Topology of one LAN (every namespace name starts with ``ipk-<tag>-``; the tag is ``<pid>x<6 hex>`` for
an anonymous LAN, or the LAN's name, such as ``demo``)::

    ipk-<tag>-switch   br0: a Linux bridge (STP off, forward delay 0, multicast snooping off), no
                       addresses, IPv6 disabled; one veth port per member (vscan, vdns, vh1, vh2, ...)
    ipk-<tag>-scanner  eth0: <subnet>.2 and <prefix>::2; nmap runs here (lan.nmap_wrapper)
    ipk-<tag>-dns      eth0: <subnet>.53 and <prefix>::53 (.3 in an IPv4 subnet smaller than /26);
                       dnsmasq answers A/AAAA/PTR for every host (and for scanner/dns themselves)
    ipk-<tag>-h-<name>  eth0: the host's MAC and addresses, one namespace per host

Every namespace has ``lo`` up, connected routes only and no default route, so nothing can leave
the LAN (``ip route get 192.0.2.1`` fails). Nothing is created in the root namespace: each veth
pair is created in the switch namespace with its peer moved straight into the member's namespace.
Addresses must lie in 198.18.0.0/15 and fd00::/8. IPv6 DAD is off (``accept_dad=0`` before the
interfaces exist, and ``nodad``), so every address is usable at once; ``keep_addr_on_down=1``
keeps the IPv6 addresses of a host that is switched down and up again.

Infrastructure addresses that a ping scan of the subnet also finds: the scanner (.2 / ::2; nmap
reports it as ``localhost-response`` without a MAC) and the DNS server (.53 / ::53, with its own
MAC). Their names are ``scanner.<domain>`` and ``dns.<domain>``; ``lan.infra`` has their specs.

Hosts: ``HostSpec(name, ipv4=None, ipv6=None, mac=None, up=True, extra_ipv4=(), extra_ipv6=())``.
``None`` means "pick one": IPv4 addresses are handed out from .10 upwards, skipping taken ones, and a
host's IPv6 address reuses the digits of its IPv4 host number read as hex (198.18.10.11 ->
fd00:18:10::11); ``False`` means none of that family. Generated MACs are locally administered
unicast: ``02:00`` followed by the four bytes of the IPv4 address (``02:01:..`` for IPv6-only
hosts). In ``lan.hosts`` every spec carries its final addresses and MAC (``None``: no address).

A host with ``up=False`` exists (namespace, addresses, MAC) but its eth0 and its bridge port are
down, so it answers neither ARP/ND nor ICMP nor TCP; ``lan.set_up(name, True/False)`` switches it
at runtime.

Scale: creation is batched (``ip -batch`` for all namespaces and the switch, one ``ip -n NS -batch``
per member run in parallel, no sleeps); 60 hosts take well under a second here. For thousands of
addresses do not create thousands of namespaces: give a few hosts ``extra_ipv4`` / ``extra_ipv6``
(for example ``extra_ipv4=[str(a) for a in list(net.hosts())[1000:2000]]``). Extra addresses sit on
the same eth0 (IPv4 secondaries), answer ARP/ND/ICMP with the host's MAC and get no DNS records.

Cleanup: ``destroy()`` (also run when ``create()`` fails half-way) kills the LAN's dnsmasq (by its
pid file, checked against its command line), deletes the LAN's namespaces, its
``/etc/netns/<scanner ns>/`` (the scanner's resolv.conf pointing at the LAN's DNS) and its state
directory ``/run/ipamkit-netlan/<tag>/`` (``IPAMKIT_NETLAN_DIR``); it is safe to call twice.
``cleanup_stale()`` does the same for every LAN whose creating process is gone (pid and start
time in ``state.json``, the pid also in anonymous tags); persistent LANs (the demo) are kept. It
never kills anything but a LAN's own dnsmasq.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import ipaddress
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time

from harness_apt import AptError, apt_install  # pylint: disable=import-error

LOG = logging.getLogger('ipamkit.netlan')

NS_PREFIX = 'ipk-'
DEFAULT_STATE_DIR = '/run/ipamkit-netlan'
ETC_NETNS = '/etc/netns'
NETNS_RUN_DIR = '/run/netns'  # where `ip netns add` mounts the namespaces
STATE_VERSION = 1
SAFE_NETWORKS = {4: ipaddress.ip_network('198.18.0.0/15'), 6: ipaddress.ip_network('fd00::/8')}
ANON_TAG_RE = re.compile(r'^(\d+)x[0-9a-f]{6}$')
NAMED_TAG_RE = re.compile(r'^[a-z][a-z0-9]{0,15}$')
TAG_RE = re.compile(r'^[a-z0-9]{1,24}$')
NS_RE = re.compile(r'^' + re.escape(NS_PREFIX) + r'([a-z0-9]{1,24})-(?:switch|scanner|dns|h-[a-z0-9-]+)$')
HOST_NAME_RE = re.compile(r'^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$')
MAC_RE = re.compile(r'^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$')
INFRA_NAMES = ('scanner', 'dns')
SCANNER_NUMBER = 2
DNS_NUMBER = 53
FIRST_AUTO_NUMBER = 10
# binary -> Debian package (dnsmasq-base is the bare binary: no system service, no /etc/dnsmasq.conf)
PACKAGES = {'ip': 'iproute2', 'nmap': 'nmap', 'dnsmasq': 'dnsmasq-base'}
CMD_TIMEOUT = 120

# Run in every namespace before any interface exists in it, so eth0 inherits the "default" values.
SYSCTL_SCRIPT = """\
# netlan: per-namespace settings, written by netlan.py (argument: the member's role)
set -e
[ -d /proc/sys/net/ipv6 ] || exit 0
for conf in all default; do
    echo 0 > /proc/sys/net/ipv6/conf/$conf/accept_dad
    echo 1 > /proc/sys/net/ipv6/conf/$conf/keep_addr_on_down
    echo 0 > /proc/sys/net/ipv6/conf/$conf/router_solicitations
    if [ "$1" = switch ]; then echo 1 > /proc/sys/net/ipv6/conf/$conf/disable_ipv6; fi
done
"""


class NetLanError(Exception):
    """A LAN could not be built, changed or removed."""


@dataclasses.dataclass(frozen=True)
class HostSpec:
    """One host of a LAN. ipv4/ipv6: an address, None (pick one) or False (none of that family)."""

    name: str
    ipv4: str | bool | None = None
    ipv6: str | bool | None = None
    mac: str | None = None
    up: bool = True
    extra_ipv4: tuple = ()
    extra_ipv6: tuple = ()

    def addresses(self):
        """Every address of the host: main IPv4, main IPv6, then the extra ones."""
        main = [a for a in (self.ipv4, self.ipv6) if isinstance(a, str)]
        return main + list(self.extra_ipv4) + list(self.extra_ipv6)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['extra_ipv4'] = list(self.extra_ipv4)
        data['extra_ipv6'] = list(self.extra_ipv6)
        return data

    @classmethod
    def from_dict(cls, data):
        return cls(name=data['name'], ipv4=data.get('ipv4'), ipv6=data.get('ipv6'), mac=data.get('mac'),
                   up=bool(data.get('up', True)), extra_ipv4=tuple(data.get('extra_ipv4') or ()),
                   extra_ipv6=tuple(data.get('extra_ipv6') or ()))


@dataclasses.dataclass
class _Member:
    """A namespace attached to the switch: the scanner, the DNS server or a host."""

    role: str
    spec: HostSpec
    ns: str
    port: str

    def to_dict(self):
        return dict(self.spec.to_dict(), role=self.role, ns=self.ns, port=self.port)


def make_hosts(count, prefix='h', down=()):
    """HostSpecs h1..hN with picked addresses and MACs; `down`: names or 1-based numbers of hosts that are down."""
    down = set(str(d) for d in down)
    return [HostSpec('%s%d' % (prefix, i), up=not ('%s%d' % (prefix, i) in down or str(i) in down))
            for i in range(1, count + 1)]


# ---- small helpers ------------------------------------------------------------------------------


def _which(name):
    found = shutil.which(name)
    if found:
        return found
    for folder in ('/usr/sbin', '/sbin', '/usr/bin', '/bin'):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def _ip_path():
    path = _which('ip')
    if not path:
        raise NetLanError('no `ip` command (Debian package iproute2)')
    return path


def _run(argv, stdin=None, check=True, timeout=CMD_TIMEOUT, what=None):
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise NetLanError('%s failed (exit %d): %s' % (what or shlex.join(argv), proc.returncode, detail))
    return proc


def _ip_batch(lines, ns=None, force=False, what=None):
    """Run ip commands in one process (`ip [-n NS] -batch -`)."""
    if not lines:
        return None
    argv = [_ip_path()]
    if ns:
        argv += ['-n', ns]
    if force:
        argv.append('-force')
    argv += ['-batch', '-']
    return _run(argv, stdin=''.join(line + '\n' for line in lines), check=not force,
                what=what or 'ip %s-batch' % ('-n %s ' % ns if ns else ''))


def list_netns():
    """Names of all network namespaces that `ip netns` knows."""
    out = _run([_ip_path(), 'netns', 'list']).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _netns_pids(namespaces):
    """{namespace: [pids]} of the processes inside these named namespaces (like `ip netns pids`, in one pass)."""
    inodes = {}
    for ns in namespaces:
        with contextlib.suppress(OSError):
            info = os.stat(os.path.join(NETNS_RUN_DIR, ns))
            inodes[(info.st_dev, info.st_ino)] = ns
    found = {}
    if not inodes:
        return found
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                info = os.stat('/proc/%s/ns/net' % entry)
                ns = inodes.get((info.st_dev, info.st_ino))
                if ns:
                    found.setdefault(ns, []).append(int(entry))
    return found


def _proc_stat(pid):
    """(state, start time in clock ticks) of a process, or None when it does not exist."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as handle:
            data = handle.read()
    except OSError:
        return None
    fields = data[data.rindex(')') + 2:].split()
    return fields[0], int(fields[19])


def process_alive(pid, start=None):
    stat = _proc_stat(pid) if pid else None
    if stat is None or stat[0] in ('Z', 'X'):
        return False
    return start is None or stat[1] == start


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return [part.decode('utf-8', 'replace') for part in handle.read().split(b'\0') if part]
    except OSError:
        return []


def _write(path, text, mode=0o644):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _state_dir(state_dir=None):
    path = state_dir or os.environ.get('IPAMKIT_NETLAN_DIR') or DEFAULT_STATE_DIR
    if re.search(r'[\s"\'\\]', path):
        raise NetLanError('the netlan state directory must not contain blanks, quotes or backslashes: %r' % path)
    return os.path.abspath(path)


@contextlib.contextmanager
def _locked(state_dir):
    """Serialise create/destroy/cleanup between processes (the whole build runs under the lock)."""
    os.makedirs(state_dir, mode=0o755, exist_ok=True)
    with open(os.path.join(state_dir, '.lock'), 'a', encoding='ascii') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(state_dir, tag, version=STATE_VERSION):
    """The state.json of run `tag`, or None when it is missing, unreadable or of another layout version."""
    try:
        with open(os.path.join(state_dir, tag, 'state.json'), encoding='utf-8') as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get('version') == version else None


def terminate_processes(pids, label=None):
    """SIGTERM these processes, give them 3 s to exit, then SIGKILL what is left (warning with `label`)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 3
    for pid in pids:
        while process_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if process_alive(pid):
            if label:
                LOG.warning('%s %d did not stop on SIGTERM: SIGKILL', label, pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _arpa_zones(network):
    """Reverse zones (whole labels) that cover a network, for dnsmasq's local=/zone/."""
    step = 8 if network.version == 4 else 4
    prefix = -(-network.prefixlen // step) * step
    subnets = [network] if prefix == network.prefixlen else list(network.subnets(new_prefix=prefix))
    zones = []
    for subnet in subnets[:256]:
        labels = subnet.network_address.reverse_pointer.split('.')
        # reverse_pointer names every octet/nibble; drop those beyond the prefix
        keep = prefix // step
        total = 4 if network.version == 4 else 32
        zones.append('.'.join(labels[total - keep:]))
    return zones


# ---- system checks ------------------------------------------------------------------------------


def _capabilities():
    try:
        with open('/proc/self/status', encoding='ascii') as handle:
            for line in handle:
                if line.startswith('CapEff:'):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def missing_packages(dns=True):
    """Debian packages whose binaries are missing (ip, nmap, and dnsmasq when dns)."""
    return [pkg for binary, pkg in PACKAGES.items() if (dns or binary != 'dnsmasq') and not _which(binary)]


def can_run(dns=True):
    """(True, note) when a Lan can be created here, else (False, what exactly is missing)."""
    reasons = []
    is_root = os.geteuid() == 0
    if not is_root:
        reasons.append('not root (network namespaces, veth pairs and raw nmap scans need root)')
    elif (_capabilities() >> 12) & 1 == 0 or (_capabilities() >> 21) & 1 == 0:
        reasons.append('root without CAP_NET_ADMIN/CAP_SYS_ADMIN (an unprivileged container?)')
    if not os.path.exists('/proc/self/ns/net'):
        reasons.append('the kernel has no network namespaces (/proc/self/ns/net)')
    missing = missing_packages(dns)
    names = dict((pkg, binary) for binary, pkg in PACKAGES.items())
    if missing and not (is_root and _which('apt-get')):
        reasons.append('missing ' + ', '.join('%s (Debian package %s)' % (names[p], p) for p in missing)
                       + ('' if is_root else ' and not root to install them'))
    if reasons:
        return False, '; '.join(reasons)
    if missing:
        return True, 'will apt-get install ' + ' '.join(missing)
    return True, 'ok'


def install_packages(dns=True):
    """apt-get install the missing packages (root only); `apt-get update` only when something is missing."""
    missing = missing_packages(dns)
    if not missing:
        return
    if os.geteuid() != 0 or not _which('apt-get'):
        raise NetLanError('missing Debian packages: apt-get install -y ' + ' '.join(missing))
    LOG.info('installing Debian packages: %s', ' '.join(missing))
    try:
        apt_install(missing)
    except AptError as exc:
        raise NetLanError(str(exc)) from exc


# ---- removal (shared by destroy() and cleanup_stale()) ------------------------------------------


def _kill_dnsmasq(state_dir, tag):
    """Stop the dnsmasq of LAN `tag`: the pid in its pid file, or any process in its dns namespace
    whose command line names its config file. Nothing else is ever signalled."""
    folder = os.path.join(state_dir, tag)
    conf = os.path.join(folder, 'dnsmasq.conf')
    pids = set()
    try:
        with open(os.path.join(folder, 'dnsmasq.pid'), encoding='ascii') as handle:
            pids.add(int(handle.read().strip() or 0))
    except (OSError, ValueError):
        pass
    pids.update(_netns_pids(['%s%s-dns' % (NS_PREFIX, tag)]).get('%s%s-dns' % (NS_PREFIX, tag), ()))
    ours = [pid for pid in pids if pid > 1 and '--conf-file=' + conf in _cmdline(pid)
            and os.path.basename((_cmdline(pid) or [''])[0]) == 'dnsmasq']
    terminate_processes(ours, label='dnsmasq')
    return ours


def _remove_tag(state_dir, tag):
    """Remove everything of LAN `tag`; safe when parts (or all) of it are already gone."""
    killed = _kill_dnsmasq(state_dir, tag)
    namespaces = _tag_namespaces(tag)
    for ns, left in sorted(_netns_pids(namespaces).items()):
        LOG.warning('namespace %s still holds processes %s (not started by netlan: left alone; the namespace '
                    'lives on until they exit)', ns, ' '.join(str(pid) for pid in sorted(left)))
    _ip_batch(['netns del %s' % ns for ns in namespaces], force=True)
    remaining = _tag_namespaces(tag)
    shutil.rmtree(os.path.join(ETC_NETNS, '%s%s-scanner' % (NS_PREFIX, tag)), ignore_errors=True)
    shutil.rmtree(os.path.join(state_dir, tag), ignore_errors=True)
    if remaining:
        raise NetLanError('could not delete namespaces: %s' % ' '.join(remaining))
    if namespaces or killed:
        LOG.info('removed LAN %s: %d namespaces, dnsmasq %s', tag, len(namespaces), killed or '-')
    return namespaces


def _tag_namespaces(tag, namespaces=None):
    """The namespaces of LAN `tag` (netlan's own naming scheme only)."""
    return [ns for ns in (list_netns() if namespaces is None else namespaces)
            if NS_RE.match(ns) and NS_RE.match(ns).group(1) == tag]


def _known_tags(state_dir):
    tags = set()
    for ns in list_netns():
        match = NS_RE.match(ns)
        if match:
            tags.add(match.group(1))
    for folder in (state_dir, ETC_NETNS):
        with contextlib.suppress(OSError):
            for entry in os.listdir(folder):
                if folder == state_dir and TAG_RE.match(entry) and os.path.isdir(os.path.join(folder, entry)):
                    tags.add(entry)
                elif folder == ETC_NETNS and NS_RE.match(entry):
                    tags.add(NS_RE.match(entry).group(1))
    return tags


def _owner_alive(tag, state):
    """True when the LAN's creating process still runs (or the LAN is persistent, or unknown and named)."""
    if state is not None:
        if state.get('persistent'):
            return True
        owner = state.get('owner') or {}
        return process_alive(owner.get('pid'), owner.get('start'))
    match = ANON_TAG_RE.match(tag)
    return process_alive(int(match.group(1))) if match else True


def list_lans(state_dir=None):
    """[{tag, owner, persistent, stale, phase, namespaces}] for every LAN netlan knows here (state files and namespaces)."""
    state_dir = _state_dir(state_dir)
    all_ns = list_netns()
    result = []
    for tag in sorted(_known_tags(state_dir)):
        state = _read_state(state_dir, tag)
        result.append({'tag': tag, 'owner': (state or {}).get('owner'), 'persistent': bool((state or {}).get('persistent')),
                       'stale': not _owner_alive(tag, state), 'phase': (state or {}).get('phase'),
                       'namespaces': _tag_namespaces(tag, all_ns)})
    return result


def cleanup_stale(state_dir=None):
    """Remove the LANs left by processes that are gone (never a persistent one). Returns their tags."""
    state_dir = _state_dir(state_dir)
    removed = []
    with _locked(state_dir):
        for tag in sorted(_known_tags(state_dir)):
            if not _owner_alive(tag, _read_state(state_dir, tag)):
                LOG.info('removing stale LAN %s', tag)
                _remove_tag(state_dir, tag)
                removed.append(tag)
    return removed


def remove_lan(tag, state_dir=None):
    """Remove LAN `tag` whoever created it (the CLI's `cleanup --tag`, demo-down)."""
    if not TAG_RE.match(tag):
        raise NetLanError('not a netlan tag: %r' % tag)
    state_dir = _state_dir(state_dir)
    with _locked(state_dir):
        return _remove_tag(state_dir, tag)


# ---- the LAN ------------------------------------------------------------------------------------


class Lan:  # pylint: disable=too-many-instance-attributes,too-many-public-methods
    """A LAN of network namespaces around one bridge. See the module docstring."""

    def __init__(self, name=None, ipv4='198.18.10.0/24', ipv6='fd00:18:10::/64', hosts=(), dns=True,
                 domain='lan.test', persistent=False, nmap=None, state_dir=None):
        if name is None:
            self.tag = '%dx%s' % (os.getpid(), secrets.token_hex(3))
        else:
            if not NAMED_TAG_RE.match(name):
                raise NetLanError('LAN name %r: use 1-16 lower-case letters and digits, starting with a letter' % name)
            self.tag = name
        self.name = name
        self.ipv4_net = self._safe_network(ipv4, 4)
        self.ipv6_net = self._safe_network(ipv6, 6)
        if not self.ipv4_net and not self.ipv6_net:
            raise NetLanError('a LAN needs an IPv4 or an IPv6 subnet')
        self.domain = (domain or '').strip('.').lower()
        self.dns_enabled = bool(dns)
        self.persistent = bool(persistent)
        self.state_dir = _state_dir(state_dir)
        self.dir = os.path.join(self.state_dir, self.tag)
        self.nmap_path = nmap
        self.created = False
        self.phase = 'planned'
        self.owner = None
        self.timings = {}
        self.dnsmasq_pid = None
        self._members = self._plan([h if isinstance(h, HostSpec) else HostSpec(str(h)) for h in hosts])

    # -- planning ---------------------------------------------------------------------------------

    @staticmethod
    def _safe_network(value, version):
        if not value:
            return None
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise NetLanError('bad subnet %r: %s' % (value, exc)) from exc
        if network.version != version or not network.subnet_of(SAFE_NETWORKS[version]):
            raise NetLanError('subnet %s is not inside %s: test LANs only use 198.18.0.0/15 and fd00::/8'
                              % (value, SAFE_NETWORKS[version]))
        if network.num_addresses < (8 if version == 4 else 256):
            raise NetLanError('subnet %s is too small (at least /29 or /120)' % value)
        return network

    def _ns(self, role):
        return '%s%s-%s' % (NS_PREFIX, self.tag, role)

    def _plan(self, specs):  # pylint: disable=too-many-locals,too-many-branches
        used = set()
        members = {}
        names = [s.name for s in specs]
        for name in names:
            if not isinstance(name, str) or not HOST_NAME_RE.match(name):
                raise NetLanError('host name %r: use a DNS label (a-z, 0-9, -)' % (name,))
            if name in INFRA_NAMES:
                raise NetLanError('host name %r is reserved for the LAN infrastructure' % name)
            if names.count(name) > 1:
                raise NetLanError('host name %r is given twice' % name)

        def address(value, version, what):
            network = self.ipv4_net if version == 4 else self.ipv6_net
            if network is None:
                raise NetLanError('%s: %s given, but the LAN has no IPv%d subnet' % (what, value, version))
            try:
                addr = ipaddress.ip_address(value)
            except ValueError as exc:
                raise NetLanError('%s: %s' % (what, exc)) from exc
            if addr not in network or addr in (network.network_address, network.broadcast_address):
                raise NetLanError('%s: %s is not a host address of %s' % (what, value, network))
            if addr in used:
                raise NetLanError('%s: %s is used twice' % (what, value))
            used.add(addr)
            return str(addr)

        def numbered(version, number):
            network = self.ipv4_net if version == 4 else self.ipv6_net
            offset = number if version == 4 else int(str(number), 16)
            if network is None or offset >= network.num_addresses - 1:
                return None
            return network.network_address + offset

        def infra_spec(name, number):
            v4, v6 = numbered(4, number), numbered(6, number)
            used.update(a for a in (v4, v6) if a is not None)
            return HostSpec(name, str(v4) if v4 else None, str(v6) if v6 else None)

        infra = [infra_spec('scanner', SCANNER_NUMBER)]
        if self.dns_enabled:
            infra.append(infra_spec('dns', DNS_NUMBER if self.ipv4_net is None or self.ipv4_net.num_addresses > DNS_NUMBER + 1 else 3))
        # explicit addresses first, so that picked ones never collide with them
        resolved = []
        for spec in specs:
            v4 = address(spec.ipv4, 4, spec.name) if isinstance(spec.ipv4, str) else spec.ipv4
            v6 = address(spec.ipv6, 6, spec.name) if isinstance(spec.ipv6, str) else spec.ipv6
            extra4 = tuple(address(a, 4, spec.name) for a in spec.extra_ipv4)
            extra6 = tuple(address(a, 6, spec.name) for a in spec.extra_ipv6)
            resolved.append(dataclasses.replace(spec, ipv4=v4, ipv6=v6, extra_ipv4=extra4, extra_ipv6=extra6))
        counter = FIRST_AUTO_NUMBER
        final = []
        for spec in resolved:
            v4, v6 = spec.ipv4, spec.ipv6
            if v4 is None and self.ipv4_net is None:
                v4 = False
            if v6 is None and self.ipv6_net is None:
                v6 = False
            if v4 is None:
                while True:
                    candidate = numbered(4, counter)
                    if candidate is None:
                        raise NetLanError('subnet %s is full' % self.ipv4_net)
                    twin = numbered(6, counter) if v6 is None else None
                    counter += 1
                    if candidate not in used and (twin is None or twin not in used):
                        break
                used.add(candidate)
                v4 = str(candidate)
            if v6 is None:
                candidate = None
                if v4:
                    candidate = numbered(6, int(ipaddress.ip_address(v4)) - int(self.ipv4_net.network_address))
                while candidate is None or candidate in used:
                    candidate = numbered(6, counter)
                    counter += 1
                    if candidate is None:
                        raise NetLanError('no free IPv6 address for %s' % spec.name)
                used.add(candidate)
                v6 = str(candidate)
            final.append(dataclasses.replace(spec, ipv4=v4 or None, ipv6=v6 or None))
        macs = set()
        for spec in infra + final:
            if spec.mac is not None:
                mac = str(spec.mac).lower().replace('-', ':')
                if not MAC_RE.match(mac) or int(mac[:2], 16) & 1 or mac == '00:00:00:00:00:00':
                    raise NetLanError('%s: MAC %r is not a unicast MAC address' % (spec.name, spec.mac))
                if mac in macs:
                    raise NetLanError('%s: MAC %s is used twice' % (spec.name, mac))
                macs.add(mac)
        for index, spec in enumerate(infra + final, start=1):
            mac = str(spec.mac).lower().replace('-', ':') if spec.mac else None
            if mac is None:
                tail = ipaddress.ip_address(spec.ipv4).packed if spec.ipv4 else index.to_bytes(4, 'big')
                first = 0 if spec.ipv4 else 1
                while True:
                    mac = ':'.join('%02x' % b for b in bytes([2, first]) + tail)
                    if mac not in macs:
                        break
                    first += 2
                macs.add(mac)
            spec = dataclasses.replace(spec, mac=mac)
            if spec.name in INFRA_NAMES:
                members[spec.name] = _Member(spec.name, spec, self._ns(spec.name), 'v' + spec.name[:4])
            else:
                members[spec.name] = _Member('host', spec, self._ns('h-' + spec.name), 'vh%d' % (index - len(infra)))
        return members

    # -- properties -------------------------------------------------------------------------------

    @property
    def switch_ns(self):
        return self._ns('switch')

    @property
    def scanner_ns(self):
        return self._members['scanner'].ns

    @property
    def dns_ns(self):
        return self._members['dns'].ns if self.dns_enabled else None

    @property
    def nmap_wrapper(self):
        """Executable that runs `ip netns exec <scanner ns> nmap "$@"` (the agent's nmap_path)."""
        return os.path.join(self.dir, 'nmap')

    @property
    def dns_servers(self):
        """Addresses of the LAN's dnsmasq (IPv4 first); empty without dns."""
        return self._members['dns'].spec.addresses() if self.dns_enabled else []

    @property
    def hosts(self):
        """HostSpecs of the hosts (not the infrastructure) with their final addresses, MACs and up state."""
        return tuple(m.spec for m in self._members.values() if m.role == 'host')

    @property
    def infra(self):
        """{'scanner': HostSpec, 'dns': HostSpec}: the infrastructure members a subnet scan also sees."""
        return dict((m.role, m.spec) for m in self._members.values() if m.role != 'host')

    @property
    def namespaces(self):
        return [self.switch_ns] + [m.ns for m in self._members.values()]

    def host(self, name):
        """The HostSpec of host (or infrastructure member) `name`."""
        return self._member(name).spec

    def ns_of(self, name):
        """Namespace of a host or of 'scanner' / 'dns' / 'switch'."""
        return self.switch_ns if name == 'switch' else self._member(name).ns

    def fqdn(self, name):
        return '%s.%s' % (name, self.domain) if self.domain else name

    def up_hosts(self):
        return tuple(spec for spec in self.hosts if spec.up)

    def down_hosts(self):
        return tuple(spec for spec in self.hosts if not spec.up)

    def _member(self, name):
        try:
            return self._members[name]
        except KeyError:
            raise NetLanError('LAN %s has no host %r' % (self.tag, name)) from None

    # -- life cycle -------------------------------------------------------------------------------

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc_info):
        self.destroy()

    def __repr__(self):
        return '<Lan %s %s %s, %d hosts%s>' % (self.tag, self.ipv4_net, self.ipv6_net, len(self.hosts),
                                               '' if self.created else ', not created')

    def create(self):
        """Build the LAN (returns self). On any failure everything built so far is removed again."""
        if self.created:
            return self
        started = time.monotonic()
        install_packages(self.dns_enabled)
        if not self.nmap_path:
            self.nmap_path = _which('nmap')
        with _locked(self.state_dir):
            leftovers = _tag_namespaces(self.tag)
            if leftovers or os.path.exists(self.dir):
                raise NetLanError('LAN %s already exists (%s): remove it first (netlan.py cleanup --tag %s)'
                                  % (self.tag, ', '.join(leftovers) or self.dir, self.tag))
            os.makedirs(self.dir, mode=0o755)
            stat = _proc_stat(os.getpid())
            self.owner = None if self.persistent else {'pid': os.getpid(), 'start': stat[1] if stat else None}
            self.phase = 'creating'
            try:
                self._save_state()
                self._build()
                self.phase = 'ready'
                self._save_state()
            except BaseException:
                LOG.warning('creating LAN %s failed: removing what was built', self.tag)
                with contextlib.suppress(Exception):
                    _remove_tag(self.state_dir, self.tag)
                raise
        self.created = True
        self.timings['total'] = time.monotonic() - started
        LOG.info('LAN %s: %d hosts (%d up) in %.2f s', self.tag, len(self.hosts), len(self.up_hosts()),
                 self.timings['total'])
        return self

    def destroy(self):
        """Remove the LAN: dnsmasq, namespaces, /etc/netns entry, state dir. Safe to call twice."""
        with _locked(self.state_dir):
            _remove_tag(self.state_dir, self.tag)
        self.created = False
        self.phase = 'destroyed'

    def _timed(self, step, started):
        now = time.monotonic()
        self.timings[step] = now - started
        return now

    def _build(self):
        step = time.monotonic()
        members = list(self._members.values())
        _ip_batch(['netns add %s' % ns for ns in self.namespaces], what='ip netns add')
        step = self._timed('netns', step)

        script = os.path.join(self.dir, 'sysctl.sh')
        _write(script, SYSCTL_SCRIPT)
        _ip_batch(['netns exec %s /bin/sh "%s" %s' % (ns, script, 'switch' if ns == self.switch_ns else 'member')
                   for ns in self.namespaces], what='sysctl in the namespaces')
        step = self._timed('sysctl', step)

        switch = ['link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0']
        for m in members:
            switch.append('link add %s type veth peer name eth0 address %s netns %s' % (m.port, m.spec.mac, m.ns))
            switch.append('link set %s master br0' % m.port)
            if m.spec.up:
                switch.append('link set %s up' % m.port)
        switch.append('link set br0 up')
        _ip_batch(switch, ns=self.switch_ns, what='switch set-up')
        step = self._timed('switch', step)

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(32, len(members))) as pool:
            for future in [pool.submit(_ip_batch, self._member_commands(m), m.ns, False, 'set-up of %s' % m.ns)
                           for m in members]:
                future.result()
        step = self._timed('members', step)

        self._write_scanner_files()
        if self.dns_enabled:
            self._start_dns()
        self._timed('dns', step)

    def _member_commands(self, member):
        spec = member.spec
        lines = ['link set lo up']
        if spec.ipv4:
            lines.append('addr add %s/%d brd + dev eth0' % (spec.ipv4, self.ipv4_net.prefixlen))
        if spec.ipv6:
            lines.append('addr add %s/%d dev eth0 nodad' % (spec.ipv6, self.ipv6_net.prefixlen))
        lines += ['addr add %s/%d brd + dev eth0' % (a, self.ipv4_net.prefixlen) for a in spec.extra_ipv4]
        lines += ['addr add %s/%d dev eth0 nodad' % (a, self.ipv6_net.prefixlen) for a in spec.extra_ipv6]
        if spec.up:
            lines.append('link set eth0 up')
        return lines

    def _write_scanner_files(self):
        if not self.nmap_path:
            raise NetLanError('no nmap found (Debian package nmap)')
        command = shlex.join([_ip_path(), 'netns', 'exec', self.scanner_ns, self.nmap_path])
        _write(self.nmap_wrapper, '#!/bin/sh\n# nmap inside the scanner namespace of netlan LAN %s; arguments and exit code '
               'pass through.\nexec %s "$@"\n' % (self.tag, command), 0o755)
        # `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf: nmap (and any
        # resolver) in the scanner namespace asks the LAN's DNS and never the machine's servers.
        folder = os.path.join(ETC_NETNS, self.scanner_ns)
        os.makedirs(folder, mode=0o755, exist_ok=True)
        lines = ['# netlan LAN %s: the LAN\'s own DNS server' % self.tag]
        lines += ['nameserver %s' % a for a in self.dns_servers]
        if self.domain:
            lines.append('search %s' % self.domain)
        _write(os.path.join(folder, 'resolv.conf'), '\n'.join(lines) + '\n')

    def _dnsmasq_conf(self):
        dns = self._members['dns'].spec
        conf = os.path.join(self.dir, 'dnsmasq.conf')
        lines = ['# netlan LAN %s: authoritative-ish local DNS, no upstream, no DHCP' % self.tag,
                 'no-resolv', 'no-hosts', 'no-poll', 'no-negcache', 'bind-interfaces', 'port=53', 'user=root',
                 'pid-file=%s' % os.path.join(self.dir, 'dnsmasq.pid'),
                 'log-facility=%s' % os.path.join(self.dir, 'dnsmasq.log'), 'log-queries']
        lines += ['listen-address=%s' % a for a in dns.addresses()]
        zones = [self.domain] if self.domain else []
        for network in (self.ipv4_net, self.ipv6_net):
            if network:
                zones += _arpa_zones(network)
        lines += ['local=/%s/' % zone for zone in zones]
        for member in self._members.values():
            spec = member.spec
            names = [self.fqdn(spec.name)] + ([spec.name] if self.domain else [])
            lines.append('host-record=%s' % ','.join(names + [a for a in (spec.ipv4, spec.ipv6) if a]))
        _write(conf, '\n'.join(lines) + '\n')
        return conf

    def _start_dns(self):
        conf = self._dnsmasq_conf()
        dnsmasq = _which('dnsmasq')
        if not dnsmasq:
            raise NetLanError('no dnsmasq (Debian package dnsmasq-base)')
        # dnsmasq daemonises only after its sockets are bound; errors come back through its exit code.
        _run([_ip_path(), 'netns', 'exec', self.dns_ns, dnsmasq, '--conf-file=' + conf], what='dnsmasq')
        pid_file = os.path.join(self.dir, 'dnsmasq.pid')
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                with open(pid_file, encoding='ascii') as handle:
                    self.dnsmasq_pid = int(handle.read().strip())
                if process_alive(self.dnsmasq_pid):
                    return
            time.sleep(0.01)
        raise NetLanError('dnsmasq did not start: see %s' % os.path.join(self.dir, 'dnsmasq.log'))

    # -- runtime ----------------------------------------------------------------------------------

    def set_up(self, name, up=True):
        """Switch a host on (it answers ARP/ND/ICMP/TCP) or off (eth0 and its bridge port down)."""
        member = self._member(name)
        if member.role != 'host':
            raise NetLanError('only hosts can be switched, not %s' % name)
        state = 'up' if up else 'down'
        if up:
            _ip_batch(['link set %s up' % member.port], ns=self.switch_ns)
            _ip_batch(['link set eth0 up'], ns=member.ns)
        else:
            _ip_batch(['link set eth0 down'], ns=member.ns)
            _ip_batch(['link set %s down' % member.port], ns=self.switch_ns)
        member.spec = dataclasses.replace(member.spec, up=bool(up))
        if self.created:
            self._save_state()
        LOG.info('LAN %s: %s is %s', self.tag, name, state)

    def exec(self, ns, argv, check=False, timeout=CMD_TIMEOUT, **kwargs):
        """Run argv in a namespace: a full namespace name, 'scanner', 'dns', 'switch' or a host name."""
        if ns not in self.namespaces:
            ns = self.ns_of(ns)
        return subprocess.run([_ip_path(), 'netns', 'exec', ns, *argv], capture_output=True, text=True,
                              timeout=timeout, check=check, **kwargs)

    def nmap(self, *args, timeout=600, check=False):
        """Run nmap in the scanner namespace through the wrapper (CompletedProcess, text output)."""
        return subprocess.run([self.nmap_wrapper, *args], capture_output=True, text=True, timeout=timeout,
                              check=check)

    def check(self):
        """What is wrong with a created LAN ([] when healthy): missing namespaces, dnsmasq not running."""
        problems = []
        existing = set(list_netns())
        problems += ['namespace %s is missing' % ns for ns in self.namespaces if ns not in existing]
        if not os.access(self.nmap_wrapper, os.X_OK):
            problems.append('%s is missing' % self.nmap_wrapper)
        if self.dns_enabled and not (self.dnsmasq_pid and process_alive(self.dnsmasq_pid)):
            problems.append('dnsmasq is not running')
        return problems

    # -- state ------------------------------------------------------------------------------------

    def to_dict(self):
        """JSON-able description: subnets, hosts, infrastructure, wrapper path, DNS servers."""
        return {
            'version': STATE_VERSION, 'tag': self.tag, 'name': self.name, 'phase': self.phase,
            'persistent': self.persistent, 'owner': self.owner,
            'ipv4': str(self.ipv4_net) if self.ipv4_net else None, 'ipv6': str(self.ipv6_net) if self.ipv6_net else None,
            'domain': self.domain, 'dns': self.dns_enabled, 'dns_servers': self.dns_servers,
            'dnsmasq_pid': self.dnsmasq_pid, 'nmap_wrapper': self.nmap_wrapper, 'nmap': self.nmap_path,
            'scanner_ns': self.scanner_ns, 'switch_ns': self.switch_ns, 'dir': self.dir,
            'infrastructure': dict((m.role, m.to_dict()) for m in self._members.values() if m.role != 'host'),
            'hosts': [dict(m.to_dict(), fqdn=self.fqdn(m.spec.name)) for m in self._members.values() if m.role == 'host'],
        }

    def _save_state(self):
        _write(os.path.join(self.dir, 'state.json'), json.dumps(self.to_dict(), indent=2) + '\n')

    @classmethod
    def attach(cls, tag, state_dir=None):
        """The Lan recorded in <state dir>/<tag>/state.json (to switch hosts or destroy it from elsewhere)."""
        state_dir = _state_dir(state_dir)
        state = _read_state(state_dir, tag)
        if state is None:
            raise NetLanError('no LAN %s in %s' % (tag, state_dir))
        lan = cls.__new__(cls)
        lan.tag, lan.name, lan.phase = state['tag'], state['name'], state['phase']
        lan.ipv4_net = ipaddress.ip_network(state['ipv4']) if state['ipv4'] else None
        lan.ipv6_net = ipaddress.ip_network(state['ipv6']) if state['ipv6'] else None
        lan.domain, lan.dns_enabled, lan.persistent = state['domain'], state['dns'], state['persistent']
        lan.state_dir, lan.dir, lan.nmap_path = state_dir, os.path.join(state_dir, tag), state['nmap']
        lan.owner, lan.dnsmasq_pid, lan.timings = state['owner'], state['dnsmasq_pid'], {}
        lan.created = state['phase'] == 'ready'
        lan._members = {}  # pylint: disable=protected-access
        for data in list(state['infrastructure'].values()) + state['hosts']:
            lan._members[data['name']] = _Member(data['role'], HostSpec.from_dict(data), data['ns'], data['port'])  # pylint: disable=protected-access
        return lan


# ---- the demo LAN -------------------------------------------------------------------------------

DEMO_NAME = 'demo'
DEMO_IPV4 = '198.18.200.0/24'
DEMO_IPV6 = 'fd00:18:200::/64'
DEMO_DOMAIN = 'demo.lan.test'
DEMO_HOSTS = (
    HostSpec('router', '198.18.200.1', 'fd00:18:200::1', '02:d0:00:c8:00:01'),
    HostSpec('web1', '198.18.200.10', 'fd00:18:200::10', '02:d0:00:c8:00:0a'),
    HostSpec('web2', '198.18.200.11', 'fd00:18:200::11', '02:d0:00:c8:00:0b'),
    HostSpec('db1', '198.18.200.20', 'fd00:18:200::20', '02:d0:00:c8:00:14'),
    HostSpec('nas', '198.18.200.30', 'fd00:18:200::30', '02:d0:00:c8:00:1e'),
    HostSpec('printer', '198.18.200.40', False, '02:d0:00:c8:00:28'),
    HostSpec('cam1', '198.18.200.50', 'fd00:18:200::50', '02:d0:00:c8:00:32'),
    HostSpec('laptop-ana', '198.18.200.100', 'fd00:18:200::100', '02:d0:00:c8:00:64'),
    HostSpec('laptop-ben', '198.18.200.101', 'fd00:18:200::101', '02:d0:00:c8:00:65'),
    HostSpec('phone-cy', '198.18.200.102', 'fd00:18:200::102', '02:d0:00:c8:00:66'),
    HostSpec('old-server', '198.18.200.200', 'fd00:18:200::200', '02:d0:00:c8:00:c8', up=False),
    HostSpec('spare-ap', '198.18.200.201', 'fd00:18:200::201', '02:d0:00:c8:00:c9', up=False),
)


def demo_lan(state_dir=None):
    """The (not yet created) persistent demo LAN: 10 hosts up, 2 down, everything fixed."""
    return Lan(name=DEMO_NAME, ipv4=DEMO_IPV4, ipv6=DEMO_IPV6, hosts=DEMO_HOSTS, domain=DEMO_DOMAIN,
               persistent=True, state_dir=state_dir)


def demo_up(state_dir=None):
    """Create the demo LAN, or reuse it when it is complete and healthy. Returns (lan, reused)."""
    with contextlib.suppress(NetLanError):
        lan = Lan.attach(DEMO_NAME, state_dir)
        if lan.created and not lan.check():
            return lan, True
    remove_lan(DEMO_NAME, state_dir)
    return demo_lan(state_dir).create(), False


# ---- CLI ----------------------------------------------------------------------------------------


def _print_lan(lan, as_json):
    if as_json:
        print(json.dumps(lan.to_dict(), indent=2))
        return
    print('LAN %s: %s %s, domain %s' % (lan.tag, lan.ipv4_net or '-', lan.ipv6_net or '-', lan.domain or '-'))
    print('nmap wrapper: %s' % lan.nmap_wrapper)
    print('DNS servers:  %s' % ' '.join(lan.dns_servers))
    for role, spec in lan.infra.items():
        print('  %-12s %-16s %-24s %s (infrastructure)' % (role, spec.ipv4 or '-', spec.ipv6 or '-', spec.mac))
    for spec in lan.hosts:
        print('  %-12s %-16s %-24s %s %s' % (spec.name, spec.ipv4 or '-', spec.ipv6 or '-', spec.mac,
                                             'up' if spec.up else 'DOWN'))


def main(argv=None):
    parser = argparse.ArgumentParser(prog='netlan.py', description='Test LANs in network namespaces (root only).')
    parser.add_argument('--state-dir', help='default: $IPAMKIT_NETLAN_DIR or %s' % DEFAULT_STATE_DIR)
    parser.add_argument('-v', '--verbose', action='store_true')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('can-run', help='can a LAN be created here? exit 1 with the reason')
    up = sub.add_parser('demo-up', help='create (or reuse) the persistent demo LAN and describe it')
    up.add_argument('--json', action='store_true', help='print the description as JSON')
    show = sub.add_parser('demo-status', help='describe the demo LAN (exit 3 when it is missing or broken)')
    show.add_argument('--json', action='store_true')
    switch = sub.add_parser('demo-set', help='switch a demo host up or down')
    switch.add_argument('host')
    switch.add_argument('state', choices=('up', 'down'))
    sub.add_parser('demo-down', help='remove the demo LAN')
    sub.add_parser('list', help='LANs netlan knows here (JSON)')
    clean = sub.add_parser('cleanup', help='remove LANs whose creating process is gone (or --tag TAG: that one)')
    clean.add_argument('--tag', help='remove this LAN even if its owner still runs')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command in ('demo-up', 'demo-down', 'cleanup')
                        else logging.WARNING, format='netlan: %(message)s', stream=sys.stderr)
    try:
        if args.command == 'can-run':
            ok, reason = can_run()
            print(reason)
            return 0 if ok else 1
        if args.command == 'demo-up':
            lan, reused = demo_up(args.state_dir)
            LOG.info('demo LAN %s (%s)', lan.tag, 'reused' if reused else 'created in %.2f s' % lan.timings['total'])
            _print_lan(lan, args.json)
        elif args.command == 'demo-status':
            try:
                lan = Lan.attach(DEMO_NAME, args.state_dir)
            except NetLanError as exc:
                print('netlan: %s' % exc, file=sys.stderr)
                return 3
            problems = lan.check()
            _print_lan(lan, args.json)
            if problems:
                print('problems: ' + '; '.join(problems), file=sys.stderr)
                return 3
        elif args.command == 'demo-set':
            Lan.attach(DEMO_NAME, args.state_dir).set_up(args.host, args.state == 'up')
        elif args.command == 'demo-down':
            remove_lan(DEMO_NAME, args.state_dir)
        elif args.command == 'list':
            print(json.dumps(list_lans(args.state_dir), indent=2))
        elif args.command == 'cleanup':
            if args.tag:
                removed = remove_lan(args.tag, args.state_dir)
                LOG.info('removed LAN %s (%d namespaces)', args.tag, len(removed))
            else:
                LOG.info('removed stale LANs: %s', ' '.join(cleanup_stale(args.state_dir)) or 'none')
    except (NetLanError, OSError, subprocess.SubprocessError) as exc:
        print('netlan: %s' % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
