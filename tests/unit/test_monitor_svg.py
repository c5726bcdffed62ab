"""The dashboard's pictures: server-side SVG small, well-formed, scaled to the data,
colours by class (no style attribute a CSP would refuse); sparklines as block characters."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from netkit.monitor import _svg

NS = "{http://www.w3.org/2000/svg}"
DAY = 86400.0


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_sparkline_blocks_scaled_to_the_largest_with_gaps():
    assert str(_svg.sparkline([0.01, 0.02, None, 0.04, 0.0])) == "\u2583\u2585 \u2588\u2581", "8 levels: a quarter of the top is the third"


def test_sparkline_without_values_is_empty():
    assert str(_svg.sparkline([None, None])) == "" and str(_svg.sparkline([])) == ""


@pytest.mark.parametrize("count, failures, cls", [(0, 0, "none"), (10, 0, "ok"), (100, 5, "warn"), (10, 2, "crit"),
                                                  (10, 10, "crit")])
def test_bucket_classes(count, failures, cls):
    assert _svg.bucket_class(count, failures) == cls


def test_chart_lines_axes_and_thinning():
    since = 1_700_000_000.0
    points = [(since + i * 60, 0.01, 0.02 if i != 500 else 0.9, 0.03) for i in range(1440)]
    root = parse(_svg.chart(points, since, since + DAY))
    lines = {p.get("class"): p.get("points").split() for p in root.iter(f"{NS}polyline")}
    assert set(lines) == {"avg", "p95", "max"}
    assert len(lines["avg"]) == _svg.MAX_CHART_POINTS, "1440 points thinned to the chart's width"
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert labels[0] == "990 ms", "the top of the y axis: the worst p95 kept by the thinning, plus a margin"
    assert "UTC" in labels[2]


def test_chart_without_runs_says_so():
    root = parse(_svg.chart([], 0, 3600))
    assert "no runs in this range" in [t.text for t in root.iter(f"{NS}text")]


def test_timeline_and_bars_escape_and_place():
    since = 1_700_000_000.0 // DAY * DAY
    root = parse(_svg.timeline([(since, 10, 0), (since + 3600, 10, 3), (since - 3600, 1, 1)], since, since + DAY,
                               3600, width=240))
    rects = list(root.iter(f"{NS}rect"))
    assert [r.get("class") for r in rects] == ["none", "ok", "crit"], "the bucket before the range is left out"
    assert rects[2].get("x") == "10" and rects[2].get("width") == "10"
    assert rects[2].find(f"{NS}title").text.endswith("3 of 10 runs not OK")
    bars = parse(_svg.uptime_bars([(since, None), (since + DAY, 1 - 2 / 1440)], width=100))
    titles = [r.find(f"{NS}title").text for r in bars.iter(f"{NS}rect")]
    assert titles[0].endswith("no data") and titles[1].endswith("99.86% up")

