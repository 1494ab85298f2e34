# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documented connection options match the argument spec and the plugin options."""

import yaml

from ansible_collections.ipamkit.phpipam.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.ipamkit.phpipam.plugins.module_utils.module import CONNECTION_SPEC


def _options(text):
    return yaml.safe_load(text)['options']


def test_module_fragment_matches_the_spec():
    documented = _options(ModuleDocFragment.DOCUMENTATION)
    assert set(documented) == set(CONNECTION_SPEC)
    for name, spec in CONNECTION_SPEC.items():
        doc = documented[name]
        assert doc['type'] == spec['type'], name
        assert doc.get('default') == spec.get('default'), name
        assert bool(doc.get('required')) == bool(spec.get('required')), name
        env = spec.get('fallback', (None, []))[1]
        for variable in env:
            assert 'E(%s)' % variable in ' '.join(doc['description']), name


def test_plugin_options_match_the_spec():
    plugin = _options(ModuleDocFragment.PLUGIN_OPTIONS)
    assert set(plugin) == set(CONNECTION_SPEC)
    for name, spec in CONNECTION_SPEC.items():
        assert plugin[name]['type'] == spec['type'], name
        assert plugin[name].get('default') == spec.get('default'), name
        env = spec.get('fallback', (None, []))[1]
        assert [e['name'] for e in plugin[name].get('env', [])] == list(env), name


def test_secrets_are_no_log():
    assert CONNECTION_SPEC['token']['no_log'] and CONNECTION_SPEC['password']['no_log']
