"""Dialogues decide everything without I/O: what is sent, where, when to stop."""

import pytest

from netkit.core.errors import ProtocolError
from netkit.core.proxies import bypasses, proxy_from_env
from netkit.core.target import parse_target
from netkit.proto.actions import TLSParams
from netkit.proto.http import Request, http_dialogue
from netkit.proto.line import tcp_dialogue, udp_dialogue
from netkit.testing import FakePeer

PORTS = {"http": 80, "https": 443}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def url(text):
    return parse_target(text, PORTS)


def test_tcp_sends_then_reads_until_expected():
    peer = FakePeer([b"220 hel", b"lo\r\n", b"never read"])
    out = peer.run(tcp_dialogue("h", 25, sends=[b"HELO x\r\n"], expects=[b"hello"], quit=b"QUIT\r\n"))
    assert out.matched and out.received == b"220 hello\r\n"
    assert peer.sent == [b"HELO x\r\nQUIT\r\n"]


def test_tcp_any_versus_all():
    peer = FakePeer([b"a", b"b", b""])
    assert peer.run(tcp_dialogue("h", 1, expects=[b"a", b"z"])).matched
    peer = FakePeer([b"a", b"b", b""])
    out = peer.run(tcp_dialogue("h", 1, expects=[b"a", b"z"], expect_all=True))
    assert not out.matched and out.missing == [b"z"] and out.received == b"ab"


def test_tcp_maxbytes_stops_reading():
    peer = FakePeer([b"x" * 10] * 100)
    out = peer.run(tcp_dialogue("h", 1, expects=[b"y"], maxbytes=25))
    assert not out.matched and len(out.received) == 25


def test_tcp_without_expect_only_connects():
    peer = FakePeer([b"banner"])
    out = peer.run(tcp_dialogue("h", 1))
    assert out.matched and out.received == b"" and peer.sent == [b""]


def test_tcp_tls_handshake_first():
    peer = FakePeer([b"+OK"])
    out = peer.run(tcp_dialogue("h", 995, expects=[b"+OK"], tls=TLSParams("h")))
    assert out.tls.version == "TLSv1.3" and peer.tls[0].server_name == "h"


def test_udp_datagrams():
    peer = FakePeer([b"echo:ping"])
    out = peer.run(udp_dialogue("h", 7, sends=[b"ping"], expects=[b"echo:ping"]))
    assert out.matched and peer.connects[0].transport == "udp"


def test_http_get():
    peer = FakePeer([OK])
    out = peer.run(http_dialogue(Request("GET", url("http://h:8080/a b?q=1")), user_agent="ua"))
    sent = peer.sent[0].decode()
    assert sent.startswith("GET /a%20b?q=1 HTTP/1.1\r\nHost: h:8080\r\n")
    assert "User-Agent: ua\r\n" in sent and "Connection: close\r\n" in sent
    assert out.response.status == 200 and out.response.body == b"ok"


def test_http_basic_auth_from_url():
    peer = FakePeer([OK])
    peer.run(http_dialogue(Request("GET", url("http://admin:s3cret@h/"))))
    assert "Authorization: Basic YWRtaW46czNjcmV0\r\n" in peer.sent[0].decode()


