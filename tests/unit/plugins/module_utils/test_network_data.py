# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""network_data: one GET per collection, the joined host dicts, inheritance and host selection.

The client talks to a loopback server answering with what a real phpIPAM 1.8.2 answered to the same GETs
(tests/unit/fixtures/network_data, recorded by record.py there), so the client's own normalisation runs.
"""

import copy
import datetime
import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamAuthError, PhpipamServerError
from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_data import (
    HOST_KEYS,
    NetworkDataError,
    build_network,
    cacheable_collections,
    fetch_collections,
    load_network,
    select_hosts,
)

FIXTURES = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'network_data')
UTC = datetime.timezone.utc
APP = 'ansible_rw'
TOKEN = 'secret-app-code-7f3a9c'
SEEN_NOW = datetime.datetime(2026, 11, 26, 7, 30, tzinfo=UTC)


def recorded(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return json.load(handle)


class CollectionServer(object):
    """Answers GET /api/<app>/<collection>/ with a recorded (status, body); counts every request it gets."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

            def do_GET(self):  # pylint: disable=invalid-name
                path = self.path.split('?', 1)[0].strip('/')
                prefix = 'api/%s/' % APP
                collection = path[len(prefix):] if path.startswith(prefix) else path
                server.requests[collection] += 1
                answer = server.answers.get(collection)
                if answer is None or self.headers.get('token') != TOKEN:
                    answer = {'status': 401, 'body': {'code': 401, 'success': False, 'message': 'Unauthorized'}}
                data = json.dumps(answer['body']).encode()
                self.send_response(answer['status'])
                self.send_header('Content-Type', 'application/json; charset=utf-8')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def client(self):
        return PhpipamClient(self.url, APP, token=TOKEN, retries=0)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(answers):
        server = CollectionServer(answers)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope='module')
def fetched():
    """The recorded collections as the client returns them (fetched once; each test builds its own copy)."""
    server = CollectionServer(recorded('collections.json'))
    try:
        with server.client() as client:
            return fetch_collections(client)
    finally:
        server.close()


@pytest.fixture
def network(fetched):
    return build_network(copy.deepcopy(fetched))


def by_ip(data, ip):
    matches = [h for h in data.hosts if h['ip'] == ip]
    assert len(matches) == 1, ip
    return matches[0]


# ------------------------------------------------------------------ requests

def test_one_get_per_collection_and_folders_when_a_subnet_sits_in_one(serve):
    server = serve(recorded('collections.json'))
    with server.client() as client:
        data = load_network(client)
        assert client.request_counts == Counter({'GET': 8})
    assert server.requests == Counter(dict.fromkeys(
        ['sections', 'subnets', 'addresses', 'vlans', 'devices', 'tools/tags', 'tools/locations', 'folders'], 1))
    assert len(data.hosts) == 23
    assert data.subnets[13]['cidr'] is None and data.subnets[13]['isFolder'] is True


def test_no_folder_request_when_no_subnet_sits_in_a_folder(serve):
    answers = recorded('collections.json')
    subnets = answers['subnets']['body']['data']
    folder_ids = set(f['id'] for f in answers['folders']['body']['data'])
    answers['subnets']['body']['data'] = [s for s in subnets if s['masterSubnetId'] not in folder_ids]
    del answers['folders']
    server = serve(answers)
    with server.client() as client:
        load_network(client)
        assert client.request_counts == Counter({'GET': 7})
    assert 'folders' not in server.requests


def test_an_empty_phpipam_is_an_empty_network(serve):
    # Recorded: 200 "No sections available", 404 "No vlans configured" / "No devices configured" /
    # "No objects found", 500 "Unable to read subnets" / "Unable to read addresses".
    server = serve(recorded('empty.json'))
    with server.client() as client:
        data = load_network(client)
    assert (data.hosts, data.sections, data.subnets, data.vlans, data.devices, data.locations) == ([], {}, {}, {}, {}, {})
    assert sorted(t['type'] for t in data.tags.values()) == ['DHCP', 'Offline', 'Reserved', 'Used']


