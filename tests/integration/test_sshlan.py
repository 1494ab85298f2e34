# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/harness/sshlan.py: a real two-level SSH jump chain in network namespaces (as root).

Every address lies in 198.18.160.0/19, inside namespaces these tests create; the root namespace
reaches jump1's /30 only and has an unreachable route for the rest of the run's block.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness')
if HARNESS not in sys.path:
    sys.path.insert(0, HARNESS)

import sshlan  # noqa: E402  pylint: disable=import-error,wrong-import-position
from netlan import list_netns, process_alive  # noqa: E402  pylint: disable=import-error,wrong-import-position
from integration_helpers import unavailable  # noqa: E402  pylint: disable=import-error,wrong-import-position

pytestmark = [pytest.mark.netns, pytest.mark.integration]


def _home_ssh_listing():
    folder = os.path.expanduser('~/.ssh')
    if not os.path.isdir(folder):
        return None
    return sorted((name, os.stat(os.path.join(folder, name)).st_mtime_ns) for name in os.listdir(folder))


@pytest.fixture(scope='module')
def sshlan_ok():
    ok, reason = sshlan.can_run()
    if not ok:
        unavailable('SSH chains in network namespaces', reason)
    sshlan.cleanup_stale()


@pytest.fixture(scope='module')
def chain(sshlan_ok):  # pylint: disable=unused-argument
    before = _home_ssh_listing()
    with sshlan.SshLan(levels=2, targets_per_lan=2) as lan:
        yield lan
    assert _home_ssh_listing() == before, '~/.ssh changed during the SSH chain tests'


def test_every_host_answers_through_its_own_path(chain):
    assert [h.name for h in chain.jump_hosts] == ['jump1', 'jump2']
    assert [h.name for h in chain.targets] == ['target1', 'target2', 'target3', 'target4']
    for host in chain.hosts.values():
        result = chain.ssh(host.name, 'hostname; ip -4 -o addr show scope global')
        assert result.returncode == 0, (host.name, result.stderr)
        lines = result.stdout.splitlines()
        assert lines[0] == host.name
        assert sorted(line.split()[3].split('/')[0] for line in lines[1:]) == sorted(host.addresses)
    assert chain.proxyjump('target1') == 'root@%s' % chain.hosts['jump1'].ip
    assert chain.proxyjump('target3') == 'root@%s,root@%s' % (chain.hosts['jump1'].ip, chain.hosts['jump2'].ip)


def test_targets_are_not_reachable_without_their_jump_hosts(chain):
    for name in ('target1', 'target3', 'jump2'):
        result = chain.ssh(name, 'true', direct=True, timeout=20)
        assert result.returncode == 255
        assert 'unreachable' in result.stderr.lower() or 'no route' in result.stderr.lower(), result.stderr
    # jump1 alone cannot reach lan2: one hop short of target3 fails as well
    argv = list(chain.ssh_argv('target3', 'true'))
    argv[argv.index('-J') + 1] = 'root@%s' % chain.hosts['jump1'].ip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 255, result.stdout


def test_isolation_of_the_chain(chain):
    routes = subprocess.run(['ip', '-4', 'route', 'show'], capture_output=True, text=True, check=True).stdout
    assert 'unreachable %s' % chain.block in routes
    assert '%s dev %s' % (chain.networks['link'], chain.controller_link) in routes
    # IPv6 is off on the controller end and in every namespace
    with open('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % chain.controller_link, encoding='ascii') as handle:
        assert handle.read().strip() == '1'
    for host in chain.hosts.values():
        assert chain.exec(host.name, ['ip', 'route', 'show', 'default']).stdout.strip() == ''
        assert chain.exec(host.name, ['ip', '-6', 'addr', 'show']).stdout.strip() == ''
        assert chain.exec(host.name, ['cat', '/proc/sys/net/ipv4/ip_forward']).stdout.strip() == '0'
    # sshd listens only inside the namespaces, on the hosts' own addresses
    listening = subprocess.run(['ss', '-Hltnp'], capture_output=True, text=True, check=True).stdout
    assert 'sshd' not in listening
    target = chain.hosts['target3']
    inside = chain.exec(target.name, ['ss', '-Hltn']).stdout.split()
    assert '%s:22' % target.ip in inside
    macs = [mac for host in chain.hosts.values() for mac in host.macs]
    assert len(macs) == len(set(macs)) == 8
    for host in chain.hosts.values():
        shown = chain.exec(host.name, ['ip', '-o', 'link', 'show']).stdout
        assert all(mac in shown for mac in host.macs)


def test_the_known_hosts_file_pins_each_host_key(chain):
    with open(chain.known_hosts, encoding='ascii') as handle:
        lines = handle.read().splitlines()
    assert len(lines) == len(chain.hosts)
    # a host key that does not match its known_hosts line is refused, so the check is real
    jump1 = chain.hosts['jump1']
    bad = os.path.join(chain.dir, 'known_hosts.bad')
    other = chain.hosts['target1'].host_key
    with open(bad, 'w', encoding='ascii') as handle:
        handle.write('%s %s\n' % (jump1.ip, other))
    result = subprocess.run(['ssh', '-F', chain.client_config, '-o', 'UserKnownHostsFile=' + bad,
                             'root@' + jump1.ip, 'true'], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 255
    assert 'host key' in result.stderr.lower(), result.stderr


def test_destroy_and_stale_cleanup_remove_everything(sshlan_ok):  # pylint: disable=unused-argument
    # A chain built by a process that is then killed: cleanup_stale finds it by its dead owner.
    code = ('import sys, json; sys.path.insert(0, %r); import sshlan; lan = sshlan.SshLan(levels=1).create(); '
            'print(json.dumps(lan.to_dict()), flush=True); sys.stdin.read()' % HARNESS)
    proc = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        state = json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    tag = state['tag']
    assert [r for r in sshlan.list_runs() if r['tag'] == tag][0]['stale'] is True
    pids = [h['sshd_pid'] for h in state['hosts']]
    assert all(process_alive(pid) for pid in pids)
    assert tag in sshlan.cleanup_stale()
    deadline = time.monotonic() + 5
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_alive(pid) for pid in pids)
    assert not [ns for ns in list_netns() if tag in ns]
    assert not os.path.exists(state['dir'])
    routes = subprocess.run(['ip', '-4', 'route', 'show'], capture_output=True, text=True, check=True).stdout
    assert state['block'] not in routes
    assert not os.path.exists('/sys/class/net/%s' % state['controller_link'])
