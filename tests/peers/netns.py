"""Session fixture ``testnet``: a small network of hosts in Linux network namespaces.

The tests (the "scanner side") run in the root namespace; each host is a namespace of
its own, reached over a veth pair enslaved to a bridge in the root namespace, or, when
``delay`` is set, over a pair of TUN devices joined by a delay relay (``net.delay``). Made
with ``ip`` (iproute2) and ``nft`` (nftables); needs root. A missing tool FAILS the test.

Use the fixture (``testnet``: 4 hosts, 2 % loss, 25 ms one-way delay = 50 ms RTT), or the
context manager anywhere, pytest or not::

    from tests.peers.netns import testnet
    with testnet(hosts=4, loss=0, delay=0) as net:
        for host in net.hosts:
            host.address, host.open_ports, host.state(port)

Addresses: one /24 of 198.18.0.0/15 (RFC 2544 benchmarking space, never routed), the
first one not used by any address or route on the machine nor by another live run:

``net.network``    e.g. "198.18.0.0/24" (a connected route on the bridge: nothing sent to
                   it ever leaves the machine; an address with no host fails its ARP)
``net.gateway``    198.18.K.1, the root namespace's own address there (scanning it reaches
                   the local machine, not a test host)
``net.absent_address``  198.18.K.250: no host there (a connect fails with EHOSTUNREACH
                   after ~3 s of unanswered ARP)
``host.address``   198.18.K.(16+i) for host i; ``net.cidrs`` the smallest CIDR blocks
                   covering exactly the hosts (["198.18.K.16/30"] for 4 hosts)

Ports of host i (TCP only; every one below 1000, so ``-p 1-1000`` covers them all):

``open_ports``      22, 80, 443, 600+i: a Python server in the namespace accepts and holds
                    each connection up to HOLD_SECONDS (closing when the client does)
``banner_ports``    {22: b"SSH-2.0-netkit-test\\r\\n"}: sent on accept
``http_ports``      (80,): after a request's blank line, answers ``http_response(host)``
                    (HTTP/1.0 200, ``Server: netkit-test``, then closes); HEAD gets no body
``silent_ports``    443, 600+i: accept, never send
``filtered_ports``  25, 139, 800+i: dropped by nftables in the namespace (no answer at all)
``closed_ports``    21, 23, 81, 444, 700+i as samples: nothing listens, the kernel answers
                    RST. EVERY port that is neither open nor filtered is closed:
                    ``host.state(port)`` is "open", "closed" or "filtered" for any port;
                    ``net.ground_truth(ports)`` is {(address, port): state} over all hosts.

Network conditions (the kernel here has no ``tc netem``, so both are built otherwise):

``net.loss``   percent of packets the hosts drop on input, at random (nftables
               ``numgen random mod 10000 < loss*100 drop``, in the same table as the filter;
               loopback inside a host is spared). Only packets TO a host are lost.
``net.delay``  one-way delay in ms, added in each direction (RTT = 2 x delay): a relay
               process per host (``python -c RELAY``) owns a TUN device in the root namespace
               and one in the host's namespace and copies IP packets between them after
               ``delay`` ms, FIFO, no bandwidth limit, at most RELAY_QUEUE_LIMIT packets
               queued per direction. With delay 0 no relay is made: veth + bridge.

Names: every namespace and root-namespace link starts with ``nk<pid>n<seq>`` (``net.prefix``;
seq counts the networks made by this process); namespaces are ``<prefix>h<i>``, the bridge
``<prefix>br``, veths ``<prefix>h<i>`` and TUNs ``<prefix>t<i>`` (root side; the host side is
``eth0`` in the namespace). One nft table ``inet netkit_test`` per namespace.

Teardown removes every process, namespace, link and table made, also after a failed setup.
Children die with the process that made them (stdin EOF and PR_SET_PDEATHSIG), and setup
first removes leftovers of crashed runs: namespaces and links named ``nk<pid>n...`` whose
pid no longer runs (a run's namespaces hold no state worth keeping). Setup takes well under
a second for 4 hosts; every wait in it is bounded.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import itertools
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers._base import need_binary

DEBIAN_IP = "iproute2"
DEBIAN_NFT = "nftables"
# The /24s a network may take: 198.18.0.0/15, reserved for benchmarking (RFC 2544).
ADDRESS_SPACE = ipaddress.ip_network("198.18.0.0/15")
# Host i has address .(HOST_BASE + i) of the /24: 16 + i keeps small counts CIDR-aligned.
HOST_BASE = 16
MAX_HOSTS = 100
GATEWAY_OCTET = 1
# An address of the /24 that no host has (``absent_address``).
ABSENT_OCTET = 250
# Linux's limit on an interface name (IFNAMSIZ - 1).
MAX_IFNAME = 15
NFT_TABLE = "netkit_test"
BANNER = b"SSH-2.0-netkit-test\r\n"
BANNER_PORT = 22
HTTP_PORT = 80
# A listener closes a connection the client keeps open this long.
HOLD_SECONDS = 5.0
# Connections a listener holds at once; past that it closes the oldest.
MAX_HELD = 2048
# A request read by an HTTP port ends at a blank line or at this many bytes.
MAX_REQUEST = 8192
# How long a listener or relay may take to say "ready"; each takes ~50 ms.
READY_TIMEOUT = 10.0
# How long a helper process may take to exit after its stdin closes (then SIGKILL).
STOP_TIMEOUT = 3.0
# Any one ip / nft command.
COMMAND_TIMEOUT = 10.0
# Packets a relay queues per direction; more are dropped (netem's default limit is 1000).
RELAY_QUEUE_LIMIT = 10000
# A TUN device's queue towards its relay (the default, 500, drops packets in a burst of SYNs
# while the relay is busy).
TUN_TXQUEUELEN = 20000
# The fixture's conditions: the issue's "4 hosts behind 50 ms RTT and 2 % loss".
FIXTURE_HOSTS = 4
FIXTURE_LOSS = 2.0
FIXTURE_DELAY = 25.0

NAME_PREFIX_RE = re.compile(r"^nk(\d+)n(\d+)")
LOCK_FILE = Path(tempfile.gettempdir()) / "netkit-testnet.lock"
_sequence = itertools.count()


def open_ports_of(index: int) -> tuple[int, ...]:
    return (BANNER_PORT, HTTP_PORT, 443, 600 + index)


def filtered_ports_of(index: int) -> tuple[int, ...]:
    return (25, 139, 800 + index)


def closed_ports_of(index: int) -> tuple[int, ...]:
    return (21, 23, 81, 444, 700 + index)


def http_response(namespace: str, method: str = "GET") -> bytes:
    """What an HTTP port of host ``namespace`` answers (to HEAD: the same, less the body)."""
    body = f"hello from {namespace}\n".encode()
    head = (
        "HTTP/1.0 200 OK\r\nServer: netkit-test\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head if method == "HEAD" else head + body


@dataclass(frozen=True)
class NamespaceHost:
    """One host of the network; see the module docstring for its ports."""

    index: int
    namespace: str
    address: str
    open_ports: tuple[int, ...]
    closed_ports: tuple[int, ...]
    filtered_ports: tuple[int, ...]
    banner_ports: dict[int, bytes]
    http_ports: tuple[int, ...]
    silent_ports: tuple[int, ...]

    def state(self, port: int) -> str:
        """The ground truth for TCP ``port``: "open", "filtered" or "closed"."""
        if port in self.open_ports:
            return "open"
        if port in self.filtered_ports:
            return "filtered"
        return "closed"

    def run(self, *argv: str, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
        """Run a command inside this host's namespace (``ip netns exec``); output captured."""
        return _run(["ip", "netns", "exec", self.namespace, *argv], timeout=timeout, check=False)


