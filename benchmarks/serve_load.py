#!/usr/bin/env python3
"""Load generator for line echo servers: PROCS processes share CONNS connections; each
connection sends one line, waits for the whole echo, records the round trip, sends the
next (closed loop: requests/s and latency measure the server, not a queue in front of it).

    python serve_load.py PORT CONNS PROCS LINE_BYTES SECONDS
    -> one JSON object: {"requests": N, "seconds": S, "rps": R, "p50_ms": .., "p99_ms": ..}

Each process runs uvloop with plain asyncio Protocols, so the generator costs as little
CPU as Python allows; every server is measured with this same generator.
"""

import asyncio
import json
import multiprocessing
import sys
import time

# Connections are opened and given this long to settle before counting starts.
WARMUP = 0.5


class _Client(asyncio.Protocol):
    def __init__(self, line, stats, clock):
        self.line = line
        self.size = len(line)
        self.stats = stats
        self.clock = clock
        self.got = 0
        self.sent_at = 0.0

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        self.got = 0
        self.sent_at = self.clock()
        self.transport.write(self.line)

    def data_received(self, data):
        self.got += len(data)
        if self.got >= self.size:
            now = self.clock()
            stats = self.stats
            if stats["on"]:
                stats["latencies"].append(now - self.sent_at)
            self._send()


async def _run(port, conns, line, seconds):
    loop = asyncio.get_running_loop()
    stats = {"on": False, "latencies": []}
    clock = time.perf_counter
    transports = []
    for _ in range(conns):
        t, _p = await loop.create_connection(lambda: _Client(line, stats, clock), "127.0.0.1", port)
        transports.append(t)
    await asyncio.sleep(WARMUP)
    stats["on"] = True
    start = clock()
    await asyncio.sleep(seconds)
    stats["on"] = False
    elapsed = clock() - start
    for t in transports:
        t.abort()
    return stats["latencies"], elapsed


def _worker(args):
    import uvloop

    port, conns, line_bytes, seconds = args
    line = b"x" * (line_bytes - 1) + b"\n"
    latencies, elapsed = uvloop.run(_run(port, conns, line, seconds))
    return latencies, elapsed


def main(argv):
    port, conns, procs, line_bytes, seconds = int(argv[0]), int(argv[1]), int(argv[2]), int(argv[3]), float(argv[4])
    shares = [conns // procs + (1 if i < conns % procs else 0) for i in range(procs)]
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        results = pool.map(_worker, [(port, n, line_bytes, seconds) for n in shares])
    latencies = sorted(lat for lats, _ in results for lat in lats)
    elapsed = max(e for _, e in results)
    n = len(latencies)
    print(json.dumps({"requests": n, "seconds": elapsed, "rps": n / elapsed if elapsed else 0.0,
                      "p50_ms": latencies[n // 2] * 1e3 if n else None,
                      "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3 if n else None}))


if __name__ == "__main__":
    main(sys.argv[1:])
