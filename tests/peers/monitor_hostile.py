"""Fixture ``monitor_hostile``: hostile peers for the monitor's red-team tests, in-process on
127.0.0.1, one port per behaviour (the attribute names the behaviour, its value the port):

``.endless``      an endless line (no line end) as fast as the socket takes it
``.garbage``      GARBAGE_BYTES of random bytes (terminal escapes, NUL, invalid UTF-8) then close
``.controls``     an SSH-like banner full of ANSI/OSC escapes, CR, NUL, C1 controls and invalid
                  UTF-8, then an endless stream of the same
``.silent``       accepts and never answers
``.trickle``      one byte every TRICKLE_PAUSE s, never a line end
``.reset``        accepts and resets (SO_LINGER 0)
``.http_evil``    an HTTP answer whose status line and headers hold escapes, NUL, invalid UTF-8,
                  a bare CR and a megabyte header, then a body of garbage
``.http_ok``      a plain good HTTP server (200, a small body): the well-behaved neighbour

Handlers end when the client goes away or after IDLE_LIMIT seconds; ``.accepted`` counts
connections per behaviour (so a test can see runs of a target keep coming), ``.most_open``
the most that were open at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread

HOST = "127.0.0.1"
# The trickle's pace: slow enough that no line ever completes within a run's deadline.
TRICKLE_PAUSE = 1.0
# No handler lives longer than this, so threads do not outlive the session by much.
IDLE_LIMIT = 30.0
# Megabytes of garbage: far past any buffer a check should keep.
GARBAGE_BYTES = 4 << 20
EVIL = b"\x1b[31m\x1b]0;pwned\x07\x1b[2J\x00\xff\xfe\xc3\x28\r\x9b31m\xe2\x80\xae<script>\"'\\{}"
CONTROLS_BANNER = b"SSH-2.0-" + EVIL + b"\r\n"
HTTP_EVIL = (b"HTTP/1.1 200 \x1b[2J" + EVIL + b"\r\n"
             b"X-Evil: " + EVIL.replace(b"\r", b"") + b"\r\n"
             b"X-Huge: " + b"A" * (1 << 20) + b"\r\n"
             b"Content-Length: 100000\r\n\r\n")
HTTP_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
BEHAVIOURS = ("endless", "garbage", "controls", "silent", "trickle", "reset", "http_evil", "http_ok")


def _stream(sock, chunk: bytes) -> None:
    deadline = time.monotonic() + IDLE_LIMIT
    while time.monotonic() < deadline:
        sock.sendall(chunk)


def _hold(sock) -> None:
    """Say nothing until the client goes away (or IDLE_LIMIT)."""
    sock.settimeout(IDLE_LIMIT)
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


def _read_head(sock) -> None:
    sock.settimeout(5)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk


def handle(kind: str, sock: socket.socket) -> None:
    if kind == "endless":
        _stream(sock, b"x" * 65536)
    elif kind == "garbage":
        sent = 0
        while sent < GARBAGE_BYTES:
            sock.sendall(EVIL + os.urandom(65536))
            sent += 65536
    elif kind == "controls":
        sock.sendall(CONTROLS_BANNER)
        _stream(sock, EVIL * 1024)
    elif kind == "silent":
        _hold(sock)
    elif kind == "trickle":
        deadline = time.monotonic() + IDLE_LIMIT
        while time.monotonic() < deadline:
            sock.sendall(b"\x1b")
            time.sleep(TRICKLE_PAUSE)
    elif kind == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif kind == "http_evil":
        _read_head(sock)
        sock.sendall(HTTP_EVIL)
        _stream(sock, EVIL * 1024)
    elif kind == "http_ok":
        _read_head(sock)
        sock.sendall(HTTP_OK)


class _Peers:
    def __init__(self):
        self.accepted: Counter = Counter()
        self.open: Counter = Counter()          # connections open now, per behaviour
        self.most_open: Counter = Counter()     # the most ever open at once
        self.lock = threading.Lock()


def _handler(kind: str, peers: _Peers):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            with peers.lock:
                peers.accepted[kind] += 1
                peers.open[kind] += 1
                peers.most_open[kind] = max(peers.most_open[kind], peers.open[kind])
            try:
                with contextlib.suppress(OSError):
                    handle(kind, self.request)
            finally:
                with peers.lock:
                    peers.open[kind] -= 1

    return Handler


@contextlib.contextmanager
def hostile_peers() -> Iterator[_Peers]:
    peers = _Peers()
    with contextlib.ExitStack() as stack:
        for kind in BEHAVIOURS:
            server = ThreadingServer((HOST, 0), _handler(kind, peers))
            setattr(peers, kind, server.server_address[1])
            stack.enter_context(serve_in_thread(server, f"monitor-hostile-{kind}"))
        yield peers


@pytest.fixture
def monitor_hostile():
    with hostile_peers() as peers:
        yield peers


# -- `netkit monitor run` as a process, for the attacks on the whole service ------------------

# How long a monitor process may take to start serving, or to stop after SIGTERM.
MONITOR_WAIT = 30.0


class MonitorProcess:
    """``netkit monitor run CONFIG`` with its stderr in a file; ``.port`` its web side
    (``listen`` of the config must be ``127.0.0.1:{port}`` as :meth:`config` writes it)."""

    def __init__(self, tmp_path, body: str, *, env=None, store=None, listen=True):
        from tests.peers._base import free_port

        self.tmp = tmp_path
        self.port = free_port() if listen else None
        self.db = store or tmp_path / "m.db"
        self.cfg = tmp_path / "m.toml"
        self.err = tmp_path / "monitor.err"
        self.env = env or {}
        self.proc = None
        self.write(body)

    def write(self, body: str) -> None:
        listen = f"127.0.0.1:{self.port}" if self.port else ""
        self.cfg.write_text(f'[monitor]\nstore = "{self.db}"\nlisten = "{listen}"\nstate-dir = "{self.tmp}"\n'
                            + body)

    def start(self, wait: bool = True) -> MonitorProcess:
        import subprocess
        import sys

        from tests.helpers import clean_env

        with open(self.err, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "netkit", "monitor", "run", str(self.cfg)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         env=clean_env(self.env))
        if wait and self.port:
            self.wait_for(lambda: self.get("/")[0] == 200, "the web side")
        return self

    def stderr(self) -> str:
        return self.err.read_bytes().decode("utf-8", "replace")

    def wait_for(self, predicate, what: str, timeout: float = MONITOR_WAIT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if predicate():
                    return
            except OSError:
                pass
            assert self.proc is None or self.proc.poll() is None, \
                f"netkit monitor exited ({self.proc.returncode}):\n{self.stderr()}"
            assert time.monotonic() < deadline, f"gave up waiting for {what}:\n{self.stderr()[-3000:]}"
            time.sleep(0.1)

    def get(self, path: str, method: str = "GET", body: bytes | None = None, headers=None, timeout: float = 30):
        """(status, headers, body bytes) of one request to the web side."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            reply = conn.getresponse()
            return reply.status, dict(reply.getheaders()), reply.read()
        finally:
            conn.close()

    def stop(self) -> int:
        import signal
        import subprocess

        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(MONITOR_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(MONITOR_WAIT)
        return self.proc.returncode

    def __enter__(self) -> MonitorProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