@dataclass(frozen=True)
class NamespaceNetwork:
    """A running test network; see the module docstring."""

    prefix: str
    network: str
    gateway: str
    hosts: tuple[NamespaceHost, ...]
    loss: float
    delay: float
    bridge: str

    @property
    def addresses(self) -> list[str]:
        return [h.address for h in self.hosts]

    @property
    def absent_address(self) -> str:
        """An address of ``network`` with no host: a connect fails (EHOSTUNREACH) after ~3 s of
        unanswered ARP on the bridge; nothing leaves the machine."""
        return str(ipaddress.ip_network(self.network)[ABSENT_OCTET])

    @property
    def cidrs(self) -> list[str]:
        """The smallest CIDR blocks covering exactly the hosts' addresses."""
        first = ipaddress.ip_address(self.hosts[0].address)
        last = ipaddress.ip_address(self.hosts[-1].address)
        return [str(n) for n in ipaddress.summarize_address_range(first, last)]

    def host(self, address: str) -> NamespaceHost:
        return next(h for h in self.hosts if h.address == address)

    def ground_truth(self, ports: Iterable[int]) -> dict[tuple[str, int], str]:
        """{(address, port): "open" | "closed" | "filtered"} for every host and port."""
        ports = list(ports)
        return {(h.address, p): h.state(p) for h in self.hosts for p in ports}


