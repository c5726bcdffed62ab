"""A hostile middle for the red team's attacks on netkit.remote (issue 15): a TCP relay on a
loopback port that forwards each connection to an upstream it can change at any moment.

``relay.port``           where clients connect (127.0.0.1)
``relay.upstream``       (host, port) new connections go to; set it to swap the server behind
                         the same address (a reinstalled host, a DNS round robin, a MITM)
``relay.hold``           a threading.Event: while it is clear, new connections are accepted
                         and then held, not forwarded (a login that takes its time)
``relay.reset_all()``    reset every relayed connection now (RST: the host went away)
``relay.live()``         how many client connections are still open (both ends count: a
                         connection the client never closed stays live)
``relay.wait_live(n)``   poll until live() == n (bounded), return live()
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

HOST = "127.0.0.1"
# How long wait_live() polls before it gives up (the caller's assertion then fails).
WAIT_LIVE = 10.0


class Relay:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.hold = threading.Event()
        self.hold.set()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._open: set[socket.socket] = set()  # client sides not yet closed by the client
        self._stopping = False
        threading.Thread(target=self._accept, daemon=True, name="attack15-relay").start()

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._open.add(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self.hold.wait(WAIT_LIVE * 3)
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
        except OSError:
            self._gone(client)
            return
        with self._lock:
            self._pairs.append((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        if from_client:  # the client closed (or was reset): it is no longer live
            self._gone(src)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def _gone(self, client: socket.socket) -> None:
        with self._lock:
            self._open.discard(client)

    def live(self) -> int:
        with self._lock:
            return len(self._open)

    def wait_live(self, n: int) -> int:
        deadline = time.monotonic() + WAIT_LIVE
        while self.live() != n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.live()

    def reset_all(self) -> None:
        """RST both ends of every relayed connection (SO_LINGER 0, then close)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                if sock is None:
                    continue
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stopping = True
        self.hold.set()
        self.reset_all()
        self._listener.close()


@pytest.fixture
def relay_to() -> Iterator:
    """``relay_to((host, port))`` -> a :class:`Relay`, closed at the test's end."""
    made: list[Relay] = []

    def make(upstream: tuple[str, int]) -> Relay:
        made.append(Relay(upstream))
        return made[-1]

    yield make
    for relay in made:
        relay.close()
