"""A DNS query built by hand (scapy's ``DNS(rd=1, qd=DNSQR(...))``), sent to one server,
and its whole answer decoded: header flags, every section, TTLs -- what ``sr1()`` shows,
as a typed result.

The reply is hostile: :func:`check_message` walks its skeleton strictly first (header,
counts, every owner name with its compression pointers, every RDLENGTH) and refuses a
message that lies (a count past the end, a pointer loop or one pointing forward, a name
over 255 bytes); only then does scapy dissect it. A reply with another id or question is
not ours (a late or spoofed datagram) and is ignored. Names are shown with control
characters escaped.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass

from netkit.core.errors import ProtocolError, RefusedError, TimedOut, UsageError

__all__ = ["DnsRecord", "DnsReply", "check_message", "dns_query", "parse_type", "system_server"]

DEFAULT_TIMEOUT = 5.0  # dig's
ATTEMPTS = 3           # UDP sends within the timeout, as dig +tries=3
MAX_NAME = 255         # RFC 1035: a name on the wire is at most 255 bytes
MAX_POINTERS = 64      # more jumps in one name than it could have labels is a loop
MAX_MESSAGE = 65535    # the TCP length prefix's limit; a UDP datagram is smaller
MAX_IGNORED = 64       # datagrams not ours before we stop listening: a flood, not an answer
FLAG_NAMES = ("qr", "aa", "tc", "rd", "ra", "ad", "cd")
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
          7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE"}
SECTIONS = ("question", "answer", "authority", "additional")


@dataclass
class DnsRecord:
    name: str
    type: str
    rclass: str
    ttl: int | None = None  # None in the question section
    data: str = ""

    def to_text(self) -> str:
        if self.ttl is None:
            return f";{self.name}\t\t{self.rclass}\t{self.type}"
        return f"{self.name}\t{self.ttl}\t{self.rclass}\t{self.type}\t{self.data}"

    def to_dict(self) -> dict:
        out: dict[str, object] = {"name": self.name, "type": self.type, "class": self.rclass}
        if self.ttl is not None:
            out.update(ttl=self.ttl, data=self.data)
        return out


@dataclass
class DnsReply:
    server: str
    port: int
    transport: str
    id: int
    opcode: str
    rcode: str
    flags: list
    counts: dict
    sections: dict
    rtt: float
    size: int
    layered: str = ""  # scapy's show() of the reply, escaped
    ignored: int = 0

    def to_text(self) -> str:
        """As dig prints it: the header, each section with its records, where it came from;
        scapy's layered view after it when asked for."""
        counts = self.counts
        lines = [f";; ->>HEADER<<- opcode: {self.opcode}, status: {self.rcode}, id: {self.id}",
                 f";; flags: {' '.join(self.flags)}; QUERY: {counts['question']}, ANSWER: {counts['answer']}, "
                 f"AUTHORITY: {counts['authority']}, ADDITIONAL: {counts['additional']}"]
        for section in SECTIONS:
            if self.sections[section]:
                lines += ["", f";; {section.upper()} SECTION:"] + [r.to_text() for r in self.sections[section]]
        lines += ["", f";; SERVER: {self.server}#{self.port} ({self.transport}) in {self.rtt * 1000:.2f} ms, "
                      f"{self.size} bytes"]
        if self.layered:
            lines += ["", self.layered.rstrip("\n")]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"server": self.server, "port": self.port, "transport": self.transport, "id": self.id,
                "opcode": self.opcode, "rcode": self.rcode, "flags": self.flags, "counts": self.counts,
                **{s: [r.to_dict() for r in self.sections[s]] for s in SECTIONS},
                "rtt_ms": round(self.rtt * 1000, 3), "size": self.size}


