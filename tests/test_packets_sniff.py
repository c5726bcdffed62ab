"""``netkit packets sniff`` on a veth while the test sends known traffic through it
(tests/peers/packets_net.py), pcap files read back by tcpdump, malformed frames and
damaged pcap files."""

import socket
import struct
import subprocess
import sys
import time

import pytest

from tests.helpers import clean_env, run_netkit
from tests.peers.packets_net import send_frames, veth_pair

PORT, OTHER_PORT = 9999, 9998
HOSTILE_MAC = bytes.fromhex("026e6b777777")
# How long a capture may take to say it is listening.
READY_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def pair():
    with veth_pair() as network:
        yield network


class Sniffer:
    """``netkit packets sniff ARGS`` in the background, once it listens."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "netkit", "packets", "sniff", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(), text=True)
        line = self.proc.stderr.readline()  # "... listening on IFACE"; bounded by the -d every caller gives
        assert "listening on" in line, line + self.proc.stderr.read()

    def result(self):
        out, err = self.proc.communicate(timeout=READY_TIMEOUT)
        assert "Traceback" not in err, err
        return self.proc.returncode, out, err


def send_udp(pair, count, port=PORT, payload=b"hello"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((pair.gateway, 0))
        for i in range(count):
            s.sendto(payload + str(i).encode(), (pair.address, port))
        return s.getsockname()[1]


def test_lines_for_the_known_traffic_only(pair):
    sniffer = Sniffer("-i", pair.root_if, "-c", 5, "-d", 10, "udp", "dst", "port", PORT)
    sport = send_udp(pair, 3, OTHER_PORT)  # not matched: the filter runs in the kernel
    sport = send_udp(pair, 5)
    code, out, err = sniffer.result()
    lines = out.splitlines()
    assert code == 0 and len(lines) == 5
    for line in lines:
        assert line.split(" ", 1)[1] == f"IP {pair.gateway}.{sport} > {pair.address}.{PORT}: UDP, length 6"
    assert "5 packets captured" in err and "dropped by kernel" in err


def test_pcap_is_read_back_by_tcpdump_and_by_us(pair, tmp_path):
    pcap = tmp_path / "known.pcap"
    sniffer = Sniffer("-i", pair.root_if, "-c", 20, "-d", 10, "-w", pcap, "udp port", PORT)
    sport = send_udp(pair, 20, payload=b"x" * 100)
    code, out, _ = sniffer.result()
    assert code == 0 and out == ""
    proc = subprocess.run(["tcpdump", "-n", "-r", str(pcap)], capture_output=True, text=True, timeout=30,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 20
    assert all(f"IP {pair.gateway}.{sport} > {pair.address}.{PORT}: UDP, length 10" in line for line in lines)
    code, out, _ = run_netkit("packets", "sniff", "-r", pcap, "-c", 3)
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run_netkit("packets", "sniff", "-r", pcap, "udp", "port", OTHER_PORT)
    assert code == 0 and out == ""  # the filter applies to a file too
    code, out, _ = run_netkit("packets", "sniff", "-r", pcap, "-c", 1, "--show")
    assert code == 0 and "###[ UDP ]###" in out and f"dport     = {PORT}" in out


def _frame(payload, kind=0x0800):
    return b"\x02\x00\x00\x00\x00\x01" + HOSTILE_MAC + struct.pack("!H", kind) + payload


def _ip(proto, body, ihl=5, total=None):
    total = 20 + len(body) if total is None else total
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, 0, 64, proto, 0, b"\xc6\x12\x00\x02",
                       b"\xc6\x12\x00\x01") + body


MALFORMED = [
    _frame(b"\x45\x00"),                                                  # IP cut after 2 bytes
    _frame(_ip(6, b"\x00" * 20, ihl=15)),                                 # IHL 60 > what is there
    _frame(_ip(6, b"\x00" * 20, ihl=3)),                                  # IHL 12 < 20
    _frame(_ip(6, b"\x00" * 20, total=7)),                                # total length < header
    _frame(_ip(6, struct.pack("!HHIIBBHHH", 1, 2, 3, 4, 0x10, 2, 0, 0, 0))),  # TCP data offset 4
    _frame(_ip(6, b"\x00\x50\x00")),                                      # TCP cut
    _frame(_ip(17, b"\x00\x35")),                                         # UDP cut
    _frame(_ip(1, b"\x08")),                                              # ICMP cut
    _frame(b"\x00\x01\x08\x00\x06\x04\x00\x01" + b"\x00" * 5, 0x0806),      # ARP cut
    _frame(b"\x60\x00\x00\x00\x00\x10\x06\x40", 0x86DD),                  # IPv6 cut
    _frame(b"\x00" * 46, 0x88CC),                                         # LLDP: not dissected, named
]


def test_malformed_frames_fail_only_their_own_line(pair):
    sniffer = Sniffer("-i", pair.root_if, "-c", len(MALFORMED) + 1, "-d", 10, "ether", "src",
                      ":".join(f"{b:02x}" for b in HOSTILE_MAC))
    good = _frame(_ip(17, struct.pack("!HHHH", 1000, 2000, 12, 0) + b"ok!!"))
    send_frames(pair.namespace, MALFORMED + [good])
    code, out, _ = sniffer.result()
    lines = out.splitlines()
    assert code == 0 and len(lines) == len(MALFORMED) + 1, out
    words = [line.split(" ", 1)[1] for line in lines]
    assert words[0].startswith("IP truncated") and words[1].startswith("IP options truncated")
    assert words[2].startswith("IP bad header") and "bad total length 7" in words[3]
    assert "TCP bad header length 4" in words[4] and words[5].startswith("TCP truncated")
    assert words[6].startswith("UDP truncated") and words[7].startswith("ICMP truncated")
    assert words[8].startswith("ARP truncated") and words[9].startswith("IP6 truncated")
    assert "ethertype 0x88cc" in words[10]  # (a cut 802.1Q tag is dropped by the kernel: a unit test has it)
    assert words[11] == "IP 198.18.0.2.1000 > 198.18.0.1.2000: UDP, length 4"


def _pcap(records, linktype=1):
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    body = b"".join(struct.pack("<IIII", int(time.time()), 0, len(r), len(r)) + r for r in records)
    return head + body


def test_damaged_pcap_files(tmp_path):
    good = _frame(_ip(17, struct.pack("!HHHH", 1000, 2000, 12, 0) + b"ok!!"))
    lying = tmp_path / "lying.pcap"
    lying.write_bytes(_pcap([good]) + struct.pack("<IIII", 0, 0, 10 << 20, 10 << 20) + b"xx")
    code, out, err = run_netkit("packets", "sniff", "-r", lying)
    assert code == 1 and len(out.splitlines()) == 1 and "claims 10485760 bytes" in err
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(_pcap([good, good])[:-10])
    code, out, err = run_netkit("packets", "sniff", "-r", cut)
    assert code == 1 and len(out.splitlines()) == 1 and "ends inside record 2" in err
    other = tmp_path / "not.pcap"
    other.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)
    code, out, err = run_netkit("packets", "sniff", "-r", other)
    assert code == 2 and "pcapng" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("args, words", [
    (["-i", "nosuch0", "-d", "1"], "no interface 'nosuch0'"), (["-c", "0"], "--count"),
    (["-r", "/nonexistent.pcap"], "No such file"), (["-w", "/nonexistent/x.pcap"], "no such directory"),
    (["-i", "lo", "-d", "1", "tcp", "port", "banana"], "bad filter"), (["-w", "x.pcap", "--show"], "choose one"),
    (["-r", "a.pcap", "-i", "lo"], "live capture"), (["-i", "lo", "-d", "1", "port 1\n"], "CR, LF or NUL"),
])
def test_bad_input_is_one_line(args, words):
    code, out, err = run_netkit("packets", "sniff", *args)
    assert code == 2 and out == "" and words in err and len(err.splitlines()) == 1, err


def test_without_cap_net_raw_one_line_names_it(pair):
    proc = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw", "--", sys.executable, "-m",
                           "netkit", "packets", "sniff", "-i", pair.root_if, "-c", "1"], capture_output=True,
                          text=True, timeout=30, env=clean_env(), check=False)
    assert proc.returncode == 1 and proc.stdout == "" and len(proc.stderr.splitlines()) == 1
    assert "CAP_NET_RAW" in proc.stderr and "setcap" in proc.stderr and "Traceback" not in proc.stderr


def test_a_capture_that_cannot_start_leaves_no_file(pair, tmp_path):
    out = tmp_path / "never.pcap"
    for args in (["-i", "nosuch0"], ["-i", pair.root_if, "tcp", "port", "banana"]):
        code, _, err = run_netkit("packets", "sniff", *args, "-w", out, "-d", "1")
        assert code == 2 and not out.exists(), err
    proc = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw", "--", sys.executable, "-m",
                           "netkit", "packets", "sniff", "-i", pair.root_if, "-w", str(out), "-d", "1"],
                          capture_output=True, text=True, timeout=30, env=clean_env(), check=False)
    assert proc.returncode == 1 and "CAP_NET_RAW" in proc.stderr and not out.exists()


def test_duration_bounds_a_capture_of_packets_spread_over_blocks(pair):
    """Packets 100 ms apart land in separate ring blocks (each handed over after 20 ms):
    a capture bounded by -d only, not -c, prints every one and ends on time."""
    sniffer = Sniffer("-i", pair.root_if, "-d", 2, "udp", "dst", "port", PORT)
    for _ in range(4):
        send_udp(pair, 1)
        time.sleep(0.1)
    code, out, err = sniffer.result()
    assert code == 0 and len(out.splitlines()) == 4 and "4 packets captured" in err, out + err
