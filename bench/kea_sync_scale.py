# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long ipamkit.phpipam.kea_sync takes for 100 subnets with 2,000 reservations, and how many Kea commands.

As root, with the real phpIPAM of tests/harness and a real Kea 2.2 (Debian packages)::

    IPAMKIT_HARNESS_DIR=... .venv/bin/python bench/kea_sync_scale.py [--subnets 100] [--reservations 20] [--pool 50]

Builds a section ``KeaBench`` with N /24 subnets in 198.18.100.0/22.. (gateway .1, R reservations from .10
with MACs and names, a DHCP-tagged pool of P addresses from .100), written straight into the harness
database so that only the sync is timed. kea-dhcp4 runs inside a netlan namespace without any DHCP
interface; its Control Agent on 127.0.0.1. Then three real ``ansible-playbook`` runs: the first sync,
an unchanged rerun, and a rerun with the reverse lease sync. Prints one JSON object per run with the
wall time, ``changed`` and the Kea commands the module reports.
"""

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time

CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(CHECKOUT, 'tests', 'harness'))

import kea as kea_harness  # noqa: E402  pylint: disable=import-error,wrong-import-position
import netlan  # noqa: E402  pylint: disable=import-error,wrong-import-position
import phpipam as phpipam_harness  # noqa: E402  pylint: disable=import-error,wrong-import-position

SECTION = 'KeaBench'
FIRST_NETWORK = ipaddress.ip_network('198.18.100.0/24')
PLAYBOOK = """---
- name: Kea sync bench
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Sync
      ipamkit.phpipam.kea_sync:
        servers: "{{ kea_servers }}"
        section: %s
        reverse_sync: "{{ kea_reverse_sync | default(false) }}"
      register: sync
    - name: Result
      ansible.builtin.copy:
        content: "{{ sync | to_json }}"
        dest: "{{ result_file }}"
        mode: "0600"
""" % SECTION


def networks(count):
    return [ipaddress.ip_network('%s/24' % (FIRST_NETWORK.network_address + 256 * i)) for i in range(count)]


def build_phpipam(harness, count, reservations, pool):
    """The bench section, subnets and addresses, straight into the harness database. Returns subnet ids."""
    q = phpipam_harness.sql_literal
    harness.sql("DELETE FROM ipaddresses WHERE subnetId IN (SELECT id FROM subnets WHERE sectionId IN "
                "(SELECT id FROM sections WHERE name = %s)); DELETE FROM subnets WHERE sectionId IN "
                "(SELECT id FROM sections WHERE name = %s); DELETE FROM sections WHERE name = %s" % (
                    q(SECTION), q(SECTION), q(SECTION)))
    harness.sql("INSERT INTO sections (name, description, permissions) VALUES (%s, 'kea_sync bench', %s)"
                % (q(SECTION), q('{"3":"1","2":"2"}')))
    section_id = int(harness.sql('SELECT id FROM sections WHERE name = %s' % q(SECTION))[0][0])
    permissions = q('{"3":"1","2":"2"}')
    rows = ['(%s, %s, %d, %s, 0, 0, 0, 1, %s, 0)' % (q(str(int(n.network_address))), q('24'), section_id,
                                                     q('bench %s' % n), permissions)
            for n in networks(count)]
    harness.sql('INSERT INTO subnets (subnet, mask, sectionId, description, masterSubnetId, vlanId, nameserverId, '
                'showName, permissions, isFolder) VALUES ' + ', '.join(rows))
    ids = dict((row[1], int(row[0])) for row in harness.sql(
        'SELECT id, description FROM subnets WHERE sectionId = %d' % section_id))
    values = []
    for index, network in enumerate(networks(count)):
        subnet_id = ids['bench %s' % network]
        base = network.network_address
        values.append('(%d, %s, %s, NULL, 2, 1)' % (subnet_id, q(str(int(base + 1))), q('gw')))
        for n in range(reservations):
            ip = base + 10 + n
            mac = '02:be:%02x:%02x:%02x:%02x' % (index >> 8, index & 255, n >> 8, n & 255)
            name = q('h%d-%d.bench.test' % (index, n))
            values.append('(%d, %s, %s, %s, 2, 0)' % (subnet_id, q(str(int(ip))), name, q(mac)))
        for n in range(pool):
            values.append('(%d, %s, NULL, NULL, 4, 0)' % (subnet_id, q(str(int(base + 100 + n)))))
    for start in range(0, len(values), 2000):
        harness.sql('INSERT INTO ipaddresses (subnetId, ip_addr, hostname, mac, state, is_gateway) VALUES '
                    + ', '.join(values[start:start + 2000]))
    return sorted(ids.values())


def run_sync(instance, server, workdir, reverse=False):
    playbook = os.path.join(workdir, 'bench.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        handle.write(PLAYBOOK)
    result_file = os.path.join(workdir, 'result.json')
    env = dict(os.environ, PHPIPAM_URL=instance.https_url, PHPIPAM_APP_ID='ansible_rw',
               PHPIPAM_TOKEN=instance.app_code('ansible_rw'), PHPIPAM_CA_PATH=instance.ca_path,
               ANSIBLE_LOCAL_TEMP=os.path.join(workdir, 'tmp'))
    extra = {'kea_servers': [server.as_server()], 'kea_reverse_sync': reverse, 'result_file': result_file}
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', json.dumps(extra), playbook]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError('ansible-playbook failed:\n%s' % (proc.stdout + proc.stderr)[-3000:])
    with open(result_file, encoding='utf-8') as handle:
        result = json.load(handle)
    return {'seconds': round(elapsed, 2), 'changed': result['changed'], 'kea_commands': result['kea_commands'],
            'kea_command_total': sum(result['kea_commands'].values()), 'summary': result['summary'][0]}


def bench(harness, workdir, count=100, reservations=20, pool=50):
    """The three runs; returns [first, rerun, reverse] result dicts (also used by tests/integration)."""
    instance = harness.ensure_up()
    build_phpipam(harness, count, reservations, pool)
    kea_harness.install_packages()
    with netlan.Lan(ipv4='198.18.99.0/24', ipv6=None, dns=False,
                    hosts=[netlan.HostSpec('kea', ipv4='198.18.99.3', ipv6=False)]) as lan:
        with kea_harness.KeaServer(lan, 'kea', workdir, interfaces=[], name='kea-bench') as server:
            runs = [run_sync(instance, server, workdir), run_sync(instance, server, workdir),
                    run_sync(instance, server, workdir, reverse=True)]
            subnets = [s for s in server.config()['subnet4'] if (s.get('user-context') or {}).get('ipamkit')]
            runs[0]['kea_subnets'] = len(subnets)
            runs[0]['kea_reservations'] = sum(len(s.get('reservations') or []) for s in subnets)
            runs[0]['kea_pools'] = sum(len(s.get('pools') or []) for s in subnets)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--subnets', type=int, default=100)
    parser.add_argument('--reservations', type=int, default=20, help='per subnet')
    parser.add_argument('--pool', type=int, default=50, help='DHCP-tagged addresses per subnet')
    args = parser.parse_args()
    harness = phpipam_harness.Harness.from_env()
    ok, reason = harness.can_run()
    if not ok:
        sys.exit('phpIPAM harness unavailable: %s' % reason)
    with tempfile.TemporaryDirectory(prefix='ikkea-bench-') as workdir:
        runs = bench(harness, workdir, args.subnets, args.reservations, args.pool)
    for name, run in zip(('first sync', 'unchanged rerun', 'rerun with reverse_sync'), runs):
        print(json.dumps(dict(run=name, **run), sort_keys=True))


if __name__ == '__main__':
    main()
