"""Session fixture ``mail_dovecot``: a dovecot of its own for the mail tests (the shared
``dovecot`` fixture must stay as it is), with mailboxes the tests fill and empty freely,
and ``smtp_port``: an aiosmtpd that delivers every message it accepts with dovecot's own
LDA (``dovecot-lda -d USER``), so send -> delivery -> fetch is one real path.

Attributes (:class:`MailDovecot`): ``host``, ``pop3_port``, ``pop3s_port``, ``imap_port``,
``imaps_port``, ``smtp_port``, ``dovecot`` (the :class:`tests.peers.dovecot.Dovecot`), and:

``new_user()``          a fresh user with an empty INBOX: (name, password), from a pool
                        of ``USERS`` made at the start
``deliver(user, raw)``  deliver one message with dovecot-lda (as an MTA would)
``fill(user, raws)``    write messages straight into the user's Maildir (fast: for
                        thousands), before the user's first session
``maildir(user)``       the user's Maildir on the server's side (Path)

The relay accepts any recipient ``USER@example.test`` whose USER exists, and answers
``250`` only after the LDA said it delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers._mail_loop import serving_in_thread
from tests.peers.dovecot import Dovecot, running_dovecot

LDA = "/usr/lib/dovecot/dovecot-lda"
DOMAIN = "example.test"
# Seconds one LDA delivery may take (it takes ~30 ms).
LDA_TIMEOUT = 30
_names = itertools.count(1)
# Users made at the start (each test takes its own): more than the tests use.
USERS = 100


@dataclass
class MailDovecot:
    dovecot: Dovecot
    smtp_port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: dict = field(default_factory=dict)
    pool: list = field(default_factory=list)

    def __getattr__(self, name):
        if name != "dovecot" and (name.endswith("_port") or name == "host"):
            return getattr(self.__dict__["dovecot"], name)
        raise AttributeError(name)

    def maildir(self, user: str) -> Path:
        return self.dovecot.mail_root / user / "Maildir"

    def make_users(self, count: int) -> None:
        """Add ``count`` users to the passwd-file at once (dovecot re-reads it when its
        mtime changes, which it sees at one-second resolution: one write, a new mtime)."""
        d = self.dovecot
        lines = []
        for _ in range(count):
            name = f"u{next(_names)}{secrets.token_hex(3)}"
            password = secrets.token_urlsafe(12)
            for sub in ("cur", "new", "tmp"):
                (d.mail_root / name / "Maildir" / sub).mkdir(parents=True)
            for path in (d.mail_root / name, *(d.mail_root / name).rglob("*")):
                os.chown(path, d.mail_uid, d.mail_gid)
            lines.append(f"{name}:{{PLAIN}}{password}:{d.mail_uid}:{d.mail_gid}::{d.mail_root}/./{name}::\n")
            self.pool.append((name, password))
        users = d.directory / "users"
        with open(users, "a") as fh:
            fh.write("".join(lines))
        later = users.stat().st_mtime + 2
        os.utime(users, (later, later))

    def new_user(self) -> tuple[str, str]:
        """A user nobody else uses, with an empty INBOX: (name, password)."""
        with self.lock:
            name, password = self.pool.pop()
            self.users[name] = password
        return name, password

    def deliver(self, user: str, raw: bytes, sender: str = "sender@example.org") -> None:
        proc = subprocess.run([LDA, "-c", str(self.dovecot.config), "-d", user, "-f", sender], input=raw,
                              capture_output=True, timeout=LDA_TIMEOUT, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"dovecot-lda failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")

    def fill(self, user: str, raws) -> None:
        d = self.dovecot
        new = self.maildir(user) / "new"
        for i, raw in enumerate(raws):
            path = new / f"{1_700_000_000 + i}.M{i}P1.netkit,S={len(raw)}"
            path.write_bytes(raw)
            os.chown(path, d.mail_uid, d.mail_gid)


class _Relay:
    """aiosmtpd handler: every accepted message through dovecot-lda."""

    def __init__(self, state: MailDovecot):
        self.state = state

    async def handle_RCPT(self, server, session, envelope, address, options):
        user, _, domain = address.rpartition("@")
        if domain.lower() != DOMAIN or user not in self.state.users:
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        for address in envelope.rcpt_tos:
            user = address.rpartition("@")[0]
            try:
                await loop.run_in_executor(None, self.state.deliver, user, envelope.original_content,
                                           envelope.mail_from)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                return f"451 4.3.0 delivery failed: {str(exc)[:200]}"
        return "250 2.0.0 Ok: delivered by dovecot-lda"


@contextlib.contextmanager
def running_mail_dovecot(directory: Path, pki) -> Iterator[MailDovecot]:
    from aiosmtpd.smtp import SMTP

    with running_dovecot(directory, pki) as dovecot:
        state = MailDovecot(dovecot)
        state.make_users(USERS)

        async def start(loop):
            server = await loop.create_server(lambda: SMTP(_Relay(state), hostname="relay.netkit.test"),
                                              "127.0.0.1", 0)
            state.smtp_port = server.sockets[0].getsockname()[1]
            return [server]

        with serving_in_thread(start, "mail-dovecot-relay"):
            yield state


@pytest.fixture(scope="session")
def mail_dovecot(pki, tmp_path_factory) -> Iterator[MailDovecot]:
    """A dovecot for the mail tests, with an SMTP relay into it (see the module docstring)."""
    with running_mail_dovecot(tmp_path_factory.mktemp("mail_dovecot"), pki) as state:
        yield state
