"""Session fixture ``faulty_http``: an HTTP/1.1 server on loopback that misbehaves on purpose.

A threaded socketserver in the test process. Every route serves the same body,
``FAULTY_BODY`` (256 KiB of seeded random bytes), unless said otherwise. ``KEY`` is any
token the test chooses, so that per-key state (``once`` routes) does not leak between tests.

``/ok``                 200, Content-Length, Range honoured (206 + Content-Range), ETag
``/cut/KEY``            the first request for KEY: 200 with the full Content-Length, half the
                        body, then the connection closes; later requests behave like ``/ok``
``/cut-always``         every answer is cut after half of what it announced (Range honoured)
``/norange``            ignores Range: always 200 with the whole body
``/badrange``           answers a Range with 206 whose Content-Range starts at 0
``/lie``                Content-Length says 1 MiB, sends FAULTY_BODY, closes (every time)
``/long``               Content-Length says 1000, sends all of FAULTY_BODY
``/busy/KEY``           the first request for KEY: 503 with ``Retry-After: 1``; then ``/ok``
``/always503``          503 with ``Retry-After: 0`` every time
``/gzip``               the body gzip-compressed, ``Content-Encoding: gzip``
``/slow``               Content-Length 1 MiB, 16 KiB every 50 ms (for progress and Ctrl-C)
``/stall``              Content-Length 1 MiB, 64 KiB of b"z", then silence for STALL_SECONDS
                        (or until the client goes away): an idle timeout fires mid-body
``/upload``             any method: reads the body (Content-Length) and answers 201 with
                        ``<method> <length> <sha256>``

``faulty_http.requests`` lists (method, path, Range header or None) of every request, in
order; ``faulty_http.url(path)`` is the full URL.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import random
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import first_time, running_in_thread

HOST = "127.0.0.1"
FAULTY_BODY = random.Random(5).randbytes(256 * 1024)
ETAG = '"netkit-faulty-1"'
LIE_LENGTH = 1024 * 1024
SLOW_SIZE = 1024 * 1024
SLOW_BLOCK = 16 * 1024
SLOW_PAUSE = 0.05
STALL_PREFIX = 64 * 1024
STALL_SECONDS = 20


@dataclass
class FaultyHttp:
    host: str
    port: int
    requests: list = field(default_factory=list)
    seen: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


def _range_start(value):
    if not value or not value.startswith("bytes=") or not value.endswith("-"):
        return None
    start = value[6:-1]
    return int(start) if start.isdigit() else None


class _Handler(socketserver.StreamRequestHandler):
    server_state: FaultyHttp

    def handle(self):
        try:
            self._handle()
        except OSError:  # the client went away (a test's Ctrl-C, a cut on purpose)
            pass

    def _handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            head += chunk
        head, _, rest = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        state = self.server.state  # type: ignore[attr-defined]
        with state.lock:
            state.requests.append((method, path, headers.get("range")))
        self.dispatch(state, method, path, headers, rest)

    def send_head(self, status, reason, headers):
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{n}: {v}" for n, v in headers] + ["Connection: close", "", ""]
        self.request.sendall("\r\n".join(lines).encode("latin-1"))

    def serve_ok(self, headers, body=FAULTY_BODY, cut=False, bad_range=False, honour_range=True):
        start = _range_start(headers.get("range")) if honour_range else None
        if start is not None and start < len(body):
            piece = body[start:]
            shown = 0 if bad_range else start
            self.send_head(206, "Partial Content", [("Content-Length", len(piece)), ("ETag", ETAG),
                                                    ("Content-Range", f"bytes {shown}-{len(body) - 1}/{len(body)}")])
        else:
            piece = body
            self.send_head(200, "OK", [("Content-Length", len(piece)), ("ETag", ETAG), ("Accept-Ranges", "bytes")])
        self.request.sendall(piece[: len(piece) // 2] if cut else piece)

    def dispatch(self, state, method, path, headers, rest):
        if path == "/ok":
            self.serve_ok(headers)
        elif path.startswith("/cut/"):
            self.serve_ok(headers, cut=first_time(state, path))
        elif path == "/cut-always":
            self.serve_ok(headers, cut=True)
        elif path == "/norange":
            self.serve_ok(headers, honour_range=False)
        elif path == "/badrange":
            self.serve_ok(headers, bad_range=True)
        elif path == "/lie":
            self.send_head(200, "OK", [("Content-Length", LIE_LENGTH)])
            self.request.sendall(FAULTY_BODY)
        elif path == "/long":
            self.send_head(200, "OK", [("Content-Length", 1000)])
            self.request.sendall(FAULTY_BODY)
        elif path.startswith("/busy/"):
            if first_time(state, path):
                self.send_head(503, "Service Unavailable", [("Retry-After", "1"), ("Content-Length", 5)])
                self.request.sendall(b"busy\n")
            else:
                self.serve_ok(headers)
        elif path == "/always503":
            self.send_head(503, "Service Unavailable", [("Retry-After", "0"), ("Content-Length", 5)])
            self.request.sendall(b"busy\n")
        elif path == "/gzip":
            packed = gzip.compress(FAULTY_BODY)
            self.send_head(200, "OK", [("Content-Length", len(packed)), ("Content-Encoding", "gzip")])
            self.request.sendall(packed)
        elif path == "/slow":
            self.send_head(200, "OK", [("Content-Length", SLOW_SIZE)])
            block = b"s" * SLOW_BLOCK
            for _ in range(SLOW_SIZE // SLOW_BLOCK):
                self.request.sendall(block)
                time.sleep(SLOW_PAUSE)
        elif path == "/stall":
            self.send_head(200, "OK", [("Content-Length", 1024 * 1024)])
            self.request.sendall(b"z" * STALL_PREFIX)
            self.request.settimeout(0.1)
            deadline = time.monotonic() + STALL_SECONDS
            while time.monotonic() < deadline:
                try:
                    if not self.request.recv(1024):
                        return  # the client gave up
                except TimeoutError:
                    continue
        elif path == "/upload":
            length = int(headers.get("content-length", "0"))
            body = rest
            while len(body) < length:
                chunk = self.request.recv(65536)
                if not chunk:
                    break
                body += chunk
            answer = f"{method} {len(body)} {hashlib.sha256(body).hexdigest()}\n".encode()
            self.send_head(201, "Created", [("Content-Length", len(answer))])
            self.request.sendall(answer)
        else:
            self.send_head(404, "Not Found", [("Content-Length", 0)])


@contextlib.contextmanager
def running_faulty_http() -> Iterator[FaultyHttp]:
    with running_in_thread(_Handler, FaultyHttp, "faulty-http", HOST) as state:
        yield state


@pytest.fixture(scope="session")
def faulty_http() -> Iterator[FaultyHttp]:
    """A misbehaving HTTP server (see the module docstring)."""
    with running_faulty_http() as state:
        yield state
