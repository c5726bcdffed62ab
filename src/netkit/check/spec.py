"""A check to run: its target and its options, validated.

Both the command line and the checks file build :class:`CheckSpec` through
:func:`make_spec`, so the rules -- which options a scheme takes, which it needs -- are
written once.
"""

from netkit.check.options import BY_NAME, SCHEMES
from netkit.core.errors import UsageError
from netkit.core.target import parse_target

__all__ = ["CheckSpec", "make_spec", "parse_check_target", "scheme_list"]

_LABELS = {"tcp": "TCP", "udp": "UDP", "tls": "TLS", "http": "HTTP", "https": "HTTP"}


class CheckSpec:
    """A validated check. ``opts`` holds only what was set; :meth:`get` adds defaults."""

    __slots__ = ("target", "opts", "password")

    def __init__(self, target, opts=None, password=None):
        self.target = target
        self.opts = dict(opts or {})
        self.password = password

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
        return parse_target(text, SCHEMES)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def make_spec(target, opts: dict, *, spell=lambda name: f"--{name}", env=None, prompt=None) -> CheckSpec:
    """Check ``opts`` (parsed values by option name) against ``target``'s scheme.

    ``spell(name)`` writes an option as the user wrote it (``--send`` on the command line,
    ``send`` in a file), so messages name what the user typed.
    """
    scheme = target.scheme
    for name in opts:
        option = BY_NAME[name]
        if scheme not in option.schemes:
            raise UsageError(f"{spell(name)} does not apply to {scheme}:// checks (it is for "
                             f"{scheme_list(option.schemes)})")
    if opts.get("ipv4") and opts.get("ipv6"):
        raise UsageError(f"{spell('ipv4')} and {spell('ipv6')} exclude each other; give one")
    if scheme == "udp" and (not opts.get("send") or not opts.get("expect")):
        raise UsageError(f"udp:// checks need {spell('send')} and {spell('expect')}: UDP has no connection "
                         f"to observe, only a reply (e.g. {spell('send')} ping {spell('expect')} pong)")
    if scheme == "tcp" and not opts.get("tls"):
        for name in ("insecure", "cacert", "sni", "cert-warn", "cert-crit"):
            if opts.get(name) is not None and opts.get(name) is not False:
                raise UsageError(f"{spell(name)} applies to tcp:// checks only with {spell('tls')}")
    password = None
    if scheme in ("http", "https"):
        password = _password(target, opts, spell, env, prompt)
    return CheckSpec(target, opts, password)


def _password(target, opts, spell, env, prompt):
    user = opts.get("user")
    var = opts.get("password-env")
    if var is not None and user is None and target.user is None:
        raise UsageError(f"{spell('password-env')} needs a user: {spell('user')} NAME or http://NAME@host/")
    if user is None and target.user is None:
        return None
    if var is not None:
        if env is None:
            import os

            env = os.environ
        if var not in env:
            raise UsageError(f"{spell('password-env')} {var}: the environment has no {var}; "
                             f"export {var}=... first")
        return env[var]
    if user is None:
        return target.password  # from the URL (possibly None: user only)
    if prompt is None:
        raise UsageError(f"{spell('user')} {user} needs a password: set {spell('password-env')} VAR, "
                         f"or run on a terminal to be asked")
    return prompt(f"Password for {user} at {target.netloc}: ")
