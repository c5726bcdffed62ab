"""Every option a check takes, once: the command line and the checks file both read
this table, so a value is checked the same way and wrong in the same words in both.

Each option has a kind (``flag``: on/off; ``one``: one value, the last given wins;
``many``: repeatable, a list), a parser that turns a string (command line) or a TOML value
into the typed value or raises ``ValueError`` saying what it expects, and the schemes it
applies to.
"""

from netkit.core.options import Option
from netkit.core.ranges import RANGE_FORMS, parse_range
from netkit.core.status import CRITICAL, WARNING, parse_state
from netkit.core.text import check_line_field, parse_seconds, parse_size, unescape

__all__ = ["Option", "OPTIONS", "BY_NAME", "BY_FLAG", "SCHEMES", "DEFAULT_TIMEOUT"]

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


def _section(title: str, *options):
    for option in options:
        option.group = title
    return options


def _text(value) -> str:
    if isinstance(value, (dict, list, bool)):
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
    return parse_state(_text(value))


def _method(value) -> str:
    text = _text(value).strip().upper()
    if not text or not text.isalpha():
        raise ValueError("expects an HTTP method such as GET, HEAD, POST")
    return text


def _header(value):
    from netkit.proto.http1 import check_caller_header

    text = _text(value)
    name, colon, val = text.partition(":")
    if not colon:
        raise ValueError("expects 'Name: value'")
    name, val = name.strip(), val.strip()
    check_caller_header(name, val)
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


