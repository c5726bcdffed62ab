"""Self-tests of the namespace test network (tests/peers/netns.py): its ground truth is exact.

Only plain sockets and nmap talk to the hosts here, so a failure points at the network,
never at netkit. Exactness is proved without loss; with loss, only that connections get
through in the end (and that the loss is real).
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.peers import netns
from tests.peers._base import need_binary

# Every port of the layout is below this: an exhaustive scan of 1..PORTS covers them all.
PORTS = range(1, 1001)
# A probe's wait for an answer: no loss, so open and closed answer in milliseconds (plus the
# delay), and a filtered port is one with no answer in this time.
PROBE_WAIT = 1.5
DELAY = 25.0
REPO = Path(__file__).resolve().parent.parent


def probe(targets: Sequence[tuple[str, int]], wait: float = PROBE_WAIT) -> list[str]:
    """Connect to every target at once (non-blocking); "open", "closed" or "filtered" each.

    "filtered" is no answer within ``wait`` s; any other error is returned as its name, so
    a surprise (EHOSTUNREACH, ...) fails the comparison instead of hiding as "filtered".
    """
    states: list[str] = ["filtered"] * len(targets)
    sel = selectors.DefaultSelector()
    try:
        for i, target in enumerate(targets):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            err = sock.connect_ex(target)
            if err in (0, errno.EINPROGRESS):
                sel.register(sock, selectors.EVENT_WRITE, i)
            else:
                states[i] = errno.errorcode.get(err, str(err))
                sock.close()
        deadline = time.monotonic() + wait
        while sel.get_map() and (left := deadline - time.monotonic()) > 0:
            for key, _ in sel.select(left):
                err = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                states[key.data] = {0: "open", errno.ECONNREFUSED: "closed"}.get(
                    err, errno.errorcode.get(err, str(err))
                )
                sel.unregister(key.fileobj)
                key.fileobj.close()
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
    return states


def scan(net: netns.NamespaceNetwork, ports=PORTS) -> dict[tuple[str, int], str]:
    targets = [(h.address, p) for h in net.hosts for p in ports]
    return dict(zip(targets, probe(targets)))


def recv_all(sock: socket.socket, limit: int = 65536) -> bytes:
    data = b""
    while len(data) < limit:
        chunk = sock.recv(limit)
        if not chunk:
            break
        data += chunk
    return data


def assert_services(net: netns.NamespaceNetwork) -> None:
    """Banner ports greet, HTTP ports answer, silent ports say nothing."""
    for host in net.hosts:
        for port, banner in host.banner_ports.items():
            with socket.create_connection((host.address, port), timeout=5) as sock:
                sock.settimeout(5)
                assert sock.recv(len(banner)) == banner
        for port in host.http_ports:
            for method in ("GET", "HEAD"):
                with socket.create_connection((host.address, port), timeout=5) as sock:
                    sock.settimeout(5)
                    sock.sendall(f"{method} / HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                    assert recv_all(sock) == netns.http_response(host.namespace, method)
    # Silent ports: connected, and nothing to read after a while (all checked at once).
    silent = [
        socket.create_connection((h.address, p), timeout=5)
        for h in net.hosts
        for p in h.silent_ports
    ]
    try:
        time.sleep(0.3)
        for sock in silent:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in silent:
            sock.close()


def nmap_states(net: netns.NamespaceNetwork, ports: str = "1-1000") -> dict[str, dict]:
    """{address: {"ports": {port: state}, "extra": {state: count}}} from nmap -sT's XML."""
    nmap = need_binary("nmap", "nmap")
    proc = subprocess.run(
        [
            nmap,
            "-sT",
            "-Pn",
            "-n",
            "-T4",
            "--max-retries",
            "6",
            "-p",
            ports,
            "-oX",
            "-",
            *net.addresses,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, dict] = {}
    for host in ET.fromstring(proc.stdout).iter("host"):
        address = host.find("address").get("addr")
        listed = {int(p.get("portid")): p.find("state").get("state") for p in host.iter("port")}
        extra = {e.get("state"): int(e.get("count")) for e in host.iter("extraports")}
        result[address] = {"ports": listed, "extra": extra}
    return result


def leftovers(prefix: str) -> tuple[list[str], list[str]]:
    """Namespaces and root-namespace links whose name starts with ``prefix``."""
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    return (
        [line.split()[0] for line in ns.splitlines() if line.startswith(prefix)],
        [
            line.split(":")[1].strip().split("@")[0]
            for line in links.splitlines()
            if line.split(":")[1].strip().startswith(prefix)
        ],
    )


def pids_in(namespace: str) -> list[int]:
    out = subprocess.run(
        ["ip", "netns", "pids", namespace], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


def pids_alive(pids: Sequence[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] != "Z":
                    alive.append(pid)
        except FileNotFoundError:
            pass
    return alive


@pytest.fixture(scope="module")
def clean_net() -> Iterator[netns.NamespaceNetwork]:
    """No loss, no delay: every probe answers as the ground truth says, first time."""
    with netns.testnet(hosts=4, loss=0, delay=0) as net:
        yield net


@pytest.fixture(scope="module")
def delayed_net() -> Iterator[netns.NamespaceNetwork]:
    """No loss, DELAY ms each way through the relays."""
    with netns.testnet(hosts=2, loss=0, delay=DELAY) as net:
        yield net


# --- shape ------------------------------------------------------------------------------


def test_layout(clean_net):
    net = clean_net
    assert len(net.hosts) == 4
    assert net.network.startswith("198.1") and net.network.endswith("/24")
    assert net.gateway == net.network.replace(".0/24", ".1")
    assert net.cidrs == [net.network.replace(".0/24", ".16/30")]
    assert len({h.namespace for h in net.hosts}) == 4
    assert all(h.namespace.startswith(f"nk{os.getpid()}n") for h in net.hosts)
    for i, host in enumerate(net.hosts):
        assert host.address == net.network.replace(".0/24", f".{16 + i}")
        assert host.banner_ports == {22: b"SSH-2.0-netkit-test\r\n"}
        assert 80 in host.http_ports
        assert set(host.banner_ports) | set(host.http_ports) | set(host.silent_ports) == set(
            host.open_ports
        )
        groups = [set(host.open_ports), set(host.closed_ports), set(host.filtered_ports)]
        assert sum(map(len, groups)) == len(set().union(*groups)), "a port in two groups"
        assert max(set().union(*groups)) < 1000
        assert [host.state(p) for p in (22, 25, 21, 9999)] == [
            "open",
            "filtered",
            "closed",
            "closed",
        ]
    # Host-specific ports differ, so a result mixed up between hosts shows.
    assert len({h.open_ports for h in net.hosts}) == 4
    truth = net.ground_truth([22, 25])
    assert truth[(net.hosts[0].address, 25)] == "filtered"
    assert len(truth) == 8


def test_subnet_is_free_and_distinct(clean_net, delayed_net):
    assert clean_net.network != delayed_net.network
    assert clean_net.prefix != delayed_net.prefix
    routes = subprocess.run(
        ["ip", "-4", "route"], capture_output=True, text=True, check=False
    ).stdout
    assert sum(line.startswith(clean_net.network) for line in routes.splitlines()) == 1


def test_nothing_leaves_the_machine(clean_net, delayed_net):
    """Every address of the network, with a host or not, routes to our own links."""
    for net in (clean_net, delayed_net):
        for address in [*net.addresses, net.absent_address]:
            route = json.loads(
                subprocess.run(
                    ["ip", "-j", "route", "get", address],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )[0]
            assert route["dev"].startswith(net.prefix), route
            assert route.get("gateway") is None, route
    with pytest.raises(OSError) as info:
        socket.create_connection((clean_net.absent_address, 80), timeout=10).close()
    assert info.value.errno == errno.EHOSTUNREACH


def test_hosts_have_loopback_and_their_own_listeners(clean_net):
    host = clean_net.hosts[1]
    code = (
        "import socket; s = socket.create_connection(('127.0.0.1', 22), timeout=5);"
        "print(s.recv(64))"
    )
    proc = host.run(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(netns.BANNER)
    table = host.run("nft", "list", "table", "inet", netns.NFT_TABLE)
    assert table.returncode == 0 and "numgen" not in table.stdout  # no loss asked


# --- exact ground truth -----------------------------------------------------------------


def test_listed_ports_with_plain_sockets(clean_net):
    targets = [
        (h.address, p)
        for h in clean_net.hosts
        for p in (*h.open_ports, *h.closed_ports, *h.filtered_ports)
    ]
    assert probe(targets) == [clean_net.host(a).state(p) for a, p in targets]
    for host in clean_net.hosts:
        for port in host.closed_ports:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((host.address, port), timeout=2).close()
    host = clean_net.hosts[0]
    with pytest.raises(TimeoutError):
        socket.create_connection((host.address, host.filtered_ports[0]), timeout=1).close()


def test_every_port_below_1000_with_plain_sockets(clean_net):
    assert scan(clean_net) == clean_net.ground_truth(PORTS)


def test_services(clean_net):
    assert_services(clean_net)


def test_nmap_agrees(clean_net):
    states = nmap_states(clean_net)
    assert set(states) == set(clean_net.addresses)
    for host in clean_net.hosts:
        listed = {p: s for p, s in states[host.address]["ports"].items()}
        expected = {p: host.state(p) for p in (*host.open_ports, *host.filtered_ports)}
        assert listed == expected, host.address
        assert states[host.address]["extra"] == {"closed": 1000 - len(expected)}


def test_delay_keeps_the_ground_truth_and_adds_the_delay(delayed_net):
    assert delayed_net.delay == DELAY
    assert scan(delayed_net) == delayed_net.ground_truth(PORTS)
    assert_services(delayed_net)
    host = delayed_net.hosts[0]
    rtts = []
    for _ in range(5):
        start = time.monotonic()
        socket.create_connection((host.address, host.open_ports[-1]), timeout=5).close()
        rtts.append((time.monotonic() - start) * 1000)
    # A connect takes one round trip: 2 x delay, plus a little for the relay.
    assert 2 * DELAY <= min(rtts) < 2 * DELAY + 40, rtts


# --- loss -------------------------------------------------------------------------------


def test_fixture_gets_through_its_loss(testnet):
    """The session fixture (2 % loss, 50 ms RTT): every open port answers, in the end."""
    assert (testnet.loss, testnet.delay, len(testnet.hosts)) == (
        netns.FIXTURE_LOSS,
        netns.FIXTURE_DELAY,
        netns.FIXTURE_HOSTS,
    )
    table = testnet.hosts[0].run("nft", "list", "table", "inet", netns.NFT_TABLE)
    assert "numgen random mod 10000 < 200 drop" in table.stdout
    for host in testnet.hosts:
        for port in host.open_ports:
            for _attempt in range(5):
                try:
                    socket.create_connection((host.address, port), timeout=3).close()
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail(f"{host.address}:{port} never answered")
        for port in host.closed_ports[:2]:
            for _attempt in range(5):
                try:
                    socket.create_connection((host.address, port), timeout=3).close()
                except ConnectionRefusedError:
                    break
                except TimeoutError:
                    continue
            else:
                pytest.fail(f"{host.address}:{port} was never refused")


def test_loss_is_real():
    """30 % loss on a host's input: about 30 % of SYNs to a closed port go unanswered."""
    with netns.testnet(hosts=1, loss=30) as net:
        host = net.hosts[0]
        got = probe([(host.address, host.closed_ports[0])] * 300, wait=0.8)
    assert set(got) <= {"closed", "filtered"}
    # Binomial(300, 0.3): mean 90, sd 8; these bounds are 6 sd away.
    assert 40 < got.count("filtered") < 140, got.count("filtered")


# --- teardown ---------------------------------------------------------------------------


def test_teardown_removes_everything():
    with netns.testnet(hosts=2, loss=1, delay=5) as net:
        prefix = net.prefix
        ns, links = leftovers(prefix)
        assert len(ns) == 2 and len(links) == 3  # the bridge and the 2 TUNs
        pids = [pid for h in net.hosts for pid in pids_in(h.namespace)]
        assert len(pids) == 4  # a listener and a relay per host
    assert leftovers(prefix) == ([], [])
    assert pids_alive(pids) == []


def test_teardown_after_an_error_in_the_body():
    with pytest.raises(ZeroDivisionError), netns.testnet(hosts=1) as net:
        prefix = net.prefix
        raise ZeroDivisionError
    assert leftovers(prefix) == ([], [])


def test_failed_setup_leaves_nothing(monkeypatch):
    prefixes = []
    real = netns._setup

    def spy(prefix, *args):
        prefixes.append(prefix)
        return real(prefix, *args)

    monkeypatch.setattr(netns, "_setup", spy)
    monkeypatch.setattr(netns, "_nft_ruleset", lambda *a: "this is not nft\n")
    with pytest.raises(RuntimeError, match="nft"), netns.testnet(hosts=2, delay=5):
        pass
    assert leftovers(prefixes[0]) == ([], [])


CRASHER = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tests.peers import netns
with netns.testnet(hosts=2, loss=0, delay=float(sys.argv[2])) as net:
    print(json.dumps({"prefix": net.prefix, "hosts": [h.address for h in net.hosts]}),
          flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("delay", [0.0, 5.0])
def test_setup_after_a_killed_run_cleans_it_and_works(delay):
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(REPO), str(delay)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        assert line, child.stderr.read()
        dead = json.loads(line)
        namespaces, _ = leftovers(dead["prefix"])
        pids = [pid for ns in namespaces for pid in pids_in(ns)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    # The run died without its teardown: its namespaces and links stay behind.
    stale_ns, stale_links = leftovers(dead["prefix"])
    assert len(stale_ns) == 2 and stale_links
    with netns.testnet(hosts=2, loss=0) as net:
        assert leftovers(dead["prefix"]) == ([], [])
        # Its helpers died with it (PDEATHSIG, stdin EOF) or were killed by the cleanup.
        assert pids_alive(pids) == []
        assert scan(net, [22, 25, 21]) == net.ground_truth([22, 25, 21])


def test_a_helper_dying_mid_run_is_reported_at_teardown():
    with pytest.raises(RuntimeError, match="died"), netns.testnet(hosts=1) as net:
        prefix = net.prefix
        for pid in pids_in(net.hosts[0].namespace):
            os.kill(pid, signal.SIGKILL)
    assert leftovers(prefix) == ([], [])
