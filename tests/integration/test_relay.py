# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan relay end to end: real ansible-rulebook running ipamkit.phpipam.relay, real phpIPAM, TLS
with the harness CA, and (for parity and timing) the real agent scanning a namespace LAN with nmap.

What each test checks is what an operator sees: the HTTP answer the agent gets, the spool's
outcome for each report, and phpIPAM's records read back through its API.
"""

import concurrent.futures
import datetime
import json
import os
import socket
import time

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import build_report

from agent_site import KNOWN, Site, lan, site  # noqa: F401 pylint: disable=unused-import,import-error
from netlan import HostSpec, Lan  # pylint: disable=import-error
from relay_helpers import Relay, have_rulebook  # pylint: disable=import-error

# Without ansible-rulebook or Java the tests skip, except where integration tests are required (CI).
_MISSING = have_rulebook()
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(_MISSING is not None and os.environ.get('IPAMKIT_REQUIRE_INTEGRATION') != '1',
                                 reason=_MISSING or '')]

TOKEN = 'lan-agent-token-0123456789abcdef'
HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, '..', 'output')


def utc(**delta):
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(**delta)


def make_report(agent_id, agent_name, subnets, generated_at=None):
    """A report as the agent builds it, from a scan that saw ``subnets``: [(id, cidr, [ips])]."""
    when = generated_at or utc()
    scan = {'nmap_version': '7.93', 'privileged': True, 'runs': [], 'subnets': [
        {'id': sid, 'cidr': cidr, 'ping': True, 'discover': True, 'completed': True, 'started': when,
         'finished': when, 'hosts': [{'ip': ip, 'state': 'up', 'reason': 'arp-response'} for ip in ips]}
        for sid, cidr, ips in subnets]}
    return build_report(scan, {'agent': {'id': agent_id, 'name': agent_name}}, generated_at=when)


class World(object):
    """Scan agents with one discover subnet each (198.18.(30+n).0/24), no LAN: for reports made here."""

    def __init__(self, phpipam, count):
        self.api = PhpipamClient(phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'),
                                 ca_path=phpipam.ca_path)
        self.agents = []
        for index in range(count):
            code = 'relay-agent-%d-%d' % (index, os.getpid())
            agent_id = self.api.create('tools/scanagents', {'name': 'relay-agent-%d' % index, 'type': 'api',
                                                            'code': code}).id
            cidr = '198.18.%d.0/24' % (30 + index)
            subnet_id = self.api.create('subnets', {
                'subnet': '198.18.%d.0' % (30 + index), 'mask': 24, 'sectionId': phpipam.sections['Lab'],
                'pingSubnet': True, 'discoverSubnet': True, 'scanAgent': agent_id}).id
            self.agents.append({'id': agent_id, 'name': 'relay-agent-%d' % index, 'code': code,
                                'token': 'tok-%d-%s' % (index, 'x' * 24), 'subnet': subnet_id, 'cidr': cidr})

    def tokens(self):
        return dict((agent['code'], agent['token']) for agent in self.agents)

    def report(self, index, last_octets, generated_at=None, subnet_of=None):
        agent = self.agents[index]
        target = self.agents[subnet_of if subnet_of is not None else index]
        ips = ['%s.%d' % (target['cidr'].rsplit('.', 1)[0], octet) for octet in last_octets]
        return make_report(agent['id'], agent['name'], [(target['subnet'], target['cidr'], ips)], generated_at)

    def addresses(self, index):
        return sorted(a['ip'] for a in self.api.get_list('subnets/%d/addresses' % self.agents[index]['subnet']))


@pytest.fixture
def relay_factory(harness, phpipam, tmp_path):
    relays = []

    def start(agent_tokens, **settings):
        relay = Relay(harness, phpipam, tmp_path, agent_tokens, **settings)
        relays.append(relay)
        return relay.start()

    yield start
    for relay in relays:
        relay.stop()


def _records(site):
    """The LAN's records as the comparison sees them: fields the scan sets, lastSeen as recent or not."""
    rows = {}
    for ip, address in site.addresses().items():
        last = address.get('lastSeen')
        rows[ip] = (address.get('hostname'), address.get('mac'), address.get('tag'), address.get('description'),
                    bool(address.get('excludePing')),
                    bool(last and abs((utc() - last).total_seconds()) < 600))
    return rows


