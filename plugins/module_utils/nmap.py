# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan step of the scan agent: plan nmap runs, build their argv, run nmap, parse its XML.

Everything here is plain Python (stdlib only). The pure parts, ``parse_subnets``, ``plan_scan``,
``build_argv``, ``parse_iflist``, ``parse_xml`` and ``assign_hosts``, take and return plain data and
raise ``NmapError`` with a message a user can act on. ``NmapRunner`` is the only code that starts
processes; it does so through a ``run_command`` callable with the signature of
``AnsibleModule.run_command``, and ``scan`` ties it all together for the module.

Run planning, in phpIPAM's terms (pingCheck / discoveryCheck):

* a subnet with neither ``pingSubnet`` nor ``discoverSubnet`` is not scanned;
* known addresses of a scanned subnet are probed, except those with ``excludePing``;
* an IPv4 ``discoverSubnet`` subnet is swept: its whole range, less the network and broadcast
  addresses (prefixes up to /30, not for pools, as phpIPAM counts hosts) and less the ranges of
  more specific input subnets, which their own settings govern;
* an IPv6 subnet is never swept; with ``discoverSubnet``, privileged, and an interface of the
  scanning host inside it, nmap also asks the link for neighbours (ICMPv6 echo to ff02::1);
* one nmap process per IP family and DNS-server set (``-n`` without resolveDNS); IPv6 neighbour
  discovery works on one interface per process, so each extra interface costs one more run;
