# Copyright: ipamkit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real phpIPAM for tests: private MariaDB + private Apache on 127.0.0.1, seeded with known data.

Library use (pytest fixtures)::

    harness = Harness.from_env()
    ok, reason = harness.can_run()
    instance = harness.ensure_up()      # cold install once, then reuse
    harness.reset()                     # back to the seed in well under a second

CLI::

    python3 tests/harness/phpipam.py up|down|status|reset|env|verify|sql "<query>"

Nothing here touches the system MariaDB or Apache: both servers run from their own
configuration, data and pid files under the state directory, and only listen on
127.0.0.1 (Apache) or a unix socket (MariaDB, skip-networking).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import glob
import http.client
import ipaddress
import json
import logging
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import stat
import string
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile

from harness_apt import AptError, apt_install  # pylint: disable=import-error

LOG = logging.getLogger('ipamkit.harness')

# Bump when the install layout or the seed changes: an existing state dir is then rebuilt.
HARNESS_VERSION = 5

DEFAULT_STATE_DIR = '/var/tmp/ipamkit-phpipam-harness'
DEFAULT_HTTPS_PORT = 18443
DEFAULT_HTTP_PORT = 18080
BIND_ADDRESS = '127.0.0.1'

# Debian packages phpIPAM needs (php-pear: without it subnet calls die with a 500).
REQUIRED_PACKAGES = (
    'mariadb-server', 'apache2', 'libapache2-mod-php', 'php-mysql', 'php-gmp', 'php-mbstring',
    'php-xml', 'php-curl', 'php-ldap', 'php-pear',
)
# Installed with the above when root (the scan tests need it), but not needed to serve phpIPAM.
EXTRA_PACKAGES = ('nmap',)

APACHE_MODULE_DIR = '/usr/lib/apache2/modules'
APACHE_MODULES = (
    ('mpm_prefork_module', 'mod_mpm_prefork.so'),
    ('authn_core_module', 'mod_authn_core.so'),
    ('authz_core_module', 'mod_authz_core.so'),
    ('authz_host_module', 'mod_authz_host.so'),
    ('access_compat_module', 'mod_access_compat.so'),  # phpIPAM's .htaccess files use "Deny from all"
    ('mime_module', 'mod_mime.so'),
    ('dir_module', 'mod_dir.so'),
    ('autoindex_module', 'mod_autoindex.so'),  # IndexIgnore in upload/.htaccess
    ('env_module', 'mod_env.so'),
    ('setenvif_module', 'mod_setenvif.so'),
    ('rewrite_module', 'mod_rewrite.so'),
    ('socache_shmcb_module', 'mod_socache_shmcb.so'),
    ('ssl_module', 'mod_ssl.so'),
)

DB_NAME = 'phpipam'
SEED_DB_NAME = 'phpipam_seed'
DB_USER = 'phpipam'
ADMIN_USER = 'Admin'
MARKER_FILE = '.ipamkit-harness'
# phpIPAM 1.8's API serialises every POST/PATCH/PUT/DELETE (login included) with flock() on this fixed path,
# shared by every phpIPAM on the machine (api/index.php passes an empty $lock_file, class.LockForUpdate.php).
API_LOCK_FILE = '/tmp/phpipam_api_lock.txt'
UNIX_SOCKET_MAX = 107

_ALNUM = string.ascii_letters + string.digits
_IDENTIFIER = re.compile(r'^[A-Za-z0-9_]+$')


class HarnessError(Exception):
    """Anything that stops the harness from giving a working phpIPAM; the message says where to look."""


# --------------------------------------------------------------------------------------------------
# The seed. One description drives both the SQL that creates it and the API checks that verify it.
# --------------------------------------------------------------------------------------------------

_OMIT = object()  # column not written: the schema default applies


@dataclasses.dataclass(frozen=True)
class AppSpec:
    """A row of table `api`."""

    app_id: str
    security: str
    permissions: int
    comment: str


@dataclasses.dataclass(frozen=True)
class SubnetSpec:
    """A subnet (or a folder when cidr is None) in section Lab."""

    cidr: str | None
    description: str
    agent: str | None = None
    ping: int = 0
    discover: int = 0
    resolve: int = 0
    nameserver: str | None = None
    vlan: int | None = None
    parent: str | None = None  # CIDR of the master subnet, or the name of a folder


@dataclasses.dataclass(frozen=True)
class AddressSpec:
    """An address in one of the Lab subnets."""

    ip: str
    subnet: str
    hostname: str
    description: str = ''
    tag: int = 2
    mac: str | None = None
    last_seen: object = _OMIT  # _OMIT (schema default), None (NULL) or 'YYYY-MM-DD HH:MM:SS'
    last_seen_minutes_ago: int | None = None  # relative to NOW(), refreshed by every reset
    is_gateway: int = 0
    exclude_ping: int = 0
    custom_asset: str | None = None


APPS = (
    AppSpec('ansible_rw', 'ssl_code', 2, 'ipamkit tests: read/write, static app code'),
    AppSpec('ansible_ro', 'ssl_code', 1, 'ipamkit tests: read only, static app code'),
    AppSpec('user_rw', 'ssl_token', 2, 'ipamkit tests: read/write, user token'),
    AppSpec('user_ro', 'ssl_token', 1, 'ipamkit tests: read only, user token'),
    AppSpec('disabled', 'ssl_code', 0, 'ipamkit tests: disabled app'),
    AppSpec('open_http', 'none', 2, 'ipamkit tests: no TLS needed (api_allow_unsafe)'),
)
AGENTS = (
    ('demo-agent', 'ipamkit demo scan agent'),
    ('idle-agent', 'ipamkit scan agent without subnets'),
)
SECTION = 'Lab'
NAMESERVER = ('lab-dns', '127.0.0.1;::1', 'ipamkit lab resolvers')
VLAN = (10, 'lab', 'ipamkit lab VLAN')
FOLDER = 'Lab folder'
CUSTOM_FIELD = ('custom_asset', 'VARCHAR(64)', 'Asset tag')
# The custom fields the SSH path, inventory and host facts features read by default (docs/ssh-paths.md,
# docs/host-facts.md), as a user creates them under Administration > Custom fields: (table, name, type, comment).
PATH_CUSTOM_FIELDS = (
    ('subnets', 'custom_ssh_jump', 'VARCHAR(255)', 'SSH jump host: [user@]host[:port], or direct'),
    ('subnets', 'custom_ssh_user', 'VARCHAR(64)', 'SSH user'),
    ('ipaddresses', 'custom_ssh_jump', 'VARCHAR(255)', 'SSH jump host: [user@]host[:port], or direct'),
    ('ipaddresses', 'custom_ssh_user', 'VARCHAR(64)', 'SSH user'),
    ('ipaddresses', 'custom_host_facts', 'TEXT', 'Host facts summary'),
)

SUBNETS = (
    SubnetSpec('127.0.10.0/24', 'lab scan net', agent='demo-agent', ping=1, discover=1, resolve=1, nameserver='lab-dns', vlan=10),
    SubnetSpec('127.0.20.0/28', 'lab small net', agent='demo-agent', ping=1, discover=0, resolve=0),
    # IPv6 data only, never assigned to a scanning agent: this machine may route fd00::/8 out of the
    # root namespace, so scans of IPv6 LANs happen only inside network namespaces (tests/harness/netlan.py).
    SubnetSpec('fd00:10::/64', 'lab v6 net'),
    SubnetSpec('127.40.0.0/16', 'lab supernet'),
    SubnetSpec('127.40.1.0/24', 'lab nested net', agent='demo-agent', ping=1, discover=0, parent='127.40.0.0/16'),
    SubnetSpec('127.0.30.0/24', 'lab empty net'),
    SubnetSpec(None, FOLDER),
    SubnetSpec('127.0.50.0/24', 'lab net in a folder', parent=FOLDER),
)

ADDRESSES = (
    AddressSpec('127.0.10.1', '127.0.10.0/24', 'gw.lab.test', 'lab gateway', is_gateway=1, mac='02:00:00:00:10:01',
                last_seen_minutes_ago=5, custom_asset='A-0001'),
    AddressSpec('127.0.10.5', '127.0.10.0/24', 'host5.lab.test', 'lab host 5', mac='02:00:00:00:10:05', last_seen='2025-01-01 00:00:00'),
    AddressSpec('127.0.10.10', '127.0.10.0/24', 'printer.lab.test', 'lab printer', exclude_ping=1),
    AddressSpec('127.0.10.20', '127.0.10.0/24', 'reserved.lab.test', 'reserved', tag=3, last_seen=None),
    AddressSpec('127.0.10.30', '127.0.10.0/24', 'offline.lab.test', 'offline host', tag=1, last_seen='2024-06-01 12:00:00'),
    AddressSpec('127.0.10.40', '127.0.10.0/24', 'dhcp40.lab.test', 'dhcp lease', tag=4),
    AddressSpec('127.0.20.2', '127.0.20.0/28', 'a.small.test', 'small a'),
    AddressSpec('127.0.20.3', '127.0.20.0/28', 'b.small.test', 'small b'),
    AddressSpec('fd00:10::1', 'fd00:10::/64', 'gw6.lab.test', 'lab v6 gateway', is_gateway=1),
    AddressSpec('fd00:10::10', 'fd00:10::/64', 'v6host.lab.test', 'lab v6 host'),
    AddressSpec('127.40.1.7', '127.40.1.0/24', 'nested7.lab.test', 'nested host'),
)

