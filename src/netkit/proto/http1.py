"""HTTP/1.1 on the wire, sans-I/O: request bytes out, response events in.

Only the client side that a check needs: one request per connection (``Connection:
close``), responses framed by Content-Length, chunked transfer coding, or the end of the
connection (RFC 9112 section 6.3). h11 does the same and more, but costs ~35 ms of
imports, more than the whole start-up budget of ``netkit check http://...``.
"""

from netkit.core.errors import ProtocolError
from netkit.core.text import check_line_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ResponseParser", "build_request", "check_header", "check_caller_header", "FRAMING_HEADERS", "find_header", "head_end", "parse_head", "ascii_number",
           "content_length",
           "MAX_HEAD_BYTES", "NO_BODY_STATUSES"]

# Status line plus headers may take at most this much; real servers send a few KiB,
# and the limit keeps a hostile peer from growing our buffer without end.
MAX_HEAD_BYTES = 65536
# A chunk-size line (hex digits and extensions) is short; anything longer is garbage.
MAX_CHUNK_LINE = 4096
# Hex digits of a chunk size: 16 say 2**64 - 1 bytes, more than any body; h11 allows 20.
MAX_CHUNK_HEX = 16
# Digits of a Content-Length: 18 say almost an exabyte. int() of a longer one is slow, and
# one over 4300 digits raises ValueError (the interpreter's guard), which a peer must not reach.
MAX_LENGTH_DIGITS = 18
NO_BODY_STATUSES = frozenset((204, 304))
# Interim (1xx) responses before the real one: servers send one or two (100 Continue,
# 103 Early Hints); an endless stream of them is a peer holding us, not an answer.
MAX_INTERIM = 16

_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Characters a header value or reason phrase must not hold: the C0 controls but HTAB, and
# DEL (RFC 9110 section 5.5: CR, LF and NUL are forbidden, the other controls invalid).
# h11 lets the other controls through; netkit refuses them, so none ever reaches a terminal.
_CONTROLS = frozenset(chr(c) for c in (*range(0x09), *range(0x0A, 0x20), 0x7F))
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_EOF, _DONE = range(8)


def check_header(name: str, value: str) -> None:
    """Raise ValueError unless ``name: value`` is a header we can send as it is."""
    if not name or any(c not in _TOKEN for c in name):
        raise ValueError(f"header name {name!r} is not an HTTP token")
    check_line_field(value, f"the value of header {name!r}")
    if not _CONTROLS.isdisjoint(value):
        raise ValueError(f"the value of header {name!r} holds a control character; HTTP allows none but tab")


# Headers that frame the message on the wire, which netkit writes itself: Connection
# (always close: the response is read to its end), Content-Length (of the body it sends)
# and Transfer-Encoding. A caller's copy would contradict ours -- two Connection values, a
# length the body does not have (the server waits for bytes that never come, or reads our
# next bytes as a request) -- so it is refused, not sent.
FRAMING_HEADERS = frozenset(("connection", "content-length", "transfer-encoding"))


def check_caller_header(name: str, value: str) -> None:
    """:func:`check_header` for a header a user gives (``-H``): also ValueError for the
    :data:`FRAMING_HEADERS`, which netkit sets itself. (``Host`` is allowed: it replaces
    the URL's, for one virtual host on another address.)"""
    check_header(name, value)
    if name.lower() in FRAMING_HEADERS:
        raise ValueError(f"header {name!r} frames the request, which netkit does itself (Connection: close, "
                         f"the body's Content-Length); leave it out")


def find_header(headers: "Iterable[tuple[str, str]]", name: str, default: str | None = None) -> str | None:
    """The first value of header ``name`` (any case) in a list of (name, value)."""
    lname = name.lower()
    for n, v in headers:
        if n.lower() == lname:
            return v
    return default


def build_request(method: str, target: str, headers: "Iterable[tuple[str, str]]",
                  body: bytes | None = None) -> bytes:
    """The request bytes; ``headers`` is a list of (name, value), Host first. ValueError
    when a name is not a token or a value (or the target) would break the line: the second
    wall behind the option parsers."""
    check_header(method, "")
    if not target or any(c in target for c in " \r\n\0"):
        raise ValueError(f"request target {target!r} has a space or a line break")
    for name, value in headers:
        check_header(name, value)
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{n}: {v}" for n, v in headers)
    # Values as UTF-8, as curl sends what the command line holds (RFC 9110 allows any
    # octet above 0x7f in a value, and the server decides what it means).
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return head + body if body else head


def head_end(buf: bytes, start: int = 0) -> tuple[int, int] | None:
    """(end of the head, start of what follows) at the first blank line -- ``\n\n`` or
    ``\n\r\n`` -- at or after ``start``, or None when it has not arrived yet."""
    i = buf.find(b"\n", start)
    while i >= 0:
        following = buf[i + 1 : i + 3]
        if following[:1] == b"\n":
            return i + 1, i + 2
        if following == b"\r\n":
            return i + 1, i + 3
        i = buf.find(b"\n", i + 1)
    return None


