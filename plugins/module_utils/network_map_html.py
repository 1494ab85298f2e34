# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network map's HTML page: Graphviz's SVG inline, a search box and per-host details, in one file.

Nothing is loaded from elsewhere (no script, style sheet or font from a CDN), so the page works offline and from
a file:// URL. Text from phpIPAM reaches the page only two ways, both safe: inside the SVG, which Graphviz has
XML-escaped, and as JSON in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&`` written as
``\\u003c``-style escapes; the script puts it on the page with ``textContent``, never as HTML.

The page reads ``#search=<text>`` and ``#node=<id>`` from its URL, so a link (or a test) can open it searched or
with a host's details shown. When its script has run, ``<body>`` has ``data-map-ready="yes"``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from html import escape as _html_escape

_SVG_START = re.compile(r'<svg[\s>]')

_CSS = u"""
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 Helvetica, Arial, sans-serif; color: #263238; background: #eceff1;
       display: flex; flex-direction: column; height: 100vh; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 8px 14px; background: #263238;
         color: #fff; }
header h1 { font-size: 17px; margin: 0 12px 0 0; font-weight: 600; }
header input { font-size: 14px; padding: 5px 8px; width: 320px; border-radius: 4px; border: 1px solid #90a4ae; }
header button { font-size: 13px; padding: 4px 9px; border-radius: 4px; border: 1px solid #90a4ae; background: #eceff1;
                cursor: pointer; }
header .counts, header .stamp { font-size: 12px; color: #cfd8dc; }
#map-count { font-size: 13px; min-width: 7em; }
main { flex: 1; display: flex; min-height: 0; }
#map-view { flex: 1; overflow: auto; background: #fff; }
#map-view svg { display: block; }
#map-details { width: 340px; overflow: auto; padding: 12px 14px; background: #fafafa; border-left: 1px solid #cfd8dc; }
#map-details h2 { font-size: 15px; margin: 0 0 8px; word-break: break-all; }
#map-details table { border-collapse: collapse; width: 100%; }
#map-details th { text-align: left; vertical-align: top; padding: 3px 8px 3px 0; color: #546e7a; font-weight: 600;
                  white-space: nowrap; }
#map-details td { padding: 3px 0; word-break: break-word; }
#map-details .hint { color: #78909c; }
#map-details .problem { color: #c62828; }
#map-details ul { margin: 4px 0; padding-left: 18px; }
.status { display: inline-block; padding: 0 6px; border-radius: 3px; border: 1px solid #90a4ae; }
.status-alive { background: #c8e6c9; } .status-warning { background: #ffe0b2; }
.status-offline { background: #ffcdd2; } .status-never { background: #eeeeee; }
svg g.node { cursor: pointer; }
svg.searching g.node:not(.match):not(.legend), svg.searching g.edge:not(#legend_edge) { opacity: 0.18; }
svg g.node.match > g > a > path, svg g.node.match > g > a > polygon,
svg g.node.match > path, svg g.node.match > polygon { stroke: #d500f9; stroke-width: 4px; }
svg g.node.selected > g > a > path, svg g.node.selected > g > a > polygon,
svg g.node.selected > path, svg g.node.selected > polygon { stroke: #304ffe; stroke-width: 4px; }
"""

