"""One tcpdump-like line per frame, from its bytes: Ethernet (and 802.1Q), ARP, IPv4, IPv6,
TCP, UDP, ICMP and ICMPv6 -- what a capture prints for every packet, so it is plain
struct, not scapy's dissection (~100 us a packet).

Every length is checked before it is used: a truncated or lying packet becomes a line
saying what is wrong with it (``IP truncated: ...``), never an exception, and the other
packets' lines are unaffected. Nothing from the packet reaches the line unformatted: it
holds numbers, addresses and fixed words only.
"""

import socket
import struct
import time

__all__ = ["summary", "timestamp"]

TCP_FLAGS = "FSRPAUEC"
ICMP_TYPES = {0: "echo reply", 3: "unreachable", 4: "source quench", 5: "redirect", 8: "echo request",
              11: "time exceeded", 12: "parameter problem", 13: "timestamp request", 14: "timestamp reply"}
UNREACH = {0: "net", 1: "host", 2: "protocol", 3: "port", 4: "need to fragment", 9: "net prohibited",
           10: "host prohibited", 13: "admin prohibited"}
ICMP6_TYPES = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 128: "echo request",
               129: "echo reply", 133: "router solicitation", 134: "router advertisement",
               135: "neighbor solicitation", 136: "neighbor advertisement"}


class Truncated(Exception):
    pass


def timestamp(seconds: int, nanos: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{nanos // 1000:06d}"


def _mac(raw) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _need(data, end, what):
    if len(data) < end:
        raise Truncated(f"{what} truncated: {len(data)} bytes, needs {end}")


def _tcp(data, at, src, dst, payload_end) -> str:
    _need(data, at + 20, "TCP")
    sport, dport, seq, ack, offset, flags, window = struct.unpack_from("!HHIIBBH", data, at)
    header = (offset >> 4) * 4
    if header < 20:
        return f"{src}.{sport} > {dst}.{dport}: TCP bad header length {header}"
    marks = "".join(c for i, c in enumerate(TCP_FLAGS) if flags & (1 << i))
    marks = marks.replace("A", "") + ("." if flags & 0x10 else "")
    length = max(0, payload_end - at - header)
    text = f"{src}.{sport} > {dst}.{dport}: Flags [{marks or 'none'}], seq {seq}"
    if flags & 0x10:
        text += f", ack {ack}"
    return text + f", win {window}, length {length}"


def _udp(data, at, src, dst) -> str:
    _need(data, at + 8, "UDP")
    sport, dport, length = struct.unpack_from("!HHH", data, at)
    return f"{src}.{sport} > {dst}.{dport}: UDP, length {max(0, length - 8)}"


def _icmp(data, at, src, dst, six=False) -> str:
    _need(data, at + 4, "ICMP6" if six else "ICMP")
    kind, code = data[at], data[at + 1]
    names = ICMP6_TYPES if six else ICMP_TYPES
    word = names.get(kind, f"type {kind}")
    if not six and kind == 3:
        word = f"{UNREACH.get(code, f'code {code}')} unreachable"
    if kind in ((128, 129) if six else (0, 8)) and len(data) >= at + 8:
        ident, seq = struct.unpack_from("!HH", data, at + 4)
        word += f", id {ident}, seq {seq}"
    return f"{src} > {dst}: {'ICMP6' if six else 'ICMP'} {word}, length {len(data) - at}"


def _ipv4(data, at) -> str:
    _need(data, at + 20, "IP")
    version_ihl, _, total, _, frag, ttl, proto = struct.unpack_from("!BBHHHBB", data, at)
    ihl = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or ihl < 20:
        return f"IP bad header: version {version_ihl >> 4}, header length {ihl}"
    _need(data, at + ihl, "IP options")
    src = socket.inet_ntoa(data[at + 12:at + 16])
    dst = socket.inet_ntoa(data[at + 16:at + 20])
    if total < ihl:
        return f"IP {src} > {dst}: bad total length {total}"
    end = min(len(data), at + total)
    if frag & 0x1FFF:
        return f"IP {src} > {dst}: fragment offset {(frag & 0x1FFF) * 8}, proto {proto}, ttl {ttl}"
    l4 = at + ihl
    if proto == 6:
        return "IP " + _tcp(data, l4, src, dst, end)
    if proto == 17:
        return "IP " + _udp(data, l4, src, dst)
    if proto == 1:
        return "IP " + _icmp(data[:end], l4, src, dst)
    return f"IP {src} > {dst}: proto {proto}, ttl {ttl}, length {total}"


def _ipv6(data, at) -> str:
    _need(data, at + 40, "IP6")
    payload, proto, hops = struct.unpack_from("!HBB", data, at + 4)
    src = socket.inet_ntop(socket.AF_INET6, data[at + 8:at + 24])
    dst = socket.inet_ntop(socket.AF_INET6, data[at + 24:at + 40])
    l4, end = at + 40, min(len(data), at + 40 + payload)
    if proto == 6:
        return "IP6 " + _tcp(data, l4, src, dst, end)
    if proto == 17:
        return "IP6 " + _udp(data, l4, src, dst)
    if proto == 58:
        return "IP6 " + _icmp(data[:end], l4, src, dst, six=True)
    return f"IP6 {src} > {dst}: next header {proto}, hop limit {hops}, length {payload}"


def _arp(data, at) -> str:
    _need(data, at + 8, "ARP")
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", data, at)
    if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4):
        return f"ARP, hardware {htype} protocol {ptype:#06x} lengths {hlen}/{plen}, op {op}"
    _need(data, at + 28, "ARP")
    sha, spa = data[at + 8:at + 14], socket.inet_ntoa(data[at + 14:at + 18])
    tpa = socket.inet_ntoa(data[at + 24:at + 28])
    if op == 1:
        return f"ARP, Request who-has {tpa} tell {spa}, length 28"
    if op == 2:
        return f"ARP, Reply {spa} is-at {_mac(sha)}, length 28"
    return f"ARP, op {op} {spa} > {tpa}"


def _ether(data) -> str:
    _need(data, 14, "Ethernet")
    kind = struct.unpack_from("!H", data, 12)[0]
    at = 14
    if kind == 0x8100:  # 802.1Q
        _need(data, 18, "802.1Q")
        kind = struct.unpack_from("!H", data, 16)[0]
        at = 18
    if kind == 0x0800:
        return _ipv4(data, at)
    if kind == 0x86DD:
        return _ipv6(data, at)
    if kind == 0x0806:
        return _arp(data, at)
    return f"{_mac(data[6:12])} > {_mac(data[0:6])}, ethertype {kind:#06x}, length {len(data)}"


def summary(data: bytes, linktype: int = 1) -> str:
    """One line for a frame of pcap ``linktype`` (1 Ethernet, 101 raw IP)."""
    try:
        if linktype == 101:
            if not data:
                return "empty packet"
            return _ipv4(data, 0) if data[0] >> 4 == 4 else _ipv6(data, 0)
        return _ether(data)
    except Truncated as exc:
        return str(exc)
    except (struct.error, ValueError, OSError, IndexError) as exc:  # a lie no check above foresaw
        return f"malformed packet ({type(exc).__name__})"
