"""Errors of remote work, on netkit's tree (:mod:`netkit.core.errors`)::

    NetError
     ├── HostKeyError          the server's host key is not trusted
     │    ├── UnknownHostKey   not in known_hosts (and no --accept-new)
     │    └── ChangedHostKey   known_hosts holds another key for this host: always refused
     ├── AuthError             every login method was refused (or none could be tried)
     └── TimedOut
          └── CommandTimeout   the command ran past its time and was stopped

asyncssh's exceptions and OSErrors are mapped onto this tree at netkit's one boundary,
:mod:`netkit.core.errmap` (which escapes a reason the server sent); :func:`map_error` adds
what remote work knows: its phases' words, an ssh config alias, a ``.part`` kept.
"""

from netkit.core.errors import (
    AuthError,
    ChangedHostKey,
    CommandTimeout,
    CutError,
    HostKeyError,
    ResolveError,
    TimedOut,
    UnknownHostKey,
)

__all__ = ["AuthError", "ChangedHostKey", "CommandTimeout", "HostKeyError", "UnknownHostKey", "map_error"]


def map_error(exc: BaseException, where: str, *, phase: str = "connect") -> BaseException:
    """The netkit error for ``exc`` raised while talking to ``where`` in ``phase``
    (``connect``, ``running the command``, ``transfer``): :func:`netkit.core.errmap.map_error`,
    with what remote work adds -- a name may be an ssh config alias, a cut transfer keeps
    its ``.part``."""
    from netkit.core.errmap import hinted
    from netkit.core.errmap import map_error as mapped

    if isinstance(exc, TimeoutError):
        return TimedOut(f"{where}: no SSH session within the connect timeout ({phase})", phase="connect")
    transfer = phase == "transfer"
    error = mapped(exc, where, "read" if transfer else "connect" if phase == "connect" else None,
                   doing="during the transfer" if transfer else f"({phase})")
    if error is exc:
        return error
    if isinstance(error, ResolveError):
        return hinted(error, " (no such host name or ssh config alias)")
    if isinstance(error, CutError) and transfer:
        return hinted(error, "; a .part is kept: run again to resume")
    return error
