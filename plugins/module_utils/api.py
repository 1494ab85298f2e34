# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phpIPAM REST API client every module, lookup and plugin of the collection uses.

One ``requests.Session`` per client (keep-alive matters for thousands of writes),
TLS verification on by default, three ways to authenticate (app code, username +
password login, user token), phpIPAM's envelope unwrapped and its field types
normalised here and nowhere else, typed errors whose messages never hold a secret,
and retries with backoff only where repeating a request cannot do harm.
"""

import datetime
import ipaddress
import json
import os
import re
import threading
import time
import traceback
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

try:
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore
    from urllib import quote  # type: ignore

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import requests.adapters
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import (
    PhpipamAuthError,
    PhpipamConfigError,
    PhpipamError,
    PhpipamInvalidInputError,
    PhpipamNotFoundError,
    PhpipamServerError,
    PhpipamTransportError,
    PhpipamUnexpectedResponseError,
    classify_api_error,
    describe_unexpected,
    is_empty_result_message,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.normalize import (
    FieldValueError,
    from_phpipam,
    to_phpipam,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import TimeZoneError, get_zone

COLLECTION_VERSION = '0.1.0'
USER_AGENT = 'ipamkit.phpipam/%s' % COLLECTION_VERSION

# Repeating these cannot create a second object: phpIPAM's PATCH sets fields, DELETE
# of a deleted object answers 404.
IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE'))
RETRY_STATUSES = frozenset((502, 503, 504))
# Apache closes idle keep-alive connections after 5 s by default. A POST sent on such
# a connection fails in a way that cannot be told apart from a real failure, so
# connections idle for longer are dropped before a POST.
KEEPALIVE_IDLE_LIMIT = 3.0
REDACTED = '********'

_TOKEN_HEADER = 'token'


class ApiResult(object):
    """One successful phpIPAM answer, unwrapped from the envelope and normalised."""

    __slots__ = ('status', 'data', 'message', 'id', 'location')

    def __init__(self, status, data=None, message=None, id=None, location=None):  # pylint: disable=redefined-builtin
        self.status = status
        self.data = data
        self.message = message
        self.id = id
        self.location = location

    def __repr__(self):
        return 'ApiResult(status=%r, id=%r, message=%r)' % (self.status, self.id, self.message)


def is_loopback_host(host):
    """True for names and literals that can only mean this machine."""
    if not host:
        return False
    host = host.strip('[]').lower()
    if host == 'localhost' or host.endswith('.localhost'):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(text, limit=80):
    """A URL for a message: any ``user:password@`` blanked out, a query string dropped, length capped."""
    text = str(text)
    if '@' in text:
        scheme, sep, rest = text.partition('://')
        text = (scheme + sep if sep else '') + '***@' + (rest if sep else text).rsplit('@', 1)[1]
    text = text.split('?', 1)[0].split('#', 1)[0]
    text = repr(text)
    return text if len(text) <= limit else text[:limit - 4] + '...' + text[-1]


def url_syntax_problem(url):
    """Why ``url`` is not a usable http(s) URL, or None. Never repeats credentials or a query string."""
    parts = urlsplit(str(url).strip())
    if parts.username or parts.password or '@' in parts.netloc:
        return 'must not contain credentials (user:password@): give them in the token, username and password settings'
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return '%s is not an http(s) URL: give the scheme and host, e.g. https://ipam.example.com' % shown_url(url)
    try:
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        return '%s has an invalid port' % shown_url(url)
    if parts.query or parts.fragment:
        return 'must not have a query string or fragment: give the base URL'
    return None


def base_url_problems(url, allow_insecure_http=False):
    """Every reason ``url`` cannot be phpIPAM's base URL (an empty list when it can).

    The one set of rules for the client and for the scan agent's configuration: a syntactically
    usable http(s) URL, without the ``/api`` part the client adds, and plain http only to loopback
    unless the user accepts the risk with ``allow_insecure_http``.
    """
    problem = url_syntax_problem(url)
    if problem:
        return [problem]
    problems = []
    parts = urlsplit(str(url).strip())
    path = parts.path.rstrip('/')
    if re.search(r'/api(/|$)', path + '/'):
        problems.append("give phpIPAM's base URL without /api (the client adds /api/<app_id>/): use %s://%s%s"
                        % (parts.scheme, parts.netloc, path[:path.find('/api')]))
    if parts.scheme == 'http' and not is_loopback_host(parts.hostname) and not allow_insecure_http:
        problems.append('refusing to send credentials over plain http:// to %s: anyone on the path could read them. '
                        'Use https:// (phpIPAM apps with SSL security require it anyway), or set allow_insecure_http: '
                        'true if you accept that risk' % parts.hostname)
    return problems


USER_TOKEN_LIFETIME = datetime.timedelta(hours=6)
CLOCK_TOLERANCE = datetime.timedelta(minutes=10)
UTC = datetime.timezone.utc


def token_clock_warning(expires, timezone, now):
    """A warning when phpIPAM's PHP clock disagrees with ``timezone``, judged by a fresh token's expiry.

    phpIPAM sets a user token's expiry to its PHP local time plus 6 hours at login (also when it
    hands out a still valid token, unless that was refreshed in the last minute). Read in the
    configured zone, it must therefore lie about 6 hours ahead of ``now``.
    """
    if not isinstance(expires, datetime.datetime):
        return None
    ahead = expires - now
    if abs(ahead - USER_TOKEN_LIFETIME) <= CLOCK_TOLERANCE:
        return None
    return ("phpIPAM's PHP clock disagrees with the configured time zone %s: the user token it just issued expires "
            "at %s, which is %+.1f h from now instead of +6 h. phpIPAM reads lastSeen in its PHP time zone, so set "
            "timezone (phpipam_timezone) to phpIPAM's date.timezone" % (
                timezone, expires.strftime('%Y-%m-%d %H:%M:%S'), ahead.total_seconds() / 3600.0))


def _short_reason(exc):
    """The innermost useful sentence of a requests/urllib3 exception."""
    text = str(exc)
    patterns = (
        r'(certificate verify failed: [^(\'")]+)',
        r'(hostname .+? doesn\'t match .+?)[\'")]',
        r'(\[Errno -?\d+\] [^\'")]+)',
        r'(Read timed out[^\'")]*)',
        r'(Connection aborted)',
        r'(Remote end closed connection without response)',
        r'(Connection reset by peer)',
        r'(timed out)',
        r'(\[SSL[^\]]*\] [^(\'")]+)',
    )
    for pattern in patterns:
        match = re.search(pattern, text)
        if match:
            return match.group(1).strip().rstrip('.,:')
    return text.split('\n', 1)[0][:200]


def _connection_never_made(exc):
    """True when the request cannot have reached the server (so any method may be retried)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], 'reason', None) if exc.args else None
    name = type(reason).__name__ if reason is not None else ''
    return name in ('NewConnectionError', 'ConnectTimeoutError', 'NameResolutionError')


