"""Fixture ``maxsize_http``: an HTTP server on loopback whose bodies would fill a disk, for
``get --max-filesize`` (curl's). Routes:

``/bomb``      a gzip bomb: ``BOMB_SIZE`` bytes of zeros gzip-compressed (some 64 KiB on the
               wire), sent whole with ``Content-Encoding: gzip`` and its Content-Length
``/announced`` ``Content-Length: ANNOUNCED`` and then nothing: the body never comes, so only
               a client that refuses at the head ends (else it waits for its idle timeout)
``/endless``   ``Transfer-Encoding: chunked``, 64 KiB chunks of zeros until the client closes
``/endless-bomb`` the same, gzip-coded without end: each chunk decodes to far more

``state.requests`` counts the requests per path (a refusal is not retried).
"""

from __future__ import annotations

import collections
import threading
import zlib

import pytest

from tests.peers._base import read_http_head, running_in_thread

HOST = "127.0.0.1"
BOMB_SIZE = 64 * 1024 * 1024
ANNOUNCED = 3 * 1024 * 1024
CHUNK = 64 * 1024
# Seconds /announced holds its connection without a body byte (the client should not wait).
HOLD = 30


class MaxsizeHttp:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.requests = collections.Counter()
        self.lock = threading.Lock()
        self.closed = threading.Event()  # set at teardown: held connections end
        self.bomb = gzip_of_zeros(BOMB_SIZE)

    def url(self, path):
        return f"http://{self.host}:{self.port}{path}"


def gzip_of_zeros(size):
    coder = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    block = bytes(1024 * 1024)
    parts = [coder.compress(block) for _ in range(size // len(block))]
    parts.append(coder.flush())
    return b"".join(parts)


def _chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class _Handler:
    def __init__(self, request, client_address, server):
        state = server.state
        try:
            head = read_http_head(request)
            if head is None:
                return
            path = head[0].split(" ", 2)[1]
            with state.lock:
                state.requests[path] += 1
            if path == "/bomb":
                request.sendall(f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(state.bomb)}\r\n"
                                f"Connection: close\r\n\r\n".encode() + state.bomb)
            elif path == "/announced":
                request.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {ANNOUNCED}\r\n\r\n".encode())
                state.closed.wait(HOLD)
            elif path == "/endless":
                request.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                zeros = _chunk(bytes(CHUNK))
                while not state.closed.is_set():
                    request.sendall(zeros)
            elif path == "/endless-bomb":
                request.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
                coder = zlib.compressobj(9, zlib.DEFLATED, 31)
                block = bytes(1024 * 1024)
                while not state.closed.is_set():
                    out = coder.compress(block) + coder.flush(zlib.Z_SYNC_FLUSH)
                    request.sendall(_chunk(out))
            else:
                request.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass


@pytest.fixture(scope="module")
def maxsize_http():
    with running_in_thread(_Handler, MaxsizeHttp, "maxsize-http", HOST) as state:
        try:
            yield state
        finally:
            state.closed.set()
