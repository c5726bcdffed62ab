"""The one exception tree of netkit, by cause: whose fault it is, and what to do about it.

::

    NetkitError
     ├── UsageError              your input is wrong: the message names the right form  -> exit 2, UNKNOWN
     ├── LocalError              this machine failed: disk full, permission, not a directory
     │    └── NeedsPrivilege     raw sockets need root or CAP_NET_RAW
     ├── Cancelled               stopped on request (Ctrl-C, a cancelled task)
     └── NetError                the network or the peer failed                         -> CRITICAL
          ├── ResolveError       the name does not resolve
          ├── ConnectError       no connection, or it was lost (unreachable, reset)
          │    └── RefusedError  the port refused (RST / ICMP port unreachable)
          ├── TimedOut           a deadline passed; ``phase``: connect, read or total
          │    ├── DeadlineError the whole operation's time (``Timeout.total``) is spent
          │    ├── SpeedError    slower than the speed floor for too long (retried)
          │    └── CommandTimeout  a remote command ran past its time and was stopped
          ├── TLSError           the TLS handshake failed
          │    └── CertificateError   the peer's certificate did not verify
          ├── SSHError           the SSH transport failed
          │    ├── HostKeyError  the server's host key is not trusted
          │    │    ├── UnknownHostKey   not in known_hosts (and no accept-new)
          │    │    └── ChangedHostKey   known_hosts holds another key: always refused
          │    └── (AuthError, below, for a refused SSH login)
          ├── AuthError          the peer refused the credentials (SSH, FTP, SMTP, POP3, IMAP, HTTP)
          ├── ProtocolError      the peer answered, but not in the protocol
          │    ├── CutError      the connection ended before the announced end of the data
          │    └── UnsafeName    a peer's name is not one plain file name (``../x``)
          ├── RemoteError        the peer refused the request, in the protocol
          │    ├── HTTPStatusError   an HTTP 4xx/5xx (``status``, ``retry_after``)
          │    └── CommandError      a remote command exited non-zero or on a signal
          ├── IntegrityError     the data arrived whole, but its checksum is not the one asked for
          └── TooLargeError      over the size allowed (``--max-filesize``)

Errors from outside -- :class:`OSError`, :mod:`ssl`, asyncssh, dnspython -- are mapped onto
this tree once, at the boundary where netkit calls them (:mod:`netkit.core.errmap`), with
``raise ... from exc``; code above that boundary catches these classes, never an OSError,
and never looks at an error's text to learn what it is.

``transient`` (class or instance attribute, True/False/None) says whether trying again
may help; None leaves it to the caller's rule (:func:`netkit.transfer` retries ConnectError,
TimedOut and CutError).
"""

__all__ = [
    "AuthError",
    "Cancelled",
    "CertificateError",
    "ChangedHostKey",
    "CommandError",
    "CommandTimeout",
    "ConnectError",
    "CutError",
    "DeadlineError",
    "HTTPStatusError",
    "HostKeyError",
    "IntegrityError",
    "LocalError",
    "NeedsPrivilege",
    "NetError",
    "NetkitError",
    "ProtocolError",
    "RefusedError",
    "RemoteError",
    "ResolveError",
    "SSHError",
    "SpeedError",
    "TLSError",
    "TimedOut",
    "TooLargeError",
    "UnknownHostKey",
    "UnsafeName",
    "UsageError",
]

# HTTP statuses worth another try (RFC 9110 and common practice: 429 Too Many Requests,
# 5xx gateway and availability errors); any other status is the server's answer.
HTTP_TRANSIENT = frozenset((408, 425, 429, 500, 502, 503, 504))


class NetkitError(Exception):
    """Base of every error netkit raises on purpose."""

    transient: bool | None = None


class UsageError(NetkitError):
    """Bad input: the message names the mistake and the right form."""

    transient = False


class LocalError(NetkitError):
    """The local side failed (disk full, permission denied, not a directory, a link)."""

    transient = False


class NeedsPrivilege(LocalError):
    """Raw sockets (ARP, traceroute, sniffing) need root or CAP_NET_RAW."""


class Cancelled(NetkitError):
    """The work was stopped on request."""

    transient = False


class NetError(NetkitError):
    """The network or the peer failed; the message says where and why."""


class ResolveError(NetError):
    """The host name does not resolve."""


class ConnectError(NetError):
    """No connection (unreachable, reset), or the connection was lost."""


class RefusedError(ConnectError):
    """The port refused the connection: nothing listens there."""

    transient = False


class TimedOut(NetError):
    """A deadline passed. ``phase`` names which (``connect``, ``read``, ``total``) when known."""

    def __init__(self, message: str = "", *, phase: str | None = None) -> None:
        super().__init__(message)
        self.phase = phase


class DeadlineError(TimedOut):
    """The whole operation's time is spent (``--max-time``): no retry, the time is gone."""

    transient = False

    def __init__(self, message: str = "", *, phase: str | None = "total") -> None:
        super().__init__(message, phase=phase)


class SpeedError(TimedOut):
    """Slower than the speed floor (``--speed-limit``) for ``--speed-time``: retried, as curl does."""


class CommandTimeout(TimedOut):
    """A remote command ran past its time and was stopped."""


class TLSError(NetError):
    """The TLS handshake failed."""


class CertificateError(TLSError):
    """The peer's certificate did not verify."""

    transient = False


class SSHError(NetError):
    """The SSH transport failed."""


class HostKeyError(SSHError):
    """The server's host key is not trusted."""

    transient = False


class UnknownHostKey(HostKeyError):
    """The host is not in known_hosts, and new keys are not accepted."""


class ChangedHostKey(HostKeyError):
    """known_hosts holds another key for this host: refused, always."""


class AuthError(NetError):
    """The peer refused the credentials (or no login method could be tried)."""

    transient = False


class ProtocolError(NetError):
    """The remote peer broke the protocol (malformed or unexpected data)."""


class CutError(ProtocolError):
    """The connection ended before the announced end of the data."""

    transient = True


class UnsafeName(ProtocolError):
    """A peer sent a name that is not one plain file name (``../x``, ``/etc/x``, ``a/b``)."""

    transient = False  # the same name comes back on every try


class RemoteError(NetError):
    """The peer refused the request in the protocol: no such file, permission denied, a 5xx."""

    transient = False


class HTTPStatusError(RemoteError):
    """An HTTP error status; ``retry_after`` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.transient = status in HTTP_TRANSIENT


class CommandError(RemoteError):
    """A remote command failed: it exited non-zero, or a signal ended it (``returncode``
    is then ``-signal``, as :mod:`subprocess` has it). ``result`` is the whole result."""

    def __init__(self, message: str, *, returncode: int | None = None, result: object = None) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.result = result


class IntegrityError(NetError):
    """The data arrived whole but its checksum is not the one asked for."""


class TooLargeError(NetError):
    """Over the size allowed: refused at its announced size, or stopped once past it."""

    transient = False
