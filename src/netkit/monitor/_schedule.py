"""When each target's check runs: the monitor's scheduler, as pure logic on an injected clock.

Everything about *when* lives here; nothing here opens a socket, sleeps or reads a clock.
The caller (the asyncio runner) passes ``now`` in seconds on a clock whose epoch survives a
restart (the wall clock, ``time.time()``), and does what the scheduler answers::

    sched = Scheduler(max_in_flight=500)
    sched.update([Job("web", interval=60, timeout=10), ...], now)
    while True:
        for run in sched.expired(now):      # past their hard deadline: cancel them
            cancel(run); sched.finish(run, now)
        for run in sched.due(now):          # start these, each bounded by run.deadline
            start(run)                      # ... and on completion: sched.finish(run, now)
        sleep_until(sched.next_wakeup(now))

The rules:

- **Spread.** A target runs at ``phase + k * interval`` on the clock, where ``phase`` is a
  stable hash of its id spread over ``[0, interval)``: targets added together do not all
  fire together, and one target lands on the same phase after a restart or a reload.
- **No drift.** Slot times are computed from the integer ``k``, never accumulated, so a late
  run never shifts the next one.
- **Bounded in flight.** At most ``max_in_flight`` runs at once; what cannot start waits in
  due order and its lateness (start minus slot) is measured when it starts.
- **One run per target.** A target is never run twice at once. If a target falls more than
  a whole interval behind, the slots it missed are counted (``missed``) and it runs once,
  for its latest slot, rather than several times in a row to catch up.
- **Hard deadlines.** Every started run carries ``deadline = started + timeout`` (timeout at
  most the interval, so a run never overlaps its own next slot); :meth:`Scheduler.expired`
  names the runs past it.
- **Reload.** :meth:`Scheduler.update` adds, removes and changes targets; a target whose
  interval is unchanged keeps its place in the queue, whatever else changed around it.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import deque
from dataclasses import dataclass, field

from netkit.core.errors import UsageError

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_IN_FLIGHT",
    "Job",
    "LatenessStats",
    "Reload",
    "Run",
    "Scheduler",
    "phase_of",
]

# Gatus, Uptime Kuma and Prometheus' blackbox scrapes all default to a minute.
DEFAULT_INTERVAL = 60.0
# Shorter than a second is load, not monitoring; a week is the longest a check may wait
# (a target checked less often than weekly has no meaningful state).
MIN_INTERVAL = 1.0
MAX_INTERVAL = 7 * 86400.0
# Checks at once. Each holds a socket and some memory; 500 keeps 10,000 targets at 60 s
# (167 checks/s, most taking well under a second) far from queueing, and well inside a
# default 1024 open-files limit with the store and the web side beside it.
DEFAULT_MAX_IN_FLIGHT = 500
# The lateness percentile is taken over the starts of the last five minutes (a Prometheus
# range-vector habit), holding at most this many samples: 10,000 targets at 60 s start
# 50,000 runs in five minutes; the cap bounds memory if the window is made very long.
LATENESS_WINDOW = 300.0
MAX_LATENESS_SAMPLES = 65536
# The hash of a target id that gives its phase: 64 bits of BLAKE2b, stable across
# processes, machines and Python versions (``hash()`` is salted per process).
_PHASE_BITS = 64


def phase_of(job_id: str, interval: float) -> float:
    """Where in ``[0, interval)`` the target ``job_id`` runs, the same in every process."""
    digest = hashlib.blake2b(job_id.encode("utf-8", "surrogatepass"), digest_size=_PHASE_BITS // 8)
    return int.from_bytes(digest.digest(), "big") / 2.0**_PHASE_BITS * interval


def _check_seconds(value, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{field} must be a number of seconds, got {value!r}")
    if not low <= value <= high:
        raise UsageError(f"{field} must be between {low:g} and {high:g} seconds, got {value:g}")
    return float(value)


@dataclass(frozen=True)
class Job:
    """A target to run every ``interval`` seconds, each run bounded by ``timeout`` seconds.

    ``timeout`` defaults to the interval and may not exceed it: a run still going when its
    next slot comes would either overlap itself or push every later slot back.
    """

    id: str
    interval: float = DEFAULT_INTERVAL
    timeout: float | None = None
    phase: float = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id:
            raise UsageError(f"a target id must be a non-empty string, got {self.id!r}")
        interval = _check_seconds(self.interval, "interval", MIN_INTERVAL, MAX_INTERVAL)
        object.__setattr__(self, "interval", interval)
        timeout = interval if self.timeout is None else self.timeout
        object.__setattr__(self, "timeout", _check_seconds(timeout, "timeout", 1e-3, interval))
        object.__setattr__(self, "phase", phase_of(self.id, interval))

    def slot(self, k: int) -> float:
        """The time of this job's ``k``-th slot on the clock: ``phase + k * interval``."""
        return self.phase + k * self.interval

    def slot_at_or_after(self, now: float) -> int:
        """The first ``k`` whose slot is not before ``now``."""
        k = math.ceil((now - self.phase) / self.interval)
        # Floating-point division can land one off at an exact boundary; settle it.
        while self.slot(k) < now:
            k += 1
        while self.slot(k - 1) >= now:
            k -= 1
        return k


