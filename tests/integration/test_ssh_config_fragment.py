# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipamkit.phpipam.ssh_config with the real phpIPAM and a real two-hop SSH chain in network namespaces.

The fragment the module writes is all ``ssh -F`` reads: reaching target2 proves the ProxyJump chain
(jump1, then jump2), because the root namespace has no route to target2's LAN.
"""

import os
import stat

import pytest

from reservation_helpers import connection_vars  # pylint: disable=import-error
from ssh_helpers import chain_in_phpipam, ssh_chain, ssh_with_config  # noqa: F401  pylint: disable=import-error,unused-import

pytestmark = [pytest.mark.integration, pytest.mark.netns]


def client_options(chain):
    """What every entry needs to use the run's key and known_hosts (instead of ~/.ssh)."""
    return {'UserKnownHostsFile': chain.known_hosts, 'GlobalKnownHostsFile': '/dev/null', 'StrictHostKeyChecking': True,
            'IdentityFile': chain.identity, 'IdentitiesOnly': True, 'IdentityAgent': 'none', 'BatchMode': True,
            'ConnectTimeout': 10}


@pytest.mark.smoke
def test_ssh_config_fragment_reaches_the_chain(connection, ssh_chain, chain_in_phpipam, run_playbook, tmp_path):  # noqa: F811  pylint: disable=redefined-outer-name,unused-argument,too-many-locals,too-many-statements
    fragment = str(tmp_path / 'config.d' / 'ipamkit-phpipam.conf')
    unwritten = str(tmp_path / 'unwritten.conf')
    broken = str(tmp_path / 'broken.conf')
    literal = str(tmp_path / 'literal.conf')
    foreign = tmp_path / 'config'
    foreign.write_text('Host *\n    User me\n')
    extra = dict(connection_vars(connection), fragment=fragment, fragment_unwritten=unwritten,
                 fragment_broken=broken, fragment_literal=literal, foreign=str(foreign), client_options=client_options(ssh_chain))
    run = run_playbook('ssh_config.yml', extra_vars=extra)
    assert run.returncode == 0, run.output[-3000:]

    jump1, jump2 = ssh_chain.hosts['jump1'], ssh_chain.hosts['jump2']
    target1, target2 = ssh_chain.hosts['target1'], ssh_chain.hosts['target2']
    hop1, hop2 = 'root@%s' % jump1.ip, 'root@%s' % jump2.ip

    first = run.result('Write')
    assert first['changed'] is True and first['problems'] == [] and first['selected'] == 6
    entries = dict((e['name'], e) for e in first['entries'])
    # jump1 and jump2 have two addresses each: the name goes to the one with the shorter path
    assert entries['jump1']['patterns'] == ['jump1', jump1.ip] and entries['jump1']['proxyjump'] is None
    assert entries['jump2']['patterns'] == ['jump2', jump2.ip] and entries['jump2']['proxyjump'] == hop1
    assert entries['target1']['proxyjump'] == hop1
    assert entries['target2']['proxyjump'] == '%s,%s' % (hop1, hop2)
    assert {e['user'] for e in first['entries']} == {'root'}
    with open(fragment, encoding='utf-8') as handle:
        text = handle.read()
    assert first['diff'] == {'before': '', 'after': text, 'before_header': fragment, 'after_header': fragment}
    assert 'Host target2 %s\n    HostName %s\n    User root\n    ProxyJump %s,%s\n' % (target2.ip, target2.ip, hop1, hop2) in text
    assert stat.S_IMODE(os.stat(fragment).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(fragment)).st_mode) == 0o700

    again = run.result('Write again')
    assert again['changed'] is False and again['entries'] == first['entries']

    new_in_check = run.result('Check mode, new file')
    assert new_in_check['changed'] is True and new_in_check['diff']['after'] == text.replace(fragment, unwritten)
    assert not os.path.exists(unwritten)
    port_in_check = run.result('Check mode, changed port')
    assert port_in_check['changed'] is True and port_in_check['diff']['before'] == text
    assert port_in_check['diff']['after'].count('    Port 22\n') == 6
    with open(fragment, encoding='utf-8') as handle:
        assert handle.read() == text

    # The fragment is all ssh reads: through jump1 to target1, through jump1 and jump2 to target2, by name or IP.
    for name in ('jump1', 'jump2', 'target1', 'target2', target2.ip):
        result = ssh_with_config(fragment, name, 'hostname')
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.strip() == (name if name != target2.ip else 'target2')
    # ...and without the path there is none: the controller has no route to the LANs behind jump1.
    direct = ssh_with_config(fragment, '-o', 'ProxyJump=none', target2.ip, 'true')
    assert direct.returncode == 255 and ('unreachable' in direct.stderr.lower() or 'no route' in direct.stderr.lower())
    direct = ssh_with_config(fragment, '-o', 'ProxyJump=none', target1.ip, 'true')
    assert direct.returncode == 255

    broken_run = run.result('Loops and missing jump hosts')
    spare = ssh_chain.spare_network.network_address
    loop_a, loop_b, lost = ['%s' % (spare + n) for n in (1, 2, 3)]
    assert [(p['host'], p['problem']) for p in broken_run['problems']] == [
        ('loop-a (%s)' % loop_a, 'jump loop: loop-a (%s) -> loop-b (%s) -> loop-a' % (loop_a, loop_b)),
        ('loop-b (%s)' % loop_b, 'jump loop: loop-b (%s) -> loop-a (%s) -> loop-b' % (loop_b, loop_a)),
        ('lost (%s)' % lost, "jump host 'bastion.invalid' of lost (%s) is not in phpIPAM" % lost),
    ]
    assert [e['name'] for e in broken_run['entries']] == [str(spare + 4)]
    as_written = run.result('Missing jump hosts used as written')
    assert [(e['name'], e['proxyjump'], e['user']) for e in as_written['entries']] == [('lost', 'bastion.invalid', 'root')]
    assert [p['host'] for p in as_written['problems']] == ['loop-a (%s)' % loop_a, 'loop-b (%s)' % loop_b]
    with open(literal, encoding='utf-8') as handle:
        assert 'Host lost %s\n    HostName %s\n    User root\n    ProxyJump bastion.invalid\n' % (lost, lost) in handle.read()
    # one warning per problem (ansible-core may show a repeated warning once): the loops twice, lost once
    warnings = set(run.warnings())
    assert len(warnings) == 3 and all('ssh_config: no entry for' in w for w in warnings), warnings
    failing = run.result('Loops and missing jump hosts, failing')
    assert run.status('Loops and missing jump hosts, failing') == 'failed' and failing['msg'].startswith('3 selected host(s) have SSH path problems')
    assert not os.path.exists(unwritten)

    assert run.result('Remove in check mode')['changed'] is True
    removed = run.result('Remove')
    assert removed['changed'] is True and removed['diff']['after'] == '' and 'Host %s' % (spare + 4) in removed['diff']['before']
    assert run.result('Remove again')['changed'] is False and not os.path.exists(broken)

    refused = run.result('A file it did not write')
    assert run.status('A file it did not write') == 'failed' and 'not written by ipamkit.phpipam.ssh_config' in refused['msg']
    assert foreign.read_text() == 'Host *\n    User me\n'
