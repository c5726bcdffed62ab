"""The monitor's store, one suite for both engines: SQLite (a file in a tmp dir) and
PostgreSQL (a fresh database per test in the real server of tests/peers/postgres.py)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from netkit.core.errors import NetError, UsageError
from netkit.monitor import _schema, _sql
from netkit.monitor._records import Alert, Sample, StoredEvent, TargetInfo, Verdict
from netkit.monitor._sql import DAY, HOUR, MINUTE, ROLLUP_GRACE
from netkit.monitor._state import FLAP_HISTORY, Ack, TargetState
from netkit.monitor._store import StoreError, open_store

T0 = 1_700_000_000.0 - 1_700_000_000.0 % DAY   # a UTC midnight
HOSTILE = "it's \"quoted\"; DROP TABLE samples; --\r\nline\x00nul \udcff\x1b[31m"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "monitor.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(store_url):
    store = open_store(store_url, "berlin")
    yield store
    store.close()


def sample(target="web", at=T0 + 10, status=0, duration=0.1, location="berlin", **kw):
    return Sample(target=target, location=location, at=at, duration=duration, status=status,
                  summary=kw.pop("summary", f"{target} ok"), **kw)


def state(target="web", status=0, **kw):
    return TargetState(target=target, status=status, hard_status=kw.pop("hard_status", status), **kw)


def fold(store, now):
    """rollup() to the end (no time budget: a loaded machine must not make a test flaky)."""
    assert store.rollup(now, budget=math.inf) is True


def info(id_="web", **kw):
    return TargetInfo(id=id_, url=kw.pop("url", f"https://{id_}.example/"), **kw)


def test_commit_and_history_round_trip(store):
    details = {"http_status": 200, "tls": {"days_left": 30.5}, "names": ["a", "b"]}
    store.commit([sample(at=T0 + 1, details=details, cert_expiry=T0 + 30 * DAY),
                  sample(at=T0 + 2, status=2, summary="down", dialogue=("> GET /", "< 500")),
                  sample(at=T0 + 3, status=0, dialogue=("kept for problems only",)),
                  sample(target="other", at=T0 + 2)], [], [])
    got = store.history("web", T0, T0 + 60)
    assert [x.at for x in got] == [T0 + 1, T0 + 2, T0 + 3]
    assert got[0] == sample(at=T0 + 1, details=details, cert_expiry=T0 + 30 * DAY)
    assert got[1].dialogue == ("> GET /", "< 500") and got[1].status == 2 and got[1].summary == "down"
    assert got[2].dialogue is None
    assert store.history("web", T0 + 2, T0 + 3) == [got[1]]
    assert [x.at for x in store.history("web", T0, T0 + 60, limit=2)] == [T0 + 1, T0 + 2]


def test_hostile_text_is_stored_as_data_and_bounded(store):
    huge = "x" * (1 << 20)
    store.commit([sample(status=2, summary=HOSTILE + huge, details={"reply": HOSTILE, "big": huge},
                         dialogue=tuple([HOSTILE] + [huge] * 100))], [], [])
    store.commit([sample(at=T0 + 20, status=2, summary=HOSTILE, details={HOSTILE: HOSTILE},
                         dialogue=(HOSTILE,))], [], [])
    first, second = store.history("web", T0, T0 + 60)
    assert len(first.summary.encode()) <= _schema.MAX_SUMMARY and first.summary.endswith(_schema.TRUNCATED)
    assert len(_schema._dumps(first.details)) <= _schema.MAX_DETAILS
    assert first.details["reply"] == HOSTILE   # short strings kept whole, only the big one cut
    assert len(_schema._dumps(list(first.dialogue))) <= _schema.MAX_DIALOGUE
    assert first.dialogue[-1].endswith("more lines")
    # Text columns cannot hold NUL or a lone surrogate: replaced; JSON keeps them escaped.
    assert second.summary == HOSTILE.replace("\x00", "\ufffd").replace("\udcff", "?")
    assert second.details == {HOSTILE: HOSTILE} and second.dialogue == (HOSTILE.replace("\x00", "\ufffd")
                                                                         .replace("\udcff", "?"),)
    assert [x.target for x in store.history("web", 0, math.inf)] == ["web", "web"]   # the table is there


def test_a_sample_that_cannot_be_stored_fails_alone(store, caplog):
    loop: dict = {}
    loop["self"] = loop
    store.commit([sample(at=T0 + 1, duration=math.nan, status=7, details={(1, 2): "tuple key"}),
                  sample(at=math.nan), sample(at=T0 + 2, details=loop),
                  sample(at=T0 + 3, duration=-1.0, details={"when": T0})],
                 [], [StoredEvent("web", "berlin", math.inf, "Broken"), StoredEvent("web", "berlin", T0, "Fine")])
    first, second, third = store.history("web", 0, math.inf)
    assert (first.duration, first.status, first.details) == (0.0, 3, {"(1, 2)": "tuple key"})
    assert second.details == {"unstorable": "dict"}
    assert third.duration == 0.0 and third.details == {"when": T0}
    assert [e.kind for e in store.events(None, 0)] == ["Fine"]
    assert "not stored" in caplog.text


def test_states_by_location_and_changes(store_url):
    berlin, tokyo = open_store(store_url, "berlin"), open_store(store_url, "tokyo")
    try:
        acked = state("db", status=2, attempt=0, since=T0, ack=Ack(T0, "ann", HOSTILE, True),
                      history=(0,) * (FLAP_HISTORY - 1) + (2,))
        berlin.commit([], [state("web"), acked], [])
        tokyo.commit([], [state("web", status=2, hard_status=0, attempt=1)], [])
        assert berlin.load_states() == {"web": state("web"), "db": acked}
        assert tokyo.load_states() == {"web": state("web", status=2, hard_status=0, attempt=1)}
        mark, changed = berlin.changed_states(0)
        assert changed == {"web": {"berlin": state("web"), "tokyo": state("web", status=2, hard_status=0, attempt=1)},
                           "db": {"berlin": acked}}
        assert mark > 0
        berlin.commit([], [state("web", status=1, hard_status=0, attempt=1)], [])
        later, changed = berlin.changed_states(mark)
        assert later >= mark
        assert changed["web"]["berlin"] == state("web", status=1, hard_status=0, attempt=1)
        _, none = berlin.changed_states(1e18)
        assert none == {}
    finally:
        berlin.close()
        tokyo.close()


def test_targets_sync_and_current(store):
    store.sync_targets([info("web", group="www", labels=(("env", "prod"),), interval=30.0,
                             locations=("berlin", "tokyo"), quorum=2), info("db")])
    assert store.targets() == [info("db"), info("web", group="www", labels=(("env", "prod"),), interval=30.0,
                                                  locations=("berlin", "tokyo"), quorum=2)]
    store.sync_targets([info("web", url="https://web.example/v2"), info("new")])
    assert [t.id for t in store.targets()] == ["new", "web"]
    assert store.targets()[1].url == "https://web.example/v2"
    store.commit([sample("web", at=T0 + 1), sample("web", at=T0 + 61, status=2), sample("db", at=T0 + 5)],
                 [state("web", status=2, hard_status=0, attempt=1), state("db")], [])
    store.commit_verdicts([Verdict("web", status=0, since=T0)], [], [])
    current = {row["info"].id: row for row in store.current()}
    assert set(current) == {"new", "web"}   # db is no longer configured
    web = current["web"]
    assert web["verdict"] == Verdict("web", status=0, since=T0)
    assert web["states"] == {"berlin": state("web", status=2, hard_status=0, attempt=1)}
    assert web["samples"] == {"berlin": sample("web", at=T0 + 61, status=2)}
    assert current["new"] == {"info": info("new"), "verdict": None, "states": {}, "samples": {}}
    # The history of a removed target stays.
    assert len(store.history("db", 0, math.inf)) == 1


def alert(key, created=T0, next_at=T0, target="web", channel="ops", kind="problem", **kw):
    return Alert(key=key, channel=channel, target=target, kind=kind, payload=kw.pop("payload", {"text": key}),
                 created=created, next_at=next_at, **kw)


def test_verdicts_events_and_an_idempotent_outbox(store):
    change = StoredEvent("web", "", T0 + 5, "VerdictChange", {"old": 0, "new": 2, "summary": HOSTILE})
    verdict = Verdict("web", status=2, since=T0 + 5, locations=(("berlin", 2), ("tokyo", 2)))
    store.commit_verdicts([verdict], [change], [alert("web|1|ops|problem", payload={"text": HOSTILE}),
                                                alert("web|1|mail|problem", channel="mail", created=T0 + 1)])
    # The decider crashed after writing and runs again: nothing is enqueued twice.
    store.commit_verdicts([verdict], [], [alert("web|1|ops|problem", created=T0 + 99)])
    assert store.load_verdicts() == {"web": verdict}
    assert store.events("web", T0) == [change]
    assert store.events(None, T0 + 6) == []
    due = store.due_alerts(T0 + 10)
    assert [a.key for a in due] == ["web|1|ops|problem", "web|1|mail|problem"]
    assert due[0].payload == {"text": HOSTILE} and due[0].created == T0
    assert store.due_alerts(T0 - 1) == []
    assert len(store.due_alerts(T0 + 10, limit=1)) == 1
    store.alert_failed("web|1|ops|problem", T0 + 60, "HTTP 500\r\n" + "e" * 5000)
    store.alert_delivered("web|1|mail|problem", T0 + 11)
    assert store.due_alerts(T0 + 59) == []
    (retry,) = store.due_alerts(T0 + 60)
    assert retry.attempts == 1 and retry.last_error.startswith("HTTP 500\r\n")
    assert len(retry.last_error.encode()) <= _schema.MAX_ERROR
    store.alert_failed("web|1|ops|problem", math.inf, "gave up")
    assert store.due_alerts(1e300) == []
    assert store.last_alerts() == {("web", "ops"): T0, ("web", "mail"): T0 + 1}


def test_alerts_of_one_target_newest_first(store):
    store.commit_verdicts([], [], [alert("web|1|ops|problem", created=T0), alert("web|2|ops|recovery", created=T0 + 9),
                                   alert("db|1|ops|problem", target="db", created=T0 + 5)])
    store.alert_delivered("web|1|ops|problem", T0 + 1)
    assert [(a.key, a.delivered) for a in store.alerts("web", T0)] == [("web|2|ops|recovery", None),
                                                                        ("web|1|ops|problem", T0 + 1)]
    assert [a.key for a in store.alerts("web", T0 + 1)] == ["web|2|ops|recovery"]
    assert [a.key for a in store.alerts("web", 0, limit=1)] == ["web|2|ops|recovery"]


def test_incidents_follow_verdicts(store):
    store.commit_verdicts([Verdict("web", status=1, since=T0 + 100)], [], [])
    store.commit_verdicts([Verdict("web", status=2, since=T0 + 200), Verdict("db", status=0, since=T0)], [], [])
    assert store.incidents(None, T0) == [{"target": "web", "start": T0 + 100, "end": None, "status": 2,
                                          "duration": None}]
    store.commit_verdicts([Verdict("web", status=0, since=T0 + 400)], [], [])
    store.commit_verdicts([Verdict("web", status=2, since=T0 + 500)], [], [])
    assert store.incidents("web", T0) == [
        {"target": "web", "start": T0 + 100, "end": T0 + 400, "status": 2, "duration": 300.0},
        {"target": "web", "start": T0 + 500, "end": None, "status": 2, "duration": None}]
    assert store.incidents("web", T0 + 401) == [store.incidents("web", T0)[1]]
    assert store.incidents("db", T0) == []


def test_acknowledgements(store):
    store.acknowledge("web", T0, "ann", "looking", sticky=True)
    store.acknowledge("db", T0 + 1, HOSTILE, "x" * 5000)
    acks = store.acks()
    assert acks["web"] == {"at": T0, "author": "ann", "comment": "looking", "sticky": True}
    assert len(acks["db"]["comment"].encode()) <= 1024 and acks["db"]["author"].startswith("it's")
    store.acknowledge("web", T0 + 2, "bob", "mine")
    assert store.acks()["web"] == {"at": T0 + 2, "author": "bob", "comment": "mine", "sticky": False}
    store.unacknowledge("web", T0 + 3)
    store.unacknowledge("nothing", T0 + 3)
    assert set(store.acks()) == {"db"}


def test_runtime_windows_and_paused_targets(store):
    store.add_window("w1", "web", T0 + 100, T0 + 200, "ann", HOSTILE, T0)
    store.add_window("w1", "web", T0, T0 + 9999, "again", "", T0)   # the same id: a no-op
    store.add_window("w0", "db", T0 + 50, T0 + 60, "bob", "", T0)
    assert [w["id"] for w in store.windows(T0)] == ["w0", "w1"]
    assert store.windows(T0 + 60) == [{"id": "w1", "target": "web", "start": T0 + 100, "end": T0 + 200,
                                       "author": "ann", "comment": HOSTILE.replace("\x00", "\ufffd")
                                       .replace("\udcff", "?"), "created": T0}]
    assert store.remove_window("w1") is True and store.remove_window("w1") is False
    assert store.windows(T0) == [store.windows(T0)[0]] and store.windows(T0)[0]["id"] == "w0"
    store.pause("web", T0, "ann", "moving racks")
    store.pause("web", T0 + 5, "bob")   # already paused: a no-op
    assert store.paused() == {"web": {"at": T0, "author": "ann", "comment": "moving racks"}}
    assert store.resume("web") is True and store.resume("web") is False
    assert store.paused() == {}


def test_rollups_are_exact_and_idempotent(store):
    # 100 runs in one minute, durations 0.01 .. 1.00, every 10th a failure.
    runs = [sample(at=T0 + 60 + i * 0.5, duration=(i + 1) / 100, status=2 if i % 10 == 0 else 0) for i in range(100)]
    store.sync_targets([info("web")])
    store.commit(runs + [sample(location="tokyo", at=T0 + 61, duration=5.0)], [], [])
    fold(store, T0 + DAY + ROLLUP_GRACE)
    (minute,) = store.series("web", T0, T0 + DAY, "minute")
    assert minute["at"] == T0 + 60 and minute["count"] == 101 and minute["failures"] == 10
    assert minute["min"] == 0.01 and minute["max"] == 5.0
    assert minute["avg"] == pytest.approx((sum(r.duration for r in runs) + 5.0) / 101)
    # Percentiles are per location (nearest rank); the series shows the worst location's.
    assert (minute["p50"], minute["p95"], minute["p99"]) == (5.0, 5.0, 5.0)
    rows = _rows(store, "berlin")
    assert rows[MINUTE] == (100, 10, 0.01, 1.0, 0.5, 0.95, 0.99)
    assert rows[HOUR] == rows[DAY] == rows[MINUTE]
    before = store.series("web", T0, T0 + DAY, "hour")
    fold(store, T0 + DAY + ROLLUP_GRACE)
    fold(store, T0 + DAY + ROLLUP_GRACE + 1)
    assert store.series("web", T0, T0 + DAY, "hour") == before
    assert [r["at"] for r in store.series("web", T0, T0 + 2 * DAY, "day")] == [T0]
    with pytest.raises(UsageError, match="minute, hour, day"):
        store.series("web", T0, T0 + DAY, "week")
    everyone = store.series_all(T0, T0 + DAY, "hour")
    assert everyone == {"web": [(T0, 101, 10, pytest.approx(minute["avg"]))]}
    assert store.series_all(T0 + HOUR, T0 + DAY, "hour") == {}
    with pytest.raises(UsageError, match="minute, hour, day"):
        store.series_all(T0, T0 + DAY, "week")


def _rows(store, location):
    with store._read() as cur:
        cur.execute("SELECT step, count, failures, min, max, p50, p95, p99 FROM rollups "
                    "WHERE target = ? AND location = ?", ("web", location))
        return {step: tuple(rest) for step, *rest in cur.fetchall()}


def test_a_bucket_still_open_is_not_folded(store):
    store.sync_targets([info("web")])
    store.commit([sample(at=T0 + 10), sample(at=T0 + 70)], [], [])
    fold(store, T0 + 120 + ROLLUP_GRACE - 1)   # minute 1 closed, but not for long enough
    assert [r["at"] for r in store.series("web", 0, math.inf, "minute")] == [T0]
    fold(store, T0 + 120 + ROLLUP_GRACE)
    assert [r["at"] for r in store.series("web", 0, math.inf, "minute")] == [T0, T0 + 60]


def test_uptime_is_the_same_from_rollups_and_raw(store):
    # 3 days, one run every 10 minutes per target; web fails in one hour a day.
    store.sync_targets([info("web"), info("db")])
    runs = []
    for i in range(3 * 144):
        at = T0 + i * 600 + 7
        runs.append(sample("web", at=at, status=2 if (at - T0) % DAY < HOUR else 0))
        runs.append(sample("db", at=at, status=0 if i % 4 else 1))
    store.commit(runs, [], [])
    ranges = [(T0, T0 + 3 * DAY), (T0 + 1234.5, T0 + 2 * DAY + 7777), (T0 + 5000, T0 + 5000)]
    raw = {r: store.uptime(*r) for r in ranges}
    assert raw[ranges[0]] == {"web": pytest.approx(1 - 18 / 432), "db": pytest.approx(0.75)}
    fold(store, T0 + 2 * DAY + 5 * HOUR)   # folds two days, 4 more hours, ~4 h of minutes
    for r in ranges:
        assert store.uptime(*r) == pytest.approx(raw[r])
        assert store.uptime(*r, target="web") == pytest.approx({k: v for k, v in raw[r].items() if k == "web"})
    assert store.uptime(T0 - DAY, T0) == {}


def test_rollup_works_in_slices_and_resumes(store, monkeypatch):
    monkeypatch.setattr(_sql, "ROLLUP_CHUNK_ROWS", 1)   # a chunk per target
    names = [f"t{i}" for i in range(4)]
    store.sync_targets([info(name, interval=600.0) for name in names])
    store.commit([sample(name, at=T0 + i * 600 + 3, status=int(i % 7 == 0), duration=i / 100)
                  for name in names for i in range(2 * 144)], [], [])
    now, whole = T0 + 2 * DAY + ROLLUP_GRACE, {}
    raw = store.uptime(T0 + 999, now)
    calls = 0
    while not store.rollup(now, budget=0):   # stops after each chunk
        calls += 1
        assert store.uptime(T0 + 999, now) == pytest.approx(raw)   # right at every point
    assert calls >= 2 * (24 + 2) * 4 - 1
    for step in ("minute", "hour", "day"):
        whole[step] = {name: store.series(name, 0, math.inf, step) for name in names}
    with store._write() as cur:
        cur.execute("DELETE FROM rollups")
        cur.execute("DELETE FROM rollup_marks")
    fold(store, now)
    assert {step: {name: store.series(name, 0, math.inf, step) for name in names} for step in whole} == whole
    assert len(whole["day"]["t0"]) == 2 and len(whole["hour"]["t1"]) == 48


def test_one_monitor_folds_at_a_time_on_postgres(postgres_url):
    import psycopg

    from netkit.monitor._postgres import HOUSEKEEPING_LOCK

    store = open_store(postgres_url)
    try:
        store.commit([sample(at=T0 + 5)], [state("web")], [])   # a target with a state is folded too
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (HOUSEKEEPING_LOCK,))
            assert store.rollup(T0 + DAY + ROLLUP_GRACE) is True   # the other monitor is at it
            assert store.series("web", 0, math.inf, "minute") == []
            other.execute("SELECT pg_advisory_unlock(%s)", (HOUSEKEEPING_LOCK,))   # done (a close is not synchronous)
        fold(store, T0 + DAY + ROLLUP_GRACE)
        assert len(store.series("web", 0, math.inf, "minute")) == 1
    finally:
        store.close()


def test_prune_keeps_what_is_not_folded(store):
    store.sync_targets([info("web")])
    store.commit([sample(at=T0 + i * HOUR) for i in range(72)], [], [
        StoredEvent("web", "berlin", T0 + 5, "HardChange", {"old": 0, "new": 2})])
    store.prune(T0 + 3 * DAY, raw_days=1, rollup_days=30)
    assert len(store.history("web", 0, math.inf)) == 72   # nothing rolled up yet: kept
    fold(store, T0 + 3 * DAY)
    store.prune(T0 + 3 * DAY, raw_days=1, rollup_days=30)
    kept = store.history("web", 0, math.inf)
    assert kept[0].at == T0 + 2 * DAY and len(kept) == 24
    assert store.uptime(T0, T0 + 3 * DAY) == {"web": 1.0}
    assert len(store.series("web", 0, math.inf, "day")) == 2 and store.series("web", 0, T0 + 2 * DAY, "minute") == []
    store.prune(T0 + 40 * DAY, raw_days=1, rollup_days=30)
    assert store.series("web", 0, math.inf, "hour") == [] and store.events(None, 0) == []


def test_minute_rollups_go_after_two_days_samples_after_raw_days(store):
    """Minute rollups are as many rows as a 60 s target's samples: two days of them draw the
    dashboard's finest ranges; the samples themselves stay for raw_days."""
    store.sync_targets([info("web")])
    store.commit([sample(at=T0 + i * HOUR) for i in range(96)], [], [])
    fold(store, T0 + 4 * DAY)
    store.prune(T0 + 4 * DAY, raw_days=14, rollup_days=30)
    assert len(store.history("web", 0, math.inf)) == 96
    minutes = store.series("web", 0, math.inf, "minute")
    assert minutes and min(r["at"] for r in minutes) >= T0 + 2 * DAY
    assert len(store.series("web", 0, math.inf, "hour")) >= 95   # the last hour folds 180 s after it ends


