# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke run of `make bench`: its smallest workload (W1), one repeat, rows (a), (b), (d) and (g).

It checks that the benchmark still works (the LAN, the seed and snapshot, the measured agent runs, the
plain client, the results file), not how fast anything is: that is `make bench`'s job.
"""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_benchmark_runs_its_smallest_workload(phpipam, netns_ready, tmp_path):  # pylint: disable=unused-argument
    argv = [sys.executable, os.path.join(CHECKOUT, 'bench', 'run.py'), '--workloads', 'W1', '--repeats', '1',
            '--rows', 'abdg', '--no-docs', '--out', str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    files = [name for name in os.listdir(str(tmp_path)) if name.endswith('.json')]
    assert len(files) == 1, proc.stdout
    with open(str(tmp_path / files[0]), encoding='utf-8') as handle:
        results = json.load(handle)
    w1 = results['workloads']['W1']
    assert sorted(w1['rows']) == ['a', 'b', 'd', 'g']
    assert w1['hosts_up'] == 62 and w1['rows']['a']['wall']['n'] == 1
    # Cycle 1 creates every answering address, and the plain client sends the same writes.
    assert w1['rows']['b']['http_address_writes'] == 62
    assert w1['rows']['g']['http_address_writes'] == 62
    assert w1['rows']['d']['http_address_writes'] == 0
    assert w1['rows']['b']['tasks_executed'] > 0 and w1['rows']['b']['peak_rss_mb']['max'] > 0
    assert results['versions']['phpipam'] and results['machine']['cpus']
    assert '| (b) agent cycle 1 (discovery) |' in proc.stdout