OPTIONS = (
    *_section(
        "every check",
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
    ),
    *_section(
        "tcp:// and udp://",
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
        Option("tls", "flag", _flag, frozenset(("tcp", "ftp")),
               "TLS after connecting (ftp: explicit FTPS, AUTH TLS)", default=False),
    ),
    *_section(
        "TLS (tls://, https://, and tcp://, ftp://, mail with --tls/--starttls)",
        Option("insecure", "flag", _flag, TLS_USING, "do not verify the peer's certificate", short="k",
               default=False),
        Option("cacert", "one", _readable_file, TLS_USING, "CA certificates (PEM) to verify against", metavar="FILE",
               example="/etc/ssl/my-ca.pem"),
        Option("sni", "one", _line_nonempty, TLS_USING, "server name to send and verify (default: the URL's host)",
               metavar="NAME", example="www.example.com"),
        Option("cert-warn", "one", _days, TLS_USING, "WARNING when a certificate expires within DAYS",
               metavar="DAYS", example="30"),
        Option("cert-crit", "one", _days, TLS_USING, "CRITICAL when a certificate expires within DAYS",
               metavar="DAYS", example="7"),
    ),
    *_section(
        "http:// and https://",
        Option("method", "one", _method, HTTP, "request method", default="GET", short="X", metavar="METHOD",
               example="HEAD"),
        Option("header", "many", _header, HTTP, "request header (repeatable)", short="H", default=(),
               metavar="'NAME: VALUE'", example="'Accept: text/html'"),
        Option("data", "many", _pair, HTTP, "form field, urlencoded into the query (GET) or body (repeatable)",
               short="d", default=(), metavar="KEY=VALUE", example="q=netkit"),
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
    ),
    *_section(
        "logging in: http(s)://, ftp://, mail, ssh://",
        Option("user", "one", _line_nonempty, LOGIN | frozenset(("ssh",)),
               "user to log in as; password from --password-env, ~/.netrc or a prompt", short="u", metavar="USER",
               example="admin"),
        Option("password-env", "one", _env_name, LOGIN, "environment variable holding the password",
               metavar="VAR", example="WEB_PASSWORD"),
    ),
    *_section(
        "mail: smtp://, pop3://, imap:// (and their s:// forms)",
        Option("starttls", "flag", _flag, STARTTLS, "upgrade to TLS (STARTTLS, STLS) before anything else",
               default=False),
        Option("ehlo", "one", _line_nonempty, SMTP, "name to greet the server with", default="localhost",
               metavar="NAME", example="monitor.example.com"),
        Option("from", "one", _line_text, SMTP, "sender to try with MAIL FROM (nothing is sent)", metavar="ADDRESS",
               example="monitor@example.com"),
        Option("rcpt", "many", _line_nonempty, SMTP, "recipient to try with RCPT TO (repeatable)", default=(),
               metavar="ADDRESS", example="postmaster@example.com"),
        Option("mailbox", "one", _line_nonempty, IMAP, "mailbox to select", default="INBOX", metavar="NAME",
               example="Archive"),
        Option("messages-warn", "one", _range, MAILBOX, "WARNING when the message count is outside RANGE",
               metavar="RANGE", example="~:1000"),
        Option("messages-crit", "one", _range, MAILBOX, "CRITICAL when the message count is outside RANGE",
               metavar="RANGE", example="~:5000"),
        Option("size-warn", "one", _range, frozenset(("pop3", "pop3s")),
               "WARNING when the mailbox size in bytes is outside RANGE", metavar="RANGE", example="~:100000000"),
        Option("size-crit", "one", _range, frozenset(("pop3", "pop3s")),
               "CRITICAL when the mailbox size in bytes is outside RANGE", metavar="RANGE", example="~:500000000"),
        Option("unseen-warn", "one", _range, IMAP, "WARNING when the unseen count is outside RANGE",
               metavar="RANGE", example="~:100"),
        Option("unseen-crit", "one", _range, IMAP, "CRITICAL when the unseen count is outside RANGE",
               metavar="RANGE", example="~:1000"),
    ),
    *_section(
        "ssh://",
        Option("protocol", "one", _nonempty, frozenset(("ssh",)), "expected SSH protocol version", default="2.0",
               metavar="VERSION", example="2.0"),
        Option("software", "one", _nonempty, frozenset(("ssh",)), "text expected in the server's software version",
               metavar="TEXT", example="OpenSSH_9"),
        Option("hostkey", "many", _fingerprint, frozenset(("ssh",)),
               "host key fingerprint the server must present (repeatable: any of them)", default=(),
               metavar="SHA256:...", example="SHA256:n1+Xo5HLd0iJ3hLn8vYQk0E7LDgNcFIXu3BjyjGRb3s"),
        Option("identity", "one", _readable_file, frozenset(("ssh",)), "private key to test authentication with",
               metavar="FILE", example="~/.ssh/id_ed25519"),
        Option("known-hosts", "many", _path, frozenset(("ssh",)),
               "known_hosts FILE the --identity login trusts (repeatable; default ~/.ssh/known_hosts)",
               default=(), metavar="FILE", example="~/.ssh/known_hosts"),
        Option("accept-new", "flag", _flag, frozenset(("ssh",)),
               "with --identity: accept and record an unknown host key (never a changed one)", default=False),
    ),
    *_section(
        "dns://",
        Option("type", "one", _rrtype, frozenset(("dns",)), "record type to ask for (A, AAAA, MX, TXT, ...)",
               default="A", metavar="TYPE", example="MX"),
        Option("tcp", "flag", _flag, frozenset(("dns",)), "ask over TCP instead of UDP", default=False),
        Option("expect-address", "many", _address, frozenset(("dns",)),
               "address (or CIDR) every answer must be within (repeatable)", default=(), metavar="IP[/BITS]",
               example="192.0.2.0/24"),
        Option("expect-nxdomain", "flag", _flag, frozenset(("dns",)), "the name must not exist (NXDOMAIN is OK)",
               default=False),
        Option("answers", "one", _range, frozenset(("dns",)), "CRITICAL when the answer count is outside RANGE",
               metavar="RANGE", example="2:"),
    ),
)

BY_NAME = {o.name: o for o in OPTIONS}
BY_FLAG = {f"--{o.name}": o for o in OPTIONS}
BY_FLAG.update({f"-{o.short}": o for o in OPTIONS if o.short})
