"""ARP ping of a subnet (scapy's ``arping(net)``, arp-scan): who answers for each IPv4
address, with which MAC, how fast, and whether two machines claim one address.

One AF_PACKET socket does it all: requests are 60-byte frames packed with struct, sent
paced at ``rate`` per second; replies reach Python only when the kernel's BPF filter
(ARP replies, nothing else) lets them through. A target not answered after ``timeout`` is
asked again, up to ``tries`` times in all (arp-scan's defaults: 2 tries, 500 ms).

Replies are hostile bytes: a short frame, a non-Ethernet/IPv4 ARP, a reply for an address
we did not ask about is counted as ignored and changes nothing else.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from dataclasses import dataclass, field

from netkit.core.errors import UsageError
from netkit.packets._raw import (
    ETH_P_ARP,
    attach_filter,
    compile_filter,
    interface_info,
    packet_socket,
    route_interface,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["DEFAULT_RATE", "DEFAULT_TIMEOUT", "DEFAULT_TRIES", "ArpHost", "ArpSweep", "arp_sweep", "arp_targets"]

# arp-scan's defaults: each address asked twice at most, 500 ms apart.
DEFAULT_TIMEOUT = 0.5
DEFAULT_TRIES = 2
# Requests per second: 2000 frames of 60 bytes is ~1 Mbit/s, harmless on any LAN, and a
# /24 is asked in 0.13 s.
DEFAULT_RATE = 2000.0
MAX_RATE = 100000.0
MAX_TRIES = 10
# A /16: more is a typo or a flood, and would take minutes.
MAX_TARGETS = 65536
# After every target answered, replies still come for this long (a second machine with the
# same address answers microseconds after the first): listened for, to flag duplicates.
LINGER = 0.05
# Replies read per wake-up before pacing is looked at again.
READ_BATCH = 256
FRAME = 60  # the Ethernet minimum (without FCS): requests are padded to it
BROADCAST = b"\xff" * 6
REPLY_FILTER = "arp[6:2] = 2"


@dataclass
class ArpHost:
    """One address that answered: the first MAC, every MAC seen (more than one: a duplicate
    address), replies counted, RTT of the first reply (seconds), vendor of the first MAC."""

    address: str
    mac: str
    rtt: float
    macs: list = field(default_factory=list)
    replies: int = 1
    vendor: str = ""

    @property
    def duplicate(self) -> bool:
        return len(self.macs) > 1

    def to_dict(self) -> dict:
        return {"address": self.address, "mac": self.mac, "vendor": self.vendor, "rtt_ms": round(self.rtt * 1000, 3),
                "replies": self.replies, "macs": list(self.macs), "duplicate": self.duplicate}


@dataclass
class ArpSweep:
    interface: str
    source: str
    targets: int
    sent: int = 0
    ignored: int = 0
    elapsed: float = 0.0
    hosts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"interface": self.interface, "source": self.source, "targets": self.targets, "sent": self.sent,
                "answered": len(self.hosts), "ignored": self.ignored, "elapsed": round(self.elapsed, 4),
                "hosts": [h.to_dict() for h in self.hosts]}


def arp_targets(specs) -> list:
    """IPv4 addresses of CIDR blocks, octet ranges or single addresses, in order, once each."""
    from netkit.scan.targets import expand_targets

    addresses: list[str] = []
    for spec in specs:
        try:
            pairs = expand_targets([spec], family=4, resolve=_no_names)
        except UsageError as exc:
            raise UsageError(f"{exc}; arp takes a CIDR block (192.0.2.0/24), a range (192.0.2.1-20) "
                             "or an address") from None
        if not pairs:
            raise UsageError(f"{spec!r} holds no IPv4 address; ARP is IPv4 only")
        addresses.extend(a for a, _ in pairs)
        if len(addresses) > MAX_TARGETS:
            raise UsageError(f"more than {MAX_TARGETS} addresses (a /16); sweep a smaller block")
    return list(dict.fromkeys(addresses))


def _no_names(name, family):
    raise ValueError(f"{name!r} is not an address: arp takes addresses, not names")


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def parse_reply(frame: bytes, to: bytes):
    """(sender IPv4, sender MAC) of an Ethernet ARP reply for IPv4 to our address ``to``,
    or None for anything else: short, another hardware or protocol type, another opcode,
    a reply to someone else."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06" or frame[38:42] != to:
        return None
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", frame, 14)
    if (htype, ptype, hlen, plen, op) != (1, 0x0800, 6, 4, 2):
        return None
    return socket.inet_ntoa(frame[28:32]), _mac(frame[22:28])


