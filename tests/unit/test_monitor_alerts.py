"""Alert channels from config tables, and which alerts a verdict change or an open problem
plans: pure logic, no sockets."""

import pytest

from netkit.core.errors import UsageError
from netkit.monitor._channels import ALERTMANAGER_RESEND, DEFAULT_TIMEOUT, Channel, channel_from_table

WHERE = "monitor.toml: [[alert]] 1 (ops)"
ENV = {"HOOK_AUTH": "Bearer s3cret", "SMTP_PASSWORD": "pw", "SLACK_URL": "https://hooks.slack.test/T/B/x"}


def channel(table, env=ENV):
    return channel_from_table("ops", table, WHERE, env=env)


def refused(table, env=ENV) -> str:
    with pytest.raises(UsageError) as info:
        channel(table, env)
    message = str(info.value)
    assert message.startswith(f"{WHERE}: ") and "\n" not in message
    return message


# -- channel_from_table --------------------------------------------------------------------------

def test_webhook_with_defaults():
    c = channel({"type": "webhook", "url": "https://hooks.example.net/netkit"})
    assert c == Channel(name="ops", type="webhook", url="https://hooks.example.net/netkit")
    assert c.send_on_resolved and c.resend == 0 and c.timeout == DEFAULT_TIMEOUT
    assert c.covers("any", "")


def test_webhook_secret_headers_come_from_the_environment_and_stay_out_of_repr():
    c = channel({"type": "webhook", "url": "https://h.example/x", "headers": {"X-Team": "ops"},
                 "headers-env": {"Authorization": "HOOK_AUTH"}, "resend": "4h", "timeout": 2.5,
                 "send-on-resolved": False, "groups": ["web"], "targets": "db1"})
    assert c.headers == (("Authorization", "Bearer s3cret"), ("X-Team", "ops"))
    assert "s3cret" not in repr(c)
    assert (c.resend, c.timeout, c.send_on_resolved) == (4 * 3600, 2.5, False)
    assert c.covers("db1", "") and c.covers("www", "web") and not c.covers("www", "mail")


def test_a_secret_header_written_in_the_file_is_refused():
    message = refused({"type": "webhook", "url": "https://h.example/x", "headers": {"Authorization": "Bearer x"}})
    assert "headers-env" in message and "Bearer x" not in message


def test_missing_environment_variable():
    message = refused({"type": "slack", "url-env": "NOPE"})
    assert "NOPE is not set" in message


def test_a_broken_slack_url_from_the_environment_is_not_quoted():
    """A Slack webhook's path is its key: a url-env that does not parse is named, not shown."""
    message = refused({"type": "slack", "url-env": "BROKEN"}, env={"BROKEN": "https://[hooks/T0/B0/s3cretkey"})
    assert "does not parse" in message and "s3cretkey" not in message


def test_slack_url_from_the_environment():
    c = channel({"type": "slack", "url-env": "SLACK_URL"})
    assert c.url == ENV["SLACK_URL"] and ENV["SLACK_URL"] not in repr(c)


@pytest.mark.parametrize("table, words", [
    ({"url": "https://x"}, "needs a type"),
    ({"type": "webhok", "url": "https://x"}, "did you mean 'webhook'?"),
    ({"type": "webhook", "ulr": "https://x"}, "did you mean 'url'?"),
    ({"type": "webhook", "url": "https://x", "send_on_resolved": True}, "did you mean 'send-on-resolved'?"),
    ({"type": "webhook"}, "needs url"),
    ({"type": "webhook", "url": "ftp://x/"}, "http:// or https://"),
    ({"type": "webhook", "url": "https://u:pw@x/"}, "url holds a password"),
    ({"type": "webhook", "url": "https://x", "resend": "4 hours"}, "resend"),
    ({"type": "webhook", "url": "https://x", "resend": -1}, "resend"),
    ({"type": "webhook", "url": "https://x", "timeout": 0}, "timeout"),
    ({"type": "webhook", "url": "https://x", "send-on-resolved": "yes"}, "true or false"),
    ({"type": "webhook", "url": "https://x", "headers": {"X-A": "a\r\nInjected: 1"}}, "CR, LF"),
    ({"type": "webhook", "url": "https://x", "headers": {"Bad Name": "a"}}, "header name"),
    ({"type": "webhook", "url": "https://x", "url-env": "SLACK_URL"}, "not both"),
    ({"type": "webhook", "url": "https://x", "groups": [1]}, "groups[0] must be a string"),
    ({"type": "command"}, "needs argv"),
    ({"type": "command", "argv": "./page"}, "absolute path"),
    ({"type": "alertmanager", "url": "http://am:9093", "labels": {"1x": "a"}}, "label name"),
    ({"type": "alertmanager", "url": "http://am:9093/?x=1"}, "base address"),
])
def test_mistakes_are_named(table, words):
    assert words in refused(table)


