"""Session fixtures ``dovecot`` and ``dovecot_apop``: a real dovecot (POP3 and IMAP) on loopback.

Ports (attributes of the fixture value; ``host`` is "127.0.0.1", IPv4 only):

``pop3_port``     POP3, plain; ``STLS`` is offered (CAPA lists it), TLS with ``pki.good``.
``pop3s_port``    POP3 over implicit TLS (``pki.good``).
``imap_port``     IMAP, plain; ``STARTTLS`` is offered.
``imaps_port``    IMAP over implicit TLS (``pki.good``).

``disable_plaintext_auth = no``: USER/PASS and LOGIN work on the plain ports without TLS too.
Mechanisms: PLAIN and LOGIN (``dovecot_apop`` adds APOP, see below). Greetings are exactly
``+OK Dovecot ready.`` (POP3) and ``* OK [CAPABILITY ...] Dovecot ready.`` (IMAP).
Failed logins answer within half a second, however many there are (``auth_failure_delay = 0``
and no anvil auth penalty; a stock dovecot waits 2 s, then up to 15 s after repeated failures):
``-ERR [AUTH] Authentication failed.`` and ``NO [AUTHENTICATIONFAILED] Authentication failed.``

Users (``users``: {name: password}, random passwords, passdb/userdb a passwd-file):

``alice``   INBOX with 5 messages (``message_count``); subjects ``subjects[i]`` for message
            number i+1; sizes ``message_sizes`` exactly as POP3 LIST and IMAP RFC822.SIZE report
            them (CRLF line ends counted; the files on disk have LF); ``mailbox_size`` is their
            sum, as STAT reports it (1792 bytes). The last ``unseen_count`` (2) messages, 4 and 5, are unseen (delivered
            in ``new/``); 1-3 carry the maildir flag ``:2,S`` (\\Seen). IMAP ``SELECT INBOX``
            says ``5 EXISTS`` and ``[UNSEEN 4]``; ``SEARCH UNSEEN`` finds ``4 5``.
``bob``     an empty INBOX (STAT ``0 0``).

Other attributes: ``apop`` (bool), ``log_file`` (dovecot's log: logins, "Password mismatch"
lines with ``auth_verbose``), ``config``, ``directory``, ``mail_root`` (the maildirs).
Constants: ``ALICE``, ``BOB``, ``GREETING``; ``message_text(n)`` and ``wire_size(bytes)``.

Each message has the headers From, To, Subject, Date and Message-ID, then a body of
``line k of message n`` lines; ``message_text(n)`` is message n's bytes as stored (LF ends).

The fixture is shared by the whole session, so tests must leave the mail as they found it:
POP3 RETR does not mark messages seen (``pop3_no_flag_updates = yes``), but a POP3 DELE
followed by QUIT, an IMAP STORE / EXPUNGE, or an IMAP FETCH of BODY[] (rather than
BODY.PEEK[]) after SELECT (rather than EXAMINE) would change it for every later test. Such a
test calls ``dovecot.reset_mailboxes()`` at its end (with no session of its own still open),
which rewrites both maildirs and drops dovecot's indexes.

``dovecot_apop`` is a second instance, identical except that APOP is enabled: the POP3 greeting
then ends with a timestamp, ``+OK Dovecot ready. <...@HOSTNAME>`` (the machine's hostname;
poplib's ``apop()`` works).
APOP only needs the mechanism listed in ``auth_mechanisms`` and passwords the passdb can
return in plain text (``{PLAIN}`` in the passwd-file, as here); ``apop=True`` on
``running_dovecot`` gives the same outside pytest.

How it runs (as root, like the rest of the harness): ``dovecot -F -c CONF`` with base_dir,
state_dir and the log (``log_file``) under the temp dir. The mail processes may not run as
root (dovecot 2.3 refuses: "Mail access not allowed for root"), so they run as ``nobody``:
the maildirs belong to nobody, and each user's home is ``<mail>/./<name>`` so that dovecot
chroots into ``<mail>`` first (pytest's temp dirs are 0700 root; nobody could not walk down
to them otherwise). The auth process runs as root for the same reason (the passwd-file lies
in the temp dir too).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers._base import ServerProcess, can_connect, free_port, need_binary
from tests.peers.certs import Pki

DOVECOT = "/usr/sbin/dovecot"
DEBIAN_PACKAGE = "dovecot-core"
# The protocol binaries come from their own packages; dovecot alone cannot serve them.
PROTOCOL_BINARIES = {
    "/usr/lib/dovecot/pop3": "dovecot-pop3d",
    "/usr/lib/dovecot/imap": "dovecot-imapd",
}
HOST = "127.0.0.1"
GREETING = "Dovecot ready."
ALICE = "alice"
BOB = "bob"
# The unprivileged user the mail processes run as (dovecot will not run them as root).
MAIL_USER = "nobody"
# The listeners (keys of the ports dict given to render_config).
PORT_NAMES = ("pop3", "pop3s", "imap", "imaps")
# A stock dovecot waits 2 s before answering a failed login, and up to 15 s after repeated
# failures from one address (anvil's auth penalty, switched off here by not creating its
# socket); tests of bad passwords need not wait. Failures are still flushed by a 0.5 s timer.
AUTH_FAILURE_DELAY = "0"
# Concurrent sessions per user and client address (dovecot's default, 10, is low for
# benchmarks and concurrency tests that all log in as alice from 127.0.0.1).
MAX_USERIP_CONNECTIONS = 200
# alice's INBOX: (subject, body lines); the last UNSEEN_COUNT are unseen.
MESSAGES = (
    ("netkit test 1: hello", 3),
    ("netkit test 2: weekly report", 20),
    ("netkit test 3: invoice", 7),
    ("netkit test 4: unseen one", 12),
    ("netkit test 5: unseen two", 1),
)
UNSEEN_COUNT = 2
# Maildir file names: "<time>.M<n>P<pid>.<host>,S=<size>,W=<vsize>" (time in the past, fixed).
MAILDIR_TIME = 1_700_000_000
MAILDIR_HOST = "netkit"

CONFIG = """\
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log_file}
instance_name = netkit-{instance}
login_greeting = {greeting}
protocols = pop3 imap
listen = {host}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = {auth_failure_delay}
auth_verbose = yes
valid_chroot_dirs = {mail_root}
mail_location = maildir:~/Maildir
mail_max_userip_connections = {max_userip}
pop3_no_flag_updates = yes
passdb {{
  driver = passwd-file
  args = {users_file}
}}
userdb {{
  driver = passwd-file
  args = {users_file}
}}
service auth {{
  user = root
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
"""


def message_text(number: int) -> bytes:
    """Message ``number`` (1-based) of alice's INBOX, as stored (LF line ends)."""
    subject, lines = MESSAGES[number - 1]
    body = "".join(f"line {k} of message {number}\n" for k in range(1, lines + 1))
    return (
        "From: Carol Sender <carol@example.test>\n"
        f"To: {ALICE}@localhost\n"
        f"Subject: {subject}\n"
        f"Date: Tue, 14 Nov 2023 22:13:{number:02d} +0000\n"
        f"Message-ID: <{number}.netkit@example.test>\n"
        "\n"
        f"{body}"
    ).encode()


def wire_size(text: bytes) -> int:
    """Size as POP3 reports it: every line end counted as CRLF."""
    return len(text) + text.count(b"\n") - text.count(b"\r\n")


def write_mailboxes(mail_root: Path, uid: int, gid: int) -> None:
    """(Re)create alice's and bob's maildirs under ``mail_root``, owned by ``uid:gid``."""
    count = len(MESSAGES)
    for user in (ALICE, BOB):
        home = mail_root / user
        shutil.rmtree(home, ignore_errors=True)
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True)
    for number in range(1, count + 1):
        text = message_text(number)
        base = (
            f"{MAILDIR_TIME + number}.M{number}P1.{MAILDIR_HOST},S={len(text)},W={wire_size(text)}"
        )
        unseen = number > count - UNSEEN_COUNT
        name = f"new/{base}" if unseen else f"cur/{base}:2,S"
        path = mail_root / ALICE / "Maildir" / name
        path.write_bytes(text)
        # Delivery time = the name's time, so every order (name, mtime) agrees.
        os.utime(path, (MAILDIR_TIME + number, MAILDIR_TIME + number))
    for dirpath, _dirnames, filenames in os.walk(mail_root):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), uid, gid)


