"""ssh:// and dns:// without sockets: the dialogues against scripted peers, and the verdicts."""

import asyncio

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from netkit.check import build_spec
from netkit.check import dns as dns_check
from netkit.check import ssh as ssh_check
from netkit.core.errors import ProtocolError, RefusedError, ResolveError, TimedOut, UsageError
from netkit.core.status import CRITICAL, OK, UNKNOWN, WARNING
from netkit.drivers._common import Exchange, Timings
from netkit.proto.actions import Await
from netkit.proto.ssh import (
    MAX_IDENTIFICATION,
    MAX_PREAMBLE_LINE,
    MAX_PREAMBLE_LINES,
    IdentificationReader,
    KexInit,
    SSHOutcome,
    client_identification,
    parse_identification,
    parse_kexinit,
    ssh_dialogue,
)
from netkit.testing import FakePeer

OPENSSH = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"
MINE = client_identification("0.1.0")


# --- SSH identification -------------------------------------------------------------------


def ssh(*replies, **kw):
    peer = FakePeer(*replies)
    outcome = peer.run(ssh_dialogue("h", 22, identification=MINE, **kw))
    return peer, outcome


def test_identification_sent_first_then_read():
    peer, out = ssh([OPENSSH, b"never read"])
    kinds = [type(a).__name__ for a in peer.actions]
    assert kinds[:3] == ["Connect", "Send", "Recv"]  # ours goes out before theirs is read
    assert peer.sent == [b"SSH-2.0-netkit_0.1.0\r\n"]
    ident = out.identification
    assert (ident.protocol, ident.software, ident.comments) == ("2.0", "OpenSSH_9.2p1", "Debian-2")
    assert ident.version_text == "OpenSSH_9.2p1 Debian-2" and ident.preamble == []
    assert out.peer == "h:22" and out.kexinit is None and out.session is None


def test_identification_split_across_reads_and_lf_only():
    _, out = ssh([b"SS", b"H-2.0-dropbear_2022", b".83\n"])
    assert out.identification.software == "dropbear_2022.83" and out.identification.line.endswith("83")


def test_preamble_lines_are_skipped_and_kept():
    _, out = ssh([b"Welcome to host\r\nAuthorized use only\r\n", b"SSH-1.99-Cisco-1.25\r\n"])
    ident = out.identification
    assert ident.preamble == ["Welcome to host", "Authorized use only"]
    assert ident.protocol == "1.99" and ident.software == "Cisco-1.25"


def test_identification_at_most_255_bytes():
    line = b"SSH-2.0-" + b"x" * (MAX_IDENTIFICATION - len(b"SSH-2.0-\r\n")) + b"\r\n"
    assert len(line) == MAX_IDENTIFICATION
    _, out = ssh([line])
    assert len(out.identification.software) == MAX_IDENTIFICATION - 10
    with pytest.raises(ProtocolError, match="longer than 255 bytes"):
        ssh([b"SSH-2.0-" + b"x" * 300 + b"\r\n"])
    with pytest.raises(ProtocolError, match="longer than 255 bytes"):  # no line end needed to know
        ssh([b"SSH-2.0-" + b"x" * 250, b"x" * 10])


