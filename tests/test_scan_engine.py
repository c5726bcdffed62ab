"""The scan engine against ground truth it sets up itself on loopback."""

import os
import socket
import subprocess
import sys

import pytest

from netkit.scan.engine import ScanEngine
from netkit.scan.model import CLOSED, FILTERED, OPEN
from netkit.scan.run import scan
from tests.helpers import dropping


@pytest.fixture
def listeners():
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(5)]
    yield sorted(s.getsockname()[1] for s in socks)
    for s in socks:
        s.close()


def closed_ports(n):
    """Ports with nothing listening: bound (so nobody takes them) but not listening."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    return socks, sorted(s.getsockname()[1] for s in socks)


def states(report):
    out = {OPEN: set(), CLOSED: set(), FILTERED: set()}
    for host in report.hosts:
        for p in host.ports:
            out[p.state].add(p.port)
    return out


def test_exact_ground_truth(listeners):
    holders, closed = closed_ports(20)
    ports = listeners + closed
    report = scan([("127.0.0.1", None)], ports, workers=1)
    found = states(report)
    assert found[OPEN] == set(listeners) and found[CLOSED] == set(closed) and not found[FILTERED]
    assert [p.port for p in report.hosts[0].ports] == ports  # in the order asked
    for h in holders:
        h.close()


def test_forked_workers_find_the_same(listeners):
    holders, closed = closed_ports(50)
    ports = sorted(listeners + closed)
    one = states(scan([("127.0.0.1", None)], ports, workers=1))
    two = states(scan([("127.0.0.1", None)], ports, workers=2))
    assert one == two and one[OPEN] == set(listeners)
    for h in holders:
        h.close()


def test_ipv6_loopback():
    server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    port = server.getsockname()[1]
    report = scan([("::1", None)], [port, 1], workers=1)
    assert [(p.port, p.state) for p in report.hosts[0].ports] == [(port, OPEN), (1, CLOSED)]
    server.close()


def test_self_connect_is_not_open():
    """A loopback connect from port P to port P meets itself (simultaneous open)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.connect(("127.0.0.1", port))  # nothing listens, yet this "connects"
    assert sock.getsockname() == sock.getpeername()
    results = []
    engine = ScanEngine(["127.0.0.1"], [port], results.append)
    engine._finish(sock, engine.hosts[0], port, 0, 0.001, 0, [], results.append)
    assert results[0].state == CLOSED


def test_service_names_from_the_services_database(listeners):
    report = scan([("127.0.0.1", None)], [22, 80, listeners[0]], workers=1, retries=0)
    services = {p.port: p.service for p in report.hosts[0].ports}
    assert services[22] == "ssh" and services[80] == "http"


def test_filtered_ports_behind_a_firewall_rule():
    """nftables drops SYNs to one port: no answer, so filtered (after the retries)."""
    server = socket.create_server(("127.0.0.1", 0))
    dropped = server.getsockname()[1]
    with dropping(f"ip daddr 127.0.0.1 tcp dport {dropped}"):
        report = scan([("127.0.0.1", None)], [dropped, 1], workers=1, retries=1, max_timeout=0.3)
    server.close()
    got = {p.port: (p.state, p.reason) for p in report.hosts[0].ports}
    assert got == {dropped: (FILTERED, "no-response"), 1: (CLOSED, "conn-refused")}


