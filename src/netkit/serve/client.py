"""The client side: talk to a TCP, UDP, TLS or Unix socket service from file descriptors
(``netkit connect``) or send one request and collect the reply (``netkit send``).

One thread, one selector: input is read only while what was read before has been sent,
so a big pipe into an echo service cannot deadlock (we keep reading replies while our
writes wait). Plain TCP and Unix sockets are half-closed when input ends, so the server
sees the end and closes after its last reply; TLS (no half-close in Python's ssl) and UDP
(no connection) end when the peer has been quiet for ``wait`` seconds after input ended.
"""

import errno
import os
import selectors
import socket
import ssl

from netkit.core.errors import (
    CertificateError,
    ConnectError,
    ResolveError,
    TimedOut,
    UsageError,
)
from netkit.core.target import bracket, lookup_name
from netkit.core.workers import write_all

__all__ = ["Endpoint", "OutputError", "check_cafile", "open_socket", "talk", "DEFAULT_CONNECT_TIMEOUT", "DEFAULT_WAIT", "MAX_UDP_PAYLOAD_V4",
           "MAX_UDP_PAYLOAD_V6"]

# Connecting (and the TLS handshake) may take this long; check_tcp's default.
DEFAULT_CONNECT_TIMEOUT = 10.0
# After input ends on TLS or UDP, replies are awaited until the peer is quiet this long.
DEFAULT_WAIT = 1.0
# Input read ahead of what the socket has taken: enough to keep a link busy, bounded.
_MAX_PENDING = 256 * 1024
_CHUNK = 65536
# UDP datagrams read ahead of what the socket has taken (each at most _CHUNK bytes).
_MAX_DATAGRAMS = 64
# The largest UDP payload: a 65,535-byte IPv4 packet less its 20-byte header and UDP's 8;
# IPv6's length field counts no IP header, so 65,535 less UDP's 8 (jumbograms aside).
MAX_UDP_PAYLOAD_V4 = 65507
MAX_UDP_PAYLOAD_V6 = 65527


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


def _context(endpoint_or_cafile, insecure: bool = False):
    """The client SSL context: the one builder every command shares (netkit.drivers._tls),
    which makes a missing, unreadable or non-PEM CA file a UsageError."""
    from netkit.drivers._tls import context_for
    from netkit.proto.actions import TLSParams

    return context_for(TLSParams(None, verify=not insecure, cafile=endpoint_or_cafile))


def check_cafile(path: str) -> str:
    """``path`` when it is a readable file of CA certificates; UsageError naming the
    problem otherwise (the user's mistake, found before anything connects, not a failed
    handshake)."""
    _context(path)
    return path


def _tls_wrap(sock, endpoint):
    ctx = _context(endpoint.cafile, endpoint.insecure)
    # A Unix socket has no host name to check: the certificate must name localhost.
    server_name = endpoint.host if endpoint.host and not endpoint.path else "localhost"
    return ctx.wrap_socket(sock, server_hostname=server_name)


def open_socket(endpoint: Endpoint):
    """A connected socket (TLS-wrapped when asked); NetError subclasses on failure
    (:mod:`netkit.core.errmap`). ``endpoint.timeout`` (seconds or a
    :class:`~netkit.core.timeout.Timeout`, whose ``connect`` it takes) bounds the
    connection and the TLS handshake."""
    from netkit.core.errmap import hinted, lookup_error, map_error
    from netkit.core.timeout import seconds as bound

    seconds = bound(endpoint.timeout, "connect")
    try:
        if endpoint.path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if endpoint.transport == "udp"
                                 else socket.SOCK_STREAM)
            sock.settimeout(seconds)
            try:
                sock.connect(endpoint.path)
            except BaseException:
                sock.close()
                raise
        else:
            socktype = socket.SOCK_DGRAM if endpoint.transport == "udp" else socket.SOCK_STREAM
            try:
                infos = socket.getaddrinfo(lookup_name(endpoint.host), endpoint.port, 0, socktype)
            except (socket.gaierror, UnicodeError) as exc:
                raise lookup_error(exc, endpoint.host) from None
            last: OSError | None = None
            found: socket.socket | None = None
            for family, type_, proto, _name, addr in infos:
                candidate = socket.socket(family, type_, proto)
                candidate.settimeout(seconds)
                try:
                    candidate.connect(addr)
                except OSError as exc:
                    candidate.close()
                    last = exc
                    continue
                found = candidate
                break
            if found is None:
                raise last or ResolveError(f"{endpoint.host}: no address to connect to")
            sock = found
            if socktype == socket.SOCK_STREAM:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as exc:
        raise map_error(exc, endpoint.where, "connect", timeout=seconds) from None
    if endpoint.tls:
        try:
            sock = _tls_wrap(sock, endpoint)
        except OSError as exc:  # ssl.SSLError is one
            sock.close()
            error = map_error(exc, endpoint.where, "connect", doing=f"in the TLS handshake with {endpoint.where}",
                              timeout=seconds)
            if isinstance(error, CertificateError):
                error = hinted(error, " (--cafile FILE to trust its CA, or --insecure to skip the check)")
            raise error from None
    return sock


