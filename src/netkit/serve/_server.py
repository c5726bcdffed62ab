"""The asyncio driver of the services: listening sockets, an accept loop that refuses
before any work (``--allow``, the connection limit), one small ``asyncio.Protocol`` per
connection feeding :mod:`netkit.proto.services` (UDP sockets: :mod:`netkit.serve._udp`),
idle sweeps and graceful stop.

Fast on uvloop because the per-batch path is short: ``data_received`` hands the bytes to
the service, which answers every complete line of the batch with one slice, and the
protocol makes one ``write``. Nothing runs per line for plain echo; idle time is judged by
a sweep every second that compares request counters, not by a timer reset per read.
"""

import asyncio
import errno
import ipaddress
import os
import socket
import stat
import time

from netkit.core.target import bracket
from netkit.proto import services as logic
from netkit.serve import sockopts
from netkit.serve._spec import DEFAULT_GRACE, DEFAULT_HANDSHAKE_TIMEOUT, Service
from netkit.serve._system import Log
from netkit.serve._udp import Datagrams

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from multiprocessing.synchronize import BoundedSemaphore
    from typing import Any

__all__ = ["Server"]

# Connections accepted per wake-up of the listening socket, so one busy listener cannot
# starve the others and the connections already open.
ACCEPT_BATCH = 64
# accept() failing with these means we are out of a resource, not that the listener is
# broken: pause accepting for ACCEPT_BACKOFF seconds and try again (trio does the same).
ACCEPT_CAPACITY_ERRNOS = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS))
ACCEPT_BACKOFF = 0.1
# Connections the kernel queues before we accept them (capped by net.core.somaxconn).
LISTEN_BACKLOG = min(socket.SOMAXCONN, 4096)
# How often idle connections are looked for; the idle timeout is exact to this much.
SWEEP_INTERVAL = 1.0
# Chargen writes this many lines at a time while the client keeps up.
CHARGEN_LINES = 64
# ... and this many blocks before letting other connections run.
CHARGEN_BURST = 4


def _peer_text(addr) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host = addr[0]
        return f"{bracket(host)}:{addr[1]}"
    return "local" if not addr else str(addr)


def _stream_logic(service: Service):
    limits = service.limits
    kind = service.kind
    if kind == "echo":
        return logic.EchoRaw() if service.raw else logic.EchoLines(limits.max_line, service.prefix)
    if kind == "reverse":
        return logic.ReverseLines(limits.max_line)
    return logic.Discard()  # discard; time and chargen ignore what they are sent


