"""Typed checks: one frozen class per check family, and the calls that run them.

::

    from netkit import Timeout
    from netkit.check import HttpCheck, SshCheck, check, check_many

    result = check(HttpCheck("https://example.com/", status="200,301", cert_warn=30, timeout=Timeout(5)))
    print(result.status.label, result.summary)
    results = check_many([HttpCheck("https://example.com/"), SshCheck("ssh://example.com")], concurrency=50)

A class per family (TcpCheck, UdpCheck, TlsCheck, HttpCheck, FtpCheck, SmtpCheck,
Pop3Check, ImapCheck, SshCheck, DnsCheck) takes the URL and, as keywords, the options its
schemes take, named as on the command line with ``_`` for ``-`` (``cert_warn``,
``body_regex``; ``mail_from`` for ``--from``). The URL's scheme must be one of the class's
(``HttpCheck`` takes http:// and https://). A keyword left at None (or False, or empty) is
not set: the command line's default applies.

Values are Python values: numbers, ``bytes`` for data sent or expected (as they are),
``str`` read as a checks file reads it (``expect="220"``; escapes such as ``\\r\\n`` are
unescaped there too), sequences for repeatable options, a ``{name: value}`` mapping for
``header`` and ``data``, :class:`netkit.core.ranges.Range` or its text for thresholds,
seconds or a :class:`netkit.Timeout` for ``timeout`` (its total is the check's deadline,
its ``connect`` bounds each connection and handshake, its ``read`` each wait for the peer).

The constructor validates, as h11's events do: each value goes through the same field
parser as the command line's and the checks file's (netkit.check.options), then the same
rules (netkit.check.spec.make_spec), so a mistake is a :class:`netkit.UsageError` in the
same words, naming the keyword: ``HttpCheck(url, status="abc")`` -> ``status expects ...``.
A password named by ``password_env`` (or found in ~/.netrc) is read then too.
"""

from __future__ import annotations

import os
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import TYPE_CHECKING, ClassVar

from netkit.core.errors import UsageError

if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

    from netkit.check.result import CheckResult
    from netkit.check.spec import CheckSpec
    from netkit.core.fields import Field
    from netkit.core.ranges import Range
    from netkit.core.status import Status
    from netkit.core.timeout import Timeout

    RangeLike = str | int | float | Range
    Data = bytes | str
    Path = str | os.PathLike[str]
    Address = str | IPv4Address | IPv6Address | IPv4Network | IPv6Network

__all__ = ["DnsCheck", "FtpCheck", "HttpCheck", "ImapCheck", "Pop3Check", "SmtpCheck", "SshCheck", "TcpCheck",
           "TlsCheck", "UdpCheck", "check", "check_async", "check_many", "family_of", "from_url"]

# Keywords that are not the option's name with "_" for "-" ("from" is a Python keyword).
_OPTION_OF = {"mail_from": "from"}
_KEYWORD_OF = {option: keyword for keyword, option in _OPTION_OF.items()}
# Keywords that are not check options: the URL, and a password given as it is.
_OWN = ("url", "password")


def keyword(option: str) -> str:
    """The keyword of a check option: ``cert-warn`` -> ``cert_warn``, ``from`` -> ``mail_from``."""
    return _KEYWORD_OF.get(option, option.replace("-", "_"))


