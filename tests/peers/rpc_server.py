"""``netkit rpc serve`` as a child process, for tests and benchmarks: started on port 0,
its address read from its first log line, stopped with SIGTERM.

Also the texts' own sample files: the root the admin set sees (a file, a directory, a
link pointing out of it) and a ``--module`` with the texts' ``pow``/``add`` and the value
class ``psacb.PSACB`` that Pyro and PB clients send to ``cb``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import clean_env

# The server prints its address once it listens: well under a second, a loaded box longer.
START_SECONDS = 20.0
ADDRESS = re.compile(r" on (\S+) \(")

MODULE = '''\
"""The texts' pow/add server (001) as a netkit --module, and example 5.8's PSACB."""
from netkit.rpc import expose, value_class


@expose
def add(x, y):
    """add(x, y): x + y."""
    return x + y


@expose(name="pow")
def power(x, y):
    """pow(x, y): x ** y, bounded."""
    if abs(y) > 64:
        raise ValueError("the exponent is at most 64")
    return x ** y


@expose
def sleep(seconds):
    """sleep(s): waits (to test deadlines)."""
    import time
    time.sleep(seconds)
    return seconds


@expose
def crash():
    """crash(): a bug on the server (its traceback must stay there)."""
    secret_local_variable = "do-not-leak"
    return {}[secret_local_variable]


def not_exposed():
    return "never reachable"


helper = {"data": not_exposed}


@value_class("psacb.PSACB", "psacbpb.PSACB")
class PSACB:
    """What example 5.8's client sends: the server rebuilds it as this class."""

    def __init__(self):
        self.some_attribute = 1

    def cb(self):
        return "PSA callback"
'''

# The client side of example 5.8: its PSACB, importable as psacb.PSACB; for PB, whose
# jelly sends only Copyable objects, psacbpb.PSACB.
CLIENT_CLASS = '''\
class PSACB:
    def __init__(self):
        self.some_attribute = 1

    def cb(self):
        return "PSA callback"
'''
CLIENT_CLASS_PB = '''\
from twisted.spread import pb


class PSACB(pb.Copyable):
    def __init__(self):
        self.some_attribute = 1

    def cb(self):
        return "PSA callback"


class Unlisted(pb.Copyable):
    """A class the server never registered: jelly refuses it."""
'''


def make_root(top: Path) -> Path:
    """A --root: sub/f.txt, a log of 50 lines, and ``out`` linking to /etc."""
    root = top / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f.txt").write_text("hello\n")
    (root / "app.log").write_text("".join(f"line {i}\n" for i in range(1, 51)))
    os.symlink("/etc", root / "out")
    os.symlink("/etc/passwd", root / "sub" / "passwd")
    return root


def write_module(top: Path) -> Path:
    path = top / "tools.py"
    path.write_text(MODULE)
    (top / "psacb.py").write_text(CLIENT_CLASS)
    (top / "psacbpb.py").write_text(CLIENT_CLASS_PB)
    return path


class RpcServer:
    """A running ``netkit rpc serve``: ``url`` (http://..., PYRO:..., pb://...), ``log()``."""

    def __init__(self, args, log_file: Path, env=None, src=None):
        self.log_file = log_file
        src = src or str(Path(__file__).resolve().parents[2] / "src")
        full_env = clean_env(env)
        full_env["PYTHONPATH"] = src + os.pathsep + full_env.get("PYTHONPATH", "")
        with open(log_file, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "netkit", "rpc", "serve", "--port", "0", *map(str, args)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                         start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while True:
            match = ADDRESS.search(self.log())
            if match:
                self.url = match.group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"netkit rpc serve did not start:\n{self.log()}")
            time.sleep(0.02)
        host_port = re.search(r"@?\[?([0-9.:a-f]+?)\]?:(\d+)", self.url.split("//")[-1].split("@")[-1])
        self.host, self.port = host_port.group(1), int(host_port.group(2))

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def rpc_server(tmp_path: Path, *args, env=None):
    server = RpcServer(args, tmp_path / f"rpc-{time.monotonic_ns()}.log", env=env)
    try:
        yield server
    finally:
        server.stop()


def wait_for_log(server: RpcServer, text: str, seconds: float = 5.0) -> bool:
    """True once ``text`` is in the server's log (a refusal is logged just after the
    client saw the connection close)."""
    deadline = time.monotonic() + seconds
    while text not in server.log():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
