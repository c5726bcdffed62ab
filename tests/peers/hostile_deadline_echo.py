"""Fixture ``echo_http``: an HTTP server on loopback that records every request and echoes
each request header back as a response header of the same name (as httpbin-like debugging
services and some proxies do), with a body ``echo\\n``. ``state.requests`` lists the
:class:`tests.peers._base.Seen` requests in order."""

from __future__ import annotations

import threading

import pytest

from tests.peers._base import read_http_head, running_in_thread

HOST = "127.0.0.1"
BODY = b"echo\n"


class EchoHttp:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.requests = []
        self.lock = threading.Lock()

    def url(self, path="/echo"):
        return f"http://{self.host}:{self.port}{path}"

    def sent(self, name):
        with self.lock:
            return [v for headers in self.requests for n, v in headers if n.lower() == name.lower()]


def _read_head(sock):
    got = read_http_head(sock)
    return None if got is None else got[1]


class _Handler:
    def __init__(self, request, client_address, server):
        state = server.state
        try:
            headers = _read_head(request)
            if headers is None:
                return
            with state.lock:
                state.requests.append(headers)
            echoed = "".join(f"{n}: {v}\r\n" for n, v in headers
                             if n.lower() not in ("content-length", "connection", "transfer-encoding"))
            request.sendall(f"HTTP/1.1 200 OK\r\n{echoed}Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
                            .encode("latin-1") + BODY)
        except OSError:
            pass


@pytest.fixture
def echo_http():
    with running_in_thread(_Handler, EchoHttp, "echo-http", HOST) as state:
        yield state
