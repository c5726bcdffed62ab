"""Hostile HTTP servers for ``netkit rpc call`` (red team): what tests/peers/rpc_hostile.py
does not try.

* ``/trickle``: a 200 with a Content-Length of 1 MB, then a byte every
  :data:`TRICKLE_GAP` s -- every single read beats a socket timeout, the whole never ends;
* ``/trickle-head``: the status line and headers themselves a byte at a time;
* ``/redirect``: a 307 to another server (``Location`` at :attr:`AttackRpc.elsewhere`),
  which records any request it gets: the caller's token must not follow;
* ``/fault-c1`` and ``/table-c1``: XML-RPC (which cannot carry ESC) with the controls
  it can carry -- C1 CSI (U+009B), a bidi override (U+202E), a line separator -- in a
  fault string and in a record's keys and values.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

from tests.peers._base import serve_in_thread

# Gap between two bytes of a trickle: each read waits this long, far below any timeout.
TRICKLE_GAP = 0.2
# How long a trickle may last at most (the peer's own bound; the client leaves first).
TRICKLE_SECONDS = 60.0
CONTROLS = "\u009b31m\u202eevil\u2028x"
FAULT_C1 = ("<?xml version='1.0'?><methodResponse><fault><value><struct>"
            "<member><name>faultCode</name><value><int>7</int></value></member>"
            f"<member><name>faultString</name><value><string>boom {CONTROLS}</string></value></member>"
            "</struct></value></fault></methodResponse>").encode()
TABLE_C1 = ("<?xml version='1.0'?><methodResponse><params><param><value><array><data>"
            f"<value><struct><member><name>k{CONTROLS}</name><value><string>v{CONTROLS}</string></value>"
            "</member></struct></value></data></array></value></param></params></methodResponse>").encode()


class AttackRpc:
    def __init__(self):
        self.port = 0
        self.elsewhere = 0
        self.lock = threading.Lock()
        self.seen_elsewhere = []  # (path, Authorization header) of each request the other server got


def _handler(peers: AttackRpc):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def _trickle(self, data: bytes):
            deadline = time.monotonic() + TRICKLE_SECONDS
            try:
                for byte in data:
                    if time.monotonic() > deadline:
                        return
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(TRICKLE_GAP)
            except OSError:
                pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.rstrip("/")
            if path == "/trickle":
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 1000000\r\n\r\n")
                self.wfile.flush()
                self._trickle(b"<" * 1_000_000)
                return
            if path == "/trickle-head":
                self._trickle(b"HTTP/1.0 200 OK\r\nX-Pad: " + b"a" * 10_000 + b"\r\n\r\n")
                return
            if path == "/redirect":
                self.send_response(307)
                self.send_header("Location", f"http://127.0.0.2:{peers.elsewhere}/stolen")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = {"/fault-c1": FAULT_C1, "/table-c1": TABLE_C1}.get(path, b"")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _elsewhere_handler(peers: AttackRpc):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_POST(self):
            with peers.lock:
                peers.seen_elsewhere.append((self.path, self.headers.get("Authorization")))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

    return Handler


@contextlib.contextmanager
def attack_rpc_server() -> Iterator[AttackRpc]:
    peers = AttackRpc()
    main = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(peers))
    other = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _elsewhere_handler(peers))
    for server in (main, other):
        server.daemon_threads = True
    peers.port, peers.elsewhere = main.server_address[1], other.server_address[1]
    with serve_in_thread(main, "attack-rpc"), serve_in_thread(other, "attack-rpc-elsewhere"):
        yield peers
