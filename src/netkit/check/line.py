"""tcp:// and udp:// checks: connect (or send a datagram), send, expect (check_tcp's rules)."""

from netkit.check.result import CheckResult, phase_metrics, time_metric, time_status
from netkit.core.errors import RefusedError
from netkit.core.status import CRITICAL, OK, worst
from netkit.core.text import preview
from netkit.proto.line import MAX_REPLY_BYTES, tcp_dialogue, udp_dialogue

__all__ = ["plan", "judge"]


def plan(spec):
    t = spec.target
    common = dict(family=spec.family, sends=spec.get("send"), expects=spec.get("expect"),
                  expect_all=spec.get("expect-all"), maxbytes=spec.get("maxbytes") or MAX_REPLY_BYTES)
    if t.scheme == "udp":
        return udp_dialogue(t.host, t.port, **common)
    tls = None
    if spec.get("tls"):
        from netkit.check.tls import tls_params

        tls = tls_params(spec)
    return tcp_dialogue(t.host, t.port, quit=spec.get("quit"), tls=tls, **common)


def _where(spec, exchange) -> str:
    return f"{spec.target.host} port {spec.target.port}"


def judge(spec, exchange, now) -> CheckResult:
    t = spec.target
    label = spec.label
    elapsed = exchange.timings.total
    metrics = [time_metric(spec, elapsed)]
    details = {"peer": exchange.peer or None}
    error = exchange.error
    if error is not None:
        if isinstance(error, RefusedError):
            status = spec.get("refuse")
        else:
            status = CRITICAL
        summary = str(error)
        if status == OK:
            summary = f"nothing listening on {t.host} port {t.port} ({error})"
        if exchange.head:
            summary += f"; received {preview(exchange.head)!r}"
        return CheckResult(name=spec.name, label=label, target=t.text, status=status, summary=summary,
                           metrics=metrics if status == OK else (), timings=exchange.timings.as_dict(),
                           error=error, details=details)
    outcome = exchange.outcome
    statuses = [time_status(spec, elapsed)]
    summary = f"{elapsed:.3f} second response time on {_where(spec, exchange)}"
    if outcome.received:
        summary += f" [{preview(outcome.received)}]"
        details["reply"] = outcome.received[:1024].decode("utf-8", "replace")
    if not outcome.matched:
        missing = ", ".join(repr(m.decode("utf-8", "replace")) for m in outcome.missing)
        what = "no reply" if not outcome.received else "unexpected reply"
        summary = f"{what} from {_where(spec, exchange)}, expected {missing}" + (
            f" [{preview(outcome.received)}]" if outcome.received else "")
        statuses.append(spec.get("mismatch"))
    if outcome.tls is not None:
        from netkit.check.tls import judge_certificates

        cert_status, cert_text, cert_metrics, cert_details = judge_certificates(spec, outcome.tls, now)
        statuses.append(cert_status)
        summary += f", {cert_text}"
        metrics.extend(cert_metrics)
        details["tls"] = cert_details
    metrics.extend(phase_metrics(exchange.timings))
    return CheckResult(name=spec.name, label=label, target=t.text, status=worst(statuses), summary=summary,
                       metrics=metrics, timings=exchange.timings.as_dict(), details=details)