* a host goes to the most specific subnet of its run that probed it (ties: every such subnet).
"""

import datetime
import ipaddress
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

MULTICAST_SCRIPT = 'targets-ipv6-multicast-echo'
DEFAULT_TIMING = 4
# -sn's own probes, stated when probe_ports adds TCP ports (a -PS of our own replaces them all).
DEFAULT_PROBES = {
    (4, True): ('-PE', '-PP', '-PS443', '-PA80'),
    (6, True): ('-PE', '-PS443', '-PA80'),  # nmap refuses -PP (ICMP timestamp) with -6
    (4, False): ('-PS80,443',),  # unprivileged: TCP connect() to 80 and 443
    (6, False): ('-PS80,443',),
}
_TIME_SPEC_RE = re.compile(r'^\d+(\.\d+)?(ms|s|m|h)?$')
_IFACE_NAME_RE = re.compile(r'^[A-Za-z0-9_.:@-]{1,64}$')
_TRUE = ('1', 'true', 'yes', 'on')
_FALSE = ('0', 'false', 'no', 'off', '')


class NmapError(Exception):
    """The scan cannot give a complete, trustworthy answer; the message says why."""

    def __init__(self, message, run=None, stderr=None):
        super(NmapError, self).__init__(message)
        self.run = run
        self.stderr = stderr


# --------------------------------------------------------------------------- input


class Subnet(object):
    """One input subnet, validated: what to probe in it and how to recognise its hosts."""

    def __init__(self, index, subnet_id, network, ping, discover, resolve, dns_servers, is_pool=False):
        self.index = index
        self.id = subnet_id
        self.network = network
        self.family = network.version
        self.ping = ping
        self.discover = discover
        self.resolve = resolve
        self.dns_servers = tuple(dns_servers) if resolve else ()
        self.is_pool = is_pool
        self.known = set()  # known addresses to probe
        self.excluded = set()  # known addresses with excludePing
        self.inner = []  # more specific input subnets inside this one (their ranges are theirs)
        self.sweep = []  # IPv4 discovery: the blocks this subnet sweeps
        self.interface = None  # IPv6 neighbour discovery: the interface nmap asks on
        self.run = None

    @property
    def scanned(self):
        return self.ping or self.discover

    @property
    def cidr(self):
        return str(self.network)

    def _outside_inner(self, ip):
        return not any(ip in inner.network for inner in self.inner)

    def wants(self, ip):
        """Did this subnet probe ``ip`` (so that a host seen there belongs to it)?"""
        if ip.version != self.family or ip in self.excluded:
            return False
        if ip in self.known:
            return True
        if self.sweep:
            return any(ip in block for block in self.sweep)
        if self.interface:
            return ip in self.network and self._outside_inner(ip)
        return False

    def target_count(self):
        count = sum(block.num_addresses for block in self.sweep)
        count -= sum(1 for ip in self.excluded if any(ip in block for block in self.sweep))
        count += sum(1 for ip in self.known if not any(ip in block for block in self.sweep))
        return count


def _flag(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError('%r is not a boolean' % (value,))


def parse_subnets(subnets):
    """Validate the ``subnets`` of scan_agent_info; return ``(list of Subnet, warnings)``.

    Unknown keys are ignored. Every problem is collected and raised at once as one NmapError.
    """
    problems, warnings, parsed = [], [], []
    if not isinstance(subnets, list):
        raise NmapError('subnets must be a list (the subnets returned by ipamkit.phpipam.scan_agent_info)')
    for index, raw in enumerate(subnets):
        where = 'subnets[%d]' % index
        if not isinstance(raw, dict):
            problems.append('%s is not a dict' % where)
            continue
        try:
            network = ipaddress.ip_network(str(raw.get('cidr')), strict=False)
        except ValueError:
            problems.append('%s: cidr %r is not a network in CIDR notation' % (where, raw.get('cidr')))
            continue
        where = '%s (%s)' % (where, network)
        subnet_id = raw.get('id')
        if isinstance(subnet_id, bool) or not isinstance(subnet_id, int):
            if isinstance(subnet_id, str) and subnet_id.isdigit():
                subnet_id = int(subnet_id)
            else:
                problems.append('%s: id %r is not a number' % (where, subnet_id))
        if raw.get('ip_version') not in (None, network.version, str(network.version)):
            problems.append('%s: ip_version %r does not match the cidr' % (where, raw.get('ip_version')))
        flags = {}
        for key in ('pingSubnet', 'discoverSubnet', 'resolveDNS', 'isPool'):
            try:
                flags[key] = _flag(raw.get(key))
            except ValueError as exc:
                problems.append('%s: %s %s' % (where, key, exc))
                flags[key] = False
        servers = []
        for server in raw.get('dns_servers') or []:
            try:
                servers.append(str(ipaddress.ip_address(str(server).strip())))
            except ValueError:
                problems.append('%s: DNS server %r is not an IP address' % (where, server))
        subnet = Subnet(index, subnet_id, network, flags['pingSubnet'], flags['discoverSubnet'],
                        flags['resolveDNS'], list(dict.fromkeys(servers)), flags['isPool'])
        addresses = raw.get('addresses')
        if subnet.scanned and not isinstance(addresses, list):
            problems.append('%s: no addresses list; fetch the subnets with ipamkit.phpipam.scan_agent_info and '
                            'addresses: true, so that known and excludePing addresses are known' % where)
            addresses = []
        for position, address in enumerate(addresses or []):
            ip_text = address.get('ip') if isinstance(address, dict) else None
            try:
                ip = ipaddress.ip_address(str(ip_text).strip())
            except ValueError:
                problems.append('%s: addresses[%d].ip %r is not an IP address' % (where, position, ip_text))
                continue
            if ip not in network:
                warnings.append('%s: address %s lies outside the subnet and is not probed' % (where, ip))
                continue
            try:
                excluded = _flag(address.get('excludePing'))
            except ValueError as exc:
                problems.append('%s: addresses[%d].excludePing %s' % (where, position, exc))
                continue
            (subnet.excluded if excluded else subnet.known).add(ip)
        subnet.known -= subnet.excluded
        parsed.append(subnet)
    if problems:
        shown = problems[:20]
        more = ' (and %d more)' % (len(problems) - len(shown)) if len(problems) > len(shown) else ''
        raise NmapError('invalid subnets: %s%s' % ('; '.join(shown), more))
    return parsed, warnings


# --------------------------------------------------------------------------- interfaces


def parse_iflist(text):
    """The INTERFACES table of ``nmap --iflist``, in nmap's order, as dicts.

    Each row is one address of one device: ``device``, ``address`` (ipaddress interface), ``type``
    (ethernet, loopback, ...), ``up`` (bool) and ``mac`` (lower case or None).
    """
    rows, inside = [], False
    for line in (text or '').splitlines():
        if 'INTERFACES' in line and line.startswith('*'):
            inside = True
            continue
        if line.startswith('*'):
            inside = False
            continue
        fields = line.split()
        if not inside or len(fields) < 6 or fields[0] == 'DEV':
            continue
        try:
            address = ipaddress.ip_interface(fields[2])
        except ValueError:
            continue  # "(none)/0": a device without an address
        rows.append({'device': fields[0], 'address': address, 'type': fields[3], 'up': fields[4] == 'up',
                     'mac': fields[6].lower() if len(fields) > 6 else None})
    return rows


def neighbour_interface(network, interfaces):
    """For an IPv6 subnet: ``(device, source)`` nmap could ask for neighbours on, or ``(None, None)``.

    The multicast echo script works on ethernet devices only and sends from the device's first IPv6
    address in nmap's list (the kernel's order, often the link-local one), whatever the subnet, and
    neighbours answer from their address nearest to that source. A device whose source lies in the
    subnet is preferred; the caller uses one only then.
    """
    found = []
    for row in interfaces:
        if row['type'] == 'ethernet' and row['up'] and row['address'].ip in network \
                and _IFACE_NAME_RE.match(row['device']) and row['device'] not in [f[0] for f in found]:
            source = next(r['address'].ip for r in interfaces
                          if r['device'] == row['device'] and r['address'].version == 6)
            found.append((row['device'], source))
    for device, source in found:
        if source in network:
            return device, source
    return found[0] if found else (None, None)


def needs_interfaces(subnets, privileged, ipv6_discovery):
    """Whether plan_scan needs the scanning host's interfaces (``nmap --iflist``)."""
    return bool(privileged and ipv6_discovery and any(s.family == 6 and s.discover for s in subnets))


