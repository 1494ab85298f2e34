# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: each task's wall time, status and the figures the scan agent's modules return."""

DOCUMENTATION = r"""
name: bench_tasks
type: aggregate
short_description: Write task timings and result figures to the JSON file named by E(IPAMKIT_BENCH_TASKS) (bench only)
description:
  - Used by bench/run.py to count the tasks a scan cycle executes and to time its phases.
options: {}
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

# Result keys worth keeping (the full results of a big workload hold thousands of addresses).
KEEP = ('changed', 'address_writes', 'requests', 'totals', 'timings', 'msg', 'relay', 'warnings')


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_tasks'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.records = []
        self.started = {}
        self.playbook_start = time.time()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.started[task._uuid] = time.time()  # pylint: disable=protected-access

    def _record(self, status, result):
        task = result._task  # pylint: disable=protected-access
        now = time.time()
        data = result._result  # pylint: disable=protected-access
        kept = dict((key, data[key]) for key in KEEP if key in data)
        if 'runs' in data:
            kept['nmap_runs'] = [dict((k, run.get(k)) for k in ('elapsed', 'targets', 'hosts_up', 'exit'))
                                 for run in data['runs']]
        start = self.started.get(task._uuid, now)  # pylint: disable=protected-access
        self.records.append({'task': task.get_name(), 'action': task.action, 'status': status,
                             'start': round(start - self.playbook_start, 3), 'seconds': round(now - start, 3),
                             'result': kept})

    def v2_runner_on_ok(self, result):
        self._record('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record('failed', result)

    def v2_runner_on_skipped(self, result):
        self._record('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._record('unreachable', result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('IPAMKIT_BENCH_TASKS')
        if path:
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump({'tasks': self.records, 'seconds': round(time.time() - self.playbook_start, 3)},
                          handle, default=str, indent=1)
