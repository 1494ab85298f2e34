# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the benchmark measures around one row: wall time, memory of a process tree, phpIPAM's CPU time
and the HTTP requests phpIPAM's Apache logged.

Everything is read from Linux /proc and from the harness's own Apache access log, so the figures cover
every process involved (ansible-playbook, its forks and modules, nmap, the relay) and every request,
whoever sent it.
"""

import os
import re
import subprocess
import threading
import time
from collections import Counter

PAGE = os.sysconf('SC_PAGE_SIZE')
TICKS = os.sysconf('SC_CLK_TCK')
WRITE_METHODS = ('POST', 'PATCH', 'PUT', 'DELETE')
_REQUEST_RE = re.compile(r'"([A-Z]+) (\S+) HTTP/[0-9.]+"')


def _stat(pid):
    """(ppid, utime+stime, cutime+cstime, rss bytes) of a process from /proc/<pid>/stat, or None."""
    try:
        with open('/proc/%s/stat' % pid, 'rb') as handle:
            text = handle.read().decode('ascii', 'replace')
    except OSError:
        return None
    fields = text[text.rfind(')') + 2:].split()
    if len(fields) < 22:
        return None
    return (int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]),
            int(fields[21]) * PAGE)


def _all_stats():
    stats = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            found = _stat(name)
            if found:
                stats[int(name)] = found
    return stats


def tree(root, stats):
    """``root`` and its descendants among ``stats`` (pid -> stat tuple)."""
    children = {}
    for pid, values in stats.items():
        children.setdefault(values[0], []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _pss(pid):
    """Proportional set size in bytes (shared pages divided among their users), or 0."""
    try:
        with open('/proc/%d/smaps_rollup' % pid, encoding='ascii', errors='replace') as handle:
            for line in handle:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeMemory(object):
    """Samples the summed RSS and PSS of process trees every ``interval`` seconds while running.

    Summed RSS counts a page shared by a parent and its forks once per process, so it over-states;
    PSS divides shared pages among the processes using them, so its sum is the tree's real footprint.
    """

    def __init__(self, roots=(), interval=0.1):
        self.roots = list(roots)
        self.interval = interval
        self.peak_rss = 0
        self.peak_pss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = None

    def add_root(self, pid):
        self.roots.append(pid)

    def sample(self):
        stats = _all_stats()
        pids = set()
        for root in self.roots:
            pids.update(tree(root, stats))
        if not pids:
            return
        self.samples += 1
        self.peak_rss = max(self.peak_rss, sum(stats[pid][3] for pid in pids))
        self.peak_pss = max(self.peak_pss, sum(_pss(pid) for pid in pids))

    def _loop(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()


def read_pid(path):
    try:
        with open(path, encoding='ascii') as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


class ServerCpu(object):
    """CPU seconds used by phpIPAM's Apache (master, workers, reaped workers) and MariaDB."""

    def __init__(self, harness):
        self.harness = harness

    def seconds(self):
        stats = _all_stats()
        ticks = 0
        apache = read_pid(self.harness.apache_pid_file)
        if apache:
            for pid in tree(apache, stats):
                # A worker that exited was reaped by the master: its time is in the master's cutime.
                ticks += stats[pid][1] + stats[pid][2]
        mysql = read_pid(self.harness.mysql_pid_file)
        if mysql and mysql in stats:
            ticks += stats[mysql][1]
        return ticks / float(TICKS)


class AccessLog(object):
    """Requests phpIPAM's Apache logged since ``mark()``: counts by method and address writes."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def _size(self):
        try:
            return os.path.getsize(self.path)
        except OSError:
            return 0

    def mark(self):
        self.offset = self._size()

    def since_mark(self):
        methods, address_writes = Counter(), 0
        try:
            with open(self.path, 'rb') as handle:
                handle.seek(self.offset)
                data = handle.read().decode('utf-8', 'replace')
        except OSError:
            data = ''
        for line in data.splitlines():
            match = _REQUEST_RE.search(line)
            if not match:
                continue
            method, path = match.groups()
            methods[method] += 1
            if method in WRITE_METHODS and re.search(r'/api/[^/]+/addresses/', path):
                address_writes += 1
        return dict(methods), address_writes


class Probe(object):
    """Wall time, phpIPAM CPU and the access log around one measured row."""

    def __init__(self, harness):
        self.cpu = ServerCpu(harness)
        self.log = AccessLog(harness.apache_access_log)
        self.started = self.cpu_before = None
        self.result = {}

    def __enter__(self):
        time.sleep(0.2)  # let the previous row's last log lines and reaped workers settle
        self.log.mark()
        self.cpu_before = self.cpu.seconds()
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc_info):
        wall = time.monotonic() - self.started
        time.sleep(0.2)
        methods, writes = self.log.since_mark()
        self.result = {'wall': round(wall, 3), 'requests': methods, 'http_address_writes': writes,
                       'phpipam_cpu': round(self.cpu.seconds() - self.cpu_before, 2)}


def run_measured(argv, env=None, timeout=3600, extra_roots=()):
    """Run argv; return (CompletedProcess-like dict, TreeMemory) with the tree's peak memory."""
    memory = TreeMemory()
    with memory:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        memory.add_root(proc.pid)
        for root in extra_roots:
            memory.add_root(root)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    return {'rc': proc.returncode, 'stdout': out, 'stderr': err}, memory


def load_average():
    try:
        with open('/proc/loadavg', encoding='ascii') as handle:
            return [float(v) for v in handle.read().split()[:3]]
    except (OSError, ValueError):
        return None