def _no_controls(text: str, what: str) -> None:
    if not _CONTROLS.isdisjoint(text):
        raise ProtocolError(f"control character in {what}: {text[:60]!r}")


def _status_line(line: str) -> tuple[str, int, str]:
    """(version, status, reason) of ``HTTP/d.d SP ddd [SP reason]`` (RFC 9112 section 4)."""
    version, code, reason = line[:8], line[9:12], line[13:]
    if not (len(line) >= 12 and version[:5] == "HTTP/" and version[5] in "0123456789" and version[6] == "."
            and version[7] in "0123456789" and line[8] == " " and len(code) == 3
            and all(c in "0123456789" for c in code) and line[12:13] in ("", " ")):
        raise ProtocolError(f"not an HTTP status line: {line[:60]!r}")
    status = int(code)
    if status < 100:
        raise ProtocolError(f"status {code} is not an HTTP status (100-999): {line[:60]!r}")
    _no_controls(reason, "the reason phrase")
    return version, status, reason


def parse_head(head: bytes) -> tuple[str, int, str, list[tuple[str, str]]]:
    """(version, status, reason, [(name, value)]) of a response head (the status line and
    header lines, without the blank line), as RFC 9112 and h11 read it: lines end at LF
    with an optional CR, a line starting with SP/HTAB continues the previous header
    (obsolete folding), names are tokens with the colon right after them, values lose
    surrounding SP/HTAB and hold no control characters."""
    lines = head.decode("latin-1").split("\n")
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ProtocolError("empty response head")
    version, status, reason = _status_line(lines[0])
    folded: list[str] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if not folded:
                raise ProtocolError(f"continuation line at the start of the headers: {line[:60]!r}")
            folded[-1] += " " + line.lstrip(" \t")
        else:
            folded.append(line)
    headers = []
    for line in folded:
        name, colon, value = line.partition(":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise ProtocolError(f"malformed header line {line[:60]!r}")
        value = value.strip(" \t")
        _no_controls(value, f"the value of header {name!r}")
        headers.append((name, value))
    content_length(headers)  # a bad one is refused whatever the framing (as h11 does)
    return version, status, reason, headers


def ascii_number(text: str, max_digits: int = MAX_LENGTH_DIGITS) -> int | None:
    """The int of ``text`` when it is 1 to ``max_digits`` ASCII digits (after SP/HTAB are
    stripped), else None. ``str.isdigit`` says yes to ``\xb2`` and Arabic-Indic digits,
    which int() then refuses (or reads), so a peer's number is read by this, never by it."""
    text = text.strip(" \t")
    if not 0 < len(text) <= max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def content_length(headers: "Iterable[tuple[str, str]]") -> int | None:
    """The Content-Length of ``headers`` (every copy, comma lists too, must say one
    number of ASCII digits), None when there is none; ProtocolError otherwise."""
    lengths = [v for n, v in headers if n.lower() == "content-length"]
    if not lengths:
        return None
    values = {p.strip(" \t") for v in lengths for p in v.split(",")}
    value = next(iter(values))
    if len(values) != 1 or not value or not _DIGITS.issuperset(value.encode("latin-1")):
        raise ProtocolError(f"bad Content-Length {', '.join(lengths)[:80]!r}")
    if len(value) > MAX_LENGTH_DIGITS:
        raise ProtocolError(f"Content-Length {value[:40]!r}... is larger than any body")
    return int(value)


class ResponseParser:
    """Feed it bytes as they arrive (``b""`` at EOF); it reports the head and body.

    After :meth:`feed`, ``status``/``headers`` are set once the head is complete and the
    returned list holds the body bytes that arrived; ``done`` says the body is complete.
    Peer mistakes raise :class:`ProtocolError`.
    """

    def __init__(self, method: str = "GET") -> None:
        self.method = method.upper()
        self.version: str | None = None
        self.status: int | None = None
        self.reason: str | None = None
        self.headers: list[tuple[str, str]] = []  # (name as sent, value), in order
        self.head_done = False
        self.done = False
        self.received_any = False
        self._buf = b""
        self._pos = 0  # how much of _buf is consumed: slicing the rest off at each step was quadratic
        self._scan = 0  # where to resume looking for the blank line that ends the head
        self._interim = 0  # 1xx responses skipped
        self._trailer_bytes = 0
        self._state = _HEAD
        self._remaining = 0

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case)."""
        return find_header(self.headers, name, default)

    # -- feeding -------------------------------------------------------------------
    def feed(self, data: bytes) -> list[bytes]:
        if self.done:
            return []
        if not data:
            return self._eof()
        self.received_any = True
        self._buf = self._buf[self._pos :] + data if self._pos else self._buf + data
        self._pos = 0
        body = []
        while not self.done:
            state = self._state
            if state == _HEAD:
                if not self._parse_head():
                    break
            elif state == _LENGTH:
                if self._pos == len(self._buf):
                    break
                body.append(self._take())
                if self._remaining == 0:
                    self._finish()
            elif state == _UNTIL_EOF:
                if self._pos < len(self._buf):
                    body.append(self._buf[self._pos :])
                    self._buf, self._pos = b"", 0
                break
            elif state == _CHUNK_SIZE:
                line = self._line(MAX_CHUNK_LINE, "chunk size line")
                if line is None:
                    break
                size_text, semi, _ext = line.partition(b";")
                if not semi:
                    size_text = size_text.rstrip(b" \t")
                if not 0 < len(size_text) <= MAX_CHUNK_HEX or not _HEX.issuperset(size_text):
                    raise ProtocolError(f"bad chunk size {line[:40]!r} in chunked body")
                size = int(size_text, 16)
                if size == 0:
                    self._state = _TRAILERS
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if self._pos == len(self._buf):
                    break
                body.append(self._take())
                if self._remaining == 0:
                    self._state = _CHUNK_END
            elif state == _CHUNK_END:
                end = self._buf[self._pos : self._pos + 2]
                if len(end) < 2 and end != b"\n":
                    break
                if end == b"\r\n":
                    self._pos += 2
                elif end[:1] == b"\n":
                    self._pos += 1
                else:
                    raise ProtocolError("chunk data not followed by CRLF in chunked body")
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                line = self._line(MAX_HEAD_BYTES, "trailer")
                if line is None:
                    break
                self._trailer_bytes += len(line) + 1
                if self._trailer_bytes > MAX_HEAD_BYTES:
                    raise ProtocolError(f"trailers of the chunked body are larger than {MAX_HEAD_BYTES} bytes")
                if not line.strip():
                    self._finish()
        return body

    def _take(self) -> bytes:
        """Up to the ``_remaining`` bytes of the body (or chunk) that have arrived."""
        take = self._buf[self._pos : self._pos + self._remaining]
        self._pos += len(take)
        self._remaining -= len(take)
        return take

    def _finish(self) -> None:
        self._state = _DONE
        self.done = True

    def _eof(self) -> list[bytes]:
        if self._state == _UNTIL_EOF:
            self._finish()
            return []
        if self._state == _HEAD:
            if not self.received_any:
                raise ProtocolError("the server closed the connection without a response")
            raise ProtocolError("the connection closed in the middle of the response headers")
        if self._state == _LENGTH:
            raise ProtocolError(f"the connection closed with {self._remaining} bytes of the body still to come")
        raise ProtocolError("the connection closed in the middle of a chunked body")

    def _line(self, limit: int, what: str) -> bytes | None:
        end = self._buf.find(b"\n", self._pos)
        if end < 0:
            if len(self._buf) - self._pos > limit:
                raise ProtocolError(f"{what} longer than {limit} bytes")
            return None
        line = self._buf[self._pos : end]
        self._pos = end + 1
        return line[:-1] if line.endswith(b"\r") else line

    def _parse_head(self) -> bool:
        if self._pos:  # after an interim (1xx) response
            self._buf, self._pos = self._buf[self._pos :], 0
        buf = self._buf
        found = head_end(buf, self._scan)
        if found is None:
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError(f"response headers are larger than {MAX_HEAD_BYTES} bytes")
            if len(buf) >= 5 and not buf.startswith(b"HTTP/"):
                raise ProtocolError(f"not an HTTP response: {buf[:40]!r}")
            self._scan = max(0, len(buf) - 2)  # a blank line may straddle the next read
            return False
        end, rest = found
        if end > MAX_HEAD_BYTES:
            raise ProtocolError(f"response headers are larger than {MAX_HEAD_BYTES} bytes")
        self._scan = 0
        head = buf[:end]
        self._buf = buf[rest:]
        version, status, reason, headers = parse_head(head)
        if 100 <= status < 200 and status != 101:
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise ProtocolError(f"more than {MAX_INTERIM} interim (1xx) responses and no answer")
            return True  # interim response (100 Continue, 103 Early Hints): the real one follows
        self.version, self.status, self.reason, self.headers = version, status, reason, headers
        self.head_done = True
        self._choose_framing(status)
        return True

    def _choose_framing(self, status: int) -> None:
        if self.method == "HEAD" or status in NO_BODY_STATUSES or status == 101:
            self._finish()
            return
        if self.method == "CONNECT" and 200 <= status < 300:
            self._finish()  # a tunnel: what follows is not HTTP
            return
        codings = [v for n, v in self.headers if n.lower() == "transfer-encoding"]
        if codings:
            last = ",".join(codings).split(",")[-1].strip(" \t").lower()
            if last == "chunked":
                self._state = _CHUNK_SIZE
            else:
                self._state = _UNTIL_EOF
            return
        length = content_length(self.headers)
        if length is not None:
            self._remaining = length
            if self._remaining == 0:
                self._finish()
            else:
                self._state = _LENGTH
            return
        self._state = _UNTIL_EOF
