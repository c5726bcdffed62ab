"""``netkit monitor check|discover|status|run`` against real peers on loopback."""

import io
import tomllib

import pytest

from netkit.cli.monitor import main
from netkit.monitor._config import load_config
from tests.peers.config_banner import INJECTED


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out, err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path, text, name="monitor.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# -- check ------------------------------------------------------------------------------------


def test_check_prints_one_line_of_summary(tmp_path):
    path = write(tmp_path, """
[monitor]
listen = ""
[group.web]
[[target]]
url = "http://127.0.0.1:8080/"
group = "web"
[[target]]
url = "tcp://127.0.0.1:22"
""")
    code, out, err = run(["check", path])
    assert (code, err) == (0, "")
    assert out.count("\n") == 1
    assert out.startswith(f"{path}: OK, 2 targets in 1 group, 0 alert channels, 0 /probe modules; store sqlite://")
    assert out.rstrip().endswith("no web side")


def test_check_a_bad_config_is_one_line_and_exit_2(tmp_path):
    path = write(tmp_path, "[[target]]\nurl = 'tcp://h:1'\nintervl = 3\n")
    code, out, err = run(["check", path])
    assert (code, out) == (2, "")
    assert err == (f"netkit monitor check: {path}: target 1: unknown option 'intervl'; did you mean "
                   f"'interval'?\n")


