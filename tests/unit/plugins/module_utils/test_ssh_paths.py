# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.ssh_paths import (
    DIRECT, Hop, SshPathError, format_hop, network_jump_chains, parse_hop, proxyjump_argument, resolve_jump_chains)


@pytest.mark.parametrize('value, expected', [
    (None, None),
    ('', None),
    ('   ', None),
    ('direct', DIRECT),
    (' Direct ', DIRECT),
    ('jump1', Hop(None, 'jump1', None)),
    ('admin@jump1.lab.example', Hop('admin', 'jump1.lab.example', None)),
    ('admin@198.18.250.2:2222', Hop('admin', '198.18.250.2', 2222)),
    ('198.18.250.2', Hop(None, '198.18.250.2', None)),
    ('fd00::1', Hop(None, 'fd00::1', None)),
    ('ops@[fd00::1]:22', Hop('ops', 'fd00::1', 22)),
    ('[fd00::1]', Hop(None, 'fd00::1', None)),
])
def test_parse_hop(value, expected):
    assert parse_hop(value) == expected


@pytest.mark.parametrize('value, reason', [
    ('jump1:0', 'port'),
    ('jump1:65536', 'port'),
    ('jump1:ssh', 'port'),
    ('bad user@jump1', 'user'),
    ('@jump1', 'user'),
    ('-oProxyCommand=evil', 'neither'),
    ('jump1,jump2', 'neither'),
    ('jump 1', 'neither'),
    ('[jump1]:22', 'IPv6'),
    ('[fd00::1', 'closing'),
    ('[fd00::1]22', 'port'),
    ('admin@', 'no host'),
])
def test_parse_hop_refuses(value, reason):
    with pytest.raises(SshPathError, match=reason):
        parse_hop(value)


def test_format_hop_and_argument():
    assert format_hop(None, '198.18.0.1') == '198.18.0.1'
    assert format_hop('ops', '198.18.0.1', 2222) == 'ops@198.18.0.1:2222'
    assert format_hop('ops', 'fd00::1', 22) == 'ops@[fd00::1]:22'
    assert format_hop(None, 'fd00::1') == 'fd00::1'
    assert proxyjump_argument(()) == ''
    assert proxyjump_argument(('a@198.18.0.1', '198.18.1.1:2222')) == '-o ProxyJump=a@198.18.0.1,198.18.1.1:2222'


def host(host_id, ip, hostname=None, jump=None, user=None):
    return {'id': host_id, 'ip': ip, 'hostname': hostname, 'jump': jump, 'user': user}


def resolve(hosts, **kwargs):
    return resolve_jump_chains(hosts, lambda h: h['jump'], lambda h: h['user'], **kwargs)


def test_two_level_chain_with_a_multi_homed_jump_host():
    hosts = [
        # jump1 has an address towards the controller and one on the LAN behind it
        host(1, '198.18.250.2', 'jump1.lab.example', user='ops'),
        host(2, '198.18.251.1', 'jump1.lab.example', jump='jump1'),
        host(3, '198.18.251.2', 'jump2', jump='jump1'),
        host(4, '198.18.252.7', 'app1', jump='admin@jump2:2222'),
        host(5, '198.18.252.8', None, jump='198.18.252.7'),
    ]
    paths = resolve(hosts)
    assert paths[1] == ((), None)
    assert paths[2] == (('ops@198.18.250.2',), None)
    assert paths[3] == (('ops@198.18.250.2',), None)
    assert paths[4] == (('ops@198.18.250.2', 'admin@198.18.251.2:2222'), None)
    assert paths[5] == (('ops@198.18.250.2', 'admin@198.18.251.2:2222', '198.18.252.7'), None)


def test_short_name_matches_only_when_no_exact_name_does():
    hosts = [host(1, '198.18.0.1', 'jump1.lab.example'), host(2, '198.18.0.2', 'app', jump='JUMP1')]
    assert resolve(hosts)[2].hops == ('198.18.0.1',)
    hosts.append(host(3, '198.18.0.3', 'jump1'))
    assert resolve(hosts)[2].hops == ('198.18.0.3',)


