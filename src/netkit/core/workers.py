"""Forked workers that send records back through pipes: one event loop or scan engine per
core, shared by check sweeps and scans.

The parent forks before any event loop or thread exists; each worker runs ``work(index,
emit)`` and sends each record (bytes) with ``emit``; the parent reads the records as they
come. Records are framed by their length, so they may hold anything.
"""

import os
import selectors
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    #: What a worker runs: ``work(index, emit)``, sending each record (bytes) with ``emit``.
    Work = Callable[[int, Callable[[bytes], None]], None]

__all__ = ["fork_workers", "WorkerPool", "DRAIN_AFTER_INTERRUPT"]

# How long the parent keeps reading after Ctrl-C for records the workers already sent.
DRAIN_AFTER_INTERRUPT = 2.0
# Exit codes of a worker: interrupted by Ctrl-C, or failed (its records stop there).
INTERRUPTED, FAILED = 130, 70


def write_all(fd: int, data: bytes) -> None:
    """os.write until all of ``data`` is written (a pipe takes part of a large write)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _child(index: int, fd: int, work: "Work", buffered: bool) -> None:
    emit: Callable[[bytes], None]
    flush: Callable[[], None]
    if buffered:  # many small records (a scan's ports): one write per 64 KiB
        out = os.fdopen(fd, "wb", buffering=1 << 16)

        def buffered_emit(record: bytes) -> None:
            out.write(b"%d\n" % len(record))
            out.write(record)

        emit, flush = buffered_emit, out.flush
    else:  # records as soon as they exist (a sweep's results, printed in order)

        def direct_emit(record: bytes) -> None:
            write_all(fd, b"%d\n" % len(record) + record)

        emit, flush = direct_emit, _nothing

    code = 0
    try:
        work(index, emit)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except BaseException:  # the parent sees which records never came
        code = FAILED
    try:
        flush()
    except OSError:
        pass
    os._exit(code)


def _nothing() -> None:
    pass


class WorkerPool:
    def __init__(self, children: dict[int, tuple[int, int]]) -> None:
        self.children = children  # read fd -> (worker index, pid)

    def records(self, interrupted: list[bool]) -> "Iterator[tuple[int, bytes]]":
        """Yield (worker index, record) as they arrive. Ctrl-C: keep reading for
        DRAIN_AFTER_INTERRUPT seconds, then stop; True is appended to ``interrupted``."""
        selector = selectors.DefaultSelector()
        buffers: dict[int, bytes] = {}
        for fd in self.children:
            selector.register(fd, selectors.EVENT_READ)
            buffers[fd] = b""
        deadline: float | None = None
        try:
            while selector.get_map():
                try:
                    timeout = None if deadline is None else deadline - time.monotonic()
                    if timeout is not None and timeout <= 0:
                        break
                    for key, _ in selector.select(timeout):
                        fd = key.fd
                        chunk = os.read(fd, 1 << 16)
                        if not chunk:
                            selector.unregister(fd)
                            continue
                        buf = buffers[fd] + chunk
                        worker = self.children[fd][0]
                        # Records are "SIZE\n" + SIZE bytes; walked by offset, the buffer is
                        # cut once per read (not once per record: a read holds thousands).
                        pos = 0
                        while True:
                            nl = buf.find(b"\n", pos)
                            if nl < 0:
                                break
                            end = nl + 1 + int(buf[pos:nl])
                            if end > len(buf):
                                break
                            yield worker, buf[nl + 1:end]
                            pos = end
                        buffers[fd] = buf[pos:]
                except KeyboardInterrupt:
                    interrupted.append(True)
                    deadline = time.monotonic() + DRAIN_AFTER_INTERRUPT
        finally:
            selector.close()

    def close(self, kill: bool) -> dict[int, int]:
        """Reap the workers (killing them first when asked); {worker index: exit code}."""
        codes: dict[int, int] = {}
        for fd, (worker, pid) in self.children.items():
            os.close(fd)
            if kill:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            _, status = os.waitpid(pid, 0)
            codes[worker] = os.waitstatus_to_exitcode(status)
        return codes


def fork_workers(count: int, work: "Work", *, buffered: bool = False) -> WorkerPool:
    """Fork ``count`` workers running ``work(index, emit)``."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    children: dict[int, tuple[int, int]] = {}
    for index in range(count):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            for other in children:
                os.close(other)
            _child(index, write_fd, work, buffered)
        os.close(write_fd)
        children[read_fd] = (index, pid)
    return WorkerPool(children)
