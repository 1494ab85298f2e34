# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long ipamkit.phpipam.ssh_config takes to write the SSH config fragment of 10,000 phpIPAM hosts.

With the real phpIPAM of tests/harness (use a harness of your own: its data is reset to the seed before and
after)::

    IPAMKIT_HARNESS_DIR=... IPAMKIT_HARNESS_HTTPS_PORT=... IPAMKIT_HARNESS_HTTP_PORT=... \\
        .venv/bin/python bench/ssh_config_scale.py [--addresses 10000] [--repeats 3] [--workers 8]

Seeds a section ``SshBench`` with /24 subnets in 198.18.128.0/17 (data only: nothing is contacted): jump1 at
.1 of the first subnet (direct), jump2 at .1 of the second (behind jump1), every other subnet behind jump2, so
most hosts get a two-hop ProxyJump. Then, in one ansible-playbook run per repeat, the module writes the
fragment (changed), writes it again (unchanged) and runs in check mode; each task's time comes from the
bench_tasks callback. Also times the module's steps in this process: ``load_network`` (the phpIPAM reads)
and ``ssh_config_plan`` (selection, jump chains, entries, text). Prints the figures and writes them to
bench/results/ssh-config-scale-<UTC time>.json.
"""

import argparse
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)

from benchlib import (  # noqa: E402  pylint: disable=import-error,wrong-import-position
    APP,
    collection_commit,
    harness_up,
    machine,
    say,
    stats,
    utc_now,
    write_result,
)

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import load_network  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_config import ssh_config_plan  # noqa: E402

BIN = os.path.dirname(sys.executable)
SECTION = 'SshBench'
FIRST_NETWORK = ipaddress.ip_network('198.18.128.0/24')
HOSTS_PER_SUBNET = 250

PLAYBOOK = """\
- name: ssh_config scale
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/ipamkit.phpipam.phpipam: {url: "%(url)s", app_id: "%(app)s", token: "%(token)s", ca_path: "%(ca)s"}
  tasks:
    - name: Write
      ipamkit.phpipam.ssh_config: {path: "%(path)s", sections: [%(section)s], user: ops}
    - name: Rerun
      ipamkit.phpipam.ssh_config: {path: "%(path)s", sections: [%(section)s], user: ops}
    - name: Check mode
      ipamkit.phpipam.ssh_config: {path: "%(path)s", sections: [%(section)s], user: ops, port: 2222}
      check_mode: true