def request_frame(mac: bytes, source: bytes, target: bytes) -> bytes:
    frame = BROADCAST + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + source \
        + b"\0" * 6 + target
    return frame.ljust(FRAME, b"\0")


def pick_interface(name, targets):
    """The interface to sweep from: ``name``, else the one the route to the first target
    leaves by; UsageError when that is not an Ethernet-like interface."""
    if name is None:
        name = route_interface(targets[0])
        if name is None:
            raise UsageError(f"no route to {targets[0]}; say which interface with -i IFACE")
    iface = interface_info(name)
    if len(iface.mac) != 6 or iface.mac == b"\0" * 6:
        raise UsageError(f"{name} has no Ethernet address (loopback or a tunnel?): ARP needs an Ethernet-like "
                         "interface; give one with -i IFACE")
    return iface


def arp_sweep(specs: Iterable[str], interface: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
              tries: int = DEFAULT_TRIES, rate: float = DEFAULT_RATE, vendors: bool = True,
              progress: Callable[[int, int, int], object] | None = None) -> ArpSweep:
    """Ask every address of ``specs`` who has it; NeedsPrivilege without CAP_NET_RAW."""
    targets = arp_targets(specs)
    iface = pick_interface(interface, targets)
    source = iface.address or "0.0.0.0"
    code = compile_filter(REPLY_FILTER)
    sock = packet_socket()
    with sock:
        attach_filter(sock, code)
        sock.bind((iface.name, ETH_P_ARP))
        result = _sweep(sock, iface, source, targets, timeout, tries, rate, progress)
    if vendors and result.hosts:
        from netkit.packets._oui import vendors as lookup

        names = lookup([h.mac for h in result.hosts])
        for host in result.hosts:
            host.vendor = names.get(host.mac, "")
    return result


def _sweep(sock, iface, source, targets, timeout, tries, rate, progress) -> ArpSweep:
    from collections import deque

    result = ArpSweep(iface.name, source, len(targets))
    sock.setblocking(False)
    spa = socket.inet_aton(source)
    wanted = {socket.inet_aton(t): t for t in targets}
    sent_at = {}          # address -> monotonic time of its last request
    asked = dict.fromkeys(targets, 0)
    found: dict[str, ArpHost] = {}            # address -> ArpHost
    queue = deque(targets)
    waiting: deque[tuple[float, str]] = deque()     # (due, address): asked, not answered yet, in due order
    interval = 1.0 / rate
    clock = time.monotonic
    start = next_send = clock()
    linger_until = None
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    while True:
        now = clock()
        while queue and next_send <= now:
            address = queue.popleft()
            if address in found:
                continue
            try:
                sock.send(request_frame(iface.mac, spa, socket.inet_aton(address)))
            except (BlockingIOError, InterruptedError):
                queue.appendleft(address)  # the device queue is full: try again shortly
                next_send = now + interval
                break
            result.sent += 1
            asked[address] += 1
            sent_at[address] = now
            waiting.append((now + timeout, address))
            next_send = max(next_send + interval, now - interval)  # no burst to catch up
        while waiting and (waiting[0][1] in found or waiting[0][0] <= now):
            _, address = waiting.popleft()
            if address not in found and asked[address] < tries and sent_at[address] + timeout <= now:
                queue.append(address)
        if not queue and not waiting:
            if linger_until is None:
                linger_until = now + (LINGER if len(found) == len(targets) else 0)
            if now >= linger_until:
                break
        deadlines = [linger_until] if linger_until is not None else []
        if queue:
            deadlines.append(next_send)
        if waiting:
            deadlines.append(waiting[0][0])
        wait = max(0.0, min(deadlines) - now) if deadlines else 0.0
        if poller.poll(wait * 1000):
            _read(sock, spa, wanted, sent_at, found, result, clock())
            if progress:
                progress(result.sent, len(found), len(targets))
    result.elapsed = clock() - start
    result.hosts = sorted(found.values(), key=lambda h: socket.inet_aton(h.address))
    return result


def _read(sock, to, wanted, sent_at, found, result, now) -> None:
    for _ in range(READ_BATCH):
        try:
            frame = sock.recv(2048)
        except (BlockingIOError, InterruptedError):
            return
        parsed = parse_reply(frame, to)
        if parsed is None or socket.inet_aton(parsed[0]) not in wanted or parsed[0] not in sent_at:
            result.ignored += 1
            continue
        address, mac = parsed
        host = found.get(address)
        if host is None:
            found[address] = ArpHost(address, mac, now - sent_at[address], [mac])
            continue
        host.replies += 1
        if mac not in host.macs:
            host.macs.append(mac)
