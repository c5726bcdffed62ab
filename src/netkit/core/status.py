"""The Nagios plugin statuses and how several of them combine."""

__all__ = ["Status", "OK", "WARNING", "CRITICAL", "UNKNOWN", "worst", "severity", "parse_state"]

_LABELS = ("OK", "WARNING", "CRITICAL", "UNKNOWN")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


class Status(int):
    """A plugin status; its value is the exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).

    A plain int subclass rather than an IntEnum: ``enum`` costs milliseconds at import and
    this sits on the fast path of every single check.
    """

    __slots__ = ()

    @property
    def label(self) -> str:
        return _LABELS[self]

    def __repr__(self) -> str:
        return f"Status.{_LABELS[self]}"

    def __str__(self) -> str:
        return _LABELS[self]


OK = Status(0)
WARNING = Status(1)
CRITICAL = Status(2)
UNKNOWN = Status(3)
_BY_VALUE = (OK, WARNING, CRITICAL, UNKNOWN)

# How bad each status is when several are combined: CRITICAL > WARNING > UNKNOWN > OK,
# the order of monitoring-plugins' max_state_alt(). A failed check outranks one that
# could not tell.
_SEVERITY = {0: 0, 3: 1, 1: 2, 2: 3}


def severity(status: int) -> int:
    """How bad ``status`` is (0 for OK up to 3 for CRITICAL): a sort key, worst last."""
    return _SEVERITY[status]


def worst(statuses: "Iterable[int]") -> Status:
    """The most severe of ``statuses`` (OK when there are none)."""
    result = OK
    for status in statuses:
        if _SEVERITY[status] > _SEVERITY[result]:
            result = _BY_VALUE[status]
    return result


_STATE_WORDS = {
    "ok": OK,
    "warn": WARNING,
    "warning": WARNING,
    "crit": CRITICAL,
    "critical": CRITICAL,
    "unknown": UNKNOWN,
}


def parse_state(text: str) -> Status:
    """``ok``/``warn``/``crit`` (as check_tcp's --refuse and --mismatch take them)."""
    try:
        return _STATE_WORDS[str(text).strip().lower()]
    except KeyError:
        raise ValueError("expects one of ok, warn, crit") from None
