"""Fixture ``attack_ssh``: an SSH server (asyncssh, in a thread) for the red team. No login
is asked; an auth banner full of terminal sequences is sent to every client; the command
chooses the fault:

``binary``      writes BINARY (not UTF-8) to stdout and stderr, exits 0
``bigsignal``   ends "killed" by a signal whose name is BIG_SIGNAL (100 KB, ESC inside)
                with an error message of terminal sequences
anything else   exits 0

Attributes: ``label`` (``127.0.0.1:PORT``), ``known_hosts`` (its host key).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
BIG_SIGNAL = "A" * 100_000 + "\x1b[2J"
# Output that is no UTF-8: lone continuation bytes, an overlong NUL, a surrogate's bytes.
BINARY = b"\xff\xfe ok \xc0\x80 \xed\xa0\x80 \x80\n"
BANNER = "Welcome \x1b]0;owned\x07\x1b[2J banner\n"
# How long the server thread may take to start listening.
START_TIMEOUT = 10.0


@dataclass
class AttackSsh:
    host: str
    port: int
    known_hosts: Path

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def _serve(state: AttackSsh, key, ready: threading.Event, stop: list):
    import asyncssh

    class Session(asyncssh.SSHServerSession):
        command = ""

        def connection_made(self, chan):
            self.chan = chan

        def exec_requested(self, command):
            self.command = command
            return True

        def session_started(self):
            if self.command == "bigsignal":
                self.chan.exit_with_signal(BIG_SIGNAL, False, "m\x1b]0;x\x07" * 1000)
            elif self.command == "binary":
                self.chan.write(BINARY)
                self.chan.write_stderr(BINARY)
                self.chan.exit(0)
            else:
                self.chan.exit(0)

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn):
            self.conn = conn

        def begin_auth(self, username):
            self.conn.send_auth_banner(BANNER)
            return False  # no login asked

        def session_requested(self):
            return Session()

    async def main():
        server = await asyncssh.listen(HOST, 0, server_host_keys=[key], server_factory=Server, encoding=None)
        state.port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        stop.append(lambda: loop.call_soon_threadsafe(done.set_result, None))
        ready.set()
        await done
        server.close()

    asyncio.run(main())


@contextlib.contextmanager
def running_attack_ssh(directory: Path) -> Iterator[AttackSsh]:
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    state = AttackSsh(HOST, 0, directory / "known_hosts")
    ready, stop = threading.Event(), []
    thread = threading.Thread(target=_serve, args=(state, key, ready, stop), name="attack-ssh", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise RuntimeError("the red team's SSH server did not start")
    public = key.export_public_key("openssh").decode().split()[:2]
    state.known_hosts.write_text(f"[{HOST}]:{state.port} {' '.join(public)}\n")
    try:
        yield state
    finally:
        stop[0]()
        thread.join(START_TIMEOUT)


@pytest.fixture
def attack_ssh(tmp_path) -> Iterator[AttackSsh]:
    with running_attack_ssh(tmp_path) as server:
        yield server
