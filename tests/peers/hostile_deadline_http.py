"""Fixture ``swapping_http``: an HTTP server on loopback that, when a request arrives, does
what a local attacker racing a download would do -- moves the client's open ``.part`` file
aside and plants a symbolic link to a victim under its name -- and then answers
``200`` with an ``ETag`` (which get remembers on the ``.part``, in an extended attribute).

``state.swap = (part, victim)`` arms it for the next request; ``state.moved`` is where the
real ``.part`` went. Any path answers ``swapped\\n``.
"""

from __future__ import annotations

import contextlib
import os
import threading

import pytest

from tests.peers._base import read_http_head, running_in_thread

HOST = "127.0.0.1"
ETAG = '"v1-swapped"'
BODY = b"swapped\n"


class SwappingHttp:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.swap = None  # (path of the .part, path of the victim)
        self.moved = None
        self.lock = threading.Lock()

    def url(self, path="/file"):
        return f"http://{self.host}:{self.port}{path}"


class _Handler:
    def __init__(self, request, client_address, server):
        state = server.state
        try:
            if read_http_head(request) is None:
                return
            with state.lock:
                swap, state.swap = state.swap, None
            if swap is not None:
                part, victim = swap
                state.moved = part + ".moved"
                os.rename(part, state.moved)  # the client holds it open: its descriptor still is the file
                os.symlink(victim, part)
            request.sendall(f"HTTP/1.1 200 OK\r\nETag: {ETAG}\r\nContent-Length: {len(BODY)}\r\n"
                            f"Connection: close\r\n\r\n".encode() + BODY)
        except OSError:
            pass


@pytest.fixture
def swapping_http():
    with running_in_thread(_Handler, SwappingHttp, "swapping-http", HOST) as state:
        yield state
