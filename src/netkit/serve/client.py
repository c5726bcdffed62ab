"""The client side: talk to a TCP, UDP, TLS or Unix socket service from file descriptors
(``netkit connect``) or send one request and collect the reply (``netkit send``).

One thread, one selector: input is read only while what was read before has been sent,
so a big pipe into an echo service cannot deadlock (we keep reading replies while our
writes wait). Plain TCP and Unix sockets are half-closed when input ends, so the server
sees the end and closes after its last reply; TLS (no half-close in Python's ssl) and UDP
(no connection) end when the peer has been quiet for ``wait`` seconds after input ended.
"""

import os
import selectors
import socket
import ssl

from netkit.core.errors import (
    CertificateError,
    ConnectError,
    RefusedError,
    ResolveError,
    Timeout,
    TLSError,
)
from netkit.core.target import bracket, lookup_name
from netkit.core.workers import write_all

__all__ = ["Endpoint", "open_socket", "talk", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_WAIT"]

# Connecting (and the TLS handshake) may take this long; check_tcp's default.
DEFAULT_CONNECT_TIMEOUT = 10.0
# After input ends on TLS or UDP, replies are awaited until the peer is quiet this long.
DEFAULT_WAIT = 1.0
# Input read ahead of what the socket has taken: enough to keep a link busy, bounded.
_MAX_PENDING = 256 * 1024
_CHUNK = 65536


class Endpoint:
    """Where to connect: ``host``/``port`` or ``path`` (Unix), over ``transport`` (tcp,
    udp, unix), with ``tls`` (verify unless ``insecure``; ``cafile`` to trust)."""

    __slots__ = ("host", "port", "path", "transport", "tls", "insecure", "cafile", "timeout")

    def __init__(self, host=None, port=None, *, path=None, transport="tcp", tls=False, insecure=False,
                 cafile=None, timeout=DEFAULT_CONNECT_TIMEOUT):
        self.host, self.port, self.path = host, port, path
        self.transport, self.tls, self.insecure, self.cafile = transport, tls, insecure, cafile
        self.timeout = timeout

    @property
    def where(self) -> str:
        if self.path:
            return self.path
        return f"{bracket(self.host)}:{self.port}"


def _tls_wrap(sock, endpoint):
    ctx = ssl.create_default_context(cafile=endpoint.cafile)
    if endpoint.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    server_name = endpoint.host if endpoint.host and not endpoint.path else None
    try:
        return ctx.wrap_socket(sock, server_hostname=server_name)
    except ssl.SSLCertVerificationError as exc:
        raise CertificateError(f"{endpoint.where}: certificate not trusted: {exc.verify_message} "
                               "(--cafile FILE to trust its CA, or --insecure to skip the check)") from None
    except ssl.SSLError as exc:
        raise TLSError(f"{endpoint.where}: TLS handshake failed: {exc.reason or exc}") from None


def open_socket(endpoint: Endpoint):
    """A connected socket (TLS-wrapped when asked); NetError subclasses on failure."""
    try:
        if endpoint.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if endpoint.transport == "udp"
                                 else socket.SOCK_STREAM)
            sock.settimeout(endpoint.timeout)
            try:
                sock.connect(endpoint.path)
            except BaseException:
                sock.close()
                raise
        else:
            socktype = socket.SOCK_DGRAM if endpoint.transport == "udp" else socket.SOCK_STREAM
            try:
                infos = socket.getaddrinfo(lookup_name(endpoint.host), endpoint.port, 0, socktype)
            except socket.gaierror as exc:
                raise ResolveError(f"{endpoint.host}: cannot resolve ({exc.strerror})") from None
            last = None
            sock = None
            for family, type_, proto, _name, addr in infos:
                candidate = socket.socket(family, type_, proto)
                candidate.settimeout(endpoint.timeout)
                try:
                    candidate.connect(addr)
                except OSError as exc:
                    candidate.close()
                    last = exc
                    continue
                sock = candidate
                break
            if sock is None:
                raise last
            if socktype == socket.SOCK_STREAM:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except ConnectionRefusedError:
        raise RefusedError(f"{endpoint.where}: connection refused (nothing listens there)") from None
    except FileNotFoundError:
        raise ConnectError(f"{endpoint.path}: no such socket") from None
    except socket.timeout:
        raise Timeout(f"{endpoint.where}: no connection within {endpoint.timeout:g} s") from None
    except OSError as exc:
        raise ConnectError(f"{endpoint.where}: cannot connect ({exc.strerror or exc})") from None
    if endpoint.tls:
        try:
            sock = _tls_wrap(sock, endpoint)
        except socket.timeout:
            sock.close()
            raise Timeout(f"{endpoint.where}: no TLS handshake within {endpoint.timeout:g} s") from None
        except OSError as exc:
            sock.close()
            raise ConnectError(f"{endpoint.where}: connection lost in the TLS handshake "
                               f"({exc.strerror or exc})") from None
    return sock


