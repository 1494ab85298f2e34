# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh_config: entries from jump paths, the rendered text, options, durations, and the file handling."""

import datetime
import os
import stat

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.inventory_plan import InventoryPlanError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import build_network
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_config import (
    MARKER, SshConfigError, normalize_options, plan_entries, read_config, remove_config,
    render_config, ssh_config_plan, write_config)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_paths import JumpPath

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def test_normalize_options_sorts_and_converts():
    options = {'ServerAliveInterval': 30, 'ForwardAgent': False, 'IdentityFile': ['~/.ssh/a', '~/.ssh/b'],
               'compression': True}
    assert normalize_options(options) == [
        ('compression', 'yes'), ('ForwardAgent', 'no'), ('IdentityFile', '~/.ssh/a'), ('IdentityFile', '~/.ssh/b'),
        ('ServerAliveInterval', '30')]
    assert normalize_options(None) == []


@pytest.mark.parametrize('options, reason', [
    ({'ProxyJump': 'x'}, 'written from phpIPAM'),
    ({'hostname': 'x'}, 'written from phpIPAM'),
    ({'Port': 22}, 'written from phpIPAM'),
    ({'Identity File': 'x'}, 'not an ssh_config keyword'),
    ({'-oProxyCommand': 'x'}, 'not an ssh_config keyword'),
    ({'LogLevel': 'ERROR\nProxyCommand evil'}, 'line break'),
    ({'LogLevel': ''}, 'empty'),
    ({'LogLevel': None}, 'no value'),
    ({'IdentityFile': []}, 'empty list'),
    ({'LogLevel': 'ERROR', 'loglevel': 'DEBUG'}, 'given twice'),
])
def test_normalize_options_refuses(options, reason):
    with pytest.raises(SshConfigError, match=reason):
        normalize_options(options)


def host(host_id, ip, hostname=None):
    return {'id': host_id, 'ip': ip, 'hostname': hostname}


def no_user(_host):
    return None


PLAN_CASES = [
    (
        'direct host, one hop, two hops; users from phpIPAM and the default',
        [host(1, '198.18.160.2', 'jump1'), host(3, '198.18.162.10', 'target2'), host(2, '198.18.161.10', 'target1')],
        {1: JumpPath((), None), 2: JumpPath(('root@198.18.160.2',), None),
         3: JumpPath(('root@198.18.160.2', 'root@198.18.161.2'), None)},
        dict(default_user='ops', port=2222),
        [('jump1', ['jump1', '198.18.160.2'], 'ops', None), ('target1', ['target1', '198.18.161.10'], 'ops', 'root@198.18.160.2'),
         ('target2', ['target2', '198.18.162.10'], 'ops', 'root@198.18.160.2,root@198.18.161.2')],
        [], [],
    ),
    (
        'a multi-homed jump host: the name goes to the address with the shorter path, the other keeps its IP',
        [host(2, '198.18.161.1', 'jump1'), host(1, '198.18.160.2', 'jump1')],
        {1: JumpPath((), None), 2: JumpPath(('198.18.160.2',), None)},
        {},
        [('198.18.161.1', ['198.18.161.1'], None, '198.18.160.2'), ('jump1', ['jump1', '198.18.160.2'], None, None)],
        [], [],
    ),
    (
        'without match_address the second jump1 has nothing left to match',
        [host(2, '198.18.161.1', 'jump1'), host(1, '198.18.160.2', 'jump1')],
        {1: JumpPath((), None), 2: JumpPath(('198.18.160.2',), None)},
        dict(match_address=False),
        [('jump1', ['jump1'], None, None)],
        [], ['jump1 (198.18.161.1)'],
    ),
    (
        'problems: loop, missing jump host, bad hostname; no entry for them',
        [host(1, '198.18.0.1', 'a'), host(2, '198.18.0.2', 'web*'), host(3, '198.18.0.3', 'c'), host(4, '198.18.0.4')],
        {1: JumpPath((), 'jump loop: a (198.18.0.1) -> b (198.18.0.5) -> a'), 2: JumpPath((), None),
         3: JumpPath((), "jump host 'bastion' of c (198.18.0.3) is not in phpIPAM"), 4: JumpPath((), None)},
        {},
        [('198.18.0.4', ['198.18.0.4'], None, None)],
        ['a (198.18.0.1)', 'web* (198.18.0.2)', 'c (198.18.0.3)'], [],
    ),
    (
        'IPv6: the address is a pattern and the HostName; IPv4 sorts before IPv6 for one name',
        [host(2, 'fd00:18::10', 'dual'), host(1, '198.18.0.10', 'dual'), host(3, 'fd00:18::3', None)],
        {1: JumpPath((), None), 2: JumpPath(('ops@[fd00:18::1]:2222',), None), 3: JumpPath((), None)},
        {},
        [('dual', ['dual', '198.18.0.10'], None, None), ('fd00:18::10', ['fd00:18::10'], None, 'ops@[fd00:18::1]:2222'),
         ('fd00:18::3', ['fd00:18::3'], None, None)],
        [], [],
    ),
]


