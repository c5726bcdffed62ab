"""What every transfer shares: options, results, the errors of a transfer, and the pacer
that reports progress, limits the rate and notices cancellation (the ``.part`` file is
:mod:`netkit.transfer._part`).

Errors (beyond :mod:`netkit.core.errors`)::

    NetError
     ├── RemoteError        the server answered with a refusal (404, 550, no such file)
     │    └── HTTPStatusError   an HTTP status >= 400 (``retry_after`` when the server said)
     ├── CutError           the data stopped before its announced end (a ProtocolError)
     ├── TooLargeError      the file is over --max-filesize (announced, or as written)
     └── IntegrityError     the bytes arrived but the checksum does not match
    NetkitError
     ├── LocalError         the local side failed: disk full, permission, not a directory,
     │                      a link where a temporary goes (from :mod:`netkit.core.fs`)
     └── Cancelled          stopped on request (Ctrl-C in another thread)
"""

import os
from time import monotonic, sleep

from netkit.core.errors import (
    Cancelled,
    ConnectError,
    CutError,
    HTTPStatusError,
    IntegrityError,
    NetError,
    RefusedError,
    RemoteError,
    TimedOut,
    TooLargeError,
)
from netkit.core.fs import LocalError, local_error
from netkit.transfer._options import Options

__all__ = [
    "CHECKSUMS",
    "Cancelled",
    "CutError",
    "HTTPStatusError",
    "IntegrityError",
    "LocalError",
    "Options",
    "Pacer",
    "RemoteError",
    "Result",
    "TooLargeError",
    "is_transient",
    "limits",
    "parse_checksum",
    "retrying",
    "utc_seconds",
]

# One read of the fast paths. A megabyte keeps the syscalls per gigabyte near a thousand
# (the Python overhead per read vanishes) and stays far below the memory bar of 100 MiB.
BUFFER_SIZE = 1024 * 1024
# Receive buffer asked of the kernel for downloads; 0 asks nothing. Setting SO_RCVBUF turns
# the kernel's autotuning off and caps the buffer at net.core.rmem_max, while autotuning
# grows it to tcp_rmem's maximum (32 MiB here against 4): as fast or faster in A/B runs.
RCVBUF = 0
# How often progress is reported to the renderer, at most (seconds).
PROGRESS_EVERY = 0.1
# Backoff between retries doubles from --retry-delay up to this (seconds); a server's
# Retry-After is honoured up to the same cap, so a hostile value cannot park us for days.
MAX_BACKOFF = 60.0
CHECKSUMS = ("sha256", "sha1", "md5", "sha512")


def too_large(size, limit, written=False):
    """The TooLargeError of ``size`` bytes against ``limit`` (curl --max-filesize)."""
    from netkit.core.text import format_size

    if written:
        return TooLargeError(f"stopped after {size} bytes written: over --max-filesize {limit} "
                             f"({format_size(limit)}); the file is not kept")
    return TooLargeError(f"the file is {size} bytes ({format_size(size)}), over --max-filesize {limit} "
                         f"({format_size(limit)}); not downloaded")


def is_transient(exc: BaseException) -> bool:
    """Worth another try: timeouts, cut or reset connections, 5xx/429; not refusals,
    404s, bad certificates, checksum mismatches or a full disk."""
    transient = getattr(exc, "transient", None)
    if transient is not None:  # the error knows: an HTTP status, a --max-time that passed
        return transient
    if isinstance(exc, RefusedError):
        return False
    return isinstance(exc, (TimedOut, CutError, ConnectError))


def utc_seconds(year, month, day, hour=0, minute=0, second=0) -> int:
    """POSIX seconds of a UTC date and time in the proleptic Gregorian calendar, by
    Howard Hinnant's days_from_civil. By hand: calendar.timegm imports datetime and locale,
    and email.utils more, which costs more than a small download takes."""
    year -= month <= 2
    era, yoe = divmod(year, 400)
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second


