# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan relay's listener run by real ansible-rulebook, against the real phpIPAM of the harness.

The collection is built and installed with ansible-galaxy into a temporary collections path, and
ansible-rulebook loads ipamkit.phpipam.scan_reports from there, as on a relay host or in a decision
environment. The copy linked into the test venv is hidden from that process, so the plugin must
find its own collection's module_utils from its own path. The listener then checks tokens against
phpIPAM's scan agents and answers GET /subnets from phpIPAM.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
import requests

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool import Spool
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_agent import fetch_agent_inventory
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import build_report

from integration_helpers import unavailable  # pylint: disable=import-error

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)
AGENT_SUBNETS = ['127.0.10.0/24', '127.0.20.0/28', '127.40.1.0/24']
DEMO_TOKEN = 'demo-agent-relay-token-1f2e3d4c5b6a'
IDLE_TOKEN = 'idle-agent-relay-token-a6b5c4d3e2f1'
SHARED_TOKEN = 'shared-relay-token-99887766554433'

# Run ansible-rulebook with the collection linked into this venv hidden, as on a host where it is
# only installed with ansible-galaxy: the plugin must then import its module_utils from its own copy.
LAUNCHER = r'''
import importlib.machinery, os, sys
hidden = [os.path.join(p, 'ansible_collections', 'ipamkit') for p in list(sys.path)]

class HideOtherCopies(object):
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != 'ansible_collections.ipamkit':
            return None
        allowed = [p for p in (path or []) if os.path.join(p, 'ipamkit') not in hidden]
        spec = importlib.machinery.PathFinder.find_spec(name, allowed)
        if spec is None:
            raise ModuleNotFoundError('No module named %r (hidden)' % name, name=name)
        return spec

sys.meta_path.insert(0, HideOtherCopies)
from ansible_rulebook.cli import main
sys.exit(main())
'''

RULEBOOK = '''---
- name: Scan relay listener test
  hosts: all
  sources:
    - name: relay
      ipamkit.phpipam.scan_reports:
        config: {config}
  rules:
    - name: Reports are waiting
      condition: event.scan_relay is defined
      action:
        print_event:
          pretty: false
'''


def _unavailable(reason):
    unavailable('the relay listener tests', reason)


def _free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope='module')
def installed_collection(tmp_path_factory):
    """The collection as ansible-galaxy builds and installs it: <root>/ansible_collections/ipamkit/phpipam."""
    if not os.path.exists(os.path.join(BIN, 'ansible-rulebook')):
        _unavailable('ansible-rulebook is not installed in %s (make venv installs requirements-relay.txt)' % BIN)
    if not shutil.which('java'):
        _unavailable('no Java runtime for ansible-rulebook (make system-deps installs openjdk-17-jre-headless)')
    work = tmp_path_factory.mktemp('relay-collection')
    root = work / 'collections'
    env = dict(os.environ, ANSIBLE_LOCAL_TEMP=str(work / 'ansible-tmp'))
    galaxy = os.path.join(BIN, 'ansible-galaxy')

    def run(*argv):
        proc = subprocess.run([galaxy, 'collection'] + list(argv), capture_output=True, text=True, timeout=300,
                              check=False, env=env, cwd=str(work))
        assert proc.returncode == 0, proc.stdout + proc.stderr

    run('build', CHECKOUT, '--output-path', str(work / 'build'))
    tarball = os.path.join(str(work / 'build'), os.listdir(str(work / 'build'))[0])
    # --force: ansible-galaxy would otherwise see the copy linked into this venv and install nothing.
    run('install', '--offline', '--force', tarball, '-p', str(root))
    assert (root / 'ansible_collections' / 'ipamkit' / 'phpipam' / 'extensions' / 'eda' / 'plugins' / 'event_source' /
            'scan_reports.py').is_file()
    return str(root)


