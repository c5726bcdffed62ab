"""One timeout value with phases, taken by every feature that waits on a peer.

::

    Timeout(10)                        # the whole operation within 10 s
    Timeout(30, connect=3)             # 3 s to connect (and handshake), 30 s in all
    Timeout(connect=3, read=15)        # no overall bound; 3 s to connect, 15 s of silence

``connect`` bounds each connection attempt, its TLS or SSH handshake included; ``read``
bounds each wait for the peer's next bytes (a peer that trickles a byte every 14 s lives
on under ``read=15``: ``total`` is what bounds it); ``total`` bounds everything, redirects,
retries and logins included. A phase left at None is bounded only by ``total``; a phase
longer than ``total`` is cut to what remains of it.

Every public call that waits takes ``timeout: float | Timeout | None``: a number is
``Timeout(number)``, the whole operation, which is what ``--timeout`` means on the command
line (as Nagios plugins have it). The exception when one passes is
:class:`netkit.core.errors.TimedOut`, whose ``phase`` names which one.
"""

from __future__ import annotations

import math

from netkit.core.errors import UsageError
from netkit.core.text import MAX_SECONDS  # the longest any phase may be: a day (why: there)

__all__ = ["Timeout", "TimeoutLike", "seconds"]

_PHASES = ("total", "connect", "read")


class Timeout:
    """Seconds allowed for the whole operation and for its phases; None: no bound of its own.

    Immutable and hashable. (A plain class, not a dataclass: ``dataclasses`` costs
    milliseconds of import on the start-up path of ``netkit check``.)"""

    __slots__ = ("connect", "read", "total")
    total: float | None
    connect: float | None
    read: float | None

    def __init__(self, total: float | None = None, *, connect: float | None = None,
                 read: float | None = None) -> None:
        for phase, value in (("total", total), ("connect", connect), ("read", read)):
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                        or not 0 < value <= MAX_SECONDS:
                    raise UsageError(f"Timeout({phase}=...) expects seconds, more than 0 and at most "
                                     f"{MAX_SECONDS:g}, or None (got {value!r})")
                value = float(value)
            object.__setattr__(self, phase, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Timeout is immutable: make a new one")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timeout):
            return NotImplemented
        return (self.total, self.connect, self.read) == (other.total, other.connect, other.read)

    def __hash__(self) -> int:
        return hash((self.total, self.connect, self.read))

    def __repr__(self) -> str:
        parts = [f"{phase}={getattr(self, phase)!r}" for phase in _PHASES if getattr(self, phase) is not None]
        return f"Timeout({', '.join(parts)})"

    @classmethod
    def of(cls, value: TimeoutLike, default: float | None = None) -> Timeout:
        """``value`` as a Timeout: a number is the total; None is ``Timeout(default)``."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UsageError(f"timeout expects seconds (a number) or a netkit.Timeout (got {value!r})")
        return cls(value)

    def limit(self, phase: str, remaining: float | None = None) -> float | None:
        """Seconds ``phase`` (``connect`` or ``read``) may take now: its own bound, cut to
        ``remaining`` of the total (None: no bound at all)."""
        own = getattr(self, phase)
        if remaining is None:
            return own if own is not None else self.total
        remaining = max(remaining, 0.0)
        return remaining if own is None else min(own, remaining)

    def deadline(self, now: float) -> float | None:
        """The monotonic time the whole operation must end by (None: no overall bound)."""
        return None if self.total is None else now + self.total

    @property
    def longest(self) -> float | None:
        """The longest any one wait may be: ``total``, else the longest phase (None: unbounded)."""
        if self.total is not None:
            return self.total
        phases = [v for v in (self.connect, self.read) if v is not None]
        return max(phases) if phases else None

    def __str__(self) -> str:
        parts = [f"{phase}={getattr(self, phase):g}s" for phase in _PHASES if getattr(self, phase) is not None]
        return ", ".join(parts) or "no timeout"


TimeoutLike = float | int | Timeout | None


def seconds(value: TimeoutLike, phase: str) -> float | None:
    """The seconds ``phase`` (``connect``, ``read``) may take under ``value``: a number
    bounds every phase (what a single ``timeout=`` always meant), a Timeout gives the
    phase's own bound, else its total; None: no bound."""
    if value is None or isinstance(value, (int, float)):
        return value
    return value.limit(phase)
