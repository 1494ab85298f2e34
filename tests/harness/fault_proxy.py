# Copyright: ipamkit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small threaded HTTP(S) proxy on 127.0.0.1 that sits in front of the real phpIPAM and misbehaves on demand.

    cert, key = harness.issue_leaf_cert(tmp_path)
    with FaultProxy(instance.https_url, instance.ca_path, tls_cert=cert, tls_key=key) as proxy:
        proxy.inject('status', count=1, status=500)     # next request: empty 500 like a PHP fatal
        proxy.inject('reset')                           # from now on: drop every connection with a RST
        proxy.clear()                                   # back to 'pass'
        assert proxy.count_writes(forwarded=True) == 0  # no write reached phpIPAM

Every request is recorded in proxy.requests (method, path, all headers, body, what was done with it).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import email.utils
import http.client
import http.server
import json
import logging
import socket
import ssl
import struct
import threading
import time
import urllib.parse

LOG = logging.getLogger('ipamkit.harness.fault_proxy')

WRITE_METHODS = frozenset(('POST', 'PUT', 'PATCH', 'DELETE'))
HOP_BY_HOP = frozenset(('connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te',
                        'trailer', 'trailers', 'transfer-encoding', 'upgrade', 'content-length'))

LOGIN_PAGE = b'''<!DOCTYPE HTML>
<html lang="en">
<head>
  <meta http-equiv="content-type" content="text/html; charset=UTF-8">
  <title>phpipam IP address management :: Login</title>
</head>
<body>
  <div id="login">
    <form name="login" id="login" method="post">
      <legend>Please login</legend>
      <input type="text" id="username" name="ipamusername" placeholder="Username" autofocus>
      <input type="password" id="password" name="ipampassword" placeholder="Password">
      <input type="submit" value="Login">
    </form>
  </div>
</body>
</html>
'''

BAD_GATEWAY_PAGE = b'''<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>reverse proxy: the upstream server sent an invalid response</center>
</body>
</html>
'''

_HTML = 'text/html; charset=UTF-8'

# mode -> default parameters (a mode accepts exactly these keyword arguments)
MODES = {
    'pass': {},
    'reset': {'forward': False},
    'slow': {'delay': 5.0},
    'status': {'status': 500, 'body': b'', 'content_type': _HTML, 'headers': None, 'forward': False},
    'html': {'status': 200, 'body': LOGIN_PAGE, 'content_type': _HTML, 'headers': None, 'forward': False},
    'bad_gateway': {'status': 502, 'body': BAD_GATEWAY_PAGE, 'content_type': _HTML, 'headers': None, 'forward': False},
}


@dataclasses.dataclass
class RecordedRequest:
    """One request as the proxy received it, and what it did with it."""

    method: str
    path: str
    headers: list
    body: bytes
    mode: str
    client: tuple
    received_at: float
    forwarded: bool = False  # True once phpIPAM received it (its answer may still have been replaced)
    status: int | None = None  # status sent to the client; None when the connection was reset
    upstream_status: int | None = None
    error: str | None = None

    @property
    def is_write(self):
        """POST, PUT, PATCH or DELETE."""
        return self.method in WRITE_METHODS

    def header(self, name, default=None):
        """First value of a request header (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def json(self):
        """The body decoded as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, family, proxy):
        self.address_family = family
        self.proxy = proxy
        self.connections = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self):
        sock, address = super().get_request()
        if self.proxy.tls_context is not None:
            sock = self.proxy.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request, client_address):
        LOG.debug('fault proxy: connection from %s ended with an error', client_address, exc_info=True)