def test_threads_write_and_read_at_once(store):
    errors = []

    def write():
        try:
            for batch in range(30):
                store.commit([sample(at=T0 + batch * 60 + i) for i in range(50)], [state("web")], [])
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    def read():
        try:
            for _ in range(30):
                store.current()
                store.uptime(T0, T0 + DAY)
                store.history("web", T0, T0 + DAY, limit=10)
        except Exception as exc:   # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.history("web", 0, math.inf, limit=10_000)) == 1500


def test_an_older_store_is_upgraded_and_a_newer_one_refused(store_url, monkeypatch):
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 1)
    old = open_store(store_url)
    old.commit([sample()], [], [])
    assert old.schema_version() == 1
    old.close()
    monkeypatch.undo()
    store = open_store(store_url)
    assert store.schema_version() == _schema.SCHEMA_VERSION >= 2
    assert store.history("web", 0, math.inf) == [sample()]
    fold(store, T0 + DAY + ROLLUP_GRACE)   # the step-2 table is there
    with store._write() as cur:
        cur.execute("UPDATE schema_version SET version = 99")
    store.close()
    with pytest.raises(UsageError) as refused:
        open_store(store_url)
    assert f"schema version 99, newer than this netkit knows ({_schema.SCHEMA_VERSION})" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_foreign_database_is_refused(store_url):
    store = open_store(store_url)
    with store._write() as cur:
        cur.execute("DROP TABLE schema_version")
    store.close()
    with pytest.raises(UsageError, match="not a netkit monitor store"):
        open_store(store_url)


