"""``kill -9`` during writes: a real child process commits batches in a loop and prints each
batch's number once ``commit()`` has returned; the test kills it with SIGKILL at several
moments (some inside a commit), then opens the store: it opens, SQLite's integrity check
passes, every batch the child reported is there whole, and no batch is there in part."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netkit.monitor._store import open_store

# Samples per batch: big enough that a commit takes a while, so some kills land inside one.
BATCH = 5000
# Kills per test: each after a different number of reported batches and a random delay.
KILLS = 4
# How long the child may take to report its first batches (a loaded 2-core machine).
REPORT_TIMEOUT = 60.0
T0 = 1_700_000_000.0

CHILD = """
import sys
from netkit.monitor._records import Sample, StoredEvent
from netkit.monitor._state import TargetState
from netkit.monitor._store import open_store

url, first, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = open_store(url, "berlin")
batch = first
while True:
    base = {t0} + batch * 1000
    samples = [Sample("t%d" % (i % 100), "berlin", base + i * 0.1, 0.05, i % 4, "batch %d" % batch,
                      {{"batch": batch}}, ("line",) if i % 4 else None) for i in range(size)]
    store.commit(samples, [TargetState("t0", attempt=batch % 50)], [StoredEvent("t0", "berlin", base, "Batch", {{"n": batch}})])
    print(batch, flush=True)
    batch += 1
""".format(t0=T0)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "monitor.db")
    return request.getfixturevalue("postgres_url")


def run_and_kill(url: str, first: int, batches: int, delay: float) -> list[int]:
    """Start a writer at batch ``first``; SIGKILL it ``delay`` s after it reported
    ``batches`` batches; the batch numbers it reported."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(first), str(BATCH)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = b""
    try:
        deadline = time.monotonic() + REPORT_TIMEOUT
        while out.count(b"\n") < batches:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, f"the writer reported {out!r} only"
            if select.select([child.stdout], [], [], 0.5)[0]:
                out += os.read(child.stdout.fileno(), 4096)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        # What it printed before the kill: lines written after commit() returned.
        out += child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    return [int(n) for n in out.split()]


def test_kill_9_loses_no_committed_batch(url):
    rng = random.Random(13)
    reported: list[int] = []
    first = 0
    for kill in range(KILLS):
        # After 1..4 reports, 0-300 ms later: before, inside and after the next commit.
        reported += run_and_kill(url, first, batches=1 + kill, delay=rng.uniform(0, 0.3))
        store = open_store(url, "berlin")
        try:
            if url.endswith(".db"):
                assert store.integrity_check() == "ok"
            counts = batch_counts(store)
            assert set(reported) <= set(counts), f"reported {reported}, stored {sorted(counts)}"
            assert all(n == BATCH for n in counts.values()), counts   # whole, or not at all
            events = {e.data["n"] for e in store.events("t0", 0)}
            assert events == set(counts)
            # The state is the last stored batch's (the same transaction as its samples).
            assert store.load_states()["t0"].attempt == max(counts) % 50
            first = max(counts) + 1
        finally:
            store.close()
    assert len(reported) >= 1 + 2 + 3 + 4


def batch_counts(store) -> dict[int, int]:
    with store._read() as cur:
        cur.execute("SELECT summary, COUNT(*) FROM samples GROUP BY summary")
        return {int(summary.split()[1]): count for summary, count in cur.fetchall()}
