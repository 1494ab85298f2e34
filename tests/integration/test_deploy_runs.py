# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment examples of docs/examples/deploy run for real, against the real phpIPAM.

- The systemd unit's command and environment, as an unprivileged user with only the unit's
  capability set (CAP_NET_RAW, as ambient capability, no_new_privs), scan a network-namespace
  LAN with ARP and write MAC addresses to phpIPAM; without the capability nmap fails.
- The cron line works with cron's bare environment, and prints no Ansible warnings.
- The container entry point runs cycles in a loop paced by sleep_duration and stops cleanly on
  SIGTERM; with --once it exits with the playbook's status.

systemd, cron and a container engine are not used themselves: their environment is rebuilt
from the example files (setpriv for the unit's user, capabilities and no_new_privs).
"""

import configparser
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient

from netlan import HostSpec, Lan  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(CHECKOUT, 'docs', 'examples', 'deploy')
VENV_BIN = os.path.dirname(sys.executable)
UNIT_VENV_BIN = '/opt/ipamkit-phpipam/bin'

pytestmark = [pytest.mark.integration]

NOBODY = 65534

# A TCP <-> unix-socket relay: the unix side crosses network namespaces (it is a file), so an
# agent inside the LAN's scanner namespace reaches phpIPAM on the root namespace's 127.0.0.1.
FORWARDER = r'''
import os, socket, sys, threading
mode, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
if mode == 'tcp-to-unix':
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
else:
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
server.listen(32)
print('ready', flush=True)
while True:
    client, _ = server.accept()
    if mode == 'tcp-to-unix':
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(path)
    else:
        upstream = socket.create_connection(('127.0.0.1', port))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
'''


def read_unit(path):
    """{section: {key: [values]}}, keeping every value of keys given more than once."""
    class Multi(dict):
        def __setitem__(self, key, value):
            if isinstance(value, list) and key in self:
                self[key].extend(value)
            else:
                super(Multi, self).__setitem__(key, value)

    parser = configparser.RawConfigParser(strict=False, dict_type=Multi, interpolation=None,
                                          comment_prefixes=('#', ';'), empty_lines_in_values=False)
    parser.optionxform = str
    parser.read(path, encoding='utf-8')
    return dict((section, dict((key, value.split('\n')) for key, value in parser.items(section)))
                for section in parser.sections())


def unit_environment(service, home, venv_bin):
    """The unit's Environment= lines, its state directory moved to ``home``, its venv to ``venv_bin``."""
    state = '/var/lib/' + service['StateDirectory'][0]
    env = {}
    for assignment in service['Environment']:
        name, value = assignment.split('=', 1)
        env[name] = value.replace(state, home)
    env['PATH'] = env['PATH'].replace(UNIT_VENV_BIN, venv_bin)
    assert env['HOME'] == home
    return env


def unit_argv(service, venv_bin):
    argv = service['ExecStart'][0].split()
    assert argv[0] == UNIT_VENV_BIN + '/ansible-playbook'
    return [os.path.join(venv_bin, 'ansible-playbook')] + argv[1:]


def cron_file():
    """(variables, command) of the active job line of the cron.d example."""
    variables, jobs = {}, []
    with open(os.path.join(DEPLOY, 'cron', 'ipamkit-phpipam-agent'), encoding='utf-8') as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            if re.match(r'^[A-Za-z_][A-Za-z0-9_]*=', line):
                name, value = line.split('=', 1)
                variables[name] = value
            else:
                jobs.append(line.split(None, 6))
    assert len(jobs) == 1, jobs
    return variables, jobs[0][6]


class Site(object):
    """A scan agent of the test's own, with subnets created through the API."""

    def __init__(self, phpipam, name):
        self.phpipam = phpipam
        self.api = PhpipamClient(phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'),
                                 ca_path=phpipam.ca_path)
        self.code = '%s-%d' % (name, os.getpid())
        self.agent_id = self.api.create('tools/scanagents', {'name': name, 'type': 'api', 'code': self.code}).id

    def subnet(self, cidr, **fields):
        address, mask = cidr.split('/')
        body = {'subnet': address, 'mask': int(mask), 'sectionId': self.phpipam.sections['Lab'],
                'scanAgent': self.agent_id}
        body.update(fields)
        return self.api.create('subnets', body).id

    def addresses(self, subnet_id):
        return dict((a['ip'], a) for a in self.api.get_list('subnets/%d/addresses' % subnet_id))

    def config(self, directory, owner=0, **settings):
        data = {'phpipam_url': self.phpipam.https_url, 'phpipam_app_id': 'ansible_rw',
                'phpipam_token': self.phpipam.app_code('ansible_rw'), 'phpipam_ca_path': self.phpipam.ca_path,
                'phpipam_timezone': 'UTC', 'agent_code': self.code,
                'lock_path': os.path.join(directory, 'agent.lock')}
        data.update(settings)
        path = os.path.join(directory, 'scan_agent.yaml')
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(data, handle)
        os.chmod(path, 0o600)
        os.chown(path, owner, owner)
        return path


@pytest.fixture
def shared_dir():
    """A directory an unprivileged user can enter (pytest's tmp_path is root's, 0700)."""
    path = tempfile.mkdtemp(prefix='ipamkit-deploy-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def user_venv(shared_dir):
    """A venv an unprivileged user can run: the system Python plus the checkout venv's packages.

    The checkout's venv may use an interpreter under /root (pyenv), which other users cannot
    execute; the packages themselves are readable. Returns the venv's bin directory, holding
    python and ansible-playbook, like /opt/ipamkit-phpipam/bin of the unit.
    """
    system_python = '/usr/bin/python3'
    version = '%d.%d' % sys.version_info[:2]
    probe = subprocess.run([system_python, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'],
                           capture_output=True, text=True, check=False) if os.path.exists(system_python) else None
    if probe is None or probe.stdout.strip() != version:
        pytest.skip('needs %s of Python %s (the checkout venv\'s version)' % (system_python, version))
    venv = os.path.join(shared_dir, 'venv')
    subprocess.run([system_python, '-m', 'venv', '--without-pip', venv], check=True)
    site = os.path.join(venv, 'lib', 'python' + version, 'site-packages')
    with open(os.path.join(site, 'checkout-venv.pth'), 'w', encoding='utf-8') as handle:
        handle.write(os.path.join(os.path.dirname(VENV_BIN), 'lib', 'python' + version, 'site-packages') + '\n')
    bin_dir = os.path.join(venv, 'bin')
    script = os.path.join(bin_dir, 'ansible-playbook')
    with open(script, 'w', encoding='utf-8') as handle:
        handle.write('#!%s\nimport sys\nfrom ansible.cli.playbook import main\nsys.exit(main())\n'
                     % os.path.join(bin_dir, 'python'))
    os.chmod(script, 0o755)
    return bin_dir


def _start(argv, env=None):
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)  # pylint: disable=consider-using-with
    line = proc.stdout.readline()
    assert line.strip() == 'ready', line + proc.stdout.read() if proc.poll() is not None else line
    return proc


@pytest.fixture
def lan_with_phpipam(phpipam, netns_ready, shared_dir):  # pylint: disable=unused-argument
    """A LAN whose scanner namespace reaches phpIPAM on its own 127.0.0.1:<port>."""
    hosts = [HostSpec('h11', ipv4='198.18.46.11', ipv6=False), HostSpec('h12', ipv4='198.18.46.12', ipv6=False)]
    port = int(phpipam.https_url.rsplit(':', 1)[1])
    path = os.path.join(shared_dir, 'phpipam.sock')
    with Lan(ipv4='198.18.46.0/24', ipv6=False, hosts=hosts, dns=False) as lan:
        outside = _start([sys.executable, '-c', FORWARDER, 'unix-to-tcp', str(port), path])
        inside = _start(['ip', 'netns', 'exec', lan.scanner_ns, sys.executable, '-c', FORWARDER, 'tcp-to-unix',
                         str(port), path])
        try:
            yield lan
        finally:
            for proc in (inside, outside):
                proc.kill()
                proc.wait()


@pytest.mark.netns
def test_systemd_unit_scans_with_arp_as_an_unprivileged_user(phpipam, lan_with_phpipam, shared_dir, user_venv):
    lan = lan_with_phpipam
    site = Site(phpipam, 'unit-agent')
    subnet = site.subnet('198.18.46.0/24', pingSubnet=True, discoverSubnet=True)
    home = os.path.join(shared_dir, 'home')
    os.mkdir(home, 0o700)
    os.chown(home, NOBODY, NOBODY)
    lock_dir = os.path.join(shared_dir, 'lock')
    os.mkdir(lock_dir, 0o700)
    os.chown(lock_dir, NOBODY, NOBODY)
    config = site.config(shared_dir, owner=NOBODY, lock_path=os.path.join(lock_dir, 'agent.lock'))

    service = read_unit(os.path.join(DEPLOY, 'systemd', 'ipamkit-phpipam-agent.service'))['Service']
    env = unit_environment(service, home, user_venv)
    env['PHPIPAM_SCAN_AGENT_CONFIG'] = config
    caps = [c.lower().replace('cap_', '') for c in service['AmbientCapabilities'][0].split()]
    assert caps == ['net_raw']
    bounding = [c.lower().replace('cap_', '') for c in service['CapabilityBoundingSet'][0].split()]
    as_user = ['ip', 'netns', 'exec', lan.scanner_ns, 'setpriv', '--reuid=%d' % NOBODY, '--regid=%d' % NOBODY,
               '--clear-groups', '--no-new-privs', '--bounding-set=-all,' + ','.join('+' + c for c in bounding)]
    with_caps = ['--inh-caps=' + ','.join('+' + c for c in caps), '--ambient-caps=' + ','.join('+' + c for c in caps)]
    argv = unit_argv(service, user_venv)

    # Without the capability nmap cannot open its raw sockets: the cycle fails at the scan and
    # writes nothing.
    denied = subprocess.run(as_user + argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert denied.returncode != 0, denied.stdout
    failed = [line for line in denied.stdout.splitlines() if line.startswith('fatal:')]
    assert len(failed) == 1 and 'Failed to open device' in failed[0], denied.stdout
    assert 'TASK [ipamkit.phpipam.scan_agent : Scan the subnets with nmap]' in denied.stdout.split('fatal:')[0]
    assert not site.addresses(subnet)

    # With it (the unit's AmbientCapabilities=): ARP answers, MAC addresses in phpIPAM.
    run = subprocess.run(as_user + with_caps + argv, env=env, capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert '[WARNING]' not in run.stdout + run.stderr
    seen = site.addresses(subnet)
    for host in lan.hosts:
        assert seen[host.ipv4]['mac'] == host.mac, seen
    assert site.code not in run.stdout and phpipam.app_code('ansible_rw') not in run.stdout
    # Ansible's files went to the state directory (ANSIBLE_REMOTE_TEMP), not nobody's passwd home.
    assert os.stat(os.path.join(home, '.ansible', 'tmp')).st_uid == NOBODY


def test_cron_line_runs_in_crons_bare_environment(phpipam, shared_dir):
    site = Site(phpipam, 'cron-agent')
    subnet = site.subnet('127.0.46.0/29', pingSubnet=True, discoverSubnet=False)
    site.api.create('addresses', {'ip': '127.0.46.1', 'subnetId': subnet, 'description': 'loopback host'})
    config = site.config(shared_dir)
    variables, command = cron_file()
    assert command.split('|')[0].split()[:2] == ['ansible-playbook', 'ipamkit.phpipam.agent']

    # What cron gives a job: the user's HOME, LOGNAME and SHELL, then the file's variables.
    env = {'HOME': shared_dir, 'LOGNAME': 'root'}
    env.update(variables)
    env['PATH'] = env['PATH'].replace(UNIT_VENV_BIN, VENV_BIN)
    env['PHPIPAM_SCAN_AGENT_CONFIG'] = config
    job = command.split('|')[0]   # the logger part needs a syslog socket, which a test host may lack
    run = subprocess.run([env['SHELL'], '-c', job], env=env, capture_output=True, text=True, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert '[WARNING]' not in run.stdout + run.stderr, run.stdout + run.stderr
    record = site.api.get('subnets/%d' % subnet)
    assert record['lastScan'] is not None
    assert site.addresses(subnet)['127.0.46.1']['lastSeen'] is not None


def _loop_env(config, home, **extra):
    env = {'PATH': VENV_BIN + ':/usr/bin:/bin', 'HOME': home, 'LANG': 'C.UTF-8',
           'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
           'ANSIBLE_NOCOLOR': 'true', 'PYTHONUNBUFFERED': '1', 'PHPIPAM_SCAN_AGENT_CONFIG': config}
    env.update(extra)
    return env


def test_container_entry_point_loops_on_sleep_duration_and_stops_on_sigterm(phpipam, shared_dir):
    site = Site(phpipam, 'loop-agent')
    subnet = site.subnet('127.0.47.0/29', pingSubnet=True, discoverSubnet=False)
    site.api.create('addresses', {'ip': '127.0.47.1', 'subnetId': subnet, 'description': 'loopback host'})
    config = site.config(shared_dir)
    entry = os.path.join(DEPLOY, 'container', 'agent_loop.py')
    proc = subprocess.Popen([sys.executable, entry], env=_loop_env(config, shared_dir, IPAM_SLEEP_DURATION='1s'),  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if sum('PLAY RECAP' in seen for seen in lines) == 2:
                break
        assert sum('PLAY RECAP' in seen for seen in lines) == 2, ''.join(lines)
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = ''.join(lines) + rest
    assert proc.returncode == 0, output
    assert 'every 1 s after the previous run ends (sleep_duration from env IPAM_SLEEP_DURATION)' in output
    assert 'stopped by signal %d' % signal.SIGTERM in output
    assert 'failed=0' in output and 'failed=1' not in output


def test_container_entry_point_once_exits_with_the_playbooks_status(phpipam, shared_dir):
    site = Site(phpipam, 'once-agent')
    site.subnet('127.0.48.0/29', pingSubnet=True, discoverSubnet=False)
    entry = os.path.join(DEPLOY, 'container', 'agent_loop.py')
    good = subprocess.run([sys.executable, entry, '--once'], env=_loop_env(site.config(shared_dir), shared_dir),
                          capture_output=True, text=True, timeout=300, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count('PLAY RECAP') == 1
    # A broken configuration: the playbook fails, and so does the container (the Job is marked failed).
    broken = site.config(shared_dir, agent_code=None)
    bad = subprocess.run([sys.executable, entry, '--once'], env=_loop_env(broken, shared_dir),
                         capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode != 0
    assert 'scan agent configuration' in bad.stdout + bad.stderr
