"""The one exception tree of netkit, by cause.

::

    NetkitError
     ├── UsageError            the user's input is wrong          -> UNKNOWN (checks), exit 2
     └── NetError              the network or the peer failed     -> CRITICAL
          ├── ResolveError     the name does not resolve
          ├── ConnectError     no connection (unreachable, reset)
          │    └── RefusedError   the port refused (RST / ICMP port unreachable)
          ├── Timeout          a deadline passed
          ├── TLSError         the TLS handshake failed
          │    └── CertificateError   the peer's certificate did not verify
          └── ProtocolError    the peer answered, but not in the protocol

Lower-level errors (OSError, ssl.SSLError) are mapped onto this tree once, in the
drivers (:mod:`netkit.drivers`); nothing above them sees an OSError.
"""

__all__ = [
    "NetkitError",
    "UsageError",
    "NetError",
    "ResolveError",
    "ConnectError",
    "RefusedError",
    "Timeout",
    "TLSError",
    "CertificateError",
    "ProtocolError",
]


class NetkitError(Exception):
    """Base of every error netkit raises on purpose."""


class UsageError(NetkitError):
    """Bad input: the message names the mistake and the right form."""


class NetError(NetkitError):
    """The network or the peer failed; the message says where and why."""


class ResolveError(NetError):
    pass


class ConnectError(NetError):
    pass


class RefusedError(ConnectError):
    pass


class Timeout(NetError):
    pass


class TLSError(NetError):
    pass


class CertificateError(TLSError):
    pass


class ProtocolError(NetError):
    """The remote peer broke the protocol (malformed or unexpected data)."""
