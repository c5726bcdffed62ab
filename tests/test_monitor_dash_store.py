"""The two store reads the dashboard added, on both engines (SQLite and a real PostgreSQL):
``alerts`` (one target's outbox, newest first) and ``series_all`` (every target's rollups
of a step, locations summed per bucket)."""

from __future__ import annotations

import pytest

from netkit.core.errors import UsageError
from netkit.monitor._records import Alert, Sample, Verdict
from tests.test_monitor_store import T0, fold, info, store, store_url  # noqa: F401 -- the engines' fixtures


def test_alerts_of_one_target_newest_first(store):
    alerts = [Alert(f"web|{n}|ops|problem", "ops", "web", "problem", {"n": n}, T0 + n, T0 + n) for n in range(3)]
    other = Alert("db|1|ops|problem", "ops", "db", "problem", {}, T0 + 5, T0 + 5)
    store.commit_verdicts([Verdict("web", 2, T0)], [], [*alerts, other])
    store.alert_failed(alerts[1].key, float("inf"), "refused")
    got = store.alerts("web", T0 + 1, 10)
    assert [a.key for a in got] == ["web|2|ops|problem", "web|1|ops|problem"]
    assert got[1].last_error == "refused" and got[1].next_at == float("inf") and got[1].delivered is None
    assert [a.key for a in store.alerts("web", 0, 1)] == ["web|2|ops|problem"]


def test_series_all_sums_locations_per_bucket(store):
    samples = [Sample("web", loc, T0 + 60 * m + 1, 0.1 * (m + 1), 2 if loc == "paris" and m == 1 else 0, "x")
               for m in range(3) for loc in ("berlin", "paris")]
    samples.append(Sample("db", "berlin", T0 + 61, 0.5, 0, "x"))
    store.sync_targets([info("web"), info("db")])
    store.commit(samples, [], [])
    fold(store, T0 + 86400 + 3600)
    got = store.series_all(T0, T0 + 180, "minute")
    assert sorted(got) == ["db", "web"]
    assert [(at, count, failures) for at, count, failures, _ in got["web"]] == \
        [(T0, 2, 0), (T0 + 60, 2, 1), (T0 + 120, 2, 0)]
    assert got["web"][1][3] == pytest.approx(0.2) and got["db"] == [(T0 + 60, 1, 0, pytest.approx(0.5))]
    assert store.series_all(T0 + 60, T0 + 120, "minute") == {"web": [got["web"][1]], "db": got["db"]}
    with pytest.raises(UsageError):
        store.series_all(T0, T0 + 60, "week")
