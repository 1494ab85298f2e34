# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phpIPAM client against recorded phpIPAM 1.8.2 answers served over loopback HTTP(S)."""

import datetime
import json

import pytest

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient, client_from_options
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import (
    PhpipamAuthError,
    PhpipamConfigError,
    PhpipamConflictError,
    PhpipamError,
    PhpipamInvalidInputError,
    PhpipamNotFoundError,
    PhpipamPermissionError,
    PhpipamServerError,
    PhpipamTransportError,
    PhpipamUnexpectedResponseError,
)

from phpipam_replay import fake_secret, find_exchange  # pylint: disable=import-error

APP_CODE = fake_secret('APP_CODE')
UTC = datetime.timezone.utc


def client(server, app='scanner', token=APP_CODE, **kwargs):
    kwargs.setdefault('backoff', 0)
    return PhpipamClient(server.url, app, token=token, **kwargs)


def one_line(exc):
    text = str(exc)
    assert '\n' not in text
    return text


# ---------------------------------------------------------------- reading


def test_app_code_read_normalises_types(replay):
    replay.queue(('scan_agent_cycle', 'subnet details (ping+discover subnet)'))
    subnet = client(replay).get('subnets/7')
    assert subnet['id'] == 7 and subnet['mask'] == 24
    assert subnet['pingSubnet'] is True and subnet['isFolder'] is False
    assert subnet['lastScan'] is None and subnet['linked_subnet'] is None
    assert subnet['nameservers']['namesrv1'] == '127.0.0.53;127.0.0.54'
    assert subnet['gateway'] == {'ip_addr': '127.0.10.1', 'id': 101}
    sent = replay.received[0]
    assert sent['headers']['token'] == APP_CODE
    assert sent['headers']['api-stringify-results'] == 'false'
    assert sent['path'] == '/api/scanner/subnets/7/'


def test_stringified_answers_normalise_to_the_same_record(replay):
    replay.queue(('types_timezone', 'recent lastSeen (seed NOW()-5min), custom field set'),
                 ('types_timezone', 'same with Api-Stringify-Results: true header'))
    api = client(replay)
    native = api.get('addresses/101')
    # The recorded request had the header set to true; the client always sends false,
    # which the replay does not check, so both answers go through the same normaliser.
    stringified = api.get('addresses/101')
    assert native == stringified
    assert native['is_gateway'] is True and native['subnetId'] == 7 and native['tag'] == 2
    assert native['lastSeen'] == datetime.datetime(2026, 11, 25, 19, 48, 44, tzinfo=UTC)
    assert native['custom_asset'] == 'A-0001'


@pytest.mark.parametrize('comment, expected', [
    ('old lastSeen', datetime.datetime(2025, 1, 1, tzinfo=UTC)),
    ("lastSeen '1970-01-01 00:00:01' (column default)", None),
    ('lastSeen NULL', None),
    ("lastSeen '0000-00-00 00:00:00'", None),
])
def test_last_seen_never_values_read_as_none(replay, comment, expected):
    replay.queue(('types_timezone', comment))
    assert client(replay).get('addresses/%s' % find_exchange('types_timezone', comment)['request']['path']
                              .rstrip('/').rsplit('/', 1)[1])['lastSeen'] == expected


def test_server_time_zone_is_applied_to_dates(replay):
    replay.queue(('types_timezone', 'lastScan is a TIMESTAMP column: shown in session tz (+02:00)'))
    subnet = client(replay, timezone='+02:00').get('subnets/8')
    assert subnet['lastScan'] == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert subnet['lastScan'].utcoffset() == datetime.timedelta(hours=2)


def test_filter_query_goes_after_a_slash(replay):
    replay.queue(('scan_agent_cycle', 'filter subnets by scanAgent'))
    subnets = client(replay).get_list('subnets', params={'filter_by': 'scanAgent', 'filter_value': 2})
    assert [s['id'] for s in subnets] == [7, 8, 10, 12]
    assert replay.received[0]['path'] == '/api/scanner/subnets/'