# --- helper processes -------------------------------------------------------------------

# Common start of both helper scripts: die with the parent (PDEATHSIG, and stdin EOF).
_PRELUDE = r"""
import ctypes, json, os, select, sys, time
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = SIGKILL
if os.getppid() != cfg["parent"]:
    sys.exit("parent gone")
"""

# The listeners of one host, run inside its namespace: one selector loop for every port.
LISTENER = (
    _PRELUDE
    + r"""
import selectors, socket
sel = selectors.DefaultSelector()
for port in cfg["open"]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, ("listen", port))
sel.register(sys.stdin.fileno(), selectors.EVENT_READ, ("stdin", 0))
banners = {int(p): b.encode("latin-1") for p, b in cfg["banners"].items()}
http = set(cfg["http"])
held = {}  # socket -> [deadline, port, request bytes]

def close(c):
    held.pop(c, None)
    sel.unregister(c)
    c.close()

def http_answer(req):
    method = req.split(b" ", 1)[0].decode("latin-1")
    body = ("hello from %s\n" % cfg["name"]).encode()
    head = ("HTTP/1.0 200 OK\r\nServer: netkit-test\r\nContent-Type: text/plain\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)).encode()
    return head if method == "HEAD" else head + body

print("ready", flush=True)
while True:
    now = time.monotonic()
    for c, (deadline, _, _) in list(held.items()):
        if deadline <= now:
            close(c)
    for key, _ in sel.select(timeout=0.2):
        kind, port = key.data
        if kind == "stdin":
            if not os.read(key.fd, 1024):
                sys.exit(0)
            continue
        if kind == "listen":
            for _ in range(64):
                try:
                    c, _ = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                c.setblocking(False)
                if len(held) >= cfg["max_held"]:
                    close(min(held, key=lambda k: held[k][0]))
                held[c] = [time.monotonic() + cfg["hold"], port, b""]
                sel.register(c, selectors.EVENT_READ, ("conn", port))
                if port in banners:
                    try:
                        c.send(banners[port])
                    except OSError:
                        close(c)
            continue
        c = key.fileobj
        try:
            data = c.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            close(c)
            continue
        if port in http:
            state = held[c]
            state[2] += data
            req = state[2]
            if b"\r\n\r\n" in req or b"\n\n" in req or len(req) >= cfg["max_request"]:
                try:
                    c.setblocking(True)
                    c.settimeout(1.0)
                    c.sendall(http_answer(req))
                except OSError:
                    pass
                close(c)
"""
)

# The delay line of one host: a TUN device in the root namespace (made first), then one in
# the host's namespace (after setns, where the process stays); IP packets read from one are
# written to the other ``delay`` ms later. Constant delay: a FIFO per direction.
RELAY = (
    _PRELUDE
    + r"""
import collections, fcntl, struct
TUNSETIFF, IFF_TUN, IFF_NO_PI, CLONE_NEWNET = 0x400454CA, 0x0001, 0x1000, 0x40000000

def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd

outer = tun(cfg["outer"])
nsfd = os.open(cfg["netns"], os.O_RDONLY)
if libc.setns(nsfd, CLONE_NEWNET) != 0:
    sys.exit("setns: errno %d" % ctypes.get_errno())
os.close(nsfd)
inner = tun("eth0")
delay = cfg["delay"] / 1000.0
limit = cfg["queue_limit"]
other = {outer: inner, inner: outer}
queues = {outer: collections.deque(), inner: collections.deque()}  # packets to write to fd
stdin = sys.stdin.fileno()
print("ready", flush=True)
while True:
    heads = [q[0][0] for q in queues.values() if q]
    timeout = max(0.0, min(heads) - time.monotonic()) if heads else None
    readable, _, _ = select.select([outer, inner, stdin], [], [], timeout)
    now = time.monotonic()
    for fd in readable:
        if fd == stdin:
            if not os.read(stdin, 1024):
                sys.exit(0)
            continue
        q = queues[other[fd]]
        for _ in range(256):
            try:
                packet = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                break
            if len(q) < limit:
                q.append((now + delay, packet))
    now = time.monotonic()
    for fd, q in queues.items():
        while q and q[0][0] <= now:
            try:
                os.write(fd, q.popleft()[1])
            except OSError:
                pass  # link down, or the kernel's queue full: the packet is lost
"""
)


