"""Pictures for the dashboard as small server-side SVG: no script draws them, a page with
10,000 sparklines stays light, and every word in them is escaped.

Each function returns :class:`markupsafe.Markup` (jinja2 inserts it as is). Colours come
from CSS classes (``ok``, ``warn``, ``crit``, ``none``) in the dashboard's stylesheet,
never from ``style`` attributes (the pages' CSP forbids inline style); coordinates are
rounded to tenths.

* :func:`sparkline` -- response time as block characters (the overview's rows: text, see
  there why).
* :func:`chart` -- response time over a range: average and p95 lines, max as a faint line,
  the y axis' top value and the range's ends as text.
* :func:`timeline` -- one bar per bucket coloured by its failures (a state timeline).
* :func:`uptime_bars` -- one bar per day coloured by its uptime (the status page).
"""

from __future__ import annotations

import time

from markupsafe import Markup, escape

__all__ = ["bucket_class", "chart", "sparkline", "timeline", "uptime_bars"]

# A bucket with less than this fraction of OK runs is "crit" (red); below 1 it is "warn".
CRIT_BELOW = 0.9
# Points drawn at most on a chart line: more than the chart's pixels wide is wasted bytes;
# longer series are thinned to this by taking the worst (max) of each run of points.
MAX_CHART_POINTS = 720


def _n(value: float) -> str:
    """A coordinate, short: whole numbers without the ``.0``."""
    value = round(value, 1)
    return str(int(value)) if value == int(value) else str(value)


def sparkline(values) -> Markup:
    """``values`` (seconds; None: no runs) as a line of block characters, each scaled to
    the largest (``▁`` to ``█``, a space for a gap): ~75 bytes of text for 24 points.

    Text, not an inline ``<svg>``: measured in chromium with 10,000 rows, inline SVG
    sparklines took the page from 0.7 s to 1.7 s complete (each is an SVG document fragment
    to build and lay out); text is one node per row and renders with the row's font."""
    points = [v for v in values if v is not None]
    if not points:
        return Markup("")
    top = max(points) or 1.0
    return Markup("".join(" " if v is None else _BLOCKS[min(int(v / top * len(_BLOCKS)), len(_BLOCKS) - 1)]
                          for v in values))


_BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def bucket_class(count: int, failures: int) -> str:
    """The CSS class of a bucket of ``count`` runs with ``failures`` not OK."""
    if not count:
        return "none"
    ok = (count - failures) / count
    return "ok" if ok >= 1 else "warn" if ok >= CRIT_BELOW else "crit"


def _thin(points: list, limit: int) -> list:
    """At most ``limit`` points: runs of points merged, keeping each run's worst value."""
    if len(points) <= limit:
        return points
    size = -(-len(points) // limit)
    out = []
    for start in range(0, len(points), size):
        run = points[start:start + size]
        out.append((run[0][0], *(max((p[k] for p in run if p[k] is not None), default=None)
                                 for k in range(1, len(run[0])))))
    return out


def _when(at: float, span: float) -> str:
    fmt = "%H:%M UTC" if span <= 7200 else "%b %d %H:%M UTC" if span <= 2 * 86400 else "%b %d"
    return time.strftime(fmt, time.gmtime(at))


def chart(points, since: float, until: float, width: int = 720, height: int = 160) -> Markup:
    """Response time over [since, until): ``points`` are (at, avg, p95, max) in seconds,
    oldest first (None where unknown). Lines for avg (``avg``) and p95 (``p95``), max faint."""
    span = max(until - since, 1.0)
    pad_l, pad_b, pad_t = 44, 16, 6
    plot_w, plot_h = width - pad_l, height - pad_b - pad_t
    points = _thin([p for p in points if since <= p[0] < until], MAX_CHART_POINTS)
    values = [v for p in points for v in p[1:] if v is not None]
    top = max(values) if values else 0.0
    top = top * 1.1 or 1.0
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="response time">',
             f'<line class="axis" x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width}" y2="{pad_t + plot_h}"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 8}" class="lab end">{escape(_ms(top))}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" class="lab end">0</text>',
             f'<text x="{pad_l}" y="{height - 2}" class="lab">{escape(_when(since, span))}</text>',
             f'<text x="{width}" y="{height - 2}" class="lab end">{escape(_when(until, span))}</text>']
    for index, name in ((3, "max"), (2, "p95"), (1, "avg")):
        coords = " ".join(f"{_n(pad_l + (p[0] - since) / span * plot_w)},{_n(pad_t + plot_h - p[index] / top * plot_h)}"
                          for p in points if p[index] is not None)
        if coords:
            parts.append(f'<polyline class="{name}" points="{coords}"/>')
    if not values:
        parts.append(f'<text x="{pad_l + plot_w / 2:.0f}" y="{pad_t + plot_h / 2:.0f}" class="lab mid">'
                     f'no runs in this range</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.0f} s"


def timeline(buckets, since: float, until: float, step: float, width: int = 720, height: int = 18) -> Markup:
    """A bar per bucket of ``buckets`` ((at, count, failures), oldest first) over [since,
    until), coloured by :func:`bucket_class`, each with a tooltip saying its failures."""
    span = max(until - since, 1.0)
    wide = max(step / span * width, 0.5)
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="state timeline">', f'<rect class="none" x="0" y="0" width="{width}" height="{height}"/>']
    for at, count, failures in buckets:
        if not since <= at < until:
            continue
        x = (at - since) / span * width
        tip = f"{_when(at, span)}: {failures} of {count} runs not OK"
        parts.append(f'<rect class="{bucket_class(count, failures)}" x="{_n(x)}" y="0" width="{_n(wide)}" '
                     f'height="{height}"><title>{escape(tip)}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


def uptime_bars(days, width: int = 450, height: int = 24, gap: int = 1) -> Markup:
    """One bar per day of ``days`` ((day start, fraction of OK runs or None: no data),
    oldest first), as status pages draw them, with each day's uptime as its tooltip."""
    days = list(days)
    n = max(len(days), 1)
    wide = max(width / n - gap, 1)
    parts = [f'<svg class="bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="uptime per day">']
    for i, (at, up) in enumerate(days):
        day = time.strftime("%Y-%m-%d", time.gmtime(at))
        tip = f"{day}: {up * 100:.2f}% up" if up is not None else f"{day}: no data"
        cls = "none" if up is None else "ok" if up >= 1 else "warn" if up >= CRIT_BELOW else "crit"
        parts.append(f'<rect class="{cls}" x="{_n(i * width / n)}" y="0" '
                     f'width="{_n(wide)}" height="{height}"><title>{escape(tip)}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))
