# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the on-demand scale scripts of bench/ share: output, the harness phpIPAM, min/median figures, the plain
seeding client, and where results go."""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
if os.path.join(CHECKOUT, 'tests', 'harness') not in sys.path:
    sys.path.insert(0, os.path.join(CHECKOUT, 'tests', 'harness'))

import phpipam as harness_module  # noqa: E402  pylint: disable=import-error,wrong-import-position

APP = 'ansible_rw'


def say(text=''):
    print(text, flush=True)


def harness_up(who, reset=True):
    """(harness, instance): the test harness phpIPAM of IPAMKIT_HARNESS_*, running, and at its seed if ``reset``."""
    harness = harness_module.Harness.from_env()
    ok, reason = harness.can_run()
    if not ok:
        raise SystemExit('%s: the test harness cannot run: %s' % (who, reason))
    instance = harness.ensure_up()
    if reset:
        harness.reset()
    return harness, instance


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def machine(instance=None, **extra):
    """The machine and versions a result was measured with."""
    import ansible  # pylint: disable=import-outside-toplevel
    found = {'cpus': os.cpu_count(), 'python': platform.python_version(), 'ansible-core': ansible.__version__}
    if instance is not None:
        found['phpipam'] = instance.phpipam_version
    found.update(extra)
    return found


def collection_commit():
    return subprocess.run(['git', '-C', CHECKOUT, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                          check=False).stdout.strip()


def write_result(prefix, result):
    """bench/results/<prefix>-<compact UTC time>.json from ``result`` (which holds ``utc``); returns the path."""
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    path = os.path.join(HERE, 'results', '%s-%s.json' % (prefix, result['utc'].replace(':', '').replace('-', '')))
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
        handle.write('\n')
    return path


def stats(values, digits=3):
    return {'min': round(min(values), digits), 'median': round(statistics.median(values), digits),
            'max': round(max(values), digits), 'n': len(values)}


class PlainClient(object):
    """requests + ThreadPoolExecutor, as bench/run.py row (g): the fastest way phpIPAM takes writes.

    Seeds bench data into the harness phpIPAM; ``who`` names the script in a failure.
    """

    def __init__(self, instance, workers, who):
        import requests  # pylint: disable=import-outside-toplevel
        self.who = who
        self.base = instance.api_url(APP)
        self.verify = instance.ca_path
        self.workers = workers
        self.session = requests.Session()
        self.session.mount('https://', requests.adapters.HTTPAdapter(pool_maxsize=workers))
        self.session.headers.update({'token': instance.app_code(APP), 'Content-Type': 'application/json'})

    def send(self, method, path, body=None):
        response = self.session.request(method, self.base + path, data=json.dumps(body) if body is not None else None,
                                        verify=self.verify, timeout=120)
        answer = response.json()
        if response.status_code >= 300:
            raise SystemExit('%s: %s %s failed: %s %s' % (self.who, method, path, response.status_code, answer))
        return answer

    def create_all(self, path, bodies):
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return [int(answer['id']) for answer in pool.map(lambda body: self.send('POST', path, body), bodies)]
