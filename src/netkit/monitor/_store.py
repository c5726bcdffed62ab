"""Where the monitor keeps results, states, events and the alert outbox: the interface.

Two engines implement it with the same behaviour and the same test suite: SQLite (default;
``_sqlite``) and PostgreSQL (``_postgres``, psycopg 3), where several monitors meet. The
methods are blocking; the runner calls them from one writer thread, the web side from a
reader thread, so the event loop never waits on a disk. One Store may be shared by threads:
each thread gets its own connection on first use (closed by ``close()``).

Every write method is one transaction: a ``kill -9`` at any moment leaves either all of a
batch or none of it, and a store that opens.

``open_store(url)`` picks the engine: ``postgresql://...`` (or ``postgres://``), else a
SQLite path (``sqlite:///abs/path.db`` or a plain path).
"""

from __future__ import annotations

from collections.abc import Iterable

from netkit.core.errors import NetError, UsageError
from netkit.monitor._records import Alert, Sample, StoredEvent, TargetInfo, Verdict
from netkit.monitor._state import TargetState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from netkit.monitor._postgres import PostgresStore
    from netkit.monitor._sqlite import SqliteStore

__all__ = ["Store", "StoreError", "open_store"]


class StoreError(NetError):
    """The store failed while in use: its disk (full, I/O error), its database server, or
    the connection to it. A bad URL or path, or a store this netkit cannot read, is a
    UsageError instead, raised by :func:`open_store`."""


