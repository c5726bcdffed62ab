"""Alert delivery against real receivers: a webhook receiver (also in Slack's form and misbehaving
on demand), aiosmtpd with STARTTLS and AUTH, a command, the Debian package's Alertmanager; the
outbox in a real SQLite store, delivered exactly once across a restart."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import time

import pytest

from netkit.monitor._alerts import GIVE_UP_AFTER, Dispatcher, alert_id, plan_alerts
from netkit.monitor._channels import channel_from_table
from netkit.monitor._records import TargetInfo, VerdictChange
from netkit.monitor._store import open_store
from tests.peers.webhook import HUGE_LENGTH

# How long a test waits for a delivery (a condition, not a timing assertion).
WAIT = 20.0


class Clock:
    """time.time() plus an offset a test moves forward to make a retry due."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def store(tmp_path):
    s = open_store(str(tmp_path / "monitor.db"))
    yield s
    s.close()


def chan(name, table, **env):
    return channel_from_table(name, table, f"test [[alert]] {name}", env=env)


def target(name, group="web"):
    return TargetInfo(name, f"https://{name}.example/health", group=group, labels=(("team", "ops"),))


def enqueue(store, channels, name, old=0, new=2, at=None, summary="connection refused"):
    change = VerdictChange(name, at if at is not None else time.time(), old, new, summary, locations=(("paris", new),))
    alerts = plan_alerts(change, target(name), channels, time.time())
    store.commit_verdicts([], [], alerts)
    return alerts


def pending(store) -> dict:
    """The undelivered outbox rows by key (given-up ones included: their next_at is inf)."""
    return {a.key: a for a in store.due_alerts(math.inf, 1000)}


def dispatch(store, channels, until, clock=None, timeout=WAIT):
    """Run a Dispatcher until ``until()`` holds (checked between polls), then stop it."""

    said = []

    async def main():
        dispatcher = Dispatcher(store, channels, clock=clock or time.time, log=said.append)
        await dispatcher.start()
        try:
            deadline = time.monotonic() + timeout
            while not await asyncio.to_thread(until):
                if time.monotonic() > deadline:
                    raise AssertionError(f"not done after {timeout:g} s; outbox: {pending(store)}; log: {said}")
                await asyncio.sleep(0.05)
        finally:
            await dispatcher.stop()
        return dispatcher

    return asyncio.run(main())


# -- each channel against its receiver ---------------------------------------------------------

def test_webhook_posts_the_payload_with_its_id(store, webhook):
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/ok/a"), "headers": {"X-Team": "ops"},
                         "headers-env": {"Authorization": "AUTH"}}, AUTH="Bearer t0ken")
    [alert] = enqueue(store, [hook], "web-a")
    dispatch(store, [hook], lambda: not pending(store))
    [seen] = webhook.requests("/ok/a")
    body = json.loads(seen.body)
    assert (body["target"], body["status"], body["old_status"], body["kind"]) == ("web-a", "CRITICAL", "OK", "problem")
    assert body["id"] == alert_id(alert.key) == seen.header("Idempotency-Key")
    assert body["labels"] == {"team": "ops"} and body["locations"] == {"paris": "CRITICAL"}
    assert seen.header("Authorization") == "Bearer t0ken" and seen.header("X-Team") == "ops"
    assert seen.header("Content-Type") == "application/json"


def test_https_webhook_verifies_the_certificate(store, webhook_tls, pki):
    untrusted = chan("untrusted", {"type": "webhook", "url": webhook_tls.url("/ok/tls1")})
    trusted = chan("trusted", {"type": "webhook", "url": webhook_tls.url("/ok/tls2"), "cafile": str(pki.ca_file)})
    [refused] = enqueue(store, [untrusted], "web-tls-1")
    [accepted] = enqueue(store, [trusted], "web-tls-2")
    dispatch(store, [untrusted, trusted],
             lambda: accepted.key not in pending(store) and pending(store)[refused.key].attempts == 1)
    assert "CERTIFICATE_VERIFY_FAILED" in pending(store)[refused.key].last_error
    assert webhook_tls.requests("/ok/tls1") == [] and len(webhook_tls.requests("/ok/tls2")) == 1