# --------------------------------------------------------------------------- planning


class Run(object):
    """One nmap process: an IP family, a DNS setting and (IPv6) an interface to ask for neighbours."""

    def __init__(self, family, resolve, dns_servers, interface=None):
        self.family = family
        self.resolve = resolve
        self.dns_servers = tuple(dns_servers)
        self.interface = interface
        self.subnets = []
        self.targets = []  # collapsed networks
        self.excludes = []  # addresses
        self.target_count = 0

    def describe(self):
        dns = ('DNS %s' % ','.join(self.dns_servers) if self.dns_servers else 'system DNS') if self.resolve else 'no DNS'
        text = 'IPv%d, %s' % (self.family, dns)
        return text + (', neighbours on %s' % self.interface if self.interface else '')


class Plan(object):
    def __init__(self, subnets, runs, warnings):
        self.subnets = subnets
        self.runs = runs
        self.warnings = warnings


def _sweep_blocks(subnet):
    blocks = [subnet.network]
    cut = [inner.network for inner in subnet.inner]
    if subnet.family == 4 and subnet.network.prefixlen < 31 and not subnet.is_pool:
        cut += [ipaddress.ip_network(subnet.network.network_address),
                ipaddress.ip_network(subnet.network.broadcast_address)]
    for hole in cut:
        next_blocks = []
        for block in blocks:
            if hole.subnet_of(block):
                next_blocks.extend(block.address_exclude(hole))
            elif not block.subnet_of(hole):
                next_blocks.append(block)
        blocks = next_blocks
    return sorted(blocks)