class PhpipamClient(object):
    """A phpIPAM REST API client.

    :param url: phpIPAM's base URL (``https://ipam.example.com`` or ``https://host/phpipam``).
    :param app_id: the API app id; requests go to ``<url>/api/<app_id>/``.
    :param token: an app code (apps with "SSL with App code token") or a user token.
    :param username: with ``password``, log in (``POST user/``) for a user token.
    :param timezone: phpIPAM's time zone, used to read and write its zone-less dates.
    """

    def __init__(self, url, app_id, token=None, username=None, password=None, validate_certs=True,
                 ca_path=None, timeout=30, allow_insecure_http=False, timezone='UTC', retries=3,
                 backoff=0.5, max_workers=8):
        if not HAS_REQUESTS:
            raise PhpipamConfigError('the Python library requests is required: pip install requests')
        self._secrets = set(s for s in (token, password) if s)
        self.url, self.app_id = self._check_url(url, app_id, allow_insecure_http)
        parts = urlsplit(self.url)
        self._origin = '%s://%s' % (parts.scheme, parts.netloc)
        self.base_url = '%s/api/%s/' % (self.url, quote(self.app_id, safe=''))
        if token:
            self.auth_mode = 'token'
        elif username and password:
            self.auth_mode = 'login'
        else:
            missing = 'password' if username else ('username' if password else 'token, or username and password')
            raise PhpipamConfigError(
                'no credentials for phpIPAM: set %s (PHPIPAM_TOKEN, or PHPIPAM_USERNAME and PHPIPAM_PASSWORD)'
                % missing)
        self.username = username
        self._password = password
        self._token = token
        try:
            self.zone = get_zone(timezone)
        except TimeZoneError as exc:
            raise PhpipamConfigError('timezone: %s' % exc)
        self.timezone = timezone or 'UTC'
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.max_workers = max(1, int(max_workers))
        self.warnings = []
        self.request_counts = Counter()
        self._lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._last_activity = None

        if ca_path and validate_certs:
            if not os.path.isfile(ca_path):
                raise PhpipamConfigError('ca_path %s does not exist or is not a file (PEM CA bundle expected)' % ca_path)
            self.verify = ca_path
        else:
            self.verify = bool(validate_certs)
        if not validate_certs and self.url.startswith('https://'):
            self.warnings.append(
                'validate_certs is false: the TLS certificate of %s is not checked, so anyone on the path can read '
                'the credentials; give the CA with ca_path instead' % self.url)
            try:
                import urllib3
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            except (ImportError, AttributeError):  # pragma: no cover
                pass

        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=self.max_workers)
        self.session.mount('https://', adapter)
        self.session.mount('http://', adapter)
        self.session.headers.update({
            'Accept': 'application/json',
            'User-Agent': USER_AGENT,
            # Native JSON types whatever the server's api_stringify_results says.
            'Api-Stringify-Results': 'false',
        })

    # ------------------------------------------------------------------ setup

    def _check_url(self, url, app_id, allow_insecure_http):
        if not url:
            raise PhpipamConfigError('url is required: phpIPAM\'s base URL, e.g. https://ipam.example.com (PHPIPAM_URL)')
        problems = base_url_problems(url, allow_insecure_http)
        if problems:
            raise PhpipamConfigError('url: %s' % '; '.join(problems))
        if not app_id or not str(app_id).strip():
            raise PhpipamConfigError('app_id is required: the API app id from Administration > API (PHPIPAM_APP_ID)')
        app_id = str(app_id).strip()
        if '/' in app_id or re.search(r'\s', app_id):
            raise PhpipamConfigError('app_id %r is not an API app id (no slashes or spaces allowed)' % app_id)
        parts = urlsplit(url.strip())
        return '%s://%s%s' % (parts.scheme, parts.netloc, parts.path.rstrip('/')), app_id

    # ----------------------------------------------------------- public API

    def get(self, path, params=None):
        """GET and return the normalised ``data``; a 404 raises PhpipamNotFoundError."""
        return self.request('GET', path, params=params).data

    def read(self, path, params=None):
        """GET whatever the path answers; phpIPAM's "nothing found" 404s become ``[]``."""
        try:
            return self.request('GET', path, params=params).data
        except PhpipamNotFoundError as exc:
            if exc.empty_result:
                return []
            raise

    def get_list(self, path, params=None):
        """GET a collection as a list: "nothing found" is ``[]`` and a single object a one-item list."""
        data = self.read(path, params)
        if data is None:
            return []
        return data if isinstance(data, list) else [data]

    def get_or_none(self, path, params=None):
        """GET one object, or None when phpIPAM says it does not exist."""
        try:
            return self.request('GET', path, params=params).data
        except PhpipamNotFoundError:
            return None

    def get_lists(self, paths, params=None):
        """``get_list`` for many paths at once, in parallel; results in the order of ``paths``."""
        paths = list(paths)
        if len(paths) <= 1 or self.max_workers == 1:
            return [self.get_list(p, params) for p in paths]
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(paths))) as pool:
            return list(pool.map(lambda p: self.get_list(p, params), paths))

    def create(self, path, data):
        """POST; returns the ApiResult with the new object's ``id``."""
        return self.request('POST', path, data=data)

    def update(self, path, data):
        """PATCH the given fields."""
        return self.request('PATCH', path, data=data)

    def delete(self, path):
        return self.request('DELETE', path)

    def app_permissions(self):
        """The app's permission level as phpIPAM names it: 'Read', 'Write' or 'Admin'.

        ``OPTIONS tools/`` answers it without changing anything.
        """
        data = self.request('OPTIONS', 'tools').data or {}
        return data.get('permissions')

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------- plumbing

    def url_for(self, path):
        """Absolute URL for a controller path. Always ends in '/': phpIPAM needs it before a query string."""
        clean = '/'.join(segment for segment in str(path).split('/') if segment)
        return self.base_url + (quote(clean, safe="/:@!$&'()*+,;=-._~") + '/' if clean else '')

    def redact(self, text):
        """Replace every credential this client knows in ``text``."""
        if text is None:
            return None
        text = str(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret and secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def request(self, method, path, params=None, data=None):
        """Send one request and return an ApiResult, raising a PhpipamError subclass on failure."""
        method = method.upper()
        if self.auth_mode == 'login' and self._token is None:
            self._login()
        try:
            return self._request_once_authenticated(method, path, params, data)
        except PhpipamAuthError as exc:
            # A user token we got by logging in expires after 6 h of silence (or when
            # another client logs the user out): log in again once and repeat. A 401
            # means phpIPAM refused before running the controller, so even a POST is safe.
            if self.auth_mode != 'login' or exc.status not in (401, 403) or self._controller(path) == 'user':
                raise
            self._login(force=True)
            return self._request_once_authenticated(method, path, params, data)

    def _request_once_authenticated(self, method, path, params, data):
        headers = {}
        if self._token:
            headers[_TOKEN_HEADER] = self._token
        return self._send(method, path, params=params, data=data, headers=headers)

    def _login(self, force=False):
        with self._login_lock:
            if self._token is not None and not force:
                return
            self._token = None
            result = self._send('POST', 'user', auth=(self.username, self._password), headers={})
            token = (result.data or {}).get('token') if isinstance(result.data, dict) else None
            if not token:
                raise PhpipamAuthError(
                    'POST %s: phpIPAM answered the login without a token' % self._display_path('user'),
                    method='POST', path=self._display_path('user'), status=result.status)
            self._token = token
            self._secrets.add(token)
            warning = token_clock_warning(result.data.get('expires'), self.timezone, datetime.datetime.now(UTC))
            if warning:
                self.warnings.append(warning)

    @staticmethod
    def _controller(path):
        first = str(path).strip('/').split('/', 1)[0]
        return first.lower()

    def _display_path(self, path, params=None):
        display = urlsplit(self.url_for(path)).path
        if params:
            display += '?' + '&'.join('%s=%s' % (k, v) for k, v in sorted(params.items()))
        return display

    def _count(self, method):
        with self._lock:
            self.request_counts[method] += 1

    def _send(self, method, path, params=None, data=None, headers=None, auth=None):
        url = self.url_for(path)
        display = self._display_path(path, params)
        if params:
            params = dict((k, self._param_value(v)) for k, v in params.items())
        body = None
        headers = dict(headers or {})
        if data is not None:
            try:
                body = json.dumps(to_phpipam(data, self.zone))
            except FieldValueError as exc:
                raise PhpipamInvalidInputError('not sending %s %s: %s' % (method, display, exc), method=method,
                                               path=display)
            headers['Content-Type'] = 'application/json'
        if method not in IDEMPOTENT_METHODS:
            self._drop_idle_connections()

        attempt = 0
        while True:
            self._count(method)
            try:
                response = self.session.request(
                    method, url, params=params, data=body, headers=headers, auth=auth,
                    timeout=self.timeout, verify=self.verify, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                retry_ok, error = self._transport_error(method, display, exc)
                if retry_ok and attempt < self.retries:
                    attempt += 1
                    self._sleep(attempt)
                    continue
                raise error
            finally:
                self._last_activity = time.monotonic()

            if (response.status_code in RETRY_STATUSES and method in IDEMPOTENT_METHODS
                    and attempt < self.retries and not self._is_phpipam_envelope(response)):
                # A proxy or web server in front of phpIPAM said "try later". phpIPAM's own
                # 503s (API disabled, SSL required) are JSON and final, so they are not retried.
                attempt += 1
                response.close()
                self._sleep(attempt)
                continue
            return self._unwrap(method, path, display, response)

    @staticmethod
    def _param_value(value):
        if isinstance(value, bool):
            return 'true' if value else 'false'
        return value

    def _sleep(self, attempt):
        if self.backoff:
            time.sleep(self.backoff * (2 ** (attempt - 1)))

    def _drop_idle_connections(self):
        last = self._last_activity
        if last is not None and time.monotonic() - last > KEEPALIVE_IDLE_LIMIT:
            for adapter in self.session.adapters.values():
                adapter.close()

    def _transport_error(self, method, display, exc):
        """(may retry, error to raise) for a request that got no HTTP answer."""
        reason = self.redact(_short_reason(exc))
        where = '%s %s%s' % (method, self._origin, display)
        if isinstance(exc, requests.exceptions.SSLError):
            hint = ('check that the server certificate is issued for this host name and, for a private CA, set '
                    'ca_path (PHPIPAM_CA_PATH) to the CA bundle (PEM); validate_certs: false only for throw-away tests')
            return False, PhpipamTransportError('TLS verification failed for %s: %s' % (where, reason),
                                                method=method, path=display, hint=hint)
        if isinstance(exc, requests.exceptions.ConnectTimeout) or (
                isinstance(exc, requests.exceptions.ConnectionError) and _connection_never_made(exc)):
            return True, PhpipamTransportError(
                'cannot connect to phpIPAM for %s: %s' % (where, reason), method=method, path=display,
                hint='check url (PHPIPAM_URL), that phpIPAM is running and that this host can reach it')
        if isinstance(exc, requests.exceptions.Timeout):
            maybe = '' if method in IDEMPOTENT_METHODS else ' (it may or may not have been applied)'
            return method in IDEMPOTENT_METHODS, PhpipamTransportError(
                'phpIPAM did not answer %s within %s s%s' % (where, self.timeout, maybe), method=method,
                path=display, hint='raise timeout, or check the load on phpIPAM and its database')
        if isinstance(exc, requests.exceptions.ConnectionError):
            maybe = '' if method in IDEMPOTENT_METHODS else ' (it may or may not have been applied)'
            return method in IDEMPOTENT_METHODS, PhpipamTransportError(
                'the connection to phpIPAM broke during %s: %s%s' % (where, reason, maybe), method=method,
                path=display, hint='check phpIPAM, the web server and any proxy in between')
        return False, PhpipamTransportError('request %s failed: %s' % (where, reason), method=method, path=display)

    @staticmethod
    def _is_phpipam_envelope(response):
        try:
            body = response.json()
        except ValueError:
            return False
        return isinstance(body, dict) and 'success' in body and 'code' in body

    def _unwrap(self, method, path, display, response):
        status = response.status_code
        if method == 'HEAD':
            return ApiResult(status)
        content_type = response.headers.get('Content-Type', '')
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or 'success' not in body:
            hint = describe_unexpected(status, content_type, response.text)
            if 300 <= status < 400:
                location = response.headers.get('Location', '?')
                if 'page=login' in location:
                    hint = ("it redirects to phpIPAM's web login page (%s), so this is not the API: url must be "
                            "phpIPAM's base URL, the one the API answers under as <url>/api/<app_id>/" % location)
                else:
                    hint = 'the server redirected to %s: use the final URL (https, path) as url' % location
            raise PhpipamUnexpectedResponseError(
                '%s %s answered HTTP %d with %s instead of phpIPAM\'s JSON'
                % (method, display, status, (content_type.split(';')[0] or 'no content type') if response.content
                   else 'an empty body'),
                method=method, path=display, status=status, hint=self.redact(hint))

        api_message = self.redact(body.get('message'))
        if isinstance(body.get('code'), int) and body['code'] != status:
            # phpIPAM can answer HTTP 200 with {"code": 500, "success": false} (its API write
            # lock file cannot be opened): the envelope's code is the truthful one.
            status = body['code']
        if body.get('success') is True and 200 <= status < 300:
            try:
                data = from_phpipam(body.get('data'), self.zone)
                new_id = from_phpipam({'id': body.get('id')}, self.zone)['id']
            except FieldValueError as exc:
                raise PhpipamUnexpectedResponseError(
                    '%s %s: phpIPAM answered a value of an unexpected type: %s' % (method, display, exc),
                    method=method, path=display, status=status)
            return ApiResult(status, data=data, message=api_message, id=new_id,
                             location=response.headers.get('Location'))

        context = {
            'app_id': self.app_id, 'controller': self._controller(path), 'auth_mode': self.auth_mode,
            'username': self.username,
        }
        error_class, hint = classify_api_error(status, api_message, context)
        summary = 'phpIPAM refused %s %s: HTTP %d %s' % (method, display, status, api_message or '(no message)')
        kwargs = dict(method=method, path=display, status=status, api_message=api_message, hint=hint)
        if error_class is PhpipamNotFoundError:
            kwargs['empty_result'] = is_empty_result_message(api_message)
        raise error_class(summary, **kwargs)


def client_from_options(options):
    """Build a client from the collection's connection options (a dict, as modules and plugins hold them)."""
    return PhpipamClient(
        url=options.get('url'),
        app_id=options.get('app_id'),
        token=options.get('token'),
        username=options.get('username'),
        password=options.get('password'),
        validate_certs=options.get('validate_certs', True),
        ca_path=options.get('ca_path'),
        timeout=options.get('timeout') or 30,
        allow_insecure_http=bool(options.get('allow_insecure_http')),
        timezone=options.get('timezone') or 'UTC',
    )


__all__ = ['PhpipamClient', 'ApiResult', 'PhpipamError', 'PhpipamServerError', 'client_from_options',
           'is_loopback_host', 'base_url_problems', 'url_syntax_problem', 'shown_url', 'HAS_REQUESTS',
           'REQUESTS_IMPORT_ERROR']
