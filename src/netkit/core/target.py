"""Targets written as URLs: ``scheme://[user[:password]@]host[:port][/path][?query]``.

Hosts may be names, IPv4 addresses or IPv6 addresses in brackets (``[::1]``). Parsing is
done by hand rather than with urllib.parse, which costs ~10 ms of imports on the fast
path of a single check; the rules are RFC 3986's authority syntax.
"""

__all__ = ["Target", "parse_target", "split_hostport", "percent_decode", "percent_encode", "is_ip_literal",
           "lookup_name"]

from netkit.core.text import LINE_BREAKERS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = "0123456789ABCDEF"
# Characters a URL path or query may carry as they are (RFC 3986 pchar, '/', '?').
_PATH_SAFE = frozenset(b"!$&'()*+,;=:@/?%")


class Target:
    """A parsed target; ``port`` is always set (from the URL or the scheme's default)."""

    __slots__ = ("scheme", "host", "port", "path", "user", "password", "text")

    def __init__(self, scheme: str, host: str, port: int, path: str = "", user: str | None = None,
                 password: str | None = None, text: str | None = None) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.user = user
        self.password = password
        self.text = text if text is not None else self.url(credentials=False)

    @property
    def netloc(self) -> str:
        """``host:port`` with IPv6 in brackets."""
        return f"{bracket(self.host)}:{self.port}"

    def url(self, credentials: bool = False) -> str:
        auth = ""
        if credentials and self.user is not None:
            auth = percent_encode(self.user)
            if self.password is not None:
                auth += ":" + percent_encode(self.password)
            auth += "@"
        return f"{self.scheme}://{auth}{self.netloc}{self.path}"

    def __repr__(self) -> str:
        return f"Target({self.url()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Target):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__ if k != "text")


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def lookup_name(host: str) -> bytes | str:
    """``host`` as getaddrinfo() should get it: ASCII names as bytes, which skips the
    "idna" codec (importing encodings.idna, stringprep and unicodedata costs 5-15 ms of a
    command's start); other names as they are, for the codec to encode."""
    return host.encode("ascii") if host.isascii() else host


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 dotted quad or an IPv6 address (no name lookup needed)."""
    if ":" in host:
        return True
    parts = host.split(".")
    return len(parts) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


def percent_decode(text: str) -> str:
    if "%" not in text:
        return text
    out = bytearray()
    raw = text.encode("utf-8")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25 and i + 2 < len(raw) + 0 and _ishex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "replace")


def _ishex(pair: bytes) -> bool:
    return len(pair) == 2 and all(chr(b) in "0123456789abcdefABCDEF" for b in pair)


def percent_encode(text: str, safe: "frozenset[int]" = _UNRESERVED) -> str:
    """Percent-encode UTF-8 ``text``, leaving the bytes in ``safe`` as they are."""
    out = []
    for b in text.encode("utf-8"):
        if b in safe:
            out.append(chr(b))
        else:
            out.append("%" + _HEX[b >> 4] + _HEX[b & 15])
    return "".join(out)


def encode_path(path: str) -> str:
    """Make a path+query safe to put on the request line (spaces, non-ASCII encoded)."""
    return percent_encode(path, _UNRESERVED | _PATH_SAFE)


# A DNS label and a whole name at most (RFC 1035 section 2.3.4; 253 without the root dot).
MAX_LABEL = 63
MAX_HOST_NAME = 253


def _port(text: str, url: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"port {text!r} in {url!r} is not a number; the port is 1-65535")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} in {url!r} is out of range; the port is 1-65535")
    return port


def _host(text: str, url: str) -> str:
    if not text:
        raise ValueError(f"{url!r} has no host")
    if any(c in text for c in " \t\r\n/\\?#@[]<>\"'"):
        raise ValueError(f"host {text!r} in {url!r} is not a valid host name or address")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"host {text!r} in {url!r} is not a valid host name") from None
    # DNS's shape (RFC 1035): labels of 1 to 63 characters, 253 in all, one trailing dot at
    # most. '..' or 'a..b' went on to the resolver, where the idna codec failed with
    # "label empty or too long" (ssh run, scan) instead of a usage error.
    labels = (text[:-1] if text.endswith(".") else text).split(".")
    if len(text) > MAX_HOST_NAME or not all(0 < len(label) <= MAX_LABEL for label in labels):
        raise ValueError(f"host {text!r} in {url!r} is not a valid host name (its dot-separated parts are "
                         f"1 to {MAX_LABEL} characters, {MAX_HOST_NAME} in all)")
    return text.lower()


def split_hostport(authority: str, url: str, default_port: int | None = None) -> tuple[str, int | None]:
    """``host[:port]`` or ``[v6][:port]`` -> (host, port). Port ``None`` when absent."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError(f"{url!r} has '[' without ']'; write IPv6 as [::1]:port")
        host = authority[1:end]
        if not host or any(c not in "0123456789abcdefABCDEF:." for c in host.split("%")[0]):
            raise ValueError(f"{host!r} in {url!r} is not an IPv6 address")
        rest = authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after ']' in {url!r}; the form is [::1]:port")
        port_text = rest[1:] if rest else None
        host = host.lower()
    else:
        if authority.count(":") > 1:
            raise ValueError(f"{url!r}: put an IPv6 address in brackets, as in tcp://[::1]:22")
        host, sep, port_text = authority.partition(":")
        host = _host(host, url)
        if not sep:
            port_text = None
    if port_text is None:
        return host, default_port
    if port_text == "":
        raise ValueError(f"{url!r} has ':' but no port; the port is 1-65535")
    return host, _port(port_text, url)


