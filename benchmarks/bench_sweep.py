#!/usr/bin/env python3
"""Sweep throughput: `netkit check --file` with N HTTP checks beside blackbox_exporter doing N
probes of the same URL, at the same concurrency, against one local nginx.

netkit side: a checks file of N ``[[check]]`` tables, all ``url = "http://127.0.0.1:PORT/"``,
run as ``VENV/bin/netkit check --file FILE --concurrency C`` (VENV: a regular install, see
_common.bench_venv). Checks per second = N / wall time of the whole process (start-up and
reading the file included: that is what a user waits for). It must exit 0 and print exactly
N lines, every one starting with ``HTTP OK``.

blackbox side: prometheus-blackbox-exporter with one module ``http_2xx`` (prober http,
timeout 10s, IPv4 preferred), driven by ``ab -n N -c C`` on
``/probe?target=http://127.0.0.1:PORT/&module=http_2xx``. Checks per second = ab's
"Requests per second". ab counts a response whose length differs from the first one's as
"failed (Length)"; probe bodies differ in length (durations are printed with varying digits),
so those are not failures. Connect, Receive and Exception failures, non-2xx responses, or a
probe whose result is not Success in the exporter's history (``--history.limit N``; the
index page lists the last N results) fail the benchmark. ab runs without ``-k``: the Go
server answers ab's HTTP/1.0 requests without Content-Length (the probe body is over 2 KiB),
so it closes every connection anyway (ab reported 0 keep-alive requests with -k).

Both sides: nginx's access log must grow by exactly N lines, each ``GET /`` with status 200.

After one untimed warm-up of each side (WARMUP_CHECKS checks), the sides run ROUNDS times
each, alternately (the side that goes first swaps every round); medians are reported.

Bar (issue 2, "Sweep throughput"): netkit checks/s >= blackbox_exporter checks/s (medians).
Exit status: 0 the bar passes, 1 it fails, 2 the benchmark could not run.

    python benchmarks/bench_sweep.py [--checks N] [--concurrency C] [--rounds R] [--json] [--rebuild]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import (
    BenchError,
    add_common_options,
    bench_main,
    bench_venv,
    child_env,
    median,
    nginx_peer,
    need_tool,
    python_version,
    ratio,
    table,
    verdict,
)
from tests.peers._base import ServerProcess, free_port

DEFAULT_CHECKS = 2000
DEFAULT_CONCURRENCY = 100
DEFAULT_ROUNDS = 3
# The harness's nginx runs one worker with worker_connections 1024 (listeners included):
# beyond about 1,000 connections at once it closes new ones, for netkit and the exporter alike.
MAX_CONCURRENCY = 500
# Checks in each side's untimed warm-up run (page cache, Go runtime, nginx worker); at least
# the concurrency.
WARMUP_CHECKS = 200
# Upper bound on one side's run; 2,000 checks take about a second here.
RUN_TIMEOUT = 300
# The exporter's probe timeout (module config); ab waits 5 s longer per request.
PROBE_TIMEOUT = 10
# How long nginx may take to write the access-log lines of requests already answered.
LOG_SETTLE = 5.0
HOST = "127.0.0.1"
BLACKBOX = "prometheus-blackbox-exporter"
BLACKBOX_CONFIG = f"""\
modules:
  http_2xx:
    prober: http
    timeout: {PROBE_TIMEOUT}s
    http:
      preferred_ip_protocol: ip4
"""
# One line of nginx's default "combined" access log: the request and the status.
ACCESS_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d{3}) ')


@dataclass
class Run:
    side: str
    round: int
    seconds: float
    checks_per_s: float


# --- verification helpers -----------------------------------------------------------------

class AccessLog:
    """Counts the requests nginx logged since :meth:`mark`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def expect(self, n: int, who: str) -> None:
        """Exactly ``n`` new lines, each ``GET / ...`` answered 200; BenchError otherwise."""
        deadline = time.monotonic() + LOG_SETTLE
        while True:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                lines = f.read().decode(errors="replace").splitlines()
            if len(lines) >= n or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        bad = [line for line in lines if not _is_ok_get(line)]
        if len(lines) != n or bad:
            sample = "\n".join(bad[:3])
            raise BenchError(f"{who}: nginx logged {len(lines)} requests (expected {n}), "
                             f"{len(bad)} not 'GET /' with 200:\n{sample}")


def _is_ok_get(line: str) -> bool:
    match = ACCESS_LINE.search(line)
    return bool(match and match["status"] == "200" and match["request"].startswith("GET / "))


def _opener() -> urllib.request.OpenerDirector:
    # No proxy, whatever the environment says: the exporter is on loopback.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float = PROBE_TIMEOUT + 5) -> str:
    with _opener().open(url, timeout=timeout) as response:
        return response.read().decode(errors="replace")


# --- netkit -------------------------------------------------------------------------------

