"""Self-tests of the real peers in tests/peers: each behaves as its docstring promises.

Only the standard library (plus the openssl command line) talks to the peers here, so a
failure points at the peer, never at netkit.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.peers import nginx as nginx_peer
from tests.peers._base import ServerProcess, ServerStartError, need_binary, wait_listening
from tests.peers.certs import CertPair, Pki

# Socket timeout for requests that should answer at once.
QUICK = 5.0
# Client timeout for the "times out" peers: short, the tests wait it out.
SHORT = 1.0


def get(
    nginx,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    host: str | None = None,
) -> tuple[http.client.HTTPResponse, bytes]:
    """One plain-HTTP request to nginx (redirects are not followed): response and body."""
    conn = http.client.HTTPConnection(host or nginx.host, nginx.http_port, timeout=QUICK)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def echo_fields(text: bytes) -> dict[str, str]:
    """Parse /echo's ``name=value`` lines; ``body`` is the rest after ``body=``."""
    head, _, body = text.decode().partition("\nbody=")
    fields = dict(line.split("=", 1) for line in head.splitlines())
    fields["body"] = body
    return fields


# --- nginx: plain HTTP routes ------------------------------------------------------------


def test_index(nginx):
    with urllib.request.urlopen(nginx.url("/"), timeout=QUICK) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html"
        assert resp.read() == b"<html><body>hello netkit</body></html>\n"


def test_big(nginx):
    resp, body = get(nginx, "/big")
    assert resp.status == 200
    assert body == b"x" * (1024 * 1024)


def test_slow_outlasts_a_deadline(nginx):
    deadline = time.monotonic() + 2 * SHORT
    conn = http.client.HTTPConnection(nginx.host, nginx.http_port, timeout=SHORT)
    conn.request("GET", "/slow")
    resp = conn.getresponse()
    assert resp.status == 200
    assert int(resp.headers["Content-Length"]) == nginx_peer.SLOW_SIZE
    received = 0
    with contextlib.suppress(TimeoutError):
        while time.monotonic() < deadline and (chunk := resp.read1(4096)):
            received += len(chunk)
    conn.close()
    assert 0 < received < nginx_peer.SLOW_SIZE / 2


def test_stall_outlasts_a_read_timeout(nginx):
    conn = http.client.HTTPConnection(nginx.host, nginx.http_port, timeout=SHORT)
    conn.request("GET", "/stall")
    resp = conn.getresponse()
    assert resp.status == 200
    received = b""
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        while chunk := resp.read1(65536):
            received += chunk
    assert received == b"x" * nginx_peer.STALL_PREFIX_SIZE
    assert time.monotonic() - started < 2 * SHORT + 1
    conn.close()


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/redirect", 301, "/"),
        ("/r1", 302, "/r2"),
        ("/r2", 302, "/"),
        ("/loop", 302, "/loop"),
        ("/see-other", 303, "/"),
        ("/temp-redirect", 307, "/echo"),
    ],
)
def test_redirects(nginx, path, status, location):
    resp, _ = get(nginx, path)
    assert (resp.status, resp.headers["Location"]) == (status, location)


def test_to_https(nginx):
    resp, _ = get(nginx, "/to-https")
    assert resp.status == 301
    assert resp.headers["Location"] == f"https://localhost:{nginx.https_port}/"


def test_urllib_follows_redirect_chain(nginx):
    with urllib.request.urlopen(nginx.url("/r1"), timeout=QUICK) as resp:
        assert resp.url == nginx.url("/")
        assert b"hello netkit" in resp.read()


@pytest.mark.parametrize("code", nginx_peer.STATUSES)
def test_status(nginx, code):
    resp, body = get(nginx, f"/status/{code}")
    assert resp.status == code
    assert body == nginx_peer.status_body(code)


def test_headers_route(nginx):
    resp, body = get(nginx, "/headers")
    assert (resp.status, resp.headers["X-Netkit"], body) == (200, "yes", b"headers\n")


