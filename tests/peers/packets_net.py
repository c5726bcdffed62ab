"""Namespace networks for ``netkit packets``, each with its ground truth; plain context
managers (``with arp_lan(...) as lan:``), made by the tests and removed at the end even
after a failed setup (the helpers of tests/peers/netns.py: names ``nk<pid>n<seq>...`` so a
crashed run's leftovers are removed by the next setup, one setup lock, bounded waits).

``arp_lan(live, silent, duplicate, hostile)``: a bridge in the root namespace holding
``.1`` of a free /24 of 198.18.0.0/15, and one namespace per host on it with a KNOWN MAC
(``02:6e:6b:00:00:<i>``; host 0 has ``00:16:3e:00:00:10``, a Xensource OUI, for the
vendor look-up):

``lan.truth``      {address: [MAC, ...]} of everything that answers ARP
``lan.silent``     an address a host has but never answers ARP for (``arp off``)
``lan.duplicate``  an address two hosts (two MACs) answer for
``lan.hostile``    an address answered by a raw-socket script that first sends malformed
                   frames (short, bogus lengths, wrong types, another address) and then
                   one valid reply with ``HOSTILE_MAC``

``router_chain(routers, targets, drop_at, delay)``: root -- r1 -- ... -- rN -- a bridge in rN
with ``targets`` target namespaces; forwarding on, ICMP rate limits off, router
``drop_at`` (1-based, 0 for none) drops the ICMP time-exceeded it would send (nftables).
Every target listens on ``OPEN_PORT`` (80); ``CLOSED_PORT`` (443) answers RST.
With ``hostile``, the first target answers probes to ``HOSTILE_PORT`` with malformed
packets before its kernel's RST. ``chain.hops[target]`` is the ground-truth path: router addresses as seen from the root
(None for the silent one), then the target.

``ecmp_diamond()``: root -- r1 -- two equal-cost middles -- r3 -- a target: flows of
different ports may take different middles (``diamond.middle``), each flow only one.

``veth_pair()``: a namespace reached over one veth (root side ``pair.root_if``, no IPv6
on either side), for a capture while the test sends known traffic to ``pair.address``;
``send_frames(namespace, frames)`` sends raw (malformed) frames from inside it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._base import need_binary
from tests.peers.netns import (
    LISTENER,
    READY_TIMEOUT,
    RELAY,
    RELAY_QUEUE_LIMIT,
    TUN_TXQUEUELEN,
    _free_subnet,
    _Helper,
    _ip_batch,
    _Made,
    _run,
    _sequence,
    _setup_lock,
    _teardown,
    remove_stale,
)

OPEN_PORT = 80
CLOSED_PORT = 443
VENDOR_MAC = "00:16:3e:00:00:10"
VENDOR = "Xensource, Inc."
HOSTILE_MAC = "02:6e:6b:66:66:66"
MAX_LIVE = 200

# The start of both raw-socket peers below: a socket on eth0 for ETHERTYPE, "ready", and
# frames(), the frames it receives until stdin closes (the parent is gone).
RAW_PEER = r"""
import json, os, select, socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE)); s.bind(("eth0", ETHERTYPE))
def frames():
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([s, sys.stdin], [], [])
        if sys.stdin in r:
            if not os.read(sys.stdin.fileno(), 1024): sys.exit(0)
            continue
        yield s.recv(4096)
"""

# Run in the hostile host's namespace: for each ARP request for its address, malformed
# frames first, then one valid reply.
HOSTILE_ARP = RAW_PEER.replace("ETHERTYPE", "0x0806") + r"""
cfg = json.loads(sys.argv[1])
mine = socket.inet_aton(cfg["address"]); mac = bytes.fromhex(cfg["mac"].replace(":", ""))
other = socket.inet_aton(cfg["other"])
for f in frames():
    if len(f) < 42 or f[20:22] != b"\x00\x01" or f[38:42] != mine: continue
    head = f[6:12] + mac + b"\x08\x06"
    their = f[22:28] + f[28:32]
    valid = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + mac + mine + their
    for bad in (head[:10],                                                  # a cut Ethernet header
                head + valid[:10],                                          # a cut ARP
                head + struct.pack("!HHBBH", 1, 0x0800, 8, 16, 2) + b"\xff" * 40,  # bogus lengths
                head + struct.pack("!HHBBH", 1, 0x86dd, 6, 4, 2) + valid[8:],  # IPv6 protocol type
                head + struct.pack("!HHBBH", 6, 0x0800, 6, 4, 2) + valid[8:],  # not Ethernet
                head + valid[:8] + mac + other + their,                    # an address not asked
                head + valid[:6] + b"\x00\x09" + valid[8:]):              # opcode 9
        s.send(bad.ljust(14, b"\0"))
    s.send((head + valid).ljust(60, b"\0"))
