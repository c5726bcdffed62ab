"""netkit check against hostile peers and hostile input (issue 12): one bad peer fails one
check and never the run; nothing from input reaches a protocol line with CR/LF/NUL;
durations and checks files are bounded; Ctrl-C keeps the Nagios contract."""

import os
import signal
import subprocess
import sys
import time

import pytest

from netkit.check import build_spec, run_checks
from netkit.check.spec import CheckSpec, parse_check_target
from netkit.core.errors import NetkitError, ProtocolError, UsageError
from netkit.core.status import CRITICAL, OK, UNKNOWN
from netkit.drivers import aio, blocking
from netkit.proto.actions import Connect, Recv, Send
from netkit.proto.mail import pop3_dialogue, smtp_dialogue
from tests.helpers import check, check_json, clean_env, run_netkit

H = "127.0.0.1"


def url(scheme, port, path=""):
    return f"{scheme}://{H}:{port}{path}"


# -- one bad peer fails one check -----------------------------------------------------------


def test_a_bad_http_peer_fails_its_check_only(hostile_checks):
    p = hostile_checks
    code, out = check(url("http", p.bad_http, "/"), url("tcp", p.good_http), url("http", p.good_http, "/"))
    lines = out.splitlines()
    assert len(lines) == 3, out
    assert lines[0].startswith("HTTP CRITICAL - ") and ("Content-Length" in lines[0] or "bad reply" in lines[0])
    assert lines[1].startswith("TCP OK - ") and lines[2].startswith("HTTP OK - ")
    assert code == 2


def test_a_garbage_peer_fails_its_check_only(hostile_checks):
    p = hostile_checks
    code, out = check(url("smtp", p.garbage), url("pop3", p.garbage).replace("//", "//u:p@"),
                      url("tcp", p.good_http), url("http", p.good_http, "/"))
    lines = out.splitlines()
    assert len(lines) == 4, out
    assert lines[0].startswith("SMTP CRITICAL - ") and "did not answer in the protocol" in lines[0]
    assert lines[1].startswith("POP CRITICAL - ") and "+OK or -ERR" in lines[1]
    assert lines[2].startswith("TCP OK - ") and lines[3].startswith("HTTP OK - ")
    assert "\x1b" not in out and "\x00" not in out  # the garbage is shown escaped
    assert code == 2


def _faulty(port):
    """A dialogue whose parsing of the peer's reply breaks as a careless parser would."""
    yield Connect(H, port)
    yield Send(b"GET / HTTP/1.0\r\n\r\n")
    data = yield Recv()
    return int(data.split()[1].decode() + "\u00b2")  # ValueError on what the peer said


@pytest.mark.parametrize("driver", ["blocking", "asyncio"])
def test_a_parser_fault_is_that_exchanges_protocol_error(hostile_checks, driver):
    import asyncio

    dialogue = _faulty(hostile_checks.good_http)
    if driver == "blocking":
        exchange = blocking.run(dialogue, 5)
    else:
        exchange = asyncio.run(aio.run(dialogue, 5))
    error = exchange.error
    assert isinstance(error, ProtocolError), error
    assert str(error).startswith(f"protocol error: bad reply from {H}:{hostile_checks.good_http} (ValueError: ")


def test_run_checks_never_raises_for_one_check(hostile_checks, monkeypatch):
    """A judge (or any step) that breaks on one peer's answer: that check is CRITICAL, the
    sweep goes on, run_checks() returns every result."""
    import netkit.check.line as line

    real = line.judge

    def judge(spec, exchange, now):
        if spec.target.port == hostile_checks.echo:
            raise ValueError("a reply no judge expected")
        return real(spec, exchange, now)

    monkeypatch.setattr(line, "judge", judge)
    specs = [build_spec(url("tcp", hostile_checks.good_http)), build_spec(url("tcp", hostile_checks.echo)),
             build_spec(url("http", hostile_checks.bad_http, "/")), build_spec(url("tcp", hostile_checks.good_http))]
    results = run_checks(specs, concurrency=4)
    assert [r.status for r in results] == [OK, CRITICAL, CRITICAL, OK]
    assert "ValueError: a reply no judge expected" in results[1].summary


# -- CR/LF/NUL never reach a protocol line ----------------------------------------------------


@pytest.mark.parametrize("args, field", [
    (["--rcpt", "a@b>\r\nDATA"], "--rcpt"),
    (["--from", "a@b>\r\nRCPT TO:<victim@x>"], "--from"),
    (["--ehlo", "x\nDATA"], "--ehlo"),
    (["--user", "u\r\nDELE 1", "--password-env", "PW"], "--user"),
])
def test_smtp_options_with_line_breaks_are_usage_errors(hostile_checks, args, field):
    before = hostile_checks.connections("smtp")
    code, out = check(url("smtp", hostile_checks.smtp), *args, env={"PW": "x"})
    assert code == 3 and out.count("\n") == 1
    assert out.startswith(f"NETKIT UNKNOWN - {field} ") and "CR, LF or NUL" in out
    assert hostile_checks.connections("smtp") == before  # refused before connecting