# Same permissions as phpIPAM's own demo sections: group 3 (Guests) read, group 2 (Operators) write.
_PERMISSIONS = '{"3":"1","2":"2"}'


class Raw(str):
    """A SQL expression written by the harness itself (never user input), inserted verbatim."""


_SQL_ESCAPES = str.maketrans({'\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\x1a': '\\Z'})


def sql_literal(value):
    """Render a Python value as a MariaDB literal (default sql_mode: backslash escapes are on)."""
    if value is None:
        return 'NULL'
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return '1' if value else '0'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.translate(_SQL_ESCAPES) + "'"
    raise TypeError(f'cannot render {type(value).__name__} as SQL')


def sql_ident(name):
    """Quote a table or column name; only plain names are accepted."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f'unexpected SQL identifier {name!r}')
    return f'`{name}`'


def sql_format(query, params):
    """Replace each %s in query by the literal of the matching param (%% is a literal %)."""
    params = list(params)
    parts = re.split(r'(%s|%%)', query)
    out = []
    for part in parts:
        if part == '%s':
            if not params:
                raise ValueError('more %s placeholders than parameters')
            out.append(sql_literal(params.pop(0)))
        elif part == '%%':
            out.append('%')
        else:
            out.append(part)
    if params:
        raise ValueError('more parameters than %s placeholders')
    return ''.join(out)


def sql_insert(table, row):
    """INSERT statement for one row (dict column -> value; _OMIT values are left out)."""
    items = [(k, v) for k, v in row.items() if v is not _OMIT]
    columns = ', '.join(sql_ident(column) for column, value in items)
    values = ', '.join(sql_literal(value) for column, value in items)
    return f'INSERT INTO {sql_ident(table)} ({columns}) VALUES ({values});'


def ip_decimal(address):
    """phpIPAM stores addresses and networks as decimal strings."""
    return str(int(ipaddress.ip_address(address)))


def _var(name):
    return Raw('@' + re.sub(r'[^A-Za-z0-9_]', '_', name))


def build_seed_sql(secrets_):
    """SQL that turns phpIPAM's SCHEMA.sql database into the harness seed.

    secrets_ holds admin_hash, app_codes {app_id: code} and agent_codes {name: code}.
    """
    stmts = [
        "UPDATE `settings` SET `api` = '1' WHERE `id` = 1;",
        sql_format("UPDATE `users` SET `password` = %s, `passChange` = 'No' WHERE `username` = %s;",
                   [secrets_['admin_hash'], ADMIN_USER]),
        sql_format(f'ALTER TABLE `ipaddresses` ADD COLUMN {sql_ident(CUSTOM_FIELD[0])} {CUSTOM_FIELD[1]} NULL DEFAULT NULL COMMENT %s;',
                   [CUSTOM_FIELD[2]]),
    ]
    for table, name, column_type, comment in PATH_CUSTOM_FIELDS:
        stmts.append(sql_format(f'ALTER TABLE {sql_ident(table)} ADD COLUMN {sql_ident(name)} {column_type} NULL DEFAULT NULL COMMENT %s;',
                                [comment]))
    for app in APPS:
        stmts.append(sql_insert('api', {
            'app_id': app.app_id, 'app_code': secrets_['app_codes'][app.app_id], 'app_permissions': app.permissions,
            'app_comment': app.comment, 'app_security': app.security,
        }))
    for name, description in AGENTS:
        stmts.append(sql_insert('scanAgents', {
            'name': name, 'description': description, 'type': 'api', 'code': secrets_['agent_codes'][name],
        }))
        stmts.append(f'SET {_var("agent_" + name)} = LAST_INSERT_ID();')
    stmts.append(sql_insert('sections', {'name': SECTION, 'description': 'ipamkit test lab', 'permissions': _PERMISSIONS}))
    stmts.append('SET @section_lab = LAST_INSERT_ID();')
    ns_name, ns_servers, ns_description = NAMESERVER
    stmts.append(sql_insert('nameservers', {
        'name': ns_name, 'namesrv1': ns_servers, 'description': ns_description,
        'permissions': Raw("CONCAT('1;2;', @section_lab)"),
    }))
    stmts.append(f'SET {_var("ns_" + ns_name)} = LAST_INSERT_ID();')
    vlan_number, vlan_name, vlan_description = VLAN
    stmts.append(sql_insert('vlans', {'domainId': 1, 'name': vlan_name, 'number': vlan_number, 'description': vlan_description}))
    stmts.append(f'SET {_var("vlan_" + str(vlan_number))} = LAST_INSERT_ID();')
    for spec in SUBNETS:
        key = spec.cidr or spec.description
        if spec.cidr is None:
            subnet, mask = None, ''
        else:
            net = ipaddress.ip_network(spec.cidr)
            subnet, mask = str(int(net.network_address)), str(net.prefixlen)
        stmts.append(sql_insert('subnets', {
            'subnet': subnet, 'mask': mask, 'sectionId': Raw('@section_lab'), 'description': spec.description,
            'masterSubnetId': _var('subnet_' + spec.parent) if spec.parent else 0,
            'vlanId': _var(f'vlan_{spec.vlan}') if spec.vlan else 0,
            'nameserverId': _var('ns_' + spec.nameserver) if spec.nameserver else 0,
            'scanAgent': _var('agent_' + spec.agent) if spec.agent else _OMIT,
            'pingSubnet': spec.ping, 'discoverSubnet': spec.discover, 'resolveDNS': spec.resolve,
            'showName': 1, 'permissions': _PERMISSIONS, 'isFolder': 1 if spec.cidr is None else 0,
        }))
        stmts.append(f'SET {_var("subnet_" + key)} = LAST_INSERT_ID();')
    for addr in ADDRESSES:
        if addr.last_seen_minutes_ago is not None:
            last_seen = Raw(f'NOW() - INTERVAL {int(addr.last_seen_minutes_ago)} MINUTE')
        else:
            last_seen = addr.last_seen
        stmts.append(sql_insert('ipaddresses', {
            'subnetId': _var('subnet_' + addr.subnet), 'ip_addr': ip_decimal(addr.ip), 'hostname': addr.hostname,
            'description': addr.description, 'state': addr.tag, 'mac': addr.mac if addr.mac else _OMIT,
            'lastSeen': last_seen, 'is_gateway': addr.is_gateway, 'excludePing': addr.exclude_ping,
            CUSTOM_FIELD[0]: addr.custom_asset if addr.custom_asset else _OMIT,
        }))
    return '\n'.join(stmts) + '\n'


def relative_time_sql(address_ids):
    """UPDATEs that move relative lastSeen values back to 'N minutes ago' (run after every reset)."""
    stmts = []
    for addr in ADDRESSES:
        if addr.last_seen_minutes_ago is not None and addr.ip in address_ids:
            stmts.append(sql_format(
                f'UPDATE `ipaddresses` SET `lastSeen` = NOW() - INTERVAL {int(addr.last_seen_minutes_ago)} MINUTE WHERE `id` = %s;',
                [int(address_ids[addr.ip])]))
    return '\n'.join(stmts) + '\n'


def _cidr(decimal, mask):
    """phpIPAM's (decimal, mask) columns as a CIDR string."""
    value = int(decimal)
    address = ipaddress.IPv4Address(value) if value <= 0xFFFFFFFF else ipaddress.IPv6Address(value)
    return str(ipaddress.ip_network(f'{address}/{mask}'))


