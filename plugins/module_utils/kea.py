# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client for the ISC Kea Control Agent's REST API (Kea 2.2 and later), DHCPv4 service.

The Control Agent takes ``POST /`` with ``{"command", "service": ["dhcp4"], "arguments"}`` and answers a
list with one ``{"result", "text", "arguments"}`` per service. Results: 0 success, 1 error, 2 command not
supported, 3 empty (``lease4-get-all`` with no lease). Only open-source commands are used: ``config-get``,
``config-test``, ``config-set``, ``config-write``, ``status-get`` and, from the lease_cmds hook,
``lease4-get-all``.

One ``requests.Session`` per server, HTTP basic auth, TLS verification on by default (``ca_path`` for a
private CA, ``client_cert``/``client_key`` when the agent requires client certificates), plain ``http://``
only to a loopback address unless allowed. Errors are :class:`KeaError` with one line that names the
server, the command and Kea's own text; the password never appears in it.
"""

import json
import traceback
from collections import Counter
from urllib.parse import urlsplit

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    import requests.exceptions
    HAS_REQUESTS = True
except ImportError:  # pragma: no cover - exercised by ansible-test's import sanity test
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

from ansible_collections.ipamkit.phpipam.plugins.module_utils.api import is_loopback_host, shown_url, url_syntax_problem

RESULT_SUCCESS = 0
RESULT_ERROR = 1
RESULT_UNSUPPORTED = 2
RESULT_EMPTY = 3


class KeaError(Exception):
    """A Kea command failed: the agent is unreachable, refused us, or Kea answered an error result."""

    def __init__(self, message, server=None, command=None, result=None, text=None, status=None, hint=None):
        super(KeaError, self).__init__(message)
        self.message = message
        self.server = server
        self.command = command
        self.result = result
        self.text = text
        self.status = status
        self.hint = hint

    def __str__(self):
        if self.hint:
            return '%s. %s' % (self.message.rstrip('.'), self.hint[:1].upper() + self.hint[1:])
        return self.message

    def to_dict(self):
        return {'server': self.server, 'command': self.command, 'result': self.result, 'text': self.text,
                'status': self.status}


class KeaConfigError(KeaError):
    """Kea refused a configuration (config-test or config-set answered result 1)."""


def server_url_problem(url, allow_insecure_http=False):
    """Why ``url`` cannot be a Control Agent URL, or None."""
    problem = url_syntax_problem(url)
    if problem:
        return problem
    parts = urlsplit(str(url).strip())
    if parts.scheme == 'http' and not is_loopback_host(parts.hostname) and not allow_insecure_http:
        return ('refusing to send the Kea credentials over plain http:// to %s: configure TLS on the Control Agent '
                '(trust-anchor, cert-file, key-file) and use https://, or set allow_insecure_http: true if you '
                'accept that risk' % parts.hostname)
    return None


class KeaClient(object):
    """One Kea Control Agent.

    :param url: the agent's URL, ``https://kea1.example.com:8000/``.
    :param username: with ``password``, HTTP basic auth (the agent's ``authentication.clients``).
    :param ca_path: PEM CA bundle that issued the agent's certificate.
    :param client_cert: with ``client_key``, a client certificate (agents with ``cert-required``).
    """

    def __init__(self, url, username=None, password=None, validate_certs=True, ca_path=None, client_cert=None,
                 client_key=None, timeout=30, allow_insecure_http=False, service='dhcp4'):
        if not HAS_REQUESTS:
            raise KeaError('the Python library requests is required: pip install requests')
        url = str(url or '').strip()
        problem = server_url_problem(url, allow_insecure_http)
        if problem:
            raise KeaError('Kea server url: %s' % problem, server=shown_url(url))
        if bool(username) != bool(password):
            raise KeaError('Kea server %s: give both username and password, or neither' % url, server=url)
        if bool(client_cert) != bool(client_key):
            raise KeaError('Kea server %s: give both client_cert and client_key, or neither' % url, server=url)
        self.url = url
        self.service = service
        self.timeout = timeout
        self.commands = Counter()
        self._password = password
        self.session = requests.Session()
        self.session.headers.update({'Content-Type': 'application/json', 'Accept': 'application/json'})
        if username:
            self.session.auth = (username, password)
        # Passed with every request: a session-level verify loses to REQUESTS_CA_BUNDLE in the environment.
        self.verify = ca_path if ca_path and validate_certs else bool(validate_certs)
        if client_cert:
            self.session.cert = (client_cert, client_key)

    def close(self):
        self.session.close()

    # ---------------------------------------------------------------- commands

    def command(self, command, arguments=None, ok=(RESULT_SUCCESS,)):
        """Send one command; returns ``(result, text, arguments)`` or raises KeaError."""
        body = {'command': command, 'service': [self.service]}
        if arguments is not None:
            body['arguments'] = arguments
        self.commands[command] += 1
        try:
            response = self.session.post(self.url, data=json.dumps(body), timeout=self.timeout, verify=self.verify,
                                         allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise KeaError('TLS verification of Kea Control Agent %s failed during %s: %s'
                           % (self.url, command, self._reason(exc)), server=self.url, command=command,
                           hint='give the CA that issued the agent certificate in ca_path')
        except requests.exceptions.Timeout:
            raise KeaError('Kea Control Agent %s did not answer %s within %s s' % (self.url, command, self.timeout),
                           server=self.url, command=command)
        except requests.exceptions.RequestException as exc:
            raise KeaError('cannot reach Kea Control Agent %s for %s: %s' % (self.url, command, self._reason(exc)),
                           server=self.url, command=command,
                           hint='check the server url, that kea-ctrl-agent runs and that this host may connect to it')
        return self._unwrap(command, response, ok)

    def _reason(self, exc):
        text = str(exc).split('\n', 1)[0]
        if self._password:
            text = text.replace(self._password, '********')
        for marker in ('Errno', 'certificate verify failed', 'Connection refused', 'timed out'):
            index = text.find(marker)
            if index >= 0:
                return text[max(0, index - 1):].split(' (_ssl.c')[0][:200].strip('[( ').rstrip("')\"")
        return text[:200]

    def _unwrap(self, command, response, ok):
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status == 401:
            raise KeaError('Kea Control Agent %s refused %s: HTTP 401 Unauthorized' % (self.url, command),
                           server=self.url, command=command, status=status,
                           hint='check username and password against the agent\'s authentication clients')
        if isinstance(body, dict) and 'result' in body:
            # The agent itself answered (bad request, unknown service): one object, not a list.
            body = [body]
        if not isinstance(body, list) or not body or not isinstance(body[0], dict) or 'result' not in body[0]:
            raise KeaError('%s %s answered HTTP %d with %s instead of a Kea answer'
                           % (command, self.url, status, (response.headers.get('Content-Type') or 'no content type')),
                           server=self.url, command=command, status=status,
                           hint='the url must be the Kea Control Agent itself (its http-host and http-port)')
        answer = body[0]
        result, text = answer.get('result'), answer.get('text')
        if result in ok:
            return result, text, answer.get('arguments')
        error_class = KeaConfigError if command in ('config-test', 'config-set') and result == RESULT_ERROR else KeaError
        hint = None
        if result == RESULT_UNSUPPORTED and command.startswith('lease4-'):
            hint = 'load the lease_cmds hook (libdhcp_lease_cmds.so) in kea-dhcp4'
        elif result == RESULT_ERROR and 'forward' in (text or ''):
            hint = 'kea-dhcp4 is not running, or the agent\'s control-sockets.dhcp4 does not point at its socket'
        raise error_class('Kea %s on %s failed (result %s): %s' % (command, self.url, result, text), server=self.url,
                          command=command, result=result, text=text, status=status, hint=hint)

    def config_get(self):
        """The running DHCPv4 configuration (the ``Dhcp4`` object)."""
        arguments = self.command('config-get')[2] or {}
        config = arguments.get('Dhcp4')
        if not isinstance(config, dict):
            raise KeaError('Kea config-get on %s answered no Dhcp4 configuration (is the service dhcp4?)' % self.url,
                           server=self.url, command='config-get')
        return config

    def config_test(self, dhcp4):
        return self.command('config-test', {'Dhcp4': dhcp4})[1]

    def config_set(self, dhcp4):
        return self.command('config-set', {'Dhcp4': dhcp4})[1]

    def config_write(self):
        return self.command('config-write')[1]

    def lease4_get_all(self, subnet_ids=None):
        """Every IPv4 lease (of ``subnet_ids`` when given) as Kea reports them; [] when there is none."""
        arguments = {'subnets': sorted(subnet_ids)} if subnet_ids else None
        result, _text, data = self.command('lease4-get-all', arguments, ok=(RESULT_SUCCESS, RESULT_EMPTY))
        if result == RESULT_EMPTY:
            return []
        return list((data or {}).get('leases') or [])


def client_from_server(server, timeout=30):
    """A KeaClient from one item of the module's ``servers`` option."""
    return KeaClient(
        url=server.get('url'), username=server.get('username'), password=server.get('password'),
        validate_certs=server.get('validate_certs', True), ca_path=server.get('ca_path'),
        client_cert=server.get('client_cert'), client_key=server.get('client_key'),
        timeout=server.get('timeout') or timeout, allow_insecure_http=bool(server.get('allow_insecure_http')))