def test_slack_form_escapes_markup(store, webhook):
    slack = chan("slack", {"type": "slack", "url": webhook.url("/ok/slack")})
    enqueue(store, [slack], "web-<!channel>", summary="a & b <http://evil|click>")
    dispatch(store, [slack], lambda: not pending(store))
    [payload] = webhook.payloads("/ok/slack")
    assert set(payload) == {"text"}
    assert payload["text"].startswith("CRITICAL web-&lt;!channel&gt;: a &amp; b &lt;http://evil|click&gt;")
    assert "<" not in payload["text"]


def test_email_over_starttls_with_auth(store, smtp_server, pki):
    rcpt = f"ops-{time.time_ns()}@example.test"
    mail = chan("mail", {"type": "email", "url": f"smtp://{smtp_server.user}@{smtp_server.host}:{smtp_server.port}",
                         "password-env": "PW", "from": "monitor@example.net", "to": [rcpt],
                         "cafile": str(pki.ca_file)}, PW=smtp_server.password)
    evil = "web-mail\r\nBcc: thief@example.test"
    [alert] = enqueue(store, [mail], evil, summary="down\r\nX-Injected: yes")
    dispatch(store, [mail], lambda: not pending(store))
    [got] = smtp_server.messages(rcpt)
    assert got.tls and got.auth_user == smtp_server.user and got.rcpt_tos == (rcpt,)
    message = got.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "\\x0d\\x0aBcc: thief" in message["Subject"] and message["Subject"].startswith("[netkit] CRITICAL web-mail")
    assert message["Message-ID"] == f"<{alert_id(alert.key)}@example.net>"
    assert message["X-Netkit-Alert-Id"] == alert_id(alert.key)
    assert "OK -> CRITICAL" in message.get_content()
    assert smtp_server.messages("thief@example.test") == []


def test_email_over_smtps(store, smtp_server, pki):
    rcpt = f"ops-{time.time_ns()}@example.test"
    mail = chan("mail", {"type": "email", "url": f"smtps://{smtp_server.host}:{smtp_server.smtps_port}",
                         "from": "monitor@example.net", "to": rcpt, "cafile": str(pki.ca_file)})
    enqueue(store, [mail], "web-smtps", old=2, new=0, summary="ok again")
    dispatch(store, [mail], lambda: not pending(store))
    [got] = smtp_server.messages(rcpt)
    assert got.tls and got.message["Subject"] == "[netkit] RESOLVED web-smtps: ok again"


def test_email_refuses_a_certificate_it_does_not_trust(store, smtp_server):
    mail = chan("mail", {"type": "email", "url": f"smtp://{smtp_server.host}:{smtp_server.port}",
                         "from": "monitor@example.net", "to": "x@example.test"})
    [alert] = enqueue(store, [mail], "web-untrusted")
    dispatch(store, [mail], lambda: pending(store)[alert.key].attempts == 1)
    assert "CERTIFICATE_VERIFY_FAILED" in pending(store)[alert.key].last_error


@pytest.fixture
def plain_smtp():
    """aiosmtpd in a thread, without STARTTLS: what a downgrading man in the middle looks like."""
    from aiosmtpd.controller import Controller

    from tests.peers._base import free_port

    class Handler:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):
            self.mails.append(envelope)
            return "250 OK"

    handler = Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.mark.parametrize("mode, sent", [("required", False), ("optional", True), ("never", True)])
def test_starttls_required_never_downgrades(store, plain_smtp, mode, sent):
    controller, handler = plain_smtp
    mail = chan("mail", {"type": "email", "url": f"smtp://127.0.0.1:{controller.port}", "starttls": mode,
                         "from": "monitor@example.net", "to": "ops@example.test"})
    [alert] = enqueue(store, [mail], f"web-plain-{mode}")
    dispatch(store, [mail], lambda: alert.key not in pending(store) or pending(store)[alert.key].attempts == 1)
    assert len(handler.mails) == (1 if sent else 0)
    if not sent:
        assert "does not offer STARTTLS" in pending(store)[alert.key].last_error


