"""Every option a check takes, once, as :class:`netkit.core.fields.Field`: the command
line, the checks file, the monitor's config and the typed API (netkit.check._specs) all
parse through this table, so a value is checked the same way and wrong in the same words
in all of them.

Each field has a kind (``flag``: on/off; ``one``: one value, the last given wins;
``many``: repeatable, a list), a parser that turns a string (command line), a TOML value
or a Python value into the typed value or raises ``ValueError`` saying what it expects,
and the schemes it applies to. The command line's spelling and help of each one are in
netkit.cli.check.
"""

from netkit.core.fields import Field
from netkit.core.ranges import RANGE_FORMS, Range, parse_range
from netkit.core.status import CRITICAL, WARNING, Status, parse_state
from netkit.core.text import check_line_field, parse_seconds, parse_size, unescape

__all__ = ["BY_NAME", "DEFAULT_TIMEOUT", "FIELDS", "SCHEMES", "Field"]

# The checks netkit knows, and the default port of each (None: the URL must say).
SCHEMES = {"tcp": None, "udp": None, "tls": 443, "http": 80, "https": 443, "ftp": 21, "smtp": 25, "smtps": 465,
           "pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993, "ssh": 22, "dns": 53}
# A check that has not finished after this long is CRITICAL (check_tcp's default too).
DEFAULT_TIMEOUT = 10.0
# Redirects followed before giving up (curl stops at 50, check_http at 15; real sites
# need 2 or 3, and a loop shows itself long before 10).
DEFAULT_MAX_REDIRECTS = 10

ALL = frozenset(SCHEMES)
LINE = frozenset(("tcp", "udp"))
HTTP = frozenset(("http", "https"))
MAIL = frozenset(("smtp", "smtps", "pop3", "pop3s", "imap", "imaps"))
MAILBOX = frozenset(("pop3", "pop3s", "imap", "imaps"))
IMAP = frozenset(("imap", "imaps"))
SMTP = frozenset(("smtp", "smtps"))
STARTTLS = frozenset(("smtp", "pop3", "imap"))
# Schemes with a TLS layer, always or on request. http:// takes these options too: a
# redirect may lead to https://.
TLS_USING = frozenset(("tcp", "tls", "http", "https", "ftp")) | MAIL
# Schemes that log in with a user and a password.
LOGIN = HTTP | MAIL | frozenset(("ftp",))


def _text(value) -> str:
    """Text from the command line, TOML or a keyword (a path-like or a number reads as its text)."""
    if isinstance(value, (dict, list, tuple, bool, bytes, bytearray)):
        raise ValueError("expects text")
    return str(value)


def _nonempty(value) -> str:
    text = _text(value)
    if not text:
        raise ValueError("expects a non-empty value")
    return text


def _line(text: str) -> str:
    """``text``, which goes into a protocol line (USER, RCPT TO, EHLO...): no CR, LF, NUL."""
    try:
        return check_line_field(text, "it")
    except ValueError as exc:
        raise ValueError(f"expects one line of text: {exc}") from None


def _line_text(value) -> str:
    return _line(_text(value))


def _line_nonempty(value) -> str:
    return _line(_nonempty(value))


def _escaped(value) -> bytes:
    """Bytes: text with escapes (``\\r\\n``) from the command line or a file; a keyword's
    ``bytes`` as they are."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return unescape(_text(value))


def _expected(value) -> bytes:
    data = _escaped(value)
    if not data:
        raise ValueError("expects a non-empty string (an empty one would match anything)")
    return data


def _range(value):
    if isinstance(value, Range):
        return value
    try:
        return parse_range(value)
    except ValueError as exc:
        raise ValueError(f"expects a range: {RANGE_FORMS}; {exc}") from None


def _whole(value):
    """An int from a TOML int or ASCII text (``int()`` alone takes '١٢' and '1_0'); None if not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    digits = text[1:] if text[:1] == "-" else text
    return int(text) if digits.isascii() and digits.isdigit() else None


def _days(value) -> int:
    days = _whole(value)
    if days is None:
        raise ValueError("expects a whole number of days")
    if days < 0:
        raise ValueError("expects a number of days, 0 or more")
    return days


def _count(value) -> int:
    n = _whole(value)
    if n is None:
        raise ValueError("expects a whole number")
    if n < 0:
        raise ValueError("expects a whole number, 0 or more")
    return n


def _positive(value) -> int:
    n = _count(value)
    if n < 1:
        raise ValueError("expects a whole number, 1 or more")
    return n


def _state(value):
    if isinstance(value, Status):
        return value
    return parse_state(_text(value))


def _method(value) -> str:
    text = _text(value).strip().upper()
    if not text or not text.isalpha():
        raise ValueError("expects an HTTP method such as GET, HEAD, POST")
    return text


def _header(value):
    from netkit.proto.http1 import check_caller_header

    if isinstance(value, tuple) and len(value) == 2:  # a keyword's (name, value)
        name, val = _text(value[0]).strip(), _text(value[1]).strip()
    else:
        name, colon, val = _text(value).partition(":")
        if not colon:
            raise ValueError("expects 'Name: value'")
        name, val = name.strip(), val.strip()
    check_caller_header(name, val)
    return (name, val)


def _pair(value):
    if isinstance(value, tuple) and len(value) == 2:  # a keyword's (key, value)
        key, eq, val = _text(value[0]), "=", _text(value[1])
    else:
        key, eq, val = _text(value).partition("=")
    if not eq or not key:
        raise ValueError("expects key=value")
    return (key, val)


def _statuses(value):
    """``200``, ``200,301``, ``2xx``, ``200-299`` or a TOML list of them -> a checker."""
    from netkit.check.http import parse_statuses

    return parse_statuses(list(value) if isinstance(value, tuple) else value)


def _regex(value):
    """A regular expression over the body's bytes (a keyword's compiled pattern keeps its flags)."""
    import re

    flags = re.MULTILINE
    if isinstance(value, re.Pattern):
        flags |= value.flags & ~re.UNICODE
        value = value.pattern
    if isinstance(value, (bytes, bytearray)):
        if not value:
            raise ValueError("expects a non-empty value")
        pattern = bytes(value)
    else:
        pattern = _nonempty(value).encode("utf-8")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from None


def _readable_file(value) -> str:
    import os

    path = os.path.expanduser(_nonempty(value))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(f"expects a readable file; {path!r} is not one")
    return path


def _path(value) -> str:
    import os

    return os.path.expanduser(_line_nonempty(value))


def _env_name(value) -> str:
    text = _nonempty(value)
    if not all(c.isalnum() or c == "_" for c in text):
        raise ValueError("expects the name of an environment variable")
    return text


def _proxy(value):
    from netkit.core.proxies import parse_proxy

    return parse_proxy(_text(value))


def _user_agent(value) -> str:
    text = _text(value)
    if any(c in text for c in "\r\n"):
        raise ValueError("expects one line of text")
    return text


def _fingerprint(value) -> str:
    text = _nonempty(value).strip()
    kind, colon, digest = text.partition(":")
    if not colon or kind.upper() not in ("SHA256", "MD5") or not digest:
        raise ValueError("expects a host key fingerprint like SHA256:base64 (as ssh-keygen -lf prints it)")
    return f"{kind.upper()}:{digest}"


def _rrtype(value) -> str:
    from netkit.core.records import RECORD_TYPES

    text = _nonempty(value).strip().upper()
    if text not in RECORD_TYPES:
        raise ValueError(f"expects a record type: {', '.join(RECORD_TYPES)}")
    return text


def _address(value):
    import ipaddress

    try:
        return ipaddress.ip_network(_nonempty(value).strip(), strict=False)
    except ValueError:
        raise ValueError("expects an IP address or a network like 192.0.2.0/24") from None


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("expects true or false")


FIELDS = (
    Field("name", "one", _line_nonempty, ALL, example="web"),  # one line: the Nagios service label
    Field("warning", "one", _range, ALL, example="0.5"),
    Field("critical", "one", _range, ALL, example="2"),
    Field("timeout", "one", parse_seconds, ALL, default=DEFAULT_TIMEOUT, example="5"),
    Field("ipv4", "flag", _flag, ALL, default=False),
    Field("ipv6", "flag", _flag, ALL, default=False),
    Field("send", "many", _escaped, LINE, default=(), example="QUIT\\r\\n"),
    Field("expect", "many", _expected, LINE, default=(), example="220"),
    Field("expect-all", "flag", _flag, LINE, default=False),
    Field("quit", "one", _escaped, frozenset(("tcp",)), example="QUIT\\r\\n"),
    Field("refuse", "one", _state, LINE, default=CRITICAL, example="warn"),
    Field("mismatch", "one", _state, LINE, default=WARNING, example="crit"),
    Field("maxbytes", "one", _positive, LINE, example="4096"),
    Field("tls", "flag", _flag, frozenset(("tcp", "ftp")), default=False),
    Field("insecure", "flag", _flag, TLS_USING, default=False),
    Field("cacert", "one", _readable_file, TLS_USING, example="/etc/ssl/my-ca.pem"),
    Field("sni", "one", _line_nonempty, TLS_USING, example="www.example.com"),
    Field("cert-warn", "one", _days, TLS_USING, example="30"),
    Field("cert-crit", "one", _days, TLS_USING, example="7"),
    Field("method", "one", _method, HTTP, default="GET", example="HEAD"),
    Field("header", "many", _header, HTTP, default=(), example="Accept: text/html"),
    Field("data", "many", _pair, HTTP, default=(), example="q=netkit"),
    Field("user-agent", "one", _user_agent, HTTP, example="monitor/1.0"),
    Field("status", "one", _statuses, HTTP, example="200,301"),
    Field("body", "many", _expected, HTTP, default=(), example="Welcome"),
    Field("body-regex", "one", _regex, HTTP, example="version [0-9]+"),
    Field("invert", "flag", _flag, HTTP, default=False),
    Field("follow", "flag", _flag, HTTP, default=False),
    Field("max-redirects", "one", _count, HTTP, default=DEFAULT_MAX_REDIRECTS, example="5"),
    Field("max-body", "one", parse_size, HTTP, example="1M"),
    Field("proxy", "one", _proxy, HTTP, example="http://proxy:3128"),
    Field("no-proxy", "flag", _flag, HTTP, default=False),
    Field("user", "one", _line_nonempty, LOGIN | frozenset(("ssh",)), example="admin"),
    Field("password-env", "one", _env_name, LOGIN, example="WEB_PASSWORD"),
    Field("starttls", "flag", _flag, STARTTLS, default=False),
    Field("ehlo", "one", _line_nonempty, SMTP, default="localhost", example="monitor.example.com"),
    Field("from", "one", _line_text, SMTP, example="monitor@example.com"),
    Field("rcpt", "many", _line_nonempty, SMTP, default=(), example="postmaster@example.com"),
    Field("mailbox", "one", _line_nonempty, IMAP, default="INBOX", example="Archive"),
    Field("messages-warn", "one", _range, MAILBOX, example="~:1000"),
    Field("messages-crit", "one", _range, MAILBOX, example="~:5000"),
    Field("size-warn", "one", _range, frozenset(("pop3", "pop3s")), example="~:100000000"),
    Field("size-crit", "one", _range, frozenset(("pop3", "pop3s")), example="~:500000000"),
    Field("unseen-warn", "one", _range, IMAP, example="~:100"),
    Field("unseen-crit", "one", _range, IMAP, example="~:1000"),
    Field("protocol", "one", _nonempty, frozenset(("ssh",)), default="2.0", example="2.0"),
    Field("software", "one", _nonempty, frozenset(("ssh",)), example="OpenSSH_9"),
    Field("hostkey", "many", _fingerprint, frozenset(("ssh",)), default=(), example="SHA256:n1+Xo5HLd0iJ3hLn8vYQk0E7LDgNcFIXu3BjyjGRb3s"),
    Field("identity", "one", _readable_file, frozenset(("ssh",)), example="~/.ssh/id_ed25519"),
    Field("known-hosts", "many", _path, frozenset(("ssh",)), default=(), example="~/.ssh/known_hosts"),
    Field("accept-new", "flag", _flag, frozenset(("ssh",)), default=False),
    Field("type", "one", _rrtype, frozenset(("dns",)), default="A", example="MX"),
    Field("tcp", "flag", _flag, frozenset(("dns",)), default=False),
    Field("expect-address", "many", _address, frozenset(("dns",)), default=(), example="192.0.2.0/24"),
    Field("expect-nxdomain", "flag", _flag, frozenset(("dns",)), default=False),
    Field("answers", "one", _range, frozenset(("dns",)), example="2:"),
)

BY_NAME = {f.name: f for f in FIELDS}
