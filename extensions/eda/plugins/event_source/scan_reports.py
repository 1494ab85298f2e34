# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ipamkit.phpipam.scan_reports: the scan relay's listener, an ansible-rulebook event source.

Scan agents that cannot reach phpIPAM POST their scan reports here. Each request is checked
(bearer token in constant time, size, content type, JSON, the report schema, and that an
agent's own token carries that agent's report), then the report is written durably to the
spool and only then answered with 202. The rulebook is told that reports are waiting, not
given the reports: one small event per burst of accepted reports, one at start when the
spool still holds reports, and one every ``retry_interval`` while it does, so a relay restart
or a phpIPAM outage loses nothing. The relay playbook drains the spool under its lock.

Everything slow (disk, phpIPAM) runs in threads; the event loop only moves bytes.
"""

import asyncio
import concurrent.futures
import functools
import hashlib
import hmac
import importlib
import json
import logging
import os
import ssl
import sys
import time

from aiohttp import web

DOCUMENTATION = r"""
---
short_description: Receive scan reports from ipamkit.phpipam scan agents (the scan relay's listener).
description:
  - An HTTPS listener for scan agents in networks that cannot reach phpIPAM. Agents POST their
    versioned scan report (C(scan_upload) in relay mode) to C(/) or C(/reports) with
    C(Authorization: Bearer <token>).
  - A report is answered with 202 only after it is stored durably in the spool directory
    (C(incoming/)); refused reports get 400, 401, 403, 413, 415 or 422 with a JSON reason, disk
    trouble 503. A report id already in the spool is answered 202 with status C(duplicate).
  - The event source does not put reports on the queue. It emits
    C({"scan_relay": {"pending": [report ids], "pending_count": N, "spool_dir": path, "trigger": ...}})
    after a burst of accepted reports (debounced), once at start when the spool holds reports,
    and every C(retry_interval) while it still does. The relay playbook applies the spool.
  - With C(serve_subnets), C(GET /subnets) answers an agent's subnets and addresses from phpIPAM
    (what C(ipamkit.phpipam.scan_agent_info) returns), so the agent needs no phpIPAM access.
  - Settings come from C(/etc/phpipam/scan_relay.yaml) (or C(config)), the older
    C(/etc/phpipam/scan_server.yaml), C(PHPIPAM_*) environment variables, and the arguments
    below, in that order; see docs for every key.
options:
  config:
    description: The relay's configuration file (default C($PHPIPAM_SCAN_RELAY_CONFIG), else /etc/phpipam/scan_relay.yaml).
    type: str
  listen_address:
    description: Address to listen on.
    type: str
    default: 0.0.0.0
  listen_port:
    description: TCP port.
    type: int
    default: 8443
  tls_cert:
    description: Server certificate (PEM, with its chain).
    type: str
  tls_key:
    description: The certificate's private key (PEM).
    type: str
  tls_client_ca:
    description: CA bundle (PEM); when set, agents must present a client certificate it issued (mutual TLS).
    type: str
  plain_http:
    description: Serve plain HTTP; only with a loopback C(listen_address) behind a TLS proxy.
    type: bool
    default: false
  max_body_size:
    description: Largest report accepted, in bytes.
    type: int
    default: 33554432
  spool_dir:
    description: Where accepted reports wait until the relay playbook applies them.
    type: str
    default: /var/spool/ipamkit-phpipam-relay
  retry_interval:
    description: How often to emit again while reports wait in the spool (a duration such as C(60) or C(5m)).
    type: str
    default: 60
  agent_tokens:
    description: Mapping of phpIPAM agent code to that agent's relay token.
    type: dict
  agent_tokens_file:
    description: YAML file with the same mapping.
    type: str
  shared_token:
    description: One token for all agents (for drop-in use with older agents).
    type: str
  serve_subnets:
    description: Answer C(GET /subnets).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Scan relay
  hosts: localhost
  sources:
    - ipamkit.phpipam.scan_reports:
        config: /etc/phpipam/scan_relay.yaml
  rules:
    - name: Apply the spooled reports
      condition: event.scan_relay is defined
      action:
        run_playbook:
          name: ipamkit.phpipam.relay
"""

# ------------------------------------------------------------------ the collection's own code
#
# ansible-rulebook runs this file with runpy, and unlike ansible-core it installs no loader for
# ansible_collections: the import below works only when the directory holding ansible_collections/
# is on sys.path (a collection in site-packages). A collection installed with
# `ansible-galaxy collection install` (~/.ansible/collections, /usr/share/ansible/collections, a
# decision environment) is not, so on failure the root is worked out from this file's own path:
#   <root>/ansible_collections/ipamkit/phpipam/extensions/eda/plugins/event_source/scan_reports.py

_COLLECTION_PACKAGE = 'ansible_collections.ipamkit.phpipam'
_DEPTH_TO_ANSIBLE_COLLECTIONS = 7   # event_source, plugins, eda, extensions, phpipam, ipamkit, ansible_collections


def _own_collections_root(plugin_file):
    """The directory holding ansible_collections/ for a plugin file inside a collection, else None."""
    path = os.path.abspath(plugin_file)
    for dummy in range(_DEPTH_TO_ANSIBLE_COLLECTIONS):
        path = os.path.dirname(path)
    if os.path.basename(path) != 'ansible_collections':
        return None
    return os.path.dirname(path)


def _ensure_collection_importable(plugin_file):
    """Make ``ansible_collections.ipamkit.phpipam`` importable, using this file's own collection if needed."""
    try:
        importlib.import_module(_COLLECTION_PACKAGE + '.plugins.module_utils')
        return None
    except ModuleNotFoundError as exc:
        if not (exc.name or '').startswith('ansible_collections'):
            raise
        root = _own_collections_root(plugin_file)
        if root is None:
            raise ImportError('%s: cannot import %s (%s), and this file is not inside an installed collection '
                              '(<dir>/ansible_collections/ipamkit/phpipam/...): install the collection with '
                              'ansible-galaxy collection install' % (plugin_file, _COLLECTION_PACKAGE, exc))
    if root not in sys.path:
        sys.path.append(root)
    # A regular (not namespace) ansible_collections package imported from elsewhere does not look
    # at sys.path again: extend its search path directly.
    loaded = sys.modules.get('ansible_collections')
    own = os.path.join(root, 'ansible_collections')
    if loaded is not None and isinstance(getattr(loaded, '__path__', None), list) and own not in loaded.__path__:
        loaded.__path__.append(own)
    importlib.invalidate_caches()
    importlib.import_module(_COLLECTION_PACKAGE + '.plugins.module_utils')
    return root


_ensure_collection_importable(__file__)

from ansible_collections.ipamkit.phpipam.plugins.module_utils.agent_config import ConfigError  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import PhpipamClient  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import (  # noqa: E402
    PhpipamConfigError,
    PhpipamError,
    PhpipamTransportError,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import to_ansible  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_config import (  # noqa: E402
    client_options,
    load_relay_settings,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.relay_spool import Spool, SpoolError  # noqa: E402
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_agent import (  # noqa: E402
    AgentNotFoundError,
    fetch_agent_inventory,
    find_agent,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.scan_report import validate_report  # noqa: E402

logger = logging.getLogger('ipamkit.phpipam.scan_reports')

REPORT_PATHS = ('/', '/reports')
SUBNETS_PATH = '/subnets'
# Event source arguments that are not relay settings (eda_* are added by ansible-rulebook itself).
PLUGIN_ARGS = frozenset(('config',))

DEBOUNCE_SECONDS = 0.2          # accepted reports within this time give one event
MAX_EVENT_IDS = 1000            # report ids listed in one event (pending_count has the total)
BODY_TIMEOUT = 120.0            # a client must send its whole body within this time
AGENT_CHECK_TIMEOUT = 10.0      # longest wait for phpIPAM before a report is accepted unchecked
PHPIPAM_RETRY_AFTER = 5.0       # after phpIPAM failed, do not ask again for this long
AGENT_REFRESH_AFTER = 5.0       # a cached agent id that disagrees with a report is re-read after this long
PHPIPAM_WORKERS = 4
SHUTDOWN_TIMEOUT = 5.0
# Per-request log fields (agent, report id, outcome, reason); a typed key where aiohttp has them (3.12+).
RELAY_INFO = web.RequestKey('relay', dict) if hasattr(web, 'RequestKey') else 'relay'


class Rejection(Exception):
    """A request refused with ``status`` and a JSON reason."""

    def __init__(self, status, reason, headers=None, **extra):
        super(Rejection, self).__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers
        self.extra = extra


async def within(timeout, awaitable):
    """The result of ``awaitable``, or asyncio.TimeoutError after ``timeout`` seconds.

    Not asyncio.wait_for: before Python 3.12 it can swallow a cancellation that arrives just as
    the awaited thing finishes, and ansible-rulebook stops a source only by cancelling it.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, dummy = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise asyncio.TimeoutError()
    return task.result()


def _digest(token):
    return hashlib.sha256(token.encode('utf-8', 'surrogateescape')).digest()


class TokenTable(object):
    """The configured tokens, compared in constant time.

    Every token is compared (as SHA-256 digests, so lengths do not leak either), with no early
    exit: the time taken does not tell whether or which token matched.
    """

    def __init__(self, tokens):
        self._entries = [(_digest(token), code) for token, code in tokens.items()]

    def match(self, token):
        """(True, agent code or None for the shared token), or (False, None)."""
        given = _digest(token)
        matched, code = False, None
        for digest, entry_code in self._entries:
            same = hmac.compare_digest(given, digest)
            matched |= same
            code = entry_code if same else code
        return matched, code


def bearer_token(headers):
    """The token of ``Authorization: Bearer <token>``; raises a 401 Rejection when absent or malformed."""
    challenge = {'WWW-Authenticate': 'Bearer realm="ipamkit.phpipam scan relay"'}
    values = headers.getall('Authorization', [])
    if not values:
        raise Rejection(401, 'no Authorization header: send Authorization: Bearer <token>', headers=challenge)
    parts = values[0].strip().split()
    if len(values) != 1 or len(parts) != 2 or parts[0].lower() != 'bearer':
        raise Rejection(401, 'malformed Authorization header: send Authorization: Bearer <token>',
                        headers={'WWW-Authenticate': challenge['WWW-Authenticate'] + ', error="invalid_request"'})
    return parts[1]


def json_media_type_problem(content_type):
    """Why a Content-Type header is not JSON in UTF-8, or None."""
    media, dummy, params = (content_type or '').partition(';')
    if media.strip().lower() != 'application/json':
        return 'Content-Type must be application/json, got %s' % (repr(media.strip()[:80]) if media.strip()
                                                                  else 'none')
    for param in params.split(';'):
        name, dummy, value = param.partition('=')
        if name.strip().lower() == 'charset' and value.strip().strip('"').lower() not in ('utf-8', 'utf8'):
            return 'a scan report is sent in UTF-8, got charset %s' % value.strip()[:40]
    return None


def _no_constants(name):
    raise ValueError('%s is not allowed in JSON' % name)


def decode_report(body):
    """The JSON object of ``body``, or a 400/422 Rejection; the report is validated against the schema."""
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise Rejection(400, 'the body is not UTF-8: %s' % exc)
    try:
        report = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise Rejection(400, 'the body is not JSON: %s' % str(exc)[:200])
    problems = validate_report(report)
    if problems:
        shown = '; '.join(problems[:20]) + ('; and %d more problem(s)' % (len(problems) - 20)
                                            if len(problems) > 20 else '')
        raise Rejection(422, 'invalid scan report: %s' % shown, problems=problems[:200])
    return report


def client_from_settings(settings):
    """The relay's own phpIPAM client, from relay settings.

    Few, short retries: an agent waits for the answer to its POST, and a report whose agent
    cannot be checked is accepted anyway (the applier checks again).
    """
    return PhpipamClient(retries=2, backoff=0.25, max_workers=PHPIPAM_WORKERS, **client_options(settings))


def server_ssl_context(settings):
    """TLS 1.2+ with the relay's certificate; with tls_client_ca, client certificates are required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(settings['tls_cert'], settings['tls_key'])
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(['tls_cert %s / tls_key %s: cannot load the certificate and key: %s'
                           % (settings['tls_cert'], settings['tls_key'], exc)],
                          summary='The scan relay cannot start:')
    if settings['tls_client_ca']:
        try:
            context.load_verify_locations(cafile=settings['tls_client_ca'])
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(['tls_client_ca %s: cannot load the CA bundle: %s' % (settings['tls_client_ca'], exc)],
                              summary='The scan relay cannot start:')
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _short(code):
    """An agent code as it may appear in a log: its first characters only (the code is a secret)."""
    return 'agent code %s...' % code[:4]


class ScanRelay(object):
    """One listener: settings, the spool, the phpIPAM client, the HTTP server and the emitter."""

    def __init__(self, queue, settings):
        self.queue = queue
        self.settings = settings
        self.spool = Spool(settings['spool_dir'])
        self.tokens = TokenTable(settings['tokens'])
        self.codes = frozenset(code for code in settings['tokens'].values() if code is not None)
        self.client = client_from_settings(settings)
        self.retry_interval = float(settings['retry_interval'])
        self._phpipam_pool = concurrent.futures.ThreadPoolExecutor(PHPIPAM_WORKERS,
                                                                   thread_name_prefix='scan-relay-phpipam')
        self._agents = {}               # code -> (agent id, name, monotonic time read)
        self._agent_lock = asyncio.Lock()
        self._phpipam_down_until = 0.0
        self._phpipam_down_reason = None
        self._wake = asyncio.Event()
        self._runner = None
        self.url = None

    # ------------------------------------------------------------------ life cycle

    async def start(self):
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.spool.prepare)
        except SpoolError as exc:
            raise ConfigError([str(exc)], summary='The scan relay cannot start:')
        settings = self.settings
        context = None
        if settings['tls_cert'] and settings['tls_key']:
            context = server_ssl_context(settings)
            if settings['plain_http']:
                logger.warning('scan relay: plain_http is set but so are tls_cert and tls_key: serving HTTPS')
        app = web.Application(middlewares=[self._middleware], client_max_size=settings['max_body_size'])
        for path in REPORT_PATHS:
            app.router.add_post(path, self._post_report)
        app.router.add_get(SUBNETS_PATH, self._get_subnets)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings['listen_address'], settings['listen_port'], ssl_context=context,
                           reuse_address=True)
        await site.start()
        host = settings['listen_address']
        self.url = '%s://%s:%d' % ('https' if context else 'http', '[%s]' % host if ':' in host else host,
                                   settings['listen_port'])
        shared = None in settings['tokens'].values()
        logger.info('scan relay listening on %s (%s), spool %s, %d agent token(s)%s, GET %s %s, retry every %d s',
                    self.url, 'mutual TLS' if context and settings['tls_client_ca'] else
                    ('TLS' if context else 'plain HTTP on loopback'), self.spool.path, len(self.codes),
                    ' and a shared token' if shared else '', SUBNETS_PATH,
                    'served' if settings['serve_subnets'] else 'off', self.retry_interval)

    async def run(self):
        """Emit events until cancelled: once at start if reports wait, after accepts, every retry_interval."""
        await self._emit('startup')
        while True:
            try:
                await within(self.retry_interval, self._wake.wait())
            except asyncio.TimeoutError:
                trigger = 'retry'
            else:
                trigger = 'accepted'
                await asyncio.sleep(DEBOUNCE_SECONDS)   # let the rest of a burst arrive
            self._wake.clear()
            await self._emit(trigger)

    async def stop(self):
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._phpipam_pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
        logger.info('scan relay stopped')

    async def _emit(self, trigger):
        loop = asyncio.get_running_loop()
        try:
            pending = await loop.run_in_executor(None, self.spool.ids, 'incoming')
        except OSError as exc:
            logger.error('scan relay: cannot list the spool %s: %s', self.spool.path, exc)
            return
        if not pending:
            return
        event = {'scan_relay': {'pending': pending[:MAX_EVENT_IDS], 'pending_count': len(pending),
                                'spool_dir': self.spool.path, 'trigger': trigger}}
        logger.info('scan relay: %d report(s) waiting in the spool (%s): event sent', len(pending), trigger)
        await self.queue.put(event)

    # ------------------------------------------------------------------ HTTP plumbing

    @web.middleware
    async def _middleware(self, request, handler):
        request[RELAY_INFO] = {}
        started = time.monotonic()
        try:
            response = await handler(request)
        except Rejection as exc:
            response = self._rejection_response(request, exc)
        except web.HTTPException as exc:
            # The router's own answers (unknown path, wrong method), as JSON.
            reason = {404: 'not found: reports go to POST / or POST /reports%s' % (
                ', subnet lists come from GET /subnets' if self.settings['serve_subnets'] else ''),
                405: 'method %s not allowed here' % request.method}.get(exc.status, exc.reason)
            headers = dict((k, v) for k, v in exc.headers.items() if k.lower() == 'allow')
            response = self._rejection_response(request, Rejection(exc.status, reason, headers=headers))
        except (asyncio.CancelledError, ConnectionError):
            logger.info('scan relay: %s %s from %s: the client went away', request.method, request.path,
                        request.remote)
            raise
        except Exception:  # pylint: disable=broad-exception-caught
            # The agent gets a 500 (and retries); the relay keeps serving. The traceback goes to the log.
            logger.exception('scan relay: %s %s from %s failed', request.method, request.path, request.remote)
            response = self._rejection_response(request, Rejection(500, 'internal error of the relay (see its log)'))
        self._log_request(request, response, time.monotonic() - started)
        return response

    @staticmethod
    def _rejection_response(request, rejection):
        request[RELAY_INFO]['reason'] = rejection.reason
        body = dict({'status': 'rejected', 'reason': rejection.reason}, **rejection.extra)
        return web.json_response(body, status=rejection.status, headers=rejection.headers)

    @staticmethod
    def _log_request(request, response, elapsed):
        """One line per request: who, which report, the answer and why (never a token)."""
        info = request[RELAY_INFO]
        fields = ['from %s' % request.remote]
        if info.get('agent'):
            fields.append('agent %s' % info['agent'])
        if info.get('report_id'):
            fields.append('report %s' % info['report_id'])
        status = response.status
        outcome = info.get('outcome') or ('rejected' if status >= 400 else 'ok')
        line = 'scan relay: %s %s %s: %d %s' % (request.method, request.path, ', '.join(fields), status, outcome)
        if info.get('reason') and status >= 400:
            line += ': %s' % info['reason']
        level = logging.INFO if status < 400 else (logging.ERROR if status >= 500 else logging.WARNING)
        logger.log(level, '%s (%.3f s)', line, elapsed)

    def _authenticate(self, request):
        """The agent code of the request's token (None for the shared token); 401 otherwise."""
        token = bearer_token(request.headers)
        known, code = self.tokens.match(token)
        if not known:
            raise Rejection(401, 'unknown token',
                            headers={'WWW-Authenticate': 'Bearer realm="ipamkit.phpipam scan relay", '
                                                         'error="invalid_token"'})
        request[RELAY_INFO]['agent'] = self._label(code)
        return code

    def _label(self, code):
        if code is None:
            return '(shared token)'
        cached = self._agents.get(code)
        if cached:
            return "'%s' (id %d)" % (cached[1], cached[0])
        return '(%s)' % _short(code)

    # ------------------------------------------------------------------ POST a report

    async def _read_body(self, request):
        limit = self.settings['max_body_size']
        chunks, size = [], 0
        while True:
            chunk = await request.content.read(min(65536, limit + 1 - size))
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                # The rest is read and dropped by aiohttp's lingering close (bounded in time), never kept.
                raise Rejection(413, 'the body is larger than this relay accepts (max_body_size %d bytes)' % limit)
            chunks.append(chunk)
        return b''.join(chunks)

    async def _post_report(self, request):
        info = request[RELAY_INFO]
        code = self._authenticate(request)
        length = request.content_length
        limit = self.settings['max_body_size']
        if length is not None and length > limit:
            raise Rejection(413, 'the body has %d bytes, more than this relay accepts (max_body_size %d)'
                            % (length, limit))
        problem = json_media_type_problem(request.headers.get('Content-Type'))
        if problem:
            raise Rejection(415, problem)
        try:
            body = await within(BODY_TIMEOUT, self._read_body(request))
        except asyncio.TimeoutError:
            raise Rejection(408, 'the body did not arrive within %d s' % BODY_TIMEOUT)
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(None, decode_report, body)
        info['report_id'] = report['report_id']
        if code is not None:
            await self._check_agent(request, code, report)
        try:
            outcome = await loop.run_in_executor(
                None, functools.partial(self.spool.accept, report, agent_code=code, remote=request.remote))
        except (OSError, SpoolError) as exc:
            logger.error('scan relay: cannot store report %s in the spool %s: %s', report['report_id'],
                         self.spool.path, exc)
            raise Rejection(503, 'the relay cannot store reports right now (%s); send the report again later'
                            % (getattr(exc, 'strerror', None) or 'spool error'), headers={'Retry-After': '60'})
        info['outcome'] = outcome
        if outcome == 'accepted':
            self._wake.set()
        return web.json_response({'status': outcome, 'report_id': report['report_id']}, status=202)

    # ------------------------------------------------------------------ which agent a token is

    async def _phpipam(self, func, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._phpipam_pool, functools.partial(func, *args, **kwargs))

    def _phpipam_down(self):
        return time.monotonic() < self._phpipam_down_until

    def _mark_phpipam_down(self, reason):
        self._phpipam_down_until = time.monotonic() + PHPIPAM_RETRY_AFTER
        self._phpipam_down_reason = reason

    async def _resolve(self, code, stale_id=None):
        """(agent id, name) of ``code`` from the cache or phpIPAM; None when phpIPAM has no such agent.

        Raises PhpipamError (or asyncio.TimeoutError) when phpIPAM cannot tell.
        """
        async with self._agent_lock:
            cached = self._agents.get(code)
            fresh_enough = cached and (stale_id is None or cached[0] != stale_id
                                       or time.monotonic() - cached[2] < AGENT_REFRESH_AFTER)
            if fresh_enough:
                return cached[0], cached[1]
            if self._phpipam_down():
                raise PhpipamTransportError('phpIPAM failed %.0f s ago (%s); not asked again yet' % (
                    PHPIPAM_RETRY_AFTER - (self._phpipam_down_until - time.monotonic()), self._phpipam_down_reason))
            try:
                agent = await within(AGENT_CHECK_TIMEOUT, self._phpipam(find_agent, self.client, code=code))
            except AgentNotFoundError:
                self._agents.pop(code, None)
                return None
            except (PhpipamError, asyncio.TimeoutError) as exc:
                self._mark_phpipam_down(str(exc) or 'no answer within %d s' % AGENT_CHECK_TIMEOUT)
                raise
            self._agents[code] = (int(agent['id']), agent.get('name') or '', time.monotonic())
            return self._agents[code][0], self._agents[code][1]

    async def _check_agent(self, request, code, report):
        """403 unless the report comes from the agent whose token carried it (when phpIPAM can tell)."""
        info = request[RELAY_INFO]
        claimed_id, claimed_name = report['agent']['id'], report['agent']['name']
        try:
            known = await self._resolve(code)
            if known is not None and known[0] != claimed_id:
                known = await self._resolve(code, stale_id=known[0])
        except (PhpipamError, asyncio.TimeoutError) as exc:
            logger.warning('scan relay: cannot check with phpIPAM which agent the token of report %s belongs to '
                           '(%s): accepting it unchecked, the relay playbook checks it against phpIPAM before any '
                           'write', report['report_id'], str(exc) or 'no answer within %d s' % AGENT_CHECK_TIMEOUT)
            info['agent'] = '(%s, unchecked)' % _short(code)
            return
        if known is None:
            logger.warning('scan relay: phpIPAM has no scan agent with %s (from agent_tokens): that token cannot '
                           'post reports', _short(code))
            raise Rejection(403, 'the agent this token belongs to is not a scan agent in phpIPAM '
                                 '(Administration > Scan agents)')
        info['agent'] = self._label(code)
        if known[0] != claimed_id:
            raise Rejection(403, "this token belongs to agent '%s' (id %d), the report is from agent '%s' (id %d)"
                            % (known[1], known[0], claimed_name, claimed_id))

    # ------------------------------------------------------------------ GET the agent's subnets

    async def _get_subnets(self, request):
        if not self.settings['serve_subnets']:
            raise Rejection(404, 'this relay does not serve subnet lists (serve_subnets is off)')
        code = self._authenticate(request)
        asked = request.query.getall('agent_code', [])
        if len(asked) > 1:
            raise Rejection(400, 'give agent_code once')
        if code is None:
            if not asked or not asked[0]:
                raise Rejection(400, 'with the shared token, say which agent: GET /subnets?agent_code=<code>')
            code = asked[0]
            request[RELAY_INFO]['agent'] = '(shared token, %s)' % _short(code)
        elif asked and not hmac.compare_digest(_digest(asked[0]), _digest(code)):
            raise Rejection(403, "an agent's token reads only that agent's subnets (leave agent_code out)")
        try:
            inventory = await self._phpipam(fetch_agent_inventory, self.client, code=code, addresses=True)
        except AgentNotFoundError as exc:
            logger.warning('scan relay: GET %s: %s', SUBNETS_PATH, exc)
            raise Rejection(404, 'phpIPAM has no scan agent with this agent code')
        except PhpipamTransportError as exc:
            logger.error('scan relay: GET %s: phpIPAM unreachable: %s', SUBNETS_PATH, exc)
            raise Rejection(503, 'the relay cannot reach phpIPAM right now; try again later',
                            headers={'Retry-After': '60'})
        except PhpipamError as exc:
            logger.error('scan relay: GET %s: %s', SUBNETS_PATH, exc)
            raise Rejection(502, 'phpIPAM refused the relay\'s request%s (see the relay\'s log)' % (
                ' (HTTP %d)' % exc.status if exc.status else ''))
        agent = inventory['agent']
        self._agents[code] = (int(agent['id']), agent.get('name') or '', time.monotonic())
        request[RELAY_INFO]['agent'] = self._label(code)
        request[RELAY_INFO]['outcome'] = '%d subnet(s)' % len(inventory['subnets'])
        return web.json_response(to_ansible(inventory))


def _settings_overrides(args):
    return dict((key, value) for key, value in (args or {}).items()
                if key not in PLUGIN_ARGS and not key.startswith('eda_'))


async def load_settings(args):
    """The relay settings (or ConfigError, every problem logged first); warnings are logged."""
    loop = asyncio.get_running_loop()
    try:
        loaded = await loop.run_in_executor(None, functools.partial(
            load_relay_settings, path=(args or {}).get('config'), overrides=_settings_overrides(args)))
    except ConfigError as exc:
        for problem in exc.problems:
            logger.error('scan relay configuration: %s', problem)
        count = len(exc.problems)
        raise ConfigError(exc.problems, summary='The scan relay configuration has %d problem%s; the relay did not '
                                                'start:' % (count, '' if count == 1 else 's'))
    for warning in loaded['warnings']:
        logger.warning('scan relay configuration: %s', warning)
    return loaded['settings']


async def main(queue, args):
    """ansible-rulebook's entry point: serve until the source task is cancelled."""
    settings = await load_settings(args)
    try:
        relay = ScanRelay(queue, settings)
    except PhpipamConfigError as exc:
        logger.error('scan relay configuration: %s', exc)
        raise ConfigError([str(exc)], summary='The scan relay configuration has 1 problem; the relay did not start:')
    for warning in relay.client.warnings:
        logger.warning('scan relay: %s', warning)
    try:
        await relay.start()
        await relay.run()
    finally:
        await relay.stop()


if __name__ == '__main__':
    # Run the listener alone (no rulebook): events are printed. Arguments: the config file.
    class _PrintQueue(object):
        @staticmethod
        async def put(event):
            print(json.dumps(event))

    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    asyncio.run(main(_PrintQueue(), {'config': sys.argv[1] if len(sys.argv) > 1 else None}))
