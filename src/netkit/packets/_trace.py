"""Traceroute by TCP SYN (default), UDP or ICMP echo to several hosts and ports at once, as
scapy's ``traceroute([hosts], dport=[80, 443])`` and ``sr(IP(ttl=(1, 30))/TCP(flags="S"))``.

Each (target, port) is a *flow* with a fixed 5-tuple, so a router balancing over ECMP
paths sends all of a flow's probes one way (Paris traceroute): different flows may show
different paths, and a hop where one flow's probes came back from two addresses lists
both. Probes are whole IP packets packed with struct and sent on one IPPROTO_RAW socket;
the answers come on a raw ICMP socket and a raw TCP socket, each with a BPF filter in the
kernel, and carry the probe's number back (the TCP sequence, the ICMP echo sequence, or
the IP id quoted in an ICMP error).

The engine (probes, matching answers, waiting) is :mod:`netkit.packets._probes`. Waiting
follows traceroute's rule: a probe waits up to ``wait`` seconds, but once a later
hop of its flow answered, only NEAR times that answer's round trip (with a floor): a
silent router costs a few milliseconds, not seconds. Every reply is hostile bytes: one
that is short, malformed, or names no probe of ours is counted as ignored.
"""

from __future__ import annotations

import select
import socket
import time

from netkit.core.errors import UsageError
from netkit.packets._probes import SO_TIMESTAMPNS, Tracer, receive
from netkit.packets._raw import DLT_RAW, attach_filter, compile_filter, drain, raw_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["Flow", "Hop", "Trace", "trace"]

METHODS = ("tcp", "udp", "icmp")
DEFAULT_PORT = {"tcp": 80, "udp": 33434, "icmp": 0}
DEFAULT_MAX_TTL = 30
MAX_TTL = 64
DEFAULT_QUERIES = 3
MAX_QUERIES = 10
DEFAULT_WAIT = 3.0
# The receive buffer asked for (SO_RCVBUFFORCE as root, else SO_RCVBUF up to rmem_max).
RECV_BUFFER = 4 << 20
# Probes in one run: the UDP probe's number travels in the 16-bit IP id.
MAX_PROBES = 60000
MAX_FLOWS = 256
# Hop names looked up at once, one thread each; more hops than this keep their addresses.
MAX_NAME_LOOKUPS = 256
SO_RCVBUFFORCE = 33  # Linux; Python's socket module does not name it


class Hop:
    """One TTL of a flow: (address or None, RTT seconds or None, answer kind) per probe.
    (Plain classes, not dataclasses: their creation is ~3 ms of start-up each.)"""

    __slots__ = ("probes", "ttl")

    def __init__(self, ttl: int,
                 probes: Iterable[tuple[str | None, float | None, str | None]] | None = None) -> None:
        self.ttl, self.probes = ttl, list(probes or [])

    @property
    def addresses(self) -> list:
        return list(dict.fromkeys(a for a, _, _ in self.probes if a))

    def to_dict(self) -> dict:
        return {"ttl": self.ttl, "addresses": self.addresses,
                "probes": [{"address": a, "rtt_ms": None if r is None else round(r * 1000, 3), "answer": k}
                           for a, r, k in self.probes]}


class Flow:
    """One (target as given, its address, port) traced by ``method``: its hops, whether the
    target answered, how (``final``: SYN-ACK, RST, echo-reply, port-unreachable, or how it
    ended short), and hop names when looked up."""

    __slots__ = ("address", "final", "hops", "method", "names", "port", "reached", "target")

    def __init__(self, target: str, address: str, port: int, method: str, hops: Iterable[Hop] | None = None,
                 reached: bool = False, final: str = "", names: Mapping[str, str] | None = None) -> None:
        self.target, self.address, self.port, self.method = target, address, port, method
        self.hops, self.reached, self.final, self.names = list(hops or []), reached, final, dict(names or {})

    def to_text(self, max_ttl: int) -> str:
        """As traceroute prints it: a line per hop, each probe's RTT, the address again when
        it changes (ECMP), '*' for no answer, and how the destination answered."""
        from netkit.core.text import for_terminal

        where = f"{self.method} port {self.port}" if self.method != "icmp" else "icmp echo"
        lines = [f"trace to {for_terminal(self.target)} ({self.address}), {where}, {max_ttl} hops max\n"]
        for hop in self.hops:
            parts, last = [], None
            for address, rtt, _ in hop.probes:
                if address is None:
                    parts.append("*")
                    continue
                if address != last:
                    name = self.names.get(address)
                    parts.append(f"{name} ({address})" if name else address)
                    last = address
                parts.append(f"{(rtt or 0.0) * 1000:.3f} ms")  # an answered probe has its RTT
            line = f"{hop.ttl:2d}  " + "  ".join(parts)
            if hop is self.hops[-1] and self.address in hop.addresses:
                meaning = {"SYN-ACK": "open", "RST": "closed"}.get(self.final)
                line += f"  [{self.final}{': ' + meaning if meaning else ''}]"
            lines.append(line + "\n")
        if not self.reached:
            lines.append(f"    {self.address} not reached ({self.final})\n")
        return "".join(lines)

    def to_dict(self) -> dict:
        return {"target": self.target, "address": self.address, "port": self.port, "method": self.method,
                "reached": self.reached, "final": self.final, "hops": [h.to_dict() for h in self.hops],
                "names": self.names}


class Trace:
    """A run: probe method, our source address, the flows, probes sent, replies ignored."""

    __slots__ = ("elapsed", "flows", "ignored", "method", "sent", "source")

    def __init__(self, method: str, source: str, flows: list[Flow], sent: int = 0, ignored: int = 0,
                 elapsed: float = 0.0) -> None:
        self.method, self.source, self.flows = method, source, flows
        self.sent, self.ignored, self.elapsed = sent, ignored, elapsed

    def to_dict(self) -> dict:
        return {"method": self.method, "source": self.source, "sent": self.sent, "ignored": self.ignored,
                "elapsed": round(self.elapsed, 4), "flows": [f.to_dict() for f in self.flows]}


