"""Reading what a service says first (SSH, SMTP, FTP...), and when it says nothing, what
it answers to a minimal HTTP probe -- the scanner's banner grab."""

__all__ = ["grab_banners", "HTTP_PROBE", "MAX_BANNER", "BANNER_CONCURRENCY"]

# What is sent to a silent service: HTTP is the most common talker-second protocol, and a
# HEAD asks for nothing but the headers.
HTTP_PROBE = b"HEAD / HTTP/1.0\r\n\r\n"
# A banner is a line or two; more is kept out of tables and reports.
MAX_BANNER = 1024
# Banner reads in flight at once: each may wait its whole timeout.
BANNER_CONCURRENCY = 128


def _clean(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    first = text.split("\n", 1)[0].strip()
    return "".join(c if c.isprintable() else "." for c in first)[:200]


async def _grab(result, timeout, limit):
    import asyncio

    async with limit:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(result.address, result.port), timeout)
        except (TimeoutError, OSError):
            return
        try:
            try:
                data = await asyncio.wait_for(reader.read(MAX_BANNER), timeout / 2)
            except TimeoutError:
                data = b""
            if not data:
                writer.write(HTTP_PROBE)
                try:
                    data = await asyncio.wait_for(reader.read(MAX_BANNER), timeout / 2)
                except TimeoutError:
                    data = b""
            if data:
                result.banner = _clean(data)
        except OSError:
            pass
        finally:
            writer.transport.abort()


def grab_banners(results, timeout: float = 2.0):
    """Set ``banner`` on each open PortResult that says something (in place)."""
    if not results:
        return
    import asyncio

    async def main():
        limit = asyncio.Semaphore(BANNER_CONCURRENCY)
        async with asyncio.TaskGroup() as group:
            for result in results:
                group.create_task(_grab(result, timeout, limit))

    from netkit.drivers.aio import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main())
