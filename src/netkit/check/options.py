"""Every option a check takes, once: the command line and the checks file both read
this table, so a value is checked the same way and wrong in the same words in both.

Each option has a kind (``flag``: on/off; ``one``: one value, the last given wins;
``many``: repeatable, a list), a parser that turns a string (command line) or a TOML value
into the typed value or raises ``ValueError`` saying what it expects, and the schemes it
applies to.
"""

from netkit.core.ranges import RANGE_FORMS, parse_range
from netkit.core.status import CRITICAL, WARNING, parse_state
from netkit.core.text import parse_seconds, parse_size, unescape

__all__ = ["Option", "OPTIONS", "BY_NAME", "BY_FLAG", "SCHEMES", "DEFAULT_TIMEOUT"]

# The checks netkit knows, and the default port of each (None: the URL must say).
SCHEMES = {"tcp": None, "udp": None, "tls": 443, "http": 80, "https": 443}
# A check that has not finished after this long is CRITICAL (check_tcp's default too).
DEFAULT_TIMEOUT = 10.0
# Redirects followed before giving up (curl stops at 50, check_http at 15; real sites
# need 2 or 3, and a loop shows itself long before 10).
DEFAULT_MAX_REDIRECTS = 10

ALL = frozenset(SCHEMES)
LINE = frozenset(("tcp", "udp"))
HTTP = frozenset(("http", "https"))
# http:// takes them too: a redirect may lead to https://.
TLS_USING = frozenset(("tcp", "tls", "http", "https"))


class Option:
    __slots__ = ("name", "short", "kind", "parse", "schemes", "default", "metavar", "help", "example")

    def __init__(self, name, kind, parse, schemes, help, *, short=None, default=None, metavar=None,
                 example=None):
        self.name = name
        self.short = short
        self.kind = kind
        self.parse = parse
        self.schemes = schemes
        self.default = default
        self.metavar = metavar
        self.help = help
        self.example = example

    @property
    def key(self) -> str:
        """The name in a checks file (TOML keys may hold dashes)."""
        return self.name


def _text(value) -> str:
    if isinstance(value, (dict, list, bool)):
        raise ValueError("expects text")
    return str(value)


def _nonempty(value) -> str:
    text = _text(value)
    if not text:
        raise ValueError("expects a non-empty value")
    return text


def _escaped(value) -> bytes:
    return unescape(_text(value))


def _expected(value) -> bytes:
    data = _escaped(value)
    if not data:
        raise ValueError("expects a non-empty string (an empty one would match anything)")
    return data


def _range(value):
    try:
        return parse_range(value)
    except ValueError as exc:
        raise ValueError(f"expects a range: {RANGE_FORMS}; {value!r} {exc}") from None


def _days(value) -> int:
    if isinstance(value, bool):
        raise ValueError("expects a whole number of days")
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ValueError("expects a whole number of days") from None
    if days < 0:
        raise ValueError("expects a number of days, 0 or more")
    return days


def _count(value) -> int:
    if isinstance(value, bool):
        raise ValueError("expects a whole number")
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValueError("expects a whole number") from None
    if n < 0:
        raise ValueError("expects a whole number, 0 or more")
    return n


def _positive(value) -> int:
    n = _count(value)
    if n < 1:
        raise ValueError("expects a whole number, 1 or more")
    return n


def _state(value):
    return parse_state(_text(value))


def _method(value) -> str:
    text = _text(value).strip().upper()
    if not text or not text.isalpha():
        raise ValueError("expects an HTTP method such as GET, HEAD, POST")
    return text


def _header(value):
    from netkit.proto.http1 import check_header

    text = _text(value)
    name, colon, val = text.partition(":")
    if not colon:
        raise ValueError("expects 'Name: value'")
    name, val = name.strip(), val.strip()
    check_header(name, val)
    return (name, val)


def _pair(value):
    text = _text(value)
    key, eq, val = text.partition("=")
    if not eq or not key:
        raise ValueError("expects key=value")
    return (key, val)


def _statuses(value):
    """``200``, ``200,301``, ``2xx``, ``200-299`` or a TOML list of them -> a checker."""
    from netkit.check.http import parse_statuses

    return parse_statuses(value)


def _regex(value):
    import re

    text = _nonempty(value)
    try:
        return re.compile(text.encode("utf-8"), re.MULTILINE)
    except re.error as exc:
        raise ValueError(f"is not a valid regular expression: {exc}") from None


def _readable_file(value) -> str:
    import os

    path = os.path.expanduser(_nonempty(value))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(f"expects a readable file; {path!r} is not one")
    return path


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


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("expects true or false")


