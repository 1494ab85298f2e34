# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipamkit.phpipam.address through a real ansible-playbook run against the real phpIPAM 1.8.2."""

import pytest

from reservation_helpers import addresses, connection_vars, make_subnets  # pylint: disable=import-error

pytestmark = pytest.mark.integration


def test_address_lifecycle(phpipam, connection, run_playbook):
    ids = make_subnets(connection, ['198.18.1.0/27', 'fd00:18::/64'])
    run = run_playbook('address_lifecycle.yml', extra_vars=connection_vars(connection))
    assert run.returncode == 0, run.output[-3000:]
    assert not run.warnings(), run.warnings()

    created = run.result('Create')
    assert created['changed'] is True
    addr = created['address']
    assert (addr['ip'], addr['subnetId'], addr['hostname'], addr['mac'], addr['tag']) == (
        '198.18.1.10', ids['198.18.1.0/27'], 'db1.example.test', '02:00:5e:10:00:0a', 3)
    assert (addr['owner'], addr['note'], addr['excludePing'], addr['is_gateway'], addr['custom_asset']) == (
        'team-db', 'first note', True, False, 'A-0042')
    assert created['diff']['before'] == {} and created['diff']['after']['hostname'] == 'db1.example.test'
    assert run.result('Create again')['changed'] is False

    check = run.result('Update in check mode')
    assert check['changed'] is True and check['address']['description'] == 'database one'
    assert check['diff'] == {'before': {'description': 'database 1'}, 'after': {'description': 'database one'}}
    assert run.result('After check mode')['msg']['description'] == 'database 1'

    update = run.result('Update by hostname')
    assert update['changed'] is True
    assert update['diff'] == {'before': {'description': 'database 1', 'is_gateway': False},
                              'after': {'description': 'database one', 'is_gateway': True}}
    after = run.result('After update')['msg']
    # phpIPAM 1.8.2 resets the tag to Used on a PATCH without it: the module resends it.
    assert (after['description'], after['is_gateway'], after['tag'], after['mac']) == (
        'database one', True, 3, '02:00:5e:10:00:0a')

    v6 = run.result('Create without subnet')['address']
    assert v6['subnetId'] == ids['fd00:18::/64'] and v6['ip'] == 'fd00:18::20'

    assert run.result('Delete in check mode')['changed'] is True
    delete = run.result('Delete')
    assert delete['changed'] is True and delete['diff']['before']['ip'] == '198.18.1.10'
    assert run.result('Delete again')['changed'] is False

    errors = [r['msg'] for r in run.result('Bad input')['results']]
    assert errors == [
        "address 198.18.1.11: mac '02:00:5e:zz:00:0b' is not a MAC address (use 6 hex pairs, e.g. 02:00:5e:10:00:01)"
        '; nothing was changed',
        "address 198.18.1.12: tag 'Parked' is not an address tag in phpIPAM (tags: DHCP, Offline, Reserved, Used)"
        '; nothing was changed',
        'address 198.18.9.1: subnet 198.18.9.0/24 does not exist in phpIPAM; nothing was changed',
        'address 198.18.2.1: 198.18.2.1 is not inside subnet 198.18.1.0/27; nothing was changed',
        "address 198.18.1.300: ip '198.18.1.300' is not an IP address; nothing was changed",
        'address 198.18.1.31: 198.18.1.31 is the broadcast address of subnet 198.18.1.0/27 and cannot be an address'
        '; nothing was changed',
        'address 198.18.1.13: custom_nope is not a custom field of phpIPAM addresses (custom fields: custom_asset, '
        'custom_host_facts, custom_ssh_jump, custom_ssh_user); nothing was changed',
        'address with hostname nobody.example.test: no address in 198.18.1.0/27 has hostname nobody.example.test; '
        'give ip to create one; nothing was changed',
    ]
    assert addresses(connection, ids['198.18.1.0/27']) == []
    assert [a['ip'] for a in addresses(connection, ids['fd00:18::/64'])] == ['fd00:18::20']
