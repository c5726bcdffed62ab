"""DNS look-ups for ``netkit dns``: records of a name, reverse look-ups, this host's names.

Queries go through dnspython's stub resolver: the system's (``/etc/resolv.conf``) or one
server named by the caller. dnspython is imported only when a query is made, so
:func:`host_names` and the input checks cost nothing extra.

Results are plain typed objects; nothing here prints. Bad input raises
:class:`~netkit.core.errors.UsageError`; a server that does not answer raises
:class:`~netkit.core.errors.TimedOut`; one that answers with an error (SERVFAIL, REFUSED)
or cannot be reached raises :class:`~netkit.core.errors.NetError`. A name that does not
exist is an answer, not an error: its status is ``NXDOMAIN``.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netkit.core.errors import NetError, RemoteError, UsageError
from netkit.core.records import RECORD_TYPES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from netkit.core.timeout import Timeout

__all__ = [
    "ATTEMPTS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_TYPES",
    "DNS_PORT",
    "RECORD_TYPES",
    "DnsLookup",
    "HostNames",
    "Record",
    "TypeAnswer",
    "check_name",
    "host_names",
    "lookup_records",
    "parse_record_type",
    "parse_server",
    "reverse_lookup",
    "reverse_name",
]

# What `host NAME` shows first and what most people mean by "look up a name".
DEFAULT_TYPES = ("A", "AAAA")
# Seconds for one query, retries included: dig's default (+time=5), and long enough for a
# slow upstream without leaving a script stuck when the server is down.
DEFAULT_TIMEOUT = 5.0
# UDP is lossy: a query is sent up to this many times within the timeout (dig +tries=3).
ATTEMPTS = 3
DNS_PORT = 53
# RFC 1035 limits: 63 octets a label, 255 octets a name on the wire (253 characters as text).
MAX_LABEL = 63
MAX_NAME = 253


@dataclass(frozen=True)
class Record:
    """One resource record, as ``dig +noall +answer`` shows it."""

    name: str  # absolute, with the trailing dot
    ttl: int
    rdclass: str
    rdtype: str
    data: str  # the record's data in zone-file form
    fields: dict = field(default_factory=dict, compare=False)  # the data split into named parts

    def to_text(self) -> str:
        return f"{self.name}\t{self.ttl}\t{self.rdclass}\t{self.rdtype}\t{self.data}"

    def to_dict(self) -> dict:
        return {"name": self.name, "ttl": self.ttl, "class": self.rdclass, "type": self.rdtype,
                "data": self.data, **({"fields": self.fields} if self.fields else {})}


@dataclass(frozen=True)
class TypeAnswer:
    """The answer to one question (one record type).

    ``status`` is ``NOERROR`` (records found), ``NODATA`` (the name exists, but has no
    record of this type) or ``NXDOMAIN`` (the name does not exist). ``records`` holds the
    whole answer section, so a CNAME chain comes before the records it leads to.
    """

    rdtype: str
    status: str
    records: tuple[Record, ...] = ()

    def to_dict(self) -> dict:
        return {"type": self.rdtype, "status": self.status, "records": [r.to_dict() for r in self.records]}


@dataclass(frozen=True)
class DnsLookup:
    """The records of one name, one :class:`TypeAnswer` per type asked for, in that order."""

    name: str  # the name asked for, absolute
    server: str  # "127.0.0.1:5353", or "system (…)" for the system resolver
    transport: str  # "udp" or "tcp"
    answers: tuple[TypeAnswer, ...]
    elapsed: float  # seconds for all the queries

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(r for a in self.answers for r in a.records)

    @property
    def status(self) -> str:
        """``NOERROR`` when any record was found, else ``NXDOMAIN`` or ``NODATA``."""
        if any(a.status == "NOERROR" for a in self.answers):
            return "NOERROR"
        if any(a.status == "NXDOMAIN" for a in self.answers):
            return "NXDOMAIN"
        return "NODATA"

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(a.rdtype for a in self.answers)

    def to_dict(self) -> dict:
        return {"name": self.name, "server": self.server, "transport": self.transport, "status": self.status,
                "elapsed": round(self.elapsed, 6), "answers": [a.to_dict() for a in self.answers]}


@dataclass(frozen=True)
class HostNames:
    """This machine's names: gethostname(), getfqdn(), and what the name resolves to."""

    hostname: str
    fqdn: str
    aliases: tuple[str, ...]
    addresses: tuple[str, ...]
    error: NetError | None = None  # why the name did not resolve, when it did not

    def to_dict(self) -> dict:
        return {"hostname": self.hostname, "fqdn": self.fqdn, "aliases": list(self.aliases),
                "addresses": list(self.addresses), "error": None if self.error is None else str(self.error)}


