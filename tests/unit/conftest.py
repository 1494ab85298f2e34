# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit-test fixtures: replay servers answering with recorded phpIPAM 1.8.2 exchanges (see phpipam_replay.py)."""

import socket
import ssl
import tempfile

import pytest

from phpipam_replay import ReplayServer, make_test_ca  # pylint: disable=import-error


@pytest.fixture
def replay():
    """A plain-HTTP replay server on 127.0.0.1 (loopback, so the client allows http://)."""
    server = ReplayServer()
    yield server
    server.close()
    assert not server.failures, server.failures


@pytest.fixture(scope='session')
def test_ca():
    directory = tempfile.mkdtemp(prefix='ipamkit-unit-ca-')
    return make_test_ca(directory)


@pytest.fixture
def tls_replay(test_ca):
    """A replay server speaking HTTPS with a certificate from a throw-away CA (``test_ca['ca']``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(test_ca['cert'], test_ca['key'])
    server = ReplayServer(tls_context=context)
    yield server
    server.close()


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
