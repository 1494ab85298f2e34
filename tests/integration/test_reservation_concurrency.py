# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Eight ansible-playbook runs reserve from one pool at the same time, against the real phpIPAM 1.8.2.

The pool is two /27s (60 usable addresses); each run asks for 10, so 80 are wanted and exactly six
runs can be satisfied. Afterwards phpIPAM must hold exactly 60 distinct addresses, each carrying
exactly one reservation of a successful run; the two other runs fail with the pool-exhausted
message and leave nothing behind; rerunning the successful ones changes nothing.
"""

import collections
import json
import os
import subprocess
import sys
import time

import pytest

from reservation_helpers import RECORD_PLUGINS, connection_vars, lease_records, make_subnets  # pylint: disable=import-error

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = 8
PER_RUN = 10
POOL = ['198.18.0.0/27', '198.18.0.32/27']


def _start(tmp_path, n, extra):
    record = str(tmp_path / ('run-%d.json' % n))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PHPIPAM_'))
    env.update({'ANSIBLE_CALLBACK_PLUGINS': RECORD_PLUGINS, 'ANSIBLE_CALLBACKS_ENABLED': 'record_results',
                'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_RETRY_FILES_ENABLED': '0', 'IPAMKIT_RECORD_FILE': record,
                'ANSIBLE_LOCAL_TEMP': str(tmp_path / ('tmp-%d' % n))})
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', str(inventory),
            os.path.join(HERE, 'playbooks', 'reservation_task.yml'), '-e', json.dumps(extra)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, record


def _run_all(tmp_path, conn, names, tag):
    folder = tmp_path / tag
    folder.mkdir()
    procs = []
    for n, name in enumerate(names):
        extra = dict(conn, res={'name': name, 'count': PER_RUN, 'pool': POOL, 'hostname_pattern': name + '-{index}.test'})
        procs.append((name,) + _start(folder, n, extra))
    results = {}
    for name, proc, record in procs:
        output = proc.communicate(timeout=240)[0]
        with open(record, encoding='utf-8') as handle:
            records = json.load(handle)
        results[name] = (proc.returncode, records[-1]['result'], output)
    return results


def test_eight_concurrent_runs_share_two_27s_without_duplicates(phpipam, connection, tmp_path):
    conn = connection_vars(connection)
    subnet_ids = make_subnets(connection, POOL)
    names = ['run-%d' % n for n in range(1, RUNS + 1)]

    started = time.monotonic()
    results = _run_all(tmp_path, conn, names, 'first')
    wall = time.monotonic() - started

    succeeded = sorted(n for n, (rc, _r, _o) in results.items() if rc == 0)
    failed = sorted(n for n, (rc, _r, _o) in results.items() if rc != 0)
    assert len(succeeded) == 6 and len(failed) == 2, dict((n, r[1].get('msg')) for n, r in results.items())
    for name in failed:
        msg = results[name][1]['msg']
        assert msg.startswith('pool exhausted: reservation %r needs 10 more addresses' % name), msg
        assert 'nothing of this run stays reserved' in msg

    # phpIPAM: exactly 60 distinct addresses, every one in exactly one (successful) reservation.
    records = lease_records(connection, subnet_ids)
    ips = [r['ip'] for r in records]
    assert len(ips) == 60 and len(set(ips)) == 60
    owners = collections.Counter(r['reservation'] for r in records)
    assert owners == dict((name, PER_RUN) for name in succeeded)
    assert all(r['reservation'] not in failed for r in records)
    for name in succeeded:
        leases = results[name][1]['leases']
        assert sorted(lease['ip'] for lease in leases) == sorted(r['ip'] for r in records if r['reservation'] == name)
        assert sorted(lease['index'] for lease in leases) == list(range(1, PER_RUN + 1))

    stats = dict((n, r[1].get('allocation') or {}) for n, r in results.items())
    numbers = {
        'runs': RUNS, 'succeeded': len(succeeded), 'failed': len(failed), 'addresses_held': len(ips),
        'wall_seconds': round(wall, 1),
        'conflicts': sum(s.get('conflicts', 0) for s in stats.values()),
        'rounds': sum(s.get('rounds', 0) for s in stats.values()),
        'released_partial': sum(s.get('released_partial', 0) for s in stats.values()),
        'senior_waited_seconds': round(sum(s.get('waited_seconds', 0) for s in stats.values()), 1),
    }
    print('\nconcurrency: %s' % json.dumps(numbers, sort_keys=True))

    # Rerunning the successful ones (again all at once) changes nothing and returns the same addresses.
    again = _run_all(tmp_path, conn, succeeded, 'again')
    for name in succeeded:
        rc, result, output = again[name]
        assert rc == 0 and result['changed'] is False, output[-2000:]
        assert sorted(lease['ip'] for lease in result['leases']) == sorted(
            lease['ip'] for lease in results[name][1]['leases'])
    assert len(lease_records(connection, subnet_ids)) == 60