@dataclass(frozen=True, repr=False)
class _Check:
    """What every check takes; the CheckSpec it validates into is kept for :func:`check`."""

    url: str
    _: KW_ONLY
    name: str | None = None
    warning: RangeLike | None = None
    critical: RangeLike | None = None
    timeout: float | Timeout | None = None
    ipv4: bool = False
    ipv6: bool = False
    _spec: CheckSpec = field(init=False, compare=False)

    SCHEMES: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_spec", _validate(self))

    def __repr__(self) -> str:
        """The keywords given, secrets masked: the password, a URL's (the check's, a proxy's)
        and credential headers' values, as the transcripts mask them."""
        from netkit.check.file import shown_value
        from netkit.core.secrets import mask_url

        given = [f"{f.name}={shown_value(f.name, getattr(self, f.name))}" for f in fields(self)
                 if f.init and f.name not in _OWN and _is_set(getattr(self, f.name))]
        if getattr(self, "password", None) is not None:
            given.append("password='********'")
        return f"{type(self).__name__}({', '.join([repr(mask_url(self.url)), *given])})"

    @property
    def spec(self) -> CheckSpec:
        """The validated :class:`netkit.check.CheckSpec` (what :func:`netkit.check.load_checks` gives)."""
        return self._spec


@dataclass(frozen=True, kw_only=True, repr=False)
class _Tls:
    insecure: bool = False
    cacert: Path | None = None
    sni: str | None = None
    cert_warn: int | None = None
    cert_crit: int | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class _Login:
    user: str | None = None
    password_env: str | None = None
    password: str | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class _Line:
    send: Data | Sequence[Data] = ()
    expect: Data | Sequence[Data] = ()
    expect_all: bool = False
    refuse: str | Status | None = None
    mismatch: str | Status | None = None
    maxbytes: int | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class _Mailbox:
    starttls: bool = False
    messages_warn: RangeLike | None = None
    messages_crit: RangeLike | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class TcpCheck(_Line, _Tls, _Check):
    """``tcp://host:port``: connect, optionally send and expect (check_tcp)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("tcp",)
    quit: Data | None = None
    tls: bool = False


@dataclass(frozen=True, kw_only=True, repr=False)
class UdpCheck(_Line, _Check):
    """``udp://host:port``: send a datagram, expect a reply (check_udp)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("udp",)


@dataclass(frozen=True, kw_only=True, repr=False)
class TlsCheck(_Tls, _Check):
    """``tls://host[:port]``: the handshake and the certificate (check_ssl_cert)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("tls",)


@dataclass(frozen=True, kw_only=True, repr=False)
class HttpCheck(_Login, _Tls, _Check):
    """``http://`` and ``https://``: a request, its status, body and certificate (check_http)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("http", "https")
    method: str | None = None
    header: Mapping[str, str] | Sequence[str | tuple[str, str]] = ()
    data: Mapping[str, str] | Sequence[str | tuple[str, str]] = ()
    user_agent: str | None = None
    status: str | int | Sequence[int | str] | None = None
    body: Data | Sequence[Data] = ()
    body_regex: str | bytes | re.Pattern[str] | re.Pattern[bytes] | None = None
    invert: bool = False
    follow: bool = False
    max_redirects: int | None = None
    max_body: int | str | None = None
    proxy: str | None = None
    no_proxy: bool = False


@dataclass(frozen=True, kw_only=True, repr=False)
class FtpCheck(_Login, _Tls, _Check):
    """``ftp://[user@]host[/dir/ or /file]``: log in, list or retrieve (check_ftp)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("ftp",)
    tls: bool = False


@dataclass(frozen=True, kw_only=True, repr=False)
class SmtpCheck(_Login, _Tls, _Check):
    """``smtp://`` and ``smtps://``: greeting, EHLO, optionally AUTH and envelope (check_smtp)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("smtp", "smtps")
    starttls: bool = False
    ehlo: str | None = None
    mail_from: str | None = None
    rcpt: str | Sequence[str] = ()


