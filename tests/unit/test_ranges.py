"""Nagios threshold ranges, exhaustively: every form, every edge, and a model check."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netkit.core.ranges import Range, parse_range

INF = math.inf


@pytest.mark.parametrize(
    "text, start, end, inside",
    [
        ("10", 0, 10, False),
        ("10:", 10, INF, False),
        ("~:10", -INF, 10, False),
        ("10:20", 10, 20, False),
        ("@10:20", 10, 20, True),
        ("@10", 0, 10, True),
        ("-5:-1", -5, -1, False),
        ("0.5", 0, 0.5, False),
        (":10", 0, 10, False),
        ("~:", -INF, INF, False),
        (" 3 ", 0, 3, False),
    ],
)
def test_forms(text, start, end, inside):
    r = parse_range(text)
    assert (r.start, r.end, r.inside) == (start, end, inside)


@pytest.mark.parametrize(
    "text, value, alerts",
    [
        ("10", -1, True), ("10", 0, False), ("10", 10, False), ("10", 10.001, True),
        ("10:", 9.99, True), ("10:", 10, False), ("10:", 1e9, False),
        ("~:10", -1e9, False), ("~:10", 10, False), ("~:10", 11, True),
        ("10:20", 9, True), ("10:20", 10, False), ("10:20", 20, False), ("10:20", 21, True),
        ("@10:20", 9, False), ("@10:20", 10, True), ("@10:20", 20, True), ("@10:20", 21, False),
    ],
)
def test_alerts_as_the_guidelines_table(text, value, alerts):
    assert parse_range(text).alerts(value) is alerts


@pytest.mark.parametrize("text", ["", "abc", "10:5", "1:2:3", "~", "@", "nan", "inf", "1e999", "@~", "10:x"])
def test_bad_ranges_say_why(text):
    with pytest.raises(ValueError) as info:
        parse_range(text)
    assert str(info.value)


def test_numbers_from_toml_are_ranges():
    assert parse_range(5) == Range(0, 5)
    assert parse_range(0.25) == Range(0, 0.25)
    with pytest.raises(ValueError):
        parse_range(True)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda f: round(f, 3))


@given(lo=finite, hi=finite, inside=st.booleans(), open_lo=st.booleans(), open_hi=st.booleans(), value=finite)
def test_parse_agrees_with_a_model(lo, hi, inside, open_lo, open_hi, value):
    lo, hi = min(lo, hi), max(lo, hi)
    left = "~" if open_lo else repr(lo)
    right = "" if open_hi else repr(hi)
    text = ("@" if inside else "") + f"{left}:{right}"
    r = parse_range(text)
    start = -INF if open_lo else lo
    end = INF if open_hi else hi
    within = start <= value <= end
    assert r.alerts(value) is (within if inside else not within)


@given(lo=finite, hi=finite, inside=st.booleans())
def test_text_round_trips(lo, hi, inside):
    lo, hi = min(lo, hi), max(lo, hi)
    r = Range(lo, hi, inside)
    assert parse_range(r.text) == r
