"""What the hostile mail peers share (mail_hostile_smtp, mail_hostile_box, attack_mail_*):
their bounds, a thread-safe record of what clients sent, a line handler, the SMTP dialogue
their behaviours vary, and the fixture loop that serves one port per behaviour.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections import defaultdict
from collections.abc import Iterator

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
# A client idle this long is dropped, so no handler thread outlives a test by much.
IDLE_TIMEOUT = 10.0
# Longest line read from the client.
MAX_LINE = 65536


class Recorder:
    """The lines clients sent, by name (a behaviour, or a mailbox's user), across connections."""

    def __init__(self):
        self.lock = threading.Lock()
        self._lines = defaultdict(list)

    def record(self, name, line):
        with self.lock:
            self._lines[name].append(line)

    def lines(self, name):
        with self.lock:
            return list(self._lines[name])

    commands = lines  # the mailbox peers' word for it


class SmtpPeers(Recorder):
    """SMTP servers, one port per behaviour: ``.port(name)``, ``.lines(name)``."""

    def __init__(self):
        super().__init__()
        self.ports = {}

    def port(self, name):
        return self.ports[name]


class LineHandler(socketserver.StreamRequestHandler):
    timeout = IDLE_TIMEOUT

    def say(self, data):
        self.wfile.write(data)
        self.wfile.flush()


class SmtpHandler(LineHandler):
    """A plain SMTP dialogue: ``banner``, ``ehlo``, DATA taken, QUIT; 250 to the rest. A
    behaviour overrides :meth:`on` (return False to hang up) or the two replies."""

    name = ""
    banner = b"220 hostile.test ESMTP\r\n"
    ehlo = b"250-hostile.test\r\n250 8BITMIME\r\n"

    def handle(self):
        try:
            self.say(self.banner)
            while (line := self.read_line()) is not None:
                if self.on(line.split(" ", 1)[0].upper(), line) is False:
                    return
        except OSError:
            pass

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


@contextlib.contextmanager
def serving_each(handlers, peers: SmtpPeers, prefix: str) -> Iterator[SmtpPeers]:
    """Every handler on a port of its own (``peers.ports[handler.name]``) until the block ends."""
    with contextlib.ExitStack() as stack:
        for handler in handlers:
            server = ThreadingServer((HOST, 0), handler)
            server.peers = peers  # type: ignore[attr-defined]
            peers.ports[handler.name] = server.server_address[1]
            stack.enter_context(serve_in_thread(server, f"{prefix}-{handler.name}"))
        yield peers