class _ConnectionReset(Exception):
    """Raised inside the handler after the client connection was reset on purpose."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Apache'
    sys_version = ''
    timeout = 120
    upstream = None

    def setup(self):
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def finish(self):
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        if self.upstream is not None:
            self.upstream.close()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        LOG.debug('fault proxy: ' + format, *args)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except _ConnectionReset:
            self.close_connection = True

    def _dispatch(self):
        proxy = self.server.proxy
        body = self._read_body()
        mode, params = proxy._next_fault()  # pylint: disable=protected-access
        record = RecordedRequest(method=self.command, path=self.path, headers=list(self.headers.items()), body=body, mode=mode,
                                 client=self.client_address, received_at=time.time())
        proxy._record(record)  # pylint: disable=protected-access
        if mode == 'slow':
            proxy._stopping.wait(params['delay'])  # pylint: disable=protected-access
        upstream = None
        if mode in ('pass', 'slow') or params.get('forward'):
            upstream = self._forward(record, body)
        if mode == 'reset':
            self._reset(record)
        if mode in ('status', 'html', 'bad_gateway'):
            self._reply(record, params['status'], params['body'], params['content_type'], params['headers'] or {})
        elif upstream is None:
            self._reply(record, 502, BAD_GATEWAY_PAGE, _HTML, {})
        else:
            status, headers, payload = upstream
            self._reply(record, status, payload, None, headers)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _read_body(self):
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return b''.join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _upstream_connection(self):
        proxy = self.server.proxy
        if self.upstream is None:
            if proxy.upstream.scheme == 'https':
                self.upstream = http.client.HTTPSConnection(proxy.upstream.hostname, proxy.upstream.port or 443,
                                                            context=proxy.upstream_context, timeout=proxy.upstream_timeout)
            else:
                self.upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port or 80,
                                                           timeout=proxy.upstream_timeout)
        return self.upstream

    def _forward(self, record, body):
        """Send the request to phpIPAM; (status, headers, body) or None when phpIPAM cannot be reached."""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != 'host']
        headers.append(('Host', self.server.proxy.upstream.netloc))
        if body or self.command in WRITE_METHODS:
            headers.append(('Content-Length', str(len(body))))
        for attempt in (1, 2):
            reused = self.upstream is not None
            conn = self._upstream_connection()
            try:
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in headers:
                    conn.putheader(key, value)
                conn.endheaders(body or None)
                record.forwarded = True
                resp = conn.getresponse()
                payload = resp.read()
                record.upstream_status = resp.status
                return resp.status, [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP], payload
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self.upstream = None
                stale = isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                if attempt == 1 and reused and stale:
                    # Apache closed the idle kept-alive connection before reading this request: send it again
                    record.forwarded = False
                    continue
                record.error = f'upstream: {type(exc).__name__}: {exc}'
                return None
        return None

    def _reset(self, record):
        record.status = None
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        for stream in (self.rfile, self.wfile):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        with contextlib.suppress(OSError):
            sock.close()
        raise _ConnectionReset()

    def _reply(self, record, status, body, content_type, headers):
        self.send_response_only(status)
        names = set()
        for key, value in (headers.items() if isinstance(headers, dict) else headers):
            names.add(key.lower())
            self.send_header(key, value)
        if 'date' not in names:
            self.send_header('Date', email.utils.formatdate(usegmt=True))
        if 'server' not in names:
            self.send_header('Server', 'Apache')
        if content_type and 'content-type' not in names:
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD' and body:
            self.wfile.write(body)
        self.wfile.flush()
        record.status = status


class FaultProxy:
    """Threaded HTTP(S) proxy on 127.0.0.1 (random port) in front of upstream_url.

    tls_cert/tls_key: serve HTTPS with that certificate (issue it from the harness CA so clients keep
    verification on); without them the proxy speaks plain HTTP. ca_path verifies an https upstream.
    """

    def __init__(self, upstream_url, ca_path=None, tls_cert=None, tls_key=None, host='127.0.0.1', upstream_timeout=300):
        if host not in ('127.0.0.1', '::1', 'localhost'):
            raise ValueError('the fault proxy only listens on the loopback interface')
        self.upstream = urllib.parse.urlsplit(upstream_url)
        if self.upstream.scheme not in ('http', 'https'):
            raise ValueError(f'upstream must be http:// or https://, not {upstream_url}')
        self.upstream_context = ssl.create_default_context(cafile=ca_path) if self.upstream.scheme == 'https' else None
        self.upstream_timeout = upstream_timeout
        self.tls_context = None
        if tls_cert:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(tls_cert, tls_key)
        self.host = host
        self._lock = threading.Lock()
        self._requests = []
        self._mode = ('pass', {})
        self._queue = collections.deque()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self):
        """Base URL clients use instead of the phpIPAM URL (http:// or https://127.0.0.1:<port>)."""
        if self._server is None:
            raise RuntimeError('the fault proxy is not started')
        scheme = 'https' if self.tls_context else 'http'
        host = f'[{self.host}]' if ':' in self.host else self.host
        return f'{scheme}://{host}:{self._server.server_address[1]}'

    @property
    def port(self):
        """The listening port."""
        return self._server.server_address[1]

    def start(self):
        """Listen on a free port and serve in a background thread."""
        if self._server is not None:
            return self
        family = socket.AF_INET6 if ':' in self.host else socket.AF_INET
        self._stopping.clear()
        self._server = _Server((self.host, 0), family, self)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f'fault-proxy-{self.port}', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and close every open client connection."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._server.connections_lock:
            open_connections = list(self._server.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- faults ------------------------------------------------------------------------------

    def inject(self, mode, count=None, **params):
        """Misbehave: for the next `count` requests, or (count=None) from now on until clear().

        pass                              forward untouched
        reset(forward=False)              read the request, then drop the TCP connection with a RST
        slow(delay=5.0)                   wait `delay` seconds, then forward (the write still happens)
        status(status=500, body=b'', content_type='text/html; charset=UTF-8', headers=None, forward=False)
        html(...)                         200 text/html phpIPAM login page
        bad_gateway(...)                  502 HTML page, as a reverse proxy in front of phpIPAM would send
        forward=True: phpIPAM gets the request first, then the client sees the fault instead of its answer.
        Counted injections queue up in order and run before the standing mode; a standing mode set with
        count=None replaces the previous one and drops queued ones.
        """
        if mode not in MODES:
            raise ValueError(f'unknown fault mode {mode!r}; use one of {", ".join(MODES)}')
        unknown = set(params) - set(MODES[mode])
        if unknown:
            raise TypeError(f'mode {mode!r} takes {sorted(MODES[mode]) or "no parameters"}, not {sorted(unknown)}')
        settings = dict(MODES[mode], **params)
        if isinstance(settings.get('body'), str):
            settings['body'] = settings['body'].encode('utf-8')
        if count is not None and count < 1:
            raise ValueError('count must be at least 1 (or None for a standing mode)')
        with self._lock:
            if count is None:
                self._mode = (mode, settings)
                self._queue.clear()
            else:
                self._queue.append([mode, settings, count])
        return self

    def clear(self):
        """Back to 'pass' for every request; queued injections are dropped (recorded requests are kept)."""
        with self._lock:
            self._mode = ('pass', {})
            self._queue.clear()
        return self

    def _next_fault(self):
        with self._lock:
            if self._queue:
                entry = self._queue[0]
                entry[2] -= 1
                if entry[2] <= 0:
                    self._queue.popleft()
                return entry[0], entry[1]
            return self._mode

    # ---- records -----------------------------------------------------------------------------

    def _record(self, record):
        with self._lock:
            self._requests.append(record)

    @property
    def requests(self):
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def forget(self):
        """Drop the recorded requests."""
        with self._lock:
            self._requests.clear()

    def count(self, method=None, forwarded=None, path_contains=None):
        """Number of recorded requests, optionally by method, by whether phpIPAM got them, by path."""
        return len([r for r in self.requests if (method is None or r.method == method.upper())
                    and (forwarded is None or r.forwarded == forwarded)
                    and (path_contains is None or path_contains in r.path)])

    def methods(self, forwarded=None):
        """Counter of methods, e.g. Counter({'GET': 12, 'PATCH': 3})."""
        return collections.Counter(r.method for r in self.requests if forwarded is None or r.forwarded == forwarded)

    def writes(self, forwarded=None):
        """Recorded POST/PUT/PATCH/DELETE requests."""
        return [r for r in self.requests if r.is_write and (forwarded is None or r.forwarded == forwarded)]

    def count_writes(self, forwarded=None):
        """len(writes(...)): count_writes(forwarded=True) == 0 means no write reached phpIPAM."""
        return len(self.writes(forwarded))