def parse_type(text: str) -> int:
    """``MX``, ``mx``, ``TYPE65`` or ``15`` -> the type number; UsageError otherwise."""
    from scapy.layers.dns import dnstypes

    from netkit.core.text import is_digits

    word = str(text).strip().upper()
    by_name = {v: k for k, v in dnstypes.items()}
    if word in by_name:
        return by_name[word]
    digits = word.removeprefix("TYPE")
    if is_digits(digits) and 0 < int(digits) < 65536:
        return int(digits)
    common = "A AAAA CNAME MX NS PTR SOA SRV TXT CAA ANY"
    raise UsageError(f"unknown record type {text!r}; e.g. {common}, or TYPEnnn")


def system_server() -> str:
    """The first nameserver of /etc/resolv.conf (127.0.0.1 when there is none, as glibc)."""
    try:
        with open("/etc/resolv.conf") as f:
            for line in f.read(1 << 16).splitlines():
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    return words[1].partition("%")[0]
    except OSError:
        pass
    return "127.0.0.1"


# --- the strict walk ---------------------------------------------------------------------


def _skip_name(data: bytes, offset: int, what: str) -> int:
    """The offset after the name at ``offset``; ProtocolError for a malformed one."""
    end = None
    length = 0
    jumps = 0
    position = offset
    while True:
        if position >= len(data):
            raise ProtocolError(f"{what}: the name runs past the end of the message")
        byte = data[position]
        if byte & 0xC0 == 0xC0:
            if position + 1 >= len(data):
                raise ProtocolError(f"{what}: a compression pointer is cut off")
            target = ((byte & 0x3F) << 8) | data[position + 1]
            if end is None:
                end = position + 2
            if target >= position:  # a compressor only points back: forward or self is a loop
                raise ProtocolError(f"{what}: a compression pointer to offset {target} points forward (a loop)")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise ProtocolError(f"{what}: more than {MAX_POINTERS} compression pointers in one name")
            position = target
            continue
        if byte & 0xC0:
            raise ProtocolError(f"{what}: label type {byte >> 6:#x} is not defined")
        length += byte + 1
        if length > MAX_NAME:
            raise ProtocolError(f"{what}: the name is longer than {MAX_NAME} bytes")
        if byte == 0:
            return end if end is not None else position + 1
        position += byte + 1


def check_message(data: bytes) -> dict:
    """{section: count} of a DNS message whose every count, name and length holds up;
    ProtocolError naming the first lie."""
    if len(data) < 12:
        raise ProtocolError(f"the reply is {len(data)} bytes, shorter than a DNS header (12)")
    counts = dict(zip(SECTIONS, struct.unpack_from("!4H", data, 4)))
    offset = 12
    for section, count in counts.items():
        for i in range(count):
            what = f"{section} record {i + 1} of {count}"
            if offset >= len(data):
                raise ProtocolError(f"the header counts {count} {section} records; the message ends before "
                                    f"record {i + 1}")
            offset = _skip_name(data, offset, what)
            fixed = 4 if section == "question" else 10
            if offset + fixed > len(data):
                raise ProtocolError(f"{what} is cut off")
            if section != "question":
                rdlength = struct.unpack_from("!H", data, offset + 8)[0]
                if offset + fixed + rdlength > len(data):
                    raise ProtocolError(f"{what}: its data length {rdlength} runs past the end of the message")
                offset += rdlength
            offset += fixed
    return counts


# --- decoding ----------------------------------------------------------------------------


def _text(value) -> str:
    from netkit.core.text import for_terminal

    if isinstance(value, (bytes, bytearray)):
        return for_terminal(bytes(value))
    return for_terminal(str(value))


def _quoted(chunk: bytes) -> str:
    out = []
    for b in chunk:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")  # the zone-file escape: never a control byte
    return '"' + "".join(out) + '"'