def test_never_too_many_open_files():
    """A descriptor limit far below the concurrency slows the scan; it does not break it."""
    code = (
        "import json, resource, socket\n"
        "servers = [socket.create_server(('127.0.0.1', 0)) for _ in range(3)]\n"
        "wanted = sorted(s.getsockname()[1] for s in servers)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (80, 80))\n"
        "from netkit.scan.run import scan\n"
        "r = scan([('127.0.0.1', None)], list(range(1, 3001)) + wanted, concurrency=5000, workers=1)\n"
        "print(json.dumps([wanted, sorted(p.port for p in r.hosts[0].ports if p.state == 'open'), r.counts()]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    import json

    wanted, opened, counts = json.loads(out.stdout)
    assert set(wanted) <= set(opened) and all(p <= 3000 or p in wanted for p in opened)
    assert counts["filtered"] == 0 and sum(counts.values()) == 3003


def test_async_api_yields_as_it_goes(listeners):
    import asyncio

    from netkit.scan import scan_iter

    async def first_open():
        seen = []
        async for result in scan_iter([("127.0.0.1", None)], listeners + list(range(1, 200))):
            seen.append(result)
            if sum(r.state == OPEN for r in seen) == len(listeners):
                break  # leaving early stops the engine
        return seen

    seen = asyncio.run(first_open())
    assert {r.port for r in seen if r.state == OPEN} == set(listeners)


def test_ephemeral_port_exhaustion_slows_but_stays_exact():
    """A namespace with 50 ephemeral ports and 2,000 connects asked for at once: still exact.
    (Linux reuses a source port across destination ports, so this rarely runs dry; the
    back-off itself is driven below with injected EMFILE/EADDRNOTAVAIL.)"""
    ns = f"nkeph{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_local_port_range=40000 40049"],
                       check=True)
        code = (
            "import json, socket\n"
            "servers = [socket.create_server(('127.0.0.1', p)) for p in (1500, 2500)]\n"
            "from netkit.scan.run import scan\n"
            "r = scan([('127.0.0.1', None)], range(1, 3001), concurrency=2000, workers=1)\n"
            "print(json.dumps([sorted(p.port for p in r.hosts[0].ports if p.state == 'open'), r.counts()]))\n"
        )
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True,
                             text=True, check=True, timeout=120)
        import json

        opened, counts = json.loads(out.stdout)
        assert opened == [1500, 2500] and counts == {"open": 2, "closed": 2998, "filtered": 0}
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def test_back_off_on_resource_errors(monkeypatch, listeners):
    """Sockets that fail with EMFILE, connects with EADDRNOTAVAIL: fewer in flight, nothing lost."""
    import errno

    from netkit.scan import engine as engine_module

    real_socket = engine_module._socket.socket
    failures = {"socket": 30, "connect": 30}

    class Flaky:
        def __init__(self, *args):
            if failures["socket"] > 0 and failures["socket"] % 3 == 0:
                failures["socket"] -= 1
                raise OSError(errno.EMFILE, "Too many open files")
            failures["socket"] -= 1
            self._sock = real_socket(*args)

        def connect_ex(self, address):
            if failures["connect"] > 0 and failures["connect"] % 2 == 0:
                failures["connect"] -= 1
                return errno.EADDRNOTAVAIL
            failures["connect"] -= 1
            return self._sock.connect_ex(address)

        def __getattr__(self, name):
            return getattr(self._sock, name)

    class FakeModule:
        def __getattr__(self, name):
            return getattr(engine_module._real_socket_module, name)

        socket = Flaky

    monkeypatch.setattr(engine_module, "_real_socket_module", engine_module._socket, raising=False)
    fake = FakeModule()
    monkeypatch.setattr(engine_module, "_socket", fake)
    results = []
    holders, closed = closed_ports(100)
    ports = listeners + closed
    eng = engine_module.ScanEngine(["127.0.0.1"], ports, results.append, concurrency=64)
    eng.run()
    for h in holders:
        h.close()
    assert sorted(r.port for r in results) == sorted(ports)
    assert {r.port for r in results if r.state == OPEN} == set(listeners)
    assert eng.limit < 64  # it backed off


def test_rate_cap_is_never_exceeded(monkeypatch):
    """--rate R: by any moment t of the scan, at most R*t + 1 probes have gone out."""
    from netkit.scan import engine as engine_module

    starts = []
    real_socket = engine_module._socket.socket

    class Recorded:
        def __init__(self, *args):
            self._sock = real_socket(*args)

        def connect_ex(self, address):
            starts.append(engine_module.time.monotonic())
            return self._sock.connect_ex(address)

        def __getattr__(self, name):
            return getattr(self._sock, name)

    class Module:
        socket = Recorded

        def __getattr__(self, name):
            return getattr(engine_module._socket_real, name)

    monkeypatch.setattr(engine_module, "_socket_real", engine_module._socket, raising=False)
    monkeypatch.setattr(engine_module, "_socket", Module())
    holders, closed = closed_ports(40)
    rate = 100
    engine_module.ScanEngine(["127.0.0.1"], closed, lambda r: None, rate=rate).run()
    for h in holders:
        h.close()
    assert len(starts) == 40
    first = starts[0]
    for k, t in enumerate(starts):  # one probe of slack: the engine's clock starts before the first probe
        assert k <= rate * (t - first) + 2, (k, t - first)


def test_closed_ports_come_in_compact_batches(listeners):
    """With on_closed, a closed port is a code (host index << 16 | port) and an rtt in a
    batch, not an object; everything else still comes through on_result."""
    holders, closed = closed_ports(30)
    results, codes, rtts = [], [], []

    def batch(c, r):
        codes.extend(c)
        rtts.extend(r)

    hosts = ["127.0.0.2", "127.0.0.1"]
    ScanEngine(hosts, listeners + closed, results.append, on_closed=batch).run()
    assert sorted((r.address, r.port, r.state) for r in results) == sorted(
        ("127.0.0.1", p, OPEN) for p in listeners)
    assert len(codes) == len(rtts) == 2 * len(closed) + len(listeners)  # 127.0.0.2 refuses all
    assert sorted(codes) == sorted([p for p in closed] + [1 << 16 | p for p in closed]
                                   + [0 << 16 | p for p in listeners])
    assert all(isinstance(r, float) and r >= 0 for r in rtts)
    for h in holders:
        h.close()


def test_loopback_answers_are_taken_at_once(listeners):
    """Loopback has answered by the time connect() returns: the engine asks at once and
    keeps doing so (a remote host stops it: tests/test_scan_netns.py)."""
    holders, closed = closed_ports(100)
    found = []
    engine = ScanEngine(["127.0.0.1"], closed + listeners, found.append, on_closed=lambda c, r: None)
    engine.run()
    host = engine.hosts[0]
    assert host.eager and host.hits >= len(closed) and {r.port for r in found} == set(listeners)
    for h in holders:
        h.close()
