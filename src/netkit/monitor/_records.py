"""The plain records the monitor's parts hand each other: runner -> store -> alerts -> web.

Nothing here does I/O. Every record is frozen and made of plain data (str, float, int,
dict/tuple of those), so the store can write it as columns or JSON and read it back.

The flow, per check run::

    runner: CheckResult -> Sample (stored) + Result -> advance() -> TargetState (per location)
    decider (one monitor at a time, the leader): the TargetStates of every location of a target
            -> Verdict (quorum) -> on a change, VerdictChange -> Alert rows in the outbox
    dispatcher: due Alert rows -> the channel -> delivered, or retried with back-off

A target's *id* is its name in the config (unique); *location* is the monitor's
``location`` setting ("default" when there is one monitor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Alert", "Sample", "StoredEvent", "TargetInfo", "Verdict", "VerdictChange"]


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """What the store and the web side know of a configured target (no secrets: ``url`` is
    masked with :func:`netkit.core.secrets.mask_url`)."""

    id: str
    url: str
    group: str = ""
    labels: tuple = ()          # sorted (name, value) pairs
    interval: float = 60.0
    locations: tuple = ()       # empty: every location checks it
    quorum: int = 1             # locations that must agree on a problem before it is hard


@dataclass(frozen=True, slots=True)
class Sample:
    """One check run as stored: the raw history rollups and uptime come from."""

    target: str
    location: str
    at: float                   # when the run started (time.time())
    duration: float             # seconds the run took
    status: int                 # 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    summary: str = ""           # the Nagios line's text, for people
    details: dict | None = None     # CheckResult.details (HTTP status, TLS days_left...)
    dialogue: tuple | None = None   # the masked transcript; kept for non-OK results only
    cert_expiry: float | None = None   # epoch seconds of the earliest certificate's notAfter


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A state event (``_state``'s SoftChange, HardChange, FlappingStarted..., or a
    VerdictChange) as one history row: ``kind`` is the class name, ``data`` its fields."""

    target: str
    location: str
    at: float
    kind: str
    data: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A target's state across locations: what alerts are about.

    ``status`` is the worst status at least ``quorum`` locations hold as their hard status
    (OK when none does); ``locations`` maps each location to its hard status.
    """

    target: str
    status: int = 0
    since: float | None = None
    locations: tuple = ()       # sorted (location, hard status) pairs
    flapping: bool = False
    acked: bool = False


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """A verdict's status changed: alert unless ``suppressed`` names a reason
    ("maintenance", "flapping", "acknowledged")."""

    target: str
    at: float
    old: int
    new: int
    summary: str = ""
    suppressed: tuple = ()
    locations: tuple = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for one channel in the persistent outbox.

    ``key`` makes enqueueing idempotent: ``"<target>|<change at>|<channel>|<kind>"``; a
    second enqueue of the same key is a no-op, so a decider that crashes after writing and
    runs again never sends a transition twice.
    """

    key: str
    channel: str
    target: str
    kind: str                   # "problem", "recovery" or "reminder"
    payload: dict               # the message's data (JSON-able)
    created: float
    next_at: float              # when to (re)try
    attempts: int = 0
    last_error: str = ""
    delivered: float | None = None
