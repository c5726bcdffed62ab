"""The verdict across locations (quorum, liveness, suppression), without sockets or a store."""

import pytest

from netkit.core.status import CRITICAL, OK, UNKNOWN, WARNING
from netkit.monitor._cluster import STALE_INTERVALS, decide, live_states
from netkit.monitor._records import Verdict
from netkit.monitor._state import TargetState

NOW = 1_000_000.0


def st(hard, *, last=NOW - 5, since=NOW - 30, flapping=False):
    return TargetState("web", status=hard, hard_status=hard, since=since, last_result=last, flapping=flapping)


def verdict(states, prev=None, quorum=1, **kw):
    kw.setdefault("interval", 60.0)
    kw.setdefault("timeout", 10.0)
    kw.setdefault("now", NOW)
    return decide(prev, "web", states, quorum=quorum, **kw)


def test_one_location_follows_its_hard_status():
    v, change = verdict({"default": st(CRITICAL, since=NOW - 7)})
    assert (v.status, v.since) == (CRITICAL, NOW - 7)
    assert (change.old, change.new, change.at, change.suppressed) == (OK, CRITICAL, NOW - 7, ())
    again, none = verdict({"default": st(CRITICAL)}, prev=v)
    assert none is None and again.status == CRITICAL and again.since == v.since


def test_recovery_is_a_change_back_to_ok():
    down = Verdict("web", CRITICAL, NOW - 100)
    v, change = verdict({"default": st(OK, since=NOW - 2)}, prev=down)
    assert (v.status, change.old, change.new) == (OK, CRITICAL, OK)


@pytest.mark.parametrize("hards, quorum, want", [
    ((CRITICAL, OK, OK), 2, OK),               # one location alone is not a quorum of two
    ((CRITICAL, CRITICAL, OK), 2, CRITICAL),
    ((CRITICAL, WARNING, OK), 2, WARNING),     # a CRITICAL location agrees there is at least a WARNING
    ((CRITICAL, CRITICAL, WARNING), 2, CRITICAL),
    ((UNKNOWN, WARNING, OK), 2, UNKNOWN),      # CRITICAL > WARNING > UNKNOWN > OK
    ((CRITICAL, CRITICAL, CRITICAL), 3, CRITICAL),
    ((CRITICAL, CRITICAL, OK), 3, OK),
    ((CRITICAL, OK, OK), 1, CRITICAL),
])
def test_quorum_takes_the_worst_status_enough_locations_agree_on(hards, quorum, want):
    states = {f"loc{i}": st(h) for i, h in enumerate(hards)}
    v, _ = verdict(states, quorum=quorum)
    assert v.status == want
    assert v.locations == tuple((f"loc{i}", int(h)) for i, h in enumerate(hards))


def test_a_dead_location_counts_neither_way():
    stale = NOW - STALE_INTERVALS * 60 - 10 - 1
    states = {"fra": st(CRITICAL), "nyc": st(CRITICAL, last=stale), "sfo": st(OK)}
    v, change = verdict(states, quorum=2)
    # nyc is dead: two live locations, one CRITICAL: no quorum of two.
    assert v.status == OK and change is None
    assert set(live_states(states, 60, 10, NOW)) == {"fra", "sfo"}


def test_fewer_live_locations_than_the_quorum_need_all_of_them():
    stale = NOW - 10_000
    states = {"fra": st(CRITICAL), "nyc": st(OK, last=stale), "sfo": st(OK, last=stale)}
    v, _ = verdict(states, quorum=2)
    assert v.status == CRITICAL   # the one monitor still alive sees it down


def test_no_live_location_keeps_the_verdict():
    prev = Verdict("web", CRITICAL, NOW - 50)
    v, change = verdict({"fra": st(OK, last=NOW - 10_000)}, prev=prev)
    assert v is prev and change is None


def test_listed_locations_only():
    states = {"fra": st(CRITICAL), "lab": st(OK)}
    v, _ = verdict(states, locations=("fra",))
    assert v.status == CRITICAL and v.locations == (("fra", CRITICAL),)


@pytest.mark.parametrize("kw, flapping, reasons", [
    ({"maintenance": True}, False, ("maintenance",)),
    ({}, True, ("flapping",)),
    ({"acked": True}, False, ("acknowledged",)),
    ({"maintenance": True, "acked": True}, True, ("maintenance", "flapping", "acknowledged")),
])
def test_suppressed_changes_say_why(kw, flapping, reasons):
    v, change = verdict({"default": st(CRITICAL, flapping=flapping)}, **kw)
    assert change.suppressed == reasons and v.status == CRITICAL


def test_an_ack_does_not_suppress_a_recovery():
    v, change = verdict({"default": st(OK)}, prev=Verdict("web", CRITICAL, NOW - 100), acked=True)
    assert change.suppressed == () and not v.acked


def test_summary_counts_the_locations_when_none_is_given():
    _, change = verdict({"a": st(CRITICAL), "b": st(CRITICAL), "c": st(OK)}, quorum=2)
    assert change.summary == "2 of 3 locations report CRITICAL"
    _, change = verdict({"a": st(CRITICAL)}, summary="connection refused")
    assert change.summary == "connection refused"
