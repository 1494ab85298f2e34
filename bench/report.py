# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn a results JSON of bench/run.py into the table of docs/performance.md and its plot (SVG, drawn by hand:
no plotting library is needed)."""

import json
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
DOC = os.path.join(CHECKOUT, 'docs', 'performance.md')
PLOT = os.path.join(CHECKOUT, 'docs', 'performance-cycle-time.svg')
START, END = '<!-- bench:results:start -->', '<!-- bench:results:end -->'
SERIES = (('a', 'raw nmap (a)', '#444444'), ('b', 'cycle 1 (b)', '#d62728'), ('c', 'cycle 2 (c)', '#1f77b4'),
          ('d', 'cycle 3 (d)', '#2ca02c'), ('g', 'plain client writes (g)', '#9467bd'))


def targets(name, rows, all_results):
    """The issue's targets that concern this workload, each with PASS/FAIL and the figures."""
    found = []
    a, b, c, d, g = (rows.get(k) for k in 'abcdg')
    if a and c:
        limit = 1.3 * a['wall']['median'] + 5
        found.append({'target': '(c) <= 1.3 x (a) + 5 s', 'pass': c['wall']['median'] <= limit,
                      'figures': '(c) %.1f s vs limit %.1f s (a = %.1f s)' % (
                          c['wall']['median'], limit, a['wall']['median'])})
    if b and g and b.get('apply_seconds') and b['address_writes']:
        upload = b['address_writes'] / b['apply_seconds']['median']
        ceiling = g['writes_per_second']['median']
        found.append({'target': '(b) upload >= 80 % of (g) write throughput', 'pass': upload >= 0.8 * ceiling,
                      'figures': '(b) %.1f writes/s (%d writes in %.2f s) vs (g) %.1f writes/s: %.0f %%' % (
                          upload, b['address_writes'], b['apply_seconds']['median'], ceiling, 100 * upload / ceiling)})
    if d:
        found.append({'target': '(d) zero address writes, changed false',
                      'pass': d['http_address_writes'] == 0 and not d['changed'],
                      'figures': '%d address writes at phpIPAM, changed %s' % (d['http_address_writes'], d['changed'])})
    if name == 'W2':
        peaks = [rows[r]['peak_rss_mb']['max'] for r in 'bcde' if r in rows and rows[r]['peak_rss_mb']]
        pss = [rows[r]['peak_pss_mb']['max'] for r in 'bcde' if r in rows and rows[r]['peak_pss_mb']]
        if peaks:
            found.append({'target': 'peak RSS <= 250 MB on W2 (process tree, rows b-e)', 'pass': max(pss) <= 250,
                          'figures': 'PSS sum %.0f MB; RSS sum %.0f MB (shared pages counted once per process)'
                                     % (max(pss), max(peaks))})
    if name == 'W3' and 'W1' in all_results:
        w1 = all_results['W1']['rows']
        for row in 'bcd':
            if row in rows and row in w1:
                found.append({'target': 'tasks per cycle (%s) W3 == W1' % row,
                              'pass': rows[row]['tasks_executed'] == w1[row]['tasks_executed'],
                              'figures': 'W1 %s, W3 %s' % (w1[row]['tasks_executed'], rows[row]['tasks_executed'])})
    if name == 'W2' and 'W1' in all_results and d and 'd' in all_results['W1']['rows']:
        w1d = sum(all_results['W1']['rows']['d']['requests'].values())
        w2d = sum(d['requests'].values())
        found.append({'target': 'requests do not grow with known addresses: (d) W2 == W1',
                      'pass': w1d == w2d,
                      'figures': 'W1 (%d known) %d requests, W2 (%d known) %d requests' % (
                          all_results['W1']['known_after'], w1d, all_results['W2']['known_after'], w2d)})
    return found


def _num(value, digits=1):
    return '-' if value is None else ('%.*f' % (digits, value))


def _minmed(stats, digits=1):
    if not stats:
        return '-'
    return '%s / %s' % (_num(stats['min'], digits), _num(stats['median'], digits))


def _requests(requests):
    if not requests:
        return '0'
    order = ('GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS')
    parts = ['%s %d' % (m, requests[m]) for m in order if requests.get(m)]
    parts += ['%s %d' % (m, n) for m, n in sorted(requests.items()) if m not in order]
    return ', '.join(parts)


