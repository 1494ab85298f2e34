# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phpipam lookup through real ansible-playbook runs against the real phpIPAM 1.8.2."""

import pytest

from integration_helpers import connection_env  # pylint: disable=import-error

pytestmark = pytest.mark.integration


def _vars(connection, phpipam):
    return {'phpipam_url': connection['url'], 'phpipam_app_id': connection['app_id'],
            'phpipam_token': connection['token'], 'phpipam_ca_path': connection['ca_path'],
            'agent_id': phpipam.agents['demo-agent']['id']}


@pytest.mark.smoke
def test_lookup_reads_normalised_objects(phpipam, connection, run_playbook):
    run = run_playbook('lookup.yml', extra_vars=_vars(connection, phpipam))
    assert run.returncode == 0, run.output
    subnet = run.result('Subnet by CIDR')['msg']
    assert subnet['id'] == phpipam.subnets['127.0.10.0/24'] and subnet['mask'] == 24
    assert subnet['pingSubnet'] is True and subnet['description'] == 'lab scan net'
    assert sorted(run.result('Section names')['msg']) == ['Customers', 'IPv6', 'Lab']
    agent_subnets = run.result('Subnets of the demo agent')['msg']
    assert sorted((s['net'], s['mask']) for s in agent_subnets) == [
        ('127.0.10.0', 24), ('127.0.20.0', 28), ('127.40.1.0', 24)]
    assert run.result('Several paths at once')['msg'] == ['gw.lab.test', 'host5.lab.test']
    assert run.result('Nothing found')['msg'] == []
    assert run.result('Refused path with errors=warn')['msg'] == []
    assert run.result('Refused path with errors=ignore')['msg'] == []
    # Ansible's own errors=warn prints the lookup's message (worded differently by 2.16 and 2.19).
    assert len(run.warnings()) == 1
    assert "lookup of 'subnets/999999': phpIPAM refused GET /api/ansible_rw/subnets/999999/: HTTP 400 " \
        "Invalid subnet Id (999999)" in run.output
    error = run.result('Refused path is an error by default')
    assert run.status('Refused path is an error by default') == 'failed' and 'HTTP 400 Invalid subnet Id (999999)' in error['msg']
    assert connection['token'] not in run.output


def test_lookup_takes_the_connection_from_the_environment(phpipam, connection, run_playbook):
    run = run_playbook('lookup.yml', env=connection_env(connection), extra_vars={'agent_id': phpipam.agents['demo-agent']['id']})
    assert run.result('Subnet by CIDR')['msg']['description'] == 'lab scan net'


def test_lookup_wrong_token_is_explained(phpipam, connection, run_playbook):
    settings = dict(_vars(connection, phpipam), phpipam_token='wrong-token-0123456789')
    run = run_playbook('lookup.yml', extra_vars=settings)
    assert run.returncode != 0
    first = run.result('Subnet by CIDR')
    assert run.status('Subnet by CIDR') == 'failed' and "The token was refused by API app 'ansible_rw'" in first['msg']
    assert 'wrong-token-0123456789' not in run.output