def _rdata(rr) -> str:
    from scapy.layers import dns

    kind = type(rr).__name__
    if isinstance(rr, dns.DNSRRMX):
        return f"{rr.preference} {_text(rr.exchange)}"
    if isinstance(rr, dns.DNSRRSOA):
        return " ".join([_text(rr.mname), _text(rr.rname)] + [str(getattr(rr, f)) for f in
                                                             ("serial", "refresh", "retry", "expire", "minimum")])
    if isinstance(rr, dns.DNSRRSRV):
        return f"{rr.priority} {rr.weight} {rr.port} {_text(rr.target)}"
    if kind == "DNSRR":
        value = rr.rdata
        if rr.type in (16, 99):  # TXT, SPF: character strings
            return " ".join(_quoted(bytes(c)) for c in (value or []))
        if rr.type in (1, 28, 2, 5, 12, 39):  # A AAAA NS CNAME PTR DNAME
            return _text(value)
        raw = bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode()
        if rr.type == 257 and len(raw) >= 2 and 2 + raw[1] <= len(raw):  # CAA: flags, tag, value
            return f"{raw[0]} {_quoted(raw[2:2 + raw[1]])[1:-1]} {_quoted(raw[2 + raw[1]:])}"
        return f"\\# {len(raw)} {raw.hex()}"  # RFC 3597's form for what is not decoded here
    raw = bytes(rr)[-rr.rdlen:] if rr.rdlen else b""  # DNSKEY, DS, RRSIG, HTTPS...: the bytes as sent
    return f"\\# {len(raw)} {raw.hex()}"


def _records(layer, section) -> list:
    from scapy.layers.dns import dnsclasses, dnstypes

    out = []
    for rr in layer or []:
        name = _text(rr.qname if section == "question" else rr.rrname)
        rtype = rr.qtype if section == "question" else rr.type
        rclass = rr.qclass if section == "question" else rr.rclass
        kind = dnstypes.get(rtype, f"TYPE{rtype}")
        klass = dnsclasses.get(rclass, f"CLASS{rclass}") if kind != "OPT" else str(rclass)
        if section == "question":
            out.append(DnsRecord(name, kind, klass))
        else:
            out.append(DnsRecord(name, kind, klass, rr.ttl, _rdata(rr)))
    return out


def decode(data: bytes, server, port, transport, rtt, show=False) -> DnsReply:
    """The reply ``data`` as a DnsReply; ProtocolError when it is malformed."""
    counts = check_message(data)
    import logging

    logging.getLogger("scapy").setLevel(logging.ERROR)  # its warnings would go to our stderr
    from scapy.layers.dns import DNS

    try:
        message = DNS(data)
        flags = [f for f in FLAG_NAMES if getattr(message, f, 0)]
        sections = {s: _records(getattr(message, key), s) for s, key in zip(SECTIONS, ("qd", "an", "ns", "ar"))}
        layered = _text_block(message.show(dump=True) or "") if show else ""
    except ProtocolError:
        raise
    except Exception as exc:  # noqa: BLE001 - scapy on a peer's bytes: anything it raises is this reply's fault
        raise ProtocolError(f"the reply could not be decoded: {type(exc).__name__}: {_text(exc)}") from None
    opcodes = {0: "QUERY", 1: "IQUERY", 2: "STATUS", 4: "NOTIFY", 5: "UPDATE"}
    rcode = RCODES.get(message.rcode, f"RCODE{message.rcode}")
    return DnsReply(server, port, transport, message.id, opcodes.get(message.opcode, str(message.opcode)), rcode,
                    flags, counts, sections, rtt, len(data), layered)


def _text_block(text: str) -> str:
    from netkit.core.text import for_terminal

    return for_terminal(text, keep_newlines=True)


# --- the exchange ------------------------------------------------------------------------


def build_query(name: str, qtype: int, query_id: int, recurse: bool = True) -> bytes:
    from scapy.layers.dns import DNS, DNSQR

    return bytes(DNS(id=query_id, rd=int(recurse), qd=DNSQR(qname=name, qtype=qtype)))


def _ours(data: bytes, query: bytes) -> bool:
    """The reply answers ``query``: same id, QR set, the same question (names compared
    without case, as servers may change it: 0x20 encoding)."""
    if len(data) < len(query) or data[:2] != query[:2] or not data[2] & 0x80:
        return False
    return data[12:len(query)].lower() == query[12:].lower() and data[4:6] == query[4:6]