_SCRIPT = u"""
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('map-data').textContent);
  var view = document.getElementById('map-view');
  var svg = view.querySelector('svg');
  var box = document.getElementById('map-search');
  var countOut = document.getElementById('map-count');
  var panel = document.getElementById('map-details');
  var nodes = data.nodes;
  var natural = svg ? { w: svg.width.baseVal.value, h: svg.height.baseVal.value } : null;
  var zoom = 1;
  var selected = null;

  Array.prototype.forEach.call(document.querySelectorAll('svg g.node'), function (g) {
    if (g.id.indexOf('legend_') === 0) { g.classList.add('legend'); }
  });

  function element(tag, text, cls) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) { el.textContent = String(text); }
    if (cls) { el.className = cls; }
    return el;
  }

  function row(table, name, value, cls) {
    if (value === undefined || value === null || value === '') { return; }
    var tr = element('tr');
    tr.appendChild(element('th', name));
    var td = element('td');
    if (value instanceof Node) { td.appendChild(value); } else { td.textContent = String(value); }
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    table.appendChild(tr);
  }

  function statusBadge(status) {
    return element('span', status, 'status status-' + status);
  }

  function hostList(hosts) {
    var ul = element('ul');
    hosts.forEach(function (h) {
      var li = element('li', h.ip + (h.hostname ? ' ' + h.hostname : '') + ' (' + h.status + ')');
      ul.appendChild(li);
    });
    return ul;
  }

  function show(id) {
    var entry = nodes[id];
    if (!entry) { return; }
    if (selected) { selected.classList.remove('selected'); }
    selected = document.getElementById(id);
    if (selected) { selected.classList.add('selected'); }
    panel.textContent = '';
    var title = entry.hostname || entry.ip || entry.subnet || entry.hop || id;
    panel.appendChild(element('h2', title));
    var table = element('table');
    if (entry.kind === 'host' || entry.kind === 'jump host') {
      row(table, 'IP', entry.ip);
      row(table, 'hostname', entry.hostname);
      row(table, 'MAC', entry.mac);
      row(table, 'status', entry.status ? statusBadge(entry.status) : null);
      row(table, 'last seen', entry.last_seen || (entry.status ? 'never' : null));
      row(table, 'description', entry.description);
      row(table, 'device', entry.device);
      row(table, 'is device', entry.is_device);
      row(table, 'section', entry.section);
      row(table, 'subnet', entry.subnet);
      row(table, 'tag', entry.tag);
      row(table, 'gateway', entry.gateway ? 'yes' : null);
      row(table, 'SSH user', entry.ssh_user);
      if (entry.jump_path) {
        var target = (entry.ssh_user ? entry.ssh_user + '@' : '') + entry.ip;
        row(table, 'jump path', entry.jump_path.length ? entry.jump_path.concat([target]).join(' \\u2192 ')
                                                       : 'direct');
      }
      row(table, 'jump problem', entry.jump_problem, 'problem');
      row(table, 'hop', entry.hop);
      row(table, 'note', entry.note, 'hint');
    } else if (entry.kind === 'subnet') {
      row(table, 'subnet', entry.subnet);
      row(table, 'description', entry.description);
      row(table, 'section', entry.section);
      row(table, 'VLAN', entry.vlan === null ? null : entry.vlan + (entry.vlan_name ? ' (' + entry.vlan_name + ')' : ''));
      row(table, 'hosts', entry.hosts);
    } else if (entry.kind === 'more') {
      row(table, 'subnet', entry.subnet);
      row(table, 'section', entry.section);
      row(table, 'not drawn', hostList(entry.hosts));
    }
    panel.appendChild(table);
  }

  function terms(text) {
    return text.toLowerCase().split(/\\s+/).filter(function (t) { return t.length > 0; });
  }

  function search(text) {
    var wanted = terms(text);
    var hits = {};
    var first = null;
    var count = 0;
    if (wanted.length) {
      data.search.forEach(function (item) {
        var haystack = item[1];
        if (wanted.every(function (t) { return haystack.indexOf(t) >= 0; })) {
          count += 1;
          if (!hits[item[0]]) { hits[item[0]] = true; if (first === null) { first = item[0]; } }
        }
      });
    }
    if (svg) {
      svg.classList.toggle('searching', wanted.length > 0);
      Array.prototype.forEach.call(svg.querySelectorAll('g.node'), function (g) {
        g.classList.toggle('match', !!hits[g.id]);
      });
    }
    countOut.textContent = wanted.length ? count + (count === 1 ? ' match' : ' matches') : '';
    return first;
  }

  function reveal(id) {
    var el = document.getElementById(id);
    if (el && el.scrollIntoView) { el.scrollIntoView({ block: 'nearest', inline: 'nearest' }); }
  }

  function setZoom(factor) {
    if (!natural) { return; }
    zoom = Math.max(0.05, Math.min(4, factor));
    svg.style.width = (natural.w * zoom) + 'px';
    svg.style.height = (natural.h * zoom) + 'px';
  }

  box.addEventListener('input', function () { search(box.value); });
  box.addEventListener('keydown', function (event) {
    if (event.key === 'Enter') {
      var first = search(box.value);
      if (first) { show(first); reveal(first); }
    }
  });
  if (svg) {
    svg.addEventListener('click', function (event) {
      var g = event.target.closest ? event.target.closest('g.node') : null;
      if (g && nodes[g.id]) { show(g.id); }
    });
  }
  document.getElementById('zoom-in').addEventListener('click', function () { setZoom(zoom * 1.25); });
  document.getElementById('zoom-out').addEventListener('click', function () { setZoom(zoom / 1.25); });
  document.getElementById('zoom-fit').addEventListener('click', function () {
    if (natural) { setZoom((view.clientWidth - 4) / natural.w); }
  });

  // A map a little wider than the window is shown whole; a big one at full size, where its text is readable.
  if (natural && natural.w > view.clientWidth && view.clientWidth / natural.w >= 0.6) {
    setZoom((view.clientWidth - 4) / natural.w);
  }

  var hash = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (part) {
    var at = part.indexOf('=');
    if (at > 0) { hash[part.slice(0, at)] = decodeURIComponent(part.slice(at + 1).replace(/\\+/g, ' ')); }
  });
  if (hash.search) {
    box.value = hash.search;
    var found = search(hash.search);
    if (found && !hash.node) { show(found); reveal(found); }
  }
  if (hash.node) { show(hash.node); reveal(hash.node); }
  document.body.setAttribute('data-map-ready', 'yes');
})();
"""