# --- nginx: basic auth -------------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_auth_refused_without_credentials(nginx):
    resp, _ = get(nginx, "/auth/")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")


def test_auth_refused_with_wrong_password(nginx):
    resp, _ = get(nginx, "/auth/", headers=basic(nginx.user, nginx.password + "x"))
    assert resp.status == 401


def test_auth_accepted(nginx):
    resp, body = get(nginx, "/auth/", headers=basic("admin", nginx.password))
    assert (resp.status, body) == (200, b"secret area\n")


# --- nginx: /echo --------------------------------------------------------------------------


def test_echo_get_reflects_request(nginx):
    resp, body = get(
        nginx,
        "/echo?a=1&b=two",
        headers={"User-Agent": "netkit-test/1", "X-Test": "t-42", **basic("u", "p")},
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/plain"
    assert echo_fields(body) == {
        "method": "GET",
        "uri": "/echo?a=1&b=two",
        "ua": "netkit-test/1",
        "auth": basic("u", "p")["Authorization"],
        "ctype": "",
        "xtest": "t-42",
        "body": "",
    }


def test_echo_post_reflects_body(nginx):
    payload = b'{"a": 1}\nsecond line\n'
    _, body = get(
        nginx, "/echo", method="POST", body=payload, headers={"Content-Type": "application/json"}
    )
    fields = echo_fields(body)
    assert (fields["method"], fields["ctype"]) == ("POST", "application/json")
    assert fields["body"].encode() == payload


def test_echo_reflects_64k_body(nginx):
    payload = (b"0123456789abcdef" * 4096)[: 64 * 1024]
    _, body = get(nginx, "/echo", method="PUT", body=payload)
    fields = echo_fields(body)
    assert fields["method"] == "PUT"
    assert fields["body"].encode() == payload


@pytest.mark.parametrize("method", ["DELETE", "PATCH", "OPTIONS"])
def test_echo_any_method(nginx, method):
    _, body = get(nginx, "/echo", method=method)
    assert echo_fields(body)["method"] == method


# --- nginx: /chunked ------------------------------------------------------------------------


def raw_http(host: str, port: int, request: bytes) -> bytes:
    """Send ``request`` on a fresh TCP connection; everything the server sends back."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(QUICK)
        sock.connect((host, port))
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2:]


def test_chunked_is_really_chunked(nginx):
    reply = raw_http(
        nginx.host,
        nginx.http_port,
        b"GET /chunked HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    headers = head.decode().lower()
    assert headers.startswith("http/1.1 200")
    assert "transfer-encoding: chunked" in headers
    assert "content-length" not in headers
    assert b"hello chunked" in dechunk(body)


def test_chunked_through_http_client(nginx):
    resp, body = get(nginx, "/chunked")
    assert resp.chunked
    assert body == nginx_peer.CHUNKED_BODY


# --- nginx: IPv6 ---------------------------------------------------------------------------


def test_http_over_ipv6(nginx):
    resp, body = get(nginx, "/", host="::1")
    assert (resp.status, body) == (200, nginx_peer.INDEX_BODY)
    assert nginx.url("/", host="::1") == f"http://[::1]:{nginx.http_port}/"


# --- nginx: HTTPS ports and their certificates ---------------------------------------------


def der_of(pair: CertPair) -> bytes:
    """The DER of the leaf (first) certificate in a chain PEM."""
    pem = pair.cert.read_text()
    end = "-----END CERTIFICATE-----"
    return ssl.PEM_cert_to_DER_cert(pem[: pem.index(end) + len(end)])


def presented(port: int, server_name: str | None = "localhost", host: str = "127.0.0.1") -> bytes:
    """The DER certificate a TLS port presents, without verifying it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=QUICK) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True)


def verify(pki: Pki, port: int, server_name: str, host: str = "127.0.0.1") -> dict:
    """Handshake with full verification; the peer's parsed certificate."""
    ctx = pki.client_context()
    with socket.create_connection((host, port), timeout=QUICK) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.getpeercert()