# --- input -----------------------------------------------------------------------------


def parse_record_type(text: str) -> str:
    """``mx`` -> ``MX``; UsageError naming the valid types otherwise."""
    rdtype = str(text).strip().upper()
    if rdtype not in RECORD_TYPES:
        raise UsageError(f"unknown record type {text!r}; the types are {', '.join(RECORD_TYPES)}")
    return rdtype


def parse_server(text: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``IPv6`` or ``[IPv6]:PORT`` -> (host, port)."""
    text = str(text).strip()
    form = "the form is HOST[:PORT], e.g. 127.0.0.1:5353 or [::1]:53"
    if not text:
        raise UsageError(f"the DNS server is empty; {form}")
    port_text = None
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise UsageError(f"DNS server {text!r} has '[' without ']'; {form}")
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"unexpected {rest!r} after ']' in DNS server {text!r}; {form}")
            port_text = rest[1:]
        if not _is_ip(host) or ":" not in host:
            raise UsageError(f"{host!r} in DNS server {text!r} is not an IPv6 address; {form}")
    elif text.count(":") > 1:
        host = text  # a bare IPv6 address, no port
        if not _is_ip(host):
            raise UsageError(f"DNS server {text!r} is not an IPv6 address; put one in brackets to add a port: "
                             "[::1]:53")
    else:
        host, colon, port_text = text.partition(":")
        if not colon:
            port_text = None
        if not host or any(c.isspace() or c in "/@?#[]" for c in host):
            raise UsageError(f"DNS server {text!r} has no valid host; {form}")
    if port_text is None:
        return host, DNS_PORT
    if not port_text.isdigit() or not port_text.isascii() or not 1 <= int(port_text) <= 65535:
        raise UsageError(f"port {port_text!r} of DNS server {text!r} is not a port (1-65535); {form}")
    return host, int(port_text)


def check_name(name: str) -> str:
    """A domain name as given, made absolute (trailing dot); UsageError if it cannot be one."""
    text = str(name).strip()
    if not text or text == ".":
        if text == ".":
            return "."
        raise UsageError("the name is empty; give a domain name such as example.com")
    if any(c.isspace() for c in text) or any(c in text for c in "/\\@?#:,;\"'<>()[]{}"):
        raise UsageError(f"{name!r} is not a domain name (letters, digits, '-' and '_' in dot-separated "
                         "labels, e.g. www.example.com)")
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise UsageError(f"{name!r} is not a valid internationalised domain name") from None
    relative = text.removesuffix(".")
    labels = relative.split(".")
    if any(not label for label in labels):
        raise UsageError(f"{name!r} has an empty label (two dots in a row, or a leading dot)")
    long = next((label for label in labels if len(label) > MAX_LABEL), None)
    if long is not None:
        raise UsageError(f"label {long[:20]!r}... of {name!r} is {len(long)} characters; a label is at most "
                         f"{MAX_LABEL}")
    if len(relative) > MAX_NAME:
        raise UsageError(f"{name[:30]!r}... is {len(relative)} characters; a domain name is at most {MAX_NAME}")
    return relative + "."


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def reverse_name(address: str) -> str:
    """``192.0.2.1`` -> ``1.2.0.192.in-addr.arpa.``; IPv6 in nibbles under ``ip6.arpa.``."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError:
        raise UsageError(f"{address!r} is not an IP address; reverse look-ups take one like 192.0.2.1 or "
                         "2001:db8::1") from None
    return ip.reverse_pointer + "."


# --- queries ---------------------------------------------------------------------------


def _server_address(host: str) -> str:
    """dnspython wants an IP address for a nameserver; resolve a name once, here."""
    if _is_ip(host):
        return host
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        from netkit.core.errmap import lookup_error

        raise lookup_error(exc, f"the DNS server {host}") from None
    return str(infos[0][4][0])


def _fields(rdata) -> dict:
    """The named parts of a record's data (MX preference and exchange, SRV port, ...)."""
    out = {}
    for cls in type(rdata).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if slot.startswith("_") or slot in ("rdclass", "rdtype", "rdcomment") or slot in out:
                continue
            value = getattr(rdata, slot, None)
            out[slot] = _plain(value)
    return out


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return str(value)  # names, addresses


def _records(response) -> tuple[Record, ...]:
    import dns.rdataclass
    import dns.rdatatype

    out = []
    for rrset in response.answer:
        rdclass = dns.rdataclass.to_text(rrset.rdclass)
        rdtype = dns.rdatatype.to_text(rrset.rdtype)
        for rdata in rrset:
            out.append(Record(rrset.name.to_text(), int(rrset.ttl), rdclass, rdtype, rdata.to_text(),
                              _fields(rdata)))
    return tuple(out)


def _hostport(host: str, port) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _strict(address: str, port: int):
    """A nameserver for dnspython's resolver that, unlike its own, does not ignore a UDP
    reply that is not a DNS message: the resolver would wait out the whole timeout for a
    proper one, and then say only "no answer". ``check dns://`` says what came instead
    (:func:`netkit.core.errmap.server_failures` words it the same way); so do we."""
    import dns.exception
    import dns.message
    import dns.nameserver
    import dns.query

    class NotDNS(dns.exception.FormError):
        """The reply was not a DNS message."""

    class Strict(dns.nameserver.Do53Nameserver):
        def query(self, request, timeout, source, source_port, max_size, one_rr_per_rrset=False,
                  ignore_trailing=False):
            if max_size:  # TCP: a bad length or an early close raises already
                return super().query(request, timeout, source, source_port, max_size, one_rr_per_rrset,
                                     ignore_trailing)
            try:
                return dns.query.udp(request, self.address, timeout=timeout, port=self.port, source=source,
                                     source_port=source_port, raise_on_truncation=True,
                                     one_rr_per_rrset=one_rr_per_rrset, ignore_trailing=ignore_trailing,
                                     ignore_unexpected=True)
            except (dns.message.Truncated, dns.exception.Timeout, OSError):
                raise
            except (dns.exception.DNSException, ValueError, IndexError, UnicodeError, EOFError) as exc:
                # FormError: the resolver gives up on this server at once
                raise NotDNS(type(exc).__doc__ or str(exc) or type(exc).__name__) from None

    return Strict(address, port)


def _make_resolver(server, timeout):
    import dns.resolver

    if server is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            from netkit.core.errmap import from_dns

            raise from_dns(exc, "the system resolver") from None
        servers = ", ".join(str(ns) for ns in resolver.nameservers)
        label = f"system ({servers})"
        resolver.nameservers = [_strict(ns, resolver.port) if isinstance(ns, str) else ns
                                for ns in resolver.nameservers]
    else:
        host, port = server if isinstance(server, tuple) else parse_server(server)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [_strict(_server_address(host), port)]
        resolver.port = port
        label = _hostport(host, port)
    resolver.timeout = timeout / ATTEMPTS  # each try; the lifetime bounds them all
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver, label


def lookup_records(name: str, types: Iterable[str] = DEFAULT_TYPES, *, server: str | None = None, tcp: bool = False,
                   timeout: float | Timeout | None = DEFAULT_TIMEOUT) -> DnsLookup:
    """Ask for the records of ``name``, one query per type in ``types``.

    ``server`` is ``None`` (the system resolver), ``"HOST[:PORT]"`` or a ``(host, port)``
    pair. ``timeout`` (seconds, or a :class:`~netkit.core.timeout.Timeout`) bounds each
    query, retries included; a Timeout's ``read`` bounds each try (else a third of that).
    """
    from netkit.core.timeout import Timeout

    qname = check_name(name)
    rdtypes = tuple(dict.fromkeys(parse_record_type(t) for t in (types or DEFAULT_TYPES)))
    if isinstance(timeout, (int, float)):
        from netkit.core.text import MAX_SECONDS

        if not timeout or not 0 < timeout <= MAX_SECONDS:  # NaN fails too; 1e308 would hang
            raise UsageError(f"the timeout is a number of seconds greater than 0 and at most {MAX_SECONDS:g}")
    bounds = Timeout.of(timeout, DEFAULT_TIMEOUT)
    timeout = bounds.longest or DEFAULT_TIMEOUT
    import dns.exception
    import dns.resolver

    resolver, label = _make_resolver(server, timeout)
    if bounds.read is not None:
        resolver.timeout = min(bounds.read, timeout)
    transport = "tcp" if tcp else "udp"
    answers = []
    started = time.monotonic()
    for rdtype in rdtypes:
        try:
            answer = resolver.resolve(qname, rdtype, tcp=tcp, raise_on_no_answer=False, search=False,
                                      lifetime=timeout)
        except dns.resolver.NXDOMAIN:
            answers.append(TypeAnswer(rdtype, "NXDOMAIN"))
            continue
        except dns.resolver.YXDOMAIN:
            raise RemoteError(f"{label} says {qname} is too long once its DNAME is followed (YXDOMAIN)") from None
        except dns.exception.DNSException as exc:  # no answer in time, no server answered, not DNS
            from netkit.core.errmap import from_dns

            raise from_dns(exc, f"{qname} {rdtype}", "total", doing=f"waiting for an answer from {label} over "
                           f"{transport}", timeout=timeout) from None
        records = _records(answer.response)
        answers.append(TypeAnswer(rdtype, "NOERROR" if answer.rrset is not None else "NODATA", records))
    return DnsLookup(qname, label, transport, tuple(answers), time.monotonic() - started)


def reverse_lookup(address: str, *, server: str | None = None, tcp: bool = False,
                   timeout: float = DEFAULT_TIMEOUT) -> DnsLookup:
    """The PTR records of an IP address (its in-addr.arpa or ip6.arpa name)."""
    return lookup_records(reverse_name(address), ("PTR",), server=server, tcp=tcp, timeout=timeout)


def host_names() -> HostNames:
    """This machine's host name, its fully qualified name, and the addresses the name has.

    Like the seed's ``gethostname()`` / ``gethostbyname()`` / ``gethostbyaddr()``, through the
    system's resolver (``/etc/hosts``, then DNS, as nsswitch.conf says).
    """
    hostname = socket.gethostname()
    fqdn = socket.getfqdn(hostname)
    aliases: list[str] = []
    addresses: list[str] = []
    error = None
    try:
        _, alias_list, _ = socket.gethostbyname_ex(hostname)
        aliases = [a for a in alias_list if a not in (hostname, fqdn)]
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(hostname, None, type=socket.SOCK_STREAM):
            address = str(info[4][0])
            if address not in addresses:
                addresses.append(address)
    except OSError as exc:
        from netkit.core.errmap import lookup_error

        error = lookup_error(exc, hostname)
    return HostNames(hostname, fqdn, tuple(aliases), tuple(addresses), error)