def test_command_gets_the_alert_on_stdin_and_in_its_environment(store, tmp_path):
    out = tmp_path / "alert.json"
    script = tmp_path / "page.py"
    script.write_text("import json, os, sys\n"
                      "data = json.load(sys.stdin)\n"
                      "data['env'] = {k: v for k, v in os.environ.items() if k.startswith('NETKIT_')}\n"
                      f"open({str(out)!r}, 'w').write(json.dumps(data))\n")
    command = chan("cmd", {"type": "command", "argv": [sys.executable, str(script)]})
    [alert] = enqueue(store, [command], "web; rm -rf /")
    dispatch(store, [command], lambda: not pending(store))
    got = json.loads(out.read_text())
    assert got["target"] == "web; rm -rf /" and got["status"] == "CRITICAL"
    assert got["env"]["NETKIT_TARGET"] == "web; rm -rf /" and got["env"]["NETKIT_ALERT_ID"] == alert_id(alert.key)
    assert (got["env"]["NETKIT_STATUS"], got["env"]["NETKIT_OLD_STATUS"]) == ("CRITICAL", "OK")


def test_a_failing_command_is_retried_with_its_last_line(store, tmp_path):
    command = chan("cmd", {"type": "command", "argv": [sys.executable, "-c", "print('x' * 100000); print('pager down'); raise SystemExit(3)"]})
    [alert] = enqueue(store, [command], "web-cmd-fail")
    dispatch(store, [command], lambda: pending(store)[alert.key].attempts == 1)
    row = pending(store)[alert.key]
    assert "exited with status 3" in row.last_error and row.next_at < math.inf


