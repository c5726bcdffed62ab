"""The result of a check, as a plain typed object; renderers live in netkit.cli."""

from netkit.core.perfdata import Metric
from netkit.core.status import CRITICAL, OK, WARNING

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: nothing more on the start-up path
    from collections.abc import Iterable
    from typing import Any

    from netkit.core.errors import NetkitError
    from netkit.core.status import Status

__all__ = ["CheckResult", "time_status", "time_metric", "phase_metrics"]


class CheckResult:
    """One check's verdict.

    ``summary`` is the human text of the Nagios line; ``metrics`` its perfdata; ``error``
    the exception that ended the check (a :class:`~netkit.core.errors.NetkitError`; its
    text in ``--json``), None when it ran to its verdict; ``details``
    protocol facts (HTTP status, TLS certificate...) for ``--json``; ``dialogue`` the
    transcript lines when asked for.
    """

    __slots__ = ("name", "label", "target", "status", "summary", "metrics", "timings", "error", "details",
                 "dialogue")

    def __init__(self, *, name: str | None, label: str, target: str, status: "Status", summary: str,
                 metrics: "Iterable[Metric]" = (), timings: "dict[str, float | None] | None" = None,
                 error: "NetkitError | None" = None, details: "dict[str, Any] | None" = None,
                 dialogue: "list[str] | None" = None) -> None:
        self.name = name
        self.label = label
        self.target = target
        self.status = status
        self.summary = summary
        self.metrics = list(metrics)
        self.timings = timings or {}
        self.error = error
        self.details = details or {}
        self.dialogue = dialogue

    @property
    def service(self) -> str:
        return self.name or self.label

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "target": self.target,
            "status": self.status.label,
            "code": int(self.status),
            "summary": self.summary,
            "metrics": {m.label: m.value for m in self.metrics},
            "timings": {k: (None if v is None else round(v, 6)) for k, v in self.timings.items()},
            "error": None if self.error is None else str(self.error),
            "details": self.details,
            **({"dialogue": self.dialogue} if self.dialogue is not None else {}),
        }

    def __repr__(self):
        return f"CheckResult({self.service} {self.status.label}: {self.summary!r})"


def time_status(spec, seconds: float):
    """The status the -w/-c response-time ranges give ``seconds``."""
    crit = spec.opts.get("critical")
    if crit is not None and crit.alerts(seconds):
        return CRITICAL
    warn = spec.opts.get("warning")
    if warn is not None and warn.alerts(seconds):
        return WARNING
    return OK


def time_metric(spec, seconds: float, label="time") -> Metric:
    return Metric(label, round(seconds, 6), "s", spec.opts.get("warning"), spec.opts.get("critical"), 0,
                  spec.get("timeout"))


def phase_metrics(timings) -> list:
    """Perfdata for the phases that happened (time_dns, time_connect, time_tls, time_firstbyte)."""
    out = []
    for phase in ("dns", "connect", "tls", "firstbyte"):
        value = getattr(timings, phase)
        if value is not None:
            out.append(Metric(f"time_{phase}", round(value, 6), "s", None, None, 0))
    return out

