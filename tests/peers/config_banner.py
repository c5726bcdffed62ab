"""Fixture ``hostile_banners``: services on 127.0.0.1 whose greetings try to write a
``netkit monitor discover`` config themselves (one port each, for the test module).

``.ssh``   greets ``SSH-2.0-`` + terminal escapes, a U+2028, a CR and a ``[[target]]`` with
           its own url and name, a NUL, then CRLF and a second line of TOML
``.ftp``   greets ``220`` + ``FTP``, quotes, backslashes, ESC sequences and a DEL
``.http``  says nothing; answers any request with ``HTTP/1.1 200`` and a reason phrase full of
           escapes and TOML, then closes
``.junk``  greets with bytes no protocol has (NUL, ESC, invalid UTF-8) and a TOML table header

Every greeting holds ``INJECTED``, the url a config written from them must never have as a
value.
"""

from __future__ import annotations

import contextlib
import socketserver
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
INJECTED = "http://injected.example/"
# A client idle this long is dropped, so no handler thread outlives a test by much.
IDLE_TIMEOUT = 5.0
# The most read of a request before answering it.
MAX_REQUEST = 4096

GREETINGS = {
    "ssh": ("SSH-2.0-Evil\x1b]0;owned\x07\x1b[2J\u2028[[target]]\rurl = \"" + INJECTED + "\"\x00name = \"x\"\r\n"
            "[[target]]\nurl = \"" + INJECTED + "\"\r\n").encode("utf-8"),
    "ftp": ("220 FTP \"quoted\" \\back\\slash \x1b[31mred\x7f\x9b2J url = \"" + INJECTED + "\"\r\n").encode("utf-8"),
    "junk": b"\x00\x1b[2J\xb2\xff\xfe [[target]] url = \"" + INJECTED.encode() + b"\"\r\n",
}
HTTP_REPLY = ("HTTP/1.1 200 \x1b]0;owned\x07\"\\\r[[target]]\nurl = \"" + INJECTED + "\"\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n").encode("utf-8")


@dataclass
class HostileBanners:
    ssh: int
    ftp: int
    http: int
    junk: int
    host: str = HOST


def _greeter(data: bytes):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(IDLE_TIMEOUT)
            with contextlib.suppress(OSError):
                self.request.sendall(data)
                self.request.recv(MAX_REQUEST)   # hold the line until the client is done

    return Handler


class _HttpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(IDLE_TIMEOUT)
        with contextlib.suppress(OSError):
            if self.request.recv(MAX_REQUEST):
                self.request.sendall(HTTP_REPLY)


@pytest.fixture(scope="module")
def hostile_banners() -> Iterator[HostileBanners]:
    servers = {name: ThreadingServer((HOST, 0), _greeter(data)) for name, data in GREETINGS.items()}
    servers["http"] = ThreadingServer((HOST, 0), _HttpHandler)
    with contextlib.ExitStack() as stack:
        for name, server in servers.items():
            stack.enter_context(serve_in_thread(server, f"hostile-banner-{name}"))
        yield HostileBanners(**{name: server.server_address[1] for name, server in servers.items()})
