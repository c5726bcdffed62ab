"""Fixture ``webhook``: an HTTP receiver on loopback that records every request and misbehaves
on demand (a threaded socketserver in the test process, one per test).

Routes (``KEY`` is any token a test picks, so per-route counters never leak between tests):

``/ok/KEY``            200 ``ok``
``/fail/N/KEY``        500 for the first N requests to this path, then 200
``/status/CODE/KEY``   CODE (e.g. 404, 429), always
``/hang/KEY``          reads the request, never answers (until the fixture ends)
``/reset/KEY``         reads the request, then closes with a TCP reset
``/redirect/KEY``      307 to ``http://other.invalid/KEY`` (another host)
``/huge/CODE/KEY``     CODE with ``Content-Length`` HUGE_LENGTH (1 GiB), then zeros for as long
                       as the client reads; ``webhook.sent[path]`` is how many body bytes went

``webhook_tls`` is the same receiver over TLS (``https://``, certificate ``pki.good``).

Every request is recorded, before its answer, as a :class:`tests.peers._base.Seen` (method,
path, headers, the whole body as Content-Length says); ``webhook.requests(path)`` lists them,
``webhook.wait_for(path, n)`` waits until ``n`` came. ``webhook.url(path)`` is the full URL.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.peers._base import Seen, read_http_request, running_in_thread

HOST = "127.0.0.1"
# The largest request body read: an alert is a few KiB.
MAX_BODY = 1 << 20
# What /huge announces; it sends zeros until the client stops reading.
HUGE_LENGTH = 1 << 30
HUGE_BLOCK = 64 * 1024
# How long /hang holds a request at most (the fixture's end releases it sooner).
HANG_SECONDS = 60.0
# How long wait_for waits by default.
WAIT_SECONDS = 15.0


@dataclass
class Webhook:
    host: str
    port: int
    seen: list = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    sent: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    tls: ssl.SSLContext | None = None

    def url(self, path: str) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if path is None or s.path == path]

    def payloads(self, path: str) -> list:
        return [json.loads(s.body) for s in self.requests(path)]

    def wait_for(self, path: str, n: int = 1, timeout: float = WAIT_SECONDS) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while len(got := self.requests(path)) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(got)} requests to {path} after {timeout:g} s, expected {n}")
            time.sleep(0.02)
        return got


class _Handler:
    """A socketserver handler (BaseRequestHandler protocol without the base's ceremony)."""

    def __init__(self, request, client_address, server):
        self.request, self.state = request, server.state
        try:
            if self.state.tls is not None:
                self.request.settimeout(HANG_SECONDS)   # a client that never finishes its handshake
                self.request = self.state.tls.wrap_socket(request, server_side=True)
            self.handle()
        except OSError:     # the client went away: a cut on purpose, or the dispatcher's timeout
            pass
        finally:
            try:
                self.request.close()
            except OSError:
                pass

    def handle(self):
        seen = read_http_request(self.request)
        if seen is None:
            return
        length = int(seen.header("Content-Length") or 0)
        while len(seen.body) < min(length, MAX_BODY):
            chunk = self.request.recv(65536)
            if not chunk:
                break
            seen.body += chunk
        with self.state.lock:
            self.state.seen.append(seen)
            self.state.counts[seen.path] += 1
            count = self.state.counts[seen.path]
        parts = seen.path.strip("/").split("/")
        route = parts[0]
        if route == "ok":
            self.answer(200, b"ok")
        elif route == "fail":
            self.answer(500 if count <= int(parts[1]) else 200, b"not yet" if count <= int(parts[1]) else b"ok")
        elif route == "status":
            self.answer(int(parts[1]), b"as asked")
        elif route == "hang":
            self.state.stopping.wait(HANG_SECONDS)
        elif route == "reset":
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif route == "redirect":
            self.answer(307, b"", [("Location", f"http://other.invalid/{parts[-1]}")])
        elif route == "huge":
            self.answer(int(parts[1]), None, [("Content-Length", str(HUGE_LENGTH))])
            block = b"\0" * HUGE_BLOCK
            for _ in range(HUGE_LENGTH // HUGE_BLOCK):
                self.request.sendall(block)
                with self.state.lock:
                    self.state.sent[seen.path] += len(block)
        else:
            self.answer(404, b"no such route")

    def answer(self, status: int, body: bytes | None, headers=()):
        head = [f"HTTP/1.1 {status} Whatever", "Connection: close", *(f"{n}: {v}" for n, v in headers)]
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        self.request.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b""))


@pytest.fixture
def webhook_tls(pki):
    """The same receiver over TLS (``https://``), presenting ``pki.good`` (127.0.0.1)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.good.cert, pki.good.key)
    with running_in_thread(_Handler, lambda host, port: Webhook(host, port, tls=context), "webhook-tls-peer",
                           HOST) as state:
        try:
            yield state
        finally:
            state.stopping.set()


@pytest.fixture
def webhook():
    with running_in_thread(_Handler, lambda host, port: Webhook(host, port), "webhook-peer", HOST) as state:
        try:
            yield state
        finally:
            state.stopping.set()
