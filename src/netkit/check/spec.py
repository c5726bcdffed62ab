"""A check to run: its target and its options, validated.

Both the command line and the checks file build :class:`CheckSpec` through
:func:`make_spec`, so the rules -- which options a scheme takes, which it needs -- are
written once.
"""

from netkit.check.options import BY_NAME, LOGIN, SCHEMES
from netkit.core.errors import UsageError
from netkit.core.target import parse_target

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: nothing more on the start-up path
    from typing import Any

    from netkit.core.target import Target
    from netkit.core.timeout import Timeout

__all__ = ["CheckSpec", "make_spec", "parse_check_target", "scheme_list"]

_LABELS = {"tcp": "TCP", "udp": "UDP", "tls": "TLS", "http": "HTTP", "https": "HTTP", "ftp": "FTP",
           "smtp": "SMTP", "smtps": "SMTP", "pop3": "POP", "pop3s": "POP", "imap": "IMAP", "imaps": "IMAP",
           "ssh": "SSH", "dns": "DNS"}


class CheckSpec:
    """A validated check. ``opts`` holds only what was set; :meth:`get` adds defaults."""

    __slots__ = ("opts", "password", "phases", "target")

    def __init__(self, target: "Target", opts: "dict[str, Any] | None" = None, password: str | None = None) -> None:
        self.target = target
        self.opts = dict(opts or {})
        self.password = password
        # A Timeout with connect/read phases (the typed API's); None: opts' timeout, the whole check.
        self.phases: "Timeout | None" = None

    @property
    def timeout(self) -> "float | Timeout":
        """What the driver is given: the phases when set, else the deadline in seconds."""
        return self.phases if self.phases is not None else self.get("timeout")

    def get(self, name):
        value = self.opts.get(name)
        return BY_NAME[name].default if value is None else value

    @property
    def name(self):
        return self.opts.get("name")

    @property
    def label(self) -> str:
        return _LABELS[self.target.scheme]

    @property
    def family(self) -> int:
        return 4 if self.get("ipv4") else 6 if self.get("ipv6") else 0

    def __repr__(self):
        return f"CheckSpec({self.target.url()!r}, {sorted(self.opts)})"


def scheme_list(schemes) -> str:
    return ", ".join(f"{s}://" for s in SCHEMES if s in schemes)


def parse_check_target(text: str):
    try:
        return parse_target(text, SCHEMES, hostless=frozenset(("dns",)))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def dns_question(target):
    """(name, {query key: value}) of ``dns://[server[:port]]/name[?type=MX]``."""
    from netkit.core.target import percent_decode

    path, _, query = target.path.partition("?")
    name = percent_decode(path.lstrip("/"))
    params = {}
    for part in query.split("&") if query else ():
        key, _, value = part.partition("=")
        params[percent_decode(key).lower()] = percent_decode(value)
    return name, params


def make_spec(target, opts: dict, *, spell=lambda name: f"--{name}", env=None, prompt=None,
              password=None, netrc=True) -> CheckSpec:
    """Check ``opts`` (parsed values by option name) against ``target``'s scheme.

    ``spell(name)`` writes an option as the user wrote it (``--send`` on the command line,
    ``send`` in a file, ``cert_warn`` as a keyword), so messages name what the user typed.
    ``password``: the typed API's own (netkit.check._specs); before the URL's and the rest.
    ``netrc=False``: a named user's password is not looked up in ~/.netrc (the monitor's
    /probe: a caller's target never gets the monitor's passwords).
    """
    scheme = target.scheme
    for name in opts:
        option = BY_NAME[name]
        if scheme not in (option.schemes or ()):
            raise UsageError(f"{spell(name)} does not apply to {scheme}:// checks (it is for "
                             f"{scheme_list(option.schemes)})")
    if opts.get("ipv4") and opts.get("ipv6"):
        raise UsageError(f"{spell('ipv4')} and {spell('ipv6')} exclude each other; give one")
    if scheme == "udp" and (not opts.get("send") or not opts.get("expect")):
        raise UsageError(f"udp:// checks need {spell('send')} and {spell('expect')}: UDP has no connection "
                         f"to observe, only a reply (e.g. {spell('send')} ping {spell('expect')} pong)")
    upgrade = _TLS_ON_REQUEST.get(scheme)
    if upgrade and not opts.get(upgrade):
        for name in ("insecure", "cacert", "sni", "cert-warn", "cert-crit"):
            if opts.get(name) is not None and opts.get(name) is not False:
                raise UsageError(f"{spell(name)} applies to {scheme}:// checks only with {spell(upgrade)}")
    if scheme == "dns":
        opts = _dns_opts(target, opts, spell)
    if scheme == "ssh" and opts.get("user") is not None and not opts.get("identity"):
        raise UsageError(f"{spell('user')} applies to ssh:// checks only with {spell('identity')} (the login "
                         f"to test)")
    if scheme == "ssh":
        for name in ("known-hosts", "accept-new"):
            if opts.get(name) and (not opts.get("identity") or opts.get("hostkey")):
                raise UsageError(f"{spell(name)} applies to ssh:// checks only with {spell('identity')} and "
                                 f"without {spell('hostkey')} (pinned keys are the trust then)")
    if scheme in _NEEDS_USER and opts.get("user") is None and target.user is None:
        raise UsageError(f"{scheme}:// checks log in: give a user, as in {scheme}://USER@{target.netloc} "
                         f"or {spell('user')} USER")
    if scheme == "ftp":
        from netkit.core.target import percent_decode

        _one_line(percent_decode(target.path), f"the path of {target.text!r}")
    if password is not None:
        _given_password(target, opts, spell)
    named = (opts.get("user"), target.user, opts.get("password-env"), password)
    if scheme in LOGIN and named != (None, None, None, None):  # else anonymous FTP, SMTP without AUTH, plain HTTP
        from netkit.core.credentials import resolve

        password = resolve(target, opts.get("user"), password, opts.get("password-env"), env=env, prompt=prompt,
                           netrc=netrc, netrc_login=False, spell=spell).password
    return CheckSpec(target, opts, password)


