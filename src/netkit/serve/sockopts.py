"""The socket options this platform has: name, level, what each means, how to read one.

Built from the tables of the socket reference in the source texts (SOL_SOCKET,
IPPROTO_IP, IPPROTO_IPV6, SOL_TCP), keeping only the names the running Python's
``socket`` module defines, so ``netkit sockopt list`` shows what this machine has.
"""

import socket
import struct

__all__ = ["SockOpt", "available", "find", "parse_assignment", "read", "apply", "LEVELS"]

LEVELS = {"socket": socket.SOL_SOCKET, "ip": socket.IPPROTO_IP, "ipv6": socket.IPPROTO_IPV6,
          "tcp": socket.IPPROTO_TCP}

# (level, name, kind, meaning). kind: "bool", "int", "linger" (on, seconds), "timeval"
# (seconds), "bytes".
_TABLE = (
    ("socket", "SO_REUSEADDR", "bool", "bind a port still in TIME_WAIT (servers restart at once)"),
    ("socket", "SO_REUSEPORT", "bool", "several sockets bind one port; the kernel spreads connections"),
    ("socket", "SO_KEEPALIVE", "bool", "probe idle connections to find dead peers"),
    ("socket", "SO_BROADCAST", "bool", "allow sending UDP to broadcast addresses"),
    ("socket", "SO_DONTROUTE", "bool", "send only to directly connected networks"),
    ("socket", "SO_OOBINLINE", "bool", "put urgent (out-of-band) data in the normal stream"),
    ("socket", "SO_LINGER", "linger", "on close, wait up to N seconds for unsent data (0: reset)"),
    ("socket", "SO_RCVBUF", "int", "receive buffer size in bytes"),
    ("socket", "SO_SNDBUF", "int", "send buffer size in bytes"),
    ("socket", "SO_RCVLOWAT", "int", "bytes needed before a read returns"),
    ("socket", "SO_SNDLOWAT", "int", "free space needed before a write proceeds"),
    ("socket", "SO_RCVTIMEO", "timeval", "receive timeout in seconds (0: none)"),
    ("socket", "SO_SNDTIMEO", "timeval", "send timeout in seconds (0: none)"),
    ("socket", "SO_TYPE", "int", "socket type (read only: 1 stream, 2 datagram)"),
    ("socket", "SO_ERROR", "int", "pending error, cleared when read (read only)"),
    ("socket", "SO_ACCEPTCONN", "bool", "the socket is listening (read only)"),
    ("socket", "SO_PRIORITY", "int", "priority of the packets sent (0-6 without privileges)"),
    ("socket", "SO_MARK", "int", "firewall mark for routing and filtering (needs CAP_NET_ADMIN)"),
    ("socket", "SO_BINDTODEVICE", "bytes", "bind to one network interface, e.g. eth0"),
    ("socket", "SO_INCOMING_CPU", "int", "the CPU that handles this socket's packets"),
    ("tcp", "TCP_NODELAY", "bool", "send small writes at once (no Nagle delay)"),
    ("tcp", "TCP_MAXSEG", "int", "maximum segment size in bytes"),
    ("tcp", "TCP_CORK", "bool", "hold partial frames until uncorked or 200 ms"),
    ("tcp", "TCP_KEEPIDLE", "int", "seconds idle before the first keepalive probe"),
    ("tcp", "TCP_KEEPINTVL", "int", "seconds between keepalive probes"),
    ("tcp", "TCP_KEEPCNT", "int", "unanswered probes before the connection is dropped"),
    ("tcp", "TCP_SYNCNT", "int", "SYN retransmits before connect gives up"),
    ("tcp", "TCP_LINGER2", "int", "seconds an orphaned connection stays in FIN_WAIT2"),
    ("tcp", "TCP_DEFER_ACCEPT", "int", "seconds to wait for data before waking accept"),
    ("tcp", "TCP_WINDOW_CLAMP", "int", "bound on the advertised window"),
    ("tcp", "TCP_QUICKACK", "bool", "acknowledge at once instead of delaying"),
    ("tcp", "TCP_USER_TIMEOUT", "int", "milliseconds unacknowledged data may wait before the connection drops"),
    ("tcp", "TCP_NOTSENT_LOWAT", "int", "unsent bytes that make the socket stop being writable"),
    ("tcp", "TCP_FASTOPEN", "int", "queue length for TCP Fast Open on a listening socket"),
    ("tcp", "TCP_CONGESTION", "bytes", "congestion control algorithm, e.g. cubic, bbr"),
    ("ip", "IP_TTL", "int", "time to live of packets sent"),
    ("ip", "IP_TOS", "int", "type of service / DSCP byte"),
    ("ip", "IP_HDRINCL", "bool", "the application builds IP headers (raw sockets)"),
    ("ip", "IP_OPTIONS", "bytes", "IP header options"),
    ("ip", "IP_RECVOPTS", "bool", "receive all IP options with datagrams"),
    ("ip", "IP_RECVTOS", "bool", "receive the TOS byte with datagrams"),
    ("ip", "IP_MULTICAST_TTL", "int", "time to live of multicast packets"),
    ("ip", "IP_MULTICAST_LOOP", "bool", "deliver our own multicast packets back to us"),
    ("ip", "IP_FREEBIND", "bool", "bind addresses not (yet) on this host"),
    ("ip", "IP_TRANSPARENT", "bool", "transparent proxying (needs CAP_NET_ADMIN)"),
    ("ip", "IP_BIND_ADDRESS_NO_PORT", "bool", "choose the source port at connect, not bind"),
    ("ipv6", "IPV6_V6ONLY", "bool", "an IPv6 socket takes only IPv6, not IPv4-mapped addresses"),
    ("ipv6", "IPV6_UNICAST_HOPS", "int", "hop limit of unicast packets"),
    ("ipv6", "IPV6_MULTICAST_HOPS", "int", "hop limit of multicast packets"),
    ("ipv6", "IPV6_MULTICAST_LOOP", "bool", "deliver our own multicast packets back to us"),
    ("ipv6", "IPV6_RECVPKTINFO", "bool", "receive destination address and interface with datagrams"),
    ("ipv6", "IPV6_TCLASS", "int", "traffic class byte"),
)
# Options Python's socket module does not name on every version, by their Linux numbers.
_LINUX_NUMBERS = {"SO_INCOMING_CPU": 49, "TCP_FASTOPEN": 23, "TCP_NOTSENT_LOWAT": 25, "IP_FREEBIND": 15,
                  "IP_TRANSPARENT": 19, "IP_BIND_ADDRESS_NO_PORT": 24, "TCP_CORK": 3}