# --------------------------------------------------------------------------------------------------
# The instance as tests see it.
# --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Instance:
    """A running, seeded phpIPAM. Secrets are kept out of repr() so they do not end up in test logs."""

    https_url: str
    http_url: str
    ca_path: str
    admin_user: str
    admin_password: str = dataclasses.field(repr=False)
    apps: dict = dataclasses.field(repr=False)
    agents: dict = dataclasses.field(repr=False)
    sections: dict = dataclasses.field(default_factory=dict)
    subnets: dict = dataclasses.field(default_factory=dict)
    folders: dict = dataclasses.field(default_factory=dict)
    addresses: dict = dataclasses.field(default_factory=dict)
    vlans: dict = dataclasses.field(default_factory=dict)
    nameservers: dict = dataclasses.field(default_factory=dict)
    custom_fields: list = dataclasses.field(default_factory=list)
    phpipam_version: str = ''
    state_dir: str = ''
    apache_error_log: str = ''
    mysql_error_log: str = ''
    mysql_socket: str = ''

    def api_url(self, app_id='ansible_rw', http=False):
        """Base URL of one API app, ending in '/'."""
        return f'{self.http_url if http else self.https_url}/api/{app_id}/'

    def app_code(self, app_id='ansible_rw'):
        """The static code of an ssl_code app."""
        code = self.apps[app_id]['code']
        if not code:
            raise KeyError(f'app {app_id} uses {self.apps[app_id]["security"]}, it has no static code')
        return code

    def as_dict(self):
        """JSON-ready copy (secrets included)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Build from state.json, ignoring keys this version does not know."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# --------------------------------------------------------------------------------------------------
# Helpers: processes, files, TLS
# --------------------------------------------------------------------------------------------------

def _run(argv, *, input_text=None, env=None, timeout=300, what=None):
    """Run a command, raise HarnessError with its output when it fails."""
    try:
        proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise HarnessError(f'{what or argv[0]}: {argv[0]} not found') from exc
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f'{what or argv[0]}: timed out after {timeout} s') from exc
    if proc.returncode != 0:
        output = (proc.stderr or '') + (proc.stdout or '')
        raise HarnessError(f'{what or shlex.join(argv)} failed (rc={proc.returncode}): {output.strip()[-3000:]}')
    return proc.stdout


def _tail(path, lines=25):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:]).rstrip()
    except OSError:
        return '(no log)'


def _read_pid(path):
    try:
        with open(path, encoding='ascii') as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _pid_matches(pid, marker):
    """True when pid is a live (not zombie) process whose command line mentions marker."""
    if not pid:
        return False
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as handle:
            state = handle.read().rsplit(')', 1)[1].split()[0]
        with open(f'/proc/{pid}/cmdline', 'rb') as handle:
            cmdline = handle.read().replace(b'\0', b' ').decode('utf-8', 'replace')
    except (OSError, IndexError):
        return False
    return state not in ('Z', 'X') and marker in cmdline


def _processes_matching(marker):
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and int(entry) != os.getpid() and _pid_matches(int(entry), marker):
            found.append(int(entry))
    return found


def _terminate(pid, marker, timeout=30.0):
    """SIGTERM one harness process (checked by its command line), SIGKILL after timeout."""
    if not _pid_matches(pid, marker):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_matches(pid, marker):
            return
        time.sleep(0.05)
    LOG.warning('pid %s did not stop after SIGTERM, sending SIGKILL', pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _port_open(port, host=BIND_ADDRESS):
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _write_file(path, text, mode=0o644):
    """Atomically write a text file with the given mode (it is never visible with a wider mode)."""
    tmp = f'{path}.tmp{os.getpid()}'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _random(length=32):
    return ''.join(secrets.choice(_ALNUM) for dummy in range(length))


def _tls_ca(common_name):
    """A new self-signed test CA: (certificate, private key)."""
    # pylint: disable-next=import-outside-toplevel
    from cryptography import x509
    # pylint: disable-next=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes
    # pylint: disable-next=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID  # pylint: disable=import-outside-toplevel

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'ipamkit test harness'),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _tls_leaf(ca_cert, ca_key, hosts):
    """A server certificate for hosts (IP addresses get IP SANs), signed by the CA."""
    # pylint: disable-next=import-outside-toplevel
    from cryptography import x509
    # pylint: disable-next=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes
    # pylint: disable-next=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel

    key = ec.generate_private_key(ec.SECP256R1())
    sans = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _pem_cert(cert):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def _pem_key(key):
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode('ascii')


def _load_ca(cert_path, key_path):
    # pylint: disable-next=import-outside-toplevel
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization  # pylint: disable=import-outside-toplevel
    with open(cert_path, 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    with open(key_path, 'rb') as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    return cert, key


# --------------------------------------------------------------------------------------------------
# The harness
# --------------------------------------------------------------------------------------------------

class Harness:
    """Installs, starts, seeds, resets and stops one private phpIPAM under state_dir."""

    def __init__(self, source=None, state_dir=DEFAULT_STATE_DIR, https_port=DEFAULT_HTTPS_PORT, http_port=DEFAULT_HTTP_PORT):
        self.source = os.path.abspath(source) if source else None
        self.state_dir = os.path.abspath(state_dir)
        self.https_port = int(https_port)
        self.http_port = int(http_port)
        self.is_root = os.geteuid() == 0
        self.os_user = pwd.getpwuid(os.geteuid()).pw_name
        self._last_probe = (None, '')

    # ---- construction ------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ=None):
        """Settings from PHPIPAM_SOURCE, IPAMKIT_HARNESS_DIR, IPAMKIT_HARNESS_HTTPS_PORT, IPAMKIT_HARNESS_HTTP_PORT."""
        environ = os.environ if environ is None else environ
        source = environ.get('PHPIPAM_SOURCE') or None
        if not source:
            checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            fallback = os.path.join(os.path.dirname(checkout), 'shared', 'phpipam', 'phpipam-1.8.2.tar.gz')
            if os.path.exists(fallback):
                source = fallback
        return cls(
            source=source,
            state_dir=environ.get('IPAMKIT_HARNESS_DIR') or DEFAULT_STATE_DIR,
            https_port=int(environ.get('IPAMKIT_HARNESS_HTTPS_PORT') or DEFAULT_HTTPS_PORT),
            http_port=int(environ.get('IPAMKIT_HARNESS_HTTP_PORT') or DEFAULT_HTTP_PORT),
        )

    # ---- paths -------------------------------------------------------------------------------

    def _path(self, *parts):
        return os.path.join(self.state_dir, *parts)

    @property
    def state_file(self):
        """Where the Instance (plus internals) is stored, mode 0600."""
        return self._path('state.json')

    @property
    def webroot(self):
        """The unpacked phpIPAM tree Apache serves."""
        return self._path('www', 'phpipam')

    @property
    def mysql_datadir(self):
        """Private MariaDB data directory."""
        return self._path('mysql', 'data')

    @property
    def mysql_socket(self):
        """Private MariaDB unix socket (the server has networking switched off)."""
        return self._path('mysql', 'mariadb.sock')

    @property
    def mysql_pid_file(self):
        """Pid file written by the private mariadbd."""
        return self._path('mysql', 'mariadb.pid')

    @property
    def mysql_error_log(self):
        """Error log of the private mariadbd."""
        return self._path('mysql', 'error.log')

    @property
    def apache_conf(self):
        """Private Apache configuration (the only file apache2 reads)."""
        return self._path('apache', 'httpd.conf')

    @property
    def apache_pid_file(self):
        """Pid file of the private Apache parent process."""
        return self._path('apache', 'run', 'httpd.pid')

    @property
    def apache_error_log(self):
        """Apache's error log: PHP fatals land here."""
        return self._path('apache', 'logs', 'error.log')

    @property
    def apache_access_log(self):
        """Apache's access log (with request duration in microseconds)."""
        return self._path('apache', 'logs', 'access.log')

    @property
    def ca_path(self):
        """PEM of the test CA that signed the server certificate."""
        return self._path('pki', 'ca.pem')

    # ---- prerequisites -----------------------------------------------------------------------

    @staticmethod
    def _not_installed(packages):
        """The Debian packages of `packages` that dpkg does not list as installed ([] without dpkg)."""
        if not shutil.which('dpkg-query'):
            return []
        proc = subprocess.run(['dpkg-query', '-W', '-f', '${Package} ${db:Status-Abbrev}\n', *packages],
                              capture_output=True, text=True, check=False)
        installed = {fields[0] for fields in map(str.split, proc.stdout.splitlines()) if fields[1:2] == ['ii']}
        return [pkg for pkg in packages if pkg not in installed]

    def missing_packages(self):
        """Debian packages from REQUIRED_PACKAGES that are not installed ([] when dpkg is absent)."""
        return self._not_installed(REQUIRED_PACKAGES)

    @staticmethod
    def _binary(*names):
        for name in names:
            found = shutil.which(name) or shutil.which(name, path='/usr/sbin:/sbin:/usr/bin')
            if found:
                return found
        return None

    def missing_tools(self):
        """Programs and files the harness needs, with what is missing."""
        missing = []
        checks = (
            ('mariadbd', ('mariadbd', 'mysqld')),
            ('mariadb-install-db', ('mariadb-install-db', 'mysql_install_db')),
            ('mariadb client', ('mariadb', 'mysql')),
            ('apache2', ('apache2',)),
            ('php', ('php',)),
            ('setsid', ('setsid',)),
            ('tar', ('tar',)),
        )
        for label, names in checks:
            if not self._binary(*names):
                missing.append(label)
        if not self._php_module():
            missing.append(f'libphp*.so in {APACHE_MODULE_DIR}')
        if not os.path.exists('/usr/share/php/PEAR.php'):
            missing.append('PEAR.php (php-pear)')
        return missing

    @staticmethod
    def _php_module():
        found = sorted(glob.glob(os.path.join(APACHE_MODULE_DIR, 'libphp*.so')))
        return found[-1] if found else None

    def _source_usable(self):
        return bool(self.source) and os.path.exists(self.source)

    def can_run(self):
        """(True, note) when ensure_up() can work here, else (False, what exactly is missing)."""
        reasons = []
        state = self._load_state()
        packages = self.missing_packages()
        tools = self.missing_tools()
        if packages or tools:
            if self.is_root and shutil.which('apt-get'):
                pass  # ensure_up() installs them
            else:
                pkgs = ' '.join(REQUIRED_PACKAGES + EXTRA_PACKAGES)
                detail = ', '.join(packages or tools)
                reasons.append(f'install: apt-get install -y {pkgs} (missing: {detail})')
        if state is None and not self._source_usable():
            if self.source:
                reasons.append(f'PHPIPAM_SOURCE {self.source} does not exist; set PHPIPAM_SOURCE to a phpIPAM 1.8.x release tarball')
            else:
                reasons.append('set PHPIPAM_SOURCE to a phpIPAM 1.8.x release tarball')
        if self.is_root:
            for account in ('mysql', 'www-data'):
                try:
                    pwd.getpwnam(account)
                except KeyError:
                    if not packages:
                        reasons.append(f'system user {account} is missing')
        if self.is_root:
            blocked = self._untraversable_parent()
            if blocked:
                reasons.append(f'{blocked} is not searchable by others (mode {stat.S_IMODE(os.stat(blocked).st_mode):o}): '
                               'the mysql and www-data users cannot reach the state dir; set IPAMKIT_HARNESS_DIR elsewhere')
        if len(self.mysql_socket) > UNIX_SOCKET_MAX:
            reasons.append(f'IPAMKIT_HARNESS_DIR is too long for a unix socket path ({self.mysql_socket})')
        if not (state and self._apache_running()):
            taken = [f'127.0.0.1:{port}' for port in (self.https_port, self.http_port) if _port_open(port)]
            if taken:
                reasons.append(f'{" and ".join(taken)} in use by another program; set IPAMKIT_HARNESS_HTTPS_PORT / IPAMKIT_HARNESS_HTTP_PORT')
        lock_problem = self._api_lock_problem()
        if lock_problem:
            reasons.append(lock_problem)
        if reasons:
            return False, '; '.join(reasons)
        if packages or tools:
            return True, 'will install: ' + ' '.join(packages or tools)
        return True, 'ready'

    def _untraversable_parent(self):
        """The first existing parent of state_dir that other users cannot enter, or None."""
        path = os.path.dirname(self.state_dir)
        while True:
            if os.path.isdir(path) and not os.stat(path).st_mode & stat.S_IXOTH:
                return path
            parent = os.path.dirname(path)
            if parent == path:
                return None
            path = parent

    def _api_lock_problem(self):
        """Why phpIPAM's machine-wide API lock file would make every write fail here, or None."""
        try:
            info = os.stat(API_LOCK_FILE)
        except OSError:
            return None
        try:
            uid = pwd.getpwnam('www-data').pw_uid if self.is_root else os.geteuid()
        except KeyError:
            return None
        if info.st_uid == uid or info.st_mode & 0o002:
            return None
        return (f'{API_LOCK_FILE} (the API write lock every phpIPAM on this machine shares) belongs to uid {info.st_uid}; '
                f'the harness Apache (uid {uid}) cannot open it, so every POST/PATCH/DELETE and login would fail '
                'with "Cannot open file": remove it or make it writable (chmod 666)')

    def install_packages(self):
        """apt-get install the Debian packages (root only); apt-get update first only when needed."""
        missing = self.missing_packages()
        extra = self._not_installed(EXTRA_PACKAGES)
        if not missing and not extra:
            return
        if not self.is_root:
            raise HarnessError('install: apt-get install -y ' + ' '.join(missing + extra))
        LOG.info('installing Debian packages: %s', ' '.join(missing + extra))
        try:
            apt_install(missing + extra)
        except AptError as exc:
            raise HarnessError(str(exc)) from exc

    # ---- state -------------------------------------------------------------------------------

    def _load_state(self, complete_only=True):
        """state.json of this harness version; with complete_only, only once the install was verified."""
        try:
            with open(self.state_file, encoding='utf-8') as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get('internal', {}).get('harness_version') != HARNESS_VERSION:
            return None
        if complete_only and not state['internal'].get('complete'):
            return None
        return state

    def _save_state(self, state):
        _write_file(self.state_file, json.dumps(state, indent=2, sort_keys=True) + '\n', 0o600)

    def instance(self):
        """The Instance recorded in state.json (running or not), or None."""
        state = self._load_state(complete_only=False)
        return Instance.from_dict(state) if state else None

    @contextlib.contextmanager
    def _locked(self):
        """Serialise harness operations across processes (pytest-xdist workers, a parallel make demo)."""
        os.makedirs(os.path.dirname(self.state_dir), exist_ok=True)
        with open(self.state_dir + '.lock', 'a', encoding='ascii') as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- up ----------------------------------------------------------------------------------

    def ensure_up(self):
        """Return the running Instance: reuse, restart or (cold) install as needed."""
        with self._locked():
            started = time.monotonic()
            state = self._load_state()
            if state and self._source_changed(state):
                LOG.info('phpIPAM source changed since install: reinstalling')
                state = None
            if state:
                return self._reuse(state, started)
            if os.path.exists(self._path(MARKER_FILE)):
                # Our own state from an older harness version or an unfinished install: its
                # servers (found by their pid files) must go before a fresh install takes the ports.
                self._stop_processes()
            ok, reason = self.can_run()
            if not ok:
                raise HarnessError(reason)
            state = self._install()
            LOG.info('phpIPAM installed, seeded and verified in %.1f s', time.monotonic() - started)
            return Instance.from_dict(state)

    def _reuse(self, state, started):
        running = self._mysql_running() and self._apache_running()
        if running and self._ports_match(state):
            if self._probe(state):
                LOG.info('reusing running phpIPAM (%.2f s)', time.monotonic() - started)
                return Instance.from_dict(state)
            status, detail = self._last_probe
            if status in (400, 401, 403, 503):
                # phpIPAM answered but refused the rw app: a test left the API switched off or changed the apps
                LOG.warning('phpIPAM refused the probe (%s); resetting its data to the seed', detail)
                self.reset()
                if self._probe(state, attempts=3):
                    return Instance.from_dict(state)
            raise HarnessError(f'running phpIPAM does not answer on {state["https_url"]} ({self._last_probe[1]}); see '
                               f'{self.apache_error_log}:\n{_tail(self.apache_error_log)}\n'
                               '"phpipam.py down --purge" and "up" reinstall it')
        if running:
            LOG.info('moving phpIPAM to ports %s/%s', self.https_port, self.http_port)
        else:
            LOG.info('restarting stopped phpIPAM from %s', self.state_dir)
        lock_problem = self._api_lock_problem()
        if lock_problem:
            raise HarnessError(lock_problem)
        self._start_mysql()
        self._ensure_apache(state)
        LOG.info('phpIPAM up again in %.1f s', time.monotonic() - started)
        return Instance.from_dict(self._load_state())

    def _source_fingerprint(self):
        if not self._source_usable():
            return None
        info = os.stat(self.source)
        return {'path': os.path.realpath(self.source), 'size': info.st_size, 'mtime_ns': info.st_mtime_ns}

    def _source_changed(self, state):
        current = self._source_fingerprint()
        recorded = state.get('internal', {}).get('source')
        return current is not None and recorded is not None and current != recorded

    def _ports_match(self, state):
        return state['https_url'] == f'https://{BIND_ADDRESS}:{self.https_port}' and state['http_url'] == f'http://{BIND_ADDRESS}:{self.http_port}'

    def _install(self):
        self.install_packages()
        if not self._source_usable():
            raise HarnessError('set PHPIPAM_SOURCE to a phpIPAM 1.8.x release tarball')
        self._stop_processes()
        self._prepare_state_dir()
        timings = {}
        step = time.monotonic()
        version = self._unpack()
        timings['unpack'] = time.monotonic() - step
        step = time.monotonic()
        self._make_pki()
        timings['pki'] = time.monotonic() - step
        step = time.monotonic()
        self._init_mysql()
        self._start_mysql()
        timings['mysql'] = time.monotonic() - step
        step = time.monotonic()
        state = self._create_database(version)
        timings['seed'] = time.monotonic() - step
        step = time.monotonic()
        self._write_phpipam_config(state['internal']['db_password'])
        self._save_state(state)
        self._ensure_apache(state)
        timings['apache'] = time.monotonic() - step
        step = time.monotonic()
        self.verify()
        self.reset()  # logins during verify() left user tokens behind
        timings['verify'] = time.monotonic() - step
        state = self._load_state(complete_only=False)
        state['internal']['install_timings'] = {k: round(v, 2) for k, v in timings.items()}
        state['internal']['complete'] = True
        self._save_state(state)
        LOG.info('install timings: %s', ', '.join(f'{k} {v:.1f} s' for k, v in timings.items()))
        return state

    def _prepare_state_dir(self):
        if os.path.isdir(self.state_dir) and os.listdir(self.state_dir):
            if not os.path.exists(self._path(MARKER_FILE)):
                raise HarnessError(f'{self.state_dir} exists and was not made by the harness; refusing to touch it')
            LOG.info('removing old harness state in %s', self.state_dir)
            shutil.rmtree(self.state_dir)
        os.makedirs(self.state_dir, mode=0o755, exist_ok=True)
        os.chmod(self.state_dir, 0o755)  # mysql and www-data need to traverse it
        _write_file(self._path(MARKER_FILE), 'ipamkit phpIPAM test harness state; "phpipam.py down --purge" removes it\n')
        for sub, mode in (('www', 0o755), ('pki', 0o755), ('mysql', 0o755), ('apache', 0o755),
                          ('apache/run', 0o755), ('apache/logs', 0o755), ('seed', 0o700), ('tmp', 0o700)):
            os.makedirs(self._path(sub), mode=mode, exist_ok=True)
            os.chmod(self._path(sub), mode)
        # MariaDB's own temporary directory: TMPDIR of the caller may not be writable by the mysql user.
        os.makedirs(self._path('mysql', 'tmp'), mode=0o700, exist_ok=True)
        if self.is_root:
            mysql = pwd.getpwnam('mysql')
            os.chown(self._path('mysql'), mysql.pw_uid, mysql.pw_gid)
            os.chown(self._path('mysql', 'tmp'), mysql.pw_uid, mysql.pw_gid)

    def _unpack(self):
        """Unpack the tarball (or copy the directory) to webroot; return phpIPAM's visible version."""
        LOG.info('unpacking %s', self.source)
        staging = self._path('tmp', 'unpack')
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        if os.path.isdir(self.source):
            shutil.copytree(self.source, os.path.join(staging, 'phpipam'), symlinks=True)
        elif zipfile.is_zipfile(self.source):
            shutil.unpack_archive(self.source, staging, 'zip')
        else:
            _run([self._binary('tar'), '-xf', self.source, '-C', staging, '--no-same-owner', '--no-same-permissions'], what='unpacking ' + self.source)
        tree = None
        for candidate in [staging] + sorted(glob.glob(os.path.join(staging, '*'))):
            if os.path.isfile(os.path.join(candidate, 'index.php')) and os.path.isfile(os.path.join(candidate, 'db', 'SCHEMA.sql')):
                tree = candidate
                break
        if tree is None:
            raise HarnessError(f'{self.source} does not look like phpIPAM (no index.php and db/SCHEMA.sql at its top)')
        os.rename(tree, self.webroot)
        shutil.rmtree(staging, ignore_errors=True)
        version = ''
        with contextlib.suppress(OSError), open(os.path.join(self.webroot, 'functions', 'version.php'), encoding='utf-8') as handle:
            match = re.search(r'define\("VERSION_VISIBLE",\s*"([^"]+)"', handle.read())
            version = match.group(1) if match else ''
        if not version.startswith('1.8'):
            LOG.warning('phpIPAM %s: the harness was written for 1.8.x', version or '(unknown version)')
        phpmailer = os.path.join(self.webroot, 'functions', 'PHPMailer')
        if not (os.path.isdir(phpmailer) and os.listdir(phpmailer)):
            LOG.warning('%s has no submodules (functions/PHPMailer is empty): use a release tarball, not a git archive', self.source)
        return version

    def _make_pki(self):
        ca_cert, ca_key = _tls_ca(f'ipamkit phpIPAM test CA {_random(8)}')
        _write_file(self.ca_path, _pem_cert(ca_cert), 0o644)
        _write_file(self._path('pki', 'ca.key'), _pem_key(ca_key), 0o600)
        cert, key = _tls_leaf(ca_cert, ca_key, [BIND_ADDRESS, 'localhost', '::1'])
        _write_file(self._path('pki', 'server.pem'), _pem_cert(cert), 0o644)
        _write_file(self._path('pki', 'server.key'), _pem_key(key), 0o600)

    def issue_leaf_cert(self, directory, hosts=(BIND_ADDRESS, 'localhost')):
        """Write cert.pem/key.pem for hosts, signed by the harness CA, into directory; return (cert, key) paths."""
        ca_cert, ca_key = _load_ca(self.ca_path, self._path('pki', 'ca.key'))
        cert, key = _tls_leaf(ca_cert, ca_key, list(hosts))
        os.makedirs(directory, exist_ok=True)
        cert_path, key_path = os.path.join(directory, 'cert.pem'), os.path.join(directory, 'key.pem')
        _write_file(cert_path, _pem_cert(cert), 0o644)
        _write_file(key_path, _pem_key(key), 0o600)
        return cert_path, key_path

    # ---- MariaDB -----------------------------------------------------------------------------

    def _init_mysql(self):
        LOG.info('initialising private MariaDB in %s', self.mysql_datadir)
        argv = [self._binary('mariadb-install-db', 'mysql_install_db'), '--no-defaults', f'--datadir={self.mysql_datadir}',
                '--auth-root-authentication-method=socket', '--skip-test-db', '--skip-name-resolve',
                f'--tmpdir={self._path("mysql", "tmp")}']
        if self.is_root:
            argv.append('--user=mysql')
        else:
            argv.append(f'--auth-root-socket-user={self.os_user}')
        _run(argv, timeout=300, what='mariadb-install-db')

    def _mysql_running(self):
        return _pid_matches(_read_pid(self.mysql_pid_file), f'--datadir={self.mysql_datadir}')

    def _start_mysql(self):
        if self._mysql_running():
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.mysql_pid_file)
        tmpdir = self._path('mysql', 'tmp')
        if not os.path.isdir(tmpdir):  # state made by an older harness
            os.makedirs(tmpdir, mode=0o700)
            if self.is_root:
                mysql = pwd.getpwnam('mysql')
                os.chown(tmpdir, mysql.pw_uid, mysql.pw_gid)
        argv = [
            self._binary('mariadbd', 'mysqld'), '--no-defaults', f'--datadir={self.mysql_datadir}',
            f'--socket={self.mysql_socket}', f'--pid-file={self.mysql_pid_file}', f'--log-error={self.mysql_error_log}',
            f'--tmpdir={self._path("mysql", "tmp")}',
            '--skip-networking', '--skip-name-resolve', '--default-time-zone=+00:00',
            '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci',
            '--innodb-buffer-pool-size=64M', '--innodb-log-file-size=16M', '--innodb-flush-log-at-trx-commit=0',
            '--innodb-doublewrite=0', '--max-connections=200',
        ]
        if self.is_root:
            argv.append('--user=mysql')
        log_size = os.path.getsize(self.mysql_error_log) if os.path.exists(self.mysql_error_log) else 0
        with open(self._path('mysql', 'console.log'), 'ab') as console:
            subprocess.run([self._binary('setsid'), '-f', *argv], stdin=subprocess.DEVNULL, stdout=console, stderr=console, check=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self._mysql_running() and os.path.exists(self.mysql_socket):
                try:
                    self.sql('SELECT 1', database=None)
                    return
                except HarnessError:
                    pass
            if self._mysql_aborted(log_size):
                break
            time.sleep(0.1)
        raise HarnessError(f'private MariaDB did not start; see {self.mysql_error_log}:\n{_tail(self.mysql_error_log)}')

    def _mysql_aborted(self, offset):
        try:
            with open(self.mysql_error_log, encoding='utf-8', errors='replace') as handle:
                handle.seek(offset)
                return '[ERROR] Aborting' in handle.read()
        except OSError:
            return False

    def _client_argv(self, database):
        argv = [self._binary('mariadb', 'mysql'), '--no-defaults', f'--socket={self.mysql_socket}', f'--user={self.os_user}',
                '--default-character-set=utf8mb4', '--xml']
        if database:
            argv.append(database)
        return argv

    def sql(self, query, *params, database=DB_NAME):
        """Run SQL on the private MariaDB (as its superuser) and return the rows of the last result set.

        Values come back as str or None. %s placeholders are filled with safely quoted params.
        Several statements separated by ';' are allowed.
        """
        if params:
            query = sql_format(query, params)
        if not os.path.exists(self.mysql_socket):
            raise HarnessError(f'private MariaDB is not running (no {self.mysql_socket}); run "phpipam.py up"')
        output = _run(self._client_argv(database), input_text=query, timeout=120, what='SQL on the harness MariaDB')
        return self._parse_xml_rows(output)

    @staticmethod
    def _parse_xml_rows(output):
        rows = []
        if not output.strip():
            return rows
        # several statements give several XML documents; keep the last result set
        documents = [doc for doc in re.split(r'(?=<\?xml )', output) if doc.strip()]
        nil = '{http://www.w3.org/2001/XMLSchema-instance}nil'
        for document in documents:
            root = ET.fromstring(document)
            current = []
            for row in root.iter('row'):
                current.append(tuple(None if field.get(nil) == 'true' else (field.text or '') for field in row.iter('field')))
            if root.tag == 'resultset' and (current or root.get('statement')):
                rows = current
        return rows

    def _create_database(self, version):
        LOG.info('creating database from db/SCHEMA.sql and seeding')
        db_password = _random(32)
        admin_password = _random(24)
        app_codes = {app.app_id: _random(32) for app in APPS}
        agent_codes = {name: _random(32) for name, description in AGENTS}
        self.sql(sql_format(
            f'CREATE DATABASE {sql_ident(DB_NAME)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;'
            f"CREATE USER %s@'localhost' IDENTIFIED BY %s;"
            f"GRANT ALL PRIVILEGES ON {sql_ident(DB_NAME)}.* TO %s@'localhost';", [DB_USER, db_password, DB_USER]), database=None)
        with open(os.path.join(self.webroot, 'db', 'SCHEMA.sql'), encoding='utf-8') as handle:
            self.sql(handle.read())
        admin_hash = _run([self._binary('php'), '-r', 'echo password_hash(stream_get_contents(STDIN), PASSWORD_BCRYPT);'],
                          input_text=admin_password, what='php password_hash').strip()
        if not admin_hash.startswith('$2y$'):
            raise HarnessError(f'php password_hash returned {admin_hash[:10]!r}...')
        self.sql(build_seed_sql({'admin_hash': admin_hash, 'app_codes': app_codes, 'agent_codes': agent_codes}))
        instance = self._read_instance(version, admin_password, app_codes, agent_codes)
        self._snapshot(instance.addresses)
        state = instance.as_dict()
        state['internal'] = {
            'harness_version': HARNESS_VERSION,
            'complete': False,  # True once verify() passed
            'source': self._source_fingerprint(),
            'db_name': DB_NAME,
            'db_user': DB_USER,
            'db_password': db_password,
            'mysql_pid_file': self.mysql_pid_file,
            'apache_conf': self.apache_conf,
            'apache_pid_file': self.apache_pid_file,
            'apache_access_log': self.apache_access_log,
            'installed_at': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        }
        return state

    def _read_instance(self, version, admin_password, app_codes, agent_codes):
        """Ids of everything the tests address by name, read back from the database."""
        sections = {name: int(i) for i, name in self.sql('SELECT id, name FROM sections ORDER BY id')}
        subnets, folders = {}, {}
        for sid, subnet, mask, is_folder, description in self.sql('SELECT id, subnet, mask, isFolder, description FROM subnets ORDER BY id'):
            if is_folder == '1':
                folders[description] = int(sid)
            else:
                subnets[_cidr(subnet, mask)] = int(sid)
        lab_subnet_ids = {subnets[s.cidr] for s in SUBNETS if s.cidr}
        addresses = {}
        for aid, ip_addr, subnet_id in self.sql('SELECT id, ip_addr, subnetId FROM ipaddresses ORDER BY id'):
            if int(subnet_id) in lab_subnet_ids:
                addresses[str(ipaddress.ip_address(int(ip_addr)))] = int(aid)
        agents = {name: {'id': int(aid), 'code': agent_codes[name]}
                  for aid, name in self.sql("SELECT id, name FROM scanAgents WHERE type = 'api' ORDER BY id")}
        apps = {app.app_id: {'security': app.security, 'permissions': app.permissions,
                             'code': app_codes[app.app_id] if app.security == 'ssl_code' else None} for app in APPS}
        return Instance(
            https_url=f'https://{BIND_ADDRESS}:{self.https_port}', http_url=f'http://{BIND_ADDRESS}:{self.http_port}',
            ca_path=self.ca_path, admin_user=ADMIN_USER, admin_password=admin_password, apps=apps, agents=agents,
            sections=sections, subnets=subnets, folders=folders, addresses=addresses,
            vlans={name: int(vid) for vid, name in self.sql('SELECT vlanId, name FROM vlans ORDER BY vlanId')},
            nameservers={name: int(nid) for nid, name in self.sql('SELECT id, name FROM nameservers ORDER BY id')},
            custom_fields=[CUSTOM_FIELD[0]], phpipam_version=version, state_dir=self.state_dir,
            apache_error_log=self.apache_error_log, mysql_error_log=self.mysql_error_log, mysql_socket=self.mysql_socket,
        )

    def _snapshot(self, address_ids):
        """Copy every seeded table into SEED_DB_NAME and write the script reset() runs."""
        tables = [name for (name,) in self.sql(sql_format(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            [DB_NAME]))]
        columns = {}
        for table, column in self.sql(sql_format(
                'SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s ORDER BY table_name, ordinal_position',
                [DB_NAME])):
            columns.setdefault(table, []).append(column)
        seed, live = sql_ident(SEED_DB_NAME), sql_ident(DB_NAME)
        copy = [f'DROP DATABASE IF EXISTS {seed};', f'CREATE DATABASE {seed};']
        restore = ['SET SESSION FOREIGN_KEY_CHECKS = 0;', 'SET SESSION UNIQUE_CHECKS = 0;', 'START TRANSACTION;']
        for table in tables:
            name = sql_ident(table)
            cols = ', '.join(sql_ident(c) for c in columns[table])
            copy.append(f'CREATE TABLE {seed}.{name} LIKE {live}.{name};')
            copy.append(f'INSERT INTO {seed}.{name} ({cols}) SELECT {cols} FROM {live}.{name};')
            restore.append(f'DELETE FROM {live}.{name};')
            restore.append(f'INSERT INTO {live}.{name} ({cols}) SELECT {cols} FROM {seed}.{name};')
        restore.append(relative_time_sql(address_ids).strip())
        restore.append('COMMIT;')
        self.sql('\n'.join(copy), database=None)
        _write_file(self._path('seed', 'reset.sql'), '\n'.join(restore) + '\n', 0o600)

    def reset(self):
        """Put all phpIPAM data back to the seed (apps, agents and codes unchanged; user tokens cleared). Returns seconds."""
        started = time.monotonic()
        with open(self._path('seed', 'reset.sql'), encoding='utf-8') as handle:
            script = handle.read()
        self.sql(script)
        elapsed = time.monotonic() - started
        LOG.info('reset to seed in %.2f s', elapsed)
        return elapsed

    # ---- phpIPAM + Apache --------------------------------------------------------------------

    def _write_phpipam_config(self, db_password):
        with open(os.path.join(self.webroot, 'config.dist.php'), encoding='utf-8') as handle:
            text = handle.read()

        def php_string(value):
            return "'" + value.replace('\\', '\\\\').replace("'", "\\'") + "'"

        replacements = (
            (r"^\$db\['host'\]\s*=.*$", "$db['host'] = 'localhost';  // unix socket: pdo_mysql.default_socket is set in httpd.conf"),
            (r"^\$db\['user'\]\s*=.*$", f"$db['user'] = {php_string(DB_USER)};"),
            (r"^\$db\['pass'\]\s*=.*$", f"$db['pass'] = {php_string(db_password)};"),
            (r"^\$db\['name'\]\s*=.*$", f"$db['name'] = {php_string(DB_NAME)};"),
            (r'^\$api_allow_unsafe\s*=.*$', '$api_allow_unsafe = true;'),
            (r'^\$disable_installer\s*=.*$', '$disable_installer = true;'),
        )
        for pattern, line in replacements:
            text, count = re.subn(pattern, lambda _m, line=line: line, text, count=1, flags=re.MULTILINE)
            if count != 1:
                raise HarnessError(f'config.dist.php has no line matching {pattern}; is this phpIPAM 1.8.x?')
        path = os.path.join(self.webroot, 'config.php')
        _write_file(path, text, 0o640)
        if self.is_root:
            os.chown(path, 0, pwd.getpwnam('www-data').pw_gid)

    def _apache_config(self):
        webroot, run_dir, pki = self.webroot, self._path('apache', 'run'), self._path('pki')
        modules = [f'LoadModule {name} {os.path.join(APACHE_MODULE_DIR, so)}' for name, so in APACHE_MODULES]
        php_so = self._php_module()
        match = re.search(r'libphp(\d)', os.path.basename(php_so or ''))
        php_name = 'php_module' if match and match.group(1) == '8' else 'php7_module'
        modules.append(f'LoadModule {php_name} {php_so}')
        user = 'User www-data\nGroup www-data\n' if self.is_root else ''
        types = 'TypesConfig /etc/mime.types\n' if os.path.exists('/etc/mime.types') else ''
        return f'''# Generated by tests/harness/phpipam.py: a private Apache for the phpIPAM test harness.
ServerRoot "{self._path('apache')}"
ServerName {BIND_ADDRESS}
PidFile "{self.apache_pid_file}"
DefaultRuntimeDir "{run_dir}"
Mutex file:{run_dir} default
ErrorLog "{self.apache_error_log}"
LogLevel warn
{user}
{chr(10).join(modules)}

LogFormat "%h %t \\"%r\\" %>s %b %D" harness
CustomLog "{self.apache_access_log}" harness

Listen {BIND_ADDRESS}:{self.http_port}
Listen {BIND_ADDRESS}:{self.https_port}

StartServers 2
MinSpareServers 2
MaxSpareServers 10
MaxRequestWorkers 40
MaxConnectionsPerChild 0
Timeout 120
KeepAlive On
MaxKeepAliveRequests 1000
KeepAliveTimeout 5
{types}AddDefaultCharset Off
DirectoryIndex index.php index.html
AccessFileName .htaccess
HostnameLookups Off

<Directory />
    Options None
    AllowOverride None
    Require all denied
</Directory>
<Directory "{webroot}">
    Options FollowSymLinks
    AllowOverride All
    Require all granted
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>

php_admin_value pdo_mysql.default_socket "{self.mysql_socket}"
php_admin_value mysqli.default_socket "{self.mysql_socket}"
php_admin_flag display_errors Off
php_admin_flag log_errors On
php_value date.timezone UTC

SSLSessionCache "shmcb:{run_dir}/ssl_scache(512000)"
SSLProtocol all -SSLv3 -TLSv1 -TLSv1.1
SSLRandomSeed startup builtin

DocumentRoot "{webroot}"

<VirtualHost {BIND_ADDRESS}:{self.http_port}>
    DocumentRoot "{webroot}"
</VirtualHost>

<VirtualHost {BIND_ADDRESS}:{self.https_port}>
    DocumentRoot "{webroot}"
    SSLEngine on
    SSLCertificateFile "{os.path.join(pki, 'server.pem')}"
    SSLCertificateKeyFile "{os.path.join(pki, 'server.key')}"
</VirtualHost>
'''

    def _apache_running(self):
        return _pid_matches(_read_pid(self.apache_pid_file), self.apache_conf)

    def _ensure_apache(self, state):
        """(Re)write httpd.conf for the configured ports, start Apache and wait for the HTTPS probe."""
        if not self._ports_match(state):
            self.stop_apache()
            state['https_url'] = f'https://{BIND_ADDRESS}:{self.https_port}'
            state['http_url'] = f'http://{BIND_ADDRESS}:{self.http_port}'
            self._save_state(state)
        if not self._apache_running():
            self.start_apache()
        if not self._probe(state, attempts=40):
            raise HarnessError(f'phpIPAM does not answer on {state["https_url"]}; see {self.apache_error_log}:\n{_tail(self.apache_error_log)}')

    def start_apache(self):
        """Start the private Apache (no-op when it already runs) and wait until both ports accept connections."""
        if self._apache_running():
            return
        for port in (self.https_port, self.http_port):
            if _port_open(port):
                raise HarnessError(f'127.0.0.1:{port} is already in use by another program; '
                                   'set IPAMKIT_HARNESS_HTTPS_PORT / IPAMKIT_HARNESS_HTTP_PORT')
        _write_file(self.apache_conf, self._apache_config(), 0o644)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.apache_pid_file)
        env = {'PATH': os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin'), 'LANG': 'C'}
        startup_log = self._path('apache', 'logs', 'startup.log')
        with open(startup_log, 'w', encoding='utf-8') as out:
            proc = subprocess.run([self._binary('apache2'), '-f', self.apache_conf, '-k', 'start'], stdin=subprocess.DEVNULL,
                                  stdout=out, stderr=out, env=env, check=False, timeout=60)
        if proc.returncode != 0:
            raise HarnessError(f'apache2 failed to start (rc={proc.returncode}): {_tail(startup_log)}\n'
                               f'see {self.apache_error_log}:\n{_tail(self.apache_error_log)}')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._apache_running() and _port_open(self.https_port) and _port_open(self.http_port):
                return
            time.sleep(0.05)
        raise HarnessError(f'apache2 did not come up; see {self.apache_error_log}:\n{_tail(self.apache_error_log)}')

    def stop_apache(self):
        """Stop the private Apache (by its pid file) and wait until its ports are closed."""
        _terminate(_read_pid(self.apache_pid_file), self.apache_conf)
        for pid in _processes_matching(self.apache_conf):  # children left behind by a killed parent
            _terminate(pid, self.apache_conf, timeout=5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_port_open(self.https_port) or _port_open(self.http_port)):
            time.sleep(0.05)

    def _probe(self, state, attempts=1):
        """One authenticated API read over HTTPS with the CA verified."""
        code = state['apps']['ansible_rw']['code']
        port = int(state['https_url'].rsplit(':', 1)[1])
        last = (None, '')
        for attempt in range(attempts):
            if attempt:
                time.sleep(0.25)
            try:
                context = ssl.create_default_context(cafile=state['ca_path'])
                conn = http.client.HTTPSConnection(BIND_ADDRESS, port, context=context, timeout=10)
                try:
                    conn.request('GET', '/api/ansible_rw/sections/', headers={'token': code})
                    resp = conn.getresponse()
                    body = resp.read()
                finally:
                    conn.close()
                if resp.status == 200 and json.loads(body).get('success') is True:
                    return True
                last = (resp.status, f'HTTP {resp.status}: {body[:300]!r}')
            except (OSError, ValueError, http.client.HTTPException) as exc:
                last = (None, f'{type(exc).__name__}: {exc}')
        self._last_probe = last
        if attempts > 1:
            LOG.warning('HTTPS probe failed: %s', last[1])
        return False

    # ---- stop / status -----------------------------------------------------------------------

    def _stop_processes(self):
        self.stop_apache()
        _terminate(_read_pid(self.mysql_pid_file), f'--datadir={self.mysql_datadir}', timeout=60)
        for pid in _processes_matching(f'--datadir={self.mysql_datadir}'):
            _terminate(pid, f'--datadir={self.mysql_datadir}')

    def stop(self, purge=False):
        """Stop only the processes this harness started (Apache, then MariaDB). purge=True also deletes the state dir."""
        with self._locked():
            self._stop_processes()
            left = _processes_matching(self.apache_conf) + _processes_matching(f'--datadir={self.mysql_datadir}')
            if left:
                raise HarnessError(f'harness processes still running: {left}')
            if purge and os.path.exists(self._path(MARKER_FILE)):
                shutil.rmtree(self.state_dir)

    def status(self):
        """What runs, where, and whether the API answers (no secrets)."""
        state = self._load_state()
        mysql_pid, apache_pid = _read_pid(self.mysql_pid_file), _read_pid(self.apache_pid_file)
        info = {
            'state_dir': self.state_dir,
            'installed': state is not None,
            'mysql': {'pid': mysql_pid, 'running': self._mysql_running(), 'socket': self.mysql_socket, 'error_log': self.mysql_error_log},
            'apache': {'pid': apache_pid, 'running': self._apache_running(), 'conf': self.apache_conf, 'error_log': self.apache_error_log},
        }
        if state:
            info.update(https_url=state['https_url'], http_url=state['http_url'], ca_path=state['ca_path'],
                        phpipam_version=state.get('phpipam_version'), installed_at=state['internal'].get('installed_at'),
                        install_timings=state['internal'].get('install_timings'))
            info['api_ok'] = info['mysql']['running'] and info['apache']['running'] and self._probe(state)
        else:
            info['api_ok'] = False
        return info

    def env_lines(self):
        """Shell export lines for the collection's connection options and the demo agent."""
        state = self._load_state()
        if not state:
            raise HarnessError('no harness instance; run "python3 tests/harness/phpipam.py up" first')
        values = (
            ('PHPIPAM_URL', state['https_url']),
            ('PHPIPAM_APP_ID', 'ansible_rw'),
            ('PHPIPAM_TOKEN', state['apps']['ansible_rw']['code']),
            ('PHPIPAM_CA_PATH', state['ca_path']),
            ('IPAMKIT_DEMO_AGENT_ID', str(state['agents']['demo-agent']['id'])),
            ('IPAMKIT_DEMO_AGENT_CODE', state['agents']['demo-agent']['code']),
        )
        return [f'export {name}={shlex.quote(value)}' for name, value in values]

    # ---- API helpers and verification --------------------------------------------------------

    def user_token(self, app_id='user_rw', instance=None):
        """Log in with Basic auth as the admin through an ssl_token app and return the user token."""
        import requests  # pylint: disable=import-outside-toplevel
        instance = instance or self.instance()
        resp = requests.post(instance.api_url(app_id) + 'user/', auth=(instance.admin_user, instance.admin_password),
                             verify=instance.ca_path, timeout=30)
        body = resp.json()
        if resp.status_code != 200 or not body.get('success'):
            raise HarnessError(f'login through {app_id} failed: HTTP {resp.status_code} {body.get("message")}')
        return body['data']['token']

    def verify(self):
        """Check every seeded object through the real API over HTTPS (CA verified). Returns the checks made."""
        import requests  # pylint: disable=import-outside-toplevel
        inst = self.instance()
        if inst is None:
            raise HarnessError('no harness instance to verify')
        checks = []
        problems = []
        session = requests.Session()
        # verify= on every request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override Session.verify
        tls = {'verify': inst.ca_path, 'timeout': 30}

        def get(path, app='ansible_rw', token=None, http=False, expect=200):
            headers = {'token': token or inst.apps[app]['code']}
            resp = session.get(inst.api_url(app, http=http) + path, headers=headers, **tls)
            try:
                body = resp.json()
            except ValueError:
                body = {'raw': resp.text[:300]}
            checks.append(f'GET {app}/{path} -> {resp.status_code}')
            if resp.status_code != expect:
                problems.append(f'GET {app}/{path}: expected {expect}, got {resp.status_code} {body.get("message", body)}'
                                f' (Apache error log: {self.apache_error_log})')
            return body.get('data')

        def expect_equal(what, actual, wanted):
            if actual != wanted:
                problems.append(f'{what}: expected {wanted!r}, got {actual!r}')

        sections = {s['name']: s['id'] for s in get('sections/') or []}
        expect_equal('sections', sorted(sections), sorted(['Customers', 'IPv6', SECTION]))

        demo = inst.agents['demo-agent']['id']
        agent_subnets = get(f'subnets/?filter_by=scanAgent&filter_value={demo}') or []
        expect_equal('demo-agent subnets', sorted(f'{s["subnet"]}/{s["mask"]}' for s in agent_subnets),
                     sorted(s.cidr for s in SUBNETS if s.agent == 'demo-agent'))
        get(f'subnets/?filter_by=scanAgent&filter_value={inst.agents["idle-agent"]["id"]}', expect=404)
        for name in inst.agents:
            agent = get(f'tools/scanagents/{inst.agents[name]["id"]}/') or {}
            expect_equal(f'agent {name}', (agent.get('name'), agent.get('type'), agent.get('code')),
                         (name, 'api', inst.agents[name]['code']))

        ns_id = inst.nameservers[NAMESERVER[0]]
        nameserver = get(f'tools/nameservers/{ns_id}/') or {}
        expect_equal('nameserver', (nameserver.get('name'), nameserver.get('namesrv1')), NAMESERVER[:2])
        vlan_id = inst.vlans[VLAN[1]]
        vlan = get(f'vlans/{vlan_id}/') or {}
        expect_equal('vlan', (vlan.get('name'), vlan.get('number')), (VLAN[1], VLAN[0]))
        folder = get(f'folders/{inst.folders[FOLDER]}/') or {}
        expect_equal('folder', (folder.get('description'), folder.get('isFolder')), (FOLDER, 1))
        fields = get('addresses/custom_fields/') or {}
        expect_equal('custom fields', CUSTOM_FIELD[0] in fields, True)
        for table, name, _type, _comment in PATH_CUSTOM_FIELDS:
            controller = 'addresses' if table == 'ipaddresses' else table
            expect_equal(f'{table} custom field {name}', name in (get(f'{controller}/custom_fields/') or {}), True)

        for spec in SUBNETS:
            if spec.cidr is None:
                continue
            sid = inst.subnets[spec.cidr]
            subnet = get(f'subnets/{sid}/') or {}
            parent = 0
            if spec.parent:
                parent = inst.folders[spec.parent] if spec.parent in inst.folders else inst.subnets[spec.parent]
            wanted = {
                'subnet/mask': spec.cidr, 'sectionId': sections.get(SECTION), 'description': spec.description,
                'scanAgent': inst.agents[spec.agent]['id'] if spec.agent else None,
                'pingSubnet': spec.ping, 'discoverSubnet': spec.discover, 'resolveDNS': spec.resolve,
                'nameserverId': inst.nameservers[spec.nameserver] if spec.nameserver else 0,
                'vlanId': inst.vlans[VLAN[1]] if spec.vlan else 0, 'masterSubnetId': parent,
            }
            actual = {k: subnet.get(k) for k in wanted}
            actual['subnet/mask'] = f'{subnet.get("subnet")}/{subnet.get("mask")}'
            expect_equal(f'subnet {spec.cidr}', actual, wanted)
            seeded = [a for a in ADDRESSES if a.subnet == spec.cidr]
            listed = get(f'subnets/{sid}/addresses/', expect=200 if seeded else 404) or []
            by_ip = {a['ip']: a for a in listed} if isinstance(listed, list) else {}
            expect_equal(f'addresses in {spec.cidr}', sorted(by_ip), sorted(a.ip for a in seeded))
            for addr in seeded:
                self._verify_address(addr, by_ip.get(addr.ip, {}), expect_equal)

        token = None
        for app in ('user_rw', 'user_ro'):
            try:
                token = self.user_token(app, inst)
                checks.append(f'POST {app}/user/ (Basic auth) -> token')
            except HarnessError as exc:
                problems.append(str(exc))
        if token:
            get('sections/', app='user_rw', token=token)
        get('sections/', app='ansible_ro')
        get('sections/', app='disabled', expect=503)
        get('sections/', app='ansible_rw', http=True, expect=503)
        resp = session.post(inst.api_url('open_http', http=True) + 'user/', auth=(inst.admin_user, inst.admin_password), **tls)
        checks.append(f'POST open_http/user/ over plain HTTP -> {resp.status_code}')
        if resp.status_code == 200:
            get('sections/', app='open_http', token=resp.json()['data']['token'], http=True)
        else:
            problems.append(f'open_http login over HTTP: {resp.status_code} {resp.text[:200]}')
        localhost = session.get(f'https://localhost:{inst.https_url.rsplit(":", 1)[1]}/api/ansible_rw/sections/',
                                headers={'token': inst.apps['ansible_rw']['code']}, **tls)
        checks.append(f'GET https://localhost (certificate name check) -> {localhost.status_code}')
        if problems:
            raise HarnessError('seed verification failed:\n  ' + '\n  '.join(problems))
        LOG.info('verified the seed through the API: %d checks', len(checks))
        return checks

    @staticmethod
    def _verify_address(addr, actual, expect_equal):
        wanted = {'hostname': addr.hostname, 'tag': addr.tag, 'is_gateway': addr.is_gateway, 'excludePing': addr.exclude_ping,
                  'mac': addr.mac, CUSTOM_FIELD[0]: addr.custom_asset}
        got = {k: actual.get(k) for k in wanted}
        if addr.last_seen_minutes_ago is not None:
            try:
                seen = datetime.datetime.strptime(actual.get('lastSeen') or '', '%Y-%m-%d %H:%M:%S')
                age = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - seen
                fresh = datetime.timedelta(0) <= age <= datetime.timedelta(minutes=addr.last_seen_minutes_ago + 5)
            except ValueError:
                fresh = False
            expect_equal(f'{addr.ip} lastSeen about {addr.last_seen_minutes_ago} min ago (UTC)', fresh, True)
        else:
            wanted['lastSeen'] = '1970-01-01 00:00:01' if addr.last_seen is _OMIT else addr.last_seen
            got['lastSeen'] = actual.get('lastSeen')
        expect_equal(f'address {addr.ip}', got, wanted)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------

def main(argv=None):
    """python3 tests/harness/phpipam.py up|down|status|reset|env|verify|sql QUERY"""
    parser = argparse.ArgumentParser(prog='phpipam.py', description='Private phpIPAM for the ipamkit.phpipam tests.')
    parser.add_argument('-q', '--quiet', action='store_true', help='only warnings on stderr')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('up', help='install (first time) or reuse/restart the instance; prints URLs, never secrets')
    down = sub.add_parser('down', help='stop the processes the harness started')
    down.add_argument('--purge', action='store_true', help='also delete the state directory')
    sub.add_parser('status', help='what runs and whether the API answers (exit 3 when not up)')
    sub.add_parser('reset', help='put the data back to the seed')
    sub.add_parser('env', help='print export lines: PHPIPAM_URL, PHPIPAM_APP_ID, PHPIPAM_TOKEN, PHPIPAM_CA_PATH, IPAMKIT_DEMO_AGENT_*')
    sub.add_parser('verify', help='check the seed through the API')
    sub.add_parser('can-run', help='say whether up can work here (exit 1 with the reason when not)')
    query = sub.add_parser('sql', help='run SQL on the private MariaDB, print rows tab-separated')
    query.add_argument('query')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format='[harness] %(message)s', stream=sys.stderr)
    harness = Harness.from_env()
    try:
        return _command(harness, args)
    except HarnessError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1


