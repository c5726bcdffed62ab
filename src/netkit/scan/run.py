"""Running a scan: targets and ports in, a ScanReport out, results streamed as they come.

One engine per core for big scans (ports dealt round-robin to forked workers, results
back through pipes, as ``netkit check`` sweeps do), service names from the services
database, and banners read from the open ports afterwards.
"""

import os
import time

from netkit.scan.engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES,
    INITIAL_TIMEOUT,
    MAX_TIMEOUT,
    ScanEngine,
)
from netkit.scan.model import CLOSED, HostResult, PortResult, ScanReport

__all__ = ["scan", "worker_count", "MIN_PROBES_PER_WORKER"]

# A worker costs a fork (~5 ms) and a share of the descriptors; below this many probes
# each, one process is as fast.
MIN_PROBES_PER_WORKER = 10000
_STATES = ("open", "closed", "filtered")
_REASONS = ("syn-ack", "conn-refused", "no-response", "host-unreach", "net-unreach", "admin-prohibited")


def worker_count(probes: int) -> int:
    from netkit.core.limits import usable_cpus

    if not hasattr(os, "fork"):
        return 1
    return max(1, min(usable_cpus(), probes // MIN_PROBES_PER_WORKER))


def _engine_options(concurrency, retries, rate, max_time, max_timeout, initial_timeout, host_timeout):
    return dict(concurrency=concurrency, retries=retries, rate=rate, max_time=max_time, max_timeout=max_timeout,
                initial_timeout=initial_timeout, host_timeout=host_timeout)


def _forked(addresses, ports, workers, options, on_result, on_closed, interrupted):
    """Deal ports round-robin to ``workers`` forked engines; call on_result per port, and
    on_closed per batch of closed ports (see ScanEngine)."""
    from array import array

    from netkit.core.workers import fork_workers

    index = {address: i for i, address in enumerate(addresses)}

    def work(w, emit):
        share = dict(options)
        share["concurrency"] = max(1, options["concurrency"] // workers)
        if options["rate"] is not None:
            share["rate"] = options["rate"] / workers

        def found(r):
            rtt = b"-" if r.rtt is None else b"%.6f" % r.rtt
            emit(b"%d %d %d %d %s" % (index[r.address], r.port, _STATES.index(r.state), _REASONS.index(r.reason),
                                     rtt))

        def closed(codes, rtts):  # one binary record per batch: C, n codes, n rtts
            emit(b"C" + array("Q", codes).tobytes() + array("d", rtts).tobytes())

        ScanEngine(addresses, ports[w::workers], found, on_closed=closed, **share).run()

    pool = fork_workers(workers, work, buffered=True)
    try:
        for _worker, record in pool.records(interrupted):
            if record[:1] == b"C":
                n = (len(record) - 1) // 16
                codes, rtts = array("Q"), array("d")
                codes.frombytes(record[1:1 + 8 * n])
                rtts.frombytes(record[1 + 8 * n:])
                on_closed(codes, rtts)
                continue
            h, port, state, reason, rtt = record.split()
            on_result(PortResult(addresses[int(h)], int(port), _STATES[int(state)], _REASONS[int(reason)],
                                 None if rtt == b"-" else float(rtt)))
    finally:
        pool.close(kill=bool(interrupted))


def scan(targets, ports, *, on_result=None, on_progress=None, concurrency=DEFAULT_CONCURRENCY, retries=DEFAULT_RETRIES,
         rate=None, max_time=None, max_timeout=MAX_TIMEOUT, initial_timeout=INITIAL_TIMEOUT, host_timeout=None,
         workers=None, banners=False, banner_timeout=2.0, command=""):
    """Scan ``ports`` of ``targets`` ([(address, name or None)]); returns a ScanReport.

    ``on_result(PortResult)`` sees each port as soon as its state is known (banners come
    later, in the report); ``on_progress(known, open)`` the counts so far, after each
    result or batch of closed ports -- cheaper for a progress display, and without
    ``on_result`` closed ports are not made objects until the report's ``ports`` is read.
    Ctrl-C ends the scan early: the report has what was found and
    ``interrupted`` set.
    """
    from netkit.core.limits import fit_to_descriptors
    from netkit.info.services import port_names

    ports = list(ports)
    addresses = [address for address, _ in targets]
    names = port_names("tcp")
    workers = worker_count(len(addresses) * len(ports)) if workers is None else max(1, workers)
    options = _engine_options(fit_to_descriptors(concurrency), retries, rate, max_time, max_timeout, initial_timeout,
                              host_timeout)
    found = {address: [] for address in addresses}
    closed = [([], []) for _ in addresses]  # per host: closed ports, their rtts (no objects)
    progress = [0, 0]  # ports known, open ones
    interrupted = []
    started = time.time()

    def collect(result):
        result.service = names.get(result.port)
        found[result.address].append(result)
        progress[0] += 1
        progress[1] += result.state == "open"
        if on_result is not None:
            on_result(result)
        if on_progress is not None:
            on_progress(*progress)

    def collect_closed(codes, rtts):
        if on_result is not None:  # its contract: an object per port, as it comes
            for code, rtt in zip(codes, rtts):
                collect(PortResult(addresses[code >> 16], code & 0xFFFF, CLOSED, "conn-refused", rtt))
            return
        if len(addresses) == 1:  # every code is a port of host 0
            closed[0][0].extend(codes)
            closed[0][1].extend(rtts)
        else:
            for code, rtt in zip(codes, rtts):
                ports_, rtts_ = closed[code >> 16]
                ports_.append(code & 0xFFFF)
                rtts_.append(rtt)
        progress[0] += len(codes)
        if on_progress is not None:
            on_progress(*progress)

    try:
        if workers > 1:
            _forked(addresses, ports, workers, options, collect, collect_closed, interrupted)
        else:
            ScanEngine(addresses, ports, collect, on_closed=collect_closed, **options).run()
    except KeyboardInterrupt:
        interrupted.append(True)
    order = {port: i for i, port in enumerate(ports)}

    def in_scan_order(results):
        return sorted(results, key=lambda r: order[r.port])

    def builder(address, closed_ports, closed_rtts):
        def build(results):
            results = results + [PortResult(address, port, CLOSED, "conn-refused", rtt, names.get(port))
                                 for port, rtt in zip(closed_ports, closed_rtts)]
            return in_scan_order(results)

        return build

    hosts = []
    for (address, name), (closed_ports, closed_rtts) in zip(targets, closed):
        host = HostResult(address, name, in_scan_order(found[address]), started, time.time())
        if closed_ports:
            host.defer({CLOSED: len(closed_ports)}, builder(address, closed_ports, closed_rtts))
        host.skipped = 0 if interrupted else len(ports) - host.scanned
        hosts.append(host)
    report = ScanReport(hosts, ports, command, started, None, bool(interrupted))
    if banners and not interrupted:
        from netkit.scan.banner import grab_banners

        try:
            grab_banners([p for h in hosts for p in h.select(("open",))], timeout=banner_timeout)
        except KeyboardInterrupt:
            report.interrupted = True
    report.finished = time.time()
    return report
