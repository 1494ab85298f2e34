# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host facts: what Ansible's facts lack, parsed; a per-host summary, its text form, and anomalies.

Everything but ``collect`` is pure (text or plain data in, plain data out) and unit-tested on
real output captured on Debian 12 (tests/unit/fixtures/host_facts). ``collect`` is the one
function that reads the host (files under /proc and /sys, ``statvfs``, and ``ss``/``ip`` of
iproute2 through a ``run_command`` callable with the signature of ``AnsibleModule.run_command``);
the ipamkit.phpipam.host_facts module calls it on the managed host.

Sizes are MiB (ints); percentages are ints (disk use rounded up, as df does; memory and CPU
rounded to the nearest). The text form is documented in docs/host-facts.md.
"""

import ipaddress
import json
import math
import os
import re
import time

TEXT_HEADER = 'ipamkit host facts v1'
# A phpIPAM TEXT custom field holds 65,535 bytes; stay well inside it.
TEXT_MAX_BYTES = 60000
# Filesystems that are not storage anyone fills up, or that are always full (squashfs, iso9660).
DEFAULT_EXCLUDED_FS_TYPES = (
    'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs',
    'efivarfs', 'fuse.gvfsd-fuse', 'fuse.lxcfs', 'fusectl', 'hugetlbfs', 'iso9660', 'mqueue', 'nsfs',
    'overlay', 'proc', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs',
    'tmpfs', 'tracefs',
)
# Block devices that are not disks: loop devices, RAM disks, compressed swap in RAM.
_NOT_DISKS = re.compile(r'^(loop|ram|zram)\d+$')
_SS_USERS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=\d+')
_PROTO_PORT = re.compile(r'^(tcp|udp)/(\d+)$', re.IGNORECASE)
_PORT_PROTO = re.compile(r'^(\d+)/(tcp|udp)$', re.IGNORECASE)
# ss shows a process by its kernel "comm", which the kernel cuts to 15 characters.
COMM_LENGTH = 15


class HostFactsError(Exception):
    """Input or host output that cannot be used; the message says what and why."""


# ---------------------------------------------------------------- parsers


def parse_ss(text):
    """Listening sockets from ``ss -Htlnup`` output: sorted unique dicts proto, address, port, process.

    ``address`` is the bare IP (``0.0.0.0``, ``::``, or ``*`` for every address of both families),
    without brackets or ``%interface``; ``process`` is the command name, several joined by ``,``,
    or None when ss may not show it (a socket of another user without root).
    """
    found = set()
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 6 or fields[0] not in ('tcp', 'udp'):
            raise HostFactsError('ss output line %d is not "proto state recv-q send-q local peer [process]": %r'
                                 % (number, line[:120]))
        address, port = _split_host_port(fields[4], number)
        names = sorted(set(_SS_USERS.findall(' '.join(fields[6:]))))
        found.add((fields[0], address, port, ','.join(names) or None))
    return [dict(proto=p, address=a, port=n, process=c) for p, a, n, c in sorted(found, key=_socket_key)]


def _socket_key(item):
    proto, address, port, process = item
    return (proto, port, address, process or '')


def _split_host_port(text, number):
    host, sep, port = text.rpartition(':')
    if not sep or not port.isdigit():
        raise HostFactsError('ss output line %d: local address %r has no port' % (number, text))
    if host.startswith('['):  # [::]:22, [fe80::1%eth0]:123, [fe80::1]%eth0:123
        host = host[1:].split(']', 1)[0]
    return host.split('%', 1)[0], int(port)


def parse_meminfo(text):
    """Memory from /proc/meminfo: total, used (total less available), available, swap; MiB and used %."""
    values = {}
    for line in text.splitlines():
        name, _sep, rest = line.partition(':')
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name.strip()] = int(parts[0])  # kB
    if not values.get('MemTotal'):
        raise HostFactsError('/proc/meminfo has no MemTotal line')
    total = values['MemTotal']
    if 'MemAvailable' in values:
        available = values['MemAvailable']
    else:  # kernels before 3.14
        available = values.get('MemFree', 0) + values.get('Buffers', 0) + values.get('Cached', 0)
    used = max(total - available, 0)
    swap_total = values.get('SwapTotal', 0)
    swap_used = max(swap_total - values.get('SwapFree', 0), 0)
    return dict(total_mb=total // 1024, used_mb=used // 1024, available_mb=available // 1024,
                used_percent=int(round(100.0 * used / total)),
                swap_total_mb=swap_total // 1024, swap_used_mb=swap_used // 1024)


def parse_proc_stat(text):
    """One /proc/stat sample: ``(busy, total)`` jiffies of all CPUs and the number of online CPUs."""
    busy = total = None
    cores = 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0] == 'cpu':
            # user nice system idle iowait irq softirq steal; guest time is already inside user and nice.
            ticks = [int(v) for v in fields[1:9]]
            total = sum(ticks)
            busy = total - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
        elif re.match(r'^cpu\d+$', fields[0]):
            cores += 1
    if total is None:
        raise HostFactsError('/proc/stat has no "cpu" line')
    return dict(busy=busy, total=total, cores=cores)


def cpu_used_percent(first, second):
    """CPU use in % (all cores together, 0-100) between two ``parse_proc_stat`` samples."""
    elapsed = second['total'] - first['total']
    if elapsed <= 0:
        return 0
    busy = max(second['busy'] - first['busy'], 0)
    return int(round(min(100.0, 100.0 * busy / elapsed)))


def _unescape_mount(text):
    # /proc/mounts writes space, tab, newline and backslash as octal escapes (\040 ...).
    return re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), text)


def parse_mounts(text):
    """/proc/self/mounts as dicts device, mount, fstype, in file order."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mounts.append(dict(device=_unescape_mount(fields[0]), mount=_unescape_mount(fields[1]), fstype=fields[2]))
    return mounts