class _Helper:
    """A helper script run as a child; says "ready" on stdout; exits when stdin closes."""

    def __init__(self, name: str, argv: Sequence[str]) -> None:
        self.name = name
        self.ready = False
        self.killed = False  # by stop(), after it ignored its stdin's end
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            start_new_session=True,
        )

    def wait_ready(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        if self.ready:
            return
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            if not ready:
                raise RuntimeError(f"{self.name} not ready after {READY_TIMEOUT:.0f} s")
            chunk = os.read(self.proc.stdout.fileno(), 64)
            if not chunk:
                self.proc.wait(timeout=STOP_TIMEOUT)
                raise RuntimeError(
                    f"{self.name} exited with status {self.proc.returncode} while starting:\n"
                    + self.error_text()
                )
            line += chunk
        if line.strip() != b"ready":
            raise RuntimeError(f"{self.name} said {line!r}, not ready")
        self.ready = True

    def error_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        proc = self.proc
        with contextlib.suppress(OSError):
            if proc.stdin:
                proc.stdin.close()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdout:
                self.proc.stdout.close()
        self.stderr.close()


# --- commands ---------------------------------------------------------------------------


def _run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    timeout: float = COMMAND_TIMEOUT,
    check: bool = True,
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed with status {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()}"
        )
    return proc


def _ip_batch(commands: Sequence[str], namespace: str | None = None) -> None:
    """Run ``ip`` commands in one process (``ip -batch -``), in ``namespace`` if given."""
    argv = ["ip", *(["-n", namespace] if namespace else []), "-batch", "-"]
    _run(argv, input="\n".join(commands) + "\n")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _namespaces() -> list[str]:
    out = _run(["ip", "-j", "netns", "list"]).stdout.strip()
    return [entry["name"] for entry in json.loads(out or "[]")]


def _links() -> list[str]:
    return [entry["ifname"] for entry in json.loads(_run(["ip", "-j", "link", "show"]).stdout)]


