"""Run dialogues on asyncio (uvloop when installed): many checks at once.

A TCP connection is made by ``loop.create_connection`` (one step, in C under uvloop) onto
a small receiving protocol, under which ``loop.start_tls`` can put TLS. Name
lookups of the same host that are in flight at the same time share one ``getaddrinfo``
(nothing is cached after it returns: a sweep sees DNS as it is).
"""

import asyncio
import socket
from time import monotonic

from netkit.core.errmap import lookup_error
from netkit.core.errors import NetkitError, ProtocolError, ResolveError
from netkit.core.target import is_ip_literal
from netkit.drivers._common import (
    HEAD_BYTES,
    PHASES,
    Budget,
    Exchange,
    Timings,
    Transcript,
    advance,
    doing,
    numeric_addrinfo,
    peer_fault,
    where,
)
from netkit.proto.actions import Await, Close, Connect, Recv, Send, StartTLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any

__all__ = ["run", "Resolver", "loop_factory"]

_FAMILIES = {0: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}
_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


class Resolver:
    """``getaddrinfo`` with single-flight: concurrent lookups of one key share a future."""

    def __init__(self):
        self._inflight = {}

    async def resolve(self, host, port, family, socktype):
        if is_ip_literal(host):
            return numeric_addrinfo(host, port, family, socktype)
        key = (host, port, family, socktype)
        fut = self._inflight.get(key)
        if fut is None:
            loop = asyncio.get_running_loop()
            fut = asyncio.ensure_future(loop.getaddrinfo(host, port, family=family, type=socktype))
            self._inflight[key] = fut
            fut.add_done_callback(lambda _f: self._inflight.pop(key, None))
        try:
            return await asyncio.shield(fut)
        except OSError as exc:
            raise lookup_error(exc, host) from None


_DEFAULT_RESOLVER = None


