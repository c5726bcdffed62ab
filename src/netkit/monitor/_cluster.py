"""A target's verdict across locations: the quorum rule, as one pure function.

Each monitor keeps its own :class:`~netkit.monitor._state.TargetState` per target (soft/hard,
flapping) for its ``location`` and writes it to the shared store. One monitor at a time, the
leader (``store.try_lead()``: always the only one on SQLite, a PostgreSQL advisory lock
otherwise), reads every location's state of a target and decides its :class:`Verdict`;
alerts are about verdict changes only, so three monitors watching one target send one alert.

The rule (``quorum`` q of a target, "alert when 2 of 3 locations agree"):

- Only *live* locations count: those whose last result is younger than
  :data:`STALE_INTERVALS` intervals (plus the check's timeout). A location whose monitor died
  neither holds a target down nor keeps it up.
- The verdict is the most severe status that at least q live locations hold as their hard
  status, counting a location as agreeing with every status at most as severe as its own
  (CRITICAL > WARNING > UNKNOWN > OK, as :func:`netkit.core.status.worst` ranks them): two
  CRITICAL and one WARNING of three, q=2, is CRITICAL; one CRITICAL and one WARNING, q=2, is
  WARNING. OK when no problem has a quorum.
- Fewer live locations than q: q becomes the number of live ones (a problem seen by every
  monitor still alive is a problem); none live: the verdict stays as it was.
- With one location and q=1 (one monitor, the default) the verdict is that location's hard
  status, changing exactly when it does.

Suppression, as the per-location rules have it: ``maintenance`` (the target's window is
open), ``flapping`` (any live location flapping), ``acknowledged`` (an active ack and the new
status is a problem). A suppressed change is recorded, never alerted.
"""

from __future__ import annotations

from netkit.core.status import Status, severity
from netkit.monitor._records import Verdict, VerdictChange
from netkit.monitor._state import TargetState

__all__ = ["STALE_INTERVALS", "decide", "live_states"]

# A location is live while its last result is younger than this many intervals: one missed
# run (a restart, a slow store) is not death; three are.
STALE_INTERVALS = 3


def live_states(states: dict[str, TargetState], interval: float, timeout: float, now: float,
                locations: tuple = ()) -> dict[str, TargetState]:
    """The states of the locations that count: listed (when ``locations`` names some) and live."""
    horizon = now - STALE_INTERVALS * interval - timeout
    return {loc: st for loc, st in states.items()
            if (not locations or loc in locations) and st.last_result is not None and st.last_result >= horizon}


def _quorum_status(hard: list[int], quorum: int) -> int:
    """The most severe status at least ``quorum`` of ``hard`` are at least as severe as."""
    quorum = max(1, min(quorum, len(hard)))
    ranked = sorted(hard, key=severity, reverse=True)
    return int(ranked[quorum - 1])


def decide(prev: Verdict | None, target: str, states: dict[str, TargetState], *, quorum: int,
           interval: float, timeout: float, now: float, locations: tuple = (),
           maintenance: bool = False, acked: bool = False,
           summary: str = "") -> tuple[Verdict, VerdictChange | None]:
    """The verdict of ``target`` from its per-location ``states``, and the change it makes
    (None when the status is unchanged)."""
    prev = prev or Verdict(target)
    live = live_states(states, interval, timeout, now, locations)
    if not live:
        return prev, None
    per_location = tuple(sorted((loc, int(st.hard_status)) for loc, st in live.items()))
    status = _quorum_status([s for _, s in per_location], quorum)
    flapping = any(st.flapping for st in live.values())
    if status == prev.status:
        verdict = Verdict(target, prev.status, prev.since, per_location, flapping, acked)
        return verdict, None
    # The change happened when the location that tipped it got its hard status.
    at = max((st.since or now) for st in live.values())
    suppressed = tuple(reason for reason, on in (("maintenance", maintenance), ("flapping", flapping),
                                                  ("acknowledged", acked and status != 0)) if on)
    if not summary:
        agree = sum(1 for _, s in per_location if severity(s) >= severity(status))
        summary = f"{agree} of {len(per_location)} locations report {Status(status).label}"
    verdict = Verdict(target, status, at, per_location, flapping, acked and status != 0)
    return verdict, VerdictChange(target, at, prev.status, status, summary, suppressed, per_location)
