"""The small services of ``netkit serve`` as pure logic: bytes in, bytes out. No sockets,
no clock (the time service is handed the time).

A stream service is an object with ``feed(data) -> bytes`` (the reply to what came; may be
empty), optionally ``end() -> bytes`` (the reply owed when the peer's input ends), ``finished`` (True once the peer asked to end, e.g. ``quit``: the driver writes the
reply and closes) and ``requests`` (complete requests seen so far: the driver's idle timer
counts from the last one, so a client that never finishes a line is idle). A line longer
than the limit raises :class:`LineTooLong`: the peer's fault, the driver closes.

Lines end with LF; a CR before it is kept with the line and given back (telnet and
netcat users both get what they sent). Line-by-line work happens only where the service
must look at each line; echo replies to a whole batch of lines with one slice.

Datagram services are functions ``datagram -> reply or None``.
"""

__all__ = [
    "DEFAULT_MAX_LINE",
    "LineTooLong",
    "EchoLines",
    "EchoRaw",
    "ReverseLines",
    "Discard",
    "SERVICES",
    "QUIT",
    "time_text",
    "chargen_block",
    "chargen_datagram",
    "echo_datagram",
    "reverse_datagram",
    "UDP_ECHO_PREFIX",
]

# 64 KiB: far beyond any line a person types or a test tool sends (IRC allows 512, SMTP
# 1000), yet small enough that a client sending a 100 MB "line" costs us 64 KiB, not 100 MB.
DEFAULT_MAX_LINE = 65536
# The word that ends a session, as in Twisted's LineReceiver echo example.
QUIT = b"quit"
# What the UDP echo server of the source texts puts before each datagram it returns.
UDP_ECHO_PREFIX = b"echo:"
# RFC 864: 95 printable ASCII characters, lines of 72 rotating by one each line.
_CHARGEN_RING = bytes(range(32, 127))
_CHARGEN_WIDTH = 72
# RFC 864: a UDP chargen reply is a random 0..512 characters; we always send one full line.
_CHARGEN_UDP = 512


class LineTooLong(Exception):
    """The peer sent more than ``limit`` bytes without a line end (its fault)."""

    def __init__(self, limit: int):
        super().__init__(f"line longer than {limit} bytes")
        self.limit = limit


def _is_quit(line: bytes) -> bool:
    return line.rstrip(b"\r").strip().lower() == QUIT


class _Lines:
    """Splits a stream into lines; subclasses answer a block of complete lines."""

    __slots__ = ("max_line", "pending", "finished", "requests")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE):
        self.max_line = max_line
        self.pending = b""
        self.finished = False
        self.requests = 0

    def feed(self, data: bytes) -> bytes:
        if self.finished:
            return b""
        if self.pending:
            data = self.pending + data
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) > self.max_line:
                self.pending = b""
                raise LineTooLong(self.max_line)
            self.pending = data
            return b""
        end += 1
        if end == len(data):
            block, self.pending = data, b""
        else:
            block, self.pending = data[:end], data[end:]
            if len(self.pending) > self.max_line:
                self.pending = b""
                raise LineTooLong(self.max_line)
        if len(block) > self.max_line:
            self._check_lengths(block)
        return self.answer(block)

    def end(self) -> bytes:
        """The reply to a last line the peer ended without a line end, at the end of its
        input (``printf 'a\\nb' | nc``): answered as a line is, without the line end."""
        if self.finished or not self.pending:
            return b""
        line, self.pending = self.pending, b""
        out = self.answer(line + b"\n")
        return out[:-1] if out.endswith(b"\n") else out

    def _check_lengths(self, block: bytes) -> None:
        start = 0
        limit = self.max_line
        while start < len(block):
            end = block.find(b"\n", start) + 1
            if end - start > limit + 1:
                raise LineTooLong(limit)
            start = end

    def _until_quit(self, block: bytes) -> bytes:
        """The lines of ``block`` before a ``quit`` line; sets ``finished`` if there is one."""
        start = 0
        while True:
            at = block.lower().find(QUIT, start)
            if at < 0:
                return block
            line_start = block.rfind(b"\n", 0, at) + 1
            line_end = block.find(b"\n", at) + 1
            if _is_quit(block[line_start:line_end]):
                self.finished = True
                return block[:line_start]
            start = line_end

    def answer(self, block: bytes) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError


