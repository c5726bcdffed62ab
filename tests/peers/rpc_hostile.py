"""A hostile XML-RPC / JSON-RPC server for ``netkit rpc call``: each path answers with one
attack on the client (an entity bomb, a reply bigger than any answer, nesting deep enough
to blow a recursive parser, terminal escapes in a string, garbage, silence)."""

from __future__ import annotations

import contextlib
import http.server
import time
from collections.abc import Iterator

from tests.peers._base import serve_in_thread

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<methodResponse><params><param><value>&lol9;</value></param></params></methodResponse>"""
DEEP = (b"<methodResponse><params><param>" + b"<value><array><data>" * 20_000 + b"</data></array></value>" * 20_000
        + b"</param></params></methodResponse>")
# XML 1.0 cannot carry ESC at all (not even as &#27;): escapes come over JSON-RPC.
ANSI = b'{"jsonrpc": "2.0", "id": 1, "result": ["ok\\u001b[2J\\u001b]0;pwned\\u0007", {"k\\u001b[31m": 1}]}'
JSON_DEEP = b'{"jsonrpc": "2.0", "id": 1, "result": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
# More than netkit.rpc._client.MAX_REPLY (64 MiB): the client stops reading past it.
HUGE_SIZE = 80 << 20
# How long /silent keeps the client waiting (more than the test's --timeout).
SILENT_SECONDS = 10.0


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 -- http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        path = self.path.rstrip("/")
        if path == "/silent":
            time.sleep(SILENT_SECONDS)
            return
        if path == "/huge":
            self.send_response(200)
            self.send_header("Content-Length", str(HUGE_SIZE))
            self.end_headers()
            chunk = b"<" * (1 << 20)
            try:
                for _ in range(HUGE_SIZE >> 20):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return
        body = {"/bomb": BOMB, "/deep": DEEP, "/ansi": ANSI, "/json-deep": JSON_DEEP,
                "/garbage": b"\x00\xff not xml at all"}.get(path, b"")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def hostile_rpc_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    with serve_in_thread(server, "hostile-rpc"):
        yield server.server_address[1]
