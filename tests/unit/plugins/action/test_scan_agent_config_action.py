# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller side of scan_agent_config: which file, and which local time zone."""

import os

import pytest

from ansible_collections.ipamkit.phpipam.plugins.action.scan_agent_config import (
    choose_config_path,
    detect_local_timezone,
    host_facts,
    utc_offset_name,
)


@pytest.mark.parametrize('path, environ, expected', [
    ('/srv/agent.yaml', {'PHPIPAM_SCAN_AGENT_CONFIG': '/etc/other.yaml'}, ('/srv/agent.yaml', True)),
    (None, {'PHPIPAM_SCAN_AGENT_CONFIG': '/etc/other.yaml'}, ('/etc/other.yaml', True)),
    (None, {'PHPIPAM_SCAN_AGENT_CONFIG': ' '}, ('/etc/phpipam/scan_agent.yaml', False)),
    (None, {}, ('/etc/phpipam/scan_agent.yaml', False)),
])
def test_config_path(path, environ, expected):
    assert choose_config_path(path, environ) == expected


def _zoneinfo_link(tmp_path, target):
    zone_file = tmp_path / 'usr' / 'share' / 'zoneinfo' / target
    zone_file.parent.mkdir(parents=True)
    zone_file.write_bytes(b'TZif')
    link = tmp_path / 'localtime'
    os.symlink(str(zone_file), str(link))
    return str(link)


def test_tz_variable_first(tmp_path):
    timezone_file = tmp_path / 'timezone'
    timezone_file.write_text('Europe/Berlin\n')
    assert detect_local_timezone({'TZ': ':America/New_York'}, str(timezone_file), str(tmp_path / 'none')) == \
        'America/New_York'


def test_etc_timezone_then_localtime_link(tmp_path):
    timezone_file = tmp_path / 'timezone'
    timezone_file.write_text('Europe/Berlin\n')
    link = _zoneinfo_link(tmp_path, 'Asia/Tokyo')
    assert detect_local_timezone({}, str(timezone_file), link) == 'Europe/Berlin'
    assert detect_local_timezone({}, str(tmp_path / 'missing'), link) == 'Asia/Tokyo'


def test_posix_prefix_of_the_link_is_dropped(tmp_path):
    link = _zoneinfo_link(tmp_path, 'posix/Australia/Adelaide')
    assert detect_local_timezone({}, str(tmp_path / 'missing'), link) == 'Australia/Adelaide'


def test_unknown_names_fall_back_to_the_utc_offset(tmp_path):
    timezone_file = tmp_path / 'timezone'
    timezone_file.write_text('Not/AZone\n')
    found = detect_local_timezone({'TZ': 'Nowhere/Land'}, str(timezone_file), str(tmp_path / 'missing'))
    assert found[0] in '+-' and found[3] == ':' and len(found) == 6


@pytest.mark.parametrize('seconds, name', [(0, '+00:00'), (7200, '+02:00'), (-34200, '-09:30'), (19800, '+05:30')])
def test_offset_names(seconds, name):
    assert utc_offset_name(seconds) == name


def test_host_facts():
    facts = host_facts('Europe/Berlin')
    assert facts['uid'] == os.geteuid() and facts['local_timezone'] == 'Europe/Berlin'
    assert facts['home'] == os.path.expanduser('~') and facts['file_exists'] is os.path.isfile
    assert isinstance(facts['run_lock_writable'], bool)
