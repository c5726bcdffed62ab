"""Session fixtures ``hostile_http`` and ``hostile_http_other``: two HTTP/1.1 servers on
loopback (two origins: same host, different ports) that record every request and answer
as an attacker would. ``KEY`` is any token a test chooses, to find its own requests.

``/ok/KEY``                 200, ``ok\\n``, with a ``Set-Cookie: session=SECRET-COOKIE``
``/redirect/CODE/KEY?to=URL``  CODE (301, 302, 303, 307, 308) with ``Location: URL``
                            (URL percent-decoded from the query)
``/bad-length``             ``Content-Length: \\xb2`` (a digit to ``str.isdigit``, not to int())
``/c1``                     a reason phrase and a header value holding C1 controls
                            (``\\x9b`` is CSI to a terminal) and bytes 0x80-0xff
``/bad-gzip``               ``Content-Encoding: gzip`` and a body that is not gzip
``/trickle``                Content-Length 1000, then one byte every TRICKLE_PAUSE seconds
``/put-cut``                reads the request body, answers 201 announcing PUT_CUT_TOTAL
                            bytes, sends PUT_CUT_SENT of them and closes

``state.requests`` lists :class:`tests.peers._base.Seen` (method, path, headers as sent,
body) in order;
``state.seen_for(KEY)`` those whose path holds KEY; ``state.url(path)`` the full URL.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import read_http_request, running_in_thread

HOST = "127.0.0.1"
SET_COOKIE = "session=SECRET-COOKIE; Path=/"
TRICKLE_PAUSE = 0.2
TRICKLE_LENGTH = 1000
PUT_CUT_TOTAL = 100 * 1024
PUT_CUT_SENT = 30 * 1024
# The longest a test request may be; they are a few hundred bytes.
MAX_REQUEST = 1 << 20


@dataclass
class HostileHttp:
    host: str
    port: int
    requests: list = field(default_factory=list)
    seen: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def seen_for(self, key: str) -> list:
        with self.lock:
            return [r for r in self.requests if key in r.path]


def _read_request(sock):
    seen = read_http_request(sock, MAX_REQUEST)
    if seen is None:
        return None
    lengths = (v for n, v in seen.headers if n.lower() == "content-length")
    length = next((int(v) for v in lengths if v.isascii() and v.isdigit()), 0)
    while len(seen.body) < min(length, MAX_REQUEST):
        chunk = sock.recv(65536)
        if not chunk:
            break
        seen.body += chunk
    return seen


class _Handler:
    def __init__(self, request, client_address, server):
        self.sock = request
        self.state = server.state
        try:
            self.handle()
        except OSError:
            pass

    def handle(self):
        seen = _read_request(self.sock)
        if seen is None:
            return
        with self.state.lock:
            self.state.requests.append(seen)
        path, _, query = seen.path.partition("?")
        if path.startswith("/ok/"):
            self.answer(b"HTTP/1.1 200 OK", [f"Set-Cookie: {SET_COOKIE}".encode()], b"ok\n")
        elif path.startswith("/redirect/"):
            code = path.split("/")[2]
            target = urllib.parse.parse_qs(query).get("to", ["/"])[0]
            self.answer(f"HTTP/1.1 {code} Moved".encode(), [b"Location: " + target.encode("latin-1")], b"moved\n")
        elif path == "/bad-length":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Length: \xc2\xb2\r\nConnection: close\r\n\r\nhello")
        elif path == "/c1":
            self.answer(b"HTTP/1.1 200 OK\x9b2J", [b"X-Evil: a\x9b31mRED\x9d0;title\x9c \xe9t\xe9"], b"c1\n")
        elif path == "/bad-gzip":
            self.answer(b"HTTP/1.1 200 OK", [b"Content-Encoding: gzip"], b"this is not gzip at all" * 10)
        elif path == "/trickle":
            self.send(f"HTTP/1.1 200 OK\r\nContent-Length: {TRICKLE_LENGTH}\r\nConnection: close\r\n\r\n".encode())
            for _ in range(TRICKLE_LENGTH):
                self.send(b"t")
                time.sleep(TRICKLE_PAUSE)
        elif path == "/put-cut":
            self.send(f"HTTP/1.1 201 Created\r\nContent-Length: {PUT_CUT_TOTAL}\r\nConnection: close\r\n\r\n"
                      .encode())
            self.send(b"r" * PUT_CUT_SENT)
        else:
            self.answer(b"HTTP/1.1 404 Not Found", [], b"")

    def send(self, data):
        self.sock.sendall(data)

    def answer(self, status_line, headers, body):
        head = [status_line, *headers, f"Content-Length: {len(body)}".encode(), b"Connection: close"]
        self.send(b"\r\n".join(head) + b"\r\n\r\n" + body)


@contextlib.contextmanager
def running_hostile_http() -> Iterator[HostileHttp]:
    with running_in_thread(_Handler, HostileHttp, "hostile-http", HOST) as state:
        yield state


@pytest.fixture(scope="session")
def hostile_http() -> Iterator[HostileHttp]:
    """The first origin (see the module docstring)."""
    with running_hostile_http() as state:
        yield state


@pytest.fixture(scope="session")
def hostile_http_other() -> Iterator[HostileHttp]:
    """A second origin: same host, another port; redirects from the first land here."""
    with running_hostile_http() as state:
        yield state
