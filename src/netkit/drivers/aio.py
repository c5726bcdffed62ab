"""Run dialogues on asyncio (uvloop when installed): many checks at once.

Each connection is a plain non-blocking socket connected with ``sock_connect`` and then
handed to asyncio streams, so TLS can start on it (``StreamWriter.start_tls``). Name
lookups of the same host that are in flight at the same time share one ``getaddrinfo``
(nothing is cached after it returns: a sweep sees DNS as it is).
"""

import asyncio
import socket
from time import monotonic

from netkit.core.errors import NetError, ResolveError, Timeout
from netkit.core.target import is_ip_literal
from netkit.drivers._common import HEAD_BYTES, numeric_addrinfo, Exchange, Timings, Transcript, doing, map_error, resolve_error, where
from netkit.proto.actions import Connect, Recv, Send, StartTLS

__all__ = ["run", "Resolver"]

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
            raise resolve_error(host, exc) from None


_DEFAULT_RESOLVER = None


class _Runner:
    def __init__(self, timeout, transcript, resolver):
        self.timeout = timeout
        self.transcript = transcript
        self.resolver = resolver
        self.timings = Timings()
        self.reader = self.writer = None
        self.udp = None
        self.peer = ""
        self.head = b""

    def close(self):
        if self.writer is not None:
            self.writer.transport.abort()
            self.writer = self.reader = None
        if self.udp is not None:
            self.udp.close()
            self.udp = None

    async def connect(self, action: Connect):
        self.close()
        t = self.timings
        t.dns = t.connect = t.tls = t.firstbyte = None
        loop = asyncio.get_running_loop()
        start = monotonic()
        infos = await self.resolver.resolve(action.host, action.port, _FAMILIES[action.family],
                                            _TYPES[action.transport])
        resolved = monotonic()
        t.dns = resolved - start
        last = None
        for family, socktype, proto, _name, addr in infos:
            sock = socket.socket(family, socktype, proto)
            sock.setblocking(False)
            self.peer = where(addr[0], addr[1])
            try:
                await loop.sock_connect(sock, addr)
            except OSError as exc:
                sock.close()
                last = map_error(exc, f"connecting to {self.peer}", self.peer, self.timeout)
                if self.transcript is not None:
                    self.transcript.note(str(last))
                continue
            except BaseException:
                sock.close()
                raise
            if action.transport == "udp":
                self.udp = sock
            else:
                self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=2**20)
            now = monotonic()
            t.connect = now - resolved
            t.ready(now)
            if self.transcript is not None:
                self.transcript.note(f"connected to {self.peer} ({action.transport})")
            return self.peer
        raise last or ResolveError(f"{action.host!r} has no address to connect to")

    async def start_tls(self, action: StartTLS):
        from netkit.drivers._tls import context_for, tls_info

        params = action.params
        start = monotonic()
        await self.writer.start_tls(context_for(params), server_hostname=params.server_name)
        now = monotonic()
        self.timings.tls = now - start
        self.timings.ready(now)
        info = tls_info(self.writer.get_extra_info("ssl_object"), params)
        if self.transcript is not None:
            self.transcript.note(f"TLS established: {info.version} {info.cipher}")
        return info

    async def send(self, action: Send):
        if self.udp is not None:
            await asyncio.get_running_loop().sock_sendall(self.udp, action.data)
        else:
            self.writer.write(action.data)
            await self.writer.drain()
        self.timings.ready(monotonic())
        if self.transcript is not None:
            self.transcript.data(">", action.data)

    async def recv(self, action: Recv):
        if self.udp is not None:
            data = await asyncio.get_running_loop().sock_recv(self.udp, action.size)
        else:
            data = await self.reader.read(action.size)
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


async def run(dialogue, timeout: float, verbose: bool = False, resolver: Resolver | None = None) -> Exchange:
    """Drive ``dialogue`` to its end within ``timeout`` seconds; never raises NetError."""
    global _DEFAULT_RESOLVER
    if resolver is None:
        resolver = _DEFAULT_RESOLVER = _DEFAULT_RESOLVER or Resolver()
    runner = _Runner(timeout, Transcript() if verbose else None, resolver)
    handlers = {Connect: runner.connect, StartTLS: runner.start_tls, Send: runner.send, Recv: runner.recv}
    start = monotonic()
    outcome = error = None
    action = None
    try:
        async with asyncio.timeout(timeout):
            action = next(dialogue)
            while True:
                try:
                    result = await handlers[type(action)](action)
                except NetError:
                    raise
                except (OSError, ValueError) as exc:
                    raise map_error(exc, doing(action, runner.peer), runner.peer, timeout) from None
                action = dialogue.send(result)
    except StopIteration as stop:
        outcome = stop.value
    except TimeoutError:
        error = Timeout(f"timeout after {timeout:g} s {doing(action, runner.peer)}")
        dialogue.close()
    except NetError as exc:
        error = exc
        dialogue.close()
    finally:
        runner.close()
    runner.timings.total = monotonic() - start
    return Exchange(outcome, error, runner.timings, runner.transcript, runner.peer, runner.head)
