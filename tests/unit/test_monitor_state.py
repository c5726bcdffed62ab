"""Nagios states without sockets: every soft/hard transition, both hysteresis thresholds at
their edges, flapping against the worked example of the Nagios/Naemon documentation,
acknowledgements and suppression."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netkit.core.errors import UsageError
from netkit.core.status import CRITICAL, OK, UNKNOWN, WARNING
from netkit.monitor._state import (
    FLAP_HISTORY,
    AckCleared,
    Acknowledged,
    FlappingStarted,
    FlappingStopped,
    HardChange,
    Policy,
    Result,
    SoftChange,
    TargetState,
    acknowledge,
    advance,
    percent_state_change,
    should_alert,
    unacknowledge,
)

O, W, C, U = OK, WARNING, CRITICAL, UNKNOWN
NOFLAP = dict(flap_detection=False)


def feed(statuses, policy=Policy(**NOFLAP), state=None, **kw):
    """Run ``statuses`` through the state machine; the final state and every event."""
    state = state or TargetState("web")
    events = []
    for i, s in enumerate(statuses):
        t = advance(state, Result("web", s, 1000.0 + i * 60, f"r{i}"), policy, **kw)
        state = t.state
        events += t.events
    return state, events


def kinds(events):
    out = []
    for e in events:
        if isinstance(e, (SoftChange, HardChange)):
            out.append(f"{type(e).__name__[0]}:{e.old.label}>{e.new.label}")
        else:
            out.append(type(e).__name__)
    return out


# -- soft and hard ------------------------------------------------------------------------

def test_a_new_target_is_hard_ok_and_ok_results_say_nothing():
    state, events = feed([O, O, O])
    assert (state.status, state.hard_status, state.state_type, state.attempt) == (O, O, "hard", 0)
    assert events == []


@pytest.mark.parametrize("threshold", [1, 2, 3, 5])
def test_failure_threshold_edge(threshold):
    p = Policy(failure_threshold=threshold, **NOFLAP)
    state, events = feed([C] * (threshold - 1), p)
    assert state.hard_status == O and all(not isinstance(e, HardChange) for e in events)
    if threshold > 1:
        assert state.state_type == "soft" and state.attempt == threshold - 1
        assert kinds(events) == ["S:OK>CRITICAL"]
    state, more = feed([C], p, state)
    assert kinds(more) == ["H:OK>CRITICAL"]
    (hc,) = more
    assert hc.attempt == threshold and hc.summary == "r0" and should_alert(hc)
    assert (state.hard_status, state.state_type, state.attempt, state.since) == (C, "hard", 0, 1000.0)


@pytest.mark.parametrize("threshold", [1, 2, 3, 4])
def test_success_threshold_edge(threshold):
    p = Policy(failure_threshold=1, success_threshold=threshold, **NOFLAP)
    state, _ = feed([C], p)
    state, events = feed([O] * (threshold - 1), p, state)
    assert state.hard_status == C
    if threshold > 1:
        assert kinds(events) == ["S:CRITICAL>OK"] and state.state_type == "soft"
        assert events[0].attempt == 1 and events[0].threshold == threshold
    state, more = feed([O], p, state)
    assert kinds(more) == ["H:CRITICAL>OK"] and more[0].attempt == threshold
    assert state.state_type == "hard" and state.attempt == 0


def test_soft_recovery_alerts_nobody_and_restarts_the_count():
    p = Policy(failure_threshold=3, **NOFLAP)
    state, events = feed([C, C, O, C, C], p)
    assert kinds(events) == ["S:OK>CRITICAL", "S:CRITICAL>OK", "S:OK>CRITICAL"]
    assert state.hard_status == O and state.attempt == 2     # not 4: the OK reset it
    state, events = feed([C], p, state)
    assert kinds(events) == ["H:OK>CRITICAL"]


def test_problems_of_different_kinds_count_together_and_the_last_becomes_hard():
    p = Policy(failure_threshold=3, **NOFLAP)
    state, events = feed([W, U, C], p)
    assert kinds(events) == ["S:OK>WARNING", "S:WARNING>UNKNOWN", "H:OK>CRITICAL"]
    assert state.hard_status == C


def test_hard_problem_to_another_problem_is_a_hard_change_at_once():
    p = Policy(failure_threshold=3, **NOFLAP)
    state, _ = feed([C, C, C], p)
    state, events = feed([W], p, state)
    assert kinds(events) == ["H:CRITICAL>WARNING"] and state.hard_status == W


def test_failed_recovery_goes_back_to_hard_problem_quietly():
    p = Policy(failure_threshold=1, success_threshold=3, **NOFLAP)
    state, _ = feed([C], p)
    state, events = feed([O, O, C], p, state)
    assert kinds(events) == ["S:CRITICAL>OK", "S:OK>CRITICAL"]
    assert events[-1].attempt == 0 and state.state_type == "hard" and state.hard_status == C
    state, events = feed([O, O], p, state)          # the count starts again from one
    assert state.hard_status == C and state.attempt == 2
    state, events = feed([O], p, state)
    assert kinds(events) == ["H:CRITICAL>OK"]


def test_recovering_then_a_different_problem_is_hard_at_once():
    p = Policy(failure_threshold=1, success_threshold=3, **NOFLAP)
    state, _ = feed([C, O], p)
    state, events = feed([W], p, state)
    assert kinds(events) == ["H:CRITICAL>WARNING"]


def test_thresholds_of_one_are_plain_nagios_max_check_attempts_1():
    p = Policy(failure_threshold=1, success_threshold=1, **NOFLAP)
    _, events = feed([C, O, W, W, O], p)
    assert kinds(events) == ["H:OK>CRITICAL", "H:CRITICAL>OK", "H:OK>WARNING", "H:WARNING>OK"]


@given(st.lists(st.sampled_from([O, W, C, U]), max_size=60),
       st.integers(1, 4), st.integers(1, 4))
def test_invariants_hold_for_any_sequence(statuses, fail, succeed):
    p = Policy(failure_threshold=fail, success_threshold=succeed)
    state = TargetState("web")
    for i, s in enumerate(statuses):
        t = advance(state, Result("web", s, float(i)), p)
        hard = [e for e in t.events if isinstance(e, HardChange)]
        assert len(hard) <= 1
        if hard:
            assert hard[0].old == state.hard_status and hard[0].new == t.state.hard_status != state.hard_status
        assert (t.state.state_type == "soft") == (t.state.status != t.state.hard_status)
        assert t.state.status == s
        assert 0 <= t.state.attempt < (fail if t.state.hard_status == OK else succeed) or t.state.attempt == 0
        assert 0 <= t.state.percent_change <= 100
        state = t.state


# -- flapping -----------------------------------------------------------------------------

def weighted(*xs):
    """The documented weight: 0.75 for a change at x = 1 (oldest) to 1.25 at x = 20."""
    return sum(0.75 + (x - 1) * 0.5 / 19 for x in xs) * 100 / 20


def history_with_changes_at(*ts):
    """21 results t1..t21 (oldest first) whose state changes at the given t's."""
    out, cur = [], O
    for t in range(1, 22):
        if t in ts:
            cur = C if cur == O else O
        out.append(cur)
    return tuple(out)