def table(results):
    """The results as Markdown: one table per workload, then its targets."""
    lines = []
    for name, workload in results['workloads'].items():
        lines.append('### %s: %s' % (name, workload['title']))
        lines.append('')
        lines.append('%d subnet(s), %d addresses answering, %d known to phpIPAM before cycle 1.' % (
            workload['subnets'], workload['hosts_up'], workload['known_before']))
        lines.append('')
        lines.append('| row | wall s (min / median) | x (a) | HTTP requests | address writes | tasks | '
                     'peak RSS MB (sum) | peak PSS MB | phpIPAM CPU s (min / median) |')
        lines.append('|---|---|---|---|---|---|---|---|---|')
        for row, data in workload['rows'].items():
            label = '(%s) %s' % (row, data['label'])
            extra = ''
            if row == 'g' and data.get('writes_per_second'):
                extra = ', %s writes/s' % _num(data['writes_per_second']['median'])
            if row in 'bc' and data.get('apply_seconds') and data['address_writes']:
                extra = ', upload %s writes/s' % _num(data['address_writes'] / data['apply_seconds']['median'])
            lines.append('| %s | %s | %s | %s | %s%s | %s | %s | %s | %s |' % (
                label, _minmed(data['wall'], 2), _num(data.get('ratio'), 2), _requests(data['requests']),
                data['http_address_writes'], extra, data['tasks_executed'] if data['tasks_executed'] else '-',
                _num((data['peak_rss_mb'] or {}).get('median'), 0), _num((data['peak_pss_mb'] or {}).get('median'), 0),
                _minmed(data['phpipam_cpu'], 1)))
        if 'f' in workload['rows'] and workload['rows']['f'].get('relay_peak_rss_mb'):
            lines.append('')
            lines.append('(f): the relay process tree (ansible-rulebook, Java) peaked at %s MB RSS, not counted above.'
                         % _num(workload['rows']['f']['relay_peak_rss_mb']['median'], 0))
        lines.append('')
        for target in workload['targets']:
            lines.append('- **%s** %s: %s' % ('PASS' if target['pass'] else 'FAIL', target['target'], target['figures']))
        lines.append('')
    return '\n'.join(lines).rstrip() + '\n'


def _version(text):
    """The first dotted version number in a tool's --version line."""
    match = re.search(r'\d+\.\d+(\.\d+)?', text or '')
    return match.group(0) if match else (text or '?')


def header(results, path):
    machine, versions = results['machine'], results['versions']
    sources = results.get('sources') or [{
        'file': os.path.relpath(path, CHECKOUT), 'workloads': sorted(results['workloads']), 'note': results.get('note'),
        'settings': results['settings'], 'started': results['started'], 'finished': results['finished'],
        'load_before': results.get('load_before'), 'load_after': results.get('load_after'), 'versions': versions}]
    lines = [
        '- Machine: %s, %s CPUs, %s GB RAM, Linux %s (%s).' % (
            machine['cpu'], machine['cpus'], machine['memory_gb'], machine['kernel'], machine['os']),
        '- Versions: phpIPAM %s, nmap %s, MariaDB %s, PHP %s, Apache %s, ansible-core %s, Python %s.' % (
            versions['phpipam'], _version(versions['nmap']), _version(versions['mariadb']), _version(versions['php']),
            _version(versions['apache']), versions['ansible-core'], versions['python']),
    ]
    for source in sources:
        settings = source['settings']
        lines.append('- %s: `%s`, %s to %s, %d repeat(s) per row, collection at %s%s, agent settings: defaults%s; '
                     'load average before %s, after %s.%s' % (
                         ', '.join(source['workloads']), source['file'], source['started'], source['finished'],
                         settings['repeats'], (source['versions']['collection_commit'] or '?')[:12],
                         ' (with uncommitted changes)' if source['versions']['worktree_dirty'] else '',
                         ''.join(', %s=%s' % item for item in sorted(settings['agent_settings'].items())),
                         ', '.join('%.2f' % v for v in source.get('load_before') or []),
                         ', '.join('%.2f' % v for v in source.get('load_after') or []),
                         ' %s.' % source['note'].rstrip('.') if source.get('note') else ''))
    return '\n'.join(lines) + '\n'


