# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: writes every task result of a playbook run to a JSON file for pytest to read."""

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Write task results to the JSON file named by E(IPAMKIT_RECORD_FILE) (tests only)
description:
  - Used by the collection's integration tests to assert on what each task returned.
options: {}
"""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'record_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.records = []

    def _record(self, status, result):
        self.records.append({
            'task': result._task.get_name(),  # pylint: disable=protected-access
            'status': status,
            'result': result._result,  # pylint: disable=protected-access
        })

    def v2_runner_on_ok(self, result):
        self._record('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record('failed', result)

    def v2_runner_on_skipped(self, result):
        self._record('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._record('unreachable', result)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('IPAMKIT_RECORD_FILE')
        if path:
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(self.records, handle, default=str, indent=1)
