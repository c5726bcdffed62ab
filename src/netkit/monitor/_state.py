"""What a target's results mean: Nagios states, as pure data and one pure function.

Everything about state lives in this module. A :class:`Result` goes in, a new
:class:`TargetState` and a tuple of events come out (:func:`advance`); nothing here does I/O,
reads a clock or keeps anything between calls. The runner keeps one ``TargetState`` per
target, the store saves it (every field is plain data), alerting acts on the events.

The rules are Nagios' (and Naemon's), with Gatus' recovery hysteresis:

- **Statuses** are the plugin statuses of :mod:`netkit.core.status`; WARNING, CRITICAL and
  UNKNOWN are all problems.
- **Soft and hard.** The *hard* status is what alerts are about. From a hard OK, a problem
  becomes hard after ``failure_threshold`` problem results in a row (Nagios'
  ``max_check_attempts``); before that the target is in a *soft* problem state, and an OK
  result there is a soft recovery that alerts nobody. From a hard problem, recovery needs
  ``success_threshold`` OK results in a row (Gatus' ``success-threshold``); a problem result
  in between starts the count again. A hard problem that changes into another problem
  (WARNING to CRITICAL) is a hard change at once, as in Nagios.
- **Flapping** is Nagios' percent state change: the last :data:`FLAP_HISTORY` recorded
  statuses, each change between neighbours weighted from :data:`FLAP_WEIGHT_OLDEST` (the
  oldest possible change) to :data:`FLAP_WEIGHT_NEWEST` (the newest), as a percentage of the
  20 changes possible. Soft problem results are not recorded (Nagios records hard states and
  soft recoveries only). At or above the high threshold a target starts flapping; at or
  below the low one it stops; in between nothing changes.
- **Acknowledgement** silences a hard problem's alerts until the next hard change (or, when
  ``sticky``, until it recovers). It is an event too, so the store keeps its history.
- **Suppression.** A :class:`HardChange` always comes out; ``suppressed`` names why it must
  not alert (``"flapping"``, ``"maintenance"``, ``"acknowledged"``). Results and states are
  kept the same either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from netkit.core.errors import UsageError
from netkit.core.status import CRITICAL, OK, UNKNOWN, WARNING, Status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "Ack",
    "AckCleared",
    "Acknowledged",
    "FlappingStarted",
    "FlappingStopped",
    "HardChange",
    "Policy",
    "Result",
    "SoftChange",
    "TargetState",
    "Transition",
    "acknowledge",
    "advance",
    "percent_state_change",
    "should_alert",
    "unacknowledge",
]

_STATUSES = (OK, WARNING, CRITICAL, UNKNOWN)

# Nagios keeps the last 21 states (MAX_STATE_HISTORY_ENTRIES): at most 20 changes.
FLAP_HISTORY = 21
# The weight of the oldest and of the newest possible change, as Nagios' and Naemon's
# flapping.c compute it (low_curve_value, high_curve_value), linear in between. Their
# documentation says "50% more weight" (0.8 to 1.2); the code, which is what every Nagios
# and Naemon in service runs, says 0.75 to 1.25. We follow the code.
FLAP_WEIGHT_OLDEST = 0.75
FLAP_WEIGHT_NEWEST = 1.25
# Nagios' compiled-in service flap thresholds (DEFAULT_LOW/HIGH_SERVICE_FLAP_THRESHOLD).
DEFAULT_LOW_FLAP_THRESHOLD = 20.0
DEFAULT_HIGH_FLAP_THRESHOLD = 30.0
# Gatus' defaults: three failures in a row before an alert, two successes before "resolved".
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 2
# More attempts than this at any interval means a problem is known hours after it began.
MAX_THRESHOLD = 100
# An acknowledgement's author and comment are shown in alerts and the dashboard.
MAX_ACK_TEXT = 1024

SOFT = "soft"
HARD = "hard"


def _status(value, field: str) -> Status:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
        raise UsageError(f"{field} must be a status 0-3 (OK, WARNING, CRITICAL, UNKNOWN), got {value!r}")
    return _STATUSES[value]


def _time(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{field} must be a time in seconds, got {value!r}")
    return float(value)


def _count(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_THRESHOLD:
        raise UsageError(f"{field} must be a whole number from 1 to {MAX_THRESHOLD}, got {value!r}")
    return value


def _percent(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise UsageError(f"{field} must be a percentage from 0 to 100, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Policy:
    """How a target's results become states (per target; groups set defaults)."""

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    success_threshold: int = DEFAULT_SUCCESS_THRESHOLD
    flap_detection: bool = True
    low_flap_threshold: float = DEFAULT_LOW_FLAP_THRESHOLD
    high_flap_threshold: float = DEFAULT_HIGH_FLAP_THRESHOLD

    def __post_init__(self):
        _count(self.failure_threshold, "failure-threshold")
        _count(self.success_threshold, "success-threshold")
        low = _percent(self.low_flap_threshold, "low-flap-threshold")
        high = _percent(self.high_flap_threshold, "high-flap-threshold")
        if low >= high:
            raise UsageError(f"low-flap-threshold ({low:g}) must be below high-flap-threshold ({high:g})")
        if not isinstance(self.flap_detection, bool):
            raise UsageError(f"flap-detection must be true or false, got {self.flap_detection!r}")


