"""The monitor at work: the asyncio driver around the scheduler, the states and the store.

One event loop does the checks; blocking work goes to threads: the store's writes and the
decider's reads to one writer thread (so batches commit in order), config loads to another.

::

    scheduler.due()  -> one task per run: run_one_async(spec) under the run's hard deadline
    result           -> Sample + advance(state) -> pending batch (in memory, bounded)
    every FLUSH_SECONDS: store.commit(samples, states, events)           (writer thread)
    every DECIDE_SECONDS, while leader: changed states -> decide() -> plan_alerts()
                     -> store.commit_verdicts(verdicts, events, alerts)  (writer thread)
    Dispatcher       -> the outbox's due alerts -> channels              (while leader)

A hung or hostile target holds only its own task: the scheduler names runs past their hard
deadline and the runner cancels them (a CRITICAL "no answer within the deadline" result).
SIGHUP or a changed config file reloads; a bad new config is refused with one line and the
old one keeps running. SIGTERM (or Ctrl-C) stops starting runs, lets the runs in flight end
(each is bounded by its deadline), commits what is pending, and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from dataclasses import asdict, replace

from netkit.core.status import CRITICAL, OK
from netkit.core.text import for_terminal
from netkit.monitor._cluster import decide
from netkit.monitor._records import Sample, StoredEvent
from netkit.monitor._schedule import Scheduler
from netkit.monitor._state import Result, TargetState, advance

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from netkit.drivers.aio import Resolver
    from netkit.monitor._alerts import Dispatcher
    from netkit.monitor._config import Config
    from netkit.monitor._store import Store


__all__ = ["Monitor", "load", "run", "run_once"]

# How often pending results are committed: a second of 10,000 targets at 60 s is ~170 rows,
# one transaction; a crash loses at most this much uncommitted work.
FLUSH_SECONDS = 1.0
# A batch is committed early at this size, so one commit never holds a minute of results.
FLUSH_ROWS = 5000
# Results held while the store is unreachable: about 10 minutes of 10,000 targets at 60 s.
# Past it the oldest samples are dropped (counted); states and events are always kept.
MAX_PENDING_SAMPLES = 200_000
# How often the leader decides verdicts, and sends reminders.
DECIDE_SECONDS = 1.0
REMINDER_SECONDS = 30.0
# How often the config file's mtime is looked at (a changed file reloads, as SIGHUP does).
WATCH_SECONDS = 2.0
# How often the dashboard's runtime controls (paused targets, maintenance windows added at
# runtime) are read from the store: they may come from another monitor sharing it. A write
# through this monitor's web side reads them at once (refresh_controls()).
CONTROLS_SECONDS = 5.0
# Rollups and retention: each minute (rollup is idempotent and cheap), retention hourly.
ROLLUP_SECONDS = 60.0
# A rollup that ran out of its time budget (a backlog after a restart) goes on this soon.
ROLLUP_CATCHUP_SECONDS = 5.0
PRUNE_SECONDS = 3600.0
# What one stored result keeps of a peer's words: the summary line, the dialogue.
MAX_SUMMARY = 1024
MAX_DIALOGUE_LINES = 200
# A failure that repeats every tick (a store down) is logged once, then every this many times.
COMPLAIN_EVERY = 60
# Ctrl-C/SIGTERM waits this long at most for runs in flight (each has its own deadline).
DRAIN_SECONDS = 30.0


# The rate of checks is counted over the last minute (runs finishing in it).
RATE_WINDOW = 60.0
# Commit durations kept for the quantiles: five minutes of one commit a second.
COMMIT_SAMPLES = 300


def _quantile(values: list, q: float) -> float | None:
    import math

    return values[math.ceil(q * len(values)) - 1] if values else None


def _log(message: str) -> None:
    print(f"netkit monitor: {for_terminal(message)}", file=sys.stderr, flush=True)


def _notify(state: str) -> None:
    """Tell systemd (Type=notify) our state, when it runs us; silent otherwise."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    import socket

    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), address)
    except OSError:
        pass


def _cert_expiry(details: dict) -> float | None:
    """The earliest certificate's notAfter (epoch seconds) from a tls:// check's details or
    an https/ftps/... check's ``tls`` part; None without certificates."""
    from netkit.monitor._probe import _expiry

    tls = details["tls"] if isinstance(details.get("tls"), dict) else details
    return _expiry(tls.get("expires"))


