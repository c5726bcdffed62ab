"""Sweeps across processes: one event loop per core, results back through pipes.

A single Python process runs one core flat out at a couple of thousand HTTP checks a
second; a sweep of hundreds of checks splits them round-robin over forked workers (each
with its own uvloop and ``concurrency / workers`` checks in flight), which render their
results and send them back; the parent yields them as they come. Specs are parsed (and
passwords asked for) before the fork, so workers share nothing and need no pickling.
"""

import os
import selectors

from netkit.core.status import UNKNOWN

__all__ = ["worker_count", "run_forked", "MIN_CHECKS_PER_WORKER"]

# A worker costs a fork and an event loop (~50 ms); below this many checks each, one
# process is as fast.
MIN_CHECKS_PER_WORKER = 150
# How long the parent keeps reading after Ctrl-C for results the workers already sent.
DRAIN_AFTER_INTERRUPT = 2.0


def worker_count(n_checks: int) -> int:
    from netkit.core.limits import usable_cpus

    if not hasattr(os, "fork"):
        return 1
    return max(1, min(usable_cpus(), n_checks // MIN_CHECKS_PER_WORKER))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _worker(fd, share, concurrency, verbose, render):
    from netkit.check.run import run_many

    def on_result(k, result):
        index = share[k][0]
        text = render(result).encode("utf-8")
        _write_all(fd, b"%d %d %d\n" % (index, int(result.status), len(text)) + text)

    code = 0
    try:
        run_many([spec for _, spec in share], concurrency=concurrency, verbose=verbose, on_result=on_result)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # the parent reports the checks this worker never finished
        code = 70
    os._exit(code)


def run_forked(specs, *, workers: int, concurrency: int, verbose: bool, render, lost, interrupted: list):
    """Yield (index, status, text) as checks finish, in any order.

    ``render(result) -> str`` runs in the workers; ``lost(message) -> str`` renders a
    check whose worker died before finishing it. On Ctrl-C the parent drains what the
    workers already sent and appends True to ``interrupted``.
    """
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    children = {}
    for w in range(workers):
        share = [(i, s) for i, s in enumerate(specs) if i % workers == w]
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_fd)
            for other in children:
                os.close(other)
            _worker(write_fd, share, max(1, concurrency // workers), verbose, render)
        os.close(write_fd)
        children[read_fd] = (pid, {i for i, _ in share})
    finished = False
    try:
        yield from _collect(children, interrupted)
        finished = not interrupted
    finally:
        codes = _reap(children, kill=not finished)
    for fd, (pid, missing) in children.items():
        for index in sorted(missing):
            yield index, int(UNKNOWN), lost(f"internal error: worker {pid} exited with status {codes[fd]} "
                                            f"before this check finished")


def _collect(children, interrupted):
    import time

    selector = selectors.DefaultSelector()
    buffers = {}
    for fd in children:
        selector.register(fd, selectors.EVENT_READ)
        buffers[fd] = b""
    deadline = None
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
                    while True:
                        head, nl, rest = buf.partition(b"\n")
                        if not nl:
                            break
                        index, status, size = (int(x) for x in head.split())
                        if len(rest) < size:
                            break
                        children[fd][1].discard(index)
                        buf = rest[size:]
                        yield index, status, rest[:size].decode("utf-8")
                    buffers[fd] = buf
            except KeyboardInterrupt:
                interrupted.append(True)
                deadline = time.monotonic() + DRAIN_AFTER_INTERRUPT
    finally:
        selector.close()


def _reap(children, kill: bool) -> dict:
    codes = {}
    for fd, (pid, missing) in children.items():
        os.close(fd)
        if kill:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        _, wait_status = os.waitpid(pid, 0)
        codes[fd] = os.waitstatus_to_exitcode(wait_status)
        if kill:
            missing.clear()  # interrupted: the caller says how far it got
    return codes
