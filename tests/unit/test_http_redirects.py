"""The one redirect policy of check and get (netkit.proto.http.next_request), without sockets."""

import pytest

from netkit.core.target import parse_target
from netkit.proto.http import HTTP_PORTS, RedirectRefused, Request, TooManyRedirects, next_request

HEADERS = [("Authorization", "Bearer t"), ("Cookie", "a=b"), ("X-Api-Key", "k"), ("Accept", "text/plain"),
           ("User-Agent", "ua"), ("Content-Type", "application/x-www-form-urlencoded"), ("Range", "bytes=5-")]


def request(url="https://alice:pw@example.com/a", method="POST", body=b"q=1", hops=0):
    return Request(method, parse_target(url, HTTP_PORTS), HEADERS, body, hops)


@pytest.mark.parametrize("location", ["http://example.com/b", "https://other.example/b", "https://example.com:8443/b",
                                      "//evil.example/b"])
def test_another_origin_gets_only_the_safe_headers_and_no_credentials(location):
    nxt = next_request(request(method="GET", body=None), 302, location, 10)
    assert [n for n, _ in nxt.headers] == ["Accept", "User-Agent", "Content-Type", "Range"]
    assert nxt.url.user is None and nxt.url.password is None


def test_same_origin_keeps_everything():
    nxt = next_request(request(method="GET", body=None), 301, "/b", 10)
    assert nxt.headers == HEADERS and (nxt.url.user, nxt.url.password) == ("alice", "pw")
    assert nxt.url.url() == "https://example.com:443/b" and nxt.hops == 1


@pytest.mark.parametrize("status, method, want, body", [
    (301, "POST", "GET", None), (302, "POST", "GET", None), (303, "POST", "GET", None), (303, "PUT", "GET", None),
    (303, "HEAD", "HEAD", b"q=1"), (307, "POST", "POST", b"q=1"), (308, "PUT", "PUT", b"q=1"),
    (301, "PUT", "PUT", b"q=1"),
])
def test_method_and_body(status, method, want, body):
    nxt = next_request(request(method=method), status, "/b", 10)
    assert nxt.method == want and nxt.body == body
    assert any(n == "Content-Type" for n, _ in nxt.headers) == (body is not None)


@pytest.mark.parametrize("status, location", [(200, "/b"), (304, "/b"), (300, "/b"), (302, None)])
def test_not_a_redirect(status, location):
    assert next_request(request(), status, location, 10) is None


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)",
                                      "gopher://example.com/"])
def test_only_http_and_https(location):
    with pytest.raises(RedirectRefused, match="only http and https"):
        next_request(request(), 302, location, 10)


def test_max_redirects():
    assert next_request(request(hops=2), 302, "/b", 3).hops == 3
    with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
        next_request(request(hops=3), 302, "/b", 3)
