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

class NetkitError(Exception):
    """Base of every error netkit raises on purpose."""

    transient: bool | None = None


class UsageError(NetkitError):
    """Bad input: the message names the mistake and the right form."""

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


class TLSError(NetError):
    """The TLS handshake failed."""


class CertificateError(TLSError):
    """The peer's certificate did not verify."""

    transient = False


class ProtocolError(NetError):
    """The remote peer broke the protocol (malformed or unexpected data)."""


# The rest of the tree lives in netkit.core._errors_rest and is made on first use (PEP 562),
# still netkit.core.errors' own names (their __module__ says so; pickle and import find them
# here). Why: creating an exception class costs ~130,000 instructions (CPython fills each
# slot through the MRO), and the 18 below are none of them needed by ``netkit check``, whose
# start-up budget is 1.6 x ``python -c pass``; they were a third of what issue 15 added to it.
_REST = frozenset((
    "AuthError", "Cancelled", "ChangedHostKey", "CommandError", "CommandTimeout", "CutError",
    "DeadlineError", "HTTPStatusError", "HostKeyError", "IntegrityError", "LocalError",
    "NeedsPrivilege", "RemoteError", "SSHError", "SpeedError", "TooLargeError", "UnknownHostKey",
    "UnsafeName"
))

TYPE_CHECKING = False
if TYPE_CHECKING:
    from netkit.core._errors_rest import AuthError as AuthError
    from netkit.core._errors_rest import Cancelled as Cancelled
    from netkit.core._errors_rest import ChangedHostKey as ChangedHostKey
    from netkit.core._errors_rest import CommandError as CommandError
    from netkit.core._errors_rest import CommandTimeout as CommandTimeout
    from netkit.core._errors_rest import CutError as CutError
    from netkit.core._errors_rest import DeadlineError as DeadlineError
    from netkit.core._errors_rest import HostKeyError as HostKeyError
    from netkit.core._errors_rest import HTTPStatusError as HTTPStatusError
    from netkit.core._errors_rest import IntegrityError as IntegrityError
    from netkit.core._errors_rest import LocalError as LocalError
    from netkit.core._errors_rest import NeedsPrivilege as NeedsPrivilege
    from netkit.core._errors_rest import RemoteError as RemoteError
    from netkit.core._errors_rest import SpeedError as SpeedError
    from netkit.core._errors_rest import SSHError as SSHError
    from netkit.core._errors_rest import TooLargeError as TooLargeError
    from netkit.core._errors_rest import UnknownHostKey as UnknownHostKey
    from netkit.core._errors_rest import UnsafeName as UnsafeName
else:

    def __getattr__(name: str) -> type:
        if name in _REST:
            from netkit.core import _errors_rest

            value: type = getattr(_errors_rest, name)
            globals()[name] = value
            return value
        raise AttributeError(f"module 'netkit.core.errors' has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(globals()) | set(__all__))
