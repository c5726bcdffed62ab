"""The monitor at work against real peers: results, states and verdicts reach the store, a hung
target holds only itself, reload keeps the old config when the new one is bad, SIGTERM drains,
systemd hears READY, a restart resumes its states."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

from netkit.monitor._config import load_config
from netkit.monitor._runner import Monitor
from netkit.monitor._store import open_store

# Long enough for a loaded 2-core machine to run a few rounds of 1-2 s intervals.
WAIT = 30.0


def write_config(path: Path, body: str, *, store: Path, listen: str = "") -> Path:
    path.write_text(f'[monitor]\nstore = "{store}"\nlisten = "{listen}"\nstate-dir = "{path.parent}"\n' + body)
    return path


def target(name: str, url: str, **keys) -> str:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
    return f'\n[[target]]\nname = "{name}"\nurl = "{url}"\n{extra}'


async def run_until(monitor: Monitor, done, timeout: float = WAIT) -> None:
    """Run ``monitor`` until ``done(monitor)`` is true (polled), then stop it and wait."""
    task = asyncio.create_task(monitor.run())
    deadline = time.monotonic() + timeout
    while not done(monitor):
        assert not task.done(), task.exception()
        assert time.monotonic() < deadline, f"gave up waiting; samples: {monitor.last_samples()}"
        await asyncio.sleep(0.1)
    monitor.stop()
    await asyncio.wait_for(task, WAIT)


def test_results_states_and_verdicts_reach_the_store(tmp_path, nginx, closed_port):
    db = tmp_path / "m.db"
    cfg = write_config(tmp_path / "m.toml", "[defaults]\ninterval = \"1s\"\nfailure-threshold = 2\n"
                       + target("web", f"http://127.0.0.1:{nginx.http_port}/")
                       + target("down", f"tcp://127.0.0.1:{closed_port.port}"), store=db)
    monitor = Monitor(load_config(cfg))
    seen = []
    monitor.subscribe(lambda target_id, events: seen.extend((target_id, type(e).__name__) for e in events))

    def done(m):
        v = m.verdicts().get("down")
        return v is not None and v.status == 2 and "web" in m.last_samples()

    asyncio.run(run_until(monitor, done))
    store = open_store(str(db))
    try:
        states = store.load_states()
        assert states["down"].hard_status == 2 and states["web"].hard_status == 0
        web = store.history("web", 0, time.time() + 1)
        down = store.history("down", 0, time.time() + 1)
        assert web and all(s.status == 0 and s.location == "default" for s in web)
        assert len(down) >= 2 and all(s.status == 2 for s in down)
        assert "refused" in down[-1].summary.lower()
        assert down[-1].dialogue is not None       # a failed result keeps its dialogue
        assert web[-1].dialogue is None            # an OK one does not
        kinds = {(e.target, e.kind) for e in store.events(None, 0)}
        assert ("down", "HardChange") in kinds and ("down", "VerdictChange") in kinds
        assert store.load_verdicts()["down"].status == 2
        assert [i["target"] for i in store.incidents(None, 0)] == ["down"]
    finally:
        store.close()
    assert ("down", "SoftChange") in seen and ("down", "HardChange") in seen


def test_a_hung_target_holds_only_itself(tmp_path, nginx, silent_tcp):
    """A peer that accepts and never answers is cut at its deadline; the other targets' runs
    go on meanwhile (their results start while the hung run is in flight)."""
    body = "[defaults]\ninterval = \"2s\"\n" + target(
        "hung", f"http://127.0.0.1:{silent_tcp.port}/", timeout=1.5)
    body += "".join(target(f"web{i}", f"http://127.0.0.1:{nginx.http_port}/?n={i}") for i in range(6))
    cfg = write_config(tmp_path / "m.toml", body, store=tmp_path / "m.db")
    monitor = Monitor(load_config(cfg))
    web_runs = []   # (start, end) of every web run
    hung = []
    original = monitor._record

    def record(target, at, duration, result):
        (hung if target.id == "hung" else web_runs).append((at, at + duration, result))
        original(target, at, duration, result)

    monitor._record = record
    asyncio.run(run_until(monitor, lambda m: len(hung) >= 2))
    assert all(r.status == 2 for _, _, r in hung)
    assert all("1.5 s" in r.summary or "timed out" in r.summary.lower() for _, _, r in hung), hung
    # While each hung run was waiting, some web run started and finished inside that window.
    for start, end, _ in hung:
        assert any(start <= ws and we <= end for ws, we, _ in web_runs), (start, end, web_runs)
    assert all(r.status == 0 for _, _, r in web_runs)


def test_a_restart_resumes_states(tmp_path, closed_port):
    db = tmp_path / "m.db"
    cfg = write_config(tmp_path / "m.toml", "[defaults]\ninterval = \"1s\"\nfailure-threshold = 3\n"
                       + target("down", f"tcp://127.0.0.1:{closed_port.port}"), store=db)
    first = Monitor(load_config(cfg))
    asyncio.run(run_until(first, lambda m: m.states().get("down") and m.states()["down"].attempt >= 1))
    attempts = first.states()["down"].attempt
    second = Monitor(load_config(cfg))
    # The count toward the hard state goes on from where the first monitor left it.
    asyncio.run(run_until(second, lambda m: m.states().get("down") and m.states()["down"].attempt != attempts))
    state = second.states()["down"]
    assert state.attempt == attempts + 1 or state.hard_status == 2


def test_a_transition_alerts_once_through_the_outbox(tmp_path, webhook):
    """Down, then up: one problem and one recovery reach the webhook, each once, even across a
    restart of the monitor in between (the outbox is in the store, keyed per transition)."""
    service = socket.socket()
    service.bind(("127.0.0.1", 0))
    port = service.getsockname()[1]
    body = ("[defaults]\ninterval = \"1s\"\nfailure-threshold = 1\nsuccess-threshold = 1\n"
            + target("svc", f"tcp://127.0.0.1:{port}")
            + f'\n[[alert]]\nname = "ops"\ntype = "webhook"\nurl = "{webhook.url("/ok/ops")}"\n')
    cfg = write_config(tmp_path / "m.toml", body, store=tmp_path / "m.db")
    try:
        asyncio.run(run_until(Monitor(load_config(cfg)), lambda m: len(webhook.requests("/ok/ops")) >= 1))
        # Restarted: the problem is not sent again; the recovery is sent when it comes.
        service.listen()
        asyncio.run(run_until(Monitor(load_config(cfg)), lambda m: len(webhook.requests("/ok/ops")) >= 2))
    finally:
        service.close()
    payloads = [json.loads(seen.body) for seen in webhook.requests("/ok/ops")]
    assert [p["kind"] for p in payloads] == ["problem", "recovery"], payloads
    assert [(p["target"], p["old_status"], p["status"]) for p in payloads] == [
        ("svc", "OK", "CRITICAL"), ("svc", "CRITICAL", "OK")]
    assert "refused" in payloads[0]["summary"]


def test_reminders_go_only_to_the_channels_a_target_alerts(tmp_path, webhook, closed_port, monkeypatch):
    import netkit.monitor._runner as runner

    monkeypatch.setattr(runner, "REMINDER_SECONDS", 0.2)
    body = ("[defaults]\ninterval = \"1s\"\nfailure-threshold = 1\n"
            + target("svc", f"tcp://127.0.0.1:{closed_port.port}", alerts=["a"])
            + "".join(f'\n[[alert]]\nname = "{n}"\ntype = "webhook"\nresend = "1s"\nurl = "{webhook.url("/ok/" + n)}"\n'
                      for n in ("a", "b")))
    cfg = write_config(tmp_path / "m.toml", body, store=tmp_path / "m.db")
    asyncio.run(run_until(Monitor(load_config(cfg)), lambda m: len(webhook.requests("/ok/a")) >= 3))
    kinds = [json.loads(seen.body)["kind"] for seen in webhook.requests("/ok/a")]
    assert kinds[0] == "problem" and set(kinds[1:]) == {"reminder"}, kinds
    assert webhook.requests("/ok/b") == []