def test_email():
    c = channel({"type": "email", "url": "smtp://monitor@mail.example.net:587", "password-env": "SMTP_PASSWORD",
                 "from": "monitor@example.net", "to": ["ops@example.net", "oncall@example.net"]})
    assert (c.host, c.port, c.user, c.password, c.tls) == ("mail.example.net", 587, "monitor", "pw", "required")
    assert c.sender == "monitor@example.net" and c.to == ("ops@example.net", "oncall@example.net")
    assert "pw" not in repr(c).replace("password", "")
    smtps = channel({"type": "email", "url": "smtps://mail.example.net", "from": "a@b.c", "to": "d@e.f"})
    assert (smtps.port, smtps.tls) == (465, "smtps")


@pytest.mark.parametrize("table, words", [
    ({"url": "smtp://u:pw@mail.example.net"}, "must not hold the password"),
    ({"url": "smtp://u@mail.example.net"}, "give the password in password-env"),
    ({"url": "smtp://mail.example.net", "password-env": "SMTP_PASSWORD"}, "names no user"),
    ({"url": "smtp://u@mail.example.net", "password-env": "SMTP_PASSWORD", "starttls": "optional"}, "clear text"),
    ({"url": "smtp://mail.example.net", "starttls": "maybe"}, "starttls 'maybe'"),
    ({"url": "smtps://mail.example.net", "starttls": "required"}, "smtp:// only"),
    ({"url": "http://mail.example.net"}, "smtp://"),
    ({"url": "smtp://mail.example.net", "from": "not an address"}, "not a mail address"),
    ({"url": "smtp://mail.example.net", "to": []}, "needs to"),
    ({"url": "smtp://mail.example.net", "to": ["a@b.c\r\nBcc: x@y.z"]}, "CR, LF"),
])
def test_email_mistakes(table, words):
    table = {"type": "email", "from": "m@example.net", "to": ["o@example.net"], **table}
    assert words in refused(table)


def test_alertmanager_refreshes_by_default_and_strips_the_slash():
    c = channel({"type": "alertmanager", "url": "http://am.example:9093/", "labels": {"team": "ops"}})
    assert c.url == "http://am.example:9093" and c.resend == ALERTMANAGER_RESEND
    assert c.labels == (("team", "ops"),)


def test_command():
    c = channel({"type": "command", "argv": ["/usr/bin/logger", "-t", "netkit"], "resend": 0})
    assert c.argv == ("/usr/bin/logger", "-t", "netkit") and c.resend == 0


# -- plan_alerts and reminders ---------------------------------------------------------------------

from netkit.monitor._alerts import alert_id, backoff, plan_alerts, reminders, FIRST_RETRY, MAX_RETRY  # noqa: E402
from netkit.monitor._records import TargetInfo, Verdict, VerdictChange  # noqa: E402

WEB = TargetInfo("web1", "https://user:********@web1.example/", group="web", labels=(("team", "ops"),))
HOOK = Channel(name="hook", type="webhook", url="https://h.example/", resend=3600)
QUIET = Channel(name="quiet", type="webhook", url="https://h.example/", send_on_resolved=False)
DB_ONLY = Channel(name="db", type="webhook", url="https://h.example/", groups=("db",))
CHANNELS = (HOOK, QUIET, DB_ONLY)