def _reset_addresses(site):
    for address in site.addresses().values():
        site.api.delete('addresses/%d' % address['id'])
    for ip, fields in KNOWN.items():
        site.api.create('addresses', dict(fields, ip=ip, subnetId=site.v6 if ':' in ip else site.v4))


def test_relay_mode_leaves_the_same_records_as_direct_mode(site, run_playbook, relay_factory):
    relay = relay_factory({site.agent_code: TOKEN})
    run = run_playbook('ipamkit.phpipam.agent', extra_vars={'scan_agent_config_path': site.config(
        'relay.yaml', relay_url=relay.url, relay_token=TOKEN, relay_ca_path=relay.ca_path)})
    assert run.returncode == 0, run.output
    sent = run.result('Write what was seen to phpIPAM')['relay']
    assert sent['status'] == 202 and sent['answer']['status'] == 'accepted'
    outcome = relay.wait_finished([sent['report_id']])[sent['report_id']]['outcome']
    assert outcome['state'] == 'done', outcome
    by_relay = _records(site)
    assert site.agent()['last_access'] is not None

    _reset_addresses(site)
    run = run_playbook('ipamkit.phpipam.agent', extra_vars={'scan_agent_config_path': site.config()})
    assert run.returncode == 0, run.output
    direct = _records(site)
    assert by_relay == direct
    # Not vacuous: the scan created and updated records, and left the person's name alone.
    assert by_relay['198.18.10.15'][5] and by_relay['198.18.10.13'][0] == 'printer-by-hand'
    assert '198.18.10.20' in by_relay and not by_relay['198.18.10.20'][5]


def test_an_agent_without_phpipam_access_gets_its_subnets_from_the_relay(site, run_playbook, relay_factory, tmp_path):
    relay = relay_factory({site.agent_code: TOKEN})
    # No phpIPAM URL, app or agent code: the relay knows the agent by its token.
    config = tmp_path / 'relay-only.yaml'
    config.write_text(json.dumps({
        'relay_url': relay.url, 'relay_token': TOKEN, 'relay_ca_path': relay.ca_path, 'relay_subnets': True,
        'nmap_path': site.lan.nmap_wrapper, 'lock_path': str(tmp_path / 'agent.lock'),
        'cache_dir': str(tmp_path / 'cache'), 'phpipam_timezone': 'UTC'}))
    config.chmod(0o600)
    run = run_playbook('ipamkit.phpipam.agent', extra_vars={'scan_agent_config_path': str(config)})
    assert run.returncode == 0, run.output
    fetched = run.result("Fetch the agent's subnets and their addresses")
    assert sorted(subnet['cidr'] for subnet in fetched['subnets']) == ['198.18.10.0/24', 'fd00:18:10::/64']
    sent = run.result('Write what was seen to phpIPAM')['relay']
    outcome = relay.wait_finished([sent['report_id']])[sent['report_id']]['outcome']
    assert outcome['state'] == 'done' and outcome['totals']['created'] >= 4, outcome
    addresses = site.addresses()
    assert '198.18.10.15' in addresses and addresses['198.18.10.13']['hostname'] == 'printer-by-hand'


