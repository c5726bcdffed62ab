"""Fixture ``attack_lines``: line-protocol peers for the red team's sweeps, in-process on
127.0.0.1, one port per behaviour (the attribute names the behaviour, its value the port):

``.smtp``      a good SMTP server (220 greeting, 250 to everything, 221 to QUIT)
``.trickle``   greets ``220 `` and then one byte every TRICKLE_PAUSE s, never a line end
``.endless``   greets ``220 `` and then an endless line as fast as the socket takes it
``.reset``     sends ``220-wait`` and resets the connection (SO_LINGER 0) mid-reply
``.garbage``   bytes no line protocol reads, terminal escapes among them, then silence
``.ansi``      a well-formed SMTP server whose greeting and replies hold ANSI/OSC escapes,
               C1 controls, a Nagios perfdata bar and a bidi override
``.silent``    accepts and says nothing

Handlers end when the client goes away or after IDLE_LIMIT seconds.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Iterator

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
TRICKLE_PAUSE = 0.2
# No handler lives longer than this, so threads do not outlive the session by much.
IDLE_LIMIT = 30.0
HOSTILE_TEXT = "mail \x1b]0;pwned\x07\x1b[2J\x9b31m \u202eevil| rta=0.0s;;;0"
HOSTILE_BYTES = HOSTILE_TEXT.encode("utf-8")
GARBAGE = b"\x1b[2J\x1b]0;owned\x07\x00\xff\xfe\xb2 \x9b1;1H" * 64


def _smtp(sock, greeting: bytes):
    sock.sendall(b"220 " + greeting + b"\r\n")
    f = sock.makefile("rb")
    deadline = time.monotonic() + IDLE_LIMIT
    while time.monotonic() < deadline:
        line = f.readline(65536)
        if not line:
            return
        word = line[:4].upper()
        if word == b"QUIT":
            sock.sendall(b"221 " + greeting + b"\r\n")
            return
        if word == b"EHLO":
            sock.sendall(b"250-" + greeting + b"\r\n250 8BITMIME\r\n")
        else:
            sock.sendall(b"250 " + greeting + b"\r\n")


def _trickle(sock):
    sock.sendall(b"220 ")
    deadline = time.monotonic() + IDLE_LIMIT
    while time.monotonic() < deadline:
        sock.sendall(b"x")
        time.sleep(TRICKLE_PAUSE)


def _endless(sock):
    sock.sendall(b"220 ")
    block = b"a" * 65536
    deadline = time.monotonic() + IDLE_LIMIT
    while time.monotonic() < deadline:
        sock.sendall(block)


def _reset(sock):
    sock.sendall(b"220-wait\r\n")
    time.sleep(0.05)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _garbage(sock):
    sock.sendall(GARBAGE)
    sock.settimeout(IDLE_LIMIT)
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


def _silent(sock):
    sock.settimeout(IDLE_LIMIT)
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


BEHAVIOURS = {
    "smtp": lambda s: _smtp(s, b"good.example ESMTP"),
    "trickle": _trickle,
    "endless": _endless,
    "reset": _reset,
    "garbage": _garbage,
    "ansi": lambda s: _smtp(s, HOSTILE_BYTES),
    "silent": _silent,
}


class AttackLines:
    pass


class _Server(ThreadingServer):
    # A sweep opens 50 connections at once; socketserver's backlog of 5 made the kernel
    # drop handshakes, and good peers looked silent.
    request_queue_size = 256


def _handler(behaviour):
    class Handler:
        def __init__(self, request, client_address, server):
            try:
                behaviour(request)
            except OSError:
                pass

    return Handler


@pytest.fixture(scope="session")
def attack_lines() -> Iterator[AttackLines]:
    peers = AttackLines()
    with contextlib.ExitStack() as stack:
        for name, behaviour in BEHAVIOURS.items():
            server = _Server((HOST, 0), _handler(behaviour))
            stack.enter_context(serve_in_thread(server, f"attack-{name}"))
            setattr(peers, name, server.server_address[1])
        yield peers
