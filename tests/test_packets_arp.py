"""``netkit packets arp`` on a bridge of namespaces with known MACs (tests/peers/packets_net.py):
20 live hosts, a silent one, two hosts answering for one address, and a host that sends
malformed frames before its one valid reply -- the sweep must find exactly the truth."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import clean_env, run_netkit
from tests.peers.packets_net import HOSTILE_MAC, VENDOR, VENDOR_MAC, arp_lan


@pytest.fixture(scope="module")
def lan():
    with arp_lan(live=20, silent=True, duplicate=True, hostile=True) as network:
        yield network


def sweep(*args):
    code, out, err = run_netkit("packets", "arp", *args, "--json", timeout=60)
    return code, json.loads(out), err


def test_a_24_finds_exactly_the_truth(lan):
    code, result, _ = sweep(lan.network)
    assert code == 0
    found = {h["address"]: sorted(h["macs"]) for h in result["hosts"]}
    assert found == {a: sorted(m) for a, m in lan.truth.items()}
    assert lan.silent not in found and len(found) == 20 + 2
    assert result["interface"] == lan.bridge and result["source"] == lan.gateway and result["targets"] == 256


def test_duplicate_address_flagged(lan):
    _, result, _ = sweep(lan.duplicate)
    (host,) = result["hosts"]
    assert host["duplicate"] and host["replies"] >= 2 and sorted(host["macs"]) == sorted(lan.truth[lan.duplicate])
    code, out, _ = run_netkit("packets", "arp", lan.duplicate)
    assert code == 0 and "DUPLICATE" in out


def test_vendor_from_the_oui_registry(lan):
    _, result, _ = sweep(f"{lan.network.rsplit('.', 1)[0]}.10")
    assert [(h["mac"], h["vendor"]) for h in result["hosts"]] == [(VENDOR_MAC, VENDOR)]


def test_malformed_replies_change_nothing_else(lan):
    code, result, _ = sweep(lan.hostile)
    assert code == 0 and [(h["address"], h["macs"]) for h in result["hosts"]] == [(lan.hostile, [HOSTILE_MAC])]
    # the cut ones never pass the kernel's filter; the rest are counted and ignored
    assert result["ignored"] >= 3


def test_silent_host_retried_then_exit_1(lan):
    code, result, _ = sweep(lan.silent, "-r", "3", "-t", "0.2")
    assert code == 1 and result["hosts"] == [] and result["sent"] == 3


def test_range_and_text_output(lan):
    base = lan.network.rsplit(".", 1)[0]
    code, out, _ = run_netkit("packets", "arp", f"{base}.10-14", "-i", lan.bridge)
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines[:-1]] == [f"{base}.{i}" for i in range(10, 15)]
    assert lines[-1].startswith(f"5 of 5 addresses answered on {lan.bridge}")


@pytest.mark.parametrize("args, words", [
    (["10.0.0.0/15"], "a /16"), (["2001:db8::/120"], "IPv4"), (["host.example"], "not an address"),
    (["192.0.2.0/24", "-i", "nosuch0"], "no interface 'nosuch0'"), (["127.0.0.1", "-i", "lo"], "Ethernet"),
    ([], "give the addresses"), (["192.0.2.1", "-r", "0"], "--retry"), (["192.0.2.1", "--rate", "x"], "--rate"),
])
def test_bad_input_is_one_line(args, words):
    code, out, err = run_netkit("packets", "arp", *args)
    assert code == 2 and out == "" and words in err and len(err.splitlines()) == 1, err


def test_without_cap_net_raw_one_line_names_it(lan):
    """Capabilities dropped (root without CAP_NET_RAW in its bounding set): no traceback,
    one line naming CAP_NET_RAW and setcap."""
    proc = subprocess.run(["setpriv", "--inh-caps=-all", "--bounding-set=-net_raw", "--", sys.executable, "-m",
                           "netkit", "packets", "arp", lan.network], capture_output=True, text=True, timeout=30,
                          env=clean_env(), check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "CAP_NET_RAW" in proc.stderr and "setcap cap_net_raw+ep" in proc.stderr
    assert os.path.realpath(sys.executable) in proc.stderr
