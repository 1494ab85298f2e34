# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock with real processes as owners."""

import json
import os
import subprocess
import sys

from ansible_collections.ipamkit.phpipam.plugins.module_utils.runlock import acquire, find_owner, release


def dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_second_owner_backs_off_while_the_first_lives(tmp_path):
    path = str(tmp_path / 'run' / 'agent.lock')
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])
    try:
        assert acquire(path, owner=child.pid)[0] is True
        acquired, holder = acquire(path, owner=os.getpid())
        assert acquired is False and holder['pid'] == child.pid
        assert release(path, owner=os.getpid()) is False
    finally:
        child.kill()
        child.wait()
    # The owner is gone: the lock is stale and taken over.
    acquired, holder = acquire(path, owner=os.getpid())
    assert acquired is True and holder['pid'] == os.getpid()


def test_same_owner_reenters_and_releases(tmp_path):
    path = str(tmp_path / 'agent.lock')
    assert acquire(path, owner=os.getpid())[0] and acquire(path, owner=os.getpid())[0]
    assert release(path, owner=os.getpid()) is True
    assert acquire(path, owner=dead_pid())[0] is True


def test_reused_pid_does_not_count_as_the_owner(tmp_path):
    path = tmp_path / 'agent.lock'
    path.write_text(json.dumps({'pid': os.getpid(), 'start': 1, 'host': os.uname().nodename}))
    assert acquire(str(path), owner=dead_pid())[0] is True


def test_garbage_lock_file_is_taken_over(tmp_path):
    path = tmp_path / 'agent.lock'
    path.write_text('not json')
    assert acquire(str(path), owner=os.getpid())[0] is True


def test_owner_without_ansible_is_the_parent():
    assert find_owner() == os.getppid()
