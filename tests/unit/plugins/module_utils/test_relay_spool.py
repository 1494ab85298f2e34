# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The relay's spool on a real directory."""

import json
import os

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool import Spool, SpoolError


def report(report_id, generated_at='2026-11-25T12:00:00Z'):
    return {'report_id': report_id, 'generated_at': generated_at, 'agent': {'id': 2, 'name': 'a'}, 'subnets': []}


def test_accept_is_durable_and_private(tmp_path):
    spool = Spool(str(tmp_path / 'spool')).prepare()
    assert spool.accept(report('a' * 32), agent_code='site-a', remote='127.0.0.1') == 'accepted'
    path = tmp_path / 'spool' / 'incoming' / ('a' * 32 + '.json')
    envelope = json.loads(path.read_text())
    assert envelope['agent_code'] == 'site-a' and envelope['report']['report_id'] == 'a' * 32
    assert oct(os.stat(str(path)).st_mode & 0o777) == '0o600'
    assert oct(os.stat(str(tmp_path / 'spool')).st_mode & 0o777) == '0o700'
    assert os.listdir(str(tmp_path / 'spool' / 'tmp')) == []


def test_an_id_is_accepted_once_wherever_it_is(tmp_path):
    spool = Spool(str(tmp_path)).prepare()
    assert spool.accept(report('a' * 32)) == 'accepted'
    assert spool.accept(report('a' * 32)) == 'duplicate'
    spool.mark_done('a' * 32, {'address_writes': 3})
    assert spool.state('a' * 32) == 'done'
    assert spool.accept(report('a' * 32)) == 'duplicate'
    assert spool.load('a' * 32, 'done')['outcome']['address_writes'] == 3
    assert spool.accept(report('b' * 32)) == 'accepted'
    spool.mark_rejected('b' * 32, 'not this agent\'s subnet')
    assert spool.load('b' * 32, 'rejected')['outcome']['reason'] == 'not this agent\'s subnet'
    assert spool.accept(report('b' * 32)) == 'duplicate' and spool.ids('incoming') == []


def test_pending_oldest_scan_first_and_damage_reported(tmp_path):
    spool = Spool(str(tmp_path)).prepare()
    spool.accept(report('b' * 32, '2026-11-25T12:05:00Z'))
    spool.accept(report('c' * 32, '2026-11-25T12:00:00Z'))
    (tmp_path / 'incoming' / ('d' * 32 + '.json')).write_text('{"cut off')
    pending = spool.pending()
    assert [entry['report_id'] for entry in pending] == ['d' * 32, 'c' * 32, 'b' * 32]
    assert 'damaged' in pending[0]


def test_a_crash_after_the_outcome_does_not_apply_twice(tmp_path):
    spool = Spool(str(tmp_path)).prepare()
    spool.accept(report('a' * 32))
    copy = (tmp_path / 'incoming' / ('a' * 32 + '.json')).read_text()
    spool.mark_done('a' * 32)
    # As if the relay died between writing done/ and removing incoming/.
    (tmp_path / 'incoming' / ('a' * 32 + '.json')).write_text(copy)
    assert spool.pending() == [] and spool.ids('incoming') == []


def test_bad_ids_and_unwritable_spools(tmp_path):
    spool = Spool(str(tmp_path)).prepare()
    with pytest.raises(SpoolError):
        spool.accept(report('../../etc/passwd'))
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(SpoolError) as caught:
        Spool(str(blocker / 'spool')).prepare()
    assert str(blocker / 'spool') in str(caught.value)


def test_drain_lock_is_exclusive(tmp_path):
    spool = Spool(str(tmp_path)).prepare()
    with spool.drain_lock() as first:
        assert first is True
        with Spool(str(tmp_path)).drain_lock(blocking=False) as second:
            assert second is False
