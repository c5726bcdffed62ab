"""Peers for ``netkit ssh``: many sshd "hosts", a password login, a connection that is cut.

``ssh_fleet``      (session) :class:`tests.peers.sshd.SshdFleet` of FLEET_HOSTS hosts on
                   127.0.7.1, 127.0.7.2, ...: one sshd instance, one known_hosts, one client key.
``password_sshd``  (session) an sshd that also takes passwords, and a system user made for
                   it: ``.sshd`` (the :class:`Sshd`), ``.user``, ``.password``. sshd without
                   PAM checks /etc/shadow; root has no password there, so the user is made
                   with ``useradd`` (needs root), given a random password with ``chpasswd``,
                   and removed (``userdel``) at teardown.
``cut_relay(host, port, after)``  a TCP relay on 127.0.0.1 to ``host:port`` that closes
                   both sides once ``after`` bytes went from the server to the client: a
                   connection cut in the middle of a transfer. ``.port``, ``.cuts``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.peers._base import need_binary
from tests.peers.sshd import Sshd, SshdFleet, running_sshd, running_sshd_fleet

FLEET_HOSTS = 4
# 127.0.7.0/24: the fleet's addresses (other blocks are free for other fleets).
FLEET_BLOCK = 7
# How long a relay waits for either side before giving up on the connection.
RELAY_IDLE = 30.0


@pytest.fixture(scope="session")
def ssh_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdFleet]:
    with running_sshd_fleet(tmp_path_factory.mktemp("fleet"), FLEET_HOSTS, block=FLEET_BLOCK) as fleet:
        yield fleet


@dataclass(frozen=True)
class PasswordSshd:
    sshd: Sshd
    user: str
    password: str


@contextlib.contextmanager
def temporary_user(password: bool = True, shell: str = "/bin/sh") -> Iterator[tuple[str, str]]:
    """A system user (home /tmp, so no rc files) with a random password, or with none but
    not locked (``password=False``: key logins only), removed afterwards: (name, password)."""
    useradd = need_binary("useradd", "passwd")
    chpasswd = need_binary("chpasswd", "passwd")
    userdel = need_binary("userdel", "passwd")
    name = f"nkssh{os.getpid() % 100000}{'' if password else 'k'}"
    secret = secrets.token_urlsafe(12) if password else ""
    subprocess.run([userdel, name], capture_output=True, check=False)  # a crashed run's leftover
    subprocess.run([useradd, "-M", "-d", "/tmp", "-s", shell, name], check=True, capture_output=True)
    try:
        # "*": no password, yet not locked ("!"), which sshd would refuse even for keys.
        line = f"{name}:{secret}" if password else f"{name}:*"
        subprocess.run([chpasswd, *([] if password else ["-e"])], input=line + "\n", text=True, check=True,
                       capture_output=True)
        yield name, secret
    finally:
        subprocess.run([userdel, name], capture_output=True, check=False)


@pytest.fixture(scope="session")
def password_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PasswordSshd]:
    with temporary_user() as (name, password), running_sshd(
        tmp_path_factory.mktemp("sshd_password"),
        extra_config="PasswordAuthentication yes\nKbdInteractiveAuthentication no\n",
    ) as sshd:
        yield PasswordSshd(sshd, name, password)


@dataclass
class CutRelay:
    port: int
    cuts: list[int] = field(default_factory=list)  # bytes relayed before each cut


@contextlib.contextmanager
def cut_relay(host: str, port: int, after: int) -> Iterator[CutRelay]:
    """See the module docstring. Each accepted connection is relayed by two threads."""
    listener = socket.create_server(("127.0.0.1", 0))
    relay = CutRelay(listener.getsockname()[1])
    stop = threading.Event()

    def pump(src, dst, limit, sent):
        try:
            while not stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent[0] + len(data) >= limit:
                    dst.sendall(data[: max(0, limit - sent[0])])
                    sent[0] = limit
                    relay.cuts.append(limit)
                    break
                dst.sendall(data)
                sent[0] += len(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def serve():
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((host, port), timeout=RELAY_IDLE)
            server.settimeout(RELAY_IDLE)
            client.settimeout(RELAY_IDLE)
            down = [0]
            threading.Thread(target=pump, args=(client, server, None, [0]), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, after, down), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield relay
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def other_public_key(directory: Path, kind: str = "ed25519") -> str:
    """A fresh public key line ``TYPE BASE64``: what a server's "changed" key looks like."""
    keygen = need_binary("ssh-keygen", "openssh-client")
    path = directory / f"other_{kind}"
    subprocess.run([keygen, "-q", "-t", kind, "-N", "", "-f", str(path)], check=True, capture_output=True)
    return " ".join(path.with_name(path.name + ".pub").read_text().split()[:2])
