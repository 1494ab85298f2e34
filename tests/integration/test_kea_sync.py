# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipamkit.phpipam.kea_sync against real Kea 2.2, the real phpIPAM 1.8.2 and real DHCP clients.

The LAN 198.18.77.0/24 lives in network namespaces (tests/harness/netlan.py): kea-dhcp4 answers DHCP
only inside the namespace of host ``kea``; its Control Agent listens on 127.0.0.1. A second kea-dhcp4
without any interface plays the other member of an HA pair. busybox udhcpc runs in the client
namespaces with chosen MACs.
"""

import json
import os
import sys

import pytest

from integration_helpers import connection_env, unavailable  # pylint: disable=import-error
from reservation_helpers import client, connection_vars  # pylint: disable=import-error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness'))

import kea as kea_harness  # noqa: E402  pylint: disable=import-error,wrong-import-position
from netlan import HostSpec, Lan  # noqa: E402  pylint: disable=import-error,wrong-import-position

pytestmark = [pytest.mark.integration, pytest.mark.netns]

LAN = '198.18.77.0/24'
RESERVED_MAC = '02:4b:00:00:00:11'
POOL_MAC = '02:4b:00:00:00:12'
UNMANAGED = {'id': 9000, 'subnet': '198.19.250.0/24', 'pools': [{'pool': '198.19.250.100 - 198.19.250.150'}],
             'user-context': {'note': 'configured by hand'},
             'reservations': [{'hw-address': '02:00:00:00:fa:05', 'ip-address': '198.19.250.5', 'hostname': 'manual'}]}
CUSTOM_FIELDS = (('dhcp', 'VARCHAR(8)'), ('dhcp_domain', 'VARCHAR(64)'), ('dhcp_lease', 'VARCHAR(16)'))


@pytest.fixture(scope='module')
def kea_lan(netns_ready, tmp_path_factory):  # pylint: disable=unused-argument
    ok, reason = kea_harness.can_run()
    if not ok:
        unavailable('Kea', reason)
    kea_harness.install_packages()
    workdir = tmp_path_factory.mktemp('kea')
    hosts = [HostSpec('kea', ipv4='198.18.77.3', ipv6=False, mac='02:4b:00:00:00:03'),
             HostSpec('c1', ipv4=False, ipv6=False, mac=RESERVED_MAC),
             HostSpec('c2', ipv4=False, ipv6=False, mac=POOL_MAC)]
    with Lan(ipv4=LAN, ipv6=None, dns=False, hosts=hosts) as lan:
        with kea_harness.KeaServer(lan, 'kea', workdir, name='kea1') as primary, \
                kea_harness.KeaServer(lan, 'kea', workdir, interfaces=[], name='kea2') as standby:
            yield {'lan': lan, 'kea': [primary, standby], 'dir': workdir}


@pytest.fixture
def kea(kea_lan):
    for server in kea_lan['kea']:
        server.reset([UNMANAGED])
    return kea_lan


@pytest.fixture
def subnet_fields(harness, phpipam):  # pylint: disable=unused-argument
    """Subnet custom fields dhcp, dhcp_domain and dhcp_lease (phpIPAM custom fields are table columns)."""
    harness.sql('ALTER TABLE `subnets` ' + ', '.join('ADD COLUMN IF NOT EXISTS `%s` %s NULL DEFAULT NULL' % field
                                                     for field in CUSTOM_FIELDS))
    yield
    # ALGORITHM=COPY rebuilds the table: MariaDB's instant DROP COLUMN keeps the dropped columns in the row
    # format, and after a few dozen add/drop rounds ADD COLUMN fails with "Row size too large".
    harness.sql('ALTER TABLE `subnets` ' + ', '.join('DROP COLUMN IF EXISTS `%s`' % name for name, _type in CUSTOM_FIELDS)
                + ', ALGORITHM=COPY')


def make_dhcp_subnet(connection, phpipam, gateway=True, lease=None, cidr=LAN, dhcp='yes'):
    """The test LAN in phpIPAM: gateway .1, c1 reserved at .20 (a name a person typed), DHCP pool .100-.110."""
    net, mask = cidr.split('/')
    prefix = net.rsplit('.', 1)[0]
    with client(connection) as api:
        fields = {'subnet': net, 'mask': int(mask), 'sectionId': phpipam.sections['Lab'], 'description': 'kea lan',
                  'nameserverId': phpipam.nameservers['lab-dns'], 'dhcp': dhcp, 'dhcp_domain': 'kea.test'}
        if lease:
            fields['dhcp_lease'] = str(lease)
        subnet_id = api.create('subnets', fields).id
        if gateway:
            api.create('addresses', {'ip': prefix + '.1', 'subnetId': subnet_id, 'is_gateway': 1, 'hostname': 'gw'})
        api.create('addresses', {'ip': prefix + '.20', 'subnetId': subnet_id, 'mac': RESERVED_MAC,
                                 'hostname': 'c1-desk.kea.test', 'tag': 2})
        for last in range(100, 111):
            api.create('addresses', {'ip': '%s.%d' % (prefix, last), 'subnetId': subnet_id, 'tag': 4})
    return subnet_id


def sync_vars(connection, kea, **extra):
    variables = dict(connection_vars(connection), kea_servers=[s.as_server() for s in kea['kea']])
    variables.update(('kea_' + key, value) for key, value in extra.items())
    return variables


def managed(server, subnet_id):
    return [s for s in server.config()['subnet4'] if s['id'] == subnet_id]


def unmanaged_json(server):
    return json.dumps([s for s in server.config()['subnet4'] if s['id'] == 9000], sort_keys=True)


def address(connection, subnet_id, ip):
    with client(connection) as api:
        return api.get_list('subnets/%d/addresses/%s' % (subnet_id, ip))[0]


def test_sync_serves_phpipam_addresses_to_real_clients_and_leases_come_back(phpipam, connection, subnet_fields,
                                                                            kea, run_playbook):  # pylint: disable=unused-argument
    subnet_id = make_dhcp_subnet(connection, phpipam)
    make_dhcp_subnet(connection, phpipam, cidr='198.18.78.0/24', dhcp='no')  # not selected
    primary, standby = kea['kea']
    before = [s.config() for s in kea['kea']]
    variables = sync_vars(connection, kea)

    check = run_playbook('kea_sync.yml', extra_vars=variables, check=True, diff=True)
    assert check.returncode == 0, check.output[-3000:]
    result = check.result('Sync')
    assert result['changed'] is True
    assert 'config-set' not in result['kea_commands'] and result['kea_commands']['config-test'] == 2
    assert '  reservation 198.18.77.20 hw-address=%s hostname=c1-desk.kea.test' % RESERVED_MAC in \
        result['diff'][0]['after']
    assert [s.config() for s in kea['kea']] == before, 'check mode changed Kea'

    run = run_playbook('kea_sync.yml', extra_vars=variables)
    assert run.returncode == 0, run.output[-3000:]
    assert not run.warnings(), run.warnings()
    result = run.result('Sync')
    assert result['changed'] is True
    assert result['kea_commands'] == {'config-get': 2, 'config-test': 2, 'config-set': 2, 'config-write': 2}
    assert [[(c['id'], c['action']) for c in s['subnets']] for s in result['servers']] == [[(subnet_id, 'create')]] * 2
    for server in (primary, standby):
        subnet = managed(server, subnet_id)[0]
        assert subnet['subnet'] == LAN and subnet['pools'][0]['pool'] == '198.18.77.100-198.18.77.110'
        assert subnet['user-context']['ipamkit']['phpipam_subnet_id'] == subnet_id
        assert unmanaged_json(server) == json.dumps([s for s in before[0]['subnet4'] if s['id'] == 9000],
                                                    sort_keys=True)
        assert [s['subnet'] for s in server.config()['subnet4']] == [LAN, '198.19.250.0/24']
    with open(primary.config_path, encoding='utf-8') as handle:
        assert subnet_id in [s['id'] for s in json.load(handle)['Dhcp4']['subnet4']], 'config-write did not save'

    reserved = kea_harness.dhcp_client(kea['lan'], 'c1', kea['dir'], hostname='c1')
    assert (reserved['ip'], reserved['router'], reserved['dns'], reserved['domain']) == (
        '198.18.77.20', '198.18.77.1', '127.0.0.1', 'kea.test')
    pooled = kea_harness.dhcp_client(kea['lan'], 'c2', kea['dir'], hostname='laptop-c2')
    assert pooled['ip'] in ['198.18.77.%d' % n for n in range(100, 111)]

    again = run_playbook('kea_sync.yml', extra_vars=variables)
    result = again.result('Sync')
    assert result['changed'] is False and result['kea_commands'] == {'config-get': 2}

    leases = run_playbook('kea_sync.yml', extra_vars=dict(variables, kea_reverse_sync=True))
    assert leases.returncode == 0, leases.output[-3000:]
    result = leases.result('Sync')
    assert result['changed'] is True and result['phpipam_writes'] == 2
    c1 = address(connection, subnet_id, '198.18.77.20')
    assert (c1['hostname'], c1['mac'], c1['tag']) == ('c1-desk.kea.test', RESERVED_MAC, 2)
    assert c1['lastSeen']
    c2 = address(connection, subnet_id, pooled['ip'])
    assert (c2['hostname'], c2['mac'], c2['tag']) == ('laptop-c2', POOL_MAC, 4)

    last = run_playbook('kea_sync.yml', extra_vars=dict(variables, kea_reverse_sync=True))
    result = last.result('Sync')
    assert result['changed'] is False and result['phpipam_writes'] == 0
    assert result['kea_commands'] == {'config-get': 2, 'lease4-get-all': 2}


def test_a_lease_of_an_address_phpipam_does_not_know_is_created_with_the_dhcp_tag(phpipam, connection, subnet_fields,
                                                                                  kea, run_playbook):  # pylint: disable=unused-argument
    subnet_id = make_dhcp_subnet(connection, phpipam)
    variables = sync_vars(connection, kea, reverse_sync=True)
    assert run_playbook('kea_sync.yml', extra_vars=variables).returncode == 0
    # A lease from before the pool shrank: Kea still has it, phpIPAM has no address there.
    answer = kea['kea'][0].command('lease4-add', {'ip-address': '198.18.77.150', 'hw-address': '02:4b:00:00:01:50',
                                                  'hostname': 'old-laptop', 'subnet-id': subnet_id})
    assert answer[0]['result'] == 0, answer
    run = run_playbook('kea_sync.yml', extra_vars=variables)
    result = run.result('Sync')
    assert result['changed'] is True and result['leases']['totals']['created'] == 1
    created = address(connection, subnet_id, '198.18.77.150')
    assert (created['hostname'], created['mac'], created['tag'], created['description']) == (
        'old-laptop', '02:4b:00:00:01:50', 4, '-- kea lease --')


def test_config_test_refusal_applies_nothing_and_names_the_phpipam_subnet(phpipam, connection, subnet_fields, kea,
                                                                          run_playbook):  # pylint: disable=unused-argument
    for server in kea['kea']:
        server.reset([UNMANAGED], **{'max-valid-lifetime': 7200})
    before = [s.config() for s in kea['kea']]
    subnet_id = make_dhcp_subnet(connection, phpipam, lease=86400)
    run = run_playbook('kea_sync.yml', extra_vars=sync_vars(connection, kea))
    assert run.returncode != 0
    result = run.result('Sync')
    assert run.status('Sync') == 'failed'
    assert 'valid-lifetime (86400) is not less than max-valid-lifetime (7200)' in result['msg']
    assert 'phpIPAM subnet 198.18.77.0/24 (id %d): valid-lifetime 86400' % subnet_id in result['msg']
    assert 'Nothing was applied on any Kea server' in result['msg']
    assert [s.config() for s in kea['kea']] == before


def test_bad_phpipam_data_is_skipped_with_a_warning_or_fails_in_strict_mode(phpipam, connection, subnet_fields, kea,
                                                                            run_playbook):  # pylint: disable=unused-argument
    subnet_id = make_dhcp_subnet(connection, phpipam, gateway=False)
    before = [s.config() for s in kea['kea']]
    run = run_playbook('kea_sync.yml', extra_vars=sync_vars(connection, kea))
    assert run.returncode == 0, run.output[-3000:]
    problem = 'phpIPAM subnet 198.18.77.0/24 (id %d) has no gateway' % subnet_id
    assert any(problem in line for line in run.warnings()), run.warnings()
    assert run.result('Sync')['changed'] is False

    strict = run_playbook('kea_sync.yml', extra_vars=sync_vars(connection, kea, strict=True))
    result = strict.result('Sync')
    assert strict.status('Sync') == 'failed' and problem in result['msg'] and 'nothing was sent to Kea' in result['msg']
    assert [s.config() for s in kea['kea']] == before


def test_unreachable_kea_is_a_clear_error(phpipam, connection, subnet_fields, run_playbook):  # pylint: disable=unused-argument
    port = kea_harness.free_port()
    variables = dict(connection_vars(connection), kea_servers=[{'url': 'http://127.0.0.1:%d/' % port,
                                                                'username': 'u', 'password': 'secret-pw-1'}])
    run = run_playbook('kea_sync.yml', extra_vars=variables)
    result = run.result('Sync')
    assert run.status('Sync') == 'failed'
    assert result['msg'].startswith('cannot reach Kea Control Agent http://127.0.0.1:%d/ for config-get' % port)
    assert 'secret-pw-1' not in run.output


def test_the_collection_playbook_and_role_over_tls(harness, phpipam, connection, subnet_fields, kea_lan,
                                                   tmp_path, run_playbook):  # pylint: disable=unused-argument
    subnet_id = make_dhcp_subnet(connection, phpipam)
    cert, key = harness.issue_leaf_cert(str(tmp_path / 'tls'))
    with kea_harness.KeaServer(kea_lan['lan'], 'kea', tmp_path, interfaces=[], name='kea-tls',
                               tls=(cert, key, phpipam.ca_path)) as server:
        assert server.url.startswith('https://')
        run = _run_role(connection, server, run_playbook)
        assert run.returncode == 0, run.output[-3000:]
        assert not run.warnings(), run.warnings()
        assert run.result('Sync phpIPAM to Kea')['changed'] is True
        assert managed(server, subnet_id)[0]['reservations'][0]['ip-address'] == '198.18.77.20'
        assert 'Kea %s: 1 subnet(s) created' % server.url in run.output

        untrusted = _run_role(connection, dict(server.as_server(), ca_path=None), run_playbook)
        result = untrusted.result('Sync phpIPAM to Kea')
        assert untrusted.status('Sync phpIPAM to Kea') == 'failed'
        assert result['msg'].startswith('TLS verification of Kea Control Agent %s failed' % server.url)


def _run_role(connection, server, run_playbook):
    server = server.as_server() if hasattr(server, 'as_server') else dict((k, v) for k, v in server.items() if v)
    return run_playbook('ipamkit.phpipam.kea_sync', env=connection_env(connection), extra_vars={
        'kea_sync_servers': [server], 'kea_sync_section': 'Lab', 'kea_sync_subnet_field': 'dhcp',
        'kea_sync_reverse_sync': True})
