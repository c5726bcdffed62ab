"""Fixture ``mail_hostile_smtp``: SMTP servers that misbehave, one port per behaviour,
in-process on 127.0.0.1 for the test module. ``.port(name)`` gives the port of:

``banner_refused``   greets with ``554 5.3.2 no service for you``
``banner_garbage``   greets with bytes that are no SMTP reply (NUL, ESC sequences, \\xff)
``endless``          answers EHLO with ``250-`` lines forever (until the client leaves)
``long_line``        answers EHLO with one 1 MiB line without an end
``ehlo_refused``     refuses EHLO and HELO: ``550 5.7.1 go away``
``drop_at_mail``     closes the connection when MAIL comes
``drop_at_data``     takes the data, then closes before the final reply
``escape_reply``     refuses RCPT with a reply holding ESC[2J and a BEL

``.lines(name)`` lists the lines each received (decoded), across connections.
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
# How many "250-" lines the endless server sends at most (a bound for the peer itself).
ENDLESS_LINES = 1_000_000
GARBAGE = b"\x00\x1b[2J\x1b]0;owned\x07\xff\xfe garbage\r\n"


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
    banner = b"220 hostile.test ESMTP\r\n"

    def handle(self):
        try:
            self.say(self.banner)
            self.talk()
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

    def talk(self):
        while (line := self.read_line()) is not None:
            verb = line.split(" ", 1)[0].upper()
            if self.on(verb, line) is False:
                return

    def on(self, verb, line):
        if verb in ("EHLO", "HELO"):
            self.say(b"250-hostile.test\r\n250 8BITMIME\r\n")
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


class _BannerRefused(_Handler):
    name = "banner_refused"
    banner = b"554 5.3.2 no service for you\r\n"


class _BannerGarbage(_Handler):
    name = "banner_garbage"
    banner = GARBAGE


class _Endless(_Handler):
    name = "endless"

    def on(self, verb, line):
        if verb != "EHLO":
            return super().on(verb, line)
        for _ in range(ENDLESS_LINES):
            self.say(b"250-and another extension\r\n")
        return False


class _LongLine(_Handler):
    name = "long_line"

    def on(self, verb, line):
        if verb != "EHLO":
            return super().on(verb, line)
        self.say(b"250-" + b"x" * (1 << 20))
        return False


class _EhloRefused(_Handler):
    name = "ehlo_refused"

    def on(self, verb, line):
        if verb in ("EHLO", "HELO"):
            self.say(b"550 5.7.1 go away\r\n")
            return None
        return super().on(verb, line)


class _DropAtMail(_Handler):
    name = "drop_at_mail"

    def on(self, verb, line):
        if verb == "MAIL":
            return False
        return super().on(verb, line)


class _DropAtData(_Handler):
    name = "drop_at_data"

    def on(self, verb, line):
        if verb == "DATA":
            self.say(b"354 go ahead\r\n")
            while self.read_line() not in (None, "."):
                pass
            return False
        return super().on(verb, line)


class _EscapeReply(_Handler):
    name = "escape_reply"

    def on(self, verb, line):
        if verb == "RCPT":
            self.say(b"550 5.1.1 \x1b[2J\x07 no such user \x1b]0;owned\x07\r\n")
            return None
        return super().on(verb, line)


_HANDLERS = (_BannerRefused, _BannerGarbage, _Endless, _LongLine, _EhloRefused, _DropAtMail, _DropAtData,
             _EscapeReply)


@pytest.fixture(scope="module")
def mail_hostile_smtp() -> Iterator[Peers]:
    peers = Peers()
    with contextlib.ExitStack() as stack:
        for handler in _HANDLERS:
            server = ThreadingServer((HOST, 0), handler)
            server.peers = peers  # type: ignore[attr-defined]
            peers.ports[handler.name] = server.server_address[1]
            stack.enter_context(serve_in_thread(server, f"mail-hostile-{handler.name}"))
        yield peers