@dataclass(frozen=True, kw_only=True, repr=False)
class Pop3Check(_Mailbox, _Login, _Tls, _Check):
    """``pop3://`` and ``pop3s://user@host``: log in, count the messages (check_pop)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("pop3", "pop3s")
    size_warn: RangeLike | None = None
    size_crit: RangeLike | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class ImapCheck(_Mailbox, _Login, _Tls, _Check):
    """``imap://`` and ``imaps://user@host``: log in, select a mailbox, count (check_imap)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("imap", "imaps")
    mailbox: str | None = None
    unseen_warn: RangeLike | None = None
    unseen_crit: RangeLike | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class SshCheck(_Check):
    """``ssh://host[:port]``: the identification, host keys, optionally a key login (check_ssh)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("ssh",)
    protocol: str | None = None
    software: str | None = None
    hostkey: str | Sequence[str] = ()
    identity: Path | None = None
    known_hosts: Path | Sequence[Path] = ()
    accept_new: bool = False
    user: str | None = None


@dataclass(frozen=True, kw_only=True, repr=False)
class DnsCheck(_Check):
    """``dns://[server[:port]]/name[?type=MX]``: one question, its answers (check_dns)."""

    SCHEMES: ClassVar[tuple[str, ...]] = ("dns",)
    type: str | None = None
    tcp: bool = False
    expect_address: Address | Sequence[Address] = ()
    expect_nxdomain: bool = False
    answers: RangeLike | None = None


FAMILIES: tuple[type[_Check], ...] = (TcpCheck, UdpCheck, TlsCheck, HttpCheck, FtpCheck, SmtpCheck, Pop3Check,
                                      ImapCheck, SshCheck, DnsCheck)
_BY_SCHEME = {scheme: family for family in FAMILIES for scheme in family.SCHEMES}

AnyCheck = TcpCheck | UdpCheck | TlsCheck | HttpCheck | FtpCheck | SmtpCheck | Pop3Check | ImapCheck | SshCheck \
    | DnsCheck


def family_of(url: str) -> type[_Check]:
    """The class that checks ``url`` (``https://...`` -> HttpCheck); UsageError for a URL
    no check takes."""
    from netkit.check.spec import parse_check_target

    return _BY_SCHEME[parse_check_target(url).scheme]


def from_url(url: str, **options: object) -> AnyCheck:
    """The check of ``url``'s family (``https://`` -> HttpCheck) with ``options`` as its
    keywords; one that the family does not take is a UsageError saying which checks take it."""
    from netkit.check.options import BY_NAME
    from netkit.check.spec import parse_check_target, scheme_list
    from netkit.core.text import suggest

    scheme = parse_check_target(url).scheme
    family = _BY_SCHEME[scheme]
    options = {_KEYWORD_OF.get(key, key): value for key, value in options.items()}  # from= as mail_from=
    taken = {f.name for f in fields(family) if f.init}
    for key in options:
        if key in taken:
            continue
        option = BY_NAME.get(_OPTION_OF.get(key, key.replace("_", "-")))
        if option is None:
            known = sorted(keyword(name) for name in BY_NAME)
            raise UsageError(f"unknown check option {key!r}{suggest(key, known, quoted=True)}")
        raise UsageError(f"{key} does not apply to {scheme}:// checks (it is for "
                         f"{scheme_list(option.schemes)})")
    return family(url, **options)  # type: ignore[arg-type,return-value]  # checked against its fields above


def _is_set(value: object) -> bool:
    return value is not None and value is not False and not (isinstance(value, (tuple, list)) and not value)


def _items(value: object) -> list[object]:
    """A repeatable keyword's values, as a list: a sequence's items (a header or form field
    as "Name: value", "key=value" or a (name, value) pair), a mapping's (key, value) pairs,
    or the one value given."""
    from collections.abc import Iterable, Mapping

    if isinstance(value, Mapping):
        return list(value.items())
    if not isinstance(value, Iterable):
        return [value]
    return list(value)


