"""discover's choice of check per greeting and its TOML, and status's table: no sockets."""

import tomllib

import pytest

from netkit.cli.monitor import status_row, status_table
from netkit.monitor._config import parse_config
from netkit.monitor._discover import classify, comment_text, render
from netkit.monitor._records import Sample, TargetInfo, Verdict
from netkit.monitor._state import TargetState


def tls(greeting="", verified=True, why=""):
    return {"greeting": greeting, "verified": verified, "why": why}


@pytest.mark.parametrize("port, greeting, tls_seen, dns, url, opts", [
    (22, "SSH-2.0-OpenSSH_9.2p1", None, None, "ssh://h:22", {}),
    (2222, "SSH-2.0-dropbear", None, None, "ssh://h:2222", {}),
    (21, "220 (vsFTPd 3.0.3)", None, None, "ftp://h:21", {}),
    (2121, "220 pyftpdlib ready", None, None, "ftp://h:2121", {}),
    (25, "220 mx.example ESMTP Postfix", None, None, "smtp://h:25", {}),
    (587, "220 mail ready", None, None, "smtp://h:587", {}),
    (9999, "220 who knows", None, None, "tcp://h:9999", {"expect": "220"}),
    (110, "+OK Dovecot ready.", None, None, "tcp://h:110", {"expect": "+OK"}),
    (143, "* OK [CAPABILITY IMAP4rev1] ready", None, None, "tcp://h:143", {"expect": "* OK"}),
    (80, "HTTP/1.1 200 OK", None, None, "http://h:80/", {}),
    (443, "HTTP/1.1 400 Bad Request", tls("HTTP/1.1 200 OK"), None, "https://h:443/", {}),
    (995, "", tls("+OK ready"), None, "tcp://h:995", {"expect": "+OK", "tls": True}),
    (993, "", tls("* OK ready"), None, "tcp://h:993", {"expect": "* OK", "tls": True}),
    (465, "", tls("220 mx ESMTP"), None, "smtps://h:465", {}),
    (8443, "", tls(""), None, "tls://h:8443", {}),
    (53, "", None, "NOERROR", "dns://h:53/www.example", {"tcp": True}),
    (7, "", None, None, "tcp://h:7", {}),
    (7, "\x00\x1b[2J", None, None, "tcp://h:7", {}),
])
def test_classify(port, greeting, tls_seen, dns, url, opts):
    service = classify("h", port, greeting, tls_seen, dns, "www.example")
    assert (service.url, service.opts) == (url, opts)


def test_names_leave_out_default_ports_and_notes_say_what_to_do():
    assert classify("h", 22, "SSH-2.0-x", None, None, "n").name == "h ssh"
    assert classify("[::1]", 2222, "SSH-2.0-x", None, None, "n").name == "::1 ssh 2222"
    unverified = classify("h", 443, "", tls("HTTP/1.1 200 OK", False, "self-signed certificate\x1b[2J"), None, "n")
    assert "did not verify (self-signed certificate\\x1b[2J)" in unverified.notes[0]
    refused = classify("h", 53, "", None, "REFUSED", "localhost")
    assert "it answered REFUSED to localhost A" in refused.notes[0]


def test_a_greeting_is_a_comment_escaped_and_cut():
    hostile = "SSH-2.0-x\x1b]0;owned\x07\r[[target]]\n url = \"http://evil/\"\u2028\x7f\x9b" + "A" * 500
    service = classify("h", 22, hostile, None, None, "n")
    assert all(c.isprintable() for c in service.banner) and len(service.banner) <= 120
    text = render([service], "netkit monitor discover h\x1b[2J\nname = 'x'", now=0)
    assert all(c.isprintable() or c == "\n" for c in text)
    doc = tomllib.loads(text)
    assert doc["target"] == [{"name": "h ssh", "url": "ssh://h:22"}] and set(doc) == {"defaults", "target"}
    assert text.startswith("# A netkit monitor config, written by `netkit monitor discover h\\x1b[2J\\x0aname")
    assert comment_text(b"\xff\xfeok") == "\\xff\\xfeok"
    assert parse_config(text, "x.toml", env={}).targets[0].id == "h ssh"


def test_render_quotes_values_as_toml():
    service = classify("h", 110, "+OK", tls(), None, "n")
    text = render([service], "cmd", now=0)
    assert tomllib.loads(text)["target"][0] == {"name": "h tls 110", "url": "tls://h:110"}
    service = classify("h", 995, "", tls('+OK "x"'), None, "n")
    target = tomllib.loads(render([service], "c", now=0))["target"][0]
    assert (target["expect"], target["tls"]) == ("+OK", True)


# -- status ------------------------------------------------------------------------------------


def entry(target, verdict=None, states=(), samples=()):
    return {"info": TargetInfo(target, f"tcp://{target}:1"), "verdict": verdict,
            "states": {s.target.split("@")[1]: TargetState(target, **s.kw) for s in states},
            "samples": {loc: Sample(target, loc, at, 0.1, status, summary) for loc, at, status, summary in samples}}


class S:
    def __init__(self, where, **kw):
        self.target, self.kw = where, kw


def test_status_rows_worst_first_with_soft_and_flags():
    now = 10_000.0
    entries = [
        entry("ok1", Verdict("ok1", 0, now - 7200), [S("ok1@a", since=now - 7200)],
              [("a", now - 30, 0, "TCP OK - 0.001 s")]),
        entry("crit", Verdict("crit", 2, now - 90, acked=True), [S("crit@a", status=2, hard_status=2, since=now - 90)],
              [("a", now - 5, 2, "TCP CRITICAL - refused\x1b[2J")]),
        entry("warn", None, [S("warn@a", status=0, hard_status=1, since=now - 4000, flapping=True),
                             S("warn@b", status=0, hard_status=0, since=now - 100)],
              [("a", now - 50, 0, "late"), ("b", now - 10, 0, "newest")]),
        entry("new"),
    ]
    rows = sorted((status_row(e) for e in entries), key=lambda r: (-{2: 3, 1: 2, 3: 1, 0: 0}[r["status"]], r["target"]))
    assert [(r["target"], r["state"]) for r in rows] == [("crit", "CRITICAL"), ("warn", "WARNING"), ("new", "OK"),
                                                          ("ok1", "OK")]
    warn = rows[1]
    assert (warn["since"], warn["last_check"], warn["summary"], warn["soft_in"], warn["flapping"]) == \
        (now - 100, now - 10, "newest", ["a"], True)
    table = status_table(rows, now=now)
    lines = table.splitlines()
    assert lines[0].split() == ["TARGET", "STATE", "SINCE", "LAST", "CHECK", "SUMMARY"]
    assert lines[1].startswith("crit ") and "CRITICAL (ack)" in lines[1] and "1m ago" in lines[1]
    assert "refused\\x1b[2J" in lines[1] and "\x1b" not in table
    assert "WARNING* (flapping)" in lines[2] and lines[-1].startswith("* a location's last result disagrees")
    assert lines[3].split()[:4] == ["new", "OK", "-", "-"]
    assert status_table([]) == "no targets in the store yet\n"


def test_a_name_on_two_addresses_is_one_target():
    from netkit.monitor._discover import unique

    v4 = classify("localhost", 8080, "HTTP/1.1 200 OK", None, None, "n")
    v6 = classify("localhost", 8080, "HTTP/1.1 200 OK", None, None, "n")
    other = classify("localhost", 22, "SSH-2.0-x", None, None, "n")
    assert unique([v4, other, v6]) == [v4, other]
    assert len(parse_config(render(unique([v4, v6, other]), "c", now=0), "x.toml", env={}).targets) == 2
