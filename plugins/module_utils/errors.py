# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors of the phpIPAM client, and how phpIPAM's answers map onto them.

Every message is one line that names the request (method and path), the HTTP status,
phpIPAM's own message, and what to check. None of them ever holds a credential: the
client redacts its secrets from every text it builds an error from.
"""

import re


class PhpipamError(Exception):
    """Base class of every error the collection's phpIPAM client raises."""

    kind = 'error'

    def __init__(self, summary, method=None, path=None, status=None, api_message=None, hint=None):
        super(PhpipamError, self).__init__(summary)
        self.summary = summary
        self.method = method
        self.path = path
        self.status = status
        self.api_message = api_message
        self.hint = hint

    def __str__(self):
        text = self.summary
        if self.hint:
            hint = self.hint if self.hint.startswith('phpIPAM') else self.hint[:1].upper() + self.hint[1:]
            text = '%s. %s' % (text.rstrip('.'), hint)
        return text

    def to_dict(self):
        """Structured detail for ``fail_json`` (``error`` key) and lookups."""
        return {
            'kind': self.kind,
            'method': self.method,
            'path': self.path,
            'status': self.status,
            'api_message': self.api_message,
            'hint': self.hint,
        }


class PhpipamConfigError(PhpipamError):
    """The connection options are unusable; nothing was sent."""

    kind = 'config'


class PhpipamTransportError(PhpipamError):
    """No HTTP answer: connection refused or reset, TLS failure, timeout."""

    kind = 'transport'


class PhpipamAuthError(PhpipamError):
    """phpIPAM did not accept who we are (token, app code, app id, login)."""

    kind = 'authentication'


class PhpipamPermissionError(PhpipamError):
    """Authenticated, but the API app may not do this (read-only or disabled app)."""

    kind = 'permission'


class PhpipamNotFoundError(PhpipamError):
    """The object does not exist (404).

    ``empty_result`` is true when phpIPAM used a 404 to say "the list is empty"
    ("No addresses found", "No results (filter applied)"), which callers asking
    for a list turn into ``[]``.
    """

    kind = 'not_found'

    def __init__(self, *args, **kwargs):
        self.empty_result = kwargs.pop('empty_result', False)
        super(PhpipamNotFoundError, self).__init__(*args, **kwargs)


class PhpipamConflictError(PhpipamError):
    """The object already exists (409, or a duplicate-key SQL error)."""

    kind = 'conflict'


class PhpipamInvalidInputError(PhpipamError):
    """phpIPAM refused the request's content (400, 415, and 500s caused by input)."""

    kind = 'invalid_input'


class PhpipamServerError(PhpipamError):
    """phpIPAM or something in front of it failed (5xx)."""

    kind = 'server'


class PhpipamUnexpectedResponseError(PhpipamServerError):
    """The answer is not phpIPAM's JSON envelope (HTML page, empty body, other JSON)."""

    kind = 'unexpected_response'


# 404 messages that mean "nothing matched", not "this object does not exist".
_EMPTY_RESULT_RE = re.compile(r'^(No \w+( \w+)? found|No slaves|No results\b.*|Address not found|No objects found)$', re.I)

# 500 messages caused by the request's content rather than by a server fault.
_INPUT_500_RE = re.compile(r'is not a valid address for subnet|SQLSTATE\[22\d{3}\]')
_DUPLICATE_500_RE = re.compile(r'SQLSTATE\[23000\].*Duplicate entry', re.I)


def is_empty_result_message(message):
    return bool(message) and bool(_EMPTY_RESULT_RE.match(message.strip()))


