# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kea_sync scale bench (bench/kea_sync_scale.py) at full size: 100 subnets, 2,000 reservations.

Kea commands must not grow with the data: 4 for a first sync, 1 for an unchanged rerun. The times are
printed (pytest -s, or the JUnit report's system-out) and only bounded loosely here.
"""

import json
import os
import sys

import pytest

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(CHECKOUT, 'bench'))

import kea_sync_scale  # noqa: E402  pylint: disable=import-error,wrong-import-position
from integration_helpers import unavailable  # noqa: E402  pylint: disable=import-error,wrong-import-position

pytestmark = [pytest.mark.integration, pytest.mark.netns]


def test_100_subnets_with_2000_reservations(harness, phpipam, netns_ready, tmp_path):  # pylint: disable=unused-argument
    ok, reason = kea_sync_scale.kea_harness.can_run()
    if not ok:
        unavailable('Kea', reason)
    first, rerun, leases = kea_sync_scale.bench(harness, str(tmp_path))
    for name, run in (('first sync', first), ('unchanged rerun', rerun), ('reverse sync', leases)):
        print('kea_sync bench, %s: %s' % (name, json.dumps(run, sort_keys=True)))
    assert (first['kea_subnets'], first['kea_reservations'], first['kea_pools']) == (100, 2000, 100)
    assert first['changed'] is True
    assert first['kea_commands'] == {'config-get': 1, 'config-test': 1, 'config-set': 1, 'config-write': 1}
    assert rerun['changed'] is False and rerun['kea_commands'] == {'config-get': 1}
    assert leases['changed'] is False and leases['kea_commands'] == {'config-get': 1, 'lease4-get-all': 1}
    assert first['seconds'] < 60 and rerun['seconds'] < 60
