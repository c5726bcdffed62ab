"""``netkit scan``: a TCP connect port scanner.

Library use::

    from netkit.scan import expand_targets, parse_ports, scan
    report = scan(expand_targets(["192.0.2.0/28"]), parse_ports("22,80,443"))

    async for result in scan_iter(expand_targets(["127.0.0.1"]), range(1, 1025)):
        print(result.port, result.state)            # as each port's state is known
"""

__all__ = sorted(["scan", "scan_iter", "expand_targets", "parse_ports", "top_ports", "PortResult", "HostResult",
                  "ScanReport"])

_LAZY = {
    "scan": ("netkit.scan.run", "scan"),
    "expand_targets": ("netkit.scan.targets", "expand_targets"),
    "parse_ports": ("netkit.scan.ports", "parse_ports"),
    "top_ports": ("netkit.scan.ports", "top_ports"),
    "PortResult": ("netkit.scan.model", "PortResult"),
    "HostResult": ("netkit.scan.model", "HostResult"),
    "ScanReport": ("netkit.scan.model", "ScanReport"),
}


async def scan_iter(targets, ports, **options):
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


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'netkit.scan' has no attribute {name!r}")
