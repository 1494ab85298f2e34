# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network map's files: which to write, rendering with Graphviz ``dot``, and writing only what changed.

The caller passes how to run a command and how to move a file into place (AnsibleModule's ``run_command`` and
``atomic_move``), so nothing here imports AnsibleModule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible_collections.ipamkit.phpipam.plugins.module_utils.network_map_html import build_html

FORMATS = ('svg', 'png', 'html')
DEFAULT_FORMATS = ('svg', 'html')
# What each file is rendered from: the page embeds the SVG, so it needs dot too.
NEEDS_DOT = frozenset(FORMATS)


class OutputError(Exception):
    """A file could not be rendered or written: the message names it."""


def plan_formats(requested, dot_found):
    """(formats to write besides the DOT file, warning or None); raises OutputError when they cannot be made.

    ``requested`` None means the default: SVG and the HTML page when ``dot`` is installed, else the DOT file alone
    with a warning. An explicit list that needs ``dot`` fails without it: someone who asked for a picture should not
    get a green run without one.
    """
    if requested is None:
        if dot_found:
            return list(DEFAULT_FORMATS), None
        return [], ('Graphviz dot was not found: only the DOT file was written. Install Graphviz (Debian/Ubuntu '
                    'package graphviz) for the SVG, PNG and HTML map, or render the DOT file elsewhere.')
    formats = []
    for fmt in requested:
        if fmt not in FORMATS:
            raise OutputError('formats: %r is not one of %s' % (fmt, ', '.join(FORMATS)))
        if fmt not in formats:
            formats.append(fmt)
    if not dot_found and any(fmt in NEEDS_DOT for fmt in formats):
        raise OutputError('formats %s need Graphviz dot, which was not found on PATH: install Graphviz (Debian/Ubuntu '
                          'package graphviz) or ask for formats: [] to write the DOT file only'
                          % ', '.join(formats))
    return formats, None


def file_paths(dest, formats):
    """{'dot': '<dest>.dot', fmt: '<dest>.<fmt>'} for the formats asked for."""
    paths = {'dot': dest + '.dot'}
    for fmt in formats:
        paths[fmt] = '%s.%s' % (dest, fmt)
    return paths


def check_destination(dest):
    """Problems with ``dest`` (the files' path without extension) before anything is rendered, or None."""
    if not dest or dest.endswith(os.sep):
        return 'dest %r: give a file path without extension, such as /srv/maps/network' % (dest,)
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        return 'dest %r: the directory %s does not exist' % (dest, directory)
    return None


def render(run_command, dot_bin, dot_text, fmt):
    """Graphviz's rendering of ``dot_text`` as ``fmt`` (svg, png), as bytes."""
    rc, out, err = run_command([dot_bin, '-T' + fmt], data=dot_text, binary_data=True, encoding=None)
    if rc != 0:
        if isinstance(err, bytes):
            err = err.decode('utf-8', 'replace')
        raise OutputError('Graphviz dot -T%s failed (exit %s): %s' % (fmt, rc, (err or '').strip()[:2000]))
    if not out:
        raise OutputError('Graphviz dot -T%s wrote nothing' % fmt)
    return out


def read_existing(path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if not os.path.exists(path):
            return None
        raise OutputError('cannot read %s: %s' % (path, exc))


def write_if_changed(path, content, check_mode, atomic_move):
    """Write ``content`` (bytes) to ``path`` through a temporary file and ``atomic_move``, unless it is already
    there or in check mode; True when the file's content changes (or would)."""
    if read_existing(path) == content:
        return False
    if check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle, temp_path = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
        with os.fdopen(handle, 'wb') as temp:
            temp.write(content)
    except (IOError, OSError) as exc:
        raise OutputError('cannot write %s: %s' % (path, exc))
    atomic_move(temp_path, path)
    return True


def render_files(graph, formats, dot_bin, run_command):
    """{format: bytes} for the DOT file and ``formats`` of ``graph`` (a NetworkMap); SVG is rendered once for both
    the SVG file and the page."""
    contents = {'dot': graph.dot.encode('utf-8')}
    if 'svg' in formats or 'html' in formats:
        svg = render(run_command, dot_bin, graph.dot, 'svg')
        if 'svg' in formats:
            contents['svg'] = svg
        if 'html' in formats:
            contents['html'] = build_html(svg.decode('utf-8'), graph, graph.title, graph.stamp).encode('utf-8')
    if 'png' in formats:
        contents['png'] = render(run_command, dot_bin, graph.dot, 'png')
    return contents


def write_files(paths, contents, check_mode, atomic_move):
    """Write each changed file (DOT first); returns the paths that changed (or would, in check mode)."""
    order = ['dot'] + sorted(fmt for fmt in contents if fmt != 'dot')
    return [paths[fmt] for fmt in order if write_if_changed(paths[fmt], contents[fmt], check_mode, atomic_move)]
