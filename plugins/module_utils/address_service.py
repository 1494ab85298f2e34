# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the address module: find the address, compare, create/update/delete, return it.

Validation (IP, subnet membership, MAC, lengths, tag, custom fields) happens before any write.
Updates send only the fields that differ, plus the address's tag: phpIPAM 1.8.2 resets the tag
of an address to Used on every PATCH that leaves ``tag`` out.
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    changed_fields,
    check_ip_in_subnet,
    desired_fields,
    parse_ip,
    subnet_cidr,
    subnet_network,
    update_payload,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamConflictError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.metadata import join_marked, split_marked
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import (
    LookupFailed,
    check_custom_fields,
    find_section,
    find_subnet,
    find_tag,
    tag_ids,
)


def _failed(msg):
    return {'failed': True, 'msg': msg, 'changed': False}


def _label(params):
    if params.get('ip'):
        return 'address %s' % params['ip']
    return 'address with hostname %s' % params.get('hostname')


def run_address(client, params, check_mode, want_diff):
    try:
        return _run(client, params, check_mode, want_diff)
    except (AddressInputError, LookupFailed) as exc:
        return _failed('%s: %s; nothing was changed' % (_label(params), exc))


def _containing_subnet(client, ip, section):
    """The most specific subnet holding ``ip`` (in ``section`` when given); LookupFailed when none or ambiguous."""
    records = client.get_list('sections/%d/subnets' % section['id']) if section else client.get_list('subnets')
    best = []
    for record in records:
        network = subnet_network(record)
        if network is None or network.version != ip.version or ip not in network:
            continue
        best.append((network.prefixlen, record))
    if not best:
        raise LookupFailed('no subnet in phpIPAM contains %s: create the subnet first, or give subnet' % ip)
    longest = max(p for p, _r in best)
    chosen = [r for p, r in best if p == longest]
    if len(chosen) > 1:
        raise LookupFailed('%s lies in %d subnets %s (ids %s): give subnet or section'
                           % (ip, len(chosen), subnet_cidr(chosen[0]), ', '.join(str(r['id']) for r in chosen)))
    return chosen[0]


def _find(client, params, ip, subnet, section):
    """The existing address record (or None) and the subnet it is in (or will be created in)."""
    if ip is not None:
        if subnet is not None:
            check_ip_in_subnet(ip, subnet_network(subnet), allow_network_address=True)
            # Not subnets/{id}/addresses/{ip}/: on an empty subnet phpIPAM 1.8.2 dies with a PHP fatal error.
            records = [r for r in client.get_list('addresses/search/%s' % ip) if r.get('subnetId') == subnet['id']]
            return (records[0] if records else None), subnet
        records = client.get_list('addresses/search/%s' % ip)
        if section is not None:
            ids = set(s['id'] for s in client.get_list('sections/%d/subnets' % section['id']))
            records = [r for r in records if r.get('subnetId') in ids]
        if len(records) > 1:
            raise LookupFailed('%s exists in %d subnets (subnet ids %s): give subnet'
                               % (ip, len(records), ', '.join(str(r.get('subnetId')) for r in records)))
        if records:
            return records[0], find_subnet(client, records[0]['subnetId'])
        return None, None
    hostname = params['hostname'].rstrip('.').lower()
    matches = [r for r in client.get_list('subnets/%d/addresses' % subnet['id'])
               if (r.get('hostname') or '').rstrip('.').lower() == hostname]
    if len(matches) > 1:
        raise LookupFailed('%d addresses in %s have hostname %s (%s): give ip'
                           % (len(matches), subnet_cidr(subnet), params['hostname'],
                              ', '.join(str(r.get('ip')) for r in matches)))
    return (matches[0] if matches else None), subnet


def _desired(client, params, record):
    tag_id = None
    if params.get('tag') is not None:
        tag_id = find_tag(tag_ids(client), params['tag'])
    custom = params.get('custom_fields') or {}
    if custom:
        check_custom_fields(client, 'addresses', list(custom))
    desired = desired_fields(params, tag_id, custom)
    if 'note' in desired and record is not None:
        # A reservation marker in the note stays: the user's note text changes, the lease does not.
        _text, payload = split_marked(record.get('note'))
        if payload is not None:
            desired['note'] = join_marked(desired['note'], payload)
    return desired


def _run(client, params, check_mode, want_diff):
    ip = parse_ip(params['ip']) if params.get('ip') else None
    section = find_section(client, params['section']) if params.get('section') else None
    subnet = find_subnet(client, params['subnet'], section) if params.get('subnet') else None
    record, subnet = _find(client, params, ip, subnet, section)

    if params['state'] == 'absent':
        if record is None:
            return {'changed': False, 'address': None}
        if not check_mode:
            client.delete('addresses/%d' % record['id'])
        result = {'changed': True, 'address': None}
        if want_diff:
            result['diff'] = {'before': _shown(record), 'after': {}}
        return result

    desired = _desired(client, params, record)
    if ip is None:
        desired.pop('hostname', None)  # the key that found the record, not a value to set
    if record is not None:
        payload, before, after = changed_fields(record, desired)
        if payload and not check_mode:
            client.update('addresses/%d' % record['id'], update_payload(record, payload))
            record = client.get('addresses/%d' % record['id'])
        elif payload:
            record = dict(record, **after)
        result = {'changed': bool(payload), 'address': record}
        if want_diff and payload:
            result['diff'] = {'before': before, 'after': after}
        return result

    if ip is None:
        raise LookupFailed('no address in %s has hostname %s; give ip to create one'
                           % (subnet_cidr(subnet), params['hostname']))
    if subnet is None:
        subnet = _containing_subnet(client, ip, section)
    check_ip_in_subnet(ip, subnet_network(subnet), allow_network_address=True)
    data = dict((k, v) for k, v in desired.items() if v is not None)
    data.update(ip=str(ip), subnetId=subnet['id'])
    if check_mode:
        record = dict(data, id=None)
    else:
        try:
            created = client.create('addresses', data)
        except PhpipamConflictError:
            raise LookupFailed('%s was created in %s by someone else just now; run again to update it'
                               % (ip, subnet_cidr(subnet)))
        record = client.get('addresses/%d' % created.id)
    result = {'changed': True, 'address': record}
    if want_diff:
        result['diff'] = {'before': {}, 'after': _shown(record)}
    return result


def _shown(record):
    keys = ('ip', 'subnetId', 'hostname', 'description', 'mac', 'owner', 'note', 'tag', 'excludePing', 'is_gateway')
    return dict((k, record.get(k)) for k in keys if record.get(k) is not None)