def parse_target(text: str, default_ports: "Mapping[str, int | None]", *,
                 hostless: "frozenset[str]" = frozenset()) -> Target:
    """Parse a URL target; ``ValueError`` says what is wrong and the right form.

    ``default_ports`` maps each accepted scheme to its default port (None: the URL must
    give one). Schemes in ``hostless`` may leave the host out (``dns:///name``: the
    system's resolver); the host is then "".
    """
    url = str(text).strip()
    shown = url  # what a message may quote: never the password
    if "@" in url:  # a userinfo; netkit.core.secrets stays off check's start-up otherwise
        from netkit.core.secrets import mask_url

        shown = mask_url(url)
    if not LINE_BREAKERS.isdisjoint(url):
        raise ValueError(f"{shown!r} holds CR, LF or NUL; a URL is one line (write them %-encoded where "
                         f"the path may hold them)")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in default_ports:
        known = ", ".join(f"{s}://" for s in default_ports)
        if not sep:
            raise ValueError(f"{shown!r} has no scheme; write it as scheme://host/path (schemes: {known})")
        raise ValueError(f"unknown scheme {scheme + '://'!r} in {shown!r}; the schemes here are {known}")
    cut = len(rest)
    for mark in "/?#":
        pos = rest.find(mark)
        if 0 <= pos < cut:
            cut = pos
    authority, path = rest[:cut], rest[cut:]
    if "#" in path:
        path = path[: path.index("#")]
    user = password = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        name, colon, secret = userinfo.partition(":")
        user = percent_decode(name)
        password = percent_decode(secret) if colon else None
        # %0D%0A in a user or password would end the USER/PASS/LOGIN line it is sent in and
        # start a command of the URL writer's choosing.
        for field, value in (("user name", user), ("password", password)):
            if value is not None and not LINE_BREAKERS.isdisjoint(value):
                raise ValueError(f"the {field} in {shown!r} holds CR, LF or NUL (%0D, %0A, %00); "
                                 f"it would end the protocol line it is sent in")
    if not authority and scheme in hostless:
        host, port = "", default_ports[scheme]
    else:
        host, port = split_hostport(authority, shown, default_ports[scheme])
    if port is None:
        raise ValueError(f"{shown!r} needs a port: {scheme}://host:port")
    if path and path[0] == "?":
        path = "/" + path
    return Target(scheme, host, port, path, user, password)
