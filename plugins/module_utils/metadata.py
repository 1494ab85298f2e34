# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Free-form metadata on phpIPAM objects, stored so that it round-trips as the same dict. Pure.

Two storages (docs/reservation.md, "Where metadata lives"):

* A custom field the user names (``metadata_field``): the field holds the JSON object alone.
* Without one, a marker at the end of a standard text field (an address's ``note``, a subnet's
  ``description``): ``<text> [ipamkit:<JSON object>]``. The text before the marker is the user's own
  and is kept; the marker is compact JSON with sorted keys, so the same dict always gives the same
  string and reruns write nothing.

For reservations the JSON object carries ``reservation`` (the name), ``index`` (the lease's stable
position, 1-based) and ``metadata`` (the user's dict).
"""

import json

MARKER_PREFIX = '[ipamkit:'
MARKER_SUFFIX = ']'


class MetadataError(ValueError):
    pass


def dumps(data):
    """Canonical compact JSON: sorted keys, no spaces, non-ASCII kept."""
    try:
        return json.dumps(data, sort_keys=True, separators=(',', ':'), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise MetadataError('metadata must be JSON-serialisable: %s' % exc)


def split_marked(value):
    """(user text or None, payload dict or None) from a text field that may end with a marker."""
    if value is None:
        return None, None
    text = str(value)
    stripped = text.rstrip()
    start = stripped.rfind(MARKER_PREFIX)
    if start < 0 or not stripped.endswith(MARKER_SUFFIX):
        return (text or None), None
    raw = stripped[start + len(MARKER_PREFIX):-len(MARKER_SUFFIX)]
    try:
        payload = json.loads(raw)
    except ValueError:
        return (text or None), None
    if not isinstance(payload, dict):
        return (text or None), None
    user = stripped[:start].rstrip()
    return (user or None), payload


def join_marked(text, payload):
    """The field value holding ``text`` followed by the marker for ``payload`` (no marker when None)."""
    text = (text or '').rstrip()
    if payload is None:
        return text or None
    marker = MARKER_PREFIX + dumps(payload) + MARKER_SUFFIX
    return '%s %s' % (text, marker) if text else marker


def parse_field_json(value):
    """A payload dict from a custom field that holds JSON (None when empty or not ours)."""
    if value is None or value == '':
        return None
    try:
        payload = json.loads(str(value))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def read_payload(record, text_field, custom_field=None):
    """The payload stored on a phpIPAM record, from ``custom_field`` when named, else from ``text_field``."""
    if custom_field:
        return parse_field_json(record.get(custom_field))
    return split_marked(record.get(text_field))[1]


def user_text(record, text_field, custom_field=None):
    """The user's own text of ``text_field`` (the marker removed when metadata lives there)."""
    if custom_field:
        return record.get(text_field)
    return split_marked(record.get(text_field))[0]


def write_fields(text_field, text, payload, custom_field=None):
    """The phpIPAM fields that store ``text`` and ``payload``."""
    if custom_field:
        return {text_field: text, custom_field: None if payload is None else dumps(payload)}
    return {text_field: join_marked(text, payload)}
