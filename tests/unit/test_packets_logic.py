"""The pure parts of netkit.packets: the DNS message walk, ARP reply parsing, the OUI
look-up, filter compilation and the public names -- no sockets."""

import socket
import struct

import pytest

from netkit.core.errors import ProtocolError, UsageError
from netkit.packets import _arp, _dns, _oui, _raw


def _message(an=b"", counts=(1, 0, 0, 0), question=b"\x03www\x04test\x00\x00\x01\x00\x01"):
    return b"\x12\x34\x81\x80" + struct.pack("!4H", *counts) + question + an


def test_a_well_formed_message_walks():
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    assert _dns.check_message(_message(rr, (1, 1, 0, 0))) == {"question": 1, "answer": 1, "authority": 0,
                                                               "additional": 0}


@pytest.mark.parametrize("data, words", [
    (b"\x00" * 11, "shorter than a DNS header"),
    (_message(counts=(1, 3, 0, 0)), "counts 3 answer records"),
    (_message(b"\xc0\x1b" + b"\x00" * 14, (1, 1, 0, 0)), "points forward"),  # to itself (offset 27)
    (_message(b"\xc0", (1, 1, 0, 0)), "cut off"),
    (_message(b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 9) + b"\x01", (1, 1, 0, 0)), "data length 9"),
    (_message(b"\x80abc\x00" + b"\x00" * 10, (1, 1, 0, 0)), "label type"),
    (_message(question=(b"\x3f" + b"a" * 63) * 5 + b"\x00\x00\x01\x00\x01"), "longer than 255"),
])
def test_lies_are_named(data, words):
    with pytest.raises(ProtocolError, match=words):
        _dns.check_message(data)


def test_pointer_chains_are_bounded():
    """Every pointer points back, to the one before it: no loop, but 70 jumps for one name."""
    head = _message(counts=(1, 2, 0, 0))
    rdata_at = len(head) + 12
    chain = b"\xc0\x0c" + b"".join(struct.pack("!H", 0xC000 | (rdata_at + 2 * i)) for i in range(70))
    first = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(chain)) + chain
    second = struct.pack("!H", 0xC000 | (rdata_at + 2 * 70)) + struct.pack("!HHIH", 1, 1, 60, 0)
    with pytest.raises(ProtocolError, match="more than 64 compression pointers"):
        _dns.check_message(head + first + second)


def test_parse_type():
    assert _dns.parse_type("mx") == 15 and _dns.parse_type("TYPE65") == 65 and _dns.parse_type("257") == 257
    with pytest.raises(UsageError):
        _dns.parse_type("TYPE0")


def test_arp_reply_parsing():
    us = socket.inet_aton("192.0.2.1")
    mac = bytes.fromhex("020000000001")
    reply = b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + mac \
        + socket.inet_aton("192.0.2.9") + b"\x00" * 6 + us
    assert _arp.parse_reply(reply, us) == ("192.0.2.9", "02:00:00:00:00:01")
    assert _arp.parse_reply(reply[:41], us) is None
    assert _arp.parse_reply(reply, socket.inet_aton("192.0.2.2")) is None  # a reply to someone else
    bad = reply[:14] + struct.pack("!HHBBH", 1, 0x0800, 8, 4, 2) + reply[22:]
    assert _arp.parse_reply(bad, us) is None
    request = _arp.request_frame(mac, us, socket.inet_aton("192.0.2.9"))
    assert len(request) == _arp.FRAME and request[:6] == b"\xff" * 6 and request[20:22] == b"\x00\x01"


def test_arp_targets():
    assert _arp.arp_targets(["192.0.2.1-3", "192.0.2.2/31"]) == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    with pytest.raises(UsageError, match="not an address"):
        _arp.arp_targets(["gateway.example"])


def test_oui_lookup(tmp_path):
    registry = tmp_path / "oui.txt"
    registry.write_text("# comment\n00163E\tXensource, Inc.\n0050C27D5\tDEUTA\n0050C2\tIEEE RA\n")
    got = _oui.vendors(["00:16:3e:01:02:03", "00:50:c2:7d:50:00", "00:50:c2:00:00:01", "02:00:00:00:00:01",
                        "00:00:5e:00:00:01"], files=(str(registry),))
    assert got == {"00:16:3e:01:02:03": "Xensource, Inc.", "00:50:c2:7d:50:00": "DEUTA",
                   "00:50:c2:00:00:01": "IEEE RA", "02:00:00:00:00:01": _oui.LOCAL, "00:00:5e:00:00:01": ""}