class _Pending:
    """What the loop produced since the last commit."""

    __slots__ = ("dropped", "events", "samples", "states")

    def __init__(self):
        self.samples: list[Sample] = []
        self.states: dict[str, TargetState] = {}
        self.events: list[StoredEvent] = []
        self.dropped = 0

    def __len__(self):
        return len(self.samples) + len(self.events)

    def merge_back(self, older: _Pending) -> None:
        """A failed commit's batch goes back in front of what came since, its samples without
        their transcripts: a failed run's dialogue is up to 64 KiB, and MAX_PENDING_SAMPLES
        of them held through an outage would be gigabytes (status, summary and details stay)."""
        self.samples[:0] = [replace(s, dialogue=None) if s.dialogue else s for s in older.samples]
        for target, state in older.states.items():
            self.states.setdefault(target, state)
        self.events[:0] = older.events
        excess = len(self.samples) - MAX_PENDING_SAMPLES
        if excess > 0:
            del self.samples[:excess]
            self.dropped += excess


class Monitor:
    """Runs a :class:`~netkit.monitor._config.Config`'s targets until stopped.

    Library use::

        monitor = Monitor(load_config("monitor.toml"))
        monitor.subscribe(lambda target, events: print(target, events))
        asyncio.run(monitor.run())        # until monitor.stop()

    ``store`` defaults to the config's; give one to share or to test.
    """

    def __init__(self, config: Config, store: Store | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._clock = clock
        self._store = store
        self._sched = Scheduler(max_in_flight=config.settings.max_in_flight)
        self._states: dict[str, TargetState] = {}
        self._samples: dict[str, Sample] = {}
        self._verdicts: dict = {}
        self._by_id = {t.id: t for t in config.targets}
        self._tasks: dict[int, asyncio.Task] = {}
        self._expired: set[int] = set()
        self._pending = _Pending()
        self._subscribers: list = []
        self._kick = asyncio.Event()
        self._stopping = asyncio.Event()
        self._writer: ThreadPoolExecutor | None = None
        self._house: ThreadPoolExecutor | None = None
        self._resolver: Resolver | None = None
        self._leader = False
        self._dispatcher: Dispatcher | None = None
        self._watermark = 0.0
        self._dirty: set[str] = set()   # targets whose state changed since the last decision
        self._checks = 0
        self._commit_seconds = 0.0
        self._commits = 0
        self._commit_times: deque = deque(maxlen=COMMIT_SAMPLES)   # recent commits' seconds
        self._finished: deque = deque()   # when recent runs finished (for checks per second)
        self._store_errors = 0
        self._complaints: dict[str, int] = {}
        self._paused: dict[str, dict] = {}      # target id -> {"at", "author", "comment"}
        self._windows: list[dict] = []          # runtime maintenance windows not ended
        self._windows_of: dict[str, list[dict]] = {}    # the same by target (read at every result)
        self._controls = asyncio.Event()

    # -- what the web side and the library read ----------------------------------------------
    @property
    def store(self) -> Store | None:
        return self._store

    @property
    def _opened(self) -> Store:
        """The store, which run() has opened by the time anything below reads it."""
        if self._store is None:
            raise RuntimeError("the monitor's store is not open: Monitor.run() opens it")
        return self._store

    def states(self) -> dict[str, TargetState]:
        return self._states

    def last_samples(self) -> dict[str, Sample]:
        return self._samples

    def verdicts(self) -> dict:
        return self._verdicts

    def paused(self) -> dict[str, dict]:
        """The paused targets (not checked, no alerts): {id: {"at", "author", "comment"}}."""
        return self._paused

    def windows(self) -> list[dict]:
        """The maintenance windows added at runtime, not ended (``Store.windows``' dicts)."""
        return self._windows

    def in_maintenance(self, target_id: str, at: float) -> bool:
        """Whether a config window or a runtime window of the target is open at ``at``."""
        window = self.config.maintenance.get(target_id)
        if window is not None and window.active(at):
            return True
        return any(w["start"] <= at < w["end"] for w in self._windows_of.get(target_id, ()))

    def _quiet(self, target_id: str, at: float) -> bool:
        return target_id in self._paused or self.in_maintenance(target_id, at)

    async def refresh_controls(self) -> None:
        """The web side changed paused targets or windows: read them again, now (the page
        the action redirects to shows the change)."""
        if self._writer is None or self._store is None:
            return
        try:
            await self._read_controls()
        except Exception:  # noqa: BLE001 -- the loop reads them again within CONTROLS_SECONDS
            self._controls.set()

    @property
    def location(self) -> str:
        return self.config.settings.location

    def stats(self) -> dict:
        """The monitor's own figures, named as ``_metrics`` exports them."""
        now = self._clock()
        late = self._sched.lateness(now)
        recent = self._finished
        while recent and recent[0] < now - RATE_WINDOW:
            recent.popleft()
        commits = sorted(self._commit_times)
        return {
            "targets": len(self._by_id), "checks_total": self._checks, "in_flight": self._sched.in_flight,
            "queue": self._sched.waiting(now), "missed_total": late.missed, "expired_total": late.expired,
            "checks_per_second": len(recent) / RATE_WINDOW,
            "lateness_count": late.count, "lateness_sum": late.total, "lateness_max": late.window_max,
            "lateness_p50": late.window_p50, "lateness_p99": late.window_p99,
            "store_commit_count": self._commits, "store_commit_sum": self._commit_seconds,
            "store_commit_max": commits[-1] if commits else None,
            "store_commit_p50": _quantile(commits, 0.50), "store_commit_p99": _quantile(commits, 0.99),
            "pending": len(self._pending), "dropped_total": self._pending.dropped,
            "store_errors_total": self._store_errors, "leader": int(self._leader),
        }

    def subscribe(self, callback) -> None:
        """``callback(target_id, events)`` after each result that changed something (soft or
        hard changes, flapping); called on the event loop, so it must not block."""
        self._subscribers.append(callback)

    async def probe(self, spec, verbose: bool = False):
        """Run one check now (the web side's /probe)."""
        from netkit.check.run import run_one_async

        return await run_one_async(spec, verbose, self._resolver)

    def stop(self) -> None:
        self._stopping.set()
        self._kick.set()

    # -- running -------------------------------------------------------------------------------
    async def _in_writer(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    async def run(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from netkit.core.errors import UsageError
        from netkit.drivers.aio import Resolver
        from netkit.monitor._store import StoreError

        self._resolver = Resolver()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="netkit-store")
        self._house = ThreadPoolExecutor(1, thread_name_prefix="netkit-housekeeping")
        try:
            if self._store is None:
                from netkit.monitor._store import open_store

                settings = self.config.settings
                self._store = await self._in_writer(open_store, settings.store, settings.location)
            try:
                await self._in_writer(self._opened.sync_targets, [t.info for t in self.config.targets])
                self._states = await self._in_writer(self._opened.load_states)
            except StoreError as exc:   # damaged, or its disk failing, before anything ran: one line, exit 2
                raise UsageError(str(exc)) from None
            await self._read_controls()
            self._sched.update(self.config.jobs(), self._clock())
            async with asyncio.TaskGroup() as group:
                loops = [group.create_task(f()) for f in (self._flush_loop, self._decide_loop,
                                                          self._housekeeping_loop, self._controls_loop)]
                await self._schedule_loop()
                await self._drain()
                for task in loops:
                    task.cancel()
            await self._flush()
        finally:
            await self._stop_dispatcher()
            # A rollup or prune still running on its thread ends (within its time budget or
            # slice) before the store's connections close under it.
            await asyncio.get_running_loop().run_in_executor(None, self._house.shutdown, True)
            if self._store is not None:
                await self._in_writer(self._store.close)
            self._writer.shutdown(wait=True)

    async def _schedule_loop(self) -> None:
        sched = self._sched
        while not self._stopping.is_set():
            now = self._clock()
            for expired in sched.expired(now):
                task = self._tasks.get(expired.seq)
                if task is not None:
                    self._expired.add(expired.seq)
                    task.cancel()
            for run in sched.due(now):
                self._tasks[run.seq] = asyncio.get_running_loop().create_task(self._one(run))
            wake = sched.next_wakeup(now)
            delay = 60.0 if wake is None else max(0.0, min(60.0, wake - self._clock()))
            self._kick.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._kick.wait()

    async def _drain(self) -> None:
        tasks = list(self._tasks.values())
        if tasks:
            _log(f"stopping: waiting for {len(tasks)} checks in flight")
            _, still = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still)

    async def _one(self, run) -> None:
        from netkit.check.run import _internal, failed, run_one_async

        target = self._by_id.get(run.job.id)
        started = time.monotonic()
        wall = self._clock()
        result = None
        try:
            if target is not None and target.id in self._paused:
                target = None   # paused: the run is skipped, nothing recorded
            if target is not None:
                result = await run_one_async(target.spec, True, self._resolver)
        except asyncio.CancelledError:
            if run.seq not in self._expired:
                raise   # shutting down
            assert target is not None  # only a check under way (its target known) awaits
            result = failed(target.spec, CRITICAL, f"no answer within the {run.job.timeout:g} s deadline")
        except Exception as exc:  # noqa: BLE001 -- one target's bug never stops the others
            assert target is not None  # as above
            result = _internal(target.spec, exc)
        finally:
            self._tasks.pop(run.seq, None)
            self._expired.discard(run.seq)
            current = self._sched.finish(run, self._clock())
            self._kick.set()
        if current and result is not None:
            self._record(target, wall, time.monotonic() - started, result)

    def _record(self, target, at: float, duration: float, result) -> None:
        self._checks += 1
        self._finished.append(self._clock())
        status = int(result.status)
        summary = result.summary[:MAX_SUMMARY]
        details = result.details or None
        dialogue = None
        if status != OK and result.dialogue:
            dialogue = tuple(result.dialogue[:MAX_DIALOGUE_LINES])
        location = self.config.settings.location
        sample = Sample(target.id, location, at, round(duration, 6), status, summary, details, dialogue,
                        _cert_expiry(details) if details else None)
        self._samples[target.id] = sample
        state = self._states.get(target.id) or TargetState(target.id)
        transition = advance(state, Result(target.id, result.status, at, summary), target.policy,
                             maintenance=self.in_maintenance(target.id, at))
        self._states[target.id] = transition.state
        pending = self._pending
        pending.samples.append(sample)
        pending.states[target.id] = transition.state
        self._dirty.add(target.id)
        for event in transition.events:
            data = {k: v for k, v in asdict(event).items() if k not in ("target", "at")}
            pending.events.append(StoredEvent(target.id, location, event.at, type(event).__name__, data))
            if type(event).__name__ == "HardChange":
                _log(f"{target.id}: {('OK', 'WARNING', 'CRITICAL', 'UNKNOWN')[status]} (hard) - {summary}")
        if transition.events:
            for callback in self._subscribers:
                callback(target.id, transition.events)
        if len(pending) >= FLUSH_ROWS:
            self._kick.set()

    # -- the writer's loops -------------------------------------------------------------------
    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self._flush()

    async def _flush(self) -> None:
        batch, self._pending = self._pending, _Pending()
        self._pending.dropped = batch.dropped
        if not len(batch) and not batch.states:
            return
        started = time.monotonic()
        try:
            await self._in_writer(self._opened.commit, batch.samples, list(batch.states.values()), batch.events)
        except Exception as exc:  # noqa: BLE001 -- the store may be down; keep the batch, retry
            self._store_errors += 1
            self._complain("commit", f"store: commit failed ({exc}); keeping {len(batch.samples)} results to retry")
            self._pending.merge_back(batch)
            return
        took = time.monotonic() - started
        self._commits += 1
        self._commit_seconds += took
        self._commit_times.append(took)

    async def _decide_loop(self) -> None:
        last_reminder = 0.0
        while True:
            await asyncio.sleep(DECIDE_SECONDS)
            try:
                if not await self._lead():
                    continue
                await self._decide()
                now = self._clock()
                if now - last_reminder >= REMINDER_SECONDS:
                    last_reminder = now
                    await self._remind(now)
            except Exception as exc:  # noqa: BLE001 -- a store hiccup: try again next tick
                self._complain("decide", f"deciding verdicts failed ({exc}); retrying")

    async def _lead(self) -> bool:
        """Whether this monitor leads now; starts or stops the dispatcher as that changes."""
        try:
            leader = await self._in_writer(self._opened.try_lead)
        except Exception as exc:  # noqa: BLE001
            self._complain("lead", f"store: cannot tell who leads ({exc})")
            leader = False
        if leader != self._leader:
            self._leader = leader
            if leader:
                _log("leading: deciding verdicts and sending alerts")
                self._verdicts = await self._in_writer(self._opened.load_verdicts)
                self._watermark = 0.0
                await self._start_dispatcher()
            else:
                _log("no longer leading: another monitor decides and alerts")
                await self._stop_dispatcher()
        return leader

    def _complain(self, key: str, message: str) -> None:
        """Log a repeating failure once, then every :data:`COMPLAIN_EVERY` times."""
        count = self._complaints.get(key, 0)
        self._complaints[key] = count + 1
        if count % COMPLAIN_EVERY == 0:
            _log(message + (f" ({count} times before)" if count else ""))

    async def _changed(self):
        """(watermark, {target: {location: state}}) of the states changed since the last
        decision. A store only this monitor writes (SQLite) holds nothing its memory does not:
        the states come from memory, not read back and decoded (8 % of the CPU at 10,000
        targets); a shared store (PostgreSQL) has the other locations' too."""
        if getattr(self._store, "shared", True):
            return await self._in_writer(self._opened.changed_states, self._watermark)
        names = self._states.keys() if self._watermark == 0.0 else self._dirty
        self._dirty = set()
        location = self.config.settings.location
        return 1.0, {t: {location: self._states[t]} for t in list(names) if t in self._states}

    async def _decide(self) -> None:
        watermark, changed = await self._changed()
        if not changed:
            self._watermark = watermark
            return
        acks = await self._in_writer(self._opened.acks)
        now = self._clock()
        verdicts, events, alerts, cleared = [], [], [], []
        for target_id, by_location in changed.items():
            target = self._by_id.get(target_id)
            if target is None:
                continue
            sample = self._samples.get(target_id)
            verdict, change = decide(
                self._verdicts.get(target_id), target_id, by_location, quorum=target.info.quorum,
                interval=target.info.interval, timeout=target.timeout, now=now, locations=target.info.locations,
                maintenance=self._quiet(target_id, now), acked=target_id in acks,
                summary=sample.summary if sample is not None and len(by_location) == 1 else "")
            if verdict != self._verdicts.get(target_id):
                verdicts.append(verdict)
            if change is not None:
                events.append(StoredEvent(target_id, "", change.at, "VerdictChange", {
                    "old": change.old, "new": change.new, "summary": change.summary,
                    "suppressed": list(change.suppressed), "locations": [list(p) for p in change.locations]}))
                channels = self._channels_for(target)
                if channels:
                    from netkit.monitor._alerts import plan_alerts

                    alerts.extend(plan_alerts(change, target.info, channels, now))
                ack = acks.get(target_id)
                if ack is not None and (change.new == OK or not ack.get("sticky")) and ack["at"] <= change.at:
                    # An ack lasts until the next change (sticky: recovery); one given after
                    # the change (the state was hard before the verdict caught up) is about it.
                    cleared.append(target_id)
        if verdicts or events:
            await self._in_writer(self._opened.commit_verdicts, verdicts, events, alerts)
            if alerts:
                self._wake_dispatcher()
        for target_id in cleared:
            await self._in_writer(self._opened.unacknowledge, target_id, now)
        for verdict in verdicts:
            self._verdicts[verdict.target] = verdict
        self._watermark = watermark

    def _channels_for(self, target):
        # target.channels is resolved by the config: every channel's name unless the target's
        # alerts = [...] names some (or none: alerts = [] is silence).
        return tuple(c for c in self.config.channels if c.name in target.channels)

    async def _remind(self, now: float) -> None:
        from netkit.monitor._alerts import reminders

        if not any(c.resend for c in self.config.channels):
            return
        last = await self._in_writer(self._opened.last_alerts)
        quiet = {t.id for t in self.config.targets if self._quiet(t.id, now)}
        routed = {t.id: set(t.channels) for t in self.config.targets}
        alerts = [a for a in reminders(self._verdicts, {t.id: t.info for t in self.config.targets},
                                       self.config.channels, last, now, quiet)
                  if a.channel in routed.get(a.target, ())]   # only the channels the target alerts
        if alerts:
            await self._in_writer(self._opened.commit_verdicts, [], [], alerts)
            self._wake_dispatcher()

    def _wake_dispatcher(self) -> None:
        """New alerts are in the outbox: send them now, not at the dispatcher's next poll."""
        if self._dispatcher is not None:
            self._dispatcher.wake()

    async def _start_dispatcher(self) -> None:
        if self._dispatcher is None and self.config.channels:
            from netkit.monitor._alerts import Dispatcher

            self._dispatcher = Dispatcher(self._opened, self.config.channels, executor=self._writer)
            await self._dispatcher.start()

    async def _stop_dispatcher(self) -> None:
        if self._dispatcher is not None:
            dispatcher, self._dispatcher = self._dispatcher, None
            await dispatcher.stop()

    async def _controls_loop(self) -> None:
        while True:
            self._controls.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CONTROLS_SECONDS):
                    await self._controls.wait()
            try:
                await self._read_controls()
            except Exception as exc:  # noqa: BLE001 -- the store may be down: keep the last ones
                self._complain("controls", f"store: cannot read paused targets and windows ({exc})")

    async def _read_controls(self) -> None:
        self._paused = await self._in_writer(self._opened.paused)
        windows = await self._in_writer(self._opened.windows, self._clock())
        by_target: dict[str, list[dict]] = {}
        for window in windows:
            by_target.setdefault(window["target"], []).append(window)
        self._windows, self._windows_of = windows, by_target

    async def _housekeeping_loop(self) -> None:
        """Rollups and retention on a thread of their own, so an hourly prune never holds up
        the writer's batches; rollup() works to a time budget and says when it is caught up."""
        settings = self.config.settings
        loop = asyncio.get_running_loop()
        last_prune = 0.0
        pause = ROLLUP_SECONDS
        while True:
            await asyncio.sleep(pause)
            now = self._clock()
            try:
                caught_up = await loop.run_in_executor(self._house, self._opened.rollup, now)
                pause = ROLLUP_SECONDS if caught_up is not False else ROLLUP_CATCHUP_SECONDS
                if now - last_prune >= PRUNE_SECONDS:
                    last_prune = now
                    await loop.run_in_executor(self._house, self._opened.prune, now, settings.keep_raw / 86400.0,
                                               settings.keep_rollups / 86400.0)
            except Exception as exc:  # noqa: BLE001
                self._complain("housekeeping", f"store: housekeeping failed ({exc}); retrying in a minute")
                pause = ROLLUP_SECONDS

    # -- reload ---------------------------------------------------------------------------------
    async def reload(self, config) -> None:
        """Run ``config`` from now on: targets added, removed and changed keep their phases."""
        if config.settings.store != self.config.settings.store or \
                config.settings.location != self.config.settings.location:
            _log("reload: store and location changes take a restart; the rest applies now")
        self.config = config
        self._by_id = {t.id: t for t in config.targets}
        self._sched.max_in_flight = config.settings.max_in_flight
        change = self._sched.update(config.jobs(), self._clock())
        for target_id in change.removed:
            self._states.pop(target_id, None)
            self._samples.pop(target_id, None)
        await self._in_writer(self._opened.sync_targets, [t.info for t in config.targets])
        if self._dispatcher is not None:
            await self._stop_dispatcher()
            await self._start_dispatcher()
        self._kick.set()
        _log(f"reloaded: {len(config.targets)} targets ({len(change.added)} added, "
             f"{len(change.removed)} removed, {len(change.changed)} changed)")


