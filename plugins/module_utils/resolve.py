# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names and CIDRs from a playbook -> phpIPAM objects and ids, through the client. Read-only.

Each function raises LookupFailed with a message that names what was looked for and what
exists, so a typo in a playbook gives one clear line and no write.
"""

from ansible_collections.ipamkit.phpipam.plugins.module_utils.addresses import (
    AddressInputError,
    parse_network,
    subnet_cidr,
    subnet_network,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamNotFoundError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.metadata import read_payload


class LookupFailed(ValueError):
    """A name, id or CIDR given in a playbook does not match anything (or matches too much) in phpIPAM."""


def _is_id(value):
    return isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())


def find_section(client, section):
    """The section record for a name (case-insensitive) or id."""
    if section is None:
        return None
    sections = client.get_list('sections')
    if _is_id(section):
        matches = [s for s in sections if s.get('id') == int(section)]
    else:
        matches = [s for s in sections if str(s.get('name', '')).lower() == str(section).strip().lower()]
    if not matches:
        raise LookupFailed('section %r does not exist in phpIPAM (sections: %s)'
                           % (section, ', '.join(sorted(str(s.get('name')) for s in sections)) or 'none'))
    return matches[0]


def find_subnet(client, subnet, section=None, required=True):
    """The subnet record for a CIDR or an id; ``section`` (record) narrows a CIDR found in several sections.

    ``subnet`` may also be a dict (a record already read) and is then returned as is.
    """
    if isinstance(subnet, dict):
        return subnet
    if _is_id(subnet):
        record = client.get_or_none('subnets/%d' % int(subnet))
        if record is None or subnet_network(record) is None:
            if required:
                raise LookupFailed('subnet id %s does not exist in phpIPAM (or is a folder)' % subnet)
            return None
        return record
    try:
        network = parse_network(subnet)
    except AddressInputError as exc:
        raise LookupFailed(str(exc))
    records = client.get_list('subnets/cidr/%s/%d' % (network.network_address, network.prefixlen))
    if section is not None:
        records = [r for r in records if r.get('sectionId') == section['id']]
    if not records:
        if required:
            where = ' in section %s' % section.get('name') if section else ''
            raise LookupFailed('subnet %s does not exist in phpIPAM%s' % (network, where))
        return None
    if len(records) > 1:
        raise LookupFailed('subnet %s exists in %d sections (ids %s): give section, or the subnet id'
                           % (network, len(records), ', '.join(str(r['id']) for r in records)))
    return records[0]


def find_subnets(client, subnets, section=None):
    """Records for an ordered list of CIDRs/ids; every unknown one is named in one error."""
    records, problems, seen = [], [], set()
    for item in subnets:
        try:
            record = find_subnet(client, item, section)
        except LookupFailed as exc:
            problems.append(str(exc))
            continue
        if record['id'] in seen:
            problems.append('subnet %s is listed twice' % subnet_cidr(record))
            continue
        seen.add(record['id'])
        records.append(record)
    if problems:
        raise LookupFailed('; '.join(problems))
    return records


def tag_ids(client):
    """Address tags, name -> id."""
    return dict((tag['type'], tag['id']) for tag in client.get_list('tools/tags') if tag.get('type'))


def find_tag(tags, name):
    """The id of the tag called ``name`` (case-insensitive) in ``tags`` (name -> id); a number is an id."""
    if name is None:
        return None
    if _is_id(name) and int(name) in tags.values():
        return int(name)
    for tag_name, tag_id in tags.items():
        if tag_name.lower() == str(name).strip().lower():
            return tag_id
    raise LookupFailed('tag %r is not an address tag in phpIPAM (tags: %s)' % (name, ', '.join(sorted(tags))))


def tag_name(tags, tag_id):
    for name, value in tags.items():
        if value == tag_id:
            return name
    return None


def custom_field_names(client, controller):
    """Names of the custom fields of ``addresses`` or ``subnets`` ([] when there are none)."""
    try:
        data = client.read('%s/custom_fields' % controller)
    except PhpipamNotFoundError:  # "No custom fields defined"
        return []
    return sorted(data) if isinstance(data, dict) else []


def check_custom_fields(client, controller, names):
    """LookupFailed unless every name is a custom field of ``controller``."""
    names = [n for n in names if n]
    if not names:
        return
    known = custom_field_names(client, controller)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise LookupFailed('%s is not a custom field of phpIPAM %s (custom fields: %s)'
                           % (', '.join(unknown), controller, ', '.join(known) or 'none'))


def find_vlan(client, vlan):
    """The VLAN id for a VLAN number (unique across L2 domains) or, prefixed ``id:``, a phpIPAM id."""
    vlans = client.get_list('vlans')
    if isinstance(vlan, str) and vlan.startswith('id:'):
        matches = [v for v in vlans if str(v.get('id')) == vlan[3:].strip()]
    elif _is_id(vlan):
        matches = [v for v in vlans if v.get('number') == int(vlan)]
    else:
        matches = [v for v in vlans if str(v.get('name', '')).lower() == str(vlan).strip().lower()]
    if not matches:
        raise LookupFailed('VLAN %r does not exist in phpIPAM (give its number, name, or id:<id>)' % (vlan,))
    if len(matches) > 1:
        raise LookupFailed('VLAN %r matches %d VLANs (ids %s): give id:<id>'
                           % (vlan, len(matches), ', '.join(str(v['id']) for v in matches)))
    return matches[0]['id']


def find_nameserver(client, name):
    servers = client.get_list('tools/nameservers')
    matches = [s for s in servers if str(s.get('name', '')).lower() == str(name).strip().lower()
               or (_is_id(name) and s.get('id') == int(name))]
    if not matches:
        raise LookupFailed('name server set %r does not exist in phpIPAM (sets: %s)'
                           % (name, ', '.join(sorted(str(s.get('name')) for s in servers)) or 'none'))
    return matches[0]['id']


def find_scan_agent(client, name=None, code=None):
    """The scan agent id by name (or id), or by its code (the code is never put in a message)."""
    agents = client.get_list('tools/scanagents')
    if code is not None:
        matches = [a for a in agents if a.get('code') and a.get('code') == code]
        if not matches:
            raise LookupFailed('no scan agent in phpIPAM has the given scan_agent_code')
        return matches[0]['id']
    matches = [a for a in agents if str(a.get('name', '')).lower() == str(name).strip().lower()
               or (_is_id(name) and a.get('id') == int(name))]
    if not matches:
        raise LookupFailed('scan agent %r does not exist in phpIPAM (agents: %s)'
                           % (name, ', '.join(sorted(str(a.get('name')) for a in agents)) or 'none'))
    return matches[0]['id']


def _subnet_sort_key(record):
    network = subnet_network(record)
    return (network.version, int(network.network_address), network.prefixlen)


def select_subnets(client, section, metadata=None, metadata_field=None, custom_field=None, value=None):
    """The subnets of ``section`` (record) whose metadata holds every item of ``metadata`` and/or whose
    ``custom_field`` equals ``value``, in address order (IPv4 first). Folders are left out."""
    if custom_field:
        check_custom_fields(client, 'subnets', [custom_field])
    if metadata_field:
        check_custom_fields(client, 'subnets', [metadata_field])
    selected = []
    for record in client.get_list('sections/%d/subnets' % section['id']):
        if subnet_network(record) is None:
            continue
        if custom_field and str(record.get(custom_field) if record.get(custom_field) is not None else '') != str(value):
            continue
        if metadata:
            stored = read_payload(record, 'description', metadata_field) or {}
            if any(stored.get(k) != v for k, v in metadata.items()):
                continue
        selected.append(record)
    return sorted(selected, key=_subnet_sort_key)


def resolve_pool(client, subnet=None, pool=None, selector=None, section=None):
    """The ordered pool subnets of a reservation target: one subnet, a list, or a selector dict."""
    section_record = find_section(client, section) if section is not None else None
    if subnet is not None:
        return [find_subnet(client, subnet, section_record)]
    if pool:
        return find_subnets(client, pool, section_record)
    if selector:
        if not selector.get('section'):
            raise LookupFailed('pool_selector needs section')
        if not selector.get('metadata') and not selector.get('custom_field'):
            raise LookupFailed('pool_selector needs metadata, or custom_field and value')
        chosen = find_section(client, selector['section'])
        records = select_subnets(client, chosen, selector.get('metadata'), selector.get('metadata_field'),
                                 selector.get('custom_field'), selector.get('value'))
        if not records:
            raise LookupFailed('pool_selector matches no subnet in section %s' % chosen.get('name'))
        return records
    return []
