# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/examples/inventory: every inventory file uses only options the plugin has, with values it accepts,
and the AWX example points at files that exist. Offline; the plugin's real runs are in
tests/integration/test_inventory.py."""

import datetime
import json
import os

import pytest
import yaml
from ansible.plugins.doc_fragments.constructed import ModuleDocFragment as ConstructedFragment
from ansible.plugins.doc_fragments.inventory_cache import ModuleDocFragment as CacheFragment

from ansible_collections.ipamkit.phpipam.plugins.doc_fragments.connection import ModuleDocFragment as ConnectionFragment
from ansible_collections.ipamkit.phpipam.plugins.inventory import phpipam as plugin
from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import plan_inventory
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import build_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import from_phpipam

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
EXAMPLES = os.path.join(ROOT, 'docs', 'examples', 'inventory')
INVENTORY_FILES = ['site.phpipam.yml', os.path.join('awx', 'project', 'inventory', 'site.phpipam.yml')]
FIXTURE = os.path.join(ROOT, 'tests', 'unit', 'fixtures', 'network_data', 'collections.json')
PATHS = {'sections': 'sections', 'subnets': 'subnets', 'addresses': 'addresses', 'vlans': 'vlans',
         'devices': 'devices', 'tags': 'tools/tags', 'locations': 'tools/locations', 'folders': 'folders'}


def load(*parts):
    with open(os.path.join(EXAMPLES, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def plugin_options():
    options = {}
    for text in (plugin.DOCUMENTATION, ConnectionFragment.PLUGIN_OPTIONS, ConstructedFragment.DOCUMENTATION,
                 CacheFragment.DOCUMENTATION):
        options.update(yaml.safe_load(text)['options'])
    return options


def defaults():
    return dict((name, spec.get('default')) for name, spec in plugin_options().items())


@pytest.mark.parametrize('name', INVENTORY_FILES)
def test_inventory_examples_use_real_options(name):
    config = load(name)
    options = plugin_options()
    assert config['plugin'] == plugin.InventoryModule.NAME
    assert plugin.InventoryModule().verify_file(os.path.join(EXAMPLES, name))
    assert sorted(set(config) - set(options)) == []
    for key, value in config.items():
        choices = options[key].get('choices')
        if choices:
            values = value if isinstance(value, list) else [value]
            assert set(values) <= set(choices), key
    # Secrets never live in these files: the connection comes from the environment.
    assert not set(config) & {'token', 'password', 'username'}


@pytest.mark.parametrize('name', INVENTORY_FILES)
def test_inventory_examples_plan_on_recorded_data(name):
    with open(FIXTURE, encoding='utf-8') as handle:
        answers = json.load(handle)
    network = build_network(dict((key, from_phpipam(answers[path]['body']['data'], datetime.timezone.utc))
                                 for key, path in PATHS.items()))
    options = dict(defaults(), **load(name))
    plan = plan_inventory(network, options, now=datetime.datetime(2026, 11, 26, 7, 30, tzinfo=datetime.timezone.utc))
    assert all(p.variables['ansible_host'] for p in plan.hosts)


def test_awx_example_reuses_the_agent_credential_type():
    tasks = load('awx', 'setup.yml')[0]['tasks']
    play_vars = load('awx', 'setup.yml')[0]['vars']
    assert "'../../deploy/awx/credential-type.yml'" in play_vars['credential_type']
    credential_type = yaml.safe_load(open(os.path.join(EXAMPLES, '..', 'deploy', 'awx', 'credential-type.yml'),
                                          encoding='utf-8'))
    injected = set(credential_type['injectors']['env'])
    assert {'PHPIPAM_URL', 'PHPIPAM_APP_ID', 'PHPIPAM_TOKEN', 'PHPIPAM_CA_PATH'} <= injected
    credential = [t for t in tasks if 'awx.awx.credential' in t][0]['awx.awx.credential']
    assert set(credential['inputs']) >= set(credential_type['inputs']['required'])
    source = [t for t in tasks if 'awx.awx.inventory_source' in t][0]['awx.awx.inventory_source']
    assert source['source'] == 'scm' and source['credential'] == credential['name']
    assert os.path.isfile(os.path.join(EXAMPLES, 'awx', 'project', source['source_path']))


@pytest.mark.parametrize('name, taken', [('lab.phpipam.yml', True), ('lab.phpipam.yaml', True), ('lab.yml', False),
                                         ('phpipam.yml', False), ('lab.phpipam.yml.bak', False)])
def test_only_phpipam_yml_files_are_taken(tmp_path, name, taken):
    path = tmp_path / name
    path.write_text('plugin: ipamkit.phpipam.phpipam\n')
    assert plugin.InventoryModule().verify_file(str(path)) is taken