def dns_query(name: str, qtype: int, server: str, port: int = 53, *, timeout: float = DEFAULT_TIMEOUT,
              tcp: bool = False, recurse: bool = True, show: bool = False) -> DnsReply:
    """Ask ``server`` for ``name``/``qtype`` over UDP (TCP when asked, or when the UDP reply
    is truncated, as dig does); NetError subclasses for no answer or a malformed one."""
    query_id = struct.unpack("!H", os.urandom(2))[0]
    query = build_query(name, qtype, query_id, recurse)
    try:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        address = socket.getaddrinfo(server, port, family, socket.SOCK_DGRAM)[0][4]
    except (socket.gaierror, UnicodeError) as exc:
        from netkit.core.errmap import lookup_error

        raise lookup_error(exc, server) from None
    deadline = time.monotonic() + timeout
    if not tcp:
        reply = _udp(query, family, address, deadline, timeout, server, port, show)
        if "tc" not in reply.flags:
            return reply
    return _tcp(query, family, address, deadline, server, port, show)


def _udp(query, family, address, deadline, timeout, server, port, show) -> DnsReply:
    ignored = 0
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        where = _where(server, port)
        try:
            sock.connect(address)  # only the server's address and port are received
        except OSError as exc:
            raise _mapped(exc, where, "connect") from None
        for attempt in range(ATTEMPTS):
            sent = time.monotonic()
            try:
                sock.send(query)
            except OSError as exc:
                raise _mapped(exc, where, "read", doing=f"sending to {where}") from None
            until = min(deadline, sent + timeout / ATTEMPTS) if attempt < ATTEMPTS - 1 else deadline
            while (left := until - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    data = sock.recv(MAX_MESSAGE)
                except TimeoutError:
                    break
                except OSError as exc:  # refused: ICMP port unreachable
                    raise _mapped(exc, where, "read") from None
                if not _ours(data, query):
                    ignored += 1
                    if ignored > MAX_IGNORED:
                        raise ProtocolError(f"{server}:{port} sent {ignored} datagrams that do not answer the query")
                    continue
                reply = decode(data, server, port, "UDP", time.monotonic() - sent, show)
                reply.ignored = ignored
                return reply
    also = f"; {ignored} datagrams from it did not answer the query (another id or question, or cut short)" \
        if ignored else ""
    raise TimedOut(f"no answer from {server}:{port} in {timeout:g} s ({ATTEMPTS} tries over UDP){also}",
                   phase="total")


def _tcp(query, family, address, deadline, server, port, show) -> DnsReply:
    start = time.monotonic()
    try:
        with socket.create_connection(address[:2], timeout=max(0.01, deadline - start)) as sock:
            sock.sendall(struct.pack("!H", len(query)) + query)
            size = struct.unpack("!H", _exactly(sock, 2, deadline))[0]
            data = _exactly(sock, size, deadline)
    except TimeoutError:
        raise TimedOut(f"no answer from {server}:{port} over TCP in time", phase="total") from None
    except OSError as exc:
        raise _mapped(exc, f"{_where(server, port)} (TCP)", "read") from None
    if not _ours(data, query):
        raise ProtocolError(f"{server}:{port} answered another query over TCP (id or question differ)")
    return decode(data, server, port, "TCP", time.monotonic() - start, show)


def _where(server, port) -> str:
    from netkit.core.target import bracket

    return f"{bracket(server)}:{port}"


def _mapped(exc, where, phase, doing=None):
    from netkit.core.errmap import hinted, map_error

    error = map_error(exc, where, phase, doing=doing)
    if isinstance(error, RefusedError) and error is not exc:  # on UDP, an ICMP port unreachable
        hinted(error, ": no DNS server there")
    return error


def _exactly(sock, size, deadline) -> bytes:
    chunks, got = [], 0
    while got < size:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(size - got)
        if not chunk:
            raise ProtocolError(f"the server closed the connection after {got} of {size} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
