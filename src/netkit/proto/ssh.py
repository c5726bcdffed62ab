"""The start of an SSH connection, without I/O: identification lines and the server's KEXINIT.

RFC 4253 section 4.2: once connected, both sides send an identification line
``SSH-protoversion-softwareversion[ SP comments]`` CR LF, at most 255 bytes with the CR LF.
A server may send other lines before its own (a "preamble"), which never begin with
``SSH-``. After the identification the binary packet protocol starts; the first packet
each side sends is SSH_MSG_KEXINIT, unencrypted, listing the algorithms it supports.

:func:`ssh_dialogue` connects, sends our identification, reads the server's (skipping a
preamble), optionally reads the server's KEXINIT (which host key types it holds), and
optionally hands over to a library (``Await``) for the key exchange proper.

Order: we send our identification at once, before the server's arrives, as OpenSSH's
``ssh`` does (RFC 4253 lets both sides send as soon as the connection is up).
monitoring-plugins' check_ssh reads first and answers afterwards; sending first costs
nothing, sshd logs the same clean ``Connection closed by ... [preauth]`` either way (a
client that sends nothing is logged as a failed identification exchange), and a service
that waits for its client to speak (HTTP) answers our line with an error and closes,
which shows at once what it is instead of running into the timeout.
"""

from netkit.core.errors import ProtocolError
from netkit.core.text import preview
from netkit.proto.actions import RECV_SIZE, Await, Close, Connect, Recv, Send

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable
    from typing import Any

    from netkit.proto.actions import Dialogue

    #: What ssh_dialogue hands the rest of the exchange to: a coroutine of a library.
    SessionFactory = Callable[["Identification", "KexInit | None"], Coroutine[Any, Any, Any]]

__all__ = [
    "MAX_IDENTIFICATION",
    "MAX_PACKET",
    "MAX_PREAMBLE_LINE",
    "MAX_PREAMBLE_LINES",
    "Identification",
    "IdentificationReader",
    "KexInit",
    "SSHOutcome",
    "client_identification",
    "parse_identification",
    "parse_kexinit",
    "ssh_dialogue",
]

# RFC 4253 4.2: "The maximum length of the string is 255 characters, including the
# Carriage Return and Line Feed."
MAX_IDENTIFICATION = 255
# Preamble limits, OpenSSH's (SSH_MAX_BANNER_LEN, SSH_MAX_PRE_BANNER_LINES): a real server's
# preamble is a few lines of text; a peer past these is not going to send an identification.
MAX_PREAMBLE_LINE = 8192
MAX_PREAMBLE_LINES = 1024
# RFC 4253 6.1: implementations must handle packets of 35000 bytes in all; a longer
# first packet is not a KEXINIT we could read.
MAX_PACKET = 35000
SSH_MSG_KEXINIT = 20
# The KEXINIT name-lists, in their order on the wire (RFC 4253 7.1).
_KEXINIT_LISTS = (
    "kex_algorithms",
    "server_host_key_algorithms",
    "encryption_client_to_server",
    "encryption_server_to_client",
    "mac_client_to_server",
    "mac_server_to_client",
    "compression_client_to_server",
    "compression_server_to_client",
)


def client_identification(version: str) -> bytes:
    """Our identification line: ``SSH-2.0-netkit_<version>`` CR LF."""
    return f"SSH-2.0-netkit_{version}\r\n".encode("ascii")


