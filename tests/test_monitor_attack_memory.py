"""The red team's hostile peers during a store outage, with the real runner in-process: the
results held for the retry keep their status and summary but not the peers' transcripts
(a failed run's dialogue is up to 64 KiB; MAX_PENDING_SAMPLES of them would be gigabytes),
and they are all committed when the store is back."""

from __future__ import annotations

import asyncio
import time

from netkit.monitor._config import load_config
from netkit.monitor._runner import Monitor
from netkit.monitor._store import StoreError, open_store

WAIT = 60.0
# Hostile targets, each run every second.
TARGETS = 3


class FlakyStore:
    """The real store, whose commits fail while ``down`` is true (a full disk, a lost server)."""

    def __init__(self, store):
        self._store = store
        self.down = False

    def commit(self, *args, **kw):
        if self.down:
            raise StoreError("database or disk is full")
        return self._store.commit(*args, **kw)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_results_held_during_a_store_outage_drop_their_transcripts(tmp_path, monitor_hostile):
    cfg = tmp_path / "m.toml"
    cfg.write_text(f'[monitor]\nstore = "{tmp_path}/m.db"\nlisten = ""\nstate-dir = "{tmp_path}"\n'
                   + "".join(f'[[target]]\nname = "evil{n}"\nurl = "http://127.0.0.1:{monitor_hostile.http_evil}/'
                             f'?n={n}"\ninterval = "1s"\ntimeout = 0.9\n' for n in range(TARGETS)))
    store = FlakyStore(open_store(str(tmp_path / "m.db")))
    monitor = Monitor(load_config(cfg), store)

    async def until(done, what):
        deadline = time.monotonic() + WAIT
        while not done():
            assert time.monotonic() < deadline, f"gave up waiting for {what}: {monitor.stats()}"
            await asyncio.sleep(0.1)

    async def main():
        task = asyncio.create_task(monitor.run())
        try:
            await until(lambda: any(s.dialogue for s in monitor.last_samples().values()), "a failed run's dialogue")
            store.down = True
            errors = monitor.stats()["store_errors_total"]
            await until(lambda: monitor.stats()["store_errors_total"] >= errors + 6, "commits failing")
            held = list(monitor._pending.samples)
            # only those that came since the last failed commit (a second's worth) still have theirs
            assert len(held) >= 12
            assert sum(1 for s in held if s.dialogue) <= 2 * TARGETS, [len(s.dialogue or ()) for s in held]
            assert all(s.status == 2 and s.summary for s in held)
            outage = (held[0].at, held[-1].at)
            store.down = False
            await until(lambda: len(store.history("evil0", outage[0], outage[1] + 0.001, 10_000)) >= 1,
                        "the outage's results, committed")
            rows = store.history("evil1", 0, time.time() + 1, 10_000)
            assert rows and any(r.dialogue for r in rows)     # the ones committed in time kept theirs
        finally:
            monitor.stop()
            await asyncio.wait_for(task, WAIT)     # (the monitor closes the store it ran on)

    asyncio.run(main())