@pytest.mark.parametrize("url, words", [
    ("mysql://db/monitor", "store must be a path, sqlite:///ABSOLUTE/PATH.db or postgresql://"),
    ("sqlite://relative/x.db", "absolute path"),
    (":memory:", "outlives the process"),
    ("", "store must be"),
])
def test_bad_store_urls(url, words):
    with pytest.raises(UsageError, match=words.replace("/", ".").replace(":", ".").replace("(", ".")):
        open_store(url)


def test_bad_sqlite_paths(tmp_path):
    with pytest.raises(UsageError, match="directory .* does not exist"):
        open_store(str(tmp_path / "missing" / "monitor.db"))
    with pytest.raises(UsageError, match="is a directory"):
        open_store(str(tmp_path))
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        open_store(str(tmp_path / "file" / "monitor.db"))
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not SQLite" * 1000)
    with pytest.raises(UsageError, match="not a netkit monitor store"):
        open_store(f"sqlite://{junk}")
    assert junk.read_bytes() == b"this is not SQLite" * 1000


def test_an_unwritable_place_is_one_line():
    # As root every ordinary path is writable; sysfs refuses even root a new file.
    with pytest.raises(UsageError) as refused:
        open_store("/sys/monitor.db")
    assert str(refused.value) == ("cannot open store /sys/monitor.db: permission denied (this user must be able to "
                                  "write it and /sys)")


