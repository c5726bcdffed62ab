"""The monitor's scheduler on a fake clock: spread, no drift, bounded in flight, deadlines,
reload, lateness. No sockets, no sleeping: ``now`` is whatever the test says."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netkit.core.errors import UsageError
from netkit.monitor._schedule import (
    DEFAULT_INTERVAL,
    MAX_LATENESS_SAMPLES,
    Job,
    Scheduler,
    phase_of,
)

T0 = 1_800_000_000.0   # a wall-clock instant in 2027: slots are absolute, not from zero


def drive(sched, start, end, step, duration=0.0):
    """Advance a fake clock from ``start`` to ``end`` by ``step``; every run lasts
    ``duration`` (finished at the first tick at or after its end). Returns the runs."""
    runs, running = [], []
    now = start
    while now <= end:
        for run in [r for r in running if r.started + duration <= now]:
            assert sched.finish(run, now)
            running.remove(run)
        for run in sched.expired(now):
            assert sched.finish(run, now)
            running.remove(run)
        new = sched.due(now)
        runs += new
        running += new
        now += step
    return runs


def test_phase_is_stable_and_spread():
    assert phase_of("web", 60) == phase_of("web", 60)
    assert 0 <= phase_of("web", 60) < 60
    # The known value pins the hash across Python versions and machines: a restart anywhere
    # puts a target on the same phase.
    assert phase_of("web", 60) == pytest.approx(int.from_bytes(
        __import__("hashlib").blake2b(b"web", digest_size=8).digest(), "big") / 2**64 * 60)
    phases = sorted(phase_of(f"target-{i}", 60) for i in range(10_000))
    # Spread: each of the 60 seconds of the interval holds about 1/60 of the targets.
    per_second = [0] * 60
    for p in phases:
        per_second[int(p)] += 1
    assert max(per_second) < 2 * 10_000 / 60
    assert min(per_second) > 0.5 * 10_000 / 60


def test_first_runs_spread_over_the_interval():
    sched = Scheduler(max_in_flight=10_000)
    sched.update([Job(f"t{i}") for i in range(1000)], T0)
    runs = drive(sched, T0, T0 + 60, 0.5, duration=0.1)
    assert sorted(r.job.id for r in runs) == sorted(f"t{i}" for i in range(1000))   # each once
    per_10s = [sum(1 for r in runs if T0 + b * 10 <= r.started < T0 + b * 10 + 10) for b in range(6)]
    assert all(100 < n < 240 for n in per_10s), per_10s      # no thundering herd at T0


def test_runs_land_on_phase_plus_k_intervals():
    job = Job("db", interval=30)
    sched = Scheduler()
    sched.update([job], T0)
    runs = drive(sched, T0, T0 + 300, 0.25)
    assert len(runs) == 10
    ks = [(r.slot - job.phase) / 30 for r in runs]
    assert all(k == int(k) for k in ks) and ks == list(range(int(ks[0]), int(ks[0]) + len(ks)))
    assert all(0 <= r.lateness < 0.25 for r in runs)


def test_no_drift_over_ten_thousand_intervals_with_late_runs():
    job = Job("slow", interval=10, timeout=9)
    sched = Scheduler()
    sched.update([job], T0)
    now, n = T0, 0
    first = None
    while n < 10_000:
        wake = sched.next_wakeup(now)
        # The runner wakes late by up to 3 s (a busy loop), the run takes up to 5 s more.
        now = wake + (n * 7919 % 300) / 100
        (run,) = sched.due(now)
        first = first if first is not None else run.slot
        assert run.slot == job.phase + round((run.slot - job.phase) / 10) * 10
        assert run.slot == first + n * 10 or math.isclose(run.slot, first + n * 10, rel_tol=0, abs_tol=1e-6)
        assert run.missed == 0
        now += (n * 104729 % 500) / 100
        assert sched.finish(run, now)
        n += 1
    stats = sched.lateness(now)
    assert stats.count == 10_000 and stats.missed == 0 and stats.window_max < 3


@settings(max_examples=50, deadline=None)
@given(
    interval=st.floats(min_value=1, max_value=3600, allow_nan=False),
    job_id=st.text(min_size=1, max_size=30),
    delays=st.lists(st.floats(min_value=0, max_value=0.9), min_size=50, max_size=200),
)
def test_no_drift_property(interval, job_id, delays):
    """Whatever the lateness of each run (under an interval), run n is due at slot_0 + n*interval."""
    job = Job(job_id, interval=interval)
    sched = Scheduler()
    sched.update([job], T0)
    now = T0
    slots = []
    for delay in delays:
        now = sched.next_wakeup(now) + delay * interval / 2
        (run,) = sched.due(now)
        slots.append(run.slot)
        now += delay * interval / 2
        sched.finish(run, now)
    k0 = round((slots[0] - job.phase) / interval)
    assert slots == [job.phase + (k0 + n) * interval for n in range(len(slots))]


def test_bounded_in_flight_waits_in_due_order_and_measures_lateness():
    jobs = [Job(f"t{i}", interval=60, timeout=30) for i in range(50)]
    sched = Scheduler(max_in_flight=5)
    sched.update(jobs, T0)
    end = T0 + 60
    # Nothing finishes for 20 s: only five may start.
    first = sched.due(end)
    assert len(first) == 5 and sched.in_flight == 5
    assert sched.due(end) == []
    assert sched.waiting(end) == 45
    assert [r.slot for r in first] == sorted(r.slot for r in first)
    # Every run that waited started in due order, its lateness measured.
    order = list(first)
    now = end
    while len(order) < 50:
        now += 1
        for run in order[-5:]:
            sched.finish(run, now)
        order += sched.due(now)
        assert sched.in_flight <= 5
    slots = [r.slot for r in order]
    assert slots == sorted(slots)
    assert all(r.lateness == pytest.approx(r.started - r.slot) and r.lateness >= 0 for r in order)
    stats = sched.lateness(now)
    assert stats.count == 50 and stats.window_max == max(r.lateness for r in order)


def test_next_wakeup_names_the_next_slot_or_deadline():
    job = Job("a", interval=60, timeout=5)
    sched = Scheduler(max_in_flight=1)
    assert sched.next_wakeup(T0) is None
    sched.update([job], T0)
    wake = sched.next_wakeup(T0)
    assert wake == sched.next_slot("a") and T0 <= wake < T0 + 60
    assert sched.due(wake - 0.001) == []
    (run,) = sched.due(wake)
    assert sched.next_wakeup(wake) == run.deadline == wake + 5


def test_hard_deadline_expires_a_hung_run_once_and_others_go_on():
    hung, fine = Job("hung", interval=10, timeout=2), Job("fine", interval=10, timeout=2)
    sched = Scheduler()
    sched.update([hung, fine], T0)
    now = max(sched.next_slot("hung"), sched.next_slot("fine"))
    runs = {run.job.id: run for run in sched.due(now)}
    h, f = runs["hung"], runs["fine"]
    assert sched.finish(f, f.started + 0.5)                 # the good one answers quickly
    assert sched.expired(h.deadline - 0.001) == []
    assert sched.expired(h.deadline) == [h]
    assert sched.expired(h.deadline + 100) == []            # named once
    assert sched.finish(h, h.deadline)
    assert not sched.finish(h, h.deadline)   # twice is refused
    assert sched.lateness(h.deadline).expired >= 1
    # The hung target runs again at its next slot, not later.
    assert sched.next_slot("hung") == h.slot + 10


def test_deadline_is_never_past_the_next_slot():
    with pytest.raises(UsageError, match="timeout must be between"):
        Job("x", interval=10, timeout=11)
    assert Job("x", interval=10).timeout == 10
    assert Job("x").interval == DEFAULT_INTERVAL


@pytest.mark.parametrize("kwargs, words", [
    ({"interval": 0.5}, "interval must be between"),
    ({"interval": float("nan")}, "interval must be a number"),
    ({"interval": "60"}, "interval must be a number"),
    ({"interval": True}, "interval must be a number"),
    ({"timeout": 0}, "timeout must be between"),
])
def test_bad_jobs_say_why(kwargs, words):
    with pytest.raises(UsageError, match=words):
        Job("x", **kwargs)
    with pytest.raises(UsageError, match="non-empty"):
        Job("")


def test_scheduler_refuses_bad_bounds_and_duplicate_ids():
    with pytest.raises(UsageError, match="at least 1"):
        Scheduler(max_in_flight=0)
    with pytest.raises(UsageError, match="twice"):
        Scheduler().update([Job("a"), Job("a", interval=30)], T0)
    sched = Scheduler()
    sched.add(Job("a"), T0)
    with pytest.raises(UsageError, match="already scheduled"):
        sched.add(Job("a"), T0)


def test_a_target_late_by_more_than_an_interval_runs_once_and_counts_missed():
    job = Job("a", interval=10)
    sched = Scheduler()
    sched.update([job], T0)
    slot = sched.next_slot("a")
    (run,) = sched.due(slot + 35)          # the loop was stuck for 35 s: slots +10, +20, +30 passed
    assert run.missed == 3 and run.slot == slot + 30 and run.lateness == pytest.approx(5)
    assert sched.due(slot + 35) == []      # not again until it finishes
    sched.finish(run, slot + 36)
    assert sched.next_slot("a") == slot + 40
    assert sched.lateness(slot + 36).missed == 3


def test_reload_keeps_others_phases_and_queue_places():
    jobs = [Job(f"t{i}", interval=60) for i in range(20)]
    sched = Scheduler()
    sched.update(jobs, T0)
    before = {j.id: sched.next_slot(j.id) for j in jobs}
    new = [j for j in jobs if j.id != "t3"] + [Job("t7", interval=30), Job("new")]
    new = [j for j in new if not (j.id == "t7" and j.interval == 60)]
    reload = sched.update(new, T0 + 5)
    assert reload.added == ("new",) and reload.removed == ("t3",) and reload.changed == ("t7",)
    for jid, slot in before.items():
        if jid not in ("t3", "t7"):
            assert sched.next_slot(jid) == slot
    assert sched.next_slot("t7") == Job("t7", interval=30).slot(Job("t7", interval=30).slot_at_or_after(T0 + 5))
    assert {j.id for j in sched.jobs()} == {j.id for j in new}
    # A removed target never starts.
    runs = drive(sched, T0 + 5, T0 + 200, 1, duration=0.5)
    assert "t3" not in {r.job.id for r in runs}


def test_reload_while_running_keeps_one_run_per_target():
    sched = Scheduler()
    sched.update([Job("a", interval=60)], T0)
    now = sched.next_wakeup(T0)
    (run,) = sched.due(now)
    sched.update([Job("a", interval=20)], now + 1)      # changed while in flight
    assert sched.due(now + 100) == []                    # not started twice
    assert sched.finish(run, now + 101)
    nxt = sched.next_slot("a")     # on the new interval's phase, from when the old run ended
    assert now + 101 <= nxt < now + 121 and nxt == Job("a", interval=20).slot(round((nxt - Job("a", interval=20).phase) / 20))
    (again,) = sched.due(nxt)
    assert again.job.interval == 20
    # Removed while running: its finish is stale and says so.
    sched.update([], nxt + 1)
    assert not sched.finish(again, nxt + 2)
    assert sched.in_flight == 0 and sched.next_wakeup(nxt + 2) is None


def test_removed_and_added_again_while_running_is_still_one_run():
    sched = Scheduler()
    sched.update([Job("a", interval=10)], T0)
    now = sched.next_wakeup(T0)
    (run,) = sched.due(now)
    sched.update([], now + 1)
    sched.update([Job("a", interval=10)], now + 2)
    assert sched.due(now + 30) == []                     # the old run still holds the target
    assert sched.finish(run, now + 30)
    (again,) = sched.due(now + 30)       # once, for the latest slot; +10 and +20 were held up
    assert again.slot == run.slot + 30 and again.missed == 2
    assert again.job.id == "a" and again.seq != run.seq


def test_timeout_change_keeps_the_slot():
    sched = Scheduler()
    sched.update([Job("a", interval=60, timeout=10)], T0)
    slot = sched.next_slot("a")
    assert sched.update([Job("a", interval=60, timeout=5)], T0 + 1).changed == ("a",)
    assert sched.next_slot("a") == slot
    (run,) = sched.due(slot)
    assert run.deadline == slot + 5


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=30, unique=True),
    data=st.data(),
)
def test_phases_stable_under_reload_property(ids, data):
    """Removing, adding and changing other targets never moves a kept target's next slot."""
    sched = Scheduler()
    sched.update([Job(i) for i in ids], T0)
    kept = data.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
    before = {i: sched.next_slot(i) for i in kept}
    others = [i for i in ids if i not in kept]
    changed = data.draw(st.lists(st.sampled_from(others), unique=True)) if others else []
    extra = data.draw(st.lists(st.text(min_size=9, max_size=12), unique=True, max_size=10))
    sched.update([Job(i) for i in kept] + [Job(i, interval=17) for i in changed] + [Job(i) for i in extra],
                 T0 + data.draw(st.floats(0, 50)))
    assert {i: sched.next_slot(i) for i in kept} == before


def test_lateness_window_and_p99():
    jobs = [Job(f"t{i}", interval=100) for i in range(100)]
    sched2 = Scheduler(lateness_window=1000)
    sched2.update(jobs, T0)
    started = sched2.due(T0 + 100)   # all due; lateness = T0+100 - slot, spread over [0, 100)
    stats = sched2.lateness(T0 + 100)
    lats = sorted(r.lateness for r in started)
    assert stats.window_count == 100 and stats.window_max == lats[-1]
    assert stats.window_p99 == lats[98]             # nearest rank: ceil(0.99 * 100) = 99th
    assert stats.total == pytest.approx(sum(lats))
    # Samples leave the window; the counters do not.
    later = sched2.lateness(T0 + 100 + 1001)
    assert later.window_count == 0 and later.window_p99 == 0 and later.count == 100


def test_lateness_samples_are_bounded():
    sched = Scheduler(max_in_flight=10**6, lateness_window=86400)
    sched.update([Job(f"t{i}", interval=1) for i in range(MAX_LATENESS_SAMPLES + 10)], T0)
    assert len(sched.due(T0 + 1)) == MAX_LATENESS_SAMPLES + 10
    assert sched.lateness(T0 + 1).window_count == MAX_LATENESS_SAMPLES
