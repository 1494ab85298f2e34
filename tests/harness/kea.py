# Copyright: ipamkit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real ISC Kea 2.2 (Debian 12 packages) for tests: kea-dhcp4 inside a netlan LAN, kea-ctrl-agent on 127.0.0.1.

Library use (as root)::

    from netlan import HostSpec, Lan
    from kea import KeaServer, dhcp_client

    with Lan(ipv4='198.18.77.0/24', ipv6=None, dns=False,
             hosts=[HostSpec('kea', ipv4='198.18.77.3', ipv6=False), HostSpec('c1', ipv4=False, ipv6=False,
                                                                            mac='02:4b:00:00:00:01')]) as lan:
        with KeaServer(lan, 'kea', workdir, interfaces=['eth0']) as kea:
            kea.url, kea.username, kea.password      # the Control Agent, basic auth
            kea.command('config-get')                # [{"result": 0, "arguments": {"Dhcp4": ...}}]
            dhcp_client(lan, 'c1', workdir)          # {'ip': '198.18.77.100', 'router': ..., ...}

Where things run, so that no DHCP server ever answers on this machine's own networks:

* ``kea-dhcp4`` runs inside the namespace of a LAN host (``ip netns exec``), listening only on that
  namespace's ``eth0`` (or on no interface at all with ``interfaces=[]``, for a second HA member or
  the scale test). Its control socket, lease file, lock and pid files and log live in ``workdir``.
* ``kea-ctrl-agent`` runs in the root namespace but listens on 127.0.0.1 only (a free port), with
  HTTP basic auth, and reaches kea-dhcp4 through the unix socket in ``workdir`` (sockets in the file
  system cross network namespaces).
* Both are plain processes started from configs written here; no systemd, no /etc/kea. Only the
  processes started here are ever stopped, by their pid.
