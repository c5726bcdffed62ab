"""Self-tests of the dovecot and sshd peers: each behaves as its module docstring promises.

Only the standard library (poplib, imaplib, socket) and the OpenSSH client binaries talk to
the peers here, so a failure points at the peer, never at netkit.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import imaplib
import os
import poplib
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers._base import need_binary
from tests.peers.certs import Pki
from tests.peers.dovecot import ALICE, BOB, GREETING, Dovecot, message_text, wire_size
from tests.peers.sshd import (
    CLIENT_PACKAGE,
    HOST_KEY_TYPES,
    MAX_ENDPOINTS,
    Sshd,
    known_hosts_lines,
    running_sshd,
)

# Socket timeout for servers that should answer at once.
QUICK = 5.0
# A failed login must come back well before a stock dovecot's 2 s delay.
FAST_FAILURE = 1.5
# Wall time allowed to one ssh/sftp client run.
SSH_TIMEOUT = 20.0


# --- dovecot: POP3 -------------------------------------------------------------------------


@contextlib.contextmanager
def pop3(
    dovecot: Dovecot, user: str = ALICE, *, password: str | None = None
) -> Iterator[poplib.POP3]:
    """A plain POP3 session logged in with USER/PASS; QUIT at the end."""
    client = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=QUICK)
    try:
        client.user(user)
        client.pass_(dovecot.users[user] if password is None else password)
        yield client
    finally:
        with contextlib.suppress(OSError, poplib.error_proto):
            client.quit()
        client.close()


def subject_of(lines: list[bytes]) -> str:
    """The Subject header's value among message lines."""
    for line in lines:
        if line.startswith(b"Subject: "):
            return line[len(b"Subject: ") :].decode()
    raise AssertionError(f"no Subject in {lines!r}")


def test_dovecot_pop3_greeting_and_capabilities(dovecot: Dovecot) -> None:
    client = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=QUICK)
    try:
        assert client.getwelcome() == f"+OK {GREETING}".encode()
        capa = client.capa()
        assert {"STLS", "USER", "TOP", "UIDL", "SASL"} <= set(capa)
        assert capa["SASL"] == ["PLAIN", "LOGIN"]
    finally:
        client.quit()


def test_dovecot_pop3_stat_list_uidl_top(dovecot: Dovecot) -> None:
    with pop3(dovecot) as client:
        assert client.stat() == (dovecot.message_count, dovecot.mailbox_size)
        assert (dovecot.message_count, dovecot.mailbox_size) == (5, 1792)  # as documented
        _, listing, _ = client.list()
        sizes = [int(line.split()[1]) for line in listing]
        assert sizes == dovecot.message_sizes
        assert sum(sizes) == dovecot.mailbox_size
        _, uidls, _ = client.uidl()
        numbers = [int(line.split()[0]) for line in uidls]
        assert numbers == list(range(1, dovecot.message_count + 1))
        assert len({line.split()[1] for line in uidls}) == dovecot.message_count
        subjects = [subject_of(client.top(n, 0)[1]) for n in range(1, dovecot.message_count + 1)]
        assert subjects == dovecot.subjects


def test_dovecot_pop3_retr_is_the_stored_message_and_does_not_mark_seen(
    dovecot: Dovecot,
) -> None:
    last = dovecot.message_count  # unseen
    with pop3(dovecot) as client:
        _, lines, octets = client.retr(last)
        assert b"\n".join(lines) + b"\n" == message_text(last)
        assert octets == dovecot.message_sizes[last - 1]
    with imap(dovecot) as client:
        client.select("INBOX", readonly=True)
        assert unseen(client) == [4, 5]


def test_dovecot_pop3_empty_mailbox(dovecot: Dovecot) -> None:
    with pop3(dovecot, BOB) as client:
        assert client.stat() == (0, 0)


def test_dovecot_pop3_wrong_password_fails_fast(dovecot: Dovecot) -> None:
    for _ in range(2):  # a repeated failure is not slowed down either (no auth penalty)
        started = time.monotonic()
        with pytest.raises(poplib.error_proto) as failure, pop3(dovecot, password="wrong"):
            pass
        assert failure.value.args[0] == b"-ERR [AUTH] Authentication failed."
        assert time.monotonic() - started < FAST_FAILURE


def test_dovecot_pop3_stls(dovecot: Dovecot, pki: Pki) -> None:
    client = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=QUICK)
    try:
        client.stls(context=pki.client_context())
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        client.user(ALICE)
        client.pass_(dovecot.users[ALICE])
        assert client.stat() == (dovecot.message_count, dovecot.mailbox_size)
    finally:
        client.quit()


def test_dovecot_pop3s(dovecot: Dovecot, pki: Pki) -> None:
    client = poplib.POP3_SSL(
        dovecot.host, dovecot.pop3s_port, timeout=QUICK, context=pki.client_context()
    )
    try:
        assert client.getwelcome() == f"+OK {GREETING}".encode()
        assert "STLS" not in client.capa()  # already TLS
        client.user(BOB)
        client.pass_(dovecot.users[BOB])
        assert client.stat() == (0, 0)
    finally:
        client.quit()