@dataclass(frozen=True)
class Run:
    """One started run: what the runner executes, and hands back to :meth:`Scheduler.finish`."""

    seq: int            # unique per scheduler, increasing
    job: Job
    slot: float         # the time it was due
    started: float
    deadline: float     # started + job.timeout: cancel the run if it is still going then
    missed: int = 0     # whole slots of this target skipped before this one (it was that late)

    @property
    def lateness(self) -> float:
        return self.started - self.slot


@dataclass(frozen=True)
class Reload:
    """What :meth:`Scheduler.update` changed, by target id."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class LatenessStats:
    """Lateness of started runs, for export (Prometheus: counters, then window gauges)."""

    count: int              # runs started, ever
    total: float            # their lateness summed, seconds (count and total make a mean)
    missed: int             # slots skipped because a target was more than an interval late
    expired: int            # runs that passed their hard deadline
    window: float           # the seconds the following cover
    window_count: int
    window_max: float
    window_p99: float
    window_p50: float = 0.0


class _Entry:
    """A scheduled target: its job, its next slot index, and whether it is running."""

    __slots__ = ("job", "k", "gen", "running")

    def __init__(self, job: Job, k: int):
        self.job = job
        self.k = k
        self.gen = 0          # bumped whenever queued heap items for this target go stale
        self.running: Run | None = None   # the Run in flight, if any


class Scheduler:
    """Targets on a spread, drift-free schedule with a bounded number in flight."""

    def __init__(self, *, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 lateness_window: float = LATENESS_WINDOW):
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1:
            raise UsageError(f"max-in-flight must be a whole number of at least 1, got {max_in_flight!r}")
        self.max_in_flight = max_in_flight
        self._window = _check_seconds(lateness_window, "lateness window", 1.0, 86400.0)
        self._entries: dict[str, _Entry] = {}
        self._queue: list = []          # (slot time, tie, entry, gen): due order, lazily pruned
        self._deadlines: list = []      # (deadline, run seq) of runs in flight, lazily pruned
        self._in_flight: dict[int, Run] = {}
        self._orphans: dict[str, Run] = {}  # runs in flight of removed targets, by target id
        self._seq = 0
        self._tie = 0                   # insertion order breaks ties between equal slots
        self._samples: deque = deque(maxlen=MAX_LATENESS_SAMPLES)   # (started, lateness)
        self._count = 0
        self._total = 0.0
        self._missed = 0
        self._expired = 0

    # -- the set of targets ------------------------------------------------------------

    def update(self, jobs, now: float) -> Reload:
        """Make the scheduled set exactly ``jobs`` (a reload). Untouched targets keep their
        phase and their place; a changed timeout applies from the next run; a changed
        interval takes its new phase from ``now`` on (after the run in flight, if any); a
        removed target's run in flight is stale: :meth:`finish` says so, and the runner drops
        its result."""
        wanted: dict[str, Job] = {}
        for job in jobs:
            if job.id in wanted:
                raise UsageError(f"target id {job.id!r} appears twice; ids must be unique")
            wanted[job.id] = job
        added, changed = [], []
        removed = [jid for jid in self._entries if jid not in wanted]
        for jid in removed:
            self._drop(jid)
        for jid, job in wanted.items():
            entry = self._entries.get(jid)
            if entry is None:
                added.append(jid)
                self._add(job, now)
            elif entry.job != job:
                changed.append(jid)
                if entry.job.interval == job.interval:
                    entry.job = job      # same phase and slot; a new timeout applies from the next run
                else:
                    running = entry.running
                    self._drop(jid)
                    self._add(job, now, running)
        return Reload(tuple(added), tuple(removed), tuple(changed))

    def add(self, job: Job, now: float) -> None:
        if job.id in self._entries:
            raise UsageError(f"target id {job.id!r} is already scheduled")
        self._add(job, now)

    def remove(self, job_id: str) -> None:
        if job_id in self._entries:
            self._drop(job_id)

    def jobs(self) -> list[Job]:
        return [e.job for e in self._entries.values()]

    def next_slot(self, job_id: str) -> float:
        """When ``job_id`` is next due (its slot, whatever the queue in front of it)."""
        entry = self._entries[job_id]
        return entry.job.slot(entry.k)

    def _add(self, job: Job, now: float, running: Run | None = None) -> None:
        if running is None:   # removed and added again while a run was still going
            running = self._orphans.pop(job.id, None)
        entry = _Entry(job, job.slot_at_or_after(now))
        self._entries[job.id] = entry
        if running is None:
            self._push(entry)
        else:   # queued again when that run finishes: one run per target at a time
            entry.running = running
            entry.k -= 1   # finish() moves on by one, to the first slot from ``now``

    def _drop(self, job_id: str) -> None:
        entry = self._entries.pop(job_id)
        entry.gen += 1   # its queued item is stale now
        if entry.running is not None:
            self._orphans[job_id] = entry.running

    def _push(self, entry: _Entry) -> None:
        self._tie += 1
        heapq.heappush(self._queue, (entry.job.slot(entry.k), self._tie, entry, entry.gen))

    def _stale(self, item) -> bool:
        entry = item[2]
        return item[3] != entry.gen or self._entries.get(entry.job.id) is not entry

    # -- running -----------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def waiting(self, now: float) -> int:
        """Targets due but not started (the in-flight bound holds them back); for export,
        it walks the queue."""
        return sum(1 for item in self._queue if item[0] <= now and not self._stale(item))

    def due(self, now: float) -> list[Run]:
        """The runs to start now, in due order, as many as the in-flight bound allows."""
        started = []
        queue = self._queue
        while queue and queue[0][0] <= now and len(self._in_flight) < self.max_in_flight:
            item = heapq.heappop(queue)
            if self._stale(item):
                continue   # removed or rescheduled since it was queued
            entry = item[2]
            job = entry.job
            latest = job.slot_at_or_after(now)
            if job.slot(latest) > now:
                latest -= 1
            missed = max(0, latest - entry.k)
            entry.k = latest
            self._seq += 1
            run = Run(self._seq, job, job.slot(latest), now, now + job.timeout, missed)
            entry.running = run
            self._in_flight[run.seq] = run
            heapq.heappush(self._deadlines, (run.deadline, run.seq))
            self._note(run)
            started.append(run)
        return started

    def finish(self, run: Run, now: float) -> bool:
        """Record that ``run`` ended (done, failed or cancelled); False if it was already
        finished or its target was removed or changed meanwhile (its result is stale)."""
        if self._in_flight.pop(run.seq, None) is None:
            return False
        if self._orphans.get(run.job.id) is run:
            del self._orphans[run.job.id]
        entry = self._entries.get(run.job.id)
        if entry is None or entry.running is not run:
            return False
        entry.running = None
        if entry.job.interval == run.job.interval:
            entry.k += 1
        else:   # the interval changed while this ran: its new slots were set at the reload
            entry.k = max(entry.k, entry.job.slot_at_or_after(now))
        entry.gen += 1
        self._push(entry)
        return True

    def expired(self, now: float) -> list[Run]:
        """Runs in flight whose hard deadline has passed: the runner cancels each and calls
        :meth:`finish`. Each is named once."""
        out = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, seq = heapq.heappop(self._deadlines)
            run = self._in_flight.get(seq)
            if run is not None:
                self._expired += 1
                out.append(run)
        return out

    def next_wakeup(self, now: float) -> float | None:
        """The earliest time the runner must call back: a slot falling due (when a run could
        start), or a deadline. None when nothing is scheduled."""
        times = []
        self._prune()
        if self._queue and len(self._in_flight) < self.max_in_flight:
            times.append(self._queue[0][0])
        while self._deadlines and self._deadlines[0][1] not in self._in_flight:
            heapq.heappop(self._deadlines)
        if self._deadlines:
            times.append(self._deadlines[0][0])
        return min(times) if times else None

    def _prune(self) -> None:
        queue = self._queue
        while queue and self._stale(queue[0]):
            heapq.heappop(queue)

    # -- lateness ----------------------------------------------------------------------

    def _note(self, run: Run) -> None:
        lateness = run.lateness
        self._count += 1
        self._total += lateness
        self._missed += run.missed
        self._samples.append((run.started, lateness))

    def lateness(self, now: float) -> LatenessStats:
        samples = self._samples
        while samples and samples[0][0] < now - self._window:
            samples.popleft()
        values = sorted(s[1] for s in samples)
        p99 = values[math.ceil(0.99 * len(values)) - 1] if values else 0.0
        p50 = values[math.ceil(0.50 * len(values)) - 1] if values else 0.0
        return LatenessStats(self._count, self._total, self._missed, self._expired, self._window,
                             len(values), values[-1] if values else 0.0, p99, p50)
