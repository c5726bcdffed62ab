"""Run services until SIGTERM/SIGINT: bind, drop privileges, tell systemd, serve, stop
gracefully."""

import asyncio
import os
import signal

from netkit.serve._server import Server
from netkit.serve._spec import DEFAULT_GRACE
from netkit.serve._system import Log, drop_privileges, remove_pidfile, sd_notify, write_pidfile

__all__ = ["run", "serving"]


class serving:
    """``async with serving(services) as server:`` -- services bound and answering inside
    the block (``server.addresses`` says where), stopped with ``grace`` on the way out."""

    def __init__(self, services, *, log=None, grace: float = DEFAULT_GRACE):
        self.server = Server(services, log=log)
        self.grace = grace

    async def __aenter__(self) -> Server:
        return await self.server.start()

    async def __aexit__(self, *exc):
        await self.server.stop(self.grace)


async def _main(server: Server, grace: float, log: Log, on_ready):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = []

    def on_signal(signum):
        if stop.is_set():  # a second signal: no more waiting
            log("serve", f"{signal.Signals(signum).name} again: closing at once")
            for listener in server.listeners:
                for connection in list(listener.connections):
                    connection.reason = "server stopping"
                    connection.transport.abort()
            return
        log("serve", f"{signal.Signals(signum).name}: stopping")
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
        signals.append(signum)
    try:
        await server.start()
        on_ready()
        sd_notify(f"READY=1\nSTATUS=serving {len(server.listeners)} socket(s)\nMAINPID={os.getpid()}")
        await stop.wait()
        sd_notify("STOPPING=1")
        await server.stop(grace)
        log("serve", "stopped")
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def run(services, *, grace: float = DEFAULT_GRACE, user: str | None = None, pidfile: str | None = None,
        log: Log | None = None, on_ready=lambda: None) -> int:
    """Serve ``services`` in the foreground until SIGTERM or SIGINT. Sockets are bound
    first (a low port needs root), then ``user`` is taken on, then serving starts.
    ValueError / OSError from set-up propagate (nothing is left bound)."""
    from netkit.core.limits import fit_to_descriptors
    from netkit.drivers.aio import loop_factory

    log = log or Log()
    fit_to_descriptors(sum(s.limits.max_connections for s in services))
    server = Server(services, log=log).bind()
    try:
        if pidfile:
            write_pidfile(pidfile)
        if user:
            log("serve", drop_privileges(user))
        factory = loop_factory()
        if factory is None:
            asyncio.run(_main(server, grace, log, on_ready))
        else:
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(_main(server, grace, log, on_ready))
        return 0
    finally:
        for listener in server.listeners:
            try:
                listener.sock.close()
            except OSError:
                pass
        if pidfile:
            remove_pidfile(pidfile)
