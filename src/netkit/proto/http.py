"""An HTTP exchange as a dialogue: request, response, redirects, proxies, tunnels.

The dialogue decides everything a client decides -- where to connect (origin or proxy),
when to tunnel (CONNECT for https through a proxy), when to follow a redirect and how the
method changes -- and the driver only moves bytes.
"""

from netkit.core.errors import ProtocolError, UsageError
from netkit.core.target import bracket, encode_path, parse_target
from netkit.proto.actions import Connect, Recv, Send, StartTLS
from netkit.proto.http1 import ResponseParser, build_request, check_caller_header, find_header

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from netkit.core.target import Target
    from netkit.proto.actions import Dialogue, TLSInfo, TLSParams

__all__ = ["Request", "Response", "HTTPOutcome", "http_dialogue", "REDIRECT_STATUSES", "MAX_KEEP_BODY",
           "RedirectRefused", "TooManyRedirects", "next_request", "request_bytes",
           "connect_bytes", "same_origin"]

REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
# Headers that describe a request body; they go when a redirect drops the body.
_BODY_HEADERS = frozenset(("content-type", "content-length", "content-encoding", "content-language"))
# How much of a body is kept in memory for string and regex matching; the rest is only
# counted. A page that needs matching beyond 4 MiB is not a health check.
MAX_KEEP_BODY = 4 * 1024 * 1024
HTTP_PORTS = {"http": 80, "https": 443}


class Request:
    """One request to make: ``url`` (a Target whose user/password are the Basic credentials,
    if any), the caller's ``headers`` (beyond Host, Connection and Content-Length), a body,
    and how many redirects led here."""

    __slots__ = ("method", "url", "headers", "body", "hops")

    def __init__(self, method: str, url: "Target", headers: "Iterable[tuple[str, str]]" = (),
                 body: bytes | None = None, hops: int = 0) -> None:
        self.method = method
        self.url = url  # a Target
        self.headers = list(headers)  # (name, value) beyond Host
        self.body = body
        self.hops = hops

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url.url()})"


class Response:
    __slots__ = ("url", "version", "status", "reason", "headers", "body", "size", "complete")

    def __init__(self, url: "Target", version: str | None, status: int, reason: str | None,
                 headers: list[tuple[str, str]], body: bytes, size: int, complete: bool) -> None:
        self.url = url
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body  # the first MAX_KEEP_BODY bytes
        self.size = size  # bytes received in all
        self.complete = complete  # False when reading stopped at max_body

    def header(self, name: str, default: str | None = None) -> str | None:
        return find_header(self.headers, name, default)

    def __repr__(self) -> str:
        return f"Response({self.status} {self.reason!r}, {self.size} bytes)"


class HTTPOutcome:
    __slots__ = ("response", "redirects", "tls", "too_many_redirects")

    def __init__(self, response: Response, redirects: list[tuple[int, str]], tls: "TLSInfo | None",
                 too_many_redirects: bool = False) -> None:
        self.response = response
        self.redirects = redirects  # [(status, url text)] of the hops followed
        self.tls = tls  # TLSInfo of the last https hop, or None
        self.too_many_redirects = too_many_redirects


def origin_form(url: "Target") -> str:
    return encode_path(url.path or "/")  # parse_target makes every path start with "/"


def host_header(url: "Target") -> str:
    return bracket(url.host) if url.port == HTTP_PORTS[url.scheme] else url.netloc


def basic_auth(user: str, password: str | None) -> str:
    import base64  # only when credentials are in play

    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def _read_response(method: str, keep: int,
                   max_body: int | None) -> "Dialogue[tuple[ResponseParser, int, bytes, int, bool]]":
    """Receive one response; returns (parser, status, body bytes kept, size, complete)."""
    parser = ResponseParser(method)
    kept: list[bytes] = []
    kept_len = size = 0
    while not parser.done:
        chunks = parser.feed((yield Recv()))
        for chunk in chunks:
            size += len(chunk)
            if kept_len < keep:
                kept.append(chunk[: keep - kept_len])
                kept_len += len(kept[-1])
        if max_body is not None and size > max_body:
            complete = False
            break
    else:
        complete = True
    if parser.status is None:  # feed() gives body bytes and says done only after the head
        raise ProtocolError("the response ended before its head")
    return parser, parser.status, b"".join(kept), size, complete