@pytest.mark.parametrize(
    ("port_attr", "pair_attr"),
    [
        ("https_port", "good"),
        ("expired_port", "expired"),
        ("wrong_name_port", "wrong_name"),
        ("soon_port", "soon"),
    ],
)
def test_each_tls_port_presents_its_certificate(nginx, pki, port_attr, pair_attr):
    assert presented(getattr(nginx, port_attr)) == der_of(getattr(pki, pair_attr))


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1"])
def test_good_certificate_verifies(nginx, pki, name):
    cert = verify(pki, nginx.https_port, name)
    assert ("DNS", "localhost") in cert["subjectAltName"]


def test_https_get_with_urllib(nginx, pki):
    url = nginx.url("/", scheme="https", host="localhost")
    with urllib.request.urlopen(url, context=pki.client_context(), timeout=QUICK) as resp:
        assert resp.read() == nginx_peer.INDEX_BODY


def test_https_over_ipv6(nginx, pki):
    cert = verify(pki, nginx.https_port, "::1", host="::1")
    assert ("IP Address", "0:0:0:0:0:0:0:1") in cert["subjectAltName"]


def test_sni_alt_test_gets_alt_certificate(nginx, pki):
    assert presented(nginx.https_port, server_name="alt.test") == der_of(pki.alt)
    cert = verify(pki, nginx.https_port, "alt.test")
    assert cert["subjectAltName"] == (("DNS", "alt.test"),)


def test_expired_certificate_fails_verification(nginx, pki):
    assert pki.expired.not_after < dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        verify(pki, nginx.expired_port, "localhost")
    assert info.value.verify_code == 10  # X509_V_ERR_CERT_HAS_EXPIRED


def test_wrong_name_certificate_fails_hostname_check(nginx, pki):
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        verify(pki, nginx.wrong_name_port, "localhost")
    assert info.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH
    assert verify(pki, nginx.wrong_name_port, "wrong.example")["subjectAltName"] == (
        ("DNS", "wrong.example"),
    )


def test_soon_certificate_expires_within_5_days(nginx, pki):
    cert = verify(pki, nginx.soon_port, "localhost")
    left = ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()
    assert 4 * 86400 < left <= 5 * 86400
    assert pki.soon.not_after - dt.datetime.now(dt.UTC) <= dt.timedelta(days=5)


def test_tls_ports_serve_the_routes(nginx, pki):
    ctx = pki.client_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for port in (nginx.https_port, nginx.expired_port, nginx.wrong_name_port, nginx.soon_port):
        conn = http.client.HTTPSConnection(nginx.host, port, timeout=QUICK, context=ctx)
        conn.request("GET", "/status/418")
        assert conn.getresponse().status == 418
        conn.close()


def test_openssl_s_client_sees_expired_certificate(nginx, pki):
    openssl = need_binary("openssl", "openssl")
    out = subprocess.run(
        [
            openssl, "s_client",
            "-connect", f"127.0.0.1:{nginx.expired_port}",
            "-servername", "localhost",
            "-CAfile", str(pki.ca_file),
        ],
        input=b"",
        capture_output=True,
        timeout=QUICK * 2,
    ).stdout.decode()
    assert "Verify return code: 10 (certificate has expired)" in out


# --- UDP peers ----------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["udp_echo", "udp_echo6"])
def test_udp_echo(request, fixture):
    peer = request.getfixturevalue(fixture)
    family = socket.AF_INET6 if ":" in peer.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(QUICK)
        sock.sendto(b"Hello World", (peer.host, peer.port))
        reply, addr = sock.recvfrom(65535)
    assert reply == b"echo:Hello World"
    assert addr[1] == peer.port
    assert b"Hello World" in peer.received


def test_udp_silent_never_answers(udp_silent):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(SHORT)
        sock.sendto(b"anyone?", (udp_silent.host, udp_silent.port))
        with pytest.raises(TimeoutError):
            sock.recvfrom(65535)


# --- TCP peers ----------------------------------------------------------------------------


