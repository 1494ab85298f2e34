# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real scan relay for tests: ``ansible-rulebook -r ipamkit.phpipam.relay`` on a loopback port.

The relay serves HTTPS with a certificate of the harness CA, keeps its spool under the test's
tmp directory and writes to the harness phpIPAM with the ``ansible_rw`` app.
"""

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool import Spool

BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def have_rulebook():
    """None when ansible-rulebook and Java can run here, else the reason."""
    if not os.path.exists(os.path.join(BIN, 'ansible-rulebook')):
        return 'ansible-rulebook is not installed in the test venv (requirements-relay.txt)'
    if not any(os.path.exists(os.path.join(path, 'java')) for path in os.environ.get('PATH', '').split(':')):
        return 'no Java runtime (apt-get install openjdk-17-jre-headless)'
    return None


class Relay(object):
    """One relay process, its settings file and its spool."""

    def __init__(self, harness, phpipam, tmp_path, agent_tokens, **settings):
        self.dir = tmp_path / 'relay'
        self.dir.mkdir(exist_ok=True)
        cert, key = harness.issue_leaf_cert(str(self.dir), hosts=('127.0.0.1', 'localhost'))
        self.ca_path = phpipam.ca_path
        self.port = free_port()
        self.url = 'https://127.0.0.1:%d/reports' % self.port
        self.spool_dir = str(self.dir / 'spool')
        self.settings = {
            'listen_address': '127.0.0.1', 'listen_port': self.port, 'tls_cert': cert, 'tls_key': key,
            'spool_dir': self.spool_dir, 'retry_interval': 3, 'agent_tokens': dict(agent_tokens),
            'phpipam_url': phpipam.https_url, 'phpipam_app_id': 'ansible_rw',
            'phpipam_token': phpipam.app_code('ansible_rw'), 'phpipam_ca_path': phpipam.ca_path,
            'phpipam_timezone': 'UTC',
        }
        self.settings.update(settings)
        self.config = self.dir / 'scan_relay.yaml'
        self.write_config()
        self.log_path = self.dir / 'relay.log'
        self.proc = None
        self.spool = Spool(self.spool_dir)

    def write_config(self, **changes):
        self.settings.update(changes)
        self.config.write_text(yaml.safe_dump(self.settings))
        self.config.chmod(0o600)

    def start(self, timeout=90):
        inventory = self.dir / 'inventory.yml'
        inventory.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}))
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PHPIPAM_'))
        env.update(PHPIPAM_SCAN_RELAY_CONFIG=str(self.config), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_LOCAL_TEMP=str(self.dir / 'ansible-tmp'), PATH=BIN + ':' + env.get('PATH', ''))
        with open(str(self.log_path), 'ab') as log:
            self.proc = subprocess.Popen(
                [os.path.join(BIN, 'ansible-rulebook'), '-r', 'ipamkit.phpipam.relay', '-i', str(inventory), '-v'],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(self.dir), start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('the relay exited with %s:\n%s' % (self.proc.returncode, self.log()))
            if self.listening():
                return self
            time.sleep(0.2)
        raise AssertionError('the relay did not listen within %d s:\n%s' % (timeout, self.log()))

    def listening(self):
        context = ssl.create_default_context(cafile=self.ca_path)
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=1) as sock:
                with context.wrap_socket(sock, server_hostname='127.0.0.1'):
                    return True
        except OSError:
            return False

    def stop(self, kill=False):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def log(self):
        try:
            return self.log_path.read_text(errors='replace')[-6000:]
        except OSError:
            return ''

    def wait_finished(self, report_ids, timeout=120):
        """Wait until every report id is done or rejected; returns {id: envelope with outcome}."""
        deadline = time.monotonic() + timeout
        left = set(report_ids)
        while time.monotonic() < deadline:
            left = set(rid for rid in report_ids if self.spool.state(rid) not in ('done', 'rejected')
                       or rid in self.spool.ids('incoming'))
            if not left:
                return dict((rid, self.spool.load(rid, self.spool.state(rid))) for rid in report_ids)
            time.sleep(0.3)
        raise AssertionError('reports not applied within %d s: %s\n%s' % (timeout, sorted(left), self.log()))

    def post(self, body, token=None, content_type='application/json', timeout=30):
        """POST raw bytes or a dict; returns (status, JSON answer or text)."""
        import requests  # pylint: disable=import-outside-toplevel
        headers = {'Content-Type': content_type}
        if token is not None:
            headers['Authorization'] = 'Bearer %s' % token
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = requests.post(self.url, data=data, headers=headers, verify=self.ca_path, timeout=timeout)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text
