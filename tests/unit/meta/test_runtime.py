# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml and galaxy.yml say what the collection really holds."""

import os
import re

import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import COLLECTION_VERSION

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def _load(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def _modules():
    folder = os.path.join(ROOT, 'plugins', 'modules')
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith('.py') and not name.startswith('_'))


def test_every_api_module_is_in_the_action_group():
    runtime = _load('meta', 'runtime.yml')
    assert runtime['requires_ansible'] == '>=2.16.0'
    group = runtime['action_groups']['phpipam']
    # Every module that takes the connection options belongs to the group.
    api_modules = []
    for name in _modules():
        with open(os.path.join(ROOT, 'plugins', 'modules', name + '.py'), encoding='utf-8') as handle:
            if 'ipamkit.phpipam.connection' in handle.read():
                api_modules.append(name)
    assert api_modules, 'no API modules found'
    assert sorted(group) == api_modules


def test_galaxy_metadata():
    galaxy = _load('galaxy.yml')
    assert (galaxy['namespace'], galaxy['name']) == ('ipamkit', 'phpipam')
    assert galaxy['dependencies'] == {}
    assert galaxy['version'] == COLLECTION_VERSION
    assert re.match(r'^\d+\.\d+\.\d+$', galaxy['version'])
