"""Bad input: one UNKNOWN line naming the mistake and the right form, exit 3, no traceback."""

import io
import json
import os

import pytest

from netkit.cli import check as cli_check
from netkit.cli.main import main as netkit_main


def run(*argv):
    out = io.StringIO()
    code = cli_check.main(list(argv), out=out)
    return code, out.getvalue()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["gopher://h:70"], "unknown scheme 'gopher://'"),
        (["tcp://h:0"], "port 0"),
        (["tcp://h:70000"], "port 70000"),
        (["tcp://h"], "needs a port: tcp://host:port"),
        (["h:80"], "no scheme"),
        (["tcp://[::1:80"], "without ']'"),
        (["tcp://h:1", "-w", "10:5"], "--warning expects a range"),
        (["tcp://h:1", "-c", "abc"], "--critical expects a range"),
        (["tcp://h:1", "--timeout", "0"], "--timeout expects a number of seconds greater than 0"),
        (["tcp://h:1", "--timeout"], "--timeout needs a value"),
        (["tcp://h:1", "--tiemout", "3"], "unknown option --tiemout; did you mean --timeout?"),
        (["tcp://h:1", "--send", "\\q"], "unknown escape"),
        (["tcp://h:1", "--refuse", "maybe"], "--refuse expects one of ok, warn, crit"),
        (["udp://h:53"], "udp:// checks need --send and --expect"),
        (["udp://h:53", "--send", "x"], "udp:// checks need --send and --expect"),
        (["http://h/", "--send", "x"], "--send does not apply to http:// checks"),
        (["tcp://h:1", "--status", "200"], "--status does not apply to tcp:// checks"),
        (["tcp://h:1", "--insecure"], "applies to tcp:// checks only with --tls"),
        (["http://h/", "--status", "2xz"], "--status expects"),
        (["http://h/", "--status", "700"], "100 to 599"),
        (["http://h/", "--header", "NoColon"], "'Name: value'"),
        (["http://h/", "--header", "Bad Name: v"], "not an HTTP token"),
        (["http://h/", "--data", "novalue"], "key=value"),
        (["http://h/", "--body-regex", "("], "not a valid regular expression"),
        (["http://h/", "--max-body", "lots"], "--max-body expects a size"),
        (["http://h/", "--cacert", "/nonexistent.pem"], "readable file"),
        (["http://h/", "--user", "admin"], "the password for admin is needed"),
        (["http://h/", "--password-env", "X"], "needs a user"),
        (["http://h/", "--user", "admin", "--password-env", "NETKIT_SURELY_UNSET"], "has no NETKIT_SURELY_UNSET"),
        (["http://h/", "-4", "-6"], "exclude each other"),
        (["tls://h", "--cert-warn", "soon"], "--cert-warn expects a whole number of days"),
        (["--json", "--concurrency", "0", "tcp://h:1"], "--concurrency"),
        ([], "no checks given"),
        (["--file", "/nonexistent/checks.toml"], "cannot read checks file"),
        (["--insecure=yes", "tls://h"], "takes no value"),
    ],
)
def test_bad_input_is_unknown(argv, words):
    code, out = run(*argv)
    assert code == 3
    lines = out.strip().splitlines()
    assert len(lines) == 1
    if "--json" in argv:
        obj = json.loads(lines[0])
        assert obj["status"] == "UNKNOWN" and words in obj["error"]
    else:
        assert lines[0].startswith("NETKIT UNKNOWN - ")
        assert words in lines[0], lines[0]
    assert "Traceback" not in out


def test_help_lists_every_option():
    from netkit.cli.check import OPTIONS

    code, out = run("--help")
    assert code == 0
    for option in OPTIONS:
        assert f"--{option.name}" in out


def test_top_level_command():
    assert netkit_main([]) == 2
    assert netkit_main(["--version"]) == 0
    assert netkit_main(["chek"]) == 2


def test_top_level_unknown_command_suggests(capsys):
    netkit_main(["chek"])
    assert "did you mean check?" in capsys.readouterr().err


def test_internal_errors_are_one_unknown_line(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("kaput")

    monkeypatch.setattr("netkit.check.run.run_one", boom)
    code, out = run("tcp://127.0.0.1:1")
    assert code == 3 and out.startswith("NETKIT UNKNOWN - internal error: RuntimeError: kaput")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["pop3://h"], "pop3:// checks log in: give a user"),
        (["imaps://h"], "imaps:// checks log in"),
        (["smtp://h", "--cacert", "/etc/hostname"], "applies to smtp:// checks only with --starttls"),
        (["smtps://h", "--starttls"], "--starttls does not apply to smtps://"),
        (["ftp://h", "--insecure"], "applies to ftp:// checks only with --tls"),
        (["dns://127.0.0.1"], "dns:// checks need a name"),
        (["dns:///example.com?type=BOGUS"], "type=BOGUS"),
        (["dns:///example.com?kind=A"], "unknown query parameter 'kind'"),
        (["dns:///example.com?type=MX", "--type", "A"], "give one"),
        (["dns:///example.com", "--type", "ANY"], "--type expects a record type"),
        (["dns:///example.com", "--expect-address", "not-an-ip"], "--expect-address expects an IP"),
        (["ssh://h", "--hostkey", "abc"], "--hostkey expects a host key fingerprint"),
        (["ssh://h", "--identity", "/nonexistent/key"], "readable file"),
        (["ssh://h", "--send", "x"], "--send does not apply to ssh://"),
    ],
)
def test_bad_input_for_the_other_schemes(argv, words):
    code, out = run(*argv)
    assert code == 3 and out.startswith("NETKIT UNKNOWN - ") and words in out, out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["dns://127.0.0.1/a..b"], "empty label"),
        (["dns://127.0.0.1/" + "x" * 64 + ".test"], "longer than 63"),
        (["dns://127.0.0.1/example.com", "--type", "MX", "--expect-address", "192.0.2.1"], "A and AAAA"),
        (["dns://127.0.0.1/example.com", "--expect-nxdomain", "--answers", "1:"], "exclude each other"),
        (["ssh://h", "--user", "root"], "only with --identity"),
    ],
)
def test_bad_dns_and_ssh_input(argv, words):
    code, out = run(*argv)
    assert code == 3 and words in out, out


def test_replies_shown_on_a_terminal_keep_split_characters_and_line_ends(tmp_path):
    from netkit.serve.client import _Sink

    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        sink = _Sink(fd, crlf=True, escape=True)
        for chunk in (b"caf\xc3", b"\xa9\r", b"\n\x1b[2J", b"\xff", b"last\r"):
            sink.write(chunk)
        sink.end()
    finally:
        os.close(fd)
    assert path.read_bytes() == "café\n\\x1b[2J\\xfflast\r".encode()  # a last CR is a line end
