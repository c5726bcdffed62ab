"""The limits of a transfer that no socket timeout can keep: ``--max-time`` (the whole
transfer, retries included, as curl -m) and ``--speed-limit``/``--speed-time`` (slower
than RATE for SECONDS, as curl -Y/-y).

A socket timeout bounds each wait for data, so a server that sends one byte a second
never trips it. A watchdog thread looks at the transfer's count (the Pacer's ``done``)
a few times a second; when a limit is passed it shuts the connection down, which wakes
the blocked recv/splice at once (no poll in the hot loop, which stays as fast as it is),
and the transfer raises the watchdog's error instead of what the shut socket looked like.
"""

import threading
from collections import deque
from time import monotonic

from netkit.core.errors import Timeout

__all__ = ["DeadlineError", "SpeedError", "Watchdog", "watchdog_for"]

# Seconds between two looks at the transfer: a limit is noticed at most this late.
CHECK_EVERY = 0.2
# curl's default for -y when only -Y is given.
DEFAULT_SPEED_TIME = 30.0


class DeadlineError(Timeout):
    """--max-time passed: no retry, the time is spent."""

    transient = False


class SpeedError(Timeout):
    """Slower than --speed-limit for --speed-time: retried, as curl does."""


def watchdog_for(options, pacer, state):
    """A started Watchdog for one attempt, or None when no limit is set. The deadline is
    fixed at the first attempt (``state`` outlives retries); an attempt that starts after
    it fails at once."""
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


class Watchdog:
    def __init__(self, pacer, deadline=None, max_time=None, speed_limit=None, speed_time=DEFAULT_SPEED_TIME):
        self.pacer = pacer
        self.deadline = deadline
        self.max_time = max_time
        self.speed_limit = speed_limit
        self.speed_time = speed_time
        self.error = None  # the limit that was passed
        self._conn = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._samples = deque()
        self._thread = threading.Thread(target=self._run, name="netkit-watchdog", daemon=True)

    def remaining(self, timeout: float) -> float:
        """``timeout``, or less when the deadline is nearer (a connect waits at most that)."""
        if self.deadline is None:
            return timeout
        return max(0.001, min(timeout, self.deadline - monotonic()))

    def watch(self, conn):
        """``conn`` (with ``.sock``) is the connection to shut when a limit passes."""
        with self._lock:
            self._conn = conn
            if self.error is not None:
                self._shut()

    def unwatch(self, conn):
        with self._lock:
            if self._conn is conn:
                self._conn = None

    def start(self):
        self._samples.append((monotonic(), self._done()))
        self._thread.start()

    def stop(self):
        self._stop.set()
        with self._lock:
            self._conn = None

    def _done(self) -> int:
        return self.pacer.done if self.pacer is not None else 0

    def _run(self):
        while not self._stop.wait(CHECK_EVERY):
            error = self._check(monotonic(), self._done())
            if error is not None:
                with self._lock:
                    if self.error is None:
                        self.error = error
                    self._shut()  # again each look: a TLS wrap may have replaced the socket

    def _check(self, now, done):
        if self.deadline is not None and now >= self.deadline:
            return DeadlineError(f"--max-time {self.max_time:g} s passed ({done} bytes received)")
        if self.speed_limit is None:
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

    def _shut(self):
        conn = self._conn
        if conn is None:
            return
        import _socket

        try:  # the C method: an SSLSocket's own shutdown() would also drop its TLS state under the reader
            _socket.socket.shutdown(conn.sock, _socket.SHUT_RDWR)
        except (OSError, TypeError):
            pass
