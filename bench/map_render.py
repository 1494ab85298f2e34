# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long ipamkit.phpipam.network_map takes for a 500-host network, end to end and in Graphviz alone.

With the real phpIPAM of tests/harness (use a harness of your own: its data is reset to the seed before and
after)::

    IPAMKIT_HARNESS_DIR=... IPAMKIT_HARNESS_HTTPS_PORT=... IPAMKIT_HARNESS_HTTP_PORT=... \\
        .venv/bin/python bench/map_render.py [--hosts 500] [--repeats 3] [--workers 8]
    ... bench/map_render.py --example docs/network-map-example.svg --page-screenshot docs/network-map-page.png

Seeds customers (sections) in 198.18.64.0/18, each with a servers subnet (a bastion and its hypervisors, which
are phpIPAM devices) and a VM subnet behind the bastion (custom field ``custom_ssh_jump``) whose hosts are
assigned to the hypervisors, with lastSeen spread over alive, warning, offline and never seen. Seeding goes
through the API with a plain requests + ThreadPoolExecutor client, as bench/run.py row (g) does (data only:
nothing is contacted). Then runs a playbook with the module (SVG, PNG and HTML) ``--repeats`` times and times
``ansible-playbook`` and the module's own phases, and ``dot -Tsvg`` / ``dot -Tpng`` alone on the DOT file it
wrote, and prints and writes the figures to bench/results/map-render-<UTC time>.json.

``--example PATH`` instead seeds the small example network of tests/integration/map_helpers.py and writes its
map to PATH (.svg or .png), and with ``--page-screenshot PNG`` a headless-Chromium screenshot of its HTML page:
the pictures in docs/network-map.md.
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

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(CHECKOUT, 'tests', 'integration'))

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
FIRST_NETWORK = ipaddress.ip_network('198.18.64.0/24')
CUSTOMERS = ('Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Wonka', 'Tyrell', 'Cyberdyne')
HYPERVISORS_PER_CUSTOMER = 4
HOSTS_PER_CUSTOMER = 100
RECORD_PLUGINS = os.path.join(CHECKOUT, 'tests', 'integration', 'callback_plugins')

PLAYBOOK = """
- name: Network map bench
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Map
      ipamkit.phpipam.network_map:
        url: "{{ url }}"
        app_id: "{{ app_id }}"
        token: "{{ token }}"
        ca_path: "{{ ca_path }}"
        dest: "{{ dest }}"
        formats: "{{ formats }}"
        sections: "{{ sections | default(omit) }}"
"""


def seen(now, number):
    """lastSeen spread over the status bands: 7 of 10 alive, then warning, offline, never."""
    band = number % 10
    if band < 7:
        return (now - datetime.timedelta(minutes=1 + number % 25)).strftime('%Y-%m-%d %H:%M:%S')
    if band == 7:
        return (now - datetime.timedelta(minutes=40)).strftime('%Y-%m-%d %H:%M:%S')
    if band == 8:
        return (now - datetime.timedelta(days=1 + number % 30)).strftime('%Y-%m-%d %H:%M:%S')
    return None


