"""The part of netkit's exception tree that ``netkit check`` never needs, made on first use.

These are netkit.core.errors' names: import them from there (``from netkit.core.errors
import AuthError``), where the whole tree is drawn; this module only holds them apart so that
a check's start-up does not pay for creating them (see the note above ``_REST`` there).
"""

from netkit.core.errors import NetError, NetkitError, ProtocolError, TimedOut

__all__ = [
    "AuthError",
    "Cancelled",
    "ChangedHostKey",
    "CommandError",
    "CommandTimeout",
    "CutError",
    "DeadlineError",
    "HTTPStatusError",
    "HostKeyError",
    "IntegrityError",
    "LocalError",
    "NeedsPrivilege",
    "RemoteError",
    "SSHError",
    "SpeedError",
    "TooLargeError",
    "UnknownHostKey",
    "UnsafeName",
]

# HTTP statuses worth another try (RFC 9110 and common practice: 429 Too Many Requests,
# 5xx gateway and availability errors); any other status is the server's answer.
HTTP_TRANSIENT = frozenset((408, 425, 429, 500, 502, 503, 504))
# Where these classes say they are from: the tree's one module.
_HOME = "netkit.core.errors"


class LocalError(NetkitError):
    """The local side failed (disk full, permission denied, not a directory, a link)."""

    __module__ = _HOME

    transient = False


class NeedsPrivilege(LocalError):
    """Raw sockets (ARP, traceroute, sniffing) need root or CAP_NET_RAW."""

    __module__ = _HOME


class Cancelled(NetkitError):
    """The work was stopped on request."""

    __module__ = _HOME

    transient = False


class DeadlineError(TimedOut):
    """The whole operation's time is spent (``--max-time``): no retry, the time is gone."""

    __module__ = _HOME

    transient = False

    def __init__(self, message: str = "", *, phase: str | None = "total") -> None:
        super().__init__(message, phase=phase)


class SpeedError(TimedOut):
    """Slower than the speed floor (``--speed-limit``) for ``--speed-time``: retried, as curl does."""

    __module__ = _HOME


class CommandTimeout(TimedOut):
    """A remote command ran past its time and was stopped."""

    __module__ = _HOME


class SSHError(NetError):
    """The SSH transport failed."""

    __module__ = _HOME


class HostKeyError(SSHError):
    """The server's host key is not trusted."""

    __module__ = _HOME

    transient = False


class UnknownHostKey(HostKeyError):
    """The host is not in known_hosts, and new keys are not accepted."""

    __module__ = _HOME


class ChangedHostKey(HostKeyError):
    """known_hosts holds another key for this host: refused, always."""

    __module__ = _HOME


class AuthError(NetError):
    """The peer refused the credentials (or no login method could be tried)."""

    __module__ = _HOME

    transient = False


class CutError(ProtocolError):
    """The connection ended before the announced end of the data."""

    __module__ = _HOME

    transient = True


class UnsafeName(ProtocolError):
    """A peer sent a name that is not one plain file name (``../x``, ``/etc/x``, ``a/b``)."""

    __module__ = _HOME

    transient = False  # the same name comes back on every try


class RemoteError(NetError):
    """The peer refused the request in the protocol: no such file, permission denied, a 5xx."""

    __module__ = _HOME

    transient = False


class HTTPStatusError(RemoteError):
    """An HTTP error status; ``retry_after`` is the server's Retry-After in seconds, if any."""

    __module__ = _HOME

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.transient = status in HTTP_TRANSIENT


class CommandError(RemoteError):
    """A remote command failed: it exited non-zero, or a signal ended it (``returncode``
    is then ``-signal``, as :mod:`subprocess` has it). ``result`` is the whole result."""

    __module__ = _HOME

    def __init__(self, message: str, *, returncode: int | None = None, result: object = None) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.result = result


class IntegrityError(NetError):
    """The data arrived whole but its checksum is not the one asked for."""

    __module__ = _HOME


class TooLargeError(NetError):
    """Over the size allowed: refused at its announced size, or stopped once past it."""

    __module__ = _HOME

    transient = False