class RulebookProcess(object):
    """ansible-rulebook in the background; its output is collected line by line."""

    def __init__(self, argv, env, cwd):
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                     stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip('\n'))
                self.cond.notify_all()

    @property
    def output(self):
        with self.cond:
            return '\n'.join(self.lines)

    def wait_for(self, text, timeout=30):
        with self.cond:
            found = self.cond.wait_for(lambda: any(text in line for line in self.lines) or self.proc.poll() is not None,
                                       timeout)
        return found and text in self.output

    def events(self):
        """The events print_event wrote (one JSON-ish dict per line, printed by Python)."""
        return [line for line in self.output.splitlines() if "'scan_relay'" in line]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)    # SIGINT, as Ctrl-C or systemd's KillSignal=SIGINT
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError('ansible-rulebook did not stop within 30 s of SIGINT:\n' + self.output)
        self.reader.join(timeout=10)


@pytest.fixture(scope='module')
def relay(harness, phpipam_session, installed_collection, tmp_path_factory):
    """The relay: ansible-rulebook with the installed collection, TLS from the harness CA, phpIPAM's ansible_rw app."""
    work = tmp_path_factory.mktemp('relay')
    cert, key = harness.issue_leaf_cert(str(work / 'pki'))
    port = _free_port()
    agents = phpipam_session.agents
    config = work / 'scan_relay.yaml'
    config.write_text(json.dumps({
        'listen_address': '127.0.0.1', 'listen_port': port, 'tls_cert': cert, 'tls_key': key,
        'spool_dir': str(work / 'spool'), 'retry_interval': '10m',
        'agent_tokens': {agents['demo-agent']['code']: DEMO_TOKEN, agents['idle-agent']['code']: IDLE_TOKEN},
        'shared_token': SHARED_TOKEN,
        'phpipam_url': phpipam_session.https_url, 'phpipam_app_id': 'ansible_rw',
        'phpipam_token': phpipam_session.app_code('ansible_rw'), 'phpipam_ca_path': phpipam_session.ca_path,
    }))
    config.chmod(0o600)
    rulebook = work / 'rulebook.yml'
    rulebook.write_text(RULEBOOK.format(config=str(config)))
    inventory = work / 'inventory.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n')
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': installed_collection,
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_LOCAL_TEMP': str(work / 'ansible-tmp'),
        'PATH': BIN + os.pathsep + env.get('PATH', ''),
        'PYTHONUNBUFFERED': '1',
    })
    process = RulebookProcess([sys.executable, '-c', LAUNCHER, '-r', str(rulebook), '-i', str(inventory), '-v'],
                              env=env, cwd=str(work))
    try:
        assert process.wait_for('scan relay listening on https://127.0.0.1:%d' % port, timeout=90), process.output
        process.port = port
        process.spool_dir = str(work / 'spool')
        process.ca = phpipam_session.ca_path
        process.installed_collection = installed_collection
        yield process
    finally:
        process.stop()
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', port), timeout=2).close()


def _url(relay, path):
    return 'https://127.0.0.1:%d%s' % (relay.port, path)


def _report(agent, serial):
    scan = {
        'nmap_version': '7.93', 'privileged': False,
        'runs': [{'family': 4, 'argv': ['nmap', '-sn', '-oX', '-', '-iL', '/tmp/targets'],
                  'started': '2026-11-25T20:00:00Z', 'finished': '2026-11-25T20:00:%02dZ' % serial, 'exit': 'success'}],
        'subnets': [{'id': 7, 'cidr': '127.0.10.0/24', 'scanned': True, 'completed': True, 'ping': True,
                     'discover': True, 'started': '2026-11-25T20:00:00Z', 'finished': '2026-11-25T20:00:%02dZ' % serial,
                     'hosts': [{'ip': '127.0.10.5', 'state': 'up', 'reason': 'echo-reply'}]}],
    }
    return build_report(scan, {'agent': agent, 'subnets': []})