def test_a_problem_goes_to_every_channel_covering_the_target():
    change = VerdictChange("web1", 1000.0, 0, 2, "connection refused", locations=(("paris", 2),))
    alerts = plan_alerts(change, WEB, CHANNELS, now=1001.0)
    assert [(a.channel, a.kind) for a in alerts] == [("hook", "problem"), ("quiet", "problem")]
    a = alerts[0]
    assert a.key == "web1|1000.0|hook|problem" and a.target == "web1"
    assert (a.created, a.next_at, a.attempts, a.delivered) == (1001.0, 1001.0, 0, None)
    assert a.payload == {
        "id": alert_id(a.key), "kind": "problem", "channel": "hook", "target": "web1",
        "url": "https://user:********@web1.example/", "group": "web", "labels": {"team": "ops"},
        "status": "CRITICAL", "old_status": "OK", "summary": "connection refused", "at": 1000.0, "since": 1000.0,
        "locations": {"paris": "CRITICAL"}}
    # The same change planned again (a decider re-run after a crash) makes the same keys.
    assert [x.key for x in plan_alerts(change, WEB, CHANNELS, now=2000.0)] == [x.key for x in alerts]


def test_a_recovery_goes_only_to_send_on_resolved_channels():
    alerts = plan_alerts(VerdictChange("web1", 2000.0, 2, 0, "ok"), WEB, CHANNELS, now=2000.0)
    assert [(a.channel, a.kind, a.payload["old_status"], a.payload["status"]) for a in alerts] == \
        [("hook", "recovery", "CRITICAL", "OK")]


def test_problem_to_problem_is_a_problem():
    alerts = plan_alerts(VerdictChange("web1", 2000.0, 1, 2), WEB, (HOOK,), now=2000.0)
    assert [a.kind for a in alerts] == ["problem"]


@pytest.mark.parametrize("reason", ["maintenance", "flapping", "acknowledged"])
def test_a_suppressed_change_alerts_nobody(reason):
    assert plan_alerts(VerdictChange("web1", 1.0, 0, 2, suppressed=(reason,)), WEB, CHANNELS, now=1.0) == []


def test_a_target_id_with_newlines_stays_in_the_payload_but_not_in_the_id():
    evil = TargetInfo("web\r\nX-Evil: 1", "https://x/")
    [a] = plan_alerts(VerdictChange(evil.id, 1.0, 0, 2), evil, (HOOK,), now=1.0)
    assert a.payload["target"] == evil.id and a.payload["id"].isalnum()


def test_reminders_after_resend_then_each_resend():
    verdicts = {"web1": Verdict("web1", 2, since=1000.0), "ok1": Verdict("ok1", 0, since=1000.0)}
    targets = {"web1": WEB, "ok1": TargetInfo("ok1", "tcp://x:1")}
    last = {("web1", "hook"): 1000.0}
    assert reminders(verdicts, targets, CHANNELS, last, now=1000.0 + 3599) == []
    [r] = reminders(verdicts, targets, CHANNELS, last, now=1000.0 + 3600)
    assert (r.channel, r.kind, r.payload["status"], r.payload["since"]) == ("hook", "reminder", "CRITICAL", 1000.0)
    # After that reminder, the next is one resend later, under another key.
    last = {("web1", "hook"): r.created}
    assert reminders(verdicts, targets, CHANNELS, last, now=r.created + 3599) == []
    [r2] = reminders(verdicts, targets, CHANNELS, last, now=r.created + 3600)
    assert r2.key != r.key


def test_no_reminders_for_acked_flapping_quiet_or_removed_targets():
    targets = {"web1": WEB}
    for verdict in (Verdict("web1", 2, since=0.0, acked=True), Verdict("web1", 2, since=0.0, flapping=True)):
        assert reminders({"web1": verdict}, targets, CHANNELS, {}, now=1e6) == []
    assert reminders({"gone": Verdict("gone", 2, since=0.0)}, targets, CHANNELS, {}, now=1e6) == []
    assert reminders({"web1": Verdict("web1", 2, since=0.0)}, targets, CHANNELS, {}, now=1e6, quiet={"web1"}) == []
    assert len(reminders({"web1": Verdict("web1", 2, since=0.0)}, targets, CHANNELS, {}, now=1e6)) == 1


