# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phpIPAM dates and time zones.

phpIPAM sends and accepts dates as ``YYYY-MM-DD HH:MM:SS`` with no zone. It never
sets a zone itself: DATETIME columns (``lastSeen``) hold whatever the writer sent,
PHP-made values follow php.ini ``date.timezone`` and TIMESTAMP columns
(``editDate``, ``lastScan``) are shown in MariaDB's session zone. We read and write
them as wall-clock times in one configured zone, the server's (UTC by default).
"""

import datetime
import re

PHPIPAM_DATE_FORMAT = '%Y-%m-%d %H:%M:%S'

# Values phpIPAM uses for "never": MySQL's zero date and the ipaddresses.lastSeen
# column default. Both mean the same to a user, so both read as None.
NEVER_VALUES = frozenset(('0000-00-00 00:00:00', '0000-00-00', '1970-01-01 00:00:01', '1970-01-01 00:00:00'))

_DATE_RE = re.compile(r'^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2})?$')


class TimeZoneError(ValueError):
    """The configured time zone name is unknown."""


def get_zone(name):
    """Return a tzinfo for an IANA zone name or a fixed offset such as ``+02:00``."""
    if name is None or name in ('UTC', 'utc', 'Etc/UTC', 'Z', '+00:00'):
        return datetime.timezone.utc
    match = re.match(r'^([+-])(\d{2}):?(\d{2})$', name)
    if match:
        sign = -1 if match.group(1) == '-' else 1
        offset = datetime.timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
        return datetime.timezone(sign * offset)
    try:
        import zoneinfo
    except ImportError:  # pragma: no cover - Python < 3.9
        raise TimeZoneError('time zone %r needs Python 3.9+ zoneinfo; use UTC or an offset such as +02:00' % name)
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(
            'unknown time zone %r: give an IANA name such as Europe/Berlin (the tzdata package must be installed) '
            'or an offset such as +02:00' % name)


def looks_like_date(value):
    return isinstance(value, str) and bool(_DATE_RE.match(value))


def parse_phpipam_date(value, zone):
    """Parse a phpIPAM date string into an aware datetime in ``zone``.

    Returns None for NULL, empty and phpIPAM's "never" values; raises ValueError
    for anything that is not a phpIPAM date.
    """
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    text = str(value).strip()
    if not text or text in NEVER_VALUES:
        return None
    fmt = PHPIPAM_DATE_FORMAT if ' ' in text else '%Y-%m-%d'
    return datetime.datetime.strptime(text, fmt).replace(tzinfo=zone)


def format_phpipam_date(value, zone):
    """Format a datetime (aware, or naive meaning UTC) the way phpIPAM accepts it, in ``zone``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_iso_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(zone).strftime(PHPIPAM_DATE_FORMAT)


def parse_iso_datetime(text):
    """Parse ISO 8601 (``2026-11-25T19:48:44Z`` or with an offset) or a phpIPAM-style UTC string."""
    text = text.strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def to_iso(value):
    """ISO 8601 with offset, as the collection returns dates to Ansible."""
    if value is None:
        return None
    return value.isoformat()


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)