def test_reports_refused_at_the_door_write_nothing(phpipam, relay_factory, run_playbook, tmp_path):
    world = World(phpipam, 2)
    relay = relay_factory(world.tokens(), max_body_size=64 * 1024)
    good = world.report(0, [11, 12])
    token_a, token_b = world.agents[0]['token'], world.agents[1]['token']

    assert relay.post(good)[0] == 401                                   # no token
    assert relay.post(good, token='not-a-token-0123456789')[0] == 401   # wrong token
    status, answer = relay.post(good, token=token_b)                    # another agent's token
    assert status == 403 and 'relay-agent-0' in answer['reason'], answer
    assert relay.post(b'x' * (65 * 1024), token=token_a)[0] == 413    # oversize
    assert relay.post(b'{"kind": ', token=token_a)[0] == 400            # malformed JSON
    assert relay.post(good, token=token_a, content_type='text/plain')[0] == 415
    broken = dict(good, version=2)
    assert relay.post(broken, token=token_a)[0] == 422                  # schema-invalid
    outside = json.loads(json.dumps(good))
    outside['subnets'][0]['hosts'].append({'ip': '198.18.99.1', 'mac': None, 'vendor': None, 'hostname': None,
                                           'reason': None})
    status, answer = relay.post(outside, token=token_a)
    assert status == 422 and '198.18.99.1' in json.dumps(answer)        # an IP outside its subnet
    # Plain HTTP to the relay's TLS port: no answer a client could take for acceptance.
    with socket.create_connection(('127.0.0.1', relay.port), timeout=5) as sock:
        sock.sendall(b'POST /reports HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}')
        assert b'202' not in sock.recv(4096)
    # An agent told to use plain HTTP to a relay that is not on loopback stops before it scans or sends.
    config = tmp_path / 'plain.yaml'
    config.write_text(json.dumps({
        'relay_url': 'http://198.18.0.1:%d/reports' % relay.port, 'relay_token': token_a, 'relay_subnets': True,
        'lock_path': str(tmp_path / 'plain.lock'), 'cache_dir': str(tmp_path / 'cache')}))
    config.chmod(0o600)
    run = run_playbook('ipamkit.phpipam.agent', extra_vars={'scan_agent_config_path': str(config)})
    assert run.returncode != 0 and 'refusing to send the relay token over plain http:// to 198.18.0.1' in run.output
    assert not [r for r in run.records if 'Fetch the agent' in r['task']]
    assert relay.spool.ids('incoming') == [] and relay.spool.ids('done') == []
    assert world.addresses(0) == [] and world.addresses(1) == []


def test_reports_failing_a_phpipam_check_are_rejected_whole(phpipam, relay_factory):
    world = World(phpipam, 2)
    relay = relay_factory(world.tokens())
    token_a = world.agents[0]['token']
    # Agent 0 reports on agent 1's subnet (the CIDR is right, the owner is not).
    foreign = world.report(0, [11], subnet_of=1)
    fresh = world.report(0, [21, 22])
    old = world.report(0, [23], generated_at=utc(hours=-1))
    ids = []
    for report in (foreign, fresh):
        status, answer = relay.post(report, token=token_a)
        assert status == 202 and answer['status'] == 'accepted', answer
        ids.append(report['report_id'])
    done = relay.wait_finished(ids)
    assert done[foreign['report_id']]['outcome']['state'] == 'rejected'
    assert 'not to this agent' in done[foreign['report_id']]['outcome']['reason']
    assert done[fresh['report_id']]['outcome']['state'] == 'done'
    # A replayed older report arrives after the fresh one was applied.
    assert relay.post(old, token=token_a)[0] == 202
    replay = relay.wait_finished([old['report_id']])[old['report_id']]['outcome']
    assert replay['state'] == 'rejected' and 'an old report' in replay['reason']
    # The same report again is a duplicate, not a second application.
    status, answer = relay.post(fresh, token=token_a)
    assert status == 202 and answer['status'] == 'duplicate'
    assert world.addresses(0) == ['198.18.30.21', '198.18.30.22']
    assert world.addresses(1) == []


def test_nothing_is_lost_when_phpipam_is_down_or_the_relay_restarts(harness, phpipam, fault_proxy, relay_factory):
    world = World(phpipam, 1)
    relay = relay_factory(world.tokens(), phpipam_url=fault_proxy.url)
    fault_proxy.inject('bad_gateway')                   # phpIPAM unreachable behind its proxy
    token = world.agents[0]['token']
    reports = [world.report(0, [10 + n], generated_at=utc(minutes=-10 + n)) for n in range(3)]
    for report in reports:
        assert relay.post(report, token=token)[0] == 202
    time.sleep(8)                                       # more than two retry intervals
    assert sorted(relay.spool.ids('incoming')) == sorted(r['report_id'] for r in reports)
    assert world.addresses(0) == []
    relay.stop(kill=True)                               # killed with reports spooled
    fault_proxy.clear()
    relay.start()
    done = relay.wait_finished([r['report_id'] for r in reports])
    assert [done[r['report_id']]['outcome']['state'] for r in reports] == ['done'] * 3
    assert world.addresses(0) == ['198.18.30.10', '198.18.30.11', '198.18.30.12']
    # Each report applied once: one create each, and nothing left to apply.
    assert [done[r['report_id']]['outcome']['totals']['created'] for r in reports] == [1, 1, 1]
    assert relay.spool.ids('incoming') == []


