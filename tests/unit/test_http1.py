"""The HTTP/1.1 response parser: framing, interim responses, peer errors, any split."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netkit.core.errors import ProtocolError
from netkit.proto.http1 import ResponseParser, build_request, check_header

LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nT: x\r\n\r\n"
EOF_BODY = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end"


def parse(data, method="GET", eof=True):
    p = ResponseParser(method)
    body = b"".join(p.feed(data))
    if eof and not p.done:
        body += b"".join(p.feed(b""))
    return p, body


def test_content_length():
    p, body = parse(LENGTH, eof=False)
    assert p.done and body == b"hello" and p.status == 200 and p.reason == "OK"
    assert p.header("x-a") == "1"


def test_chunked_with_extensions_and_trailers():
    p, body = parse(CHUNKED, eof=False)
    assert p.done and body == b"hello world"


def test_until_eof():
    p, body = parse(EOF_BODY)
    assert p.done and body == b"until the end" and p.version == "HTTP/1.0"


def test_interim_100_is_skipped():
    p, body = parse(b"HTTP/1.1 100 Continue\r\n\r\n" + LENGTH, eof=False)
    assert p.status == 200 and body == b"hello"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status):
    p, body = parse(f"HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n".encode(), eof=False)
    assert p.done and body == b""


def test_head_has_no_body():
    p, body = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method="HEAD", eof=False)
    assert p.done and body == b""


def test_connect_2xx_ends_at_the_head():
    p, _ = parse(b"HTTP/1.1 200 Connection established\r\n\r\n", method="CONNECT", eof=False)
    assert p.done


def test_obs_fold_and_bare_lf():
    p, body = parse(b"HTTP/1.1 200 OK\nX-Long: a\n  b\nContent-Length: 2\n\nok", eof=False)
    assert p.header("X-Long") == "a b" and body == b"ok"


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "without a response"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "middle of the response headers"),
        (b"SSH-2.0-OpenSSH_9\r\n\r\n", "not an HTTP"),
        (b"garbage here", "not an HTTP response"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "malformed header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", "still to come"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX", "CRLF"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "chunked body"),
    ],
)
def test_peer_mistakes(data, words):
    with pytest.raises(ProtocolError, match=words):
        parse(data)


def test_header_limit():
    p = ResponseParser()
    with pytest.raises(ProtocolError, match="larger than"):
        p.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000)


@given(data=st.sampled_from([LENGTH, CHUNKED, EOF_BODY]), cuts=st.lists(st.integers(0, 200), max_size=12))
def test_any_split_gives_the_same_result(data, cuts):
    whole, body = parse(data)
    p = ResponseParser()
    got = b""
    points = sorted({min(c, len(data)) for c in cuts}) + [len(data)]
    start = 0
    for point in points:
        if point > start:
            got += b"".join(p.feed(data[start:point]))
            start = point
    if not p.done:
        got += b"".join(p.feed(b""))
    assert got == body and p.status == whole.status and p.headers == whole.headers


def test_build_request_and_header_validation():
    raw = build_request("GET", "/x", [("Host", "h"), ("A", "b")])
    assert raw == b"GET /x HTTP/1.1\r\nHost: h\r\nA: b\r\n\r\n"
    assert build_request("POST", "/", [("Host", "h")], b"a=1").endswith(b"\r\n\r\na=1")
    with pytest.raises(ValueError):
        check_header("Bad Name", "v")
    with pytest.raises(ValueError):
        check_header("X", "a\r\nInjected: 1")


@pytest.mark.parametrize("method, target, headers", [
    ("GET", "/", [("X", "a\r\nEvil: 1")]), ("GET", "/", [("X", "a\0")]), ("GET", "/a b", []),
    ("GET", "/\r\n", []), ("G T", "/", []), ("GET", "/", [("Bad Name", "v")]),
])
def test_build_request_is_the_second_wall(method, target, headers):
    with pytest.raises(ValueError):
        build_request(method, target, headers)


@pytest.mark.parametrize("text, want", [
    ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777), ("Sun, \xb26 Nov 1994 08:49:37 GMT", None),
    ("Sun, 06 Nov 1994 \xb28:49:37 GMT", None), ("Sun, 06 Nov " + "9" * 5000 + " 08:49:37 GMT", None),
    ("Sun, 99 Nov 1994 08:49:37 GMT", None), ("Sun, 06 Nov 1994 08:49:99 GMT", None), ("garbage", None),
])
def test_http_date_reads_ascii_digits_only(text, want):
    from netkit.transfer._http import http_date

    assert http_date(text) == want


@pytest.mark.parametrize("value, want", [("bytes 100-199/200", (100, 200)), ("bytes */200", (None, 200)),
                                         ("bytes \xb200-199/200", (None, 200)), ("bytes 1-2/\xb2", (1, None))])
def test_content_range_reads_ascii_digits_only(value, want):
    from netkit.transfer._http import _content_range_start

    assert _content_range_start(value) == want


@pytest.mark.parametrize("value, want", [("5", 5.0), ("\xb2", None), ("-1", None), ("9" * 5000, None)])
def test_retry_after_reads_ascii_digits_only(value, want):
    from netkit.core.target import parse_target
    from netkit.transfer._http import _status_error

    p = ResponseParser("GET")
    p.feed(f"HTTP/1.1 503 Busy\r\nRetry-After: {value}\r\nContent-Length: 0\r\n\r\n".encode("latin-1"))
    assert _status_error(p, parse_target("http://h/", {"http": 80})).retry_after == want


def test_endless_interim_responses_are_refused():
    with pytest.raises(ProtocolError, match="interim"):
        ResponseParser("GET").feed(b"HTTP/1.1 100 Continue\r\n\r\n" * 100)


def test_endless_trailers_are_refused():
    p = ResponseParser("GET")
    with pytest.raises(ProtocolError, match="trailers"):
        p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"X: y\r\n" * 20000)


_PIECES = st.sampled_from([b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 100 Continue\r\n\r\n", b"Content-Length: 5\r\n",
                           b"Content-Length: \xc2\xb2\r\n", b"Transfer-Encoding: chunked\r\n", b"\r\n", b"\n",
                           b"5\r\nhello\r\n", b"0\r\n\r\n", b"fffffffffffffffff\r\n", b" folded\r\n", b"X:\x1b\r\n",
                           b"\x00", b"\xff", b"HTTP/1.1 204 No\r\n"])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.binary(max_size=20)), max_size=20), st.integers(1, 7),
       st.sampled_from(["GET", "HEAD", "CONNECT"]))
def test_any_bytes_any_split_only_protocol_errors(pieces, step, method):
    """Whatever a peer sends, in whatever pieces, the parser ends in a result or a
    ProtocolError -- never another exception (issue 12: one bad peer fails one check)."""
    data = b"".join(pieces)
    parser = ResponseParser(method)
    try:
        for i in range(0, len(data), step):
            parser.feed(data[i : i + step])
        parser.feed(b"")
    except ProtocolError:
        return
    assert parser.done


def test_values_go_as_utf8_and_controls_are_refused():
    assert build_request("GET", "/", [("X", "中 é")]).endswith("X: 中 é\r\n\r\n".encode())
    with pytest.raises(ValueError, match="control character"):
        check_header("X", "a\x1b[31m")