def _gone(pid: int) -> bool:
    """The process has ended (a zombie nobody reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_a_hung_command_is_killed_at_the_timeout_with_its_children(store, tmp_path):
    pidfile = tmp_path / "child.pid"
    command = chan("cmd", {"type": "command", "timeout": 1,
                           "argv": ["/bin/sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"]})
    [alert] = enqueue(store, [command], "web-cmd-hang")
    dispatch(store, [command], lambda: pending(store)[alert.key].attempts == 1)
    assert "no answer within 1 s" in pending(store)[alert.key].last_error
    child = int(pidfile.read_text())
    deadline = time.monotonic() + WAIT
    while not _gone(child):
        assert time.monotonic() < deadline, f"the command's child {child} outlived the timeout"
        time.sleep(0.05)


def test_an_alert_undelivered_for_a_day_is_given_up(store, webhook):
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/status/503/old")})
    [alert] = enqueue(store, [hook], "web-old")
    clock = Clock()
    clock.offset = GIVE_UP_AFTER
    dispatch(store, [hook], lambda: pending(store)[alert.key].attempts == 1, clock=clock)
    row = pending(store)[alert.key]
    assert row.next_at == math.inf and row.last_error.startswith("answered 503")


def test_alertmanager_fires_then_resolves(store, alertmanager):
    am = chan("am", {"type": "alertmanager", "url": alertmanager.url, "labels": {"team": "netops"}})
    name = f"web-am-{time.time_ns()}"
    start = time.time() - 60
    enqueue(store, [am], name, old=0, new=2, at=start)
    dispatch(store, [am], lambda: not pending(store))
    [fired] = alertmanager.alerts(target=name)
    assert fired["labels"] == {"alertname": "NetkitTargetProblem", "target": name, "group": "web",
                               "severity": "critical", "team": "netops"}
    assert fired["status"]["state"] == "active" and name in fired["annotations"]["summary"]
    enqueue(store, [am], name, old=2, new=0, at=start + 30)
    dispatch(store, [am], lambda: not pending(store))
    assert alertmanager.alerts(target=name) == []


def test_alertmanager_problem_to_problem_resolves_the_old_severity(store, alertmanager):
    am = chan("am", {"type": "alertmanager", "url": alertmanager.url})
    name = f"web-am2-{time.time_ns()}"
    enqueue(store, [am], name, old=0, new=1, at=time.time() - 60)
    dispatch(store, [am], lambda: not pending(store))
    assert [a["labels"]["severity"] for a in alertmanager.alerts(target=name)] == ["warning"]
    enqueue(store, [am], name, old=1, new=2, at=time.time() - 30)
    dispatch(store, [am], lambda: not pending(store))
    assert [a["labels"]["severity"] for a in alertmanager.alerts(target=name)] == ["critical"]


# -- the outbox across a restart ---------------------------------------------------------------

def test_an_alert_enqueued_before_a_restart_arrives_once(tmp_path, webhook):
    path = str(tmp_path / "restart.db")
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/ok/restart")})
    first = open_store(path)
    enqueue(first, [hook], "web-restart")
    enqueue(first, [hook], "web-restart", at=None)  # another transition: its own alert
    first.close()            # the monitor dies before its dispatcher ran
    again = open_store(path)
    try:
        dispatch(again, [hook], lambda: not pending(again))
        dispatch(again, [hook], lambda: True)    # and a third run finds nothing to send
    finally:
        again.close()
    assert len(webhook.requests("/ok/restart")) == 2
    assert len({json.loads(s.body)["id"] for s in webhook.requests("/ok/restart")}) == 2


def test_an_alert_that_failed_before_a_restart_arrives_once_after_it(tmp_path, webhook):
    from tests.peers._base import free_port

    path = str(tmp_path / "down.db")
    down = chan("hook", {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/nobody"})
    first = open_store(path)
    [alert] = enqueue(first, [down], "web-down")
    dispatch(first, [down], lambda: pending(first)[alert.key].attempts == 1)
    row = pending(first)[alert.key]
    assert row.next_at > time.time() and "Connect" in row.last_error
    first.close()
    # Restarted with the receiver back (same channel name, now reachable), after the back-off.
    up = chan("hook", {"type": "webhook", "url": webhook.url("/ok/back")})
    clock = Clock()
    clock.offset = row.next_at - time.time() + 1
    again = open_store(path)
    try:
        dispatch(again, [up], lambda: not pending(again), clock=clock)
    finally:
        again.close()
    [seen] = webhook.requests("/ok/back")
    assert json.loads(seen.body)["id"] == alert_id(alert.key)


class SlowReads:
    """The store, with every due list read before a pause: deliveries end during the read."""

    PAUSE = 0.3

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def due_alerts(self, now, limit=100):
        due = self.store.due_alerts(now, limit)
        time.sleep(self.PAUSE)
        return due


def test_an_alert_delivered_during_a_read_of_the_due_list_is_not_sent_again(store, tmp_path):
    log = tmp_path / "sent"
    command = chan("cmd", {"type": "command", "argv": ["/bin/sh", "-c", f'echo "$NETKIT_TARGET" >> {log}']})
    for n in range(5):
        enqueue(store, [command], f"web-race-{n}")
    dispatch(SlowReads(store), [command], lambda: not pending(store))
    dispatch(SlowReads(store), [command], lambda: True)
    assert sorted(log.read_text().split()) == [f"web-race-{n}" for n in range(5)]


# -- hostile receivers -------------------------------------------------------------------------

def test_500_then_200_is_retried_after_the_back_off(store, webhook):
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/fail/1/x")})
    [alert] = enqueue(store, [hook], "web-500")
    clock = Clock()
    dispatch(store, [hook], lambda: pending(store)[alert.key].attempts == 1, clock=clock)
    row = pending(store)[alert.key]
    assert row.last_error.startswith("answered 500") and "not yet" in row.last_error
    clock.offset = row.next_at - time.time() + 1
    dispatch(store, [hook], lambda: not pending(store), clock=clock)
    assert len(webhook.requests("/fail/1/x")) == 2


def test_a_hanging_receiver_times_out(store, webhook):
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/hang/x"), "timeout": 1})
    [alert] = enqueue(store, [hook], "web-hang")
    dispatch(store, [hook], lambda: pending(store)[alert.key].attempts == 1)
    assert pending(store)[alert.key].last_error == "no answer within 1 s"


def test_a_reset_is_retried(store, webhook):
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/reset/x")})
    [alert] = enqueue(store, [hook], "web-reset")
    dispatch(store, [hook], lambda: pending(store)[alert.key].attempts == 1)
    row = pending(store)[alert.key]
    assert row.next_at < math.inf and row.last_error


def test_a_redirect_is_not_followed_nor_retried(store, webhook):
    hook = chan("hook", {"type": "webhook", "url": webhook.url("/redirect/x")})
    [alert] = enqueue(store, [hook], "web-redirect")
    dispatch(store, [hook], lambda: pending(store)[alert.key].attempts == 1)
    row = pending(store)[alert.key]
    assert row.next_at == math.inf and "redirect to http://other.invalid/x: not followed" in row.last_error
    assert len(webhook.requests()) == 1


def test_a_4xx_is_not_retried_but_429_is(store, webhook):
    gone = chan("gone", {"type": "webhook", "url": webhook.url("/status/404/x")})
    busy = chan("busy", {"type": "webhook", "url": webhook.url("/status/429/x")})
    [a] = enqueue(store, [gone], "web-404")
    [b] = enqueue(store, [busy], "web-429")
    dispatch(store, [gone, busy], lambda: all(r.attempts == 1 for r in pending(store).values()))
    assert pending(store)[a.key].next_at == math.inf and pending(store)[b.key].next_at < math.inf


@pytest.mark.parametrize("status, delivered", [(200, True), (500, False)])
def test_a_huge_reply_is_not_read(store, webhook, status, delivered):
    path = f"/huge/{status}/x"
    hook = chan("hook", {"type": "webhook", "url": webhook.url(path)})
    [alert] = enqueue(store, [hook], f"web-huge-{status}")
    dispatch(store, [hook], lambda: (alert.key not in pending(store)) if delivered
             else pending(store)[alert.key].attempts == 1)
    if not delivered:
        assert len(pending(store)[alert.key].last_error) <= 300
    assert webhook.sent[path] < HUGE_LENGTH // 8    # socket buffers, not the body


def test_a_hung_channel_does_not_delay_another(store, webhook):
    slow = chan("slow", {"type": "webhook", "url": webhook.url("/hang/y"), "timeout": 60})
    fast = chan("fast", {"type": "webhook", "url": webhook.url("/ok/fast")})
    for n in range(10):       # more than the slow channel may have in flight
        enqueue(store, [slow], f"web-slow-{n}", at=1000.0 + n)
    [quick] = enqueue(store, [fast], "web-fast")
    dispatch(store, [slow, fast], lambda: quick.key not in pending(store))
    # Delivered while every one of the slow channel's alerts is still waiting on its first try.
    assert all(r.attempts == 0 for r in pending(store).values()) and len(pending(store)) == 10
    assert len(webhook.requests("/ok/fast")) == 1


def test_a_command_inherits_no_secret_of_the_monitor(store, tmp_path, monkeypatch):
    """The monitor's environment holds the API token, the store's password and channel
    secrets; a command channel gets PATH and the like, and its NETKIT_* alert variables."""
    monkeypatch.setenv("NETKIT_API_TOKEN", "api-s3cret")
    monkeypatch.setenv("NETKIT_DB_PASSWORD", "db-s3cret")
    out = tmp_path / "env.json"
    script = tmp_path / "env.py"
    script.write_text(f"import json, os\nopen({str(out)!r}, 'w').write(json.dumps(dict(os.environ)))\n")
    command = chan("cmd", {"type": "command", "argv": [sys.executable, str(script)]})
    enqueue(store, [command], "web-env")
    dispatch(store, [command], lambda: not pending(store))
    env = json.loads(out.read_text())
    assert "s3cret" not in json.dumps(env)
    assert env["PATH"] == os.environ["PATH"] and env["NETKIT_TARGET"] == "web-env"
