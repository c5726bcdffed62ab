"""``netkit ssh run`` against hosts that misbehave: a command that outlives its --timeout (real
sshd, root and non-root, with and without a terminal), a server that never confirms the stop,
terminal control sequences in output, signal names and disconnect reasons
(tests/peers/hostile_ssh.py), 150 MB of output, and a full disk under -o DIR."""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.helpers import ssh
from tests.helpers import ssh_auth as auth
from tests.peers.hostile_ssh import EVIL_OUTPUT
from tests.test_ssh_run import summary_rows

# Output of the big command: far above what netkit may hold (its tails are 1 MiB a stream).
BIG_OUTPUT = 150 << 20
# The peak RSS netkit may reach while that passes through: the interpreter, asyncssh and
# cryptography take ~45 MiB here; the old code held 2-3 times the output (~400 MiB).
RSS_BOUND = 100 << 20


def hostile(server, *args):
    return ["--known-hosts", server.known_hosts, "-F", "none", "--no-agent", *args]


def gone(marker):
    """True once no process has ``marker`` in its command line (sshd reaps it just after
    reporting the signal: a bounded wait for that, not a timing assertion)."""
    for _ in range(100):
        if subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).returncode != 0:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("tty", [False, True])
def test_timeout_really_stops_a_root_command(ssh_fleet, tty):
    """sshd refuses the "signal" request for root; netkit's kill of the session's process
    group (from a second session) stops it, and the channel confirms it."""
    host = ssh_fleet.host_args()[0]
    marker = f"netkit-stop-{os.getpid()}-{int(tty)}"
    # trap: TERM is ignored (by the shell and the sleep it starts), so KILL has to follow.
    command = f"sh -c 'trap \"\" TERM; sleep 48; : {marker}'" if tty else f"sh -c 'sleep 48; : {marker}'"
    code, out, err = ssh("run", *auth(ssh_fleet), *(["--tty"] if tty else []), "-t", "1", host, "--", command)
    assert code == 1
    signal = "KILL" if tty else "TERM"
    assert f"{host}: the command ran longer than 1 s (--timeout) and was stopped with {signal}: it ended by " \
           f"signal {signal}" in err
    assert summary_rows(out)[host][0] == f"SIG{signal}"
    assert gone(marker), f"the remote command still runs: {marker}"


def test_unconfirmed_stop_is_said(hostile_ssh):
    """A server that ignores every signal and never closes: netkit tries all it has, then says
    that the command may still run -- never "stopped"."""
    code, out, err = ssh("run", *hostile(hostile_ssh, "-t", "1"), hostile_ssh.label, "--", "hang")
    assert code == 1
    line = next(line for line in err.splitlines() if "--timeout" in line)
    assert "netkit sent it TERM and KILL and closed the channel" in line
    assert "the host did not confirm that it ended: it may still be running there" in line
    assert "was stopped" not in out + err
    assert hostile_ssh.signals == ["TERM", "KILL"]
    assert sum("pgrep -P" in c for c in hostile_ssh.commands) == 2  # the process-group kills


def test_control_sequences_from_hosts_are_escaped(hostile_ssh, tmp_path):
    label = hostile_ssh.label
    code, out, err = ssh("run", *hostile(hostile_ssh, "-o", tmp_path / "out"), label, "--", "evil-output")
    assert code == 0, err
    assert f"{label}: \\x1b]0;owned\\x07hello\\x1b[31m red\\x1b[2J\\x07\\x0dover\n" in out
    assert f"{label}: err\\x1b]0;owned\\x07\n" in err
    assert "\x1b" not in out + err and "\a" not in out + err
    assert (tmp_path / "out" / f"{label}.stdout").read_bytes() == EVIL_OUTPUT.encode()  # exact bytes kept
    code, out, _ = ssh("run", *hostile(hostile_ssh, "--group"), label, "--", "evil-output")
    assert code == 0 and "\\x1b]0;owned\\x07hello" in out and "\x1b" not in out
    code, out, _ = ssh("run", *hostile(hostile_ssh, "--json"), label, "--", "evil-output")
    assert json.loads(out.splitlines()[0])["stdout"] == EVIL_OUTPUT  # data, JSON-escaped
    assert "\x1b" not in out
    for command, said in (("evil-signal", "the command was killed by signal \\x1b]0;owned\\x07"),
                          ("evil-disconnect", "the server disconnected (running the command): bye\\x1b[2J")):
        code, out, err = ssh("run", *hostile(hostile_ssh), label, "--", command)
        assert code == 1 and said in err and said in out
        assert "\x1b" not in out + err and "\a" not in out + err