* The DHCP client is busybox ``udhcpc`` in a host namespace, with that host's MAC; its script only
  records what the server offered (the namespace's addresses are not touched).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

from harness_apt import apt_install  # pylint: disable=import-error

# binary -> Debian package (kea-dhcp4-server also brings the hooks, lease_cmds among them)
PACKAGES = {'kea-dhcp4': 'kea-dhcp4-server', 'kea-ctrl-agent': 'kea-ctrl-agent', 'busybox': 'busybox'}
HOOKS_DIRS = ('/usr/lib/x86_64-linux-gnu/kea/hooks', '/usr/lib/aarch64-linux-gnu/kea/hooks', '/usr/lib/kea/hooks')
# Debian's own services must never hand out leases on this machine's networks.
SYSTEM_SERVICES = ('kea-dhcp4-server', 'kea-ctrl-agent', 'kea-dhcp6-server', 'kea-dhcp-ddns-server')


class KeaHarnessError(Exception):
    """Kea or the DHCP client could not be started or did not answer; the message says where to look."""


def _which(name):
    return shutil.which(name) or next((os.path.join(d, name) for d in ('/usr/sbin', '/sbin')
                                       if os.access(os.path.join(d, name), os.X_OK)), None)


def missing_packages():
    return [pkg for binary, pkg in PACKAGES.items() if not _which(binary)]


def can_run():
    """(True, note) when Kea tests can run here (root; packages present or installable)."""
    if os.geteuid() != 0:
        return False, 'not root (kea-dhcp4 in a network namespace needs root)'
    missing = missing_packages()
    if missing and not _which('apt-get'):
        return False, 'missing Debian packages %s and no apt-get' % ' '.join(missing)
    return True, ('will apt-get install ' + ' '.join(missing)) if missing else 'ok'


def install_packages():
    """apt-get install what is missing, then make sure Debian's kea services are not enabled."""
    missing = missing_packages()
    if missing:
        apt_install(missing)
    disable_system_services()


def disable_system_services():
    """``systemctl disable --now`` Debian's kea units when systemd runs here (the package enables them)."""
    if not os.path.isdir('/run/systemd/system') or not _which('systemctl'):
        return
    subprocess.run([_which('systemctl'), 'disable', '--now', *SYSTEM_SERVICES], capture_output=True, check=False,
                   timeout=60)


def hooks_dir():
    for folder in HOOKS_DIRS:
        if os.path.exists(os.path.join(folder, 'libdhcp_lease_cmds.so')):
            return folder
    raise KeaHarnessError('libdhcp_lease_cmds.so not found in %s (Debian package kea-dhcp4-server)' % ', '.join(HOOKS_DIRS))


def free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _tail(path, lines=20):
    with contextlib.suppress(OSError):
        with open(path, encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    return ''


class KeaServer:
    """One kea-dhcp4 (in a LAN host's namespace) and its kea-ctrl-agent (on 127.0.0.1)."""

    def __init__(self, lan, host, workdir, interfaces=('eth0',), dhcp4_extra=None, name='kea', tls=None):
        self.lan = lan
        self.host = host
        self.dir = os.path.join(str(workdir), name)
        self.interfaces = list(interfaces)
        self.dhcp4_extra = dict(dhcp4_extra or {})
        self.port = free_port()
        # tls: (cert, key, ca) PEM paths; the agent then speaks HTTPS only (trust-anchor, no client certs).
        self.tls = tls
        self.url = '%s://127.0.0.1:%d/' % ('https' if tls else 'http', self.port)
        self.username = 'ipamkit'
        self.password = secrets.token_urlsafe(12)
        self.socket = os.path.join(self.dir, 'dhcp4.sock')
        self.config_path = os.path.join(self.dir, 'kea-dhcp4.conf')
        self.lease_file = os.path.join(self.dir, 'leases4.csv')
        self.procs = {}

    # -- configs -------------------------------------------------------------------------------

    def dhcp4_config(self):
        config = {
            'interfaces-config': {'interfaces': self.interfaces},
            'control-socket': {'socket-type': 'unix', 'socket-name': self.socket},
            'lease-database': {'type': 'memfile', 'persist': True, 'name': self.lease_file, 'lfc-interval': 0},
            'hooks-libraries': [{'library': os.path.join(hooks_dir(), 'libdhcp_lease_cmds.so')}],
            'valid-lifetime': 3600,
            'subnet4': [],
            'loggers': [{'name': 'kea-dhcp4', 'severity': 'INFO',
                         'output_options': [{'output': os.path.join(self.dir, 'kea-dhcp4.log')}]}],
        }
        config.update(self.dhcp4_extra)
        return {'Dhcp4': config}

    def agent_config(self):
        agent = self._agent_config()
        if self.tls:
            agent['Control-agent'].update({'cert-file': self.tls[0], 'key-file': self.tls[1],
                                           'trust-anchor': self.tls[2], 'cert-required': False})
        return agent

    def _agent_config(self):
        return {'Control-agent': {
            'http-host': '127.0.0.1', 'http-port': self.port,
            'authentication': {'type': 'basic', 'realm': 'ipamkit-test',
                               'clients': [{'user': self.username, 'password': self.password}]},
            'control-sockets': {'dhcp4': {'socket-type': 'unix', 'socket-name': self.socket}},
            'loggers': [{'name': 'kea-ctrl-agent', 'severity': 'INFO',
                         'output_options': [{'output': os.path.join(self.dir, 'kea-ctrl-agent.log')}]}],
        }}

    # -- processes -----------------------------------------------------------------------------

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        with open(self.config_path, 'w', encoding='utf-8') as handle:
            json.dump(self.dhcp4_config(), handle, indent=2)
        agent_path = os.path.join(self.dir, 'kea-ctrl-agent.conf')
        with open(agent_path, 'w', encoding='utf-8') as handle:
            json.dump(self.agent_config(), handle, indent=2)
        os.chmod(agent_path, 0o600)
        env = dict(os.environ, KEA_LOCKFILE_DIR=self.dir, KEA_PIDFILE_DIR=self.dir)
        ip = _which('ip')
        ns = self.lan.ns_of(self.host)
        # cwd: config-write without a file name writes the file kea-dhcp4 was started with.
        self._spawn('dhcp4', [ip, 'netns', 'exec', ns, _which('kea-dhcp4'), '-c', self.config_path], env)
        self._wait(lambda: os.path.exists(self.socket), 'kea-dhcp4 control socket %s' % self.socket, 'dhcp4')
        self._spawn('agent', [_which('kea-ctrl-agent'), '-c', agent_path], env)
        self._wait(self._agent_answers, 'kea-ctrl-agent on %s' % self.url, 'agent')
        return self

    def _spawn(self, role, argv, env):
        log = open(os.path.join(self.dir, '%s.out' % role), 'w', encoding='utf-8')  # pylint: disable=consider-using-with
        self.procs[role] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.dir)  # pylint: disable=consider-using-with
        log.close()

    def _wait(self, ready, what, role, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[role].poll() is not None:
                raise KeaHarnessError('%s exited with %s: %s%s' % (
                    what, self.procs[role].returncode, _tail(os.path.join(self.dir, '%s.out' % role)),
                    _tail(os.path.join(self.dir, 'kea-%s.log' % ('dhcp4' if role == 'dhcp4' else 'ctrl-agent')))))
            if ready():
                return
            time.sleep(0.05)
        raise KeaHarnessError('%s not ready after %d s' % (what, timeout))

    def _agent_answers(self):
        try:
            return self.command('status-get')[0].get('result') == 0
        except (OSError, ValueError):
            return False

    def stop(self):
        for role in ('agent', 'dhcp4'):
            proc = self.procs.pop(role, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info):
        self.stop()

    # -- talking to it -------------------------------------------------------------------------

    def command(self, command, arguments=None):
        """One command through the Control Agent (the test's own tiny client, not the collection's)."""
        body = {'command': command, 'service': ['dhcp4']}
        if arguments is not None:
            body['arguments'] = arguments
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), method='POST',
                                         headers={'Content-Type': 'application/json'})
        token = ('%s:%s' % (self.username, self.password)).encode()
        import base64  # pylint: disable=import-outside-toplevel
        request.add_header('Authorization', 'Basic ' + base64.b64encode(token).decode())
        context = ssl.create_default_context(cafile=self.tls[2]) if self.tls else None
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return json.loads(response.read())

    def config(self):
        answer = self.command('config-get')[0]
        if answer.get('result') != 0:
            raise KeaHarnessError('config-get: %s' % answer)
        return answer['arguments']['Dhcp4']

    def set_config(self, dhcp4):
        answer = self.command('config-set', {'Dhcp4': dhcp4})[0]
        if answer.get('result') != 0:
            raise KeaHarnessError('config-set: %s' % answer)

    def reset(self, subnet4=(), **extra):
        """Back to the start configuration with ``subnet4`` (and top-level ``extra``), leases wiped."""
        config = self.dhcp4_config()['Dhcp4']
        config['subnet4'] = list(subnet4)
        config.update(extra)
        self.set_config(config)
        with contextlib.suppress(OSError):
            self.command('lease4-wipe', {})
        # lease4-wipe needs a subnet id in 2.2; deleting by IP works for every lease left.
        for lease in self.leases():
            self.command('lease4-del', {'ip-address': lease['ip-address']})

    def leases(self):
        answer = self.command('lease4-get-all')[0]
        return (answer.get('arguments') or {}).get('leases') or []

    def as_server(self):
        """The module's ``servers`` item for this agent."""
        server = {'url': self.url, 'username': self.username, 'password': self.password}
        if self.tls:
            server['ca_path'] = self.tls[2]
        return server


UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc event script of the ipamkit Kea tests: record the offer, change nothing in the namespace.
case "$1" in
    bound|renew)
        printf '{"ip": "%s", "router": "%s", "dns": "%s", "domain": "%s", "lease": "%s", "subnet": "%s"}\\n' \\
            "$ip" "$router" "$dns" "$domain" "$lease" "$subnet" > "$IPAMKIT_DHCP_RESULT"
        ;;
esac
exit 0
"""


def dhcp_client(lan, host, workdir, hostname=None, timeout=30):
    """Run udhcpc once in ``host``'s namespace; the offer it got ({'ip', 'router', 'dns', ...}) or KeaHarnessError."""
    workdir = str(workdir)
    script = os.path.join(workdir, 'udhcpc.sh')
    if not os.path.exists(script):
        with open(script, 'w', encoding='ascii') as handle:
            handle.write(UDHCPC_SCRIPT)
        os.chmod(script, 0o755)
    result = os.path.join(workdir, 'dhcp-%s.json' % host)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(result)
    argv = [_which('busybox'), 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '6', '-T', '1', '-A', '1', '-s', script]
    if hostname:
        argv += ['-x', 'hostname:%s' % hostname]
    proc = lan.exec(host, argv, timeout=timeout, env=dict(os.environ, IPAMKIT_DHCP_RESULT=result))
    if proc.returncode != 0 or not os.path.exists(result):
        output = (proc.stdout + proc.stderr)[-1500:]
        raise KeaHarnessError('udhcpc in %s got no lease (exit %s): %s' % (host, proc.returncode, output))
    with open(result, encoding='utf-8') as handle:
        return json.load(handle)
