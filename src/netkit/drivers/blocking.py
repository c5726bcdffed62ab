"""Run a dialogue on blocking sockets: one check from the command line.

Uses ``_socket`` rather than ``socket``: socket.py spends ~10 ms at import turning its
constants into IntEnums, and a single ``netkit check tcp://`` has a start-up budget of
a few tens of milliseconds. ``socket``/``ssl`` are imported only for a TLS handshake.
"""

import _socket
import _thread
from time import monotonic

from netkit.core.errors import NetkitError, ProtocolError, ResolveError
from netkit.core.target import is_ip_literal, lookup_name
from netkit.drivers._common import (
    HEAD_BYTES,
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
    from collections.abc import Callable
    from typing import Any

__all__ = ["run"]

_FAMILIES = {0: _socket.AF_UNSPEC, 4: _socket.AF_INET, 6: _socket.AF_INET6}
_TYPES = {"tcp": _socket.SOCK_STREAM, "udp": _socket.SOCK_DGRAM}


def _getaddrinfo(host, port, family, socktype, budget):
    """Resolve ``host``; a name lookup runs in a thread so the deadline holds."""
    if is_ip_literal(host):
        return numeric_addrinfo(host, port, family, socktype)
    box = []
    done = _thread.allocate_lock()
    done.acquire()

    def lookup():
        try:
            box.append(_socket.getaddrinfo(lookup_name(host), port, family, socktype))
        except BaseException as exc:  # handed to the waiting thread
            box.append(exc)
        done.release()

    timeout = budget.wait("connect")
    _thread.start_new_thread(lookup, ())
    if not done.acquire(timeout=-1 if timeout is None else max(timeout, 0.001)):
        from netkit.core.errmap import timed_out

        raise timed_out(f"resolving {host!r}", budget.phase, budget.seconds)
    result = box[0]
    if isinstance(result, BaseException):
        from netkit.core.errmap import lookup_error

        raise lookup_error(result, host)
    return result


class _Runner:
    def __init__(self, timeout, transcript):
        self.budget = Budget(timeout, monotonic())
        self.transcript = transcript
        self.timings = Timings()
        self.socks = {}  # channel -> socket
        self.peer = ""
        self.head = b""

    def close_channel(self, channel):
        sock = self.socks.pop(channel, None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def close(self, action: Close | None = None):
        if action is not None:
            self.close_channel(action.channel)
            return
        for channel in list(self.socks):
            self.close_channel(channel)

    def connect(self, action: Connect):
        self.close_channel(action.channel)
        main = action.channel == 0
        t = self.timings
        if main:
            t.dns = t.connect = t.tls = t.firstbyte = None
        start = monotonic()
        infos = _getaddrinfo(action.host, action.port, _FAMILIES[action.family], _TYPES[action.transport],
                             self.budget)
        resolved = monotonic()
        last = None
        for family, socktype, proto, _name, addr in infos:
            sock = _socket.socket(family, socktype, proto)
            peer = where(addr[0], addr[1])
            if main:
                self.peer = peer
            try:
                sock.settimeout(self.budget.wait("connect"))
                sock.connect(addr)
            except OSError as exc:
                sock.close()
                last = self.budget.error(exc, action, peer)
                if isinstance(exc, TimeoutError):
                    raise last from None
                if self.transcript is not None:
                    self.transcript.note(f"{last}")
                continue
            self.socks[action.channel] = sock
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

    def start_tls(self, action: StartTLS):
        import socket  # only TLS pays for these imports

        from netkit.drivers._tls import context_for, tls_info

        params = action.params
        start = monotonic()
        ctx = context_for(params)
        raw = self.socks.pop(action.channel)
        sock = socket.socket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        sock.settimeout(self.budget.wait("connect"))
        try:
            tls = ctx.wrap_socket(sock, server_hostname=params.server_name)
        except BaseException:
            sock.close()
            raise
        self.socks[action.channel] = tls
        info = tls_info(tls, params)
        if action.channel == 0:
            now = monotonic()
            self.timings.tls = now - start
            self.timings.ready(now)
        if self.transcript is not None:
            where_ = "" if action.channel == 0 else f" on data connection {action.channel}"
            self.transcript.note(f"TLS established{where_}: {info.version} {info.cipher}")
        return info

    def send(self, action: Send):
        sock = self.socks[action.channel]
        sock.settimeout(self.budget.wait("read"))
        sock.sendall(action.data)
        if action.channel == 0:
            self.timings.ready(monotonic())
            if self.transcript is not None:
                self.transcript.data(">", action.data if action.shown is None else action.shown)

    def recv(self, action: Recv):
        sock = self.socks[action.channel]
        sock.settimeout(self.budget.wait("read"))
        data = sock.recv(action.size)
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

    def await_(self, action: Await):
        import asyncio

        async def bounded():
            async with asyncio.timeout(self.budget.wait(None)):
                return await action.factory()

        return asyncio.run(bounded())


def run(dialogue, timeout, verbose: bool = False) -> Exchange:
    """Drive ``dialogue`` to its end within ``timeout`` (seconds, the whole exchange, or a
    :class:`~netkit.core.timeout.Timeout`: ``connect`` bounds each connection and
    handshake, ``read`` each wait for the peer).

    Never raises for the peer's sake: what went wrong is the Exchange's ``error`` (see
    :func:`netkit.drivers._common.advance`)."""
    runner = _Runner(timeout, Transcript() if verbose else None)
    start = monotonic()
    outcome = None
    error: NetkitError | None = None
    action = None
    handlers: dict[type, Callable[[Any], Any]] = {Connect: runner.connect, StartTLS: runner.start_tls, Send: runner.send, Recv: runner.recv,
                Close: runner.close, Await: runner.await_}
    try:
        action = advance(dialogue, None, runner.peer)
        while True:
            try:
                result = handlers[type(action)](action)
            except NetkitError:
                raise
            except OSError as exc:  # ssl.SSLError is an OSError
                raise runner.budget.error(exc, action, runner.peer) from None
            except Exception as exc:  # noqa: BLE001 -- e.g. a certificate or a library choking on the peer
                raise ProtocolError(f"{peer_fault(exc, runner.peer)} {doing(action, runner.peer)}") from exc
            action = advance(dialogue, result, runner.peer)
    except StopIteration as stop:
        outcome = stop.value
    except NetkitError as exc:  # a UsageError too: a dialogue's own check of its arguments
        error = exc
        _close(dialogue)
    finally:
        runner.close()
    runner.timings.total = monotonic() - start
    return Exchange(outcome, error, runner.timings, runner.transcript, runner.peer, runner.head)


def _close(dialogue):
    """End a dialogue that failed; its clean-up failing too changes nothing."""
    try:
        dialogue.close()
    except Exception:  # noqa: BLE001, S110 -- the exchange already has its error
        pass