async def _serve_web(monitor, listen: str):
    """Start the web side (/metrics, /probe, /api) on ``listen`` ("host:port", "[v6]:port")."""
    from netkit.monitor._web import make_app, serve

    host, _, port = listen.rpartition(":")
    return await serve(make_app(monitor), host.strip("[]"), int(port))


async def _main(path: str, overrides: dict) -> int:
    from netkit.core.errors import UsageError

    loop = asyncio.get_running_loop()
    config = await loop.run_in_executor(None, load, path, overrides)
    # A reload asked for: one flag, not a queue -- SIGHUPs that come while a reload runs (a
    # storm of them, or a config of 100,000 targets taking seconds to parse) are one more
    # reload, not one each.
    reload_asked = asyncio.Event()

    def on_signal(kind):
        if kind == "stop":
            _notify("STOPPING=1")
            monitor.stop()
        else:
            reload_asked.set()

    async def watch():
        def mtime():
            with contextlib.suppress(OSError):
                st = os.stat(path)
                return st.st_mtime_ns, st.st_size, st.st_ino
            return None

        seen = mtime()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WATCH_SECONDS):
                    await reload_asked.wait()
                    reload_asked.clear()
                    seen = None   # a signal reloads whatever the file's time says
            now_seen = mtime()
            if now_seen == seen or now_seen is None:
                continue
            seen = now_seen
            _notify("RELOADING=1")
            try:
                new = await loop.run_in_executor(None, load, path, overrides)
                await monitor.reload(new)
            except UsageError as exc:
                _log(f"reload refused, the running config stays: {exc}")
            except Exception as exc:  # noqa: BLE001 -- the store failed meanwhile: keep running
                _log(f"reload failed, the running config stays: {exc}")
            _notify("READY=1")

    # The store and the web side start first, so a bad store or a taken port is one line
    # (UsageError) before anything runs.
    from netkit.monitor._store import open_store

    settings = config.settings
    await loop.run_in_executor(None, _make_state_dir, settings.state_dir)
    monitor = Monitor(config, await loop.run_in_executor(None, open_store, settings.store, settings.location))
    for sig, kind in ((signal.SIGTERM, "stop"), (signal.SIGINT, "stop"), (signal.SIGHUP, "reload")):
        loop.add_signal_handler(sig, on_signal, kind)
    listen = settings.listen
    web = await _serve_web(monitor, listen) if listen else None
    try:
        async with asyncio.TaskGroup() as group:
            runner = group.create_task(monitor.run())
            watcher = group.create_task(watch())
            _log(f"running {len(config.targets)} targets, location {settings.location!r}, "
                 f"store {settings.store_masked}" + (f", web http://{listen}/" if listen else ""))
            _notify("READY=1")
            await asyncio.wait([runner])
            watcher.cancel()
    except ExceptionGroup as errors:     # the runner's own error (a store unusable at start) as itself
        if len(errors.exceptions) == 1:
            raise errors.exceptions[0] from None
        raise
    finally:
        if web is not None:
            await web.close()
    return 0


