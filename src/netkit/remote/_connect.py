"""One connection to one host, with settings made once for all hosts. Connections are
opened and owned by a :class:`netkit.remote.Fleet` (:mod:`netkit.remote._fleet`), the jump
host's connection included; :class:`Settings` holds no connection.

The algorithms are the cheapest both sides accept: curve25519 key exchange, ed25519 host
keys when known, AES-128-GCM or ChaCha20 (no MAC to compute beside them), no compression.
Anything else the server offers is still accepted after these, so old servers work.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

from netkit.remote._errors import AuthError, HostKeyError, map_error

if TYPE_CHECKING:
    from netkit.remote._auth import Credentials
    from netkit.remote._hosts import Host
    from netkit.remote._trust import HostKeyPolicy

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "Settings", "open_connection"]

# How long a host has to accept TCP and finish the SSH handshake and login.
DEFAULT_CONNECT_TIMEOUT = 10.0
# Cheapest first; asyncssh's full default lists follow in case a server lacks them.
KEX_ALGS = ("curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256")
CIPHERS = ("aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
           "aes128-ctr", "aes256-ctr")
MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512-etm@openssh.com")


def _prefer(first, defaults):
    return list(dict.fromkeys([*first, *defaults]))


class Settings:
    """Everything that is the same for every host: credentials, host key policy, the
    default user and port, the ssh config file(s), a jump host (``[user@]host[:port]`` or a
    :class:`Host`: where to go through, not a connection), the connect timeout (seconds for
    the TCP connection, the handshake and the login). Nothing here is opened or closed: a
    :class:`netkit.remote.Fleet` does that, so one ``Settings`` serves any number of fleets."""

    def __init__(self, credentials: Credentials, policy: HostKeyPolicy, *, user: str | None = None,
                 port: int | None = None, config: list[str] | None = None,
                 connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, jump: Host | str | None = None,
                 keepalive: float | None = None) -> None:
        import asyncssh

        from netkit.remote._hosts import Host, parse_host

        self.credentials = credentials
        self.policy = policy
        self.user = user
        self.port = port
        self.connect_timeout = connect_timeout
        self.jump = jump if jump is None or isinstance(jump, Host) else parse_host(jump)
        if config is None:
            default = os.path.expanduser("~/.ssh/config")
            config = [default] if os.path.exists(default) else []
        self.config = list(config)
        from netkit.core.fs import check_owned

        for path in self.config:  # asyncssh runs its ProxyCommand and never checks who may write it
            check_owned(path, "ssh config", "its ProxyCommand would run as you")
        # GSS key exchanges need Kerberos: never offered.
        defaults_kex = [a.decode() for a in asyncssh.kex.get_default_kex_algs() if not a.startswith(b"gss-")]
        defaults_enc = [a.decode() for a in asyncssh.encryption.get_default_encryption_algs()]
        defaults_mac = [a.decode() for a in asyncssh.mac.get_default_mac_algs()]
        self.base = asyncssh.SSHClientConnectionOptions(
            kex_algs=_prefer(KEX_ALGS, defaults_kex),
            encryption_algs=_prefer(CIPHERS, defaults_enc),
            mac_algs=_prefer(MACS, defaults_mac),
            compression_algs=["none"],
            known_hosts=((), (), ()),  # every key goes to HostKeyPolicy.check
            keepalive_interval=keepalive or 0,
            **credentials.options(),
        )

    def check_config(self, hosts):
        """A ``UsageError`` now when the ssh config cannot be read or parsed for one of
        ``hosts`` (a directory, not UTF-8, ``Port abc``), instead of every host failing
        alike once connected. asyncssh reads it per host (Host blocks match names): each
        distinct name is read once here, which costs microseconds a host."""
        if not self.config:
            return
        import getpass

        from asyncssh.config import SSHClientConfig

        from netkit.core.errors import UsageError
        from netkit.core.text import for_terminal
        from netkit.remote._local import MAX_CONFIG_BYTES, check_regular

        for path in self.config:
            try:
                check_regular(path, MAX_CONFIG_BYTES)
            except OSError as exc:
                raise UsageError(f"ssh config {path}: cannot read it: {exc.strerror or exc}") from None
            except ValueError as exc:  # -F /dev/zero was read for ever
                raise UsageError(f"ssh config {path} {exc}; -F takes an ssh_config file") from None
        local_user = getpass.getuser()
        for host in dict.fromkeys((h.host, h.port or self.port or 22, h.user or self.user) for h in hosts):
            name, port, user = host
            try:
                SSHClientConfig.load(None, self.config, False, False, False, local_user, user or local_user, name,
                                     port)
            except OSError as exc:
                raise UsageError(f"ssh config {exc.filename or self.config[0]}: cannot read it: "
                                 f"{exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise UsageError(f"ssh config {', '.join(self.config)} is not UTF-8 text") from None
            except ValueError as exc:  # asyncssh's ConfigParseError: "PATH line N: what"
                raise UsageError(f"ssh config: {for_terminal(str(exc))}") from None


def _client_class(policy):
    import asyncssh

    class Client(asyncssh.SSHClient):
        refusal = None
        lost = None  # why the connection ended, when the server or the network ended it
        users = 0  # the Fleet calls using the connection now: another's sessions are not ours to kill

        def connection_lost(self, exc):
            self.lost = exc

        def validate_host_public_key(self, host, addr, port, key):
            try:
                policy.check(host, addr, port, key)
            except HostKeyError as exc:
                self.refusal = exc
                return False
            return True

    return Client


async def open_connection(host: Host, settings: Settings, *, tunnel=None, timeout: float | None = None):
    """An open asyncssh connection to ``host`` (through ``tunnel``, an open connection to a
    jump host, when given), logged in within ``timeout`` seconds (default: the settings'
    connect timeout); netkit errors only. The caller owns it: it closes it."""
    import asyncssh

    timeout = settings.connect_timeout if timeout is None else timeout
    clients = []

    def factory():
        client = _client_class(settings.policy)()
        clients.append(client)
        return client

    port = host.port or settings.port
    user = host.user or settings.user
    # The config is applied per host (asyncssh reads it at each connect: Host blocks match
    # the name); None when there is none, so nothing is read.
    kwargs: dict[str, Any] = {"server_host_key_algs": settings.policy.host_key_algs(host.host, port or 22),
              "config": settings.config or None}
    if user:
        kwargs["username"] = user
    if tunnel is not None:
        kwargs["tunnel"] = tunnel
    try:
        async with asyncio.timeout(timeout):
            return await asyncssh.connect(host.host, port or (), client_factory=factory,
                                          options=settings.base, **kwargs)
    except asyncssh.HostKeyNotVerifiable as exc:
        if clients and clients[-1].refusal is not None:
            raise clients[-1].refusal from None
        raise map_error(exc, host.label) from None
    except asyncssh.PermissionDenied:
        creds = settings.credentials
        text = f"{host.label}: authentication failed as {user or 'the default user'} (tried {creds.methods()})"
        if creds.problems:
            text += "; " + "; ".join(creds.problems)
        raise AuthError(text) from None
    except TimeoutError:
        from netkit.core.errors import TimedOut

        raise TimedOut(f"{host.label}: no SSH login within {timeout:g} s (--connect-timeout)",
                       phase="connect") from None
    except Exception as exc:  # noqa: BLE001 -- asyncssh and OS errors, mapped once here
        raise map_error(exc, host.label) from None