@pytest.mark.parametrize('collection, status, message, error', [
    ('addresses', 401, 'Unauthorized', PhpipamAuthError),
    ('vlans', 500, 'Error: SQLSTATE[HY000] general error', PhpipamServerError),
    ('subnets', 503, 'API server disabled', PhpipamServerError),
])
def test_real_errors_are_not_taken_for_empty_tables(serve, collection, status, message, error):
    answers = recorded('collections.json')
    answers[collection] = {'status': status, 'body': {'code': status, 'success': False, 'message': message}}
    server = serve(answers)
    with server.client() as client:
        with pytest.raises(error) as info:
            load_network(client)
    assert message in str(info.value)


# ------------------------------------------------------------------ host dicts

def test_host_dicts_join_subnet_section_vlan_tag_location_and_custom_fields(network):
    gateway = by_ip(network, '127.0.10.1')
    assert set(gateway) == set(HOST_KEYS)
    ignored = ('id', 'subnet_id', 'section_id', 'vlan_id', 'location_id', 'last_seen')
    assert dict((k, v) for k, v in gateway.items() if k not in ignored) == {
        'ip': '127.0.10.1', 'hostname': 'gw.lab.test', 'description': 'lab gateway {{ 7 * 6 }}',
        'mac': '02:00:00:00:10:01', 'tag': 'Used', 'tag_id': 2, 'subnet': '127.0.10.0/24', 'section': 'Lab',
        'vlan': 10, 'vlan_name': 'lab', 'device_id': None, 'device': None, 'location': 'DC one', 'note': None,
        'is_gateway': True, 'custom': {'custom_asset': 'A-0001', 'custom_ssh_jump': 'direct'},
    }
    assert gateway['last_seen'] == datetime.datetime(2026, 11, 26, 6, 57, 53, tzinfo=UTC)
    assert network.sections[gateway['section_id']]['name'] == 'Lab'
    assert network.subnets[gateway['subnet_id']]['location'] == gateway['location_id']


@pytest.mark.parametrize('ip, expected', [
    # on a device (hypervisor), whose location it shares
    ('127.0.10.5', {'device': 'hv1.lab.test', 'location': 'DC one', 'is_gateway': False,
                    'last_seen': datetime.datetime(2025, 1, 1, tzinfo=UTC)}),
    # phpIPAM's lastSeen column default 1970-01-01 00:00:01 means never
    ('127.0.10.10', {'last_seen': None, 'custom': {}, 'tag': 'Used'}),
    ('127.0.10.20', {'last_seen': None, 'tag': 'Reserved', 'mac': None}),
    ('fd00:10::10', {'subnet': 'fd00:10::/64', 'section': 'Lab', 'vlan': None, 'vlan_name': None, 'location': None}),
    # a subnet inside a folder
    ('127.0.50.9', {'subnet': '127.0.50.0/24', 'section': 'Lab', 'hostname': 'infolder.lab.test'}),
    # an address whose subnet is missing keeps its subnet id and nothing it would bring
    ('127.0.30.4', {'subnet_id': 99999, 'subnet': None, 'section_id': None, 'section': None, 'vlan': None}),
    # a demo address without hostname, in a subnet of section Customers under a folder
    ('10.65.22.4', {'hostname': None, 'tag': 'DHCP', 'section': 'Customers', 'subnet': '10.65.22.0/24'}),
])
def test_host_details(network, ip, expected):
    host = by_ip(network, ip)
    assert dict((k, host[k]) for k in expected) == expected


def test_ipv6_addresses_are_canonical(serve):
    answers = recorded('collections.json')
    for address in answers['addresses']['body']['data']:
        if address['ip'] == 'fd00:10::10':
            address['ip'] = 'FD00:0010:0000:0000:0000:0000:0000:0010'
    server = serve(answers)
    with server.client() as client:
        data = load_network(client)
    assert by_ip(data, 'fd00:10::10')['subnet'] == 'fd00:10::/64'


@pytest.mark.parametrize('ip, field, expected', [
    ('127.0.10.5', 'custom_ssh_jump', 'direct'),                   # its own value wins
    ('127.0.10.10', 'custom_ssh_jump', 'gw.lab.test'),             # from its subnet
    ('127.0.10.10', 'ssh_user', 'ops'),                            # prefix optional
    ('127.0.50.9', 'custom_ssh_jump', 'jump@127.0.10.1:2222'),     # from the folder its subnet sits in
    ('127.40.1.7', 'custom_ssh_jump', None),                       # nobody up the chain has one
    ('127.0.30.4', 'custom_ssh_jump', None),                       # subnet missing
    ('127.0.10.1', 'custom_asset', 'A-0001'),
])
def test_inherited_custom_fields(network, ip, field, expected):
    assert network.inherited(by_ip(network, ip), field) == expected


