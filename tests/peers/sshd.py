"""Session fixture ``sshd``: OpenSSH's sshd on a loopback ephemeral port, key logins only.

Not the system service: ``/usr/sbin/sshd -D -e -f CONF`` with its own config, host keys and
pid file in a temp dir, stopped at teardown. Attributes of the fixture value:

``host``, ``port``        "127.0.0.1" and the port (the first of ``endpoints``).
``endpoints``             every (address, port) it listens on; one unless more were asked for
                          (``running_sshd(..., addresses=..., ports_per_address=...)``).
``user``                  the user tests log in as: the current user (root in CI).
``client_key``            path of the client's private ed25519 key (no passphrase, mode 0600).
``client_pubkey``         its public key line; the only line of ``authorized_keys``.
``host_keys``             {"ed25519" | "ecdsa" | "rsa": public key line "TYPE BASE64 COMMENT"}
``host_key_fingerprints`` {same keys: "SHA256:..."} as ``ssh-keygen -lf`` prints them.
``known_hosts``           a known_hosts file: ``[ADDRESS]:PORT KEY`` for every endpoint and key.
``log_file``              sshd's log (``-e``: stderr; LogLevel VERBOSE: connections, accepted
                          keys, "Server listening on ..." lines).
``config``, ``directory`` the sshd_config and the temp dir.
``ssh_command(*remote)``  argv of the OpenSSH client logging in with all of the above, e.g.
                          ``subprocess.run(sshd.ssh_command("echo", "hi"))``.

Host keys (ed25519, ecdsa P-256, rsa 2048 bits) and the client key are made by ``ssh-keygen``
at every start: a second instance has other keys, which is how a "changed host key" looks
(``known_hosts_lines(other.host_keys, this.endpoints)`` writes the lie).

Config highlights: ``UsePAM no``, ``StrictModes no``, ``PasswordAuthentication no``,
``KbdInteractiveAuthentication no`` (publickey only), ``PermitRootLogin prohibit-password``,
``MaxStartups 100:30:200`` (many parallel handshakes), ``Subsystem sftp internal-sftp``,
``AcceptEnv LANG LC_* NETKIT_*``. There is no password login: without PAM sshd checks
/etc/shadow, where root has no password, so it would need a system user made for the tests.

The identification line is ``SSH-2.0-OpenSSH_<version>`` (e.g. ``SSH-2.0-OpenSSH_9.2p1
Debian-2+deb12u10``), sent as soon as a client connects.

sshd needs its privilege separation directory ``/run/sshd``; it is created when missing.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers._base import ServerProcess, free_port, need_binary

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "ssh-keygen"
SSH = "ssh"
DEBIAN_PACKAGE = "openssh-server"
CLIENT_PACKAGE = "openssh-client"
HOST = "127.0.0.1"
# Privilege separation directory compiled into Debian's sshd (the system service makes it).
PRIVSEP_DIR = Path("/run/sshd")
HOST_KEY_TYPES = ("ed25519", "ecdsa", "rsa")
# 2048 rather than ssh-keygen's 3072: half the time to generate (0.3 s against 0.7 s here).
RSA_BITS = 2048
KEY_COMMENT = "netkit-test"
# start:rate:full. Unauthenticated connections sshd takes before it drops some (default
# 10:30:100 drops handshakes when tests or benchmarks connect to many "hosts" at once).
MAX_STARTUPS = "100:30:200"
# sshd listens on at most 16 sockets (MAX_LISTEN_SOCKS); more hosts need more instances.
MAX_ENDPOINTS = 16
# sshd's words when one ListenAddress cannot be bound (it goes on with the others).
BIND_FAILED = re.compile(r"(error: )?Bind to port \d+ on \S+ failed")
# First port of an sshd run in a network namespace (``running_sshd(..., netns=...)``).
NETNS_PORT = 2222
# How long ssh-keygen may take for all keys together.
KEYGEN_TIMEOUT = 30.0

CONFIG = """\
{listen}
PidFile {pid_file}
{host_keys}
AuthorizedKeysFile {authorized_keys}
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups {max_startups}
LogLevel VERBOSE
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
AcceptEnv LANG LC_* NETKIT_*
Subsystem sftp internal-sftp
"""


def openssh_options(client_key, known_hosts) -> list[str]:
    """OpenSSH client options (ssh, sftp, pssh's -x) for the test sshd: no ssh_config, only
    ``client_key``, never a prompt, only the host keys of ``known_hosts``."""
    return ["-F", "none", "-i", str(client_key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes"]


@dataclass(frozen=True)
class Sshd:
    """A running sshd; see the module docstring."""

    host: str
    port: int
    endpoints: tuple[tuple[str, int], ...]
    user: str
    client_key: Path
    client_pubkey: str
    host_keys: dict[str, str]
    host_key_fingerprints: dict[str, str]
    known_hosts: Path
    log_file: Path
    config: Path
    directory: Path

    def ssh_command(self, *remote: str, endpoint: tuple[str, int] | None = None) -> list[str]:
        """argv of ``ssh`` logging in as ``user`` with ``client_key``, checking ``known_hosts``
        strictly, reading no ssh_config, never prompting; then the remote command."""
        host, port = endpoint or (self.host, self.port)
        return [need_binary(SSH, CLIENT_PACKAGE), *openssh_options(self.client_key, self.known_hosts),
                "-p", str(port), f"{self.user}@{host}", *remote]


def known_hosts_lines(host_keys: dict[str, str], endpoints: Sequence[tuple[str, int]]) -> str:
    """known_hosts text naming every endpoint ``[address]:port`` with every key of
    ``host_keys`` (comments dropped)."""
    return "".join(
        f"[{address}]:{port} {' '.join(line.split()[:2])}\n"
        for address, port in endpoints
        for line in host_keys.values()
    )


def generate_keys(directory: Path) -> tuple[dict[str, Path], Path]:
    """Host keys (``host_<type>``) and the client key (``client_ed25519``), all at once."""
    keygen = need_binary(SSH_KEYGEN, CLIENT_PACKAGE)
    host_keys = {kind: directory / f"host_{kind}" for kind in HOST_KEY_TYPES}
    client_key = directory / "client_ed25519"
    jobs = [(kind, path) for kind, path in host_keys.items()] + [("ed25519", client_key)]
    procs = []
    for kind, path in jobs:
        for stale in (path, path.with_name(path.name + ".pub")):
            stale.unlink(missing_ok=True)
        bits = ["-b", str(RSA_BITS)] if kind == "rsa" else []
        procs.append(
            subprocess.Popen(
                [keygen, "-q", "-t", kind, *bits, "-N", "", "-C", KEY_COMMENT, "-f", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for (kind, path), proc in zip(jobs, procs):
        out, _ = proc.communicate(timeout=KEYGEN_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"ssh-keygen -t {kind} -f {path} failed: {out.decode()}")
    return host_keys, client_key


def fingerprint(public_key_file: Path) -> str:
    """``SHA256:...`` of a public key, from ``ssh-keygen -lf``."""
    keygen = need_binary(SSH_KEYGEN, CLIENT_PACKAGE)
    out = subprocess.run(
        [keygen, "-lf", str(public_key_file)], capture_output=True, text=True, check=True
    ).stdout
    # "256 SHA256:abc... comment (ED25519)"
    return out.split()[1]


def ensure_privsep_dir() -> None:
    """Create /run/sshd (root-owned, 0755) when it is missing; sshd refuses to start without."""
    if PRIVSEP_DIR.is_dir():
        return
    try:
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
    except OSError as exc:
        pytest.fail(f"sshd needs {PRIVSEP_DIR}: cannot create it ({exc})", pytrace=False)


def render_config(
    directory: Path,
    endpoints: Sequence[tuple[str, int]],
    host_keys: dict[str, Path],
    authorized_keys: Path,
    extra: str = "",
) -> str:
    """sshd_config listening on ``endpoints``; ``extra`` lines go first (sshd keeps the
    first value of a keyword, so they override the defaults above)."""
    text = CONFIG.format(
        listen="\n".join(f"ListenAddress {address}:{port}" for address, port in endpoints),
        pid_file=directory / "sshd.pid",
        host_keys="\n".join(f"HostKey {path}" for path in host_keys.values()),
        authorized_keys=authorized_keys,
        max_startups=MAX_STARTUPS,
    )
    return (extra.rstrip("\n") + "\n" if extra else "") + text


@contextlib.contextmanager
def running_sshd(
    directory: Path,
    *,
    addresses: Sequence[str] = (HOST,),
    ports_per_address: int = 1,
    extra_config: str = "",
    netns: str | None = None,
) -> Iterator[Sshd]:
    """Make keys and config under ``directory`` and run sshd (retrying on a taken port).

    It listens on ``ports_per_address`` free ports of each of ``addresses`` (any of
    127.0.0.0/8 works on Linux), at most :data:`MAX_ENDPOINTS` in all. ``extra_config``
    (sshd_config lines, e.g. ``PasswordAuthentication yes``) takes precedence over the
    defaults. ``netns``: run sshd in that network namespace (``ip netns exec``; the
    addresses are the namespace's, the ports NETNS_PORT and up, which nothing else there uses).
    """
    binary = need_binary(SSHD, DEBIAN_PACKAGE)
    count = len(addresses) * ports_per_address
    if not 1 <= count <= MAX_ENDPOINTS:
        raise ValueError(f"sshd listens on 1 to {MAX_ENDPOINTS} sockets, not {count}")
    ensure_privsep_dir()
    directory = directory.absolute()
    directory.mkdir(parents=True, exist_ok=True)
    host_key_files, client_key = generate_keys(directory)
    client_pubkey = client_key.with_name(client_key.name + ".pub").read_text().strip()
    authorized_keys = directory / "authorized_keys"
    authorized_keys.write_text(client_pubkey + "\n")
    host_keys = {
        kind: path.with_name(path.name + ".pub").read_text().strip()
        for kind, path in host_key_files.items()
    }
    fingerprints = {
        kind: fingerprint(path.with_name(path.name + ".pub"))
        for kind, path in host_key_files.items()
    }
    conf = directory / "sshd_config"
    pid_file = directory / "sshd.pid"
    log_file = directory / "sshd.log"
    endpoints: list[tuple[str, int]] = []

    def factory(attempt: int) -> ServerProcess:
        endpoints.clear()
        for address in addresses:
            while sum(1 for a, _ in endpoints if a == address) < ports_per_address:
                if netns is not None:  # free_port cannot bind the namespace's addresses
                    port = NETNS_PORT + attempt * MAX_ENDPOINTS + len(endpoints)
                else:
                    port = free_port(address)
                if (address, port) not in endpoints:
                    endpoints.append((address, port))
        conf.write_text(render_config(directory, endpoints, host_key_files, authorized_keys,
                                       extra_config))
        pid_file.unlink(missing_ok=True)
        start = log_file.stat().st_size if log_file.exists() else 0
        server: ServerProcess

        def ready() -> bool:
            log = log_file.read_bytes()[start:].decode(errors="replace")
            if any(BIND_FAILED.match(line) for line in log.splitlines()):
                # One of several sockets is taken and sshd carries on with the rest: end it,
                # so that start() reports the (port-taken) failure and a retry follows.
                server.stop()
                return False
            # The pid file comes after every "Server listening on ..." line.
            if not pid_file.exists() or pid_file.read_text().strip() != str(server.pid):
                return False
            return all(f"Server listening on {a} port {p}." in log for a, p in endpoints)

        prefix = ["ip", "netns", "exec", netns] if netns is not None else []
        server = ServerProcess(
            "sshd", [*prefix, binary, "-D", "-e", "-f", str(conf)], log_file=log_file, ready=ready
        )
        return server

    known_hosts = directory / "known_hosts"
    with ServerProcess.start_with_retries(factory):
        known_hosts.write_text(known_hosts_lines(host_keys, endpoints))
        yield Sshd(
            host=endpoints[0][0],
            port=endpoints[0][1],
            endpoints=tuple(endpoints),
            user=pwd.getpwuid(os.geteuid()).pw_name,
            client_key=client_key,
            client_pubkey=client_pubkey,
            host_keys=host_keys,
            host_key_fingerprints=fingerprints,
            known_hosts=known_hosts,
            log_file=log_file,
            config=conf,
            directory=directory,
        )


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A running sshd with key login for the current user (see the module docstring)."""
    with running_sshd(tmp_path_factory.mktemp("sshd")) as info:
        yield info


# --- many "hosts" at once ------------------------------------------------------------------

# Loopback addresses of a fleet: 127.0.1.1, 127.0.1.2, ... (one per host, so that hosts
# differ by address as real ones do, each on a port of its own).
FLEET_NETWORK = "127.0.{block}.{index}"


@dataclass(frozen=True)
class SshdFleet:
    """``hosts`` sshd endpoints from as many sshd instances as needed (16 sockets each),
    all taking one client key and written into one known_hosts file.

    ``endpoints``  every (address, port), address 127.0.B.i (i from 1)
    ``instances``  the :class:`Sshd` of each instance
    ``client_key`` the first instance's client key (every instance authorizes it)
    ``known_hosts`` one file naming every endpoint with its instance's host keys
    ``user``       the user to log in as
    """

    endpoints: tuple[tuple[str, int], ...]
    instances: tuple[Sshd, ...]
    client_key: Path
    known_hosts: Path
    user: str

    def host_args(self) -> list[str]:
        """``user@address:port`` for every endpoint."""
        return [f"{self.user}@{address}:{port}" for address, port in self.endpoints]


@contextlib.contextmanager
def running_sshd_fleet(
    directory: Path, hosts: int, *, block: int = 1, extra_config: str = ""
) -> Iterator[SshdFleet]:
    """Run ``ceil(hosts / 16)`` sshd instances, one address of 127.0.``block``.0/24 per
    host. Keys of the instances are made in parallel by their own ssh-keygen runs."""
    if not 1 <= hosts <= 250:
        raise ValueError(f"a fleet has 1 to 250 hosts, not {hosts}")
    directory = directory.absolute()
    addresses = [FLEET_NETWORK.format(block=block, index=i + 1) for i in range(hosts)]
    groups = [addresses[i : i + MAX_ENDPOINTS] for i in range(0, hosts, MAX_ENDPOINTS)]
    with contextlib.ExitStack() as stack:
        instances = [
            stack.enter_context(
                running_sshd(directory / f"sshd{n}", addresses=group, extra_config=extra_config)
            )
            for n, group in enumerate(groups)
        ]
        first = instances[0]
        for other in instances[1:]:
            with open(other.directory / "authorized_keys", "a") as f:
                f.write(first.client_pubkey + "\n")
        known_hosts = directory / "known_hosts"
        known_hosts.write_text(
            "".join(known_hosts_lines(i.host_keys, i.endpoints) for i in instances)
        )
        yield SshdFleet(
            endpoints=tuple(e for i in instances for e in i.endpoints),
            instances=tuple(instances),
            client_key=first.client_key,
            known_hosts=known_hosts,
            user=first.user,
        )