@pytest.mark.parametrize('transcript, comment', [
    ('scan_agent_cycle', 'addresses of EMPTY subnet'),
    ('scan_agent_cycle', 'filter with no match'),
    ('scan_agent_cycle', 'search ip not present'),
    ('reservation', 'slaves of subnet with none'),
])
def test_nothing_found_is_an_empty_list(replay, transcript, comment):
    exchange = find_exchange(transcript, comment)
    replay.queue(exchange)
    path = exchange['request']['path'].split('/api/scanner/', 1)[1]
    assert client(replay).get_list(path, params=exchange['request']['query'] or None) == []


def test_missing_object_stays_an_error(replay):
    replay.queue(('errors', 'addresses of non-existent subnet'), ('errors', 'non-existent address id'),
                 ('errors', 'non-existent address id'))
    api = client(replay)
    with pytest.raises(PhpipamNotFoundError) as info:
        api.get_list('subnets/999/addresses')
    assert not info.value.empty_result
    assert 'HTTP 404 Invalid subnet Id (999)' in one_line(info.value)
    with pytest.raises(PhpipamNotFoundError):
        api.get('addresses/999999')
    assert api.get_or_none('addresses/999999') is None


def test_get_lists_keeps_order_across_parallel_requests(replay):
    replay.queue(('scan_agent_cycle', 'addresses of subnet 7'), ('scan_agent_cycle', 'addresses of subnet 8'))
    api = client(replay, max_workers=1)
    first, second = api.get_lists(['subnets/7/addresses', 'subnets/8/addresses'])
    assert {a['subnetId'] for a in first} == {7} and {a['subnetId'] for a in second} == {8}


# ---------------------------------------------------------------- writing


def test_create_returns_int_id_and_location(replay):
    exchange = find_exchange('scan_agent_cycle', 'POST new discovered host (JSON, ints for subnetId/tag)')
    replay.queue(exchange)
    body = dict(exchange['request']['body'])
    body['lastSeen'] = datetime.datetime.strptime(body['lastSeen'], '%Y-%m-%d %H:%M:%S').replace(tzinfo=UTC)
    result = client(replay).create('addresses', body)
    assert result.id == 115 and result.status == 201 and result.message == 'Address created'
    assert result.location == '/api/scanner/addresses/115/'