def test_redirect_judged_when_not_following():
    peer = FakePeer([b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n"])
    out = peer.run(http_dialogue(Request("GET", url("http://h/"))))
    assert out.response.status == 301 and out.redirects == [] and len(peer.connects) == 1


def test_redirects_followed_across_hosts_drop_credentials_and_post_becomes_get():
    peer = FakePeer(
        [b"HTTP/1.1 302 Found\r\nLocation: https://other:8443/next\r\nContent-Length: 0\r\n\r\n"],
        [OK],
    )
    req = Request("POST", url("http://h/form"), [("Authorization", "Basic x"),
                                                  ("Content-Type", "application/x-www-form-urlencoded")], b"a=1")
    out = peer.run(http_dialogue(req, follow=True, tls_for=lambda u: TLSParams(u.host)))
    second = peer.sent[1].decode()
    assert second.startswith("GET /next HTTP/1.1\r\nHost: other:8443\r\n")
    assert "Authorization" not in second and "a=1" not in second
    assert out.redirects == [(302, "https://other:8443/next")]
    assert peer.tls[0].server_name == "other"


def test_307_keeps_method_and_body():
    peer = FakePeer([b"HTTP/1.1 307 T\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"], [OK])
    peer.run(http_dialogue(Request("POST", url("http://h/a"), [], b"x=1"), follow=True))
    assert peer.sent[1].startswith(b"POST /b ") and peer.sent[1].endswith(b"x=1")


def test_redirect_limit():
    loop = b"HTTP/1.1 302 F\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n"
    peer = FakePeer(*[[loop]] * 5)
    out = peer.run(http_dialogue(Request("GET", url("http://h/loop")), follow=True, max_redirects=3))
    assert out.too_many_redirects and len(out.redirects) == 3 and len(peer.connects) == 4


def test_max_body_stops_reading():
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    peer = FakePeer([big, b"x" * 60000, b"x" * 40000])
    out = peer.run(http_dialogue(Request("GET", url("http://h/")), max_body=50000))
    assert not out.response.complete and out.response.size == 60000


def test_keep_limits_memory_but_counts_everything():
    peer = FakePeer([b"HTTP/1.1 200 OK\r\n\r\n", b"a" * 1000, b"b" * 1000])
    out = peer.run(http_dialogue(Request("GET", url("http://h/")), keep=1500))
    assert out.response.size == 2000 and len(out.response.body) == 1500


def test_plain_http_through_a_proxy_uses_the_absolute_form():
    proxy = parse_target("http://u:p@proxy:3128", {"http": 1080})
    peer = FakePeer([OK])
    peer.run(http_dialogue(Request("GET", url("http://h/x")), proxy_for=lambda u: proxy))
    sent = peer.sent[0].decode()
    assert peer.connects[0].host == "proxy" and sent.startswith("GET http://h:80/x HTTP/1.1")
    assert "Proxy-Authorization: Basic dTpw" in sent


def test_https_through_a_proxy_tunnels():
    proxy = parse_target("http://proxy:3128", {"http": 1080})
    peer = FakePeer([b"HTTP/1.1 200 Connection established\r\n\r\n", OK])
    out = peer.run(http_dialogue(Request("GET", url("https://h/")), proxy_for=lambda u: proxy,
                                 tls_for=lambda u: TLSParams(u.host)))
    assert peer.sent[0].startswith(b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\nGET / HTTP/1.1")
    assert out.response.status == 200


def test_refused_tunnel_is_a_protocol_error():
    proxy = parse_target("http://proxy:3128", {"http": 1080})
    peer = FakePeer([b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"])
    with pytest.raises(ProtocolError, match="refused the tunnel"):
        peer.run(http_dialogue(Request("GET", url("https://h/")), proxy_for=lambda u: proxy,
                               tls_for=lambda u: TLSParams(u.host)))


@pytest.mark.parametrize(
    "host, port, no_proxy, bypass",
    [("h.example.com", 80, "example.com", True), ("example.com", 80, ".example.com", True),
     ("badexample.com", 80, "example.com", False), ("h", 80, "*", True), ("127.0.0.1", 80, "127.0.0.1", True),
     ("h", 8080, "h:80", False), ("h", 80, "h:80", True), ("::1", 80, "::1", True), ("h", 80, "", False)],
)
def test_no_proxy(host, port, no_proxy, bypass):
    assert bypasses(host, port, no_proxy) is bypass


def test_proxy_env_precedence():
    env = {"http_proxy": "http://p1:1", "HTTPS_PROXY": "p2:2", "HTTP_PROXY": "http://ignored:9"}
    assert proxy_from_env("http", "h", 80, env).host == "p1"
    assert proxy_from_env("https", "h", 443, env).netloc == "p2:2"
    assert proxy_from_env("http", "h", 80, {"HTTP_PROXY": "http://ignored:9"}) is None
    assert proxy_from_env("http", "h", 80, {"all_proxy": "http://p3:3", "no_proxy": "h"}) is None


def test_an_imap_flood_of_untagged_lines_is_bounded():
    from netkit.proto.lines import MAX_REPLY_LINES
    from netkit.proto.mail import imap_dialogue

    flood = b"* 1 EXISTS\r\n" * (MAX_REPLY_LINES + 1)
    peer = FakePeer([b"* PREAUTH hi\r\n", flood, b"n1 OK\r\n"])
    with pytest.raises(ProtocolError, match="more than 1000 untagged lines"):
        peer.run(imap_dialogue("h", 143, user="u", password="p"))


def test_imap_examine_without_exists_is_a_protocol_error():
    from netkit.proto.mail import imap_dialogue

    peer = FakePeer([b"* PREAUTH hi\r\n", b"* 0 RECENT\r\nn1 OK [READ-ONLY] done\r\n"])
    with pytest.raises(ProtocolError, match="without its number of messages"):
        peer.run(imap_dialogue("h", 143, user="u", password="p"))


def test_a_big_mailbox_search_reply_is_read():
    """25,000 unseen messages make a SEARCH line of ~140 KB: counted, not 'line too long'."""
    from netkit.proto.mail import imap_dialogue

    numbers = b" ".join(b"%d" % n for n in range(1, 25001))
    peer = FakePeer([b"* PREAUTH hi\r\n", b"* 25000 EXISTS\r\nn1 OK done\r\n", b"* SEARCH " + numbers + b"\r\n",
                     b"n2 OK done\r\n"])
    session = peer.run(imap_dialogue("h", 143, user="u", password="p"))
    assert session.facts["unseen"] == 25000 and session.facts["messages"] == 25000
