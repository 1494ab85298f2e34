# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan_agent role's argument specs cover every setting, and every defaults variable."""

import os

import yaml

from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import SCHEMA, SECRET_KEYS

ROLE = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'scan_agent'))


def _load(*parts):
    with open(os.path.join(ROLE, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_argument_specs_cover_every_setting_and_default():
    options = _load('meta', 'argument_specs.yml')['argument_specs']['main']['options']
    assert set(options) == set(['scan_agent_config_path'] + ['scan_agent_' + key for key in SCHEMA])
    assert set(_load('defaults', 'main.yml')) <= set(options)
    for key in SECRET_KEYS:
        assert options['scan_agent_' + key].get('no_log') is True, key


def test_role_tasks_stay_a_handful_and_loop_free():
    tasks = _load('tasks', 'main.yml')
    flat = []
    for task in tasks:
        flat.append(task)
        flat.extend(task.get('block', []) + task.get('always', []))
    assert len([t for t in flat if 'block' not in t]) <= 10
    assert not [t for t in flat if 'loop' in t or 'with_items' in t or 'include_tasks' in t]