"""

# Run in a target's namespace: every TCP SYN to HOSTILE_PORT (closed: the kernel answers
# RST) first draws malformed answers -- ICMP errors quoting too little, a bogus inner
# header length, another destination, a cut ICMP, and TCP segments with a wrong ack or cut
# short -- all sent back to the prober from raw sockets.
HOSTILE_PORT = 8080
HOSTILE_TRACE = RAW_PEER.replace("ETHERTYPE", "0x0800") + r"""
def csum(b):
    b += b"\0" * (len(b) % 2); t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16: t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF
def ip(src, dst, proto, body):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 7, 0, 64, proto, 0, src, dst) + body
def icmp(kind, rest):
    b = struct.pack("!BBHI", kind, 0, 0, 0) + rest
    return b[:2] + struct.pack("!H", csum(b)) + b[4:]
port = int(sys.argv[1])
out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for f in frames():
    if len(f) < 14 + 40 or f[14 + 9] != 6: continue
    p = f[14:]; hl = (p[0] & 15) * 4
    sport, dport, seq = struct.unpack_from("!HHI", p, hl)
    if dport != port or not p[hl + 13] & 2 or p[hl + 13] & 16: continue
    them, me = p[12:16], p[16:20]
    quote = p[:hl + 8]
    for body, proto in ((icmp(11, quote[:6]), 1), (icmp(11, b"\x4f" + quote[1:]), 1),
                        (icmp(11, quote[:16] + bytes([192, 0, 2, 1]) + quote[20:]), 1), (icmp(11, b"")[:2], 1),
                        (icmp(3, quote[:12] + b"\x11" + quote[13:]), 1),
                        (struct.pack("!HHIIBBHHH", port, sport, 1, seq + 12345, 0x50, 0x12, 0, 0, 0), 6),
                        (struct.pack("!HHI", port, sport, 1), 6)):
        out.sendto(ip(me, them, proto, body), (socket.inet_ntoa(them), 0))
