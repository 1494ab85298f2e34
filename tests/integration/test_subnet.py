# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipamkit.phpipam.subnet through a real ansible-playbook run against the real phpIPAM 1.8.2."""

import pytest

from reservation_helpers import client, connection_vars, make_subnets  # pylint: disable=import-error

pytestmark = pytest.mark.integration


def test_subnet_lifecycle(phpipam, connection, run_playbook):
    parent = make_subnets(connection, ['fd00:18::/48'])['fd00:18::/48']
    run = run_playbook('subnet_lifecycle.yml', extra_vars=connection_vars(connection))
    assert run.returncode == 0, run.output[-3000:]
    assert not run.warnings(), run.warnings()

    created = run.result('Create')
    subnet = created['subnet']
    assert created['changed'] is True
    assert (subnet['cidr'], subnet['sectionId'], subnet['description'], subnet['metadata']) == (
        '198.18.2.0/27', phpipam.sections['Lab'], 'web tier A', {'pool': 'web', 'rack': 7})
    assert (subnet['vlanId'], subnet['nameserverId'], subnet['scanAgent']) == (
        phpipam.vlans['lab'], phpipam.nameservers['lab-dns'], phpipam.agents['demo-agent']['id'])
    assert (subnet['pingSubnet'], subnet['discoverSubnet'], subnet['resolveDNS']) == (True, True, False)
    assert created['diff']['before'] == {} and created['diff']['after']['mask'] == 27
    assert run.result('Create again')['changed'] is False

    check = run.result('Change in check mode')
    assert check['changed'] is True
    assert check['diff']['before']['scanAgent'] == phpipam.agents['demo-agent']['id']
    assert check['diff']['after']['description'] == 'web tier B [ipamkit:{"pool":"web","rack":7}]'
    stored = run.result('After check mode')['msg']
    assert stored['description'] == 'web tier A [ipamkit:{"pool":"web","rack":7}]' and stored['scanAgent'] == 2

    meta = run.result('Change metadata only')
    assert meta['changed'] is True and meta['subnet']['description'] == 'web tier A'
    assert meta['subnet']['metadata'] == {'pool': 'db'} and meta['subnet']['isFull'] is True

    nested = run.result('Nested IPv6 subnet')['subnet']
    assert nested['masterSubnetId'] == parent and nested['cidr'] == 'fd00:18:0:1::/64'

    refused = run.result('Delete with addresses')
    assert run.status('Delete with addresses') == 'failed'
    assert refused['msg'] == ('subnet 198.18.2.0/27: it holds 1 address, which phpIPAM would delete with it; set force: '
                              'true to delete them too; nothing was changed')
    assert run.result('Delete in check mode')['changed'] is True
    deleted = run.result('Delete with force')
    assert deleted['changed'] is True and deleted['diff']['before']['addresses'] == 1
    assert run.result('Delete again')['changed'] is False

    errors = [r['msg'] for r in run.result('Bad input')['results']]
    assert errors == [
        "subnet 198.18.3.0/27: section 'Nowhere' does not exist in phpIPAM (sections: Customers, IPv6, Lab); "
        'nothing was changed',
        "subnet 198.18.3.1/27: cidr '198.18.3.1/27' has host bits set: the network is 198.18.3.0/27; nothing was changed",
        "subnet 198.18.3: cidr '198.18.3' is not a CIDR (address/prefix length); nothing was changed",
        "subnet 198.18.3.0/27: VLAN '4094' does not exist in phpIPAM (give its number, name, or id:<id>); "
        'nothing was changed',
        "subnet 198.18.3.0/27: scan agent 'ghost-agent' does not exist in phpIPAM (agents: demo-agent, idle-agent, "
        'localhost); nothing was changed',
        "subnet 198.18.3.0/27: name server set 'no-such-dns' does not exist in phpIPAM (sets: Google NS, lab-dns); "
        'nothing was changed',
        'subnet 198.18.3.0/27: custom_x is not a custom field of phpIPAM subnets (custom fields: custom_ssh_jump, custom_ssh_user); '
        'nothing was changed',
    ]
    with client(connection) as api:
        cidrs = sorted('%s/%s' % (s['subnet'], s['mask']) for s in api.get_list('sections/%d/subnets' % phpipam.sections['Lab'])
                       if s.get('subnet') and s['subnet'].startswith(('198.18.', 'fd00:18')))
    assert cidrs == ['fd00:18:0:1::/64', 'fd00:18::/48']