def test_dovecot_apop(dovecot_apop: Dovecot, dovecot: Dovecot) -> None:
    assert b"<" not in poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=QUICK).getwelcome()
    client = poplib.POP3(dovecot_apop.host, dovecot_apop.pop3_port, timeout=QUICK)
    try:
        assert re.fullmatch(rb"\+OK Dovecot ready\. <[^<>@]+@[^<>]+>", client.getwelcome())
        assert "APOP" not in client.capa()["SASL"]  # APOP is a command, not a SASL mechanism
        client.apop(ALICE, dovecot_apop.users[ALICE])
        assert client.stat() == (dovecot_apop.message_count, dovecot_apop.mailbox_size)
    finally:
        client.quit()
    with pytest.raises(poplib.error_proto, match="Authentication failed"):
        poplib.POP3(dovecot_apop.host, dovecot_apop.pop3_port, timeout=QUICK).apop(ALICE, "x")


# --- dovecot: IMAP -------------------------------------------------------------------------


@contextlib.contextmanager
def imap(dovecot: Dovecot, user: str = ALICE) -> Iterator[imaplib.IMAP4]:
    """A plain IMAP session logged in with LOGIN; LOGOUT at the end."""
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=QUICK)
    try:
        client.login(user, dovecot.users[user])
        yield client
    finally:
        client.logout()


def unseen(client: imaplib.IMAP4) -> list[int]:
    """Sequence numbers of the unseen messages of the selected mailbox."""
    typ, data = client.search(None, "UNSEEN")
    assert typ == "OK"
    return [int(n) for n in data[0].split()]


def test_dovecot_imap_greeting_select_unseen(dovecot: Dovecot) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=QUICK)
    try:
        assert client.welcome.startswith(b"* OK [CAPABILITY ")
        assert client.welcome.endswith(GREETING.encode())
        assert "STARTTLS" in client.capabilities
        assert "LOGINDISABLED" not in client.capabilities  # plain LOGIN allowed without TLS
        client.login(ALICE, dovecot.users[ALICE])
        typ, data = client.select("INBOX")
        assert (typ, data) == ("OK", [str(dovecot.message_count).encode()])
        assert client.untagged_responses["UNSEEN"] == [b"4"]
        assert unseen(client) == [4, 5]
        assert len(unseen(client)) == dovecot.unseen_count
        typ, data = client.fetch("1:*", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        parts = [part for part in data if isinstance(part, tuple)]
        sizes = [int(re.search(rb"RFC822\.SIZE (\d+)", head).group(1)) for head, _ in parts]
        assert sizes == dovecot.message_sizes
        subjects = [body.decode().strip().removeprefix("Subject: ") for _, body in parts]
        assert subjects == dovecot.subjects
        assert unseen(client) == [4, 5]  # BODY.PEEK left the flags alone
    finally:
        client.logout()


def test_dovecot_imap_empty_mailbox(dovecot: Dovecot) -> None:
    with imap(dovecot, BOB) as client:
        assert client.select("INBOX", readonly=True) == ("OK", [b"0"])
        assert unseen(client) == []


def test_dovecot_imap_wrong_password_fails_fast(dovecot: Dovecot) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=QUICK)
    try:
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\]"):
            client.login(ALICE, "wrong")
        assert time.monotonic() - started < FAST_FAILURE
    finally:
        client.logout()


def test_dovecot_imap_starttls(dovecot: Dovecot, pki: Pki) -> None:
    client = imaplib.IMAP4(dovecot.host, dovecot.imap_port, timeout=QUICK)
    try:
        client.starttls(ssl_context=pki.client_context())
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        client.login(ALICE, dovecot.users[ALICE])
        assert client.select("INBOX", readonly=True) == ("OK", [b"5"])
    finally:
        client.logout()


def test_dovecot_imaps(dovecot: Dovecot, pki: Pki) -> None:
    client = imaplib.IMAP4_SSL(
        dovecot.host, dovecot.imaps_port, ssl_context=pki.client_context(), timeout=QUICK
    )
    try:
        assert "STARTTLS" not in client.capabilities
        client.login(ALICE, dovecot.users[ALICE])
        assert client.select("INBOX", readonly=True) == ("OK", [b"5"])
        assert unseen(client) == [4, 5]
    finally:
        client.logout()


def test_dovecot_reset_mailboxes(dovecot: Dovecot) -> None:
    try:
        with imap(dovecot) as client:
            client.select("INBOX")
            client.store("4:5", "+FLAGS", r"(\Seen)")
            assert unseen(client) == []
        with pop3(dovecot) as client:
            client.dele(1)
        with pop3(dovecot) as client:
            assert client.stat()[0] == dovecot.message_count - 1
    finally:
        dovecot.reset_mailboxes()
    with pop3(dovecot) as client:
        assert client.stat() == (dovecot.message_count, dovecot.mailbox_size)
    with imap(dovecot) as client:
        client.select("INBOX", readonly=True)
        assert unseen(client) == [4, 5]


def test_dovecot_sizes_count_crlf() -> None:
    assert wire_size(b"a\nb\n") == 6
    assert wire_size(b"a\r\nb\n") == 6