"""


def _prefix() -> str:
    return f"nk{os.getpid()}n{next(_sequence)}"


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("packet test networks need root (namespaces, raw sockets)", pytrace=False)
    need_binary("ip", "iproute2")
    need_binary("nft", "nftables")


def _sysctl(namespace: str, *settings: str) -> None:
    _run(["ip", "netns", "exec", namespace, "sysctl", "-q", "-w", *settings])


def _listener(made: _Made, namespace: str, ports) -> _Helper:
    helper = _Helper(f"listener of {namespace}", [
        "ip", "netns", "exec", namespace, sys.executable, "-I", "-c", LISTENER,
        json.dumps({"parent": os.getpid(), "name": namespace, "open": list(ports), "banners": {}, "http": list(ports),
                    "hold": 5.0, "max_held": 256, "max_request": 8192})])
    made.helpers.append(helper)
    return helper


@contextlib.contextmanager
def _network() -> Iterator[tuple[_Made, str]]:
    """(what is made, the name prefix); everything made is removed at the end."""
    _need_root()
    made = _Made()
    try:
        yield made, _prefix()
    finally:
        _teardown(made)


@contextlib.contextmanager
def _claimed_subnet():
    """A free /24, chosen under the setup lock (choosing and taking it is not atomic): the
    caller puts its first address or route on it before the lock is let go."""
    with _setup_lock():
        remove_stale()
        yield _free_subnet()


def mac_of(i: int) -> str:
    return VENDOR_MAC if i == 0 else f"02:6e:6b:00:{i >> 8:02x}:{i & 0xff:02x}"


@dataclass
class ArpLan:
    network: str
    gateway: str
    bridge: str
    truth: dict = field(default_factory=dict)
    silent: str | None = None
    duplicate: str | None = None
    hostile: str | None = None


@contextlib.contextmanager
def arp_lan(live: int = 20, silent: bool = True, duplicate: bool = True, hostile: bool = False) -> Iterator[ArpLan]:
    """A bridge with ``live`` answering hosts (plus the silent, duplicate and hostile ones)."""
    if not 1 <= live <= MAX_LIVE:
        raise ValueError(f"live must be 1..{MAX_LIVE}")
    with _network() as (made, prefix):
        bridge = f"{prefix}br"
        with _claimed_subnet() as subnet:
            made.links.append(bridge)
            gateway = str(subnet[1])
            _ip_batch([f"link add {bridge} type bridge", f"addr add {gateway}/24 dev {bridge}",
                       f"link set {bridge} up"])
        lan = ArpLan(str(subnet), gateway, bridge)
        hosts = []  # (index, address, mac, arp on?)
        for i in range(live):
            hosts.append((i, str(subnet[10 + i]), mac_of(i), True))
        n = live
        if silent:
            lan.silent = str(subnet[200])
            hosts.append((n, lan.silent, mac_of(n), False))
            n += 1
        if duplicate:
            lan.duplicate = str(subnet[201])
            hosts += [(n, lan.duplicate, mac_of(n), True), (n + 1, lan.duplicate, mac_of(n + 1), True)]
            n += 2
        if hostile:
            lan.hostile = str(subnet[202])
            hosts.append((n, lan.hostile, HOSTILE_MAC, False))
        batch = []
        for i, _, mac, _ in hosts:
            ns, veth = f"{prefix}h{i}", f"{prefix}v{i}"
            _run(["ip", "netns", "add", ns])
            made.namespaces.append(ns)
            made.links.append(veth)
            batch += [f"link add {veth} type veth peer name eth0 netns {ns}", f"link set {veth} master {bridge}",
                      f"link set {veth} up"]
        _ip_batch(batch)
        for i, address, mac, answers in hosts:
            ns = f"{prefix}h{i}"
            _ip_batch(["link set lo up", f"link set eth0 address {mac}", f"addr add {address}/24 dev eth0",
                       "link set eth0 up"] + ([] if answers else ["link set eth0 arp off"]), namespace=ns)
            if answers:
                lan.truth.setdefault(address, []).append(mac)
        if hostile:
            helper = _Helper("hostile ARP", ["ip", "netns", "exec", f"{prefix}h{n}", sys.executable, "-I", "-c",
                                             HOSTILE_ARP, json.dumps({"address": lan.hostile, "mac": HOSTILE_MAC,
                                                                      "other": "192.0.2.77"})])
            made.helpers.append(helper)
            helper.wait_ready(time.monotonic() + READY_TIMEOUT)
            lan.truth[lan.hostile] = [HOSTILE_MAC]
        yield lan


@dataclass
class RouterChain:
    routers: list          # addresses of the routers as the root sees them (towards it)
    targets: list          # target addresses
    hops: dict             # target -> [router address or None (silent), ..., target]
    drop_at: int
    namespaces: list = field(default_factory=list)


@contextlib.contextmanager
def router_chain(routers: int = 4, targets: int = 1, drop_at: int = 2, delay: float = 0.0,
                 hostile: bool = False) -> Iterator[RouterChain]:
    """root -- r1 -- ... -- rN -- LAN of ``targets`` hosts; router ``drop_at`` silent;
    ``delay`` ms each way on the first link (a TUN relay, as netns.py's)."""
    if not 1 <= routers <= 8 or not 1 <= targets <= 8:
        raise ValueError("1..8 routers and 1..8 targets")

    with _network() as (made, prefix):
        with _claimed_subnet() as subnet:
            links = list(subnet.subnets(new_prefix=28))
            # link k joins r_k (or the root, k=0) to r_{k+1}: .1 is the left side, .2 the right
            veth0 = f"{prefix}l0"
            made.links.append(veth0)
            _run(["ip", "netns", "add", f"{prefix}r1"])
            made.namespaces.append(f"{prefix}r1")
            if not delay:
                _ip_batch([f"link add {veth0} type veth peer name left netns {prefix}r1",
                           f"addr add {links[0][1]}/28 dev {veth0}", f"link set {veth0} up",
                           f"route add {subnet} via {links[0][2]}"])
        if delay:  # the first link is netns.py's TUN delay line: every probe and answer crosses it
            relay = _Helper(f"relay {veth0}", [sys.executable, "-I", "-c", RELAY, json.dumps({
                "parent": os.getpid(), "outer": veth0, "netns": f"/run/netns/{prefix}r1", "delay": delay,
                "queue_limit": RELAY_QUEUE_LIMIT})])
            made.helpers.append(relay)
            relay.wait_ready(time.monotonic() + READY_TIMEOUT)
            _ip_batch([f"addr add {links[0][1]} peer {links[0][2]}/32 dev {veth0}",
                       f"link set {veth0} txqueuelen {TUN_TXQUEUELEN} up", f"route add {subnet} via {links[0][2]}"])
            _ip_batch(["link set eth0 name left", f"link set left txqueuelen {TUN_TXQUEUELEN}"],
                      namespace=f"{prefix}r1")
        lan = links[routers]
        for k in range(1, routers + 1):  # first every link, then the routes over them
            ns = f"{prefix}r{k}"
            if k > 1:
                _run(["ip", "netns", "add", ns])
                made.namespaces.append(ns)
                _ip_batch([f"link add right type veth peer name left netns {ns}",
                           f"addr add {links[k - 1][1]}/28 dev right", "link set right up"],
                          namespace=f"{prefix}r{k - 1}")
            _ip_batch(["link set lo up", f"addr add {links[k - 1][2]}/28 dev left", "link set left up"],
                      namespace=ns)
        for k in range(1, routers + 1):
            ns = f"{prefix}r{k}"
            commands = [f"route add default via {links[k - 1][1]}"]
            if k < routers:
                commands.append(f"route add {lan} via {links[k][2]}")
            _ip_batch(commands, namespace=ns)
            _sysctl(ns, "net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000", "net.ipv4.icmp_msgs_burst=10000")
            if k == drop_at:
                _run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=(
                    "table inet netkit_test {\n  chain output {\n    type filter hook output priority filter;\n"
                    "    icmp type time-exceeded drop\n  }\n}\n"))
        last = f"{prefix}r{routers}"
        _ip_batch(["link add lanbr type bridge", f"addr add {lan[1]}/28 dev lanbr", "link set lanbr up"],
                  namespace=last)
        chain = RouterChain([str(links[k - 1][2]) for k in range(1, routers + 1)], [], {}, drop_at)
        for t in range(targets):
            ns = f"{prefix}t{t}"
            address = str(lan[2 + t])
            _run(["ip", "netns", "add", ns])
            made.namespaces.append(ns)
            _ip_batch([f"link add p{t} type veth peer name eth0 netns {ns}", f"link set p{t} master lanbr",
                       f"link set p{t} up"], namespace=last)
            _ip_batch(["link set lo up", f"addr add {address}/28 dev eth0", "link set eth0 up",
                       f"route add default via {lan[1]}"], namespace=ns)
            _sysctl(ns, "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000", "net.ipv4.icmp_msgs_burst=10000")
            _listener(made, ns, [OPEN_PORT])
            if hostile and t == 0:
                made.helpers.append(_Helper("hostile trace answers", [
                    "ip", "netns", "exec", ns, sys.executable, "-I", "-c", HOSTILE_TRACE, str(HOSTILE_PORT)]))
            chain.targets.append(address)
            chain.hops[address] = [None if k + 1 == drop_at else a for k, a in enumerate(chain.routers)] + [address]
        chain.namespaces = list(made.namespaces)
        deadline = time.monotonic() + READY_TIMEOUT
        for helper in made.helpers:
            helper.wait_ready(deadline)
        yield chain


