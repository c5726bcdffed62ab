#!/usr/bin/env python3
"""netkit serve echo beside the echo servers it replaces, under one load generator.

Servers (on 127.0.0.1, started and stopped per run):

    netkit    netkit serve echo (uvloop; defaults, limits on), one process
    netkit-w2 the same with --workers 2: two event loops accepting on one socket
    stdlib    socketserver.ThreadingTCPServer echo (the source texts' SocketServer)
    twisted   Twisted LineReceiver echo (pip install twisted)
    asyncio   asyncio streams echo on asyncio's own loop
    c-echo    benchmarks/echo.c, an epoll echo in C: the floor (kernel cost), not a contender
    (also on request: netkit-wN and c-echo-wN, N processes)

Load: benchmarks/loadgen.c (built here with `cc -O2`), CONNS connections (default 100) in
PROCS processes (default 2), closed loop (one line out, its whole echo back, the next
line), lines of 64 bytes and 1 KiB, warm-up 0.5 s. It costs a few microseconds of CPU per
request, so on a small machine the servers, not the generator, are what is measured.
`--load python` uses the older uvloop generator (benchmarks/serve_load.py) instead, which
costs about as much CPU per request as the servers. Runs are interleaved (every server
once per round, ROUNDS rounds) and the median of the rounds is reported, because the
machine is shared.

    .venv/bin/python benchmarks/bench_serve.py [--rounds 3] [--seconds 3] [--conns 100] [--procs 2]
        [--servers netkit,netkit-w2,stdlib,twisted,asyncio,c-echo] [--load c|python]

Also printed: the server's CPU time per request (its processes' user + system time from
/proc, all workers), which does not depend on how much of the machine the load generator
takes; the part of it spent in the kernel (system time: on loopback, a send() also runs
the receiving side's TCP stack); and the generator's own CPU per request.

Bar (issue 6): netkit >= 3x stdlib and >= 1.5x twisted in requests/s, with a lower p99
(judged on the best netkit row). Exit status as the other benchmarks: 0 every bar met,
1 one was not, 2 the benchmark could not run.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests.peers._base import free_port

SIZES = (64, 1024)
SERVERS = "netkit,netkit-w2,stdlib,twisted,asyncio,c-echo"
# The C programs, built once per run into a temp dir.
BUILT = {}


def build(tmp: Path) -> None:
    for name in ("loadgen", "echo"):
        exe = tmp / name
        subprocess.run(["cc", "-O2", "-o", str(exe), str(HERE / f"{name}.c")], check=True)
        BUILT[name] = str(exe)


def start(kind: str, port: int):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    if kind.startswith("netkit"):
        cmd = [sys.executable, "-m", "netkit", "serve", "echo", "--port", str(port)]
        if kind.startswith("netkit-w"):
            cmd += ["--workers", kind[len("netkit-w"):]]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        for line in proc.stderr:  # its log says when it listens
            if "listening on" in line:
                break
        # the log goes on (one line per connection); keep reading so it never blocks
        import threading

        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        return proc
    if kind.startswith("c-echo"):
        cmd = [BUILT["echo"], "-p", str(port)]
        if kind.startswith("c-echo-w"):
            cmd += ["-W", kind[len("c-echo-w"):]]
    else:
        cmd = [sys.executable, str(HERE / "serve_echoes.py"), kind, str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready", kind
    return proc


def load(port, conns, procs, size, seconds, how) -> dict:
    if how == "c":
        cmd = [BUILT["loadgen"], "-p", str(port), "-c", str(conns), "-P", str(procs), "-s", str(size),
               "-d", str(seconds)]
    else:
        cmd = [sys.executable, str(HERE / "serve_load.py"), str(port), str(conns), str(procs), str(size),
               str(seconds)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _tree(pid) -> list:
    """``pid`` and its descendants (the workers of netkit --workers)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, ()))
    return found


