# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""scan_upload against the real phpIPAM: what a report does to phpIPAM's records, read back through the API.

The reports here are written by hand (the scan itself is tested elsewhere), for the agent's
loopback subnets of the harness seed; nothing is scanned.
"""

import datetime

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient

from integration_helpers import connection_env  # pylint: disable=import-error

pytestmark = pytest.mark.integration

LAB = '127.0.10.0/24'


def api(phpipam):
    return PhpipamClient(phpipam.https_url, 'ansible_rw', token=phpipam.app_code('ansible_rw'), ca_path=phpipam.ca_path)


def addresses(phpipam, cidr=LAB):
    return dict((a['ip'], a) for a in api(phpipam).get_list('subnets/%d/addresses' % phpipam.subnets[cidr]))


def report(phpipam, hosts, cidr=LAB, completed=True, ping=True, discover=True):
    return {
        'kind': 'ipamkit.phpipam.scan_report', 'version': 1, 'report_id': '0' * 32,
        'generated_at': '2026-11-25T20:00:00Z',
        'agent': {'id': phpipam.agents['demo-agent']['id'], 'name': 'demo-agent'},
        'scanner': {'tool': 'nmap', 'version': '7.93', 'privileged': True, 'runs': []},
        'subnets': [{'id': phpipam.subnets[cidr], 'cidr': cidr, 'ping': ping, 'discover': discover,
                     'completed': completed, 'started': None, 'finished': None,
                     'hosts': [dict({'mac': None, 'vendor': None, 'hostname': None, 'reason': 'echo-reply'}, **h)
                               for h in hosts]}],
    }


def recent(value, seconds=180):
    now = datetime.datetime.now(datetime.timezone.utc)
    return value is not None and abs((now - value).total_seconds()) < seconds


@pytest.fixture
def upload(connection, run_playbook):
    def run(rep, check=False, diff=False, env=None, **options):
        return run_playbook('scan_upload.yml', env=env or connection_env(connection),
                            extra_vars={'report': rep, 'upload_options': options}, check=check, diff=diff)
    return run


LAB_HOSTS = [
    {'ip': '127.0.10.1', 'mac': '02:00:00:00:10:01'},
    {'ip': '127.0.10.5', 'mac': '02:00:00:00:99:05', 'hostname': 'renamed5.lab.test'},
    {'ip': '127.0.10.20', 'hostname': 'someone-else.lab.test'},
    {'ip': '127.0.10.30'},
    {'ip': '127.0.10.40'},
    {'ip': '127.0.10.77', 'mac': '02:00:00:00:00:77', 'hostname': 'new77.lab.test'},
]


@pytest.mark.smoke
def test_a_cycle_updates_known_hosts_creates_new_ones_and_keeps_tags(phpipam, upload):
    before = addresses(phpipam)
    run = upload(report(phpipam, LAB_HOSTS))
    assert run.returncode == 0, run.output
    result = run.result('Upload the report')
    assert result['changed'] is True
    assert result['summary'][0] == ('127.0.10.0/24 (id %d): seen 6, created 1, updated 5, unchanged 0, removed 0, '
                                    'removal refused 0, errors 0' % phpipam.subnets[LAB])
    after = addresses(phpipam)
    # Seen hosts: lastSeen now; tags exactly as before (Reserved, Offline, DHCP survive the PATCH).
    for ip in ('127.0.10.1', '127.0.10.5', '127.0.10.20', '127.0.10.30', '127.0.10.40'):
        assert recent(after[ip]['lastSeen']), ip
        assert after[ip]['tag'] == before[ip]['tag'], ip
    assert (after['127.0.10.20']['tag'], after['127.0.10.30']['tag'], after['127.0.10.40']['tag']) == (3, 1, 4)
    # Names and MACs a person entered are kept; an empty one is filled.
    assert after['127.0.10.5']['mac'] == '02:00:00:00:10:05'
    assert after['127.0.10.5']['hostname'] == 'host5.lab.test'
    assert after['127.0.10.20']['hostname'] == 'reserved.lab.test'
    # Not seen: untouched.
    assert after['127.0.10.10'] == before['127.0.10.10']
    # New host created as discovered.
    new = after['127.0.10.77']
    assert (new['mac'], new['hostname'], new['description'], new['tag']) == (
        '02:00:00:00:00:77', 'new77.lab.test', '-- autodiscovered --', 2)
    assert recent(new['lastSeen'])
    subnet = api(phpipam).get('subnets/%d' % phpipam.subnets[LAB])
    assert recent(subnet['lastScan']) and recent(subnet['lastDiscovery'])
    agent = api(phpipam).get('tools/scanagents/%d' % phpipam.agents['demo-agent']['id'])
    assert recent(agent['last_access'])


def test_second_run_within_lastseen_refresh_writes_no_address(phpipam, upload):
    first = upload(report(phpipam, LAB_HOSTS), lastseen_refresh=600)
    assert first.returncode == 0, first.output
    snapshot = addresses(phpipam)
    second = upload(report(phpipam, LAB_HOSTS), lastseen_refresh=600)
    result = second.result('Upload the report')
    assert result['changed'] is False and result['address_writes'] == 0
    # Bookkeeping only: the subnet's lastScan/lastDiscovery and the agent's last_access.
    assert result['requests'].get('POST', 0) == 0 and result['requests'].get('DELETE', 0) == 0
    assert result['requests']['PATCH'] == 2
    assert 'unchanged 6' in result['summary'][0]
    assert addresses(phpipam) == snapshot


def test_update_mac_and_hostname_when_asked(phpipam, upload):
    run = upload(report(phpipam, LAB_HOSTS), update_mac=True, update_hostname=True)
    assert run.returncode == 0, run.output
    after = addresses(phpipam)
    assert after['127.0.10.5']['mac'] == '02:00:00:00:99:05'
    assert after['127.0.10.5']['hostname'] == 'renamed5.lab.test'


def test_check_mode_writes_nothing_and_shows_the_diff(phpipam, upload):
    before = addresses(phpipam)
    subnet_before = api(phpipam).get('subnets/%d' % phpipam.subnets[LAB])
    run = upload(report(phpipam, LAB_HOSTS), check=True, diff=True)
    assert run.returncode == 0, run.output
    result = run.result('Upload the report')
    assert result['changed'] is True
    assert result['summary'][0].startswith('(check mode) 127.0.10.0/24')
    assert 'created 1, updated 5' in result['summary'][0]
    assert result['requests'].get('POST', 0) == result['requests'].get('PATCH', 0) == 0
    assert addresses(phpipam) == before
    assert api(phpipam).get('subnets/%d' % phpipam.subnets[LAB])['lastScan'] == subnet_before['lastScan']
    assert '+ 127.0.10.77 description=-- autodiscovered -- hostname=new77.lab.test' in run.stdout
    assert '127.0.10.20 lastSeen=None' in run.stdout


def test_incomplete_scan_changes_nothing(phpipam, upload):
    before = addresses(phpipam)
    run = upload(report(phpipam, LAB_HOSTS, completed=False), remove_stale=True, force_remove=True,
                 remove_stale_scope='all')
    result = run.result('Upload the report')
    assert result['changed'] is False
    assert 'incomplete: the scan of this subnet did not complete' in result['summary'][0]
    assert addresses(phpipam) == before


def test_discovered_tag_by_name_and_exclude(phpipam, upload):
    hosts = [{'ip': '127.0.10.77'}, {'ip': '127.0.10.78'}, {'ip': '127.0.10.200'}]
    run = upload(report(phpipam, hosts), discovered_tag='reserved', exclude=['127.0.10.192/26', '127.0.10.78'])
    assert run.returncode == 0, run.output
    after = addresses(phpipam)
    assert after['127.0.10.77']['tag'] == 3
    assert '127.0.10.78' not in after and '127.0.10.200' not in after


def test_unknown_tag_name_fails_before_any_write(phpipam, upload):
    before = addresses(phpipam)
    run = upload(report(phpipam, LAB_HOSTS), discovered_tag='Nope')
    assert run.status('Upload the report') == 'failed'
    assert "discovered_tag 'Nope' is not an address tag in phpIPAM (tags: DHCP, Offline, Reserved, Used)" in \
        run.result('Upload the report')['msg']
    assert addresses(phpipam) == before


def _age_addresses(harness, phpipam, ips, days, description='-- autodiscovered --'):
    for ip in ips:
        harness.sql("UPDATE ipaddresses SET lastSeen = NOW() - INTERVAL %s DAY, description = %s "
                    "WHERE id = %s", days, description, phpipam.addresses[ip])


def test_stale_removal_and_its_guards(harness, phpipam, upload):
    _age_addresses(harness, phpipam, ['127.0.10.5'], 5)
    # The scan saw nobody while phpIPAM saw the gateway 5 minutes ago: refused.
    nobody = upload(report(phpipam, []), remove_stale=True)
    assert 'removed 0, removal refused 1' in nobody.result('Upload the report')['summary'][0]
    assert '127.0.10.5' in addresses(phpipam)
    # The scan saw the gateway: 127.0.10.5 (autodiscovered, 5 days old) goes, nothing else.
    run = upload(report(phpipam, [{'ip': '127.0.10.1'}]), remove_stale=True)
    assert run.returncode == 0, run.output
    assert 'removed 1, removal refused 0' in run.result('Upload the report')['summary'][0]
    after = addresses(phpipam)
    assert '127.0.10.5' not in after
    # Never removed: Reserved .20, Offline .30 (not the agent's), excludePing .10, never seen .40.
    assert {'127.0.10.1', '127.0.10.10', '127.0.10.20', '127.0.10.30', '127.0.10.40'} <= set(after)


def test_too_many_removals_are_refused(harness, phpipam, upload):
    _age_addresses(harness, phpipam, ['127.0.10.5', '127.0.10.30', '127.0.10.40'], 5)
    run = upload(report(phpipam, [{'ip': '127.0.10.1'}]), remove_stale=True, remove_stale_scope='all')
    line = run.result('Upload the report')['summary'][0]
    assert 'removed 0, removal refused 3' in line
    assert {'127.0.10.5', '127.0.10.30', '127.0.10.40'} <= set(addresses(phpipam))


def test_phpipam_failing_mid_upload_then_converging(phpipam, connection, fault_proxy, upload):
    before = addresses(phpipam)
    # tags, subnets and addresses are read; then every write is cut off.
    fault_proxy.inject('pass', count=3)
    fault_proxy.inject('reset', count=1000)
    broken = upload(report(phpipam, LAB_HOSTS), env=connection_env(dict(connection, url=fault_proxy.url)))
    assert broken.returncode != 0 and broken.status('Upload the report') == 'failed'
    message = broken.result('Upload the report')['msg']
    assert 'phpIPAM write(s) failed, the others were applied' in message
    assert fault_proxy.count_writes(forwarded=True) == 0
    assert addresses(phpipam) == before  # nothing offlined, nothing deleted, nothing half-written
    fault_proxy.clear()
    again = upload(report(phpipam, LAB_HOSTS), env=connection_env(dict(connection, url=fault_proxy.url)))
    assert again.returncode == 0, again.output
    assert '127.0.10.77' in addresses(phpipam)


def test_some_writes_fail_the_others_land(phpipam, connection, fault_proxy, upload):
    fault_proxy.inject('pass', count=3)
    fault_proxy.inject('status', count=1, status=500)
    run = upload(report(phpipam, LAB_HOSTS), env=connection_env(dict(connection, url=fault_proxy.url)), api_workers=1)
    assert run.status('Upload the report') == 'failed'
    result = run.result('Upload the report')
    assert result['totals']['errors'] == 1
    assert result['totals']['created'] + result['totals']['updated'] == 5
    detail = result['subnets'][0]['error_details'][0]
    assert detail['ip'] == '127.0.10.77' and detail['action'] == 'create' and 'HTTP 500' in detail['message']


def test_time_zone_is_applied_to_last_seen(harness, phpipam, upload):
    run = upload(report(phpipam, [{'ip': '127.0.10.5'}]), timezone='+05:00')
    assert run.returncode == 0, run.output
    stored = harness.sql('SELECT lastSeen FROM ipaddresses WHERE id = %s', phpipam.addresses['127.0.10.5'])[0][0]
    expected = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=5))).replace(tzinfo=None)
    assert abs((datetime.datetime.strptime(stored, '%Y-%m-%d %H:%M:%S') - expected).total_seconds()) < 180
    # phpIPAM's database is on UTC: the agent says its clock disagrees with the configured zone.
    assert "phpIPAM's database clock disagrees with phpipam_timezone +05:00" in run.output
