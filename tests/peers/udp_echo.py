"""UDP peers run in-process: an echo server and a port that never answers.

``udp_echo``    (session) 127.0.0.1: replies ``b"echo:" + datagram`` to the sender, like the
                UDP echo server of the source text; ``.host``, ``.port``, ``.received``
                (datagrams seen, in order).
``udp_echo6``   (session) the same on ::1.
``udp_silent``  (function) a bound UDP port on 127.0.0.1 that reads nothing and never replies
                (and, being bound, draws no ICMP port-unreachable either): a timeout peer.
"""

from __future__ import annotations

import socket
import socketserver
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import serve_in_thread

ECHO_PREFIX = b"echo:"
# The largest UDP payload, so no datagram is ever truncated.
MAX_DATAGRAM = 65535


@dataclass
class UdpPeer:
    host: str
    port: int
    received: list[bytes] = field(default_factory=list)


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        self.server.received.append(data)  # type: ignore[attr-defined]
        sock.sendto(ECHO_PREFIX + data, self.client_address)


class _EchoServer(socketserver.UDPServer):
    max_packet_size = MAX_DATAGRAM

    def __init__(self, host: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.received: list[bytes] = []
        super().__init__((host, 0), _EchoHandler)


def _run_echo(host: str) -> Iterator[UdpPeer]:
    server = _EchoServer(host)
    with serve_in_thread(server, f"udp-echo-{host}"):
        yield UdpPeer(host, server.server_address[1], server.received)


@pytest.fixture(scope="session")
def udp_echo() -> Iterator[UdpPeer]:
    """UDP echo on 127.0.0.1: replies ``b"echo:" + datagram``."""
    yield from _run_echo("127.0.0.1")


@pytest.fixture(scope="session")
def udp_echo6() -> Iterator[UdpPeer]:
    """UDP echo on ::1: replies ``b"echo:" + datagram``."""
    yield from _run_echo("::1")


@pytest.fixture
def udp_silent() -> Iterator[UdpPeer]:
    """A bound UDP port on 127.0.0.1 that never replies."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield UdpPeer("127.0.0.1", sock.getsockname()[1])