@pytest.mark.parametrize('selected, paths, kwargs, entries, problems, skipped', [c[1:] for c in PLAN_CASES],
                         ids=[c[0] for c in PLAN_CASES])
def test_plan_entries(selected, paths, kwargs, entries, problems, skipped):  # pylint: disable=too-many-arguments
    plan = plan_entries(selected, paths, no_user, **kwargs)
    assert [(e['name'], e['patterns'], e['user'], e['proxyjump']) for e in plan['entries']] == entries
    assert [p['host'] for p in plan['problems']] == problems
    assert [s['host'] for s in plan['skipped']] == skipped


def test_plan_entries_users_from_phpipam_and_bad_users():
    users = {1: 'admin', 2: 'bad user'}
    plan = plan_entries([host(1, '198.18.0.1', 'a'), host(2, '198.18.0.2', 'b')],
                        {1: JumpPath((), None), 2: JumpPath((), None)}, lambda h: users[h['id']], default_user='ops')
    assert [(e['name'], e['user']) for e in plan['entries']] == [('a', 'admin')]
    assert plan['problems'] == [{'host': 'b (198.18.0.2)', 'ip': '198.18.0.2',
                                 'problem': "SSH user 'bad user' is not a valid login name"}]


def test_render_config_exact_text():
    entries = [
        {'patterns': ['jump1', '198.18.160.2'], 'hostname': '198.18.160.2', 'user': 'root', 'port': None, 'proxyjump': None},
        {'patterns': ['target2', '198.18.162.10'], 'hostname': '198.18.162.10', 'user': None, 'port': 2222,
         'proxyjump': 'root@198.18.160.2,root@198.18.161.2'},
    ]
    text = render_config(entries, [('IdentityFile', '/k'), ('StrictHostKeyChecking', 'yes')], include_hint='/x/lab.conf')
    assert text == '\n'.join([
        MARKER + ': written from phpIPAM; changes made here are overwritten on the next run.',
        '# Use it from ~/.ssh/config (near the top, before any Host or Match block): Include /x/lab.conf',
        '',
        'Host jump1 198.18.160.2',
        '    HostName 198.18.160.2',
        '    User root',
        '    IdentityFile /k',
        '    StrictHostKeyChecking yes',
        '',
        'Host target2 198.18.162.10',
        '    HostName 198.18.162.10',
        '    Port 2222',
        '    ProxyJump root@198.18.160.2,root@198.18.161.2',
        '    IdentityFile /k',
        '    StrictHostKeyChecking yes',
    ]) + '\n'
    assert render_config([], []).splitlines()[1] == '# No phpIPAM host is selected.'


def collections():
    """phpIPAM records, as the client returns them, of a two-level chain plus a loop and a missing jump host."""
    seen = NOW - datetime.timedelta(hours=1)
    old = NOW - datetime.timedelta(days=40)

    def subnet(subnet_id, cidr, section, jump=None, user='root', master=0):
        net, mask = cidr.split('/')
        return {'id': subnet_id, 'subnet': net, 'mask': mask, 'sectionId': section, 'masterSubnetId': master,
                'custom_ssh_jump': jump, 'custom_ssh_user': user}

    def address(address_id, ip, subnet_id, name, jump=None, last_seen=seen, user=None):
        return {'id': address_id, 'ip': ip, 'subnetId': subnet_id, 'hostname': name, 'tag': 2, 'lastSeen': last_seen,
                'custom_ssh_jump': jump, 'custom_ssh_user': user}

    return {
        'sections': [{'id': 1, 'name': 'Chain'}, {'id': 2, 'name': 'Broken'}],
        'subnets': [
            subnet(10, '198.18.160.0/30', 1),
            subnet(11, '198.18.161.0/24', 1, jump='jump1'),
            subnet(12, '198.18.162.0/24', 1, jump='jump2'),
            subnet(13, '198.18.162.128/25', 1, master=12, user=None),  # nested: inherits jump2 and root
            subnet(20, '198.18.163.0/24', 2),
        ],
        'addresses': [
            address(1, '198.18.160.2', 10, 'jump1'),
            address(2, '198.18.161.1', 11, 'jump1'),
            address(3, '198.18.161.2', 11, 'jump2'),
            address(4, '198.18.162.1', 12, 'jump2'),
            address(5, '198.18.161.10', 11, 'target1', user='admin'),
            address(6, '198.18.162.10', 12, 'target2'),
            address(7, '198.18.162.130', 13, 'nested', last_seen=old),
            address(8, '198.18.162.20', 12, 'plain', jump='direct'),
            address(9, '198.18.163.1', 20, 'loop-a', jump='loop-b'),
            address(10, '198.18.163.2', 20, 'loop-b', jump='loop-a'),
            address(11, '198.18.163.3', 20, 'lost', jump='bastion.example.org'),
            address(12, '198.18.163.4', 20, None),
        ],
        'vlans': [], 'devices': [], 'tags': [{'id': 2, 'type': 'Used'}], 'locations': [], 'folders': [],
    }


