"""Session fixture ``faulty_ftp``: a small FTP server on loopback whose data connections
break on purpose (the real pyftpdlib of tests/peers/ftp.py never does).

A threaded socketserver in the test process; any user and password log in. It speaks what
a download needs: USER, PASS, TYPE, SIZE, MDTM, EPSV, PASV, REST, RETR, QUIT (others: 502).
Files (all FAULTY_FTP_BODY, 200 KiB of seeded random bytes):

``cut-once-KEY.bin``  the first RETR for that name sends half the file, closes the data
                      connection and answers ``426 Connection closed; transfer aborted.``;
                      later ones behave
``cut-always.bin``    every RETR is cut that way
``short.bin``         SIZE says the full length; RETR sends half and answers 226 (a server
                      that claims success for a short file)
``ok.bin``            behaves

``faulty_ftp.commands`` lists every command received (``"REST 102400"``, ...), in order.
"""

from __future__ import annotations

import contextlib
import random
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import first_time, running_in_thread

HOST = "127.0.0.1"
FAULTY_FTP_BODY = random.Random(55).randbytes(200 * 1024)


@dataclass
class FaultyFtp:
    host: str
    port: int
    commands: list = field(default_factory=list)
    seen: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"ftp://tester:secret@{self.host}:{self.port}/{name}"


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode("latin-1") + b"\r\n")
        self.wfile.flush()

    def handle(self):
        state = self.server.state  # type: ignore[attr-defined]
        listener = None
        rest = 0
        self.reply("220 faulty ftp ready")
        try:
            for raw in self.rfile:
                line = raw.decode("latin-1").strip()
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                with state.lock:
                    state.commands.append(line)
                if verb == "USER":
                    self.reply("331 password please")
                elif verb == "PASS":
                    self.reply("230 logged in")
                elif verb == "TYPE":
                    self.reply("200 type set")
                elif verb == "SIZE":
                    self.reply(f"213 {len(FAULTY_FTP_BODY)}")
                elif verb == "MDTM":
                    self.reply("213 20200102030405")
                elif verb in ("EPSV", "PASV"):
                    listener = socket.create_server((HOST, 0))
                    port = listener.getsockname()[1]
                    if verb == "EPSV":
                        self.reply(f"229 Entering Extended Passive Mode (|||{port}|)")
                    else:
                        self.reply(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
                elif verb == "REST":
                    rest = int(arg)
                    self.reply(f"350 restarting at {rest}")
                elif verb == "RETR":
                    self.retrieve(state, arg, listener, rest)
                    listener, rest = None, 0
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("502 not implemented")
        except OSError:
            pass

    def retrieve(self, state, name, listener, rest):
        if listener is None:
            self.reply("425 use PASV or EPSV first")
            return
        if name not in ("ok.bin", "cut-always.bin", "short.bin") and not name.startswith("cut-once-"):
            listener.close()
            self.reply("550 no such file")
            return
        first = first_time(state, name)
        cut = name in ("cut-always.bin", "short.bin") or (name.startswith("cut-once-") and first)
        self.reply("150 opening data connection")
        conn, _ = listener.accept()
        listener.close()
        data = FAULTY_FTP_BODY[rest:]
        with conn:
            conn.sendall(data[: len(data) // 2] if cut else data)
        if cut and name != "short.bin":
            self.reply("426 Connection closed; transfer aborted.")
        else:
            self.reply("226 transfer complete")


@contextlib.contextmanager
def running_faulty_ftp() -> Iterator[FaultyFtp]:
    with running_in_thread(_Handler, FaultyFtp, "faulty-ftp", HOST) as state:
        yield state


@pytest.fixture(scope="session")
def faulty_ftp() -> Iterator[FaultyFtp]:
    """An FTP server whose transfers break (see the module docstring)."""
    with running_faulty_ftp() as state:
        yield state