def write_checks(path: Path, url: str, n: int) -> Path:
    path.write_text(f"# {n} HTTP checks of one URL (bench_sweep.py)\n\n"
                    + f'[[check]]\nurl = "{url}"\n\n' * n)
    return path


def run_netkit(netkit: Path, checks: Path, n: int, concurrency: int, out_dir: Path,
               access: AccessLog, env: dict[str, str]) -> float:
    """One sweep; returns its wall time in seconds after verifying its output."""
    out_path = out_dir / "netkit.out"
    access.mark()
    argv = [str(netkit), "check", "--file", str(checks), "--concurrency", str(concurrency)]
    with open(out_path, "wb") as out:
        start = time.perf_counter()
        try:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.PIPE, env=env,
                                  timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise BenchError(f"netkit took over {RUN_TIMEOUT} s for {n} checks") from None
        seconds = time.perf_counter() - start
    lines = out_path.read_text(errors="replace").splitlines()
    not_ok = [line for line in lines if not line.startswith("HTTP OK")]
    if proc.returncode != 0 or len(lines) != n or not_ok:
        sample = "\n".join(not_ok[:3])
        raise BenchError(f"netkit exited {proc.returncode} with {len(lines)} lines "
                         f"({len(lines) - len(not_ok)} 'HTTP OK', expected {n}):\n{sample}\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    access.expect(n, "netkit")
    return seconds


# --- blackbox_exporter --------------------------------------------------------------------

@contextlib.contextmanager
def running_blackbox(directory: Path, binary: str, history: int):
    """Start the exporter on a free loopback port; yield its base URL; stop it on exit."""
    config = directory / "blackbox.yml"
    config.write_text(BLACKBOX_CONFIG)
    chosen: dict[str, int] = {}

    def factory(attempt: int) -> ServerProcess:
        chosen["port"] = free_port(HOST)
        base = f"http://{HOST}:{chosen['port']}"

        def ready() -> bool:
            with _opener().open(f"{base}/metrics", timeout=0.5) as response:
                return response.status == 200

        return ServerProcess(
            "blackbox_exporter",
            [binary, f"--config.file={config}", f"--web.listen-address={HOST}:{chosen['port']}",
             f"--history.limit={history}"],
            log_file=directory / "blackbox.log",
            ready=ready,
        )

    with ServerProcess.start_with_retries(factory):
        yield f"http://{HOST}:{chosen['port']}"


def probe_url(base: str, target: str) -> str:
    return f"{base}/probe?" + urllib.parse.urlencode({"target": target, "module": "http_2xx"},
                                                      safe=":/")


def verify_probe(base: str, target: str) -> None:
    body = http_get(probe_url(base, target))
    if not re.search(r"^probe_success 1$", body, re.MULTILINE):
        raise BenchError(f"one blackbox probe of {target} did not succeed:\n{body[-1500:]}")


def history_results(base: str) -> tuple[int, int]:
    """(Success, Failure) counts among the probes the exporter's index page lists."""
    page = http_get(f"{base}/")
    return page.count("<td>Success</td>"), page.count("<td>Failure</td>")


_AB_FIELDS = {
    "complete": r"Complete requests:\s+(\d+)",
    "failed": r"Failed requests:\s+(\d+)",
    "rps": r"Requests per second:\s+([\d.]+)",
    "seconds": r"Time taken for tests:\s+([\d.]+) seconds",
}
_AB_BREAKDOWN = re.compile(r"\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\)")
_AB_NON_2XX = re.compile(r"Non-2xx responses:\s+(\d+)")


def parse_ab(text: str) -> dict:
    """The figures of ab's report; 'errors' counts real failures (not Length ones)."""
    out = {}
    for key, pattern in _AB_FIELDS.items():
        match = re.search(pattern, text)
        if not match:
            raise BenchError(f"ab printed no {key!r}:\n{text[-2000:]}")
        out[key] = float(match[1]) if key in ("rps", "seconds") else int(match[1])
    connect = receive = length = exceptions = 0
    if out["failed"]:
        match = _AB_BREAKDOWN.search(text)
        if not match:
            raise BenchError(f"ab printed no failure breakdown:\n{text[-2000:]}")
        connect, receive, length, exceptions = map(int, match.groups())
    non_2xx = int(m[1]) if (m := _AB_NON_2XX.search(text)) else 0
    out.update(length_mismatch=length, non_2xx=non_2xx,
               errors=connect + receive + exceptions + non_2xx)
    return out


def run_blackbox(ab: str, base: str, target: str, n: int, concurrency: int, access: AccessLog,
                 env: dict[str, str]) -> float:
    """N probes through ab; returns the checks/s ab measured after verifying every probe."""
    access.mark()
    argv = [ab, "-q", "-n", str(n), "-c", str(concurrency), "-s", str(PROBE_TIMEOUT + 5),
            probe_url(base, target)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError(f"ab took over {RUN_TIMEOUT} s for {n} probes") from None
    if proc.returncode != 0:
        why = "\n".join(proc.stderr.strip().splitlines()[:3])  # not ab's whole usage text
        raise BenchError(f"ab exited {proc.returncode}:\n{why}\n{proc.stdout[-2000:]}")
    figures = parse_ab(proc.stdout)
    if figures["complete"] != n or figures["errors"]:
        raise BenchError(f"ab: {figures['complete']} of {n} complete, {figures['errors']} failed "
                         f"or non-2xx:\n{proc.stdout[-2000:]}")
    access.expect(n, "blackbox_exporter")
    success, failure = history_results(base)
    if success < n or failure:
        raise BenchError(f"blackbox_exporter history: {success} Success and {failure} Failure "
                         f"among the last probes (expected {n} Success)")
    return figures["rps"]


# --- the benchmark ------------------------------------------------------------------------

def sweep(args, log) -> dict:
    ab = need_tool("ab", "apache2-utils")
    blackbox = need_tool(BLACKBOX, "prometheus-blackbox-exporter")
    venv = bench_venv(args.rebuild, log)
    netkit = venv / "bin" / "netkit"
    env = child_env()
    runs: list[Run] = []
    log("starting nginx ...")
    with nginx_peer() as nginx, tempfile.TemporaryDirectory(prefix="netkit-sweep-") as tmp:
        tmp = Path(tmp)
        target = nginx.url("/")
        access = AccessLog(nginx.access_log)
        checks = write_checks(tmp / "checks.toml", target, args.checks)
        warmup = max(WARMUP_CHECKS, args.concurrency)  # ab wants -n >= -c
        warm = write_checks(tmp / "warmup.toml", target, warmup)
        with running_blackbox(tmp, blackbox, history=max(args.checks, warmup)) as base:
            log(f"nginx {target}; blackbox_exporter {base}")
            verify_probe(base, target)
            log("one probe: probe_success 1; warming up both sides ...")
            run_netkit(netkit, warm, warmup, args.concurrency, tmp, access, env)
            run_blackbox(ab, base, target, warmup, args.concurrency, access, env)
            for round_no in range(1, args.rounds + 1):
                order = ("netkit", "blackbox") if round_no % 2 else ("blackbox", "netkit")
                for side in order:
                    if side == "netkit":
                        seconds = run_netkit(netkit, checks, args.checks, args.concurrency, tmp,
                                             access, env)
                        rate = args.checks / seconds
                    else:
                        rate = run_blackbox(ab, base, target, args.checks, args.concurrency,
                                            access, env)
                        seconds = args.checks / rate
                    runs.append(Run(side, round_no, seconds, rate))
                    log(f"  round {round_no}: {side:<9} {rate:8.0f} checks/s ({seconds:.3f} s)")
    medians = {side: median([r.checks_per_s for r in runs if r.side == side])
               for side in ("netkit", "blackbox")}
    value = ratio(medians["netkit"], medians["blackbox"])
    return {
        "benchmark": "sweep",
        "date": dt.date.today().isoformat(),
        "python": python_version(venv / "bin" / "python"),
        "checks": args.checks,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "runs": [vars(r) for r in runs],
        "median_checks_per_s": {k: round(v, 1) for k, v in medians.items()},
        "bar": {"name": "netkit / blackbox_exporter (median checks/s)", "value": round(value, 3),
                "limit": 1.0, "pass": value >= 1.0},
        "pass": value >= 1.0,
    }


def print_report(result: dict) -> None:
    rows = []
    for side, label in (("netkit", "netkit check --file"), ("blackbox", "blackbox_exporter + ab")):
        rates = [r["checks_per_s"] for r in result["runs"] if r["side"] == side]
        rows.append([label, f"{result['median_checks_per_s'][side]:.0f}",
                     " ".join(f"{r:.0f}" for r in rates)])
    print(f"\n{result['checks']} HTTP checks of one local nginx URL at concurrency "
          f"{result['concurrency']}, {result['rounds']} rounds, Python {result['python']}\n")
    print(table(["side", "median checks/s", "each round"], rows))
    bar = result["bar"]
    print(f"\n{verdict(bar['pass'])}  {bar['name']} = {bar['value']:.2f}x  (bar >= 1.0x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=DEFAULT_CHECKS,
                        help=f"checks (and probes) per run (default {DEFAULT_CHECKS})")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"checks in flight at once, both sides (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help=f"timed runs of each side (default {DEFAULT_ROUNDS})")
    add_common_options(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.checks <= 100_000:
        parser.error("--checks must be between 1 and 100000")
    if not 1 <= args.concurrency <= min(args.checks, MAX_CONCURRENCY):
        parser.error(f"--concurrency must be between 1 and min(--checks, {MAX_CONCURRENCY}): "
                     f"the test nginx takes about 1,000 connections at once")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    return bench_main("bench_sweep", args, lambda log: sweep(args, log), print_report,
                      "nginx and blackbox_exporter")


if __name__ == "__main__":
    sys.exit(main())