def plan_scan(subnets, privileged, ipv6_discovery=True, interfaces=None):
    """Group the scanned subnets into nmap runs and work out each run's targets (pure)."""
    warnings = []
    for subnet in subnets:
        subnet.inner = [other for other in subnets
                        if other.family == subnet.family and other.network.prefixlen > subnet.network.prefixlen
                        and other.network.subnet_of(subnet.network)]
        subnet.sweep, subnet.interface, subnet.run = [], None, None
        if subnet.scanned and subnet.discover and subnet.family == 4:
            subnet.sweep = _sweep_blocks(subnet)
        elif subnet.scanned and subnet.discover and privileged and ipv6_discovery and interfaces is not None:
            device, source = neighbour_interface(subnet.network, interfaces)
            if device and source in subnet.network:
                subnet.interface = device
            elif device:
                warnings.append(
                    'no IPv6 neighbour discovery for %s: nmap would ask on %s from %s, the first IPv6 address it '
                    'lists for %s, and neighbours answer from their addresses nearest to that one, not from %s; '
                    'only its known addresses were checked' % (subnet.cidr, device, source, device, subnet.cidr))

    groups = {}
    for subnet in subnets:
        if subnet.scanned:
            groups.setdefault((subnet.family, subnet.resolve, subnet.dns_servers), []).append(subnet)
    runs = []
    for (family, resolve, servers), members in sorted(groups.items(), key=lambda item: item[0][0]):
        devices = list(dict.fromkeys(s.interface for s in members if s.interface))
        group_runs = dict((device, Run(family, resolve, servers, device)) for device in devices or [None])
        first = group_runs[(devices or [None])[0]]
        for subnet in members:
            run = group_runs[subnet.interface] if subnet.interface else first
            run.subnets.append(subnet)
            subnet.run = run
        runs.extend(group_runs.values())

    for run in runs:
        blocks, known, excluded = [], set(), set()
        for subnet in run.subnets:
            blocks.extend(subnet.sweep)
            known |= subnet.known
            excluded |= subnet.excluded
        excluded -= known
        blocks.extend(ipaddress.ip_network(ip) for ip in known)
        run.targets = list(ipaddress.collapse_addresses(blocks))
        run.excludes = sorted(excluded)
        covered = sum(1 for ip in run.excludes if any(ip in block for block in run.targets))
        run.target_count = sum(block.num_addresses for block in run.targets) - covered
    return Plan(subnets, runs, warnings)


# --------------------------------------------------------------------------- argv


def _number(value):
    return ('%f' % value).rstrip('0').rstrip('.') if isinstance(value, float) else str(value)


def validate_options(timing=DEFAULT_TIMING, max_rate=None, host_timeout=None, probe_ports=None, min_rate=None):
    """Problems with the scan options, as a list of strings (empty when all is well)."""
    problems = []
    if timing not in range(6):
        problems.append('timing must be 0 to 5, not %r' % (timing,))
    if max_rate is not None and not max_rate > 0:
        problems.append('max_rate must be above 0, not %r' % (max_rate,))
    if min_rate is not None and not min_rate > 0:
        problems.append('min_rate must be above 0, not %r' % (min_rate,))
    if min_rate is not None and max_rate is not None and min_rate > max_rate:
        problems.append('min_rate %r must not be above max_rate %r' % (min_rate, max_rate))
    if host_timeout is not None and not _TIME_SPEC_RE.match(str(host_timeout)):
        problems.append('host_timeout %r is neither seconds nor an nmap time (30s, 500ms, 5m, 1h)' % (host_timeout,))
    for port in probe_ports or []:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            problems.append('probe_ports: %r is not a TCP port (1-65535)' % (port,))
    return problems


