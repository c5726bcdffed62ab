"""The listening socket every asyncio server of netkit rpc shares: accept, refuse a peer
outside ``--allow`` before a byte is read or a TLS handshake is spent on it (the texts'
``verify_request``), cap open connections, back off when descriptors run out, and hand
the connection (after TLS, if any) to a protocol factory."""

import asyncio
import errno
import ipaddress
import socket

__all__ = ["Listener", "bind_socket"]

# A TLS handshake that takes longer is a client that never finishes it.
HANDSHAKE_SECONDS = 10.0
# Pending connections the kernel queues before accept: bursts of clients, not floods.
BACKLOG = 1024
# Accept errors that mean "out of descriptors or memory for now": wait, do not die.
CAPACITY_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def bind_socket(bind: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket (bound before any worker is forked, so every
    worker accepts on it); OSError when the address cannot be bound."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class Listener:
    """``factory()`` makes each connection's protocol; ``open_count()`` says how many are
    open (the server keeps that count); ``log(label, text)``."""

    def __init__(self, factory, open_count, *, allow, tls=None, max_connections=1024, log=None):
        self.factory = factory
        self.open_count = open_count
        self.allow = tuple(allow)
        self.tls = tls
        self.max_connections = max_connections
        self.log = log or (lambda label, text: None)
        self.sock = None
        self.address = None
        self._accepting = None
        self._handshakes = set()

    def allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in net for net in self.allow)

    def start(self, sock: socket.socket):
        """Accept on the bound ``sock`` (:func:`bind_socket`) in the background."""
        self.sock = sock
        self.address = sock.getsockname()[:2]
        self._accepting = asyncio.get_running_loop().create_task(self._accept())
        return self.address

    async def _accept(self):
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(self.sock)
            except BlockingIOError:  # another worker took it
                continue
            except OSError as exc:
                if exc.errno in CAPACITY_ERRNOS:
                    self.log("rpc", f"accept: {exc.strerror}: pausing 100 ms")
                    await asyncio.sleep(0.1)
                    continue
                raise
            if not self.allowed(peer[0]):
                conn.close()
                self.log("rpc", f"{peer[0]} refused: not in --allow")
                continue
            if self.open_count() + len(self._handshakes) >= self.max_connections:
                conn.close()
                self.log("rpc", f"{peer[0]} refused: {self.max_connections} connections open")
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is None:
                await loop.connect_accepted_socket(self.factory, conn)
            else:
                task = loop.create_task(self._handshake(conn, peer))
                self._handshakes.add(task)
                task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, conn, peer):
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(self.factory, conn, ssl=self.tls,
                                               ssl_handshake_timeout=HANDSHAKE_SECONDS)
        except (TimeoutError, OSError) as exc:
            conn.close()
            self.log("rpc", f"{peer[0]} TLS handshake failed: {exc}")

    def close(self):
        if self._accepting:
            self._accepting.cancel()
        for task in list(self._handshakes):
            task.cancel()
        if self.sock:
            self.sock.close()
