"""How to transfer: :class:`Options`, one immutable value checked when it is made.

::

    Options(timeout=Timeout(600, connect=5, read=30), retries=5, checksum="sha256=9f86...")
    Options(user="me", password=secret, headers=[("Accept", "text/csv")], limit_rate=1 << 20)
    options.replace(resume=True)          # a copy with one field changed

Every field has a safe default; a bad value is a ``UsageError`` naming the field as Python
spells it (``Options(retries=-1)``). ``timeout`` is a :class:`~netkit.core.timeout.Timeout`
or a number (its total, as everywhere in netkit) and is kept spread over the fields the
transfers use: ``total`` -> ``max_time`` (the whole transfer, retries included, as curl's
``--max-time``), ``connect`` -> ``connect_timeout`` (each connection and its TLS or SSH
handshake), ``read`` -> ``timeout`` (each wait for the peer's next bytes). A phase left out
waits :data:`DEFAULT_WAIT` seconds at most (never for ever), and never past the total.

A plain class with ``__slots__``, not a dataclass: ``dataclasses`` costs milliseconds of
import, and transfers start on the command line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from netkit.core.errors import UsageError

if TYPE_CHECKING:
    import threading

    from netkit.core.target import Target
    from netkit.core.timeout import Timeout

__all__ = ["DEFAULT_WAIT", "Options"]

# Seconds a connection or a read may wait when no timeout says otherwise: a server that
# says nothing for half a minute is gone (curl waits for ever; wget 900 s).
DEFAULT_WAIT = 30.0

_FIELDS = (
    "timeout", "connect_timeout", "max_time", "retries", "retry_delay", "resume", "checksum", "limit_rate",
    "speed_limit", "speed_time", "max_filesize", "insecure", "cacert", "headers", "user_agent", "user",
    "password", "netrc", "max_redirects", "follow", "proxy", "no_proxy", "compressed", "method", "data",
    "content_type", "identity", "known_hosts", "keep_mtime", "env", "cancel", "trace",
)
# Fields made from the constructor's one ``timeout`` (see the module).
_SPREAD = ("timeout", "connect_timeout", "max_time")


def _shown(name: str, value: object) -> str:
    """``repr(value)`` as Options' repr and errors show it: a password masked, credential
    headers' values masked (an Authorization or API key header), and a URL's password."""
    from collections.abc import Mapping

    from netkit.core.secrets import mask_header, mask_url

    if name == "password":
        return "***"
    if name == "headers":
        pairs: Any = list(value.items()) if isinstance(value, Mapping) else value
        try:
            value = tuple((n, mask_header(n, v)) for n, v in pairs)
        except (TypeError, ValueError, AttributeError):  # not (name, value) pairs of strings
            return "..."
    return mask_url(repr(value))


def _bad(name: str, value: object, want: str) -> UsageError:
    return UsageError(f"Options({name}={_shown(name, value)}): {want}")


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(name, value, f"a whole number, {low} or more")
    return value


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else _count(name, value, 1)


def _seconds(name: str, value: Any, *, zero: bool = False) -> float:
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not (value >= 0 if zero else value > 0):
        raise _bad(name, value, f"seconds, {'0' if zero else 'more than 0'} or more")
    return float(value)


def _optional_seconds(name: str, value: Any) -> float | None:
    return None if value is None else _seconds(name, value)


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(name, value, "a string or None")
    return value


def _line(name: str, value: Any) -> str | None:
    """A string that goes into a protocol line (USER, an SSH login, a header): no CR, LF or
    NUL, which would end the line (FTP) or fail deep in the SSH library (SASLprep)."""
    text = _text(name, value)
    if text is not None:
        from netkit.core.text import check_line_field

        try:
            check_line_field(text, name)
        except ValueError as exc:
            raise _bad(name, value, str(exc)) from None
    return text


def _path(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise _bad(name, value, "a file name (str or path) or None")
    return os.path.expanduser(os.fspath(value))


def _checksum(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    from netkit.transfer._common import parse_checksum

    text = value if isinstance(value, str) else "=".join(value) if isinstance(value, tuple) and len(value) == 2 \
        and all(isinstance(v, str) for v in value) else None
    if text is None:
        raise _bad("checksum", value, "'ALGO=HEX' or (ALGO, HEX), ALGO one of sha256, sha1, md5, sha512")
    try:
        algorithm, digest = parse_checksum(text)
        return algorithm, digest
    except ValueError as exc:
        raise _bad("checksum", value, str(exc)) from None


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    pairs = list(value.items()) if isinstance(value, Mapping) else value
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise _bad("headers", value, "(name, value) pairs or a dict")
    out = []
    for number, pair in enumerate(pairs, 1):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(v, str) for v in pair)):
            what = f"a tuple of {len(pair)}" if isinstance(pair, tuple) else f"a {type(pair).__name__}"
            raise _bad("headers", value, f"(name, value) pairs of strings; item {number} is {what}")
        from netkit.proto.http1 import check_caller_header

        try:
            check_caller_header(*pair)
        except ValueError as exc:
            raise _bad("headers", value, str(exc)) from None
        out.append(pair)
    return tuple(out)


def _proxy(value: Any) -> Target | None:
    from netkit.core.target import Target

    if value is None or isinstance(value, Target):
        return value
    if not isinstance(value, str):
        raise _bad("proxy", value, "a proxy URL such as http://proxy:3128, a Target, or None")
    from netkit.core.proxies import parse_proxy

    try:
        return parse_proxy(value)
    except ValueError as exc:
        raise _bad("proxy", value, str(exc)) from None


class Options:
    """How to transfer; every field has a safe default (see the module). Immutable: make
    another with :meth:`replace`. Fields: ``timeout`` (read), ``connect_timeout``, ``max_time``
    (from one ``timeout=Timeout(...)``); ``retries`` and ``retry_delay`` (seconds, doubling);
    ``resume`` (continue an existing ``.part``); ``checksum``; ``limit_rate``, ``speed_limit``
    (bytes a second) and ``speed_time`` (seconds: curl's -Y and -y); ``max_filesize``
    (bytes); ``insecure``, ``cacert`` (TLS); ``headers``, ``user_agent``, ``max_redirects``,
    ``follow``, ``proxy``, ``no_proxy``, ``compressed``, ``method``, ``data``,
    ``content_type`` (http); ``user``, ``password``, ``netrc`` (no user given: the URL's, else
    ~/.netrc's); ``identity``, ``known_hosts`` (sftp); ``keep_mtime``; ``env`` (instead of
    os.environ for proxies and credentials); ``cancel`` (a ``threading.Event``: set, the
    transfer stops with ``Cancelled``); ``trace(line)`` (http: each -v line, masked)."""

    __slots__ = _FIELDS

    timeout: float
    connect_timeout: float
    max_time: float | None
    retries: int
    retry_delay: float
    resume: bool
    checksum: tuple[str, str] | None
    limit_rate: int | None
    speed_limit: int | None
    speed_time: float | None
    max_filesize: int | None
    insecure: bool
    cacert: str | None
    headers: tuple[tuple[str, str], ...]
    user_agent: str | None
    user: str | None
    password: str | None
    netrc: bool
    max_redirects: int
    follow: bool
    proxy: Target | None
    no_proxy: bool
    compressed: bool
    method: str | None
    data: bytes | None
    content_type: str | None
    identity: str | None
    known_hosts: str | None
    keep_mtime: bool
    env: Mapping[str, str] | None
    cancel: threading.Event | None
    trace: Callable[[str], object] | None

    def __init__(self, *, timeout: float | Timeout | None = None, max_time: float | None = None,
                 retries: int = 3, retry_delay: float = 1.0, resume: bool = False,
                 checksum: str | tuple[str, str] | None = None, limit_rate: int | None = None,
                 speed_limit: int | None = None, speed_time: float | None = None, max_filesize: int | None = None,
                 insecure: bool = False, cacert: str | os.PathLike[str] | None = None,
                 headers: Iterable[tuple[str, str]] | Mapping[str, str] = (), user_agent: str | None = None,
                 user: str | None = None, password: str | None = None, netrc: bool = True,
                 max_redirects: int = 10, follow: bool = True, proxy: str | Target | None = None,
                 no_proxy: bool = False, compressed: bool = False, method: str | None = None,
                 data: bytes | str | None = None, content_type: str | None = None,
                 identity: str | os.PathLike[str] | None = None, known_hosts: str | os.PathLike[str] | None = None,
                 keep_mtime: bool = True, env: Mapping[str, str] | None = None,
                 cancel: threading.Event | None = None, trace: Callable[[str], object] | None = None) -> None:
        from netkit.core.timeout import Timeout

        phases = Timeout.of(timeout)
        max_time = _optional_seconds("max_time", max_time)
        if phases.total is not None and max_time is not None and phases.total != max_time:
            raise UsageError(f"Options(timeout={phases!r}, max_time={max_time:g}): both bound the whole transfer; "
                             f"give one")
        values: dict[str, Any] = {
            "timeout": phases.read if phases.read is not None else DEFAULT_WAIT,
            "connect_timeout": phases.connect if phases.connect is not None else DEFAULT_WAIT,
            "max_time": phases.total if phases.total is not None else max_time,
            "retries": _count("retries", retries, 0),
            "retry_delay": _seconds("retry_delay", retry_delay, zero=True),
            "resume": bool(resume),
            "checksum": _checksum(checksum),
            "limit_rate": _optional_count("limit_rate", limit_rate),
            "speed_limit": _optional_count("speed_limit", speed_limit),
            "speed_time": _optional_seconds("speed_time", speed_time),
            "max_filesize": _optional_count("max_filesize", max_filesize),
            "insecure": bool(insecure),
            "cacert": _path("cacert", cacert),
            "headers": _headers(headers),
            "user_agent": _line("user_agent", user_agent),
            "user": _line("user", user),
            "password": _text("password", password),
            "netrc": bool(netrc),
            "max_redirects": _count("max_redirects", max_redirects, 0),
            "follow": bool(follow),
            "proxy": _proxy(proxy),
            "no_proxy": bool(no_proxy),
            "compressed": bool(compressed),
            "method": None if method is None else (_text("method", method) or "").upper(),
            "data": data.encode() if isinstance(data, str) else data,
            "content_type": _text("content_type", content_type),
            "identity": _path("identity", identity),
            "known_hosts": _path("known_hosts", known_hosts),
            "keep_mtime": bool(keep_mtime),
            "env": env,
            "cancel": cancel,
            "trace": trace,
        }
        if values["data"] is not None and not isinstance(values["data"], bytes):
            raise _bad("data", data, "bytes, a str (sent as UTF-8) or None")
        if values["insecure"] and values["cacert"] is not None:
            raise UsageError("Options(insecure=True, cacert=...): insecure checks nothing, cacert names whom to "
                             "trust; give one")
        if values["speed_time"] is not None and values["speed_limit"] is None:
            raise UsageError("Options(speed_time=...) says how long speed_limit may go unmet; give speed_limit too")
        if cancel is not None and not callable(getattr(cancel, "is_set", None)):
            raise _bad("cancel", cancel, "a threading.Event or None")
        if trace is not None and not callable(trace):
            raise _bad("trace", trace, "a function taking one line, or None")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def replace(self, **changes: Any) -> Options:
        """A copy with ``changes``, checked as the constructor checks them. ``timeout``
        replaces all three phases (a Timeout, or a number: the total); ``connect_timeout``
        and ``max_time`` change one each."""
        from netkit.core.timeout import Timeout

        unknown = sorted(set(changes) - set(_FIELDS))
        if unknown:
            raise TypeError(f"Options.replace() got an unknown field {unknown[0]!r}")
        args = {name: getattr(self, name) for name in _FIELDS if name not in _SPREAD}
        args.update((name, value) for name, value in changes.items() if name not in _SPREAD)
        if "timeout" in changes:
            args["timeout"] = changes["timeout"]
        else:
            args["timeout"] = Timeout(None, connect=self.connect_timeout, read=self.timeout)
            args["max_time"] = self.max_time
        if "max_time" in changes:
            args["max_time"] = changes["max_time"]
        made = Options(**args)
        if "connect_timeout" in changes:
            object.__setattr__(made, "connect_timeout", _seconds("connect_timeout", changes["connect_timeout"]))
        return made

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Options are immutable: options.replace({name}=...) makes a changed copy")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Options):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    __hash__ = None  # type: ignore[assignment]  # env, cancel and trace need not be hashable

    def __repr__(self) -> str:
        fresh = Options()
        shown = [f"{name}={_shown(name, getattr(self, name))}" for name in _FIELDS
                 if getattr(self, name) != getattr(fresh, name)]
        return f"Options({', '.join(shown)})"
