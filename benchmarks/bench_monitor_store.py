#!/usr/bin/env python3
"""The monitor's store, SQLite and PostgreSQL side by side: commit throughput, growth per
day at 10,000 targets every 60 s, and the time of a 30-day uptime query.

1. Commit: batches of 10,000 samples (with their 10,000 states upserted, as the runner
   writes them) and of 170 samples (one second's worth at 10,000 targets / 60 s, the
   steady state); samples per second and the median commit time. The samples look like
   real ones: an HTTP check's summary and details, 1 % failing with a 10-line dialogue.
2. Growth: one hour of the 10,000 targets (600,000 samples) committed in one-second
   batches, then ``rollup()``; the store's size before and after (SQLite: the file after a
   WAL checkpoint; PostgreSQL: pg_database_size after VACUUM), per sample, and per day
   (x 14.4 M samples). Rollups included: a minute rollup per sample at this interval, 1/60
   of that per hour, a day row per target.
3. Uptime: 30 days of rollups are synthesized (a day row per target and day; hour rows for
   the edge days, minute rows for the edge hours, raw samples for the last minutes), marks
   set as ``rollup()`` leaves them; then ``uptime(now - 30 d, now)`` for one target and for
   all 10,000, median of several runs.

PostgreSQL is the test harness's (tests/peers/postgres.py: initdb in a temp dir, fsync
off, so its commit times are a floor for a server that syncs; SQLite syncs its WAL at
checkpoints only, see _sqlite). Standard library, psycopg and netkit only.

    python benchmarks/bench_monitor_store.py [--targets N] [--only sqlite|postgres] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "src"):   # the working tree's netkit, and the harness as tests.peers
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from netkit.monitor._records import Sample, TargetInfo  # noqa: E402
from netkit.monitor._sql import DAY, HOUR, MINUTE, ROLLUP_GRACE  # noqa: E402
from netkit.monitor._state import TargetState  # noqa: E402
from netkit.monitor._store import open_store  # noqa: E402

INTERVAL = 60
SAMPLES_PER_DAY_PER_TARGET = DAY // INTERVAL
NOW = 1_767_225_600.0 + 12 * HOUR + 17 * MINUTE + 23   # mid-day, not on a bucket edge
SUMMARY = "HTTP OK: HTTP/1.1 200 OK - 612 bytes in 0.003 second response time"
DIALOGUE = tuple(f"< header-{i}: value {i}" for i in range(10))


def make_sample(i: int, at: float) -> Sample:
    failing = i % 100 == 0
    return Sample(target=f"target-{i:05d}", location="default", at=at, duration=0.003 + (i % 50) / 1000,
                  status=2 if failing else 0, summary="CRITICAL - Connection refused" if failing else SUMMARY,
                  details={"peer": "127.0.0.1:8080", "http_status": None if failing else 200,
                           "http_version": "1.1", "bytes": 612},
                  dialogue=DIALOGUE if failing else None)


def store_size(store) -> int:
    if hasattr(store, "path"):
        store._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(os.path.getsize(store.path + suffix) for suffix in ("", "-wal") if os.path.exists(store.path + suffix))
    conn = store._conn()
    conn.execute("VACUUM")
    return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def measure_commit(store, targets: int) -> dict:
    states = [TargetState(f"target-{i:05d}") for i in range(targets)]
    big = []
    for round_ in range(3):
        samples = [make_sample(i, NOW - 10 * DAY + round_ * 60 + i * 0.006) for i in range(targets)]
        started = time.perf_counter()
        store.commit(samples, states, [])
        big.append(time.perf_counter() - started)
    small, per_second = [], targets // INTERVAL + 3
    for round_ in range(30):
        samples = [make_sample(i, NOW - 9 * DAY + round_ + i * 0.001) for i in range(per_second)]
        started = time.perf_counter()
        store.commit(samples, states[:per_second], [])
        small.append(time.perf_counter() - started)
    return {"batch": targets, "batch_seconds": statistics.median(big),
            "samples_per_second": targets / statistics.median(big),
            "small_batch": per_second, "small_batch_seconds": statistics.median(small)}


def measure_growth(store, targets: int) -> dict:
    start = NOW - 5 * DAY - (NOW % HOUR)
    store.sync_targets([TargetInfo(f"target-{i:05d}", f"https://t{i}.example/") for i in range(targets)])
    before = store_size(store)
    states = [TargetState(f"target-{i:05d}") for i in range(targets)]
    second = targets / INTERVAL
    samples = 0
    started = time.perf_counter()
    for tick in range(HOUR):   # one-second batches, as the runner commits them
        lo, hi = int(tick * second) % targets, int((tick + 1) * second) % targets
        chosen = range(lo, hi) if lo < hi else [*range(lo, targets), *range(hi)]
        batch = [make_sample(i, start + tick + 0.5) for i in chosen]
        store.commit(batch, [states[i] for i in chosen], [])
        samples += len(batch)
    writing = time.perf_counter() - started
    raw = store_size(store) - before
    calls, done = [], False
    while not done:   # as the runner calls it: a time budget per call, resumed
        started = time.perf_counter()
        done = store.rollup(start + HOUR + ROLLUP_GRACE)
        calls.append(time.perf_counter() - started)
    total = store_size(store) - before
    per_day = targets * SAMPLES_PER_DAY_PER_TARGET
    reads = []
    for _ in range(3):
        started = time.perf_counter()
        assert len(store.current()) == targets
        reads.append(time.perf_counter() - started)
    return {"samples": samples, "write_seconds": writing, "rollup_seconds": sum(calls),
            "rollup_calls": len(calls), "rollup_longest_call": max(calls),
            "raw_bytes_per_sample": raw / samples, "bytes_per_sample": total / samples,
            "gib_per_day": total / samples * per_day / 2**30, "current_seconds": statistics.median(reads)}


def synthesize(store, targets: int) -> None:
    """30 days of rollups and a raw tail, as rollup() would have left them at NOW."""
    first_day = (NOW - 30 * DAY) // DAY * DAY
    last_day = NOW // DAY * DAY
    rows = []

    def add(step, at, i):
        failures = 1 if (i + int(at)) % 997 == 0 else 0
        count = step // INTERVAL
        rows.append((step, f"target-{i:05d}", "default", at, count, min(failures, count), 0.003, 0.01, 0.05,
                     0.01, 0.04, 0.05))

    for i in range(targets):
        for day in range(int(first_day), int(last_day), DAY):
            add(DAY, float(day), i)
        for hour in [*range(int(first_day), int(first_day) + DAY, HOUR),
                     *range(int(last_day), int(NOW // HOUR * HOUR), HOUR)]:
            add(HOUR, float(hour), i)
        for minute in [*range(int(NOW - 30 * DAY) // HOUR * HOUR, int(NOW - 30 * DAY) // HOUR * HOUR + HOUR, 60),
                       *range(int(NOW // HOUR * HOUR), int((NOW - ROLLUP_GRACE) // MINUTE * MINUTE), 60)]:
            add(MINUTE, float(minute), i)
        if len(rows) > 200_000:
            _insert_rollups(store, rows)
            rows.clear()
    _insert_rollups(store, rows)
    tail = (NOW - ROLLUP_GRACE) // MINUTE * MINUTE
    for second in range(int(tail), int(NOW)):
        store.commit([make_sample(i, float(second)) for i in range(targets) if i % INTERVAL == second % INTERVAL],
                     [], [])
    with store._write() as cur:
        for step, mark in ((DAY, last_day), (HOUR, NOW // HOUR * HOUR), (MINUTE, tail)):
            cur.execute("INSERT INTO rollup_marks (step, mark) VALUES (?, ?) "
                        "ON CONFLICT (step) DO UPDATE SET mark = excluded.mark", (step, float(mark)))


def _insert_rollups(store, rows) -> None:
    with store._write() as cur:
        cur.executemany("INSERT INTO rollups (step, target, location, at, count, failures, min, avg, max, p50, p95, "
                        "p99) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)


def measure_uptime(store, targets: int) -> dict:
    synthesize(store, targets)
    # As a store in service has them: statistics for the planner (autovacuum's ANALYZE on
    # PostgreSQL, PRAGMA optimize after each rollup on SQLite).
    (store._conn()).execute("ANALYZE")
    results = {}
    for name, target in (("one", "target-00042"), ("all", None)):
        times = []
        for _ in range(5):
            started = time.perf_counter()
            answer = store.uptime(NOW - 30 * DAY, NOW, target)
            times.append(time.perf_counter() - started)
        assert len(answer) == (1 if target else targets), len(answer)
        results[f"uptime_{name}_seconds"] = statistics.median(times)
    return results


def run_engine(name: str, url_for, targets: int, log) -> dict:
    result = {"engine": name}
    for part, measure in (("commit", measure_commit), ("growth", measure_growth), ("uptime", measure_uptime)):
        store = open_store(url_for(part))
        try:
            log(f"{name}: {part} ...")
            result.update(measure(store, targets))
        finally:
            store.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    def log(text):
        print(text, file=sys.stderr, flush=True)

    results = []
    with tempfile.TemporaryDirectory(prefix="netkit-bench-store-") as tmp:
        if args.only in (None, "sqlite"):
            results.append(run_engine("sqlite", lambda part: str(Path(tmp) / f"{part}.db"), args.targets, log))
        if args.only in (None, "postgres"):
            from tests.peers.postgres import running_postgres

            with running_postgres() as server:
                results.append(run_engine("postgres", lambda part: server.new_database(), args.targets, log))
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    rows = [("", *(r["engine"] for r in results))]
    for key, label, fmt in (
            ("samples_per_second", "commit, 10k-sample batches: samples/s", "{:,.0f}"),
            ("batch_seconds", "  one 10k batch (+10k states), s", "{:.3f}"),
            ("small_batch_seconds", "  one 1-second batch (170), s", "{:.4f}"),
            ("raw_bytes_per_sample", "bytes per sample, raw", "{:.0f}"),
            ("bytes_per_sample", "bytes per sample, raw + rollups", "{:.0f}"),
            ("gib_per_day", "growth per day at 10k targets / 60 s, GiB", "{:.2f}"),
            ("rollup_seconds", "rollup() of one hour (600k samples), s", "{:.2f}"),
            ("rollup_calls", "  in calls of rollup() (1 s budget each)", "{}"),
            ("rollup_longest_call", "  the longest call, s", "{:.2f}"),
            ("current_seconds", "current() of all targets, s", "{:.3f}"),
            ("uptime_one_seconds", "30-day uptime, one target, s", "{:.4f}"),
            ("uptime_all_seconds", "30-day uptime, all targets, s", "{:.3f}")):
        rows.append((label, *(fmt.format(r[key]) for r in results)))
    width = max(len(r[0]) for r in rows)
    for row in rows:
        print(row[0].ljust(width), *(str(v).rjust(12) for v in row[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