def test_check_json_masks_passwords(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PW", "dbsecret")
    path = write(tmp_path, """
[monitor]
store = "postgresql://mon@db.example/netkit"
store-password-env = "DB_PW"
[[target]]
url = "https://admin:websecret@shop.example/"
labels = { env = "prod" }
""")
    code, out, err = run(["check", path, "--json"])
    assert (code, err) == (0, "")
    assert "websecret" not in out and "dbsecret" not in out
    import json

    data = json.loads(out)
    (target,) = data["targets"]
    assert target["id"] == target["url"] == "https://admin:********@shop.example/"
    assert (target["labels"], target["interval"], target["timeout"]) == ({"env": "prod"}, 60.0, 10.0)
    assert data["settings"]["store"] == "postgresql://mon:********@db.example/netkit"


@pytest.mark.parametrize("argv, words", [
    ([], "give a subcommand: run, check, discover, status or passwd"),
    (["check"], "give one CONFIG file"),
    (["check", "a", "b"], "give one CONFIG file"),
    (["chek", "x"], "unknown subcommand 'chek'; did you mean check?"),
    (["run", "x", "--listen", "nowhere"], "--listen expects \"host:port\""),
    (["run", "x", "--location", ""], "--location expects a location name"),
    (["discover"], "no hosts"),
    (["discover", "127.0.0.1", "-p", "0"], "port"),
    (["discover", "127.0.0.1", "--force"], "--force replaces the -o FILE"),
    (["discover", "127.0.0.1", "--dns-name", "a..b"], "--dns-name expects a DNS name"),
    (["status", "a", "b"], "at most one CONFIG"),
])
def test_usage_mistakes_exit_2(argv, words):
    code, out, err = run(argv)
    assert code == 2 and out == "" and words in err and err.count("\n") == 1, err


def test_help_names_every_subcommand_and_the_exit_codes():
    code, out, _ = run(["--help"])
    assert code == 0
    for word in ("monitor run CONFIG", "monitor check CONFIG", "monitor discover HOST", "monitor status",
                 "Exit status", "--once", "--force", "--dns-name"):
        assert word in out
    assert run(["discover", "--help"])[1] == out


def test_registered_in_the_command_table():
    from netkit.cli.main import COMMANDS, USAGE

    assert COMMANDS["monitor"][0] == "netkit.cli.monitor" and "  monitor " in USAGE


# -- discover ---------------------------------------------------------------------------------


def _targets(text):
    return {t["name"]: t for t in tomllib.loads(text)["target"]}


def test_discover_writes_the_right_check_for_every_service(tmp_path, pki, sshd, nginx, smtp_server, ftp_server,
                                                           dnsmasq, dovecot, closed_port):
    ports = {"ssh": sshd.port, "http": nginx.http_port, "https": nginx.https_port, "smtp": smtp_server.port,
             "smtps": smtp_server.smtps_port, "ftp": ftp_server.port, "dns": dnsmasq.port,
             "pop3": dovecot.pop3_port, "pop3s": dovecot.pop3s_port, "imap": dovecot.imap_port,
             "imaps": dovecot.imaps_port}
    out_file = tmp_path / "monitor.toml"
    spec = ",".join(str(p) for p in [*ports.values(), closed_port.port])
    code, out, err = run(["discover", "127.0.0.1", "-p", spec, "-o", str(out_file), "--dns-name", "www.netkit.test"])
    assert code == 0, err
    assert out == "" and f"127.0.0.1 ssh {ports['ssh']}: ssh://127.0.0.1:{ports['ssh']}\n" in err
    text = out_file.read_text()
    targets = _targets(text)
    expected = {
        "ssh": f"ssh://127.0.0.1:{ports['ssh']}", "http": f"http://127.0.0.1:{ports['http']}/",
        "https": f"https://127.0.0.1:{ports['https']}/", "smtp": f"smtp://127.0.0.1:{ports['smtp']}",
        "smtps": f"smtps://127.0.0.1:{ports['smtps']}", "ftp": f"ftp://127.0.0.1:{ports['ftp']}",
        "dns": f"dns://127.0.0.1:{ports['dns']}/www.netkit.test", "pop3": f"tcp://127.0.0.1:{ports['pop3']}",
        "pop3s": f"tcp://127.0.0.1:{ports['pop3s']}", "imap": f"tcp://127.0.0.1:{ports['imap']}",
        "imaps": f"tcp://127.0.0.1:{ports['imaps']}",
    }
    assert {name: t["url"] for name, t in targets.items()} == {
        f"127.0.0.1 {kind} {ports[kind]}": url for kind, url in expected.items()}
    assert targets[f"127.0.0.1 dns {ports['dns']}"]["tcp"] is True
    assert targets[f"127.0.0.1 pop3s {ports['pop3s']}"]["tls"] is True
    assert targets[f"127.0.0.1 pop3 {ports['pop3']}"]["expect"] == "+OK"
    assert targets[f"127.0.0.1 imaps {ports['imaps']}"]["expect"] == "* OK"
    assert "# banner: SSH-2.0-OpenSSH" in text
    assert "its certificate did not verify" in text        # the test CA is not the system's
    assert "pop3://USER@127.0.0.1" in text                 # the login form, as a comment

    # The file passes `netkit monitor check`, and every check it holds is the right one: it
    # passes against the very service (https once told the test CA, as the note says).
    code, out, err = run(["check", str(out_file)])
    assert code == 0 and "11 targets" in out, err
    from netkit.check.run import run_one

    config = load_config(str(out_file))
    for target in config.targets:
        if target.spec.target.scheme in ("https", "smtps") or target.spec.get("tls"):
            target.spec.opts["cacert"] = str(pki.ca_file)
        result = run_one(target.spec, False)
        assert int(result.status) == 0, (target.id, result.summary)


def test_discover_refuses_to_overwrite_without_force(tmp_path, sshd):
    out_file = tmp_path / "monitor.toml"
    out_file.write_text("# mine\n")
    code, _, err = run(["discover", "127.0.0.1", "-p", str(sshd.port), "-o", str(out_file)])
    assert code == 2 and "it exists; give --force to replace it" in err
    assert out_file.read_text() == "# mine\n"
    code, _, err = run(["discover", "127.0.0.1", "-p", str(sshd.port), "-o", str(out_file), "--force"])
    assert code == 0, err
    assert f"ssh://127.0.0.1:{sshd.port}" in out_file.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitor.toml"]   # no temporary left


def test_discover_to_stdout_and_nothing_open(closed_port, sshd):
    code, out, err = run(["discover", "127.0.0.1", "-p", str(closed_port.port)])
    assert (code, out) == (1, "") and "no open port" in err
    code, out, err = run(["discover", "127.0.0.1", "-p", str(sshd.port)])
    assert (code, err) == (0, "") and f'url = "ssh://127.0.0.1:{sshd.port}"' in out


def test_discover_a_hostile_banner_is_a_comment_at_most(tmp_path, hostile_banners):
    peers = hostile_banners
    out_file = tmp_path / "monitor.toml"
    spec = f"{peers.ssh},{peers.ftp},{peers.http},{peers.junk}"
    code, _, err = run(["discover", "127.0.0.1", "-p", spec, "-o", str(out_file), "--timeout", "1"])
    assert code == 0, err
    text = out_file.read_text(encoding="utf-8")
    assert all(c.isprintable() or c == "\n" for c in text), repr(text)
    assert "\u2028" not in text and "\x1b" not in text and "\x7f" not in text
    targets = _targets(text)   # it is TOML, and the targets are ours alone
    assert {name: t["url"] for name, t in targets.items()} == {
        f"127.0.0.1 ssh {peers.ssh}": f"ssh://127.0.0.1:{peers.ssh}",
        f"127.0.0.1 ftp {peers.ftp}": f"ftp://127.0.0.1:{peers.ftp}",
        f"127.0.0.1 http {peers.http}": f"http://127.0.0.1:{peers.http}/",
        f"127.0.0.1 tcp {peers.junk}": f"tcp://127.0.0.1:{peers.junk}",
    }
    for target in targets.values():
        assert set(target) <= {"name", "url"}
    for line in text.splitlines():
        if INJECTED in line:
            assert line.startswith("# banner: "), line
    assert run(["check", str(out_file)])[0] == 0


def test_systemd_unit_runs_the_monitor_and_reloads_with_hup():
    import configparser
    from pathlib import Path

    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(Path(__file__).parents[1] / "examples" / "netkit-monitor.service")
    service = unit["Service"]
    assert service["Type"] == "notify" and service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["ExecStart"].endswith("netkit monitor run /etc/netkit/monitor.toml")
    assert service["StateDirectory"] == "netkit" and service["NoNewPrivileges"] == "yes"
    from netkit.cli.monitor import parse

    request = parse(service["ExecStart"].split()[2:])   # what the unit runs parses
    assert (request["sub"], request["config"], request["once"]) == ("run", "/etc/netkit/monitor.toml", False)


# -- run --once and status ----------------------------------------------------------------------


def test_run_once_prints_a_line_per_target_and_exits_with_the_worst(tmp_path, sshd, closed_port):
    path = write(tmp_path, f"""
[monitor]
listen = ""
state-dir = "state"
[[target]]
name = "sshd"
url = "ssh://127.0.0.1:{sshd.port}"
[[target]]
name = "closed"
url = "tcp://127.0.0.1:{closed_port.port}"
timeout = 2
""")
    code, out, err = run(["run", path, "--once"])
    assert (code, err) == (2, "")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("sshd OK - OpenSSH")
    assert lines[1].startswith("closed CRITICAL - connection refused")
    assert not (tmp_path / "state").exists()   # --once leaves no store behind
    code, out, _ = run(["run", path, "--once", "--json"])
    import json

    assert code == 2 and [json.loads(line)["status"] for line in out.splitlines()] == ["OK", "CRITICAL"]


def test_status_reads_the_store_worst_first(tmp_path):
    import time

    from netkit.monitor._records import Sample, Verdict
    from netkit.monitor._state import TargetState
    from netkit.monitor._store import open_store

    path = write(tmp_path, """
[monitor]
state-dir = "state"
location = "fra"
[[target]]
name = "web"
url = "https://admin:pw@shop.example/"
[[target]]
name = "db"
url = "tcp://db.example:5432"
""")
    code, _, err = run(["status", path])
    assert code == 1 and "no store at" in err and str(tmp_path / "state" / "monitor.db") in err
    config = load_config(path)
    (tmp_path / "state").mkdir()
    store = open_store(config.settings.store, "fra")
    now = time.time()
    try:
        store.sync_targets([t.info for t in config.targets])
        store.commit([Sample("web", "fra", now - 5, 0.2, 0, "HTTP OK - 200"),
                      Sample("db", "fra", now - 3, 0.1, 2, "TCP CRITICAL - refused \x1b[2J")],
                     [TargetState("web", since=now - 3600, last_result=now - 5),
                      TargetState("db", status=2, hard_status=2, since=now - 120, last_result=now - 3)], [])
        store.commit_verdicts([Verdict("db", 2, now - 120, (("fra", 2),))], [], [])
    finally:
        store.close()
    code, out, err = run(["status", path])
    assert (code, err) == (0, ""), err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TARGET", "STATE", "SINCE"]
    assert lines[1].split()[:4] == ["db", "CRITICAL", "2m", "ago"] and "refused \\x1b[2J" in lines[1]
    assert lines[2].split()[:4] == ["web", "OK", "1h", "ago"] and lines[2].endswith("HTTP OK - 200")
    assert "\x1b" not in out
    code, out, _ = run(["status", path, "--json"])
    import json

    rows = json.loads(out)
    assert [(r["target"], r["state"], r["locations"]) for r in rows] == [("db", "CRITICAL", {"fra": "CRITICAL"}),
                                                                          ("web", "OK", {"fra": "OK"})]


def test_run_in_the_foreground_takes_the_overrides_and_stops_on_sigterm(tmp_path, sshd):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    path = write(tmp_path, f"""
[monitor]
state-dir = "state"
listen = "127.0.0.1:1"
[[target]]
name = "sshd"
url = "ssh://127.0.0.1:{sshd.port}"
interval = 1
""")
    (tmp_path / "state").mkdir()
    src = str(Path(__file__).parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([sys.executable, "-m", "netkit", "monitor", "run", path, "--location", "fra",
                             "--listen", ""], stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stderr.readline()
        assert "running 1 targets" in first and "location 'fra'" in first and "web" not in first, first
        import json

        rows = []
        deadline = time.monotonic() + 30
        while not (rows and rows[0]["last_check"]) and time.monotonic() < deadline:
            time.sleep(0.2)
            code, out, err = run(["status", path, "--json"])   # read beside the running writer
            rows = json.loads(out) if code == 0 else []
        assert rows and rows[0]["target"] == "sshd" and rows[0]["locations"] == {"fra": "OK"}, rows
        assert rows[0]["summary"].startswith("OpenSSH")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    code, out, err = run(["status", path])
    assert code == 0 and out.splitlines()[1].split()[:2] == ["sshd", "OK"], out + err