class RedirectRefused(ProtocolError):
    """A redirect netkit will not follow (where it points, or how it is written)."""


class TooManyRedirects(RedirectRefused):
    """The redirect after ``max_redirects`` of them."""


def same_origin(a: "Target", b: "Target") -> bool:
    """RFC 6454 origins: scheme, host and port."""
    return (a.scheme, a.host.lower(), a.port) == (b.scheme, b.host.lower(), b.port)


def redirect_target(base: "Target", location: str) -> "Target":
    """Resolve a Location header against the URL it came from (RFC 3986 section 5); only
    http and https URLs are followed."""
    from urllib.parse import urljoin  # only on the redirect path

    location = location.strip(" \t")
    try:
        absolute = urljoin(base.url(), location)
    except ValueError as exc:
        raise RedirectRefused(f"cannot follow the redirect to {location[:200]!r}: {exc}") from None
    scheme = absolute.partition(":")[0].lower()
    if scheme not in HTTP_PORTS:
        raise RedirectRefused(f"will not follow a redirect to {scheme}: ({location[:200]!r}); only http and https")
    try:
        return parse_target(absolute, HTTP_PORTS)
    except ValueError as exc:
        raise RedirectRefused(f"cannot follow the redirect to {location[:200]!r}: {exc}") from None


def next_request(request: Request, status: int, location: str | None, max_redirects: int) -> Request | None:
    """The request a redirect asks for, or None when ``status``/``location`` is not one;
    :class:`RedirectRefused` when it cannot be followed (:class:`TooManyRedirects` past
    ``max_redirects``). The one redirect policy of check and get:

    - 301, 302, 303, 307 and 308 with a Location are followed; only to http and https;
    - 303 turns any method but HEAD into GET, 301 and 302 turn POST into GET (as browsers
      and curl do); the body and its Content-* headers go with the method change;
    - on a change of origin (scheme, host or port; so https -> http too) the credentials
      of the URL and every header outside :data:`netkit.core.secrets.SAFE_HEADERS` (the
      allowlist the transcripts' masking uses too) are dropped, for this hop and every
      later one.
    """
    if status not in REDIRECT_STATUSES or location is None:
        return None
    if request.hops >= max_redirects:
        raise TooManyRedirects(f"more than {max_redirects} redirects (the last to {location[:200]!r})")
    url = request.url
    target = redirect_target(url, location)
    method, body, headers = request.method, request.body, request.headers
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = [(n, v) for n, v in headers if n.lower() not in _BODY_HEADERS]
    if same_origin(url, target):
        if target.user is None:
            target.user, target.password = url.user, url.password
    else:
        from netkit.core.secrets import SAFE_HEADERS  # here: a download without a redirect never loads it

        headers = [(n, v) for n, v in headers if n.lower() in SAFE_HEADERS]
    return Request(method, target, headers, body, request.hops + 1)


