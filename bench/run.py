# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: the scan agent against the physical floor, on namespace LANs and the real phpIPAM of tests/harness.

For each workload (bench/workloads.py) and each repeat, in this order, on the same targets:

  (a) raw nmap with the agent's own argv (the floor)        (b) the agent's first cycle (discovery)
  (c) its second cycle (steady state: lastSeen updates)     (d) a third cycle inside lastseen_refresh
  (e) check mode                                            (f) relay mode (W1, W2)
  (g) the same writes as (b) from a plain requests + ThreadPoolExecutor client, no Ansible

phpIPAM's data goes back to the workload's seeded state before (a) and before (g). Results go to
bench/results/bench-<UTC time>.json and, unless --no-docs, into docs/performance.md and its plot.

Run as root (network namespaces, raw sockets). Usage: run.py [--workloads W1,W2,W3] [--repeats 3] [--rows abcdefg]
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
for extra in (HERE, os.path.join(CHECKOUT, 'tests', 'harness'), os.path.join(CHECKOUT, 'tests', 'integration')):
    sys.path.insert(0, extra)

import measure  # noqa: E402  pylint: disable=import-error,wrong-import-position
import netlan  # noqa: E402  pylint: disable=import-error,wrong-import-position
import phpipam as harness_module  # noqa: E402  pylint: disable=import-error,wrong-import-position
import report  # noqa: E402  pylint: disable=import-error,wrong-import-position
import workloads  # noqa: E402  pylint: disable=import-error,wrong-import-position
from relay_helpers import Relay, have_rulebook  # noqa: E402  pylint: disable=import-error,wrong-import-position

from ansible_collections.ipamkit.phpipam.plugins.module_utils import nmap as nmap_utils  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils import scan_agent  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import SCHEMA  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient  # noqa: E402

ROWS = {
    'a': 'raw nmap (floor)',
    'b': 'agent cycle 1 (discovery)',
    'c': 'agent cycle 2 (steady state)',
    'd': 'agent cycle 3 (inside lastseen_refresh)',
    'e': 'check mode',
    'f': 'relay mode (until applied)',
    'g': 'plain HTTP client, same writes as (b)',
}
SNAPSHOT_DB = 'ipamkit_bench_snapshot'
RELAY_TOKEN = 'bench-relay-token-0123456789abcdef'
UPLOAD_TASK = 'Write what was seen to phpIPAM'
BIN = os.path.dirname(sys.executable)


def say(text=''):
    print(text, flush=True)


# ------------------------------------------------------------------ phpIPAM state

def snapshot(harness):
    """Copy phpIPAM's tables into SNAPSHOT_DB; return the SQL that puts them back."""
    ident, fmt = harness_module.sql_ident, harness_module.sql_format
    live = harness_module.DB_NAME
    tables = [name for (name,) in harness.sql(fmt(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
        [live]))]
    columns = {}
    for table, column in harness.sql(fmt('SELECT table_name, column_name FROM information_schema.columns '
                                         'WHERE table_schema = %s ORDER BY table_name, ordinal_position', [live])):
        columns.setdefault(table, []).append(column)
    copy = ['DROP DATABASE IF EXISTS %s;' % ident(SNAPSHOT_DB), 'CREATE DATABASE %s;' % ident(SNAPSHOT_DB)]
    restore = ['SET SESSION FOREIGN_KEY_CHECKS = 0;', 'SET SESSION UNIQUE_CHECKS = 0;', 'START TRANSACTION;']
    for table in sorted(tables):
        cols = ', '.join(ident(c) for c in columns[table])
        copy.append('CREATE TABLE %s.%s LIKE %s.%s;' % (ident(SNAPSHOT_DB), ident(table), ident(live), ident(table)))
        copy.append('INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s;' % (ident(SNAPSHOT_DB), ident(table), cols, cols,
                                                                      ident(live), ident(table)))
        restore.append('DELETE FROM %s.%s;' % (ident(live), ident(table)))
        restore.append('INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s;' % (ident(live), ident(table), cols, cols,
                                                                         ident(SNAPSHOT_DB), ident(table)))
    restore.append('COMMIT;')
    harness.sql('\n'.join(copy), database=None)
    return '\n'.join(restore)