def test_a_new_sqlite_store_is_private_and_in_wal_mode(tmp_path):
    store = open_store(str(tmp_path / "m.db"))
    try:
        assert (tmp_path / "m.db").stat().st_mode & 0o777 == 0o600
        with store._read() as cur:
            cur.execute("PRAGMA journal_mode")
            assert cur.fetchone()[0] == "wal"
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_unreachable_postgres_is_one_line(tmp_path):
    from tests.peers._base import free_port

    with pytest.raises(NetError) as failed:
        open_store(f"postgresql://netkit:s3cret@127.0.0.1:{free_port()}/monitor")
    text = str(failed.value)
    assert "\n" not in text and "s3cret" not in text and "127.0.0.1" in text


def test_a_bad_postgres_url_is_a_usage_error():
    with pytest.raises(UsageError, match="postgresql://"):
        open_store("postgresql://host:notaport/db")


def test_sqlite_always_leads(tmp_path):
    first, second = open_store(str(tmp_path / "m.db")), open_store(str(tmp_path / "m.db"))
    assert first.try_lead() and second.try_lead()
    first.close()
    second.close()


LEADER = """
import sys, time
from netkit.monitor._store import StoreError, open_store
store = open_store(sys.argv[1], "leader")
print(store.try_lead(), flush=True)
time.sleep(600)
"""
# How long a takeover may take after the holder's death (the server notices a closed
# socket at once; this is a bound for a loaded machine, not a measurement).
TAKEOVER_TIMEOUT = 30.0


