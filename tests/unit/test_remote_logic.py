"""netkit.remote and netkit ssh without a network: host syntax, hosts files, the host key
policy, results, the CLI's parsing and its renderings."""

import re

import asyncssh
import pytest

from netkit.cli import ssh as cli
from netkit.core.errors import RefusedError, UsageError
from netkit.remote import (
    ChangedHostKey,
    Credentials,
    HostKeyPolicy,
    RunResult,
    TransferResult,
    UnknownHostKey,
    parse_host,
    read_hosts_file,
)


@pytest.mark.parametrize("text, host, port, user", [
    ("web1", "web1", None, None),
    ("root@web1:2222", "web1", 2222, "root"),
    ("WEB1.Example.org", "web1.example.org", None, None),
    ("[::1]:22", "::1", 22, None),
    ("admin@[2001:db8::5]", "2001:db8::5", None, "admin"),
    ("me@corp@host", "host", None, "me@corp"),
    ("192.0.2.7:22", "192.0.2.7", 22, None),
])
def test_host_syntax(text, host, port, user):
    parsed = parse_host(text)
    assert (parsed.host, parsed.port, parsed.user, parsed.label) == (host, port, user, text)


@pytest.mark.parametrize("text, why", [
    ("", "empty host"),
    ("::1", "IPv6 addresses go in brackets"),
    ("web1:99999", "the port is 1-65535"),
    ("web1:", "port"),
    ("@web1", "empty user"),
    ("ssh://web1", "not a URL"),
    ("bad host", "not a host name"),
    ("[::1", "IPv6 addresses go in brackets"),
    ("[zz]:22", "not a host name or address"),
    ("[::1]:99999", "the port is 1-65535"),
])
def test_bad_host_syntax(text, why):
    with pytest.raises(UsageError, match=why):
        parse_host(text)


