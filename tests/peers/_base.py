"""Helpers shared by every peer: free ports, readiness polling, binaries, server processes.

A peer module (nginx, tinyproxy, and later sshd, dovecot, dnsmasq, vsftpd, ...) usually:

1. finds its binary with :func:`need_binary` (a missing binary FAILS the test, never skips),
2. writes a config into a tmp dir with ports from :func:`free_port`,
3. starts it with :meth:`ServerProcess.start_with_retries`, whose factory builds a fresh
   config (fresh ports) on each attempt, so a port stolen between ``free_port`` and the
   server's ``bind`` costs one retry instead of a flaky test,
4. stops it at fixture teardown (``with server:`` or :meth:`ServerProcess.stop`).

In-process peers (UDP echo, banner server, ...) are ``socketserver`` servers run by
:func:`serve_in_thread`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

# How long a peer may take to start listening; nginx and tinyproxy need well under a second.
STARTUP_TIMEOUT = 10.0
# How long a peer may take to exit after SIGTERM before it gets SIGKILL.
STOP_TIMEOUT = 5.0
# Delay between readiness probes: short, a start costs a few probes at most.
POLL_INTERVAL = 0.02
# A single connect probe; loopback answers at once, so a slow probe means "not yet".
PROBE_TIMEOUT = 0.5
# A port taken between free_port() and the server's bind() is rare; three tries is plenty.
START_ATTEMPTS = 3
# Lines of a peer's log quoted in a startup error.
LOG_TAIL_LINES = 30
# Log phrases (lower case) saying the server could not bind its port: errno 98 as most
# servers print it, and tinyproxy's only words for a failed bind.
PORT_TAKEN_MARKERS = (
    "address already in use",
    "eaddrinuse",
    "errno 98",
    "could not create listening sockets",
)


def free_port(host: str = "127.0.0.1", type: int = socket.SOCK_STREAM) -> int:
    """Return a port number that was free on ``host`` a moment ago (bind port 0, read, close).

    Another process may take it before the peer binds it; :meth:`ServerProcess.start_with_retries`
    covers that race.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, type) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def can_connect(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """True when a TCP connection to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_listening(
    host: str, port: int, timeout: float = STARTUP_TIMEOUT, name: str = "peer"
) -> None:
    """Poll a TCP connect to ``host:port`` until it works; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not can_connect(host, port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} is not listening on {host}:{port} after {timeout:.0f} s")
        time.sleep(POLL_INTERVAL)


def need_binary(path_or_name: str, debian_package: str) -> str:
    """Absolute path of a peer's binary; FAIL the test (never skip) when it is missing."""
    if os.sep in path_or_name:
        found = path_or_name if os.access(path_or_name, os.X_OK) else None
    else:
        found = shutil.which(path_or_name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        pytest.fail(
            f"{path_or_name} is not installed: apt-get install {debian_package} (or run make test)",
            pytrace=False,
        )
    return os.path.abspath(found)


def tail(path: Path, lines: int = LOG_TAIL_LINES, start: int = 0) -> str:
    """The last ``lines`` lines of a text file from byte ``start`` ('' if there is no file)."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class ServerStartError(RuntimeError):
    """A peer did not become ready; ``port_taken`` says whether a retry with new ports helps."""

    def __init__(self, message: str, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


class ServerProcess:
    """A peer run as a child process, its stdout and stderr going to ``log_file``.

    ``ready`` is called repeatedly after launch until it returns true (e.g. ports accept, a
    pid file exists); the process dying first, or ``ready_timeout`` passing, is a
    :class:`ServerStartError` quoting the tail of the log (and of ``extra_logs``, the peer's
    own log files). Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_file: Path,
        ready: Callable[[], bool],
        ready_timeout: float = STARTUP_TIMEOUT,
        extra_logs: Sequence[Path] = (),
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = [str(part) for part in command]
        self.log_file = Path(log_file)
        self.ready = ready
        self.ready_timeout = ready_timeout
        self.extra_logs = [Path(p) for p in extra_logs]
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        # Where each log stood at launch: errors are looked for in this run's lines only.
        self._log_starts: dict[Path, int] = {}

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        """This run's tails of the process output and of the peer's own logs."""
        parts = []
        for path in [self.log_file, *self.extra_logs]:
            text = tail(path, start=self._log_starts.get(path, 0))
            if text:
                parts.append(f"--- {path} ---\n{text}")
        return "\n".join(parts) or "(no log output)"

    def start(self) -> ServerProcess:
        """Launch and wait for readiness; raise :class:`ServerStartError` if it never comes."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_starts = {path: _size(path) for path in [self.log_file, *self.extra_logs]}
        with open(self.log_file, "ab") as log:
            # A session of its own, so stop() can end the workers with the master.
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self.alive():
                self._fail(f"exited with status {self.proc.returncode} while starting")
            if self._ready():
                # A port stolen by someone else also "accepts": make sure we still run.
                time.sleep(POLL_INTERVAL)
                if self.alive():
                    return self
                continue
            if time.monotonic() > deadline:
                self._fail(f"was not ready after {self.ready_timeout:.0f} s")
            time.sleep(POLL_INTERVAL)

    def _ready(self) -> bool:
        try:
            return bool(self.ready())
        except OSError:
            return False

    def _fail(self, what: str) -> None:
        self.stop()
        logs = self.logs()
        taken = any(marker in logs.lower() for marker in PORT_TAKEN_MARKERS)
        raise ServerStartError(
            f"{self.name} {what}\ncommand: {' '.join(self.command)}\n{logs}", port_taken=taken
        )

    def stop(self) -> None:
        """SIGTERM the process group, wait, SIGKILL it after :data:`STOP_TIMEOUT`."""
        proc = self.proc
        if proc is None or proc.returncode is not None and not self._group_alive(proc.pid):
            return
        self._signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)
        # Children (e.g. nginx workers) that outlived their master.
        if self._group_alive(proc.pid):
            self._signal_group(proc.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True

    def __enter__(self) -> ServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @classmethod
    def start_with_retries(
        cls, factory: Callable[[int], ServerProcess], attempts: int = START_ATTEMPTS
    ) -> ServerProcess:
        """Start ``factory(attempt)``; when its port was taken, build a new one (new ports).

        ``factory`` gets the attempt number (0, 1, ...) and returns an unstarted
        ServerProcess whose config uses freshly chosen ports.
        """
        for attempt in range(attempts):
            server = factory(attempt)
            try:
                return server.start()
            except ServerStartError as exc:
                if not exc.port_taken or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")


# How often a socketserver's loop looks for shutdown(): short, so teardown is quick.
SERVE_POLL_INTERVAL = 0.05


class ThreadingServer(socketserver.ThreadingTCPServer):
    """socketserver's threading TCP server for test peers: daemon threads, reusable port."""

    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def running_in_thread(handler, make_state, name: str, host: str = "127.0.0.1"):
    """A ThreadingServer of ``handler`` on ``host``, port 0, served in a thread; yields
    ``make_state(host, port)``, which the handlers find as ``self.server.state``."""
    server = ThreadingServer((host, 0), handler)
    state = make_state(host, server.server_address[1])
    server.state = state  # type: ignore[attr-defined]
    with serve_in_thread(server, name):
        yield state


# The most a raw HTTP test peer reads before a request head's end: a bound, not a size tests send.
MAX_HTTP_HEAD = 1 << 20


def read_http_head(sock: socket.socket, limit: int = MAX_HTTP_HEAD):
    """Read an HTTP request head from ``sock``: ``(request line, [(name, value)], bytes read
    after the head)``, or None when the peer closes first or sends over ``limit`` bytes without one."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > limit:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(n.strip(), v.strip()) for n, _, v in (line.partition(":") for line in lines[1:])]
    return lines[0], headers, rest


@dataclass
class Seen:
    """A request as a raw HTTP test peer read it."""

    method: str
    path: str
    headers: list
    body: bytes

    def header(self, name):
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


def read_http_request(sock: socket.socket, limit: int = MAX_HTTP_HEAD) -> Seen | None:
    """:func:`read_http_head` as a :class:`Seen` (its body: what came with the head)."""
    got = read_http_head(sock, limit)
    if got is None:
        return None
    line, headers, body = got
    method, path, _ = line.split(" ", 2)
    return Seen(method, path, headers, body)


def first_time(state, key) -> bool:
    """Whether ``key`` is new to ``state.seen`` (a set guarded by ``state.lock``); now it is not."""
    with state.lock:
        if key in state.seen:
            return False
        state.seen.add(key)
        return True


@contextlib.contextmanager
def serve_in_thread(server: socketserver.BaseServer, name: str) -> Iterator[None]:
    """Run ``server.serve_forever`` in a daemon thread; shut it down and close it on exit."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": SERVE_POLL_INTERVAL},
        name=name,
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(STOP_TIMEOUT)
