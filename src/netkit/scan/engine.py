"""The connect-scan engine: non-blocking sockets on one epoll loop.

Not asyncio: a probe is one socket, one ``connect``, one readiness event and a close;
a future and a task per port would cost more than the probe. The loop keeps up to
``concurrency`` connects in flight, classifies each answer (connected: open; refused:
closed; silence after the retries: filtered), adapts each host's timeout to the round
trips it measures (RFC 6298's estimator, bounded as nmap -T4 bounds it), backs off on
EMFILE/ENFILE/EADDRNOTAVAIL instead of failing, and never mistakes a loopback
self-connection for an open port.
"""

import _socket
import errno
import heapq
import select
import time

from netkit.scan.model import CLOSED, FILTERED, OPEN, PortResult

__all__ = ["ScanEngine", "DEFAULT_RETRIES", "INITIAL_TIMEOUT", "MIN_TIMEOUT", "MAX_TIMEOUT"]

# Probe timeouts, in seconds, as nmap -T4 bounds them: start at 0.5 s until a host's
# round trip is known, never wait less than 100 ms nor more than 1.25 s for one answer.
INITIAL_TIMEOUT = 0.5
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 1.25
# Probes sent again when unanswered before a port is called filtered (nmap -T4: up to 6,
# adaptively). A try fails when the SYN or its answer is lost: about 4 % with 2 % loss
# each way. Four tries left a false "filtered" in 1 % of 4,000-port scans (2.6e-6 a
# port); six leave 4e-9 a port. A truly filtered port costs six timeouts of its host's
# round trip, all in flight at once with the other ports.
DEFAULT_RETRIES = 5
# Connects in flight at once by default: far below any accept queue or conntrack table,
# far above what a loopback or LAN round trip needs to saturate one core.
DEFAULT_CONCURRENCY = 2048
# After running out of descriptors or ephemeral ports, wait this long before trying again
# with fewer connects in flight.
BACKOFF = 0.05
# Loopback and this machine's own addresses have answered by the time connect() returns:
# a probe asks SO_ERROR at once rather than waiting in epoll (two system calls and a
# deadline fewer per port). A host stops being asked at once when more than this many
# probes, and more than half of them, found no answer yet (a remote host: one cheap call
# wasted per probe until then).
EAGER_MISSES = 32
# Closed ports handed to ``on_closed`` in batches of this many, or at least this often.
CLOSED_BATCH = 8192
CLOSED_EVERY = 0.1
# Probes started in one go before the loop looks at answers, deadlines and stop() again.
_BATCH = 512
# Answers within connect() say little about a round trip: one in this many (+1) is sampled.
_SAMPLE_EVERY = 63

_REFUSED = errno.ECONNREFUSED
_IN_PROGRESS = (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK)
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EADDRNOTAVAIL)
_UNREACHABLE = {errno.EHOSTUNREACH: "host-unreach", errno.ENETUNREACH: "net-unreach",
                errno.EACCES: "admin-prohibited", errno.EPERM: "admin-prohibited"}
_LINGER_RST = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {1, 0}: close with RST, no TIME_WAIT
_SOL_SOCKET, _SO_ERROR = _socket.SOL_SOCKET, _socket.SO_ERROR
_OUT = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP
# Sockets are born non-blocking: one system call fewer per probe than setblocking().
_NONBLOCK = getattr(_socket, "SOCK_NONBLOCK", 0)
_STREAM_NONBLOCK = _socket.SOCK_STREAM | _NONBLOCK


class _Host:
    """Per-host round-trip estimator (RFC 6298) and bookkeeping."""

    __slots__ = ("index", "address", "max_timeout", "family", "srtt", "rttvar", "timeout", "remaining", "first",
                 "eager", "hits", "misses")

    def __init__(self, index, address, remaining, max_timeout=MAX_TIMEOUT, initial_timeout=INITIAL_TIMEOUT):
        self.index = index
        self.address = address
        self.max_timeout = max_timeout
        self.family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
        self.srtt = None
        self.rttvar = None
        self.timeout = min(initial_timeout, max_timeout)
        self.remaining = remaining
        self.first = None  # when its first probe went out
        self.eager = True  # answers arrive within connect(): see EAGER_MISSES
        self.hits = self.misses = 0

    def sample(self, rtt: float, attempt: int):
        if attempt:  # Karn's rule: an answer to a resent probe may answer the first one
            return
        rtt = min(rtt, self.timeout)  # a late answer (the kernel's own SYN resend) says little
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.timeout = min(self.max_timeout, max(MIN_TIMEOUT, self.srtt + 4 * self.rttvar))


