"""Fixture ``attack_ftp``: a small FTP server on loopback (any login) whose listings carry
names made to attack a terminal or a log: ``NAMES`` (an OSC title and screen clear, a
newline that forges a second log line, a lone CR, a bidi override, C1 CSI), and whose
facts lie: MDTM and MLSD ``modify`` of year 99999 and garbage, SIZE of 10**30.

Every directory lists the same NAMES as files plus ``plain.txt``; RETR of any name sends
``content of NAME``. ``state.commands`` lists the command lines received.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest

from tests.peers._base import running_in_thread
from tests.peers._ftp_base import HOST, FtpHandler

NAMES = ("\x1b]0;owned\x07title.txt", "two\nHost: forged.txt", "cr\rover.txt", "rtl\u202etxt.exe", "csi\u009b2J.txt")
BAD_TIMES = ("999991231235959", "garbage", "")


def content(name: str) -> bytes:
    return b"content of " + os.path.basename(name).encode("utf-8", "surrogateescape")


class AttackFtp:
    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.commands = []
        self.lock = threading.Lock()

    def url(self, path="/top/"):
        return f"ftp://tester:secret@{self.host}:{self.port}{path}"


def _listing() -> list[str]:
    lines = ["type=cdir; .", "type=pdir; ..", f"type=file;size={len(content('plain.txt'))};modify=20200102030405; plain.txt"]
    for i, name in enumerate(NAMES):
        lines.append(f"type=file;size={len(content(name))};modify={BAD_TIMES[i % len(BAD_TIMES)]}; {name}")
    return lines


class _Handler(FtpHandler):

    def handle(self):
        try:
            self.reply("220 attack ftp ready")
            self.dialogue(self.server.state)  # type: ignore[attr-defined]
        except OSError:
            pass

    def dialogue(self, state):
        listener = None
        for raw in self.rfile:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            with state.lock:
                state.commands.append(line)
            if verb == "USER":
                self.reply("331 password please")
            elif verb == "PASS":
                self.reply("230 logged in")
            elif verb in ("TYPE", "OPTS"):
                self.reply("200 ok")
            elif verb == "SIZE":
                self.reply("213 " + "1" + "0" * 30)
            elif verb == "MDTM":
                self.reply("213 999991231235959")
            elif verb == "PASV":
                listener = self.passive()
            elif verb == "EPSV":
                self.reply("502 use PASV")
            elif verb in ("MLSD", "RETR"):
                if listener is None:
                    self.reply("425 use PASV first")
                    continue
                self.reply("150 here it comes")
                conn, listener = self.accept_data(listener), None
                if conn is None:
                    continue
                with conn:
                    if verb == "MLSD":
                        conn.sendall("".join(x + "\r\n" for x in _listing()).encode("utf-8", "surrogateescape"))
                    else:
                        conn.sendall(content(arg))
                self.reply("226 done")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@contextlib.contextmanager
def running_attack_ftp() -> Iterator[AttackFtp]:
    with running_in_thread(_Handler, AttackFtp, "attack-ftp", HOST) as state:
        yield state


@pytest.fixture
def attack_ftp() -> Iterator[AttackFtp]:
    with running_attack_ftp() as state:
        yield state
