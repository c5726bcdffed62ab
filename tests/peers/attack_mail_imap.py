"""An IMAP server for the red team on ``netkit mail fetch`` (what
tests/peers/mail_hostile_box.py does not try), in-process on 127.0.0.1; the user name picks
the behaviour, any password is accepted. One message, UID 1:

``liar``   lists RFC822.SIZE 100, then sends BODY[] as a literal of :data:`LIAR_BYTES`
``swap``   answers the FETCH of UID 1's body with the body of UID 2
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers._base import ThreadingServer, serve_in_thread
from tests.peers._mail_peer import HOST, MAX_LINE, LineHandler

# The liar's literal: far past the 100 bytes it listed, well inside the 1 GiB hard cap.
LIAR_BYTES = 48 << 20
MESSAGE = b"From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"


class _Imap(LineHandler):
    def handle(self):
        user = None
        try:
            self.say(b"* OK [CAPABILITY IMAP4rev1] attack IMAP ready\r\n")
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
                    if "BODY.PEEK[]" not in arg.upper():
                        size = 100 if user == "liar" else len(MESSAGE)
                        self.say(f"* 1 FETCH (UID 1 RFC822.SIZE {size})\r\n{tag} OK done\r\n".encode())
                    elif user == "liar":
                        self.say(f"* 1 FETCH (UID 1 BODY[] {{{LIAR_BYTES}}}\r\n".encode())
                        line = b"x" * 1022 + b"\r\n"
                        for _ in range(LIAR_BYTES // len(line)):
                            self.wfile.write(line)
                        self.say(b")\r\n" + f"{tag} OK done\r\n".encode())
                    else:
                        self.say(f"* 1 FETCH (UID 2 BODY[] {{{len(MESSAGE)}}}\r\n".encode() + MESSAGE + b")\r\n"
                                 + f"{tag} OK done\r\n".encode())
                elif verb == "LOGOUT":
                    self.say(f"* BYE\r\n{tag} OK bye\r\n".encode())
                    return
                else:
                    self.say(f"{tag} OK\r\n".encode())
        except OSError:
            pass


@pytest.fixture(scope="module")
def attack_imap() -> Iterator[int]:
    server = ThreadingServer((HOST, 0), _Imap)
    with serve_in_thread(server, "attack-imap"):
        yield server.server_address[1]
