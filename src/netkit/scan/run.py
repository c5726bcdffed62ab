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
from netkit.scan.model import HostResult, PortResult, ScanReport

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


def _forked(addresses, ports, workers, options, on_result, interrupted):
    """Deal ports round-robin to ``workers`` forked engines; call on_result per port."""
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

        ScanEngine(addresses, ports[w::workers], found, **share).run()

    pool = fork_workers(workers, work, buffered=True)
    try:
        for _worker, record in pool.records(interrupted):
            h, port, state, reason, rtt = record.split()
            on_result(PortResult(addresses[int(h)], int(port), _STATES[int(state)], _REASONS[int(reason)],
                                 None if rtt == b"-" else float(rtt)))
    finally:
        pool.close(kill=bool(interrupted))


def scan(targets, ports, *, on_result=None, concurrency=DEFAULT_CONCURRENCY, retries=DEFAULT_RETRIES,
         rate=None, max_time=None, max_timeout=MAX_TIMEOUT, initial_timeout=INITIAL_TIMEOUT, host_timeout=None,
         workers=None, banners=False, banner_timeout=2.0, command=""):
    """Scan ``ports`` of ``targets`` ([(address, name or None)]); returns a ScanReport.

    ``on_result(PortResult)`` sees each port as soon as its state is known (banners come
    later, in the report). Ctrl-C ends the scan early: the report has what was found and
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
    found = {address: {} for address in addresses}
    interrupted = []
    started = time.time()

    def collect(result):
        result.service = names.get(result.port)
        found[result.address][result.port] = result
        if on_result is not None:
            on_result(result)

    try:
        if workers > 1:
            _forked(addresses, ports, workers, options, collect, interrupted)
        else:
            ScanEngine(addresses, ports, collect, **options).run()
    except KeyboardInterrupt:
        interrupted.append(True)
    order = {port: i for i, port in enumerate(ports)}
    hosts = []
    for address, name in targets:
        results = sorted(found[address].values(), key=lambda r: order[r.port])
        skipped = 0 if interrupted else len(ports) - len(results)
        hosts.append(HostResult(address, name, results, started, time.time(), skipped))
    report = ScanReport(hosts, ports, command, started, None, bool(interrupted))
    if banners and not interrupted:
        from netkit.scan.banner import grab_banners

        try:
            grab_banners([p for h in hosts for p in h.ports if p.state == "open"], timeout=banner_timeout)
        except KeyboardInterrupt:
            report.interrupted = True
    report.finished = time.time()
    return report
