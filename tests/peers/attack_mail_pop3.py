"""A POP3 server for the red team on ``netkit mail fetch`` (what
tests/peers/mail_hostile_box.py does not try), in-process on 127.0.0.1; the user name
picks the mailbox, any password is accepted:

``dupes``      two different messages under one UIDL (``same``)
``fromline``   a body with ``From `` and ``>From `` lines at their starts (mbox quoting)
``chunkcr``    a line whose CR LF straddles the client's read of 64 KiB (its CR the
               last byte of one read, its LF the first of the next)
``shifting``   a new UIDL for the same message at every session
``fatlist``    a LIST of :data:`FAT_LINES` lines of 2000 bytes each (``n 100`` and padding
               a lenient parser skips): within every per-line bound, 120 MB in all

``.commands(user)`` lists what each user's sessions sent (PASS values kept out).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread
from tests.peers._mail_peer import HOST, MAX_LINE, LineHandler, Recorder

# netkit.mail._pop3.CHUNK: the line below puts its CR last in one read of that size.
CLIENT_CHUNK = 64 << 10

FROMLINE = (b"From: a@example.org\r\nSubject: quoting\r\n\r\nFrom the start of a line\r\n>From quoted once\r\n"
            b"not From here\r\n")
# Lines of the fat LIST: each 2000 bytes, under poplib's 2048-byte line bound.
FAT_LINES = 60_000
CHUNKCR = b"From: c@example.org\r\nSubject: long line\r\n\r\n" + b"z" * (CLIENT_CHUNK - 1) + b"\r\nnext line\r\n"


def _message(i):
    return f"From: m{i}@example.org\r\nSubject: message {i}\r\nMessage-ID: <{i}@attack.test>\r\n\r\nbody {i}\r\n".encode()


MAILBOXES = {
    "dupes": [("same", _message(1)), ("same", _message(2))],
    "fromline": [("f1", FROMLINE)],
    "chunkcr": [("c1", CHUNKCR)],
    "shifting": [(None, _message(7))],
}


class Peers(Recorder):
    def __init__(self):
        super().__init__()
        self.port = 0
        self.sessions = itertools.count(1)


class _Pop3(LineHandler):
    def handle(self):
        peers = self.server.peers
        session = next(peers.sessions)
        user = None
        try:
            self.say(b"+OK attack POP3 ready\r\n")
            while raw := self.rfile.readline(MAX_LINE):
                line = raw.rstrip(b"\r\n").decode("latin-1")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if user is not None:
                    peers.record(user, line if verb != "PASS" else "PASS")
                box = [(uid or f"shift{session}", m) for uid, m in MAILBOXES.get(user or "", [])]
                if verb == "USER":
                    user = arg
                    self.say(b"+OK\r\n")
                elif verb == "LIST" and user == "fatlist":
                    self.say(b"+OK\r\n")
                    pad = b" " + b"p" * 1980 + b"\r\n"
                    for i in range(1, FAT_LINES + 1):
                        self.wfile.write(f"{i} 100".encode() + pad)
                    self.say(b".\r\n")
                elif verb == "LIST":
                    self.say(b"+OK\r\n" + b"".join(f"{i} {len(m)}\r\n".encode() for i, (_, m) in enumerate(box, 1))
                             + b".\r\n")
                elif verb == "UIDL":
                    self.say(b"+OK\r\n" + b"".join(f"{i} {u}\r\n".encode() for i, (u, _) in enumerate(box, 1))
                             + b".\r\n")
                elif verb in ("RETR", "TOP"):
                    number = int(arg.split(" ")[0]) if arg.split(" ")[0].isdigit() else 0
                    if not 1 <= number <= len(box):
                        self.say(b"-ERR no such message\r\n")
                        continue
                    message = box[number - 1][1]
                    if verb == "TOP":
                        message = message.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                    self.say(b"+OK\r\n" + message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
                elif verb == "QUIT":
                    self.say(b"+OK bye\r\n")
                    return
                else:
                    self.say(b"+OK\r\n")
        except OSError:
            pass


@pytest.fixture(scope="module")
def attack_pop3() -> Iterator[Peers]:
    peers = Peers()
    server = ThreadingServer((HOST, 0), _Pop3)
    server.peers = peers  # type: ignore[attr-defined]
    peers.port = server.server_address[1]
    with contextlib.ExitStack() as stack:
        stack.enter_context(serve_in_thread(server, "attack-pop3"))
        yield peers