def test_a_master_subnet_loop_ends(network):
    network.subnets[10]['masterSubnetId'] = 11  # 11 -> 10 -> 11
    assert network.inherited(by_ip(network, '127.40.1.7'), 'custom_ssh_jump') is None
    assert [s['id'] for s in network.subnet_chain(11)] == [11, 10]


def test_a_cached_copy_rebuilds_the_same_network(fetched, network):
    cached = json.loads(json.dumps(cacheable_collections(fetched)))
    assert build_network(cached).hosts == network.hosts


# ------------------------------------------------------------------ selection

def ips(hosts):
    return sorted(h['ip'] for h in hosts)


LAB_V4_SCAN = ['127.0.10.1', '127.0.10.10', '127.0.10.20', '127.0.10.30', '127.0.10.40', '127.0.10.5']


@pytest.mark.parametrize('filters, expected', [
    ({'sections': ['IPv6']}, []),
    ({'sections': ['customers']}, ['10.10.1.245', '10.10.1.3', '10.10.1.4', '10.10.1.5', '10.10.1.6', '10.10.2.10',
                                   '10.10.2.254', '10.65.22.4', '10.65.22.5', '10.65.22.6']),
    ({'sections': [1], 'hostname_required': True}, ['10.10.1.3', '10.10.1.4', '10.10.1.5', '10.10.1.6', '10.10.2.10']),
    ({'subnets': ['127.0.10.0/24']}, LAB_V4_SCAN),
    ({'subnets': [7]}, LAB_V4_SCAN),
    ({'subnets': ['7']}, LAB_V4_SCAN),
    ({'subnets': ['127.40.0.0/16']}, ['127.40.1.7']),
    ({'subnets': [10]}, ['127.40.1.7']),                     # an id selects the subnets nested below it
    ({'subnets': [13]}, ['127.0.50.9']),                     # a folder id too
    ({'subnets': ['fd00:10::/64']}, ['fd00:10::1', 'fd00:10::10']),
    ({'subnets': ['127.0.20.0/28', 'fd00:10::1/128']}, ['127.0.20.2', '127.0.20.3', 'fd00:10::1']),
    ({'subnets': ['127.0.30.0/24']}, ['127.0.30.4']),        # by IP even with its subnet missing
    ({'tags': ['reserved']}, ['10.10.1.5', '10.10.1.6', '127.0.10.20']),
    ({'tags': [1, 'DHCP'], 'sections': ['Lab']}, ['127.0.10.30', '127.0.10.40']),
    ({'custom': {'custom_asset': 'A-0005'}}, ['127.0.10.5']),
    ({'custom': {'ssh_user': 'ops'}}, LAB_V4_SCAN),           # inherited from the subnet
    ({'custom': {'ssh_jump': ['gw.lab.test', 'direct']}}, LAB_V4_SCAN),
    ({'custom': {'ssh_jump': 'gw.lab.test'}}, ['127.0.10.10', '127.0.10.20', '127.0.10.30', '127.0.10.40']),
    ({'seen_within': datetime.timedelta(hours=1)}, ['127.0.10.1']),
    ({'seen_within': datetime.timedelta(days=1000)}, ['127.0.10.1', '127.0.10.30', '127.0.10.5']),
    ({'sections': ['Lab'], 'subnets': ['127.0.0.0/8'], 'tags': ['Used'], 'hostname_required': True,
      'seen_within': datetime.timedelta(days=700)}, ['127.0.10.1', '127.0.10.5']),
    ({}, None),
])
def test_select_hosts(network, filters, expected):
    selected = select_hosts(network, now=SEEN_NOW, **filters)
    if expected is None:
        assert selected == network.hosts
    else:
        assert ips(selected) == sorted(expected)


@pytest.mark.parametrize('value', ['lab', '127.0.10.0/33', 'fd00::/129', '10.0.0.0/8/8', ''])
def test_bad_subnet_filters_are_named(network, value):
    with pytest.raises(NetworkDataError) as info:
        select_hosts(network, subnets=[value])
    assert repr(value) in str(info.value) and 'CIDR' in str(info.value)


def test_seen_within_needs_a_timedelta(network):
    with pytest.raises(NetworkDataError):
        select_hosts(network, seen_within=3600)
