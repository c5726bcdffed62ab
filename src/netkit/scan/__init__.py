"""``netkit scan``: a TCP connect port scanner.

Library use::

    from netkit.scan import expand_targets, parse_ports, scan
    report = scan(expand_targets(["192.0.2.0/28"]), parse_ports("22,80,443"))

    async for result in scan_iter(expand_targets(["127.0.0.1"]), range(1, 1025)):
        print(result.port, result.state)            # as each port's state is known
"""

from netkit.core.lazy import lazy_names

TYPE_CHECKING = False

_MODULES = {
    "netkit.scan.run": ("scan",),
    "netkit.scan.targets": ("expand_targets",),
    "netkit.scan.ports": ("parse_ports", "top_ports"),
    "netkit.scan.model": ("HostResult", "PortResult", "ScanReport"),
}
if TYPE_CHECKING:  # what mypy and IDEs see: _MODULES' names (tests/test_exported_members.py)
    from collections.abc import AsyncIterator, Iterable

    from netkit.scan.model import HostResult as HostResult
    from netkit.scan.model import PortResult as PortResult
    from netkit.scan.model import ScanReport as ScanReport
    from netkit.scan.ports import parse_ports as parse_ports
    from netkit.scan.ports import top_ports as top_ports
    from netkit.scan.run import scan as scan
    from netkit.scan.targets import expand_targets as expand_targets
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES, own=("scan_iter",))


async def scan_iter(
    targets: "Iterable[tuple[str, object]]", ports: "Iterable[int]", **options: object
) -> "AsyncIterator[PortResult]":
    """Yield PortResult objects as the scan finds them (an async generator).

    The engine runs in a thread of its own (one process: ``workers`` does not apply);
    leaving the loop early stops it. ``options`` are ScanEngine's: concurrency, retries,
    rate, max_time, max_timeout.
    """
    import asyncio

    from netkit.core.limits import fit_to_descriptors
    from netkit.info.services import port_names
    from netkit.scan.engine import DEFAULT_CONCURRENCY, ScanEngine

    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    names = port_names("tcp")
    done = object()

    def found(result):
        result.service = names.get(result.port)
        loop.call_soon_threadsafe(queue.put_nowait, result)

    options["concurrency"] = fit_to_descriptors(options.get("concurrency", DEFAULT_CONCURRENCY))
    engine = ScanEngine([address for address, _ in targets], list(ports), found, **options)

    def work():
        try:
            engine.run()
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    worker = loop.run_in_executor(None, work)
    try:
        while (item := await queue.get()) is not done:
            yield item
    finally:
        engine.stop()
        await worker

