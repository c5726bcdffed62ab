"""The Store written once in SQL both engines speak; ``_sqlite`` and ``_postgres`` add how
to connect, how a transaction begins, and the few words that differ.

Every write method is one transaction (the engine's ``_write()``); reads that look at several
tables take one snapshot (``_read()``). All SQL is constant text with ``?`` placeholders.

Rollups: ``rollup(now)`` folds the raw samples of each closed minute, hour and (UTC) day into
one row per target and location (count, failures, min/avg/max and the nearest-rank
p50/p95/p99 of the duration), each step from the raw samples, so percentiles are exact. A
``rollup_marks`` row per step says up to where it has folded; folding a bucket again gives
the same row (upsert), so the call is idempotent and a crash in the middle is harmless.
``uptime`` then reads whole days, hours and minutes from rollups and only the not yet folded
edges from the raw samples.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterable

from netkit.core.errors import UsageError
from netkit.monitor import _schema as s
from netkit.monitor._records import Alert, Sample, StoredEvent, TargetInfo, Verdict
from netkit.monitor._state import MAX_ACK_TEXT, TargetState
from netkit.monitor._store import Store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = logging.getLogger("netkit.monitor.store")

MINUTE, HOUR, DAY = 60, 3600, 86400
STEPS = {"minute": MINUTE, "hour": HOUR, "day": DAY}
# A sample is committed after its run ends, up to a check's deadline plus a batch (~1 s)
# after its start time ``at``: a minute is folded only this long after it closed, so no
# late sample lands in a bucket already folded.
ROLLUP_GRACE = 180.0
# Samples folded per transaction (estimated): ~0.3 s of the writer's time on this machine,
# so the runner's batches wait that long at most; a day of 10,000 targets at 60 s (14.4 M
# samples, ~2 minutes of work) is folded a chunk at a time, not in one lock.
ROLLUP_CHUNK_ROWS = 20_000
# And at most this many targets per chunk (one SQL parameter each; both engines take more).
ROLLUP_CHUNK_TARGETS = 1000
# rollup() stops after the chunk that passes this many seconds and resumes at the next
# call (the runner calls it every minute): folding never holds the writer thread long.
ROLLUP_BUDGET = 1.0
# Samples are deleted in slices of this many seconds of history, one transaction each (20k
# samples at 10,000 targets every 60 s, a fraction of a second), so pruning a day never
# holds the write lock long enough to stall the runner's batches.
PRUNE_SLICE = 120.0
# Days of minute rollups kept: the dashboard's finest ranges (1 h, 24 h) read them; a
# 60 s target has one a minute, as many rows as its samples, so keeping them as long as
# the raw samples would almost double the store.
MINUTE_ROLLUP_DAYS = 2.0
# changed_states() hands back a watermark this far behind the store's clock: a state
# written at t may commit a little later (a 10k batch takes up to a second) and monitors'
# clocks differ; re-reading the last seconds is harmless (the decider is idempotent).
CHANGED_STATES_LAG = 5.0

_FAIL = "SUM(CASE WHEN status <> 0 THEN 1 ELSE 0 END)"


def _percentile(rank: int) -> str:
    # The nearest-rank percentile: the smallest value whose rank r (1-based, by duration)
    # has r >= p * n, i.e. r * 100 >= p100 * n (no ceil(): SQLite may lack math functions).
    return f"MIN(CASE WHEN rn * 100 >= n * {rank} THEN duration END)"


class SqlStore(Store):
    """The shared implementation; engines set ``types`` and the hooks below."""

    types: dict = s.SQLITE_TYPES
    name = "store"   # what error messages call it (the masked URL or path)

    # -- engine hooks ------------------------------------------------------------------------
    def _write(self):
        """A context manager: a cursor inside one write transaction (commit on exit)."""
        raise NotImplementedError

    def _read(self):
        """A context manager: a cursor reading one consistent snapshot."""
        raise NotImplementedError

    def _now(self, cur) -> float:
        """The store's clock (one clock for every monitor sharing it)."""
        raise NotImplementedError

    def _bucket(self, step: int) -> str:
        """SQL for the start of ``at``'s bucket of ``step`` seconds."""
        raise NotImplementedError

    def _tables(self, cur) -> set[str]:
        raise NotImplementedError

    # The FROM clause of each state's (target, location) last sample "x": states outside,
    # one index search each, never a scan of the samples (a LATERAL subquery).
    _last_samples = ("states st CROSS JOIN LATERAL (SELECT * FROM samples m WHERE m.target = st.target "
                     "AND m.location = st.location ORDER BY m.at DESC LIMIT 1) AS x")

    # The rollups read through their (step, at, ...) index.
    _rollups_by_time = "rollups"
    def _window_samples(self, targets: list[str], start: float, end: float) -> tuple[str, list]:
        """(FROM ... WHERE ..., params): these targets' samples in [start, end), read through
        the (target, at, ...) index, never every target's samples of the window by time."""
        # SQLite: INDEXED BY; a planner with sampled statistics may prefer the time index.
        return (f"samples INDEXED BY samples_target WHERE target IN ({', '.join('?' * len(targets))}) "
                "AND at >= ? AND at < ?", [*targets, start, end])

    def _fresh_statistics(self) -> None:
        """Make sure the planner knows the samples table's size (before folding)."""

    def _unindexed(self, column: str) -> str:
        """``column`` in a form the planner will not pick an index for (where we know
        better than a planner without statistics)."""
        return column

    def _lock_schema(self, cur) -> None:
        """Serialize concurrent migrations (several monitors starting at once)."""

    def _insert_samples(self, cur, rows: list[tuple]) -> None:
        cur.executemany(f"INSERT INTO samples ({s.SAMPLE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # -- life --------------------------------------------------------------------------------
    def migrate(self) -> None:
        with self._write() as cur:
            self._lock_schema(cur)
            tables = self._tables(cur)
            if "schema_version" not in tables:
                if tables:
                    raise UsageError(f"{self.name} holds other tables, not a netkit monitor store: give a new "
                                     "file, an empty database, or a schema of its own (?options=-csearch_path%3DNAME)")
                cur.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                cur.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = self._version(cur)
        if version > s.SCHEMA_VERSION:
            raise UsageError(f"{self.name} has schema version {version}, newer than this netkit knows "
                             f"({s.SCHEMA_VERSION}): run a newer netkit, or give another store")
        for number in range(version + 1, s.SCHEMA_VERSION + 1):
            self._migrate_step(number)

    def _migrate_step(self, number: int) -> None:
        with self._write() as cur:
            self._lock_schema(cur)
            if self._version(cur) >= number:   # another monitor did it meanwhile
                return
            for statement in s.MIGRATIONS[number - 1]:
                cur.execute(s.ddl(statement, self.types))
            cur.execute("UPDATE schema_version SET version = ?", (number,))
        log.info("%s: schema migrated to version %d", self.name, number)

    def schema_version(self) -> int:
        with self._read() as cur:
            return self._version(cur)

    @staticmethod
    def _version(cur) -> int:
        cur.execute("SELECT version FROM schema_version")
        row = cur.fetchone()
        return int(row[0]) if row else 0

    # -- the runner's writes -------------------------------------------------------------------
    def sync_targets(self, targets: Iterable[TargetInfo]) -> None:
        rows = [s.target_row(t) for t in targets]
        with self._write() as cur:
            now = self._now(cur)
            cur.execute("UPDATE targets SET active = 0, updated = ? WHERE active <> 0", (now,))
            cur.executemany(
                f"INSERT INTO targets ({s.TARGET_COLUMNS}, active, updated) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (id) DO UPDATE SET url = excluded.url, grp = excluded.grp, labels = excluded.labels, "
                "every = excluded.every, locations = excluded.locations, quorum = excluded.quorum, "
                "active = 1, updated = excluded.updated",
                [row + (now,) for row in rows])

    def commit(self, samples: Iterable[Sample], states: Iterable[TargetState],
               events: Iterable[StoredEvent]) -> None:
        sample_rows = self._rows(s.sample_row, samples)
        state_rows = [(st.target, self.location, s._dumps(st.to_dict())) for st in states]
        event_rows = self._rows(s.event_row, events)
        with self._write() as cur:
            if sample_rows:
                self._insert_samples(cur, sample_rows)
            if state_rows:
                now = self._now(cur)
                cur.executemany(
                    "INSERT INTO states (target, location, state, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (target, location) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                    [row + (now,) for row in state_rows])
            if event_rows:
                cur.executemany("INSERT INTO events (target, location, at, kind, data) VALUES (?, ?, ?, ?, ?)",
                                event_rows)

    def _rows(self, row, records) -> list[tuple]:
        """``row(record)`` of each record; one that cannot be stored (a time that is not a
        number) is logged and left out, so it fails alone, not its batch."""
        rows = []
        for record in records:
            try:
                rows.append(row(record))
            except (TypeError, ValueError) as exc:
                log.warning("%s: not stored, %s: %r", self.name, exc, record)
        return rows

    def load_states(self) -> dict[str, TargetState]:
        with self._read() as cur:
            cur.execute("SELECT target, state FROM states WHERE location = ?", (self.location,))
            rows = cur.fetchall()
        return {target: state for target, state in (self._state(t, text) for t, text in rows) if state}

    def _state(self, target: str, text: str) -> tuple[str, TargetState | None]:
        try:
            return target, TargetState.from_dict(s._loads(text))
        except (UsageError, ValueError, TypeError, KeyError) as exc:
            log.warning("%s: the saved state of %r is damaged, starting it afresh: %s", self.name, target, exc)
            return target, None

    # -- the decider's -------------------------------------------------------------------------
    def try_lead(self) -> bool:
        return True

    def changed_states(self, since: float) -> tuple[float, dict[str, dict[str, TargetState]]]:
        with self._read() as cur:
            now = self._now(cur)
            cur.execute("SELECT target, location, state FROM states WHERE updated > ?", (since,))
            rows = cur.fetchall()
        changed: dict[str, dict[str, TargetState]] = {}
        for target, location, text in rows:
            state = self._state(target, text)[1]
            if state is not None:
                changed.setdefault(target, {})[location] = state
        return max(since, now - CHANGED_STATES_LAG), changed

    def load_verdicts(self) -> dict[str, Verdict]:
        with self._read() as cur:
            cur.execute(f"SELECT {s.VERDICT_COLUMNS} FROM verdicts")
            return {row[0]: s.verdict_from(row) for row in cur.fetchall()}

    def commit_verdicts(self, verdicts: Iterable[Verdict], events: Iterable[StoredEvent],
                        alerts: Iterable[Alert]) -> None:
        verdicts = list(verdicts)
        event_rows = self._rows(s.event_row, events)
        alert_rows = [s.alert_row(a) for a in alerts]
        with self._write() as cur:
            now = self._now(cur)
            self._track_incidents(cur, verdicts, now)
            cur.executemany(
                f"INSERT INTO verdicts ({s.VERDICT_COLUMNS}, updated) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (target) DO UPDATE SET status = excluded.status, since = excluded.since, "
                "locations = excluded.locations, flapping = excluded.flapping, acked = excluded.acked, "
                "updated = excluded.updated",
                [s.verdict_row(v) + (now,) for v in verdicts])
            if event_rows:
                cur.executemany("INSERT INTO events (target, location, at, kind, data) VALUES (?, ?, ?, ?, ?)",
                                event_rows)
            if alert_rows:
                cur.executemany(f"INSERT INTO outbox ({s.ALERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                "ON CONFLICT (key) DO NOTHING", alert_rows)

    @staticmethod
    def _track_incidents(cur, verdicts: list[Verdict], now: float) -> None:
        """An incident opens when a verdict leaves OK, takes the worst status while open, and
        ends when the verdict is OK again."""
        cur.execute("SELECT target, start, status FROM incidents WHERE finish IS NULL")
        open_ = {target: (start, status) for target, start, status in cur.fetchall()}
        opened, worse, ended = [], [], []
        for verdict in verdicts:
            at = verdict.since if verdict.since is not None else now
            row = open_.get(verdict.target)
            if verdict.status != 0 and row is None:
                opened.append((verdict.target, at, int(verdict.status)))
                open_[verdict.target] = (at, int(verdict.status))
            elif verdict.status != 0 and row is not None and verdict.status > row[1]:
                worse.append((int(verdict.status), verdict.target, row[0]))
                open_[verdict.target] = (row[0], int(verdict.status))
            elif verdict.status == 0 and row is not None:
                ended.append((max(at, row[0]), verdict.target, row[0]))
                del open_[verdict.target]
        if opened:
            cur.executemany("INSERT INTO incidents (target, start, finish, status) VALUES (?, ?, NULL, ?) "
                            "ON CONFLICT (target, start) DO NOTHING", opened)
        if worse:
            cur.executemany("UPDATE incidents SET status = ? WHERE target = ? AND start = ?", worse)
        if ended:
            cur.executemany("UPDATE incidents SET finish = ? WHERE target = ? AND start = ?", ended)

    # -- the outbox ----------------------------------------------------------------------------
    def due_alerts(self, now: float, limit: int = 100) -> list[Alert]:
        with self._read() as cur:
            cur.execute(f"SELECT {s.ALERT_COLUMNS} FROM outbox WHERE delivered IS NULL AND next_at <= ? "
                        "ORDER BY created, key LIMIT ?", (now, int(limit)))
            return [s.alert_from(row) for row in cur.fetchall()]

    def alert_delivered(self, key: str, now: float) -> None:
        with self._write() as cur:
            cur.execute("UPDATE outbox SET delivered = ?, attempts = attempts + 1 WHERE key = ? AND delivered IS NULL",
                        (now, key))

    def alert_failed(self, key: str, next_at: float, error: str) -> None:
        with self._write() as cur:
            cur.execute("UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? "
                        "WHERE key = ? AND delivered IS NULL", (float(next_at), s.clean_text(error, s.MAX_ERROR), key))

    def last_alerts(self) -> dict[tuple[str, str], float]:
        with self._read() as cur:
            cur.execute("SELECT target, channel, MAX(created) FROM outbox GROUP BY target, channel")
            return {(target, channel): created for target, channel, created in cur.fetchall()}

    # -- acknowledgements ----------------------------------------------------------------------
    def acknowledge(self, target: str, at: float, author: str, comment: str, sticky: bool = False) -> None:
        with self._write() as cur:
            cur.execute("UPDATE acks SET cleared = ? WHERE target = ? AND cleared IS NULL", (at, target))
            cur.execute("INSERT INTO acks (target, at, author, comment, sticky, cleared) VALUES (?, ?, ?, ?, ?, NULL) "
                        "ON CONFLICT (target, at) DO UPDATE SET author = excluded.author, "
                        "comment = excluded.comment, sticky = excluded.sticky, cleared = NULL",
                        (target, float(at), s.clean_text(author, MAX_ACK_TEXT), s.clean_text(comment, MAX_ACK_TEXT),
                         int(bool(sticky))))

    def unacknowledge(self, target: str, at: float) -> None:
        with self._write() as cur:
            cur.execute("UPDATE acks SET cleared = ? WHERE target = ? AND cleared IS NULL", (at, target))

    def acks(self) -> dict[str, dict]:
        with self._read() as cur:
            cur.execute("SELECT target, at, author, comment, sticky FROM acks WHERE cleared IS NULL ORDER BY at")
            return {t: {"at": at, "author": a, "comment": c, "sticky": bool(st)}
                    for t, at, a, c, st in cur.fetchall()}

    # -- the dashboard's actions -----------------------------------------------------------------
    def add_window(self, id: str, target: str, start: float, end: float, author: str, comment: str,
                   created: float) -> None:
        with self._write() as cur:
            cur.execute("INSERT INTO windows (id, target, start, finish, author, comment, created) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                        (id, target, s._finite(start, "a window's start"), s._finite(end, "a window's end"),
                         s.clean_text(author, MAX_ACK_TEXT), s.clean_text(comment, MAX_ACK_TEXT), float(created)))

    def remove_window(self, id: str) -> bool:
        with self._write() as cur:
            cur.execute("DELETE FROM windows WHERE id = ?", (id,))
            return cur.rowcount > 0

    def windows(self, now: float) -> list[dict]:
        with self._read() as cur:
            cur.execute("SELECT id, target, start, finish, author, comment, created FROM windows WHERE finish > ? "
                        "ORDER BY start, id", (float(now),))
            return [{"id": i, "target": t, "start": st, "end": f, "author": a, "comment": c, "created": cr}
                    for i, t, st, f, a, c, cr in cur.fetchall()]

    def pause(self, target: str, at: float, author: str, comment: str = "") -> None:
        with self._write() as cur:
            cur.execute("INSERT INTO paused (target, at, author, comment) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (target) DO NOTHING",
                        (target, float(at), s.clean_text(author, MAX_ACK_TEXT), s.clean_text(comment, MAX_ACK_TEXT)))

    def resume(self, target: str) -> bool:
        with self._write() as cur:
            cur.execute("DELETE FROM paused WHERE target = ?", (target,))
            return cur.rowcount > 0

    def paused(self) -> dict[str, dict]:
        with self._read() as cur:
            cur.execute("SELECT target, at, author, comment FROM paused ORDER BY target")
            return {t: {"at": at, "author": a, "comment": c} for t, at, a, c in cur.fetchall()}

    # -- housekeeping ----------------------------------------------------------------------------
    def rollup(self, now: float, budget: float | None = None) -> bool:
        budget = ROLLUP_BUDGET if budget is None else budget
        deadline = time.monotonic() + budget
        with self._housekeeping() as ours:
            if not ours:   # another monitor is folding the same samples
                return True
            return all(self._rollup_step(step, now, deadline) for step in (MINUTE, HOUR, DAY))

    def _housekeeping(self):
        """A context manager: True when this monitor may fold and prune now (PostgreSQL:
        one monitor at a time)."""
        return contextlib.nullcontext(True)

    def _marks(self, cur) -> dict[int, float]:
        cur.execute("SELECT step, mark FROM rollup_marks")
        return {int(step): mark for step, mark in cur.fetchall()}

    def _rollup_step(self, step: int, now: float, deadline: float) -> bool:
        """Fold ``step``'s closed buckets, a window (an hour of minutes, an hour, a day) at a
        time, each window a chunk of targets per transaction; stop after the chunk that
        passes ``deadline`` and resume there on the next call. True when caught up."""
        closed = math.floor((now - ROLLUP_GRACE) / step) * step
        with self._read() as cur:
            mark = self._marks(cur).get(step)
            if mark is None:
                cur.execute("SELECT MIN(at) FROM samples")
                first = cur.fetchone()[0]
                if first is None:
                    return True
                mark = math.floor(first / step) * step
        while mark < closed:
            progress = self._progress.get(step)
            if progress is None or progress[0] != mark:
                end = min(closed, mark + max(step, HOUR))   # minutes: an hour at a time
                progress = self._progress[step] = [mark, end, self._chunks(mark, end), 0]
            _, end, chunks, done = progress
            while done < len(chunks):
                with self._write() as cur:   # a transaction each: the runner's batches go in between
                    self._fold(cur, step, mark, end, chunks[done])
                done = progress[3] = done + 1
                if done < len(chunks) and time.monotonic() >= deadline:
                    return False
            with self._write() as cur:
                cur.execute("INSERT INTO rollup_marks (step, mark) VALUES (?, ?) "
                            "ON CONFLICT (step) DO UPDATE SET mark = excluded.mark", (step, end))
            del self._progress[step]
            mark = end
            if mark < closed and time.monotonic() >= deadline:
                return False
        return True

    @property
    def _progress(self) -> dict:
        """Per step: [window start, window end, chunks, chunks done] of an unfinished window
        (lost with the process: the window is folded again, which is harmless)."""
        try:
            return self._rollup_progress
        except AttributeError:
            self._rollup_progress: dict = {}
            return self._rollup_progress

    def _chunks(self, start: float, end: float) -> list[list[str]]:
        """The targets in chunks of about ROLLUP_CHUNK_ROWS samples in [start, end),
        estimated from each target's interval and locations, and at most
        ROLLUP_CHUNK_TARGETS targets. The targets are those synced and those with a state
        (a sample of a target that has neither is not folded)."""
        self._fresh_statistics()
        with self._read() as cur:
            cur.execute("SELECT COUNT(DISTINCT location) FROM states")
            everywhere = max(1, cur.fetchone()[0] or 1)
            cur.execute("SELECT id, every, locations FROM targets UNION ALL SELECT DISTINCT target, ?, '[]' "
                        "FROM states WHERE target NOT IN (SELECT id FROM targets) ORDER BY 1", (float(MINUTE),))
            rows = cur.fetchall()
        chunks: list[list[Any]] = [[]]
        rows_in_chunk = 0.0
        for id_, every, locations in rows:
            if rows_in_chunk >= ROLLUP_CHUNK_ROWS or len(chunks[-1]) >= ROLLUP_CHUNK_TARGETS:
                chunks.append([])
                rows_in_chunk = 0.0
            chunks[-1].append(id_)
            rows_in_chunk += (end - start) / max(every, 1.0) * (len(s._loads(locations)) or everywhere)
        return [chunk for chunk in chunks if chunk]

    def _fold(self, cur, step: int, start: float, end: float, targets: list[str]) -> None:
        source, params = self._window_samples(targets, start, end)
        bucket = self._bucket(step)
        cur.execute(
            "INSERT INTO rollups (step, target, location, at, count, failures, min, avg, max, p50, p95, p99) "
            f"SELECT {step}, target, location, bucket, COUNT(*), {_FAIL}, MIN(duration), AVG(duration), "
            f"MAX(duration), {_percentile(50)}, {_percentile(95)}, {_percentile(99)} "
            f"FROM (SELECT target, location, {bucket} AS bucket, duration, status, "
            f"ROW_NUMBER() OVER w AS rn, COUNT(*) OVER w2 AS n FROM {source} "
            f"WINDOW w AS (PARTITION BY target, location, {bucket} ORDER BY duration), "
            f"w2 AS (PARTITION BY target, location, {bucket})) AS r "
            "WHERE true GROUP BY target, location, bucket "
            "ON CONFLICT (step, target, location, at) DO UPDATE SET count = excluded.count, "
            "failures = excluded.failures, min = excluded.min, avg = excluded.avg, max = excluded.max, "
            "p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99", params)

    def prune(self, now: float, raw_days: float, rollup_days: float) -> None:
        """Samples go after ``raw_days``, minute rollups after two days (or ``raw_days`` if
        shorter; at a 60 s interval a minute rollup is as big as its sample), but never before
        the day rollup has folded them;
        hour and day rollups, events, closed incidents, cleared acks and finished alerts go
        after ``rollup_days``."""
        with self._housekeeping() as ours:
            if ours:   # else another monitor is pruning the same rows
                self._prune(now, raw_days, rollup_days)

    def _prune(self, now: float, raw_days: float, rollup_days: float) -> None:
        raw_cut = now - raw_days * DAY
        old_cut = now - rollup_days * DAY
        with self._read() as cur:
            day_mark = self._marks(cur).get(DAY)
        raw_cut = min(raw_cut, day_mark if day_mark is not None else -math.inf)
        self._delete_sliced("samples", "", (), raw_cut)
        # Minute rollups draw the dashboard's 1 h and 24 h ranges; beyond two days the hour
        # rollups (folded from the samples themselves) answer every question.
        self._delete_sliced("rollups", "step = ? AND ", (MINUTE,), now - min(raw_days, MINUTE_ROLLUP_DAYS) * DAY)
        with self._write() as cur:
            cur.execute("DELETE FROM rollups WHERE step <> ? AND at < ?", (MINUTE, old_cut))
            cur.execute("DELETE FROM events WHERE at < ?", (old_cut,))
            cur.execute("DELETE FROM incidents WHERE finish < ?", (old_cut,))
            cur.execute("DELETE FROM acks WHERE cleared < ?", (old_cut,))
            cur.execute("DELETE FROM windows WHERE finish <= ?", (now,))
            cur.execute("DELETE FROM outbox WHERE created < ? AND (delivered IS NOT NULL OR next_at > ?)",
                        (old_cut, 1e300))

    def _delete_sliced(self, table: str, where: str, params: tuple, cut: float) -> None:
        """Delete rows with ``at < cut`` a PRUNE_SLICE of history per transaction, so the
        runner's batches go in between."""
        while True:
            with self._write() as cur:
                cur.execute(f"SELECT MIN(at) FROM {table} WHERE {where}at < ?", (*params, cut))
                first = cur.fetchone()[0]
                if first is None:
                    return
                cur.execute(f"DELETE FROM {table} WHERE {where}at < ?", (*params, min(cut, first + PRUNE_SLICE)))

    # -- reads -----------------------------------------------------------------------------------
    def targets(self) -> list[TargetInfo]:
        with self._read() as cur:
            cur.execute(f"SELECT {s.TARGET_COLUMNS} FROM targets WHERE active <> 0 ORDER BY id")
            return [s.target_from(row) for row in cur.fetchall()]

    def current(self) -> list[dict]:
        with self._read() as cur:
            cur.execute(f"SELECT {s.TARGET_COLUMNS} FROM targets WHERE active <> 0 ORDER BY id")
            infos = [s.target_from(row) for row in cur.fetchall()]
            cur.execute(f"SELECT {s.VERDICT_COLUMNS} FROM verdicts")
            verdicts = {row[0]: s.verdict_from(row) for row in cur.fetchall()}
            cur.execute("SELECT target, location, state FROM states")
            states = cur.fetchall()
            columns = ", ".join(f"x.{c.strip()}" for c in s.SAMPLE_COLUMNS.split(","))
            cur.execute(f"SELECT {columns} FROM {self._last_samples}")
            samples = [s.sample_from(row) for row in cur.fetchall()]
        by_target: dict[str, dict[str, Any]] = {info.id: {"info": info, "verdict": verdicts.get(info.id), "states": {}, "samples": {}}
                     for info in infos}
        for target, location, text in states:
            state = self._state(target, text)[1]
            if target in by_target and state is not None:
                by_target[target]["states"][location] = state
        for sample in samples:
            if sample.target in by_target:
                by_target[sample.target]["samples"][sample.location] = sample
        return list(by_target.values())

    def history(self, target: str, since: float, until: float, limit: int = 1000) -> list[Sample]:
        with self._read() as cur:
            cur.execute(f"SELECT {s.SAMPLE_COLUMNS} FROM samples WHERE target = ? AND at >= ? AND at < ? "
                        "ORDER BY at, location LIMIT ?", (target, since, until, int(limit)))
            return [s.sample_from(row) for row in cur.fetchall()]

    def series(self, target: str, since: float, until: float, step: str) -> list[dict]:
        seconds = STEPS.get(step)
        if seconds is None:
            raise UsageError(f"a series step is one of {', '.join(STEPS)}, got {step!r}")
        with self._read() as cur:
            # "+at" and grouping by "at + 0" keep SQLite's planner on the primary key (step,
            # target...): on (step, at), which hands rows in the order GROUP BY wants, it read
            # every target's rows in the range (190 ms instead of 1 ms for 30 days of hours
            # at 1,000 targets).
            cur.execute("SELECT at + 0 AS bucket, SUM(count), SUM(failures), MIN(min), SUM(avg * count) / SUM(count), "
                        "MAX(max), MAX(p50), MAX(p95), MAX(p99) FROM rollups WHERE step = ? AND target = ? "
                        "AND +at >= ? AND +at < ? GROUP BY bucket ORDER BY bucket", (seconds, target, since, until))
            keys = ("at", "count", "failures", "min", "avg", "max", "p50", "p95", "p99")
            return [dict(zip(keys, row)) for row in cur.fetchall()]

    def uptime(self, since: float, until: float, target: str | None = None) -> dict[str, float]:
        counts: dict[str, list[int]] = {}
        only = " AND target = ?" if target is not None else ""
        extra = (target,) if target is not None else ()
        with self._read() as cur:
            marks = self._marks(cur)
            for step, lo, hi in _plan(since, until, marks):
                if step is None:
                    cur.execute(f"SELECT target, COUNT(*), {_FAIL} FROM samples WHERE at >= ? AND at < ?{only} "
                                "GROUP BY target", (lo, hi, *extra))
                else:
                    # One target: the primary key (step, target...), not (step, at), which
                    # would read every target's rows in the range; all: the covering (step, at...).
                    at = self._unindexed("at") if target is not None else "at"
                    table = "rollups" if target is not None else self._rollups_by_time
                    cur.execute(f"SELECT target, SUM(count), SUM(failures) FROM {table} WHERE step = ? AND {at} >= ? "
                                f"AND {at} < ?{only} GROUP BY target", (step, lo, hi, *extra))
                for name, count, failures in cur.fetchall():
                    total = counts.setdefault(name, [0, 0])
                    total[0] += int(count)
                    total[1] += int(failures or 0)
        return {name: (count - failures) / count for name, (count, failures) in sorted(counts.items()) if count}

    def events(self, target: str | None, since: float, limit: int = 1000) -> list[StoredEvent]:
        with self._read() as cur:
            if target is None:
                cur.execute("SELECT target, location, at, kind, data FROM events WHERE at >= ? ORDER BY at LIMIT ?",
                            (since, int(limit)))
            else:
                cur.execute("SELECT target, location, at, kind, data FROM events WHERE target = ? AND at >= ? "
                            "ORDER BY at LIMIT ?", (target, since, int(limit)))
            return [s.event_from(row) for row in cur.fetchall()]

    def alerts(self, target: str, since: float, limit: int = 100) -> list[Alert]:
        with self._read() as cur:
            cur.execute(f"SELECT {s.ALERT_COLUMNS} FROM outbox WHERE target = ? AND created >= ? "
                        "ORDER BY created DESC, key LIMIT ?", (target, since, int(limit)))
            return [s.alert_from(row) for row in cur.fetchall()]

    def series_all(self, since: float, until: float, step: str) -> dict[str, list[tuple]]:
        seconds = STEPS.get(step)
        if seconds is None:
            raise UsageError(f"a series step is one of {', '.join(STEPS)}, got {step!r}")
        out: dict[str, list[tuple]] = {}
        with self._read() as cur:
            cur.execute("SELECT target, at, SUM(count), SUM(failures), SUM(avg * count) / SUM(count) FROM rollups "
                        "WHERE step = ? AND at >= ? AND at < ? GROUP BY target, at ORDER BY target, at",
                        (seconds, since, until))
            for target, at, count, failures, avg in cur.fetchall():
                out.setdefault(target, []).append((at, int(count), int(failures or 0), avg))
        return out

    def incidents(self, target: str | None, since: float) -> list[dict]:
        with self._read() as cur:
            query = "SELECT target, start, finish, status FROM incidents WHERE (finish IS NULL OR finish >= ?)"
            if target is None:
                cur.execute(query + " ORDER BY start, target", (since,))
            else:
                cur.execute(query + " AND target = ? ORDER BY start", (since, target))
            rows = cur.fetchall()
        return [{"target": t, "start": start, "end": end, "status": int(status),
                 "duration": None if end is None else end - start} for t, start, end, status in rows]


def _plan(lo: float, hi: float, marks: dict[int, float], steps=(DAY, HOUR, MINUTE)) -> list[tuple]:
    """Cover [lo, hi) with whole buckets of the coarsest folded step, finer steps at the
    edges, raw samples (step None) for what no rollup holds yet."""
    if lo >= hi:
        return []
    if not steps:
        return [(None, lo, hi)]
    step, finer = steps[0], steps[1:]
    mark = marks.get(step)
    start = math.ceil(lo / step) * step
    end = min(math.floor(hi / step) * step, mark) if mark is not None else start
    if start >= end:
        return _plan(lo, hi, marks, finer)
    return [*_plan(lo, start, marks, finer), (step, start, end), *_plan(end, hi, marks, finer)]