def build_argv(nmap_path, run, privileged, xml_file, targets_file, exclude_file=None, timing=DEFAULT_TIMING,
               max_rate=None, host_timeout=None, probe_ports=None, min_rate=None):
    """The argv list of one nmap run (pure). Every value comes from validated ipaddress objects or options."""
    problems = validate_options(timing, max_rate, host_timeout, probe_ports, min_rate)
    if problems:
        raise NmapError('invalid scan options: %s' % '; '.join(problems))
    argv = [nmap_path, '-sn']
    if run.family == 6:
        argv.append('-6')
    argv += ['-T%d' % timing, '--privileged' if privileged else '--unprivileged']
    if not run.resolve:
        argv.append('-n')
    elif run.dns_servers:
        argv += ['--dns-servers', ','.join(str(ipaddress.ip_address(server)) for server in run.dns_servers)]
    if probe_ports:
        for probe in DEFAULT_PROBES[(run.family, bool(privileged))]:
            if probe.startswith('-PS'):
                ports = [int(p) for p in probe[3:].split(',')]
                ports += [p for p in probe_ports if p not in ports]
                probe = '-PS' + ','.join(str(p) for p in dict.fromkeys(ports))
            argv.append(probe)
    if min_rate is not None:
        argv += ['--min-rate', _number(min_rate)]
    if max_rate is not None:
        argv += ['--max-rate', _number(max_rate)]
    if host_timeout is not None:
        text = str(host_timeout)
        argv += ['--host-timeout', text + 's' if text.replace('.', '', 1).isdigit() else text]
    if run.interface:
        if not _IFACE_NAME_RE.match(run.interface):
            raise NmapError('interface name %r cannot be passed to nmap' % run.interface)
        argv += ['--script', MULTICAST_SCRIPT,
                 '--script-args', 'newtargets,%s.interface=%s' % (MULTICAST_SCRIPT, run.interface)]
    argv += ['-oX', xml_file, '-iL', targets_file]
    if exclude_file:
        argv += ['--excludefile', exclude_file]
    return argv


def _target_text(network):
    return str(network.network_address) if network.num_addresses == 1 else str(network)


def write_inputs(run, base):
    """Write the run's ``-iL`` file (``base.targets``) and, when needed, ``--excludefile`` (``base.exclude``)."""
    with open(base + '.targets', 'w', encoding='ascii') as handle:
        handle.write(''.join(_target_text(block) + '\n' for block in run.targets))
    if not run.excludes:
        return base + '.targets', None
    with open(base + '.exclude', 'w', encoding='ascii') as handle:
        handle.write(''.join('%s\n' % ip for ip in run.excludes))
    return base + '.targets', base + '.exclude'


# --------------------------------------------------------------------------- XML


def _epoch(value):
    try:
        return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc).isoformat()
    except (TypeError, ValueError):
        return None


def parse_xml(text, what='nmap'):
    """Parse nmap's ``-oX`` output of a finished run (pure).

    Returns ``version``, ``args``, ``exit``, ``elapsed``, ``hosts_up`` (nmap's count) and ``hosts``:
    the hosts nmap saw up, each with ``ip``, ``state``, ``reason``, ``mac`` (lower case), ``vendor``
    and ``hostname`` (the PTR name). Raises NmapError for anything but a complete, successful run.
    """
    if not text or not text.strip():
        raise NmapError('%s wrote no XML output' % what)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise NmapError('%s wrote truncated or invalid XML (%s): the scan did not finish, so nothing of it '
                        'counts' % (what, exc))
    # (nmap's XML for a fatal error is a bare <nmaprun> without the scanner attribute.)
    if root.tag != 'nmaprun' or root.get('scanner', 'nmap') != 'nmap':
        raise NmapError('%s wrote XML that is not nmap output (root element <%s scanner=%r>)'
                        % (what, root.tag, root.get('scanner')))
    finished = root.find('runstats/finished')
    if finished is None:
        raise NmapError('%s XML has no <runstats><finished>: the scan did not finish, so nothing of it counts' % what)
    if finished.get('exit') != 'success':
        raise NmapError('%s reports exit=%r: %s' % (what, finished.get('exit'),
                                                    finished.get('errormsg') or finished.get('summary') or 'no reason'))
    hosts, by_ip = [], {}
    for host in root.findall('host'):
        status = host.find('status')
        if status is None or status.get('state') != 'up':
            continue
        ip = mac = vendor = hostname = None
        for address in host.findall('address'):
            kind = address.get('addrtype')
            if kind in ('ipv4', 'ipv6'):
                ip = address.get('addr')
            elif kind == 'mac':
                mac = (address.get('addr') or '').lower() or None
                vendor = address.get('vendor') or None
        for name in host.findall('hostnames/hostname'):
            if name.get('type') == 'PTR' and name.get('name'):
                hostname = name.get('name')
                break
        if ip is None:
            raise NmapError('%s XML has an up host without an IP address' % what)
        seen = {'ip': ip, 'state': 'up', 'reason': status.get('reason'), 'mac': mac, 'vendor': vendor,
                'hostname': hostname}
        if ip in by_ip:  # a target that IPv6 neighbour discovery found again: one host, details merged
            for key, value in seen.items():
                by_ip[ip][key] = by_ip[ip][key] or value
            continue
        by_ip[ip] = seen
        hosts.append(seen)
    counts = root.find('runstats/hosts')
    try:
        elapsed = float(finished.get('elapsed'))
    except (TypeError, ValueError):
        elapsed = None
    return {
        'version': root.get('version'),
        'args': root.get('args'),
        'started': _epoch(root.get('start')),
        'finished': _epoch(finished.get('time')),
        'elapsed': elapsed,
        'exit': finished.get('exit'),
        'hosts_up': int(counts.get('up', len(hosts))) if counts is not None else len(hosts),
        'hosts': hosts,
    }


