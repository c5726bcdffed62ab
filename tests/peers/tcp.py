"""TCP peers run in-process (function scope, fresh per test; all on 127.0.0.1).

``silent_tcp``   accepts connections and never sends or closes them until teardown: a
                 timeout peer. ``.host``, ``.port``, ``.accepted()`` (connections so far).
``closed_port``  ``.host``, ``.port`` where nothing listens: a connect is refused (RST). The
                 port stays bound (without listen) for the test, so nobody else takes it.
``banner_tcp``   a line server speaking a tiny SMTP-like dialogue (CRLF line ends)::

                     S: 220 netkit test ready
                     C: HELO x        S: 250 hello x
                     C: QUIT          S: 221 bye   (then the server closes)
                     C: anything else S: 500 unknown command

                 ``.lines`` lists every line received (decoded, without CRLF), across
                 connections, for assertions.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
BANNER = b"220 netkit test ready\r\n"
BYE = b"221 bye\r\n"
UNKNOWN = b"500 unknown command\r\n"
# A banner_tcp client idle this long is dropped, so no handler thread outlives a test by much.
BANNER_IDLE_TIMEOUT = 10.0
# Longest line banner_tcp reads; more is answered as an unknown command.
MAX_LINE = 4096


@dataclass
class TcpPeer:
    host: str
    port: int


@dataclass
class SilentPeer(TcpPeer):
    _server: socketserver.BaseServer | None = field(default=None, repr=False)

    def accepted(self) -> int:
        """How many connections the peer has accepted so far."""
        return self._server.accepted if self._server else 0  # type: ignore[attr-defined]


@dataclass
class BannerPeer(TcpPeer):
    lines: list[str] = field(default_factory=list)


class _ThreadingServer(ThreadingServer):
    def __init__(self, handler: type[socketserver.BaseRequestHandler]) -> None:
        self.stopping = threading.Event()
        self.lines: list[str] = []
        self.accepted = 0
        super().__init__((HOST, 0), handler)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        self.accepted += 1
        super().process_request(request, client_address)


class _SilentHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        # Hold the connection open, saying nothing, until the fixture tears down.
        self.server.stopping.wait()  # type: ignore[attr-defined]


class _BannerHandler(socketserver.StreamRequestHandler):
    timeout = BANNER_IDLE_TIMEOUT

    def handle(self) -> None:
        self.wfile.write(BANNER)
        while True:
            try:
                raw = self.rfile.readline(MAX_LINE)
            except OSError:  # idle timeout, or reset by the client
                return
            if not raw:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            self.server.lines.append(line)  # type: ignore[attr-defined]
            verb, _, arg = line.partition(" ")
            if verb.upper() == "HELO":
                self.wfile.write(f"250 hello {arg}\r\n".encode())
            elif verb.upper() == "QUIT":
                self.wfile.write(BYE)
                return
            else:
                self.wfile.write(UNKNOWN)


@pytest.fixture
def silent_tcp() -> Iterator[SilentPeer]:
    """A TCP peer that accepts and then never sends nor closes."""
    server = _ThreadingServer(_SilentHandler)
    with serve_in_thread(server, "silent-tcp"):
        try:
            yield SilentPeer(HOST, server.server_address[1], server)
        finally:
            server.stopping.set()  # handlers return and their connections close


@pytest.fixture
def closed_port() -> Iterator[TcpPeer]:
    """A port on 127.0.0.1 with nothing listening: connections are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))  # bound, never listening: reserved, and refuses connections
        yield TcpPeer(HOST, sock.getsockname()[1])


@pytest.fixture
def banner_tcp() -> Iterator[BannerPeer]:
    """A line server: 220 banner, HELO -> 250, QUIT -> 221 and close; records lines."""
    server = _ThreadingServer(_BannerHandler)
    with serve_in_thread(server, "banner-tcp"):
        yield BannerPeer(HOST, server.server_address[1], server.lines)
