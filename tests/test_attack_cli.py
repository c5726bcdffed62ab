"""The red team's attacks on dns, connect, send and serve (tests/peers/hostile_attack_dns.py,
hostile_attack_lines.py). Defects in files the `cli` helper owns are xfail(strict), routed."""

import json
import re

import pytest

from tests.helpers import run_netkit

# What must never reach a terminal raw: C0 (but newline and tab), DEL, C1, bidi overrides.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize("command", ["dns", "check"])
def test_dns_records_that_attack_the_terminal_are_escaped(attack_dns, command):
    if command == "dns":
        args = ("dns", "evil.example", "TXT", "--server", attack_dns.server, "-t", "3")
    else:
        args = ("check", "-t", "3", f"dns://{attack_dns.server}/evil.example?type=TXT")
    code, out, err = run_netkit(*args)
    assert code == 0, err
    assert not RAW_CONTROLS.search(out + err)
    assert "6.6.6.6" in out and not any(line.startswith("x.example.") for line in out.splitlines())


@pytest.mark.parametrize("name", ["loop", "many"])
def test_malformed_dns_replies_are_one_line(attack_dns, name):
    code, out, err = run_netkit("dns", f"{name}.example", "--server", attack_dns.server, "-t", "3")
    assert code == 1 and "not a DNS reply" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_netkit("dns", "--json", f"{name}.example", "--server", attack_dns.server, "-t", "3")
    assert code == 1 and json.loads(out)


def test_a_truncated_reply_is_said_so(attack_dns):
    code, out, err = run_netkit("dns", "trunc.example", "TXT", "--server", attack_dns.server, "-t", "3")
    assert code == 1
    assert "(udp): ;" not in err
    assert "truncated" in err


@pytest.mark.parametrize("args", [
    ("ssh", "run", "--connect-timeout", "1", "..", "--", "true"),
    ("ssh", "run", "--connect-timeout", "1", "a..b:22", "--", "true"),
    ("ssh", "run", "--connect-timeout", "1", "a" * 64 + ".example", "--", "true"),
    ("check", "-t", "1", "tcp://a..b:22"),
    ("get", "-o", "out", "http://../x"),
    ("scan", "a..b", "-p", "1"),
])
def test_a_host_name_of_no_dns_shape_is_a_usage_error(tmp_path, args):
    """'..', 'a..b' or a 64-character label went on to the resolver: ssh run and scan then
    said "encoding with 'idna' codec failed (UnicodeError: label empty or too long)" (ssh run
    as a host's failure, exit 1); core.target and scan refuse them as names."""
    code, out, err = run_netkit(*args, cwd=tmp_path)
    assert code == (3 if args[0] == "check" else 2), out + err
    assert "idna" not in out + err and "UnicodeError" not in out + err
    assert "valid host name" in out + err or "bad host syntax" in out + err
