# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the subnet module: find the subnet by CIDR in a section, compare, create/update/delete.

Names (section, VLAN, name server set, scan agent, parent) are resolved before any write.
Metadata lives in the subnet custom field ``metadata_field`` when named, otherwise as a marker at
the end of the description (metadata.py); the description a user sets never loses the marker
and the marker never leaks into the returned ``description``.
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    parse_network,
    subnet_cidr,
    subnet_network,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.metadata import dumps, read_payload, user_text, write_fields
from ansible_collections.ipamkit.phpipam.plugins.module_utils.resolve import (
    LookupFailed,
    check_custom_fields,
    find_nameserver,
    find_scan_agent,
    find_section,
    find_subnet,
    find_vlan,
)

FLAGS = (('ping_subnet', 'pingSubnet'), ('discover_subnet', 'discoverSubnet'), ('resolve_dns', 'resolveDNS'),
         ('is_full', 'isFull'))


def _failed(msg):
    return {'failed': True, 'msg': msg, 'changed': False}


def run_subnet(client, params, check_mode, want_diff):
    try:
        return _run(client, params, check_mode, want_diff)
    except (AddressInputError, LookupFailed) as exc:
        return _failed('subnet %s: %s; nothing was changed' % (params.get('cidr'), exc))


def _comparable(field, value):
    if value in (None, '') or (field in ('vlanId', 'nameserverId', 'scanAgent', 'masterSubnetId') and value == 0):
        return None
    if isinstance(value, bool):
        return value
    return str(value)


def _desired(client, params, record):
    """phpIPAM fields the options ask for (unset options are not managed)."""
    fields = {}
    metadata_field = params.get('metadata_field')
    if metadata_field:
        check_custom_fields(client, 'subnets', [metadata_field])
    custom = params.get('custom_fields') or {}
    if custom:
        check_custom_fields(client, 'subnets', list(custom))
    current_text = user_text(record or {}, 'description', metadata_field)
    current_meta = read_payload(record or {}, 'description', metadata_field)
    text = params['description'] if params.get('description') is not None else current_text
    meta = params['metadata'] if params.get('metadata') is not None else current_meta
    if params.get('description') is not None or params.get('metadata') is not None:
        fields.update(write_fields('description', text, meta or None, metadata_field))
        if metadata_field:
            if params.get('description') is None:
                fields.pop('description')
            if params.get('metadata') is None:
                fields.pop(metadata_field)
    if params.get('vlan') is not None:
        fields['vlanId'] = find_vlan(client, params['vlan']) if str(params['vlan']) not in ('', '0') else 0
    if params.get('nameservers') is not None:
        fields['nameserverId'] = find_nameserver(client, params['nameservers']) if params['nameservers'] else 0
    if params.get('scan_agent_code') is not None:
        fields['scanAgent'] = find_scan_agent(client, code=params['scan_agent_code'])
    elif params.get('scan_agent') is not None:
        fields['scanAgent'] = find_scan_agent(client, name=params['scan_agent']) if params['scan_agent'] else 0
    for option, field in FLAGS:
        if params.get(option) is not None:
            fields[field] = bool(params[option])
    for name, value in custom.items():
        fields[name] = None if value is None else str(value)
    return fields


def _changes(record, desired):
    payload, before, after = {}, {}, {}
    for field, value in desired.items():
        if _comparable(field, record.get(field)) != _comparable(field, value):
            payload[field] = '' if value is None else value
            before[field] = record.get(field)
            after[field] = value
    return payload, before, after


def view(record, metadata_field=None):
    """The subnet as the module returns it: phpIPAM fields plus ``cidr`` and ``metadata``; marker removed."""
    if record is None:
        return None
    out = dict(record)
    out['cidr'] = subnet_cidr(record)
    out['metadata'] = read_payload(record, 'description', metadata_field) or {}
    out['description'] = user_text(record, 'description', metadata_field)
    return out


def _run(client, params, check_mode, want_diff):
    network = parse_network(params['cidr'], 'cidr')
    section = find_section(client, params['section'])
    record = find_subnet(client, str(network), section, required=False)
    metadata_field = params.get('metadata_field')

    if params['state'] == 'absent':
        if record is None:
            return {'changed': False, 'subnet': None}
        used = client.get_list('subnets/%d/addresses' % record['id'])
        if used and not params.get('force'):
            raise LookupFailed('it holds %d address%s, which phpIPAM would delete with it; set force: true to delete '
                               'them too' % (len(used), '' if len(used) == 1 else 'es'))
        if not check_mode:
            client.delete('subnets/%d' % record['id'])
        result = {'changed': True, 'subnet': None}
        if want_diff:
            result['diff'] = {'before': {'cidr': str(network), 'id': record['id'], 'addresses': len(used)}, 'after': {}}
        return result

    desired = _desired(client, params, record)
    if record is not None:
        payload, before, after = _changes(record, desired)
        if params.get('parent') is not None:
            parent_id = _parent_id(client, params['parent'], section)
            if (record.get('masterSubnetId') or 0) != parent_id:
                raise LookupFailed('it exists under parent id %s; phpIPAM cannot move it to %s through the API'
                                   % (record.get('masterSubnetId') or 0, params['parent']))
        if payload and not check_mode:
            client.update('subnets/%d' % record['id'], payload)
            record = client.get('subnets/%d' % record['id'])
        elif payload:
            record = dict(record, **after)
        result = {'changed': bool(payload), 'subnet': view(record, metadata_field)}
        if want_diff and payload:
            result['diff'] = {'before': _shown(before), 'after': _shown(after)}
        return result

    data = dict((k, v) for k, v in desired.items() if v is not None)
    data.update(subnet=str(network.network_address), mask=network.prefixlen, sectionId=section['id'])
    if params.get('parent') is not None:
        data['masterSubnetId'] = _parent_id(client, params['parent'], section, network)
    if check_mode:
        record = dict(data, id=None)
    else:
        created = client.create('subnets', data)
        record = client.get('subnets/%d' % created.id)
    result = {'changed': True, 'subnet': view(record, metadata_field)}
    if want_diff:
        result['diff'] = {'before': {}, 'after': _shown(data)}
    return result


def _parent_id(client, parent, section, network=None):
    if parent in ('', '0', 0):
        return 0
    record = find_subnet(client, parent, section)
    outer = subnet_network(record)
    if network is not None and (outer.version != network.version or not network.subnet_of(outer) or outer == network):
        raise LookupFailed('it does not lie inside its parent %s' % outer)
    return record['id']


def _shown(fields):
    return dict((k, dumps(v) if isinstance(v, dict) else v) for k, v in fields.items())
