# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inventory plugin ipamkit.phpipam.phpipam through real ansible-inventory and ansible-playbook runs
against the real phpIPAM 1.8.2, with a site seeded through the API in each test (inventory_helpers.py)."""

import os
import re
import socket
import subprocess

import pytest

from inventory_helpers import (  # pylint: disable=import-error
    BIN,
    DESCRIPTION_WITH_TEMPLATE,
    SITE_HOSTS,
    api_client,
    connection_settings,
    run_inventory,
    run_playbook_on_inventory,
    seed_site,
)

pytestmark = pytest.mark.integration

COLLECTION_PATHS = ['addresses', 'devices', 'folders', 'sections', 'subnets', 'tools/locations', 'tools/tags', 'vlans']


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def refresh_args(cache_dir):
    """ansible-inventory arguments that bypass the cache: --flush-cache (2.17+), or an emptied cache (2.16)."""
    usage = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '--help'], capture_output=True, text=True,
                           check=False).stdout
    if '--flush-cache' in usage:
        return ['--list', '--flush-cache']
    for name in os.listdir(cache_dir):
        os.unlink(os.path.join(cache_dir, name))
    return ['--list']


def site(phpipam, **options):
    return dict(connection_settings(phpipam), sections=['Inventory'], **options)


def api_gets(proxy):
    """The collection paths of the GETs the proxy saw, e.g. 'tools/tags'."""
    paths = []
    for request in proxy.requests:
        assert request.method == 'GET', request.method
        paths.append(re.sub(r'^/api/ansible_rw/', '', request.path.split('?')[0]).strip('/'))
    return sorted(paths)


@pytest.mark.smoke
def test_list_hosts_groups_and_variables(phpipam, tmp_path):
    ids = seed_site(phpipam)
    run = run_inventory(tmp_path, site(phpipam))
    assert run.returncode == 0, run.output
    assert run.hosts() == SITE_HOSTS

    app2 = run.hostvars('app2.inv.test')
    assert app2['ansible_host'] == '198.18.40.11'
    assert dict((k, app2[k]) for k in ('phpipam_description', 'phpipam_tag', 'phpipam_subnet', 'phpipam_section',
                                       'phpipam_vlan', 'phpipam_vlan_name', 'phpipam_device', 'phpipam_location',
                                       'phpipam_mac', 'phpipam_custom_fields', 'phpipam_id', 'phpipam_is_gateway')) == {
        'phpipam_description': DESCRIPTION_WITH_TEMPLATE, 'phpipam_tag': 'Reserved', 'phpipam_subnet': '198.18.40.0/24',
        'phpipam_section': 'Inventory', 'phpipam_vlan': 40, 'phpipam_vlan_name': 'inv', 'phpipam_device': 'hv-inv1',
        'phpipam_location': 'Rack Room 2', 'phpipam_mac': '02:00:00:40:00:11',
        'phpipam_custom_fields': {'custom_asset': 'INV-2'}, 'phpipam_id': ids['addresses']['198.18.40.11'],
        'phpipam_is_gateway': False,
    }
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$', app2['phpipam_last_seen'])
    # No hostname: named by its IP. Two addresses named web.inv.test: the IPv4 one is the host.
    assert run.hostvars('198.18.40.30')['phpipam_hostname'] is None
    assert run.hostvars('web.inv.test')['ansible_host'] == '198.18.40.40'
    assert run.hostvars('web.inv.test')['phpipam_other_ips'] == ['fd00:40::40']

    lan = sorted(set(SITE_HOSTS) - {'bastion.inv.test'})
    assert run.group('phpipam_section_inventory') == SITE_HOSTS
    assert run.group('phpipam_subnet_198_18_40_0_24') == lan
    assert run.group('phpipam_subnet_198_18_41_0_24') == ['bastion.inv.test']
    assert run.group('phpipam_vlan_40') == lan
    assert run.group('phpipam_location_rack_room_2') == lan
    assert run.group('phpipam_tag_reserved') == ['app2.inv.test']
    assert run.group('phpipam_tag_offline') == ['198.18.40.30']
    assert run.group('phpipam_tag_dhcp') == ['gone.inv.test']
    assert 'phpipam_section_lab' not in run.data

    # SSH: a two-level chain, users from the hosts' and subnets' custom fields.
    app1 = run.hostvars('app1.inv.test')
    assert app1['ansible_ssh_common_args'] == '-o ProxyJump=jumper@198.18.41.1,ops@198.18.40.1'
    assert app1['ansible_user'] == 'ops' and app1['phpipam_jump_hops'] == ['jumper@198.18.41.1', 'ops@198.18.40.1']
    assert run.hostvars('inner-jump.inv.test')['ansible_ssh_common_args'] == '-o ProxyJump=jumper@198.18.41.1'
    assert 'ansible_ssh_common_args' not in run.hostvars('bastion.inv.test')
    assert run.hostvars('bastion.inv.test')['ansible_user'] == 'jumper'
    # The loop and the missing jump host: warned about by name, kept without ProxyJump.
    for name in ('loop-a.inv.test', 'loop-b.inv.test', 'gone.inv.test'):
        assert 'ansible_ssh_common_args' not in run.hostvars(name)
    warnings = run.warnings()
    assert len(warnings) == 3, run.output
    assert any('SSH jump path of loop-a.inv.test: jump loop: loop-a.inv.test (198.18.40.20) -> loop-b.inv.test '
               '(198.18.40.21) -> loop-a.inv.test' in w for w in warnings), warnings
    assert any("SSH jump path of gone.inv.test: jump host 'nosuch.inv.test' of gone.inv.test (198.18.40.50) is not in "
               "phpIPAM; the host is kept without ProxyJump" in w for w in warnings), warnings

    graph = run_inventory(tmp_path, site(phpipam), '--graph')
    assert graph.returncode == 0, graph.output
    assert '@phpipam_subnet_198_18_41_0_24:\n  |  |--bastion.inv.test' in graph.stdout
    assert '|--@phpipam_section_inventory:' in graph.stdout


def test_filters(phpipam, tmp_path):
    ids = seed_site(phpipam)
    cases = [
        ({'subnets': ['198.18.41.0/24']}, ['bastion.inv.test']),
        ({'subnets': [str(ids['dmz']), '198.18.40.16/28']},
         ['198.18.40.30', 'bastion.inv.test', 'loop-a.inv.test', 'loop-b.inv.test']),
        ({'subnets': ['fd00:40::/64']}, ['web.inv.test']),
        ({'tags': ['Reserved', 'offline']}, ['198.18.40.30', 'app2.inv.test']),
        ({'tags': ['4']}, ['gone.inv.test']),
        ({'custom_fields': {'asset': ['INV-1', 'INV-2']}}, ['app1.inv.test', 'app2.inv.test']),
        # inherited from the subnet: every host of the LAN that has no value of its own
        ({'custom_fields': {'custom_ssh_jump': 'bastion.inv.test'}},
         ['198.18.40.30', 'app2.inv.test', 'inner-jump.inv.test', 'web.inv.test']),
        ({'hostname_required': True, 'tags': ['Offline', 'Reserved']}, ['app2.inv.test']),
        ({'seen_within': '30m'}, ['bastion.inv.test', 'inner-jump.inv.test', 'web.inv.test']),
        ({'seen_within': '3h', 'subnets': ['198.18.40.0/24']}, ['app1.inv.test', 'inner-jump.inv.test', 'web.inv.test']),
        ({'hostname_fallback': 'skip', 'tags': ['Offline', 'Reserved']}, ['app2.inv.test']),
        ({'hostname_source': 'ip', 'subnets': ['198.18.40.0/28']}, ['198.18.40.1', '198.18.40.10', '198.18.40.11']),
        ({'duplicate_hostnames': 'ip', 'seen_within': '10m'}, ['fd00:40::40', 'web.inv.test']),
    ]
    for options, expected in cases:
        run = run_inventory(tmp_path, site(phpipam, ssh_paths=False, **options))
        assert run.returncode == 0, (options, run.output)
        assert run.hosts() == sorted(expected), options
    # Without a section filter the seed's hosts come too, across sections.
    run = run_inventory(tmp_path, dict(connection_settings(phpipam), tags=['Reserved'], ssh_paths=False))
    assert run.hosts() == ['app2.inv.test', 'reserved.lab.test', 'server3.cust1.local', 'server4.cust1.local']


def test_compose_groups_keyed_groups_and_group_switches(phpipam, tmp_path):
    seed_site(phpipam)
    options = {
        'group_by': ['tag', 'device'],
        'group_prefix': 'ipam_',
        'compose': {'asset': "phpipam_custom_fields.custom_asset | default('none')",
                    'ansible_port': '2222 if phpipam_tag == "Reserved" else 22'},
        'groups': {'recently_seen': "phpipam_last_seen is not none and phpipam_jump_hops is defined"},
        'keyed_groups': [{'key': 'phpipam_subnet', 'prefix': 'net'},
                         {'key': "phpipam_custom_fields.custom_asset | default('')", 'prefix': 'asset',
                          'default_value': 'none'}],
    }
    run = run_inventory(tmp_path, site(phpipam, **options))
    assert run.returncode == 0, run.output
    # (ansible-core 2.16 composes text, 2.19 native types)
    assert run.hostvars('app2.inv.test')['asset'] == 'INV-2' and int(run.hostvars('app2.inv.test')['ansible_port']) == 2222
    assert run.hostvars('bastion.inv.test')['asset'] == 'none' and int(run.hostvars('bastion.inv.test')['ansible_port']) == 22
    assert run.group('recently_seen') == ['app1.inv.test', 'app2.inv.test', 'inner-jump.inv.test', 'web.inv.test']
    assert run.group('net_198_18_41_0_24') == ['bastion.inv.test']
    assert run.group('asset_INV_1') == ['app1.inv.test']
    assert 'app1.inv.test' not in run.group('asset_none') and 'bastion.inv.test' in run.group('asset_none')
    assert run.group('ipam_device_hv_inv1') == ['app2.inv.test']
    assert run.group('ipam_tag_reserved') == ['app2.inv.test']
    assert not [g for g in run.data if g.startswith(('phpipam_', 'ipam_section', 'ipam_subnet', 'ipam_vlan'))]

    # strict: an expression that fails is an error instead of being skipped.
    broken = dict(options)
    broken['compose'] = {'broken': 'phpipam_no_such_var.field'}
    assert run_inventory(tmp_path, site(phpipam, **broken)).returncode == 0
    run = run_inventory(tmp_path, site(phpipam, strict=True, **broken))
    assert run.returncode != 0 and 'phpipam_no_such_var' in run.text


@pytest.mark.smoke
def test_playbook_sees_unsafe_values_and_ssh_variables(phpipam, tmp_path):
    seed_site(phpipam)
    run = run_playbook_on_inventory(tmp_path, site(phpipam, compose={'described': 'phpipam_description'}),
                                    'inventory_hosts.yml')
    assert run.returncode == 0, run.output
    assert '"msg": "DESCRIPTION=%s COMPOSED=%s"' % (DESCRIPTION_WITH_TEMPLATE, DESCRIPTION_WITH_TEMPLATE) in run.stdout
    assert 'templated 42' not in run.output
    assert '"msg": "CONNECT app1.inv.test host=198.18.40.10 user=ops ' \
        'args=-o ProxyJump=jumper@198.18.41.1,ops@198.18.40.1"' in run.stdout
    assert '"msg": "CONNECT 198.18.40.30 host=198.18.40.30 user=ops args=-o ProxyJump=jumper@198.18.41.1"' in run.stdout
    assert '"msg": "CONNECT bastion.inv.test host=198.18.41.1 user=jumper args=-"' in run.stdout
    assert run.stdout.count('"msg": "CONNECT ') == len(SITE_HOSTS)


def test_one_request_per_collection_whatever_the_size(phpipam, fault_proxy, tmp_path):
    seed_site(phpipam)
    config = site(phpipam)
    config['url'] = fault_proxy.url
    run = run_inventory(tmp_path, config)
    assert run.returncode == 0, run.output
    assert api_gets(fault_proxy) == COLLECTION_PATHS  # folders too: the seed has a subnet in a folder

    with api_client(phpipam) as client:
        for number in range(60, 250):
            client.create('addresses', {'ip': '198.18.40.%d' % number, 'subnetId': run.hostvars('app1.inv.test')[
                'phpipam_subnet_id'], 'hostname': 'bulk%d.inv.test' % number})
    fault_proxy.forget()
    run = run_inventory(tmp_path, config)
    assert run.returncode == 0, run.output
    assert len(run.hosts()) == len(SITE_HOSTS) + 190
    assert api_gets(fault_proxy) == COLLECTION_PATHS


def test_cache_answers_without_phpipam(phpipam, fault_proxy, tmp_path):
    seed_site(phpipam)
    cache_dir = str(tmp_path / 'cache')
    config = dict(site(phpipam), url=fault_proxy.url, cache=True, cache_plugin='ansible.builtin.jsonfile',
                  cache_connection=cache_dir, cache_timeout=3600)
    first = run_inventory(tmp_path, config)
    assert first.returncode == 0, first.output
    assert len(fault_proxy.requests) == len(COLLECTION_PATHS) and os.listdir(cache_dir)

    fault_proxy.inject('reset')  # phpIPAM unreachable from now on
    second = run_inventory(tmp_path, config)
    assert second.returncode == 0, second.output
    assert second.data == first.data
    assert len(fault_proxy.requests) == len(COLLECTION_PATHS)

    # A flushed cache asks phpIPAM again, which now fails clearly; without the cache option the cache is not used.
    flushed = run_inventory(tmp_path, config, *refresh_args(cache_dir))
    assert flushed.returncode != 0 and 'the connection to phpIPAM broke' in flushed.text
    uncached = run_inventory(tmp_path, dict(config, cache=False))
    assert uncached.returncode != 0 and 'ipamkit.phpipam.phpipam inventory' in uncached.text

    fault_proxy.clear()
    assert run_inventory(tmp_path, config, *refresh_args(cache_dir)).data == first.data
    with api_client(phpipam) as client:
        client.create('addresses', {'ip': '198.18.40.99', 'subnetId': first.hostvars('app1.inv.test')['phpipam_subnet_id'],
                                    'hostname': 'new.inv.test'})
    assert 'new.inv.test' not in run_inventory(tmp_path, config).hosts()
    assert 'new.inv.test' in run_inventory(tmp_path, config, *refresh_args(cache_dir)).hosts()


@pytest.mark.parametrize('options, words', [
    ({'section': ['Inventory']}, 'unknown option(s) section for the ipamkit.phpipam.phpipam inventory'),
    ({'seen_within': 'last week'}, "seen_within 'last week' is not a duration"),
    ({'subnets': ['inventory lan']}, "subnet filter 'inventory lan' is neither a subnet id nor a CIDR"),
    ({'group_by': ['section', 'rack']}, 'rack'),
    ({'duplicate_hostnames': 'error'}, 'phpIPAM hostnames used by more than one address (duplicate_hostnames=error): '
                                       'web.inv.test: 198.18.40.40, fd00:40::40'),
    ({'jump_host_missing': 'error'}, 'no SSH jump path for 3 host(s) (jump_host_missing=error): loop-a.inv.test: jump '
                                     'loop'),
    ({'custom_fields': 'asset=INV-1'}, 'custom_fields'),
    ({'url': 'ftp://ipam.example.com'}, "url: 'ftp://ipam.example.com' is not an http(s) URL"),
    ({'url': None, 'app_id': None}, 'url is required'),
])
def test_bad_options_are_clear_errors(phpipam, tmp_path, options, words):
    seed_site(phpipam)
    config = site(phpipam)
    config.update(options)
    config = dict((k, v) for k, v in config.items() if v is not None)
    run = run_inventory(tmp_path, config)
    assert run.returncode != 0
    assert words in run.text, run.output
    assert phpipam.app_code('ansible_rw') not in run.output


def test_unreachable_phpipam_and_refused_token_are_clear_errors(phpipam, tmp_path, closed_port):
    run = run_inventory(tmp_path, dict(site(phpipam), url='https://127.0.0.1:%d' % closed_port, timeout=5))
    assert run.returncode != 0
    assert 'ipamkit.phpipam.phpipam inventory: cannot connect to phpIPAM for GET https://127.0.0.1:%d/api/ansible_rw/' \
        % closed_port in run.text
    assert 'Check url (PHPIPAM_URL), that phpIPAM is running' in run.text

    run = run_inventory(tmp_path, dict(site(phpipam), token='wrong-token-0123456789'))
    assert run.returncode != 0 and "The token was refused by API app 'ansible_rw'" in run.text
    assert 'wrong-token-0123456789' not in run.output


def test_connection_from_environment_template_and_vault(phpipam, tmp_path):
    seed_site(phpipam)
    settings = connection_settings(phpipam)
    # As an AWX credential injects it: everything in PHPIPAM_* variables, only filters in the file.
    env = {'PHPIPAM_URL': settings['url'], 'PHPIPAM_APP_ID': 'ansible_rw', 'PHPIPAM_TOKEN': settings['token'],
           'PHPIPAM_CA_PATH': settings['ca_path']}
    run = run_inventory(tmp_path, {'sections': ['Inventory'], 'ssh_paths': False}, env=env)
    assert run.returncode == 0, run.output
    assert run.hosts() == SITE_HOSTS

    # A template in the token option, rendered before connecting.
    templated = dict(settings, sections=['Inventory'], ssh_paths=False,
                     token="{{ lookup('ansible.builtin.env', 'INVENTORY_TEST_TOKEN') }}")
    run = run_inventory(tmp_path, templated, env={'INVENTORY_TEST_TOKEN': settings['token']})
    assert run.returncode == 0, run.output
    assert run.hosts() == SITE_HOSTS

    # A vault-encrypted token.
    password_file = tmp_path / 'vault-pass'
    password_file.write_text('inventory-test-vault-password\n')
    encrypted = subprocess.run(
        [os.path.join(BIN, 'ansible-vault'), 'encrypt_string', '--vault-password-file', str(password_file),
         '--name', 'token', settings['token']], capture_output=True, text=True, check=True).stdout
    text = 'plugin: ipamkit.phpipam.phpipam\nurl: %s\napp_id: ansible_rw\nca_path: %s\nsections: [Inventory]\n' \
           'ssh_paths: false\n%s\n' % (settings['url'], settings['ca_path'], encrypted.strip())
    assert settings['token'] not in text
    run = run_inventory(tmp_path, text, '--list', '--vault-password-file', str(password_file))
    assert run.returncode == 0, run.output
    assert run.hosts() == SITE_HOSTS
