"""Maintenance windows: when a target's alerts are suppressed, as pure logic on a given time.

Times are seconds since the epoch (``time.time()``), passed in; nothing here reads a clock.
Two kinds of window, and a set of them:

- :class:`OneOff` -- from ``start`` to ``end`` (aware datetimes or epoch seconds).
- :class:`Recurring` -- a start time in an IANA time zone, given as cron's five fields
  (``Recurring.cron("30 2 * * 0", 7200, "Europe/Paris")``) or as weekdays and a time
  (``Recurring.weekly(["sat", "sun"], "02:30", 7200, "Europe/Paris")``), lasting ``duration``
  seconds.
- :class:`Maintenance` -- any number of windows: :meth:`~Maintenance.active` and
  :meth:`~Maintenance.next_change` (when ``active`` next flips; overlapping and adjoining
  windows count as one stretch).

Local time and daylight saving time (PEP 495, ``fold=0``):

- A start that does not exist (02:30 on a spring-forward night, when clocks jump from 02:00
  to 03:00) begins at the instant it would have been had the clock not jumped: 03:30 new
  time. The window is not skipped.
- A start that happens twice (01:30 on a fall-back night) begins at the first of the two.
  The window happens once.
- ``duration`` is elapsed time: a two-hour window is two hours long even across a change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from netkit.core.errors import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo

__all__ = ["Maintenance", "OneOff", "Recurring", "MAX_DURATION", "window_from_table"]

# A recurring window longer than a week would overlap its own next week's occurrence for
# a weekly schedule, and would be a week-long blind spot; use a one-off window for that.
MAX_DURATION = 7 * 86400.0
# How far ahead the next start of a recurring window is looked for: four years and a day
# finds even "29 February" (``0 0 29 2 *``); a schedule that never matches (``0 0 31 2 *``)
# ends the search there and has no next start.
MAX_LOOKAHEAD_DAYS = 4 * 366 + 1
# Overlapping windows are merged by hopping from one end to the next; this many hops is
# far beyond any real set, and bounds the work if the set chains without end.
MAX_MERGE_STEPS = 1000

_DAY_NAMES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
                ("day of week", 0, 7))


def _zone(name: str):
    from zoneinfo import ZoneInfo

    try:
        if not isinstance(name, str) or not name:
            raise ValueError
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):   # ZoneInfoNotFoundError is a KeyError
        raise UsageError(f"unknown time zone {name!r}: expects an IANA name such as Europe/Paris or UTC") from None


def _instant(value, field: str) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise UsageError(f"{field} {value.isoformat()} has no time zone: write it with an offset "
                             "(2026-12-24T08:00:00+01:00) or Z")
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{field} must be a date and time with a time zone, got {value!r}")
    return float(value)


def _duration(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_DURATION:
        raise UsageError(f"a maintenance window's duration must be seconds greater than 0 and at most "
                         f"{MAX_DURATION:g} (a week), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class OneOff:
    start: float
    end: float

    def __post_init__(self):
        start, end = _instant(self.start, "start"), _instant(self.end, "end")
        if end <= start:
            raise UsageError("a maintenance window must end after it starts")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def intervals(self, since: float, until: float):
        if self.end > since and self.start < until:
            yield self.start, self.end

    def next_start(self, after: float) -> float | None:
        return self.start if self.start > after else None

    def active(self, now: float) -> bool:
        return Maintenance((self,)).active(now)

    def next_change(self, now: float) -> float | None:
        return Maintenance((self,)).next_change(now)


def _cron_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if body == "*":
                first, last = low, high
            elif "-" in body:
                a, b = body.split("-", 1)
                first, last = int(a), int(b)
            else:
                first = last = int(body)
                if step_text:
                    last = high
        except ValueError:
            raise UsageError(f"cron {name} {text!r}: expects numbers, ranges (1-5), steps (*/15) or "
                             "lists (1,15)") from None
        if not (part.isascii() and low <= first <= last <= high and step >= 1):
            raise UsageError(f"cron {name} {text!r}: values go from {low} to {high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Recurring:
    """A window starting at every local time a cron schedule names, lasting ``duration``."""

    schedule: str       # cron's five fields: minute hour day-of-month month day-of-week
    duration: float
    timezone: str = "UTC"
    # What the schedule compiles to, set by __post_init__ (not arguments, not compared).
    _tz: tzinfo = field(init=False, repr=False, compare=False)
    _minutes: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _hours: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _doms: frozenset[int] = field(init=False, repr=False, compare=False)
    _months: frozenset[int] = field(init=False, repr=False, compare=False)
    _dows: frozenset[int] = field(init=False, repr=False, compare=False)
    _either: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "duration", _duration(self.duration))
        object.__setattr__(self, "_tz", _zone(self.timezone))
        fields = self.schedule.split() if isinstance(self.schedule, str) else []
        if len(fields) != 5:
            raise UsageError(f"cron schedule {self.schedule!r}: expects five fields, minute hour "
                             "day-of-month month day-of-week, such as '30 2 * * 0'")
        sets = [_cron_field(text, *spec) for text, spec in zip(fields, _CRON_FIELDS)]
        dows = frozenset(d % 7 for d in sets[4])          # 0 and 7 are both Sunday
        object.__setattr__(self, "_minutes", tuple(sorted(sets[0])))
        object.__setattr__(self, "_hours", tuple(sorted(sets[1])))
        object.__setattr__(self, "_doms", sets[2])
        object.__setattr__(self, "_months", sets[3])
        object.__setattr__(self, "_dows", dows)
        # Vixie cron: when both day fields are restricted, a day matching either one runs.
        object.__setattr__(self, "_either", fields[2] != "*" and fields[4] != "*")

    @classmethod
    def cron(cls, schedule: str, duration: float, timezone: str = "UTC") -> Recurring:
        return cls(schedule, duration, timezone)

    @classmethod
    def weekly(cls, days, at: str, duration: float, timezone: str = "UTC") -> Recurring:
        """On ``days`` (``"mon"``..``"sun"``) at ``at`` (``"HH:MM"``) local time."""
        if isinstance(days, str):
            days = [days]
        try:
            numbers = sorted({(_DAY_NAMES[str(d).strip().lower()[:3]] + 1) % 7 for d in days})
        except KeyError:
            raise UsageError(f"days {list(days)!r}: expects names such as mon, tue, sat, sun") from None
        hour, _, minute = str(at).partition(":")
        if not (numbers and hour.isdigit() and minute.isdigit() and hour.isascii() and minute.isascii()
                and int(hour) < 24 and int(minute) < 60):
            raise UsageError(f"a weekly window needs days and a time HH:MM such as 02:30, got {days!r} {at!r}")
        return cls(f"{int(minute)} {int(hour)} * * {','.join(map(str, numbers))}", duration, timezone)

    def _day_matches(self, day: date) -> bool:
        if day.month not in self._months:
            return False
        dom = day.day in self._doms
        dow = (day.weekday() + 1) % 7 in self._dows
        return (dom or dow) if self._either else (dom and dow)

    def _starts_on(self, day: date):
        if self._day_matches(day):
            for hour in self._hours:
                for minute in self._minutes:
                    # fold=0: a time skipped by a spring-forward starts as if the clock had
                    # not jumped; a time that happens twice starts at its first occurrence.
                    yield datetime.combine(day, time(hour, minute), tzinfo=self._tz).timestamp()

    def _local_date(self, t: float) -> date:
        return datetime.fromtimestamp(t, self._tz).date()

    def intervals(self, since: float, until: float):
        day = self._local_date(since - self.duration) - timedelta(days=1)
        last = self._local_date(until) + timedelta(days=1)
        while day <= last:
            for start in self._starts_on(day):
                if start + self.duration > since and start < until:
                    yield start, start + self.duration
            day += timedelta(days=1)

    def next_start(self, after: float) -> float | None:
        day = self._local_date(after) - timedelta(days=1)
        for _ in range(MAX_LOOKAHEAD_DAYS + 2):
            for start in self._starts_on(day):
                if start > after:
                    return start
            day += timedelta(days=1)
        return None

    def active(self, now: float) -> bool:
        return Maintenance((self,)).active(now)

    def next_change(self, now: float) -> float | None:
        return Maintenance((self,)).next_change(now)


@dataclass(frozen=True)
class Maintenance:
    """A target's maintenance windows together: suppressed while any one is active."""

    windows: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "windows", tuple(self.windows))

    def _ends_covering(self, t: float) -> list[float]:
        return [end for w in self.windows for start, end in w.intervals(t, t + 1e-6) if start <= t < end]

    def active(self, now: float) -> bool:
        return bool(self._ends_covering(now))

    def next_change(self, now: float) -> float | None:
        """When :meth:`active` next changes: the end of the stretch of windows covering
        ``now``, else the next start; None if neither will ever come."""
        ends = self._ends_covering(now)
        if not ends:
            starts = [s for w in self.windows if (s := w.next_start(now)) is not None]
            return min(starts) if starts else None
        t = max(ends)
        for _ in range(MAX_MERGE_STEPS):
            ends = self._ends_covering(t)
            if not ends:
                return t
            t = max(ends)
        return t   # still covered after that many windows: ask again then


