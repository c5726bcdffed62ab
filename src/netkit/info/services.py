"""Service names and port numbers for ``netkit service``: ``https`` <-> ``443/tcp``.

The system's services database answers first (``socket.getservbyname`` /
``getservbyport``, which read ``/etc/services`` or whatever nsswitch.conf names); a
built-in table of the common services answers when the system has no database (minimal
containers) or no entry. Every result says which one answered.
"""

from __future__ import annotations

from netkit.core.errors import UsageError

__all__ = [
    "BUILTIN_SERVICES",
    "PROTOCOLS",
    "SERVICES_FILE",
    "Service",
    "lookup_service",
    "parse_service_query",
    "read_services_file",
]

SERVICES_FILE = "/etc/services"
PROTOCOLS = ("tcp", "udp")
# Longest service name we accept: IANA names are at most 15 characters, but local
# /etc/services files carry longer ones; 64 is generous without inviting nonsense.
MAX_NAME = 64

_TCP = ("tcp",)
_UDP = ("udp",)
_BOTH = ("tcp", "udp")

# (name, port, protocols, aliases): IANA's names and numbers for the services an
# administrator meets every day, with the aliases people type (dns, www, smtps, postgres).
BUILTIN_SERVICES = (
    ("ftp-data", 20, _TCP, ()),
    ("ftp", 21, _TCP, ()),
    ("ssh", 22, _TCP, ()),
    ("telnet", 23, _TCP, ()),
    ("smtp", 25, _TCP, ("mail",)),
    ("domain", 53, _BOTH, ("dns",)),
    ("bootps", 67, _UDP, ("dhcp",)),
    ("bootpc", 68, _UDP, ()),
    ("tftp", 69, _UDP, ()),
    ("gopher", 70, _TCP, ()),
    ("finger", 79, _TCP, ()),
    ("http", 80, _TCP, ("www",)),
    ("kerberos", 88, _BOTH, ("kerberos5", "krb5")),
    ("pop3", 110, _TCP, ("pop-3",)),
    ("sunrpc", 111, _BOTH, ("portmapper", "rpcbind")),
    ("nntp", 119, _TCP, ("readnews",)),
    ("ntp", 123, _UDP, ()),
    ("imap", 143, _TCP, ("imap2",)),
    ("snmp", 161, _BOTH, ()),
    ("snmp-trap", 162, _BOTH, ("snmptrap",)),
    ("bgp", 179, _TCP, ()),
    ("ldap", 389, _BOTH, ()),
    ("https", 443, _BOTH, ()),
    ("microsoft-ds", 445, _TCP, ("smb",)),
    ("submissions", 465, _TCP, ("ssmtp", "smtps")),
    ("syslog", 514, _UDP, ()),
    ("submission", 587, _TCP, ()),
    ("ipp", 631, _TCP, ()),
    ("ldaps", 636, _BOTH, ()),
    ("domain-s", 853, _BOTH, ("dot",)),
    ("rsync", 873, _TCP, ()),
    ("imaps", 993, _TCP, ()),
    ("pop3s", 995, _TCP, ()),
    ("openvpn", 1194, _BOTH, ()),
    ("mysql", 3306, _TCP, ()),
    ("ms-wbt-server", 3389, _TCP, ("rdp",)),
    ("sip", 5060, _BOTH, ()),
    ("xmpp-client", 5222, _TCP, ("jabber-client",)),
    ("postgresql", 5432, _TCP, ("postgres",)),
    ("amqp", 5672, _TCP, ()),
    ("redis", 6379, _TCP, ()),
    ("syslog-tls", 6514, _TCP, ()),
    ("http-alt", 8080, _TCP, ("webcache",)),
    ("git", 9418, _TCP, ()),
    ("memcache", 11211, _BOTH, ("memcached",)),
    ("mongodb", 27017, _TCP, ()),
)


class Service:
    """One answer: a service's name, port and protocol, and which database gave it.

    A plain class rather than a dataclass: ``dataclasses`` costs 11 ms to import, and a
    scan imports this module for its port names.
    """

    __slots__ = ("name", "port", "protocol", "aliases", "source", "query")

    def __init__(self, name: str, port: int, protocol: str, aliases: tuple, source: str, query: str):
        self.name = name
        self.port = port
        self.protocol = protocol  # "tcp" or "udp"
        self.aliases = tuple(aliases)
        self.source = source  # "system" (getservbyname/getservbyport) or "builtin" (netkit's table)
        self.query = query  # what was asked, as given

    def _key(self):
        return (self.name, self.port, self.protocol, self.aliases, self.source, self.query)

    def __eq__(self, other):
        return self._key() == other._key() if isinstance(other, Service) else NotImplemented

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return ("Service(" + ", ".join(f"{n}={v!r}" for n, v in zip(self.__slots__, self._key())) + ")")

    def to_text(self) -> str:
        """An /etc/services line: ``submissions 465/tcp ssmtp smtps``."""
        return " ".join((self.name, f"{self.port}/{self.protocol}", *self.aliases))

    def to_dict(self) -> dict:
        return {"query": self.query, "name": self.name, "port": self.port, "protocol": self.protocol,
                "aliases": list(self.aliases), "source": self.source}


