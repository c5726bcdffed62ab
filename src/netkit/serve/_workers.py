"""``--workers N``: N processes serving the same bound sockets, as nginx does.

The parent binds every socket (so ``--user`` and low ports work as with one process):
N copies of each TCP socket, bound together with SO_REUSEPORT, so the kernel spreads new
connections evenly over the workers (one shared socket wakes them all and the quickest
takes most; nginx's ``reuseport`` for the same reason); UDP and Unix sockets are shared.
Then it drops privileges and forks the N workers before any event loop exists; each runs
its own event loop on its copy. The connection limit of each socket is a semaphore the workers share
(:meth:`Server.share_limits`): it holds overall, whichever worker accepts.

The parent serves nothing. It tells systemd READY=1 once every worker has said it is
serving, logs the listening lines, and waits. Workers do not act on SIGTERM/SIGINT (a
Ctrl-C reaches the whole process group, systemd signals the whole cgroup: each worker
would hear it twice, and the second time means "at once"); the parent relays each signal
through a pipe per worker instead: ``s`` stop gracefully within the grace period, ``k``
close everything now. A worker whose pipe reaches end-of-file (the parent died, even by
SIGKILL) stops gracefully too, so no worker outlives its parent for longer than the grace
period. A worker that dies unexpectedly stops the others and the parent exits 1, so a
supervisor (systemd's Restart=on-failure) starts the whole service again.
"""

import os
import select
import signal
import sys
import time

from netkit.core.workers import FAILED
from netkit.serve._system import sd_notify

__all__ = ["ABORT", "READY", "STOP", "serve_in_workers"]

# Parent -> worker: stop gracefully / close every connection now. Worker -> parent: serving.
STOP, ABORT, READY = b"s", b"k", b"r"
# After the grace period, workers that have not exited within this long are killed.
KILL_AFTER = 5.0
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Worker:
    __slots__ = ("code", "control", "index", "pid", "ready", "status")

    def __init__(self, index, pid, control, status):
        self.index = index
        self.pid = pid
        self.control = control  # write end: STOP / ABORT
        self.status = status  # read end: READY, then end-of-file when it exits
        self.ready = False
        self.code = None

    def tell(self, what: bytes) -> None:
        try:
            os.write(self.control, what)
        except OSError:  # it has exited already
            pass


def serve_in_workers(server, count: int, grace: float, log, serve_one, on_ready=lambda: None) -> int:
    """Fork ``count`` workers, each running ``serve_one(control_fd, ready)`` on ``server``
    (bound, not started; ``ready()`` says it is serving); supervise them until they have
    all exited. 0 when they stopped on a signal, 1 when one failed."""
    server.share_limits(count)
    for listener in server.listeners:
        listener.listen()  # connections queue from now on, while the workers start
        listener.unlink = False
    sys.stdout.flush()
    sys.stderr.flush()
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    previous = {signum: signal.signal(signum, lambda *_: None) for signum in _SIGNALS}
    old_wakeup = signal.set_wakeup_fd(wake_w)
    workers: dict[int, _Worker] = {}
    try:
        # Signals wait while forking: a child must not run the parent's handler.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for index in range(1, count + 1):
                worker = _fork(index, server, log, serve_one, [wake_r, wake_w, *_fds(workers)])
                workers[worker.status] = worker
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        server.close_sockets()  # the workers hold them; when they stop, the port closes
        log("serve", f"{count} workers started (pids {' '.join(str(w.pid) for w in workers.values())})")
        return _supervise(server, workers, grace, log, wake_r, on_ready)
    finally:
        for worker in workers.values():  # only after an error in the parent: none are left
            if worker.code is None:
                _kill(worker)
            os.close(worker.control)
            os.close(worker.status)
        signal.set_wakeup_fd(old_wakeup)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(wake_r)
        os.close(wake_w)
        for listener in server.listeners:
            listener.remove_socket_file()


def _fds(workers):
    for worker in workers.values():
        yield worker.control
        yield worker.status


def _fork(index, server, log, serve_one, parent_fds) -> _Worker:
    control_r, control_w = os.pipe2(os.O_CLOEXEC)
    status_r, status_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the worker
        code = FAILED
        try:
            for signum in _SIGNALS:
                signal.signal(signum, signal.SIG_IGN)
            signal.set_wakeup_fd(-1)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            for fd in (control_w, status_r, *parent_fds):
                os.close(fd)
            log.tag = f" [worker {index}, pid {os.getpid()}]"
            server.use_copy(index - 1)

            def ready():
                os.write(status_w, READY)

            code = serve_one(control_r, ready)
        except BaseException as exc:  # noqa: BLE001 - the parent logs the exit code; say why here
            log("serve", f"error: worker failed: {type(exc).__name__}: {exc}")  # Log never raises
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(control_r)
    os.close(status_w)
    return _Worker(index, pid, control_w, status_r)


def _kill(worker):
    try:
        os.kill(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _, status = os.waitpid(worker.pid, 0)
    worker.code = os.waitstatus_to_exitcode(status)


def _supervise(server, workers: dict, grace: float, log, wake_r: int, on_ready) -> int:
    count = len(workers)
    deadline = None  # once stopping: when the workers left are killed
    failed = False
    alive = dict(workers)

    def stop(why):
        nonlocal deadline
        if deadline is None:
            log("serve", f"{why}: stopping {len(alive)} worker{'s' if len(alive) != 1 else ''}")
            sd_notify("STOPPING=1")
            deadline = time.monotonic() + grace + KILL_AFTER
            for worker in alive.values():
                worker.tell(STOP)
        else:
            log("serve", f"{why} again: closing at once")
            for worker in alive.values():
                worker.tell(ABORT)

    while alive:
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([wake_r, *alive], [], [], timeout)
        if not readable and deadline is not None and time.monotonic() >= deadline:
            for worker in alive.values():
                log("serve", f"worker {worker.index} (pid {worker.pid}) still running "
                             f"{KILL_AFTER:g} s after the grace period: killed")
                _kill(worker)
            failed = True
            break
        for fd in readable:
            if fd == wake_r:
                try:
                    got = os.read(wake_r, 64)
                except BlockingIOError:
                    continue
                for signum in got:
                    stop(signal.Signals(signum).name)
                continue
            worker = alive[fd]
            data = os.read(fd, 64)
            if data:
                if READY in data and not worker.ready:
                    worker.ready = True
                    if all(w.ready for w in workers.values()):
                        server.announce(count)
                        on_ready()
                        sd_notify(f"READY=1\nSTATUS=serving {len(server.listeners)} socket(s) in {count} workers\n"
                                  f"MAINPID={os.getpid()}")
                continue
            del alive[fd]  # end-of-file: it has exited
            _, status = os.waitpid(worker.pid, 0)
            worker.code = os.waitstatus_to_exitcode(status)
            if worker.code != 0 or deadline is None:
                failed = True
                how = f"killed by {signal.Signals(-worker.code).name}" if worker.code < 0 else \
                    f"exit code {worker.code}"
                log("serve", f"error: worker {worker.index} (pid {worker.pid}) ended ({how})")
                if deadline is None and alive:
                    stop("a worker ended")
    log("serve", f"stopped ({count} workers)")
    return 1 if failed else 0