def _one_line(value: str, field: str):
    """First wall against command injection: what goes into a protocol line (USER, PASS,
    CWD...) holds no CR, LF or NUL (the proto layer checks again as it writes)."""
    from netkit.core.text import check_line_field

    try:
        check_line_field(value, field)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# Schemes where TLS (and so its options) comes only with a flag: scheme -> flag.
_TLS_ON_REQUEST = {"tcp": "tls", "ftp": "tls", "smtp": "starttls", "pop3": "starttls", "imap": "starttls"}
_NEEDS_USER = frozenset(("pop3", "pop3s", "imap", "imaps"))


def _dns_opts(target, opts, spell) -> dict:
    from netkit.check.options import BY_NAME

    name, params = dns_question(target)
    if not name:
        raise UsageError(f"dns:// checks need a name to ask for: dns://[server]/NAME?type=A (got {target.text!r})")
    for key in params:
        if key != "type":
            raise UsageError(f"unknown query parameter {key!r} in {target.text!r}; the form is "
                             f"dns://[server[:port]]/NAME?type=TYPE")
    if "type" in params:
        try:
            url_type = BY_NAME["type"].parse(params["type"])
        except ValueError as exc:
            raise UsageError(f"type={params['type']} in {target.text!r} {exc}") from None
        if opts.get("type") not in (None, url_type):
            raise UsageError(f"{target.text!r} asks for type {url_type} but {spell('type')} says "
                             f"{opts['type']}; give one")
        opts = {**opts, "type": url_type}
    problem = dns_name_problem(name)
    if problem:
        raise UsageError(f"{name!r} in {target.text!r} is not a DNS name: {problem}")
    rdtype = opts.get("type") or BY_NAME["type"].default
    if opts.get("expect-address") and rdtype not in ("A", "AAAA"):
        raise UsageError(f"{spell('expect-address')} applies to A and AAAA questions, not {rdtype}")
    if opts.get("expect-nxdomain"):
        for other in ("expect-address", "answers"):
            if opts.get(other):
                raise UsageError(f"{spell('expect-nxdomain')} and {spell(other)} exclude each other: "
                                 f"a name that does not exist has no answers")
    return opts


def dns_name_problem(name: str):
    """What is wrong with a DNS name (RFC 1035 lengths), or None."""
    text = name[:-1] if name.endswith(".") else name
    if not text:
        return "it is empty"
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return "it cannot be written in IDNA"
    if len(text) > 253:
        return "it is longer than 253 characters"
    for label in text.split("."):
        if not label:
            return "it has an empty label (two dots in a row)"
        if len(label) > 63:
            return f"the label {label[:20]!r}... is longer than 63 characters"
        if any(c in label for c in " \t\r\n/\\@"):
            return f"the label {label!r} holds a character a name cannot have"
    return None


def _given_password(target, opts, spell):
    """A password given as it is (the typed API's ``password=``) goes with a user, instead
    of ``password_env``, to a check that logs in."""
    if target.scheme not in LOGIN:
        raise UsageError(f"{spell('password')} does not apply to {target.scheme}:// checks (it is for "
                         f"{scheme_list(LOGIN)})")
    if opts.get("password-env") is not None:
        raise UsageError(f"{spell('password')} and {spell('password-env')} exclude each other; give one")
    if opts.get("user") is None and target.user is None:
        raise UsageError(f"{spell('password')} needs a user: {spell('user')}=NAME or {target.scheme}://NAME@host/")
