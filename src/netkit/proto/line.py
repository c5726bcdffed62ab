"""Send/expect dialogues over TCP and UDP (check_tcp / check_udp semantics).

After connecting (and an optional TLS handshake), every ``send`` string is sent, then the
reply is read until the ``expect`` strings are found (any of them, or all with
``expect_all``), the peer closes, or ``maxbytes`` have come. Then ``quit`` is sent.
"""

from netkit.proto.actions import RECV_SIZE, Connect, Recv, Send, StartTLS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from netkit.proto.actions import Dialogue, TLSInfo, TLSParams

__all__ = ["LineOutcome", "tcp_dialogue", "udp_dialogue", "find_expected", "MAX_REPLY_BYTES"]

# How much of a reply a send/expect check reads before it gives up looking: a banner or
# a short answer fits many times over, and a runaway peer cannot fill memory.
MAX_REPLY_BYTES = 65536
# A UDP datagram can be at most this big.
MAX_DATAGRAM = 65535


class LineOutcome:
    __slots__ = ("received", "matched", "missing", "tls", "peer")

    def __init__(self, received: bytes, matched: bool, missing: list[bytes], tls: "TLSInfo | None",
                 peer: str) -> None:
        self.received = received
        self.matched = matched
        self.missing = missing
        self.tls = tls
        self.peer = peer

    def __repr__(self) -> str:
        return f"LineOutcome(matched={self.matched}, received={self.received[:40]!r})"


def find_expected(received: bytes, expects: "Sequence[bytes]", expect_all: bool) -> tuple[bool, list[bytes]]:
    """(satisfied, missing): whether ``received`` holds the expected strings."""
    missing = [e for e in expects if e not in received]
    if expect_all:
        return not missing, missing
    return len(missing) < len(expects), missing


def tcp_dialogue(host: str, port: int, *, family: int = 0, sends: "Sequence[bytes]" = (),
                 expects: "Sequence[bytes]" = (), expect_all: bool = False, quit: bytes | None = None,
                 maxbytes: int = MAX_REPLY_BYTES, tls: "TLSParams | None" = None) -> "Dialogue[LineOutcome]":
    peer = yield Connect(host, port, "tcp", family)
    tls_info = None
    if tls is not None:
        tls_info = yield StartTLS(tls)
    for data in sends:
        yield Send(data)
    received = b""
    matched, missing = True, list[bytes]()
    if expects:
        matched, missing = find_expected(received, expects, expect_all)
        while not matched and len(received) < maxbytes:
            chunk = yield Recv(min(RECV_SIZE, maxbytes - len(received)))
            if not chunk:
                break
            received += chunk
            matched, missing = find_expected(received, expects, expect_all)
    if quit:
        yield Send(quit)
    return LineOutcome(received, matched, missing, tls_info, peer)


def udp_dialogue(host: str, port: int, *, family: int = 0, sends: "Sequence[bytes]" = (),
                 expects: "Sequence[bytes]" = (), expect_all: bool = False,
                 maxbytes: int = MAX_REPLY_BYTES) -> "Dialogue[LineOutcome]":
    """Each send is one datagram; up to one reply per datagram sent is read, stopping as
    soon as the expected strings have arrived (UDP has no end of stream to wait for)."""
    peer = yield Connect(host, port, "udp", family)
    for data in sends:
        yield Send(data)
    received = b""
    matched, missing = find_expected(received, expects, expect_all)
    replies = 0
    while not matched and replies < max(1, len(sends)) and len(received) < maxbytes:
        received += yield Recv(MAX_DATAGRAM)
        replies += 1
        matched, missing = find_expected(received, expects, expect_all)
    return LineOutcome(received, matched, missing, None, peer)
