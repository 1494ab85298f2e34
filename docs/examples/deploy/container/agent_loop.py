#!/usr/bin/env python
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the scan agent container: one cycle, or cycles forever.

    ipamkit-phpipam-agent-loop [--once] [ansible-playbook options ...]

--once runs ``ansible-playbook ipamkit.phpipam.agent`` once and exits with its status (a
Kubernetes CronJob, ``docker run --rm``). Without it the cycles repeat until the container is
stopped, pausing between them for the agent's ``sleep_duration`` setting (``sleep_duration`` in
the config file, or ``IPAM_SLEEP_DURATION``), 5 minutes when it is not set. A failed cycle is
logged and the loop goes on, pausing at least a minute. Other arguments are passed to
ansible-playbook (``-e scan_agent_remove_stale=true``, ``-v``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

PLAYBOOK = 'ipamkit.phpipam.agent'
CONFIG_ENV = 'PHPIPAM_SCAN_AGENT_CONFIG'
DEFAULT_CONFIG = '/etc/phpipam/scan_agent.yaml'
DEFAULT_PAUSE = 300   # phpipam-python-scanagent's IPAM_SLEEP_DURATION default (5m)
PAUSE_AFTER_FAILURE = 60


def log(message):
    print('ipamkit-phpipam-agent-loop: %s' % message, file=sys.stderr, flush=True)


def _agent_config():
    """The collection's config loader (module_utils/agent_config.py), from Ansible's collection paths."""
    try:
        from ansible_collections.ipamkit.phpipam.plugins.module_utils import agent_config  # pylint: disable=import-outside-toplevel
        return agent_config
    except ImportError:
        pass
    from ansible import constants  # pylint: disable=import-outside-toplevel
    for path in constants.COLLECTIONS_PATHS:
        path = os.path.expanduser(path)
        if os.path.isdir(os.path.join(path, 'ansible_collections', 'ipamkit', 'phpipam')) and path not in sys.path:
            sys.path.insert(0, path)
    from ansible_collections.ipamkit.phpipam.plugins.module_utils import agent_config  # pylint: disable=import-outside-toplevel
    return agent_config


def pause_seconds(environ):
    """(seconds, why): the pause between cycles, read the way the agent reads sleep_duration."""
    try:
        agent_config = _agent_config()
    except ImportError as exc:
        return DEFAULT_PAUSE, 'default, the collection cannot be imported (%s)' % exc
    named = (environ.get(CONFIG_ENV) or '').strip()
    path, required = (os.path.expanduser(named), True) if named else (DEFAULT_CONFIG, False)
    try:
        config = agent_config.read_config_file(path, required)
        loaded = agent_config.load_agent_settings(
            file_data=config['data'] if config else None,
            file_path=config['path'] if config else None,
            file_mode=config['mode'] if config else None,
            env=dict(environ),
        )
    except agent_config.ConfigError:
        return DEFAULT_PAUSE, 'default, the file and environment alone do not make a valid configuration'
    if loaded['sources'].get('sleep_duration', 'default') == 'default':
        return DEFAULT_PAUSE, 'default, sleep_duration is not set'
    return loaded['settings']['sleep_duration'], 'sleep_duration from %s' % loaded['sources']['sleep_duration']


def playbook_argv(args):
    return ['ansible-playbook', PLAYBOOK] + list(args)


class Stop(Exception):
    pass


def _stop(signum, frame):  # pylint: disable=unused-argument
    raise Stop(signum)


def loop(args, environ):
    pause, why = pause_seconds(environ)
    log('running %s every %d s after the previous run ends (%s)' % (PLAYBOOK, pause, why))
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    child = None
    try:
        while True:
            child = subprocess.Popen(playbook_argv(args))  # pylint: disable=consider-using-with
            status = child.wait()
            child = None
            wait = pause
            if status != 0:
                wait = max(pause, PAUSE_AFTER_FAILURE)
                log('the run failed (exit %d); next run in %d s' % (status, wait))
            time.sleep(wait)
    except Stop as stop:
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        log('stopped by signal %s' % stop.args[0])
        return 0


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if '--once' in args:
        args.remove('--once')
        os.execvp('ansible-playbook', playbook_argv(args))
        return 127  # execvp returns only when it fails, and then it raises
    return loop(args, os.environ)


if __name__ == '__main__':
    sys.exit(main())
