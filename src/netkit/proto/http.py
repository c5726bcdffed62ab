"""An HTTP exchange as a dialogue: request, response, redirects, proxies, tunnels.

The dialogue decides everything a client decides -- where to connect (origin or proxy),
when to tunnel (CONNECT for https through a proxy), when to follow a redirect and how the
method changes -- and the driver only moves bytes.
"""

from netkit.core.errors import ProtocolError
from netkit.core.target import bracket, encode_path, parse_target
from netkit.proto.actions import Connect, Recv, Send, StartTLS
from netkit.proto.http1 import ResponseParser, build_request, find_header

__all__ = ["Request", "Response", "HTTPOutcome", "http_dialogue", "REDIRECT_STATUSES", "MAX_KEEP_BODY"]

REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
# How much of a body is kept in memory for string and regex matching; the rest is only
# counted. A page that needs matching beyond 4 MiB is not a health check.
MAX_KEEP_BODY = 4 * 1024 * 1024
HTTP_PORTS = {"http": 80, "https": 443}


class Request:
    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method, url, headers=(), body=None):
        self.method = method
        self.url = url  # a Target
        self.headers = list(headers)  # (name, value) beyond Host
        self.body = body

    def __repr__(self):
        return f"Request({self.method} {self.url.url()})"


class Response:
    __slots__ = ("url", "version", "status", "reason", "headers", "body", "size", "complete")

    def __init__(self, url, version, status, reason, headers, body, size, complete):
        self.url = url
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body  # the first MAX_KEEP_BODY bytes
        self.size = size  # bytes received in all
        self.complete = complete  # False when reading stopped at max_body

    def header(self, name, default=None):
        return find_header(self.headers, name, default)

    def __repr__(self):
        return f"Response({self.status} {self.reason!r}, {self.size} bytes)"


class HTTPOutcome:
    __slots__ = ("response", "redirects", "tls", "too_many_redirects")

    def __init__(self, response, redirects, tls, too_many_redirects=False):
        self.response = response
        self.redirects = redirects  # [(status, url text)] of the hops followed
        self.tls = tls  # TLSInfo of the last https hop, or None
        self.too_many_redirects = too_many_redirects


def origin_form(url) -> str:
    return encode_path(url.path or "/")  # parse_target makes every path start with "/"


def host_header(url) -> str:
    return bracket(url.host) if url.port == HTTP_PORTS[url.scheme] else url.netloc


def basic_auth(user, password) -> str:
    import base64  # only when credentials are in play

    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def _read_response(method, keep, max_body):
    """Receive one response; returns (parser, body bytes kept, size, complete)."""
    parser = ResponseParser(method)
    kept = []
    kept_len = size = 0
    while not parser.done:
        chunks = parser.feed((yield Recv()))
        for chunk in chunks:
            size += len(chunk)
            if kept_len < keep:
                kept.append(chunk[: keep - kept_len])
                kept_len += len(kept[-1])
        if max_body is not None and size > max_body:
            return parser, b"".join(kept), size, False
    return parser, b"".join(kept), size, True


def redirect_target(base, location: str):
    """Resolve a Location header against the URL it came from (RFC 3986 section 5)."""
    from urllib.parse import urljoin  # only on the redirect path

    absolute = urljoin(base.url(), location.strip())
    try:
        target = parse_target(absolute, HTTP_PORTS)
    except ValueError as exc:
        raise ProtocolError(f"cannot follow redirect to {location!r}: {exc}") from None
    return target


def http_dialogue(request, *, family=0, follow=False, max_redirects=10, max_body=None,
                  keep=MAX_KEEP_BODY, proxy_for=lambda url: None, tls_for=None, user_agent=None):
    """One HTTP exchange, following redirects when asked.

    ``proxy_for(url)`` gives the proxy Target for a URL or None; ``tls_for(url)`` gives the
    TLSParams for an https URL.
    """
    method, url, body = request.method, request.url, request.body
    extra = list(request.headers)
    redirects = []
    tls_info = None
    while True:
        proxy = proxy_for(url)
        headers = [("Host", host_header(url))]
        names = {n.lower() for n, _ in extra}
        if url.user is not None and "authorization" not in names:
            headers.append(("Authorization", basic_auth(url.user, url.password)))
        if user_agent and "user-agent" not in names:
            headers.append(("User-Agent", user_agent))
        if "accept" not in names:
            headers.append(("Accept", "*/*"))
        headers.extend(extra)
        if body is not None and "content-length" not in names:
            headers.append(("Content-Length", str(len(body))))
        headers.append(("Connection", "close"))
        target_form = origin_form(url)
        tls_info = None
        if proxy is None:
            yield Connect(url.host, url.port, "tcp", family)
        else:
            yield Connect(proxy.host, proxy.port, "tcp", family)
            proxy_auth = [("Proxy-Authorization", basic_auth(proxy.user, proxy.password))] if proxy.user else []
            if url.scheme == "https":
                authority = url.netloc
                connect = build_request("CONNECT", authority, [("Host", authority), *proxy_auth])
                yield Send(connect)
                parser, _, _, _ = yield from _read_response("CONNECT", 0, None)
                if not 200 <= parser.status < 300:
                    raise ProtocolError(
                        f"proxy {proxy.netloc} refused the tunnel to {url.netloc}: {parser.status} {parser.reason}"
                    )
            else:
                target_form = url.url()
                headers.extend(proxy_auth)
        if url.scheme == "https":
            tls_info = yield StartTLS(tls_for(url))
        yield Send(build_request(method, target_form, headers, body))
        parser, kept, size, complete = yield from _read_response(method, keep, max_body)
        response = Response(url, parser.version, parser.status, parser.reason, parser.headers, kept, size, complete)
        location = response.header("Location")
        if not (follow and response.status in REDIRECT_STATUSES and location is not None):
            return HTTPOutcome(response, redirects, tls_info)
        if len(redirects) >= max_redirects:
            return HTTPOutcome(response, redirects, tls_info, too_many_redirects=True)
        next_url = redirect_target(url, location)
        redirects.append((response.status, next_url.url()))
        if response.status == 303 or (response.status in (301, 302) and method == "POST"):
            if method != "HEAD":
                method = "GET"
            body = None
            extra = [(n, v) for n, v in extra if n.lower() not in ("content-type", "content-length")]
        if (next_url.scheme, next_url.host, next_url.port) != (url.scheme, url.host, url.port):
            # Credentials go only to the origin they were given for.
            extra = [(n, v) for n, v in extra if n.lower() != "authorization"]
        elif url.user is not None and next_url.user is None:
            next_url.user, next_url.password = url.user, url.password
        url = next_url
