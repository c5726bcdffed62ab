"""``netkit packets dns`` against the harness's dnsmasq (ground truth: tests/peers/dns.py)
and against a server whose answers lie (tests/peers/packets_dns_hostile.py)."""

import json

import pytest

from tests.helpers import run_netkit
from tests.peers import dns as truth
from tests.peers.packets_dns_hostile import ESCAPE_A, SPOOF_A


def ask(server, *args):
    code, out, err = run_netkit("packets", "dns", *args, f"@{server.host}:{server.port}", timeout=30)
    return code, out, err


def ask_json(server, *args):
    code, out, err = ask(server, *args, "--json")
    return code, json.loads(out) if out else None, err


def test_a_record_whole_answer(dnsmasq):
    code, reply, _ = ask_json(dnsmasq, truth.WWW)
    assert code == 0 and reply["rcode"] == "NOERROR" and reply["transport"] == "UDP"
    assert {"qr", "aa", "rd"} <= set(reply["flags"]) and "ra" not in reply["flags"]
    assert reply["question"] == [{"name": truth.WWW + ".", "type": "A", "class": "IN"}]
    assert [(r["name"], r["type"], r["ttl"], r["data"]) for r in reply["answer"]] == \
        [(truth.WWW + ".", "A", truth.TTL, truth.WWW_V4)]
    assert [(r["type"], r["data"]) for r in reply["authority"]] == [("NS", truth.NS_NAME + ".")]
    assert reply["counts"] == {"question": 1, "answer": 1, "authority": 1, "additional": 0}


@pytest.mark.parametrize("name, rtype", [
    ("netkit.test", "MX"), ("netkit.test", "TXT"), ("netkit.test", "SOA"), ("netkit.test", "CAA"),
    ("_sip._tcp.netkit.test", "SRV"), (truth.MULTI, "A"), (truth.WWW, "AAAA"), ("netkit.test", "NS"),
])
def test_records_match_the_zone(dnsmasq, name, rtype):
    code, reply, _ = ask_json(dnsmasq, name, "-t", rtype)
    assert code == 0
    got = sorted(r["data"] for r in reply["answer"] if r["type"] == rtype)
    assert got == sorted(truth.RECORDS[(name, rtype)])


def test_cname_chain_and_text_output(dnsmasq):
    code, out, _ = ask(dnsmasq, truth.ALIAS)
    assert code == 0
    assert ";; ->>HEADER<<- opcode: QUERY, status: NOERROR" in out
    assert f"{truth.ALIAS}.\t{truth.TTL}\tIN\tCNAME\t{truth.WWW}." in out
    assert f"{truth.WWW}.\t{truth.TTL}\tIN\tA\t{truth.WWW_V4}" in out
    assert ";; ANSWER SECTION:" in out and ";; AUTHORITY SECTION:" in out


def test_show_is_scapys_layered_view(dnsmasq):
    code, out, _ = ask(dnsmasq, truth.WWW, "--show")
    assert code == 0 and "###[ DNS ]###" in out and "###[ DNS Resource Record ]###" in out
    assert "rdata     = 192.0.2.10" in out


def test_nxdomain_is_exit_1_with_the_soa(dnsmasq):
    code, reply, _ = ask_json(dnsmasq, truth.NX_NAME)
    assert code == 1 and reply["rcode"] == "NXDOMAIN"
    assert [r["type"] for r in reply["authority"]] == ["SOA"]


def test_refused_outside_the_zone(dnsmasq):
    code, reply, _ = ask_json(dnsmasq, truth.OUTSIDE_NAME)
    assert code == 1 and reply["rcode"] == "REFUSED"


def test_address_asks_ptr(dnsmasq):
    code, reply, _ = ask_json(dnsmasq, truth.WWW_V4)
    assert code == 0 and reply["question"][0]["type"] == "PTR"
    assert [r["data"] for r in reply["answer"]] == [truth.WWW + "."]


def test_truncated_udp_goes_tcp(dnsmasq):
    code, reply, _ = ask_json(dnsmasq, "big.netkit.test", "-t", "TXT")
    assert code == 0 and reply["transport"] == "TCP" and "tc" not in reply["flags"]
    assert len(reply["answer"]) == truth.BIG_TXT_COUNT


def test_tcp_asked(dnsmasq):
    code, reply, _ = ask_json(dnsmasq, truth.WWW, "--tcp")
    assert code == 0 and reply["transport"] == "TCP" and reply["answer"][0]["data"] == truth.WWW_V4


def test_silent_server_times_out(dns_silent):
    code, out, err = run_netkit("packets", "dns", truth.WWW, f"@{dns_silent.host}:{dns_silent.port}",
                                "--timeout", "0.6")
    assert code == 1 and out == "" and "no answer" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("bad, words", [
    (["x.test", "-t", "BOGUS"], "unknown record type"), (["a..b"], "empty label"), ([], "give one name"),
    (["x.test", "--timeout", "0"], "--timeout"), (["x.test", "@[::1"], "without ']'"),
])
def test_bad_input_is_one_line(bad, words):
    code, out, err = run_netkit("packets", "dns", *bad)
    assert code == 2 and out == "" and words in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("kind, words", [
    ("loop", "points forward"), ("forward", "points forward"), ("counts", "65535 answer records"),
    ("short", "did not answer the query"), ("rdlength", "data length 5000"), ("label", "label type"),
])
def test_lying_answers_fail_alone(hostile_dns, kind, words):
    code, out, err = ask(hostile_dns, f"{kind}.hostile.test", "--timeout", "1")
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and words in err, err


def test_control_characters_are_escaped(hostile_dns):
    code, out, err = ask(hostile_dns, "escape.hostile.test", "-t", "A")
    assert code == 0 and ESCAPE_A in out
    assert "\x1b" not in out + err and "\x07" not in out and "\r" not in out
    assert "\\x1b[31mred\\x07.bell\\x0d.hostile.test." in out
    assert '"x\\027]0;pwn\\007y"' in out  # TXT in the zone-file form
    code, reply, _ = ask_json(hostile_dns, "escape.hostile.test", "--show")
    assert "\x1b" not in json.dumps(reply)


def test_replies_not_ours_are_ignored(hostile_dns):
    code, reply, _ = ask_json(hostile_dns, "spoof.hostile.test")
    assert code == 0 and [r["data"] for r in reply["answer"]] == [SPOOF_A]


@pytest.mark.parametrize("sub", ["dns", "arp", "trace", "sniff"])
def test_usage_errors_name_the_subcommand_once(sub):
    for args in (["--bogus"], ["-Z"]):
        code, out, err = run_netkit("packets", sub, *args)
        assert code == 2 and out == "" and len(err.splitlines()) == 1
        assert err.startswith(f"netkit packets {sub}: ") and err.count("netkit ") - err.count("see netkit") == 1
    code, out, _ = run_netkit("packets", sub, "--help")
    assert code == 0 and out.startswith(f"usage: netkit packets {sub}")


def test_packets_without_a_subcommand():
    code, out, err = run_netkit("packets")
    assert code == 2 and "subcommand" in err
    code, out, err = run_netkit("packets", "snif")
    assert code == 2 and "did you mean sniff" in err
    code, out, _ = run_netkit("packets", "--help")
    assert code == 0 and all(s in out for s in ("dns", "arp", "trace", "sniff"))