def _post(relay, report, token):
    return requests.post(_url(relay, '/reports'), data=json.dumps(report), verify=relay.ca, timeout=30, headers={
        'Authorization': 'Bearer %s' % token, 'Content-Type': 'application/json'})


def _agent(phpipam_session, name):
    return {'id': phpipam_session.agents[name]['id'], 'name': name}


def test_rulebook_loads_the_installed_plugin_and_gets_an_event(relay, phpipam_session):
    report = _report(_agent(phpipam_session, 'demo-agent'), 1)
    answer = _post(relay, report, SHARED_TOKEN)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {'status': 'accepted', 'report_id': report['report_id']}
    assert relay.wait_for(report['report_id'] + "'], 'pending_count'", timeout=30), relay.output
    event = [line for line in relay.events() if report['report_id'] in line][0]
    assert "'trigger': 'accepted'" in event and "'spool_dir': '%s'" % relay.spool_dir in event
    assert "'meta': {" in event                   # ansible-rulebook adds its meta (source, received_at, uuid)
    for secret in (DEMO_TOKEN, IDLE_TOKEN, SHARED_TOKEN, phpipam_session.agents['demo-agent']['code']):
        assert secret not in relay.output


def test_an_agent_token_is_checked_against_phpipam(relay, phpipam_session):
    demo, idle = _agent(phpipam_session, 'demo-agent'), _agent(phpipam_session, 'idle-agent')
    own = _report(demo, 2)
    answer = _post(relay, own, DEMO_TOKEN)
    assert answer.status_code == 202 and answer.json()['status'] == 'accepted', answer.text
    assert Spool(relay.spool_dir).load(own['report_id'])['agent_code'] == phpipam_session.agents['demo-agent']['code']

    foreign = _report(demo, 3)
    answer = _post(relay, foreign, IDLE_TOKEN)
    assert answer.status_code == 403, answer.text
    assert answer.json() == {'status': 'rejected', 'reason': "this token belongs to agent 'idle-agent' (id %d), the "
                                                             "report is from agent 'demo-agent' (id %d)"
                                                             % (idle['id'], demo['id'])}
    assert foreign['report_id'] not in Spool(relay.spool_dir).ids('incoming')
    assert relay.wait_for("agent 'idle-agent' (id %d), report %s: 403 rejected" % (idle['id'], foreign['report_id']))


def test_subnets_from_phpipam(relay, phpipam_session):
    demo_code = phpipam_session.agents['demo-agent']['code']
    client = PhpipamClient(phpipam_session.https_url, 'ansible_rw', token=phpipam_session.app_code('ansible_rw'),
                           ca_path=phpipam_session.ca_path)
    expected = json.loads(json.dumps(to_ansible(fetch_agent_inventory(client, code=demo_code, addresses=True))))

    def get(token, **params):
        return requests.get(_url(relay, '/subnets'), params=params, verify=relay.ca, timeout=30,
                            headers={'Authorization': 'Bearer %s' % token})

    own = get(DEMO_TOKEN)
    assert own.status_code == 200, own.text
    assert own.json() == expected
    assert [s['cidr'] for s in own.json()['subnets']] == AGENT_SUBNETS
    assert all('addresses' in s for s in own.json()['subnets'])
    assert demo_code not in own.text

    assert get(SHARED_TOKEN, agent_code=demo_code).json() == expected
    idle = get(SHARED_TOKEN, agent_code=phpipam_session.agents['idle-agent']['code'])
    assert idle.status_code == 200 and idle.json()['agent']['name'] == 'idle-agent' and idle.json()['subnets'] == []
    unknown = get(SHARED_TOKEN, agent_code='no-such-agent-code-0000')
    assert unknown.status_code == 404 and unknown.json()['status'] == 'rejected'
    assert get(DEMO_TOKEN, agent_code=phpipam_session.agents['idle-agent']['code']).status_code == 403
    assert get('not-a-token').status_code == 401
