"""Run services until SIGTERM/SIGINT: bind, drop privileges, tell systemd, serve, stop
gracefully."""

import asyncio
import os
import signal

from netkit.serve._server import Server
from netkit.serve._spec import DEFAULT_GRACE
from netkit.serve._system import Log, drop_privileges, remove_pidfile, sd_notify, write_pidfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from netkit.serve._spec import Service

__all__ = ["run", "serving"]


class serving:
    """``async with serving(services) as server:`` -- services bound and answering inside
    the block (``server.addresses`` says where), stopped with ``grace`` on the way out."""

    def __init__(self, services: "Iterable[Service]", *, log: Log | None = None,
                 grace: float = DEFAULT_GRACE) -> None:
        self.server = Server(services, log=log)
        self.grace = grace

    async def __aenter__(self) -> Server:
        return await self.server.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(self.grace)


def _describe_failure(context) -> str:
    exc = context.get("exception")
    message = context.get("message") or "unexpected error"
    return f"{message}: {type(exc).__name__}: {exc}" if exc is not None else message


async def _main(server: Server, grace: float, log: Log, on_ready, control: int | None = None):
    """Serve until told to stop: by SIGTERM/SIGINT, or (a worker of --workers, ``control``
    given) by the parent through the control pipe."""
    loop = asyncio.get_running_loop()
    # Whatever escapes a callback (a bug met by one peer's bytes) is one log line, not a
    # traceback, and the server goes on serving the others.
    loop.set_exception_handler(lambda _loop, context: log("serve", "error: " + _describe_failure(context)))
    stop = asyncio.Event()
    signals = []

    def on_signal(signum):
        if stop.is_set():  # a second signal: no more waiting
            log("serve", f"{signal.Signals(signum).name} again: closing at once")
            server.abort_all()
            return
        log("serve", f"{signal.Signals(signum).name}: stopping")
        stop.set()

    def on_control():
        from netkit.serve._workers import ABORT

        try:
            got = os.read(control, 64)
        except BlockingIOError:
            return
        if not got:  # the parent is gone: stop, and hear no more
            loop.remove_reader(control)
        if ABORT in got:
            server.abort_all()
        stop.set()

    if control is None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
            signals.append(signum)
    else:
        os.set_blocking(control, False)
        loop.add_reader(control, on_control)
    try:
        await server.start(announce=control is None)
        on_ready()
        if control is None:
            sd_notify(f"READY=1\nSTATUS=serving {len(server.listeners)} socket(s)\nMAINPID={os.getpid()}")
        await stop.wait()
        if control is None:
            sd_notify("STOPPING=1")
        await server.stop(grace)
        log("serve", "stopped")
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
        if control is not None:
            loop.remove_reader(control)


def _serve(server, grace, log, on_ready, control=None):
    from netkit.drivers.aio import loop_factory

    factory = loop_factory()
    if factory is None:
        asyncio.run(_main(server, grace, log, on_ready, control))
    else:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_main(server, grace, log, on_ready, control))
    return 0


def _nothing() -> None:
    pass


def run(services: "Iterable[Service]", *, grace: float = DEFAULT_GRACE, user: str | None = None,
        pidfile: str | None = None, log: Log | None = None, on_ready: "Callable[[], object]" = _nothing,
        workers: int = 1) -> int:
    """Serve ``services`` in the foreground until SIGTERM or SIGINT. Sockets are bound
    first (a low port needs root), then ``user`` is taken on, then serving starts, in this
    process or (``workers`` > 1) in that many forked processes sharing the sockets and the
    connection limits (:mod:`netkit.serve._workers`). 0 after a graceful stop; 1 when a
    worker failed. ValueError / OSError from set-up propagate (nothing is left bound)."""
    from netkit.core.limits import fit_to_descriptors

    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more, or auto")
    log = log or Log()
    fit_to_descriptors(sum(s.limits.max_connections for s in services))
    server = Server(services, log=log).bind(copies=workers)
    written = None
    try:
        if pidfile:
            written = write_pidfile(pidfile)
        if user:
            log("serve", drop_privileges(user))
        if workers == 1:
            return _serve(server, grace, log, on_ready)
        from netkit.serve._workers import serve_in_workers

        return serve_in_workers(server, workers, grace, log,
                                lambda control, ready: _serve(server, grace, log, ready, control), on_ready)
    finally:
        server.close_sockets()
        if written and pidfile is not None:
            remove_pidfile(pidfile, written)