@dataclass(frozen=True)
class Dovecot:
    """A running dovecot; see the module docstring."""

    host: str
    pop3_port: int
    pop3s_port: int
    imap_port: int
    imaps_port: int
    users: dict[str, str]
    message_count: int
    mailbox_size: int
    unseen_count: int
    subjects: list[str]
    message_sizes: list[int]
    apop: bool
    directory: Path
    log_file: Path
    config: Path
    mail_root: Path
    mail_uid: int = field(repr=False)
    mail_gid: int = field(repr=False)

    def reset_mailboxes(self) -> None:
        """Put both mailboxes back as the fixture made them (call with no session open)."""
        write_mailboxes(self.mail_root, self.mail_uid, self.mail_gid)


def render_config(
    directory: Path,
    ports: dict[str, int],
    pki: Pki,
    users_file: Path,
    mail_root: Path,
    apop: bool = False,
) -> str:
    """dovecot.conf for ``ports`` (keys: PORT_NAMES)."""
    return CONFIG.format(
        base_dir=directory / "run",
        state_dir=directory / "state",
        log_file=directory / "dovecot.log",
        instance=directory.name,
        greeting=GREETING,
        host=HOST,
        cert=pki.good.cert,
        key=pki.good.key,
        mechanisms="plain login apop" if apop else "plain login",
        auth_failure_delay=AUTH_FAILURE_DELAY,
        mail_root=mail_root,
        max_userip=MAX_USERIP_CONNECTIONS,
        users_file=users_file,
        **ports,
    )