def parse_checksum(text: str) -> tuple[str, str]:
    """``sha256=HEX`` -> (algorithm, hex lower case); ValueError says the form."""
    algo, sep, digest = str(text).partition("=")
    algo = algo.strip().lower()
    digest = digest.strip().lower()
    sizes = {"sha256": 64, "sha1": 40, "md5": 32, "sha512": 128}
    if not sep or algo not in sizes:
        raise ValueError(f"{text!r} is not a checksum; write ALGO=HEX with ALGO one of {', '.join(CHECKSUMS)}")
    if len(digest) != sizes[algo] or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"{text!r}: a {algo} checksum is {sizes[algo]} hexadecimal digits")
    return algo, digest


class Result:
    """What a finished transfer did."""

    __slots__ = (
        "attempts",
        "body",
        "dest",
        "headers",
        "received",
        "restarted",
        "resumed_from",
        "seconds",
        "size",
        "status",
        "url",
    )

    def __init__(self, url: str, dest: "str | os.PathLike[str] | None", size: int = 0, received: int = 0,
                 resumed_from: int = 0, restarted: bool = False, seconds: float = 0.0, attempts: int = 1,
                 status: int | None = None, headers: "list[tuple[str, str]] | None" = None) -> None:
        self.url = url
        self.dest = dest
        self.size = size  # final size of the destination
        self.received = received  # bytes moved over the network this time
        self.resumed_from = resumed_from
        self.restarted = restarted  # a server ignored Range: the file was fetched from zero
        self.seconds = seconds
        self.attempts = attempts
        self.status = status
        self.headers = headers or []
        self.body = b""  # an HTTP upload's response body (up to 64 KiB)

    def __repr__(self):
        return f"Result({self.url!r} -> {self.dest!r}, {self.size} bytes)"


class SharedRate:
    """One ``--limit-rate`` for several transfers at once (mirror's workers): each block
    is given the next free slot of time (a virtual clock that lags now by at most a tenth
    of a second, so idle time does not save up into a burst)."""

    BURST = 0.1

    def __init__(self, rate):
        import threading

        self.rate = rate
        self._lock = threading.Lock()
        self._free_at = monotonic()

    def take(self, n):
        with self._lock:
            now = monotonic()
            self._free_at = max(self._free_at, now - self.BURST) + n / self.rate
            wait = self._free_at - now
        if wait > 0:
            sleep(wait)


class Pacer:
    """Called for every block moved: counts, reports progress at most every 0.1 s, keeps
    to ``--limit-rate`` (its own, or a :class:`SharedRate`), and raises
    :class:`Cancelled` when asked to stop, or ``halt`` when the watchdog set it (a
    --max-time or --speed-limit passed: :mod:`netkit.transfer._watchdog`).

    ``max_size`` (--max-filesize, for every scheme): a ``total`` announced to :meth:`begin`
    over it is refused at once, and the block that takes ``done`` past it raises
    :class:`TooLargeError` (one comparison per block: the fast paths already call here)."""

    __slots__ = ("_base", "_next", "_start", "cancel", "done", "halt", "max_size", "rate", "report", "shared",
                 "total")

    def __init__(self, report=None, rate=None, cancel=None, shared=None, max_size=None):
        self.max_size = max_size
        self.done = 0
        self.total = None
        self.report = report  # report(done, total) or None
        self.shared = shared
        self.rate = shared.rate if shared is not None else rate
        self.cancel = cancel
        self.halt = None
        self._next = 0.0
        self._start = monotonic()
        self._base = 0

    def begin(self, done, total):
        self.announce(total)
        self.done = done
        self.total = total
        self._start = monotonic()
        self._base = done
        if self.report is not None:
            self.report(done, total)

    def announce(self, total):
        """TooLargeError when the size the peer announced is over --max-filesize."""
        if self.max_size is not None and total is not None and total > self.max_size:
            raise too_large(total, self.max_size)

    def __call__(self, n):
        self.done += n
        if self.max_size is not None and self.done > self.max_size:
            raise too_large(self.done, self.max_size, written=True)
        if self.shared is not None:
            self.shared.take(n)
        now = monotonic()
        if self.rate and self.shared is None:
            ahead = (self.done - self._base) / self.rate - (now - self._start)
            if ahead > 0:
                sleep(ahead)
                now = monotonic()
        if now >= self._next:
            self._next = now + PROGRESS_EVERY
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("cancelled")
            if self.halt is not None:
                raise self.halt
            if self.report is not None:
                self.report(self.done, self.total)

    def block_size(self, default=BUFFER_SIZE) -> int:
        """A read size that keeps a rate limit smooth (a tenth of a second of data)."""
        if self.rate:
            return max(1024, min(default, int(self.rate / 10)))
        return default

    def finish(self):
        if self.report is not None:
            self.report(self.done, self.total, True)


