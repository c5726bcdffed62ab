#!/usr/bin/env python3
"""Packets: `netkit packets arp|trace|sniff` beside arp-scan, traceroute -T (and mtr) and
tcpdump, on the same namespace networks (tests/peers/packets_net.py), every round's results
checked against the network's ground truth (issue 18, "Bars").

1. arp: a bridge with 20 live hosts (known MACs) in a /24

       VENV/bin/netkit packets arp NET/24 -i BRIDGE --json
       arp-scan -I BRIDGE NET/24                       (its defaults: 2 tries, 500 ms)

   Bar: netkit finds 100 % of the 20 in every round; median wall time <= 1.0 x arp-scan's.

2. trace: root -- 4 routers (the 2nd drops its ICMP time-exceeded) -- 4 targets, port 80
   open; the first link has DELAY ms each way (a TUN delay line, default 10 ms: an uplink)

       VENV/bin/netkit packets trace T1 T2 T3 T4 --json
       traceroute -T -n -p 80 Ti      (the 4 at once, in parallel: wall time of the slowest)
       mtr --report -T -n -P 80 -c 3 -i 0.2 Ti     (once per target, hops only, untimed)

   Bar: netkit's hops are the topology's (and traceroute's and mtr's) in every round; median
   wall time <= 1.0 x traceroute's 4-in-parallel.

3. sniff: a namespace behind one veth blasts COUNT UDP datagrams of 64 bytes at the root
   side as fast as a C sender with sendmmsg() goes; the capture writes a pcap

       VENV/bin/netkit packets sniff -i VETH -w F.pcap -c COUNT -d 20 udp dst port 9999
       tcpdump -i VETH -w F.pcap -c COUNT 'udp dst port 9999'   (SIGINT when the blast is over)

   The packets in each pcap are counted (read back by our pcap reader). Bar: netkit's
   captured >= 0.8 x tcpdump's, medians.

Method: one untimed warm-up round, then ROUNDS rounds; in each round both tools run once,
who goes first alternating. Wall time from perf_counter around the run.

    python benchmarks/bench_packets.py [--rounds N] [--delay MS] [--count N] [--skip arp|trace|sniff] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (BenchError, add_common_options, bench_main, bench_venv, child_env, median, need_tool, ratio,
                     table, verdict)

from tests.peers.packets_net import arp_lan, router_chain, veth_pair

RUN_TIMEOUT = 120
SINK_PORT = 9999
# The sender: sendmmsg() in batches of 256 datagrams of 64 bytes, COUNT in all.
BLAST_C = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    long count = atol(argv[3]), sent = 0;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &to.sin_addr);
    if (connect(s, (struct sockaddr *)&to, sizeof to)) { perror("connect"); return 1; }
    char payload[64]; memset(payload, 'x', sizeof payload);
    struct mmsghdr msgs[256]; struct iovec iov[256];
    for (int i = 0; i < 256; i++) {
        iov[i].iov_base = payload; iov[i].iov_len = sizeof payload;
        memset(&msgs[i], 0, sizeof msgs[i]); msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (sent < count) {
        int n = count - sent < 256 ? count - sent : 256;
        int got = sendmmsg(s, msgs, n, 0);
        if (got > 0) sent += got;
    }
    printf("%ld\n", sent);
    return 0;
}
"""


def timed(argv, env=None, timeout=RUN_TIMEOUT):
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env or child_env(), check=False)
    return time.perf_counter() - start, proc


# --- arp -----------------------------------------------------------------------------------------

def bench_arp(netkit, rounds, log):
    arp_scan = need_tool("arp-scan", "arp-scan")
    rows = {"netkit": [], "arp-scan": []}
    found = {"netkit": [], "arp-scan": []}
    with arp_lan(live=20, silent=False, duplicate=False) as lan:
        truth = {a: m[0] for a, m in lan.truth.items()}

        def run_netkit():
            wall, proc = timed([netkit, "packets", "arp", lan.network, "-i", lan.bridge, "--json"])
            hosts = {h["address"]: h["mac"] for h in json.loads(proc.stdout)["hosts"]}
            return wall, sum(1 for a, m in truth.items() if hosts.get(a) == m), set(hosts) - set(truth)

        def run_arp_scan():
            wall, proc = timed([arp_scan, "-I", lan.bridge, lan.network])
            hosts = dict(re.findall(r"^(\d+\.\d+\.\d+\.\d+)\t([0-9a-f:]{17})", proc.stdout, re.M))
            return wall, sum(1 for a, m in truth.items() if hosts.get(a) == m), set(hosts) - set(truth)

        tools = {"netkit": run_netkit, "arp-scan": run_arp_scan}
        for r in range(rounds + 1):
            order = list(tools) if r % 2 == 0 else list(reversed(tools))
            for name in order:
                wall, hits, extra = tools[name]()
                if extra:
                    raise BenchError(f"{name} reported addresses no host has: {sorted(extra)}")
                if r:
                    rows[name].append(wall)
                    found[name].append(hits)
            if r:
                log(f"  arp round {r}: netkit {rows['netkit'][-1]:.3f} s ({found['netkit'][-1]}/20), "
                    f"arp-scan {rows['arp-scan'][-1]:.3f} s ({found['arp-scan'][-1]}/20)")
    ok_found = all(n == 20 for n in found["netkit"])
    r = ratio(median(rows["netkit"]), median(rows["arp-scan"]))
    return {"netkit_s": median(rows["netkit"]), "arp_scan_s": median(rows["arp-scan"]), "ratio": r,
            "netkit_found": found["netkit"], "arp_scan_found": found["arp-scan"], "pass": ok_found and r <= 1.0}


