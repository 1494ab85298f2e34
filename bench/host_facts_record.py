# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long ipamkit.phpipam.host_facts_record takes to record the summaries of many hosts in one task.

With the real phpIPAM of tests/harness (use a harness of your own: its data is reset to the seed before and
after)::

    IPAMKIT_HARNESS_DIR=... IPAMKIT_HARNESS_HTTPS_PORT=... IPAMKIT_HARNESS_HTTP_PORT=... \\
        .venv/bin/python bench/host_facts_record.py [--hosts 500] [--repeats 3]

Gathers one real summary of this machine with ipamkit.phpipam.host_facts, makes ``--hosts`` summaries
from it (each its own name and IP in 198.18.64.0/22, nothing is contacted) and creates those addresses in
section Lab through the API. Then times ansible-playbook runs of one host_facts_record task: the first
(every address written), a repeat (nothing changed: no write), and check mode after every summary changed,
``--repeats`` times each, less the time of an empty playbook run (ansible-playbook's own start-up). Prints the
figures and writes them to bench/results/host-facts-record-<UTC time>.json.
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

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)

from benchlib import (  # noqa: E402  pylint: disable=import-error,wrong-import-position
    APP,
    harness_up,
    machine,
    say,
    utc_now,
    write_result,
)

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient  # noqa: E402

BIN = os.path.dirname(sys.executable)
NETWORK = ipaddress.ip_network('198.18.64.0/22')
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Record
      ipamkit.phpipam.host_facts_record:
        hosts: "{{ summaries }}"
      when: summaries | length > 0
"""


def playbook_seconds(workdir, env, summaries_file, check=False):
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', '@' + summaries_file,
            os.path.join(workdir, 'record.yml')]
    if check:
        argv.append('--check')
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit('host_facts_record bench: ansible-playbook failed:\n%s' % (proc.stdout + proc.stderr)[-3000:])
    return elapsed, proc.stdout


def gather_one(env):
    argv = [os.path.join(BIN, 'ansible'), 'localhost', '-c', 'local', '-e', 'ansible_python_interpreter=%s'
            % sys.executable, '-m', 'ipamkit.phpipam.host_facts', '-a', 'name=bench cpu_interval=0.2', '-o']
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.split('=>', 1)[1])['host_facts']


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--hosts', type=int, default=500)
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= NETWORK.num_addresses - 2:
        raise SystemExit('--hosts must be 1 to %d' % (NETWORK.num_addresses - 2))
    harness, instance = harness_up('host_facts_record bench', reset=False)
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    env.update({'PHPIPAM_URL': instance.https_url, 'PHPIPAM_APP_ID': APP, 'PHPIPAM_TOKEN': instance.app_code(APP),
                'PHPIPAM_CA_PATH': instance.ca_path, 'ANSIBLE_NOCOLOR': '1'})
    workdir = tempfile.mkdtemp(prefix='ipamkit-bench-facts-')
    with open(os.path.join(workdir, 'record.yml'), 'w', encoding='utf-8') as handle:
        handle.write(PLAYBOOK)
    try:
        harness.reset()
        template = gather_one(env)
        ips = [str(ip) for ip in list(NETWORK.hosts())[:args.hosts]]
        api = PhpipamClient(instance.https_url, APP, token=instance.app_code(APP), ca_path=instance.ca_path)
        section_id = api.get('sections/Lab')['id']
        subnet_id = int(api.create('subnets', {'subnet': str(NETWORK.network_address), 'mask': NETWORK.prefixlen,
                                               'sectionId': section_id, 'description': 'host facts bench'}).id)
        for ip in ips:
            api.create('addresses', {'ip': ip, 'subnetId': subnet_id})
        files = {}
        for label, kernel in (('empty', None), ('first', 'bench-1'), ('changed', 'bench-2')):
            summaries = [] if kernel is None else [
                dict(template, name='bench%04d' % n, ip=ip, addresses=[ip], kernel=kernel) for n, ip in enumerate(ips)]
            files[label] = os.path.join(workdir, '%s.json' % label)
            with open(files[label], 'w', encoding='utf-8') as handle:
                json.dump({'summaries': summaries}, handle)
        rows = dict((k, []) for k in ('startup', 'write_all', 'unchanged', 'check_all_changed'))
        for repeat in range(args.repeats):
            # Each repeat starts from empty fields, so the first run writes every address.
            for ip in ips if repeat else ():
                record = api.get_list('addresses/search/%s' % ip)[0]
                api.update('addresses/%d' % record['id'], {'custom_host_facts': '', 'tag': record['tag']})
            rows['startup'].append(playbook_seconds(workdir, env, files['empty'])[0])
            rows['write_all'].append(playbook_seconds(workdir, env, files['first'])[0])
            rows['unchanged'].append(playbook_seconds(workdir, env, files['first'])[0])
            rows['check_all_changed'].append(playbook_seconds(workdir, env, files['changed'], check=True)[0])
            say('repeat %d: %s' % (repeat + 1, ', '.join('%s %.2f s' % (k, v[-1]) for k, v in rows.items())))
        startup = statistics.median(rows['startup'])
        result = {
            'utc': utc_now(),
            'machine': machine(instance),
            'hosts': args.hosts, 'repeats': args.repeats, 'summary_bytes': len(json.dumps(template)),
            'seconds': dict((k, [round(v, 3) for v in values]) for k, values in rows.items()),
            'median_less_startup': dict((k, round(statistics.median(v) - startup, 3)) for k, v in rows.items()
                                        if k != 'startup'),
        }
        say(json.dumps(result, indent=2))
        out = write_result('host-facts-record', result)
        say('written: %s' % os.path.relpath(out, CHECKOUT))
    finally:
        harness.reset()


if __name__ == '__main__':
    main()