def select_mounts(mounts, excluded_types=DEFAULT_EXCLUDED_FS_TYPES):
    """The mounts worth reporting: no pseudo filesystems, and one mount per filesystem.

    A device mounted at several places (bind mounts, /run/netns) shows the same usage at each:
    only the shortest mount point is kept, so ``/`` wins over ``/run/netns``. Sources that are no
    device path (``tmpfs`` when it is not excluded, ``server:/export``) are kept at every mount.
    """
    excluded = set(excluded_types)
    best = {}
    order = []
    for mount in mounts:
        if mount['fstype'] in excluded:
            continue
        key = (mount['device'], mount['fstype'])
        if not mount['device'].startswith('/'):
            key += (mount['mount'],)
        if key not in best:
            order.append(key)
            best[key] = mount
        elif (len(mount['mount']), mount['mount']) < (len(best[key]['mount']), best[key]['mount']):
            best[key] = mount
    return sorted((best[k] for k in order), key=lambda m: m['mount'])


def mount_usage(mount, blocks, free, available, fragment_size):
    """A mount with its size, used and available MiB and used % (as df: used / (used + available), up).

    ``blocks``, ``free`` (also for root) and ``available`` (for users) come from statvfs, in
    ``fragment_size`` units. None for a filesystem without blocks (nothing to report).
    """
    if blocks <= 0:
        return None
    mib = float(1024 * 1024)
    used = (blocks - free) * fragment_size
    avail = available * fragment_size
    percent = int(math.ceil(100.0 * used / (used + avail))) if used + avail > 0 else 0
    return dict(mount=mount['mount'], device=mount['device'], fstype=mount['fstype'],
                size_mb=int(blocks * fragment_size // mib), used_mb=int(used // mib),
                available_mb=int(avail // mib), used_percent=percent)


def parse_block_devices(text):
    """Disks from lines ``name sectors device|virtual`` (one per /sys/block entry): name and size MiB.

    Loop devices, RAM disks, zram and empty devices are not disks. A ``virtual`` device (no
    /sys/block/NAME/device: device-mapper, md RAID) is kept: it is storage the host uses.
    """
    disks = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or _NOT_DISKS.match(fields[0]) or not fields[1].isdigit() or int(fields[1]) == 0:
            continue
        disks.append(dict(name=fields[0], size_mb=int(fields[1]) * 512 // (1024 * 1024)))
    return sorted(disks, key=lambda d: d['name'])


def parse_ip_addr(text):
    """Interfaces from ``ip -j addr show``: name, mac, up, loopback, and addresses (family, address, prefixlen,
    scope), in the order ip lists them."""
    try:
        data = json.loads(text or '[]')
    except ValueError as exc:
        raise HostFactsError('ip -j addr show gave no JSON: %s' % exc)
    interfaces = []
    for item in data:
        flags = item.get('flags') or []
        addresses = [dict(family=6 if a.get('family') == 'inet6' else 4, address=a.get('local'),
                          prefixlen=a.get('prefixlen'), scope=a.get('scope'))
                     for a in item.get('addr_info') or [] if a.get('local') and a.get('family') in ('inet', 'inet6')]
        interfaces.append(dict(name=item.get('ifname'), mac=item.get('address') if item.get('link_type') != 'loopback'
                               else None, up='UP' in flags, loopback='LOOPBACK' in flags, addresses=addresses))
    return interfaces


def parse_default_route(text):
    """The interface of the first default route in ``ip -j route show default`` output, or None."""
    try:
        routes = json.loads(text or '[]')
    except ValueError as exc:
        raise HostFactsError('ip -j route show default gave no JSON: %s' % exc)
    for route in routes:
        if route.get('dst') == 'default' and route.get('dev'):
            return route['dev']
    return None


def _global(address):
    return address['scope'] == 'global'


def primary_interface(interfaces, known_address=None, default_v4=None, default_v6=None):
    """The host's primary interface and address: dict interface, ip, mac, reason.

    In this order: the interface holding ``known_address`` (the IP the host is reached by, as
    phpIPAM knows it); the interface of the IPv4 default route, then of the IPv6 one; the first
    interface that is up with a global IPv4, then IPv6, address. None fields when nothing fits.
    """
    if known_address:
        try:
            wanted = ipaddress.ip_address(known_address)
        except ValueError:
            wanted = None
        for iface in interfaces:
            for addr in iface['addresses']:
                if wanted is not None and ipaddress.ip_address(addr['address']) == wanted:
                    return dict(interface=iface['name'], ip=str(wanted), mac=iface['mac'], reason='known address')
    by_name = dict((i['name'], i) for i in interfaces)
    for family, dev, reason in ((4, default_v4, 'IPv4 default route'), (6, default_v6, 'IPv6 default route')):
        iface = by_name.get(dev)
        if iface is None:
            continue
        for addr in iface['addresses']:
            if addr['family'] == family and _global(addr):
                return dict(interface=iface['name'], ip=addr['address'], mac=iface['mac'], reason=reason)
    for family in (4, 6):
        for iface in interfaces:
            if not iface['up'] or iface['loopback']:
                continue
            for addr in iface['addresses']:
                if addr['family'] == family and _global(addr):
                    return dict(interface=iface['name'], ip=addr['address'], mac=iface['mac'],
                                reason='first interface with an address')
    return dict(interface=None, ip=None, mac=None, reason='no interface with a global address')


def global_addresses(interfaces):
    """Every global (not loopback, not link-local) address of the host, IPv4 first, in address order."""
    found = set()
    for iface in interfaces:
        if iface['loopback']:
            continue
        for addr in iface['addresses']:
            if _global(addr):
                found.add(ipaddress.ip_address(addr['address']))
    return [str(a) for a in sorted(found, key=lambda a: (a.version, a))]


# ---------------------------------------------------------------- summary and text


def _describe_os(facts):
    parts = [facts.get('distribution'), facts.get('distribution_version')]
    text = ' '.join(str(p) for p in parts if p and p != 'NA')
    release = facts.get('distribution_release')
    if text and release and release != 'NA':
        text += ' (%s)' % release
    return text or None


def _describe_virtualization(facts):
    kind, role = facts.get('virtualization_type'), facts.get('virtualization_role')
    if not kind or kind == 'NA':
        return None
    return '%s %s' % (kind, role) if role and role != 'NA' else str(kind)


def build_summary(name, network, memory, cpu, disks, mounts, listening, addresses=(), facts=None):
    """The per-host summary: plain data, the same for the same inputs.

    ``network`` is a ``primary_interface`` result, ``memory`` a ``parse_meminfo`` result, ``cpu``
    a dict cores and used_percent, ``mounts`` ``mount_usage`` results, ``listening`` a ``parse_ss``
    result; ``facts`` are Ansible facts (without the ansible_ prefix) for the host name, OS, kernel
    and virtualization, when given.
    """
    facts = facts or {}
    return dict(
        name=name,
        fqdn=facts.get('fqdn') or None,
        os=_describe_os(facts),
        kernel=facts.get('kernel') or None,
        virtualization=_describe_virtualization(facts),
        ip=network.get('ip'),
        mac=network.get('mac'),
        interface=network.get('interface'),
        addresses=list(addresses),
        memory=dict(memory),
        cpu=dict(cores=cpu['cores'], used_percent=cpu['used_percent']),
        disks=[dict(d) for d in disks],
        mounts=sorted((dict(m) for m in mounts), key=lambda m: m['mount']),
        listening=sorted((dict(s) for s in listening),
                         key=lambda s: _socket_key((s['proto'], s['address'], s['port'], s['process']))),
    )


def _size(mib):
    """MiB as a short human size: 512M, 23.5G, 1.8T."""
    if mib < 1024:
        return '%dM' % mib
    if mib < 1024 * 1024:
        return '%.1fG' % (mib / 1024.0)
    return '%.1fT' % (mib / (1024.0 * 1024.0))


def _listen_lines(listening):
    """One line per proto, port and process, with the addresses it listens on."""
    grouped = {}
    for sock in listening:
        grouped.setdefault((sock['proto'], sock['port'], sock['process'] or '-'), []).append(sock['address'])
    lines = []
    for (proto, port, process), addresses in sorted(grouped.items()):
        lines.append('listen: %s/%d %s on %s' % (proto, port, process, ', '.join(sorted(set(addresses)))))
    return lines


def summary_text(summary, max_bytes=TEXT_MAX_BYTES):
    """The compact text stored in phpIPAM: ``key: value`` lines, the same for the same summary.

    When it would pass ``max_bytes`` (UTF-8), the last lines give way to one ``more: N lines
    left out`` line.
    """
    lines = [TEXT_HEADER]
    host = summary['name'] + (' (%s)' % summary['fqdn'] if summary.get('fqdn') and summary['fqdn'] != summary['name']
                              else '')
    lines.append('host: ' + host)
    system = [p for p in (summary.get('os'), 'kernel ' + summary['kernel'] if summary.get('kernel') else None,
                          summary.get('virtualization')) if p]
    if system:
        lines.append('system: ' + ', '.join(system))
    net = ' '.join(p for p in (summary.get('interface'), summary.get('ip'), summary.get('mac')) if p)
    lines.append('net: ' + (net or 'none'))
    others = [a for a in summary.get('addresses') or () if a != summary.get('ip')]
    if others:
        lines.append('addresses: ' + ', '.join(others))
    cpu = summary['cpu']
    lines.append('cpu: %d cores, %d%% used' % (cpu['cores'], cpu['used_percent']))
    mem = summary['memory']
    ram = 'ram: %s total, %s used (%d%%)' % (_size(mem['total_mb']), _size(mem['used_mb']), mem['used_percent'])
    if mem.get('swap_total_mb'):
        ram += ', swap %s of %s used' % (_size(mem['swap_used_mb']), _size(mem['swap_total_mb']))
    lines.append(ram)
    for disk in summary.get('disks') or ():
        lines.append('disk: %s %s' % (disk['name'], _size(disk['size_mb'])))
    for mount in sorted(summary.get('mounts') or (), key=lambda m: m['mount']):
        lines.append('mount: %s %s %s, %s used (%d%%) on %s' % (
            mount['mount'], mount['fstype'], _size(mount['size_mb']), _size(mount['used_mb']),
            mount['used_percent'], mount['device']))
    lines.extend(_listen_lines(summary.get('listening') or ()))
    return _fit('\n'.join(lines), max_bytes)


def _fit(text, max_bytes):
    if len(text.encode('utf-8')) <= max_bytes:
        return text
    lines = text.split('\n')
    dropped = 0
    while lines:
        lines.pop()
        dropped += 1
        candidate = '\n'.join(lines + ['more: %d lines left out' % dropped])
        if len(candidate.encode('utf-8')) <= max_bytes:
            return candidate
    raise HostFactsError('max_bytes %d is too small for any host facts text' % max_bytes)


# ---------------------------------------------------------------- anomalies


def parse_expected_service(value):
    """An expected service: a port (22, "22": any protocol), "tcp/22" or "22/udp", or a process name.

    Returns dict port, proto (None = either) or dict process; HostFactsError for a bad value.
    """
    if isinstance(value, bool) or value is None:
        raise HostFactsError('expected service %r is neither a port number nor a name' % (value,))
    if isinstance(value, int):
        text = str(value)
    else:
        text = str(value).strip()
    proto = None
    match = _PROTO_PORT.match(text) or _PORT_PROTO.match(text)
    if match:
        first, second = match.groups()
        proto, text = (first, second) if not first.isdigit() else (second, first)
        proto = proto.lower()
    if text.isdigit():
        port = int(text)
        if not 1 <= port <= 65535:
            raise HostFactsError('expected service %r: port %d is not between 1 and 65535' % (value, port))
        return dict(port=port, proto=proto)
    if not text or re.search(r'[\s/]', text):
        raise HostFactsError('expected service %r is neither a port ("22", "tcp/22", "53/udp") nor a process '
                             'name' % (value,))
    return dict(process=text)


def _service_label(service):
    if 'process' in service:
        return service['process']
    return '%s/%d' % (service['proto'], service['port']) if service['proto'] else 'port %d' % service['port']


def _listens(listening, service):
    for sock in listening:
        if 'process' in service:
            names = (sock['process'] or '').split(',')
            if any(n == service['process'] or n == service['process'][:COMM_LENGTH] for n in names if n):
                return True
        elif sock['port'] == service['port'] and service['proto'] in (None, sock['proto']):
            return True
    return False


def find_anomalies(summary, disk_max=90, memory_max=90, cpu_max=None, expected_services=()):
    """Anomalies of one summary: dicts check (disk, memory, cpu, service), subject, value, limit, message.

    A use is an anomaly when it is above its limit (``None`` switches the check off); an expected
    service is one when no listening socket matches it.
    """
    anomalies = []

    def add(check, subject, value, limit, message):
        anomalies.append(dict(check=check, subject=subject, value=value, limit=limit, message=message))

    for mount in summary.get('mounts') or ():
        if disk_max is not None and mount['used_percent'] > disk_max:
            add('disk', mount['mount'], mount['used_percent'], disk_max, 'disk %s is %d%% used (limit %d%%)' % (
                mount['mount'], mount['used_percent'], disk_max))
    memory = summary['memory']
    if memory_max is not None and memory['used_percent'] > memory_max:
        add('memory', 'ram', memory['used_percent'], memory_max, 'memory is %d%% used (limit %d%%)' % (
            memory['used_percent'], memory_max))
    cpu = summary['cpu']
    if cpu_max is not None and cpu['used_percent'] > cpu_max:
        add('cpu', 'cpu', cpu['used_percent'], cpu_max, 'CPU is %d%% used (limit %d%%)' % (cpu['used_percent'], cpu_max))
    listening = summary.get('listening') or ()
    hidden = len([s for s in listening if not s['process']])
    for raw in expected_services or ():
        service = parse_expected_service(raw)
        if _listens(listening, service):
            continue
        label = _service_label(service)
        message = '%s is not listening' % label
        if 'process' in service and hidden:
            message += ' (%d listening sockets show no process: gather as root, with become, to see them)' % hidden
        add('service', label, None, None, message)
    return anomalies


def check_thresholds(disk_max, memory_max, cpu_max, expected_services):
    """HostFactsError for a limit outside 0-100 or a bad expected service, before anything is gathered."""
    for name, value in (('disk_used_percent_max', disk_max), ('memory_used_percent_max', memory_max),
                        ('cpu_used_percent_max', cpu_max)):
        if value is not None and not 0 <= value <= 100:
            raise HostFactsError('%s is %s: give a percentage from 0 to 100' % (name, value))
    for raw in expected_services or ():
        parse_expected_service(raw)


# ---------------------------------------------------------------- the only I/O


def _read(path):
    with open(path, encoding='utf-8', errors='replace') as handle:
        return handle.read()


def _block_device_lines(root='/sys/block'):
    lines = []
    for name in sorted(os.listdir(root)):
        try:
            sectors = _read(os.path.join(root, name, 'size')).strip()
        except (IOError, OSError):
            continue
        kind = 'device' if os.path.exists(os.path.join(root, name, 'device')) else 'virtual'
        lines.append('%s %s %s' % (name, sectors, kind))
    return '\n'.join(lines)


def _run(run_command, argv):
    rc, out, err = run_command(argv)
    if rc != 0:
        raise HostFactsError('%s failed (exit %d): %s' % (' '.join(argv), rc, (err or out).strip()[:300]))
    return out


def collect(run_command, ss_path, ip_path, name, known_address=None, facts=None, cpu_interval=1.0,
            excluded_fs_types=DEFAULT_EXCLUDED_FS_TYPES, sleep=time.sleep):
    """Read this (Linux) host and return its summary; HostFactsError when a source is unusable.

    The CPU samples come last, around a plain sleep, so that starting ss and ip does not count as the
    host's CPU use.
    """
    listening = parse_ss(_run(run_command, [ss_path, '-Htlnup']))
    interfaces = parse_ip_addr(_run(run_command, [ip_path, '-j', 'addr', 'show']))
    default_v4 = parse_default_route(_run(run_command, [ip_path, '-j', '-4', 'route', 'show', 'default']))
    default_v6 = parse_default_route(_run(run_command, [ip_path, '-j', '-6', 'route', 'show', 'default']))
    mounts = []
    for mount in select_mounts(parse_mounts(_read('/proc/self/mounts')), excluded_fs_types):
        try:
            stat = os.statvfs(mount['mount'])
        except OSError:  # gone, or not ours to read: nothing to report
            continue
        usage = mount_usage(mount, stat.f_blocks, stat.f_bfree, stat.f_bavail, stat.f_frsize)
        if usage is not None:
            mounts.append(usage)
    memory = parse_meminfo(_read('/proc/meminfo'))
    disks = parse_block_devices(_block_device_lines()) if os.path.isdir('/sys/block') else []
    first = parse_proc_stat(_read('/proc/stat'))
    sleep(cpu_interval)
    second = parse_proc_stat(_read('/proc/stat'))
    cpu = dict(cores=second['cores'] or first['cores'], used_percent=cpu_used_percent(first, second))
    network = primary_interface(interfaces, known_address, default_v4, default_v6)
    return build_summary(name, network, memory, cpu, disks, mounts, listening, global_addresses(interfaces), facts)