def loop_factory():
    """uvloop's event loop when it is installed (2-4x asyncio's throughput), else None:
    asyncio's own loop works, only slower."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _quiet_orphans(loop, context):
    """asyncssh's parallel SFTP readers leave tasks behind when the connection dies; their
    error is the one our own await already raised and reported, so it is not printed again
    (as a "Task exception was never retrieved" traceback)."""
    exc = context.get("exception")
    if isinstance(exc, OSError) or type(exc).__module__.startswith("asyncssh"):
        return
    loop.default_exception_handler(context)


def runner() -> asyncio.Runner:
    """An asyncio.Runner on loop_factory's loop that stays quiet about orphaned tasks of a
    lost SSH connection (see _quiet_orphans)."""
    runner = asyncio.Runner(loop_factory=loop_factory())
    runner.get_loop().set_exception_handler(_quiet_orphans)
    return runner


class _Stream(asyncio.Protocol):
    """The receiving end of one connection: bytes queue up until ``recv`` takes them.

    Leaner than asyncio streams (no StreamReader/StreamWriter pair per connection), and
    it stays the protocol when ``loop.start_tls`` puts TLS under it.
    """

    __slots__ = ("transport", "buffer", "eof", "error", "waiter", "writable")

    def __init__(self):
        self.transport = None
        self.buffer = []
        self.eof = False
        self.error = None
        self.waiter = None
        self.writable = None  # a future while the transport's write buffer is full

    def connection_made(self, transport):
        self.transport = transport

    def _wake(self):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def data_received(self, data):
        self.buffer.append(data)
        self._wake()

    def eof_received(self):
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc):
        self.eof = True
        self.error = exc
        self._wake()
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self):
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self):
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    async def recv(self, size: int) -> bytes:
        while not self.buffer:
            if self.eof:
                if self.error is not None:
                    raise self.error
                return b""
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        data = self.buffer[0]
        if len(data) > size:
            self.buffer[0] = data[size:]
            return data[:size]
        del self.buffer[0]
        return data

    async def send(self, data: bytes):
        if self.error is not None:
            raise self.error
        self.transport.write(data)
        if self.writable is not None:
            await self.writable


class _Datagrams:
    """A connected UDP socket behind the same recv/send/close as a _Stream."""

    __slots__ = ("sock",)

    def __init__(self, sock):
        self.sock = sock

    async def recv(self, size: int) -> bytes:
        return await asyncio.get_running_loop().sock_recv(self.sock, size)

    async def send(self, data: bytes):
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    def abort(self):
        self.sock.close()


class _Runner:
    def __init__(self, timeout, transcript, resolver):
        self.budget = Budget(timeout, monotonic())
        self.transcript = transcript
        self.resolver = resolver
        self.timings = Timings()
        self.channels = {}  # channel -> _Stream or _Datagrams
        self.peer = ""
        self.head = b""

    def close_channel(self, channel):
        conn = self.channels.pop(channel, None)
        if conn is None:
            return
        if isinstance(conn, _Datagrams):
            conn.abort()
        elif conn.transport is not None:
            conn.transport.abort()

    def close(self, action: Close | None = None):
        if action is not None:
            self.close_channel(action.channel)
            return
        for channel in list(self.channels):
            self.close_channel(channel)

    async def close_action(self, action: Close):
        self.close(action)

    async def connect(self, action: Connect):
        self.close_channel(action.channel)
        main = action.channel == 0
        t = self.timings
        if main:
            t.dns = t.connect = t.tls = t.firstbyte = None
        loop = asyncio.get_running_loop()
        start = monotonic()
        infos = await self.resolver.resolve(action.host, action.port, _FAMILIES[action.family],
                                            _TYPES[action.transport])
        resolved = monotonic()
        last = None
        for family, socktype, proto, _name, addr in infos:
            peer = where(addr[0], addr[1])
            if main:
                self.peer = peer
            try:
                if action.transport == "udp":
                    sock = socket.socket(family, socktype, proto)
                    sock.setblocking(False)
                    try:
                        await loop.sock_connect(sock, addr)
                    except BaseException:
                        sock.close()
                        raise
                    conn: _Datagrams | _Stream = _Datagrams(sock)
                else:
                    _transport, conn = await loop.create_connection(
                        _Stream, addr[0], addr[1], family=family, proto=proto)
            except OSError as exc:
                last = self.budget.error(exc, action, peer)
                if self.transcript is not None:
                    self.transcript.note(str(last))
                continue
            self.channels[action.channel] = conn
            now = monotonic()
            if main:
                t.dns = resolved - start
                t.connect = now - resolved
                t.ready(now)
            if self.transcript is not None:
                what = "connected to" if main else f"data connection {action.channel} to"
                self.transcript.note(f"{what} {peer} ({action.transport})")
            return peer
        raise last or ResolveError(f"{action.host!r} has no address to connect to")

    async def start_tls(self, action: StartTLS):
        from netkit.drivers._tls import context_for, tls_info

        params = action.params
        start = monotonic()
        stream = self.channels[action.channel]
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(stream.transport, stream, context_for(params),
                                         server_hostname=params.server_name)
        if transport is None:  # asyncio gives None only when the connection closed meanwhile
            raise ProtocolError(f"the connection closed during the TLS handshake with {self.peer}")
        stream.transport = transport
        info = tls_info(transport.get_extra_info("ssl_object"), params)
        if action.channel == 0:
            now = monotonic()
            self.timings.tls = now - start
            self.timings.ready(now)
        if self.transcript is not None:
            where_ = "" if action.channel == 0 else f" on data connection {action.channel}"
            self.transcript.note(f"TLS established{where_}: {info.version} {info.cipher}")
        return info

    async def send(self, action: Send):
        await self.channels[action.channel].send(action.data)
        if action.channel == 0:
            self.timings.ready(monotonic())
            if self.transcript is not None:
                self.transcript.data(">", action.data if action.shown is None else action.shown)

    async def recv(self, action: Recv):
        data = await self.channels[action.channel].recv(action.size)
        if action.channel != 0:
            return data
        if data:
            self.timings.data(monotonic())
            if len(self.head) < HEAD_BYTES:
                self.head += data[: HEAD_BYTES - len(self.head)]
        if self.transcript is not None:
            if data:
                self.transcript.data("<", data)
            else:
                self.transcript.note(f"{self.peer} closed the connection")
        return data

    async def await_(self, action: Await):
        return await action.factory()


async def run(dialogue, timeout, verbose: bool = False, resolver: Resolver | None = None) -> Exchange:
    """Drive ``dialogue`` to its end within ``timeout`` (seconds, the whole exchange, or a
    :class:`~netkit.core.timeout.Timeout`: ``connect`` bounds each connection and
    handshake, ``read`` each wait for the peer).

    Never raises for the peer's sake: what went wrong is the Exchange's ``error`` (see
    :func:`netkit.drivers._common.advance`)."""
    global _DEFAULT_RESOLVER
    if resolver is None:
        resolver = _DEFAULT_RESOLVER = _DEFAULT_RESOLVER or Resolver()
    runner = _Runner(timeout, Transcript() if verbose else None, resolver)
    handlers: dict[type, Callable[[Any], Awaitable[Any]]] = {Connect: runner.connect, StartTLS: runner.start_tls, Send: runner.send, Recv: runner.recv,
                Close: runner.close_action, Await: runner.await_}
    start = monotonic()
    outcome = None
    error: NetkitError | None = None
    action = None
    budget = runner.budget
    try:
        async with asyncio.timeout(None if budget.deadline is None else budget.deadline - monotonic()):
            action = advance(dialogue, None, runner.peer)
            while True:
                try:
                    result = await _step(handlers[type(action)], action, budget)
                except NetkitError:
                    raise
                except OSError as exc:
                    raise budget.error(exc, action, runner.peer) from None
                except Exception as exc:  # noqa: BLE001 -- e.g. a certificate or a library choking on the peer
                    raise ProtocolError(f"{peer_fault(exc, runner.peer)} {doing(action, runner.peer)}") from exc
                action = advance(dialogue, result, runner.peer)
    except StopIteration as stop:
        outcome = stop.value
    except TimeoutError as exc:  # the total ran out
        budget.phase, budget.seconds = "total", budget.total
        error = budget.error(exc, action, runner.peer)
        _close(dialogue)
    except NetkitError as exc:  # a UsageError too: a dialogue's own check of its arguments
        error = exc
        _close(dialogue)
    finally:
        runner.close()
    runner.timings.total = monotonic() - start
    return Exchange(outcome, error, runner.timings, runner.transcript, runner.peer, runner.head)


async def _step(handler, action, budget):
    """``handler(action)`` within the bound of the action's phase, when it has its own
    (the total is the scope around the whole exchange)."""
    phase = PHASES.get(type(action))
    own = getattr(budget, phase) if phase else None
    if own is None:
        return await handler(action)
    scope = asyncio.timeout(own)
    try:
        async with scope:
            return await handler(action)
    except TimeoutError:
        if scope.expired():
            budget.phase, budget.seconds = phase, own
        raise


def _close(dialogue):
    """End a dialogue that failed; its clean-up failing too changes nothing."""
    try:
        dialogue.close()
    except Exception:  # noqa: BLE001, S110 -- the exchange already has its error
        pass
