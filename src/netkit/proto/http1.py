"""HTTP/1.1 on the wire, sans-I/O: request bytes out, response events in.

Only the client side that a check needs: one request per connection (``Connection:
close``), responses framed by Content-Length, chunked transfer coding, or the end of the
connection (RFC 9112 section 6.3). h11 does the same and more, but costs ~35 ms of
imports, more than the whole start-up budget of ``netkit check http://...``.
"""

from netkit.core.errors import ProtocolError

__all__ = ["ResponseParser", "build_request", "check_header", "find_header", "MAX_HEAD_BYTES", "NO_BODY_STATUSES"]

# Status line plus headers may take at most this much; real servers send a few KiB,
# and the limit keeps a hostile peer from growing our buffer without end.
MAX_HEAD_BYTES = 65536
# A chunk-size line (hex digits and extensions) is short; anything longer is garbage.
MAX_CHUNK_LINE = 4096
NO_BODY_STATUSES = frozenset((204, 304))

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_EOF, _DONE = range(8)


def check_header(name: str, value: str) -> None:
    """Raise ValueError unless ``name: value`` is a header we can send as it is."""
    if not name or any(c not in _TOKEN for c in name):
        raise ValueError(f"header name {name!r} is not an HTTP token")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name!r} has a line break in its value")


def find_header(headers, name: str, default=None):
    """The first value of header ``name`` (any case) in a list of (name, value)."""
    lname = name.lower()
    for n, v in headers:
        if n.lower() == lname:
            return v
    return default


def build_request(method: str, target: str, headers, body: bytes | None = None) -> bytes:
    """The request bytes; ``headers`` is a list of (name, value), Host first."""
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{n}: {v}" for n, v in headers)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
    return head + body if body else head


class ResponseParser:
    """Feed it bytes as they arrive (``b""`` at EOF); it reports the head and body.

    After :meth:`feed`, ``status``/``headers`` are set once the head is complete and the
    returned list holds the body bytes that arrived; ``done`` says the body is complete.
    Peer mistakes raise :class:`ProtocolError`.
    """

    def __init__(self, method: str = "GET"):
        self.method = method.upper()
        self.version = None
        self.status = None
        self.reason = None
        self.headers = []  # (name as sent, value), in order
        self.head_done = False
        self.done = False
        self.received_any = False
        self._buf = b""
        self._state = _HEAD
        self._remaining = 0

    def header(self, name: str, default=None):
        """The first value of header ``name`` (any case)."""
        return find_header(self.headers, name, default)

    # -- feeding -------------------------------------------------------------------
    def feed(self, data: bytes) -> list:
        if self.done:
            return []
        if not data:
            return self._eof()
        self.received_any = True
        self._buf += data
        body = []
        while not self.done:
            state = self._state
            if state == _HEAD:
                if not self._parse_head():
                    break
            elif state == _LENGTH:
                if not self._buf:
                    break
                body.append(self._take())
                if self._remaining == 0:
                    self._finish()
            elif state == _UNTIL_EOF:
                if self._buf:
                    body.append(self._buf)
                    self._buf = b""
                break
            elif state == _CHUNK_SIZE:
                line = self._line(MAX_CHUNK_LINE, "chunk size line")
                if line is None:
                    break
                size_text = line.split(b";", 1)[0].strip()
                try:
                    if not size_text or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                        raise ValueError
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {line[:40]!r} in chunked body") from None
                if size == 0:
                    self._state = _TRAILERS
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if not self._buf:
                    break
                body.append(self._take())
                if self._remaining == 0:
                    self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(self._buf) < 2 and self._buf != b"\n":
                    break
                if self._buf.startswith(b"\r\n"):
                    self._buf = self._buf[2:]
                elif self._buf.startswith(b"\n"):
                    self._buf = self._buf[1:]
                else:
                    raise ProtocolError("chunk data not followed by CRLF in chunked body")
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                line = self._line(MAX_HEAD_BYTES, "trailer")
                if line is None:
                    break
                if not line.strip():
                    self._finish()
        return body

    def _take(self) -> bytes:
        """Up to the ``_remaining`` bytes of the body (or chunk) that have arrived."""
        take = self._buf[: self._remaining]
        self._buf = self._buf[len(take) :]
        self._remaining -= len(take)
        return take

    def _finish(self):
        self._state = _DONE
        self.done = True

    def _eof(self) -> list:
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

    def _line(self, limit: int, what: str):
        end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > limit:
                raise ProtocolError(f"{what} longer than {limit} bytes")
            return None
        line = self._buf[:end]
        self._buf = self._buf[end + 1 :]
        return line[:-1] if line.endswith(b"\r") else line

    def _parse_head(self) -> bool:
        buf = self._buf
        end = buf.find(b"\r\n\r\n")
        sep = 4
        if end < 0:
            end = buf.find(b"\n\n")
            sep = 2
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise ProtocolError(f"response headers are larger than {MAX_HEAD_BYTES} bytes")
            if len(buf) >= 5 and not buf.startswith(b"HTTP/"):
                raise ProtocolError(f"not an HTTP response: {buf[:40]!r}")
            return False
        if end > MAX_HEAD_BYTES:
            raise ProtocolError(f"response headers are larger than {MAX_HEAD_BYTES} bytes")
        head = buf[:end].decode("latin-1")
        self._buf = buf[end + sep :]
        lines = head.replace("\r\n", "\n").split("\n")
        status_line = lines[0]
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"not an HTTP status line: {status_line[:60]!r}")
        headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:  # obsolete line folding
                name, value = headers[-1]
                headers[-1] = (name, value + " " + line.strip())
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ProtocolError(f"malformed header line {line[:60]!r}")
            headers.append((name, value.strip()))
        status = int(code)
        if 100 <= status < 200 and status != 101:
            return True  # interim response (100 Continue, 103 Early Hints): the real one follows
        self.version, self.status, self.reason, self.headers = version, status, reason.strip(), headers
        self.head_done = True
        self._choose_framing()
        return True

    def _choose_framing(self):
        status = self.status
        if self.method == "HEAD" or status in NO_BODY_STATUSES or status == 101:
            self._finish()
            return
        if self.method == "CONNECT" and 200 <= status < 300:
            self._finish()  # a tunnel: what follows is not HTTP
            return
        codings = [v for n, v in self.headers if n.lower() == "transfer-encoding"]
        if codings:
            last = ",".join(codings).split(",")[-1].strip().lower()
            if last == "chunked":
                self._state = _CHUNK_SIZE
            else:
                self._state = _UNTIL_EOF
            return
        lengths = {v.strip() for n, v in self.headers if n.lower() == "content-length"}
        if lengths:
            values = {p.strip() for v in lengths for p in v.split(",")}
            if len(values) != 1 or not next(iter(values)).isdigit():
                raise ProtocolError(f"bad Content-Length {', '.join(sorted(lengths))!r}")
            self._remaining = int(next(iter(values)))
            if self._remaining == 0:
                self._finish()
            else:
                self._state = _LENGTH
            return
        self._state = _UNTIL_EOF