# --- sshd ----------------------------------------------------------------------------------


def ssh(sshd: Sshd, *args: str, known_hosts: Path | None = None, key: Path | None = None):
    """The ``ssh`` client as the brief spells it (plus no ssh_config, no prompts)."""
    # fmt: off
    return subprocess.run(
        [
            need_binary("ssh", CLIENT_PACKAGE),
            "-F", "none",
            "-o", "BatchMode=yes",
            "-o", "IdentitiesOnly=yes",
            "-i", str(key or sshd.client_key),
            "-o", f"UserKnownHostsFile={known_hosts or sshd.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-p", str(sshd.port),
            f"{sshd.user}@127.0.0.1",
            *args,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    # fmt: on


def test_sshd_banner(sshd: Sshd) -> None:
    with socket.create_connection((sshd.host, sshd.port), timeout=QUICK) as sock:
        line = sock.makefile("rb").readline()
    assert line.startswith(b"SSH-2.0-OpenSSH_")
    assert line.endswith(b"\r\n")


def test_sshd_key_login(sshd: Sshd) -> None:
    result = ssh(sshd, "echo", "hi")
    assert (result.returncode, result.stdout) == (0, "hi\n"), result.stderr
    assert f"Accepted publickey for {sshd.user} from 127.0.0.1" in sshd.log_file.read_text()


def test_sshd_ssh_command_helper_and_exit_status(sshd: Sshd) -> None:
    result = subprocess.run(
        sshd.ssh_command("echo out; echo err >&2; exit 3"),
        check=False,
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")


def test_sshd_host_keys_and_fingerprints(sshd: Sshd) -> None:
    assert set(sshd.host_keys) == set(sshd.host_key_fingerprints) == set(HOST_KEY_TYPES)
    for kind, line in sshd.host_keys.items():
        blob = base64.b64decode(line.split()[1])
        digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        assert sshd.host_key_fingerprints[kind] == f"SHA256:{digest}"
    # The server presents exactly these keys.
    scan = subprocess.run(
        [
            need_binary("ssh-keyscan", CLIENT_PACKAGE),
            "-p",
            str(sshd.port),
            "-t",
            "ed25519,ecdsa,rsa",
            sshd.host,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT,
    )
    scanned = {" ".join(line.split()[1:3]) for line in scan.stdout.splitlines()}
    assert scanned == {" ".join(line.split()[:2]) for line in sshd.host_keys.values()}
    known = sshd.known_hosts.read_text().splitlines()
    assert len(known) == len(HOST_KEY_TYPES)
    assert all(line.startswith(f"[127.0.0.1]:{sshd.port} ") for line in known)


def test_sshd_changed_host_key_is_refused(sshd: Sshd, tmp_path: Path) -> None:
    # Another key (the client's own ed25519 key) claimed as the host's: "changed" host key.
    liar = tmp_path / "known_hosts"
    liar.write_text(known_hosts_lines({"ed25519": sshd.client_pubkey}, sshd.endpoints))
    result = ssh(sshd, "echo", "hi", known_hosts=liar)
    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr


def test_sshd_refuses_other_keys_and_passwords(sshd: Sshd, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(
        [
            need_binary("ssh-keygen", CLIENT_PACKAGE),
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            str(other),
        ],
        check=True,
        timeout=SSH_TIMEOUT,
    )
    result = ssh(sshd, "echo", "hi", key=other)
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr  # the only method offered


def test_sshd_sftp(sshd: Sshd, tmp_path: Path) -> None:
    (tmp_path / "up.txt").write_text("netkit sftp\n")
    batch = tmp_path / "batch"
    batch.write_text(f"put {tmp_path / 'up.txt'} {tmp_path / 'remote.txt'}\n")
    result = subprocess.run(
        [
            need_binary("sftp", CLIENT_PACKAGE),
            "-F",
            "none",
            "-b",
            str(batch),
            "-i",
            str(sshd.client_key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={sshd.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-P",
            str(sshd.port),
            f"{sshd.user}@{sshd.host}",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=SSH_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "remote.txt").read_text() == "netkit sftp\n"


def test_sshd_many_endpoints_outside_the_fixture(tmp_path: Path) -> None:
    with running_sshd(tmp_path, addresses=("127.0.0.1", "127.0.0.2"), ports_per_address=2) as peer:
        assert len(set(peer.endpoints)) == 4
        assert {address for address, _ in peer.endpoints} == {"127.0.0.1", "127.0.0.2"}
        assert len(peer.known_hosts.read_text().splitlines()) == 4 * len(HOST_KEY_TYPES)
        clients = [
            subprocess.Popen(
                peer.ssh_command("echo", "hi", endpoint=endpoint),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                stdin=subprocess.DEVNULL,
            )
            for endpoint in peer.endpoints
        ]
        for client in clients:
            out, err = client.communicate(timeout=SSH_TIMEOUT)
            assert (client.returncode, out) == (0, "hi\n"), err
        pid = int((tmp_path / "sshd.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_sshd_endpoint_limit(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="1 to 16"),
        running_sshd(tmp_path, ports_per_address=MAX_ENDPOINTS + 1),
    ):
        pass
