"""Session fixture ``smtp_server``: aiosmtpd in a child process, with STARTTLS, SMTPS and AUTH.

Two ports on 127.0.0.1, served by one aiosmtpd process (the venv's python, run by
:class:`ServerProcess`), both presenting ``pki.good`` (localhost, 127.0.0.1, ::1):

``port``        plain SMTP; EHLO offers ``STARTTLS``; ``AUTH LOGIN PLAIN`` is offered and
                accepted only after STARTTLS (before it, AUTH gets ``538 5.7.11 Encryption
                required for requested authentication mechanism``)
``smtps_port``  implicit TLS ("smtps", like port 465); ``AUTH LOGIN PLAIN`` offered at once

Greeting ``220 mx.example.test ESMTP netkit-peer`` (``GREETING``); EHLO answers
``250-mx.example.test`` (``HOSTNAME``). Authentication: ``user`` / the random ``password``;
anything else gets ``535 5.7.8 Authentication credentials invalid``. AUTH is never required:
MAIL/RCPT work without it, so a check can test acceptance without credentials.

Recipients: any address ``@example.test`` (``ACCEPTED_DOMAIN``) gets ``250 OK``; every other
address (e.g. ``REJECTED_RCPT`` = ``nobody@invalid.test``) gets ``550 5.1.1 <addr>: Recipient
address rejected`` at RCPT. The sender is not checked.

Each accepted message is saved, before the server answers ``250`` to the DATA, as one file
``<spool>/<seq>.eml`` (written to a temporary name, then renamed): the message exactly as
received (dot-unstuffed, CRLF line ends) preceded by the envelope as five header lines, in
this order::

    X-Peer: 127.0.0.1
    X-MailFrom: sender@example.org
    X-RcptTo: a@example.test, b@example.test
    X-Auth-User: user            ("-" when the session did not authenticate)
    X-TLS: yes                   ("no" on a plain session)

so every file is itself a valid RFC 5322 message. Attributes of the fixture value
(:class:`SmtpServer`): ``host``, ``port``, ``smtps_port``, ``user``, ``password``,
``hostname``, ``spool`` (Path), ``log_file``, and ``messages(rcpt=None)``: the saved
messages (:class:`SpooledMessage`: ``path``, ``peer``, ``mail_from``, ``rcpt_tos``,
``auth_user`` (None without AUTH), ``tls``, ``data`` (the bytes as received) and
``message``, an ``email.message.EmailMessage``), in delivery order, optionally only those
for one recipient. The spool spans the session: give each test's message a unique recipient
(``f"{uuid}@example.test"``) or subject.

``running_smtp(directory, pki)`` is the same server as a plain context manager.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import itertools
import json
import os
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.peers._base import ServerProcess, can_connect, free_port

if TYPE_CHECKING:  # the child process need not import trustme and cryptography
    from tests.peers.certs import Pki

HOST = "127.0.0.1"
USER = "user"
HOSTNAME = "mx.example.test"
IDENT = "ESMTP netkit-peer"
GREETING = f"{HOSTNAME} {IDENT}"
ACCEPTED_DOMAIN = "example.test"
REJECTED_RCPT = "nobody@invalid.test"
AUTH_MECHANISMS = ("LOGIN", "PLAIN")
BAD_AUTH_CODE = 535
REJECTED_RCPT_CODE = 550
# The envelope headers written before each spooled message, in this order.
ENVELOPE_HEADERS = ("X-Peer", "X-MailFrom", "X-RcptTo", "X-Auth-User", "X-TLS")
NO_AUTH_USER = "-"
SPOOL_SUFFIX = ".eml"
# Seconds aiosmtpd keeps an idle connection: longer than any test.
IDLE_TIMEOUT = 120
# Repository root, put on the child's PYTHONPATH so it can import this module.
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SpooledMessage:
    """One accepted message, read back from the spool."""

    path: Path
    peer: str
    mail_from: str
    rcpt_tos: tuple[str, ...]
    auth_user: str | None
    tls: bool
    data: bytes  # the message as received, without the envelope lines

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


def read_spooled(path: Path) -> SpooledMessage:
    """Parse one spool file (the envelope lines, then the message)."""
    raw = path.read_bytes()
    fields: dict[str, str] = {}
    rest = raw
    for name in ENVELOPE_HEADERS:
        line, _, rest = rest.partition(b"\r\n")
        key, _, value = line.decode().partition(": ")
        if key != name:
            raise ValueError(f"{path}: expected envelope header {name}, got {line!r}")
        fields[name] = value
    auth_user = fields["X-Auth-User"]
    return SpooledMessage(
        path=path,
        peer=fields["X-Peer"],
        mail_from=fields["X-MailFrom"],
        rcpt_tos=tuple(a for a in fields["X-RcptTo"].split(", ") if a),
        auth_user=None if auth_user == NO_AUTH_USER else auth_user,
        tls=fields["X-TLS"] == "yes",
        data=rest,
    )


@dataclass(frozen=True)
class SmtpServer:
    """A running aiosmtpd; see the module docstring."""

    host: str
    port: int
    smtps_port: int
    user: str
    password: str
    hostname: str
    spool: Path
    log_file: Path

    def messages(self, rcpt: str | None = None) -> list[SpooledMessage]:
        """Saved messages in delivery order; only those for ``rcpt`` when given."""
        found = [read_spooled(p) for p in sorted(self.spool.glob(f"*{SPOOL_SUFFIX}"))]
        if rcpt is not None:
            found = [m for m in found if rcpt.lower() in (a.lower() for a in m.rcpt_tos)]
        return found


class SpoolHandler:
    """aiosmtpd handler (runs in the child): RCPT policy and one spool file per message."""

    def __init__(self, spool: Path) -> None:
        self.spool = spool
        self.sequence = itertools.count(1)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.rpartition("@")[2].lower() != ACCEPTED_DOMAIN:
            return f"{REJECTED_RCPT_CODE} 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        tls = server.transport.get_extra_info("ssl_object") is not None
        auth_user = session.auth_data if session.authenticated else NO_AUTH_USER
        values = (
            session.peer[0],
            envelope.mail_from,
            ", ".join(envelope.rcpt_tos),
            auth_user,
            "yes" if tls else "no",
        )
        head = "".join(f"{name}: {value}\r\n" for name, value in zip(ENVELOPE_HEADERS, values))
        number = next(self.sequence)
        final = self.spool / f"{number:06d}{SPOOL_SUFFIX}"
        partial = self.spool / f"{number:06d}.tmp"
        partial.write_bytes(head.encode() + envelope.original_content)
        os.replace(partial, final)
        return f"250 2.0.0 Ok: queued as {number:06d}"


def serve(config_json: str) -> None:
    """The child process: run aiosmtpd on both ports until SIGTERM (see running_smtp)."""
    import asyncio
    import hmac
    import logging
    import ssl

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    config = json.loads(config_json)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["certfile"], config["keyfile"])
    handler = SpoolHandler(Path(config["spool"]))
    user = config["user"].encode()
    password = config["password"].encode()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = (
            isinstance(data, LoginPassword)
            and hmac.compare_digest(data.login, user)
            and hmac.compare_digest(data.password, password)
        )
        if not ok:
            # handled=False: aiosmtpd itself answers 535 (handled=True would answer nothing).
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=data.login.decode())

    def protocol(implicit_tls: bool) -> SMTP:
        return SMTP(
            handler,
            hostname=HOSTNAME,
            ident=IDENT,
            # STARTTLS only on the plain port; on the implicit port aiosmtpd does not know
            # the transport is TLS, hence auth_require_tls=False there.
            tls_context=None if implicit_tls else context,
            authenticator=authenticator,
            auth_require_tls=not implicit_tls,
            timeout=IDLE_TIMEOUT,
        )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(lambda: protocol(False), config["host"], config["port"])
        await loop.create_server(
            lambda: protocol(True), config["host"], config["smtps_port"], ssl=context
        )
        await asyncio.Event().wait()  # until SIGTERM ends the process

    asyncio.run(main())


def _child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT),
    }


@contextlib.contextmanager
def running_smtp(directory: Path, pki: Pki) -> Iterator[SmtpServer]:
    """Run aiosmtpd with its spool under ``directory`` (retrying on a taken port)."""
    spool = directory / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    log_file = directory / "smtp.log"
    ports: dict[str, int] = {}

    def factory(attempt: int) -> ServerProcess:
        ports["port"] = free_port(HOST)
        ports["smtps_port"] = free_port(HOST)
        while ports["smtps_port"] == ports["port"]:
            ports["smtps_port"] = free_port(HOST)
        config = {
            "host": HOST,
            **ports,
            "user": USER,
            "password": password,
            "spool": str(spool),
            "certfile": str(pki.good.cert),
            "keyfile": str(pki.good.key),
        }
        return ServerProcess(
            "aiosmtpd",
            [
                sys.executable,
                "-c",
                "import sys; from tests.peers.smtp import serve; serve(sys.argv[1])",
                json.dumps(config),
            ],
            log_file=log_file,
            ready=lambda: all(can_connect(HOST, port) for port in ports.values()),
            env=_child_env(),
            cwd=directory,
        )

    with ServerProcess.start_with_retries(factory):
        yield SmtpServer(
            host=HOST,
            port=ports["port"],
            smtps_port=ports["smtps_port"],
            user=USER,
            password=password,
            hostname=HOSTNAME,
            spool=spool,
            log_file=log_file,
        )


@pytest.fixture(scope="session")
def smtp_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    """A running aiosmtpd (see the module docstring)."""
    with running_smtp(tmp_path_factory.mktemp("smtp"), pki) as info:
        yield info
