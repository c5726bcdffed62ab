"""Hosts as users write them: ``[user@]host[:port]``, IPv6 in brackets, one per argument or
one per line of a hosts file (``#`` comments, blank lines), or ``~/.ssh/config`` aliases.

A host that cannot be parsed does not stop the others: :func:`parse_host` raises
``UsageError`` and the runner turns it into that host's failed result. The CLI parses every
host first (:func:`parse_hosts`), so that a typo is a usage error before anything connects,
and merges hosts written twice (:func:`merge_duplicates`).
"""

from netkit.core.errors import UsageError
from netkit.core.target import bracket, split_hostport

__all__ = ["Host", "merge_duplicates", "parse_host", "parse_hosts", "read_hosts_file"]

# A hosts file is a list of names: 16 MiB is some 500,000 hosts, and /dev/zero or a log
# given by mistake is refused instead of read into memory.
MAX_HOSTS_FILE = 16 << 20
_HOST_FORM = "[user@]host[:port], e.g. root@web1:2222 or [::1]:22"


class Host:
    """One host to work on. ``label`` is how it was written (results and output name it so);
    ``port`` is None when not given (the ssh config or 22 decides)."""

    __slots__ = ("host", "label", "port", "user")

    def __init__(self, host: str, port: int | None = None, user: str | None = None, label: str | None = None):
        if not all(part is None or str(part).isprintable() for part in (host, user, label)):
            from netkit.core.text import for_terminal

            raise UsageError(f"Host({for_terminal(repr(host))}, user={for_terminal(repr(user))}): a control character in "
                             f"the host, user or label; write {_HOST_FORM}")
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
        raise UsageError(f"empty host; write {_HOST_FORM}")
    if not spec.isprintable():
        raise UsageError(f"bad host syntax (a control character); write {_HOST_FORM}")
    user = None
    if "@" in spec:
        user, _, spec = spec.rpartition("@")
        if not user or any(c.isspace() for c in user):
            raise UsageError("bad host syntax (empty user); write [user@]host[:port]")
    if "://" in spec or "/" in spec:
        raise UsageError("bad host syntax (not a URL or path); write [user@]host[:port]")
    try:
        host, port = split_hostport(spec, text)
    except ValueError:
        raise UsageError(f"bad host syntax ({_what_is_wrong(spec)}); write {_HOST_FORM}") from None
    return Host(host, port, user, label=text.strip())


def _what_is_wrong(spec: str) -> str:
    """Why ``host[:port]`` did not parse, read from its shape (not from the parser's words)."""
    if spec.startswith("["):
        _, closed, rest = spec[1:].partition("]")
        if not closed:
            return "IPv6 addresses go in brackets"
        if rest and not _is_port(rest[1:]):
            return "the port is 1-65535"
        return "not a host name or address"
    if spec.count(":") > 1:
        return "IPv6 addresses go in brackets"
    if ":" in spec:
        return "the port is 1-65535"
    return "not a host name or address"


def _is_port(text: str) -> bool:
    from netkit.core.text import is_digits

    return is_digits(text) and 1 <= int(text) <= 65535


def parse_hosts(specs) -> list[Host]:
    """Every spec parsed, or one ``UsageError`` naming the bad one(s) and the right form."""
    from netkit.core.text import for_terminal

    hosts, bad = [], []
    for spec in specs:
        if isinstance(spec, Host):
            hosts.append(spec)
            continue
        try:
            hosts.append(parse_host(spec))
        except UsageError as exc:
            bad.append((spec, str(exc).split(";", 1)[0]))
    if bad:
        spec, why = bad[0]
        more = f" (and {len(bad) - 1} more bad host{'s' if len(bad) > 2 else ''})" if len(bad) > 1 else ""
        raise UsageError(f"host {for_terminal(repr(spec))}: {why}{more}; write {_HOST_FORM}")
    return hosts


def _same_host_key(host: Host, user, port):
    """What makes two specs one host: the user and port they end up with, the host name
    (case-folded by the parser) or the address in its one canonical form."""
    import ipaddress

    name = host.host
    try:
        name = str(ipaddress.ip_address(name))
    except ValueError:
        pass
    return (host.user or user, name, host.port or port or 22)


def merge_duplicates(hosts, *, user=None, port=None):
    """(``hosts`` without repeats, [(repeat's label, first one's label)]): ``web1``,
    ``web1:22`` and ``WEB1`` are one host (with ``user``/``port`` the defaults of
    -l/-p), as are ``[::1]`` and ``[0::1]``; the first spelling is kept."""
    first, unique, merged = {}, [], []
    for host in hosts:
        key = _same_host_key(host, user, port)
        if key in first:
            merged.append((host.label, first[key].label))
            continue
        first[key] = host
        unique.append(host)
    return unique, merged


def read_hosts_file(path: str) -> list[str]:
    """The host specs of a hosts file, in order: one per line (or several separated by
    blanks, as pssh allows), ``#`` starting a comment. ``-`` reads standard input."""
    import sys

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_HOSTS_FILE + 1)
            if len(data) > MAX_HOSTS_FILE:
                raise UsageError(f"hosts on stdin are more than {MAX_HOSTS_FILE >> 20} MiB; is it a list of hosts?")
            text = data.decode("utf-8")
        else:
            from netkit.core.fs import read_text_file

            text = read_text_file(path, "hosts file", MAX_HOSTS_FILE, "give a file of host names, one a line")
    except OSError as exc:
        raise UsageError(f"cannot read hosts file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"hosts file {path} is not UTF-8 text") from None
    specs: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        specs.extend(line.split())
    return specs