def classify_api_error(status, api_message, context):
    """Map a phpIPAM JSON error to (error class, hint).

    ``context`` is a dict with ``app_id``, ``controller``, ``auth_mode`` ('token' or
    'login') and ``username`` so hints can say exactly what to check.
    """
    msg = (api_message or '').strip()
    app = context.get('app_id')
    controller = context.get('controller')
    login = context.get('auth_mode') == 'login'

    if status == 400 and msg == 'Invalid application id':
        return PhpipamAuthError, (
            "there is no API app '%s' in this phpIPAM: check app_id (PHPIPAM_APP_ID) against "
            "Administration > API" % app)
    if msg == 'SSL connection is required for API':
        return PhpipamAuthError, (
            "API app '%s' accepts only HTTPS (its security is 'SSL with App code token' or 'SSL with User token'): "
            "use an https:// url" % app)
    if status == 503 and msg == 'Application disabled':
        return PhpipamPermissionError, (
            "API app '%s' is disabled (App permissions: Disabled): enable it in Administration > API" % app)
    if status == 503 and msg == 'API server disabled':
        return PhpipamServerError, "the phpIPAM API is switched off: enable 'API' in Administration > phpIPAM settings"
    if status == 401 and msg.lower() == 'invalid permissions':
        return PhpipamPermissionError, (
            "API app '%s' is read-only (App permissions: Read); this request needs Read / Write: change the app's "
            "permissions in Administration > API or use a read/write app" % app)
    if status == 500 and msg == 'Invalid username or password':
        return PhpipamAuthError, (
            "phpIPAM refused the login of user '%s': check username and password "
            "(PHPIPAM_USERNAME, PHPIPAM_PASSWORD)" % context.get('username'))
    if status == 400 and msg == 'Please provide username and password':
        return PhpipamAuthError, 'logging in needs both username and password'
    if status in (401, 403) and controller != 'user':
        if msg == 'Invalid token':
            return PhpipamAuthError, (
                "the token is the app code of another API app, not of '%s': check token (PHPIPAM_TOKEN) and "
                "app_id (PHPIPAM_APP_ID) belong together" % app)
        if login:
            return PhpipamAuthError, (
                "the user token phpIPAM gave at login was refused by app '%s': the app's security must be "
                "'SSL with User token' (or none) for username/password logins" % app)
        return PhpipamAuthError, (
            "the token was refused by API app '%s': it is wrong or expired, or it does not fit the app's security "
            "(an app code needs 'SSL with App code token'; a user token needs 'SSL with User token'): "
            "check token (PHPIPAM_TOKEN) and app_id (PHPIPAM_APP_ID)" % app)
    if status in (401, 403):
        return PhpipamAuthError, 'check the credentials (token, or username and password)'
    if status == 404:
        return PhpipamNotFoundError, None
    if status == 409:
        return PhpipamConflictError, None
    if status in (400, 415, 422):
        return PhpipamInvalidInputError, None
    if status == 500 and _DUPLICATE_500_RE.search(msg):
        return PhpipamConflictError, None
    if status == 500 and _INPUT_500_RE.search(msg):
        return PhpipamInvalidInputError, None
    return PhpipamServerError, None


def describe_unexpected(status, content_type, text):
    """Hint for an answer that is not phpIPAM's JSON envelope."""
    ctype = (content_type or '').split(';')[0].strip().lower() or 'no content type'
    snippet = (text or '').lstrip()[:200].lower()
    looks_html = 'html' in ctype or snippet.startswith('<!doctype html') or snippet.startswith('<html')
    if status == 500 and not (text or '').strip():
        return ('phpIPAM crashed (HTTP 500 with an empty body: a PHP fatal error); the web server error log has the '
                'cause (in 1.8.2, DELETE addresses/{ip}/{subnetId}/ and missing php-pear do this)')
    if looks_html and status == 404:
        return ('the server answered with an HTML "not found" page, so there is no phpIPAM API at this URL: url must be '
                "phpIPAM's base URL (https://ipam.example.com or https://host/phpipam, without /api), and phpIPAM "
                "needs Apache mod_rewrite with AllowOverride All for /api/ to work")
    if looks_html and status in (401, 407):
        return ('the server answered with an HTML page asking for a login: an authenticating proxy or web server '
                'is in front of phpIPAM; let /api/ through or point url at phpIPAM itself')
    if looks_html and status in (502, 503, 504):
        return ('a proxy or the web server answered HTTP %d with an HTML page: phpIPAM behind it is down or '
                'overloaded' % status)
    if looks_html:
        return ('the URL answers with an HTML page (%s), not with phpIPAM\'s JSON API: check that url is phpIPAM\'s '
                'base URL (without /api), that the API is reachable there and that no proxy or login page is in the '
                'way' % ctype)
    if 'xml' in ctype:
        return 'phpIPAM answered XML; the client always asks for JSON, so something rewrote the request'
    return 'the answer (%s) is not phpIPAM\'s JSON envelope: check that url points at phpIPAM' % ctype
