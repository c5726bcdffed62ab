"""``netkit rpc serve`` against the servers it replaces, side by side (issue 17's bar):

* ``--protocol xmlrpc`` vs the stdlib ``SimpleXMLRPCServer`` with ``ThreadingMixIn`` (the
  exercise of text 001): bar >= 3 x its calls/s;
* ``--protocol pyro`` vs a plain Pyro5 daemon (serpent, the default thread pool): bar
  >= 1.0 x its calls/s.

A trivial call, ``add(3, 4)``, by 50 concurrent clients in a closed loop (no pipelining):
calls/s and p99 latency. The HTTP load is raw asyncio (uvloop) sockets with a ready-made
request, in 2 processes, behaving as xmlrpc.client does: HTTP/1.1 keep-alive where the
server keeps the connection, a new connection where it closes it (HTTP/1.0, as the
stdlib server answers). The Pyro load is Pyro5 proxies in threads, 5 per process (10
processes for 50 clients: 25 threads sharing one GIL made the load generator the limit). Rounds are
interleaved (a, b, c, c, b, a, ...) and the medians compared. netkit runs as one process
(``--workers 1``) and as one per core (``--workers auto``); the bar is judged on the better. Then memory: the server's peak RSS
(VmHWM) over a burst of 10,000 calls from 50 clients. The server's CPU time per call is
printed too: on a shared box, calls/s follow what the other processes leave, and a
server of 50 threads gets a larger share than one of one thread; CPU per call does not.

    .venv/bin/python benchmarks/bench_rpc.py [--rounds 3] [--seconds 4] [--clients 50] [--json]

Exit 0 when both bars pass, 1 when one fails, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}
for var in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
    ENV.pop(var, None)
LOAD_PROCESSES = 2
# Pyro proxies are threads holding one GIL per process: 5 clients a process keep the
# load generator from being the bottleneck it is with 25 threads a process.
PYRO_CLIENTS_PER_PROCESS = 5
BURST_CALLS = 10_000

MODULE = """\
from netkit.rpc import expose

@expose
def add(x, y):
    return x + y

"""

STDLIB_SERVER = """\
import sys
from socketserver import ThreadingMixIn
from xmlrpc.server import SimpleXMLRPCServer