# --------------------------------------------------------------------------- assignment


def assign_hosts(run, hosts):
    """Hosts of one run by subnet index: each in the most specific subnet of the run that probed it (pure).

    Addresses the run excluded never count, even if nmap reports them.
    """
    by_subnet = dict((subnet.index, []) for subnet in run.subnets)
    excluded = set(run.excludes)
    index = {}  # prefix length -> network address -> subnets
    for subnet in run.subnets:
        index.setdefault(subnet.network.prefixlen, {}).setdefault(int(subnet.network.network_address), []).append(subnet)
    lengths = sorted(index, reverse=True)
    bits = 32 if run.family == 4 else 128
    for host in hosts:
        ip = ipaddress.ip_address(host['ip'])
        if ip in excluded or ip.version != run.family:
            continue
        for length in lengths:
            network = int(ip) >> (bits - length) << (bits - length) if length else 0
            wanting = [subnet for subnet in index[length].get(network, []) if subnet.wants(ip)]
            if wanting:
                for subnet in wanting:
                    by_subnet[subnet.index].append(dict(host))
                break
    for found in by_subnet.values():
        found.sort(key=lambda h: ipaddress.ip_address(h['ip']))
    return by_subnet


# --------------------------------------------------------------------------- running


def _process_tree(pid):
    """``pid`` and its descendants (Linux /proc), each as (pid, start time), parents first."""
    children = {}
    try:
        names = os.listdir('/proc')
    except OSError:
        return [(pid, None)]
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name, 'rb') as handle:
                stat = handle.read().decode('ascii', 'replace')
        except OSError:
            continue
        fields = stat[stat.rfind(')') + 2:].split()
        if len(fields) > 19:
            children.setdefault(int(fields[1]), []).append((int(name), fields[19]))
    tree, todo = [(pid, None)], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            tree.append(child)
            todo.append(child[0])
    return tree