def test_ssh_config_plan_on_network_data():
    data = build_network(collections())
    plan = ssh_config_plan(data, {'sections': ['Chain'], 'options': {'BatchMode': True}}, now=NOW)
    by_name = dict((e['name'], e) for e in plan['entries'])
    assert sorted(by_name) == ['198.18.161.1', '198.18.162.1', 'jump1', 'jump2', 'nested', 'plain', 'target1', 'target2']
    assert by_name['jump1']['proxyjump'] is None
    assert by_name['target1']['proxyjump'] == 'root@198.18.160.2'
    assert by_name['target1']['user'] == 'admin'
    assert by_name['target2']['proxyjump'] == 'root@198.18.160.2,root@198.18.161.2'
    assert by_name['nested']['proxyjump'] == 'root@198.18.160.2,root@198.18.161.2'
    assert by_name['plain']['proxyjump'] is None
    assert plan['problems'] == [] and plan['selected'] == 8
    assert '    BatchMode yes' in plan['content']
    # the same data renders the same text
    assert ssh_config_plan(build_network(collections()), {'sections': ['Chain'], 'options': {'BatchMode': True}},
                           now=NOW)['content'] == plan['content']


def test_ssh_config_plan_filters_and_problems():
    data = build_network(collections())
    recent = ssh_config_plan(data, {'subnets': ['12'], 'seen_within': '30d'}, now=NOW)
    # nested (in subnet 13, below 12) was last seen 40 days ago; jump2's lan1 address is not selected
    assert [e['name'] for e in recent['entries']] == ['jump2', 'plain', 'target2']
    # custom_fields as in the inventory: inherited values count, a host's own "direct" overrides its subnet's
    by_field = ssh_config_plan(data, {'custom_fields': {'ssh_jump': 'jump2'}}, now=NOW)
    assert [e['name'] for e in by_field['entries']] == ['jump2', 'nested', 'target2']
    with pytest.raises(InventoryPlanError, match='not a duration'):
        ssh_config_plan(data, {'seen_within': 'soon'}, now=NOW)
    broken = ssh_config_plan(data, {'sections': ['Broken'], 'hostname_required': False}, now=NOW)
    assert [e['name'] for e in broken['entries']] == ['198.18.163.4']
    assert [(p['host'], p['problem']) for p in broken['problems']] == [
        ('loop-a (198.18.163.1)', 'jump loop: loop-a (198.18.163.1) -> loop-b (198.18.163.2) -> loop-a'),
        ('loop-b (198.18.163.2)', 'jump loop: loop-b (198.18.163.2) -> loop-a (198.18.163.1) -> loop-b'),
        ('lost (198.18.163.3)', "jump host 'bastion.example.org' of lost (198.18.163.3) is not in phpIPAM"),
    ]
    literal = ssh_config_plan(data, {'sections': ['Broken'], 'jump_host_missing': 'literal', 'user': 'ops'}, now=NOW)
    assert [(e['name'], e['proxyjump'], e['user']) for e in literal['entries']] == [('lost', 'bastion.example.org', 'root')]


def test_write_read_and_remove(tmp_path):
    path = str(tmp_path / 'home' / '.ssh' / 'config.d' / 'lab.conf')
    assert read_config(path) == (None, None)
    text = render_config([], [])
    old_umask = os.umask(0o022)
    try:
        write_config(path, text)
    finally:
        os.umask(old_umask)
    for folder in ('home', 'home/.ssh', 'home/.ssh/config.d'):
        assert stat.S_IMODE(os.stat(str(tmp_path / folder)).st_mode) == 0o700, folder
    tmp_path = tmp_path / 'home' / '.ssh'
    assert read_config(path) == (text, 0o600)
    os.chmod(path, 0o644)
    assert read_config(path)[1] == 0o644
    write_config(path, text + '# more\n')
    assert read_config(path) == (text + '# more\n', 0o600)
    assert os.listdir(str(tmp_path / 'config.d')) == ['lab.conf']
    remove_config(path)
    remove_config(path)
    assert not os.path.exists(path)


def test_a_file_not_written_by_the_module_is_refused(tmp_path):
    path = tmp_path / 'config'
    path.write_text('Host *\n    User me\n')
    with pytest.raises(SshConfigError, match='not written by ipamkit.phpipam.ssh_config'):
        read_config(str(path))
    assert read_config(str(path), force=True)[0] == 'Host *\n    User me\n'
    link = tmp_path / 'link.conf'
    link.symlink_to(path)
    with pytest.raises(SshConfigError, match='not a regular file'):
        read_config(str(link), force=True)