def escape(text):
    return _html_escape(u'%s' % (text,), quote=True)


def json_for_script(value):
    """JSON that cannot end its <script> element or open another: <, > and & as \\u escapes."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(',', ':'))
    return (text.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')
            .replace(u'\u2028', '\\u2028').replace(u'\u2029', '\\u2029'))


def inline_svg(svg_text):
    """Graphviz's SVG document without its XML declaration, DOCTYPE and comments before <svg>."""
    match = _SVG_START.search(svg_text or '')
    if match is None:
        raise ValueError('the SVG from Graphviz has no <svg> element')
    return svg_text[match.start():].strip()


def build_html(svg_text, network_map, title, stamp=None):
    """The page: ``svg_text`` (Graphviz's output), and the details and search entries of ``network_map``."""
    data = {
        'nodes': network_map.details,
        'search': network_map.search,
        'counts': network_map.counts,
    }
    counts = network_map.counts
    summary = u'%d hosts in %d subnets of %d sections' % (counts['hosts'], counts['subnets'], counts['sections'])
    if counts.get('hosts_hidden'):
        summary += u' (%d not drawn: max_hosts_per_subnet)' % counts['hosts_hidden']
    parts = [
        u'<!DOCTYPE html>',
        u'<html lang="en">',
        u'<head>',
        u'<meta charset="utf-8">',
        u'<meta name="viewport" content="width=device-width, initial-scale=1">',
        u'<title>%s</title>' % escape(title),
        u'<style>%s</style>' % _CSS,
        u'</head>',
        u'<body>',
        u'<header>',
        u'<h1>%s</h1>' % escape(title),
        u'<input id="map-search" type="search" placeholder="Search hosts: name, IP, MAC, description, device..." '
        u'autocomplete="off" aria-label="Search hosts">',
        u'<span id="map-count" aria-live="polite"></span>',
        u'<button id="zoom-out" type="button" title="Zoom out">&minus;</button>',
        u'<button id="zoom-in" type="button" title="Zoom in">+</button>',
        u'<button id="zoom-fit" type="button" title="Fit to width">fit</button>',
        u'<span class="counts">%s</span>' % escape(summary),
    ]
    if stamp:
        parts.append(u'<span class="stamp">%s</span>' % escape(stamp))
    parts += [
        u'</header>',
        u'<main>',
        u'<div id="map-view">',
        inline_svg(svg_text),
        u'</div>',
        u'<aside id="map-details"><p class="hint">Click a host or a subnet for its details; '
        u'search by name, IP, MAC, description, device, subnet or section (Enter jumps to the first match).</p></aside>',
        u'</main>',
        u'<script type="application/json" id="map-data">%s</script>' % json_for_script(data),
        u'<script>%s</script>' % _SCRIPT,
        u'</body>',
        u'</html>',
        u'',
    ]
    return u'\n'.join(parts)
