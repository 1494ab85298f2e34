# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send a scan report to a scan relay (agents in networks that cannot reach phpIPAM).

The relay answers 202 once the report is safely stored and applies each report id once,
so a POST that may not have arrived is sent again (with backoff) without risk of a double
write. The bearer token goes only over HTTPS (verified) or to a loopback address.
"""

import json
import time
import traceback

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import (
    USER_AGENT,
    is_loopback_host,
    shown_url,
    url_syntax_problem,
)
from ansible_collections.ipamkit.phpipam.plugins.module_utils.errors import PhpipamError

# Worth another try: the relay or something in front of it is busy or restarting.
RETRY_STATUSES = frozenset((408, 425, 429, 500, 502, 503, 504))


class RelayError(PhpipamError):
    """The relay could not be used or refused the report."""

    kind = 'relay'


def relay_url_problem(url):
    """Why ``url`` may not receive a relay token, or None."""
    problem = url_syntax_problem(url)
    if problem:
        return 'relay_url: %s' % problem
    parts = urlsplit(url)
    if parts.scheme == 'http' and not is_loopback_host(parts.hostname):
        return ('relay_url: refusing to send the relay token over plain http:// to %s: anyone on the path could read '
                'it and post reports as this agent. Use https:// (with relay_ca_path for a private CA); plain http '
                'is accepted only to a loopback address' % parts.hostname)
    return None


def _reason(response):
    try:
        body = response.json()
    except ValueError:
        text = (response.text or '').strip().replace('\n', ' ')
        return text[:200] or 'no reason given'
    if isinstance(body, dict):
        for key in ('reason', 'error', 'message', 'detail'):
            if body.get(key):
                return str(body[key])[:300]
    return json.dumps(body)[:300]


def post_report(url, token, report, ca_path=None, validate_certs=True, timeout=30, retries=3, backoff=1.0):
    """POST ``report`` to the relay; return (HTTP status, the relay's JSON answer or None).

    Raises RelayError naming the URL, the HTTP status and the relay's reason. The token never
    appears in a message.
    """
    if not HAS_REQUESTS:
        raise RelayError('the Python library requests is required: pip install requests')
    problem = relay_url_problem(url)
    if problem:
        raise RelayError(problem)
    if not token:
        raise RelayError('relay_token is required with relay_url: the relay accepts reports only with a bearer token')
    verify = (ca_path or True) if validate_certs else False
    body = json.dumps(report)
    headers = {'Authorization': 'Bearer %s' % token, 'Content-Type': 'application/json',
               'Accept': 'application/json', 'User-Agent': USER_AGENT}
    where = shown_url(url)
    attempt = 0
    with requests.Session() as session:
        while True:
            try:
                response = session.post(url, data=body, headers=headers, timeout=timeout, verify=verify,
                                        allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise RelayError('TLS verification of the relay %s failed: %s' % (where, _scrub(exc, token)),
                                 method='POST', path=url,
                                 hint='set relay_ca_path to the CA bundle (PEM) that issued the relay\'s certificate')
            except requests.exceptions.RequestException as exc:
                if attempt < retries:
                    attempt += 1
                    time.sleep(backoff * (2 ** (attempt - 1)))
                    continue
                raise RelayError('cannot deliver the report to the relay %s after %d attempts: %s'
                                 % (where, attempt + 1, _scrub(exc, token)), method='POST', path=url)
            status = response.status_code
            if 200 <= status < 300:
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                return status, answer
            if status in RETRY_STATUSES and attempt < retries:
                attempt += 1
                time.sleep(backoff * (2 ** (attempt - 1)))
                continue
            raise RelayError('the relay %s refused the report: HTTP %d %s' % (where, status, _reason(response)),
                             method='POST', path=url, status=status, api_message=_reason(response))


def _scrub(exc, token):
    text = str(exc).split('\n', 1)[0][:300]
    return text.replace(token, '********') if token else text
