"""Prometheus' text exposition format (0.0.4), written directly, and the monitor's /metrics.

Why by hand: ``prometheus_client``'s registry builds one ``Sample`` tuple per series and
renders them one by one; for 10,000 targets x 5 series that is ~50,000 objects per scrape.
Here each target's label set is escaped once per config (a cache keyed by the config
object) and a series is one f-string, so a scrape of 10,000 targets renders in tens of
milliseconds (the figure is in ``_web``'s docstring).

The grammar followed (https://prometheus.io/docs/instrumenting/exposition_formats/):
metric and label names ``[a-zA-Z_][a-zA-Z0-9_]*`` (names starting ``__`` are Prometheus'
own); label values are any UTF-8 with ``\\``, ``"`` and newline escaped; HELP text with
``\\`` and newline escaped; numbers as Go writes them (``+Inf``, ``-Inf``, ``NaN``).
"""

from __future__ import annotations

import math
import re
import time

__all__ = ["CONTENT_TYPE", "Exposition", "controls", "label_name", "label_value", "number", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Labels every target series has; a config label of the same name gets a "label_" prefix
# (Prometheus refuses a series that names one label twice, the whole scrape with it).
RESERVED_LABELS = ("target", "group", "location")
_INVALID = re.compile(r"[^a-zA-Z0-9_]")


def label_name(name: str) -> str:
    """``name`` in Prometheus' label grammar: invalid characters become ``_``, a leading
    digit or ``__`` (reserved for Prometheus) gets a ``label_`` prefix."""
    clean = _INVALID.sub("_", name) or "_"
    if clean[0].isdigit() or clean.startswith("__") or clean in RESERVED_LABELS:
        clean = "label_" + clean
    return clean


def label_value(value) -> str:
    """A label value escaped for inside double quotes."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def number(value) -> str:
    """A sample value as Prometheus reads it (bool as 0/1; Go's spellings of inf and nan)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isfinite(value):
        return repr(value)
    return "NaN" if math.isnan(value) else "+Inf" if value > 0 else "-Inf"


def labels(pairs) -> str:
    """``{a="x",b="y"}`` from (name, value) pairs whose names are already valid; "" if none."""
    if not pairs:
        return ""
    return "{" + ",".join(f'{n}="{label_value(v)}"' for n, v in pairs) + "}"


class Exposition:
    """A text exposition built family by family: ``family(name, type, help)`` then its
    ``sample``s. Names are the caller's constants (not checked); label values are escaped."""

    __slots__ = ("_lines",)

    def __init__(self):
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help: str) -> None:
        self._lines.append(f"# HELP {name} {_help(help)}\n# TYPE {name} {kind}")

    def sample(self, name: str, value, pairs=()) -> None:
        self._lines.append(f"{name}{labels(pairs)} {number(value)}")

    def gauge(self, name: str, help: str, value, pairs=()) -> None:
        self.family(name, "gauge", help)
        self.sample(name, value, pairs)

    def extend(self, lines) -> None:
        """Lines already formatted (``name{labels} value``)."""
        self._lines.extend(lines)

    def text(self) -> str:
        return "\n".join(self._lines) + "\n" if self._lines else ""


# -- the monitor's /metrics --------------------------------------------------------------------

# (name, type, help, stats key) of the monitor's own series; a key missing from
# monitor.stats() leaves its series out (a runner that does not measure it yet).
_OWN = (
    ("netkit_monitor_checks_total", "counter", "Check runs finished since the monitor started", "checks_total"),
    ("netkit_monitor_missed_runs_total", "counter",
     "Scheduled runs skipped because their target was more than an interval late", "missed_total"),
    ("netkit_monitor_expired_runs_total", "counter", "Check runs stopped at their hard deadline", "expired_total"),
    ("netkit_monitor_checks_in_flight", "gauge", "Check runs in progress", "in_flight"),
    ("netkit_monitor_queue_length", "gauge", "Runs due but waiting for a free slot", "queue"),
    ("netkit_monitor_checks_per_second", "gauge", "Check runs finished per second, recently", "checks_per_second"),
    ("netkit_monitor_lateness_max_seconds", "gauge", "Largest scheduling lateness, recently", "lateness_max"),
    ("netkit_monitor_pending_results", "gauge", "Results waiting for the next store commit", "pending"),
    ("netkit_monitor_dropped_results_total", "counter",
     "Results dropped because the store fell too far behind", "dropped_total"),
    ("netkit_monitor_store_errors_total", "counter", "Store commits that failed", "store_errors_total"),
    ("netkit_monitor_leader", "gauge", "1 while this monitor decides verdicts and sends alerts", "leader"),
    ("netkit_monitor_store_commit_max_seconds", "gauge", "Slowest store commit, recently", "store_commit_max"),
)
# Summaries: (name, help, stats key prefix); quantiles from <prefix>_p50/_p99, and
# <prefix>_sum/_count.
_SUMMARIES = (
    ("netkit_monitor_lateness_seconds", "How late check runs started after their scheduled slot", "lateness"),
    ("netkit_monitor_store_commit_seconds", "How long one batched store commit took", "store_commit"),
)
_PER_TARGET_HELP = (
    ("netkit_target_up", "1 when the target's last check was OK or WARNING (it answered as expected)"),
    ("netkit_target_state", "The target's hard state here: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"),
    ("netkit_target_duration_seconds", "How long the target's last check took"),
    ("netkit_target_cert_expiry_timestamp_seconds", "When the earliest certificate the target showed expires"),
    ("netkit_target_last_change_timestamp_seconds", "When the target's hard state last changed"),
)


class _LabelCache:
    """Each configured target's escaped label set, rebuilt when the config object changes."""

    __slots__ = ("by_id", "config", "location")

    def __init__(self):
        self.config = None
        self.location = None
        self.by_id: dict[str, str] = {}

    def get(self, config, location: str) -> dict[str, str]:
        if config is not self.config or location != self.location:
            self.by_id = {t.id: _target_labels(t.info, location) for t in config.targets}
            self.config, self.location = config, location
        return self.by_id


def _target_labels(info, location: str) -> str:
    pairs = [("target", info.id), ("group", info.group), ("location", location)]
    seen = set(RESERVED_LABELS)
    for name, value in info.labels:
        name = label_name(name)
        if name not in seen:        # two config names that sanitize alike: the first wins
            seen.add(name)
            pairs.append((name, value))
    return labels(pairs)


def render_metrics(monitor, cache: _LabelCache) -> str:
    """The /metrics text: every configured target's series, then the monitor's own."""
    by_id = cache.get(monitor.config, monitor.location)
    states = monitor.states()
    samples = monitor.last_samples()
    out = Exposition()
    up, state, duration, expiry, change = ([] for _ in range(5))
    for tid, lab in by_id.items():
        sample = samples.get(tid)
        if sample is not None:
            up.append(f"netkit_target_up{lab} {1 if sample.status <= 1 else 0}")
            duration.append(f"netkit_target_duration_seconds{lab} {number(sample.duration)}")
            if sample.cert_expiry is not None:
                expiry.append(f"netkit_target_cert_expiry_timestamp_seconds{lab} {number(sample.cert_expiry)}")
        st = states.get(tid)
        if st is not None:
            state.append(f"netkit_target_state{lab} {int(st.hard_status)}")
            if st.since is not None:
                change.append(f"netkit_target_last_change_timestamp_seconds{lab} {number(st.since)}")
    for (name, help), lines in zip(_PER_TARGET_HELP, (up, state, duration, expiry, change)):
        out.family(name, "gauge", help)
        out.extend(lines)
    # Targets paused or in a maintenance window now (from the dashboard's actions; only those,
    # so 10,000 quiet targets cost nothing): an alert rule on netkit_target_up can say
    # "unless on(target) netkit_target_silenced == 1".
    now = time.time()
    paused, windowed = controls(monitor, now)
    quiet = paused | windowed
    windows = getattr(monitor.config, "maintenance", None) or {}
    quiet.update(tid for tid, window in windows.items() if window.active(now))
    silenced = [f"netkit_target_silenced{lab} 1" for tid, lab in by_id.items() if tid in quiet]
    out.family("netkit_target_silenced", "gauge", "1 while the target is paused or in a maintenance window")
    out.extend(silenced)
    out.gauge("netkit_monitor_targets", "Targets configured", len(by_id))
    stats = monitor.stats()
    for name, kind, help, key in _OWN:
        if stats.get(key) is not None:
            out.family(name, kind, help)
            out.sample(name, stats[key])
    for name, help, key in _SUMMARIES:
        if stats.get(f"{key}_count") is None:
            continue
        out.family(name, "summary", help)
        for q in ("0.5", "0.99"):
            value = stats.get(f"{key}_p{q[2:].ljust(2, '0')}")
            if value is not None:
                out.sample(name, value, (("quantile", q),))
        out.sample(f"{name}_sum", stats.get(f"{key}_sum", 0.0))
        out.sample(f"{name}_count", stats[f"{key}_count"])
    return out.text()


def controls(monitor, now: float) -> tuple[set, set]:
    """(ids paused, ids in a runtime maintenance window now): the dashboard's actions
    (``_actions``), as /metrics and the overview's marks show them."""
    paused = set(monitor.paused()) if hasattr(monitor, "paused") else set()
    windows = monitor.windows() if hasattr(monitor, "windows") else ()
    return paused, {w["target"] for w in windows if w["start"] <= now < w["end"]}
