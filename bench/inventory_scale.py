# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long ``ansible-inventory --list`` takes with the ipamkit.phpipam.phpipam inventory on 10,000 addresses.

With the real phpIPAM of tests/harness (use a harness of your own: its data is reset to the seed before and
after)::

    IPAMKIT_HARNESS_DIR=... IPAMKIT_HARNESS_HTTPS_PORT=... IPAMKIT_HARNESS_HTTP_PORT=... \\
        .venv/bin/python bench/inventory_scale.py [--addresses 10000] [--repeats 3] [--workers 8]

Seeds a section ``InvBench`` with /24 subnets in 198.18.128.0/17 (data only: nothing is contacted), each
subnet naming a jump host in custom fields, and the addresses (hostname, MAC, description, tag, lastSeen),
all through the API with a plain requests + ThreadPoolExecutor client as bench/run.py row (g) does. Then
times ``ansible-inventory --list`` (all hosts, SSH paths on) ``--repeats`` times, counts the plugin's requests
in Apache's access log, times a run answered from the inventory cache, and prints and writes the figures to
bench/results/inventory-scale-<UTC time>.json.
"""

import argparse
import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import (  # noqa: E402  pylint: disable=import-error,wrong-import-position
    APP,
    PlainClient,
    collection_commit,
    harness_up,
    machine,
    say,
    stats,
    utc_now,
    write_result,
)

BIN = os.path.dirname(sys.executable)
SECTION = 'InvBench'
FIRST_NETWORK = ipaddress.ip_network('198.18.128.0/24')
HOSTS_PER_SUBNET = 250


def networks(count):
    return [ipaddress.ip_network('%s/24' % (FIRST_NETWORK.network_address + 256 * i)) for i in range(count)]


def seed(instance, addresses, workers):
    """The bench section through the API. Returns (seconds, subnet count)."""
    client = PlainClient(instance, workers, 'inventory_scale')
    started = time.monotonic()
    section = int(client.send('POST', 'sections/', {'name': SECTION, 'description': 'inventory scale bench'})['id'])
    nets = networks((addresses + HOSTS_PER_SUBNET - 1) // HOSTS_PER_SUBNET)
    # Every subnet is reached through the jump host at .1 of the first one, which itself is direct.
    jump_host = str(nets[0].network_address + 1)
    subnet_ids = client.create_all('subnets/', [
        {'subnet': str(net.network_address), 'mask': 24, 'sectionId': section, 'description': 'bench %s' % net,
         'custom_ssh_jump': 'direct' if index == 0 else 'ops@%s' % jump_host, 'custom_ssh_user': 'deploy'}
        for index, net in enumerate(nets)])
    now = datetime.datetime.now(datetime.timezone.utc)
    bodies = []
    for number in range(addresses):
        net_index, host = divmod(number, HOSTS_PER_SUBNET)
        ip = nets[net_index].network_address + 1 + host
        seen = now - datetime.timedelta(minutes=number % 5000)
        bodies.append({'ip': str(ip), 'subnetId': subnet_ids[net_index], 'hostname': 'h%05d.invbench.test' % number,
                       'mac': '02:00:%02x:%02x:%02x:%02x' % (net_index, host, number >> 8 & 255, number & 255),
                       'description': 'bench host %d' % number, 'tag': 2 if number % 10 else 3,
                       'lastSeen': seen.strftime('%Y-%m-%d %H:%M:%S')})
    client.create_all('addresses/', bodies)
    client.session.close()
    return time.monotonic() - started, len(nets)


def access_log_size(harness):
    try:
        return os.path.getsize(harness.apache_access_log)
    except OSError:
        return 0


def api_requests_since(harness, offset):
    with open(harness.apache_access_log, 'rb') as handle:
        handle.seek(offset)
        lines = handle.read().decode('utf-8', 'replace').splitlines()
    return [line.split('"')[1] for line in lines if '/api/%s/' % APP in line]


def run_inventory(config_path, env):
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', config_path, '--list'], env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit('inventory_scale: ansible-inventory failed:\n%s' % (proc.stderr[-3000:]))
    data = json.loads(proc.stdout)
    return wall, data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--addresses', type=int, default=10000)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--workers', type=int, default=8, help='parallel writes while seeding')
    parser.add_argument('--keep', action='store_true', help='leave the bench data in phpIPAM afterwards')
    args = parser.parse_args(argv)
    if args.addresses < 1 or args.addresses > HOSTS_PER_SUBNET * 128:
        parser.error('--addresses must be from 1 to %d' % (HOSTS_PER_SUBNET * 128))

    harness, instance = harness_up('inventory_scale')
    tmp = tempfile.mkdtemp(prefix='ipamkit-inventory-scale-')
    try:
        say('seeding %d addresses through the API (%d workers)...' % (args.addresses, args.workers))
        seed_seconds, subnet_count = seed(instance, args.addresses, args.workers)
        say('  %d subnets, %d addresses in %.1f s (%.0f writes/s)' % (
            subnet_count, args.addresses, seed_seconds, (args.addresses + subnet_count) / seed_seconds))

        config = {'plugin': 'ipamkit.phpipam.phpipam', 'url': instance.https_url, 'app_id': APP,
                  'token': instance.app_code(APP), 'ca_path': instance.ca_path}
        config_path = os.path.join(tmp, 'bench.phpipam.yml')
        with open(config_path, 'w', encoding='utf-8') as handle:
            json.dump(config, handle)
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
        env.update({'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true', 'ANSIBLE_LOCAL_TEMP': os.path.join(tmp, 'ansible-tmp')})

        walls, requests_seen, hosts = [], None, None
        for number in range(1, args.repeats + 1):
            offset = access_log_size(harness)
            wall, data = run_inventory(config_path, env)
            requests = api_requests_since(harness, offset)
            hosts = len(data['_meta']['hostvars'])
            jumped = sum(1 for v in data['_meta']['hostvars'].values() if 'ansible_ssh_common_args' in v)
            walls.append(wall)
            requests_seen = requests
            say('  ansible-inventory --list #%d: %.2f s, %d hosts (%d with ProxyJump), %d requests to phpIPAM' % (
                number, wall, hosts, jumped, len(requests)))

        cached_config = dict(config, cache=True, cache_plugin='ansible.builtin.jsonfile',
                             cache_connection=os.path.join(tmp, 'cache'), cache_timeout=3600)
        with open(config_path, 'w', encoding='utf-8') as handle:
            json.dump(cached_config, handle)
        run_inventory(config_path, env)  # fills the cache
        offset = access_log_size(harness)
        cached_wall, _data = run_inventory(config_path, env)
        cached_requests = len(api_requests_since(harness, offset))
        say('  from the inventory cache: %.2f s, %d requests to phpIPAM' % (cached_wall, cached_requests))

        result = {
            'bench': 'inventory_scale',
            'utc': utc_now(),
            'addresses': args.addresses, 'subnets': subnet_count, 'hosts': hosts,
            'seed_seconds': round(seed_seconds, 1),
            'ansible_inventory_list_seconds': stats(walls),
            'requests': len(requests_seen), 'request_lines': sorted(requests_seen),
            'cached_list_seconds': round(cached_wall, 2), 'cached_requests': cached_requests,
            'machine': machine(instance), 'collection_commit': collection_commit(),
        }
        out = write_result('inventory-scale', result)
        say('ansible-inventory --list, %d addresses: min %.2f s, median %.2f s (%d runs), %d requests; cached %.2f s'
            % (args.addresses, result['ansible_inventory_list_seconds']['min'],
               result['ansible_inventory_list_seconds']['median'], len(walls), result['requests'], cached_wall))
        say('wrote %s' % out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep:
            harness.reset()


if __name__ == '__main__':
    main()