# -- from a config table --------------------------------------------------------------------

_KEYS = ({"start", "end", "timezone"}, {"days", "at", "duration", "timezone"},
         {"cron", "duration", "timezone"})
_FORMS = ("start/end, days/at/duration or cron/duration (each with an optional timezone)")


def _parse_duration(value) -> float:
    """Seconds from a TOML number or ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"``."""
    if isinstance(value, str):
        from netkit.monitor._fields import unit_seconds

        seconds = unit_seconds(value)
        if seconds is None:
            raise UsageError(f"duration {value!r}: expects seconds or a number with s, m, h or d (2h)")
        value = seconds
    return _duration(value)


def _parse_instant(value, zone_name):
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"{value!r}: expects a date and time such as 2026-12-24T08:00:00+01:00") from None
    if isinstance(value, datetime) and value.tzinfo is None and zone_name is not None:
        value = value.replace(tzinfo=_zone(zone_name))
    return value


def window_from_table(table: dict, default_timezone: str = "UTC") -> OneOff | Recurring:
    """One maintenance window from its config table, in one of three forms::

        {start = 2026-12-24T08:00:00+01:00, end = 2026-12-24T10:00:00+01:00}
        {days = ["sat", "sun"], at = "02:30", duration = "2h", timezone = "Europe/Paris"}
        {cron = "30 2 * * 0", duration = 7200, timezone = "Europe/Paris"}
    """
    if not isinstance(table, dict):
        raise UsageError(f"a maintenance window is a table with {_FORMS}")
    keys = set(table)
    form = next((i for i, allowed in enumerate(_KEYS) if keys <= allowed and keys - {"timezone"}
                 and ({"start", "days", "cron"} & keys)), None)
    if form is None:
        raise UsageError(f"a maintenance window with keys {sorted(map(str, keys))}: expects {_FORMS}")
    zone = table.get("timezone", default_timezone)
    if form == 0:
        if "end" not in table:
            raise UsageError("a one-off maintenance window needs both start and end")
        return OneOff(_parse_instant(table["start"], zone), _parse_instant(table["end"], zone))
    if "duration" not in table:
        raise UsageError("a recurring maintenance window needs a duration (such as 2h)")
    if form == 1:
        if "at" not in table:
            raise UsageError("a weekly maintenance window needs at = \"HH:MM\"")
        return Recurring.weekly(table["days"], table["at"], _parse_duration(table["duration"]), zone)
    return Recurring.cron(table["cron"], _parse_duration(table["duration"]), zone)
