"""Fixture ``hostile_ftp``: start an FTP server on loopback that lies the way an attacker's
would -- ``hostile_ftp(mode, outside=PATH)`` returns the running server (one per test,
stopped at teardown). Any user and password log in.

Modes:

``names``     MLSD of any directory lists, besides ``good.txt`` and a ``sub/`` holding
              ``inner.txt``: ``..``/``.`` as directories (``cdir``/``pdir`` and plain
              ``dir``), ``../evil``, ``../../evil``, ``sub/../../../evil``, the absolute
              ``outside``, an empty name, ``a/b`` and a name with a NUL; RETR of any name
              sends ``content of NAME``
``list``      as ``names``, but MLSD is not understood (500, as vsftpd): the same entries
              come as a Unix-style LIST (with a ``total`` line and a link)
``loop``      every directory holds ``again/`` (a link to itself) and ``f.txt``: an endless
              tree, no ``unique`` fact
``loopu``     the same with MLSD's ``unique`` fact (the same id for every level)
``random``    the greeting is 4 KiB of random bytes
``nocode``    every reply is a line without a code
``endless``   the greeting is a line that never ends (1 MiB, no newline)
``prelim``    the greeting is ``120-`` and continuation lines for ever
``pasv0``     PASV names port 0
``pasvbig``   PASV names port 999*256+999
``pasvother`` PASV names 10.255.255.1 and a real port on loopback (the data must come
              from the control connection's host, as ftplib and curl do)

``server.commands`` lists the command lines received.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading

import pytest

from tests.peers._base import running_in_thread
from tests.peers._ftp_base import HOST, FtpHandler

TIME = "20200102030405"


def content(name: str) -> bytes:
    return b"content of " + os.path.basename(name).encode("utf-8", "surrogateescape")


class HostileFtp:
    def __init__(self, host, port, mode, outside):
        self.host = host
        self.port = port
        self.mode = mode
        self.outside = outside
        self.commands = []
        self.lock = threading.Lock()

    def url(self, path="/top/"):
        return f"ftp://tester:secret@{self.host}:{self.port}{path}"


def _listing(state, path) -> list[str]:
    def file(name):
        return f"type=file;size={len(content(name))};modify={TIME}; {name}"

    if state.mode in ("loop", "loopu"):
        unique = ";unique=AB12" if state.mode == "loopu" else ""
        return [f"type=cdir{unique}; .", f"type=pdir; ..", f"type=dir{unique}; again", file("f.txt")]
    if path.rstrip("/").endswith("sub"):
        return ["type=cdir; .", "type=pdir; ..", "type=dir; ..", file("inner.txt")]
    return ["type=cdir; .", "type=pdir; ..", "type=dir; .", "type=dir; ..", file("good.txt"), "type=dir; sub",
            file("../evil"), file("../../evil"), file("sub/../../../evil"), file(state.outside),
            "type=file;size=1; ", file("a/b"), file("nul\0name"), "type=dir; ../up"]


def _unix_listing(state, path) -> list[str]:
    """The MLSD entries of ``path`` as ``ls -l`` lines."""
    lines = ["total 8", "lrwxrwxrwx 1 ftp ftp 1 Jan 02  2020 link -> /etc"]
    for entry in _listing(state, path):
        facts, _, name = entry.partition(" ")
        kind = facts.split(";")[0].removeprefix("type=")
        size = len(content(name)) if kind == "file" else 4096
        if kind in ("file", "dir") and name:
            lines.append(f"{'d' if kind == 'dir' else '-'}rw-r--r-- 1 ftp ftp {size} Jan 02  2020 {name}")
    return lines


class _Handler(FtpHandler):

    def handle(self):
        state = self.server.state  # type: ignore[attr-defined]
        mode = state.mode
        try:
            if mode == "random":
                self.wfile.write(os.urandom(4096))
                return
            if mode == "endless":
                self.wfile.write(b"220 " + b"x" * (1 << 20))
                return
            if mode == "prelim":
                self.reply("120-not ready yet")
                while True:
                    self.reply(" still not ready")
            self.reply("nothing here looks like FTP" if mode == "nocode" else "220 hostile ftp ready")
            self.dialogue(state)
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
            if state.mode == "nocode":
                self.reply("sure, whatever you say")
            elif verb == "USER":
                self.reply("331 password please")
            elif verb == "PASS":
                self.reply("230 logged in")
            elif verb in ("TYPE", "OPTS"):
                self.reply("200 ok")
            elif verb == "SIZE":
                self.reply(f"213 {len(content(arg))}")
            elif verb == "MDTM":
                self.reply(f"213 {TIME}")
            elif verb == "PASV":
                listener = socket.create_server((HOST, 0))
                port = listener.getsockname()[1]
                if state.mode == "pasv0":
                    port = 0
                host = "10,255,255,1" if state.mode == "pasvother" else "127,0,0,1"
                hi, lo = (999, 999) if state.mode == "pasvbig" else (port >> 8, port & 255)
                self.reply(f"227 Entering Passive Mode ({host},{hi},{lo})")
            elif verb == "EPSV":
                self.reply("502 use PASV")
            elif verb == "MLSD" and state.mode == "list":
                self.reply("500 unknown command MLSD")
            elif verb in ("MLSD", "RETR", "LIST"):
                if listener is None:
                    self.reply("425 use PASV first")
                    continue
                self.reply("150 here it comes")
                conn, listener = self.accept_data(listener), None
                if conn is None:
                    continue
                with conn:
                    if verb == "MLSD":
                        conn.sendall("".join(x + "\r\n" for x in _listing(state, arg)).encode("utf-8", "surrogateescape"))
                    elif verb == "LIST":
                        conn.sendall("".join(x + "\r\n" for x in _unix_listing(state, arg)).encode("utf-8",
                                                                                                  "surrogateescape"))
                    else:
                        conn.sendall(content(arg))
                self.reply("226 done")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@contextlib.contextmanager
def running_hostile_ftp(mode, outside="/nonexistent/outside"):
    with running_in_thread(_Handler, lambda host, port: HostileFtp(host, port, mode, str(outside)),
                           f"hostile-ftp-{mode}", HOST) as state:
        yield state


@pytest.fixture
def hostile_ftp():
    """``hostile_ftp(mode, outside=...)`` -> a running :class:`HostileFtp` (see the module)."""
    with contextlib.ExitStack() as stack:
        yield lambda mode, outside="/nonexistent/outside": stack.enter_context(running_hostile_ftp(mode, outside))
