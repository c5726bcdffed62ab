"""Small text helpers for user input: escapes, sizes, durations, previews."""

__all__ = ["unescape", "parse_size", "parse_seconds", "preview", "format_size", "for_terminal",
           "check_line_field", "LINE_BREAKERS", "is_digits", "MAX_SECONDS",
           "json_controls_escaped", "suggest"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TypeVar

    _Field = TypeVar("_Field")

_SIMPLE = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\", "0": "\0", "e": "\x1b", "a": "\a"}
ESCAPES_HELP = r"\r, \n, \t, \0, \\ and \xHH"


def unescape(text: str) -> bytes:
    r"""Turn ``\r\n``-style escapes into bytes (UTF-8 for the rest)."""
    if "\\" not in text:
        return text.encode("utf-8")
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1 : i + 2]
        if nxt in _SIMPLE and nxt:
            out.append(_SIMPLE[nxt])
            i += 2
        elif nxt == "x" and len(text) >= i + 4 and all(h in "0123456789abcdefABCDEF" for h in text[i + 2 : i + 4]):
            out.append(chr(int(text[i + 2 : i + 4], 16)))
            i += 4
        else:
            bad = "\\" + nxt if nxt else "a trailing \\"
            raise ValueError(f"has an unknown escape {bad!r}; use {ESCAPES_HELP}")
    # \xHH means the byte HH, so code points < 256 map to single bytes.
    joined = "".join(out)
    return b"".join(ch.encode("latin-1") if ord(ch) < 256 else ch.encode("utf-8") for ch in joined)


def is_digits(text: object) -> bool:
    """True when ``text`` is ``[0-9]+`` -- ASCII only. ``str.isdigit`` also says True for
    '²', '١' and '৩', which ``int()`` refuses or reads as other numbers: user input and
    peers' bytes are checked with this before ``int()``."""
    return isinstance(text, str) and text.isascii() and text.isdigit()


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
               "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3}


def parse_size(value: object) -> int:
    """``1024``, ``64k``, ``10M``, ``1G`` (binary units) -> bytes."""
    if isinstance(value, bool):
        raise ValueError("expects a size")
    number: float
    if isinstance(value, int):
        number, unit = value, ""
    else:
        text = str(value).strip().lower()
        if not text.isascii():  # int()/float() read '١٢' as 12
            raise ValueError("expects a size like 65536, 64k, 10M or 1G")
        j = len(text)
        while j and text[j - 1].isalpha():
            j -= 1
        digits, unit = text[:j].strip(), text[j:]
        try:
            number = float(digits) if "." in digits else int(digits)
        except ValueError:
            raise ValueError("expects a size like 65536, 64k, 10M or 1G") from None
    if unit not in _SIZE_UNITS:
        raise ValueError("expects a size like 65536, 64k, 10M or 1G")
    size = number * _SIZE_UNITS[unit]
    if size != size or size in (float("inf"), float("-inf")):  # '1e999', 'nan': int() raises
        raise ValueError("expects a size like 65536, 64k, 10M or 1G")
    whole = int(size)
    if whole < 0:
        raise ValueError("expects a size of 0 or more")
    return whole


# The longest duration any option takes (timeouts, intervals, idle limits): a day. Longer
# is never meant (a check, a transfer's silence, a server's idle client), and bounding it
# keeps every number a clock or a socket is given far from overflow (``-t 1e308`` made
# settimeout() raise OverflowError and an asyncio deadline wait forever).
MAX_SECONDS = 86400.0


def parse_seconds(value: object, *, allow_zero: bool = False) -> float:
    """A duration in seconds (``5``, ``2.5``; a TOML number too), greater than 0 (or 0 with
    ``allow_zero``) and at most MAX_SECONDS; ValueError saying what it expects."""
    least = "of 0 or more" if allow_zero else "greater than 0"
    expects = f"expects a number of seconds {least}, at most {MAX_SECONDS:g} (a day)"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (
            isinstance(value, str) and not value.isascii()):
        raise ValueError(expects)
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(expects) from None
    if not (0 <= seconds <= MAX_SECONDS) or (seconds == 0 and not allow_zero):  # nan fails both
        raise ValueError(expects)
    return seconds


def preview(data: bytes, limit: int = 60) -> str:
    """The first line of ``data``, printable, cut to ``limit`` characters."""
    text = data.decode("utf-8", "replace")
    line = text.strip().split("\n", 1)[0].strip()
    line = "".join(c if c.isprintable() else "." for c in line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def format_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# Characters that end or split a line of a line protocol (FTP, SMTP, POP3, IMAP, HTTP
# headers): none of them may come from user input or a peer into a line we write.
LINE_BREAKERS = frozenset("\r\n\0")


def check_line_field(value: "_Field", field: str) -> "_Field":
    """``value`` unchanged, or ValueError naming ``field`` when it holds CR, LF or NUL --
    the characters that would end the protocol line and start a command of the caller's
    choosing (``DELE``, ``DATA``, a second header). The first wall is the option and target
    parsers (a usage error); the proto layer that writes the line calls it again."""
    text = value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)
    if not LINE_BREAKERS.isdisjoint(text):
        raise ValueError(f"{field} must not contain CR, LF or NUL (it would end the protocol line)")
    return value


def _escape_control(c: str) -> str:
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{n - 0xDC00:02x}"
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def for_terminal(text: object, keep_newlines: bool = False) -> str:
    """Remote text made safe for a terminal: every control character (ESC and so every
    CSI/OSC sequence, BEL, backspace, C1 controls, bidi overrides) shown as ``\\xHH`` /
    ``\\uHHHH`` / ``\\UHHHHHHHH``; tabs kept; newlines (and the CR of a CRLF) kept when
    ``keep_newlines`` (a command's output), else escaped (a one-line field). Bytes are read
    as UTF-8, invalid bytes shown as ``\\xHH``."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    text = "" if text is None else str(text)
    if text.isprintable():
        return text
    if not keep_newlines:
        return "".join(c if c.isprintable() or c == "\t" else _escape_control(c) for c in text)
    # A CR of a CRLF line end is kept; a lone CR (which lets a line overwrite itself) is not.
    return "\n".join(
        "".join(c if c.isprintable() or c == "\t" or (c == "\r" and i == len(line) - 1) else _escape_control(c)
                for i, c in enumerate(line))
        for line in text.split("\n"))


def json_controls_escaped(dumped: str) -> str:
    """JSON text from ``json.dumps(..., ensure_ascii=False)`` with the characters it leaves
    raw but a terminal obeys -- C1 controls (U+0080-U+009F: 0x9B is a CSI), bidi overrides,
    line and paragraph separators -- written as ``\\uHHHH`` escapes: the same JSON value,
    safe to print. (json itself escapes only the C0 controls.)"""
    if dumped.isprintable():
        return dumped
    out = []
    for c in dumped:
        if c.isprintable():
            out.append(c)
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:  # outside the BMP: a surrogate pair, as JSON spells it
            n = ord(c) - 0x10000
            out.append(f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}")
    return "".join(out)


def suggest(word: str, choices: "Iterable[str]", quoted: bool = False) -> str:
    """``"; did you mean X?"`` for the closest of ``choices`` (``'X'`` with ``quoted``), or
    "" when none is close."""
    import difflib  # only on the error path

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean {close[0]!r}?" if quoted else f"; did you mean {close[0]}?"
