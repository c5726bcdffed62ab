"""Session fixture ``mail_smtp``: aiosmtpd in a thread of the test process, with every
feature ``netkit mail send`` speaks and a refusal at each stage.

Ports on 127.0.0.1 (attributes of :class:`MailSmtp`), all presenting ``pki.good``:

``port``        SMTP; EHLO offers STARTTLS, PIPELINING, DSN, SMTPUTF8, SIZE, 8BITMIME; AUTH
                (PLAIN LOGIN CRAM-MD5 XOAUTH2) only after STARTTLS (``538`` before it)
``smtps_port``  implicit TLS; AUTH offered at once
``plain_port``  SMTP with no STARTTLS and no PIPELINING; AUTH offered in clear (to test
                --starttls against a server that does not offer it, and the unpipelined path)
``lmtp_port``   LMTP (LHLO; one reply per recipient after the data)

Policy, the same on every port:

* AUTH: ``user`` / ``password`` (random); XOAUTH2 takes ``user`` with the bearer ``token``;
  anything else ``535 5.7.8``.
* MAIL FROM an address starting with ``refuse`` gets ``553 5.7.1 ... Sender address rejected``.
* RCPT TO: ``*@example.test`` is accepted, except ``busy@example.test`` (``451 4.2.1``);
  every other domain gets ``550 5.1.1 ... Recipient address rejected``.
* DATA with ``nodata@example.test`` among the recipients: ``554 5.5.1 DATA refused``.
* A message holding ``REFUSE-MESSAGE`` is refused after its data: ``554 5.7.1``.
* ``ETRN domain``: ``250 Queuing started for domain`` (recorded in ``etrn``).

Accepted messages are kept in memory as :class:`Received` (``mail_from``,
``mail_options``, ``rcpt_tos``, ``rcpt_options``, ``data`` as received, ``auth``: the
mechanism or None, ``tls``, ``port``); ``messages(rcpt)`` lists those for one recipient --
give each test its own (``f"{uuid}@example.test"``). ``sessions`` counts connections.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import secrets
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.peers._mail_loop import serving_in_thread

HOST = "127.0.0.1"
HOSTNAME = "mx.netkit.test"
DOMAIN = "example.test"
USER = "user"
# Seconds aiosmtpd keeps an idle client: longer than any test.
IDLE_TIMEOUT = 120
# The largest message accepted (announced as SIZE); the size tests stay far below.
SIZE_LIMIT = 32 << 20
# The DSN parameters (RFC 3461) aiosmtpd itself does not know; accepted and recorded here.
DSN_PARAMS = ("RET", "ENVID", "NOTIFY", "ORCPT")


@dataclass(frozen=True)
class Received:
    mail_from: str
    mail_options: tuple
    rcpt_tos: tuple
    rcpt_options: tuple
    data: bytes
    auth: str | None
    tls: bool
    port: int


@dataclass
class MailSmtp:
    host: str
    user: str
    password: str
    token: str
    hostname: str = HOSTNAME
    port: int = 0
    smtps_port: int = 0
    plain_port: int = 0
    lmtp_port: int = 0
    received: list = field(default_factory=list)
    etrn: list = field(default_factory=list)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self, rcpt: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if rcpt.lower() in (r.lower() for r in m.rcpt_tos)]


class _Handler:
    def __init__(self, state: MailSmtp, pipelining: bool):
        self.state = state
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses[-1:-1] = ["250-PIPELINING", "250-DSN"]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):
        if address.lower().startswith("refuse"):
            return f"553 5.7.1 <{address}>: Sender address rejected: not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.lower() == f"busy@{DOMAIN}":
            return f"451 4.2.1 <{address}>: Mailbox busy, try again later"
        if address.rpartition("@")[2].lower() != DOMAIN:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(" ".join(options))
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content
        if b"REFUSE-MESSAGE" in data:
            return "554 5.7.1 Message refused: content rejected"
        tls = server.transport.get_extra_info("ssl_object") is not None
        mechanism = getattr(session, "netkit_mechanism", None) if session.authenticated else None
        port = server.transport.get_extra_info("sockname")[1]
        with self.state.lock:
            self.state.received.append(Received(
                envelope.mail_from, tuple(envelope.mail_options), tuple(envelope.rcpt_tos),
                tuple(envelope.rcpt_options), data, mechanism, tls, port))
            number = len(self.state.received)
        if isinstance(server, _LMTP):  # one reply per recipient (RFC 2033)
            return "\r\n".join(f"250 2.0.0 <{r}> Ok: delivered as {number}" for r in envelope.rcpt_tos)
        return f"250 2.0.0 Ok: queued as {number:06d}"

    def _check(self, server, session, mechanism, login, password) -> bool:
        ok = hmac.compare_digest(login, self.state.user.encode()) and hmac.compare_digest(
            password, self.state.password.encode())
        if ok:
            session.netkit_mechanism = mechanism
        return ok

    async def auth_CRAM__MD5(self, server, args):
        from aiosmtpd.smtp import AuthResult

        challenge = f"<{secrets.token_hex(8)}@{HOSTNAME}>".encode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        login, _, digest = answer.partition(b" ")
        expected = hmac.new(self.state.password.encode(), challenge, "md5").hexdigest().encode()
        ok = hmac.compare_digest(login, self.state.user.encode()) and hmac.compare_digest(digest, expected)
        if ok:
            server.session.netkit_mechanism = "CRAM-MD5"
        return AuthResult(success=ok, handled=False, auth_data=login)

    async def auth_XOAUTH2(self, server, args):
        from aiosmtpd.smtp import AuthResult

        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        try:
            text = base64.b64decode(args[1], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False)
        fields = dict(part.partition("=")[::2] for part in text.split("\1") if part)
        ok = hmac.compare_digest(fields.get("user", ""), self.state.user) and hmac.compare_digest(
            fields.get("auth", ""), f"Bearer {self.state.token}")
        if ok:
            server.session.netkit_mechanism = "XOAUTH2"
        return AuthResult(success=ok, handled=False, auth_data=fields.get("user"))


def _mixin(base):
    class Server(base):
        def _getparams(self, params):
            parsed = super()._getparams(params)
            if parsed is not None:
                for name in DSN_PARAMS:
                    parsed.pop(name, None)
            return parsed

        async def smtp_DATA(self, arg):
            if self.envelope is not None and f"nodata@{DOMAIN}" in (r.lower() for r in self.envelope.rcpt_tos):
                await self.push("554 5.5.1 DATA refused: no valid recipients")
                return
            await super().smtp_DATA(arg)

        async def smtp_ETRN(self, arg):
            with self.event_handler.state.lock:
                self.event_handler.state.etrn.append(arg)
            await self.push(f"250 Queuing started for {arg}")

        def connection_made(self, transport):
            with self.event_handler.state.lock:
                self.event_handler.state.sessions += 1
            super().connection_made(transport)

    return Server


def _classes():
    from aiosmtpd.lmtp import LMTP
    from aiosmtpd.smtp import SMTP

    global _SMTP, _LMTP
    _SMTP, _LMTP = _mixin(SMTP), _mixin(LMTP)


_SMTP = _LMTP = None


@contextlib.contextmanager
def running_mail_smtp(pki) -> Iterator[MailSmtp]:
    """The server (see the module docstring) until the block ends."""
    _classes()
    state = MailSmtp(HOST, USER, secrets.token_urlsafe(12), secrets.token_urlsafe(16))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pki.good.cert), str(pki.good.key))

    def authenticator(server, session, envelope, mechanism, data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(data, LoginPassword) and handler_plain._check(server, session, mechanism, data.login,
                                                                      data.password)
        return AuthResult(success=ok, handled=False, auth_data=getattr(data, "login", None))

    handler_plain = _Handler(state, pipelining=False)
    handler_full = _Handler(state, pipelining=True)

    def factory(cls, handler, *, tls, require_tls):
        return lambda: cls(handler, hostname=HOSTNAME, ident="ESMTP netkit-mail-peer", tls_context=tls,
                           authenticator=authenticator, auth_require_tls=require_tls, timeout=IDLE_TIMEOUT,
                           enable_SMTPUTF8=True, data_size_limit=SIZE_LIMIT)

    async def start(loop):
        specs = {
            "": (factory(_SMTP, handler_full, tls=context, require_tls=True), None),
            "smtps": (factory(_SMTP, handler_full, tls=None, require_tls=False), context),
            "plain": (factory(_SMTP, handler_plain, tls=None, require_tls=False), None),
            "lmtp": (factory(_LMTP, handler_full, tls=None, require_tls=False), None),
        }
        servers = []
        for name, (make, wrap) in specs.items():
            server = await loop.create_server(make, HOST, 0, ssl=wrap)
            servers.append(server)
            setattr(state, f"{name}_port" if name else "port", server.sockets[0].getsockname()[1])
        return servers

    with serving_in_thread(start, "mail-smtp"):
        yield state


@pytest.fixture(scope="session")
def mail_smtp(pki) -> Iterator[MailSmtp]:
    """aiosmtpd with STARTTLS, SMTPS, AUTH, LMTP and refusals (see the module docstring)."""
    with running_mail_smtp(pki) as state:
        yield state