def test_the_documented_example_seven_changes():
    """Naemon/Nagios 'Detection and Handling of State Flapping': 21 checks with changes at
    t3, t4, t5, t9, t12, t16 and t19 -- 35% unweighted, 'slightly less' weighted, since the
    newer changes weigh more and these lean old."""
    h = history_with_changes_at(3, 4, 5, 9, 12, 16, 19)
    assert sum(a != b for a, b in zip(h, h[1:])) == 7 and 7 / 20 * 100 == 35
    pct = percent_state_change(h)
    assert pct == pytest.approx(weighted(2, 3, 4, 8, 11, 15, 18)) == pytest.approx(33.355263, abs=1e-6)
    assert pct < 35


def test_weighting_ends_and_bounds():
    assert percent_state_change((O,) * 21) == 0
    alternating = tuple(O if i % 2 else C for i in range(21))
    assert percent_state_change(alternating) == pytest.approx(100)
    assert percent_state_change(history_with_changes_at(2)) == pytest.approx(0.75 * 5)    # oldest: 3.75%
    assert percent_state_change(history_with_changes_at(21)) == pytest.approx(1.25 * 5)   # newest: 6.25%
    # Any change of status counts, not only OK/problem: WARNING to CRITICAL is a change.
    assert percent_state_change((W,) * 20 + (C,)) == pytest.approx(6.25)
    with pytest.raises(UsageError):
        percent_state_change((O,) * 20)


@given(st.lists(st.sampled_from([O, W, C, U]), min_size=21, max_size=21))
def test_percent_is_always_within_0_and_100(h):
    assert 0 <= percent_state_change(h) <= 100


