"""Fixture ``hostile_checks``: small hostile (and a few good) servers for ``netkit check``,
in-process on 127.0.0.1, one port each, for the test module.

``.bad_http``    answers any request with ``Content-Length: \\xb2`` (a non-ASCII digit)
``.good_http``   answers any request with a plain 200 and ``ok``
``.garbage``     greets with bytes no line protocol can read (NUL, ESC, ``\\xb2\\xb2\\xb2``)
``.echo``        a TCP echo service: every byte back as it came (RFC 862)
``.smtp``        a recording SMTP server: every command accepted (DATA too, a message read
                 to its ``.``)
``.pop3``        a recording POP3 server: every command answered ``+OK`` (STAT ``+OK 2 10``)

``.lines(name)`` lists the lines (decoded, without CRLF) the recording servers received,
across connections; ``.connections(name)`` counts connections per server.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections import defaultdict
from collections.abc import Iterator

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
# A client idle this long is dropped, so no handler thread outlives a test by much.
IDLE_TIMEOUT = 10.0
# Longest line read; a longer one ends the connection.
MAX_LINE = 65536

BAD_HTTP = b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\nConnection: close\r\n\r\nx"
GOOD_HTTP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
GARBAGE = b"\xb2\xb2\xb2 \x00\x1b[2J\x1b]0;owned\x07\xff\xfe\r\n"


class HostilePeers:
    def __init__(self):
        self.ports = {}
        self._lines = defaultdict(list)
        self._connections = defaultdict(int)
        self.lock = threading.Lock()

    def __getattr__(self, name):
        ports = self.__dict__.get("ports", {})
        if name in ports:
            return ports[name]
        raise AttributeError(name)

    def record(self, name, line):
        with self.lock:
            self._lines[name].append(line)

    def connected(self, name):
        with self.lock:
            self._connections[name] += 1

    def lines(self, name) -> list[str]:
        with self.lock:
            return list(self._lines[name])

    def connections(self, name) -> int:
        with self.lock:
            return self._connections[name]


class _Handler(socketserver.StreamRequestHandler):
    timeout = IDLE_TIMEOUT
    name = ""

    @property
    def peers(self) -> HostilePeers:
        return self.server.peers  # type: ignore[attr-defined]

    def handle(self):
        self.peers.connected(self.name)
        try:
            self.talk()
        except OSError:
            pass

    def read_line(self):
        raw = self.rfile.readline(MAX_LINE)
        if not raw:
            return None
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        self.peers.record(self.name, line)
        return line

    def say(self, data: bytes):
        self.wfile.write(data)
        self.wfile.flush()

    def talk(self):  # pragma: no cover - overridden
        raise NotImplementedError


class _Http(_Handler):
    reply = b""

    def talk(self):
        while True:  # the request head, up to its blank line
            line = self.read_line()
            if line is None or line == "":
                break
        self.say(self.reply)


class _BadHttp(_Http):
    name = "bad_http"
    reply = BAD_HTTP


class _GoodHttp(_Http):
    name = "good_http"
    reply = GOOD_HTTP


class _Garbage(_Handler):
    name = "garbage"

    def talk(self):
        self.say(GARBAGE)
        while self.read_line() is not None:
            pass


class _Echo(_Handler):
    name = "echo"

    def talk(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class _Smtp(_Handler):
    name = "smtp"

    def talk(self):
        self.say(b"220 hostile ESMTP\r\n")
        while True:
            line = self.read_line()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.say(b"250-hostile\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 1000000\r\n")
            elif verb == "DATA":
                self.say(b"354 go ahead\r\n")
                while (body := self.read_line()) not in (None, "."):
                    pass
                self.say(b"250 queued\r\n")
            elif verb == "AUTH":
                self.say(b"235 ok\r\n")
            elif verb == "QUIT":
                self.say(b"221 bye\r\n")
                return
            else:
                self.say(b"250 ok\r\n")


class _Pop3(_Handler):
    name = "pop3"

    def talk(self):
        self.say(b"+OK hostile POP3\r\n")
        while True:
            line = self.read_line()
            if line is None:
                return
            verb = line.split(" ", 1)[0].upper()
            if verb == "STAT":
                self.say(b"+OK 2 10\r\n")
            elif verb == "QUIT":
                self.say(b"+OK bye\r\n")
                return
            else:
                self.say(b"+OK\r\n")


_HANDLERS = (_BadHttp, _GoodHttp, _Garbage, _Echo, _Smtp, _Pop3)


@pytest.fixture(scope="module")
def hostile_checks() -> Iterator[HostilePeers]:
    peers = HostilePeers()
    with contextlib.ExitStack() as stack:
        for handler in _HANDLERS:
            server = ThreadingServer((HOST, 0), handler)
            server.peers = peers  # type: ignore[attr-defined]
            peers.ports[handler.name] = server.server_address[1]
            stack.enter_context(serve_in_thread(server, f"hostile-{handler.name}"))
        yield peers