def test_oui_lookup_skips_a_non_ascii_prefix_length(tmp_path):
    registry = tmp_path / "manuf"
    registry.write_text("00:50:C2:7D:50/\u00b2\tBOGUS\n00:16:3E\tXensource\n", encoding="utf-8")
    assert _oui.vendors(["00:50:c2:7d:50:00", "00:16:3e:00:00:01"], files=(str(registry),)) == {
        "00:50:c2:7d:50:00": "", "00:16:3e:00:00:01": "Xensource"}


def test_filters_compile_without_privilege():
    code = _raw.compile_filter("arp[6:2] = 2")
    assert len(code) % 8 == 0 and len(code) >= 16
    assert _raw.compile_filter("icmp", _raw.DLT_RAW) != _raw.compile_filter("icmp")
    with pytest.raises(UsageError, match="bad filter"):
        _raw.compile_filter("tcp port banana")


def _hostile_trace():
    from netkit.packets._trace import Flow, Hop, Trace

    evil = 'r1"];\n"x" -> "y\\\x1b[31m<script>alert(1)</script>&'
    hop1 = Hop(1, [("192.0.2.1", 0.001, "time-exceeded"), ("192.0.2.9", 0.001, "time-exceeded")])  # ECMP
    flows = [Flow('t"1', "192.0.2.50", 80, "tcp", [hop1, Hop(2, [(None, None, None)]),
                                                    Hop(3, [("192.0.2.50", 0.002, "SYN-ACK")])], True, "SYN-ACK",
                  {"192.0.2.1": evil}),
             Flow("t2", "192.0.2.60", 80, "tcp", [Hop(1, [(None, None, None)]), Hop(2, [("192.0.2.60", 0.1, "RST")])],
                  True, "RST")]
    return Trace("tcp", "192.0.2.254", flows), evil


def test_graph_labels_are_escaped_and_paths_kept_apart(tmp_path):
    import xml.etree.ElementTree as ET

    from netkit.packets._graph import graph_dot, write_graph

    result, _ = _hostile_trace()
    dot = graph_dot(result)
    assert "\x1b" not in dot and '"x" -> "y' not in dot and '\\"' in dot
    assert '"*0:2"' in dot and '"*1:1"' in dot  # one '*' node per (flow, TTL) that was silent
    assert '"192.0.2.1" -> "*0:2"' in dot and '"192.0.2.9" -> "*0:2"' in dot  # both ECMP addresses lead on
    svg = tmp_path / "g.svg"
    write_graph(result, str(svg))
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert not list(root.iter(f"{ns}script"))
    texts = {t.text for t in root.iter(f"{ns}text")}
    assert {"192.0.2.1", "192.0.2.9", "192.0.2.50", "192.0.2.60", "*"} <= texts
    assert any("<script>" in (t or "") and "\\x1b" in t for t in texts)


@pytest.mark.parametrize("frame, words", [
    (b"\x00" * 12 + b"\x81\x00\x00", "802.1Q truncated"),
    (b"\x00" * 12 + b"\x81\x00\x00\x05\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02" + b"\x00" * 20, "ARP, Reply"),
    (b"\x00" * 5, "Ethernet truncated"),
    (b"\x00" * 12 + b"\x08\x00" + b"\x45" + b"\x00" * 19, "IP 0.0.0.0 > 0.0.0.0: bad total length 0"),
])
def test_summary_lines(frame, words):
    from netkit.packets._summary import summary

    assert words in summary(frame)


def test_summary_raw_ip_and_garbage_never_raise():
    import random

    from netkit.packets._summary import summary

    rng = random.Random(7)
    for _ in range(3000):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80)))
        for linktype in (1, 101):
            line = summary(data, linktype)
            assert isinstance(line, str) and line.isprintable()


def test_hop_names_are_escaped_and_bounded_in_time(monkeypatch):
    import socket as socket_module
    import threading
    import time

    from netkit.packets import _trace

    result, _ = _hostile_trace()
    release = threading.Event()

    def fake(address):
        if address == "192.0.2.9":
            release.wait(5)  # a resolver that hangs
            raise OSError("late")
        return ("evil\x1b]0;title\x07.example", [], [address])

    monkeypatch.setattr(socket_module, "gethostbyaddr", fake)
    start = time.monotonic()
    _trace.lookup_names(result, timeout=0.3)
    release.set()
    assert time.monotonic() - start < 2
    names = result.flows[0].names
    assert names["192.0.2.1"] == "evil\\x1b]0;title\\x07.example" and "192.0.2.9" not in names