def test_flapping_starts_at_high_and_stops_at_low_with_hysteresis():
    p = Policy(failure_threshold=1, success_threshold=1, low_flap_threshold=20, high_flap_threshold=30)
    state, events = feed([C, O] * 3, p)     # changes at the newest end weigh 1.25 each
    # 5 changes: 6.25 + 6.1842 + ... ; the first that reaches 30% starts flapping.
    starts = [e for e in events if isinstance(e, FlappingStarted)]
    assert len(starts) == 1 and starts[0].percent >= 30 and starts[0].threshold == 30
    assert state.flapping
    # While flapping the hard changes still come out, marked: nobody is paged.
    after = events[events.index(starts[0]):]
    assert all(e.suppressed == ("flapping",) for e in after if isinstance(e, HardChange))
    before = events[:events.index(starts[0])]
    hc_before = [e for e in before if isinstance(e, HardChange)]
    assert all(not e.suppressed for e in hc_before[:-1])
    # The change that pushed it over is suppressed as Nagios does (flap check runs first).
    assert hc_before[-1].suppressed == ("flapping",)
    # Stable results bring it down; between the thresholds nothing changes.
    state, events = feed([O] * 30, p, state)
    stops = [e for e in events if isinstance(e, FlappingStopped)]
    assert len(stops) == 1 and stops[0].percent <= 20 and stops[0].reason == "stable"
    assert not state.flapping


def test_threshold_equality_edges():
    """Nagios: percent >= high starts flapping, percent <= low stops it, between changes nothing."""
    start = replace_status(TargetState("web", history=history_with_changes_at(15, 17, 19, 20)), C)
    result = Result("web", O, 0)                      # flips the newest: one more change
    pct = percent_state_change(start.history[1:] + (O,))
    one = dict(failure_threshold=1, success_threshold=1)
    t = advance(start, result, Policy(low_flap_threshold=pct - 1, high_flap_threshold=pct, **one))
    assert t.state.flapping and any(isinstance(e, FlappingStarted) for e in t.events)     # == high
    t = advance(start, result, Policy(low_flap_threshold=1, high_flap_threshold=pct + 1e-9, **one))
    assert not t.state.flapping and t.events == (HardChange("web", 0, C, O, 1),)        # just below
    flapping = replace_status(start, C, flapping=True)
    t = advance(flapping, result, Policy(low_flap_threshold=pct, high_flap_threshold=pct + 1, **one))
    assert not t.state.flapping and any(isinstance(e, FlappingStopped) for e in t.events)  # == low
    t = advance(flapping, result, Policy(low_flap_threshold=pct - 1e-9, high_flap_threshold=99, **one))
    assert t.state.flapping and not any(isinstance(e, FlappingStopped) for e in t.events)  # between


def replace_status(state, status, **kw):
    from dataclasses import replace
    return replace(state, status=status, hard_status=status, **kw)


def test_soft_problems_are_not_recorded_but_soft_recoveries_are():
    p = Policy(failure_threshold=3, success_threshold=1)
    state, _ = feed([C, C], p)                        # soft problems
    assert state.history == (O,) * 21 and state.percent_change == 0
    state, _ = feed([O], p, state)                    # soft recovery: recorded
    assert state.history == (O,) * 21                 # (an OK after OKs: no change yet)
    state, _ = feed([C, C, C], p, state)              # the third is hard: recorded
    assert state.history[-1] == C and state.history[-2] == O
    p2 = Policy(failure_threshold=1, success_threshold=3)
    state, _ = feed([C, O], p2)                       # a soft OK while recovering is recorded
    assert state.history[-2:] == (C, O)


def test_disabling_flap_detection_stops_flapping_and_still_measures():
    p = Policy(failure_threshold=1, success_threshold=1)
    state, _ = feed([C, O] * 10, p)
    assert state.flapping
    state, events = feed([C], Policy(failure_threshold=1, success_threshold=1, flap_detection=False), state)
    assert not state.flapping and state.percent_change > 30
    assert [e.reason for e in events if isinstance(e, FlappingStopped)] == ["disabled"]
    assert [e.suppressed for e in events if isinstance(e, HardChange)] == [()]


# -- acknowledgements, maintenance ------------------------------------------------------

def test_acknowledgement_silences_until_the_next_hard_change_and_is_recorded():
    p = Policy(failure_threshold=1, success_threshold=1, **NOFLAP)
    state, _ = feed([C], p)
    t = acknowledge(state, 2000.0, "alice", "disk replaced tomorrow")
    (ack_event,) = t.events
    assert isinstance(ack_event, Acknowledged) and ack_event.status == C and ack_event.ack.author == "alice"
    state, events = feed([C, C], p, t.state)          # still critical: nothing, still acknowledged
    assert events == [] and state.ack is not None
    state, events = feed([W], p, state)               # a state change ends a plain ack
    assert kinds(events) == ["H:CRITICAL>WARNING", "AckCleared"]
    assert events[0].suppressed == () and events[1].reason == "changed" and state.ack is None