def _kill_namespace_processes(namespace: str) -> None:
    """SIGKILL every process in ``namespace`` and wait (bounded) until they are gone."""
    proc = _run(["ip", "netns", "pids", namespace], check=False)
    pids = [int(p) for p in proc.stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        # Our own children are reaped by their Popen; others (a dead run's) by init.
        time.sleep(0.01)


def _owner_pid(name: str) -> int | None:
    match = NAME_PREFIX_RE.match(name)
    return int(match.group(1)) if match else None


def remove_stale(owner_alive: Callable[[int], bool] = _pid_alive) -> list[str]:
    """Remove namespaces and links named ``nk<pid>n...`` whose pid is gone; return their names."""
    removed = []
    for ns in _namespaces():
        pid = _owner_pid(ns)
        if pid is not None and not owner_alive(pid):
            _kill_namespace_processes(ns)
            _run(["ip", "netns", "delete", ns], check=False)
            removed.append(ns)
    for link in _links():
        pid = _owner_pid(link)
        if pid is not None and not owner_alive(pid):
            _run(["ip", "link", "delete", link], check=False)
            removed.append(link)
    return removed


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network of an address or (non-default) route on the machine."""
    used = []
    for entry in json.loads(_run(["ip", "-4", "-j", "addr", "show"]).stdout):
        for info in entry.get("addr_info", []):
            used.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for entry in json.loads(_run(["ip", "-4", "-j", "route", "show", "table", "all"]).stdout):
        dst = entry.get("dst", "default")
        if dst == "default":
            continue
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(dst, strict=False))
    return used


def _free_subnet() -> ipaddress.IPv4Network:
    used = _used_networks()
    for subnet in ADDRESS_SPACE.subnets(new_prefix=24):
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise RuntimeError(f"no free /24 left in {ADDRESS_SPACE}")


@contextlib.contextmanager
def _setup_lock() -> Iterator[None]:
    """Serialise setups across processes: choosing a free /24 and claiming it is not atomic."""
    with open(LOCK_FILE, "a") as lock:
        deadline = time.monotonic() + 30.0
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{LOCK_FILE} stayed locked for 30 s") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _nft_ruleset(filtered: Sequence[int], loss: float) -> str:
    rules = [
        f"table inet {NFT_TABLE} {{",
        "  chain input {",
        "    type filter hook input priority filter; policy accept;",
        '    iifname "lo" accept',
    ]
    if filtered:
        rules.append(f"    tcp dport {{ {', '.join(map(str, filtered))} }} drop")
    threshold = round(loss * 100)
    if threshold > 0:
        rules.append(f"    numgen random mod 10000 < {threshold} drop")
    rules += ["  }", "}"]
    return "\n".join(rules) + "\n"


# --- the network ------------------------------------------------------------------------


@dataclass
class _Made:
    """What a setup has made so far, for the teardown."""

    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    helpers: list[_Helper] = field(default_factory=list)


def _teardown(made: _Made) -> None:
    errors = []
    for helper in made.helpers:
        try:
            helper.stop()
        except Exception as exc:  # noqa: BLE001 - keep tearing down
            errors.append(f"{helper.name}: {exc}")
            helper.close()
            continue
        if helper.ready and not helper.killed and helper.proc.returncode != 0:
            # It died during the run (a helper told to stop exits 0): what it served was
            # wrong from then on.
            errors.append(
                f"{helper.name} died with status {helper.proc.returncode}: {helper.error_text()}"
            )
        helper.close()
    # Root-side links first: a namespace is freed asynchronously after its delete, and a veth
    # living on in it would keep the name taken for a moment.
    for link in reversed(made.links):
        _run(["ip", "link", "delete", link], check=False)
    for ns in reversed(made.namespaces):
        _kill_namespace_processes(ns)
        _run(["ip", "netns", "delete", ns], check=False)
    left_ns = set(made.namespaces) & set(_namespaces())
    left_links = set(made.links) & set(_links())
    if left_ns or left_links:
        errors.append(f"left behind: namespaces {sorted(left_ns)}, links {sorted(left_links)}")
    if errors:
        raise RuntimeError("testnet teardown: " + "; ".join(errors))


@contextlib.contextmanager
def testnet(
    hosts: int = FIXTURE_HOSTS, loss: float = 0.0, delay: float = 0.0
) -> Iterator[NamespaceNetwork]:
    """Make the network (``hosts`` hosts, ``loss`` %, one-way ``delay`` ms), yield, remove it."""
    if os.geteuid() != 0:
        pytest.fail("testnet needs root (network namespaces, nftables)", pytrace=False)
    need_binary("ip", DEBIAN_IP)
    need_binary("nft", DEBIAN_NFT)
    if not 1 <= hosts <= MAX_HOSTS:
        raise ValueError(f"hosts must be 1..{MAX_HOSTS}, not {hosts}")
    if not 0 <= loss <= 100:
        raise ValueError(f"loss is a percentage, not {loss}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0 ms, not {delay}")
    if delay and not os.path.exists("/dev/net/tun"):
        pytest.fail("delay needs /dev/net/tun (CONFIG_TUN)", pytrace=False)

    prefix = f"nk{os.getpid()}n{next(_sequence)}"
    if len(f"{prefix}h{hosts - 1}") > MAX_IFNAME:
        raise RuntimeError(f"interface names {prefix}h... would pass {MAX_IFNAME} characters")
    made = _Made()
    ok = False
    try:
        net = _setup(prefix, hosts, loss, delay, made)
        ok = True
    finally:
        if not ok:
            with contextlib.suppress(Exception):
                _teardown(made)
    try:
        yield net
    finally:
        _teardown(made)


def _setup(prefix: str, count: int, loss: float, delay: float, made: _Made) -> NamespaceNetwork:
    deadline = time.monotonic() + READY_TIMEOUT
    bridge = f"{prefix}br"
    with _setup_lock():
        remove_stale()
        subnet = _free_subnet()
        gateway = str(subnet[GATEWAY_OCTET])
        made.links.append(bridge)
        _ip_batch(
            [
                f"link add {bridge} type bridge",
                f"addr add {gateway}/24 dev {bridge}",
                f"link set {bridge} up",
            ]
        )
    hosts = []
    for i in range(count):
        ns = f"{prefix}h{i}"
        address = str(subnet[HOST_BASE + i])
        _run(["ip", "netns", "add", ns])
        made.namespaces.append(ns)
        if delay:
            outer = f"{prefix}t{i}"
            relay = _Helper(
                f"relay {outer}",
                [
                    sys.executable,
                    "-I",
                    "-c",
                    RELAY,
                    json.dumps(
                        {
                            "parent": os.getpid(),
                            "outer": outer,
                            "netns": f"/run/netns/{ns}",
                            "delay": delay,
                            "queue_limit": RELAY_QUEUE_LIMIT,
                        }
                    ),
                ],
            )
            made.helpers.append(relay)
            made.links.append(outer)
            relay.wait_ready(deadline)
            _ip_batch(
                [
                    f"addr add {gateway} peer {address}/32 dev {outer}",
                    f"link set {outer} txqueuelen {TUN_TXQUEUELEN} up",
                ]
            )
        else:
            veth = f"{prefix}h{i}"
            made.links.append(veth)
            _ip_batch(
                [
                    f"link add {veth} type veth peer name eth0 netns {ns}",
                    f"link set {veth} master {bridge}",
                    f"link set {veth} up",
                ]
            )
        _ip_batch(
            [
                "link set lo up",
                f"addr add {address}/24 dev eth0",
                f"link set eth0 txqueuelen {TUN_TXQUEUELEN} up" if delay else "link set eth0 up",
            ],
            namespace=ns,
        )
        open_ports = open_ports_of(i)
        host = NamespaceHost(
            index=i,
            namespace=ns,
            address=address,
            open_ports=open_ports,
            closed_ports=closed_ports_of(i),
            filtered_ports=filtered_ports_of(i),
            banner_ports={BANNER_PORT: BANNER},
            http_ports=(HTTP_PORT,),
            silent_ports=tuple(p for p in open_ports if p not in (BANNER_PORT, HTTP_PORT)),
        )
        listener = _Helper(
            f"listeners of {ns}",
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-I",
                "-c",
                LISTENER,
                json.dumps(
                    {
                        "parent": os.getpid(),
                        "name": ns,
                        "open": list(open_ports),
                        "banners": {
                            str(p): b.decode("latin-1") for p, b in host.banner_ports.items()
                        },
                        "http": list(host.http_ports),
                        "hold": HOLD_SECONDS,
                        "max_held": MAX_HELD,
                        "max_request": MAX_REQUEST,
                    }
                ),
            ],
        )
        made.helpers.append(listener)
        hosts.append(host)
    for helper in made.helpers:
        helper.wait_ready(deadline)
    # The filter and the loss go in last: the listeners are up, the links are up.
    for host in hosts:
        _run(
            ["ip", "netns", "exec", host.namespace, "nft", "-f", "-"],
            input=_nft_ruleset(host.filtered_ports, loss),
        )
    return NamespaceNetwork(
        prefix=prefix,
        network=str(subnet),
        gateway=gateway,
        hosts=tuple(hosts),
        loss=loss,
        delay=delay,
        bridge=bridge,
    )


@pytest.fixture(scope="session", name="testnet")
def testnet_fixture() -> Iterator[NamespaceNetwork]:
    """4 namespace hosts behind 50 ms RTT and 2 % loss (see the module docstring)."""
    with testnet(hosts=FIXTURE_HOSTS, loss=FIXTURE_LOSS, delay=FIXTURE_DELAY) as net:
        yield net
