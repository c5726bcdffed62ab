"""Errors of remote work, on netkit's tree (:mod:`netkit.core.errors`)::

    NetError
     ├── HostKeyError          the server's host key is not trusted
     │    ├── UnknownHostKey   not in known_hosts (and no --accept-new)
     │    └── ChangedHostKey   known_hosts holds another key for this host: always refused
     ├── AuthError             every login method was refused (or none could be tried)
     └── TimedOut
          └── CommandTimeout   the command ran past its time and was stopped

asyncssh's exceptions and OSErrors are mapped onto this tree once, in :func:`map_error`. A
reason the server sent (a disconnect, a refused channel) is its text: escaped for a terminal here.
"""

from netkit.core.errors import (
    AuthError,
    ChangedHostKey,
    CommandTimeout,
    ConnectError,
    HostKeyError,
    NetError,
    ProtocolError,
    RefusedError,
    ResolveError,
    TimedOut,
    UnknownHostKey,
)

__all__ = ["AuthError", "ChangedHostKey", "CommandTimeout", "HostKeyError", "UnknownHostKey", "map_error"]


def map_error(exc: BaseException, where: str, *, phase: str = "connect") -> Exception:
    """The netkit error for ``exc`` raised while talking to ``where``."""
    import errno
    import socket

    import asyncssh

    from netkit.core.text import for_terminal

    if isinstance(exc, NetError):
        return exc
    reason = for_terminal(getattr(exc, "reason", "") or "")
    if isinstance(exc, socket.gaierror):
        return ResolveError(f"cannot resolve {where}: {exc.strerror} (no such host name or ssh config alias)")
    if isinstance(exc, ConnectionRefusedError):
        return RefusedError(f"{where} refused the connection")
    if isinstance(exc, TimeoutError):
        return TimedOut(f"{where}: no SSH session within the connect timeout ({phase})")
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthError(f"{where}: authentication failed ({reason or 'permission denied'})")
    if isinstance(exc, asyncssh.ConnectionLost):
        if phase == "transfer":  # however it surfaced: the same words as _sftp's own
            return ConnectError(f"{where}: connection lost during the transfer ({reason or 'closed by the peer'}; "
                                f"a .part is kept: run again to resume)")
        return ConnectError(f"{where}: connection lost ({phase}): {reason or 'closed by the peer'}")
    if isinstance(exc, asyncssh.ChannelOpenError):
        return ProtocolError(f"{where}: the server refused a session channel: {reason}")
    if isinstance(exc, asyncssh.DisconnectError):
        return ProtocolError(f"{where}: the server disconnected ({phase}): {reason}")
    if isinstance(exc, asyncssh.Error):
        return ProtocolError(f"{where}: {reason or type(exc).__name__} ({phase})")
    if isinstance(exc, OSError):
        if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
            return ConnectError(f"{where}: connection reset ({phase})")
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return ConnectError(f"{where}: {exc.strerror}")
        return ConnectError(f"{where}: {for_terminal(exc.strerror or str(exc))} ({phase})")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))