OPTIONS = (
    # -- every check -------------------------------------------------------------------
    Option("name", "one", _nonempty, ALL, "name shown for the check (Nagios service label)", metavar="NAME",
           example="web"),
    Option("warning", "one", _range, ALL, "response time range (s) outside which it is WARNING", short="w",
           metavar="RANGE", example="0.5"),
    Option("critical", "one", _range, ALL, "response time range (s) outside which it is CRITICAL",
           short="c", metavar="RANGE", example="2"),
    Option("timeout", "one", parse_seconds, ALL, "seconds before giving up (CRITICAL)", short="t",
           default=DEFAULT_TIMEOUT, metavar="SECONDS", example="5"),
    Option("ipv4", "flag", _flag, ALL, "connect over IPv4 only", short="4", default=False),
    Option("ipv6", "flag", _flag, ALL, "connect over IPv6 only", short="6", default=False),
    # -- tcp and udp ------------------------------------------------------------------
    Option("send", "many", _escaped, LINE, "data to send (escapes like \\r\\n; repeatable)", metavar="TEXT",
           default=(), example="'QUIT\\r\\n'"),
    Option("expect", "many", _expected, LINE, "string expected in the reply (repeatable; any matches)",
           metavar="TEXT", default=(), example="'220'"),
    Option("expect-all", "flag", _flag, LINE, "every --expect string must be in the reply", default=False),
    Option("quit", "one", _escaped, frozenset(("tcp",)), "data to send before closing", metavar="TEXT",
           example="'QUIT\\r\\n'"),
    Option("refuse", "one", _state, LINE, "status when the port refuses: ok, warn or crit", default=CRITICAL,
           metavar="STATE", example="warn"),
    Option("mismatch", "one", _state, LINE, "status when the reply lacks --expect: ok, warn or crit",
           default=WARNING, metavar="STATE", example="crit"),
    Option("maxbytes", "one", _positive, LINE, "stop reading the reply after this many bytes",
           metavar="BYTES", example="4096"),
    Option("tls", "flag", _flag, frozenset(("tcp",)), "do a TLS handshake after connecting", default=False),
    # -- TLS (tcp --tls, tls://, https://) ----------------------------------------------
    Option("insecure", "flag", _flag, TLS_USING, "do not verify the peer's certificate", short="k",
           default=False),
    Option("cacert", "one", _readable_file, TLS_USING, "CA certificates (PEM) to verify against", metavar="FILE",
           example="/etc/ssl/my-ca.pem"),
    Option("sni", "one", _nonempty, TLS_USING, "server name to send and verify (default: the URL's host)",
           metavar="NAME", example="www.example.com"),
    Option("cert-warn", "one", _days, TLS_USING, "WARNING when a certificate expires within DAYS",
           metavar="DAYS", example="30"),
    Option("cert-crit", "one", _days, TLS_USING, "CRITICAL when a certificate expires within DAYS",
           metavar="DAYS", example="7"),
    # -- http and https -----------------------------------------------------------------
    Option("method", "one", _method, HTTP, "request method", default="GET", short="X", metavar="METHOD",
           example="HEAD"),
    Option("header", "many", _header, HTTP, "request header (repeatable)", short="H", default=(),
           metavar="'NAME: VALUE'", example="'Accept: text/html'"),
    Option("data", "many", _pair, HTTP, "form field, urlencoded into the query (GET) or body (repeatable)",
           short="d", default=(), metavar="KEY=VALUE", example="q=netkit"),
    Option("user", "one", _nonempty, HTTP, "basic-auth user; password from --password-env or a prompt",
           short="u", metavar="USER", example="admin"),
    Option("password-env", "one", _env_name, HTTP, "environment variable holding the password",
           metavar="VAR", example="WEB_PASSWORD"),
    Option("user-agent", "one", _user_agent, HTTP, "User-Agent header", short="A", metavar="TEXT",
           example="'monitor/1.0'"),
    Option("status", "one", _statuses, HTTP, "expected status codes (default 2xx,3xx)", metavar="CODES",
           example="200,301"),
    Option("body", "many", _expected, HTTP, "string expected in the body (repeatable)", default=(),
           metavar="TEXT", example="Welcome"),
    Option("body-regex", "one", _regex, HTTP, "regular expression expected in the body", metavar="REGEX",
           example="'version [0-9]+'"),
    Option("invert", "flag", _flag, HTTP, "CRITICAL when --body / --body-regex *do* match", default=False),
    Option("follow", "flag", _flag, HTTP, "follow redirects (else a 3xx is judged as it is)", short="L",
           default=False),
    Option("max-redirects", "one", _count, HTTP, "redirects to follow at most", default=DEFAULT_MAX_REDIRECTS,
           metavar="N", example="5"),
    Option("max-body", "one", parse_size, HTTP, "CRITICAL when the body is larger (e.g. 1M)",
           metavar="SIZE", example="1M"),
    Option("proxy", "one", _proxy, HTTP, "HTTP proxy URL (default: http_proxy/https_proxy)", metavar="URL",
           example="http://proxy:3128"),
    Option("no-proxy", "flag", _flag, HTTP, "ignore proxies in the environment", default=False),
)

BY_NAME = {o.name: o for o in OPTIONS}
BY_FLAG = {f"--{o.name}": o for o in OPTIONS}
BY_FLAG.update({f"-{o.short}": o for o in OPTIONS if o.short})
