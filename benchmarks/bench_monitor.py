#!/usr/bin/env python3
"""netkit monitor at scale: N targets every 60 s for M minutes, beside Prometheus +
blackbox_exporter doing the same N probes at the same interval, one side after the other.

The targets (monitor_peers.workload): 1 in 100 dead, alternately a loopback port that refuses
at once and a namespace address whose nftables drops the SYN (the check waits its timeout,
5 s on both sides); the rest cycle http, http, tcp, tls, dns: http ``GET /?n=<i>`` on the
harness's nginx, tcp connect to one of 16 loopback listeners, tls handshake with nginx's
HTTPS port (verified against the harness's CA), dns ``A www.netkit.test`` (answer checked)
from the harness's dnsmasq. Targets sharing an address are told apart by name.

netkit side: ``VENV/bin/netkit monitor run CONFIG`` (VENV: a regular install with the
monitor extra, see _common.bench_venv), SQLite in its state dir, /metrics on a loopback port.
Prometheus side: ``prometheus-blackbox-exporter`` with one module per kind, and
``prometheus`` (scrape_interval 60 s) with the N targets as static targets relabelled to
``/probe`` on the exporter (the usual set-up); their CPU and RSS are added together.

Measured per side, from /proc: CPU (utime+stime of the process and its descendants) over
the steady window, i.e. from one interval after the side is ready to the end, as % of one
core; peak RSS (VmHWM). From /metrics at the end: the monitor's scheduling lateness p99 and
missed runs. Store growth: the state dir (SQLite + WAL) or Prometheus' TSDB dir over the
window, extrapolated to a day. From the peers' logs, both sides: the http requests nginx
logged and the dns queries dnsmasq answered during the window, against the expected number.

Bar (issue 13), netkit side: CPU <= 25 % of one core, RSS <= 400 MiB, lateness p99 <= 1 s,
zero missed runs. Exit status: 0 the bar passes, 1 it fails, 2 the benchmark could not run.

    python benchmarks/bench_monitor.py [--targets N] [--minutes M] [--quick] [--only SIDE] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from _common import (
    BenchError,
    add_common_options,
    bench_main,
    bench_venv,
    child_env,
    need_tool,
    python_version,
    ratio,
    table,
    verdict,
)
from monitor_peers import (
    CHECK_TIMEOUT,
    PROMETHEUS_JOB,
    ProcTree,
    blackbox_config,
    counts,
    histogram_quantile,
    machine_busy,
    netkit_config,
    prometheus_config,
    running_world,
    tree_size,
    workload,
)

from tests.peers._base import ServerProcess, free_port
from tests.peers.dns import WWW

HOST = "127.0.0.1"
DEFAULT_TARGETS = 10_000
DEFAULT_MINUTES = 10
QUICK_TARGETS = 2_000
QUICK_MINUTES = 2
INTERVAL = 60
SIDES = ("netkit", "prometheus")
# The bars of issue 13 (netkit side).
BAR_CPU_PERCENT = 25.0
BAR_RSS_MIB = 400.0
BAR_LATENESS_S = 1.0
BAR_MISSED = 0
# How often the processes are read (CPU, RSS, alive); each read walks /proc once.
SAMPLE_SECONDS = 5.0
# How long a side may take to be ready: reading a config of 50,000 targets takes a while.
READY_TIMEOUT = 300.0
# One HTTP request to a side's /metrics or Prometheus' API.
HTTP_TIMEOUT = 30.0
# Bytes of a peer's log read at once when counting lines.
LOG_CHUNK = 1 << 20
DAY = 86400
# Prometheus' scrape timeout (monitor_peers.prometheus_config): the probe's plus 5 s.
SCRAPE_TIMEOUT = CHECK_TIMEOUT + 5


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str) -> str:
    with _opener().open(url, timeout=HTTP_TIMEOUT) as response:
        return response.read().decode(errors="replace")


def _answers(url: str) -> bool:
    try:
        with _opener().open(url, timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


class LogCounter:
    """Counts the lines of a peer's log holding ``needle`` between two marks."""

    def __init__(self, path: Path, needle: bytes) -> None:
        self.path = path
        self.needle = needle

    def mark(self) -> int:
        return self.path.stat().st_size

    def count(self, start: int, end: int) -> int:
        n = 0
        rest = b""
        with open(self.path, "rb") as f:
            f.seek(start)
            left = end - start
            while left > 0:
                chunk = f.read(min(LOG_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                n += sum(1 for line in lines if self.needle in line)
        return n + (1 if self.needle in rest else 0)


# --- one side's run -----------------------------------------------------------------------

class Observation:
    """The steady window of one side: from one interval after ready to the end."""

    def __init__(self, name, trees: dict[str, ProcTree], servers: list[ServerProcess],
                 store: Path, logs: dict[str, LogCounter], snapshot, describe,
                 minutes: float, log):
        self.name, self.trees, self.servers = name, trees, servers
        self.store, self.logs = store, logs
        self.snapshot, self.describe = snapshot, describe
        self.minutes, self.log = minutes, log

    def _cpu(self) -> dict[str, float]:
        return {k: t.sample() for k, t in self.trees.items()}

    def _alive(self) -> None:
        for server in self.servers:
            if not server.alive():
                raise BenchError(f"{server.name} died during the run:\n{server.logs()}")

    def run(self) -> dict:
        """Sample until the end; the side's /metrics is read at the window's start, once a
        minute (as a Prometheus scraping it would) and at the end."""
        ready = time.monotonic()
        end = ready + self.minutes * 60
        steady = ready + INTERVAL
        last_log, last_cpu = ready, self._cpu()
        start_cpu = start = None
        reads = []
        while True:
            now = time.monotonic()
            if start is None and now >= steady:
                start_busy = machine_busy()
                start_cpu = self._cpu()
                start = {
                    "t": now,
                    "store": tree_size(self.store),
                    "logs": {k: c.mark() for k, c in self.logs.items()},
                    "snapshot": self.snapshot(),
                }
                reads.append(start["snapshot"])
            if now >= end:
                break
            wake = min(now + SAMPLE_SECONDS, end, steady if start is None else end)
            time.sleep(max(0.01, wake - now))
            self._alive()
            cpu = self._cpu()
            if time.monotonic() - last_log >= INTERVAL - SAMPLE_SECONDS / 2:
                spent = sum(cpu.values()) - sum(last_cpu.values())
                took = time.monotonic() - last_log
                rss = sum(t.rss_sum_max_kib for t in self.trees.values()) / 1024
                snap = self.snapshot()
                if start is not None:
                    reads.append(snap)
                self.log(f"  {self.name} {(time.monotonic() - ready) / 60:4.1f} min: "
                         f"CPU {100 * spent / took:5.1f} % of a core over the last minute, "
                         f"RSS {rss:6.1f} MiB, store {tree_size(self.store) / 2**20:7.1f} MiB"
                         f"{self.describe(snap)}")
                last_log, last_cpu = time.monotonic(), cpu
        end_cpu = self._cpu()
        end_busy = machine_busy()
        stop = {
            "t": time.monotonic(),
            "wall": time.time(),
            "store": tree_size(self.store),
            "logs": {k: c.mark() for k, c in self.logs.items()},
        }
        stop["snapshot"] = self.snapshot()
        reads.append(stop["snapshot"])
        window = stop["t"] - start["t"]
        cpu = {k: 100 * (end_cpu[k] - start_cpu[k]) / window for k in self.trees}
        machine = 100 * (end_busy - start_busy) / window
        return {
            "machine_busy_percent": round(machine, 1),
            "others_percent": round(machine - sum(cpu.values()), 1),
            "loadavg_end": Path("/proc/loadavg").read_text().split()[0],
            "window_s": round(window, 1),
            "cpu_percent": round(sum(cpu.values()), 2),
            "cpu_percent_each": {k: round(v, 2) for k, v in cpu.items()},
            "rss_peak_mib": round(sum(t.peak_mib for t in self.trees.values()), 1),
            "rss_peak_mib_each": {k: round(t.peak_mib, 1) for k, t in self.trees.items()},
            "store_mib": round(stop["store"] / 2**20, 2),
            "store_growth_mib_per_day": round(
                (stop["store"] - start["store"]) / window * DAY / 2**20, 1),
            "seen": {k: c.count(start["logs"][k], stop["logs"][k]) for k, c in self.logs.items()},
            "start": start["snapshot"],
            "stop": stop["snapshot"],
            "reads": reads,
            "stop_wall": stop["wall"],
        }


def _expected(kinds: dict[str, int], window: float) -> dict[str, float]:
    runs = window / INTERVAL
    return {"http": kinds.get("http", 0) * runs, "dns": kinds.get("dns", 0) * runs}


def run_netkit(netkit: Path, world, targets, tmp: Path, minutes: float, log) -> dict:
    state = tmp / "netkit-state"
    state.mkdir()
    port = free_port(HOST)
    config = netkit_config(tmp / "monitor.toml", targets, world, state, f"{HOST}:{port}",
                           INTERVAL)
    metrics_url = f"http://{HOST}:{port}/metrics"
    server = ServerProcess(
        "netkit monitor", [str(netkit), "monitor", "run", str(config)],
        log_file=tmp / "netkit-monitor.log", ready=lambda: _answers(metrics_url),
        ready_timeout=READY_TIMEOUT, env=child_env(), cwd=tmp)
    log(f"netkit monitor run ({len(targets)} targets) ...")
    started = time.monotonic()
    with server:
        ready_s = time.monotonic() - started
        log(f"  ready after {ready_s:.1f} s; measuring for {minutes} min")
        observed = Observation(
            "netkit", {"netkit": ProcTree([server.pid])}, [server], state,
            _log_counters(world), lambda: monitor_snapshot(http_get(metrics_url)),
            describe_monitor, minutes, log).run()
        observed["ready_s"] = round(ready_s, 1)
    observed.update(read_monitor_metrics(observed))
    return observed


def monitor_snapshot(text: str) -> dict:
    """What one read of the monitor's /metrics says: its own ``netkit_monitor_*`` series
    ({name or name{labels}: value}) and how many targets are up and down."""
    own: dict[str, float] = {}
    up = down = 0
    for line in text.splitlines():
        if line.startswith("netkit_monitor_"):
            key, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                own[key] = float(value)
        elif line.startswith("netkit_target_up{"):
            if line.endswith(" 1"):
                up += 1
            else:
                down += 1
    return {"own": own, "up": up, "down": down}


def describe_monitor(snap: dict) -> str:
    p99 = _quantile(snap, "netkit_monitor_lateness_seconds", "0.99")
    checks = _own(snap, "netkit_monitor_checks")
    missed = _own(snap, "netkit_monitor_missed_runs")
    return (f", lateness p99 {_fmt(p99, '.3f')} s, runs {_fmt(checks, '.0f')}, "
            f"missed {_fmt(missed, '.0f')}, targets down {snap['down']}")


def _own(snapshot: dict, *names: str) -> float | None:
    """The first of ``names`` the snapshot has (a counter with or without ``_total``)."""
    for name in names:
        for key in (name, f"{name}_total"):
            if key in snapshot["own"]:
                return snapshot["own"][key]
    return None


def _quantile(snapshot: dict, name: str, q: str) -> float | None:
    """A quantile of a summary, or of a histogram (upper bound of its bucket)."""
    own = snapshot["own"]
    value = own.get(f'{name}{{quantile="{q}"}}')
    if value is not None:
        return value
    buckets = sorted((float(k.split('le="')[1].split('"')[0]), v) for k, v in own.items()
                     if k.startswith(f"{name}_bucket{{"))
    return histogram_quantile(float(q), buckets)


def _largest(reads: list[dict], name: str) -> float | None:
    values = [v for r in reads if (v := _own(r, name)) is not None]
    return max(values) if values else None


def read_monitor_metrics(observed: dict) -> dict:
    """Lateness, missed and expired runs, runs done and targets down, from the monitor's
    /metrics read at the start of the window, once a minute, and at the end. The monitor's
    lateness p99 is over its recent runs (the scheduler's window), so the worst of the
    minute-by-minute reads is the steady window's figure; the end's is reported too."""
    start, stop, reads = observed.pop("start"), observed.pop("stop"), observed.pop("reads")
    lateness = "netkit_monitor_lateness_seconds"
    p99s = [v for r in reads if (v := _quantile(r, lateness, "0.99")) is not None]
    maxes = [v for r in reads if (v := _own(r, "netkit_monitor_lateness_max_seconds")) is not None]
    checks = (_own(stop, "netkit_monitor_checks"), _own(start, "netkit_monitor_checks"))
    missed = _own(stop, "netkit_monitor_missed_runs")
    expired = _own(stop, "netkit_monitor_expired_runs")
    return {
        "lateness_p99_s": max(p99s) if p99s else None,
        "lateness_p99_end_s": _quantile(stop, lateness, "0.99"),
        "lateness_max_s": max(maxes) if maxes else None,
        "lateness_metric": f"{lateness}{{quantile=0.99}}, worst of the reads once a minute",
        "missed_runs": None if missed is None else int(missed),
        "expired_runs": None if expired is None else int(expired),
        "runs_in_window": None if None in checks else int(checks[0] - checks[1]),
        "queue_max": _largest(reads, "netkit_monitor_queue_length"),
        "in_flight_max": _largest(reads, "netkit_monitor_checks_in_flight"),
        "store_commit_max_s": _largest(reads, "netkit_monitor_store_commit_max_seconds"),
        "targets_up": stop["up"],
        "targets_down": stop["down"],
        "metric_names": sorted({k.split("{")[0] for k in stop["own"]}),
    }


def _log_counters(world) -> dict[str, LogCounter]:
    return {"http": LogCounter(world.access_log, b"GET /?n="),
            "dns": LogCounter(world.dns_log, f"[A] {WWW} from".encode())}


# --- Prometheus + blackbox_exporter -------------------------------------------------------

def run_prometheus(world, targets, tmp: Path, minutes: float, log) -> dict:
    blackbox_bin = need_tool("prometheus-blackbox-exporter", "prometheus-blackbox-exporter")
    prometheus_bin = need_tool("prometheus", "prometheus")
    bb_port, prom_port = free_port(HOST), free_port(HOST)
    exporter = f"{HOST}:{bb_port}"
    api = f"http://{HOST}:{prom_port}"
    data = tmp / "prometheus-data"
    bb_conf = blackbox_config(tmp / "blackbox.yml", world)
    prom_conf = prometheus_config(tmp / "prometheus.yml", targets, exporter, INTERVAL)
    blackbox = ServerProcess(
        "blackbox_exporter",
        [blackbox_bin, f"--config.file={bb_conf}", f"--web.listen-address={exporter}",
         "--log.level=warn"],
        log_file=tmp / "blackbox.log", ready=lambda: _answers(f"http://{exporter}/metrics"),
        env=child_env())
    prometheus = ServerProcess(
        "prometheus",
        [prometheus_bin, f"--config.file={prom_conf}", f"--storage.tsdb.path={data}",
         f"--web.listen-address={HOST}:{prom_port}", "--log.level=warn"],
        log_file=tmp / "prometheus.log", ready=lambda: _answers(f"{api}/-/ready"),
        ready_timeout=READY_TIMEOUT, env=child_env())
    log(f"blackbox_exporter + prometheus ({len(targets)} targets) ...")
    started = time.monotonic()
    with blackbox, prometheus:
        ready_s = time.monotonic() - started
        log(f"  ready after {ready_s:.1f} s; measuring for {minutes} min")
        observed = Observation(
            "prometheus", {"prometheus": ProcTree([prometheus.pid]),
                           "blackbox": ProcTree([blackbox.pid])},
            [blackbox, prometheus], data, _log_counters(world),
            lambda: prometheus_snapshot(http_get(f"{api}/metrics")), describe_prometheus,
            minutes, log).run()
        # Scrapes started before the end are stored when they finish (a black-holed probe
        # takes its whole timeout): wait for them, then query as of the end.
        time.sleep(SCRAPE_TIMEOUT + 1)
        observed.update(read_prometheus(api, observed, len(targets)))
        observed["ready_s"] = round(ready_s, 1)
    for key in ("start", "stop", "reads"):
        observed.pop(key)
    return observed


# Prometheus' own summary of the time between two scrapes of a target, for a 60 s interval.
INTERVAL_P99 = ('prometheus_target_interval_length_seconds{interval="1m0s",quantile="0.99"} ')


def prometheus_snapshot(text: str) -> dict:
    """The scrape interval's p99 from Prometheus' /metrics (its lateness, +60 s)."""
    for line in text.splitlines():
        if line.startswith(INTERVAL_P99):
            with contextlib.suppress(ValueError):
                value = float(line.rsplit(" ", 1)[1])
                return {"interval_p99": value if math.isfinite(value) else None}
    return {"interval_p99": None}


def describe_prometheus(snap: dict) -> str:
    p99 = snap["interval_p99"]
    return "" if p99 is None else f", scrape interval p99 {p99:.3f} s"


def query(api: str, promql: str, at: float) -> float | None:
    """The first value of an instant query evaluated at ``at`` (epoch seconds)."""
    params = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
    body = json.loads(http_get(f"{api}/api/v1/query?{params}"))
    if body.get("status") != "success":
        raise BenchError(f"prometheus query {promql!r} failed: {body}")
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def read_prometheus(api: str, observed: dict, n_targets: int) -> dict:
    """Scrapes per target over the steady window, failed probes, and the scrape interval's
    p99 (Prometheus' own summary) as its lateness."""
    window = int(observed["window_s"])
    expected = int(observed["window_s"] // INTERVAL)
    up = f'up{{job="{PROMETHEUS_JOB}"}}'
    at = observed["stop_wall"]
    scraped = query(api, f"sum(count_over_time({up}[{window}s]))", at) or 0
    short = query(api, f"sum(clamp_min({expected} - count_over_time({up}[{window}s]), 0))",
                  at) or 0
    present = query(api, f"count(count_over_time({up}[{window}s]))", at) or 0
    p99s = [r["interval_p99"] for r in observed["reads"] if r["interval_p99"] is not None]
    interval_p99 = max(p99s) if p99s else None
    return {
        "scrapes_in_window": int(scraped),
        "missed_runs": int(short + expected * (n_targets - present)),
        "scrape_failures": int(query(api, f"count({up} == 0)", at) or 0),
        "probe_failures": int(query(api, "count(probe_success == 0)", at) or 0),
        "lateness_p99_s": None if interval_p99 is None else round(interval_p99 - INTERVAL, 3),
        "lateness_metric": "prometheus_target_interval_length_seconds{quantile=0.99} - 60 s, "
                           "worst of the reads once a minute",
    }


# --- the benchmark ------------------------------------------------------------------------

def measure(args, log) -> dict:
    sides = [args.only] if args.only else list(SIDES)
    netkit = None
    if "netkit" in sides:
        if args.netkit:
            netkit = Path(args.netkit).absolute()
        else:
            netkit = bench_venv(args.rebuild, log, extras="monitor") / "bin" / "netkit"
    results: dict[str, dict] = {}
    with running_world(log) as world, tempfile.TemporaryDirectory(prefix="netkit-bm-") as tmp:
        tmp = Path(tmp)
        targets = workload(world, args.targets)
        kinds = counts(targets)
        log(f"{args.targets} targets: " + ", ".join(f"{v} {k}" for k, v in kinds.items()))
        for side in sides:
            side_tmp = tmp / side
            side_tmp.mkdir()
            if side == "netkit":
                results[side] = run_netkit(netkit, world, targets, side_tmp, args.minutes, log)
            else:
                results[side] = run_prometheus(world, targets, side_tmp, args.minutes, log)
            results[side]["expected"] = _expected(kinds, results[side]["window_s"])
    python = netkit.parent / "python" if netkit else None
    return summarize(args, kinds, results,
                     python_version(python) if python and python.exists() else None)


def summarize(args, kinds, results, python) -> dict:
    nk = results.get("netkit")
    bars = []
    if nk:
        lateness = nk.get("lateness_p99_s")
        missed = nk.get("missed_runs")
        bars = [
            {"name": "CPU % of one core", "value": nk["cpu_percent"], "limit": BAR_CPU_PERCENT,
             "pass": nk["cpu_percent"] <= BAR_CPU_PERCENT},
            {"name": "RSS peak MiB", "value": nk["rss_peak_mib"], "limit": BAR_RSS_MIB,
             "pass": nk["rss_peak_mib"] <= BAR_RSS_MIB},
            {"name": "lateness p99 s", "value": lateness, "limit": BAR_LATENESS_S,
             "pass": lateness is not None and lateness <= BAR_LATENESS_S},
            {"name": "missed runs", "value": missed, "limit": BAR_MISSED,
             "pass": missed is not None and missed <= BAR_MISSED},
        ]
    pr = results.get("prometheus")
    ratios = {}
    if nk and pr:
        ratios = {"cpu": round(ratio(nk["cpu_percent"], pr["cpu_percent"]), 3),
                  "rss": round(ratio(nk["rss_peak_mib"], pr["rss_peak_mib"]), 3)}
    return {
        "benchmark": "monitor",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "python": python,
        "targets": args.targets,
        "minutes": args.minutes,
        "interval_s": INTERVAL,
        "kinds": kinds,
        "sides": results,
        "bars": bars,
        "ratios": ratios,
        "pass": bool(bars) and all(b["pass"] for b in bars),
    }


def _fmt(value, spec="") -> str:
    if value is None:
        return "n/a"
    return format(value, spec)


def print_report(result: dict) -> None:
    sides = result["sides"]
    nk, pr = sides.get("netkit"), sides.get("prometheus")
    print(f"\n{result['targets']} targets every {result['interval_s']} s for {result['minutes']} "
          f"min (" + ", ".join(f"{v} {k}" for k, v in result["kinds"].items()) + "), "
          "steady window = the run minus its first interval\n")

    def cell(side, key, spec=".1f"):
        return _fmt(side.get(key), spec) if side else "-"

    dead = result["kinds"].get("closed", 0) + result["kinds"].get("blackhole", 0)

    def runs(side, key):
        if not side:
            return "-"
        expected = result["targets"] * side["window_s"] / result["interval_s"]
        return f"{_fmt(side.get(key), '.0f')} / {expected:.0f}"

    def per_run(side, key):
        if not side or not side.get(key):
            return "-"
        return f"{10 * side['cpu_percent'] * side['window_s'] / side[key]:.2f}"

    def seen(side, kind):
        if not side:
            return "-"
        return f"{side['seen'][kind]} / {side['expected'][kind]:.0f}"

    rows = [
        ["CPU, % of one core (steady window)", cell(nk, "cpu_percent"),
         cell(pr, "cpu_percent") + (" (prom {prometheus} + bb {blackbox})".format(
             **pr["cpu_percent_each"]) if pr else ""),
         f"<= {BAR_CPU_PERCENT:.0f} %"],
        ["RSS peak, MiB (VmHWM)", cell(nk, "rss_peak_mib"),
         cell(pr, "rss_peak_mib") + (" (prom {prometheus} + bb {blackbox})".format(
             **pr["rss_peak_mib_each"]) if pr else ""),
         f"<= {BAR_RSS_MIB:.0f} MiB"],
        ["lateness p99, s", cell(nk, "lateness_p99_s", ".3f"),
         cell(pr, "lateness_p99_s", ".3f") + (" (scrape interval p99 - 60 s)" if pr else ""),
         f"<= {BAR_LATENESS_S:.0f} s"],
        ["  p99 at the end; largest lateness seen, s",
         f"{cell(nk, 'lateness_p99_end_s', '.3f')}; {cell(nk, 'lateness_max_s', '.3f')}"
         if nk else "-", "", ""],
        ["missed runs", cell(nk, "missed_runs", ".0f"),
         cell(pr, "missed_runs", ".0f") + (" (scrapes short of one per interval)" if pr else ""),
         "0"],
        ["everything else on the machine, % of one core", cell(nk, "others_percent"),
         cell(pr, "others_percent"), f"(of {100 * os.cpu_count()})"],
        ["runs in the window / expected", runs(nk, "runs_in_window"),
         runs(pr, "scrapes_in_window"), ""],
        ["CPU per run, ms", per_run(nk, "runs_in_window"), per_run(pr, "scrapes_in_window"),
         ""],
        ["http requests nginx logged / expected", seen(nk, "http"), seen(pr, "http"), ""],
        ["dns queries dnsmasq answered / expected", seen(nk, "dns"), seen(pr, "dns"), ""],
        [f"targets failing at the end (dead: {dead})", cell(nk, "targets_down", ".0f"),
         cell(pr, "probe_failures", ".0f"), ""],
        ["runs stopped at the hard deadline / scrapes failed", cell(nk, "expired_runs", ".0f"),
         cell(pr, "scrape_failures", ".0f"), ""],
        ["store at the end, MiB", cell(nk, "store_mib"), cell(pr, "store_mib") +
         (" (TSDB: WAL + head, not yet compacted)" if pr else ""), ""],
        ["store growth, MiB per day (extrapolated)", cell(nk, "store_growth_mib_per_day"),
         cell(pr, "store_growth_mib_per_day"), ""],
    ]
    print(table(["", "netkit monitor", "Prometheus + blackbox_exporter", "bar (netkit)"], rows))
    if nk:
        print(f"\nnetkit: largest of the once-a-minute reads: queue "
              f"{_fmt(nk.get('queue_max'), '.0f')}, in flight {_fmt(nk.get('in_flight_max'), '.0f')}"
              f", slowest store commit {_fmt(nk.get('store_commit_max_s'), '.3f')} s")
        print(f"netkit: ready {nk['ready_s']} s after start; lateness from "
              f"{nk['lateness_metric']}")
        if nk.get("lateness_p99_s") is None or nk.get("missed_runs") is None:
            print("netkit: /metrics has no lateness summary or missed-runs counter; it has: "
                  + ", ".join(nk["metric_names"]))
    print()
    for bar in result["bars"]:
        print(f"{verdict(bar['pass'])}  netkit {bar['name']} = {_fmt(bar['value'], '.3g')} "
              f"(bar {bar['limit']:g})")
    if result["ratios"]:
        print(f"\nnetkit / (Prometheus + blackbox_exporter): CPU {result['ratios']['cpu']:.2f} x, "
              f"RSS {result['ratios']['rss']:.2f} x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=None,
                        help=f"targets (and probes) per side (default {DEFAULT_TARGETS})")
    parser.add_argument("--minutes", type=float, default=None,
                        help=f"minutes each side runs (default {DEFAULT_MINUTES}); the first "
                             "interval is not measured")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK_TARGETS} targets for {QUICK_MINUTES} minutes")
    parser.add_argument("--only", choices=SIDES, help="run one side only")
    parser.add_argument("--netkit", metavar="PATH",
                        help="the netkit command to measure (default: a regular install of "
                             "this tree with the monitor extra, see _common.bench_venv)")
    add_common_options(parser)
    args = parser.parse_args(argv)
    args.targets = args.targets or (QUICK_TARGETS if args.quick else DEFAULT_TARGETS)
    args.minutes = args.minutes or (QUICK_MINUTES if args.quick else DEFAULT_MINUTES)
    if not 100 <= args.targets <= 200_000:
        parser.error("--targets must be between 100 and 200000")
    if not 2 <= args.minutes <= 24 * 60:
        parser.error("--minutes must be between 2 (one interval to settle, one to measure) "
                     "and 1440")
    return bench_main("bench_monitor", args, lambda log: measure(args, log), print_report,
                      "the monitor, prometheus, blackbox_exporter, nginx and dnsmasq")


if __name__ == "__main__":
    sys.exit(main())