def _command(harness, args):
    if args.command == 'up':
        started = time.monotonic()
        inst = harness.ensure_up()
        print(f'phpIPAM {inst.phpipam_version} is up ({time.monotonic() - started:.2f} s)')
        print(f'  https:      {inst.https_url}/api/<app>/   (apps: {", ".join(inst.apps)})')
        print(f'  http:       {inst.http_url}/api/open_http/')
        print(f'  CA:         {inst.ca_path}')
        print(f'  state:      {harness.state_file} (secrets; "phpipam.py env" prints export lines)')
        print(f'  error log:  {inst.apache_error_log}')
    elif args.command == 'down':
        harness.stop(purge=args.purge)
        print('stopped' + (' and purged' if args.purge else ''))
    elif args.command == 'status':
        info = harness.status()
        print(json.dumps(info, indent=2))
        return 0 if info['api_ok'] else 3
    elif args.command == 'reset':
        print(f'reset to seed in {harness.reset():.2f} s')
    elif args.command == 'env':
        print('\n'.join(harness.env_lines()))
    elif args.command == 'verify':
        checks = harness.verify()
        print('\n'.join(checks))
        print(f'{len(checks)} checks passed')
    elif args.command == 'can-run':
        ok, reason = harness.can_run()
        print(reason)
        return 0 if ok else 1
    elif args.command == 'sql':
        for row in harness.sql(args.query):
            print('\t'.join('NULL' if value is None else value for value in row))
    return 0


if __name__ == '__main__':
    sys.exit(main())
