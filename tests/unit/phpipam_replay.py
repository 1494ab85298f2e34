# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A loopback HTTP(S) server that answers with recorded phpIPAM 1.8.2 exchanges.

The transcripts in fixtures/phpipam-1.8.2 were recorded from a real phpIPAM. A test
queues the exchanges it needs (by transcript and comment); the server checks that
each request the client sends is the recorded one (method, path, query, token
header, basic auth, JSON body) and answers with the recorded status, headers and
body. Placeholders such as ``<APP_CODE>`` become fake but realistic secrets, so
tests can also assert that no secret ever shows up in an error.
"""

import base64
import copy
import datetime
import ipaddress
import json
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'phpipam-1.8.2')
_PLACEHOLDER_RE = re.compile(r'<([A-Z][A-Z0-9_]*(?::[a-z_]+)?)>')


def fake_secret(name):
    """A deterministic stand-in for a transcript placeholder (``APP_CODE`` -> ``secret-app-code-...``)."""
    slug = re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')
    return 'secret-%s-7f3a9c' % slug


def _substitute(value):
    if isinstance(value, str):
        return _PLACEHOLDER_RE.sub(lambda m: fake_secret(m.group(1)), value)
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, dict):
        return dict((k, _substitute(v)) for k, v in value.items())
    return value


def load_transcript(name):
    with open(os.path.join(FIXTURES, name + '.json'), encoding='utf-8') as handle:
        return _substitute(json.load(handle))


def find_exchange(transcript, comment):
    """The exchange of ``transcript`` (a name) whose comment is ``comment``, as a fresh copy."""
    matches = [e for e in load_transcript(transcript)['exchanges'] if e.get('comment') == comment and 'request' in e]
    if len(matches) != 1:
        raise KeyError('%d exchanges with comment %r in %s' % (len(matches), comment, transcript))
    return copy.deepcopy(matches[0])


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that timed out or was reset on purpose is part of the test, not a failure.
        pass


class ReplayServer(object):
    """Answers queued exchanges in order; anything unexpected gets a 599 and is recorded as a failure."""

    def __init__(self, tls_context=None):
        self.expected = []
        self.received = []
        self.failures = []
        self.actions = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

            def _handle(self):
                server.handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _handle

        self.httpd = _QuietServer(('127.0.0.1', 0), Handler)
        scheme = 'http'
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = 'https'
        self.url = '%s://127.0.0.1:%d' % (scheme, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def queue(self, *exchanges):
        """Queue exchanges: dicts, or (transcript, comment) pairs."""
        for exchange in exchanges:
            if isinstance(exchange, tuple):
                exchange = find_exchange(*exchange)
            self.expected.append(exchange)
        return self

    def fail_with(self, action, **params):
        """Queue a non-HTTP behaviour: 'reset' closes the connection, 'sleep' waits ``seconds`` then answers 200."""
        self.expected.append({'action': action, 'params': params})
        return self

    def handle(self, handler):
        length = int(handler.headers.get('Content-Length') or 0)
        raw_body = handler.rfile.read(length) if length else b''
        parsed = handler.path.split('?', 1)
        request = {
            'method': handler.command,
            'path': parsed[0],
            'query': dict(q.split('=', 1) for q in parsed[1].split('&')) if len(parsed) > 1 else {},
            'headers': dict((k.lower(), v) for k, v in handler.headers.items()),
            'body': raw_body.decode('utf-8', 'replace'),
        }
        with self._lock:
            self.received.append(request)
            exchange = self.expected.pop(0) if self.expected else None
        if exchange is None:
            self._reply(handler, 599, 'application/json', json.dumps({'unexpected': request['path']}))
            self.failures.append('unexpected request %s %s' % (request['method'], request['path']))
            return
        if 'action' in exchange:
            action, params = exchange['action'], exchange['params']
            if action == 'reset':
                sock = handler.connection
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
                handler.close_connection = True
                sock.close()
                return
            if action == 'sleep':
                time.sleep(params.get('seconds', 1))
                self._reply(handler, 200, 'application/json', json.dumps({'code': 200, 'success': True, 'data': []}))
                return
            if action == 'raw':
                self._reply(handler, params['status'], params.get('content_type', 'text/html'), params.get('body', ''))
                return
            raise AssertionError('unknown action %s' % action)
        problem = self._mismatch(exchange['request'], request)
        if problem:
            self.failures.append('%s: %s' % (exchange.get('comment'), problem))
            self._reply(handler, 599, 'application/json', json.dumps({'mismatch': problem}))
            return
        response = exchange['response']
        body = response['body']
        text = json.dumps(body) if isinstance(body, (dict, list)) else (body or '')
        extra = dict((k, v) for k, v in response['headers'].items() if k.lower() not in ('content-type',))
        self._reply(handler, response['status'], response['headers'].get('content-type', ''), text, extra,
                    head=request['method'] == 'HEAD')

    @staticmethod
    def _mismatch(expected, got):
        if expected['method'] != got['method']:
            return 'method %s, expected %s' % (got['method'], expected['method'])
        if expected['path'].rstrip('/') != got['path'].rstrip('/'):
            return 'path %s, expected %s' % (got['path'], expected['path'])
        if dict(expected.get('query') or {}) != got['query']:
            return 'query %s, expected %s' % (got['query'], expected.get('query'))
        want_token = expected['headers'].get('token') or expected['headers'].get('phpipam-token')
        if want_token != (got['headers'].get('token') or got['headers'].get('phpipam-token')):
            return 'token header %r, expected %r' % (got['headers'].get('token'), want_token)
        basic = expected.get('basic_auth')
        if basic:
            wanted = 'Basic ' + base64.b64encode(('%s:%s' % (basic['username'], basic['password'])).encode()).decode()
            if got['headers'].get('authorization') != wanted:
                return 'basic auth missing or different'
        elif 'authorization' in got['headers']:
            return 'unexpected Authorization header'
        if isinstance(expected.get('body'), dict):
            try:
                body = json.loads(got['body'])
            except ValueError:
                return 'body is not JSON: %r' % got['body']
            if body != expected['body']:
                return 'body %s, expected %s' % (body, expected['body'])
            if not got['headers'].get('content-type', '').startswith('application/json'):
                return 'JSON body without Content-Type: application/json'
        return None

    @staticmethod
    def _reply(handler, status, content_type, text, extra_headers=None, head=False):
        data = text.encode('utf-8') if isinstance(text, str) else text
        handler.send_response(status)
        if content_type:
            handler.send_header('Content-Type', content_type)
        for key, value in (extra_headers or {}).items():
            handler.send_header(key, value)
        handler.send_header('Content-Length', str(len(data)))
        handler.end_headers()
        if not head:
            handler.wfile.write(data)


def make_test_ca(directory):
    """A throw-away CA and a server certificate for 127.0.0.1, written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'ipamkit unit-test CA')])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'127.0.0.1')]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(u'127.0.0.1')),
                                                        x509.DNSName(u'localhost')]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = dict((name, os.path.join(directory, name + '.pem')) for name in ('ca', 'cert', 'key'))
    with open(paths['ca'], 'wb') as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths['cert'], 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths['key'], 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return paths
