"""Errors from outside netkit mapped onto its tree (:mod:`netkit.core.errors`), at one
boundary: one function per source, and :func:`map_error` to pick the right one.

::

    from_os(exc, where, phase)        OSError: refused, reset, unreachable, timed out, no such name
    from_ssl(exc, where, phase)       ssl.SSLError: a certificate that did not verify, a failed handshake
    from_asyncssh(exc, where, phase)  asyncssh.Error: host key, login, lost connection, SFTP refusals
    from_dns(exc, where, phase)       dnspython's DNSException: no answer in time, no server answered

``where`` is the peer as the message names it (``host:port``, a host for a name look-up,
a socket path); ``phase`` is the phase of :class:`netkit.core.timeout.Timeout` the error
happened in (``connect``, ``read``; a TimedOut carries it), and ``doing`` the words that
say what was going on (``in the TLS handshake with HOST:PORT``), which default to the
phase's. ``timeout`` (seconds) is named in a timeout's message when given.

One cause has one phrase whatever the feature: ``connection refused by HOST:PORT``,
``connection reset by HOST:PORT DOING``, ``timeout after N s DOING``, ``cannot resolve
HOST: REASON``, ``certificate of HOST:PORT did not verify: REASON``. What the error is
(may it help to try again? which phase ran out?) is carried by its class and its
``transient`` and ``phase`` attributes, never by its words: nothing above this boundary
reads an error's text. Text a peer chose (an SSH disconnect reason, a TLS alert, a DNS
server's rcode words) is escaped for a terminal here.

The outside libraries are imported only when one of their exceptions is in hand (a
``tcp://`` check never imports asyncssh or dnspython, nor ssl unless it spoke TLS): the
test is ``type(exc).__module__``, then ``sys.modules``.
"""

import errno
import sys

from netkit.core.errors import (
    AuthError,
    CertificateError,
    ConnectError,
    CutError,
    LocalError,
    NetkitError,
    ProtocolError,
    RefusedError,
    RemoteError,
    ResolveError,
    SSHError,
    TimedOut,
    TLSError,
    UnknownHostKey,
    UsageError,
)

__all__ = ["from_asyncssh", "from_dns", "from_os", "from_ssl", "hinted", "lookup_error", "map_error", "server_failures",
           "timed_out"]

# errnos that say the peer (or the path to it) dropped an established connection.
_RESET = frozenset((errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED))
# errnos of this machine running out of something: not the network's fault.
_LOCAL = frozenset((errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM))
# The phases a TimedOut names (netkit.core.timeout.Timeout's).
_PHASES = ("connect", "read", "total")


def map_error(exc: BaseException, where: str = "", phase: str | None = "connect", *, doing: str | None = None,
              timeout: float | None = None) -> BaseException:
    """The netkit error for ``exc``, raised while talking to ``where`` in ``phase``: netkit's own
    errors as they are, an outside library's through its mapper below, anything else (a bug,
    not the network) unchanged."""
    if isinstance(exc, NetkitError):
        return exc
    module = type(exc).__module__
    if module.startswith("asyncssh"):
        return from_asyncssh(exc, where, phase, doing=doing, timeout=timeout)
    if module.startswith("dns."):
        return from_dns(exc, where, phase, doing=doing, timeout=timeout)
    if isinstance(exc, OSError):  # ssl.SSLError, TimeoutError (asyncio's too), socket.timeout
        return from_os(exc, where, phase, doing=doing, timeout=timeout)
    if isinstance(exc, EOFError):
        return CutError(f"connection closed by {where} {_doing(where, phase, doing)}")
    return exc


def from_os(exc: OSError, where: str, phase: str | None = "connect", *, doing: str | None = None,
            timeout: float | None = None) -> NetkitError:
    """The netkit error of an :class:`OSError` (a socket's, a name look-up's)."""
    import _socket

    if _ssl_error(exc):
        return from_ssl(exc, where, phase, doing=doing, timeout=timeout)
    doing = _doing(where, phase, doing)
    if isinstance(exc, TimeoutError):
        return timed_out(doing, phase, timeout)
    if isinstance(exc, _socket.gaierror):
        return lookup_error(exc, where)
    if isinstance(exc, ConnectionRefusedError):
        return RefusedError(f"connection refused by {where}")
    if isinstance(exc, FileNotFoundError) and phase == "connect":  # a Unix socket's path
        return ConnectError(f"{where}: no such socket")
    if isinstance(exc, ConnectionResetError) or exc.errno == errno.ECONNRESET:
        return _transient(ConnectError(f"connection reset by {where} {doing}"))
    if isinstance(exc, (BrokenPipeError, ConnectionAbortedError)) or exc.errno in _RESET:
        return _transient(ConnectError(f"connection closed by {where} {doing}"))
    if exc.errno in _LOCAL:
        return _transient(LocalError(f"{_reason(exc)} {doing} (on this machine)"))
    return ConnectError(f"{_reason(exc)} {doing}")