def drop_snapshot(harness):
    harness.sql('DROP DATABASE IF EXISTS %s;' % harness_module.sql_ident(SNAPSHOT_DB), database=None)


# ------------------------------------------------------------------ one workload

class Bench(object):
    """Runs the rows of one workload; ``self.runs[row]`` collects one measurement per repeat."""

    def __init__(self, args, harness, instance, workload, lan, tmp):
        self.args = args
        self.harness = harness
        self.instance = instance
        self.workload = workload
        self.lan = lan
        self.tmp = tmp
        self.client = PhpipamClient(instance.https_url, 'ansible_rw', token=instance.app_code('ansible_rw'),
                                    ca_path=instance.ca_path, max_workers=8)
        self.code = 'bench-%s-%s' % (workload.name.lower(), os.urandom(6).hex())
        self.seeded = None
        self.restore_sql = None
        self.relay = None
        self.counter = 0
        self.runs = dict((row, []) for row in args.rows)
        self.inventory = tmp / 'inventory.ini'
        self.inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)

    # -- set-up

    def setup(self):
        self.harness.reset()
        started = time.monotonic()
        self.seeded = workloads.seed(self.client, self.instance, self.workload, self.lan, self.code)
        say('  phpIPAM seeded in %.1f s: %d subnet(s), %d known address(es)' % (
            time.monotonic() - started, len(self.seeded.subnet_ids), len(self.workload.known)))
        self.restore_sql = snapshot(self.harness)
        if 'f' in self.args.rows and self.workload.relay:
            self.relay = Relay(self.harness, self.instance, self.tmp, {self.code: RELAY_TOKEN})
            self.relay.start()
            say('  relay listening on %s' % self.relay.url)

    def teardown(self):
        if self.relay:
            self.relay.stop()

    def restore(self):
        self.harness.sql(self.restore_sql)

    def config(self, relay=False):
        settings = {
            'phpipam_url': self.instance.https_url, 'phpipam_app_id': 'ansible_rw',
            'phpipam_token': self.instance.app_code('ansible_rw'), 'phpipam_ca_path': self.instance.ca_path,
            'phpipam_timezone': 'UTC', 'agent_code': self.code, 'nmap_path': self.lan.nmap_wrapper,
            'lock_path': str(self.tmp / 'agent.lock'), 'cache_dir': str(self.tmp / 'cache'),
        }
        settings.update(self.args.agent_settings)
        if relay:
            settings.update(relay_url=self.relay.url, relay_token=RELAY_TOKEN, relay_ca_path=self.relay.ca_path)
        path = self.tmp / ('agent-relay.yaml' if relay else 'agent.yaml')
        path.write_text(json.dumps(settings))
        path.chmod(0o600)
        return str(path)

    # -- rows

    def raw_nmap(self):
        """(a): the nmap runs the agent would start, with its argv, over the same targets."""
        inventory = scan_agent.fetch_agent_inventory(self.client, code=self.code, addresses=True)
        parsed, _warnings = nmap_utils.parse_subnets(inventory['subnets'])
        plan = nmap_utils.plan_scan(parsed, privileged=os.geteuid() == 0, ipv6_discovery=True, interfaces=None)
        options = dict(timing=self.setting('nmap_timing'), max_rate=self.setting('nmap_max_rate'),
                       min_rate=self.setting('nmap_min_rate'),
                       host_timeout=self.setting('nmap_host_timeout'), probe_ports=self.setting('nmap_probe_ports'))
        argvs = []
        for number, run in enumerate(plan.runs, 1):
            if run.targets:
                base = str(self.tmp / ('raw%d' % number))
                targets, exclude = nmap_utils.write_inputs(run, base)
                argvs.append(nmap_utils.build_argv(self.lan.nmap_wrapper, run, os.geteuid() == 0, base + '.xml',
                                                   targets, exclude, **options))
        memory = measure.TreeMemory()
        with measure.Probe(self.harness) as probe:
            with memory:
                hosts_up = 0
                for argv in argvs:
                    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                    memory.add_root(proc.pid)
                    _out, err = proc.communicate()
                    if proc.returncode:
                        raise SystemExit('bench: raw nmap failed (%d): %s' % (proc.returncode, err[-2000:]))
                    with open(argv[argv.index('-oX') + 1], encoding='utf-8') as handle:
                        hosts_up += len(nmap_utils.parse_xml(handle.read())['hosts'])
        result = dict(probe.result, argv=[a if not a.startswith(str(self.tmp)) else os.path.basename(a)
                                          for a in argvs[0]] if argvs else [],
                      nmap_runs=len(argvs), hosts_up=hosts_up)
        result.update(self._memory(memory))
        return result

    def setting(self, name):
        return self.args.agent_settings.get(name, SCHEMA[name].default if name in SCHEMA else None)

    def cycle(self, check=False, extra_vars=None, relay=False):
        """(b)-(f): one ansible-playbook ipamkit.phpipam.agent run, measured."""
        self.counter += 1
        tasks_file = self.tmp / ('tasks-%d.json' % self.counter)
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith(('PHPIPAM_', 'ANSIBLE_')))
        env.update({
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(HERE, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'bench_tasks', 'IPAMKIT_BENCH_TASKS': str(tasks_file),
            'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_LOCALHOST_WARNING': 'False', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_LOCAL_TEMP': str(self.tmp / 'ansible-tmp'),
        })
        env.update(self.args.ansible_env)
        variables = {'scan_agent_config_path': self.config(relay=relay)}
        variables.update(extra_vars or {})
        argv = [os.path.join(BIN, 'ansible-playbook'), '-i', str(self.inventory), 'ipamkit.phpipam.agent',
                '-e', json.dumps(variables)]
        if check:
            argv.append('--check')
        relay_memory = measure.TreeMemory([self.relay.proc.pid]) if relay else None
        with measure.Probe(self.harness) as probe:
            if relay_memory:
                relay_memory.__enter__()
            try:
                proc, memory = measure.run_measured(argv, env=env)
                if proc['rc']:
                    raise SystemExit('bench: the agent run failed (exit %d):\n%s\n%s' % (
                        proc['rc'], proc['stdout'][-4000:], proc['stderr'][-2000:]))
                tasks = json.loads(tasks_file.read_text())
                upload = next(t for t in tasks['tasks'] if t['task'].endswith(UPLOAD_TASK))
                outcome = None
                if relay:
                    report_id = upload['result']['relay']['report_id']
                    outcome = self.relay.wait_finished([report_id], timeout=3600)[report_id]['outcome']
            finally:
                if relay_memory:
                    relay_memory.__exit__(None, None, None)
        result = dict(probe.result)
        result.update(self._memory(memory))
        executed = [t for t in tasks['tasks'] if t['status'] != 'skipped']
        result.update(
            tasks_executed=len(executed), task_seconds=dict((t['task'].split(' : ')[-1], t['seconds']) for t in executed),
            changed=bool(upload['result'].get('changed')), address_writes=upload['result'].get('address_writes'),
            module_requests=upload['result'].get('requests'), timings=upload['result'].get('timings'),
            upload_seconds=upload['seconds'],
            nmap_seconds=sum(t['seconds'] for t in executed if t['action'].endswith('nmap_scan')))
        if relay:
            totals = outcome.get('totals') or {}
            result.update(relay_state=outcome.get('state'), address_writes=sum(
                totals.get(k, 0) for k in ('created', 'updated', 'removed')),
                relay_peak_rss_mb=round(relay_memory.peak_rss / 2.0 ** 20, 1),
                relay_peak_pss_mb=round(relay_memory.peak_pss / 2.0 ** 20, 1))
        return result

    @staticmethod
    def _memory(memory):
        return {'peak_rss_mb': round(memory.peak_rss / 2.0 ** 20, 1), 'peak_pss_mb': round(memory.peak_pss / 2.0 ** 20, 1)}

    def plain_writes(self):
        """(g): the writes of a first cycle, from the workload's truth, by requests + ThreadPoolExecutor."""
        import requests  # pylint: disable=import-outside-toplevel
        infra = list(self.lan.infra.values())
        live = self.workload.live_ips(infra)
        macs, names = {}, {}
        for spec in list(self.lan.hosts) + infra:
            for ip in [spec.ipv4] + list(spec.extra_ipv4):
                macs[ip] = spec.mac
            names[spec.ipv4] = self.lan.fqdn(spec.name)
        macs[self.lan.infra['scanner'].ipv4] = None  # nmap sees its own address without a MAC
        known = {}
        for cidr, subnet_id in self.seeded.subnet_ids.items():
            for address in self.client.get_list('subnets/%d/addresses' % subnet_id):
                known[address['ip']] = address
        now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')
        jobs = []
        for ip in live:
            extra = dict((k, v) for k, v in (('mac', macs.get(ip)), ('hostname', names.get(ip))) if v)
            if ip in known:
                jobs.append(('PATCH', 'addresses/%d/' % known[ip]['id'], dict(extra, lastSeen=now, tag=known[ip]['tag'])))
            else:
                subnet_id = self.seeded.subnet_ids[self.workload.subnet_of(ip)]
                jobs.append(('POST', 'addresses/', dict(extra, ip=ip, subnetId=subnet_id, lastSeen=now, tag=2,
                                                        description='-- autodiscovered --')))
        bookkeeping = [('PATCH', 'subnets/%d/' % sid, {'lastScan': now, 'lastDiscovery': now})
                       for sid in self.seeded.subnet_ids.values()]
        bookkeeping.append(('PATCH', 'tools/scanagents/%d/' % self.seeded.agent_id, {'last_access': now}))
        base = self.instance.api_url('ansible_rw')
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=self.args.plain_workers)
        session.mount('https://', adapter)
        session.headers.update({'token': self.instance.app_code('ansible_rw'), 'Content-Type': 'application/json'})
        failures = []

        def send(job):
            method, path, body = job
            response = session.request(method, base + path, data=json.dumps(body),
                                       verify=self.instance.ca_path, timeout=60)
            if response.status_code >= 300:
                failures.append('%s %s: %s %s' % (method, path, response.status_code, response.text[:200]))

        with measure.Probe(self.harness) as probe:
            with ThreadPoolExecutor(max_workers=self.args.plain_workers) as pool:
                list(pool.map(send, jobs))
                list(pool.map(send, bookkeeping))
        session.close()
        if failures:
            raise SystemExit('bench: the plain client failed %d write(s); first: %s' % (len(failures), failures[0]))
        result = dict(probe.result, address_writes=len(jobs), workers=self.args.plain_workers,
                      tasks_executed=0, peak_rss_mb=None, peak_pss_mb=None)
        result['writes_per_second'] = round(len(jobs) / result['wall'], 1) if result['wall'] else None
        return result

    # -- one repeat

    def repeat(self, number):
        rows = self.args.rows
        self.restore()
        steps = [
            ('a', self.raw_nmap),
            ('b', self.cycle),
            ('c', self.cycle),
            ('d', lambda: self.cycle(extra_vars={'scan_agent_lastseen_refresh': self.args.lastseen_refresh})),
            ('e', lambda: self.cycle(check=True)),
            ('f', lambda: self.cycle(relay=True)),
        ]
        for row, step in steps:
            if row not in rows or (row == 'f' and not self.relay):
                continue
            result = step()
            self.runs[row].append(result)
            say('  %s #%d (%s): %.2f s, requests %s, address writes %s, tasks %s, peak RSS %s MB, phpIPAM CPU %s s'
                % (row, number, ROWS[row], result['wall'], result['requests'], result['http_address_writes'],
                   result.get('tasks_executed'), result.get('peak_rss_mb'), result['phpipam_cpu']))
        if 'g' in rows:
            self.restore()
            result = self.plain_writes()
            self.runs['g'].append(result)
            say('  g #%d (%s): %.2f s, %d writes, %.1f writes/s, requests %s, phpIPAM CPU %s s' % (
                number, ROWS['g'], result['wall'], result['address_writes'], result['writes_per_second'] or 0,
                result['requests'], result['phpipam_cpu']))


