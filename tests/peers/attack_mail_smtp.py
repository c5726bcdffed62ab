"""SMTP servers for the red team on ``netkit mail send`` (what
tests/peers/mail_hostile_smtp.py does not try), in-process on 127.0.0.1, one port per
behaviour; ``.lines(name)`` lists every line each received:

``plain_auth``      offers AUTH PLAIN LOGIN and no STARTTLS (as a server behind an attacker
                    who strips STARTTLS does), takes any password
``plain_and_cram``  offers AUTH CRAM-MD5 PLAIN LOGIN, no STARTTLS
``tls_then_plain``  offers STARTTLS, says 220 to it, then talks plain SMTP instead of TLS
``garbage_lines``   answers EHLO with continuation lines of garbage (no code, a bad code,
                    escapes, invalid UTF-8) before its final 250
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
# Longest line read from the client.
MAX_LINE = 65536


class Peers:
    def __init__(self):
        self.ports = {}
        self._lines = defaultdict(list)
        self.lock = threading.Lock()

    def port(self, name):
        return self.ports[name]

    def record(self, name, line):
        with self.lock:
            self._lines[name].append(line)

    def lines(self, name):
        with self.lock:
            return list(self._lines[name])


class _Handler(socketserver.StreamRequestHandler):
    timeout = IDLE_TIMEOUT
    name = ""
    ehlo = b"250-attack.test\r\n250 8BITMIME\r\n"

    def handle(self):
        try:
            self.say(b"220 attack.test ESMTP\r\n")
            while (line := self.read_line()) is not None:
                if self.on(line.split(" ", 1)[0].upper(), line) is False:
                    return
        except OSError:
            pass

    def say(self, data):
        self.wfile.write(data)
        self.wfile.flush()

    def read_line(self):
        raw = self.rfile.readline(MAX_LINE)
        if not raw:
            return None
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        self.server.peers.record(self.name, line)
        return line

    def on(self, verb, line):
        if verb in ("EHLO", "HELO"):
            self.say(self.ehlo)
        elif verb == "AUTH":
            if line.upper().startswith("AUTH CRAM-MD5") or line.upper() == "AUTH LOGIN":
                self.say(b"334 PDEyMzQ1QGF0dGFjay50ZXN0Pg==\r\n")
                if line.upper() == "AUTH LOGIN":
                    self.read_line()
                    self.say(b"334 UGFzc3dvcmQ6\r\n")
                self.read_line()
            self.say(b"235 2.7.0 ok\r\n")
        elif verb == "DATA":
            self.say(b"354 go ahead\r\n")
            while self.read_line() not in (None, "."):
                pass
            self.say(b"250 queued\r\n")
        elif verb == "QUIT":
            self.say(b"221 bye\r\n")
            return False
        else:
            self.say(b"250 ok\r\n")
        return None


class _PlainAuth(_Handler):
    name = "plain_auth"
    ehlo = b"250-attack.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"


class _PlainAndCram(_Handler):
    name = "plain_and_cram"
    ehlo = b"250-attack.test\r\n250-AUTH CRAM-MD5 PLAIN LOGIN\r\n250 8BITMIME\r\n"


class _TlsThenPlain(_Handler):
    name = "tls_then_plain"
    ehlo = b"250-attack.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"

    def on(self, verb, line):
        if verb == "STARTTLS":
            self.say(b"220 go ahead\r\n220 attack.test ESMTP, still in clear\r\n")
            return None
        return super().on(verb, line)


class _GarbageLines(_Handler):
    name = "garbage_lines"
    ehlo = (b"250-attack.test\r\n250-\x1b[2J\x1b]0;owned\x07\r\n2x0-not a code\r\n250-\xff\xfe\x00\r\n"
            b"250 8BITMIME\r\n")


_HANDLERS = (_PlainAuth, _PlainAndCram, _TlsThenPlain, _GarbageLines)


@pytest.fixture(scope="module")
def attack_smtp() -> Iterator[Peers]:
    peers = Peers()
    with contextlib.ExitStack() as stack:
        for handler in _HANDLERS:
            server = ThreadingServer((HOST, 0), handler)
            server.peers = peers  # type: ignore[attr-defined]
            peers.ports[handler.name] = server.server_address[1]
            stack.enter_context(serve_in_thread(server, f"attack-smtp-{handler.name}"))
        yield peers