def talk(sock, endpoint: Endpoint, *, source=None, data: bytes = b"", sink: int = 1, crlf: bool = False,
         wait: float = DEFAULT_WAIT, deadline: float | None = None) -> int:
    """Copy ``source`` (a readable fd, or None to send ``data`` once) to ``sock`` and
    ``sock`` to ``sink`` (a writable fd) until either side ends. Returns the bytes
    received. ``deadline`` (monotonic time) ends the exchange with Timeout if nothing came
    at all, quietly otherwise."""
    import time

    udp = endpoint.transport == "udp"
    half_close = not udp and not endpoint.tls
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    pending = b""  # read from the source, not yet sent
    datagrams = []
    if source is None:
        if crlf:
            data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if udp:
            datagrams.append(data)
        else:
            pending = data
        source_open = False
    else:
        sel.register(source, selectors.EVENT_READ)
        source_open = True
    shut = False
    received = 0
    last_heard = None
    ended_at = None if source_open else time.monotonic()
    try:
        while True:
            # what we want from the socket now
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending or datagrams else 0)
            sel.modify(sock, want)
            if source_open:
                if len(pending) >= _MAX_PENDING:
                    sel.unregister(source)
                    source_open = None  # paused
            elif source_open is None and len(pending) < _MAX_PENDING:
                sel.register(source, selectors.EVENT_READ)
                source_open = True
            if not source_open and source_open is not None and not pending and not datagrams and not shut:
                shut = True
                if half_close:
                    sock.shutdown(socket.SHUT_WR)
            timeout = None
            now = time.monotonic()
            if shut and not half_close:
                timeout = max(0.0, (last_heard or ended_at) + wait - now)
            if deadline is not None:
                left = max(0.0, deadline - now)
                timeout = left if timeout is None else min(timeout, left)
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                events = [(sel.get_key(sock), selectors.EVENT_READ)]
            else:
                events = sel.select(timeout)
            if not events:
                if deadline is not None and time.monotonic() >= deadline and not received:
                    raise Timeout(f"{endpoint.where}: no reply within the time allowed")
                return received
            for key, mask in events:
                if key.fileobj is sock:
                    if mask & selectors.EVENT_READ:
                        try:
                            chunk = sock.recv(_CHUNK)
                        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                            chunk = None
                        except ConnectionRefusedError:
                            raise RefusedError(f"{endpoint.where}: nothing answers there (port unreachable)") \
                                from None
                        except ConnectionResetError:
                            raise ConnectError(f"{endpoint.where}: connection reset by the server") from None
                        except ssl.SSLError as exc:
                            if "EOF" in str(exc) or "SHUTDOWN" in str(exc).upper():
                                return received
                            raise TLSError(f"{endpoint.where}: TLS error: {exc.reason or exc}") from None
                        if chunk == b"" and not udp:
                            return received  # the server closed
                        if chunk:
                            received += len(chunk)
                            last_heard = time.monotonic()
                            if crlf:
                                chunk = chunk.replace(b"\r\n", b"\n")
                            write_all(sink, chunk)
                    if mask & selectors.EVENT_WRITE:
                        try:
                            if datagrams:
                                sock.send(datagrams[0])
                                datagrams.pop(0)
                            elif pending:
                                n = sock.send(pending[:_CHUNK])
                                pending = pending[n:]
                        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                            pass
                        except ConnectionRefusedError:
                            raise RefusedError(f"{endpoint.where}: nothing answers there (port unreachable)") \
                                from None
                        except (BrokenPipeError, ConnectionResetError):
                            raise ConnectError(f"{endpoint.where}: the server closed the connection before "
                                               "taking all input") from None
                else:
                    chunk = os.read(source, _CHUNK)
                    if not chunk:
                        sel.unregister(source)
                        source_open = False
                        ended_at = time.monotonic()
                        continue
                    if crlf:
                        chunk = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                    if udp:
                        datagrams.append(chunk)
                    else:
                        pending += chunk
    finally:
        sel.close()