def run_workers(count, work, cancel, here=None):
    """``work`` in ``count`` daemon threads (and ``here()`` in the calling thread) until all
    return (the transfers block in the kernel, not in Python). Ctrl-C, or any exception in
    the calling thread, sets ``cancel`` (every Pacer sharing it raises Cancelled at its next
    block), gives the threads 5 s to stop, and re-raises."""
    import threading

    threads = [threading.Thread(target=work, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    try:
        if here is not None:
            here()
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except BaseException:
        cancel.set()
        for t in threads:
            t.join(5)
        raise


class limits:
    """``with limits(options, pacer, state) as watchdog``: the --max-time/--speed-limit
    watchdog of one attempt (None without them: nothing is imported); when it fired, its
    error replaces whatever the cut connection looked like. ``state`` outlives the
    retries (it holds the deadline)."""

    __slots__ = ("options", "pacer", "state", "watchdog")

    def __init__(self, options, pacer, state):
        self.options, self.pacer, self.state = options, pacer, state
        self.watchdog = None

    def __enter__(self):
        if self.options.max_time is not None or self.options.speed_limit is not None:
            from netkit.transfer._watchdog import watchdog_for

            self.watchdog = watchdog_for(self.options, self.pacer, self.state)
        return self.watchdog

    def __exit__(self, kind, exc, tb):
        if self.watchdog is None:
            return False
        from netkit.transfer._watchdog import guard

        return guard(self.watchdog, stop=True).__exit__(kind, exc, tb)


def backoff(options, attempt, exc=None) -> float:
    """Seconds to wait before try ``attempt + 1``: doubling from ``retry_delay``, or the
    server's Retry-After, at most MAX_BACKOFF."""
    delay = getattr(exc, "retry_after", None)
    if delay is None:
        delay = options.retry_delay * 2 ** (attempt - 1)
    return min(delay, MAX_BACKOFF)


def retry_delay(options, attempt, exc, state=None) -> float:
    """Seconds to wait before try ``attempt + 1`` (:func:`backoff`); DeadlineError, with
    ``exc``'s words, when that wait would pass --max-time's deadline (kept in ``state``):
    the next try could not start, so none is waited for."""
    delay = backoff(options, attempt, exc)
    deadline = state.get("deadline") if state else None
    if deadline is not None and monotonic() + delay >= deadline:
        from netkit.transfer._watchdog import DeadlineError

        raise DeadlineError(f"{exc}; not retried: its wait of {delay:g} s would pass --max-time "
                            f"{options.max_time:g} s") from None
    return delay


def retrying(once, options, on_retry=None, state=None):
    """Run ``once(attempt)`` until it succeeds, a permanent error, or the retries run out.
    Backoff doubles from ``retry_delay``; an HTTP Retry-After wins when the server said;
    no wait passes --max-time (``state`` holds its deadline)."""
    attempt = 1
    while True:
        try:
            return once(attempt)
        except NetError as exc:
            if attempt > options.retries or not is_transient(exc):
                raise
            delay = retry_delay(options, attempt, exc, state)
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            if options.cancel is None:
                sleep(delay)
            elif options.cancel.wait(delay):
                raise Cancelled("cancelled") from None
            attempt += 1


# --- the hot loop ------------------------------------------------------------------------

# Bytes a pipe may hold for splice(); Linux lets root (and anyone up to pipe-max-size,
# 1 MiB by default) grow a pipe to this, which moves a megabyte per pair of calls.
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = 1031


class _NoSplice(Exception):
    """splice() cannot be used for this pair of descriptors; ``moved`` bytes already were."""

    def __init__(self, moved):
        self.moved = moved


def receive(sock, part, pacer, limit=None, timeout=None) -> int:
    """Move the data of a connected socket into ``part`` until EOF or ``limit`` bytes;
    returns the bytes moved (fewer than ``limit`` means the peer closed early).

    Plain sockets without a checksum to compute go through ``splice()``: socket -> pipe ->
    file inside the kernel, no copy through Python (the data never needs to be seen). TLS
    sockets, checksums, and files that refuse splice read with ``recv_into`` into one
    preallocated buffer, filled before each write (one write per MiB, not per segment).
    """
    moved = 0
    if part.hasher is None and hasattr(os, "splice") and type(sock).__name__ == "socket":
        try:
            return _splice(sock, part, pacer, limit, timeout)
        except _NoSplice as stop:
            moved = stop.moved
            if limit is not None:
                limit -= moved
    if timeout is not None:
        sock.settimeout(timeout)
    return moved + _fill(sock, part, pacer, limit)


def _fill(sock, part, pacer, limit):
    size = pacer.block_size()
    buf = bytearray(size)
    view = memoryview(buf)
    recv_into = sock.recv_into
    write = part.write
    moved = filled = 0
    left = -1 if limit is None else limit
    try:
        while left:
            want = size - filled
            if 0 < left < want:
                want = left
            n = recv_into(view[filled:], want)
            if not n:
                break
            filled += n
            moved += n
            if left > 0:
                left -= n
            if filled == size or not left or pacer.rate:
                write(view[:filled])
                n, filled = filled, 0  # written before pacer() may raise (the finally must not write it again)
                pacer(n)
    finally:
        if filled:
            write(view[:filled])
            pacer(filled)
    return moved


def _splice(sock, part, pacer, limit, timeout):
    import _socket
    import errno
    import fcntl
    import struct

    splice = os.splice
    r, w = os.pipe()
    moved = 0
    try:
        try:
            fcntl.fcntl(w, _F_SETPIPE_SZ, PIPE_SIZE)
            chunk = PIPE_SIZE
        except OSError:
            chunk = 65536
        chunk = pacer.block_size(chunk)
        sock.settimeout(None)  # blocking, so that splice waits; the idle timeout is SO_RCVTIMEO
        if timeout:
            sec = int(timeout)
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_RCVTIMEO, struct.pack("ll", sec, int((timeout - sec) * 1e6)))
        src, dst = sock.fileno(), part.fd
        left = -1 if limit is None else limit
        while left:
            want = chunk if left < 0 or left > chunk else left
            try:
                n = splice(src, w, want)
            except BlockingIOError:
                raise TimeoutError from None
            except OSError as exc:
                if exc.errno in (errno.EINVAL, errno.ENOSYS) and moved == 0:
                    raise _NoSplice(0) from None
                raise
            if not n:
                break
            pending = n
            try:
                while pending:
                    pending -= splice(r, dst, pending)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS):
                    raise local_error(exc, f"writing {part.part or part.dest}") from None
                data = os.read(r, pending)  # the file refuses splice: finish by hand
                part.write(data)
                part.offset -= len(data)  # counted below with the rest of n
                moved += n
                part.offset += n
                pacer(n)
                raise _NoSplice(moved) from None
            moved += n
            part.offset += n
            if left > 0:
                left -= n
            pacer(n)
    finally:
        os.close(r)
        os.close(w)
    return moved
