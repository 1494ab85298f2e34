# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the on-demand scale scripts of bench/ share: output, min/median figures, and the plain seeding client."""

import json
import statistics
from concurrent.futures import ThreadPoolExecutor

APP = 'ansible_rw'


def say(text=''):
    print(text, flush=True)


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