def request_bytes(request: Request, *, proxy: "Target | None" = None, user_agent: str | None = None,
                  body_size: int | None = None) -> bytes:
    """The bytes of ``request`` on its own connection (``Connection: close``): Host (the
    caller's if given, in its place), then Basic credentials from the URL, User-Agent and Accept unless the caller gave them, the
    caller's headers, Content-Length of the body (or ``body_size`` of a body sent after),
    and the absolute form and Proxy-Authorization when an http URL goes through ``proxy``.
    UsageError when a value would break the line (the option parsers refuse those first)."""
    url = request.url
    names = {n.lower() for n, _ in request.headers}
    for name, value in request.headers:
        try:
            check_caller_header(name, value)
        except ValueError as exc:  # the option parsers refuse these first; a library caller may not have
            raise UsageError(str(exc)) from None
    # One Host (RFC 9112 section 3.2: a server must answer 400 to two): the caller's, which
    # names a virtual host on the URL's address, or the URL's.
    headers = [("Host", find_header(request.headers, "Host") or host_header(url))]
    if url.user is not None and "authorization" not in names:
        headers.append(("Authorization", basic_auth(url.user, url.password)))
    if user_agent and "user-agent" not in names:
        headers.append(("User-Agent", user_agent))
    if "accept" not in names:
        headers.append(("Accept", "*/*"))
    headers.extend((n, v) for n, v in request.headers if n.lower() != "host")
    if body_size is None and request.body is not None:
        body_size = len(request.body)
    if body_size is not None:
        headers.append(("Content-Length", str(body_size)))
    target = origin_form(url)
    if proxy is not None and url.scheme == "http":
        target = url.url()
        if proxy.user is not None:
            headers.append(("Proxy-Authorization", basic_auth(proxy.user, proxy.password)))
    headers.append(("Connection", "close"))
    try:
        return build_request(request.method, target, headers, request.body)
    except ValueError as exc:  # the option parsers refuse these first; a library caller may not have
        raise UsageError(str(exc)) from None


def connect_bytes(url: "Target", proxy: "Target") -> bytes:
    """The CONNECT that opens a tunnel through ``proxy`` to an https ``url``."""
    authority = url.netloc
    extra = [("Proxy-Authorization", basic_auth(proxy.user, proxy.password))] if proxy.user is not None else []
    return build_request("CONNECT", authority, [("Host", authority), *extra])


def tunnel_refused(proxy: "Target", url: "Target", status: int, reason: str | None) -> ProtocolError:
    from netkit.core.text import for_terminal

    return ProtocolError(f"proxy {proxy.netloc} refused the tunnel to {url.netloc}: {status} {for_terminal(reason)}")


def _no_proxy(url: "Target") -> "Target | None":
    return None


def http_dialogue(request: Request, *, family: int = 0, follow: bool = False, max_redirects: int = 10,
                  max_body: int | None = None, keep: int = MAX_KEEP_BODY,
                  proxy_for: "Callable[[Target], Target | None]" = _no_proxy,
                  tls_for: "Callable[[Target], TLSParams] | None" = None,
                  user_agent: str | None = None) -> "Dialogue[HTTPOutcome]":
    """One HTTP exchange, following redirects when asked.

    ``proxy_for(url)`` gives the proxy Target for a URL or None; ``tls_for(url)`` gives the
    TLSParams for an https URL.
    """
    redirects: list[tuple[int, str]] = []
    while True:
        url = request.url
        proxy = proxy_for(url)
        tls_info = None
        if proxy is None:
            yield Connect(url.host, url.port, "tcp", family)
        else:
            yield Connect(proxy.host, proxy.port, "tcp", family)
            if url.scheme == "https":
                yield Send(connect_bytes(url, proxy))
                parser, status, _, _, _ = yield from _read_response("CONNECT", 0, None)
                if not 200 <= status < 300:
                    raise tunnel_refused(proxy, url, status, parser.reason)
        if url.scheme == "https":
            if tls_for is None:
                raise UsageError(f"{url.url()}: an https URL needs tls_for (the TLS parameters)")
            tls_info = yield StartTLS(tls_for(url))
        yield Send(request_bytes(request, proxy=proxy, user_agent=user_agent))
        parser, status, kept, size, complete = yield from _read_response(request.method, keep, max_body)
        response = Response(url, parser.version, status, parser.reason, parser.headers, kept, size, complete)
        if not follow:
            return HTTPOutcome(response, redirects, tls_info)
        try:
            following = next_request(request, response.status, response.header("Location"), max_redirects)
        except TooManyRedirects:
            return HTTPOutcome(response, redirects, tls_info, too_many_redirects=True)
        if following is None:
            return HTTPOutcome(response, redirects, tls_info)
        redirects.append((response.status, following.url.url()))
        request = following
