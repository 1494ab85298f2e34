# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock with real processes as owners."""

import json
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils import runlock
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


def test_release_deletes_the_lock_file(tmp_path):
    path = tmp_path / 'agent.lock'
    assert acquire(str(path), owner=os.getpid())[0] is True
    assert path.exists()
    assert release(str(path), owner=os.getpid()) is True
    assert not path.exists()
    # Releasing again (nothing there) does not create the file.
    assert release(str(path), owner=os.getpid()) is False
    assert not path.exists()


AS_NOBODY = r'''
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location('runlock', sys.argv[1])
runlock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runlock)
try:
    acquired, holder = runlock.acquire(sys.argv[2], owner=os.getpid())
    print(json.dumps({'acquired': acquired, 'holder': holder}))
except runlock.LockFileError as exc:
    print(json.dumps({'error': str(exc)}))
'''


def _acquire_as_nobody(tmp_path, lock):
    # runlock needs only the standard library: a copy the unprivileged user can read will do.
    copy = tmp_path / 'runlock_copy.py'
    copy.write_text(open(runlock.__file__, encoding='utf-8').read())
    nobody = pwd.getpwnam('nobody')

    def drop():
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    # The system Python: the test's own interpreter may live where that user cannot read.
    out = subprocess.run([SYSTEM_PYTHON, '-c', AS_NOBODY, str(copy), str(lock)], preexec_fn=drop,
                         capture_output=True, text=True, check=False, cwd='/')
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


SYSTEM_PYTHON = '/usr/bin/python3'


@pytest.fixture
def shared_dir():
    """A sticky world-writable directory like /run/lock, reachable by every user."""
    path = tempfile.mkdtemp(prefix='ipamkit-runlock-')
    os.chmod(path, 0o1777)
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK),
                    reason='needs root (to run as another user) and /usr/bin/python3')
def test_a_run_as_another_user_after_a_root_run(shared_dir):
    tmp_path = shared_dir
    lock = tmp_path / 'agent.lock'
    # A root run that ended normally leaves nothing: the other user takes the lock.
    assert acquire(str(lock), owner=os.getpid())[0] and release(str(lock), owner=os.getpid())
    assert _acquire_as_nobody(tmp_path, lock)['acquired'] is True
    os.unlink(str(lock))
    # A live root run holds it: the other user backs off and is told who holds it.
    assert acquire(str(lock), owner=os.getpid())[0] is True
    answer = _acquire_as_nobody(tmp_path, lock)
    assert answer['acquired'] is False and answer['holder']['pid'] == os.getpid()
    # A root run that died holding it: the other user cannot take it over and is told why.
    lock.write_text(json.dumps({'pid': dead_pid(), 'start': 1, 'host': os.uname().nodename}))
    error = _acquire_as_nobody(tmp_path, lock)['error']
    assert 'a lock file left by root, whose run is over' in error and 'scan_agent_lock_path' in error
