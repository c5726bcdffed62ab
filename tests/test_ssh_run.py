"""``netkit ssh run`` against real sshd "hosts" (tests.peers.sshd_hosts.py), faults included:
each bad host is one clear error of its own while the others complete."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests.helpers import netkit, read_pty, ssh
from tests.helpers import ssh_auth as auth
from tests.peers.sshd_hosts import other_public_key


def summary_rows(out):
    """{host: (status, error)} from the summary table."""
    rows = {}
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("HOST "))
    for line in lines[start + 1:]:
        if re.match(r"^\d+ hosts?: ", line):
            break
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=3)
        rows[parts[0]] = (parts[1], parts[3] if len(parts) > 3 else "")
    return rows


def test_streams_prefixed_lines_and_summarises(ssh_fleet):
    hosts = ssh_fleet.host_args()
    code, out, err = ssh("run", *auth(ssh_fleet), *hosts, "--", "echo out-$((6*7)); echo err-line >&2")
    assert code == 0, err
    for host in hosts:
        assert f"{host}: out-42" in out.splitlines()
        assert f"{host}: err-line" in err.splitlines()
    rows = summary_rows(out)
    assert set(rows) == set(hosts) and all(status == "0" for status, _ in rows.values())
    assert f"{len(hosts)} hosts: {len(hosts)} ok, 0 failed" in out


def test_bad_hosts_fail_alone_and_are_named(ssh_fleet, closed_port, silent_tcp):
    good = ssh_fleet.host_args()[:2]
    bad = ["no-such-alias.invalid", f"127.0.0.1:{closed_port.port}", f"127.0.0.1:{silent_tcp.port}"]
    code, out, err = ssh("run", *auth(ssh_fleet), "--connect-timeout", "2", *good, *bad, "--", "echo fine")
    assert code == 1
    rows = summary_rows(out)
    assert all(rows[h][0] == "0" for h in good)
    assert "cannot resolve" in rows["no-such-alias.invalid"][1]
    assert "connection refused by" in rows[f"127.0.0.1:{closed_port.port}"][1]
    assert "no SSH login within 2 s" in rows[f"127.0.0.1:{silent_tcp.port}"][1]
    assert silent_tcp.accepted() >= 1
    last = err.splitlines()[-1]
    assert last.startswith("netkit ssh run: 3 of 5 hosts failed: ") and all(b in last for b in bad)


def test_json_and_exit_status_of_the_command(ssh_fleet):
    first, second = ssh_fleet.host_args()[:2]
    code, out, err = ssh("run", *auth(ssh_fleet), "--json", first, second, "--",
                         f"case $SSH_CONNECTION in *' {second.split('@')[1].split(':')[0]} '*) exit 3;; esac; hostname")
    assert code == 1
    objects = [json.loads(line) for line in out.splitlines()]
    by_host = {o["host"]: o for o in objects if "host" in o}
    assert by_host[first]["exit_status"] == 0 and by_host[first]["stdout"].strip() == os.uname().nodename
    assert by_host[second]["exit_status"] == 3 and by_host[second]["error"] is None
    assert objects[-1]["summary"] == {"hosts": 2, "ok": 1, "failed": 1, "failed_hosts": [second]}
    assert f"{second}: exit status 3" in err


def test_group_folds_identical_output(ssh_fleet):
    hosts = ssh_fleet.host_args()
    odd = hosts[1].split("@")[1].split(":")[0]
    code, out, _ = ssh("run", *auth(ssh_fleet), "--group", *hosts, "--",
                       f"case $SSH_CONNECTION in *' {odd} '*) echo different;; *) echo same;; esac")
    assert code == 0
    rest = [h for h in hosts if h != hosts[1]]
    assert f"{','.join(rest)} ({len(rest)} hosts, exit 0)" in out
    assert f"{hosts[1]} (1 host, exit 0)" in out
    assert out.count("\nsame\n") == 1 and out.count("\ndifferent\n") == 1


def test_outdir_hosts_file_stdin_env_and_tty(ssh_fleet, tmp_path):
    hosts = ssh_fleet.host_args()[:2]
    hosts_file = tmp_path / "hosts.txt"
    hosts_file.write_text(f"# the web servers\n{hosts[0]}   # first\n\n{hosts[1]}\n")
    script = b"echo from-script $NETKIT_COLOUR\nread line || echo stdin-ended\n"
    outdir = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "netkit", "ssh", "run", *map(str, auth(ssh_fleet)), "-f",
                           str(hosts_file), "--stdin", "-e", "NETKIT_COLOUR=blue", "-o", str(outdir), "-q"],
                          input=script, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    for host in hosts:
        assert (outdir / f"{host}.stdout").read_text() == "from-script blue\nstdin-ended\n"
        assert (outdir / f"{host}.stderr").read_text() == ""
        assert f"{host}: from" not in proc.stdout.decode()  # -q: no streamed lines
    code, out, _ = ssh("run", *auth(ssh_fleet), "--tty", hosts[0], "--", "test -t 0 && echo on-a-tty")
    assert code == 0 and f"{hosts[0]}: on-a-tty" in out


def test_command_timeout_stops_it_and_others_finish(ssh_fleet, password_sshd):
    """The command is stopped with a "signal" request (sshd honours it for users other than
    root: "session signalling requires privilege separation"), the channel closed."""
    p = password_sshd
    slow = f"{p.user}@{p.sshd.host}:{p.sshd.port}"
    quick = ssh_fleet.host_args()[0]
    marker = f"netkit-never-ends-{os.getpid()}"
    env = dict(os.environ, NETKIT_TEST_PASS=p.password)
    code, out, _ = ssh("run", "-i", ssh_fleet.client_key, "--known-hosts", ssh_fleet.known_hosts, "--known-hosts",
                         p.sshd.known_hosts, "-F", "none", "--no-agent", "--password-env", "NETKIT_TEST_PASS",
                         "-t", "3", slow, quick, "--",
                         f"if [ $(id -u) != 0 ]; then sh -c 'sleep 300; : {marker}'; fi; echo done", env=env)
    assert code == 1
    rows = summary_rows(out)
    assert rows[quick][0] == "0" and f"{quick}: done" in out
    assert "ran longer than 3 s" in rows[slow][1]
    # The remote command was ended, not left running.
    for _ in range(50):
        if subprocess.run(["pgrep", "-u", p.user, "-f", marker], capture_output=True, check=False).returncode != 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the timed-out remote command still runs: {marker}")


def test_changed_host_key_is_refused_naming_both_fingerprints(ssh_fleet, tmp_path):
    liar, honest = ssh_fleet.endpoints[:2]
    fake = other_public_key(tmp_path)
    instance = ssh_fleet.instances[0]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{liar[0]}]:{liar[1]} {fake}\n"
                     f"[{honest[0]}]:{honest[1]} {' '.join(instance.host_keys['ed25519'].split()[:2])}\n")
    hosts = [f"{ssh_fleet.user}@{a}:{p}" for a, p in (liar, honest)]
    for extra in ([], ["--accept-new"]):  # a changed key is refused even with --accept-new
        code, out, err = ssh("run", *auth(ssh_fleet, known), *extra, *hosts, "--", "echo in")
        assert code == 1
        assert f"{hosts[1]}: in" in out
        line = next(line for line in err.splitlines() if "CHANGED" in line)
        fake_print = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "other_ed25519.pub")], capture_output=True,
                                    text=True, check=True).stdout.split()[1]
        assert f"[{liar[0]}]:{liar[1]}" in line
        assert fake_print in line and instance.host_key_fingerprints["ed25519"] in line
        assert line.count(fake_print) == 1 and line.count(instance.host_key_fingerprints["ed25519"]) == 1
    assert known.read_text().count("\n") == 2  # nothing was added


def test_unknown_host_key_refused_unless_accept_new(ssh_fleet, tmp_path):
    host = ssh_fleet.host_args()[0]
    address, port = ssh_fleet.endpoints[0]
    known = tmp_path / "known_hosts"
    code, out, err = ssh("run", *auth(ssh_fleet, known), host, "--", "echo in")
    assert code == 1 and "not in known_hosts" in err and f"{host}: in" not in out
    assert not known.exists()
    code, out, err = ssh("run", *auth(ssh_fleet, known), "--accept-new", host, "--", "echo in")
    assert code == 0 and f"{host}: in" in out
    recorded = known.read_text().split()
    assert recorded[0] == f"[{address}]:{port}"
    assert " ".join(recorded[1:3]) in [" ".join(k.split()[:2]) for k in ssh_fleet.instances[0].host_keys.values()]
    code, out, _ = ssh("run", *auth(ssh_fleet, known), host, "--", "echo again")  # now known
    assert code == 0 and f"{host}: again" in out


def test_missing_key_is_a_usage_error_and_wrong_password_a_host_error(ssh_fleet, password_sshd, tmp_path):
    host = ssh_fleet.host_args()[0]
    not_a_key = tmp_path / "not_a_key"
    not_a_key.write_text("hello\n")
    for key, why in ((tmp_path / "no_such_key", "cannot read the key: No such file or directory"),
                     (tmp_path, "cannot read the key: Is a directory"), (not_a_key, "not a usable private key")):
        code, out, err = ssh("run", "-i", key, "--known-hosts", ssh_fleet.known_hosts, "-F", "none", "--no-agent",
                             host, "--", "true")
        assert (code, out) == (2, "")
        assert err == f"netkit ssh run: identity {key}: {why}" + err.split(why, 1)[1] and err.count("\n") == 1
        assert "-i takes a private key file" in err
    p = password_sshd
    target = f"{p.user}@{p.sshd.host}:{p.sshd.port}"
    known = ["--known-hosts", p.sshd.known_hosts, "-F", "none", "--no-agent"]
    env = dict(os.environ, NETKIT_TEST_PASS="wrong-" + p.password)
    code, out, err = ssh("run", *known, "--password-env", "NETKIT_TEST_PASS", target, "--", "id -un", env=env)
    assert code == 1 and "authentication failed" in summary_rows(out)[target][1]
    env["NETKIT_TEST_PASS"] = p.password
    code, out, err = ssh("run", *known, "--password-env", "NETKIT_TEST_PASS", target, "--", "id -un", env=env)
    assert code == 0 and f"{target}: {p.user}" in out
    assert p.password not in out + err


def test_ssh_config_alias_and_user_option(ssh_fleet, tmp_path):
    address, port = ssh_fleet.endpoints[2]
    config = tmp_path / "config"
    config.write_text(f"Host web-alias\n    HostName {address}\n    Port {port}\n")
    args = ["-i", ssh_fleet.client_key, "--known-hosts", ssh_fleet.known_hosts, "--no-agent", "-F", config,
            "-l", ssh_fleet.user]
    code, out, _ = ssh("run", *args, "web-alias", "unknown-alias", "--", "echo via-alias")
    assert code == 1
    assert "web-alias: via-alias" in out
    assert "cannot resolve" in summary_rows(out)["unknown-alias"][1]


def test_agent_login(ssh_fleet, tmp_path):
    agent = subprocess.run(["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")], capture_output=True, text=True,
                           check=True).stdout
    pid = int(re.search(r"SSH_AGENT_PID=(\d+)", agent).group(1))
    env = dict(os.environ, SSH_AUTH_SOCK=str(tmp_path / "agent.sock"), HOME=str(tmp_path))
    try:
        subprocess.run(["ssh-add", str(ssh_fleet.client_key)], env=env, check=True, capture_output=True)
        host = ssh_fleet.host_args()[0]
        code, out, err = ssh("run", "--known-hosts", ssh_fleet.known_hosts, "-F", "none", host, "--",
                             "echo agent-ok", env=env)
        assert code == 0 and f"{host}: agent-ok" in out, err
        code, out, err = ssh("run", "--known-hosts", ssh_fleet.known_hosts, "-F", "none", "--no-agent", host,
                             "--", "echo agent-ok", env=env)
        assert code == 1 and "authentication failed" in err
    finally:
        os.kill(pid, 15)


def test_passphrase_prompt_on_a_terminal(ssh_fleet, tmp_path):
    """An encrypted key: the passphrase is asked on the terminal (a real pty), never taken
    from the command line; a wrong one is a clear error."""
    import pty

    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret phrase", "-f", str(key)], check=True)
    instance = ssh_fleet.instances[0]
    with open(instance.directory / "authorized_keys", "a") as f:
        f.write((tmp_path / "locked.pub").read_text())
    host = ssh_fleet.host_args()[0]

    def run_on_pty(answer):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(sys.executable, [sys.executable, "-m", "netkit", "ssh", "run", "-i", str(key), "--known-hosts",
                                      str(ssh_fleet.known_hosts), "-F", "none", "--no-agent", host, "--",
                                      "echo unlocked"])
        seen = read_pty(fd, answer=(b"Passphrase for", answer.encode() + b"\n"), timeout=60)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), seen.decode(errors="replace"), b"Passphrase for" in seen

    code, text, answered = run_on_pty("s3cret phrase")
    assert answered and code == 0 and f"{host}: unlocked" in text, text
    assert "s3cret" not in text  # not echoed
    code, text, answered = run_on_pty("not it")
    assert answered and code == 1
    assert f"{key}: wrong passphrase" in text and "Traceback" not in text


@pytest.mark.parametrize("spec, why", [
    ("127.0.0.1:0", "the port is 1-65535"), ("127.0.0.1:70000", "the port is 1-65535"),
    ("127.0.0.1:abc", "the port is 1-65535"), ("", "empty host"), ("web\x1b]0;owned\x07", "a control character"),
])
def test_bad_hosts_are_usage_errors(spec, why):
    """A typo in a host is the user's mistake: exit 2 and one line, before anything connects."""
    code, out, err = ssh("run", "127.0.0.1:22", spec, "--", "true")
    assert (code, out) == (2, "")
    assert err.startswith("netkit ssh run: host ") and why in err and "write [user@]host[:port]" in err
    assert err.count("\n") == 1 and "\x1b" not in err