class ThreadingXMLRPCServer(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    request_queue_size = 1024

srv = ThreadingXMLRPCServer(("127.0.0.1", int(sys.argv[1])), logRequests=False)
srv.register_function(lambda x, y: x + y, "add")
print("ready", flush=True)
srv.serve_forever()
"""

PYRO_SERVER = """\
import sys
import Pyro5.api

@Pyro5.api.expose
class Calc:
    def add(self, x, y):
        return x + y

daemon = Pyro5.api.Daemon(host="127.0.0.1", port=int(sys.argv[1]))
daemon.register(Calc, "netkit")
print("ready", flush=True)
daemon.requestLoop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def start(kind, tmp: Path):
    port = free_port()
    if kind == "stdlib":
        script = tmp / "stdlib_server.py"
        script.write_text(STDLIB_SERVER)
        cmd = [PY, str(script), str(port)]
    elif kind == "pyro5":
        script = tmp / "pyro_server.py"
        script.write_text(PYRO_SERVER)
        cmd = [PY, str(script), str(port)]
    else:
        module = tmp / "add.py"
        module.write_text(MODULE)
        protocol = "xmlrpc" if kind.startswith("netkit-xmlrpc") else "pyro"
        cmd = [PY, "-m", "netkit", "rpc", "serve", "--protocol", protocol, "--port", str(port), "--module",
               str(module), "--root", str(tmp), "--max-connections", "4096",
               "--workers", "auto" if kind.endswith("-workers") else "1"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_port(port, proc)
    return proc, port


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tree(pid) -> list:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [pid, *(int(c) for c in f.read().split())]
    except OSError:
        return [pid]


def cpu_seconds(pid) -> float:
    """User + system CPU of ``pid`` and its children (the --workers processes): what the
    server spent, whatever the other processes on a shared box did meanwhile."""
    total = 0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid) -> int:
    """VmHWM of ``pid`` plus its children's (the worker processes of --workers)."""
    total = 0
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        children = []
    for p in [pid, *children]:
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
        except OSError:
            pass
    return total


# -- HTTP load (asyncio, raw sockets) ------------------------------------------------------

REQUEST_BODY = (b"<?xml version='1.0'?>\n<methodCall>\n<methodName>add</methodName>\n<params>\n"
                b"<param>\n<value><int>3</int></value>\n</param>\n<param>\n<value><int>4</int></value>\n"
                b"</param>\n</params>\n</methodCall>\n")


def method_of(kind) -> str:
    return "add"


def _http_worker(port, clients, seconds, calls, queue, method="add"):
    import asyncio

    try:
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    body = REQUEST_BODY.replace(b">add<", f">{method}<".encode())
    request = (b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nContent-Type: text/xml\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    latencies = []
    errors = 0

    async def one_client(stop_at, budget):
        nonlocal errors
        reader = writer = None
        done = 0
        while True:
            if calls is None and time.monotonic() >= stop_at:
                break
            if calls is not None and done >= budget:
                break
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                close = head.startswith(b"HTTP/1.0")
                for line in head.split(b"\r\n"):
                    lower = line.lower()
                    if lower.startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                    elif lower.startswith(b"connection:"):
                        close = b"close" in lower
                body = await reader.readexactly(length)
                if b"<int>7</int>" not in body and b"<i4>7</i4>" not in body:
                    errors += 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.01)
                continue
            latencies.append(time.perf_counter() - t0)
            done += 1
        if writer is not None:
            writer.close()

    async def main():
        stop_at = time.monotonic() + seconds
        budget = (calls // clients + 1) if calls else 0
        await asyncio.gather(*(one_client(stop_at, budget) for _ in range(clients)))

    if loop_factory:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(main())
    else:
        asyncio.run(main())
    queue.put((latencies, errors))


# -- Pyro load (Pyro5 proxies in threads) --------------------------------------------------

def _pyro_worker(port, clients, seconds, calls, queue, method="add"):
    import threading

    import Pyro5.api

    latencies = []
    errors = [0]
    lock = threading.Lock()

    def one_client(stop_at, budget):
        mine = []
        with Pyro5.api.Proxy(f"PYRO:netkit@127.0.0.1:{port}") as p:
            p._pyroBind()
            done = 0
            while (calls is None and time.monotonic() < stop_at) or (calls is not None and done < budget):
                t0 = time.perf_counter()
                try:
                    if getattr(p, method)(3, 4) != 7:
                        errors[0] += 1
                except Exception:
                    errors[0] += 1
                    time.sleep(0.01)
                    continue
                mine.append(time.perf_counter() - t0)
                done += 1
        with lock:
            latencies.extend(mine)

    stop_at = time.monotonic() + seconds
    budget = (calls // clients + 1) if calls else 0
    threads = [threading.Thread(target=one_client, args=(stop_at, budget)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((latencies, errors[0]))


def load(kind, port, clients, seconds=None, calls=None):
    """(calls/s, p99 ms, errors) of ``clients`` closed-loop clients for ``seconds`` (or
    until ``calls`` are done), split over LOAD_PROCESSES processes."""
    ctx = get_context("fork")
    queue = ctx.Queue()
    worker = _pyro_worker if "pyro" in kind else _http_worker
    processes = max(1, -(-clients // PYRO_CLIENTS_PER_PROCESS)) if "pyro" in kind else LOAD_PROCESSES
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    share = [None if calls is None else calls * n // clients for n in per]
    t0 = time.perf_counter()
    procs = [ctx.Process(target=worker, args=(port, n, seconds or 0, c, queue, method_of(kind)))
             for n, c in zip(per, share)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    latencies = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    if not latencies:
        return 0.0, float("nan"), errors
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    # Throughput over the measured window (seconds), or over the whole burst.
    rate = len(latencies) / (seconds if seconds else elapsed)
    return rate, p99, errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=("xmlrpc", "pyro"))
    args = parser.parse_args(argv)
    pairs = {"xmlrpc": ("stdlib", "netkit-xmlrpc", 3.0), "pyro": ("pyro5", "netkit-pyro", 1.0)}
    if args.only:
        pairs = {args.only: pairs[args.only]}
    report = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-rpc-") as tmp:
        tmp = Path(tmp)
        for name, (theirs, ours, bar) in pairs.items():
            kinds = (theirs, ours, ours + "-workers")
            runs = {k: [] for k in kinds}
            for r in range(args.rounds):
                for kind in kinds if r % 2 == 0 else kinds[::-1]:
                    proc, port = start(kind, tmp)
                    try:
                        load(kind, port, args.clients, seconds=0.5)  # warm-up
                        cpu = cpu_seconds(proc.pid)
                        rate, p99, errors = load(kind, port, args.clients, seconds=args.seconds)
                        cpu = cpu_seconds(proc.pid) - cpu
                    finally:
                        stop(proc)
                    us = 1e6 * cpu / (rate * args.seconds) if rate else float("nan")
                    runs[kind].append((rate, p99, errors, us))
                    print(f"  {name} round {r + 1}: {kind:<21} {rate:8.0f} calls/s  p99 {p99:7.1f} ms  "
                          f"server CPU {us:5.0f} us/call  errors {errors}", file=sys.stderr)
            memory = {}
            for kind in kinds:
                proc, port = start(kind, tmp)
                try:
                    before = peak_rss_kib(proc.pid)
                    rate, p99, errors = load(kind, port, args.clients, calls=BURST_CALLS)
                    memory[kind] = {"rss_before_kib": before, "peak_rss_kib": peak_rss_kib(proc.pid),
                                    "burst_calls_per_s": round(rate), "burst_errors": errors}
                finally:
                    stop(proc)
            med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                       sum(x[2] for x in v), statistics.median(x[3] for x in v)) for k, v in runs.items()}
            entry = {"clients": args.clients, "rounds": args.rounds, "seconds": args.seconds, "bar": bar}
            for kind in kinds:
                entry[kind] = {"calls_per_s": round(med[kind][0]), "p99_ms": round(med[kind][1], 2),
                               "errors": med[kind][2], "server_cpu_us_per_call": round(med[kind][3]),
                               **memory[kind]}
                if kind != theirs:
                    entry[kind]["ratio"] = round(med[kind][0] / med[theirs][0], 2) if med[theirs][0] else None
            best = max((ours, ours + "-workers"), key=lambda k: entry[k]["ratio"] or 0)
            entry["passed"] = (entry[best]["ratio"] or 0) >= bar
            entry["best"] = best
            ok &= entry["passed"]
            report[name] = entry
    if args.json:
        print(json.dumps(report))
    else:
        for name, r in report.items():
            theirs, ours, _ = pairs[name]
            print(f"{name}: {args.clients} clients, add(3, 4), median of {args.rounds} rounds of {args.seconds:g} s")
            for kind in (theirs, ours, ours + "-workers"):
                m = r[kind]
                ratio = f"  {m['ratio']:.2f} x" if "ratio" in m else ""
                print(f"  {kind:<21} {m['calls_per_s']:8d} calls/s{ratio:>9}  p99 {m['p99_ms']:7.2f} ms  "
                      f"CPU {m['server_cpu_us_per_call']:4d} us/call  errors {m['errors']}  peak RSS over {BURST_CALLS} calls {m['peak_rss_kib'] / 1024:.1f} MiB "
                      f"(idle {m['rss_before_kib'] / 1024:.1f})")
            print(f"  bar: netkit >= {r['bar']:g} x {theirs}: {'PASS' if r['passed'] else 'FAIL'} ({r['best']}; "
                  f"-workers: --workers auto = {os.cpu_count()} processes on one port)")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError) as exc:
        print(f"bench_rpc: cannot run: {exc}", file=sys.stderr)
        sys.exit(2)