class EchoLines(_Lines):
    """Each line back, after ``prefix`` (Twisted's "You said: "); ``quit`` ends."""

    __slots__ = ("prefix",)

    def __init__(self, max_line: int = DEFAULT_MAX_LINE, prefix: bytes = b""):
        super().__init__(max_line)
        self.prefix = prefix

    def answer(self, block: bytes) -> bytes:
        # One-byte test first: three substring searches cost ~1 us each on a 1 KiB line.
        if (b"q" in block or b"Q" in block) and (QUIT in block or b"QUIT" in block or b"Quit" in block):
            block = self._until_quit(block)
        self.requests += block.count(b"\n")
        if not self.prefix or not block:
            return block
        prefix = self.prefix
        return prefix + block[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


class ReverseLines(_Lines):
    """Each line reversed by character (UTF-8; bytes that are not UTF-8 reversed as bytes),
    the line end kept; ``quit`` ends. The "palindrome" server of the source texts."""

    __slots__ = ()

    def answer(self, block: bytes) -> bytes:
        # One-byte test first: three substring searches cost ~1 us each on a 1 KiB line.
        if (b"q" in block or b"Q" in block) and (QUIT in block or b"QUIT" in block or b"Quit" in block):
            block = self._until_quit(block)
        if not block:
            return b""
        out = []
        for line in block.decode("utf-8", "surrogateescape").split("\n")[:-1]:
            self.requests += 1
            if line.endswith("\r"):
                out.append(line[-2::-1] + "\r\n")
            else:
                out.append(line[::-1] + "\n")
        return "".join(out).encode("utf-8", "surrogateescape")


class EchoRaw:
    """Bytes back as they came, no lines (binary-safe)."""

    __slots__ = ("finished", "requests")

    def __init__(self) -> None:
        self.finished = False
        self.requests = 0

    def feed(self, data: bytes) -> bytes:
        self.requests += 1
        return data


class Discard(EchoRaw):
    """RFC 863: everything read, nothing answered."""

    __slots__ = ()

    def feed(self, data: bytes) -> bytes:
        self.requests += 1
        return b""


def time_text(now: float, iso: bool = False) -> bytes:
    """The time ``now`` (seconds since the epoch) as one line: ``ctime`` in local time, as
    the source texts' time server sends it, or RFC 3339 in UTC with ``iso``."""
    import time

    if iso:
        import datetime as dt

        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(timespec="seconds")
        return stamp.replace("+00:00", "Z").encode() + b"\r\n"
    return time.ctime(now).encode() + b"\r\n"


def chargen_block(line: int, count: int) -> bytes:
    """``count`` chargen lines starting at line number ``line`` (RFC 864 pattern)."""
    ring = _CHARGEN_RING * 2
    n = len(_CHARGEN_RING)
    return b"".join(ring[(line + i) % n:(line + i) % n + _CHARGEN_WIDTH] + b"\r\n" for i in range(count))


def chargen_datagram(_data: bytes) -> bytes:
    return _CHARGEN_DATAGRAM


# The same reply to every datagram: made once.
_CHARGEN_DATAGRAM = chargen_block(0, _CHARGEN_UDP // (_CHARGEN_WIDTH + 2) + 1)[:_CHARGEN_UDP]


def echo_datagram(data: bytes) -> bytes:
    """The UDP echo of the source texts: ``echo:`` and the datagram."""
    return UDP_ECHO_PREFIX + data


def reverse_datagram(data: bytes) -> bytes:
    text = data.decode("utf-8", "surrogateescape")
    end = len(text) - len(text.rstrip("\r\n"))
    body, tail = (text[:-end], text[-end:]) if end else (text, "")
    return (body[::-1] + tail).encode("utf-8", "surrogateescape")


# The services by name: what each does (for --help and logs).
SERVICES = {
    "echo": "each line back (--prefix 'You said: ', --raw for bytes); UDP: 'echo:' + datagram",
    "reverse": "each line reversed by character; 'quit' closes (the 'palindrome' server)",
    "time": "the current time to each connection or datagram (ctime, or RFC 3339 with --iso)",
    "discard": "reads and drops everything (RFC 863)",
    "chargen": "a stream of printable characters until the client goes (RFC 864)",
}
