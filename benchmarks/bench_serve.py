#!/usr/bin/env python3
"""netkit serve echo beside the echo servers it replaces, under one load generator.

Servers (each one process, on 127.0.0.1, started and stopped per run):

    netkit    netkit serve echo (uvloop; defaults, limits on)
    stdlib    socketserver.ThreadingTCPServer echo (the source texts' SocketServer)
    twisted   Twisted LineReceiver echo (pip install twisted)
    asyncio   asyncio streams echo on asyncio's own loop

Load (benchmarks/serve_load.py): CONNS connections (default 100) in PROCS processes
(default 2), closed loop, lines of 64 bytes and 1 KiB. Runs are interleaved (every server
once per round, ROUNDS rounds) and the median of the rounds is reported, because the
machine is shared.

    .venv/bin/python benchmarks/bench_serve.py [--rounds 3] [--seconds 3] [--conns 100] [--procs 2]

Also printed: the server's CPU time per request (from /proc), which does not depend on
how much of the machine the load generator takes.

Bar (issue 6): netkit >= 3x stdlib and >= 1.5x twisted in requests/s, with a lower p99.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZES = (64, 1024)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(kind: str, port: int):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    if kind == "netkit":
        cmd = [sys.executable, "-m", "netkit", "serve", "echo", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        for line in proc.stderr:  # its log says when it listens
            if "listening on" in line:
                break
        # the log goes on (one line per connection); keep reading so it never blocks
        import threading

        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
        return proc
    cmd = [sys.executable, str(HERE / "serve_echoes.py"), kind, str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready", kind
    return proc


def load(port, conns, procs, size, seconds) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "serve_load.py"), str(port), str(conns), str(procs),
                          str(size), str(seconds)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def cpu_seconds(pid) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind, size, args) -> dict:
    port = free_port()
    proc = start(kind, port)
    try:
        before = cpu_seconds(proc.pid)
        result = load(port, args.conns, args.procs, size, args.seconds)
        # server CPU per request (warm-up included, so a slight overestimate for all alike):
        # what each server costs, whatever share of the 2 cores the load generator takes
        result["cpu_us"] = (cpu_seconds(proc.pid) - before) / max(result["requests"], 1) * 1e6
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
    parser.add_argument("--servers", default="netkit,stdlib,twisted,asyncio")
    args = parser.parse_args()
    kinds = args.servers.split(",")
    results = {(k, s): [] for k in kinds for s in SIZES}
    for r in range(args.rounds):
        for size in SIZES:
            for kind in kinds:
                result = measure(kind, size, args)
                results[kind, size].append(result)
                print(f"round {r + 1} {size:>5} B {kind:<8} {result['rps']:>10.0f} req/s  "
                      f"p99 {result['p99_ms']:.2f} ms", file=sys.stderr, flush=True)
    print(f"\n{args.conns} connections, {args.procs} load processes, {args.seconds:g} s per run, "
          f"median of {args.rounds} interleaved rounds; {os.cpu_count()} CPUs\n")
    print(f"{'server':<10} {'line':>6} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10}  vs netkit")
    verdicts = []
    for size in SIZES:
        med = {k: (statistics.median(r["rps"] for r in results[k, size]),
                   statistics.median(r["p50_ms"] for r in results[k, size]),
                   statistics.median(r["p99_ms"] for r in results[k, size]),
                   statistics.median(r["cpu_us"] for r in results[k, size])) for k in kinds}
        for kind in kinds:
            rps, p50, p99, cpu = med[kind]
            ratio = "" if kind == "netkit" or "netkit" not in med else f"netkit {med['netkit'][0] / rps:.2f}x"
            print(f"{kind:<10} {size:>5}B {rps:>10.0f} {p50:>8.2f} {p99:>8.2f} {cpu:>10.1f}  {ratio}")
        if "netkit" in med:
            for kind, bar in (("stdlib", 3.0), ("twisted", 1.5)):
                if kind in med:
                    ok = med["netkit"][0] >= bar * med[kind][0] and med["netkit"][2] < med[kind][2]
                    verdicts.append(f"{size} B: netkit >= {bar:g}x {kind} with lower p99: "
                                    f"{'MET' if ok else 'NOT MET'}")
        print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
