# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration fixtures: the real phpIPAM of tests/harness, and real ansible-playbook runs.

Without root or a phpIPAM source the tests are skipped with the reason; with
IPAMKIT_REQUIRE_INTEGRATION=1 (set by .ci/run) such a skip is a failure instead.
"""

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
PLAYBOOKS = os.path.join(HERE, 'playbooks')
sys.path.insert(0, os.path.join(CHECKOUT, 'tests', 'harness'))

import phpipam as harness_module  # noqa: E402  pylint: disable=import-error,wrong-import-position
import netlan as netlan_module  # noqa: E402  pylint: disable=import-error,wrong-import-position
import fault_proxy as fault_proxy_module  # noqa: E402  pylint: disable=import-error,wrong-import-position
from integration_helpers import PlaybookRun, unavailable  # noqa: E402  pylint: disable=import-error,wrong-import-position


def _unavailable(reason):
    unavailable('the real phpIPAM', reason)


@pytest.fixture(scope='session')
def harness():
    harness = harness_module.Harness.from_env()
    ok, reason = harness.can_run()
    if not ok:
        _unavailable(reason)
    return harness


@pytest.fixture(scope='session')
def phpipam_session(harness):
    try:
        return harness.ensure_up()
    except harness_module.HarnessError as exc:
        _unavailable(str(exc))


@pytest.fixture
def phpipam(harness, phpipam_session):
    """The running phpIPAM, with its data back at the seed."""
    harness.reset()
    return phpipam_session


@pytest.fixture(scope='session')
def netns_ready():
    """Network-namespace LANs can be built here (root, iproute2, nmap, dnsmasq); stale ones are cleaned up."""
    ok, reason = netlan_module.can_run()
    if not ok:
        _unavailable('network namespace LANs unavailable: %s' % reason)
    netlan_module.cleanup_stale()


@pytest.fixture
def connection(phpipam):
    """Connection settings of the read/write app-code app, as module/env options."""
    return {
        'url': phpipam.https_url,
        'app_id': 'ansible_rw',
        'token': phpipam.app_code('ansible_rw'),
        'ca_path': phpipam.ca_path,
    }


@pytest.fixture
def fault_proxy(harness, phpipam, tmp_path):
    """A fault-injecting HTTPS proxy in front of the real phpIPAM, with a certificate of the harness CA."""
    cert, key = harness.issue_leaf_cert(str(tmp_path))
    proxy = fault_proxy_module.FaultProxy(phpipam.https_url, phpipam.ca_path, tls_cert=cert, tls_key=key)
    with proxy:
        yield proxy


@pytest.fixture
def run_playbook(tmp_path):
    """Run a playbook of tests/integration/playbooks with the checkout's ansible-playbook.

    ``env`` replaces PHPIPAM_* variables (the test's own environment never leaks in);
    ``check`` adds --check; results come from the record_results callback.
    """
    counter = {'n': 0}

    def run(playbook, extra_vars=None, env=None, check=False, diff=False, verbosity=0, timeout=300, inventory_text=None):
        counter['n'] += 1
        record = str(tmp_path / ('results-%d.json' % counter['n']))
        inventory = tmp_path / 'inventory.ini'
        inventory.write_text(inventory_text or
                             'localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
        run_env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PHPIPAM_'))
        run_env.update({
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'record_results',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-tmp'),
            'IPAMKIT_RECORD_FILE': record,
        })
        run_env.update(env or {})
        # A file of tests/integration/playbooks, or a collection playbook such as ipamkit.phpipam.agent.
        target = playbook if not playbook.endswith(('.yml', '.yaml')) else os.path.join(PLAYBOOKS, playbook)
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory), target]
        if extra_vars:
            argv += ['-e', json.dumps(extra_vars)]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        if verbosity:
            argv.append('-' + 'v' * verbosity)
        proc = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
        records = []
        if os.path.exists(record):
            with open(record, encoding='utf-8') as handle:
                records = json.load(handle)
        return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, records)

    return run
