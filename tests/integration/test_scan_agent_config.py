# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scan_agent_config through real ansible-playbook runs: settings registered, output hidden, errors shown.

These need no phpIPAM: the action only reads a file and the environment on the controller.
"""

import os
import re

import pytest

pytestmark = pytest.mark.integration

TOKEN = 'app-code-0123456789abcdef'
AGENT_CODE = 'agent-code-fedcba9876543210'
RELAY_TOKEN = 'relay-token-0011223344'
OURS = """\
phpipam_url: https://ipam.example.com
phpipam_app_id: scanner
phpipam_token: %s
agent_code: %s
relay_url: https://relay.example.com:5001
relay_token: %s
cache_expire_time: 1800
time_offset: -34200
min_scan_interval: 1h
always_update: false
remove_stale: true
remove_stale_after: 48h
sleep_duration: 5m
log_level: DEBUG
""" % (TOKEN, AGENT_CODE, RELAY_TOKEN)
SEED = """\
nofusscomputing_phpipam_scan_agent:
  api_url: https://ipam.example.com
  http_port: 5001
  http_server: https://relay.example.com
  auth_token: %s
  cache_expire_time: 1800
  epoch_time_offset: -34200
  client_token: %s
  client_name: scanner
  scanagent_code: %s
""" % (RELAY_TOKEN, TOKEN, AGENT_CODE)
SEED_ENV = {'IPAM_MIN_TIME_BETWEEN_SCANS': '1h', 'IPAM_ALWAYS_UPDATE': '0', 'IPAM_REMOVE_OLD_HOSTS': '1',
            'IPAM_REMOVE_OLD_HOST_DELAY': '48h', 'IPAM_SLEEP_DURATION': '5m', 'LOG_LEVEL': 'DEBUG'}
# Variables of the test's own environment that the loader would read.
CLEAN_ENV = dict((name, '') for name in ('IPAM_SERVER', 'IPAM_SERVER_INSECURE', 'IPAM_API_CLIENT', 'IPAM_API_TOKEN',
                                         'IPAM_API_AGENT_CODE', 'IPAM_MIN_TIME_BETWEEN_SCANS', 'IPAM_ALWAYS_UPDATE',
                                         'IPAM_REMOVE_OLD_HOSTS', 'IPAM_REMOVE_OLD_HOST_DELAY', 'IPAM_SLEEP_DURATION',
                                         'LOG_LEVEL'))


def write_config(tmp_path, text, mode=0o600, name='scan_agent.yaml'):
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def task_output(run, task):
    """What the screen showed for one task: from its TASK banner to the next banner."""
    match = re.search(r'TASK \[%s\][^\n]*\n(.*?)(?=\n(TASK|PLAY) )' % re.escape(task), run.stdout, re.S)
    assert match, run.output[-3000:]
    return match.group(1)


def registered(run):
    return run.result('Show the registered settings')['msg']


@pytest.mark.smoke
def test_settings_are_registered_and_hidden_on_screen(tmp_path, run_playbook):
    path = write_config(tmp_path, OURS, mode=0o644)
    run = run_playbook('scan_agent_config.yml', env=CLEAN_ENV, verbosity=1,
                       extra_vars={'config_path': path, 'local_timezone': 'Europe/Berlin',
                                   'overrides': {'nmap_timing': 3, 'exclude': None}})
    assert run.returncode == 0, run.output
    shown = task_output(run, 'Load the agent configuration')
    assert "the output has been hidden due to the fact that 'no_log: true' was specified for this result" in shown
    for secret in (TOKEN, AGENT_CODE, RELAY_TOKEN):
        assert secret not in shown
    assert run.status('Load the agent configuration') == 'ok'
    assert 'settings' not in run.result('Load the agent configuration')
    # The registered variable has the real values.
    data = registered(run)
    settings = data['settings']
    assert settings['phpipam_token'] == TOKEN and settings['agent_code'] == AGENT_CODE
    assert settings['relay_token'] == RELAY_TOKEN and settings['mode'] == 'relay'
    assert (settings['remove_stale_after'], settings['min_scan_interval'], settings['sleep_duration']) == (172800, 3600, 300)
    assert settings['nmap_timing'] == 3 and data['sources']['nmap_timing'] == 'overrides'
    assert settings['phpipam_timezone'] == 'Europe/Berlin' and data['sources']['phpipam_timezone'] == 'default'
    assert data['config_path'] == path and data['sources']['phpipam_url'] == path
    # The file is readable by others: one warning, shown once.
    warning = '%s holds secrets (phpipam_token, relay_token) and is readable by group and others (mode 0644)' % path
    assert data['warnings'] == [warning + ': chmod 600 it (or 640 with a dedicated group)']
    # (on stderr; ansible-core 2.16 wraps it at the terminal width, even inside the path)
    assert re.sub(r'\s+', '', run.output).count('[WARNING]:%sholdssecrets' % path) == 1, run.output


def test_check_mode_and_environment(tmp_path, run_playbook):
    path = write_config(tmp_path, 'nmap_timing: 2\n')
    env = dict(CLEAN_ENV, PHPIPAM_SCAN_AGENT_CONFIG=path, PHPIPAM_URL='https://ipam.example.com',
               PHPIPAM_APP_ID='scanner', PHPIPAM_TOKEN=TOKEN, IPAM_API_AGENT_CODE=AGENT_CODE, TZ='UTC')
    run = run_playbook('scan_agent_config.yml', env=env, check=True)
    assert run.returncode == 0, run.output
    data = registered(run)
    assert data['config_path'] == path and data['settings']['nmap_timing'] == 2
    assert data['sources']['phpipam_token'] == 'env PHPIPAM_TOKEN'
    assert data['sources']['agent_code'] == 'env IPAM_API_AGENT_CODE'
    assert data['settings']['phpipam_timezone'] == 'UTC' and data['settings']['mode'] == 'direct'
    assert TOKEN not in task_output(run, 'Load the agent configuration')


def test_bad_file_fails_with_every_problem_shown(tmp_path, run_playbook):
    path = write_config(tmp_path, OURS.replace('remove_stale_after: 48h', 'remove_stale_after: 2x')
                        .replace('https://relay.example.com:5001', 'http://relay.example.com') + 'nmap_timeing: 3\n')
    run = run_playbook('scan_agent_config.yml', env=CLEAN_ENV, extra_vars={'config_path': path})
    assert run.returncode != 0
    assert run.status('Load the agent configuration') == 'failed'
    result = run.result('Load the agent configuration')
    assert 'censored' not in result
    expected = [
        "%s: remove_stale_after: '2x' is not a duration (use 90, 90s, 15m, 1h30m, 2d)" % path,
        '%s: nmap_timeing: unknown setting (did you mean nmap_timing?)' % path,
        '%s: relay_url: refusing to send the relay token over plain http:// to relay.example.com: use https:// '
        '(relay_ca_path names a private CA)' % path,
    ]
    assert result['problems'] == expected
    assert result['msg'].splitlines() == [
        'The scan agent configuration has 3 problems; nothing was scanned or changed:'] + ['- ' + line for line in expected]
    shown = task_output(run, 'Load the agent configuration')
    assert 'FAILED!' in shown and 'nmap_timeing: unknown setting' in shown and "'2x' is not a duration" in shown
    for secret in (TOKEN, AGENT_CODE, RELAY_TOKEN):
        assert secret not in run.output


def test_named_file_must_exist(tmp_path, run_playbook):
    missing = str(tmp_path / 'missing.yaml')
    run = run_playbook('scan_agent_config.yml', env=dict(CLEAN_ENV, PHPIPAM_SCAN_AGENT_CONFIG=missing))
    assert run.returncode != 0
    assert run.result('Load the agent configuration')['problems'] == ['%s: no such file' % missing]


def test_seed_file_and_ipam_environment_match_our_format(tmp_path, run_playbook):
    ours = write_config(tmp_path, OURS, name='ours.yaml')
    seed = write_config(tmp_path, SEED, name='seed.yaml')
    extra = {'local_timezone': '+09:30'}
    from_ours = run_playbook('scan_agent_config.yml', env=CLEAN_ENV, extra_vars=dict(extra, config_path=ours))
    from_seed = run_playbook('scan_agent_config.yml', env=dict(CLEAN_ENV, **SEED_ENV), extra_vars=dict(extra, config_path=seed))
    assert from_ours.returncode == from_seed.returncode == 0, from_seed.output
    assert registered(from_seed)['settings'] == registered(from_ours)['settings']
    assert registered(from_seed)['settings']['relay_url'] == 'https://relay.example.com:5001'
    assert registered(from_seed)['sources']['always_update'] == 'env IPAM_ALWAYS_UPDATE'
    assert not from_seed.warnings(), from_seed.warnings()
    assert os.stat(seed).st_mode & 0o777 == 0o600