@pytest.mark.parametrize("target, env, words", [
    ("pop3://u%0D%0ADELE%201:pw@{h}:{p}", {}, "the user name in"),
    ("pop3://u:pw%0ADELE%201@{h}:{p}", {}, "the password in"),
    ("pop3://u@{h}:{p}", {"PW": "pw\r\nDELE 1"}, "the password for pop3://"),
    ("pop3://u%00@{h}:{p}", {}, "the user name in"),
])
def test_pop3_targets_with_line_breaks_are_usage_errors(hostile_checks, target, env, words):
    args = ["--password-env", "PW"] if env else []
    code, out = check(target.format(h=H, p=hostile_checks.pop3), *args, env=env)
    assert code == 3 and out.count("\n") == 1 and words in out and "CR, LF or NUL" in out, out
    assert "pw" not in out.replace("pop3://", "")  # the password is not echoed back
    assert not any("DELE" in line for line in hostile_checks.lines("pop3"))


def test_the_proto_layer_refuses_line_breaks_too(hostile_checks):
    """The second wall: a library caller that skips the parsers still sends no DELE/DATA."""
    import asyncio

    p = hostile_checks
    exchange = blocking.run(pop3_dialogue(H, p.pop3, user="u\r\nDELE 1", password="pw"), 5)
    assert isinstance(exchange.error, UsageError) and "CR, LF or NUL" in str(exchange.error)
    exchange = asyncio.run(aio.run(smtp_dialogue(H, p.smtp, mail_from="a@b", rcpts=["c@d>\r\nDATA"]), 5))
    assert isinstance(exchange.error, UsageError)
    exchange = blocking.run(pop3_dialogue(H, p.pop3, user="u", password="pw\nDELE 2"), 5)
    assert isinstance(exchange.error, UsageError)
    assert not any(line.startswith(("DELE", "DATA", "c@d")) for line in p.lines("pop3") + p.lines("smtp"))
    assert "MAIL FROM:<a@b>" in p.lines("smtp")  # it talked: the proto layer stopped the RCPT line
    assert not any(line.startswith("RCPT TO:") for line in p.lines("smtp"))
    # The check's own path: a spec built without the parsers is UNKNOWN, never sent.
    spec = CheckSpec(parse_check_target(url("pop3", p.pop3)), {"user": "u\r\nDELE 3"}, password="pw")
    [result] = run_checks([spec])
    assert result.status == UNKNOWN and "CR, LF or NUL" in result.summary
    assert not any("DELE" in line for line in p.lines("pop3"))


# -- bounded input ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "inf", "nan", "86401", "-1", "\u00b2", "\u0661\u0662"])
def test_durations_are_bounded(hostile_checks, value):
    code, out = check(url("tcp", hostile_checks.good_http), "-t", value)
    assert code == 3 and "--timeout expects a number of seconds" in out and "at most 86400" in out
    for command in (["send", H, str(hostile_checks.echo), "x", "-t", value], ["dns", "-t", value, "localhost"],
                    ["get", "--timeout", value, url("http", hostile_checks.good_http, "/"), "-o", "/dev/null"],
                    ["get", "--retry-delay", value, url("http", hostile_checks.good_http, "/"), "-o", "/dev/null"]):
        code, out, err = run_netkit(*command)
        assert code == 2 and "at most 86400" in err, (command, err)


@pytest.mark.parametrize("option", ["--concurrency", "--maxbytes", "--cert-warn"])
def test_counts_are_ascii_digits(hostile_checks, option):
    args = ["--tls"] if option == "--cert-warn" else []
    code, out = check(url("tcp", hostile_checks.good_http), url("tcp", hostile_checks.good_http), *args,
                      option, "\u0661\u0662")
    assert code == 3 and out.startswith(f"NETKIT UNKNOWN - {option} expects a whole number"), out


def test_a_day_is_accepted(hostile_checks):
    code, out = check(url("tcp", hostile_checks.good_http), "-t", "86400")
    assert code == 0, out


def test_a_range_error_says_the_value_once(hostile_checks):
    code, out = check(url("tcp", hostile_checks.good_http), "-w", "abc")
    assert code == 3 and out.count("'abc'") == 2 and "'abc' 'abc'" not in out, out


@pytest.mark.parametrize("make, words", [
    (lambda tmp: "/dev/zero", "is not a regular file"),
    (lambda tmp: str(tmp), "is a directory"),
    (lambda tmp: _fifo(tmp), "is not a regular file"),
    (lambda tmp: _sized(tmp, 33 * 1024 * 1024), "more than the 32 MiB"),
    (lambda tmp: _written(tmp, b'[[check]]\nurl = "tcp://127.0.0.1:1"\nname = "\xff\xfe"\n'), "is not UTF-8"),
])
def test_checks_files_are_bounded(tmp_path, make, words):
    code, out, err = run_netkit("check", "--file", make(tmp_path), timeout=20)
    assert code == 3 and out.count("\n") == 1 and out.startswith("NETKIT UNKNOWN - ") and words in out, out


def _fifo(tmp):
    path = tmp / "fifo"
    os.mkfifo(path)
    return str(path)


