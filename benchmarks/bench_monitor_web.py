#!/usr/bin/env python3
"""The dashboard at 10,000 (then 50,000) targets with 30 days of history in SQLite.

Measured, each the median of several runs, the server on its own event loop thread (as
``netkit monitor run`` has it), the clients in this process:

1. Overview ``/``: first byte (the status line and headers: the page is streamed) and the
   whole body, over loopback with http.client; then in Debian's chromium (headless,
   selenium): Navigation Timing's responseStart, domContentLoadedEventEnd and loadEventEnd
   (the page complete: every row parsed, laid out and painted, the script run). Past
   10,000 targets the overview lists every problem and 10,000 rows in all; ``?all=1``
   (every row) is measured too.
2. A target's page over 30 days (hour rollups: 720 buckets) and over 1 hour (minutes), and
   the public status page (every target in one status group).
3. Live: 50 ``/events`` clients held open; 100 targets change state (the runner's subscriber
   called) and the time until all 50 clients have all 100 rows; an overview's first byte
   while the 50 are open; every client still connected after.

History, synthesized straight into the store (not through the runner: 30 days at 10,000
targets is 432 M runs): day rollups for 30 days and hour rollups for the last 2 days for
every target (what the overview's uptime and sparklines read), 30 days of hour rollups and
a day of minute rollups for the targets whose pages are measured (a page reads one
target's rows by primary key, so the others' rows change nothing but the file's size), and
the last 10 minutes of raw samples of every target (the not yet rolled-up tail).

Beside: Uptime Kuma and Gatus are not measured (see the report's note): Uptime Kuma's
install downloads its front-end build and a sqlite binary from GitHub (past the npm
registry), and Gatus needs a newer Go than Debian 12's 1.19.

    python benchmarks/bench_monitor_web.py [--targets 10000 50000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
for path in (REPO, REPO / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from netkit.monitor._config import Web  # noqa: E402
from netkit.monitor._dash import CACHE, LIVE, MAX_PAGE_ROWS  # noqa: E402
from netkit.monitor._records import Sample, TargetInfo, Verdict  # noqa: E402
from netkit.monitor._sql import DAY, HOUR, MINUTE, ROLLUP_GRACE  # noqa: E402
from netkit.monitor._state import TargetState  # noqa: E402
from netkit.monitor._store import open_store  # noqa: E402
from netkit.monitor._web import make_app, serve  # noqa: E402

INTERVAL = 60
GROUPS = 20
SSE_CLIENTS = 50
CHANGES = 100
ROUNDS = 5
PAGE_TARGET = "target-00042"
SUMMARY = "HTTP OK: HTTP/1.1 200 OK - 612 bytes in 0.003 second response time"


def tid(i: int) -> str:
    return f"target-{i:05d}"


def info(i: int) -> TargetInfo:
    return TargetInfo(tid(i), f"https://host{i}.example/", f"group-{i % GROUPS:02d}",
                      (("env", "prod" if i % 3 else "stage"), ("team", f"t{i % 7}")), INTERVAL)


class BenchMonitor:
    """The web side's monitor protocol over plain dicts: 1 % of targets CRITICAL."""

    location = "default"

    def __init__(self, store, n: int, now: float):
        targets = tuple(SimpleNamespace(id=tid(i), info=info(i)) for i in range(n))
        self.config = SimpleNamespace(targets=targets, by_id={t.id: t for t in targets}, modules={},
                                      settings=SimpleNamespace(api_token=None), web=Web(("group-00",)))
        self.store = store
        self._states, self._samples, self._verdicts = {}, {}, {}
        for i in range(n):
            bad = i % 100 == 0
            status = 2 if bad else 0
            self._states[tid(i)] = TargetState(tid(i), status=status, hard_status=status, since=now - 3600,
                                               last_result=now - i % INTERVAL)
            self._samples[tid(i)] = Sample(tid(i), "default", now - i % INTERVAL, 0.003 + (i % 50) / 1000, status,
                                           "CRITICAL - Connection refused" if bad else SUMMARY,
                                           cert_expiry=now + (i % 90) * DAY if i % 2 else None)
            self._verdicts[tid(i)] = Verdict(tid(i), status, now - 3600, (("default", status),))
        self.subscribers = []

    def states(self):
        return self._states

    def last_samples(self):
        return self._samples

    def verdicts(self):
        return self._verdicts

    def stats(self):
        return {}

    def subscribe(self, callback):
        self.subscribers.append(callback)


# -- history ------------------------------------------------------------------------------------