def test_hosts_file(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("# fleet\nweb1 web2  # two on a line\n\n  root@db:2222\n#gone\n")
    assert read_hosts_file(str(path)) == ["web1", "web2", "root@db:2222"]
    with pytest.raises(UsageError, match="cannot read hosts file"):
        read_hosts_file(str(tmp_path / "missing"))


def _key(kind="ssh-ed25519"):
    return asyncssh.generate_private_key(kind).convert_to_public()


def _line(pattern, key):
    return f"{pattern} {key.export_public_key('openssh').decode().strip()}\n"


def test_host_key_policy(tmp_path):
    known, changed, other_type = _key(), _key(), _key("ecdsa-sha2-nistp256")
    path = tmp_path / "known_hosts"
    path.write_text(_line("[web1]:2222", known) + _line("web2", known))
    policy = HostKeyPolicy([path])
    policy.check("web1", "192.0.2.1", 2222, known)
    policy.check("web2", "192.0.2.2", 22, known)
    with pytest.raises(ChangedHostKey) as caught:
        policy.check("web1", "192.0.2.1", 2222, changed)
    text = str(caught.value)
    assert "[web1]:2222" in text and "CHANGED" in text
    assert known.get_fingerprint("sha256") in text and changed.get_fingerprint("sha256") in text
    with pytest.raises(ChangedHostKey, match=re.escape(known.get_fingerprint("sha256"))):
        policy.check("web2", "192.0.2.2", 22, other_type)  # a known host showing another type
    with pytest.raises(UnknownHostKey, match="--accept-new"):
        policy.check("web3", "192.0.2.3", 22, known)
    assert policy.host_key_algs("web1", 2222) == ["ssh-ed25519"]
    assert policy.host_key_algs("web3", 22)[0] == "ssh-ed25519" and len(policy.host_key_algs("web3", 22)) > 1


def test_accept_new_records_and_then_checks(tmp_path):
    path = tmp_path / "sub" / "known_hosts"
    key, other = _key(), _key()
    policy = HostKeyPolicy([path], accept_new=True)
    policy.check("web9", "192.0.2.9", 2200, key)
    assert path.read_text().startswith("[web9]:2200 ssh-ed25519 ")
    with pytest.raises(ChangedHostKey):
        HostKeyPolicy([path], accept_new=True).check("web9", "192.0.2.9", 2200, other)
    HostKeyPolicy([path]).check("web9", "192.0.2.9", 2200, key)


def test_credentials_report_unusable_keys(tmp_path):
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key\n")
    locked = asyncssh.generate_private_key("ssh-ed25519")
    locked_path = tmp_path / "locked"
    # Few bcrypt rounds: each import of the key costs them (128 rounds: ~1 s here).
    locked_path.write_bytes(locked.export_private_key("openssh", passphrase="right", rounds=4, ignore_few_rounds=True))
    creds = Credentials([tmp_path / "missing", garbage, locked_path], agent=False, prompt=None)
    assert creds.keys == []
    problems = "\n".join(creds.problems)
    assert "missing: cannot read the key" in problems and "garbage: not a usable private key" in problems
    assert "locked: the key is encrypted and there is no terminal" in problems
    wrong = Credentials([locked_path], agent=False, prompt=lambda _text: "wrong")
    assert wrong.problems == [f"{locked_path}: wrong passphrase"]
    right = Credentials([locked_path], agent=False, prompt=lambda _text: "right")
    assert len(right.keys) == 1 and right.problems == []
    assert Credentials([locked_path], agent=False, passphrase="right").keys
    for path, why in ((tmp_path / "missing", "cannot read the key"), (garbage, "not a usable private key"),
                      (locked_path, "the key is encrypted and there is no terminal")):
        with pytest.raises(UsageError, match=f"identity {path}: {why}"):
            Credentials([path], agent=False, prompt=None, strict=True)
    assert Credentials([locked_path], agent=False, prompt=lambda _text: "wrong", strict=True).problems


def test_run_result_like_completed_process():
    from netkit.core.errors import CommandError, RefusedError

    ok = RunResult("web1", "true", returncode=0, duration=0.5)
    ok.check_returncode()
    assert ok.ok
    failed = RunResult("web2", "false", returncode=1)
    with pytest.raises(CommandError, match="web2: the command 'false' ended with exit status 1") as caught:
        failed.check_returncode()
    assert caught.value.returncode == 1 and caught.value.result is failed
    killed = RunResult("web2", "sleep 9", returncode=-15, exit_signal="TERM")
    with pytest.raises(CommandError, match="killed by signal TERM") as caught:
        killed.check_returncode()
    assert caught.value.returncode == -15 and not killed.ok
    refused = RefusedError("web3 refused the connection")
    broken = RunResult("web3", "true", error=refused)
    with pytest.raises(RefusedError) as caught:
        broken.check_returncode()
    assert caught.value is refused
    assert not broken.ok and broken.as_dict()["error"] == "web3 refused the connection"


def test_signal_names_map_to_numbers_as_subprocess_has_them():
    import signal

    from netkit.remote._run import signal_number

    assert signal_number("TERM") == signal.SIGTERM and signal_number("KILL") == 9
    for name in ("NOSUCH", "term", "\x1b]0;owned\x07", "SIGTERM", "", "DFL_"):
        assert signal_number(name) is None, name


def test_a_signalled_command_is_shown_by_its_signal():
    results = [RunResult("web1", "sleep 9", returncode=-15, exit_signal="TERM")]
    assert cli.summary_table(results).splitlines()[1].split()[:2] == ["web1", "SIGTERM"]
    import io

    err = io.StringIO()
    assert cli.report_failures(results, err) == 1
    assert "netkit ssh run: web1: killed by signal TERM" in err.getvalue()
    assert TransferResult("web1", files=2, unchanged=3, bytes=3 * 1048576).describe() == \
        "2 copied (3.0 MiB), 3 unchanged"


def labels(request):
    return [h.label for h in request["hosts"]]


def test_cli_parse_run():
    request = cli.parse(["run", "-P", "10", "-t", "5", "web1", "root@web2:2222", "--", "df", "-h", "/"])
    assert labels(request) == ["web1", "root@web2:2222"] and request["command"] == "df -h /"
    assert (request["parallel"], request["timeout"]) == (10, 5.0)
    request = cli.parse(["run", "web1", "web2", "uptime"])  # no "--": the last word is the command
    assert labels(request) == ["web1", "web2"] and request["command"] == "uptime"
    assert cli.parse(["run", "--stdin", "web1", "--"])["command"] == "sh -s"
    assert cli.parse(["run", "-e", "LANG=C", "web1", "--", "locale"])["env"] == {"LANG": "C"}


@pytest.mark.parametrize("argv, message", [
    (["run", "web1"], "no command"),
    (["run", "--", "true"], "no hosts"),
    (["run", "--group", "--json", "web1", "--", "true"], "exclude each other"),
    (["run", "-e", "NOEQUALS", "web1", "--", "true"], "NAME=VALUE"),
    (["run", "-t", "soon", "web1", "--", "true"], "--timeout"),
    (["run", "--password", "x", "web1", "--", "true"], "unknown option --password"),
    (["get", "web1", "/var/log"], "hosts, then REMOTE_PATH LOCAL_DIR are needed"),
    (["run", "-e", "1X=y", "web1", "--", "true"], "NAME=VALUE"),
    (["run", "-e", "A=\0", "web1", "--", "true"], "must not contain CR, LF or NUL"),
    (["run", "web1:22", "web1:0", "--", "true"], "host 'web1:0': bad host syntax"),
    (["run", "-f", "-", "--stdin", "--", "true"], "both read standard input"),
    (["run", "-l", "ro\not", "web1", "--", "true"], "--user 'ro\\\\not': not a user name"),
    (["copy", "web1"], "unknown subcommand"),
])
def test_cli_parse_errors(argv, message):
    with pytest.raises(UsageError, match=message):
        cli.parse(argv)


def test_cli_parse_get_put(tmp_path):
    request = cli.parse(["get", "web1", "web2", "/var/log/*.log", "logs"])
    assert labels(request) == ["web1", "web2"]
    assert (request["source"], request["destination"]) == ("/var/log/*.log", "logs")
    (tmp_path / "conf.d").mkdir()
    source = str(tmp_path / "conf.d")
    request = cli.parse(["put", "web1", source, "/etc/app/"])
    assert (labels(request), request["source"], request["destination"]) == (["web1"], source, "/etc/app/")
    with pytest.raises(UsageError, match="nothing matches"):
        cli.parse(["put", "web1", str(tmp_path / "*.conf"), "/etc/app/"])


def test_duplicate_hosts_merge():
    from netkit.remote._hosts import merge_duplicates, parse_hosts

    hosts = parse_hosts(["web1", "WEB1:22", "root@web1", "web1:2222", "[::1]", "[0:0::1]:22", "root@[::1]"])
    unique, merged = merge_duplicates(hosts)
    assert [h.label for h in unique] == ["web1", "root@web1", "web1:2222", "[::1]", "root@[::1]"]
    assert merged == [("WEB1:22", "web1"), ("[0:0::1]:22", "[::1]")]
    unique, merged = merge_duplicates(hosts, user="root", port=2222)  # -l root -p 2222
    assert [h.label for h in unique] == ["web1", "WEB1:22", "[::1]", "[0:0::1]:22"]


def test_changed_key_names_each_fingerprint_once(tmp_path):
    """known_hosts holding the key by name and by address matches it twice."""
    known, presented = _key(), _key()
    path = tmp_path / "known_hosts"
    path.write_text(_line("[127.0.0.1]:2222", known) + _line("[db1]:2222", known))
    with pytest.raises(ChangedHostKey) as caught:
        HostKeyPolicy([path]).check("db1", "127.0.0.1", 2222, presented)
    assert str(caught.value).count(known.get_fingerprint("sha256")) == 1


def test_group_and_summary_rendering():
    results = [
        RunResult("web1", "uname", returncode=0, stdout="Linux\n", duration=0.25),
        RunResult("web2", "uname", returncode=0, stdout="Linux\n", duration=0.5),
        RunResult("bsd1", "uname", returncode=0, stdout="FreeBSD\n", duration=0.5),
        RunResult("down", "uname", error=RefusedError("down refused the connection")),
    ]
    text = cli.grouped(results)
    assert text.index("web1,web2 (2 hosts, exit 0)") < text.index("bsd1 (1 host, exit 0)")
    assert text.count("Linux\n") == 1 and "down" not in text
    table = cli.summary_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["HOST", "STATUS", "TIME", "ERROR"]
    assert lines[1].split() == ["web1", "0", "0.25s"]
    assert lines[4].split()[:3] == ["down", "-", "0.00s"] and lines[4].endswith("down refused the connection")
    assert lines[-1] == "4 hosts: 3 ok, 1 failed"


def test_tail_keeps_the_last_bytes_in_bounded_memory():
    from netkit.remote._output import Tail

    tail = Tail(1000)
    for i in range(5000):
        tail.add(b"%09d\n" % i)
        assert len(tail.buffer) <= 2 * 1000 + 10
    assert tail.value() == b"".join(b"%09d\n" % i for i in range(4900, 5000))
    assert (tail.total, tail.dropped) == (50000, 49000)
    nothing = Tail(0)
    nothing.add(b"x" * 100)
    assert (nothing.value(), nothing.total, len(nothing.buffer)) == (b"", 100, 0)


def test_lines_split_across_chunks_and_cut_long_ones():
    from netkit.remote._output import MAX_LINE, Lines

    seen = []
    lines = Lines(seen.append)
    for chunk in (b"one\ntw", b"o\n", b"x" * (MAX_LINE + 5), b"\nlast"):
        lines.feed(chunk)
    lines.close()
    assert seen == [b"one", b"two", b"x" * MAX_LINE, b"x" * 5, b"last"]


def test_output_files_appear_whole_or_not_at_all(tmp_path):
    from netkit.remote._output import OutputFiles

    files = OutputFiles(str(tmp_path), "web1")
    files.write("stdout", b"out\n")
    assert sorted(p.name for p in tmp_path.iterdir())[0].startswith("web1.stderr.")  # temporaries
    files.close()
    assert files.error is None and (tmp_path / "web1.stdout").read_bytes() == b"out\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web1.stderr", "web1.stdout"]
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "web2.stdout").symlink_to(victim)  # the final name is replaced, never followed
    files = OutputFiles(str(tmp_path), "web2")
    files.write("stdout", b"new")
    files.close()
    assert victim.read_text() == "keep" and (tmp_path / "web2.stdout").read_bytes() == b"new"
    broken = OutputFiles(str(tmp_path / "missing"), "web3")
    assert "cannot write" in broken.error and "No such file or directory" in broken.error


def test_run_refuses_env_values_that_end_the_request_line():
    import asyncio

    from netkit.remote import run

    with pytest.raises(UsageError, match="must not contain CR, LF or NUL"):
        asyncio.run(run(["web1"], "true", None, env={"A": "x\0y"}))
