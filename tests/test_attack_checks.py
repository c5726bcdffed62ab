"""The red team's attacks on check (tests/peers/hostile_attack_lines.py): a sweep where one
check in ten talks to a hostile peer, and peers' text that would inject perfdata, long
output or terminal sequences into what the monitor reads."""

import json
import re

import pytest

from tests.helpers import run_netkit
from tests.peers.hostile_attack_lines import HOSTILE_TEXT

HOSTILE_KINDS = ("trickle", "endless", "reset", "garbage", "silent")
HOSTILE_SCHEMES = ("smtp", "pop3", "imap", "ftp")
# What must never reach the monitor's line raw: ESC, BEL, CSI (C1), the bidi override.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _sweep(attack_lines):
    """200 checks: every tenth a hostile peer (kind and protocol rotating), the rest good."""
    urls = []
    for i in range(200):
        if i % 10 == 5:
            kind = HOSTILE_KINDS[(i // 10) % len(HOSTILE_KINDS)]
            scheme = HOSTILE_SCHEMES[(i // 10) % len(HOSTILE_SCHEMES)]
            user = "" if scheme == "smtp" else "u:pw@"
            urls.append((kind, f"{scheme}://{user}127.0.0.1:{getattr(attack_lines, kind)}/?n={i}"))
        else:
            urls.append(("good", f"smtp://127.0.0.1:{attack_lines.smtp}/?n={i}"))
    return urls


@pytest.mark.parametrize("output", ["nagios", "json"])
def test_a_sweep_with_hostile_peers_fails_only_their_checks(attack_lines, output):
    urls = _sweep(attack_lines)
    args = ["-t", "2", "--concurrency", "50", *(u for _, u in urls)]
    if output == "json":
        args.insert(0, "--json")
    code, out, err = run_netkit("check", *args, timeout=120)
    assert code == 2, err
    lines = out.splitlines()
    assert len(lines) == len(urls), err
    assert not RAW_CONTROLS.search(out)
    for (kind, url), line in zip(urls, lines, strict=True):
        if output == "json":
            result = json.loads(line)
            assert result["target"].endswith(url.rsplit("/", 1)[-1]) or url.rsplit("?", 1)[-1] in line
            status = result["status"]
        else:
            status = line.split()[1]
        assert status == ("OK" if kind == "good" else "CRITICAL"), (url, line)


def test_peer_text_in_verbose_output_does_not_start_perfdata(attack_lines):
    """Nagios reads the first '|' of the long output (the lines after the first) as the start
    of more perfdata: a peer's '|' in the -v dialogue put its own metrics in the graphs."""
    code, out, err = run_netkit("check", "-v", "-t", "5", f"smtp://127.0.0.1:{attack_lines.ansi}")
    assert code == 0, out + err
    first, *long_text = out.splitlines()
    assert first.count("|") == 1  # our own perfdata
    assert any("rta=0.0s" in line for line in long_text)  # the peer's words are still shown
    assert not any("|" in line for line in long_text)
    assert not RAW_CONTROLS.search(out)


def test_peer_text_in_json_is_escaped(attack_lines):
    code, out, _ = run_netkit("check", "--json", "-t", "5", f"smtp://127.0.0.1:{attack_lines.ansi}")
    assert code == 0
    assert not RAW_CONTROLS.search(out)
    result = json.loads(out)
    assert HOSTILE_TEXT in result["details"]["greeting"]  # escaped on the wire, intact when read
