"""URL helpers for ``netkit url``: split a URL into its parts, quote and unquote text,
join a reference onto a base, and encode or decode a query string.

These are urllib.parse's functions (the seed's quote, quote_plus, unquote, urlsplit,
urljoin, urlencode) for any URL, as a user's script sees them, with input checked and
mistakes reported as :class:`~netkit.core.errors.UsageError` naming the right form. No I/O,
no printing. netkit's own commands read the URLs they connect to with
:func:`netkit.core.target.parse_target`, not with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode, urljoin, urlsplit
from urllib.parse import quote as _quote
from urllib.parse import unquote as _unquote

from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "MASK",
    "UrlParts",
    "decode_query",
    "describe_url",
    "encode_query",
    "join_url",
    "parse_pair",
    "quote",
    "unquote",
]

# What a password is replaced by unless the caller asks to see it: URLs end up in logs,
# terminals and screenshots.
MASK = "***"
URL_FORM = "e.g. https://user@example.com:8443/path?key=value#part"


@dataclass(frozen=True)
class UrlParts:
    """A URL split as urllib.parse.urlsplit does, with the authority split further.

    ``username`` and ``password`` are percent-decoded; ``password`` (also inside ``url``
    and ``netloc``) is :data:`MASK` unless asked for. ``query_pairs`` is the query
    decoded into (name, value) pairs, blanks and repeated names kept.
    """

    url: str
    scheme: str
    netloc: str
    username: str | None
    password: str | None
    hostname: str | None
    port: int | None
    path: str
    query: str
    query_pairs: tuple[tuple[str, str], ...]
    fragment: str

    def to_dict(self) -> dict:
        return {"url": self.url, "scheme": self.scheme, "netloc": self.netloc, "username": self.username,
                "password": self.password, "hostname": self.hostname, "port": self.port, "path": self.path,
                "query": self.query, "query_pairs": [list(p) for p in self.query_pairs],
                "fragment": self.fragment}


def _split(url: str, what: str = "URL"):
    try:
        return urlsplit(url)
    except ValueError as exc:
        reason = str(exc)
        if "IPv6" in reason:
            reason = "an IPv6 address needs both brackets, as in http://[2001:db8::1]:8080/"
        raise UsageError(f"{what} {url!r} is malformed: {reason}; {URL_FORM}") from None


def _port_text(netloc: str):
    hostinfo = netloc.rpartition("@")[2]
    if hostinfo.startswith("["):
        rest = hostinfo.partition("]")[2]
        return rest[1:] if rest.startswith(":") else None
    _, colon, port = hostinfo.partition(":")
    return port if colon else None


def describe_url(url: str, *, show_password: bool = False) -> UrlParts:
    """``url`` split for ``netkit url parse`` as urllib.parse sees it; UsageError when it is
    empty, malformed, or its port is not 0-65535.

    This describes any URL (``mailto:``, ``urn:``, a scheme netkit never connects to); it
    is not how netkit reads the URLs it connects to: that is
    :func:`netkit.core.target.parse_target`, the one target parser of every command."""
    url = str(url)
    if not url.strip():
        raise UsageError(f"the URL is empty; {URL_FORM}")
    parts = _split(url)
    port = None
    port_text = _port_text(parts.netloc)
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()):
            raise UsageError(f"port {port_text!r} in {url!r} is not a number; a port is 0-65535, "
                             "as in http://example.com:8080/")
        port = int(port_text)
        if port > 65535:
            raise UsageError(f"port {port} in {url!r} is out of range; a port is 0-65535")
    username = _unquote(parts.username) if parts.username is not None else None
    password = _unquote(parts.password) if parts.password is not None else None
    netloc, shown = parts.netloc, url
    if password is not None and not show_password:
        userinfo, _, hostinfo = parts.netloc.rpartition("@")
        masked = f"{userinfo.partition(':')[0]}:{MASK}@{hostinfo}"
        shown = url.replace(parts.netloc, masked, 1)
        netloc, password = masked, MASK
    pairs = tuple(parse_qsl(parts.query, keep_blank_values=True))
    return UrlParts(shown, parts.scheme, netloc, username, password, parts.hostname, port, parts.path,
                    parts.query, pairs, parts.fragment)


def _as_given(text):
    """``text``, or its bytes when it came from a command line that was not UTF-8 (the
    bytes Python kept as surrogates): those bytes are what gets percent-encoded."""
    if isinstance(text, str) and not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogateescape")
    return text


def quote(text: str, *, safe: str | None = None, plus: bool = False) -> str:
    """Percent-encode ``text`` as UTF-8 (bytes that were not UTF-8 on the command line, as
    they were): ``quote`` (path; '/' kept by default) or, with ``plus``, ``quote_plus``
    (query; spaces become '+', nothing kept by default)."""
    text = _as_given(text)
    if safe is not None:
        safe = _as_given(safe)
        if isinstance(safe, bytes):  # characters, not bytes, are what stays unquoted
            raise UsageError("--safe takes characters that are UTF-8 text; write them as they are, e.g. --safe '/:'")
    if plus:
        return quote_plus(text, safe="" if safe is None else safe)
    return _quote(text, safe="/" if safe is None else safe)


def unquote(text: str, *, plus: bool = False) -> str:
    """Undo :func:`quote` (``plus``: also '+' -> space). Bytes that are not UTF-8 become U+FFFD."""
    return unquote_plus(text) if plus else _unquote(text)


def join_url(base: str, ref: str) -> str:
    """Resolve ``ref`` against ``base`` (RFC 3986, as a browser does with a link)."""
    parts = _split(base, "base URL")
    if not parts.scheme:
        raise UsageError(f"base URL {base!r} has no scheme; the base is absolute, e.g. https://example.com/dir/")
    _split(ref, "reference")
    return urljoin(base, ref)


def parse_pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (key, value); the value may be empty or hold more '='."""
    key, eq, value = str(text).partition("=")
    if not eq:
        raise UsageError(f"{text!r} is not KEY=VALUE; write {text}= for an empty value")
    if not key:
        raise UsageError(f"{text!r} has no name before '='; the form is KEY=VALUE, e.g. q=netkit")
    return key, value


def encode_query(pairs: Iterable[tuple[str, str] | str]) -> str:
    """``[("n", "1"), ("n", "3"), ("button", "Привет")]`` -> ``n=1&n=3&button=%D0%9F...``.

    Pairs may be (key, value) tuples or ``KEY=VALUE`` strings; order and repeated names are
    kept, text is encoded as UTF-8, spaces as '+' (HTML form encoding).
    """
    items = [parse_pair(p) if isinstance(p, str) else (str(p[0]), str(p[1])) for p in pairs]
    return urlencode([(_as_given(k), _as_given(v)) for k, v in items])


def decode_query(text: str) -> tuple[tuple[str, str], ...]:
    """A query string (``a=1&b=&a=2``, with or without '?', or a whole URL) -> pairs.

    Blank values and repeated names are kept, in order; '+' is a space.
    """
    text = str(text)
    parts = _split(text, "query")
    if parts.scheme and parts.netloc:
        text = parts.query
    elif text.startswith("?"):
        text = text[1:]
    return tuple(parse_qsl(text, keep_blank_values=True))