def test_loops_are_reported_not_followed():
    hosts = [
        host(1, '198.18.0.1', 'a', jump='b'),
        host(2, '198.18.0.2', 'b', jump='a'),
        host(3, '198.18.0.3', 'c', jump='c'),
        host(4, '198.18.0.4', 'd', jump='a'),
    ]
    paths = resolve(hosts)
    assert paths[1].hops == () and paths[1].problem == 'jump loop: a (198.18.0.1) -> b (198.18.0.2) -> a'
    assert paths[2].problem == 'jump loop: b (198.18.0.2) -> a (198.18.0.1) -> b'
    assert paths[3].problem == 'jump loop: c (198.18.0.3) -> c'
    assert paths[4].hops == () and paths[4].problem.startswith('jump loop: d (198.18.0.4) -> a')


def test_missing_and_unusable_values():
    hosts = [
        host(1, '198.18.0.1', 'app', jump='bastion.example.org'),
        host(2, '198.18.0.2', 'db', jump='app'),
        host(3, '198.18.0.3', 'web', jump='jump:99999'),
        host(4, '198.18.0.4', 'ok', jump='direct'),
    ]
    paths = resolve(hosts)
    assert paths[1] == ((), "jump host 'bastion.example.org' of app (198.18.0.1) is not in phpIPAM")
    assert paths[2] == ((), "jump host 'bastion.example.org' of app (198.18.0.1) is not in phpIPAM")
    assert paths[3].problem.startswith("jump host value of web (198.18.0.3) is unusable: 'jump:99999': the port")
    assert paths[4] == ((), None)
    literal = resolve(hosts, missing='literal')
    assert literal[1] == (('bastion.example.org',), None)
    assert literal[2] == (('bastion.example.org', '198.18.0.1'), None)
    with pytest.raises(ValueError):
        resolve(hosts, missing='ignore')


def test_chain_longer_than_the_limit():
    hosts = [host(i, '198.18.1.%d' % i, 'h%d' % i, jump='h%d' % (i - 1) if i > 1 else None) for i in range(1, 6)]
    paths = resolve(hosts, max_hops=3)
    assert paths[4].hops == ('198.18.1.1', '198.18.1.2', '198.18.1.3')
    assert paths[5] == ((), 'the jump chain of h5 (198.18.1.5) has more than 3 hops')


def test_many_hosts_share_one_chain():
    hosts = [host(1, '198.18.250.2', 'jump1'), host(2, '198.18.251.2', 'jump2', jump='jump1')]
    hosts += [host(10 + i, '198.19.%d.%d' % (i // 250, i % 250 + 1), 'vm%d' % i, jump='jump2') for i in range(10000)]
    paths = resolve(hosts)
    assert len(paths) == 10002
    assert set(paths[10 + i] for i in range(10000)) == {(('198.18.250.2', '198.18.251.2'), None)}


class _Network(object):
    """The two things network_jump_chains reads of a NetworkData: hosts, and inherited custom field values."""

    def __init__(self, hosts):
        self.hosts = hosts

    def inherited(self, host, field):
        return host.get(field)


def test_network_jump_chains_reads_the_fields_and_falls_back_to_the_default_user():
    data = _Network([
        {'id': 1, 'ip': '198.18.250.2', 'hostname': 'jump1', 'custom_ssh_user': 'ops'},
        {'id': 2, 'ip': '198.18.251.2', 'hostname': 'jump2'},
        {'id': 3, 'ip': '198.18.252.2', 'hostname': 'app', 'custom_ssh_jump': 'jump2'},
        {'id': 4, 'ip': '198.18.251.1', 'hostname': 'lan', 'custom_ssh_jump': 'jump1'},
    ])
    data.hosts[1]['custom_ssh_jump'] = 'jump1'
    paths = network_jump_chains(data, 'custom_ssh_jump', 'custom_ssh_user', default_user='admin')
    assert paths[3] == (('ops@198.18.250.2', 'admin@198.18.251.2'), None)
    assert paths[4] == (('ops@198.18.250.2',), None)
    assert network_jump_chains(data, 'custom_ssh_jump', 'custom_ssh_user')[3].hops == ('ops@198.18.250.2', '198.18.251.2')