def test_duplicate_hosts_run_once(ssh_fleet):
    (address, port), user = ssh_fleet.endpoints[0], ssh_fleet.user
    spellings = [f"{user}@{address}:{port}", f"{user}@{address.upper()}:{port}", f"{address}:{port}"]
    code, out, err = ssh("run", *auth(ssh_fleet), "-l", user, *spellings, "--", "echo once")
    assert code == 0, err
    assert out.count(": once\n") == 1 and f"{spellings[0]}: once" in out
    assert f"warning: {spellings[2]} is the same host as {spellings[0]}: run once" in err
    assert "1 host: 1 ok, 0 failed" in out


def test_usage_errors(tmp_path):
    code, out, err = ssh("run", "--bogus", "web1", "--", "true")
    assert code == 2 and err.startswith("netkit ssh run: unknown option --bogus") and err.count("netkit ssh") == 2
    for value in ("A=line\nDATA", "A=cr\rx"):  # (a NUL cannot be in an argument; see the unit test)
        code, out, err = ssh("run", "-e", value, "web1", "--", "true")
        assert code == 2 and "must not contain CR, LF or NUL" in err and err.count("\n") == 1
    code, out, err = ssh("put", "web1", str(tmp_path / "missing"), "/tmp")
    assert code == 2 and f"LOCAL_PATH {tmp_path / 'missing'}: no such file or directory" in err
    code, out, err = ssh("get", "web1", "/etc/hostname", "/etc/hostname")
    assert code == 2 and "LOCAL_DIR /etc/hostname: not a directory" in err
    bad_config = tmp_path / "config"
    bad_config.write_text("Host *\n    Port abc\n")
    for config, why in ((tmp_path, f"ssh config {tmp_path}: cannot read it: Is a directory"),
                        (bad_config, f"ssh config: {bad_config} line 2: Invalid Port integer value: abc")):
        code, out, err = ssh("run", "-F", config, "--no-agent", "127.0.0.1:1", "--", "true")
        assert (code, out, err) == (2, "", f"netkit ssh run: {why}\n")  # not "127.0.0.1:1 failed"
    code, out, err = ssh("run", "web1")
    assert code == 2 and "no command" in err
    code, out, err = ssh("run", "--", "uptime")
    assert code == 2 and "no hosts" in err
    code, out, err = ssh("launch", "web1")
    assert code == 2 and "unknown subcommand" in err
    code, out, err = ssh("run", "-P", "0", "web1", "--", "true")
    assert code == 2 and "--parallel" in err
    code, out, err = ssh("run", "--password-env", "NETKIT_NO_SUCH_VAR", "web1", "--", "true",
                         env={k: v for k, v in os.environ.items() if k != "NETKIT_NO_SUCH_VAR"})
    assert code == 2 and "NETKIT_NO_SUCH_VAR" in err
    code, out = netkit("ssh", "--help")
    assert code == 0 and "netkit ssh run" in out and "--accept-new" in out


