"""Fixture ``served``: start ``netkit serve ARGS`` as users do (a child process) and learn
where it listens from its own log line.

    server = served("echo", "--prefix", "You said: ")
    server.port, server.host, server.log (lines so far), server.proc
    server.wait_log("disconnect")  # the first line containing the text, waiting for it

``--port 0`` is added unless the arguments name a port, --unix or --config. Every server
is stopped (SIGTERM, then SIGKILL) at the end of the test.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

_LISTENING = re.compile(r"listening on (\S+)")
# Starting Python and binding takes well under a second; a loaded machine gets 20.
START_TIMEOUT = 20.0


class Served:
    def __init__(self, args, env=None):
        full_env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        full_env.update(env or {})
        self.args = args
        self.proc = subprocess.Popen([sys.executable, "-m", "netkit", "serve", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
        self.log = []
        self.addresses = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            with self._changed:
                self.log.append(line.rstrip("\n"))
                match = _LISTENING.search(line)
                if match:
                    self.addresses.append(match.group(1))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_log(self, text, timeout=15.0, count=1):
        """The ``count``-th log line containing ``text`` (AssertionError if it never comes)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.log if text in line]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no log line with {text!r}; log:\n" + "\n".join(self.log))
                self._changed.wait(min(left, 0.2))

    def ready(self, n=1):
        self.wait_log("listening on", timeout=START_TIMEOUT, count=n)
        return self

    @property
    def address(self):
        where = self.addresses[0]
        host, _, port = where.rpartition(":")
        return host.strip("[]"), int(port)

    @property
    def host(self):
        return self.address[0]

    @property
    def port(self):
        return self.address[1]

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    @property
    def text(self):
        return "\n".join(self.log)


@pytest.fixture
def served():
    started = []

    def start(*args, env=None, wait=True, listeners=1):
        args = list(args)
        if not any(a in ("--port", "-p", "--unix", "--config") for a in args):
            args += ["--port", "0"]
        server = Served(args, env)
        started.append(server)
        return server.ready(listeners) if wait else server

    yield start
    for server in started:
        server.stop()
        assert "Traceback" not in server.text, server.text
