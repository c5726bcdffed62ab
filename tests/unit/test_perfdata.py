"""Perfdata formatting and parsing are inverses; labels are quoted as the guidelines say."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netkit.core.perfdata import (
    UNITS,
    Metric,
    format_metric,
    format_number,
    format_perfdata,
    parse_perfdata,
)
from netkit.core.ranges import parse_range


def test_check_tcp_shape():
    m = Metric("time", 0.000157, "s", None, None, 0, 10.0)
    assert format_metric(m) == "time=0.000157s;;;0;10"


def test_trailing_empty_fields_dropped_and_thresholds_as_ranges():
    assert format_metric(Metric("size", 612, "B", None, None, 0)) == "size=612B;;;0"
    assert format_metric(Metric("x", 1)) == "x=1"
    m = Metric("days_left", 20.5, "", "30:", "7:")
    assert format_metric(m) == "days_left=20.5;30:;7:"
    assert format_metric(Metric("t", 1, "s", parse_range("@1:2"), parse_range("~:5"))) == "t=1s;@1:2;~:5"


@pytest.mark.parametrize(
    "label, written",
    [("time", "time"), ("a b", "'a b'"), ("it's", "'it''s'"), ("a=b", "a_b"), ("a|b", "a_b")],
)
def test_labels(label, written):
    assert format_metric(Metric(label, 1)) == f"{written}=1"


def test_numbers_have_no_exponent():
    assert format_number(1e-7) == "0"
    assert format_number(0.0000015) == "0.000002" or format_number(0.0000015) == "0.000001"
    assert format_number(12345678.9) == "12345678.9"
    assert format_number(-0.0) == "0"
    assert "e" not in format_number(1e20)


def test_unknown_unit_refused():
    with pytest.raises(ValueError):
        Metric("x", 1, "parsecs")


labels = st.text(alphabet=st.characters(blacklist_characters="=|\r\n", blacklist_categories=("Cs",)),
                 min_size=1, max_size=20).filter(lambda s: s.strip())
values = st.one_of(st.integers(-10**9, 10**9),
                   st.floats(-1e9, 1e9, allow_nan=False).map(lambda f: round(f, 6)))
bounds = st.one_of(st.none(), st.integers(-1000, 1000))
thresholds = st.one_of(st.none(), st.sampled_from(["10", "10:", "~:10", "10:20", "@10:20", "0.5"]))


@given(st.lists(st.tuples(labels, values, st.sampled_from(UNITS), thresholds, thresholds, bounds, bounds),
                min_size=1, max_size=5))
def test_round_trip(rows):
    metrics = [Metric(*row) for row in rows]
    parsed = parse_perfdata(format_perfdata(metrics))
    assert len(parsed) == len(metrics)
    for got, want in zip(parsed, metrics):
        assert got.label == want.label
        assert float(got.value) == pytest.approx(float(format_number(want.value)))
        assert got.unit == want.unit
        assert (got.warn, got.crit) == (want.warn, want.crit)
        assert (got.min, got.max) == (want.min, want.max)
