"""Hostile peers for the client commands (connect, send, dns), in-process on 127.0.0.1.

``answer_and_close``  a factory: ``answer_and_close(reply, wait_for_input=True)`` starts a
                      TCP server that sends ``reply`` to each client and closes *without
                      reading* what it was sent, as the RFC 867 daytime and RFC 868 time
                      services do. With ``wait_for_input`` it first waits until the
                      client's bytes have arrived, so its close (with them unread) is a
                      reset (RST) right after the reply, every time. ``.host``, ``.port``.
``endless_tcp``       a TCP server that sends lines to each client as fast as it can, for
                      ever (until the client goes). ``.host``, ``.port``.
``garbage_dns``       UDP and TCP on one port that answer anything with bytes that are not
                      a DNS message (an HTTP error line holding an OSC title sequence), as a
                      web server or a confused middlebox on port 53 would. ``.host``, ``.port``,
                      ``.queries`` (datagrams and connections seen).
"""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
# How long answer_and_close waits for the client's bytes before answering anyway.
INPUT_WAIT = 5.0
# What garbage_dns answers: not DNS, and an OSC sequence that would retitle a terminal.
GARBAGE = b"HTTP/1.0 400 Bad Request\r\n\x1b]0;owned\x07\r\n"


@dataclass
class ReplyPeer:
    host: str
    port: int


@dataclass
class GarbagePeer:
    host: str
    port: int
    queries: list[str] = field(default_factory=list)


class _AnswerHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock = self.request
        if self.server.wait_for_input:  # type: ignore[attr-defined]
            select.select([sock], [], [], INPUT_WAIT)
        sock.sendall(self.server.reply)  # type: ignore[attr-defined]
        # close() with unread input sends RST instead of FIN (RFC 2525 2.17); closed here,
        # before socketserver's shutdown(SHUT_WR) would send a FIN first
        sock.close()


@pytest.fixture
def answer_and_close():
    """A factory of servers that answer and close without reading (see the module doc)."""
    with contextlib.ExitStack() as stack:

        def start(reply: bytes, wait_for_input: bool = True) -> ReplyPeer:
            server = ThreadingServer((HOST, 0), _AnswerHandler)
            server.reply = reply  # type: ignore[attr-defined]
            server.wait_for_input = wait_for_input  # type: ignore[attr-defined]
            stack.enter_context(serve_in_thread(server, "answer-and-close"))
            return ReplyPeer(HOST, server.server_address[1])

        yield start


class _EndlessHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        line = b"z" * 1000 + b"\n"
        try:
            while True:
                self.request.sendall(line * 64)
        except OSError:  # the client went
            pass


@pytest.fixture
def endless_tcp() -> Iterator[ReplyPeer]:
    """A TCP server that never stops sending."""
    server = ThreadingServer((HOST, 0), _EndlessHandler)
    with serve_in_thread(server, "endless-tcp"):
        yield ReplyPeer(HOST, server.server_address[1])


@pytest.fixture
def garbage_dns() -> Iterator[GarbagePeer]:
    """UDP and TCP 127.0.0.1:PORT answering every query with bytes that are not DNS."""
    tcp = ThreadingServer((HOST, 0), socketserver.BaseRequestHandler)
    port = tcp.server_address[1]
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((HOST, port))
    peer = GarbagePeer(HOST, port)
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            peer.queries.append("tcp")
            self.request.settimeout(INPUT_WAIT)
            try:
                self.request.recv(4096)
                self.request.sendall(GARBAGE)
            except OSError:
                pass

    tcp.RequestHandlerClass = Handler

    def answer_udp() -> None:
        udp.settimeout(0.1)
        while not stop.is_set():
            try:
                _data, addr = udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            peer.queries.append("udp")
            udp.sendto(GARBAGE, addr)

    thread = threading.Thread(target=answer_udp, name="garbage-dns-udp", daemon=True)
    thread.start()
    try:
        with serve_in_thread(tcp, "garbage-dns-tcp"):
            yield peer
    finally:
        stop.set()
        thread.join(5)
        udp.close()