# ------------------------------------------------------------------ summaries and targets

def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {'min': min(values), 'median': statistics.median(values), 'max': max(values), 'n': len(values)}


def summarize_rows(runs):
    summary = {}
    for row, results in runs.items():
        if not results:
            continue
        last = results[-1]
        summary[row] = {
            'label': ROWS[row], 'wall': _stats([r['wall'] for r in results]),
            'phpipam_cpu': _stats([r['phpipam_cpu'] for r in results]),
            'peak_rss_mb': _stats([r.get('peak_rss_mb') for r in results]),
            'peak_pss_mb': _stats([r.get('peak_pss_mb') for r in results]),
            'requests': last['requests'], 'http_address_writes': last['http_address_writes'],
            'address_writes': last.get('address_writes'), 'tasks_executed': last.get('tasks_executed'),
            'changed': last.get('changed'),
        }
        if row in 'bcdef':
            summary[row]['apply_seconds'] = _stats([(r.get('timings') or {}).get('apply') for r in results])
            summary[row]['nmap_seconds'] = _stats([r.get('nmap_seconds') for r in results])
        if row == 'f':
            summary[row]['relay_peak_rss_mb'] = _stats([r.get('relay_peak_rss_mb') for r in results])
        if row == 'g':
            summary[row]['writes_per_second'] = _stats([r['writes_per_second'] for r in results])
    floor = summary.get('a', {}).get('wall')
    for row, data in summary.items():
        if floor and data['wall']:
            data['ratio'] = round(data['wall']['median'] / floor['median'], 2)
    return summary


