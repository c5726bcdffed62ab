"""Fixture ``hostile_ssh``: an SSH server (asyncssh, in a thread) that misbehaves on request,
for what OpenSSH's sshd never does. No login is asked (any client gets in); the command
chooses the fault:

``hang``              never ends, ignores signal requests, never closes the channel.
``evil-signal``       ends "killed" by a signal whose name is an OSC title sequence.
``evil-disconnect``   disconnects with a reason holding ESC sequences.
``evil-output``       prints ESC/OSC sequences, a bell and a lone CR, then exits 0.
anything else         exits 0 (so netkit's helper commands "work" and change nothing).

Attributes: ``host``, ``port``, ``known_hosts`` (its host key for ``[127.0.0.1]:PORT``),
``label`` (``127.0.0.1:PORT``), ``commands`` (every command received, in order),
``signals`` (signal names received on ``hang`` channels).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"
# What the evil commands send: an OSC window title, CSI colours and clear screen, a bell.
OSC_TITLE = "\x1b]0;owned\x07"
EVIL_OUTPUT = f"{OSC_TITLE}hello\x1b[31m red\x1b[2J\a\rover\n"
EVIL_REASON = "bye\x1b[2J\x1b]0;owned\x07"
# How long the server thread may take to start listening.
START_TIMEOUT = 10.0


@dataclass
class HostileSsh:
    host: str
    port: int
    known_hosts: Path
    commands: list = field(default_factory=list)
    signals: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def _serve(state: HostileSsh, key, ready: threading.Event, stop: list):
    import asyncssh

    class Session(asyncssh.SSHServerSession):
        command = ""

        def connection_made(self, chan):
            self.chan = chan

        def pty_requested(self, term_type, term_size, term_modes):
            return True

        def exec_requested(self, command):
            self.command = command
            return True

        def session_started(self):
            state.commands.append(self.command)
            if self.command == "hang":
                return  # no output, no exit, no close: whatever the client asks
            if self.command == "evil-signal":
                self.chan.exit_with_signal(OSC_TITLE, False, "evil")
            elif self.command == "evil-disconnect":
                self.chan.get_connection().disconnect(asyncssh.DISC_SERVICE_NOT_AVAILABLE, EVIL_REASON)
            else:
                if self.command == "evil-output":
                    self.chan.write(EVIL_OUTPUT.encode())
                    self.chan.write_stderr(f"err{OSC_TITLE}\n".encode())
                self.chan.exit(0)

        def signal_received(self, signal):
            state.signals.append(signal)

        def eof_received(self):
            return True  # stay half open: "hang" never closes

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username):
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
def running_hostile_ssh(directory: Path) -> Iterator[HostileSsh]:
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    state = HostileSsh(HOST, 0, directory / "known_hosts")
    ready, stop = threading.Event(), []
    thread = threading.Thread(target=_serve, args=(state, key, ready, stop), name="hostile-ssh", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise RuntimeError("the hostile SSH server did not start")
    public = key.export_public_key("openssh").decode().split()[:2]
    state.known_hosts.write_text(f"[{HOST}]:{state.port} {' '.join(public)}\n")
    try:
        yield state
    finally:
        stop[0]()
        thread.join(START_TIMEOUT)


@pytest.fixture
def hostile_ssh(tmp_path) -> Iterator[HostileSsh]:
    with running_hostile_ssh(tmp_path) as server:
        yield server