"""


def seed(instance, addresses, workers):
    """The bench section through the API (one client per worker thread). Returns (seconds, subnet count)."""
    started = time.monotonic()

    def client():
        return PhpipamClient(instance.https_url, APP, token=instance.app_code(APP), ca_path=instance.ca_path)

    with client() as api:
        section = int(api.create('sections', {'name': SECTION, 'description': 'ssh_config scale bench'}).id)
    count = (addresses + HOSTS_PER_SUBNET - 1) // HOSTS_PER_SUBNET
    nets = [ipaddress.ip_network('%s/24' % (FIRST_NETWORK.network_address + 256 * i)) for i in range(count)]
    jump_of = ['direct', 'jump1'] + ['jump2'] * (count - 2)
    chunks = [[] for _worker in range(workers)]

    def create_many(path, bodies):
        with client() as api:
            return [int(api.create(path, body).id) for body in bodies]

    def parallel(path, bodies):
        for index, body in enumerate(bodies):
            chunks[index % workers].append((index, body))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(lambda chunk: create_many(path, [b for _i, b in chunk]), chunks))
        ids = {}
        for chunk, answer in zip(chunks, answers):
            ids.update((i, new_id) for (i, _b), new_id in zip(chunk, answer))
        for chunk in chunks:
            del chunk[:]
        return [ids[i] for i in range(len(bodies))]

    subnet_ids = parallel('subnets', [
        {'subnet': str(net.network_address), 'mask': 24, 'sectionId': section, 'description': 'bench %s' % net,
         'custom_ssh_jump': jump_of[index], 'custom_ssh_user': 'root'} for index, net in enumerate(nets)])
    bodies = []
    for number in range(addresses):
        net_index, host = divmod(number, HOSTS_PER_SUBNET)
        name = {(0, 0): 'jump1', (1, 0): 'jump2'}.get((net_index, host), 'h%05d.sshbench.test' % number)
        bodies.append({'ip': str(nets[net_index].network_address + 1 + host), 'subnetId': subnet_ids[net_index],
                       'hostname': name})
    parallel('addresses', bodies)
    return time.monotonic() - started, count


def run_playbook(tmp, instance, fragment, env):
    """One ansible-playbook run: (wall seconds, {task: seconds}, {task: changed}) from the bench_tasks callback."""
    playbook = os.path.join(tmp, 'bench.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        handle.write(PLAYBOOK % {'url': instance.https_url, 'app': APP, 'token': instance.app_code(APP),
                                 'ca': instance.ca_path, 'path': fragment, 'section': SECTION})
    record = os.path.join(tmp, 'tasks.json')
    env = dict(env, IPAMKIT_BENCH_TASKS=record)
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', playbook],
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit('ssh_config_scale: ansible-playbook failed:\n%s' % (proc.stdout + proc.stderr)[-3000:])
    with open(record, encoding='utf-8') as handle:
        records = json.load(handle)
    records = records.get('tasks', records) if isinstance(records, dict) else records
    return (wall, dict((r['task'], r['seconds']) for r in records),
            dict((r['task'], r['result'].get('changed')) for r in records))


def main(argv=None):  # pylint: disable=too-many-locals
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--addresses', type=int, default=10000)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--workers', type=int, default=8, help='parallel writes while seeding')
    args = parser.parse_args(argv)
    if not 3 <= args.addresses <= HOSTS_PER_SUBNET * 128:
        parser.error('--addresses must be from 3 to %d' % (HOSTS_PER_SUBNET * 128))

    harness, instance = harness_up('ssh_config_scale')
    tmp = tempfile.mkdtemp(prefix='ipamkit-ssh-config-scale-')
    try:
        say('seeding %d addresses through the API (%d workers)...' % (args.addresses, args.workers))
        seed_seconds, subnet_count = seed(instance, args.addresses, args.workers)
        say('  %d subnets, %d addresses in %.1f s' % (subnet_count, args.addresses, seed_seconds))

        loads, plans, entries = [], [], None
        for _number in range(args.repeats):
            with PhpipamClient(instance.https_url, APP, token=instance.app_code(APP), ca_path=instance.ca_path) as api:
                started = time.monotonic()
                data = load_network(api)
                loads.append(time.monotonic() - started)
            started = time.monotonic()
            plan = ssh_config_plan(data, {'sections': [SECTION], 'user': 'ops', 'path': 'bench.conf'})
            plans.append(time.monotonic() - started)
            entries = len(plan['entries'])
        say('  in process: load_network %.2f s, ssh_config_plan %.2f s (median), %d entries'
            % (statistics.median(loads), statistics.median(plans), entries))

        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
        env.update({'ANSIBLE_LOCAL_TEMP': os.path.join(tmp, 'ansible-tmp'), 'ANSIBLE_NOCOLOR': '1',
                    'ANSIBLE_CALLBACKS_ENABLED': 'bench_tasks', 'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
                    'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins')})
        walls, task_times, summary = [], {}, None
        for number in range(1, args.repeats + 1):
            fragment = os.path.join(tmp, 'fragment-%d.conf' % number)
            wall, tasks, summary = run_playbook(tmp, instance, fragment, env)
            walls.append(wall)
            for name, seconds in tasks.items():
                task_times.setdefault(name, []).append(seconds)
            size = os.path.getsize(fragment)
            say('  ansible-playbook #%d: %.2f s; tasks %s; changed %s; fragment %d bytes' % (
                number, wall, ', '.join('%s %.2f s' % item for item in sorted(tasks.items())), summary, size))
            if summary != {'Write': True, 'Rerun': False, 'Check mode': True}:
                raise SystemExit('ssh_config_scale: expected changed/unchanged/changed, got %s' % summary)

        result = {
            'bench': 'ssh_config_scale',
            'utc': utc_now(),
            'addresses': args.addresses, 'subnets': subnet_count, 'entries': entries, 'changed': summary,
            'seed_seconds': round(seed_seconds, 1),
            'load_network_seconds': stats(loads, 2), 'ssh_config_plan_seconds': stats(plans, 2),
            'playbook_seconds': stats(walls, 2),
            'task_seconds': dict((name, stats(values, 2)) for name, values in task_times.items()),
            'fragment_bytes': size,
            'machine': machine(instance), 'collection_commit': collection_commit(),
        }
        out = write_result('ssh-config-scale', result)
        say('results: %s' % out)
    finally:
        harness.reset()
    return 0


if __name__ == '__main__':
    sys.exit(main())