@contextlib.contextmanager
def running_dovecot(directory: Path, pki: Pki, *, apop: bool = False) -> Iterator[Dovecot]:
    """Write config, users and maildirs under ``directory``; run dovecot (retrying on a taken
    port) until the block ends."""
    binary = need_binary(DOVECOT, DEBIAN_PACKAGE)
    for path, package in PROTOCOL_BINARIES.items():
        need_binary(path, package)
    if os.geteuid() != 0:
        pytest.fail(
            "the dovecot peer runs as root (its mail processes run as nobody)", pytrace=False
        )
    nobody = pwd.getpwnam(MAIL_USER)
    directory = directory.absolute()
    directory.mkdir(parents=True, exist_ok=True)
    mail_root = directory / "mail"
    write_mailboxes(mail_root, nobody.pw_uid, nobody.pw_gid)
    users = {ALICE: secrets.token_urlsafe(12), BOB: secrets.token_urlsafe(12)}
    users_file = directory / "users"
    # name:password:uid:gid:gecos:home:shell; "/./" makes dovecot chroot into mail_root.
    users_file.write_text(
        "".join(
            f"{name}:{{PLAIN}}{password}:{nobody.pw_uid}:{nobody.pw_gid}::{mail_root}/./{name}::\n"
            for name, password in users.items()
        )
    )
    users_file.chmod(0o600)
    conf = directory / "dovecot.conf"
    log_file = directory / "dovecot.log"
    chosen: dict[str, int] = {}

    def factory(attempt: int) -> ServerProcess:
        chosen.clear()
        # free_port closes each socket at once, so two names could get one number: redraw.
        while len(chosen) < len(PORT_NAMES):
            port = free_port(HOST)
            if port not in chosen.values():
                chosen[PORT_NAMES[len(chosen)]] = port
        conf.write_text(render_config(directory, chosen, pki, users_file, mail_root, apop))
        return ServerProcess(
            "dovecot",
            [binary, "-F", "-c", str(conf)],
            log_file=directory / "stderr.log",
            ready=lambda: all(can_connect(HOST, port) for port in chosen.values()),
            extra_logs=[log_file],
        )

    sizes = [wire_size(message_text(n)) for n in range(1, len(MESSAGES) + 1)]
    with ServerProcess.start_with_retries(factory):
        yield Dovecot(
            host=HOST,
            pop3_port=chosen["pop3"],
            pop3s_port=chosen["pop3s"],
            imap_port=chosen["imap"],
            imaps_port=chosen["imaps"],
            users=users,
            message_count=len(MESSAGES),
            mailbox_size=sum(sizes),
            unseen_count=UNSEEN_COUNT,
            subjects=[subject for subject, _ in MESSAGES],
            message_sizes=sizes,
            apop=apop,
            directory=directory,
            log_file=log_file,
            config=conf,
            mail_root=mail_root,
            mail_uid=nobody.pw_uid,
            mail_gid=nobody.pw_gid,
        )


@pytest.fixture(scope="session")
def dovecot(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """A running dovecot, POP3 and IMAP (see the module docstring)."""
    with running_dovecot(tmp_path_factory.mktemp("dovecot"), pki) as info:
        yield info


@pytest.fixture(scope="session")
def dovecot_apop(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """A second dovecot like ``dovecot`` that also offers APOP (timestamp in the greeting)."""
    with running_dovecot(tmp_path_factory.mktemp("dovecot_apop"), pki, apop=True) as info:
        yield info
