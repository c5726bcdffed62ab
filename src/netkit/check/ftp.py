"""ftp:// checks: greeting, explicit FTPS, login, and a listing or a file retrieved."""

from netkit.check.session import judge_session
from netkit.proto.ftp import ftp_dialogue

__all__ = ["plan", "judge"]


def plan(spec):
    from netkit.check.tls import tls_params

    t = spec.target
    return ftp_dialogue(t.host, t.port, family=spec.family, user=spec.get("user") or t.user,
                        password=spec.password, path=t.path, tls=tls_params(spec) if spec.get("tls") else None)


def _describe(session) -> str:
    f = session.facts
    text = f"logged in as {f['user']}"
    if "entries" in f:
        n = f["entries"]
        text += f", listed {f['path']} ({n} entr{'y' if n == 1 else 'ies'})"
    if "bytes" in f:
        text += f", retrieved {f['path']} ({f['bytes']} bytes)"
    return text + (f" [{session.greeting}]" if session.greeting else "")


def judge(spec, exchange, now):
    result = judge_session(spec, exchange, now, _describe)
    session = exchange.outcome
    if session is not None and session.failure is None and "size" in session.facts and "bytes" in session.facts:
        from netkit.core.status import CRITICAL

        if session.facts["size"] != session.facts["bytes"]:
            result.status = CRITICAL
            result.summary = (f"{spec.target.netloc} retrieved {session.facts['bytes']} bytes of "
                              f"{session.facts['path']}, but SIZE said {session.facts['size']}")
    if session is not None and "bytes" in session.facts:
        from netkit.core.perfdata import Metric

        result.metrics.insert(1, Metric("size", session.facts["bytes"], "B", None, None, 0))
    return result
