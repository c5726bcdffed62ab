"""Reading line protocols (FTP, SMTP, POP3, IMAP) inside a dialogue.

:class:`LineReader` keeps what came after the last line, so replies that arrive in one
packet or many read the same. ``reply()`` reads an FTP/SMTP reply (``250-first``,
``250 last``); the POP3 and IMAP shapes are read with ``line()``.
"""

from netkit.core.errors import ProtocolError, UsageError
from netkit.core.text import check_line_field, is_digits
from netkit.proto.actions import Recv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from netkit.proto.actions import Dialogue, TLSInfo

__all__ = ["LineReader", "Reply", "MAX_LINE", "MAX_REPLY_LINES", "line_bytes"]

# RFC 5321 allows 512 octets per reply line and IMAP lines grow with the mailbox; 64 KiB
# is generous for both and still bounds what a broken peer can make us buffer.
MAX_LINE = 65536
# An EHLO or FEAT reply lists a few dozen lines; a thousand means a runaway peer.
MAX_REPLY_LINES = 1000


class Reply:
    """A numbered reply: its code and its lines (text after the code)."""

    __slots__ = ("code", "lines")

    def __init__(self, code: int, lines: list[str]) -> None:
        self.code = code
        self.lines = lines

    @property
    def text(self) -> str:
        return " ".join(line.strip() for line in self.lines if line.strip())

    def __str__(self) -> str:
        return f"{self.code} {self.text}".rstrip()

    def __repr__(self) -> str:
        return f"Reply({self.code}, {self.lines!r})"


class LineReader:
    """Lines from one channel of a dialogue."""

    def __init__(self, channel: int = 0, peer_name: str = "the server") -> None:
        self.channel = channel
        self.peer_name = peer_name
        self.buffer = b""

    @property
    def pending(self) -> bool:
        """True when bytes beyond the last line have come (dangerous before STARTTLS)."""
        return bool(self.buffer)

    def line(self, waiting_for: str, limit: int = MAX_LINE) -> "Dialogue[str]":
        """Generator: the next line as text, without its line end (at most ``limit`` bytes)."""
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                raw = self.buffer[:end]
                self.buffer = self.buffer[end + 1 :]
                return raw.rstrip(b"\r").decode("utf-8", "replace")
            if len(self.buffer) > limit:
                raise ProtocolError(f"{self.peer_name} sent a line longer than {limit} bytes")
            data = yield Recv(channel=self.channel)
            if not data:
                got = f"; it had sent {self.buffer[:60]!r}" if self.buffer else ""
                raise ProtocolError(f"{self.peer_name} closed the connection while we waited for {waiting_for}{got}")
            self.buffer += data

    def reply(self, waiting_for: str) -> "Dialogue[Reply]":
        """Generator: one FTP/SMTP reply (``NNN text`` or ``NNN-...`` up to ``NNN text``)."""
        first = yield from self.line(waiting_for)
        code = _code(first, self.peer_name, waiting_for)
        lines = [first[4:]]
        if first[3:4] == "-":
            while True:
                if len(lines) > MAX_REPLY_LINES:
                    raise ProtocolError(f"{self.peer_name} sent a reply of more than {MAX_REPLY_LINES} lines")
                line = yield from self.line(waiting_for)
                if line[:3] == first[:3] and line[3:4] in (" ", ""):
                    lines.append(line[4:])
                    break
                lines.append(line[4:] if line[:3] == first[:3] and line[3:4] == "-" else line)
        return Reply(code, lines)


def _code(line: str, peer_name: str, waiting_for: str) -> int:
    if len(line) < 3 or not is_digits(line[:3]) or line[3:4] not in (" ", "-", ""):
        raise ProtocolError(f"{peer_name} did not answer in the protocol while we waited for {waiting_for}: "
                            f"{line[:60]!r}")
    return int(line[:3])


class Session:
    """What a login dialogue (FTP, SMTP, POP3, IMAP) found.

    ``failure`` is None when every step passed, else (step, what the server said);
    ``facts`` holds the figures a judge reads (message counts, sizes, extensions...).
    """

    __slots__ = ("greeting", "tls", "failure", "facts", "peer")

    def __init__(self) -> None:
        self.greeting: str | None = None
        self.tls: TLSInfo | None = None
        self.failure: tuple[str, str] | None = None
        self.facts: dict[str, object] = {}
        self.peer: str | None = None

    def fail(self, step: str, said: object) -> "Session":
        self.failure = (step, str(said))
        return self

    def __repr__(self) -> str:
        return f"Session(failure={self.failure!r}, facts={self.facts!r})"


def line_bytes(text: str, shown: str | None = None) -> bytes:
    """``text`` CR LF in UTF-8: one command line. Refused (UsageError) when ``text`` holds
    CR, LF or NUL, which would end the line and start a command nobody meant (``DELE 1``,
    ``DATA`` and a whole message): the second wall, behind the option and URL parsers."""
    try:
        check_line_field(text, f"the {(shown or text).split(' ', 1)[0][:20]!r} command")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return (text + "\r\n").encode("utf-8")


def command(reader: LineReader, text: str, waiting_for: str | None = None,
            shown: str | None = None) -> "Dialogue[Reply]":
    """Generator: send one command line, return the server's numbered reply."""
    from netkit.proto.actions import Send

    yield Send(line_bytes(text, shown), shown=None if shown is None else (shown + "\r\n").encode())
    return (yield from reader.reply(waiting_for or f"the reply to {shown or text.split(' ', 1)[0]}"))


def no_injection(reader: LineReader, step: str) -> None:
    """Refuse plaintext that arrived after a STARTTLS-style reply: it would be read as if
    it came over TLS (the STARTTLS command injection of CVE-2011-0411)."""
    if reader.pending:
        raise ProtocolError(f"{reader.peer_name} sent data after the {step} reply, before TLS began: "
                            f"refused as an injection attempt")


def quit_(text: str = "QUIT") -> "Dialogue[None]":
    """Generator: say goodbye without waiting for the answer (a slow or silent goodbye
    must not turn a good check bad)."""
    from netkit.proto.actions import Send

    yield Send(line_bytes(text))