def seed(instance, hosts, workers):
    """The bench customers through the API; returns (seconds, {'sections', 'subnets', 'devices', 'hosts'})."""
    customers = max(1, (hosts + HOSTS_PER_CUSTOMER - 1) // HOSTS_PER_CUSTOMER)
    if customers > len(CUSTOMERS):
        raise SystemExit('map_render: at most %d hosts' % (len(CUSTOMERS) * HOSTS_PER_CUSTOMER))
    client = PlainClient(instance, workers, 'map_render')
    started = time.monotonic()
    now = datetime.datetime.now(datetime.timezone.utc)
    names = ['Bench %s' % name for name in CUSTOMERS[:customers]]
    sections = client.create_all('sections/', [{'name': n, 'description': 'map bench customer'} for n in names])
    nets = [ipaddress.ip_network('%s/24' % (FIRST_NETWORK.network_address + 256 * i)) for i in range(2 * customers)]
    subnet_bodies = []
    for index, section in enumerate(sections):
        servers, vms = nets[2 * index], nets[2 * index + 1]
        bastion = str(servers.network_address + 10)
        subnet_bodies.append({'subnet': str(servers.network_address), 'mask': 24, 'sectionId': section,
                              'description': '%s servers' % CUSTOMERS[index]})
        subnet_bodies.append({'subnet': str(vms.network_address), 'mask': 24, 'sectionId': section,
                              'description': '%s VMs' % CUSTOMERS[index], 'custom_ssh_jump': bastion,
                              'custom_ssh_user': 'deploy'})
    subnet_ids = client.create_all('subnets/', subnet_bodies)
    device_bodies = []
    for index in range(customers):
        for number in range(HYPERVISORS_PER_CUSTOMER):
            device_bodies.append({'hostname': 'hv%d.%s.bench' % (number + 1, CUSTOMERS[index].lower()),
                                  'ip_addr': str(nets[2 * index].network_address + 20 + number),
                                  'description': 'KVM hypervisor'})
    device_ids = client.create_all('devices/', device_bodies)
    bodies = []
    for number in range(hosts):
        index, position = divmod(number, HOSTS_PER_CUSTOMER)
        name = CUSTOMERS[index].lower()
        servers_id, vms_id = subnet_ids[2 * index], subnet_ids[2 * index + 1]
        body = {'description': 'bench host %d' % number, 'lastSeen': seen(now, number),
                'mac': '02:00:00:%02x:%02x:%02x' % (index, position, number & 255)}
        if position == 0:
            body.update(ip=str(nets[2 * index].network_address + 10), subnetId=servers_id,
                        hostname='bastion.%s.bench' % name, lastSeen=seen(now, 0))
        elif position <= HYPERVISORS_PER_CUSTOMER:
            body.update(ip=str(nets[2 * index].network_address + 19 + position), subnetId=servers_id,
                        hostname='hv%d.%s.bench' % (position, name))
        elif position < 25:
            body.update(ip=str(nets[2 * index].network_address + 30 + position), subnetId=servers_id,
                        hostname='srv%02d.%s.bench' % (position, name))
        else:
            hypervisor = device_ids[index * HYPERVISORS_PER_CUSTOMER + position % HYPERVISORS_PER_CUSTOMER]
            body.update(ip=str(nets[2 * index + 1].network_address + position), subnetId=vms_id,
                        hostname='vm%03d.%s.bench' % (position, name), deviceId=hypervisor)
        if body['lastSeen'] is None:
            del body['lastSeen']
        bodies.append(body)
    client.create_all('addresses/', bodies)
    client.session.close()
    return time.monotonic() - started, {'sections': len(sections), 'subnets': len(subnet_ids),
                                        'devices': len(device_ids), 'hosts': hosts, 'section_names': names}


def run_module(instance, workdir, dest, formats, sections=None):
    """One ansible-playbook run of the module; returns (wall seconds, the task's result)."""
    record = os.path.join(workdir, 'record.json')
    playbook = os.path.join(workdir, 'map.yml')
    with open(playbook, 'w', encoding='utf-8') as handle:
        handle.write(PLAYBOOK)
    extra = {'url': instance.https_url, 'app_id': APP, 'token': instance.app_code(APP), 'ca_path': instance.ca_path,
             'dest': dest, 'formats': formats}
    if sections:
        extra['sections'] = sections
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    env.update({'ANSIBLE_CALLBACK_PLUGINS': RECORD_PLUGINS, 'ANSIBLE_CALLBACKS_ENABLED': 'record_results',
                'IPAMKIT_RECORD_FILE': record, 'ANSIBLE_LOCAL_TEMP': os.path.join(workdir, 'ansible-tmp')})
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
            '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', json.dumps(extra), playbook]
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit('map_render: ansible-playbook failed:\n%s' % (proc.stdout + proc.stderr)[-3000:])
    with open(record, encoding='utf-8') as handle:
        result = [r for r in json.load(handle) if r['task'] == 'Map'][-1]['result']
    return wall, result


def time_dot(dot_file, fmt, repeats):
    walls = []
    for _number in range(repeats):
        started = time.monotonic()
        subprocess.run([shutil.which('dot'), '-T' + fmt, '-o', os.devnull, dot_file], check=True, timeout=900)
        walls.append(time.monotonic() - started)
    return walls


