"""The scanner on a real network: 4 hosts in namespaces behind a 50 ms round trip and 2 %
loss, with open, closed and filtered ports -- netkit must find exactly the ground truth."""

import json

from tests.helpers import netkit


def test_exact_ground_truth_through_delay_and_loss(testnet):
    ports = range(1, 1001)
    truth = testnet.ground_truth(ports)
    addresses = [h.address for h in testnet.hosts]
    code, out = netkit("scan", *addresses, "-p", "1-1000", "--json", timeout=120)
    assert code == 0
    found = {}
    for line in out.splitlines():
        item = json.loads(line)
        if item["type"] == "port":
            found[(item["host"], item["port"])] = item["state"]
    wrong = {k: (found.get(k), v) for k, v in truth.items() if found.get(k) != v}
    assert not wrong, f"{len(wrong)} ports differ from the ground truth: {sorted(wrong.items())[:10]}"
    assert len(found) == len(truth) == 4000


def test_banners_through_the_network(testnet):
    host = testnet.hosts[0]
    code, out = netkit("scan", host.address, "-p", "22,80", "--banner", "--json", timeout=60)
    banners = {json.loads(line).get("port"): json.loads(line).get("banner") for line in out.splitlines()}
    assert code == 0 and banners[22] == "SSH-2.0-netkit-test" and banners[80].startswith("HTTP/1.")


def test_cidr_block_of_the_hosts(testnet):
    code, out = netkit("scan", *testnet.cidrs, "-p", "22,25", "--open", "--json", timeout=60)
    opened = sorted(json.loads(line)["host"] for line in out.splitlines()[:-1])
    assert code == 0 and opened == sorted(h.address for h in testnet.hosts)


def test_remote_hosts_are_not_asked_at_once(testnet):
    """Behind a 50 ms round trip no answer is there when connect() returns: after a few
    probes the engine stops asking at once and waits in epoll, and finds the truth."""
    from netkit.scan.engine import EAGER_MISSES, ScanEngine

    host = testnet.hosts[0]
    ports = range(1, 201)
    results, closed = [], []
    engine = ScanEngine([host.address], ports, results.append,
                        on_closed=lambda codes, rtts: closed.extend(c & 0xFFFF for c in codes))
    engine.run()
    state = engine.hosts[0]
    assert not state.eager and EAGER_MISSES < state.misses <= 2 * EAGER_MISSES + 1
    found = {r.port: r.state for r in results} | {p: "closed" for p in closed}
    assert found == {port: s for (_, port), s in testnet.ground_truth(ports).items()}
