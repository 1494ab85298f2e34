# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make demo: the scan agent against a real phpIPAM and a demo LAN in network namespaces.

1. brings up the real phpIPAM of tests/harness (data reset to its seed),
2. builds the demo LAN (198.18.200.0/24 + fd00:18:200::/64, 12 hosts, 10 up, in namespaces
   with no route out) and a scan agent in phpIPAM that owns it, with a few known addresses,
3. times a raw `nmap -sn` of the same targets (the floor),
4. runs `ansible-playbook ipamkit.phpipam.agent` twice and shows the subnet's addresses before
   and after each run; the second run makes no address writes.

Run as root (network namespaces, raw sockets). Usage: demo.py [--keep-lan] [--quiet]
"""

import argparse
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(CHECKOUT, 'tests', 'harness'))

import netlan  # noqa: E402  pylint: disable=import-error,wrong-import-position
import phpipam  # noqa: E402  pylint: disable=import-error,wrong-import-position

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient  # noqa: E402

AGENT_NAME = 'demo-lan-agent'
KNOWN = {
    # What an administrator entered before the agent existed.
    '198.18.200.1': {'hostname': 'router.demo.lan.test', 'description': 'core router', 'is_gateway': 1},
    '198.18.200.10': {'description': 'web server 1'},
    '198.18.200.20': {'hostname': 'db1-by-hand', 'description': 'database (name typed by a person)'},
    '198.18.200.40': {'description': 'printer (not pinged)', 'excludePing': 1},
    '198.18.200.30': {'description': 'NAS (reserved)', 'tag': 3},
    '198.18.200.200': {'hostname': 'old-server', 'description': 'switched off', 'lastSeen': '2026-01-01 00:00:00'},
    'fd00:18:200::10': {'description': 'web server 1, IPv6'},
}
TAGS = {1: 'Offline', 2: 'Used', 3: 'Reserved', 4: 'DHCP'}


def say(text=''):
    print(text, flush=True)


def heading(text):
    say()
    say('== %s' % text)


def table(client, subnet_ids):
    rows = []
    for subnet_id in subnet_ids:
        rows.extend(client.get_list('subnets/%d/addresses' % subnet_id))
    rows.sort(key=lambda a: (ipaddress.ip_address(a['ip']).version, int(ipaddress.ip_address(a['ip']))))
    say('  %-18s %-9s %-20s %-18s %s' % ('ip', 'tag', 'lastSeen (UTC)', 'mac', 'hostname'))
    for address in rows:
        seen = address['lastSeen'].strftime('%Y-%m-%d %H:%M:%S') if address['lastSeen'] else 'never'
        tag = TAGS.get(address['tag'], address['tag'])
        say('  %-18s %-9s %-20s %-18s %s' % (address['ip'], tag, seen, address['mac'] or '-', address['hostname'] or '-'))
    return {a['ip']: a for a in rows}


def setup_phpipam(harness, lan):
    instance = harness.ensure_up()
    harness.reset()
    client = PhpipamClient(instance.https_url, 'ansible_rw', token=instance.app_code('ansible_rw'),
                           ca_path=instance.ca_path)
    code = 'demo-lan-%s' % os.urandom(8).hex()
    agent = client.create('tools/scanagents', {'name': AGENT_NAME, 'description': 'scans the demo LAN',
                                               'type': 'api', 'code': code}).id
    dns = client.create('tools/nameservers', {'name': 'demo-lan-dns', 'namesrv1': ';'.join(lan.dns_servers),
                                              'description': 'dnsmasq of the demo LAN'}).id
    section = instance.sections['Lab']
    v4 = client.create('subnets', {'subnet': '198.18.200.0', 'mask': 24, 'sectionId': section,
                                   'description': 'demo LAN', 'pingSubnet': True, 'discoverSubnet': True,
                                   'resolveDNS': True, 'nameserverId': dns, 'scanAgent': agent}).id
    v6 = client.create('subnets', {'subnet': 'fd00:18:200::', 'mask': 64, 'sectionId': section,
                                   'description': 'demo LAN IPv6', 'pingSubnet': True, 'scanAgent': agent}).id
    for ip, fields in KNOWN.items():
        client.create('addresses', dict(fields, ip=ip, subnetId=v6 if ':' in ip else v4))
    return instance, client, code, (v4, v6)


def write_config(directory, instance, code, lan):
    path = os.path.join(directory, 'scan_agent.yaml')
    settings = {
        'phpipam_url': instance.https_url, 'phpipam_app_id': 'ansible_rw',
        'phpipam_token': instance.app_code('ansible_rw'), 'phpipam_ca_path': instance.ca_path,
        'phpipam_timezone': 'UTC', 'agent_code': code, 'nmap_path': lan.nmap_wrapper,
        'lastseen_refresh': '10m', 'lock_path': os.path.join(directory, 'agent.lock'),
        'cache_dir': os.path.join(directory, 'cache'),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        json.dump(settings, handle, indent=2)  # JSON is YAML
    return path


def raw_nmap(lan):
    """The floor: nmap -sn over the same targets, IPv4 sweep with the LAN's DNS and the known IPv6 addresses."""
    started = time.monotonic()
    lan.nmap('-sn', '-T4', '--privileged', '--dns-servers', ','.join(lan.dns_servers), '198.18.200.0/24',
             '-oX', '/dev/null', check=True)
    lan.nmap('-6', '-sn', '-T4', '--privileged', '-n', 'fd00:18:200::10', '-oX', '/dev/null', check=True)
    return time.monotonic() - started