class Identification:
    """A parsed identification line; ``software`` is the software version alone,
    ``comments`` what follows its space (OpenSSH puts the distribution's version there)."""

    __slots__ = ("comments", "line", "preamble", "protocol", "software")

    def __init__(self, line: str, protocol: str, software: str, comments: str = "",
                 preamble: "Iterable[str]" = ()) -> None:
        self.line = line
        self.protocol = protocol
        self.software = software
        self.comments = comments
        self.preamble = list(preamble)

    @property
    def version_text(self) -> str:
        """Software version and comments, as check_ssh prints them: ``OpenSSH_9.2p1 Debian-2``."""
        return f"{self.software} {self.comments}" if self.comments else self.software

    def __repr__(self) -> str:
        return f"Identification({self.line!r})"


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def parse_identification(raw: bytes, preamble: "Iterable[str]" = ()) -> Identification:
    """Parse one line ``SSH-proto-software[ comments]`` (with or without its line end)."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    line = _text(raw)
    if not line.startswith("SSH-"):
        raise ProtocolError(f"not an SSH identification line: {preview(raw)!r}")
    protocol, dash, rest = line[4:].partition("-")
    software, _, comments = rest.partition(" ")
    if not dash or not protocol or not software or " " in protocol:
        raise ProtocolError(f"malformed SSH identification {preview(raw, 80)!r}: expected "
                            f"SSH-protoversion-softwareversion (RFC 4253 4.2)")
    return Identification(line, protocol, software, comments, preamble)


class IdentificationReader:
    """Bytes in, the server's identification out (then its first packet, if asked).

    :meth:`feed` returns None until the identification line is complete; bytes after it
    stay in :attr:`buffer` for :meth:`packet`. Lines may end in CR LF or, as OpenSSH also
    accepts, LF alone. Raises :class:`ProtocolError` when the peer cannot be SSH: a NUL in
    a line, an identification line over 255 bytes, a preamble past OpenSSH's limits.
    """

    def __init__(self) -> None:
        self.buffer = b""
        self.preamble: list[str] = []
        self.received = b""  # everything before the identification, for error messages
        self.identification: Identification | None = None

    def feed(self, data: bytes) -> Identification | None:
        self.buffer += data
        if self.identification is None:
            self.received += data[: max(0, MAX_PREAMBLE_LINE - len(self.received))]
        while self.identification is None:
            end = self.buffer.find(b"\n")
            candidate = self.buffer if end < 0 else self.buffer[: end + 1]
            is_ident = candidate.startswith(b"SSH-")
            if b"\0" in candidate:
                raise ProtocolError(f"binary data instead of an SSH identification line "
                                    f"({preview(self.received)!r})")
            if is_ident and len(candidate) > MAX_IDENTIFICATION:
                raise ProtocolError(f"SSH identification line longer than {MAX_IDENTIFICATION} bytes "
                                    f"(RFC 4253 4.2): {preview(candidate)!r}")
            if end < 0:
                if len(self.buffer) > MAX_PREAMBLE_LINE:
                    raise ProtocolError(f"a line of more than {MAX_PREAMBLE_LINE} bytes instead of an SSH "
                                        f"identification ({preview(self.received)!r})")
                return None
            self.buffer = self.buffer[end + 1 :]
            if candidate.startswith(b"SSH-"):
                self.identification = parse_identification(candidate, self.preamble)
                return self.identification
            self.preamble.append(_text(candidate.rstrip(b"\r\n")))
            if len(self.preamble) > MAX_PREAMBLE_LINES:
                raise ProtocolError(f"more than {MAX_PREAMBLE_LINES} lines and no SSH identification "
                                    f"({preview(self.received)!r})")
        return self.identification

    def packet(self) -> bytes | None:
        """The payload of the first binary packet once it is complete in the buffer, or None."""
        if len(self.buffer) < 5:
            return None
        length = int.from_bytes(self.buffer[:4], "big")
        padding = self.buffer[4]
        if length + 4 > MAX_PACKET or length < padding + 1:
            raise ProtocolError(f"not an SSH packet after the identification (length {length}, "
                                f"padding {padding})")
        if len(self.buffer) < 4 + length:
            return None
        return self.buffer[5 : 4 + length - padding]


class KexInit:
    """The algorithm lists of a KEXINIT message (RFC 4253 7.1), as lists of names."""

    __slots__ = _KEXINIT_LISTS
    kex_algorithms: list[str]
    server_host_key_algorithms: list[str]
    encryption_client_to_server: list[str]
    encryption_server_to_client: list[str]
    mac_client_to_server: list[str]
    mac_server_to_client: list[str]
    compression_client_to_server: list[str]
    compression_server_to_client: list[str]

    def __init__(self, **lists: "Iterable[str]") -> None:
        for name in _KEXINIT_LISTS:
            setattr(self, name, list(lists.get(name, ())))

    def as_dict(self) -> dict[str, list[str]]:
        return {name: getattr(self, name) for name in _KEXINIT_LISTS}

    def __repr__(self) -> str:
        return f"KexInit(host keys {self.server_host_key_algorithms})"


def parse_kexinit(payload: bytes) -> KexInit:
    """``byte 20, byte[16] cookie, name-list x 10, boolean, uint32`` -> :class:`KexInit`."""
    if not payload or payload[0] != SSH_MSG_KEXINIT:
        kind = payload[0] if payload else "nothing"
        raise ProtocolError(f"expected the server's KEXINIT (message 20) after its identification, got {kind}")
    pos = 17
    lists: dict[str, list[str]] = {}
    for name in _KEXINIT_LISTS:
        if pos + 4 > len(payload):
            raise ProtocolError("truncated KEXINIT from the server")
        size = int.from_bytes(payload[pos : pos + 4], "big")
        pos += 4
        if pos + size > len(payload):
            raise ProtocolError("truncated KEXINIT from the server")
        raw = payload[pos : pos + size]
        pos += size
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError("KEXINIT name-list is not ASCII") from None
        lists[name] = [n for n in text.split(",") if n]
    return KexInit(**lists)


class SSHOutcome:
    """What :func:`ssh_dialogue` found: the identification, the KEXINIT (when read) and
    what the handed-over session returned (when there was one)."""

    __slots__ = ("identification", "kexinit", "peer", "session")

    def __init__(self, identification: Identification, kexinit: KexInit | None = None, session: object = None,
                 peer: str | None = None) -> None:
        self.identification = identification
        self.kexinit = kexinit
        self.session = session
        self.peer = peer

    def __repr__(self) -> str:
        return f"SSHOutcome({self.identification!r}, {self.kexinit!r}, session={self.session!r})"


def _closed(peer: str, reader: IdentificationReader) -> ProtocolError:
    if not reader.received:
        return ProtocolError(f"{peer} closed the connection without an SSH identification")
    return ProtocolError(f"{peer} is not an SSH server: it said {preview(reader.received)!r} and closed "
                         f"the connection")


def ssh_dialogue(host: str, port: int, *, family: int = 0, identification: bytes = b"SSH-2.0-netkit\r\n",
                 read_kexinit: bool = False, session: "SessionFactory | None" = None,
                 what: str = "in the SSH key exchange") -> "Dialogue[SSHOutcome]":
    """Connect, exchange identifications, and optionally read the server's KEXINIT.

    ``session(identification, kexinit)``, when given, returns a coroutine that speaks the
    rest of the protocol through a library on a connection of its own; this one is closed
    first. It runs as an ``Await`` and its result is the outcome's ``session``.
    """
    peer = yield Connect(host, port, "tcp", family)
    yield Send(identification)
    reader = IdentificationReader()
    ident = None
    while ident is None:
        data = yield Recv(RECV_SIZE)
        if not data:
            raise _closed(peer, reader)
        ident = reader.feed(data)
    if ident.line == identification.rstrip(b"\r\n").decode("ascii", "replace"):
        # Our own line came back: an echo service (RFC 862), a loop, a proxy that reflects.
        raise ProtocolError(f"{peer} is not an SSH server: it echoed our own identification line "
                            f"{preview(identification)!r}")
    kexinit = None
    if read_kexinit:
        payload = reader.packet()
        while payload is None:
            data = yield Recv(RECV_SIZE)
            if not data:
                raise ProtocolError(f"{peer} closed the connection after its identification, before "
                                    f"the key exchange")
            reader.buffer += data
            payload = reader.packet()
        kexinit = parse_kexinit(payload)
    result = None
    if session is not None:
        yield Close()  # the library makes its own connection; this one has said all it will
        result = yield Await(lambda: session(ident, kexinit), f"{what} with {peer}")
    return SSHOutcome(ident, kexinit, result, peer)
