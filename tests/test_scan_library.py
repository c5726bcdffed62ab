"""netkit.scan as a library, with targets and ports written as users write them, against
listeners it sets up itself on loopback."""

import asyncio
import ipaddress
import socket

import pytest

from netkit.core.errors import UsageError
from netkit.core.timeout import Timeout
from netkit.scan import scan, scan_iter
from netkit.scan.model import CLOSED, OPEN


@pytest.fixture
def ground_truth():
    """(open ports, closed ports) of 127.0.0.1: three listening, three bound but not listening."""
    listening = [socket.create_server(("127.0.0.1", 0)) for _ in range(3)]
    bound = [socket.socket() for _ in range(3)]
    for s in bound:
        s.bind(("127.0.0.1", 0))
    yield [s.getsockname()[1] for s in listening], [s.getsockname()[1] for s in bound]
    for s in listening + bound:
        s.close()


def found(report):
    return {(h.address, p.port): p.state for h in report.hosts for p in h.ports}


def test_strings_lists_ranges_and_numbers(ground_truth):
    opened, closed = ground_truth
    ports = opened + closed
    spec = ",".join(map(str, ports))
    one = found(scan("127.0.0.1", spec, timeout=Timeout(60, connect=1)))
    assert one == {**{("127.0.0.1", p): OPEN for p in opened}, **{("127.0.0.1", p): CLOSED for p in closed}}
    # A list of specs (a name, a range of addresses), ports as a list of numbers and strings.
    two = scan(["localhost", "127.0.0.1-2"], [opened[0], str(closed[0])], family=4, retries=1)
    assert [h.address for h in two.hosts] == ["127.0.0.1", "127.0.0.2"]
    assert two.hosts[0].hostname == "localhost"
    assert found(two)[("127.0.0.1", opened[0])] == OPEN and found(two)[("127.0.0.1", closed[0])] == CLOSED
    # One port as a number, an ipaddress network, exclude as a string.
    three = scan(ipaddress.ip_network("127.0.0.0/30"), opened[1], exclude="127.0.0.0,127.0.0.2-3")
    assert found(three) == {("127.0.0.1", opened[1]): OPEN}
    # The pairs of expand_targets and a range still work.
    low, high = min(ports), max(ports)
    four = found(scan([("127.0.0.1", None)], range(low, high + 1), concurrency=64))
    assert all(four[("127.0.0.1", p)] == OPEN for p in opened)


def test_top_ports_by_name(ground_truth):
    report = scan("127.0.0.1", "top10", retries=0, timeout=Timeout(connect=0.5))
    assert len(report.ports) == 10 and report.ports[0] == 80


def test_scan_iter_takes_the_same_forms(ground_truth):
    opened, closed = ground_truth

    async def collect():
        return [r async for r in scan_iter("127.0.0.1", ",".join(map(str, opened + closed)), retries=1)]

    results = asyncio.run(collect())
    assert {r.port for r in results if r.state == OPEN} == set(opened)
    assert {r.port for r in results if r.state == CLOSED} == set(closed)


@pytest.mark.parametrize("targets, ports, words", [
    ("127.0.0.1", "22,x", "'x' in -p 22,x is not a port number"),
    ("127.0.0.1", 0, "port 0 is out of range"),
    ("127.0.0.1", [22, True], "True is not a port number"),
    ("127.0.0.1", "topten", "write top followed by a number"),
    ("127.0.0.1", [], "no ports"),
    ("10.0.0.0/33", "22", "prefix length is at most 32"),
    ("", "22", "no targets"),
    ([("127.0.0.1", None), "web1"], "22", "not a mix"),
    ([1234], "22", "target 1234 is not"),
])
def test_bad_forms_are_usage_errors(targets, ports, words):
    with pytest.raises(UsageError, match=words):
        scan(targets, ports)


@pytest.mark.parametrize("options, words", [
    ({"concurrency": 0}, r"scan\(concurrency=0\)"), ({"retries": -1}, r"scan\(retries=-1\)"),
    ({"rate": 0}, r"scan\(rate=0\)"), ({"timeout": "fast"}, "timeout expects seconds"),
    ({"timeout": -1}, "more than 0"), ({"max_time": 0}, r"scan\(max_time=0\)"),
])
def test_bad_options_are_usage_errors(options, words):
    with pytest.raises(UsageError, match=words):
        scan("127.0.0.1", "22", **options)
