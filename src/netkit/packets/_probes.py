"""The traceroute engine of :mod:`netkit.packets._trace`: probes packed with struct, the
answers matched back to them, and the rule of how long a probe waits.

Every probe carries its number: in the TCP sequence (a SYN-ACK or RST acknowledges it + 1,
an ICMP error quotes it), in the ICMP echo sequence, and in the IP id (quoted by an ICMP
error: the UDP probe's only carrier). An answer that is short, malformed, quotes a packet
we did not send, or names no probe of ours is counted as ignored and changes nothing.
"""

import os
import socket
import struct
import time

__all__ = ["SO_TIMESTAMPNS", "Tracer", "receive"]

# Once a later hop of the flow answered in r seconds, an earlier probe waits NEAR*r more
# (traceroute's NEAR is 10, its HERE 3): the later answer travelled farther, so the earlier
# router's is normally in already; 3 round trips plus the floor cover a router slow to make
# ICMP, and the floor keeps a loaded machine's scheduling from turning answers into '*'.
NEAR = 3.0
NEAR_FLOOR = 0.05
# TTLs a flow has in flight at once (traceroute sends 16 probes at once: ~5 TTLs of 3).
WINDOW = 8
# Probes unanswered at once, over all flows: each answer queued in a raw socket costs ~1 KiB
# of its receive buffer (default ~200 KiB without CAP_NET_ADMIN to raise it), and routers
# rate-limit their ICMP in bursts of ~50: a wider burst loses answers and shows '*'.
MAX_IN_FLIGHT = 96
READ_BATCH = 256
ICMP_ECHO_REPLY, ICMP_UNREACH, ICMP_ECHO, ICMP_TIME_EXCEEDED = 0, 3, 8, 11
TCP_SYN, TCP_RST, TCP_ACK = 0x02, 0x04, 0x10
SO_TIMESTAMPNS = 35


class _Probe:
    __slots__ = ("answer", "deadline", "flow", "index", "sent", "ttl")

    def __init__(self, index, flow, ttl, sent, deadline):
        self.index, self.flow, self.ttl, self.sent, self.deadline = index, flow, ttl, sent, deadline
        self.answer = None  # (address, rtt, kind, final?)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(src, dst, ttl, proto, ident, payload) -> bytes:
    # total length and checksum are filled in by the kernel (raw(7)); the id is ours
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, ttl, proto, 0, src, dst) + payload


def _tcp_syn(src, dst, sport, dport, seq) -> bytes:
    options = struct.pack("!BBH", 2, 4, 1460)  # MSS: a SYN without options is dropped by some firewalls
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (5 + len(options) // 4) << 4, TCP_SYN, 64240, 0, 0)
    segment = head + options
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(segment))
    return segment[:16] + struct.pack("!H", _checksum(pseudo + segment)) + segment[18:]


def _udp(sport, dport) -> bytes:
    payload = b"netkit-trace\0\0\0\0"
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload  # checksum 0: none (IPv4)


def _echo(ident, seq) -> bytes:
    body = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, ident, seq) + b"netkit-trace...."
    return body[:2] + struct.pack("!H", _checksum(body)) + body[4:]