def synthesize(store, n: int, now: float) -> None:
    store.sync_targets([info(i) for i in range(n)])
    last_day, last_hour = now // DAY * DAY, now // HOUR * HOUR
    tail = (now - ROLLUP_GRACE) // MINUTE * MINUTE
    rows = []

    def add(step, at, i):
        failures = 1 if (i + int(at) // step) % 97 == 0 else 0
        count = step // INTERVAL
        d = 0.003 + (i % 50) / 1000 + (int(at) // step % 24) / 10000
        rows.append((step, tid(i), "default", float(at), count, min(failures, count), d / 2, d, d * 3, d, d * 2, d * 3))

    def flush():
        with store._write() as cur:
            cur.executemany("INSERT INTO rollups (step, target, location, at, count, failures, min, avg, max, p50, "
                            "p95, p99) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", rows)
        rows.clear()

    paged = {42, 43, 44}
    for i in range(n):
        for day in range(int(last_day - 30 * DAY), int(last_day), DAY):
            add(DAY, day, i)
        first_hour = last_day - 30 * DAY if i in paged else last_hour - 48 * HOUR
        for hour in range(int(first_hour), int(last_hour), HOUR):
            add(HOUR, hour, i)
        if i in paged:
            for minute in range(int(last_hour - 24 * HOUR), int(tail), MINUTE):
                add(MINUTE, minute, i)
        if len(rows) > 200_000:
            flush()
    flush()
    for second in range(int(tail), int(now), 10):   # the raw tail, in 10-second batches
        store.commit([Sample(tid(i), "default", float(second + i % 10), 0.004, 2 if i % 100 == 0 else 0,
                             SUMMARY) for i in range(n) if i % (INTERVAL // 10) == (second // 10) % (INTERVAL // 10)],
                     [], [])
    with store._write() as cur:
        for step, mark in ((DAY, last_day), (HOUR, last_hour), (MINUTE, tail)):
            cur.execute("INSERT INTO rollup_marks (step, mark) VALUES (?, ?) "
                        "ON CONFLICT (step) DO UPDATE SET mark = excluded.mark", (step, float(mark)))


# -- the server ---------------------------------------------------------------------------------

class Server:
    def __init__(self, monitor):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.app = make_app(monitor)
        self.served = self.call(serve(self.app, port=0))
        self.port = self.served.port

    def call(self, coro, timeout=600):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.call(self.served.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def fetch(port: int, path: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the whole body, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    first = time.perf_counter() - started
    body = response.read()
    whole = time.perf_counter() - started
    conn.close()
    assert response.status == 200, (path, response.status, body[:200])
    return first, whole, len(body)


def median_fetch(port: int, path: str, rounds: int = ROUNDS) -> dict:
    runs = [fetch(port, path) for _ in range(rounds)]
    return {"first_byte": statistics.median(r[0] for r in runs), "whole": statistics.median(r[1] for r in runs),
            "bytes": runs[-1][2]}


def chromium():
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(120)
    return driver


def in_browser(driver, url: str, rounds: int = ROUNDS) -> dict:
    timings = []
    for _ in range(rounds):
        driver.get("about:blank")
        driver.get(url)
        t = driver.execute_script("const n = performance.getEntriesByType('navigation')[0];"
                                  "return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd,"
                                  " document.querySelectorAll('div.r[data-id]').length]")
        timings.append(t)
    return {"first_byte": statistics.median(t[0] for t in timings) / 1000,
            "dom_ready": statistics.median(t[1] for t in timings) / 1000,
            "complete": statistics.median(t[2] for t in timings) / 1000, "rows": timings[-1][3]}


def sse_clients(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        head = b""
        while b"retry: 3000" not in head:
            head += sock.recv(4096)
        socks.append(sock)
    return socks


def live(server: Server, monitor: BenchMonitor, port: int) -> dict:
    socks = sse_clients(port, SSE_CLIENTS)
    live_state = server.app[LIVE]
    deadline = time.monotonic() + 30
    while len(live_state.clients) < SSE_CLIENTS and time.monotonic() < deadline:
        time.sleep(0.01)
    first_with_clients = median_fetch(port, "/", 3)["first_byte"]
    changed = [tid(i) for i in range(1, CHANGES * 7 * 2, 7) if i % 100][:CHANGES]   # OK ones: each a change

    async def change():
        now = time.time()
        for t in changed:
            monitor._states[t] = TargetState(t, status=2, hard_status=2, since=now, last_result=now)
            monitor._verdicts[t] = Verdict(t, 2, now, (("default", 2),))
            for callback in monitor.subscribers:
                callback(t, ["HardChange"])

    started = time.perf_counter()
    server.call(change())
    received = []
    for sock in socks:
        data = b""
        while data.count(b"event: row") < CHANGES:
            data += sock.recv(65536)
        received.append(time.perf_counter() - started)
    connected = len(live_state.clients)
    for sock in socks:
        sock.close()
    return {"clients": SSE_CLIENTS, "changes": CHANGES, "all_received": max(received),
            "overview_first_byte_with_clients": first_with_clients, "still_connected": connected,
            "dropped": live_state.dropped}


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(n: int, driver) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        now = time.time()
        store = open_store(str(Path(tmp) / "monitor.db"))
        started = time.perf_counter()
        step(f"{n:,} targets: synthesizing 30 days of history")
        synthesize(store, n, now)
        built = time.perf_counter() - started
        monitor = BenchMonitor(store, n, now)
        server = Server(monitor)
        try:
            port = server.port
            step("warming the background cache")
            fetch(port, "/")               # starts the background cache
            cache = server.app[CACHE]
            deadline = time.monotonic() + 600
            while not cache.series_at and time.monotonic() < deadline:
                time.sleep(0.1)
            refresh_started = time.perf_counter()
            server.call(cache.refresh(time.time()))
            uptime_refresh = time.perf_counter() - refresh_started
            server.call(cache.refresh_series(store, time.time()))
            series_refresh = time.perf_counter() - refresh_started - uptime_refresh
            step("pages over http")
            result = {"targets": n, "synthesize_seconds": built,
                      "store_mib": os.path.getsize(store.path) / 2**20,
                      "cache_uptime_refresh": uptime_refresh, "cache_series_refresh": series_refresh,
                      "overview": median_fetch(port, "/"),
                      "overview_filtered": median_fetch(port, "/?state=CRITICAL"),
                      "target_30d": median_fetch(port, f"/target/{PAGE_TARGET}?range=30d"),
                      "target_1h": median_fetch(port, f"/target/{PAGE_TARGET}?range=1h"),
                      "status": median_fetch(port, "/status")}
            step("pages in chromium")
            result["browser_overview"] = in_browser(driver, f"http://127.0.0.1:{port}/", 3)
            if n > MAX_PAGE_ROWS:
                result["overview_all"] = median_fetch(port, "/?all=1", 3)
                result["browser_overview_all"] = in_browser(driver, f"http://127.0.0.1:{port}/?all=1", 3)
            result["browser_target_30d"] = in_browser(driver, f"http://127.0.0.1:{port}/target/{PAGE_TARGET}?range=30d",
                                                      3)
            step(f"{SSE_CLIENTS} live clients")
            result["live"] = live(server, monitor, port)
        finally:
            server.close()
            store.close()
        return result


def report(r: dict) -> None:
    ms = lambda s: f"{s * 1000:8.1f} ms"  # noqa: E731
    print(f"\n== {r['targets']:,} targets, 30 days (synthesized in {r['synthesize_seconds']:.0f} s, "
          f"{r['store_mib']:.0f} MiB SQLite)")
    print(f"  background cache: uptime 24h/7d/30d of all {ms(r['cache_uptime_refresh'])}, "
          f"sparklines + day bars {ms(r['cache_series_refresh'])}")
    for key, name in (("overview", "overview /"), ("overview_all", "overview ?all=1 (every row)"),
                      ("overview_filtered", "overview ?state=CRITICAL"),
                      ("target_30d", "target page, 30 d"), ("target_1h", "target page, 1 h"),
                      ("status", "status page")):
        v = r.get(key)
        if v is None:
            continue
        print(f"  {name:28} first byte {ms(v['first_byte'])}  whole {ms(v['whole'])}  {v['bytes'] / 1024:8.0f} KiB")
    for key, name in (("browser_overview", "chromium: overview"), ("browser_overview_all", "chromium: ?all=1"),
                      ("browser_target_30d", "chromium: target 30 d")):
        v = r.get(key)
        if v is None:
            continue
        print(f"  {name:28} first byte {ms(v['first_byte'])}  DOM ready {ms(v['dom_ready'])}  "
              f"complete {ms(v['complete'])}  rows {v['rows']}")
    v = r["live"]
    print(f"  live: {v['clients']} /events clients, {v['changes']} changes all received in {ms(v['all_received'])}; "
          f"overview first byte meanwhile {ms(v['overview_first_byte_with_clients'])}; "
          f"{v['still_connected']} still connected, {v['dropped']} dropped")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    driver = chromium()
    results = []
    try:
        for n in args.targets:
            results.append(run(n, driver))
            if not args.json:
                report(results[-1])
    finally:
        driver.quit()
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