def from_ssl(exc: OSError, where: str, phase: str | None = "connect", *, doing: str | None = None,
             timeout: float | None = None) -> NetkitError:
    """The netkit error of an :class:`ssl.SSLError` (a failed handshake, a certificate that
    did not verify); an OSError that is not ssl's goes to :func:`from_os`."""
    if not _ssl_error(exc):
        return from_os(exc, where, phase, doing=doing, timeout=timeout)
    ssl = sys.modules["ssl"]
    if isinstance(exc, ssl.SSLCertVerificationError):
        return CertificateError(f"certificate of {where} did not verify: {_text(exc.verify_message or exc.reason)}")
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return _transient(ConnectError(f"connection closed by {where} {_doing(where, phase, doing)}"))
    reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return TLSError(f"TLS failed with {where}: {_text(reason.replace('_', ' ').lower())}")


def from_asyncssh(exc: BaseException, where: str, phase: str | None = "connect", *, doing: str | None = None,
                  timeout: float | None = None) -> BaseException:
    """The netkit error of an asyncssh exception (or of the OSError under it).

    A connection lost while data moved (``phase`` ``read``) is a :class:`CutError`: the
    data stopped before its end; lost while connecting, a ConnectError. The reason a
    server gave (a disconnect, a refused channel, an SFTP status) is its own words,
    escaped here."""
    if isinstance(exc, NetkitError):
        return exc
    if not type(exc).__module__.startswith("asyncssh"):
        return map_error(exc, where, phase, doing=doing, timeout=timeout)
    import asyncssh

    said = _text(getattr(exc, "reason", "") or "")
    doing = _doing(where, phase, doing)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return UnknownHostKey(f"host key of {where} is not trusted ({said or 'not verified'})")
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthError(f"{where}: authentication failed ({said or 'permission denied'})")
    if isinstance(exc, (asyncssh.ConnectionLost, asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection)):
        lost = CutError if phase == "read" else ConnectError
        return _transient(lost(f"connection closed by {where} {doing}" + (f": {said}" if said else "")))
    if isinstance(exc, asyncssh.ChannelOpenError):
        return RemoteError(f"{where}: the server refused a session channel: {said}")
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return RemoteError(f"{where}: no such file {doing}")
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return RemoteError(f"{where}: permission denied {doing}")
    if isinstance(exc, asyncssh.SFTPError):
        return RemoteError(f"{where}: {said or type(exc).__name__} {doing}")
    if isinstance(exc, asyncssh.DisconnectError):
        return SSHError(f"{where}: the server disconnected {doing}: {said or type(exc).__name__}")
    if isinstance(exc, asyncssh.Error):
        return SSHError(f"{where}: SSH failed {doing}: {said or type(exc).__name__}")
    from asyncssh.saslprep import SASLPrepError  # not re-exported by asyncssh

    if isinstance(exc, SASLPrepError):  # a ValueError: our input, not the peer
        return UsageError(f"{where}: the user name or password holds a character an SSH login cannot carry "
                          f"({_text(str(exc))})")
    return exc  # e.g. a KeyImportError (a ValueError): the caller's own file, not the peer


def from_dns(exc: BaseException, where: str, phase: str | None = "read", *, doing: str | None = None,
             timeout: float | None = None) -> BaseException:
    """The netkit error of a dnspython exception; ``where`` names the server(s) asked.

    A timeout says what the servers did meanwhile (answered REFUSED, sent something
    that is not DNS) when they did something (dnspython keeps it in ``errors``)."""
    if isinstance(exc, NetkitError):
        return exc
    if not type(exc).__module__.startswith("dns."):
        return map_error(exc, where, phase, doing=doing, timeout=timeout)
    import dns.exception
    import dns.resolver

    if isinstance(exc, dns.exception.Timeout):  # LifetimeTimeout too
        said = "; ".join(text for text, heard in server_failures(exc) if heard)
        doing = doing or f"waiting for an answer from {where}"
        return timed_out(f"{doing} ({said})" if said else doing, phase, timeout)
    if isinstance(exc, dns.resolver.NoNameservers):
        failures = server_failures(exc)
        text = f"{where}: " + ("; ".join(text for text, _ in failures) or _text(str(exc)))
        answered = any(heard for _, heard in failures)
        return (RemoteError if answered else ConnectError)(text)
    if isinstance(exc, dns.resolver.NoResolverConfiguration):
        return LocalError("no DNS server is configured (/etc/resolv.conf names none); name one with --server "
                          "HOST[:PORT]")
    if isinstance(exc, dns.exception.FormError):
        return ProtocolError(f"{where} sent something that is not a DNS reply ({_what(exc)})")
    if isinstance(exc, dns.exception.DNSException):
        return ProtocolError(f"{where}: {_text(str(exc)) or type(exc).__name__}")
    return exc