class Store:
    """The store's operations; engines override every method."""

    location: str   # this monitor's location, set by open_store
    # Whether other monitors write to it too (PostgreSQL). SQLite serves one monitor, whose
    # memory then holds every state the store has.
    shared: bool = True

    # -- life ------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Create or upgrade the schema (run at every start; a no-op when current)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close every connection (of every thread); the store cannot be used after."""
        raise NotImplementedError

    # -- the runner's writes ---------------------------------------------------------------
    def sync_targets(self, targets: Iterable[TargetInfo]) -> None:
        """Make the configured targets these (added, changed; removed ones are kept for their
        history and marked inactive)."""
        raise NotImplementedError

    def commit(self, samples: Iterable[Sample], states: Iterable[TargetState],
               events: Iterable[StoredEvent]) -> None:
        """One batch of the runner's work, in one transaction: samples appended, this
        location's states upserted (keyed by target and ``self.location``), events appended."""
        raise NotImplementedError

    def load_states(self) -> dict[str, TargetState]:
        """This location's saved states by target id (to resume after a restart)."""
        raise NotImplementedError

    # -- the decider's (leader's) reads and writes -----------------------------------------
    def try_lead(self) -> bool:
        """True while this monitor is the one that decides and dispatches alerts. SQLite:
        always True. PostgreSQL: a session advisory lock, taken over when its holder dies."""
        raise NotImplementedError

    def changed_states(self, since: float) -> tuple[float, dict[str, dict[str, TargetState]]]:
        """(watermark, {target: {location: state}}) for the targets whose state in any
        location was written after ``since``; pass the watermark back next time. The
        watermark trails the store's clock by a few seconds (a batch commits a little after
        it is timed, monitors' clocks differ), so a state may come twice: deciding is
        idempotent. Start with ``since=0`` (every state)."""
        raise NotImplementedError

    def load_verdicts(self) -> dict[str, Verdict]:
        """Every target's last verdict, by target id."""
        raise NotImplementedError

    def commit_verdicts(self, verdicts: Iterable[Verdict], events: Iterable[StoredEvent],
                        alerts: Iterable[Alert]) -> None:
        """Verdicts upserted, their events appended and their alerts enqueued (an alert
        whose key is already in the outbox is skipped), in one transaction. Incidents
        (see :meth:`incidents`) follow the verdicts: one opens when a verdict leaves OK (at
        its ``since``), ends when it is OK again."""
        raise NotImplementedError

    # -- the outbox --------------------------------------------------------------------------
    def due_alerts(self, now: float, limit: int = 100) -> list[Alert]:
        """Undelivered alerts with ``next_at <= now``, oldest first."""
        raise NotImplementedError

    def alert_delivered(self, key: str, now: float) -> None:
        """Mark it delivered (counts the attempt); it is never due again."""
        raise NotImplementedError

    def alert_failed(self, key: str, next_at: float, error: str) -> None:
        """Count an attempt, keep the error, try again at ``next_at`` (inf: give up)."""
        raise NotImplementedError

    def last_alerts(self) -> dict[tuple[str, str], float]:
        """{(target, channel): created} of the newest alert per pair (for reminders)."""
        raise NotImplementedError

    # -- acknowledgements and silences (API writes, decider reads) --------------------------
    def acknowledge(self, target: str, at: float, author: str, comment: str, sticky: bool = False) -> None:
        """The target's active acknowledgement is now this one (a previous one is cleared;
        cleared ones are kept as history until pruned)."""
        raise NotImplementedError

    def unacknowledge(self, target: str, at: float) -> None:
        """Clear the target's active acknowledgement (none: nothing happens)."""
        raise NotImplementedError

    def acks(self) -> dict[str, dict]:
        """Active acknowledgements by target: {"at", "author", "comment", "sticky"}."""
        raise NotImplementedError

    # -- the dashboard's actions: runtime maintenance windows, paused targets ---------------
    def add_window(self, id: str, target: str, start: float, end: float, author: str, comment: str,
                   created: float) -> None:
        """A maintenance window for ``target`` from ``start`` to ``end``, as the config's
        suppress alerts (``id``: the caller's unique key; the same id again is a no-op)."""
        raise NotImplementedError

    def remove_window(self, id: str) -> bool:
        """Delete the window ``id``; False when there is none."""
        raise NotImplementedError

    def windows(self, now: float) -> list[dict]:
        """The windows not ended at ``now`` (open or to come), by start: {"id", "target",
        "start", "end", "author", "comment", "created"}. Ended ones are gone (pruned)."""
        raise NotImplementedError

    def pause(self, target: str, at: float, author: str, comment: str = "") -> None:
        """Pause ``target``: not checked, no alerts, until :meth:`resume` (again: a no-op)."""
        raise NotImplementedError

    def resume(self, target: str) -> bool:
        """Un-pause ``target``; False when it was not paused."""
        raise NotImplementedError

    def paused(self) -> dict[str, dict]:
        """The paused targets: {target: {"at", "author", "comment"}}."""
        raise NotImplementedError

    # -- housekeeping --------------------------------------------------------------------------
    def rollup(self, now: float, budget: float | None = None) -> bool:
        """Fold samples of closed minutes, hours and days into rollups (count, failures,
        min/avg/max and p50/p95/p99 of duration); idempotent. A bucket is folded a few
        minutes after it closes (late samples), days are UTC days. The work goes in small
        transactions and stops after ``budget`` seconds (default ``_sql.ROLLUP_BUDGET``,
        ``math.inf``: to the end); the next call resumes. True when caught up. With several
        monitors on PostgreSQL, one folds at a time (the others' calls return True)."""
        raise NotImplementedError

    def prune(self, now: float, raw_days: float, rollup_days: float) -> None:
        """Drop samples and minute rollups older than ``raw_days`` (never samples the day
        rollups have not folded yet), and hour/day rollups, events, ended incidents, cleared
        acknowledgements and finished alerts older than ``rollup_days``."""
        raise NotImplementedError

    # -- reads: the API, `netkit monitor status`, /metrics --------------------------------------
    def targets(self) -> list[TargetInfo]:
        """The active (configured) targets, by id."""
        raise NotImplementedError

    def current(self) -> list[dict]:
        """Per active target, by id: ``{"info": TargetInfo, "verdict": Verdict | None,
        "states": {location: TargetState}, "samples": {location: last Sample}}``."""
        raise NotImplementedError

    def history(self, target: str, since: float, until: float, limit: int = 1000) -> list[Sample]:
        """The target's samples (every location) with ``since <= at < until``, oldest first,
        at most ``limit`` (page on by passing the last ``at`` + a little as ``since``)."""
        raise NotImplementedError

    def series(self, target: str, since: float, until: float, step: str) -> list[dict]:
        """Rollups ("minute", "hour", "day") of one target: {"at", "count", "failures",
        "min", "avg", "max", "p50", "p95", "p99"}, oldest first; the target's locations are
        summed per bucket (percentiles: the worst location's). UsageError for another step."""
        raise NotImplementedError

    def uptime(self, since: float, until: float, target: str | None = None) -> dict[str, float]:
        """Fraction of OK runs per target (one or all) over the range, from rollups and the
        raw samples not yet rolled up. Every location's runs count; WARNING and UNKNOWN are
        not OK. Targets without runs in the range are absent."""
        raise NotImplementedError

    def events(self, target: str | None, since: float, limit: int = 1000) -> list[StoredEvent]:
        """Events (of one target, or all) with ``at >= since``, oldest first, at most ``limit``."""
        raise NotImplementedError

    def alerts(self, target: str, since: float, limit: int = 100) -> list[Alert]:
        """The outbox's alerts of one target created at or after ``since``, newest first, at
        most ``limit`` (the dashboard's "alerts sent": delivered, pending or given up)."""
        raise NotImplementedError

    def series_all(self, since: float, until: float, step: str) -> dict[str, list[tuple]]:
        """Every target's rollups of ``step`` in the range as {target: [(at, count, failures,
        avg)]}, oldest first, locations summed per bucket (the dashboard's sparklines and
        status bars, read in the background, never per request)."""
        raise NotImplementedError

    def incidents(self, target: str | None, since: float) -> list[dict]:
        """Problem periods from verdict changes: {"target", "start", "end" (None: open),
        "status", "duration"} (duration None while open) of those open or ended at or after
        ``since``, oldest first; ``status`` is the worst the verdict reached."""
        raise NotImplementedError


def open_store(url: str, location: str = "default") -> Store:
    """The store at ``url`` (schema migrated), for this monitor's ``location``."""
    engine: type[SqliteStore | PostgresStore]
    if url.startswith(("postgresql://", "postgres://")):
        from netkit.monitor._postgres import PostgresStore as engine
    else:
        from netkit.monitor._sqlite import SqliteStore as engine
    try:
        store = engine(url, location)
    except StoreError as exc:   # damaged, or its disk failing, before anything ran: one line, exit 2
        raise UsageError(str(exc)) from None
    try:
        store.migrate()
    except StoreError as exc:
        store.close()
        raise UsageError(str(exc)) from None
    except BaseException:
        store.close()
        raise
    return store

