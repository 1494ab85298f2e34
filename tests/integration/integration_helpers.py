# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for integration tests: playbook results, connection environments, missing parts."""

import os

import pytest


def unavailable(what, reason):
    """Skip the test, or fail it where integration tests are required (CI: IPAMKIT_REQUIRE_INTEGRATION=1)."""
    if os.environ.get('IPAMKIT_REQUIRE_INTEGRATION') == '1':
        pytest.fail('%s cannot run, and IPAMKIT_REQUIRE_INTEGRATION=1: %s' % (what, reason), pytrace=False)
    pytest.skip('%s unavailable: %s' % (what, reason))


class PlaybookRun(object):
    """What one ansible-playbook run showed: exit code, output, and every task's result."""

    def __init__(self, returncode, stdout, stderr, records):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.records = records

    @property
    def output(self):
        return self.stdout + self.stderr

    def _matching(self, task):
        """Records of ``task``; tasks of a role are also found without their "role : " prefix."""
        return [r for r in self.records if r['task'] == task or r['task'].endswith(' : ' + task)]

    def result(self, task):
        matches = self._matching(task)
        assert matches, 'no result for task %r; tasks run: %s\n%s' % (
            task, [r['task'] for r in self.records], self.output[-3000:])
        return matches[-1]['result']

    def status(self, task):
        matches = self._matching(task)
        assert matches, 'task %r did not run; tasks run: %s' % (task, [r['task'] for r in self.records])
        return matches[-1]['status']

    def warnings(self):
        return [line for line in self.output.splitlines() if '[WARNING]' in line]


def connection_env(connection):
    """PHPIPAM_* environment for a connection dict."""
    names = {'url': 'PHPIPAM_URL', 'app_id': 'PHPIPAM_APP_ID', 'token': 'PHPIPAM_TOKEN', 'ca_path': 'PHPIPAM_CA_PATH',
             'username': 'PHPIPAM_USERNAME', 'password': 'PHPIPAM_PASSWORD'}
    return dict((names[k], v) for k, v in connection.items() if k in names and v is not None)
