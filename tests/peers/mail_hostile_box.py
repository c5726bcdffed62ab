"""Fixture ``mail_hostile_box``: a hostile POP3 server and a hostile IMAP server,
in-process on 127.0.0.1 for the test module. The user name picks the mailbox (any
password is accepted):

POP3 (``.pop3_port``):

``controls``   one message whose From and Subject hold ESC sequences, BEL, NUL and an
               encoded CR LF (``=?utf-8?q?a=0D=0ABcc:_x?=``)
``traversal``  four messages with the UIDLs ``../../x``, ``/etc/passwd``, ``..`` and
               ``a/b/../../../y``, one with a UIDL holding a space and one 200 long
``absurd``     a message whose LIST size is 99999999999999999999
``liar``       LIST says 100 bytes; RETR sends ``LIAR_BYTES`` (5 MiB)
``endless``    RETR sends one line that never ends (until the client leaves)
``reset``      three messages; the first RETR of message 2 sends half of it and resets the
               connection (later sessions serve it whole)
``badlist``    a LIST line that is not 'number size'

IMAP (``.imap_port``): ``bomb`` announces a literal of 99999999999 bytes in the FETCH
answer; ``controls`` serves the POP3 ``controls`` message.

``.commands(user)`` lists the commands each user's sessions sent (``PASS`` values kept out).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread
from tests.peers._mail_peer import HOST, MAX_LINE, LineHandler, Recorder

LIAR_BYTES = 5 << 20
# What the endless line sends at most (a bound for the peer, far past any test's limit).
ENDLESS_BYTES = 256 << 20

CONTROLS = (b"From: \x1b]0;owned\x07Evil \x1b[31m<evil@example.org>\r\nTo: you@example.test\r\n"
            b"Subject: =?utf-8?q?a=0D=0ABcc:_x?= \x1b[2J\x00tail\r\nDate: today\r\n\r\nbody\r\n")


def _message(i, uid_note=""):
    return (f"From: m{i}@example.org\r\nSubject: message {i}{uid_note}\r\nMessage-ID: <{i}@hostile.test>\r\n\r\n"
            + "line of the body\r\n" * 20).encode()


MAILBOXES = {
    "controls": [("ctl1", CONTROLS)],
    "traversal": [("../../x", _message(1)), ("/etc/passwd", _message(2)), ("..", _message(3)),
                  ("a/b/../../../y", _message(4)), ("has space", _message(5)), ("z" * 200, _message(6))],
    "absurd": [("abs1", _message(1))],
    "liar": [("liar1", _message(1))],
    "endless": [("end1", _message(1))],
    "reset": [("r1", _message(1)), ("r2", _message(2)), ("r3", _message(3))],
    "badlist": [("b1", _message(1))],
}


class Peers(Recorder):
    def __init__(self):
        super().__init__()
        self.reset_done = False
        self.pop3_port = self.imap_port = 0


class _Pop3(LineHandler):
    def handle(self):
        peers = self.server.peers
        user = None
        try:
            self.say(b"+OK hostile POP3 ready\r\n")
            while raw := self.rfile.readline(MAX_LINE):
                line = raw.rstrip(b"\r\n").decode("latin-1")
                verb, _, arg = line.partition(" ")
                verb = verb.upper()
                if user is not None:
                    peers.record(user, line if verb != "PASS" else "PASS")
                box = MAILBOXES.get(user or "", [])
                if verb == "USER":
                    user = arg
                    self.say(b"+OK\r\n")
                elif verb == "PASS":
                    self.say(b"+OK logged in\r\n")
                elif verb == "CAPA":
                    self.say(b"+OK\r\nUIDL\r\nTOP\r\nUSER\r\n.\r\n")
                elif verb == "STAT":
                    self.say(f"+OK {len(box)} {sum(len(m) for _, m in box)}\r\n".encode())
                elif verb == "LIST":
                    self.say(b"+OK\r\n" + b"".join(self._size_line(user, i, m) for i, (_, m) in enumerate(box, 1))
                             + b".\r\n")
                elif verb == "UIDL":
                    self.say(b"+OK\r\n" + b"".join(f"{i} {u}\r\n".encode() for i, (u, _) in enumerate(box, 1))
                             + b".\r\n")
                elif verb in ("RETR", "TOP"):
                    if self._send_message(user, box, verb, arg) is False:
                        return
                elif verb == "QUIT":
                    self.say(b"+OK bye\r\n")
                    return
                else:
                    self.say(b"+OK\r\n")
        except OSError:
            pass

    def _size_line(self, user, i, message):
        if user == "absurd":
            return f"{i} 99999999999999999999\r\n".encode()
        if user == "liar":
            return f"{i} 100\r\n".encode()
        if user == "badlist":
            return b"one hundred\r\n"
        return f"{i} {len(message)}\r\n".encode()

    def _send_message(self, user, box, verb, arg):
        number = int(arg.split(" ")[0]) if arg.split(" ")[0].isdigit() else 0
        if not 1 <= number <= len(box):
            self.say(b"-ERR no such message\r\n")
            return None
        message = box[number - 1][1]
        if verb == "TOP":
            message = message.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
        self.say(b"+OK message follows\r\n")
        if verb == "RETR" and user == "liar":
            line = b"x" * 1022 + b"\r\n"
            for _ in range(LIAR_BYTES // len(line)):
                self.say(line)
        elif verb == "RETR" and user == "endless":
            chunk = b"y" * 65536
            for _ in range(ENDLESS_BYTES // len(chunk)):
                self.say(chunk)
            return False
        elif verb == "RETR" and user == "reset" and number == 2:
            peers = self.server.peers
            with peers.lock:
                first, peers.reset_done = not peers.reset_done, True
            if first:
                self.say(message[: len(message) // 2])
                import socket
                import struct

                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False  # closed with linger 0: a reset
        self.say(message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        return None


class _Imap(LineHandler):
    def handle(self):
        user = None
        try:
            self.say(b"* OK [CAPABILITY IMAP4rev1] hostile IMAP ready\r\n")
            while raw := self.rfile.readline(MAX_LINE):
                tag, _, rest = raw.rstrip(b"\r\n").decode("latin-1").partition(" ")
                verb, _, arg = rest.partition(" ")
                verb = verb.upper()
                if verb == "CAPABILITY":
                    self.say(f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n".encode())
                elif verb == "LOGIN":
                    user = arg.split(" ")[0].strip('"')
                    self.say(f"{tag} OK logged in\r\n".encode())
                elif verb in ("SELECT", "EXAMINE"):
                    self.say(f"* 1 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-ONLY] done\r\n".encode())
                elif verb == "UID" and arg.upper().startswith("FETCH"):
                    if user == "bomb":
                        self.say(b"* 1 FETCH (UID 1 RFC822.SIZE 10 BODY[HEADER.FIELDS (FROM)] {99999999999}\r\n")
                        self.say(b"x" * 1000)
                        return
                    head = CONTROLS.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
                    self.say(f"* 1 FETCH (UID 1 RFC822.SIZE {len(CONTROLS)} BODY[HEADER.FIELDS (FROM)] "
                             f"{{{len(head)}}}\r\n".encode() + head + b")\r\n" + f"{tag} OK done\r\n".encode())
                elif verb == "LOGOUT":
                    self.say(f"* BYE\r\n{tag} OK bye\r\n".encode())
                    return
                else:
                    self.say(f"{tag} OK\r\n".encode())
        except OSError:
            pass


@pytest.fixture(scope="module")
def mail_hostile_box() -> Iterator[Peers]:
    peers = Peers()
    with contextlib.ExitStack() as stack:
        for name, handler in (("pop3", _Pop3), ("imap", _Imap)):
            server = ThreadingServer((HOST, 0), handler)
            server.peers = peers  # type: ignore[attr-defined]
            setattr(peers, f"{name}_port", server.server_address[1])
            stack.enter_context(serve_in_thread(server, f"mail-hostile-{name}"))
        yield peers