def test_jump_host(ssh_fleet, tmp_path, closed_port):
    """-J: one connection to the jump host carries every host's (sshd logs the forwards at
    DEBUG1); a jump host that is down fails every host behind it, each with that reason."""
    from tests.peers.sshd import running_sshd

    with running_sshd(tmp_path / "jump", extra_config="LogLevel DEBUG1\n") as jump:
        with open(jump.directory / "authorized_keys", "a") as f:
            f.write(ssh_fleet.instances[0].client_pubkey + "\n")
        hosts = ssh_fleet.host_args()[:2]
        args = ["-i", ssh_fleet.client_key, "--known-hosts", ssh_fleet.known_hosts, "--known-hosts",
                jump.known_hosts, "-F", "none", "--no-agent"]
        code, out, err = ssh("run", *args, "-J", f"{jump.user}@{jump.host}:{jump.port}", *hosts, "--",
                             "echo through")
        assert code == 0, err
        assert all(f"{h}: through" in out for h in hosts)
        log = jump.log_file.read_text()
        for address, port in ssh_fleet.endpoints[:2]:
            assert f"server_request_direct_tcpip: originator  port 0, target {address} port {port}" in log
        assert log.count("Accepted publickey") == 1  # one jump connection for both hosts
    code, out, err = ssh("run", *args, "-J", f"127.0.0.1:{closed_port.port}", *hosts, "--", "echo through")
    assert code == 1 and "through" not in out
    rows = summary_rows(out)
    assert all("connection refused by" in rows[h][1] for h in hosts)


