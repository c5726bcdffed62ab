"""``send``: deliver messages over one SMTP/LMTP session, stage by stage (see
:mod:`netkit.mail._smtp` for the stages and their exit codes).

A :class:`Request` says where and how; :func:`send` runs the session and returns a
:class:`Report` (what each message's recipients got) or raises
:class:`~netkit.mail._smtp.StageError`. With PIPELINING, MAIL, every RCPT and DATA go in
one write and their replies are read after (RFC 2920): one round trip per message, then
the data.
"""

from __future__ import annotations

import smtplib
import socket

from netkit.core.errors import TLSError
from netkit.core.text import MAX_SECONDS
from netkit.mail._smtp import StageError, _Client, _LMTPClient, said

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Iterable

    from netkit.core.timeout import Timeout
    from netkit.mail._smtp import Transcript

__all__ = ["Report", "Request", "Sent", "send"]

# Auth mechanisms in the order netkit picks among those the server offers (the first
# sends no password over the wire; XOAUTH2 only with a token).
MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN", "XOAUTH2")
# Those that send the secret itself (base64 is no secrecy): never picked without TLS.
CLEAR = ("PLAIN", "LOGIN", "XOAUTH2")


class Request:
    """Where and how to send (every field checked by the CLI or the caller)."""

    def __init__(self, host: str, port: int, *, lmtp: bool = False, tls: str | None = None,
                 context: ssl.SSLContext | None = None, ehlo: str = "localhost", user: str | None = None,
                 password: str | None = None, auth: str | None = None, oauth_token: str | None = None,
                 commands: Iterable[str] = (), quit_after: str | None = None, mail_from: str = "",
                 rcpts: Iterable[str] = (), messages: Iterable[bytes] = (), dsn_notify: str | None = None,
                 dsn_return: str | None = None, timeout: float | Timeout = 30.0, transcript: Transcript | None = None,
                 notice: Callable[[str], object] | None = None, netrc: bool = True) -> None:
        self.host, self.port = host, port
        self.lmtp = lmtp
        self.tls = tls  # None, "implicit", "required" or "optional"
        self.context = context
        self.ehlo = ehlo
        self.user, self.password, self.auth, self.oauth_token = user, password, auth, oauth_token
        self.commands = tuple(commands)
        self.quit_after = quit_after
        self.mail_from = mail_from
        self.rcpts = tuple(rcpts)
        self.messages = messages  # an iterable of DATA bytes (data_bytes: CRLF, dot-stuffed)
        self.dsn_notify, self.dsn_return = dsn_notify, dsn_return
        from netkit.core.timeout import seconds

        # ``timeout``: seconds, or a Timeout whose ``connect`` bounds the connection (and the
        # greeting) and ``read`` each reply after it.
        self.timeout = seconds(timeout, "connect")
        self.read_timeout = seconds(timeout, "read")
        self.transcript = transcript
        self.notice = notice or (lambda text: None)
        self.netrc = netrc  # a user without a password: ~/.netrc's for the host, as every netkit login


def _complete_login(request):
    """A named user without a password (or an OAuth token) gets the host's from ~/.netrc
    (:func:`netkit.core.credentials.resolve`); UsageError when it has none."""
    if request.user is None or request.password is not None or request.oauth_token is not None or not request.netrc:
        return
    from netkit.core.credentials import resolve
    from netkit.core.target import Target

    scheme = "lmtp" if request.lmtp else "smtps" if request.tls == "implicit" else "smtp"
    request.password = resolve(Target(scheme, request.host, request.port, "", request.user)).password


class Sent:
    """One message: the recipients the server took, those it refused ({address: reply}),
    and its last reply (``250 2.0.0 Ok: queued as ...``)."""

    __slots__ = ("accepted", "refused", "reply")

    def __init__(self, accepted: list[str], refused: dict[str, str], reply: str) -> None:
        self.accepted, self.refused, self.reply = accepted, refused, reply


class Report:
    def __init__(self):
        self.sent = []  # Sent, one per message
        self.commands = []  # (command, reply) of --command
        self.tls = False
        self.authenticated = None  # the mechanism
        self.pipelining = False
        self.stopped_after = None


