"""Secrets out of what netkit shows: credential headers and URL passwords masked.

Every transcript (``check -v``, ``get -v``), every header list a result carries
(``--json``), goes through :func:`mask_line` / :func:`mask_header`: a value is shown as
:data:`MASK` when its header is a credential by name, whatever the protocol and whichever
side sent it, or when it is one of the user's own headers (``-H``) that is not on
:data:`SAFE_HEADERS` (:func:`caller_secrets`) -- the rule of the redirect policy
(:func:`netkit.proto.http.next_request`), which keeps only those on another origin: a
header netkit cannot vouch for may be a credential (``-H 'X-Custom: SECRET'``).
"""

__all__ = ["mask_fields", "MASK", "SAFE_HEADERS", "caller_secrets", "is_secret_header", "mask_header", "mask_line", "mask_url"]

MASK = "********"
# The only request headers of the caller's (-H, --compressed, resume) that say what the
# client accepts or which bytes it wants, never who it is: a redirect to another origin
# keeps these alone (curl drops Authorization and Cookie; netkit drops every header it
# cannot vouch for), and transcripts and --json show these alone of the caller's headers.
SAFE_HEADERS = frozenset((
    "accept", "accept-encoding", "accept-language", "cache-control", "content-type", "if-range", "pragma",
    "range", "user-agent",
))
# Dropped on another origin because they belong to one (a virtual host, the body's framing),
# not because they are secret: shown in transcripts, where a wrong vhost is what one looks for.
_SHOWN_HEADERS = frozenset(("host", "content-length"))
# A header is a credential when its name (lower case) is one of these or holds one of the
# words below: Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key,
# X-Auth-Token, X-Session-Id, X-Amz-Security-Token, ... Guessing wide costs a hidden value
# in a debugging transcript; guessing narrow leaks a password into a log.
_SECRET_NAMES = frozenset(("authorization", "proxy-authorization", "cookie", "set-cookie", "set-cookie2"))
_SECRET_WORDS = ("auth", "token", "secret", "key", "session", "password", "passwd", "cookie", "credential",
                 "signature")
# Challenges carry no secret, and their realm and scheme are what a failed login needs.
_NOT_SECRET = frozenset(("www-authenticate", "proxy-authenticate"))
# Schemes whose credentials follow the scheme word: "Basic dXNlcjpwYXNz" shows "Basic ********".
_AUTH_SCHEMES = ("authorization", "proxy-authorization")
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def caller_secrets(headers: "Iterable[tuple[str, str]] | None") -> frozenset[str]:
    """The names (lower case) of the caller's ``[(name, value)]`` headers that are not on
    :data:`SAFE_HEADERS`: their values are masked wherever they are shown."""
    return frozenset(n.lower() for n, _ in headers or ()) - SAFE_HEADERS - _SHOWN_HEADERS


def is_secret_header(name: str, also: "frozenset[str]" = frozenset()) -> bool:
    """A credential by its name, or one of ``also`` (:func:`caller_secrets`)."""
    lname = name.lower()
    if lname in also:
        return True
    if lname in _NOT_SECRET:
        return False
    return lname in _SECRET_NAMES or any(word in lname for word in _SECRET_WORDS)


def mask_header(name: str, value: str, also: "frozenset[str]" = frozenset()) -> str:
    """``value`` as it may be shown: masked when ``name`` is a credential header, or one of
    ``also`` (the caller's own headers off :data:`SAFE_HEADERS`: :func:`caller_secrets`)."""
    if not is_secret_header(name, also):
        return mask_url(value)
    if name.lower() in _AUTH_SCHEMES:
        scheme, space, _ = value.strip().partition(" ")
        if space:
            return f"{scheme} {MASK}"
    return MASK if value else value


def mask_url(text: str) -> str:
    """``text`` with the password of every ``scheme://user:password@`` in it masked."""
    if "://" not in text or "@" not in text:
        return text
    out = []
    rest = text
    while True:
        mark = rest.find("://")
        if mark < 0:
            out.append(rest)
            return "".join(out)
        start = mark + 3
        end = start
        while end < len(rest) and rest[end] not in "/?# \t\r\n\"'<>":
            end += 1
        # The userinfo ends at the authority's last '@' (a password may hold a raw '@', as
        # netkit.core.target.parse_target reads it): the first would show the password's rest.
        at = rest.rfind("@", start, end)
        userinfo = rest[start:at]
        if at >= 0 and ":" in userinfo:
            out.append(rest[:start] + userinfo.partition(":")[0] + ":" + MASK + "@")
            rest = rest[at + 1 :]
        else:
            out.append(rest[:start])
            rest = rest[start:]


def mask_line(line: str, masking: bool = False, also: "frozenset[str]" = frozenset()) -> tuple[str, bool]:
    """(line as it may be shown, whether a continuation of it must be masked too): a
    ``Name: value`` line of a credential header (or of one named in ``also``) is masked,
    as is a folded continuation (``masking``: the line before was masked) and any URL
    password."""
    if masking and line[:1] in (" ", "\t"):
        return " " + MASK, True
    name, colon, value = line.partition(":")
    if colon and name and _TOKEN.issuperset(name) and is_secret_header(name, also):
        lead = value[: len(value) - len(value.lstrip(" \t"))]
        trail = value[len(value.rstrip(" \t\r")) :]
        shown = mask_header(name, value.strip(" \t"), also)
        return f"{name}:{lead}{shown}{trail}", True
    return mask_fields(mask_url(line)), False


def _field(match: "re.Match[str]") -> str:
    name = match.group(2)
    from urllib.parse import unquote_plus

    if is_secret_header(unquote_plus(name).replace("_", "-")):
        return f"{match.group(1)}{name}={MASK}"
    return match.group(0)


def mask_fields(text: str) -> str:
    """``text`` with the value of every ``name=value`` field whose name is a credential's
    (``password=``, ``token=``, ``api_key=``, as :func:`is_secret_header` reads names)
    masked: a login form's body (``check -X POST -d password=...``) and a query string
    (``?token=...``) in a transcript."""
    if "=" not in text:
        return text
    import re

    return re.sub(r"(^|[?&;\s])([A-Za-z0-9_.~%+-]+)=([^&;\s#]*)", _field, text)
