# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How nmap's own options change the floor: time raw ``nmap -sn`` sweeps of W2's /16 with a few option sets.

Builds W2's LAN (bench/workloads.py), runs nmap in its scanner namespace once per option set and writes
bench/results/nmap-flags-<UTC time>.json. Run as root: ``.venv/bin/python bench/nmap_flags.py``.
"""

import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests', 'harness'))

import netlan  # noqa: E402  pylint: disable=import-error,wrong-import-position
import workloads  # noqa: E402  pylint: disable=import-error,wrong-import-position

OPTION_SETS = (
    ['-T4'],
    ['-T5'],
    ['-T4', '--max-retries', '1'],
    ['-T4', '--min-hostgroup', '4096'],
    ['-T4', '--min-rate', '1000'],
    ['-T4', '--min-rate', '3000'],
    ['-T4', '--min-rate', '10000'],
)


def main():
    workload = workloads.w2()
    results = {'started': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               'workload': workload.title, 'target': workload.subnets[0], 'runs': []}
    with netlan.Lan(name='ikbflags%s' % os.urandom(3).hex(), ipv4=workload.lan_ipv4, ipv6=False,
                    hosts=workload.hosts) as lan:
        for options in OPTION_SETS:
            started = time.monotonic()
            proc = lan.nmap('-sn', '--privileged', '-n', *options, workload.subnets[0], '-oX', '-', timeout=1800)
            elapsed = round(time.monotonic() - started, 1)
            up = proc.stdout.count('<status state="up"')
            results['runs'].append({'options': options, 'seconds': elapsed, 'hosts_up': up, 'rc': proc.returncode})
            print('%-32s %6.1f s  %d hosts up' % (' '.join(options), elapsed, up), flush=True)
    path = os.path.join(HERE, 'results', 'nmap-flags-%s.json' % results['started'].replace(':', '').replace('+0000', 'Z'))
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(results, handle, indent=1)
    print('nmap_flags: %s' % path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
