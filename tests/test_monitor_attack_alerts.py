"""The red team's attacks on the monitor's alerts, through ``netkit monitor run``: a target
whose name, group and labels hold quotes, backslashes, braces, ``<script>`` and unicode, and
whose peer answers with escapes, NUL and invalid UTF-8, goes down; its alert reaches an email
channel (no header of a peer's or config's making), a command (argv, no shell; environment
without NUL) and Alertmanager (labels as given) while a webhook that never answers holds only
its own channel; commands that write endlessly or never exit are cut at their timeout with
their whole process group."""

from __future__ import annotations

import json
import sys
import time

from tests.peers.monitor_hostile import MONITOR_WAIT, MonitorProcess

NAME = 'evil "name" <script>{x}</script> \\ ☃'
GROUP = "grp {a} \"b\" <i>"
LABEL = 'v "q" \\ {x} <b>'


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_hostile_targets_alert_reaches_every_channel_intact(tmp_path, monitor_hostile, webhook, smtp_server,
                                                              alertmanager):
    rcpt = f"ops-{time.time_ns()}@example.test"
    out = tmp_path / "command.json"
    page = tmp_path / "page.py"
    page.write_text("import json, os, sys\n"
                    "data = json.load(sys.stdin)\n"
                    "data['argv'] = sys.argv[1:]\n"
                    "data['env'] = {k: v for k, v in os.environ.items() if k.startswith('NETKIT_')}\n"
                    f"open({str(out)!r}, 'w').write(json.dumps(data))\n")
    unique = f"{NAME} {time.time_ns()}"
    body = (f'[group.{json.dumps(GROUP)}]\n'
            f'[[target]]\nname = {json.dumps(unique)}\ngroup = {json.dumps(GROUP)}\n'
            f'url = "http://127.0.0.1:{monitor_hostile.garbage}/"\ninterval = "1s"\nfailure-threshold = 1\n'
            f'labels = {{ team = {json.dumps(LABEL)} }}\n'
            f'[[alert]]\nname = "stuck"\ntype = "webhook"\nurl = "{webhook.url("/hang/attack")}"\ntimeout = 120\n'
            f'[[alert]]\nname = "page"\ntype = "command"\nargv = [{json.dumps(sys.executable)}, "{page}", '
            f'"$(touch {tmp_path}/pwned)", "; rm -rf /"]\n'
            f'[[alert]]\nname = "mail"\ntype = "email"\nurl = "smtp://{smtp_server.host}:{smtp_server.port}"\n'
            f'starttls = "never"\nfrom = "monitor@example.net"\nto = ["{rcpt}"]\n'
            f'[[alert]]\nname = "am"\ntype = "alertmanager"\nurl = "{alertmanager.url}"\n')
    with MonitorProcess(tmp_path, body) as mon:
        mon.wait_for(lambda: out.exists(), "the command's alert")
        mon.wait_for(lambda: smtp_server.messages(rcpt), "the mail")
        mine = lambda: [a for a in alertmanager.alerts() if a["labels"].get("target") == unique]
        mon.wait_for(mine, "Alertmanager's alert")
        # the hung webhook got its request and holds it: the others did not wait for it
        assert webhook.requests("/hang/attack")
        assert "stuck:" not in mon.stderr()

        got = json.loads(out.read_text())
        assert got["argv"] == [f"$(touch {tmp_path}/pwned)", "; rm -rf /"]
        assert not (tmp_path / "pwned").exists()
        assert got["target"] == unique and got["env"]["NETKIT_TARGET"] == unique
        assert got["env"]["NETKIT_GROUP"] == GROUP and got["labels"] == {"team": LABEL}
        assert all("\0" not in v for v in got["env"].values())

        [mail] = smtp_server.messages(rcpt)
        message = mail.message
        names = {k.lower() for k in message} - {"x-peer", "x-mailfrom", "x-rcptto", "x-auth-user", "x-tls"}
        assert names <= {"from", "to", "subject", "date", "message-id", "x-netkit-alert-id", "content-type",
                         "content-transfer-encoding", "mime-version"}, names
        subject = str(message["Subject"])
        assert unique in subject and not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in subject)
        content = message.get_content()
        assert not any(c in content for c in "\x00\x1b\x07\x9b")

        [fired] = mine()
        assert fired["labels"]["group"] == GROUP and fired["labels"]["team"] == LABEL
        assert fired["labels"]["severity"] == "critical" and unique in fired["annotations"]["summary"]
    assert mon.stop() == 0
    err = mon.stderr()
    assert "Traceback" not in err and "\x1b" not in err and "\x00" not in err


def test_commands_that_flood_or_hang_are_cut_with_their_process_group(tmp_path, monitor_hostile):
    flood_pid, hang_pid = tmp_path / "flood.pid", tmp_path / "hang.pid"
    flood = (f"import os, sys; open({str(flood_pid)!r}, 'w').write(str(os.getpid())); "
             "[sys.stdout.write('x' * 65536 + chr(27) + '[2J') for _ in iter(int, 1)]")
    body = (f'[[target]]\nname = "down"\nurl = "tcp://127.0.0.1:{monitor_hostile.reset}"\nexpect = "x"\n'
            'mismatch = "crit"\ninterval = "1s"\nfailure-threshold = 1\n'
            f'[[alert]]\nname = "flood"\ntype = "command"\ntimeout = 2\n'
            f'argv = [{json.dumps(sys.executable)}, "-c", {json.dumps(flood)}]\n'
            f'[[alert]]\nname = "hang"\ntype = "command"\ntimeout = 2\n'
            f'argv = ["/bin/sh", "-c", "sleep 600 & echo $! > {hang_pid}; wait"]\n')
    with MonitorProcess(tmp_path, body, listen=False).start() as mon:
        mon.wait_for(lambda: "flood: no answer within 2 s" in mon.stderr() and "hang: no answer within 2 s"
                     in mon.stderr(), "both commands cut at their timeout", timeout=MONITOR_WAIT * 2)
        for pidfile in (flood_pid, hang_pid):
            pid = int(pidfile.read_text())
            deadline = time.monotonic() + MONITOR_WAIT
            while not _gone(pid):
                assert time.monotonic() < deadline, f"{pidfile.name}: {pid} outlived its command's timeout"
                time.sleep(0.1)
        assert mon.proc.poll() is None
    assert mon.stop() == 0
    assert "\x1b" not in mon.stderr()