def test_sticky_acknowledgement_lasts_until_recovery():
    p = Policy(failure_threshold=1, success_threshold=1, **NOFLAP)
    state, _ = feed([C], p)
    state = acknowledge(state, 0, "bob", sticky=True).state
    state, events = feed([W], p, state)
    assert kinds(events) == ["H:CRITICAL>WARNING"] and events[0].suppressed == ("acknowledged",)
    assert not should_alert(events[0])
    state, events = feed([O], p, state)
    assert kinds(events) == ["H:WARNING>OK", "AckCleared"]
    assert events[0].suppressed == () and events[1].reason == "recovered"


def test_acknowledge_needs_a_problem_and_unacknowledge_is_recorded():
    with pytest.raises(UsageError, match="no problem to acknowledge"):
        acknowledge(TargetState("web"), 0, "alice")
    state, _ = feed([C, C, C], Policy(**NOFLAP))
    with pytest.raises(UsageError, match="at most"):
        acknowledge(state, 0, "x" * 5000)
    state = acknowledge(state, 0, "alice").state
    t = unacknowledge(state, 5)
    assert t.state.ack is None and isinstance(t.events[0], AckCleared) and t.events[0].reason == "removed"
    assert unacknowledge(t.state, 6).events == ()


def test_maintenance_suppresses_alerts_but_keeps_states():
    p = Policy(failure_threshold=1, success_threshold=1, **NOFLAP)
    inside, events = feed([C, O, C], p, maintenance=True)
    outside, plain = feed([C, O, C], p)
    assert inside == outside                           # the same states either way
    assert [e.suppressed for e in events] == [("maintenance",)] * 3
    assert [e.suppressed for e in plain] == [()] * 3


# -- validation ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"failure_threshold": 0}, "failure-threshold must be a whole number from 1"),
    ({"success_threshold": 101}, "success-threshold must be a whole number from 1"),
    ({"failure_threshold": 2.5}, "failure-threshold"),
    ({"failure_threshold": True}, "failure-threshold"),
    ({"low_flap_threshold": -1}, "low-flap-threshold must be a percentage"),
    ({"high_flap_threshold": 101}, "high-flap-threshold must be a percentage"),
    ({"low_flap_threshold": 30, "high_flap_threshold": 30}, "must be below"),
    ({"flap_detection": "yes"}, "true or false"),
])
def test_bad_policies_say_why(kwargs, words):
    with pytest.raises(UsageError, match=words):
        Policy(**kwargs)


def test_bad_results_say_why():
    with pytest.raises(UsageError, match="status 0-3"):
        Result("web", 4, 0)
    with pytest.raises(UsageError, match="time in seconds"):
        Result("web", 0, float("nan"))
    assert Result("web", 2, 0).status is CRITICAL
    with pytest.raises(UsageError, match="given to the state of"):
        advance(TargetState("web"), Result("db", 0, 0))
    with pytest.raises(UsageError, match="history holds 21"):
        TargetState("web", history=(O,) * 3)
    assert FLAP_HISTORY == 21


def test_events_and_states_are_frozen():
    state, events = feed([C, C, C], Policy(**NOFLAP))
    with pytest.raises(AttributeError):
        state.status = O
    with pytest.raises(AttributeError):
        events[-1].suppressed = ("x",)


@given(st.lists(st.sampled_from([O, W, C, U]), max_size=40), st.booleans())
def test_state_round_trips_through_plain_data(statuses, acked):
    import json

    state, _ = feed(statuses, Policy(failure_threshold=2))
    if acked and state.hard_status != O:
        state = acknowledge(state, 5.0, "alice", "on it", sticky=True).state
    data = json.loads(json.dumps(state.to_dict()))
    assert TargetState.from_dict(data) == state


@pytest.mark.parametrize("damage", [
    lambda d: d.pop("history"),
    lambda d: d.update(status=9),
    lambda d: d.update(history=[0] * 3),
    lambda d: d.update(attempt=-1),
    lambda d: d.update(since="yesterday"),
    lambda d: d.update(percent_change=250),
    lambda d: d.update(ack={"at": 1}),
    lambda d: d.update(flapping="no"),
])
def test_a_damaged_stored_state_is_refused_in_one_line(damage):
    data = TargetState("web").to_dict()
    damage(data)
    with pytest.raises(UsageError) as info:
        TargetState.from_dict(data)
    assert "\n" not in str(info.value)