def test_silent_tcp_accepts_and_says_nothing(silent_tcp):
    with socket.create_connection((silent_tcp.host, silent_tcp.port), timeout=SHORT) as sock:
        sock.sendall(b"hello?\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1)
        assert silent_tcp.accepted() == 1


def test_closed_port_refuses(closed_port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((closed_port.host, closed_port.port), timeout=QUICK)


def test_banner_dialogue(banner_tcp):
    with socket.create_connection((banner_tcp.host, banner_tcp.port), timeout=QUICK) as sock:
        f = sock.makefile("rwb", buffering=0)
        assert f.readline() == b"220 netkit test ready\r\n"
        sock.sendall(b"HELO x\r\n")
        assert f.readline() == b"250 hello x\r\n"
        sock.sendall(b"NOOP\r\n")
        assert f.readline() == b"500 unknown command\r\n"
        sock.sendall(b"QUIT\r\n")
        assert f.readline() == b"221 bye\r\n"
        assert f.readline() == b""  # the server closed
    assert banner_tcp.lines == ["HELO x", "NOOP", "QUIT"]


# --- tinyproxy ----------------------------------------------------------------------------


def test_proxy_forwards_plain_http(http_proxy, nginx):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": http_proxy.url}))
    url = nginx.url("/echo?via=proxy")
    with opener.open(url, timeout=QUICK) as resp:
        assert echo_fields(resp.read())["uri"] == "/echo?via=proxy"
    http_proxy.wait_for_log(f"GET {url} HTTP/1.1")


def test_proxy_connect_to_nginx_https(http_proxy, nginx, pki):
    conn = http.client.HTTPSConnection(
        http_proxy.host, http_proxy.port, timeout=QUICK, context=pki.client_context()
    )
    conn.set_tunnel("localhost", nginx.https_port)
    conn.request("GET", "/")
    assert conn.getresponse().read() == nginx_peer.INDEX_BODY
    conn.close()
    # http.client sends "CONNECT host:port HTTP/1.0"; curl sends HTTP/1.1.
    http_proxy.wait_for_log(f"CONNECT localhost:{nginx.https_port} HTTP/1.")


# --- the helpers in tests/peers/_base.py --------------------------------------------------


def test_missing_binary_fails_not_skips():
    with pytest.raises(pytest.fail.Exception, match="apt-get install no-such-pkg"):
        need_binary("/nonexistent/netkit-peer", "no-such-pkg")


def test_wait_listening_names_the_port(closed_port):
    with pytest.raises(RuntimeError, match=f"{closed_port.port}"):
        wait_listening(closed_port.host, closed_port.port, timeout=0.2, name="thing")


def test_server_start_failure_quotes_the_log(tmp_path: Path):
    server = ServerProcess(
        "failer",
        [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"],
        log_file=tmp_path / "out.log",
        ready=lambda: False,
    )
    with pytest.raises(ServerStartError, match="boom: bad config") as info:
        server.start()
    assert not info.value.port_taken


def test_server_start_retries_when_port_taken(tmp_path: Path):
    attempts = []

    def factory(attempt: int) -> ServerProcess:
        attempts.append(attempt)
        if attempt == 0:  # says what a server says when its port was taken, and exits
            code = "print('bind: Address already in use'); raise SystemExit(1)"
        else:
            code = "import time; time.sleep(30)"
        return ServerProcess(
            "retrier",
            [sys.executable, "-c", code],
            log_file=tmp_path / f"out{attempt}.log",
            ready=lambda: attempt > 0,
        )

    with ServerProcess.start_with_retries(factory) as server:
        assert server.alive()
    assert attempts == [0, 1]
    assert not server.alive()


def test_nginx_runs_as_configured(nginx):
    assert nginx.error_log.exists() and nginx.access_log.exists()
    assert (nginx.root / "index.html").read_bytes() == nginx_peer.INDEX_BODY
    if os.geteuid() == 0:
        assert "user root;" in (nginx.prefix / "nginx.conf").read_text()
