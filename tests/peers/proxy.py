"""Session fixture ``http_proxy``: tinyproxy, a real forward HTTP proxy on loopback.

``http_proxy.url``       "http://127.0.0.1:PORT" (listens on 127.0.0.1 only)
``http_proxy.port``      its port
``http_proxy.log_file``  tinyproxy's log (LogLevel Info: one "Request ..." line per request)
``http_proxy.requests_seen()``   the log text, to assert that a request went through the proxy
``http_proxy.wait_for_log(text)`` poll the log until ``text`` appears (tinyproxy logs a request
                                  when it handles it, a moment after the client sends it)

Clients on 127.0.0.1 and ::1 are allowed. There is no ConnectPort line, which in tinyproxy
1.11 allows CONNECT to every port (e.g. the nginx https port, see tests/test_peers.py).

The log spans the whole session: give each test's request a unique path or query so an
assertion cannot match an earlier test's request. The readiness probe at startup leaves one
harmless "read_request_line: Client ... closed socket before read" ERROR line.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers._base import POLL_INTERVAL, ServerProcess, can_connect, free_port, need_binary

TINYPROXY = "/usr/bin/tinyproxy"
DEBIAN_PACKAGE = "tinyproxy-bin"
HOST = "127.0.0.1"
# Idle seconds before tinyproxy drops a connection; long enough for any test.
IDLE_TIMEOUT = 30
# How long wait_for_log() waits for a line to show up.
LOG_WAIT = 5.0
# Characters of the log quoted when wait_for_log() gives up.
LOG_QUOTE = 2000

CONFIG = """\
Port {port}
Listen {host}
Timeout {timeout}
LogFile "{log_file}"
LogLevel Info
PidFile "{pid_file}"
MaxClients 64
Allow 127.0.0.1
Allow ::1
DisableViaHeader Yes
"""


@dataclass(frozen=True)
class HttpProxy:
    """A running tinyproxy; see the module docstring."""

    url: str
    host: str
    port: int
    log_file: Path

    def requests_seen(self) -> str:
        """tinyproxy's log so far. Request lines look like ``Request (file descriptor 6): GET
        http://127.0.0.1:PORT/path HTTP/1.1`` and ``... CONNECT localhost:PORT HTTP/1.0``
        (the client's own HTTP version: http.client tunnels with 1.0, curl with 1.1)."""
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = LOG_WAIT) -> str:
        """The log once it contains ``text``; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.requests_seen()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{text!r} not in tinyproxy log {self.log_file}:\n{log[-LOG_QUOTE:]}"
                )
            time.sleep(POLL_INTERVAL)
        return log


@contextlib.contextmanager
def running_tinyproxy(directory: Path) -> Iterator[HttpProxy]:
    """Write a config in ``directory`` and run tinyproxy (retrying on a taken port)."""
    binary = need_binary(TINYPROXY, DEBIAN_PACKAGE)
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / "tinyproxy.log"
    conf = directory / "tinyproxy.conf"
    port = 0

    def factory(attempt: int) -> ServerProcess:
        nonlocal port
        port = free_port(HOST)
        conf.write_text(
            CONFIG.format(
                port=port,
                host=HOST,
                timeout=IDLE_TIMEOUT,
                log_file=log_file,
                pid_file=directory / "tinyproxy.pid",
            )
        )
        return ServerProcess(
            "tinyproxy",
            [binary, "-d", "-c", str(conf)],
            log_file=directory / "stderr.log",
            ready=lambda: can_connect(HOST, port),
            extra_logs=[log_file],
        )

    with ServerProcess.start_with_retries(factory):
        yield HttpProxy(url=f"http://{HOST}:{port}", host=HOST, port=port, log_file=log_file)


@pytest.fixture(scope="session")
def http_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpProxy]:
    """A running tinyproxy (see the module docstring)."""
    with running_tinyproxy(tmp_path_factory.mktemp("tinyproxy")) as info:
        yield info