def _connect(request):
    cls = _LMTPClient if request.lmtp else _Client
    client = cls(local_hostname=request.ehlo, timeout=request.timeout)
    client.transcript = request.transcript
    # The longest one reply may take (a peer trickling a byte at a time passes every read).
    client.deadline_seconds = request.read_timeout if request.read_timeout is not None else MAX_SECONDS
    client._host = request.host  # the name STARTTLS verifies (smtplib sets it only in __init__)
    if request.tls == "implicit":
        client.tls_context = request.context
    where = f"{request.host}:{request.port}"
    try:
        if request.quit_after == "connect":  # the connection made, not a byte read
            client._get_socket(request.host, request.port, request.timeout).close()
            return None
        code, message = client.connect(request.host, request.port)
    except smtplib.SMTPServerDisconnected as exc:
        raise StageError("banner", f"{where}: no greeting: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        what = "sent no SMTP greeting" if exc.smtp_code == -1 else "no greeting"
        raise StageError("banner", f"{where} {what}: {said(exc.smtp_code, exc.smtp_error)}") from None
    except OSError as exc:  # the socket's, ssl's (an implicit TLS handshake: the starttls stage)
        error = _mapped(exc, request.host if isinstance(exc, socket.gaierror) else where, "connect",
                        timeout=request.timeout)
        raise StageError("starttls" if isinstance(error, TLSError) else "connect", str(error)) from error
    if request.read_timeout != request.timeout:  # greeted: each wait from now on is for a reply
        client.sock.settimeout(request.read_timeout)
    if code != 220:
        what = "refused the session" if 400 <= code <= 599 else "sent no SMTP greeting"
        client.close()
        raise StageError("banner", f"{where} {what}: {said(code, message)}")
    if request.quit_after == "banner":
        _quit(client)
        client.close()
        return None
    return client


def _run(stage, call):
    """``call()`` with smtplib's and the socket's errors turned into StageError(stage)."""
    try:
        return call()
    except smtplib.SMTPServerDisconnected as exc:
        raise StageError(stage, f"disconnected during {stage.upper()}: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        reply = said(exc.smtp_code, exc.smtp_error)
        raise StageError(stage, f"{stage.upper()}: {reply}", reply) from None
    except OSError as exc:  # the socket's, ssl's
        error = _mapped(exc, "the server", "read", doing=f"during {stage.upper()}")
        raise StageError(stage, str(error)) from error


def _mapped(exc, where, phase, doing=None, timeout=None):
    from netkit.core.errmap import map_error

    return map_error(exc, where, phase, doing=doing, timeout=timeout)


def _hello(client, request):
    code, message = _run("ehlo", client.ehlo)
    if 200 <= code <= 299:
        return
    if request.lmtp:
        raise StageError("ehlo", f"LHLO refused: {said(code, message)}")
    first = said(code, message)
    code, message = _run("ehlo", client.helo)
    if not 200 <= code <= 299:
        raise StageError("ehlo", f"EHLO refused ({first}), and HELO: {said(code, message)}")


def _starttls(client, request, report):
    if request.tls == "implicit":
        report.tls = True
        return
    if request.tls is None:
        return
    if not client.has_extn("starttls"):
        if request.tls == "required":
            raise StageError("starttls", "the server does not offer STARTTLS (--starttls requires it); nothing "
                                         "was sent")
        request.notice("the server does not offer STARTTLS: this session is NOT encrypted "
                       "(--starttls makes that an error)")
        return
    code, message = _run("starttls", lambda: client.docmd("STARTTLS"))
    if code != 220:
        raise StageError("starttls", f"STARTTLS refused: {said(code, message)}")
    def handshake():
        client.sock = request.context.wrap_socket(client.sock, server_hostname=client._host)
        client.file = None
        client.helo_resp = client.ehlo_resp = None
        client.esmtp_features = {}
        client.does_esmtp = False
    _run("starttls", handshake)
    report.tls = True
    _hello(client, request)


def _xoauth2(user, token):
    def answer(challenge=None):
        return "" if challenge is not None else f"user={user}\1auth=Bearer {token}\1\1"
    return answer


def _auth(client, request, report):
    if request.user is None:
        return
    offered = client.esmtp_features.get("auth", "").upper().split()
    if request.auth:
        mechanism = request.auth
        if mechanism not in offered:
            raise StageError("auth", f"the server does not offer AUTH {mechanism} (it offers: "
                                     f"{' '.join(offered) or 'no AUTH at all'})")
    else:
        usable = [m for m in MECHANISMS if m in offered and (m != "XOAUTH2") == (request.oauth_token is None)]
        if not report.tls and any(m in CLEAR for m in usable):
            # A server that offers AUTH PLAIN without TLS (or an attacker who stripped its
            # STARTTLS) would read the password: chosen only when the user names it.
            safe = [m for m in usable if m not in CLEAR]
            if not safe:
                raise StageError("auth", f"AUTH {usable[0]} would send the password unencrypted: use --starttls "
                                         f"or smtps://, or name it (--auth {usable[0]}) to send it anyway")
            usable = safe
        if not usable:
            hint = "" if report.tls or request.tls else "; maybe only after --starttls"
            raise StageError("auth", f"no AUTH mechanism netkit speaks is offered (offered: "
                                     f"{' '.join(offered) or 'none'}){hint}")
        mechanism = usable[0]
    if not report.tls:
        request.notice(f"AUTH {mechanism} over an unencrypted connection")
    client.user, client.password = request.user, request.password or ""
    if mechanism == "XOAUTH2":
        answer = _xoauth2(request.user, request.oauth_token)
    else:
        answer = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
    try:
        _run("auth", lambda: client.auth(mechanism, answer))
    except StageError as exc:
        reason = exc.said if exc.said is not None else str(exc)
        raise StageError("auth", f"AUTH {mechanism} as {request.user} refused: {reason}", exc.said) from None
    report.authenticated = mechanism


def _commands(client, request, report):
    for command in request.commands:
        code, message = _run("command", lambda: client.docmd(command))
        report.commands.append((command, said(code, message)))
        if code < 200 or code >= 400:
            raise StageError("command", f"{command.split(' ')[0]} refused: {said(code, message)}")


def _params(client, request, data):
    """The MAIL FROM and RCPT TO parameters: SIZE, BODY, SMTPUTF8, DSN."""
    mail, rcpt = [], []
    if client.has_extn("size"):
        mail.append(f"SIZE={len(data)}")
    if client.has_extn("8bitmime") and not data.isascii():
        mail.append("BODY=8BITMIME")
    if not (request.mail_from.isascii() and all(r.isascii() for r in request.rcpts)):
        if not client.has_extn("smtputf8"):
            raise StageError("mail", "a non-ASCII address needs SMTPUTF8, which the server does not offer")
        mail.append("SMTPUTF8")
        client.command_encoding = "utf-8"
    if request.dsn_notify or request.dsn_return:
        if not client.has_extn("dsn"):
            request.notice("the server does not offer DSN: --dsn-notify/--dsn-return are not sent")
        else:
            if request.dsn_return:
                mail.append(f"RET={request.dsn_return}")
            if request.dsn_notify:
                rcpt.append(f"NOTIFY={request.dsn_notify}")
    return mail, rcpt


def _line(verb, address, params):
    return f"{verb}:<{address}>" + "".join(" " + p for p in params)


def _envelope(client, request, data, pipelining, report):
    """MAIL, RCPT..., DATA: ({accepted}, {refused}) once the server said 354."""
    mail_params, rcpt_params = _params(client, request, data)
    commands = [_line("MAIL FROM", request.mail_from, mail_params)]
    commands += [_line("RCPT TO", r, rcpt_params) for r in request.rcpts]
    stop_rcpt = request.quit_after in ("mail", "rcpt")
    if not stop_rcpt:
        commands.append("DATA")
    if request.quit_after == "mail":
        commands = commands[:1]
    replies = []
    if pipelining:
        _run("mail", lambda: client.send("".join(c + "\r\n" for c in commands).encode(client.command_encoding)))
        stages = ["mail"] + ["rcpt"] * (len(commands) - 1 - (not stop_rcpt)) + ["data"] * (not stop_rcpt)
        for stage in stages:
            replies.append(_run(stage, client.getreply))
    else:
        for i, command in enumerate(commands):
            stage = "mail" if i == 0 else "data" if command == "DATA" else "rcpt"
            if stage == "data" and not any(200 <= c <= 299 for c, _ in replies[1:]):
                break
            replies.append(_run(stage, lambda: client.docmd(command)))
            if i == 0 and not 200 <= replies[0][0] <= 299:
                break
    code, message = replies[0]
    if not 200 <= code <= 299:
        _reset(client)
        raise StageError("mail", f"sender <{request.mail_from}> refused: {said(code, message)}")
    accepted, refused = [], {}
    for rcpt, (code, message) in zip(request.rcpts, replies[1:1 + len(request.rcpts)]):
        if 200 <= code <= 299:
            accepted.append(rcpt)
        else:
            refused[rcpt] = said(code, message)
    if request.quit_after in ("mail", "rcpt"):
        return accepted, refused
    if not accepted:
        if len(replies) > 1 + len(request.rcpts) and replies[-1][0] == 354:
            _run("data", lambda: client.send(".\r\n"))  # RFC 2920: end the DATA nobody gets
            _run("data", client.getreply)
        _reset(client)
        detail = "; ".join(f"<{a}>: {r}" for a, r in refused.items())
        raise StageError("rcpt", f"every recipient refused: {detail}")
    code, message = replies[-1]
    if code != 354:
        _reset(client)
        raise StageError("data", f"DATA refused: {said(code, message)}")
    return accepted, refused


def _reset(client):
    try:
        client.rset()
    except (smtplib.SMTPException, OSError):
        pass


def _transfer(client, request, data, accepted, refused):
    """The message's bytes, then the reply (LMTP: one per accepted recipient)."""
    if request.transcript is not None:
        request.transcript.line(">", f"[the message: {len(data)} bytes, ending with '.']")
    _run("message", lambda: smtplib.SMTP.send(client, data))
    if not request.lmtp:
        code, message = _run("message", client.getreply)
        if not 200 <= code <= 299:
            raise StageError("message", f"the message was refused after its data: {said(code, message)}")
        return Sent(accepted, refused, said(code, message))
    delivered, last = [], ""
    for rcpt in list(accepted):
        code, message = _run("message", client.getreply)
        last = said(code, message)
        if 200 <= code <= 299:
            delivered.append(rcpt)
        else:
            refused[rcpt] = last
    if not delivered:
        raise StageError("message", f"the message was refused for every recipient: {last}")
    return Sent(delivered, refused, last)


def send(request: Request) -> Report:
    """Run the session (see the module docstring); StageError at the first failure."""
    _complete_login(request)
    report = Report()
    client = _connect(request)
    if client is None:  # --quit-after connect or banner
        report.stopped_after = request.quit_after
        return report
    try:
        report.stopped_after = _session(client, request, report)
        _quit(client)
    finally:
        client.close()
    return report


def _session(client, request, report):
    """The stages after the banner; the stage --quit-after stopped at, or None."""
    _hello(client, request)
    if request.quit_after == "ehlo":
        return "ehlo"
    _starttls(client, request, report)
    if request.quit_after == "starttls":
        return "starttls"
    _auth(client, request, report)
    if request.quit_after == "auth":
        return "auth"
    _commands(client, request, report)
    report.pipelining = client.has_extn("pipelining")
    if not request.rcpts:
        return None
    for data in request.messages:
        accepted, refused = _envelope(client, request, data, report.pipelining, report)
        if request.quit_after in ("mail", "rcpt"):
            _reset(client)
            report.sent.append(Sent(accepted, refused, None))
            if request.quit_after == "rcpt" and not accepted:
                raise StageError("rcpt", "every recipient refused: " + "; ".join(
                    f"<{a}>: {r}" for a, r in refused.items()))
            return request.quit_after
        report.sent.append(_transfer(client, request, data, accepted, refused))
    return None


def _quit(client):
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass


# Stages after which another MX host is tried (RFC 5321 5.1: the next host when one cannot
# be reached or will not talk); a refusal of the sender, a recipient or the message is an
# answer, the same from every host of the domain.
NEXT_HOST_STAGES = frozenset(("connect", "banner", "ehlo", "starttls"))


def mx_hosts(domain, server=None, timeout=10.0):
    """The mail hosts of ``domain`` in preference order: its MX records, or the domain
    itself when it has none (RFC 5321 5.1); StageError("connect") when the domain does not
    exist or publishes a null MX (RFC 7505)."""
    from netkit.core.errors import NetError
    from netkit.info.dns import lookup_records

    try:
        answer = lookup_records(domain, ("MX",), server=server, timeout=timeout)
    except NetError as exc:
        raise StageError("connect", f"the MX hosts of {domain}: {exc}") from None
    if answer.status == "NXDOMAIN":
        raise StageError("connect", f"{domain} does not exist (NXDOMAIN): no mail host to deliver to")
    records = [r.fields for r in answer.records if r.rdtype == "MX"]
    if not records:
        return [domain]
    records.sort(key=lambda f: int(f.get("preference", 0)))
    hosts = [str(f.get("exchange", "")).rstrip(".") for f in records]
    if hosts == [""]:
        raise StageError("connect", f"{domain} accepts no mail (a null MX, RFC 7505)")
    return [h for h in hosts if h]


def send_mx(request_for, rcpts, hosts_of, notice=lambda text: None):
    """Deliver to each recipient domain's mail hosts, in order: [(domain, host, Report)].
    ``request_for(host, rcpts)`` makes the Request; ``hosts_of(domain)`` lists the hosts.
    The first domain that fails raises its last host's StageError."""
    by_domain = {}
    for rcpt in rcpts:
        by_domain.setdefault(rcpt.rpartition("@")[2].lower(), []).append(rcpt)
    out = []
    for domain, group in by_domain.items():
        error = None
        for host in hosts_of(domain):
            try:
                out.append((domain, host, send(request_for(host, group))))
                break
            except StageError as exc:
                if exc.stage not in NEXT_HOST_STAGES:
                    raise
                notice(f"{host} (MX of {domain}): {exc}; trying the next host")
                error = exc
        else:
            raise error or StageError("connect", f"{domain} lists no mail host")
    return out