def test_big_output_streams_in_bounded_memory(ssh_fleet, tmp_path):
    """150 MB through -q -o DIR: all of it in the file, written as it came; netkit's peak
    memory stays far below the output (measured by a parent that waits for it alone)."""
    host = ssh_fleet.host_args()[0]
    argv = [sys.executable, "-m", "netkit", "ssh", "run", *map(str, auth(ssh_fleet)), "-q", "-o",
            str(tmp_path / "out"), host, "--", f"head -c {BIG_OUTPUT} /dev/zero; echo tail-end"]
    measure = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True); "
               "sys.stderr.buffer.write(p.stderr); "
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", measure, *argv], capture_output=True, text=True, timeout=120,
                          check=False)
    code, peak_kib = map(int, proc.stdout.split())
    assert code == 0, proc.stderr
    assert peak_kib * 1024 < RSS_BOUND, f"peak RSS {peak_kib} KiB"
    stdout_file = tmp_path / "out" / f"{host}.stdout"
    assert stdout_file.stat().st_size == BIG_OUTPUT + len("tail-end\n")
    with open(stdout_file, "rb") as f:
        f.seek(-9, os.SEEK_END)
        assert f.read() == b"tail-end\n"
    assert not list((tmp_path / "out").glob("*.part"))


def test_keep_output_bounds_the_result(ssh_fleet):
    host = ssh_fleet.host_args()[0]
    code, out, err = ssh("run", *auth(ssh_fleet), "--json", "--keep-output", "64k", host, "--", "seq 1 100000")
    assert code == 0, err
    result = json.loads(out.splitlines()[0])
    total = sum(len(f"{n}\n") for n in range(1, 100001))
    assert result["stdout_bytes"] == total and len(result["stdout"]) == 65536
    assert result["stdout"].endswith("\n99999\n100000\n")
    code, out, err = ssh("run", *auth(ssh_fleet), "--group", "--keep-output", "1k", host, "--", "seq 1 100000")
    assert code == 0 and f"[... {total - 1024} bytes before these not kept (--keep-output)]" in out
    code, _, err = ssh("run", "--keep-output", "lots", host, "--", "true")
    assert code == 2 and "--keep-output" in err


def test_full_disk_under_outdir_fails_only_those_hosts(ssh_fleet, tmp_path):
    """A 1 MiB tmpfs as -o DIR: the hosts that fill it fail with one line naming the file and
    the cause, nothing half-written is left, and the run goes on for the others."""
    outdir = tmp_path / "full"
    outdir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(outdir)], check=True)
    try:
        hosts = ssh_fleet.host_args()[:3]
        quiet = hosts[2].split("@")[1].rsplit(":", 1)
        command = f"case $SSH_CONNECTION in *' {quiet[0]} {quiet[1]}') ;; *) head -c 4000000 /dev/zero;; esac"
        code, out, err = ssh("run", *auth(ssh_fleet), "-q", "-o", outdir, *hosts, "--", command)
        assert code == 1
        assert "internal error" not in err
        rows = summary_rows(out)
        for host in hosts[:2]:
            line = f"netkit ssh run: {host}: cannot write {outdir}/{host}.stdout: No space left on device; " \
                   f"the host's output was not saved"
            assert err.splitlines().count(line) == 1, err
            assert rows[host][0] == "0"  # the command itself ran to its end
        assert rows[hosts[2]] == ("0", "")
        assert sorted(p.name for p in outdir.iterdir()) == [f"{hosts[2]}.stderr", f"{hosts[2]}.stdout"]
    finally:
        subprocess.run(["umount", str(outdir)], check=True)
