# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin behind ipamkit.phpipam.scan_agent_config: runs on the controller.

It is the one place that reads the scan agent's config file, the environment and facts about
the host (user, home, lock directory, local time zone); module_utils/agent_config.py merges and
validates them. The settings hold the phpIPAM token, so a successful result is marked no_log:
the registered variable keeps the values, the screen shows the censored message. A failed
result is not censored and holds no secret.
"""

import os
import re
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import (
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    ConfigError,
    load_agent_settings,
    read_config_file,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import TimeZoneError, get_zone

display = Display()

ARGUMENT_SPEC = dict(
    path=dict(type='path'),
    overrides=dict(type='dict'),
    vars_prefix=dict(type='str'),
    vars_ignore=dict(type='list', elements='str', default=[]),
    local_timezone=dict(type='str'),
)

RUN_LOCK_DIR = '/run/lock'


def choose_config_path(path, environ):
    """(path, required): the ``path`` option, else $PHPIPAM_SCAN_AGENT_CONFIG, else the default (may be missing)."""
    if path:
        return path, True
    named = (environ.get(CONFIG_PATH_ENV) or '').strip()
    if named:
        return os.path.expanduser(named), True
    return DEFAULT_CONFIG_PATH, False


def _valid_zone(name):
    if not name:
        return None
    try:
        get_zone(name)
    except TimeZoneError:
        return None
    return name


def utc_offset_name(seconds):
    sign = '-' if seconds < 0 else '+'
    minutes = abs(int(seconds)) // 60
    return '%s%02d:%02d' % (sign, minutes // 60, minutes % 60)


def detect_local_timezone(environ=None, timezone_file='/etc/timezone', localtime='/etc/localtime'):
    """The controller's time zone: an IANA name if one can be found, else the current UTC offset."""
    environ = os.environ if environ is None else environ
    candidates = [(environ.get('TZ') or '').lstrip(':').strip()]
    try:
        with open(timezone_file, encoding='utf-8') as handle:
            candidates.append(handle.readline().strip())
    except (OSError, UnicodeDecodeError):
        pass
    if os.path.islink(localtime):
        target = os.path.realpath(localtime)
        match = re.search(r'/zoneinfo/(?:posix/|right/)?(.+)$', target)
        if match:
            candidates.append(match.group(1))
    for name in candidates:
        if '/' in name or name == 'UTC':
            if _valid_zone(name):
                return name
    return utc_offset_name(time.localtime().tm_gmtoff)


def host_facts(local_timezone=None):
    uid = os.geteuid()
    return {
        'uid': uid,
        'home': os.path.expanduser('~'),
        'run_lock_writable': os.path.isdir(RUN_LOCK_DIR) and os.access(RUN_LOCK_DIR, os.W_OK),
        'local_timezone': local_timezone or detect_local_timezone(),
        'file_exists': os.path.isfile,
    }


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def _overrides(self, args, task_vars):
        """``overrides``, or else every variable named <vars_prefix><setting> (extra vars, play or inventory vars)."""
        if args['overrides'] or not args['vars_prefix']:
            return args['overrides']
        prefix = args['vars_prefix']
        ignored = set(args['vars_ignore'])
        found = {}
        for name in task_vars:
            if not name.startswith(prefix) or name[len(prefix):] in ignored:
                continue
            value = self._templar.template(task_vars[name])
            if value is not None:
                found[name[len(prefix):]] = value
        return found

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        path, required = choose_config_path(args['path'], os.environ)
        config_path = None
        try:
            config = read_config_file(path, required)
            if config is not None:
                config_path = config['path']
            loaded = load_agent_settings(
                file_data=config['data'] if config else None,
                file_path=config_path,
                file_mode=config['mode'] if config else None,
                env=dict(os.environ),
                overrides=self._overrides(args, task_vars or {}),
                overrides_prefix=args['vars_prefix'] if not args['overrides'] else None,
                host=host_facts(args['local_timezone']),
            )
        except ConfigError as exc:
            # Shown in full: messages never hold a secret.
            result.update(failed=True, changed=False, msg=str(exc), problems=exc.problems,
                          config_path=config_path if config_path else (path if required else None))
            return result
        for warning in loaded['warnings']:
            display.warning(warning)
        result.update(
            changed=False,
            settings=loaded['settings'],
            sources=loaded['sources'],
            config_path=config_path,
            warnings=list(loaded['warnings']),
            msg='scan agent settings loaded (%s mode) from %s' % (
                loaded['settings']['mode'], config_path or 'the environment and overrides'),
            # The settings hold the token and password: keep them off the screen and out of logs.
            _ansible_no_log=True,
        )
        return result