def _make_state_dir(path: str) -> None:
    """Create the state directory (owner only) when it is missing, as systemd's
    StateDirectory= does for the unit; a store path the config names is not created."""
    import stat

    from netkit.core.errors import UsageError

    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot create the state directory {path}: {exc.strerror or exc}") from None
    # Others who may write into it could plant the store's file (or a symlink in its place).
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or st.st_uid not in (os.getuid(), 0):
        raise UsageError(f"the state directory {path} may be written by other users (mode "
                         f"{stat.S_IMODE(st.st_mode):o}, owner uid {st.st_uid}); give it to this user "
                         f"only: chmod 700 {path}")


def load(path: str, overrides: dict):
    """The config at ``path`` with the command line's settings (``location``, ``listen``) over it."""
    from netkit.monitor._config import load_config

    config = load_config(path)
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    from netkit.monitor._auth import check_exposure

    config = replace(config, settings=replace(config.settings, **given))
    check_exposure(config.settings.listen, config.web)   # --listen 0.0.0.0 needs a login too
    return config


def run(path: str, **overrides: Any) -> int:
    """``netkit monitor run``: the monitor in the foreground until SIGTERM; the exit code."""
    from netkit.drivers.aio import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(_main(path, overrides))


async def _once(config) -> list:
    from netkit.check.run import _internal, run_one_async
    from netkit.drivers.aio import Resolver

    resolver = Resolver()
    limit = asyncio.Semaphore(config.settings.max_in_flight)

    async def one(target):
        async with limit:
            try:
                async with asyncio.timeout(target.timeout):
                    return target, await run_one_async(target.spec, False, resolver)
            except TimeoutError:
                from netkit.check.run import failed

                return target, failed(target.spec, CRITICAL, f"no answer within the {target.timeout:g} s deadline")
            except Exception as exc:  # noqa: BLE001
                return target, _internal(target.spec, exc)

    return await asyncio.gather(*(one(t) for t in config.targets))


def run_once(config) -> list:
    """Every target of ``config`` checked once, now: [(TargetConfig, CheckResult)] in order."""
    from netkit.drivers.aio import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(_once(config))