def _answered(sock):
    """The connect's outcome if the peer has answered (an errno, 0 for connected), or None
    while the handshake is still waiting."""
    err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
    if err:
        return err
    try:
        sock.getpeername()
    except OSError:
        return None
    return 0


class ScanEngine:
    """Scan ``ports`` of every address in ``hosts``; ``on_result(PortResult)`` is called as
    each port's state is known. ``stop()`` (from a signal handler) ends it early.

    With ``on_closed``, closed ports (most of a full scan) come in batches instead:
    ``on_closed(codes, rtts)``, where each code is ``host index << 16 | port`` (the index
    into ``hosts``) and rtts the matching connect times: no object per closed port.
    """

    def __init__(self, hosts, ports, on_result, *, on_closed=None, concurrency=DEFAULT_CONCURRENCY,
                 retries=DEFAULT_RETRIES, rate=None, max_time=None, max_timeout=MAX_TIMEOUT,
                 initial_timeout=INITIAL_TIMEOUT, host_timeout=None, clock=time.monotonic):
        self.hosts = [_Host(i, address, len(ports), max_timeout, initial_timeout) for i, address in enumerate(hosts)]
        self.ports = list(ports)
        self.on_result = on_result
        self.on_closed = on_closed
        self._closed = None if on_closed is None else []
        self._closed_rtts = []
        self.limit = max(1, concurrency)
        self.retries = retries
        self.rate = rate
        self.max_time = max_time
        self.host_timeout = host_timeout
        self.clock = clock
        self.stopped = False
        self.sent = 0

    def stop(self):
        self.stopped = True

    def _probes(self):
        # Ports outer, hosts inner: every host gets its probes spread over the scan,
        # rather than one host flooded at a time.
        for port in self.ports:
            for host in self.hosts:
                yield host, port

    def run(self):
        poll = select.epoll()
        inflight = {}  # fd -> [sock, host, port, started, attempt]
        deadlines = []  # heap of (deadline, fd, started)
        retry = []  # (host, port, attempt) sent again before new probes
        fresh = self._probes()
        exhausted = False
        started_at = self.clock()
        paused_until = 0.0
        flushed = started_at
        clock = self.clock
        report = self.on_result
        closed = self._closed
        if closed is not None:
            add_closed, add_rtt = closed.append, self._closed_rtts.append
        try:
            while not self.stopped:
                now = clock()
                if self.max_time is not None and now - started_at > self.max_time:
                    break
                # -- start probes up to the limit -------------------------------------------
                budget = _BATCH
                while len(inflight) < self.limit and now >= paused_until:
                    if retry:
                        host, port, attempt = retry.pop()
                    elif not exhausted:
                        try:
                            host, port = next(fresh)
                        except StopIteration:
                            exhausted = True
                            continue
                        attempt = 0
                    else:
                        break
                    if self.host_timeout is not None:
                        if host.first is None:
                            host.first = now
                        elif now - host.first > self.host_timeout:
                            continue  # this host has had its time: its other ports go unscanned
                    if self.rate is not None and self.sent >= self.rate * (now - started_at) + 1:
                        retry.append((host, port, attempt))
                        paused_until = started_at + self.sent / self.rate
                        break
                    try:
                        sock = _socket.socket(host.family, _STREAM_NONBLOCK)
                        if not _NONBLOCK:
                            sock.setblocking(False)
                    except OSError as exc:
                        if exc.errno in _OUT_OF_RESOURCES:
                            retry.append((host, port, attempt))
                            self._back_off(inflight)
                            paused_until = now + BACKOFF
                            break
                        raise
                    self.sent += 1
                    t0 = clock()
                    err = sock.connect_ex((host.address, port))
                    if err in _IN_PROGRESS and host.eager:
                        answer = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
                        if answer == _REFUSED and closed is not None:
                            # The common case of a local full scan, inline: no call, no object.
                            sock.close()
                            now = clock()
                            host.hits += 1
                            if not (attempt or host.hits & _SAMPLE_EVERY):
                                host.sample(now - t0, 0)
                            host.remaining -= 1
                            add_closed(host.index << 16 | port)
                            add_rtt(now - t0)
                            budget -= 1
                            if not budget:
                                break
                            continue
                        if answer:
                            err = answer
                            host.hits += 1
                        else:  # still waiting (or connected: open ports are few)
                            host.misses += 1
                            if host.misses > EAGER_MISSES and host.misses > host.hits:
                                host.eager = False
                    if err in _IN_PROGRESS:
                        fd = sock.fileno()
                        poll.register(fd, _OUT)
                        inflight[fd] = [sock, host, port, t0, attempt]
                        heapq.heappush(deadlines, (t0 + host.timeout, fd, t0))
                        continue
                    if err in _OUT_OF_RESOURCES:
                        sock.close()
                        self.sent -= 1
                        retry.append((host, port, attempt))
                        self._back_off(inflight)
                        paused_until = now + BACKOFF
                        break
                    self._finish(sock, host, port, err, clock() - t0, attempt, retry, report)
                    now = clock()
                    budget -= 1
                    if not budget:
                        break
                if not inflight:
                    if exhausted and not retry:
                        break
                    if now < paused_until:
                        time.sleep(paused_until - now)
                    if closed and (len(closed) >= CLOSED_BATCH or now - flushed >= CLOSED_EVERY):
                        self._flush_closed()
                        flushed = now
                    continue
                # -- wait for answers, up to the next deadline -------------------------------
                wait = max(0.0, min(deadlines[0][0] - now, 0.5)) if deadlines else 0.5
                if now < paused_until:
                    wait = min(wait, paused_until - now)
                for fd, _events in poll.poll(wait, len(inflight)):
                    probe = inflight.pop(fd, None)
                    if probe is None:
                        continue
                    # No unregister: closing the socket takes it out of the epoll set.
                    sock, host, port, t0, attempt = probe
                    err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
                    self._finish(sock, host, port, err, clock() - t0, attempt, retry, report)
                # -- expire the unanswered -------------------------------------------------
                now = clock()
                while deadlines and deadlines[0][0] <= now:
                    _deadline, fd, t0 = heapq.heappop(deadlines)
                    probe = inflight.get(fd)
                    if probe is None or probe[3] != t0:
                        continue  # answered already (the fd may have been reused)
                    del inflight[fd]
                    sock, host, port, _t0, attempt = probe
                    answered = _answered(sock)
                    if answered is not None:  # the answer came; we were slow to read it
                        self._finish(sock, host, port, answered, now - t0, attempt, retry, report)
                        continue
                    sock.close()
                    self._unanswered(host, port, attempt, retry, report)
                if closed and (len(closed) >= CLOSED_BATCH or now - flushed >= CLOSED_EVERY):
                    self._flush_closed()
                    flushed = now
        finally:
            if self._closed:
                self._flush_closed()
            for sock, *_rest in inflight.values():
                sock.close()
            poll.close()

    def _retries_for(self, host) -> int:
        """Resends for an unanswered probe: all of them where the host answers other ports
        (the silence may be loss), one where it has answered nothing yet (a host or a
        firewall that drops everything: more tries only cost time, as nmap also finds)."""
        return self.retries if host.srtt is not None else min(self.retries, 1)

    def _flush_closed(self):
        codes, rtts = self._closed[:], self._closed_rtts[:]
        del self._closed[:], self._closed_rtts[:]
        self.on_closed(codes, rtts)

    def _back_off(self, inflight):
        """Out of descriptors or ephemeral ports: fewer connects in flight from now on."""
        self.limit = max(1, min(self.limit, len(inflight)) * 3 // 4)

    def _finish(self, sock, host, port, err, rtt, attempt, retry, report):
        if err == 0:
            try:
                if sock.getsockname() == sock.getpeername():
                    # A loopback connect to a free port in the ephemeral range can meet
                    # itself (TCP simultaneous open): nothing listens there.
                    err = _REFUSED
            except OSError:
                pass
        if err == _REFUSED:  # nearly every port of a full scan (run() inlines its commonest case)
            sock.close()
            host.sample(rtt, attempt)
            host.remaining -= 1
            if self._closed is None:
                report(PortResult(host.address, port, CLOSED, "conn-refused", rtt))
            else:
                self._closed.append(host.index << 16 | port)
                self._closed_rtts.append(rtt)
        elif err == 0:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, _LINGER_RST)
            sock.close()
            host.sample(rtt, attempt)
            host.remaining -= 1
            report(PortResult(host.address, port, OPEN, "syn-ack", rtt))
        elif err in _UNREACHABLE:
            sock.close()
            host.remaining -= 1
            report(PortResult(host.address, port, FILTERED, _UNREACHABLE[err], rtt))
        else:  # ETIMEDOUT from the kernel, a reset during the handshake...: ask again
            sock.close()
            self._unanswered(host, port, attempt, retry, report)

    def _unanswered(self, host, port, attempt, retry, report):
        """No answer to this try: send it again, or call the port filtered."""
        if attempt < self._retries_for(host):
            retry.append((host, port, attempt + 1))
        else:
            host.remaining -= 1
            report(PortResult(host.address, port, FILTERED, "no-response"))