def resolve_target(text: str) -> str:
    """An IPv4 address for ``text``; UsageError for an IPv6 one or a name that does not resolve."""
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))  # no resolver, no idna
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(text, None, socket.AF_INET, socket.SOCK_RAW)
    except (socket.gaierror, UnicodeError) as exc:
        from netkit.core.text import for_terminal

        if ":" in text:
            raise UsageError(f"{for_terminal(text)!r}: trace is IPv4 only") from None
        raise UsageError(f"cannot resolve {for_terminal(text)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    return str(infos[0][4][0])


def _source_for(address: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((address, 9))
        except OSError as exc:
            from netkit.core.errors import NetError

            raise NetError(f"no route to {address}: {exc.strerror or exc}") from None
        return s.getsockname()[0]


def _listener(proto, filter_text):
    sock = raw_socket(proto)
    attach_filter(sock, compile_filter(filter_text, DLT_RAW))
    drain(sock)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER)
    except OSError:  # no CAP_NET_ADMIN: as much as rmem_max allows
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
    sock.setblocking(False)
    return sock


def trace(targets: Iterable[str], ports: Iterable[int] = (), *, method: str = "tcp", first_ttl: int = 1,
          max_ttl: int = DEFAULT_MAX_TTL, queries: int = DEFAULT_QUERIES, wait: float = DEFAULT_WAIT) -> Trace:
    """Trace every (target, port); NeedsPrivilege without CAP_NET_RAW."""
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    ports = list(dict.fromkeys(ports or [DEFAULT_PORT[method]])) if method != "icmp" else [0]
    flows = [Flow(t, resolve_target(t), p, method) for t in dict.fromkeys(targets) for p in ports]
    if len(flows) > MAX_FLOWS:
        raise UsageError(f"{len(flows)} target and port pairs; at most {MAX_FLOWS} at once")
    if len(flows) * (max_ttl - first_ttl + 1) * queries > MAX_PROBES:
        raise UsageError(f"that is more than {MAX_PROBES} probes; trace fewer targets or hops, or use fewer -q")
    sources = {_source_for(f.address) for f in flows}
    source = min(sources)
    if len(sources) > 1:
        raise UsageError(f"the targets are reached from different addresses ({', '.join(sorted(sources))}); "
                         "trace them in separate runs")
    tracer = Tracer(flows, method, first_ttl, max_ttl, queries, wait)
    src = socket.inet_aton(source)
    from contextlib import ExitStack

    with ExitStack() as stack:
        reserve = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM if method == "tcp"
                                                    else socket.SOCK_DGRAM))
        reserve.bind((source, 0))  # our source port, kept from any other socket while we trace
        sport = reserve.getsockname()[1]
        sender = stack.enter_context(raw_socket(socket.IPPROTO_RAW))
        icmp = stack.enter_context(_listener(socket.IPPROTO_ICMP, "icmp[0] = 0 or icmp[0] = 3 or icmp[0] = 11"))
        tcp = stack.enter_context(_listener(socket.IPPROTO_TCP, f"tcp dst port {sport}")) if method == "tcp" \
            else None
        result = _run(tracer, sender, icmp, tcp, src, sport)
    result.source = source
    return result


def _run(tracer, sender, icmp, tcp, src, sport) -> Trace:
    clock = time.time
    start = clock()
    poller = select.poll()
    poller.register(icmp, select.POLLIN)
    if tcp is not None:
        poller.register(tcp, select.POLLIN)
    while True:
        tracer.send_all(sender, src, sport, clock)
        deadline = tracer.next_deadline()
        wait = 0.0 if deadline is None else max(0.0, deadline - clock())
        for fd, _ in poller.poll(wait * 1000):
            if fd == icmp.fileno():
                receive(icmp, tracer.on_icmp, src)
            else:
                receive(tcp, tracer.on_tcp, sport)
        if tracer.done(clock()):
            break
    result = Trace(tracer.method, "", tracer.flows, len(tracer.probes), tracer.ignored, clock() - start)
    for i, flow in enumerate(tracer.flows):
        limit = tracer.by_flow[i]["limit"]
        hops: dict[int, Hop] = {}
        for probe in tracer.probes:
            if probe.flow == i and probe.ttl <= limit:
                hop = hops.setdefault(probe.ttl, Hop(probe.ttl))
                hop.probes.append(probe.answer or (None, None, None))
        flow.hops = [hops[t] for t in sorted(hops)]
        if not flow.final:
            flow.final = "no answer"
    return result


def lookup_names(result: Trace, timeout: float = 2.0) -> None:
    """Reverse-resolve every hop address, ``timeout`` seconds in all, names escaped for a
    terminal. Daemon threads: a resolver that hangs (gethostbyaddr takes no timeout) is
    left behind, and neither this call nor the exit waits for it."""
    import threading

    from netkit.core.text import for_terminal

    addresses = sorted({a for f in result.flows for h in f.hops for a in h.addresses})
    names = {}

    def resolve(address):
        try:
            names[address] = for_terminal(socket.gethostbyaddr(address)[0])
        except (OSError, UnicodeError):
            pass

    threads = [threading.Thread(target=resolve, args=(a,), daemon=True) for a in addresses[:MAX_NAME_LOOKUPS]]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    found = dict(names)  # a late thread may still write to ``names``
    for flow in result.flows:
        flow.names = {a: found[a] for h in flow.hops for a in h.addresses if a in found}