def parse_service_query(text, protocol=None):
    """``https``, ``443``, ``53/udp`` -> (name or port, protocol or None).

    UsageError for a port out of 1-65535, a protocol other than tcp/udp, or text that is
    neither a service name nor a port.
    """
    form = "e.g. https, 443 or 53/udp"
    raw = str(text).strip()
    if isinstance(text, int) and not isinstance(text, bool):
        raw = str(text)
    what, slash, proto = raw.partition("/")
    if slash:
        proto = proto.lower()
        if proto not in PROTOCOLS:
            raise UsageError(f"unknown protocol {proto!r} in {raw!r}; the protocol is tcp or udp, {form}")
        if protocol is not None and protocol != proto:
            raise UsageError(f"{raw!r} says {proto} but {protocol} was asked for; give one of them")
        protocol = proto
    if protocol is not None and protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; the protocol is tcp or udp")
    if not what:
        raise UsageError(f"nothing to look up; give a service name or a port, {form}")
    if what.isascii() and what.isdigit():
        port = int(what)
        if not 1 <= port <= 65535:
            raise UsageError(f"port {port} is out of range; a port is 1-65535, {form}")
        return port, protocol
    if (not what.isascii() or len(what) > MAX_NAME or not what[0].isalnum()
            or not all(c.isalnum() or c in "-_.+*" for c in what)):
        raise UsageError(f"{raw!r} is neither a service name (letters, digits, '-') nor a port (1-65535); {form}")
    return what.lower(), protocol


def read_services_file(path: str = SERVICES_FILE) -> dict:
    """``{(port, protocol): (name, aliases)}`` from an /etc/services file; {} when unreadable."""
    table: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) < 2:
                    continue
                number, slash, proto = words[1].partition("/")
                if not slash or not (number.isascii() and number.isdigit()):
                    continue
                table.setdefault((int(number), proto.lower()), (words[0], tuple(words[2:])))
    except OSError:
        return {}
    return table


def _builtin_by_name(name, protocol):
    for canonical, port, protocols, aliases in BUILTIN_SERVICES:
        if protocol in protocols and (name == canonical or name in aliases):
            return canonical, port, aliases
    return None


def _builtin_by_port(port, protocol):
    for canonical, number, protocols, aliases in BUILTIN_SERVICES:
        if number == port and protocol in protocols:
            return canonical, aliases
    return None


def _system_by_name(name, protocol):
    try:
        import socket

        return socket.getservbyname(name, protocol)
    except (OSError, OverflowError):
        return None


def _system_by_port(port, protocol):
    try:
        import socket

        return socket.getservbyport(port, protocol)
    except (OSError, OverflowError):
        return None


def _aliases(name, port, protocol, services_file):
    entry = read_services_file(services_file).get((port, protocol))
    if entry and entry[0] == name:
        return entry[1]
    return ()


def _one(what, protocol, query, services_file):
    if isinstance(what, int):
        name = _system_by_port(what, protocol)
        if name is not None:
            return Service(name, what, protocol, _aliases(name, what, protocol, services_file), "system", query)
        found = _builtin_by_port(what, protocol)
        if found:
            return Service(found[0], what, protocol, found[1], "builtin", query)
        return None
    port = _system_by_name(what, protocol)
    if port is not None:
        # The canonical name of an alias (www -> http), when the database maps it back.
        canonical = _system_by_port(port, protocol)
        name = canonical if canonical and _system_by_name(canonical, protocol) == port else what
        aliases = _aliases(name, port, protocol, services_file)
        return Service(name, port, protocol, aliases, "system", query)
    found = _builtin_by_name(what, protocol)
    if found:
        return Service(found[0], found[1], protocol, found[2], "builtin", query)
    return None


def lookup_service(query: str | int, protocol: str | None = None, *,
                   services_file: str = SERVICES_FILE) -> Service | None:
    """The service named or numbered by ``query`` (``https``, ``443``, ``53/udp``), or None.

    ``protocol`` ``"tcp"`` or ``"udp"`` asks for that one only; ``None`` tries tcp, then
    udp (``ntp`` is udp-only), preferring the protocol where a name is the service's own
    over one where it is an alias (Debian lists ``syslog`` as an alias of ``shell``
    514/tcp, and as the name of 514/udp). UsageError for input that is neither a name nor a
    port 1-65535.
    """
    what, protocol = parse_service_query(query, protocol)
    text = str(query).strip()
    found = [s for s in (_one(what, p, text, services_file) for p in ((protocol,) if protocol else PROTOCOLS)) if s]
    own = [s for s in found if s.name == what]
    return (own or found or [None])[0]


def port_names(protocol: str = "tcp", *, services_file: str = SERVICES_FILE) -> dict:
    """``{port: name}`` for every known ``protocol`` port: the system's services file, and
    the built-in table where the file has no entry (what a scanner labels ports with)."""
    names = {port: name for name, port, protocols, _ in BUILTIN_SERVICES if protocol in protocols}
    for (port, proto), (name, _aliases) in read_services_file(services_file).items():
        if proto == protocol:
            names[port] = name
    return names