def cpu_seconds(pid) -> tuple:
    """(user, system) CPU seconds of ``pid`` and its descendants."""
    user = system = 0
    for p in _tree(pid):  # threads are counted in their process's stat
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def measure(kind, size, args) -> dict:
    port = free_port()
    proc = start(kind, port)
    try:
        before = cpu_seconds(proc.pid)
        result = load(port, args.conns, args.procs, size, args.seconds, args.load)
        # server CPU per request (warm-up included, so a slight overestimate for all alike):
        # what each server costs, whatever share of the 2 cores the load generator takes
        after = cpu_seconds(proc.pid)
        n = max(result["requests"], 1)
        result["cpu_us"] = (sum(after) - sum(before)) / n * 1e6
        result["sys_us"] = (after[1] - before[1]) / n * 1e6  # of which in the kernel
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--conns", type=int, default=100)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--servers", default=SERVERS)
    parser.add_argument("--load", choices=("c", "python"), default="c")
    args = parser.parse_args()
    kinds = args.servers.split(",")
    unknown = [k for k in kinds if k not in SERVERS.split(",") and not k.startswith(("netkit-w", "c-echo-w"))]
    if unknown:
        parser.error(f"--servers: unknown {', '.join(unknown)}; choose from {SERVERS}")
    tmp = tempfile.TemporaryDirectory(prefix="bench_serve-")
    try:
        build(Path(tmp.name))
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"bench_serve: cannot build the C load generator and echo with cc: {exc} (apt install gcc)",
              file=sys.stderr)
        return 2
    results = {(k, s): [] for k in kinds for s in SIZES}
    try:
        for r in range(args.rounds):
            for size in SIZES:
                for kind in kinds:
                    result = measure(kind, size, args)
                    results[kind, size].append(result)
                    print(f"round {r + 1} {size:>5} B {kind:<9} {result['rps']:>10.0f} req/s  "
                          f"p99 {result['p99_ms']:.2f} ms  server {result['cpu_us']:.1f} us/req",
                          file=sys.stderr, flush=True)
    finally:
        tmp.cleanup()
    print(f"\n{args.conns} connections, {args.procs} load processes ({args.load} generator), "
          f"{args.seconds:g} s per run, median of {args.rounds} interleaved rounds; {os.cpu_count()} CPUs\n")
    print(f"{'server':<10} {'line':>6} {'req/s':>10} {'(rounds min-max)':>17} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'server us/req':>13} {'(kernel)':>8} {'load us/req':>11}")
    verdicts = []
    met = {}  # (size, reference) -> whether the best netkit row meets the bar
    ours = [k for k in kinds if k.startswith("netkit")]
    for size in SIZES:
        def median(kind, key, size=size):
            values = [r.get(key) for r in results[kind, size]]
            return statistics.median(values) if None not in values else float("nan")

        med = {k: {key: median(k, key) for key in ("rps", "p50_ms", "p99_ms", "cpu_us", "sys_us", "client_cpu_us")}
               for k in kinds}
        for kind in kinds:
            m = med[kind]
            rates = [r["rps"] for r in results[kind, size]]
            spread = f"{min(rates) / 1000:.0f}k-{max(rates) / 1000:.0f}k"
            print(f"{kind:<10} {size:>5}B {m['rps']:>10.0f} {spread:>17} {m['p50_ms']:>8.2f} {m['p99_ms']:>8.2f} "
                  f"{m['cpu_us']:>13.1f} {m['sys_us']:>8.1f} "
                  f"{'n/a' if m['client_cpu_us'] != m['client_cpu_us'] else format(m['client_cpu_us'], '.1f'):>11}")
        for mine in ours:
            for kind, bar in (("stdlib", 3.0), ("twisted", 1.5)):
                if kind in med:
                    ratio = med[mine]["rps"] / med[kind]["rps"]
                    ok = ratio >= bar and med[mine]["p99_ms"] < med[kind]["p99_ms"]
                    met[size, kind] = met.get((size, kind), False) or ok
                    verdicts.append(f"{size} B: {mine} {ratio:.2f}x {kind} (bar {bar:g}x), p99 "
                                    f"{med[mine]['p99_ms']:.2f} vs {med[kind]['p99_ms']:.2f} ms: "
                                    f"{'MET' if ok else 'NOT MET'}")
        if "c-echo" in med and "stdlib" in med:  # what no server can beat on this machine
            verdicts.append(f"{size} B: ceiling: the C echo does {med['c-echo']['rps'] / med['stdlib']['rps']:.2f}x "
                            f"stdlib at {med['c-echo']['cpu_us']:.1f} us/req")
        print()
    print("\n".join(verdicts))
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
