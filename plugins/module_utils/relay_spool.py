# -*- coding: utf-8 -*-
# Copyright (c) ipamkit developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan relay's spool: where accepted reports wait until they are applied to phpIPAM.

The relay's listener answers 202 only after ``accept`` has put the report on disk (written to
a temporary file, fsynced, renamed into ``incoming/``, the directory fsynced), so a crash or a
restart after the answer loses nothing. The applier takes the spool lock, applies what is in
``incoming/`` and moves each report to ``done/`` or ``rejected/`` with the outcome. A report id
is applied once: ``accept`` answers ``duplicate`` for an id that is anywhere in the spool.

Layout under the spool directory::

    incoming/<report_id>.json   accepted, not yet applied (an envelope, below)
    done/<report_id>.json       applied; the envelope plus "outcome"
    rejected/<report_id>.json   refused by a check; the envelope plus "outcome" with the reason
    tmp/                        partial writes (never read)
    .lock                       flock held by the applier while it drains the spool

An envelope is ``{"report_id", "agent_code", "received_at", "remote", "report"}``:
``agent_code`` is the code of the agent whose own token carried the report (None with the
shared token).
"""

import contextlib
import fcntl
import json
import os
import re
import time

REPORT_ID_RE = re.compile(r'^[0-9a-f]{32}$')
STATES = ('incoming', 'done', 'rejected')


class SpoolError(Exception):
    """The spool directory cannot be used, or an entry in it is damaged."""


def _utc_now():
    """UTC now with milliseconds: the spool's timestamps time the relay's own work."""
    now = time.time()
    return '%s.%03dZ' % (time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(now)), int(now * 1000) % 1000)


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool(object):
    """A spool directory (created with mode 0700: reports name the network's hosts)."""

    def __init__(self, path):
        self.path = os.path.abspath(path)

    def _dir(self, state):
        return os.path.join(self.path, state)

    def entry_path(self, state, report_id):
        if not REPORT_ID_RE.match(report_id or ''):
            raise SpoolError('not a report id: %r' % (report_id,))
        return os.path.join(self._dir(state), report_id + '.json')

    def prepare(self):
        """Create the directories; fail with the reason when the spool cannot be written."""
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
            for name in STATES + ('tmp',):
                os.makedirs(self._dir(name), mode=0o700, exist_ok=True)
        except OSError as exc:
            raise SpoolError('spool directory %s: %s' % (self.path, exc.strerror or exc))
        if not os.access(self._dir('incoming'), os.W_OK):
            raise SpoolError('spool directory %s is not writable by this user (uid %d)' % (self.path, os.getuid()))
        return self

    # ------------------------------------------------------------------------ writing

    def _write_atomic(self, target, data):
        tmp = os.path.join(self._dir('tmp'), '%s.%d.%d' % (os.path.basename(target), os.getpid(), time.monotonic_ns()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(os.path.dirname(target))

    def state(self, report_id):
        """'incoming', 'done', 'rejected', or None when the id is not in the spool."""
        for name in STATES:
            if os.path.exists(self.entry_path(name, report_id)):
                return name
        return None

    def accept(self, report, agent_code=None, remote=None):
        """Store ``report`` (a validated dict) durably. Returns 'accepted' or 'duplicate'.

        A duplicate (the same report id already spooled, applied or rejected) is not stored
        again: an agent that retries a POST whose answer it never got is told it arrived.
        """
        report_id = report.get('report_id')
        with self._locked('.accept.lock'):
            if self.state(report_id) is not None:
                return 'duplicate'
            envelope = {'report_id': report_id, 'agent_code': agent_code, 'received_at': _utc_now(),
                        'remote': remote, 'report': report}
            self._write_atomic(self.entry_path('incoming', report_id),
                               json.dumps(envelope, separators=(',', ':')).encode('utf-8'))
        return 'accepted'

    # ------------------------------------------------------------------------ reading

    def load(self, report_id, state='incoming'):
        """The envelope of ``report_id`` in ``state``; SpoolError when it is unreadable."""
        path = self.entry_path(state, report_id)
        try:
            with open(path, 'rb') as handle:
                envelope = json.loads(handle.read().decode('utf-8'))
        except (OSError, ValueError) as exc:
            raise SpoolError('spooled report %s: %s' % (path, exc))
        if not isinstance(envelope, dict) or not isinstance(envelope.get('report'), dict):
            raise SpoolError('spooled report %s: not an envelope with a report' % path)
        return envelope

    def ids(self, state='incoming'):
        try:
            names = os.listdir(self._dir(state))
        except FileNotFoundError:
            return []
        return sorted(name[:-5] for name in names if name.endswith('.json') and REPORT_ID_RE.match(name[:-5]))

    def pending(self):
        """Envelopes waiting in incoming/, in the order to apply them.

        Oldest scan first (the report's generated_at, then when it arrived), so that several
        reports of one agent are applied in the order they were made and the replay check,
        which refuses a report older than the subnet's last scan, does not refuse the newer.
        An envelope that cannot be read is returned as {'report_id': id, 'damaged': reason}.
        """
        entries = []
        finished = set(self.ids('done')) | set(self.ids('rejected'))
        for report_id in self.ids('incoming'):
            if report_id in finished:
                # Left over by a crash between writing the outcome and removing the copy.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.entry_path('incoming', report_id))
                continue
            try:
                entries.append(self.load(report_id))
            except SpoolError as exc:
                entries.append({'report_id': report_id, 'damaged': str(exc)})
        return sorted(entries, key=lambda env: (str((env.get('report') or {}).get('generated_at', '')),
                                                str(env.get('received_at', '')), env['report_id']))

    # ------------------------------------------------------------------------ outcomes

    def _finish(self, report_id, state, outcome):
        source = self.entry_path('incoming', report_id)
        try:
            envelope = self.load(report_id)
        except SpoolError:
            envelope = {'report_id': report_id}
        envelope['outcome'] = dict(outcome, state=state, at=_utc_now())
        # Write the outcome first, then drop the incoming copy: a crash in between leaves the
        # report in both places, and pending() drops the copy; a crash before leaves it
        # pending, so it is applied again (the same writes) rather than lost.
        self._write_atomic(self.entry_path(state, report_id),
                           json.dumps(envelope, separators=(',', ':')).encode('utf-8'))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(source)
        _fsync_dir(self._dir('incoming'))
        return envelope

    def mark_done(self, report_id, outcome=None):
        return self._finish(report_id, 'done', outcome or {})

    def mark_rejected(self, report_id, reason, outcome=None):
        return self._finish(report_id, 'rejected', dict(outcome or {}, reason=reason))

    # ------------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def _locked(self, name, blocking=True):
        fd = os.open(os.path.join(self.path, name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def drain_lock(self, blocking=True):
        """Context manager: the applier's lock (yields False when not blocking and taken)."""
        return self._locked('.lock', blocking=blocking)
