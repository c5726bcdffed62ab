"""Session fixture ``attack_http``: a scriptable hostile HTTP server on loopback.

A test says what one path answers with :meth:`AttackHttp.script` -- raw bytes (sent as
they are, then the connection closes) or a callable ``answer(sock, seen)`` that writes what
it likes -- and gets the URL back. Every request is recorded (``state.seen_for(key)``).
Unscripted paths answer 404. The server reads one request per connection.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import Seen, read_http_request, running_in_thread

HOST = "127.0.0.1"


@dataclass
class AttackHttp:
    host: str
    port: int
    requests: list = field(default_factory=list)
    scripts: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: Iterator = field(default_factory=itertools.count)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def script(self, answer, path: str | None = None) -> str:
        """Make ``path`` (a fresh one when None) answer with ``answer``; returns its URL."""
        path = path or f"/s{next(self.keys)}"
        with self.lock:
            self.scripts[path] = answer
        return self.url(path)

    def seen_for(self, key: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path.partition("?")[0] == key]


def response(status: bytes, headers=(), body: bytes = b"", length: bool = True) -> bytes:
    head = [b"HTTP/1.1 " + status, *headers]
    if length:
        head.append(b"Content-Length: %d" % len(body))
    head.append(b"Connection: close")
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class _Handler:
    def __init__(self, request, client_address, server):
        self.sock = request
        state = server.state
        try:
            seen = read_http_request(self.sock)
            if seen is None:
                return
            with state.lock:
                state.requests.append(seen)
                answer = state.scripts.get(seen.path.partition("?")[0])
            if answer is None:
                self.sock.sendall(response(b"404 Not Found"))
            elif callable(answer):
                answer(self.sock, seen)
            else:
                self.sock.sendall(answer)
        except OSError:
            pass


@contextlib.contextmanager
def running_attack_http() -> Iterator[AttackHttp]:
    with running_in_thread(_Handler, AttackHttp, "attack-http", HOST) as state:
        yield state


@pytest.fixture(scope="session")
def attack_http() -> Iterator[AttackHttp]:
    with running_attack_http() as state:
        yield state


@pytest.fixture(scope="session")
def attack_http_other() -> Iterator[AttackHttp]:
    """A second origin on another port."""
    with running_attack_http() as state:
        yield state
