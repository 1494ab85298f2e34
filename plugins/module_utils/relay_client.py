# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Talk to a scan relay (agents in networks that cannot reach phpIPAM): post reports, fetch the subnet list.

The relay answers 202 once the report is safely stored and applies each report id once,
so a POST that may not have arrived is sent again (with backoff) without risk of a double
write. The bearer token goes only over HTTPS (verified) or to a loopback address.
"""

import json
import time
import traceback

try:
    from urllib.parse import urljoin, urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urljoin, urlsplit  # type: ignore

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
from ansible_collections.ipamkit.phpipam.plugins.module_utils.timeutil import parse_iso_datetime

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
    return _call('POST', url, token, json.dumps(report), 'deliver the report to', 'refused the report',
                 ca_path, validate_certs, timeout, retries, backoff)


def subnets_url(relay_url):
    """Where the relay answers an agent's subnet list: ``subnets`` beside the reports path."""
    return urljoin(relay_url, 'subnets')


def fetch_subnets(relay_url, token, ca_path=None, validate_certs=True, timeout=30, retries=3, backoff=1.0):
    """The agent's subnets and their addresses, as the relay reads them from phpIPAM for this token.

    Returns ``{'agent': {...}, 'subnets': [...]}`` with lastScan/lastDiscovery as aware datetimes,
    as ``scan_agent.fetch_agent_subnets`` gives them. Raises RelayError.
    """
    url = subnets_url(relay_url)
    dummy, answer = _call('GET', url, token, None, 'get the subnet list from', 'refused the subnet list',
                          ca_path, validate_certs, timeout, retries, backoff)
    problem = _inventory_problem(answer)
    if problem:
        raise RelayError('the relay %s did not answer a subnet list: %s' % (shown_url(url), problem),
                         method='GET', path=url)
    for subnet in answer['subnets']:
        for key in ('lastScan', 'lastDiscovery', 'editDate'):
            if isinstance(subnet.get(key), str):
                try:
                    subnet[key] = parse_iso_datetime(subnet[key])
                except ValueError:
                    subnet[key] = None
    return answer


def _inventory_problem(answer):
    if not isinstance(answer, dict):
        return 'not a JSON object'
    if not isinstance(answer.get('agent'), dict) or not isinstance(answer['agent'].get('id'), int):
        return 'no agent with an id'
    if not isinstance(answer.get('subnets'), list):
        return 'no subnets list'
    for index, subnet in enumerate(answer['subnets']):
        if not isinstance(subnet, dict) or not isinstance(subnet.get('id'), int) or not subnet.get('cidr'):
            return 'subnets[%d] has no id and cidr' % index
        if not isinstance(subnet.get('addresses', []), list):
            return 'subnets[%d].addresses is not a list' % index
    return None


def _call(method, url, token, body, doing, refusal, ca_path, validate_certs, timeout, retries, backoff):
    """One request to the relay with retries on transient failures; (status, JSON answer or None)."""
    if not HAS_REQUESTS:
        raise RelayError('the Python library requests is required: pip install requests')
    problem = relay_url_problem(url)
    if problem:
        raise RelayError(problem)
    if not token:
        raise RelayError('relay_token is required with relay_url: the relay answers only requests with a bearer token')
    verify = (ca_path or True) if validate_certs else False
    headers = {'Authorization': 'Bearer %s' % token, 'Accept': 'application/json', 'User-Agent': USER_AGENT}
    if body is not None:
        headers['Content-Type'] = 'application/json'
    where = shown_url(url)
    attempt = 0
    with requests.Session() as session:
        while True:
            try:
                response = session.request(method, url, data=body, headers=headers, timeout=timeout, verify=verify,
                                           allow_redirects=False)
            except requests.exceptions.SSLError as exc:
                raise RelayError('TLS verification of the relay %s failed: %s' % (where, _scrub(exc, token)),
                                 method=method, path=url,
                                 hint='set relay_ca_path to the CA bundle (PEM) that issued the relay\'s certificate')
            except requests.exceptions.RequestException as exc:
                if attempt < retries:
                    attempt += 1
                    time.sleep(backoff * (2 ** (attempt - 1)))
                    continue
                raise RelayError('cannot %s the relay %s after %d attempts: %s'
                                 % (doing, where, attempt + 1, _scrub(exc, token)), method=method, path=url)
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
            raise RelayError('the relay %s %s: HTTP %d %s' % (where, refusal, status, _reason(response)),
                             method=method, path=url, status=status, api_message=_reason(response))


def _scrub(exc, token):
    text = str(exc).split('\n', 1)[0][:300]
    return text.replace(token, '********') if token else text
