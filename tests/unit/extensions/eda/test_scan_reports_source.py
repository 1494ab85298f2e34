# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan relay's listener (event source ipamkit.phpipam.scan_reports) over real loopback HTTPS.

The plugin's main() runs in its own event loop in a thread, as ansible-rulebook runs it; requests
go through ``requests`` with a CA generated per session. Where the listener asks phpIPAM which
agent a token belongs to, a replay server answers with recorded phpIPAM 1.8.2 exchanges
(tests/unit/phpipam_replay.py); the real phpIPAM paths are in tests/integration.
"""

import asyncio
import concurrent.futures
import datetime
import ipaddress
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

# The relay's engine is installed in .venv (requirements-relay.txt), not in the ansible-core 2.16 smoke venv.
pytest.importorskip('aiohttp', reason='aiohttp (requirements-relay.txt) is not installed in this venv')

from ansible_collections.ipamkit.phpipam.extensions.eda.plugins.event_source import scan_reports  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import ConfigError  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_client import post_report  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool import Spool  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import build_report  # noqa: E402

from phpipam_replay import fake_secret  # noqa: E402  pylint: disable=import-error

CHECKOUT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
PLUGIN = os.path.join(CHECKOUT, 'extensions', 'eda', 'plugins', 'event_source', 'scan_reports.py')

APP_CODE = fake_secret('APP_CODE')
LAB_CODE = fake_secret('AGENT_CODE')          # agent id 2 'lab-agent' in the scan_agent_cycle transcript
GHOST_CODE = 'ghost-agent-code-0123456789abcdef'   # a code phpIPAM does not know
LAB_TOKEN = 'lab-agent-relay-token-5d1c0b7e9a'
GHOST_TOKEN = 'ghost-agent-relay-token-77aa31f0'
SHARED_TOKEN = 'shared-relay-token-0c4f5e6a7b8c9d'
TOKENS = (LAB_TOKEN, GHOST_TOKEN, SHARED_TOKEN)
LIST_AGENTS = ('scan_agent_cycle', 'list scan agents')


# ------------------------------------------------------------------ certificates


def _write_pem(path, data):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    return path


def _make_pki(directory):
    """A CA, a server certificate for 127.0.0.1, a client certificate; and a client certificate of another CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def builder(subject, issuer, key):
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=2)))

    def key_pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def cert_pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    paths = {}
    for label in ('ca', 'rogue_ca'):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (builder(name(u'ipamkit relay test %s' % label), name(u'ipamkit relay test %s' % label), key)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        paths[label] = (cert, key, _write_pem(os.path.join(directory, label + '.pem'), cert_pem(cert)))

    def leaf(label, ca, common_name, usage, san=None):
        ca_cert, ca_key = paths[ca][0], paths[ca][1]
        key = ec.generate_private_key(ec.SECP256R1())
        built = builder(name(common_name), ca_cert.subject, key).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            built = built.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = built.sign(ca_key, hashes.SHA256())
        return (_write_pem(os.path.join(directory, label + '.crt'), cert_pem(cert)),
                _write_pem(os.path.join(directory, label + '.key'), key_pem(key)))

    server = leaf('server', 'ca', u'127.0.0.1', ExtendedKeyUsageOID.SERVER_AUTH,
                  [x509.IPAddress(ipaddress.ip_address(u'127.0.0.1')), x509.DNSName(u'localhost')])
    client = leaf('client', 'ca', u'lab-agent', ExtendedKeyUsageOID.CLIENT_AUTH)
    rogue = leaf('rogue-client', 'rogue_ca', u'lab-agent', ExtendedKeyUsageOID.CLIENT_AUTH)
    return {'ca': paths['ca'][2], 'server': server, 'client': client, 'rogue_client': rogue}


@pytest.fixture(scope='module')
def pki():
    return _make_pki(tempfile.mkdtemp(prefix='ipamkit-relay-pki-'))


# ------------------------------------------------------------------ reports


def make_report(serial=0, agent_id=2, agent_name='lab-agent', hosts=1):
    """A valid version-1 report built by the agent's own code; ``serial`` makes the report id differ."""
    finished = datetime.datetime(2026, 11, 25, 20, 0, 7, tzinfo=datetime.timezone.utc) + \
        datetime.timedelta(seconds=serial)
    scan = {
        'nmap_version': '7.93', 'privileged': True,
        'runs': [{'family': 4, 'argv': ['nmap', '-sn', '-oX', '-', '-iL', '/tmp/targets'],
                  'started': '2026-11-25T20:00:00Z', 'finished': finished.isoformat(), 'exit': 'success'}],
        'subnets': [{'id': 7, 'cidr': '127.0.10.0/24', 'scanned': True, 'completed': True, 'ping': True,
                     'discover': True, 'started': '2026-11-25T20:00:00Z', 'finished': finished.isoformat(),
                     'hosts': [{'ip': '127.0.10.%d' % (5 + index), 'state': 'up', 'reason': 'echo-reply',
                                'mac': None, 'vendor': None, 'hostname': None} for index in range(hosts)]}],
    }
    return build_report(scan, {'agent': {'id': agent_id, 'name': agent_name}, 'subnets': []})


# ------------------------------------------------------------------ the listener in a thread


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Relay(object):
    """main() of the plugin in its own event loop and thread; the queue it writes to is this object."""

    def __init__(self, args):
        self.args = args
        self.port = args.get('listen_port')
        self.events = []
        self.cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.task = None
        self.error = None
        self.done = threading.Event()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(scan_reports.main(self, self.args))
        self.started.set()
        try:
            self.loop.run_until_complete(self.task)
        except BaseException as exc:  # pylint: disable=broad-exception-caught
            self.error = exc
        finally:
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()
            self.done.set()

    async def put(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def start(self, timeout=10.0):
        self.thread.start()
        self.started.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.done.is_set():
                raise self.error
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.01)
        raise AssertionError('the relay did not listen on port %d within %.0f s' % (self.port, timeout))

    def stop(self):
        """Cancel main() as ansible-rulebook does; it must end by that cancellation and free the port."""
        if not self.done.is_set():
            self.loop.call_soon_threadsafe(self.task.cancel)
        assert self.done.wait(10), 'main() did not end within 10 s of its cancellation'
        assert isinstance(self.error, asyncio.CancelledError), repr(self.error)
        with pytest.raises(OSError):
            socket.create_connection(('127.0.0.1', self.port), timeout=0.5).close()

    def wait_events(self, count, timeout=5.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


@pytest.fixture
def spool_dir(tmp_path):
    return str(tmp_path / 'spool')


@pytest.fixture
def relay_args(tmp_path, pki, spool_dir, closed_port):
    """Arguments of a TLS relay; phpIPAM (for agent checks and /subnets) is a closed loopback port."""
    config = tmp_path / 'scan_relay.yaml'
    config.write_text('tls_cert: %s\ntls_key: %s\nspool_dir: %s\n' % (pki['server'][0], pki['server'][1], spool_dir))
    config.chmod(0o600)
    return {
        'config': str(config),
        'listen_address': '127.0.0.1',
        'listen_port': free_port(),
        'agent_tokens': {LAB_CODE: LAB_TOKEN, GHOST_CODE: GHOST_TOKEN},
        'shared_token': SHARED_TOKEN,
        'phpipam_url': 'http://127.0.0.1:%d' % closed_port,
        'phpipam_app_id': 'scanner',
        'phpipam_token': APP_CODE,
        'retry_interval': 60,
        'max_body_size': 16384,
    }


@pytest.fixture
def start_relay():
    relays = []

    def start(args):
        relay = Relay(dict(args)).start()
        relays.append(relay)
        return relay

    yield start
    for relay in relays:
        relay.stop()


@pytest.fixture
def relay(start_relay, relay_args):
    return start_relay(relay_args)


def url(relay, path='/reports', scheme='https'):
    return '%s://127.0.0.1:%d%s' % (scheme, relay.port, path)


def post(relay, report=None, token=SHARED_TOKEN, path='/reports', ca=None, data=None, headers=None, **kwargs):
    sent = {'Content-Type': 'application/json'}
    if token is not None:
        sent['Authorization'] = 'Bearer %s' % token
    sent.update(headers or {})
    if data is None:
        data = json.dumps(report).encode('utf-8')
    return requests.post(url(relay, path), data=data, headers=sent, verify=ca or relay.ca, timeout=20, **kwargs)


@pytest.fixture(autouse=True)
def _relay_ca(pki, monkeypatch):
    monkeypatch.setattr(Relay, 'ca', pki['ca'], raising=False)


def incoming(spool_dir):
    return Spool(spool_dir).ids('incoming')


def assert_rejected(response, status, *words):
    assert response.status_code == status, response.text
    assert response.headers['Content-Type'].startswith('application/json')
    body = response.json()
    assert body['status'] == 'rejected', body
    for word in words:
        assert word in body['reason'], body
    return body


# ------------------------------------------------------------------ accepting


def test_accepts_a_report_only_after_it_is_in_the_spool(relay, spool_dir):
    report = make_report()
    answer = post(relay, report)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {'status': 'accepted', 'report_id': report['report_id']}
    # 202 means stored: the envelope is in incoming/ the moment the answer arrives.
    envelope = Spool(spool_dir).load(report['report_id'])
    assert envelope['report'] == report
    assert envelope['agent_code'] is None and envelope['remote'] == '127.0.0.1'
    assert oct(os.stat(os.path.join(spool_dir, 'incoming')).st_mode & 0o777) == '0o700'


def test_the_older_agent_posts_to_the_root(relay, spool_dir):
    report = make_report()
    assert post(relay, report, path='/').status_code == 202
    assert incoming(spool_dir) == [report['report_id']]


def test_a_duplicate_is_answered_202_and_stored_once(relay, spool_dir):
    report = make_report()
    assert post(relay, report).json()['status'] == 'accepted'
    again = post(relay, report, path='/')
    assert again.status_code == 202 and again.json() == {'status': 'duplicate', 'report_id': report['report_id']}
    Spool(spool_dir).mark_done(report['report_id'], {'writes': 0})
    late = post(relay, report)
    assert late.status_code == 202 and late.json()['status'] == 'duplicate'
    assert incoming(spool_dir) == []


def test_the_agents_own_uploader_gets_202(relay, spool_dir, pki):
    """scan_upload's relay client (module_utils/relay_client.py) against this listener."""
    report = make_report()
    status, answer = post_report(url(relay), SHARED_TOKEN, report, ca_path=pki['ca'], backoff=0)
    assert (status, answer) == (202, {'status': 'accepted', 'report_id': report['report_id']})
    assert incoming(spool_dir) == [report['report_id']]


def test_an_agent_token_with_its_own_report(start_relay, relay_args, replay, spool_dir, caplog):
    caplog.set_level(logging.INFO, logger='ipamkit.phpipam.scan_reports')
    replay.queue(LIST_AGENTS)      # one lookup: the answer is cached
    relay = start_relay(dict(relay_args, phpipam_url=replay.url))
    first, second = make_report(1), make_report(2)
    assert post(relay, first, token=LAB_TOKEN).status_code == 202
    assert post(relay, second, token=LAB_TOKEN).status_code == 202
    assert Spool(spool_dir).load(first['report_id'])['agent_code'] == LAB_CODE
    assert len(replay.received) == 1
    lines = [r.getMessage() for r in caplog.records if 'POST /reports' in r.getMessage()]
    assert len(lines) == 2
    assert "agent 'lab-agent' (id 2)" in lines[0] and first['report_id'] in lines[0] and '202 accepted' in lines[0]
    assert '127.0.0.1' in lines[0]


# ------------------------------------------------------------------ refusing


NOT_UTF8 = b'{"kind": "\xff\xfe"}'


@pytest.mark.parametrize('headers, data, status, words', [
    ({'Authorization': None}, None, 401, ['no Authorization header']),
    ({'Authorization': 'Basic dXNlcjpwYXNz'}, None, 401, ['malformed']),
    ({'Authorization': 'Bearer'}, None, 401, ['malformed']),
    ({'Authorization': 'Bearer two words'}, None, 401, ['malformed']),
    ({'Authorization': 'Bearer not-a-known-token-at-all'}, None, 401, ['unknown token']),
    ({'Authorization': 'Bearer %s' % SHARED_TOKEN[:-1]}, None, 401, ['unknown token']),
    ({'Authorization': 'Bearer %sX' % SHARED_TOKEN}, None, 401, ['unknown token']),
    ({'Authorization': u'Bearer t\u00f6ken'.encode('latin-1')}, None, 401, ['unknown token']),
    ({'Content-Type': 'text/plain'}, None, 415, ['application/json', 'text/plain']),
    ({'Content-Type': None}, None, 415, ['application/json']),
    ({'Content-Type': 'application/json; charset=latin-1'}, None, 415, ['UTF-8']),
    ({}, NOT_UTF8, 400, ['not UTF-8']),
    ({}, b'{"kind": ', 400, ['not JSON']),
    ({}, b'{"version": NaN}', 400, ['NaN']),
    ({}, b'', 400, ['not JSON']),
    ({}, b'[1, 2]', 422, ['invalid scan report', 'must be object']),
    ({}, b'{"kind": "something else"}', 422, ['invalid scan report', 'report.kind']),
], ids=['no-token', 'basic-auth', 'bearer-without-token', 'bearer-two-words', 'wrong-token', 'token-prefix',
        'token-plus-one', 'latin-1-token', 'text-plain',
        'no-content-type', 'latin-1', 'not-utf8', 'truncated-json', 'nan', 'empty-body', 'json-array', 'wrong-kind'])
def test_refused_with_the_reason_and_nothing_spooled(relay, spool_dir, headers, data, status, words):
    sent = {'Authorization': 'Bearer %s' % SHARED_TOKEN, 'Content-Type': 'application/json'}
    sent.update(headers)
    sent = dict((k, v) for k, v in sent.items() if v is not None)
    if data is None:
        data = json.dumps(make_report()).encode('utf-8')
    answer = requests.post(url(relay), data=data, headers=sent, verify=relay.ca, timeout=20)
    assert_rejected(answer, status, *words)
    if status == 401:
        assert answer.headers['WWW-Authenticate'].startswith('Bearer realm=')
    assert incoming(spool_dir) == []


def test_schema_problems_are_listed(relay, spool_dir):
    report = make_report()
    report['subnets'][0]['hosts'][0]['ip'] = '10.9.9.9'
    report['agent']['id'] = 0
    body = assert_rejected(post(relay, report), 422, 'invalid scan report')
    assert any('report.agent.id' in p for p in body['problems'])
    report['agent']['id'] = 2
    body = assert_rejected(post(relay, report), 422, '10.9.9.9 is outside 127.0.10.0/24')
    assert incoming(spool_dir) == []


def test_oversize_body_with_content_length(relay, spool_dir):
    report = make_report(hosts=240)
    data = json.dumps(report).encode('utf-8')
    assert len(data) > 16384
    assert_rejected(post(relay, data=data), 413, 'max_body_size 16384')
    assert incoming(spool_dir) == []
    # The connection survives for the next request (the rest of the body was read and dropped).
    assert post(relay, make_report()).status_code == 202


def test_oversize_body_chunked(relay, spool_dir):
    """Without Content-Length the limit holds while reading: the relay stops at max_body_size."""
    sent = []

    def chunks():
        for dummy in range(64):       # 64 x 4 KiB = 256 KiB, 16 times the limit
            sent.append(4096)
            yield b' ' * 4096

    answer = post(relay, data=chunks())
    assert answer.request.headers.get('Transfer-Encoding') == 'chunked'
    assert_rejected(answer, 413, 'larger than this relay accepts')
    assert incoming(spool_dir) == []


def test_a_small_chunked_report_is_accepted(relay, spool_dir):
    report = make_report()
    data = json.dumps(report).encode('utf-8')
    answer = post(relay, data=iter([data[:100], data[100:]]))
    assert answer.status_code == 202, answer.text
    assert incoming(spool_dir) == [report['report_id']]


def test_unknown_paths_and_methods_answer_json(relay, spool_dir):
    assert_rejected(post(relay, make_report(), path='/api/reports'), 404, 'POST / or POST /reports')
    wrong = requests.get(url(relay, '/reports'), verify=relay.ca, timeout=20)
    assert_rejected(wrong, 405, 'GET')
    assert 'POST' in wrong.headers['Allow']
    assert_rejected(requests.put(url(relay, '/'), data=b'{}', verify=relay.ca, timeout=20), 405)
    assert incoming(spool_dir) == []


def test_another_agents_token_is_refused(start_relay, relay_args, replay, spool_dir, caplog):
    caplog.set_level(logging.INFO, logger='ipamkit.phpipam.scan_reports')
    replay.queue(LIST_AGENTS)
    relay = start_relay(dict(relay_args, phpipam_url=replay.url))
    report = make_report(agent_id=5, agent_name='dmz-agent')
    answer = post(relay, report, token=LAB_TOKEN)
    assert_rejected(answer, 403, "this token belongs to agent 'lab-agent' (id 2), "
                                 "the report is from agent 'dmz-agent' (id 5)")
    assert incoming(spool_dir) == []
    # Secrets appear neither in the answer nor in the log.
    text = answer.text + '\n'.join(r.getMessage() for r in caplog.records)
    for secret in TOKENS + (LAB_CODE, APP_CODE):
        assert secret not in text
    assert any('403' in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_a_token_whose_agent_phpipam_does_not_know(start_relay, relay_args, replay, spool_dir):
    replay.queue(LIST_AGENTS)
    relay = start_relay(dict(relay_args, phpipam_url=replay.url))
    assert_rejected(post(relay, make_report(), token=GHOST_TOKEN), 403, 'not a scan agent in phpIPAM')
    assert incoming(spool_dir) == []


def test_phpipam_unreachable_accepts_unchecked(relay, spool_dir, caplog):
    """Losing a report is worse: the applier repeats every check against phpIPAM."""
    caplog.set_level(logging.INFO, logger='ipamkit.phpipam.scan_reports')
    report = make_report(agent_id=5, agent_name='dmz-agent')
    answer = post(relay, report, token=LAB_TOKEN)
    assert answer.status_code == 202 and answer.json()['status'] == 'accepted'
    assert Spool(spool_dir).load(report['report_id'])['agent_code'] == LAB_CODE
    assert any('accepting it unchecked' in r.getMessage() for r in caplog.records)
    # phpIPAM is not asked again for a while: the next report does not wait for it.
    started = time.monotonic()
    assert post(relay, make_report(3, agent_id=5), token=LAB_TOKEN).status_code == 202
    assert time.monotonic() - started < 0.5


def test_disk_trouble_is_503(relay, spool_dir):
    tmp = os.path.join(spool_dir, 'tmp')
    os.rmdir(tmp)
    with open(tmp, 'w', encoding='ascii') as handle:    # tmp/ is now a file: every write fails
        handle.write('in the way')
    report = make_report()
    answer = post(relay, report)
    assert_rejected(answer, 503, 'cannot store reports')
    assert answer.headers['Retry-After']
    assert incoming(spool_dir) == []
    os.unlink(tmp)
    os.mkdir(tmp, 0o700)
    assert post(relay, report).json()['status'] == 'accepted'


def test_tokens_are_compared_in_constant_time(monkeypatch):
    """Every configured token is compared, whether the first matches, a later one or none."""
    calls = []
    real = scan_reports.hmac.compare_digest

    def counting(left, right):
        calls.append((len(left), len(right)))
        return real(left, right)

    monkeypatch.setattr(scan_reports.hmac, 'compare_digest', counting)
    table = scan_reports.TokenTable({'a' * 40: 'one', 'b': 'two', 'c' * 16: None})
    for token, expected in (('a' * 40, (True, 'one')), ('b', (True, 'two')), ('c' * 16, (True, None)),
                            ('nope', (False, None)), ('', (False, None))):
        del calls[:]
        assert table.match(token) == expected
        assert calls == [(32, 32)] * 3


# ------------------------------------------------------------------ TLS


def test_plain_http_to_the_tls_port_gets_no_answer(relay, spool_dir):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(url(relay, scheme='http'), data=json.dumps(make_report()),
                      headers={'Authorization': 'Bearer %s' % SHARED_TOKEN, 'Content-Type': 'application/json'},
                      timeout=5)
    assert incoming(spool_dir) == []


@pytest.mark.filterwarnings('ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning')
def test_tls_1_1_is_refused(relay, pki):
    server = scan_reports.server_ssl_context({'tls_cert': pki['server'][0], 'tls_key': pki['server'][1],
                                              'tls_client_ca': None})
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2 and server.verify_mode == ssl.CERT_NONE
    for version, works in ((ssl.TLSVersion.TLSv1_1, False), (ssl.TLSVersion.TLSv1_2, True)):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(relay.ca)
        context.minimum_version = context.maximum_version = version
        with socket.create_connection(('127.0.0.1', relay.port), timeout=5) as raw:
            if works:
                with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
                    assert tls.version() == 'TLSv1.2'
            else:
                with pytest.raises((ssl.SSLError, OSError)):
                    context.wrap_socket(raw, server_hostname='127.0.0.1').close()


def test_mutual_tls(start_relay, relay_args, pki, spool_dir):
    relay = start_relay(dict(relay_args, tls_client_ca=pki['ca']))
    report = make_report()
    for cert in (None, pki['rogue_client']):
        with pytest.raises(requests.exceptions.ConnectionError):
            post(relay, report, cert=cert)
    assert incoming(spool_dir) == []
    assert post(relay, report, cert=pki['client']).status_code == 202
    assert incoming(spool_dir) == [report['report_id']]


def test_plain_http_on_loopback_when_configured(start_relay, relay_args, tmp_path, spool_dir):
    config = tmp_path / 'plain.yaml'
    config.write_text('plain_http: true\nspool_dir: %s\n' % spool_dir)
    config.chmod(0o600)
    relay = start_relay(dict(relay_args, config=str(config)))
    report = make_report()
    answer = requests.post(url(relay, scheme='http'), data=json.dumps(report), timeout=5,
                           headers={'Authorization': 'Bearer %s' % SHARED_TOKEN, 'Content-Type': 'application/json'})
    assert answer.status_code == 202
    assert incoming(spool_dir) == [report['report_id']]


# ------------------------------------------------------------------ events


def _pending(event):
    assert set(event) == {'scan_relay'}
    return event['scan_relay']


def test_event_after_accepts_names_the_pending_reports(relay, spool_dir):
    report = make_report()
    post(relay, report)
    events = relay.wait_events(1)
    assert len(events) == 1
    assert _pending(events[0]) == {'pending': [report['report_id']], 'pending_count': 1,
                                   'spool_dir': os.path.abspath(spool_dir), 'trigger': 'accepted'}
    post(relay, report)           # a duplicate adds nothing to apply: no event
    time.sleep(scan_reports.DEBOUNCE_SECONDS + 0.2)
    assert len(relay.events) == 1


def test_a_burst_of_50_posts_gives_a_few_events(relay, spool_dir):
    reports = [make_report(serial) for serial in range(50)]
    local = threading.local()

    def send(report):
        if not hasattr(local, 'session'):
            local.session = requests.Session()
        answer = local.session.post(url(relay), data=json.dumps(report), verify=relay.ca, timeout=20, headers={
            'Authorization': 'Bearer %s' % SHARED_TOKEN, 'Content-Type': 'application/json'})
        return answer.status_code

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        assert list(pool.map(send, reports)) == [202] * 50
    elapsed = time.monotonic() - started
    ids = sorted(r['report_id'] for r in reports)
    assert incoming(spool_dir) == ids
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (relay.events and _pending(relay.events[-1])['pending_count'] == 50):
        time.sleep(0.05)
    time.sleep(scan_reports.DEBOUNCE_SECONDS + 0.2)
    events = list(relay.events)
    # At most one event per debounce period while the burst lasts, and one after it.
    assert 1 <= len(events) <= min(25, elapsed / scan_reports.DEBOUNCE_SECONDS + 2), \
        (elapsed, [_pending(e)['pending_count'] for e in events])
    assert _pending(events[-1])['pending'] == ids
    assert all(_pending(e)['trigger'] == 'accepted' for e in events)
    print('%d POSTs in %.2f s gave %d events' % (len(reports), elapsed, len(events)))


def test_reports_spooled_before_a_restart_are_announced_at_start(start_relay, relay_args, spool_dir):
    waiting = [make_report(1), make_report(2)]
    spool = Spool(spool_dir).prepare()
    for report in waiting:
        spool.accept(report, agent_code=None, remote='192.0.2.9')
    relay = start_relay(relay_args)
    events = relay.wait_events(1)
    assert _pending(events[0]) == {'pending': sorted(r['report_id'] for r in waiting), 'pending_count': 2,
                                   'spool_dir': os.path.abspath(spool_dir), 'trigger': 'startup'}


def test_no_event_at_start_with_an_empty_spool(relay):
    time.sleep(0.3)
    assert relay.events == []


def test_retry_interval_announces_until_applied(start_relay, relay_args, spool_dir):
    report = make_report()
    Spool(spool_dir).prepare().accept(report)
    relay = start_relay(dict(relay_args, retry_interval=1))
    events = relay.wait_events(2, timeout=3)
    assert [_pending(e)['trigger'] for e in events] == ['startup', 'retry']
    assert _pending(events[1])['pending'] == [report['report_id']]
    Spool(spool_dir).mark_done(report['report_id'])     # the playbook applied it
    time.sleep(1.3)
    assert len(relay.events) == 2


# ------------------------------------------------------------------ GET /subnets (refusals; the answer itself
# comes from the real phpIPAM in tests/integration/test_scan_relay_listener.py)


def get_subnets(relay, token=SHARED_TOKEN, **params):
    headers = {'Authorization': 'Bearer %s' % token} if token else {}
    return requests.get(url(relay, '/subnets'), params=params, headers=headers, verify=relay.ca, timeout=20)


def test_subnets_refusals(relay):
    assert_rejected(get_subnets(relay, token=None), 401, 'no Authorization header')
    assert_rejected(get_subnets(relay, token='wrong-token'), 401, 'unknown token')
    assert_rejected(get_subnets(relay), 400, 'agent_code')
    assert_rejected(get_subnets(relay, token=LAB_TOKEN, agent_code=GHOST_CODE), 403, 'only that agent')


def test_subnets_of_an_agent_phpipam_does_not_know(start_relay, relay_args, replay):
    replay.queue(LIST_AGENTS)
    relay = start_relay(dict(relay_args, phpipam_url=replay.url))
    answer = get_subnets(relay, agent_code='no-such-agent-code')
    assert_rejected(answer, 404, 'no scan agent')
    assert 'lab-agent' not in answer.text       # phpIPAM's list of agents stays in the relay's log


def test_subnets_when_phpipam_is_unreachable(relay):
    assert_rejected(get_subnets(relay, token=LAB_TOKEN), 503, 'cannot reach phpIPAM')


def test_subnets_off(start_relay, relay_args):
    relay = start_relay(dict(relay_args, serve_subnets=False))
    assert_rejected(get_subnets(relay, token=LAB_TOKEN), 404, 'serve_subnets is off')


# ------------------------------------------------------------------ configuration and shutdown


def test_a_bad_configuration_stops_the_start(relay_args, tmp_path, caplog):
    config = tmp_path / 'broken.yaml'
    config.write_text('listen_port: 99999\nspool_dir: %s\n' % (tmp_path / 'spool'))
    config.chmod(0o600)
    args = dict(relay_args, config=str(config), agent_tokens=None, shared_token=None, colour='blue')
    with pytest.raises(ConfigError) as info:
        asyncio.run(scan_reports.main(None, args))
    text = str(info.value)
    assert 'the relay did not start' in text
    for words in ('listen_port', 'tls_cert', 'colour', 'no agent can post'):
        assert words in text, text
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == len(info.value.problems) >= 4


def test_an_unreadable_certificate_stops_the_start(relay_args, tmp_path):
    broken = tmp_path / 'broken.pem'
    broken.write_text('not a certificate')
    with pytest.raises(ConfigError) as info:
        asyncio.run(scan_reports.main(None, dict(relay_args, tls_cert=str(broken))))
    assert 'cannot load the certificate' in str(info.value)


def test_eda_arguments_are_not_settings(relay_args, start_relay):
    relay = start_relay(dict(relay_args, eda_feedback_queue=asyncio.Queue()))
    assert post(relay, make_report()).status_code == 202


# ------------------------------------------------------------------ loading from an installed collection


HIDE_VENV_COPY = r'''
import importlib.machinery, os, runpy, sys
hidden = [os.path.join(p, 'ansible_collections', 'ipamkit') for p in list(sys.path)]

class HideOtherCopies(object):
    """As on a machine where the collection is only installed with ansible-galaxy."""
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != 'ansible_collections.ipamkit':
            return None
        allowed = [p for p in (path or []) if os.path.join(p, 'ipamkit') not in hidden]
        spec = importlib.machinery.PathFinder.find_spec(name, allowed)
        if spec is None:
            raise ModuleNotFoundError('No module named %r (hidden)' % name, name=name)
        return spec

sys.meta_path.insert(0, HideOtherCopies)
'''


def test_plugin_imports_its_own_collection_when_run_by_path(tmp_path):
    """ansible-rulebook runs the file with runpy; the collection's module_utils come from beside it."""
    root = tmp_path / 'collections'
    (root / 'ansible_collections' / 'ipamkit').mkdir(parents=True)
    (root / 'ansible_collections' / 'ipamkit' / 'phpipam').symlink_to(CHECKOUT)
    plugin = root / 'ansible_collections' / 'ipamkit' / 'phpipam' / os.path.relpath(PLUGIN, CHECKOUT)
    code = HIDE_VENV_COPY + r'''
try:
    import ansible_collections.ipamkit.phpipam.plugins.module_utils
except ImportError:
    pass
else:
    sys.exit('the copy linked into the venv is not hidden')
namespace = runpy.run_path(sys.argv[1])
import ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool as spool
print(spool.__file__)
print(callable(namespace['main']))
'''
    proc = subprocess.run([sys.executable, '-c', code, str(plugin)], capture_output=True, text=True, timeout=60,
                          check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert lines[0].startswith(str(root)) and lines[1] == 'True'


def test_collections_root_from_the_plugin_path():
    assert scan_reports._own_collections_root(
        '/usr/share/ansible/collections/ansible_collections/ipamkit/phpipam/extensions/eda/plugins/event_source/'
        'scan_reports.py') == '/usr/share/ansible/collections'
    assert scan_reports._own_collections_root('/work/main/extensions/eda/plugins/event_source/scan_reports.py') is None
