"""Fixture ``trickling_ftp``: an FTP server on loopback that is slow the way a hostile (or
broken) one is, where no idle timeout ever fires -- ``trickling_ftp(mode)`` returns the
running server (one per test, stopped at teardown). Any user and password log in.

The tree: ``/top/`` holds ``a.txt``, ``slow.txt`` and ``z.txt`` (MLSD); every file is
TRICKLE_LENGTH bytes of ``t``.

Modes:

``trickle``  RETR of ``slow.txt`` (or of anything with ``-trickle``) sends one byte every
             TRICKLE_PAUSE seconds; the other files come at once
``greet``    the greeting itself trickles (``220`` and then a byte every TRICKLE_PAUSE
             seconds, no end of line): the login never completes
``stall``    STOR accepts the data connection and never reads it (an upload fills the
             socket buffers and blocks)

``server.retrieved`` counts the RETR commands.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from tests.peers._base import running_in_thread
from tests.peers._ftp_base import HOST, FtpHandler

TIME = "20200102030405"
TRICKLE_PAUSE = 0.2
TRICKLE_LENGTH = 1000
FILES = ("a.txt", "slow.txt", "z.txt")
# How long a stalled data connection is held open at most (the test ends it far sooner).
STALL_FOR = 60


class TricklingFtp:
    def __init__(self, host, port, mode):
        self.host = host
        self.port = port
        self.mode = mode
        self.retrieved = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def url(self, path="/top/"):
        return f"ftp://tester:secret@{self.host}:{self.port}{path}"


def _slow(name):
    return name.endswith("slow.txt") or "-trickle" in name


class _Handler(FtpHandler):

    def handle(self):
        state = self.server.state  # type: ignore[attr-defined]
        try:
            if state.mode == "greet":
                self.wfile.write(b"220")
                while not state.stop.wait(TRICKLE_PAUSE):
                    self.wfile.write(b"-")
                    self.wfile.flush()
                return
            self.reply("220 slow ftp ready")
            self.dialogue(state)
        except OSError:
            pass

    def dialogue(self, state):
        listener = None
        offset = 0
        for raw in self.rfile:
            verb, _, arg = raw.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            verb = verb.upper()
            if verb == "USER":
                self.reply("331 password please")
            elif verb == "PASS":
                self.reply("230 logged in")
            elif verb in ("TYPE", "OPTS"):
                self.reply("200 ok")
            elif verb == "SIZE":
                self.reply(f"213 {TRICKLE_LENGTH}")
            elif verb == "MDTM":
                self.reply(f"213 {TIME}")
            elif verb == "REST":
                offset = int(arg) if arg.isdigit() else 0
                self.reply(f"350 restarting at {offset}")
            elif verb == "PASV":
                listener = self.passive()
            elif verb in ("EPSV", "MFMT"):
                self.reply("502 not here")
            elif verb in ("MLSD", "RETR", "STOR"):
                if listener is None:
                    self.reply("425 use PASV first")
                    continue
                self.reply("150 here it comes")
                conn, listener = self.accept_data(listener), None
                if conn is None:
                    continue
                with conn:
                    if verb == "MLSD":
                        conn.sendall("".join(f"type=file;size={TRICKLE_LENGTH};modify={TIME}; {name}\r\n"
                                             for name in FILES).encode())
                    elif verb == "RETR":
                        with state.lock:
                            state.retrieved += 1
                        if _slow(arg):
                            for _ in range(TRICKLE_LENGTH - offset):
                                conn.sendall(b"t")
                                if state.stop.wait(TRICKLE_PAUSE):
                                    return
                        else:
                            conn.sendall(b"t" * (TRICKLE_LENGTH - offset))
                        offset = 0
                    elif state.mode == "stall":
                        state.stop.wait(STALL_FOR)  # never read: the client's sendall blocks
                        return
                    else:
                        while conn.recv(65536):
                            pass
                self.reply("226 done")
            elif verb == "RNFR":
                self.reply("350 go on")
            elif verb == "RNTO":
                self.reply("250 renamed")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@contextlib.contextmanager
def running_trickling_ftp(mode):
    with running_in_thread(_Handler, lambda host, port: TricklingFtp(host, port, mode), f"trickling-ftp-{mode}",
                           HOST) as state:
        try:
            yield state
        finally:
            state.stop.set()  # the handlers stop trickling and stalling


@pytest.fixture
def trickling_ftp():
    """``trickling_ftp(mode)`` -> a running :class:`TricklingFtp` (see the module)."""
    with contextlib.ExitStack() as stack:
        yield lambda mode="trickle": stack.enter_context(running_trickling_ftp(mode))