def example(instance, path, page_screenshot=None):
    """The example network of map_helpers.py, drawn to ``path`` (.svg or .png); optionally a screenshot of its
    HTML page, searched for vm-b, by headless Chromium."""
    from map_helpers import ACME, GLOBEX, chromium, seed_example  # pylint: disable=import-error,import-outside-toplevel
    from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import (  # pylint: disable=import-outside-toplevel
        PhpipamClient)
    fmt = os.path.splitext(path)[1].lstrip('.')
    if fmt not in ('svg', 'png'):
        raise SystemExit('map_render: --example takes a .svg or .png path, not %s' % path)
    with PhpipamClient(instance.https_url, APP, token=instance.app_code(APP), ca_path=instance.ca_path) as api:
        seed_example(api, datetime.datetime.now(datetime.timezone.utc))
    workdir = tempfile.mkdtemp(prefix='ipamkit-map-example-')
    try:
        _wall, result = run_module(instance, workdir, os.path.join(workdir, 'example'), [fmt, 'html'],
                                   sections=[ACME, GLOBEX])
        shutil.copyfile(result['files'][fmt], path)
        say('wrote %s (%s)' % (path, json.dumps(result['counts'], sort_keys=True)))
        if page_screenshot:
            profile = os.path.join(workdir, 'chromium')
            os.mkdir(profile)
            proc = chromium(['--screenshot=%s' % page_screenshot, '--window-size=1300,760', '--hide-scrollbars',
                             'file://%s#search=vm-b' % result['files']['html']], profile)
            if proc.returncode != 0:
                raise SystemExit('map_render: chromium failed: %s' % proc.stderr[-2000:])
            say('wrote %s' % page_screenshot)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--hosts', type=int, default=500)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--workers', type=int, default=8, help='parallel writes while seeding')
    parser.add_argument('--keep', action='store_true', help='leave the bench data in phpIPAM afterwards')
    parser.add_argument('--example', metavar='PATH', help='draw the small example network to PATH instead')
    parser.add_argument('--page-screenshot', metavar='PNG', help='with --example: also a screenshot of its HTML page')
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= len(CUSTOMERS) * HOSTS_PER_CUSTOMER:
        parser.error('--hosts must be from 1 to %d' % (len(CUSTOMERS) * HOSTS_PER_CUSTOMER))
    if shutil.which('dot') is None:
        raise SystemExit('map_render: Graphviz dot is not installed')

    harness, instance = harness_up('map_render')
    workdir = tempfile.mkdtemp(prefix='ipamkit-map-render-')
    try:
        if args.example:
            example(instance, os.path.abspath(args.example),
                    os.path.abspath(args.page_screenshot) if args.page_screenshot else None)
            return
        say('seeding %d hosts through the API (%d workers)...' % (args.hosts, args.workers))
        seed_seconds, seeded = seed(instance, args.hosts, args.workers)
        say('  %(sections)d sections, %(subnets)d subnets, %(devices)d devices, %(hosts)d hosts' % seeded
            + ' in %.1f s' % seed_seconds)
        dest = os.path.join(workdir, 'network')
        walls, phases, counts = [], [], None
        for number in range(1, args.repeats + 1):
            wall, result = run_module(instance, workdir, dest, ['svg', 'png', 'html'], sections=seeded['section_names'])
            walls.append(wall)
            phases.append(result['timings'])
            counts = result['counts']
            say('  ansible-playbook network_map #%d: %.2f s (load %.2f s, build %.2f s, dot svg+png %.2f s), changed=%s'
                % (number, wall, result['timings']['load'], result['timings']['build'], result['timings']['render'],
                   result['changed']))
        dot_svg = time_dot(dest + '.dot', 'svg', args.repeats)
        dot_png = time_dot(dest + '.dot', 'png', args.repeats)
        say('  dot -Tsvg alone: %s s; dot -Tpng alone: %s s' % (
            ', '.join('%.2f' % w for w in dot_svg), ', '.join('%.2f' % w for w in dot_png)))

        dot_version = subprocess.run([shutil.which('dot'), '-V'], capture_output=True, text=True, check=False).stderr
        result = {
            'bench': 'map_render',
            'utc': utc_now(),
            'seeded': seeded, 'seed_seconds': round(seed_seconds, 1), 'counts': counts,
            'formats': ['svg', 'png', 'html'],
            'module_end_to_end_seconds': stats(walls),
            'module_phase_seconds': dict((phase, stats([p[phase] for p in phases])) for phase in ('load', 'build', 'render')),
            'dot_svg_seconds': stats(dot_svg), 'dot_png_seconds': stats(dot_png),
            'file_bytes': dict((fmt, os.path.getsize('%s.%s' % (dest, fmt))) for fmt in ('dot', 'svg', 'png', 'html')),
            'machine': machine(instance, graphviz=dot_version.strip()), 'collection_commit': collection_commit(),
        }
        out = write_result('map-render', result)
        say('network_map, %d hosts: end to end min %.2f s, median %.2f s (%d runs); dot -Tsvg alone min %.2f s, '
            'median %.2f s; dot -Tpng alone min %.2f s, median %.2f s' % (
                counts['hosts'], result['module_end_to_end_seconds']['min'],
                result['module_end_to_end_seconds']['median'], len(walls), result['dot_svg_seconds']['min'],
                result['dot_svg_seconds']['median'], result['dot_png_seconds']['min'], result['dot_png_seconds']['median']))
        say('wrote %s' % out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            harness.reset()


if __name__ == '__main__':
    main()
