"""Running a scan: targets and ports in, a ScanReport out, results streamed as they come.

One engine per core for big scans (ports dealt round-robin to forked workers, results
back through pipes, as ``netkit check`` sweeps do), service names from the services
database, and banners read from the open ports afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from netkit.core.timeout import Timeout
from netkit.scan.engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES,
    INITIAL_TIMEOUT,
    MAX_TIMEOUT,
    ScanEngine,
)
from netkit.scan.model import CLOSED, HostResult, PortResult, ScanReport

if TYPE_CHECKING:
    import ipaddress

    Target = str | ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Network | ipaddress.IPv6Network
    Targets = Target | Iterable[Target] | Iterable[tuple[str, str | None]]
    Ports = str | int | range | Iterable[int | str]

__all__ = ["DEFAULT_BANNER_TIMEOUT", "MIN_PROBES_PER_WORKER", "engine_options", "scan", "worker_count"]

# Seconds an open port has to say something (or answer a HEAD) for --banner.
DEFAULT_BANNER_TIMEOUT = 2.0

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


def engine_options(*, concurrency=DEFAULT_CONCURRENCY, retries=DEFAULT_RETRIES, rate=None, timeout=None,
                   max_time=None, max_timeout=None, initial_timeout=None, host_timeout=None) -> dict:
    """ScanEngine's keyword arguments from the library's, checked (``UsageError`` in their
    names). ``timeout`` (seconds or a Timeout): ``total`` bounds the whole scan (max_time),
    ``connect`` each probe's wait for an answer (initial_timeout and max_timeout, as the
    CLI's --timeout); an argument given by its own name wins."""
    from netkit.core.errors import UsageError
    from netkit.core.limits import fit_to_descriptors

    def whole(name, value, low):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"scan({name}={value!r}): a whole number, {low} or more")

    def seconds(name, value):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            raise UsageError(f"scan({name}={value!r}): seconds, more than 0, or None")

    whole("concurrency", concurrency, 1)
    whole("retries", retries, 0)
    for name, value in (("rate", rate), ("max_time", max_time), ("max_timeout", max_timeout),
                        ("initial_timeout", initial_timeout), ("host_timeout", host_timeout)):
        seconds(name, value)
    if timeout is not None:
        timeout = Timeout.of(timeout)
        max_time = timeout.total if max_time is None else max_time
        max_timeout = timeout.connect if max_timeout is None else max_timeout
        initial_timeout = timeout.connect if initial_timeout is None else initial_timeout
    return {"concurrency": fit_to_descriptors(concurrency), "retries": retries, "rate": rate, "max_time": max_time,
            "max_timeout": MAX_TIMEOUT if max_timeout is None else max_timeout,
            "initial_timeout": INITIAL_TIMEOUT if initial_timeout is None else initial_timeout,
            "host_timeout": host_timeout}


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


def scan(targets: Targets, ports: Ports, *, concurrency: int = DEFAULT_CONCURRENCY, retries: int = DEFAULT_RETRIES,
         rate: float | None = None, timeout: float | Timeout | None = None, exclude: Iterable[str] = (),
         family: int = 0, on_result: Callable[[PortResult], object] | None = None,
         on_progress: Callable[[int, int], object] | None = None, banners: bool = False,
         banner_timeout: float | None = None, max_time: float | None = None, max_timeout: float | None = None,
         initial_timeout: float | None = None, host_timeout: float | None = None, workers: int | None = None,
         command: str = "") -> ScanReport:
    """Scan ``ports`` of ``targets``; returns a ScanReport.

    ``targets``: as users write them -- ``"192.0.2.0/28"``, ``["web1", "10.0.0.1-5"]``, an
    ``ipaddress`` network -- or the (address, name) pairs of :func:`expand_targets`;
    ``exclude`` and ``family`` (4 or 6) as the CLI's --exclude, -4 and -6. ``ports``:
    ``"22,80,443"``, ``"1-1024"``, ``"top100"``, ``"all"``, ``22``, ``range(1, 1025)``,
    ``[22, 80]``. A bad one is a UsageError naming it.

    ``timeout`` (seconds or a Timeout): ``total`` bounds the whole scan, ``connect`` each
    probe's wait (default 0.5 s, adapting up to 1.25 s), ``read`` the wait for a banner.
    ``concurrency``: connects in flight; ``retries``: probes sent again before a port is
    filtered; ``rate``: probes a second at most.

    ``on_result(PortResult)`` sees each port as soon as its state is known (banners come
    later, in the report); ``on_progress(known, open)`` the counts so far, after each
    result or batch of closed ports -- cheaper for a progress display, and without
    ``on_result`` closed ports are not made objects until the report's ``ports`` is read.
    Ctrl-C ends the scan early: the report has what was found and
    ``interrupted`` set.
    """
    from netkit.info.services import port_names
    from netkit.scan.ports import as_ports
    from netkit.scan.targets import as_targets

    options = engine_options(concurrency=concurrency, retries=retries, rate=rate, timeout=timeout,
                             max_time=max_time, max_timeout=max_timeout, initial_timeout=initial_timeout,
                             host_timeout=host_timeout)
    if banner_timeout is None:
        read = None if timeout is None else Timeout.of(timeout).read
        banner_timeout = DEFAULT_BANNER_TIMEOUT if read is None else read
    targets = as_targets(targets, exclude, family)
    ports = as_ports(ports)
    addresses = [address for address, _ in targets]
    names = port_names("tcp")
    workers = worker_count(len(addresses) * len(ports)) if workers is None else max(1, workers)
    found: dict[str, list[PortResult]] = {address: [] for address in addresses}
    closed: list[tuple[list[int], list[float]]] = [([], []) for _ in addresses]  # per host: closed ports, their rtts (no objects)
    progress = [0, 0]  # ports known, open ones
    interrupted: list[bool] = []
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
