"""``netkit packets trace`` through a chain of namespace routers (tests/peers/packets_net.py):
4 routers, the 2nd silent (it drops the ICMP time-exceeded it makes), two targets with port
80 open and 443 closed -- every path must be the ground truth the test built."""

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.helpers import clean_env, run_netkit
from tests.peers.packets_net import CLOSED_PORT, HOSTILE_PORT, OPEN_PORT, router_chain


@pytest.fixture(scope="module")
def chain():
    with router_chain(routers=4, targets=2, drop_at=2, hostile=True) as network:
        yield network


def trace(*args):
    code, out, err = run_netkit("packets", "trace", *args, "--json", timeout=60)
    return code, json.loads(out), err


def path(flow):
    return [(h["addresses"][0] if len(h["addresses"]) == 1 else h["addresses"] or None) for h in flow["hops"]]


def test_tcp_paths_and_answers_match_the_topology(chain):
    code, result, _ = trace(*chain.targets, "-p", f"{OPEN_PORT},{CLOSED_PORT}")
    assert code == 0 and len(result["flows"]) == 4
    for flow in result["flows"]:
        assert path(flow) == chain.hops[flow["address"]], flow
        assert flow["reached"] and flow["final"] == ("SYN-ACK" if flow["port"] == OPEN_PORT else "RST")
        assert all(len(h["probes"]) == 3 for h in flow["hops"])
        silent = flow["hops"][chain.drop_at - 1]
        assert [p["address"] for p in silent["probes"]] == [None, None, None]
        assert all(p["rtt_ms"] is not None and p["rtt_ms"] >= 0 for h in flow["hops"] if h["addresses"]
                   for p in h["probes"])


@pytest.mark.parametrize("method, final", [("--udp", "port-unreachable"), ("--icmp", "echo-reply")])
def test_udp_and_icmp_probes_find_the_same_path(chain, method, final):
    code, result, _ = trace(chain.targets[0], method, "-q", "2")
    (flow,) = result["flows"]
    assert code == 0 and flow["reached"] and flow["final"] == final and path(flow) == chain.hops[chain.targets[0]]


def test_text_output_like_traceroute(chain):
    code, out, _ = run_netkit("packets", "trace", chain.targets[0], "-p", str(CLOSED_PORT), "-q", "1")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(f"trace to {chain.targets[0]} ({chain.targets[0]}), tcp port 443")
    assert lines[chain.drop_at].split() == [str(chain.drop_at), "*"]
    assert lines[1].split()[:2] == ["1", chain.routers[0]]
    assert lines[-1].split()[1] == chain.targets[0] and lines[-1].endswith("[RST: closed]")


def test_not_reached_within_max_ttl_is_exit_1(chain):
    code, result, _ = trace(chain.targets[0], "-m", "3", "-q", "1")
    (flow,) = result["flows"]
    assert code == 1 and not flow["reached"] and [h["ttl"] for h in flow["hops"]] == [1, 2, 3]
    assert path(flow) == chain.hops[chain.targets[0]][:3]


def test_first_ttl_skips_the_near_hops(chain):
    code, result, _ = trace(chain.targets[1], "-f", "3", "-q", "1")
    assert code == 0 and path(result["flows"][0]) == chain.hops[chain.targets[1]][2:]


def test_malformed_answers_fail_only_themselves(chain):
    """The first target answers each probe to HOSTILE_PORT with cut, lying and misdirected
    ICMP and TCP before its kernel's RST: the path and the answer stay the truth."""
    code, result, _ = trace(chain.targets[0], "-p", str(HOSTILE_PORT), "-q", "2")
    (flow,) = result["flows"]
    assert code == 0 and flow["final"] == "RST" and path(flow) == chain.hops[chain.targets[0]]
    assert result["ignored"] >= 4


def test_graph_is_valid_svg_naming_every_hop(chain, tmp_path):
    out = tmp_path / "paths.svg"
    code, _, _ = run_netkit("packets", "trace", *chain.targets, "-p", "80,443", "-q", "1", "--graph", out)
    assert code == 0
    root = ET.parse(out).getroot()  # well-formed XML, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for target in chain.targets:
        assert {a for a in chain.hops[target] if a} <= texts
    assert "*" in texts and "tcp/80 SYN-ACK" in texts and "tcp/443 RST" in texts


def test_graph_as_dot_and_png(chain, tmp_path):
    dot, png = tmp_path / "paths.dot", tmp_path / "paths.png"
    assert run_netkit("packets", "trace", chain.targets[0], "-q", "1", "--graph", dot)[0] == 0
    assert dot.read_text().startswith("digraph trace {") and f'"{chain.routers[0]}"' in dot.read_text()
    assert run_netkit("packets", "trace", chain.targets[0], "-q", "1", "--graph", png)[0] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, words", [
    (["192.0.2.1", "--udp", "--icmp"], "exclude each other"), (["192.0.2.1", "--icmp", "-p", "80"], "no port"),
    (["192.0.2.1", "-p", "0"], "--port"), (["192.0.2.1", "-m", "65"], "--max-ttl"),
    (["192.0.2.1", "-f", "9", "-m", "3"], "past --max-ttl"), (["192.0.2.1", "--graph", "x.gif"], ".svg, .png or .dot"),
    (["192.0.2.1", "--graph", "/nonexistent/x.svg"], "no such directory"), ([], "give the hosts"),
    (["2001:db8::1"], "IPv4 only"), (["no-such-host.invalid"], "cannot resolve"),
])
def test_bad_input_is_one_line(args, words):
    code, out, err = run_netkit("packets", "trace", *args)
    assert code == 2 and out == "" and words in err and len(err.splitlines()) == 1, err


def test_without_cap_net_raw_one_line_names_it(chain):
    proc = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw", "--", sys.executable, "-m",
                           "netkit", "packets", "trace", chain.targets[0]], capture_output=True, text=True,
                          timeout=30, env=clean_env(), check=False)
    assert proc.returncode == 1 and proc.stdout == "" and len(proc.stderr.splitlines()) == 1
    assert "CAP_NET_RAW" in proc.stderr and "setcap" in proc.stderr and "Traceback" not in proc.stderr


def test_ecmp_paths_are_kept_apart(tmp_path):
    """r1 balances by 5-tuple over two middles: each flow (port) keeps one path, all its
    probes agree, and over 16 ports both paths show up, each named in the graph."""
    from tests.peers.packets_net import ecmp_diamond

    with ecmp_diamond() as diamond:
        ports = ",".join(str(p) for p in range(2000, 2016))
        graph = tmp_path / "ecmp.dot"
        code, result, _ = trace(diamond.target, "-p", ports, "--graph", graph)
        assert code == 0 and len(result["flows"]) == 16
        middles = set()
        for flow in result["flows"]:
            hops = [h["addresses"] for h in flow["hops"]]
            assert hops[0] == [diamond.first] and hops[3] == [diamond.target] and flow["final"] == "RST"
            assert len(hops[1]) == 1 and hops[1][0] in diamond.middle  # one middle per flow, never both
            assert hops[2] == [diamond.last]  # r3 answers from the address of its route back, by r2a
            middles.add(hops[1][0])
        assert middles == set(diamond.middle)
        dot = graph.read_text()
        assert all(f'"{diamond.first}" -> "{m}"' in dot for m in diamond.middle)