class Tracer:
    """One run: the sockets, the probes, and the reading of answers."""

    def __init__(self, flows, method, first_ttl, max_ttl, queries, wait):
        self.flows, self.method = flows, method
        self.first_ttl, self.max_ttl, self.queries, self.wait = first_ttl, max_ttl, queries, wait
        self.probes = []
        self.seq_base = struct.unpack("!I", os.urandom(4))[0] & 0x7FFFFFFF
        self.id_base = struct.unpack("!H", os.urandom(2))[0]
        self.echo_id = os.getpid() & 0xFFFF
        self.by_flow = {i: {"next": first_ttl, "limit": max_ttl, "open": []} for i in range(len(flows))}
        self.ignored = 0

    # -- numbering: which probe an answer is about
    def _probe(self, index, flow_index=None):
        index &= 0xFFFFFFFF
        if 0 <= index < len(self.probes):
            probe = self.probes[index]
            if flow_index is None or probe.flow == flow_index:
                return probe
        return None

    def send_all(self, sock, src, sport, clock):
        """Send each flow's next TTLs while it has fewer than WINDOW in flight, and all flows
        fewer than MAX_IN_FLIGHT probes."""
        in_flight = sum(len(s["open"]) for s in self.by_flow.values())
        for i, flow in enumerate(self.flows):
            state = self.by_flow[i]
            while state["next"] <= state["limit"] and in_flight + self.queries <= MAX_IN_FLIGHT and \
                    len({p.ttl for p in state["open"] if p.ttl <= state["limit"]}) < WINDOW:
                in_flight += self.queries
                ttl = state["next"]
                state["next"] += 1
                dst = socket.inet_aton(flow.address)
                for _ in range(self.queries):
                    index = len(self.probes)
                    ident = (self.id_base + index) & 0xFFFF or 1
                    if self.method == "tcp":
                        packet = _ip(src, dst, ttl, socket.IPPROTO_TCP, ident,
                                     _tcp_syn(src, dst, sport, flow.port, (self.seq_base + index) & 0xFFFFFFFF))
                    elif self.method == "udp":
                        packet = _ip(src, dst, ttl, socket.IPPROTO_UDP, ident, _udp(sport, flow.port))
                    else:
                        packet = _ip(src, dst, ttl, socket.IPPROTO_ICMP, ident, _echo(self.echo_id, index & 0xFFFF))
                    now = clock()  # before: on a veth the answer is stamped inside sendto()
                    sock.sendto(packet, (flow.address, 0))
                    probe = _Probe(index, i, ttl, now, now + self.wait)
                    self.probes.append(probe)
                    state["open"].append(probe)

    def answered(self, probe, address, stamp, kind, final):
        if probe.answer is not None:
            return
        rtt = max(0.0, stamp - probe.sent)
        probe.answer = (address, rtt, kind)
        state = self.by_flow[probe.flow]
        if final and probe.ttl < state["limit"]:
            state["limit"] = probe.ttl  # the destination (or an unreachable) is this far
            flow = self.flows[probe.flow]
            flow.final = kind
            flow.reached = address == flow.address
        elif final and probe.ttl == state["limit"] and not self.flows[probe.flow].final:
            self.flows[probe.flow].final = kind
            self.flows[probe.flow].reached = address == self.flows[probe.flow].address
        for other in state["open"]:
            if other.ttl < probe.ttl and other.answer is None:
                other.deadline = min(other.deadline, stamp + max(NEAR * rtt, NEAR_FLOOR))

    def done(self, now) -> bool:
        finished = True
        for state in self.by_flow.values():
            state["open"] = [p for p in state["open"] if p.answer is None and p.ttl <= state["limit"]
                             and p.deadline > now]
            if state["open"] or state["next"] <= state["limit"]:
                finished = False
        return finished

    def next_deadline(self):
        deadlines = [p.deadline for s in self.by_flow.values() for p in s["open"]]
        return min(deadlines) if deadlines else None

    # -- answers
    def on_icmp(self, packet: bytes, stamp: float, src: bytes) -> None:
        ihl = _ihl(packet, 8)
        if ihl is None:
            self.ignored += 1
            return
        sender = socket.inet_ntoa(packet[12:16])
        kind, code = packet[ihl], packet[ihl + 1]
        if kind == ICMP_ECHO_REPLY:
            ident, seq = struct.unpack_from("!HH", packet, ihl + 4)
            probe = self._echo_probe(ident, seq)
            if probe is None:
                self.ignored += 1
                return
            self.answered(probe, sender, stamp, "echo-reply", True)
            return
        if kind not in (ICMP_TIME_EXCEEDED, ICMP_UNREACH):
            self.ignored += 1
            return
        inner = ihl + 8
        inner_ihl = _ihl(packet[inner:], 8)  # the quoted probe: its IP header and 8 bytes at least
        if inner_ihl is None or packet[inner + 12:inner + 16] != src:
            self.ignored += 1
            return
        proto = packet[inner + 9]
        probe = self._quoted_probe(packet, inner, inner + inner_ihl, proto)
        if probe is None or socket.inet_aton(self.flows[probe.flow].address) != packet[inner + 16:inner + 20]:
            self.ignored += 1
            return
        if kind == ICMP_TIME_EXCEEDED:
            self.answered(probe, sender, stamp, "time-exceeded", False)
        elif code == 3 and self.method == "udp":
            self.answered(probe, sender, stamp, "port-unreachable", True)
        else:
            names = {0: "net-unreachable", 1: "host-unreachable", 2: "protocol-unreachable", 3: "port-unreachable",
                     9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"}
            self.answered(probe, sender, stamp, names.get(code, f"unreachable-{code}"), True)

    def _echo_probe(self, ident, seq):
        if ident != self.echo_id:
            return None
        # the 16-bit sequence: the newest probe with it (fewer than 65536 probes per run)
        return self._probe(seq) if seq < len(self.probes) else None

    def _quoted_probe(self, packet, inner, l4, proto):
        if proto == socket.IPPROTO_TCP and self.method == "tcp":
            seq = struct.unpack_from("!I", packet, l4 + 4)[0]
            probe = self._probe(seq - self.seq_base)
            ports_ok = probe is not None and struct.unpack_from("!H", packet, l4 + 2)[0] == self.flows[probe.flow].port
            return probe if ports_ok else None
        if proto == socket.IPPROTO_UDP and self.method == "udp":
            ident = struct.unpack_from("!H", packet, inner + 4)[0]
            probe = self._probe((ident - self.id_base) & 0xFFFF)
            ports_ok = probe is not None and struct.unpack_from("!H", packet, l4 + 2)[0] == self.flows[probe.flow].port
            return probe if ports_ok else None
        if proto == socket.IPPROTO_ICMP and self.method == "icmp" and packet[l4] == ICMP_ECHO:
            ident, seq = struct.unpack_from("!HH", packet, l4 + 4)
            return self._echo_probe(ident, seq)
        return None

    def on_tcp(self, packet: bytes, stamp: float, sport: int) -> None:
        ihl = _ihl(packet, 20)
        if ihl is None:
            self.ignored += 1
            return
        src_port, dst_port, _, ack = struct.unpack_from("!HHII", packet, ihl)
        flags = packet[ihl + 13]
        probe = self._probe(ack - 1 - self.seq_base)
        sender = socket.inet_ntoa(packet[12:16])
        if dst_port != sport or probe is None or not flags & TCP_ACK or \
                (self.flows[probe.flow].port, self.flows[probe.flow].address) != (src_port, sender):
            self.ignored += 1
            return
        if flags & TCP_RST:
            self.answered(probe, sender, stamp, "RST", True)
        elif flags & TCP_SYN:
            self.answered(probe, sender, stamp, "SYN-ACK", True)
        else:
            self.ignored += 1


def _ihl(packet: bytes, after: int):
    """The header length of the IPv4 packet ``packet`` when it is one and holds ``after``
    bytes past its header, else None."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    return ihl if ihl >= 20 and len(packet) >= ihl + after else None


def receive(sock, handler, *args) -> None:
    for _ in range(READ_BATCH):
        try:
            data, ancillary, _, _ = sock.recvmsg(65535, 64)
        except (BlockingIOError, InterruptedError):
            return
        stamp = time.time()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanos = struct.unpack_from("qq", value)
                stamp = seconds + nanos / 1e9  # when the kernel received it: RTTs unskewed by our scheduling
        handler(data, stamp, *args)