class _Connection(asyncio.Protocol):
    __slots__ = ("chargen_line", "feed", "last_requests", "listener", "logic", "opened", "paused", "peer", "reason",
                 "received", "seen", "sent", "transport", "write")

    def __init__(self, listener, peer):
        self.listener = listener
        self.peer = peer
        self.transport = None
        self.logic = _stream_logic(listener.service)
        self.feed = self.logic.feed  # bound once: data_received runs per request
        self.write = None
        self.opened = self.seen = time.monotonic()
        self.received = self.sent = 0
        self.last_requests = 0
        self.paused = False
        self.reason = None
        self.chargen_line = 0

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        self.write = transport.write
        listener = self.listener
        listener.pending -= 1  # counted once: no longer pending, now open
        listener.connections.add(self)
        limits = listener.service.limits
        transport.set_write_buffer_limits(high=limits.max_output, low=limits.max_output // 4)
        listener.log(f"connect {self.peer} ({listener.open_count()}/{limits.max_connections} open)")
        kind = listener.service.kind
        if kind == "time":
            self._write(logic.time_text(time.time(), listener.service.iso))
            transport.close()
        elif kind == "chargen":
            self._produce()

    def data_received(self, data):
        # The per-request path: bound methods kept on the instance, one call into the
        # service for the whole batch of lines, one write (on loopback most of the time
        # goes to that write's send(), which runs the receiver's TCP stack too).
        self.received += len(data)
        try:
            out = self.feed(data)
        except logic.LineTooLong as exc:
            self._close(f"limit: {exc} (--max-line); closed", abort=True)
            return
        except Exception as exc:  # noqa: BLE001 - a peer's bytes fail this connection, never the server
            self._close(f"error: cannot handle what was sent ({type(exc).__name__}); closed", abort=True)
            return
        if out:
            self.sent += len(out)
            self.write(out)
        if self.logic.finished:
            self.reason = "quit"
            self.transport.close()

    def eof_received(self):
        if self.reason is None:
            self.reason = "half-closed by the client"
        end = getattr(self.logic, "end", None)  # a last line without a line end is answered too
        if end is not None:
            out = end()
            if out:
                self.sent += len(out)
                self.write(out)
        return False  # the transport closes once our replies are written

    def pause_writing(self):
        self.paused = True
        transport = self.transport
        if transport.get_write_buffer_size() > 2 * self.listener.service.limits.max_output:
            self._close(f"limit: more than {2 * self.listener.service.limits.max_output} bytes of replies "
                        "unread (--max-output); closed", abort=True)
            return
        try:
            transport.pause_reading()
        except (RuntimeError, AttributeError):
            pass

    def resume_writing(self):
        self.paused = False
        transport = self.transport
        if transport.is_closing():
            return
        try:
            transport.resume_reading()
        except (RuntimeError, AttributeError):
            pass
        if self.listener.service.kind == "chargen":
            self._produce()

    def connection_lost(self, exc):
        listener = self.listener
        listener.connections.discard(self)
        reason = self.reason
        if exc is not None and reason is None:
            reason = "reset by the client" if isinstance(exc, ConnectionResetError) else f"error: {exc}"
        # The slot is free before the line says so: a client that reads "disconnect" and
        # connects at once must find it free, in this worker or another.
        listener.closed()
        listener.log(f"disconnect {self.peer} after {time.monotonic() - self.opened:.1f} s, "
                     f"{self.received} B in, {self.sent} B out" + (f" ({reason})" if reason else ""))

    # -- helpers ----------------------------------------------------------------------

    def _write(self, data: bytes):
        self.sent += len(data)
        self.transport.write(data)

    def _produce(self):
        """Write a few chargen blocks, then yield to the loop: a client that reads as fast
        as we write would otherwise keep us here for ever, serving no one else."""
        transport = self.transport
        if self.paused or transport.is_closing():
            return
        self.logic.requests += 1  # the client is keeping up: not idle
        for _ in range(CHARGEN_BURST):
            self._write(logic.chargen_block(self.chargen_line, CHARGEN_LINES))
            self.chargen_line += CHARGEN_LINES
            if self.paused:
                return
        self.listener.loop.call_soon(self._produce)

    def _close(self, reason: str, abort: bool = False):
        if self.transport is None or self.transport.is_closing():
            return
        self.reason = reason.split(";")[0]
        self.listener.log(f"{reason.split(':')[0]} {self.peer}:{reason.partition(':')[2]}")
        if abort:
            self.transport.abort()
        else:
            self.transport.close()

    def sweep(self, now: float, idle: float):
        requests = self.logic.requests
        if requests != self.last_requests:
            self.last_requests = requests
            self.seen = now
        elif now - self.seen > idle:
            self._close(f"limit: no complete request for {idle:g} s (--idle-timeout); closed")


class _Listener:
    """One bound socket of a service and what is open on it."""

    def __init__(self, server, service: Service, sock, ssl_context):
        self.server = server
        self.service = service
        self.sock = sock
        self.ssl = ssl_context
        self.connections: set[_Connection] = set()
        self.pending = 0  # accepted, TLS handshake in progress
        self.allow = service.allow
        self.datagrams = None
        self.workers = 1  # processes sharing this UDP socket (--workers): each gets its share of the rate
        self.accepting = False
        self.label = service.label
        self._log = server.log
        # With --workers: the connection slots of this socket, a semaphore shared by the
        # worker processes (taken at accept, given back at close), so the limit holds
        # overall whichever worker accepts. None: one process, counted in `connections`.
        self.slots: BoundedSemaphore | None = None
        self.unlink = True  # remove a Unix socket's file at stop (the parent does, with workers)
        # which file we bound: at stop, only that one is removed, never one put there since
        self.socket_file = _identity(service.path) if sock.family == socket.AF_UNIX else None
        self.copies = [sock]  # with --workers: one bound socket per worker (SO_REUSEPORT)
        # where it listens, kept: the parent of --workers closes its copy of the socket
        self.address = service.path if sock.family == socket.AF_UNIX else sock.getsockname()[:2]
        self.where = service.path if sock.family == socket.AF_UNIX else _peer_text(self.address)
        # --sockopt values set on every accepted connection (the bind-time ones are not)
        self.conn_sockopts = [(opt, value) for opt, value in service.sockopts
                              if opt.name not in ("SO_REUSEADDR", "SO_REUSEPORT", "TCP_DEFER_ACCEPT", "TCP_FASTOPEN")]

    def log(self, text):
        self._log(self.label, text)

    def open_count(self) -> int:
        """Connections open on this socket (in every worker, with --workers)."""
        if self.slots is None:
            return len(self.connections)
        return self.service.limits.max_connections - self.slots.get_value()

    def allowed(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.allow)

    # -- accept loop ----------------------------------------------------------------

    def start(self, loop):
        self.loop = loop
        if self.sock.type == socket.SOCK_DGRAM:
            return loop.create_task(self._start_datagrams())
        self.listen()
        self.resume()
        return None

    def listen(self):
        for sock in self.copies:
            if sock.type == socket.SOCK_STREAM:
                sock.listen(LISTEN_BACKLOG)

    async def _start_datagrams(self):
        _t, self.datagrams = await self.loop.create_datagram_endpoint(lambda: Datagrams(self), sock=self.sock)

    def resume(self):
        if not self.accepting and self.sock.fileno() >= 0:
            self.accepting = True
            self.loop.add_reader(self.sock.fileno(), self._accept)

    def pause(self):
        if self.accepting:
            self.accepting = False
            self.loop.remove_reader(self.sock.fileno())

    def _accept(self):
        limit = self.service.limits.max_connections
        slots = self.slots
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in ACCEPT_CAPACITY_ERRNOS:
                    self.log(f"limit: accept failed ({exc.strerror}); pausing {ACCEPT_BACKOFF:g} s")
                    self.pause()
                    self.loop.call_later(ACCEPT_BACKOFF, self.resume)
                    return
                raise
            peer = _peer_text(addr)
            if self.allow and not self.allowed(addr[0]):
                self.log(f"refused {peer}: not in --allow")
                _refuse(conn)
                continue
            if (slots.acquire(False) is False) if slots is not None else \
                    len(self.connections) + self.pending >= limit:
                self.log(f"limit {peer}: {limit} connections open (--max-connections); refused")
                _refuse(conn)
                continue
            self._apply_options(conn)
            self.pending += 1
            self.server.spawn(self._connect(conn, peer))

    async def _connect(self, conn, peer):
        made = []

        def protocol():
            made.append(_Connection(self, peer))
            return made[0]

        try:
            await self.loop.connect_accepted_socket(
                protocol, conn, ssl=self.ssl,
                ssl_handshake_timeout=DEFAULT_HANDSHAKE_TIMEOUT if self.ssl else None)
        except (OSError, asyncio.TimeoutError, ConnectionError) as exc:
            what = "TLS handshake" if self.ssl else "connection"
            self.log(f"error {peer}: {what} failed: {_describe(exc)}")
            conn.close()
        finally:
            if not made or made[0].transport is None:  # connection_made never ran
                self.pending -= 1
                if self.slots is not None:
                    self.slots.release()

    def _apply_options(self, conn):
        conn.setblocking(False)
        if conn.family != socket.AF_UNIX:
            # Replies are small writes after small reads: without this, Nagle's algorithm
            # meets the client's delayed ACK and a 64-byte echo waits 40 ms. --sockopt
            # TCP_NODELAY=0 (applied below) turns it back off.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for opt, value in self.conn_sockopts:
            try:
                sockopts.apply(conn, opt, value)
            except OSError:
                pass

    def closed(self):
        if self.slots is not None:
            self.slots.release()
        self.server.connection_closed()

    def stop_listening(self):
        self.pause()
        if self.datagrams is not None:
            self.datagrams.report(final=True)
            if self.datagrams.transport is not None:
                self.datagrams.transport.close()
        else:
            self.sock.close()
        if self.unlink:
            self.remove_socket_file()

    def remove_socket_file(self):
        """Remove the Unix socket's file if it is still the one we bound."""
        if self.socket_file is not None and _identity(self.service.path) == self.socket_file:
            try:
                os.unlink(self.service.path)
            except OSError:
                pass

    def sweep(self, now):
        idle = self.service.limits.idle_timeout
        for connection in list(self.connections):
            connection.sweep(now, idle)
        if self.datagrams is not None:
            self.datagrams.report()


def _identity(path):
    """(device, inode) of the socket file at ``path``, or None when there is none."""
    try:
        st = os.lstat(path)
    except (OSError, TypeError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISSOCK(st.st_mode) else None


def _refuse(conn):
    """Close an accepted socket we will not serve: a FIN, as SocketServer's
    verify_request does, without reading or writing anything."""
    try:
        conn.close()
    except OSError:
        pass


def _describe(exc) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return f"no handshake within {DEFAULT_HANDSHAKE_TIMEOUT:g} s"
    text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text)


def _bind(service: Service, copies: int = 1):
    """The bound, non-blocking sockets of ``service``: a list per address the name has,
    of ``copies`` TCP sockets bound together with SO_REUSEPORT (one per worker of
    --workers: the kernel spreads new connections evenly over them), or of one socket
    (UDP, Unix: the workers share it)."""
    if service.transport == "unix":
        path = service.path
        assert path is not None  # a unix service always has its path (_spec.Service)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None:
            if not stat.S_ISSOCK(mode):  # never replace a file, directory or link that is there
                raise OSError(errno.EEXIST, "something that is not a socket is there: remove it, or choose "
                                            "another --unix path")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:  # nobody listens: a stale socket of an earlier run
                os.unlink(path)
            else:
                raise OSError(errno.EADDRINUSE, "a server is already listening there")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return [[sock]]
    socktype = socket.SOCK_DGRAM if service.transport == "udp" else socket.SOCK_STREAM
    infos = socket.getaddrinfo(service.bind or None, service.listen_port, socket.AF_UNSPEC, socktype, 0,
                               socket.AI_PASSIVE)
    seen: list[tuple[int, int, int, str, tuple[Any, ...]]] = []
    for info in infos:
        if info[4][:2] not in [s[4][:2] for s in seen]:
            seen.append(info)
    groups: list[list[socket.socket]] = []
    port = service.listen_port
    copies = copies if socktype == socket.SOCK_STREAM else 1
    try:
        for family, type_, proto, _name, addr in seen:
            group: list[socket.socket] = []
            groups.append(group)
            for _ in range(copies):
                sock = socket.socket(family, type_, proto)
                group.append(sock)
                if socktype == socket.SOCK_STREAM:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if copies > 1:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6 and len(seen) > 1:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                for opt, value in service.sockopts:
                    sockopts.apply(sock, opt, value)
                sock.bind((addr[0], port, *addr[2:]))
                port = sock.getsockname()[1]  # port 0: the others take the one the first got
                sock.setblocking(False)
    except OSError:
        for group in groups:
            for sock in group:
                sock.close()
        raise
    return groups


class Server:
    """Several services in one process.

    ``bind()`` opens every socket (do it before dropping privileges), ``start()`` begins
    serving, ``stop(grace)`` stops accepting and gives open connections ``grace`` seconds.
    ``addresses`` lists (label, address) of every bound socket.
    """

    def __init__(self, services: "Iterable[Service]", log: Log | None = None) -> None:
        self.services = list(services)
        self.log = log or Log()
        self.listeners: list[_Listener] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None
        self.tls_notes: list[tuple[str, str]] = []

    # -- set-up ---------------------------------------------------------------------

    def bind(self, copies: int = 1):
        """Make TLS contexts and bind every socket (``copies`` of each TCP one, for as many
        workers). OSError / ValueError on failure, with nothing left open."""
        from netkit.serve._tls import server_context

        try:
            for service in self.services:
                ctx = None
                if service.tls:
                    ctx, note = server_context(service.tls)
                    self.tls_notes.append((service.label, note))
                for group in _bind(service, copies):
                    listener = _Listener(self, service, group[0], ctx)
                    listener.copies = group
                    self.listeners.append(listener)
        except BaseException:
            self.close_sockets()
            self.listeners.clear()
            raise
        return self

    def use_copy(self, index: int):
        """In worker ``index`` (from 0): serve on that copy of each socket, close the rest."""
        for listener in self.listeners:
            if len(listener.copies) > 1:
                listener.sock = listener.copies[index]
                for other in listener.copies:
                    if other is not listener.sock:
                        other.close()
                listener.copies = [listener.sock]

    def close_sockets(self):
        """Close every bound socket (and remove the Unix socket files this process owns:
        set-up that fails after binding leaves nothing behind)."""
        for listener in self.listeners:
            for sock in listener.copies:
                try:
                    sock.close()
                except OSError:
                    pass
            if listener.unlink:
                listener.remove_socket_file()

    @property
    def addresses(self):
        return [(listener.label, listener.address) for listener in self.listeners]

    def share_limits(self, workers: int = 1):
        """Before forking ``workers``: make each socket's connection limit a semaphore the
        workers share, so --max-connections holds overall, not per worker; and give each
        worker its share of a UDP socket's reply rate (the kernel hands a source's datagrams
        to any of them)."""
        import multiprocessing

        context = multiprocessing.get_context("fork")
        for listener in self.listeners:
            if listener.sock.type == socket.SOCK_STREAM:
                listener.slots = context.BoundedSemaphore(listener.service.limits.max_connections)
            else:
                listener.workers = workers

    async def start(self, announce: bool = True):
        """Serve on the bound sockets in the running loop; ``announce`` logs the listening
        lines (a worker of --workers leaves that to the parent, once for all)."""
        if not self.listeners:
            self.bind()
        loop = asyncio.get_running_loop()
        waits = [t for t in (listener.start(loop) for listener in self.listeners) if t]
        if waits:
            await asyncio.gather(*waits)
        if announce:
            self.announce()
        self._sweeper = loop.create_task(self._sweep())
        return self

    def announce(self, workers: int = 1):
        """The log lines saying what listens where, with which limits."""
        for label, note in self.tls_notes:
            self.log(label, f"tls: {note}")
        served_by = f", {workers} workers" if workers > 1 else ""
        for listener in self.listeners:
            limits = listener.service.limits
            allow = f", allow {' '.join(map(str, listener.allow))}" if listener.allow else ""
            if listener.sock.type == socket.SOCK_DGRAM:
                listener.log(f"listening on {listener.where} (replies buffered up to {limits.max_output} B"
                             f"{allow}{served_by})")
                continue
            listener.log(f"listening on {listener.where} (max {limits.max_connections} connections, "
                         f"lines {limits.max_line} B, idle {limits.idle_timeout:g} s, "
                         f"output {limits.max_output} B{allow}{served_by})")

    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _sweep(self):
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            now = time.monotonic()
            for listener in self.listeners:
                listener.sweep(now)

    # -- stop -----------------------------------------------------------------------

    def open_connections(self) -> int:
        return sum(len(listener.connections) + listener.pending for listener in self.listeners)

    def abort_all(self):
        """Close every open connection now (a second signal, or the grace period is over)."""
        for listener in self.listeners:
            for connection in list(listener.connections):
                connection.reason = "server stopping"
                connection.transport.abort()

    def connection_closed(self):
        if self._idle is not None and self.open_connections() == 0:
            self._idle.set()

    async def stop(self, grace: float = DEFAULT_GRACE):
        """Stop accepting; wait up to ``grace`` seconds for open connections to end, then
        close them."""
        for listener in self.listeners:
            listener.stop_listening()
        n = self.open_connections()
        if n:
            self.log("serve", f"stopping: {n} connection{'s' if n != 1 else ''} open, "
                              f"up to {grace:g} s to finish")
            self._idle = asyncio.Event()
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except asyncio.TimeoutError:
                left = self.open_connections()
                self.log("serve", f"grace period over: closing {left} connection{'s' if left != 1 else ''}")
                self.abort_all()
        for task in list(self.tasks):
            task.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        await asyncio.sleep(0)  # let connection_lost callbacks run
