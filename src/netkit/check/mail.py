"""smtp(s)://, pop3(s):// and imap(s):// checks."""

from netkit.check.session import judge_session
from netkit.proto.mail import imap_dialogue, pop3_dialogue, smtp_dialogue

__all__ = ["plan", "judge"]

_IMPLICIT = frozenset(("smtps", "pop3s", "imaps"))


def plan(spec):
    from netkit.check.tls import tls_params

    t = spec.target
    tls = tls_params(spec) if (t.scheme in _IMPLICIT or spec.get("starttls")) else None
    implicit = tls if t.scheme in _IMPLICIT else None
    starttls = tls if implicit is None else None
    user = spec.get("user") or t.user
    common = dict(family=spec.family, implicit_tls=implicit, starttls=starttls)
    if t.scheme in ("smtp", "smtps"):
        return smtp_dialogue(t.host, t.port, ehlo=spec.get("ehlo"), user=user, password=spec.password,
                             mail_from=spec.get("from"), rcpts=spec.get("rcpt"), **common)
    if t.scheme in ("pop3", "pop3s"):
        return pop3_dialogue(t.host, t.port, user=user, password=spec.password, **common)
    return imap_dialogue(t.host, t.port, user=user, password=spec.password, mailbox=spec.get("mailbox"),
                         **common)


def _describe_smtp(session) -> str:
    f = session.facts
    text = session.greeting or ""
    if "user" in f:
        text += f", authenticated as {f['user']}"
    if "accepted" in f:
        text += f", recipients accepted: {', '.join(f['accepted']) or 'none asked'}"
    return text


def _describe_box(session) -> str:
    f = session.facts
    text = f"{f['messages']} messages"
    if "size" in f:
        text += f" ({f['size']} bytes)"
    if "unseen" in f:
        text += f", {f['unseen']} unseen in {f['mailbox']}"
    return text + f" for {f['user']}"


_POP_COUNTS = (("messages", "messages", "", "messages-warn", "messages-crit"),
               ("size", "size", "B", "size-warn", "size-crit"))
_IMAP_COUNTS = (("messages", "messages", "", "messages-warn", "messages-crit"),
                ("unseen", "unseen", "", "unseen-warn", "unseen-crit"))


def judge(spec, exchange, now):
    scheme = spec.target.scheme
    if scheme in ("smtp", "smtps"):
        return judge_session(spec, exchange, now, _describe_smtp)
    counts = _POP_COUNTS if scheme in ("pop3", "pop3s") else _IMAP_COUNTS
    return judge_session(spec, exchange, now, _describe_box, counts)