def test_not_ssh_closed_with_what_it_said():
    with pytest.raises(ProtocolError, match=r"h:22 is not an SSH server: it said 'HTTP/1.1 400 Bad Request'"):
        ssh([b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n"])
    with pytest.raises(ProtocolError, match="closed the connection without an SSH identification"):
        ssh([])


def test_binary_garbage_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="binary data"):
        ssh([b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"])


def test_preamble_limits():
    with pytest.raises(ProtocolError, match=f"more than {MAX_PREAMBLE_LINE} bytes"):
        ssh([b"y" * (MAX_PREAMBLE_LINE + 1)])
    with pytest.raises(ProtocolError, match=f"more than {MAX_PREAMBLE_LINES} lines"):
        ssh([b"hello\r\n" * (MAX_PREAMBLE_LINES + 1)])


@pytest.mark.parametrize("line", [b"SSH-\r\n", b"SSH-2.0\r\n", b"SSH-2.0-\r\n", b"SSH--x\r\n", b"SSH-2 0-x\r\n"])
def test_malformed_identification(line):
    with pytest.raises(ProtocolError, match="malformed SSH identification"):
        ssh([line])


def test_parse_identification_keeps_comments():
    ident = parse_identification(b"SSH-2.0-OpenSSH_9.6 Ubuntu-3ubuntu13 extra words")
    assert ident.software == "OpenSSH_9.6" and ident.comments == "Ubuntu-3ubuntu13 extra words"
    with pytest.raises(ProtocolError):
        parse_identification(b"220 smtp ready")


def kexinit_packet(host_keys=("rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256", "ssh-ed25519")):
    """An SSH binary packet holding a KEXINIT, as a server sends it after its identification."""
    lists = [["curve25519-sha256"], list(host_keys), ["aes128-ctr"], ["aes128-ctr"], ["hmac-sha2-256"],
             ["hmac-sha2-256"], ["none"], ["none"], [], []]
    payload = bytes([20]) + b"\x00" * 16
    for names in lists:
        raw = ",".join(names).encode()
        payload += len(raw).to_bytes(4, "big") + raw
    payload += b"\x00" + b"\x00\x00\x00\x00"
    padding = 8 - (len(payload) + 5) % 8 + 8
    return (len(payload) + padding + 1).to_bytes(4, "big") + bytes([padding]) + payload + b"\x00" * padding


def test_kexinit_read_after_identification_when_asked():
    packet = kexinit_packet()
    _, out = ssh([OPENSSH + packet[:7], packet[7:30], packet[30:]], read_kexinit=True)
    assert out.kexinit.server_host_key_algorithms == ["rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256",
                                                      "ssh-ed25519"]
    assert out.kexinit.kex_algorithms == ["curve25519-sha256"]


def test_kexinit_faults():
    with pytest.raises(ProtocolError, match="before the key exchange"):
        ssh([OPENSSH], read_kexinit=True)
    with pytest.raises(ProtocolError, match="not an SSH packet"):
        ssh([OPENSSH + b"\xff\xff\xff\xff\x04rest"], read_kexinit=True)
    with pytest.raises(ProtocolError, match="expected the server's KEXINIT"):
        parse_kexinit(b"\x15" + b"\x00" * 40)
    with pytest.raises(ProtocolError, match="truncated KEXINIT"):
        parse_kexinit(b"\x14" + b"\x00" * 16 + b"\x00\x00\x00\x09abc")


def test_session_is_handed_over_with_what_was_read():
    seen = []

    async def session(ident, kexinit):
        seen.append((ident.software, kexinit.server_host_key_algorithms[-1]))
        return "session result"

    peer, out = ssh([OPENSSH + kexinit_packet()], read_kexinit=True, session=session)
    assert seen == [("OpenSSH_9.2p1", "ssh-ed25519")] and out.session == "session result"
    kinds = [type(a).__name__ for a in peer.actions]
    assert kinds[-2:] == ["Close", "Await"]  # our connection is closed before the library makes its own
    assert peer.actions[-1].what == "in the SSH key exchange with h:22"


def test_reader_keeps_bytes_after_the_identification():
    reader = IdentificationReader()
    assert reader.feed(b"pre\r\nSSH-2.0-x\r\n\x00\x00") is not None
    assert reader.buffer == b"\x00\x00" and reader.preamble == ["pre"]


# --- SSH host keys and verdicts -------------------------------------------------------------


def test_fingerprint_matching_rules():
    sha, md5 = "SHA256:abcDEF+/x", "MD5:aa:bb:cc"
    assert ssh_check.fingerprint_matches("SHA256:abcDEF+/x", sha, md5)
    assert ssh_check.fingerprint_matches("SHA256:abcDEF+/x=", sha, md5)  # base64 padding optional
    assert not ssh_check.fingerprint_matches("SHA256:ABCdef+/x", sha, md5)  # base64 is case-sensitive
    assert ssh_check.fingerprint_matches("MD5:AA:BB:CC", sha, md5)
    assert not ssh_check.fingerprint_matches("MD5:aa:bb:cd", sha, md5)


def test_host_key_families_follow_openssh_order_and_the_server():
    offered = KexInit(server_host_key_algorithms=["rsa-sha2-512", "rsa-sha2-256", "ecdsa-sha2-nistp256",
                                                  "ssh-ed25519", "ssh-dss"])
    assert ssh_check._offered_families(offered) == [("ssh-ed25519",), ("ecdsa-sha2-nistp256",),
                                                    ("rsa-sha2-512", "rsa-sha2-256")]
    old = KexInit(server_host_key_algorithms=["ssh-rsa", "ssh-dss"])
    assert ssh_check._offered_families(old) == [("ssh-rsa",)]


def test_plain_ssh_plan_reads_no_kexinit_and_needs_no_asyncssh():
    spec = build_spec("ssh://h:2222")
    peer = FakePeer([OPENSSH])
    out = peer.run(ssh_check.plan(spec))
    assert out.kexinit is None and not any(isinstance(a, Await) for a in peer.actions)
    assert peer.connects[0].port == 2222 and peer.sent[0].startswith(b"SSH-2.0-netkit_")


def timings(total=0.01, **phases):
    t = Timings()
    t.total = total
    for k, v in phases.items():
        setattr(t, k, v)
    return t


def ssh_exchange(line=OPENSSH, session=None, kexinit=None, error=None, head=b""):
    outcome = None if error else SSHOutcome(parse_identification(line), kexinit, session, "h:22")
    return Exchange(outcome, error, timings(connect=0.001), None, "h:22", head)


def test_ssh_ok_reads_like_check_ssh():
    result = ssh_check.judge(build_spec("ssh://h"), ssh_exchange(), 0)
    assert result.status == OK and result.summary == "OpenSSH_9.2p1 Debian-2 (protocol 2.0)"
    assert [m.label for m in result.metrics] == ["time", "time_connect"]
    assert result.details["software"] == "OpenSSH_9.2p1" and result.details["comments"] == "Debian-2"


def test_ssh_protocol_and_software_expectations():
    judge = ssh_check.judge
    assert judge(build_spec("ssh://h"), ssh_exchange(b"SSH-1.99-Old_1\r\n"), 0).status == OK  # 1.99 speaks 2.0
    old = judge(build_spec("ssh://h"), ssh_exchange(b"SSH-1.5-Ancient_1\r\n"), 0)
    assert old.status == CRITICAL and "protocol version mismatch, expected '2.0'" in old.summary
    assert judge(build_spec("ssh://h", protocol="1.5"), ssh_exchange(b"SSH-1.5-Ancient_1\r\n"), 0).status == OK
    assert judge(build_spec("ssh://h", software="Debian"), ssh_exchange(), 0).status == OK
    bad = judge(build_spec("ssh://h", software="OpenSSH_10"), ssh_exchange(), 0)
    assert bad.status == CRITICAL
    assert bad.summary == "OpenSSH_9.2p1 Debian-2 (protocol 2.0) version mismatch, expected 'OpenSSH_10'"
    slow = judge(build_spec("ssh://h", warning="0.001"), ssh_exchange(), 0)
    assert slow.status == WARNING and "0.010 second response time" in slow.summary


def test_ssh_errors_say_what_the_peer_said():
    ex = ssh_exchange(error=TimedOut("timeout after 1 s waiting for data from h:22"), head=b"220 mail ready\r\n")
    result = ssh_check.judge(build_spec("ssh://h"), ex, 0)
    assert result.status == CRITICAL and result.summary.endswith("no SSH identification; it said '220 mail ready'")
    refused = ssh_check.judge(build_spec("ssh://h"), ssh_exchange(error=RefusedError("connection refused by h:22")), 0)
    assert refused.status == CRITICAL and refused.summary == "connection refused by h:22"


ED = ("ED25519", "SHA256:ed", "ssh-ed25519", "MD5:01")
RSA = ("RSA", "SHA256:rsa", "ssh-rsa", "MD5:02")


def test_ssh_host_key_verdicts():
    judge = ssh_check.judge
    pinned = judge(build_spec("ssh://h", hostkey="SHA256:rsa"),
                   ssh_exchange(session=ssh_check.KeyCheck([ED, RSA], "SHA256:rsa")), 0)
    assert pinned.status == OK and pinned.summary.endswith("host key RSA SHA256:rsa as pinned")
    wrong = judge(build_spec("ssh://h", hostkey=["SHA256:x", "SHA256:y"]),
                  ssh_exchange(session=ssh_check.KeyCheck([ED, RSA], None)), 0)
    assert wrong.status == CRITICAL
    assert ("host key mismatch: h:22 presented ED25519 SHA256:ed, RSA SHA256:rsa; expected SHA256:x or SHA256:y"
            in wrong.summary)
    assert [k["fingerprint"] for k in wrong.details["host_keys"]] == ["SHA256:ed", "SHA256:rsa"]


def test_ssh_login_verdicts(tmp_path):
    key = tmp_path / "id_test"
    key.write_text("not a key")
    spec = build_spec("ssh://h", identity=str(key))
    ok = {"user": "alice", "identity": str(key), "ok": True, "error": None, "local": False}
    result = ssh_check.judge(spec, ssh_exchange(session=ssh_check.KeyCheck([ED], None, ok)), 0)
    assert result.status == OK and result.summary.endswith("host key ED25519 SHA256:ed, logged in as alice with id_test")
    denied = dict(ok, ok=False, error="Permission denied for user alice")
    result = ssh_check.judge(spec, ssh_exchange(session=ssh_check.KeyCheck([ED], None, denied)), 0)
    assert result.status == CRITICAL and "authentication as alice with id_test failed: Permission denied" in result.summary
    local = dict(ok, ok=False, error=f"cannot use {key}: bad key", local=True)
    result = ssh_check.judge(spec, ssh_exchange(session=ssh_check.KeyCheck([], None, local)), 0)
    assert result.status == UNKNOWN and "cannot use" in result.summary


def test_login_user_order(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "local")
    assert ssh_check.login_user(build_spec("ssh://h")) == "local"
    assert ssh_check.login_user(build_spec("ssh://url@h")) == "url"
    assert ssh_check.login_user(build_spec("ssh://url@h", user="opt", identity=__file__)) == "opt"


# --- DNS dialogue ---------------------------------------------------------------------------


def query(name="www.example.test", rdtype="A"):
    return dns_check.make_query(name, rdtype)


def reply(q, *records, rcode=dns.rcode.NOERROR, tc=False, id=None):
    r = dns.message.make_response(q)
    for text in records:  # "name ttl TYPE data"
        name, ttl, rdtype, data = text.split(" ", 3)
        rrset = r.find_rrset(r.answer, dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.from_text(rdtype),
                             create=True)
        rrset.add(dns.rdata.from_text("IN", rdtype, data), int(ttl))
    r.set_rcode(rcode)
    if tc:
        r.flags |= dns.flags.TC
    if id is not None:
        r.id = id
    return r.to_wire()


def framed(wire):
    return len(wire).to_bytes(2, "big") + wire


def run_dns(peer, q, **kw):
    return peer.run(dns_check.dns_dialogue("ns", 53, q, **kw))


def test_udp_question_and_answer():
    q = query()
    peer = FakePeer([reply(q, "www.example.test. 300 A 192.0.2.1")])
    out = run_dns(peer, q)
    assert peer.connects[0].transport == "udp" and peer.sent == [q.to_wire()]
    assert out.transport == "udp" and not out.truncated and out.ignored == 0
    assert out.response.answer[0][0].to_text() == "192.0.2.1"


def test_replies_with_another_id_are_skipped():
    q = query()
    other = reply(q, "www.example.test. 300 A 203.0.113.9", id=(q.id + 1) % 65536)
    out = run_dns(FakePeer([other, reply(q, "www.example.test. 300 A 192.0.2.1")]), q)
    assert out.ignored == 1 and out.response.answer[0][0].to_text() == "192.0.2.1"


def test_endless_unrelated_replies_give_up():
    q = query()
    other = reply(q, id=(q.id + 1) % 65536)
    with pytest.raises(ProtocolError, match="none with our id"):
        run_dns(FakePeer([other] * (dns_check.MAX_IGNORED + 1)), q)


def test_garbage_is_a_protocol_error():
    q = query()
    with pytest.raises(ProtocolError, match="not a DNS reply"):
        run_dns(FakePeer([b"echo:hello"]), q)
    with pytest.raises(ProtocolError, match="not a DNS reply"):
        run_dns(FakePeer([b""]), q)


def test_our_id_for_another_question_is_a_protocol_error():
    q = query()
    wrong = dns.message.make_response(query("other.example.test"))
    wrong.id = q.id
    with pytest.raises(ProtocolError, match="not to our question"):
        run_dns(FakePeer([wrong.to_wire()]), q)


def test_truncated_udp_is_asked_again_over_tcp():
    q = query("big.example.test", "TXT")
    full = framed(reply(q, 'big.example.test. 300 TXT "a"', 'big.example.test. 300 TXT "b"'))
    peer = FakePeer([reply(q, tc=True)], [full[:1], full[1:9], full[9:]])
    out = run_dns(peer, q)
    assert [c.transport for c in peer.connects] == ["udp", "tcp"]
    assert peer.sent == [q.to_wire(), framed(q.to_wire())]
    assert out.transport == "tcp" and out.truncated and len(out.response.answer[0]) == 2


def test_tcp_only_and_two_messages_in_one_read():
    q = query()
    other = framed(reply(q, id=(q.id + 7) % 65536))
    peer = FakePeer([other + framed(reply(q, "www.example.test. 300 A 192.0.2.1"))])
    out = run_dns(peer, q, tcp=True)
    assert [c.transport for c in peer.connects] == ["tcp"] and out.ignored == 1 and not out.truncated


def test_tcp_closed_before_a_complete_reply():
    q = query()
    wire = framed(reply(q))
    with pytest.raises(ProtocolError, match="closed the connection before a complete DNS reply after 5 bytes"):
        run_dns(FakePeer([wire[:5]]), q, tcp=True)


def test_bad_names_are_refused_before_any_io():
    with pytest.raises(ValueError, match="not a valid DNS name"):
        dns_check.make_query("a..b", "A")
    with pytest.raises(UsageError, match="longer than 63 characters"):
        build_spec("dns://ns/" + "x" * 64 + ".test")


def test_system_nameserver(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example.test\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n")
    assert dns_check.system_nameserver(str(conf)) == ("192.0.2.53", None)
    conf.write_text("search example.test\n")
    server, why = dns_check.system_nameserver(str(conf))
    assert server is None and str(conf) in why


def test_system_resolver_failure_is_a_resolve_error(monkeypatch):
    monkeypatch.setattr(dns_check, "system_nameserver", lambda: (None, "no nameserver to ask"))
    with pytest.raises(ResolveError, match="no nameserver"):
        FakePeer().run(dns_check.plan(build_spec("dns:///www.example.test")))


def test_plan_uses_server_port_type_and_tcp():
    spec = build_spec("dns://192.0.2.1:5353/example.test?type=MX", tcp=True)
    peer = FakePeer([])
    with pytest.raises(ProtocolError):
        peer.run(dns_check.plan(spec))
    sent = dns.message.from_wire(peer.sent[0][2:])
    assert (peer.connects[0].host, peer.connects[0].port, peer.connects[0].transport) == ("192.0.2.1", 5353, "tcp")
    assert sent.question[0].to_text() == "example.test. IN MX" and sent.edns == 0


# --- DNS verdicts -----------------------------------------------------------------------------


def dns_result(url, *records, rcode=dns.rcode.NOERROR, transport="udp", truncated=False, **options):
    spec = build_spec(url, **options)
    name, _ = dns_check.dns_question(spec.target)
    q = query(name, spec.get("type"))
    response = dns.message.from_wire(reply(q, *records, rcode=rcode))
    outcome = dns_check.DNSOutcome(response, transport, truncated, 0, "192.0.2.53:53")
    return dns_check.judge(spec, Exchange(outcome, None, timings(0.002), None, "192.0.2.53:53"), 0)


def test_dns_ok_lists_answers_with_perfdata():
    result = dns_result("dns://ns/www.example.test", "www.example.test. 300 A 192.0.2.10")
    assert result.status == OK
    assert result.summary == "www.example.test A 192.0.2.10 (1 answer) in 0.002 s from 192.0.2.53:53"
    assert [(m.label, m.value) for m in result.metrics] == [("time", 0.002), ("answers", 1)]
    assert result.details["answers"] == [{"name": "www.example.test", "type": "A", "ttl": 300,
                                          "data": "192.0.2.10"}]
    assert result.details["rcode"] == "NOERROR" and result.details["transport"] == "udp"


def test_dns_cname_and_many_answers():
    result = dns_result("dns://ns/alias.example.test", "alias.example.test. 60 CNAME www.example.test.",
                        "www.example.test. 60 A 192.0.2.10")
    assert "alias.example.test A 192.0.2.10 via CNAME www.example.test (1 answer)" in result.summary
    many = [f"m.example.test. 60 A 192.0.2.{i}" for i in range(1, 9)]
    result = dns_result("dns://ns/m.example.test", *many)
    assert "and 3 more (8 answers)" in result.summary and len(result.details["answers"]) == 8


def test_dns_rcodes():
    nx = dns_result("dns://ns/nx.example.test", rcode=dns.rcode.NXDOMAIN)
    assert nx.status == CRITICAL and nx.summary.startswith("nx.example.test does not exist (NXDOMAIN)")
    expected = dns_result("dns://ns/nx.example.test", rcode=dns.rcode.NXDOMAIN, expect_nxdomain=True)
    assert expected.status == OK and "as expected" in expected.summary
    exists = dns_result("dns://ns/www.example.test", "www.example.test. 300 A 192.0.2.10", expect_nxdomain=True)
    assert exists.status == CRITICAL and "expected NXDOMAIN, got NOERROR: A 192.0.2.10" in exists.summary
    for rcode in (dns.rcode.SERVFAIL, dns.rcode.REFUSED):
        bad = dns_result("dns://ns/www.example.test", rcode=rcode)
        assert bad.status == CRITICAL and f"the server answered {dns.rcode.to_text(rcode)}" in bad.summary
    nodata = dns_result("dns://ns/www.example.test?type=MX")
    assert nodata.status == CRITICAL and "has no MX record" in nodata.summary
    assert dns_result("dns://ns/www.example.test?type=MX", answers="0").status == OK


def test_dns_answer_count_and_time_thresholds():
    records = [f"m.example.test. 60 A 192.0.2.{i}" for i in (1, 2, 3)]
    assert dns_result("dns://ns/m.example.test", *records, answers="3:").status == OK
    few = dns_result("dns://ns/m.example.test", *records, answers="4:")
    assert few.status == CRITICAL and "3 answers, outside --answers 4:" in few.summary
    assert few.metrics[1].crit is not None
    assert dns_result("dns://ns/m.example.test", *records, warning="0.001").status == WARNING
    assert dns_result("dns://ns/m.example.test", *records, critical="0.001").status == CRITICAL


MULTI = [f"m.example.test. 60 A 192.0.2.{i}" for i in (21, 22)]


@pytest.mark.parametrize("expected, status, words", [
    (["192.0.2.0/24"], OK, None),
    (["192.0.2.21", "192.0.2.22"], OK, None),
    (["192.0.2.21", "192.0.2.0/24"], OK, None),  # that one, and maybe others from the network
    (["192.0.2.21"], CRITICAL, "192.0.2.22 not within the expected 192.0.2.21"),
    (["192.0.2.21", "192.0.2.22", "192.0.2.23"], CRITICAL, "expected 192.0.2.23 missing from the answer"),
    (["198.51.100.0/24"], CRITICAL, "not within the expected 198.51.100.0/24"),
    (["2001:db8::/32"], CRITICAL, "not within"),
])
def test_expect_address_rule(expected, status, words):
    result = dns_result("dns://ns/m.example.test", *MULTI, expect_address=expected)
    assert result.status == status
    if words:
        assert words in result.summary


def test_expect_address_needs_addresses():
    with pytest.raises(UsageError, match="applies to A and AAAA"):
        build_spec("dns://ns/m.example.test?type=MX", answers="0", expect_address="192.0.2.1")
    empty = dns_result("dns://ns/m.example.test?type=AAAA", answers="0", expect_address="2001:db8::1")
    assert empty.status == CRITICAL and "no address to compare" in empty.summary


def test_dns_transport_notes():
    big = dns_result("dns://ns/www.example.test", "www.example.test. 300 A 192.0.2.10", transport="tcp",
                     truncated=True)
    assert big.summary.endswith("over TCP after a truncated UDP answer") and big.details["truncated"]


def test_dns_errors():
    spec = build_spec("dns:///www.example.test")
    ex = Exchange(None, TimedOut("timeout after 1 s waiting for data from 10.0.0.53:53"), timings(1), None,
                  "10.0.0.53:53")
    result = dns_check.judge(spec, ex, 0)
    assert result.status == CRITICAL
    assert result.summary == ("www.example.test A: timeout after 1 s waiting for data from 10.0.0.53:53 "
                              "(system resolver, /etc/resolv.conf)")
    assert result.details["system_resolver"] is True and result.details["server"] == "10.0.0.53:53"
