"""Hosts as users write them: ``[user@]host[:port]``, IPv6 in brackets, one per argument or
one per line of a hosts file (``#`` comments, blank lines), or ``~/.ssh/config`` aliases.

A host that cannot be parsed does not stop the others: :func:`parse_host` raises
``UsageError`` and the runner turns it into that host's failed result.
"""

from netkit.core.errors import UsageError
from netkit.core.target import bracket, split_hostport

__all__ = ["Host", "parse_host", "read_hosts_file"]


class Host:
    """One host to work on. ``label`` is how it was written (results and output name it so);
    ``port`` is None when not given (the ssh config or 22 decides)."""

    __slots__ = ("host", "label", "port", "user")

    def __init__(self, host: str, port: int | None = None, user: str | None = None, label: str | None = None):
        self.host = host
        self.port = port
        self.user = user
        self.label = label or self.spell()

    def spell(self) -> str:
        user = f"{self.user}@" if self.user else ""
        if self.port is None:
            return user + bracket(self.host)
        return f"{user}{bracket(self.host)}:{self.port}"

    def __repr__(self):
        return f"Host({self.label!r})"

    def __eq__(self, other):
        return isinstance(other, Host) and (self.host, self.port, self.user) == (other.host, other.port, other.user)

    def __hash__(self):
        return hash((self.host, self.port, self.user))


def parse_host(text: str) -> Host:
    """``[user@]host[:port]`` -> :class:`Host`; ``UsageError`` names the mistake."""
    spec = text.strip()
    if not spec:
        raise UsageError("empty host; write [user@]host[:port]")
    user = None
    if "@" in spec:
        user, _, spec = spec.rpartition("@")
        if not user or any(c.isspace() for c in user):
            raise UsageError("bad host syntax (empty user); write [user@]host[:port]")
    if "://" in spec or "/" in spec:
        raise UsageError("bad host syntax (not a URL or path); write [user@]host[:port]")
    try:
        host, port = split_hostport(spec, text)
    except ValueError as exc:
        why = "the port is 1-65535" if "port" in str(exc) and "IPv6" not in str(exc) else \
            "IPv6 addresses go in brackets" if spec.count(":") > 1 else "not a host name or address"
        raise UsageError(f"bad host syntax ({why}); write [user@]host[:port], e.g. root@web1:2222 "
                         f"or [::1]:22") from None
    return Host(host, port, user, label=text.strip())


def read_hosts_file(path: str) -> list[str]:
    """The host specs of a hosts file, in order: one per line (or several separated by
    blanks, as pssh allows), ``#`` starting a comment. ``-`` reads standard input."""
    import sys

    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read hosts file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"hosts file {path} is not UTF-8 text") from None
    specs = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        specs.extend(line.split())
    return specs