def test_one_leader_on_postgres_and_a_takeover_when_it_dies(postgres_url):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    holder = subprocess.Popen([sys.executable, "-c", LEADER, postgres_url], stdout=subprocess.PIPE, env=env)
    try:
        assert holder.stdout.readline() == b"True\n"
        tokyo, paris = open_store(postgres_url, "tokyo"), open_store(postgres_url, "paris")
        assert not tokyo.try_lead() and not paris.try_lead()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while not tokyo.try_lead():
            assert time.monotonic() < deadline, "nobody took the lead over"
            time.sleep(0.1)
        assert tokyo.try_lead() and not paris.try_lead()   # held, and by one monitor only
        tokyo.close()   # a clean stop hands it over too
        deadline = time.monotonic() + TAKEOVER_TIMEOUT
        while not paris.try_lead():
            assert time.monotonic() < deadline, "paris did not take the lead over"
            time.sleep(0.1)
        paris.close()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_a_lost_postgres_session_is_one_error_then_reconnected(postgres, postgres_url):
    store = open_store(postgres_url)
    try:
        store.commit([sample()], [], [])
        assert store.try_lead()
        database = postgres_url.rsplit("/", 1)[1]
        # The timeout makes it wait until the sessions are gone (PostgreSQL 14+).
        postgres.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = %s "
                         "AND pid <> pg_backend_pid()", (database,))
        with pytest.raises(StoreError) as lost:
            store.history("web", 0, math.inf)
        assert "\n" not in str(lost.value)
        assert store.history("web", 0, math.inf) == [sample()]
        # The leader's session was ended too: it lost the lock, and takes it again.
        assert not store.try_lead()
        assert store.try_lead()
    finally:
        store.close()


def test_postgres_url_error_masks_the_password():
    from netkit.monitor._postgres import check_url

    with pytest.raises(UsageError) as refused:
        check_url("postgresql://u:sekret@[h/db")
    assert "sekret" not in str(refused.value)


def test_postgres_url_with_a_non_ascii_port_digit_is_a_usage_error():
    from netkit.monitor._postgres import check_url

    with pytest.raises(UsageError, match="PORT 1-65535"):
        check_url("postgresql://u@h:5\u00b2/db")