class OutputError(Exception):
    """The replies could not be written where they go (a full disk, a closed output)."""


def _read(source: int) -> bytes | None:
    """A chunk of input; a read error (EIO: the terminal hung up) ends the input."""
    try:
        return os.read(source, _CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


class _Sink:
    """Where replies go: ``fd``, with CRLF shown as LF (``crlf``) and, for a terminal
    (``escape``), control characters shown as ``\\xHH`` (netkit.core.text.for_terminal) so
    a server cannot move the cursor, retitle the window or answer for the user. A CR or a
    UTF-8 character split between two reads waits for the next one; :meth:`end` writes
    what is left, so a last line without a line end is printed too."""

    __slots__ = ("crlf", "decoder", "fd", "held")

    def __init__(self, fd: int, crlf: bool, escape: bool):
        import codecs

        self.fd = fd
        self.crlf = crlf
        self.held = b""  # a CR at the end of a read: is an LF next?
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape") if escape else None

    def write(self, chunk: bytes, final: bool = False) -> None:
        if not self.crlf and self.decoder is None:  # raw: byte for byte, nothing held back
            if chunk:
                self._out(chunk)
            return
        if self.held:
            chunk, self.held = self.held + chunk, b""
        if chunk.endswith(b"\r") and not final:
            chunk, self.held = chunk[:-1], b"\r"
        if self.crlf:
            chunk = chunk.replace(b"\r\n", b"\n")
        if self.decoder is not None:
            from netkit.core.text import for_terminal

            chunk = for_terminal(self.decoder.decode(chunk, final), keep_newlines=True).encode("utf-8",
                                                                                              "surrogateescape")
        if chunk:
            self._out(chunk)

    def _out(self, data: bytes) -> None:
        try:
            write_all(self.fd, data)
        except BrokenPipeError:  # the reader went (| head): the command's exit 141
            raise
        except OSError as exc:
            raise OutputError(f"cannot write the replies to standard output: {exc.strerror or exc}") from None

    def end(self) -> None:
        self.write(b"", final=True)


def _datagram_limit(sock) -> int | None:
    """The largest datagram ``sock`` can send, or None where the kernel decides (Unix)."""
    if sock.family == socket.AF_INET:
        return MAX_UDP_PAYLOAD_V4
    if sock.family == socket.AF_INET6:
        return MAX_UDP_PAYLOAD_V6
    return None


def _too_long(endpoint, size: int, limit: int | None) -> UsageError:
    most = f"{limit:,} bytes over {'IPv4' if limit == MAX_UDP_PAYLOAD_V4 else 'IPv6'}" if limit else \
        "less on this socket"
    return UsageError(f"{endpoint.where}: a datagram of {size:,} bytes is too long for UDP (the most one can carry "
                      f"is {most}); send less at a time")


def talk(sock, endpoint: Endpoint, *, source=None, data: bytes = b"", sink: int = 1, crlf: bool = False,
         wait: float = DEFAULT_WAIT, deadline: float | None = None, escape: bool = False) -> int:
    """Copy ``source`` (a readable fd, or None to send ``data`` once) to ``sock`` and
    ``sock`` to ``sink`` (a writable fd) until either side ends. Returns the bytes
    received. ``deadline`` (monotonic time) ends the exchange with TimedOut if nothing came
    at all, quietly otherwise. ``escape``: show control characters of the replies as
    ``\\xHH`` (for a terminal).

    A source that cannot be watched (a regular file, /dev/null: epoll refuses them) is
    read whenever there is room, without waiting. A server that answers and closes
    without reading all we sent (a daytime or time service) may reset the connection:
    when a reply came, that is the end of the exchange, not a failure."""
    import time

    from netkit.core.errmap import map_error

    udp = endpoint.transport == "udp"
    half_close = not udp and not endpoint.tls
    limit = _datagram_limit(sock) if udp else None
    out = _Sink(sink, crlf, escape)
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sock_fd = sock.fileno()
    pending = b""  # read from the source, not yet sent
    datagrams = []
    watched = False  # the source is in the selector (else it is read without waiting)

    def queue(chunk):  # bytes for the socket: CRLF line ends if asked, one datagram each
        nonlocal pending
        if crlf:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if udp:
            if limit and len(chunk) > limit:
                raise _too_long(endpoint, len(chunk), limit)
            datagrams.append(chunk)
        else:
            pending += chunk

    if source is None:
        queue(data)
        source_open: bool | None = False
    else:
        try:
            sel.register(source, selectors.EVENT_READ)
            watched = True
        except PermissionError:  # a regular file or /dev/null: always readable
            pass
        source_open = True
    gone = False  # the server reset the connection while we were sending
    shut = False
    received = 0
    last_heard: float | None = None
    ended_at = None if source_open else time.monotonic()

    def take(chunk):
        nonlocal source_open, ended_at
        if chunk is None:  # nothing after all (a spurious wake-up)
            return
        if not chunk:
            if watched:
                sel.unregister(source)
            source_open = False
            ended_at = time.monotonic()
            return
        queue(chunk)

    try:
        while True:
            room = len(pending) < _MAX_PENDING and len(datagrams) < _MAX_DATAGRAMS
            if source_open and not watched and room:
                take(_read(source))
                room = len(pending) < _MAX_PENDING and len(datagrams) < _MAX_DATAGRAMS
            # what we want from the socket now
            want = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending or datagrams else 0)
            sel.modify(sock, want)
            if watched:
                if source_open and not room:
                    sel.unregister(source)
                    source_open = None  # paused
                elif source_open is None and room:
                    sel.register(source, selectors.EVENT_READ)
                    source_open = True
            if not source_open and source_open is not None and not pending and not datagrams and not shut:
                shut = True
                if half_close and not gone:
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:  # reset already (ENOTCONN): the reads decide, as above
                        gone = True
            timeout = None
            now = time.monotonic()
            if deadline is not None and now >= deadline and received:
                return received  # a peer that never stops sending does not outlast the deadline
            if source_open and not watched and room:
                timeout = 0.0  # more of the file to read
            elif shut and not half_close:
                timeout = max(0.0, (last_heard or ended_at or now) + wait - now)
            if deadline is not None:
                left = max(0.0, deadline - now)
                timeout = left if timeout is None else min(timeout, left)
            if isinstance(sock, ssl.SSLSocket) and sock.pending():
                events = [(sel.get_key(sock), selectors.EVENT_READ)]
            else:
                events = sel.select(timeout)
            if not events:
                if source_open and not watched and room and (deadline is None or time.monotonic() < deadline):
                    continue
                if deadline is not None and time.monotonic() >= deadline and not received:
                    raise TimedOut(f"{endpoint.where}: no reply within the time allowed", phase="total")
                return received
            for key, mask in events:
                if key.fd == sock_fd:
                    if mask & selectors.EVENT_READ:
                        try:
                            chunk = sock.recv(_CHUNK)
                        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                            chunk = None
                        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):  # the TLS peer went
                            return received
                        except ConnectionResetError as exc:
                            if received:  # it answered, then closed without reading all we sent
                                return received
                            if gone:
                                raise ConnectError(f"{endpoint.where}: the server closed the connection before "
                                                   "taking all input, without a reply") from exc
                            raise map_error(exc, endpoint.where, "read") from None
                        except OSError as exc:  # refused (ICMP port unreachable on UDP), unreachable, TLS
                            raise map_error(exc, endpoint.where, "read") from None
                        if chunk == b"" and not udp:
                            if gone and not received:
                                raise ConnectError(f"{endpoint.where}: the server closed the connection before "
                                                   "taking all input, without a reply")
                            return received  # the server closed
                        if chunk:
                            received += len(chunk)
                            last_heard = time.monotonic()
                            out.write(chunk)
                    if mask & selectors.EVENT_WRITE and not gone:
                        try:
                            if datagrams:
                                sock.send(datagrams[0])
                                datagrams.pop(0)
                            elif pending:
                                n = sock.send(pending[:_CHUNK])
                                pending = pending[n:]
                        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                            pass
                        except (BrokenPipeError, ConnectionResetError):
                            # Gone while we were sending: what it sent before may still be
                            # waiting to be read; the reads above decide how this ends.
                            gone = True
                            pending, datagrams = b"", []
                            if source_open and watched:
                                sel.unregister(source)
                            source_open = False
                        except OSError as exc:
                            if exc.errno == errno.EMSGSIZE:
                                raise _too_long(endpoint, len(datagrams[0]), limit) from None
                            raise map_error(exc, endpoint.where, "read", doing=f"sending to {endpoint.where}") \
                                from None
                else:
                    take(_read(source))
    finally:
        sel.close()
        out.end()
