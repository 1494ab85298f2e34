# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan agent end to end: ansible-playbook ipamkit.phpipam.agent, real nmap in a network-namespace LAN,
real phpIPAM, and phpIPAM's records read back through its API.

The LAN (198.18.10.0/24 and fd00:18:10::/64) lives in namespaces the test creates, with no route
out; nmap runs inside it through the LAN's nmap wrapper.
"""

import datetime
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient

from netlan import HostSpec, Lan  # pylint: disable=import-error

# lan and site are fixtures: importing them makes them this module's.
from agent_site import AUTO, Site, lan, now_utc, recent, site  # noqa: F401 pylint: disable=unused-import,import-error

pytestmark = [pytest.mark.integration, pytest.mark.netns]


def run_agent(run_playbook, config_path, check=False, diff=False, env=None, extra=None):
    extra_vars = {'scan_agent_config_path': config_path}
    extra_vars.update(extra or {})
    return run_playbook('ipamkit.phpipam.agent', extra_vars=extra_vars, check=check, diff=diff, env=env)


def summary(run):
    return run.result('Summary')['msg']


@pytest.mark.smoke
def test_a_cycle_writes_what_the_lan_shows(site, run_playbook):
    before = site.addresses()
    run = run_agent(run_playbook, site.config())
    assert run.returncode == 0, run.output
    after = site.addresses()

    # Seen, known: lastSeen now; MAC filled where phpIPAM had none; names filled only where empty.
    for ip in ('198.18.10.11', '198.18.10.12', '198.18.10.13', '198.18.10.14', 'fd00:18:10::11'):
        assert recent(after[ip]['lastSeen']), ip
    assert after['198.18.10.12']['mac'] == '02:00:c6:12:0a:0c'
    assert after['198.18.10.12']['hostname'] == 'h12.lan.test'
    assert after['198.18.10.13']['hostname'] == 'printer-by-hand'
    assert after['198.18.10.13']['mac'] == '02:00:c6:12:0a:0d'
    # Tags stay as they were: Reserved survives the PATCH.
    assert after['198.18.10.14']['tag'] == 3
    assert all(after[ip]['tag'] == before[ip]['tag'] for ip in before)
    # Not probed (excludePing) and not answering: untouched.
    for ip in ('198.18.10.17', '198.18.10.20', '198.18.10.21'):
        assert after[ip] == before[ip], ip
    # Discovered: created with MAC and the LAN DNS name (the scanner and the DNS server answer too).
    for name, ip in (('h15', '198.18.10.15'), ('h16', '198.18.10.16')):
        new = after[ip]
        assert (new['mac'], new['hostname'], new['description'], new['tag']) == (
            site.lan.host(name).mac, '%s.lan.test' % name, AUTO, 2)
        assert recent(new['lastSeen'])
    assert {'198.18.10.2', '198.18.10.53'} <= set(after)
    assert 'fd00:18:10::12' not in after  # IPv6 subnet is ping-only: nothing is created there

    lines = summary(run)
    assert lines[0].startswith('198.18.10.0/24 (id %d): seen 8, created 4, updated 4, unchanged 0' % site.v4)
    assert lines[1].startswith('fd00:18:10::/64 (id %d): seen 1, created 0, updated 1' % site.v6)
    assert lines[-1].startswith('total: 2 subnet(s), seen 9, created 4, updated 5')
    v4 = site.api.get('subnets/%d' % site.v4)
    assert recent(v4['lastScan']) and recent(v4['lastDiscovery'])
    assert recent(site.agent()['last_access'])
    assert site.agent_code not in run.output and site.phpipam.app_code('ansible_rw') not in run.output


def test_second_cycle_makes_no_address_writes(site, run_playbook):
    config = site.config(lastseen_refresh='10m')
    first = run_agent(run_playbook, config)
    assert first.returncode == 0, first.output
    snapshot = site.addresses()
    second = run_agent(run_playbook, config)
    assert second.returncode == 0, second.output
    upload = second.result('Write what was seen to phpIPAM')
    assert upload['changed'] is False and upload['address_writes'] == 0
    assert upload['requests'].get('POST', 0) == 0 and upload['requests'].get('DELETE', 0) == 0
    assert 'created 0, updated 0, unchanged 8' in summary(second)[0]
    assert site.addresses() == snapshot


def test_check_mode_writes_nothing_and_shows_the_diff(site, run_playbook):
    before = site.addresses()
    agent_before = site.agent()
    run = run_agent(run_playbook, site.config(), check=True, diff=True)
    assert run.returncode == 0, run.output
    assert summary(run)[0].startswith('(check mode) 198.18.10.0/24')
    assert 'created 4, updated 4' in summary(run)[0]
    assert '+ 198.18.10.15 description=-- autodiscovered -- hostname=h15.lan.test' in run.stdout
    assert site.addresses() == before
    assert site.agent() == agent_before


def test_stale_removal_waits_for_the_delay_and_stays_in_scope(site, run_playbook):
    config = site.config(remove_stale=True, remove_stale_after='2d')
    run = run_agent(run_playbook, config)
    assert run.returncode == 0, run.output
    after = site.addresses()
    # .20 was created by an agent and not seen for longer than the delay: gone.
    assert '198.18.10.20' not in after
    # .21 was entered by a person, .17 is excluded from pings, .14 is Reserved: kept.
    assert {'198.18.10.21', '198.18.10.17', '198.18.10.14'} <= set(after)
    assert 'removed 1, removal refused 0' in summary(run)[0]
    # The agent's own discoveries are not stale yet: a day later nothing else goes.
    again = run_agent(run_playbook, config)
    assert 'removed 0' in summary(again)[0]


def test_guard_holds_when_the_whole_lan_is_down(phpipam, netns_ready, tmp_path, run_playbook):  # pylint: disable=unused-argument
    hosts = [HostSpec('h11', ipv4='198.18.20.11', ipv6=False), HostSpec('h12', ipv4='198.18.20.12', ipv6=False),
             HostSpec('h13', ipv4='198.18.20.13', ipv6=False)]
    with Lan(ipv4='198.18.20.0/24', ipv6=False, hosts=hosts, dns=False) as lan:
        site = Site.__new__(Site)
        site.phpipam, site.lan, site.tmp = phpipam, lan, tmp_path
        site.api = PhpipamClient(phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'),
                                 ca_path=phpipam.ca_path)
        site.agent_code = 'down-agent-%d' % os.getpid()
        site.agent_id = site.api.create('tools/scanagents', {'name': 'down-agent', 'type': 'api',
                                                             'code': site.agent_code}).id
        site.v4 = site.api.create('subnets', {'subnet': '198.18.20.0', 'mask': 24, 'sectionId': phpipam.sections['Lab'],
                                              'pingSubnet': True, 'discoverSubnet': True,
                                              'scanAgent': site.agent_id}).id
        site.v6 = site.v4
        config = site.config(remove_stale=True, remove_stale_after='1h')
        first = run_agent(run_playbook, config)
        assert first.returncode == 0, first.output
        assert {'198.18.20.11', '198.18.20.12', '198.18.20.13'} <= set(site.addresses())
        # Two hours later, the whole LAN is gone (a cable, a VLAN, the agent's route).
        for address in site.addresses().values():
            site.api.update('addresses/%d' % address['id'], {'lastSeen': now_utc() - datetime.timedelta(hours=2),
                                                             'tag': address['tag']})
        for host in hosts:
            lan.set_up(host.name, False)
        before = site.addresses()
        down = run_agent(run_playbook, config)
        assert down.returncode == 0, down.output
        line = summary(down)[0]
        assert 'removed 0, removal refused 3' in line
        refused = down.result('Write what was seen to phpIPAM')['subnets'][0]['refused_details']
        assert 'the scan saw no host' in refused[0]['reason'] or 'remove_stale_max_percent' in refused[0]['reason']
        assert set(site.addresses()) == set(before)


def _killing_wrapper(lan, tmp_path, after):
    path = tmp_path / 'nmap-killed'
    path.write_text('#!/bin/sh\n"%s" "$@" &\nchild=$!\nsleep %s\npkill -KILL -P $child 2>/dev/null\n'
                    'kill -KILL $child 2>/dev/null\nwait $child\nexit $?\n' % (lan.nmap_wrapper, after))
    path.chmod(0o755)
    return str(path)


def _slow_wrapper(lan, tmp_path, delay):
    path = tmp_path / 'nmap-slow'
    path.write_text('#!/bin/sh\nsleep %s\nexec "%s" "$@"\n' % (delay, lan.nmap_wrapper))
    path.chmod(0o755)
    return str(path)


def test_nmap_killed_mid_scan_changes_nothing_and_the_rerun_converges(site, run_playbook, tmp_path):
    before = site.addresses()
    agent_before = site.agent()
    killed = run_agent(run_playbook, site.config(nmap_path=_killing_wrapper(site.lan, tmp_path, 0.5)))
    assert killed.returncode != 0
    assert killed.status('Scan the subnets with nmap') == 'failed'
    message = killed.result('Scan the subnets with nmap')['msg']
    assert 'nmap' in message and '\n' not in message.strip()
    assert site.addresses() == before and site.agent() == agent_before
    # The lock was given up: the next run works and converges.
    again = run_agent(run_playbook, site.config())
    assert again.returncode == 0, again.output
    assert '198.18.10.15' in site.addresses()


def test_phpipam_failing_mid_upload(site, run_playbook, fault_proxy):
    before = site.addresses()
    config = site.config(phpipam_url=fault_proxy.url)
    # scan_agent_info: OPTIONS tools, GET agents, GET subnets, 2 x GET addresses;
    # scan_upload: GET tags, GET subnets, 2 x GET addresses. Then every write is cut off.
    fault_proxy.inject('pass', count=9)
    fault_proxy.inject('reset', count=10000)
    broken = run_agent(run_playbook, config)
    assert broken.returncode != 0
    assert broken.status('Write what was seen to phpIPAM') == 'failed', broken.output
    assert 'write(s) failed, the others were applied' in broken.result('Write what was seen to phpIPAM')['msg']
    assert fault_proxy.count_writes(forwarded=True) == 0
    assert site.addresses() == before
    fault_proxy.clear()
    again = run_agent(run_playbook, config)
    assert again.returncode == 0, again.output
    assert 'created 4, updated 4' in summary(again)[0]


@pytest.mark.parametrize('settings, words', [
    ({'remove_stael': True}, ['remove_stael: unknown setting (did you mean remove_stale?)']),
    ({'api_workers': 'many'}, ['api_workers:']),
    ({'phpipam_token': None, 'phpipam_url': 'http://ipam.example.com'},
     ['phpipam_token: not set', 'refusing to send credentials over plain http:// to ipam.example.com']),
    ({'remove_stale_after': '2x'}, ["remove_stale_after: '2x' is not a duration"]),
])
def test_bad_config_stops_before_anything_happens(site, run_playbook, settings, words):
    data = dict((k, v) for k, v in settings.items() if v is not None)
    path = site.config(**data)
    if any(v is None for v in settings.values()):
        content = yaml.safe_load(open(path, encoding='utf-8'))
        for key, value in settings.items():
            if value is None:
                content.pop(key)
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(content, handle)
    agent_before = site.agent()
    run = run_agent(run_playbook, path)
    assert run.returncode != 0
    assert run.status('Load and check the scan agent configuration') == 'failed'
    message = run.result('Load and check the scan agent configuration')['msg']
    for word in words:
        assert word in message
    assert site.agent() == agent_before
    assert site.phpipam.app_code('ansible_rw') not in run.output


def test_extra_vars_win_over_the_file(site, run_playbook):
    run = run_agent(run_playbook, site.config(discovered_tag='Used'), extra={'scan_agent_discovered_tag': 'Reserved'})
    assert run.returncode == 0, run.output
    assert site.addresses()['198.18.10.15']['tag'] == 3


def test_seed_format_file_and_environment_drive_a_cycle(site, run_playbook, tmp_path):
    seed = {'nofusscomputing_phpipam_scan_agent': {
        'api_url': site.phpipam.https_url, 'client_name': 'ansible_rw',
        'client_token': site.phpipam.app_code('ansible_rw'), 'scanagent_code': site.agent_code,
        'cache_expire_time': 1800, 'epoch_time_offset': 0}}
    path = tmp_path / 'seed.yaml'
    path.write_text(yaml.safe_dump(seed))
    path.chmod(0o600)
    env = {'PHPIPAM_CA_PATH': site.phpipam.ca_path, 'PHPIPAM_TIMEZONE': 'UTC', 'IPAM_ALWAYS_UPDATE': '1',
           'IPAM_MIN_TIME_BETWEEN_SCANS': '0'}
    extra = {'scan_agent_nmap_path': site.lan.nmap_wrapper, 'scan_agent_lock_path': str(tmp_path / 'l.lock'),
             'scan_agent_cache_dir': str(tmp_path / 'cache')}
    run = run_agent(run_playbook, str(path), env=env, extra=extra)
    assert run.returncode == 0, run.output
    assert 'created 4, updated 4' in summary(run)[0]
    assert os.path.exists(str(tmp_path / 'cache' / 'subnets.json'))

    # Environment variables of the older Python agent, no file at all.
    site2_env = {'IPAM_SERVER': site.phpipam.https_url.split('://', 1)[1], 'IPAM_API_CLIENT': 'ansible_rw',
                 'IPAM_API_TOKEN': site.phpipam.app_code('ansible_rw'), 'IPAM_API_AGENT_CODE': site.agent_code,
                 'IPAM_MIN_TIME_BETWEEN_SCANS': '1h', 'PHPIPAM_CA_PATH': site.phpipam.ca_path,
                 'PHPIPAM_TIMEZONE': 'UTC', 'PHPIPAM_SCAN_AGENT_CONFIG': str(tmp_path / 'none.yaml')}
    empty = tmp_path / 'none.yaml'
    empty.write_text('{}\n')
    site.api.update('tools/scanagents/%d' % site.agent_id, {'last_access': '2026-01-01 00:00:00'})
    env_run = run_playbook('ipamkit.phpipam.agent', env=site2_env, extra_vars=extra)
    assert env_run.returncode == 0, env_run.output
    # Both subnets were scanned a minute ago: IPAM_MIN_TIME_BETWEEN_SCANS=1h skips them.
    lines = summary(env_run)
    assert any('skipped, scanned less than min_scan_interval (3600 s) ago' in line for line in lines)
    assert lines[-1].startswith('total: 0 subnet(s) (2 skipped)')
    # Nothing to scan, and still the agent reports in.
    assert recent(site.agent()['last_access'])


def test_overlapping_runs(site, run_playbook, tmp_path):
    config = site.config(nmap_path=_slow_wrapper(site.lan, tmp_path, 6))
    record = tmp_path / 'first.json'
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PHPIPAM_'))
    env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(__file__), 'callback_plugins'),
               ANSIBLE_CALLBACKS_ENABLED='record_results', IPAMKIT_RECORD_FILE=str(record), ANSIBLE_NOCOLOR='1')
    first = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), 'ipamkit.phpipam.agent',
                              '-e', json.dumps({'scan_agent_config_path': config})], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not os.path.exists(str(tmp_path / 'agent.lock')):
            time.sleep(0.2)
        time.sleep(1)
        second = run_agent(run_playbook, config)
        assert second.returncode == 0, second.output
        message = second.result('Back off while another run is busy')['msg']
        assert 'Another scan agent run (pid %d' % first.pid in message and 'this cycle is skipped' in message
        assert second.status('Fetch the agent\'s subnets and their addresses') == 'skipped'
    finally:
        output, dummy = first.communicate(timeout=300)
    assert first.returncode == 0, output
    assert '198.18.10.15' in site.addresses()
    # The lock file goes with the run, so a later run as another user is not blocked by it.
    assert not os.path.exists(str(tmp_path / 'agent.lock'))


def test_scanner_host_from_the_inventory(site, run_playbook, tmp_path):
    """nmap runs on the play's host; API calls are delegated to the controller (here both are local)."""
    inventory = ('[scanners]\nscanner1 ansible_connection=local ansible_python_interpreter=%s\n'
                 '[all:vars]\nansible_python_interpreter=%s\n' % (sys.executable, sys.executable))
    run = run_playbook('ipamkit.phpipam.agent', inventory_text=inventory,
                       extra_vars={'scan_agent_config_path': site.config(), 'scan_agent_hosts': 'scanners'})
    assert run.returncode == 0, run.output
    assert 'created 4, updated 4' in summary(run)[0]


