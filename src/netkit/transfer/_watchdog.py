"""The limits of a transfer that no socket timeout can keep: ``--max-time`` (the whole
transfer, retries included, as curl -m; for mirror the whole run) and ``--speed-limit``/
``--speed-time`` (slower than RATE for SECONDS, as curl -Y/-y), for every scheme.

A socket timeout bounds each wait for data, so a server that sends one byte a second
never trips it. A watchdog thread looks at the transfer's count (the Pacer's ``done``)
a few times a second; when a limit is passed it stops the transfer two ways, so that
the hot loop keeps no poll of its own and stays as fast as it is:

* the Pacer (called for every block moved, whatever the scheme) raises the watchdog's
  error at its next look (at most every ``PROGRESS_EVERY``): data that still flows,
  slowly, or a local copy held by ``--limit-rate``, ends there;
* every connection the transfer shows the watchdog (``watch``) is cut: a socket (or an
  object with ``.sock``: an ``ftplib.FTP``'s control connection, the HTTP connection) is
  shut down, which wakes a blocked recv/splice/sendall at once; an object with ``cut()``
  (an SFTP session on its event loop) is asked to abort itself.

The transfer then raises the watchdog's error instead of what the cut looked like
(:class:`limits`, :func:`guard`).
"""

import threading
from collections import deque
from time import monotonic

from netkit.core.errors import DeadlineError, NetError, SpeedError

__all__ = ["DeadlineError", "SpeedError", "Watchdog", "guard", "watchdog_for"]

# Seconds between two looks at the transfer: a limit is noticed at most this late.
CHECK_EVERY = 0.2
# curl's default for -y when only -Y is given.
DEFAULT_SPEED_TIME = 30.0


def watchdog_for(options, pacer, state):
    """A started Watchdog, or None when no limit is set. The deadline is fixed at the
    first call with ``state`` (which outlives retries, or a mirror's connections); a
    call after it fails at once. ``pacer`` None: no speed is measured until
    :meth:`Watchdog.follow` names one (a mirror's connection between files)."""
    max_time = options.max_time
    limit = options.speed_limit
    if max_time is None and limit is None:
        return None
    deadline = None
    if max_time is not None:
        deadline = state.setdefault("deadline", monotonic() + max_time)
        if monotonic() >= deadline:
            raise DeadlineError(f"--max-time {max_time:g} s passed")
    watch = Watchdog(pacer, deadline, max_time, limit, options.speed_time or DEFAULT_SPEED_TIME)
    watch.start()
    return watch


class guard:
    """``with guard(watchdog):`` -- when the watchdog fired, its error replaces whatever
    the cut connection looked like (an EOF, a reset, a cancelled task, even a short
    success). ``stop=True`` also stops the watchdog on the way out."""

    def __init__(self, watchdog, stop=False):
        self.watchdog = watchdog
        self.stop = stop

    def __enter__(self):
        return self.watchdog

    def __exit__(self, kind, exc, tb):
        watchdog = self.watchdog
        if watchdog is None:
            return False
        if self.stop:
            watchdog.stop()
        error = watchdog.error
        if error is None and kind is not None:
            # A timeout cut short to the deadline (Watchdog.remaining) may end the wait a
            # moment before the watchdog's next look: the deadline is what ended it.
            error = watchdog.passed()
        if error is not None and exc is not error and (kind is None or _replaceable(kind)):
            raise error from None
        return False


def _replaceable(kind) -> bool:
    import sys

    asyncio = sys.modules.get("asyncio")  # a task cancelled by a cut; not imported for http/ftp
    cancelled = (asyncio.CancelledError,) if asyncio is not None else ()
    return issubclass(kind, (OSError, EOFError, NetError, *cancelled))


class Watchdog:
    def __init__(self, pacer=None, deadline=None, max_time=None, speed_limit=None, speed_time=DEFAULT_SPEED_TIME):
        self.pacer = pacer
        self.deadline = deadline
        self.max_time = max_time
        self.speed_limit = speed_limit
        self.speed_time = speed_time
        self.error = None  # the limit that was passed
        self._conns = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._samples = deque()
        self._thread = threading.Thread(target=self._run, name="netkit-watchdog", daemon=True)

    @property
    def expired(self) -> bool:
        """--max-time has passed (nothing more may start)."""
        return isinstance(self.error, DeadlineError) or (self.deadline is not None and monotonic() >= self.deadline)

    def passed(self):
        """The DeadlineError when the deadline has passed (looked at now), else None."""
        if self.deadline is None:
            return None
        with self._lock:
            error = self._check(monotonic(), self._done(), deadline_only=True)
            if error is not None and self.error is None:
                self.error = error
            return self.error

    def remaining(self, timeout: float) -> float:
        """``timeout``, or less when the deadline is nearer (a connect waits at most that)."""
        if self.deadline is None:
            return timeout
        return max(0.001, min(timeout, self.deadline - monotonic()))

    def watch(self, conn):
        """``conn`` is cut when a limit passes: a socket, an object with ``.sock`` (looked
        up at each cut: TLS may replace it), or an object with ``cut()``."""
        with self._lock:
            self._conns.append(conn)
            if self.error is not None:
                _cut(conn)

    def unwatch(self, conn):
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    def follow(self, pacer):
        """Measure the speed of ``pacer``'s transfer from now on (None: of none)."""
        with self._lock:
            self.pacer = pacer
            self._samples.clear()
            self._samples.append((monotonic(), self._done()))
            if pacer is not None and self.error is not None:
                pacer.halt = self.error

    def start(self):
        self._samples.append((monotonic(), self._done()))
        if self.pacer is not None:
            self.pacer.halt = None
        self._thread.start()

    def stop(self):
        self._stop.set()
        with self._lock:
            self._conns = []

    def _done(self) -> int:
        return self.pacer.done if self.pacer is not None else 0

    def _run(self):
        while not self._stop.wait(CHECK_EVERY):
            with self._lock:
                error = self._check(monotonic(), self._done())
                if error is not None and self.error is None:
                    self.error = error
                if self.error is not None:
                    if self.pacer is not None:
                        self.pacer.halt = self.error
                    for conn in self._conns:  # again each look: a TLS wrap may have replaced the socket
                        _cut(conn)

    def _check(self, now, done, deadline_only=False):
        if self.deadline is not None and now >= self.deadline:
            moved = f" ({done} bytes moved)" if self.pacer is not None else ""
            return DeadlineError(f"--max-time {self.max_time:g} s passed{moved}")
        if deadline_only or self.speed_limit is None or self.pacer is None:
            return None
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 2 and now - samples[1][0] >= self.speed_time:
            samples.popleft()  # keep one sample at least speed_time old
        then, before = samples[0]
        if now - then >= self.speed_time:
            rate = (done - before) / (now - then)
            if rate < self.speed_limit:
                return SpeedError(f"slower than --speed-limit {self.speed_limit} B/s for {self.speed_time:g} s "
                                  f"({rate:.0f} B/s)")
        return None


def _cut(conn):
    cut = getattr(conn, "cut", None)
    if cut is not None:
        try:
            cut()
        except Exception:  # noqa: BLE001 - a connection that cannot be cut is ending anyway
            pass
        return
    import _socket

    sock = getattr(conn, "sock", conn)
    try:  # the C method: an SSLSocket's own shutdown() would also drop its TLS state under the reader
        _socket.socket.shutdown(sock, _socket.SHUT_RDWR)
    except (OSError, TypeError, ValueError):
        pass
