"""Fixture ``attack_dns``: a hostile DNS server on loopback UDP (and TCP on the same port).
The first label of the query name chooses the answer:

``evil.*``    a TXT record and a CNAME whose text and label hold terminal sequences (OSC
              title, CSI clear, C1 CSI, a newline that forges a second record line)
``loop.*``    an answer whose name is a compression pointer to itself
``many.*``    an answer count of 65535 with 2,000 records present, then the end of the datagram
``trunc.*``   TC set on UDP; over TCP a length prefix of 65535 and 10 bytes, then close
anything     NXDOMAIN

``state.queries`` lists the (transport, name) of every query.
"""

from __future__ import annotations

import contextlib
import socketserver
import struct
import threading
from collections.abc import Iterator

import pytest

from tests.peers._base import serve_in_thread

HOST = "127.0.0.1"
EVIL_TXT = b"\x1b]0;owned\x07\x1b[2J\xc2\x9b31m line\nx.example. 1 IN A 6.6.6.6"
EVIL_LABEL = b"a\x1b[2Jb\nc"


def _name(labels) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\0"


def _parse_query(data: bytes):
    ident, flags = struct.unpack("!HH", data[:4])
    pos, labels = 12, []
    while data[pos]:
        n = data[pos]
        labels.append(data[pos + 1 : pos + 1 + n])
        pos += 1 + n
    qtype, qclass = struct.unpack("!HH", data[pos + 1 : pos + 5])
    return ident, labels, qtype, data[12 : pos + 5]


def answer(data: bytes, tcp: bool) -> bytes | None:
    ident, labels, qtype, question = _parse_query(data)
    first = labels[0].lower() if labels else b""
    head = lambda flags, an: struct.pack("!HHHHHH", ident, flags, 1, an, 0, 0)  # noqa: E731
    if first == b"evil":
        txt = bytes([len(EVIL_TXT)]) + EVIL_TXT
        cname = _name([EVIL_LABEL, b"example"])
        records = (b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(txt)) + txt
                   + b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, len(cname)) + cname)
        return head(0x8180, 2) + question + records
    if first == b"loop":
        at = 12 + len(question)
        pointer = struct.pack("!H", 0xC000 | at)
        return head(0x8180, 1) + question + pointer + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    if first == b"many":
        record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x01"
        return (head(0x8180, 65535) + question + record * 2000)[: 65000 if tcp else 1400]
    if first == b"trunc":
        if tcp:
            return b"TRUNC"
        return head(0x8380, 0) + question
    return head(0x8183, 0) + question


class _Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        with contextlib.suppress(Exception):
            self.server.state.queries.append(("udp", data))  # type: ignore[attr-defined]
            reply = answer(data, False)
            if reply:
                sock.sendto(reply, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self):
        with contextlib.suppress(Exception):
            size = struct.unpack("!H", self.request.recv(2))[0]
            data = b""
            while len(data) < size:
                data += self.request.recv(size - len(data))
            self.server.state.queries.append(("tcp", data))  # type: ignore[attr-defined]
            reply = answer(data, True)
            if reply == b"TRUNC":
                self.request.sendall(b"\xff\xff" + b"0123456789")
            elif reply:
                self.request.sendall(struct.pack("!H", len(reply)) + reply)


class AttackDns:
    def __init__(self, port):
        self.host = HOST
        self.port = port
        self.queries = []
        self.lock = threading.Lock()

    @property
    def server(self) -> str:
        return f"{HOST}:{self.port}"


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextlib.contextmanager
def running_attack_dns() -> Iterator[AttackDns]:
    for _ in range(5):  # the TCP port must be free too
        udp = _UdpServer((HOST, 0), _Udp)
        port = udp.server_address[1]
        try:
            tcp = _TcpServer((HOST, port), _Tcp)
            break
        except OSError:
            udp.server_close()
    else:
        raise RuntimeError("no port free for both UDP and TCP")
    state = AttackDns(port)
    udp.state = tcp.state = state  # type: ignore[attr-defined]
    with serve_in_thread(udp, "attack-dns-udp"), serve_in_thread(tcp, "attack-dns-tcp"):
        yield state




@pytest.fixture(scope="session")
def attack_dns() -> Iterator[AttackDns]:
    with running_attack_dns() as state:
        yield state
