"""The dashboard's actions against the real ``netkit monitor run``: a maintenance window added
through the API suppresses the alert a real webhook receiver would get (a target without one
alerts it), ends on its own and can be removed; a target paused with the form is not checked
until resumed through the API. And the store's tables for them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import time

import pytest

from netkit.monitor._store import open_store
from tests.test_monitor_auth import Client, free_port, monitor, poll, write_config

TOKEN = {"Authorization": "Bearer t0ken", "Content-Type": "application/json"}


def listening() -> socket.socket:
    """A port that accepts (the kernel completes the handshake: a tcp:// check is OK)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(100)
    return sock


def targets(port: int, *names) -> str:
    return "".join(f'[[target]]\nname = "{n}"\nurl = "tcp://127.0.0.1:{port}"\ninterval = "1s"\n'
                   'failure-threshold = 1\n' for n in names)


def history(db, tid: str) -> int:
    store = open_store(str(db))
    try:
        return len(store.history(tid, 0, time.time() + 1, 10_000))
    finally:
        store.close()


def test_a_runtime_window_suppresses_the_alert_and_ends(tmp_path, webhook):
    sock = listening()
    port = free_port()
    hook = webhook.url("/ok/actions")
    body = targets(sock.getsockname()[1], "quiet", "loud") + \
        f'[[alert]]\nname = "hook"\ntype = "webhook"\nurl = "{hook}"\n'
    cfg = write_config(tmp_path, f"127.0.0.1:{port}", body)
    with monitor(cfg, port):
        client = Client(port)
        poll(lambda: client.json("/api/targets/quiet")["state"], lambda s: s and s["hard_status"] == 0)
        status, _, text = client.request("POST", "/api/targets/quiet/maintenance",
                                         json.dumps({"minutes": 30, "author": "ops", "comment": "router swap"}),
                                         headers=TOKEN)
        assert status == 201, text
        window = json.loads(text)
        assert window["target"] == "quiet" and window["author"] == "ops" and window["end"] - window["start"] == 1800
        poll(lambda: client.json("/api/targets/quiet")["maintenance"], lambda w: [x["id"] for x in w] == [window["id"]])
        assert client.json("/api/maintenance") == [window]
        sock.close()   # both targets fail now
        webhook.wait_for("/ok/actions", 1)
        poll(lambda: client.json("/api/targets/quiet")["verdict"], lambda v: v and v["status"] == 2)
        [alert] = webhook.payloads("/ok/actions")
        assert "loud" in json.dumps(alert) and "quiet" not in json.dumps(alert)
        # Removed by hand: gone from the API and the store; a second removal is 404.
        gone = f"/api/maintenance/{window['id']}"
        assert client.request("DELETE", gone, headers=TOKEN)[0] == 200
        assert client.request("DELETE", gone, headers=TOKEN)[0] == 404
        poll(lambda: client.json("/api/maintenance"), lambda w: w == [])
        # A window until a moment from now ends by itself.
        until = time.time() + 2
        status, _, text = client.request("POST", "/api/targets/loud/maintenance",
                                         json.dumps({"until": until, "author": "ops"}), headers=TOKEN)
        assert status == 201 and json.loads(text)["end"] == until
        poll(lambda: client.json("/api/maintenance"), lambda w: w == [])
        # Bad windows: one line each, nothing stored.
        for bad, words in (({"author": "ops"}, "give minutes"), ({"minutes": 0, "author": "ops"}, "minutes must"),
                           ({"until": "yesterday", "author": "ops"}, "until must"),
                           ({"until": time.time() - 60, "author": "ops"}, "in the next"),
                           ({"minutes": 5}, "author")):
            status, _, text = client.request("POST", "/api/targets/loud/maintenance", json.dumps(bad), headers=TOKEN)
            assert status == 400 and words in json.loads(text)["error"], (bad, text)
        assert client.request("POST", "/api/targets/ghost/maintenance", json.dumps({"minutes": 5, "author": "x"}),
                              headers=TOKEN)[0] == 404
    store = open_store(str(tmp_path / "m.db"))
    try:
        changes = [e for e in store.events("quiet", 0) if e.kind == "VerdictChange"]
        assert changes and changes[-1].data["new"] == 2 and changes[-1].data["suppressed"] == ["maintenance"]
        assert {t for t, _ in store.last_alerts()} == {"loud"}
    finally:
        store.close()


def test_a_paused_target_is_not_checked_until_resumed(tmp_path):
    sock = listening()
    port = free_port()
    db = tmp_path / "m.db"
    cfg = write_config(tmp_path, f"127.0.0.1:{port}", targets(sock.getsockname()[1], "paused", "running"))
    try:
        with monitor(cfg, port):
            client = Client(port)
            poll(lambda: history(db, "paused"), lambda n: n >= 1)
            csrf = client.csrf()
            status, response, _ = client.request("POST", "/actions/pause", {"target": "paused", "comment": "flaky",
                                                                            "csrf_token": csrf})
            assert status == 303 and response.getheader("Location") == "/target/paused"
            shown = poll(lambda: client.json("/api/targets/paused")["paused"], bool)
            assert shown["author"] == "local" and shown["comment"] == "flaky"
            assert list(client.json("/api/paused")) == ["paused"]
            silenced = [line for line in client.get("/metrics")[2].splitlines()
                        if line.startswith("netkit_target_silenced{")]
            assert len(silenced) == 1 and 'target="paused"' in silenced[0] and silenced[0].endswith(" 1")
            before, others = history(db, "paused"), history(db, "running")
            poll(lambda: history(db, "running"), lambda n: n >= others + 4)
            assert history(db, "paused") <= before + 1   # at most the run in flight when paused
            # Resumed through the API: checked again.
            assert client.request("DELETE", "/api/targets/paused/pause", headers=TOKEN)[0] == 200
            poll(lambda: client.json("/api/targets/paused")["paused"], lambda p: p is None)
            assert "netkit_target_silenced{" not in client.get("/metrics")[2]
            after = history(db, "paused")
            poll(lambda: history(db, "paused"), lambda n: n >= after + 2)
            assert client.request("POST", "/actions/pause", {"target": "ghost", "csrf_token": csrf})[0] == 404
    finally:
        sock.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    url = str(tmp_path / "m.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = open_store(url)
    yield store
    store.close()


def test_store_keeps_windows_and_paused_targets(store):
    now = 1_800_000_000.0
    store.add_window("w1", "web", now, now + 600, "alice", "swap", now)
    store.add_window("w1", "web", now, now + 999, "bob", "again", now)     # the same id: no-op
    store.add_window("w2", "db", now + 60, now + 120, "bob", "x" * 5000, now)
    assert [w["id"] for w in store.windows(now)] == ["w1", "w2"]
    assert store.windows(now)[0] == {"id": "w1", "target": "web", "start": now, "end": now + 600, "author": "alice",
                                     "comment": "swap", "created": now}
    assert len(store.windows(now)[1]["comment"].encode()) <= 1024
    assert [w["id"] for w in store.windows(now + 120)] == ["w1"]       # ended ones are not shown
    store.prune(now + 300, 14, 400)                                     # ...and pruned
    assert store.remove_window("w2") is False and store.remove_window("w1") is True
    assert store.windows(now) == []
    store.pause("web", now, "alice", "noisy")
    store.pause("web", now + 1, "bob")                                  # already paused: kept as it was
    assert store.paused() == {"web": {"at": now, "author": "alice", "comment": "noisy"}}
    assert store.resume("web") is True and store.resume("web") is False and store.paused() == {}
