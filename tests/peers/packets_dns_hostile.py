"""``hostile_dns`` (session): a UDP DNS "server" on 127.0.0.1 whose answers lie, chosen by
the first label of the name asked (``<kind>.hostile.test``):

``loop``     the answer's owner name is a compression pointer to itself
``forward``  a compression pointer that points forward (past itself)
``counts``   the header counts 65535 answers, one is there
``short``    5 bytes
``rdlength`` one answer whose RDLENGTH runs 5000 bytes past the end
``label``    a label of the reserved type 0x40
``escape``   a well-formed answer whose names and TXT hold ESC, BEL and CR (``ESCAPE_A``
             is its A record's address)
``spoof``    first a reply with another id, then one with another question, then the right
             answer (A ``SPOOF_A``)
``silent``   nothing at all

``.host``, ``.port``, ``.asked`` (names seen).
"""

from __future__ import annotations

import socket
import socketserver
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import serve_in_thread

ESCAPE_A = "192.0.2.66"
SPOOF_A = "192.0.2.77"
KINDS = ("loop", "forward", "counts", "short", "rdlength", "label", "escape", "spoof", "silent")


@dataclass
class HostileDns:
    host: str
    port: int
    asked: list = field(default_factory=list)


def _label_name(name: bytes) -> bytes:
    return b"".join(bytes([len(p)]) + p for p in name.rstrip(b".").split(b".")) + b"\0"


def _rr(owner: bytes, rtype: int, rdata: bytes, ttl: int = 60) -> bytes:
    return owner + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def answers(query: bytes) -> list[bytes]:
    """The datagrams sent back to ``query``."""
    qid = query[:2]
    end = query.index(b"\0", 12) + 5
    question = query[12:end]
    kind = question[1:1 + question[0]].decode("ascii", "replace")

    def header(flags=0x8580, qd=1, an=1, ns=0, ar=0, ident=qid):
        return ident + struct.pack("!HHHHH", flags, qd, an, ns, ar)

    start = 12 + len(question)  # where the answer section begins
    if kind == "loop":
        return [header() + question + struct.pack("!H", 0xC000 | start) + struct.pack("!HHIH", 1, 1, 60, 4)
                + b"\1\2\3\4"]
    if kind == "forward":
        return [header() + question + struct.pack("!H", 0xC000 | (start + 40)) + struct.pack("!HHIH", 1, 1, 60, 4)
                + b"\1\2\3\4" + b"\0" * 40]
    if kind == "counts":
        return [header(an=65535) + question + _rr(b"\xc0\x0c", 1, b"\1\2\3\4")]
    if kind == "short":
        return [qid + b"\x85\x80\0"]
    if kind == "rdlength":
        return [header() + question + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 5000) + b"\1\2\3\4"]
    if kind == "label":
        return [header() + question + b"\x41xx\0" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\1\2\3\4"]
    if kind == "escape":
        evil = _label_name(b"\x1b[31mred\x07.bell\r.hostile.test")
        return [header(an=3) + question + _rr(b"\xc0\x0c", 1, socket.inet_aton(ESCAPE_A))
                + _rr(b"\xc0\x0c", 16, b"\x0bx\x1b]0;pwn\x07y") + _rr(b"\xc0\x0c", 5, evil)]
    if kind == "spoof":
        other_id = bytes([qid[0] ^ 0xFF, qid[1]])
        other_q = _label_name(b"other.hostile.test") + b"\0\1\0\1"
        good = _rr(b"\xc0\x0c", 1, socket.inet_aton(SPOOF_A))
        return [header(ident=other_id) + question + good, header() + other_q + good, header() + question + good]
    return []  # silent, or a name we do not know


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        try:
            self.server.asked.append(data[12:].split(b"\0", 1)[0])  # type: ignore[attr-defined]
            replies = answers(data)
        except (ValueError, IndexError):
            return
        for reply in replies:
            sock.sendto(reply, self.client_address)


@pytest.fixture(scope="session")
def hostile_dns() -> Iterator[HostileDns]:
    server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    peer = HostileDns("127.0.0.1", server.server_address[1])
    server.asked = peer.asked  # type: ignore[attr-defined]
    with serve_in_thread(server, "hostile dns"):
        yield peer