@dataclass
class Diamond:
    first: str       # r1, as the root sees it
    middle: tuple    # (r2a, r2b): the two equal-cost next hops of r1, as r1 sees them
    last: str        # r3's address towards r2a: its route back, so its ICMP always comes from it
    target: str


@contextlib.contextmanager
def ecmp_diamond() -> Iterator[Diamond]:
    """root -- r1 =(r2a | r2b)= r3 -- target: r1 balances the target's flows over two
    equal-cost paths by their 5-tuple (fib_multipath_hash_policy 1), so different ports may
    take different middles while every probe of one flow takes the same."""
    with _network() as (made, prefix):
        with _claimed_subnet() as subnet:
            nets = list(subnet.subnets(new_prefix=28))
            names = {n: f"{prefix}{n}" for n in ("r1", "ra", "rb", "r3", "t")}
            for ns in names.values():
                _run(["ip", "netns", "add", ns])
                made.namespaces.append(ns)
            root_if = f"{prefix}d0"
            made.links.append(root_if)
            _ip_batch([f"link add {root_if} type veth peer name in0 netns {names['r1']}",
                       f"addr add {nets[0][1]}/28 dev {root_if}", f"link set {root_if} up",
                       f"route add {subnet} via {nets[0][2]}"])

        def link(left, left_if, right, right_if, net):
            _ip_batch([f"link add {left_if} type veth peer name {right_if} netns {names[right]}",
                       f"addr add {net[1]}/28 dev {left_if}", f"link set {left_if} up"], namespace=names[left])
            _ip_batch([f"addr add {net[2]}/28 dev {right_if}", f"link set {right_if} up"], namespace=names[right])

        _ip_batch([f"addr add {nets[0][2]}/28 dev in0", "link set in0 up", "link set lo up"], namespace=names["r1"])
        link("r1", "toa", "ra", "in0", nets[1])
        link("r1", "tob", "rb", "in0", nets[2])
        link("ra", "south", "r3", "froma", nets[3])
        link("rb", "south", "r3", "fromb", nets[4])
        link("r3", "south", "t", "eth0", nets[5])
        target = str(nets[5][2])
        routes = {
            "r1": [f"route add default via {nets[0][1]}",
                   f"route add {nets[5]} nexthop via {nets[1][2]} nexthop via {nets[2][2]}"],
            "ra": [f"route add default via {nets[1][1]}", f"route add {nets[5]} via {nets[3][2]}"],
            "rb": [f"route add default via {nets[2][1]}", f"route add {nets[5]} via {nets[4][2]}"],
            "r3": [f"route add default via {nets[3][1]}"],
            "t": [f"route add default via {nets[5][1]}"],
        }
        for name, commands in routes.items():
            _ip_batch(["link set lo up", *commands], namespace=names[name])
            _sysctl(names[name], "net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0",
                    "net.ipv4.icmp_msgs_per_sec=100000", "net.ipv4.icmp_msgs_burst=10000", "net.ipv4.fib_multipath_hash_policy=1",
                    "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        yield Diamond(str(nets[0][2]), (str(nets[1][2]), str(nets[2][2])), str(nets[3][2]), target)


@dataclass
class VethPair:
    root_if: str
    gateway: str
    address: str
    namespace: str


@contextlib.contextmanager
def veth_pair() -> Iterator[VethPair]:
    """One namespace behind one veth: the root side is ``root_if`` with ``gateway``."""
    with _network() as (made, prefix):
        with _claimed_subnet() as subnet:
            ns, veth = f"{prefix}s", f"{prefix}s"
            _run(["ip", "netns", "add", ns])
            made.namespaces.append(ns)
            made.links.append(veth)
            _ip_batch([f"link add {veth} type veth peer name eth0 netns {ns}", f"addr add {subnet[1]}/24 dev {veth}",
                       f"link set {veth} up"])
        # no IPv6 on the pair: its neighbour discovery would add packets the test did not send
        _run(["sysctl", "-q", "-w", f"net.ipv6.conf.{veth}.disable_ipv6=1"])
        _sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        _ip_batch(["link set lo up", f"addr add {subnet[2]}/24 dev eth0", "link set eth0 up"], namespace=ns)
        yield VethPair(veth, str(subnet[1]), str(subnet[2]), ns)


SEND_FRAMES = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for frame in sys.argv[1:]:
    s.send(bytes.fromhex(frame))
"""


def send_frames(namespace: str, frames) -> None:
    """Send raw Ethernet ``frames`` out of ``eth0`` of ``namespace`` (hostile bytes welcome)."""
    _run(["ip", "netns", "exec", namespace, sys.executable, "-I", "-c", SEND_FRAMES, *(f.hex() for f in frames)])


def addresses(network: str) -> list[str]:
    return [str(a) for a in ipaddress.ip_network(network)]