def _sized(tmp, size):
    path = tmp / "big.toml"
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


def _written(tmp, data):
    path = tmp / "checks.toml"
    path.write_bytes(data)
    return str(path)


# -- the Nagios contract ---------------------------------------------------------------------


def test_ctrl_c_of_one_check_is_unknown_3(silent_tcp):
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "check", url("tcp", silent_tcp.port), "--expect", "x"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
    deadline = time.monotonic() + 20
    while silent_tcp.accepted() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert "Traceback" not in err
    assert proc.returncode == 3 and out == "NETKIT UNKNOWN - interrupted\n"


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_check_version(flag):
    from netkit import __version__

    code, out = check(flag)
    assert code == 0 and out == f"netkit {__version__}\n"


def test_json_results_stay_json(hostile_checks):
    code, results = check_json(url("http", hostile_checks.bad_http, "/"), url("tcp", hostile_checks.good_http))
    assert [r["status"] for r in results] == ["CRITICAL", "OK"] and code == 2
    assert isinstance(results[0]["error"], str)


def test_errors_are_netkit_errors():
    assert issubclass(ProtocolError, NetkitError) and issubclass(UsageError, NetkitError)


# -- ssh: false results ------------------------------------------------------------------------


def test_an_echo_service_is_not_an_ssh_server(hostile_checks):
    code, out = check(url("ssh", hostile_checks.echo))
    assert code == 2 and out.startswith("SSH CRITICAL - ") and "is not an SSH server" in out, out
    assert "echoed our own identification line" in out


def test_ssh_login_trusts_known_hosts_as_netkit_ssh_does(sshd, tmp_path):
    """--identity without --hostkey: an unknown host key is refused (no login is tried),
    unless --accept-new, which records it; a changed key is refused always."""
    target = f"ssh://{sshd.host}:{sshd.port}"
    login = ("--identity", sshd.client_key, "--user", sshd.user)
    home = tmp_path / "home"
    home.mkdir()
    start = sshd.log_file.stat().st_size
    code, results = check_json(target, *login, env={"HOME": str(home)})  # no ~/.ssh/known_hosts
    [r] = results
    assert code == 2 and "is not in known_hosts; refused" in r["summary"], r["summary"]
    assert "login not tried" in r["summary"] and "logged in" not in r["summary"]
    assert r["details"]["login"]["ok"] is False
    time.sleep(0.3)
    from tests.test_check_ssh_dns import log_since

    assert "Accepted publickey" not in log_since(sshd.log_file, start)
    # The known_hosts of the fixture: trusted, logged in.
    code, out = check(target, *login, "--known-hosts", sshd.known_hosts)
    assert code == 0 and f"logged in as {sshd.user}" in out, out
    # --accept-new: trusted on first use and recorded.
    recorded = tmp_path / "known_hosts"
    code, out = check(target, *login, "--known-hosts", recorded, "--accept-new")
    assert code == 0 and f"logged in as {sshd.user}" in out, out
    assert f"[{sshd.host}]:{sshd.port} " in recorded.read_text()
    code, out = check(target, *login, "--known-hosts", recorded)
    assert code == 0, out
    # A known_hosts naming another key for the host: refused, --accept-new or not.
    import asyncssh

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2]
    lying = tmp_path / "lying"
    lying.write_text(f"[{sshd.host}]:{sshd.port} {other[0]} {other[1]}\n")
    code, out = check(target, *login, "--known-hosts", lying, "--accept-new")
    assert code == 2 and "host key CHANGED, refused" in out and "logged in" not in out, out


def test_known_hosts_options_need_an_unpinned_login():
    code, out = check("ssh://127.0.0.1:1", "--accept-new")
    assert code == 3 and "--accept-new applies to ssh:// checks only with --identity" in out


def test_ctrl_d_at_the_password_prompt_is_one_unknown_line(hostile_checks):
    import pty

    from tests.helpers import read_pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: netkit on a terminal, as a user runs it
        os.execvpe(sys.executable, [sys.executable, "-m", "netkit", "check", url("pop3", hostile_checks.pop3)
                                    .replace("//", "//u@")], clean_env())
    try:
        seen = read_pty(fd, answer=(b"Password for u", b"\x04"))
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert b"Traceback" not in seen
    assert b"NETKIT UNKNOWN - no password given for u" in seen and os.waitstatus_to_exitcode(status) == 3


def test_a_judge_fault_is_a_protocol_error_in_the_result():
    """A judge choking on the peer's answer gives a result whose ``error`` is a
    ProtocolError (as a driver's parser fault is), not a bare string."""
    from types import SimpleNamespace

    from netkit.check.run import _finish

    def judge(spec, exchange, now):
        raise ValueError("odd reply")

    exchange = SimpleNamespace(error=None, peer="192.0.2.1:80", transcript=None)
    result = _finish(build_spec("tcp://192.0.2.1:80"), SimpleNamespace(judge=judge), exchange, False)
    assert isinstance(result.error, ProtocolError), result.error
    assert result.summary == str(result.error) == \
        "protocol error: bad reply from 192.0.2.1:80 (ValueError: odd reply)"
