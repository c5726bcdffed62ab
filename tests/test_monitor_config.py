"""A monitor config's targets are `netkit check --file`'s checks, on real peers; its
alerts = [...] routes a target's alerts (and reminders) through a real SQLite outbox."""

import asyncio

from netkit.check.file import load_checks
from netkit.check.run import run_one
from netkit.monitor._config import load_config


def test_a_target_checks_as_the_same_check_in_a_checks_file(tmp_path, nginx, sshd, pki):
    body = f"""
url = "https://127.0.0.1:{nginx.https_port}/"
cacert = "{pki.ca_file}"
status = "200"
body = "hello netkit"
cert-warn = 30

[[{{kind}}]]
name = "wrong status"
url = "http://127.0.0.1:{nginx.http_port}/status/404"
status = "200"

[[{{kind}}]]
name = "ssh"
url = "ssh://127.0.0.1:{sshd.port}"
software = "OpenSSH"
"""
    checks = tmp_path / "checks.toml"
    checks.write_text("[[check]]\nname = \"web\"" + body.replace("{kind}", "check"))
    monitor = tmp_path / "monitor.toml"
    monitor.write_text("[[target]]\nname = \"web\"\ninterval = 30" + body.replace("{kind}", "target"))
    config = load_config(str(monitor))
    by_file = [run_one(spec, False) for spec in load_checks(str(checks))]
    by_target = [run_one(target.spec, False) for target in config.targets]
    assert [(int(r.status), r.service) for r in by_file] == [(int(r.status), r.service) for r in by_target] == \
        [(0, "web"), (2, "wrong status"), (0, "ssh")]
    assert by_target[0].details.keys() == by_file[0].details.keys()


def test_alerts_go_only_to_the_channels_a_target_names(tmp_path):
    from netkit.monitor._records import Verdict
    from netkit.monitor._runner import Monitor
    from netkit.monitor._store import open_store

    path = tmp_path / "monitor.toml"
    path.write_text(f"""
[monitor]
store = "{tmp_path / 'monitor.db'}"
[[target]]
name = "paged"
url = "tcp://127.0.0.1:1"
alerts = ["pager"]
[[target]]
name = "silent"
url = "tcp://127.0.0.1:2"
alerts = []
[[target]]
name = "everyone"
url = "tcp://127.0.0.1:3"
[[alert]]
name = "pager"
type = "webhook"
url = "http://127.0.0.1:9/pager"
resend = "1m"
[[alert]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9/ops"
resend = "1m"
""")
    config = load_config(str(path))
    assert {t.id: t.channels for t in config.targets} == {"paged": ("pager",), "silent": (),
                                                          "everyone": ("pager", "ops")}
    store = open_store(config.settings.store)
    try:
        monitor = Monitor(config, store)
        now = 1_800_000_000.0
        monitor._verdicts = {t.id: Verdict(t.id, 2, now - 3600) for t in config.targets}
        asyncio.run(monitor._remind(now))
        due = store.due_alerts(now + 1)
        assert sorted((a.target, a.channel) for a in due) == [("everyone", "ops"), ("everyone", "pager"),
                                                              ("paged", "pager")]
        assert [c.name for c in monitor._channels_for(config.by_id["silent"])] == []
        assert [c.name for c in monitor._channels_for(config.by_id["paged"])] == ["pager"]
    finally:
        store.close()