class SockOpt:
    __slots__ = ("level_name", "name", "kind", "meaning", "level", "number")

    def __init__(self, level_name, name, kind, meaning, number):
        self.level_name = level_name
        self.name = name
        self.kind = kind
        self.meaning = meaning
        self.level = LEVELS[level_name]
        self.number = number

    @property
    def read_only(self) -> bool:
        return "(read only" in self.meaning


def available(level: str | None = None) -> list:
    """The options of ``level`` (all levels when None) that this platform has."""
    import sys

    found = []
    for level_name, name, kind, meaning in _TABLE:
        if level and level_name != level:
            continue
        number = getattr(socket, name, None)
        if number is None and sys.platform.startswith("linux"):
            number = _LINUX_NUMBERS.get(name)
        if number is not None:
            found.append(SockOpt(level_name, name, kind, meaning, number))
    return found


def find(name: str) -> SockOpt:
    """The option called ``name`` (case-insensitive; ``nodelay`` finds TCP_NODELAY)."""
    wanted = name.strip().upper().replace("-", "_")
    options = available()
    for opt in options:
        if opt.name == wanted or opt.name.split("_", 1)[1] == wanted:
            return opt
    import difflib

    close = difflib.get_close_matches(wanted, [o.name for o in options], n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]}?" if close else " (netkit sockopt list shows them)"
    raise ValueError(f"unknown socket option {name!r}{hint}")


# setsockopt() takes a C int for every integer option (and SO_LINGER's seconds).
_C_INT_MIN, _C_INT_MAX = -(2**31), 2**31 - 1


def _value(opt: SockOpt, text):
    if isinstance(text, bool):
        return int(text)
    if isinstance(text, int):
        return text
    text = str(text).strip()
    if opt.kind == "bytes":
        return text.encode()
    if opt.kind == "bool":
        lowered = text.lower()
        if lowered in ("1", "on", "yes", "true"):
            return 1
        if lowered in ("0", "off", "no", "false"):
            return 0
        raise ValueError(f"{opt.name} is on or off: write {opt.name}=1 or {opt.name}=0")
    if opt.kind == "timeval":  # a duration: the shared parser, bounded as every duration is
        from netkit.core.text import parse_seconds

        try:
            return parse_seconds(text, allow_zero=True)
        except ValueError as exc:
            raise ValueError(f"{opt.name} {exc}") from None
    try:
        number = int(text, 0)
    except ValueError:
        raise ValueError(f"{opt.name} takes a whole number, e.g. {opt.name}=60") from None
    if not _C_INT_MIN <= number <= _C_INT_MAX:
        raise ValueError(f"{opt.name} is out of range: the kernel takes a C int, at most {_C_INT_MAX}")
    return number


def parse_assignment(text: str):
    """``NAME=VALUE`` -> (SockOpt, value). ValueError names the mistake and the form."""
    name, eq, value = str(text).partition("=")
    if not eq or not name.strip():
        raise ValueError("expects NAME=VALUE, e.g. TCP_NODELAY=1 or SO_KEEPALIVE=1")
    opt = find(name)
    if opt.read_only:
        raise ValueError(f"{opt.name} can be read, not set")
    return opt, _value(opt, value)


def apply(sock, opt: SockOpt, value) -> None:
    if opt.kind == "linger":
        packed = struct.pack("ii", 1 if value >= 0 else 0, max(int(value), 0))
        sock.setsockopt(opt.level, opt.number, packed)
    elif opt.kind == "timeval":
        sock.setsockopt(opt.level, opt.number, struct.pack("ll", int(value), int((value % 1) * 1e6)))
    else:
        sock.setsockopt(opt.level, opt.number, value)


def read(sock, opt: SockOpt):
    """The option's value on ``sock`` (int, bool, seconds, text) or raises OSError."""
    if opt.kind == "linger":
        on, seconds = struct.unpack("ii", sock.getsockopt(opt.level, opt.number, 8))
        return seconds if on else "off"
    if opt.kind == "timeval":
        sec, usec = struct.unpack("ll", sock.getsockopt(opt.level, opt.number, 16))
        return sec + usec / 1e6
    if opt.kind == "bytes":
        raw = sock.getsockopt(opt.level, opt.number, 64)
        return raw.split(b"\0", 1)[0].decode("ascii", "replace")
    value = sock.getsockopt(opt.level, opt.number)
    return bool(value) if opt.kind == "bool" else value