def server_failures(exc: BaseException) -> list[tuple[str, bool]]:
    """What each server did, from a dnspython NoNameservers or LifetimeTimeout: (words,
    heard) in order and each once; ``heard`` is True when the server sent something (an
    rcode, a reply that is not DNS), False when it was silence or the network."""
    import dns.exception
    import dns.message

    from netkit.core.target import bracket

    out: dict[str, bool] = {}
    for entry in getattr(exc, "kwargs", {}).get("errors") or []:
        try:
            server, tcp, port, error = entry[0], entry[1], entry[2], entry[3]
        except (TypeError, IndexError):
            out.setdefault(_text(str(entry)), False)
            continue
        where = f"{bracket(_bare_server(server))}:{port} ({'tcp' if tcp else 'udp'})"
        if isinstance(error, str):
            out.setdefault(f"{where} answered {_text(error)}", True)
        elif isinstance(error, EOFError):
            out.setdefault(f"{where} closed the connection before a complete DNS reply", True)
        elif isinstance(error, dns.message.Truncated):  # it says nothing itself
            out.setdefault(f"{where} sent a truncated reply (TC set: the answer did not fit a datagram)", True)
        elif isinstance(error, dns.exception.FormError):
            out.setdefault(f"{where} sent something that is not a DNS reply ({_what(error)})", True)
        elif isinstance(error, OSError):
            out.setdefault(f"{where}: {_reason(error)}", False)
        else:
            out.setdefault(f"{where}: {_text(str(error))}", False)
    return list(out.items())


def hinted(error: NetkitError, hint: str) -> NetkitError:
    """``error`` (one just mapped) with ``hint``, what to do about it, after its words;
    its class and attributes (``transient``, ``phase``) stay."""
    error.args = (f"{error}{hint}",)
    return error


def lookup_error(exc: BaseException, host: str) -> ResolveError:
    """The ResolveError of a look-up of ``host`` that failed: getaddrinfo's gaierror, a
    name that does not encode (IDNA's UnicodeError), a resolver's OSError."""
    return ResolveError(f"cannot resolve {_text(host)}: {_reason(exc)}")


def timed_out(doing: str, phase: str | None, timeout: float | None = None) -> TimedOut:
    """``timeout after N s DOING`` (``timed out DOING`` without N), phase named."""
    words = f"timeout after {timeout:g} s {doing}" if timeout else f"timed out {doing}"
    return TimedOut(words, phase=phase if phase in _PHASES else None)


# --- helpers ---------------------------------------------------------------------------


def _doing(where: str, phase: str | None, doing: str | None) -> str:
    if doing:
        return doing
    if phase == "connect":
        return f"connecting to {where}"
    if phase == "read":
        return f"waiting for data from {where}"
    if phase == "write":
        return f"sending to {where}"
    return f"talking to {where}"


def _ssl_error(exc: BaseException) -> bool:
    ssl = sys.modules.get("ssl")  # loaded if TLS was spoken; never imported here
    return ssl is not None and isinstance(exc, ssl.SSLError)


def _transient(error: NetkitError) -> NetkitError:
    error.transient = True
    return error


def _reason(exc: BaseException) -> str:
    """An OSError's words: its strerror (the C library's, on this machine), else its text."""
    return _text(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)


def _what(exc: BaseException) -> str:
    return _text((str(exc) or type(exc).__doc__ or type(exc).__name__).strip().rstrip("."))


def _text(text: object) -> str:
    from netkit.core.text import for_terminal

    return for_terminal(str(text))


def _bare_server(server: object) -> str:
    # dnspython 2.4+ names servers like "Do53:127.0.0.1@53"; keep the address.
    text = str(server)
    head = text.split(":", 1)[0]
    if ":" in text and head.isalnum() and head.startswith("Do"):
        text = text.split(":", 1)[1]
    return text.rsplit("@", 1)[0] if "@" in text else text