class _RelayStub(object):
    """A loopback HTTP endpoint that accepts reports (202) and keeps them; the real relay is tested elsewhere."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import threading
        stub = self
        self.posts = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

            def do_POST(self):  # pylint: disable=invalid-name
                body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
                stub.posts.append({'headers': dict(self.headers), 'report': json.loads(body)})
                answer = json.dumps({'accepted': True}).encode()
                self.send_response(202)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/reports' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_relay_mode_sends_the_report_and_writes_nothing(site, run_playbook):
    relay = _RelayStub()
    try:
        before = site.addresses()
        agent_before = site.agent()
        # A read-only app is enough in relay mode: the agent only reads its subnets.
        config = site.config(phpipam_app_id='ansible_ro', phpipam_token=site.phpipam.app_code('ansible_ro'),
                             relay_url=relay.url, relay_token='relay-token-secret-77')
        run = run_agent(run_playbook, config)
        assert run.returncode == 0, run.output
        assert len(relay.posts) == 1
        post = relay.posts[0]
        assert post['headers']['Authorization'] == 'Bearer relay-token-secret-77'
        report = post['report']
        assert report['agent']['id'] == site.agent_id
        v4 = [s for s in report['subnets'] if s['id'] == site.v4][0]
        assert v4['completed'] is True
        assert {h['ip'] for h in v4['hosts']} >= {'198.18.10.11', '198.18.10.15'}
        assert [h['mac'] for h in v4['hosts'] if h['ip'] == '198.18.10.15'] == ['02:00:c6:12:0a:0f']
        lines = summary(run)
        assert lines[-1].startswith('total: 2 subnet(s), seen 9; report %s sent to %s' % (report['report_id'], relay.url))
        assert site.addresses() == before and site.agent() == agent_before
        assert 'relay-token-secret-77' not in run.output
    finally:
        relay.close()