def test_a_burst_of_50_reports_from_5_agents_is_applied_completely(phpipam, relay_factory):
    world = World(phpipam, 5)
    relay = relay_factory(world.tokens())
    start = utc(minutes=-30)
    batches = [[world.report(index, [10 + n], generated_at=start + datetime.timedelta(minutes=n)) for n in range(10)]
               for index in range(5)]

    def send(index):
        # One agent sends its reports in the order it made them; the five agents send at once.
        return [relay.post(report, token=world.agents[index]['token'])[0] for report in batches[index]]

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(send, range(5)))
    assert statuses == [[202] * 10] * 5
    ids = [report['report_id'] for batch in batches for report in batch]
    done = relay.wait_finished(ids, timeout=240)
    elapsed = time.monotonic() - began
    assert sorted(set(entry['outcome']['state'] for entry in done.values())) == ['done']
    for index in range(5):
        assert world.addresses(index) == ['198.18.%d.%d' % (30 + index, 10 + n) for n in range(10)]
    _record('burst_50_reports_5_agents_seconds', round(elapsed, 2))


def test_time_from_post_to_last_write_for_60_live_hosts(phpipam, netns_ready, run_playbook, relay_factory, tmp_path):  # pylint: disable=unused-argument
    hosts = [HostSpec('h%d' % n, ipv4='198.18.40.%d' % n, ipv6=False, mac='02:00:c6:12:28:%02x' % n)
             for n in range(10, 70)]
    world = World(phpipam, 0)
    code = 'timing-agent-%d' % os.getpid()
    agent_id = world.api.create('tools/scanagents', {'name': 'timing-agent', 'type': 'api', 'code': code}).id
    subnet_id = world.api.create('subnets', {'subnet': '198.18.40.0', 'mask': 24, 'sectionId': phpipam.sections['Lab'],
                                             'pingSubnet': True, 'discoverSubnet': True, 'scanAgent': agent_id}).id
    relay = relay_factory({code: TOKEN})
    with Lan(ipv4='198.18.40.0/24', ipv6=False, hosts=hosts, dns=False) as the_lan:
        config = tmp_path / 'timing.yaml'
        config.write_text(json.dumps({
            'phpipam_url': phpipam.https_url, 'phpipam_app_id': 'ansible_rw',
            'phpipam_token': phpipam.app_code('ansible_rw'), 'phpipam_ca_path': phpipam.ca_path,
            'phpipam_timezone': 'UTC', 'agent_code': code, 'nmap_path': the_lan.nmap_wrapper,
            'lock_path': str(tmp_path / 'timing.lock'), 'cache_dir': str(tmp_path / 'cache'),
            'relay_url': relay.url, 'relay_token': TOKEN, 'relay_ca_path': relay.ca_path}))
        config.chmod(0o600)
        run = run_playbook('ipamkit.phpipam.agent', extra_vars={'scan_agent_config_path': str(config)})
    assert run.returncode == 0, run.output
    report_id = run.result('Write what was seen to phpIPAM')['relay']['report_id']
    entry = relay.wait_finished([report_id])[report_id]
    # The 60 hosts, plus the scanner's own address in the LAN.
    assert entry['outcome']['state'] == 'done' and entry['outcome']['totals']['created'] == 61
    stored = set(a['ip'] for a in world.api.get_list('subnets/%d/addresses' % subnet_id))
    assert set(host.ipv4 for host in hosts) <= stored
    received = datetime.datetime.fromisoformat(entry['received_at'].replace('Z', '+00:00'))
    applied = datetime.datetime.fromisoformat(entry['outcome']['at'].replace('Z', '+00:00'))
    _record('post_to_last_write_60_hosts_seconds', round((applied - received).total_seconds(), 2))


def _record(name, value):
    """Keep a measured figure for the closing note (tests/output/relay-figures.json)."""
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, 'relay-figures.json')
    figures = {}
    if os.path.exists(path):
        with open(path, encoding='utf-8') as handle:
            figures = json.load(handle)
    figures[name] = value
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(figures, handle, indent=1, sort_keys=True)
    print('%s = %s' % (name, value))