# ------------------------------------------------------------------ machine and versions

def _first_line(argv):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else None


def machine(instance):
    cpu = None
    with open('/proc/cpuinfo', encoding='utf-8') as handle:
        for line in handle:
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo', encoding='utf-8') as handle:
        mem_kb = int(handle.readline().split()[1])
    import ansible  # pylint: disable=import-outside-toplevel
    import requests  # pylint: disable=import-outside-toplevel
    return {
        'machine': {'cpu': cpu, 'cpus': os.cpu_count(), 'memory_gb': round(mem_kb / 2.0 ** 20, 1),
                    'kernel': platform.release(), 'os': _first_line(['sh', '-c', '. /etc/os-release && echo $PRETTY_NAME'])},
        'versions': {
            'python': platform.python_version(), 'ansible-core': ansible.__version__,
            'requests': requests.__version__,
            'ansible-rulebook': _first_line([os.path.join(BIN, 'ansible-rulebook'), '--version']),
            'nmap': _first_line(['nmap', '--version']), 'phpipam': instance.phpipam_version,
            'php': _first_line(['php', '--version']), 'apache': _first_line(['apache2', '-v']),
            'mariadb': _first_line(['mariadbd', '--version']) or _first_line(['mysqld', '--version']),
            'collection_commit': _first_line(['git', '-C', CHECKOUT, 'rev-parse', 'HEAD']),
            'worktree_dirty': bool(_first_line(['git', '-C', CHECKOUT, 'status', '--porcelain', '--',
                                                'plugins', 'roles', 'playbooks'])),
        },
    }