@dataclass(frozen=True)
class Result:
    """One check's outcome, as the state machine needs it."""

    target: str
    status: Status
    at: float
    summary: str = ""

    def __post_init__(self):
        object.__setattr__(self, "status", _status(self.status, "status"))
        object.__setattr__(self, "at", _time(self.at, "result time"))


@dataclass(frozen=True)
class Ack:
    at: float
    author: str
    comment: str
    sticky: bool = False   # kept through changes between problems, until the target recovers


@dataclass(frozen=True)
class TargetState:
    """Everything remembered about one target between results."""

    target: str
    status: Status = OK            # the last result's
    hard_status: Status = OK       # what alerts are about
    attempt: int = 0               # results in a row pointing away from the hard status
    since: float | None = None     # when the hard status last changed
    last_result: float | None = None
    flapping: bool = False
    percent_change: float = 0.0
    history: tuple = (OK,) * FLAP_HISTORY   # recorded statuses, oldest first
    ack: Ack | None = None

    def __post_init__(self):
        if len(self.history) != FLAP_HISTORY:
            raise UsageError(f"a state history holds {FLAP_HISTORY} statuses, got {len(self.history)}")

    @property
    def state_type(self) -> str:
        """``"soft"`` while the last result disagrees with the hard status, else ``"hard"``."""
        return SOFT if self.status != self.hard_status else HARD

    def to_dict(self) -> dict:
        """Plain JSON-able data for the store; :meth:`from_dict` reads it back."""
        ack = self.ack
        return {
            "target": self.target, "status": int(self.status), "hard_status": int(self.hard_status),
            "attempt": self.attempt, "since": self.since, "last_result": self.last_result,
            "flapping": self.flapping, "percent_change": self.percent_change,
            "history": [int(s) for s in self.history],
            "ack": None if ack is None else {"at": ack.at, "author": ack.author, "comment": ack.comment,
                                             "sticky": ack.sticky},
        }

    @classmethod
    def from_dict(cls, data: dict) -> TargetState:
        """A state from :meth:`to_dict`'s form; UsageError naming the field if it is not one
        (a damaged store row is refused, not half-read)."""
        try:
            ack = data["ack"]
            optional = {k: None if data[k] is None else _time(data[k], k) for k in ("since", "last_result")}
            percent = _percent(data["percent_change"], "percent_change")
            if not isinstance(data["target"], str) or not isinstance(data["flapping"], bool):
                raise UsageError("a stored state's target must be text and flapping true or false")
            if isinstance(data["attempt"], bool) or not isinstance(data["attempt"], int) or not (
                    0 <= data["attempt"] <= MAX_THRESHOLD):
                raise UsageError(f"a stored state's attempt must be 0 to {MAX_THRESHOLD}")
            return cls(
                target=data["target"], status=_status(data["status"], "status"),
                hard_status=_status(data["hard_status"], "hard_status"), attempt=data["attempt"],
                flapping=data["flapping"], percent_change=percent,
                history=tuple(_status(s, "history") for s in data["history"]),
                ack=None if ack is None else Ack(_time(ack["at"], "ack time"), _text(ack["author"], "author"),
                                                 _text(ack["comment"], "comment"), bool(ack["sticky"])),
                **optional,
            )
        except (KeyError, TypeError) as exc:
            raise UsageError(f"a stored state lacks or misshapes {exc}") from None


# -- events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SoftChange:
    """The last result's status changed, the hard status did not (no alert)."""

    target: str
    at: float
    old: Status
    new: Status
    attempt: int     # results in a row toward a hard change (0: back to the hard status)
    threshold: int   # how many it takes


@dataclass(frozen=True)
class HardChange:
    """The hard status changed: what alerts fire on, unless ``suppressed`` names a reason."""

    target: str
    at: float
    old: Status
    new: Status
    attempt: int
    summary: str = ""
    suppressed: tuple = ()


@dataclass(frozen=True)
class FlappingStarted:
    target: str
    at: float
    percent: float
    threshold: float


@dataclass(frozen=True)
class FlappingStopped:
    target: str
    at: float
    percent: float
    threshold: float
    reason: str = "stable"   # or "disabled": flap detection was turned off


@dataclass(frozen=True)
class Acknowledged:
    target: str
    at: float
    status: Status
    ack: Ack


@dataclass(frozen=True)
class AckCleared:
    target: str
    at: float
    ack: Ack
    reason: str   # "changed", "recovered" or "removed"


@dataclass(frozen=True)
class Transition:
    state: TargetState
    events: tuple


def should_alert(event: object) -> bool:
    """True for the events alerting sends: hard changes nothing suppressed."""
    return isinstance(event, HardChange) and not event.suppressed


