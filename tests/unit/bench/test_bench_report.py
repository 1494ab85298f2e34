# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""bench/report.py: the issue's targets judged from results, several runs merged, the table and the plot."""

import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     'bench')
sys.path.insert(0, BENCH)

import report  # noqa: E402  pylint: disable=import-error,wrong-import-position


def stats(value):
    return {'min': value, 'median': value, 'max': value, 'n': 1}


def row(wall, requests=None, writes=0, tasks=9, changed=False, apply=None, rss=None, pss=None, label='row', **extra):
    data = {'label': label, 'wall': stats(wall), 'requests': requests or {}, 'http_address_writes': writes,
            'address_writes': writes, 'tasks_executed': tasks, 'changed': changed, 'phpipam_cpu': stats(0.1),
            'peak_rss_mb': stats(rss) if rss else None, 'peak_pss_mb': stats(pss) if pss else None,
            'apply_seconds': stats(apply) if apply else None}
    data.update(extra)
    return data


def workload(c_wall=6.0, b_apply=0.4, g_rate=150.0, d_writes=0, d_requests=None, tasks=9, pss=150, known=82):
    rows = {
        'a': row(2.0, tasks=None),
        'b': row(7.0, {'POST': 62}, writes=62, changed=True, apply=b_apply, rss=200, pss=pss, tasks=tasks),
        'c': row(c_wall, {'PATCH': 64}, writes=62, changed=True, apply=0.4, rss=200, pss=pss, tasks=tasks),
        'd': row(5.0, d_requests or {'GET': 7, 'PATCH': 2, 'OPTIONS': 1}, writes=d_writes, changed=bool(d_writes),
                 rss=200, pss=pss, tasks=tasks),
        'g': row(0.4, {'POST': 62}, writes=62, tasks=None, writes_per_second=stats(g_rate)),
    }
    return {'title': 't', 'subnets': 1, 'hosts_up': 62, 'known_before': 20, 'known_after': known, 'rows': rows}


def verdicts(name, data, others=None):
    everything = dict(others or {})
    everything[name] = data
    return dict((t['target'], t['pass']) for t in report.targets(name, data['rows'], everything))


def test_cycle_c_limit_is_1_3_times_the_floor_plus_5_seconds():
    assert verdicts('W1', workload(c_wall=7.6))['(c) <= 1.3 x (a) + 5 s'] is True
    assert verdicts('W1', workload(c_wall=7.7))['(c) <= 1.3 x (a) + 5 s'] is False


@pytest.mark.parametrize('b_apply, g_rate, expected', [(0.4, 180.0, True), (0.4, 200.0, False)])
def test_upload_throughput_against_the_plain_client(b_apply, g_rate, expected):
    # 62 writes in 0.4 s = 155 writes/s: at least 80 % of 180 but not of 200.
    assert verdicts('W1', workload(b_apply=b_apply, g_rate=g_rate))[
        '(b) upload >= 80 % of (g) write throughput'] is expected


def test_cycle_d_must_write_nothing():
    assert verdicts('W1', workload())['(d) zero address writes, changed false'] is True
    assert verdicts('W1', workload(d_writes=1))['(d) zero address writes, changed false'] is False


def test_w3_tasks_and_w2_requests_are_compared_with_w1():
    w1 = workload()
    assert verdicts('W3', workload(tasks=9), {'W1': w1})['tasks per cycle (c) W3 == W1'] is True
    assert verdicts('W3', workload(tasks=10), {'W1': w1})['tasks per cycle (c) W3 == W1'] is False
    same = verdicts('W2', workload(known=5002), {'W1': w1})
    assert same['requests do not grow with known addresses: (d) W2 == W1'] is True
    grown = verdicts('W2', workload(known=5002, d_requests={'GET': 57, 'PATCH': 2, 'OPTIONS': 1}), {'W1': w1})
    assert grown['requests do not grow with known addresses: (d) W2 == W1'] is False
    assert same['peak RSS <= 250 MB on W2 (process tree, rows b-e)'] is True
    assert verdicts('W2', workload(pss=251))['peak RSS <= 250 MB on W2 (process tree, rows b-e)'] is False


def results_file(tmp_path, name, workloads, note):
    data = {
        'started': '2026-01-01T00:00:00+00:00', 'finished': '2026-01-01T00:10:00+00:00', 'note': note,
        'load_before': [1.0, 1.0, 1.0], 'load_after': [1.5, 1.0, 1.0],
        'settings': {'repeats': 1, 'agent_settings': {}}, 'machine': {
            'cpu': 'cpu', 'cpus': 2, 'memory_gb': 4.0, 'kernel': '6.1', 'os': 'Debian'},
        'versions': {'phpipam': '1.8.2', 'nmap': 'Nmap version 7.93 ( https://nmap.org )', 'mariadb': 'mariadbd Ver 10.11.6',
                     'php': 'PHP 8.2.7 (cli)', 'apache': 'Server version: Apache/2.4.57 (Debian)',
                     'ansible-core': '2.19.0', 'python': '3.11.2', 'collection_commit': 'abc', 'worktree_dirty': False},
        'workloads': workloads,
    }
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def test_runs_are_merged_and_judged_together(tmp_path):
    first = results_file(tmp_path, 'bench-1.json', {'W1': workload(), 'W3': workload()}, 'defaults')
    second = results_file(tmp_path, 'bench-2.json', {'W2': workload(known=5002)}, 'W2 with nmap_min_rate')
    merged = report.merge([first, second])
    assert sorted(merged['workloads']) == ['W1', 'W2', 'W3']
    w2 = dict((t['target'], t['pass']) for t in merged['workloads']['W2']['targets'])
    assert w2['requests do not grow with known addresses: (d) W2 == W1'] is True
    text = report.header(merged, first) + report.table(merged)
    assert 'nmap 7.93, MariaDB 10.11.6, PHP 8.2.7, Apache 2.4.57' in text
    assert 'W2 with nmap_min_rate' in text and '### W3' in text and '**PASS**' in text
    svg = report.svg(merged)
    assert svg.startswith('<svg') and svg.count('<path') == 5


def test_docs_block_is_replaced(tmp_path):
    doc = tmp_path / 'performance.md'
    doc.write_text('intro\n%s\nold\n%s\nrest\n' % (report.START, report.END))
    path = results_file(tmp_path, 'bench-1.json', {'W1': workload()}, None)
    with open(path, encoding='utf-8') as handle:
        results = json.load(handle)
    for name, data in results['workloads'].items():
        data['targets'] = report.targets(name, data['rows'], results['workloads'])
    report.update_docs(results, path, doc=str(doc), plot=str(tmp_path / 'plot.svg'))
    text = doc.read_text()
    assert text.startswith('intro\n') and text.endswith('rest\n') and 'old' not in text
    assert '| (b) row |' in text and (tmp_path / 'plot.svg').exists()