def test_backoff_doubles_to_a_cap():
    assert [backoff(n) for n in (1, 2, 3)] == [FIRST_RETRY, 2 * FIRST_RETRY, 4 * FIRST_RETRY]
    assert backoff(50) == backoff(10_000) == MAX_RETRY


# -- what the senders write ------------------------------------------------------------------------

from netkit.monitor import _senders  # noqa: E402


def payload_of(change, channel=HOOK, target=WEB):
    [a] = plan_alerts(change, target, (channel,), now=change.at)
    return a.payload


def test_reminder_headline():
    [r] = reminders({"web1": Verdict("web1", 2, since=0.0)}, {"web1": WEB}, (HOOK,), {}, now=7200.0)
    assert _senders.headline(r.payload) == "still CRITICAL web1: since 1970-01-01 00:00:00 UTC"


def test_alertmanager_alerts():
    am = Channel(name="am", type="alertmanager", url="http://am:9093", resend=3600, labels=(("team", "netops"),))
    target = TargetInfo("web1", "https://web1/", group="web", labels=(("team", "web"), ("rack-id", "r1")))
    [fire] = _senders._alertmanager(am, payload_of(VerdictChange("web1", 1000.0, 0, 2, "down"), am, target), now=1010.0)
    assert fire["labels"] == {"alertname": _senders.ALERTNAME, "target": "web1", "group": "web",
                              "severity": "critical", "team": "netops", "rack_id": "r1"}
    assert fire["startsAt"] == "1970-01-01T00:16:40.000Z"
    assert fire["endsAt"] == _senders._iso(1010.0 + _senders.HOLD_RESENDS * 3600)
    [resolved] = _senders._alertmanager(am, payload_of(VerdictChange("web1", 2000.0, 2, 0), am, target), now=2001.0)
    assert resolved["labels"]["severity"] == "critical" and resolved["endsAt"] == _senders._iso(2000.0)
    old, new = _senders._alertmanager(am, payload_of(VerdictChange("web1", 3000.0, 1, 2), am, target), now=3000.0)
    assert (old["labels"]["severity"], old["endsAt"]) == ("warning", _senders._iso(3000.0))
    assert new["labels"]["severity"] == "critical" and new["endsAt"] > new["startsAt"]


def test_mail_headers_stay_one_line_each():
    evil = TargetInfo("web\r\nBcc: x@evil.test", "https://web/")
    channel = Channel(name="m", type="email", sender="monitor@example.net", to=("ops@example.net",))
    message = _senders._mail(channel, payload_of(VerdictChange(evil.id, 1.0, 0, 2, "s" * 1000 + "\nX-A: 1"), channel, evil))
    raw = message.as_bytes()
    head, _, body = raw.partition(b"\n\n")
    assert b"\nBcc:" not in raw and b"\nX-A:" not in head and b"\nX-A: 1" in body   # the summary keeps its lines
    assert len(message["Subject"]) <= _senders.MAX_SUBJECT and "\\x0d\\x0aBcc" in message["Subject"]


def test_slack_text_escapes():
    payload = payload_of(VerdictChange("web1", 1.0, 0, 2, "<@here> & <!channel>"))
    assert _senders._slack_text(payload) == \
        "CRITICAL web1: &lt;@here&gt; &amp; &lt;!channel&gt; (https://user:********@web1.example/)"


def test_describe():
    hook = HOOK
    assert _senders.describe(TimeoutError(), hook) == (f"no answer within {hook.timeout:g} s", False)
    assert _senders.describe(_senders.DeliveryError("moved", permanent=True), hook) == ("moved", True)
    text, permanent = _senders.describe(ConnectionResetError("\x1b[31mreset"), hook)
    assert text == "ConnectionResetError: \\x1b[31mreset" and not permanent
    text, _ = _senders.describe(ValueError("x" * 1000), hook)
    assert len(text) <= _senders.MAX_ERROR