# -- the rules ---------------------------------------------------------------------------

def percent_state_change(history: Sequence[int]) -> float:
    """Nagios' weighted percent state change of ``history`` (oldest first, 21 statuses)."""
    if len(history) != FLAP_HISTORY:
        raise UsageError(f"a state history holds {FLAP_HISTORY} statuses, got {len(history)}")
    step = (FLAP_WEIGHT_NEWEST - FLAP_WEIGHT_OLDEST) / (FLAP_HISTORY - 2)
    changes = 0.0
    for x in range(1, FLAP_HISTORY):
        if history[x] != history[x - 1]:
            changes += FLAP_WEIGHT_OLDEST + (x - 1) * step
    return changes * 100.0 / (FLAP_HISTORY - 1)


def advance(state: TargetState, result: Result, policy: Policy = Policy(), *,
            maintenance: bool = False) -> Transition:
    """The state after ``result``, and what happened. ``maintenance`` says a maintenance
    window covers the target now: the state moves as ever, its hard changes are suppressed."""
    if result.target != state.target:
        raise UsageError(f"a result for {result.target!r} given to the state of {state.target!r}")
    s, hard, old = result.status, state.hard_status, state.status
    events: list[SoftChange | HardChange] = []
    new_hard, attempt = hard, 0
    if (hard == OK) == (s == OK):                  # the result agrees with the hard side
        if s != hard:                              # a hard problem turning into another one
            new_hard, attempt = s, 1
        elif old != s:                             # a soft excursion ends where it began
            events.append(SoftChange(state.target, result.at, old, s, 0, _threshold(hard, policy)))
    else:                                          # pointing away: count toward a hard change
        away_before = (old == OK) != (hard == OK)   # the previous result pointed away too
        attempt = state.attempt + 1 if away_before and (old == OK) == (s == OK) else 1
        if attempt >= _threshold(hard, policy):
            new_hard = s
        elif old != s:
            events.append(SoftChange(state.target, result.at, old, s, attempt, _threshold(hard, policy)))
    changed = new_hard != hard
    next_state = replace(state, status=s, hard_status=new_hard, attempt=0 if changed else attempt,
                         since=result.at if changed else state.since, last_result=result.at)

    # Flapping: Nagios records hard states and soft recoveries, not soft problems.
    flap_events = []
    if not (next_state.state_type == SOFT and s != OK):
        next_state, flap_events = _flap(next_state, s, policy, result.at)

    ack_events = []
    ack = next_state.ack
    if ack is not None and changed and (new_hard == OK or not ack.sticky):
        ack_events.append(AckCleared(state.target, result.at, ack, "recovered" if new_hard == OK else "changed"))
        next_state = replace(next_state, ack=None)
    if changed:
        suppressed = tuple(reason for reason, on in (("flapping", next_state.flapping),
                                                     ("maintenance", maintenance),
                                                     ("acknowledged", next_state.ack is not None)) if on)
        events.append(HardChange(state.target, result.at, hard, new_hard, attempt, result.summary, suppressed))
    return Transition(next_state, tuple(events + ack_events + flap_events))


def _threshold(hard: Status, policy: Policy) -> int:
    return policy.failure_threshold if hard == OK else policy.success_threshold


def _flap(state: TargetState, status: Status, policy: Policy, at: float):
    history = state.history[1:] + (status,)
    percent = percent_state_change(history)
    state = replace(state, history=history, percent_change=percent)
    low, high = policy.low_flap_threshold, policy.high_flap_threshold
    if not policy.flap_detection:
        if state.flapping:
            return replace(state, flapping=False), [FlappingStopped(state.target, at, percent, low, "disabled")]
        return state, []
    if percent >= high and not state.flapping:
        return replace(state, flapping=True), [FlappingStarted(state.target, at, percent, high)]
    if percent <= low and state.flapping:
        return replace(state, flapping=False), [FlappingStopped(state.target, at, percent, low)]
    return state, []


def _text(value, field: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_ACK_TEXT:
        raise UsageError(f"{field} must be text of at most {MAX_ACK_TEXT} characters")
    return value


def acknowledge(state: TargetState, at: float, author: str, comment: str = "", *,
                sticky: bool = False) -> Transition:
    """Silence a hard problem's alerts until its next hard change (``sticky``: until OK)."""
    if state.hard_status == OK:
        raise UsageError(f"{state.target} is OK: there is no problem to acknowledge")
    ack = Ack(_time(at, "acknowledgement time"), _text(author, "author"), _text(comment, "comment"), bool(sticky))
    return Transition(replace(state, ack=ack), (Acknowledged(state.target, ack.at, state.hard_status, ack),))


def unacknowledge(state: TargetState, at: float) -> Transition:
    """Remove an acknowledgement (no-op without one)."""
    if state.ack is None:
        return Transition(state, ())
    return Transition(replace(state, ack=None), (AckCleared(state.target, _time(at, "time"), state.ack, "removed"),))