def _timeout(option: Field, value: object) -> tuple[float, Timeout | None]:
    """(the check's deadline in seconds, the Timeout with phases for the driver or None)
    from a number, text as a checks file reads it, or a Timeout: its total is the deadline
    (the command line's default when it has none), its ``connect`` and ``read`` bound each
    connection and handshake, and each wait for the peer."""
    from netkit.check.file import parse_value
    from netkit.check.options import DEFAULT_TIMEOUT
    from netkit.core.timeout import Timeout

    if isinstance(value, str):
        seconds: float = parse_value(option, value, keyword, key=keyword)
        return seconds, None
    bound = Timeout.of(value)  # type: ignore[arg-type]  # Timeout.of says what else it takes
    total = DEFAULT_TIMEOUT if bound.total is None else bound.total
    if bound.connect is None and bound.read is None:
        return total, None
    return total, Timeout(total, connect=bound.connect, read=bound.read)


def _validate(check: _Check) -> CheckSpec:
    """The CheckSpec of ``check``, through the command line's field parsers and make_spec."""
    from netkit.check.file import parse_value
    from netkit.check.options import BY_NAME
    from netkit.check.spec import make_spec, parse_check_target, scheme_list

    family = type(check)
    if not isinstance(check.url, str):
        raise UsageError(f"{family.__name__} takes a URL as text, e.g. {family.__name__}(\"{family.SCHEMES[0]}://"
                         f"host\") (got {check.url!r})")
    target = parse_check_target(check.url)
    if target.scheme not in family.SCHEMES:
        raise UsageError(f"{family.__name__} checks {scheme_list(family.SCHEMES)} URLs, not {target.scheme}://; "
                         f"{target.scheme}:// is for {_BY_SCHEME[target.scheme].__name__}")
    opts: dict[str, object] = {}
    phases = None
    for f in fields(check):
        if not f.init or f.name in _OWN or not _is_set(value := getattr(check, f.name)):
            continue
        option = BY_NAME[_OPTION_OF.get(f.name, f.name.replace("_", "-"))]
        if option.name == "timeout":
            opts["timeout"], phases = _timeout(option, value)
            continue
        if option.kind == "many" and not isinstance(value, (str, bytes, bytearray)):
            value = _items(value)
        opts[option.name] = parse_value(option, value, keyword, key=keyword)
    password = getattr(check, "password", None)
    if password is not None and not isinstance(password, str):
        raise UsageError(f"password expects text (got a {type(password).__name__})")
    spec = make_spec(target, opts, spell=keyword, env=os.environ, password=password)
    spec.phases = phases
    return spec


def _spec_of(check: AnyCheck | CheckSpec) -> CheckSpec:
    from netkit.check.spec import CheckSpec

    if isinstance(check, _Check):
        return check.spec
    if isinstance(check, CheckSpec):
        return check
    raise UsageError(f"expects a check such as HttpCheck(\"https://example.com/\") (got {check!r})")


def check(spec: AnyCheck | CheckSpec, *, verbose: bool = False) -> CheckResult:
    """Run one check now on blocking sockets (no event loop) and return its result.

    A check that fails is a result (CRITICAL, with ``error``), never an exception."""
    from netkit.check.run import run_one

    result: CheckResult = run_one(_spec_of(spec), verbose)
    return result


async def check_async(spec: AnyCheck | CheckSpec, *, verbose: bool = False) -> CheckResult:
    """Run one check on the running asyncio loop: many of them at once under a TaskGroup."""
    from netkit.check.run import run_one_async

    result: CheckResult = await run_one_async(_spec_of(spec), verbose)
    return result


def check_many(specs: Iterable[AnyCheck | CheckSpec], *, concurrency: int = 100, verbose: bool = False,
               on_result: Callable[[int, CheckResult], object] | None = None) -> list[CheckResult]:
    """Run ``specs`` at most ``concurrency`` at once (a blocking call: it runs its own event
    loop); the results come back in the order given. ``on_result(index, result)`` is called
    as each one finishes, in any order."""
    from netkit.check.run import run_many

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise UsageError(f"concurrency expects a whole number of checks, 1 or more (got {concurrency!r})")
    results: list[CheckResult] = run_many([_spec_of(s) for s in specs], concurrency=concurrency, verbose=verbose,
                                          on_result=on_result)
    return results