def svg(results):
    """Cycle time against hosts answering, log x, linear y, one line per row."""
    width, height, left, right, top, bottom = 720, 420, 70, 190, 30, 50
    points = {}
    for workload in results['workloads'].values():
        for row, _label, _colour in SERIES:
            data = workload['rows'].get(row)
            if data and data['wall']:
                points.setdefault(row, []).append((workload['hosts_up'], data['wall']['median']))
    xs = [x for series in points.values() for x, _y in series] or [1, 10]
    ys = [y for series in points.values() for _x, y in series] or [1]
    xmin, xmax = 10 ** math.floor(math.log10(min(xs))), 10 ** math.ceil(math.log10(max(xs)))
    ymax = max(ys) * 1.1
    step = 10 ** math.floor(math.log10(ymax)) if ymax > 0 else 1
    if ymax / step < 3:
        step /= 2.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x):
        return left + plot_w * (math.log10(x) - math.log10(xmin)) / (math.log10(xmax) - math.log10(xmin))

    def py(y):
        return top + plot_h * (1 - y / ymax)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (width, height, width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14">Scan cycle wall time (median) against addresses answering</text>' % left]
    tick = 0.0
    while tick <= ymax:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#dddddd"/>' % (left, py(tick), left + plot_w, py(tick)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (left - 6, py(tick) + 4, tick))
        tick += step
    decade = xmin
    while decade <= xmax:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#dddddd"/>' % (px(decade), top, px(decade), top + plot_h))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (px(decade), top + plot_h + 18, decade))
        decade *= 10
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' % (left, top, plot_w, plot_h))
    out.append('<text x="%d" y="%d" text-anchor="middle">addresses answering (log scale): W1, W3, W2</text>'
               % (left + plot_w / 2, height - 10))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">seconds</text>'
               % (top + plot_h / 2, top + plot_h / 2))
    for index, (row, label, colour) in enumerate(SERIES):
        series = sorted(points.get(row, []))
        if not series:
            continue
        path = ' '.join('%s%.1f,%.1f' % ('M' if i == 0 else 'L', px(x), py(y)) for i, (x, y) in enumerate(series))
        out.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"/>' % (path, colour))
        for x, y in series:
            out.append('<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>' % (px(x), py(y), colour))
        ly = top + 16 + index * 20
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                   % (width - right + 14, ly, width - right + 38, ly, colour))
        out.append('<text x="%d" y="%d">%s</text>' % (width - right + 44, ly + 4, label))
    out.append('</svg>')
    return '\n'.join(out) + '\n'


def update_docs(results, path, doc=DOC, plot=PLOT):
    """Replace the generated part of docs/performance.md and rewrite the plot."""
    with open(doc, encoding='utf-8') as handle:
        text = handle.read()
    pattern = re.compile(re.escape(START) + '.*?' + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError('%s has no %s ... %s block' % (doc, START, END))
    generated = '%s\n<!-- generated by bench/report.py from %s: do not edit by hand -->\n\n%s\n%s%s' % (
        START, os.path.relpath(path, CHECKOUT), header(results, path), table(results), END)
    text = pattern.sub(lambda _m: generated, text)
    with open(doc, 'w', encoding='utf-8') as handle:
        handle.write(text)
    with open(plot, 'w', encoding='utf-8') as handle:
        handle.write(svg(results))


def merge(paths):
    """One results dict from several runs (say W1 and W3 with the defaults, W2 with a setting of its own).

    Workloads come from the file that has them (a later file wins); targets are evaluated again, since
    some compare workloads; the settings and notes of every run are kept.
    """
    runs = []
    for path in paths:
        with open(path, encoding='utf-8') as handle:
            runs.append((path, json.load(handle)))
    merged = dict(runs[0][1])
    merged['workloads'] = {}
    merged['sources'] = []
    for path, results in runs:
        merged['sources'].append({'file': os.path.relpath(os.path.abspath(path), CHECKOUT),
                                  'workloads': sorted(results['workloads']), 'settings': results['settings'],
                                  'note': results.get('note'), 'started': results['started'],
                                  'finished': results['finished'], 'load_before': results.get('load_before'),
                                  'load_after': results.get('load_after'), 'versions': results['versions']})
        merged['workloads'].update(results['workloads'])
        merged['finished'] = results['finished']
        merged['load_after'] = results.get('load_after')
    merged['workloads'] = dict(sorted(merged['workloads'].items()))
    for name, workload in merged['workloads'].items():
        workload['targets'] = targets(name, workload['rows'], merged['workloads'])
    return merged


def main(argv=None):
    """report.py RESULTS.json [...]: regenerate the docs from recorded results (several files are merged)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.stderr.write('usage: report.py bench/results/bench-<time>.json [more results files]\n')
        return 2
    if len(argv) == 1:
        with open(argv[0], encoding='utf-8') as handle:
            results = json.load(handle)
        update_docs(results, os.path.abspath(argv[0]))
        return 0
    results = merge(argv)
    path = os.path.join(os.path.dirname(os.path.abspath(argv[-1])), 'merged-%s.json' % os.path.basename(argv[-1])[6:-5])
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(results, handle, indent=1, sort_keys=True, default=str)
    update_docs(results, path)
    sys.stdout.write(table(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
