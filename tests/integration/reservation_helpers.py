# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for the address, subnet and reservation integration tests: test subnets and phpIPAM read-backs.

The tests make their own subnets in 198.18.0.0/15 and fd00::/8 (section Lab of the harness seed);
the ``phpipam`` fixture's reset removes them again before the next test.
"""

import json
import os

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient

HERE = os.path.dirname(os.path.abspath(__file__))
RECORD_PLUGINS = os.path.join(HERE, 'callback_plugins')
MARKER = '[ipamkit:'


def client(connection):
    return PhpipamClient(connection['url'], connection['app_id'], token=connection['token'],
                         ca_path=connection['ca_path'])


def connection_vars(connection):
    return {'phpipam_url': connection['url'], 'phpipam_app_id': connection['app_id'],
            'phpipam_token': connection['token'], 'phpipam_ca_path': connection['ca_path']}


def make_subnets(connection, cidrs, section_id=None, **fields):
    """Create subnets in section Lab (or ``section_id``); returns {cidr: id}."""
    ids = {}
    with client(connection) as api:
        if section_id is None:
            section_id = api.get('sections/Lab')['id']
        for cidr in cidrs:
            net, mask = cidr.split('/')
            data = dict({'subnet': net, 'mask': int(mask), 'sectionId': section_id, 'description': 'test ' + cidr},
                        **fields)
            ids[cidr] = api.create('subnets', data).id
    return ids


def addresses(connection, subnet_id):
    with client(connection) as api:
        return api.get_list('subnets/%d/addresses' % subnet_id)


def lease_records(connection, subnet_ids):
    """Every address of the subnets, with ``reservation`` read from the note's marker (None without one)."""
    out = []
    with client(connection) as api:
        for subnet_id in subnet_ids.values():
            for record in api.get_list('subnets/%d/addresses' % subnet_id):
                note = record.get('note') or ''
                payload = json.loads(note[note.rfind(MARKER) + len(MARKER):-1]) if MARKER in note else {}
                out.append(dict(record, reservation=payload.get('reservation'), marker=payload))
    return out
