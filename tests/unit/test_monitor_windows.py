"""Maintenance windows on given instants: one-off, recurring by weekday or cron, in IANA
time zones, across daylight saving time changes."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netkit.core.errors import UsageError
from netkit.monitor._windows import MAX_DURATION, Maintenance, OneOff, Recurring

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")


def at(zone, *fields, fold=0):
    return datetime(*fields, tzinfo=zone, fold=fold).timestamp()


def local(zone, t):
    return datetime.fromtimestamp(t, zone).replace(tzinfo=None)


def test_one_off():
    w = OneOff(datetime(2026, 12, 24, 8, tzinfo=PARIS), datetime(2026, 12, 24, 10, tzinfo=PARIS))
    start, end = at(PARIS, 2026, 12, 24, 8), at(PARIS, 2026, 12, 24, 10)
    assert (w.start, w.end) == (start, end)
    assert not w.active(start - 1) and w.active(start) and w.active(end - 1e-3) and not w.active(end)
    assert w.next_change(start - 100) == start
    assert w.next_change(start) == end
    assert w.next_change(end) is None


def test_weekly_window_and_its_changes():
    w = Recurring.weekly(["sat", "sun"], "02:30", 7200, "Europe/Paris")
    assert w.schedule == "30 2 * * 0,6"
    fri = at(PARIS, 2026, 12, 4, 12)                  # a Friday
    sat_start = at(PARIS, 2026, 12, 5, 2, 30)
    assert not w.active(fri)
    assert w.next_change(fri) == sat_start
    assert w.active(sat_start) and w.next_change(sat_start + 60) == sat_start + 7200
    assert not w.active(sat_start + 7200)
    assert w.next_change(sat_start + 7200) == at(PARIS, 2026, 12, 6, 2, 30)
    assert w.next_change(at(PARIS, 2026, 12, 6, 5)) == at(PARIS, 2026, 12, 12, 2, 30)


def test_spring_forward_window_at_0230_still_happens():
    """2026-03-08 in New York: 02:00 EST jumps to 03:00 EDT; 02:30 never shows on a clock.
    The window starts when 02:30 would have been (03:30 EDT) and lasts its full hour."""
    w = Recurring.weekly("sun", "02:30", 3600, "America/New_York")
    night = at(NY, 2026, 3, 8, 0, 0)
    start = w.next_change(night)
    assert start == datetime(2026, 3, 8, 7, 30, tzinfo=timezone.utc).timestamp()
    assert local(NY, start) == datetime(2026, 3, 8, 3, 30)
    assert w.active(start) and not w.active(start - 1)
    assert w.next_change(start) == start + 3600                 # elapsed, not wall-clock, hour
    assert local(NY, start + 3600) == datetime(2026, 3, 8, 4, 30)
    # The Sunday before and after: plain 02:30 local.
    assert local(NY, w.next_change(at(NY, 2026, 3, 1, 0))) == datetime(2026, 3, 1, 2, 30)
    assert local(NY, w.next_change(start + 3600)) == datetime(2026, 3, 15, 2, 30)


def test_spring_forward_in_paris_too():
    """2026-03-29 in Paris: 02:00 CET jumps to 03:00 CEST."""
    w = Recurring.cron("30 2 * * *", 1800, "Europe/Paris")
    start = w.next_change(at(PARIS, 2026, 3, 29, 0))
    assert local(PARIS, start) == datetime(2026, 3, 29, 3, 30)
    assert w.next_change(start) == start + 1800
    assert local(PARIS, w.next_change(start + 1800)) == datetime(2026, 3, 30, 2, 30)


def test_fall_back_window_happens_once_at_the_first_0130():
    """2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST)."""
    w = Recurring.cron("30 1 * * *", 1200, "America/New_York")
    first = at(NY, 2026, 11, 1, 1, 30, fold=0)
    second = at(NY, 2026, 11, 1, 1, 30, fold=1)
    assert second - first == 3600
    assert w.next_change(at(NY, 2026, 11, 1, 0)) == first
    assert w.active(first) and w.next_change(first) == first + 1200
    assert not w.active(second)                                 # once, not twice
    assert w.next_change(first + 1200) == at(NY, 2026, 11, 2, 1, 30)


def test_window_across_a_dst_change_keeps_its_elapsed_length():
    w = Recurring.cron("0 1 * * *", 3 * 3600, "America/New_York")
    start = at(NY, 2026, 11, 1, 1, 0)
    assert w.next_change(start) == start + 3 * 3600
    assert local(NY, start + 3 * 3600) == datetime(2026, 11, 1, 3, 0)   # 01:00 EDT + 3h = 03:00 EST


def test_window_over_midnight_is_active_on_the_next_day():
    w = Recurring.weekly("fri", "23:00", 4 * 3600, "UTC")
    sat_1am = datetime(2026, 12, 5, 1, tzinfo=timezone.utc).timestamp()
    assert w.active(sat_1am)
    assert w.next_change(sat_1am) == datetime(2026, 12, 5, 3, tzinfo=timezone.utc).timestamp()


def test_overlapping_and_adjoining_windows_are_one_stretch():
    t = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
    m = Maintenance([OneOff(t, t + 100), OneOff(t + 50, t + 200), OneOff(t + 200, t + 300),
                     OneOff(t + 400, t + 500)])
    assert m.active(t + 10) and m.next_change(t + 10) == t + 300
    assert not m.active(t + 300) and m.next_change(t + 300) == t + 400
    assert m.next_change(t + 500) is None
    assert Maintenance().next_change(t) is None and not Maintenance().active(t)
    # A recurring and a one-off together.
    daily = Recurring.cron("0 0 * * *", 3600, "UTC")
    m = Maintenance([daily, OneOff(t + 3000, t + 7200)])
    assert m.active(t) and m.next_change(t) == t + 7200


def test_cron_fields():
    w = Recurring.cron("*/15 9-10 1,15 * *", 60, "UTC")
    t = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc).timestamp()
    starts = [s for s, _ in w.intervals(t, t + 86400)]
    assert [datetime.fromtimestamp(s, timezone.utc).strftime("%H:%M") for s in starts] == [
        "09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45"]
    # Vixie cron: with both day fields restricted, either matches (the 13th, or a Friday).
    w = Recurring.cron("0 0 13 * 5", 60, "UTC")
    t = datetime(2026, 2, 1, tzinfo=timezone.utc).timestamp()
    days = []
    for _ in range(5):
        t = w.next_change(t)
        days.append(datetime.fromtimestamp(t, timezone.utc).day)
        t += 60
    assert days == [6, 13, 20, 27, 6]           # Fridays of February 2026, and the 13th
    # 7 is Sunday too.
    assert Recurring.cron("0 0 * * 7", 60).next_change(t) == Recurring.cron("0 0 * * 0", 60).next_change(t)


def test_a_schedule_that_never_matches_has_no_next_change():
    w = Recurring.cron("0 0 31 2 *", 60, "UTC")
    assert w.next_change(0) is None and not w.active(0)
    leap = Recurring.cron("0 0 29 2 *", 60, "UTC")
    assert datetime.fromtimestamp(leap.next_change(at(timezone.utc, 2026, 3, 1)), timezone.utc).year == 2028


@pytest.mark.parametrize("make, words", [
    (lambda: Recurring.cron("0 0 * *", 60), "five fields"),
    (lambda: Recurring.cron("60 0 * * *", 60), "values go from 0 to 59"),
    (lambda: Recurring.cron("x 0 * * *", 60), "expects numbers"),
    (lambda: Recurring.cron("0 0 * * *", 0), "greater than 0"),
    (lambda: Recurring.cron("0 0 * * *", MAX_DURATION + 1), "a week"),
    (lambda: Recurring.cron("0 0 * * *", 60, "Mars/Olympus"), "unknown time zone"),
    (lambda: Recurring.cron("0 0 * * *", 60, "../../etc/passwd"), "unknown time zone"),
    (lambda: Recurring.weekly(["funday"], "02:30", 60), "expects names"),
    (lambda: Recurring.weekly(["mon"], "25:00", 60), "HH:MM"),
    (lambda: Recurring.weekly([], "02:30", 60), "HH:MM"),
    (lambda: OneOff(datetime(2026, 1, 2), datetime(2026, 1, 3)), "no time zone"),
    (lambda: OneOff(10.0, 5.0), "end after it starts"),
    (lambda: OneOff("today", 5.0), "date and time"),
])
def test_bad_windows_say_why(make, words):
    with pytest.raises(UsageError, match=words):
        make()


@settings(max_examples=60, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
    zone=st.sampled_from(["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "UTC"]),
    hour=st.integers(0, 23), minute=st.sampled_from([0, 30]),
    duration=st.integers(60, 3 * 86400),
)
def test_next_change_flips_active_property(when, zone, hour, minute, duration):
    """Just before next_change the state is what it is now; at next_change it flips."""
    w = Recurring.weekly(["mon", "thu"], f"{hour:02d}:{minute:02d}", duration, zone)
    now = when.replace(tzinfo=timezone.utc).timestamp()
    change = w.next_change(now)
    assert change is not None and now < change <= now + 8 * 86400 + duration
    assert w.active(change - 1e-3) == w.active(now) != w.active(change)


def test_windows_from_config_tables():
    import tomllib

    from netkit.monitor._windows import window_from_table

    doc = tomllib.loads("""
        [[w]]
        start = 2026-12-24T08:00:00+01:00
        end = 2026-12-24T10:00:00+01:00
        [[w]]
        start = "2026-12-24T08:00:00"
        end = "2026-12-24T10:00:00"
        timezone = "Europe/Paris"
        [[w]]
        days = ["sat", "sun"]
        at = "02:30"
        duration = "2h"
        timezone = "Europe/Paris"
        [[w]]
        cron = "30 2 * * 0,6"
        duration = 7200
        timezone = "Europe/Paris"
    """)
    a, b, c, d = (window_from_table(t) for t in doc["w"])
    assert a == b == OneOff(at(PARIS, 2026, 12, 24, 8), at(PARIS, 2026, 12, 24, 10))
    assert c == d == Recurring("30 2 * * 0,6", 7200.0, "Europe/Paris")
    assert window_from_table({"cron": "0 0 * * *", "duration": "90m"}).duration == 5400
    assert window_from_table({"cron": "0 0 * * *", "duration": "1d"}, "America/New_York").timezone == "America/New_York"


@pytest.mark.parametrize("table, words", [
    ({"start": "2026-01-01T00:00:00Z"}, "needs both start and end"),
    ({"days": ["mon"], "duration": 60}, "needs at"),
    ({"cron": "0 0 * * *"}, "needs a duration"),
    ({"cron": "0 0 * * *", "duration": "2 weeks"}, "expects seconds or a number with s, m, h or d"),
    ({"cron": "0 0 * * *", "duration": "8d"}, "a week"),
    ({"cron": "0 0 * * *", "start": 1, "duration": 1}, "expects start/end"),
    ({"whenever": True}, "expects start/end"),
    ({"timezone": "UTC"}, "expects start/end"),
    ({"start": "christmas", "end": "new year"}, "expects a date and time"),
    ({"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00", "timezone": "Nowhere/Land"},
     "unknown time zone"),
    ("every sunday", "is a table"),
])
def test_bad_window_tables_say_why(table, words):
    from netkit.monitor._windows import window_from_table

    with pytest.raises(UsageError, match=words):
        window_from_table(table)
