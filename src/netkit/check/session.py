"""Judging login sessions (ftp, smtp, pop3, imap): one verdict shape for all of them."""

from netkit.check.result import CheckResult, phase_metrics, time_metric, time_status
from netkit.core.errors import RemoteError
from netkit.core.perfdata import Metric
from netkit.core.status import CRITICAL, OK, WARNING, worst

__all__ = ["judge_session", "count_status"]


def count_status(spec, value, warn_name, crit_name):
    """The status a count gets from its --X-warn/--X-crit ranges."""
    crit = spec.opts.get(crit_name)
    if crit is not None and crit.alerts(value):
        return CRITICAL
    warn = spec.opts.get(warn_name)
    if warn is not None and warn.alerts(value):
        return WARNING
    return OK


def judge_session(spec, exchange, now, describe, counts=()) -> CheckResult:
    """``describe(session) -> text`` says what went right; ``counts`` lists
    (fact, label, unit, warn option, crit option) to threshold and graph."""
    t = spec.target
    elapsed = exchange.timings.total
    timings = exchange.timings.as_dict()
    if exchange.error is not None:
        summary = f"{t.netloc} {exchange.error}"
        if exchange.head:
            from netkit.core.text import preview

            summary += f"; the server said {preview(exchange.head)!r}"
        return CheckResult(name=spec.name, label=spec.label, target=t.text, status=CRITICAL, summary=summary,
                           timings=timings, error=exchange.error, details={"peer": exchange.peer or None})
    session = exchange.outcome
    details = {"peer": exchange.peer, "greeting": session.greeting, **session.facts}
    metrics = [time_metric(spec, elapsed)]
    if session.failure is not None:
        step, said = session.failure
        return CheckResult(name=spec.name, label=spec.label, target=t.text, status=CRITICAL,
                           summary=f"{t.netloc} {step} failed: {said}", metrics=metrics, timings=timings,
                           error=RemoteError(f"{step} failed: {said}"), details=details)
    statuses = [time_status(spec, elapsed)]
    summary = f"{t.netloc} {describe(session)}, {elapsed:.3f} second response time"
    for fact, label, unit, warn_name, crit_name in counts:
        value = session.facts.get(fact)
        if value is None:
            continue
        statuses.append(count_status(spec, value, warn_name, crit_name))
        metrics.append(Metric(label, value, unit, spec.opts.get(warn_name), spec.opts.get(crit_name), 0))
    if session.tls is not None:
        from netkit.check.tls import add_certificates

        summary += add_certificates(spec, session.tls, now, statuses, metrics, details)
    metrics.extend(phase_metrics(exchange.timings))
    return CheckResult(name=spec.name, label=spec.label, target=t.text, status=worst(statuses), summary=summary,
                       metrics=metrics, timings=timings, details=details)
