# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One scan cycle at a time: a lock file owned by the running ansible-playbook process.

A module process ends after each task, so the lock cannot be a held ``flock``. Instead the
lock file names its owner (the ``ansible-playbook`` process, found by walking up the process
tree, with its start time so a reused pid does not count). A lock whose owner is gone is
stale and taken over; a second run finds a live owner and backs off. ``flock`` only guards
the short read-check-write, so two runs starting at once cannot both win.
"""

import fcntl
import json
import os
import socket
import time


def _stat_fields(pid):
    """(parent pid, start time in clock ticks) from /proc/<pid>/stat, or None."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8', errors='replace') as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    fields = text[text.rfind(')') + 2:].split()
    return int(fields[1]), int(fields[19])


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return [part.decode('utf-8', 'replace') for part in handle.read().split(b'\0') if part]
    except OSError:
        return []


def process_start(pid):
    fields = _stat_fields(pid)
    return fields[1] if fields else None


def find_owner(pid=None):
    """The pid of the ansible-playbook process this module runs under (else the parent process).

    ansible-playbook forks a worker per task, and the worker has the same command line: the
    owner is the topmost ansible-playbook process of the chain, which lives for the whole run.
    """
    current = pid or os.getpid()
    owner = None
    for dummy in range(64):
        fields = _stat_fields(current)
        if fields is None:
            break
        if any(os.path.basename(part).startswith('ansible-playbook') for part in _cmdline(current)[:3]):
            owner = current
        if fields[0] <= 1:
            break
        current = fields[0]
    return owner or os.getppid()


def _alive(holder):
    pid = holder.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return False
    if holder.get('host') and holder['host'] != socket.gethostname():
        # Owned from another host (shared storage): we cannot check it, so it counts as held.
        return True
    return process_start(pid) == holder.get('start')


def _read(handle):
    handle.seek(0)
    try:
        data = json.loads(handle.read() or '{}')
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class LockFileError(OSError):
    """The lock file exists but this user cannot take it over."""


def _open_locked(path):
    """Open ``path`` (creating it) and flock it, making sure the locked file is still at ``path``.

    ``release`` deletes the file, so a run that opened it just before may hold a lock on a file
    that is gone: it then opens the new one instead.
    """
    for dummy in range(16):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        handle = os.fdopen(fd, 'r+', encoding='utf-8')
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            on_disk = os.stat(path)
        except FileNotFoundError:
            on_disk = None
        mine = os.fstat(handle.fileno())
        if on_disk is not None and (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino):
            return handle
        handle.close()
    raise LockFileError('%s: the lock file keeps being replaced' % path)


def _foreign_holder(path, error):
    """Read a lock file this user may not write (another user's run). Returns its holder."""
    try:
        with open(path, encoding='utf-8') as handle:
            holder = _read(handle)
        owner_uid = os.stat(path).st_uid
    except OSError:
        raise LockFileError('%s: cannot open the lock file: %s' % (path, error.strerror or error))
    if holder and _alive(holder):
        return holder
    try:
        import pwd  # pylint: disable=import-outside-toplevel
        owner_name = pwd.getpwuid(owner_uid).pw_name
    except (ImportError, KeyError):
        owner_name = 'uid %d' % owner_uid
    raise LockFileError(
        '%s: a lock file left by %s, whose run is over, and this user (uid %d) may not take it over. '
        'Remove the file, or run the agent as %s, or give this run a lock path of its own '
        '(scan_agent_lock_path).' % (path, owner_name, os.getuid(), owner_name))


def acquire(path, owner=None):
    """Take the lock for ``owner``. Returns (acquired, holder): holder describes who has it."""
    owner = owner or find_owner()
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    try:
        handle = _open_locked(path)
    except PermissionError as exc:
        return False, _foreign_holder(path, exc)
    with handle:
        holder = _read(handle)
        if holder and holder.get('pid') != owner and _alive(holder):
            return False, holder
        mine = {'pid': owner, 'start': process_start(owner), 'host': socket.gethostname(),
                'since': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
        if holder.get('pid') == owner and holder.get('start') == mine['start']:
            mine['since'] = holder.get('since', mine['since'])
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(mine))
        handle.flush()
        return True, mine


def release(path, owner=None):
    """Give the lock up if ``owner`` holds it, deleting the file. Returns True when released.

    Deleting (not just emptying) the file means a run as another user later does not find a
    file it may not open.
    """
    owner = owner or find_owner()
    if not os.path.exists(path):
        return False
    try:
        handle = _open_locked(path)
    except OSError:
        return False
    with handle:
        holder = _read(handle)
        if holder.get('pid') != owner:
            if not holder:
                # _open_locked created an empty file after the holder's release: leave nothing.
                os.unlink(path)
            return False
        os.unlink(path)
        return True