def test_ctrl_c_prints_what_finished(ssh_fleet):
    """Ctrl-C once the quick host's line is out: its result is printed, the slow one named."""
    import signal

    quick, slow = ssh_fleet.host_args()[:2]
    slow_address = slow.split("@")[1].split(":")[0]
    quick_address, quick_port = ssh_fleet.endpoints[0]
    log = ssh_fleet.instances[0].log_file
    start = log.stat().st_size

    def quick_host_closed():
        """sshd saw the quick host's connection end: netkit has its result by then (the
        result is recorded in the same step as the close)."""
        text = log.read_bytes()[start:].decode(errors="replace")
        opened = re.search(rf"Connection from 127\.0\.0\.1 port (\d+) on {re.escape(quick_address)} port {quick_port} ",
                           text)
        return opened and re.search(rf"(Disconnected from|Received disconnect from) \S*\s*127\.0\.0\.1 port "
                                    rf"{opened.group(1)}\b", text)

    proc = subprocess.Popen([sys.executable, "-m", "netkit", "ssh", "run", *map(str, auth(ssh_fleet)), quick, slow,
                             "--", f"case $SSH_CONNECTION in *' {slow_address} '*) sleep 30;; esac; echo quick-done"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first == f"{quick}: quick-done\n"
        for _ in range(200):
            if quick_host_closed():
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err
    assert summary_rows(first + out) == {quick: ("0", "")}
    assert f"interrupted: 1 of 2 hosts finished; not finished: {slow}" in err
