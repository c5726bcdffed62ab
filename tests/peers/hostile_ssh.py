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

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers._asyncssh import running_asyncssh

HOST = "127.0.0.1"
# What the evil commands send: an OSC window title, CSI colours and clear screen, a bell.
OSC_TITLE = "\x1b]0;owned\x07"
EVIL_OUTPUT = f"{OSC_TITLE}hello\x1b[31m red\x1b[2J\a\rover\n"
EVIL_REASON = "bye\x1b[2J\x1b]0;owned\x07"


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


def _server_class(state: HostileSsh):
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
                # The DISCONNECT goes out now and the socket closes a moment later, not at once
                # as disconnect() does: a close with the client's last packets unread is a TCP
                # reset, which can overtake the DISCONNECT on a loaded machine.
                import asyncio

                conn = self.chan.get_connection()
                conn._send_disconnect(asyncssh.DISC_SERVICE_NOT_AVAILABLE, EVIL_REASON, "en-US")
                asyncio.get_running_loop().call_later(0.5, conn.abort)
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

    return Server


@contextlib.contextmanager
def running_hostile_ssh(directory: Path) -> Iterator[HostileSsh]:
    state = HostileSsh(HOST, 0, directory / "known_hosts")
    with running_asyncssh("hostile-ssh", state.known_hosts, server_factory=_server_class(state),
                          encoding=None) as ssh:
        state.port = ssh.port
        yield state


@pytest.fixture
def hostile_ssh(tmp_path) -> Iterator[HostileSsh]:
    with running_hostile_ssh(tmp_path) as server:
        yield server