# --- trace ---------------------------------------------------------------------------------------

def _traceroute_hops(text):
    hops = []
    for line in text.splitlines()[1:]:
        words = line.split()
        if not words or not words[0].isdigit():
            continue
        address = next((w for w in words[1:] if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", w)), None)
        hops.append(address)
    return hops


def _mtr_hops(text):
    hops = []
    for line in text.splitlines():
        m = re.match(r"\s*\d+\.\|--\s+(\S+)", line)
        if m:
            hops.append(None if m.group(1) == "???" else m.group(1))
    return hops


def bench_trace(netkit, rounds, delay, log):
    traceroute = need_tool("traceroute", "traceroute")
    mtr = need_tool("mtr", "mtr-tiny")
    rows = {"netkit": [], "traceroute": []}
    with router_chain(routers=4, targets=4, drop_at=2, delay=delay) as chain:
        truth = chain.hops

        def run_netkit():
            wall, proc = timed([netkit, "packets", "trace", *chain.targets, "--json"])
            flows = json.loads(proc.stdout)["flows"]
            got = {f["address"]: [h["addresses"][0] if h["addresses"] else None for h in f["hops"]] for f in flows}
            return wall, got

        def run_traceroute():
            start = time.perf_counter()
            procs = {t: subprocess.Popen([traceroute, "-T", "-n", "-p", "80", t], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, env=child_env())
                     for t in chain.targets}
            outs = {t: p.communicate(timeout=RUN_TIMEOUT)[0] for t, p in procs.items()}
            return time.perf_counter() - start, {t: _traceroute_hops(o) for t, o in outs.items()}

        tools = {"netkit": run_netkit, "traceroute": run_traceroute}
        for r in range(rounds + 1):
            order = list(tools) if r % 2 == 0 else list(reversed(tools))
            for name in order:
                wall, got = tools[name]()
                if got != truth:
                    raise BenchError(f"{name} found other hops than the topology's: {got} != {truth}")
                if r:
                    rows[name].append(wall)
            if r:
                log(f"  trace round {r}: netkit {rows['netkit'][-1]:.3f} s, traceroute x4 {rows['traceroute'][-1]:.3f} s")
        mtr_same = True
        for target in chain.targets:
            _, proc = timed([mtr, "--report", "-T", "-n", "-P", "80", "-c", "3", "-i", "0.2", target])
            if _mtr_hops(proc.stdout) != truth[target]:
                mtr_same = False
                log(f"  mtr's hops to {target}: {_mtr_hops(proc.stdout)} (truth {truth[target]})")
    r = ratio(median(rows["netkit"]), median(rows["traceroute"]))
    return {"netkit_s": median(rows["netkit"]), "traceroute_x4_s": median(rows["traceroute"]), "ratio": r,
            "same_hops_as_topology_and_traceroute": True, "same_hops_as_mtr": mtr_same, "delay_ms": delay,
            "pass": r <= 1.0}


# --- sniff ---------------------------------------------------------------------------------------

def _pcap_count(path):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from netkit.packets._sniff import read_pcap

    with open(path, "rb") as f:
        _, records = read_pcap(f)
        return sum(1 for _ in records)


def bench_sniff(netkit, rounds, count, log):
    tcpdump = need_tool("tcpdump", "tcpdump")
    cc = need_tool("cc", "gcc")
    captured = {"netkit": [], "tcpdump": []}
    with tempfile.TemporaryDirectory(prefix="netkit-bench-") as tmp, veth_pair() as pair:
        blast = Path(tmp) / "blast"
        (Path(tmp) / "blast.c").write_text(BLAST_C)
        subprocess.run([cc, "-O2", "-o", str(blast), str(Path(tmp) / "blast.c")], check=True, timeout=120)
        import socket

        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never read: no ICMP unreachable back
        sink.bind((pair.gateway, SINK_PORT))
        flt = f"udp dst port {SINK_PORT}"

        def blast_now():
            subprocess.run(["ip", "netns", "exec", pair.namespace, str(blast), pair.gateway, str(SINK_PORT),
                            str(count)], check=True, capture_output=True, timeout=RUN_TIMEOUT)

        def run_netkit():
            pcap = Path(tmp) / "netkit.pcap"
            pcap.unlink(missing_ok=True)
            proc = subprocess.Popen([netkit, "packets", "sniff", "-i", pair.root_if, "-w", str(pcap), "-c", str(count),
                                     "-d", "20", flt], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    env=child_env())
            proc.stderr.readline()  # listening
            blast_now()
            time.sleep(1.0)  # the ring's last blocks handed over
            proc.send_signal(signal.SIGINT)
            err = proc.communicate(timeout=RUN_TIMEOUT)[1]
            if proc.returncode != 0:
                raise BenchError(f"netkit packets sniff failed: {err.strip()}")
            log(f"    netkit: {err.strip().splitlines()[-1]}")
            return _pcap_count(pcap)

        def run_tcpdump():
            pcap = Path(tmp) / "tcpdump.pcap"
            pcap.unlink(missing_ok=True)
            proc = subprocess.Popen([tcpdump, "-i", pair.root_if, "-w", str(pcap), "-c", str(count), "-U", flt],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child_env())
            proc.stderr.readline()  # "tcpdump: listening on ..."
            blast_now()
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
            err = proc.communicate(timeout=RUN_TIMEOUT)[1]
            log(f"    tcpdump: {' / '.join(err.strip().splitlines()[-3:])}")
            return _pcap_count(pcap)

        tools = {"netkit": run_netkit, "tcpdump": run_tcpdump}
        try:
            for r in range(rounds + 1):
                order = list(tools) if r % 2 == 0 else list(reversed(tools))
                for name in order:
                    got = tools[name]()
                    if r:
                        captured[name].append(got)
                if r:
                    log(f"  sniff round {r}: netkit {captured['netkit'][-1]}/{count}, "
                        f"tcpdump {captured['tcpdump'][-1]}/{count}")
        finally:
            sink.close()
    r = ratio(median(captured["netkit"]), median(captured["tcpdump"]))
    return {"sent": count, "netkit_captured": median(captured["netkit"]),
            "tcpdump_captured": median(captured["tcpdump"]), "ratio": r, "pass": r >= 0.8}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=10.0, help="one-way ms on the trace's first link")
    parser.add_argument("--count", type=int, default=1000000, help="datagrams the sniff benchmark sends")
    parser.add_argument("--skip", action="append", default=[], choices=("arp", "trace", "sniff"))
    add_common_options(parser)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_packets: needs root (namespaces, raw sockets)", file=sys.stderr)
        return 2

    def measure(log):
        venv = bench_venv(args.rebuild, log, extras="packets")
        netkit = str(venv / "bin" / "netkit")
        result = {}
        if "arp" not in args.skip:
            log("arp: 20 live hosts in a /24")
            result["arp"] = bench_arp(netkit, args.rounds, log)
        if "trace" not in args.skip:
            log(f"trace: 4 targets behind 4 routers, {args.delay:g} ms each way on the first link")
            result["trace"] = bench_trace(netkit, args.rounds, args.delay, log)
        if "sniff" not in args.skip:
            log(f"sniff: {args.count} datagrams blasted over a veth")
            result["sniff"] = bench_sniff(netkit, max(1, args.rounds // 2), args.count, log)
        result["pass"] = all(v["pass"] for v in result.values() if isinstance(v, dict))
        return result

    def report(result):
        rows = []
        if "arp" in result:
            a = result["arp"]
            rows.append(["arp /24, 20 live", f"{a['netkit_s']:.3f} s", f"arp-scan {a['arp_scan_s']:.3f} s",
                         f"{a['ratio']:.2f}", f"found {min(a['netkit_found'])}/20 every round", verdict(a["pass"])])
        if "trace" in result:
            t = result["trace"]
            rows.append(["trace 4 targets", f"{t['netkit_s']:.3f} s", f"traceroute -T x4 {t['traceroute_x4_s']:.3f} s",
                         f"{t['ratio']:.2f}", f"same hops (mtr {'same' if t['same_hops_as_mtr'] else 'DIFFERS'})",
                         verdict(t["pass"])])
        if "sniff" in result:
            s = result["sniff"]
            rows.append(["sniff -w", f"{s['netkit_captured']:.0f}/{s['sent']}", f"tcpdump {s['tcpdump_captured']:.0f}",
                         f"{s['ratio']:.2f}", "captured (bar >= 0.8)", verdict(s["pass"])])
        print(table(["benchmark", "netkit", "reference", "ratio", "check", "bar"], rows))

    return bench_main("bench_packets", args, measure, report, "namespaces")


if __name__ == "__main__":
    sys.exit(main())