def test_dates_are_written_in_phpipam_format_in_the_server_zone(replay):
    replay.queue(('scan_agent_cycle', 'PATCH subnet lastScan'))
    # 21:45 at +02:00 is 19:45 UTC, which is what the recorded request sent.
    when = datetime.datetime(2026, 11, 25, 21, 45, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    result = client(replay).update('subnets/7', {'lastScan': when})
    assert result.message == 'Subnet updated'


def test_iso_strings_are_converted_before_phpipam_sees_them(replay):
    replay.queue(('scan_agent_cycle', 'PATCH subnet lastScan'))
    client(replay).update('subnets/7', {'lastScan': '2026-11-25T19:45:00Z'})


def test_flags_are_written_as_ints(replay):
    exchange = find_exchange('patch_tag_reset', 'PATCH lastSeen + tag=3')
    replay.queue(exchange)
    client(replay).update('addresses/104', exchange['request']['body'])
    assert json.loads(replay.received[0]['body']) == exchange['request']['body']


@pytest.mark.parametrize('transcript, comment, error', [
    ('scan_agent_cycle', 'POST duplicate address', PhpipamConflictError),
    ('scan_agent_cycle', 'POST ip outside the subnet', PhpipamInvalidInputError),
    ('scan_agent_cycle', 'POST with invalid MAC', PhpipamInvalidInputError),
    ('scan_agent_cycle', 'POST with tag given by name', PhpipamInvalidInputError),
    ('errors', 'unknown key in body', PhpipamInvalidInputError),
    ('errors', 'Content-Type text/plain', PhpipamInvalidInputError),
])
def test_write_errors_are_typed(replay, transcript, comment, error):
    exchange = find_exchange(transcript, comment)
    replay.queue(exchange)
    body = exchange['request']['body']
    if not isinstance(body, dict):
        # Recorded with a deliberately broken request: only the answer matters here.
        exchange['request']['body'] = None
        body = {'ip': '127.0.10.93', 'subnetId': 7}
    with pytest.raises(error) as info:
        client(replay).create('addresses', body)
    message = one_line(info.value)
    assert message.startswith('phpIPAM refused POST /api/scanner/addresses/: HTTP %d'
                              % exchange['response']['status'])
    assert exchange['response']['body']['message'] in message


def test_unparsable_dates_are_refused_before_sending(replay):
    with pytest.raises(PhpipamInvalidInputError) as info:
        client(replay).create('addresses', {'ip': '127.0.10.82', 'subnetId': 7, 'lastSeen': 'yesterday'})
    assert "field lastSeen: expected a date (ISO 8601 or YYYY-MM-DD HH:MM:SS), got 'yesterday'" in one_line(info.value)
    assert not replay.received


def test_php_fatal_is_reported_as_such(replay):
    replay.queue(('scan_agent_cycle', 'DELETE by ip + subnetId'))
    with pytest.raises(PhpipamUnexpectedResponseError) as info:
        client(replay).delete('addresses/127.0.10.78/7')
    message = one_line(info.value)
    assert 'DELETE /api/scanner/addresses/127.0.10.78/7/ answered HTTP 500 with an empty body' in message
    assert 'PHP fatal error' in message


def test_post_is_sent_once_on_a_server_error(replay):
    replay.fail_with('raw', status=502, body='<html><body>Bad Gateway</body></html>')
    with pytest.raises(PhpipamUnexpectedResponseError) as info:
        client(replay).create('addresses', {'ip': '127.0.10.9', 'subnetId': 7})
    assert len(replay.received) == 1
    assert 'HTTP 502' in str(info.value) and 'proxy' in str(info.value)


# ------------------------------------------------------------ authentication


@pytest.mark.parametrize('transcript, comment, app, token, error, words', [
    ('auth_app_code', 'wrong (unknown) code', 'scanner', fake_secret('WRONG_APP_CODE'), PhpipamAuthError,
     ['HTTP 401 Unauthorized', "refused by API app 'scanner'", 'PHPIPAM_TOKEN']),
    ('auth_app_code', 'code of ANOTHER existing app', 'scanner', fake_secret('APP_CODE:admin'), PhpipamAuthError,
     ['HTTP 403 Invalid token', 'app code of another API app']),
    ('auth_app_code', 'user token on ssl_code app', 'scanner', fake_secret('USER_TOKEN'), PhpipamAuthError,
     ['HTTP 401', "'SSL with App code token'"]),
    ('auth_app_errors', 'unknown app id', 'nosuchapp', fake_secret('USER_TOKEN_5'), PhpipamAuthError,
     ["no API app 'nosuchapp'", 'PHPIPAM_APP_ID']),
    ('auth_app_errors', 'app with app_permissions=0', 'disabled', fake_secret('USER_TOKEN_5'),
     PhpipamPermissionError, ["API app 'disabled' is disabled"]),
    ('auth_app_errors', 'API disabled, ssl_code app', 'scanner', APP_CODE, PhpipamServerError,
     ['HTTP 503 API server disabled', "enable 'API'"]),
    ('auth_app_errors', 'ssl_code app over plain HTTP (api_allow_unsafe=false)', 'scanner', APP_CODE,
     PhpipamAuthError, ['SSL connection is required', 'https://']),
])
def test_auth_errors_say_what_to_fix(replay, transcript, comment, app, token, error, words):
    exchange = find_exchange(transcript, comment)
    replay.queue(exchange)
    with pytest.raises(error) as info:
        client(replay, app=app, token=token).get('sections')
    message = one_line(info.value)
    for word in words:
        assert word in message
    assert token not in message
    # phpIPAM's own 503s are final answers, not a busy server: exactly one request.
    assert len(replay.received) == 1


def test_read_only_app_write_is_a_permission_error(replay):
    exchange = find_exchange('auth_app_code', 'write with ssl_code perm-1 app')
    replay.queue(exchange)
    with pytest.raises(PhpipamPermissionError) as info:
        client(replay, app='scanro', token=fake_secret('APP_CODE:scanro')).update('subnets/9', {'description': 'x'})
    assert "API app 'scanro' is read-only" in one_line(info.value)


def test_login_with_username_and_password(replay):
    login = find_exchange('auth_user_token', 'good password')
    read = find_exchange('auth_user_token', "resource call with 'token' header")
    replay.queue(login, read)
    password = fake_secret('ADMIN_PASSWORD')
    api = PhpipamClient(replay.url, 'admin', username='Admin', password=password, backoff=0)
    sections = api.get('sections')
    assert {s['name'] for s in sections} >= {'Lab'}
    assert replay.received[0]['method'] == 'POST' and 'token' not in replay.received[0]['headers']
    assert replay.received[1]['headers']['token'] == fake_secret('USER_TOKEN')
    assert 'authorization' not in replay.received[1]['headers']


def test_wrong_password_names_the_user_not_the_password(replay):
    replay.queue(('auth_user_token', 'wrong password'))
    with pytest.raises(PhpipamAuthError) as info:
        PhpipamClient(replay.url, 'admin', username='Admin', password='WrongPassword1', backoff=0).get('sections')
    message = one_line(info.value)
    assert "login of user 'Admin'" in message and 'WrongPassword1' not in message
    assert len(replay.received) == 1


def test_expired_login_token_is_renewed_once(replay):
    login = find_exchange('auth_user_token', 'good password')
    expired = find_exchange('auth_user_token', 'resource call with expired token')
    relogin = find_exchange('auth_user_token', 'login after expiry -> new token')
    again = find_exchange('auth_user_token', "resource call with 'token' header")
    again['request']['headers']['token'] = fake_secret('USER_TOKEN_2')
    replay.queue(login, expired, relogin, again)
    api = PhpipamClient(replay.url, 'admin', username='Admin', password=fake_secret('ADMIN_PASSWORD'), backoff=0)
    assert api.get('sections')
    assert [r['method'] for r in replay.received] == ['POST', 'GET', 'POST', 'GET']


def test_renewal_happens_only_once(replay):
    login = find_exchange('auth_user_token', 'good password')
    expired = find_exchange('auth_user_token', 'resource call with expired token')
    second_expired = find_exchange('auth_user_token', 'resource call with expired token')
    replay.queue(login, expired, login, second_expired)
    password = fake_secret('ADMIN_PASSWORD')
    with pytest.raises(PhpipamAuthError) as info:
        PhpipamClient(replay.url, 'admin', username='Admin', password=password, backoff=0).get('sections')
    message = one_line(info.value)
    assert fake_secret('USER_TOKEN') not in message and password not in message
    assert len(replay.received) == 4


def test_a_given_user_token_is_sent_as_is_and_not_renewed(replay):
    replay.queue(('auth_user_token', 'resource call with expired token'))
    with pytest.raises(PhpipamAuthError):
        client(replay, app='admin', token=fake_secret('USER_TOKEN')).get('sections')
    assert len(replay.received) == 1


def test_secrets_echoed_by_the_server_are_redacted(replay):
    replay.queue({'comment': 'echo', 'request': {'method': 'GET', 'path': '/api/scanner/sections/', 'query': {},
                                                 'headers': {'token': APP_CODE}, 'body': None},
                  'response': {'status': 400, 'headers': {'content-type': 'application/json'},
                               'body': {'code': 400, 'success': False, 'message': 'bad token %s' % APP_CODE}}})
    with pytest.raises(PhpipamError) as info:
        client(replay).get('sections')
    assert APP_CODE not in str(info.value) and APP_CODE not in repr(info.value.to_dict())


# --------------------------------------------------------- configuration


@pytest.mark.parametrize('kwargs, words', [
    (dict(url='http://ipam.example.com', app_id='a', token='t'), ['refusing to send credentials over plain http://',
                                                                  'ipam.example.com', 'allow_insecure_http']),
    (dict(url='https://ipam.example.com/api/a/', app_id='a', token='t'), ['without /api', 'https://ipam.example.com']),
    (dict(url='https://user:pw@ipam.example.com', app_id='a', token='t'), ['must not contain credentials']),
    (dict(url='ipam.example.com', app_id='a', token='t'), ['is not an http(s) URL']),
    (dict(url='https://ipam.example.com', app_id='', token='t'), ['app_id is required']),
    (dict(url='https://ipam.example.com', app_id='a/b', token='t'), ['not an API app id']),
    (dict(url='https://ipam.example.com', app_id='a'), ['no credentials']),
    (dict(url='https://ipam.example.com', app_id='a', username='u'), ['set password']),
    (dict(url='https://ipam.example.com', app_id='a', token='t', timezone='Mars/Olympus'), ['unknown time zone']),
    (dict(url='https://ipam.example.com', app_id='a', token='t', ca_path='/nonexistent/ca.pem'),
     ['ca_path /nonexistent/ca.pem does not exist']),
])
def test_bad_options_fail_before_any_request(kwargs, words):
    with pytest.raises(PhpipamConfigError) as info:
        PhpipamClient(**kwargs)
    for word in words:
        assert word in one_line(info.value)


@pytest.mark.parametrize('url', ['http://127.0.0.1:1', 'http://localhost', 'http://[::1]:8080', 'http://127.9.9.9'])
def test_plain_http_to_loopback_is_allowed(url):
    assert PhpipamClient(url, 'a', token='t').base_url.startswith(url + '/api/a/')


def test_plain_http_elsewhere_needs_explicit_consent():
    api = PhpipamClient('http://ipam.example.com/phpipam/', 'a', token='t', allow_insecure_http=True)
    assert api.base_url == 'http://ipam.example.com/phpipam/api/a/'


def test_client_from_options_uses_collection_option_names():
    api = client_from_options({'url': 'https://ipam.example.com', 'app_id': 'ansible', 'token': 't',
                               'validate_certs': False, 'timeout': 7, 'timezone': 'Europe/Berlin'})
    assert api.timeout == 7 and api.verify is False and api.timezone == 'Europe/Berlin'
    assert any('validate_certs is false' in w for w in api.warnings)


def test_url_paths_are_quoted_but_keep_slashes_and_colons():
    api = PhpipamClient('https://ipam.example.com', 'a', token='t')
    assert api.url_for('subnets/cidr/fd00:10::/64') == 'https://ipam.example.com/api/a/subnets/cidr/fd00:10::/64/'
    assert api.url_for('/sections//Lab Net/') == 'https://ipam.example.com/api/a/sections/Lab%20Net/'


# ---------------------------------------------------------------- transport


def test_connection_refused_is_retried_then_reported(closed_port):
    api = PhpipamClient('http://127.0.0.1:%d' % closed_port, 'a', token=APP_CODE, backoff=0, retries=2)
    with pytest.raises(PhpipamTransportError) as info:
        api.create('addresses', {'ip': '127.0.10.9', 'subnetId': 7})
    message = one_line(info.value)
    assert 'cannot connect to phpIPAM for POST http://127.0.0.1:%d/api/a/addresses/' % closed_port in message
    assert 'Connection refused' in message and APP_CODE not in message
    # Nothing reached a server, so even a POST may be tried again.
    assert api.request_counts['POST'] == 3


def test_reset_connection_retries_get(replay):
    replay.fail_with('reset').queue(('scan_agent_cycle', 'one scan agent'))
    agent = client(replay).get('tools/scanagents/2')
    assert agent['name'] == 'lab-agent'
    assert len(replay.received) == 2


def test_reset_connection_does_not_repeat_post(replay):
    replay.fail_with('reset')
    with pytest.raises(PhpipamTransportError) as info:
        client(replay).create('addresses', {'ip': '127.0.10.9', 'subnetId': 7})
    assert 'may or may not have been applied' in one_line(info.value)
    assert len(replay.received) == 1


def test_gateway_errors_are_retried_for_reads(replay):
    replay.fail_with('raw', status=503, body='<html>busy</html>').fail_with('raw', status=504, body='')
    replay.queue(('scan_agent_cycle', 'one scan agent'))
    assert client(replay).get('tools/scanagents/2')['id'] == 2
    assert len(replay.received) == 3


def test_slow_answer_times_out(replay):
    replay.fail_with('sleep', seconds=2).fail_with('sleep', seconds=2)
    with pytest.raises(PhpipamTransportError) as info:
        client(replay, timeout=0.5, retries=1).get('sections')
    assert 'did not answer GET' in one_line(info.value) and 'within 0.5 s' in str(info.value)


@pytest.mark.parametrize('status, content_type, body, words', [
    (200, 'text/html', '<!DOCTYPE html><html><body>Welcome to nginx</body></html>', ['HTML page', 'without /api']),
    (404, 'text/html; charset=iso-8859-1', '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN">\n<html>404</html>',
     ['no phpIPAM API at this URL', 'mod_rewrite']),
    (401, 'text/html', '<html>Please sign in</html>', ['authenticating proxy']),
    (200, 'application/json', '{"hello": "world"}', ["not phpIPAM's JSON envelope"]),
])
def test_non_json_answers_say_what_to_check(replay, status, content_type, body, words):
    replay.fail_with('raw', status=status, content_type=content_type, body=body)
    with pytest.raises(PhpipamUnexpectedResponseError) as info:
        client(replay).get('sections')
    message = one_line(info.value)
    assert 'GET /api/scanner/sections/ answered HTTP %d' % status in message
    for word in words:
        assert word in message


def test_tls_with_private_ca(tls_replay, test_ca):
    tls_replay.queue(('scan_agent_cycle', 'one scan agent'))
    api = PhpipamClient(tls_replay.url, 'scanner', token=APP_CODE, ca_path=test_ca['ca'], backoff=0)
    assert api.get('tools/scanagents/2')['id'] == 2


def test_tls_without_the_ca_fails_with_a_hint(tls_replay):
    api = PhpipamClient(tls_replay.url, 'scanner', token=APP_CODE, backoff=0)
    with pytest.raises(PhpipamTransportError) as info:
        api.get('tools/scanagents/2')
    message = one_line(info.value)
    assert 'TLS verification failed for GET %s/api/scanner/tools/scanagents/2/' % tls_replay.url in message
    assert 'certificate verify failed' in message and 'ca_path' in message
    assert api.request_counts['GET'] == 1


def test_app_permissions_come_from_options_on_tools(replay):
    replay.queue({'comment': 'options', 'request': {'method': 'OPTIONS', 'path': '/api/scanner/tools/', 'query': {},
                                                    'headers': {'token': APP_CODE}, 'body': None},
                  'response': {'status': 200, 'headers': {'content-type': 'application/json'},
                               'body': {'code': 200, 'success': True,
                                        'data': {'permissions': 'Read', 'controllers': []}}}})
    assert client(replay).app_permissions() == 'Read'


def test_error_envelope_inside_http_200_is_an_error(replay):
    # Seen on a real 1.8.2 when /tmp/phpipam_api_lock.txt cannot be opened.
    replay.fail_with('raw', status=200, content_type='application/json',
                     body='{"code":500,"success":false,"message":"Cannot open file /tmp/phpipam_api_lock.txt"}')
    with pytest.raises(PhpipamServerError) as info:
        client(replay).update('subnets/7', {'description': 'x'})
    assert 'HTTP 500 Cannot open file /tmp/phpipam_api_lock.txt' in one_line(info.value)


@pytest.mark.parametrize('offset_hours, zone, warns', [
    (6, 'UTC', False),
    (6 - 0.1, 'UTC', False),
    (8, 'UTC', True),          # phpIPAM's PHP runs 2 hours ahead of what we were told
    (6, '+02:00', False),
    (4, '+02:00', True),
])
def test_token_expiry_reveals_a_wrong_time_zone(offset_hours, zone, warns):
    from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import token_clock_warning
    now = datetime.datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    expires = now + datetime.timedelta(hours=offset_hours)
    warning = token_clock_warning(expires, zone, now)
    assert bool(warning) is warns
    if warns:
        assert "phpIPAM's PHP clock disagrees with the configured time zone %s" % zone in warning


def test_login_with_a_skewed_clock_warns(replay):
    login = find_exchange('auth_user_token', 'good password')
    read = find_exchange('auth_user_token', "resource call with 'token' header")
    replay.queue(login, read)
    # The recorded expiry is 2026-11-26 01:53:20 server time; today it reads as far away.
    api = PhpipamClient(replay.url, 'admin', username='Admin', password=fake_secret('ADMIN_PASSWORD'), backoff=0)
    api.get('sections')
    assert any('user token it just issued expires at 2026-11-26 01:53:20' in w for w in api.warnings)
