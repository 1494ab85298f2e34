# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the inventory plugin tests: a site seeded through the API, real ansible-inventory runs.

The site is data only (198.18.40.0/24, 198.18.41.0/24 and fd00:40::/64 are never contacted): a section
``Inventory`` with a VLAN, a location, a hypervisor device, addresses with tags, lastSeen and custom
fields, a two-level jump chain (app1 -> inner-jump -> bastion), a jump loop and a jump host that is not in
phpIPAM.
"""

import datetime
import json
import os
import subprocess
import sys

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
UTC = datetime.timezone.utc

SECTION = 'Inventory'
LOCATION = 'Rack Room 2'
DESCRIPTION_WITH_TEMPLATE = 'templated {{ 7 * 6 }} text'
# inventory name -> (ip, subnet key, fields)
SITE_ADDRESSES = (
    ('bastion.inv.test', '198.18.41.1', 'dmz', {'tag': 2, 'custom_ssh_user': 'jumper', 'seen_minutes_ago': 10}),
    ('inner-jump.inv.test', '198.18.40.1', 'lan', {'tag': 2, 'seen_minutes_ago': 10}),
    ('app1.inv.test', '198.18.40.10', 'lan', {'tag': 2, 'custom_ssh_jump': 'inner-jump.inv.test', 'custom_asset': 'INV-1',
                                              'seen_minutes_ago': 120}),
    ('app2.inv.test', '198.18.40.11', 'lan', {'tag': 3, 'description': DESCRIPTION_WITH_TEMPLATE,
                                              'custom_asset': 'INV-2', 'device': True, 'seen_minutes_ago': 60 * 24 * 30,
                                              'mac': '02:00:00:40:00:11'}),
    ('loop-a.inv.test', '198.18.40.20', 'lan', {'tag': 2, 'custom_ssh_jump': 'loop-b.inv.test'}),
    ('loop-b.inv.test', '198.18.40.21', 'lan', {'tag': 2, 'custom_ssh_jump': 'loop-a.inv.test'}),
    ('198.18.40.30', '198.18.40.30', 'lan', {'tag': 1, 'hostname': None}),
    ('web.inv.test', '198.18.40.40', 'lan', {'tag': 2, 'seen_minutes_ago': 5}),
    ('web.inv.test', 'fd00:40::40', 'v6', {'tag': 2, 'seen_minutes_ago': 1}),
    ('gone.inv.test', '198.18.40.50', 'lan', {'tag': 4, 'custom_ssh_jump': 'nosuch.inv.test'}),
)
# The hosts of section Inventory with the default options (web.inv.test once: its IPv4 address wins).
SITE_HOSTS = sorted(set(name for name, _ip, _s, _f in SITE_ADDRESSES))


def api_client(phpipam, url=None):
    return PhpipamClient(url or phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'),
                         ca_path=phpipam.ca_path)


def seed_site(phpipam, now=None):
    """Create the site through the API; returns a dict of the ids made."""
    now = now or datetime.datetime.now(UTC).replace(microsecond=0)
    with api_client(phpipam) as client:
        ids = {'section': client.create('sections', {'name': SECTION, 'description': 'inventory plugin tests'}).id}
        ids['vlan'] = client.create('vlans', {'name': 'inv', 'number': 40, 'domainId': 1}).id
        ids['location'] = client.create('tools/locations', {'name': LOCATION, 'description': 'test room'}).id
        ids['device'] = client.create('devices', {'hostname': 'hv-inv1', 'ip_addr': '198.18.40.2',
                                                  'description': 'hypervisor', 'location': ids['location']}).id
        ids['lan'] = client.create('subnets', {
            'subnet': '198.18.40.0', 'mask': 24, 'sectionId': ids['section'], 'vlanId': ids['vlan'],
            'location': ids['location'], 'description': 'inventory lan', 'custom_ssh_jump': 'bastion.inv.test',
            'custom_ssh_user': 'ops'}).id
        ids['dmz'] = client.create('subnets', {'subnet': '198.18.41.0', 'mask': 24, 'sectionId': ids['section'],
                                               'description': 'inventory dmz', 'custom_ssh_jump': 'direct'}).id
        ids['v6'] = client.create('subnets', {'subnet': 'fd00:40::', 'mask': 64, 'sectionId': ids['section'],
                                              'description': 'inventory v6'}).id
        ids['addresses'] = {}
        for name, ip, subnet, fields in SITE_ADDRESSES:
            body = {'ip': ip, 'subnetId': ids[subnet], 'tag': fields['tag'],
                    'hostname': fields['hostname'] if 'hostname' in fields else name,
                    'description': fields.get('description', 'inventory test host')}
            for key in ('custom_ssh_jump', 'custom_ssh_user', 'custom_asset', 'mac'):
                if key in fields:
                    body[key] = fields[key]
            if 'seen_minutes_ago' in fields:
                body['lastSeen'] = now - datetime.timedelta(minutes=fields['seen_minutes_ago'])
            if fields.get('device'):
                body['deviceId'] = ids['device']
            ids['addresses'][ip] = client.create('addresses', body).id
    return ids


class InventoryRun(object):
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self):
        return self.stdout + self.stderr

    @property
    def text(self):
        """stdout + stderr as one line: ansible-core 2.16 wraps warnings and errors at 80 columns (and after '-')."""
        return ' '.join(self.output.replace('-\n', '-').split())

    @property
    def data(self):
        """The --list JSON; values ansible-core 2.19 prints as {"__ansible_unsafe": value} read as the value."""
        return json.loads(self.stdout, object_hook=lambda d: d['__ansible_unsafe'] if list(d) == ['__ansible_unsafe'] else d)

    def hostvars(self, host):
        return self.data['_meta']['hostvars'][host]

    def hosts(self):
        return sorted(self.data['_meta']['hostvars'])

    def group(self, name):
        return sorted(self.data.get(name, {}).get('hosts', []))

    def warnings(self):
        """The text of each warning, unwrapped."""
        return [' '.join(part.replace('-\n', '-').split()) for part in self.output.split('[WARNING]:')[1:]]


def connection_settings(phpipam, url=None):
    return {'url': url or phpipam.https_url, 'app_id': 'ansible_rw', 'token': phpipam.app_code('ansible_rw'),
            'ca_path': phpipam.ca_path}


def write_config(directory, config, name='site.phpipam.yml'):
    """Write an inventory file: a dict (dumped as JSON, which is YAML) or the text of one."""
    path = os.path.join(str(directory), name)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(config if isinstance(config, str) else json.dumps(dict({'plugin': 'ipamkit.phpipam.phpipam'},
                                                                            **config), indent=1))
    return path


def run_inventory(directory, config, *args, env=None, name='site.phpipam.yml', timeout=300):
    """``ansible-inventory -i <config> --list`` (or ``args``); an unparsable source fails the run."""
    path = write_config(directory, config, name)
    run_env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    run_env.update({
        'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_LOCAL_TEMP': os.path.join(str(directory), 'ansible-tmp'),
        'ANSIBLE_DEPRECATION_WARNINGS': 'false',
    })
    run_env.update(env or {})
    argv = [os.path.join(BIN, 'ansible-inventory'), '-i', path] + (list(args) or ['--list'])
    proc = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
    return InventoryRun(proc.returncode, proc.stdout, proc.stderr)


def run_playbook_on_inventory(directory, config, playbook, *args, env=None, timeout=300):
    """``ansible-playbook -i <config> <playbook>`` (a file of tests/integration/playbooks)."""
    path = write_config(directory, config)
    run_env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
    run_env.update({'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true', 'ANSIBLE_NOCOLOR': '1',
                    'ANSIBLE_LOCAL_TEMP': os.path.join(str(directory), 'ansible-tmp'),
                    'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'})
    run_env.update(env or {})
    argv = [os.path.join(BIN, 'ansible-playbook'), '-i', path, os.path.join(HERE, 'playbooks', playbook)] + list(args)
    proc = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
    return InventoryRun(proc.returncode, proc.stdout, proc.stderr)