# ------------------------------------------------------------------ main

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--workloads', default='W1,W2,W3', help='comma-separated: W1, W2, W3')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--rows', default='abcdefg', help='which of the rows a-g to run')
    parser.add_argument('--plain-workers', type=int, default=8, help='parallel requests of the plain client (g)')
    parser.add_argument('--lastseen-refresh', default='1h', help='lastseen_refresh of cycle (d)')
    parser.add_argument('--set', action='append', default=[], metavar='SETTING=JSON',
                        help='an agent setting for every cycle, e.g. --set api_workers=8')
    parser.add_argument('--ansible-env', action='append', default=[], metavar='NAME=VALUE',
                        help='an environment variable for the agent runs, e.g. ANSIBLE_PIPELINING=1')
    parser.add_argument('--w2-live', type=int, default=4000, help=argparse.SUPPRESS)
    parser.add_argument('--out', default=os.path.join(HERE, 'results'), help='directory for the JSON results')
    parser.add_argument('--no-docs', action='store_true', help='do not rewrite docs/performance.md and its plot')
    parser.add_argument('--note', default='', help='free text stored with the results')
    args = parser.parse_args(argv)
    args.rows = ''.join(r for r in 'abcdefg' if r in args.rows)
    args.workloads = [w.strip().upper() for w in args.workloads.split(',') if w.strip()]
    unknown = [w for w in args.workloads if w not in workloads.WORKLOADS]
    if unknown:
        parser.error('unknown workload(s): %s' % ', '.join(unknown))
    args.agent_settings = {}
    for item in args.set:
        key, _sep, value = item.partition('=')
        try:
            args.agent_settings[key] = json.loads(value)
        except ValueError:
            args.agent_settings[key] = value
    args.ansible_env = dict(item.partition('=')[::2] for item in args.ansible_env)
    return args


