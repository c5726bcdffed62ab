"""``netkit scan``: a TCP connect port scanner.

Library use: targets and ports as you would write them on the command line (or as lists,
ranges and numbers); a mistake is a ``UsageError`` naming it::

    from netkit.scan import scan, scan_iter
    report = scan("192.0.2.0/28", "22,80,443")
    report = scan(["web1", "10.0.0.0/30"], [22, 80], timeout=Timeout(60, connect=1))
    report = scan("host.example", "top100", concurrency=500, retries=2)

    async for result in scan_iter("127.0.0.1", range(1, 1025)):
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
    from typing import Any

    from netkit.core.timeout import Timeout
    from netkit.scan.model import HostResult as HostResult
    from netkit.scan.model import PortResult as PortResult
    from netkit.scan.model import ScanReport as ScanReport
    from netkit.scan.ports import parse_ports as parse_ports
    from netkit.scan.ports import top_ports as top_ports
    from netkit.scan.run import Ports, Targets
    from netkit.scan.run import scan as scan
    from netkit.scan.targets import expand_targets as expand_targets
else:
    __all__, __getattr__, __dir__ = lazy_names(__name__, _MODULES, own=("scan_iter",))


async def scan_iter(
    targets: "Targets", ports: "Ports", *, concurrency: int | None = None, retries: int | None = None,
    rate: float | None = None, timeout: "float | Timeout | None" = None, exclude: "Iterable[str]" = (),
    family: int = 0, max_time: float | None = None, max_timeout: float | None = None,
    initial_timeout: float | None = None, host_timeout: float | None = None,
) -> "AsyncIterator[PortResult]":
    """Yield PortResult objects as the scan finds them (an async generator).

    ``targets``, ``ports`` and the options are :func:`scan`'s (None: its defaults); the
    engine runs in a thread of its own (one process: there are no ``workers``), names are
    resolved in a thread too; leaving the loop early stops the scan.
    """
    import asyncio

    from netkit.info.services import port_names
    from netkit.scan.engine import DEFAULT_CONCURRENCY, DEFAULT_RETRIES, ScanEngine
    from netkit.scan.ports import as_ports
    from netkit.scan.run import engine_options
    from netkit.scan.targets import as_targets

    options = engine_options(concurrency=DEFAULT_CONCURRENCY if concurrency is None else concurrency,
                             retries=DEFAULT_RETRIES if retries is None else retries, rate=rate, timeout=timeout,
                             max_time=max_time, max_timeout=max_timeout, initial_timeout=initial_timeout,
                             host_timeout=host_timeout)
    ports = as_ports(ports)
    pairs = await asyncio.to_thread(as_targets, targets, exclude, family)  # names resolve: not in the loop

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[PortResult | None] = asyncio.Queue()  # None: the scan is over
    names = port_names("tcp")

    def found(result: "PortResult") -> None:
        result.service = names.get(result.port)
        loop.call_soon_threadsafe(queue.put_nowait, result)

    engine = ScanEngine([address for address, _ in pairs], ports, found, **options)

    def work() -> None:
        try:
            engine.run()
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    worker = loop.run_in_executor(None, work)
    try:
        while (item := await queue.get()) is not None:
            yield item
    finally:
        engine.stop()
        await worker