def _start_time(pid):
    try:
        with open('/proc/%d/stat' % pid, 'rb') as handle:
            stat = handle.read().decode('ascii', 'replace')
    except OSError:
        return None
    fields = stat[stat.rfind(')') + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _signal_tree(tree, signum):
    """Signal every process of ``tree`` that is still the same process (its start time unchanged)."""
    for pid, started in tree:
        if started is not None and _start_time(pid) != started:
            continue
        try:
            os.kill(pid, signum)
        except OSError:
            pass


class _Deadline(object):
    """Stops a process (and whatever it started, for wrapper scripts) when the scan's time is up."""

    def __init__(self, seconds, grace=5.0):
        self.seconds = seconds
        self.grace = grace
        self.expired = False
        self._timer = None
        self._done = threading.Event()

    def watch(self, process):
        if self.seconds is None:
            return
        if self.seconds <= 0:
            self.expired = True
            _signal_tree(_process_tree(process.pid), signal.SIGKILL)
            return
        self._timer = threading.Timer(self.seconds, self._expire, args=(process,))
        self._timer.daemon = True
        self._timer.start()

    def _expire(self, process):
        self.expired = True
        tree = _process_tree(process.pid)
        _signal_tree(tree, signal.SIGTERM)
        if not self._done.wait(self.grace):
            _signal_tree(tree + _process_tree(process.pid), signal.SIGKILL)

    def cancel(self):
        self._done.set()
        if self._timer is not None:
            self._timer.cancel()


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def _tail(text, limit=2000):
    text = (text or '').strip()
    return text if len(text) <= limit else '...' + text[-limit:]


def locate_nmap(nmap_path, which):
    """The nmap to run: ``nmap_path`` (a path, or a name looked up with ``which``), or nmap from PATH."""
    install = 'install nmap (Debian/Ubuntu: apt-get install nmap; RHEL/Fedora: dnf install nmap) or set nmap_path'
    if not nmap_path or '/' not in nmap_path:
        found = which(nmap_path or 'nmap')
        if not found:
            raise NmapError('%s is not in PATH (%s); %s' % (nmap_path or 'nmap', os.environ.get('PATH', ''), install))
        return found
    if not os.path.isfile(nmap_path) or not os.access(nmap_path, os.X_OK):
        raise NmapError('nmap_path %s %s; %s' % (nmap_path, 'is not executable' if os.path.exists(nmap_path)
                                                 else 'does not exist', install))
    return nmap_path


class NmapRunner(object):
    """Starts nmap. ``run_command`` has AnsibleModule.run_command's signature; ``timeout`` is overall seconds."""

    def __init__(self, nmap_path, run_command, timeout=None):
        self.nmap_path = nmap_path
        self.run_command = run_command
        self.deadline = time.monotonic() + timeout if timeout else None
        self.timeout = timeout

    def _remaining(self):
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _call(self, argv):
        guard = _Deadline(self._remaining())
        try:
            rc, out, err = self.run_command(argv, before_communicate_callback=guard.watch, handle_exceptions=False)
        except OSError as exc:
            raise NmapError('cannot run nmap (%s): %s; install nmap (Debian/Ubuntu: apt-get install nmap, '
                            'RHEL/Fedora: dnf install nmap) or set nmap_path' % (self.nmap_path, exc.strerror or exc))
        finally:
            guard.cancel()
        return rc, out, err, guard.expired

    def _fail(self, rc, err, expired, what):
        if expired:
            return NmapError('%s did not finish within scan_timeout (%s s) and was stopped; nothing of this scan '
                             'counts' % (what, self.timeout), stderr=_tail(err))
        if rc < 0:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = 'signal %d' % -rc
            return NmapError('%s was killed by %s; nothing of this scan counts%s'
                             % (what, name, ': ' + _tail(err, 500) if err and err.strip() else ''), stderr=_tail(err))
        return NmapError('%s exited with status %d: %s' % (what, rc, _tail(err, 1000) or 'no error output'),
                         stderr=_tail(err))

    def interfaces(self):
        """The scanning host's interfaces as nmap (through nmap_path) sees them."""
        rc, out, err, expired = self._call([self.nmap_path, '--iflist'])
        if rc != 0 or expired:
            raise self._fail(rc, err, expired, 'nmap --iflist (%s)' % self.nmap_path)
        return parse_iflist(out)

    def scan(self, run, privileged, workdir, number, **options):
        """Run one planned nmap run; return its parsed XML and a record of the run. Raises NmapError."""
        base = os.path.join(workdir, 'run%d' % number)
        targets_file, exclude_file = write_inputs(run, base)
        argv = build_argv(self.nmap_path, run, privileged, base + '.xml', targets_file, exclude_file, **options)
        record = {'family': run.family, 'resolve': run.resolve,
                  'dns_servers': list(run.dns_servers) if run.resolve and run.dns_servers else None,
                  'interface': run.interface, 'argv': argv, 'targets': run.target_count,
                  'subnets': [subnet.id for subnet in run.subnets]}
        started, clock = _utc_now(), time.monotonic()
        rc, _out, err, expired = self._call(argv)
        record.update(started=started.isoformat(), finished=_utc_now().isoformat(),
                      elapsed=round(time.monotonic() - clock, 3), rc=rc)
        what = 'nmap run %d (%s)' % (number, run.describe())
        if rc != 0 or expired:
            record['exit'] = 'timeout' if expired else 'killed' if rc < 0 else 'error'
            error = self._fail(rc, err, expired, what)
            error.run = record
            raise error
        record['exit'] = 'incomplete'
        try:
            with open(base + '.xml', encoding='utf-8', errors='replace') as handle:
                xml_text = handle.read()
        except OSError as exc:
            raise NmapError('%s wrote no XML file (%s)' % (what, exc.strerror or exc), run=record, stderr=_tail(err))
        try:
            parsed = parse_xml(xml_text, what)
        except NmapError as exc:
            exc.run, exc.stderr = record, _tail(err)
            raise
        record.update(exit=parsed['exit'], hosts_up=parsed['hosts_up'], nmap_version=parsed['version'])
        return parsed, record


def scan(subnets, nmap_path, run_command, privileged, ipv6_discovery=True, scan_timeout=None, **options):
    """Plan, run and parse the whole scan. Returns ``(result, warnings)``; raises NmapError on any failure.

    ``result`` has ``nmap_version``, ``privileged``, ``runs`` and ``subnets`` (one per input subnet, in order).
    """
    problems = validate_options(**options)
    if problems:
        raise NmapError('invalid scan options: %s' % '; '.join(problems))
    parsed, warnings = parse_subnets(subnets)
    runner = NmapRunner(nmap_path, run_command, scan_timeout)
    interfaces = runner.interfaces() if needs_interfaces(parsed, privileged, ipv6_discovery) else None
    plan = plan_scan(parsed, privileged, ipv6_discovery, interfaces)
    warnings.extend(plan.warnings)
    results = dict((subnet.index, {'hosts': [], 'started': None, 'finished': None}) for subnet in parsed)
    runs, version = [], None
    workdir = tempfile.mkdtemp(prefix='ipamkit-nmap-')
    try:
        for run in plan.runs:
            if not run.targets and not run.interface:
                continue
            parsed_xml, record = runner.scan(run, privileged, workdir, len(runs) + 1, **options)
            version = version or parsed_xml['version']
            runs.append(record)
            for index, hosts in assign_hosts(run, parsed_xml['hosts']).items():
                results[index].update(hosts=hosts, started=record['started'], finished=record['finished'])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if runs and not privileged:
        warnings.append('nmap ran unprivileged (--unprivileged): hosts were probed with TCP connect() only; MAC '
                        'addresses and vendors are unavailable, and so is IPv6 neighbour discovery')
    out = []
    for subnet in parsed:
        out.append({
            'id': subnet.id, 'cidr': subnet.cidr, 'ip_version': subnet.family, 'scanned': subnet.scanned,
            'completed': subnet.scanned, 'ping': subnet.ping, 'discover': subnet.discover,
            'started': results[subnet.index]['started'], 'finished': results[subnet.index]['finished'],
            'targets': subnet.target_count() if subnet.scanned else 0,
            'neighbour_discovery': subnet.interface, 'hosts': results[subnet.index]['hosts'],
        })
    return {'nmap_version': version, 'privileged': bool(privileged), 'runs': runs, 'subnets': out}, warnings