def preflight(harness):
    problems = []
    ok, reason = harness.can_run()
    if not ok:
        problems.append('phpIPAM harness: %s' % reason)
    ok, reason = netlan.can_run()
    if not ok:
        problems.append('namespace LANs: %s' % reason)
    return problems


def run_workload(args, harness, instance, name, all_results):
    workload = workloads.w2(live=args.w2_live) if name == 'W2' else workloads.WORKLOADS[name]()
    say()
    say('== %s: %s' % (name, workload.title))
    tag = 'ikb%s%s' % (name.lower(), os.urandom(3).hex())
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='ipamkit-bench-%s-' % name.lower()))
    try:
        with netlan.Lan(name=tag, ipv4=workload.lan_ipv4, ipv6=False, hosts=workload.hosts) as lan:
            bench = Bench(args, harness, instance, workload, lan, tmp)
            try:
                bench.setup()
                for number in range(1, args.repeats + 1):
                    say(' repeat %d/%d (load %s)' % (number, args.repeats, measure.load_average()))
                    bench.repeat(number)
            finally:
                bench.teardown()
            live = workload.live_ips(list(lan.infra.values()))
    finally:
        shutil.rmtree(str(tmp), ignore_errors=True)
    rows = summarize_rows(bench.runs)
    known = set(workload.known) | set(live)
    result = {'title': workload.title, 'subnets': len(workload.subnets), 'hosts_up': len(live),
              'known_before': len(workload.known), 'known_after': len(known), 'rows': rows, 'runs': bench.runs}
    all_results[name] = result
    result['targets'] = report.targets(name, rows, all_results)
    for target in result['targets']:
        say('  %s  %s: %s' % ('PASS' if target['pass'] else 'FAIL', target['target'], target['figures']))
    return result


def main(argv=None):
    args = parse_args(argv)
    harness = harness_module.Harness.from_env()
    problems = preflight(harness)
    if 'f' in args.rows and have_rulebook():
        problems.append('relay row (f): %s' % have_rulebook())
    if problems:
        for problem in problems:
            say('bench: cannot run: %s' % problem)
        return 2
    netlan.cleanup_stale()
    instance = harness.ensure_up()
    results = {
        'started': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'settings': {'ansible_env': args.ansible_env, 'repeats': args.repeats, 'rows': args.rows, 'plain_workers': args.plain_workers,
                     'lastseen_refresh_d': args.lastseen_refresh, 'agent_settings': args.agent_settings,
                     'agent_defaults': dict((k, SCHEMA[k].default) for k in SCHEMA if k in (
                         'nmap_timing', 'nmap_max_rate', 'nmap_min_rate', 'api_workers', 'lastseen_refresh', 'min_scan_interval'))},
        'load_before': measure.load_average(), 'note': args.note, 'workloads': {},
    }
    results.update(machine(instance))
    say('bench: phpIPAM %s at %s; load %s; %s' % (instance.phpipam_version, instance.https_url,
                                                  results['load_before'], results['machine']['cpu']))
    try:
        for name in args.workloads:
            run_workload(args, harness, instance, name, results['workloads'])
    finally:
        drop_snapshot(harness)
        harness.reset()
    results['finished'] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    results['load_after'] = measure.load_average()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, 'bench-%s.json' % results['started'].replace(':', '').replace('+0000', 'Z'))
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(results, handle, indent=1, sort_keys=True, default=str)
    say()
    say(report.table(results))
    say('bench: results in %s' % path)
    if not args.no_docs:
        report.update_docs(results, path)
        say('bench: docs/performance.md and its plot regenerated')
    failed = [t for w in results['workloads'].values() for t in w['targets'] if not t['pass']]
    say('bench: %d target(s) met, %d missed' % (
        sum(len(w['targets']) for w in results['workloads'].values()) - len(failed), len(failed)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