def show_agent(instance, code):
    """ansible-playbook ipamkit.phpipam.show_agent: scan_agent_info and the phpipam lookup, as a user runs them."""
    env = dict(os.environ, PHPIPAM_URL=instance.https_url, PHPIPAM_APP_ID='ansible_rw',
               PHPIPAM_TOKEN=instance.app_code('ansible_rw'), PHPIPAM_CA_PATH=instance.ca_path,
               PHPIPAM_AGENT_CODE=code, ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_NOCOLOR='1')
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), 'ipamkit.phpipam.show_agent']
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        if '"msg"' in line or line.startswith(('        "', '    }')):
            say('  ' + line.strip())
    if proc.returncode:
        say(proc.stdout[-2000:] + proc.stderr)
        raise SystemExit('demo: ansible-playbook ipamkit.phpipam.show_agent failed (exit %d)' % proc.returncode)


def run_agent(config, quiet):
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), 'ipamkit.phpipam.agent',
            '-e', 'scan_agent_config_path=%s' % config]
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_NOCOLOR='1')
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    lines = proc.stdout.splitlines()
    if quiet or proc.returncode:
        shown = [line for line in lines if '"msg"' in line or 'total:' in line or '(id ' in line or 'fatal' in line]
    else:
        shown = lines
    for line in shown:
        say('  ' + line)
    if proc.returncode:
        say(proc.stderr)
        raise SystemExit('demo: the agent run failed (exit %d)' % proc.returncode)
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--keep-lan', action='store_true', help='leave the demo LAN up afterwards')
    parser.add_argument('--quiet', action='store_true', help='show only the summaries of the agent runs')
    args = parser.parse_args()

    harness = phpipam.Harness.from_env()
    problems = []
    ok, reason = harness.can_run()
    if not ok:
        problems.append('phpIPAM: %s' % reason)
    ok, reason = netlan.can_run()
    if not ok:
        problems.append('demo LAN: %s' % reason)
    if problems:
        say('demo: cannot run here:')
        for problem in problems:
            say('  - ' + problem)
        say('The demo needs root (network namespaces, raw sockets for nmap) and the Debian packages named above.')
        return 1

    heading('Demo LAN in network namespaces (no route out)')
    lan, reused = netlan.demo_up()
    say('  %s + %s, %d hosts: %d up, down: %s; DNS %s%s' % (
        netlan.DEMO_IPV4, netlan.DEMO_IPV6, len(lan.hosts), len(lan.up_hosts()),
        ', '.join(h.name for h in lan.down_hosts()), ', '.join(lan.dns_servers), ' (reused)' if reused else ''))
    try:
        heading('Real phpIPAM 1.8.2 of the test harness (data reset to the seed)')
        instance, client, code, subnet_ids = setup_phpipam(harness, lan)
        say('  %s, scan agent %r owns 198.18.200.0/24 (ping, discover, DNS) and fd00:18:200::/64 (ping)'
            % (instance.https_url, AGENT_NAME))
        heading('What phpIPAM says the agent owns: ansible-playbook ipamkit.phpipam.show_agent '
                '(scan_agent_info + the phpipam lookup)')
        show_agent(instance, code)
        with tempfile.TemporaryDirectory(prefix='ipamkit-demo-') as directory:
            config = write_config(directory, instance, code, lan)
            heading('phpIPAM before the first cycle')
            table(client, subnet_ids)

            heading('Raw nmap -sn of the same targets (the floor)')
            floor = raw_nmap(lan)
            say('  %.2f s' % floor)

            heading('Cycle 1: ansible-playbook ipamkit.phpipam.agent')
            first = run_agent(config, args.quiet)
            heading('phpIPAM after cycle 1')
            after_first = table(client, subnet_ids)

            heading('Cycle 2 (lastseen_refresh 10m: an unchanged network needs no address writes)')
            second = run_agent(config, True)
            heading('phpIPAM after cycle 2')
            after_second = table(client, subnet_ids)
            heading('Timing')
            say('  raw nmap %.2f s; cycle 1 %.2f s; cycle 2 %.2f s (ansible-playbook wall time, all tasks included)'
                % (floor, first, second))
            say('  address records changed by cycle 2: %d'
                % sum(1 for ip in after_second if after_second[ip] != after_first.get(ip)))
    finally:
        if not args.keep_lan:
            netlan.remove_lan(netlan.DEMO_NAME)
    say()
    say('demo: done. phpIPAM keeps running (%s); stop it with: python3 tests/harness/phpipam.py down'
        % instance.https_url)
    return 0


if __name__ == '__main__':
    sys.exit(main())
